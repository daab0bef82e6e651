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
 *
 * Under the modern profile (BpfSystem({ profile: 'modern' })) the map
 * commands take 6.18's attributes and checks: BPF_MAP_CREATE's map_flags,
 * inner_map_fd, numa_node, map_name..., the lookup and update flags field,
 * the map types of later kernels, BPF_MAP_LOOKUP_AND_DELETE_ELEM and
 * BPF_MAP_FREEZE, the access flags (BPF_F_RDONLY, BPF_F_WRONLY) and a
 * frozen map's EPERM, a key_size 0 map's NULL key, and the syscall's view
 * of per-CPU values (round_up(value_size, 8) per simulated CPU). The
 * CHECK_ATTR rule is the same: a field the command does not have must be
 * zero. BPF_PROG_LOAD keeps 3.19's attributes in both profiles.
 */

import { BpfError, InternalError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { errnoName } from '../errors.js';
import { attachMap, createMap, mapTypeName } from '../maps/types.js';
import type { BpfMapImpl, FdRef, MapAttr, MapEnv, SharedMapState } from '../maps/map.js';
import { BPF_F, isModern, roundUp8 } from '../maps/map.js';
import { installHelpers } from '../progs/helpers.js';
import { Runtime } from '../runtime/runtime.js';
import type { RuntimeOptions } from '../runtime/runtime.js';
import type { Profile } from '../progs/profile.js';
import type { Engine, EngineName, RunInput } from '../runtime/engine.js';
import type { ProgLoadAttr } from './prog-load.js';
import { progLoad } from './prog-load.js';
import type { BpfObject, LoadedProgram, MapObject, ProgObject } from './objects.js';
import { describe, quote } from './describe.js';
import { batchBytes, inputBatchBytes, writeBatchDescriptor, writeInputDescriptors } from '../jit/batch.js';
import { JitProgram } from '../jit/program.js';

// The fd table's object types and the engine names are part of this file's surface.
export type { BpfObject, LoadedProgram, MapObject, ProgObject } from './objects.js';
export type { EngineName } from '../runtime/engine.js';

/** The bpf(2) commands of 3.19 by name (BPF_MAP_CREATE = 0 ... BPF_PROG_LOAD = 5). */
export const BPF_CMD = {
  BPF_MAP_CREATE: 0,
  BPF_MAP_LOOKUP_ELEM: 1,
  BPF_MAP_UPDATE_ELEM: 2,
  BPF_MAP_DELETE_ELEM: 3,
  BPF_MAP_GET_NEXT_KEY: 4,
  BPF_PROG_LOAD: 5,
  /** modern profile (4.20) */
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: 21,
  /** modern profile (5.2) */
  BPF_MAP_FREEZE: 22,
  /** modern profile (5.6): the batch commands (BpfSystem.mapBatch) */
  BPF_MAP_LOOKUP_BATCH: 24,
  BPF_MAP_LOOKUP_AND_DELETE_BATCH: 25,
  BPF_MAP_UPDATE_BATCH: 26,
  BPF_MAP_DELETE_BATCH: 27,
} as const;
/** A bpf(2) command name: 'BPF_MAP_CREATE', 'BPF_PROG_LOAD', ... */
export type BpfCmdName = keyof typeof BPF_CMD;

/** The union bpf_attr fields of BPF_MAP_CREATE. */
export interface MapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
  /** modern profile: the template map of a map of maps */
  inner_map_fd?: number;
  /** modern profile, with BPF_F_NUMA_NODE: 0 (one node) */
  numa_node?: number;
  /** modern profile: up to 15 characters of [A-Za-z0-9_.] */
  map_name?: string;
}
/**
 * The union bpf_attr fields of the batch commands (modern profile). `count`
 * is in and out, as in the kernel: the elements the buffers hold on the
 * way in, the elements done written back into this object (also when the
 * command fails, ENOENT at the end of a walk included). The cursor
 * (in_batch, out_batch) is opaque: 4 bytes for the hash maps (a bucket),
 * key_size bytes for arrays (the last key).
 */
