/**
 * tsbpf's own program type `mem` (not a kernel type: its number is outside
 * the uapi's range): r1 points to a buffer and r2 holds its length, the
 * environment of uBPF's and bpf_conformance's tests. The buffer is the
 * context, so the verifier's context check is what bounds it: loads and
 * stores of any size within [0, length) of r1, nothing outside, no LD_ABS.
 * The length is fixed when the program is loaded (BPF_PROG_LOAD's tsbpf-only
 * `mem_size`), and a run must pass a buffer of exactly that length.
 *
 * 3.19's verifier starts a program with r1 and r10 readable only; for this
 * type it also knows r2, as the constant length the program is loaded for
 * (entryR2), so programs that read the length, as uBPF's do, verify.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';
import type { PreparedRun, ProgramType } from './program-type.js';

/** The mem type's number: 'ts' in ASCII, far above the kernel's program types. */
export const MEM_PROG_TYPE_ID = 0x7473;

/** The largest buffer a mem program may be loaded for: 16 MiB. */
export const MEM_MAX_SIZE = 1 << 24;

/**
 * A run over `data`: r1 = a writable copy of it (NULL when it is empty, as
 * bpf_conformance does), r2 = its length; the copy is the run's one region.
 */
function prepareMem(mem: AddressSpace, data: Uint8Array): PreparedRun {
  if (data.length === 0) return { input: { r1: 0, r2: 0, regions: [] }, snapshot: () => new Uint8Array(0), release: () => undefined };
  const addr = mem.alloc(data.length);
  mem.write(addr, data);
  const input: RunInput = { r1: addr, r2: data.length, regions: [{ start: addr, end: addr + data.length, writable: true, name: 'memory' }] };
  return { input, snapshot: () => mem.read(addr, data.length), release: () => mem.release(addr) };
}

/** The mem type for a buffer of `size` bytes: what a load with mem_size = size verifies and runs as. */
export function memType(size: number): ProgramType<'mem'> {
  if (!Number.isInteger(size) || size < 0 || size > MEM_MAX_SIZE) {
    throw new BpfError('EINVAL', `mem_size must be an integer in 0..${MEM_MAX_SIZE}, got ${String(size)}`);
  }
  return {
    ...MEM,
    isValidCtxAccess: (off, n) => off >= 0 && off + n <= size,
    entryR2: size,
    context: { size, writable: true },
    prepare(mem, data) {
      if (data.length !== size) throw new BpfError('EINVAL', `the program was loaded for a ${size}-byte buffer, got ${data.length} bytes`);
      return prepareMem(mem, data);
    },
  };
}

/**
 * The table's row (progs/types.ts). As it stands it is the type of a
 * 0-byte buffer; BPF_PROG_LOAD replaces it by sized(mem_size).
 */
export const MEM: ProgramType<'mem'> = {
  name: 'mem',
  id: MEM_PROG_TYPE_ID,
  since: 'tsbpf',
  sections: [],
  isValidCtxAccess: () => false,
  ldAbs: false,
  context: { size: 0, writable: true },
  prepare: prepareMem,
  sized: memType,
};
