/**
 * Program: the idiomatic wrapper of BPF_PROG_LOAD and running a loaded
 * program, like cilium/ebpf's Program. `Program.load` takes instructions
 * (logical instructions, raw bytes, or assembly text), the program type and
 * license; `run(data)` returns r0.
 *
 * A Program holds its own reference to the loaded program, apart from its
 * fd: closing the fd through BpfSystem.close (or the fd's number being
 * reused) does not end or redirect it. After close() every call is EBADF.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { assemble } from '../isa/asm.js';
import { progTypeByName } from '../progs/types.js';
import type { ProgTypeName } from '../progs/types.js';
import type { EngineName } from '../runtime/engine.js';
import type { BpfSystem, TestRunResult } from './bpf.js';
import { BPF_CMD, testRunObject } from './bpf.js';
import type { ProgObject } from './objects.js';
import { describe } from './describe.js';
import { named } from './map.js';

export interface ProgramSpec {
  type?: ProgTypeName;
  /** logical instructions, raw 8-byte slots, or assembly text */
  insns: readonly Instruction[] | Uint8Array | string;
  license?: string;
  /** 0 (default) no log; 1 the verifier log */
  logLevel?: number;
  logSize?: number;
  /** false: load without the verifier and run in the checked interpreter (see BpfSystem.loadUnverified) */
  verify?: boolean;
}

export class Program {
  private obj: ProgObject | undefined;
  /** the verifier log of the load ('' when logLevel was 0) */
  readonly log: string;

  private constructor(readonly sys: BpfSystem, readonly fd: number, obj: ProgObject) {
    sys.hold(obj);
    this.obj = obj;
    this.log = obj.prog.log;
  }

  static load(sys: BpfSystem, spec: ProgramSpec): Program {
    if (typeof spec !== 'object' || spec === null) throw new BpfError('EINVAL', `a program spec must be an object { type, insns, license }, got ${describe(spec)}`);
    const type = spec.type ?? 'socket_filter';
    const progType = progTypeByName(type, named(type)).id;
    const insns = typeof spec.insns === 'string' ? assemble(spec.insns) : spec.insns;
    const logLevel = spec.logLevel ?? 0;
    const logSize = logLevel ? spec.logSize ?? 1 << 20 : 0;
    const logBuf = logLevel && Number.isSafeInteger(logSize) && logSize >= 0 && logSize <= 0xffffff ? new Uint8Array(logSize) : null;
    const attr = { prog_type: progType, insns, license: spec.license ?? 'GPL', log_level: logLevel, log_size: logSize, log_buf: logBuf };
    const fd = spec.verify === false ? sys.loadUnverified(attr) : sys.bpf(BPF_CMD.BPF_PROG_LOAD, attr);
    return new Program(sys, fd, sys.progOf(fd));
  }

  /** The loaded program this wrapper holds; EBADF once closed. */
  get object(): ProgObject {
    if (!this.obj) throw new BpfError('EBADF', `program fd ${this.fd} is closed`);
    return this.obj;
  }

  /** Whether the verifier proved this program safe (false when loaded with verify: false). */
  get verified(): boolean {
    return this.object.prog.verified;
  }

  /** Run once over `data` (the packet of a socket filter, the context of unspec); r0 at exit. */
  run(data: Uint8Array = new Uint8Array(0)): bigint {
    return this.testRun(data, 1).retval;
  }

  /** Run `repeat` times; the JIT by default where the program has one, or the engine asked for. */
  testRun(data: Uint8Array = new Uint8Array(0), repeat = 1, engine?: EngineName): TestRunResult {
    return testRunObject(this.sys, this.object, data, repeat, engine);
  }

  /** Close the fd (if it still names this program) and drop the wrapper's reference. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.obj = undefined;
    this.sys.closeFdOf(this.fd, obj);
    this.sys.release(obj);
  }
}
