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
 */

import { BpfError } from '../errors.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST } from '../maps/map.js';
import { mapTypeByName } from '../maps/types.js';
import type { MapTypeName } from '../maps/types.js';
import type { BpfSystem } from './bpf.js';
import { BPF_CMD } from './bpf.js';
import type { MapObject } from './objects.js';
import { describe, quote } from './describe.js';

export interface Codec<T> {
  size?: number;
  encode(v: T): Uint8Array;
  decode(b: Uint8Array): T;
}

/** A name the caller gave: quoted when it is a string, else described. */
export function named(v: unknown): string {
  return typeof v === 'string' ? quote(v) : describe(v);
}

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
export const u16 = intCodec<number>(2, false);
export const u32 = intCodec<number>(4, false);
export const i32 = intCodec<number>(4, true);
export const u64 = intCodec<bigint>(8, false);
export const i64 = intCodec<bigint>(8, true);

export type UpdateFlag = 'any' | 'noexist' | 'exist';
const FLAGS: Record<UpdateFlag, number> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

export interface MapSpec {
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name?: string;
}

export class BpfMap<K = Uint8Array, V = Uint8Array> {
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly type: number;
  private obj: MapObject | undefined;

  constructor(
    readonly sys: BpfSystem,
    readonly fd: number,
    private readonly keyCodec: Codec<K> = bytes as unknown as Codec<K>,
    private readonly valueCodec: Codec<V> = bytes as unknown as Codec<V>,
    readonly name = '',
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
    const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: mapType, key_size: spec.keySize, value_size: spec.valueSize, max_entries: spec.maxEntries });
    const m = sys.mapOf(fd);
    m.name = spec.name ?? '';
    return new BpfMap<K, V>(sys, fd, codecs.key, codecs.value, spec.name ?? '');
  }

  /** The map this wrapper holds; EBADF once closed. */
  get object(): MapObject {
    if (!this.obj) throw new BpfError('EBADF', `map ${this.name || this.fd} is closed`);
    return this.obj;
  }

  private key(k: K): Uint8Array {
    const b = this.keyCodec.encode(k);
    if (b.length !== this.keySize) throw new BpfError('EINVAL', `key of ${b.length} bytes, the map's keys have ${this.keySize}`);
    return b;
  }

  /** The value for `key`, or undefined when there is none. */
  lookup(key: K): V | undefined {
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
    const obj = this.object;
    const f = Object.hasOwn(FLAGS, flags) ? FLAGS[flags] : undefined;
    if (f === undefined) throw new BpfError('EINVAL', `unknown update flag ${named(flags)} (any, noexist, exist)`);
    const v = this.valueCodec.encode(value);
    if (v.length !== this.valueSize) throw new BpfError('EINVAL', `value of ${v.length} bytes, the map's values have ${this.valueSize}`);
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

  *entries(): IterableIterator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Close the fd (if it still names this map) and drop the wrapper's reference. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.obj = undefined;
    this.sys.closeFdOf(this.fd, obj);
    this.sys.release(obj);
  }
}
