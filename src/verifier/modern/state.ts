/**
 * The abstract state of the modern verifier profile (the 6.18 kernel's
 * bpf_verifier_state, privileged): registers of every type the modern
 * kernel tracks, with a Scalar (scalar.ts) as a number's value or a
 * pointer's variable offset; a call chain of frames, each with its
 * registers and a stack of 64 eight-byte slots (byte types plus the
 * register spilled into the slot); and, per state, the liveness marks,
 * the parent checkpoint, the count of unfinished paths below a stored
 * state and where its stretch of the path lies in the walker's jump
 * history (for precision backtracking). It owns construction, copy-on-write copies, the
 * comparisons pruning needs (regsafe, stacksafe, states_equal) and the
 * text the log prints for a state. The walk is walker.ts.
 *
 * Registers are immutable objects shared between states; a frame is
 * shared between copies of a state until one of them writes it (own()).
 * Liveness and precision marks are per state, never shared.
 */

import type { Scalar } from './scalar.js';
import { SCALAR_UNKNOWN, scalarConstHL, scalarEquals, scalarStr, scalarWithin, unumSmall } from './scalar.js';
import { tnumIsConst, tnumStr } from './tnum.js';

/** The register types of the modern kernel that tsbpf tracks (enum bpf_reg_type). */
export const RT = {
  NOT_INIT: 0,
  SCALAR: 1,
  PTR_TO_CTX: 2,
  CONST_PTR_TO_MAP: 3,
  PTR_TO_MAP_VALUE: 4,
  PTR_TO_MAP_KEY: 5,
  PTR_TO_STACK: 6,
  PTR_TO_PACKET_META: 7,
  PTR_TO_PACKET: 8,
  PTR_TO_PACKET_END: 9,
  PTR_TO_MEM: 10,
  PTR_TO_FUNC: 11,
} as const;

const TYPE_STR = ['?', 'scalar', 'ctx', 'map_ptr', 'map_value', 'map_key', 'fp', 'pkt_meta', 'pkt', 'pkt_end', 'mem', 'func'];

/** What the modern verifier knows of a map (the kernel's bpf_map fields it reads). */
export interface ModernMapInfo {
  addr: number;
  keySize: number;
  valueSize: number;
  /** BPF_MAP_TYPE_*, when known: an array lookup with a constant key in range is never null */
  mapType?: number;
  maxEntries?: number;
  /** the map's name (BPF_MAP_CREATE's map_name), which the log prints as map=NAME */
  name?: string;
  /**
   * Maps of maps: the template of the inner maps (the kernel's inner_map_meta),
   * what a lookup in this map gives a pointer to (map_ptr_or_null, without a name).
   */
  inner?: ModernMapInfo;
  /** this is an inner map template: `addr` is its outer map's (it is not the outer map) */
  meta?: boolean;
}

/** A register's abstract value (immutable). */
export interface Reg {
  readonly type: number;
  /** PTR_MAYBE_NULL */
  readonly maybeNull: boolean;
  /** the scalar's value, or the pointer's variable offset with its bounds */
  readonly s: Scalar;
  /** pointer: fixed offset */
  readonly off: number;
  /** null-check id (or_null pointers and what they become), packet id, scalar link id */
  readonly id: number;
  /** packet: bytes known to be in the packet after the pointer; mem: its size */
  readonly range: number;
  readonly map?: ModernMapInfo | undefined;
  /** stack pointer: the frame it points into; func pointer: the subprogram */
  readonly frameno: number;
  /** ringbuf memory (PTR_TO_MEM | MEM_RINGBUF) */
  readonly ringbuf?: boolean | undefined;
  /** the acquired reference this pointer is (ref_obj_id): a ringbuf record until submitted or discarded */
  readonly refObj?: number | undefined;
  readonly precise: boolean;
}

const ZERO = scalarConstHL(0, 0);

