/**
 * do_check of the modern verifier profile: the path-exploring abstract
 * interpretation of the 6.18 kernel (privileged loader), over the state of
 * state.ts. It owns the walk (pending branches, the processed-instruction
 * limit, loops through back-edges), the rule of every instruction class
 * (ALU/ALU64 with pointer arithmetic, LDX/STX/ST/ATOMIC against every
 * pointer type with fixed and variable offsets, JMP/JMP32 with narrowing on
 * both sides, null checks by id and packet ranges, helper calls against
 * their prototypes, bpf-to-bpf calls with frames), pruning at prune points
 * (states_equal with read marks and precision, mark_chain_precision by
 * backtracking the path's history), the loop check (`infinite loop
 * detected`), and the log in the modern kernel's format.
 *
 * It does not own the scalar arithmetic (scalar.ts), the control-flow
 * check and subprogram discovery (cfg.ts), or what BPF_PROG_LOAD does
 * before and after (api/prog-load.ts).
 */

import type { Slot } from '../../isa/instruction.js';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CLASS, BPF_CMPXCHG, BPF_DIV, BPF_DW,
  BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP,
  BPF_JMP32, BPF_JNE, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MODE, BPF_MOV,
  BPF_MUL, BPF_NEG, BPF_OP, BPF_OR, BPF_RSH, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XCHG, BPF_XOR,
  BPF_ABS, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE,
  swapJmpOperands,
} from '../../isa/opcodes.js';
import { uapiHelperName } from '../../isa/uapi.js';
import { ARG, ARG_FLAG, RET, argBase } from '../../runtime/helpers.js';
import type { CtxAccess } from '../../progs/program-type.js';
import type { HelperProto } from '../../runtime/helpers.js';
import { VerifyError } from '../cfg.js';
import { modernInsnText } from './live-regs.js';
import type { VerifierEnv } from '../context.js';
import { SourceLinePrinter } from '../source-lines.js';
import type { Scalar } from './scalar.js';
import {
  SCALAR_UNKNOWN, scalarAlu, scalarAluFork, scalarAluImmExact, scalarBranchTaken, scalarConstHL, scalarEnd, scalarImm, scalarMov,
  scalarMovImm, scalarMovsx, scalarNarrow, scalarSanity, scalarTruncate, scalarFrom, scalarConst,
} from './scalar.js';
import { tnumIsConst, tnumStr, tnumAdd, tnumSub, tnumConstHL, tnumIsAligned } from './tnum.js';
import type { Frame, ModernMapInfo, Reg } from './state.js';
import type { FuncInfoEntry } from './func-info.js';
import { prototypeProblem } from './func-info.js';
import {
  IdMap, LIVE_WRITTEN, NOT_INIT, liveRead, liveWritten, setLiveRead, setLiveWritten, RT, ST, SLOTS, UNKNOWN, VState, initialState, isPkt, isPtr, newFrame, newLive, ptrReg, regPrecise, regWith, regWithOff,
  regsExact, scalarReg, scalarRegOf, stateStr, statesEqual, typeName, typeStr,
} from './state.js';

/** The modern kernel's limit on processed instructions (BPF_COMPLEXITY_LIMIT_INSNS). */
export const MODERN_INSN_LIMIT = 1_000_000;

/**
 * The helpers that may move or resize the packet (the 6.18 kernel's
 * bpf_helper_changes_pkt_data): skb_store_bytes, l3/l4_csum_replace,
 * clone_redirect, skb_vlan_push/pop, skb_change_proto/tail/head,
 * skb_pull_data, xdp_adjust_head/meta/tail, skb_adjust_room,
 * msg_pull/push/pop_data, the lwt and seg6 helpers and store_hdr_opt.
 */
export const CHANGES_PKT_DATA: ReadonlySet<number> = new Set([9, 10, 11, 13, 18, 19, 31, 38, 39, 43, 44, 50, 54, 63, 65, 73, 74, 75, 76, 90, 91, 143]);
/**
 * tsbpf's guard on the walk's work besides processed instructions: state
 * comparisons at prune points plus instructions backtracked for precision.
 * The kernel has no such count (its eviction of states that keep missing
 * and its precision walk stopping at the first precise checkpoint keep both
 * small); this makes sure no program keeps the verifier busy for long even
 * where tsbpf's copies of those heuristics fall short. The loop that runs
 * to the 1M-insn limit does about 13M of this work (~1.3 s of CPU here);
 * the limit is five times that.
 */
export const MODERN_WORK_LIMIT = 1 << 26;
/** Pending branches allowed (BPF_COMPLEXITY_LIMIT_JMP_SEQ). */
const JMP_SEQ_LIMIT = 8192;
const MAX_CALL_FRAMES = 8;
const BPF_MAX_VAR_OFF = 1 << 29;
const BPF_MAX_VAR_SIZ = 1 << 29;
const MAX_PACKET_OFF = 0xffff;
const AT_PKT_END = -1;
const BEYOND_PKT_END = -2;
const PATH_END = -1;
const BPF_MAP_TYPE_PROG_ARRAY = 3;
const BPF_FUNC_FOR_EACH_MAP_ELEM = 164;
const BPF_FUNC_LOOP = 181;
/** BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY: a lookup with a constant key in range is never null */
const ARRAY_TYPES = [2, 6];
const BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
const BPF_MAP_TYPE_HASH_OF_MAPS = 13;

/** What a context access gives (the program type's ctxAccess): a number, or a packet pointer. */
export type CtxAccessKind = { kind: 'scalar' } | { kind: 'pkt' | 'pkt_end' | 'pkt_meta' };

/** The environment of the modern walker: the 3.19 one plus the program type's richer context description when it has one. */
export interface ModernEnv extends VerifierEnv {
  ctxAccess?(off: number, size: number, write: boolean): CtxAccess;
  mapAt(addr: number): ModernMapInfo | undefined;
  /**
   * BPF_PROG_LOAD's func_info, resolved (func-info.ts): one entry per
   * subprogram. A global function in it is verified once on its own, from
   * its prototype, and calls to it are checked against the prototype.
   * Without it every callee is walked in its caller's context.
   */
  funcInfo?: readonly FuncInfoEntry[];
  /**
   * When bpf_check began (performance.now()), for log level 4's
   * `verification time`: BPF_PROG_LOAD's checks before the walk (the map
   * fds, the log's attributes) count in it, as in the kernel's. Without it
   * the time starts with verifyModern.
   */
  startTime?: number;
}

const ALU_STR: Record<number, string> = {
  [BPF_ADD]: '+=', [BPF_SUB]: '-=', [BPF_MUL]: '*=', [BPF_DIV]: '/=', [BPF_OR]: '|=', [BPF_AND]: '&=', [BPF_LSH]: '<<=',
  [BPF_RSH]: '>>=', [BPF_NEG]: 'neg', [BPF_MOD]: '%=', [BPF_XOR]: '^=', [BPF_MOV]: '=', [BPF_ARSH]: 's>>=', [BPF_END]: 'endian',
};

const SIZE_BYTES: Record<number, 1 | 2 | 4 | 8> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };

interface Pending {
  st: VState;
  idx: number;
  prev: number;
  logPos: number;
}

/**
 * The log of the modern profile: the kernel's verbose() with the rewinds its
 * level 1 does. Kept as chunks with a running length, so that a rewind costs
 * what it removes (a long path at level 1 prints and rewinds for every
 * instruction; one string sliced each time made a 1M-insn loop quadratic).
 * Text past `cap` (the user's log size) is counted but not kept: the log
 * handed back is cut there anyway, and a rewind below it keeps what it needs.
 */
export class ModernLog {
  private readonly parts: string[] = [];
  /** characters kept in parts */
  private kept = 0;
  /** the log's length, kept or not */
  private len = 0;
  /**
   * `level`: 0, 1 or 2, how much of the walk to print (the kernel's BPF_LOG_LEVEL
   * bits); `enabled`: whether anything prints, errors included (any nonzero log_level).
   */
  constructor(public level: number, private readonly cap = Infinity, private enabled = level !== 0) {}
  print(s: string): void {
    if (!this.enabled) return;
    if (this.len === this.kept && this.kept < this.cap) {
      this.parts.push(s);
      this.kept += s.length;
    } else if (this.level >= 2) {
      // level 2 never rewinds: once past the cap nothing more can show, so the
      // walker stops building text (the level reads 0 from here on)
      this.level = 0;
      this.enabled = false;
    }
    this.len += s.length;
  }
  get pos(): number {
    return this.len;
  }
  reset(pos: number): void {
    if (pos >= this.len) return;
    while (this.kept > pos) {
      const last = this.parts.pop()!;
      this.kept -= last.length;
      if (this.kept < pos) {
        this.parts.push(last.slice(0, pos - this.kept));
        this.kept = pos;
      }
    }
    this.len = pos;
  }
  get text(): string {
    const t = this.parts.join('');
    this.parts.length = 0;
    if (t) this.parts.push(t);
    return t;
  }
}

/** Information a helper call's arguments gather (bpf_call_arg_meta). */
interface CallMeta {
  map?: ModernMapInfo | undefined;
  constKey?: bigint | undefined;
  memSize?: number;
  /** the reference a RELEASE argument gives back */
  release?: number;
}

export interface WalkResult {
  insnProcessed: number;
  visited: Uint8Array;
  log: string;
  /** the loads and stores through the context pointer: insn -> the context offset, for convert_ctx_access */
  ctxAccesses: Map<number, number>;
}

/**
 * A precision walk over the current stretch, remembered: walked back from
 * the visit (i, p) (its instruction and the history entries not yet passed
 * there, which together name one visit of the stretch) with the masks
 * regs/stack for frame fr, it did `steps` steps and ended with `out` (0:
 * at the stretch's start with the masks outRegs/outStack; 1: the masks
 * emptied; 2: mark everything precise). Backtracking is a function of the
 * visits walked and the masks, so a later walk that meets that visit with
 * those masks ends the same way. Valid while the stretch's generation is
 * `gen` (ModernWalker.histGen).
 */
class Memo {
  gen = -1;
  i = -1;
  p = -1;
  fr = -1;
  steps = 0;
  out = 0;
  readonly regs = new Array<number>(MAX_CALL_FRAMES).fill(0);
  readonly stack = new Array<number>(2 * MAX_CALL_FRAMES).fill(0);
  readonly outRegs = new Array<number>(MAX_CALL_FRAMES).fill(0);
  readonly outStack = new Array<number>(2 * MAX_CALL_FRAMES).fill(0);
}
const MEMOS = 4;

/** A run of visits walked back at once (ModernWalker.segment). */
interface Segment {
  readonly e: number;
  readonly m: number;
  readonly kind: number;
  readonly k: number;
  readonly out: number;
}

// the 64-bit limits of ptrAlu's bigint bounds (made once: a bigint constant expression allocates)
const S64_MIN = -(1n << 63n), S64_MAX = (1n << 63n) - 1n, U64_MAX = (1n << 64n) - 1n;

/** An unknown scalar loaded narrow (index size, plus 8 when sign-extended), as memAccess makes it: registers are immutable, so shared. */
const NARROW_UNKNOWN: (Reg | undefined)[] = [];

/** A known zero, as a read of zeroed stack gives it (shared: registers are immutable). */
const ZERO_REG: Reg = scalarReg(scalarConstHL(0, 0));

/** immReg's registers of the immediates in [-SMALL_IMM_MIN, SMALL_IMM_MAX), sign- and zero-extended, made when first needed. */
const SMALL_IMM_MIN = 256, SMALL_IMM_MAX = 4096;
const SMALL_IMM: (Reg | undefined)[] = [];

/** A failure: the walker's message is in the log already. */
class Fail extends VerifyError {}

export class ModernWalker {
  readonly log: ModernLog;
  private cur: VState = initialState();
  private readonly pending: Pending[] = [];
  private readonly explored: (VState[] | undefined)[];
  /** per subprogram: a global function some verified path calls (the kernel's func_info_aux.called) */
  readonly called: Uint8Array;
  private idGen = 0;
  private insnProcessed = 0;
  private jmpsProcessed = 0;
  private prevJmps = 0;
  private prevInsns = 0;
  private totalStates = 0;
  private maxStatesPerInsn = 0;
  private idx = 0;
  private prevIdx = 0;
  private readonly visited: Uint8Array;
  /** per instruction, its constant operand as a register (immReg) */
  private readonly immRegs: (Reg | undefined)[];
  /** save_aux_ptr_type: per load/store, 1 when it went through the context, 2 through any other pointer */
  private readonly ptrKind: Uint8Array;
  private readonly ctxAccesses = new Map<number, number>();
  private scratchRegs = 0;
  private scratchStack: Set<number> | 'all' = 'all';
  private prevLogPos = 0;
  private prevInsnPrintPos = 0;
  /** helper calls with a callback */
  private readonly cbSite: Uint8Array;
  /** the first instruction of each subprogram, ascending (subprog 0 at 0) */
  readonly subprogs: number[];
  private readonly stackDepth: number[];
  private histJumps = 0;
  private startPos = 0;
  /** stored states not yet freed (in an explored list, or evicted with paths still open), and their maximum (peak_states) */
  private liveStates = 0;
  /** state comparisons and backtracked instructions (MODERN_WORK_LIMIT) */
  workDone = 0;
  private peakStates = 0;
  /** the source lines above instructions (verbose_linfo), when the program has line records */
  private readonly source: SourceLinePrinter | undefined;
  /** the most frames a walk had since the masks were last cleared (clearMasks): the masks that may not be clear */
  private dirtyFrames = 0;
  /** markPrecise's masks per frame (registers; stack slots), kept between calls */
  private readonly btRegs = new Array<number>(MAX_CALL_FRAMES).fill(0);
  private readonly btStack = new Array<number>(2 * MAX_CALL_FRAMES).fill(0);
  /**
   * The jump history (the kernel's insn_hist): what backtracking cannot
   * read from the program text. A stretch of a path is walked back one
   * instruction at a time, the previous one being the one before it in the
   * program, except where an entry says otherwise: an entry records a
   * visit of instruction hIdx reached from hPrev, for each visit that is
   * the first of a state's stretch or not reached by falling through
   * (jump targets, returns, a forked instruction walked again), and for
   * each visit with something to tell backtracking (hStack: the slot a
   * spill or fill used, frame * 64 + spi; -2 - mask for registers a
   * branch narrowed together; else -1). Entries are in path order; a state
   * holds [histStart, histEnd) of them, and as the walk is depth-first, a
   * popped branch's end truncates the history (what was past it belongs to
   * finished paths, which are never backtracked again). One entry per
   * instruction, as before, made every step allocate and backtracking
   * chase pointers.
   */
  private readonly hIdx: number[] = [];
  private readonly hPrev: number[] = [];
  private readonly hStack: number[] = [];
  private hLen = 0;
  /** the entry of the instruction being walked, or -1 when it has none (yet) */
  private entryAt = -1;
  /** the next instruction walked starts the current state's stretch: it gets an entry */
  private forceEntry = true;
  /** the last instruction entered in the current state's stretch (-1: none yet) */
  private curLast = -1;
  /**
   * The current stretch's generation: it changes whenever the stretch
   * does other than by growing (a checkpoint starts a new one, a pop
   * switches paths, a global function's walk starts), which is when
   * `memo` stops describing it.
   */
  private histGen = 0;
  /**
   * The last MEMOS precision walks over the current stretch, for later
   * ones to reuse (see Memo), and which one the next replaces. A loop
   * asking for the same registers every iteration then walks back one
   * iteration, not the whole stretch since the last checkpoint (the
   * kernel walks it all: a bounded loop spent a third of its verification
   * backtracking). Not at log level 2, which prints every step.
   */
  private memos: Memo[] | undefined;
  /** segment()'s summaries, per first instruction, and its scratch masks (frame 0's register mask only is ever set) */
  private readonly segments: (Segment | undefined)[] = [];
  private readonly segRegs = new Array<number>(MAX_CALL_FRAMES).fill(0);
  private readonly segStack = new Array<number>(2 * MAX_CALL_FRAMES).fill(0);
  /** markPrecise's memos that can apply to the walk in progress */
  private readonly memoCands: Memo[] = [];
  private memoNext = 0;
  /** the key of the walk in progress (its first step's visit and masks), until it is stored as a memo */
  private readonly keyRegs = new Array<number>(MAX_CALL_FRAMES).fill(0);
  private readonly keyStack = new Array<number>(2 * MAX_CALL_FRAMES).fill(0);

  constructor(
    private readonly insns: readonly Slot[],
    private readonly env: ModernEnv,
    private readonly prune: Uint8Array,
    subprogs: number[],
    log: ModernLog,
  ) {
    this.log = log;
    this.source = env.sourceLines?.length ? new SourceLinePrinter(env.sourceLines) : undefined;
    this.explored = new Array(insns.length);
    this.visited = new Uint8Array(insns.length);
    this.ptrKind = new Uint8Array(insns.length);
    this.immRegs = new Array<Reg | undefined>(insns.length);
    this.subprogs = subprogs;
    this.stackDepth = subprogs.map(() => 0);
    this.called = new Uint8Array(subprogs.length);
    // helper calls that take a callback are prune points (the kernel's calls_callback): each
    // return from the callback comes back to the call, and its states must converge there
    this.cbSite = new Uint8Array(insns.length);
    for (let i = 0; i < insns.length; i++) {
      const s = insns[i]!;
      if (s.code === (BPF_JMP | BPF_CALL) && s.src === 0 && s.imm >= 0 && s.imm < env.profile.maxHelperId && env.funcProto(s.imm)?.callback) {
        this.cbSite[i] = 1;
        prune[i] = 1;
      }
    }
  }

