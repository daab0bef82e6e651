/**
 * bpf_map_lookup_elem in WebAssembly, so a program's lookups never leave
 * compiled code: lookup(map, key) -> the value's address, 0 when the key is
 * absent, or -1 when the map is not one this code knows (the caller then
 * calls the JavaScript helper, which also reports a bad map pointer).
 *
 * It reads the header maps keep at their address (maps/map.ts, MAP_HDR):
 * an array map is a bounds-checked index; a hash map hashes the key with
 * 3.19's jhash (lookup3, the same words as maps/jhash.ts), walks its bucket
 * comparing hash and key bytes, and, inside a run, records the run
 * generation in the element's pin word, exactly as HashMap.lookup does.
 */

import { MAP_HDR, MAP_MAGIC } from '../maps/map.js';
import { RUN_GEN_ADDR } from '../runtime/memory.js';
import { Emitter, OP, VOID } from './wasm.js';

// params
const MAP = 0;
const KEY = 1;
// i32 locals
const KS = 2;
const A = 3;
const B = 4;
const C = 5;
const N = 6;
const K = 7;
const I = 8;
const E = 9;
const J = 10;
/** i32 locals of the lookup function, after its two parameters */
export const LOOKUP_LOCALS = 9;

const HASH = 1;
const ARRAY = 2;
const JHASH_INITVAL = 0xdeadbeef | 0;