// Every register object has all of Reg's fields, in this order, optional ones
// included (undefined): one hidden class for all of them keeps V8's property
// loads on registers monomorphic (regWith keeps it too).
export const NOT_INIT: Reg = {
  type: RT.NOT_INIT, maybeNull: false, s: SCALAR_UNKNOWN, off: 0, id: 0, range: 0, map: undefined, frameno: 0, ringbuf: undefined, refObj: undefined, precise: false,
};
export const UNKNOWN: Reg = {
  type: RT.SCALAR, maybeNull: false, s: SCALAR_UNKNOWN, off: 0, id: 0, range: 0, map: undefined, frameno: 0, ringbuf: undefined, refObj: undefined, precise: false,
};

/** A scalar register with this value. */
export const scalarReg = (s: Scalar): Reg => (s === SCALAR_UNKNOWN ? UNKNOWN : {
  type: RT.SCALAR, maybeNull: false, s, off: 0, id: 0, range: 0, map: undefined, frameno: 0, ringbuf: undefined, refObj: undefined, precise: false,
});

/** A scalar register with this value, id and precision mark (regWith(scalarReg(s), { id, precise }) in one literal). */
export const scalarRegOf = (s: Scalar, id: number, precise: boolean): Reg => (id === 0 && !precise ? scalarReg(s) : {
  type: RT.SCALAR, maybeNull: false, s, off: 0, id, range: 0, map: undefined, frameno: 0, ringbuf: undefined, refObj: undefined, precise,
});

/** A pointer of `type` with a zero offset (mark_reg_known_zero then the type). */
export function ptrReg(type: number, extra: Partial<Reg> = {}): Reg {
  return regWith({
    type, maybeNull: false, s: ZERO, off: 0, id: 0, range: 0, map: undefined, frameno: 0, ringbuf: undefined, refObj: undefined, precise: false,
  }, extra);
}

/**
 * `r` with the fields `p` gives replaced ({ ...r, ...p }, for fields that are
 * not set to undefined): one literal with every field, as object spreads of
 * registers were the slowest line of a branch in V8's profile.
 */
export function regWith(r: Reg, p: Partial<Reg>): Reg {
  return {
    type: p.type ?? r.type, maybeNull: p.maybeNull ?? r.maybeNull, s: p.s ?? r.s, off: p.off ?? r.off, id: p.id ?? r.id,
    range: p.range ?? r.range, map: p.map ?? r.map, frameno: p.frameno ?? r.frameno, ringbuf: p.ringbuf ?? r.ringbuf,
    refObj: p.refObj ?? r.refObj, precise: p.precise ?? r.precise,
  };
}

/** regWith(r, { off, precise: false }) without the partial's property loads (a pointer plus a known number, each step of a loop over a map value). */
export function regWithOff(r: Reg, off: number): Reg {
  return {
    type: r.type, maybeNull: r.maybeNull, s: r.s, off, id: r.id, range: r.range, map: r.map, frameno: r.frameno, ringbuf: r.ringbuf,
    refObj: r.refObj, precise: false,
  };
}

/** regWith(r, { precise: true }) likewise (precision walks mark each checkpoint's registers so). */
export function regPrecise(r: Reg): Reg {
  return {
    type: r.type, maybeNull: r.maybeNull, s: r.s, off: r.off, id: r.id, range: r.range, map: r.map, frameno: r.frameno, ringbuf: r.ringbuf,
    refObj: r.refObj, precise: true,
  };
}

export const isPtr = (r: Reg): boolean => r.type !== RT.SCALAR && r.type !== RT.NOT_INIT;
export const isPkt = (r: Reg): boolean => r.type === RT.PTR_TO_PACKET || r.type === RT.PTR_TO_PACKET_META;

/** reg_type_str */
export function typeStr(r: Reg): string {
  let s = TYPE_STR[r.type]!;
  if (r.type === RT.PTR_TO_MEM && r.ringbuf) s = 'ringbuf_' + s;
  return r.maybeNull ? s + '_or_null' : s;
}

