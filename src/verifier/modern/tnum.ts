/**
 * Tracked numbers (tnums) for the modern verifier profile: what is known of
 * each bit of a 64-bit value. A tnum is a pair (value, mask): a bit set in
 * mask is unknown, otherwise the bit is the one in value (value & mask is
 * always 0). The operations are the modern kernel's (kernel/bpf/tnum.c):
 * every result holds every concrete result of concrete members of the
 * inputs. This file also owns the 64-bit pair arithmetic that scalar.ts uses.
 * It knows nothing of registers, bounds or instructions.
 *
 * Representation: a 64-bit quantity is two int32 halves (hi, lo), held as
 * V8 small integers, never a bigint. A bigint operation allocates and takes
 * a slow path; these are a few machine instructions each, and a Tnum is one
 * small object of four Smi fields. Measured on the development machine:
 * tnum_add over halves ~20 ns, the same formula over bigint ~90-180 ns. bigint appears only at the edges (constructors from bigint,
 * `value`/`mask` getters, formatting) and in multiplication's overflow
 * checks in scalar.ts, where exactness matters more than speed.
 *
 * Unsigned comparisons of halves use `>>> 0`; results of pair arithmetic
 * come back in the module scratch `r64` (no allocation).
 */

/** Scratch result of the pair arithmetic below: read it right after the call. */
export const r64 = { hi: 0, lo: 0 };

const TWO32 = 4294967296;

/** (ah,al) + (bh,bl) into r64; true when the unsigned sum carried out of bit 63. */
export function add64(ah: number, al: number, bh: number, bl: number): boolean {
  const lo = (al >>> 0) + (bl >>> 0);
  const c = lo >= TWO32 ? 1 : 0;
  const hi = (ah >>> 0) + (bh >>> 0) + c;
  r64.lo = lo | 0;
  r64.hi = hi | 0;
  return hi >= TWO32;
}

/** (ah,al) - (bh,bl) into r64; true when the unsigned difference borrowed (a < b). */
export function sub64(ah: number, al: number, bh: number, bl: number): boolean {
  const lo = (al >>> 0) - (bl >>> 0);
  const b = lo < 0 ? 1 : 0;
  const hi = (ah >>> 0) - (bh >>> 0) - b;
  r64.lo = lo | 0;
  r64.hi = hi | 0;
  return hi < 0;
}

/** unsigned a < b */
export function ult64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : ah >>> 0 < bh >>> 0;
}

/** signed a < b */
export function slt64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : ah < bh;
}

/** (hi,lo) << n into r64, 0 <= n <= 63 */
export function shl64(hi: number, lo: number, n: number): void {
  if (n === 0) {
    r64.hi = hi;
    r64.lo = lo;
  } else if (n < 32) {
    r64.hi = (hi << n) | (lo >>> (32 - n));
    r64.lo = lo << n;
  } else {
    r64.hi = lo << (n - 32);
    r64.lo = 0;
  }
}

/** (hi,lo) >>> n (logical) into r64, 0 <= n <= 63 */
export function shr64(hi: number, lo: number, n: number): void {
  if (n === 0) {
    r64.hi = hi;
    r64.lo = lo;
  } else if (n < 32) {
    r64.lo = (lo >>> n) | (hi << (32 - n));
    r64.hi = hi >>> n | 0;
  } else {
    r64.lo = hi >>> (n - 32) | 0;
    r64.hi = 0;
  }
}

/** (hi,lo) >> n (arithmetic) into r64, 0 <= n <= 63 */
export function sar64(hi: number, lo: number, n: number): void {
  if (n === 0) {
    r64.hi = hi;
    r64.lo = lo;
  } else if (n < 32) {
    r64.lo = (lo >>> n) | (hi << (32 - n));
    r64.hi = hi >> n;
  } else {
    r64.lo = hi >> (n - 32);
    r64.hi = hi >> 31;
  }
}

/** The 64 low bits of a * b into r64 (wrapping multiplication). */
export function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 65536);
  r64.lo = (p00 & 0xffff) | (mid << 16);
  r64.hi = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) | 0;
}

