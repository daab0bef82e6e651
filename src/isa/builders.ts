/**
 * Instruction builders mirroring the kernel's macros (include/linux/filter.h:
 * BPF_MOV64_IMM, BPF_LDX_MEM, BPF_JMP_IMM, ...), so programs from kernel
 * tests and samples transcribe one to one. Each returns a logical
 * Instruction; BPF_LD_IMM64 returns one value covering two slots.
 */

import type { Instruction } from './instruction.js';
import { splitConstant64 } from './instruction.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_IMM,
  BPF_IND, BPF_JA, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV,
  BPF_PSEUDO_CALL, BPF_PSEUDO_MAP_FD, BPF_ST, BPF_STX, BPF_X, BPF_ADD, BPF_TO_LE,
} from './opcodes.js';

const insn = (code: number, dst: number, src: number, off: number, imm: number): Instruction =>
  ({ code, dst, src, off, imm: imm | 0 });

/** Any instruction from its five fields. */
export const BPF_RAW_INSN = (code: number, dst: number, src: number, off: number, imm: number): Instruction =>
  insn(code, dst, src, off, imm);

/** dst op= src, 64-bit (op: BPF_ADD, BPF_SUB, ...). */
export const BPF_ALU64_REG = (op: number, dst: number, src: number): Instruction => insn(BPF_ALU64 | op | BPF_X, dst, src, 0, 0);
/** dst op= src, 32-bit (the upper half zeroed). */
export const BPF_ALU32_REG = (op: number, dst: number, src: number): Instruction => insn(BPF_ALU | op | BPF_X, dst, src, 0, 0);
/** dst op= imm, 64-bit. */
export const BPF_ALU64_IMM = (op: number, dst: number, imm: number): Instruction => insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
/** dst op= imm, 32-bit. */
export const BPF_ALU32_IMM = (op: number, dst: number, imm: number): Instruction => insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
/** signed division / modulo (RFC 9669: off = 1) */
export const BPF_SDIV64_REG = (dst: number, src: number): Instruction => insn(BPF_ALU64 | BPF_DIV | BPF_X, dst, src, 1, 0);
/** dst = dst s% src (RFC 9669 signed modulo: off 1). */
export const BPF_SMOD64_REG = (dst: number, src: number): Instruction => insn(BPF_ALU64 | BPF_MOD | BPF_X, dst, src, 1, 0);
/** dst op= imm, 64-bit, with an offset (RFC 9669: 1 selects the signed div/mod). */
export const BPF_ALU64_IMM_OFF = (op: number, dst: number, imm: number, off: number): Instruction =>
  insn(BPF_ALU64 | op | BPF_K, dst, 0, off, imm);
/** dst op= imm, 32-bit, with an offset (RFC 9669: 1 selects the signed div/mod). */
export const BPF_ALU32_IMM_OFF = (op: number, dst: number, imm: number, off: number): Instruction =>
  insn(BPF_ALU | op | BPF_K, dst, 0, off, imm);
/** dst op= src, 64-bit, with an offset (RFC 9669: 1 selects the signed div/mod). */
export const BPF_ALU64_REG_OFF = (op: number, dst: number, src: number, off: number): Instruction =>
  insn(BPF_ALU64 | op | BPF_X, dst, src, off, 0);
/** dst op= src, 32-bit, with an offset (RFC 9669: 1 selects the signed div/mod). */
export const BPF_ALU32_REG_OFF = (op: number, dst: number, src: number, off: number): Instruction =>
  insn(BPF_ALU | op | BPF_X, dst, src, off, 0);

/** BPF_ENDIAN(BPF_TO_LE | BPF_TO_BE, dst, 16|32|64) */
export const BPF_ENDIAN = (type: number, dst: number, len: number): Instruction => insn(BPF_ALU | BPF_END | type, dst, 0, 0, len);
/** unconditional byte swap (RFC 9669 ALU64 | END) */
export const BPF_BSWAP = (dst: number, len: number): Instruction => insn(BPF_ALU64 | BPF_END | BPF_TO_LE, dst, 0, 0, len);

/** dst = src, 64-bit. */
export const BPF_MOV64_REG = (dst: number, src: number): Instruction => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
/** dst = (u32)src. */
export const BPF_MOV32_REG = (dst: number, src: number): Instruction => insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
/** dst = imm, sign-extended to 64 bits. */
export const BPF_MOV64_IMM = (dst: number, imm: number): Instruction => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
/** dst = (u32)imm. */
export const BPF_MOV32_IMM = (dst: number, imm: number): Instruction => insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm);
/** sign-extending moves: off = source width 8, 16 or 32 */
export const BPF_MOVSX64_REG = (dst: number, src: number, off: number): Instruction => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, off, 0);
/** dst = (u32)(src sign-extended from off (8 or 16) bits) (RFC 9669). */
export const BPF_MOVSX32_REG = (dst: number, src: number, off: number): Instruction => insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, off, 0);

