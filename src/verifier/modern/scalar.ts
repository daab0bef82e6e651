/**
 * The scalar domain of the modern verifier profile: what the verifier knows
 * of a register that holds a number, as the modern kernel tracks it (its
 * bpf_reg_state for SCALAR_VALUE): a tnum (known bits) plus signed and
 * unsigned bounds over 64 bits and over the low 32 bits, kept consistent
 * with each other after every operation by `sync` (the kernel's
 * reg_bounds_sync). It owns the transfer of every ALU/ALU64 operation on two
 * scalars (adjust_scalar_min_max_vals, mov/movsx, the byte swaps), branch
 * prediction and narrowing for every JMP/JMP32 condition (is_branch_taken,
 * reg_set_min_max), the bounds sanity check, the containment test that
 * pruning needs (range_within with tnum_in), and the text the modern log
 * prints for a scalar. It knows nothing of pointers, ids, precision marks,
 * liveness or states: those belong to the walker that uses it.
 *
 * A Scalar is treated as immutable: every function here returns a new one
 * (or one of its arguments) and never changes its arguments, so a verifier
 * state can share Scalars between copies. The bounds are int32 halves, as
 * the tnums are (tnum.ts says why); u32 bounds and the low halves hold the
 * bit pattern as int32 and are compared with `>>> 0`.
 *
 * Where the kernel gives up (division and modulo, shifts by a non-constant
 * or by the width or more), the result is unknown, as it is there.
 */

import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET,
  BPF_END, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH,
  BPF_SUB, BPF_XOR,
  swapJmpOperands,
} from '../../isa/opcodes.js';
import { InternalError } from '../../errors.js';
import {
  add64, hex64, hiOf, loOf, mul64, r64, s64Of, sar64, shl64, shr64, slt64, sub64, Tnum, TNUM_UNKNOWN, tnumAdd,
  tnumAnd, tnumArshift, tnumBswap16, tnumBswap32, tnumBswap64, tnumCast, tnumConstHL,
  tnumConstSubreg, tnumIn, tnumIntersect, tnumIsConst, tnumIsUnknown, tnumLshift, tnumMul, tnumNeg, tnumOr,
  tnumOverlap, tnumRangeHL, tnumRshift, tnumStep, tnumStr, tnumSub, tnumSubreg, tnumWithSubreg, tnumXor, u64Of, ult64,
} from './tnum.js';

const S32_MIN = -0x80000000;
const S32_MAX = 0x7fffffff;
const S64_MIN_HI = -0x80000000;

/** What the verifier knows of a number register; see the file comment. */
export class Scalar {
  constructor(
    public varOff: Tnum,
    public sminH: number, public sminL: number,
    public smaxH: number, public smaxL: number,
    public uminH: number, public uminL: number,
    public umaxH: number, public umaxL: number,
    public s32min: number, public s32max: number,
    public u32min: number, public u32max: number,
  ) {}

  get smin(): bigint { return s64Of(this.sminH, this.sminL); }
  get smax(): bigint { return s64Of(this.smaxH, this.smaxL); }
  get umin(): bigint { return u64Of(this.uminH, this.uminL); }
  get umax(): bigint { return u64Of(this.umaxH, this.umaxL); }
  get smin32(): number { return this.s32min; }
  get smax32(): number { return this.s32max; }
  get umin32(): number { return this.u32min >>> 0; }
  get umax32(): number { return this.u32max >>> 0; }
  /** whether the value is known (all 64 bits) */
  get isConst(): boolean { return tnumIsConst(this.varOff); }
  /** the value as an unsigned bigint; meaningful when isConst */
  get value(): bigint { return this.varOff.value; }
}

function copy(s: Scalar): Scalar {
  return new Scalar(s.varOff, s.sminH, s.sminL, s.smaxH, s.smaxL, s.uminH, s.uminL, s.umaxH, s.umaxL,
    s.s32min, s.s32max, s.u32min, s.u32max);
}

/** `to` made a copy of `s` in place (a scratch scalar, never handed out); returns `to`. */
function copyInto(to: Scalar, s: Scalar): Scalar {
  to.varOff = s.varOff;
  to.sminH = s.sminH; to.sminL = s.sminL; to.smaxH = s.smaxH; to.smaxL = s.smaxL;
  to.uminH = s.uminH; to.uminL = s.uminL; to.umaxH = s.umaxH; to.umaxL = s.umaxL;
  to.s32min = s.s32min; to.s32max = s.s32max; to.u32min = s.u32min; to.u32max = s.u32max;
  return to;
}

/** A completely unknown scalar (the kernel's __mark_reg_unknown). */
export const SCALAR_UNKNOWN: Scalar = new Scalar(TNUM_UNKNOWN, S64_MIN_HI, 0, S32_MAX, -1, 0, 0, -1, -1, S32_MIN, S32_MAX, 0, -1);

/** A known 64-bit value from its halves (___mark_reg_known). */
export function scalarConstHL(hi: number, lo: number): Scalar {
  hi |= 0;
  lo |= 0;
  return new Scalar(tnumConstHL(hi, lo), hi, lo, hi, lo, hi, lo, hi, lo, lo, lo, lo, lo);
}

/** A known value (modulo 2^64; negative numbers are two's complement). */
export function scalarConst(v: bigint): Scalar {
  return scalarConstHL(hiOf(v), loOf(v));
}

/** The value of an instruction's imm, sign-extended to 64 bits as BPF_K operands are. */
export function scalarImm(imm: number): Scalar {
  return scalarConstHL(imm >> 31, imm);
}

export interface ScalarParts {
  varOff?: Tnum;
  smin?: bigint;
  smax?: bigint;
  umin?: bigint;
  umax?: bigint;
  smin32?: number;
  smax32?: number;
  umin32?: number;
  umax32?: number;
}

/**
 * A scalar from what is known (each part left out is unbounded), made
 * consistent by sync. The parts must all hold some common value.
 */
export function scalarFrom(p: ScalarParts): Scalar {
  const r = copy(SCALAR_UNKNOWN);
  if (p.varOff) r.varOff = p.varOff;
  if (p.smin !== undefined) { r.sminH = hiOf(p.smin); r.sminL = loOf(p.smin); }
  if (p.smax !== undefined) { r.smaxH = hiOf(p.smax); r.smaxL = loOf(p.smax); }
  if (p.umin !== undefined) { r.uminH = hiOf(p.umin); r.uminL = loOf(p.umin); }
  if (p.umax !== undefined) { r.umaxH = hiOf(p.umax); r.umaxL = loOf(p.umax); }
  if (p.smin32 !== undefined) r.s32min = p.smin32 | 0;
  if (p.smax32 !== undefined) r.s32max = p.smax32 | 0;
  if (p.umin32 !== undefined) r.u32min = p.umin32 | 0;
  if (p.umax32 !== undefined) r.u32max = p.umax32 | 0;
  sync(r);
  return r;
}

// ---- the pieces of bounds bookkeeping, all in place on a fresh copy ----

function unbounded64(r: Scalar): void {
  r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1;
  r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1;
}

function unbounded32(r: Scalar): void {
  r.s32min = S32_MIN; r.s32max = S32_MAX; r.u32min = 0; r.u32max = -1;
}

function markKnown(r: Scalar, hi: number, lo: number): void {
  r.varOff = tnumConstHL(hi, lo);
  r.sminH = r.smaxH = r.uminH = r.umaxH = hi;
  r.sminL = r.smaxL = r.uminL = r.umaxL = lo;
  r.s32min = r.s32max = r.u32min = r.u32max = lo;
}

function markKnown32(r: Scalar, lo: number): void {
  r.varOff = tnumConstSubreg(r.varOff, lo);
  r.s32min = r.s32max = r.u32min = r.u32max = lo;
}

const umax32 = (a: number, b: number): number => (a >>> 0 >= b >>> 0 ? a : b);
const umin32 = (a: number, b: number): number => (a >>> 0 <= b >>> 0 ? a : b);

