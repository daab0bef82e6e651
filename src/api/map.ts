/**
 * BpfMap: the idiomatic map API on top of bpf(), in the spirit of
 * cilium/ebpf's Map and aya's HashMap: lookup, update with named flags,
 * delete, nextKey, iteration, optional typed codecs, close. Every call goes
 * through the bpf() command code (BpfSystem.bpfOnMap), so the low-level and
 * the idiomatic API share one implementation and one set of errors.
 *
 * A BpfMap holds its own reference to the map, apart from its fd, and acts
 * on the map itself: closing the fd through BpfSystem.close, or the fd's
 * number being reused by another map, neither frees nor redirects it. After
 * close() every call is EBADF.
 *
 * The later kernels' map types (the modern profile) have their own calls:
 * per-CPU maps read and write every CPU's value (lookupPerCpu,
 * updatePerCpu: what the kernel's syscall carries; lookup and update are
 * EINVAL there, as one value would be ambiguous), queues and stacks push,
 * pop and peek, ring buffers give their submitted records (records), and
 * lookupAndDelete and freeze are the commands of those names.
 *
 * A map may carry the BTF of its key and value (`MapSpec.btf`, what an
 * object's `__type(key, ...)` and `__type(value, ...)` say): `btfCodecs`
 * makes codecs of it (keys and values as JavaScript objects, numbers and
 * bigints), which a Collection gives its maps; `raw` is the same map with
 * bytes for keys and values, whatever its codecs.
 */

import { BpfError } from '../errors.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST } from '../maps/map.js';
import { mapTypeByName } from '../maps/types.js';
import type { MapTypeName } from '../maps/types.js';
import type { BpfSystem } from './bpf.js';
import { BPF_CMD } from './bpf.js';
import type { MapObject } from './objects.js';
import { describe, quote } from './describe.js';
import { btfCodec } from '../btf/index.js';
import type { BtfValue } from '../btf/index.js';
import type { MapBtf } from '../loader/spec.js';
import type { BpfMapImpl } from '../maps/map.js';
import { BPF_F_ACCESS_MASK, BPF_MAP_TYPE, E, roundUp8 } from '../maps/map.js';
import type { AddressSpace } from '../memory/address-space.js';

/**
 * The fast path's staging memory: one block per system in its address
 * space, where a key and a value are written for the map's own operations
 * (which take addresses). Grown, never shrunk, for the system's lifetime;
 * a BpfMap reads `addr` on every call, since a later, larger map moves it.
 */
interface Staging {
  addr: number;
  size: number;
}
const stagings = new WeakMap<BpfSystem, Staging>();

function stagingFor(sys: BpfSystem, bytes: number): Staging {
  const mem = sys.runtime.mem;
  let s = stagings.get(sys);
  if (s === undefined) {
    s = { addr: mem.alloc(bytes), size: bytes };
    stagings.set(sys, s);
  } else if (s.size < bytes) {
    const addr = mem.alloc(bytes);
    mem.release(s.addr);
    s.addr = addr;
    s.size = bytes;
  }
  return s;
}

/** How a BpfMap turns keys or values to bytes and back (u32, u64, bytes, ... or your own). */
export interface Codec<T> {
  size?: number;
  /** A key or value to its bytes (exactly the map's key or value size). */
  encode(v: T): Uint8Array;
  /** Bytes read from the map to a key or value. */
  decode(b: Uint8Array): T;
  /**
   * Optional, for BpfMap's fast path: write v's `size` bytes into `target`
   * at `offset` without allocating, refusing v exactly as encode does.
   */
  encodeInto?(v: T, target: Uint8Array, offset: number): void;
  /** Optional, for BpfMap's fast path: the key or value whose `size` bytes are at `offset` of `source`, read in place. */
  decodeAt?(source: Uint8Array, offset: number): T;
}

/** A name the caller gave: quoted when it is a string, else described. */
export function named(v: unknown): string {
  return typeof v === 'string' ? quote(v) : describe(v);
}

/** The identity codec: keys or values as raw Uint8Arrays. */
export const bytes: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b };