/** The pair of a bigint, taken modulo 2^64. */
export function hiOf(v: bigint): number {
  return Number(BigInt.asIntN(32, v >> 32n));
}
export function loOf(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
/** The unsigned bigint of a pair. */
export function u64Of(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
/** The signed bigint of a pair. */
export function s64Of(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

/** A tracked number; see the file comment. Immutable; fields are int32 halves. */
export class Tnum {
  constructor(
    readonly vhi: number,
    readonly vlo: number,
    readonly mhi: number,
    readonly mlo: number,
  ) {}

  /** the known bits (unknown ones read 0), as an unsigned bigint */
  get value(): bigint {
    return u64Of(this.vhi, this.vlo);
  }
  /** the unknown bits, as an unsigned bigint */
  get mask(): bigint {
    return u64Of(this.mhi, this.mlo);
  }
}

function mk(vhi: number, vlo: number, mhi: number, mlo: number): Tnum {
  return new Tnum(vhi | 0, vlo | 0, mhi | 0, mlo | 0);
}

/** Completely unknown. */
export const TNUM_UNKNOWN = mk(0, 0, -1, -1);
/** The constant 0, shared. */
export const TNUM_ZERO = mk(0, 0, 0, 0);

/** A known constant from its halves. */
export function tnumConstHL(hi: number, lo: number): Tnum {
  return hi === 0 && lo === 0 ? TNUM_ZERO : mk(hi, lo, 0, 0);
}

/** A known constant (taken modulo 2^64). */
export function tnumConst(v: bigint): Tnum {
  return tnumConstHL(hiOf(v), loOf(v));
}

/** A tnum from value and mask bigints (value's bits under mask are dropped). */
export function tnumOf(value: bigint, mask: bigint): Tnum {
  const mh = hiOf(mask), ml = loOf(mask);
  return mk(hiOf(value) & ~mh, loOf(value) & ~ml, mh, ml);
}

/** Number of the highest set bit, 1-based (0 for 0), of a pair: the kernel's fls64. */
function fls64(hi: number, lo: number): number {
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(lo);
}

/**
 * The smallest tnum holding every value of the unsigned range [min, max]:
 * the bits above the highest bit where min and max differ are known.
 */
export function tnumRangeHL(minHi: number, minLo: number, maxHi: number, maxLo: number): Tnum {
  const bits = fls64(minHi ^ maxHi, minLo ^ maxLo);
  if (bits > 63) return TNUM_UNKNOWN;
  // delta = 2^bits - 1, as halves
  const dhi = bits > 32 ? -1 >>> (64 - bits) : 0;
  const dlo = bits >= 32 ? -1 : bits === 0 ? 0 : -1 >>> (32 - bits);
  return mk(minHi & ~dhi, minLo & ~dlo, dhi, dlo);
}

export function tnumRange(min: bigint, max: bigint): Tnum {
  return tnumRangeHL(hiOf(min), loOf(min), hiOf(max), loOf(max));
}

export function tnumLshift(a: Tnum, shift: number): Tnum {
  shl64(a.vhi, a.vlo, shift);
  const vh = r64.hi, vl = r64.lo;
  shl64(a.mhi, a.mlo, shift);
  return mk(vh, vl, r64.hi, r64.lo);
}

export function tnumRshift(a: Tnum, shift: number): Tnum {
  shr64(a.vhi, a.vlo, shift);
  const vh = r64.hi, vl = r64.lo;
  shr64(a.mhi, a.mlo, shift);
  return mk(vh, vl, r64.hi, r64.lo);
}

/**
 * Arithmetic shift right by a known amount, over 64 bits or over the low 32
 * bits (bitness 32: the result is zero-extended, as a 32-bit ALU result).
 * An unknown sign bit shifts in unknown bits; a known one, known bits.
 */
export function tnumArshift(a: Tnum, shift: number, bitness: 32 | 64): Tnum {
  if (bitness === 32) return mk(0, a.vlo >> shift, 0, a.mlo >> shift);
  sar64(a.vhi, a.vlo, shift);
  const vh = r64.hi, vl = r64.lo;
  sar64(a.mhi, a.mlo, shift);
  return mk(vh, vl, r64.hi, r64.lo);
}

/**
 * Sum: the known sum of the values, with every bit that a carry from an
 * unknown bit could reach made unknown (sum with all unknown bits set, xor
 * sum with none).
 */
export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  add64(a.mhi, a.mlo, b.mhi, b.mlo);
  const smh = r64.hi, sml = r64.lo;
  add64(a.vhi, a.vlo, b.vhi, b.vlo);
  const svh = r64.hi, svl = r64.lo;
  add64(smh, sml, svh, svl);
  const muh = (r64.hi ^ svh) | a.mhi | b.mhi, mul = (r64.lo ^ svl) | a.mlo | b.mlo;
  return mk(svh & ~muh, svl & ~mul, muh, mul);
}

/** Difference, by the same reasoning with borrows. */
export function tnumSub(a: Tnum, b: Tnum): Tnum {
  sub64(a.vhi, a.vlo, b.vhi, b.vlo);
  const dvh = r64.hi, dvl = r64.lo;
  add64(dvh, dvl, a.mhi, a.mlo);
  const ah = r64.hi, al = r64.lo;
  sub64(dvh, dvl, b.mhi, b.mlo);
  const muh = (ah ^ r64.hi) | a.mhi | b.mhi, mul = (al ^ r64.lo) | a.mlo | b.mlo;
  return mk(dvh & ~muh, dvl & ~mul, muh, mul);
}

export function tnumNeg(a: Tnum): Tnum {
  return tnumSub(TNUM_ZERO, a);
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const vh = a.vhi & b.vhi, vl = a.vlo & b.vlo;
  return mk(vh, vl, (a.vhi | a.mhi) & (b.vhi | b.mhi) & ~vh, (a.vlo | a.mlo) & (b.vlo | b.mlo) & ~vl);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const vh = a.vhi | b.vhi, vl = a.vlo | b.vlo;
  return mk(vh, vl, (a.mhi | b.mhi) & ~vh, (a.mlo | b.mlo) & ~vl);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const muh = a.mhi | b.mhi, mul = a.mlo | b.mlo;
  return mk((a.vhi ^ b.vhi) & ~muh, (a.vlo ^ b.vlo) & ~mul, muh, mul);
}

/**
 * Every value that a or b holds (and possibly more): known where both are
 * known and agree. The join of two tnums.
 */
export function tnumUnion(a: Tnum, b: Tnum): Tnum {
  const muh = (a.vhi ^ b.vhi) | a.mhi | b.mhi, mul = (a.vlo ^ b.vlo) | a.mlo | b.mlo;
  return mk(a.vhi & b.vhi & ~muh, a.vlo & b.vlo & ~mul, muh, mul);
}

/**
 * Long multiplication over the bits of a, lowest first: a known 1 adds the
 * shifted b, an unknown bit takes the union of adding and not adding it.
 * (tnumAdd and tnumUnion inlined on halves: no Tnum per step.)
 */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  let cvh = 0, cvl = 0, cmh = 0, cml = 0; // the accumulator
  let avh = a.vhi, avl = a.vlo, amh = a.mhi, aml = a.mlo;
  let bvh = b.vhi, bvl = b.vlo, bmh = b.mhi, bml = b.mlo;
  while ((avh | avl | amh | aml) !== 0) {
    if ((avl & 1) !== 0 || (aml & 1) !== 0) {
      // s = acc + b
      add64(cmh, cml, bmh, bml);
      const smh = r64.hi, sml = r64.lo;
      add64(cvh, cvl, bvh, bvl);
      const svh = r64.hi, svl = r64.lo;
      add64(smh, sml, svh, svl);
      const muh = (r64.hi ^ svh) | cmh | bmh, mul = (r64.lo ^ svl) | cml | bml;
      const sh = svh & ~muh, sl = svl & ~mul;
      if ((avl & 1) !== 0) {
        cvh = sh; cvl = sl; cmh = muh; cml = mul;
      } else {
        // union(acc, s)
        const uh = (cvh ^ sh) | cmh | muh, ul = (cvl ^ sl) | cml | mul;
        cvh = cvh & sh & ~uh; cvl = cvl & sl & ~ul; cmh = uh; cml = ul;
      }
    }
    avl = (avl >>> 1) | (avh << 31);
    avh = avh >>> 1;
    aml = (aml >>> 1) | (amh << 31);
    amh = amh >>> 1;
    bvh = (bvh << 1) | (bvl >>> 31);
    bvl = bvl << 1;
    bmh = (bmh << 1) | (bml >>> 31);
    bml = bml << 1;
  }
  return mk(cvh, cvl, cmh, cml);
}

/**
 * Values in both a and b, when both hold the register's value: a bit known
 * in either is known. (Where they disagree the result says 1: the caller
 * knows the state is impossible.)
 */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const muh = a.mhi & b.mhi, mul = a.mlo & b.mlo;
  return mk((a.vhi | b.vhi) & ~muh, (a.vlo | b.vlo) & ~mul, muh, mul);
}

