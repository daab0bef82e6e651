/**
 * Frames for the filter compiler's differential tests: Ethernet frames with
 * and without (stacked) VLAN tags carrying IPv4 (with and without options,
 * fragments), IPv6 (with and without a fragment header), ARP and RARP, some
 * inside MPLS labels or a PPPoE session, over
 * TCP, UDP, ICMP, ICMPv6, SCTP, IGMP, AH, ESP, VRRP and others, to
 * broadcast, multicast and unicast addresses; plus truncated copies. And the
 * same packets under the other link types' headers.
 */

import { prng } from '../src/bench/filter-e2e.js';

export const V4 = [[1, 2, 3, 4], [5, 6, 7, 8], [10, 1, 2, 3], [192, 168, 1, 1], [255, 255, 255, 255], [224, 0, 0, 1], [0, 0, 0, 10], [10, 0, 0, 0]];
export const V6 = [
  [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
  [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
];
export const MACS = [[1, 2, 3, 4, 5, 6], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x01, 0x00, 0x5e, 0, 0, 1], [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff], [0x33, 0x33, 0, 0, 0, 1]];
export const PORTS = [80, 443, 53, 22, 1, 2, 100, 5060, 8080, 0];

/** The benches' seeded PRNG (mulberry32), so the frames are the same on every run. */
export { prng };

function transport(proto: number, rnd: () => number, pick: <T>(a: readonly T[]) => T): number[] {
  const sp = pick(PORTS);
  const dp = pick(PORTS);
  switch (proto) {
    case 6: return [sp >> 8, sp & 255, dp >> 8, dp & 255, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, pick([2, 0x12, 0x10, 0x11, 4, 0x18, 0]), 0x20, 0, 0, 0, 0, 0];
    case 17: return [sp >> 8, sp & 255, dp >> 8, dp & 255, 0, 12, 0, 0, 1, 2, 3, 4];
    case 132: return [sp >> 8, sp & 255, dp >> 8, dp & 255, 0, 0, 0, 0, 0, 0, 0, 0];
    case 1: return [pick([0, 3, 8, 11]), 0, 0, 0, 0, 1, 0, 1];
    case 58: return [pick([128, 129, 135, 136, 1]), 0, 0, 0, 0, 0, 0, 0];
    default: return Array.from({ length: 8 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256));
  }
}

/** Network-layer packets (IPv4, IPv6, ARP, RARP, other) with their Ethernet type. */
export function netPackets(count: number, seed = 1): { type: number; bytes: number[] }[] {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const out: { type: number; bytes: number[] }[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(['v4', 'v4', 'v4', 'v6', 'v6', 'arp', 'rarp', 'other']);
    if (kind === 'v4') {
      const proto = pick([6, 6, 17, 17, 1, 132, 2, 51, 50, 112, 47]);
      const opts = rnd() < 0.2 ? [1, 1, 1, 0] : [];
      const frag = pick([0, 0, 0, 0x2000, 0x0010, 0x4000]);
      const body = transport(proto, rnd, pick);
      const hdr = [0x40 | (5 + opts.length / 4), 0, 0, 20 + opts.length + body.length, 0, 1, frag >> 8, frag & 255, 64, proto, 0, 0, ...pick(V4), ...pick(V4), ...opts];
      out.push({ type: 0x0800, bytes: [...hdr, ...body] });
    } else if (kind === 'v6') {
      const proto = pick([6, 17, 58, 132, 44, 51]);
      let body: number[];
      let nh = proto;
      if (proto === 44) {
        const inner = pick([6, 17, 58]);
        body = [inner, 0, 0, 0, 0, 0, 0, 1, ...transport(inner, rnd, pick)];
      } else body = transport(proto, rnd, pick);
      if (proto === 44) nh = 44;
      out.push({ type: 0x86dd, bytes: [0x60, 0, 0, 0, body.length >> 8, body.length & 255, nh, 64, ...pick(V6), ...pick(V6), ...body] });
    } else if (kind === 'arp' || kind === 'rarp') {
      out.push({ type: kind === 'arp' ? 0x0806 : 0x8035, bytes: [0, 1, 8, 0, 6, 4, 0, 1, ...pick(MACS), ...pick(V4), ...pick(MACS), ...pick(V4)] });
    } else {
      out.push({ type: pick([0x88cc, 0x0842, 0x9000]), bytes: Array.from({ length: 30 }, () => Math.floor(rnd() * 256)) });
    }
  }
  return out;
}

/** Ethernet frames of the packets: some VLAN-tagged (once or twice), some truncated. */
export function etherFrames(count: number, seed = 1): Uint8Array[] {
  const rnd = prng(seed + 1000);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  return netPackets(count, seed).map(({ type, bytes }) => {
    const tags: number[] = [];
    const r = rnd();
    if (r < 0.15) tags.push(0x81, 0x00, 0x00, pick([5, 10, 100]));
    else if (r < 0.2) tags.push(0x88, 0xa8, 0x00, 10, 0x81, 0x00, 0x00, pick([5, 10]));
    let t = type;
    let payload = bytes;
    const enc = rnd();
    if ((type === 0x0800 || type === 0x86dd) && enc < 0.1) {
      // one or two MPLS labels, the last with the bottom-of-stack bit
      const labels = pick([[5], [6], [5, 6], [100, 5]]);
      payload = [...labels.flatMap((l, i) => [(l >> 12) & 255, (l >> 4) & 255, ((l & 15) << 4) | (i === labels.length - 1 ? 1 : 0), 64]), ...bytes];
      t = 0x8847;
    } else if ((type === 0x0800 || type === 0x86dd) && enc < 0.18) {
      const session = pick([7, 3, 0x1234]);
      payload = [0x11, 0, session >> 8, session & 255, (bytes.length + 2) >> 8, (bytes.length + 2) & 255, 0, type === 0x0800 ? 0x21 : 0x57, ...bytes];
      t = 0x8864;
    }
    const f = [...pick(MACS), ...pick(MACS), ...tags, t >> 8, t & 255, ...payload];
    const cut = rnd() < 0.08 ? Math.floor(rnd() * f.length) : f.length;
    return Uint8Array.from(f.slice(0, cut));
  });
}

/** The packets under another link type's header (linktype number). */
export function linkFrames(linktype: number, count: number, seed = 1): Uint8Array[] {
  return netPackets(count, seed).map(({ type, bytes }) => {
    switch (linktype) {
      case 101: case 228: case 229: return Uint8Array.from(bytes);
      case 113: return Uint8Array.from([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, type >> 8, type & 255, ...bytes]);
      case 276: return Uint8Array.from([type >> 8, type & 255, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, ...bytes]);
      case 0: case 108: {
        const fam = type === 0x0800 ? 2 : type === 0x86dd ? [30, 24, 28, 10][bytes[7]! % 4]! : 7;
        const w = linktype === 0 ? [fam, 0, 0, 0] : [0, 0, 0, fam];
        return Uint8Array.from([...w, ...bytes]);
      }
      default: throw new Error(`no frames for link type ${linktype}`);
    }
  });
}
