/**
 * Program: the idiomatic wrapper of BPF_PROG_LOAD and running a loaded
 * program, like cilium/ebpf's Program. `Program.load` takes instructions in
 * every form the CLI reads (logical instructions, raw slot bytes, an ELF
 * object, assembly text, a JSON program spec, classic BPF: see
 * program-input.ts), the program type and license; `run(data)` returns r0;
 * `runFrames` runs any type (XDP, tc) over many frames, thousands of runs
 * per call into the JIT; `runBatch` and `runCapture` run a socket filter
 * over many packets. A
 * rejected load throws a VerifierError whose log is never empty: when no log
 * was asked for, the load is made again with one, as cilium/ebpf does, so
 * the error explains itself.
 *
 * A Program holds its own reference to the loaded program, apart from its
 * fd: closing the fd through BpfSystem.close (or the fd's number being
 * reused) does not end or redirect it. After close() every call is EBADF.
 */

import type { FuncSpan } from '../loader/line-info.js';
import { BpfError, VerifierError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { encodeSlots, toSlots } from '../isa/instruction.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64 } from '../isa/opcodes.js';
import { progTypeByName } from '../progs/types.js';
import type { ProgTypeName } from '../progs/types.js';
import type { EngineName } from '../runtime/engine.js';
import type { SourceLine } from '../verifier/source-lines.js';
import type { BpfSystem, TestRunResult } from './bpf.js';
import { BPF_CMD, engineOf, testRunObject } from './bpf.js';
import type { ProgObject } from './objects.js';
import type { FuncInfoEntry } from '../verifier/modern/index.js';
import { describe } from './describe.js';
import { named } from './map.js';
import type { BpfMap } from './map.js';
import { resolveSource } from './program-input.js';
import { PacketRunner } from './packets.js';
import { CaptureIterator, CaptureStream, readCapture } from '../pcap/reader.js';
import { JitProgram } from '../jit/program.js';
import { batchVerdicts, inputBatchBytes, writeInputDescriptors } from '../jit/batch.js';
import type { PreparedRun } from '../progs/program-type.js';
import type { RunInput } from '../runtime/engine.js';
import type { CaptureSource, Packet } from '../pcap/reader.js';

/** What Program.load loads: the instructions, their program type and license, and how to log. */
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
  /** 0 (default) no log unless the load is rejected; 1 the verifier log, kept in Program.log */
  logLevel?: number;
  logSize?: number;
  /** false: load without the verifier and run in the checked interpreter (see BpfSystem.loadUnverified) */
  verify?: boolean;
  /**
   * true (default): tiered execution (BpfSystem.jitTiering): runs that ask
   * for no engine start on the interpreter and switch to the JIT once it has
   * compiled in the background; false: the JIT compiles during the load
   */
  tiered?: boolean;
  /**
   * The program's line records (BPF_PROG_LOAD's `line_info`), by default an
   * ELF object's own (.BTF.ext, compiled with -g). The modern profile's log
   * shows the source line above the instructions it produced, as the kernel's
   * does; the 3.19 profile's only with `source: true`, so that its log stays
   * 3.19's byte for byte by default.
   */
  lineInfo?: readonly SourceLine[];
  /** show source lines in a 3.19 profile's log too (the modern profile always shows them) */
  source?: boolean;
  /**
   * The program's functions with their linkage and prototypes
   * (BPF_PROG_LOAD's `func_info`), by default an ELF object's own (.BTF.ext
   * and BTF, compiled with -g): under the modern profile a global function is
   * then verified on its own, as the kernel does. 3.19 has no func_info.
   */
  funcInfo?: readonly FuncSpan[];
}

/** What Program.runFrames gives: each frame's verdict, the time per run, the frames after the runs. */
export interface FrameRunResult {
  /** each frame's r0 (low 32 bits) in its last run */
  verdicts: Uint32Array;
  /** mean ns per run, measured around the engine's runs only (as a test run's) */
  durationNs: number;
  /** runs made: frames x repeat */
  runs: number;
  /** each frame's bytes after its last run (a test run's data out) */
  framesOut: Uint8Array[];
  engine: EngineName;
}

/** A packet of a capture with the verdict of one run over it. */
export interface CaptureVerdict {
  packet: Packet;
  /** r0's low 32 bits: for a socket filter, the bytes to keep (0 drops the packet) */
  verdict: number;
}

