/**
 * The worker side of maps-shared.test.ts's program runs: a thread attached
 * to a shared system (Runtime.workerAttach) that attaches one shared hash
 * map (BpfSystem.attachMap) and runs a counting program on it `runs` times
 * with one engine: the key's value is looked up (the JIT inlines it), added
 * to atomically, or created with BPF_NOEXIST (and, when another thread
 * created it first, looked up again). A run returning 1 found its key
 * neither by update nor by lookup: `bad` counts them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assemble, toSlots } from '../src/isa/index.js';
import { BpfSystem } from '../src/api/bpf.js';
import type { RuntimeAttach } from '../src/runtime/runtime.js';
import type { SharedMapState } from '../src/maps/map.js';
import type { Engine } from '../src/runtime/engine.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';

export interface ProgJob {
  attach: RuntimeAttach;
  state: SharedMapState;
  engine: 'fast' | 'jit';
  runs: number;
  /** run i counts key offset + (i * 7 + first) % keys */
  keys: number;
  first: number;
  offset?: number;
}

export interface ProgReport {
  bad: number;
  error?: string;
}

/** r2: the key. */
export const COUNTER = (map: number): string => `
  stxw [%r10-4], %r2
  mov %r2, %r10
  add %r2, -4
  lddw %r1, ${map}
  call 1
  jne %r0, 0, found
  stdw [%r10-16], 1
  mov %r2, %r10
  add %r2, -4
  mov %r3, %r10
  add %r3, -16
  lddw %r1, ${map}
  mov %r4, 1
  call 2
  jeq %r0, 0, done
  mov %r2, %r10
  add %r2, -4
  lddw %r1, ${map}
  call 1
  jeq %r0, 0, bad
found:
  mov %r1, 1
  lock add [%r0+0], %r1
done:
  mov %r0, 0
  exit
bad:
  mov %r0, 1
  exit`;

const job = workerData as ProgJob;
const report: ProgReport = { bad: 0 };
try {
  const sys = new BpfSystem({ attach: job.attach });
  const rt = sys.runtime;
  const map = sys.mapOf(sys.attachMap(job.state)).impl;
  const slots = toSlots(assemble(COUNTER(map.addr)));
  const e: Engine = job.engine === 'jit' ? new JitProgram(rt.mem, slots, { helpers: rt.helpers, maps: [map] }) : new Interpreter(rt.mem, slots, { helpers: rt.helpers, checked: false });
  for (let i = 0; i < job.runs; i++) {
    e.exec({ r1: 0, r2: (job.offset ?? 0) + ((i * 7 + job.first) % job.keys) });
    if (e.retLo !== 0) report.bad++;
  }
} catch (err) {
  report.error = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
}
parentPort!.postMessage(report);
