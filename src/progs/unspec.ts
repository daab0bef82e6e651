/**
 * BPF_PROG_TYPE_UNSPEC, 3.19's test type (test_stub.c): r1 points to two
 * u64 fields, zero unless given; no LD_ABS/LD_IND. The program-type
 * table's row (progs/types.ts).
 */

import { BpfError } from '../errors.js';
import type { RunInput } from '../runtime/engine.js';
import { BPF_PROG_TYPE } from '../isa/uapi.js';
import type { ProgramType } from './program-type.js';

const UNSPEC_CTX_SIZE = 16;

/** BPF_PROG_TYPE_UNSPEC: a 16-byte context of two u64 fields, read-only (3.19's test_stub). */
export const UNSPEC: ProgramType<'unspec'> = {
  name: 'unspec',
  id: BPF_PROG_TYPE.UNSPEC,
  since: '3.19',
  sections: [],
  // test_stub.c: 8-byte reads of the two u64 fields
  isValidCtxAccess: (off, size, write) => !write && size === 8 && (off === 0 || off === 8),
  ldAbs: false,
  context: { size: UNSPEC_CTX_SIZE, writable: true },
  prepare(mem, data) {
    if (data.length > UNSPEC_CTX_SIZE) throw new BpfError('EINVAL', `the unspec context is 16 bytes (two u64 fields), got ${data.length} bytes`);
    const addr = mem.alloc(UNSPEC_CTX_SIZE);
    const bytes = new Uint8Array(UNSPEC_CTX_SIZE);
    bytes.set(data);
    mem.write(addr, bytes);
    const input: RunInput = {
      r1: addr,
      r2: UNSPEC_CTX_SIZE,
      regions: [{ start: addr, end: addr + UNSPEC_CTX_SIZE, writable: true, name: 'context' }],
    };
    return { input, snapshot: () => mem.read(addr, UNSPEC_CTX_SIZE), release: () => mem.release(addr) };
  },
};