export const typeName = (type: number): string => TYPE_STR[type]!;

/** What a stack byte holds (enum bpf_stack_slot_type, the kinds tsbpf tracks). */
export const ST = { INVALID: 0, SPILL: 1, MISC: 2, ZERO: 3 } as const;
const ST_CHAR = ['?', 'r', 'm', '0'];

export const MAX_BPF_STACK = 512;
export const SLOTS = MAX_BPF_STACK / 8;

/**
 * One function's frame: registers, and the stack as byte types (index
 * 8*spi + j is slot spi's slot_type[j], the byte at fp - 8*spi - 1 - j... as
 * the kernel numbers them: j = (-off - 1) % 8) plus each slot's spilled register.
 *
 * `stype` and `spilled` are only as long as the frame's depth (rounded up to
 * a slot): bytes past it are STACK_INVALID (an index past the end reads
 * undefined, which no comparison with SPILL matches), and every access
 * grows them first (the walker's stackBounds). Plain arrays as long as the
 * stack in use make a frame's clone (every write after a copy) a few short
 * copies; 512 bytes off the V8 heap and 64 spilled registers made it the
 * largest cost of a program with many branches.
 */
export class Frame {
  /** the state allowed to write this frame in place; null once shared */
  owner: object | null = null;
  /** a callback's frame (bpf_loop, bpf_for_each_map_elem): the range its r0 must be in */
  cbRet: { min: number; max: number } | null = null;
  /** callback_depth: the callback runs this frame's bpf_loop call has started on this path */
  cbDepth = 0;
  constructor(
    public regs: Reg[],
    public stype: number[],
    public spilled: Reg[],
    /** the call instruction that entered this frame (-1 for the main program) */
    public callsite: number,
    public subprog: number,
    /** stack bytes used (allocated_stack) */
    public depth: number,
  ) {}

  /** allocated_stack grows to `depth` bytes; stype and spilled with it. */
  grow(depth: number): void {
    this.depth = depth;
    const need = (depth + 7) & ~7;
    // a slot's eight bytes in one push (one capacity check, not eight)
    while (this.stype.length < need) {
      this.stype.push(ST.INVALID, ST.INVALID, ST.INVALID, ST.INVALID, ST.INVALID, ST.INVALID, ST.INVALID, ST.INVALID);
      this.spilled.push(NOT_INIT);
    }
  }

  clone(owner: object): Frame {
    const f = new Frame(this.regs.slice(), this.stype.slice(), this.spilled.slice(), this.callsite, this.subprog, this.depth);
    f.owner = owner;
    f.cbRet = this.cbRet;
    f.cbDepth = this.cbDepth;
    return f;
  }
}

export function newFrame(frameno: number, callsite: number, subprog: number): Frame {
  const regs = new Array<Reg>(11).fill(NOT_INIT);
  regs[10] = ptrReg(RT.PTR_TO_STACK, { frameno });
  return new Frame(regs, [], [], callsite, subprog, 0);
}

/** Liveness flags of a register or stack slot. */
export const LIVE_READ = 1;
export const LIVE_WRITTEN = 2;

/**
 * A frame's liveness flags as bit sets, six words: registers read (bit r),
 * registers written, slots read (bit spi of words 2-3), slots written
 * (words 4-5). `k` names register k (0-10) or slot k - 11. Every state copy
 * and checkpoint copies these; an array of 75 flags made the copies, and
 * the walk over them at each pruned state, a tenth of a program of
 * branches.
 */
export const newLive = (flag: number): number[] => (flag === 0 ? LIVE_NONE : flag === LIVE_WRITTEN ? LIVE_ALL_WRITTEN : liveOf(flag)).slice();
const liveOf = (flag: number): number[] => [flag & LIVE_READ ? 0x7ff : 0, flag & LIVE_WRITTEN ? 0x7ff : 0,
  flag & LIVE_READ ? -1 : 0, flag & LIVE_READ ? -1 : 0, flag & LIVE_WRITTEN ? -1 : 0, flag & LIVE_WRITTEN ? -1 : 0];
