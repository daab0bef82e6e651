/**
 * Classic BPF compiled to a WebAssembly module over a capture's bytes in
 * place: the engine of `tsbpf filter 'EXPR' CAPTURE`'s fast path
 * (fast-filter.ts). The module's `filter(s, n)` is the verdict for the
 * packet at [s, s + n) of its memory (the number of bytes to keep, 0 drops),
 * exactly as the checked runtime returns it for the converted program
 * (cbpf/convert.ts) run by a PacketRunner: 32-bit arithmetic, shift counts
 * masked to 5 bits (WebAssembly's and the interpreter's shifts), division
 * by a zero X ending the program with 0, an out-of-bounds load ending it
 * with 0, LD LEN the captured length, negative offsets as SKF_NET_OFF and
 * SKF_LL_OFF (the interpreter's packetOffset; the one import, `neg`, since
 * only the capture's link type knows where the network header is). Its
 * `scan(at, end, out, outEnd, limit)` runs `filter` over the classic pcap
 * records between `at` and `end`, a chunk of the file, and writes each
 * accepted one to `out` as three words (data offset, verdict, ordinal in
 * this call); it stops at the first record not whole in the chunk, one
 * over `limit`, or a full `out`, and leaves where it stopped, how many
 * records and how many bytes it took in its globals `at`, `packets`,
 * `bytes`. test/fast-filter.test.ts compares the verdicts with the checked
 * interpreter's over the differential corpus and random programs.
 *
 * It owns the decision of which programs may skip BPF_PROG_LOAD. The slow
 * path loads the converted program, and tsbpf verifies converted programs
 * (3.19 itself never did): besides bpf_check_classic, which runs here too
 * (in convertClassic), that refuses an unreachable instruction, more than
 * 4095 instructions, and more than 32768 instructions processed. A program
 * the fast path takes has every converted instruction reachable, at most
 * 4095 of them, and at most 32768 over all its paths together (a bound on
 * what the verifier processes, pruning or not): nothing the verifier could
 * refuse. Any other program, and any with an ancillary load other than
 * A ^= X (which the conversion refuses), is left to the general path, which
 * gives today's error.
 *
 * Jumps are forward only, so the code is structured without a dispatch
 * loop: every jump target ends a block opened at the top of the function,
 * and a jump is a `br` out of it.
 */

import type { SockFilter } from '../cbpf/parse.js';
import { convertClassic } from '../cbpf/convert.js';
import { InternalError } from '../errors.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_CLASS, BPF_DIV, BPF_EXIT, BPF_H, BPF_IMM, BPF_IND, BPF_JA,
  BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD,
  BPF_MSH, BPF_MUL, BPF_NEG, BPF_OP, BPF_OR, BPF_RET, BPF_RSH, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_SUB,
  BPF_W, BPF_XOR,
} from '../isa/opcodes.js';
import { BPF_A, BPF_MISC, BPF_TAX, BPF_TXA, SKF_AD, SKF_AD_OFF } from '../cbpf/opcodes.js';
import { Emitter, encodeModule, OP, T, VOID } from '../jit/wasm.js';

/** 3.19's BPF_PROG_LOAD limit on instructions, which tsbpf applies to converted programs. */
const MAX_CONVERTED = 4095;
/** 3.19's limit on instructions the verifier processes. */
const PROCESSED_LIMIT = 32768;

/**
 * Why the general path must load this program (the verifier could refuse
 * it, or the conversion does), or undefined when the fast path may run it.
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
  const paths = new Float64Array(insns.length + 1);
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

/** The offset of a negative-offset load (SKF_NET_OFF/SKF_LL_OFF) into the packet at [s, s + n), or -1. */
export type NegativeOffset = (s: number, n: number, k: number, size: number) => number;

