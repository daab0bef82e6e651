/**
 * BPF_MAP_TYPE_ARRAY as in 3.19's kernel/bpf/arraymap.c: max_entries values
 * of round_up(value_size, 8) bytes, zero-filled at creation, indexed by a
 * 4-byte host-endian key. Every element always exists: update with
 * BPF_NOEXIST is EEXIST, delete is EINVAL, and get_next_key restarts at 0
 * from any out-of-range key.
 *
 * BPF_MAP_TYPE_PERCPU_ARRAY (4.6) is the same map with one value per
 * simulated CPU: CPU c's values are a block of max_entries values at
 * base + c * max_entries * stride, so a program's lookup gives its CPU's
 * value, and the syscall's lookup and update carry every CPU's value, each
 * in round_up(value_size, 8) bytes, as the kernel's bpf_percpu_array_copy
 * and bpf_percpu_array_update do (the padding bytes included: the kernel
 * copies whole longs).
 *
 * The shape (base, stride, max_entries) is this object's, never read back
 * from memory: an index is checked against max_entries before it becomes
 * an address, so any key gives a value inside the map or NULL.
 *
 * In a shared memory (maps/shared.ts) another thread attaches the same
 * array (shareState, attachArray): an array's state is all in that memory,
 * so the attached object is its shape over the same bytes. Concurrent
 * updates of one value may interleave their bytes, as the kernel's do
 * (only bpf_spin_lock values are copied whole there).
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, JitArrayLayout, MapAttr, MapEnv, MapType, SharedMapState } from './map.js';
import { BPF_EXIST, BPF_F, BPF_F_ACCESS_MASK, BPF_MAP_TYPE, BPF_NOEXIST, E, ONE_CPU, allocMapStorage, copyBytes, isModern, roundUp8 } from './map.js';
import { isSharedMemory } from './shared.js';

/** PCPU_MIN_UNIT_SIZE: the largest per-CPU value the kernel allocates (E2BIG beyond) */
export const PCPU_MAX_VALUE = 32768;

/** Both array types; ArrayMap adds the inline JIT layout and direct value access. */
export class ArrayMapBase implements BpfMapImpl {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly elemSize: number;
  readonly base: number;
  readonly region: Region;
  /** per-CPU: values per element (1 for a plain array) and the syscall's value size */
  readonly ncpus: number;
  readonly sysValueSize: number;
  private readonly mem: AddressSpace;
  private readonly env: MapEnv;
  /** another thread's map: its storage is that thread's to free */
  private readonly attached: boolean;

