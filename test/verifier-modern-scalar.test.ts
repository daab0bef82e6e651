/**
 * The modern verifier's scalar domain (src/verifier/modern/tnum.ts, scalar.ts).
 *
 * Soundness, with fast-check: abstract values are built from sets of
 * concrete values (and from operations on those), so their members are
 * known; every operation must give a result that holds the concrete result
 * of every pair of members, branch narrowing must keep every pair for which
 * the condition holds (taken) or fails (fall-through), and a predicted branch
 * must agree with every pair. Members are the generating values plus the
 * edges of the abstract value (its bounds and tnum extremes) that it holds.
 *
 * Exactness: the tnum formulas against a bigint model of the same formulas,
 * log strings taken from the host's 6.18 kernel (log_level 2) for the same
 * instruction sequences, and, where bpf(2) answers, a differential run: random
 * straight-line programs loaded into the host kernel with log_level 2, every
 * scalar register its log prints compared with scalarStr of the modelled value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR,
} from '../src/isa/opcodes.js';
import {
  Tnum, TNUM_UNKNOWN, tnumAdd, tnumAnd, tnumArshift, tnumBswap16, tnumBswap32, tnumBswap64, tnumCast, tnumConst,
  tnumIn, tnumIntersect, tnumIsAligned, tnumLshift, tnumMul, tnumNeg, tnumOf, tnumOr, tnumRange, tnumRshift,
  tnumStep, r64, tnumStr, tnumSub, tnumUnion, tnumXor, hiOf, loOf, u64Of,
} from '../src/verifier/modern/tnum.js';
import {
  Scalar, SCALAR_UNKNOWN, scalarAlu, scalarAluFork, scalarAluGeneric, scalarEquals, scalarBranchTaken, scalarConst, scalarContains, scalarEnd, scalarFrom,
  scalarImm, scalarMov, scalarMovImm, scalarMovsx, scalarNarrow, scalarSanity, scalarStr, scalarTruncate,
  scalarWithin, scalarZext32,
} from '../src/verifier/modern/scalar.js';
import { InternalError } from '../src/errors.js';
import { tempDir } from './tmp.js';

const M64 = (1n << 64n) - 1n;
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const hex = (x: bigint): string => '0x' + u64(x).toString(16);

// ---- concrete semantics (RFC 9669), bigint ----

function sdiv(a: bigint, b: bigint, bits: number): bigint {
  if (b === 0n) return 0n;
  const sa = BigInt.asIntN(bits, a), sb = BigInt.asIntN(bits, b);
  return BigInt.asUintN(bits, sa / sb); // bigint division truncates; MIN / -1 wraps to MIN
}
function smod(a: bigint, b: bigint, bits: number): bigint {
  if (b === 0n) return a;
  const sa = BigInt.asIntN(bits, a), sb = BigInt.asIntN(bits, b);
  return BigInt.asUintN(bits, sa % sb);
}

/** dst OP src for ALU (32-bit, zero-extended) or ALU64; off 1 is signed div/mod. */
function alu(op: number, alu64: boolean, x: bigint, y: bigint, off = 0): bigint {
  const bits = alu64 ? 64 : 32;
  const w = (v: bigint): bigint => BigInt.asUintN(bits, v);
  const a = w(x), b = w(y), sh = Number(b & BigInt(bits - 1));
  switch (op) {
    case BPF_ADD: return w(a + b);
    case BPF_SUB: return w(a - b);
    case BPF_MUL: return w(a * b);
    case BPF_DIV: return off ? sdiv(a, b, bits) : b === 0n ? 0n : a / b;
    case BPF_MOD: return off ? smod(a, b, bits) : b === 0n ? a : a % b;
    case BPF_OR: return a | b;
    case BPF_AND: return a & b;
    case BPF_XOR: return a ^ b;
    case BPF_LSH: return w(a << BigInt(sh));
    case BPF_RSH: return a >> BigInt(sh);
    case BPF_ARSH: return w(BigInt.asIntN(bits, a) >> BigInt(sh));
    case BPF_NEG: return w(-a);
    default: throw new Error(`op ${op}`);
  }
}

function cond(op: number, jmp32: boolean, x: bigint, y: bigint): boolean {
  const bits = jmp32 ? 32 : 64;
  const a = BigInt.asUintN(bits, x), b = BigInt.asUintN(bits, y);
  const sa = BigInt.asIntN(bits, x), sb = BigInt.asIntN(bits, y);
  switch (op) {
    case BPF_JEQ: return a === b;
    case BPF_JNE: return a !== b;
    case BPF_JSET: return (a & b) !== 0n;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JLT: return a < b;
    case BPF_JLE: return a <= b;
    case BPF_JSGT: return sa > sb;
    case BPF_JSGE: return sa >= sb;
    case BPF_JSLT: return sa < sb;
    case BPF_JSLE: return sa <= sb;
    default: throw new Error(`op ${op}`);
  }
}

function bswap(x: bigint, bytes: number): bigint {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
}

// ---- abstract values with known members ----

interface Abs {
  s: Scalar;
  members: bigint[];
}

/** The abstraction of a set of values: each part from the set, made consistent by sync. */
function abstractOf(vs: readonly bigint[]): Scalar {
  let t = tnumConst(vs[0]!);
  for (const v of vs) t = tnumUnion(t, tnumConst(v));
  const min = (xs: bigint[]): bigint => xs.reduce((p, c) => (c < p ? c : p));
  const max = (xs: bigint[]): bigint => xs.reduce((p, c) => (c > p ? c : p));
  const us = vs.map(u64), ss = vs.map(s64), u32s = vs.map(u32), s32s = vs.map(s32);
  return scalarFrom({
    varOff: t, umin: min(us), umax: max(us), smin: min(ss), smax: max(ss),
    umin32: Number(min(u32s)), umax32: Number(max(u32s)), smin32: Number(min(s32s)), smax32: Number(max(s32s)),
  });
}

const SPREAD = [0n, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan, 0x0123456789abcdefn, 0xfedcba9876543210n, M64, 0xf0f0f0f00f0f0f0fn];

