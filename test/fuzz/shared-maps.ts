/**
 * The shared-maps mode of the hostile fuzzer (target `shmaps`,
 * test/fuzz/hostile.ts): a hash or percpu_hash map in a shared memory, one
 * object per lane (the maker's and attachMap's, as worker threads hold
 * them), driven by a random interleaving of the lanes' operations: runs
 * started and ended (the lane's run word takes the epoch, as the engines
 * store it), program-side and syscall-side updates with every flag,
 * deletes, lookups (whose value pointers the lane holds until its run
 * ends), lookup-and-delete, get_next_key walks, the batch commands' bucket
 * copies, and a program that escaped the verifier rewriting words of the
 * JIT's mirror (then the JIT's report: the suspect word, and a lookup).
 *
 * Interleaving whole operations makes every input reproducible from its
 * seed; the threads' races inside operations are test/maps-shared.test.ts's.
 * After each operation the map must agree with a model (a JavaScript Map):
 * every result code, value and key walk; the count and the elements (live,
 * free and retired add up to all of them); every value pointer a running
 * lane holds still reads what it read (percpu_hash: still its key's
 * element); and, unless a rewrite of the mirror is pending repair, the
 * JIT's lookup walked over the mirror finds every key and stays inside the
 * map. A disagreement is thrown as an Error: a problem for the harness.
 */

import { AddressSpace, EPOCH_ADDR } from '../../src/memory/address-space.js';
import { attachMap, createMap } from '../../src/maps/types.js';
import type { BpfMapImpl, JitHashLayout, MapEnv } from '../../src/maps/map.js';
import { BPF_MAP_TYPE, E } from '../../src/maps/map.js';
import { SharedHashMap } from '../../src/maps/shared-hash.js';
import { jhash } from '../../src/maps/jhash.js';
import { PROFILE_MODERN } from '../../src/isa/profile.js';

type Rnd = () => number;

const OPS = ['start', 'end', 'update', 'sysupdate', 'delete', 'lookup', 'sys', 'lad', 'next', 'walk', 'batch', 'corrupt', 'repair'] as const;
type OpName = (typeof OPS)[number];

export interface ShOp {
  lane: number;
  op: OpName;
  key: number;
  flags: number;
  value: number;
}

export interface ShInput {
  perCpu: boolean;
  /** the LRU variant: the model is then the same map in an unshared memory, fed the same operations */
  lru?: boolean;
  keySize: number;
  maxEntries: number;
  lanes: number;
  ops: ShOp[];
}

/** A lane's run is ended after this many operations (of any lane): runs are short, so the spare elements never run out. */
const RUN_OPS = 24;
const VALUE = 8;

const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

export function generateShmaps(rnd: Rnd): ShInput {
  const maxEntries = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 64));
  const lanes = 1 + Math.floor(rnd() * 4);
  const n = 20 + Math.floor(rnd() * 300);
  const weights: [OpName, number][] = [['start', 8], ['end', 5], ['update', 25], ['sysupdate', 6], ['delete', 14], ['lookup', 16], ['sys', 5], ['lad', 3], ['next', 4], ['walk', 3], ['batch', 2], ['corrupt', 1], ['repair', 1]];
  const total = weights.reduce((a, [, w]) => a + w, 0);
  const ops: ShOp[] = [];
  for (let i = 0; i < n; i++) {
    let x = rnd() * total;
    let op: OpName = 'update';
    for (const [o, w] of weights) if ((x -= w) < 0) {
      op = o;
      break;
    }
    ops.push({ lane: Math.floor(rnd() * lanes), op, key: Math.floor(rnd() * (maxEntries * 2 + 2)), flags: rnd() < 0.05 ? pick(rnd, [3, 4, 0x100]) : Math.floor(rnd() * 3), value: Math.floor(rnd() * 2 ** 32) });
  }
  return { perCpu: rnd() < 0.35, lru: rnd() < 0.3, keySize: pick(rnd, [4, 4, 1, 2, 3, 8, 13]), maxEntries, lanes, ops };
}

export function showShmaps(x: ShInput): string {
  return JSON.stringify({ ...x, ops: x.ops.map((o) => `${o.lane}:${o.op}:${o.key}:${o.flags}:${o.value}`) });
}

export function* shrinkShmaps(x: ShInput): Iterable<ShInput> {
  for (let size = Math.floor(x.ops.length / 2); size >= 1; size = Math.floor(size / 2)) {
    for (let i = 0; i + size <= x.ops.length; i += size) yield { ...x, ops: [...x.ops.slice(0, i), ...x.ops.slice(i + size)] };
  }
}

/**
 * The JIT's inline lookup of the key at `keyAddr` over the mirror, in
 * JavaScript: the element's index, -1 when absent; a string describing
 * the first index out of range or walk too long (which the JIT would
 * report as an inconsistent mirror).
 */
