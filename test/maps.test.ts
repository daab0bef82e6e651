/**
 * Maps and the bpf() syscall: a port of every assertion of the kernel's
 * samples/bpf/test_maps.c (../shared/docs/linux-3.19/runtime.md section d,
 * strict 3.19 order), then hash and array map semantics beyond it, the
 * bpf() attribute checks, reference counting, the map helpers called from
 * programs, checked-mode access to map values, and the BpfMap API.
 * Every assertion is an exact value or an exact errno.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD, testRun } from '../src/api/bpf.js';
import { BpfMap, u32, u64, i64 } from '../src/api/map.js';
import { Program } from '../src/api/program.js';
import { BpfError, ERRNO } from '../src/errors.js';
import type { ErrnoCode } from '../src/errors.js';
import { assemble } from '../src/isa/index.js';
import { jhash } from '../src/maps/jhash.js';
import { SPARE } from '../src/maps/hash.js';
import { Runtime } from '../src/runtime/runtime.js';
import { le32, le64 } from './bytes.js';

// ---------------------------------------------------------------- helpers

const HASH = 1;
const ARRAY = 2;
const BPF_ANY = 0;
const BPF_NOEXIST = 1;
const BPF_EXIST = 2;

const CMD_NAME: Record<number, string> = {
  0: 'BPF_MAP_CREATE',
  1: 'BPF_MAP_LOOKUP_ELEM',
  2: 'BPF_MAP_UPDATE_ELEM',
  3: 'BPF_MAP_DELETE_ELEM',
  4: 'BPF_MAP_GET_NEXT_KEY',
  5: 'BPF_PROG_LOAD',
};

function rd64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(0, true);
}
function rdU64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
}
function rd32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0, true);
}

/** Assert that f throws the BpfError `code`, from bpf() command `command` (a name, or undefined for none). */
function expectErr(f: () => unknown, code: ErrnoCode, command?: string | null): BpfError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${code}, nothing was thrown`);
  assert.ok(caught instanceof BpfError, `expected a BpfError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  assert.equal(caught.errno, -ERRNO[code]);
  assert.equal(caught.syscall, 'bpf');
  if (command !== null) assert.equal(caught.command, command);
  return caught;
}

/** libbpf-style wrappers over the low-level bpf(): 0 or a new fd, errors throw. */
const create = (sys: BpfSystem, map_type: number, key_size: number, value_size: number, max_entries: number): number =>
  sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type, key_size, value_size, max_entries });
const update = (sys: BpfSystem, map_fd: number, key: Uint8Array, value: Uint8Array, flags: number | bigint): number =>
  sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd, key, value, flags });
const lookup = (sys: BpfSystem, map_fd: number, key: Uint8Array, value: Uint8Array): number =>
  sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd, key, value });
const del = (sys: BpfSystem, map_fd: number, key: Uint8Array): number => sys.bpf(BPF_CMD.BPF_MAP_DELETE_ELEM, { map_fd, key });
const nextKey = (sys: BpfSystem, map_fd: number, key: Uint8Array | null, next_key: Uint8Array): number =>
  sys.bpf(BPF_CMD.BPF_MAP_GET_NEXT_KEY, { map_fd, key, next_key });

const LOOKUP = 'BPF_MAP_LOOKUP_ELEM';
const UPDATE = 'BPF_MAP_UPDATE_ELEM';
const DELETE = 'BPF_MAP_DELETE_ELEM';
const NEXT = 'BPF_MAP_GET_NEXT_KEY';
const CREATE = 'BPF_MAP_CREATE';
const PROG_LOAD = 'BPF_PROG_LOAD';

/** Run generator-based "processes" to completion, one step each in turn (round-robin). */
function roundRobin(procs: Generator<void, void, void>[]): void {
  let live = procs.slice();
  while (live.length > 0) live = live.filter((p) => !p.next().done);
}
function runToEnd(p: Generator<void, void, void>): void {
  while (!p.next().done);
}

/** All keys in iteration order, by get_next_key from an absent/no key. */
function iterKeys64(sys: BpfSystem, fd: number, start: Uint8Array | null = null): bigint[] {
  const out: bigint[] = [];
  let key = start;
  for (;;) {
    const next = new Uint8Array(8);
    try {
      nextKey(sys, fd, key, next);
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return out;
      throw e;
    }
    out.push(rd64(next));
    key = next;
    if (out.length > 100000) throw new Error('iteration does not end');
  }
}

// ---------------------------------------------------------------- 1. test_maps.c

/** test_hashmap_sanity, one bpf() call per step. */
function* hashmapSanity(sys: BpfSystem): Generator<void, void, void> {
  const value = new Uint8Array(8);
  // 1. create
  const fd = create(sys, HASH, 8, 8, 2);
  assert.ok(fd >= 3);
  yield;
  // 2. insert key=1 value=1234 to empty hash
  assert.equal(update(sys, fd, le64(1), le64(1234), BPF_ANY), 0);
  yield;
  // 3. BPF_NOEXIST means: add new element if it doesn't exist
  expectErr(() => update(sys, fd, le64(1), le64(1234), BPF_NOEXIST), 'EEXIST', UPDATE);
  yield;
  // 4. update with flags = -1 (and the same as a bigint)
  expectErr(() => update(sys, fd, le64(1), le64(1234), -1), 'EINVAL', UPDATE);
  expectErr(() => update(sys, fd, le64(1), le64(1234), 0xffffffffffffffffn), 'EINVAL', UPDATE);
  yield;
  // 5. check that key=1 can be found
  assert.equal(lookup(sys, fd, le64(1), value), 0);
  assert.equal(rd64(value), 1234n);
  yield;
  // 6. check that key=2 is not found
  expectErr(() => lookup(sys, fd, le64(2), value), 'ENOENT', LOOKUP);
  yield;
  // 7. BPF_EXIST means: update existing element
  expectErr(() => update(sys, fd, le64(2), le64(1234), BPF_EXIST), 'ENOENT', UPDATE);
  yield;
  // 8. insert key=2 element (value 0)
  assert.equal(update(sys, fd, le64(2), le64(0), BPF_NOEXIST), 0);
  yield;
  // 9. key=1 and key=2 were inserted, check that key=0 cannot be inserted due to max_entries limit
  expectErr(() => update(sys, fd, le64(0), le64(0), BPF_NOEXIST), 'E2BIG', UPDATE);
  yield;
  // 10. check that key = 0 doesn't exist
  expectErr(() => del(sys, fd, le64(0)), 'ENOENT', DELETE);
  yield;
  // 11-13. iterate over two elements, strict 3.19 order
  const next = new Uint8Array(8);
  assert.equal(nextKey(sys, fd, le64(0), next), 0);
  assert.equal(rd64(next), 2n);
  yield;
  assert.equal(nextKey(sys, fd, next, next), 0);
  assert.equal(rd64(next), 1n);
  yield;
  expectErr(() => nextKey(sys, fd, next, next), 'ENOENT', NEXT);
  assert.equal(rd64(next), 1n, 'a failed get_next_key leaves next_key untouched');
  yield;
  // 14. delete both elements
  assert.equal(del(sys, fd, le64(1)), 0);
  assert.equal(del(sys, fd, le64(2)), 0);
  expectErr(() => del(sys, fd, le64(2)), 'ENOENT', DELETE);
  yield;
  // 15. check that map is empty
  expectErr(() => nextKey(sys, fd, le64(0), next), 'ENOENT', NEXT);
  yield;
  // 16. close
  sys.close(fd);
}

/** test_arraymap_sanity. */
function* arraymapSanity(sys: BpfSystem): Generator<void, void, void> {
  const value = new Uint8Array(8);
  // 1
  const fd = create(sys, ARRAY, 4, 8, 2);
  assert.ok(fd >= 3);
  yield;
  // 2. insert key=1 value=1234
  assert.equal(update(sys, fd, le32(1), le64(1234), BPF_ANY), 0);
  yield;
  // 3
  expectErr(() => update(sys, fd, le32(1), le64(1234), BPF_NOEXIST), 'EEXIST', UPDATE);
  yield;
  // 4. check that key=1 can be found
  assert.equal(lookup(sys, fd, le32(1), value), 0);
  assert.equal(rd64(value), 1234n);
  yield;
  // 5. check that key=0 is also found and zero initialized
  value.fill(0xaa);
  assert.equal(lookup(sys, fd, le32(0), value), 0);
  assert.equal(rd64(value), 0n);
  yield;
  // 6. key=2 cannot be inserted due to max_entries limit
  expectErr(() => update(sys, fd, le32(2), le64(1234), BPF_EXIST), 'E2BIG', UPDATE);
  yield;
  // 7. check that key = 2 doesn't exist
  expectErr(() => lookup(sys, fd, le32(2), value), 'ENOENT', LOOKUP);
  yield;
  // 8-10. iterate over two elements
  const next = new Uint8Array(4);
  assert.equal(nextKey(sys, fd, le32(2), next), 0);
  assert.equal(rd32(next), 0);
  yield;
  assert.equal(nextKey(sys, fd, next, next), 0);
  assert.equal(rd32(next), 1);
  yield;
  expectErr(() => nextKey(sys, fd, next, next), 'ENOENT', NEXT);
  yield;
  // 11. delete shouldn't succeed
  expectErr(() => del(sys, fd, le32(1)), 'EINVAL', DELETE);
  yield;
  sys.close(fd);
}

