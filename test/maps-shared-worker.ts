/**
 * The worker side of maps-shared.test.ts (and the shared-maps fuzz mode):
 * a thread that attaches one shared map (attachMap over
 * AddressSpace.attach) and runs one script of operations on it, staging
 * keys and values in its own arena, then posts what it saw. Scripts:
 *
 * - insert / delete: every key of [from, to) with its value (key * 3 + 1,
 *   u64), then the even ones deleted: `errors` counts the failures;
 * - noexist: BPF_NOEXIST updates of keys [from, to) with the worker's id:
 *   `wins` the keys this worker created;
 * - fill: new keys from `from` until E2BIG: `inserted` before it, `errors` any other failure;
 * - walk: while the flag word is 0, runs (run word = epoch) that walk the
 *   mirror as the JIT's inline lookup does for every key of [from, to),
 *   which must all be found: `bad` describes the first index out of range,
 *   walk too long or key missed;
 * - hold: a run that looks up key `from` and reads its value, tells the
 *   main thread (flag 1), waits for flag 2, reads the value again, ends the
 *   run (flag 3): `before` and `after`;
 * - churn: random inserts, updates, deletes and lookups of keys [from, to)
 *   for `ops` operations, checking each answer is one the map may give:
 *   `bad` the first that is not.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace } from '../src/memory/address-space.js';
import type { Arena, Lane } from '../src/memory/address-space.js';
import { attachMap } from '../src/maps/types.js';
import type { JitHashLayout, MapEnv, SharedMapState } from '../src/maps/map.js';
import { BPF_MAP_TYPE, BPF_NOEXIST, E } from '../src/maps/map.js';
import { jhash } from '../src/maps/jhash.js';
import { PROFILE_MODERN } from '../src/isa/profile.js';
import { EPOCH_ADDR } from '../src/memory/address-space.js';

export interface WorkerJob {
  memory: WebAssembly.Memory;
  arena: Arena;
  lane: Lane;
  state: SharedMapState;
  id: number;
  cpus: number;
  script: 'insert' | 'noexist' | 'fill' | 'walk' | 'hold' | 'churn';
  from: number;
  to: number;
  ops?: number;
  seed?: number;
  /** an Int32Array's buffer the main thread and the worker signal through */
  flag: SharedArrayBuffer;
}

export interface WorkerResult {
  errors: number;
  wins: number[];
  inserted: number;
  walks: number;
  bad: string;
  before: string;
  after: string;
}

