/**
 * Maps shared between threads (issue 21 item 3, maps/shared.ts): arrays,
 * per-CPU arrays, hash and per-CPU hash maps made in a shared memory and
 * attached by worker threads (attachMap), hammered by 2 to 4 of them at
 * once through test/maps-shared-worker.ts: exact final contents for
 * disjoint keys, one BPF_NOEXIST winner per key, E2BIG exactly at
 * max_entries, the JIT's mirror walkable at any moment of the churn, and
 * an element a run holds never reused before the run ends. Single-threaded
 * use of a shared system keeps the semantics of an unshared one.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../src/memory/address-space.js';
import { attachMap, createMap } from '../src/maps/types.js';
import type { BpfMapImpl, MapEnv } from '../src/maps/map.js';
import { BPF_MAP_TYPE, BPF_NOEXIST, E } from '../src/maps/map.js';
import { PROFILE_MODERN } from '../src/isa/profile.js';
import { BpfSystem } from '../src/api/bpf.js';
import { BpfMap, u32, u64 } from '../src/api/map.js';
import { SharedHashMap } from '../src/maps/shared-hash.js';
import { HashMap } from '../src/maps/hash.js';
import { expectErr } from './expect-error.js';
import type { BpfError } from '../src/errors.js';
import type { WorkerJob, WorkerResult } from './maps-shared-worker.js';
import type { ProgJob, ProgReport } from './maps-shared-prog-worker.js';

const WORKER = new URL('./maps-shared-worker.js', import.meta.url);

interface Setup {
  mem: AddressSpace;
  env: MapEnv;
  map: BpfMapImpl;
  key: number;
  value: number;
}

function setup(type: number, maxEntries: number, cpus = 4, valueSize = 8): Setup {
  const mem = new AddressSpace({ shared: true, maxBytes: 32 << 20 });
  const env: MapEnv = { profile: PROFILE_MODERN, cpus, cpu: () => 0, runWord: mem.lane.runWord, ...(mem.lanes ? { lanes: mem.lanes } : {}) };
  const map = createMap(mem, { mapType: type, keySize: 4, valueSize, maxEntries, mapFlags: 0 }, env);
  return { mem, env, map, key: mem.alloc(64), value: mem.alloc(64 * cpus) };
}

/** Run `jobs` in workers at once, each on its own lane and arena of s.mem. */
async function workers(s: Setup, jobs: Partial<WorkerJob>[], flag = new SharedArrayBuffer(4), started?: (w: Worker[]) => Promise<void>): Promise<WorkerResult[]> {
  const state = s.map.shareState!();
  const ws: Worker[] = [];
  const done = jobs.map((j, id) => {
    const lane = s.mem.allocLane();
    const start = s.mem.alloc(1 << 16);
    const job: WorkerJob = { memory: s.mem.memory as WebAssembly.Memory, arena: { start, end: start + (1 << 16) }, lane, state, id, cpus: s.env.cpus, flag, script: 'insert', from: 0, to: 0, ...j };
    const w = new Worker(WORKER, { workerData: job });
    ws.push(w);
    return new Promise<WorkerResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }).finally(() => {
      s.mem.freeLane(lane);
      s.mem.release(start);
    });
  });
  if (started) await started(ws);
  return Promise.all(done);
}

const setKey = (s: Setup, k: number): void => s.mem.view.setUint32(s.key, k, true);

/** Every key and u64 value of a hash map, by the syscall side's walk. */
function contents(s: Setup): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const next = s.mem.alloc(8);
  let r = s.map.getNextKey(0, next);
  while (r === 0) {
    const k = s.mem.view.getUint32(next, true);
    assert.equal(out.has(k), false, `key ${k} walked twice`);
    assert.equal(s.map.sysLookup!(next, s.value), 0);
    out.set(k, s.mem.view.getBigUint64(s.value, true));
    s.mem.view.setUint32(s.key, k, true);
    r = s.map.getNextKey(s.key, next);
  }
  assert.equal(r, E.ENOENT);
  s.mem.release(next);
  return out;
}

