/**
 * The verifier's soundness fuzzer, the engines' differential oracle, and
 * the checked interpreter's isolation fuzzer.
 *
 * It generates random socket filters from a grammar aimed at what the
 * verifier must get right: stack stores and loads at random offsets (some
 * out of the frame, some uninitialised), pointers spilled and filled,
 * pointer arithmetic, map lookups with and without the NULL check, value
 * accesses in and out of bounds, helper calls with good and bad arguments,
 * context reads, LD_ABS/LD_IND, forward branches over all of it; 32- and
 * 64-bit moves and ALU with boundary immediates followed by comparisons
 * against constants (JMP and JMP32, every condition) that guard a trap on
 * either side, so a wrong fold runs the trap; r10 in every operand
 * position; every atomic operation with every register; and local calls
 * that move r10 (the verifier refuses them, the checked interpreter runs
 * them).
 *
 * Every program the verifier accepts (the corpus) then runs over a set of
 * packets on:
 *   - the checked interpreter: a fault there means the verifier accepted an
 *     unsafe program, a soundness bug; and the instructions it executed
 *     (its coverage) must all be instructions the verifier visited, so a
 *     path the verifier never explored is caught even when it happens to be
 *     safe (the folding differential);
 *   - the fast interpreter, the JIT and the hardened JIT one run at a time,
 *     and both JITs batched: each must give the same verdicts, the same
 *     stack after each run, the same map contents afterwards, and the same
 *     faults. Program types without the 3.19 packet context (xdp, tc, the
 *     modern socket filter) run as testRun runs them, a frame a run over
 *     FUZZ_FRAMES, and also compare the frame after each run; their batch
 *     is a FrameRunner over the same frames (the pool's and run --pcap's
 *     path: one buffer reused from run to run).
 *
 * A share of all programs (accepted or not, and every hostile one) also
 * runs unverified in the checked interpreter and on the hardened JIT (each
 * in a system of its own), which must contain it: only BpfError may come
 * out, the null page (with the run generation word) and every map header
 * stay intact, the maps stay walkable, and a verified probe program with
 * maps of its own still gives its result on every engine.
 *
 * Shared mode (a target with `shared: true`, `--shared`): every system is a
 * worker's view of a shared memory (Runtime.workerAttach, then a system
 * over it, in this thread) on lane 1 as CPU 1 of 2, whose stack frames and
 * run word are in the heap: the engines run with real atomics, the lane's
 * stack and the epochs, per-CPU hash values on cache lines of their own,
 * the checked interpreter over the same shared memory as the oracle,
 * and containment checks the null page against what it held before each run
 * (the epoch and the lane table live there) and the lane idle after it.
 *
 * `node dist/test/fuzz/soundness.js [--seconds N] [--seed S] [--profile 3.19|modern] [--packets|--tc] [--globals] [--shared] [--last FILE]`
 * runs it for a while and prints the first problems (--profile modern: the
 * generator and target of modern.ts, --packets its XDP programs, --tc its tc
 * programs with context accesses, --globals with global functions and func
 * info; modern runs have modern.ts's pruneJoin blocks too;
 * `--target modern-runtime`: the modern
 * runtime's containment fuzzer instead, modern-runtime.ts); test/soundness.test.ts runs a fixed
 * corpus and the reproducers of issue 13's findings (FINDINGS).
 */

import { fileURLToPath } from 'node:url';
import { BpfSystem, engineOf, testRun } from '../../src/api/bpf.js';
import { FrameRunner } from '../../src/api/frames.js';
import type { EngineName } from '../../src/api/bpf.js';
import { PacketRunner } from '../../src/api/packets.js';
import { BpfError } from '../../src/errors.js';
import type { Instruction, Slot } from '../../src/isa/instruction.js';
import { encode, toSlots } from '../../src/isa/instruction.js';
import { disasm } from '../../src/isa/disasm.js';
import {
  ATOMIC_OPS, BPF_ADD, BPF_AND, BPF_ARSH, BPF_B, BPF_DIV, BPF_DW, BPF_END, BPF_H, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT,
  BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB,
  BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_XOR,
} from '../../src/isa/opcodes.js';
import {
  BPF_ALU32_IMM, BPF_ALU32_REG, BPF_ALU64_IMM, BPF_ALU64_REG, BPF_ALU64_REG_OFF, BPF_ATOMIC_OP, BPF_BSWAP, BPF_CALL_REL, BPF_CALLX,
  BPF_EMIT_CALL, BPF_ENDIAN, BPF_EXIT_INSN, BPF_JMP32_IMM, BPF_JMP32_REG, BPF_JMP_A, BPF_JMP_IMM, BPF_JMP_REG, BPF_LD_ABS, BPF_LD_IMM64,
  BPF_LD_IND, BPF_LD_MAP_FD, BPF_LDX_MEM, BPF_MOV32_IMM, BPF_MOV32_REG, BPF_MOV64_IMM, BPF_MOV64_REG, BPF_RAW_INSN, BPF_ST_MEM,
  BPF_STX_MEM, BPF_STX_XADD,
} from '../../src/isa/builders.js';
import { MAP_HDR_SIZE } from '../../src/maps/map.js';
import { HashMapBase } from '../../src/maps/hash.js';
import { SharedHashMap } from '../../src/maps/shared-hash.js';
import { progTypeById, SOCKET_FILTER, verifierRules } from '../../src/progs/types.js';
import type { FuncInfoEntry } from '../../src/verifier/modern/func-info.js';
import { PROFILE_3_19, PROFILE_MODERN } from '../../src/progs/profile.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { EPOCH_ADDR, MAX_CALL_FRAMES, NULL_PAGE_END, RUN_GEN_ADDR, STACK_FRAME_SIZE, STACK_TOP } from '../../src/memory/address-space.js';
import { verify, VerifierLog } from '../../src/verifier/index.js';
import { Interpreter } from '../../src/vm/interpreter.js';
import { UNVISITED_TRAP } from '../../src/runtime/helpers.js';
import { withMapFds } from '../../src/bench/workloads.js';
import { prng, randomImm } from '../random-programs.js';
import { modernMain } from './modern-runtime.js';

/** The maps every fuzzed program may use: map[fd:0] a hash map, map[fd:1] an array. */
export const FUZZ_MAPS = [
  { map_type: 1, key_size: 4, value_size: 16, max_entries: 8 },
  { map_type: 2, key_size: 4, value_size: 16, max_entries: 4 },
];

/** A map the fuzzed programs use, as BPF_MAP_CREATE takes it (u32 keys: dumpMaps reads them so). */
export interface FuzzMap {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
  /** a map of maps: the index of its template among the target's maps (created before it) */
  inner?: number;
  /** a map of maps: the keys that hold the template map itself */
  slots?: readonly number[];
}

/** Creates a target's maps in order (a map of maps over its template, then filled): their fds. */
function createMaps(sys: BpfSystem, maps: readonly FuzzMap[]): number[] {
  const fds: number[] = [];
  const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
  for (const m of maps) {
    const { inner, slots, ...attr } = m;
    const fd = sys.bpf('BPF_MAP_CREATE', inner === undefined ? attr : { ...attr, inner_map_fd: fds[inner]! }) as number;
    for (const k of slots ?? []) sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: u32(k), value: u32(fds[inner!]!) });
    fds.push(fd);
  }
  return fds;
}

/**
 * What a fuzz run targets: the kernel profile its systems model, the
 * program type its programs load as, the maps `map[fd:N]` names, and the
 * generator. TARGET_319 is the fuzzer as issue 13 built it; the modern
 * profile's target lives in modern.ts.
 */
export interface FuzzTarget {
  name: string;
  profile: '3.19' | 'modern';
  progType: number;
  maps: readonly FuzzMap[];
  generate: (rnd: () => number) => Instruction[];
  /** func info for a program (modern targets with global functions: read from the program itself, so shrunk programs keep theirs) */
  funcInfo?: (insns: readonly Instruction[]) => FuncInfoEntry[] | undefined;
  /** run in a shared memory, on lane 1 (see the file's opening) */
  shared?: boolean;
}

/** BPF_PROG_LOAD's func_info for a target's program, when it has one. */
const funcInfoAttr = (target: FuzzTarget, insns: readonly Instruction[]): { func_info?: FuncInfoEntry[] } => {
  const fi = target.funcInfo?.(insns);
  return fi ? { func_info: fi } : {};
};

