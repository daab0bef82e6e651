/**
 * The disassembler: one instruction per line in the Linux kernel's
 * verifier-log syntax (kernel/bpf/verifier.c print_bpf_insn, 3.19), e.g.
 * `(7a) *(u64 *)(r10 -8) = 0`, extended in the same style for the opcodes
 * that came after 3.19 (JMP32, sdiv/smod, movsx, ldsx, atomics, gotol, calls).
 *
 * Two styles:
 * - 'full' (default): lossless, so `assemble(disasm(p))` gives `p` back. It
 *   differs from 3.19's text only where 3.19 drops information: ld_imm64
 *   prints the whole 64-bit constant (3.19 printed the low 32 bits) and byte
 *   swaps print `r1 = be16 r1` as later kernels do (3.19 printed
 *   `(u32) r1 endian (u32) r0` for to-big-endian, losing the width).
 * - 'log319': exactly what 3.19's verifier log prints, for log comparisons;
 *   opcodes 3.19 did not have (JMP32, ldsx, the fetch atomics) print in the
 *   extended syntax rather than 3.19's `BUG` lines.
 * - 'modern': what the 6.x kernel's log prints: 32-bit operations on w
 *   registers (`w1 <<= 8`, `if w1 < 0x7 goto pc+1`), `r0 = -r0`,
 *   `r0 = (s8)r1`, helpers as `name#id` (`unknown#id` when it has no name),
 *   and every ld_imm64 as its 64-bit value. The assembler reads it back.
 */

import type { Instruction, Slot } from './instruction.js';
import { constant64, hex2, isLdImm64, isLdImm64Pair, slotCount, slotProblem } from './instruction.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CLASS, BPF_CMPXCHG, BPF_DIV, BPF_EXIT,
  BPF_FETCH, BPF_IMM, BPF_IND, BPF_JA, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM,
  BPF_MEMSX, BPF_MOD, BPF_MODE, BPF_MOV, BPF_OP, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_TO_BE, BPF_X, BPF_XCHG, BPF_END, BPF_DW, BPF_NEG,
} from './opcodes.js';

/** 'log319': 3.19's verifier-log syntax; 'full': the same with later kernels' instructions and names. */
export type DisasmStyle = 'full' | 'log319' | 'modern';

/** How to disassemble: the style, and helper names for the full style. */
export interface DisasmOptions {
  style?: DisasmStyle;
  /**
   * 'full' style: the name of helper `id`, when known, to print a helper
   * call as bpftool does (`call bpf_map_lookup_elem#1`, which the assembler
   * reads back). The ISA knows no helper names: callers pass them
   * (isa/uapi.ts). 'log319' always prints 3.19's `call 1`.
   */
  helperName?: (id: number) => string | undefined;
}

/** bpf_alu_string[op >> 4], with 3.19's 14 entries */
const ALU_STRING = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
/** bpf_jmp_string[op >> 4]; entries 10..13 are the later JLT/JLE/JSLT/JSLE */
const JMP_STRING = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
const CLASS_STRING = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'BUG', 'alu64'];
const ATOMIC_ALU_STRING: Record<number, string> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };
const ATOMIC_ASSIGN_STRING: Record<number, string> = { 0x00: '+=', 0x40: '|=', 0x50: '&=', 0xa0: '^=' };

function ldstString(code: number, signed = false): string {
  const size = BPF_SIZE(code) >> 3;
  return (signed ? ['s32', 's16', 's8', 's64'] : ['u32', 'u16', 'u8', 'u64'])[size]!;
}

/** `%+d` */
const signed = (n: number): string => (n < 0 ? `${n}` : `+${n}`);
/** `0x%x` of an s32 */
const hexU32 = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * One instruction, without the `N: ` index prefix and without a newline.
 * For ld_imm64 pass the logical instruction (with imm2) to get the full
 * constant; a bare slot prints as 3.19 does.
 */
