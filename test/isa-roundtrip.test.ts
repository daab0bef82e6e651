/**
 * Property tests over the whole opcode table: decode(encode(p)) = p and
 * assemble(disasm(p)) = p for canonical instructions of every valid opcode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ATOMIC_OPS, BPF_ALU, BPF_CLASS, BPF_DIV, BPF_MOD, BPF_MOV, BPF_OP, BPF_SRC, BPF_X,
  VALID_OPCODES, assemble, decode, disasm, encode, opcodeShape,
} from '../src/isa/index.js';
import type { Instruction } from '../src/isa/index.js';

const reg = fc.integer({ min: 0, max: 10 });
const s16 = fc.integer({ min: -0x8000, max: 0x7fff });
const s32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });

/** A canonical instruction for `code`: meaningful fields random, reserved fields zero. */
function insnFor(code: number): fc.Arbitrary<Instruction> {
  const mk = (dst: number, src: number, off: number, imm: number): Instruction => ({ code, dst, src, off, imm });
  const shape = opcodeShape(code)!;
  const op = BPF_OP(code);
  const isX = BPF_SRC(code) === BPF_X;
  switch (shape) {
    case 'alu': {
      let off: fc.Arbitrary<number> = fc.constant(0);
      if (op === BPF_DIV || op === BPF_MOD) off = fc.constantFrom(0, 1);
      if (op === BPF_MOV && isX) off = BPF_CLASS(code) === BPF_ALU ? fc.constantFrom(0, 8, 16) : fc.constantFrom(0, 8, 16, 32);
      return isX
        ? fc.tuple(reg, reg, off).map(([d, s, o]) => mk(d, s, o, 0))
        : fc.tuple(reg, off, s32).map(([d, o, i]) => mk(d, 0, o, i));
    }
    case 'neg': return reg.map((d) => mk(d, 0, 0, 0));
    case 'end': return fc.tuple(reg, fc.constantFrom(16, 32, 64)).map(([d, i]) => mk(d, 0, 0, i));
    case 'ja': return s16.map((o) => mk(0, 0, o, 0));
    case 'ja32': return s32.map((i) => mk(0, 0, 0, i));
    case 'jcond':
      return isX
        ? fc.tuple(reg, reg, s16).map(([d, s, o]) => mk(d, s, o, 0))
        : fc.tuple(reg, s16, s32).map(([d, o, i]) => mk(d, 0, o, i));
    case 'call': return fc.tuple(fc.constantFrom(0, 1, 2), s32).map(([s, i]) => mk(0, s, 0, i));
    case 'callx': return reg.map((d) => mk(d, 0, 0, 0));
    case 'exit': return fc.constant(mk(0, 0, 0, 0));
    case 'lddw':
      return fc.oneof(
        fc.tuple(reg, s32, s32).map(([d, i, i2]) => ({ ...mk(d, 0, 0, i), imm2: i2 })),
        fc.tuple(reg, s32).map(([d, i]) => ({ ...mk(d, 1, 0, i), imm2: 0 })),
        fc.tuple(reg, s32, s32).map(([d, i, i2]) => ({ ...mk(d, 2, 0, i), imm2: i2 })),
        fc.tuple(reg, fc.integer({ min: 3, max: 6 }), s32, s32).map(([d, s, i, i2]) => ({ ...mk(d, s, 0, i), imm2: i2 })),
      );
    case 'ldabs': return s32.map((i) => mk(0, 0, 0, i));
    case 'ldind': return fc.tuple(reg, s32).map(([s, i]) => mk(0, s, 0, i));
    case 'ldx':
    case 'ldsx':
    case 'stx': return fc.tuple(reg, reg, s16).map(([d, s, o]) => mk(d, s, o, 0));
    case 'st': return fc.tuple(reg, s16, s32).map(([d, o, i]) => mk(d, 0, o, i));
    case 'atomic': return fc.tuple(reg, reg, s16, fc.constantFrom(...ATOMIC_OPS)).map(([d, s, o, i]) => mk(d, s, o, i));
  }
}

const anyInsn = fc.constantFrom(...VALID_OPCODES).chain(insnFor);
const program = fc.array(anyInsn, { minLength: 1, maxLength: 40 });

