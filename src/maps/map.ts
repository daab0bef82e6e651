/**
 * The map interface the helpers, the bpf() API and the engines share. Every
 * operation takes addresses in the runtime's memory (keys, values, next
 * keys), so a helper call is a pure function of register values and the API
 * stages its buffers in memory first. Operations return 0 or a negative
 * errno, as the kernel's map ops do. Only creation throws, and, as a
 * defence against a runtime bug, an operation that finds the map's own
 * structure inconsistent (BpfError EFAULT): no walk is unbounded.
 *
 * A map's structure (shape, links) lives in JavaScript, outside the memory
 * programs address; what lives in that memory (the header, a hash map's
 * mirror of its links for the JIT, the pin words) is never trusted: a
 * program that escaped the verifier can change which element gets reused,
 * or make the JIT's inline lookups in that map miss or find a stale element
 * of the same map until the mirror is rewritten (maps/hash.ts); never make
 * the runtime loop, crash, or write outside the map's storage.
 */

import { BpfError, ERRNO } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import { BPF_MAP_TYPE } from '../isa/uapi.js';
import type { Profile } from '../isa/profile.js';
import { PROFILE_3_19 } from '../isa/profile.js';

export { BPF_MAP_TYPE };

/** update flags (uapi) */
export const BPF_ANY = 0;
/** BPF_MAP_UPDATE_ELEM flag: create a new element only. */
export const BPF_NOEXIST = 1;
/** BPF_MAP_UPDATE_ELEM flag: update an existing element only. */
export const BPF_EXIST = 2;

/** The one line of the EFAULT a map operation throws when its own links are inconsistent. */
export function corruptMap(what: string, detail: string): BpfError {
  return new BpfError('EFAULT', `${what}: internal links are corrupt (${detail})`);
}

export const E = {
  ENOENT: -ERRNO.ENOENT,
  E2BIG: -ERRNO.E2BIG,
  EEXIST: -ERRNO.EEXIST,
  EINVAL: -ERRNO.EINVAL,
  ENOMEM: -ERRNO.ENOMEM,
} as const;

export interface MapAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /**
   * Maps of maps: the map inner_map_fd names, the template every inner map
   * must match; resolved when the type's create() asks (after its own
   * attribute checks, as the kernel's order of errors has it): EBADF or EINVAL.
   */
  inner?: () => BpfMapImpl;
}

/** A map of maps' template of its inner maps: the fields every inner map matches (max_entries unless BPF_F_INNER_MAP). */
export interface InnerMeta {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
}

/**
 * What a prog array or a map of maps holds in an element: a reference to a
 * program or a map (bpf.ts resolves the fd in the value to one). The map
 * owns the reference from a successful update and releases it when the
 * element is replaced or deleted, or the map is freed.
 */
export interface FdRef {
  readonly kind: 'map' | 'prog';
  /** the object's id: what a syscall lookup returns */
  readonly id: number;
  /** a map's implementation (maps of maps) */
  readonly map?: BpfMapImpl;
  /** a program's type number (prog arrays hold one type) */
  readonly progType?: number;
  /** the object itself (bpf.ts's MapObject or ProgObject), for the helpers that use it (bpf_tail_call) */
  readonly object: unknown;
  release(): void;
}

/** map_flags bits (uapi) */
export const BPF_F = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
} as const;
/** BPF_F_ACCESS_MASK: who may read and write through which side */
export const BPF_F_ACCESS_MASK = BPF_F.RDONLY | BPF_F.WRONLY | BPF_F.RDONLY_PROG | BPF_F.WRONLY_PROG;

/**
 * The machine a map lives in (runtime/runtime.ts): per-CPU maps keep `cpus`
 * values per element, and a program's lookup gives the value of the CPU its
 * run executes on.
 */
export interface MapEnv {
  /** the kernel modelled: its map types, flags and limits */
  readonly profile: Profile;
  readonly cpus: number;
  cpu(): number;
  /**
   * A shared memory (maps/shared.ts): the address of this thread's run word
   * (its lane's; RUN_GEN_ADDR, lane 0's, when absent), which holds the
   * epoch its current run started in, 0 when idle.
   */
  readonly runWord?: number;
  /**
   * A shared memory: the run words of every lane that may run programs over
   * it (this thread's included), read whenever a map decides whether an
   * element it unlinked may be reused. Absent: this thread's run word alone.
   */
  readonly lanes?: { readonly count: number; readonly runWords: readonly number[] };
}

