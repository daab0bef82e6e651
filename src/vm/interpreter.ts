/**
 * The interpreter: RFC 9669 semantics for every opcode of isa/, over the
 * runtime's single address space.
 *
 * Speed comes from four choices: the program is predecoded once (2 words
 * per slot) and run from two module-level arrays, its words and its
 * immediates, indexed by pc; registers are 64-bit values kept as 32-bit
 * halves in two module-level arrays, low and high, so the hot path never
 * touches BigInt (only 64-bit division of values that do not fit 32 bits
 * falls back to it); dispatch is one `switch` on the full opcode byte, one
 * case per opcode (a literal label, named by a comment in the disassembler's
 * syntax, which test/interp-dispatch.test.ts checks), plus a few keys for forms known when predecoding (64-bit
 * shifts by a constant, by half: specializeShifts()); and in fast mode, two
 * kinds of consecutive pairs (load + byte swap, store + load) run as one
 * superinstruction, one dispatch for two (fuse(); the cases are generated
 * by scripts/gen-fused.mjs).
 *
 * Two modes:
 * - fast (verified programs): memory accesses are bounds-checked only by the
 *   typed-array view of the runtime's memory, so a verifier bug cannot reach
 *   outside that memory;
 * - checked (unverified programs, and the soundness oracle): every load and
 *   store must fall inside a region the program may touch (its stack frames,
 *   the context and packet of this run, the runtime's registered regions such
 *   as map values), else BpfError EFAULT naming pc, address and size; and the
 *   run stops with E2BIG once it has executed more than `budget` instructions.
 *   Its stack frames start zeroed, so it never reads what another program
 *   left on the stack.
 *
 * In both modes a frame's bounds follow the call depth, which the program
 * cannot reach: a local call gives the callee r10 = stackTop - depth *
 * STACK_FRAME_SIZE and the return restores the caller's r10 from the depth,
 * so a program that moves r10 (unverified code may) moves no bound. The
 * frames are the lane's (AddressSpace.lane: STACK_TOP on lane 0), so
 * threads over one shared memory never share a stack.
 *
 * In a shared memory (AddressSpace.shared) the atomic instructions are
 * real atomics (Atomics.* on views of the SharedArrayBuffer; a misaligned
 * one is a fault, as the kernel's verifier refuses it), and a run stores
 * the global epoch in its lane's run word while it lasts (runStart/runEnd),
 * which is how maps shared between threads know what it may still hold.
 *
 * The budget is counted at control transfers (taken jumps, calls, exits),
 * adding the length of the straight-line segment just run, so it costs
 * nothing per instruction. Coverage (checked mode) rides on the same points.
 */

import { BpfError, InternalError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { isLdImm64, isLdImm64Pair, isLocalCall, slotProblem } from '../isa/instruction.js';
import { opcodeShape, SKF_LL_OFF, SKF_NET_OFF } from '../isa/opcodes.js';
import type { Helper, HelperEnv, HelperRegistry } from '../runtime/helpers.js';
import { EngineHelperEnv, helperLabel, programMaps, UNVISITED_TRAP, unvisitedTrapMessage } from '../runtime/helpers.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import type { Engine, RunInput, RunResult } from '../runtime/engine.js';
import { MAX_CALL_FRAMES, NULL_PAGE_END, STACK_FRAME_SIZE } from '../memory/address-space.js';

/** How an Interpreter runs: checked or fast, budget, helpers, regions, maps. */
export interface InterpreterOptions {
  /** check every memory access against the allowed regions (default false) */
  checked?: boolean;
  /** maximum instructions per run in checked mode (default 1,000,000) */
  budget?: number;
  helpers: HelperRegistry;
  /** regions that live longer than a run (map storage); consulted in checked mode */
  regions?: () => readonly Region[];
  /** the program's maps, the only ones its helper calls may use (runtime/helpers.ts, programMaps) */
  maps?: readonly BpfMapImpl[];
  /**
   * Checked mode only (EINVAL in fast mode): after each run, coverage[pc] is
   * 1 for every instruction the run executed (the first slot of an
   * ld_imm64), accumulated over runs; at least as long as the program.
   * Recorded per straight-line segment at control transfers, so it costs
   * nothing per instruction, and nothing at all when absent.
   */
  coverage?: Uint8Array;
}

/** What Interpreter.runStepped gives: r0 (at exit, or when stopped), the instructions executed, whether onStep stopped the run. */
export interface SteppedResult extends RunResult {
  stopped: boolean;
}

/** Where a stepped run stands before its next instruction: pc and the local-call depth (0 in the program's main function). */
export interface StepPoint {
  pc: number;
  depth: number;
}

const STRIDE = 2;

/**
 * The register file, one per process: r(i) = (RL[i], RH[i]), its low and
 * high 32-bit halves. Module-level constants let V8 embed their addresses
 * and lengths in the compiled loop, dropping the loads a per-instance array
 * costs on every access. Two arrays indexed alike, rather than one indexed
 * 2i and 2i+1, let V8 prove the second access in bounds from the first
 * (the same index against the same length), so each operand costs one
 * bounds check instead of two. They hold 32 entries for 11 registers: V8
 * keeps typed arrays of up to 64 bytes inside its heap, where they can move
 * and their address cannot be embedded.
 * Runs do not nest (a helper never starts a program), so one file suffices;
 * `running` enforces that.
 */
const RL = new Int32Array(32);
const RH = new Int32Array(32);
/**
 * The helpers' view of the registers (runtime/helpers.ts): r(i) =
 * (HREGS[2i], HREGS[2i+1]). r0..r5 are copied in before a helper call and
 * r0, the only register a helper writes, back after it.
 */
const HREGS = new Int32Array(32);
let running = false;

/**
 * The code arena, for the same reasons: the predecoded program being run is
 * copied here (once, when a different program runs than last time), word 0
 * of each slot to CODE_W and its imm to CODE_IMM, both indexed by pc, so
 * the loop reads its instructions from constant arrays and an imm costs no
 * bounds check of its own. It bounds a program to MAX_INTERP_SLOTS slots,
 * four times 3.19's 4096. The arrays stay at 64 KiB each: smaller than
 * the C allocator's threshold for mapping memory of its own, they land low
 * in the address space, where the loop reaches them by a 32-bit
 * displacement instead of loading a 64-bit address on every dispatch.
 */
export const MAX_INTERP_SLOTS = 16383;
const CODE_W = new Int32Array(MAX_INTERP_SLOTS + 1);
const CODE_IMM = new Int32Array(MAX_INTERP_SLOTS + 1);
let loaded: Int32Array | undefined;
/** predecoded sentinel, an opcode byte no instruction has: falling off the end of the program */
const OP_FELL_OFF = 0xff;
/**
 * predecoded key no instruction has, stepping only (runStepped): every
 * instruction but the one being stepped carries it in the code arena, so
 * the run pauses before the next instruction whichever way control goes
 */
const OP_STEP = 0xfe;
const TWO32 = 4294967296;

/**
 * Lowered form, 2 words per slot plus a sentinel:
 *   word 0: key | dst << 8 | src << 12 | off << 16, where key (8 bits) is
 *           the opcode byte, or for a fused pair (fast mode, see fuse()) an
 *           opcode byte no instruction uses;
 *   word 1: imm.
 */

export const KEY_MASK = 0xff;

function predecode(slots: readonly Slot[], fast: boolean): Int32Array {
  const n = slots.length;
  const p = new Int32Array((n + 1) * STRIDE);
  const secondHalf = new Uint8Array(n + 1);
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    if (secondHalf[i]) {
      p[i * STRIDE + 1] = s.imm;
      continue;
    }
    const problem = slotProblem(s);
    if (problem !== undefined) throw new BpfError('EINVAL', `insn ${i}: ${problem}`);
    if (isLdImm64(s)) {
      if (!isLdImm64Pair(slots, i)) throw new BpfError('EINVAL', `insn ${i}: invalid bpf_ld_imm64 insn`);
      secondHalf[i + 1] = 1;
    }
    p[i * STRIDE] = s.code | (s.dst << 8) | (s.src << 12) | (s.off << 16);
    p[i * STRIDE + 1] = s.imm;
  }
  p[n * STRIDE] = OP_FELL_OFF;
  if (fast) fuse(p, n);
  specializeShifts(p, n);
  // Every static control transfer must land on an instruction (or, for a
  // jump, on the sentinel past the end, which reports falling off).
  for (let i = 0; i < n; i++) {
    if (secondHalf[i]) continue;
    const s = slots[i]!;
    const shape = opcodeShape(s.code);
    let target: number | undefined;
    if (shape === 'ja' || shape === 'jcond') target = i + s.off + 1;
    else if (shape === 'ja32' || isLocalCall(s)) target = i + s.imm + 1;
    if (target === undefined) continue;
    if (target < 0 || target >= n || secondHalf[target]) {
      throw new BpfError('EINVAL', `jump out of range from insn ${i} to ${target}`);
    }
  }
  return p;
}