  // ---- failures and the log ----

  private fail(errno: VerifyError['errno'], msg: string): never {
    this.log.print(msg + '\n');
    throw new Fail(errno, msg, this.idx);
  }

  private get regs(): Reg[] {
    return this.cur.frames[this.cur.curframe]!.regs;
  }

  private scratchReg(r: number): void {
    this.scratchRegs |= 1 << r;
  }

  private scratchSlot(spi: number): void {
    // the marks are read only to print states: no set to keep without a log
    if (this.log.level && this.scratchStack !== 'all') this.scratchStack.add(spi);
  }

  private get scratched(): boolean {
    return this.scratchRegs !== 0 || this.scratchStack === 'all' || this.scratchStack.size > 0;
  }

  /** print_verifier_state of the current frame, only what was scratched, then clear the marks. */
  private scratchedStateStr(): string {
    const f = this.cur.curframe;
    const all = this.scratchStack === 'all';
    let stackMask = 0n;
    if (this.scratchStack !== 'all') for (const s of this.scratchStack) stackMask |= 1n << BigInt(s);
    const s = stateStr(this.cur, f, false, all ? 0x7ff : this.scratchRegs, all ? (1n << 64n) - 1n : stackMask);
    this.scratchRegs = 0;
    this.scratchStack = new Set();
    return s;
  }

  /** print_insn_state: the scratched state after the instruction line, or on a line of its own. */
  private printInsnState(): void {
    if (!this.log.level) return;
    const text = this.scratchedStateStr();
    if (this.prevLogPos && this.prevLogPos === this.log.pos) {
      this.log.reset(this.prevLogPos - 1);
      const pos = this.prevInsnPrintPos;
      // the kernel's vlog_alignment: the state starts at a column that is a multiple of 8, at least 40
      const width = Math.ceil(Math.max(pos + 4, 40) / 8) * 8 - pos - 1;
      this.log.print(' '.repeat(width) + ';');
    } else {
      this.log.print(`${this.idx}:`);
    }
    this.log.print(text + '\n');
  }

  private markAllScratched(): void {
    this.scratchRegs = 0x7ff;
    this.scratchStack = 'all';
  }

  // ---- registers ----

  /** check_reg_arg(SRC_OP): readable, and a read for liveness. */
  private srcOp(r: number): Reg {
    if (r >= 11) this.fail('EINVAL', `R${r} is invalid`);
    this.scratchReg(r);
    const reg = this.regs[r]!;
    if (reg.type === RT.NOT_INIT) this.fail('EACCES', `R${r} !read_ok`);
    // the frame pointer is never written: no need to mark it
    if (r !== 10) this.markRead(this.cur, this.cur.curframe, r, true);
    return reg;
  }

  /** check_reg_arg(DST_OP_NO_MARK). */
  private dstOp(r: number): void {
    if (r >= 11) this.fail('EINVAL', `R${r} is invalid`);
    this.scratchReg(r);
    if (r === 10) this.fail('EACCES', 'frame pointer is read only');
  }

  private setReg(r: number, v: Reg, frame = this.cur.curframe): void {
    this.cur.own(frame).regs[r] = v;
    const l = this.cur.live[frame]!;
    l[1] = l[1]! | (1 << r);
  }

  /**
   * mark_reg_read: the value of register/slot `k` (0-10, 11+spi) of frame
   * `fi` at st matters, for st's checkpoints up the chain until a write
   * screens them. `screen`: st's own writes screen too.
   */
  private markRead(st: VState, fi: number, k: number, screen: boolean): void {
    let child = st;
    let p = st.parent;
    let writes = screen;
    while (p) {
      if (p.frames.length <= fi) break;
      if (writes && liveWritten(child.live[fi]!, k)) break;
      const l = p.live[fi]!;
      if (liveRead(l, k)) break;
      setLiveRead(l, k);
      child = p;
      p = p.parent;
      writes = true;
    }
  }

  /** One unit of pruning or backtracking work, against MODERN_WORK_LIMIT. */
  private work(): void {
    if (++this.workDone > MODERN_WORK_LIMIT) {
      this.fail('E2BIG', `BPF program is too complex: more than ${MODERN_WORK_LIMIT} state comparisons and precision steps after ${this.insnProcessed} insns`);
    }
  }

  private newId(): number {
    return ++this.idGen;
  }

  /** newId as a function value, for states_equal's check_scalar_ids (made once, not per pruning check). */
  private readonly fresh = (): number => this.newId();

  /**
   * The constant register of instruction `idx`, made once: its immediate
   * operand sign-extended, or zero-extended (`zext`, a 32-bit mov's).
   * Registers and scalars are immutable, so every visit shares it; a
   * program of constants allocated two scalars and two registers per
   * instruction visited, the most of its garbage.
   */
  private immReg(idx: number, imm: number, zext: boolean): Reg {
    let r = this.immRegs[idx];
    if (r === undefined) {
      // small immediates (most) are shared by every walker: a load of straight-line code visits
      // each instruction once, so the per-walker cache alone made one register per instruction
      if (imm >= -SMALL_IMM_MIN && imm < SMALL_IMM_MAX) r = SMALL_IMM[(imm + SMALL_IMM_MIN) * 2 + (zext ? 1 : 0)] ??= scalarReg(scalarMovImm(!zext, imm));
      else r = scalarReg(scalarMovImm(!zext, imm));
      this.immRegs[idx] = r;
    }
    return r;
  }

  /** An entry for the visit of `idx` being walked, reached from prevIdx. */
  private histEntry(idx: number): void {
    const k = this.hLen++;
    this.hIdx[k] = idx;
    this.hPrev[k] = this.prevIdx;
    this.hStack[k] = -1;
    this.entryAt = k;
  }

  /**
   * The visit of `idx` joins the current stretch: its history entry where
   * backtracking needs one (a jump target, or the stretch's first visit),
   * and it becomes the stretch's last instruction. At a prune point this
   * comes before the walk's own step but after the state comparison; a
   * pruned visit enters too (isStateVisited), as the kernel's
   * is_state_visited records the pruned instruction in the jump history
   * before propagate_precision backtracks from it.
   */
  private enterVisit(idx: number): void {
    if (idx !== this.prevIdx + 1) {
      this.histJumps++;
      this.histEntry(idx);
    } else if (this.forceEntry) {
      this.histEntry(idx);
    } else {
      this.entryAt = -1;
    }
    this.forceEntry = false;
    this.curLast = idx;
  }

  /** What backtracking must know of the instruction being walked (see hStack), in its entry. */
  private histNote(stack: number): void {
    if (this.entryAt < 0) this.histEntry(this.idx);
    this.hStack[this.entryAt] = stack;
  }

  // ---- precision (mark_chain_precision) ----

  /** Mark register `regno` of the current frame (and/or stack slots) precise along the path's checkpoints. */
  private markPrecise(regno: number, stackSlot = -1): void {
    const st0 = this.cur;
    const fr = st0.curframe;
    if (regno >= 0 && st0.frames[fr]!.regs[regno]!.type !== RT.SCALAR) return;
    if (regno < 0 && stackSlot < 0) return;
    this.clearMasks();
    if (regno >= 0) this.btRegs[fr] = 1 << regno;
    if (stackSlot >= 0) bitSet(this.btStack, stackSlot);
    this.markChain();
  }

  /** Empty backtracking's masks (btRegs, btStack) for a new walk. */
  private clearMasks(): void {
    // the masks are the walker's: a walk never runs inside another
    // (loops: Array.prototype.fill costs more than these few stores); bits are set only
    // right before a walk, so masks no walk has touched since the last clearing are clear
    // (a walk changes no mask of a frame past its own frames, see segment())
    const n = this.dirtyFrames;
    this.dirtyFrames = 0;
    for (let f = 0; f < n; f++) this.btRegs[f] = 0;
    for (let k = 0; k < 2 * n; k++) this.btStack[k] = 0;
  }

  /** __mark_chain_precision: walk the path back from the current state with the masks set, marking its checkpoints. */
  private markChain(): void {
    const st0 = this.cur;
    if (st0.frames.length > this.dirtyFrames) this.dirtyFrames = st0.frames.length;
    const fr = st0.curframe;
    const regs = this.btRegs;
    const stack = this.btStack;
    const log2 = this.log.level >= 2;
    const hIdx = this.hIdx, hPrev = this.hPrev, hStack = this.hStack;
    const nFrames = st0.frames.length;
    // this walk's memo key (keyI < 0: none yet; -2: no memo at level 2) and its steps from there
    let keyI = log2 ? -2 : -1, keyP = 0, steps = 0;
    // the memos this walk may meet: of this stretch, from this frame
    const cands = this.memoCands;
    let nCands = 0;
    // a quick filter: bit (i & 31) set for each candidate's instruction i
    let candBits = 0;
    const memos = this.memos;
    if (!log2 && memos !== undefined) {
      for (let k = 0; k < MEMOS; k++) {
        const m = memos[k]!;
        if (m.gen === this.histGen && m.fr === fr) {
          cands[nCands++] = m;
          candBits |= 1 << (m.i & 31);
        }
      }
    }
    let st: VState | null = st0;
    let skipFirst = true;
    let subseq = -1;
    // the stretch being walked back: its last instruction and its entries [start, p)
    let last = this.curLast;
    let start = st0.histStart;
    let p = this.hLen;
    while (st) {
      if (log2) this.log.print(`mark_precise: frame${fr}: last_idx ${last >= 0 ? last : st.insnIdx} first_idx ${st.firstInsn} subseq_idx ${subseq} \n`);
      // the stretch's visits, newest first (its first visit always has an entry)
      for (let i = last; i >= 0;) {
        // this visit's entry, if it has one, is the newest entry not yet passed (see hIdx)
        const has = p > start && hIdx[p - 1] === i;
        if (skipFirst) {
          skipFirst = false;
        } else {
          // memos are made on the current stretch (st0's) and met on it or, once it is a
          // checkpoint's, on that checkpoint's stretch (the walk that runs past a new checkpoint)
          if (keyI !== -2 && (st === st0 || nCands > 0)) {
            if (keyI === -1 && st === st0) {
              keyI = i;
              keyP = p;
              copyMasks(regs, stack, this.keyRegs, this.keyStack, nFrames);
            }
            let m: Memo | undefined;
            if ((candBits >>> (i & 31)) & 1) for (let k = 0; k < nCands; k++) {
              const c = cands[k]!;
              if (c.i === i && c.p === p && sameMasks(regs, stack, c.regs, c.stack, nFrames)) {
                m = c;
                break;
              }
            }
            if (m) {
              // the rest of this stretch's walk is the memo's: its steps count as done
              this.workDone += m.steps - 1;
              this.work();
              steps += m.steps;
              const out = m.out;
              copyMasks(m.outRegs, m.outStack, regs, stack, nFrames);
              // met at its first step, this walk is that memo again
              if (st === st0 && (i !== keyI || p !== keyP)) this.storeMemo(keyI, keyP, fr, steps, out, regs, stack);
              if (out === 2) return this.markAllPrecise(st0);
              if (out === 1) return;
              // stored above (or met at its key): not again after the loop, where a second copy
              // would push another memo out of the ring
              if (st === st0) keyI = -3;
              break;
            }
            if (st === st0) steps++;
          }
          // A run of visits without history entries (i, i-1, ... down to the next entry's
          // visit) walked back at once, by a summary made once per run and mask: it is a
          // function of the instructions alone while the stack masks are empty and one frame
          // is walked (the other frames' masks are empty then). Same marks, same steps
          // counted; a memo the run would have met inside is missed, which changes nothing.
          if (!log2 && !has && nFrames === 1 && stack[0] === 0 && stack[1] === 0 && p > start) {
            const e = hIdx[p - 1]!;
            const n = i - e;
            if (n > 1 && this.workDone + n <= MODERN_WORK_LIMIT) {
              const seg = this.segment(i, e, regs[0]!);
              const k = seg.kind === 0 ? n : seg.k;
              this.workDone += k;
              if (st === st0) steps += k - 1;
              regs[0] = seg.out;
              if (seg.kind === 2) {
                if (keyI >= 0 && st === st0) this.storeMemo(keyI, keyP, fr, steps, 2, regs, stack);
                return this.markAllPrecise(st0);
              }
              if (seg.kind === 1) {
                if (keyI >= 0 && st === st0) this.storeMemo(keyI, keyP, fr, steps, 1, regs, stack);
                return;
              }
              i = e;
              continue;
            }
          }
          if (log2) this.log.print(`mark_precise: frame${fr}: regs=${btRegsStr(regs, fr)} stack=${btStackStr(stack, fr)} before ${i}: ${modernInsnText(this.insns, i)}\n`);
          this.work();
          if (this.backtrack(i, has ? hStack[p - 1]! : -1, fr, regs, stack)) {
            if (keyI >= 0 && st === st0) this.storeMemo(keyI, keyP, fr, steps, 2, regs, stack);
            return this.markAllPrecise(st0);
          }
          if (nFrames === 1 ? regs[0] === 0 && stack[0] === 0 && stack[1] === 0 : emptyMasks(regs, stack, nFrames)) {
            if (keyI >= 0 && st === st0) this.storeMemo(keyI, keyP, fr, steps, 1, regs, stack);
            return;
          }
        }
        if (has) {
          if (--p === start) break;
          i = hPrev[p]!;
        } else {
          i--;
        }
      }
      if (keyI >= 0 && st === st0) this.storeMemo(keyI, keyP, fr, steps, 0, regs, stack);
      // the rest of the walk makes no memo (walks are stored for the current stretch only)
      if (keyI !== -2) keyI = -3;
      skipFirst = false;
      subseq = st.firstInsn;
      st = st.parent;
      if (!st) return;
      last = st.lastInsn;
      start = st.histStart;
      p = st.histEnd;
      // the memos made while st's stretch was the current one (see VState.gen)
      nCands = 0;
      candBits = 0;
      if (keyI !== -2 && memos !== undefined && st.gen >= 0) {
        for (let k = 0; k < MEMOS; k++) {
          const m = memos[k]!;
          if (m.gen === st.gen && m.fr === fr) {
            cands[nCands++] = m;
            candBits |= 1 << (m.i & 31);
          }
        }
      }
      if (!log2 && nFrames === 1 && st.frames.length === 1 && stack[0] === 0 && stack[1] === 0) {
        // one frame, registers only (the other frames' masks are empty: see segment()): the
        // loop below for frame 0, over the mask's set bits
        const frame = st.frames[0]!;
        for (let w = regs[0]!; w !== 0; w &= w - 1) {
          const i = 31 - Math.clz32(w & -w);
          const reg = frame.regs[i]!;
          if (reg.type !== RT.SCALAR || reg.precise) regs[0] = regs[0]! & ~(1 << i);
          else st.own(0).regs[i] = regPrecise(reg);
        }
        if (regs[0] === 0) return;
        continue;
      }
      let any = false;
      for (let f = Math.min(st.frames.length, MAX_CALL_FRAMES) - 1; f >= 0; f--) {
        const frame = st.frames[f]!;
        if (regs[f]) {
          for (let i = 0; i < 11; i++) {
            if (!(regs[f]! & (1 << i))) continue;
            const reg = frame.regs[i]!;
            if (reg.type !== RT.SCALAR || reg.precise) regs[f] = regs[f]! & ~(1 << i);
            else st.own(f).regs[i] = regPrecise(reg);
          }
        }
        if (frameAny(stack, f)) {
          for (let spi = 0; spi < SLOTS; spi++) {
            if (!bitHas(stack, f * 64 + spi)) continue;
            const reg = frame.spilled[spi];
            // past the frame's stack (Frame): no spill there
            if (reg === undefined || frame.stype[spi * 8 + 7] !== ST.SPILL || reg.type !== RT.SCALAR || reg.precise) bitClear(stack, f * 64 + spi);
            else st.own(f).spilled[spi] = regPrecise(reg);
          }
        }
        if (f === fr && log2) this.log.print(`mark_precise: frame${f}: parent state regs=${btRegsStr(regs, f)} stack=${btStackStr(stack, f)}: ${stateStr(st, f, true, 0, 0n)}\n`);
        if (regs[f] || frameAny(stack, f)) any = true;
      }
      for (let f = st.frames.length; f < MAX_CALL_FRAMES; f++) if (regs[f] || frameAny(stack, f)) any = true;
      if (!any) return;
    }
  }