/** Bounds implied by the known bits (__update_reg32_bounds / __update_reg64_bounds). */
function updateBounds(r: Scalar): void {
  const t = r.varOff;
  // 32: the smallest signed member sets the sign bit if it is unknown; the largest clears it
  r.s32min = Math.max(r.s32min, t.vlo | (t.mlo & S32_MIN));
  r.s32max = Math.min(r.s32max, t.vlo | (t.mlo & S32_MAX));
  r.u32min = umax32(r.u32min, t.vlo);
  r.u32max = umin32(r.u32max, t.vlo | t.mlo);
  // 64
  let h = t.vhi | (t.mhi & S64_MIN_HI), l = t.vlo;
  if (slt64(r.sminH, r.sminL, h, l)) { r.sminH = h; r.sminL = l; }
  h = t.vhi | (t.mhi & S32_MAX); l = t.vlo | t.mlo;
  if (slt64(h, l, r.smaxH, r.smaxL)) { r.smaxH = h; r.smaxL = l; }
  if (ult64(r.uminH, r.uminL, t.vhi, t.vlo)) { r.uminH = t.vhi; r.uminL = t.vlo; }
  const th = t.vhi | t.mhi, tl = t.vlo | t.mlo;
  if (ult64(th, tl, r.umaxH, r.umaxL)) { r.umaxH = th; r.umaxL = tl; }
  // the u64 range may meet the tnum in one value only: then that is the value
  tnumStep(t, r.uminH, r.uminL);
  const nh = r64.hi, nl = r64.lo;
  const uminIn = (r.uminH & ~t.mhi) === t.vhi && (r.uminL & ~t.mlo) === t.vlo;
  if (uminIn) {
    if (ult64(r.umaxH, r.umaxL, nh, nl)) markKnown(r, r.uminH, r.uminL);
  } else if (nh === th && nl === tl) {
    markKnown(r, th, tl);
  } else if (!ult64(r.umaxH, r.umaxL, nh, nl)) {
    tnumStep(t, nh, nl);
    if (ult64(r.umaxH, r.umaxL, r64.hi, r64.lo)) markKnown(r, nh, nl);
  }
}

function raiseS32(r: Scalar, lo: number, hi: number): void {
  if (lo > r.s32min) r.s32min = lo;
  if (hi < r.s32max) r.s32max = hi;
}

/** The 32-bit bounds from the 64-bit ones and from each other (__reg32_deduce_bounds). */
function deduce32(r: Scalar): void {
  // the upper halves of the u64 bounds are equal: the low halves bound the subregister
  if (r.uminH === r.umaxH) {
    r.u32min = umax32(r.u32min, r.uminL);
    r.u32max = umin32(r.u32max, r.umaxL);
    if ((r.uminL | 0) <= (r.umaxL | 0)) raiseS32(r, r.uminL | 0, r.umaxL | 0);
  }
  if (r.sminH === r.smaxH) {
    r.u32min = umax32(r.u32min, r.sminL);
    r.u32max = umin32(r.u32max, r.smaxL);
    if ((r.sminL | 0) <= (r.smaxL | 0)) raiseS32(r, r.sminL | 0, r.smaxL | 0);
  }
  // upper halves N and N+1 with the low halves crossing 0x80000000 going up: the
  // subregister runs from a negative s32 through -1, 0 to a positive one
  if (((r.uminH + 1) | 0) === r.umaxH && (r.uminL | 0) < 0 && (r.umaxL | 0) >= 0) raiseS32(r, r.uminL | 0, r.umaxL | 0);
  if (((r.sminH + 1) | 0) === r.smaxH && (r.sminL | 0) < 0 && (r.smaxL | 0) >= 0) raiseS32(r, r.sminL | 0, r.smaxL | 0);
  // a u32 range on one side of the sign bit is an s32 range, and the reverse
  if ((r.u32min | 0) <= (r.u32max | 0)) raiseS32(r, r.u32min | 0, r.u32max | 0);
  if (r.s32min >>> 0 <= r.s32max >>> 0) {
    r.u32min = umax32(r.u32min, r.s32min);
    r.u32max = umin32(r.u32max, r.s32max);
  } else if (r.u32max >>> 0 < r.s32min >>> 0) {
    // the s32 range wraps as u32 ([s32min, -1] and [0, s32max]) and the u32 range meets
    // only its non-negative part (the 6.18 kernel does this for 32 bits as for 64)
    r.s32min = r.u32min | 0;
    r.u32max = umin32(r.u32max, r.s32max);
  } else if (r.s32max >>> 0 < r.u32min >>> 0) {
    // ... or only its negative part
    r.s32max = r.u32max | 0;
    r.u32min = umax32(r.u32min, r.s32min);
  }
}

/** The signed and unsigned 64-bit bounds from each other (__reg64_deduce_bounds). */
function deduce64(r: Scalar): void {
  // a u64 range on one side of the sign bit is an s64 range
  if (!slt64(r.umaxH, r.umaxL, r.uminH, r.uminL)) {
    if (slt64(r.sminH, r.sminL, r.uminH, r.uminL)) { r.sminH = r.uminH; r.sminL = r.uminL; }
    if (slt64(r.umaxH, r.umaxL, r.smaxH, r.smaxL)) { r.smaxH = r.umaxH; r.smaxL = r.umaxL; }
  }
  if (!ult64(r.smaxH, r.smaxL, r.sminH, r.sminL)) {
    // an s64 range on one side of the sign bit is a u64 range
    if (ult64(r.uminH, r.uminL, r.sminH, r.sminL)) { r.uminH = r.sminH; r.uminL = r.sminL; }
    if (ult64(r.smaxH, r.smaxL, r.umaxH, r.umaxL)) { r.umaxH = r.smaxH; r.umaxL = r.smaxL; }
  } else if (ult64(r.umaxH, r.umaxL, r.sminH, r.sminL)) {
    // the s64 range wraps (its members are [smin, -1] and [0, smax] as u64) and the u64
    // range meets only its non-negative part
    r.sminH = r.uminH; r.sminL = r.uminL;
    if (ult64(r.smaxH, r.smaxL, r.umaxH, r.umaxL)) { r.umaxH = r.smaxH; r.umaxL = r.smaxL; }
  } else if (ult64(r.smaxH, r.smaxL, r.uminH, r.uminL)) {
    // ... or only its negative part
    r.smaxH = r.umaxH; r.smaxL = r.umaxL;
    if (ult64(r.uminH, r.uminL, r.sminH, r.sminL)) { r.uminH = r.sminH; r.uminL = r.sminL; }
  }
}

/** The 64-bit bounds from the 32-bit ones (__reg_deduce_mixed_bounds). */
function deduceMixed(r: Scalar): void {
  // the u32 bounds replace the low halves of the 64-bit bounds where that tightens them
  if (ult64(r.uminH, r.uminL, r.uminH, r.u32min)) r.uminL = r.u32min;
  if (ult64(r.umaxH, r.u32max, r.umaxH, r.umaxL)) r.umaxL = r.u32max;
  if (slt64(r.sminH, r.sminL, r.sminH, r.u32min)) r.sminL = r.u32min;
  if (slt64(r.smaxH, r.u32max, r.smaxH, r.smaxL)) r.smaxL = r.u32max;
  // a 64-bit value within s32 range with a non-negative s32 subregister is that subregister
  // (the upper half is the sign extension of bit 31, which is 0)
  if (r.s32min >= 0 && !slt64(r.sminH, r.sminL, -1, S32_MIN) && !slt64(0, S32_MAX, r.smaxH, r.smaxL)) {
    r.sminH = 0; r.sminL = r.s32min; r.smaxH = 0; r.smaxL = r.s32max;
    r.uminH = 0; r.uminL = r.s32min; r.umaxH = 0; r.umaxL = r.s32max;
    intersectRange(r, 0, r.s32min, 0, r.s32max);
  }
}

/**
 * r.varOff = tnum_intersect(r.varOff, tnum_range(min, max)) in place: the bits
 * above the highest bit where min and max differ are known. Allocates only
 * when the tnum changes (this runs several times in every sync).
 */
function intersectRange(r: Scalar, minH: number, minL: number, maxH: number, maxL: number): void {
  const dh = minH ^ maxH, dl = minL ^ maxL;
  if (dh < 0) return; // the range differs in bit 63: tnum_range is unknown
  const bits = dh !== 0 ? 64 - Math.clz32(dh) : 32 - Math.clz32(dl);
  const kh = bits > 32 ? -1 >>> (64 - bits) : 0, kl = bits >= 32 ? -1 : bits === 0 ? 0 : -1 >>> (32 - bits);
  const t = r.varOff;
  const mh = t.mhi & kh, ml = t.mlo & kl;
  const vh = (t.vhi | (minH & ~kh)) & ~mh, vl = (t.vlo | (minL & ~kl)) & ~ml;
  if (vh !== t.vhi || vl !== t.vlo || mh !== t.mhi || ml !== t.mlo) r.varOff = new Tnum(vh, vl, mh, ml);
}

/** Known bits implied by the unsigned bounds (__reg_bound_offset). */
function boundOffset(r: Scalar): void {
  intersectRange(r, r.uminH, r.uminL, r.umaxH, r.umaxL);
  // then the subregister with the u32 range (the upper half unchanged)
  const d32 = r.u32min ^ r.u32max;
  if (d32 < 0) return;
  const bits = 32 - Math.clz32(d32);
  const k = bits === 0 ? 0 : -1 >>> (32 - bits);
  const t = r.varOff;
  const ml = t.mlo & k, vl = (t.vlo | (r.u32min & ~k)) & ~ml;
  if (vl !== t.vlo || ml !== t.mlo) r.varOff = new Tnum(t.vhi, vl, t.mhi, ml);
}

/**
 * Make every part agree with the others (reg_bounds_sync), in place. The
 * deduction runs three times: with two (the kernel source we read) the host's
 * 6.18 kernel still learns more after a JMP32 narrowing (a u32 bound from a
 * 64-bit range found in the second round); three matches its logs in every
 * case of the differential run (see the commit message).
 */