// ---- BEGIN GENERATED: fusable kinds (scripts/gen-fused.mjs; do not edit) ----
/** Number of fusable kinds; fusedKind() numbers them 0 .. FUSED_KINDS - 1. */
const FUSED_KINDS = 11;
/** Names of the fusable kinds, by number. */
export const FUSED_KIND_NAMES: readonly string[] = ['be16', 'be32', 'be64', 'ldxw', 'ldxh', 'ldxb', 'ldxdw', 'stxw', 'stxh', 'stxb', 'stxdw'];
/** Key of the fused case for kinds (k1, k2) at [k1 * FUSED_KINDS + k2], or 0 when the pair is not fused. */
/** The keys of the fused cases. */
export const FUSED_KEYS: ReadonlySet<number> = new Set([1, 2, 3, 8, 9, 10, 11, 13, 14, 16, 17, 18, 19, 25, 26, 27, 33, 34, 35, 41, 42, 43, 49, 50, 51, 56, 57, 58]);
const FUSED_PAIR_KEY = new Uint16Array([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0,
  8, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0,
  11, 13, 14, 0, 0, 0, 0, 0, 0, 0, 0,
  16, 17, 18, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 19, 25, 26, 27, 0, 0, 0, 0,
  0, 0, 0, 33, 34, 35, 41, 0, 0, 0, 0,
  0, 0, 0, 42, 43, 49, 50, 0, 0, 0, 0,
  0, 0, 0, 51, 56, 57, 58, 0, 0, 0, 0,
]);
/** The fusable kind of a fast-mode predecoded instruction (key = opcode byte), or -1. */
function fusedKind(key: number, off: number, imm: number): number {
  switch (key) {
    case 0x61: return 3;
    case 0x63: return 7;
    case 0x69: return 4;
    case 0x6b: return 8;
    case 0x71: return 5;
    case 0x73: return 9;
    case 0x79: return 6;
    case 0x7b: return 10;
    case 0xd7: return imm === 16 ? 0 : imm === 32 ? 1 : imm === 64 ? 2 : -1;
    case 0xdc: return imm === 16 ? 0 : imm === 32 ? 1 : imm === 64 ? 2 : -1;
    default: return -1;
  }
}
// ---- END GENERATED: fusable kinds ----

/**
 * Superinstructions (fast mode): slot i runs the instructions of slots i and
 * i + 1 in one dispatch when both are of a fusable kind (straight-line, no
 * control transfer). Only slot i's key changes: slot i + 1 keeps its own
 * fields, which the fused case reads, so a jump into slot i + 1 runs it
 * alone (itself possibly fused with i + 2). The fused case increments pc
 * between the two, so the executed count stays exact and a fault in the
 * second names its pc.
 */
function fuse(p: Int32Array, n: number): void {
  const kinds = new Int32Array(n + 1).fill(-1);
  for (let i = 0; i < n; i++) {
    const w = p[i * STRIDE]!;
    kinds[i] = fusedKind(w & KEY_MASK, w >> 16, p[i * STRIDE + 1]!);
  }
  for (let i = 0; i + 1 < n; i++) {
    if (kinds[i]! < 0 || kinds[i + 1]! < 0) continue;
    const key = FUSED_PAIR_KEY[kinds[i]! * FUSED_KINDS + kinds[i + 1]!]!;
    if (key !== 0) p[i * STRIDE] = (p[i * STRIDE]! & ~KEY_MASK) | key;
  }
}

/** Keys of the 64-bit shifts by a constant, split by amount (1..31, 32..63): no branch on the amount at run time. */
const OP_LSH_LO = 0xf8;
const OP_LSH_HI = 0xf9;
const OP_RSH_LO = 0xfa;
const OP_RSH_HI = 0xfb;
const OP_ARSH_LO = 0xfc;
const OP_ARSH_HI = 0xfd;

/**
 * A 64-bit shift by a constant takes the key of its amount's half, with
 * imm = the amount within that half (1..31, or 0..31 for the high half).
 * A shift by 0 keeps its own key.
 */
function specializeShifts(p: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const w = p[i * STRIDE]!;
    const key = w & KEY_MASK;
    if (key !== 0x67 && key !== 0x77 && key !== 0xc7) continue;
    const amount = p[i * STRIDE + 1]! & 63;
    if (amount === 0) continue;
    const hi = amount >= 32;
    const k = key === 0x67 ? (hi ? OP_LSH_HI : OP_LSH_LO) : key === 0x77 ? (hi ? OP_RSH_HI : OP_RSH_LO) : hi ? OP_ARSH_HI : OP_ARSH_LO;
    p[i * STRIDE] = (w & ~KEY_MASK) | k;
    p[i * STRIDE + 1] = hi ? amount - 32 : amount;
  }
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** r(a) / r(b) and r(a) % r(b) for 64-bit values, by BigInt; the slow path. */
function div64(alo: number, ahi: number, blo: number, bhi: number, signed: boolean, mod: boolean): bigint {
  let a = (BigInt(ahi >>> 0) << 32n) | BigInt(alo >>> 0);
  let b = (BigInt(bhi >>> 0) << 32n) | BigInt(blo >>> 0);
  if (signed) {
    a = BigInt.asIntN(64, a);
    b = BigInt.asIntN(64, b);
  }
  // Callers handle b == 0 (RFC 9669: div gives 0, mod leaves dst unchanged).
  return BigInt.asUintN(64, mod ? a % b : a / b);
}

/** The interpreter engine: fast mode for verified programs, checked mode (every access checked, an instruction budget) for the rest. */
export class Interpreter implements Engine {
  readonly engineName = 'interpreter' as const;
  readonly slots: readonly Slot[];
  private readonly prog: Int32Array;
  private readonly mem: AddressSpace;
  private readonly helpers: HelperRegistry;
  private readonly helperCache = new Map<number, Helper | null>();
  readonly checked: boolean;
  readonly budget: number;
  private readonly longRegions: () => readonly Region[];
  /** r0 at the last exit, as halves */
  retLo = 0;
  retHi = 0;
  /** the budget of the run in progress: `budget`, or less when it is a tail call's target (execTail) */
  private limit: number;
  /** instructions executed by the last run */
  executed = 0;
  private runRegions: readonly Region[] = [];
  private pktAddr = 0;
  private pktLen = 0;
  private pktNetOff = -1;
  private frameBase: number;
  /** r10 of a run's first frame: the lane's stack top (STACK_TOP on lane 0) */
  private readonly stackTop: number;
  /** the memory is shared: atomics are real, runs publish their epoch */
  private readonly shared: boolean;
  /** shared mode: a 64-bit view of the memory, for the 64-bit atomics */
  private readonly i64: BigInt64Array | undefined;
  private pcForHelper = 0;
  private readonly coverage: Uint8Array | undefined;
  /** 1 at the second slot of each ld_imm64, which coverage never marks */
  private readonly secondSlots: Uint8Array | undefined;
  /** with coverage: instructions counted so far in this run (the budget's count) */
  private used = 0;
  /** what helpers see: the memory, and access checks in this engine's mode */
  private readonly env: HelperEnv;
  /** runStepped: the state loopInner resumes from (read and cleared by its prologue) */
  private resume: { depth: number; frames: number[]; zeroFrame: boolean } | undefined;
  /** runStepped: where loopInner paused (OP_STEP), undefined when the run exited */
  private paused: { pc: number; depth: number } | undefined;
  /** runStepped in progress: the code arena holds OP_STEP everywhere but the instruction being stepped */
  private stepping = false;

  constructor(mem: AddressSpace, slots: readonly Slot[], options: InterpreterOptions) {
    if (slots.length === 0) throw new BpfError('EINVAL', 'empty program');
    if (slots.length > MAX_INTERP_SLOTS) {
      throw new BpfError('E2BIG', `program of ${slots.length} instructions exceeds the interpreter's ${MAX_INTERP_SLOTS}`);
    }
    this.slots = slots;
    this.checked = options.checked ?? false;
    this.prog = predecode(slots, !this.checked);
    this.mem = mem;
    this.stackTop = mem.lane.stackTop;
    this.frameBase = this.stackTop;
    this.shared = mem.shared;
    this.i64 = mem.shared ? new BigInt64Array(mem.memory.buffer) : undefined;
    this.helpers = options.helpers;
    this.budget = options.budget ?? 1_000_000;
    this.limit = this.budget;
    if (!Number.isSafeInteger(this.budget) || this.budget <= 0) {
      throw new BpfError('EINVAL', `instruction budget must be a positive integer, got ${options.budget}`);
    }
    this.longRegions = options.regions ?? (() => []);
    const cov = options.coverage;
    if (cov !== undefined) {
      if (!this.checked) throw new BpfError('EINVAL', 'coverage is recorded in checked mode only');
      if (!(cov instanceof Uint8Array) || cov.length < slots.length) {
        throw new BpfError('EINVAL', `coverage must be a Uint8Array of at least ${slots.length} entries`);
      }
      const second = new Uint8Array(slots.length);
      for (let i = 0; i + 1 < slots.length; i++) {
        if (isLdImm64(slots[i]!)) second[++i] = 1;
      }
      this.coverage = cov;
      this.secondSlots = second;
    }
    const self = this;
    this.env = new EngineHelperEnv(
      mem,
      programMaps(slots, options.helpers, options.maps).at,
      (addr: number, size: number, write: boolean): void => {
        if (self.checked) self.check(self.pcForHelper, addr, 0, size, write);
        else if (addr < 0 || addr + size > mem.byteLength) {
          throw self.fault(self.pcForHelper, addr, 0, size, write, 'outside the address space');
        }
      },
      options.helpers.run,
      (pc, args, extra) => self.callback(pc, args, extra),
    );
  }

  /** r0..r10 after the last run, as halves: r(i) = (out[2i], out[2i+1]). */
  registerHalves(): Int32Array {
    const out = new Int32Array(22);
    for (let r = 0; r <= 10; r++) {
      out[2 * r] = RL[r]!;
      out[2 * r + 1] = RH[r]!;
    }
    return out;
  }

  /** Run once and return r0 as a bigint. */
  run(input: RunInput = {}): RunResult {
    this.exec(input);
    return { r0: (BigInt(this.retHi >>> 0) << 32n) | BigInt(this.retLo >>> 0), insns: this.executed };
  }

