/**
 * Program: the idiomatic wrapper of BPF_PROG_LOAD and running a loaded
 * program, like cilium/ebpf's Program. `Program.load` takes instructions in
 * every form the CLI reads (logical instructions, raw slot bytes, an ELF
 * object, assembly text, a JSON program spec, classic BPF: see
 * program-input.ts), the program type and license; `run(data)` returns r0.
 *
 * A Program holds its own reference to the loaded program, apart from its
 * fd: closing the fd through BpfSystem.close (or the fd's number being
 * reused) does not end or redirect it. After close() every call is EBADF.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { progTypeByName } from '../progs/types.js';
import type { ProgTypeName } from '../progs/types.js';
import type { EngineName } from '../runtime/engine.js';
import type { BpfSystem, TestRunResult } from './bpf.js';
import { BPF_CMD, testRunObject } from './bpf.js';
import type { ProgObject } from './objects.js';
import { describe } from './describe.js';
import { named } from './map.js';
import type { BpfMap } from './map.js';
import { resolveSource } from './program-input.js';

export interface ProgramSpec {
  /** the program type; by default the input's own (an object's section, a JSON spec's prog_type), else socket_filter */
  type?: ProgTypeName;
  /**
   * Logical instructions; a Uint8Array of raw 8-byte slots, of an ELF object
   * (clang -target bpf), or of classic `struct sock_filter`s with `classic`;
   * or text: assembly, a JSON program spec, tcpdump -dd / -ddd output. Junk
   * instructions are the verifier's to refuse, with 3.19's message and log.
   */
  insns: readonly Instruction[] | Uint8Array | string;
  /** Uint8Array `insns` are classic BPF (struct sock_filter), converted to eBPF as the kernel does */
  classic?: boolean;
  /** for an ELF object with several programs: the section or function name of the one to load */
  section?: string;
  /** by default the input's own (an object's license section, a JSON spec's license), else GPL */
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
  /**
   * The maps created for the input by load (an object's or a JSON spec's), by
   * name; empty for instructions that refer to maps by fd. The Program owns
   * them: close() closes them.
   */
  readonly maps: Readonly<Record<string, BpfMap>> = Object.create(null) as Record<string, BpfMap>;

  private constructor(readonly sys: BpfSystem, readonly fd: number, obj: ProgObject) {
    sys.hold(obj);
    this.obj = obj;
    this.log = obj.prog.log;
  }

  static load(sys: BpfSystem, spec: ProgramSpec): Program {
    if (typeof spec !== 'object' || spec === null) throw new BpfError('EINVAL', `a program spec must be an object { type, insns, license }, got ${describe(spec)}`);
    const source = resolveSource(sys, spec);
    try {
      const program = Program.loadResolved(sys, spec, source.insns, source.type, source.license);
      (program as { maps: Record<string, BpfMap> }).maps = source.maps;
      return program;
    } catch (e) {
      for (const m of Object.values(source.maps)) m.close();
      throw e;
    }
  }

  private static loadResolved(sys: BpfSystem, spec: ProgramSpec, insns: readonly Instruction[] | Uint8Array, inputType: ProgTypeName | undefined, inputLicense: string | undefined): Program {
    const type = spec.type ?? inputType ?? 'socket_filter';
    const progType = progTypeByName(type, named(type)).id;
    const logLevel = spec.logLevel ?? 0;
    const logSize = logLevel ? spec.logSize ?? 1 << 20 : 0;
    const logBuf = logLevel && Number.isSafeInteger(logSize) && logSize >= 0 && logSize <= 0xffffff ? new Uint8Array(logSize) : null;
    const attr = { prog_type: progType, insns, license: spec.license ?? inputLicense ?? 'GPL', log_level: logLevel, log_size: logSize, log_buf: logBuf };
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
    for (const m of Object.values(this.maps)) m.close();
  }
}
