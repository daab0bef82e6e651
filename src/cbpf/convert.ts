/**
 * Classic BPF to eBPF, as Linux 3.19's bpf_convert_filter (net/core/filter.c)
 * does it, so that a classic program runs on tsbpf's verifier and
 * interpreter as a socket filter (prog_type 1). It owns the instruction
 * mapping and the jump offsets; acceptance is check.ts's (run first).
 *
 * Registers: A = r0, X = r7, a temporary r8, the context kept in r6
 * (include/linux/filter.h BPF_REG_A/X/TMP/CTX). Scratch memory M[k] is the
 * 4-byte stack slot at r10 - (16 - k) * 4.
 *
 * Where this departs from 3.19's output, and why:
 * - The prologue also zeroes A and X: `w0 = 0; w7 = 0; r6 = r1`. 3.19's
 *   interpreter cleared them itself and tsbpf's does not. Kernels from 4.1
 *   emit `r0 ^= r0; r7 ^= r7` instead, but converted programs never met the
 *   kernel's verifier, and ours refuses that xor as a read of an
 *   uninitialised r0 ("R0 !read_ok"); a move of 0 is the same for the
 *   interpreter and acceptable to the verifier.
 * - Reserved fields are zero: 3.19 emitted every ALU/LD_ABS/jump with
 *   src_reg = X and imm = k whatever the source, which its interpreter
 *   ignored but its verifier (never run on converted programs) rejects.
 * - Division and modulo by X check X first (`if r7 != 0 goto +2; w0 ^= w0;
 *   exit`, as kernels from 4.15 emit): 3.19's eBPF interpreter itself ended
 *   the program with 0 on a zero divisor; tsbpf's follows RFC 9669 (x / 0 = 0,
 *   x % 0 = x), which is not classic BPF's "return 0".
 * - LD/LDX LEN read the u32 at offset 0 of the context (tsbpf's socket-filter
 *   context keeps the packet length there, as __sk_buff.len from 4.1), where
 *   3.19 read offsetof(struct sk_buff, len).
 * - Ancillary loads (SKF_AD_OFF + n) need an sk_buff that tsbpf does not
 *   model; only SKF_AD_ALU_XOR_X (A ^= X) is converted, the others are ENOTSUP.
 *
 * Kept as 3.19 has it: RET A is `w0 = w0; exit` (later kernels drop the mov),
 * TAX/TXA are 64-bit moves (A and X are always zero-extended 32-bit values,
 * so a 32-bit move would be the same), only JEQ turns into JNE when jt is 0
 * (later kernels also turn JGT/JGE into JLE/JLT), MSH saves A in r8.
 *
 * 3.19's converted programs were never verified; ours are, so a classic
 * program with dead code (which bpf_check_classic allows) is refused at
 * load with "unreachable insn", and one that expands to 4096 or more eBPF
 * instructions with EINVAL (BPF_PROG_LOAD's insn_cnt limit).
 */

import { BpfError, InternalError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import {
  BPF_ALU32_IMM, BPF_ALU32_REG, BPF_EXIT_INSN, BPF_JMP_A, BPF_JMP_IMM, BPF_LD_ABS,
  BPF_LD_IND, BPF_LDX_MEM, BPF_MOV32_IMM, BPF_MOV32_REG, BPF_MOV64_REG, BPF_RAW_INSN, BPF_STX_MEM,
} from '../isa/builders.js';
import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_CLASS, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JMP, BPF_JNE, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH, BPF_NEG,
  BPF_OP, BPF_RET, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_W, BPF_X, BPF_XOR,
} from '../isa/opcodes.js';
import { checkClassic } from './check.js';
import {
  BPF_A, BPF_MEMWORDS, BPF_MISC, BPF_TAX, BPF_TXA, SKF_AD, SKF_AD_OFF, isClassicCondJump,
} from './opcodes.js';
import type { SockFilter } from './parse.js';

/** Register mapping of converted programs (include/linux/filter.h). */
export const REG_A = 0;
/** The eBPF register holding classic BPF's X. */
export const REG_X = 7;
/** The eBPF scratch register of a converted classic program. */
export const REG_TMP = 8;
/** The eBPF register holding the context (the skb) in a converted classic program. */
export const REG_CTX = 6;
const REG_ARG1 = 1;
const REG_FP = 10;