describe('test_maps.c', () => {
  test('test_hashmap_sanity (strict 3.19 iteration order: 2, 1, ENOENT)', () => {
    const sys = new BpfSystem();
    runToEnd(hashmapSanity(sys));
    assert.deepEqual(sys.fds(), []);
  });

  test('test_arraymap_sanity', () => {
    const sys = new BpfSystem();
    runToEnd(arraymapSanity(sys));
    assert.deepEqual(sys.fds(), []);
  });

  test('test_map_large: 32768 128-byte keys, E2BIG when full, every element visited once', () => {
    const sys = new BpfSystem();
    const MAP_SIZE = 32768;
    // struct { int a; char b[116]; long long c; } __attribute__((packed)) key;
    const KEY_SIZE = 4 + 116 + 8;
    assert.equal(KEY_SIZE, 128);
    const key = new Uint8Array(KEY_SIZE);
    const kv = new DataView(key.buffer);
    const value = new Uint8Array(4);
    const vv = new DataView(value.buffer);
    const fd = create(sys, HASH, KEY_SIZE, 4, MAP_SIZE);
    for (let i = 0; i < MAP_SIZE; i++) {
      key.fill(0);
      kv.setBigInt64(120, BigInt(i), true);
      vv.setInt32(0, i, true);
      assert.equal(update(sys, fd, key, value, BPF_NOEXIST), 0);
    }
    key.fill(0);
    kv.setBigInt64(120, -1n, true);
    expectErr(() => update(sys, fd, key, value, BPF_NOEXIST), 'E2BIG', UPDATE);

    // iterate through all elements, starting from the absent key {.c = -1}
    const seen = new Uint8Array(MAP_SIZE);
    for (let i = 0; i < MAP_SIZE; i++) {
      assert.equal(nextKey(sys, fd, key, key), 0);
      const c = kv.getBigInt64(120, true);
      assert.ok(c >= 0n && c < BigInt(MAP_SIZE), `key.c ${c} out of range`);
      if (seen[Number(c)]) assert.fail(`key.c ${c} visited twice`);
      seen[Number(c)] = 1;
      if (kv.getInt32(0, true) !== 0 || key.subarray(4, 120).some((x) => x !== 0)) assert.fail(`key ${c} has non-zero a or b`);
    }
    expectErr(() => nextKey(sys, fd, key, key), 'ENOENT', NEXT);
    assert.equal(seen.reduce((s, x) => s + x, 0), MAP_SIZE);

    // the buffer still holds the last key returned: with c = 0 it is the key inserted for i = 0
    kv.setBigInt64(120, 0n, true);
    vv.setInt32(0, -1, true);
    assert.equal(lookup(sys, fd, key, value), 0);
    assert.equal(vv.getInt32(0, true), 0);
    kv.setInt32(0, 1, true);
    expectErr(() => lookup(sys, fd, key, value), 'ENOENT', LOOKUP);
    sys.close(fd);
  });

  test('test_map_parallel, emulated: 1024 children interleaved round-robin', () => {
    const sys = new BpfSystem();
    const MAP_SIZE = 32768;
    const TASKS = 1024;
    const fd = create(sys, HASH, 4, 4, MAP_SIZE);
    // each child n inserts keys n, n + 1024, ... with value = key
    function* inserter(n: number): Generator<void, void, void> {
      for (let k = n; k < MAP_SIZE; k += TASKS) {
        assert.equal(update(sys, fd, le32(k), le32(k), BPF_NOEXIST), 0);
        yield;
      }
    }
    roundRobin(Array.from({ length: TASKS }, (_, n) => inserter(n)));

    // check that key=0 is already there
    expectErr(() => update(sys, fd, le32(0), le32(0), BPF_NOEXIST), 'EEXIST', UPDATE);

    // check that all elements were inserted: iterate from key = -1 (absent)
    const key = le32(-1);
    const seen = new Uint8Array(MAP_SIZE);
    let count = 0;
    for (;;) {
      try {
        nextKey(sys, fd, key, key);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ENOENT' && e.command === NEXT) break;
        throw e;
      }
      const k = rd32(key);
      assert.ok(k >= 0 && k < MAP_SIZE && !seen[k], `key ${k}`);
      seen[k] = 1;
      count++;
    }
    assert.equal(count, MAP_SIZE);

    // another check for all elements
    const value = new Uint8Array(4);
    for (let i = 0; i < MAP_SIZE; i++) {
      value.fill(0xff);
      assert.equal(lookup(sys, fd, le32(i), value), 0);
      assert.equal(rd32(value), i);
    }

    // children delete their keys (in the opposite child order this time)
    function* deleter(n: number): Generator<void, void, void> {
      for (let k = n; k < MAP_SIZE; k += TASKS) {
        assert.equal(del(sys, fd, le32(k)), 0);
        yield;
      }
    }
    roundRobin(Array.from({ length: TASKS }, (_, n) => deleter(TASKS - 1 - n)));

    // nothing should be left
    expectErr(() => nextKey(sys, fd, le32(-1), key), 'ENOENT', NEXT);
    sys.close(fd);
  });

  test(
    'test_map_stress, emulated: 100 hash maps then 100 array maps passing the sanity sequence in one system',
    () => {
    const sys = new BpfSystem();
    // one sequential pass first, so the staging memory has reached its size
    runToEnd(hashmapSanity(sys));
    runToEnd(arraymapSanity(sys));
    const before = sys.runtime.mem.allocatedBytes;
    roundRobin(Array.from({ length: 100 }, () => hashmapSanity(sys)));
    assert.deepEqual(sys.fds(), []);
    roundRobin(Array.from({ length: 100 }, () => arraymapSanity(sys)));
    assert.deepEqual(sys.fds(), []);
    assert.equal(sys.runtime.mem.allocatedBytes, before);
    },
  );

  test('test_map_stress, emulated without reusing memory: 100 hash maps and 100 array maps, each in its own system', () => {
    // the same sequences interleaved, one system per "process" as test_maps' fork() gives
    roundRobin(Array.from({ length: 100 }, () => hashmapSanity(new BpfSystem(new Runtime({ maxBytes: 1 << 20 })))));
    roundRobin(Array.from({ length: 100 }, () => arraymapSanity(new BpfSystem(new Runtime({ maxBytes: 1 << 20 })))));
  });
});

// ---------------------------------------------------------------- 2. hash maps