export const TARGET_319: FuzzTarget = { name: '3.19', profile: '3.19', progType: 1, maps: FUZZ_MAPS, generate: (rnd) => randomProgram(rnd) };

/** `target` in shared mode: its programs run on lane 1 of a shared memory (see the file's opening). */
export function sharedTarget(target: FuzzTarget): FuzzTarget {
  return { ...target, name: `${target.name} shared`, shared: true };
}

/**
 * A system with a small memory: the default reserves 256 MiB, and creating
 * thousands of those spends the fuzzer's time in the garbage collector.
 */
function system(target: FuzzTarget = TARGET_319): BpfSystem {
  let rt: Runtime;
  if (target.shared) {
    // the owner keeps the memory; the system is a worker's, on lane 1 with the rest of the heap as its
    // arena, and CPU 1 of 2: per-CPU hash values then sit a cache line past CPU 0's (maps/hash.ts CACHE_LINE)
    const owner = new Runtime({ maxBytes: 4 << 20, profile: target.profile, shared: true, cpus: 2 });
    rt = new Runtime({ attach: owner.workerAttach({ arenaBytes: 3 << 20, cpu: 1 }) });
  } else {
    rt = new Runtime({ maxBytes: 2 << 20, profile: target.profile });
  }
  const sys = new BpfSystem(rt);
  // bpf_get_prandom_u32 and bpf_ktime_get_ns (the modern programs call
  // them) give every system the same sequence and time, so the engines'
  // runs, each in a system of its own, compare
  sys.runtime.helpers.run.seedRandom(0x16);
  sys.runtime.helpers.run.clock = () => 1_000_000_000n;
  return sys;
}

const COND_OPS = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END];

/** Slots an instruction list takes (ld_imm64 takes two). */
export function slotCount(insns: readonly Instruction[]): number {
  let n = 0;
  for (const i of insns) n += i.code === 0x18 ? 2 : 1;
  return n;
}

/**
 * A random program; `map[fd:N]` operands carry the map's index N, replaced
 * at load. About a quarter are hostile: they also move r10, make local
 * calls and use opcodes the verifier refuses, for the unverified runs.
 */