export interface MapBatchAttr {
  map_fd: number;
  in_batch?: Uint8Array | null;
  out_batch?: Uint8Array | null;
  keys?: Uint8Array | null;
  values?: Uint8Array | null;
  count: number;
  elem_flags?: number | bigint;
  flags?: number | bigint;
}

/** The union bpf_attr fields of the map element commands (lookup, update, delete, get_next_key). */
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
  // mem_size: tsbpf's, for its mem program type (progs/mem.ts); func_info and line_info: tsbpf's resolved
  // forms of the kernel's records (prog-load.ts): global functions' prototypes, the log's source lines
  5: ['prog_type', 'insn_cnt', 'insns', 'license', 'log_level', 'log_size', 'log_buf', 'mem_size', 'func_info', 'line_info'],
};

/** union bpf_attr's batch struct */
const BATCH_FIELDS = ['in_batch', 'out_batch', 'keys', 'values', 'count', 'map_fd', 'elem_flags', 'flags'] as const;

/** The modern profile's attributes per command (6.18's union bpf_attr, up to each command's last field). */
const MODERN_FIELDS: Record<number, readonly string[]> = {
  0: [
    'map_type', 'key_size', 'value_size', 'max_entries', 'map_flags', 'inner_map_fd', 'numa_node', 'map_name', 'map_ifindex',
    'btf_fd', 'btf_key_type_id', 'btf_value_type_id', 'btf_vmlinux_value_type_id', 'map_extra', 'value_type_btf_obj_fd', 'map_token_fd',
  ],
  1: ['map_fd', 'key', 'value', 'flags'],
  2: ['map_fd', 'key', 'value', 'flags'],
  3: ['map_fd', 'key'],
  4: ['map_fd', 'key', 'next_key'],
  5: FIELDS[5]!,
  21: ['map_fd', 'key', 'value', 'flags'],
  22: ['map_fd'],
  24: BATCH_FIELDS,
  25: BATCH_FIELDS,
  26: BATCH_FIELDS,
  27: BATCH_FIELDS,
};

/** BPF_F_LOCK: the lookup/update flag for values with a bpf_spin_lock (no map here has one) */
const BPF_F_LOCK = 4;
/** BPF_OBJ_NAME_LEN less its NUL */
const MAP_NAME_MAX = 15;

const CMD_NAMES = Object.fromEntries(Object.entries(BPF_CMD).map(([k, v]) => [v, k])) as Record<number, BpfCmdName>;

function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === 0 || v === 0n || v === false || v === '';
}

/** The stdio descriptors: open, but not bpf objects. */
const RESERVED_FDS = 3;

/** One simulated kernel: the bpf(2) multiplexor, its fd table and reference counts, over one Runtime. */
export class BpfSystem {
  readonly runtime: Runtime;
  /** the machine maps are created in: the runtime's profile and CPUs */
  readonly mapEnv: MapEnv;
  private readonly modern: boolean;
  /** maps frozen by BPF_MAP_FREEZE: the syscall side may no longer write them */
  private readonly frozen = new WeakSet<MapObject>();
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
  /**
   * Tiered execution (jit/tier.ts): a verified program's JIT compiles in the
   * background after BPF_PROG_LOAD and the interpreter runs it until then;
   * runs that ask for no engine switch to the JIT between runs. Off for the
   * bare bpf(2) interface (a test run right after a load runs the JIT, as
   * before); Program, Collection and the CLI turn it on for their loads.
   */
  jitTiering = false;