/** A compiled filter's instance: the exports over `memory`. */
export interface ClassicWasm {
  /** the verdict for the packet at [s, s + n) */
  filter(s: number, n: number): number;
  /** classic pcap records of [at, end) through filter; see the file's comment */
  scan(at: number, end: number, out: number, outEnd: number, limit: number): number;
  // (returns where the accepted records it wrote end)
  /**
   * The same loop writing each accepted record as the pcap writer writes it
   * (nanosecond timestamps, the data cut to the verdict) to [out, outEnd);
   * it stops before a record that would not fit (`full` is then 1). Returns
   * where the written records end, or -1 at a record the writer refuses
   * (wire length below the kept length, more than 262144 bytes kept, seconds
   * past 32 bits), `at` then being that record. `fracNs`: nanoseconds per
   * unit of the records' fraction (1000 for microseconds, 1).
   */
  records(at: number, end: number, out: number, outEnd: number, limit: number, fracNs: number): number;
  /**
   * `records` for pcapng: consecutive enhanced packet blocks of [at, end)
   * from interfaces below `ifaces` (all of them with the timestamp unit
   * `nsPerTick` nanoseconds), whole and well formed; it stops at any other
   * block, or one it would have to check further, for the caller to read.
   */
  epbs(at: number, end: number, out: number, outEnd: number, ifaces: number, nsPerTick: number): number;
  /** whether the last records stopped for want of room */
  readonly full: WebAssembly.Global;
  /** how many records the last records wrote */
  readonly accepted: WebAssembly.Global;
  /** where the last scan stopped */
  readonly at: WebAssembly.Global;
  /** how many records it took */
  readonly packets: WebAssembly.Global;
  /** how many captured bytes those records held */
  readonly bytes: WebAssembly.Global;
}

// locals of filter: the parameters s and n, then A, X, o and M[0..15]
const S = 0;
const N = 1;
const A = 2;
const X = 3;
const O = 4;
const M0 = 5;

/**
 * The program as a module over `memory`, or undefined when fastPathRefusal
 * refuses it. `le`: the byte order of the pcap records `scan` reads.
 */
export function compileClassicWasm(prog: readonly SockFilter[], memory: WebAssembly.Memory, le: boolean, neg: NegativeOffset): ClassicWasm | undefined {
  if (fastPathRefusal(prog) !== undefined) return undefined;
  const bytes = encodeModule({
    types: [
      { params: [T.i32, T.i32, T.i32, T.i32], results: [T.i32] },
      { params: [T.i32, T.i32], results: [T.i32] },
      { params: [T.i32, T.i32, T.i32, T.i32, T.i32], results: [T.i32] },
      { params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32], results: [T.i32] },
    ],
    funcImports: [{ module: 'm', name: 'neg', type: 0 }],
    memoryImport: { module: 'm', name: 'mem', minPages: 1 },
    globals: [{ type: T.i32, init: 0 }, { type: T.i32, init: 0 }, { type: T.i32, init: 0 }, { type: T.i32, init: 0 }, { type: T.i32, init: 0 }],
    funcs: [
      { type: 1, locals: [[3 + 16, T.i32]], body: filterBody(prog) },
      { type: 2, locals: [[4, T.i32]], body: scanBody(le) },
      { type: 3, locals: [[6, T.i32], [2, T.i64]], body: recordsBody(le) },
      { type: 3, locals: [[6, T.i32], [2, T.i64]], body: epbsBody(le) },
    ],
    exports: [
      { name: 'filter', func: 1 }, { name: 'scan', func: 2 }, { name: 'records', func: 3 }, { name: 'epbs', func: 4 },
      { name: 'at', global: 0 }, { name: 'packets', global: 1 }, { name: 'bytes', global: 2 }, { name: 'full', global: 3 }, { name: 'accepted', global: 4 },
    ],
  });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { m: { mem: memory, neg } });
  return inst.exports as unknown as ClassicWasm;
}

/** A big-endian u32 from the little-endian one on the stack (WebAssembly has no byte swap). */
function bswap32(e: Emitter, tmp: number): void {
  // (x rotl 8) & 0x00ff00ff | (x rotr 8) & 0xff00ff00
  e.tee(tmp).i32(8).op(OP.i32_rotl).i32(0x00ff00ff).op(OP.i32_and);
  e.get(tmp).i32(8).op(OP.i32_rotr).i32(0xff00ff00 | 0).op(OP.i32_and).op(OP.i32_or);
}

/** `if (cond on the stack) return 0` */
function returnZeroIf(e: Emitter): void {
  e.op(OP.if).byte(VOID).i32(0).op(OP.return).op(OP.end);
}

/** A = the big-endian value of `size` bytes at address (on the stack) + offset. */
function loadBe(e: Emitter, size: number, offset: number): void {
  if (size === 1) e.mem(OP.i32_load8_u, offset);
  else if (size === 2) {
    e.mem(OP.i32_load16_u, offset).tee(A).i32(8).op(OP.i32_shl).get(A).i32(8).op(OP.i32_shr_u).op(OP.i32_or).i32(0xffff).op(OP.i32_and);
  } else {
    e.mem(OP.i32_load, offset);
    bswap32(e, A);
  }
}