/** The generating values and the edges of s that s holds. */
function membersOf(s: Scalar, known: readonly bigint[]): bigint[] {
  const t = s.varOff;
  const cands = [
    ...known, s.umin, s.umax, u64(s.smin), u64(s.smax), t.value, t.value | t.mask,
    ...SPREAD.map((r) => t.value | (r & t.mask)),
    (s.umax & ~0xffffffffn) | BigInt(s.umin32), (s.umin & ~0xffffffffn) | BigInt(s.umax32),
  ];
  const out = new Set<bigint>();
  for (const c of cands) if (scalarContains(s, u64(c))) out.add(u64(c));
  return [...out];
}

const interesting = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, 2n, 7n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
    0x100000000n, (1n << 63n) - 1n, 1n << 63n, M64, M64 - 1n, 0xffffffff7fffffffn, 0xffffffff80000000n),
  fc.bigInt({ min: -300n, max: 300n }).map(u64),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.bigInt({ min: -(1n << 31n), max: 1n << 31n }).map(u64),
  fc.bigInt({ min: 0n, max: 0xffffffffn }).map((x) => x | 0xffffffff00000000n),
);

const baseArb: fc.Arbitrary<Abs> = fc.array(interesting, { minLength: 1, maxLength: 4 }).map((vs) => {
  const s = abstractOf(vs);
  return { s, members: membersOf(s, vs) };
});

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_OR, BPF_AND, BPF_XOR, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_NEG];
const JMP_OPS = [BPF_JEQ, BPF_JNE, BPF_JSET, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];

/** Shapes that operations make (masks, shifts, narrowed ranges): an op on two base values. */
const derivedArb: fc.Arbitrary<Abs> = fc
  .tuple(baseArb, baseArb, fc.constantFrom(...ALU_OPS, -1), fc.boolean(), fc.integer({ min: 0, max: 63 }))
  .map(([a, b, op, alu64, sh]) => {
    if (op === -1) {
      // the fall-through of a JLE/JSGT/JNE..., a narrowed range
      const jop = JMP_OPS[sh % JMP_OPS.length]!, jmp32 = (sh & 1) === 1;
      if (scalarBranchTaken(jop, jmp32, a.s, b.s) !== -1) return a;
      const n = scalarNarrow(jop, jmp32, a.s, b.s);
      const kept = a.members.filter((x) => b.members.some((y) => !cond(jop, jmp32, x, y)));
      if (kept.length === 0) return a;
      return { s: n.fallthrough[0], members: membersOf(n.fallthrough[0], kept) };
    }
    const src = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH ? { s: scalarConst(BigInt(sh % (alu64 ? 64 : 32))), members: [BigInt(sh % (alu64 ? 64 : 32))] } : b;
    const s = scalarAlu(op, alu64, a.s, src.s);
    const vs = a.members.flatMap((x) => src.members.map((y) => alu(op, alu64, x, y)));
    return { s, members: membersOf(s, vs) };
  });

const absArb = fc.oneof(baseArb, derivedArb);

function fails(what: string, s: Scalar, v: bigint): string {
  return `${what}: ${hex(v)} not in ${scalarStr(s)}`;
}

const RUNS = { numRuns: 300 };

// ---- tnum ----

/** The kernel's formulas over bigint, as a model for the int32-halves code. */
const model = {
  add(a: Tnum, b: Tnum): Tnum {
    const sm = u64(a.mask + b.mask), sv = u64(a.value + b.value), sigma = u64(sm + sv);
    const mu = (sigma ^ sv) | a.mask | b.mask;
    return tnumOf(sv & ~mu, mu);
  },
  sub(a: Tnum, b: Tnum): Tnum {
    const dv = u64(a.value - b.value), alpha = u64(dv + a.mask), beta = u64(dv - b.mask);
    const mu = (alpha ^ beta) | a.mask | b.mask;
    return tnumOf(dv & ~mu, mu);
  },
  mul(a: Tnum, b: Tnum): Tnum {
    let acc = tnumOf(0n, 0n), av = a.value, am = a.mask, bt = b;
    while (av !== 0n || am !== 0n) {
      if (av & 1n) acc = model.add(acc, bt);
      else if (am & 1n) acc = tnumUnion(acc, model.add(acc, bt));
      av >>= 1n;
      am >>= 1n;
      bt = tnumOf(u64(bt.value << 1n), u64(bt.mask << 1n));
    }
    return acc;
  },
  range(min: bigint, max: bigint): Tnum {
    const chi = min ^ max;
    const bits = chi === 0n ? 0 : chi.toString(2).length;
    if (bits > 63) return TNUM_UNKNOWN;
    const delta = (1n << BigInt(bits)) - 1n;
    return tnumOf(min & ~delta, delta);
  },
};

const tnumArb: fc.Arbitrary<Tnum> = fc.tuple(interesting, fc.oneof(interesting, fc.constant(0n), fc.constant(M64))).map(([v, m]) => tnumOf(v, m));
const tnumMember = (t: Tnum, r: bigint): bigint => t.value | (r & t.mask);

test('tnum: add, sub, mul and range over int32 halves equal the kernel formulas over bigint', () => {
  fc.assert(fc.property(tnumArb, tnumArb, (a, b) => {
    assert.equal(tnumStr(tnumAdd(a, b)), tnumStr(model.add(a, b)));
    assert.equal(tnumStr(tnumSub(a, b)), tnumStr(model.sub(a, b)));
    assert.equal(tnumStr(tnumMul(a, b)), tnumStr(model.mul(a, b)));
  }), { numRuns: 2000 });
  fc.assert(fc.property(interesting, interesting, (x, y) => {
    const [lo, hi] = x <= y ? [x, y] : [y, x];
    assert.equal(tnumStr(tnumRange(lo, hi)), tnumStr(model.range(lo, hi)));
  }), { numRuns: 2000 });
});

