/**
 * struct __sk_buff, the context of tc programs (sched-cls.ts) and of socket
 * filters under the modern profile (socket-filter.ts): its uapi layout
 * (192 bytes on 6.18), the kernel's rules for accessing it
 * (bpf_skb_is_valid_access with tc_cls_act_is_valid_access and
 * sk_filter_is_valid_access on top) and how the kernel's test run
 * (bpf_prog_test_run_skb) fills it for a frame.
 *
 * The context in memory is the uapi struct itself, data/data_end/data_meta
 * holding real addresses (see frame.ts). A test run's skb comes from the
 * frame through eth_type_trans on the loopback device: protocol is the
 * ethertype (network order, so a u32 load gives the two bytes as stored:
 * 0x0008 for IPv4), or for an 802.3 length field (below 0x600)
 * ETH_P_802_3 when the payload starts 0xffff (raw IPX) and ETH_P_802_2
 * otherwise, pkt_type from the destination MAC against the
 * loopback's all-zero address (0 host, 2 multicast and broadcast, 3 other
 * host), ifindex 1 (lo), a VLAN tag stays in the data (vlan_present 0).
 * tc programs see the frame from the Ethernet header (len is the frame's
 * length); a socket filter's data starts after the 14-byte Ethernet
 * header (len is 14 less), though the frame after the run (data_out) has 14
 * zero bytes in front of the data, as the kernel's (it zeroes the link
 * header it pushes back). An IPv4 or
 * IPv6 frame shorter than its network header is EINVAL, as in the kernel. Fields the test run leaves zero stay zero
 * (mark, priority, hash, cb, tstamp...); sk is NULL.
 */

import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { BPF_B, BPF_CLASS, BPF_H, BPF_JA, BPF_JGE, BPF_JMP, BPF_K, BPF_LDX, BPF_SIZE, BPF_ST, BPF_W } from '../isa/opcodes.js';

/** bytes by BPF_SIZE >> 3: W, H, B, DW */
const SIZE_BYTES = [4, 2, 1, 8] as const;

/** eth_type_trans's protocol, in network order as the field holds it: the ethertype, or ETH_P_802_3 (1) / ETH_P_802_2 (4) under 0x600 */
function skbProtocol(frame: Uint8Array): number {
  const type = (frame[12]! << 8) | frame[13]!;
  if (type >= 0x600) return frame[12]! | (frame[13]! << 8);
  return frame[14] === 0xff && frame[15] === 0xff ? 0x0100 : 0x0400;
}
import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';
import { PacketFrame } from './frame.js';
import type { CtxAccess, PreparedRun } from './program-type.js';
import { CTX_DENIED, CTX_SCALAR } from './program-type.js';

export const SK_BUFF = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;
export const SK_BUFF_SIZE = 192;
const CB_END = SK_BUFF.cb + 20;
const ETH_HLEN = 14;
/** the largest frame a test run takes: a page less NET_SKB_PAD (64) and the skb_shared_info (320) (measured on 6.18) */
export const SKB_MAX_FRAME = 4096 - 64 - 320;
/** SKB_MAX_ALLOC: the most bpf_skb_change_tail/head may grow a test run's skb to (measured on 6.18: 16064) */
export const SKB_MAX_GROW = 4 * 4096 - 320;
/** the network headers a test run's skb must hold whole, by ethertype */
const L3_HEADER: Record<number, { name: string; size: number }> = { 0x0800: { name: 'IPv4', size: 20 }, 0x86dd: { name: 'IPv6', size: 40 } };

/** size is 1, 2 or 4 (bpf_ctx_narrow_access_ok with the default 4) */
const narrow = (size: number): boolean => size === 1 || size === 2 || size === 4;
/** off in [field, field + 4) */
const in4 = (off: number, field: number): boolean => off >= field && off < field + 4;