/** A copy of `n` bytes at `at`: a loop for small values (slice of the whole memory costs more than the copy). */
function copyOut(u8: Uint8Array, at: number, n: number): Uint8Array {
  if (n > 32) return u8.slice(at, at + n);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = u8[at + i]!;
  return out;
}

/** Typed arrays use the host's byte order; the aligned u64 reads below need it to be the maps' (little-endian). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function intCodec<T extends number | bigint>(size: 1 | 2 | 4 | 8, signed: boolean): Codec<T> {
  // Views of the last Uint8Array written or read (the runtime's memory, on the fast path), so a call
  // allocates nothing; compared by the array object, as a typed array's .buffer getter is slow.
  let last: Uint8Array | undefined;
  let dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(8));
  /** 64-bit words of `last` from its start (empty unless its offset is 8-aligned): aligned u64 reads without DataView's slow path */
  let words: BigUint64Array<ArrayBufferLike> | BigInt64Array<ArrayBufferLike> = new BigUint64Array(0);
  const viewOf = (b: Uint8Array): DataView => {
    if (b !== last) {
      last = b;
      dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const aligned = LITTLE_ENDIAN_HOST && b.byteOffset % 8 === 0;
      const n = aligned ? Math.floor(b.byteLength / 8) : 0;
      words = signed ? new BigInt64Array(b.buffer, b.byteOffset, n) : new BigUint64Array(b.buffer, b.byteOffset, n);
    }
    return dv;
  };
  const check = (v: T): void => {
    if (size === 8) {
      if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw new BpfError('EINVAL', `${describe(v)} is not an integer`);
    } else if (typeof v !== 'number' || !Number.isInteger(v)) throw new BpfError('EINVAL', `${describe(v)} is not an integer`);
  };
  const encodeInto = (v: T, target: Uint8Array, offset: number): void => {
    check(v);
    const d = viewOf(target);
    // setBigUint64 keeps the low 64 bits of any bigint, as BigInt.asUintN(64, v) would
    if (size === 8) {
      const x = typeof v === 'bigint' ? v : BigInt(v);
      // (a typed array's store keeps the low 64 bits too)
      if ((offset & 7) === 0 && offset >>> 3 < words.length) words[offset >>> 3] = x;
      else d.setBigUint64(offset, x, true);
    }
    else if (size === 4) d.setUint32(offset, (v as number) >>> 0, true);
    else if (size === 2) d.setUint16(offset, (v as number) & 0xffff, true);
    else d.setUint8(offset, (v as number) & 0xff);
  };
  const decodeAt = (b: Uint8Array, offset: number): T => {
    const d = viewOf(b);
    if (size === 8) {
      if ((offset & 7) === 0 && offset >>> 3 < words.length) return words[offset >>> 3] as T;
      return (signed ? d.getBigInt64(offset, true) : d.getBigUint64(offset, true)) as T;
    }
    if (size === 4) return (signed ? d.getInt32(offset, true) : d.getUint32(offset, true)) as T;
    if (size === 2) return (signed ? d.getInt16(offset, true) : d.getUint16(offset, true)) as T;
    return (signed ? d.getInt8(offset) : d.getUint8(offset)) as T;
  };
  return {
    size,
    encode(v: T): Uint8Array {
      const b = new Uint8Array(size);
      encodeInto(v, b, 0);
      return b;
    },
    decode(b: Uint8Array): T {
      if (!(b instanceof Uint8Array) || b.length < size) throw new BpfError('EINVAL', `${describe(b)} is not ${size} bytes to decode`);
      return decodeAt(b, 0);
    },
    encodeInto,
    decodeAt,
  };
}

/** Little-endian integer codecs, as a C key or value of that type. */
export const u8 = intCodec<number>(1, false);
/** Codec: an unsigned 16-bit little-endian integer as a number. */
export const u16 = intCodec<number>(2, false);
/** Codec: an unsigned 32-bit little-endian integer as a number. */
export const u32 = intCodec<number>(4, false);
/** Codec: a signed 32-bit little-endian integer as a number. */
export const i32 = intCodec<number>(4, true);
/** Codec: an unsigned 64-bit little-endian integer as a bigint. */
export const u64 = intCodec<bigint>(8, false);
/** Codec: a signed 64-bit little-endian integer as a bigint. */
export const i64 = intCodec<bigint>(8, true);