describe('hash map semantics', () => {
  test('E2BIG is checked before BPF_EXIST: a missing key with BPF_EXIST on a full map', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 2);
    update(sys, fd, le64(1), le64(10), BPF_ANY);
    update(sys, fd, le64(2), le64(20), BPF_ANY);
    expectErr(() => update(sys, fd, le64(3), le64(30), BPF_EXIST), 'E2BIG', UPDATE);
    expectErr(() => update(sys, fd, le64(3), le64(30), BPF_ANY), 'E2BIG', UPDATE);
    // existing keys can still be updated in a full map
    assert.equal(update(sys, fd, le64(1), le64(11), BPF_EXIST), 0);
    assert.equal(update(sys, fd, le64(2), le64(21), BPF_ANY), 0);
    // flags are checked before anything else
    expectErr(() => update(sys, fd, le64(3), le64(30), 3), 'EINVAL', UPDATE);
    // not full any more: BPF_EXIST on a missing key is ENOENT
    del(sys, fd, le64(2));
    expectErr(() => update(sys, fd, le64(3), le64(30), BPF_EXIST), 'ENOENT', UPDATE);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(1), v);
    assert.equal(rd64(v), 11n);
  });

  test('new keys go to the head of their bucket and an updated key moves to the head', () => {
    const sys = new BpfSystem();
    // key_size 8, max_entries 2 (2 buckets): the keys 0, 1, 2 all hash to bucket 1
    const fd = create(sys, HASH, 8, 8, 2);
    update(sys, fd, le64(1), le64(10), BPF_ANY);
    update(sys, fd, le64(2), le64(20), BPF_ANY);
    assert.deepEqual(iterKeys64(sys, fd, le64(0)), [2n, 1n]);
    assert.deepEqual(iterKeys64(sys, fd), [2n, 1n]);
    update(sys, fd, le64(1), le64(11), BPF_ANY);
    assert.deepEqual(iterKeys64(sys, fd, le64(0)), [1n, 2n]);
    update(sys, fd, le64(2), le64(22), BPF_EXIST);
    assert.deepEqual(iterKeys64(sys, fd, le64(0)), [2n, 1n]);
    // a failed update does not move anything
    expectErr(() => update(sys, fd, le64(1), le64(0), BPF_NOEXIST), 'EEXIST', UPDATE);
    assert.deepEqual(iterKeys64(sys, fd, le64(0)), [2n, 1n]);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(1), v);
    assert.equal(rd64(v), 11n);
    lookup(sys, fd, le64(2), v);
    assert.equal(rd64(v), 22n);
  });

  test('iteration order follows jhash buckets (values computed with the kernel jhash.h in C)', () => {
    const sys = new BpfSystem();
    // u32 keys, n_buckets 8: buckets 0:0 1:3 2:2 3:7 4:1 5:6 6:6 7:2
    const fd = create(sys, HASH, 4, 4, 8);
    for (let k = 0; k < 8; k++) update(sys, fd, le32(k), le32(k * 10), BPF_NOEXIST);
    const order: number[] = [];
    let key: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(4);
      try {
        nextKey(sys, fd, key, next);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ENOENT') break;
        throw e;
      }
      order.push(rd32(next));
      key = next;
    }
    assert.deepEqual(order, [0, 4, 7, 2, 1, 6, 5, 3]);
    // from a present key in the middle of a bucket list, then across buckets
    const next = new Uint8Array(4);
    nextKey(sys, fd, le32(7), next);
    assert.equal(rd32(next), 2);
    nextKey(sys, fd, le32(2), next);
    assert.equal(rd32(next), 1);
    // from an absent key: the first element of the first non-empty bucket
    nextKey(sys, fd, le32(99), next);
    assert.equal(rd32(next), 0);
  });

  test('delete of a missing key is ENOENT; delete then re-insert works', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    expectErr(() => del(sys, fd, le64(5)), 'ENOENT', DELETE);
    update(sys, fd, le64(5), le64(50), BPF_NOEXIST);
    assert.equal(del(sys, fd, le64(5)), 0);
    expectErr(() => del(sys, fd, le64(5)), 'ENOENT', DELETE);
    expectErr(() => lookup(sys, fd, le64(5), new Uint8Array(8)), 'ENOENT', LOOKUP);
    assert.equal(update(sys, fd, le64(5), le64(51), BPF_NOEXIST), 0);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(5), v);
    assert.equal(rd64(v), 51n);
  });

  test('values are copied whole: value_size bytes in and out, not the rest of the buffer', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 3, 5, 4);
    const key = Uint8Array.from([1, 2, 3, 0xee, 0xee]); // longer than key_size: only 3 bytes count
    assert.equal(update(sys, fd, key, Uint8Array.from([9, 8, 7, 6, 5, 4, 3]), BPF_NOEXIST), 0);
    const out = new Uint8Array(7).fill(0xaa);
    assert.equal(lookup(sys, fd, Uint8Array.from([1, 2, 3]), out), 0);
    assert.deepEqual([...out], [9, 8, 7, 6, 5, 0xaa, 0xaa]);
    const next = new Uint8Array(4).fill(0xbb);
    assert.equal(nextKey(sys, fd, null, next), 0);
    assert.deepEqual([...next], [1, 2, 3, 0xbb]);
  });

  test('key_size 512 works, 513 is E2BIG', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 512, 8, 4);
    const key = new Uint8Array(512);
    key[511] = 1;
    assert.equal(update(sys, fd, key, le64(7), BPF_NOEXIST), 0);
    const v = new Uint8Array(8);
    assert.equal(lookup(sys, fd, key, v), 0);
    assert.equal(rd64(v), 7n);
    const next = new Uint8Array(512);
    assert.equal(nextKey(sys, fd, new Uint8Array(512), next), 0);
    assert.deepEqual(next, key);
    key[0] = 1;
    expectErr(() => lookup(sys, fd, key, v), 'ENOENT', LOOKUP);
    expectErr(() => create(sys, HASH, 513, 8, 4), 'E2BIG', CREATE);
    // a key_size of -1 is 0xffffffff as the kernel's u32
    expectErr(() => create(sys, HASH, -1, 8, 4), 'E2BIG', CREATE);
  });

  test('key_size, value_size, max_entries 0 are EINVAL for both map types (before E2BIG)', () => {
    const sys = new BpfSystem();
    for (const type of [HASH, ARRAY]) {
      expectErr(() => create(sys, type, 0, 8, 4), 'EINVAL', CREATE);
      expectErr(() => create(sys, type, 4, 0, 4), 'EINVAL', CREATE);
      expectErr(() => create(sys, type, 4, 8, 0), 'EINVAL', CREATE);
    }
    expectErr(() => create(sys, HASH, 513, 0, 4), 'EINVAL', CREATE);
    expectErr(() => create(sys, HASH, 513, 8, 0), 'EINVAL', CREATE);
    assert.deepEqual(sys.fds(), []);
  });

  test('map_type 0 and 3 (and 0xffffffff) are EINVAL; map_flags non-zero is EINVAL', () => {
    const sys = new BpfSystem();
    expectErr(() => create(sys, 0, 4, 8, 4), 'EINVAL', CREATE);
    expectErr(() => create(sys, 3, 4, 8, 4), 'EINVAL', CREATE);
    expectErr(() => create(sys, 0xffffffff, 4, 8, 4), 'EINVAL', CREATE);
    for (const type of [HASH, ARRAY]) {
      expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: type, key_size: 4, value_size: 8, max_entries: 4, map_flags: 1 }), 'EINVAL', CREATE);
      expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: type, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0x80000000 }), 'EINVAL', CREATE);
    }
    const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: HASH, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0 });
    assert.equal(fd, 3);
    sys.close(fd);
    assert.deepEqual(sys.fds(), []);
  });

  test('a huge map is ENOMEM (nothing else is thrown) and leaves the system usable', () => {
    const sys = new BpfSystem();
    const before = sys.runtime.mem.allocatedBytes;
    for (const type of [HASH, ARRAY]) {
      expectErr(() => create(sys, type, 4, 4096, 0xffffffff), 'ENOMEM', CREATE);
      expectErr(() => create(sys, type, 4, 8, 0x80000000), 'ENOMEM', CREATE);
      // the largest value_size whose round_up(value_size, 8) fits in 31 bits
      expectErr(() => create(sys, type, 4, 0x7ffffff8, 2), 'ENOMEM', CREATE);
      expectErr(() => create(sys, type, 4, 0x7ffffff8, 1), 'ENOMEM', CREATE);
    }
    expectErr(() => create(sys, HASH, 512, 1, 0xffffffff), 'ENOMEM', CREATE);
    assert.equal(sys.runtime.mem.allocatedBytes, before);
    assert.deepEqual(sys.fds(), []);
    const fd = create(sys, HASH, 4, 4, 4);
    assert.equal(fd, 3);
    assert.equal(update(sys, fd, le32(1), le32(2), BPF_ANY), 0);
  });

  test(
    'a value_size whose round_up(value_size, 8) overflows u32 is ENOMEM, as the kernel\'s "check round_up into zero" [fix]',
    () => {
      const sys = new BpfSystem();
      const before = sys.runtime.mem.allocatedBytes;
      for (const type of [HASH, ARRAY]) {
        for (const vs of [0x7ffffff9, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffff8, 0xfffffff9, 0xfffffffc, 0xffffffff]) {
          expectErr(() => create(sys, type, 4, vs, 1), 'ENOMEM', CREATE);
          expectErr(() => create(sys, type, 4, vs, 0xffffffff), 'ENOMEM', CREATE);
        }
      }
      assert.equal(sys.runtime.mem.allocatedBytes, before);
      assert.deepEqual(sys.fds(), []);
    },
  );

  test('a hash map that passes the size check but does not fit in the remaining memory is ENOMEM without leaking', () => {
    // 4 MiB of memory: a 3 MiB map fits once, not twice
    for (const type of [HASH]) {
      const sys = new BpfSystem(new Runtime({ maxBytes: 4 << 20 }));
      const fd = create(sys, type, 4, 4096, 768);
      const before = sys.runtime.mem.allocatedBytes;
      expectErr(() => create(sys, type, 4, 4096, 768), 'ENOMEM', CREATE);
      assert.equal(sys.runtime.mem.allocatedBytes, before, `type ${type}: a failed create must not leak memory`);
      assert.deepEqual(sys.fds().map((f) => f.fd), [fd]);
    }
  });

  test(
    'an array map that passes the size check but does not fit in the remaining memory is ENOMEM without leaking',
    () => {
      const sys = new BpfSystem(new Runtime({ maxBytes: 4 << 20 }));
      const fd = create(sys, ARRAY, 4, 4096, 768);
      const before = sys.runtime.mem.allocatedBytes;
      expectErr(() => create(sys, ARRAY, 4, 4096, 768), 'ENOMEM', CREATE);
      assert.equal(sys.runtime.mem.allocatedBytes, before);
      assert.deepEqual(sys.fds().map((f) => f.fd), [fd]);
    },
  );

  test('jhash is lookup3 as the kernel jhash.h computes it', () => {
    const enc = new TextEncoder();
    const four = enc.encode('Four score and seven years ago');
    assert.equal(four.length, 30);
    assert.equal(jhash(four, 0, 30, 0), 0x17770551);
    assert.equal(jhash(four, 0, 30, 1), 0xcd628161);
    assert.equal(jhash(new Uint8Array(0), 0, 0, 0), 0xdeadbeef);
    assert.equal(jhash(new Uint8Array(0), 0, 0, 0xdeadbeef), 0xbd5b7dde);
    assert.equal(jhash(four, 0, 30), 0x17770551, 'initval defaults to 0');
    // the same bytes at an offset
    const shifted = new Uint8Array(40);
    shifted.set(four, 7);
    assert.equal(jhash(shifted, 7, 30, 0), 0x17770551);
    // every tail length 0..40 (12 and 24 take the tail path, not the mix loop), bytes i*37+11
    const buf = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
    const expected = [
      0xdeadbeef, 0xb9c0f036, 0x76ccdd71, 0xa71025c3, 0x44e1a72e, 0xcd53084d, 0x16055da4, 0x4f96845f, 0x39c60a25,
      0xa68c01f8, 0x98b8e7c6, 0x37d9d710, 0x387958f9, 0x0d543670, 0xc23082d0, 0x3eb394f6, 0x7f4b8ae7, 0xe92a9ccf,
      0xdd3cdd0e, 0xa78188f7, 0xc84fb716, 0xd7115f5f, 0x8252ac1a, 0x63d5873f, 0x2d9723a7, 0x43bd1aa6, 0x11c19254,
      0x58218f52, 0x8546eefb, 0xc461b8d2, 0x522c3eba, 0x940b7aa0, 0x0636a5d3, 0x7226434e, 0xbdfb3b50, 0x03ae06c5,
      0xb1bfaf9f, 0x8ed39ebc, 0x2096ef5e, 0x1d9fe8cd, 0x4e4e072c,
    ];
    assert.deepEqual(Array.from({ length: 41 }, (_, n) => jhash(buf, 0, n, 0)), expected);
    assert.equal(jhash(buf, 0, 25, 0x12345678), 0x1f8f284b);
    // the strict test_maps cross-check: 8-byte keys 0, 1, 2 all land in bucket 1 of 2
    for (const k of [0, 1, 2]) assert.equal(jhash(le64(k), 0, 8, 0) & 1, 1);
  });
});

// ---------------------------------------------------------------- 3. array maps

