/**
 * The start-up bench (issue 21): for each 1000-instruction workload, the
 * JIT's compile cost per instruction (cold: the module cache emptied first;
 * and a cache hit, the same program compiled again in a fresh runtime), the
 * verifier's time, and the time from BPF_PROG_LOAD to the first verdict
 * with the JIT compiled during the load (eager) and tiered (the first run
 * on the interpreter, the JIT compiling in the background). Measured in
 * this process after a warm-up, so that what is timed is the cost of one
 * more program, not V8 compiling tsbpf itself: each mode loads into one
 * system, program after program (load, first run, close), as a process
 * that loads programs into its runtime does. The program is given as its
 * bytes, as bpf(2), the ELF loader and the CLI give it. Medians of
 * several loads, as the machine's load makes single figures drift, and
 * the 90th percentile beside them, where the garbage collector's pauses
 * show. Each workload is measured in a process of its own.
 */

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BpfSystem } from '../api/bpf.js';
import { MemProgram } from '../api/mem-program.js';
import { encode, toSlots } from '../isa/instruction.js';
import { JitProgram, moduleCache } from '../jit/program.js';
import { Runtime } from '../runtime/runtime.js';
import { KernelVerifier } from './kernel-verify.js';
import { median, percentile } from './timing.js';
import type { Workload } from './workloads.js';
import { workloads } from './workloads.js';

export interface StartupRow {
  workload: string;
  insns: number;
  /** JitProgram construction (emitter, WebAssembly compile, instantiation), µs per instruction, module cache empty */
  compileUsPerInsn: number;
  /** the same with the module in the cache */
  cachedUsPerInsn: number;
  /** BPF_PROG_LOAD without the JIT and the first run, ms */
  verifyMs: number;
  /** load (JIT compiled during it) to the first verdict, ms */
  eagerFirstVerdictMs: number;
  /** tiered load to the first verdict (on the interpreter), ms */
  tieredFirstVerdictMs: number;
  /** the same, 90th percentile */
  tieredP90Ms: number;
  /** the host kernel's BPF_PROG_LOAD of the workload's XDP form (verifier and JIT), wall time of bpf(2), best of LOADS; undefined without bpf(2) */
  kernelLoadMs?: number;
}

export interface StartupSection {
  cpu: string;
  rows: StartupRow[];
  /** why there is no kernel column, when there is none */
  noKernel?: string;
}

const LOADS = 31;
/** BPF_PROG_TYPE_XDP: the kernel loads each workload's XDP form (workloads.ts) */
const XDP = 6;


/**
 * ms of each of LOADS calls of `f` on `t`. Cold: the module cache emptied
 * before each call, so that each compiles (the same program's module would
 * otherwise be a cache hit). One system for every call: making a runtime's
 * memory per load put that memory's garbage collection inside the timed
 * loads, a cost a process loading its programs into one runtime does not
 * pay.
 */
function timeLoads<T>(t: T, f: (t: T) => void, cold: boolean): number[] {
  const ts: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    if (cold) moduleCache.clear();
    const t0 = performance.now();
    f(t);
    ts.push(performance.now() - t0);
  }
  return ts;
}

/** A system for loads: JIT or not, tiered or not. */
function system(opts: { jit: boolean; tiered: boolean }): BpfSystem {
  const sys = new BpfSystem();
  sys.jitEnabled = opts.jit;
  sys.jitTiering = opts.tiered;
  return sys;
}

/** Load `w` (its bytes) as a mem program, run it once and close it; the verdict must be `r0`. */
function loadAndRun(sys: BpfSystem, w: Workload, bytes: Uint8Array, r0?: bigint): bigint {
  const p = MemProgram.load(sys, { insns: bytes, size: w.input.length });
  const got = p.run(w.input);
  p.close();
  if (r0 !== undefined && got !== r0) throw new Error(`${w.name}: r0 0x${got.toString(16)}, expected 0x${r0.toString(16)}`);
  return got;
}

/**
 * One workload's row but the kernel's column, measured in this process:
 * the warm-up, then the tiered and plain loads, then the JIT's series (their
 * compiled modules are the garbage that makes the collector's pauses long,
 * so they come after the loads the issue's target is about).
 */