test('the opcode table has every opcode of the 3.19 uapi and RFC 9669', () => {
  // ALU: 12 ops x K/X + NEG(K) = 25 per class, x2 classes; END: 0xd4 0xdc 0xd7.
  // JMP: 11 conditional x K/X + JA + CALL + CALLX + EXIT; JMP32: 11 x K/X + JA.
  // LD: lddw + ABS/IND x W/H/B; LDX: MEM x 4 + MEMSX x 3; ST x 4; STX x 4 + ATOMIC W/DW.
  assert.equal(VALID_OPCODES.length, 50 + 3 + 26 + 23 + 7 + 7 + 4 + 6);
  for (const code of [0x07, 0x0f, 0x87, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x85, 0x8d, 0x95, 0x18, 0x20, 0x50, 0x61, 0x79, 0x81, 0x91, 0x62, 0x7b, 0xc3, 0xdb, 0xa5, 0xde]) {
    assert.ok(VALID_OPCODES.includes(code), `0x${code.toString(16)} is valid`);
  }
  for (const code of [0x00, 0x8f, 0x8c, 0xdf, 0x0d, 0x0e, 0x86, 0x96, 0x38, 0x58, 0x99, 0xe7, 0xf7]) {
    assert.ok(!VALID_OPCODES.includes(code), `0x${code.toString(16)} is invalid`);
  }
});

test('decode(encode(p)) = p over the whole opcode table', () => {
  fc.assert(fc.property(program, (p) => {
    assert.deepEqual(decode(encode(p)), p);
  }), { numRuns: 2000 });
});

test('assemble(disasm(p)) = p over the whole opcode table', () => {
  fc.assert(fc.property(program, (p) => {
    assert.deepEqual(assemble(disasm(p)), p);
  }), { numRuns: 2000 });
});

test('every valid opcode survives both round trips at least once', () => {
  for (const code of VALID_OPCODES) {
    fc.assert(fc.property(insnFor(code), (i) => {
      assert.deepEqual(decode(encode([i])), [i]);
      assert.deepEqual(assemble(disasm([i])), [i]);
    }), { numRuns: 50 });
  }
});

/**
 * The 'modern' style (the 6.x kernel's log) loses only what the kernel's
 * log loses: an ld_imm64's pseudo source (it prints the value), a call's
 * kfunc/helper distinction and callx; everything else reads back.
 */
const modernLossless = (i: Instruction): boolean =>
  !(i.code === 0x18 && i.src !== 0) && !(opcodeShape(i.code) === 'call' && i.src === 2) && opcodeShape(i.code) !== 'callx';

test('assemble(disasm(p, modern)) = p for what the modern log does not lose', () => {
  fc.assert(fc.property(program.map((p) => p.filter(modernLossless)).filter((p) => p.length > 0), (p) => {
    assert.deepEqual(assemble(disasm(p, { style: 'modern' })), p);
  }), { numRuns: 2000 });
});

test('the modern style prints as the 6.18 kernel\'s log does', () => {
  const one = (i: Instruction): string => disasm([i], { style: 'modern', helperName: (id) => (id === 1 ? 'bpf_map_lookup_elem' : undefined) }).trimEnd();
  const cases: [Instruction, string][] = [
    [{ code: 0xb4, dst: 0, src: 0, off: 0, imm: 0 }, '0: (b4) w0 = 0'],
    [{ code: 0x64, dst: 1, src: 0, off: 0, imm: 8 }, '0: (64) w1 <<= 8'],
    [{ code: 0x4c, dst: 1, src: 2, off: 0, imm: 0 }, '0: (4c) w1 |= w2'],
    [{ code: 0xa6, dst: 1, src: 0, off: 1, imm: 7 }, '0: (a6) if w1 < 0x7 goto pc+1'],
    [{ code: 0x2e, dst: 3, src: 4, off: -2, imm: 0 }, '0: (2e) if w3 > w4 goto pc-2'],
    [{ code: 0x87, dst: 2, src: 0, off: 0, imm: 0 }, '0: (87) r2 = -r2'],
    [{ code: 0x84, dst: 2, src: 0, off: 0, imm: 0 }, '0: (84) w2 = -w2'],
    [{ code: 0xbf, dst: 0, src: 1, off: 8, imm: 0 }, '0: (bf) r0 = (s8)r1'],
    [{ code: 0x3c, dst: 0, src: 1, off: 1, imm: 0 }, '0: (3c) w0 s/= w1'],
    [{ code: 0x85, dst: 0, src: 0, off: 0, imm: 1 }, '0: (85) call bpf_map_lookup_elem#1'],
    [{ code: 0x85, dst: 0, src: 0, off: 0, imm: 0xbad2310 }, '0: (85) call unknown#195896080'],
    [{ code: 0x85, dst: 0, src: 1, off: 0, imm: 5 }, '0: (85) call pc+5'],
    [{ code: 0x18, dst: 1, src: 0, off: 0, imm: 1, imm2: 2 }, '0: (18) r1 = 0x200000001'],
    [{ code: 0xdc, dst: 2, src: 0, off: 0, imm: 16 }, '0: (dc) r2 = be16 r2'],
  ];
  for (const [i, text] of cases) assert.equal(one(i), text);
});
