/**
 * `bpf(cmd, attr)`: the command multiplexor with uapi semantics
 * (../shared/docs/linux-3.19/runtime.md, section c), over one Runtime.
 *
 * Attributes are objects with the uapi field names (SEMANTICS.md decision
 * 4); buffers are Uint8Arrays. A field the command does not use but that is
 * set non-zero is EINVAL, as CHECK_ATTR. A key or value buffer shorter than
 * the map's key or value size is EFAULT, as a short user buffer faults.
 * Objects live in an fd table (0-2 stand for stdin/stdout/stderr, files of
 * another kind).
 *
 * Lifetimes are the kernel's: a map or a program is a reference-counted
 * object, and an fd is only one kind of reference. A loaded program holds
 * its maps; a PacketRunner, a Program, a BpfMap and a Collection each hold
 * the object they wrap, apart from its fd. Memory is freed when the last
 * reference goes, never before, so a program's baked-in map addresses stay
 * valid for as long as anything can run it, and a closed or reused fd cannot
 * redirect a wrapper to another object (wrappers act on the object itself).
 *
 * One extension over 3.19: BPF_MAP_GET_NEXT_KEY with no key returns the
 * first key, as kernels since 4.12 do (3.19 faulted on the NULL pointer).
 */

import { BpfError, InternalError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { errnoName } from '../errors.js';
import { createMap, mapTypeName } from '../maps/types.js';
import type { BpfMapImpl } from '../maps/map.js';
import { installHelpers } from '../progs/helpers.js';
import { Runtime } from '../runtime/runtime.js';
import type { Engine, EngineName } from '../runtime/engine.js';
import type { ProgLoadAttr } from './prog-load.js';
import { progLoad } from './prog-load.js';
import type { BpfObject, LoadedProgram, MapObject, ProgObject } from './objects.js';
import { describe } from './describe.js';
import { batchBytes, writeBatchDescriptor } from '../jit/batch.js';
import { JitProgram } from '../jit/program.js';

// The fd table's object types and the engine names are part of this file's surface.
export type { BpfObject, LoadedProgram, MapObject, ProgObject } from './objects.js';
export type { EngineName } from '../runtime/engine.js';

export const BPF_CMD = {
  BPF_MAP_CREATE: 0,
  BPF_MAP_LOOKUP_ELEM: 1,
  BPF_MAP_UPDATE_ELEM: 2,
  BPF_MAP_DELETE_ELEM: 3,
  BPF_MAP_GET_NEXT_KEY: 4,
  BPF_PROG_LOAD: 5,
} as const;
export type BpfCmdName = keyof typeof BPF_CMD;

export interface MapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
}
export interface MapElemAttr {
  map_fd: number;
  key?: Uint8Array | null;
  value?: Uint8Array | null;
  next_key?: Uint8Array | null;
  flags?: number | bigint;
}

type FileObject = BpfObject;

const FIELDS: Record<number, readonly string[]> = {
  0: ['map_type', 'key_size', 'value_size', 'max_entries', 'map_flags'],
  1: ['map_fd', 'key', 'value'],
  2: ['map_fd', 'key', 'value', 'flags'],
  3: ['map_fd', 'key'],
  4: ['map_fd', 'key', 'next_key'],
  // mem_size: tsbpf's, for its mem program type (progs/mem.ts)
  5: ['prog_type', 'insn_cnt', 'insns', 'license', 'log_level', 'log_size', 'log_buf', 'mem_size'],
};

const CMD_NAMES = Object.fromEntries(Object.entries(BPF_CMD).map(([k, v]) => [v, k])) as Record<number, BpfCmdName>;

function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === 0 || v === 0n || v === false || v === '';
}

/** The stdio descriptors: open, but not bpf objects. */
const RESERVED_FDS = 3;

export class BpfSystem {
  readonly runtime: Runtime;
  private readonly files = new Map<number, FileObject>();
  private readonly mapsByAddr = new Map<number, MapObject>();
  private nextMapId = 1;
  private nextProgId = 1;
  private scratch = 0;
  private scratchSize = 0;

  /** instruction budget per run of a program loaded without verification (checked interpreter) */
  unverifiedBudget = 1_000_000;
  /** compile verified programs to WebAssembly at load (when WebAssembly is available) */
  jitEnabled = typeof WebAssembly === 'object';

  constructor(runtime: Runtime = new Runtime()) {
    this.runtime = runtime;
    installHelpers(runtime.helpers, (addr) => this.mapsByAddr.get(addr)?.impl);
  }

