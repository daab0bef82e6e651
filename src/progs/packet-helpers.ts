/**
 * The packet helpers, each declared once and listed in the helper table
 * (progs/helpers.ts): bpf_skb_store_bytes (4.1), bpf_l3_csum_replace and
 * bpf_l4_csum_replace (4.1), bpf_redirect (4.4), bpf_skb_load_bytes (4.5),
 * bpf_csum_diff (4.6), bpf_xdp_adjust_head (4.10), bpf_redirect_map
 * (4.14), bpf_xdp_adjust_meta (4.15), bpf_xdp_adjust_tail (4.18),
 * bpf_skb_change_tail (4.9), bpf_skb_change_head (4.10), bpf_xdp_get_buff_len,
 * bpf_xdp_load_bytes and bpf_xdp_store_bytes (5.18).
 *
 * They act on the run's packet frame (progs/frame.ts, RunInput.frame),
 * never on the context's bytes, and only when r1 is that frame's context
 * (else EFAULT, which ends the run: the kernel's verifier allows nothing
 * else). Their checks and results are the kernel's (net/core/filter.c),
 * as facts:
 * - skb_load_bytes: offset + len within the data (len counts from data),
 *   else -EFAULT with the destination zeroed;
 * - skb_store_bytes: flags only BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH
 *   (-EINVAL), offset + len within the data (-EFAULT);
 * - l3/l4_csum_replace: the low 4 bits of flags are the field's size (0: from
 *   must be 0 and `to` is a checksum difference, 2, 4), the checksum at an even
 *   offset inside the data; l4 takes BPF_F_MARK_MANGLED_0 (a zero UDP checksum
 *   stays zero, a result of zero becomes 0xffff), BPF_F_MARK_ENFORCE,
 *   BPF_F_PSEUDO_HDR (which changes only the skb's csum, not visible here) and
 *   BPF_F_IPV6;
 * - csum_diff: sizes multiples of 4, together at most 512 bytes; the
 *   ones'-complement sum of ~from and to, seeded, folded to 16 bits (not
 *   complemented), as 6.18 returns it;
 * - xdp_adjust_head/meta/tail: the bounds of the kernel (head: data stays
 *   between the buffer's head plus sizeof(struct xdp_frame) plus the
 *   metadata, and data_end - 14; meta: a multiple of 4, at most 252 bytes;
 *   tail: data_end up to the buffer's end less its tailroom, at least 14
 *   bytes of data; grown bytes are zeroed; a multi-buffer frame's tail is
 *   its last fragment, see adjustFragsTail);
 * - xdp_load_bytes / xdp_store_bytes: offset and len at most 0xffff
 *   (-EFAULT), offset + len within the frame, fragments included (-EINVAL),
 *   the program's memory untouched on an error;
 * - redirect / redirect_map: the verdict (XDP_REDIRECT / TC_ACT_REDIRECT,
 *   or XDP_ABORTED / TC_ACT_SHOT for bad flags, redirect_map's fallback
 *   action in the low 2 bits of flags when the key is absent) and, for the
 *   caller to read, RunState.redirect. tsbpf has no devmap, cpumap or
 *   xskmap: redirect_map takes any map of the program whose lookup finds
 *   the key (the modern kernel's verifier allows only those three types).
 */

import { BpfError } from '../errors.js';
import type { HelperEnv } from '../runtime/helpers.js';
import { ARG, ARG_FLAG, RET, argU32, argU64, setR0 } from '../runtime/helpers.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';
import { PacketFrame } from './frame.js';
import { SKB_MAX_GROW } from './sk-buff.js';
import { mapArg, pointer } from './map-helpers.js';
import { XDP_ACTION, XDP_FRAME_HEAD, XDP_FRAME_SIZE as XDP_PAGE, XDP_TAILROOM } from './xdp.js';

const ETH_HLEN = 14;
const EINVAL = -22;
const EFAULT = -14;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;

