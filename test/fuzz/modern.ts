/**
 * The soundness fuzzer's modern mode (issue 16, point 8): a generator of
 * programs for the modern profile, aimed at what a verifier with ranges,
 * loops and calls must get right, and the target (profile, program type,
 * maps) soundness.ts runs them against with its oracles: every accepted
 * program runs fault-free and terminating in the checked interpreter,
 * executes only instructions the verifier visited, and gives the same
 * verdicts, stacks and maps on every engine.
 *
 * The grammar, block by block (each leaves r6 = context, r7-r9 scalars):
 *   - scalar ranges: an unknown scalar (the context's len, a packet byte by
 *     LD_ABS, a map value, a helper's result) bounded by a mask or by
 *     comparisons (JMP and JMP32, every condition, the access on either
 *     side, constant or register operands, signed and unsigned), then a
 *     variable offset from it into a map value or the stack; the bound is
 *     right most of the time and off by one (or a JMP32 that leaves the
 *     upper half unbounded, or a signed check without its lower half) the
 *     rest, so both verdicts are common;
 *   - range traps: a bounded scalar compared again, with an unsafe
 *     instruction on the side the first bound rules out, so a verifier
 *     that narrows wrongly either faults or runs code it never visited;
 *   - spills and fills of constants and of bounded scalars (8-, 4-byte and
 *     mismatched sizes) used as offsets after the fill;
 *   - pointer arithmetic with bounded, unbounded and negative scalars, and
 *     operations the kernel forbids on pointers;
 *   - bounded loops (counted, with a break, some over a map value, some
 *     that never terminate or run one index too far);
 *   - bpf-to-bpf calls with r1-r5 arguments, r0 returned, stack pointers
 *     passed down, callees that read their caller's stack, look up maps,
 *     call again, or misuse registers a call clobbers;
 *   - lookups in the modern map types (percpu_array, lru_hash,
 *     percpu_hash) with value accesses;
 *   - three paths joining before a stack store, one of them copying the
 *     offset from another register right before it (precision carried back
 *     from a pruned state through the copy, pruneJoin; with `joins`);
 *   - global functions (`globals`: func info with global linkage, each
 *     function verified on its own from its prototype): scalar, context and
 *     memory arguments (nullable or `arg:nonnull`, 4 to 64 bytes) given
 *     right or wrong (a short stack buffer, NULL, a modified context, a
 *     pointer for a number), bodies that check or forget NULL, reach past
 *     the argument's size, write the caller's stack (which then holds no
 *     pointer it spilled there), call another global function or return a
 *     pointer; the signature is the function's first instruction
 *     (`r0 = 0x5a......`, see funcInfoOf), so a shrunk program keeps it;
 *   - packet pointers (`packets`: an XDP program, data/data_end from the
 *     context, ranges from comparisons in both directions), only where the
 *     runtime has the XDP program type, and bpf_xdp_load_bytes /
 *     bpf_xdp_store_bytes at offsets inside the frame and past it;
 *   - context accesses (`tc`: a tc classifier): loads of every __sk_buff
 *     field at every size and offset inside it (some refused), stores of
 *     boundary values (0xffff, 0x10003, -1...) to the fields whose stores
 *     the load rewrites (queue_mapping, tc_index, tc_classid) and to the
 *     others (mark, priority, cb[] at every size, tstamp), read back at
 *     every size; one store reached through the context on one path and the
 *     stack on another (refused: the kernel's 'same insn cannot be used
 *     with different pointers').
 */

import type { Instruction } from '../../src/isa/instruction.js';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_B, BPF_DIV, BPF_DW, BPF_H, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE,
  BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_W, BPF_XOR,
  swapJmpOperands,
} from '../../src/isa/opcodes.js';
import {
  BPF_ALU32_IMM, BPF_ALU32_REG, BPF_ALU64_IMM, BPF_ALU64_REG, BPF_ATOMIC_OP, BPF_CALL_REL, BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_JMP32_IMM, BPF_JMP32_REG,
  BPF_JMP_A, BPF_JMP_IMM, BPF_JMP_REG, BPF_LD_ABS, BPF_LD_IMM64_RAW, BPF_LD_MAP_FD, BPF_LDX_MEM, BPF_MOV32_REG, BPF_MOV64_IMM,
  BPF_MOV64_REG, BPF_ST_MEM, BPF_STX_MEM,
} from '../../src/isa/builders.js';
import { findProgType } from '../../src/progs/types.js';
import { funcProtoFor } from '../../src/progs/helpers.js';
import { PROFILE_MODERN } from '../../src/progs/profile.js';
import type { FuzzMap, FuzzTarget } from './soundness.js';
import type { FuncInfoEntry, GlobalArg } from '../../src/verifier/modern/func-info.js';

/**
 * The modern mode's maps (`map[fd:N]` is the Nth): the two of the 3.19 mode,
 * an array of 64-byte values for variable offsets and loops, and the new
 * types with u32 keys (dumpMaps walks them by key).
 */
export const MODERN_MAPS: readonly FuzzMap[] = [
  { map_type: 1, key_size: 4, value_size: 16, max_entries: 8 }, // hash
  { map_type: 2, key_size: 4, value_size: 16, max_entries: 4 }, // array
  { map_type: 2, key_size: 4, value_size: 64, max_entries: 4 }, // array, wide values
  { map_type: 6, key_size: 4, value_size: 16, max_entries: 4 }, // percpu_array
  { map_type: 9, key_size: 4, value_size: 16, max_entries: 4 }, // lru_hash
  { map_type: 5, key_size: 4, value_size: 16, max_entries: 4 }, // percpu_hash
];

/**
 * The maps with `innerMaps`: MODERN_MAPS, then an array of maps over the
 * 16-byte array (map[fd:6], the template at keys 0 and 2) and a hash of
 * maps over the 64-byte one (map[fd:7], at keys 1 and 3).
 */
export const INNER_MAPS: readonly FuzzMap[] = [
  ...MODERN_MAPS,
  { map_type: 12, key_size: 4, value_size: 4, max_entries: 4, inner: 1, slots: [0, 2] },
  { map_type: 13, key_size: 4, value_size: 4, max_entries: 4, inner: 2, slots: [1, 3] },
];

/** BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS and BPF_PROG_TYPE_XDP. */
const SOCKET_FILTER = 1;
const SCHED_CLS = 3;
const XDP = 6;

export interface ModernOptions {
  /** XDP programs with packet pointers (needs the XDP program type: modernTarget throws without it) */
  packets?: boolean;
  /** tc classifiers with context loads and stores (the accesses the load rewrites); not with `packets` */
  tc?: boolean;
  /**
   * loops that never end and that only the 1,000,000-instruction limit
   * refuses (each costs a verifier that whole walk: the host takes about
   * 0.3 s; left out of timed fuzz runs by default)
   */
  slowLoops?: boolean;
  /**
   * maps of maps (a lookup in the outer map, then in the inner one) and
   * bpf_for_each_map_elem with generated callbacks; apart from the default
   * target because the host wants BTF func info for a callback, so the
   * kernel differential would refuse them all
   */
  innerMaps?: boolean;
  /** global functions with func info (BPF_PROG_LOAD's func_info from funcInfoOf) */
  globals?: boolean;
  /**
   * pruneJoin blocks too (precision carried back from a pruned state); an
   * option so that the seeded corpora of the other modes keep their
   * programs (soundness-modern.test.ts pins their counts); the command
   * line's modern runs turn it on
   */
  joins?: boolean;
}

/** The top byte of a global function's signature instruction (`r0 = imm`, its first). */
const GLOBAL_MARK = 0x5a;
const GLOBAL_MEM_SIZES = [4, 8, 16, 64];
type ArgKind = 'scalar' | 'ctx' | 'mem';