  /**
   * Single-stepping (checked mode only): one run over `input`, calling
   * `onStep` before each instruction with its pc and call depth; there the
   * registers are registerHalves() and the stack, context and maps are in
   * the runtime's memory as the instruction will find them. `false` from
   * onStep stops the run before that instruction (r0 is then r0 as it
   * stands). What a debugger needs, at no cost to ordinary runs: the code
   * arena holds OP_STEP in every slot but the one being stepped, so the
   * loop pauses before the next instruction wherever control goes (jump,
   * local call, return) and resumes with its frames. A callback a helper
   * runs (bpf_loop) runs within its call's step; a tail call's target runs
   * to its end unstepped. onStep must not run a program (EBUSY-like
   * InternalError, as any nested run). The budget counts steps.
   */
  runStepped(input: RunInput, onStep: (at: StepPoint) => boolean | void): SteppedResult {
    if (!this.checked) throw new BpfError('EINVAL', 'stepping runs in the checked interpreter only');
    if (this.coverage !== undefined) throw new BpfError('EINVAL', 'stepping does not record coverage');
    if (typeof onStep !== 'function') throw new BpfError('EINVAL', 'runStepped needs an onStep function');
    if (running) throw new InternalError('a program run started inside another run');
    const run = this.helpers.run;
    run.begin(input);
    this.mem.runStart();
    try {
      const stopped = this.stepAll(input, onStep);
      if (stopped !== undefined) return stopped;
      // a tail call's target runs in its own engine, to its end
      if (run.tail !== undefined) this.followTails(input);
    } finally {
      this.mem.runEnd();
      run.end();
    }
    return { r0: (BigInt(this.retHi >>> 0) << 32n) | BigInt(this.retLo >>> 0), insns: this.executed, stopped: false };
  }

  /** runStepped's steps, inside its run: the result when onStep stopped it, else undefined (r0 in retLo/retHi). */
  private stepAll(input: RunInput, onStep: (at: StepPoint) => boolean | void): SteppedResult | undefined {
    const run = this.helpers.run;
    const real = this.prog;
    running = true;
    this.stepping = true;
    let steps = 0;
    try {
      this.enter(input);
      this.limit = Math.min(this.budget, run.budgetLeft);
      this.loadTrapped(-1);
      // the local-call frames, kept across the steps (loopInner pushes and pops them in place)
      const frames: number[] = [];
      let at: StepPoint = { pc: 0, depth: 0 };
      for (;;) {
        if (onStep({ pc: at.pc, depth: at.depth }) === false) {
          this.executed = steps;
          return { r0: (BigInt(RH[0]! >>> 0) << 32n) | BigInt(RL[0]! >>> 0), insns: steps, stopped: true };
        }
        if (steps >= this.limit) throw this.overBudget(at.pc);
        CODE_W[at.pc] = real[at.pc * STRIDE]!;
        this.resume = { depth: at.depth, frames, zeroFrame: steps === 0 };
        this.paused = undefined;
        try {
          this.loopInner(at.pc, 0, this.limit);
        } finally {
          CODE_W[at.pc] = (real[at.pc * STRIDE]! & ~KEY_MASK) | OP_STEP;
        }
        steps++;
        if (this.paused === undefined) break;
        at = this.paused;
      }
      this.executed = steps;
      run.budgetLeft = this.limit - steps;
      return undefined;
    } finally {
      this.stepping = false;
      this.resume = undefined;
      // the next ordinary run reloads its own code
      loaded = undefined;
      running = false;
    }
  }

  /**
   * runStepped: the program in the code arena with OP_STEP in every slot
   * but `except` (-1: none) and the sentinel; or, with `none`, the program
   * as it is (a callback running within a step).
   */
  private loadTrapped(except: number, none = false): void {
    const p = this.prog;
    const n = p.length / STRIDE - 1;
    for (let k = 0; k < n; k++) {
      CODE_W[k] = none || k === except ? p[k * STRIDE]! : (p[k * STRIDE]! & ~KEY_MASK) | OP_STEP;
      CODE_IMM[k] = p[k * STRIDE + 1]!;
    }
    CODE_W[n] = p[n * STRIDE]!;
    CODE_IMM[n] = p[n * STRIDE + 1]!;
    loaded = undefined;
  }

  /** Nothing to give back: the code arena and the registers are the module's, the predecoded program is garbage-collected. */
  free(): void {}

  /**
   * Set up registers and the packet, then execute; r0 lands in retLo/retHi.
   * A tail call the run asks for continues in its target's engine (see
   * followTails), whose r0 is the run's.
   */
  exec(input: RunInput = {}): void {
    const run = this.helpers.run;
    run.begin(input);
    // (shared memory: the lane's run word holds the epoch until the run and its tail calls end)
    this.mem.runStart();
    try {
      this.execTail(input);
      if (run.tail !== undefined) this.followTails(input);
    } finally {
      this.mem.runEnd();
      run.end();
    }
  }

  /** Continue with the programs tail calls asked for, each in its own engine (RunState.tailEngine). */
  private followTails(input: RunInput): void {
    const run = this.helpers.run;
    while (run.tail !== undefined) {
      const next = run.tailEngine(run.tail, this.engineName);
      run.tail = undefined;
      if (next?.execTail === undefined) throw new BpfError('EFAULT', 'bpf_tail_call: the target program cannot run here');
      next.execTail(input);
      this.retLo = next.retLo;
      this.retHi = next.retHi;
    }
  }

  /**
   * One run as a tail call's target: the run's state (tail calls taken, the
   * frame) carries on, and so does its budget: a run begun in the checked
   * interpreter executes at most that budget in all the programs it
   * tail-calls (RunState.budgetLeft), not a budget per program.
   */
  execTail(input: RunInput): void {
    const run = this.helpers.run;
    this.limit = Math.min(this.budget, run.budgetLeft);
    this.execOnce(input);
    if (this.checked || run.budgetLeft !== Infinity) run.budgetLeft = this.limit - this.executed;
  }

  private execOnce(input: RunInput): void {
    this.enter(input);
    this.loop();
  }

  /** A run's starting state, for a whole run and a stepped one alike: r1, r2, the frame pointer, the packet. */
  private enter(input: RunInput): void {
    clearRegisters();
    setHalves(1, input.r1 ?? 0);
    setHalves(2, input.r2 ?? 0);
    RL[10] = this.stackTop;
    const pkt = input.packet;
    this.pktAddr = pkt?.addr ?? 0;
    this.pktLen = pkt?.len ?? 0;
    this.pktNetOff = pkt?.netOff ?? -1;
    this.runRegions = input.regions ?? [];
  }

  /** Re-run with the registers r1 and r2 only (the packet and regions of the last exec stay). */
  execRaw(r1: number, r2: number): void {
    this.limit = this.budget;
    clearRegisters();
    RL[1] = r1 | 0;
    RH[1] = Math.floor(r1 / TWO32) | 0;
    RL[2] = r2 | 0;
    RH[2] = Math.floor(r2 / TWO32) | 0;
    RL[10] = this.stackTop;
    this.mem.runStart();
    try {
      this.loop();
    } finally {
      this.mem.runEnd();
    }
  }

  private fault(pc: number, addr: number, hi: number, size: number, write: boolean, why: string): BpfError {
    const where = hi !== 0
      ? `0x${(hi >>> 0).toString(16)}${(addr >>> 0).toString(16).padStart(8, '0')}`
      : `0x${(addr >>> 0).toString(16)}`;
    return new BpfError('EFAULT', `pc ${pc}: invalid ${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'} at ${where}: ${why}`);
  }

  /** Checked mode: throw unless [addr, addr+size) lies in a region the program may touch. */
  private check(pc: number, addr: number, hi: number, size: number, write: boolean): void {
    if (hi !== 0) throw this.fault(pc, addr, hi, size, write, 'address beyond the address space');
    const end = addr + size;
    if (addr < NULL_PAGE_END) throw this.fault(pc, addr, hi, size, write, 'null pointer dereference');
    // The current frame and the frames of its callers.
    if (addr >= this.frameBase - STACK_FRAME_SIZE && end <= this.stackTop) return;
    for (const r of this.runRegions) {
      if (addr >= r.start && end <= r.end) {
        if (write && !r.writable) throw this.fault(pc, addr, hi, size, write, `${r.name} is read-only`);
        return;
      }
    }
    for (const r of this.longRegions()) {
      if (addr >= r.start && end <= r.end && (r.contains === undefined || r.contains(addr, end))) {
        if (write && !r.writable) throw this.fault(pc, addr, hi, size, write, `${r.name} is read-only`);
        return;
      }
    }
    if (addr >= this.stackTop - STACK_FRAME_SIZE * MAX_CALL_FRAMES && addr < this.stackTop) {
      throw this.fault(pc, addr, hi, size, write, 'outside the stack frame');
    }
    throw this.fault(pc, addr, hi, size, write, 'outside any region the program may access');
  }

  private helper(id: number, pc: number): Helper {
    let h = this.helperCache.get(id);
    if (h === undefined) {
      h = this.helpers.get(id) ?? null;
      this.helperCache.set(id, h);
    }
    if (h === null) {
      if (id === UNVISITED_TRAP) throw new BpfError('EFAULT', unvisitedTrapMessage(pc));
      throw new BpfError('EINVAL', `pc ${pc}: call to unknown helper ${helperLabel(id)}`);
    }
    return h;
  }

  private loop(): void {
    if (running) throw new InternalError('a program run started inside another run');
    running = true;
    if (loaded !== this.prog) {
      const p = this.prog;
      for (let k = 0, n = p.length / STRIDE; k < n; k++) {
        CODE_W[k] = p[k * STRIDE]!;
        CODE_IMM[k] = p[k * STRIDE + 1]!;
      }
      loaded = p;
    }
    try {
      this.loopInner(0, 0, this.limit);
    } finally {
      running = false;
    }
  }