  /** A system over `runtime`, or over a new Runtime made with these options ({ profile: 'modern', cpus: 4 }). */
  constructor(runtime: Runtime | RuntimeOptions = new Runtime()) {
    if (typeof runtime !== 'object' || runtime === null) throw new BpfError('EINVAL', `a BpfSystem takes a Runtime or runtime options, got ${describe(runtime)}`);
    this.runtime = runtime instanceof Runtime ? runtime : new Runtime(runtime);
    const rt = this.runtime;
    // runWord: this thread's lane's (maps pin by it); lanes: every thread's, in a shared memory (epochs)
    const env = { profile: rt.profile, cpus: rt.cpus, cpu: () => rt.cpu, runWord: rt.lane.runWord, ...(rt.mem.lanes ? { lanes: rt.mem.lanes } : {}) };
    this.mapEnv = env;
    this.modern = isModern(this.mapEnv);
    installHelpers(rt.helpers, (addr) => this.mapsByAddr.get(addr)?.impl);
    // bpf_tail_call's target (a prog array holds ProgObjects): the engine of the caller's kind when it has one
    rt.helpers.run.tailEngine = (target, current) => {
      const p = target as ProgObject;
      if (typeof p !== 'object' || p === null || p.kind !== 'prog' || p.refcnt === 0) return undefined;
      // the target's maps join the run (its lookups pin elements until the run ends, as the caller's do)
      for (const m of p.prog.maps) {
        m.impl.enterRun();
        rt.helpers.run.entered.push(m.impl);
      }
      if (current === 'jit-hardened') return hardenedJit(p.prog, this);
      return current === 'jit' && p.prog.jit ? p.prog.jit : p.prog.interpreter;
    };
  }