/**
 * The run's frame of `kind`, which r1 must name. `write`: the helper
 * writes the packet, which must be writable for the run (a socket
 * filter's is not: the kernel gives it none of these helpers, and an
 * unverified one calling them gets EFAULT rather than a changed packet).
 */
function frameOf(regs: Int32Array, env: HelperEnv, kind: 'xdp' | 'skb', name: string, write = false): PacketFrame {
  const f = env.run.input?.frame;
  if (!(f instanceof PacketFrame) || f.kind !== kind) throw new BpfError('EFAULT', `${name}: the run has no ${kind === 'xdp' ? 'XDP' : 'skb'} frame`);
  if (argU32(regs, 1) !== f.ctx) throw new BpfError('EFAULT', `${name}: r1 is not the program's context`);
  if (write && !f.region.writable) throw new BpfError('EFAULT', `${name}: the packet is read-only for this program`);
  return f;
}

export const SKB_LOAD_BYTES: HelperDef = {
  id: BPF_FUNC.skb_load_bytes,
  name: 'bpf_skb_load_bytes',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.PTR_TO_MEM | ARG_FLAG.UNINIT, ARG.CONST_SIZE] },
  progTypes: ['socket_filter', 'sched_cls'],
  since: '4.5',
  call(regs, env) {
    const f = frameOf(regs, env, 'skb', 'bpf_skb_load_bytes');
    const off = argU64(regs, 2) & 0xffffffffn;
    const len = argU32(regs, 4);
    if (len <= 0) return setR0(regs, EINVAL);
    const to = pointer(regs, 3, len, true, env);
    if (off > 0x7fffffffn || Number(off) + len > f.end - f.data) {
      env.u8.fill(0, to, to + len);
      return setR0(regs, EFAULT);
    }
    env.u8.copyWithin(to, f.data + Number(off), f.data + Number(off) + len);
    setR0(regs, 0);
  },
};

const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;

export const SKB_STORE_BYTES: HelperDef = {
  id: BPF_FUNC.skb_store_bytes,
  name: 'bpf_skb_store_bytes',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.PTR_TO_MEM | ARG_FLAG.RDONLY, ARG.CONST_SIZE, ARG.ANYTHING] },
  progTypes: ['sched_cls'],
  since: '4.1',
  call(regs, env) {
    const f = frameOf(regs, env, 'skb', 'bpf_skb_store_bytes', true);
    const off = argU64(regs, 2) & 0xffffffffn;
    const len = argU32(regs, 4);
    const flags = argU64(regs, 5);
    if ((flags & ~BigInt(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) !== 0n || len <= 0) return setR0(regs, EINVAL);
    const from = pointer(regs, 3, len, false, env);
    if (off > 0x7fffffffn || Number(off) + len > f.end - f.data) return setR0(regs, EFAULT);
    env.u8.copyWithin(f.data + Number(off), from, from + len);
    setR0(regs, 0);
  },
};

/** ones'-complement helpers on 32-bit partial sums and 16-bit checksums, over values as loaded (little-endian) */
function add32(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s >= 0x100000000 ? s - 0xffffffff : s) >>> 0;
}
function fold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return (~s) & 0xffff;
}
/** csum_replace4 / csum_replace2 / csum_replace_by_diff on the 16-bit checksum `old` */
function replace(old: number, from: number, to: number, size: number): number {
  const unfolded = (~old) & 0xffff;
  if (size === 0) return fold(add32(to, unfolded));
  return fold(add32(add32(unfolded, (~from) >>> 0), to >>> 0));
}

const HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 1 << 4;
const BPF_F_MARK_MANGLED_0 = 1 << 5;
const BPF_F_MARK_ENFORCE = 1 << 6;
const BPF_F_IPV6 = 1 << 7;