  /** at a helper call: the budget left and the call depth, for a callback the helper runs */
  private budgetAtCall = 0;
  private depthAtCall = 0;
  /** instructions a callback run inside the last helper call executed, for the caller's budget */
  private nestedUsed = 0;

  /**
   * Run the subprogram at `pc` as a callback of the helper being called
   * (env.callback): a new frame below the caller's, r1..r5 = args, until it
   * returns; the caller's r6..r10 and frame come back afterwards. Its
   * instructions count against the run's budget.
   */
  private callback(pc: number, args: readonly (number | bigint)[], extra?: Region): bigint {
    if (!Number.isInteger(pc) || pc < 0 || pc >= this.slots.length || (pc > 0 && isLdImm64(this.slots[pc - 1]!) && this.isSecondSlot(pc))) {
      throw new BpfError('EFAULT', `pc ${this.pcForHelper}: callback at insn ${pc} is not an instruction of the program`);
    }
    const depth = this.depthAtCall + 1;
    if (depth >= MAX_CALL_FRAMES) throw new BpfError('E2BIG', `pc ${this.pcForHelper}: call depth exceeds ${MAX_CALL_FRAMES} frames`);
    const saved = new Int32Array(22);
    for (let r = 0; r <= 10; r++) {
      saved[2 * r] = RL[r]!;
      saved[2 * r + 1] = RH[r]!;
    }
    const frameBase = this.frameBase;
    const pcForHelper = this.pcForHelper;
    const depthAtCall = this.depthAtCall;
    const runRegions = this.runRegions;
    const budget = this.budgetAtCall;
    if (extra) this.runRegions = [...runRegions, extra];
    for (let r = 1; r <= 5; r++) setHalves(r, args[r - 1] ?? 0);
    RL[10] = this.stackTop - depth * STACK_FRAME_SIZE;
    RH[10] = 0;
    // a stepped run: the callback runs whole, within its helper call's step
    const stepping = this.stepping;
    if (stepping) this.loadTrapped(pc, true);
    try {
      this.loopInner(pc, depth, budget);
      if (this.coverage === undefined) {
        // with coverage the budget is counted in this.used, which the callback's run went on counting
        const left = this.limit - this.executed;
        this.nestedUsed += budget - left;
        this.budgetAtCall = left;
      }
      return (BigInt(RH[0]! >>> 0) << 32n) | BigInt(RL[0]! >>> 0);
    } finally {
      for (let r = 0; r <= 10; r++) {
        RL[r] = saved[2 * r]!;
        RH[r] = saved[2 * r + 1]!;
      }
      this.frameBase = frameBase;
      this.pcForHelper = pcForHelper;
      this.depthAtCall = depthAtCall;
      this.runRegions = runRegions;
      if (stepping) this.loadTrapped(pcForHelper);
    }
  }

  private isSecondSlot(pc: number): boolean {
    let i = 0;
    while (i < pc) i += isLdImm64(this.slots[i]!) ? 2 : 1;
    return i !== pc;
  }