/** Whether some value could be in both: the bits known in both agree. */
export function tnumOverlap(a: Tnum, b: Tnum): boolean {
  const kh = ~a.mhi & ~b.mhi, kl = ~a.mlo & ~b.mlo;
  return ((a.vhi ^ b.vhi) & kh) === 0 && ((a.vlo ^ b.vlo) & kl) === 0;
}

/** The low `size` bytes (1, 2, 4 or 8) of a, the rest known zero. */
export function tnumCast(a: Tnum, size: 1 | 2 | 4 | 8): Tnum {
  if (size === 8) return a;
  if (size === 4) return a.vhi === 0 && a.mhi === 0 ? a : mk(0, a.vlo, 0, a.mlo);
  const m = size === 1 ? 0xff : 0xffff;
  return mk(0, a.vlo & m, 0, a.mlo & m);
}

/** Whether every value of a is a multiple of size (a power of two up to 2^63; 0 means any). */
export function tnumIsAligned(a: Tnum, size: number | bigint): boolean {
  // an access size (1..2^31): the mask is in the low half, no bigint needed
  if (typeof size === 'number' && size >= 1 && size <= 0x80000000) return ((a.vlo | a.mlo) & (size - 1)) === 0;
  const low = BigInt(size) - 1n;
  if (low < 0n) return true;
  return ((a.vhi & hiOf(low)) | (a.mhi & hiOf(low)) | (a.vlo & loOf(low)) | (a.mlo & loOf(low))) === 0;
}