function sync(r: Scalar): void {
  updateBounds(r);
  // A small non-negative range, the same in all four views ([a, b] with 0 <= a <= b < 2^31,
  // upper halves 0; a loop's counter or sum): deduce32 and deduce64 change nothing there,
  // deduceMixed only intersects the tnum with [a, b] (the same range again in a second round:
  // no change, the rounds end), and boundOffset's two intersections with that range change
  // nothing more. So the rounds and boundOffset come to that one intersection.
  const a = r.uminL, b = r.umaxL;
  if (a >= 0 && b >= a && r.uminH === 0 && r.umaxH === 0 && r.sminH === 0 && r.smaxH === 0 &&
      r.sminL === a && r.smaxL === b && r.s32min === a && r.s32max === b && r.u32min === a && r.u32max === b &&
      r.varOff.vhi === 0 && r.varOff.mhi === 0) {
    intersectRange(r, 0, a, 0, b);
    updateBounds(r);
    return;
  }
  // a round that changes nothing ends the rounds (the rest would change nothing either)
  for (let round = 0; round < 3; round++) {
    const a = r.sminH, b = r.sminL, c = r.smaxH, d = r.smaxL, e = r.uminH, f = r.uminL, g = r.umaxH, h = r.umaxL;
    const i = r.s32min, j = r.s32max, k = r.u32min, l = r.u32max, t = r.varOff;
    deduce32(r); deduce64(r); deduceMixed(r);
    if (a === r.sminH && b === r.sminL && c === r.smaxH && d === r.smaxL && e === r.uminH && f === r.uminL &&
        g === r.umaxH && h === r.umaxL && i === r.s32min && j === r.s32max && k === r.u32min && l === r.u32max &&
        t === r.varOff) break;
  }
  boundOffset(r);
  updateBounds(r);
}

/**
 * The scalar made consistent (reg_bounds_sync). Every function here already
 * returns synced values; this is for a walker that builds one by hand.
 */
export function scalarSync(s: Scalar): Scalar {
  const r = copy(s);
  sync(r);
  return r;
}

/** The 32-bit result of an ALU32 operation as the 64-bit register (zext_32_to_64), in place. */
function zext(r: Scalar): void {
  r.varOff = tnumSubreg(r.varOff);
  r.uminH = 0; r.uminL = r.u32min; r.umaxH = 0; r.umaxL = r.u32max;
  // the s32 bounds carry over only when both are non-negative; else tnum and u32 refine later
  if (r.s32min >= 0 && r.s32max >= 0) {
    r.sminH = 0; r.sminL = r.s32min; r.smaxH = 0; r.smaxL = r.s32max;
  } else {
    r.sminH = 0; r.sminL = 0; r.smaxH = 0; r.smaxL = -1;
  }
}

/** zext_32_to_64 then sync: the 64-bit register after a 32-bit write of s. */
export function scalarZext32(s: Scalar): Scalar {
  const r = copy(s);
  zext(r);
  sync(r);
  return r;
}

// ---- ALU: bounds of each operation (scalar*_min_max_*) ----

function add32(r: Scalar, s: Scalar): void {
  const a = r.s32min + s.s32min, b = r.s32max + s.s32max;
  if (a < S32_MIN || a > S32_MAX || b < S32_MIN || b > S32_MAX) { r.s32min = S32_MIN; r.s32max = S32_MAX; }
  else { r.s32min = a; r.s32max = b; }
  const lo = (r.u32min >>> 0) + (s.u32min >>> 0), hi = (r.u32max >>> 0) + (s.u32max >>> 0);
  // all sums wrap or none does: the bounds stay in order; only some wrap: anything
  if (lo <= 0xffffffff && hi > 0xffffffff) { r.u32min = 0; r.u32max = -1; }
  else { r.u32min = lo | 0; r.u32max = hi | 0; }
}

function add64s(r: Scalar, s: Scalar): void {
  add64(r.sminH, r.sminL, s.sminH, s.sminL);
  const aH = r64.hi, aL = r64.lo;
  const ovA = ((r.sminH ^ aH) & (s.sminH ^ aH)) < 0;
  add64(r.smaxH, r.smaxL, s.smaxH, s.smaxL);
  const ovB = ((r.smaxH ^ r64.hi) & (s.smaxH ^ r64.hi)) < 0;
  if (ovA || ovB) { r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1; }
  else { r.sminH = aH; r.sminL = aL; r.smaxH = r64.hi; r.smaxL = r64.lo; }
  const cMin = add64(r.uminH, r.uminL, s.uminH, s.uminL);
  const mH = r64.hi, mL = r64.lo;
  const cMax = add64(r.umaxH, r.umaxL, s.umaxH, s.umaxL);
  if (!cMin && cMax) { r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1; }
  else { r.uminH = mH; r.uminL = mL; r.umaxH = r64.hi; r.umaxL = r64.lo; }
}

function sub32(r: Scalar, s: Scalar): void {
  const a = r.s32min - s.s32max, b = r.s32max - s.s32min;
  if (a < S32_MIN || a > S32_MAX || b < S32_MIN || b > S32_MAX) { r.s32min = S32_MIN; r.s32max = S32_MAX; }
  else { r.s32min = a; r.s32max = b; }
  const lo = (r.u32min >>> 0) - (s.u32max >>> 0), hi = (r.u32max >>> 0) - (s.u32min >>> 0);
  if (lo < 0 && hi >= 0) { r.u32min = 0; r.u32max = -1; }
  else { r.u32min = lo | 0; r.u32max = hi | 0; }
}

function sub64s(r: Scalar, s: Scalar): void {
  sub64(r.sminH, r.sminL, s.smaxH, s.smaxL);
  const aH = r64.hi, aL = r64.lo;
  const ovA = ((r.sminH ^ s.smaxH) & (r.sminH ^ aH)) < 0;
  sub64(r.smaxH, r.smaxL, s.sminH, s.sminL);
  const ovB = ((r.smaxH ^ s.sminH) & (r.smaxH ^ r64.hi)) < 0;
  if (ovA || ovB) { r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1; }
  else { r.sminH = aH; r.sminL = aL; r.smaxH = r64.hi; r.smaxL = r64.lo; }
  const bMin = sub64(r.uminH, r.uminL, s.umaxH, s.umaxL);
  const mH = r64.hi, mL = r64.lo;
  const bMax = sub64(r.umaxH, r.umaxL, s.uminH, s.uminL);
  if (bMin && !bMax) { r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1; }
  else { r.uminH = mH; r.uminL = mL; r.umaxH = r64.hi; r.umaxL = r64.lo; }
}

function mul32(r: Scalar, s: Scalar): void {
  const hi = (r.u32max >>> 0) * (s.u32max >>> 0), lo = (r.u32min >>> 0) * (s.u32min >>> 0);
  // products of u32s stay exact in a double below 2^53; any above 2^32 overflowed
  if (hi > 0xffffffff || lo > 0xffffffff) { r.u32min = 0; r.u32max = -1; }
  else { r.u32min = lo | 0; r.u32max = hi | 0; }
  const p0 = r.s32min * s.s32min, p1 = r.s32min * s.s32max, p2 = r.s32max * s.s32min, p3 = r.s32max * s.s32max;
  const mn = Math.min(p0, p1, p2, p3), mx = Math.max(p0, p1, p2, p3);
  if (mn < S32_MIN || mx > S32_MAX) { r.s32min = S32_MIN; r.s32max = S32_MAX; }
  else { r.s32min = mn; r.s32max = mx; }
}

const U64_MAX = (1n << 64n) - 1n;
const S64_MAX = (1n << 63n) - 1n;
const S64_MIN = -(1n << 63n);

/** 64-bit multiplication bounds; exact overflow checks in bigint (multiplication is rare). */
function mul64s(r: Scalar, s: Scalar): void {
  const umax = u64Of(r.umaxH, r.umaxL) * u64Of(s.umaxH, s.umaxL);
  const umin = u64Of(r.uminH, r.uminL) * u64Of(s.uminH, s.uminL);
  if (umax > U64_MAX || umin > U64_MAX) { r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1; }
  else { r.uminH = hiOf(umin); r.uminL = loOf(umin); r.umaxH = hiOf(umax); r.umaxL = loOf(umax); }
  const a = s64Of(r.sminH, r.sminL), b = s64Of(r.smaxH, r.smaxL);
  const c = s64Of(s.sminH, s.sminL), d = s64Of(s.smaxH, s.smaxL);
  const p = [a * c, a * d, b * c, b * d];
  let mn = p[0]!, mx = p[0]!;
  for (const x of p) {
    if (x < mn) mn = x;
    if (x > mx) mx = x;
  }
  if (mn < S64_MIN || mx > S64_MAX) { r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1; }
  else { r.sminH = hiOf(mn); r.sminL = loOf(mn); r.smaxH = hiOf(mx); r.smaxL = loOf(mx); }
}