/** BPF_MAP_UPDATE_ELEM's flag by name: any (BPF_ANY), noexist, exist. */
export type UpdateFlag = 'any' | 'noexist' | 'exist';
const FLAGS: Record<UpdateFlag, number> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

/** What BpfMap.create makes: type, key and value sizes, entries, and a name. */
export interface MapSpec {
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name?: string;
  /** map_flags (modern profile), e.g. BPF_F_NO_PREALLOC (1), which an lpm_trie requires */
  flags?: number;
  /** a map of maps' template: an inner map like the ones it will hold */
  innerMap?: BpfMap<unknown, unknown>;
  /** the BTF of its key and value (an object's BTF-defined map): kept for btfCodecs and readable dumps */
  btf?: MapBtf;
}

/**
 * Codecs from a map's BTF: keys and values as btfCodec gives them (structs
 * as objects, 64-bit ints as bigints, enums by name). A side without a type
 * (0) stays bytes; either side also takes a Uint8Array of exactly its size
 * as the raw bytes; a global-data map's value (its section) stays bytes.
 * EINVAL when a type's size is not the map's.
 */
export function btfCodecs(mb: MapBtf, keySize: number, valueSize: number): { key: Codec<BtfValue>; value: Codec<BtfValue> } {
  const side = (id: number, size: number, root: 'key' | 'value'): Codec<BtfValue> => {
    if (id === 0) return bytes as Codec<BtfValue>;
    const c = btfCodec(mb.btf, id, { root });
    if (c.size !== size) throw new BpfError('EINVAL', `the ${root} type ${c.typeName} has ${c.size} bytes, the map's ${root}s ${size}`);
    return {
      size,
      encode: (v) => (v instanceof Uint8Array && v.length === size ? v : c.encode(v)),
      decode: (b) => c.decode(b),
    };
  };
  // a global-data map's value is its section: typed by spec.variables, bytes here
  return { key: side(mb.key, keySize, 'key'), value: side(mb.vars ? 0 : mb.value, valueSize, 'value') };
}

/** A map by its fd, with typed keys and values (Codec): lookup, update, delete, iterate, close. Holds its own reference to the map. */
export class BpfMap<K = Uint8Array, V = Uint8Array> {
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly type: number;
  private obj: MapObject | undefined;
  /** the `raw` view, made on first use */
  private rawView: BpfMap | undefined;
  /** a view (raw) holds a reference but not the fd: closing it leaves the fd alone */
  private view = false;
  /**
   * The fast path (array and hash maps without access flags): lookup,
   * update and delete call the map's own operations on a key and value
   * staged in the runtime's memory, without bpf() attributes, and decode
   * the value where it lies. Any failure other than a missing key goes
   * back through bpf() (a failed operation changes nothing), so every
   * error keeps its errno, message and command.
   */
  private readonly direct: BpfMapImpl | undefined;
  private readonly mem: AddressSpace;
  private readonly staging: Staging | undefined;
  /** where the value is staged: after the key, rounded to 8 */
  private readonly valueAt: number;
  private readonly isPerCpu: boolean;

  constructor(
    readonly sys: BpfSystem,
    readonly fd: number,
    private readonly keyCodec: Codec<K> = bytes as unknown as Codec<K>,
    private readonly valueCodec: Codec<V> = bytes as unknown as Codec<V>,
    readonly name = '',
    /** the BTF of its key and value, when it has some (MapSpec.btf) */
    readonly btf?: MapBtf,
  ) {
    const obj = sys.mapOf(fd);
    sys.hold(obj);
    this.obj = obj;
    const { impl } = obj;
    this.keySize = impl.keySize;
    this.valueSize = impl.valueSize;
    this.maxEntries = impl.maxEntries;
    this.type = impl.type;
    this.mem = sys.runtime.mem;
    this.isPerCpu = impl.sysValueSize !== undefined && impl.sysValueSize !== impl.valueSize && impl.fdKind === undefined;
    this.valueAt = roundUp8(impl.keySize);
    // A plain hash's and array's syscall operations are its program-side ones (a lookup outside a run pins nothing).
    // Not a hash in a shared memory: another thread may reuse the element between the lookup and the decode.
    const plain = (impl.type === BPF_MAP_TYPE.HASH && !this.mem.shared) || impl.type === BPF_MAP_TYPE.ARRAY;
    if (plain && impl.keySize > 0 && (impl.mapFlags & BPF_F_ACCESS_MASK) === 0) {
      this.direct = impl;
      this.staging = stagingFor(sys, this.valueAt + roundUp8(impl.valueSize));
    }
  }

