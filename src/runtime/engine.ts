/**
 * The engine contract: what one run of a program takes (RunInput) and gives
 * (RunResult), and the Engine interface the interpreter (vm/), the JIT and
 * the hardened JIT (jit/) implement. It sits below the engines so that
 * program types, the API and the tests speak of a run without importing
 * any engine, and so an engine added later plugs in behind the same
 * interface (docs/ARCHITECTURE.md, "Adding an engine").
 *
 * It owns no behaviour: how a run executes is each engine's business; which
 * engine runs a loaded program is the API's (api/bpf.ts, engineOf).
 */

import type { Region } from '../memory/address-space.js';

/** Input of one run. Registers not given start at 0. */
export interface RunInput {
  r1?: number | bigint;
  r2?: number | bigint;
  /** the packet LD_ABS / LD_IND read */
  packet?: { addr: number; len: number; netOff?: number };
  /** regions this run may touch besides the stack (checked interpreter, hardened JIT) */
  regions?: readonly Region[];
  /**
   * The packet frame the run's helpers may move (XDP, tc: progs/frame.ts);
   * engines only hand it to the helpers (HelperEnv.run.input).
   */
  frame?: RunFrame;
}

/** What engines know of a run's packet frame: the context a frame helper must be given. */
export interface RunFrame {
  readonly ctx: number;
  readonly kind: 'xdp' | 'skb';
}

/** What a run returns: r0 and the instructions executed (-1 from the JIT, which does not count). */
export interface RunResult {
  /** r0 at exit, as an unsigned 64-bit value */
  r0: bigint;
  /** instructions executed, counted at control transfers; -1 from an engine that does not count them (the JIT) */
  insns: number;
}

/** The engines a loaded program can run on (BPF_PROG_TEST_RUN's choice, PacketRunner's, the CLI's --engine). */
export type EngineName = 'jit' | 'interpreter' | 'jit-hardened';

/**
 * A program ready to run over the runtime's memory. Runs do not nest: a
 * helper never starts a program. A fault (a checked access outside the
 * program's regions, an exhausted budget) throws BpfError and ends the run.
 */
export interface Engine {
  readonly engineName: EngineName;
  /** r0 of the last run (or of the last run of a batch), as its low and high 32 bits */
  readonly retLo: number;
  readonly retHi: number;
  /** instructions the last run executed; -1 from an engine that does not count them */
  readonly executed: number;
  /** One run over `input`; r0 lands in retLo/retHi. The hot path: nothing is allocated. */
  exec(input?: RunInput): void;
  /**
   * One run as the target of a tail call (runtime/helpers.ts, RunState):
   * like exec, but the run's shared state (tail calls taken, its frame)
   * carries on, and a tail call it asks for is left to the caller's exec.
   */
  execTail?(input: RunInput): void;
  /** One run, its r0 as a bigint. */
  run(input?: RunInput): RunResult;
  /**
   * Present on engines that run many inputs in one call: `n` runs over the
   * batch descriptors at `desc` in the runtime's memory (the layout of
   * jit/compile.ts: BATCH_DESC bytes per run, then one u32 verdict per run).
   */
  execBatch?(desc: number, n: number): void;
  /** Give back what the engine holds in the runtime's memory. The engine is not run again. */
  free(): void;
}