/** and/or/xor over 32 bits, once the tnum is the result's (scalar32_min_max_and/or/xor). */
function bitwise32(r: Scalar, s: Scalar, op: number, dstConst: boolean): void {
  const t = r.varOff;
  if (dstConst && s.varOff.mlo === 0) {
    markKnown32(r, t.vlo);
    return;
  }
  if (op === BPF_AND) {
    // the minimum is the known bits; the maximum is below both operands' maxima
    r.u32min = t.vlo;
    r.u32max = umin32(r.u32max, s.u32max);
  } else if (op === BPF_OR) {
    r.u32min = umax32(r.u32min, s.u32min);
    r.u32max = t.vlo | t.mlo;
  } else {
    r.u32min = t.vlo;
    r.u32max = t.vlo | t.mlo;
  }
  if ((r.u32min | 0) <= (r.u32max | 0)) { r.s32min = r.u32min | 0; r.s32max = r.u32max | 0; }
  else { r.s32min = S32_MIN; r.s32max = S32_MAX; }
}

function bitwise64(r: Scalar, s: Scalar, op: number, dstConst: boolean): void {
  const t = r.varOff;
  if (dstConst && tnumIsConst(s.varOff)) {
    markKnown(r, t.vhi, t.vlo);
    return;
  }
  if (op === BPF_AND) {
    r.uminH = t.vhi; r.uminL = t.vlo;
    if (ult64(s.umaxH, s.umaxL, r.umaxH, r.umaxL)) { r.umaxH = s.umaxH; r.umaxL = s.umaxL; }
  } else if (op === BPF_OR) {
    if (ult64(r.uminH, r.uminL, s.uminH, s.uminL)) { r.uminH = s.uminH; r.uminL = s.uminL; }
    r.umaxH = t.vhi | t.mhi; r.umaxL = t.vlo | t.mlo;
  } else {
    r.uminH = t.vhi; r.uminL = t.vlo;
    r.umaxH = t.vhi | t.mhi; r.umaxL = t.vlo | t.mlo;
  }
  if (!slt64(r.umaxH, r.umaxL, r.uminH, r.uminL)) {
    r.sminH = r.uminH; r.sminL = r.uminL; r.smaxH = r.umaxH; r.smaxL = r.umaxL;
  } else {
    r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1;
  }
}

/** u32 bounds of a left shift by n (0..31 here, or more: then unknown); the s32 bounds are lost. */
function lsh32Bounds(r: Scalar, n: number): void {
  r.s32min = S32_MIN;
  r.s32max = S32_MAX;
  // a bit shifted out of the top loses everything
  if (n > 31 || (r.u32max >>> 0) > 2 ** (31 - n)) { r.u32min = 0; r.u32max = -1; }
  else { r.u32min = r.u32min << n; r.u32max = r.u32max << n; }
}

function lsh64(r: Scalar, n: number): void {
  // <<32 of a non-negative s32 is a common sign-extension idiom (<<32 s>>32): keep its bounds
  if (n === 32 && r.s32max >= 0) { r.smaxH = r.s32max; r.smaxL = 0; } else { r.smaxH = S32_MAX; r.smaxL = -1; }
  if (n === 32 && r.s32min >= 0) { r.sminH = r.s32min; r.sminL = 0; } else { r.sminH = S64_MIN_HI; r.sminL = 0; }
  // umax > 2^(63-n): the top bit may be shifted out
  shl64(0, 1, 63 - n);
  if (ult64(r64.hi, r64.lo, r.umaxH, r.umaxL)) { r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1; }
  else {
    shl64(r.uminH, r.uminL, n); r.uminH = r64.hi; r.uminL = r64.lo;
    shl64(r.umaxH, r.umaxL, n); r.umaxH = r64.hi; r.umaxL = r64.lo;
  }
  lsh32Bounds(r, n);
  r.varOff = tnumLshift(r.varOff, n);
  updateBounds(r);
}

function lsh32(r: Scalar, n: number): void {
  const sub = tnumSubreg(r.varOff);
  lsh32Bounds(r, n);
  r.varOff = tnumSubreg(tnumLshift(sub, n));
  unbounded64(r);
  updateBounds(r);
}

function rsh32(r: Scalar, n: number): void {
  // a logical shift of a possibly negative value: rely on the unsigned bounds and the tnum
  r.s32min = S32_MIN;
  r.s32max = S32_MAX;
  r.varOff = tnumRshift(tnumSubreg(r.varOff), n);
  r.u32min = (r.u32min >>> n) | 0;
  r.u32max = (r.u32max >>> n) | 0;
  unbounded64(r);
  updateBounds(r);
}

function rsh64(r: Scalar, n: number): void {
  r.sminH = S64_MIN_HI; r.sminL = 0; r.smaxH = S32_MAX; r.smaxL = -1;
  r.varOff = tnumRshift(r.varOff, n);
  shr64(r.uminH, r.uminL, n); r.uminH = r64.hi; r.uminL = r64.lo;
  shr64(r.umaxH, r.umaxL, n); r.umaxH = r64.hi; r.umaxL = r64.lo;
  // the subregister gets bits from the upper half: recomputed from the tnum
  unbounded32(r);
  updateBounds(r);
}

function arsh32(r: Scalar, n: number): void {
  r.s32min = r.s32min >> n;
  r.s32max = r.s32max >> n;
  r.varOff = tnumArshift(tnumSubreg(r.varOff), n, 32);
  r.u32min = 0;
  r.u32max = -1;
  unbounded64(r);
  updateBounds(r);
}

function arsh64(r: Scalar, n: number): void {
  sar64(r.sminH, r.sminL, n); r.sminH = r64.hi; r.sminL = r64.lo;
  sar64(r.smaxH, r.smaxL, n); r.smaxH = r64.hi; r.smaxL = r64.lo;
  r.varOff = tnumArshift(r.varOff, n, 64);
  r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1;
  unbounded32(r);
  updateBounds(r);
}

/**
 * Whether the kernel computes a range for this operation (is_safe_to_compute_dst_reg_range):
 * shifts only by a known amount below the width; never division or modulo.
 */
function computable(op: number, alu64: boolean, src: Scalar): boolean {
  switch (op) {
    case BPF_ADD: case BPF_SUB: case BPF_NEG: case BPF_AND: case BPF_XOR: case BPF_OR: case BPF_MUL:
      return true;
    case BPF_LSH: case BPF_RSH: case BPF_ARSH: {
      const known = alu64
        ? tnumIsConst(src.varOff) && src.sminH === src.smaxH && src.sminL === src.smaxL && src.uminH === src.umaxH && src.uminL === src.umaxL
        : src.varOff.mlo === 0 && src.s32min === src.s32max && src.u32min === src.u32max;
      // the 64-bit umax is what the kernel compares, for both widths
      return known && src.umaxH === 0 && (src.umaxL >>> 0) < (alu64 ? 64 : 32);
    }
    default:
      return false;
  }
}

/**
 * dst = dst OP src for a two-operand ALU (alu64 false: ALU32, whose result is
 * zero-extended) with op one of BPF_ADD SUB MUL DIV MOD OR AND XOR LSH RSH
 * ARSH (BPF_OP of the opcode; the signed div/mod of off=1 are DIV/MOD too),
 * or BPF_NEG (src ignored). For a BPF_K operand, src is scalarImm(imm).
 * The kernel's adjust_scalar_min_max_vals.
 */
export function scalarAlu(op: number, alu64: boolean, dst: Scalar, src: Scalar): Scalar {
  if (op === BPF_MOV || op === BPF_END) throw new InternalError(`scalarAlu: op 0x${op.toString(16)} has its own function`);
  if (!computable(op, alu64, src)) return SCALAR_UNKNOWN;
  // Both operands exactly known: the transfer functions below give the result
  // as a constant with every bound equal to it (test/verifier-modern-scalar.test.ts
  // checks the two agree); straight-line code is mostly this, so compute it directly.
  if (isExact(dst, alu64) && isExact(src, alu64)) return constAlu(op, alu64, dst, src);
  return scalarAluGeneric(op, alu64, dst, src);
}

/** A value known exactly in the operation's width: its tnum and its bounds agree on one value. */
function isExact(s: Scalar, alu64: boolean): boolean {
  if (alu64) {
    const t = s.varOff;
    return t.mhi === 0 && t.mlo === 0 && s.sminH === t.vhi && s.sminL === t.vlo && s.smaxH === t.vhi && s.smaxL === t.vlo &&
      s.uminH === t.vhi && s.uminL === t.vlo && s.umaxH === t.vhi && s.umaxL === t.vlo &&
      s.s32min === t.vlo && s.s32max === t.vlo && s.u32min === t.vlo && s.u32max === t.vlo;
  }
  const l = s.varOff.vlo;
  return s.varOff.mlo === 0 && s.s32min === l && s.s32max === l && s.u32min === l && s.u32max === l;
}