/**
 * A global function's signature as an imm: bits 0-2 the argument count,
 * 3-8 each argument's kind (2 bits: scalar, ctx, mem), 9-11 each argument's
 * nonnull, 12-13 the memory arguments' size, 14 a void return, 24-31 the mark.
 */
function signature(kinds: readonly ArgKind[], nonnull: readonly boolean[], sizeIdx: number, voidRet: boolean): number {
  let imm = (GLOBAL_MARK << 24) | kinds.length | (sizeIdx << 12) | (voidRet ? 1 << 14 : 0);
  kinds.forEach((k, i) => {
    imm |= (k === 'scalar' ? 0 : k === 'ctx' ? 1 : 2) << (3 + 2 * i);
    if (nonnull[i]) imm |= 1 << (9 + i);
  });
  return imm;
}

/**
 * The func info of a program of the `globals` mode: one entry per
 * subprogram (the main program, then each call or callback target), global
 * where the subprogram starts with a signature instruction, static
 * otherwise; undefined when no subprogram has one (the program then loads
 * without func info, every callee static).
 */
export function funcInfoOf(insns: readonly Instruction[]): FuncInfoEntry[] | undefined {
  // instruction index to slot index: ld_imm64 takes two slots
  const slotOf: number[] = [];
  let slot = 0;
  for (const i of insns) {
    slotOf.push(slot);
    slot += i.code === 0x18 ? 2 : 1;
  }
  const insnAt = new Map<number, Instruction>(insns.map((x, k) => [slotOf[k]!, x]));
  const starts = new Set([0]);
  insns.forEach((x, k) => {
    if ((x.code === 0x85 && x.src === 1) || (x.code === 0x18 && x.src === 4)) starts.add(slotOf[k]! + x.imm + 1);
  });
  const sorted = [...starts].sort((a, b) => a - b);
  let any = false;
  const entries = sorted.map((at, k): FuncInfoEntry => {
    const first = insnAt.get(at);
    if (k === 0) return { insn: 0, name: 'main', linkage: 'global', args: [{ kind: 'ctx' }], returnsScalar: true };
    if (!first || first.code !== 0xb7 || first.dst !== 0 || (first.imm >>> 24) !== GLOBAL_MARK) return { insn: at, name: `static${k}`, linkage: 'static' };
    any = true;
    const imm = first.imm;
    const n = Math.min(imm & 7, 5);
    const size = GLOBAL_MEM_SIZES[(imm >> 12) & 3]!;
    const args: GlobalArg[] = [];
    for (let i = 0; i < n; i++) {
      const kind = (imm >> (3 + 2 * i)) & 3;
      args.push(kind === 0 ? { kind: 'scalar' } : kind === 1 ? { kind: 'ctx' } : { kind: 'mem', size, nullable: ((imm >> (9 + i)) & 1) === 0 });
    }
    return { insn: at, name: `global${k}`, linkage: 'global', args, returnsScalar: ((imm >> 14) & 1) === 0 };
  });
  return any ? entries : undefined;
}

/**
 * Whether the runtime has the XDP program type (the companion issue's), for
 * the packet-pointer mode. Only the row is asked for: once it exists the
 * mode runs, and fails loudly if the packet runner cannot run XDP yet,
 * rather than skipping in silence.
 */
export function hasXdp(): boolean {
  return findProgType(XDP) !== undefined;
}

/** The modern profile's fuzz target: socket filters, or XDP programs with packet pointers. */
export function modernTarget(options: ModernOptions = {}): FuzzTarget {
  if (options.packets && !hasXdp()) throw new Error('the XDP program type is not in this runtime: no packet-pointer mode');
  return {
    name: `modern${options.packets ? ' (xdp)' : options.tc ? ' (tc)' : ''}${options.globals ? ' (global functions)' : ''}${options.slowLoops ? ' with slow loops' : ''}${options.innerMaps ? ' with maps of maps and callbacks' : ''}${options.joins ? ' with prune joins' : ''}`,
    profile: 'modern',
    progType: options.packets ? XDP : options.tc ? SCHED_CLS : SOCKET_FILTER,
    maps: options.innerMaps ? INNER_MAPS : MODERN_MAPS,
    generate: (rnd) => randomModernProgram(rnd, options),
    ...(options.globals ? { funcInfo: funcInfoOf } : {}),
  };
}

/** The modern socket-filter target, shared so soundness.ts caches one verifying system for it. */
export const TARGET_MODERN: FuzzTarget = modernTarget();

// A small assembler: labels and jumps to them, local calls to subprograms by index.
type Item =
  | Instruction
  | { label: string }
  | { to: string; jmp: (off: number) => Instruction }
  | { call: number }
  /** ld_imm64 of a callback's address (BPF_PSEUDO_FUNC) into dst */
  | { func: number; dst: number };

const isInsn = (x: Item): x is Instruction => 'code' in x;

/** Lay out `main` then each subprogram, resolving labels (jumps) and subprogram indexes (calls). */
function assemble(main: Item[], subs: Item[][]): Instruction[] {
  const parts = [main, ...subs];
  const labels = new Map<string, number>();
  const subAt: number[] = [];
  let pos = 0;
  parts.forEach((part, k) => {
    if (k > 0) subAt.push(pos);
    for (const it of part) {
      if ('label' in it) labels.set(it.label, pos);
      else if (isInsn(it)) pos += it.code === 0x18 ? 2 : 1;
      else if ('func' in it) pos += 2;
      else pos += 1;
    }
  });
  const out: Instruction[] = [];
  pos = 0;
  for (const part of parts) {
    for (const it of part) {
      if ('label' in it) continue;
      if (isInsn(it)) {
        out.push(it);
        pos += it.code === 0x18 ? 2 : 1;
      } else if ('to' in it) {
        out.push(it.jmp(labels.get(it.to)! - pos - 1));
        pos++;
      } else if ('func' in it) {
        out.push(BPF_LD_IMM64_RAW(it.dst, 4, subAt[it.func]! - pos - 1));
        pos += 2;
      } else {
        out.push(BPF_CALL_REL(subAt[it.call]! - pos - 1));
        pos++;
      }
    }
  }
  return out;
}

const UNSIGNED_CONDS = [BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE];
const SIGNED_CONDS = [BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];
const ALL_CONDS = [BPF_JEQ, BPF_JNE, BPF_JSET, ...UNSIGNED_CONDS, ...SIGNED_CONDS];

/** The condition that holds exactly when `op` does not (for putting the access on the other side). */
function negate(op: number): number {
  switch (op) {
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JGE: return BPF_JLT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSLT: return BPF_JSGE;
    case BPF_JEQ: return BPF_JNE;
    default: return BPF_JEQ;
  }
}


const bytesOf = (sz: number): number => (sz === BPF_DW ? 8 : sz === BPF_W ? 4 : sz === BPF_H ? 2 : 1);

/**
 * A random program for the modern profile; `map[fd:N]` operands carry the
 * index N into MODERN_MAPS, replaced at load.
 */
