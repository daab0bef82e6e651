/**
 * bpf_map_lookup_elem in WebAssembly, so a program's lookups never leave
 * compiled code: lookup(map, key) -> the value's address, 0 when the key is
 * absent, or -1 when the helper must answer (the map is not one of the
 * program's, or the key lies past the end of memory, which the helper
 * reports as EFAULT, or the hash map's mirror looked inconsistent, which
 * the helper's authoritative lookup repairs). The caller sends a key
 * pointer of 2^32 or more to the helper itself.
 *
 * The maps a program references are known when it is compiled, so their
 * shape is embedded as constants (maps/map.ts, JitMapLayout), one branch
 * per map: nothing a program can write decides where a lookup reads or
 * writes. An array map is an index checked against max_entries. A hash map
 * hashes the key with 3.19's jhash (lookup3, as maps/jhash.ts; the key size
 * is a constant, so the hash is straight-line code), then walks the map's
 * mirror of its links in memory, which a program that escaped the verifier
 * may have rewritten: every index is checked against the element count and
 * the walk against a budget of as many steps, so the worst a rewritten
 * mirror does is a miss or a hit on another element of the same map, whose
 * key bytes match (the key is always compared). Inconsistent mirror: the
 * suspect word is set and the helper takes over. A hit records the lane's
 * run word (the run generation; in a shared memory the run's epoch) in the
 * element's pin word, as HashMap.lookup does in a run; not in a shared
 * memory, where maps reuse elements by epochs and never read pin words.
 */

import type { JitArrayLayout, JitHashLayout, JitMapLayout } from '../maps/map.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import { RUN_GEN_ADDR } from '../memory/address-space.js';
import { Emitter, OP, VOID } from './wasm.js';

// params
const MAP = 0;
const KEY = 1;
// i32 locals
const A = 2;
const B = 3;
const C = 4;
const I = 5;
const E = 6;
const J = 7;
const K = 8;
const N = 9;
/** i32 locals of the lookup function, after its two parameters */
export const LOOKUP_LOCALS = 8;

const JHASH_INITVAL = 0xdeadbeef;
/** jhash blocks of 12 bytes emitted straight-line up to this many; a loop beyond */
const UNROLL_BLOCKS = 3;
/** keys compared straight-line up to this many bytes; a loop of 8-byte words beyond */
const UNROLL_COMPARE = 64;

class F extends Emitter {
  load(offset = 0): this {
    return this.byte(OP.i32_load).u32(0).u32(offset >>> 0);
  }
  load8(offset = 0): this {
    return this.byte(OP.i32_load8_u).u32(0).u32(offset >>> 0);
  }
  load16(offset = 0): this {
    return this.byte(OP.i32_load16_u).u32(0).u32(offset >>> 0);
  }
  load64(offset = 0): this {
    return this.byte(OP.i64_load).u32(0).u32(offset >>> 0);
  }
  /** an i32 constant given as an unsigned 32-bit number */
  u(v: number): this {
    return this.i32(v | 0);
  }
  /** x -= y */
  sub(x: number, y: number): this {
    return this.get(x).get(y).op(OP.i32_sub).set(x);
  }
  /** x += y */
  add(x: number, y: number): this {
    return this.get(x).get(y).op(OP.i32_add).set(x);
  }
  /** x ^= rol32(y, r) */
  xrol(x: number, y: number, r: number): this {
    return this.get(x).get(y).i32(r).op(OP.i32_rotl).op(OP.i32_xor).set(x);
  }
  /** x -= rol32(y, r) */
  srol(x: number, y: number, r: number): this {
    return this.get(x).get(y).i32(r).op(OP.i32_rotl).op(OP.i32_sub).set(x);
  }
  /** x ^= y */
  xor(x: number, y: number): this {
    return this.get(x).get(y).op(OP.i32_xor).set(x);
  }
  /** the little-endian value of `m` (1..4) bytes at local `p` + off */
  partial(p: number, off: number, m: number): this {
    this.get(p);
    if (m === 4) return this.load(off);
    if (m === 2) return this.load16(off);
    if (m === 1) return this.load8(off);
    return this.load16(off).get(p).load8(off + 2).i32(16).op(OP.i32_shl).op(OP.i32_or);
  }
}