const LIVE_NONE = liveOf(0);
const LIVE_ALL_WRITTEN = liveOf(LIVE_WRITTEN);

/** Whether register/slot k is marked read in `l`. */
export const liveRead = (l: readonly number[], k: number): boolean =>
  (k < 11 ? (l[0]! >>> k) & 1 : (l[2 + ((k - 11) >> 5)]! >>> ((k - 11) & 31)) & 1) !== 0;
/** Whether register/slot k is marked written in `l`. */
export const liveWritten = (l: readonly number[], k: number): boolean =>
  (k < 11 ? (l[1]! >>> k) & 1 : (l[4 + ((k - 11) >> 5)]! >>> ((k - 11) & 31)) & 1) !== 0;
/** Mark register/slot k read. */
export function setLiveRead(l: number[], k: number): void {
  if (k < 11) l[0] = l[0]! | (1 << k);
  else l[2 + ((k - 11) >> 5)] = l[2 + ((k - 11) >> 5)]! | (1 << ((k - 11) & 31));
}
/** Mark register/slot k written. */
export function setLiveWritten(l: number[], k: number): void {
  if (k < 11) l[1] = l[1]! | (1 << k);
  else l[4 + ((k - 11) >> 5)] = l[4 + ((k - 11) >> 5)]! | (1 << ((k - 11) & 31));
}

/** The verifier state of one path, or a stored checkpoint. */
export class VState {
  frames: Frame[];
  /** per frame: 11 register flags then 64 slot flags (LIVE_*) */
  live: number[][];
  /** per frame: 11 register precision marks then 64 spilled-slot marks */
  parent: VState | null = null;
  /** stored checkpoints: paths below not yet finished (the kernel's branches) */
  branches = 0;
  insnIdx = 0;
  firstInsn = 0;
  /** stored checkpoints: the last instruction of the path's stretch it holds (-1: none) */
  lastInsn = -1;
  /**
   * The stretch of the path this state holds, in the walker's history
   * (walker.ts, the jump history): entries [histStart, histEnd). The
   * current state's end is the history's length; a stored checkpoint's and
   * a pending branch's are fixed when they are made.
   */
  histStart = 0;
  histEnd = 0;
  /**
   * Stored checkpoints: the walker's generation of the stretch this state
   * holds (ModernWalker.histGen when it was made, -1 for other states), so
   * that precision walks through it can meet the memos made on it.
   */
  gen = -1;
  /** stored checkpoints: pruning hits and misses (eviction from the explored list; -1 once evicted) */
  hit = 0;
  miss = 0;
  /** acquired references not yet released (the kernel's acquired_refs): id and the instruction that acquired it */
  refs: readonly { readonly id: number; readonly insn: number }[] = [];
  /**
   * Callback runs this path has entered (the kernel's callback_unroll_depth):
   * each run of a callback starts one deeper, so that a state of one run
   * that repeats a state of an earlier run is not an infinite loop (the
   * helper bounds the runs; the call site's convergence ends the walk).
   */
  cbUnroll = 0;
  /** stored checkpoints: every scalar of it and of its parents was marked precise (mark_all_scalars_precise) */
  allPrecise = false;

  constructor(frames: Frame[], live: number[][]) {
    this.frames = frames;
    this.live = live;
  }

  get curframe(): number {
    return this.frames.length - 1;
  }

  /** The frame `i`, writable by this state. */
  own(i: number): Frame {
    const f = this.frames[i]!;
    if (f.owner === this) return f;
    const c = f.clone(this);
    this.frames[i] = c;
    return c;
  }

