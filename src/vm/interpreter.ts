/**
 * The interpreter: RFC 9669 semantics for every opcode of isa/, over the
 * runtime's single address space.
 *
 * Speed comes from three choices: the program is predecoded once into an
 * Int32Array (2 words per slot); registers are 64-bit values kept as two
 * 32-bit halves in an Int32Array, so the hot path never touches BigInt (only
 * 64-bit division of values that do not fit 32 bits falls back to it); and
 * dispatch is one `switch` on the full opcode byte, one case per opcode.
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
 *
 * The budget is counted at control transfers (taken jumps, calls, exits),
 * adding the length of the straight-line segment just run, so it costs
 * nothing per instruction.
 */

import { BpfError, InternalError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { slotProblem } from '../isa/instruction.js';
import { opcodeShape, SKF_LL_OFF, SKF_NET_OFF } from '../isa/opcodes.js';
import type { Helper, HelperEnv, HelperRegistry } from '../runtime/helpers.js';
import { setReg } from '../runtime/helpers.js';
import type { AddressSpace } from '../runtime/memory.js';
import { MAX_CALL_FRAMES, NULL_PAGE_END, STACK_FRAME_SIZE, STACK_TOP } from '../runtime/memory.js';

export interface Region {
  start: number;
  /** exclusive */
  end: number;
  writable: boolean;
  name: string;
  /** a finer test inside [start, end), e.g. only the value part of allocated map elements */
  contains?: (addr: number, end: number) => boolean;
}

export interface InterpreterOptions {
  /** check every memory access against the allowed regions (default false) */
  checked?: boolean;
  /** maximum instructions per run in checked mode (default 1,000,000) */
  budget?: number;
  helpers: HelperRegistry;
  /** regions that live longer than a run (map storage); consulted in checked mode */
  regions?: () => readonly Region[];
}

/** Input of one run. Registers not given start at 0. */
export interface RunInput {
  r1?: number | bigint;
  r2?: number | bigint;
  /** the packet LD_ABS / LD_IND read */
  packet?: { addr: number; len: number; netOff?: number };
  /** regions this run may touch besides the stack (checked mode) */
  regions?: readonly Region[];
}

const STRIDE = 2;
/** REGS[0..21] are r0..r10; constant registers (fast mode) start here */
const POOL_BASE = 32;
/** at most this many distinct constants per program; K-form instructions past it stay K-form */
const REGS_LENGTH = 8192;
const POOL_MAX = (REGS_LENGTH - POOL_BASE) / 2;

/**
 * The register file, one per process: r(i) = (REGS[2i], REGS[2i+1]). A
 * module-level constant lets V8 embed its address and length in the
 * compiled loop, dropping the loads and bounds checks a per-instance array
 * costs on every access (about a third of the time of an ALU instruction).
 * Runs do not nest (a helper never starts a program), so one file suffices;
 * `running` enforces that.
 */
const REGS = new Int32Array(REGS_LENGTH);
let running = false;

/**
 * The code arena, for the same reason: the predecoded program being run is
 * copied here (once, when a different program runs than last time), so the
 * loop reads its instructions from a constant array. It bounds a program to
 * MAX_INTERP_SLOTS slots, far above 3.19's 4096.
 */
export const MAX_INTERP_SLOTS = 65535;
const CODE = new Int32Array((MAX_INTERP_SLOTS + 1) * STRIDE);
let loaded: Int32Array | undefined;
/** predecoded sentinel, an opcode byte no instruction has: falling off the end of the program */
const OP_FELL_OFF = 0xff;
/** words saved per local call: return pc, r6..r9 (halves), r10 */
const FRAME_WORDS = 10;
const TWO32 = 4294967296;

/**
 * Lowered form, 2 words per slot plus a sentinel:
 *   word 0: key | dst << 10 | off << 16, where key (10 bits) is the opcode
 *           byte, or for a fused pair (fast mode, see fuse()) a number from
 *           FUSED_BASE up;
 *   word 1: imm, or for an instruction that reads a source register and no
 *           imm (X-form ALU and jumps, LDX, STX), that register's index into
 *           REGS (2 * src). The few that need both (LD_IND, call) keep src in
 *           the off field (2 * src), atomics in word 1 as op | 2 * src << 8.
 * In fast mode, K-form ALU and ST instructions become their X-form / STX twin
 * reading a constant register (the pool, REGS[POOL_BASE..]) holding the
 * sign-extended imm, which halves the kinds fuse() has to pair.
 */
export interface Predecoded {
  code: Int32Array;
  /** constant registers, copied to REGS[POOL_BASE..] when the program is loaded */
  pool: Int32Array;
}

export const KEY_MASK = 0x3ff;
const DST_SHIFT = 10;

function predecode(slots: readonly Slot[], fast: boolean): Predecoded {
  const n = slots.length;
  const p = new Int32Array((n + 1) * STRIDE);
  const secondHalf = new Uint8Array(n + 1);
  const pool: number[] = [];
  const poolIndex = new Map<number, number>();
  /** the REGS index of the constant register holding sext(imm), or -1 when the pool is full */
  const constant = (imm: number): number => {
    let k = poolIndex.get(imm);
    if (k === undefined) {
      if (pool.length >= 2 * POOL_MAX) return -1;
      k = POOL_BASE + pool.length;
      pool.push(imm, imm >> 31);
      poolIndex.set(imm, k);
    }
    return k;
  };
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    if (secondHalf[i]) {
      p[i * STRIDE + 1] = s.imm;
      continue;
    }
    const problem = slotProblem(s);
    if (problem !== undefined) throw new BpfError('EINVAL', `insn ${i}: ${problem}`);
    if (s.code === 0x18) {
      const next = slots[i + 1];
      if (next === undefined || next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
        throw new BpfError('EINVAL', `insn ${i}: invalid bpf_ld_imm64 insn`);
      }
      secondHalf[i + 1] = 1;
    }
    let key = s.code;
    let off = s.off;
    let word1 = s.imm;
    switch (opcodeShape(s.code)) {
      case 'alu':
        if (s.code & 0x08) word1 = s.src * 2;
        else if (fast) {
          const k = constant(s.imm);
          if (k >= 0) {
            key = s.code | 0x08;
            word1 = k;
            // K-form mov ignores off; X-form mov reads it as a sign-extension width
            if ((s.code & 0xf0) === 0xb0) off = 0;
          }
        }
        break;
      case 'st':
        if (fast) {
          const k = constant(s.imm);
          if (k >= 0) {
            key = s.code + 1; // STX of the same size
            word1 = k;
          }
        }
        break;
      case 'jcond':
        if (s.code & 0x08) word1 = s.src * 2;
        break;
      case 'ldx': case 'ldsx': case 'stx':
        word1 = s.src * 2;
        break;
      case 'atomic':
        word1 = s.imm | (s.src * 2) << 8;
        break;
      case 'ldind': case 'call':
        off = s.src * 2;
        break;
      default:
        break;
    }
    p[i * STRIDE] = key | (s.dst << DST_SHIFT) | (off << 16);
    p[i * STRIDE + 1] = word1;
  }
  p[n * STRIDE] = OP_FELL_OFF;
  if (fast) fuse(p, n);
  // Every static control transfer must land on an instruction (or, for a
  // jump, on the sentinel past the end, which reports falling off).
  for (let i = 0; i < n; i++) {
    if (secondHalf[i]) continue;
    const s = slots[i]!;
    const shape = opcodeShape(s.code);
    let target: number | undefined;
    if (shape === 'ja' || shape === 'jcond') target = i + s.off + 1;
    else if (shape === 'ja32' || (shape === 'call' && s.src === 1)) target = i + s.imm + 1;
    if (target === undefined) continue;
    if (target < 0 || target >= n || secondHalf[target]) {
      throw new BpfError('EINVAL', `jump out of range from insn ${i} to ${target}`);
    }
  }
  return { code: p, pool: Int32Array.from(pool) };
}