/** `dst OP src` of two exact values (isExact), as the constant scalar; ALU32 results zero-extended. */
function constAlu(op: number, alu64: boolean, dst: Scalar, src: Scalar): Scalar {
  return constAluHL(op, alu64, dst.varOff.vhi, dst.varOff.vlo, src.varOff.vhi, src.varOff.vlo) ?? scalarAluGeneric(op, alu64, dst, src);
}

/**
 * scalarAlu(op, alu64, dst, scalarImm(imm)) when dst is exact in the
 * operation's width and op is not a division or modulo (which give an
 * unknown): the constant, without making the immediate's scalar (the
 * walker's BPF_K fast path; straight-line code is mostly this). Undefined
 * when it does not apply. The shift amount must be in range (the walker
 * rejects others before).
 */
export function scalarAluImmExact(op: number, alu64: boolean, dst: Scalar, imm: number): Scalar | undefined {
  if (!isExact(dst, alu64)) return undefined;
  return constAluHL(op, alu64, dst.varOff.vhi, dst.varOff.vlo, imm >> 31, imm | 0);
}

/** constAlu on the operands' halves; undefined for the operations it does not compute (division, modulo). */
function constAluHL(op: number, alu64: boolean, ah: number, al: number, bh: number, bl: number): Scalar | undefined {
  if (!alu64) {
    switch (op) {
      case BPF_ADD: return scalarConstHL(0, al + bl);
      case BPF_SUB: return scalarConstHL(0, al - bl);
      case BPF_NEG: return scalarConstHL(0, -al);
      case BPF_MUL: return scalarConstHL(0, Math.imul(al, bl));
      case BPF_AND: return scalarConstHL(0, al & bl);
      case BPF_OR: return scalarConstHL(0, al | bl);
      case BPF_XOR: return scalarConstHL(0, al ^ bl);
      case BPF_LSH: return scalarConstHL(0, al << bl);
      case BPF_RSH: return scalarConstHL(0, al >>> bl);
      case BPF_ARSH: return scalarConstHL(0, al >> bl);
    }
  } else {
    switch (op) {
      case BPF_ADD: add64(ah, al, bh, bl); break;
      case BPF_SUB: sub64(ah, al, bh, bl); break;
      case BPF_NEG: sub64(0, 0, ah, al); break;
      case BPF_MUL: mul64(ah, al, bh, bl); break;
      case BPF_AND: return scalarConstHL(ah & bh, al & bl);
      case BPF_OR: return scalarConstHL(ah | bh, al | bl);
      case BPF_XOR: return scalarConstHL(ah ^ bh, al ^ bl);
      case BPF_LSH: shl64(ah, al, bl); break;
      case BPF_RSH: shr64(ah, al, bl); break;
      case BPF_ARSH: sar64(ah, al, bl); break;
      default: return undefined;
    }
    return scalarConstHL(r64.hi, r64.lo);
  }
  return undefined;
}

/**
 * scalarAlu by the transfer functions alone, without the fast path for two
 * known values (the test compares the two).
 */
export function scalarAluGeneric(op: number, alu64: boolean, dst: Scalar, src: Scalar): Scalar {
  if (!computable(op, alu64, src)) return SCALAR_UNKNOWN;
  const r = copy(dst);
  switch (op) {
    case BPF_ADD:
      add32(r, src);
      add64s(r, src);
      r.varOff = tnumAdd(r.varOff, src.varOff);
      break;
    case BPF_SUB:
      sub32(r, src);
      sub64s(r, src);
      r.varOff = tnumSub(r.varOff, src.varOff);
      break;
    case BPF_NEG: {
      // 0 - dst, with the bounds of a subtraction
      const z = scalarConstHL(0, 0);
      sub32(z, dst);
      sub64s(z, dst);
      z.varOff = tnumNeg(dst.varOff);
      return finish(z, alu64);
    }
    case BPF_MUL:
      r.varOff = tnumMul(r.varOff, src.varOff);
      mul32(r, src);
      mul64s(r, src);
      break;
    case BPF_AND: case BPF_OR: case BPF_XOR: {
      r.varOff = op === BPF_AND ? tnumAnd(r.varOff, src.varOff) : op === BPF_OR ? tnumOr(r.varOff, src.varOff) : tnumXor(r.varOff, src.varOff);
      // the kernel asks whether the result (already in var_off) is known, with a known src
      bitwise32(r, src, op, r.varOff.mlo === 0);
      bitwise64(r, src, op, tnumIsConst(r.varOff));
      break;
    }
    case BPF_LSH:
      if (alu64) lsh64(r, src.uminL); else lsh32(r, src.u32min);
      break;
    case BPF_RSH:
      if (alu64) rsh64(r, src.uminL); else rsh32(r, src.u32min);
      break;
    case BPF_ARSH:
      if (alu64) arsh64(r, src.uminL); else arsh32(r, src.u32min);
      break;
  }
  return finish(r, alu64);
}

/**
 * Whether the kernel splits the state before `dst OP src` (its
 * maybe_fork_scalars, in the 6.18 stable kernels): for AND and OR with a known
 * src, a dst whose signed range is exactly [-1, 0] (64-bit, else 32-bit; the
 * `x s>> 63 & K` idiom) becomes two states, one where dst is -1 (the walker
 * continues with it) and one where it is 0 (pushed to be explored from the
 * same instruction). The values are unsynced, as the kernel leaves them
 * (a 32-bit split sets only the subregister). Undefined when no split.
 */
export function scalarAluFork(op: number, dst: Scalar, src: Scalar): [minusOne: Scalar, zero: Scalar] | undefined {
  if ((op !== BPF_AND && op !== BPF_OR) || !tnumIsConst(src.varOff)) return undefined;
  const m = copy(dst), z = copy(dst);
  if (dst.sminH === -1 && dst.sminL === -1 && dst.smaxH === 0 && dst.smaxL === 0) {
    markKnown(m, -1, -1);
    markKnown(z, 0, 0);
  } else if (dst.s32min === -1 && dst.s32max === 0) {
    markKnown32(m, -1);
    markKnown32(z, 0);
  } else {
    return undefined;
  }
  return [m, z];
}

function finish(r: Scalar, alu64: boolean): Scalar {
  if (!alu64) zext(r);
  sync(r);
  return r;
}

/** dst = imm (BPF_MOV | BPF_K): sign-extended for ALU64, the u32 pattern for ALU32. */
export function scalarMovImm(alu64: boolean, imm: number): Scalar {
  return alu64 ? scalarImm(imm) : scalarConstHL(0, imm);
}

/** dst = src (BPF_MOV | BPF_X, off 0): a copy for ALU64, the zero-extended subregister for ALU32. */
export function scalarMov(alu64: boolean, src: Scalar): Scalar {
  return alu64 ? src : scalarZext32(src);
}

function sext(x: number, bits: number): number {
  return bits === 32 ? x | 0 : (x << (32 - bits)) >> (32 - bits);
}

/**
 * dst = (s8|s16|s32) src, 64-bit (coerce_reg_to_size_sx): the bounds survive
 * when the signed range stays inside one 2^bits-aligned block and does not
 * cross the sign bit of the narrow value.
 */
function sx64(r: Scalar, bits: 8 | 16 | 32): void {
  if (tnumIsConst(r.varOff)) {
    const lo = sext(r.varOff.vlo, bits);
    markKnown(r, lo >> 31, lo);
    return;
  }
  shr64(r.smaxH, r.smaxL, bits);
  const tmh = r64.hi, tml = r64.lo;
  shr64(r.sminH, r.sminL, bits);
  if (tmh === r64.hi && tml === r64.lo) {
    const a = sext(r.smaxL, bits), b = sext(r.sminL, bits);
    const mx = Math.max(a, b), mn = Math.min(a, b);
    if ((mx >= 0) === (mn >= 0)) {
      r.sminH = r.uminH = mn >> 31; r.sminL = r.uminL = r.s32min = r.u32min = mn;
      r.smaxH = r.umaxH = mx >> 31; r.smaxL = r.umaxL = r.s32max = r.u32max = mx;
      r.varOff = tnumRangeHL(mn >> 31, mn, mx >> 31, mx);
      return;
    }
  }
  // Sign extension from 32 bits leaves the low half, so its bounds, and maps the s32
  // range onto the s64 one; from 8 or 16 bits it is the same when the s32 range is
  // inside the narrow type's. The 6.18 host keeps these bounds (its logs show; the
  // kernel source we read resets them to the narrow type's range).
  const lim = bits === 32 ? S32_MAX : (1 << (bits - 1)) - 1;
  if (bits === 32 || (r.s32min >= -lim - 1 && r.s32max <= lim)) {
    r.sminH = r.s32min >> 31; r.sminL = r.s32min;
    r.smaxH = r.s32max >> 31; r.smaxL = r.s32max;
    r.uminH = 0; r.uminL = 0; r.umaxH = -1; r.umaxL = -1;
    r.varOff = TNUM_UNKNOWN;
    return;
  }
  r.sminH = -1; r.sminL = r.s32min = -lim - 1;
  r.smaxH = 0; r.smaxL = r.s32max = lim;
  r.uminH = 0; r.uminL = r.u32min = 0;
  r.umaxH = -1; r.umaxL = -1; r.u32max = -1;
  r.varOff = TNUM_UNKNOWN;
}