  /** Stage `key` at `at` in the runtime's memory, refusing it as key() does. */
  private stageKey(key: K, at: number): void {
    const c = this.keyCodec;
    if (c.encodeInto !== undefined && c.size === this.keySize) {
      c.encodeInto(key, this.mem.u8, at);
      return;
    }
    const b = c === (bytes as unknown) && key instanceof Uint8Array && key.length === this.keySize ? key : this.key(key);
    const u8 = this.mem.u8;
    if (b.length === 4) {
      u8[at] = b[0]!;
      u8[at + 1] = b[1]!;
      u8[at + 2] = b[2]!;
      u8[at + 3] = b[3]!;
    } else u8.set(b, at);
  }

  /** The value whose bytes are at `at` in the runtime's memory. */
  private valueAtAddr(at: number): V {
    const c = this.valueCodec;
    if (c.decodeAt !== undefined && c.size === this.valueSize) return c.decodeAt(this.mem.u8, at);
    return c.decode(copyOut(this.mem.u8, at, this.valueSize));
  }

  /** Stage `value` at `at`, refusing it as encodeValue() does. */
  private stageValue(value: V, at: number): void {
    const c = this.valueCodec;
    if (c.encodeInto !== undefined && c.size === this.valueSize) c.encodeInto(value, this.mem.u8, at);
    else this.mem.u8.set(this.encodeValue(value), at);
  }

