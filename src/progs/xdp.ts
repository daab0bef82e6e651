/**
 * BPF_PROG_TYPE_XDP (Linux 4.8): the program-type table's row
 * (progs/types.ts). r1 points to a struct xdp_md, laid out as the uapi has
 * it: data (0), data_end (4), data_meta (8), ingress_ifindex (12),
 * rx_queue_index (16), egress_ifindex (20), all u32; 24 bytes.
 *
 * A run over a frame is what the kernel's BPF_PROG_TEST_RUN does with one
 * (bpf_prog_test_run_xdp): a page-sized buffer, the frame at the headroom
 * of XDP_PACKET_HEADROOM (256) bytes, the skb_shared_info's tailroom (320
 * bytes on x86-64) kept free at the end, so a frame holds at most 3520
 * bytes (more is EINVAL: the kernel then needs multi-buffer programs).
 * data_meta starts equal to data (no metadata), ingress_ifindex is the
 * loopback device's (1), rx_queue_index 0. The program sees the Ethernet
 * frame from byte 0. After the run the frame is data..data_end, which
 * bpf_xdp_adjust_head/tail may have moved (packet-helpers.ts); the metadata
 * is not part of it, as in the kernel's data_out.
 *
 * Context access (xdp_is_valid_access): 4-byte aligned reads of the six
 * fields, no narrower or wider loads; data gives a packet pointer,
 * data_end its end, data_meta the metadata pointer; egress_ifindex only
 * for devmap programs (expected_attach_type BPF_XDP_DEVMAP, which tsbpf
 * does not load), so it is refused; no writes (only offloaded programs may
 * write rx_queue_index). The verdict (XDP_ABORTED 0, DROP 1, PASS 2, TX 3,
 * REDIRECT 4) is not range-checked by the verifier: the kernel warns about
 * an unknown one at run time and drops the frame; a test run returns it.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';
import { BPF_PROG_TYPE } from '../isa/uapi.js';
import { PacketFrame } from './frame.js';
import type { CtxAccess, PreparedRun, ProgramType } from './program-type.js';
import { CTX_DENIED, CTX_SCALAR } from './program-type.js';

export const XDP_MD = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;
export const XDP_MD_SIZE = 24;
/** XDP_PACKET_HEADROOM */
export const XDP_HEADROOM = 256;
/** the test run's buffer: a page */
export const XDP_FRAME_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64: the tailroom a frame cannot grow into */
export const XDP_TAILROOM = 320;
/** the largest frame a test run takes (and bpf_xdp_adjust_tail can grow to) */
export const XDP_MAX_DATA = XDP_FRAME_SIZE - XDP_HEADROOM - XDP_TAILROOM;
/** sizeof(struct xdp_frame): the head of the buffer that adjust_head and adjust_meta must leave free */
export const XDP_FRAME_HEAD = 40;
/** the loopback device's ifindex, the test run's ingress device */
export const LOOPBACK_IFINDEX = 1;

export const XDP_ACTION = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

const POINTERS: Record<number, CtxAccess> = {
  [XDP_MD.data]: { kind: 'pointer', ptr: 'pkt' },
  [XDP_MD.data_end]: { kind: 'pointer', ptr: 'pkt_end' },
  [XDP_MD.data_meta]: { kind: 'pointer', ptr: 'pkt_meta' },
};

/** xdp_is_valid_access for a program that is not a devmap program. */
export function xdpCtxAccess(off: number, size: number, write: boolean): CtxAccess {
  if (off === XDP_MD.egress_ifindex || write) return CTX_DENIED;
  if (off < 0 || off >= XDP_MD_SIZE || size !== 4 || off % 4 !== 0) return CTX_DENIED;
  return POINTERS[off] ?? CTX_SCALAR;
}

/** A run over one frame: the context, then the page holding the frame. */
export function prepareXdp(mem: AddressSpace, frame: Uint8Array): PreparedRun {
  if (frame.length > XDP_MAX_DATA) throw new BpfError('EINVAL', `an XDP frame is at most ${XDP_MAX_DATA} bytes, got ${frame.length}`);
  const ctx = mem.alloc(XDP_MD_SIZE + XDP_FRAME_SIZE);
  const buf = ctx + XDP_MD_SIZE;
  mem.u8.fill(0, ctx, buf + XDP_FRAME_SIZE);
  mem.write(buf + XDP_HEADROOM, frame);
  const view = mem.view;
  view.setUint32(ctx + XDP_MD.ingress_ifindex, LOOPBACK_IFINDEX, true);
  const f = new PacketFrame(mem, 'xdp', ctx,
    { start: buf, end: buf + XDP_FRAME_SIZE, data: buf + XDP_HEADROOM, len: frame.length },
    { data: XDP_MD.data, end: XDP_MD.data_end, meta: XDP_MD.data_meta, len: -1 }, true);
  const input: RunInput = {
    r1: ctx,
    frame: f,
    regions: [{ start: ctx, end: ctx + XDP_MD_SIZE, writable: false, name: 'context' }, f.region],
  };
  return { input, snapshot: () => f.bytes(), release: () => mem.release(ctx) };
}

export const XDP: ProgramType<'xdp'> = {
  name: 'xdp',
  id: BPF_PROG_TYPE.XDP,
  since: '4.8',
  // libbpf: SEC("xdp"), and the older "xdp/..." and "xdp.frags" forms
  sections: ['xdp'],
  isValidCtxAccess: (off, size, write) => xdpCtxAccess(off, size, write).kind === 'scalar',
  ctxAccess: xdpCtxAccess,
  packetAccess: 'rw',
  ldAbs: false,
  context: { size: XDP_MD_SIZE, writable: false },
  prepare: prepareXdp,
};