function csumReplace(regs: Int32Array, env: HelperEnv, l4: boolean): void {
  const name = l4 ? 'bpf_l4_csum_replace' : 'bpf_l3_csum_replace';
  const f = frameOf(regs, env, 'skb', name, true);
  const off = argU64(regs, 2);
  const fromW = argU64(regs, 3);
  const toW = argU64(regs, 4);
  const flags = argU64(regs, 5);
  const allowed = l4 ? BigInt(HDR_FIELD_MASK | BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_IPV6) : BigInt(HDR_FIELD_MASK);
  if ((flags & ~allowed) !== 0n) return setR0(regs, EINVAL);
  if (off > 0xffffn || (off & 1n) !== 0n) return setR0(regs, EFAULT);
  const at = f.data + Number(off);
  if (Number(off) + 2 > f.end - f.data) return setR0(regs, EFAULT);
  const v = env.view;
  const old = v.getUint16(at, true);
  const fl = Number(flags);
  const mangled0 = l4 && (fl & BPF_F_MARK_MANGLED_0) !== 0;
  if (mangled0 && (fl & BPF_F_MARK_ENFORCE) === 0 && old === 0) return setR0(regs, 0);
  const size = fl & HDR_FIELD_MASK;
  const from = Number(fromW & 0xffffffffn);
  const to = Number(toW & 0xffffffffn);
  let sum: number;
  if (size === 0) {
    if (fromW !== 0n) return setR0(regs, EINVAL);
    sum = replace(old, 0, to, 0);
  } else if (size === 2) sum = replace(old, from & 0xffff, to & 0xffff, 2);
  else if (size === 4) sum = replace(old, from, to, 4);
  else return setR0(regs, EINVAL);
  if (mangled0 && sum === 0) sum = 0xffff;
  v.setUint16(at, sum, true);
  setR0(regs, 0);
}

export const L3_CSUM_REPLACE: HelperDef = {
  id: BPF_FUNC.l3_csum_replace,
  name: 'bpf_l3_csum_replace',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.ANYTHING, ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['sched_cls'],
  since: '4.1',
  call: (regs, env) => csumReplace(regs, env, false),
};

export const L4_CSUM_REPLACE: HelperDef = {
  id: BPF_FUNC.l4_csum_replace,
  name: 'bpf_l4_csum_replace',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.ANYTHING, ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['sched_cls'],
  since: '4.1',
  call: (regs, env) => csumReplace(regs, env, true),
};

export const CSUM_DIFF: HelperDef = {
  id: BPF_FUNC.csum_diff,
  name: 'bpf_csum_diff',
  proto: {
    ret: RET.INTEGER,
    args: [ARG.PTR_TO_MEM | ARG_FLAG.MAYBE_NULL | ARG_FLAG.RDONLY, ARG.CONST_SIZE_OR_ZERO, ARG.PTR_TO_MEM | ARG_FLAG.MAYBE_NULL | ARG_FLAG.RDONLY, ARG.CONST_SIZE_OR_ZERO, ARG.ANYTHING],
  },
  progTypes: ['sched_cls', 'xdp'],
  since: '4.6',
  call(regs, env) {
    const fromSize = argU32(regs, 2);
    const toSize = argU32(regs, 4);
    if (fromSize < 0 || toSize < 0 || ((fromSize | toSize) & 3) !== 0 || fromSize + toSize > 512) return setR0(regs, EINVAL);
    let sum = Number(argU64(regs, 5) & 0xffffffffn);
    const v = env.view;
    if (fromSize > 0) {
      const from = pointer(regs, 1, fromSize, false, env);
      for (let k = 0; k < fromSize; k += 4) sum = add32(sum, (~v.getUint32(from + k, true)) >>> 0);
    }
    if (toSize > 0) {
      const to = pointer(regs, 3, toSize, false, env);
      for (let k = 0; k < toSize; k += 4) sum = add32(sum, v.getUint32(to + k, true));
    }
    // 6.18 folds the sum to 16 bits, not complemented, on every architecture (measured: ~0x0100000a alone gives 0xfef5)
    let s16 = (sum & 0xffff) + (sum >>> 16);
    s16 = (s16 & 0xffff) + (s16 >>> 16);
    setR0(regs, s16);
  },
};