function run(job: WorkerJob): WorkerResult {
  const mem = AddressSpace.attach(job.memory, job.arena, job.lane);
  const env: MapEnv = { profile: PROFILE_MODERN, cpus: job.cpus, cpu: () => job.id, runWord: job.lane.runWord, ...(mem.lanes ? { lanes: mem.lanes } : {}) };
  const map = attachMap(mem, job.state, env);
  const key = mem.alloc(64);
  const value = mem.alloc(64);
  const dv = mem.view;
  const u8 = mem.u8;
  const flag = new Int32Array(job.flag);
  const out: WorkerResult = { errors: 0, wins: [], inserted: 0, walks: 0, bad: '', before: '', after: '' };
  const setKey = (k: number): void => dv.setUint32(key, k, true);
  const setValue = (v: bigint): void => dv.setBigUint64(value, v, true);
  const runWord = job.lane.runWord >>> 2;
  const perCpu = job.state.type === BPF_MAP_TYPE.PERCPU_HASH || job.state.type === BPF_MAP_TYPE.LRU_PERCPU_HASH;
  const i32 = mem.i32;
  const runStart = (): void => {
    Atomics.store(i32, runWord, Atomics.load(i32, EPOCH_ADDR >>> 2));
  };
  const runEnd = (): void => {
    Atomics.store(i32, runWord, 0);
  };
  switch (job.script) {
    case 'insert':
      for (let k = job.from; k < job.to; k++) {
        setKey(k);
        setValue(BigInt(k) * 3n + 1n);
        if (map.update(key, value, 0, 0) !== 0) out.errors++;
      }
      for (let k = job.from; k < job.to; k += 2) {
        setKey(k);
        if (map.delete(key) !== 0) out.errors++;
      }
      break;
    case 'noexist':
      for (let k = job.from; k < job.to; k++) {
        setKey(k);
        setValue(BigInt(job.id));
        const r = map.update(key, value, BPF_NOEXIST, 0);
        if (r === 0) out.wins.push(k);
        else if (r !== E.EEXIST) out.errors++;
      }
      break;
    case 'fill':
      for (let k = job.from; ; k++) {
        setKey(k);
        setValue(BigInt(k));
        const r = map.update(key, value, BPF_NOEXIST, 0);
        if (r === E.E2BIG) break;
        if (r === 0) out.inserted++;
        else out.errors++;
      }
      break;
    case 'walk': {
      const l = map.jitLayout!() as JitHashLayout;
      const w = new Int32Array(job.memory.buffer);
      while (Atomics.load(flag, 0) === 0 && out.bad === '') {
        runStart();
        for (let k = job.from; k < job.to && out.bad === ''; k++) {
          setKey(k);
          out.bad = mirrorWalk(l, w, u8, key, k);
        }
        runEnd();
        out.walks++;
      }
      break;
    }
    case 'hold': {
      runStart();
      setKey(job.from);
      const at = map.lookup(key);
      out.before = at === 0 ? 'absent' : dv.getBigUint64(at, true).toString();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      Atomics.wait(flag, 0, 1, 10_000);
      out.after = at === 0 ? 'absent' : dv.getBigUint64(at, true).toString();
      runEnd();
      Atomics.store(flag, 0, 3);
      Atomics.notify(flag, 0);
      break;
    }
    case 'churn': {
      let s = job.seed ?? 1;
      const rand = (n: number): number => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return (s >>> 8) % n;
      };
      for (let n = 0; n < (job.ops ?? 0) && out.bad === ''; n++) {
        const k = job.from + rand(job.to - job.from);
        setKey(k);
        const op = rand(4);
        runStart();
        if (op === 0 || op === 1) {
          setValue(BigInt(k) * 3n + 1n);
          const r = map.update(key, value, op === 0 ? BPF_NOEXIST : 0, 0);
          if (r !== 0 && r !== E.EEXIST && r !== E.E2BIG) out.bad = `update of ${k}: ${r}`;
        } else if (op === 2) {
          const r = map.delete(key);
          if (r !== 0 && r !== E.ENOENT) out.bad = `delete of ${k}: ${r}`;
        } else {
          const at = map.lookup(key);
          // every value ever written for k is k * 3 + 1 (per-CPU: or 0, on a CPU that never wrote it): a value pointer never shows another key's value
          const v = at === 0 ? 0n : dv.getBigUint64(at, true);
          if (at !== 0 && v !== BigInt(k) * 3n + 1n && !(perCpu && v === 0n)) out.bad = `lookup of ${k}: ${v}`;
        }
        runEnd();
      }
      break;
    }
  }
  return out;
}

/**
 * The JIT's inline lookup of key k (at `keyAddr`) in JavaScript, over the
 * mirror: every index read must be -1 or an element, the walk shorter than
 * the elements, and k found with its value. '' when all holds.
 */
export function mirrorWalk(l: JitHashLayout, w: Int32Array, u8: Uint8Array, keyAddr: number, k: number): string {
  const dv = new DataView(u8.buffer);
  const hash = jhash(u8, keyAddr, l.keySize, 0);
  let i = Atomics.load(w, (l.heads >>> 2) + (hash & (l.nBuckets - 1)));
  for (let steps = 0; i !== -1; steps++) {
    if (i < 0 || i >= l.cap) return `key ${k}: index ${i} of ${l.cap}`;
    if (steps >= l.cap) return `key ${k}: a walk of ${steps} steps`;
    const e = l.base + i * l.stride;
    if (w[(l.hashes >>> 2) + i]! >>> 0 === hash >>> 0 && dv.getUint32(e, true) === k) return '';
    i = Atomics.load(w, (l.next >>> 2) + i);
  }
  return `key ${k}: missed`;
}

if (parentPort) parentPort.postMessage(run(workerData as WorkerJob));
