/**
 * The start-up bench (issue 21): for each 1000-instruction workload, the
 * JIT's compile cost per instruction (cold: the module cache emptied first;
 * and a cache hit, the same program compiled again in a fresh runtime), the
 * verifier's time, and the time from BPF_PROG_LOAD to the first verdict
 * with the JIT compiled during the load (eager) and tiered (the first run
 * on the interpreter, the JIT compiling in the background). Measured in
 * this process after a warm-up, so that what is timed is the cost of one
 * more program, not V8 compiling tsbpf itself; medians of several loads,
 * as the machine's load makes single figures drift.
 */

import { cpus } from 'node:os';
import { BpfSystem } from '../api/bpf.js';
import { MemProgram } from '../api/mem-program.js';
import { toSlots } from '../isa/instruction.js';
import { JitProgram, moduleCache } from '../jit/program.js';
import { Runtime } from '../runtime/runtime.js';
import type { Workload } from './workloads.js';
import { workloads } from './workloads.js';

export interface StartupRow {
  workload: string;
  insns: number;
  /** JitProgram construction (emitter, WebAssembly compile, instantiation), µs per instruction, module cache empty */
  compileUsPerInsn: number;
  /** the same with the module in the cache */
  cachedUsPerInsn: number;
  /** BPF_PROG_LOAD without the JIT, ms */
  verifyMs: number;
  /** load (JIT compiled during it) to the first verdict, ms */
  eagerFirstVerdictMs: number;
  /** tiered load to the first verdict (on the interpreter), ms */
  tieredFirstVerdictMs: number;
}

export interface StartupSection {
  cpu: string;
  rows: StartupRow[];
}

const LOADS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** ms of `f`, the median of LOADS calls, each over a fresh `setup()` made untimed (a runtime's memory takes longer to make than a load) */
function timeMedian<T>(setup: () => T, f: (t: T) => void, cold: boolean): number {
  // all made first: making a runtime's memory between timed loads put its garbage collection inside them
  const made = Array.from({ length: LOADS }, setup);
  const ts: number[] = [];
  for (const t of made) {
    // cold: each call compiles (the same program's module would otherwise be a cache hit)
    if (cold) moduleCache.clear();
    const t0 = performance.now();
    f(t);
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** A system for one load: JIT or not, tiered or not. */
function system(opts: { jit: boolean; tiered: boolean }): BpfSystem {
  const sys = new BpfSystem();
  sys.jitEnabled = opts.jit;
  sys.jitTiering = opts.tiered;
  return sys;
}

/** Load `w` as a mem program and run it once; the verdict must be `r0`. */
function loadAndRun(sys: BpfSystem, w: Workload, r0?: bigint): bigint {
  const p = MemProgram.load(sys, { insns: w.insns, size: w.input.length });
  const got = p.run(w.input);
  p.close();
  if (r0 !== undefined && got !== r0) throw new Error(`${w.name}: r0 0x${got.toString(16)}, expected 0x${r0.toString(16)}`);
  return got;
}

export function runStartupBench(cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'): StartupSection {
  // the 1000-instruction workloads (the packet parser is 150 instructions, and its unaligned reads are the verifier's to refuse)
  const rows = workloads().filter((w) => toSlots(w.insns).length >= 1000).map((w): StartupRow => {
    const slots = toSlots(w.insns);
    const compile = (rt: Runtime): void => {
      new JitProgram(rt.mem, slots, { helpers: rt.helpers }).free();
    };
    const eager = { jit: true, tiered: false };
    const tiered = { jit: true, tiered: true };
    const r0 = loadAndRun(system({ jit: false, tiered: false }), w);
    // warm-up: V8 compiles the verifier, the emitter and the interpreter once per process
    for (let i = 0; i < 3; i++) {
      moduleCache.clear();
      compile(new Runtime());
      moduleCache.clear();
      loadAndRun(system(eager), w, r0);
      loadAndRun(system(tiered), w, r0);
    }
    const cold = timeMedian(() => new Runtime(), compile, true);
    compile(new Runtime());
    const cached = timeMedian(() => new Runtime(), compile, false);
    return {
      workload: w.name,
      insns: slots.length,
      compileUsPerInsn: (cold * 1000) / slots.length,
      cachedUsPerInsn: (cached * 1000) / slots.length,
      verifyMs: timeMedian(() => system({ jit: false, tiered: false }), (sys) => loadAndRun(sys, w, r0), true),
      eagerFirstVerdictMs: timeMedian(() => system(eager), (sys) => loadAndRun(sys, w, r0), true),
      tieredFirstVerdictMs: timeMedian(() => system(tiered), (sys) => loadAndRun(sys, w, r0), true),
    };
  });
  return { cpu, rows };
}

const f = (x: number, d = 2): string => x.toFixed(d);

export function formatStartup(s: StartupSection): string {
  const lines = [
    `\nstart-up (${s.cpu}; medians of ${LOADS} loads in one warm process; verify = BPF_PROG_LOAD without the JIT, included in both first-verdict columns)`,
    `${'workload'.padEnd(9)}${'insns'.padStart(6)}${'compile µs/insn'.padStart(17)}${'cached'.padStart(8)}${'verify ms'.padStart(11)}${'first verdict ms: eager'.padStart(25)}${'tiered'.padStart(8)}${'eager/tiered'.padStart(14)}`,
  ];
  for (const r of s.rows) {
    lines.push(`${r.workload.padEnd(9)}${String(r.insns).padStart(6)}${f(r.compileUsPerInsn).padStart(17)}${f(r.cachedUsPerInsn).padStart(8)}${f(r.verifyMs).padStart(11)}${f(r.eagerFirstVerdictMs).padStart(25)}${f(r.tieredFirstVerdictMs).padStart(8)}${f(r.eagerFirstVerdictMs / r.tieredFirstVerdictMs, 1).padStart(14)}`);
  }
  lines.push('(no uBPF or native compile-time baseline in this bench: the ratios are tsbpf eager against tsbpf tiered)');
  return lines.join('\n') + '\n';
}