/** The second argument as the kernel's int */
const intArg = (regs: Int32Array, n: number): number => regs[2 * n]!;

export const XDP_ADJUST_HEAD: HelperDef = {
  id: BPF_FUNC.xdp_adjust_head,
  name: 'bpf_xdp_adjust_head',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING] },
  progTypes: ['xdp'],
  since: '4.10',
  call(regs, env) {
    const f = frameOf(regs, env, 'xdp', 'bpf_xdp_adjust_head');
    const delta = intArg(regs, 2);
    const metalen = f.data - f.meta;
    const data = f.data + delta;
    if (data < f.bufStart + XDP_FRAME_HEAD + metalen || data > f.end - ETH_HLEN) return setR0(regs, EINVAL);
    if (metalen > 0) env.u8.copyWithin(f.meta + delta, f.meta, f.data);
    f.meta += delta;
    f.data = data;
    f.sync();
    setR0(regs, 0);
  },
};

export const XDP_ADJUST_META: HelperDef = {
  id: BPF_FUNC.xdp_adjust_meta,
  name: 'bpf_xdp_adjust_meta',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING] },
  progTypes: ['xdp'],
  since: '4.15',
  call(regs, env) {
    const f = frameOf(regs, env, 'xdp', 'bpf_xdp_adjust_meta');
    const meta = f.meta + intArg(regs, 2);
    const metalen = f.data - meta;
    if (meta < f.bufStart + XDP_FRAME_HEAD || meta > f.data) return setR0(regs, EINVAL);
    if ((metalen & 3) !== 0 || metalen > 255) return setR0(regs, -13);
    f.meta = meta;
    f.sync();
    setR0(regs, 0);
  },
};

export const XDP_ADJUST_TAIL: HelperDef = {
  id: BPF_FUNC.xdp_adjust_tail,
  name: 'bpf_xdp_adjust_tail',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING] },
  progTypes: ['xdp'],
  since: '4.18',
  call(regs, env) {
    const f = frameOf(regs, env, 'xdp', 'bpf_xdp_adjust_tail');
    const delta = intArg(regs, 2);
    if (f.frags.length > 0) return setR0(regs, adjustFragsTail(f, delta));
    const end = f.end + delta;
    if (end > f.bufEnd - XDP_TAILROOM || end < f.data + ETH_HLEN) return setR0(regs, EINVAL);
    if (delta > 0) env.u8.fill(0, f.end, end);
    f.end = end;
    f.sync();
    setR0(regs, 0);
  },
};

/**
 * bpf_xdp_adjust_tail on a multi-buffer frame: growing adds zeros to the
 * last fragment, within its page; shrinking takes bytes off the end,
 * fragments first (a fragment emptied is dropped), then from the buffer;
 * at least 14 bytes stay in all.
 */
function adjustFragsTail(f: PacketFrame, delta: number): number {
  const last = f.frags[f.frags.length - 1]!;
  if (delta > 0) {
    if (last.length + delta > XDP_PAGE) return EINVAL;
    const grown = new Uint8Array(last.length + delta);
    grown.set(last);
    f.frags[f.frags.length - 1] = grown;
    return 0;
  }
  let offset = -delta;
  if (offset > f.end - f.data + f.fragsLength() - ETH_HLEN) return EINVAL;
  while (offset > 0 && f.frags.length > 0) {
    const tail = f.frags[f.frags.length - 1]!;
    if (tail.length <= offset) {
      f.frags.pop();
      offset -= tail.length;
    } else {
      f.frags[f.frags.length - 1] = tail.slice(0, tail.length - offset);
      offset = 0;
    }
  }
  f.end -= offset;
  f.sync();
  return 0;
}

