/**
 * The maps whose values are references to other objects, given as fds on
 * the syscall side: BPF_MAP_TYPE_PROG_ARRAY (4.2: programs, for
 * bpf_tail_call), BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS
 * (4.12: maps matching the template inner_map_fd named at creation), as the
 * kernel's arraymap.c, hashtab.c and map_in_map.c have them:
 *
 * - value_size 4 (the fd); a syscall lookup gives the object's id (u32),
 *   ENOENT for an empty slot; lookup-and-delete is ENOTSUPP.
 * - the arrays: update flags must be BPF_ANY (EINVAL), an index past
 *   max_entries is E2BIG for update and delete, deleting an empty slot is
 *   ENOENT; get_next_key as an array's. The fd is resolved after those
 *   checks (EBADF: not open; EINVAL: not a program / not a map, or not
 *   compatible).
 * - hash_of_maps: the fd is resolved first, then a hash map's update with
 *   its flags (EEXIST, ENOENT, E2BIG) and order; replacing an element's
 *   map is in place (it keeps its place in its bucket), as since 6.7.
 * - a prog array holds programs of one type: the first program stored
 *   decides it (the kernel's map owner), another type is EINVAL.
 * - an inner map must match the template's type, key_size, value_size and
 *   map_flags, and its max_entries unless the template has
 *   BPF_F_INNER_MAP; a prog array cannot be a template (ENOTSUPP), nor a map
 *   of maps (EINVAL).
 *
 * A program's lookup in a map of maps gives the inner map's address (what
 * the map helpers take as r1); in a prog array it gives nothing (the
 * verifier allows only bpf_tail_call there). References are held until the
 * element is replaced or deleted or the map is freed. Where tsbpf differs:
 * the kernel also clears a prog array when its last user reference (fd or
 * pin) goes, which breaks the cycle of a program holding the prog array
 * that holds it; tsbpf keeps such a cycle alive until the elements are
 * deleted.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, FdRef, InnerMeta, MapAttr, MapEnv, MapType } from './map.js';
import { BPF_ANY, BPF_F, BPF_F_ACCESS_MASK, BPF_MAP_TYPE, E, allocMapStorage } from './map.js';
import { HashMapBase } from './hash.js';

const ENOTSUPP = -524;

/** The template a map of maps keeps of its inner_map_fd (bpf_map_meta_alloc), and the match test (map_meta_equal). */
class InnerTemplate implements InnerMeta {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly mapFlags: number;
  readonly maxEntries: number;

  constructor(attr: MapAttr) {
    if (!attr.inner) throw new BpfError('EBADF', 'inner_map_fd 0 is not a map');
    const t = attr.inner();
    if (t.type === BPF_MAP_TYPE.PROG_ARRAY) throw new BpfError('ENOTSUPP', 'a prog_array cannot be an inner map');
    if (t.fdKind === 'map') throw new BpfError('EINVAL', 'a map of maps cannot be an inner map');
    this.type = t.type;
    this.keySize = t.keySize;
    this.valueSize = t.valueSize;
    this.mapFlags = t.mapFlags;
    this.maxEntries = t.maxEntries;
  }

  matches(m: BpfMapImpl): boolean {
    const sizeOk = (this.mapFlags & BPF_F.INNER_MAP) !== 0 || m.maxEntries === this.maxEntries;
    return m.type === this.type && m.keySize === this.keySize && m.valueSize === this.valueSize && m.mapFlags === this.mapFlags && sizeOk;
  }
}

/**
 * The inner maps of a map of maps join a run with it: entered (each once)
 * when the outer map enters, left when it leaves; a map of maps cannot be
 * an inner map, so this does not recurse. The list entered goes on `stack`, for exitInner.
 */
function enterInner(inner: BpfMapImpl[], stack: BpfMapImpl[][]): void {
  const entered = [...new Set(inner)];
  for (const m of entered) m.enterRun();
  stack.push(entered);
}

/** Leave what the matching enterInner entered (enterRun / exitRun nest: a stack of them). */
function exitInner(stack: BpfMapImpl[][]): void {
  for (const m of stack.pop() ?? []) m.exitRun();
}

/** prog_array and array_of_maps. */
export class FdArrayMap implements BpfMapImpl {
  readonly type: number;
  readonly keySize = 4;
  readonly valueSize = 4;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly base: number;
  readonly region: Region;
  readonly fdKind: 'prog' | 'map';
  private readonly mem: AddressSpace;
  /** the occupied slots (a Map: max_entries may be large and mostly empty) */
  private readonly refs = new Map<number, FdRef>();
  private readonly template: InnerTemplate | undefined;
  /** prog_array: the program type of its programs, once one was stored */
  private ownerType: number | undefined;

