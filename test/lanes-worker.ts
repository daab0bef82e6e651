/**
 * The worker side of test/lanes.test.ts: a thread attached to a shared
 * runtime (Runtime.workerAttach) that builds one engine over a program and
 * runs it `runs` times once the main thread says go, then reports the r0
 * values it saw that were not the one expected (at most a few), and how
 * many. Not a test file itself (no .test in its name): the test starts it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assemble, toSlots } from '../src/isa/index.js';
import { BpfSystem } from '../src/api/bpf.js';
import type { RuntimeAttach } from '../src/runtime/runtime.js';
import type { Engine, RunInput } from '../src/runtime/engine.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';
import { attachMap } from '../src/maps/types.js';
import type { BpfMapImpl, SharedMapState } from '../src/maps/map.js';

/** What the test posts to a worker. */
export interface LaneJob {
  attach: RuntimeAttach;
  engine: 'fast' | 'checked' | 'jit' | 'hardened';
  source: string;
  runs: number;
  /** r1 and the region the run may touch (the shared buffer) */
  r1: number;
  regionEnd: number;
  /** r2 of every run (a per-worker seed) */
  r2: number;
  /** the r0 every run must return (undefined: any) */
  expect?: string;
  /** a word of the shared memory: the workers start when it is 1 */
  go: number;
  /** maps of the main thread's system the program uses (their shareState), attached here */
  maps?: SharedMapState[];
}

/** What a worker posts back when its runs are done (or failed). */
export interface LaneReport {
  bad: number;
  samples: string[];
  error?: string;
  lane: number;
  cpu: number;
}

function engineFor(job: LaneJob, sys: BpfSystem, maps: BpfMapImpl[]): Engine {
  const rt = sys.runtime;
  const slots = toSlots(assemble(job.source));
  const o = { helpers: rt.helpers, maps };
  switch (job.engine) {
    case 'fast': return new Interpreter(rt.mem, slots, { ...o, checked: false });
    case 'checked': return new Interpreter(rt.mem, slots, { ...o, checked: true, regions: rt.regions });
    case 'jit': return new JitProgram(rt.mem, slots, o);
    case 'hardened': return new JitProgram(rt.mem, slots, { ...o, hardened: { batchContext: { size: 8, writable: true } } });
  }
}

const job = workerData as LaneJob;
const sys = new BpfSystem({ attach: job.attach });
const report: LaneReport = { bad: 0, samples: [], lane: sys.runtime.lane.index, cpu: sys.runtime.cpu };
try {
  // the maps as this thread's objects, their storage a region the checked interpreter allows (as BPF_MAP_CREATE registers it)
  const maps = (job.maps ?? []).map((state) => attachMap(sys.runtime.mem, state, sys.mapEnv));
  for (const m of maps) sys.runtime.addRegion(m.region);
  const e = engineFor(job, sys, maps);
  const input: RunInput = { r1: job.r1, r2: job.r2, regions: [{ start: job.r1, end: job.regionEnd, writable: true, name: 'shared buffer' }] };
  const words = sys.runtime.mem.i32;
  parentPort!.postMessage('ready');
  // both workers start together, so that their runs overlap
  while (Atomics.load(words, job.go >> 2) === 0) Atomics.wait(words, job.go >> 2, 0, 100);
  for (let i = 0; i < job.runs; i++) {
    e.exec(input);
    if (job.expect === undefined) continue;
    const r0 = ((BigInt(e.retHi >>> 0) << 32n) | BigInt(e.retLo >>> 0)).toString();
    if (r0 !== job.expect) {
      report.bad++;
      if (report.samples.length < 4) report.samples.push(`run ${i}: r0 ${r0}`);
    }
  }
} catch (err) {
  report.error = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
}
parentPort!.postMessage(report);