/** The 32-bit counterpart (coerce_subreg_to_size_sx), on the subregister only. */
function sx32(r: Scalar, bits: 8 | 16): void {
  if (tnumIsConst(r.varOff)) {
    const lo = sext(r.varOff.vlo, bits);
    r.varOff = tnumConstHL(lo >> 31, lo);
    r.s32min = r.s32max = r.u32min = r.u32max = lo;
    return;
  }
  if (r.s32max >>> bits === r.s32min >>> bits) {
    const a = sext(r.s32max, bits), b = sext(r.s32min, bits);
    const mx = Math.max(a, b), mn = Math.min(a, b);
    if ((mx >= 0) === (mn >= 0)) {
      r.s32min = r.u32min = mn;
      r.s32max = r.u32max = mx;
      r.varOff = tnumSubreg(tnumRangeHL(mn >> 31, mn, mx >> 31, mx));
      return;
    }
  }
  const lim = (1 << (bits - 1)) - 1;
  r.s32min = -lim - 1;
  r.s32max = lim;
  r.u32min = 0;
  r.u32max = -1;
  r.varOff = tnumSubreg(TNUM_UNKNOWN);
}

/**
 * dst = (sN) src (BPF_MOV | BPF_X with off 8, 16 or 32; for ALU32 only 8
 * and 16), the result zero-extended for ALU32.
 */
export function scalarMovsx(alu64: boolean, src: Scalar, bits: 8 | 16 | 32): Scalar {
  const r = copy(src);
  if (alu64) sx64(r, bits);
  else if (bits === 32) return scalarZext32(src);
  else {
    sx32(r, bits);
    zext(r);
  }
  sync(r);
  return r;
}

/**
 * The low `size` bytes of s, zero-extended (coerce_reg_to_size): a narrow
 * load's or byte swap's truncation.
 */
export function scalarTruncate(s: Scalar, size: 1 | 2 | 4 | 8): Scalar {
  if (size === 8) return s;
  const r = copy(s);
  truncate(r, size);
  return r;
}

function truncate(r: Scalar, size: 1 | 2 | 4): void {
  r.varOff = tnumCast(r.varOff, size);
  const m = size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
  // the bounds survive when they differ only in the kept bytes
  if (r.uminH === r.umaxH && (size === 4 || (r.uminL & ~m) === (r.umaxL & ~m))) {
    r.uminL &= m; r.umaxL &= m;
  } else {
    r.uminL = 0; r.umaxL = m;
  }
  r.uminH = 0; r.umaxH = 0;
  r.sminH = 0; r.sminL = r.uminL; r.smaxH = 0; r.smaxL = r.umaxL;
  if (size < 4) unbounded32(r);
  sync(r);
}

/**
 * A byte-order instruction (BPF_END) on a little-endian machine: `bswap`
 * (ALU64 class, always swaps), `be` (swaps) or `le` (no swap), of 16, 32 or
 * 64 bits; the 16- and 32-bit forms also truncate. The kernel's scalar_byte_swap.
 */
export function scalarEnd(kind: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64, s: Scalar): Scalar {
  if (kind === 'le' && bits === 64) return s;
  const r = copy(s);
  if (kind !== 'le') {
    // the bytes are scrambled: the bounds start over from the swapped tnum
    r.varOff = bits === 16 ? tnumBswap16(s.varOff) : bits === 32 ? tnumBswap32(s.varOff) : tnumBswap64(s.varOff);
    unbounded64(r);
    unbounded32(r);
  }
  if (bits !== 64) truncate(r, bits === 16 ? 2 : 4);
  sync(r);
  return r;
}

// ---- branches ----

/** The opposite condition, for the fall-through side (rev_opcode); JSET's is 'jset-not'. */
type CondOp = number;
const JSET_NOT = BPF_JSET | 0x08;

/**
 * Whether the condition `a OP b` (BPF_OP of a JMP/JMP32 opcode; for BPF_K,
 * b is scalarImm(imm)) holds for every value (1), for none (0), or is not
 * known (-1): the kernel's is_scalar_branch_taken.
 */
export function scalarBranchTaken(op: number, jmp32: boolean, a: Scalar, b: Scalar): 1 | 0 | -1 {
  const t1 = jmp32 ? tnumSubreg(a.varOff) : a.varOff;
  const t2 = jmp32 ? tnumSubreg(b.varOff) : b.varOff;
  // the operands' bounds in the compared width, as pairs (hi 0 or sign for 32-bit)
  let umin1H, umin1L, umax1H, umax1L, smin1H, smin1L, smax1H, smax1L;
  let umin2H, umin2L, umax2H, umax2L, smin2H, smin2L, smax2H, smax2L;
  if (jmp32) {
    umin1H = 0; umin1L = a.u32min; umax1H = 0; umax1L = a.u32max;
    smin1H = a.s32min >> 31; smin1L = a.s32min; smax1H = a.s32max >> 31; smax1L = a.s32max;
    umin2H = 0; umin2L = b.u32min; umax2H = 0; umax2L = b.u32max;
    smin2H = b.s32min >> 31; smin2L = b.s32min; smax2H = b.s32max >> 31; smax2L = b.s32max;
  } else {
    umin1H = a.uminH; umin1L = a.uminL; umax1H = a.umaxH; umax1L = a.umaxL;
    smin1H = a.sminH; smin1L = a.sminL; smax1H = a.smaxH; smax1L = a.smaxL;
    umin2H = b.uminH; umin2L = b.uminL; umax2H = b.umaxH; umax2L = b.umaxL;
    smin2H = b.sminH; smin2L = b.sminL; smax2H = b.smaxH; smax2L = b.smaxL;
  }
  const ult = ult64, slt = slt64;
  switch (op) {
    case BPF_JEQ:
    case BPF_JNE: {
      const eq = op === BPF_JEQ;
      if (tnumIsConst(t1) && tnumIsConst(t2)) return (t1.vhi === t2.vhi && t1.vlo === t2.vlo) === eq ? 1 : 0;
      const disjoint =
        !tnumOverlap(t1, t2) ||
        ult(umax2H, umax2L, umin1H, umin1L) || ult(umax1H, umax1L, umin2H, umin2L) ||
        slt(smax2H, smax2L, smin1H, smin1L) || slt(smax1H, smax1L, smin2H, smin2L) ||
        (!jmp32 && (
          a.u32min >>> 0 > b.u32max >>> 0 || a.u32max >>> 0 < b.u32min >>> 0 ||
          a.s32min > b.s32max || a.s32max < b.s32min));
      if (disjoint) return eq ? 0 : 1;
      return -1;
    }
    case BPF_JSET: {
      let x = t1, k = t2;
      if (!isConstIn(b, jmp32)) {
        x = t2; k = t1;
        if (!isConstIn(a, jmp32)) return -1;
      }
      // a bit known set in x is set in the constant: true; no bit maybe set in x is: false
      if (((x.vhi & k.vhi) | (x.vlo & k.vlo)) !== 0) return 1;
      if ((((x.vhi | x.mhi) & k.vhi) | ((x.vlo | x.mlo) & k.vlo)) === 0) return 0;
      return -1;
    }
    case BPF_JGT:
      if (ult(umax2H, umax2L, umin1H, umin1L)) return 1;
      if (!ult(umin2H, umin2L, umax1H, umax1L)) return 0;
      return -1;
    case BPF_JSGT:
      if (slt(smax2H, smax2L, smin1H, smin1L)) return 1;
      if (!slt(smin2H, smin2L, smax1H, smax1L)) return 0;
      return -1;
    case BPF_JLT:
      if (ult(umax1H, umax1L, umin2H, umin2L)) return 1;
      if (!ult(umin1H, umin1L, umax2H, umax2L)) return 0;
      return -1;
    case BPF_JSLT:
      if (slt(smax1H, smax1L, smin2H, smin2L)) return 1;
      if (!slt(smin1H, smin1L, smax2H, smax2L)) return 0;
      return -1;
    case BPF_JGE:
      if (!ult(umin1H, umin1L, umax2H, umax2L)) return 1;
      if (ult(umax1H, umax1L, umin2H, umin2L)) return 0;
      return -1;
    case BPF_JSGE:
      if (!slt(smin1H, smin1L, smax2H, smax2L)) return 1;
      if (slt(smax1H, smax1L, smin2H, smin2L)) return 0;
      return -1;
    case BPF_JLE:
      if (!ult(umin2H, umin2L, umax1H, umax1L)) return 1;
      if (ult(umax2H, umax2L, umin1H, umin1L)) return 0;
      return -1;
    case BPF_JSLE:
      if (!slt(smin2H, smin2L, smax1H, smax1L)) return 1;
      if (slt(smax2H, smax2L, smin1H, smin1L)) return 0;
      return -1;
    default:
      return -1;
  }
}