  /** Create a map (BPF_MAP_CREATE) and wrap its fd. */
  static create<K = Uint8Array, V = Uint8Array>(sys: BpfSystem, spec: MapSpec, codecs: { key?: Codec<K>; value?: Codec<V> } = {}): BpfMap<K, V> {
    if (typeof spec !== 'object' || spec === null) throw new BpfError('EINVAL', `a map spec must be an object { type, keySize, valueSize, maxEntries }, got ${describe(spec)}`);
    if (typeof codecs !== 'object' || codecs === null) throw new BpfError('EINVAL', `codecs must be an object { key, value }, got ${describe(codecs)}`);
    const mapType = mapTypeByName(spec.type, named(spec.type), sys.profile).id;
    const attr: Record<string, unknown> = { map_type: mapType, key_size: spec.keySize, value_size: spec.valueSize, max_entries: spec.maxEntries };
    if (spec.flags !== undefined) attr['map_flags'] = spec.flags;
    if (spec.innerMap !== undefined) {
      if (!(spec.innerMap instanceof BpfMap)) throw new BpfError('EINVAL', `innerMap must be a BpfMap, got ${describe(spec.innerMap)}`);
      attr['inner_map_fd'] = spec.innerMap.fd;
    }
    const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, attr);
    const m = sys.mapOf(fd);
    m.name = spec.name ?? '';
    return new BpfMap<K, V>(sys, fd, codecs.key, codecs.value, spec.name ?? '', spec.btf);
  }

  /** The same map with keys and values as bytes, whatever this one's codecs (this map itself when it has none). Closed with it. */
  get raw(): BpfMap {
    if (this.keyCodec === (bytes as unknown) && this.valueCodec === (bytes as unknown)) return this as unknown as BpfMap;
    // made again when the view was closed on its own (closing a view leaves the map and its fd)
    if (this.rawView === undefined || this.rawView.obj === undefined) {
      const obj = this.object;
      if (this.sys.mapOf(this.fd) !== obj) throw new BpfError('EBADF', `map ${this.name || this.fd}: its fd no longer names it`);
      const v = new BpfMap(this.sys, this.fd, bytes, bytes, this.name, this.btf);
      v.view = true;
      this.rawView = v;
    }
    return this.rawView;
  }

  /** The map this wrapper holds; EBADF once closed. */
  get object(): MapObject {
    if (!this.obj) throw new BpfError('EBADF', `map ${this.name || this.fd} is closed`);
    return this.obj;
  }

  private key(k: K): Uint8Array {
    const b = this.keyCodec.encode(k);
    // the bytes codec passes anything through: a number or a string is no key
    if (!(b instanceof Uint8Array)) throw new BpfError('EINVAL', `key must be a Uint8Array of ${this.keySize} bytes (this map has no key codec), got ${typeof k}`);
    if (b.length !== this.keySize) throw new BpfError('EINVAL', `key of ${b.length} bytes, the map's keys have ${this.keySize}`);
    return b;
  }

  /** Per-CPU maps: a value per simulated CPU on the syscall side. */
  get perCpu(): boolean {
    this.object;
    return this.isPerCpu;
  }

  private notPerCpu(call: string): void {
    // a closed map is EBADF first, whatever its type
    if (this.isPerCpu && this.object) throw new BpfError('EINVAL', `${this.name || 'the map'} is a per-CPU map: use ${call}PerCpu, which carries every CPU's value`);
  }

  /** Every CPU's value for `key` (a per-CPU map), or undefined when there is none. */
  lookupPerCpu(key: K): V[] | undefined {
    const { impl } = this.object;
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const all = new Uint8Array(impl.sysValueSize ?? this.valueSize);
    try {
      this.sys.bpfOnMap(this.object, BPF_CMD.BPF_MAP_LOOKUP_ELEM, { key: this.key(key), value: all });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    const out: V[] = [];
    for (let o = 0; o < all.length; o += stride) out.push(this.valueCodec.decode(all.slice(o, o + this.valueSize)));
    return out;
  }

  /** Set `key`'s value on every CPU: one value for all, or one per CPU (a per-CPU map). */
  updatePerCpu(key: K, values: V | readonly V[], flags: UpdateFlag = 'any'): void {
    const { impl } = this.object;
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const all = new Uint8Array(impl.sysValueSize ?? this.valueSize);
    const cpus = all.length / stride;
    const list = Array.isArray(values) ? (values as readonly V[]) : new Array<V>(cpus).fill(values as V);
    if (list.length !== cpus) throw new BpfError('EINVAL', `${list.length} values for ${cpus} CPUs`);
    list.forEach((v, i) => all.set(this.encodeValue(v), i * stride));
    this.sys.bpfOnMap(this.object, BPF_CMD.BPF_MAP_UPDATE_ELEM, { key: this.key(key), value: all, flags: this.flag(flags) });
  }

  private encodeValue(value: V): Uint8Array {
    const v = this.valueCodec.encode(value);
    if (!(v instanceof Uint8Array)) throw new BpfError('EINVAL', `value must be a Uint8Array of ${this.valueSize} bytes (this map has no value codec), got ${typeof value}`);
    if (v.length !== this.valueSize) throw new BpfError('EINVAL', `value of ${v.length} bytes, the map's values have ${this.valueSize}`);
    return v;
  }

  private flag(flags: UpdateFlag): number {
    const f = Object.hasOwn(FLAGS, flags) ? FLAGS[flags] : undefined;
    if (f === undefined) throw new BpfError('EINVAL', `unknown update flag ${named(flags)} (any, noexist, exist)`);
    return f;
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM: the value for `key`, removed; undefined when there is none. */
  lookupAndDelete(key: K): V | undefined {
    this.notPerCpu('lookup');
    const value = new Uint8Array(this.valueSize);
    try {
      this.sys.bpfOnMap(this.object, BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_ELEM, { key: this.key(key), value });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return this.valueCodec.decode(value);
  }

  /** Queues and stacks: push a value ('exist': drop the oldest when full, else E2BIG). */
  push(value: V, flags: 'any' | 'exist' = 'any'): void {
    this.sys.bpfOnMap(this.object, BPF_CMD.BPF_MAP_UPDATE_ELEM, { value: this.encodeValue(value), flags: this.flag(flags) });
  }

  /** Queues and stacks: the next value, removed (the oldest of a queue, the newest of a stack); undefined when empty. */
  pop(): V | undefined {
    return this.takeValue(BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_ELEM);
  }

  /** Queues and stacks: the value pop() would give, left in place. */
  peek(): V | undefined {
    return this.takeValue(BPF_CMD.BPF_MAP_LOOKUP_ELEM);
  }

  private takeValue(cmd: number): V | undefined {
    const value = new Uint8Array(this.valueSize);
    try {
      this.sys.bpfOnMap(this.object, cmd, { value });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return this.valueCodec.decode(value);
  }

  /** Ring buffers: the records submitted since the last call, in order (they are consumed). */
  records(): Uint8Array[] {
    const { impl } = this.object;
    if (!impl.records) throw new BpfError('EINVAL', `${this.name || 'the map'} is not a ring buffer`);
    return impl.records();
  }

  /** BPF_MAP_FREEZE: bpf(2) may no longer write the map (programs still may). */
  freeze(): void {
    this.sys.bpfOnMap(this.object, BPF_CMD.BPF_MAP_FREEZE, {});
  }

  /** The value for `key`, or undefined when there is none. */
  lookup(key: K): V | undefined {
    const direct = this.direct;
    if (direct !== undefined && this.obj !== undefined) {
      const at = this.staging!.addr;
      this.stageKey(key, at);
      const v = direct.lookup(at);
      return v === 0 ? undefined : this.valueAtAddr(v);
    }
    this.notPerCpu('lookup');
    const obj = this.object;
    const value = new Uint8Array(this.valueSize);
    try {
      this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_LOOKUP_ELEM, { key: this.key(key), value });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return this.valueCodec.decode(value);
  }

  /** BPF_MAP_UPDATE_ELEM; errors (EEXIST, ENOENT, E2BIG, ...) throw. */
  update(key: K, value: V, flags: UpdateFlag = 'any'): void {
    this.notPerCpu('update');
    const obj = this.object;
    const f = flags === 'any' ? 0 : Object.hasOwn(FLAGS, flags) ? FLAGS[flags] : undefined;
    if (f === undefined) throw new BpfError('EINVAL', `unknown update flag ${named(flags)} (any, noexist, exist)`);
    const direct = this.direct;
    if (direct !== undefined && !this.sys.isFrozen(obj)) {
      const at = this.staging!.addr;
      this.stageValue(value, at + this.valueAt);
      this.stageKey(key, at);
      if (direct.update(at, at + this.valueAt, f, 0) === 0) return;
    }
    const v = this.encodeValue(value);
    this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_UPDATE_ELEM, { key: this.key(key), value: v, flags: f });
  }

  /** Delete `key`: true if it was there, false if not; EINVAL (array maps) throws. */
  delete(key: K): boolean {
    const obj = this.object;
    const direct = this.direct;
    if (direct !== undefined && !this.sys.isFrozen(obj)) {
      const at = this.staging!.addr;
      this.stageKey(key, at);
      const r = direct.delete(at);
      if (r === 0) return true;
      if (r === E.ENOENT) return false;
    }
    try {
      this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_DELETE_ELEM, { key: this.key(key) });
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return false;
      throw e;
    }
  }

  /**
   * BPF_MAP_LOOKUP_BATCH (modern profile): up to `count` elements from
   * `cursor` (the start without one), in one command; `next` is the cursor
   * of the following batch, undefined once the map is walked. The hash maps
   * give whole buckets (ENOSPC when `count` cannot hold the first); arrays
   * give their indexes in order. A per-CPU map is EINVAL (lookupPerCpu).
   */
  lookupBatch(count: number, cursor?: Uint8Array): { entries: [K, V][]; next: Uint8Array | undefined } {
    return this.batchOf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, count, cursor);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps): lookupBatch, the elements given removed. */
  lookupAndDeleteBatch(count: number, cursor?: Uint8Array): { entries: [K, V][]; next: Uint8Array | undefined } {
    return this.batchOf(BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_BATCH, count, cursor);
  }

  private batchOf(cmd: number, count: number, cursor: Uint8Array | undefined): { entries: [K, V][]; next: Uint8Array | undefined } {
    this.notPerCpu('lookup');
    const obj = this.object;
    if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) throw new BpfError('EINVAL', `count must be a positive 32-bit integer, got ${describe(count)}`);
    if (cursor !== undefined && !(cursor instanceof Uint8Array)) throw new BpfError('EINVAL', `cursor must be the Uint8Array a batch gave as next, got ${describe(cursor)}`);
    const ks = this.keySize;
    const vs = this.valueSize;
    const out = new Uint8Array(Math.max(4, ks));
    const attr = { in_batch: cursor ?? null, out_batch: out, keys: new Uint8Array(count * ks), values: new Uint8Array(count * vs), count };
    let end = false;
    try {
      this.sys.bpfOnMap(obj, cmd, attr);
    } catch (e) {
      if (!(e instanceof BpfError && e.code === 'ENOENT')) throw e;
      end = true;
    }
    const entries: [K, V][] = new Array(attr.count);
    const kc = this.keyCodec;
    const vc = this.valueCodec;
    const kIn = kc.decodeAt !== undefined && kc.size === ks;
    const vIn = vc.decodeAt !== undefined && vc.size === vs;
    for (let i = 0; i < attr.count; i++) {
      const k = kIn ? kc.decodeAt!(attr.keys, i * ks) : kc.decode(copyOut(attr.keys, i * ks, ks));
      const v = vIn ? vc.decodeAt!(attr.values, i * vs) : vc.decode(copyOut(attr.values, i * vs, vs));
      entries[i] = [k, v];
    }
    return { entries, next: end ? undefined : out };
  }

  /**
   * BPF_MAP_UPDATE_BATCH (modern profile): every [key, value], in one
   * command, in order, as update(key, value, 'any') (the kernel's batch
   * takes no BPF_NOEXIST or BPF_EXIST); the first failure stops it and
   * throws, its message naming the element (those before it are done).
   */
  updateBatch(entries: readonly (readonly [K, V])[]): void {
    this.notPerCpu('update');
    const obj = this.object;
    if (!Array.isArray(entries)) throw new BpfError('EINVAL', `entries must be an array of [key, value], got ${describe(entries)}`);
    const ks = this.keySize;
    const vs = this.valueSize;
    const keys = new Uint8Array(entries.length * ks);
    const values = new Uint8Array(entries.length * vs);
    entries.forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 2) throw new BpfError('EINVAL', `entry ${i} is not a [key, value] pair: ${describe(e)}`);
      keys.set(this.key(e[0] as K), i * ks);
      values.set(this.encodeValue(e[1] as V), i * vs);
    });
    if (entries.length === 0) return;
    this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_UPDATE_BATCH, { keys, values, count: entries.length });
  }

  /** BPF_MAP_DELETE_BATCH (hash maps): delete every key in one command, in order; a missing key stops it (ENOENT, naming the element). */
  deleteBatch(keys: readonly K[]): void {
    const obj = this.object;
    if (!Array.isArray(keys)) throw new BpfError('EINVAL', `keys must be an array, got ${describe(keys)}`);
    const ks = this.keySize;
    const buf = new Uint8Array(keys.length * ks);
    keys.forEach((k, i) => buf.set(this.key(k), i * ks));
    if (keys.length === 0) return;
    this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_DELETE_BATCH, { keys: buf, count: keys.length });
  }

  /** The key after `key` in the map's order (the first key without one), or undefined at the end. */
  nextKey(key?: K): K | undefined {
    const obj = this.object;
    const next = new Uint8Array(this.keySize);
    try {
      this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_GET_NEXT_KEY, { key: key === undefined ? null : this.key(key), next_key: next });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return this.keyCodec.decode(next);
  }

  /** Keys in the map's order (get_next_key from no key until ENOENT). */
  *keys(): IterableIterator<K> {
    let k = this.nextKey();
    let guard = this.maxEntries + 1;
    while (k !== undefined && guard-- > 0) {
      yield k;
      k = this.nextKey(k);
    }
  }

  /** Every element as [key, value], in get_next_key order (a per-CPU map: use keys() and lookupPerCpu). */
  *entries(): IterableIterator<[K, V]> {
    this.notPerCpu('lookup');
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /** The same as entries(). */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Close the fd (if it still names this map) and drop the wrapper's reference. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.rawView?.close();
    this.obj = undefined;
    if (!this.view) this.sys.closeFdOf(this.fd, obj);
    this.sys.release(obj);
  }
}
