/**
 * Classic BPF disassembly in `tcpdump -d` syntax: libpcap's bpf_image, one
 * line per instruction, e.g. `(001) jeq      #0x800           jt 2	jf 5`.
 * The layout is bpf_image's printf formats: `(%03d) %-8s %s`, and for
 * conditional jumps `(%03d) %-8s %-16s jt %d\tjf %d` with absolute targets.
 * Operands print k the way libpcap does: `%d` (so as a signed int) for
 * offsets, ALU arithmetic and ret, `0x%x` for immediates, masks and jump
 * comparands. Absolute loads at the Linux ancillary offsets print
 * symbolically (`[proto]`), as libpcap built on Linux does. Unknown codes
 * print as `unimp 0x..`. Text only: nothing here checks the program.
 */

import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH,
  BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XOR,
} from '../isa/opcodes.js';
import { BPF_A, BPF_MISC, BPF_TAX, BPF_TXA, SKF_AD_MAX, SKF_AD_OFF } from './opcodes.js';
import type { SockFilter } from './parse.js';
import { checkSockFilters } from './parse.js';

/** libpcap's names for the ancillary offsets (bpf_image.c `offsets[]`). */
const ANC_NAMES: Record<number, string> = {
  0: 'proto', 4: 'type', 8: 'ifidx', 12: 'nla', 16: 'nlan', 20: 'mark', 24: 'queue', 28: 'hatype',
  32: 'rxhash', 36: 'cpu', 40: 'xor_x', 44: 'vlan_tci', 48: 'vlanp', 52: 'poff', 56: 'random', 60: 'vlan_tpid',
};

/** `%d` of a u32 */
const dec = (k: number): string => String(k | 0);
/** `0x%x` of a u32 */
const hex = (k: number): string => `0x${(k >>> 0).toString(16)}`;

function absOperand(k: number): string {
  const n = (k >>> 0) - (SKF_AD_OFF >>> 0);
  if (n >= 0 && n < SKF_AD_MAX && ANC_NAMES[n] !== undefined) return `[${ANC_NAMES[n]}]`;
  return `[${dec(k)}]`;
}

const ALU_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_MOD]: 'mod',
  [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh',
};
/** ALU ops whose K operand libpcap prints in hex (bit masks) rather than decimal */
const ALU_HEX = new Set([BPF_AND, BPF_OR, BPF_XOR]);
const JMP_NAMES: Record<number, string> = { [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JEQ]: 'jeq', [BPF_JSET]: 'jset' };

/** Mnemonic and operand of one instruction (n is its index, for ja's absolute target). */
function opAndOperand(p: SockFilter, n: number): [string, string] {
  const k = p.k;
  switch (p.code) {
    case BPF_RET | BPF_K: return ['ret', `#${dec(k)}`];
    case BPF_RET | BPF_A: return ['ret', ''];
    case BPF_LD | BPF_W | BPF_ABS: return ['ld', absOperand(k)];
    case BPF_LD | BPF_H | BPF_ABS: return ['ldh', absOperand(k)];
    case BPF_LD | BPF_B | BPF_ABS: return ['ldb', absOperand(k)];
    case BPF_LD | BPF_W | BPF_LEN: return ['ld', '#pktlen'];
    case BPF_LDX | BPF_W | BPF_LEN: return ['ldx', '#pktlen'];
    case BPF_LD | BPF_W | BPF_IND: return ['ld', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_H | BPF_IND: return ['ldh', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_B | BPF_IND: return ['ldb', `[x + ${dec(k)}]`];
    case BPF_LD | BPF_IMM: return ['ld', `#${hex(k)}`];
    case BPF_LDX | BPF_IMM: return ['ldx', `#${hex(k)}`];
    case BPF_LDX | BPF_MSH | BPF_B: return ['ldxb', `4*([${dec(k)}]&0xf)`];
    case BPF_LD | BPF_MEM: return ['ld', `M[${dec(k)}]`];
    case BPF_LDX | BPF_MEM: return ['ldx', `M[${dec(k)}]`];
    case BPF_ST: return ['st', `M[${dec(k)}]`];
    case BPF_STX: return ['stx', `M[${dec(k)}]`];
    // n + 1 + k in unsigned arithmetic, printed with %d
    case BPF_JMP | BPF_JA: return ['ja', dec(n + 1 + k)];
    case BPF_ALU | BPF_NEG: return ['neg', ''];
    case BPF_MISC | BPF_TAX: return ['tax', ''];
    case BPF_MISC | BPF_TXA: return ['txa', ''];
    default: break;
  }
  const op = p.code & 0xf0;
  const x = (p.code & 0x08) === BPF_X;
  if ((p.code & ~0xf8) === BPF_JMP && JMP_NAMES[op] !== undefined && p.code <= 0xff) {
    return [JMP_NAMES[op]!, x ? 'x' : `#${hex(k)}`];
  }
  if ((p.code & ~0xf8) === BPF_ALU && ALU_NAMES[op] !== undefined && p.code <= 0xff) {
    return [ALU_NAMES[op]!, x ? 'x' : ALU_HEX.has(op) ? `#${hex(k)}` : `#${dec(k)}`];
  }
  return ['unimp', `0x${p.code.toString(16)}`];
}

/** One line of `tcpdump -d` (bpf_image), without the newline. */
export function bpfImage(p: SockFilter, n: number): string {
  const [op, operand] = opAndOperand(p, n);
  const index = `(${String(n).padStart(3, '0')})`;
  const isCond = (p.code & 0x07) === BPF_JMP && (p.code & 0xf0) !== BPF_JA;
  if (isCond) return `${index} ${op.padEnd(8)} ${operand.padEnd(16)} jt ${n + 1 + p.jt}\tjf ${n + 1 + p.jf}`;
  return `${index} ${op.padEnd(8)} ${operand}`;
}

/** The whole program as `tcpdump -d` prints it: one line per instruction, each ending in a newline. */
export function disassembleClassic(prog: readonly SockFilter[]): string {
  checkSockFilters(prog);
  return prog.map((p, n) => `${bpfImage(p, n)}\n`).join('');
}