describe('shared maps: one thread', () => {
  test('a shared memory makes hash and percpu_hash shareable, other memories the usual maps', () => {
    const s = setup(BPF_MAP_TYPE.HASH, 4);
    assert.ok(s.map instanceof SharedHashMap);
    assert.equal(typeof s.map.jitLayout, 'function');
    const p = setup(BPF_MAP_TYPE.PERCPU_HASH, 4);
    assert.ok(p.map instanceof SharedHashMap);
    assert.equal(p.map.jitLayout, undefined);
    const plain = createMap(new AddressSpace({ maxBytes: 1 << 20 }), { mapType: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: 0 });
    assert.ok(plain instanceof HashMap && !(plain instanceof SharedHashMap));
    assert.equal((plain as BpfMapImpl).shareState, undefined);
  });

  test('shareState and attachMap refuse what cannot be shared, one line each', () => {
    const arr = createMap(new AddressSpace({ maxBytes: 1 << 20 }), { mapType: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: 0 });
    expectErr(() => arr.shareState!(), 'EINVAL', `array map at 0x${arr.addr.toString(16)} is not in a shared memory`);
    const s = setup(BPF_MAP_TYPE.HASH, 4);
    const state = s.map.shareState!();
    expectErr(() => attachMap(new AddressSpace({ maxBytes: 1 << 20 }), state, s.env), 'EINVAL', 'attachMap: the memory is not shared');
    const other = new AddressSpace({ shared: true, maxBytes: 1 << 20 });
    expectErr(() => attachMap(other, state, s.env), 'EINVAL', `attachMap: no hash map of this shape at 0x${state.addr.toString(16)} in this memory`);
    expectErr(() => attachMap(s.mem, { ...state, maxEntries: 5 }, s.env), 'EINVAL', `attachMap: no hash map of this shape at 0x${state.addr.toString(16)} in this memory`);
    expectErr(() => attachMap(s.mem, { ...state, type: BPF_MAP_TYPE.LPM_TRIE }, s.env), 'ENOTSUP', 'map type lpm_trie cannot be shared between threads');
    const { sab: _sab, ...noSab } = state;
    expectErr(() => attachMap(s.mem, noSab, s.env), 'EINVAL', "attachMap: a hash map's state needs its SharedArrayBuffer");
    const queue = createMap(s.mem, { mapType: BPF_MAP_TYPE.QUEUE, keySize: 0, valueSize: 8, maxEntries: 4, mapFlags: 0 }, s.env);
    assert.equal(queue.shareState, undefined);
  });

  test('an attached map in the same thread sees and changes the same elements', () => {
    const s = setup(BPF_MAP_TYPE.HASH, 4);
    const b = attachMap(s.mem, s.map.shareState!(), s.env);
    setKey(s, 7);
    s.mem.view.setBigUint64(s.value, 70n, true);
    assert.equal(s.map.update(s.key, s.value, 0, 0), 0);
    assert.equal(s.mem.view.getBigUint64(b.lookup(s.key), true), 70n);
    assert.equal(b.delete(s.key), 0);
    assert.equal(s.map.lookup(s.key), 0);
    assert.equal((s.map as SharedHashMap).size, 0);
    // freeing the attached object leaves the map's storage to its maker
    const before = s.mem.allocatedBytes;
    b.free();
    assert.equal(s.mem.allocatedBytes, before);
  });

  test('a shared system keeps the hash map semantics of an unshared one (BpfMap, flags, E2BIG, messages)', () => {
    const trace = (shared: boolean): string[] => {
      const sys = new BpfSystem({ profile: 'modern', shared, maxBytes: 8 << 20 });
      const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 3 }, { key: u32, value: u64 });
      const out: string[] = [];
      const op = (f: () => unknown): void => {
        try {
          out.push(String(f()));
        } catch (e) {
          out.push(`${(e as BpfError).code}: ${(e as Error).message}`);
        }
      };
      op(() => m.update(1, 10n));
      op(() => m.update(2, 20n, 'noexist'));
      op(() => m.update(2, 21n, 'noexist'));
      op(() => m.update(9, 90n, 'exist'));
      op(() => m.update(2, 22n, 'exist'));
      op(() => m.update(3, 30n));
      op(() => m.update(4, 40n));
      op(() => m.delete(1));
      op(() => m.delete(1));
      op(() => m.update(4, 40n));
      op(() => m.lookup(1));
      op(() => m.lookup(4));
      op(() => [...m.entries()].sort((x, y) => x[0] - y[0]).join(' '));
      return out;
    };
    const unshared = trace(false);
    assert.deepEqual(trace(true), unshared);
    assert.deepEqual(unshared.slice(2, 4), ['EEXIST: the key exists (BPF_NOEXIST)', 'ENOENT: no such key (BPF_EXIST)']);
    assert.equal(unshared[6], 'E2BIG: the map is full (or the index is out of range)');
    assert.equal(unshared.at(-1), '2,22 3,30 4,40');
  });

  test('the same sequence of operations gives the same keys in the same order, shared or not', () => {
    const order = (shared: boolean): number[] => {
      const sys = new BpfSystem({ profile: 'modern', shared, maxBytes: 8 << 20 });
      const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 }, { key: u32, value: u64 });
      for (let i = 0; i < 200; i++) {
        const k = (i * 37) % 90;
        if (i % 3 === 2) {
          if (m.lookup(k) !== undefined) m.delete(k);
        } else if (m.lookup(k) !== undefined || [...m.keys()].length < 64) m.update(k, BigInt(i));
      }
      return [...m.keys()];
    };
    assert.deepEqual(order(true), order(false));
  });

  for (const type of [BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]) {
    test(`${type === BPF_MAP_TYPE.LRU_HASH ? 'lru_hash' : 'lru_percpu_hash'}: the same operations evict the same keys, shared or not, from two objects of the shared map`, () => {
      const trace = (shared: boolean): string[] => {
        const mem = new AddressSpace({ shared, maxBytes: 8 << 20 });
        let cpu = 0;
        const env: MapEnv = { profile: PROFILE_MODERN, cpus: 3, cpu: () => cpu, runWord: mem.lane.runWord, ...(mem.lanes ? { lanes: mem.lanes } : {}) };
        const a = createMap(mem, { mapType: type, keySize: 4, valueSize: 8, maxEntries: 24, mapFlags: 0 }, env);
        assert.equal(a instanceof SharedHashMap, shared);
        const b = shared ? attachMap(mem, a.shareState!(), env) : a;
        const key = mem.alloc(8);
        const value = mem.alloc(64);
        const next = mem.alloc(8);
        const out: string[] = [];
        let seed = 9;
        for (let i = 0; i < 3000; i++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          const m = seed & 1 ? a : b;
          cpu = (seed >>> 3) % 3;
          mem.view.setUint32(key, (seed >>> 8) % 60, true);
          mem.view.setBigUint64(value, BigInt(i), true);
          const op = (seed >>> 20) % 8;
          if (op < 4) out.push(`u${m.update(key, value, op === 3 ? 1 : op === 2 ? 2 : 0, 0)}`);
          else if (op === 4) out.push(`d${m.delete(key)}`);
          else if (op === 5) out.push(`s${m.sysUpdate!(key, value, 0, 0)}`);
          else out.push(`l${m.lookup(key) === 0 ? 0 : mem.view.getBigUint64(m.lookup(key), true)}`);
        }
        const keys: number[] = [];
        for (let r = a.getNextKey(0, next); r === 0; r = a.getNextKey(key, next)) {
          keys.push(mem.view.getUint32(next, true));
          mem.view.setUint32(key, mem.view.getUint32(next, true), true);
        }
        out.push(keys.sort((x, y) => x - y).join(','));
        return out;
      };
      const unshared = trace(false);
      assert.deepEqual(trace(true), unshared);
      // a full LRU map evicts: no update ran out of elements
      assert.equal(unshared.filter((x) => x === 'u-12' || x === 's-12').length, 0);
    });
  }

  test('3.19: E2BIG before the flags, in a shared memory too', () => {
    const mem = new AddressSpace({ shared: true, maxBytes: 4 << 20 });
    const map = createMap(mem, { mapType: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 1, mapFlags: 0 });
    const key = mem.alloc(8);
    const value = mem.alloc(8);
    assert.equal(map.update(key, value, 0, 0), 0);
    mem.view.setUint32(key, 1, true);
    assert.equal(map.update(key, value, 2, 0), E.E2BIG);
    assert.equal((map as SharedHashMap).size, 1);
  });
});