  /** The bpf(2) multiplexor. Returns the new fd for MAP_CREATE and PROG_LOAD, else 0. */
  bpf(cmd: number | BpfCmdName, attr: object): number {
    return this.command(cmd, attr, undefined);
  }

  /**
   * A map command (LOOKUP, UPDATE, DELETE, GET_NEXT_KEY) on a map held by
   * reference instead of named by map_fd: what BpfMap uses, so that closing
   * its fd elsewhere, or the fd's number being reused, cannot redirect it.
   * Same checks, errors and errnos as bpf(); attr.map_fd must be absent.
   */
  bpfOnMap(m: MapObject, cmd: number | BpfCmdName, attr: object): number {
    return this.command(cmd, attr, m);
  }

  private command(cmd: unknown, attr: unknown, target: MapObject | undefined): number {
    const num = typeof cmd === 'string' && Object.hasOwn(BPF_CMD, cmd) ? BPF_CMD[cmd as BpfCmdName] : cmd;
    const name = typeof num === 'number' ? CMD_NAMES[num] : undefined;
    try {
      if (name === undefined || typeof num !== 'number') throw new BpfError('EINVAL', `unknown command ${describe(cmd)}`);
      if (typeof attr !== 'object' || attr === null) throw new BpfError('EFAULT', `attr must be an object, got ${describe(attr)}`);
      const a = attr as Record<string, unknown>;
      const used = FIELDS[num]!;
      for (const [k, v] of Object.entries(a)) {
        if (!used.includes(k) && !isZero(v)) throw new BpfError('EINVAL', `field '${k}' is not used by ${name} and must be zero`);
      }
      if (target !== undefined) {
        if (num === 0 || num === 5) throw new BpfError('EINVAL', `${name} does not act on a map`);
        if (!isZero(a['map_fd'])) throw new BpfError('EINVAL', 'map_fd must be absent: the command acts on the map held');
      }
      const map = (): MapObject => target ? this.live(target) as MapObject : this.mapOf(a['map_fd']);
      switch (num) {
        case 0: return this.mapCreate(a);
        case 1: return this.mapLookup(map(), a);
        case 2: return this.mapUpdate(map(), a);
        case 3: return this.mapDelete(map(), a);
        case 4: return this.mapGetNextKey(map(), a);
        default: return this.progLoad(a);
      }
    } catch (e) {
      if (e instanceof BpfError && e.command === undefined) {
        const command = name ?? (typeof cmd === 'string' || typeof cmd === 'number' ? String(cmd) : describe(cmd));
        throw new BpfError(e.code, e.message, { command, log: e.log, cause: e.cause });
      }
      throw e;
    }
  }