describe('array map semantics', () => {
  test('values are zero-filled; only value_size bytes are copied', () => {
    const sys = new BpfSystem();
    const fd = create(sys, ARRAY, 4, 5, 3);
    const out = new Uint8Array(6).fill(0xaa);
    for (let i = 0; i < 3; i++) {
      out.fill(0xaa);
      assert.equal(lookup(sys, fd, le32(i), out), 0);
      assert.deepEqual([...out], [0, 0, 0, 0, 0, 0xaa]);
    }
    assert.equal(update(sys, fd, le32(1), Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), BPF_ANY), 0);
    lookup(sys, fd, le32(1), out);
    assert.deepEqual([...out], [1, 2, 3, 4, 5, 0xaa]);
    lookup(sys, fd, le32(0), out);
    assert.deepEqual([...out], [0, 0, 0, 0, 0, 0xaa]);
    lookup(sys, fd, le32(2), out);
    assert.deepEqual([...out], [0, 0, 0, 0, 0, 0xaa]);
  });

  test(
    'a new array map is zero-filled even where a closed map lived',
    () => {
      const sys = new BpfSystem();
      const w = create(sys, HASH, 8, 8, 1);
      update(sys, w, le64(1), le64(1), BPF_ANY);
      sys.close(w);
      const h = create(sys, HASH, 8, 8, 2);
      update(sys, h, le64(7), le64(0x1234), BPF_ANY);
      sys.close(h);
      const a = create(sys, ARRAY, 4, 8, 100);
      const v = new Uint8Array(8);
      const nonZero: number[] = [];
      for (let i = 0; i < 100; i++) {
        lookup(sys, a, le32(i), v);
        if (v.some((x) => x !== 0)) nonZero.push(i);
      }
      assert.deepEqual(nonZero, []);
    },
  );

  test('key_size other than 4 is EINVAL', () => {
    const sys = new BpfSystem();
    for (const ks of [1, 2, 3, 5, 8, 512, 513]) expectErr(() => create(sys, ARRAY, ks, 8, 4), 'EINVAL', CREATE);
    assert.deepEqual(sys.fds(), []);
  });

  test('update: flags > 2 EINVAL first, index >= max_entries E2BIG, then BPF_NOEXIST EEXIST; BPF_EXIST and BPF_ANY write', () => {
    const sys = new BpfSystem();
    const fd = create(sys, ARRAY, 4, 8, 4);
    expectErr(() => update(sys, fd, le32(4), le64(1), BPF_ANY), 'E2BIG', UPDATE);
    expectErr(() => update(sys, fd, le32(0xffffffff), le64(1), BPF_EXIST), 'E2BIG', UPDATE);
    expectErr(() => update(sys, fd, le32(4), le64(1), BPF_NOEXIST), 'E2BIG', UPDATE);
    expectErr(() => update(sys, fd, le32(4), le64(1), 3), 'EINVAL', UPDATE);
    expectErr(() => update(sys, fd, le32(0), le64(1), BPF_NOEXIST), 'EEXIST', UPDATE);
    expectErr(() => update(sys, fd, le32(0), le64(1), 1n << 32n), 'EINVAL', UPDATE);
    assert.equal(update(sys, fd, le32(3), le64(-5), BPF_EXIST), 0);
    assert.equal(update(sys, fd, le32(2), le64(6), BPF_ANY), 0);
    const v = new Uint8Array(8);
    lookup(sys, fd, le32(3), v);
    assert.equal(rd64(v), -5n);
    lookup(sys, fd, le32(2), v);
    assert.equal(rd64(v), 6n);
    expectErr(() => lookup(sys, fd, le32(4), v), 'ENOENT', LOOKUP);
  });

  test('delete is always EINVAL', () => {
    const sys = new BpfSystem();
    const fd = create(sys, ARRAY, 4, 8, 4);
    expectErr(() => del(sys, fd, le32(0)), 'EINVAL', DELETE);
    expectErr(() => del(sys, fd, le32(3)), 'EINVAL', DELETE);
    expectErr(() => del(sys, fd, le32(4)), 'EINVAL', DELETE);
  });

  test('get_next_key: out of range restarts at 0, index i gives i + 1, the last index ENOENT', () => {
    const sys = new BpfSystem();
    const fd = create(sys, ARRAY, 4, 8, 3);
    const next = new Uint8Array(4);
    for (const from of [0xffffffff, 3, 4, 0x80000000]) {
      next.fill(0xcc);
      assert.equal(nextKey(sys, fd, le32(from), next), 0);
      assert.equal(rd32(next), 0);
    }
    assert.equal(nextKey(sys, fd, le32(0), next), 0);
    assert.equal(rd32(next), 1);
    assert.equal(nextKey(sys, fd, le32(1), next), 0);
    assert.equal(rd32(next), 2);
    expectErr(() => nextKey(sys, fd, le32(2), next), 'ENOENT', NEXT);
    // no key at all (the 4.12 extension): the first index
    assert.equal(nextKey(sys, fd, null, next), 0);
    assert.equal(rd32(next), 0);
    // a one-element array: from 0 is already the end
    const one = create(sys, ARRAY, 4, 8, 1);
    expectErr(() => nextKey(sys, one, le32(0), next), 'ENOENT', NEXT);
    assert.equal(nextKey(sys, one, le32(1), next), 0);
    assert.equal(rd32(next), 0);
  });
});

// ---------------------------------------------------------------- 4. bpf() attributes

/** The fields each command reads (the uapi attr members up to CHECK_ATTR's last field). */
const USED: Record<number, string[]> = {
  0: ['map_type', 'key_size', 'value_size', 'max_entries', 'map_flags'],
  1: ['map_fd', 'key', 'value'],
  2: ['map_fd', 'key', 'value', 'flags'],
  3: ['map_fd', 'key'],
  4: ['map_fd', 'key', 'next_key'],
  5: ['prog_type', 'insn_cnt', 'insns', 'license', 'log_level', 'log_size', 'log_buf'],
};
const ALL_FIELDS = [...new Set(Object.values(USED).flat())];