describe('shared maps: worker threads', () => {
  test('array and percpu_array: workers write their keys and their CPU\'s values, the syscall side reads them all', async () => {
    const p = setup(BPF_MAP_TYPE.PERCPU_ARRAY, 4, 3);
    const a = setup(BPF_MAP_TYPE.ARRAY, 2000, 3);
    const [rp, ra] = await Promise.all([
      workers(p, [0, 1].map(() => ({ script: 'insert' as const, from: 0, to: 4 }))),
      workers(a, [0, 1, 2].map((id) => ({ script: 'insert' as const, from: id * 600, to: id * 600 + 600 }))),
    ]);
    // arrays refuse delete (EINVAL): the even keys' deletes are each worker's errors
    assert.deepEqual(rp.map((x) => x.errors), [2, 2]);
    assert.deepEqual(ra.map((x) => x.errors), [300, 300, 300]);
    for (let k = 0; k < 1800; k++) {
      setKey(a, k);
      assert.equal(a.map.sysLookup!(a.key, a.value), 0);
      assert.equal(a.mem.view.getBigUint64(a.value, true), BigInt(k) * 3n + 1n);
    }
    setKey(a, 1800);
    assert.equal(a.map.sysLookup!(a.key, a.value), 0);
    assert.equal(a.mem.view.getBigUint64(a.value, true), 0n);
    // worker i ran on CPU i: CPUs 0 and 1 written, CPU 2 untouched
    for (let k = 0; k < 4; k++) {
      setKey(p, k);
      assert.equal(p.map.sysLookup!(p.key, p.value), 0);
      assert.deepEqual([0, 1, 2].map((c) => p.mem.view.getBigUint64(p.value + 8 * c, true)), [BigInt(k) * 3n + 1n, BigInt(k) * 3n + 1n, 0n]);
    }
  });

  test('percpu_hash: each worker updates its own CPU\'s value of the same keys', async () => {
    const s = setup(BPF_MAP_TYPE.PERCPU_HASH, 1000, 3);
    const r = await workers(s, [0, 1, 2].map(() => ({ script: 'noexist' as const, from: 0, to: 500 })));
    const wins = r.flatMap((x) => x.wins);
    assert.equal(wins.length, 500);
    assert.deepEqual([...new Set(wins)].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
    for (let k = 0; k < 500; k++) {
      setKey(s, k);
      assert.equal(s.map.sysLookup!(s.key, s.value), 0);
      const winner = r.findIndex((x) => x.wins.includes(k));
      // the winner's CPU has its id, the others zero: the element was new on that CPU
      for (let c = 0; c < 3; c++) assert.equal(s.mem.view.getBigUint64(s.value + 8 * c, true), c === winner ? BigInt(winner) : 0n);
    }
  });

  test('4 workers insert and delete disjoint keys at once: the exact final contents', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 10_000);
    const r = await workers(s, [0, 1, 2, 3].map((id) => ({ script: 'insert' as const, from: id * 2000, to: id * 2000 + 2000 })));
    assert.deepEqual(r.map((x) => x.errors), [0, 0, 0, 0]);
    const got = contents(s);
    assert.equal(got.size, 4000);
    assert.equal((s.map as SharedHashMap).size, 4000);
    for (let k = 1; k < 8000; k += 2) assert.equal(got.get(k), BigInt(k) * 3n + 1n, `key ${k}`);
  });

  test('3 workers race BPF_NOEXIST on the same keys: exactly one winner per key, its value kept', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 3000);
    const r = await workers(s, [0, 1, 2].map(() => ({ script: 'noexist' as const, from: 0, to: 3000 })));
    assert.deepEqual(r.map((x) => x.errors), [0, 0, 0]);
    const owner = new Map<number, number>();
    r.forEach((x, id) => x.wins.forEach((k) => {
      assert.equal(owner.has(k), false, `key ${k} won twice`);
      owner.set(k, id);
    }));
    assert.equal(owner.size, 3000);
    const got = contents(s);
    for (const [k, id] of owner) assert.equal(got.get(k), BigInt(id));
  });

  test('3 workers fill a map: E2BIG exactly at max_entries, the count never past it', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 1000);
    const r = await workers(s, [0, 1, 2].map((id) => ({ script: 'fill' as const, from: id * 100_000 })));
    assert.deepEqual(r.map((x) => x.errors), [0, 0, 0]);
    assert.equal(r.reduce((n, x) => n + x.inserted, 0), 1000);
    assert.equal((s.map as SharedHashMap).size, 1000);
    assert.equal(contents(s).size, 1000);
    setKey(s, 999_999);
    assert.equal(s.map.update(s.key, s.value, 0, 0), E.E2BIG);
  });

  test('the JIT layout\'s mirror stays walkable while two workers churn: no index out of range, no lost key', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 512, 3);
    for (let k = 0; k < 200; k++) {
      setKey(s, k);
      s.mem.view.setBigUint64(s.value, BigInt(k) * 3n + 1n, true);
      assert.equal(s.map.update(s.key, s.value, 0, 0), 0);
    }
    const flag = new SharedArrayBuffer(4);
    const r = await workers(s, [
      { script: 'walk', from: 0, to: 200 },
      { script: 'churn', from: 1000, to: 1300, ops: 60_000, seed: 7 },
      { script: 'churn', from: 1000, to: 1300, ops: 60_000, seed: 11 },
    ], flag, async (ws) => {
      // stop the walker once both churners are done
      await Promise.all(ws.slice(1).map((w) => new Promise((ok) => w.once('message', ok))));
      Atomics.store(new Int32Array(flag), 0, 1);
    });
    assert.equal(r[0]!.bad, '');
    assert.ok(r[0]!.walks > 0);
    assert.equal(r[1]!.bad, '');
    assert.equal(r[2]!.bad, '');
    const got = contents(s);
    for (let k = 0; k < 200; k++) assert.equal(got.get(k), BigInt(k) * 3n + 1n);
    for (const [k, v] of got) assert.equal(v, BigInt(k) * 3n + 1n);
    assert.equal((s.map as SharedHashMap).size, got.size);
  });

  test('an element a run holds is not reused until the run ends, whatever the other threads delete and insert', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 8, 1);
    setKey(s, 5);
    s.mem.view.setBigUint64(s.value, 555n, true);
    assert.equal(s.map.update(s.key, s.value, 0, 0), 0);
    const flag = new SharedArrayBuffer(4);
    const f = new Int32Array(flag);
    let allowed = 0;
    let ended = -1;
    const [r] = await workers(s, [{ script: 'hold', from: 5 }], flag, async () => {
      while (Atomics.load(f, 0) !== 1) await new Promise((ok) => setTimeout(ok, 1));
      // the worker's run holds key 5's value: delete it, then churn another key until the spares run out
      setKey(s, 5);
      assert.equal(s.map.delete(s.key), 0);
      const cap = (s.map as SharedHashMap).cap;
      for (let n = 0; ; n++) {
        setKey(s, 100);
        s.mem.view.setBigUint64(s.value, BigInt(n), true);
        const u = s.map.update(s.key, s.value, 0, 0);
        if (u === E.ENOMEM) break;
        assert.equal(u, 0);
        allowed++;
      }
      // every element but key 5's (retired under the run) and key 100's (live) was used once and retired
      assert.equal(allowed, cap - 1);
      Atomics.store(f, 0, 2);
      Atomics.notify(f, 0);
      while (Atomics.load(f, 0) !== 3) await new Promise((ok) => setTimeout(ok, 1));
      // the run ended: the retired elements are reused
      setKey(s, 100);
      ended = s.map.update(s.key, s.value, 0, 0);
    });
    assert.equal(r!.before, '555');
    assert.equal(r!.after, '555');
    assert.equal(ended, 0);
  });

  test('random churn by 4 workers: every lookup under a run reads its own key\'s value, the count matches the walk', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 64);
    const r = await workers(s, [1, 2, 3, 4].map((seed) => ({ script: 'churn' as const, from: 0, to: 100, ops: 40_000, seed })));
    assert.deepEqual(r.map((x) => x.bad), ['', '', '', '']);
    const got = contents(s);
    assert.ok(got.size <= 64);
    assert.equal((s.map as SharedHashMap).size, got.size);
    for (const [k, v] of got) assert.equal(v, BigInt(k) * 3n + 1n);
  });

  for (const type of [BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]) {
    test(`${type === BPF_MAP_TYPE.LRU_HASH ? 'lru_hash' : 'lru_percpu_hash'}: 3 workers churn a full map: evictions never corrupt it, every value read is its key's`, async () => {
      const s = setup(type, 48, 3);
      const r = await workers(s, [1, 2, 3].map((seed) => ({ script: 'churn' as const, from: 0, to: 200, ops: 30_000, seed })));
      assert.deepEqual(r.map((x) => x.bad), ['', '', '']);
      const got = contents(s);
      assert.ok(got.size <= 48, `${got.size} keys`);
      assert.equal((s.map as SharedHashMap).size, got.size);
      const a = (s.map as SharedHashMap).accounting();
      assert.equal(a.live + a.free + a.retired, (s.map as SharedHashMap).cap);
      // the syscall side's values of a per-CPU map: the CPU that wrote it holds k * 3 + 1, the others 0 or the same
      for (const [k, v] of got) if (type === BPF_MAP_TYPE.LRU_HASH) assert.equal(v, BigInt(k) * 3n + 1n);
    });
  }

  test('replacing every key from two workers, then deleting half: the count follows', async () => {
    const s = setup(BPF_MAP_TYPE.HASH, 500);
    await workers(s, [0, 1].map(() => ({ script: 'noexist' as const, from: 0, to: 500 })));
    assert.equal((s.map as SharedHashMap).size, 500);
    const r = await workers(s, [0, 1].map((id) => ({ script: 'insert' as const, from: id * 250, to: id * 250 + 250 })));
    // the inserts replaced every key (no error), then deleted the even ones
    assert.deepEqual(r.map((x) => x.errors), [0, 0]);
    assert.equal((s.map as SharedHashMap).size, 250);
    const got = contents(s);
    assert.equal(got.size, 250);
    for (const [k, v] of got) assert.equal(v, BigInt(k) * 3n + 1n);
  });

  for (const engine of ['jit', 'fast'] as const) {
    test(`${engine}: two workers count into one hash map by program while a third churns other keys: exact counts`, async () => {
      const sys = new BpfSystem({ shared: true, cpus: 3, profile: 'modern', maxBytes: 32 << 20 });
      const rt = sys.runtime;
      const fd = sys.bpf('BPF_MAP_CREATE', { map_type: BPF_MAP_TYPE.HASH, key_size: 4, value_size: 8, max_entries: 1024 });
      const impl = sys.mapOf(fd).impl;
      const state = impl.shareState!();
      const RUNS = 40_000;
      const attaches = [0, 1].map(() => rt.workerAttach({ arenaBytes: 1 << 20 }));
      const progs = attaches.map((attach, i) => {
        const job: ProgJob = { attach, state, engine, runs: RUNS, keys: 200, first: i * 100 };
        const w = new Worker(new URL('./maps-shared-prog-worker.js', import.meta.url), { workerData: job });
        return new Promise<ProgReport>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        });
      });
      const s: Setup = { mem: rt.mem, env: sys.mapEnv, map: impl, key: rt.mem.alloc(8), value: rt.mem.alloc(8) };
      const [churn] = await workers(s, [{ script: 'churn', from: 1000, to: 1300, ops: 60_000, seed: 5 }]);
      const reports = await Promise.all(progs);
      for (const a of attaches) rt.releaseAttach(a);
      assert.deepEqual(reports, [{ bad: 0 }, { bad: 0 }]);
      assert.equal(churn!.bad, '');
      const got = contents(s);
      // each worker's 40,000 runs cover the 200 keys 200 times each
      for (let k = 0; k < 200; k++) assert.equal(got.get(k), 400n, `key ${k}`);
      for (const [k, v] of got) if (k >= 200) assert.equal(v, BigInt(k) * 3n + 1n);
    });
  }
});