export function randomProgram(rnd: () => number): Instruction[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const reg = (): number => pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const anyReg = (): number => Math.floor(rnd() * 11);
  const scalarReg = (): number => pick([7, 8, 9]);
  const size = (): number => pick([BPF_DW, BPF_W, BPF_H, BPF_B]);
  const bytes = (sz: number): number => (sz === BPF_DW ? 8 : sz === BPF_W ? 4 : sz === BPF_H ? 2 : 1);
  const imm = (): number => randomImm(rnd);
  const hostile = chance(0.25);
  /** a stack offset: mostly aligned inside the frame, sometimes not */
  const stackOff = (sz: number): number => {
    if (chance(0.9)) return -bytes(sz) * (1 + Math.floor(rnd() * Math.min(16, 64 / bytes(sz))));
    return pick([0, 8, -STACK_FRAME_SIZE - 8, -STACK_FRAME_SIZE, -3, -STACK_FRAME_SIZE + 4]);
  };
  /** one ALU instruction on d: every op, 32 and 64 bit, boundary immediates */
  const alu = (d: number): Instruction => {
    const wide = chance(0.5);
    const op = pick(ALU_OPS);
    if (op === BPF_NEG) return wide ? BPF_ALU64_IMM(BPF_NEG, d, 0) : BPF_ALU32_IMM(BPF_NEG, d, 0);
    if (op === BPF_END) return chance(0.7) ? BPF_ENDIAN(pick([BPF_TO_LE, BPF_TO_BE]), d, pick([16, 32, 64])) : BPF_BSWAP(d, pick([16, 32, 64]));
    if (chance(0.3)) {
      const s = chance(0.8) ? scalarReg() : anyReg();
      if ((op === BPF_DIV || op === BPF_MOD) && chance(0.3)) return BPF_ALU64_REG_OFF(op, d, s, 1);
      return wide ? BPF_ALU64_REG(op, d, s) : BPF_ALU32_REG(op, d, s);
    }
    let k = imm();
    if ((op === BPF_DIV || op === BPF_MOD) && k === 0) k = -1;
    if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && chance(0.9)) k &= wide ? 63 : 31;
    return wide ? BPF_ALU64_IMM(op, d, k) : BPF_ALU32_IMM(op, d, k);
  };
  /**
   * What a comparison guards: unsafe (the verifier must refuse it if it can
   * run) or harmless (accepted either way: only the folding differential
   * notices it ran unexplored).
   */
  const trap = (d: number): Instruction[] => {
    if (chance(0.35)) {
      return pick([
        () => [BPF_LDX_MEM(BPF_DW, 0, d, 0)],
        () => [BPF_LD_MAP_FD(1, pick([0, 1])), BPF_ST_MEM(BPF_DW, 1, 0, 0x41)],
        () => [BPF_LDX_MEM(BPF_DW, scalarReg(), 10, 8)],
        () => [BPF_LDX_MEM(BPF_W, scalarReg(), 10, -400)],
        () => [BPF_MOV64_REG(2, d), BPF_LDX_MEM(BPF_B, 0, 2, -1)],
      ])();
    }
    return pick([
      () => [BPF_MOV64_IMM(scalarReg(), 0x1234)],
      () => [BPF_ALU64_IMM(BPF_ADD, scalarReg(), 1)],
      () => [BPF_ST_MEM(BPF_DW, 10, -48, 3), BPF_MOV64_IMM(7, 5)],
    ])();
  };
  /** `if d <op> <k or a register> goto` around a trap, which sits on the fall-through or at the target */
  const guarded = (d: number, k: number): Instruction[] => {
    const op = chance(0.6) ? pick([BPF_JEQ, BPF_JNE]) : pick(COND_OPS);
    const jmp32 = chance(0.3);
    const t = trap(d);
    const jmp = (off: number): Instruction => {
      if (chance(0.15)) {
        const s = chance(0.7) ? scalarReg() : 10;
        return jmp32 ? BPF_JMP32_REG(op, d, s, off) : BPF_JMP_REG(op, d, s, off);
      }
      return jmp32 ? BPF_JMP32_IMM(op, d, k, off) : BPF_JMP_IMM(op, d, k, off);
    };
    return chance(0.5) ? [jmp(slotCount(t)), ...t] : [jmp(1), BPF_JMP_A(slotCount(t)), ...t];
  };
  /** an atomic operation: every op, both sizes, any source register */
  const atomic = (dst: number, off: number): Instruction => {
    const src = chance(0.6) ? scalarReg() : anyReg();
    return BPF_ATOMIC_OP(pick([BPF_DW, BPF_W]), pick(ATOMIC_OPS), dst, src, off);
  };
  // Local-call targets: bodies placed after the main program; a call is
  // patched once the layout is known.
  const subprograms: Instruction[][] = [];
  const calls = new Map<Instruction, number>();
  const localCall = (body: Instruction[]): Instruction => {
    const c = BPF_CALL_REL(0);
    calls.set(c, subprograms.length);
    subprograms.push(body);
    return c;
  };

  const body: Instruction[][] = [];
  const blocks = 3 + Math.floor(rnd() * 9);
  for (let b = 0; b < blocks; b++) {
    const k = rnd();
    const blk: Instruction[] = [];
    if (k < 0.1) {
      // scalar ALU
      const d = chance(0.9) ? scalarReg() : reg();
      blk.push(BPF_MOV64_IMM(d, Math.floor(rnd() * 200) - 50));
      for (let i = Math.floor(rnd() * 3); i > 0; i--) {
        const op = pick([BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_XOR, BPF_LSH, BPF_RSH]);
        if (chance(0.5)) blk.push(BPF_ALU64_IMM(op, d, op === BPF_LSH || op === BPF_RSH ? Math.floor(rnd() * 64) : Math.floor(rnd() * 1000)));
        else if (chance(0.7)) blk.push(BPF_ALU64_REG(op, d, scalarReg()));
        else blk.push(BPF_ALU32_IMM(op, d, Math.floor(rnd() * 1000)));
      }
    } else if (k < 0.27) {
      // a constant (32- or 64-bit mov of a boundary immediate, maybe some
      // ALU on it), then a comparison against a constant guarding a trap
      const d = chance(0.85) ? scalarReg() : pick([0, 1, 2, 3, 4, 5]);
      const c = imm();
      blk.push(chance(0.5) ? BPF_MOV32_IMM(d, c) : BPF_MOV64_IMM(d, c));
      if (chance(0.4)) for (let i = 1 + Math.floor(rnd() * 2); i > 0; i--) blk.push(alu(d));
      blk.push(...guarded(d, chance(0.6) ? c : pick([imm(), (c + 1) | 0, (c - 1) | 0, ~c, -c | 0, -1, 0])));
    } else if (k < 0.37) {
      // a stack store, then maybe a load back
      const sz = size();
      const off = stackOff(sz);
      if (chance(0.5)) blk.push(BPF_ST_MEM(sz, 10, off, chance(0.5) ? Math.floor(rnd() * 256) : imm()));
      else blk.push(BPF_STX_MEM(sz, 10, chance(0.8) ? scalarReg() : reg(), off));
      if (chance(0.6)) blk.push(BPF_LDX_MEM(chance(0.8) ? sz : size(), scalarReg(), 10, chance(0.8) ? off : stackOff(sz)));
    } else if (k < 0.54) {
      // a map lookup: the key on the stack, then a NULL check (usually) and value accesses
      const m = chance(0.6) ? 0 : 1;
      blk.push(BPF_ST_MEM(BPF_W, 10, -4, Math.floor(rnd() * (m === 0 ? 12 : 6))));
      blk.push(BPF_LD_MAP_FD(1, m));
      blk.push(BPF_MOV64_REG(2, 10));
      blk.push(BPF_ALU64_IMM(BPF_ADD, 2, chance(0.95) ? -4 : pick([-2, 4, -600])));
      blk.push(BPF_EMIT_CALL(1));
      const accesses: Instruction[] = [];
      const vOff = (sz: number): number => (chance(0.9) ? bytes(sz) * Math.floor(rnd() * (16 / bytes(sz))) : pick([16, -8, 12, 15]));
      for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) {
        const a = rnd();
        const sz = size();
        if (a < 0.3) accesses.push(BPF_LDX_MEM(sz, scalarReg(), 0, vOff(sz)));
        else if (a < 0.5) accesses.push(BPF_STX_MEM(sz, 0, chance(0.9) ? scalarReg() : anyReg(), vOff(sz)));
        else if (a < 0.6) accesses.push(BPF_STX_XADD(pick([BPF_DW, BPF_W]), 0, scalarReg(), chance(0.9) ? 8 : 12));
        else if (a < 0.75) accesses.push(atomic(0, chance(0.9) ? 8 : pick([0, 4, 12, 16])));
        else if (a < 0.95) {
          // spill the value pointer and use the fill
          accesses.push(BPF_STX_MEM(BPF_DW, 10, 0, -16), BPF_LDX_MEM(BPF_DW, 5, 10, chance(0.9) ? -16 : -12), BPF_LDX_MEM(BPF_DW, scalarReg(), 5, 0));
        } else {
          // pointer arithmetic on the value pointer
          accesses.push(BPF_MOV64_REG(4, 0), BPF_ALU64_IMM(BPF_ADD, 4, pick([0, 8, 4, 16, -8])), BPF_LDX_MEM(BPF_W, scalarReg(), 4, 0));
        }
      }
      if (chance(0.9)) blk.push(BPF_JMP_IMM(chance(0.5) ? BPF_JEQ : BPF_JNE, 0, 0, 0)); // patched below
      const check = blk.length - 1;
      blk.push(...accesses);
      const ji = blk[check]!;
      if (ji.code === (0x05 | BPF_JEQ)) blk[check] = { ...ji, off: slotCount(accesses) };
      else if (ji.code === (0x05 | BPF_JNE)) {
        // `if r0 != 0` jumps into the accesses: the fall-through path has r0 == NULL
        blk[check] = { ...ji, off: 1 };
        blk.splice(check + 1, 0, BPF_JMP_IMM(BPF_JEQ, 0, 0, slotCount(accesses)));
      }
    } else if (k < 0.61) {
      // an update from stack key and value
      const m = chance(0.7) ? 0 : 1;
      blk.push(BPF_ST_MEM(BPF_W, 10, -4, Math.floor(rnd() * 12)));
      blk.push(BPF_STX_MEM(BPF_DW, 10, scalarReg(), -24), BPF_ST_MEM(BPF_DW, 10, -16, Math.floor(rnd() * 100)));
      blk.push(BPF_LD_MAP_FD(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_MOV64_REG(3, 10));
      blk.push(BPF_ALU64_IMM(BPF_ADD, 3, chance(0.9) ? -24 : -8), BPF_MOV64_IMM(4, pick([0, 0, 1, 2, 3])), BPF_EMIT_CALL(2));
      if (chance(0.5)) blk.push(BPF_MOV64_REG(scalarReg(), 0));
    } else if (k < 0.69) {
      // packet loads (r6 holds the context)
      if (chance(0.5)) blk.push(BPF_LD_ABS(pick([BPF_B, BPF_H, BPF_W]), Math.floor(rnd() * 70)));
      else blk.push(BPF_LD_IND(pick([BPF_B, BPF_H, BPF_W]), scalarReg(), Math.floor(rnd() * 40)));
      blk.push(BPF_MOV64_REG(scalarReg(), 0));
    } else if (k < 0.74) {
      // a context read: len at 0, anything else is refused
      blk.push(BPF_LDX_MEM(chance(0.8) ? BPF_W : size(), scalarReg(), 6, chance(0.85) ? 0 : pick([4, 2, -4, 8])));
    } else if (k < 0.76) {
      // stack pointer arithmetic (3.19 refuses the access) and an access through it
      const r = pick([3, 4, 5]);
      blk.push(BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, -8 * (1 + Math.floor(rnd() * 8))));
      if (chance(0.5)) blk.push(BPF_STX_MEM(BPF_DW, r, scalarReg(), chance(0.9) ? 0 : 8));
      else blk.push(BPF_LDX_MEM(BPF_DW, scalarReg(), r, 0));
    } else if (k < 0.85) {
      // atomics on the stack: an initialised slot, through r10 or a copy of it;
      // sometimes on a spilled pointer, whose fill must not stay a pointer
      const off = -8 * (1 + Math.floor(rnd() * 6));
      if (chance(0.15)) {
        blk.push(BPF_STX_MEM(BPF_DW, 10, pick([10, 6, 3]), off));
        if (blk[0]!.src === 3) blk.unshift(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -64));
        blk.push(atomic(10, off), BPF_LDX_MEM(BPF_DW, 5, 10, off), BPF_LDX_MEM(BPF_DW, scalarReg(), 5, 0));
      } else {
        blk.push(BPF_ST_MEM(BPF_DW, 10, off, imm()));
        if (chance(0.6)) blk.push(atomic(10, chance(0.9) ? off : off + pick([4, 8, -4])));
        else blk.push(BPF_MOV64_REG(4, 10), atomic(4, off));
        if (chance(0.5)) blk.push(BPF_LDX_MEM(pick([BPF_DW, BPF_W]), scalarReg(), 10, off));
      }
    } else if (k < 0.91) {
      // r10 as a source: moved, added, compared, stored, atomically added
      const r = scalarReg();
      blk.push(...pick([
        () => [BPF_MOV64_REG(r, 10)],
        () => [BPF_MOV32_REG(r, 10)],
        () => [BPF_ALU64_REG(pick([BPF_ADD, BPF_SUB, BPF_XOR, BPF_AND]), r, 10)],
        () => [BPF_ALU32_REG(pick([BPF_ADD, BPF_SUB, BPF_OR]), r, 10)],
        () => [BPF_STX_MEM(BPF_DW, 10, 10, -8 * (1 + Math.floor(rnd() * 4)))],
        () => [BPF_ST_MEM(BPF_DW, 10, -8, 0), BPF_ATOMIC_OP(pick([BPF_DW, BPF_W]), pick([BPF_ADD, BPF_OR, BPF_XOR, 0xe1, 0xf1]), 10, 10, -8)],
        () => guarded(10, imm()),
        () => {
          const t = trap(r);
          return [(chance(0.5) ? BPF_JMP_REG : BPF_JMP32_REG)(pick(COND_OPS), scalarReg(), 10, slotCount(t)), ...t];
        },
      ])());
    } else if (!hostile) {
      // a random register move: may leave pointers where scalars are expected
      blk.push(chance(0.5) ? BPF_MOV64_REG(scalarReg(), reg()) : BPF_MOV64_REG(reg(), scalarReg()));
    } else {
      // hostile: r10 as a destination, local calls that move it, opcodes the verifier refuses
      blk.push(...pick([
        () => [pick([
          BPF_MOV64_IMM(10, pick([1024, 0, STACK_TOP - STACK_FRAME_SIZE, RUN_GEN_ADDR + 8])),
          BPF_ALU64_IMM(pick([BPF_ADD, BPF_SUB, BPF_AND, BPF_XOR]), 10, imm()),
          BPF_MOV32_IMM(10, imm()),
          BPF_ALU64_REG(BPF_ADD, 10, scalarReg()),
          BPF_MOV64_REG(10, anyReg()),
          BPF_LD_IMM64(10, pick([1024, 0x100010000, NULL_PAGE_END - 8])),
        ])],
        () => [BPF_ST_MEM(BPF_DW, 10, -8, pick([1024, 0, RUN_GEN_ADDR + 8])), BPF_LDX_MEM(BPF_DW, 10, 10, -8)],
        () => [BPF_ST_MEM(BPF_DW, 10, -8, 0), BPF_ATOMIC_OP(pick([BPF_DW, BPF_W]), pick(ATOMIC_OPS.filter((o) => o & 1)), 10, 10, -8)],
        () => [BPF_ATOMIC_OP(pick([BPF_DW, BPF_W]), pick(ATOMIC_OPS), anyReg(), anyReg(), pick([0, -8, 8]))],
        () => {
          // a local call, maybe after moving r10; the callee plays with its r10 too
          const pre = chance(0.6) ? [BPF_MOV64_IMM(10, pick([1024, 0, RUN_GEN_ADDR + 8, STACK_TOP + 4096]))] : [];
          const callee: Instruction[] = pick([
            () => [BPF_MOV64_REG(0, 10)],
            () => [BPF_ST_MEM(BPF_DW, 10, -8, 5), BPF_LDX_MEM(BPF_DW, 0, 10, -8)],
            () => [BPF_LD_IMM64(1, RUN_GEN_ADDR), BPF_ST_MEM(BPF_W, 1, 0, 0x41)],
            () => [BPF_LDX_MEM(BPF_DW, 0, 10, pick([8, STACK_FRAME_SIZE - 8, STACK_FRAME_SIZE]))],
            () => [BPF_ALU64_IMM(BPF_SUB, 10, STACK_FRAME_SIZE), BPF_ST_MEM(BPF_DW, 10, -8, 1)],
            () => [BPF_MOV64_IMM(10, 1024), BPF_LDX_MEM(BPF_DW, 0, 10, -8)],
          ])();
          // sometimes recursion, which the depth bounds
          if (chance(0.2)) callee.push(BPF_CALL_REL(-slotCount(callee) - 1));
          callee.push(BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN());
          return [...pre, localCall(callee)];
        },
        () => [pick([
          BPF_RAW_INSN(0x38, 0, 0, 0, 0), // LD_ABS DW
          BPF_RAW_INSN(0x58, 0, scalarReg(), 0, 0), // LD_IND DW
          BPF_CALLX(scalarReg()),
          BPF_RAW_INSN(0x85, 0, 2, 0, 1), // kfunc call
          BPF_EMIT_CALL(pick([0, 4, 99, -1])),
          BPF_LD_IND(pick([BPF_B, BPF_W]), 10, 0),
        ])],
      ])());
    }
    body.push(blk);
  }
  // forward branches over whole blocks
  const out: Instruction[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 1), BPF_MOV64_IMM(8, 2), BPF_MOV64_IMM(9, 3)];
  if (chance(0.5)) out.push(BPF_MOV64_IMM(0, imm()));
  for (let b = 0; b < body.length; b++) {
    if (chance(0.25) && b + 1 < body.length) {
      const skip = body.slice(b, b + 1 + Math.floor(rnd() * 2)).reduce((n, blk) => n + slotCount(blk), 0);
      const d = chance(0.05) ? 10 : scalarReg();
      const op = chance(0.5) ? pick([BPF_JEQ, BPF_JGT, BPF_JSET, BPF_JSGT]) : pick(COND_OPS);
      if (chance(0.5)) {
        const k = chance(0.5) ? Math.floor(rnd() * 5) : imm();
        out.push(chance(0.25) ? BPF_JMP32_IMM(op, d, k, skip) : BPF_JMP_IMM(op, d, k, skip));
      } else {
        out.push(chance(0.25) ? BPF_JMP32_REG(op, d, scalarReg(), skip) : BPF_JMP_REG(op, d, scalarReg(), skip));
      }
    }
    out.push(...body[b]!);
  }
  out.push(chance(0.97) ? BPF_MOV64_REG(0, scalarReg()) : BPF_MOV64_IMM(1, 0), BPF_EXIT_INSN());
  if (subprograms.length === 0) return out;
  // the local calls' targets, after the main program
  const at: number[] = [];
  let pos = slotCount(out);
  for (const s of subprograms) {
    at.push(pos);
    pos += slotCount(s);
  }
  const program = [...out, ...subprograms.flat()];
  let slot = 0;
  return program.map((insn) => {
    const here = slot;
    slot += insn.code === 0x18 ? 2 : 1;
    const sub = calls.get(insn);
    return sub === undefined ? insn : { ...insn, imm: at[sub]! - here - 1 };
  });
}