/** is_reg_const: known in the compared width. */
function isConstIn(s: Scalar, jmp32: boolean): boolean {
  return jmp32 ? s.varOff.mlo === 0 : tnumIsConst(s.varOff);
}

function revOp(op: CondOp): CondOp {
  switch (op) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JSET: return JSET_NOT;
    case JSET_NOT: return BPF_JSET;
    case BPF_JGE: return BPF_JLT;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSLT: return BPF_JSGE;
    default: return op;
  }
}


/** Narrow r1 and r2 (fresh copies) to `r1 OP r2` holding (regs_refine_cond_op). */
function refine(r1: Scalar, r2: Scalar, op: CondOp, jmp32: boolean): void {
  if (op === BPF_JGE || op === BPF_JGT || op === BPF_JSGE || op === BPF_JSGT) {
    op = swapJmpOperands(op) as CondOp;
    const t = r1; r1 = r2; r2 = t;
  }
  switch (op) {
    case BPF_JEQ:
      if (jmp32) {
        r1.u32min = umax32(r1.u32min, r2.u32min); r1.u32max = umin32(r1.u32max, r2.u32max);
        r1.s32min = Math.max(r1.s32min, r2.s32min); r1.s32max = Math.min(r1.s32max, r2.s32max);
        r2.u32min = r1.u32min; r2.u32max = r1.u32max; r2.s32min = r1.s32min; r2.s32max = r1.s32max;
        const t = tnumIntersect(tnumSubreg(r1.varOff), tnumSubreg(r2.varOff));
        r1.varOff = tnumWithSubreg(r1.varOff, t);
        r2.varOff = tnumWithSubreg(r2.varOff, t);
      } else {
        if (ult64(r1.uminH, r1.uminL, r2.uminH, r2.uminL)) { r1.uminH = r2.uminH; r1.uminL = r2.uminL; }
        if (ult64(r2.umaxH, r2.umaxL, r1.umaxH, r1.umaxL)) { r1.umaxH = r2.umaxH; r1.umaxL = r2.umaxL; }
        if (slt64(r1.sminH, r1.sminL, r2.sminH, r2.sminL)) { r1.sminH = r2.sminH; r1.sminL = r2.sminL; }
        if (slt64(r2.smaxH, r2.smaxL, r1.smaxH, r1.smaxL)) { r1.smaxH = r2.smaxH; r1.smaxL = r2.smaxL; }
        r2.uminH = r1.uminH; r2.uminL = r1.uminL; r2.umaxH = r1.umaxH; r2.umaxL = r1.umaxL;
        r2.sminH = r1.sminH; r2.sminL = r1.sminL; r2.smaxH = r1.smaxH; r2.smaxL = r1.smaxL;
        r1.varOff = tnumIntersect(r1.varOff, r2.varOff);
        r2.varOff = r1.varOff;
      }
      break;
    case BPF_JNE: {
      if (!isConstIn(r2, jmp32)) { const t = r1; r1 = r2; r2 = t; }
      if (!isConstIn(r2, jmp32)) break;
      // a constant at an edge of the other's range moves that edge by one
      const vh = r2.varOff.vhi, vl = r2.varOff.vlo;
      if (jmp32) {
        if (r1.u32min === vl) r1.u32min = (r1.u32min + 1) | 0;
        if (r1.u32max === vl) r1.u32max = (r1.u32max - 1) | 0;
        if (r1.s32min === vl) r1.s32min = (r1.s32min + 1) | 0;
        if (r1.s32max === vl) r1.s32max = (r1.s32max - 1) | 0;
      } else {
        if (r1.uminH === vh && r1.uminL === vl) { add64(vh, vl, 0, 1); r1.uminH = r64.hi; r1.uminL = r64.lo; }
        if (r1.umaxH === vh && r1.umaxL === vl) { sub64(vh, vl, 0, 1); r1.umaxH = r64.hi; r1.umaxL = r64.lo; }
        if (r1.sminH === vh && r1.sminL === vl) { add64(vh, vl, 0, 1); r1.sminH = r64.hi; r1.sminL = r64.lo; }
        if (r1.smaxH === vh && r1.smaxL === vl) { sub64(vh, vl, 0, 1); r1.smaxH = r64.hi; r1.smaxL = r64.lo; }
      }
      break;
    }
    case BPF_JSET: {
      if (!isConstIn(r2, jmp32)) { const t = r1; r1 = r2; r2 = t; }
      if (!isConstIn(r2, jmp32)) break;
      // only a single-bit constant says which bit is set
      const vh = jmp32 ? 0 : r2.varOff.vhi, vl = r2.varOff.vlo;
      const pop = popcount(vh) + popcount(vl);
      if (pop !== 1) break;
      if (jmp32) r1.varOff = tnumWithSubreg(r1.varOff, tnumOr(tnumSubreg(r1.varOff), tnumConstHL(0, vl)));
      else r1.varOff = tnumOr(r1.varOff, tnumConstHL(vh, vl));
      break;
    }
    case JSET_NOT: {
      if (!isConstIn(r2, jmp32)) { const t = r1; r1 = r2; r2 = t; }
      if (!isConstIn(r2, jmp32)) break;
      // forget the ranges before narrowing the tnum, so a dead branch cannot break invariants
      unbounded64(r1);
      unbounded32(r1);
      if (jmp32) r1.varOff = tnumWithSubreg(r1.varOff, tnumAnd(tnumSubreg(r1.varOff), tnumConstHL(0, ~r2.varOff.vlo)));
      else r1.varOff = tnumAnd(r1.varOff, tnumConstHL(~r2.varOff.vhi, ~r2.varOff.vlo));
      break;
    }
    case BPF_JLE:
      if (jmp32) {
        r1.u32max = umin32(r1.u32max, r2.u32max);
        r2.u32min = umax32(r1.u32min, r2.u32min);
      } else {
        if (ult64(r2.umaxH, r2.umaxL, r1.umaxH, r1.umaxL)) { r1.umaxH = r2.umaxH; r1.umaxL = r2.umaxL; }
        if (ult64(r2.uminH, r2.uminL, r1.uminH, r1.uminL)) { r2.uminH = r1.uminH; r2.uminL = r1.uminL; }
      }
      break;
    case BPF_JLT:
      if (jmp32) {
        r1.u32max = umin32(r1.u32max, (r2.u32max - 1) | 0);
        r2.u32min = umax32((r1.u32min + 1) | 0, r2.u32min);
      } else {
        sub64(r2.umaxH, r2.umaxL, 0, 1);
        if (ult64(r64.hi, r64.lo, r1.umaxH, r1.umaxL)) { r1.umaxH = r64.hi; r1.umaxL = r64.lo; }
        add64(r1.uminH, r1.uminL, 0, 1);
        if (ult64(r2.uminH, r2.uminL, r64.hi, r64.lo)) { r2.uminH = r64.hi; r2.uminL = r64.lo; }
      }
      break;
    case BPF_JSLE:
      if (jmp32) {
        r1.s32max = Math.min(r1.s32max, r2.s32max);
        r2.s32min = Math.max(r1.s32min, r2.s32min);
      } else {
        if (slt64(r2.smaxH, r2.smaxL, r1.smaxH, r1.smaxL)) { r1.smaxH = r2.smaxH; r1.smaxL = r2.smaxL; }
        if (slt64(r2.sminH, r2.sminL, r1.sminH, r1.sminL)) { r2.sminH = r1.sminH; r2.sminL = r1.sminL; }
      }
      break;
    case BPF_JSLT:
      if (jmp32) {
        r1.s32max = Math.min(r1.s32max, (r2.s32max - 1) | 0);
        r2.s32min = Math.max((r1.s32min + 1) | 0, r2.s32min);
      } else {
        sub64(r2.smaxH, r2.smaxL, 0, 1);
        if (slt64(r64.hi, r64.lo, r1.smaxH, r1.smaxL)) { r1.smaxH = r64.hi; r1.smaxL = r64.lo; }
        add64(r1.sminH, r1.sminL, 0, 1);
        if (slt64(r2.sminH, r2.sminL, r64.hi, r64.lo)) { r2.sminH = r64.hi; r2.sminL = r64.lo; }
      }
      break;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** The operands narrowed on each side of a conditional jump. */
/** scalarNarrow's scratch for the operand whose narrowed values it does not return. */
const NARROW_SCRATCH = copy(SCALAR_UNKNOWN);

export interface Narrowed {
  /** dst and src where the jump is taken */
  taken: [Scalar, Scalar];
  /** dst and src on the fall-through */
  fallthrough: [Scalar, Scalar];
}

/**
 * The operands of `if a OP b` narrowed on both sides (reg_set_min_max), for
 * a JMP or JMP32 condition. Meaningful when scalarBranchTaken says -1; the
 * kernel does not narrow a predicted branch. A side no value can reach may
 * come back inconsistent: scalarSanity says so. `sameReg` says that a and b
 * are one register (`if r1 > r1`): the kernel then narrows one value through
 * both operands (6.18: `if r1 > r1` leaves r1 in [umin+1, umax-1] when taken),
 * and both results are that value. `onlyA`: b's results are not wanted (an
 * immediate operand): they are b itself, unnarrowed, and a's are the same
 * (narrowing a never reads what b becomes), without the cost of making b's
 * consistent.
 */
export function scalarNarrow(op: number, jmp32: boolean, a: Scalar, b: Scalar, sameReg = false, onlyA = false): Narrowed {
  const fa = copy(a), ta = copy(a);
  if (onlyA && !sameReg) {
    // b's narrowed copies are thrown away: refine them in one scratch scalar, reset from b each time
    refine(fa, copyInto(NARROW_SCRATCH, b), revOp(op), jmp32);
    sync(fa);
    refine(ta, copyInto(NARROW_SCRATCH, b), op, jmp32);
    sync(ta);
    return { taken: [ta, b], fallthrough: [fa, b] };
  }
  const fb = sameReg ? fa : copy(b), tb = sameReg ? ta : copy(b);
  refine(fa, fb, revOp(op), jmp32);
  sync(fa);
  refine(ta, tb, op, jmp32);
  sync(ta);
  if (onlyA && !sameReg) return { taken: [ta, b], fallthrough: [fa, b] };
  sync(fb);
  sync(tb);
  return { taken: [ta, tb], fallthrough: [fa, fb] };
}

/**
 * What is wrong with a scalar's consistency, or undefined (the kernel's
 * reg_bounds_sanity_check, whose message it returns).
 */
export function scalarSanity(s: Scalar): string | undefined {
  if (ult64(s.umaxH, s.umaxL, s.uminH, s.uminL) || slt64(s.smaxH, s.smaxL, s.sminH, s.sminL) ||
      s.u32max >>> 0 < s.u32min >>> 0 || s.s32max < s.s32min) {
    return 'range bounds violation';
  }
  const t = s.varOff;
  if (tnumIsConst(t)) {
    if (s.uminH !== t.vhi || s.uminL !== t.vlo || s.umaxH !== t.vhi || s.umaxL !== t.vlo ||
        s.sminH !== t.vhi || s.sminL !== t.vlo || s.smaxH !== t.vhi || s.smaxL !== t.vlo) {
      return 'const tnum out of sync with range bounds';
    }
  }
  if (t.mlo === 0) {
    if (s.u32min !== t.vlo || s.u32max !== t.vlo || s.s32min !== t.vlo || s.s32max !== t.vlo) {
      return 'const subreg tnum out of sync with range bounds';
    }
  }
  return undefined;
}

/** Whether v (taken modulo 2^64) is a value the scalar allows. */
export function scalarContains(s: Scalar, v: bigint): boolean {
  const h = hiOf(v), l = loOf(v);
  const t = s.varOff;
  if (((h & ~t.mhi) !== t.vhi) || ((l & ~t.mlo) !== t.vlo)) return false;
  if (ult64(h, l, s.uminH, s.uminL) || ult64(s.umaxH, s.umaxL, h, l)) return false;
  if (slt64(h, l, s.sminH, s.sminL) || slt64(s.smaxH, s.smaxL, h, l)) return false;
  if (l >>> 0 < s.u32min >>> 0 || l >>> 0 > s.u32max >>> 0) return false;
  return !(l < s.s32min || l > s.s32max);
}

/**
 * Whether every value `cur` allows, `old` allows too: the scalar part of
 * the kernel's regsafe for pruning (range_within and tnum_in).
 */
export function scalarWithin(old: Scalar, cur: Scalar): boolean {
  return !ult64(cur.uminH, cur.uminL, old.uminH, old.uminL) && !ult64(old.umaxH, old.umaxL, cur.umaxH, cur.umaxL) &&
    !slt64(cur.sminH, cur.sminL, old.sminH, old.sminL) && !slt64(old.smaxH, old.smaxL, cur.smaxH, cur.smaxL) &&
    cur.u32min >>> 0 >= old.u32min >>> 0 && cur.u32max >>> 0 <= old.u32max >>> 0 &&
    cur.s32min >= old.s32min && cur.s32max <= old.s32max &&
    tnumIn(old.varOff, cur.varOff);
}

/** Whether two scalars are the same abstract value. */
export function scalarEquals(a: Scalar, b: Scalar): boolean {
  return a === b || (
    a.varOff.vhi === b.varOff.vhi && a.varOff.vlo === b.varOff.vlo && a.varOff.mhi === b.varOff.mhi && a.varOff.mlo === b.varOff.mlo &&
    a.sminH === b.sminH && a.sminL === b.sminL && a.smaxH === b.smaxH && a.smaxL === b.smaxL &&
    a.uminH === b.uminH && a.uminL === b.uminL && a.umaxH === b.umaxH && a.umaxL === b.umaxL &&
    a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max);
}

// ---- the log ----

/** Signed numbers in [-32768, 32767] print in decimal, others in hex (the kernel's verbose_snum). */
function snum(hi: number, lo: number): string {
  if ((hi === 0 && lo >= 0 && lo <= 0x7fff) || (hi === -1 && lo < 0 && lo >= -0x8000)) return String(lo);
  return hex64(hi, lo);
}

/** Unsigned numbers up to 65535 print in decimal, others in hex (verbose_unum). */
function unum(hi: number, lo: number): string {
  if (hi === 0 && lo >= 0 && lo <= 0xffff) return String(lo);
  return hex64(hi, lo);
}

/** A small integer as verbose_unum prints it (a pointer's range: -2 is 0xfffffffffffffffe). */
export function unumSmall(n: number): string {
  return unum(n < 0 ? -1 : 0, n | 0);
}

/**
 * The scalar as the modern kernel's log prints a register's value after
 * `R1=` (print_reg_state for SCALAR_VALUE): a known value as a number, else
 * `scalar(...)` with the bounds that say more than their type's limit, equal
 * ones of the same sign merged (`smax=umax=255`), and the tnum unless
 * unknown. `precise` prefixes `P`; `id` (nonzero) and `idOffset` give the
 * linked-register prefix (`id=1` or `id=1-5`) that the walker tracks.
 */
export function scalarStr(s: Scalar, opts: { precise?: boolean; id?: number; idOffset?: number } = {}): string {
  const p = opts.precise ? 'P' : '';
  const t = s.varOff;
  if (tnumIsConst(t)) return p + snum(t.vhi, t.vlo);
  const parts: string[] = [];
  if (opts.id) parts.push(opts.idOffset ? `id=${opts.id}${opts.idOffset > 0 ? '+' : ''}${opts.idOffset}` : `id=${opts.id}`);
  // name, halves, omitted, signed; the 32-bit signed ones in hex are their u32 pattern
  const s32dec = (x: number): boolean => x >= -0x8000 && x <= 0x7fff;
  const m: [string, number, number, boolean, boolean][] = [
    ['smin', s.sminH, s.sminL, s.sminH === S64_MIN_HI && s.sminL === 0, true],
    ['smax', s.smaxH, s.smaxL, s.smaxH === S32_MAX && s.smaxL === -1, true],
    ['umin', s.uminH, s.uminL, s.uminH === 0 && s.uminL === 0, false],
    ['umax', s.umaxH, s.umaxL, s.umaxH === -1 && s.umaxL === -1, false],
    ['smin32', s32dec(s.s32min) ? s.s32min >> 31 : 0, s.s32min, s.s32min === S32_MIN, true],
    ['smax32', s32dec(s.s32max) ? s.s32max >> 31 : 0, s.s32max, s.s32max === S32_MAX, true],
    ['umin32', 0, s.u32min, s.u32min === 0, false],
    ['umax32', 0, s.u32max, s.u32max === -1, false],
  ];
  for (let i = 0; i < m.length; i++) {
    const e1 = m[i]!;
    if (e1[3]) continue;
    const neg1 = e1[4] && e1[1] < 0;
    let text = e1[0] + '=';
    for (let j = i + 2; j < m.length; j += 2) {
      const e2 = m[j]!;
      if (e2[3] || e2[1] !== e1[1] || e2[2] !== e1[2]) continue;
      // equal bit patterns of different signs stay apart (-1 is not umax=0xfff...)
      if ((e2[4] && e2[1] < 0) !== neg1) continue;
      e2[3] = true;
      text += e2[0] + '=';
    }
    parts.push(text + (e1[4] ? snum(e1[1], e1[2]) : unum(e1[1], e1[2])));
  }
  if (!tnumIsUnknown(t)) parts.push(`var_off=${tnumStr(t)}`);
  return `${p}scalar(${parts.join(',')})`;
}