  /**
   * Backtracking over the instructions i, i-1, ..., e+1 in frame 0 with the
   * register mask m and empty stack masks, each visit without a history
   * entry: kind 0 walked them all, leaving the mask `out`; kind 1 the mask
   * emptied at the k-th; kind 2 the k-th gave up (mark everything precise),
   * `out` the mask before it. Made once per run and mask (the last one per i).
   */
  private segment(i: number, e: number, m: number): Segment {
    let seg = this.segments[i];
    if (seg !== undefined && seg.e === e && seg.m === m) return seg;
    const r = this.segRegs, z = this.segStack;
    r[0] = m;
    let kind = 0, k = 0;
    for (let v = i; v > e; v--) {
      k++;
      if (this.backtrack(v, -1, 0, r, z)) {
        kind = 2;
        break;
      }
      if (r[0] === 0) {
        kind = 1;
        break;
      }
    }
    seg = { e, m, kind, k, out: r[0]! };
    r[0] = 0;
    this.segments[i] = seg;
    return seg;
  }

  /** The memo of a walk of the current stretch from its key (keyRegs/keyStack, the masks there) to its end. */
  private storeMemo(i: number, p: number, fr: number, steps: number, out: number, regs: readonly number[], stack: readonly number[]): void {
    // made at the first walk: most programs never need one, and a load makes a walker
    this.memos ??= Array.from({ length: MEMOS }, () => new Memo());
    const m = this.memos[this.memoNext]!;
    this.memoNext = (this.memoNext + 1) % MEMOS;
    m.gen = this.histGen;
    m.i = i;
    m.p = p;
    m.fr = fr;
    m.steps = steps;
    m.out = out;
    copyMasks(this.keyRegs, this.keyStack, m.regs, m.stack, fr + 1);
    copyMasks(regs, stack, m.outRegs, m.outStack, fr + 1);
  }

  /** mark_all_scalars_precise: the fallback where backtracking cannot follow. */
  private markAllPrecise(st0: VState): void {
    for (let st = st0.parent; st; st = st.parent) {
      // a stored state marked before had its parents marked then too (they change only by marks): the
      // walk stops there, else every callback run would walk the whole chain of runs before it again
      if (st.allPrecise) break;
      st.allPrecise = true;
      for (let f = 0; f < st.frames.length; f++) {
        const frame = st.frames[f]!;
        for (let i = 0; i < 11; i++) {
          const reg = frame.regs[i]!;
          if (reg.type === RT.SCALAR && !reg.precise) st.own(f).regs[i] = regPrecise(reg);
        }
        for (let spi = 0; spi < frame.stype.length >> 3; spi++) {
          const reg = frame.spilled[spi]!;
          if (frame.stype[spi * 8 + 7] === ST.SPILL && reg.type === RT.SCALAR && !reg.precise) st.own(f).spilled[spi] = regPrecise(reg);
        }
      }
    }
  }

