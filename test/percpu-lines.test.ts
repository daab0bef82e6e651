/**
 * Per-CPU hash elements on cache lines of their own (issue 21 item 3): in a
 * shared memory, whose CPUs are worker threads on real cores, percpu_hash
 * and lru_percpu_hash put an element's key and each CPU's value on 64-byte
 * lines of their own, the elements 64-aligned, so workers counting in their
 * own values never write a line another worker reads. The addresses every
 * engine's lookup gives (helper, the JIT's inline lookup, the hardened JIT,
 * the checked interpreter's regions), the syscall format that does not
 * change (round_up(value_size, 8) per CPU, packed), and the unshared layout,
 * which stays packed byte for byte.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD, testRun } from '../src/api/bpf.js';
import { assemble } from '../src/isa/index.js';
import { HashMapBase } from '../src/maps/hash.js';
import { MAP_HDR_SIZE } from '../src/maps/map.js';
import { valueRegions } from '../src/jit/hardened.js';
import type { EngineName } from '../src/runtime/engine.js';

const PERCPU_HASH = 5;
const LRU_PERCPU_HASH = 10;
const KEY = new Uint8Array(16).fill(7);

/** Look the key (16 bytes of 7) up; if found, XADD 1 to the value's first u64 and 256 to its second; return the value's address (0 if absent). */
const counter = (fd: number): string => `
  r1 = 0x0707070707070707 ll
  *(u64 *)(r10 -16) = r1
  *(u64 *)(r10 -8) = r1
  r1 = map[fd:${fd}]
  r2 = r10
  r2 += -16
  call 1
  if r0 == 0x0 goto pc+4
  r1 = 1
  lock *(u64 *)(r0 +0) += r1
  r1 = 256
  lock *(u64 *)(r0 +8) += r1
  exit`;

/** A map of key 16, value 16, 8 entries, holding KEY with CPU c's value the bytes 16c+1 .. 16c+16 (set through bpf(2)). */
function setup(type: number, cpus: number, shared: boolean): { sys: BpfSystem; fd: number; impl: HashMapBase; initial: Uint8Array } {
  const sys = new BpfSystem({ profile: 'modern', cpus, shared, maxBytes: 32 << 20 });
  const fd = sys.bpf('BPF_MAP_CREATE', { map_type: type, key_size: 16, value_size: 16, max_entries: 8 });
  const impl = sys.mapOf(fd).impl;
  assert.ok(impl instanceof HashMapBase);
  const initial = Uint8Array.from({ length: 16 * cpus }, (_, i) => i + 1);
  assert.equal(sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: KEY, value: initial, flags: 0 }), 0);
  return { sys, fd, impl, initial };
}

/** The bpf(2) value of KEY: every CPU's 16 bytes, packed. */
function sysValue(sys: BpfSystem, fd: number, cpus: number): number[] {
  const value = new Uint8Array(16 * cpus);
  sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: KEY, value });
  return [...value];
}

/** `initial` after `runs[c]` runs of `counter` on CPU c (each adds 1 to the first u64 and 256 to the second, little-endian). */
function expected(initial: Uint8Array, runs: number[]): number[] {
  const out = new Uint8Array(initial);
  const v = new DataView(out.buffer);
  runs.forEach((n, c) => {
    v.setBigUint64(16 * c, v.getBigUint64(16 * c, true) + BigInt(n), true);
    v.setBigUint64(16 * c + 8, v.getBigUint64(16 * c + 8, true) + BigInt(n * 256), true);
  });
  return [...out];
}

/** The addresses CPU 0..cpus-1's runs of the counter get, by `engine` (or the checked interpreter: an unverified load); CPU c runs c + 1 times. */
function addresses(sys: BpfSystem, fd: number, cpus: number, engine: EngineName | 'checked'): number[] {
  const load = { prog_type: 1, insns: assemble(counter(fd)), license: 'GPL' };
  const pfd = engine === 'checked' ? sys.loadUnverified(load) : sys.bpf('BPF_PROG_LOAD', load);
  const out: number[] = [];
  for (let c = 0; c < cpus; c++) {
    sys.runtime.cpu = c;
    let addr = -1;
    for (let i = 0; i <= c; i++) {
      const r = testRun(sys, pfd, new Uint8Array(14), 1, engine === 'checked' ? undefined : engine);
      if (engine !== 'checked') assert.equal(r.engine, engine);
      if (addr !== -1) assert.equal(Number(r.retval), addr, 'the same address run after run');
      addr = Number(r.retval);
    }
    out.push(addr);
  }
  sys.runtime.cpu = 0;
  sys.close(pfd);
  return out;
}

