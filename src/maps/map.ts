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
 * A map's memory: 16 bytes whose address is the map's identity (what
 * ld_imm64 of its fd loads), and `bytes` of zeroed storage. ENOMEM, with
 * nothing left allocated, when it does not fit.
 */
export function allocMapStorage(mem: AddressSpace, bytes: number, what: string): { addr: number; base: number } {
  if (!Number.isSafeInteger(bytes) || bytes > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
  const addr = mem.alloc(16);
  try {
    return { addr, base: mem.alloc(bytes) };
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