  /** close(2) of a bpf fd: drops the fd's reference; the object lives on while others hold it. */
  close(fd: number): void {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
      // no coercion: close('3') must not close fd 3
      throw new BpfError('EBADF', `fd ${describe(fd)} is not a file descriptor (a non-negative integer)`, { command: 'close' });
    }
    const f = this.files.get(fd);
    if (!f) throw new BpfError('EBADF', `fd ${fd} is not open`, { command: 'close' });
    this.files.delete(fd);
    this.release(f);
  }

  /** Close `fd` only if it still names `obj` (a wrapper closing the fd it was given, which may since have been closed and reused). */
  closeFdOf(fd: number, obj: BpfObject): void {
    if (this.files.get(fd) === obj) this.close(fd);
  }

  /** Take a reference to a live object (a runner or a wrapper holding it). EBADF once it is freed. */
  hold(obj: BpfObject): void {
    this.live(obj).refcnt++;
  }

  /** Drop a reference; the last one frees the object (a program then drops its maps). */
  release(obj: BpfObject): void {
    if (obj.refcnt <= 0) throw new InternalError(`${obj.kind} ${obj.id} released more often than held`);
    if (--obj.refcnt > 0) return;
    if (obj.kind === 'map') {
      this.mapsByAddr.delete(obj.impl.addr);
      this.runtime.removeRegion(obj.impl.region.start);
      obj.impl.free();
    } else {
      obj.prog.jit?.free();
      freeHardenedJit(obj.prog);
      for (const m of obj.prog.maps) this.release(m);
    }
  }

  /** `obj` if it has not been freed; EBADF otherwise (a defense: holders keep their objects alive). */
  live(obj: BpfObject): BpfObject {
    if (obj.refcnt <= 0) throw new BpfError('EBADF', `${obj.kind === 'map' ? 'map' : 'program'} ${obj.id} has been freed`);
    return obj;
  }

  /** The map behind an fd: EBADF if not open, EINVAL if not a map. */
  mapOf(fd: unknown): MapObject {
    const f = this.file(fd, 'map_fd');
    if (f.kind !== 'map') throw new BpfError('EINVAL', `fd ${String(fd)} is not a map`);
    return f;
  }

  progOf(fd: unknown): ProgObject {
    const f = this.file(fd, 'prog_fd');
    if (f.kind !== 'prog') throw new BpfError('EINVAL', `fd ${String(fd)} is not a program`);
    return f;
  }

  /** Open maps and programs, by fd. */
  fds(): { fd: number; kind: 'map' | 'prog'; id: number }[] {
    return [...this.files.entries()].sort((x, y) => x[0] - y[0]).map(([fd, f]) => ({ fd, kind: f.kind, id: f.id }));
  }

  mapByAddr(addr: number): MapObject | undefined {
    return this.mapsByAddr.get(addr);
  }

  private file(fd: unknown, field: string): FileObject {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0xffffffff) {
      throw new BpfError('EBADF', `${field} ${describe(fd)} is not a file descriptor`);
    }
    const f = this.files.get(fd);
    if (!f) {
      if (fd < RESERVED_FDS) throw new BpfError('EINVAL', `fd ${fd} is not a bpf object`);
      throw new BpfError('EBADF', `fd ${fd} is not open`);
    }
    return f;
  }

  private install(f: FileObject): number {
    let fd = RESERVED_FDS;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, f);
    return fd;
  }

  /** A new fd for an object already held (the API's dup). */
  dup(fd: number): number {
    const f = this.file(fd, 'fd');
    f.refcnt++;
    return this.install(f);
  }

  holdMap(m: MapObject): void {
    this.hold(m);
  }

  putMap(m: MapObject): void {
    this.release(m);
  }

  private u32(a: Record<string, unknown>, field: string): number {
    const v = a[field] ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
      throw new BpfError('EINVAL', `${field} must be a 32-bit integer, got ${describe(v)}`);
    }
    return v >>> 0;
  }

  private u64(a: Record<string, unknown>, field: string): [lo: number, hi: number] {
    const v = a[field] ?? 0;
    let x: bigint;
    if (typeof v === 'bigint') x = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) x = BigInt(v);
    else throw new BpfError('EINVAL', `${field} must be a safe integer or a bigint, got ${describe(v)}`);
    if (x < -(1n << 63n) || x >= 1n << 64n) throw new BpfError('EINVAL', `${field} ${describe(v)} does not fit in 64 bits`);
    const u = BigInt.asUintN(64, x);
    return [Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0];
  }

  /** A user buffer of at least `size` bytes; EFAULT when absent or short, as a bad pointer. */
  private buffer(a: Record<string, unknown>, field: string, size: number): Uint8Array {
    const v = a[field];
    if (!(v instanceof Uint8Array)) {
      throw new BpfError('EFAULT', `${field} must be a Uint8Array, got ${describe(v)}`);
    }
    if (v.length < size) throw new BpfError('EFAULT', `${field} has ${v.length} bytes, the map needs ${size}`);
    return v;
  }

  /** Staging memory for keys and values, inside the address space. */
  private stage(bytes: number): number {
    if (bytes > this.scratchSize) {
      if (this.scratch) this.runtime.mem.release(this.scratch);
      this.scratch = this.runtime.mem.alloc(bytes);
      this.scratchSize = bytes;
    }
    return this.scratch;
  }

  private fail(errno: number, what: string): never {
    const code = (errnoName(errno) ?? 'EINVAL') as ErrnoCode;
    throw new BpfError(code, what);
  }

  private mapCreate(a: Record<string, unknown>): number {
    const attr = {
      mapType: this.u32(a, 'map_type'),
      keySize: this.u32(a, 'key_size'),
      valueSize: this.u32(a, 'value_size'),
      maxEntries: this.u32(a, 'max_entries'),
      mapFlags: this.u32(a, 'map_flags'),
    };
    const impl = createMap(this.runtime.mem, attr);
    const m: MapObject = { kind: 'map', id: this.nextMapId++, impl, refcnt: 1, name: '' };
    this.mapsByAddr.set(impl.addr, m);
    this.runtime.addRegion(impl.region);
    return this.install(m);
  }

  private mapLookup({ impl }: MapObject, a: Record<string, unknown>): number {
    const key = this.buffer(a, 'key', impl.keySize);
    const k = this.stage(impl.keySize);
    this.runtime.mem.write(k, key.subarray(0, impl.keySize));
    const v = impl.lookup(k);
    if (v === 0) this.fail(-2, 'no such key');
    // copy_to_user of the value comes after the lookup: a short buffer faults only then
    const out = this.buffer(a, 'value', impl.valueSize);
    out.set(this.runtime.mem.u8.subarray(v, v + impl.valueSize));
    return 0;
  }

  private mapUpdate({ impl }: MapObject, a: Record<string, unknown>): number {
    const key = this.buffer(a, 'key', impl.keySize);
    const value = this.buffer(a, 'value', impl.valueSize);
    const [flo, fhi] = this.u64(a, 'flags');
    const k = this.stage(impl.keySize + impl.valueSize);
    this.runtime.mem.write(k, key.subarray(0, impl.keySize));
    this.runtime.mem.write(k + impl.keySize, value.subarray(0, impl.valueSize));
    const r = impl.update(k, k + impl.keySize, flo, fhi);
    if (r < 0) this.fail(r, updateMessage(r));
    return 0;
  }

  private mapDelete({ impl }: MapObject, a: Record<string, unknown>): number {
    const key = this.buffer(a, 'key', impl.keySize);
    const k = this.stage(impl.keySize);
    this.runtime.mem.write(k, key.subarray(0, impl.keySize));
    const r = impl.delete(k);
    if (r < 0) this.fail(r, r === -2 ? 'no such key' : `${mapTypeName(impl.type)} map elements cannot be deleted`);
    return 0;
  }

  private mapGetNextKey({ impl }: MapObject, a: Record<string, unknown>): number {
    const hasKey = a['key'] !== undefined && a['key'] !== null;
    const key = hasKey ? this.buffer(a, 'key', impl.keySize) : undefined;
    const k = this.stage(impl.keySize * 2);
    if (key) this.runtime.mem.write(k, key.subarray(0, impl.keySize));
    const r = impl.getNextKey(key ? k : 0, k + impl.keySize);
    if (r < 0) this.fail(r, 'no next key');
    const out = this.buffer(a, 'next_key', impl.keySize);
    out.set(this.runtime.mem.u8.subarray(k + impl.keySize, k + 2 * impl.keySize));
    return 0;
  }

  /**
   * BPF_PROG_LOAD without the verifier: a tsbpf extension for programs 3.19
   * cannot prove safe (loops, direct context access, the conformance
   * vectors). They run in the checked interpreter, where every access is
   * checked against what the program may touch, under unverifiedBudget.
   */
  loadUnverified(attr: ProgLoadAttr): number {
    try {
      return this.progLoad(attr as unknown as Record<string, unknown>, false);
    } catch (e) {
      if (e instanceof BpfError && e.command === undefined) throw new BpfError(e.code, e.message, { command: 'BPF_PROG_LOAD', log: e.log });
      throw e;
    }
  }

  private progLoad(a: Record<string, unknown>, verify = true): number {
    for (const [k, v] of Object.entries(a)) {
      if (!FIELDS[5]!.includes(k) && !isZero(v)) throw new BpfError('EINVAL', `field '${k}' is not used by BPF_PROG_LOAD and must be zero`);
    }
    const prog = progLoad(this, a as unknown as ProgLoadAttr, { verify });
    const p: ProgObject = { kind: 'prog', id: this.nextProgId++, prog, refcnt: 1 };
    return this.install(p);
  }
}