  /**
   * A copy sharing the frames (each side clones one before writing it), with
   * copies of the liveness flags, or `live` (given away to it) instead.
   */
  copy(live?: number[][]): VState {
    for (const f of this.frames) f.owner = null;
    let own = live;
    if (own === undefined) {
      own = [];
      for (let i = 0; i < this.live.length; i++) own.push(this.live[i]!.slice());
    }
    const s = new VState(this.frames.slice(), own);
    s.parent = this.parent;
    s.insnIdx = this.insnIdx;
    s.firstInsn = this.firstInsn;
    s.lastInsn = this.lastInsn;
    s.histStart = this.histStart;
    s.histEnd = this.histEnd;
    s.refs = this.refs;
    s.cbUnroll = this.cbUnroll;
    return s;
  }
}

export function initialState(): VState {
  const f = newFrame(0, -1, 0);
  f.regs[1] = ptrReg(RT.PTR_TO_CTX);
  return new VState([f], [newLive(0)]);
}

// ---- pruning ----

/**
 * The id correspondence of one states_equal (check_ids). Ids are small
 * positive integers (the walker counts them from 1), so the two directions
 * are arrays indexed by id, each entry valid only when its stamp is the
 * current one: `reset` forgets every pair at once, and states_equal reuses
 * one map instead of making two Maps per state compared.
 */
export class IdMap {
  private readonly map: number[] = [];
  private readonly rev: number[] = [];
  private readonly mapStamp: number[] = [];
  private readonly revStamp: number[] = [];
  private stamp = 1;
  /** Forget every pair. */
  reset(): void {
    this.stamp++;
  }
  check(old: number, cur: number): boolean {
    if (old === 0 && cur === 0) return true;
    if (old === 0 || cur === 0) return false;
    const hasM = this.mapStamp[old] === this.stamp;
    const hasR = this.revStamp[cur] === this.stamp;
    if (!hasM && !hasR) {
      this.map[old] = cur;
      this.mapStamp[old] = this.stamp;
      this.rev[cur] = old;
      this.revStamp[cur] = this.stamp;
      return true;
    }
    return hasM && hasR && this.map[old] === cur && this.rev[cur] === old;
  }
  /** check_scalar_ids: an id on one side only is a fresh one on the other */
  checkScalar(old: number, cur: number, fresh: () => number): boolean {
    return this.check(old || fresh(), cur || fresh());
  }
}

function sameMap(a: Reg, b: Reg): boolean {
  // an outer map's inner template shares its address: the flag tells them apart
  return (a.map?.addr ?? -1) === (b.map?.addr ?? -1) && !!a.map?.meta === !!b.map?.meta;
}

/** Every field equal, ids through the map (regs_exact). */
export function regsExact(old: Reg, cur: Reg, ids: IdMap): boolean {
  return old.type === cur.type && old.maybeNull === cur.maybeNull && old.off === cur.off && old.range === cur.range &&
    old.frameno === cur.frameno && sameMap(old, cur) && !!old.ringbuf === !!cur.ringbuf && scalarEquals(old.s, cur.s) && ids.check(old.id, cur.id) &&
    ids.check(old.refObj ?? 0, cur.refObj ?? 0);
}

/**
 * regsafe: is every concrete value `cur` allows, as far as what follows can
 * tell (read marks, precision), one `old` allowed? `exact` compares everything.
 */