  constructor(mem: AddressSpace, attr: MapAttr, maps: boolean) {
    const name = maps ? 'array_of_maps' : 'prog_array';
    if (attr.valueSize !== 4) throw new BpfError('EINVAL', `invalid ${name} map: value_size must be 4 (an fd), got ${attr.valueSize}`);
    if (attr.maxEntries === 0 || attr.keySize !== 4) throw new BpfError('EINVAL', `invalid ${name} map: key_size must be 4 (got ${attr.keySize}), max_entries non-zero`);
    this.template = maps ? new InnerTemplate(attr) : undefined;
    this.type = maps ? BPF_MAP_TYPE.ARRAY_OF_MAPS : BPF_MAP_TYPE.PROG_ARRAY;
    this.fdKind = maps ? 'map' : 'prog';
    this.mem = mem;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    // the kernel's array of pointers: 8 bytes an element, within the memory's budget
    if (attr.maxEntries * 8 > mem.maxBytes) throw new BpfError('ENOMEM', `${name} map of ${attr.maxEntries} elements does not fit in memory`);
    // the header only: the elements are references, kept here
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, 8, `${name} map`, attr));
    this.region = { start: this.base, end: this.base, writable: false, name: `${name} map`, contains: () => false };
  }

  private index(keyAddr: number): number {
    return this.mem.view.getUint32(keyAddr, true);
  }

  /** The inner map template (array_of_maps; none for a prog array), what the verifier knows of an inner map. */
  innerMeta(): InnerMeta | undefined {
    return this.template;
  }

  /** The inner maps held (array_of_maps; none for a prog array). */
  innerMaps(): BpfMapImpl[] {
    return [...this.refs.values()].flatMap((r) => (r.map ? [r.map] : []));
  }

  /** A program's lookup: the inner map's address (maps of maps), else nothing. */
  lookup(keyAddr: number): number {
    const r = this.fdLookup(keyAddr);
    return r?.map?.addr ?? 0;
  }

  fdLookup(keyAddr: number): FdRef | undefined {
    const i = this.index(keyAddr);
    return i < this.maxEntries ? this.refs.get(i) : undefined;
  }

  /** The reference at index i (bpf_tail_call's lookup, which has the index in a register, not in memory). */
  refAt(i: number): FdRef | undefined {
    return i < this.maxEntries ? this.refs.get(i) : undefined;
  }

  sysLookup(keyAddr: number, outAddr: number): number {
    const r = this.fdLookup(keyAddr);
    if (!r) return E.ENOENT;
    this.mem.view.setUint32(outAddr, r.id, true);
    return 0;
  }

  /** A program cannot store references (the verifier refuses the call); nothing to do. */
  update(_keyAddr: number, _valueAddr: number, _flagsLo: number, _flagsHi: number): number {
    return E.EINVAL;
  }

  fdUpdate(keyAddr: number, resolve: () => FdRef, flagsLo: number, flagsHi: number): number {
    if (flagsLo !== BPF_ANY || flagsHi !== 0) return E.EINVAL;
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.E2BIG;
    const ref = resolve();
    if (this.template && (!ref.map || !this.template.matches(ref.map))) {
      ref.release();
      throw new BpfError('EINVAL', 'the map does not match the inner map template (type, key_size, value_size, map_flags, max_entries)');
    }
    if (ref.kind === 'prog') {
      if (this.ownerType !== undefined && ref.progType !== this.ownerType) {
        ref.release();
        throw new BpfError('EINVAL', `the prog_array holds programs of type ${this.ownerType}, not ${String(ref.progType)}`);
      }
      this.ownerType = ref.progType;
    }
    const old = this.refs.get(i);
    this.refs.set(i, ref);
    old?.release();
    return 0;
  }

  delete(keyAddr: number): number {
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.E2BIG;
    const old = this.refs.get(i);
    if (!old) return E.ENOENT;
    this.refs.delete(i);
    old.release();
    return 0;
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

  /** the inner maps entered with this map, one list per enterRun not yet left, to leave with it */
  private readonly entered: BpfMapImpl[][] = [];

  /** A run starts: the inner maps join it (a program's lookup in them pins elements as in its own maps). */
  enterRun(): void {
    // a prog array's are programs: nothing to enter
    if (this.fdKind === 'map') enterInner(this.innerMaps(), this.entered);
  }

  exitRun(): void {
    if (this.fdKind === 'map') exitInner(this.entered);
  }

  free(): void {
    const refs = [...this.refs.values()];
    this.refs.clear();
    for (const r of refs) r.release();
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}

/** hash_of_maps: a hash map of the inner maps' ids (its order, flags and capacity), with the references beside it. */
export class HashOfMaps extends HashMapBase {
  readonly fdKind = 'map' as const;
  private readonly template: InnerTemplate;
  private readonly refs = new Map<string, FdRef>();
  private readonly stagingAddr: number;
  private readonly memory: AddressSpace;

  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv) {
    if (attr.valueSize !== 4) throw new BpfError('EINVAL', `invalid hash_of_maps map: value_size must be 4 (an fd), got ${attr.valueSize}`);
    super(mem, attr, env, { type: BPF_MAP_TYPE.HASH_OF_MAPS, name: 'hash_of_maps', perCpu: false, lru: false, inPlace: true });
    try {
      this.template = new InnerTemplate(attr);
    } catch (e) {
      super.free();
      throw e;
    }
    this.memory = mem;
    this.stagingAddr = mem.alloc(8);
  }

  private keyId(keyAddr: number): string {
    return String.fromCharCode(...this.memory.u8.subarray(keyAddr, keyAddr + this.keySize));
  }

  fdLookup(keyAddr: number): FdRef | undefined {
    return this.refs.get(this.keyId(keyAddr));
  }

  override lookup(keyAddr: number): number {
    return super.lookup(keyAddr) === 0 ? 0 : this.fdLookup(keyAddr)?.map?.addr ?? 0;
  }

  /** The inner map template, what the verifier knows of an inner map. */
  innerMeta(): InnerMeta {
    return this.template;
  }

  /** The inner maps held. */
  innerMaps(): BpfMapImpl[] {
    return [...this.refs.values()].flatMap((r) => (r.map ? [r.map] : []));
  }

  private readonly entered: BpfMapImpl[][] = [];

  override enterRun(): void {
    super.enterRun();
    enterInner(this.innerMaps(), this.entered);
  }

  override exitRun(): void {
    exitInner(this.entered);
    super.exitRun();
  }

  override update(_keyAddr: number, _valueAddr: number, _flagsLo: number, _flagsHi: number): number {
    return E.EINVAL;
  }

  override sysUpdate(_keyAddr: number, _valueAddr: number, _flagsLo: number, _flagsHi: number): number {
    return E.EINVAL;
  }

  fdUpdate(keyAddr: number, resolve: () => FdRef, flagsLo: number, flagsHi: number): number {
    const ref = resolve();
    if (!ref.map || !this.template.matches(ref.map)) {
      ref.release();
      throw new BpfError('EINVAL', 'the map does not match the inner map template (type, key_size, value_size, map_flags, max_entries)');
    }
    this.memory.view.setUint32(this.stagingAddr, ref.id, true);
    const r = super.sysUpdate(keyAddr, this.stagingAddr, flagsLo, flagsHi);
    if (r < 0) {
      ref.release();
      return r;
    }
    const k = this.keyId(keyAddr);
    const old = this.refs.get(k);
    this.refs.set(k, ref);
    old?.release();
    return 0;
  }

  override delete(keyAddr: number): number {
    const r = super.delete(keyAddr);
    if (r < 0) return r;
    const k = this.keyId(keyAddr);
    const old = this.refs.get(k);
    this.refs.delete(k);
    old?.release();
    return 0;
  }

  override lookupAndDelete(_keyAddr: number, _outAddr: number, _flagsLo: number, _flagsHi: number): number {
    return ENOTSUPP;
  }

  override free(): void {
    const refs = [...this.refs.values()];
    this.refs.clear();
    for (const r of refs) r.release();
    this.memory.release(this.stagingAddr);
    super.free();
  }
}