/**
 * bpf_skb_change_tail (4.9) and bpf_skb_change_head (4.10), tc only: the
 * skb's new length at most SKB_MAX_GROW (16064 bytes in a 6.18 test run),
 * change_tail's at least the 14-byte Ethernet header, no flags (-EINVAL
 * otherwise); the bytes added are zero. change_head adds room before the
 * Ethernet header (the frame then starts with it).
 *
 * Known difference: LD_ABS / LD_IND read the packet as it was when the
 * run began (the engines take its bounds then); direct access and the
 * helpers see the change.
 */
export const SKB_CHANGE_TAIL: HelperDef = {
  id: BPF_FUNC.skb_change_tail,
  name: 'bpf_skb_change_tail',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['sched_cls'],
  since: '4.9',
  call(regs, env) {
    const f = frameOf(regs, env, 'skb', 'bpf_skb_change_tail', true);
    const len = argU32(regs, 2);
    if (argU64(regs, 3) !== 0n || len > SKB_MAX_GROW || len < ETH_HLEN) return setR0(regs, EINVAL);
    const end = f.data + len;
    // the frame's buffer has room for SKB_MAX_GROW; never write past it, whatever a run did to data
    if (end > f.bufEnd) return setR0(regs, EINVAL);
    if (end > f.end) env.u8.fill(0, f.end, end);
    f.end = end;
    f.sync();
    setR0(regs, 0);
  },
};

export const SKB_CHANGE_HEAD: HelperDef = {
  id: BPF_FUNC.skb_change_head,
  name: 'bpf_skb_change_head',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['sched_cls'],
  since: '4.10',
  call(regs, env) {
    const f = frameOf(regs, env, 'skb', 'bpf_skb_change_head', true);
    const room = argU32(regs, 2);
    if (argU64(regs, 3) !== 0n || room > SKB_MAX_GROW - (f.end - f.data)) return setR0(regs, EINVAL);
    const data = f.data - room;
    if (data < f.bufStart) return setR0(regs, EINVAL);
    env.u8.fill(0, data, f.data);
    // no metadata in a test run's skb: data_meta stays equal to data
    f.meta = data;
    f.data = data;
    f.sync();
    setR0(regs, 0);
  },
};

const BPF_F_INGRESS = 1n;

export const REDIRECT: HelperDef = {
  id: BPF_FUNC.redirect,
  name: 'bpf_redirect',
  proto: { ret: RET.INTEGER, args: [ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['sched_cls', 'xdp'],
  since: '4.4',
  call(regs, env) {
    const xdp = env.run.input?.frame instanceof PacketFrame && env.run.input.frame.kind === 'xdp';
    const flags = argU64(regs, 2);
    if (xdp ? flags !== 0n : (flags & ~BPF_F_INGRESS) !== 0n) return setR0(regs, xdp ? XDP_ACTION.ABORTED : TC_ACT_SHOT);
    env.run.redirect = { ifindex: regs[2]! >>> 0, flags };
    setR0(regs, xdp ? XDP_ACTION.REDIRECT : TC_ACT_REDIRECT);
  },
};

const BPF_F_ACTION_MASK = 3n;
const BPF_F_BROADCAST = 1n << 3n;
const BPF_F_EXCLUDE_INGRESS = 1n << 4n;

export const REDIRECT_MAP: HelperDef = {
  id: BPF_FUNC.redirect_map,
  name: 'bpf_redirect_map',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.ANYTHING, ARG.ANYTHING] },
  progTypes: ['xdp'],
  since: '4.14',
  call(regs, env) {
    const map = mapArg(regs, env, 'bpf_redirect_map');
    const key = argU64(regs, 2);
    const flags = argU64(regs, 3);
    if ((flags & ~(BPF_F_ACTION_MASK | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS)) !== 0n) return setR0(regs, XDP_ACTION.ABORTED);
    // the key as the map's lookup reads it: the low key_size bytes (u32 for devmaps), from a scratch of the helper
    const scratch = env.run.scratch();
    env.view.setBigUint64(scratch, key, true);
    const found = map.keySize <= 8 && map.lookup(scratch) !== 0;
    if (!found) return setR0(regs, flags & BPF_F_ACTION_MASK);
    env.run.redirect = { map: map.addr, key, flags };
    setR0(regs, XDP_ACTION.REDIRECT);
  },
};

