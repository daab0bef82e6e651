/**
 * The eBPF back end: the optimised block graph (optimize.ts's finalGraph)
 * straight to a socket filter, instead of the classic program run through
 * cbpf/convert.ts. Same statements, same order of loads, same returns, so
 * the same verdict on every packet (a truncated one included); what changes
 * is how many instructions a packet runs through:
 *
 * - Registers keep the values: A in r0 (where LD_ABS/LD_IND leave a load),
 *   X in r7, the first two scratch cells the program uses in r8 and r9
 *   (further ones on the stack, as convert.ts keeps all sixteen). A and X
 *   are 32-bit values zero-extended in 64-bit registers, as in a converted
 *   program, so the 64-bit jumps compare what classic BPF compares.
 * - `ldxb 4*([k]&0xf)` is four instructions (LD_ABS, and, lsh, mov to r7)
 *   where the conversion takes six; A is saved around it (on the stack)
 *   only where it is read again before being written.
 * - Jumps: one side of each test falls through to the next block or to a
 *   return placed right there (`w0 = k; exit`), so a test is one
 *   instruction where the conversion often needs a jump and a `ja`; a test
 *   whose true side is next is inverted where eBPF has the inverse (jeq to
 *   jne, and under the modern profile jgt to jle and jge to jlt).
 * - A constant with the top bit set is moved into r1 for the comparison
 *   (an eBPF immediate is sign-extended), except for jset, whose
 *   sign-extended mask tests the same bits of a zero-extended A.
 * - The prologue is `r6 = r1` (LD_ABS reads the context from r6), and A or X
 *   are zeroed first only if some path reads them before writing them.
 *
 * Packets are read with LD_ABS/LD_IND under both profiles: they end the
 * program with 0 on a read past the end, which is what classic BPF (and
 * libpcap's bpf_filter) does, and a socket filter may not read __sk_buff's
 * data/data_end (the kernel's sk_filter_is_valid_access refuses them, and
 * so does progs/sk-buff.ts), so direct packet access is not open to it.
 * One difference is bridged: eBPF's LD_ABS/LD_IND offset is a signed 32-bit
 * value whose negative range reads relative to the network or link header
 * (SKF_NET_OFF, SKF_LL_OFF), where classic BPF's offset of 2^31 or more is
 * past the end of any packet. Such a constant offset becomes one below
 * SKF_LL_OFF (also a load that ends the program with 0), and an LD_IND whose
 * X may be that large (X from arithmetic, not from `ldxb`) is guarded with a
 * jump to `ret #0` (so `ether[0xfff00000] = 0x45` rejects, as tcpdump's).
 */

import { InternalError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import {
  BPF_ALU32_IMM, BPF_ALU32_REG, BPF_EXIT_INSN, BPF_JMP_A, BPF_JMP_IMM, BPF_JMP_REG, BPF_LD_ABS, BPF_LD_IND,
  BPF_LDX_MEM, BPF_MOV32_IMM, BPF_MOV64_REG, BPF_RAW_INSN, BPF_STX_MEM,
} from '../isa/builders.js';
import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_DW, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE,
  BPF_JLT, BPF_JNE, BPF_JSET, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH, BPF_NEG,
  BPF_ST, BPF_STX, BPF_W, BPF_X,
} from '../isa/opcodes.js';
import type { SockFilter } from '../cbpf/parse.js';
import type { FinalBlock, FinalNode } from './optimize.js';

const R0 = 0;
const R1 = 1;
const CTX = 6;
const X = 7;
const FP = 10;
/** the stack word where A waits while an `ldxb 4*([k]&0xf)` runs (below the sixteen scratch cells) */
const A_SAVE = -72;
/** an LD_ABS offset no packet has (below SKF_LL_OFF): the load ends the program with 0 */
const NEVER = -0x80000000;
/** where a guarded LD_IND goes when X + k would pass 2^31 */
const REJECT: FinalNode = { kind: 'ret', k: 0 };

/** Which eBPF jumps the target kernel has: 3.19 lacks jlt/jle (4.14). */
export type EbpfTarget = '3.19' | 'modern';

