/**
 * The shortcuts of BpfMap's fast path and of the hash map's 4-byte keys
 * (issue 21, maps at JavaScript speed): a u32/i32 key staged as one word, 4
 * raw key bytes as one word, u64/i64 values as one 64-bit word, raw values
 * by words or bytes; the hash map hashing and comparing a 4-byte key as one
 * word (jhashWord, findWord), at any key address; lookupInto. Each is held
 * to what the general path (the codecs' encode and decode, bpf() with
 * bytes) gives for the same input, errors included, and to the views of the
 * memory being made again when it grows.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD } from '../src/api/bpf.js';
import { BpfMap, i32, i64, u32, u64 } from '../src/api/map.js';
import type { Codec } from '../src/api/map.js';
import { jhash, jhashWord } from '../src/maps/jhash.js';
import { le32, le64 } from './bytes.js';
import { expectErr } from './expect-error.js';

const modern = (): BpfSystem => new BpfSystem({ profile: 'modern' });

/** The value bpf() reads for `key` (bytes), or undefined. */
function bpfLookup(sys: BpfSystem, fd: number, key: Uint8Array, valueSize: number): Uint8Array | undefined {
  const value = new Uint8Array(valueSize);
  try {
    sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: fd, key, value });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
  return value;
}

/** A codec's encode/decode without encodeInto/decodeAt and of another identity: BpfMap takes its general path with it. */
function general<T>(c: Codec<T>): Codec<T> {
  return { size: c.size, encode: (v) => c.encode(v), decode: (b) => c.decode(b) };
}

describe('jhashWord', () => {
  test('equals jhash over the word\'s 4 little-endian bytes, for any int32 or uint32 form and initval', () => {
    const words = [0, 1, -1, 0x7fffffff, -0x80000000, 0x80000000, 0xffffffff, 0xdeadbeef, 0x12345678, 42];
    let x = 0x9e3779b9;
    for (let i = 0; i < 200; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      words.push(x, x | 0);
    }
    for (const w of words) {
      const b = le32(w >>> 0);
      for (const initval of [0, 1, 0xdeadbeef]) assert.equal(jhashWord(w, initval), jhash(b, 0, 4, initval), `word 0x${(w >>> 0).toString(16)} initval ${initval}`);
    }
    // the default initval is 0
    assert.equal(jhashWord(0x01020304), jhash(Uint8Array.from([4, 3, 2, 1]), 0, 4, 0));
  });
});

describe('the hash map\'s 4-byte keys', () => {
  test('a key at any address (unaligned too) finds, updates, deletes and walks from the same element', () => {
    const sys = modern();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 }, { key: u32, value: u64 });
    for (let k = 0; k < 40; k++) m.update(k * 0x01010101, BigInt(k));
    const impl = sys.mapOf(m.fd).impl;
    const mem = sys.runtime.mem;
    const buf = mem.alloc(64);
    const valueAt = buf + 48;
    mem.write(valueAt, le64(0xabcdefn));
    for (let off = 0; off < 4; off++) {
      const at = buf + 8 + off;
      for (const k of [0, 7, 39]) {
        mem.write(at, le32(k * 0x01010101));
        const v = impl.lookup(at);
        assert.notEqual(v, 0, `key ${k} at offset ${off}`);
        assert.deepEqual(mem.read(v, 8), le64(BigInt(k)));
      }
      mem.write(at, le32(0x55555555));
      assert.equal(impl.lookup(at), 0);
      // an update at this address replaces key 7's value, then the API sees it
      mem.write(at, le32(7 * 0x01010101));
      assert.equal(impl.update(at, valueAt, 0, 0), 0);
      assert.equal(m.lookup(7 * 0x01010101), 0xabcdefn);
      m.update(7 * 0x01010101, 7n);
      // get_next_key from an unaligned key: the same next key as from an aligned copy
      const next = mem.alloc(8);
      assert.equal(impl.getNextKey(at, next), 0);
      const fromAligned = mem.alloc(8);
      const aligned = mem.alloc(8);
      mem.write(aligned, le32(7 * 0x01010101));
      assert.equal(impl.getNextKey(aligned, fromAligned), 0);
      assert.deepEqual(mem.read(next, 4), mem.read(fromAligned, 4));
      for (const a of [next, fromAligned, aligned]) mem.release(a);
    }
    // delete through an unaligned address
    mem.write(buf + 9, le32(39 * 0x01010101));
    assert.equal(impl.delete(buf + 9), 0);
    assert.equal(m.lookup(39 * 0x01010101), undefined);
    assert.equal(impl.delete(buf + 9), -2);
    // every other key as written
    for (let k = 0; k < 39; k++) assert.equal(m.lookup(k * 0x01010101), BigInt(k));
    mem.release(buf);
  });

  test('colliding keys in one bucket: each found, moved to the head on update, in the kernel\'s order', () => {
    const sys = modern();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 }, { key: u32, value: u32 });
    // keys sharing bucket 0 of 4
    const same: number[] = [];
    for (let k = 0; same.length < 3; k++) if ((jhashWord(k) & 3) === 0) same.push(k);
    for (const k of same) m.update(k, k + 1);
    assert.deepEqual([...m.keys()], [...same].reverse());
    // updating the last of the chain moves it to the head, as the kernel's new element
    m.update(same[0]!, 100);
    assert.deepEqual([...m.keys()], [same[0], same[2], same[1]]);
    assert.deepEqual([...m.entries()], [[same[0], 100], [same[2], same[2]! + 1], [same[1], same[1]! + 1]]);
    assert.equal(m.delete(same[2]!), true);
    assert.deepEqual([...m.keys()], [same[0], same[1]]);
  });
});