/** bpf_skb_is_valid_access: the part every __sk_buff type shares. */
function skbAccess(off: number, size: number, write: boolean): CtxAccess {
  if (off < 0 || off >= SK_BUFF_SIZE || off % size !== 0) return CTX_DENIED;
  if (off >= SK_BUFF.cb && off < CB_END) return off + size > CB_END ? CTX_DENIED : CTX_SCALAR;
  if (in4(off, SK_BUFF.data) || in4(off, SK_BUFF.data_end) || in4(off, SK_BUFF.data_meta)) return size === 4 ? CTX_SCALAR : CTX_DENIED;
  if (off >= SK_BUFF.flow_keys && off < SK_BUFF.flow_keys + 8) return CTX_DENIED;
  if (off >= SK_BUFF.tstamp && off < SK_BUFF.tstamp + 8) return size === 8 && off === SK_BUFF.tstamp ? CTX_SCALAR : CTX_DENIED;
  if (off >= SK_BUFF.sk && off < SK_BUFF.sk + 8) {
    return !write && size === 8 && off === SK_BUFF.sk ? { kind: 'pointer', ptr: 'sock_common_or_null' } : CTX_DENIED;
  }
  // tstamp_type (tc allows it before asking here) and the padding after it
  if (off >= SK_BUFF.tstamp_type && off < SK_BUFF.hwtstamp) return CTX_DENIED;
  if (off >= SK_BUFF.hwtstamp) return !write && size === 8 && off === SK_BUFF.hwtstamp ? CTX_SCALAR : CTX_DENIED;
  if (write) return size === 4 ? CTX_SCALAR : CTX_DENIED;
  return narrow(size) ? CTX_SCALAR : CTX_DENIED;
}

const TC_WRITABLE = [SK_BUFF.mark, SK_BUFF.tc_index, SK_BUFF.priority, SK_BUFF.tc_classid, SK_BUFF.queue_mapping];

/** tc_cls_act_is_valid_access (sched_cls, sched_act). */
export function tcCtxAccess(off: number, size: number, write: boolean): CtxAccess {
  if (write) {
    const ok = TC_WRITABLE.some((f) => in4(off, f)) || (off >= SK_BUFF.cb && off < CB_END) || (off >= SK_BUFF.tstamp && off < SK_BUFF.tstamp + 8);
    if (!ok) return CTX_DENIED;
  }
  if (off >= SK_BUFF.family && off < SK_BUFF.data_meta) return CTX_DENIED;
  if (off === SK_BUFF.tstamp_type) return size === 1 && !write ? CTX_SCALAR : CTX_DENIED;
  const a = skbAccess(off, size, write);
  if (a.kind !== 'scalar') return a;
  if (off === SK_BUFF.data) return { kind: 'pointer', ptr: 'pkt' };
  if (off === SK_BUFF.data_end) return { kind: 'pointer', ptr: 'pkt_end' };
  if (off === SK_BUFF.data_meta) return { kind: 'pointer', ptr: 'pkt_meta' };
  return a;
}

/** NO_QUEUE_MAPPING: a queue_mapping store of this value or more leaves the field as it was */
const NO_QUEUE_MAPPING = 0xffff;

/**
 * The bytes the kernel's field behind each __sk_buff field has where it is
 * narrower than 4 (bpf_convert_ctx_access's target size; the others are 4
 * or 8, or refused).
 */
const TARGET_SIZE: ReadonlyMap<number, 1 | 2> = new Map<number, 1 | 2>([
  [SK_BUFF.pkt_type, 1], [SK_BUFF.queue_mapping, 2], [SK_BUFF.protocol, 2], [SK_BUFF.vlan_tci, 2], [SK_BUFF.vlan_proto, 2],
  [SK_BUFF.tc_index, 2], [SK_BUFF.tc_classid, 2], [SK_BUFF.gso_segs, 2], [SK_BUFF.gso_size, 2],
]);

