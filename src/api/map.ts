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

/** How a BpfMap turns keys or values to bytes and back (u32, u64, bytes, ... or your own). */
export interface Codec<T> {
  size?: number;
  /** A key or value to its bytes (exactly the map's key or value size). */
  encode(v: T): Uint8Array;
  /** Bytes read from the map to a key or value. */
  decode(b: Uint8Array): T;
}

/** A name the caller gave: quoted when it is a string, else described. */
export function named(v: unknown): string {
  return typeof v === 'string' ? quote(v) : describe(v);
}

/** The identity codec: keys or values as raw Uint8Arrays. */
export const bytes: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b };

function intCodec<T extends number | bigint>(size: 1 | 2 | 4 | 8, signed: boolean): Codec<T> {
  return {
    size,
    encode(v: T): Uint8Array {
      const b = new Uint8Array(size);
      const dv = new DataView(b.buffer);
      if (size === 8) {
        if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw new BpfError('EINVAL', `${describe(v)} is not an integer`);
        dv.setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
      } else {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new BpfError('EINVAL', `${describe(v)} is not an integer`);
        if (size === 4) dv.setUint32(0, v >>> 0, true);
        else if (size === 2) dv.setUint16(0, v & 0xffff, true);
        else dv.setUint8(0, v & 0xff);
      }
      return b;
    },
    decode(b: Uint8Array): T {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (size === 8) return (signed ? dv.getBigInt64(0, true) : dv.getBigUint64(0, true)) as T;
      if (size === 4) return (signed ? dv.getInt32(0, true) : dv.getUint32(0, true)) as T;
      if (size === 2) return (signed ? dv.getInt16(0, true) : dv.getUint16(0, true)) as T;
      return (signed ? dv.getInt8(0) : dv.getUint8(0)) as T;
    },
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
    const { impl } = this.object;
    return impl.sysValueSize !== undefined && impl.sysValueSize !== impl.valueSize && impl.fdKind === undefined;
  }

  private notPerCpu(call: string): void {
    if (this.perCpu) throw new BpfError('EINVAL', `${this.name || 'the map'} is a per-CPU map: use ${call}PerCpu, which carries every CPU's value`);
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
    const f = Object.hasOwn(FLAGS, flags) ? FLAGS[flags] : undefined;
    if (f === undefined) throw new BpfError('EINVAL', `unknown update flag ${named(flags)} (any, noexist, exist)`);
    const v = this.encodeValue(value);
    this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_UPDATE_ELEM, { key: this.key(key), value: v, flags: f });
  }

  /** Delete `key`: true if it was there, false if not; EINVAL (array maps) throws. */
  delete(key: K): boolean {
    const obj = this.object;
    try {
      this.sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_DELETE_ELEM, { key: this.key(key) });
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return false;
      throw e;
    }
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
