/**
 * The interpreter's 64-bit arithmetic on 32-bit halves, checked against an
 * independent BigInt model of RFC 9669 on random and edge-case operands,
 * for every ALU, ALU64, END, JMP and JMP32 opcode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_K, BPF_X, BPF_LD_IMM64, BPF_MOV64_REG, BPF_EXIT_INSN,
  BPF_MOV64_IMM, toSlots,
} from '../src/isa/index.js';
import type { Instruction } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const swap = (x: bigint, bytes: number): bigint => {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
};

/** RFC 9669 ALU semantics. `b` is the operand already widened (imm sign-extended to 64 bits). */
function alu(op: number, is64: boolean, a: bigint, b: bigint, off: number): bigint {
  const bits = is64 ? 64 : 32;
  const mask = is64 ? M64 : M32;
  const ua = a & mask;
  const ub = b & mask;
  const sa = BigInt.asIntN(bits, ua);
  const sb = BigInt.asIntN(bits, ub);
  const wrap = (x: bigint): bigint => BigInt.asUintN(bits, x);
  switch (op) {
    case 0x00: return wrap(ua + ub);
    case 0x10: return wrap(ua - ub);
    case 0x20: return wrap(ua * ub);
    case 0x30:
      if (ub === 0n) return 0n;
      return off === 1 ? wrap(sa / sb) : ua / ub;
    case 0x90:
      if (ub === 0n) return ua;
      return off === 1 ? wrap(sa % sb) : ua % ub;
    case 0x40: return ua | ub;
    case 0x50: return ua & ub;
    case 0xa0: return ua ^ ub;
    case 0x60: return wrap(ua << (ub & BigInt(bits - 1)));
    case 0x70: return ua >> (ub & BigInt(bits - 1));
    case 0xc0: return wrap(sa >> (ub & BigInt(bits - 1)));
    case 0x80: return wrap(-ua);
    case 0xb0:
      if (off === 0) return ub;
      return wrap(BigInt.asIntN(off, b));
    default: throw new Error(`no model for op ${op}`);
  }
}

function jump(op: number, is64: boolean, a: bigint, b: bigint): boolean {
  const bits = is64 ? 64 : 32;
  const mask = is64 ? M64 : M32;
  const ua = a & mask;
  const ub = b & mask;
  const sa = BigInt.asIntN(bits, ua);
  const sb = BigInt.asIntN(bits, ub);
  switch (op) {
    case 0x10: return ua === ub;
    case 0x50: return ua !== ub;
    case 0x40: return (ua & ub) !== 0n;
    case 0x20: return ua > ub;
    case 0x30: return ua >= ub;
    case 0xa0: return ua < ub;
    case 0xb0: return ua <= ub;
    case 0x60: return sa > sb;
    case 0x70: return sa >= sb;
    case 0xc0: return sa < sb;
    case 0xd0: return sa <= sb;
    default: throw new Error(`no model for jump ${op}`);
  }
}

const edges = [0n, 1n, 2n, 3n, 7n, 31n, 32n, 63n, 64n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, M64, M64 - 1n, 0xffffffff80000000n, 0x123456789abcdefn];
const value = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: M64 }), fc.bigInt({ min: 0n, max: M32 }),
  fc.bigInt({ min: -1000n, max: 1000n }).map(u64));
const imm = fc.oneof(fc.constantFrom(0, 1, -1, 2, 31, 32, 63, 64, 0x7fffffff, -0x80000000, -7), fc.integer({ min: -0x80000000, max: 0x7fffffff }));

const rt = new Runtime();
function exec(prog: Instruction[]): bigint {
  const it = new Interpreter(rt.mem, toSlots(prog), { helpers: rt.helpers });
  return it.run().r0;
}

const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0];