/** 3.19 on one simulated CPU: what a map created without an environment gets. */
export const ONE_CPU: MapEnv = { profile: PROFILE_3_19, cpus: 1, cpu: () => 0 };

/** Whether the environment models a kernel after 3.19 (its relaxed limits and flags apply). */
export const isModern = (env: MapEnv): boolean => env.profile.name !== '3.19';

export interface BpfMapImpl {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  /** the map's own address: what ld_imm64 with a map fd loads, and r1 of the helpers */
  readonly addr: number;
  /**
   * BPF_PSEUDO_MAP_VALUE (global data): the address of the first element's
   * value, for maps that allow direct value access (arrays); undefined otherwise.
   */
  directValue?(): number;
  /** address of the value for the key at keyAddr, or 0 */
  lookup(keyAddr: number): number;
  /** flags is the full u64 as (lo, hi) */
  update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number;
  delete(keyAddr: number): number;
  /** keyAddr 0 means "no key": start the iteration */
  getNextKey(keyAddr: number, nextKeyAddr: number): number;
  /** the storage a program may touch through value pointers (checked mode) */
  readonly region: Region;
  /**
   * Maps of maps: the inner maps held now. A program holding this map may
   * use them (its lookup gives their address, the map helpers take it, their
   * values are the program's to touch), as the kernel allows.
   */
  innerMaps?(): BpfMapImpl[];
  /** Maps of maps: the template of inner_map_fd (the kernel's inner_map_meta), what the verifier knows of an inner map. */
  innerMeta?(): InnerMeta | undefined;
  /**
   * The syscall side, where it differs from the program side (the kernel's
   * bpf_map_copy_value and bpf_map_update_value). Absent: a syscall lookup
   * copies valueSize bytes from lookup()'s address, an update is update().
   * sysValueSize: the bytes of a value there (per-CPU maps: round_up(value_size, 8) per CPU).
   */
  readonly sysValueSize?: number;
  /** copy the value of the key at keyAddr (sysValueSize bytes) to outAddr: 0 or a negative errno */
  sysLookup?(keyAddr: number, outAddr: number): number;
  /** update from a sysValueSize-byte value at valueAddr */
  sysUpdate?(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number;
  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (and, for queues and stacks, pop): copy the value out, then delete */
  lookupAndDelete?(keyAddr: number, outAddr: number, flagsLo: number, flagsHi: number): number;
  /** queue and stack (bpf_map_push_elem / pop / peek): 0 or a negative errno */
  push?(valueAddr: number, flagsLo: number, flagsHi: number): number;
  pop?(outAddr: number): number;
  peek?(outAddr: number): number;
  /**
   * Prog arrays and maps of maps: their values are fds of this kind on the
   * syscall side (a syscall lookup gives the object's id as a u32).
   */
  readonly fdKind?: 'prog' | 'map';
  /**
   * The syscall update of an fd map: `resolve` turns the value's fd into a
   * reference (throwing EBADF or EINVAL), called where the kernel resolves
   * it among the type's checks. On success the map owns the reference.
   */
  fdUpdate?(keyAddr: number, resolve: () => FdRef, flagsLo: number, flagsHi: number): number;
  /** The reference in the element of the key at keyAddr (bpf_tail_call's program, a map of maps' inner map). */
  fdLookup?(keyAddr: number): FdRef | undefined;
  /**
   * Hash maps: what BPF_MAP_LOOKUP_BATCH's cursor counts (the kernel's
   * htab batches go bucket by bucket, the cursor a u32 bucket index): the
   * buckets, and the key addresses of bucket b's elements in chain order
   * (in `out`, emptied first: a walk reuses one array);
   * each element's syscall value (sysValueSize bytes) follows its key at
   * round_up(key_size, 8).
   */
  readonly batchBuckets?: number;
  bucketKeys?(bucket: number, out: number[]): number[];
  /** ring buffers: the consumer, reading the submitted records in order (maps/ringbuf.ts) */
  records?(): Uint8Array[];
  /**
   * The constants the JIT's inline lookup embeds (jit/maps.ts). A map type
   * without one still runs under the JIT, whose lookups then call the
   * helper; the hardened JIT refuses programs using it (ENOTSUP).
   */
  jitLayout?(): JitMapLayout;
  /** a program run starts / ends: elements replaced during a run stay intact until it ends */
  enterRun(): void;
  exitRun(): void;
  /** release the storage */
  free(): void;
  /**
   * A map in a shared memory (maps/shared.ts): what another thread needs to
   * build the same map over that memory (attachMap, maps/types.ts).
   * Absent for the types that cannot be shared; EINVAL when the memory is not
   * shared, ENOTSUP for a variant that cannot be (LRU maps).
   */
  shareState?(): SharedMapState;
}

/**
 * A map as another thread attaches it (attachMap): structured-cloneable,
 * so a worker receives it by postMessage. The map's bytes are in the shared
 * memory at `addr` (its header) and `base` (its storage); the state its
 * JavaScript side keeps (a hash map's links, locks, free stack and counts)
 * is in `sab`, shared with every thread holding the map.
 */
export interface SharedMapState {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly base: number;
  /** values per element (per-CPU maps: the CPUs of the system that made it) */
  readonly ncpus: number;
  /** hash maps: the elements beyond max_entries */
  readonly spare?: number;
  /** the JavaScript side's state; absent for arrays, which have none */
  readonly sab?: SharedArrayBuffer;
  /** LRU maps: the LRU lists' state */
  readonly lru?: SharedArrayBuffer;
}

/**
 * A row of the map-type table (maps/types.ts): everything the rest of
 * tsbpf knows about a map type. Each implemented type declares its row
 * beside its implementation (hash.ts, array.ts).
 */
export interface MapType<N extends string = string> {
  /** the uapi name without BPF_MAP_TYPE_, in lower case (isa/uapi.ts) */
  readonly name: N;
  /** the uapi number, map_type of BPF_MAP_CREATE */
  readonly id: number;
  /** the kernel version that introduced it: profiles before it refuse to create it */
  readonly since: string;
  /**
   * The map_flags the modern profile accepts for this type (the kernel's
   * create-flag mask; bits outside it are EINVAL). The 3.19 profile accepts
   * none. Flag combinations the type refuses are its create()'s to check.
   */
  readonly flags: number;
  /**
   * Every index below max_entries always has a value (arrays): a dump
   * lists the non-zero ones; otherwise a dump lists the elements present.
   */
  readonly dense: boolean;
  /**
   * BPF_MAP_CREATE for this type, after the checks common to all types:
   * the type's own create-time validation (BpfError, with the errno the
   * kernel returns) and its storage, allocated once.
   */
  create(mem: AddressSpace, attr: MapAttr, env: MapEnv): BpfMapImpl;
}

/**
 * The header at a map's address: u32 words describing the map (magic,
 * type, sizes), written once at creation for anyone inspecting memory.
 * Nothing in the runtime reads them back: the map's address is its
 * identity, and a program that escaped the verifier can rewrite these
 * words, so the JavaScript side keeps the authoritative shape in the map
 * object and the JIT embeds it as constants (JitMapLayout).
 */
export const MAP_HDR = {
  MAGIC: 0,
  TYPE: 4,
  KEY_SIZE: 8,
  VALUE_SIZE: 12,
  MAX_ENTRIES: 16,
} as const;
export const MAP_HDR_SIZE = 64;
/** 'BPFM' little-endian: the header is a map's */
export const MAP_MAGIC = 0x4d465042;

/**
 * What the JIT's inline bpf_map_lookup_elem needs to know about a map
 * (jit/maps.ts), captured when a program is compiled and embedded in its
 * code as constants: a program cannot redirect them. Addresses are in the
 * runtime's memory and fixed for the map's lifetime.
 */
export type JitMapLayout = JitArrayLayout | JitHashLayout;

export interface JitArrayLayout {
  readonly type: typeof BPF_MAP_TYPE.ARRAY;
  readonly addr: number;
  /** the first value; value i is at base + i * stride */
  readonly base: number;
  readonly stride: number;
  readonly maxEntries: number;
  /**
   * percpu_array (the JIT's inline lookup, not jitLayout()): the CPUs; CPU
   * c's value i is c * maxEntries * stride bytes after the first CPU's
   */
  readonly ncpus?: number;
}

export interface JitHashLayout {
  readonly type: typeof BPF_MAP_TYPE.HASH;
  readonly addr: number;
  /** the elements: element i (key, then value at valueOff) is at base + i * stride */
  readonly base: number;
  readonly stride: number;
  readonly keySize: number;
  readonly keyRound: number;
  /** where an element's value (per-CPU: CPU 0's) starts: keyRound, or a whole cache line's worth (HashMapBase.valueOff) */
  readonly valueOff: number;
  /** a power of two */
  readonly nBuckets: number;
  /** elements (max_entries + spares): every valid element index is below it */
  readonly cap: number;
  /**
   * The mirror of the links the map keeps in memory for the JIT (i32 per
   * bucket, i32 per element, u32 per element), a copy of the authoritative
   * links the map keeps outside the memory: a program may have rewritten
   * it, so the JIT range-checks every index it reads there and bounds its
   * walk, and sets the word at `suspect` when it finds it inconsistent.
   */
  readonly heads: number;
  readonly next: number;
  readonly hashes: number;
  /** u32 per element: the run generation that last looked it up (see HashMap) */
  readonly pinned: number;
  /** non-zero: the JIT found the mirror inconsistent; the map rebuilds it */
  readonly suspect: number;
  /**
   * percpu_hash (HashMapBase.jitPerCpuLayout): the CPUs; CPU c's value is
   * c * cpuStride bytes after the first, which is at valueOff
   */
  readonly perCpu?: { readonly ncpus: number; readonly cpuStride: number };
}

/**
 * A map's memory: a MAP_HDR_SIZE header whose address is the map's
 * identity (what ld_imm64 of its fd loads; the header describes the map,
 * see MAP_HDR), and `bytes` of zeroed storage at `base`, aligned to `align`
 * (a power of two, 8 or more), inside the allocated `block`. ENOMEM, with
 * nothing left allocated, when it does not fit.
 */
export function allocMapStorage(mem: AddressSpace, bytes: number, what: string, attr: MapAttr, align = 8): { addr: number; base: number; block: number } {
  if (!Number.isSafeInteger(bytes) || bytes > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
  const addr = mem.alloc(MAP_HDR_SIZE);
  try {
    // alloc gives 8-byte alignment: a wider one over-allocates by the difference (the block is what free() releases)
    const block = mem.alloc(align > 8 ? bytes + align - 8 : bytes);
    const base = Math.ceil(block / align) * align;
    const v = mem.view;
    for (let o = 0; o < MAP_HDR_SIZE; o += 4) v.setUint32(addr + o, 0, true);
    v.setUint32(addr + MAP_HDR.MAGIC, MAP_MAGIC, true);
    v.setUint32(addr + MAP_HDR.TYPE, attr.mapType, true);
    v.setUint32(addr + MAP_HDR.KEY_SIZE, attr.keySize, true);
    v.setUint32(addr + MAP_HDR.VALUE_SIZE, attr.valueSize, true);
    v.setUint32(addr + MAP_HDR.MAX_ENTRIES, attr.maxEntries, true);
    return { addr, base, block };
  } catch (e) {
    mem.release(addr);
    throw e;
  }
}

/**
 * copyWithin of `n` bytes in the memory, by a loop for small values (the
 * call of copyWithin on the whole memory costs more than their copy); as
 * copyWithin, right whatever the overlap.
 */
export function copyBytes(u8: Uint8Array, to: number, from: number, n: number): void {
  if (n > 32 || (to > from && to < from + n)) u8.copyWithin(to, from, from + n);
  else for (let i = 0; i < n; i++) u8[to + i] = u8[from + i]!;
}

/** round_up(n, 8) in exact arithmetic (sizes are u32; 32-bit bitwise math would wrap) */
export const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

export function roundupPowOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