export function randomModernProgram(rnd: () => number, options: ModernOptions = {}): Instruction[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const size = (): number => pick([BPF_DW, BPF_W, BPF_H, BPF_B]);
  const packets = options.packets === true;
  const tc = options.tc === true && !packets;
  const proto = funcProtoFor(packets ? 'xdp' : tc ? 'sched_cls' : 'socket_filter', PROFILE_MODERN);
  // helpers returning a plain scalar, where this runtime has them
  const scalarHelpers = [7 /* get_prandom_u32 */, 8 /* get_smp_processor_id */, 5 /* ktime_get_ns */].filter((id) => proto(id) !== undefined);
  let labelNo = 0;
  const label = (): string => `L${labelNo++}`;
  const subs: Item[][] = [];
  /** a jump to `to` built from `jmp(off)` */
  const jump = (to: string, jmp: (off: number) => Instruction): Item => ({ to, jmp });
  const goto = (to: string): Item => jump(to, (off) => BPF_JMP_A(off));

  /** d = an unknown scalar (r0-r5 may be clobbered) */
  const unknown = (d: number): Item[] => {
    const k = rnd();
    if (!packets && k < 0.35) return [BPF_LDX_MEM(BPF_W, d, 6, 0)]; // skb->len
    if (!packets && k < 0.55) return [BPF_LD_ABS(pick([BPF_B, BPF_H, BPF_W]), int(0, 60)), BPF_MOV64_REG(d, 0)];
    if (k < 0.7 && scalarHelpers.length > 0) return [BPF_EMIT_CALL(pick(scalarHelpers)), BPF_MOV64_REG(d, 0)];
    if (k < 0.85) {
      // a value from the wide array (or 0 when the lookup fails)
      const skip = label();
      return [
        BPF_ST_MEM(BPF_W, 10, -4, int(0, 4)), BPF_LD_MAP_FD(1, 2), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1),
        BPF_MOV64_IMM(d, 0), jump(skip, (off) => BPF_JMP_IMM(BPF_JEQ, 0, 0, off)), BPF_LDX_MEM(size(), d, 0, 8 * int(0, 7)), { label: skip },
      ];
    }
    return [BPF_MOV64_REG(d, pick([7, 8, 9]))];
  };

  /**
   * Bound d (a register other than r0 when `guarded` holds r0) to
   * [0, limit]: the items before the guarded code, and `end` where the
   * failing side goes. Mostly right; sometimes one too many, a JMP32 (which
   * bounds the low half only), a signed check without its lower half, or a
   * mask of limit + 1.
   */
  const bound = (d: number, limit: number, end: string): Item[] => {
    const sloppy = chance(0.15);
    const lim = sloppy ? limit + pick([1, 1, 2, 8, -1]) : limit;
    const k = rnd();
    if (k < 0.25) {
      // a mask: d & m is at most m; a power of two minus one, or the limit itself
      const p2 = 2 ** Math.floor(Math.log2(lim + 1)) - 1;
      const m = chance(0.5) ? p2 : lim;
      return [chance(0.85) ? BPF_ALU64_IMM(BPF_AND, d, m) : BPF_ALU32_IMM(BPF_AND, d, m)];
    }
    // JMP32 bounds the low half: enough after a 32-bit load, not after a 64-bit one
    const wide = chance(0.75);
    const J_IMM = wide ? BPF_JMP_IMM : BPF_JMP32_IMM;
    const J_REG = wide ? BPF_JMP_REG : BPF_JMP32_REG;
    const signed = chance(0.3);
    const items: Item[] = [];
    if (signed && (!sloppy || chance(0.5))) items.push(jump(end, (off) => J_IMM(BPF_JSLT, d, 0, off)));
    // the upper bound, the failing side jumping to `end` (d > lim fails)
    const op = signed ? pick([BPF_JSGT, BPF_JSGE]) : pick([BPF_JGT, BPF_JGE]);
    const k2 = op === BPF_JGT || op === BPF_JSGT ? lim : lim + 1;
    const form = rnd();
    if (form < 0.5) {
      items.push(jump(end, (off) => J_IMM(op, d, k2, off)));
    } else if (form < 0.75) {
      // the constant in a register, on the left: `if k < d goto end`
      items.push(BPF_MOV64_IMM(5, k2), jump(end, (off) => J_REG(swapJmpOperands(op), 5, d, off)));
    } else {
      // the passing side jumps over the failure: `if d <= lim goto ok; goto end; ok:`
      const ok = label();
      items.push(jump(ok, (off) => J_IMM(negate(op), d, k2, off)), goto(end), { label: ok });
    }
    if (!signed && chance(0.1)) items.unshift(jump(end, (off) => J_IMM(BPF_JSLT, d, 0, off)));
    return items;
  };

  /**
   * A lookup of a key in map m: r0 = the value or NULL, checked (mostly);
   * the NULL side jumps to `end`.
   */
  const lookup = (m: number, end: string, keyAt = -4): Item[] => {
    const items: Item[] = [
      BPF_ST_MEM(BPF_W, 10, keyAt, int(0, m === 0 ? 10 : 5)), BPF_LD_MAP_FD(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, keyAt), BPF_EMIT_CALL(1),
    ];
    if (chance(0.95)) items.push(jump(end, (off) => BPF_JMP_IMM(BPF_JEQ, 0, 0, off)));
    return items;
  };

  /** an access of `sz` at p + off: a load, a store of a scalar or an immediate, or an atomic add */
  const access = (p: number, sz: number, off: number): Instruction => {
    const k = rnd();
    if (k < 0.45) return BPF_LDX_MEM(sz, pick([3, 4]), p, off);
    if (k < 0.7) return BPF_STX_MEM(sz, p, pick([7, 8, 9]), off);
    if (k < 0.9) return BPF_ST_MEM(sz, p, off, int(-5, 300));
    return BPF_ATOMIC_OP(sz === BPF_DW ? BPF_DW : BPF_W, BPF_ADD, p, pick([7, 8, 9]), off);
  };

  /** a variable offset d into the value at r0 (map m), bounded by `bound` */
  const valueIndex = (): Item[] => {
    const m = chance(0.6) ? 2 : pick([0, 1, 3, 4, 5]);
    const vs = MODERN_MAPS[m]!.value_size;
    const end = label();
    const sz = size();
    const off = chance(0.7) ? 0 : bytesOf(sz) * int(0, 2);
    const limit = Math.max(0, vs - bytesOf(sz) - off);
    // the index in r3 or r4 (bound() keeps its register operand in r5)
    const idx = pick([3, 4]);
    const items: Item[] = [...unknown(7), ...lookup(m, end), BPF_MOV64_REG(idx, 7), ...bound(idx, limit, end)];
    // the kernel checks the alignment of map value accesses: a multiple of the size (mostly)
    if (chance(0.85)) items.push(BPF_ALU64_IMM(BPF_AND, idx, -bytesOf(sz)));
    if (chance(0.15)) items.push(BPF_ALU64_IMM(BPF_LSH, idx, pick([0, 1, 3]))); // scaled: in range only with a small limit
    if (chance(0.5)) items.push(BPF_ALU64_REG(BPF_ADD, 0, idx), access(0, sz, off));
    else items.push(BPF_ALU64_REG(BPF_ADD, idx, 0), access(idx, sz, off)); // scalar += pointer
    items.push({ label: end });
    return items;
  };

  /** a variable offset into the stack: r1 = r10 - 64 + d, d in [0, 64 - size] */
  const stackIndex = (): Item[] => {
    const end = label();
    const sz = chance(0.7) ? BPF_DW : size();
    const items: Item[] = [...unknown(7), BPF_MOV64_REG(3, 7)];
    // a variable-offset read needs every byte it may read initialised
    if (chance(0.85)) for (let o = -64; o < 0; o += 8) items.push(BPF_ST_MEM(BPF_DW, 10, o, o));
    items.push(...bound(3, 64 - bytesOf(sz), end));
    // stack accesses are always checked for alignment
    if (chance(0.9)) items.push(BPF_ALU64_IMM(BPF_AND, 3, -bytesOf(sz)));
    items.push(BPF_MOV64_REG(1, 10), BPF_ALU64_IMM(BPF_ADD, 1, -64), BPF_ALU64_REG(BPF_ADD, 1, 3));
    items.push(chance(0.6) ? BPF_STX_MEM(sz, 1, pick([7, 8]), 0) : BPF_LDX_MEM(sz, 4, 1, 0));
    items.push({ label: end });
    return items;
  };

  /** spill a constant or a bounded scalar, fill it (maybe with another size), use the fill as an offset into a value */
  const spillFill = (): Item[] => {
    const end = label();
    const slot = -8 * int(2, 6);
    const spillSz = chance(0.7) ? BPF_DW : pick([BPF_W, BPF_H, BPF_B]);
    const fillSz = chance(0.8) ? spillSz : size();
    const items: Item[] = [];
    if (chance(0.5)) {
      items.push(BPF_MOV64_IMM(3, chance(0.85) ? 8 * int(0, 7) : pick([60, 64, -8, 1000])));
    } else {
      items.push(...unknown(7), BPF_MOV64_REG(3, 7), ...bound(3, 56, end));
      if (chance(0.85)) items.push(BPF_ALU64_IMM(BPF_AND, 3, -8));
    }
    items.push(BPF_STX_MEM(spillSz, 10, 3, slot));
    if (chance(0.3)) items.push(BPF_MOV64_IMM(3, 0x7fff)); // the register is gone, only the slot knows
    items.push(...lookup(2, end, -4), BPF_LDX_MEM(fillSz, 4, 10, slot), BPF_ALU64_REG(BPF_ADD, 0, 4), access(0, BPF_DW, 0));
    items.push({ label: end });
    return items;
  };

  /** pointer arithmetic the kernel allows or refuses: unbounded, negative, forbidden ops, pointer - pointer */
  const pointerMath = (): Item[] => {
    const end = label();
    const items: Item[] = [...lookup(pick([1, 2]), end)];
    const k = rnd();
    if (k < 0.25) items.push(...unknown(7), BPF_MOV64_REG(3, 7), BPF_ALU64_REG(BPF_ADD, 0, 3), access(0, BPF_B, 0)); // unbounded (r7 may be known)
    else if (k < 0.4) items.push(BPF_MOV64_IMM(3, pick([-8, -1, 8, 16])), BPF_ALU64_REG(pick([BPF_ADD, BPF_SUB]), 0, 3), access(0, BPF_W, pick([0, 8, 16]))); // constant
    else if (k < 0.55) items.push(BPF_ALU64_IMM(pick([BPF_MUL, BPF_AND, BPF_OR, BPF_LSH, BPF_XOR, BPF_DIV]), 0, pick([1, 2, 8])), access(0, BPF_B, 0)); // forbidden
    else if (k < 0.65) items.push(BPF_ALU32_IMM(BPF_ADD, 0, 4), access(0, BPF_B, 0)); // 32-bit on a pointer
    else if (k < 0.8) items.push(BPF_MOV64_REG(3, 0), BPF_ALU64_IMM(BPF_ADD, 3, 8), BPF_ALU64_REG(BPF_SUB, 3, 0), BPF_MOV64_REG(pick([7, 8]), 3)); // pointer - pointer
    else items.push(BPF_MOV64_REG(1, 10), BPF_ALU64_REG(BPF_ADD, 1, pick([7, 8, 9])), BPF_LDX_MEM(BPF_DW, 3, 1, -8)); // stack + a scalar register
    items.push({ label: end });
    return items;
  };

  /**
   * A narrowing chain and a trap on the side it rules out: d in [lo, hi]
   * by two comparisons, then a comparison that only an off-by-one (or a
   * wrong narrowing) can take, guarding an unsafe access.
   */
  const rangeTrap = (): Item[] => {
    const end = label();
    const items: Item[] = [...unknown(7), BPF_MOV64_REG(3, 7)];
    const hi = pick([3, 15, 100, 255, 0x7fffffff]);
    const lo = chance(0.5) ? 0 : int(1, 3);
    const wide = chance(0.7);
    const J = wide ? BPF_JMP_IMM : BPF_JMP32_IMM;
    items.push(jump(end, (off) => J(pick([BPF_JGT, BPF_JSGT]), 3, hi, off)));
    if (lo > 0) items.push(jump(end, (off) => J(pick([BPF_JLT, BPF_JSLT]), 3, lo, off)));
    // the trap: mostly a test only a value outside [lo, hi] passes, else any
    // condition against an edge (often reachable: the kernel must refuse
    // then, or the trap be harmless)
    const [op, edge] = chance(0.7)
      ? pick([[BPF_JGT, hi], [BPF_JGE, hi + 1], [BPF_JLT, lo], [BPF_JEQ, hi + 1], [BPF_JSGT, hi], [BPF_JSLT, lo], [BPF_JSET, 0x80000000]] as const)
      : [pick(ALL_CONDS), pick([hi, hi + 1, lo, lo - 1, hi - 1])];
    const trap = label();
    const after = label();
    items.push(jump(trap, (off) => (chance(0.7) ? BPF_JMP_IMM : BPF_JMP32_IMM)(op, 3, edge, off)), goto(after), { label: trap });
    items.push(chance(0.6)
      ? pick([BPF_LDX_MEM(BPF_DW, 4, 8, 0) /* r8 is a scalar */, BPF_LDX_MEM(BPF_DW, 4, 10, 8) /* above the frame */])
      : BPF_MOV64_IMM(9, 0x1234)); // harmless: only the coverage oracle sees it
    items.push({ label: after }, { label: end });
    return items;
  };

  /**
   * A counted loop with a break; some over a value, some one index too far;
   * with `slowLoops` also endless ones (a step of 0 or -1, an `==` exit the
   * counter steps over), which the kernel refuses as `infinite loop
   * detected` when the state at the head repeats, else only at its
   * 1,000,000-instruction limit.
   */
  const loop = (): Item[] => {
    const end = label();
    const head = label();
    const out = label();
    const n = int(1, 12);
    const items: Item[] = [];
    const overValue = chance(0.4);
    if (overValue) items.push(...lookup(2, end), BPF_MOV64_REG(2, 0));
    const k = rnd();
    // an `==` exit is reached from a start at or below it with a step of 1
    const exact = k >= 0.8 && !options.slowLoops;
    items.push(BPF_MOV64_IMM(1, chance(0.9) || exact ? 0 : int(0, 3)), { label: head });
    const wide = chance(0.75);
    const J = wide ? BPF_JMP_IMM : BPF_JMP32_IMM;
    const lim = overValue ? (chance(0.85) ? 7 : 8) : n;
    if (k < 0.5) items.push(jump(out, (off) => J(BPF_JGE, 1, lim + (overValue ? 1 : 0), off)));
    else if (k < 0.8) items.push(jump(out, (off) => J(BPF_JGT, 1, lim - (overValue ? 0 : 1), off)));
    else items.push(jump(out, (off) => J(BPF_JEQ, 1, lim + (overValue ? 1 : 0), off))); // with step 2 from an odd start: endless
    if (overValue) items.push(BPF_MOV64_REG(3, 1), BPF_ALU64_IMM(BPF_LSH, 3, 3), BPF_MOV64_REG(4, 2), BPF_ALU64_REG(BPF_ADD, 4, 3), access(4, BPF_DW, 0));
    else items.push(BPF_ALU64_REG(pick([BPF_ADD, BPF_XOR]), 7, 1));
    if (chance(0.5)) items.push(jump(out, (off) => BPF_JMP_IMM(pick([BPF_JEQ, BPF_JGT]), 7, int(0, 40), off))); // break
    // steps that end every loop (2 overshoots an `==` exit: only with slowLoops, as 0 and -1)
    items.push(BPF_ALU64_IMM(BPF_ADD, 1, chance(0.85) ? 1 : pick(options.slowLoops ? [0, 2, -1] : exact ? [1] : [2, 3])), goto(head), { label: out }, { label: end });
    return items;
  };

  /** a subprogram: r1 a scalar, r2 a pointer to the caller's stack (8 bytes at least), r0 returned */
  const subprogram = (depth: number): number => {
    const body: Item[] = [];
    const end = label();
    const k = rnd();
    if (k < 0.2) body.push(BPF_MOV64_REG(0, 1), BPF_ALU64_IMM(pick([BPF_ADD, BPF_MUL, BPF_XOR]), 0, int(1, 9)));
    else if (k < 0.35) body.push(BPF_LDX_MEM(BPF_DW, 0, 2, 0)); // read the caller's stack
    else if (k < 0.45) body.push(BPF_STX_MEM(BPF_DW, 2, 1, 0), BPF_MOV64_IMM(0, 0)); // write it
    else if (k < 0.6) {
      // a lookup with the key on the caller's stack, r1 as the index into the value
      body.push(BPF_MOV64_REG(7, 1), BPF_MOV64_REG(8, 2), BPF_LD_MAP_FD(1, 2), BPF_MOV64_REG(2, 8), BPF_EMIT_CALL(1));
      const zero = label();
      const b = bound(7, 56, zero);
      body.push(jump(end, (off) => BPF_JMP_IMM(BPF_JEQ, 0, 0, off)), ...b, BPF_ALU64_IMM(BPF_AND, 7, -8), BPF_ALU64_REG(BPF_ADD, 0, 7), BPF_LDX_MEM(BPF_DW, 0, 0, 0));
      // the failing side returns 0, not the value pointer (a mask has no failing side: `zero` would be unreachable)
      if (b.some((it) => 'to' in it)) body.push(goto(end), { label: zero }, BPF_MOV64_IMM(0, 0));
    } else if (k < 0.7) body.push(BPF_ST_MEM(BPF_DW, 10, -8, int(0, 9)), BPF_STX_MEM(BPF_DW, 10, 1, -16), BPF_LDX_MEM(BPF_DW, 0, 10, chance(0.9) ? -16 : -24));
    else if (k < 0.8 && depth < 3) {
      // call down, passing our own stack
      const inner = subprogram(depth + 1);
      body.push(BPF_ST_MEM(BPF_DW, 10, -8, 7), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -8), { call: inner }, BPF_ALU64_REG(BPF_ADD, 0, chance(0.9) ? 0 : 1));
    } else if (k < 0.9) body.push(BPF_MOV64_REG(0, 1), BPF_ALU64_IMM(BPF_RSH, 0, int(0, 8)));
    else if (k < 0.94) body.push(BPF_MOV64_REG(0, pick([6, 7, 8, 9]))); // callee-saved registers start uninitialised
    else if (k < 0.97) body.push(BPF_MOV64_REG(1, 0)); // r0 unset
    else body.push(BPF_MOV64_REG(0, 2), BPF_ALU64_IMM(BPF_ADD, 0, 0)); // returns a pointer to the caller's stack
    // the NULL side of a lookup returns whatever r0 is (0)
    subs.push([...body, { label: end }, BPF_EXIT_INSN()]);
    return subs.length - 1;
  };

  const callBlock = (): Item[] => {
    const items: Item[] = [];
    const slot = -8 * int(1, 4);
    if (chance(0.95)) items.push(BPF_ST_MEM(BPF_DW, 10, slot, int(0, 4)));
    items.push(BPF_MOV64_REG(1, chance(0.6) ? 7 : 8));
    if (chance(0.3)) items.push(BPF_ALU64_IMM(BPF_AND, 1, 63));
    items.push(BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, slot), { call: subprogram(1) });
    const after = rnd();
    if (after < 0.9) items.push(BPF_MOV64_REG(pick([7, 8]), 0));
    else if (after < 0.95) items.push(BPF_MOV64_REG(7, pick([1, 2, 3]))); // clobbered by the call
    else items.push(BPF_LDX_MEM(BPF_DW, 7, 10, slot));
    return items;
  };

  /**
   * a global function (its signature its first instruction): arguments of
   * the kinds drawn, a body that uses them as their types allow, or not
   */
  const globalFunction = (depth: number): { sub: number; kinds: ArgKind[]; nonnull: boolean[]; size: number } => {
    const n = int(1, 3);
    const kinds: ArgKind[] = [];
    for (let i = 0; i < n; i++) kinds.push(pick(['scalar', 'ctx', 'mem', 'mem'] as const));
    const nonnull = kinds.map(() => chance(0.3));
    const sizeIdx = int(0, 3);
    const size = GLOBAL_MEM_SIZES[sizeIdx]!;
    const body: Item[] = [BPF_MOV64_IMM(0, signature(kinds, nonnull, sizeIdx, chance(0.03)))];
    const end = label();
    body.push(BPF_MOV64_IMM(0, 0));
    kinds.forEach((k, i) => {
      const r = i + 1;
      if (k === 'scalar') {
        if (chance(0.5)) body.push(BPF_ALU64_REG(BPF_ADD, 0, r));
        else if (chance(0.3)) body.push(BPF_MOV64_REG(0, r), BPF_ALU64_IMM(BPF_AND, 0, 7), BPF_ALU64_IMM(BPF_ADD, 0, 1)); // a scalar, bounded here
      } else if (k === 'ctx') {
        body.push(BPF_LDX_MEM(BPF_W, 5, r, chance(0.95) ? 0 : 2), BPF_ALU64_REG(BPF_ADD, 0, 5)); // skb->len (offset 2: misaligned, refused)
      } else {
        const skip = label();
        // a nullable pointer checked (most of the time), a nonnull one used as is
        if (!nonnull[i] && chance(0.9)) body.push(jump(skip, (off) => BPF_JMP_IMM(BPF_JEQ, r, 0, off)));
        const sz = size >= 8 ? pick([BPF_DW, BPF_W, BPF_B]) : pick([BPF_W, BPF_H, BPF_B]);
        const width = bytesOf(sz);
        const at = chance(0.9) ? width * int(0, size / width - 1) : size - width + pick([1, width]);
        if (chance(0.5)) body.push(BPF_LDX_MEM(sz, 5, r, at), BPF_ALU64_REG(BPF_ADD, 0, 5));
        else body.push(BPF_ST_MEM(sz, r, at, int(0, 99)));
        if (size === 64 && kinds.includes('scalar') && chance(0.5)) {
          // a variable offset from a scalar argument: bounded by the callee, or not
          const s = kinds.indexOf('scalar') + 1;
          body.push(BPF_MOV64_REG(5, s), BPF_ALU64_IMM(BPF_AND, 5, chance(0.9) ? 56 : 63), BPF_ALU64_REG(BPF_ADD, 5, r), BPF_LDX_MEM(BPF_DW, 5, 5, 0));
        }
        body.push({ label: skip });
      }
    });
    if (depth < 2 && chance(0.2)) {
      // a call to another global function, passing our own stack
      // (the callee's context argument, if it has one, is where globalCall takes a context from)
      if (kinds.includes('ctx')) body.push(BPF_MOV64_REG(6, kinds.indexOf('ctx') + 1));
      const g = globalCall(depth + 1);
      body.push(BPF_MOV64_REG(9, 0), ...g, BPF_ALU64_REG(BPF_ADD, 0, 9));
    }
    if (chance(0.03)) body.push(BPF_MOV64_REG(0, kinds.includes('ctx') ? kinds.indexOf('ctx') + 1 : 10)); // a pointer returned
    subs.push([...body, { label: end }, BPF_EXIT_INSN()]);
    return { sub: subs.length - 1, kinds, nonnull, size };
  };

  /**
   * the arguments of a global function set up in r1-r3 (right most of the
   * time), the call, r0 kept: numbers, the context, and for memory NULL, the
   * caller's stack (a fixed or a variable offset), a map value or a packet
   * pointer (XDP), the last two found first (r9 holds one; the call is
   * skipped, r0 = 0, where there is none)
   */
  const globalCall = (depth: number): Item[] => {
    const g = globalFunction(depth);
    const pre: Item[] = [];
    const items: Item[] = [];
    const after: Item[] = [];
    const skip = label();
    let r9 = false;
    // the caller's buffers: 72 bytes for each argument, fp-72*i down
    g.kinds.forEach((k, i) => {
      const r = i + 1;
      const wrong = chance(0.06);
      if (k === 'scalar') items.push(wrong ? BPF_MOV64_REG(r, 10) : chance(0.5) ? BPF_MOV64_IMM(r, int(0, 70)) : BPF_MOV64_REG(r, pick([7, 8, 9])));
      else if (k === 'ctx') {
        if (!wrong) items.push(BPF_MOV64_REG(r, 6));
        else items.push(...(chance(0.5) ? [BPF_MOV64_REG(r, 6), BPF_ALU64_IMM(BPF_ADD, r, 4)] : [BPF_MOV64_IMM(r, 0)]));
      } else {
        const q = rnd();
        const region = Math.ceil(g.size / 8) * 8;
        if (q < 0.12) items.push(BPF_MOV64_IMM(r, 0)); // NULL: refused where nonnull
        else if (q < 0.3 && !r9) {
          // a map value (64-byte values), null-checked before the call most of the time, at an offset or not
          r9 = true;
          pre.push(...lookup(2, skip));
          if (chance(0.3)) pre.push(BPF_ALU64_IMM(BPF_ADD, 0, pick([8, 32, 60])));
          pre.push(BPF_MOV64_REG(9, 0));
          items.push(BPF_MOV64_REG(r, 9));
        } else if (q < 0.45 && packets && !r9) {
          // a packet pointer with `size` bytes checked (or one fewer)
          r9 = true;
          pre.push(BPF_LDX_MEM(BPF_W, 4, 6, 0), BPF_LDX_MEM(BPF_W, 5, 6, 4), BPF_MOV64_REG(0, 4), BPF_ALU64_IMM(BPF_ADD, 0, chance(0.9) ? g.size : g.size - 1));
          pre.push(jump(skip, (off) => BPF_JMP_REG(BPF_JGT, 0, 5, off)), BPF_MOV64_REG(9, 4));
          items.push(BPF_MOV64_REG(r, 9));
        } else if (q < 0.6 && g.size <= 56) {
          // the stack at a variable offset: 0 or 8 into a buffer 8 bytes longer (or not)
          const slot = -(region + (wrong ? 0 : 8)) - 72 * i;
          for (let o = 0; o < region + 8; o += 8) if (slot + o < 0) items.push(BPF_ST_MEM(BPF_DW, 10, slot + o, int(0, 5)));
          items.push(BPF_MOV64_REG(5, pick([7, 8])), BPF_ALU64_IMM(BPF_AND, 5, 8), BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, slot), BPF_ALU64_REG(BPF_ADD, r, 5));
        } else {
          const buf = wrong ? Math.max(4, g.size / 2) : g.size;
          const slot = -(Math.ceil(buf / 8) * 8) - 72 * i;
          // sometimes a pointer spilled in the buffer first: the callee may overwrite it
          const spill = depth === 0 && chance(0.25) && buf >= 8;
          if (spill) items.push(BPF_STX_MEM(BPF_DW, 10, 6, slot));
          else for (let o = 0; o < buf; o += 8) items.push(BPF_ST_MEM(BPF_DW, 10, slot + o, int(0, 5)));
          items.push(BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, slot));
          if (spill) after.push(BPF_LDX_MEM(BPF_DW, 2, 10, slot), BPF_LDX_MEM(BPF_W, 2, 2, 0), BPF_ALU64_REG(BPF_ADD, 0, 2));
        }
      }
    });
    if (!r9) return [...items, { call: g.sub }, ...after];
    const done = label();
    return [...pre, ...items, { call: g.sub }, ...after, goto(done), { label: skip }, BPF_MOV64_IMM(0, 0), { label: done }, BPF_MOV64_IMM(9, 3)];
  };

  const globalBlock = (): Item[] => {
    const items = globalCall(0);
    items.push(BPF_MOV64_REG(pick([7, 8]), 0));
    if (chance(0.04)) items.push(BPF_MOV64_REG(7, pick([1, 2, 3]))); // clobbered by the call
    return items;
  };

  /** a lookup in one of the new map types and accesses to its value */
  const newMapLookup = (): Item[] => {
    const end = label();
    const m = pick([3, 4, 5]);
    const items: Item[] = [...lookup(m, end)];
    for (let i = int(1, 3); i > 0; i--) {
      const sz = size();
      items.push(access(0, sz, chance(0.9) ? bytesOf(sz) * int(0, 16 / bytesOf(sz) - 1) : pick([16, -4, 13])));
    }
    if (chance(0.3)) {
      // an update of the same key, from the stack
      items.push(BPF_ST_MEM(BPF_DW, 10, -24, 1), BPF_ST_MEM(BPF_DW, 10, -16, 2), BPF_LD_MAP_FD(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4));
      items.push(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -24), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(2));
    }
    items.push({ label: end });
    return items;
  };

  /**
   * a map of maps: the inner map at a key (some slots empty, a key past the
   * array), mostly null-checked, then an element of it (a constant key: an
   * array's in range needs no null check), and accesses in and past the
   * template's value
   */
  const innerLookup = (): Item[] => {
    const end = label();
    const outer = pick([6, 7]);
    const valueSize = outer === 6 ? 16 : 64;
    const items: Item[] = [BPF_ST_MEM(BPF_W, 10, -4, int(0, 4)), BPF_LD_MAP_FD(1, outer), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1)];
    if (chance(0.93)) items.push(jump(end, (off) => BPF_JMP_IMM(BPF_JEQ, 0, 0, off)));
    // the inner map: a map for the next lookup, nothing to read (or, rarely, read anyway / used as a value's map)
    if (chance(0.04)) items.push(BPF_LDX_MEM(BPF_W, 7, 0, 0));
    items.push(BPF_MOV64_REG(1, 0), BPF_ST_MEM(BPF_W, 10, -8, int(0, 4)), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -8), BPF_EMIT_CALL(1));
    if (chance(0.7)) items.push(jump(end, (off) => BPF_JMP_IMM(BPF_JEQ, 0, 0, off)));
    for (let i = int(1, 2); i > 0; i--) {
      const sz = size();
      items.push(access(0, sz, chance(0.9) ? bytesOf(sz) * int(0, valueSize / bytesOf(sz) - 1) : pick([valueSize, -4, valueSize - 3])));
    }
    items.push({ label: end });
    return items;
  };

  /** a callback of bpf_for_each_map_elem (r1 map, r2 key, r3 value, r4 the caller's 16 bytes): sums, value writes, a return */
  const eachCallback = (valueSize: number): number => {
    const body: Item[] = [];
    const k = rnd();
    // the caller's context: a running sum of keys (unbounded: widened between runs)
    body.push(BPF_LDX_MEM(BPF_DW, 5, 4, chance(0.95) ? 0 : 16), BPF_LDX_MEM(BPF_W, 0, 2, 0), BPF_ALU64_REG(BPF_ADD, 5, 0), BPF_STX_MEM(BPF_DW, 4, 5, 0));
    if (k < 0.4) {
      // the value: a write, in or past it
      const sz = size();
      body.push(access(3, sz, chance(0.9) ? bytesOf(sz) * int(0, valueSize / bytesOf(sz) - 1) : valueSize));
    } else if (k < 0.6) {
      // the sum as an index into the value, masked (or not)
      body.push(BPF_MOV64_REG(1, 5), BPF_ALU64_IMM(BPF_AND, 1, chance(0.9) ? valueSize - 8 : valueSize), BPF_ALU64_IMM(BPF_AND, 1, -8));
      body.push(BPF_ALU64_REG(BPF_ADD, 3, 1), BPF_STX_MEM(BPF_DW, 3, 0, 0));
    } else if (k < 0.7) body.push(BPF_STX_MEM(BPF_DW, 4, 0, 8)); // the key into the caller's second slot
    else if (k < 0.75) body.push(BPF_STX_MEM(BPF_W, 2, 0, 0)); // a key is read-only
    const ret = rnd();
    if (ret < 0.5) body.push(BPF_MOV64_IMM(0, 0));
    else if (ret < 0.8) body.push(BPF_ALU64_IMM(BPF_AND, 0, 1)); // stop at odd keys
    else if (ret < 0.95) body.push(BPF_MOV64_IMM(0, 1));
    else body.push(BPF_MOV64_IMM(0, 2)); // out of [0, 1]
    subs.push([...body, BPF_EXIT_INSN()]);
    return subs.length - 1;
  };

  /** bpf_for_each_map_elem over a hash or array map, with the caller's 16 bytes at fp-24 as the context */
  const forEach = (): Item[] => {
    const m = pick([0, 1, 2, 3]);
    const cb = eachCallback(m === 2 ? 64 : 16);
    const items: Item[] = [BPF_ST_MEM(BPF_DW, 10, -24, int(0, 3)), BPF_ST_MEM(BPF_DW, 10, -16, 0), BPF_LD_MAP_FD(1, m), { func: cb, dst: 2 }];
    items.push(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -24), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(164));
    // the count of elements visited, or the sum the callbacks left
    items.push(chance(0.5) ? BPF_MOV64_REG(7, 0) : BPF_LDX_MEM(BPF_DW, 7, 10, -24));
    return items;
  };

  /**
   * bpf_loop whose callback uses a counter in the caller's stack as an offset: it writes a byte at
   * fp-48 + counter and steps the counter by 8 until it passes a limit; the count of runs (a constant,
   * or a masked number) decides how far the writes go, which the verifier bounds by r1's maximum
   */
  const loopCounter = (): Item[] => {
    const limit = pick([8, 16, 24, 32, 40, 48]);
    const body: Item[] = [BPF_LDX_MEM(BPF_DW, 3, 2, 0)];
    const skip = label();
    body.push(jump(skip, (off) => BPF_JMP_IMM(BPF_JGT, 3, limit, off)), BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, -16));
    body.push(BPF_ALU64_REG(BPF_ADD, 4, 3), BPF_MOV64_IMM(5, 1), BPF_STX_MEM(BPF_B, 4, 5, 0), BPF_ALU64_IMM(BPF_ADD, 3, 8), BPF_STX_MEM(BPF_DW, 2, 3, 0));
    body.push({ label: skip }, BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN());
    subs.push(body);
    const cb = subs.length - 1;
    const items: Item[] = [BPF_ST_MEM(BPF_DW, 10, -32, 0), BPF_ST_MEM(BPF_DW, 10, -40, 0), BPF_ST_MEM(BPF_DW, 10, -48, 0)];
    if (chance(0.5)) items.push(BPF_MOV64_IMM(1, int(0, 8)));
    else items.push(BPF_MOV64_REG(1, pick([7, 8, 9])), BPF_ALU64_IMM(BPF_AND, 1, pick([1, 3, 7])));
    items.push({ func: cb, dst: 2 }, BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -32), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(181));
    items.push(BPF_LDX_MEM(BPF_DW, 7, 10, -40));
    return items;
  };

  /** XDP: data, data_end from the context, a range check in either direction, accesses in and past it */
  const packetBlock = (): Item[] => {
    const end = label();
    const n = int(1, 20);
    const items: Item[] = [BPF_LDX_MEM(BPF_W, 2, 6, 0), BPF_LDX_MEM(BPF_W, 3, 6, 4), BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, n)];
    const k = rnd();
    if (k < 0.4) items.push(jump(end, (off) => BPF_JMP_REG(BPF_JGT, 4, 3, off)));
    else if (k < 0.7) items.push(jump(end, (off) => BPF_JMP_REG(BPF_JLT, 3, 4, off)));
    else {
      // the passing side jumps: `if end' <= data_end goto ok` or `if data_end >= end' goto ok`
      const ok = label();
      items.push(jump(ok, (off) => (chance(0.5) ? BPF_JMP_REG(BPF_JLE, 4, 3, off) : BPF_JMP_REG(BPF_JGE, 3, 4, off))), goto(end), { label: ok });
    }
    const sz = pick([BPF_B, BPF_H, BPF_W]);
    const at = chance(0.85) ? int(0, Math.max(0, n - bytesOf(sz))) : n - bytesOf(sz) + 1;
    items.push(BPF_LDX_MEM(sz, 7, 2, at));
    if (chance(0.4)) {
      // a variable offset from a packet byte, checked again
      items.push(BPF_ALU64_IMM(BPF_AND, 7, 15), BPF_ALU64_REG(BPF_ADD, 2, 7), BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, 4));
      items.push(jump(end, (off) => BPF_JMP_REG(BPF_JGT, 4, 3, off)), BPF_LDX_MEM(BPF_W, 8, 2, chance(0.9) ? 0 : 1));
    }
    items.push({ label: end });
    return items;
  };

  /**
   * XDP: a checked packet pointer kept (in r2 or spilled) across a helper that may move the
   * packet (adjust_head/meta/tail), then read through as it was, or derived again and
   * checked: the verifier must forget the old pointers (clear_all_pkt_pointers)
   */
  const staleBlock = (): Item[] => {
    const end = label();
    const n = int(1, 20);
    const items: Item[] = [BPF_LDX_MEM(BPF_W, 2, 6, 0), BPF_LDX_MEM(BPF_W, 3, 6, 4), BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, n)];
    items.push(jump(end, (off) => BPF_JMP_REG(BPF_JGT, 4, 3, off)));
    const spill = chance(0.5);
    if (spill) items.push(BPF_STX_MEM(BPF_DW, 10, 2, -40));
    else items.push(BPF_MOV64_REG(9, 2));
    const [helper, delta] = pick([[44, pick([-8, 0, 4, 8])], [54, pick([-8, -4, 0])], [65, pick([-4, -1, 0, 4])]] as [number, number][]);
    items.push(BPF_MOV64_REG(1, 6), BPF_MOV64_IMM(2, delta), BPF_EMIT_CALL(helper));
    if (chance(0.6)) {
      // the old pointer, as it was
      if (spill) items.push(BPF_LDX_MEM(BPF_DW, 2, 10, -40));
      else items.push(BPF_MOV64_REG(2, 9));
      items.push(BPF_LDX_MEM(BPF_B, 7, 2, int(0, n - 1)));
    } else {
      // derived again from the context and checked again
      items.push(BPF_LDX_MEM(BPF_W, 2, 6, 0), BPF_LDX_MEM(BPF_W, 3, 6, 4), BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, n));
      items.push(jump(end, (off) => BPF_JMP_REG(BPF_JGT, 4, 3, off)), BPF_LDX_MEM(BPF_B, 7, 2, int(0, n - 1)));
    }
    items.push(BPF_MOV64_IMM(9, 3), { label: end });
    return items;
  };

  /** scalar ALU on r7-r9 (every op, 32 and 64 bit), so later bounds start from varied ranges */
  const scalarAlu = (): Item[] => {
    const d = pick([7, 8, 9]);
    const op = pick([BPF_ADD, BPF_SUB, BPF_MUL, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_DIV, BPF_MOD]);
    const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
    if (chance(0.3)) return [(chance(0.5) ? BPF_ALU64_REG : BPF_ALU32_REG)(op, d, pick([7, 8, 9]))];
    const k = shift ? int(0, 31) : int(-20, 300) || 1;
    return [chance(0.6) ? BPF_ALU64_IMM(op, d, k) : BPF_ALU32_IMM(op, d, k), ...(chance(0.2) ? [BPF_MOV32_REG(d, d)] : [])];
  };

  /**
   * XDP: bpf_xdp_load_bytes or bpf_xdp_store_bytes (5.18) into or from a
   * stack buffer, at a constant offset (inside the frame, past it, past
   * 0xffff) or a scalar's, of a constant size (sometimes 0 or past the
   * buffer: refused); the result kept, a loaded buffer read back.
   */
  const xdpBytes = (): Item[] => {
    const store = chance(0.4);
    const items: Item[] = [];
    if (store || chance(0.3)) items.push(BPF_ST_MEM(BPF_DW, 10, -32, int(0, 1000)), BPF_ST_MEM(BPF_DW, 10, -24, 7));
    items.push(chance(0.6) ? BPF_MOV64_IMM(2, pick([0, 1, 14, 40, 56, 60, 0xffff, 0x10000, -1])) : BPF_MOV64_REG(2, pick([7, 8, 9])));
    items.push(BPF_MOV64_REG(1, 6), BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -32));
    items.push(BPF_MOV64_IMM(4, chance(0.9) ? pick([1, 4, 8, 16]) : pick([0, 17, 33])), BPF_EMIT_CALL(store ? 190 : 189));
    items.push(BPF_MOV64_REG(pick([7, 8, 9]), 0));
    if (!store) items.push(BPF_LDX_MEM(pick([BPF_W, BPF_B, BPF_DW]), pick([7, 8, 9]), 10, -32));
    return items;
  };

  /** tc: a context load, a store read back, or one store through the context or the stack (see the top) */
  const ctxBlock = (): Item[] => {
    const FIELDS = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 84, 88, 140, 160, 164, 176, 180, 184];
    const WRITABLE = [8, 12, 12, 12, 32, 44, 44, 72, 72, 48, 52, 56, 60, 64, 152];
    const d = pick([7, 8, 9]);
    const inside = (field: number, sz: number): number => field + bytesOf(sz) * int(0, Math.max(0, 4 / bytesOf(sz) - 1));
    const k = rnd();
    if (k < 0.35) {
      const sz = pick([BPF_W, BPF_H, BPF_B, BPF_H, BPF_B, BPF_DW]);
      return [BPF_LDX_MEM(sz, d, 6, sz === BPF_DW ? pick([152, 168, 184, 8]) : inside(pick(FIELDS), sz))];
    }
    if (k < 0.9) {
      const off = pick(WRITABLE);
      const cb = off >= 48 && off < 68;
      const sz = off === 152 ? BPF_DW : cb && chance(0.4) ? pick([BPF_H, BPF_B]) : BPF_W;
      const at = cb ? inside(off, sz) : off;
      const val = pick([0, 1, 9, 0xfffe, 0xffff, 0x10000, 0x10003, 0x12345, -1, -2, int(0, 70000)]);
      const items: Item[] = [];
      if (chance(0.5)) items.push(BPF_ST_MEM(sz, 6, at, val));
      else {
        const s = pick([7, 8, 9]);
        if (chance(0.7)) items.push(BPF_MOV64_IMM(s, val));
        items.push(BPF_STX_MEM(sz, 6, s, at));
      }
      const rsz = off === 152 ? BPF_DW : pick([BPF_W, BPF_H, BPF_B]);
      items.push(BPF_LDX_MEM(rsz, d, 6, off === 152 ? 152 : inside(off, rsz)));
      return items;
    }
    const other = label();
    return [
      BPF_MOV64_REG(1, 10), BPF_ALU64_IMM(BPF_ADD, 1, -64),
      jump(other, (off) => BPF_JMP_IMM(pick(ALL_CONDS), pick([7, 8, 9]), int(0, 10), off)), BPF_MOV64_REG(1, 6), { label: other },
      BPF_STX_MEM(BPF_W, 1, pick([7, 8, 9]), 48),
    ];
  };

  /**
   * Precision carried back from a pruned state (a16-prec): three paths to
   * a stack store at fp-64 + r3. X sets r3 itself and jumps to the store
   * (its checkpoint there has r3 precise); Y and Z join at P and copy r2
   * into r3 (a move, a 32-bit move or a spill and fill) right before the
   * store, Y with the value X had, Z (walked last) mostly with one past
   * the stack. When Y is pruned at the store, the precision of r3 must go
   * back through the copy to r2 in the checkpoint at P, or P prunes Z.
   * Padding of random length moves the checkpoints around.
   */
  const pruneJoin = (): Item[] => {
    const d = pick([7, 8, 9]);
    const z = label(), y = label(), p = label(), q = label(), end = label();
    const small = 8 * int(0, 7);
    const far = chance(0.7) ? pick([64, 72, 1000, 0x10000]) : 8 * int(0, 7);
    const pad = (): Item[] => Array.from({ length: int(0, 10) }, () => BPF_ALU64_IMM(BPF_ADD, 5, 1));
    const cond = (): number => pick(ALL_CONDS);
    const copy = rnd();
    return [
      BPF_MOV64_IMM(2, small), BPF_MOV64_IMM(5, 0),
      jump(z, (off) => BPF_JMP_IMM(cond(), d, int(0, 10), off)),
      jump(y, (off) => BPF_JMP_IMM(cond(), d, int(0, 10), off)),
      BPF_MOV64_IMM(3, small), ...pad(),
      jump(q, (off) => BPF_JMP_IMM(cond(), d, int(0, 10), off)), goto(end),
      { label: z }, BPF_MOV64_IMM(2, far), goto(p),
      { label: y }, ...pad(),
      { label: p }, BPF_MOV64_IMM(5, 0), ...pad(),
      ...(copy < 0.6 ? [BPF_MOV64_REG(3, 2)] : copy < 0.8 ? [BPF_MOV32_REG(3, 2)] : [BPF_STX_MEM(BPF_DW, 10, 2, -72), BPF_LDX_MEM(BPF_DW, 3, 10, -72)]),
      { label: q }, BPF_MOV64_REG(1, 10), BPF_ALU64_IMM(BPF_ADD, 1, -64), BPF_ALU64_REG(BPF_ADD, 1, 3), BPF_STX_MEM(BPF_DW, 1, d, 0),
      { label: end },
    ];
  };

  const main: Item[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 1), BPF_MOV64_IMM(8, 2), BPF_MOV64_IMM(9, 3)];
  if (chance(0.5)) main.push(...unknown(8));
  const blocks = int(2, 5);
  const kinds: (() => Item[])[] = [valueIndex, valueIndex, stackIndex, spillFill, pointerMath, rangeTrap, rangeTrap, loop, callBlock, callBlock, newMapLookup, scalarAlu];
  if (packets) kinds.push(packetBlock, packetBlock, packetBlock, staleBlock);
  if (packets && proto(189) !== undefined) kinds.push(xdpBytes);
  if (tc) kinds.push(ctxBlock, ctxBlock, ctxBlock, ctxBlock);
  if (options.globals) kinds.push(globalBlock, globalBlock, globalBlock, globalBlock);
  if (options.innerMaps) kinds.push(innerLookup, innerLookup, forEach, forEach, loopCounter, loopCounter);
  if (options.joins) kinds.push(pruneJoin, pruneJoin);
  for (let b = 0; b < blocks; b++) {
    const blk = pick(kinds)();
    if (chance(0.2)) {
      // a branch over the block on a scalar: both sides reach what follows
      const over = label();
      const d = pick([7, 8, 9]);
      main.push(jump(over, (off) => (chance(0.3) ? BPF_JMP32_IMM : BPF_JMP_IMM)(pick(ALL_CONDS), d, int(0, 10), off)), ...blk, { label: over });
    } else main.push(...blk);
  }
  main.push(BPF_MOV64_REG(0, chance(0.97) ? pick([7, 8, 9]) : 1), BPF_EXIT_INSN());
  if (packets) {
    // XDP verdicts above XDP_REDIRECT are refused by the kernel's return check: keep r0 in 0..3
    main.splice(main.length - 1, 0, BPF_ALU64_IMM(BPF_AND, 0, 3));
  }
  return assemble(main, subs);
}