describe('bpf() attribute checks', () => {
  /** A valid attr per command against a fresh hash map (key 1 present) in `sys`. */
  function validAttrs(sys: BpfSystem): { fd: number; attrs: Record<number, Record<string, unknown>> } {
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(1), le64(100), BPF_ANY);
    return {
      fd,
      attrs: {
        0: { map_type: HASH, key_size: 8, value_size: 8, max_entries: 4 },
        1: { map_fd: fd, key: le64(1), value: new Uint8Array(8) },
        2: { map_fd: fd, key: le64(1), value: le64(101), flags: BPF_ANY },
        3: { map_fd: fd, key: le64(1) },
        4: { map_fd: fd, key: le64(0), next_key: new Uint8Array(8) },
        5: { prog_type: 1, insns: assemble('r0 = 0\nexit'), license: 'GPL' },
      },
    };
  }

  test('a field the command does not use, set non-zero, is EINVAL for every command', () => {
    const sys = new BpfSystem();
    const { attrs } = validAttrs(sys);
    let checked = 0;
    for (const cmd of [0, 1, 2, 3, 4, 5]) {
      for (const field of ALL_FIELDS) {
        if (USED[cmd]!.includes(field)) continue;
        for (const v of [1, 1n, -1, new Uint8Array(8), 'x', true]) {
          expectErr(() => sys.bpf(cmd, { ...attrs[cmd], [field]: v }), 'EINVAL', CMD_NAME[cmd]);
          checked++;
        }
      }
      // the same by command name
      expectErr(() => sys.bpf(CMD_NAME[cmd] as keyof typeof BPF_CMD, { ...attrs[cmd], foo: 1 }), 'EINVAL', CMD_NAME[cmd]);
    }
    assert.equal(checked, 6 * (6 * ALL_FIELDS.length - Object.values(USED).flat().length));
    // the examples from the uapi: flags on LOOKUP, value on DELETE, next_key on UPDATE, value on GET_NEXT_KEY
    expectErr(() => sys.bpf(1, { ...attrs[1], flags: 1 }), 'EINVAL', LOOKUP);
    expectErr(() => sys.bpf(3, { ...attrs[3], value: le64(0) }), 'EINVAL', DELETE);
    expectErr(() => sys.bpf(3, { ...attrs[3], flags: BPF_EXIST }), 'EINVAL', DELETE);
    expectErr(() => sys.bpf(2, { ...attrs[2], next_key: new Uint8Array(8) }), 'EINVAL', UPDATE);
    expectErr(() => sys.bpf(4, { ...attrs[4], value: new Uint8Array(8) }), 'EINVAL', NEXT);
    expectErr(() => sys.bpf(4, { ...attrs[4], flags: 2 }), 'EINVAL', NEXT);
    expectErr(() => sys.bpf(0, { ...attrs[0], map_fd: 3 }), 'EINVAL', CREATE);
    expectErr(() => sys.bpf(5, { ...attrs[5], key: le64(0) }), 'EINVAL', PROG_LOAD);
    // nothing was created or changed by the refused calls
    assert.equal(sys.fds().length, 1);
    const v = new Uint8Array(8);
    lookup(sys, 3, le64(1), v);
    assert.equal(rd64(v), 100n);
  });

  test('an unknown field name set non-zero is EINVAL', () => {
    const sys = new BpfSystem();
    const { attrs } = validAttrs(sys);
    for (const cmd of [0, 1, 2, 3, 4, 5]) {
      for (const field of ['foo', 'map_name', 'attach_type', 'Key', 'insn']) {
        expectErr(() => sys.bpf(cmd, { ...attrs[cmd], [field]: 1 }), 'EINVAL', CMD_NAME[cmd]);
      }
    }
  });

  test('zero, undefined and null unused fields are fine', () => {
    const sys = new BpfSystem();
    const { fd, attrs } = validAttrs(sys);
    const zeros = { foo: 0, bar: undefined, baz: null, qux: 0n, quux: false, corge: '' };
    for (const cmd of [0, 1, 2, 3, 4, 5]) {
      const unused = Object.fromEntries(ALL_FIELDS.filter((f) => !USED[cmd]!.includes(f)).map((f, i) => [f, [0, undefined, null, 0n][i % 4]]));
      const r = sys.bpf(cmd, { ...attrs[cmd], ...unused, ...zeros });
      if (cmd === 0 || cmd === 5) {
        assert.ok(r >= 4, `a new fd, got ${r}`);
        sys.close(r);
      } else assert.equal(r, 0);
      if (cmd === 3) update(sys, fd, le64(1), le64(100), BPF_ANY);
    }
    const v = new Uint8Array(8);
    assert.equal(sys.bpf(1, { map_fd: fd, key: le64(1), value: v, flags: 0, next_key: null }), 0);
    assert.equal(rd64(v), 100n);
  });

  test('wrong field types are EINVAL', () => {
    const sys = new BpfSystem();
    const base = { map_type: HASH, key_size: 8, value_size: 8, max_entries: 4 };
    for (const field of ['map_type', 'key_size', 'value_size', 'max_entries']) {
      for (const bad of ['8', 1.5, -(2 ** 40), 2 ** 32, NaN, Infinity, 8n, {}, [8]]) {
        expectErr(() => sys.bpf(0, { ...base, [field]: bad }), 'EINVAL', CREATE);
      }
    }
    const fd = create(sys, HASH, 8, 8, 4);
    for (const bad of ['1', 1.5, 2 ** 64, 1n << 64n, -(1n << 63n) - 1n, {}]) {
      expectErr(() => update(sys, fd, le64(1), le64(1), bad as number), 'EINVAL', UPDATE);
    }
    // the largest accepted flags values still reach the map's check
    expectErr(() => update(sys, fd, le64(1), le64(1), -(1n << 63n)), 'EINVAL', UPDATE);
    expectErr(() => update(sys, fd, le64(1), le64(1), (1n << 64n) - 1n), 'EINVAL', UPDATE);
    assert.equal(update(sys, fd, le64(1), le64(1), 0n), 0);
    assert.equal(update(sys, fd, le64(1), le64(1), 2n), 0);
  });

  test('a missing or short key buffer is EFAULT; short value and next_key buffers are EFAULT', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(1), le64(100), BPF_ANY);
    const v8 = new Uint8Array(8);
    for (const key of [undefined, null, new Uint8Array(7), new Uint8Array(0), [0, 0, 0, 0, 0, 0, 0, 1], new ArrayBuffer(8), 1]) {
      expectErr(() => sys.bpf(1, { map_fd: fd, key, value: v8 }), 'EFAULT', LOOKUP);
      expectErr(() => sys.bpf(2, { map_fd: fd, key, value: v8 }), 'EFAULT', UPDATE);
      expectErr(() => sys.bpf(3, { map_fd: fd, key }), 'EFAULT', DELETE);
    }
    for (const key of [new Uint8Array(7), new Uint8Array(0), [1], new ArrayBuffer(8)]) {
      expectErr(() => sys.bpf(4, { map_fd: fd, key, next_key: v8 }), 'EFAULT', NEXT);
    }
    for (const value of [undefined, null, new Uint8Array(7), new ArrayBuffer(8)]) {
      expectErr(() => sys.bpf(1, { map_fd: fd, key: le64(1), value }), 'EFAULT', LOOKUP);
      expectErr(() => sys.bpf(2, { map_fd: fd, key: le64(2), value }), 'EFAULT', UPDATE);
    }
    for (const next_key of [undefined, null, new Uint8Array(7)]) {
      expectErr(() => sys.bpf(4, { map_fd: fd, key: le64(9), next_key }), 'EFAULT', NEXT);
    }
    // the refused update of key 2 did not insert it; key 1 is unchanged
    expectErr(() => lookup(sys, fd, le64(2), v8), 'ENOENT', LOOKUP);
    lookup(sys, fd, le64(1), v8);
    assert.equal(rd64(v8), 100n);
    // a Uint8Array view into a larger buffer is fine
    const big = new Uint8Array(32);
    big.set(le64(1), 8);
    const out = new Uint8Array(24);
    assert.equal(lookup(sys, fd, big.subarray(8, 16), out.subarray(16)), 0);
    assert.equal(rd64(out.subarray(16)), 100n);
  });

  test(
    'LOOKUP and GET_NEXT_KEY copy out after the map operation: a missing key with a short output buffer is ENOENT',
    () => {
      const sys = new BpfSystem();
      const fd = create(sys, HASH, 8, 8, 4);
      expectErr(() => sys.bpf(1, { map_fd: fd, key: le64(1), value: new Uint8Array(4) }), 'ENOENT', LOOKUP);
      expectErr(() => sys.bpf(4, { map_fd: fd, key: le64(1), next_key: new Uint8Array(4) }), 'ENOENT', NEXT);
    },
  );

  test('the order of checks: CHECK_ATTR, then the fd, then the buffers, then the map', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    expectErr(() => sys.bpf(1, { map_fd: 100, flags: 1 }), 'EINVAL', LOOKUP);
    expectErr(() => sys.bpf(1, { map_fd: 100 }), 'EBADF', LOOKUP);
    expectErr(() => sys.bpf(2, { map_fd: 100, flags: 3 }), 'EBADF', UPDATE);
    expectErr(() => sys.bpf(2, { map_fd: fd, key: new Uint8Array(1), value: le64(1), flags: 3 }), 'EFAULT', UPDATE);
    expectErr(() => sys.bpf(2, { map_fd: fd, key: le64(1), value: new Uint8Array(1), flags: 3 }), 'EFAULT', UPDATE);
    expectErr(() => sys.bpf(2, { map_fd: fd, key: le64(1), value: le64(1), flags: 3 }), 'EINVAL', UPDATE);
    expectErr(() => sys.bpf(3, { map_fd: 1, key: null }), 'EINVAL', DELETE);
    expectErr(() => sys.bpf(0, { map_type: 0, key_size: 0, value_size: 0, max_entries: 0, map_fd: 1 }), 'EINVAL', CREATE);
  });

  test('unknown commands are EINVAL; a non-object attr is EFAULT', () => {
    const sys = new BpfSystem();
    expectErr(() => sys.bpf(6, {}), 'EINVAL', '6');
    expectErr(() => sys.bpf(-1, {}), 'EINVAL', '-1');
    expectErr(() => sys.bpf(1.5, {}), 'EINVAL', '1.5');
    expectErr(() => sys.bpf(0xffffffff, {}), 'EINVAL', '4294967295');
    expectErr(() => sys.bpf('BPF_PROG_ATTACH' as keyof typeof BPF_CMD, {}), 'EINVAL', 'BPF_PROG_ATTACH');
    expectErr(() => sys.bpf(0, null as unknown as object), 'EFAULT', CREATE);
    expectErr(() => sys.bpf(1, 5 as unknown as object), 'EFAULT', LOOKUP);
  });

  test('fds: not open EBADF, 0..2 EINVAL, a program fd as a map fd EINVAL, close twice EBADF', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    assert.equal(fd, 3);
    const v = new Uint8Array(8);
    for (const bad of [4, 100, -1, 1.5, 2 ** 32, '3', null]) {
      expectErr(() => sys.bpf(1, { map_fd: bad, key: le64(1), value: v }), 'EBADF', LOOKUP);
    }
    for (const cmd of [1, 2, 3, 4]) {
      for (const stdio of [0, 1, 2]) {
        expectErr(() => sys.bpf(cmd, { map_fd: stdio, key: le64(1), value: cmd <= 2 ? v : undefined, next_key: cmd === 4 ? v : undefined }), 'EINVAL', CMD_NAME[cmd]);
      }
    }
    const prog = Program.load(sys, { insns: 'r0 = 0\nexit' });
    assert.equal(prog.fd, 4);
    expectErr(() => lookup(sys, prog.fd, le64(1), v), 'EINVAL', LOOKUP);
    expectErr(() => update(sys, prog.fd, le64(1), v, BPF_ANY), 'EINVAL', UPDATE);
    expectErr(() => del(sys, prog.fd, le64(1)), 'EINVAL', DELETE);
    expectErr(() => nextKey(sys, prog.fd, null, v), 'EINVAL', NEXT);
    // a program referencing a program fd as a map
    expectErr(() => Program.load(sys, { insns: `r1 = map[fd:${prog.fd}]\nr0 = 0\nexit` }), 'EINVAL', PROG_LOAD);
    expectErr(() => Program.load(sys, { insns: 'r1 = map[fd:99]\nr0 = 0\nexit' }), 'EBADF', PROG_LOAD);
    expectErr(() => Program.load(sys, { insns: 'r1 = map[fd:0]\nr0 = 0\nexit' }), 'EINVAL', PROG_LOAD);
    // and a map fd is not a program
    expectErr(() => testRun(sys, fd), 'EINVAL', null);
    expectErr(() => testRun(sys, 2), 'EINVAL', null);
    expectErr(() => testRun(sys, 50), 'EBADF', null);
    // fds are reused lowest first
    sys.close(fd);
    expectErr(() => lookup(sys, fd, le64(1), v), 'EBADF', LOOKUP);
    expectErr(() => sys.close(fd), 'EBADF', 'close');
    expectErr(() => sys.close(99), 'EBADF', 'close');
    assert.equal(create(sys, ARRAY, 4, 8, 1), 3);
    prog.close();
    expectErr(() => sys.close(4), 'EBADF', 'close');
    assert.deepEqual(sys.fds().map((f) => [f.fd, f.kind]), [[3, 'map']]);
  });
});

// ---------------------------------------------------------------- 5. reference counting

/** A system whose staging memory has already reached 16 bytes, and its allocated bytes. */
function warmSystem(): { sys: BpfSystem; base: number } {
  const sys = new BpfSystem();
  const fd = create(sys, HASH, 8, 8, 1);
  update(sys, fd, le64(1), le64(1), BPF_ANY);
  nextKey(sys, fd, null, new Uint8Array(8));
  sys.close(fd);
  return { sys, base: sys.runtime.mem.allocatedBytes };
}

/** key 0: if absent insert 1 and return 1000, else increment the value in place and return it. */
function counterProgram(fd: number): string {
  return `
    *(u64 *)(r10 -8) = 0
    r2 = r10
    r2 += -8
    r1 = map[fd:${fd}]
    call 1
    if r0 == 0x0 goto insert
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r0 = r1
    exit
  insert:
    *(u64 *)(r10 -16) = 1
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -8
    r3 = r10
    r3 += -16
    r4 = 0
    call 2
    r0 = 1000
    exit`;
}

