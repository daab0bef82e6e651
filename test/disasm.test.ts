/**
 * The disassembler prints the kernel's verifier-log syntax. Expected lines
 * are written by hand from kernel/bpf/verifier.c print_bpf_insn (3.19) and,
 * for later opcodes, from the style this project extends it with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ADD, BPF_ALU64_IMM, BPF_ALU32_REG, BPF_ALU32_IMM, BPF_ATOMIC_OP, BPF_B, BPF_BSWAP, BPF_CALL_REL,
  BPF_CALLX, BPF_CMPXCHG, BPF_DIV, BPF_DW, BPF_EMIT_CALL, BPF_ENDIAN, BPF_EXIT_INSN, BPF_FETCH, BPF_H,
  BPF_JEQ, BPF_JGE, BPF_JLT, BPF_JMP32_A, BPF_JMP32_IMM, BPF_JMP32_REG, BPF_JMP_A, BPF_JMP_IMM, BPF_JMP_REG,
  BPF_JSLE, BPF_LDX_MEM, BPF_LDX_MEMSX, BPF_LD_ABS, BPF_LD_IMM64, BPF_LD_IND, BPF_LD_MAP_FD, BPF_MOD,
  BPF_MOV32_IMM, BPF_MOV64_IMM, BPF_MOV64_REG, BPF_MOVSX32_REG, BPF_MOVSX64_REG, BPF_NEG, BPF_OR,
  BPF_RAW_INSN, BPF_REG_0, BPF_REG_1, BPF_REG_10, BPF_REG_2, BPF_SDIV64_REG, BPF_SMOD64_REG, BPF_ST_MEM,
  BPF_STX_MEM, BPF_STX_XADD, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_XCHG, BPF_XOR, BPF_ARSH, BPF_ALU32_IMM_OFF,
  disasm, disasmInsn,
} from '../src/isa/index.js';
import type { Instruction } from '../src/isa/index.js';

const cases: [string, Instruction, string][] = [
  // 3.19 forms, as printed by print_bpf_insn
  ['st imm to stack', BPF_ST_MEM(BPF_DW, BPF_REG_10, -8, 0), '(7a) *(u64 *)(r10 -8) = 0'],
  ['mov reg', BPF_MOV64_REG(BPF_REG_2, BPF_REG_10), '(bf) r2 = r10'],
  ['add imm', BPF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8), '(07) r2 += -8'],
  ['alu32 reg', BPF_ALU32_REG(BPF_ADD, 1, 2), '(0c) (u32) r1 += (u32) r2'],
  ['mov32 imm', BPF_MOV32_IMM(0, 1), '(b4) (u32) r0 = (u32) 1'],
  ['neg', BPF_ALU64_IMM(BPF_NEG, 1, 0), '(87) r1 neg 0'],
  ['arsh', BPF_ALU64_IMM(BPF_ARSH, 3, 7), '(c7) r3 s>>= 7'],
  ['stx', BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, -8), '(7b) *(u64 *)(r10 -8) = r1'],
  ['stx u8 positive off', BPF_STX_MEM(BPF_B, 1, 2, 3), '(73) *(u8 *)(r1 +3) = r2'],
  ['xadd', BPF_STX_XADD(BPF_DW, 1, 2, 0), '(db) lock *(u64 *)(r1 +0) += r2'],
  ['ldx', BPF_LDX_MEM(BPF_DW, 0, 2, -8), '(79) r0 = *(u64 *)(r2 -8)'],
  ['ldx u16', BPF_LDX_MEM(BPF_H, 3, 1, 12), '(69) r3 = *(u16 *)(r1 +12)'],
  ['ld abs', BPF_LD_ABS(BPF_B, 23), '(30) r0 = *(u8 *)skb[23]'],
  ['ld ind', BPF_LD_IND(BPF_B, 1, 0), '(50) r0 = *(u8 *)skb[r1 + 0]'],
  ['ld ind negative', BPF_LD_IND(BPF_W, 7, -4), '(40) r0 = *(u32 *)skb[r7 + -4]'],
  ['call', BPF_EMIT_CALL(1), '(85) call 1'],
  ['ja forward', BPF_JMP_A(2), '(05) goto pc+2'],
  ['ja backward', BPF_JMP_A(-1), '(05) goto pc-1'],
  ['exit', BPF_EXIT_INSN(), '(95) exit'],
  ['jeq reg', BPF_JMP_REG(BPF_JEQ, 1, 2, 1), '(1d) if r1 == r2 goto pc+1'],
  ['jeq imm 0', BPF_JMP_IMM(BPF_JEQ, 0, 0, 2), '(15) if r0 == 0x0 goto pc+2'],
  ['jge imm', BPF_JMP_IMM(BPF_JGE, 1, 0, 2), '(35) if r1 >= 0x0 goto pc+2'],
  ['jeq negative imm prints unsigned hex', BPF_JMP_IMM(BPF_JEQ, 1, -1, 0), '(15) if r1 == 0xffffffff goto pc+0'],
  ['le16', BPF_ENDIAN(BPF_TO_LE, 1, 16), '(d4) r1 = le16 r1'],
  // later opcodes, in the same style
  ['be32', BPF_ENDIAN(BPF_TO_BE, 2, 32), '(dc) r2 = be32 r2'],
  ['bswap64', BPF_BSWAP(3, 64), '(d7) r3 = bswap64 r3'],
  ['lddw', BPF_LD_IMM64(1, 0x1122334455667788n), '(18) r1 = 0x1122334455667788'],
  ['lddw map', BPF_LD_MAP_FD(1, 5), '(18) r1 = map[fd:5]'],
  ['sdiv', BPF_SDIV64_REG(1, 2), '(3f) r1 s/= r2'],
  ['smod', BPF_SMOD64_REG(1, 2), '(9f) r1 s%= r2'],
  ['sdiv32 imm', BPF_ALU32_IMM_OFF(BPF_DIV, 1, -3, 1), '(34) (u32) r1 s/= (u32) -3'],
  ['mod32 imm', BPF_ALU32_IMM(BPF_MOD, 1, 3), '(94) (u32) r1 %= (u32) 3'],
  ['movsx64', BPF_MOVSX64_REG(1, 2, 8), '(bf) r1 = (s8) r2'],
  ['movsx32', BPF_MOVSX32_REG(1, 2, 16), '(bc) (u32) r1 = (s16) r2'],
  ['ldsx', BPF_LDX_MEMSX(BPF_H, 0, 1, 2), '(89) r0 = *(s16 *)(r1 +2)'],
  ['jlt', BPF_JMP_IMM(BPF_JLT, 1, 10, 3), '(a5) if r1 < 0xa goto pc+3'],
  ['jmp32 imm', BPF_JMP32_IMM(BPF_JEQ, 1, 1, 2), '(16) if (u32) r1 == 0x1 goto pc+2'],
  ['jmp32 reg', BPF_JMP32_REG(BPF_JSLE, 1, 2, -2), '(de) if (u32) r1 s<= (u32) r2 goto pc-2'],
  ['gotol', BPF_JMP32_A(70000), '(06) gotol pc+70000'],
  ['local call', BPF_CALL_REL(9), '(85) call pc+9'],
  ['callx', BPF_CALLX(2), '(8d) callx r2'],
  ['atomic or', BPF_ATOMIC_OP(BPF_W, BPF_OR, 1, 2, 4), '(c3) lock *(u32 *)(r1 +4) |= r2'],
  ['atomic fetch xor', BPF_ATOMIC_OP(BPF_DW, BPF_XOR | BPF_FETCH, 10, 3, -8), '(db) r3 = atomic64_fetch_xor((u64 *)(r10 -8), r3)'],
  ['atomic xchg 32', BPF_ATOMIC_OP(BPF_W, BPF_XCHG, 1, 2, 0), '(c3) r2 = atomic_xchg((u32 *)(r1 +0), r2)'],
  ['atomic cmpxchg', BPF_ATOMIC_OP(BPF_DW, BPF_CMPXCHG, 1, 2, 0), '(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)'],
];

for (const [name, insn, want] of cases) {
  test(`disasm ${name}`, () => {
    assert.equal(disasmInsn(insn), want);
  });
}

test("log319 style prints exactly what 3.19's verifier log prints where 3.19 is lossy", () => {
  const log = (i: Instruction): string => disasmInsn(i, { style: 'log319' });
  assert.equal(log(BPF_LD_IMM64(0, 0x1122334455667788n)), '(18) r0 = 0x55667788');
  assert.equal(log(BPF_LD_IMM64(0, 1)), '(18) r0 = 0x1');
  assert.equal(log(BPF_ENDIAN(BPF_TO_LE, 1, 16)), '(d4) (u32) r1 endian (u32) 16');
  // TO_BE sets the X bit, so 3.19 printed a source register (r0) instead of the width
  assert.equal(log(BPF_ENDIAN(BPF_TO_BE, 1, 16)), '(dc) (u32) r1 endian (u32) r0');
  // opcodes 3.19 did not have print in the extended syntax, not as 3.19's BUG lines
  assert.equal(log(BPF_JMP32_IMM(BPF_JEQ, 1, 1, 2)), '(16) if (u32) r1 == 0x1 goto pc+2');
  assert.equal(log(BPF_LDX_MEMSX(BPF_B, 0, 1, 0)), '(91) r0 = *(s8 *)(r1 +0)');
  assert.equal(log(BPF_RAW_INSN(0x06, 0, 0, 0, 0)), '(06) gotol pc+0');
  // the same instructions 3.19 printed losslessly are unchanged
  assert.equal(log(BPF_ST_MEM(BPF_DW, BPF_REG_10, -8, 0)), '(7a) *(u64 *)(r10 -8) = 0');
  assert.equal(log(BPF_EMIT_CALL(1)), '(85) call 1');
});

test('a program prints with slot indexes; ld_imm64 takes two', () => {
  const prog = [
    BPF_ST_MEM(BPF_DW, BPF_REG_10, -8, 0),
    BPF_MOV64_REG(BPF_REG_2, BPF_REG_10),
    BPF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8),
    BPF_LD_MAP_FD(BPF_REG_1, 3),
    BPF_EMIT_CALL(1),
    BPF_JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 2),
    BPF_ST_MEM(BPF_DW, BPF_REG_0, 0, 0),
    BPF_EXIT_INSN(),
    BPF_ST_MEM(BPF_DW, BPF_REG_0, 0, 1),
    BPF_MOV64_IMM(BPF_REG_0, 0),
    BPF_EXIT_INSN(),
  ];
  assert.equal(disasm(prog), [
    '0: (7a) *(u64 *)(r10 -8) = 0',
    '1: (bf) r2 = r10',
    '2: (07) r2 += -8',
    '3: (18) r1 = map[fd:3]',
    '5: (85) call 1',
    '6: (15) if r0 == 0x0 goto pc+2',
    '7: (7a) *(u64 *)(r0 +0) = 0',
    '8: (95) exit',
    '9: (7a) *(u64 *)(r0 +0) = 1',
    '10: (b7) r0 = 0',
    '11: (95) exit',
    '',
  ].join('\n'));
  assert.equal(disasm(prog, { style: 'log319' }).split('\n')[3], '3: (18) r1 = 0x3');
  assert.equal(disasm([]), '');
  void BPF_REG_0;
});
