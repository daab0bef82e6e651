/**
 * Tiered execution: a loaded program runs on the interpreter from its
 * first run while its JIT module compiles in the background, and on the
 * JIT from the first run after the compile resolves, as V8 tiers
 * JavaScript up. JitTier owns that one transition for one program: it
 * starts the compile (JitReservation.later: the emitter in a later task, then
 * WebAssembly.compile off the caller's path), says whether the JIT is ready
 * without ever waiting (ready), and compiles on the spot when a caller
 * insists on the JIT (force: --engine jit, a tail call from JIT code, a
 * test reading the program's JIT). Which tier runs is the API's choice
 * between runs (api/bpf.ts, engineOf); the module is the one an eager load
 * compiles, so verdicts do not depend on the tier.
 */

import { BpfError } from '../errors.js';
import type { JitProgram } from './program.js';

/** How the background compile is started: in a task after the current one (so the load returns at once). */
export type Defer = (start: () => void) => void;

const laterTask: Defer = (start) => {
  // setImmediate where it exists (Node: after pending I/O), else a timer
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') g.setImmediate(start);
  else setTimeout(start, 0);
};

export class JitTier {
  private jit: JitProgram | undefined;
  /** the JIT cannot compile this program (ENOTSUP, or the background compile failed): the interpreter runs it */
  private failed = false;
  private freed = false;
  /** resolves once the background compile has ended, with the JIT or without it (never rejects) */
  readonly settled: Promise<void>;
  /**
   * How long the compile that gave the JIT took, in ms (0 before): the
   * background one from its start to its end (the emitter on this thread,
   * WebAssembly's compile off it, the instance), or force()'s on the spot.
   */
  compileMs = 0;

  /**
   * `now` compiles synchronously, `later` in the background, both over the
   * same program and options (JitReservation's); `cancel` gives back what
   * was reserved for them when neither is to run. All three are dropped
   * at free(): they hold the program (its slots, the emitter's inputs), and
   * the deferred start holds this object until its task runs, which a
   * synchronous loop of loads and closes never lets happen (95 KB kept per
   * load of a 1000-instruction program until the loop yielded).
   */
  private now: (() => JitProgram) | undefined;
  private later: (() => Promise<JitProgram>) | undefined;
  private cancel: (() => void) | undefined;

  constructor(now: () => JitProgram, later: () => Promise<JitProgram>, cancel: () => void = () => {}, defer: Defer = laterTask) {
    this.now = now;
    this.later = later;
    this.cancel = cancel;
    this.settled = new Promise<void>((resolve) => {
      defer(() => {
        const start = this.later;
        if (this.jit !== undefined || this.failed || this.freed || start === undefined) {
          // (freed: free() gave the reservation back already)
          this.cancel?.();
          resolve();
          return;
        }
        let pending: Promise<JitProgram>;
        const t0 = performance.now();
        try {
          pending = start();
        } catch {
          this.failed = true;
          resolve();
          return;
        }
        pending.then((j) => {
          // forced meanwhile, or freed: this copy is not needed
          if (this.jit !== undefined || this.freed) j.free();
          else {
            this.jit = j;
            this.compileMs = performance.now() - t0;
          }
        }, () => {
          // (any failure leaves the program on the interpreter, which is the reference; force() reports it)
          this.failed = true;
        }).finally(resolve);
      });
    });
  }

  /** The JIT if it has compiled by now; never waits, never compiles. */
  ready(): JitProgram | undefined {
    return this.jit;
  }

  /**
   * The JIT now: compiled on the spot when the background compile has not
   * finished (it is then dropped when it does). Undefined when the JIT does
   * not compile the program (ENOTSUP); other errors are thrown.
   */
  force(): JitProgram | undefined {
    const now = this.now;
    if (this.jit !== undefined || this.freed || now === undefined) return this.jit;
    const t0 = performance.now();
    try {
      this.jit = now();
      this.compileMs = performance.now() - t0;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOTSUP') {
        this.failed = true;
        return undefined;
      }
      throw e;
    }
    this.failed = false;
    return this.jit;
  }

  /** Give back the JIT's memory; a compile still running is dropped when it ends. */
  free(): void {
    this.freed = true;
    this.jit?.free();
    this.jit = undefined;
    const cancel = this.cancel;
    this.now = this.later = this.cancel = undefined;
    cancel?.();
  }
}