function updateMessage(errno: number): string {
  switch (errno) {
    case -22: return 'invalid flags';
    case -7: return 'the map is full (or the index is out of range)';
    case -17: return 'the key exists (BPF_NOEXIST)';
    case -2: return 'no such key (BPF_EXIST)';
    case -12: return 'out of memory';
    default: return `error ${errno}`;
  }
}

export interface TestRunResult {
  /** r0 at exit, unsigned 64-bit */
  retval: bigint;
  /** mean ns per run, measured around the engine's run loop only */
  durationNs: number;
  runs: number;
  /** the context/packet bytes after the last run */
  dataOut: Uint8Array;
  engine: EngineName;
}

/** Each program's hardened JIT, compiled the first time a run asks for it. */
const hardenedJits = new WeakMap<LoadedProgram, JitProgram>();

/**
 * The hardened JIT of a program, verified or not (jit/hardened.ts): every
 * access checked against its frames, its run's context and packet, and the
 * values of the maps it references. A batch run's context has the shape the
 * program type's prepare() gives it (progs/types.ts).
 */
function hardenedJit(prog: LoadedProgram, sys: BpfSystem | undefined): JitProgram {
  let jit = hardenedJits.get(prog);
  if (jit) return jit;
  if (!sys) throw new BpfError('EINVAL', 'the hardened JIT needs the program\'s BpfSystem');
  if (typeof WebAssembly !== 'object') throw new BpfError('ENOTSUP', 'the hardened JIT needs WebAssembly');
  const batchContext = prog.type.context;
  jit = new JitProgram(sys.runtime.mem, prog.slots, { helpers: sys.runtime.helpers, maps: prog.maps.map((m) => m.impl), hardened: { batchContext } });
  hardenedJits.set(prog, jit);
  return jit;
}