const ENGINES = ['interpreter', 'jit', 'jit-hardened', 'checked'] as const;

describe('shared memory: per-CPU hash values on cache lines of their own', () => {
  for (const [type, name] of [[PERCPU_HASH, 'percpu_hash'], [LRU_PERCPU_HASH, 'lru_percpu_hash']] as const) {
    for (const cpus of [2, 3]) {
      test(`${name}, key 16 value 16, ${cpus} CPUs: the layout numbers, the storage aligned`, () => {
        const { impl } = setup(type, cpus, true);
        assert.deepEqual([impl.cacheLines, impl.keyRound, impl.valueRound, impl.valueOff, impl.cpuStride, impl.elemSize, impl.sysValueSize],
          [true, 16, 16, 64, 64, 64 + 64 * cpus, 16 * cpus]);
        assert.equal(impl.base % 64, 0);
        assert.equal(impl.region.start, impl.base);
        assert.equal(impl.region.end, impl.base + impl.cap * impl.elemSize);
        // the checked interpreter's region: one CPU's 16 bytes, not its line's padding, not the key's line
        const v0 = impl.base + 64;
        assert.deepEqual([impl.region.contains!(v0, v0 + 16), impl.region.contains!(v0, v0 + 17), impl.region.contains!(v0 + 16, v0 + 17),
          impl.region.contains!(v0 + 64, v0 + 80), impl.region.contains!(impl.base, impl.base + 8), impl.region.contains!(v0 + 64 * cpus, v0 + 64 * cpus + 8)],
        [true, false, false, true, false, false]);
      });

      for (const engine of ENGINES) {
        test(`${name}, ${cpus} CPUs, ${engine}: each CPU's value is 64-aligned, 64 bytes from the next, and counts exactly in the syscall format`, () => {
          const { sys, fd, impl, initial } = setup(type, cpus, true);
          const got = addresses(sys, fd, cpus, engine);
          // the element the syscall made is the first handed out; its values follow its key's line
          const elem = got[0]! - 64;
          assert.equal((elem - impl.base) % impl.elemSize, 0);
          assert.deepEqual(got.map((a) => a % 64), new Array(cpus).fill(0));
          assert.deepEqual(got.map((a) => a - elem), Array.from({ length: cpus }, (_, c) => 64 + 64 * c));
          // the helper's lookup from JavaScript gives the same addresses
          for (let c = 0; c < cpus; c++) {
            sys.runtime.cpu = c;
            const k = sys.runtime.mem.alloc(16);
            sys.runtime.mem.write(k, KEY);
            assert.equal(impl.lookup(k), got[c]);
          }
          sys.runtime.cpu = 0;
          const want = expected(initial, Array.from({ length: cpus }, (_, c) => c + 1));
          assert.deepEqual(sysValue(sys, fd, cpus), want);
          // the bytes in memory: each CPU's 16 on its own line, the rest of the line zero
          const u8 = sys.runtime.mem.u8;
          for (let c = 0; c < cpus; c++) {
            assert.deepEqual([...u8.subarray(got[c]!, got[c]! + 64)], [...want.slice(16 * c, 16 * c + 16), ...new Array(48).fill(0)]);
          }
          assert.deepEqual([...u8.subarray(elem, elem + 64)], [...KEY, ...new Array(48).fill(0)]);
        });
      }

      test(`${name}, ${cpus} CPUs: bpf(2) update, lookup, lookup_and_delete and the batch lookup copy slot by slot`, () => {
        const { sys, fd, initial } = setup(type, cpus, true);
        assert.deepEqual(sysValue(sys, fd, cpus), [...initial]);
        // an update in place, every CPU's value from the packed format
        const next = Uint8Array.from({ length: 16 * cpus }, (_, i) => 200 - i);
        assert.equal(sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: KEY, value: next, flags: 2 }), 0);
        assert.deepEqual(sysValue(sys, fd, cpus), [...next]);
        const attr = { map_fd: fd, keys: new Uint8Array(16 * 8), values: new Uint8Array(16 * cpus * 8), count: 8, out_batch: new Uint8Array(4) };
        try {
          sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, attr);
        } catch (e) {
          assert.equal((e as { code?: string }).code, 'ENOENT');
        }
        assert.equal(attr.count, 1);
        assert.deepEqual([...attr.keys.subarray(0, 16)], [...KEY]);
        assert.deepEqual([...attr.values.subarray(0, 16 * cpus)], [...next]);
        const out = new Uint8Array(16 * cpus);
        assert.equal(sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, key: KEY, value: out }), 0);
        assert.deepEqual([...out], [...next]);
        // a program's new element: its CPU's value, the others zero
        sys.runtime.cpu = cpus - 1;
        const impl = sys.mapOf(fd).impl;
        const mem = sys.runtime.mem;
        const k = mem.alloc(16);
        const v = mem.alloc(16);
        mem.write(k, KEY);
        mem.write(v, Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i));
        assert.equal(impl.update(k, v, 0, 0), 0);
        sys.runtime.cpu = 0;
        assert.deepEqual(sysValue(sys, fd, cpus), [...new Array(16 * (cpus - 1)).fill(0), ...Array.from({ length: 16 }, (_, i) => 0x40 + i)]);
      });
    }
  }

  test('the hardened JIT\'s regions: one per CPU at 64 + 64c, stride elemSize; a layout it does not expect is refused', () => {
    const { impl } = setup(PERCPU_HASH, 3, true);
    assert.deepEqual(valueRegions(impl).map((r) => [r.start, r.end, r.stride, r.valueOff, r.valueSize]),
      [0, 1, 2].map((c) => [impl.base, impl.base + impl.cap * 256, 256, 64 + 64 * c, 16]));
    const message = `internal error: the hardened JIT's value layout of the map at 0x${impl.addr.toString(16)} disagrees with the map's own`;
    for (const [field, value] of [['cpuStride', 16], ['valueOff', 16], ['cacheLines', false], ['elemSize', 192]] as const) {
      const liar = Object.create(impl, { [field]: { value } }) as HashMapBase;
      assert.throws(() => valueRegions(liar), { name: 'InternalError', message });
    }
  });

  test('a plain hash in a shared memory keeps the packed layout', () => {
    const sys = new BpfSystem({ profile: 'modern', cpus: 2, shared: true, maxBytes: 32 << 20 });
    const impl = sys.mapOf(sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 16, value_size: 16, max_entries: 8 })).impl as HashMapBase;
    assert.deepEqual([impl.cacheLines, impl.valueOff, impl.cpuStride, impl.elemSize, impl.base - impl.addr], [false, 16, 16, 32, MAP_HDR_SIZE]);
  });
});

describe('unshared memory: the packed layout, byte for byte as before', () => {
  for (const [type, name] of [[PERCPU_HASH, 'percpu_hash'], [LRU_PERCPU_HASH, 'lru_percpu_hash']] as const) {
    for (const cpus of [2, 3]) {
      for (const engine of ['interpreter', 'jit'] as const) {
        test(`${name}, key 16 value 16, ${cpus} CPUs, ${engine}: CPU c's value at element + 16 + 16c`, () => {
          const { sys, fd, impl, initial } = setup(type, cpus, false);
          assert.deepEqual([impl.cacheLines, impl.valueOff, impl.cpuStride, impl.elemSize, impl.base - impl.addr], [false, 16, 16, 16 + 16 * cpus, MAP_HDR_SIZE]);
          const got = addresses(sys, fd, cpus, engine);
          // the syscall's element is element 0
          assert.deepEqual(got, Array.from({ length: cpus }, (_, c) => impl.base + 16 + 16 * c));
          assert.deepEqual(sysValue(sys, fd, cpus), expected(initial, Array.from({ length: cpus }, (_, c) => c + 1)));
        });
      }
    }
  }
});