describe('BpfMap\'s shortcuts give the general path\'s values and errors', () => {
  const keyInputs: unknown[] = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, -1, -0x80000000, 2 ** 32 + 5, -(2 ** 40) - 3, 2 ** 53 - 1, -0];
  const badKeys: unknown[] = [1.5, NaN, Infinity, -Infinity, '5', 5n, null, undefined, {}, new Uint8Array(4)];

  for (const [name, codec] of [['u32', u32], ['i32', i32]] as const) {
    test(`${name} keys: numbers beyond 32 bits, negative and -0 name the element their encoding does; the rest are refused alike`, () => {
      const sys = modern();
      const fast = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 }, { key: codec as Codec<number>, value: u64 });
      const slow = new BpfMap<number, bigint>(sys, fast.fd, general(codec as Codec<number>), general(u64));
      keyInputs.forEach((k, i) => {
        fast.update(k as number, BigInt(i));
        const b = (codec as Codec<number>).encode(k as number);
        assert.deepEqual(bpfLookup(sys, fast.fd, b, 8), le64(BigInt(i)), `key ${String(k)}`);
        assert.equal(slow.lookup(k as number), BigInt(i));
        assert.equal(fast.lookup(k as number), BigInt(i));
      });
      for (const k of badKeys) {
        let want: unknown;
        try {
          slow.lookup(k as number);
        } catch (e) {
          want = e;
        }
        assert.ok(want instanceof Error, `the general path refuses ${String(k)}`);
        const { code, message } = want as unknown as { code: 'EINVAL'; message: string };
        expectErr(() => fast.lookup(k as number), code, message);
        expectErr(() => fast.update(k as number, 1n), code, message);
        expectErr(() => fast.delete(k as number), code, message);
        expectErr(() => fast.lookupInto(k as number, new Uint8Array(8)), code, message);
      }
      assert.equal(fast.delete(-1), true);
      assert.equal(fast.lookup(0xffffffff), undefined);
    });
  }

  test('u64 and i64 values: bigints keep their low 64 bits, numbers go through the codec\'s checks', () => {
    const sys = modern();
    for (const [codec, back] of [[u64, (x: bigint) => BigInt.asUintN(64, x)], [i64, (x: bigint) => BigInt.asIntN(64, x)]] as const) {
      const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: codec as Codec<bigint> });
      const values = [0n, 1n, -1n, 2n ** 63n, 2n ** 64n + 3n, -(2n ** 64n) - 5n, 2n ** 200n + 9n, -(2n ** 63n)];
      values.forEach((v, i) => {
        m.update(i, v);
        assert.equal(m.lookup(i), back(v), `${String(v)}`);
        assert.deepEqual(bpfLookup(sys, m.fd, le32(i), 8), le64(BigInt.asUintN(64, v)));
      });
      m.update(0, 5 as unknown as bigint);
      assert.equal(m.lookup(0), 5n);
      expectErr(() => m.update(1, 2 ** 53 as unknown as bigint), 'EINVAL', '9007199254740992 is not an integer');
      expectErr(() => m.update(1, '1' as unknown as bigint), 'EINVAL', '\'1\' (a string) is not an integer');
      // a refused value changed nothing
      assert.equal(m.lookup(1), back(1n));
    }
  });

  test('raw keys and values: 4 bytes as one word; other sizes, lengths and types as before', () => {
    const sys = modern();
    for (const valueSize of [1, 3, 4, 5, 8, 12, 31, 32, 33, 40]) {
      const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize, maxEntries: 8 });
      const v = Uint8Array.from({ length: valueSize }, (_, i) => (i * 37 + valueSize) & 0xff);
      m.update(Uint8Array.from([1, 2, 3, 0x84]), v);
      assert.deepEqual(bpfLookup(sys, m.fd, Uint8Array.from([1, 2, 3, 0x84]), valueSize), v, `value size ${valueSize}`);
      const got = m.lookup(Uint8Array.from([1, 2, 3, 0x84]));
      assert.deepEqual(got, v);
      // a copy: changing it changes nothing in the map
      got![0]! ^= 0xff;
      assert.deepEqual(m.lookup(Uint8Array.from([1, 2, 3, 0x84])), v);
      // a Buffer is a Uint8Array
      assert.deepEqual(m.lookup(Buffer.from([1, 2, 3, 0x84])), v);
      // a subarray at an odd offset of a larger buffer
      const big = new Uint8Array(64);
      big.set(v, 7);
      m.update(Uint8Array.from([9, 9, 9, 9]), big.subarray(7, 7 + valueSize));
      assert.deepEqual(m.lookup(big.subarray(1, 5).fill(9)), v);
      expectErr(() => m.update(Uint8Array.from([1, 2, 3, 4]), new Uint8Array(valueSize + 1)), 'EINVAL', `value of ${valueSize + 1} bytes, the map's values have ${valueSize}`);
      expectErr(() => m.update(Uint8Array.from([1, 2, 3, 4]), [1] as unknown as Uint8Array), 'EINVAL', `value must be a Uint8Array of ${valueSize} bytes (this map has no value codec), got object`);
      expectErr(() => m.lookup(new Uint8Array(5)), 'EINVAL', 'key of 5 bytes, the map\'s keys have 4');
      expectErr(() => m.lookup(7 as unknown as Uint8Array), 'EINVAL', 'key must be a Uint8Array of 4 bytes (this map has no key codec), got number');
      expectErr(() => m.lookup(new Uint16Array(2) as unknown as Uint8Array), 'EINVAL', 'key must be a Uint8Array of 4 bytes (this map has no key codec), got object');
      assert.equal(m.lookup(Uint8Array.from([1, 2, 3, 4])), undefined);
    }
  });

  test('the views are made again when the memory grows between calls', () => {
    const sys = new BpfSystem({ profile: 'modern', initialBytes: 1 << 20 });
    const mem = sys.runtime.mem;
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64 });
    const r = m.raw;
    m.update(1, 11n);
    r.update(le32(2), le64(22n));
    const out = new Uint8Array(8);
    assert.equal(r.lookupInto(le32(1), out), true);
    const growth = mem.growth;
    // a map larger than the memory so far: it grows, and every earlier view is of the old buffer
    const big = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 4096, maxEntries: 1024 });
    assert.ok(mem.growth > growth, 'the memory grew');
    assert.equal(m.lookup(1), 11n);
    assert.deepEqual(r.lookup(le32(2)), le64(22n));
    m.update(3, 33n);
    r.update(le32(4), le64(44n));
    assert.equal(r.lookupInto(le32(3), out), true);
    assert.deepEqual(out, le64(33n));
    assert.deepEqual([...m.entries()].sort((a, b) => a[0] - b[0]), [[1, 11n], [2, 22n], [3, 33n], [4, 44n]]);
    big.close();
  });
});