export function regsafe(old: Reg, cur: Reg, live: number, ids: IdMap, exact: boolean, fresh: () => number, range = false): boolean {
  if (!exact && !range && !(live & LIVE_READ)) return true;
  if (old.type === RT.NOT_INIT) return !exact || cur.type === RT.NOT_INIT;
  if (exact) return regsExact(old, cur, ids);
  if (old.type !== cur.type) return false;
  switch (old.type) {
    case RT.SCALAR:
      if (!old.precise && !range) return true;
      return ids.checkScalar(old.id, cur.id, fresh) && scalarWithin(old.s, cur.s);
    case RT.PTR_TO_MAP_KEY:
    case RT.PTR_TO_MAP_VALUE:
    case RT.PTR_TO_MEM:
      // a pointer that may be null on one side only is a different pointer
      if (old.maybeNull !== cur.maybeNull || !!old.ringbuf !== !!cur.ringbuf) return false;
      return old.off === cur.off && sameMap(old, cur) && old.range === cur.range && scalarWithin(old.s, cur.s) && ids.check(old.id, cur.id) &&
        ids.check(old.refObj ?? 0, cur.refObj ?? 0);
    case RT.PTR_TO_PACKET_META:
    case RT.PTR_TO_PACKET:
      // a longer known range is safe; the same variable part and id
      if (cur.range < old.range) return false;
      if (old.off !== cur.off) return false;
      if (!ids.check(old.id, cur.id)) return false;
      return scalarWithin(old.s, cur.s);
    case RT.PTR_TO_STACK:
      return old.frameno === cur.frameno && old.off === cur.off && scalarWithin(old.s, cur.s);
    default:
      return regsExact(old, cur, ids);
  }
}

/** stacksafe for one frame. */
function stacksafe(old: Frame, cur: Frame, oldLive: readonly number[], ids: IdMap, exact: boolean, fresh: () => number, range: boolean): boolean {
  const n = Math.max(old.depth, cur.depth);
  for (let b = 0; b < n; b++) {
    const spi = b >> 3;
    // past a frame's stype, bytes are invalid (Frame)
    const ot = b < old.stype.length ? old.stype[b]! : ST.INVALID;
    const ct = b < cur.stype.length ? cur.stype[b]! : ST.INVALID;
    if (exact) {
      if (ot !== ct) return false;
      if ((b & 7) === 7 && ot === ST.SPILL && !regsExact(old.spilled[spi]!, cur.spilled[spi]!, ids)) return false;
      continue;
    }
    if (!range && !((oldLive[2 + (spi >> 5)]! >>> (spi & 31)) & 1)) {
      b |= 7;
      continue;
    }
    if (ot === ST.INVALID) continue;
    // misc in old: anything written in cur is fine (invalid is readable too for a privileged program)
    if (ot === ST.MISC) continue;
    if (ot === ST.ZERO) {
      if (ct === ST.ZERO) continue;
      // a spilled constant zero is as good as zero bytes
      if (ct === ST.SPILL && cur.spilled[spi]!.type === RT.SCALAR && tnumIsConst(cur.spilled[spi]!.s.varOff) && cur.spilled[spi]!.s.value === 0n) continue;
      return false;
    }
    if (ot !== ct) return false;
    // spilled registers are compared once per slot, on the slot's last byte
    if ((b & 7) === 7 || old.stype[b + 1] !== ST.SPILL) {
      if (!regsafe(old.spilled[spi]!, cur.spilled[spi]!, LIVE_READ, ids, false, fresh, range)) return false;
      b |= 7;
    }
  }
  return true;
}

/** The id map of statesEqual, reused (statesEqual never runs inside itself). */
const STATES_EQUAL_IDS = new IdMap();

/**
 * states_equal: same call chain, and every frame's registers and stack safe.
 * `exact` (loop detection) compares all of it, read or not. `range` (the
 * kernel's RANGE_WITHIN, for a state still being explored): every register
 * and slot counts as read and every number as precise, since the read marks
 * of an unfinished state are not complete yet.
 */
export function statesEqual(old: VState, cur: VState, exact: boolean, fresh: () => number, range = false): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  for (let i = 0; i < old.frames.length; i++) if (old.frames[i]!.callsite !== cur.frames[i]!.callsite) return false;
  const ids = STATES_EQUAL_IDS;
  ids.reset();
  // refsafe: the same references held, their ids corresponding
  if (old.refs.length !== cur.refs.length) return false;
  for (let i = 0; i < old.refs.length; i++) if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  for (let i = 0; i < old.frames.length; i++) {
    const of = old.frames[i]!, cf = cur.frames[i]!;
    const live = old.live[i]!;
    if (of !== cf) {
      for (let r = 0; r < 10; r++) {
        if (!regsafe(of.regs[r]!, cf.regs[r]!, (live[0]! >>> r) & LIVE_READ, ids, exact, fresh, range)) return false;
      }
      if (!stacksafe(of, cf, live, ids, exact, fresh, range)) return false;
    } else {
      // the same frame object: equal, except that its ids must map to themselves
      for (let r = 0; r < 10; r++) if (!ids.check(of.regs[r]!.id, cf.regs[r]!.id)) return false;
    }
  }
  return true;
}