/** Instructions before the first converted one. */
export const PROLOGUE_LEN = 3;

/** A classic program converted to eBPF: the instructions and where each classic instruction begins. */
export interface ConvertedProgram {
  /** logical eBPF instructions (no ld_imm64, so index = slot) */
  insns: Instruction[];
  /** addrs[i]: the eBPF index where classic instruction i begins (the kernel's addrs[]) */
  addrs: number[];
}

/** The stack offset of scratch cell M[k]. */
export const scratchOffset = (k: number): number => -(BPF_MEMWORDS - k) * 4;

/**
 * Check (as 3.19's bpf_check_classic) then convert. Throws BpfError EINVAL
 * for a program the checker rejects, ENOTSUP for an ancillary load tsbpf
 * cannot express.
 */
export function convertClassic(prog: readonly SockFilter[]): ConvertedProgram {
  checkClassic(prog);
  // Pass 1: sizes. Only sizes decide addresses, so two passes do what the
  // kernel's repeat-until-stable loop does.
  const addrs: number[] = [];
  let at = PROLOGUE_LEN;
  prog.forEach((f, i) => {
    addrs.push(at);
    at += expand(f, i, () => 0).length;
  });
  // Pass 2: emit with jump offsets from addrs.
  const insns: Instruction[] = [
    BPF_MOV32_IMM(REG_A, 0),
    BPF_MOV32_IMM(REG_X, 0),
    BPF_MOV64_REG(REG_CTX, REG_ARG1),
  ];
  prog.forEach((f, i) => {
    // off for the jump at position `pos` of this expansion to classic target t
    const jumpOff = (t: number, pos: number): number => {
      const target = addrs[t];
      if (target === undefined) throw new InternalError(`jump target ${t} of checked insn ${i} out of range`);
      const off = target - addrs[i]! - 1 - pos;
      if (off < -0x8000 || off > 0x7fff) throw new InternalError(`jump offset ${off} does not fit 16 bits`);
      return off;
    };
    insns.push(...expand(f, i, jumpOff));
  });
  if (insns.length !== at) throw new InternalError(`converted length ${insns.length}, sized ${at}`);
  return { insns, addrs };
}