export const FUZZ_PACKETS: Uint8Array[] = (() => {
  const rnd = prng(77);
  return Array.from({ length: 6 }, (_, i) => Uint8Array.from({ length: [0, 1, 14, 40, 60, 90][i]! }, () => Math.floor(rnd() * 256)));
})();

/** Each packet twice, so map state carries between runs. */
const RUN_PACKETS = [...FUZZ_PACKETS, ...FUZZ_PACKETS];

/**
 * The frames the program types without a 3.19 packet context (xdp,
 * sched_cls, the modern socket filter) run over, through the test run: it
 * refuses a frame shorter than an Ethernet header for an skb, and an IPv4
 * or IPv6 frame shorter than its network header, so the short ones carry an
 * ethertype that is neither (0x88b5, the local experimental one) and the
 * IPv4 and IPv6 ones have 14 + 40 bytes at least.
 */
export const FUZZ_FRAMES: Uint8Array[] = (() => {
  const rnd = prng(78);
  return ([[14, 0x88b5], [40, 0x88b5], [54, 0x0800], [60, 0x86dd], [90, 0x0800], [128, 0x88b5]] as const).map(([len, type]) => {
    const f = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
    f[12] = type >> 8;
    f[13] = type & 0xff;
    return f;
  });
})();
const RUN_FRAMES = [...FUZZ_FRAMES, ...FUZZ_FRAMES];

/** Whether the target's programs run through a PacketRunner (a 3.19 packet context), which alone has a batch. */
function packetContext(target: FuzzTarget): boolean {
  return progTypeById(target.progType, target.profile === 'modern' ? PROFILE_MODERN : PROFILE_3_19).packet !== undefined;
}

/**
 * How the fuzzer runs a loaded program, as the library runs its type: a
 * 3.19-style socket filter (a packet context) through a PacketRunner, as
 * captures run it; any other type (xdp, sched_cls, the modern socket
 * filter) through testRun, one frame a run, as `run --pcap` and
 * BPF_PROG_TEST_RUN do. `frame` is the bytes after the last run (testRun's
 * data_out; empty for a PacketRunner, whose packets a program cannot
 * write); `batch` runs them all at once as the library does: a
 * PacketRunner's batch, or a FrameRunner over the frames.
 */
interface FuzzRunner {
  inputs: readonly Uint8Array[];
  run(data: Uint8Array): number;
  frame(): string;
  batch?(inputs: readonly Uint8Array[]): number[];
}