/**
 * __sk_buff accesses as the kernel's bpf_convert_ctx_access rewrites them,
 * where that differs from the uapi struct in memory (the
 * ProgramType.rewriteCtxAccess of tc and of the modern socket filter;
 * ctx-rewrite.ts splices the result in).
 *
 * Stores (tc): tc_index and tc_classid are u16 in the kernel (sk_buff's
 * tc_index, qdisc_skb_cb's tc_classid): the store keeps the low 16 bits;
 * queue_mapping is u16 too, and a value of NO_QUEUE_MAPPING (0xffff) or
 * more is not stored at all (the register compared as 64 bits; a BPF_ST's
 * imm compared signed, so a negative imm is stored: 0xffff for -1, as on
 * the 6.18 host). mark and priority are u32, cb[] is stored at the size
 * written, tstamp is u64: those stores stay as they are. The verifier
 * allows only 4-byte stores to these fields.
 *
 * Narrow loads: the kernel loads the field at its own size and shifts only
 * when the load is narrower than that, so a load at a nonzero offset into
 * a field, as wide as the field or wider, gives the whole field (measured
 * on 6.18: a u16 load at queue_mapping + 2 gives queue_mapping, a u8 load
 * at pkt_type + 3 gives pkt_type), not the zero bytes the uapi struct has
 * there. Such a load becomes a load of the field.
 */
export function skbCtxRewrite(off: number, insn: Slot): Slot[] | undefined {
  const cls = BPF_CLASS(insn.code);
  if (cls === BPF_LDX) {
    const size = SIZE_BYTES[BPF_SIZE(insn.code) >> 3]!;
    const field = off & ~3;
    const t = off < SK_BUFF.cb || off >= CB_END ? TARGET_SIZE.get(field) : undefined;
    if (t === undefined || off === field || size < t) return undefined;
    return [{ ...insn, code: (insn.code & ~0x18) | (t === 1 ? BPF_B : BPF_H), off: insn.off - (off - field) }];
  }
  if (BPF_SIZE(insn.code) !== BPF_W) return undefined;
  const half = { ...insn, code: (insn.code & ~0x18) | BPF_H };
  switch (off) {
    case SK_BUFF.tc_index:
    case SK_BUFF.tc_classid:
      return [half];
    case SK_BUFF.queue_mapping:
      if (BPF_CLASS(insn.code) === BPF_ST) return insn.imm >= NO_QUEUE_MAPPING ? [{ code: BPF_JMP | BPF_JA, dst: 0, src: 0, off: 0, imm: 0 }] : [half];
      return [{ code: BPF_JMP | BPF_JGE | BPF_K, dst: insn.src, src: 0, off: 1, imm: NO_QUEUE_MAPPING }, half];
    default:
      return undefined;
  }
}

/** sk_filter_is_valid_access (socket filters, modern kernels). */
export function socketFilterCtxAccess(off: number, size: number, write: boolean): CtxAccess {
  const denied = [SK_BUFF.tc_classid, SK_BUFF.data, SK_BUFF.data_meta, SK_BUFF.data_end, SK_BUFF.wire_len];
  if (denied.some((f) => in4(off, f))) return CTX_DENIED;
  if (off >= SK_BUFF.family && off < SK_BUFF.local_port + 4) return CTX_DENIED;
  if ((off >= SK_BUFF.tstamp && off < SK_BUFF.tstamp + 8) || (off >= SK_BUFF.hwtstamp && off < SK_BUFF.hwtstamp + 8)) return CTX_DENIED;
  if (write && !(off >= SK_BUFF.cb && off < CB_END)) return CTX_DENIED;
  return skbAccess(off, size, write);
}

/**
 * eth_type_trans's pkt_type on the loopback device, whose address and
 * broadcast address are both all-zero: a group address (ff:ff:ff:ff:ff:ff
 * included, which is not lo's broadcast address) is PACKET_MULTICAST (2),
 * all-zero PACKET_HOST (0), anything else PACKET_OTHERHOST (3); measured
 * on 6.18, where ff:ff:ff:ff:ff:ff gives 2.
 */
function pktType(frame: Uint8Array): number {
  const dst = frame.subarray(0, 6);
  if ((dst[0]! & 1) !== 0) return 2;
  return dst.every((b) => b === 0) ? 0 : 3;
}