  private loopInner(startPc: number, baseDepth: number, startBudget: number): void {
    const PW = CODE_W;
    const PI = CODE_IMM;
    const mem = this.mem;
    const checked = this.checked;
    const stackTop = this.stackTop;
    const shared = this.shared;
    // (a shared memory never grows: its 32-bit view stays valid)
    const i32 = mem.i32;
    let u8 = mem.u8;
    let dv = mem.view;
    const env = this.env;
    let pc = startPc;
    let segStart = startPc;
    // With coverage, the budget is counted in this.used at every control
    // transfer (see transfer()): the local stays at -1 so each transfer takes
    // the cold `budget < 0` branch, and runs without coverage pay nothing.
    let budget = this.coverage === undefined ? startBudget : -1;
    // a callback (baseDepth > 0) goes on counting its run's instructions
    if (baseDepth === 0) this.used = 0;
    // A stepped run (runStepped) resumes where its last step paused.
    const resume = this.resume;
    this.resume = undefined;
    // Local-call frames: return pc and the caller's r6..r9.
    const frames: number[] = resume === undefined ? [] : resume.frames;
    // Call depth: 0 in the outermost frame (a callback's frame for a
    // callback). r10 and the frame bounds derive from it, never from a
    // register the program controls.
    let depth = resume === undefined ? baseDepth : resume.depth;
    this.frameBase = stackTop - depth * STACK_FRAME_SIZE;
    // Checked mode's inline fast path: accesses inside the current frame or its callers' frames.
    let frameLo = this.frameBase - STACK_FRAME_SIZE;
    // Checked mode: a run starts with a zeroed frame, whatever the last program left there.
    if (checked && (resume === undefined || resume.zeroFrame)) u8.fill(0, frameLo, this.frameBase);
    let w = 0;
    let a = 0;
    let b = 0;
    let off = 0;
    let imm = 0;
    let addr = 0;
    let t = 0;
    let u = 0;
    try {
      for (;;) {
        w = PW[pc]!;
        // Register indexes are masked to 0..15, within the register arrays.
        a = (w >> 8) & 0xf;
        b = (w >> 12) & 0xf;
        off = w >> 16;
        switch (w & 0xff) {
          // ---------------------------------------------------- ALU64, K
          // 64-bit add/sub in int32 arithmetic: the low word carries out when the
          // unsigned sum is below an operand, and borrows when x < y unsigned.
          case 0x07: /* dst += imm */ imm = PI[pc]!;
            u = RL[a]!;
            t = (u + imm) | 0;
            RL[a] = t;
            RH[a] = (RH[a]! + (imm >> 31) + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            break;
          case 0x17: /* dst -= imm */ imm = PI[pc]!;
            u = RL[a]!;
            RL[a] = (u - imm) | 0;
            RH[a] = (RH[a]! - (imm >> 31) - ((u >>> 0) < (imm >>> 0) ? 1 : 0)) | 0;
            break;
          case 0x27: /* dst *= imm */ imm = PI[pc]!;
            mul64(a, RL[a]!, RH[a]!, imm, imm >> 31);
            break;
          case 0x37: /* dst /= imm; sdiv when off = 1; the divisor is the sign-extended imm */ imm = PI[pc]!;
            divmod64(a, imm, imm >> 31, off === 1, false);
            break;
          case 0x47: /* dst |= imm */ imm = PI[pc]!; RL[a] |= imm; RH[a] |= imm >> 31; break;
          case 0x57: /* dst &= imm */ imm = PI[pc]!; RL[a] &= imm; RH[a] &= imm >> 31; break;
          case 0x67: /* dst <<= imm */ imm = PI[pc]!; lsh64(a, imm & 63); break;
          case 0x77: /* dst >>= imm */ imm = PI[pc]!; rsh64(a, imm & 63); break;
          case 0x87: /* dst neg 0; dst = -dst */ neg64(a); break;
          case 0xf8: /* OP_LSH_LO */ imm = PI[pc]!;
            RH[a] = (RH[a]! << imm) | (RL[a]! >>> (32 - imm));
            RL[a] <<= imm;
            break;
          case 0xf9: /* OP_LSH_HI */ imm = PI[pc]!; RH[a] = RL[a]! << imm; RL[a] = 0; break;
          case 0xfa: /* OP_RSH_LO */ imm = PI[pc]!;
            RL[a] = (RL[a]! >>> imm) | (RH[a]! << (32 - imm));
            RH[a] = RH[a]! >>> imm;
            break;
          case 0xfb: /* OP_RSH_HI */ imm = PI[pc]!; RL[a] = RH[a]! >>> imm; RH[a] = 0; break;
          case 0xfc: /* OP_ARSH_LO */ imm = PI[pc]!;
            RL[a] = (RL[a]! >>> imm) | (RH[a]! << (32 - imm));
            RH[a] >>= imm;
            break;
          case 0xfd: /* OP_ARSH_HI */ imm = PI[pc]!; RL[a] = RH[a]! >> imm; RH[a] >>= 31; break;
          case 0x97: /* dst %= imm; smod when off = 1 */ imm = PI[pc]!; divmod64(a, imm, imm >> 31, off === 1, true); break;
          case 0xa7: /* dst ^= imm */ imm = PI[pc]!; RL[a] ^= imm; RH[a] ^= imm >> 31; break;
          case 0xb7: /* dst = imm */ imm = PI[pc]!; RL[a] = imm; RH[a] = imm >> 31; break;
          case 0xc7: /* dst s>>= imm */ imm = PI[pc]!; arsh64(a, imm & 63); break;
          // ---------------------------------------------------- ALU64, X
          case 0x0f: // dst += src
            u = RL[a]!;
            t = (u + RL[b]!) | 0;
            RH[a] = (RH[a]! + RH[b]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            RL[a] = t;
            break;
          case 0x1f: // dst -= src
            u = RL[a]!;
            t = RL[b]!;
            RH[a] = (RH[a]! - RH[b]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            RL[a] = (u - t) | 0;
            break;
          case 0x2f: /* dst *= src */ mul64(a, RL[a]!, RH[a]!, RL[b]!, RH[b]!); break;
          case 0x3f: /* dst /= src; sdiv when off = 1 */ divmod64(a, RL[b]!, RH[b]!, off === 1, false); break;
          case 0x4f: /* dst |= src */ RL[a] |= RL[b]!; RH[a] |= RH[b]!; break;
          case 0x5f: /* dst &= src */ RL[a] &= RL[b]!; RH[a] &= RH[b]!; break;
          case 0x6f: /* dst <<= src */ lsh64(a, RL[b]! & 63); break;
          case 0x7f: /* dst >>= src */ rsh64(a, RL[b]! & 63); break;
          case 0x9f: /* dst %= src; smod when off = 1 */ divmod64(a, RL[b]!, RH[b]!, off === 1, true); break;
          case 0xaf: /* dst ^= src */ RL[a] ^= RL[b]!; RH[a] ^= RH[b]!; break;
          case 0xbf: // dst = src; movsx when off = 8/16/32
            if (off === 0) {
              RL[a] = RL[b]!;
              RH[a] = RH[b]!;
            } else {
              t = off === 8 ? (RL[b]! << 24) >> 24 : off === 16 ? (RL[b]! << 16) >> 16 : RL[b]!;
              RL[a] = t;
              RH[a] = t >> 31;
            }
            break;
          case 0xcf: /* dst s>>= src */ arsh64(a, RL[b]! & 63); break;
          case 0xd7: /* dst = bswap<imm> dst */ imm = PI[pc]!;
            if (imm === 16) RL[a] = ((RL[a]! & 0xff) << 8) | ((RL[a]! >>> 8) & 0xff);
            else if (imm === 32) RL[a] = bswap32(RL[a]!);
            else {
              t = RL[a]!;
              RL[a] = bswap32(RH[a]!);
              RH[a] = bswap32(t);
              break;
            }
            RH[a] = 0;
            break;
          // ---------------------------------------------------- ALU32 (results zero-extended)
          case 0x04: /* (u32) dst += (u32) imm */ imm = PI[pc]!; RL[a] = RL[a]! + imm; RH[a] = 0; break;
          case 0x14: /* (u32) dst -= (u32) imm */ imm = PI[pc]!; RL[a] = RL[a]! - imm; RH[a] = 0; break;
          case 0x24: /* (u32) dst *= (u32) imm */ imm = PI[pc]!; RL[a] = Math.imul(RL[a]!, imm); RH[a] = 0; break;
          case 0x34: /* (u32) dst /= (u32) imm; sdiv when off = 1 */ imm = PI[pc]!; divmod32(a, imm, off === 1, false); break;
          case 0x44: /* (u32) dst |= (u32) imm */ imm = PI[pc]!; RL[a] |= imm; RH[a] = 0; break;
          case 0x54: /* (u32) dst &= (u32) imm */ imm = PI[pc]!; RL[a] &= imm; RH[a] = 0; break;
          case 0x64: /* (u32) dst <<= (u32) imm */ imm = PI[pc]!; RL[a] <<= imm; RH[a] = 0; break; // JS masks the count with & 31
          case 0x74: /* (u32) dst >>= (u32) imm */ imm = PI[pc]!; RL[a] = RL[a]! >>> imm; RH[a] = 0; break;
          case 0x84: /* (u32) dst neg (u32) 0; dst = -dst */ RL[a] = -RL[a]!; RH[a] = 0; break;
          case 0x94: /* (u32) dst %= (u32) imm; smod when off = 1 */ imm = PI[pc]!; divmod32(a, imm, off === 1, true); break;
          case 0xa4: /* (u32) dst ^= (u32) imm */ imm = PI[pc]!; RL[a] ^= imm; RH[a] = 0; break;
          case 0xb4: /* (u32) dst = (u32) imm */ imm = PI[pc]!; RL[a] = imm; RH[a] = 0; break;
          case 0xc4: /* (u32) dst s>>= (u32) imm */ imm = PI[pc]!; RL[a] >>= imm; RH[a] = 0; break;
          case 0x0c: /* (u32) dst += (u32) src */ RL[a] = RL[a]! + RL[b]!; RH[a] = 0; break;
          case 0x1c: /* (u32) dst -= (u32) src */ RL[a] = RL[a]! - RL[b]!; RH[a] = 0; break;
          case 0x2c: /* (u32) dst *= (u32) src */ RL[a] = Math.imul(RL[a]!, RL[b]!); RH[a] = 0; break;
          case 0x3c: /* (u32) dst /= (u32) src; sdiv when off = 1 */ divmod32(a, RL[b]!, off === 1, false); break;
          case 0x4c: /* (u32) dst |= (u32) src */ RL[a] |= RL[b]!; RH[a] = 0; break;
          case 0x5c: /* (u32) dst &= (u32) src */ RL[a] &= RL[b]!; RH[a] = 0; break;
          case 0x6c: /* (u32) dst <<= (u32) src */ RL[a] <<= RL[b]!; RH[a] = 0; break;
          case 0x7c: /* (u32) dst >>= (u32) src */ RL[a] = RL[a]! >>> RL[b]!; RH[a] = 0; break;
          case 0x9c: /* (u32) dst %= (u32) src; smod when off = 1 */ divmod32(a, RL[b]!, off === 1, true); break;
          case 0xac: /* (u32) dst ^= (u32) src */ RL[a] ^= RL[b]!; RH[a] = 0; break;
          case 0xbc: // (u32) dst = (u32) src; movsx when off = 8/16
            RL[a] = off === 0 ? RL[b]! : off === 8 ? (RL[b]! << 24) >> 24 : (RL[b]! << 16) >> 16;
            RH[a] = 0;
            break;
          case 0xcc: /* (u32) dst s>>= (u32) src */ RL[a] >>= RL[b]!; RH[a] = 0; break;
          case 0xd4: /* dst = le<imm> dst; on our little-endian memory model, truncate */ imm = PI[pc]!;
            if (imm === 16) RL[a] &= 0xffff;
            if (imm !== 64) RH[a] = 0;
            break;
          case 0xdc: /* dst = be<imm> dst; swap the low 16/32/64 bits */ imm = PI[pc]!;
            if (imm === 16) RL[a] = ((RL[a]! & 0xff) << 8) | ((RL[a]! >>> 8) & 0xff);
            else if (imm === 32) RL[a] = bswap32(RL[a]!);
            else {
              t = RL[a]!;
              RL[a] = bswap32(RH[a]!);
              RH[a] = bswap32(t);
              break;
            }
            RH[a] = 0;
            break;
          // ---------------------------------------------------- LD
          case 0x18: /* dst = imm64; the high half is the next slot's imm */ imm = PI[pc]!;
            RL[a] = imm;
            RH[a] = PI[pc + 1]!;
            pc = (pc + 1) | 0;
            break;
          case 0x20: // r0 = *(u32 *)skb[imm]
          case 0x28: // r0 = *(u16 *)skb[imm]
          case 0x30: // r0 = *(u8 *)skb[imm]
          case 0x40: // r0 = *(u32 *)skb[src + imm]
          case 0x48: // r0 = *(u16 *)skb[src + imm]
          case 0x50: /* r0 = *(u8 *)skb[src + imm] */ {
            imm = PI[pc]!;
            const size = ((w & 0xff) & 0x18) === 0x00 ? 4 : ((w & 0xff) & 0x18) === 0x08 ? 2 : 1;
            // IND adds the source register in 32-bit int arithmetic, as the kernel's `int off`.
            const k = (w & 0xff) >= 0x40 ? (RL[b]! + imm) | 0 : imm;
            t = this.packetOffset(k, size);
            if (t < 0) {
              // Out of bounds: the program ends at once and returns 0.
              budget -= pc - segStart + 1;
              RL[0] = 0;
              RH[0] = 0;
              return this.finish(budget, segStart, pc);
            }
            addr = this.pktAddr + t;
            if (checked) this.check(pc, addr, 0, size, false);
            RL[0] = size === 4 ? dv.getInt32(addr, false) : size === 2 ? dv.getUint16(addr, false) : u8[addr]!;
            RH[0] = 0;
            break;
          }
          // ---------------------------------------------------- LDX
          case 0x61: // dst = *(u32 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 4 > stackTop)) this.check(pc, addr, RH[b]!, 4, false);
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            break;
          case 0x69: // dst = *(u16 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 2 > stackTop)) this.check(pc, addr, RH[b]!, 2, false);
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            break;
          case 0x71: // dst = *(u8 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 1 > stackTop)) this.check(pc, addr, RH[b]!, 1, false);
            RL[a] = u8[addr]!;
            RH[a] = 0;
            break;
          case 0x79: // dst = *(u64 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 8 > stackTop)) this.check(pc, addr, RH[b]!, 8, false);
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            break;
          case 0x81: // dst = *(s32 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 4 > stackTop)) this.check(pc, addr, RH[b]!, 4, false);
            RL[a] = dv.getInt32(addr, true);
            RH[a] = RL[a]! >> 31;
            break;
          case 0x89: // dst = *(s16 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 2 > stackTop)) this.check(pc, addr, RH[b]!, 2, false);
            RL[a] = dv.getInt16(addr, true);
            RH[a] = RL[a]! >> 31;
            break;
          case 0x91: // dst = *(s8 *)(src +off)
            addr = (RL[b]! >>> 0) + off;
            if (checked && (RH[b]! !== 0 || addr < frameLo || addr + 1 > stackTop)) this.check(pc, addr, RH[b]!, 1, false);
            RL[a] = dv.getInt8(addr);
            RH[a] = RL[a]! >> 31;
            break;
          // ---------------------------------------------------- ST
          case 0x62: /* *(u32 *)(dst +off) = imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 4 > stackTop)) this.check(pc, addr, RH[a]!, 4, true);
            dv.setInt32(addr, imm, true);
            break;
          case 0x6a: /* *(u16 *)(dst +off) = imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 2 > stackTop)) this.check(pc, addr, RH[a]!, 2, true);
            dv.setInt16(addr, imm, true);
            break;
          case 0x72: /* *(u8 *)(dst +off) = imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 1 > stackTop)) this.check(pc, addr, RH[a]!, 1, true);
            u8[addr] = imm;
            break;
          case 0x7a: /* *(u64 *)(dst +off) = imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 8 > stackTop)) this.check(pc, addr, RH[a]!, 8, true);
            dv.setInt32(addr, imm, true);
            dv.setInt32(addr + 4, imm >> 31, true);
            break;
          // ---------------------------------------------------- STX
          case 0x63: // *(u32 *)(dst +off) = src
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 4 > stackTop)) this.check(pc, addr, RH[a]!, 4, true);
            dv.setInt32(addr, RL[b]!, true);
            break;
          case 0x6b: // *(u16 *)(dst +off) = src
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 2 > stackTop)) this.check(pc, addr, RH[a]!, 2, true);
            dv.setInt16(addr, RL[b]!, true);
            break;
          case 0x73: // *(u8 *)(dst +off) = src
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 1 > stackTop)) this.check(pc, addr, RH[a]!, 1, true);
            u8[addr] = RL[b]!;
            break;
          case 0x7b: // *(u64 *)(dst +off) = src
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 8 > stackTop)) this.check(pc, addr, RH[a]!, 8, true);
            dv.setInt32(addr, RL[b]!, true);
            dv.setInt32(addr + 4, RH[b]!, true);
            break;
          case 0xc3: /* lock *(u32 *)(dst +off) += src; the other atomic operations by imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 4 > stackTop)) this.check(pc, addr, RH[a]!, 4, true);
            if (shared) {
              if ((addr & 3) !== 0) throw this.fault(pc, addr, 0, 4, true, 'misaligned atomic access');
              atomicShared32(i32, addr, b, imm);
            } else atomic32(dv, addr, b, imm);
            break;
          case 0xdb: /* lock *(u64 *)(dst +off) += src; the other atomic operations by imm */ imm = PI[pc]!;
            addr = (RL[a]! >>> 0) + off;
            if (checked && (RH[a]! !== 0 || addr < frameLo || addr + 8 > stackTop)) this.check(pc, addr, RH[a]!, 8, true);
            if (shared) {
              if ((addr & 7) !== 0) throw this.fault(pc, addr, 0, 8, true, 'misaligned atomic access');
              atomicShared64(this.i64!, addr, b, imm);
            } else atomic64(dv, addr, b, imm);
            break;
          // ---------------------------------------------------- JMP
          case 0x05: // goto pc+off
            budget -= pc - segStart + 1;
            if (budget < 0) budget = this.transfer(pc, segStart, budget);
            pc = (pc + off) | 0;
            segStart = pc + 1;
            break;
          case 0x06: /* gotol pc+imm */ imm = PI[pc]!;
            budget -= pc - segStart + 1;
            if (budget < 0) budget = this.transfer(pc, segStart, budget);
            pc = (pc + imm) | 0;
            segStart = pc + 1;
            break;
          case 0x15: /* if dst == imm goto pc+off */ imm = PI[pc]!; if (RL[a] === imm && RH[a] === imm >> 31) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x1d: /* if dst == src goto pc+off */ if (RL[a] === RL[b] && RH[a] === RH[b]) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x55: /* if dst != imm goto pc+off */ imm = PI[pc]!; if (RL[a] !== imm || RH[a] !== imm >> 31) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x5d: /* if dst != src goto pc+off */ if (RL[a] !== RL[b] || RH[a] !== RH[b]) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x45: /* if dst & imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! & imm) !== 0 || (RH[a]! & (imm >> 31)) !== 0) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x4d: /* if dst & src goto pc+off */ if ((RL[a]! & RL[b]!) !== 0 || (RH[a]! & RH[b]!) !== 0) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          // Conditional jumps, one case each. 64-bit comparisons compare the high
          // halves (signed or unsigned) and, when equal, the low halves unsigned.
          case 0x25: /* if dst > imm goto pc+off */ imm = PI[pc]!; if ((RH[a]! >>> 0) > ((imm >> 31) >>> 0) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) > (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x2d: /* if dst > src goto pc+off */ if ((RH[a]! >>> 0) > (RH[b]! >>> 0) || (RH[a] === RH[b]! && (RL[a]! >>> 0) > (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x35: /* if dst >= imm goto pc+off */ imm = PI[pc]!; if ((RH[a]! >>> 0) > ((imm >> 31) >>> 0) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) >= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x3d: /* if dst >= src goto pc+off */ if ((RH[a]! >>> 0) > (RH[b]! >>> 0) || (RH[a] === RH[b]! && (RL[a]! >>> 0) >= (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xa5: /* if dst < imm goto pc+off */ imm = PI[pc]!; if ((RH[a]! >>> 0) < ((imm >> 31) >>> 0) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) < (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xad: /* if dst < src goto pc+off */ if ((RH[a]! >>> 0) < (RH[b]! >>> 0) || (RH[a] === RH[b]! && (RL[a]! >>> 0) < (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xb5: /* if dst <= imm goto pc+off */ imm = PI[pc]!; if ((RH[a]! >>> 0) < ((imm >> 31) >>> 0) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) <= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xbd: /* if dst <= src goto pc+off */ if ((RH[a]! >>> 0) < (RH[b]! >>> 0) || (RH[a] === RH[b]! && (RL[a]! >>> 0) <= (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x65: /* if dst s> imm goto pc+off */ imm = PI[pc]!; if (RH[a]! > (imm >> 31) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) > (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x6d: /* if dst s> src goto pc+off */ if (RH[a]! > RH[b]! || (RH[a] === RH[b]! && (RL[a]! >>> 0) > (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x75: /* if dst s>= imm goto pc+off */ imm = PI[pc]!; if (RH[a]! > (imm >> 31) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) >= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x7d: /* if dst s>= src goto pc+off */ if (RH[a]! > RH[b]! || (RH[a] === RH[b]! && (RL[a]! >>> 0) >= (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xc5: /* if dst s< imm goto pc+off */ imm = PI[pc]!; if (RH[a]! < (imm >> 31) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) < (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xcd: /* if dst s< src goto pc+off */ if (RH[a]! < RH[b]! || (RH[a] === RH[b]! && (RL[a]! >>> 0) < (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xd5: /* if dst s<= imm goto pc+off */ imm = PI[pc]!; if (RH[a]! < (imm >> 31) || (RH[a] === (imm >> 31) && (RL[a]! >>> 0) <= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xdd: /* if dst s<= src goto pc+off */ if (RH[a]! < RH[b]! || (RH[a] === RH[b]! && (RL[a]! >>> 0) <= (RL[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          // JMP32: the low halves only, unsigned or signed.
          case 0x16: /* if (u32) dst == imm goto pc+off */ imm = PI[pc]!; if (RL[a] === imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x1e: /* if (u32) dst == (u32) src goto pc+off */ if (RL[a] === RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x56: /* if (u32) dst != imm goto pc+off */ imm = PI[pc]!; if (RL[a] !== imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x5e: /* if (u32) dst != (u32) src goto pc+off */ if (RL[a] !== RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x46: /* if (u32) dst & imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! & imm) !== 0) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x4e: /* if (u32) dst & (u32) src goto pc+off */ if ((RL[a]! & RL[b]!) !== 0) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x26: /* if (u32) dst > imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! >>> 0) > (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x2e: /* if (u32) dst > (u32) src goto pc+off */ if ((RL[a]! >>> 0) > (RL[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x36: /* if (u32) dst >= imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! >>> 0) >= (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x3e: /* if (u32) dst >= (u32) src goto pc+off */ if ((RL[a]! >>> 0) >= (RL[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xa6: /* if (u32) dst < imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! >>> 0) < (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xae: /* if (u32) dst < (u32) src goto pc+off */ if ((RL[a]! >>> 0) < (RL[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xb6: /* if (u32) dst <= imm goto pc+off */ imm = PI[pc]!; if ((RL[a]! >>> 0) <= (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xbe: /* if (u32) dst <= (u32) src goto pc+off */ if ((RL[a]! >>> 0) <= (RL[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x66: /* if (u32) dst s> imm goto pc+off */ imm = PI[pc]!; if (RL[a]! > imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x6e: /* if (u32) dst s> (u32) src goto pc+off */ if (RL[a]! > RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x76: /* if (u32) dst s>= imm goto pc+off */ imm = PI[pc]!; if (RL[a]! >= imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x7e: /* if (u32) dst s>= (u32) src goto pc+off */ if (RL[a]! >= RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xc6: /* if (u32) dst s< imm goto pc+off */ imm = PI[pc]!; if (RL[a]! < imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xce: /* if (u32) dst s< (u32) src goto pc+off */ if (RL[a]! < RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xd6: /* if (u32) dst s<= imm goto pc+off */ imm = PI[pc]!; if (RL[a]! <= imm) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0xde: /* if (u32) dst s<= (u32) src goto pc+off */ if (RL[a]! <= RL[b]!) { budget -= pc - segStart + 1; if (budget < 0) budget = this.transfer(pc, segStart, budget); pc = (pc + off) | 0; segStart = pc + 1; } break;
          case 0x85: /* call imm; helper (src 0), local function (src 1), kfunc (src 2) */ imm = PI[pc]!;
            if (b === 1) {
              budget -= pc - segStart + 1;
              if (budget < 0) budget = this.transfer(pc, segStart, budget);
              if (depth >= MAX_CALL_FRAMES - 1) {
                throw new BpfError('E2BIG', `pc ${pc}: call depth exceeds ${MAX_CALL_FRAMES} frames`);
              }
              // The callee gets a fresh frame below ours; r6..r9 come back at
              // its exit. Its r10 and the checked bounds follow the depth, never
              // the caller's r10: an unverified program may have moved r10 anywhere.
              frames.push(pc, RL[6]!, RH[6]!, RL[7]!, RH[7]!, RL[8]!, RH[8]!, RL[9]!, RH[9]!);
              depth++;
              t = stackTop - depth * STACK_FRAME_SIZE;
              RL[10] = t;
              RH[10] = 0;
              this.frameBase = t;
              frameLo = t - STACK_FRAME_SIZE;
              // what another program left in this frame is not the callee's to read
              if (checked) u8.fill(0, frameLo, t);
              pc = (pc + imm) | 0;
              segStart = pc + 1;
              break;
            }
            if (b === 2) throw new BpfError('EINVAL', `pc ${pc}: kfunc calls are not supported`);
            // what a callback the helper runs may use (env.callback)
            this.budgetAtCall = budget - (pc - segStart + 1);
            this.depthAtCall = depth;
            if (this.callHelper(imm, pc, env)) {
              budget -= pc - segStart + 1;
              return this.finish(budget, segStart, pc);
            }
            if (this.nestedUsed !== 0) {
              budget -= this.nestedUsed;
              this.nestedUsed = 0;
              if (budget < 0 && this.coverage === undefined) throw this.overBudget(pc);
            }
            // a helper may have grown the memory
            u8 = mem.u8;
            dv = mem.view;
            break;
          case 0x8d: // callx dst
            if (RH[a] !== 0) throw new BpfError('EINVAL', `pc ${pc}: callx to unknown helper 0x${(RH[a]! >>> 0).toString(16)}${(RL[a]! >>> 0).toString(16).padStart(8, '0')}`);
            // as `call`: a callback the helper runs (bpf_loop by its id in a register) gets this
            // run's budget and depth, and what it executed counts against the run
            this.budgetAtCall = budget - (pc - segStart + 1);
            this.depthAtCall = depth;
            if (this.callHelper(RL[a]! >>> 0, pc, env)) {
              budget -= pc - segStart + 1;
              return this.finish(budget, segStart, pc);
            }
            if (this.nestedUsed !== 0) {
              budget -= this.nestedUsed;
              this.nestedUsed = 0;
              if (budget < 0 && this.coverage === undefined) throw this.overBudget(pc);
            }
            // a helper may have grown the memory
            u8 = mem.u8;
            dv = mem.view;
            break;
          case 0x95: // exit
            budget -= pc - segStart + 1;
            if (depth === baseDepth) return this.finish(budget, segStart, pc);
            if (budget < 0) budget = this.transfer(pc, segStart, budget);
            pc = this.popFrame(frames);
            depth--;
            t = stackTop - depth * STACK_FRAME_SIZE;
            RL[10] = t;
            RH[10] = 0;
            this.frameBase = t;
            frameLo = t - STACK_FRAME_SIZE;
            segStart = pc + 1;
            break;
          // ---- BEGIN GENERATED: fused cases (scripts/gen-fused.mjs; do not edit) ----
          case 0x01: // ldxw + be16
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            RH[a] = 0;
            break;
          case 0x02: // ldxw + be32
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            RH[a] = 0;
            break;
          case 0x03: // ldxw + be64
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            u = RH[a]!;
            RL[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            RH[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x08: // ldxh + be16
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            RH[a] = 0;
            break;
          case 0x09: // ldxh + be32
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            RH[a] = 0;
            break;
          case 0x0a: // ldxh + be64
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            u = RH[a]!;
            RL[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            RH[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x0b: // ldxb + be16
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            RH[a] = 0;
            break;
          case 0x0d: // ldxb + be32
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            RH[a] = 0;
            break;
          case 0x0e: // ldxb + be64
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            u = RH[a]!;
            RL[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            RH[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x10: // ldxdw + be16
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            RH[a] = 0;
            break;
          case 0x11: // ldxdw + be32
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            RL[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            RH[a] = 0;
            break;
          case 0x12: // ldxdw + be64
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf;
            t = RL[a]!;
            u = RH[a]!;
            RL[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            RH[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x13: // stxw + ldxw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            break;
          case 0x19: // stxw + ldxh
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            break;
          case 0x1a: // stxw + ldxb
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            break;
          case 0x1b: // stxw + ldxdw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            break;
          case 0x21: // stxh + ldxw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt16(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            break;
          case 0x22: // stxh + ldxh
            addr = (RL[a]! >>> 0) + off;
            dv.setInt16(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            break;
          case 0x23: // stxh + ldxb
            addr = (RL[a]! >>> 0) + off;
            dv.setInt16(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            break;
          case 0x29: // stxh + ldxdw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt16(addr, RL[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            break;
          case 0x2a: // stxb + ldxw
            addr = (RL[a]! >>> 0) + off;
            u8[addr] = RL[b]!;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            break;
          case 0x2b: // stxb + ldxh
            addr = (RL[a]! >>> 0) + off;
            u8[addr] = RL[b]!;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            break;
          case 0x31: // stxb + ldxb
            addr = (RL[a]! >>> 0) + off;
            u8[addr] = RL[b]!;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            break;
          case 0x32: // stxb + ldxdw
            addr = (RL[a]! >>> 0) + off;
            u8[addr] = RL[b]!;
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            break;
          case 0x33: // stxdw + ldxw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            dv.setInt32(addr + 4, RH[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = 0;
            break;
          case 0x38: // stxdw + ldxh
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            dv.setInt32(addr + 4, RH[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getUint16(addr, true);
            RH[a] = 0;
            break;
          case 0x39: // stxdw + ldxb
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            dv.setInt32(addr + 4, RH[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = u8[addr]!;
            RH[a] = 0;
            break;
          case 0x3a: // stxdw + ldxdw
            addr = (RL[a]! >>> 0) + off;
            dv.setInt32(addr, RL[b]!, true);
            dv.setInt32(addr + 4, RH[b]!, true);
            pc = (pc + 1) | 0; w = PW[pc]!; a = (w >> 8) & 0xf; b = (w >> 12) & 0xf; off = w >> 16;
            addr = (RL[b]! >>> 0) + off;
            RL[a] = dv.getInt32(addr, true);
            RH[a] = dv.getInt32(addr + 4, true);
            break;
          // ---- END GENERATED: fused cases ----
          case 0xfe: // OP_STEP (runStepped): pause before this instruction
            this.paused = { pc, depth };
            return;
          case 0xff: // OP_FELL_OFF
            throw new BpfError('EFAULT', `pc ${pc - 1}: execution fell off the end of the program`);
          case 0x00: // no instruction has opcode 0; a case for it starts the jump table at 0
          default:
            throw new InternalError(`predecoded key 0x${(w & KEY_MASK).toString(16)} has no case`);
        }
        pc = (pc + 1) | 0;
      }
    } catch (e) {
      // the faulting instruction counts as executed: it was attempted
      if (this.coverage !== undefined) this.cover(segStart, pc);
      if (e instanceof RangeError) {
        throw new BpfError('EFAULT', `pc ${pc}: memory access at 0x${(addr >>> 0).toString(16)} outside the address space`);
      }
      throw e;
    }
  }

  /** The program exits; the last segment, [segStart, pc], has been counted into `budget`. */
  private finish(budget: number, segStart: number, pc: number): void {
    if (this.coverage !== undefined) {
      this.used += -1 - budget;
      this.cover(segStart, pc);
      budget = this.limit - this.used;
    }
    this.executed = this.limit - budget;
    if (this.checked && budget < 0) throw this.overBudget(-1);
    this.retLo = RL[0]!;
    this.retHi = RH[0]!;
  }

  /**
   * A control transfer found the local budget negative: over budget, or
   * (with coverage, where the local is kept at -1) the end of a segment to
   * record. Returns the new local budget.
   */
  private transfer(pc: number, segStart: number, budget: number): number {
    if (this.coverage === undefined) throw this.overBudget(pc);
    this.used += -1 - budget;
    this.cover(segStart, pc);
    if (this.used > this.limit) throw this.overBudget(pc);
    return -1;
  }

  /** coverage[i] = 1 for the instructions in [from, to] (not the second slots of ld_imm64). */
  private cover(from: number, to: number): void {
    const cov = this.coverage!;
    const second = this.secondSlots!;
    const last = Math.min(to, this.slots.length - 1);
    for (let i = Math.max(from, 0); i <= last; i++) if (second[i] === 0) cov[i] = 1;
  }

  private overBudget(pc: number): BpfError {
    return new BpfError('E2BIG', `${pc >= 0 ? `pc ${pc}: ` : ''}instruction budget of ${this.budget} exceeded`);
  }

  /** Restore r6..r9 of the caller; returns the pc of its call. */
  private popFrame(frames: number[]): number {
    for (let r = 9; r >= 6; r--) {
      RH[r] = frames.pop()!;
      RL[r] = frames.pop()!;
    }
    return frames.pop()!;
  }

  /** Call helper `id`; true when the program must end (an exit-on-zero helper returned 0). */
  private callHelper(id: number, pc: number, env: HelperEnv): boolean {
    const h = this.helper(id, pc);
    this.pcForHelper = pc;
    // A helper reads r1..r5 and writes r0 (runtime/helpers.ts).
    const H = HREGS;
    H[0] = RL[0]!;
    H[1] = RH[0]!;
    H[2] = RL[1]!;
    H[3] = RH[1]!;
    H[4] = RL[2]!;
    H[5] = RH[2]!;
    H[6] = RL[3]!;
    H[7] = RH[3]!;
    H[8] = RL[4]!;
    H[9] = RH[4]!;
    H[10] = RL[5]!;
    H[11] = RH[5]!;
    h.call(H, env);
    RL[0] = H[0]!;
    RH[0] = H[1]!;
    return (h.exitOnZero === true && RL[0] === 0 && RH[0] === 0) || (h.tailCall === true && this.helpers.run.tail !== undefined);
  }

  /**
   * Offset into the packet of an LD_ABS/LD_IND of `size` bytes at `k`, or -1
   * when out of bounds. Negative k addresses the network header
   * (SKF_NET_OFF) or the link-layer header (SKF_LL_OFF), as the kernel's
   * bpf_internal_load_pointer_neg_helper.
   */
  private packetOffset(k: number, size: number): number {
    let start: number;
    if (k >= 0) start = k;
    else if (k >= SKF_NET_OFF) {
      if (this.pktNetOff < 0) return -1;
      start = this.pktNetOff + (k - SKF_NET_OFF);
    } else if (k >= SKF_LL_OFF) start = k - SKF_LL_OFF;
    else return -1;
    return start + size <= this.pktLen ? start : -1;
  }
}

/** r(a) = r(a) * (blo, bhi), the low 64 bits of the product. */
function mul64(a: number, alo: number, ahi: number, blo: number, bhi: number): void {
  // The low word is Math.imul's. The high word of the unsigned 32x32 product:
  // the double product is within 2^11 of the exact one, so after removing the
  // exact low word and dividing by 2^32 the error is below 2^-20 and
  // rounding gives the high word exactly. The cross terms only reach the high
  // word, where Math.imul's wrap-around is what we want.
  const lo = Math.imul(alo, blo);
  const hi = Math.round(((alo >>> 0) * (blo >>> 0) - (lo >>> 0)) / 4294967296);
  RL[a] = lo;
  RH[a] = (hi + Math.imul(ahi, blo) + Math.imul(alo, bhi)) | 0;
}

function lsh64(a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    RH[a] = (RH[a]! << n) | (RL[a]! >>> (32 - n));
    RL[a] = RL[a]! << n;
  } else {
    RH[a] = RL[a]! << (n - 32);
    RL[a] = 0;
  }
}

function rsh64(a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    RL[a] = (RL[a]! >>> n) | (RH[a]! << (32 - n));
    RH[a] = RH[a]! >>> n;
  } else {
    RL[a] = RH[a]! >>> (n - 32);
    RH[a] = 0;
  }
}

function arsh64(a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    RL[a] = (RL[a]! >>> n) | (RH[a]! << (32 - n));
    RH[a] = RH[a]! >> n;
  } else {
    RL[a] = RH[a]! >> (n - 32);
    RH[a] = RH[a]! >> 31;
  }
}

/** r0..r10 = 0 (a loop: TypedArray.prototype.fill is a call V8 does not inline). */
function clearRegisters(): void {
  for (let r = 0; r <= 10; r++) {
    RL[r] = 0;
    RH[r] = 0;
  }
}

/** r(r) = value, a number or a bigint, taken modulo 2^64. */
function setHalves(r: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    const v = BigInt.asUintN(64, value);
    RL[r] = Number(v & 0xffffffffn) | 0;
    RH[r] = Number(v >> 32n) | 0;
  } else {
    RL[r] = value | 0;
    RH[r] = Math.floor(value / TWO32) | 0;
  }
}

function neg64(a: number): void {
  const lo = RL[a]!;
  RL[a] = -lo;
  RH[a] = lo === 0 ? -RH[a]! : ~RH[a]!;
}

/**
 * 64-bit div/mod, unsigned or signed (RFC 9669): x / 0 = 0, x % 0 = x;
 * signed INT64_MIN / -1 wraps to INT64_MIN and INT64_MIN % -1 = 0.
 */
function divmod64(a: number, blo: number, bhi: number, signed: boolean, mod: boolean): void {
  const alo = RL[a]!;
  const ahi = RH[a]!;
  if (blo === 0 && bhi === 0) {
    if (!mod) {
      RL[a] = 0;
      RH[a] = 0;
    }
    return;
  }
  if (!signed && ahi === 0 && bhi === 0) {
    const x = alo >>> 0;
    const y = blo >>> 0;
    RL[a] = mod ? x % y : (x / y) >>> 0;
    return;
  }
  if (signed && ahi === alo >> 31 && bhi === blo >> 31) {
    // Both fit in int32: exact in doubles (INT32_MIN / -1 = 2^31 is fine in 64 bits).
    const q = mod ? alo % blo : Math.trunc(alo / blo);
    RL[a] = q | 0;
    RH[a] = q < 0 ? -1 : 0;
    return;
  }
  const v = div64(alo, ahi, blo, bhi, signed, mod);
  RL[a] = Number(v & 0xffffffffn) | 0;
  RH[a] = Number(v >> 32n) | 0;
}

/** 32-bit div/mod on the low halves; the result is zero-extended, also for mod by 0. */
function divmod32(a: number, y: number, signed: boolean, mod: boolean): void {
  const x = RL[a]!;
  RH[a] = 0;
  if (y === 0) {
    if (!mod) RL[a] = 0;
    return;
  }
  if (signed) RL[a] = mod ? x % y : Math.trunc(x / y);
  else RL[a] = mod ? (x >>> 0) % (y >>> 0) : ((x >>> 0) / (y >>> 0)) >>> 0;
}

function atomic32(dv: DataView, addr: number, b: number, op: number): void {
  const old = dv.getInt32(addr, true);
  const src = RL[b]!;
  switch (op & ~1) {
    case 0x00: dv.setInt32(addr, old + src, true); break;
    case 0x40: dv.setInt32(addr, old | src, true); break;
    case 0x50: dv.setInt32(addr, old & src, true); break;
    case 0xa0: dv.setInt32(addr, old ^ src, true); break;
    case 0xe0: dv.setInt32(addr, src, true); break; // xchg
    case 0xf0: // cmpxchg: compare with the low half of r0, old value into r0 (zero-extended)
      if (old === RL[0]) dv.setInt32(addr, src, true);
      RL[0] = old;
      RH[0] = 0;
      return;
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  if (op & 1) {
    RL[b] = old;
    RH[b] = 0;
  }
}

/**
 * A 32-bit atomic on a shared memory (addr aligned, by the caller): one
 * Atomics operation, so that other threads' atomics on the word interleave
 * with it whole. Little-endian hosts only (as WebAssembly's memory is).
 */
function atomicShared32(m: Int32Array, addr: number, b: number, op: number): void {
  const i = addr / 4;
  const src = RL[b]!;
  let old: number;
  switch (op & ~1) {
    case 0x00: old = Atomics.add(m, i, src); break;
    case 0x40: old = Atomics.or(m, i, src); break;
    case 0x50: old = Atomics.and(m, i, src); break;
    case 0xa0: old = Atomics.xor(m, i, src); break;
    case 0xe0: old = Atomics.exchange(m, i, src); break;
    case 0xf0:
      RL[0] = Atomics.compareExchange(m, i, RL[0]!, src);
      RH[0] = 0;
      return;
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  if (op & 1) {
    RL[b] = old;
    RH[b] = 0;
  }
}

/**
 * A 64-bit value as a bigint and as halves, through one 8-byte buffer (a
 * little-endian host, as the rest): register halves in and out of the
 * BigInt64Array Atomics without BigInt arithmetic.
 */
const B64 = new BigInt64Array(1);
const B32 = new Int32Array(B64.buffer);

/** A 64-bit atomic on a shared memory (addr aligned, by the caller), by BigInt64Array's Atomics. */
function atomicShared64(m: BigInt64Array, addr: number, b: number, op: number): void {
  const i = addr / 8;
  B32[0] = RL[b]!;
  B32[1] = RH[b]!;
  const src = B64[0]!;
  let old: bigint;
  switch (op & ~1) {
    case 0x00: old = Atomics.add(m, i, src); break;
    case 0x40: old = Atomics.or(m, i, src); break;
    case 0x50: old = Atomics.and(m, i, src); break;
    case 0xa0: old = Atomics.xor(m, i, src); break;
    case 0xe0: old = Atomics.exchange(m, i, src); break;
    case 0xf0: {
      B32[0] = RL[0]!;
      B32[1] = RH[0]!;
      B64[0] = Atomics.compareExchange(m, i, B64[0]!, src);
      RL[0] = B32[0]!;
      RH[0] = B32[1]!;
      return;
    }
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  if (op & 1) {
    B64[0] = old;
    RL[b] = B32[0]!;
    RH[b] = B32[1]!;
  }
}

function atomic64(dv: DataView, addr: number, b: number, op: number): void {
  const lo = dv.getInt32(addr, true);
  const hi = dv.getInt32(addr + 4, true);
  const slo = RL[b]!;
  const shi = RH[b]!;
  let nlo: number;
  let nhi: number;
  switch (op & ~1) {
    case 0x00: {
      const s = (lo >>> 0) + (slo >>> 0);
      nlo = s | 0;
      nhi = (hi + shi + (s > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40: nlo = lo | slo; nhi = hi | shi; break;
    case 0x50: nlo = lo & slo; nhi = hi & shi; break;
    case 0xa0: nlo = lo ^ slo; nhi = hi ^ shi; break;
    case 0xe0: nlo = slo; nhi = shi; break;
    case 0xf0:
      if (lo === RL[0] && hi === RH[0]) {
        dv.setInt32(addr, slo, true);
        dv.setInt32(addr + 4, shi, true);
      }
      RL[0] = lo;
      RH[0] = hi;
      return;
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  dv.setInt32(addr, nlo, true);
  dv.setInt32(addr + 4, nhi, true);
  if (op & 1) {
    RL[b] = lo;
    RH[b] = hi;
  }
}