/** Key of the first fused case; keys below are opcode bytes. */
const FUSED_BASE = 0x100;
// ---- BEGIN GENERATED: fusable kinds (scripts/gen-fused.mjs; do not edit) ----
/** Number of fusable kinds; fusedKind() numbers them 0 .. FUSED_KINDS - 1. */
const FUSED_KINDS = 21;
/** Names of the fusable kinds, by number. */
export const FUSED_KIND_NAMES: readonly string[] = ['add', 'sub', 'mul', 'or', 'and', 'xor', 'mov', 'lsh', 'rsh', 'arsh', 'be16', 'be32', 'be64', 'ldxw', 'ldxh', 'ldxb', 'ldxdw', 'stxw', 'stxh', 'stxb', 'stxdw'];
/** Key of the fused case for kinds (k1, k2) at [k1 * FUSED_KINDS + k2], or 0 when the pair is not fused. */
const FUSED_PAIR_KEY = new Uint16Array([
  256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  286, 287, 288, 289, 290, 291, 292, 293, 294, 295, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  296, 297, 298, 299, 300, 301, 302, 303, 304, 305, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  316, 317, 318, 319, 320, 321, 322, 323, 324, 325, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  336, 337, 338, 339, 340, 341, 342, 343, 344, 345, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  346, 347, 348, 349, 350, 351, 352, 353, 354, 355, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 356, 357, 358, 0, 0, 0, 0, 359, 360, 361, 362,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 363, 364, 365, 0, 0, 0, 0, 366, 367, 368, 369,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 370, 371, 372, 0, 0, 0, 0, 373, 374, 375, 376,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 377, 378, 379, 0, 0, 0, 0, 380, 381, 382, 383,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 384, 385, 386, 387, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 388, 389, 390, 391, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 392, 393, 394, 395, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 396, 397, 398, 399, 0, 0, 0, 0,
]);
/** The fusable kind of a fast-mode predecoded instruction (key = opcode byte), or -1. */
function fusedKind(key: number, off: number, imm: number): number {
  switch (key) {
    case 0x0f: return 0;
    case 0x1f: return 1;
    case 0x2f: return 2;
    case 0x4f: return 3;
    case 0x5f: return 4;
    case 0x61: return 13;
    case 0x63: return 17;
    case 0x69: return 14;
    case 0x6b: return 18;
    case 0x6f: return 7;
    case 0x71: return 15;
    case 0x73: return 19;
    case 0x79: return 16;
    case 0x7b: return 20;
    case 0x7f: return 8;
    case 0xaf: return 5;
    case 0xbf: return off === 0 ? 6 : -1;
    case 0xcf: return 9;
    case 0xd7: return imm === 16 ? 10 : imm === 32 ? 11 : imm === 64 ? 12 : -1;
    case 0xdc: return imm === 16 ? 10 : imm === 32 ? 11 : imm === 64 ? 12 : -1;
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

export interface RunResult {
  /** r0 at exit, as an unsigned 64-bit value */
  r0: bigint;
  /** instructions executed, counted at control transfers */
  insns: number;
}

export class Interpreter {
  readonly engineName = 'interpreter' as const;
  readonly slots: readonly Slot[];
  private readonly prog: Int32Array;
  private readonly pool: Int32Array;
  private readonly mem: AddressSpace;
  private readonly helpers: HelperRegistry;
  private readonly helperCache = new Map<number, Helper | null>();
  readonly checked: boolean;
  readonly budget: number;
  private readonly longRegions: () => readonly Region[];
  /** register file: r(i) = (regs[2i], regs[2i+1]); shared, see REGS */
  readonly regs = REGS;
  /** r0 at the last exit, as halves */
  retLo = 0;
  retHi = 0;
  /** instructions executed by the last run */
  executed = 0;
  private runRegions: readonly Region[] = [];
  private pktAddr = 0;
  private pktLen = 0;
  private pktNetOff = -1;
  private frameBase = STACK_TOP;
  private pcForHelper = 0;
  /** what helpers see: the memory, and access checks in this engine's mode */
  private readonly env: HelperEnv;

  constructor(mem: AddressSpace, slots: readonly Slot[], options: InterpreterOptions) {
    if (slots.length === 0) throw new BpfError('EINVAL', 'empty program');
    if (slots.length > MAX_INTERP_SLOTS) {
      throw new BpfError('E2BIG', `program of ${slots.length} instructions exceeds the interpreter's ${MAX_INTERP_SLOTS}`);
    }
    this.slots = slots;
    this.checked = options.checked ?? false;
    const pre = predecode(slots, !this.checked);
    this.prog = pre.code;
    this.pool = pre.pool;
    this.mem = mem;
    this.helpers = options.helpers;
    this.budget = options.budget ?? 1_000_000;
    if (!Number.isSafeInteger(this.budget) || this.budget <= 0) {
      throw new BpfError('EINVAL', `instruction budget must be a positive integer, got ${options.budget}`);
    }
    this.longRegions = options.regions ?? (() => []);
    const self = this;
    this.env = {
      get u8() { return mem.u8; },
      get view() { return mem.view; },
      access(addr: number, size: number, write: boolean): void {
        if (self.checked) self.check(self.pcForHelper, addr, 0, size, write);
        else if (addr < 0 || addr + size > mem.byteLength) {
          throw self.fault(self.pcForHelper, addr, 0, size, write, 'outside the address space');
        }
      },
    };
  }

  /** Run once and return r0 as a bigint. */
  run(input: RunInput = {}): RunResult {
    this.exec(input);
    return { r0: (BigInt(this.retHi >>> 0) << 32n) | BigInt(this.retLo >>> 0), insns: this.executed };
  }

  /** Set up registers and the packet, then execute; r0 lands in retLo/retHi. */
  exec(input: RunInput = {}): void {
    const R = this.regs;
    for (let r = 0; r < 22; r++) R[r] = 0;
    setReg(R, 1, input.r1 ?? 0);
    setReg(R, 2, input.r2 ?? 0);
    R[20] = STACK_TOP;
    const pkt = input.packet;
    this.pktAddr = pkt?.addr ?? 0;
    this.pktLen = pkt?.len ?? 0;
    this.pktNetOff = pkt?.netOff ?? -1;
    this.runRegions = input.regions ?? [];
    this.loop();
  }

  /** Re-run with the registers r1 and r2 only (the packet and regions of the last exec stay). */
  execRaw(r1: number, r2: number): void {
    const R = this.regs;
    for (let r = 0; r < 22; r++) R[r] = 0;
    R[2] = r1 | 0;
    R[3] = Math.floor(r1 / TWO32) | 0;
    R[4] = r2 | 0;
    R[5] = Math.floor(r2 / TWO32) | 0;
    R[20] = STACK_TOP;
    this.loop();
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
    if (addr >= this.frameBase - STACK_FRAME_SIZE && end <= STACK_TOP) return;
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
    if (addr >= STACK_TOP - STACK_FRAME_SIZE * MAX_CALL_FRAMES && addr < STACK_TOP) {
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
    if (h === null) throw new BpfError('EINVAL', `pc ${pc}: call to unknown helper ${id}`);
    return h;
  }

  private loop(): void {
    if (running) throw new InternalError('a program run started inside another run');
    running = true;
    if (loaded !== this.prog) {
      CODE.set(this.prog);
      REGS.set(this.pool, POOL_BASE);
      loaded = this.prog;
    }
    try {
      this.loopInner();
    } finally {
      running = false;
    }
  }

  private loopInner(): void {
    const P = CODE;
    const R = REGS;
    const mem = this.mem;
    const checked = this.checked;
    let u8 = mem.u8;
    let dv = mem.view;
    const env = this.env;
    let pc = 0;
    let segStart = 0;
    let budget = this.budget;
    // Local-call frames: return pc and the caller's r6..r10.
    const frames: number[] = [];
    this.frameBase = STACK_TOP;
    // Checked mode's inline fast path: accesses inside the current frame or its callers' frames.
    let frameLo = STACK_TOP - STACK_FRAME_SIZE;
    let i = 0;
    let w = 0;
    let a = 0;
    let b = 0;
    let off = 0;
    let imm = 0;
    let addr = 0;
    let t = 0;
    let u = 0;
    let x = 0;
    let y = 0;
    try {
      for (;;) {
        i = pc << 1;
        w = P[i]!;
        a = (w >> 9) & 0x1e;
        off = w >> 16;
        imm = P[i + 1]!;
        b = imm & 0x1ffe;
        switch (w & 0x3ff) {
          // ---------------------------------------------------- ALU64, K
          // 64-bit add/sub in int32 arithmetic: the low word carries out when the
          // unsigned sum is below an operand, and borrows when x < y unsigned.
          case 0x07: // add
            u = R[a]!;
            t = (u + imm) | 0;
            R[a] = t;
            R[a | 1] = (R[a | 1]! + (imm >> 31) + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            break;
          case 0x17: // sub
            u = R[a]!;
            R[a] = (u - imm) | 0;
            R[a | 1] = (R[a | 1]! - (imm >> 31) - ((u >>> 0) < (imm >>> 0) ? 1 : 0)) | 0;
            break;
          case 0x27: // mul
            mul64(R, a, R[a]!, R[a | 1]!, imm, imm >> 31);
            break;
          case 0x37: // div, sdiv (off = 1); the divisor is the sign-extended imm
            divmod64(R, a, imm, imm >> 31, off === 1, false);
            break;
          case 0x47: R[a] |= imm; R[a | 1] |= imm >> 31; break;
          case 0x57: R[a] &= imm; R[a | 1] &= imm >> 31; break;
          case 0x67: lsh64(R, a, imm & 63); break;
          case 0x77: rsh64(R, a, imm & 63); break;
          case 0x87: neg64(R, a); break;
          case 0x97: divmod64(R, a, imm, imm >> 31, off === 1, true); break;
          case 0xa7: R[a] ^= imm; R[a | 1] ^= imm >> 31; break;
          case 0xb7: R[a] = imm; R[a | 1] = imm >> 31; break;
          case 0xc7: arsh64(R, a, imm & 63); break;
          // ---------------------------------------------------- ALU64, X
          case 0x0f:
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x1f:
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x2f: mul64(R, a, R[a]!, R[a | 1]!, R[b]!, R[b | 1]!); break;
          case 0x3f: divmod64(R, a, R[b]!, R[b | 1]!, off === 1, false); break;
          case 0x4f: R[a] |= R[b]!; R[a | 1] |= R[b | 1]!; break;
          case 0x5f: R[a] &= R[b]!; R[a | 1] &= R[b | 1]!; break;
          case 0x6f: lsh64(R, a, R[b]! & 63); break;
          case 0x7f: rsh64(R, a, R[b]! & 63); break;
          case 0x9f: divmod64(R, a, R[b]!, R[b | 1]!, off === 1, true); break;
          case 0xaf: R[a] ^= R[b]!; R[a | 1] ^= R[b | 1]!; break;
          case 0xbf: // mov, movsx (off = 8/16/32)
            if (off === 0) {
              R[a] = R[b]!;
              R[a | 1] = R[b | 1]!;
            } else {
              t = off === 8 ? (R[b]! << 24) >> 24 : off === 16 ? (R[b]! << 16) >> 16 : R[b]!;
              R[a] = t;
              R[a | 1] = t >> 31;
            }
            break;
          case 0xcf: arsh64(R, a, R[b]! & 63); break;
          case 0xd7: // bswap16/32/64, unconditional
            if (imm === 16) R[a] = ((R[a]! & 0xff) << 8) | ((R[a]! >>> 8) & 0xff);
            else if (imm === 32) R[a] = bswap32(R[a]!);
            else {
              t = R[a]!;
              R[a] = bswap32(R[a | 1]!);
              R[a | 1] = bswap32(t);
              break;
            }
            R[a | 1] = 0;
            break;
          // ---------------------------------------------------- ALU32 (results zero-extended)
          case 0x04: R[a] = R[a]! + imm; R[a | 1] = 0; break;
          case 0x14: R[a] = R[a]! - imm; R[a | 1] = 0; break;
          case 0x24: R[a] = Math.imul(R[a]!, imm); R[a | 1] = 0; break;
          case 0x34: divmod32(R, a, imm, off === 1, false); break;
          case 0x44: R[a] |= imm; R[a | 1] = 0; break;
          case 0x54: R[a] &= imm; R[a | 1] = 0; break;
          case 0x64: R[a] <<= imm; R[a | 1] = 0; break; // JS masks the count with & 31
          case 0x74: R[a] = R[a]! >>> imm; R[a | 1] = 0; break;
          case 0x84: R[a] = -R[a]!; R[a | 1] = 0; break;
          case 0x94: divmod32(R, a, imm, off === 1, true); break;
          case 0xa4: R[a] ^= imm; R[a | 1] = 0; break;
          case 0xb4: R[a] = imm; R[a | 1] = 0; break;
          case 0xc4: R[a] >>= imm; R[a | 1] = 0; break;
          case 0x0c: R[a] = R[a]! + R[b]!; R[a | 1] = 0; break;
          case 0x1c: R[a] = R[a]! - R[b]!; R[a | 1] = 0; break;
          case 0x2c: R[a] = Math.imul(R[a]!, R[b]!); R[a | 1] = 0; break;
          case 0x3c: divmod32(R, a, R[b]!, off === 1, false); break;
          case 0x4c: R[a] |= R[b]!; R[a | 1] = 0; break;
          case 0x5c: R[a] &= R[b]!; R[a | 1] = 0; break;
          case 0x6c: R[a] <<= R[b]!; R[a | 1] = 0; break;
          case 0x7c: R[a] = R[a]! >>> R[b]!; R[a | 1] = 0; break;
          case 0x9c: divmod32(R, a, R[b]!, off === 1, true); break;
          case 0xac: R[a] ^= R[b]!; R[a | 1] = 0; break;
          case 0xbc:
            R[a] = off === 0 ? R[b]! : off === 8 ? (R[b]! << 24) >> 24 : (R[b]! << 16) >> 16;
            R[a | 1] = 0;
            break;
          case 0xcc: R[a] >>= R[b]!; R[a | 1] = 0; break;
          case 0xd4: // to little endian: on our little-endian memory model, truncate
            if (imm === 16) R[a] &= 0xffff;
            if (imm !== 64) R[a | 1] = 0;
            break;
          case 0xdc: // to big endian: swap the low 16/32/64 bits
            if (imm === 16) R[a] = ((R[a]! & 0xff) << 8) | ((R[a]! >>> 8) & 0xff);
            else if (imm === 32) R[a] = bswap32(R[a]!);
            else {
              t = R[a]!;
              R[a] = bswap32(R[a | 1]!);
              R[a | 1] = bswap32(t);
              break;
            }
            R[a | 1] = 0;
            break;
          // ---------------------------------------------------- LD
          case 0x18: // ld_imm64: the high half is the next slot's imm
            R[a] = imm;
            R[a | 1] = P[i + 3]!;
            pc++;
            break;
          case 0x20: case 0x28: case 0x30: // LD_ABS W/H/B
          case 0x40: case 0x48: case 0x50: { // LD_IND W/H/B
            const size = ((w & 0xff) & 0x18) === 0x00 ? 4 : ((w & 0xff) & 0x18) === 0x08 ? 2 : 1;
            // IND adds the source register in 32-bit int arithmetic, as the kernel's `int off`.
            const k = (w & 0xff) >= 0x40 ? (R[off]! + imm) | 0 : imm;
            t = this.packetOffset(k, size);
            if (t < 0) {
              // Out of bounds: the program ends at once and returns 0.
              budget -= pc - segStart + 1;
              R[0] = 0;
              R[1] = 0;
              return this.finish(budget);
            }
            addr = this.pktAddr + t;
            if (checked) this.check(pc, addr, 0, size, false);
            R[0] = size === 4 ? dv.getInt32(addr, false) : size === 2 ? dv.getUint16(addr, false) : u8[addr]!;
            R[1] = 0;
            break;
          }
          // ---------------------------------------------------- LDX
          case 0x61:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 4 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 4, false);
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            break;
          case 0x69:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 2 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 2, false);
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            break;
          case 0x71:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 1 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 1, false);
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            break;
          case 0x79:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 8 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 8, false);
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            break;
          case 0x81: // LDSX
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 4 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 4, false);
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = R[a]! >> 31;
            break;
          case 0x89:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 2 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 2, false);
            R[a] = dv.getInt16(addr, true);
            R[a | 1] = R[a]! >> 31;
            break;
          case 0x91:
            addr = (R[b]! >>> 0) + off;
            if (checked && (R[b | 1]! !== 0 || addr < frameLo || addr + 1 > STACK_TOP)) this.check(pc, addr, R[b | 1]!, 1, false);
            R[a] = dv.getInt8(addr);
            R[a | 1] = R[a]! >> 31;
            break;
          // ---------------------------------------------------- ST
          case 0x62:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 4 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 4, true);
            dv.setInt32(addr, imm, true);
            break;
          case 0x6a:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 2 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 2, true);
            dv.setInt16(addr, imm, true);
            break;
          case 0x72:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 1 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 1, true);
            u8[addr] = imm;
            break;
          case 0x7a:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 8 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 8, true);
            dv.setInt32(addr, imm, true);
            dv.setInt32(addr + 4, imm >> 31, true);
            break;
          // ---------------------------------------------------- STX
          case 0x63:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 4 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 4, true);
            dv.setInt32(addr, R[b]!, true);
            break;
          case 0x6b:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 2 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 2, true);
            dv.setInt16(addr, R[b]!, true);
            break;
          case 0x73:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 1 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 1, true);
            u8[addr] = R[b]!;
            break;
          case 0x7b:
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 8 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 8, true);
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            break;
          case 0xc3: // atomic, 32-bit
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 4 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 4, true);
            atomic32(R, dv, addr, imm >> 8, imm & 0xff);
            break;
          case 0xdb: // atomic, 64-bit
            addr = (R[a]! >>> 0) + off;
            if (checked && (R[a | 1]! !== 0 || addr < frameLo || addr + 8 > STACK_TOP)) this.check(pc, addr, R[a | 1]!, 8, true);
            atomic64(R, dv, addr, imm >> 8, imm & 0xff);
            break;
          // ---------------------------------------------------- JMP
          case 0x05: // ja
            budget -= pc - segStart + 1;
            if (budget < 0) throw this.overBudget(pc);
            pc += off;
            segStart = pc + 1;
            break;
          case 0x06: // gotol: the offset is imm
            budget -= pc - segStart + 1;
            if (budget < 0) throw this.overBudget(pc);
            pc += imm;
            segStart = pc + 1;
            break;
          case 0x15: if (R[a] === imm && R[a | 1] === imm >> 31) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x1d: if (R[a] === R[b] && R[a | 1] === R[b | 1]) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x55: if (R[a] !== imm || R[a | 1] !== imm >> 31) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x5d: if (R[a] !== R[b] || R[a | 1] !== R[b | 1]) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x45: if ((R[a]! & imm) !== 0 || (R[a | 1]! & (imm >> 31)) !== 0) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x4d: if ((R[a]! & R[b]!) !== 0 || (R[a | 1]! & R[b | 1]!) !== 0) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          // Conditional jumps, one case each. 64-bit comparisons compare the high
          // halves (signed or unsigned) and, when equal, the low halves unsigned.
          case 0x25: if ((R[a | 1]! >>> 0) > ((imm >> 31) >>> 0) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) > (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x2d: if ((R[a | 1]! >>> 0) > (R[b | 1]! >>> 0) || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) > (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x35: if ((R[a | 1]! >>> 0) > ((imm >> 31) >>> 0) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) >= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x3d: if ((R[a | 1]! >>> 0) > (R[b | 1]! >>> 0) || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) >= (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xa5: if ((R[a | 1]! >>> 0) < ((imm >> 31) >>> 0) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) < (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xad: if ((R[a | 1]! >>> 0) < (R[b | 1]! >>> 0) || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) < (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xb5: if ((R[a | 1]! >>> 0) < ((imm >> 31) >>> 0) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) <= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xbd: if ((R[a | 1]! >>> 0) < (R[b | 1]! >>> 0) || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) <= (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x65: if (R[a | 1]! > (imm >> 31) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) > (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x6d: if (R[a | 1]! > R[b | 1]! || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) > (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x75: if (R[a | 1]! > (imm >> 31) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) >= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x7d: if (R[a | 1]! > R[b | 1]! || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) >= (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xc5: if (R[a | 1]! < (imm >> 31) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) < (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xcd: if (R[a | 1]! < R[b | 1]! || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) < (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xd5: if (R[a | 1]! < (imm >> 31) || (R[a | 1] === (imm >> 31) && (R[a]! >>> 0) <= (imm >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xdd: if (R[a | 1]! < R[b | 1]! || (R[a | 1] === R[b | 1]! && (R[a]! >>> 0) <= (R[b]! >>> 0))) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          // JMP32: the low halves only, unsigned or signed.
          case 0x16: if (R[a] === imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x1e: if (R[a] === R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x56: if (R[a] !== imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x5e: if (R[a] !== R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x46: if ((R[a]! & imm) !== 0) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x4e: if ((R[a]! & R[b]!) !== 0) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x26: if ((R[a]! >>> 0) > (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x2e: if ((R[a]! >>> 0) > (R[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x36: if ((R[a]! >>> 0) >= (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x3e: if ((R[a]! >>> 0) >= (R[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xa6: if ((R[a]! >>> 0) < (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xae: if ((R[a]! >>> 0) < (R[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xb6: if ((R[a]! >>> 0) <= (imm >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xbe: if ((R[a]! >>> 0) <= (R[b]! >>> 0)) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x66: if (R[a]! > imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x6e: if (R[a]! > R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x76: if (R[a]! >= imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x7e: if (R[a]! >= R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xc6: if (R[a]! < imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xce: if (R[a]! < R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xd6: if (R[a]! <= imm) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0xde: if (R[a]! <= R[b]!) { budget -= pc - segStart + 1; if (budget < 0) throw this.overBudget(pc); pc += off; segStart = pc + 1; } break;
          case 0x85: // call: helper (src 0), local function (src 1), kfunc (src 2)
            if (off === 2) {
              budget -= pc - segStart + 1;
              if (budget < 0) throw this.overBudget(pc);
              if (frames.length >= (MAX_CALL_FRAMES - 1) * FRAME_WORDS) {
                throw new BpfError('E2BIG', `pc ${pc}: call depth exceeds ${MAX_CALL_FRAMES} frames`);
              }
              // The callee gets a fresh frame below ours; r6..r9 and r10 come back at its exit.
              frames.push(pc, R[12]!, R[13]!, R[14]!, R[15]!, R[16]!, R[17]!, R[18]!, R[19]!, R[20]!);
              R[20] = R[20]! - STACK_FRAME_SIZE;
              this.frameBase = R[20]!;
              frameLo = R[20]! - STACK_FRAME_SIZE;
              pc += imm;
              segStart = pc + 1;
              break;
            }
            if (off === 4) throw new BpfError('EINVAL', `pc ${pc}: kfunc calls are not supported`);
            if (this.callHelper(imm, pc, env)) {
              budget -= pc - segStart + 1;
              return this.finish(budget);
            }
            // a helper may have grown the memory
            u8 = mem.u8;
            dv = mem.view;
            break;
          case 0x8d: // callx: the helper id is in dst
            if (R[a | 1] !== 0) throw new BpfError('EINVAL', `pc ${pc}: callx to unknown helper 0x${(R[a | 1]! >>> 0).toString(16)}${(R[a]! >>> 0).toString(16).padStart(8, '0')}`);
            if (this.callHelper(R[a]! >>> 0, pc, env)) {
              budget -= pc - segStart + 1;
              return this.finish(budget);
            }
            // a helper may have grown the memory
            u8 = mem.u8;
            dv = mem.view;
            break;
          case 0x95: // exit
            budget -= pc - segStart + 1;
            if (frames.length === 0) return this.finish(budget);
            if (budget < 0) throw this.overBudget(pc);
            pc = this.popFrame(frames, R);
            frameLo = R[20]! - STACK_FRAME_SIZE;
            segStart = pc + 1;
            break;
          // ---- BEGIN GENERATED: fused cases (scripts/gen-fused.mjs; do not edit) ----
          case 0x100: // add + add
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x101: // add + sub
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x102: // add + mul
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x103: // add + or
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x104: // add + and
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x105: // add + xor
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x106: // add + mov
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x107: // add + lsh
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x108: // add + rsh
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x109: // add + arsh
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x10a: // sub + add
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x10b: // sub + sub
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x10c: // sub + mul
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x10d: // sub + or
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x10e: // sub + and
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x10f: // sub + xor
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x110: // sub + mov
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x111: // sub + lsh
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x112: // sub + rsh
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x113: // sub + arsh
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x114: // mul + add
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x115: // mul + sub
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x116: // mul + mul
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x117: // mul + or
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x118: // mul + and
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x119: // mul + xor
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x11a: // mul + mov
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x11b: // mul + lsh
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x11c: // mul + rsh
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x11d: // mul + arsh
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x11e: // or + add
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x11f: // or + sub
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x120: // or + mul
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x121: // or + or
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x122: // or + and
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x123: // or + xor
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x124: // or + mov
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x125: // or + lsh
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x126: // or + rsh
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x127: // or + arsh
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x128: // and + add
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x129: // and + sub
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x12a: // and + mul
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x12b: // and + or
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x12c: // and + and
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x12d: // and + xor
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x12e: // and + mov
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x12f: // and + lsh
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x130: // and + rsh
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x131: // and + arsh
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x132: // xor + add
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x133: // xor + sub
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x134: // xor + mul
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x135: // xor + or
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x136: // xor + and
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x137: // xor + xor
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x138: // xor + mov
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x139: // xor + lsh
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x13a: // xor + rsh
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x13b: // xor + arsh
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x13c: // mov + add
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x13d: // mov + sub
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x13e: // mov + mul
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x13f: // mov + or
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x140: // mov + and
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x141: // mov + xor
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x142: // mov + mov
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x143: // mov + lsh
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x144: // mov + rsh
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x145: // mov + arsh
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x146: // lsh + add
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x147: // lsh + sub
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x148: // lsh + mul
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x149: // lsh + or
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x14a: // lsh + and
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x14b: // lsh + xor
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x14c: // lsh + mov
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x14d: // lsh + lsh
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x14e: // lsh + rsh
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x14f: // lsh + arsh
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x150: // rsh + add
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x151: // rsh + sub
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x152: // rsh + mul
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x153: // rsh + or
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x154: // rsh + and
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x155: // rsh + xor
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x156: // rsh + mov
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x157: // rsh + lsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x158: // rsh + rsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x159: // rsh + arsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x15a: // arsh + add
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = (u + R[b]!) | 0;
            R[a | 1] = (R[a | 1]! + R[b | 1]! + ((t >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
            R[a] = t;
            break;
          case 0x15b: // arsh + sub
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            R[a | 1] = (R[a | 1]! - R[b | 1]! - ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0;
            R[a] = (u - t) | 0;
            break;
          case 0x15c: // arsh + mul
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = Math.imul(u, t);
            R[a | 1] = (Math.round(((u >>> 0) * (t >>> 0) - (x >>> 0)) / 4294967296) + Math.imul(R[a | 1]!, t) + Math.imul(u, R[b | 1]!)) | 0;
            R[a] = x;
            break;
          case 0x15d: // arsh + or
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] |= R[b]!;
            R[a | 1] |= R[b | 1]!;
            break;
          case 0x15e: // arsh + and
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] &= R[b]!;
            R[a | 1] &= R[b | 1]!;
            break;
          case 0x15f: // arsh + xor
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] ^= R[b]!;
            R[a | 1] ^= R[b | 1]!;
            break;
          case 0x160: // arsh + mov
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            R[a] = R[b]!;
            R[a | 1] = R[b | 1]!;
            break;
          case 0x161: // arsh + lsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a | 1] = (((R[a | 1]! << t) | ((u >>> 1) >>> (31 - t))) & ~x) | ((u << t) & x);
            R[a] = (u << t) & ~x;
            break;
          case 0x162: // arsh + rsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >>> t) & x);
            R[a | 1] = (y >>> t) & ~x;
            break;
          case 0x163: // arsh + arsh
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; b = P[i + 3]! & 0x1ffe;
            u = R[a]!;
            y = R[a | 1]!;
            t = R[b]!;
            x = (t << 26) >> 31;
            R[a] = (((u >>> t) | ((y << 1) << (31 - t))) & ~x) | ((y >> t) & x);
            R[a | 1] = ((y >> t) & ~x) | ((y >> 31) & x);
            break;
          case 0x164: // ldxw + be16
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            R[a | 1] = 0;
            break;
          case 0x165: // ldxw + be32
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            R[a | 1] = 0;
            break;
          case 0x166: // ldxw + be64
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            u = R[a | 1]!;
            R[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            R[a | 1] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x167: // ldxw + stxw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            break;
          case 0x168: // ldxw + stxh
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            break;
          case 0x169: // ldxw + stxb
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            break;
          case 0x16a: // ldxw + stxdw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            break;
          case 0x16b: // ldxh + be16
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            R[a | 1] = 0;
            break;
          case 0x16c: // ldxh + be32
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            R[a | 1] = 0;
            break;
          case 0x16d: // ldxh + be64
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            u = R[a | 1]!;
            R[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            R[a | 1] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x16e: // ldxh + stxw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            break;
          case 0x16f: // ldxh + stxh
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            break;
          case 0x170: // ldxh + stxb
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            break;
          case 0x171: // ldxh + stxdw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            break;
          case 0x172: // ldxb + be16
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            R[a | 1] = 0;
            break;
          case 0x173: // ldxb + be32
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            R[a | 1] = 0;
            break;
          case 0x174: // ldxb + be64
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            u = R[a | 1]!;
            R[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            R[a | 1] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x175: // ldxb + stxw
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            break;
          case 0x176: // ldxb + stxh
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            break;
          case 0x177: // ldxb + stxb
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            break;
          case 0x178: // ldxb + stxdw
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            break;
          case 0x179: // ldxdw + be16
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);
            R[a | 1] = 0;
            break;
          case 0x17a: // ldxdw + be32
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            R[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            R[a | 1] = 0;
            break;
          case 0x17b: // ldxdw + be64
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e;
            t = R[a]!;
            u = R[a | 1]!;
            R[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);
            R[a | 1] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);
            break;
          case 0x17c: // ldxdw + stxw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            break;
          case 0x17d: // ldxdw + stxh
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            break;
          case 0x17e: // ldxdw + stxb
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            break;
          case 0x17f: // ldxdw + stxdw
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            break;
          case 0x180: // stxw + ldxw
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            break;
          case 0x181: // stxw + ldxh
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            break;
          case 0x182: // stxw + ldxb
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            break;
          case 0x183: // stxw + ldxdw
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            break;
          case 0x184: // stxh + ldxw
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            break;
          case 0x185: // stxh + ldxh
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            break;
          case 0x186: // stxh + ldxb
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            break;
          case 0x187: // stxh + ldxdw
            addr = (R[a]! >>> 0) + off;
            dv.setInt16(addr, R[b]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            break;
          case 0x188: // stxb + ldxw
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            break;
          case 0x189: // stxb + ldxh
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            break;
          case 0x18a: // stxb + ldxb
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            break;
          case 0x18b: // stxb + ldxdw
            addr = (R[a]! >>> 0) + off;
            u8[addr] = R[b]!;
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            break;
          case 0x18c: // stxdw + ldxw
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = 0;
            break;
          case 0x18d: // stxdw + ldxh
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getUint16(addr, true);
            R[a | 1] = 0;
            break;
          case 0x18e: // stxdw + ldxb
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = u8[addr]!;
            R[a | 1] = 0;
            break;
          case 0x18f: // stxdw + ldxdw
            addr = (R[a]! >>> 0) + off;
            dv.setInt32(addr, R[b]!, true);
            dv.setInt32(addr + 4, R[b | 1]!, true);
            pc++; w = P[i + 2]!; a = (w >> 9) & 0x1e; off = w >> 16; b = P[i + 3]! & 0x1ffe;
            addr = (R[b]! >>> 0) + off;
            R[a] = dv.getInt32(addr, true);
            R[a | 1] = dv.getInt32(addr + 4, true);
            break;
          // ---- END GENERATED: fused cases ----
          case 0xff: // OP_FELL_OFF
            throw new BpfError('EFAULT', `pc ${pc - 1}: execution fell off the end of the program`);
          default:
            throw new InternalError(`predecoded key 0x${(w & KEY_MASK).toString(16)} has no case`);
        }
        pc++;
      }
    } catch (e) {
      if (e instanceof RangeError) {
        throw new BpfError('EFAULT', `pc ${pc}: memory access at 0x${(addr >>> 0).toString(16)} outside the address space`);
      }
      throw e;
    }
  }

  private finish(budget: number): void {
    this.executed = this.budget - budget;
    if (this.checked && budget < 0) throw this.overBudget(-1);
    this.retLo = this.regs[0]!;
    this.retHi = this.regs[1]!;
  }

  private overBudget(pc: number): BpfError {
    return new BpfError('E2BIG', `${pc >= 0 ? `pc ${pc}: ` : ''}instruction budget of ${this.budget} exceeded`);
  }

  private popFrame(frames: number[], R: Int32Array): number {
    R[20] = frames.pop()!;
    for (let r = 19; r >= 12; r--) R[r] = frames.pop()!;
    this.frameBase = R[20]!;
    return frames.pop()!;
  }

  /** Call helper `id`; true when the program must end (an exit-on-zero helper returned 0). */
  private callHelper(id: number, pc: number, env: HelperEnv): boolean {
    const h = this.helper(id, pc);
    this.pcForHelper = pc;
    h.call(this.regs, env);
    return h.exitOnZero === true && this.regs[0] === 0 && this.regs[1] === 0;
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
function mul64(R: Int32Array, a: number, alo: number, ahi: number, blo: number, bhi: number): void {
  // The low word is Math.imul's. The high word of the unsigned 32x32 product:
  // the double product is within 2^11 of the exact one, so after removing the
  // exact low word and dividing by 2^32 the error is below 2^-20 and
  // rounding gives the high word exactly. The cross terms only reach the high
  // word, where Math.imul's wrap-around is what we want.
  const lo = Math.imul(alo, blo);
  const hi = Math.round(((alo >>> 0) * (blo >>> 0) - (lo >>> 0)) / 4294967296);
  R[a] = lo;
  R[a | 1] = (hi + Math.imul(ahi, blo) + Math.imul(alo, bhi)) | 0;
}

function lsh64(R: Int32Array, a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[a | 1] = (R[a | 1]! << n) | (R[a]! >>> (32 - n));
    R[a] = R[a]! << n;
  } else {
    R[a | 1] = R[a]! << (n - 32);
    R[a] = 0;
  }
}

function rsh64(R: Int32Array, a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[a] = (R[a]! >>> n) | (R[a | 1]! << (32 - n));
    R[a | 1] = R[a | 1]! >>> n;
  } else {
    R[a] = R[a | 1]! >>> (n - 32);
    R[a | 1] = 0;
  }
}

function arsh64(R: Int32Array, a: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[a] = (R[a]! >>> n) | (R[a | 1]! << (32 - n));
    R[a | 1] = R[a | 1]! >> n;
  } else {
    R[a] = R[a | 1]! >> (n - 32);
    R[a | 1] = R[a | 1]! >> 31;
  }
}

function neg64(R: Int32Array, a: number): void {
  const lo = R[a]!;
  R[a] = -lo;
  R[a | 1] = lo === 0 ? -R[a | 1]! : ~R[a | 1]!;
}

/**
 * 64-bit div/mod, unsigned or signed (RFC 9669): x / 0 = 0, x % 0 = x;
 * signed INT64_MIN / -1 wraps to INT64_MIN and INT64_MIN % -1 = 0.
 */
function divmod64(R: Int32Array, a: number, blo: number, bhi: number, signed: boolean, mod: boolean): void {
  const alo = R[a]!;
  const ahi = R[a | 1]!;
  if (blo === 0 && bhi === 0) {
    if (!mod) {
      R[a] = 0;
      R[a | 1] = 0;
    }
    return;
  }
  if (!signed && ahi === 0 && bhi === 0) {
    const x = alo >>> 0;
    const y = blo >>> 0;
    R[a] = mod ? x % y : (x / y) >>> 0;
    return;
  }
  if (signed && ahi === alo >> 31 && bhi === blo >> 31) {
    // Both fit in int32: exact in doubles (INT32_MIN / -1 = 2^31 is fine in 64 bits).
    const q = mod ? alo % blo : Math.trunc(alo / blo);
    R[a] = q | 0;
    R[a | 1] = q < 0 ? -1 : 0;
    return;
  }
  const v = div64(alo, ahi, blo, bhi, signed, mod);
  R[a] = Number(v & 0xffffffffn) | 0;
  R[a | 1] = Number(v >> 32n) | 0;
}

/** 32-bit div/mod on the low halves; the result is zero-extended, also for mod by 0. */
function divmod32(R: Int32Array, a: number, y: number, signed: boolean, mod: boolean): void {
  const x = R[a]!;
  R[a | 1] = 0;
  if (y === 0) {
    if (!mod) R[a] = 0;
    return;
  }
  if (signed) R[a] = mod ? x % y : Math.trunc(x / y);
  else R[a] = mod ? (x >>> 0) % (y >>> 0) : ((x >>> 0) / (y >>> 0)) >>> 0;
}

function atomic32(R: Int32Array, dv: DataView, addr: number, b: number, op: number): void {
  const old = dv.getInt32(addr, true);
  const src = R[b]!;
  switch (op & ~1) {
    case 0x00: dv.setInt32(addr, old + src, true); break;
    case 0x40: dv.setInt32(addr, old | src, true); break;
    case 0x50: dv.setInt32(addr, old & src, true); break;
    case 0xa0: dv.setInt32(addr, old ^ src, true); break;
    case 0xe0: dv.setInt32(addr, src, true); break; // xchg
    case 0xf0: // cmpxchg: compare with the low half of r0, old value into r0 (zero-extended)
      if (old === R[0]) dv.setInt32(addr, src, true);
      R[0] = old;
      R[1] = 0;
      return;
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  if (op & 1) {
    R[b] = old;
    R[b | 1] = 0;
  }
}

function atomic64(R: Int32Array, dv: DataView, addr: number, b: number, op: number): void {
  const lo = dv.getInt32(addr, true);
  const hi = dv.getInt32(addr + 4, true);
  const slo = R[b]!;
  const shi = R[b | 1]!;
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
      if (lo === R[0] && hi === R[1]) {
        dv.setInt32(addr, slo, true);
        dv.setInt32(addr + 4, shi, true);
      }
      R[0] = lo;
      R[1] = hi;
      return;
    default:
      throw new InternalError(`atomic op 0x${op.toString(16)} passed decode`);
  }
  dv.setInt32(addr, nlo, true);
  dv.setInt32(addr + 4, nhi, true);
  if (op & 1) {
    R[b] = lo;
    R[b | 1] = hi;
  }
}