  /** `at`: the array another thread made in this shared memory (attachArray): its storage is used, nothing allocated */
  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv = ONE_CPU, perCpu = false, at?: SharedMapState) {
    const kind = perCpu ? 'percpu_array' : 'array';
    if (attr.maxEntries === 0 || attr.keySize !== 4 || attr.valueSize === 0) {
      throw new BpfError('EINVAL', `invalid ${kind} map: key_size must be 4 (got ${attr.keySize}), value_size and max_entries non-zero`);
    }
    if (perCpu && attr.valueSize > PCPU_MAX_VALUE) throw new BpfError('E2BIG', `percpu_array value_size ${attr.valueSize} exceeds ${PCPU_MAX_VALUE}`);
    if (perCpu && !isModern(env)) throw new BpfError('EINVAL', 'percpu_array needs the modern profile');
    this.type = perCpu ? BPF_MAP_TYPE.PERCPU_ARRAY : BPF_MAP_TYPE.ARRAY;
    this.ncpus = perCpu ? (at?.ncpus ?? env.cpus) : 1;
    this.env = env;
    this.mem = mem;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.elemSize = roundUp8(attr.valueSize);
    this.sysValueSize = perCpu ? this.elemSize * this.ncpus : this.valueSize;
    const bytes = this.elemSize * this.maxEntries * this.ncpus;
    const what = `${kind} map of ${this.maxEntries} x ${this.elemSize} bytes${perCpu ? ` x ${this.ncpus} CPUs` : ''}`;
    ({ addr: this.addr, base: this.base } = at ?? allocMapStorage(mem, bytes, what, attr));
    this.attached = at !== undefined;
    const valueSize = this.valueSize;
    const elemSize = this.elemSize;
    const base = this.base;
    this.region = {
      start: base,
      end: base + bytes,
      writable: true,
      name: `${kind} map value`,
      contains: (addr, end) => (addr - base) % elemSize + (end - addr) <= valueSize,
    };
  }

  private index(keyAddr: number): number {
    return this.mem.view.getUint32(keyAddr, true);
  }

  /** The address of element i's value for CPU cpu. */
  private at(i: number, cpu: number): number {
    return this.base + (cpu * this.maxEntries + i) * this.elemSize;
  }

  /** The running CPU (0 for a plain array), kept inside the map's CPUs. */
  private cpu(): number {
    if (this.ncpus === 1) return 0;
    const c = this.env.cpu();
    return c >= 0 && c < this.ncpus ? c : 0;
  }

  lookup(keyAddr: number): number {
    const i = this.index(keyAddr);
    return i < this.maxEntries ? this.at(i, this.cpu()) : 0;
  }

  update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.E2BIG;
    if (flagsLo === BPF_NOEXIST) return E.EEXIST;
    const u8 = this.mem.u8;
    copyBytes(u8, this.at(i, this.cpu()), valueAddr, this.valueSize);
    return 0;
  }

  sysLookup(keyAddr: number, outAddr: number): number {
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.ENOENT;
    if (this.ncpus === 1 && this.type === BPF_MAP_TYPE.ARRAY) {
      this.mem.u8.copyWithin(outAddr, this.at(i, 0), this.at(i, 0) + this.valueSize);
      return 0;
    }
    for (let c = 0; c < this.ncpus; c++) this.mem.u8.copyWithin(outAddr + c * this.elemSize, this.at(i, c), this.at(i, c) + this.elemSize);
    return 0;
  }

  sysUpdate(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (this.type === BPF_MAP_TYPE.ARRAY) return this.update(keyAddr, valueAddr, flagsLo, flagsHi);
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.E2BIG;
    if (flagsLo === BPF_NOEXIST) return E.EEXIST;
    for (let c = 0; c < this.ncpus; c++) this.mem.u8.copyWithin(this.at(i, c), valueAddr + c * this.elemSize, valueAddr + (c + 1) * this.elemSize);
    return 0;
  }

  delete(_keyAddr: number): number {
    return E.EINVAL;
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    const i = keyAddr === 0 ? this.maxEntries : this.index(keyAddr);
    let next: number;
    if (i >= this.maxEntries) next = 0;
    else if (i === this.maxEntries - 1) return E.ENOENT;
    else next = i + 1;
    this.mem.view.setUint32(nextKeyAddr, next, true);
    return 0;
  }

  enterRun(): void {}
  exitRun(): void {}

  free(): void {
    if (this.attached) return;
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }

  /** The array as another thread attaches it (attachArray); EINVAL unless the memory is shared. */
  shareState(): SharedMapState {
    if (!isSharedMemory(this.mem)) throw new BpfError('EINVAL', `${mapTypeOf(this.type)} map at 0x${this.addr.toString(16)} is not in a shared memory`);
    const { type, keySize, valueSize, maxEntries, mapFlags, addr, base, ncpus } = this;
    return { type, keySize, valueSize, maxEntries, mapFlags, addr, base, ncpus };
  }
}

const mapTypeOf = (type: number): string => (type === BPF_MAP_TYPE.ARRAY ? 'array' : 'percpu_array');

/** An array or percpu_array another thread made in this shared memory (shareState): the same map, nothing allocated. */
export function attachArray(mem: AddressSpace, state: SharedMapState, env: MapEnv): BpfMapImpl {
  const attr: MapAttr = { mapType: state.type, keySize: state.keySize, valueSize: state.valueSize, maxEntries: state.maxEntries, mapFlags: state.mapFlags };
  return state.type === BPF_MAP_TYPE.ARRAY ? new ArrayMap(mem, attr, env, state) : new ArrayMapBase(mem, attr, env, true, state);
}

/** BPF_MAP_TYPE_ARRAY. The JIT inlines its lookups; a per-CPU lookup depends on the run's CPU, so only plain arrays. */
export class ArrayMap extends ArrayMapBase {
  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv = ONE_CPU, at?: SharedMapState) {
    super(mem, attr, env, false, at);
  }

  jitLayout(): JitArrayLayout {
    return { type: BPF_MAP_TYPE.ARRAY, addr: this.addr, base: this.base, stride: this.elemSize, maxEntries: this.maxEntries };
  }

  /** BPF_PSEUDO_MAP_VALUE (global data): plain arrays only, as the kernel's map_direct_value_addr. */
  directValue(): number {
    return this.base;
  }
}

/** array_map_alloc_check's mask: NUMA node, mmapable, the access flags, inner-map */
const ARRAY_FLAGS = BPF_F.NUMA_NODE | BPF_F.MMAPABLE | BPF_F_ACCESS_MASK | BPF_F.INNER_MAP;

/** The map-type table's rows (maps/types.ts). */
export const ARRAY_MAP: MapType<'array'> = {
  name: 'array',
  id: BPF_MAP_TYPE.ARRAY,
  since: '3.19',
  dense: true,
  flags: ARRAY_FLAGS,
  create: (mem, attr, env) => new ArrayMap(mem, attr, env),
};

export const PERCPU_ARRAY_MAP: MapType<'percpu_array'> = {
  name: 'percpu_array',
  id: BPF_MAP_TYPE.PERCPU_ARRAY,
  since: '4.6',
  dense: true,
  flags: ARRAY_FLAGS & ~BPF_F.MMAPABLE,
  create: (mem, attr, env) => new ArrayMapBase(mem, attr, env, true),
};