  /**
   * backtrack_insn: what instruction `idx` needs precise before it, given
   * what is needed after it; `hstack` is its visit's hStack (-1 without
   * one). True when backtracking cannot follow (mark everything precise).
   */
  private backtrack(idx: number, hstack: number, fr: number, regs: number[], stack: number[]): boolean {
    const insn = this.insns[idx]!;
    const cls = BPF_CLASS(insn.code);
    const op = BPF_OP(insn.code);
    const d = 1 << insn.dst;
    const s = 1 << insn.src;
    let m = regs[fr]!;
    if (cls === BPF_ALU || cls === BPF_ALU64) {
      if (!(m & d)) return false;
      if (op === BPF_MOV) {
        m &= ~d;
        if (BPF_SRC(insn.code) === BPF_X) m |= s;
      } else if (BPF_SRC(insn.code) === BPF_X) {
        m |= s;
      }
      regs[fr] = m;
      return false;
    }
    if (cls === BPF_LDX) {
      if (!(m & d)) return false;
      regs[fr] = m & ~d;
      if (hstack >= 0) bitSet(stack, hstack);
      return false;
    }
    if (cls === BPF_STX || cls === BPF_ST) {
      if (BPF_MODE(insn.code) === BPF_ATOMIC) {
        if (insn.imm & BPF_FETCH) {
          const load = insn.imm === BPF_CMPXCHG ? 1 : s;
          if (m & load) return true;
        }
        return false;
      }
      if (hstack < 0) return false;
      if (!bitHas(stack, hstack)) return false;
      bitClear(stack, hstack);
      if (cls === BPF_STX) regs[fr] = m | s;
      return false;
    }
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      if (op === BPF_CALL && insn.src === 1 && this.isGlobal(this.subprogs.indexOf(idx + insn.imm + 1))) {
        // a global function is a call that sets r0 and clobbers r1-r5, as a helper
        if (m & 0x3e) return true;
        regs[fr] = m & ~1;
        return false;
      }
      if (op === BPF_EXIT || (op === BPF_CALL && insn.src === 1)) {
        return regs.some((x) => x !== 0) || stack.some((x) => x !== 0);
      }
      if (op === BPF_CALL) {
        if (m & 0x3e) return true;
        regs[fr] = m & ~1;
        return false;
      }
      if (op === BPF_JA) return false;
      // linked scalars narrowed together need precision together
      if (hstack < -1) {
        const linked = -hstack - 2;
        if (m & linked) m |= linked;
      }
      if (BPF_SRC(insn.code) === BPF_X && m & (d | s)) m |= d | s;
      regs[fr] = m;
      return false;
    }
    if (cls === BPF_LD) {
      if (BPF_MODE(insn.code) === BPF_IMM) {
        regs[fr] = m & ~d;
        return false;
      }
      if (m & 0x3e) return true;
      if (BPF_MODE(insn.code) === BPF_IND && m & 1) return true;
      regs[fr] = m & ~1;
    }
    return false;
  }

  // ---- the walk ----

  run(): WalkResult {
    const log = this.log;
    const insns = this.insns;
    let doPrintState = false;
    this.startPos = log.pos;
    if (log.level) log.print(`${this.idx}:${stateStr(this.cur, 0, true, 0, 0n)}\n`);
    this.scratchRegs = 0;
    this.scratchStack = new Set();
    for (;;) {
      const idx = this.idx;
      if (idx < 0 || idx >= insns.length) this.fail('EFAULT', `invalid insn idx ${idx} insn_cnt ${insns.length}`);
      if (++this.insnProcessed > MODERN_INSN_LIMIT) this.fail('E2BIG', `BPF program is too large. Processed ${this.insnProcessed} insn`);
      let next: number;
      if (this.prune[idx] && this.isStateVisited(idx)) {
        if (log.level) {
          if (doPrintState) log.print(`\nfrom ${this.prevIdx} to ${idx}: safe\n`);
          else log.print(`${idx}: safe\n`);
        }
        next = PATH_END;
      } else {
        this.enterVisit(idx);
        if (log.level >= 2 && doPrintState) {
          log.print(`\nfrom ${this.prevIdx} to ${idx}:${stateStr(this.cur, this.cur.curframe, true, 0, 0n)}\n`);
          doPrintState = false;
        }
        if (log.level) {
          if (this.scratched) this.printInsnState();
          if (this.source) log.print(this.source.at(idx));
          this.prevLogPos = log.pos;
          log.print(`${idx}: ${modernInsnText(insns, idx)}\n`);
          this.prevInsnPrintPos = log.pos - this.prevLogPos;
          this.prevLogPos = log.pos;
        }
        this.visited[idx] = 1;
        next = this.step(insns[idx]!, idx);
        // the kernel's instruction history also gets an entry for each jump taken or not
        // (measured on the host: a two-instruction loop gets a checkpoint every 20 iterations)
        const code = insns[idx]!.code;
        if ((code & 7) === BPF_JMP32 || ((code & 7) === BPF_JMP && (code & 0xf0) !== BPF_CALL && (code & 0xf0) !== BPF_EXIT)) this.histJumps++;
      }
      if (next === PATH_END) {
        // process_bpf_exit: this path is done
        this.jmpsProcessed++;
        this.markAllScratched();
        for (let st = this.cur.parent; st; st = st.parent) {
          if (--st.branches > 0) break;
          // an evicted checkpoint whose paths are all done is freed (peak_states)
          if (st.miss < 0) this.liveStates--;
        }
        const p = this.pending.pop();
        if (!p) break;
        if (log.level === 1) log.reset(p.logPos);
        this.cur = p.st;
        // what the finished path added to the history is not needed again
        this.hLen = p.st.histEnd;
        this.histGen++;
        this.curLast = p.prev;
        this.prevIdx = p.prev;
        this.idx = p.idx;
        this.histJumps = 0;
        doPrintState = true;
        continue;
      }
      this.prevIdx = idx;
      this.idx = next;
    }
    if (log.level === 1) log.reset(this.startPos);
    return { insnProcessed: this.insnProcessed, visited: this.visited, log: log.text, ctxAccesses: this.ctxAccesses };
  }

  /** The final statistics line. */
  statsLine(): string {
    return `processed ${this.insnProcessed} insns (limit ${MODERN_INSN_LIMIT}) max_states_per_insn ${this.maxStatesPerInsn} total_states ${this.totalStates} peak_states ${this.peakStates} mark_read 0\n`;
  }

  /** The maximum stack depth each subprogram used, for the combined-stack check. */
  depths(): readonly number[] {
    return this.stackDepth;
  }

  /** push_stack: the other side of a branch, to walk later from `target`. */
  private push(target: number, prev: number, st?: VState): VState {
    // jmps_processed: on the 6.18 host, the states it adds count forks and path ends, not
    // unconditional or predicted jumps (measured: a loop whose branches are all predicted
    // adds a state every 8 instructions)
    this.jmpsProcessed++;
    const copy = st ?? this.cur.copy();
    copy.histEnd = this.hLen;
    this.pending.push({ st: copy, idx: target, prev, logPos: this.log.pos });
    if (this.cur.parent) this.cur.parent.branches++;
    if (this.pending.length > JMP_SEQ_LIMIT) this.fail('E2BIG', `The sequence of ${this.pending.length} jumps is too complex.`);
    return copy;
  }

  // ---- pruning ----

  private isStateVisited(idx: number): boolean {
    const cur = this.cur;
    let addNew = true;
    // a callback's call always leaves a checkpoint (the kernel's force checkpoint): the callback's
    // returns converge against it
    const force = this.histJumps >= 40 || this.cbSite[idx] === 1;
    if (!force && this.jmpsProcessed - this.prevJmps < 2 && this.insnProcessed - this.prevInsns < 8) addNew = false;
    const list = (this.explored[idx] ??= []);
    let cnt = 0;
    const fresh = this.fresh;
    // states still being explored (loops) are compared exactly only when the current frame's
    // registers agree in type, fixed offset and tnum (sameCurRegs): anything else cannot be an
    // infinite loop
    // newest first, as the kernel's list is; states that keep missing are dropped from the
    // list (the kernel's miss_cnt > 3 * hit_cnt + 3 eviction): a loop that runs long leaves
    // a checkpoint every few iterations, and without eviction each visit of the loop head
    // would compare against all of them (quadratic: ~31 s to reach the 1M-insn limit)
    let evicted = false;
    for (let k = list.length - 1; k >= 0; k--) {
      const old = list[k]!;
      cnt++;
      this.work();
      if (old.branches > 0 && this.cbSite[idx]) {
        // a callback that came back to its call: converged when this state is within one
        // still being explored (RANGE_WITHIN); no infinite-loop check here, as in the kernel
        if (old.frames.length === cur.frames.length && statesEqual(old, cur, false, fresh, true)) {
          old.hit++;
          this.propagate(old, idx);
          if (evicted) this.explored[idx] = list.filter((x) => x.miss >= 0);
          return true;
        }
      } else if (old.branches > 0) {
        if (sameCurRegs(old, cur) && old.cbUnroll === cur.cbUnroll && old.frames.length === cur.frames.length && statesEqual(old, cur, true, fresh)) {
          if (this.source) this.log.print(this.source.at(idx));
          this.log.print(`infinite loop detected at insn ${idx}\n`);
          this.log.print(`cur state:${stateStr(cur, cur.curframe, true, 0, 0n)}\n`);
          this.log.print(`old state:${stateStr(old, cur.curframe, true, 0, 0n)}\n`);
          throw new Fail('EINVAL', `infinite loop detected at insn ${idx}`, idx);
        }
        if (!force && this.jmpsProcessed - this.prevJmps < 20 && this.insnProcessed - this.prevInsns < 100) addNew = false;
      } else if (old.frames.length === cur.frames.length && statesEqual(old, cur, false, fresh)) {
        old.hit++;
        this.propagate(old, idx);
        if (evicted) this.explored[idx] = list.filter((x) => x.miss >= 0);
        return true;
      }
      if (addNew) old.miss++;
      if (old.miss > old.hit * 3 + 3) {
        // evicted: freed now if no path below it is still being walked, else when the last is
        old.miss = -1;
        evicted = true;
        if (old.branches === 0) this.liveStates--;
      }
    }
    if (evicted) this.explored[idx] = list.filter((x) => x.miss >= 0);
    if (cnt > this.maxStatesPerInsn) this.maxStatesPerInsn = cnt;
    if (!addNew) return false;
    this.totalStates++;
    if (++this.liveStates > this.peakStates) this.peakStates = this.liveStates;
    this.prevJmps = this.jmpsProcessed;
    this.prevInsns = this.insnProcessed;
    const nw = cur.copy(cur.live);
    cur.live = cur.live.slice();
    nw.insnIdx = idx;
    nw.branches = 1;
    nw.histEnd = this.hLen;
    nw.lastInsn = this.curLast;
    // the stretch's memos stay valid for it: its history entries stay as they are while any
    // state below the checkpoint is walked (a pop below it truncates them, but then no path
    // through it is left to backtrack), and the generation is never given to another stretch
    nw.gen = this.histGen;
    this.explored[idx]!.push(nw);
    cur.parent = nw;
    cur.firstInsn = idx;
    cur.histStart = this.hLen;
    this.histGen++;
    this.forceEntry = true;
    this.curLast = -1;
    this.histJumps = 0;
    // the checkpoint took cur's flags as they were (above); cur's stretch starts with none
    for (let f = 0; f < cur.live.length; f++) cur.live[f] = newLive(0);
    return false;
  }

  /**
   * propagate_liveness and propagate_precision: what old's paths needed,
   * cur's checkpoints need too. Old's registers are as they were before
   * `idx`, where cur was pruned: the backtracking walk starts at idx (and
   * skips it, as a walk skips the instruction it starts from), so the
   * instruction before it is the first backtracked. Started from the
   * instruction before, the walk skipped that one: after `r2 = r1` it
   * marked r2, not r1, precise in cur's checkpoints, and a checkpoint whose
   * r1 stayed imprecise then pruned paths with any r1.
   */
  private propagate(old: VState, idx: number): void {
    const cur = this.cur;
    this.enterVisit(idx);
    for (let f = 0; f < old.frames.length; f++) {
      const l = old.live[f]!;
      // the read bits: registers (word 0), then slots (words 2 and 3)
      for (let w = l[0]!; w !== 0; w &= w - 1) this.markRead(cur, f, 31 - Math.clz32(w & -w), false);
      for (let h = 0; h < 2; h++) for (let w = l[2 + h]!; w !== 0; w &= w - 1) this.markRead(cur, f, 11 + 32 * h + 31 - Math.clz32(w & -w), false);
    }
    // propagate_precision: every frame's precise registers and spilled scalars (those its paths
    // read) in the masks together, one walk back for all, as the kernel's (and its level-2
    // line per frame, `frame 1: propagating r6,fp-8`); a caller's bits ride along until the
    // walk reaches the call, where backtrack() gives up and marks everything precise
    this.clearMasks();
    const regs = this.btRegs;
    const stack = this.btStack;
    let any = false;
    // the names are for the level-2 line only: no strings made without it
    const names: string[] | undefined = this.log.level >= 2 ? [] : undefined;
    for (let f = old.frames.length - 1; f >= 0; f--) {
      const o = old.frames[f]!;
      const live = old.live[f]!;
      let found = false;
      if (names) names.length = 0;
      for (let i = 0; i < 11; i++) {
        const r = o.regs[i]!;
        if (r.type !== RT.SCALAR || !r.precise || !liveRead(live, i)) continue;
        regs[f] = regs[f]! | (1 << i);
        found = true;
        names?.push(`r${i}`);
      }
      for (let spi = 0; spi < o.stype.length >> 3; spi++) {
        const r = o.spilled[spi]!;
        if (o.stype[spi * 8 + 7] !== ST.SPILL || r.type !== RT.SCALAR || !r.precise || !liveRead(live, 11 + spi)) continue;
        bitSet(stack, f * 64 + spi);
        found = true;
        names?.push(`fp${-(spi + 1) * 8}`);
      }
      if (!found) continue;
      any = true;
      if (names) this.log.print(`frame ${f}: propagating ${names.join(',')}\n`);
    }
    if (any) this.markChain();
  }

  // ---- instructions ----

  private step(insn: Slot, idx: number): number {
    switch (BPF_CLASS(insn.code)) {
      case BPF_ALU:
      case BPF_ALU64:
        this.alu(insn, idx);
        return idx + 1;
      case BPF_LDX:
        this.ldx(insn, idx);
        return idx + 1;
      case BPF_STX:
      case BPF_ST:
        this.store(insn, idx);
        return idx + 1;
      case BPF_JMP:
      case BPF_JMP32:
        return this.jmp(insn, idx);
      case BPF_LD:
        return this.ld(insn, idx);
      default:
        return this.fail('EINVAL', `unknown insn class ${BPF_CLASS(insn.code)}`);
    }
  }

  // ---- ALU ----

  private alu(insn: Slot, idx: number): void {
    const op = BPF_OP(insn.code);
    const alu64 = BPF_CLASS(insn.code) === BPF_ALU64;
    const x = BPF_SRC(insn.code) === BPF_X;
    if (op === BPF_END || op === BPF_NEG) {
      if (op === BPF_NEG) {
        if (x || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) this.fail('EINVAL', 'BPF_NEG uses reserved fields');
      } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (alu64 && x)) {
        this.fail('EINVAL', 'BPF_END uses reserved fields');
      }
      const dst = this.srcOp(insn.dst);
      this.dstOp(insn.dst);
      if (dst.type !== RT.SCALAR) return this.ptrAlu(insn, dst, scalarImm(op === BPF_NEG ? 0 : insn.imm), insn.dst, true);
      const v = op === BPF_NEG
        ? scalarAlu(BPF_NEG, alu64, dst.s, dst.s)
        : scalarEnd(alu64 ? 'bswap' : x ? 'be' : 'le', insn.imm as 16 | 32 | 64, dst.s);
      this.setReg(insn.dst, scalarReg(v));
      return;
    }
    if (op === BPF_MOV) {
      if (x) {
        const okOff = insn.off === 0 || insn.off === 8 || insn.off === 16 || (alu64 && insn.off === 32);
        if (!okOff || insn.imm !== 0) this.fail('EINVAL', 'BPF_MOV uses reserved fields');
        this.srcOp(insn.src);
      } else if (insn.src !== 0 || insn.off !== 0) {
        this.fail('EINVAL', 'BPF_MOV uses reserved fields');
      }
      this.dstOp(insn.dst);
      if (!x) {
        this.setReg(insn.dst, this.immReg(idx, insn.imm, !alu64));
        return;
      }
      const src = this.regs[insn.src]!;
      if (src.type !== RT.SCALAR) {
        // a pointer copied whole keeps its type; a part of one is a number
        this.setReg(insn.dst, alu64 && insn.off === 0 ? src : UNKNOWN);
        return;
      }
      let v: Scalar;
      let linked = false;
      if (insn.off === 0) {
        v = scalarMov(alu64, src.s);
        linked = alu64 || (src.s.umaxH === 0);
      } else {
        v = scalarMovsx(alu64, src.s, insn.off as 8 | 16 | 32);
        linked = src.s.umaxH === 0 && (src.s.umaxL >>> 0) < 2 ** (insn.off - 1);
      }
      let id = 0;
      if (linked && !tnumIsConst(src.s.varOff)) {
        id = src.id;
        if (!id) {
          id = this.newId();
          this.cur.own(this.cur.curframe).regs[insn.src] = regWith(src, { id });
        }
      }
      this.setReg(insn.dst, scalarRegOf(v, id, src.precise && v === src.s));
      return;
    }
    if (op > BPF_END) this.fail('EINVAL', `invalid BPF_ALU opcode ${op.toString(16)}`);
    const signedOk = insn.off === 0 || (insn.off === 1 && (op === BPF_DIV || op === BPF_MOD));
    if (x) {
      if (insn.imm !== 0 || !signedOk) this.fail('EINVAL', 'BPF_ALU uses reserved fields');
      this.srcOp(insn.src);
    } else if (insn.src !== 0 || !signedOk) {
      this.fail('EINVAL', 'BPF_ALU uses reserved fields');
    }
    const dst = this.srcOp(insn.dst);
    if ((op === BPF_MOD || op === BPF_DIV) && !x && insn.imm === 0) this.fail('EINVAL', 'div by zero');
    if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && !x) {
      if (insn.imm < 0 || insn.imm >= (alu64 ? 64 : 32)) this.fail('EINVAL', `invalid shift ${insn.imm}`);
    }
    this.dstOp(insn.dst);
    if (!x && dst.type === RT.SCALAR && op !== BPF_DIV && op !== BPF_MOD) {
      // a known number OP an immediate: the constant, without the immediate's register
      // (an exact dst never forks: maybe_fork_scalars wants the range [-1, 0])
      const v = scalarAluImmExact(op, alu64, dst.s, insn.imm);
      if (v !== undefined) return this.setReg(insn.dst, scalarReg(v));
    }
    const src = x ? this.regs[insn.src]! : this.immReg(idx, insn.imm, false);
    if (x && src.type !== RT.SCALAR) {
      if (dst.type !== RT.SCALAR) {
        // two pointers: only their difference is allowed, and it is a number
        if (op === BPF_SUB) return this.setReg(insn.dst, UNKNOWN);
        this.fail('EACCES', `R${insn.dst} pointer ${ALU_STR[op]} pointer prohibited`);
      }
      // scalar += pointer
      this.markPrecise(insn.dst);
      return this.ptrAlu(insn, src, dst.s, insn.dst, false, true);
    }
    if (dst.type !== RT.SCALAR) {
      if (x) this.markPrecise(insn.src);
      return this.ptrAlu(insn, dst, src.s, insn.dst, false);
    }
    if (x && dst.precise) this.markPrecise(insn.src);
    const fork = scalarAluFork(op, dst.s, src.s);
    if (fork) {
      // maybe_fork_scalars: the 0 side walks the same instruction later
      const frame = this.cur.frames[this.cur.curframe]!;
      const owned = frame.owner === this.cur;
      const other = this.push(idx, idx);
      other.own(other.curframe).regs[insn.dst] = regWith(dst, { s: fork[1] });
      // as for a branch (condJmp): the other side copied the frame, which is this path's alone again
      if (owned) frame.owner = this.cur;
      this.setReg(insn.dst, regWith(dst, { s: fork[0] }));
    }
    const d = this.regs[insn.dst]!;
    this.setReg(insn.dst, scalarReg(scalarAlu(op, alu64, d.s, src.s)));
  }

  /** adjust_ptr_min_max_vals: pointer OP scalar (or scalar + pointer when `swapped`). */
  private ptrAlu(insn: Slot, ptr: Reg, off: Scalar, dstno: number, unary: boolean, swapped = false): void {
    const op = BPF_OP(insn.code);
    const alu64 = BPF_CLASS(insn.code) === BPF_ALU64;
    const known = tnumIsConst(off.varOff);
    if (!alu64) {
      if (op === BPF_SUB) return this.setReg(dstno, UNKNOWN);
      this.fail('EACCES', `R${dstno} 32-bit pointer arithmetic prohibited`);
    }
    if (ptr.maybeNull) this.fail('EACCES', `R${dstno} pointer arithmetic on ${typeStr(ptr)} prohibited, null-check it first`);
    switch (ptr.type) {
      case RT.PTR_TO_CTX: case RT.PTR_TO_MAP_VALUE: case RT.PTR_TO_MAP_KEY: case RT.PTR_TO_STACK: case RT.PTR_TO_PACKET_META:
      case RT.PTR_TO_PACKET: case RT.PTR_TO_MEM: case RT.PTR_TO_FUNC:
        break;
      default:
        // a map pointer plus a known 0 is still the map pointer
        if (ptr.type === RT.CONST_PTR_TO_MAP && known && off.value === 0n && op === BPF_ADD) break;
        this.fail('EACCES', `R${dstno} pointer arithmetic on ${typeStr(ptr)} prohibited`);
    }
    if (unary) this.fail('EACCES', `R${dstno} pointer arithmetic with ${ALU_STR[op]} operator prohibited`);
    // offsets from a dead branch may be inconsistent: the result is just a number
    if ((known && (off.sminH !== off.smaxH || off.sminL !== off.smaxL || off.uminH !== off.umaxH || off.uminL !== off.umaxL)) || scalarSanity(off)) {
      return this.setReg(dstno, UNKNOWN);
    }
    const tname = typeName(ptr.type);
    this.saneOffset(off, tname);
    this.saneOffset(ptr.s, tname, ptr.off);
    // a known offset is exact (checked above) and within BPF_MAX_VAR_OFF (saneOffset): its low
    // half is its value, an int32 (a double here would make every register's `off` a boxed double)
    const k = known ? off.sminL | 0 : 0;
    const ps = ptr.s;
    let res: Reg;
    switch (op) {
      case BPF_ADD: {
        if (known && Math.abs(ptr.off + k) < 2 ** 31) {
          res = regWithOff(ptr, ptr.off + k);
          break;
        }
        const smin = off.smin, smax = off.smax, umin = off.umin, umax = off.umax;
        let nsmin = ps.smin + smin, nsmax = ps.smax + smax;
        if (nsmin < S64_MIN || nsmin > S64_MAX || nsmax < S64_MIN || nsmax > S64_MAX) { nsmin = S64_MIN; nsmax = S64_MAX; }
        let numin = ps.umin + umin, numax = ps.umax + umax;
        if (numin > U64_MAX || numax > U64_MAX) { numin = 0n; numax = U64_MAX; }
        const s = scalarFrom({ varOff: tnumAdd(ps.varOff, off.varOff), smin: nsmin, smax: nsmax, umin: numin, umax: numax });
        res = regWith(ptr, { s, precise: false });
        if (isPkt(ptr)) res = regWith(res, { id: this.newId(), range: 0 });
        break;
      }
      case BPF_SUB: {
        if (swapped) this.fail('EACCES', `R${dstno} tried to subtract pointer from scalar`);
        if (ptr.type === RT.PTR_TO_STACK) this.fail('EACCES', `R${dstno} subtraction from stack pointer prohibited`);
        if (known && Math.abs(ptr.off - k) < 2 ** 31) {
          res = regWithOff(ptr, ptr.off - k);
          break;
        }
        const smin = off.smin, smax = off.smax, umin = off.umin, umax = off.umax;
        let nsmin = ps.smin - smax, nsmax = ps.smax - smin;
        if (nsmin < S64_MIN || nsmin > S64_MAX || nsmax < S64_MIN || nsmax > S64_MAX) { nsmin = S64_MIN; nsmax = S64_MAX; }
        let numin: bigint, numax: bigint;
        if (ps.umin < umax) { numin = 0n; numax = U64_MAX; } else { numin = ps.umin - umax; numax = ps.umax - umin; }
        const s = scalarFrom({ varOff: tnumSub(ps.varOff, off.varOff), smin: nsmin, smax: nsmax, umin: numin, umax: numax });
        res = regWith(ptr, { s, precise: false });
        if (isPkt(ptr)) res = regWith(res, { id: this.newId(), range: 0 });
        break;
      }
      case BPF_AND: case BPF_OR: case BPF_XOR:
        return this.fail('EACCES', `R${dstno} bitwise operator ${ALU_STR[op]} on pointer prohibited`);
      default:
        return this.fail('EACCES', `R${dstno} pointer arithmetic with ${ALU_STR[op]} operator prohibited`);
    }
    this.saneOffset(res.s, tname, res.off);
    this.setReg(dstno, res);
  }

  /** check_reg_sane_offset */
  private saneOffset(s: Scalar, tname: string, fixed?: number): void {
    // on the int32 halves: bigints only for a message
    const t = s.varOff;
    if (tnumIsConst(t) && !saneS64(t.vhi, t.vlo)) {
      this.fail('EINVAL', `math between ${tname} pointer and ${BigInt.asIntN(64, s.value)} is not allowed`);
    }
    if (fixed !== undefined && (fixed >= BPF_MAX_VAR_OFF || fixed <= -BPF_MAX_VAR_OFF)) this.fail('EINVAL', `${tname} pointer offset ${fixed} is not allowed`);
    if (s.sminH === -0x80000000 && s.sminL === 0) this.fail('EINVAL', `math between ${tname} pointer and register with unbounded min value is not allowed`);
    if (!saneS64(s.sminH, s.sminL)) this.fail('EINVAL', `value ${s.smin} makes ${tname} pointer be out of bounds`);
  }

  // ---- memory ----

  private ldx(insn: Slot, idx: number): void {
    const mode = BPF_MODE(insn.code);
    if ((mode !== BPF_MEM && mode !== BPF_MEMSX) || insn.imm !== 0 || (mode === BPF_MEMSX && BPF_SIZE(insn.code) === BPF_DW)) {
      this.fail('EINVAL', 'BPF_LDX uses reserved fields');
    }
    this.srcOp(insn.src);
    this.dstOp(insn.dst);
    const base = this.regs[insn.src]!.type;
    this.memAccess(idx, insn.src, insn.off, SIZE_BYTES[BPF_SIZE(insn.code)]!, false, insn.dst, mode === BPF_MEMSX);
    this.savePtrType(idx, base, insn.off);
  }

  /**
   * save_aux_ptr_type: one load or store instruction goes through the
   * context on every path or on none ('same insn cannot be used with
   * different pointers'), since a context access is rewritten at load
   * (convert_ctx_access); the context accesses are remembered for that.
   */
  private savePtrType(idx: number, type: number, off: number): void {
    const kind = type === RT.PTR_TO_CTX ? 1 : 2;
    const prev = this.ptrKind[idx]!;
    if (prev === 0) this.ptrKind[idx] = kind;
    else if (prev !== kind) this.fail('EINVAL', 'same insn cannot be used with different pointers');
    if (kind === 1) this.ctxAccesses.set(idx, off);
  }

  private store(insn: Slot, idx: number): void {
    const cls = BPF_CLASS(insn.code);
    const mode = BPF_MODE(insn.code);
    const size = SIZE_BYTES[BPF_SIZE(insn.code)]!;
    if (cls === BPF_STX && mode === BPF_ATOMIC) return this.atomic(insn, idx, size);
    if (cls === BPF_STX) {
      if (mode !== BPF_MEM || insn.imm !== 0) this.fail('EINVAL', 'BPF_STX uses reserved fields');
      this.srcOp(insn.src);
      this.srcOp(insn.dst);
      this.memAccess(idx, insn.dst, insn.off, size, true, insn.src, false);
      this.savePtrType(idx, this.regs[insn.dst]!.type, insn.off);
      return;
    }
    if (mode !== BPF_MEM || insn.src !== 0) this.fail('EINVAL', 'BPF_ST uses reserved fields');
    this.srcOp(insn.dst);
    this.memAccess(idx, insn.dst, insn.off, size, true, -1, false, insn.imm);
    this.savePtrType(idx, this.regs[insn.dst]!.type, insn.off);
  }

  private atomic(insn: Slot, idx: number, size: 1 | 2 | 4 | 8): void {
    const ops = [BPF_ADD, BPF_AND, BPF_OR, BPF_XOR];
    const imm = insn.imm;
    if (!(ops.includes(imm) || ops.includes(imm & ~BPF_FETCH) && imm & BPF_FETCH || imm === BPF_XCHG || imm === BPF_CMPXCHG)) {
      this.fail('EINVAL', `BPF_ATOMIC uses invalid atomic opcode ${(imm >>> 0).toString(16).padStart(2, '0')}`);
    }
    if (size !== 4 && size !== 8) this.fail('EINVAL', 'invalid atomic operand size');
    this.srcOp(insn.src);
    const dst = this.srcOp(insn.dst);
    if (imm === BPF_CMPXCHG) this.srcOp(0);
    const t = dst.type;
    if (t === RT.PTR_TO_CTX || isPkt(dst) || t === RT.PTR_TO_PACKET_END) {
      this.fail('EACCES', `BPF_ATOMIC stores into R${insn.dst} ${typeStr(dst)} is not allowed`);
    }
    let load = -1;
    if (imm & BPF_FETCH) {
      load = imm === BPF_CMPXCHG ? 0 : insn.src;
      this.dstOp(load);
    }
    // an atomic operation is always checked for alignment, whatever the pointer (strict_alignment_once)
    this.strictOnce = true;
    try {
      this.memAccess(idx, insn.dst, insn.off, size, false, -1, false);
      if (load >= 0) this.memAccess(idx, insn.dst, insn.off, size, false, load, false);
      this.memAccess(idx, insn.dst, insn.off, size, true, -1, false);
    } finally {
      this.strictOnce = false;
    }
  }

  /** Set while an atomic instruction's accesses are checked: alignment is then strict for every pointer type. */
  private strictOnce = false;

  /**
   * check_ptr_alignment as the kernel does it on x86 (which has efficient
   * unaligned access, so only the stack is always strict, and every pointer
   * for an atomic): the known bits of var_off + off + insn off must be a
   * multiple of the size. tsbpf's engines handle unaligned accesses, so this
   * is the kernel's rule kept for agreement, not for safety.
   */
  private alignment(regno: number, reg: Reg, insnOff: number, size: number): void {
    if (size === 1) return;
    const desc = reg.type === RT.PTR_TO_STACK ? 'stack ' : reg.type === RT.PTR_TO_MAP_VALUE ? 'value '
      : reg.type === RT.PTR_TO_CTX ? 'context ' : reg.type === RT.PTR_TO_MAP_KEY ? 'map_key ' : reg.type === RT.PTR_TO_MEM ? 'mem ' : undefined;
    if (desc === undefined) return;
    if (reg.type !== RT.PTR_TO_STACK && !this.strictOnce) return;
    // reg.off and insnOff are within BPF_MAX_VAR_OFF and 16 bits: their sum is an int32
    const fixed = reg.off + insnOff;
    const v = reg.s.varOff;
    // a known offset (most accesses): the sum's low bits, without making the tnums
    if (v.mhi === 0 && v.mlo === 0 && (((v.vlo + fixed) | 0) & (size - 1)) === 0) return;
    const at = tnumAdd(v, tnumConstHL(fixed < 0 ? -1 : 0, fixed));
    if (tnumIsAligned(at, size)) return;
    const varOff = tnumIsConst(reg.s.varOff) ? String(reg.s.value) : tnumStr(reg.s.varOff);
    this.fail('EACCES', `misaligned ${desc}access off ${varOff}+${reg.off}+${insnOff} size ${size}`);
    void regno;
  }

  /**
   * check_mem_access: `size` bytes at R`regno` + off, read into R`valueReg`
   * (write: from it; -1: no register, `stImm` the stored constant of BPF_ST).
   */
  private memAccess(idx: number, regno: number, off: number, size: 1 | 2 | 4 | 8, write: boolean, valueReg: number, sx: boolean, stImm?: number): void {
    const reg = this.regs[regno]!;
    if (!reg.maybeNull) this.alignment(regno, reg, off, size);
    off += reg.off;
    let loaded: Reg | undefined;
    switch (reg.type) {
      case RT.PTR_TO_MAP_VALUE:
      case RT.PTR_TO_MAP_KEY:
      case RT.PTR_TO_MEM: {
        if (reg.maybeNull) this.fail('EACCES', `R${regno} invalid mem access '${typeStr(reg)}'`);
        const limit = reg.type === RT.PTR_TO_MEM ? reg.range : reg.type === RT.PTR_TO_MAP_KEY ? reg.map!.keySize : reg.map!.valueSize;
        if (reg.type === RT.PTR_TO_MAP_KEY && write) this.fail('EACCES', `R${regno} cannot write into ${typeStr(reg)}`);
        this.memRegion(regno, reg, off, size, limit, false);
        if (!write && valueReg >= 0) loaded = UNKNOWN;
        break;
      }
      case RT.PTR_TO_CTX: {
        this.ptrOffOk(regno, reg);
        const kind = this.ctxAccess(off, size, write);
        if (kind === undefined) this.fail('EACCES', `invalid bpf_context access off=${off} size=${size}`);
        if (!write && valueReg >= 0) {
          if (kind.kind === 'scalar') loaded = UNKNOWN;
          else loaded = ptrReg(kind.kind === 'pkt' ? RT.PTR_TO_PACKET : kind.kind === 'pkt_end' ? RT.PTR_TO_PACKET_END : RT.PTR_TO_PACKET_META);
        }
        break;
      }
      case RT.PTR_TO_STACK: {
        this.stackBounds(regno, reg, off, size, write ? ' write to' : ' read from');
        if (write) this.stackWrite(idx, reg, off, size, valueReg, stImm);
        else loaded = this.stackRead(idx, reg, off, size, valueReg);
        break;
      }
      case RT.PTR_TO_PACKET:
      case RT.PTR_TO_PACKET_META:
        if (write && !this.ctxAccessible()) this.fail('EACCES', 'cannot write into packet');
        this.packetAccess(regno, reg, off, size, false);
        if (!write && valueReg >= 0) loaded = UNKNOWN;
        break;
      default:
        this.fail('EACCES', `R${regno} invalid mem access '${typeStr(reg)}'`);
    }
    if (loaded && valueReg >= 0) {
      if (loaded.type === RT.SCALAR && size < 8) {
        if (loaded.s === SCALAR_UNKNOWN) {
          // an unknown narrowed: the same register every time (most loads), made once
          const k = (sx ? 8 : 0) + size;
          loaded = NARROW_UNKNOWN[k] ??= scalarReg(sx ? scalarMovsx(true, SCALAR_UNKNOWN, (size * 8) as 8 | 16 | 32) : scalarTruncate(SCALAR_UNKNOWN, size));
        } else {
          loaded = scalarReg(sx ? scalarMovsx(true, loaded.s, (size * 8) as 8 | 16 | 32) : scalarTruncate(loaded.s, size));
        }
      }
      this.setReg(valueReg, loaded);
    }
  }

  private ctxAccessible(): boolean {
    return true;
  }

  private ctxAccess(off: number, size: number, write: boolean): CtxAccessKind | undefined {
    if (this.env.ctxAccess) {
      const a = this.env.ctxAccess(off, size, write);
      if (a.kind === 'scalar') return { kind: 'scalar' };
      // the pointers a context field gives that the walker tracks; others (sk, flow_keys) are refused
      if (a.kind === 'pointer' && (a.ptr === 'pkt' || a.ptr === 'pkt_end' || a.ptr === 'pkt_meta')) return { kind: a.ptr };
      return undefined;
    }
    return this.env.isValidCtxAccess(off, size, write) ? { kind: 'scalar' } : undefined;
  }

  /** __check_ptr_off_reg for the context: no offset, fixed or variable. */
  private ptrOffOk(regno: number, reg: Reg): void {
    if (reg.off < 0) this.fail('EACCES', `negative offset ${typeStr(reg)} ptr R${regno} off=${reg.off} disallowed`);
    if (reg.off) this.fail('EACCES', `dereference of modified ${typeStr(reg)} ptr R${regno} off=${reg.off} disallowed`);
    if (!tnumIsConst(reg.s.varOff) || reg.s.value !== 0n) this.fail('EACCES', `variable ${typeStr(reg)} access var_off=${tnumStr(reg.s.varOff)} disallowed`);
  }

  /** __check_mem_access's message for this pointer type. */
  private memErr(regno: number, reg: Reg, off: number, size: number, limit: number): string {
    switch (reg.type) {
      case RT.PTR_TO_MAP_KEY: return `invalid access to map key, key_size=${limit} off=${off} size=${size}`;
      case RT.PTR_TO_MAP_VALUE: return `invalid access to map value, value_size=${limit} off=${off} size=${size}`;
      case RT.PTR_TO_PACKET: case RT.PTR_TO_PACKET_META: case RT.PTR_TO_PACKET_END:
        return `invalid access to packet, off=${off} size=${size}, R${regno}(id=${reg.id},off=${off},r=${limit})`;
      default: return `invalid access to memory, mem_size=${limit} off=${off} size=${size}`;
    }
  }

  private memOk(off: number, size: number, limit: number, zeroOk: boolean): boolean {
    return off >= 0 && (size > 0 || (size === 0 && zeroOk)) && off + size <= limit;
  }

  /** check_mem_region_access: fixed plus variable offset inside [0, limit). */
  private memRegion(regno: number, reg: Reg, off: number, size: number, limit: number, zeroOk: boolean): void {
    const s = reg.s;
    // bounds in [0, BPF_MAX_VAR_OFF), the usual case: the same checks on numbers
    const small = s.sminH === 0 && s.sminL >= 0 && s.umaxH === 0 && s.umaxL >= 0 && s.umaxL < BPF_MAX_VAR_OFF;
    let lo: number;
    if (small) {
      lo = s.sminL + off;
    } else {
      const smin = s.smin;
      if (smin < 0n && (smin === -(1n << 63n) || BigInt(off) + smin !== BigInt((off + Number(smin)) | 0) || smin + BigInt(off) < 0n)) {
        this.fail('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
      }
      lo = Number(smin) + off;
    }
    if (!this.memOk(lo, size, limit, zeroOk)) {
      this.log.print(this.memErr(regno, reg, lo, size, limit) + '\n');
      this.fail('EACCES', `R${regno} min value is outside of the allowed memory range`);
    }
    if (!small && s.umax >= BigInt(BPF_MAX_VAR_OFF)) this.fail('EACCES', `R${regno} unbounded memory access, make sure to bounds check any such access`);
    const hi = (small ? s.umaxL : Number(s.umax)) + off;
    if (!this.memOk(hi, size, limit, zeroOk)) {
      this.log.print(this.memErr(regno, reg, hi, size, limit) + '\n');
      this.fail('EACCES', `R${regno} max value is outside of the allowed memory range`);
    }
  }

  /** check_packet_access */
  private packetAccess(regno: number, reg: Reg, off: number, size: number, zeroOk: boolean): void {
    if (reg.s.sminH < 0) this.fail('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    if (reg.range < 0 || !this.memOk(off, size, reg.range, zeroOk)) {
      if (reg.range >= 0) this.log.print(this.memErr(regno, reg, off, size, reg.range) + '\n');
      this.fail('EACCES', `R${regno} offset is outside of the packet`);
    }
  }

  /** check_stack_access_within_bounds */
  /**
   * check_stack_access_within_bounds. `rangeErrno`: what an access outside
   * the frame gives (a helper's memory argument: EINVAL on 6.18, where a
   * load or store gives EACCES; an unbounded offset is EACCES for both).
   */
  private stackBounds(regno: number, reg: Reg, off: number, size: number, what: string, rangeErrno: 'EACCES' | 'EINVAL' = 'EACCES'): void {
    let minOff: number, maxOff: number;
    const s = reg.s;
    const konst = tnumIsConst(s.varOff);
    if (konst) {
      minOff = s64Num(s.varOff.vhi, s.varOff.vlo) + off;
      maxOff = minOff + size;
    } else {
      const smin = s64Num(s.sminH, s.sminL), smax = s64Num(s.smaxH, s.smaxL);
      if (smax >= BPF_MAX_VAR_OFF || smin <= -BPF_MAX_VAR_OFF) {
        this.fail('EACCES', `invalid unbounded variable-offset${what} stack R${regno}`);
      }
      minOff = smin + off;
      maxOff = smax + off + size;
    }
    if (minOff < -512 || minOff > -1 || maxOff > 0 || size < 0) {
      if (konst) this.fail(rangeErrno, `invalid${what} stack R${regno} off=${off} size=${size}`);
      this.fail(rangeErrno, `invalid variable-offset${what} stack R${regno} var_off=${tnumStr(s.varOff)} off=${off} size=${size}`);
    }
    const f = this.cur.frames[reg.frameno]!;
    if (-minOff > f.depth) this.cur.own(reg.frameno).grow(-minOff);
    const sp = f.subprog;
    if (-minOff > this.stackDepth[sp]!) this.stackDepth[sp] = -minOff;
  }

  /** check_stack_write (fixed or variable offset) */
  private stackWrite(idx: number, ptr: Reg, off: number, size: number, valueReg: number, stImm?: number): void {
    const fi = ptr.frameno;
    if (!tnumIsConst(ptr.s.varOff)) {
      // variable offset: every byte it may touch becomes misc (zero stays zero when zero is written)
      const value = valueReg >= 0 ? this.regs[valueReg]! : undefined;
      const zero = value ? value.type === RT.SCALAR && tnumIsConst(value.s.varOff) && value.s.value === 0n : stImm === 0;
      const f = this.cur.own(fi);
      const lo = s64Num(ptr.s.sminH, ptr.s.sminL) + off, hi = s64Num(ptr.s.smaxH, ptr.s.smaxL) + off + size;
      for (let a = lo; a < hi; a++) {
        const b = -a - 1;
        const spi = b >> 3;
        if (f.stype[spi * 8 + 7] === ST.SPILL) {
          for (let j = 0; j < 8; j++) if (f.stype[spi * 8 + j] === ST.SPILL) f.stype[spi * 8 + j] = ST.MISC;
          f.spilled[spi] = NOT_INIT;
        }
        const bi = spi * 8 + (b & 7);
        if (!(zero && f.stype[bi] === ST.ZERO)) f.stype[bi] = ST.MISC;
        this.scratchSlot(spi);
      }
      return;
    }
    const a = s64Num(ptr.s.varOff.vhi, ptr.s.varOff.vlo) + off;
    if (a % size !== 0) {
      this.fail('EACCES', `misaligned stack access off ${tnumStr(ptr.s.varOff)}+${ptr.off}+${off - ptr.off} size ${size}`);
    }
    const slot = -a - 1;
    const spi = slot >> 3;
    this.scratchSlot(spi);
    const value = valueReg >= 0 ? this.regs[valueReg]! : undefined;
    const f = this.cur.own(fi);
    const live = this.cur.live[fi]!;
    const aligned = a % 8 === 0;
    if (value && aligned && value.type === RT.SCALAR) {
      const fits = size === 8 || (value.s.umaxH === 0 && (size === 4 || (value.s.umaxL >>> 0) < 2 ** (size * 8)));
      let r = value;
      if (fits && !r.id && !tnumIsConst(r.s.varOff)) {
        r = regWith(r, { id: this.newId() });
        this.cur.own(this.cur.curframe).regs[valueReg] = r;
      }
      this.spill(f, live, fi, spi, size, fits ? r : regWith(r, { id: 0 }));
    } else if (!value && aligned && stImm !== undefined) {
      this.spill(f, live, fi, spi, size, this.immReg(idx, stImm, false));
    } else if (value && isPtr(value)) {
      if (size !== 8) this.fail('EACCES', 'invalid size of register spill');
      if (fi !== this.cur.curframe && value.type === RT.PTR_TO_STACK) this.fail('EINVAL', 'cannot spill pointers to stack into stack frame of the caller');
      this.spill(f, live, fi, spi, size, value);
    } else {
      let type: number = ST.MISC;
      f.spilled[spi] = NOT_INIT;
      if (f.stype[spi * 8 + 7] === ST.SPILL) for (let j = 0; j < 8; j++) if (f.stype[spi * 8 + j] === ST.SPILL) f.stype[spi * 8 + j] = ST.MISC;
      if (size === 8) setLiveWritten(live, 11 + spi);
      const zero = value ? value.type === RT.SCALAR && tnumIsConst(value.s.varOff) && value.s.value === 0n : stImm === 0;
      if (zero) {
        if (value) this.markPrecise(valueReg);
        type = ST.ZERO;
      }
      for (let i = 0; i < size; i++) f.stype[spi * 8 + ((slot - i) & 7)] = type;
    }
  }

  /** save_register_state: `r` spilled into slot spi of frame fi (f, writable, and its liveness flags `live`), `size` bytes. */
  private spill(f: Frame, live: number[], fi: number, spi: number, size: number, r: Reg): void {
    f.spilled[spi] = r;
    if (size === 8) setLiveWritten(live, 11 + spi);
    for (let i = 8; i > 8 - size; i--) f.stype[spi * 8 + i - 1] = ST.SPILL;
    for (let i = 8 - size; i > 0; i--) {
      const t = f.stype[spi * 8 + i - 1]!;
      if (t !== ST.ZERO && t !== ST.INVALID) f.stype[spi * 8 + i - 1] = ST.MISC;
    }
    this.histNote(fi * 64 + spi);
  }

  /** check_stack_read (fixed or variable offset): the value read, or undefined when none is loaded. */
  private stackRead(idx: number, ptr: Reg, off: number, size: number, valueReg: number): Reg | undefined {
    const fi = ptr.frameno;
    const f = this.cur.frames[fi]!;
    if (!tnumIsConst(ptr.s.varOff)) {
      const lo = s64Num(ptr.s.sminH, ptr.s.sminL) + off, hi = s64Num(ptr.s.smaxH, ptr.s.smaxL) + off + size;
      let zero = true;
      for (let a = lo; a < hi; a++) {
        const b = -a - 1;
        const spi = b >> 3;
        this.markRead(this.cur, fi, 11 + spi, true);
        if (f.stype[spi * 8 + (b & 7)] !== ST.ZERO) zero = false;
      }
      return valueReg >= 0 ? (zero ? ZERO_REG : UNKNOWN) : undefined;
    }
    const a = s64Num(ptr.s.varOff.vhi, ptr.s.varOff.vlo) + off;
    if (a % size !== 0) this.fail('EACCES', `misaligned stack access off ${tnumStr(ptr.s.varOff)}+${ptr.off}+${off - ptr.off} size ${size}`);
    const slot = -a - 1;
    const spi = slot >> 3;
    this.scratchSlot(spi);
    const st = f.stype;
    const spilled = f.spilled[spi]!;
    this.markRead(this.cur, fi, 11 + spi, true);
    if (st[spi * 8 + 7] === ST.SPILL) {
      let spillSize = 1;
      for (let i = 7; i > 0 && st[spi * 8 + i - 1] === ST.SPILL; i--) spillSize++;
      if (size !== 8 || spillSize !== 8) {
        if (spilled.type !== RT.SCALAR) this.fail('EACCES', 'invalid size of register fill');
        if (valueReg < 0) return undefined;
        // a narrow fill of the low bytes of a narrow-enough spill keeps the value
        if (size <= spillSize && (slot & 7) === 7 - (spillSize - size) + (spillSize - size) && (slot & 7) === 7) {
          this.histNote(fi * 64 + spi);
          const r = regWith(spilled, { id: spillSize > size ? 0 : spilled.id });
          return r;
        }
        let spillCnt = 0, zeroCnt = 0;
        for (let i = 0; i < size; i++) {
          const t = st[spi * 8 + ((slot - i) & 7)]!;
          if (t === ST.SPILL) spillCnt++;
          else if (t === ST.ZERO) zeroCnt++;
        }
        if (spillCnt === size && tnumIsConst(spilled.s.varOff) && spilled.s.value === 0n) return ZERO_REG;
        if (zeroCnt === size) return ZERO_REG;
        return UNKNOWN;
      }
      if (valueReg >= 0) {
        this.histNote(fi * 64 + spi);
        return spilled;
      }
      return undefined;
    }
    if (valueReg < 0) return undefined;
    let zero = true;
    for (let i = 0; i < size; i++) if (st[spi * 8 + ((slot - i) & 7)] !== ST.ZERO) zero = false;
    return zero ? ZERO_REG : UNKNOWN;
  }

  // ---- LD ----

  private ld(insn: Slot, idx: number): number {
    const mode = BPF_MODE(insn.code);
    if (mode === BPF_ABS || mode === BPF_IND) {
      if (!this.env.socketFilter) this.fail('EINVAL', 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
      if (insn.dst !== 0 || insn.off !== 0 || BPF_SIZE(insn.code) === BPF_DW || (mode === BPF_ABS && insn.src !== 0)) {
        this.fail('EINVAL', 'BPF_LD_[ABS|IND] uses reserved fields');
      }
      const ctx = this.srcOp(6);
      if (ctx.type !== RT.PTR_TO_CTX) this.fail('EINVAL', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
      if (mode === BPF_IND) this.srcOp(insn.src);
      this.ptrOffOk(6, ctx);
      for (let r = 0; r <= 5; r++) {
        this.scratchReg(r);
        this.setReg(r, NOT_INIT);
      }
      this.setReg(0, UNKNOWN);
      return idx + 1;
    }
    if (mode !== BPF_IMM || BPF_SIZE(insn.code) !== BPF_DW) this.fail('EINVAL', 'invalid BPF_LD_IMM insn');
    if (insn.off !== 0) this.fail('EINVAL', 'BPF_LD_IMM64 uses reserved fields');
    this.dstOp(insn.dst);
    const next = this.insns[idx + 1];
    if (insn.src === 0) {
      this.setReg(insn.dst, scalarReg(scalarConstHL(next?.imm ?? 0, insn.imm)));
      return idx + 2;
    }
    if (insn.src === 4) {
      // BPF_PSEUDO_FUNC: a callback's address
      const target = idx + insn.imm + 1;
      const sp = this.subprogs.indexOf(target);
      if (sp < 0) this.fail('EFAULT', `verifier bug. No program starts at insn ${target}`);
      this.setReg(insn.dst, ptrReg(RT.PTR_TO_FUNC, { frameno: sp }));
      return idx + 2;
    }
    const map = this.env.mapAt(insn.imm >>> 0);
    if (!map) return this.fail('EINVAL', `fd ${insn.imm} is not pointing to valid bpf_map`);
    if (insn.src === 2) this.setReg(insn.dst, ptrReg(RT.PTR_TO_MAP_VALUE, { map, off: next?.imm ?? 0 }));
    else if (insn.src === 1) this.setReg(insn.dst, ptrReg(RT.CONST_PTR_TO_MAP, { map }));
    else this.fail('EINVAL', 'bpf verifier is misconfigured');
    return idx + 2;
  }

  // ---- JMP ----

  private jmp(insn: Slot, idx: number): number {
    const op = BPF_OP(insn.code);
    const cls = BPF_CLASS(insn.code);
    const x = BPF_SRC(insn.code) === BPF_X;
    if (op === BPF_JA) {
      if (x || insn.src !== 0 || insn.dst !== 0 || (cls === BPF_JMP && insn.imm !== 0) || (cls === BPF_JMP32 && insn.off !== 0)) {
        this.fail('EINVAL', 'BPF_JA uses reserved fields');
      }
      return idx + (cls === BPF_JMP ? insn.off : insn.imm) + 1;
    }
    if (op === BPF_CALL) {
      if (x || (insn.src !== 2 && insn.off !== 0) || (insn.src !== 0 && insn.src !== 1 && insn.src !== 2) || insn.dst !== 0 || cls === BPF_JMP32) {
        this.fail('EINVAL', 'BPF_CALL uses reserved fields');
      }
      if (insn.src === 1) return this.subprogCall(insn, idx);
      if (insn.src === 2) this.fail('EINVAL', 'calling kernel function is not supported without BTF');
      this.helperCall(insn.imm, idx);
      return idx + 1;
    }
    if (op === BPF_EXIT) {
      if (x || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0 || cls === BPF_JMP32) this.fail('EINVAL', 'BPF_EXIT uses reserved fields');
      if (this.cur.curframe > 0) return this.subprogExit();
      this.checkLeak('BPF_EXIT instruction in main prog');
      const r0 = this.srcOp(0);
      // check_return_code of a global function verified on its own: callers take r0 as a number
      if (this.cur.frames[0]!.subprog !== 0 && r0.type !== RT.SCALAR) {
        this.fail('EINVAL', `At subprogram exit the register R0 is not a scalar value (${typeStr(r0)})`);
      }
      return PATH_END;
    }
    return this.condJmp(insn, idx);
  }

  private condJmp(insn: Slot, idx: number): number {
    const op = BPF_OP(insn.code);
    const x = BPF_SRC(insn.code) === BPF_X;
    const jmp32 = BPF_CLASS(insn.code) === BPF_JMP32;
    if (op > BPF_JSLE) this.fail('EINVAL', `invalid BPF_JMP/JMP32 opcode ${op.toString(16)}`);
    const dst = this.srcOp(insn.dst);
    let src: Reg;
    if (x) {
      if (insn.imm !== 0) this.fail('EINVAL', 'BPF_JMP/JMP32 uses reserved fields');
      src = this.srcOp(insn.src);
    } else {
      if (insn.src !== 0) this.fail('EINVAL', 'BPF_JMP/JMP32 uses reserved fields');
      src = this.immReg(idx, insn.imm, false);
    }
    const target = idx + insn.off + 1;
    const pred = this.branchTaken(dst, src, op, jmp32);
    if (pred >= 0) {
      if (dst.type === RT.SCALAR) this.markPrecise(insn.dst);
      if (x && src.type === RT.SCALAR) this.markPrecise(insn.src);
      this.printInsnState();
      return pred === 1 ? target : idx + 1;
    }
    const fr = this.cur.curframe;
    const frame = this.cur.frames[fr]!;
    const owned = frame.owner === this.cur;
    const other = this.push(target, idx);
    if (dst.type === RT.SCALAR && src.type === RT.SCALAR) {
      const n = scalarNarrow(op, jmp32, dst.s, src.s, x && insn.src === insn.dst, !x);
      const linkedOther = this.narrowed(other, fr, insn, x, n.taken[0], n.taken[1]);
      // the other side has its own copy of the frame now: the frame is this path's alone
      // again if it was before the push (else it would be copied a second time, unread)
      if (owned) frame.owner = this.cur;
      const linked = linkedOther | this.narrowed(this.cur, fr, insn, x, n.fallthrough[0], n.fallthrough[1]);
      if (linked) {
        // backtracking must know which registers learnt together
        this.histNote(-2 - linked);
        other.histEnd = this.hLen;
      }
    } else if (!jmp32 && !x && insn.imm === 0 && (op === BPF_JEQ || op === BPF_JNE) && dst.maybeNull) {
      this.markNull(this.cur, dst.id, op === BPF_JNE);
      this.markNull(other, dst.id, op === BPF_JEQ);
    } else if (x && !jmp32) {
      this.pktCompare(insn, dst, src, other);
    }
    this.printInsnState();
    return idx + 1;
  }

  /**
   * One side of a branch on two scalars: dst (and src for BPF_X) narrowed to
   * `d` and `sv` (unknown where the narrowing left an impossible value), and
   * registers linked to them by id learn the same. Returns the registers
   * that learnt together, as a mask, for backtracking.
   */
  private narrowed(st: VState, fr: number, insn: Slot, x: boolean, d: Scalar, sv: Scalar): number {
    const f = st.own(fr);
    f.regs[insn.dst] = regWith(f.regs[insn.dst]!, { s: scalarSanity(d) ? SCALAR_UNKNOWN : d });
    if (x) f.regs[insn.src] = regWith(f.regs[insn.src]!, { s: scalarSanity(sv) ? SCALAR_UNKNOWN : sv });
    let linked = 0;
    for (let k = 0; k < (x ? 2 : 1); k++) {
      const r = k === 0 ? insn.dst : insn.src;
      const reg = f.regs[r]!;
      if (!reg.id) continue;
      for (let i = 0; i < 10; i++) {
        if (i === r || f.regs[i]!.type !== RT.SCALAR || f.regs[i]!.id !== reg.id) continue;
        f.regs[i] = regWith(f.regs[i]!, { s: reg.s });
        linked |= (1 << i) | (1 << r);
      }
    }
    return linked;
  }

  /** is_branch_taken */
  private branchTaken(a: Reg, b: Reg, op: number, jmp32: boolean): 1 | 0 | -1 {
    // two numbers (most branches): the pointer cases below do not apply
    if (a.type === RT.SCALAR && b.type === RT.SCALAR) return scalarBranchTaken(op, jmp32, a.s, b.s);
    if ((isPkt(a) || a.type === RT.PTR_TO_PACKET_END) && (isPkt(b) || b.type === RT.PTR_TO_PACKET_END) && !jmp32) {
      let pkt: Reg;
      if (b.type === RT.PTR_TO_PACKET_END) pkt = a;
      else if (a.type === RT.PTR_TO_PACKET_END) { pkt = b; op = swapJmpOperands(op); } else return -1;
      if (pkt.range >= 0) return -1;
      if ((op === BPF_JLE || op === BPF_JGT) && pkt.range === BEYOND_PKT_END) return op === BPF_JGT ? 1 : 0;
      if ((op === BPF_JLT || op === BPF_JGE) && (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END)) return op === BPF_JGE ? 1 : 0;
      return -1;
    }
    if (isPtr(a) || isPtr(b)) {
      let p = a, k = b;
      const isConst = (r: Reg): boolean => r.type === RT.SCALAR && (jmp32 ? r.s.varOff.mlo === 0 : tnumIsConst(r.s.varOff));
      if (!isConst(k)) { op = swapJmpOperands(op); p = b; k = a; }
      if (!isConst(k)) return -1;
      if (p.maybeNull) return -1;
      const notNull = p.type === RT.PTR_TO_MAP_VALUE || p.type === RT.PTR_TO_MAP_KEY || p.type === RT.PTR_TO_MEM || p.type === RT.CONST_PTR_TO_MAP;
      if (!notNull) return -1;
      const v = jmp32 ? BigInt(k.s.varOff.vlo >>> 0) : k.s.value;
      if (v !== 0n) return -1;
      return op === BPF_JEQ ? 0 : op === BPF_JNE ? 1 : -1;
    }
    return scalarBranchTaken(op, jmp32, a.s, b.s);
  }

  /** mark_ptr_or_null_regs: every register sharing the id becomes the pointer, or the number 0. */
  private markNull(st: VState, id: number, isNull: boolean): void {
    if (!id) return;
    // a reference found to be NULL was never acquired: nothing to release
    if (isNull && st.refs.some((r) => r.id === id)) st.refs = st.refs.filter((r) => r.id !== id);
    for (let f = 0; f < st.frames.length; f++) {
      const frame = st.frames[f]!;
      const fix = (r: Reg): Reg | undefined => {
        if (!r.maybeNull || r.id !== id) return undefined;
        if (isNull) return ZERO_REG;
        return regWith(r, { maybeNull: false, id: 0 });
      };
      for (let i = 0; i < 11; i++) {
        const n = fix(frame.regs[i]!);
        if (n) st.own(f).regs[i] = n;
      }
      for (let spi = 0; spi < frame.stype.length >> 3; spi++) {
        if (frame.stype[spi * 8 + 7] !== ST.SPILL) continue;
        const n = fix(st.frames[f]!.spilled[spi]!);
        if (n) st.own(f).spilled[spi] = n;
      }
    }
  }

  /** try_match_pkt_pointers: what `pkt' OP pkt_end` teaches each side. */
  private pktCompare(insn: Slot, dst: Reg, src: Reg, other: VState): void {
    const op = BPF_OP(insn.code);
    const initPkt = (r: Reg): boolean => r.type === RT.PTR_TO_PACKET && r.off === 0 && tnumIsConst(r.s.varOff) && r.s.value === 0n;
    const dstFirst = (dst.type === RT.PTR_TO_PACKET && src.type === RT.PTR_TO_PACKET_END) || (dst.type === RT.PTR_TO_PACKET_META && initPkt(src));
    const srcFirst = (dst.type === RT.PTR_TO_PACKET_END && src.type === RT.PTR_TO_PACKET) || (initPkt(dst) && src.type === RT.PTR_TO_PACKET_META);
    if (!dstFirst && !srcFirst) return;
    const thisB = this.cur;
    const good = (st: VState, r: Reg, open: boolean): void => this.goodPkt(st, r, open);
    const end = (st: VState, regn: number, open: boolean): void => {
      const f = st.own(st.curframe);
      const r = f.regs[regn]!;
      if (r.type !== RT.PTR_TO_PACKET) return;
      f.regs[regn] = regWith(r, { range: open ? BEYOND_PKT_END : AT_PKT_END });
    };
    switch (op) {
      case BPF_JGT:
        if (dstFirst) { good(thisB, dst, false); end(other, insn.dst, true); } else { good(other, src, true); end(thisB, insn.src, false); }
        break;
      case BPF_JLT:
        if (dstFirst) { good(other, dst, true); end(thisB, insn.dst, false); } else { good(thisB, src, false); end(other, insn.src, true); }
        break;
      case BPF_JGE:
        if (dstFirst) { good(thisB, dst, true); end(other, insn.dst, false); } else { good(other, src, false); end(thisB, insn.src, true); }
        break;
      case BPF_JLE:
        if (dstFirst) { good(other, dst, false); end(thisB, insn.dst, true); } else { good(thisB, src, true); end(other, insn.src, false); }
        break;
    }
  }

  /** find_good_pkt_pointers */
  private goodPkt(st: VState, r: Reg, open: boolean): void {
    if (r.off < 0 || (r.off === 0 && open)) return;
    if (r.s.umax > BigInt(MAX_PACKET_OFF) || r.s.umax + BigInt(r.off) > BigInt(MAX_PACKET_OFF)) return;
    const range = r.off + (open ? 1 : 0);
    for (let f = 0; f < st.frames.length; f++) {
      const frame = st.frames[f]!;
      for (let i = 0; i < 11; i++) {
        const x = frame.regs[i]!;
        if (x.type === r.type && x.id === r.id && x.range < range) st.own(f).regs[i] = regWith(x, { range });
      }
      for (let spi = 0; spi < frame.stype.length >> 3; spi++) {
        const x = frame.spilled[spi]!;
        if (frame.stype[spi * 8 + 7] === ST.SPILL && x.type === r.type && x.id === r.id && x.range < range) st.own(f).spilled[spi] = regWith(x, { range });
      }
    }
  }

  // ---- calls ----

  private helperCall(id: number, idx: number): void {
    const env = this.env;
    const name = uapiHelperName(id);
    const label = `${name ?? 'unknown'}#${id}`;
    if (id < 0 || id >= env.profile.maxHelperId) this.fail('EINVAL', `invalid func ${label}`);
    const fn = env.funcProto(id);
    if (!fn) return this.fail('EINVAL', `program of this type cannot use helper ${label}`);
    if (!env.gplCompatible && fn.gplOnly) this.fail('EINVAL', 'cannot call GPL-restricted function from non-GPL compatible program');
    const meta: CallMeta = {};
    for (let i = 0; i < 5; i++) this.funcArg(fn, i, meta);
    if (id === 12) {
      // check_map_func_compatibility; the kernel's message has no newline
      if (meta.map?.mapType !== undefined && meta.map.mapType !== BPF_MAP_TYPE_PROG_ARRAY) {
        this.log.print('expected prog array map for tail call');
        throw new Fail('EINVAL', 'expected prog array map for tail call', this.idx);
      }
      this.checkLeak('tail_call');
    }
    // check_map_func_compatibility: a map of maps goes to bpf_map_lookup_elem only
    const mt = meta.map?.mapType;
    if ((mt === BPF_MAP_TYPE_ARRAY_OF_MAPS || mt === BPF_MAP_TYPE_HASH_OF_MAPS) && id !== 1) this.fail('EINVAL', `cannot pass map_type ${mt} into func ${label}`);
    if (meta.release) this.release(meta.release);
    if (fn.callback && id === BPF_FUNC_LOOP) {
      // bpf_loop runs its callback at most r1 times: r1's value decides when the runs end, so it is precise,
      // and no run starts past its maximum
      this.markPrecise(1);
      const fr = this.cur.curframe;
      if (this.cur.frames[fr]!.cbDepth < Number(this.regs[1]!.s.umax > 0x7fffffffn ? 0x7fffffffn : this.regs[1]!.s.umax)) this.pushCallback(fn, id, idx);
      else {
        this.cur.own(fr).cbDepth = 0;
        if (this.log.level >= 2) this.log.print(`frame${fr} bpf_loop iteration limit reached\n`);
      }
    } else if (fn.callback) this.pushCallback(fn, id, idx);
    for (let r = 0; r <= 5; r++) {
      this.scratchReg(r);
      this.setReg(r, NOT_INIT);
    }
    switch (fn.ret) {
      case RET.INTEGER:
        // do_refine_retval_range: the helpers whose result the kernel bounds (bpf_get_smp_processor_id)
        if (fn.retRange) {
          const { min, max } = fn.retRange;
          this.setReg(0, scalarReg(scalarFrom({ smin: BigInt(min), smax: BigInt(max), umin: BigInt(min), umax: BigInt(max), smin32: min, smax32: max, umin32: min, umax32: max })));
        } else this.setReg(0, UNKNOWN);
        break;
      case RET.VOID:
        break;
      case RET.PTR_TO_MAP_VALUE_OR_NULL:
      case RET.PTR_TO_MAP_VALUE: {
        if (!meta.map) this.fail('EINVAL', 'kernel subsystem misconfigured verifier');
        let maybeNull = fn.ret === RET.PTR_TO_MAP_VALUE_OR_NULL;
        const m = meta.map!;
        if (maybeNull && id === 1 && m.mapType !== undefined && ARRAY_TYPES.includes(m.mapType) && meta.constKey !== undefined &&
            m.maxEntries !== undefined && meta.constKey < BigInt(m.maxEntries)) {
          maybeNull = false;
        }
        if (m.inner) {
          // a map of maps: the inner map (its template), or null
          this.setReg(0, ptrReg(RT.CONST_PTR_TO_MAP, { map: m.inner, maybeNull: true, id: this.newId() }));
          break;
        }
        this.setReg(0, ptrReg(RT.PTR_TO_MAP_VALUE, { map: m, maybeNull, id: maybeNull ? this.newId() : 0 }));
        break;
      }
      case RET.PTR_TO_MEM_OR_NULL: {
        // acquire_reference: the record is a reference the program must submit or discard;
        // its id is both the null-check id and the reference's (the kernel spends one id before it)
        this.newId();
        const ref = this.newId();
        this.cur.refs = [...this.cur.refs, { id: ref, insn: idx }];
        this.setReg(0, ptrReg(RT.PTR_TO_MEM, { maybeNull: true, ringbuf: true, range: meta.memSize ?? 0, id: ref, refObj: ref }));
        break;
      }
      default:
        this.fail('EINVAL', `unknown return type ${String(fn.ret)} of func ${label}`);
    }
    if (CHANGES_PKT_DATA.has(id)) this.clearPktPointers();
  }

  /**
   * clear_all_pkt_pointers: after a helper that may move or resize the packet,
   * every packet pointer of every frame, in a register or spilled, becomes an
   * unknown number (as root; the kernel's mark_reg_invalid), so a stale
   * pointer can be neither read through nor compared to the new end.
   */
  private clearPktPointers(): void {
    const st = this.cur;
    const stale = (r: Reg): boolean => r.type === RT.PTR_TO_PACKET || r.type === RT.PTR_TO_PACKET_META || r.type === RT.PTR_TO_PACKET_END;
    for (let f = 0; f < st.frames.length; f++) {
      const frame = st.frames[f]!;
      for (let i = 0; i < 11; i++) if (stale(frame.regs[i]!)) st.own(f).regs[i] = UNKNOWN;
      for (let spi = 0; spi < SLOTS; spi++) {
        if (frame.stype[spi * 8 + 7] === ST.SPILL && stale(frame.spilled[spi]!)) st.own(f).spilled[spi] = UNKNOWN;
      }
    }
  }

  /**
   * push_callback_call: the callback's first run, to walk later, from the state
   * before the call (the caller's argument registers kept: when the callback
   * returns, the walk goes back to the call, which pushes the next run). The
   * path at hand goes on as if the callback never ran.
   */
  private pushCallback(fn: HelperProto, id: number, idx: number): void {
    const caller = this.regs;
    const fnReg = caller[fn.callback!.arg]!;
    const sp = fnReg.frameno;
    const start = this.subprogs[sp];
    if (fnReg.type !== RT.PTR_TO_FUNC || start === undefined) this.fail('EFAULT', `verifier bug: no callback subprogram for ${uapiHelperName(id) ?? id}`);
    if (this.cur.curframe + 1 >= MAX_CALL_FRAMES) this.fail('E2BIG', `the call stack of ${this.cur.curframe + 2} frames is too deep`);
    const entry = this.cur.copy();
    entry.cbUnroll++;
    const fi = entry.frames.length;
    const callee = newFrame(fi, idx, sp);
    callee.owner = entry;
    callee.cbRet = fn.callback!.ret;
    if (id === BPF_FUNC_FOR_EACH_MAP_ELEM) {
      // (map, key, value, ctx)
      const map = caller[1]!.map;
      callee.regs[1] = caller[1]!;
      callee.regs[2] = ptrReg(RT.PTR_TO_MAP_KEY, { map });
      callee.regs[3] = ptrReg(RT.PTR_TO_MAP_VALUE, { map });
      callee.regs[4] = caller[3]!;
    } else {
      // bpf_loop: (index, ctx)
      callee.regs[1] = UNKNOWN;
      callee.regs[2] = caller[3]!;
    }
    // the run about to start counts in the caller's frame on the callback's path; the path going on after the
    // call starts counting afresh
    entry.own(fi - 1).cbDepth++;
    this.cur.own(this.cur.curframe).cbDepth = 0;
    entry.frames.push(callee);
    entry.live.push(newLive(LIVE_WRITTEN));
    this.push(start!, idx, entry);
  }

  /** check_resource_leak: references still held where the program's run may end. */
  private checkLeak(what: string): void {
    if (!this.cur.refs.length) return;
    for (const r of this.cur.refs) this.log.print(`Unreleased reference id=${r.id} alloc_insn=${r.insn}\n`);
    this.fail('EINVAL', `${what} would lead to reference leak`);
  }

  /** release_reference: the reference is gone, and every pointer that was it becomes a number. */
  private release(ref: number): void {
    const st = this.cur;
    st.refs = st.refs.filter((r) => r.id !== ref);
    for (let f = 0; f < st.frames.length; f++) {
      const frame = st.frames[f]!;
      for (let i = 0; i < 11; i++) if (frame.regs[i]!.refObj === ref) st.own(f).regs[i] = UNKNOWN;
      for (let spi = 0; spi < frame.stype.length >> 3; spi++) {
        if (frame.stype[spi * 8 + 7] === ST.SPILL && frame.spilled[spi]!.refObj === ref) st.own(f).spilled[spi] = UNKNOWN;
      }
    }
  }

  /** check_func_arg for argument `arg` (0-4, register arg+1). */
  private funcArg(fn: HelperProto, arg: number, meta: CallMeta): void {
    const raw = fn.args[arg];
    const regno = arg + 1;
    if (raw === undefined) return;
    // a modern argument kind is a base type with the kernel's modifier flags (ARG_FLAG)
    const t = argBase(raw);
    const reg = this.srcOp(regno);
    if (t === ARG.ANYTHING) return;
    const isNull = reg.type === RT.SCALAR && tnumIsConst(reg.s.varOff) && reg.s.value === 0n;
    if (isNull && (raw & ARG_FLAG.MAYBE_NULL) !== 0) return;
    const expect = (types: number[], names: string): void => {
      if (!types.includes(reg.type) || reg.maybeNull) this.fail('EACCES', `R${regno} type=${typeStr(reg)} expected=${names}`);
    };
    const MEM_TYPES = [RT.PTR_TO_STACK, RT.PTR_TO_PACKET, RT.PTR_TO_PACKET_META, RT.PTR_TO_MAP_KEY, RT.PTR_TO_MAP_VALUE, RT.PTR_TO_MEM];
    const MEM_NAMES = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_, arena';
    const KV_NAMES = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, untrusted_ptr_, arena';
    switch (t) {
      case ARG.CONST_MAP_PTR:
        expect([RT.CONST_PTR_TO_MAP], 'map_ptr');
        meta.map = reg.map;
        return;
      case ARG.PTR_TO_MAP_KEY:
        expect(MEM_TYPES, KV_NAMES);
        if (!meta.map) this.fail('EACCES', 'invalid map_ptr to access map->key');
        this.helperMem(regno, meta.map!.keySize, false, false);
        meta.constKey = this.constMapKey(reg, meta.map!.keySize);
        return;
      case ARG.PTR_TO_MAP_VALUE:
        expect(MEM_TYPES, KV_NAMES);
        if (!meta.map) this.fail('EACCES', 'invalid map_ptr to access map->value');
        this.helperMem(regno, meta.map!.valueSize, false, false);
        return;
      case ARG.PTR_TO_STACK:
        expect([RT.PTR_TO_STACK], 'fp');
        return;
      case ARG.PTR_TO_MEM:
        expect(MEM_TYPES, MEM_NAMES);
        return;
      case ARG.CONST_SIZE:
      case ARG.CONST_SIZE_OR_ZERO:
      case ARG.CONST_STACK_SIZE: {
        expect([RT.SCALAR], 'scalar');
        const zeroOk = t === ARG.CONST_SIZE_OR_ZERO;
        const s = reg.s;
        if (s.smin < 0n) this.fail('EACCES', `R${regno} min value is negative, either use unsigned or 'var &= const'`);
        if (s.umin === 0n && !zeroOk) this.fail('EACCES', `R${regno} invalid zero-sized read: u64=[${s.umin},${s.umax}]`);
        if (s.umax >= BigInt(BPF_MAX_VAR_SIZ)) this.fail('EACCES', `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
        const write = ((fn.args[arg - 1] ?? 0) & ARG_FLAG.UNINIT) !== 0;
        this.helperMem(regno - 1, Number(s.umax), write, zeroOk);
        this.markPrecise(regno);
        return;
      }
      case ARG.CONST_ALLOC_SIZE_OR_ZERO: {
        expect([RT.SCALAR], 'scalar');
        if (!tnumIsConst(reg.s.varOff)) this.fail('EACCES', `R${regno} is not a known constant'`);
        meta.memSize = Number(reg.s.value);
        this.markPrecise(regno);
        return;
      }
      case ARG.PTR_TO_CTX:
        expect([RT.PTR_TO_CTX], 'ctx');
        this.ptrOffOk(regno, reg);
        return;
      case ARG.PTR_TO_FUNC:
        expect([RT.PTR_TO_FUNC], 'func');
        return;
      case ARG.PTR_TO_SPIN_LOCK: {
        // process_spin_lock: the lock's place in the value comes from the map's BTF, and tsbpf's
        // maps have none, so the kernel's verdict for every such map is this refusal
        expect([RT.PTR_TO_MAP_VALUE], 'map_value, ptr_');
        if (!tnumIsConst(reg.s.varOff)) this.fail('EINVAL', `R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`);
        // (the kernel says bpf_spin_lock for the unlock too)
        this.fail('EINVAL', "map '' has to have BTF in order to use bpf_spin_lock");
        return;
      }
      case ARG.PTR_TO_LONG:
        // a long the helper writes (the kernel's fixed-size, uninit, write memory of 8 bytes)
        expect(MEM_TYPES, MEM_NAMES);
        this.helperMem(regno, 8, true, false);
        return;
      case ARG.PTR_TO_RINGBUF_MEM: {
        if (reg.type !== RT.PTR_TO_MEM || !reg.ringbuf || reg.maybeNull) this.fail('EACCES', `R${regno} type=${typeStr(reg)} expected=ringbuf_mem`);
        if (raw & ARG_FLAG.RELEASE) {
          if (reg.off !== 0 || !tnumIsConst(reg.s.varOff) || reg.s.value !== 0n) {
            this.fail('EINVAL', `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`);
          }
          if (!reg.refObj || !this.cur.refs.some((r) => r.id === reg.refObj)) this.fail('EINVAL', `R${regno} must be referenced when passed to release function`);
          meta.release = reg.refObj!;
        }
        return;
      }
      default:
        this.fail('EFAULT', `unsupported arg_type ${String(t)}`);
    }
  }

  /** check_helper_mem_access: `size` bytes at R`regno` for a helper. */
  private helperMem(regno: number, size: number, write: boolean, zeroOk: boolean, stackWhat?: string): void {
    const reg = this.regs[regno]!;
    switch (reg.type) {
      case RT.PTR_TO_PACKET:
      case RT.PTR_TO_PACKET_META:
        return this.packetAccess(regno, reg, reg.off, size, zeroOk);
      case RT.PTR_TO_MAP_KEY:
        if (write) this.fail('EACCES', `R${regno} cannot write into ${typeStr(reg)}`);
        return this.memRegion(regno, reg, reg.off, size, reg.map!.keySize, false);
      case RT.PTR_TO_MAP_VALUE:
        return this.memRegion(regno, reg, reg.off, size, reg.map!.valueSize, zeroOk);
      case RT.PTR_TO_MEM:
        return this.memRegion(regno, reg, reg.off, size, reg.range, zeroOk);
      case RT.PTR_TO_STACK: {
        if (size === 0 && !zeroOk) this.fail('EACCES', 'invalid zero-sized read');
        // 6.18 names the direction of a helper's access ('invalid write to stack R3 off=-32 size=33', EINVAL)
        this.stackBounds(regno, reg, reg.off, size, stackWhat ?? (write ? ' write to' : ' read from'), 'EINVAL');
        const f = this.cur.frames[reg.frameno]!;
        let lo: number, hi: number;
        if (tnumIsConst(reg.s.varOff)) lo = hi = Number(BigInt.asIntN(64, reg.s.value)) + reg.off;
        else { lo = Number(reg.s.smin) + reg.off; hi = Number(reg.s.smax) + reg.off; }
        for (let a = lo; a < hi + size; a++) {
          const b = -a - 1;
          const spi = b >> 3;
          if (write) {
            const own = this.cur.own(reg.frameno);
            const bi = spi * 8 + (b & 7);
            if (own.stype[spi * 8 + 7] === ST.SPILL) {
              own.spilled[spi] = UNKNOWN;
              for (let j = 0; j < 8; j++) if (own.stype[spi * 8 + j] === ST.SPILL) own.stype[spi * 8 + j] = ST.MISC;
            }
            own.stype[bi] = ST.MISC;
          }
          this.markRead(this.cur, reg.frameno, 11 + spi, true);
          void f;
        }
        return;
      }
      default:
        if (zeroOk && size === 0 && reg.type === RT.SCALAR && tnumIsConst(reg.s.varOff) && reg.s.value === 0n) return;
        this.fail('EACCES', `R${regno} type=${typeStr(reg)} expected=fp`);
    }
  }

  /** get_constant_map_key: the key on the stack when it is a known number. */
  private constMapKey(key: Reg, keySize: number): bigint | undefined {
    if (key.type !== RT.PTR_TO_STACK || !tnumIsConst(key.s.varOff)) return undefined;
    const a = key.off + Number(BigInt.asIntN(64, key.s.value));
    const slot = -a - 1;
    const spi = slot >> 3, o = slot & 7;
    const f = this.cur.frames[key.frameno]!;
    let zero = 0;
    for (let i = o; i >= 0 && f.stype[spi * 8 + i] === ST.ZERO; i--) zero++;
    if (zero >= keySize) return 0n;
    if (f.stype[spi * 8 + 7] !== ST.SPILL || f.spilled[spi]!.type !== RT.SCALAR) return undefined;
    let spill = 0;
    for (let i = o; i >= 0 && f.stype[spi * 8 + i] === ST.SPILL; i--) spill++;
    if (spill !== keySize) return undefined;
    const r = f.spilled[spi]!;
    if (!tnumIsConst(r.s.varOff)) return undefined;
    this.markPrecise(-1, key.frameno * 64 + spi);
    return r.s.value;
  }

  // ---- global functions (func info) ----

  /** Whether subprogram `sp` is a global function of the func info (the main program never is one here). */
  isGlobal(sp: number): boolean {
    return sp > 0 && this.env.funcInfo?.[sp]?.linkage === 'global';
  }

  /**
   * check_func_call for a global function: the caller's registers checked
   * against the prototype (btf_check_func_arg_match), then the call is a
   * step like a helper's: the function is assumed valid (it is verified on
   * its own after the main program, for any arguments of its types), r0 an
   * unknown number, r1-r5 unreadable, and the walk goes on after the call.
   */
  private globalCall(sp: number, idx: number): number {
    const fn = this.env.funcInfo![sp]!;
    const invalid = (errno: VerifyError['errno'] = 'EINVAL'): never => this.fail(errno, `Caller passes invalid args into func#${sp} ('${fn.name}')`);
    const problem = prototypeProblem(fn);
    if (problem !== undefined) {
      this.log.print(problem + '\n');
      invalid();
    }
    const args = fn.args ?? [];
    // the arguments' values decide whether the call is allowed: they are read
    for (let i = 0; i < args.length; i++) {
      if (this.regs[i + 1]!.type !== RT.NOT_INIT) this.markRead(this.cur, this.cur.curframe, i + 1, true);
    }
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const regno = i + 1;
      const reg = this.regs[regno]!;
      this.scratchReg(regno);
      if (a.kind === 'scalar') {
        if (reg.type !== RT.SCALAR) {
          this.log.print(`R${regno} is not a scalar\n`);
          invalid();
        }
        continue;
      }
      // check_func_arg_reg_off: pointers that must be unmodified (the context, anything that may be null)
      const offProblem = this.argRegOff(regno, reg);
      if (offProblem !== undefined) {
        this.log.print(offProblem + '\n');
        invalid('EACCES');
      }
      if (a.kind === 'ctx') {
        if (reg.type !== RT.PTR_TO_CTX) {
          this.log.print(`arg#${i} expects pointer to ctx\n`);
          invalid();
        }
        continue;
      }
      if (a.kind !== 'mem') continue;
      // check_mem_reg: NULL is allowed where the argument may be null; anything else is
      // memory of the argument's size, read and written by the callee
      if (reg.type === RT.SCALAR && tnumIsConst(reg.s.varOff) && reg.s.value === 0n) {
        this.markPrecise(regno);
        if (!a.nullable) {
          this.log.print(`arg#${i} is expected to be non-NULL\n`);
          invalid();
        }
        continue;
      }
      const fi = this.cur.curframe;
      if (reg.maybeNull) this.cur.own(fi).regs[regno] = { ...reg, maybeNull: false };
      try {
        this.helperMem(regno, a.size, false, true, ' read from');
        this.helperMem(regno, a.size, true, true, ' write to');
      } catch (e) {
        if (!(e instanceof Fail)) throw e;
        invalid();
      } finally {
        if (reg.maybeNull) this.cur.own(fi).regs[regno] = reg;
      }
      if (!a.nullable && reg.maybeNull) {
        this.log.print(`arg#${i} is expected to be non-NULL\n`);
        invalid();
      }
    }
    if (this.log.level) this.log.print(`Func#${sp} ('${fn.name}') is global and assumed valid.\n`);
    this.called[sp] = 1;
    for (let r = 0; r <= 5; r++) {
      this.scratchReg(r);
      this.setReg(r, NOT_INIT);
    }
    // every global function returns a 64-bit number
    this.setReg(0, UNKNOWN);
    // the callee is not walked here: what it may do to the packet decides for the caller's pointers
    if (this.changesPktData()[sp]) this.clearPktPointers();
    return idx + 1;
  }

  private pktChanging: boolean[] | undefined;
  /**
   * Which subprograms may move or resize the packet: those calling such a
   * helper, and those calling (bpf-to-bpf) one that may, found once over
   * the instructions as the kernel's check_cfg merges its callees' effects.
   */
  private changesPktData(): boolean[] {
    if (this.pktChanging) return this.pktChanging;
    const n = this.subprogs.length;
    const of = (i: number): number => {
      let k = 0;
      while (k + 1 < n && this.subprogs[k + 1]! <= i) k++;
      return k;
    };
    const changes = new Array<boolean>(n).fill(false);
    const calls: [number, number][] = [];
    for (let i = 0; i < this.insns.length; i++) {
      const s = this.insns[i]!;
      if (s.code !== (BPF_JMP | BPF_CALL)) continue;
      if (s.src === 0 && CHANGES_PKT_DATA.has(s.imm)) changes[of(i)] = true;
      else if (s.src === 1) calls.push([of(i), of(i + s.imm + 1)]);
    }
    for (let more = true; more;) {
      more = false;
      for (const [caller, callee] of calls) {
        if (changes[callee] && !changes[caller]) changes[caller] = more = true;
      }
    }
    this.pktChanging = changes;
    return changes;
  }

  /** check_func_arg_reg_off for an argument of no particular type: the message, or undefined when it passes. */
  private argRegOff(regno: number, reg: Reg): string | undefined {
    switch (reg.type) {
      case RT.PTR_TO_STACK: case RT.PTR_TO_PACKET: case RT.PTR_TO_PACKET_META: case RT.PTR_TO_MAP_KEY: case RT.SCALAR:
        return undefined;
      case RT.PTR_TO_MAP_VALUE: case RT.PTR_TO_MEM:
        if (!reg.maybeNull) return undefined;
    }
    // __check_ptr_off_reg, no fixed offset allowed
    if (reg.off < 0) return `negative offset ${typeStr(reg)} ptr R${regno} off=${reg.off} disallowed`;
    if (reg.off) return `dereference of modified ${typeStr(reg)} ptr R${regno} off=${reg.off} disallowed`;
    if (!tnumIsConst(reg.s.varOff) || reg.s.value !== 0n) return `variable ${typeStr(reg)} access var_off=${tnumStr(reg.s.varOff)} disallowed`;
    return undefined;
  }

  /**
   * do_check_common for global function `sp`: a walk of its own from its
   * first instruction, frame 0 holding the arguments its prototype types
   * (a nullable memory argument gets a null-check id), with the explored
   * states of the previous walk freed and the counts (processed
   * instructions, states, ids) going on. The log as the kernel's: the
   * `Validating` line, and at level 1 a log emptied when the walk succeeds.
   */
  verifyGlobal(sp: number): WalkResult {
    const fn = this.env.funcInfo![sp]!;
    const start = this.subprogs[sp]!;
    if (this.log.level) this.log.print(`Validating ${fn.name}() func#${sp}...\n`);
    const problem = prototypeProblem(fn);
    if (problem !== undefined) {
      this.idx = start;
      this.fail('EINVAL', problem);
    }
    const f = newFrame(0, -1, sp);
    (fn.args ?? []).forEach((a, i) => {
      if (a.kind === 'ctx') f.regs[i + 1] = ptrReg(RT.PTR_TO_CTX);
      else if (a.kind === 'scalar') f.regs[i + 1] = UNKNOWN;
      else if (a.kind === 'mem') f.regs[i + 1] = ptrReg(RT.PTR_TO_MEM, { range: a.size, maybeNull: a.nullable, id: a.nullable ? this.newId() : 0 });
    });
    const st = new VState([f], [newLive(0)]);
    st.firstInsn = start;
    this.cur = st;
    this.explored.fill(undefined);
    this.idx = start;
    this.prevIdx = start;
    this.histJumps = 0;
    this.hLen = 0;
    this.histGen++;
    this.forceEntry = true;
    this.curLast = -1;
    const r = this.run();
    if (this.log.level === 1) this.log.reset(0);
    return r;
  }

  /**
   * check_func_call for a bpf-to-bpf call: a new frame for the callee,
   * walked in the caller's context. The kernel verifies a global (non-static)
   * function once on its own, from its BTF prototype (func info in
   * BPF_PROG_LOAD), and a call to it only against that prototype
   * (globalCall); without func info nothing tells a global function from a
   * static one, so every callee is verified as static.
   */
  private subprogCall(insn: Slot, idx: number): number {
    const target = idx + insn.imm + 1;
    const sp = this.subprogs.indexOf(target);
    if (sp < 0) this.fail('EFAULT', `verifier bug. No program starts at insn ${target}`);
    if (this.isGlobal(sp)) return this.globalCall(sp, idx);
    const cur = this.cur;
    if (cur.curframe + 1 >= MAX_CALL_FRAMES) this.fail('E2BIG', `the call stack of ${cur.curframe + 2} frames is too deep`);
    const caller = cur.frames[cur.curframe]!;
    const fi = cur.curframe + 1;
    const callee = newFrame(fi, idx, sp);
    callee.owner = cur;
    for (let r = 1; r <= 5; r++) {
      callee.regs[r] = caller.regs[r]!;
      // the callee's arguments are the caller's registers: their values matter
      if (caller.regs[r]!.type !== RT.NOT_INIT) this.markRead(cur, cur.curframe, r, true);
    }
    for (let r = 0; r <= 5; r++) {
      this.scratchReg(r);
      this.setReg(r, NOT_INIT);
    }
    cur.frames.push(callee);
    cur.live.push(newLive(LIVE_WRITTEN));
    if (this.log.level) {
      this.log.print(`caller:\n${stateStr(cur, fi - 1, true, 0, 0n)}\n`);
      this.log.print(`callee:\n${stateStr(cur, fi, true, 0, 0n)}\n`);
    }
    this.markAllScratched();
    return target;
  }

  /** prepare_func_exit of a callback: r0 in its range, then back to the helper call, which runs the callback again or goes on. */
  private callbackExit(callee: Frame, r0: Reg): number {
    const cur = this.cur;
    const { min, max } = callee.cbRet!;
    if (r0.type !== RT.SCALAR) this.fail('EINVAL', `At callback return the register R0 is not a known value (${typeStr(r0)})`);
    if (r0.s.smin < BigInt(min) || r0.s.smax > BigInt(max)) {
      const v = tnumIsConst(r0.s.varOff) ? `has value ${BigInt.asIntN(64, r0.s.value)}` : `has smin=${r0.s.smin} smax=${r0.s.smax}`;
      this.fail('EINVAL', `At callback return the register R0 ${v} should have been in [${min}, ${max}]`);
    }
    this.markPrecise(0);
    cur.frames.pop();
    cur.live.pop();
    const ret = callee.callsite;
    if (this.log.level) {
      this.log.print(`returning from callee:\n${stateStr({ ...cur, frames: [...cur.frames, callee] } as VState, cur.curframe + 1, true, 0, 0n)}\n`);
      this.log.print(`to caller at ${ret}:\n${stateStr(cur, cur.curframe, true, 0, 0n)}\n`);
    }
    this.widenImprecise(ret);
    this.markAllScratched();
    return ret;
  }

  /**
   * widen_imprecise_scalars, after a callback's run: against the checkpoint
   * of the helper call this path passed last (same frames), every scalar
   * of the caller's frames that is neither precise on either side nor
   * exactly the same becomes unknown. A sum the callback keeps in its
   * caller's stack then converges at the call in two runs instead of
   * never, as in the kernel; nothing learns from an imprecise value, so
   * forgetting it is safe.
   */
  private widenImprecise(callsite: number): void {
    const cur = this.cur;
    let old = cur.parent;
    while (old && !(old.insnIdx === callsite && sameCallsites(old, cur))) old = old.parent;
    if (!old) return;
    const ids = new IdMap();
    const widen = (o: Reg, c: Reg): boolean => o.type === RT.SCALAR && c.type === RT.SCALAR && !o.precise && !c.precise && !regsExact(o, c, ids);
    for (let f = old.curframe; f >= 0; f--) {
      const fo = old.frames[f]!;
      const fc = cur.frames[f]!;
      for (let i = 0; i < 11; i++) if (widen(fo.regs[i]!, fc.regs[i]!)) cur.own(f).regs[i] = UNKNOWN;
      const n = Math.floor(Math.min(fo.depth, fc.depth) / 8);
      for (let spi = 0; spi < n; spi++) {
        if (fo.stype[spi * 8 + 7] !== ST.SPILL || cur.frames[f]!.stype[spi * 8 + 7] !== ST.SPILL) continue;
        if (widen(fo.spilled[spi]!, cur.frames[f]!.spilled[spi]!)) cur.own(f).spilled[spi] = UNKNOWN;
      }
    }
  }

  /** prepare_func_exit: back to the caller with r0. */
  private subprogExit(): number {
    const cur = this.cur;
    const callee = cur.frames[cur.curframe]!;
    const r0 = callee.regs[0]!;
    this.scratchReg(0);
    if (r0.type === RT.NOT_INIT) this.fail('EACCES', 'R0 !read_ok');
    this.markRead(cur, cur.curframe, 0, true);
    if (callee.cbRet) return this.callbackExit(callee, r0);
    if (r0.type === RT.PTR_TO_STACK) this.fail('EINVAL', 'cannot return stack pointer to the caller');
    cur.frames.pop();
    cur.live.pop();
    this.setReg(0, r0);
    const ret = callee.callsite + 1;
    if (this.log.level) {
      this.log.print(`returning from callee:\n${stateStr({ ...cur, frames: [...cur.frames, callee] } as VState, cur.curframe + 1, true, 0, 0n)}\n`);
      this.log.print(`to caller at ${ret}:\n${stateStr(cur, cur.curframe, true, 0, 0n)}\n`);
    }
    this.markAllScratched();
    return ret;
  }
}

/** same_callsites: as many frames, each entered from the same call. */
function sameCallsites(a: VState, b: VState): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let f = 0; f < a.frames.length; f++) if (a.frames[f]!.callsite !== b.frames[f]!.callsite) return false;
  return true;
}