for (const is64 of [true, false]) {
  for (const op of ALU_OPS) {
    const cls = is64 ? BPF_ALU64 : BPF_ALU;
    const offs = op === 0x30 || op === 0x90 ? [0, 1] : [0];
    for (const off of offs) {
      const name = `${is64 ? 'alu64' : 'alu32'} op 0x${op.toString(16)}${off ? ' signed' : ''}`;
      test(`${name}, register operand, matches the model`, () => {
        fc.assert(fc.property(value, value, (a, b) => {
          const code = op === 0x80 ? cls | op | BPF_K : cls | op | BPF_X;
          const prog = [BPF_LD_IMM64(1, a), BPF_LD_IMM64(2, b), { code, dst: 1, src: op === 0x80 ? 0 : 2, off, imm: 0 },
            BPF_MOV64_REG(0, 1), BPF_EXIT_INSN()];
          assert.equal(exec(prog), alu(op, is64, a, op === 0x80 ? 0n : b, off), `a=${a} b=${b}`);
        }), { numRuns: 300 });
      });
      if (op === 0x80) continue;
      test(`${name}, immediate operand, matches the model`, () => {
        fc.assert(fc.property(value, imm, (a, k) => {
          const prog = [BPF_LD_IMM64(1, a), { code: cls | op | BPF_K, dst: 1, src: 0, off, imm: k }, BPF_MOV64_REG(0, 1), BPF_EXIT_INSN()];
          assert.equal(exec(prog), alu(op, is64, a, u64(BigInt(k)), off), `a=${a} imm=${k}`);
        }), { numRuns: 300 });
      });
    }
  }
}

test('movsx matches the model', () => {
  fc.assert(fc.property(value, fc.constantFrom(8, 16, 32), fc.boolean(), (a, width, is64) => {
    if (!is64 && width === 32) return;
    const cls = is64 ? BPF_ALU64 : BPF_ALU;
    const prog = [BPF_LD_IMM64(2, a), BPF_LD_IMM64(1, 0xdeadbeefcafebaben), { code: cls | 0xb0 | BPF_X, dst: 1, src: 2, off: width, imm: 0 },
      BPF_MOV64_REG(0, 1), BPF_EXIT_INSN()];
    const want = is64 ? u64(BigInt.asIntN(width, a)) : BigInt.asUintN(32, BigInt.asIntN(width, a));
    assert.equal(exec(prog), want);
  }), { numRuns: 500 });
});

test('byte swaps match the model', () => {
  fc.assert(fc.property(value, fc.constantFrom(0xd4, 0xdc, 0xd7), fc.constantFrom(16, 32, 64), (a, code, width) => {
    const prog = [BPF_LD_IMM64(0, a), { code, dst: 0, src: 0, off: 0, imm: width }, BPF_EXIT_INSN()];
    const low = a & ((1n << BigInt(width)) - 1n);
    const want = code === 0xd4 ? low : swap(low, width / 8);
    assert.equal(exec(prog), want);
  }), { numRuns: 500 });
});

const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
for (const is64 of [true, false]) {
  for (const op of JMP_OPS) {
    const cls = is64 ? BPF_JMP : BPF_JMP32;
    test(`${is64 ? 'jmp' : 'jmp32'} op 0x${op.toString(16)} matches the model`, () => {
      fc.assert(fc.property(value, value, imm, fc.boolean(), (a, b, k, useReg) => {
        const cond: Instruction = useReg
          ? { code: cls | op | BPF_X, dst: 1, src: 2, off: 2, imm: 0 }
          : { code: cls | op | BPF_K, dst: 1, src: 0, off: 2, imm: k };
        const prog = [BPF_LD_IMM64(1, a), BPF_LD_IMM64(2, b), cond, BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(), BPF_MOV64_IMM(0, 1), BPF_EXIT_INSN()];
        const taken = jump(op, is64, a, useReg ? b : u64(BigInt(k)));
        assert.equal(exec(prog), taken ? 1n : 0n, `a=${a} b=${useReg ? b : k}`);
      }), { numRuns: 300 });
    });
  }
}


test('64-bit shifts by every constant amount match the model, in both modes', () => {
  // Constant shifts are specialised by amount when predecoded (1..31, 32..63; 0 stays generic).
  const checkedRt = new Runtime();
  for (const checked of [false, true]) {
    for (const op of [0x60, 0x70, 0xc0]) {
      for (let amount = -1; amount <= 64; amount++) {
        for (const a of [0x8123456789abcdefn, 0x7fedcba987654321n, 1n, M64]) {
          const prog = [BPF_LD_IMM64(1, a), { code: BPF_ALU64 | op | BPF_K, dst: 1, src: 0, off: 0, imm: amount }, BPF_MOV64_REG(0, 1), BPF_EXIT_INSN()];
          const it = new Interpreter(checkedRt.mem, toSlots(prog), { helpers: checkedRt.helpers, checked });
          assert.equal(it.run().r0, alu(op, true, a, u64(BigInt(amount)), 0), `op 0x${op.toString(16)} by ${amount}, a=${a}, checked=${checked}`);
        }
      }
    }
  }
});