export function disasmInsn(insn: Instruction | Slot, options: DisasmOptions = {}): string {
  const style = options.style ?? 'full';
  const code = insn.code;
  const cls = BPF_CLASS(code);
  const op = `(${hex2(code)})`;

  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const aluOp = BPF_OP(code);
    if (style === 'modern' && aluOp !== BPF_END) {
      const r = cls === BPF_ALU ? 'w' : 'r';
      if (aluOp === BPF_NEG) return `${op} ${r}${insn.dst} = -${r}${insn.dst}`;
      let o = ALU_STRING[aluOp >> 4] ?? `BUG_alu_${hex2(aluOp)}`;
      if (insn.off === 1 && (aluOp === BPF_DIV || aluOp === BPF_MOD)) o = `s${o}`;
      if (BPF_SRC(code) === BPF_X) {
        const sx = aluOp === BPF_MOV && (insn.off === 8 || insn.off === 16 || insn.off === 32) ? `(s${insn.off})` : '';
        return `${op} ${r}${insn.dst} ${o} ${sx}${r}${insn.src}`;
      }
      return `${op} ${r}${insn.dst} ${o} ${insn.imm}`;
    }
    const pfx = cls === BPF_ALU ? '(u32) ' : '';
    if (aluOp === BPF_END && style !== 'log319') {
      const name = cls === BPF_ALU64 ? 'bswap' : BPF_SRC(code) === BPF_TO_BE ? 'be' : 'le';
      return `${op} r${insn.dst} = ${name}${insn.imm} r${insn.dst}`;
    }
    let opStr = ALU_STRING[aluOp >> 4] ?? `BUG_alu_${hex2(aluOp)}`;
    if (insn.off === 1 && (aluOp === BPF_DIV || aluOp === BPF_MOD)) opStr = `s${opStr}`;
    if (BPF_SRC(code) === BPF_X) {
      if (aluOp === BPF_MOV && insn.off !== 0) {
        return `${op} ${pfx}r${insn.dst} = (s${insn.off}) r${insn.src}`;
      }
      return `${op} ${pfx}r${insn.dst} ${opStr} ${pfx}r${insn.src}`;
    }
    return `${op} ${pfx}r${insn.dst} ${opStr} ${pfx}${insn.imm}`;
  }

  if (cls === BPF_STX) {
    const mode = BPF_MODE(code);
    if (mode === BPF_MEM) {
      return `${op} *(${ldstString(code)} *)(r${insn.dst} ${signed(insn.off)}) = r${insn.src}`;
    }
    if (mode === BPF_ATOMIC) {
      const mem = `(${ldstString(code)} *)(r${insn.dst} ${signed(insn.off)})`;
      const width = BPF_SIZE(code) === BPF_DW ? '64' : '';
      if (insn.imm === BPF_XCHG) return `${op} r${insn.src} = atomic${width}_xchg(${mem}, r${insn.src})`;
      if (insn.imm === BPF_CMPXCHG) return `${op} r0 = atomic${width}_cmpxchg(${mem}, r0, r${insn.src})`;
      const alu = insn.imm & ~BPF_FETCH;
      if (insn.imm & BPF_FETCH) {
        return `${op} r${insn.src} = atomic${width}_fetch_${ATOMIC_ALU_STRING[alu] ?? 'BUG'}(${mem}, r${insn.src})`;
      }
      // 3.19 printed every XADD as `+=` whatever imm held (imm had to be 0).
      const assign = style === 'log319' ? '+=' : ATOMIC_ASSIGN_STRING[alu] ?? 'BUG';
      return `${op} lock *${mem} ${assign} r${insn.src}`;
    }
    return `BUG_${hex2(code)}`;
  }

  if (cls === BPF_ST) {
    if (BPF_MODE(code) === BPF_MEM) {
      return `${op} *(${ldstString(code)} *)(r${insn.dst} ${signed(insn.off)}) = ${insn.imm}`;
    }
    return `BUG_st_${hex2(code)}`;
  }

  if (cls === BPF_LDX) {
    const mode = BPF_MODE(code);
    if (mode === BPF_MEM || mode === BPF_MEMSX) {
      return `${op} r${insn.dst} = *(${ldstString(code, mode === BPF_MEMSX)} *)(r${insn.src} ${signed(insn.off)})`;
    }
    return `BUG_ldx_${hex2(code)}`;
  }

  if (cls === BPF_LD) {
    const mode = BPF_MODE(code);
    if (mode === BPF_ABS) return `${op} r0 = *(${ldstString(code)} *)skb[${insn.imm}]`;
    if (mode === BPF_IND) return `${op} r0 = *(${ldstString(code)} *)skb[r${insn.src} + ${insn.imm}]`;
    if (mode === BPF_IMM) {
      if (style === 'log319' || BPF_SIZE(code) !== BPF_DW) return `${op} r${insn.dst} = ${hexU32(insn.imm)}`;
      const wide = insn as Instruction;
      if (style === 'modern') return `${op} r${insn.dst} = 0x${constant64(wide).toString(16)}`;
      if (insn.src === BPF_PSEUDO_MAP_FD) return `${op} r${insn.dst} = map[fd:${insn.imm}]`;
      if (insn.src === BPF_PSEUDO_MAP_VALUE) return `${op} r${insn.dst} = map[fd:${insn.imm}][0]+${wide.imm2 ?? 0}`;
      const value = `0x${constant64(wide).toString(16)}`;
      if (insn.src !== 0) return `${op} r${insn.dst} = pseudo${insn.src} ${value}`;
      return `${op} r${insn.dst} = ${value}`;
    }
    return `BUG_ld_${hex2(code)}`;
  }

  if (cls === BPF_JMP || cls === BPF_JMP32) {
    const jop = BPF_OP(code);
    if (cls === BPF_JMP && jop === BPF_CALL && style === 'modern') {
      if (insn.src === 1) return `${op} call pc${signed(insn.imm)}`;
      if (insn.src === 2) return `${op} call kernel-function#${insn.imm}`;
      return `${op} call ${(insn.src === 0 ? options.helperName?.(insn.imm) : undefined) ?? 'unknown'}#${insn.imm}`;
    }
    if (cls === BPF_JMP && jop === BPF_CALL) {
      if (BPF_SRC(code) === BPF_X && style === 'full') return `${op} callx r${insn.dst}`;
      if (style === 'full' && insn.src === 1) return `${op} call pc${signed(insn.imm)}`;
      if (style === 'full' && insn.src === 2) return `${op} call kfunc ${insn.imm}`;
      const name = style === 'full' && insn.src === 0 && BPF_SRC(code) === BPF_K ? options.helperName?.(insn.imm) : undefined;
      return name === undefined ? `${op} call ${insn.imm}` : `${op} call ${name}#${insn.imm}`;
    }
    if (code === (BPF_JMP | BPF_JA)) return `${op} goto pc${signed(insn.off)}`;
    if (code === (BPF_JMP | BPF_EXIT)) return `${op} exit`;
    if (code === (BPF_JMP32 | BPF_JA)) return `${op} gotol pc${signed(insn.imm)}`;
    const jstr = JMP_STRING[jop >> 4] ?? `BUG_jmp_${hex2(jop)}`;
    if (style === 'modern') {
      const r = cls === BPF_JMP32 ? 'w' : 'r';
      if (BPF_SRC(code) === BPF_X) return `${op} if ${r}${insn.dst} ${jstr} ${r}${insn.src} goto pc${signed(insn.off)}`;
      return `${op} if ${r}${insn.dst} ${jstr} ${hexU32(insn.imm)} goto pc${signed(insn.off)}`;
    }
    const pfx = cls === BPF_JMP32 ? '(u32) ' : '';
    if (BPF_SRC(code) === BPF_X) {
      return `${op} if ${pfx}r${insn.dst} ${jstr} ${pfx}r${insn.src} goto pc${signed(insn.off)}`;
    }
    return `${op} if ${pfx}r${insn.dst} ${jstr} ${hexU32(insn.imm)} goto pc${signed(insn.off)}`;
  }

  return `${op} ${CLASS_STRING[cls]}`;
}

