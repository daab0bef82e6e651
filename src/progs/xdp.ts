/**
 * BPF_PROG_TYPE_XDP (Linux 4.8): the program-type table's row
 * (progs/types.ts). r1 points to a struct xdp_md, laid out as the uapi has
 * it: data (0), data_end (4), data_meta (8), ingress_ifindex (12),
 * rx_queue_index (16), egress_ifindex (20), all u32; 24 bytes.
 *
 * A run over a frame is what the kernel's BPF_PROG_TEST_RUN does with one
 * (bpf_prog_test_run_xdp): a page-sized buffer, the frame at the headroom
 * of XDP_PACKET_HEADROOM (256) bytes, the skb_shared_info's tailroom (320
 * bytes on x86-64) kept free at the end, so the buffer holds 3520 bytes of
 * the frame. A longer frame (up to 3520 + 17 fragments of a page: 73152
 * bytes, more is EINVAL) is a multi-buffer frame: the program sees its
 * first 3520 bytes, the rest lies in page-sized fragments it cannot reach
 * (bpf_xdp_adjust_tail acts on them), and the frame after the run is all
 * of it. (Measured on 6.18 through BPF_PROG_TEST_RUN; the kernel runs such
 * frames for programs loaded without BPF_F_XDP_HAS_FRAGS too.)
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
/** the most of a frame the buffer holds (and bpf_xdp_adjust_tail can grow a one-buffer frame to) */
export const XDP_MAX_DATA = XDP_FRAME_SIZE - XDP_HEADROOM - XDP_TAILROOM;
/** MAX_SKB_FRAGS: the fragments of a multi-buffer frame, a page each */
export const XDP_MAX_FRAGS = 17;
/** the largest frame a test run takes */
export const XDP_MAX_FRAME = XDP_MAX_DATA + XDP_MAX_FRAGS * XDP_FRAME_SIZE;
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

/** The bytes of an XDP run: the context, then the page. */
export const XDP_RUN_BYTES = XDP_MD_SIZE + XDP_FRAME_SIZE;

/**
 * A run over one frame: the context, then the page holding the frame; at
 * `at` (XDP_RUN_BYTES the caller owns, release then does nothing) or in
 * memory of its own. `reuse`: the run the caller made last at `at`, whose
 * objects (frame, input, regions) this run takes over instead of making
 * new ones (a runner over a million frames makes no garbage per frame).
 */
export function prepareXdp(mem: AddressSpace, frame: Uint8Array, at?: number, reuse?: PreparedRun): PreparedRun {
  if (frame.length > XDP_MAX_FRAME) throw new BpfError('EINVAL', `an XDP frame is at most ${XDP_MAX_FRAME} bytes (${XDP_MAX_DATA} and ${XDP_MAX_FRAGS} fragments of ${XDP_FRAME_SIZE}), got ${frame.length}`);
  const linear = frame.length > XDP_MAX_DATA ? frame.subarray(0, XDP_MAX_DATA) : frame;
  const ctx = at ?? mem.alloc(XDP_RUN_BYTES);
  const buf = ctx + XDP_MD_SIZE;
  mem.zero(ctx, XDP_RUN_BYTES);
  mem.write(buf + XDP_HEADROOM, linear);
  const view = mem.view;
  view.setUint32(ctx + XDP_MD.ingress_ifindex, LOOPBACK_IFINDEX, true);
  const prev = at !== undefined && reuse?.input.r1 === ctx ? reuse.input.frame : undefined;
  const old = prev instanceof PacketFrame && prev.kind === 'xdp' ? prev : undefined;
  const f = old ?? new PacketFrame(mem, 'xdp', ctx,
    { start: buf, end: buf + XDP_FRAME_SIZE, data: buf + XDP_HEADROOM, len: linear.length },
    { data: XDP_MD.data, end: XDP_MD.data_end, meta: XDP_MD.data_meta, len: -1 }, true);
  if (f === old) f.reset(buf, buf + XDP_FRAME_SIZE, buf + XDP_HEADROOM, linear.length);
  for (let at = XDP_MAX_DATA; at < frame.length; at += XDP_FRAME_SIZE) f.frags.push(frame.slice(at, at + XDP_FRAME_SIZE));
  if (f === old) return reuse!;
  const input: RunInput = {
    r1: ctx,
    frame: f,
    regions: [{ start: ctx, end: ctx + XDP_MD_SIZE, writable: false, name: 'context' }, f.region],
  };
  return { input, snapshot: () => f.bytes(), release: at === undefined ? () => mem.release(ctx) : () => undefined };
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
  frameFields: { kind: 'xdp', data: XDP_MD.data, end: XDP_MD.data_end, writable: true },
  prepare: prepareXdp,
  prepareBytes: () => XDP_RUN_BYTES,
  prepareIn: prepareXdp,
};