class F extends Emitter {
  load(offset = 0): this {
    return this.byte(OP.i32_load).u32(0).u32(offset);
  }
  load8(offset = 0): this {
    return this.byte(OP.i32_load8_u).u32(0).u32(offset);
  }
  /** a header word of the map */
  hdr(field: number): this {
    return this.get(MAP).load(field);
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
}

/** The body of lookup(map: i32, key: i32) -> i32. */
export function mapLookupFunction(): Emitter {
  const f = new F();
  // not a map this code knows: the slow path
  f.hdr(MAP_HDR.MAGIC).i32(MAP_MAGIC).op(OP.i32_ne).op(OP.if).byte(VOID).i32(-1).op(OP.return).op(OP.end);
  // array: key < max_entries ? base + key * stride : 0
  f.hdr(MAP_HDR.TYPE).i32(ARRAY).op(OP.i32_eq).op(OP.if).byte(VOID);
  f.get(KEY).load().tee(I).hdr(MAP_HDR.MAX_ENTRIES).op(OP.i32_ge_u).op(OP.if).byte(VOID).i32(0).op(OP.return).op(OP.end);
  f.hdr(MAP_HDR.BASE).get(I).hdr(MAP_HDR.STRIDE).op(OP.i32_mul).op(OP.i32_add).op(OP.return);
  f.op(OP.end);
  f.hdr(MAP_HDR.TYPE).i32(HASH).op(OP.i32_ne).op(OP.if).byte(VOID).i32(-1).op(OP.return).op(OP.end);

  // jhash(key, key_size, 0)
  f.hdr(MAP_HDR.KEY_SIZE).tee(KS).tee(N).i32(JHASH_INITVAL).op(OP.i32_add).tee(A).tee(B).set(C);
  f.get(KEY).set(K);
  f.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
  f.get(N).i32(12).op(OP.i32_le_u).op(OP.br_if).u32(1);
  f.get(A).get(K).load(0).op(OP.i32_add).set(A);
  f.get(B).get(K).load(4).op(OP.i32_add).set(B);
  f.get(C).get(K).load(8).op(OP.i32_add).set(C);
  // __jhash_mix
  f.sub(A, C).xrol(A, C, 4).add(C, B);
  f.sub(B, A).xrol(B, A, 6).add(A, C);
  f.sub(C, B).xrol(C, B, 8).add(B, A);
  f.sub(A, C).xrol(A, C, 16).add(C, B);
  f.sub(B, A).xrol(B, A, 19).add(A, C);
  f.sub(C, B).xrol(C, B, 4).add(B, A);
  f.get(N).i32(12).op(OP.i32_sub).set(N).get(K).i32(12).op(OP.i32_add).set(K);
  f.op(OP.br).u32(0);
  f.op(OP.end).op(OP.end);
  f.get(N).op(OP.if).byte(VOID);
  // the tail: bytes n-1 .. 0 into c, b, a, each shifted by its place in its word
  f.get(N).i32(1).op(OP.i32_sub).set(J);
  f.op(OP.loop).byte(VOID);
  f.get(K).get(J).op(OP.i32_add).load8().get(J).i32(3).op(OP.i32_and).i32(3).op(OP.i32_shl).op(OP.i32_shl).set(E);
  f.get(J).i32(8).op(OP.i32_ge_u).op(OP.if).byte(VOID).add(C, E)
    .op(OP.else).get(J).i32(4).op(OP.i32_ge_u).op(OP.if).byte(VOID).add(B, E).op(OP.else).add(A, E).op(OP.end)
    .op(OP.end);
  f.get(J).i32(1).op(OP.i32_sub).tee(J).i32(0).op(OP.i32_ge_s).op(OP.br_if).u32(0);
  f.op(OP.end);
  // __jhash_final
  f.xor(C, B).srol(C, B, 14);
  f.xor(A, C).srol(A, C, 11);
  f.xor(B, A).srol(B, A, 25);
  f.xor(C, B).srol(C, B, 16);
  f.xor(A, C).srol(A, C, 4);
  f.xor(B, A).srol(B, A, 14);
  f.xor(C, B).srol(C, B, 24);
  f.op(OP.end);

  // the bucket: i = heads[hash & mask]; walk next[] comparing hash, then key bytes
  f.hdr(MAP_HDR.HEADS).get(C).hdr(MAP_HDR.MASK).op(OP.i32_and).i32(2).op(OP.i32_shl).op(OP.i32_add).load().set(I);
  f.op(OP.loop).byte(VOID);
  f.get(I).i32(0).op(OP.i32_lt_s).op(OP.if).byte(VOID).i32(0).op(OP.return).op(OP.end);
  f.hdr(MAP_HDR.HASHES).get(I).i32(2).op(OP.i32_shl).op(OP.i32_add).load().get(C).op(OP.i32_eq).op(OP.if).byte(VOID);
  f.hdr(MAP_HDR.BASE).get(I).hdr(MAP_HDR.STRIDE).op(OP.i32_mul).op(OP.i32_add).set(E);
  // compare: words while 4 bytes remain, then bytes; J counts bytes compared
  f.i32(0).set(J);
  f.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
  f.get(J).i32(4).op(OP.i32_add).get(KS).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  f.get(E).get(J).op(OP.i32_add).load().get(KEY).get(J).op(OP.i32_add).load().op(OP.i32_ne).op(OP.br_if).u32(1);
  f.get(J).i32(4).op(OP.i32_add).set(J).op(OP.br).u32(0);
  f.op(OP.end).op(OP.end);
  f.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
  f.get(J).get(KS).op(OP.i32_ge_u).op(OP.br_if).u32(1);
  f.get(E).get(J).op(OP.i32_add).load8().get(KEY).get(J).op(OP.i32_add).load8().op(OP.i32_ne).op(OP.br_if).u32(1);
  f.get(J).i32(1).op(OP.i32_add).set(J).op(OP.br).u32(0);
  f.op(OP.end).op(OP.end);
  f.get(J).get(KS).op(OP.i32_eq).op(OP.if).byte(VOID);
  // found: pin it for the current run, return the value
  f.hdr(MAP_HDR.IN_RUN).op(OP.if).byte(VOID)
    .hdr(MAP_HDR.PINNED).get(I).i32(2).op(OP.i32_shl).op(OP.i32_add).i32(RUN_GEN_ADDR).load().op(OP.i32_store).u32(0).u32(0)
    .op(OP.end);
  f.get(E).hdr(MAP_HDR.KEY_ROUND).op(OP.i32_add).op(OP.return);
  f.op(OP.end);
  f.op(OP.end);
  f.hdr(MAP_HDR.NEXT).get(I).i32(2).op(OP.i32_shl).op(OP.i32_add).load().set(I);
  f.op(OP.br).u32(0);
  f.op(OP.end);
  f.op(OP.unreachable);
  return f;
}