/**
 * A test run's skb over `frame`: the __sk_buff, then the frame, at `at`
 * (skbRunBytes the caller owns; release then does nothing) or in memory of
 * its own. `l2`: the
 * data starts at the Ethernet header (tc) or after it (socket filters).
 * `ctxWritable`: the checked interpreter lets the program write the
 * context (tc and socket filters write some fields; which, the verifier
 * decides).
 */
export function prepareSkb(mem: AddressSpace, frame: Uint8Array, l2: boolean, ctxWritable: boolean, at?: number): PreparedRun {
  if (frame.length < ETH_HLEN) throw new BpfError('EINVAL', `a test run's frame has at least ${ETH_HLEN} bytes (an Ethernet header), got ${frame.length}`);
  if (frame.length > SKB_MAX_FRAME) throw new BpfError('EINVAL', `a test run's skb frame is at most ${SKB_MAX_FRAME} bytes, got ${frame.length}`);
  // The kernel's test run refuses an IPv4 or IPv6 frame too short for its
  // network header (measured on 6.18: 14 + 20 and 14 + 40 bytes at least).
  const l3 = L3_HEADER[(frame[12]! << 8) | frame[13]!];
  if (l3 !== undefined && frame.length < ETH_HLEN + l3.size) {
    throw new BpfError('EINVAL', `a test run's ${l3.name} frame has at least ${ETH_HLEN + l3.size} bytes (Ethernet and ${l3.name} headers), got ${frame.length}`);
  }
  // tc programs may grow the frame (bpf_skb_change_head/tail) up to SKB_MAX_GROW bytes: room on both sides
  const room = l2 ? SKB_MAX_GROW - frame.length : 0;
  const ctx = at ?? mem.alloc(skbRunBytes(frame.length, l2));
  const pkt = ctx + SK_BUFF_SIZE + room;
  // (alloc's memory is zeroed; the caller's may hold an earlier run's bytes, the room after the frame included)
  mem.zero(ctx, at === undefined ? pkt - ctx : skbRunBytes(frame.length, l2));
  mem.write(pkt, frame);
  const v = mem.view;
  v.setUint32(ctx + SK_BUFF.pkt_type, pktType(frame), true);
  v.setUint32(ctx + SK_BUFF.protocol, skbProtocol(frame), true);
  v.setUint32(ctx + SK_BUFF.ifindex, 1, true);
  const start = l2 ? pkt : pkt + ETH_HLEN;
  const f = new PacketFrame(mem, 'skb', ctx, { start: pkt - room, end: pkt + frame.length + room, data: start, len: pkt + frame.length - start },
    l2 ? { data: SK_BUFF.data, end: SK_BUFF.data_end, meta: SK_BUFF.data_meta, len: SK_BUFF.len, nulls: [SK_BUFF.sk, SK_BUFF.flow_keys] }
      : { data: -1, end: -1, meta: -1, len: SK_BUFF.len, nulls: [SK_BUFF.sk, SK_BUFF.flow_keys] }, l2);
  const input: RunInput = {
    r1: ctx,
    frame: f,
    packet: { addr: start, len: f.end - start, netOff: l2 ? ETH_HLEN : 0 },
    regions: [{ start: ctx, end: ctx + SK_BUFF_SIZE, writable: ctxWritable, name: 'context' }, f.region],
  };
  // The kernel pushes room for the link header back before copying
  // data_out, zeroed: a socket filter's frame after the run has 14 zero
  // bytes where its Ethernet header was.
  const snapshot = l2 ? (): Uint8Array => f.bytes() : (): Uint8Array => {
    const out = new Uint8Array(f.end - pkt);
    out.set(mem.read(start, f.end - start), ETH_HLEN);
    return out;
  };
  return { input, snapshot, release: at === undefined ? () => mem.release(ctx) : () => undefined };
}

/**
 * The bytes prepareSkb takes for a frame of `len` bytes (rounded to 8): the
 * __sk_buff, the frame, and with `l2` (tc) room on both sides to grow it.
 */
export function skbRunBytes(len: number, l2: boolean): number {
  const room = l2 ? Math.max(0, SKB_MAX_GROW - len) : 0;
  return (SK_BUFF_SIZE + room + len + room + 7) & ~7;
}