describe('reference counting', () => {
  test('a map whose fd is closed lives on in the program that uses it, until the program is closed', () => {
    const { sys, base } = warmSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    const addr = sys.mapOf(fd).impl.addr;
    const prog = Program.load(sys, { insns: counterProgram(fd) });
    assert.equal(sys.mapOf(fd).refcnt, 2);
    sys.close(fd);
    assert.deepEqual(sys.fds().map((f) => f.kind), ['prog']);
    assert.ok(sys.mapByAddr(addr) !== undefined, 'the map is still alive');
    assert.equal(prog.run(), 1000n);
    assert.equal(prog.run(), 2n);
    assert.equal(prog.run(), 3n);
    assert.ok(sys.runtime.mem.allocatedBytes > base);
    prog.close();
    assert.equal(sys.mapByAddr(addr), undefined);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
    assert.deepEqual(sys.fds(), []);
  });

  test("the program's updates land in the map and are read through a dup'ed fd", () => {
    const { sys, base } = warmSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    const fd2 = sys.dup(fd);
    assert.notEqual(fd2, fd);
    const prog = Program.load(sys, { insns: counterProgram(fd) });
    sys.close(fd);
    assert.equal(prog.run(), 1000n);
    const v = new Uint8Array(8);
    assert.equal(lookup(sys, fd2, le64(0), v), 0);
    assert.equal(rd64(v), 1n);
    assert.equal(prog.run(), 2n);
    assert.equal(prog.run(), 3n);
    lookup(sys, fd2, le64(0), v);
    assert.equal(rd64(v), 3n);
    // and an API update is what the program sees next
    update(sys, fd2, le64(0), le64(41), BPF_EXIST);
    assert.equal(prog.run(), 42n);
    // closing the program first, then the last fd
    prog.close();
    lookup(sys, fd2, le64(0), v);
    assert.equal(rd64(v), 42n);
    assert.ok(sys.runtime.mem.allocatedBytes > base);
    sys.close(fd2);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
    assert.deepEqual(sys.fds(), []);
  });

  test('two programs share a map; it is freed with the last holder; a program referencing it twice holds it once', () => {
    const { sys, base } = warmSystem();
    const fd = create(sys, ARRAY, 4, 8, 2);
    const addr = sys.mapOf(fd).impl.addr;
    const twice = `r1 = map[fd:${fd}]\nr1 = map[fd:${fd}]\nr0 = 7\nexit`;
    const p1 = Program.load(sys, { insns: twice });
    assert.equal(sys.mapOf(fd).refcnt, 2);
    const p2 = Program.load(sys, { insns: twice });
    assert.equal(sys.mapOf(fd).refcnt, 3);
    sys.close(fd);
    p1.close();
    assert.ok(sys.mapByAddr(addr) !== undefined);
    assert.equal(p2.run(), 7n);
    p2.close();
    assert.equal(sys.mapByAddr(addr), undefined);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
  });

  test('a program load that fails releases the maps it had taken', () => {
    const { sys, base } = warmSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    // ld_imm64 of the map, then an invalid opcode 0xff
    const raw = new Uint8Array(32);
    raw.set([0x18, 0x11, 0, 0, fd, 0, 0, 0], 0);
    raw.set([0xff, 0, 0, 0, 0, 0, 0, 0], 16);
    raw.set([0x95, 0, 0, 0, 0, 0, 0, 0], 24);
    expectErr(() => sys.bpf(5, { prog_type: 1, insns: raw, license: 'GPL' }), 'EINVAL', PROG_LOAD);
    assert.equal(sys.mapOf(fd).refcnt, 1);
    // more than 64 maps: E2BIG, and every reference taken is released
    const fds = Array.from({ length: 65 }, () => create(sys, ARRAY, 4, 8, 1));
    const text = fds.map((f) => `r1 = map[fd:${f}]`).join('\n') + '\nr0 = 0\nexit';
    expectErr(() => Program.load(sys, { insns: text }), 'E2BIG', PROG_LOAD);
    for (const f of fds) assert.equal(sys.mapOf(f).refcnt, 1);
    // 64 maps are fine
    const p = Program.load(sys, { insns: fds.slice(0, 64).map((f) => `r1 = map[fd:${f}]`).join('\n') + '\nr0 = 5\nexit' });
    assert.equal(p.run(), 5n);
    assert.equal(sys.mapOf(fds[0]!).refcnt, 2);
    assert.equal(sys.mapOf(fds[64]!).refcnt, 1);
    p.close();
    for (const f of fds) sys.close(f);
    sys.close(fd);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
    assert.deepEqual(sys.fds(), []);
  });
});

// ---------------------------------------------------------------- 6. helpers

/** A program calling bpf_map_update_elem(map, &key, &value, flags) with u64 key and value; returns r0. */
function updateProgram(fd: number, key: number, value: number, flags: number): string {
  return `
    *(u64 *)(r10 -8) = ${key}
    *(u64 *)(r10 -16) = ${value}
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -8
    r3 = r10
    r3 += -16
    r4 = ${flags}
    call 2
    exit`;
}
function deleteProgram(fd: number, key: number): string {
  return `
    *(u64 *)(r10 -8) = ${key}
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -8
    call 3
    exit`;
}
/** bpf_map_lookup_elem of a u64 (or, with keySize 4, a u32) key; returns the pointer. */
function lookupProgram(fd: number, key: number, keySize: 4 | 8 = 8): string {
  return `
    *(u${keySize * 8} *)(r10 -8) = ${key}
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -8
    call 1
    exit`;
}

const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));