function measureRow(w: Workload): StartupRow {
  const slots = toSlots(w.insns);
  const bytes = encode(w.insns);
  const compile = (rt: Runtime): void => {
    new JitProgram(rt.mem, slots, { helpers: rt.helpers }).free();
  };
  const plain = system({ jit: false, tiered: false });
  const eager = system({ jit: true, tiered: false });
  const tiered = system({ jit: true, tiered: true });
  const r0 = loadAndRun(plain, w, bytes);
  const rt = new Runtime();
  // warm-up: V8 compiles the verifier, the emitter and the interpreter once per process
  for (let i = 0; i < 5; i++) {
    moduleCache.clear();
    compile(rt);
    moduleCache.clear();
    loadAndRun(plain, w, bytes, r0);
    loadAndRun(eager, w, bytes, r0);
    loadAndRun(tiered, w, bytes, r0);
  }
  const tieredTimes = timeLoads(tiered, (sys) => loadAndRun(sys, w, bytes, r0), true);
  const verifyMs = median(timeLoads(plain, (sys) => loadAndRun(sys, w, bytes, r0), true));
  const cold = median(timeLoads(rt, compile, true));
  compile(rt);
  const cached = median(timeLoads(rt, compile, false));
  return {
    workload: w.name,
    insns: slots.length,
    compileUsPerInsn: (cold * 1000) / slots.length,
    cachedUsPerInsn: (cached * 1000) / slots.length,
    verifyMs,
    eagerFirstVerdictMs: median(timeLoads(eager, (sys) => loadAndRun(sys, w, bytes, r0), true)),
    tieredFirstVerdictMs: median(tieredTimes),
    tieredP90Ms: percentile(tieredTimes, 0.9),
  };
}

/**
 * Each workload's row in a process of its own (this file run with
 * --startup-row NAME), so that no row pays for the garbage of the bench's
 * set-up or of the row before it; the kernel's column from here.
 */
export function runStartupBench(cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'): StartupSection {
  const kv = KernelVerifier.build();
  // the 1000-instruction workloads (the packet parser is 150 instructions, and its unaligned reads are the verifier's to refuse)
  const rows = workloads().filter((w) => toSlots(w.insns).length >= 1000).map((w): StartupRow => {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--startup-row', w.name], { encoding: 'utf8' });
    const row = JSON.parse(out) as StartupRow;
    return {
      ...row,
      ...(kv instanceof KernelVerifier ? { kernelLoadMs: kv.load([], [{ progType: XDP, logLevel: 0, repeat: LOADS, insns: encode(w.kernel) }])[0]!.loadNs / 1e6 } : {}),
    };
  });
  if (kv instanceof KernelVerifier) kv.close();
  return { cpu, rows, ...(kv instanceof KernelVerifier ? {} : { noKernel: kv.why }) };
}

const f = (x: number, d = 2): string => x.toFixed(d);

export function formatStartup(s: StartupSection): string {
  const lines = [
    `\nstart-up (${s.cpu}; medians of ${LOADS} loads into one system in a warm process, p90 = 90th percentile; verify = BPF_PROG_LOAD without the JIT and the first run on the interpreter; kernel = the host's bpf(2) BPF_PROG_LOAD of the same program as XDP, verifier and JIT, best of ${LOADS})`,
    `${'workload'.padEnd(9)}${'insns'.padStart(6)}${'compile µs/insn'.padStart(17)}${'cached'.padStart(8)}${'verify ms'.padStart(11)}${'first verdict ms: eager'.padStart(25)}${'tiered'.padStart(8)}${'p90'.padStart(7)}${'kernel load ms'.padStart(16)}${'tiered/kernel'.padStart(15)}`,
  ];
  for (const r of s.rows) {
    const k = r.kernelLoadMs;
    lines.push(`${r.workload.padEnd(9)}${String(r.insns).padStart(6)}${f(r.compileUsPerInsn).padStart(17)}${f(r.cachedUsPerInsn).padStart(8)}${f(r.verifyMs).padStart(11)}${f(r.eagerFirstVerdictMs).padStart(25)}${f(r.tieredFirstVerdictMs).padStart(8)}${f(r.tieredP90Ms).padStart(7)}${(k === undefined ? '-' : f(k, 3)).padStart(16)}${(k === undefined ? '-' : `${f(r.tieredFirstVerdictMs / k)}x`).padStart(15)}`);
  }
  if (s.noKernel) lines.push(`(no kernel column: ${s.noKernel})`);
  return lines.join('\n') + '\n';
}

// Child mode: `startup.js --startup-row WORKLOAD` prints that workload's row (without the kernel's column) as JSON.
if (process.argv[2] === '--startup-row' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const w = workloads().find((x) => x.name === process.argv[3]);
  if (!w) throw new Error(`unknown workload ${process.argv[3]}`);
  process.stdout.write(JSON.stringify(measureRow(w)) + '\n');
}