describe('lookupInto', () => {
  test('copies exactly the value\'s bytes into out, or leaves out untouched and says false', () => {
    const sys = modern();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64 });
    m.update(5, 0x0102030405060708n);
    const out = new Uint8Array(12).fill(0xee);
    assert.equal(m.lookupInto(5, out), true);
    assert.deepEqual([...out], [8, 7, 6, 5, 4, 3, 2, 1, 0xee, 0xee, 0xee, 0xee]);
    out.fill(0xdd);
    assert.equal(m.lookupInto(6, out), false);
    assert.deepEqual([...out], new Array(12).fill(0xdd));
    // raw keys; a subarray at an odd offset is a Uint8Array too
    const big = new Uint8Array(20);
    assert.equal(m.raw.lookupInto(le32(5), big.subarray(3, 11)), true);
    assert.deepEqual([...big.subarray(3, 11)], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.deepEqual([...big.subarray(0, 3)], [0, 0, 0]);
    assert.deepEqual([...big.subarray(11)], new Array(9).fill(0));
  });

  test('arrays, odd and large values, and maps off the fast path (LRU, write-only from bpf())', () => {
    const sys = modern();
    const a = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 5, maxEntries: 4 });
    a.update(le32(2), Uint8Array.from([1, 2, 3, 4, 5]));
    const out5 = new Uint8Array(5);
    assert.equal(a.lookupInto(le32(2), out5), true);
    assert.deepEqual([...out5], [1, 2, 3, 4, 5]);
    assert.equal(a.lookupInto(le32(0), out5), true);
    assert.deepEqual([...out5], [0, 0, 0, 0, 0]);
    assert.equal(a.lookupInto(le32(4), out5), false);
    const h = BpfMap.create(sys, { type: 'hash', keySize: 8, valueSize: 40, maxEntries: 4 });
    const v40 = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
    h.update(le64(9n), v40);
    const out40 = new Uint8Array(40);
    assert.equal(h.lookupInto(le64(9n), out40), true);
    assert.deepEqual(out40, v40);
    const lru = BpfMap.create(sys, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 4 }, { key: u32, value: u64 });
    lru.update(1, 10n);
    const out8 = new Uint8Array(8);
    assert.equal(lru.lookupInto(1, out8), true);
    assert.deepEqual(out8, le64(10n));
    assert.equal(lru.lookupInto(2, out8), false);
    const w = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 2, flags: 16 }, { key: u32, value: u64 });
    w.update(1, 3n);
    expectErr(() => w.lookupInto(1, out8), 'EPERM', 'the map is write-only from bpf(2) (BPF_F_WRONLY)');
  });

  test('refuses a short or non-Uint8Array out, a per-CPU map and a closed map', () => {
    const sys = new BpfSystem({ profile: 'modern', cpus: 2 });
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64 });
    m.update(1, 1n);
    expectErr(() => m.lookupInto(1, new Uint8Array(7)), 'EINVAL', 'out must be a Uint8Array of at least 8 bytes (the map\'s value size), got 7 bytes');
    expectErr(() => m.lookupInto(1, new Uint16Array(8) as unknown as Uint8Array), 'EINVAL', 'out must be a Uint8Array of at least 8 bytes (the map\'s value size), got a Uint16Array');
    expectErr(() => m.lookupInto(1, undefined as unknown as Uint8Array), 'EINVAL', 'out must be a Uint8Array of at least 8 bytes (the map\'s value size), got undefined');
    const p = BpfMap.create(sys, { type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    expectErr(() => p.lookupInto(le32(1), new Uint8Array(16)), 'EINVAL', 'the map is a per-CPU map: use lookupPerCpu, which carries every CPU\'s value');
    m.close();
    expectErr(() => m.lookupInto(1, new Uint8Array(8)), 'EBADF', `map ${m.fd} is closed`);
  });
});
