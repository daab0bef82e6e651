/**
 * Program types: what a program's context is and how a run's input becomes
 * r1. 3.19 has two: BPF_PROG_TYPE_SOCKET_FILTER (the context is the packet,
 * read with LD_ABS/LD_IND) and BPF_PROG_TYPE_UNSPEC (the kernel's test type:
 * a context of two u64 fields). The verifier's access rules per type come
 * with the verifier.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';
import type { HelperProto } from '../runtime/helpers.js';
import { MAP_HELPER_PROTOS } from './map-helpers.js';

export const BPF_PROG_TYPE = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
} as const;

export type ProgTypeName = 'socket_filter' | 'unspec';

export interface PreparedRun {
  input: RunInput;
  /** the bytes of the context/packet as they are after a run */
  snapshot(): Uint8Array;
  release(): void;
}

export interface ProgramType {
  name: ProgTypeName;
  id: number;
  /** the verifier's is_valid_access for the context */
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  /** the helper prototypes the type allows (get_func_proto) */
  funcProto(id: number): HelperProto | undefined;
  /** LD_ABS / LD_IND are allowed */
  ldAbs: boolean;
  /** copy the run's data into memory and describe r1, r2 and the packet */
  prepare(mem: AddressSpace, data: Uint8Array): PreparedRun;
}

function prepared(mem: AddressSpace, bytes: Uint8Array, name: string): PreparedRun {
  const addr = mem.alloc(Math.max(bytes.length, 1));
  mem.write(addr, bytes);
  const input: RunInput = {
    r1: addr,
    r2: bytes.length,
    regions: [{ start: addr, end: addr + bytes.length, writable: true, name }],
  };
  return { input, snapshot: () => mem.read(addr, bytes.length), release: () => mem.release(addr) };
}

/** The socket filter's context: the packet length as a u32 at offset 0, like 4.1's __sk_buff.len. */
export const SKB_CTX_SIZE = 8;
export const SKB_LEN_OFF = 0;

export interface PacketOptions {
  /** offset of the network header in the packet, for SKF_NET_OFF loads; -1 when unknown */
  netOff?: number;
}

/**
 * A socket filter run: r1 points to the context (the length), LD_ABS and
 * LD_IND read the packet, which follows the context in memory. Offset 0 is
 * the first byte given (SEMANTICS.md decision 5).
 */
export function prepareSocketFilter(mem: AddressSpace, data: Uint8Array, options: PacketOptions = {}): PreparedRun {
  const ctx = mem.alloc(SKB_CTX_SIZE + Math.max(data.length, 1));
  mem.view.setUint32(ctx + SKB_LEN_OFF, data.length, true);
  const pkt = ctx + SKB_CTX_SIZE;
  mem.write(pkt, data);
  const input: RunInput = {
    r1: ctx,
    packet: { addr: pkt, len: data.length, netOff: options.netOff ?? -1 },
    regions: [
      { start: ctx, end: ctx + SKB_CTX_SIZE, writable: false, name: 'context' },
      { start: pkt, end: pkt + data.length, writable: false, name: 'packet' },
    ],
  };
  return { input, snapshot: () => mem.read(pkt, data.length), release: () => mem.release(ctx) };
}

export const SOCKET_FILTER: ProgramType = {
  name: 'socket_filter',
  id: BPF_PROG_TYPE.SOCKET_FILTER,
  // 3.19 allowed no context access at all ("skb fields cannot be accessed
  // yet"); tsbpf allows reading the length, as 4.1's __sk_buff.len, which
  // classic BPF's `ld len` converts to.
  isValidCtxAccess: (off, size, write) => !write && off === SKB_LEN_OFF && size === 4,
  funcProto: (id) => MAP_HELPER_PROTOS[id],
  ldAbs: true,
  prepare: (mem, data) => prepareSocketFilter(mem, data, { netOff: data.length >= 14 ? 14 : -1 }),
};

/** The 3.19 test type: r1 points to two u64 fields, zero unless given. */
export const UNSPEC: ProgramType = {
  name: 'unspec',
  id: BPF_PROG_TYPE.UNSPEC,
  // test_stub.c: 8-byte reads of the two u64 fields
  isValidCtxAccess: (off, size, write) => !write && size === 8 && (off === 0 || off === 8),
  funcProto: (id) => MAP_HELPER_PROTOS[id],
  ldAbs: false,
  prepare(mem, data) {
    if (data.length > 16) throw new BpfError('EINVAL', `the unspec context is 16 bytes (two u64 fields), got ${data.length} bytes`);
    const ctx = new Uint8Array(16);
    ctx.set(data);
    return prepared(mem, ctx, 'context');
  },
};

export function programType(name: string): ProgramType {
  if (name === 'socket_filter') return SOCKET_FILTER;
  if (name === 'unspec') return UNSPEC;
  throw new BpfError('EINVAL', `unknown program type '${name}'`);
}