function fuzzRunner(sys: BpfSystem, fd: number, engine: EngineName): FuzzRunner {
  const obj = sys.progOf(fd);
  if (obj.prog.type.packet) {
    const runner = new PacketRunner(sys, fd, engine);
    return {
      inputs: RUN_PACKETS,
      run: (data) => runner.run(data, 14),
      frame: () => '',
      batch: (inputs) => [...runner.runBatch(inputs.map((data) => ({ data, netOff: 14 })))],
    };
  }
  // compiled here (the hardened JIT), so a refusal comes out of the constructor as PacketRunner's does
  engineOf(obj.prog, engine, sys);
  let out = '';
  return {
    inputs: RUN_FRAMES,
    run: (data) => {
      out = '';
      const r = testRun(sys, fd, data, 1, engine);
      out = Buffer.from(r.dataOut).toString('hex');
      return Number(r.retval & 0xffffffffn);
    },
    frame: () => out,
    // the pool's and run --pcap's way: a FrameRunner over every frame, its buffer reused from run to run
    batch: (inputs) => {
      const fr = new FrameRunner(sys, fd, engine);
      try {
        return inputs.map((data) => fr.run(data));
      } finally {
        fr.close();
      }
    },
  };
}

type Engine = 'checked' | 'interpreter' | 'jit' | 'jit-hardened' | 'batch' | 'batch-hardened';

interface Trace {
  verdicts: string[];
  /** the stack after each run (not for batches, which run in one call) */
  stacks: string[];
  /** the frame after each run (testRun's data_out; empty strings for a PacketRunner, not for batches) */
  frames: string[];
  maps: string[];
  /** the slots of the program run (the checked engine: of the verified load's program where there is one) */
  slots: number;
}

function dumpMaps(sys: BpfSystem, fds: readonly number[]): string[] {
  const mem = sys.runtime.mem;
  const key = mem.alloc(8);
  const next = mem.alloc(8);
  try {
    return fds.map((fd) => {
      const m = sys.mapOf(fd).impl;
      const entries: string[] = [];
      let prev = 0;
      while (entries.length <= m.maxEntries && m.getNextKey(prev, next) === 0) {
        const v = m.lookup(next);
        // a map of maps: the key alone (a program's lookup gives the inner map's address, not a value)
        if (m.innerMaps) entries.push(`${mem.view.getUint32(next, true)}`);
        else entries.push(`${mem.view.getUint32(next, true)}=${Buffer.from(mem.u8.subarray(v, v + m.valueSize)).toString('hex')}`);
        mem.u8.copyWithin(key, next, next + 4);
        prev = key;
      }
      return entries.sort().join(',');
    });
  } finally {
    mem.release(key);
    mem.release(next);
  }
}

/** A run's outcome: r0's low half, or the error's errno and message. Only BpfError may come out. */
function outcome(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (e instanceof BpfError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

interface TraceOptions {
  /** move every address (maps, context, packet) by this many bytes */
  shift?: number;
  /** give each run its context and packet at a new address, as a batch does: run i after a spacer of jitter * i bytes */
  jitter?: number;
  /** where the checked interpreter records the instructions it executed */
  coverage?: Uint8Array;
  /** checked: skip the verified load that places things as for the other engines */
  unplaced?: boolean;
  /** the byte the stack frames hold before each run (default 0) */
  stackFill?: number;
}

/** Run on `engine` in a fresh system, each packet of RUN_PACKETS in turn. */
function trace(insns: readonly Instruction[], engine: Engine, options: TraceOptions = {}, target: FuzzTarget = TARGET_319): Trace {
  const sys = system(target);
  const mem = sys.runtime.mem;
  if (options.shift) mem.alloc(options.shift);
  const fds = createMaps(sys, target.maps);
  const attr = { prog_type: target.progType, insns: encode(withMapFds(insns, fds)), license: 'GPL', ...funcInfoAttr(target, insns) };
  let fd: number;
  /** the checked interpreter records options.coverage already */
  let covered = false;
  let ranSlots = slotCount(insns);
  if (engine === 'checked' && options.unplaced) {
    fd = sys.loadUnverified(attr);
  } else if (engine === 'checked') {
    // The checked interpreter runs the program loaded unverified, after the
    // verified load: what that load allocates (the JIT's scratch) then sits
    // where it does for the other engines, and the context and packet land
    // at the same addresses, so even results that depend on them compare
    // equal. (The oracle's own test examines a program the verifier refuses.)
    // Under the modern profile it runs the verified load's instructions where
    // there is one: the load rewrites context accesses as the kernel does
    // (progs/ctx-rewrite.ts), which the program as written does not say.
    let verified: readonly Slot[] | undefined;
    try {
      const loaded = sys.progOf(sys.bpf('BPF_PROG_LOAD', attr)).prog.slots;
      if (target.profile === 'modern') verified = loaded;
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
    }
    fd = sys.loadUnverified(attr);
    if (verified !== undefined) {
      const rt = sys.runtime;
      sys.progOf(fd).prog.interpreter = new Interpreter(rt.mem, verified, {
        checked: true, budget: sys.unverifiedBudget, helpers: rt.helpers, regions: rt.regions, ...(options.coverage ? { coverage: options.coverage } : {}),
      });
      covered = true;
      ranSlots = verified.length;
    }
  } else {
    fd = sys.bpf('BPF_PROG_LOAD', attr);
  }
  if (options.coverage && !covered) {
    // the same checked interpreter the unverified load made, recording coverage
    const prog = sys.progOf(fd).prog;
    const rt = sys.runtime;
    prog.interpreter = new Interpreter(rt.mem, prog.slots, {
      checked: true, budget: sys.unverifiedBudget, helpers: rt.helpers, regions: rt.regions, coverage: options.coverage,
    });
  }
  const name = engine === 'checked' ? 'interpreter' : engine === 'batch' ? 'jit' : engine === 'batch-hardened' ? 'jit-hardened' : engine;
  let runner = fuzzRunner(sys, fd, name);
  const t: Trace = { verdicts: [], stacks: [], frames: [], maps: [], slots: ranSlots };
  const top = sys.runtime.lane.stackTop;
  const stack = mem.u8.subarray(top - STACK_FRAME_SIZE * MAX_CALL_FRAMES, top);
  if (engine === 'batch' || engine === 'batch-hardened') {
    const batch = runner.batch;
    if (batch === undefined) throw new Error(`the fuzzer has no batch for ${target.name}'s programs`);
    t.verdicts = [outcome(() => batch(runner.inputs).reduce((a, v, i) => a + v * (i + 1), 0))];
  } else {
    runner.inputs.forEach((p, i) => {
      if (options.jitter && i > 0) {
        // a spacer of a new size, then a runner whose context lands after it
        // (testRun places each run's context anew: after the spacer too)
        mem.alloc(options.jitter * i);
        runner = fuzzRunner(sys, fd, name);
      }
      // What a run leaves on the stack is compared; the checked interpreter
      // starts from a zeroed frame, so every engine does here.
      stack.fill(options.stackFill ?? 0);
      t.verdicts.push(outcome(() => runner.run(p)));
      t.stacks.push(Buffer.from(stack.subarray(stack.length - STACK_FRAME_SIZE)).toString('hex'));
      t.frames.push(runner.frame());
    });
  }
  t.maps = dumpMaps(sys, fds);
  return t;
}

/**
 * The system programs are verified in, once per process: the verdict does
 * not depend on the maps' contents, and without the JIT a load costs only
 * the verification.
 */
const verifierSystems = new Map<FuzzTarget, { sys: BpfSystem; fds: number[] }>();
function forVerifying(target: FuzzTarget = TARGET_319): { sys: BpfSystem; fds: number[] } {
  let v = verifierSystems.get(target);
  if (!v) {
    const sys = system(target);
    sys.jitEnabled = false;
    v = { sys, fds: createMaps(sys, target.maps) };
    verifierSystems.set(target, v);
  }
  return v;
}

/**
 * The instructions the verifier visits in `insns` (map[fd:N] = FUZZ_MAPS[N]),
 * as prog-load runs it; undefined when it refuses the program.
 */
export function visitedByVerifier(insns: readonly Instruction[], target: FuzzTarget = TARGET_319): Uint8Array | undefined {
  if (target !== TARGET_319) return visitedByLoad(insns, target);
  const { sys, fds } = forVerifying();
  // replace_map_fd_with_map_ptr: the pseudo ld_imm64 holds the map's address
  const slots: Slot[] = toSlots(withMapFds(insns, fds)).map((s) => ({ ...s }));
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.code !== 0x18) continue;
    if (s.src === 1) s.imm = sys.mapOf(s.imm).impl.addr | 0;
    i++;
  }
  const r = verify(slots, {
    ...verifierRules(SOCKET_FILTER, PROFILE_3_19),
    gplCompatible: true,
    mapAt: (addr) => {
      const m = sys.mapByAddr(addr);
      return m ? { addr, keySize: m.impl.keySize, valueSize: m.impl.valueSize } : undefined;
    },
    log: new VerifierLog(0, 0),
  });
  return r.ok ? r.visited : undefined;
}