/** Nothing left to mark in frames 0..n-1 (the frames the path has: the masks of deeper ones stay empty). */
/**
 * The signed 64-bit value of int32 halves as a number: exact below 2^53 in
 * magnitude, and ordered correctly against any bound beyond (stack offsets
 * are compared with -512..0 and BPF_MAX_VAR_OFF).
 */
function s64Num(hi: number, lo: number): number {
  return hi * 4294967296 + (lo >>> 0);
}

// Backtracking's stack masks: bit f * 64 + spi for slot spi of frame f, two int32 words per frame
// (bigints made each backtracking step several times slower).
const bitHas = (m: readonly number[], b: number): boolean => ((m[b >> 5]! >>> (b & 31)) & 1) === 1;
const bitSet = (m: number[], b: number): void => { m[b >> 5] = m[b >> 5]! | (1 << (b & 31)); };
const bitClear = (m: number[], b: number): void => { m[b >> 5] = m[b >> 5]! & ~(1 << (b & 31)); };
const frameAny = (m: readonly number[], f: number): boolean => (m[2 * f]! | m[2 * f + 1]!) !== 0;

/** -BPF_MAX_VAR_OFF < the signed 64-bit value (hi, lo) < BPF_MAX_VAR_OFF */
function saneS64(hi: number, lo: number): boolean {
  return hi === 0 ? lo >= 0 && lo < BPF_MAX_VAR_OFF : hi === -1 && lo < 0 && lo > -BPF_MAX_VAR_OFF;
}