/**
 * The smallest member of t greater than z, into r64 (the kernel's tnum_step);
 * t.value when z is below it, the largest member when z is not below that.
 * The member agrees with z above some bit k where z has 0 and t allows 1,
 * and is t's smallest below k; k is the lowest such bit at or above every
 * known bit of t that z contradicts.
 */
export function tnumStep(t: Tnum, zh: number, zl: number): void {
  const th = t.vhi | t.mhi, tl = t.vlo | t.mlo;
  if (!ult64(zh, zl, th, tl)) {
    r64.hi = th;
    r64.lo = tl;
    return;
  }
  if (ult64(zh, zl, t.vhi, t.vlo)) {
    r64.hi = t.vhi;
    r64.lo = t.vlo;
    return;
  }
  const badH = (zh ^ t.vhi) & ~t.mhi, badL = (zl ^ t.vlo) & ~t.mlo;
  let keepH = -1, keepL = -1;
  if (badH !== 0) {
    keepH = -1 << (31 - Math.clz32(badH));
    keepL = 0;
  } else if (badL !== 0) {
    keepL = -1 << (31 - Math.clz32(badL));
  }
  const cL = ~zl & tl & keepL;
  if (cL !== 0) {
    const bit = cL & -cL;
    r64.hi = zh;
    r64.lo = (zl & ~((bit << 1) - 1)) | bit | (t.vlo & (bit - 1));
  } else {
    const cH = ~zh & th & keepH;
    const bit = cH & -cH;
    r64.hi = (zh & ~((bit << 1) - 1)) | bit | (t.vhi & (bit - 1));
    r64.lo = t.vlo;
  }
}

/** Whether b's values are all values of a (b is a subset of a). */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if ((b.mhi & ~a.mhi) !== 0 || (b.mlo & ~a.mlo) !== 0) return false;
  return a.vhi === (b.vhi & ~a.mhi) && a.vlo === (b.vlo & ~a.mlo);
}

export function tnumIsConst(a: Tnum): boolean {
  return a.mhi === 0 && a.mlo === 0;
}

export function tnumIsUnknown(a: Tnum): boolean {
  return a.mhi === -1 && a.mlo === -1;
}

export function tnumEquals(a: Tnum, b: Tnum): boolean {
  return a.vhi === b.vhi && a.vlo === b.vlo && a.mhi === b.mhi && a.mlo === b.mlo;
}

/** The low 32 bits (the subregister), upper known zero. */
export function tnumSubreg(a: Tnum): Tnum {
  return tnumCast(a, 4);
}

/** The upper 32 bits kept, the low 32 known zero. */
export function tnumClearSubreg(a: Tnum): Tnum {
  return a.vlo === 0 && a.mlo === 0 ? a : mk(a.vhi, 0, a.mhi, 0);
}

/** The upper 32 bits of reg with the low 32 bits of subreg. */
export function tnumWithSubreg(reg: Tnum, subreg: Tnum): Tnum {
  return mk(reg.vhi, subreg.vlo, reg.mhi, subreg.mlo);
}

/** The upper 32 bits of a with a known low half. */
export function tnumConstSubreg(a: Tnum, value: number): Tnum {
  return mk(a.vhi, value, a.mhi, 0);
}

export function tnumSubregIsConst(a: Tnum): boolean {
  return a.mlo === 0;
}

function swab16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}
function swab32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Byte swaps of the low 2, 4 or all 8 bytes; the rest known zero. */
export function tnumBswap16(a: Tnum): Tnum {
  return mk(0, swab16(a.vlo), 0, swab16(a.mlo));
}
export function tnumBswap32(a: Tnum): Tnum {
  return mk(0, swab32(a.vlo), 0, swab32(a.mlo));
}
export function tnumBswap64(a: Tnum): Tnum {
  return mk(swab32(a.vlo), swab32(a.vhi), swab32(a.mlo), swab32(a.mhi));
}

function hex(hi: number, lo: number): string {
  if (hi === 0) return '0x' + (lo >>> 0).toString(16);
  return '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

/** A pair as the kernel's %#llx prints it, except that 0 is `0x0` as in its logs. */
export function hex64(hi: number, lo: number): string {
  return hex(hi, lo);
}

/** As the kernel's log prints a tnum: `(0x0; 0xff)`. */
export function tnumStr(a: Tnum): string {
  return `(${hex(a.vhi, a.vlo)}; ${hex(a.mhi, a.mlo)})`;
}