function sizeOf(code: number): number {
  const size = BPF_SIZE(code);
  return size === BPF_W ? 4 : size === BPF_H ? 2 : 1;
}

/**
 * dst = P[k:size] for a constant k (or return 0): k >= 0 directly; a
 * negative k through the import.
 */
function loadAbs(e: Emitter, dst: number, size: number, k: number, msh = false): void {
  if (k >= 0) {
    // n < k + size, unsigned: k + size < 2^32
    e.get(N).i32((k + size) | 0).op(OP.i32_lt_u);
    returnZeroIf(e);
    e.get(S);
    loadBe(e, size, k);
  } else {
    e.get(S).get(N).i32(k).i32(size).op(OP.call).u32(0).tee(O).i32(0).op(OP.i32_lt_s);
    returnZeroIf(e);
    e.get(S).get(O).op(OP.i32_add);
    loadBe(e, size, 0);
  }
  // MSH: X = (P[k] & 0xf) << 2
  if (msh) e.i32(15).op(OP.i32_and).i32(2).op(OP.i32_shl);
  e.set(dst);
}

function filterBody(prog: readonly SockFilter[]): Emitter {
  const e = new Emitter();
  const targets = new Set<number>();
  prog.forEach((f, i) => {
    if (f.code === (BPF_JMP | BPF_JA)) targets.add(i + 1 + f.k);
    else if (BPF_CLASS(f.code) === BPF_JMP) {
      targets.add(i + 1 + f.jt);
      targets.add(i + 1 + f.jf);
    }
  });
  // open blocks, outermost (the furthest target) first: open[open.length - 1] is the innermost
  const open = [...targets].sort((a, b) => b - a);
  for (let j = 0; j < open.length; j++) e.op(OP.block).byte(VOID);
  const br = (t: number, i: number): void => {
    if (t === i + 1) return;
    e.op(OP.br).u32(open.length - 1 - open.lastIndexOf(t));
  };
  const brIf = (t: number): void => {
    e.op(OP.br_if).u32(open.length - 1 - open.lastIndexOf(t));
  };
  prog.forEach((f, i) => {
    while (open.length > 0 && open[open.length - 1] === i) {
      e.op(OP.end);
      open.pop();
    }
    insn(e, f, i, br, brIf);
  });
  // the last instruction is a ret (the checker's rule): nothing falls off the end
  e.op(OP.unreachable);
  return e;
}

