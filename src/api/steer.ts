/**
 * Flow steering for the worker pool (pool.ts, pool-worker.ts), as a NIC's
 * receive-side scaling does it: each packet goes to worker
 * `workerOf(flowHash(packet), workers)`, so that all the packets of a flow run on one
 * worker, in capture order. A program's per-flow state (a counter, a
 * connection's state machine) is then touched by one thread only: no cache
 * line moves between cores for it, and a stateful program sees each flow's
 * packets in order, as on one thread.
 *
 * The flow key, read from where the packet's network header is (the link
 * walk of pcap/linktype.ts's linkHeader, repeated here without allocating:
 * it runs once per packet):
 * - IPv4 or IPv6 carrying TCP, UDP or SCTP, not a fragment: the 5-tuple
 *   (both addresses, both ports, the protocol). IPv6 has ports only when its
 *   fixed header's next header is one of those three directly.
 * - Other IP, IPv4 fragments (MF set or a fragment offset: only the first
 *   fragment would have ports) and an IPv4 header length under 20: the
 *   address pair and the protocol (IPv6: the next header).
 * - Not IP on Ethernet: the pair of MAC addresses (a conversation between
 *   two stations stays on one worker).
 * - Not IP on any other link type (Linux cooked captures keep only the
 *   sender's address, so the two directions could not be paired; raw IP and
 *   BSD loopback have no addresses), and frames too short for their
 *   addresses: worker 0. Such frames are few in an IP capture, and one
 *   worker keeps them in capture order among themselves.
 *
 * The key is symmetric: the two endpoints (address and port) are put in
 * order before hashing, so both directions of a connection go to the same
 * worker, as stateful programs (conntrack) need. A header cut short by the
 * capture's snap length is hashed as the shorter key whose fields are all
 * present (5-tuple, then the address pair, then the link layer's); nothing
 * past the captured length is read and nothing throws.
 *
 * The hash is MurmurHash3's 32-bit word mixing (public domain, Austin
 * Appleby) over the key's words: a tag word (the IP version and protocol,
 * or the link layer), then the ordered endpoints.
 */

import { LINKTYPE, ETHERTYPE, isRawIp } from '../pcap/linktype.js';

/** How a pool gives packets to its workers: 'flow' by flowHash, 'chunk' in turns of CHUNK packets taken by whichever worker is free. */
export type SteerMode = 'flow' | 'chunk';

/**
 * Packets per chunk (a multiple of pool-worker.ts's BATCH). Steer 'chunk': what a worker
 * takes from a run at a time; workers take chunks until none is left, so
 * that one slowed down (a busier core, more new flows in its part of the
 * capture) leaves the rest to the others instead of being waited for, as
 * with a fixed split into one part per worker. Steer 'flow': the packets
 * steered at once by one worker, and the stretch of the capture every
 * worker walks at a time.
 */
export const CHUNK = 4096;

/** The steer modes, for messages. */
export const STEER_MODES: readonly SteerMode[] = ['flow', 'chunk'];

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_SCTP = 132;