/**
 * Push the i32 byte offset of the run's CPU's value in a per-CPU map: the
 * CPU word (`cpuWord`, written before each run), 0 when it is not below
 * `ncpus` (as the maps keep a CPU outside theirs to CPU 0), times `stride`.
 */
export function cpuOffset(f: Emitter, cpuWord: number, ncpus: number, stride: number): void {
  f.i32(cpuWord).mem(OP.i32_load).i32(0).i32(cpuWord).mem(OP.i32_load).i32(ncpus).op(OP.i32_lt_u).op(OP.select);
  f.i32(stride | 0).op(OP.i32_mul);
}

/**
 * The body of lookup(map: i32, key: i32) -> i32 for the program's maps;
 * per-CPU ones pick the value of the CPU in the word at `cpuWord`.
 */
export function mapLookupFunction(maps: readonly JitMapLayout[], cpuWord: number, runWord = RUN_GEN_ADDR, pin = true): Emitter {
  const f = new F();
  for (const m of maps) {
    f.get(MAP).u(m.addr).op(OP.i32_eq).op(OP.if).byte(VOID);
    // a key past the end of memory: the helper reports it (EFAULT), as it would a program's load
    const keySize = m.type === BPF_MAP_TYPE.ARRAY ? 4 : m.keySize;
    f.get(KEY).op(OP.i64_extend_i32_u).memBytes64().i64(keySize).op(OP.i64_sub).op(OP.i64_gt_u);
    f.op(OP.if).byte(VOID).i32(-1).op(OP.return).op(OP.end);
    if (m.type === BPF_MAP_TYPE.ARRAY) arrayLookup(f, m, cpuWord);
    else hashLookup(f, m, cpuWord, pin ? runWord : undefined);
    f.op(OP.end);
  }
  // not a map of this program: the helper reports it
  f.i32(-1);
  return f;
}

/** key < max_entries ? base + key * stride (+ the CPU's block, per-CPU) : 0 */
function arrayLookup(f: F, m: JitArrayLayout, cpuWord: number): void {
  f.get(KEY).load().tee(I).u(m.maxEntries).op(OP.i32_ge_u).op(OP.if).byte(VOID).i32(0).op(OP.return).op(OP.end);
  f.get(I).u(m.stride).op(OP.i32_mul).u(m.base).op(OP.i32_add);
  if (m.ncpus !== undefined) {
    cpuOffset(f, cpuWord, m.ncpus, m.maxEntries * m.stride);
    f.op(OP.i32_add);
  }
  f.op(OP.return);
}

/** c = jhash(key, key_size, 0), as maps/jhash.ts. */
function jhash(f: F, keySize: number): void {
  f.u((JHASH_INITVAL + keySize) >>> 0).tee(A).tee(B).set(C);
  // while more than 12 bytes remain: mix a block of three words
  const blocks = keySize > 12 ? Math.ceil((keySize - 12) / 12) : 0;
  const mix = (p: number, off: number): void => {
    f.get(A).get(p).load(off).op(OP.i32_add).set(A);
    f.get(B).get(p).load(off + 4).op(OP.i32_add).set(B);
    f.get(C).get(p).load(off + 8).op(OP.i32_add).set(C);
    // __jhash_mix
    f.sub(A, C).xrol(A, C, 4).add(C, B);
    f.sub(B, A).xrol(B, A, 6).add(A, C);
    f.sub(C, B).xrol(C, B, 8).add(B, A);
    f.sub(A, C).xrol(A, C, 16).add(C, B);
    f.sub(B, A).xrol(B, A, 19).add(A, C);
    f.sub(C, B).xrol(C, B, 4).add(B, A);
  };
  let p = KEY;
  let off = 0;
  if (blocks <= UNROLL_BLOCKS) {
    for (let i = 0; i < blocks; i++) mix(KEY, 12 * i);
    off = 12 * blocks;
  } else {
    f.get(KEY).set(K).i32(blocks).set(N);
    f.op(OP.loop).byte(VOID);
    mix(K, 0);
    f.get(K).i32(12).op(OP.i32_add).set(K);
    f.get(N).i32(1).op(OP.i32_sub).tee(N).op(OP.br_if).u32(0);
    f.op(OP.end);
    p = K;
  }
  // The tail (1..12 bytes): the kernel adds bytes k[n-1]..k[0] into c, b, a, each shifted to its
  // place in its word; the bytes of a word occupy disjoint bits, so that is the little-endian
  // value of the word's bytes.
  const n = keySize - 12 * blocks;
  for (const [w, x] of [[0, A], [1, B], [2, C]] as const) {
    const m = Math.min(4, n - 4 * w);
    if (m > 0) f.get(x).partial(p, off + 4 * w, m).op(OP.i32_add).set(x);
  }
  // __jhash_final
  f.xor(C, B).srol(C, B, 14);
  f.xor(A, C).srol(A, C, 11);
  f.xor(B, A).srol(B, A, 25);
  f.xor(C, B).srol(C, B, 16);
  f.xor(A, C).srol(A, C, 4);
  f.xor(B, A).srol(B, A, 14);
  f.xor(C, B).srol(C, B, 24);
}