function insn(e: Emitter, f: SockFilter, i: number, br: (t: number, i: number) => void, brIf: (t: number) => void): void {
  const code = f.code;
  const k = f.k | 0;
  switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
      if (f.k >= SKF_AD_OFF >>> 0) {
        // the conversion takes only A ^= X among the ancillary loads (fastPathRefusal checked)
        if (f.k - (SKF_AD_OFF >>> 0) !== SKF_AD.ALU_XOR_X) throw new InternalError(`insn ${i}: ancillary load past the conversion`);
        e.get(A).get(X).op(OP.i32_xor).set(A);
        return;
      }
      loadAbs(e, A, sizeOf(code), k);
      return;
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND: {
      const size = sizeOf(code);
      // o = X + k in 32-bit int arithmetic (the kernel's `int off`); negative: the import
      e.get(X).i32(k).op(OP.i32_add).tee(O).i32(0).op(OP.i32_lt_s);
      e.op(OP.if).byte(VOID);
      e.get(S).get(N).get(O).i32(size).op(OP.call).u32(0).tee(O).i32(0).op(OP.i32_lt_s);
      returnZeroIf(e);
      e.op(OP.else);
      // o + size > n, unsigned: o < 2^31
      e.get(O).i32(size).op(OP.i32_add).get(N).op(OP.i32_gt_u);
      returnZeroIf(e);
      e.op(OP.end);
      e.get(S).get(O).op(OP.i32_add);
      loadBe(e, size, 0);
      e.set(A);
      return;
    }
    case BPF_LDX | BPF_B | BPF_MSH:
      loadAbs(e, X, 1, k, true);
      return;
    case BPF_LD | BPF_W | BPF_LEN:
      e.get(N).set(A);
      return;
    case BPF_LDX | BPF_W | BPF_LEN:
      e.get(N).set(X);
      return;
    case BPF_LD | BPF_IMM:
      e.i32(k).set(A);
      return;
    case BPF_LDX | BPF_IMM:
      e.i32(k).set(X);
      return;
    case BPF_LD | BPF_MEM:
      e.get(M0 + f.k).set(A);
      return;
    case BPF_LDX | BPF_MEM:
      e.get(M0 + f.k).set(X);
      return;
    case BPF_ST:
      e.get(A).set(M0 + f.k);
      return;
    case BPF_STX:
      e.get(X).set(M0 + f.k);
      return;
    case BPF_MISC | BPF_TAX:
      e.get(A).set(X);
      return;
    case BPF_MISC | BPF_TXA:
      e.get(X).set(A);
      return;
    case BPF_RET | BPF_K:
      e.i32(k).op(OP.return);
      return;
    case BPF_RET | BPF_A:
      e.get(A).op(OP.return);
      return;
    case BPF_ALU | BPF_NEG:
      e.i32(0).get(A).op(OP.i32_sub).set(A);
      return;
    case BPF_JMP | BPF_JA:
      br(i + 1 + f.k, i);
      return;
    default:
      break;
  }
  const src = (): void => {
    if (BPF_SRC(code) === BPF_K) e.i32(k);
    else e.get(X);
  };
  if (BPF_CLASS(code) === BPF_ALU) {
    const op = BPF_OP(code);
    // classic division by a zero X returns 0 (a zero k is refused by the checker)
    if ((op === BPF_DIV || op === BPF_MOD) && BPF_SRC(code) !== BPF_K) {
      e.get(X).op(OP.i32_eqz);
      returnZeroIf(e);
    }
    const wasmOp = ALU_OPS.get(op);
    if (wasmOp === undefined) throw new InternalError(`insn ${i}: ALU op 0x${op.toString(16)} past the conversion`);
    e.get(A);
    src();
    e.op(wasmOp).set(A);
    return;
  }
  if (BPF_CLASS(code) === BPF_JMP) {
    const t = i + 1 + f.jt;
    const fl = i + 1 + f.jf;
    if (t === fl) {
      br(t, i);
      return;
    }
    e.get(A);
    src();
    switch (BPF_OP(code)) {
      case BPF_JEQ: e.op(OP.i32_eq); break;
      case BPF_JGT: e.op(OP.i32_gt_u); break;
      case BPF_JGE: e.op(OP.i32_ge_u); break;
      case BPF_JSET: e.op(OP.i32_and); break;
      default: throw new InternalError(`insn ${i}: jump 0x${code.toString(16)} past the conversion`);
    }
    if (t === i + 1) {
      // fall through when true: jump to jf when false
      e.op(OP.i32_eqz);
      brIf(fl);
    } else {
      brIf(t);
      br(fl, i);
    }
    return;
  }
  throw new InternalError(`insn ${i}: opcode 0x${code.toString(16)} past the conversion`);
}

/** Classic ALU operations as WebAssembly's (the shifts mask their count to 5 bits, as the runtime's). */
const ALU_OPS = new Map<number, number>([
  [BPF_ADD, OP.i32_add], [BPF_SUB, OP.i32_sub], [BPF_MUL, OP.i32_mul], [BPF_DIV, OP.i32_div_u], [BPF_MOD, OP.i32_rem_u],
  [BPF_AND, OP.i32_and], [BPF_OR, OP.i32_or], [BPF_XOR, OP.i32_xor], [BPF_LSH, OP.i32_shl], [BPF_RSH, OP.i32_shr_u],
]);

// scan's locals: the parameters, then incl, s, verdict, packets
const P_AT = 0;
const P_END = 1;
const P_OUT = 2;
const P_OUT_END = 3;
const P_LIMIT = 4;
const L_INCL = 5;
const L_S = 6;
const L_V = 7;
const L_PACKETS = 8;
const G_AT = 0;
const G_PACKETS = 1;
const G_BYTES = 2;