/** The level-2 log's view of backtracking's masks for frame f: registers (r1,r6) and stack offsets (-8,-16). */
function btRegsStr(regs: readonly number[], f: number): string {
  const out: string[] = [];
  for (let i = 0; i < 11; i++) if (regs[f]! & (1 << i)) out.push(`r${i}`);
  return out.join(',');
}
function btStackStr(stack: readonly number[], f: number): string {
  const out: string[] = [];
  for (let i = 0; i < SLOTS; i++) if (bitHas(stack, f * 64 + i)) out.push(`-${(i + 1) * 8}`);
  return out.join(',');
}

/*
 * Backtracking's masks of frames 0..n-1, copied and compared (a walk from
 * frame fr has n = fr + 1: it changes no deeper frame's, which stay empty,
 * since walking back into a callee passes its exit first, where non-empty
 * masks give up and mark everything precise).
 */
function copyMasks(regs: readonly number[], stack: readonly number[], toRegs: number[], toStack: number[], n: number): void {
  for (let f = 0; f < n; f++) toRegs[f] = regs[f]!;
  for (let k = 0; k < 2 * n; k++) toStack[k] = stack[k]!;
}

function sameMasks(regs: readonly number[], stack: readonly number[], r2: readonly number[], s2: readonly number[], n: number): boolean {
  for (let f = 0; f < n; f++) if (regs[f] !== r2[f]) return false;
  for (let k = 0; k < 2 * n; k++) if (stack[k] !== s2[k]) return false;
  return true;
}

