/**
 * Classic BPF compiled to one JavaScript function over a capture's bytes in
 * place: the fast path of `tsbpf filter 'EXPR' CAPTURE` (fast-filter.ts).
 * The function takes the buffer holding the whole capture, the offset of a
 * packet's first byte and its captured length, and returns the verdict (the
 * number of bytes to keep, 0 drops) exactly as the checked runtime returns
 * it for the converted program (convert.ts) run by a PacketRunner: the same
 * 32-bit arithmetic, shifts masked to 5 bits as WebAssembly and the
 * interpreter mask them, division by a zero X ending the program with 0, an
 * out-of-bounds load ending it with 0, LD LEN the captured length, negative
 * offsets as SKF_NET_OFF/SKF_LL_OFF (the interpreter's packetOffset).
 * test/fast-filter.test.ts compares its verdicts with the checked
 * interpreter's over the differential corpus and random programs.
 *
 * It owns the decision of which programs may skip BPF_PROG_LOAD. The slow
 * path loads the converted program, and tsbpf verifies converted programs
 * (3.19 itself never did): besides bpf_check_classic, which runs here too,
 * that refuses an unreachable instruction, more than 4095 instructions, and
 * more than 32768 instructions processed. A program the fast path takes has
 * every converted instruction reachable, at most 4095 of them, and at most
 * 32768 instructions over all its paths together (a bound on what the
 * verifier can process, pruning or not): nothing the verifier could refuse.
 * Any other program (and any with an ancillary load but A ^= X, which the
 * conversion refuses) is left to the slow path, which gives today's error.
 *
 * Jumps are forward only, so the code is straight-line: every jump target
 * is the end of a labelled block opened at the top of the function, and a
 * jump is a `break` out of it. A and X are kept as unsigned 32-bit numbers.
 */

import type { SockFilter } from '../cbpf/parse.js';
import { convertClassic } from '../cbpf/convert.js';
import { InternalError } from '../errors.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_CLASS, BPF_DIV, BPF_EXIT, BPF_H, BPF_IMM, BPF_IND, BPF_JA,
  BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD,
  BPF_MSH, BPF_MUL, BPF_NEG, BPF_OP, BPF_OR, BPF_RET, BPF_RSH, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_SUB,
  BPF_W, BPF_X, BPF_XOR, SKF_LL_OFF, SKF_NET_OFF,
} from '../isa/opcodes.js';
import { BPF_A, BPF_MISC, BPF_TAX, BPF_TXA, SKF_AD, SKF_AD_OFF } from '../cbpf/opcodes.js';

/** A compiled filter: the verdict for the packet at b[s, s + n). */
export type ClassicFn = (b: Uint8Array, s: number, n: number) => number;

/** The offset of the network header in the packet b[s, s + n), or -1 (the capture's link type decides). */
export type NetOffset = (b: Uint8Array, s: number, n: number) => number;

/** 3.19's BPF_PROG_LOAD limit on instructions, which tsbpf applies to converted programs. */
const MAX_CONVERTED = 4095;
/** 3.19's limit on instructions the verifier processes. */
const PROCESSED_LIMIT = 32768;

/**
 * Why the slow path must load this program (the verifier could refuse it,
 * or the conversion does), or undefined when the fast path may run it.
 */
export function fastPathRefusal(prog: readonly SockFilter[]): string | undefined {
  let insns;
  try {
    insns = convertClassic(prog).insns;
  } catch (e) {
    return `not converted: ${(e as Error).message}`;
  }
  if (insns.length > MAX_CONVERTED) return `${insns.length} converted instructions`;
  // paths[i]: how many paths from the entry reach converted instruction i
  // (capped: only whether the sum passes the limit matters)
  const paths = new Float64Array(insns.length);
  paths[0] = 1;
  let processed = 0;
  for (let i = 0; i < insns.length; i++) {
    const p = paths[i]!;
    if (p === 0) return `converted instruction ${i} is unreachable`;
    processed += p;
    if (processed > PROCESSED_LIMIT) return `more than ${PROCESSED_LIMIT} instructions over all paths`;
    const { code, off } = insns[i]!;
    if (BPF_CLASS(code) !== BPF_JMP) {
      paths[i + 1]! += p;
      continue;
    }
    const op = BPF_OP(code);
    // exit: no successor; ja: the target only; a condition: both
    if (op === BPF_EXIT) continue;
    paths[i + 1 + off]! += p;
    if (op !== BPF_JA) paths[i + 1]! += p;
  }
  return undefined;
}