test('tnum: every operation holds the results of members', () => {
  fc.assert(fc.property(tnumArb, tnumArb, interesting, interesting, fc.integer({ min: 0, max: 63 }), (a, b, r1, r2, sh) => {
    const x = tnumMember(a, r1), y = tnumMember(b, r2);
    const has = (t: Tnum, v: bigint, what: string): void => {
      assert.ok(tnumIn(t, tnumConst(v)), `${what}: ${hex(v)} not in ${tnumStr(t)} (a=${tnumStr(a)} b=${tnumStr(b)})`);
    };
    has(tnumAdd(a, b), u64(x + y), 'add');
    has(tnumSub(a, b), u64(x - y), 'sub');
    has(tnumNeg(a), u64(-x), 'neg');
    has(tnumMul(a, b), u64(x * y), 'mul');
    has(tnumAnd(a, b), x & y, 'and');
    has(tnumOr(a, b), x | y, 'or');
    has(tnumXor(a, b), x ^ y, 'xor');
    has(tnumUnion(a, b), x, 'union a');
    has(tnumUnion(a, b), y, 'union b');
    has(tnumLshift(a, sh), u64(x << BigInt(sh)), 'lshift');
    has(tnumRshift(a, sh), x >> BigInt(sh), 'rshift');
    has(tnumArshift(a, sh, 64), u64(s64(x) >> BigInt(sh)), 'arshift64');
    has(tnumArshift(a, sh & 31, 32), u32(s32(x) >> BigInt(sh & 31)), 'arshift32');
    has(tnumCast(a, 1), x & 0xffn, 'cast1');
    has(tnumCast(a, 2), x & 0xffffn, 'cast2');
    has(tnumCast(a, 4), x & 0xffffffffn, 'cast4');
    has(tnumBswap16(a), bswap(x, 2), 'bswap16');
    has(tnumBswap32(a), bswap(x, 4), 'bswap32');
    has(tnumBswap64(a), bswap(x, 8), 'bswap64');
    const [lo, hi] = x <= y ? [x, y] : [y, x];
    has(tnumRange(lo, hi), lo, 'range lo');
    has(tnumRange(lo, hi), hi, 'range hi');
    // intersect of two tnums that both hold x holds x
    const c = tnumOf(x, b.mask);
    has(tnumIntersect(a, c), x, 'intersect');
  }), { numRuns: 2000 });
});

test('tnum: tnumStep gives the smallest member above z', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: 0xffffn }), fc.constantFrom(0, 20, 40), (v, m, z, shift) => {
    const t = tnumOf(v << BigInt(shift), m << BigInt(shift)), zz = z << BigInt(shift);
    tnumStep(t, hiOf(zz), loOf(zz));
    const got = u64Of(r64.hi, r64.lo);
    const tmax = t.value | t.mask;
    let want: bigint;
    if (zz >= tmax) want = tmax;
    else if (zz < t.value) want = t.value;
    else {
      // walk the members in order (the mask has at most 16 bits)
      want = tmax;
      const bits: bigint[] = [];
      for (let i = 0n; i < 64n; i++) if ((t.mask >> i) & 1n) bits.push(i);
      for (let k = 0n; k < 1n << BigInt(bits.length); k++) {
        let x = t.value;
        bits.forEach((b, i) => { if ((k >> BigInt(i)) & 1n) x |= 1n << b; });
        if (x > zz && x < want) want = x;
      }
    }
    assert.equal(hex(got), hex(want));
  }), { numRuns: 1000 });
});

test('tnum: exact values and the kernel log text', () => {
  assert.equal(tnumStr(tnumRange(0n, 0xffn)), '(0x0; 0xff)');
  assert.equal(tnumStr(tnumRange(0n, M64)), '(0x0; 0xffffffffffffffff)');
  assert.equal(tnumStr(tnumRange(5n, 5n)), '(0x5; 0x0)');
  assert.equal(tnumStr(tnumRange(0x100000000n, 0x1ffffffffn)), '(0x100000000; 0xffffffff)');
  // x1 * 11 is x0x1 by the union multiplication (the kernel's example); the other order loses more
  assert.equal(tnumStr(tnumMul(tnumOf(1n, 2n), tnumConst(3n))), '(0x1; 0xa)');
  assert.equal(tnumStr(tnumMul(tnumConst(3n), tnumOf(1n, 2n))), '(0x1; 0xe)');
  assert.equal(tnumStr(tnumMul(tnumOf(0n, 0xffn), tnumConst(3n))), '(0x0; 0x3ff)');
  assert.equal(tnumStr(tnumArshift(tnumOf(0x80000000n, 0x0fn), 4, 32)), '(0xf8000000; 0x0)');
  assert.equal(tnumStr(tnumArshift(tnumOf(0n, 1n << 63n), 62, 64)), '(0x0; 0xfffffffffffffffe)');
  assert.equal(tnumStr(tnumBswap16(tnumOf(1n, 0xfen))), '(0x100; 0xfe00)');
  assert.equal(tnumStr(tnumBswap64(tnumConst(0x0102030405060708n))), '(0x807060504030201; 0x0)');
  assert.equal(tnumIsAligned(tnumOf(0x10n, 0xf0n), 16), true);
  assert.equal(tnumIsAligned(tnumOf(0x10n, 0xf8n), 16), false);
  assert.equal(tnumIsAligned(tnumOf(1n << 40n, 0n), 1n << 40n), true);
  assert.equal(tnumIsAligned(TNUM_UNKNOWN, 0), true);
  assert.equal(tnumIn(tnumOf(0n, 0xffn), tnumConst(0x80n)), true);
  assert.equal(tnumIn(tnumOf(0n, 0xffn), tnumConst(0x100n)), false);
  assert.equal(tnumIn(tnumConst(0x80n), tnumOf(0n, 0xffn)), false);
});

// ---- scalar ALU ----