/** fd_array_map_alloc_check: an array's mask without the program-side access flags, and without mmap */
const FD_ARRAY_FLAGS = BPF_F.NUMA_NODE | BPF_F.RDONLY | BPF_F.WRONLY;

/** The map-type table's rows (maps/types.ts). */
export const PROG_ARRAY_MAP: MapType<'prog_array'> = {
  name: 'prog_array',
  id: BPF_MAP_TYPE.PROG_ARRAY,
  since: '4.2',
  dense: false,
  flags: FD_ARRAY_FLAGS,
  create: (mem, attr) => new FdArrayMap(mem, attr, false),
};

export const ARRAY_OF_MAPS_MAP: MapType<'array_of_maps'> = {
  name: 'array_of_maps',
  id: BPF_MAP_TYPE.ARRAY_OF_MAPS,
  since: '4.12',
  dense: false,
  flags: FD_ARRAY_FLAGS,
  create: (mem, attr) => new FdArrayMap(mem, attr, true),
};

export const HASH_OF_MAPS_MAP: MapType<'hash_of_maps'> = {
  name: 'hash_of_maps',
  id: BPF_MAP_TYPE.HASH_OF_MAPS,
  since: '4.12',
  dense: false,
  flags: BPF_F.NO_PREALLOC | BPF_F.NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F.ZERO_SEED,
  create: (mem, attr, env) => new HashOfMaps(mem, attr, env),
};