/**
 * Inside a block: br 0 (out of it) unless the key_size bytes at E (the
 * element) equal those at KEY. Uses K.
 */
function compareKey(f: F, keySize: number): void {
  let done = 0;
  if (keySize > UNROLL_COMPARE) {
    const words = Math.floor(keySize / 8);
    f.i32(0).set(K);
    f.op(OP.loop).byte(VOID);
    f.get(E).get(K).op(OP.i32_add).load64().get(KEY).get(K).op(OP.i32_add).load64().op(OP.i64_ne).op(OP.br_if).u32(1);
    f.get(K).i32(8).op(OP.i32_add).tee(K).i32(words * 8).op(OP.i32_lt_u).op(OP.br_if).u32(0);
    f.op(OP.end);
    done = words * 8;
  }
  while (done < keySize) {
    const left = keySize - done;
    if (left >= 8) {
      f.get(E).load64(done).get(KEY).load64(done).op(OP.i64_ne);
      done += 8;
    } else {
      const m = Math.min(4, left);
      f.partial(E, done, m).partial(KEY, done, m).op(OP.i32_ne);
      done += m;
    }
    f.op(OP.br_if).u32(0);
  }
}

/** Walk the key's bucket in the mirror, bounded and range-checked. */
function hashLookup(f: F, m: JitHashLayout, cpuWord: number, runWord: number | undefined): void {
  jhash(f, m.keySize);
  // i = heads[c & mask]; J: steps left
  f.get(C).u(m.nBuckets - 1).op(OP.i32_and).i32(2).op(OP.i32_shl).load(m.heads).set(I);
  f.u(m.cap).set(J);
  f.op(OP.block).byte(VOID); // inconsistent: br here
  f.op(OP.loop).byte(VOID);
  // the end of the chain: absent
  f.get(I).i32(-1).op(OP.i32_eq).op(OP.if).byte(VOID).i32(0).op(OP.return).op(OP.end);
  // not an element, or more steps than elements: a rewritten mirror
  f.get(I).u(m.cap).op(OP.i32_ge_u).op(OP.br_if).u32(1);
  f.get(J).op(OP.i32_eqz).op(OP.br_if).u32(1);
  f.get(J).i32(1).op(OP.i32_sub).set(J);
  f.get(I).i32(2).op(OP.i32_shl).load(m.hashes).get(C).op(OP.i32_eq).op(OP.if).byte(VOID);
  f.get(I).u(m.stride).op(OP.i32_mul).u(m.base).op(OP.i32_add).set(E);
  f.op(OP.block).byte(VOID);
  compareKey(f, m.keySize);
  // found: pin it for the current run (not in a shared memory, whose maps reuse by epochs: the
  // write would only move the element's cache line between the threads' cores), return the value
  if (runWord !== undefined) f.get(I).i32(2).op(OP.i32_shl).i32(runWord).load().byte(OP.i32_store).u32(0).u32(m.pinned >>> 0);
  f.get(E).u(m.valueOff).op(OP.i32_add);
  if (m.perCpu) {
    cpuOffset(f, cpuWord, m.perCpu.ncpus, m.perCpu.cpuStride);
    f.op(OP.i32_add);
  }
  f.op(OP.return);
  f.op(OP.end); // compare
  f.op(OP.end); // if hash
  f.get(I).i32(2).op(OP.i32_shl).load(m.next).set(I);
  f.op(OP.br).u32(0);
  f.op(OP.end); // loop
  f.op(OP.end); // block
  // the helper answers from the authoritative links, and rewrites the mirror
  f.u(m.suspect).i32(1).byte(OP.i32_store).u32(0).u32(0);
  f.i32(-1).op(OP.return);
}