  /** The kernel this system models (runtime.profile). */
  get profile(): Profile {
    return this.runtime.profile;
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
    const fields = this.modern ? MODERN_FIELDS : FIELDS;
    const name = typeof num === 'number' && fields[num] !== undefined ? CMD_NAMES[num] : undefined;
    try {
      if (name === undefined || typeof num !== 'number') throw new BpfError('EINVAL', `unknown command ${describe(cmd)}`);
      if (typeof attr !== 'object' || attr === null) throw new BpfError('EFAULT', `attr must be an object, got ${describe(attr)}`);
      const a = attr as Record<string, unknown>;
      const used = fields[num]!;
      for (const [k, v] of Object.entries(a)) {
        if (!used.includes(k) && !isZero(v)) throw new BpfError('EINVAL', `field '${k}' is not used by ${name} and must be zero`);
      }
      if (target !== undefined) {
        if (num === 0 || num === 5) throw new BpfError('EINVAL', `${name} does not act on a map`);
        if (!isZero(a['map_fd'])) throw new BpfError('EINVAL', 'map_fd must be absent: the command acts on the map held');
      }
      const map = (): MapObject => target ? this.live(target) as MapObject : this.mapOf(a['map_fd']);
      if (this.modern) {
        switch (num) {
          case 0: return this.mapCreate(a);
          case 1: return this.modernLookup(map(), a, false);
          case 2: return this.modernUpdate(map(), a);
          case 3: return this.modernDelete(map(), a);
          case 4: return this.modernGetNextKey(map(), a);
          case 21: return this.modernLookup(map(), a, true);
          case 22: return this.mapFreeze(map());
          case 24: case 25: case 26: case 27: return this.mapBatch(map(), a, num);
          default: return this.progLoad(a);
        }
      }
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
      // (a tiered program's JIT is freed through its tier: reading .jit would compile it)
      if (obj.prog.tier) obj.prog.tier.free();
      else obj.prog.jit?.free();
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

  /** The program behind an fd (EBADF when none is open, EINVAL when it is a map). */
  progOf(fd: unknown): ProgObject {
    const f = this.file(fd, 'prog_fd');
    if (f.kind !== 'prog') throw new BpfError('EINVAL', `fd ${String(fd)} is not a program`);
    return f;
  }

  /** Open maps and programs, by fd. */
  fds(): { fd: number; kind: 'map' | 'prog'; id: number }[] {
    return [...this.files.entries()].sort((x, y) => x[0] - y[0]).map(([fd, f]) => ({ fd, kind: f.kind, id: f.id }));
  }

  /** The map whose storage starts at `addr` in the address space, if any. */
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

  /** Take a reference on a map (a program using it does). */
  holdMap(m: MapObject): void {
    this.hold(m);
  }

  /** Drop a reference taken with holdMap; the last one frees the map. */
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
    const attr: MapAttr = {
      mapType: this.u32(a, 'map_type'),
      keySize: this.u32(a, 'key_size'),
      valueSize: this.u32(a, 'value_size'),
      maxEntries: this.u32(a, 'max_entries'),
      mapFlags: this.u32(a, 'map_flags'),
    };
    const name = this.modern ? this.modernCreateAttr(a, attr) : '';
    const impl = createMap(this.runtime.mem, attr, this.mapEnv);
    const m: MapObject = { kind: 'map', id: this.nextMapId++, impl, refcnt: 1, name };
    this.mapsByAddr.set(impl.addr, m);
    this.runtime.addRegion(impl.region);
    return this.install(m);
  }

  /**
   * A map another thread made in this system's shared memory (its
   * BpfMapImpl.shareState), as an fd of this system: a worker's view of the
   * owner's map (WorkerPool). Its last reference frees this thread's object
   * only, never the owner's storage.
   */
  attachMap(state: SharedMapState, name = ''): number {
    const impl = attachMap(this.runtime.mem, state, this.mapEnv);
    const m: MapObject = { kind: 'map', id: this.nextMapId++, impl, refcnt: 1, name };
    this.mapsByAddr.set(impl.addr, m);
    this.runtime.addRegion(impl.region);
    return this.install(m);
  }

  /**
   * The modern BPF_MAP_CREATE attributes past 3.19's: map_extra (bloom
   * filters only, none here), the NUMA node (one: node 0), no offload device,
   * no BTF objects, the name; the inner map of a map of maps. Returns the name.
   */
  private modernCreateAttr(a: Record<string, unknown>, attr: MapAttr): string {
    if (!isZero(a['map_extra'])) throw new BpfError('EINVAL', 'map_extra is for bloom filters, which tsbpf does not have');
    if (attr.mapFlags & BPF_F.NUMA_NODE && this.u32(a, 'numa_node') !== 0) throw new BpfError('EINVAL', `numa_node ${this.u32(a, 'numa_node')} is not online (one node: 0)`);
    if (!isZero(a['map_ifindex'])) throw new BpfError('EINVAL', 'map_ifindex: no device offloads maps here');
    for (const f of ['btf_key_type_id', 'btf_value_type_id', 'btf_vmlinux_value_type_id', 'value_type_btf_obj_fd', 'map_token_fd']) {
      if (!isZero(a[f])) throw new BpfError('EINVAL', `${f}: bpf(2) takes no BTF or token objects here (load BTF-defined maps from an object file)`);
    }
    const name = a['map_name'] ?? '';
    if (typeof name !== 'string' || name.length > MAP_NAME_MAX || !/^[A-Za-z0-9_.]*$/.test(name)) {
      throw new BpfError('EINVAL', `map_name ${typeof name === 'string' ? quote(name) : describe(name)} must be at most ${MAP_NAME_MAX} characters of [A-Za-z0-9_.]`);
    }
    if (attr.mapType === 12 || attr.mapType === 13) {
      const fd = a['inner_map_fd'] ?? 0;
      attr.inner = () => this.mapOf(fd).impl;
    }
    return name;
  }

  /** The bytes of a value on the syscall side (per-CPU maps: every CPU's). */
  private sysValueSize(impl: BpfMapImpl): number {
    return impl.sysValueSize ?? impl.valueSize;
  }

  /**
   * The syscall's key: NULL (0) for a key_size 0 map, where a key given is
   * EINVAL, as __bpf_copy_key; and the staging memory for `extra` bytes
   * after it. The two are apart: a NULL key's extra bytes are still staged,
   * never at address 1 (the null page).
   */
  private stageKey(impl: BpfMapImpl, a: Record<string, unknown>, extra: number): [key: number, after: number] {
    const k = this.stage(Math.max(impl.keySize, 1) + extra);
    const after = k + Math.max(impl.keySize, 1);
    if (impl.keySize === 0) {
      if (a['key'] !== undefined && a['key'] !== null) throw new BpfError('EINVAL', 'the map has no keys (key_size 0): key must be null');
      return [0, after];
    }
    const key = this.buffer(a, 'key', impl.keySize);
    this.runtime.mem.write(k, key.subarray(0, impl.keySize));
    return [k, after];
  }

  /** Whether BPF_MAP_FREEZE froze the map (BpfMap's fast path leaves writes to a frozen map to bpf(), which refuses them). */
  isFrozen(m: MapObject): boolean {
    // (most systems freeze nothing: no WeakSet lookup on their hot path)
    return this.freezes !== 0 && this.frozen.has(m);
  }

  /** maps frozen so far */
  private freezes = 0;

  /** The syscall side's access to a map (map_get_sys_perms): EPERM when its flags or a freeze forbid it. */
  private checkPerms(m: MapObject, read: boolean, write: boolean): void {
    const f = m.impl.mapFlags;
    if (read && f & BPF_F.WRONLY) throw new BpfError('EPERM', 'the map is write-only from bpf(2) (BPF_F_WRONLY)');
    if (write && f & BPF_F.RDONLY) throw new BpfError('EPERM', 'the map is read-only from bpf(2) (BPF_F_RDONLY)');
    if (write && this.frozen.has(m)) throw new BpfError('EPERM', 'the map is frozen: bpf(2) may no longer write it');
  }

  /** BPF_MAP_LOOKUP_ELEM, or with `andDelete` BPF_MAP_LOOKUP_AND_DELETE_ELEM, under the modern profile. */
  private modernLookup(m: MapObject, a: Record<string, unknown>, andDelete: boolean): number {
    const { impl } = m;
    const [flo, fhi] = this.u64(a, 'flags');
    if ((flo & ~BPF_F_LOCK) !== 0 || fhi !== 0) throw new BpfError('EINVAL', `flags ${describe(a['flags'])}: only BPF_F_LOCK (4) exists`);
    this.checkPerms(m, true, andDelete);
    if (andDelete && flo !== 0 && (impl.type === 22 || impl.type === 23)) throw new BpfError('EINVAL', 'flags must be 0 to pop a queue or stack');
    if (flo !== 0) throw new BpfError('EINVAL', 'BPF_F_LOCK: the map\'s values have no bpf_spin_lock');
    const size = this.sysValueSize(impl);
    const [k, out] = this.stageKey(impl, a, size);
    let r: number;
    if (andDelete) {
      r = impl.lookupAndDelete ? impl.lookupAndDelete(k, out, 0, 0) : -524;
    } else if (impl.sysLookup) {
      r = impl.sysLookup(k, out);
    } else {
      const v = impl.lookup(k);
      r = v === 0 ? -2 : 0;
      if (v !== 0) this.runtime.mem.u8.copyWithin(out, v, v + size);
    }
    if (r < 0) this.fail(r, r === -2 ? 'no such key' : r === -524 ? `${mapTypeName(impl.type)} maps do not support this command` : `error ${r}`);
    const value = size === 0 && (a['value'] === undefined || a['value'] === null) ? new Uint8Array(0) : this.buffer(a, 'value', size);
    value.set(this.runtime.mem.u8.subarray(out, out + size));
    return 0;
  }

  private modernUpdate(m: MapObject, a: Record<string, unknown>): number {
    const { impl } = m;
    this.checkPerms(m, false, true);
    const [flo, fhi] = this.u64(a, 'flags');
    if (flo & BPF_F_LOCK) throw new BpfError('EINVAL', 'BPF_F_LOCK: the map\'s values have no bpf_spin_lock');
    const size = this.sysValueSize(impl);
    const [k, v] = this.stageKey(impl, a, size);
    const value = size === 0 && (a['value'] === undefined || a['value'] === null) ? new Uint8Array(0) : this.buffer(a, 'value', size);
    this.runtime.mem.write(v, value.subarray(0, size));
    let r: number;
    if (impl.fdUpdate && impl.fdKind) {
      const fd = this.runtime.mem.view.getUint32(v, true);
      r = impl.fdUpdate(k, () => this.fdRef(fd, impl.fdKind!), flo, fhi);
    } else {
      r = impl.sysUpdate ? impl.sysUpdate(k, v, flo, fhi) : impl.update(k, v, flo, fhi);
    }
    if (r < 0) this.fail(r, r === -28 ? 'the map is full' : r === -524 ? `${mapTypeName(impl.type)} maps do not support this command` : updateMessage(r));
    return 0;
  }

  private modernDelete(m: MapObject, a: Record<string, unknown>): number {
    const { impl } = m;
    this.checkPerms(m, false, true);
    const [k] = this.stageKey(impl, a, 0);
    const r = impl.delete(k);
    if (r < 0) this.fail(r, r === -2 ? 'no such key' : r === -524 ? `${mapTypeName(impl.type)} maps do not support this command` : `${mapTypeName(impl.type)} map elements cannot be deleted`);
    return 0;
  }

  private modernGetNextKey(m: MapObject, a: Record<string, unknown>): number {
    const { impl } = m;
    this.checkPerms(m, true, false);
    const hasKey = a['key'] !== undefined && a['key'] !== null;
    const [k, next] = hasKey ? this.stageKey(impl, a, impl.keySize) : [0, this.stage(Math.max(impl.keySize, 1) * 2) + Math.max(impl.keySize, 1)];
    const r = impl.getNextKey(hasKey ? k : 0, next);
    if (r < 0) this.fail(r, r === -2 ? 'no next key' : r === -524 ? `${mapTypeName(impl.type)} maps do not support this command` : `${mapTypeName(impl.type)} maps have no keys to walk`);
    const out = this.buffer(a, 'next_key', impl.keySize);
    out.set(this.runtime.mem.u8.subarray(next, next + impl.keySize));
    return 0;
  }

  /**
   * The reference a prog array or a map of maps takes to the object behind
   * the fd in an update's value: EBADF when it is not open, EINVAL when it
   * is not a `kind`. The map owns the reference from then on.
   */
  private fdRef(fd: number, kind: 'prog' | 'map'): FdRef {
    const f = this.file(fd, 'value');
    if (f.kind !== kind) throw new BpfError('EINVAL', `fd ${fd} is not a ${kind === 'prog' ? 'program' : 'map'}`);
    this.hold(f);
    let held = true;
    return {
      kind,
      id: f.id,
      map: f.kind === 'map' ? f.impl : undefined,
      progType: f.kind === 'prog' ? f.prog.type.id : undefined,
      object: f,
      release: () => {
        if (!held) return;
        held = false;
        this.release(f);
      },
    };
  }

  /**
   * The batch commands (bpf_map_do_batch): read or write permission first
   * (EPERM), then whether the map type has the command (ENOTSUPP: the hash
   * maps have all four, arrays lookup and update), then the command's own
   * checks. A count of 0 does nothing. The elements done are written back
   * to attr.count whatever the outcome.
   */
  private mapBatch(m: MapObject, a: Record<string, unknown>, cmd: number): number {
    const { impl } = m;
    const lookup = cmd === 24 || cmd === 25;
    this.checkPerms(m, lookup, cmd !== 24);
    const hash = impl.bucketKeys !== undefined && impl.batchBuckets !== undefined;
    const array = impl.type === 2 || impl.type === 6;
    if (!(hash || (array && (cmd === 24 || cmd === 26)))) throw new BpfError('ENOTSUPP', `${mapTypeName(impl.type)} maps do not support this command`);
    const [eflo, efhi] = this.u64(a, 'elem_flags');
    const [flo, fhi] = this.u64(a, 'flags');
    // elem_flags: BPF_F_LOCK only, for an update too (6.18 refuses BPF_NOEXIST and BPF_EXIST there, count untouched)
    if ((eflo & ~BPF_F_LOCK) !== 0 || efhi !== 0) throw new BpfError('EINVAL', `elem_flags ${describe(a['elem_flags'])}: only BPF_F_LOCK (4) exists`);
    if (eflo & BPF_F_LOCK) throw new BpfError('EINVAL', 'BPF_F_LOCK: the map\'s values have no bpf_spin_lock');
    if (flo !== 0 || fhi !== 0) throw new BpfError('EINVAL', `flags ${describe(a['flags'])} must be 0`);
    if (Object.isFrozen(a) || !Object.isExtensible(a) && !Object.hasOwn(a, 'count')) throw new BpfError('EFAULT', 'attr cannot be written: count is written back');
    const max = this.u32(a, 'count');
    if (max === 0) return 0;
    const size = this.sysValueSize(impl);
    const keys = this.buffer(a, 'keys', max * impl.keySize);
    const values = cmd === 27 ? undefined : this.buffer(a, 'values', max * size);
    let done = 0;
    let end = false;
    try {
      if (lookup) [done, end] = hash ? this.hashLookupBatch(impl, a, max, keys, values!, cmd === 25) : this.arrayLookupBatch(impl, a, max, keys, values!);
      else {
        // generic_map_update_batch / generic_map_delete_batch: element by element, stopping at the first error
        const mem = this.runtime.mem;
        const k = this.stage(impl.keySize + size);
        for (; done < max; done++) {
          mem.write(k, keys.subarray(done * impl.keySize, (done + 1) * impl.keySize));
          let r: number;
          if (cmd === 26) {
            mem.write(k + impl.keySize, values!.subarray(done * size, (done + 1) * size));
            r = impl.sysUpdate ? impl.sysUpdate(k, k + impl.keySize, 0, 0) : impl.update(k, k + impl.keySize, 0, 0);
            if (r < 0) this.fail(r, `element ${done}: ${updateMessage(r)}`);
          } else {
            r = impl.delete(k);
            if (r < 0) this.fail(r, `element ${done}: no such key`);
          }
        }
      }
    } finally {
      a['count'] = done;
    }
    if (end) throw new BpfError('ENOENT', 'no more elements');
    return 0;
  }

  /**
   * __htab_map_lookup_and_delete_batch: whole buckets from the cursor's
   * (a u32 bucket index, 0 without in_batch) while they fit in `max`
   * (ENOSPC when even the first does not); out_batch the next bucket;
   * ENOENT, after the elements are written, when the walk reached the end.
   */
  private hashLookupBatch(impl: BpfMapImpl, a: Record<string, unknown>, max: number, keys: Uint8Array, values: Uint8Array, andDelete: boolean): [done: number, end: boolean] {
    const buckets = impl.batchBuckets!;
    const hasIn = a['in_batch'] !== undefined && a['in_batch'] !== null;
    const out = this.buffer(a, 'out_batch', 4);
    let batch = hasIn ? new DataView(this.buffer(a, 'in_batch', 4).buffer, (a['in_batch'] as Uint8Array).byteOffset).getUint32(0, true) : 0;
    if (batch >= buckets) throw new BpfError('ENOENT', `in_batch: bucket ${batch} is past the map's ${buckets}`);
    const size = this.sysValueSize(impl);
    const mem = this.runtime.mem;
    // a key to delete (copied out first: the delete may reuse the element's bytes)
    const k = this.stage(impl.keySize);
    const ks = impl.keySize;
    const valueAt = roundUp8(ks);
    const elems: number[] = [];
    let total = 0;
    let end = false;
    for (; ; ) {
      impl.bucketKeys!(batch, elems);
      if (elems.length > max - total) {
        if (total === 0) {
          // out_batch is written (the bucket that did not fit), as the kernel does
          new DataView(out.buffer, out.byteOffset).setUint32(0, batch, true);
          throw new BpfError('ENOSPC', `bucket ${batch} holds ${elems.length} elements, count allows ${max}`);
        }
        break;
      }
      for (const e of elems) {
        const u8 = mem.u8;
        copyOut(keys, total * ks, u8, e, ks);
        copyOut(values, total * size, u8, e + valueAt, size);
        total++;
      }
      if (andDelete) {
        for (let i = 0; i < elems.length; i++) {
          mem.write(k, keys.subarray((total - elems.length + i) * impl.keySize, (total - elems.length + i + 1) * impl.keySize));
          const r = impl.delete(k);
          if (r < 0) this.fail(r, `error ${r}`);
        }
      }
      batch++;
      if (batch >= buckets) {
        end = true;
        break;
      }
    }
    new DataView(out.buffer, out.byteOffset).setUint32(0, batch, true);
    return [total, end];
  }

  /**
   * generic_map_lookup_batch (arrays): get_next_key from in_batch (a key;
   * none: the first), up to `max` elements; out_batch the last key given;
   * ENOENT, after the elements, when get_next_key found no more.
   */
  private arrayLookupBatch(impl: BpfMapImpl, a: Record<string, unknown>, max: number, keys: Uint8Array, values: Uint8Array): [done: number, end: boolean] {
    const ks = impl.keySize;
    const size = this.sysValueSize(impl);
    const hasIn = a['in_batch'] !== undefined && a['in_batch'] !== null;
    const out = this.buffer(a, 'out_batch', ks);
    const mem = this.runtime.mem;
    // prev key, next key, value
    const at = this.stage(2 * ks + size);
    if (hasIn) mem.write(at, this.buffer(a, 'in_batch', ks).subarray(0, ks));
    let prev = hasIn ? at : 0;
    let cp = 0;
    let end = false;
    for (; cp < max; cp++) {
      const next = at + ks;
      if (impl.getNextKey(prev, next) < 0) {
        end = true;
        break;
      }
      const r = impl.sysLookup!(next, at + 2 * ks);
      if (r < 0) this.fail(r, `error ${r}`);
      keys.set(mem.u8.subarray(next, next + ks), cp * ks);
      values.set(mem.u8.subarray(at + 2 * ks, at + 2 * ks + size), cp * size);
      mem.u8.copyWithin(at, next, next + ks);
      prev = at;
    }
    if (cp > 0) out.set(mem.u8.subarray(at, at + ks));
    return [cp, end];
  }

  /** BPF_MAP_FREEZE: from now on bpf(2) may read the map but not write it (programs still may). */
  private mapFreeze(m: MapObject): number {
    this.checkPerms(m, false, true);
    this.frozen.add(m);
    this.freezes++;
    return 0;
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

/** `n` bytes of the memory at `from` into `dst` at `at`: a loop for small keys and values (a subarray per element costs more). */
function copyOut(dst: Uint8Array, at: number, u8: Uint8Array, from: number, n: number): void {
  if (n > 32) dst.set(u8.subarray(from, from + n), at);
  else for (let i = 0; i < n; i++) dst[at + i] = u8[from + i]!;
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

/** The result of a test run: r0, the mean time per run, the engine, the data after the last run. */
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
  if (engine === 'interpreter') return prog.interpreter;
  // no engine asked for on a tiered load: the JIT once it has compiled, never waiting for it
  if (engine === undefined && prog.tier) return prog.tier.ready() ?? prog.interpreter;
  return prog.jit ?? prog.interpreter;
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
    // a run with a packet frame (XDP, tc) batches only where its helpers can follow each run's input (JitProgram.batchesInputs)
    const frames = run.input.frame !== undefined;
    if (it.execBatch !== undefined && repeat > 1 && (!frames || (it instanceof JitProgram && it.batchesInputs))) {
      // Many runs over one input in one call (the JIT: without leaving WebAssembly): one descriptor per run, in chunks.
      const chunk = Math.min(repeat, 4096);
      const mem = sys.runtime.mem;
      const desc = mem.alloc(frames ? inputBatchBytes(chunk) : batchBytes(chunk));
      const inputs = frames ? new Array<RunInput>(chunk).fill(run.input) : undefined;
      try {
        const pkt = run.input.packet;
        if (inputs) writeInputDescriptors(mem.view, desc, inputs);
        else {
          for (let i = 0; i < chunk; i++) {
            writeBatchDescriptor(mem.view, desc, i, Number(run.input.r1 ?? 0), pkt?.addr ?? 0, pkt?.len ?? 0, pkt?.netOff ?? -1);
          }
        }
        const t0 = performance.now();
        for (let done = 0; done < repeat; done += chunk) {
          const n = Math.min(chunk, repeat - done);
          // the last, shorter batch over inputs: its own layout (batch.ts, writeInputDescriptors)
          if (inputs && n !== inputs.length) {
            inputs.length = n;
            writeInputDescriptors(mem.view, desc, inputs);
          }
          // the batch bumps the maps' run generation per run
          for (const m of maps) m.enterRun();
          try {
            if (inputs) (it as JitProgram).execBatch(desc, n, inputs);
            else it.execBatch(desc, n);
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