/** The record loop over a chunk of a classic pcap file (see the file's comment). */
function scanBody(le: boolean): Emitter {
  const e = new Emitter();
  e.i32(0).gset(G_BYTES);
  e.op(OP.block).byte(VOID);
  e.op(OP.loop).byte(VOID);
  // a whole record header: at + 16 <= end
  e.get(P_AT).i32(16).op(OP.i32_add).get(P_END).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(P_AT).mem(OP.i32_load, 8);
  if (!le) bswap32(e, L_INCL);
  e.tee(L_INCL).get(P_LIMIT).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  // whole data: s + incl <= end (no wrap: both below 2^31)
  e.get(P_AT).i32(16).op(OP.i32_add).tee(L_S).get(L_INCL).op(OP.i32_add).get(P_END).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(L_S).get(L_INCL).op(OP.call).u32(1).set(L_V);
  e.get(L_PACKETS).i32(1).op(OP.i32_add).set(L_PACKETS);
  e.gget(G_BYTES).get(L_INCL).op(OP.i32_add).gset(G_BYTES);
  e.get(L_S).get(L_INCL).op(OP.i32_add).set(P_AT);
  e.get(L_V).op(OP.if).byte(VOID);
  e.get(P_OUT).get(L_S).mem(OP.i32_store, 0);
  e.get(P_OUT).get(L_V).mem(OP.i32_store, 4);
  e.get(P_OUT).get(L_PACKETS).mem(OP.i32_store, 8);
  e.get(P_OUT).i32(12).op(OP.i32_add).tee(P_OUT).get(P_OUT_END).op(OP.i32_ge_u).op(OP.br_if).u32(2);
  e.op(OP.end);
  e.op(OP.br).u32(0);
  e.op(OP.end);
  e.op(OP.end);
  e.get(P_AT).gset(G_AT);
  e.get(L_PACKETS).gset(G_PACKETS);
  // where the accepted records written end
  e.get(P_OUT);
  return e;
}

// records' locals: the parameters (at, end, out, outEnd, limit, fracNs), then incl, s, verdict, packets, keep, orig, and sec, ns as i64
const R_AT = 0;
const R_END = 1;
const R_OUT = 2;
const R_OUT_END = 3;
const R_LIMIT = 4;
const R_FRAC = 5;
const R_INCL = 6;
const R_S = 7;
const R_V = 8;
const R_PACKETS = 9;
const R_KEEP = 10;
const R_ORIG = 11;
const R_SEC = 12;
const R_NS = 13;
const G_FULL = 3;
const G_ACCEPTED = 4;
/** PcapWriter's snaplen: a kept length above it is the writer's to cut, not this loop's. */
const WRITE_SNAPLEN = 262144;