/** Key tags: the first word of each key, so that keys of different kinds never meet. */
const TAG_ETHER = 0x1_0000;
/** IPv4 and IPv6 keys: (version << 8) | protocol */
const tagIp = (version: number, proto: number): number => (version << 8) | proto;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** One word into the running hash. */
function step(h: number, w: number): number {
  let k = Math.imul(w, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * The end of the hash: the key's length in words mixed in, then every bit
 * made to reach every other. Int32 (the u32's bits): every value in the
 * per-packet path stays a small integer to V8, never a boxed number.
 */
function finish(h: number, words: number): number {
  h ^= words * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The hash of a key given as its words (u32 each): what flowHash computes
 * over the words it reads from a packet. Exported for the tests, which
 * build the keys of hand-made frames independently.
 */
export function hashWords(words: readonly number[]): number {
  let h = 0;
  for (const w of words) h = step(h, w | 0);
  return finish(h, words.length) >>> 0;
}

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
/** A big-endian word as an int32 (compared unsigned with ltu) */
const u32 = (b: Uint8Array, at: number): number => (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
/** a < b as unsigned 32-bit numbers, on their int32 bits */
const ltu = (a: number, b: number): boolean => (a ^ SIGN) < (b ^ SIGN);
const SIGN = -0x8000_0000;

function isVlanTag(t: number): boolean {
  return t === ETHERTYPE.VLAN || t === ETHERTYPE.QINQ || t === ETHERTYPE.QINQ_OLD;
}

/**
 * The flow hash (u32) of the packet in `b[start, start + len)`, of link
 * type `linkType`: 0 for a packet steered to worker 0 (no key; see above).
 */
export function flowHash(b: Uint8Array, start: number, len: number, linkType: number): number {
  return hash32(b, start, start + len, linkType) >>> 0;
}

/**
 * The worker of a flow hash among `workers` (1 to 256): the hash's top 16
 * bits scaled to the range, rather than a remainder, which V8 computes on a
 * u32 as a floating-point call.
 */
export function workerOf(hash: number, workers: number): number {
  return ((hash >>> 16) * workers) >>> 16;
}

/**
 * flowHash's bits as an int32, of the packet in b[start, end). Every value
 * on this path is an int32, which V8 keeps unboxed: a u32 above 2^31 would
 * be a heap number at each call.
 */
function hash32(b: Uint8Array, start: number, end: number, linkType: number): number {
  if (linkType === LINKTYPE.ETHERNET) {
    // the common case first: IPv4 right after the MAC addresses
    if (end >= start + 14 + 20 && b[start + 12] === 0x08 && b[start + 13] === 0x00) {
      const h = ipv4Hash(b, start + 14, end);
      return h === 0 ? etherKey(b, start, end) : h;
    }
    return etherHash(b, start, end);
  }
  // where the network header starts, and what it is (linkHeader's walk)
  let net = -1;
  let proto = 0;
  if (isRawIp(linkType)) {
    net = start;
    if (end > net) proto = b[net]! >> 4 === 4 ? ETHERTYPE.IPV4 : b[net]! >> 4 === 6 ? ETHERTYPE.IPV6 : 0;
  } else if (linkType === LINKTYPE.LINUX_SLL) {
    if (end >= start + 16) {
      net = start + 16;
      proto = u16(b, start + 14);
    }
  } else if (linkType === LINKTYPE.LINUX_SLL2) {
    if (end >= start + 20) {
      net = start + 20;
      proto = u16(b, start);
    }
  }
  if (proto === ETHERTYPE.IPV4) return ipv4Hash(b, net, end);
  if (proto === ETHERTYPE.IPV6) return ipv6Hash(b, net, end);
  return 0;
}

/** An Ethernet frame other than untagged IPv4: VLAN tags walked, then IP's key or else the frame's MAC addresses. */
function etherHash(b: Uint8Array, start: number, end: number): number {
  let typeAt = start + 12;
  if (end < typeAt + 2) return etherKey(b, start, end);
  let t = u16(b, typeAt);
  while (isVlanTag(t)) {
    typeAt += 4;
    if (end < typeAt + 2) return etherKey(b, start, end);
    t = u16(b, typeAt);
  }
  // (values under 0x0600 are an 802.3 length: no network header)
  const h = t === ETHERTYPE.IPV4 ? ipv4Hash(b, typeAt + 2, end) : t === ETHERTYPE.IPV6 ? ipv6Hash(b, typeAt + 2, end) : 0;
  return h === 0 ? etherKey(b, start, end) : h;
}

/** An Ethernet frame's key: its two MAC addresses in order (0: the frame is too short for them). */
function etherKey(b: Uint8Array, start: number, end: number): number {
  if (end < start + 12) return 0;
  const d0 = u32(b, start);
  const d1 = u16(b, start + 4);
  const s0 = u32(b, start + 6);
  const s1 = u16(b, start + 10);
  const dFirst = ltu(d0, s0) || (d0 === s0 && d1 <= s1);
  let h = step(0, TAG_ETHER);
  h = step(h, dFirst ? d0 : s0);
  h = step(h, dFirst ? d1 : s1);
  h = step(h, dFirst ? s0 : d0);
  h = step(h, dFirst ? s1 : d1);
  return finish(h, 5);
}

/** An IPv4 packet's key at `net`: 0 when even its addresses were not captured. */
function ipv4Hash(b: Uint8Array, net: number, end: number): number {
  if (end < net + 20) return 0;
  const proto = b[net + 9]!;
  const src = u32(b, net + 12);
  const dst = u32(b, net + 16);
  const ihl = (b[net]! & 15) * 4;
  // MF (0x2000) or a fragment offset: a fragment, whose later parts have no ports
  const frag = ((b[net + 6]! & 0x3f) | b[net + 7]!) !== 0;
  const ports = net + ihl;
  const srcFirst = ltu(src, dst);
  let h = step(0, tagIp(4, proto));
  if (!frag && ihl >= 20 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) && end >= ports + 4) {
    const sp = u16(b, ports);
    const dp = u16(b, ports + 2);
    const first = srcFirst || (src === dst && sp <= dp);
    h = step(h, first ? src : dst);
    h = step(h, first ? dst : src);
    h = step(h, first ? (sp << 16) | dp : (dp << 16) | sp);
    return finish(h, 4);
  }
  h = step(h, srcFirst ? src : dst);
  h = step(h, srcFirst ? dst : src);
  return finish(h, 3);
}

/** An IPv6 packet's key at `net`: 0 when even its addresses were not captured. */
function ipv6Hash(b: Uint8Array, net: number, end: number): number {
  if (end < net + 40) return 0;
  const next = b[net + 6]!;
  // the two addresses compared word by word: which one is the lower endpoint
  let cmp = 0;
  for (let i = 0; i < 16 && cmp === 0; i += 4) {
    const s = u32(b, net + 8 + i);
    const d = u32(b, net + 24 + i);
    cmp = s === d ? 0 : ltu(s, d) ? -1 : 1;
  }
  const withPorts = (next === IPPROTO_TCP || next === IPPROTO_UDP || next === IPPROTO_SCTP) && end >= net + 44;
  let sp = 0;
  let dp = 0;
  if (withPorts) {
    sp = u16(b, net + 40);
    dp = u16(b, net + 42);
    if (cmp === 0) cmp = sp < dp ? -1 : sp > dp ? 1 : 0;
  }
  const lo = cmp <= 0 ? net + 8 : net + 24;
  const hi = cmp <= 0 ? net + 24 : net + 8;
  let h = step(0, tagIp(6, next));
  for (let i = 0; i < 16; i += 4) h = step(h, u32(b, lo + i));
  for (let i = 0; i < 16; i += 4) h = step(h, u32(b, hi + i));
  if (!withPorts) return finish(h, 9);
  h = step(h, cmp <= 0 ? (sp << 16) | dp : (dp << 16) | sp);
  return finish(h, 10);
}

/**
 * Steer packets [from, to) of a capture index to `workers` workers: each
 * one's worker (workerOf its flowHash) into `owner` at its packet's index.
 * `index` holds `words` Int32 per packet: the data's offset in `bytes`, its
 * captured length, its length on the wire, its link type (pool.ts's layout).
 */
export function steerRange(bytes: Uint8Array, index: Int32Array, words: number, owner: Uint8Array, from: number, to: number, workers: number): void {
  const b = bytes;
  for (let i = from; i < to; i++) {
    const w = i * words;
    const start = index[w]!;
    const end = start + index[w + 1]!;
    let h: number;
    // the common case inline, as ipv4Hash computes it (V8 does not inline that function here): Ethernet, IPv4 of a 20-byte
    // header, TCP/UDP/SCTP, not a fragment, the ports captured
    const net = start + 14;
    const proto = b[net + 9]!;
    if (
      index[w + 3] === LINKTYPE.ETHERNET && end >= net + 24 && b[start + 12] === 0x08 && b[start + 13] === 0x00 && b[net] === 0x45 &&
      ((b[net + 6]! & 0x3f) | b[net + 7]!) === 0 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP)
    ) {
      const src = u32(b, net + 12);
      const dst = u32(b, net + 16);
      const sp = u16(b, net + 20);
      const dp = u16(b, net + 22);
      const first = ltu(src, dst) || (src === dst && sp <= dp);
      h = step(0, tagIp(4, proto));
      h = step(h, first ? src : dst);
      h = step(h, first ? dst : src);
      h = finish(step(h, first ? (sp << 16) | dp : (dp << 16) | sp), 4);
    } else {
      h = hash32(b, start, end, index[w + 3]!);
    }
    owner[i] = workerOf(h, workers);
  }
}