// ---- the log ----

function regStr(r: Reg, fi: number): string {
  if (r.type === RT.SCALAR) return scalarStr(r.s, { precise: r.precise, id: r.id });
  const constOff = tnumIsConst(r.s.varOff);
  if (r.type === RT.PTR_TO_STACK && constOff) {
    const v = Number(BigInt.asIntN(64, r.s.value)) + r.off;
    return `fp${r.frameno !== fi ? `[${r.frameno}]` : ''}${v}`;
  }
  const parts: string[] = [];
  if (r.id) parts.push(`id=${r.id}`);
  if (r.refObj) parts.push(`ref_obj_id=${r.refObj}`);
  if (r.map && (r.type === RT.CONST_PTR_TO_MAP || r.type === RT.PTR_TO_MAP_VALUE || r.type === RT.PTR_TO_MAP_KEY)) parts.push(`${r.map.name ? `map=${r.map.name},` : ''}ks=${r.map.keySize},vs=${r.map.valueSize}`);
  if (r.off) parts.push(`off=${r.off}`);
  if (r.type === RT.PTR_TO_PACKET || r.type === RT.PTR_TO_PACKET_META) parts.push(`r=${unumSmall(r.range)}`);
  if (r.type === RT.PTR_TO_MEM) parts.push(`sz=${r.range}`);
  if (constOff) {
    if (r.s.value !== 0n) parts.push(`imm=${BigInt.asIntN(64, r.s.value)}`);
  } else {
    const m = /^scalar\((.*)\)$/.exec(scalarStr(r.s));
    if (m?.[1]) parts.push(m[1]);
  }
  return `${typeStr(r)}${r.type === RT.PTR_TO_STACK && r.frameno !== fi ? `[${r.frameno}]` : ''}(${parts.join(',')})`;
}

export { regStr };

/** print_verifier_state for frame `fi`: all of it, or only what `scratch` names (regs bits 0-10, slot bits in scratchStack). */
export function stateStr(st: VState, fi: number, all: boolean, scratchRegs: number, scratchStack: bigint): string {
  const f = st.frames[fi]!;
  let out = fi > 0 ? ` frame${fi}:` : '';
  for (let i = 0; i < 11; i++) {
    const r = f.regs[i]!;
    if (r.type === RT.NOT_INIT) continue;
    if (!all && !(scratchRegs & (1 << i))) continue;
    out += ` R${i}=${regStr(r, fi)}`;
  }
  for (let spi = 0; spi < (f.depth + 7) >> 3; spi++) {
    if (!all && !((scratchStack >> BigInt(spi)) & 1n)) continue;
    let types = '';
    let valid = false;
    for (let j = 0; j < 8; j++) {
      const t = f.stype[spi * 8 + j]!;
      if (t !== ST.INVALID) valid = true;
      types += ST_CHAR[t];
    }
    if (!valid) continue;
    const off = -(spi + 1) * 8;
    if (f.stype[spi * 8 + 7] === ST.SPILL) {
      // the bytes above a narrow spill, then the register
      const first = types.indexOf('r');
      out += ` fp${off}=${types.slice(0, first)}${regStr(f.spilled[spi]!, fi)}`;
    } else {
      out += ` fp${off}=${types}`;
    }
  }
  if (st.refs.length) out += ` refs=${st.refs.map((r) => r.id).join(',')}`;
  return out;
}

export { tnumStr };