export interface FuzzResult {
  generated: number;
  accepted: number;
  /**
   * accepted programs whose results depend on addresses (3.19 lets pointers
   * leak) or on stack bytes they read unwritten (the modern profile allows
   * it): checked for soundness only
   */
  addressDependent: number;
  /** programs run unverified in the checked interpreter (those it could load), and their runs */
  unverified: number;
  unverifiedRuns: number;
  /** the same programs' runs on the hardened JIT (those it could compile) */
  hardenedRuns: number;
  /** what went wrong, with the program */
  problems: string[];
}

/** What only hostile programs contain: a local call (under 3.19), a write to r10. */
function hostileInsn(i: Instruction, target: FuzzTarget = TARGET_319): boolean {
  const cls = i.code & 7;
  if (i.code === 0x85 && i.src === 1) return target.profile === '3.19';
  if (i.dst === 10 && (cls === 1 || cls === 4 || cls === 7)) return true;
  return (i.code === 0xc3 || i.code === 0xdb) && i.src === 10 && (i.imm & 1) === 1;
}

/**
 * A coverage array for a run of `insns`, or of what the load makes of them:
 * the rewrite of context accesses (progs/ctx-rewrite.ts) at most doubles
 * the slots (a queue_mapping store becomes a test and a store).
 */
function coverageFor(insns: readonly Instruction[]): Uint8Array {
  return new Uint8Array(2 * slotCount(insns));
}

/**
 * The visited set as BPF_PROG_LOAD leaves it, for profiles whose verifier
 * is not called directly here: prog-load turns every slot no explored path
 * reached into the UNVISITED_TRAP call (sanitizeUnvisited), whatever
 * verifier judged the program, so the loaded slots say what was visited.
 * Undefined when the load refuses the program.
 */
function visitedByLoad(insns: readonly Instruction[], target: FuzzTarget): Uint8Array | undefined {
  const { sys, fds } = forVerifying(target);
  let fd: number;
  try {
    fd = sys.bpf('BPF_PROG_LOAD', { prog_type: target.progType, insns: encode(withMapFds(insns, fds)), license: 'GPL', ...funcInfoAttr(target, insns) });
  } catch (e) {
    if (e instanceof BpfError) return undefined;
    throw e;
  }
  const slots = sys.progOf(fd).prog.slots;
  const visited = new Uint8Array(slots.length);
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.code === 0x85 && s.src === 0 && s.imm === UNVISITED_TRAP) continue;
    visited[i] = 1;
    if (s.code === 0x18) i++;
  }
  sys.close(fd);
  return visited;
}

/** Load with the verifier into a throwaway system: accepted or not. */
export function accepted(insns: readonly Instruction[], target: FuzzTarget = TARGET_319): boolean {
  const { sys, fds } = forVerifying(target);
  try {
    sys.close(sys.bpf('BPF_PROG_LOAD', { prog_type: target.progType, insns: encode(withMapFds(insns, fds)), license: 'GPL', ...funcInfoAttr(target, insns) }));
    return true;
  } catch (e) {
    if (e instanceof BpfError) return false;
    throw e;
  }
}

/**
 * Generate `count` programs from `seed`; verify; run the accepted ones on
 * every engine, and a share of all (every hostile one) unverified.
 */
