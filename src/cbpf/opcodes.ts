/**
 * Classic BPF constants (include/uapi/linux/filter.h and bpf_common.h, 3.19)
 * that eBPF does not share, and the set of opcodes 3.19 accepts
 * (chk_code_allowed). The constants common to both (BPF_LD, BPF_ABS, BPF_JEQ,
 * BPF_RET, BPF_MAXINSNS, ...) live in ../isa/opcodes.ts.
 */

import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH,
  BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XOR,
} from '../isa/opcodes.js';

/** Classic BPF's MISC class (TAX, TXA). */
export const BPF_MISC = 0x07;
/** RET source: the accumulator (BPF_RVAL) */
export const BPF_A = 0x10;
/** MISC operations (BPF_MISCOP) */
export const BPF_TAX = 0x00;
/** MISC operation: A = X. */
export const BPF_TXA = 0x80;
/** Classic BPF scratch memory: M[0..15]. */
export const BPF_MEMWORDS = 16;

/** Ancillary loads: LD ABS at SKF_AD_OFF + one of these reads skb metadata. */
export const SKF_AD_OFF = -0x1000;
/** The ancillary data offsets (added to SKF_AD_OFF) of 3.19's filter.h: protocol, pkttype, ifindex, ... */
export const SKF_AD = {
  PROTOCOL: 0,
  PKTTYPE: 4,
  IFINDEX: 8,
  NLATTR: 12,
  NLATTR_NEST: 16,
  MARK: 20,
  QUEUE: 24,
  HATYPE: 28,
  RXHASH: 32,
  CPU: 36,
  ALU_XOR_X: 40,
  VLAN_TAG: 44,
  VLAN_TAG_PRESENT: 48,
  PAY_OFFSET: 52,
  RANDOM: 56,
  VLAN_TPID: 60,
} as const;
/** The end of the ancillary offsets (filter.h). */
export const SKF_AD_MAX = 64;
/** the offsets 3.19's bpf_anc_helper knows */
export const ANCILLARY: ReadonlySet<number> = new Set(Object.values(SKF_AD));

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH];
const COND_OPS = [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET];

/** chk_code_allowed (3.19): the exact 16-bit codes a classic program may use. */
export const CLASSIC_CODES: ReadonlySet<number> = new Set([
  ...ALU_OPS.flatMap((op) => [BPF_ALU | op | BPF_K, BPF_ALU | op | BPF_X]),
  BPF_ALU | BPF_NEG,
  BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
  BPF_LD | BPF_W | BPF_LEN,
  BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND,
  BPF_LD | BPF_IMM, BPF_LD | BPF_MEM,
  BPF_LDX | BPF_W | BPF_LEN, BPF_LDX | BPF_B | BPF_MSH, BPF_LDX | BPF_IMM, BPF_LDX | BPF_MEM,
  BPF_ST, BPF_STX,
  BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA,
  BPF_RET | BPF_K, BPF_RET | BPF_A,
  BPF_JMP | BPF_JA,
  ...COND_OPS.flatMap((op) => [BPF_JMP | op | BPF_K, BPF_JMP | op | BPF_X]),
]);

/** JEQ/JGT/JGE/JSET with K or X: the jumps that use jt and jf. */
export function isClassicCondJump(code: number): boolean {
  return code !== (BPF_JMP | BPF_JA) && CLASSIC_CODES.has(code) && (code & 0x07) === BPF_JMP;
}

/** A short name for messages: the mnemonic for known codes, else the hex code. */
export function codeName(code: number): string {
  const names: Record<number, string> = {
    [BPF_LD | BPF_W | BPF_ABS]: 'ld', [BPF_LD | BPF_H | BPF_ABS]: 'ldh', [BPF_LD | BPF_B | BPF_ABS]: 'ldb',
    [BPF_LD | BPF_W | BPF_IND]: 'ld', [BPF_LD | BPF_H | BPF_IND]: 'ldh', [BPF_LD | BPF_B | BPF_IND]: 'ldb',
    [BPF_LD | BPF_W | BPF_LEN]: 'ld', [BPF_LD | BPF_IMM]: 'ld', [BPF_LD | BPF_MEM]: 'ld',
    [BPF_LDX | BPF_W | BPF_LEN]: 'ldx', [BPF_LDX | BPF_IMM]: 'ldx', [BPF_LDX | BPF_MEM]: 'ldx',
    [BPF_LDX | BPF_B | BPF_MSH]: 'ldxb', [BPF_ST]: 'st', [BPF_STX]: 'stx',
    [BPF_MISC | BPF_TAX]: 'tax', [BPF_MISC | BPF_TXA]: 'txa', [BPF_ALU | BPF_NEG]: 'neg',
    [BPF_JMP | BPF_JA]: 'ja',
  };
  const alu = ['add', 'sub', 'mul', 'div', 'or', 'and', 'lsh', 'rsh', 'neg', 'mod', 'xor'];
  const jmp = ['ja', 'jeq', 'jgt', 'jge', 'jset'];
  if (names[code] !== undefined) return names[code]!;
  if (CLASSIC_CODES.has(code) && (code & 0x07) === BPF_ALU) return alu[code >> 4]!;
  if (CLASSIC_CODES.has(code) && (code & 0x07) === BPF_JMP) return jmp[code >> 4]!;
  if (code === (BPF_RET | BPF_K) || code === (BPF_RET | BPF_A)) return 'ret';
  return `0x${code.toString(16)}`;
}
