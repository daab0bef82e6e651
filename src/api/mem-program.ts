/**
 * MemProgram: a program of tsbpf's mem type (progs/mem.ts) run the way
 * uBPF and bpf_conformance run theirs, r1 = a buffer and r2 = its length,
 * verified for a buffer of a given size (the verifier bounds every access
 * by it) or loaded without the verifier into the checked interpreter. The
 * API side of `tsbpf run PROG --mem HEX`; apart from Program because its
 * load carries the buffer size (BPF_PROG_LOAD's mem_size), which
 * ProgramSpec does not.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { assemble } from '../isa/asm.js';
import { MEM_PROG_TYPE_ID } from '../progs/mem.js';
import type { EngineName } from '../runtime/engine.js';
import type { BpfSystem, TestRunResult } from './bpf.js';
import { BPF_CMD, engineOf, testRunObject } from './bpf.js';
import type { ProgObject } from './objects.js';
import { describe } from './describe.js';

export interface MemProgramSpec {
  /** logical instructions, raw 8-byte slots, or assembly text */
  insns: readonly Instruction[] | Uint8Array | string;
  /** the buffer's length: every run passes a buffer of exactly this many bytes */
  size: number;
  license?: string;
  /** 0 (default) no log; 1 or 2 the verifier log */
  logLevel?: number;
  logSize?: number;
  /** false: no verifier; the checked interpreter checks each access at run time, and r2 is readable */
  verify?: boolean;
}

/** A run's result, and the buffer as the program left it. */
export interface MemRunResult extends TestRunResult {
  memory: Uint8Array;
}

export class MemProgram {
  private obj: ProgObject | undefined;
  /** the verifier log of the load ('' when logLevel was 0) */
  readonly log: string;

  private constructor(readonly sys: BpfSystem, readonly fd: number, readonly size: number, obj: ProgObject) {
    sys.hold(obj);
    this.obj = obj;
    this.log = obj.prog.log;
  }

  static load(sys: BpfSystem, spec: MemProgramSpec): MemProgram {
    if (typeof spec !== 'object' || spec === null) throw new BpfError('EINVAL', `a mem program spec must be an object { insns, size }, got ${describe(spec)}`);
    const insns = typeof spec.insns === 'string' ? assemble(spec.insns) : spec.insns;
    const logLevel = spec.logLevel ?? 0;
    const logSize = logLevel ? spec.logSize ?? 1 << 20 : 0;
    const logBuf = logLevel && Number.isSafeInteger(logSize) && logSize >= 0 && logSize <= 0xffffff ? new Uint8Array(logSize) : null;
    const attr = { prog_type: MEM_PROG_TYPE_ID, insns, license: spec.license ?? 'GPL', log_level: logLevel, log_size: logSize, log_buf: logBuf, mem_size: spec.size };
    const fd = spec.verify === false ? sys.loadUnverified(attr) : sys.bpf(BPF_CMD.BPF_PROG_LOAD, attr);
    return new MemProgram(sys, fd, spec.size, sys.progOf(fd));
  }

  private get object(): ProgObject {
    if (!this.obj) throw new BpfError('EBADF', `program fd ${this.fd} is closed`);
    return this.obj;
  }

  /** Whether the verifier proved the program safe for its buffer size. */
  get verified(): boolean {
    return this.object.prog.verified;
  }

  /** One run over `buffer` (a copy: the program's writes land in the result's memory); r0 at exit. */
  run(buffer: Uint8Array): bigint {
    return this.runMem(buffer).retval;
  }

  /** `repeat` runs over one copy of `buffer` (each run sees the writes of the one before); the buffer after the last comes back as `memory`. */
  runMem(buffer: Uint8Array, repeat = 1, engine?: EngineName): MemRunResult {
    return runMemObject(this.sys, this.object, buffer, repeat, engine);
  }

  /** Close the fd (if it still names this program) and drop the reference. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.obj = undefined;
    this.sys.closeFdOf(this.fd, obj);
    this.sys.release(obj);
  }
}

/**
 * `repeat` runs of a loaded mem program over one copy of `buffer`. A
 * verified program goes through testRun (the JIT's batch of runs among
 * them); an unverified one may read r2, which a batch descriptor does not
 * carry, so its runs are made one by one with r2 = the length.
 */
export function runMemObject(sys: BpfSystem, obj: ProgObject, buffer: Uint8Array, repeat = 1, engine?: EngineName): MemRunResult {
  const { prog } = sys.live(obj) as ProgObject;
  if (prog.type.name !== 'mem') throw new BpfError('EINVAL', `a ${prog.type.name} program does not run over a buffer`);
  if (prog.verified || repeat === 1) {
    const r = testRunObject(sys, obj, buffer, repeat, engine);
    return { ...r, memory: r.dataOut };
  }
  if (!(buffer instanceof Uint8Array)) throw new BpfError('EINVAL', `buffer must be a Uint8Array, got ${describe(buffer)}`);
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new BpfError('EINVAL', `repeat must be a positive integer, got ${describe(repeat)}`);
  const it = engineOf(prog, engine, sys);
  const run = prog.type.prepare(sys.runtime.mem, buffer);
  const maps = prog.maps.map((m) => m.impl);
  try {
    const t0 = performance.now();
    for (let i = 0; i < repeat; i++) {
      for (const m of maps) m.enterRun();
      try {
        it.exec(run.input);
      } finally {
        for (const m of maps) m.exitRun();
      }
    }
    const elapsedMs = performance.now() - t0;
    const memory = run.snapshot();
    return { retval: (BigInt(it.retHi >>> 0) << 32n) | BigInt(it.retLo >>> 0), durationNs: (elapsedMs * 1e6) / repeat, runs: repeat, dataOut: memory, engine: it.engineName, memory };
  } finally {
    run.release();
  }
}
