/**
 * The map interface the helpers, the bpf() API and the engines share. Every
 * operation takes addresses in the runtime's memory (keys, values, next
 * keys), so a helper call is a pure function of register values and the API
 * stages its buffers in memory first. Operations return 0 or a negative
 * errno, as the kernel's map ops do; only creation throws.
 */

import { BpfError, ERRNO } from '../errors.js';
import type { AddressSpace } from '../runtime/memory.js';
import type { Region } from '../vm/interpreter.js';

export const BPF_MAP_TYPE = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
} as const;

/** update flags (uapi) */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

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
}

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
  /** a program run starts / ends: elements replaced during a run stay intact until it ends */
  enterRun(): void;
  exitRun(): void;
  /** release the storage */
  free(): void;
}

/** round_up(n, 8) in exact arithmetic (sizes are u32; 32-bit bitwise math would wrap) */
/**
 * The header at a map's address, u32 words the JIT's inline lookup reads
 * (jit/maps.ts): it finds array values and walks hash buckets in
 * WebAssembly, calling back into JavaScript only for updates and deletes.
 */
export const MAP_HDR = {
  MAGIC: 0,
  TYPE: 4,
  KEY_SIZE: 8,
  VALUE_SIZE: 12,
  MAX_ENTRIES: 16,
  /** 1 between enterRun and exitRun (hash maps pin looked-up elements then) */
  IN_RUN: 20,
  /** the elements (hash: key, then value) or values (array) */
  BASE: 24,
  /** bytes per element */
  STRIDE: 28,
  /** hash: the key's rounded size, where the value starts in an element */
  KEY_ROUND: 32,
  /** hash: n_buckets - 1 */
  MASK: 36,
  /** hash: i32 per bucket (first element or -1), i32 per element (next or -1), u32 per element (its jhash), u32 per element (the pinning run) */
  HEADS: 40,
  NEXT: 44,
  HASHES: 48,
  PINNED: 52,
} as const;
export const MAP_HDR_SIZE = 64;
/** 'BPFM' little-endian: the header is a map's */
export const MAP_MAGIC = 0x4d465042;

/**
 * A map's memory: a MAP_HDR_SIZE header whose address is the map's
 * identity (what ld_imm64 of its fd loads; the header holds the map's
 * shape, see MAP_HDR), and `bytes` of zeroed storage. ENOMEM, with nothing
 * left allocated, when it does not fit.
 */
export function allocMapStorage(mem: AddressSpace, bytes: number, what: string): { addr: number; base: number } {
  if (!Number.isSafeInteger(bytes) || bytes > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
  const addr = mem.alloc(MAP_HDR_SIZE);
  try {
    const base = mem.alloc(bytes);
    const v = mem.view;
    for (let o = 0; o < MAP_HDR_SIZE; o += 4) v.setUint32(addr + o, 0, true);
    v.setUint32(addr + MAP_HDR.MAGIC, MAP_MAGIC, true);
    v.setUint32(addr + MAP_HDR.BASE, base, true);
    return { addr, base };
  } catch (e) {
    mem.release(addr);
    throw e;
  }
}

export const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

export function roundupPowOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