function emptyMasks(regs: number[], stack: number[], n: number): boolean {
  for (let f = 0; f < n; f++) if (regs[f] !== 0 || frameAny(stack, f)) return false;
  return true;
}

/**
 * Whether the current frames' registers r0-r9 of a and b agree in type,
 * fixed offset and tnum: what states equal exactly always share, so the
 * loop check's exact comparison runs only where it holds. (A hash of these,
 * made once per visit, cost more than comparing them: a loop's states
 * differ in the first registers, its counter.)
 */
function sameCurRegs(a: VState, b: VState): boolean {
  const ra = a.frames[a.curframe]!.regs, rb = b.frames[b.curframe]!.regs;
  for (let i = 0; i < 10; i++) {
    const x = ra[i]!, y = rb[i]!;
    if (x === y) continue;
    if (x.type !== y.type || x.off !== y.off) return false;
    const t = x.s.varOff, u = y.s.varOff;
    if (t !== u && (t.vlo !== u.vlo || t.vhi !== u.vhi || t.mlo !== u.mlo || t.mhi !== u.mhi)) return false;
  }
  return true;
}


export { scalarConst, BPF_JSET, BPF_MUL, BPF_XOR, BPF_IND, ST as STACK_TYPES, BPF_JNE };
export type { Frame };
