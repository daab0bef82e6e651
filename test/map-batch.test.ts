/**
 * BpfMap's fast path and the batch commands (issue 21): lookup, update and
 * delete of array and hash maps without bpf() attributes give the same
 * values and the same errors as the commands; BPF_MAP_LOOKUP_BATCH,
 * LOOKUP_AND_DELETE_BATCH, UPDATE_BATCH and DELETE_BATCH (24-27, modern
 * profile) by bpf() and through BpfMap, value by value: cursors, count
 * written back, ENOENT at the end, ENOSPC, ENOTSUPP, EPERM. The bpf()
 * values (walk order, count, out_batch, errnos) are what 6.18's own
 * commands gave on the same map with BPF_F_ZERO_SEED (checked by hand on
 * the host kernel; no kernel test of the batch commands is automated yet).
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD } from '../src/api/bpf.js';
import { BpfMap, u32, u64, i64 } from '../src/api/map.js';
import { le32, le64 } from './bytes.js';
import { expectErr } from './expect-error.js';

const modern = (): BpfSystem => new BpfSystem({ profile: 'modern' });
const hash8 = (sys: BpfSystem): BpfMap<number, bigint> => BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64 });

describe('the fast path: the same values and errors as bpf()', () => {
  for (const profile of ['3.19', 'modern'] as const) {
    test(`${profile}: hash and array maps, typed and raw`, () => {
      const sys = new BpfSystem({ profile });
      const h = hash8(sys);
      h.update(1, 10n);
      h.update(2, 2n ** 64n - 1n);
      h.update(3, -1n as unknown as bigint);
      assert.equal(h.lookup(1), 10n);
      assert.equal(h.lookup(2), 2n ** 64n - 1n);
      assert.equal(h.lookup(3), 2n ** 64n - 1n);
      assert.equal(h.lookup(4), undefined);
      // what the fast path wrote, bpf() reads
      const v = new Uint8Array(8);
      sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: h.fd, key: le32(1), value: v });
      assert.deepEqual(v, le64(10));
      assert.deepEqual(h.raw.lookup(le32(1)), le64(10));
      expectErr(() => h.update(1, 11n, 'noexist'), 'EEXIST', 'the key exists (BPF_NOEXIST)');
      expectErr(() => h.update(9, 11n, 'exist'), 'ENOENT', 'no such key (BPF_EXIST)');
      expectErr(() => h.update(1.5, 1n), 'EINVAL', '1.5 is not an integer');
      expectErr(() => h.raw.lookup(new Uint8Array(3)), 'EINVAL', 'key of 3 bytes, the map\'s keys have 4');
      for (let k = 4; k <= 8; k++) h.update(k, BigInt(k));
      expectErr(() => h.update(9, 9n), 'E2BIG', 'the map is full (or the index is out of range)');
      assert.equal(h.delete(9), false);
      assert.equal(h.delete(8), true);
      assert.equal(h.lookup(8), undefined);
      h.update(9, 9n);
      assert.equal(h.lookup(9), 9n);

      const a = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 }, { key: u32, value: i64 });
      a.update(3, -5n);
      assert.equal(a.lookup(3), -5n);
      assert.equal(a.lookup(0), 0n);
      assert.equal(a.lookup(4), undefined);
      expectErr(() => a.update(4, 1n), 'E2BIG', 'the map is full (or the index is out of range)');
      expectErr(() => a.update(1, 1n, 'noexist'), 'EEXIST', 'the key exists (BPF_NOEXIST)');
      expectErr(() => a.delete(1), 'EINVAL', 'array map elements cannot be deleted');
      h.close();
      expectErr(() => h.lookup(1), 'EBADF', `map ${h.fd} is closed`);
      expectErr(() => h.update(1, 1n), 'EBADF', `map ${h.fd} is closed`);
      expectErr(() => h.delete(1), 'EBADF', `map ${h.fd} is closed`);
    });
  }

  test('a frozen map and access flags: the fast path leaves them to bpf(), which refuses', () => {
    const sys = modern();
    const h = hash8(sys);
    h.update(1, 1n);
    sys.bpf(BPF_CMD.BPF_MAP_FREEZE, { map_fd: h.fd });
    assert.equal(h.lookup(1), 1n);
    expectErr(() => h.update(1, 2n), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    expectErr(() => h.delete(1), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    const w = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 2, flags: 16 }, { key: u32, value: u64 });
    w.update(1, 3n);
    expectErr(() => w.lookup(1), 'EPERM', 'the map is write-only from bpf(2) (BPF_F_WRONLY)');
  });

  test('maps of one system share the staging memory, which grows for a larger map', () => {
    const sys = modern();
    const small = hash8(sys);
    small.update(7, 70n);
    const big = BpfMap.create(sys, { type: 'hash', keySize: 64, valueSize: 256, maxEntries: 4 });
    const key = new Uint8Array(64).fill(9);
    const value = new Uint8Array(256).map((_, i) => i);
    big.update(key, value);
    assert.deepEqual(big.lookup(key), value);
    assert.equal(small.lookup(7), 70n);
    small.update(8, 80n);
    assert.deepEqual([...small.entries()].sort((x, y) => x[0] - y[0]), [[7, 70n], [8, 80n]]);
  });
});

describe('batch commands (modern profile)', () => {
  test('BpfMap: a hash map walked by lookupBatch in whole buckets, cursor to cursor', () => {
    const sys = modern();
    const h = hash8(sys);
    h.updateBatch([[1, 10n], [2, 20n], [3, 30n], [4, 40n], [5, 50n]]);
    const first = h.lookupBatch(2);
    assert.deepEqual(first.entries, [[4, 40n], [2, 20n]]);
    assert.deepEqual(first.next, Uint8Array.from([3, 0, 0, 0]));
    const second = h.lookupBatch(2, first.next);
    assert.deepEqual(second.entries, [[1, 10n], [5, 50n]]);
    assert.deepEqual(second.next, Uint8Array.from([7, 0, 0, 0]));
    const last = h.lookupBatch(2, second.next);
    assert.deepEqual(last, { entries: [[3, 30n]], next: undefined });
    // the same order as get_next_key
    assert.deepEqual([...h.keys()], [4, 2, 1, 5, 3]);
    expectErr(() => h.deleteBatch([1, 9, 2]), 'ENOENT', 'element 1: no such key');
    assert.deepEqual([...h.keys()], [4, 2, 5, 3]);
    assert.deepEqual(h.lookupAndDeleteBatch(10), { entries: [[4, 40n], [2, 20n], [5, 50n], [3, 30n]], next: undefined });
    assert.deepEqual([...h.keys()], []);
    assert.deepEqual(h.lookupBatch(10), { entries: [], next: undefined });
    h.updateBatch([[1, 1n], [1, 2n]]);
    assert.deepEqual([...h.entries()], [[1, 2n]]);
    expectErr(() => h.lookupBatch(0), 'EINVAL', 'count must be a positive 32-bit integer, got 0');
  });

  test('BpfMap: arrays by index, and what they do not support', () => {
    const sys = modern();
    const a = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 5 }, { key: u32, value: u64 });
    a.updateBatch([[1, 10n], [4, 40n]]);
    const b1 = a.lookupBatch(2);
    assert.deepEqual(b1, { entries: [[0, 0n], [1, 10n]], next: le32(1) });
    const b2 = a.lookupBatch(2, b1.next);
    assert.deepEqual(b2, { entries: [[2, 0n], [3, 0n]], next: le32(3) });
    assert.deepEqual(a.lookupBatch(2, b2.next), { entries: [[4, 40n]], next: undefined });
    expectErr(() => a.deleteBatch([1]), 'ENOTSUPP', 'array maps do not support this command');
    expectErr(() => a.lookupAndDeleteBatch(2), 'ENOTSUPP', 'array maps do not support this command');
    expectErr(() => a.updateBatch([[1, 1n], [7, 2n]]), 'E2BIG', 'element 1: the map is full (or the index is out of range)');
    assert.equal(a.lookup(1), 1n);
    const q = BpfMap.create(sys, { type: 'queue', keySize: 0, valueSize: 4, maxEntries: 4 });
    expectErr(() => q.lookupBatch(1), 'ENOTSUPP', 'queue maps do not support this command');
    const p = BpfMap.create(new BpfSystem({ profile: 'modern', cpus: 2 }), { type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    expectErr(() => p.lookupBatch(1), 'EINVAL', 'the map is a per-CPU map: use lookupPerCpu, which carries every CPU\'s value');
  });

  test('bpf(): count written back, out_batch, ENOENT and ENOSPC, the checks in the kernel\'s order', () => {
    const sys = modern();
    const h = hash8(sys);
    // 13 shares key 1's bucket (3)
    for (const k of [1, 2, 3, 4, 5, 13]) h.update(k, BigInt(k * 10));
    const attr = { map_fd: h.fd, keys: new Uint8Array(40), values: new Uint8Array(80), count: 10, out_batch: new Uint8Array(4) };
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, attr), 'ENOENT', 'no more elements');
    assert.equal(attr.count, 6);
    assert.deepEqual(attr.out_batch, le32(8));
    assert.deepEqual([...attr.keys.subarray(0, 28)], [4, 0, 0, 0, 2, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(attr.values.subarray(0, 8), le64(40));
    // a bucket of two that one slot cannot hold: ENOSPC, nothing given
    const one = { map_fd: h.fd, keys: new Uint8Array(4), values: new Uint8Array(8), count: 1, out_batch: new Uint8Array(4), in_batch: le32(3) };
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, one), 'ENOSPC', 'bucket 3 holds 2 elements, count allows 1');
    assert.equal(one.count, 0);
    assert.deepEqual(one.out_batch, le32(3));
    // past the last bucket: ENOENT, count 0
    const past = { map_fd: h.fd, keys: new Uint8Array(20), values: new Uint8Array(40), count: 5, out_batch: le32(99), in_batch: le32(8) };
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, past), 'ENOENT', 'in_batch: bucket 8 is past the map\'s 8');
    assert.equal(past.count, 0);
    assert.deepEqual(past.out_batch, le32(99));
    // an update batch takes no BPF_NOEXIST: EINVAL before anything, count untouched
    const noexist = { map_fd: h.fd, keys: Uint8Array.from([...le32(40), ...le32(40)]), values: new Uint8Array(16), count: 2, elem_flags: 1 };
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_UPDATE_BATCH, noexist), 'EINVAL', 'elem_flags 1: only BPF_F_LOCK (4) exists');
    assert.equal(noexist.count, 2);
    const zero = { map_fd: h.fd, count: 0 };
    assert.equal(sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, zero), 0);
    assert.equal(zero.count, 0);
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, { map_fd: h.fd, count: 1, keys: new Uint8Array(4), values: new Uint8Array(8), out_batch: new Uint8Array(4), flags: 1 }), 'EINVAL', 'flags 1 must be 0');
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, { map_fd: h.fd, count: 1, elem_flags: 1 }), 'EINVAL', 'elem_flags 1: only BPF_F_LOCK (4) exists');
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, { map_fd: h.fd, count: 2, keys: new Uint8Array(4), values: new Uint8Array(16), out_batch: new Uint8Array(4) }), 'EFAULT', 'keys has 4 bytes, the map needs 8');
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, { map_fd: h.fd, count: 1, bogus: 1 }), 'EINVAL', 'field \'bogus\' is not used by BPF_MAP_LOOKUP_BATCH and must be zero');
    const del = { map_fd: h.fd, keys: Uint8Array.from([...le32(1), ...le32(2), ...le32(9)]), count: 3 };
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_DELETE_BATCH, del), 'ENOENT', 'element 2: no such key');
    assert.equal(del.count, 2);
    assert.deepEqual([...h.keys()], [4, 13, 5, 3]);
    sys.bpf(BPF_CMD.BPF_MAP_FREEZE, { map_fd: h.fd });
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_UPDATE_BATCH, { map_fd: h.fd, count: 0 }), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    assert.deepEqual(h.lookupBatch(8).entries, [[4, 40n], [13, 130n], [5, 50n], [3, 30n]]);
  });

  test('3.19 has no batch commands', () => {
    const sys = new BpfSystem();
    const h = hash8(sys);
    expectErr(() => sys.bpf(24, { map_fd: h.fd, count: 1 }), 'EINVAL', 'unknown command 24');
    expectErr(() => h.lookupBatch(1), 'EINVAL', 'unknown command 24');
  });
});