/** The record loop writing pcap records (see ClassicWasm.records). */
function recordsBody(le: boolean): Emitter {
  const e = new Emitter();
  const header = (off: number, tmp: number): void => {
    e.get(R_AT).mem(OP.i32_load, off);
    if (!le) bswap32(e, tmp);
  };
  e.i32(0).gset(G_BYTES);
  e.i32(0).gset(G_FULL);
  e.i32(0).gset(G_ACCEPTED);
  // block $refuse { block $stop { loop $next { ... } } ... return out } ... return -1
  e.op(OP.block).byte(VOID);
  e.op(OP.block).byte(VOID);
  e.op(OP.loop).byte(VOID);
  // depths inside the loop: 0 $next, 1 $stop, 2 $refuse
  e.get(R_AT).i32(16).op(OP.i32_add).get(R_END).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  header(8, R_INCL);
  e.tee(R_INCL).get(R_LIMIT).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(R_AT).i32(16).op(OP.i32_add).tee(R_S).get(R_INCL).op(OP.i32_add).get(R_END).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(R_S).get(R_INCL).op(OP.call).u32(1).tee(R_V);
  e.op(OP.if).byte(VOID);
  // inside the if: 0 if, 1 $next, 2 $stop, 3 $refuse
  // keep = min(verdict, incl), unsigned
  e.get(R_V).get(R_INCL).get(R_V).get(R_INCL).op(OP.i32_lt_u).op(OP.select).set(R_KEEP);
  header(12, R_ORIG);
  e.tee(R_ORIG).get(R_KEEP).op(OP.i32_lt_u).op(OP.br_if).u32(3);
  e.get(R_KEEP).i32(WRITE_SNAPLEN).op(OP.i32_gt_u).op(OP.br_if).u32(3);
  // no room: stop before this record (the filter runs again on it, to the same verdict)
  e.get(R_OUT).i32(16).op(OP.i32_add).get(R_KEEP).op(OP.i32_add).get(R_OUT_END).op(OP.i32_gt_u);
  e.op(OP.if).byte(VOID).i32(1).gset(G_FULL).op(OP.br).u32(3).op(OP.end);
  // the reader's sec * 1e9 + frac * unit, split again into seconds and nanoseconds
  header(0, R_V);
  e.op(OP.i64_extend_i32_u).set(R_SEC);
  header(4, R_V);
  e.op(OP.i64_extend_i32_u).get(R_FRAC).op(OP.i64_extend_i32_u).op(OP.i64_mul).set(R_NS);
  e.get(R_SEC).get(R_NS).i64(1_000_000_000).op(OP.i64_div_u).op(OP.i64_add).tee(R_SEC);
  e.i64(0xffffffff).op(OP.i64_gt_u).op(OP.br_if).u32(3);
  e.get(R_NS).i64(1_000_000_000).op(OP.i64_rem_u).set(R_NS);
  e.get(R_OUT).get(R_SEC).op(OP.i32_wrap_i64).mem(OP.i32_store, 0);
  e.get(R_OUT).get(R_NS).op(OP.i32_wrap_i64).mem(OP.i32_store, 4);
  e.get(R_OUT).get(R_KEEP).mem(OP.i32_store, 8);
  e.get(R_OUT).get(R_ORIG).mem(OP.i32_store, 12);
  e.get(R_OUT).i32(16).op(OP.i32_add).get(R_S).get(R_KEEP).copy();
  e.get(R_OUT).i32(16).op(OP.i32_add).get(R_KEEP).op(OP.i32_add).set(R_OUT);
  e.gget(G_ACCEPTED).i32(1).op(OP.i32_add).gset(G_ACCEPTED);
  e.op(OP.end);
  e.get(R_PACKETS).i32(1).op(OP.i32_add).set(R_PACKETS);
  e.gget(G_BYTES).get(R_INCL).op(OP.i32_add).gset(G_BYTES);
  e.get(R_S).get(R_INCL).op(OP.i32_add).set(R_AT);
  e.op(OP.br).u32(0);
  e.op(OP.end);
  e.op(OP.end);
  // $stop: the end of the chunk, a record over the limit, or no room
  e.get(R_AT).gset(G_AT);
  e.get(R_PACKETS).gset(G_PACKETS);
  e.get(R_OUT).op(OP.return);
  e.op(OP.end);
  // $refuse: a record the writer refuses, at R_AT
  e.get(R_AT).gset(G_AT);
  e.get(R_PACKETS).gset(G_PACKETS);
  e.i32(-1);
  return e;
}

// epbs' locals: the parameters (at, end, out, outEnd, ifaces, nsPerTick), then len, s, verdict/scratch, cap, keep, orig, and ticks, sec as i64
const E_AT = 0;
const E_END = 1;
const E_OUT = 2;
const E_OUT_END = 3;
const E_IFACES = 4;
const E_NS_PER_TICK = 5;
const E_LEN = 6;
const E_S = 7;
const E_V = 8;
const E_CAP = 9;
const E_KEEP = 10;
const E_ORIG = 11;
const E_TICKS = 12;
const E_SEC = 13;