/** Free a program's hardened JIT, if a run compiled one (the program's last reference went: BpfSystem.release). */
function freeHardenedJit(prog: LoadedProgram): void {
  hardenedJits.get(prog)?.free();
  hardenedJits.delete(prog);
}

/** The engine a run uses: the JIT when the program has one, unless the interpreter (or the hardened JIT) is asked for. */
export function engineOf(prog: LoadedProgram, engine?: EngineName, sys?: BpfSystem): Engine {
  if (engine !== undefined && engine !== 'jit' && engine !== 'interpreter' && engine !== 'jit-hardened') {
    throw new BpfError('EINVAL', `unknown engine ${describe(engine)} (jit, interpreter, jit-hardened)`);
  }
  if (engine === 'jit-hardened') return hardenedJit(prog, sys);
  if (engine === 'jit' && !prog.jit) {
    throw new BpfError('ENOTSUP', prog.verified ? 'the JIT cannot compile this program' : 'the JIT runs verified programs only');
  }
  return engine !== 'interpreter' && prog.jit ? prog.jit : prog.interpreter;
}

/**
 * Run a loaded program `repeat` times over `data` (for a socket filter, the
 * packet; for unspec, up to 16 bytes of context), with the maps carried over.
 */
export function testRun(sys: BpfSystem, progFd: number, data: Uint8Array = new Uint8Array(0), repeat = 1, engine?: EngineName): TestRunResult {
  return testRunObject(sys, sys.progOf(progFd), data, repeat, engine);
}

/** testRun on a program held by reference (Program uses it): EBADF if it has been freed. */
export function testRunObject(sys: BpfSystem, obj: ProgObject, data: Uint8Array = new Uint8Array(0), repeat = 1, engine?: EngineName): TestRunResult {
  const { prog } = sys.live(obj) as ProgObject;
  if (!(data instanceof Uint8Array)) throw new BpfError('EINVAL', `data must be a Uint8Array, got ${describe(data)}`);
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new BpfError('EINVAL', `repeat must be a positive integer, got ${describe(repeat)}`);
  const it = engineOf(prog, engine, sys);
  const run = prog.type.prepare(sys.runtime.mem, data);
  const maps = prog.maps.map((m) => m.impl);
  try {
    if (it.execBatch !== undefined && repeat > 1) {
      // Many runs over one input in one call (the JIT: without leaving WebAssembly): one descriptor per run, in chunks.
      const chunk = Math.min(repeat, 4096);
      const mem = sys.runtime.mem;
      const desc = mem.alloc(batchBytes(chunk));
      try {
        const pkt = run.input.packet;
        for (let i = 0; i < chunk; i++) {
          writeBatchDescriptor(mem.view, desc, i, Number(run.input.r1 ?? 0), pkt?.addr ?? 0, pkt?.len ?? 0, pkt?.netOff ?? -1);
        }
        const t0 = performance.now();
        for (let done = 0; done < repeat; done += chunk) {
          // the batch bumps the maps' run generation per run
          for (const m of maps) m.enterRun();
          try {
            it.execBatch(desc, Math.min(chunk, repeat - done));
          } finally {
            for (const m of maps) m.exitRun();
          }
        }
        const elapsedMs = performance.now() - t0;
        return { retval: (BigInt(it.retHi >>> 0) << 32n) | BigInt(it.retLo >>> 0), durationNs: (elapsedMs * 1e6) / repeat, runs: repeat, dataOut: run.snapshot(), engine: it.engineName };
      } finally {
        mem.release(desc);
      }
    }
    const t0 = performance.now();
    for (let i = 0; i < repeat; i++) {
      // Elements a run replaced while holding them are recycled when it ends.
      for (const m of maps) m.enterRun();
      try {
        it.exec(run.input);
      } finally {
        for (const m of maps) m.exitRun();
      }
    }
    const elapsedMs = performance.now() - t0;
    return {
      retval: (BigInt(it.retHi >>> 0) << 32n) | BigInt(it.retLo >>> 0),
      durationNs: (elapsedMs * 1e6) / repeat,
      runs: repeat,
      dataOut: run.snapshot(),
      engine: it.engineName,
    };
  } finally {
    run.release();
  }
}