describe('map helpers called from programs', () => {
  test('lookup returns a pointer to the value: a write through it is seen by the API', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(7), le64(1), BPF_ANY);
    const prog = Program.load(sys, {
      insns: `
        *(u64 *)(r10 -8) = 7
        r2 = r10
        r2 += -8
        r1 = map[fd:${fd}]
        call 1
        if r0 == 0x0 goto miss
        r1 = *(u64 *)(r0 +0)
        r1 += 43000
        *(u64 *)(r0 +0) = r1
        r0 = 1
        exit
      miss:
        r0 = 0
        exit`,
    });
    assert.equal(prog.run(), 1n);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(7), v);
    assert.equal(rd64(v), 43001n);
    // the pointer is the value inside the map's storage
    const ptr = Program.load(sys, { insns: lookupProgram(fd, 7) }).run();
    assert.ok(ptr !== 0n);
    assert.equal(rd64(sys.runtime.mem.read(Number(ptr), 8)), 43001n);
    del(sys, fd, le64(7));
    assert.equal(prog.run(), 0n);
  });

  test('lookup of a missing key returns 0; on an array map, a pointer for every index in range', () => {
    const sys = new BpfSystem();
    const h = create(sys, HASH, 8, 8, 4);
    assert.equal(Program.load(sys, { insns: lookupProgram(h, 3) }).run(), 0n);
    const a = create(sys, ARRAY, 4, 8, 4);
    const p0 = Program.load(sys, { insns: lookupProgram(a, 0, 4) }).run();
    const p3 = Program.load(sys, { insns: lookupProgram(a, 3, 4) }).run();
    assert.ok(p0 !== 0n);
    assert.equal(p3 - p0, 24n, 'elements are round_up(value_size, 8) apart');
    assert.equal(Program.load(sys, { insns: lookupProgram(a, 4, 4) }).run(), 0n);
    // write through the array pointer
    const w = Program.load(sys, {
      insns: `
        *(u32 *)(r10 -4) = 2
        r2 = r10
        r2 += -4
        r1 = map[fd:${a}]
        call 1
        if r0 == 0x0 goto out
        *(u64 *)(r0 +0) = -9
      out:
        exit`,
    });
    w.run();
    const v = new Uint8Array(8);
    lookup(sys, a, le32(2), v);
    assert.equal(rd64(v), -9n);
  });

  test('update returns 0, then -EEXIST with BPF_NOEXIST, -ENOENT with BPF_EXIST, -EINVAL for flags 3, -E2BIG when full', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 2);
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 1, 11, BPF_NOEXIST) }).run(), 0n);
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 1, 12, BPF_NOEXIST) }).run(), 0xffffffffffffffefn);
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 2, 22, BPF_EXIST) }).run(), neg(ERRNO.ENOENT));
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 1, 13, 3) }).run(), 0xffffffffffffffean);
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 1, 13, -1) }).run(), neg(ERRNO.EINVAL));
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 2, 22, BPF_ANY) }).run(), 0n);
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 3, 33, BPF_EXIST) }).run(), neg(ERRNO.E2BIG));
    assert.equal(Program.load(sys, { insns: updateProgram(fd, 1, 14, BPF_EXIST) }).run(), 0n);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(1), v);
    assert.equal(rd64(v), 14n);
    lookup(sys, fd, le64(2), v);
    assert.equal(rd64(v), 22n);
    // on an array map: E2BIG out of range, EEXIST with BPF_NOEXIST
    const a = create(sys, ARRAY, 4, 8, 2);
    const arrUpdate = (idx: number, flags: number): bigint =>
      Program.load(sys, {
        insns: `
          *(u32 *)(r10 -4) = ${idx}
          *(u64 *)(r10 -16) = 77
          r1 = map[fd:${a}]
          r2 = r10
          r2 += -4
          r3 = r10
          r3 += -16
          r4 = ${flags}
          call 2
          exit`,
      }).run();
    assert.equal(arrUpdate(1, BPF_ANY), 0n);
    assert.equal(arrUpdate(2, BPF_ANY), neg(ERRNO.E2BIG));
    assert.equal(arrUpdate(0, BPF_NOEXIST), neg(ERRNO.EEXIST));
    assert.equal(arrUpdate(0, 3), neg(ERRNO.EINVAL));
    lookup(sys, a, le32(1), v);
    assert.equal(rd64(v), 77n);
  });

  test('delete returns 0, then -ENOENT (as a u64) for a missing key; -EINVAL on an array map', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(5), le64(50), BPF_ANY);
    const prog = Program.load(sys, { insns: deleteProgram(fd, 5) });
    assert.equal(prog.run(), 0n);
    expectErr(() => lookup(sys, fd, le64(5), new Uint8Array(8)), 'ENOENT', LOOKUP);
    assert.equal(prog.run(), 0xfffffffffffffffen);
    const a = create(sys, ARRAY, 4, 8, 4);
    assert.equal(
      Program.load(sys, { insns: `*(u32 *)(r10 -4) = 0\nr1 = map[fd:${a}]\nr2 = r10\nr2 += -4\ncall 3\nexit` }).run(),
      neg(ERRNO.EINVAL),
    );
  });

  test('replace while holding: the old pointer reads the old value until exit, the API then sees the new one', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(1), le64(100), BPF_ANY);
    update(sys, fd, le64(2), le64(5), BPF_ANY);
    const prog = Program.load(sys, {
      insns: `
        *(u64 *)(r10 -8) = 1
        r2 = r10
        r2 += -8
        r1 = map[fd:${fd}]
        call 1
        if r0 == 0x0 goto fail
        r6 = r0
        *(u64 *)(r10 -16) = 200
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        if r0 != 0x0 goto fail
        r7 = *(u64 *)(r6 +0)
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        call 1
        if r0 == 0x0 goto fail
        if r0 == r6 goto fail
        r8 = *(u64 *)(r0 +0)
        *(u64 *)(r6 +0) = 999
        r9 = *(u64 *)(r6 +0)
        r0 = r7
        r0 *= 1000
        r0 += r8
        r0 *= 1000
        r0 += r9
        exit
      fail:
        r0 = -1
        exit`,
    });
    // old 100, new 200, and a write through the old pointer lands in the old element (999)
    assert.equal(prog.run(), 100_200_999n);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(1), v);
    assert.equal(rd64(v), 200n);
    // the replacement went to the head of the bucket like any update; the map holds exactly 2 keys
    assert.deepEqual(iterKeys64(sys, fd).sort(), [1n, 2n]);
    lookup(sys, fd, le64(2), v);
    assert.equal(rd64(v), 5n);
    // the next run sees 200 as the old value
    update(sys, fd, le64(1), le64(300), BPF_ANY);
    assert.equal(prog.run(), 300_200_999n);
  });

  test(`${SPARE + 8} replace-while-holding updates in one run on a 1-entry map: ENOMEM only after the ${SPARE} spares`, () => {
    assert.equal(SPARE, 32);
    const { sys, base } = warmSystem();
    const fd = create(sys, HASH, 8, 8, 1);
    update(sys, fd, le64(1), le64(1000), BPF_ANY);
    // r7 successes, r8 iteration, r9 ctx: ctx[0] = first error, ctx[8] = 1 + index of the first failure
    const prog = Program.load(sys, { verify: false,
      type: 'unspec',
      insns: `
        r9 = r1
        r7 = 0
        r8 = 0
        *(u64 *)(r10 -8) = 1
      loop:
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        call 1
        if r0 == 0x0 goto bad
        r6 = r0
        *(u64 *)(r10 -16) = r8
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        if r0 == 0x0 goto ok
        r1 = *(u64 *)(r9 +8)
        if r1 != 0x0 goto next
        r1 = r8
        r1 += 1
        *(u64 *)(r9 +8) = r1
        *(u64 *)(r9 +0) = r0
        goto next
      ok:
        r7 += 1
      next:
        r8 += 1
        if r8 != ${SPARE + 8} goto loop
        r0 = r7
        exit
      bad:
        r0 = -1
        exit`,
    });
    const check = (): void => {
      const res = prog.testRun(new Uint8Array(16));
      assert.equal(res.retval, BigInt(SPARE), 'exactly the spares succeed');
      assert.equal(rdU64(res.dataOut.subarray(0, 8)), neg(ERRNO.ENOMEM));
      assert.equal(rdU64(res.dataOut.subarray(8, 16)), BigInt(SPARE + 1), `the first failure is update #${SPARE}`);
      const v = new Uint8Array(8);
      lookup(sys, fd, le64(1), v);
      assert.equal(rd64(v), BigInt(SPARE - 1), 'the last successful update wins');
    };
    check();
    // after the run the map is fully usable again
    assert.equal(update(sys, fd, le64(1), le64(5), BPF_EXIST), 0);
    expectErr(() => update(sys, fd, le64(2), le64(5), BPF_NOEXIST), 'E2BIG', UPDATE);
    assert.equal(del(sys, fd, le64(1)), 0);
    assert.equal(update(sys, fd, le64(2), le64(6), BPF_NOEXIST), 0);
    assert.deepEqual(iterKeys64(sys, fd), [2n]);
    assert.equal(del(sys, fd, le64(2)), 0);
    assert.equal(update(sys, fd, le64(1), le64(1000), BPF_NOEXIST), 0);
    // the spares were recycled: the same run again behaves the same
    check();
    check();
    prog.close();
    sys.close(fd);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
  });

  test('an update that replaces an element nobody holds does not use spares', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 1);
    update(sys, fd, le64(1), le64(0), BPF_ANY);
    // 100 updates without a lookup in between, in one run
    const prog = Program.load(sys, { verify: false,
      insns: `
        r6 = 0
        *(u64 *)(r10 -8) = 1
      loop:
        *(u64 *)(r10 -16) = r6
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 2
        call 2
        if r0 != 0x0 goto out
        r6 += 1
        if r6 != 100 goto loop
      out:
        exit`,
    });
    assert.equal(prog.run(), 0n);
    const v = new Uint8Array(8);
    lookup(sys, fd, le64(1), v);
    assert.equal(rd64(v), 99n);
  });
});

// ---------------------------------------------------------------- 7. checked mode

// These programs are loaded without the verifier (verify: false): the checked
// interpreter is what is under test, so they do what the verifier would refuse.
describe('checked mode and map values', () => {
  /** lookup of u32 key 0 in `fd`, then `body` with the value pointer in r0 (null → return 12345) */
  function withValue(fd: number, body: string): string {
    return `
      *(u32 *)(r10 -4) = 0
      r2 = r10
      r2 += -4
      r1 = map[fd:${fd}]
      call 1
      if r0 == 0x0 goto none
      ${body}
      exit
    none:
      r0 = 12345
      exit`;
  }

  for (const type of [HASH, ARRAY] as const) {
    const kind = type === HASH ? 'hash' : 'array';
    test(`${kind} map: accesses exactly within the value work; one byte past it faults with EFAULT`, () => {
      const sys = new BpfSystem();
      const fd = create(sys, type, 4, 4, 2);
      update(sys, fd, le32(0), le32(0x01020304), BPF_ANY);
      const run = (body: string): bigint => Program.load(sys, { verify: false, insns: withValue(fd, body) }).run();
      assert.equal(run('r0 = *(u32 *)(r0 +0)'), 0x01020304n);
      assert.equal(run('r0 = *(u8 *)(r0 +3)'), 1n);
      assert.equal(run('r0 = *(u16 *)(r0 +2)'), 0x0102n);
      assert.equal(run('*(u32 *)(r0 +0) = -1\nr0 = *(u32 *)(r0 +0)'), 0xffffffffn);
      assert.equal(run('*(u8 *)(r0 +3) = 7\nr0 = *(u32 *)(r0 +0)'), 0x07ffffffn);
      const v = new Uint8Array(4);
      lookup(sys, fd, le32(0), v);
      assert.equal(rd32(v), 0x07ffffff);
      for (const body of [
        '*(u64 *)(r0 +0) = 1',
        'r0 = *(u64 *)(r0 +0)',
        '*(u8 *)(r0 +4) = 1',
        'r0 = *(u8 *)(r0 +4)',
        '*(u32 *)(r0 +1) = 1',
        'r0 = *(u16 *)(r0 +3)',
      ]) {
        const e = expectErr(() => run(body), 'EFAULT', null);
        assert.match(e.message, /^pc 7: invalid (read|write) of \d bytes? at 0x[0-9a-f]+: /);
      }
      if (type === HASH) {
        // the key in front of the value is not part of it
        expectErr(() => run('r0 = *(u8 *)(r0 -1)'), 'EFAULT', null);
        expectErr(() => run('r0 = *(u32 *)(r0 -8)'), 'EFAULT', null);
      }
      // the value is intact after the faults
      lookup(sys, fd, le32(0), v);
      assert.equal(rd32(v), 0x07ffffff);
    });
  }

  test("a freed element's value is caught through a stale pointer in a later run (EFAULT)", () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    const addr = sys.mapOf(fd).impl.addr;
    update(sys, fd, le64(1), le64(0x55), BPF_ANY);
    const lookupProg = Program.load(sys, { verify: false, insns: lookupProgram(fd, 1) });
    const ptr = lookupProg.run();
    assert.ok(ptr >= 0x10000n && ptr < 1n << 32n, `a pointer, got ${ptr}`);
    const at = `0x${ptr.toString(16)}`;
    // an unverified program reaches the values of the maps it references only (issue 13, finding 4):
    // this one references the map (r2 = map[fd]), the other does not
    const deref = Program.load(sys, { verify: false, insns: `r2 = map[fd:${fd}]\nlddw %r1, ${at}\nldxdw %r0, [%r1+0]\nexit` });
    const foreign = Program.load(sys, { verify: false, insns: `lddw %r1, ${at}\nldxdw %r0, [%r1+0]\nexit` });
    const notInReach = (pc: number, op: string): string => `pc ${pc}: invalid ${op} of 8 bytes at ${at}: outside any region the program may access`;
    // while the element lives, the pointer is good in any run of a program referencing the map
    assert.equal(deref.run(), 0x55n);
    assert.equal(expectErr(() => foreign.run(), 'EFAULT', null).message, notInReach(2, 'read'));
    assert.equal(del(sys, fd, le64(1)), 0);
    assert.equal(expectErr(() => deref.run(), 'EFAULT', null).message, notInReach(4, 'read'));
    const w = Program.load(sys, { verify: false, insns: `r2 = map[fd:${fd}]\nr1 = ${at}\n*(u64 *)(r1 +0) = 1\nexit` });
    assert.equal(expectErr(() => w.run(), 'EFAULT', null).message, notInReach(4, 'write'));
    // the map is unaffected
    expectErr(() => nextKey(sys, fd, null, new Uint8Array(8)), 'ENOENT', NEXT);
    update(sys, fd, le64(1), le64(0x66), BPF_ANY);
    assert.equal(deref.run(), 0x66n, 'the freed element was reused for the new key');
    // once the map is freed (its last holder gone), its storage is out of reach as well
    for (const p of [lookupProg, deref, w]) p.close();
    sys.close(fd);
    assert.equal(sys.mapByAddr(addr), undefined);
    assert.equal(expectErr(() => foreign.run(), 'EFAULT', null).message, notInReach(2, 'read'));
  });

  test('an element deleted during a run stays readable until that run exits', () => {
    const sys = new BpfSystem();
    const fd = create(sys, HASH, 8, 8, 4);
    update(sys, fd, le64(1), le64(77), BPF_ANY);
    const prog = Program.load(sys, {
      insns: `
        *(u64 *)(r10 -8) = 1
        r2 = r10
        r2 += -8
        r1 = map[fd:${fd}]
        call 1
        if r0 == 0x0 goto out
        r6 = r0
        r1 = map[fd:${fd}]
        r2 = r10
        r2 += -8
        call 3
        r0 = *(u64 *)(r6 +0)
      out:
        exit`,
    });
    assert.equal(prog.run(), 77n);
    expectErr(() => lookup(sys, fd, le64(1), new Uint8Array(8)), 'ENOENT', LOOKUP);
    assert.equal(prog.run(), 0n);
  });
});