/**
 * A whole program, one line per instruction, each prefixed with its slot
 * index as in the verifier log (`5: (85) call 1`); the second slot of an
 * ld_imm64 takes an index but no line.
 */
export function disasm(insns: readonly Instruction[], options: DisasmOptions = {}): string {
  const lines: string[] = [];
  let pc = 0;
  for (const insn of insns) {
    lines.push(`${pc}: ${disasmInsn(insn, options)}`);
    pc += slotCount(insn);
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}


/**
 * Raw slots as given to BPF_PROG_LOAD, junk included: a slot that is no
 * meaningful instruction (an unknown opcode, a register past r10, a lone or
 * malformed ld_imm64 half...) prints as its 16 hex digits in memory order (as
 * the JSON program spec writes slots) with the reason after `;`, and the
 * slots after it are read on their own, as the verifier reads them. Every
 * other instruction prints as disasm does; indexes are slot indexes.
 */
export function disasmSlots(slots: readonly Slot[], options: DisasmOptions = {}): string {
  const lines: string[] = [];
  const raw = (i: number, why: string): void => {
    const s = slots[i]!;
    const bytes = [s.code, (s.dst & 0x0f) | ((s.src & 0x0f) << 4), s.off & 0xff, (s.off >> 8) & 0xff, s.imm & 0xff, (s.imm >>> 8) & 0xff, (s.imm >>> 16) & 0xff, (s.imm >>> 24) & 0xff];
    lines.push(`${i}: (${hex2(s.code)}) raw ${bytes.map(hex2).join('')}  ; ${why}`);
  };
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    const problem = slotProblem(s);
    if (problem !== undefined) {
      raw(i, problem);
      continue;
    }
    if (isLdImm64(s)) {
      if (!isLdImm64Pair(slots, i)) {
        raw(i, i + 1 >= slots.length ? 'ld_imm64 without its second slot' : 'ld_imm64 whose second slot is not code 0 with only imm set');
        continue;
      }
      lines.push(`${i}: ${disasmInsn({ ...s, imm2: slots[i + 1]!.imm }, options)}`);
      i++;
      continue;
    }
    lines.push(`${i}: ${disasmInsn(s, options)}`);
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}