/**
 * bpf_xdp_get_buff_len (5.18): the frame's bytes, the buffer's and its
 * fragments' (xdp_get_buff_len).
 */
export const XDP_GET_BUFF_LEN: HelperDef = {
  id: BPF_FUNC.xdp_get_buff_len,
  name: 'bpf_xdp_get_buff_len',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX] },
  progTypes: ['xdp'],
  since: '5.18',
  call(regs, env) {
    const f = frameOf(regs, env, 'xdp', 'bpf_xdp_get_buff_len');
    setR0(regs, f.end - f.data + f.fragsLength());
  },
};

/**
 * bpf_xdp_load_bytes / bpf_xdp_store_bytes (5.18): len bytes at `offset`
 * into the frame, the buffer's bytes then its fragments' (a copy may span
 * them), copied to or from the program's memory. As the kernel's
 * bpf_xdp_pointer: an offset or len above 0xffff is -EFAULT, offset + len
 * past the frame's length -EINVAL, and the program's memory is then left
 * as it was.
 */
function xdpBytes(regs: Int32Array, env: HelperEnv, store: boolean): void {
  const name = store ? 'bpf_xdp_store_bytes' : 'bpf_xdp_load_bytes';
  const f = frameOf(regs, env, 'xdp', name, store);
  const off = argU32Of(regs, 2);
  const len = argU32Of(regs, 4);
  if (off > 0xffff || len > 0xffff) return setR0(regs, EFAULT);
  const linear = f.end - f.data;
  if (off + len > linear + f.fragsLength()) return setR0(regs, EINVAL);
  // the program's memory is checked where it is touched: an error above leaves it alone
  const mem = pointer(regs, 3, len, !store, env);
  const u8 = env.u8;
  // the part in the buffer, then each fragment's
  let at = off;
  let done = 0;
  if (at < linear) {
    const n = Math.min(len, linear - at);
    if (store) u8.copyWithin(f.data + at, mem, mem + n);
    else u8.copyWithin(mem, f.data + at, f.data + at + n);
    done = n;
    at = 0;
  } else at -= linear;
  for (const frag of f.frags) {
    if (done === len) break;
    if (at >= frag.length) {
      at -= frag.length;
      continue;
    }
    const n = Math.min(len - done, frag.length - at);
    if (store) frag.set(u8.subarray(mem + done, mem + done + n), at);
    else u8.set(frag.subarray(at, at + n), mem + done);
    done += n;
    at = 0;
  }
  setR0(regs, 0);
}

/** a u32 argument (the low half of the register, as the kernel's u32 parameters take it) */
function argU32Of(regs: Int32Array, n: number): number {
  return regs[2 * n]! >>> 0;
}

export const XDP_LOAD_BYTES: HelperDef = {
  id: BPF_FUNC.xdp_load_bytes,
  name: 'bpf_xdp_load_bytes',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.PTR_TO_MEM | ARG_FLAG.UNINIT, ARG.CONST_SIZE] },
  progTypes: ['xdp'],
  since: '5.18',
  call: (regs, env) => xdpBytes(regs, env, false),
};

export const XDP_STORE_BYTES: HelperDef = {
  id: BPF_FUNC.xdp_store_bytes,
  name: 'bpf_xdp_store_bytes',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_CTX, ARG.ANYTHING, ARG.PTR_TO_MEM | ARG_FLAG.RDONLY, ARG.CONST_SIZE] },
  progTypes: ['xdp'],
  since: '5.18',
  call: (regs, env) => xdpBytes(regs, env, true),
};