/**
 * The program as a function over packets in place, or undefined when
 * fastPathRefusal refuses it. `netOffset` answers SKF_NET_OFF loads.
 */
export function compileClassicJs(prog: readonly SockFilter[], netOffset: NetOffset): ClassicFn | undefined {
  if (fastPathRefusal(prog) !== undefined) return undefined;
  const targets = new Set<number>();
  prog.forEach((f, i) => {
    if (f.code === (BPF_JMP | BPF_JA)) targets.add(i + 1 + f.k);
    else if (BPF_CLASS(f.code) === BPF_JMP) {
      targets.add(i + 1 + f.jt);
      targets.add(i + 1 + f.jf);
    }
  });
  // no label for plain fall-through targets that nothing breaks to
  const labels = [...targets].sort((a, b) => b - a);
  const out: string[] = [];
  out.push('let A = 0, X = 0, o = 0;');
  const cells = new Set<number>();
  for (const f of prog) if (f.code === BPF_ST || f.code === BPF_STX || f.code === (BPF_LD | BPF_MEM) || f.code === (BPF_LDX | BPF_MEM)) cells.add(f.k);
  if (cells.size) out.push(`let ${[...cells].map((k) => `m${k} = 0`).join(', ')};`);
  for (const t of labels) out.push(`L${t}: {`);
  prog.forEach((f, i) => {
    if (targets.has(i)) out.push('}');
    out.push(insn(f, i));
  });
  const body = out.join('\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the point of this file: a filter as code V8 compiles
  const make = new Function('neg', `return function classicFilter(b, s, n) {\n${body}\n};`) as (neg: (b: Uint8Array, s: number, n: number, k: number, size: number) => number) => ClassicFn;
  return make((b, s, n, k, size) => negativeOffset(b, s, n, k, size, netOffset));
}

/** The interpreter's packetOffset for a negative offset k: SKF_NET_OFF or SKF_LL_OFF relative, or -1. */
function negativeOffset(b: Uint8Array, s: number, n: number, k: number, size: number, netOffset: NetOffset): number {
  let start: number;
  if (k >= SKF_NET_OFF) {
    const net = netOffset(b, s, n);
    if (net < 0) return -1;
    start = net + (k - SKF_NET_OFF);
  } else if (k >= SKF_LL_OFF) {
    start = k - SKF_LL_OFF;
  } else {
    return -1;
  }
  return start + size <= n ? start : -1;
}

/** A big-endian load of `size` bytes at packet offset `at` (an expression). */
function load(size: number, at: string): string {
  const p = (d: number): string => `b[s + ${at}${d ? ` + ${d}` : ''}]`;
  if (size === 1) return p(0);
  if (size === 2) return `((${p(0)} << 8) | ${p(1)})`;
  return `(((${p(0)} << 24) | (${p(1)} << 16) | (${p(2)} << 8) | ${p(3)}) >>> 0)`;
}

/** `dst = P[k:size]`, or return 0 when out of bounds: k constant. */
function loadAbs(dst: string, size: number, k: number): string {
  if (k >= 0) return `if (n < ${k + size}) return 0; ${dst} = ${load(size, String(k))};`;
  return `o = neg(b, s, n, ${k}, ${size}); if (o < 0) return 0; ${dst} = ${load(size, 'o')};`;
}

function insn(f: SockFilter, i: number): string {
  const code = f.code;
  const k = f.k >>> 0;
  const ks = f.k | 0;
  const jump = (t: number): string => (t === i + 1 ? '' : `break L${t};`);
  switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS: {
      if (k >= SKF_AD_OFF >>> 0) {
        // the conversion takes only A ^= X among the ancillary loads (fastPathRefusal checked)
        if (k - (SKF_AD_OFF >>> 0) === SKF_AD.ALU_XOR_X) return 'A = (A ^ X) >>> 0;';
        throw new InternalError(`insn ${i}: ancillary load past the conversion`);
      }
      return loadAbs('A', sizeOf(code), ks);
    }
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND: {
      const size = sizeOf(code);
      // X + k in 32-bit int arithmetic, as the kernel's `int off`
      return `o = (X + ${ks}) | 0; if (o < 0 ? (o = neg(b, s, n, o, ${size})) < 0 : o + ${size} > n) return 0; A = ${load(size, 'o')};`;
    }
    case BPF_LDX | BPF_B | BPF_MSH:
      if (ks >= 0) return `if (n < ${ks + 1}) return 0; X = (b[s + ${ks}] & 15) << 2;`;
      return `o = neg(b, s, n, ${ks}, 1); if (o < 0) return 0; X = (b[s + o] & 15) << 2;`;
    case BPF_LD | BPF_W | BPF_LEN:
      return 'A = n;';
    case BPF_LDX | BPF_W | BPF_LEN:
      return 'X = n;';
    case BPF_LD | BPF_IMM:
      return `A = ${k};`;
    case BPF_LDX | BPF_IMM:
      return `X = ${k};`;
    case BPF_LD | BPF_MEM:
      return `A = m${f.k};`;
    case BPF_LDX | BPF_MEM:
      return `X = m${f.k};`;
    case BPF_ST:
      return `m${f.k} = A;`;
    case BPF_STX:
      return `m${f.k} = X;`;
    case BPF_MISC | BPF_TAX:
      return 'X = A;';
    case BPF_MISC | BPF_TXA:
      return 'A = X;';
    case BPF_RET | BPF_K:
      return `return ${k};`;
    case BPF_RET | BPF_A:
      return 'return A;';
    case BPF_ALU | BPF_NEG:
      return 'A = (-A) >>> 0;';
    case BPF_JMP | BPF_JA:
      return jump(i + 1 + f.k);
    default:
      break;
  }
  if (BPF_CLASS(code) === BPF_ALU) {
    const src = BPF_SRC(code) === BPF_K ? String(k) : 'X';
    switch (BPF_OP(code)) {
      case BPF_ADD: return `A = (A + ${src}) >>> 0;`;
      case BPF_SUB: return `A = (A - ${src}) >>> 0;`;
      case BPF_MUL: return `A = Math.imul(A, ${src}) >>> 0;`;
      // classic division by a zero X returns 0 (a zero k is refused by the checker)
      case BPF_DIV: return `${src === 'X' ? 'if (X === 0) return 0; ' : ''}A = (A / ${src}) >>> 0;`;
      case BPF_MOD: return `${src === 'X' ? 'if (X === 0) return 0; ' : ''}A = A % ${src};`;
      case BPF_AND: return `A = (A & ${src}) >>> 0;`;
      case BPF_OR: return `A = (A | ${src}) >>> 0;`;
      case BPF_XOR: return `A = (A ^ ${src}) >>> 0;`;
      // the count masked to 5 bits, as WebAssembly's and the interpreter's shifts
      case BPF_LSH: return `A = (A << ${src}) >>> 0;`;
      case BPF_RSH: return `A = A >>> ${src};`;
      default: break;
    }
  }
  if (BPF_CLASS(code) === BPF_JMP) {
    const src = BPF_SRC(code) === BPF_X ? 'X' : String(k);
    let cond: string;
    switch (BPF_OP(code)) {
      case BPF_JEQ: cond = `A === ${src}`; break;
      case BPF_JGT: cond = `A > ${src}`; break;
      case BPF_JGE: cond = `A >= ${src}`; break;
      case BPF_JSET: cond = `(A & ${src}) !== 0`; break;
      default: throw new InternalError(`insn ${i}: unknown jump 0x${code.toString(16)}`);
    }
    const t = i + 1 + f.jt;
    const e = i + 1 + f.jf;
    if (t === e) return jump(t);
    if (t === i + 1) return `if (!(${cond})) break L${e};`;
    if (e === i + 1) return `if (${cond}) break L${t};`;
    return `if (${cond}) break L${t}; else break L${e};`;
  }
  throw new InternalError(`insn ${i}: opcode 0x${code.toString(16)} past the conversion`);
}

function sizeOf(code: number): number {
  const size = BPF_SIZE(code);
  return size === BPF_W ? 4 : size === BPF_H ? 2 : size === BPF_B ? 1 : 0;
}