/** ld_imm64 with a raw src_reg (0 plain constant, 1 map fd, ...) */
export function BPF_LD_IMM64_RAW(dst: number, src: number, imm: bigint | number): Instruction {
  const { imm: lo, imm2 } = splitConstant64(BigInt(imm));
  return { code: BPF_LD | BPF_DW | BPF_IMM, dst, src, off: 0, imm: lo, imm2 };
}
/** dst = a 64-bit constant (ld_imm64: two slots). */
export const BPF_LD_IMM64 = (dst: number, imm: bigint | number): Instruction => BPF_LD_IMM64_RAW(dst, 0, imm);
/** pseudo ld_imm64: dst = the map whose fd is given (resolved at load) */
export const BPF_LD_MAP_FD = (dst: number, fd: number): Instruction => BPF_LD_IMM64_RAW(dst, BPF_PSEUDO_MAP_FD, fd);

/** r0 = ntoh(*(size *)(skb + imm)) */
export const BPF_LD_ABS = (size: number, imm: number): Instruction => insn(BPF_LD | size | BPF_ABS, 0, 0, 0, imm);
/** r0 = ntoh(*(size *)(skb + src + imm)) */
export const BPF_LD_IND = (size: number, src: number, imm: number): Instruction => insn(BPF_LD | size | BPF_IND, 0, src, 0, imm);

/** dst = *(size *)(src + off). */
export const BPF_LDX_MEM = (size: number, dst: number, src: number, off: number): Instruction => insn(BPF_LDX | size | BPF_MEM, dst, src, off, 0);
/** dst = *(signed size *)(src + off), sign-extended (RFC 9669). */
export const BPF_LDX_MEMSX = (size: number, dst: number, src: number, off: number): Instruction =>
  insn(BPF_LDX | size | BPF_MEMSX, dst, src, off, 0);
/** *(size *)(dst + off) = src. */
export const BPF_STX_MEM = (size: number, dst: number, src: number, off: number): Instruction => insn(BPF_STX | size | BPF_MEM, dst, src, off, 0);
/** *(size *)(dst + off) = imm. */
export const BPF_ST_MEM = (size: number, dst: number, off: number, imm: number): Instruction => insn(BPF_ST | size | BPF_MEM, dst, 0, off, imm);
/** 3.19's atomic add: *(size *)(dst + off) += src */
export const BPF_STX_XADD = (size: number, dst: number, src: number, off: number): Instruction =>
  insn(BPF_STX | size | BPF_ATOMIC, dst, src, off, BPF_ADD);
/** RFC 9669 atomics: op is BPF_ADD/OR/AND/XOR [| BPF_FETCH], BPF_XCHG or BPF_CMPXCHG */
export const BPF_ATOMIC_OP = (size: number, op: number, dst: number, src: number, off: number): Instruction =>
  insn(BPF_STX | size | BPF_ATOMIC, dst, src, off, op);

/** if (dst op src) goto pc + off + 1 (op: BPF_JEQ, BPF_JGT, ...). */
export const BPF_JMP_REG = (op: number, dst: number, src: number, off: number): Instruction => insn(BPF_JMP | op | BPF_X, dst, src, off, 0);
/** if (dst op imm) goto pc + off + 1. */
export const BPF_JMP_IMM = (op: number, dst: number, imm: number, off: number): Instruction => insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
/** if ((u32)dst op (u32)src) goto pc + off + 1. */
export const BPF_JMP32_REG = (op: number, dst: number, src: number, off: number): Instruction => insn(BPF_JMP32 | op | BPF_X, dst, src, off, 0);
/** if ((u32)dst op imm) goto pc + off + 1. */
export const BPF_JMP32_IMM = (op: number, dst: number, imm: number, off: number): Instruction => insn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
/** goto pc + off + 1. */
export const BPF_JMP_A = (off: number): Instruction => insn(BPF_JMP | BPF_JA, 0, 0, off, 0);
/** gotol: pc += imm (32-bit offset) */
export const BPF_JMP32_A = (imm: number): Instruction => insn(BPF_JMP32 | BPF_JA, 0, 0, 0, imm);

/** Call helper `func` (its id). */
export const BPF_EMIT_CALL = (func: number): Instruction => insn(BPF_JMP | BPF_CALL, 0, 0, 0, func);
/** bpf-to-bpf call: target = pc + imm + 1 */
export const BPF_CALL_REL = (imm: number): Instruction => insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm);
/** call the helper whose id is in register dst */
export const BPF_CALLX = (reg: number): Instruction => insn(BPF_JMP | BPF_CALL | BPF_X, reg, 0, 0, 0);
/** exit: return r0. */
export const BPF_EXIT_INSN = (): Instruction => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