test('scalar: every ALU and ALU64 operation, register and immediate source, is sound', () => {
  fc.assert(fc.property(absArb, absArb, fc.constantFrom(...ALU_OPS), fc.boolean(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.boolean(), (a, b, op, alu64, imm, useImm) => {
    const src: Abs = useImm ? { s: scalarImm(imm), members: [u64(BigInt(imm))] } : b;
    const r = scalarAlu(op, alu64, a.s, src.s);
    assert.equal(scalarSanity(r), undefined, `${scalarStr(r)} from ${scalarStr(a.s)} op ${op} ${scalarStr(src.s)}`);
    for (const x of a.members) {
      for (const y of src.members) {
        const v = alu(op, alu64, x, y);
        if (!scalarContains(r, v)) assert.fail(fails(`op 0x${op.toString(16)} alu64=${alu64} ${scalarStr(a.s)} ${hex(x)}, ${scalarStr(src.s)} ${hex(y)}`, r, v));
        if (op === BPF_DIV || op === BPF_MOD) assert.ok(scalarContains(r, alu(op, alu64, x, y, 1)));
      }
    }
  }), { numRuns: 3000 });
});

test('scalar: the fast path for two known values equals the transfer functions, for every ALU and ALU64 operation', () => {
  // exact values, and values known only in the low 32 bits (an ALU32 operand): the fast
  // path must give what the general path gives, field for field, or step aside
  const knownArb = fc.tuple(interesting, fc.boolean()).map(([v, whole]) => (whole ? scalarConst(v) : scalarFrom({
    varOff: tnumOf(v & 0xffffffffn, 0xffffffff00000000n), umin32: Number(v & 0xffffffffn), umax32: Number(v & 0xffffffffn),
    smin32: Number(BigInt.asIntN(32, v)), smax32: Number(BigInt.asIntN(32, v)),
  })));
  let fast = 0;
  fc.assert(fc.property(knownArb, knownArb, fc.constantFrom(...ALU_OPS), fc.boolean(), fc.integer({ min: 0, max: 70 }), (a, b, op, alu64, sh) => {
    const src = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH ? scalarConst(BigInt(sh)) : b;
    const got = scalarAlu(op, alu64, a, src);
    const want = scalarAluGeneric(op, alu64, a, src);
    if (got.isConst) fast++;
    assert.equal(scalarStr(got), scalarStr(want), `op 0x${op.toString(16)} alu64 ${alu64}: ${scalarStr(a)}, ${scalarStr(src)}`);
    assert.ok(scalarEquals(got, want));
  }), { numRuns: 20000 });
  // most pairs are known in the width: the fast path was taken, not only the general one
  assert.ok(fast > 10000, `${fast} constant results`);
});

test('scalar: mov, movsx, byte swaps, truncation and zero-extension are sound', () => {
  fc.assert(fc.property(absArb, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (a, imm) => {
    const check = (what: string, r: Scalar, f: (x: bigint) => bigint): void => {
      assert.equal(scalarSanity(r), undefined, `${what}: ${scalarStr(r)}`);
      for (const x of a.members) if (!scalarContains(r, f(x))) assert.fail(fails(`${what} of ${scalarStr(a.s)} ${hex(x)}`, r, f(x)));
    };
    check('mov64', scalarMov(true, a.s), (x) => x);
    check('mov32', scalarMov(false, a.s), u32);
    check('zext', scalarZext32(a.s), u32);
    for (const bits of [8, 16, 32] as const) {
      check(`movsx64 s${bits}`, scalarMovsx(true, a.s, bits), (x) => u64(BigInt.asIntN(bits, x)));
    }
    for (const bits of [8, 16] as const) {
      check(`movsx32 s${bits}`, scalarMovsx(false, a.s, bits), (x) => u32(BigInt.asIntN(bits, x)));
    }
    for (const size of [1, 2, 4, 8] as const) check(`truncate ${size}`, scalarTruncate(a.s, size), (x) => BigInt.asUintN(size * 8, x));
    for (const bits of [16, 32, 64] as const) {
      check(`le${bits}`, scalarEnd('le', bits, a.s), (x) => BigInt.asUintN(bits, x));
      check(`be${bits}`, scalarEnd('be', bits, a.s), (x) => bswap(x, bits / 8));
      check(`bswap${bits}`, scalarEnd('bswap', bits, a.s), (x) => bswap(x, bits / 8));
    }
    assert.equal(scalarStr(scalarMovImm(true, imm)), scalarStr(scalarConst(BigInt(imm))));
    assert.equal(scalarStr(scalarMovImm(false, imm)), scalarStr(scalarConst(u32(BigInt(imm)))));
  }), RUNS);
});

// ---- branches ----

test('scalar: branch prediction and narrowing on both sides are sound for every JMP and JMP32 condition', () => {
  fc.assert(fc.property(absArb, absArb, fc.constantFrom(...JMP_OPS), fc.boolean(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.boolean(), (a, b, op, jmp32, imm, useImm) => {
    const src: Abs = useImm ? { s: scalarImm(imm), members: [u64(BigInt(imm))] } : b;
    const taken = scalarBranchTaken(op, jmp32, a.s, src.s);
    const n = scalarNarrow(op, jmp32, a.s, src.s);
    const what = `op 0x${op.toString(16)} jmp32=${jmp32} ${scalarStr(a.s)} vs ${scalarStr(src.s)}`;
    let reachT = false, reachF = false;
    for (const x of a.members) {
      for (const y of src.members) {
        const c = cond(op, jmp32, x, y);
        if (taken === 1) assert.ok(c, `${what}: predicted taken, false for ${hex(x)}, ${hex(y)}`);
        if (taken === 0) assert.ok(!c, `${what}: predicted not taken, true for ${hex(x)}, ${hex(y)}`);
        const [d, s] = c ? n.taken : n.fallthrough;
        if (!scalarContains(d, x)) assert.fail(fails(`${what} ${c ? 'taken' : 'fall-through'} dst`, d, x));
        if (!scalarContains(s, y)) assert.fail(fails(`${what} ${c ? 'taken' : 'fall-through'} src`, s, y));
        if (c) reachT = true; else reachF = true;
      }
    }
    // a side that some pair reaches is a consistent value
    if (reachT) assert.equal(scalarSanity(n.taken[0]), undefined, `${what}: taken ${scalarStr(n.taken[0])}`);
    if (reachF) assert.equal(scalarSanity(n.fallthrough[0]), undefined, `${what}: fall-through ${scalarStr(n.fallthrough[0])}`);
  }), { numRuns: 3000 });
});

test('scalar: scalarWithin holds only when the old value holds all of the new one', () => {
  fc.assert(fc.property(absArb, absArb, (a, b) => {
    assert.equal(scalarWithin(a.s, a.s), true);
    assert.equal(scalarWithin(SCALAR_UNKNOWN, a.s), true);
    if (scalarWithin(a.s, b.s)) for (const y of b.members) assert.ok(scalarContains(a.s, y), `${hex(y)} of ${scalarStr(b.s)} not in ${scalarStr(a.s)}`);
  }), RUNS);
});

// ---- exact values from the kernel (6.18, log_level 2) ----

const K = scalarImm;
const alu64 = (op: number, d: Scalar, s: Scalar): Scalar => scalarAlu(op, true, d, s);
const U32 = scalarTruncate(SCALAR_UNKNOWN, 4); // r1 = *(u32 *)(r1 + 0)
const BYTE = alu64(BPF_AND, U32, K(255));

test('scalar: ALU results print as the 6.18 kernel prints them', () => {
  const cases: [string, Scalar, string][] = [
    ['r1 = *(u32 *)(r1 +0)', U32, 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
    ['r1 &= 255', BYTE, 'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))'],
    ['r2 += -5', alu64(BPF_ADD, BYTE, K(-5)), 'scalar(smin=smin32=-5,smax=smax32=250)'],
    ['r3 <<= 40', alu64(BPF_LSH, BYTE, K(40)), 'scalar(smin=smin32=0,smax=umax=0xff0000000000,smax32=umax32=0,var_off=(0x0; 0xff0000000000))'],
    ['r4 *= 3', alu64(BPF_MUL, BYTE, K(3)), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=765,var_off=(0x0; 0x3ff))'],
    ['w5 = w1; w5 -= 10', scalarAlu(BPF_SUB, false, scalarMov(false, BYTE), K(10)), 'scalar(smin=0,smax=umax=0xffffffff,smin32=-10,smax32=245,var_off=(0x0; 0xffffffff))'],
    ['r6 s>>= 3', alu64(BPF_ARSH, BYTE, K(3)), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=31,var_off=(0x0; 0x1f))'],
    ['r7 = -r7', alu64(BPF_NEG, BYTE, K(0)), 'scalar(smin=smin32=-255,smax=smax32=0)'],
    ['r8 |= -16', alu64(BPF_OR, BYTE, K(-16)), 'scalar(smin=smin32=-16,smax=smax32=-1,umin=0xfffffffffffffff0,umin32=0xfffffff0,var_off=(0xfffffffffffffff0; 0xf))'],
    ['r1 |= 1', alu64(BPF_OR, U32, K(1)), 'scalar(smin=umin=umin32=1,smax=umax=0xffffffff,smin32=0x80000001,var_off=(0x1; 0xfffffffe))'],
    // every sum wraps: the bounds stay in order (the 6.18 rule for add)
    ['r2 |= -16; r2 += 32', alu64(BPF_ADD, alu64(BPF_OR, alu64(BPF_OR, U32, K(1)), K(-16)), K(32)), 'scalar(smin=umin=smin32=umin32=17,smax=umax=smax32=umax32=31,var_off=(0x11; 0xe))'],
    ['r3 &= 255; r3 = be16 r3', scalarEnd('be', 16, alu64(BPF_AND, alu64(BPF_OR, U32, K(1)), K(255))), 'scalar(smin=umin=smin32=umin32=256,smax=umax=smax32=umax32=0xff00,var_off=(0x100; 0xfe00))'],
    ['w4 /= 3', scalarAlu(BPF_DIV, false, U32, K(3)), 'scalar()'],
    ['r5 /= 3', alu64(BPF_DIV, U32, K(3)), 'scalar()'],
    ['r5 %= 3', alu64(BPF_MOD, U32, K(3)), 'scalar()'],
    ['r1 <<= r2 (unknown)', alu64(BPF_LSH, BYTE, U32), 'scalar()'],
    ['r0 = 0', scalarMovImm(true, 0), '0'],
  ];
  for (const [insn, s, want] of cases) assert.equal(scalarStr(s), want, insn);
});

test('scalar: narrowing prints as the 6.18 kernel prints it', () => {
  const odd = alu64(BPF_OR, U32, K(1));
  // if r1 == 0x2 goto: never (bit 0 is known 1); the kernel predicts it
  assert.equal(scalarBranchTaken(BPF_JEQ, false, odd, K(2)), 0);
  // r6 = r1 & 0xff; if r6 > 0x10 goto +1 (fall-through); r6 <<= 2
  const r6 = alu64(BPF_AND, odd, K(255));
  assert.equal(scalarBranchTaken(BPF_JGT, false, r6, K(0x10)), -1);
  const ft = scalarNarrow(BPF_JGT, false, r6, K(0x10)).fallthrough[0];
  assert.equal(scalarStr(ft), 'scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=16,var_off=(0x1; 0x1e))');
  assert.equal(scalarStr(alu64(BPF_LSH, ft, K(2))), 'scalar(smin=umin=smin32=umin32=4,smax=umax=smax32=umax32=64,var_off=(0x4; 0x78))');
  // if w1 <= 15 goto (fall-through) with s32 <= 7: the u32 range meets only the negative s32 half
  const s32le7 = scalarFrom({ umin: 0n, umax: 0xffffffffn, smax32: 7 });
  assert.equal(scalarStr(s32le7), 'scalar(smin=0,smax=umax=0xffffffff,smax32=7,var_off=(0x0; 0xffffffff))');
  assert.equal(scalarStr(scalarNarrow(BPF_JLE, true, s32le7, K(15)).fallthrough[0]),
    'scalar(smin=umin=umin32=0x80000000,smax=umax=0xffffffff,smax32=-1,var_off=(0x80000000; 0x7fffffff))');
  // if w1 != 15 goto (fall-through): the low half is 15, and the u64 range meets the tnum in one value
  const r1 = scalarFrom({ varOff: tnumOf(0xfffffffc00000000n, 0x1ffffffffn), umin: 0xfffffffc00020000n, umax: 0xfffffffdffffffffn, smin: s64(0xfffffffc00020000n), smax: s64(0xfffffffdffffffffn) });
  assert.equal(scalarStr(r1), 'scalar(smin=0xfffffffc00020000,smax=0xfffffffdffffffff,umin=0xfffffffc00020000,umax=0xfffffffdffffffff,var_off=(0xfffffffc00000000; 0x1ffffffff))');
  assert.equal(scalarStr(scalarNarrow(BPF_JNE, true, r1, K(15)).fallthrough[0]), '0xfffffffd0000000f');
  // if w1 s<= 0 goto (fall-through): s32 >= 1 inside a 64-bit range of one upper half
  const neg = scalarFrom({ smin: -0x100000000n + 2n, smax: 0n });
  assert.equal(scalarStr(scalarNarrow(BPF_JSLE, true, neg, K(0)).fallthrough[0]),
    'scalar(smin=0xffffffff00000002,smax=0xffffffff7fffffff,umin=0xffffffff00000002,umax=0xffffffff7fffffff,smin32=umin32=2,umax32=0x7fffffff,var_off=(0xffffffff00000000; 0x7fffffff))');
  // if r1 > r1 goto: not predicted by 6.18; the taken side narrows the one register twice
  const same = scalarNarrow(BPF_JGT, false, U32, U32, true);
  assert.equal(scalarStr(same.taken[0]), 'scalar(smin=umin=umin32=1,smax=umax=umax32=0xfffffffe,var_off=(0x0; 0xffffffff))');
  assert.equal(same.taken[1], same.taken[0]);
  assert.equal(scalarStr(same.fallthrough[0]), scalarStr(U32));
  // w8 s>>= 31 then w8 &= 0x80000000: the kernel splits r8 into -1 and 0 (maybe_fork_scalars)
  const sign = scalarAlu(BPF_ARSH, false, U32, K(31));
  assert.equal(scalarStr(sign), 'scalar(smin=0,smax=umax=0xffffffff,smin32=-1,smax32=0,var_off=(0x0; 0xffffffff))');
  const fork = scalarAluFork(BPF_AND, sign, K(-0x80000000))!;
  assert.equal(scalarStr(scalarAlu(BPF_AND, false, fork[0], K(-0x80000000))), '0x80000000');
  assert.equal(scalarStr(scalarAlu(BPF_AND, false, fork[1], K(-0x80000000))), '0');
  assert.equal(scalarAluFork(BPF_XOR, sign, K(1)), undefined);
  assert.equal(scalarAluFork(BPF_AND, sign, U32), undefined);
  assert.equal(scalarAluFork(BPF_AND, BYTE, K(1)), undefined);
  // jset with a single bit learns the bit; its negation clears the bits
  const n = scalarNarrow(BPF_JSET, false, BYTE, K(4));
  assert.equal(scalarStr(n.taken[0]), 'scalar(smin=umin=smin32=umin32=4,smax=umax=smax32=umax32=255,var_off=(0x4; 0xfb))');
  assert.equal(scalarStr(n.fallthrough[0]), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=251,var_off=(0x0; 0xfb))');
  assert.equal(scalarBranchTaken(BPF_JSET, false, alu64(BPF_OR, BYTE, K(4)), K(4)), 1);
  assert.equal(scalarBranchTaken(BPF_JSET, false, BYTE, K(0x100)), 0);
});

test('scalar: constants and bounds print in decimal up to 16 bits, in hex beyond', () => {
  assert.equal(scalarStr(scalarConst(0n)), '0');
  assert.equal(scalarStr(scalarConst(-1n)), '-1');
  assert.equal(scalarStr(scalarConst(32767n)), '32767');
  assert.equal(scalarStr(scalarConst(32768n)), '0x8000');
  assert.equal(scalarStr(scalarConst(-32768n)), '-32768');
  assert.equal(scalarStr(scalarConst(-32769n)), '0xffffffffffff7fff');
  assert.equal(scalarStr(scalarConst(0x10000n), { precise: true }), 'P0x10000');
  assert.equal(scalarStr(SCALAR_UNKNOWN), 'scalar()');
  assert.equal(scalarStr(SCALAR_UNKNOWN, { precise: true }), 'Pscalar()');
  assert.equal(scalarStr(BYTE, { id: 1 }), 'scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))');
  assert.equal(scalarStr(alu64(BPF_ADD, BYTE, K(-5)), { id: 1, idOffset: -5 }), 'scalar(id=1-5,smin=smin32=-5,smax=smax32=250)');
  assert.equal(scalarStr(scalarFrom({ umax: 65535n })), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=0xffff,var_off=(0x0; 0xffff))');
  assert.equal(scalarStr(scalarFrom({ umax: 65534n })), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=0xfffe,var_off=(0x0; 0xffff))');
  assert.equal(scalarStr(scalarFrom({ umax: 1000n })), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=1000,var_off=(0x0; 0x3ff))');
});

test('scalar: sanity check names the broken invariant; misuse is an internal error', () => {
  assert.equal(scalarSanity(BYTE), undefined);
  // hand-made inconsistent values (a walker narrowing a dead branch can make such)
  const t5 = tnumConst(5n);
  assert.equal(scalarSanity(new Scalar(TNUM_UNKNOWN, 0, 0, 0, 9, 0, 9, 0, 3, 0, 9, 0, 9)), 'range bounds violation');
  assert.equal(scalarSanity(new Scalar(TNUM_UNKNOWN, 0, 0, 0, 9, 0, 0, 0, 9, 0, 9, 9, 3)), 'range bounds violation');
  assert.equal(scalarSanity(new Scalar(t5, 0, 5, 0, 5, 0, 5, 0, 6, 5, 5, 5, 5)), 'const tnum out of sync with range bounds');
  assert.equal(scalarSanity(new Scalar(tnumOf(5n, 0xff00000000n), 0, 5, 0xff, 5, 0, 5, 0xff, 5, 5, 5, 4, 5)), 'const subreg tnum out of sync with range bounds');
  // the kernel's narrowing of a dead side: 255 > 300 leaves u64 [301, 255], which the
  // tnum_step rule turns into the tnum's largest member
  assert.equal(scalarStr(scalarNarrow(BPF_JGT, false, BYTE, K(300)).taken[0]), '255');
  assert.throws(() => scalarAlu(BPF_MOV, true, BYTE, BYTE), InternalError);
  // inputs are never changed
  const before = scalarStr(BYTE);
  alu64(BPF_ADD, BYTE, K(7));
  scalarNarrow(BPF_JEQ, false, BYTE, K(7));
  assert.equal(scalarStr(BYTE), before);
});

// ---- differential against the host kernel ----

/** A loader that prints each program's whole verifier log (log_level 2). */
const KLOG_C = `#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static char log[1 << 22], line[1 << 17];
static unsigned char buf[1 << 16];
int main(void) {
  while (fgets(line, sizeof line, stdin)) {
    int n = 0; unsigned v; char *s = line;
    while (s[0] && s[1] && s[0] != '\\n' && sscanf(s, "%2x", &v) == 1) { buf[n++] = v; s += 2; }
    union bpf_attr a; memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER; a.insns = (uint64_t)(uintptr_t)buf; a.insn_cnt = n / 8;
    a.license = (uint64_t)(uintptr_t)"GPL"; a.log_buf = (uint64_t)(uintptr_t)log; a.log_size = sizeof log; a.log_level = 2;
    log[0] = 0;
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    printf("== %s %d\\n%s\\n", fd < 0 ? "ERR" : "OK", fd < 0 ? errno : 0, log);
    if (fd >= 0) close(fd);
    fflush(stdout);
  }
  return 0;
}
`;

function buildKlog(): { exe?: string; why?: string } {
  const dir = tempDir('tsbpf-scalar-');
  writeFileSync(join(dir, 'klog.c'), KLOG_C);
  const exe = join(dir, 'klog');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(dir, 'klog.c')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `no C compiler (${cc.error?.message ?? cc.stderr.trim()})` };
  const probe = spawnSync(exe, [], { input: 'b7000000000000009500000000000000\n', encoding: 'utf8' });
  if (!probe.stdout.startsWith('== OK')) return { why: `bpf(2) is not available here (${probe.stdout.split('\n')[0] || probe.error?.message || 'no output'})` };
  return { exe };
}

interface Step {
  hex: string;
  /**
   * model the instruction on the registers; 'stop' when the path ends (a jump
   * predicted taken); a jump that may go either way leaves its taken side's
   * registers in `taken`
   */
  sim(R: Scalar[], taken?: Scalar[][]): 'stop' | void;
  jmp?: { code: number; dst: number; src: number; imm: number };
}

function slot(code: number, dst: number, src: number, off: number, imm: number): string {
  const b = Buffer.alloc(8);
  b[0] = code;
  b[1] = dst | (src << 4);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm | 0, 4);
  return b.toString('hex');
}

/**
 * A random program: r6, r7 unknown 64-bit (helper 5's result), r8, r1, r3 u32
 * and r2 u16 context loads, r4, r5 constants, then ALU/ALU64 operations (K and
 * X), movs (the source then or-ed with 0, which ends the kernel's link between
 * the two registers so its branch narrowing of linked registers stays out),
 * byte swaps and conditional jumps to the exit; the fall-through is modelled.
 */
function randomProgram(rnd: (n: number) => number, len: number): Step[] {
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const IMMS = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 0xff, 0x100, 0x7fff, 0xffff, -1, -2, -16, -256, 0x7fffffff, -0x80000000, 0x12345678, 100, 1000];
  const steps: Step[] = [{ hex: slot(0xbf, 9, 1, 0, 0), sim() {} }];
  for (const r of [6, 7]) {
    steps.push({ hex: slot(0x85, 0, 0, 0, 5), sim(R) { R[0] = SCALAR_UNKNOWN; } });
    steps.push({ hex: slot(0xbf, r, 0, 0, 0), sim(R) { R[r] = R[0]!; } });
  }
  steps.push({ hex: slot(0xb7, 0, 0, 0, 0), sim(R) { R[0] = scalarConst(0n); } });
  for (const [r, off, size] of [[8, 0, 4], [1, 8, 4], [2, 0, 2], [3, 4, 4]] as const) {
    steps.push({ hex: slot(size === 4 ? 0x61 : 0x69, r, 9, off, 0), sim(R) { R[r] = scalarTruncate(SCALAR_UNKNOWN, size); } });
  }
  for (const r of [4, 5]) {
    const imm = pick(IMMS);
    steps.push({ hex: slot(0xb7, r, 0, 0, imm), sim(R) { R[r] = scalarMovImm(true, imm); } });
  }
  const regs = [1, 2, 3, 4, 5, 6, 7, 8];
  for (let i = 0; i < len; i++) {
    const k = rnd(20), d = pick(regs), s = pick(regs), is64 = rnd(2) === 0, cls = is64 ? 7 : 4;
    if (k < 11) {
      const op = pick(ALU_OPS), useX = rnd(2) === 0 && op !== BPF_NEG;
      const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
      let imm = useX || op === BPF_NEG ? 0 : shift ? rnd(is64 ? 64 : 32) : pick(IMMS);
      if (!useX && imm === 0 && (op === BPF_DIV || op === BPF_MOD)) imm = 3; // the kernel refuses `div by zero`
      const off = (op === BPF_DIV || op === BPF_MOD) && rnd(3) === 0 ? 1 : 0;
      steps.push({
        hex: slot(cls | op | (useX ? 8 : 0), d, useX ? s : 0, off, imm),
        sim(R) {
          const src = useX ? R[s]! : scalarImm(imm);
          // where the kernel splits the state, the log follows the -1 side first
          const fork = scalarAluFork(op, R[d]!, src);
          R[d] = scalarAlu(op, is64, fork ? fork[0] : R[d]!, src);
        },
      });
    } else if (k < 13) {
      if (d === s) continue;
      const sx = rnd(3) === 0 ? (is64 ? pick([8, 16, 32] as const) : pick([8, 16] as const)) : 0;
      steps.push({ hex: slot(cls | BPF_MOV | 8, d, s, sx, 0), sim(R) { R[d] = sx ? scalarMovsx(is64, R[s]!, sx) : scalarMov(is64, R[s]!); } });
      steps.push({ hex: slot(0x47, s, 0, 0, 0), sim(R) { R[s] = scalarAlu(BPF_OR, true, R[s]!, scalarImm(0)); } });
    } else if (k < 14) {
      const imm = pick(IMMS);
      steps.push({ hex: slot(cls | BPF_MOV, d, 0, 0, imm), sim(R) { R[d] = scalarMovImm(is64, imm); } });
    } else if (k < 15) {
      const kind = pick(['le', 'be', 'bswap'] as const), bits = pick([16, 32, 64] as const);
      steps.push({ hex: slot(kind === 'bswap' ? 0xd7 : kind === 'be' ? 0xdc : 0xd4, d, 0, 0, bits), sim(R) { R[d] = scalarEnd(kind, bits, R[d]!); } });
    } else {
      const op = pick(JMP_OPS), useX = rnd(2) === 0, j32 = rnd(2) === 0, imm = useX ? 0 : pick(IMMS);
      steps.push({
        hex: '', jmp: { code: (j32 ? 6 : 5) | op | (useX ? 8 : 0), dst: d, src: useX ? s : 0, imm },
        sim(R, taken) {
          const b = useX ? R[s]! : scalarImm(imm);
          const t = scalarBranchTaken(op, j32, R[d]!, b);
          if (t === 1) return 'stop';
          if (t === 0) return;
          const n = scalarNarrow(op, j32, R[d]!, b, useX && d === s);
          const T = [...R];
          T[d] = n.taken[0];
          if (useX) T[s] = n.taken[1];
          taken?.push(T);
          R[d] = n.fallthrough[0];
          if (useX) R[s] = n.fallthrough[1];
        },
      });
    }
  }
  // each jump lands on an exit of its own, so that the kernel, visiting it first there,
  // logs the taken side's state (`from 17 to 40: R1=...`) instead of pruning it
  steps.push({ hex: slot(0xb7, 0, 0, 0, 0), sim() {} }, { hex: slot(0x95, 0, 0, 0, 0), sim() {} });
  const n = steps.length;
  steps.slice(0, n).forEach((x, i) => {
    if (!x.jmp) return;
    x.hex = slot(x.jmp.code, x.jmp.dst, x.jmp.src, steps.length - i - 1, x.jmp.imm);
    steps.push({ hex: slot(0xb7, 0, 0, 0, 0), sim() {} }, { hex: slot(0x95, 0, 0, 0, 0), sim() {} });
  });
  return steps;
}