export function fuzz(seed: number, count: number, stopAtMs = Infinity, target: FuzzTarget = TARGET_319, onProgram?: (n: number, insns: Instruction[]) => void): FuzzResult {
  const rnd = prng(seed);
  const result: FuzzResult = { generated: 0, accepted: 0, addressDependent: 0, unverified: 0, unverifiedRuns: 0, hardenedRuns: 0, problems: [] };
  for (let n = 0; n < count && Date.now() < stopAtMs; n++) {
    const insns = target.generate(rnd);
    onProgram?.(n, insns);
    result.generated++;
    // decided before verifying, so the choice does not depend on the verdict
    const runUnverified = rnd() < 0.15 || insns.some((i) => hostileInsn(i, target));
    if (runUnverified) {
      const u = containment(insns, undefined, target);
      if (u.runs > 0) result.unverified++;
      result.unverifiedRuns += u.runs;
      result.hardenedRuns += u.hardened.runs;
      result.problems.push(...u.problems);
    }
    if (!accepted(insns, target)) continue;
    result.accepted++;
    let r: ReturnType<typeof examine>;
    try {
      r = examine(insns, { target });
    } catch (e) {
      // the oracle's own setup failing (an engine refusing an accepted program) is a problem too, not a crash
      result.problems.push(`examining the program threw ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ''}: ${e.message}` : String(e)}\n${disasm(insns)}`);
      continue;
    }
    if (r.addressDependent) result.addressDependent++;
    result.problems.push(...r.problems);
  }
  return result;
}

/**
 * The folding differential: the instructions a run executed (`coverage`,
 * from the checked interpreter) must all have been visited by the verifier
 * (`visited`, by default the verifier's own answer); a problem otherwise.
 */
export function unexplored(insns: readonly Instruction[], coverage: Uint8Array, visited = visitedByVerifier(insns), target: FuzzTarget = TARGET_319): string[] {
  if (!visited) return [`the verifier accepted the program through BPF_PROG_LOAD but not when called directly (${target.name})\n${disasm(insns)}`];
  const missed = [...coverage.keys()].filter((i) => coverage[i] === 1 && visited[i] !== 1);
  if (missed.length === 0) return [];
  return [`unexplored: the checked interpreter executed insn ${missed.join(', ')}, which the verifier never visited\n${disasm(insns)}`];
}

/** The instructions the checked interpreter executes over the fuzz packets, as fuzz runs them. */
export function executed(insns: readonly Instruction[], target: FuzzTarget = TARGET_319): Uint8Array {
  const coverage = coverageFor(insns);
  return coverage.subarray(0, trace(insns, 'checked', { coverage }, target).slots);
}

export interface ExamineOptions {
  /** the verifier's visited set to hold the run to (default: the verifier's own) */
  visited?: Uint8Array;
  /** the profile, program type and maps (default TARGET_319) */
  target?: FuzzTarget;
}

/**
 * Run a program the verifier accepted on every engine: a fault in the
 * checked interpreter is a soundness bug, and so is an executed instruction
 * the verifier never visited; any difference between the engines (where
 * results do not depend on addresses) is an engine bug.
 */
/**
 * Does some placement of the maps, context and packet change the verdicts
 * or the maps? Tries base addresses 8 bytes apart across bits 3..9 (the
 * allocator aligns to 8), each run's context moving by a different step.
 */
function placementMatters(insns: readonly Instruction[], checked: Trace, target: FuzzTarget): boolean {
  for (let k = 1; k <= 128; k++) {
    const t = trace(insns, 'checked', { shift: 4096 + 8 * k, jitter: 8 * ((k % 7) + 1), unplaced: true }, target);
    if (t.verdicts.join('|') !== checked.verdicts.join('|') || t.maps.join('|') !== checked.maps.join('|')) return true;
  }
  return false;
}

/**
 * A trace, or undefined when the engine refuses the program with ENOTSUP: the
 * hardened JIT knows the value layout of hash and array maps only, and
 * refuses programs that reference the modern map types (it must not guess
 * what a program may touch); the others run them.
 */
function refusable(f: () => Trace): Trace | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOTSUP') return undefined;
    throw e;
  }
}

export function examine(insns: readonly Instruction[], options: ExamineOptions = {}): { problems: string[]; addressDependent: boolean } {
  const problems: string[] = [];
  const target = options.target ?? TARGET_319;
  let addressDependent = false;
  const listing = (): string => disasm(insns);
  const coverage = coverageFor(insns);
  const checked = trace(insns, 'checked', { coverage }, target);
  const fault = checked.verdicts.find((v) => v.startsWith('EFAULT'));
  if (fault) {
    problems.push(`unsound: the verifier (${target.name}) accepted a program that faults in the checked interpreter (${fault})\n${listing()}`);
    return { problems, addressDependent };
  }
  // a verified program terminates: running out of the checked interpreter's
  // budget (E2BIG) means the verifier let an unbounded loop through
  const endless = checked.verdicts.find((v) => v.startsWith('E2BIG'));
  if (endless) {
    problems.push(`unsound: the verifier (${target.name}) accepted a program that does not terminate in the checked interpreter (${endless})\n${listing()}`);
    return { problems, addressDependent };
  }
  problems.push(...unexplored(insns, coverage, options.visited ?? visitedByVerifier(insns, target), target));
  // 3.19 lets a program return, spill and store pointers: what depends on
  // where things are (found by running again with every address moved, and
  // each run's context somewhere else) cannot match across engines that
  // place things differently (a batch's packets), and is left out of the
  // comparison.
  // Two placements whose addresses differ in different low bits: a result that
  // depends on a few bits of an address (a shift by the context pointer) can
  // coincide under one move and still differ in a batch.
  const moves = [trace(insns, 'checked', { shift: 4096, jitter: 8, unplaced: true }, target), trace(insns, 'checked', { shift: 4096 + 40, jitter: 24, unplaced: true }, target)];
  // The modern kernel lets a privileged program read stack it never wrote
  // (a callee reading its caller's slot): what it reads is whatever the
  // last run left there, which a batch does not clear between runs. Found
  // by running the fast interpreter (the checked one zeroes its frame) with
  // the frames filled with another byte first, and with them zeroed; such
  // results are left out like address-dependent ones (the stacks compare
  // regardless: their untouched bytes show the fill).
  const zeroed = trace(insns, 'interpreter', {}, target);
  const filled = trace(insns, 'interpreter', { stackFill: 0x5a }, target);
  const fields = (['verdicts', 'stacks', 'frames', 'maps'] as const).filter((f) =>
    moves.every((moved) => moved[f].join('|') === checked[f].join('|')) && (f === 'stacks' || filled[f].join('|') === zeroed[f].join('|')));
  if (fields.length < 4) addressDependent = true;
  // faults compare by errno: each engine words its messages its own way
  const same = (x: string[], y: string[]): boolean => x.map((v) => v.split(':')[0]).join('|') === y.map((v) => v.split(':')[0]).join('|');
  for (const engine of ['interpreter', 'jit', 'jit-hardened'] as const) {
    const t = engine === 'interpreter' ? zeroed : refusable(() => trace(insns, engine, {}, target));
    if (!t) continue;
    for (const field of fields) {
      if (!same(t[field], checked[field])) {
        problems.push(`${engine} differs from the checked interpreter in ${field}\n${listing()}`);
      }
    }
  }
  if (!fields.includes('verdicts') || !fields.includes('maps')) return { problems, addressDependent };
  const expected = checked.verdicts.every((v) => /^\d+$/.test(v))
    ? String(checked.verdicts.reduce((a, v, i) => a + Number(v) * (i + 1), 0))
    : undefined;
  // xdp, tc and the modern socket filter: their "batch" is a FrameRunner over the frames (one run each, in the runner's reused buffer)
  for (const [engine, what] of [['batch', 'JIT'], ['batch-hardened', 'hardened JIT']] as const) {
    const batch = refusable(() => trace(insns, engine, {}, target));
    if (!batch) continue;
    if (expected !== undefined && (batch.verdicts[0] !== expected || batch.maps.join('|') !== checked.maps.join('|'))) {
      // A batch places each run's context where no single run does; before
      // calling it a bug, rule out a result that depends on a few address bits.
      if (placementMatters(insns, checked, target)) addressDependent = true;
      else problems.push(`the batched ${what}${packetContext(target) ? '' : ' (FrameRunner)'} differs from one-by-one runs\n${listing()}`);
    }
  }
  return { problems, addressDependent };
}

/** The probe: a verified program over maps of its own, whose result shows the runtime still works. */
const PROBE_KEY = 7;
const PROBE_RESULT = 0x3333n;
function probeProgram(arrayFd: number, hashFd: number): Instruction[] {
  return [
    BPF_ST_MEM(BPF_W, 10, -4, 0), BPF_LD_MAP_FD(1, arrayFd), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1),
    BPF_JMP_IMM(BPF_JEQ, 0, 0, 11), BPF_LDX_MEM(BPF_DW, 6, 0, 8),
    BPF_ST_MEM(BPF_W, 10, -4, PROBE_KEY), BPF_LD_MAP_FD(1, hashFd), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1),
    BPF_JMP_IMM(BPF_JEQ, 0, 0, 3), BPF_LDX_MEM(BPF_DW, 0, 0, 8), BPF_ALU64_REG(BPF_ADD, 0, 6), BPF_EXIT_INSN(),
    BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
  ];
}

const ZERO_PAGE = Buffer.alloc(NULL_PAGE_END);

/** What containment() found: the checked interpreter's runs and outcomes, the hardened JIT's, and the problems of both. */
export interface Containment {
  /** the checked interpreter's runs (0 when it refused to load the program: EINVAL for what it cannot run) */
  runs: number;
  outcomes: string[];
  /** the hardened JIT's (0 runs when it refused to compile the program) */
  hardened: { runs: number; outcomes: string[] };
  problems: string[];
}

/**
 * Run a program unverified in the checked interpreter, and again in a
 * fresh system on the hardened JIT, and check that each stayed contained
 * (see the file's opening). `setup` may change each system before the
 * program loads.
 */
export function containment(
  insns: readonly Instruction[],
  setup?: (sys: BpfSystem, fds: { program: readonly number[]; probe: readonly number[] }) => void,
  target: FuzzTarget = TARGET_319,
): Containment {
  const checked = containedOn(insns, 'interpreter', setup, target);
  const hardened = containedOn(insns, 'jit-hardened', setup, target);
  return { runs: checked.runs, outcomes: checked.outcomes, hardened: { runs: hardened.runs, outcomes: hardened.outcomes }, problems: [...checked.problems, ...hardened.problems] };
}

/** containment() on one engine: the unverified load's checked interpreter, or the hardened JIT. */
function containedOn(
  insns: readonly Instruction[],
  engine: 'interpreter' | 'jit-hardened',
  setup: ((sys: BpfSystem, fds: { program: readonly number[]; probe: readonly number[] }) => void) | undefined,
  target: FuzzTarget,
): { runs: number; outcomes: string[]; problems: string[] } {
  const where = engine === 'interpreter' ? 'in the checked interpreter' : 'on the hardened JIT';
  const problems: string[] = [];
  const outcomes: string[] = [];
  const listing = (): string => disasm(insns);
  const sys = system(target);
  sys.unverifiedBudget = 20_000;
  const mem = sys.runtime.mem;
  const fds = createMaps(sys, target.maps);
  // some elements, so hash links exist for a program to corrupt
  const put = (fd: number, key: number, value: bigint): void => {
    const k = new Uint8Array(4);
    new DataView(k.buffer).setUint32(0, key, true);
    const v = new Uint8Array(16);
    new DataView(v.buffer).setBigUint64(8, value, true);
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: k, value: v, flags: 0 });
  };
  for (const key of [1, 2, 3]) put(fds[0]!, key, BigInt(key));
  // the bystanders: maps the program does not reference, and a verified probe over them
  const probeArray = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 16, max_entries: 2 });
  const probeHash = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 16, max_entries: 4 });
  put(probeArray, 0, 0x1111n);
  put(probeHash, 1, 0x5n);
  put(probeHash, PROBE_KEY, 0x2222n);
  const probe = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(probeProgram(probeArray, probeHash)), license: 'GPL' });
  // tests give the runtime a faulty part here, to see each check catch it
  setup?.(sys, { program: fds, probe: [probeArray, probeHash] });
  let fd: number;
  try {
    fd = sys.loadUnverified({ prog_type: target.progType, insns: encode(withMapFds(insns, fds)), license: 'GPL' });
  } catch (e) {
    if (e instanceof BpfError) return { runs: 0, outcomes, problems };
    return { runs: 0, outcomes, problems: [`escape: loading unverified (for a run ${where}) threw ${String(e)}\n${listing()}`] };
  }
  const allFds = [...fds, probeArray, probeHash];
  const headers = allFds.map((f) => sys.mapOf(f).impl.addr);
  const headerBytes = headers.map((a) => Buffer.from(mem.u8.subarray(a, a + MAP_HDR_SIZE)));
  // every hash map (hash, percpu_hash, lru_hash, lru_percpu_hash) bumps the generation once per run
  // (not the shared hash maps of a shared memory, which reuse by epochs)
  const hashMaps = sys.progOf(fd).prog.maps.filter((m) => m.impl instanceof HashMapBase && !(m.impl instanceof SharedHashMap)).length;
  let runner: FuzzRunner;
  try {
    // unverified: 'interpreter' is the checked interpreter the load made; the hardened JIT compiles here
    runner = fuzzRunner(sys, fd, engine);
  } catch (e) {
    if (e instanceof BpfError) return { runs: 0, outcomes, problems };
    return { runs: 0, outcomes, problems: [`escape: compiling ${where} threw ${String(e)}\n${listing()}`] };
  }
  let runs = 0;
  const lane = sys.runtime.lane;
  for (const p of runner.inputs) {
    const gen = mem.view.getUint32(RUN_GEN_ADDR, true);
    // shared: the null page holds the epoch and the lane table; unshared: zeros (both but the generation word)
    const before = target.shared ? Buffer.from(mem.read(0, NULL_PAGE_END)) : ZERO_PAGE;
    try {
      outcomes.push(outcome(() => runner.run(p)));
    } catch (e) {
      problems.push(`escape: an unverified run ${where} threw ${String(e)}\n${listing()}`);
      break;
    }
    runs++;
    const page = Buffer.from(mem.memory.buffer, 0, NULL_PAGE_END);
    const genNow = mem.view.getUint32(RUN_GEN_ADDR, true);
    // (the epoch is the maps' to move)
    if (target.shared) page.copy(before, EPOCH_ADDR, EPOCH_ADDR, EPOCH_ADDR + 4);
    if (page.compare(before, 0, RUN_GEN_ADDR, 0, RUN_GEN_ADDR) !== 0 || page.compare(before, RUN_GEN_ADDR + 4, NULL_PAGE_END, RUN_GEN_ADDR + 4, NULL_PAGE_END) !== 0) {
      problems.push(`escape: an unverified run ${where} wrote the null page\n${listing()}`);
      break;
    }
    if (target.shared && mem.view.getUint32(lane.runWord, true) !== 0) {
      problems.push(`escape: lane ${lane.index}'s run word is ${mem.view.getUint32(lane.runWord, true)} after an unverified run ${where}, not 0 (idle)\n${listing()}`);
      break;
    }
    const expect = (gen + hashMaps) >>> 0;
    if (genNow !== expect) {
      problems.push(`escape: the run generation went from ${gen} to ${genNow} in an unverified run ${where} (expected +${expect - gen})\n${listing()}`);
      break;
    }
    const bad = headers.findIndex((a, i) => Buffer.compare(mem.u8.subarray(a, a + MAP_HDR_SIZE), headerBytes[i]!) !== 0);
    if (bad >= 0) {
      problems.push(`escape: an unverified run ${where} changed the header of map ${bad}\n${listing()}`);
      break;
    }
  }
  try {
    const maps = dumpMaps(sys, allFds);
    const n = fds.length;
    if (maps[n] !== `0=${'00'.repeat(8)}1111${'00'.repeat(6)},1=${'00'.repeat(16)}` || maps[n + 1] !== `1=${'00'.repeat(8)}05${'00'.repeat(7)},7=${'00'.repeat(8)}2222${'00'.repeat(6)}`) {
      problems.push(`escape: an unverified run ${where} changed maps it does not reference: ${maps.slice(n).join(' ')}\n${listing()}`);
    }
    for (const e of ['interpreter', 'jit', 'jit-hardened'] as const) {
      const r = testRun(sys, probe, new Uint8Array(20), 1, e).retval;
      if (r !== PROBE_RESULT) problems.push(`escape: after the unverified runs ${where} the probe gives ${r} on the ${e}\n${listing()}`);
    }
  } catch (e) {
    problems.push(`escape: after the unverified runs ${where} the runtime fails: ${String(e)}\n${listing()}`);
  }
  return { runs, outcomes, problems };
}