/** The enhanced-packet-block loop writing pcap records (see ClassicWasm.epbs). */
function epbsBody(le: boolean): Emitter {
  const e = new Emitter();
  /** the u32 at at + off, in the section's byte order */
  const field = (base: number, off: number): void => {
    e.get(base).mem(OP.i32_load, off);
    if (!le) bswap32(e, E_V);
  };
  e.i32(0).gset(G_BYTES);
  e.i32(0).gset(G_FULL);
  e.i32(0).gset(G_ACCEPTED);
  e.i32(0).gset(G_PACKETS);
  e.op(OP.block).byte(VOID);
  e.op(OP.block).byte(VOID);
  e.op(OP.loop).byte(VOID);
  // depths in the loop: 0 $next, 1 $stop, 2 $refuse
  // the smallest block whole in the chunk, of type 6
  e.get(E_AT).i32(32).op(OP.i32_add).get(E_END).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  field(E_AT, 0);
  e.i32(6).op(OP.i32_ne).op(OP.br_if).u32(1);
  // a length of at least 32, a multiple of 4, within the chunk, repeated at the block's end
  field(E_AT, 4);
  e.tee(E_LEN).i32(32).op(OP.i32_lt_u).op(OP.br_if).u32(1);
  e.get(E_LEN).i32(3).op(OP.i32_and).op(OP.br_if).u32(1);
  e.get(E_LEN).get(E_END).get(E_AT).op(OP.i32_sub).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(E_AT).get(E_LEN).op(OP.i32_add).i32(4).op(OP.i32_sub).set(E_S);
  field(E_S, 0);
  e.get(E_LEN).op(OP.i32_ne).op(OP.br_if).u32(1);
  // a declared interface, and the captured length within the block
  field(E_AT, 8);
  e.get(E_IFACES).op(OP.i32_ge_u).op(OP.br_if).u32(1);
  field(E_AT, 20);
  e.tee(E_CAP).get(E_LEN).i32(32).op(OP.i32_sub).op(OP.i32_gt_u).op(OP.br_if).u32(1);
  e.get(E_AT).i32(28).op(OP.i32_add).tee(E_S).get(E_CAP).op(OP.call).u32(1).tee(E_V);
  e.op(OP.if).byte(VOID);
  // inside: 0 if, 1 $next, 2 $stop, 3 $refuse
  e.get(E_V).get(E_CAP).get(E_V).get(E_CAP).op(OP.i32_lt_u).op(OP.select).set(E_KEEP);
  field(E_AT, 24);
  e.tee(E_ORIG).get(E_KEEP).op(OP.i32_lt_u).op(OP.br_if).u32(3);
  e.get(E_KEEP).i32(WRITE_SNAPLEN).op(OP.i32_gt_u).op(OP.br_if).u32(3);
  e.get(E_OUT).i32(16).op(OP.i32_add).get(E_KEEP).op(OP.i32_add).get(E_OUT_END).op(OP.i32_gt_u);
  e.op(OP.if).byte(VOID).i32(1).gset(G_FULL).op(OP.br).u32(3).op(OP.end);
  // ticks = high << 32 | low; seconds = ticks / (1e9 / nsPerTick), nanoseconds the rest times nsPerTick
  field(E_AT, 12);
  e.op(OP.i64_extend_i32_u).i64(32).op(OP.i64_shl);
  field(E_AT, 16);
  e.op(OP.i64_extend_i32_u).op(OP.i64_or).set(E_TICKS);
  e.get(E_TICKS).i64(1_000_000_000).get(E_NS_PER_TICK).op(OP.i64_extend_i32_u).op(OP.i64_div_u).op(OP.i64_div_u).tee(E_SEC);
  e.i64(0xffffffff).op(OP.i64_gt_u).op(OP.br_if).u32(3);
  e.get(E_OUT).get(E_SEC).op(OP.i32_wrap_i64).mem(OP.i32_store, 0);
  e.get(E_OUT).get(E_TICKS).i64(1_000_000_000).get(E_NS_PER_TICK).op(OP.i64_extend_i32_u).op(OP.i64_div_u).op(OP.i64_rem_u);
  e.get(E_NS_PER_TICK).op(OP.i64_extend_i32_u).op(OP.i64_mul).op(OP.i32_wrap_i64).mem(OP.i32_store, 4);
  e.get(E_OUT).get(E_KEEP).mem(OP.i32_store, 8);
  e.get(E_OUT).get(E_ORIG).mem(OP.i32_store, 12);
  e.get(E_OUT).i32(16).op(OP.i32_add).get(E_S).get(E_KEEP).copy();
  e.get(E_OUT).i32(16).op(OP.i32_add).get(E_KEEP).op(OP.i32_add).set(E_OUT);
  e.gget(G_ACCEPTED).i32(1).op(OP.i32_add).gset(G_ACCEPTED);
  e.op(OP.end);
  e.gget(G_PACKETS).i32(1).op(OP.i32_add).gset(G_PACKETS);
  e.gget(G_BYTES).get(E_CAP).op(OP.i32_add).gset(G_BYTES);
  e.get(E_AT).get(E_LEN).op(OP.i32_add).set(E_AT);
  e.op(OP.br).u32(0);
  e.op(OP.end);
  e.op(OP.end);
  e.get(E_AT).gset(G_AT);
  e.get(E_OUT).op(OP.return);
  e.op(OP.end);
  e.get(E_AT).gset(G_AT);
  e.i32(-1);
  return e;
}