const klog = process.platform === 'linux' ? buildKlog() : { why: 'not Linux' };
const kskip = klog.exe ? false : klog.why!;

test('scalar: every register value the host kernel logs for random programs (after each instruction, and on the taken side of each jump) is scalarStr of the model', { skip: kskip }, () => {
  let seed = 20261206;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  const progs = Array.from({ length: 300 }, () => randomProgram(rnd, 30));
  const r = spawnSync(klog.exe!, [], { input: progs.map((p) => p.map((x) => x.hex).join('')).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  const logs = r.stdout.split(/^== /m).slice(1);
  assert.equal(logs.length, progs.length);
  let compared = 0, takenCompared = 0;
  const differ: string[] = [];
  logs.forEach((log, pi) => {
    assert.ok(log.startsWith('OK'), `program ${pi} rejected: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    const printed = new Map<number, string>();
    const takenLog = new Map<number, string>();
    for (const l of log.split('\n')) {
      const m = /^(\d+): \([0-9a-f]{2}\).*?; (R.*)$/.exec(l);
      if (m && !printed.has(+m[1]!)) printed.set(+m[1]!, m[2]!);
      const f = /^from (\d+) to \d+: (R.*)$/.exec(l);
      if (f && !takenLog.has(+f[1]!)) takenLog.set(+f[1]!, f[2]!);
    }
    const R: Scalar[] = [];
    const prog = progs[pi]!;
    for (let i = 0; i < prog.length; i++) {
      const before = R.map((x) => scalarStr(x));
      const taken: Scalar[][] = [];
      const stop = prog[i]!.sim(R, taken);
      const compare = (line: string | undefined, regs: Scalar[], side: string): void => {
        for (const part of (line ?? '').split(/ (?=R\d+=)/)) {
          const m = /^R(\d+)=(.*)$/.exec(part);
          if (!m) continue;
          const reg = +m[1]!;
          if (reg === 0 || reg === 9 || reg === 10 || !regs[reg]) continue;
          // the walker's business, not the domain's: linked-register ids and precision marks
          const kernel = m[2]!.replace(/id=\d+([+-]\d+)?,?/, '').replace(/^P/, '').replace('scalar(,', 'scalar(');
          compared++;
          const mine = scalarStr(regs[reg]!);
          if (kernel !== mine) differ.push(`program ${pi} insn ${i} (${prog[i]!.hex}) ${side} R${reg}: kernel ${kernel}, tsbpf ${mine}; before: ${before.map((b, j) => `R${j}=${b}`).join(' ')}`);
        }
      };
      compare(printed.get(i), R, 'after');
      if (taken.length > 0) {
        assert.ok(takenLog.has(i), `program ${pi}: no taken-side state logged for the jump at ${i}`);
        takenCompared++;
        compare(takenLog.get(i), taken[0]!, 'taken');
      }
      if (stop) break;
    }
  });
  assert.ok(compared > 5000, `only ${compared} values compared`);
  assert.ok(takenCompared > 300, `only ${takenCompared} taken sides compared`);
  assert.deepEqual(differ.slice(0, 5), []);
});
