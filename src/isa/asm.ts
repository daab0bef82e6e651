/**
 * The assembler. It reads two dialects, line by line, freely mixed:
 *
 * 1. the disassembler's own syntax, i.e. the kernel verifier log
 *    (`5: (85) call 1`, `(7a) *(u64 *)(r10 -8) = 0`, `if r0 == 0x0 goto pc+2`);
 *    the `N:` index and the `(xx)` opcode are optional; when the opcode is
 *    given it must match what the text assembles to. A hex constant after
 *    `=` (`r1 = 0x10`) is an ld_imm64, as the kernel prints one; a decimal one
 *    is a mov. A helper call may carry bpftool's name
 *    (`call bpf_map_lookup_elem#1`).
 * 2. the bpf_conformance dialect (`mov %r0, 1`, `ldxw %r0, [%r1+4]`,
 *    `jeq %r1, 0xb, exit`, `lock fetch add [%r10-8], %r1`).
 *
 * Both accept labels (`name:` on a line of its own) as jump and call targets;
 * the first `exit` defines the label `exit` unless the program defines it.
 * Comments start with `#` (but for a helper's `name#N`), `;` or `//`.
 * Errors are BpfError EINVAL naming the line.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from './instruction.js';
import { isExit, slotCount, slotProblem, splitConstant64 } from './instruction.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG,
  BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE,
  BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG,
  BPF_OR, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, BPF_XOR,
  MAX_BPF_REG,
} from './opcodes.js';

/** An instruction whose jump or call target may still be a label. */
interface Pending {
  insn: Instruction;
  line: number;
  /** label to resolve into off (jumps), or imm (gotol, local call) */
  target?: { label: string; field: 'off' | 'imm' };
}

class AsmError extends Error {}

const fail = (msg: string): never => {
  throw new AsmError(msg);
};

/**
 * The mnemonic tables are indexed by words of the source text: without a
 * prototype, `constructor` or `__proto__` finds nothing instead of one of
 * Object.prototype's properties.
 */
function table<T>(entries: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}

const SIZE_BY_NAME: Record<string, number> = table({ u8: BPF_B, u16: BPF_H, u32: BPF_W, u64: BPF_DW, s8: BPF_B, s16: BPF_H, s32: BPF_W });
const SIZE_BY_SUFFIX: Record<string, number> = table({ b: BPF_B, h: BPF_H, w: BPF_W, dw: BPF_DW });

const KERNEL_ALU: Record<string, number> = table({
  '+=': BPF_ADD, '-=': BPF_SUB, '*=': BPF_MUL, '/=': BPF_DIV, '|=': BPF_OR, '&=': BPF_AND,
  '<<=': BPF_LSH, '>>=': BPF_RSH, 'neg': BPF_NEG, '%=': BPF_MOD, '^=': BPF_XOR, '=': BPF_MOV,
  's>>=': BPF_ARSH, 'endian': BPF_END, 's/=': BPF_DIV, 's%=': BPF_MOD,
});
const KERNEL_JMP: Record<string, number> = table({
  '==': BPF_JEQ, '>': BPF_JGT, '>=': BPF_JGE, '&': BPF_JSET, '!=': BPF_JNE, 's>': BPF_JSGT,
  's>=': BPF_JSGE, '<': BPF_JLT, '<=': BPF_JLE, 's<': BPF_JSLT, 's<=': BPF_JSLE,
});
const CONF_ALU: Record<string, [op: number, off: number]> = table({
  add: [BPF_ADD, 0], sub: [BPF_SUB, 0], mul: [BPF_MUL, 0], div: [BPF_DIV, 0], sdiv: [BPF_DIV, 1],
  mod: [BPF_MOD, 0], smod: [BPF_MOD, 1], or: [BPF_OR, 0], and: [BPF_AND, 0], xor: [BPF_XOR, 0],
  lsh: [BPF_LSH, 0], rsh: [BPF_RSH, 0], arsh: [BPF_ARSH, 0], mov: [BPF_MOV, 0],
});
const CONF_JMP: Record<string, number> = table({
  jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET, jne: BPF_JNE, jsgt: BPF_JSGT,
  jsge: BPF_JSGE, jlt: BPF_JLT, jle: BPF_JLE, jslt: BPF_JSLT, jsle: BPF_JSLE,
});
const ATOMIC_BY_NAME: Record<string, number> = table({ add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR });
const ATOMIC_BY_ASSIGN: Record<string, number> = table({ '+=': BPF_ADD, '|=': BPF_OR, '&=': BPF_AND, '^=': BPF_XOR });

