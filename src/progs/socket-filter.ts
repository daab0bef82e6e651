/**
 * BPF_PROG_TYPE_SOCKET_FILTER: the context is a packet. r1 points to a
 * small context (the packet's length as a u32 at offset 0, like 4.1's
 * __sk_buff.len), LD_ABS and LD_IND read the packet, which follows the
 * context in memory. Offset 0 is the first byte given (SEMANTICS.md
 * decision 5). The program-type table's row (progs/types.ts).
 *
 * Under the modern profile the same uapi type has the kernel's context,
 * struct __sk_buff (SOCKET_FILTER_MODERN, sk-buff.ts): the fields
 * sk_filter_is_valid_access allows read (len, pkt_type, mark, protocol,
 * ifindex, hash, ...; no data pointers), cb[] writes, and a test run's data
 * starting after the 14-byte Ethernet header, as bpf_prog_test_run_skb
 * gives it (LD_ABS offset 0 is the network header).
 */

import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';
import { BPF_PROG_TYPE } from '../isa/uapi.js';
import type { PacketContext, PreparedRun, ProgramType } from './program-type.js';
import { SK_BUFF_SIZE, prepareSkb, skbCtxRewrite, skbRunBytes, socketFilterCtxAccess } from './sk-buff.js';

/** The socket filter's context: the packet length as a u32 at offset 0. */
export const SKB_CTX_SIZE = 8;
export const SKB_LEN_OFF = 0;

/** How a packet becomes a socket filter's context. */
export const SKB_PACKET: PacketContext = {
  ctxSize: SKB_CTX_SIZE,
  fill: (view, ctx, len) => view.setUint32(ctx + SKB_LEN_OFF, len, true),
};

export interface PacketOptions {
  /** offset of the network header in the packet, for SKF_NET_OFF loads; -1 when unknown */
  netOff?: number;
}

/** A socket filter run: the context, then the packet; both read-only. */
export function prepareSocketFilter(mem: AddressSpace, data: Uint8Array, options: PacketOptions = {}): PreparedRun {
  const ctx = mem.alloc(SKB_CTX_SIZE + Math.max(data.length, 1));
  SKB_PACKET.fill(mem.view, ctx, data.length);
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

/** The socket filter of modern kernels: __sk_buff, data after the Ethernet header. */
export const SOCKET_FILTER_MODERN: ProgramType<'socket_filter'> = {
  name: 'socket_filter',
  id: BPF_PROG_TYPE.SOCKET_FILTER,
  since: '4.1',
  sections: ['socket'],
  isValidCtxAccess: (off, size, write) => socketFilterCtxAccess(off, size, write).kind === 'scalar',
  ctxAccess: socketFilterCtxAccess,
  rewriteCtxAccess: skbCtxRewrite,
  ldAbs: true,
  context: { size: SK_BUFF_SIZE, writable: true },
  prepare: (mem, data) => prepareSkb(mem, data, false, true),
  prepareBytes: (len) => skbRunBytes(len, false),
  prepareIn: (mem, data, at) => prepareSkb(mem, data, false, true, at),
};

/** BPF_PROG_TYPE_SOCKET_FILTER: the packet as context (struct __sk_buff), LD_ABS/LD_IND allowed. */
export const SOCKET_FILTER: ProgramType<'socket_filter'> = {
  name: 'socket_filter',
  id: BPF_PROG_TYPE.SOCKET_FILTER,
  since: '3.19',
  // bpf_load.c: a section named socket* holds a socket filter
  sections: ['socket'],
  // 3.19 allowed no context access at all ("skb fields cannot be accessed
  // yet"); tsbpf allows reading the length, as 4.1's __sk_buff.len, which
  // classic BPF's `ld len` converts to.
  isValidCtxAccess: (off, size, write) => !write && off === SKB_LEN_OFF && size === 4,
  ldAbs: true,
  context: { size: SKB_CTX_SIZE, writable: false },
  packet: SKB_PACKET,
  prepare: (mem, data) => prepareSocketFilter(mem, data, { netOff: data.length >= 14 ? 14 : -1 }),
  modern: SOCKET_FILTER_MODERN,
};