/** The eBPF instructions for classic instruction i (of a checked program). */
function expand(f: SockFilter, i: number, jumpOff: (target: number, pos: number) => number): Instruction[] {
  const k = f.k | 0; // eBPF imm is s32; the bit pattern is what matters
  const code = f.code;
  switch (code) {
    case BPF_ALU | BPF_NEG:
      return [BPF_RAW_INSN(code, REG_A, 0, 0, 0)];
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
      if (f.k >= SKF_AD_OFF >>> 0) return ancillary(f, i);
      return [BPF_LD_ABS(BPF_SIZE(code), k)];
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
      // the offset is X + k
      return [BPF_LD_IND(BPF_SIZE(code), REG_X, k)];
    case BPF_JMP | BPF_JA:
      return [BPF_JMP_A(jumpOff(i + 1 + f.k, 0))];
    case BPF_LDX | BPF_B | BPF_MSH:
      // X = 4 * (P[k] & 0xf), keeping A: 3.19's six instructions
      return [
        BPF_MOV64_REG(REG_TMP, REG_A),
        BPF_LD_ABS(BPF_B, k),
        BPF_ALU32_IMM(BPF_AND, REG_A, 0xf),
        BPF_ALU32_IMM(BPF_LSH, REG_A, 2),
        BPF_MOV64_REG(REG_X, REG_A),
        BPF_MOV64_REG(REG_A, REG_TMP),
      ];
    case BPF_RET | BPF_K:
      // mov32 zero-extends: the return value is the u32 k
      return [BPF_MOV32_IMM(REG_A, k), BPF_EXIT_INSN()];
    case BPF_RET | BPF_A:
      // 3.19's BPF_MOV32_RAW(BPF_X, r0, A): r0 = (u32) A, already r0
      return [BPF_MOV32_REG(REG_A, REG_A), BPF_EXIT_INSN()];
    case BPF_ST:
    case BPF_STX:
      return [BPF_STX_MEM(BPF_W, REG_FP, code === BPF_ST ? REG_A : REG_X, scratchOffset(f.k))];
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_MEM:
      return [BPF_LDX_MEM(BPF_W, BPF_CLASS(code) === BPF_LD ? REG_A : REG_X, REG_FP, scratchOffset(f.k))];
    case BPF_LD | BPF_IMM:
    case BPF_LDX | BPF_IMM:
      return [BPF_MOV32_IMM(BPF_CLASS(code) === BPF_LD ? REG_A : REG_X, k)];
    case BPF_MISC | BPF_TAX:
      return [BPF_MOV64_REG(REG_X, REG_A)];
    case BPF_MISC | BPF_TXA:
      return [BPF_MOV64_REG(REG_A, REG_X)];
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_W | BPF_LEN:
      return [BPF_LDX_MEM(BPF_W, BPF_CLASS(code) === BPF_LD ? REG_A : REG_X, REG_CTX, 0)];
    default:
      break;
  }
  if (BPF_CLASS(code) === BPF_ALU) {
    // ALU K/X map as-is onto 32-bit eBPF ALU: A op= k, or A op= X
    if (BPF_SRC(code) === BPF_K) return [BPF_RAW_INSN(code, REG_A, 0, 0, k)];
    const op = BPF_OP(code);
    const guard = op === BPF_DIV || op === BPF_MOD
      ? [BPF_JMP_IMM(BPF_JNE, REG_X, 0, 2), BPF_ALU32_REG(BPF_XOR, REG_A, REG_A), BPF_EXIT_INSN()]
      : [];
    return [...guard, BPF_RAW_INSN(code, REG_A, REG_X, 0, 0)];
  }
  if (isClassicCondJump(code)) return condJump(f, i, jumpOff);
  throw new InternalError(`insn ${i}: checked program has unconvertible code 0x${code.toString(16)}`);
}

/**
 * JEQ/JGT/JGE/JSET: 64-bit eBPF compares of the zero-extended A with X or k.
 * An eBPF imm is sign-extended, so a k with the top bit set is first moved
 * into r8 with a 32-bit (zero-extending) mov and compared as a register.
 * jf == 0 gives one jump to jt; jt == 0 on JEQ gives one JNE to jf; anything
 * else is the jump to jt followed by a goto jf.
 */
function condJump(f: SockFilter, i: number, jumpOff: (target: number, pos: number) => number): Instruction[] {
  const out: Instruction[] = [];
  let src: number;
  let imm = 0;
  let srcReg = 0;
  if (BPF_SRC(f.code) === BPF_K && (f.k | 0) < 0) {
    out.push(BPF_MOV32_IMM(REG_TMP, f.k | 0));
    src = BPF_X;
    srcReg = REG_TMP;
  } else if (BPF_SRC(f.code) === BPF_K) {
    src = BPF_K;
    imm = f.k;
  } else {
    src = BPF_X;
    srcReg = REG_X;
  }
  const jump = (op: number, target: number): Instruction =>
    BPF_RAW_INSN(BPF_JMP | op | src, REG_A, srcReg, jumpOff(target, out.length), imm);
  const op = BPF_OP(f.code);
  if (f.jf === 0) {
    out.push(jump(op, i + 1 + f.jt));
  } else if (f.jt === 0 && op === BPF_JEQ) {
    out.push(jump(BPF_JNE, i + 1 + f.jf));
  } else {
    out.push(jump(op, i + 1 + f.jt));
    out.push(BPF_JMP_A(jumpOff(i + 1 + f.jf, out.length)));
  }
  return out;
}

function ancillary(f: SockFilter, i: number): Instruction[] {
  const n = (f.k - (SKF_AD_OFF >>> 0)) >>> 0;
  if (n === SKF_AD.ALU_XOR_X) return [BPF_ALU32_REG(BPF_XOR, REG_A, REG_X)];
  const name = Object.entries(SKF_AD).find(([, v]) => v === n)?.[0] ?? String(n);
  throw new BpfError('ENOTSUP', `insn ${i}: ancillary load SKF_AD_${name} needs an sk_buff, which tsbpf's socket filter context does not have`);
}