function reg(text: string | undefined): number {
  const m = /^%?r(\d+)$/.exec(text ?? '');
  if (!m) return fail(`expected a register, got '${text ?? ''}'`);
  const n = Number(m[1]);
  if (n >= MAX_BPF_REG) fail(`invalid register r${n}`);
  return n;
}

/** A 32-bit immediate: signed decimal, unsigned decimal up to 2^32-1, or hex bit pattern. */
function imm32(text: string | undefined): number {
  const t = text ?? '';
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(t);
  if (!m) return fail(`expected an immediate, got '${t}'`);
  const mag = BigInt(m[2]!);
  const v = m[1] === '-' ? -mag : mag;
  if (v < -0x80000000n || v > 0xffffffffn) fail(`immediate ${t} does not fit in 32 bits`);
  return Number(BigInt.asIntN(32, v));
}

function imm64(text: string | undefined): bigint {
  const t = text ?? '';
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(t);
  if (!m) return fail(`expected a 64-bit immediate, got '${t}'`);
  const mag = BigInt(m[2]!);
  const v = m[1] === '-' ? -mag : mag;
  if (v < -(1n << 63n) || v >= 1n << 64n) fail(`immediate ${t} does not fit in 64 bits`);
  return v;
}

function off16(text: string): number {
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(text);
  if (!m) return fail(`expected an offset, got '${text}'`);
  const v = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  if (v < -0x8000 || v > 0x7fff) fail(`offset ${text} does not fit in 16 bits`);
  return v;
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Instruction =>
  ({ code, dst, src, off, imm });

/** A jump target: `pc+N`/`+N`/`-N` relative, or a label. */
function target(text: string, pending: Pending, field: 'off' | 'imm'): void {
  const rel = /^(?:pc)?([+-]\d+)$/.exec(text);
  if (rel) {
    const v = Number(rel[1]);
    if (field === 'off') {
      if (v < -0x8000 || v > 0x7fff) fail(`jump offset ${text} does not fit in 16 bits`);
      pending.insn.off = v;
    } else {
      pending.insn.imm = imm32(rel[1]);
    }
    return;
  }
  if (!/^[A-Za-z_.][\w.]*$/.test(text)) fail(`bad jump target '${text}'`);
  pending.target = { label: text, field };
}

// ---------------------------------------------------------------- kernel syntax

const R = 'r(\\d+)';
const OFF = '([+-]\\d+)';
const IMM = '(-?\\d+|0x[0-9a-fA-F]+)';
const TGT = '(pc[+-]\\d+|[A-Za-z_.][\\w.]*)';
const K_RE = {
  exit: /^exit$/,
  // bpftool names helpers: `call bpf_map_lookup_elem#1`; the number decides
  call: /^call (?:[A-Za-z_]\w*#)?(-?\d+)$/,
  callLocal: new RegExp(`^call ${TGT}$`),
  callKfunc: /^call (?:kfunc|runtime) (-?\d+)$/,
  callx: new RegExp(`^callx ${R}$`),
  goto: new RegExp(`^goto ${TGT}$`),
  gotol: new RegExp(`^gotol ${TGT}$`),
  jcond: new RegExp(`^if (\\(u32\\) )?${R} (==|!=|>=|>|<=|<|s>=|s>|s<=|s<|&) (?:(?:\\(u32\\) )?${R}|${IMM}) goto ${TGT}$`),
  // the 6.x kernel's 32-bit forms: w registers
  jcondW: new RegExp(`^if w(\\d+) (==|!=|>=|>|<=|<|s>=|s>|s<=|s<|&) (?:w(\\d+)|${IMM}) goto ${TGT}$`),
  neg: /^([rw])(\d+) = -([rw])(\d+)$/,
  movsxW: /^([rw])(\d+) = \(s(8|16|32)\)([rw])(\d+)$/,
  aluW: new RegExp(`^w(\\d+) (s/=|s%=|s>>=|\\+=|-=|\\*=|/=|\\|=|&=|<<=|>>=|%=|\\^=|=) (?:w(\\d+)|${IMM})$`),
  ldabs: /^r0 = \*\((u8|u16|u32|u64) \*\)skb\[(-?\d+)\]$/,
  ldind: new RegExp(`^r0 = \\*\\((u8|u16|u32|u64) \\*\\)skb\\[${R} \\+ (-?\\d+)\\]$`),
  ldx: new RegExp(`^${R} = \\*\\(([us](?:8|16|32|64)) \\*\\)\\(${R} ${OFF}\\)$`),
  st: new RegExp(`^\\*\\((u8|u16|u32|u64) \\*\\)\\(${R} ${OFF}\\) = (?:${R}|(-?\\d+))$`),
  lock: new RegExp(`^lock \\*\\((u32|u64) \\*\\)\\(${R} ${OFF}\\) (\\+=|\\|=|&=|\\^=) ${R}$`),
  fetch: new RegExp(`^${R} = atomic(64)?_(fetch_add|fetch_and|fetch_or|fetch_xor|xchg)\\(\\((u32|u64) \\*\\)\\(${R} ${OFF}\\), ${R}\\)$`),
  cmpxchg: new RegExp(`^r0 = atomic(64)?_cmpxchg\\(\\((u32|u64) \\*\\)\\(${R} ${OFF}\\), r0, ${R}\\)$`),
  mapFd: new RegExp(`^${R} = map\\[fd:(-?\\d+)\\]$`),
  mapValue: new RegExp(`^${R} = map\\[fd:(-?\\d+)\\]\\[0\\]\\+(-?\\d+)$`),
  pseudo: new RegExp(`^${R} = pseudo(\\d+) (0x[0-9a-fA-F]+)$`),
  lddw: new RegExp(`^${R} = (0x[0-9a-fA-F]+)(?: ll)?$`),
  endian: new RegExp(`^${R} = (be|le|bswap)(16|32|64) ${R}$`),
  movsx: new RegExp(`^(\\(u32\\) )?${R} = (?:\\(u32\\) )?\\(s(8|16|32)\\) ${R}$`),
  alu: new RegExp(`^(\\(u32\\) )?${R} (s/=|s%=|s>>=|\\+=|-=|\\*=|/=|\\|=|&=|<<=|>>=|%=|\\^=|=|neg|endian) (?:\\(u32\\) )?(?:${R}|${IMM})$`),
};

function parseKernel(text: string, p: Pending): boolean {
  let m: RegExpExecArray | null;
  const set = (i: Instruction): true => {
    p.insn = i;
    return true;
  };
  if (K_RE.exit.test(text)) return set(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  if ((m = K_RE.call.exec(text))) return set(insn(BPF_JMP | BPF_CALL, 0, 0, 0, imm32(m[1])));
  if ((m = K_RE.callKfunc.exec(text))) return set(insn(BPF_JMP | BPF_CALL, 0, 2, 0, imm32(m[1])));
  if ((m = K_RE.callx.exec(text))) return set(insn(BPF_JMP | BPF_CALL | BPF_X, reg(`r${m[1]}`), 0, 0, 0));
  if ((m = K_RE.callLocal.exec(text))) {
    set(insn(BPF_JMP | BPF_CALL, 0, 1, 0, 0));
    target(m[1]!, p, 'imm');
    return true;
  }
  if ((m = K_RE.goto.exec(text))) {
    set(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    target(m[1]!, p, 'off');
    return true;
  }
  if ((m = K_RE.gotol.exec(text))) {
    set(insn(BPF_JMP32 | BPF_JA, 0, 0, 0, 0));
    target(m[1]!, p, 'imm');
    return true;
  }
  if ((m = K_RE.jcondW.exec(text))) {
    const op = KERNEL_JMP[m[2]!]!;
    if (m[3] !== undefined) set(insn(BPF_JMP32 | op | BPF_X, reg(`r${m[1]}`), reg(`r${m[3]}`), 0, 0));
    else set(insn(BPF_JMP32 | op | BPF_K, reg(`r${m[1]}`), 0, 0, imm32(m[4])));
    target(m[5]!, p, 'off');
    return true;
  }
  if ((m = K_RE.neg.exec(text))) {
    if (m[1] !== m[3] || m[2] !== m[4]) fail('a negation reads and writes the same register');
    return set(insn((m[1] === 'w' ? BPF_ALU : BPF_ALU64) | BPF_NEG | BPF_K, reg(`r${m[2]}`), 0, 0, 0));
  }
  if ((m = K_RE.movsxW.exec(text))) {
    if (m[1] !== m[4]) fail('a sign-extending move is w to w or r to r');
    return set(insn((m[1] === 'w' ? BPF_ALU : BPF_ALU64) | BPF_MOV | BPF_X, reg(`r${m[2]}`), reg(`r${m[5]}`), Number(m[3]), 0));
  }
  if ((m = K_RE.aluW.exec(text))) {
    const opText = m[2]!;
    const off = opText === 's/=' || opText === 's%=' ? 1 : 0;
    const op = KERNEL_ALU[opText]!;
    if (m[3] !== undefined) return set(insn(BPF_ALU | op | BPF_X, reg(`r${m[1]}`), reg(`r${m[3]}`), off, 0));
    return set(insn(BPF_ALU | op | BPF_K, reg(`r${m[1]}`), 0, off, imm32(m[4])));
  }
  if ((m = K_RE.jcond.exec(text))) {
    const cls = m[1] ? BPF_JMP32 : BPF_JMP;
    const op = KERNEL_JMP[m[3]!]!;
    if (m[4] !== undefined) set(insn(cls | op | BPF_X, reg(`r${m[2]}`), reg(`r${m[4]}`), 0, 0));
    else set(insn(cls | op | BPF_K, reg(`r${m[2]}`), 0, 0, imm32(m[5])));
    target(m[6]!, p, 'off');
    return true;
  }
  if ((m = K_RE.ldabs.exec(text))) return set(insn(BPF_LD | BPF_ABS | SIZE_BY_NAME[m[1]!]!, 0, 0, 0, imm32(m[2])));
  if ((m = K_RE.ldind.exec(text))) {
    return set(insn(BPF_LD | BPF_IND | SIZE_BY_NAME[m[1]!]!, 0, reg(`r${m[2]}`), 0, imm32(m[3])));
  }
  if ((m = K_RE.ldx.exec(text))) {
    const signed = m[2]!.startsWith('s');
    if (signed && m[2] === 's64') fail('there is no sign-extending 64-bit load');
    const mode = signed ? BPF_MEMSX : BPF_MEM;
    return set(insn(BPF_LDX | mode | SIZE_BY_NAME[m[2]!.replace('s', 'u')]!, reg(`r${m[1]}`), reg(`r${m[3]}`), off16(m[4]!), 0));
  }
  if ((m = K_RE.st.exec(text))) {
    const size = SIZE_BY_NAME[m[1]!]!;
    if (m[4] !== undefined) return set(insn(BPF_STX | BPF_MEM | size, reg(`r${m[2]}`), reg(`r${m[4]}`), off16(m[3]!), 0));
    return set(insn(BPF_ST | BPF_MEM | size, reg(`r${m[2]}`), 0, off16(m[3]!), imm32(m[5])));
  }
  if ((m = K_RE.lock.exec(text))) {
    return set(insn(BPF_STX | BPF_ATOMIC | SIZE_BY_NAME[m[1]!]!, reg(`r${m[2]}`), reg(`r${m[5]}`), off16(m[3]!), ATOMIC_BY_ASSIGN[m[4]!]!));
  }
  if ((m = K_RE.fetch.exec(text))) {
    const size = SIZE_BY_NAME[m[4]!]!;
    if ((m[2] === '64') !== (size === BPF_DW)) fail(`atomic${m[2] ?? ''} does not match the access size ${m[4]}`);
    if (m[1] !== m[7]) fail('the fetch result register must be the source register');
    const imm = m[3] === 'xchg' ? BPF_XCHG : ATOMIC_BY_NAME[m[3]!.slice(6)]! | BPF_FETCH;
    return set(insn(BPF_STX | BPF_ATOMIC | size, reg(`r${m[5]}`), reg(`r${m[7]}`), off16(m[6]!), imm));
  }
  if ((m = K_RE.cmpxchg.exec(text))) {
    const size = SIZE_BY_NAME[m[2]!]!;
    if ((m[1] === '64') !== (size === BPF_DW)) fail(`atomic${m[1] ?? ''} does not match the access size ${m[2]}`);
    return set(insn(BPF_STX | BPF_ATOMIC | size, reg(`r${m[3]}`), reg(`r${m[5]}`), off16(m[4]!), BPF_CMPXCHG));
  }
  if ((m = K_RE.mapFd.exec(text))) return set({ ...insn(BPF_LD | BPF_IMM | BPF_DW, reg(`r${m[1]}`), 1, 0, imm32(m[2])), imm2: 0 });
  if ((m = K_RE.mapValue.exec(text))) {
    return set({ ...insn(BPF_LD | BPF_IMM | BPF_DW, reg(`r${m[1]}`), 2, 0, imm32(m[2])), imm2: imm32(m[3]) });
  }
  if ((m = K_RE.pseudo.exec(text))) {
    const { imm, imm2 } = splitConstant64(imm64(m[3]));
    return set({ ...insn(BPF_LD | BPF_IMM | BPF_DW, reg(`r${m[1]}`), Number(m[2]), 0, imm), imm2 });
  }
  if ((m = K_RE.lddw.exec(text))) {
    const { imm, imm2 } = splitConstant64(imm64(m[2]));
    return set({ ...insn(BPF_LD | BPF_IMM | BPF_DW, reg(`r${m[1]}`), 0, 0, imm), imm2 });
  }
  if ((m = K_RE.endian.exec(text))) {
    if (m[1] !== m[4]) fail('a byte swap reads and writes the same register');
    const code = m[2] === 'bswap' ? BPF_ALU64 | BPF_END | BPF_TO_LE : BPF_ALU | BPF_END | (m[2] === 'be' ? BPF_TO_BE : BPF_TO_LE);
    return set(insn(code, reg(`r${m[1]}`), 0, 0, Number(m[3])));
  }
  if ((m = K_RE.movsx.exec(text))) {
    const cls = m[1] ? BPF_ALU : BPF_ALU64;
    return set(insn(cls | BPF_MOV | BPF_X, reg(`r${m[2]}`), reg(`r${m[4]}`), Number(m[3]), 0));
  }
  if ((m = K_RE.alu.exec(text))) {
    const cls = m[1] ? BPF_ALU : BPF_ALU64;
    const opText = m[3]!;
    const op = KERNEL_ALU[opText]!;
    const off = opText === 's/=' || opText === 's%=' ? 1 : 0;
    const dst = reg(`r${m[2]}`);
    if (op === BPF_END) {
      if (m[4] !== undefined) fail("3.19's 'endian (u32) rN' form does not say the width: write 'rN = be16 rN'");
      return set(insn(BPF_ALU | BPF_END | BPF_TO_LE, dst, 0, 0, imm32(m[5])));
    }
    if (m[4] !== undefined) return set(insn(cls | op | BPF_X, dst, reg(`r${m[4]}`), off, 0));
    return set(insn(cls | op | BPF_K, dst, 0, off, imm32(m[5])));
  }
  return false;
}

// ---------------------------------------------------------------- conformance dialect

function memOperand(text: string | undefined): { base: number; off: number } {
  const m = /^\[\s*(%?r\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+))?\s*\]$/i.exec(text ?? '');
  if (!m) return fail(`expected a memory operand like [%r1+8], got '${text ?? ''}'`);
  return { base: reg(m[1]), off: m[2] ? off16(`${m[2]}${m[3]}`) : 0 };
}

const isReg = (t: string | undefined): boolean => /^%?r\d+$/.test(t ?? '');

function parseConformance(tokens: string[], p: Pending): boolean {
  const [mn0, ...ops] = tokens;
  // a line of separators only (`,`) has no mnemonic
  if (mn0 === undefined) return false;
  const mn = mn0.toLowerCase();
  const arity = (n: number): void => {
    if (ops.length !== n) fail(`${mn} takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`);
  };
  const set = (i: Instruction): true => {
    p.insn = i;
    return true;
  };
  let m: RegExpExecArray | null;

  if (mn === 'exit') {
    arity(0);
    return set(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  }
  if (mn === 'lddw') {
    arity(2);
    const { imm, imm2 } = splitConstant64(imm64(ops[1]));
    return set({ ...insn(BPF_LD | BPF_IMM | BPF_DW, reg(ops[0]), 0, 0, imm), imm2 });
  }
  if (mn === 'call') {
    if (ops[0] === 'local') {
      arity(2);
      set(insn(BPF_JMP | BPF_CALL, 0, 1, 0, 0));
      target(ops[1]!, p, 'imm');
      return true;
    }
    if (ops[0] === 'runtime') {
      arity(2);
      return set(insn(BPF_JMP | BPF_CALL, 0, 2, 0, imm32(ops[1])));
    }
    arity(1);
    if (isReg(ops[0])) return set(insn(BPF_JMP | BPF_CALL | BPF_X, reg(ops[0]), 0, 0, 0));
    return set(insn(BPF_JMP | BPF_CALL, 0, 0, 0, imm32(ops[0])));
  }
  if (mn === 'ja') {
    arity(1);
    set(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    target(ops[0]!, p, 'off');
    return true;
  }
  if (mn === 'ja32') {
    arity(1);
    set(insn(BPF_JMP32 | BPF_JA, 0, 0, 0, 0));
    target(ops[0]!, p, 'imm');
    return true;
  }
  if ((m = /^(j[a-z]+?)(32)?$/.exec(mn)) && CONF_JMP[m[1]!] !== undefined) {
    arity(3);
    const cls = m[2] ? BPF_JMP32 : BPF_JMP;
    const op = CONF_JMP[m[1]!]!;
    if (isReg(ops[1])) set(insn(cls | op | BPF_X, reg(ops[0]), reg(ops[1]), 0, 0));
    else set(insn(cls | op | BPF_K, reg(ops[0]), 0, 0, imm32(ops[1])));
    target(ops[2]!, p, 'off');
    return true;
  }
  if ((m = /^neg(32|64)?$/.exec(mn))) {
    arity(1);
    return set(insn((m[1] === '32' ? BPF_ALU : BPF_ALU64) | BPF_NEG | BPF_K, reg(ops[0]), 0, 0, 0));
  }
  if ((m = /^movsx(8|16|32)(32|64)$/.exec(mn))) {
    arity(2);
    return set(insn((m[2] === '32' ? BPF_ALU : BPF_ALU64) | BPF_MOV | BPF_X, reg(ops[0]), reg(ops[1]), Number(m[1]), 0));
  }
  if ((m = /^([a-z]+?)(32|64)?$/.exec(mn)) && CONF_ALU[m[1]!] !== undefined) {
    arity(2);
    const cls = m[2] === '32' ? BPF_ALU : BPF_ALU64;
    const [op, off] = CONF_ALU[m[1]!]!;
    if (isReg(ops[1])) return set(insn(cls | op | BPF_X, reg(ops[0]), reg(ops[1]), off, 0));
    return set(insn(cls | op | BPF_K, reg(ops[0]), 0, off, imm32(ops[1])));
  }
  if ((m = /^(le|be|bswap|swap)(16|32|64)$/.exec(mn))) {
    arity(1);
    const code = m[1] === 'le' ? BPF_ALU | BPF_END | BPF_TO_LE : m[1] === 'be' ? BPF_ALU | BPF_END | BPF_TO_BE : BPF_ALU64 | BPF_END | BPF_TO_LE;
    return set(insn(code, reg(ops[0]), 0, 0, Number(m[2])));
  }
  if ((m = /^ldx(s?)(b|h|w|dw)$/.exec(mn))) {
    arity(2);
    if (m[1] && m[2] === 'dw') fail('there is no sign-extending 64-bit load');
    const { base, off } = memOperand(ops[1]);
    return set(insn(BPF_LDX | (m[1] ? BPF_MEMSX : BPF_MEM) | SIZE_BY_SUFFIX[m[2]!]!, reg(ops[0]), base, off, 0));
  }
  if ((m = /^st(x?)(b|h|w|dw)$/.exec(mn))) {
    arity(2);
    const { base, off } = memOperand(ops[0]);
    const size = SIZE_BY_SUFFIX[m[2]!]!;
    if (m[1]) return set(insn(BPF_STX | BPF_MEM | size, base, reg(ops[1]), off, 0));
    return set(insn(BPF_ST | BPF_MEM | size, base, 0, off, imm32(ops[1])));
  }
  if ((m = /^ldabs(b|h|w)$/.exec(mn))) {
    arity(1);
    return set(insn(BPF_LD | BPF_ABS | SIZE_BY_SUFFIX[m[1]!]!, 0, 0, 0, imm32(ops[0])));
  }
  if ((m = /^ldind(b|h|w)$/.exec(mn))) {
    arity(2);
    return set(insn(BPF_LD | BPF_IND | SIZE_BY_SUFFIX[m[1]!]!, 0, reg(ops[0]), 0, imm32(ops[1])));
  }
  if (mn === 'lock') {
    let rest = ops;
    let fetch = false;
    if (rest[0] === 'fetch') {
      fetch = true;
      rest = rest.slice(1);
    }
    const am = /^(add|and|or|xor|xchg|cmpxchg)(32|64)?$/.exec(rest[0] ?? '');
    if (!am) return fail(`unknown atomic operation '${rest[0] ?? ''}'`);
    if (rest.length !== 3) fail(`lock ${am[0]} takes 2 operands, got ${rest.length - 1}`);
    const size = am[2] === '32' ? BPF_W : BPF_DW;
    const { base, off } = memOperand(rest[1]);
    let imm: number;
    if (am[1] === 'xchg') imm = BPF_XCHG;
    else if (am[1] === 'cmpxchg') imm = BPF_CMPXCHG;
    else imm = ATOMIC_BY_NAME[am[1]!]! | (fetch ? BPF_FETCH : 0);
    return set(insn(BPF_STX | BPF_ATOMIC | size, base, reg(rest[2]), off, imm));
  }
  return false;
}

// ---------------------------------------------------------------- driver

function stripComment(line: string): string {
  let s = line.replace(/\r$/, '');
  // `#` between a name and a number is bpftool's helper number (`bpf_map_lookup_elem#1`, the
  // kernel log's `unknown#-1`), not a comment
  const hash = s.search(/(?<!\w)#|#(?!-?\d)/);
  if (hash >= 0) s = s.slice(0, hash);
  for (const marker of [';', '//']) {
    const i = s.indexOf(marker);
    if (i >= 0) s = s.slice(0, i);
  }
  return s.trim();
}

/** Control characters but tab (a bare CR, U+2028, ESC) inside a source line, escaped: an error message quoting the line stays one printable line. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Assemble program text into logical instructions. Throws BpfError EINVAL
 * naming the line on any error.
 */
export function assemble(source: string): Instruction[] {
  return assembleWithLines(source).insns;
}

/**
 * assemble(), and for each instruction the source line (1-based) it came
 * from: what an editor needs to put a verifier message on its line.
 */
export function assembleWithLines(source: string): { insns: Instruction[]; lines: number[] } {
  const pending: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  let firstExit: number | undefined;
  const lines = source.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    let text = stripComment(lines[ln]!);
    if (text === '') continue;
    try {
      const label = /^([A-Za-z_.][\w.]*):$/.exec(text);
      if (label) {
        if (labels.has(label[1]!)) fail(`label '${label[1]}' is defined twice`);
        labels.set(label[1]!, slot);
        continue;
      }
      // The verifier log's `N: ` index and `(xx) ` opcode are optional.
      text = text.replace(/^\d+:\s*/, '');
      let hint: number | undefined;
      const h = /^\(([0-9a-fA-F]{2})\)\s*/.exec(text);
      if (h) {
        hint = parseInt(h[1]!, 16);
        text = text.slice(h[0].length);
      }
      if (text === '') continue;
      const p: Pending = { insn: insn(0, 0, 0, 0, 0), line: ln + 1 };
      const normalized = text.replace(/\s+/g, ' ');
      if (!parseKernel(normalized, p)) {
        const tokens = normalized.split(' ').map((t) => t.replace(/,$/, '')).filter((t) => t !== '');
        if (!parseConformance(tokens, p)) fail(`unknown instruction '${text}'`);
      }
      if (hint !== undefined && hint !== p.insn.code) {
        // 3.19 printed `endian` for both byte orders: the opcode decides.
        if (hint === (BPF_ALU | BPF_END | BPF_TO_BE) && p.insn.code === (BPF_ALU | BPF_END | BPF_TO_LE)) p.insn.code = hint;
        else fail(`opcode (${h![1]}) does not match the instruction, which assembles to (${p.insn.code.toString(16).padStart(2, '0')})`);
      }
      if (isExit(p.insn) && firstExit === undefined) firstExit = slot;
      pending.push(p);
      slot += slotCount(p.insn);
    } catch (e) {
      if (e instanceof AsmError || e instanceof BpfError) {
        throw new BpfError('EINVAL', oneLine(`line ${ln + 1}: ${e.message}: '${lines[ln]!.trim()}'`));
      }
      throw e;
    }
  }
  if (firstExit !== undefined && !labels.has('exit')) labels.set('exit', firstExit);

  const out: Instruction[] = [];
  const outLines: number[] = [];
  slot = 0;
  for (const p of pending) {
    if (p.target) {
      const at = labels.get(p.target.label);
      if (at === undefined) throw new BpfError('EINVAL', `line ${p.line}: undefined label '${p.target.label}'`);
      const rel = at - (slot + 1);
      if (p.target.field === 'off') {
        if (rel < -0x8000 || rel > 0x7fff) throw new BpfError('EINVAL', `line ${p.line}: jump to '${p.target.label}' is too far for a 16-bit offset`);
        p.insn.off = rel;
      } else {
        p.insn.imm = rel;
      }
    }
    const problem = slotProblem(p.insn);
    if (problem !== undefined) throw new BpfError('EINVAL', `line ${p.line}: ${problem}`);
    out.push(p.insn);
    outLines.push(p.line);
    slot += slotCount(p.insn);
  }
  return { insns: out, lines: outLines };
}