// ---------------------------------------------------------------- 8. BpfMap

describe('BpfMap', () => {
  test('codecs round trip: u32, u64, i64', () => {
    assert.deepEqual([...u32.encode(0x01020304)], [4, 3, 2, 1]);
    assert.equal(u32.decode(u32.encode(0xffffffff)), 0xffffffff);
    assert.equal(u32.decode(u32.encode(-1)), 0xffffffff);
    assert.equal(u64.decode(u64.encode(0xffffffffffffffffn)), 0xffffffffffffffffn);
    assert.equal(u64.decode(u64.encode(-1n)), 0xffffffffffffffffn);
    assert.deepEqual([...u64.encode(0x0102030405060708n)], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.equal(i64.decode(i64.encode(-2n)), -2n);
    assert.equal(i64.decode(i64.encode(-(1n << 63n))), -(1n << 63n));
    assert.equal(i64.decode(u64.encode(0xffffffffffffffffn)), -1n);
    assert.equal(u32.size, 4);
    assert.equal(u64.size, 8);
    assert.equal(i64.size, 8);

    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8 * 1, maxEntries: 8 }, { key: u32, value: i64 });
    m.update(0xfffffffe, -5n);
    m.update(7, (1n << 63n) - 1n);
    assert.equal(m.lookup(0xfffffffe), -5n);
    assert.equal(m.lookup(7), (1n << 63n) - 1n);
    // the bytes through the low-level API
    const v = new Uint8Array(8);
    lookup(sys, m.fd, le32(0xfffffffe), v);
    assert.deepEqual([...v], [0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const m64 = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 2 }, { key: u32, value: u64 });
    m64.update(1, 0xfedcba9876543210n);
    assert.equal(m64.lookup(1), 0xfedcba9876543210n);
    assert.equal(m64.lookup(0), 0n);
  });

  test("update flags 'any' | 'noexist' | 'exist'; an unknown flag is EINVAL", () => {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 8, valueSize: 8, maxEntries: 2 }, { key: u64, value: u64 });
    m.update(1n, 10n);
    expectErr(() => m.update(1n, 11n, 'noexist'), 'EEXIST', UPDATE);
    expectErr(() => m.update(2n, 20n, 'exist'), 'ENOENT', UPDATE);
    m.update(2n, 20n, 'noexist');
    m.update(2n, 21n, 'exist');
    m.update(1n, 12n, 'any');
    expectErr(() => m.update(3n, 30n, 'exist'), 'E2BIG', UPDATE);
    for (const bad of ['ANY', 'lock', '', 'toString', '__proto__', 'constructor']) {
      expectErr(() => m.update(1n, 99n, bad as 'any'), 'EINVAL', null);
    }
    assert.equal(m.lookup(1n), 12n);
    assert.equal(m.lookup(2n), 21n);
  });

  test('lookup → undefined and delete → false for a missing key; delete on an array map throws EINVAL', () => {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 }, { key: u32, value: u32 });
    assert.equal(m.lookup(1), undefined);
    assert.equal(m.delete(1), false);
    m.update(1, 5);
    assert.equal(m.lookup(1), 5);
    assert.equal(m.delete(1), true);
    assert.equal(m.delete(1), false);
    assert.equal(m.lookup(1), undefined);
    const a = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 4 }, { key: u32, value: u32 });
    assert.equal(a.lookup(3), 0);
    assert.equal(a.lookup(4), undefined);
    expectErr(() => a.delete(0), 'EINVAL', DELETE);
  });

  test('nextKey(), keys() and entries() follow the map order', () => {
    const sys = new BpfSystem();
    // the strict test_maps case: 1 then 2 into a 2-entry map of u64 keys iterates 2, 1
    const m = BpfMap.create(sys, { type: 'hash', keySize: 8, valueSize: 8, maxEntries: 2 }, { key: u64, value: u64 });
    assert.equal(m.nextKey(), undefined);
    assert.deepEqual([...m.keys()], []);
    m.update(1n, 100n);
    m.update(2n, 200n);
    assert.equal(m.nextKey(), 2n);
    assert.equal(m.nextKey(0n), 2n);
    assert.equal(m.nextKey(2n), 1n);
    assert.equal(m.nextKey(1n), undefined);
    assert.deepEqual([...m.keys()], [2n, 1n]);
    assert.deepEqual([...m.entries()], [[2n, 200n], [1n, 100n]]);
    assert.deepEqual([...m], [[2n, 200n], [1n, 100n]]);
    // jhash order over 8 buckets of u32 keys 0..7 (computed with the kernel jhash.h)
    const h = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 }, { key: u32, value: u32 });
    for (let k = 0; k < 8; k++) h.update(k, k + 100);
    assert.deepEqual([...h.keys()], [0, 4, 7, 2, 1, 6, 5, 3]);
    assert.deepEqual(
      [...h.entries()],
      [0, 4, 7, 2, 1, 6, 5, 3].map((k) => [k, k + 100]),
    );
    // array: index order
    const a = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 3 }, { key: u32, value: u32 });
    a.update(1, 9);
    assert.deepEqual([...a.entries()], [[0, 0], [1, 9], [2, 0]]);
    assert.equal(a.nextKey(), 0);
    assert.equal(a.nextKey(2), undefined);
    assert.equal(a.nextKey(77), 0);
  });

  test('a key or value of the wrong size is EINVAL', () => {
    const sys = new BpfSystem();
    const raw = BpfMap.create(sys, { type: 'hash', keySize: 8, valueSize: 8, maxEntries: 2 });
    expectErr(() => raw.lookup(new Uint8Array(4)), 'EINVAL', null);
    expectErr(() => raw.lookup(new Uint8Array(9)), 'EINVAL', null);
    expectErr(() => raw.update(new Uint8Array(4), new Uint8Array(8)), 'EINVAL', null);
    expectErr(() => raw.update(new Uint8Array(8), new Uint8Array(4)), 'EINVAL', null);
    expectErr(() => raw.delete(new Uint8Array(7)), 'EINVAL', null);
    expectErr(() => raw.nextKey(new Uint8Array(7)), 'EINVAL', null);
    const typed = BpfMap.create(sys, { type: 'hash', keySize: 8, valueSize: 8, maxEntries: 2 }, { key: u32, value: u64 });
    expectErr(() => typed.update(1, 1n), 'EINVAL', null);
    expectErr(() => typed.lookup(1), 'EINVAL', null);
    // nothing was inserted
    assert.deepEqual([...raw.keys()], []);
    raw.update(le64(3), le64(4));
    assert.deepEqual([...raw.entries()].map(([k, v]) => [rd64(k), rd64(v)]), [[3n, 4n]]);
  });

  test('use after close is EBADF; close is idempotent; the fd is gone', () => {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 }, { key: u32, value: u32 });
    m.update(1, 2);
    const fd = m.fd;
    m.close();
    m.close();
    expectErr(() => m.lookup(1), 'EBADF', null);
    expectErr(() => m.update(1, 3), 'EBADF', null);
    expectErr(() => m.delete(1), 'EBADF', null);
    expectErr(() => m.nextKey(), 'EBADF', null);
    expectErr(() => [...m.keys()], 'EBADF', null);
    expectErr(() => lookup(sys, fd, le32(1), new Uint8Array(4)), 'EBADF', LOOKUP);
    assert.deepEqual(sys.fds(), []);
    expectErr(() => new BpfMap(sys, fd), 'EBADF', null);
  });

  test('BpfMap.create validates like BPF_MAP_CREATE', () => {
    const sys = new BpfSystem();
    expectErr(() => BpfMap.create(sys, { type: 'array', keySize: 8, valueSize: 8, maxEntries: 2 }), 'EINVAL', CREATE);
    expectErr(() => BpfMap.create(sys, { type: 'hash', keySize: 513, valueSize: 8, maxEntries: 2 }), 'E2BIG', CREATE);
    expectErr(() => BpfMap.create(sys, { type: 'queue' as 'hash', keySize: 4, valueSize: 8, maxEntries: 2 }), 'EINVAL', null);
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 2, name: 'counts' });
    assert.equal(m.name, 'counts');
    assert.equal(sys.mapOf(m.fd).name, 'counts');
    assert.deepEqual([m.keySize, m.valueSize, m.maxEntries, m.type], [4, 8, 2, HASH]);
  });
});