export function mirrorFind(l: JitHashLayout, w: Int32Array, u8: Uint8Array, keyAddr: number): number | string {
  const hash = jhash(u8, keyAddr, l.keySize, 0);
  let i = Atomics.load(w, (l.heads >>> 2) + (hash & (l.nBuckets - 1)));
  for (let steps = 0; i !== -1; steps++) {
    if (i < 0 || i >= l.cap) return `index ${i} of ${l.cap}`;
    if (steps >= l.cap) return `a walk of ${steps} steps`;
    if (w[(l.hashes >>> 2) + i]! >>> 0 === hash >>> 0) {
      const e = l.base + i * l.stride;
      let k = 0;
      while (k < l.keySize && u8[e + k] === u8[keyAddr + k]) k++;
      if (k === l.keySize) return i;
    }
    i = Atomics.load(w, (l.next >>> 2) + i);
  }
  return -1;
}

class Invariant extends Error {
  override name = 'Invariant';
}

export function exerciseShmaps(x: ShInput): void {
  const mem = new AddressSpace({ shared: true, maxBytes: 4 << 20 });
  const cpus = x.lanes;
  const laneOf = [mem.lane, ...Array.from({ length: x.lanes - 1 }, () => mem.allocLane())];
  const envs: MapEnv[] = laneOf.map((lane, i) => ({ profile: PROFILE_MODERN, cpus, cpu: () => i, runWord: lane.runWord, ...(mem.lanes ? { lanes: mem.lanes } : {}) }));
  const mapType = x.lru ? (x.perCpu ? BPF_MAP_TYPE.LRU_PERCPU_HASH : BPF_MAP_TYPE.LRU_HASH) : x.perCpu ? BPF_MAP_TYPE.PERCPU_HASH : BPF_MAP_TYPE.HASH;
  const attr = { mapType, keySize: x.keySize, valueSize: VALUE, maxEntries: x.maxEntries, mapFlags: 0 };
  const made = createMap(mem, attr, envs[0]!);
  if (!(made instanceof SharedHashMap)) throw new Invariant('a hash map in a shared memory is not a SharedHashMap');
  const state = made.shareState();
  const views: BpfMapImpl[] = [made, ...envs.slice(1).map((env) => attachMap(mem, state, env))];
  // (LRU maps have no inline lookup: their lookups mark the element in JavaScript)
  const layout = made.jitLayout?.() ?? made.jitPerCpuLayout();
  const ncpus = x.perCpu ? cpus : 1;
  const sysSize = x.perCpu ? VALUE * ncpus : VALUE;
  const keyRound = Math.ceil(x.keySize / 8) * 8;
  const i32 = mem.i32;
  const u8 = mem.u8;
  const key = mem.alloc(16);
  const key2 = mem.alloc(16);
  const val = mem.alloc(sysSize);
  const out = mem.alloc(sysSize);
  const model = new Map<number, Uint8Array>();
  // LRU: the same map in an unshared memory, whose evictions are the model's
  let shadowCpu = 0;
  const smem = new AddressSpace({ maxBytes: 4 << 20 });
  const shadow = x.lru ? createMap(smem, attr, { profile: PROFILE_MODERN, cpus, cpu: () => shadowCpu }) : undefined;
  const sk = smem.alloc(16);
  const sv = smem.alloc(sysSize);
  const so = smem.alloc(sysSize);
  /** the shadow's answer to the operation, with the key and value of the shared side's */
  const onShadow = (f: (m: BpfMapImpl, k: number, v: number, o: number) => number): number => {
    smem.u8.set(u8.subarray(key, key + x.keySize), sk);
    smem.u8.set(u8.subarray(val, val + sysSize), sv);
    return f(shadow!, sk, sv, so);
  };
  const syncModel = (): void => {
    model.clear();
    const next = smem.alloc(16);
    for (let r = shadow!.getNextKey(0, next); r === 0; r = shadow!.getNextKey(sk, next)) {
      smem.u8.copyWithin(sk, next, next + x.keySize);
      const k = idOf(smem.u8.subarray(next, next + x.keySize));
      shadow!.sysLookup!(next, so);
      model.set(k, smem.u8.slice(so, so + sysSize));
    }
    smem.release(next);
  };
  const keyBytes = (k: number): Uint8Array => Uint8Array.from({ length: x.keySize }, (_, i) => (i < 4 ? (k >>> (8 * i)) & 255 : (k * 7 + i) & 255));
  // every key an operation may name, by its bytes
  const keyIds = new Map<string, number>();
  for (let c = 0; c < x.maxEntries * 2 + 2; c++) keyIds.set(keyBytes(c).join(), c);
  const idOf = (bytes: Uint8Array): number => keyIds.get(bytes.join()) ?? -1;
  const keyOf = (addr: number): number => {
    const k = idOf(u8.subarray(addr, addr + x.keySize));
    return model.has(k) ? k : -1;
  };
  const valueBytes = (v: number, lane: number): Uint8Array => Uint8Array.from({ length: VALUE }, (_, i) => (i < 4 ? (v >>> (8 * i)) & 255 : (lane * 31 + i) & 255));
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
  const fail = (i: number, what: string): never => {
    throw new Invariant(`op ${i} (${x.ops[i]!.lane}:${x.ops[i]!.op}:${x.ops[i]!.key}): ${what}`);
  };
  const inRun = new Array<number>(x.lanes).fill(-1);
  const held: { lane: number; addr: number; key: number; bytes: Uint8Array }[] = [];
  let mirrorDirty = false;
  const runWord = (lane: number): number => laneOf[lane]!.runWord >>> 2;
  const end = (lane: number): void => {
    Atomics.store(i32, runWord(lane), 0);
    inRun[lane] = -1;
    for (let h = held.length - 1; h >= 0; h--) if (held[h]!.lane === lane) held.splice(h, 1);
  };
  for (let i = 0; i < x.ops.length; i++) {
    const { lane, op, key: k, flags, value } = x.ops[i]!;
    const m = views[lane]!;
    const cpu = x.perCpu ? lane : 0;
    shadowCpu = lane;
    for (let l = 0; l < x.lanes; l++) if (inRun[l]! >= 0 && i - inRun[l]! > RUN_OPS) end(l);
    u8.set(keyBytes(k), key);
    const present = model.get(k);
    switch (op) {
      case 'start':
        if (inRun[lane]! < 0) {
          Atomics.store(i32, runWord(lane), Atomics.load(i32, EPOCH_ADDR >>> 2));
          inRun[lane] = i;
        }
        break;
      case 'end':
        end(lane);
        break;
      case 'update':
      case 'sysupdate': {
        const sys = op === 'sysupdate';
        const v = sys ? Uint8Array.from({ length: sysSize }, (_, j) => (value * (j + 1) + j) & 255) : valueBytes(value, lane);
        u8.set(v, val);
        const r = sys ? m.sysUpdate!(key, val, flags, 0) : m.update(key, val, flags, 0);
        const want = shadow
          ? onShadow((sm, k2, v2) => (sys ? sm.sysUpdate!(k2, v2, flags, 0) : sm.update(k2, v2, flags, 0)))
          : flags > 2 ? E.EINVAL : present && flags === 1 ? E.EEXIST : !present && flags === 2 ? E.ENOENT : !present && model.size >= x.maxEntries ? E.E2BIG : 0;
        if (r !== want) fail(i, `update gave ${r}, the model ${want}`);
        if (shadow) syncModel();
        else if (r === 0) {
          let next: Uint8Array;
          if (!x.perCpu || sys) next = v.slice(0, sysSize);
          else {
            next = present ? present.slice() : new Uint8Array(sysSize);
            next.set(v, cpu * VALUE);
          }
          model.set(k, next);
        }
        break;
      }
      case 'delete': {
        const r = m.delete(key);
        if (shadow) onShadow((sm, k2) => sm.delete(k2));
        if (r !== (present ? 0 : E.ENOENT)) fail(i, `delete gave ${r}`);
        model.delete(k);
        break;
      }
      case 'lookup': {
        const at = m.lookup(key);
        // (the shadow's lookup marks its element too)
        if (shadow) onShadow((sm, k2) => sm.lookup(k2));
        if ((at !== 0) !== (present !== undefined)) fail(i, `lookup gave ${at}, the model ${present ? 'a value' : 'none'}`);
        if (at !== 0) {
          const got = u8.slice(at, at + VALUE);
          if (!same(got, present!.subarray(cpu * VALUE, cpu * VALUE + VALUE))) fail(i, `lookup read ${got}, the model ${present}`);
          if (inRun[lane]! >= 0) held.push({ lane, addr: at, key: k, bytes: got });
        }
        break;
      }
      case 'sys':
      case 'lad': {
        const r = op === 'sys' ? m.sysLookup!(key, out) : m.lookupAndDelete!(key, out, 0, 0);
        if (r !== (present ? 0 : E.ENOENT)) fail(i, `${op} gave ${r}`);
        if (present && !same(u8.slice(out, out + sysSize), present)) fail(i, `${op} read ${u8.slice(out, out + sysSize)}, the model ${present}`);
        if (op === 'lad') {
          if (shadow) onShadow((sm, k2, _v, o) => sm.lookupAndDelete!(k2, o, 0, 0));
          model.delete(k);
        }
        break;
      }
      case 'next': {
        const r = m.getNextKey(k % 3 === 0 ? 0 : key, key2);
        if (r === 0 && keyOf(key2) < 0) fail(i, 'get_next_key gave a key the map does not hold');
        if (r !== 0 && (r !== E.ENOENT || (model.size > 0 && (k % 3 === 0 || !present)))) fail(i, `get_next_key gave ${r} with ${model.size} keys`);
        break;
      }
      case 'walk': {
        const seen = new Set<number>();
        let r = m.getNextKey(0, key2);
        for (let steps = 0; r === 0; steps++) {
          const got = keyOf(key2);
          if (got < 0 || seen.has(got) || steps > made.cap) fail(i, `the walk gave ${got < 0 ? 'an unknown key' : `key ${got} again`}`);
          seen.add(got);
          u8.copyWithin(key, key2, key2 + x.keySize);
          r = m.getNextKey(key, key2);
        }
        if (r !== E.ENOENT || seen.size !== model.size) fail(i, `the walk ended with ${r} after ${seen.size} of ${model.size} keys`);
        if (!mirrorDirty && layout) {
          for (const mk of [...model.keys(), x.maxEntries * 2 + 5]) {
            u8.set(keyBytes(mk), key);
            const f = mirrorFind(layout, i32, u8, key);
            if (typeof f === 'string') fail(i, `the mirror walk for key ${mk}: ${f}`);
            if (((f as number) >= 0) !== model.has(mk)) fail(i, `the mirror walk for key ${mk} gave ${f}`);
          }
        }
        break;
      }
      case 'batch': {
        const got = new Map<number, Uint8Array>();
        const elems: number[] = [];
        for (let b = 0; b < made.batchBuckets; b++) {
          m.bucketKeys!(b, elems);
          for (const e of elems) {
            const bk = keyOf(e);
            if (bk < 0 || got.has(bk)) fail(i, `bucket ${b} gave ${bk < 0 ? 'an unknown key' : `key ${bk} again`}`);
            got.set(bk, u8.slice(e + keyRound, e + keyRound + sysSize));
          }
        }
        if (got.size !== model.size) fail(i, `the buckets hold ${got.size} keys, the model ${model.size}`);
        for (const [gk, gv] of got) if (!same(gv, model.get(gk)!)) fail(i, `bucket value of key ${gk}: ${gv}, the model ${model.get(gk)}`);
        break;
      }
      case 'corrupt': {
        if (!layout) break;
        // a program that escaped the verifier writes a word of the mirror (heads, next, hashes)
        const words = (layout.pinned - layout.heads) >>> 2;
        const at = (layout.heads >>> 2) + (value % words);
        const words8 = [-1, -2, 0, 1, layout.cap, layout.cap - 1, value | 0, 0x7fffffff];
        Atomics.store(i32, at, words8[(value >>> 8) % words8.length]!);
        mirrorDirty = true;
        break;
      }
      case 'repair':
        if (!layout) break;
        // the JIT found the mirror inconsistent: the suspect word, then the helper's lookup rewrites it
        Atomics.store(i32, layout.suspect >>> 2, 1);
        m.lookup(key);
        if (Atomics.load(i32, layout.suspect >>> 2) !== 0) fail(i, 'the suspect word survived a lookup');
        mirrorDirty = false;
        break;
    }
    // the map against the model
    const a = made.accounting();
    if (a.live !== model.size) fail(i, `count ${a.live}, the model ${model.size}`);
    if (a.live + a.free + a.retired !== made.cap) fail(i, `live ${a.live} + free ${a.free} + retired ${a.retired} is not ${made.cap}`);
    for (const h of held) {
      if (x.perCpu) {
        // (the map's own layout: per-CPU values on cache lines of their own in a shared memory)
        const e = h.addr - made.valueOff - h.lane * made.cpuStride;
        if ((h.addr & 63) !== 0 || (e & 63) !== 0) fail(i, `lane ${h.lane}'s value of key ${h.key} at 0x${h.addr.toString(16)} (element 0x${e.toString(16)}) is not on a cache line of its own`);
        if (!same(u8.slice(e, e + x.keySize), keyBytes(h.key))) fail(i, `lane ${h.lane} holds key ${h.key}'s value, now another key's element`);
      } else if (!same(u8.slice(h.addr, h.addr + VALUE), h.bytes)) fail(i, `lane ${h.lane} holds key ${h.key}'s value ${h.bytes}, which now reads ${u8.slice(h.addr, h.addr + VALUE)}`);
    }
  }
}

/** The harness (test/fuzz/hostile.ts's shape). */
export const shmapsHarness = {
  generate: generateShmaps,
  exercise: exerciseShmaps,
  show: showShmaps,
  shrink: shrinkShmaps,
};