/** A loaded program: run it, test-run it, close it. Made by Program.load or a Collection. */
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

  /**
   * BPF_PROG_LOAD: load and (unless `verify: false`) verify the program. A
   * rejection is a VerifierError carrying the log and the slot at fault.
   */
  static load(sys: BpfSystem, spec: ProgramSpec): Program {
    if (typeof spec !== 'object' || spec === null) throw new BpfError('EINVAL', `a program spec must be an object { type, insns, license }, got ${describe(spec)}`);
    const source = resolveSource(sys, spec);
    try {
      const program = Program.loadResolved(sys, spec, source.insns, source.type, source.license, spec.lineInfo ?? source.lineInfo, spec.funcInfo ?? source.funcInfo);
      (program as { maps: Record<string, BpfMap> }).maps = source.maps;
      return program;
    } catch (e) {
      for (const m of Object.values(source.maps)) m.close();
      throw e;
    }
  }

  private static loadResolved(
    sys: BpfSystem, spec: ProgramSpec, insns: readonly Instruction[] | Uint8Array, inputType: ProgTypeName | undefined, inputLicense: string | undefined,
    lineInfo: readonly SourceLine[] | undefined, funcInfo?: readonly FuncSpan[],
  ): Program {
    const type = spec.type ?? inputType ?? 'socket_filter';
    const progType = progTypeByName(type, named(type)).id;
    const logLevel = spec.logLevel ?? 0;
    const logSize = logLevel ? spec.logSize ?? 1 << 20 : 0;
    const logBuf = logLevel && Number.isSafeInteger(logSize) && logSize >= 0 && logSize <= 0xffffff ? new Uint8Array(logSize) : null;
    // 3.19's log has no source lines unless asked for
    const lines = lineInfo !== undefined && (spec.source === true || sys.runtime.profile.name !== '3.19') ? lineInfo : undefined;
    // func_info with prototypes (an object's BTF): the modern kernel's; 3.19 had none
    const funcs = funcInfo !== undefined && funcInfo.length > 0 && sys.runtime.profile.name !== '3.19' && funcInfo.every((f) => f.linkage !== undefined)
      ? funcInfo.map((f) => ({ insn: f.insn, name: f.name, linkage: f.linkage!, ...(f.args ? { args: f.args } : {}), ...(f.returnsScalar !== undefined ? { returnsScalar: f.returnsScalar } : {}) }))
      : undefined;
    const attr = { prog_type: progType, insns, license: spec.license ?? inputLicense ?? 'GPL', log_level: logLevel, log_size: logSize, log_buf: logBuf, line_info: lines, func_info: funcs };
    const load = (a: typeof attr): number => {
      if (spec.verify === false) return sys.loadUnverified(a);
      // this load's choice of tiering, the system's own left as it was
      const was = sys.jitTiering;
      sys.jitTiering = spec.tiered !== false;
      try {
        return sys.bpf(BPF_CMD.BPF_PROG_LOAD, a);
      } finally {
        sys.jitTiering = was;
      }
    };
    let fd: number;
    try {
      fd = load(attr);
    } catch (e) {
      throw e instanceof VerifierError && logLevel === 0 ? withLog(sys, e, (size) => load({ ...attr, log_level: 1, log_size: size, log_buf: new Uint8Array(size) })) : e;
    }
    const obj = sys.progOf(fd);
    LOADS.set(obj, loadRecord(sys, obj, attr, spec.verify !== false));
    return new Program(sys, fd, obj);
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

  /**
   * Run over many frames (each a run's data, as testRun takes it: an XDP or
   * tc program's Ethernet frame), `repeat` passes over all of them in
   * order. Each frame becomes the program's context once and keeps it for
   * its repeats, as the kernel's BPF_PROG_TEST_RUN does for its `repeat`
   * (what a run changes, the next run of the frame sees); maps carry over.
   * The JIT runs up to BATCH_RUNS runs per call into WebAssembly
   * (JitProgram.execBatch over the frames' inputs); the interpreter, the
   * hardened JIT and a program that can tail-call run one frame at a time.
   * A frame the program type refuses is its testRun's error, before any
   * run; a run that fails ends the call with its error (the maps keep what
   * the runs before it did). Every frame holds its context in memory for
   * the call: about 4 KiB for XDP, 32 KiB for tc (room to grow the frame).
   */
  runFrames(frames: readonly Uint8Array[], options: { repeat?: number; engine?: EngineName } = {}): FrameRunResult {
    return runFramesObject(this.sys, this.object, frames, options.repeat ?? 1, options.engine);
  }

  /**
   * Run a socket filter over many packets (`netOff`: where the network
   * header starts, -1 when unknown); each verdict is r0's low 32 bits. Maps
   * carry over from packet to packet. The JIT runs the batch in one call.
   */
  runBatch(packets: readonly { data: Uint8Array; netOff: number }[], engine?: EngineName): Uint32Array {
    const runner = new PacketRunner(this.sys, this, engine);
    try {
      return runner.runBatch(packets);
    } finally {
      runner.close();
    }
  }

  /**
   * Run a socket filter over every packet of a capture, yielding each packet
   * with its verdict as soon as its record has been read (a live stream gives
   * verdicts as packets arrive). The capture is bytes, a stream (see
   * CaptureSource), or a reader from parseCapture or readCapture (a file:
   * `readCaptureFile` of `tsbpf/node`). A packet's data is a view of the
   * input: copy it to keep it. Maps carry over from packet to packet.
   */
  async *runCapture(capture: CaptureSource | CaptureStream | CaptureIterator, engine?: EngineName): AsyncGenerator<CaptureVerdict, void, undefined> {
    const packets = capture instanceof CaptureStream || capture instanceof CaptureIterator ? capture : readCapture(capture);
    const runner = new PacketRunner(this.sys, this, engine);
    try {
      for await (const packet of packets) yield { packet, verdict: runner.run(packet.data, packet.netOff) };
    } finally {
      runner.close();
    }
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

/**
 * How a program was loaded, kept so that another thread can load the same
 * program again over the same maps (WorkerPool): the instructions as given
 * to BPF_PROG_LOAD, except that each map reference names the map by its
 * index in the loaded program's `maps` instead of by an fd of this system.
 */
export interface LoadRecord {
  /** raw slots; a map ld_imm64's imm is an index into LoadedProgram.maps */
  insns: Uint8Array;
  /** the slots whose imm is such an index */
  mapSlots: number[];
  progType: number;
  license: string;
  verify: boolean;
  lineInfo?: readonly SourceLine[];
  funcInfo?: readonly FuncInfoEntry[];
}

const LOADS = new WeakMap<ProgObject, LoadRecord>();

/** The record of a program loaded by Program.load (undefined for one loaded through bpf() itself). */
export function loadRecordOf(obj: ProgObject): LoadRecord | undefined {
  return LOADS.get(obj);
}

function loadRecord(
  sys: BpfSystem, obj: ProgObject,
  attr: { insns: readonly Instruction[] | Uint8Array; prog_type: number; license: string; line_info: readonly SourceLine[] | undefined; func_info: readonly FuncInfoEntry[] | undefined },
  verify: boolean,
): LoadRecord {
  // (every load pays this: a copy and one pass over the opcodes, no object per instruction)
  const insns = attr.insns instanceof Uint8Array ? attr.insns.slice(0, attr.insns.length & ~7) : encodeSlots(toSlots(attr.insns));
  const mapSlots: number[] = [];
  const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  for (let i = 0, n = insns.length >>> 3; i < n; i++) {
    if (insns[i * 8] !== LD_IMM64) continue;
    const src = insns[i * 8 + 1]! >> 4;
    if (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_VALUE) {
      // the load succeeded: the fd named one of the program's maps when it was loaded
      view.setInt32(i * 8 + 4, obj.prog.maps.indexOf(sys.mapOf(view.getInt32(i * 8 + 4, true))), true);
      mapSlots.push(i);
    }
    i++;
  }
  return {
    insns, mapSlots, progType: attr.prog_type, license: attr.license, verify,
    ...(attr.line_info ? { lineInfo: attr.line_info } : {}), ...(attr.func_info ? { funcInfo: attr.func_info } : {}),
  };
}

/** The log sizes a rejected load is retried with: 1 MiB, then 3.19's largest (16 MiB less one byte). */
const RETRY_LOG_SIZES = [1 << 20, 0xffffff];

/**
 * A rejection without a log (none was asked for) made again with one, as
 * cilium/ebpf does: the same verdict, now with the log that explains it. A
 * log that overflows both sizes is kept cut short (`truncated`), under the
 * first verdict's code and message. The verifier is deterministic, so the
 * second load is rejected too; were it not, its program is closed and the
 * first verdict stands without a log.
 */
function withLog(sys: BpfSystem, first: VerifierError, load: (logSize: number) => number): VerifierError {
  for (const size of RETRY_LOG_SIZES) {
    try {
      sys.close(load(size));
    } catch (e) {
      if (!(e instanceof VerifierError)) break;
      if (e.truncated && size !== RETRY_LOG_SIZES[RETRY_LOG_SIZES.length - 1]) continue;
      return new VerifierError(first.code, first.message, e.log, { command: first.command, insn: first.insn, truncated: e.truncated });
    }
    break;
  }
  return first;
}

/** Runs per call into WebAssembly in Program.runFrames (the frames repeated to about this many). */
export const BATCH_RUNS = 4096;

/** Program.runFrames on a program held by reference. */
function runFramesObject(sys: BpfSystem, obj: ProgObject, frames: readonly Uint8Array[], repeat: number, engine: EngineName | undefined): FrameRunResult {
  const { prog } = sys.live(obj) as ProgObject;
  if (!Array.isArray(frames)) throw new BpfError('EINVAL', `frames must be an array of Uint8Array, got ${describe(frames)}`);
  frames.forEach((f, i) => {
    if (!(f instanceof Uint8Array)) throw new BpfError('EINVAL', `frame ${i} must be a Uint8Array, got ${describe(f)}`);
  });
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new BpfError('EINVAL', `repeat must be a positive integer, got ${describe(repeat)}`);
  const it = engineOf(prog, engine, sys);
  const mem = sys.runtime.mem;
  const prepared: PreparedRun[] = [];
  const maps = prog.maps.map((m) => m.impl);
  const n = frames.length;
  const verdicts = new Uint32Array(n);
  let desc = 0;
  try {
    for (const f of frames) prepared.push(prog.type.prepare(mem, f));
    const inputs = prepared.map((r) => r.input);
    let elapsedMs = 0;
    if (n > 0 && it instanceof JitProgram && it.batchesInputs) {
      // passes per call, their descriptors laid out once (the frames' inputs repeated)
      const per = Math.min(repeat, Math.max(1, Math.floor(BATCH_RUNS / n)));
      const all: RunInput[] = [];
      for (let k = 0; k < per; k++) all.push(...inputs);
      desc = mem.alloc(inputBatchBytes(all.length));
      writeInputDescriptors(mem.view, desc, all);
      const rest = repeat % per === 0 ? all : all.slice(0, (repeat % per) * n);
      let runs = 0;
      const t0 = performance.now();
      for (let done = 0; done < repeat; done += per) {
        const batch = repeat - done >= per ? all : rest;
        // the last, shorter batch: its own layout (the frame kinds follow its n descriptors and verdicts)
        if (batch !== all) writeInputDescriptors(mem.view, desc, batch);
        runs = batch.length;
        // the batch bumps the maps' run generation per run
        for (const m of maps) m.enterRun();
        try {
          it.execBatch(desc, runs, batch);
        } finally {
          for (const m of maps) m.exitRun();
        }
      }
      elapsedMs = performance.now() - t0;
      verdicts.set(batchVerdicts(mem, desc, runs).subarray(runs - n));
    } else {
      const t0 = performance.now();
      for (let k = 0; k < repeat; k++) {
        for (let i = 0; i < n; i++) {
          for (const m of maps) m.enterRun();
          try {
            it.exec(inputs[i]!);
          } finally {
            for (const m of maps) m.exitRun();
          }
          verdicts[i] = it.retLo >>> 0;
        }
      }
      elapsedMs = performance.now() - t0;
    }
    const runs = n * repeat;
    return { verdicts, durationNs: runs === 0 ? 0 : (elapsedMs * 1e6) / runs, runs, framesOut: prepared.map((r) => r.snapshot()), engine: it.engineName };
  } finally {
    if (desc) mem.release(desc);
    for (const r of prepared) r.release();
  }
}