/** What a statement or test reads and writes of A, X and the scratch cells (bit 0 A, 1 X, 2 + k M[k]). */
function effect(p: SockFilter): { use: number; def: number } {
  const cls = p.code & 0x07;
  const mode = p.code & 0xe0;
  const M = (k: number): number => 1 << (2 + k);
  switch (cls) {
    case BPF_LD:
      if (mode === BPF_IND) return { use: 2, def: 1 };
      if (mode === BPF_MEM) return { use: M(p.k), def: 1 };
      return { use: 0, def: 1 };
    case BPF_LDX:
      if (mode === BPF_MEM) return { use: M(p.k), def: 2 };
      return { use: 0, def: 2 };
    case BPF_ST: return { use: 1, def: M(p.k) };
    case BPF_STX: return { use: 2, def: M(p.k) };
    case BPF_ALU:
      if ((p.code & 0xf0) === BPF_NEG) return { use: 1, def: 1 };
      return { use: (p.code & BPF_X) !== 0 ? 3 : 1, def: 1 };
    default: // tax 0x07, txa 0x87
      return p.code === 0x07 ? { use: 1, def: 2 } : { use: 2, def: 1 };
  }
}

/** What a block reads before writing (its statements, then its test). */
function blockUses(b: FinalBlock): { use: number; def: number } {
  let use = 0;
  let def = 0;
  for (const p of b.stmts) {
    const e = effect(p);
    use |= e.use & ~def;
    def |= e.def;
  }
  use |= ((b.code & BPF_X) !== 0 ? 3 : 1) & ~def;
  return { use, def };
}