/**
 * Issue 13's findings as fuzz-corpus programs (map[fd:N] = FUZZ_MAPS[N]):
 * what the verifier must say, and for the accepted ones what examine()
 * checks; every one also runs unverified through containment().
 */
export const FINDINGS: readonly { name: string; insns: Instruction[]; accepted: boolean }[] = [
  {
    // finding 1: 3.19 folded `if r1 == -1` after a 32-bit mov as taken
    name: '(u32) r1 = (u32) -1; if r1 == -1',
    insns: [BPF_MOV32_IMM(1, -1), BPF_JMP_IMM(BPF_JEQ, 1, -1, 2), BPF_MOV64_IMM(0, 0x1234), BPF_EXIT_INSN(), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()],
    accepted: true,
  },
  {
    // finding 1, with the map header dereference behind the unexplored path
    name: '(u32) r1 = (u32) -1; if r1 == -1, a map header write behind it',
    insns: [
      BPF_MOV32_IMM(1, -1), BPF_JMP_IMM(BPF_JEQ, 1, -1, 4), BPF_LD_MAP_FD(1, 0), BPF_ST_MEM(BPF_DW, 1, 0, 0x41), BPF_EXIT_INSN(),
      BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
    ],
    accepted: false,
  },
  {
    // finding 3: r10 moved into the null page, then a local call
    name: 'r10 = 1024 and a local call writing the run generation word',
    insns: [
      BPF_MOV64_IMM(10, 1024), BPF_CALL_REL(2), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
      BPF_LD_IMM64(1, RUN_GEN_ADDR), BPF_ST_MEM(BPF_W, 1, 0, 0x41414141), BPF_ST_MEM(BPF_DW, 10, -8, 0x41), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
    ],
    accepted: false,
  },
  {
    // finding 6: an atomic fetch into r10
    name: 'r10 = atomic64_fetch_add((u64 *)(r1 -8), r10)',
    insns: [BPF_MOV64_REG(1, 10), BPF_ST_MEM(BPF_DW, 10, -8, 0), BPF_ATOMIC_OP(BPF_DW, BPF_ADD | 1, 1, 10, -8), BPF_ST_MEM(BPF_DW, 10, -8, 1), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()],
    accepted: false,
  },
  {
    // finding 6: LD_ABS of size DW, which no engine runs
    name: 'LD_ABS DW',
    insns: [BPF_MOV64_REG(6, 1), BPF_RAW_INSN(0x38, 0, 0, 0, 0), BPF_EXIT_INSN()],
    accepted: false,
  },
];

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--target')) {
  // `--target modern-runtime`: the modern runtime's containment fuzzer (modern-runtime.ts), same --seconds and --seed
  const target = process.argv[process.argv.indexOf('--target') + 1];
  if (target !== 'modern-runtime') throw new Error(`unknown --target ${target} (modern-runtime)`);
  process.exitCode = modernMain(process.argv);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const seconds = arg('--seconds', 30);
  const seed = arg('--seed', Date.now() % 0xffffffff);
  const p = process.argv.indexOf('--profile');
  const profile = p > 0 ? process.argv[p + 1] : '3.19';
  if (profile !== '3.19' && profile !== 'modern') throw new Error(`--profile 3.19|modern, got ${profile}`);
  // modern.ts imports this file: loaded here, once this module has finished evaluating
  const chosen = profile === 'modern' ? (await import('./modern.js')).modernTarget({ packets: process.argv.includes('--packets'), tc: process.argv.includes('--tc'), globals: process.argv.includes('--globals'), joins: true }) : TARGET_319;
  const target = process.argv.includes('--shared') ? sharedTarget(chosen) : chosen;
  // --last FILE: each program's number and slots (hex) written there before it is tried, so a run
  // stopped from outside (a verifier that never returns) leaves the culprit behind
  const last = process.argv.indexOf('--last');
  const lastFile = last > 0 ? process.argv[last + 1] : undefined;
  const { writeFileSync } = await import('node:fs');
  const r = fuzz(seed, Infinity, Date.now() + seconds * 1000, target, lastFile === undefined ? undefined : (n, insns) => {
    writeFileSync(lastFile, `${n} ${Buffer.from(encode(insns)).toString('hex')}\n`);
  });
  process.stdout.write(
    `${target.name} profile, seed ${seed}: ${r.generated} programs, ${r.accepted} accepted (${r.addressDependent} address-dependent), ` +
      `${r.unverified} run unverified (${r.unverifiedRuns} runs checked, ${r.hardenedRuns} on the hardened JIT), ${r.problems.length} problems\n`,
  );
  for (const p of r.problems.slice(0, 5)) process.stdout.write(`\n${p}\n`);
  process.exitCode = r.problems.length === 0 ? 0 : 1;
}