/** The eBPF socket filter of a final block graph (see the file's comment). */
export function emitEbpf(root: FinalNode, order: readonly FinalBlock[], target: EbpfTarget = '3.19'): Instruction[] {
  // liveness of A, X and M[] at each block's entry (the graph has no cycles: one backward sweep)
  const liveIn = new Map<FinalBlock, number>();
  const liveOf = (n: FinalNode): number => (n.kind === 'ret' ? 0 : liveIn.get(n)!);
  for (let i = order.length - 1; i >= 0; i--) {
    const b = order[i]!;
    const { use, def } = blockUses(b);
    liveIn.set(b, use | ((liveOf(b.jt) | liveOf(b.jf)) & ~def));
  }
  // the largest value X can hold at each block's entry: an LD_IND whose X + k may pass 2^31 needs a guard, since
  // eBPF adds them as a signed 32-bit offset (a negative one reads SKF_NET_OFF/SKF_LL_OFF) where classic BPF's
  // offset is past the end of any packet; `ldxb 4*([k]&0xf)` leaves at most 60, a constant itself
  const xMaxIn = new Map<FinalBlock, number>();
  const xAfter = (xMax: number, p: SockFilter): number => {
    if ((p.code & 0x07) === BPF_LDX) return (p.code & 0xe0) === BPF_MSH ? 60 : (p.code & 0xe0) === BPF_IMM ? p.k >>> 0 : 0xffffffff;
    return p.code === 0x07 ? 0xffffffff : xMax; // tax
  };
  if (root.kind === 'block') xMaxIn.set(root, 0);
  for (const b of order) {
    let xMax = xMaxIn.get(b) ?? 0xffffffff;
    for (const p of b.stmts) xMax = xAfter(xMax, p);
    for (const n of [b.jt, b.jf]) if (n.kind === 'block') xMaxIn.set(n, Math.max(xMaxIn.get(n) ?? 0, xMax));
  }
  // scratch cells: the first two the program names live in r8 and r9
  const cellReg = new Map<number, number>();
  for (const b of order) {
    for (const p of b.stmts) {
      const cls = p.code & 0x07;
      const isMem = cls === BPF_ST || cls === BPF_STX || ((cls === BPF_LD || cls === BPF_LDX) && (p.code & 0xe0) === BPF_MEM);
      if (isMem && !cellReg.has(p.k) && cellReg.size < 2) cellReg.set(p.k, 8 + cellReg.size);
    }
  }
  const cellOff = (k: number): number => -(16 - k) * 4;
  const out: Instruction[] = [];
  /** jumps to patch: instruction index and the node it goes to */
  const fixups: { at: number; to: FinalNode }[] = [];
  const blockAt = new Map<FinalBlock, number>();
  /** where each return value is placed (fallen into inline, or after the last block): a jump goes to the first after it */
  const leafAt = new Map<number, number[]>();

  if (root.kind === 'ret') return [BPF_MOV32_IMM(R0, root.k | 0), BPF_EXIT_INSN()];
  out.push(BPF_MOV64_REG(CTX, R1));
  const entryLive = liveOf(root);
  if (entryLive & 1) out.push(BPF_MOV32_IMM(R0, 0));
  if (entryLive & 2) out.push(BPF_MOV32_IMM(X, 0));
  for (const [k, r] of cellReg) if (entryLive & (1 << (2 + k))) out.push(BPF_MOV32_IMM(r, 0));
  for (let k = 0; k < 16; k++) {
    if (!cellReg.has(k) && (entryLive & (1 << (2 + k)))) {
      out.push(BPF_MOV32_IMM(R1, 0), BPF_STX_MEM(BPF_W, FP, R1, cellOff(k)));
    }
  }

  const leaf = (k: number): void => {
    leafAt.set(k, [...(leafAt.get(k) ?? []), out.length]);
    out.push(BPF_MOV32_IMM(R0, k | 0), BPF_EXIT_INSN());
  };
  const leafAfter = (k: number, at: number): number | undefined => leafAt.get(k)?.find((pc) => pc > at);
  const jumpTo = (insn: Instruction, to: FinalNode): void => {
    fixups.push({ at: out.length, to });
    out.push(insn);
  };

  for (let i = 0; i < order.length; i++) {
    const b = order[i]!;
    const next = order[i + 1];
    blockAt.set(b, out.length);
    // A's liveness after each statement, backwards from the test (which reads A)
    const after: boolean[] = new Array<boolean>(b.stmts.length);
    let live = 1;
    for (let s = b.stmts.length - 1; s >= 0; s--) {
      after[s] = (live & 1) !== 0;
      const e = effect(b.stmts[s]!);
      live = (live & ~e.def) | e.use;
    }
    let xMax = xMaxIn.get(b) ?? 0xffffffff;
    b.stmts.forEach((p, s) => {
      statement(p, after[s]!, xMax);
      xMax = xAfter(xMax, p);
    });
    // the test
    const code = b.code;
    let src = code & BPF_X ? X : -1;
    let imm = 0;
    if (src === -1) {
      if ((b.k | 0) < 0 && (code & 0xf0) !== BPF_JSET) {
        out.push(BPF_MOV32_IMM(R1, b.k | 0));
        src = R1;
      } else {
        imm = b.k | 0;
      }
    }
    const op = code & 0xf0;
    const jump = (o: number): Instruction => (src === -1 ? BPF_JMP_IMM(o, R0, imm, 0) : BPF_JMP_REG(o, R0, src, 0));
    const inverse = op === BPF_JEQ ? BPF_JNE : target === 'modern' && op === BPF_JGT ? BPF_JLE : target === 'modern' && op === BPF_JGE ? BPF_JLT : -1;
    if (b.jf === next || (b.jf.kind === 'ret' && !(b.jt === next && inverse !== -1))) {
      // true jumps, false falls through (to the next block, or to a return placed here)
      jumpTo(jump(op), b.jt);
      if (b.jf !== next) fallTo(b.jf);
    } else if (inverse !== -1 && (b.jt === next || b.jt.kind === 'ret')) {
      jumpTo(jump(inverse), b.jf);
      if (b.jt !== next) fallTo(b.jt);
    } else {
      jumpTo(jump(op), b.jt);
      fallTo(b.jf);
    }
  }

  function fallTo(n: FinalNode): void {
    if (n.kind === 'ret') leaf(n.k);
    else jumpTo(BPF_JMP_A(0), n);
  }

  function statement(p: SockFilter, aLiveAfter: boolean, xMax: number): void {
    const cls = p.code & 0x07;
    const mode = p.code & 0xe0;
    const size = p.code & 0x18;
    const k = p.k | 0;
    switch (cls) {
      case BPF_LD:
        // an offset of 2^31 or more is past the end of any packet: a load below SKF_LL_OFF ends the program with 0
        // just the same, where the offset itself (negative as eBPF's s32) would read SKF_NET_OFF or SKF_LL_OFF
        if ((mode === BPF_ABS || mode === BPF_IND) && k < 0) out.push(BPF_LD_ABS(size, NEVER));
        else if (mode === BPF_ABS) out.push(BPF_LD_ABS(size, k));
        else if (mode === BPF_IND) {
          if (xMax + k > 0x7fffffff) jumpTo(BPF_JMP_IMM(BPF_JGT, X, 0x7fffffff - k, 0), REJECT);
          out.push(BPF_LD_IND(size, X, k));
        }
        else if (mode === BPF_IMM) out.push(BPF_MOV32_IMM(R0, k));
        else if (mode === BPF_LEN) out.push(BPF_LDX_MEM(BPF_W, R0, CTX, 0));
        else if (mode === BPF_MEM) out.push(cellReg.has(p.k) ? BPF_MOV64_REG(R0, cellReg.get(p.k)!) : BPF_LDX_MEM(BPF_W, R0, FP, cellOff(p.k)));
        else throw new InternalError(`filter eBPF: load mode 0x${mode.toString(16)}`);
        return;
      case BPF_LDX:
        if (mode === BPF_MSH) {
          if (aLiveAfter) out.push(BPF_STX_MEM(BPF_DW, FP, R0, A_SAVE));
          out.push(BPF_LD_ABS(BPF_B, k < 0 ? NEVER : k), BPF_ALU32_IMM(BPF_AND, R0, 0xf), BPF_ALU32_IMM(BPF_LSH, R0, 2), BPF_MOV64_REG(X, R0));
          if (aLiveAfter) out.push(BPF_LDX_MEM(BPF_DW, R0, FP, A_SAVE));
        } else if (mode === BPF_IMM) out.push(BPF_MOV32_IMM(X, k));
        else if (mode === BPF_LEN) out.push(BPF_LDX_MEM(BPF_W, X, CTX, 0));
        else if (mode === BPF_MEM) out.push(cellReg.has(p.k) ? BPF_MOV64_REG(X, cellReg.get(p.k)!) : BPF_LDX_MEM(BPF_W, X, FP, cellOff(p.k)));
        else throw new InternalError(`filter eBPF: ldx mode 0x${mode.toString(16)}`);
        return;
      case BPF_ST:
      case BPF_STX: {
        const from = cls === BPF_ST ? R0 : X;
        out.push(cellReg.has(p.k) ? BPF_MOV64_REG(cellReg.get(p.k)!, from) : BPF_STX_MEM(BPF_W, FP, from, cellOff(p.k)));
        return;
      }
      case BPF_ALU: {
        const op = p.code & 0xf0;
        if (op === BPF_NEG) {
          out.push(BPF_RAW_INSN(BPF_ALU | BPF_NEG, R0, 0, 0, 0));
        } else if ((p.code & BPF_X) === 0) {
          out.push(BPF_ALU32_IMM(op, R0, k));
        } else {
          // classic BPF ends the program with 0 on a division by X = 0; eBPF would go on
          if (op === BPF_DIV || op === BPF_MOD) out.push(BPF_JMP_IMM(BPF_JNE, X, 0, 2), BPF_MOV32_IMM(R0, 0), BPF_EXIT_INSN());
          out.push(BPF_ALU32_REG(op, R0, X));
        }
        return;
      }
      default:
        out.push(p.code === 0x07 ? BPF_MOV64_REG(X, R0) : BPF_MOV64_REG(R0, X));
    }
  }

  // a return no jump finds placed after it goes at the end, once (jumps only go forward)
  for (const f of fixups) if (f.to.kind === 'ret' && leafAfter(f.to.k, f.at) === undefined) leaf(f.to.k);
  for (const f of fixups) {
    const to = f.to.kind === 'ret' ? leafAfter(f.to.k, f.at)! : blockAt.get(f.to)!;
    const off = to - f.at - 1;
    if (off < 0 || off > 0x7fff) throw new InternalError(`filter eBPF: jump offset ${off} at ${f.at}`);
    out[f.at] = { ...out[f.at]!, off };
  }
  return out;
}
