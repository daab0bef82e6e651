/**
 * One-line packet summaries in the style of `tcpdump -nn` (no -e, no -v) for
 * the common protocols: ARP, IPv4, IPv6, TCP, UDP, ICMP, ICMPv6. Anything
 * else gets a short fallback (`ethertype 0x88cc, length 60`,
 * `ip-proto-47 20`), and a header cut short by the snaplen a tcpdump-style
 * `[|ip]` / `[|tcp]` marker: a summary never throws on packet contents.
 *
 * Deliberate departures from tcpdump, because a one-packet summary has no
 * connection state and no protocol dissectors beyond these: TCP sequence
 * numbers are absolute (as with tcpdump -S), UDP payloads are never decoded
 * (DNS, mDNS, ... all print as `UDP, length N`), IPv6 extension headers are
 * walked silently (tcpdump prints `HBH`, `frag`, ...), and an unknown
 * ethertype prints without the MAC addresses and hex dump tcpdump adds.
 * Checked against tcpdump 4.99.3 -nn -S for every case in test/pcap.test.ts.
 */
import { ETHERTYPE, LINKTYPE, isRawIp, linkHeader } from './linktype.js';

const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, IPV6_HOPOPTS: 0, IPV6_ROUTING: 43, IPV6_FRAGMENT: 44, ICMPV6: 58, IPV6_NONXT: 59, IPV6_DSTOPTS: 60 } as const;

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function hex(v: number, digits: number): string {
  return v.toString(16).padStart(digits, '0');
}

/** Four bytes as a dotted IPv4 address. */
export function formatIpv4(b: Uint8Array, at = 0): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** Six bytes as a colon-separated MAC address. */
export function formatMac(b: Uint8Array, at = 0): string {
  return Array.from(b.subarray(at, at + 6), (x) => hex(x, 2)).join(':');
}

/** An IPv6 address in RFC 5952 canonical form, as inet_ntop writes it. */
export function formatIpv6(b: Uint8Array, at = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, at + 2 * i));
  // IPv4-mapped addresses keep their dotted quad (RFC 5952 section 5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, at + 12)}`;
  }
  // The longest run of two or more zero groups becomes '::', the first such
  // run on a tie; a lone zero group stays '0' (RFC 5952 section 4.2).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = g.map((x) => x.toString(16));
  if (best < 0) return text.join(':');
  return `${text.slice(0, best).join(':')}::${text.slice(best + bestLen).join(':')}`;
}

/** A one-line tcpdump -nn style summary of one captured frame. */
export function summarize(data: Uint8Array, linkType: number): string {
  const { offset, protocol } = linkHeader(data, linkType);
  if (linkType === LINKTYPE.ETHERNET) {
    if (offset < 0) return protocol !== 0 ? `802.3, length ${data.length}` : '[|ether]';
    return network(protocol, data.subarray(offset), data.length);
  }
  if (isRawIp(linkType)) {
    if (offset < 0) return '[|ip]';
    const version = data[0]! >> 4;
    if (version === 4) return ipv4(data);
    if (version === 6) return ipv6(data);
    return `IP${version}, length ${data.length}`;
  }
  if (linkType === LINKTYPE.LINUX_SLL || linkType === LINKTYPE.LINUX_SLL2) {
    if (offset < 0) return linkType === LINKTYPE.LINUX_SLL ? '[|sll]' : '[|sll2]';
    return network(protocol, data.subarray(offset), data.length);
  }
  return `linktype ${linkType}, length ${data.length}`;
}

function network(ethertype: number, b: Uint8Array, frameLen: number): string {
  switch (ethertype) {
    case ETHERTYPE.IPV4: return ipv4(b);
    case ETHERTYPE.IPV6: return ipv6(b);
    case ETHERTYPE.ARP: return arp(b);
    default: return `ethertype 0x${hex(ethertype, 4)}, length ${frameLen}`;
  }
}

function arp(b: Uint8Array): string {
  if (b.length < 8) return 'ARP, [|arp]';
  const ptype = u16(b, 2);
  const hlen = b[4]!;
  const plen = b[5]!;
  const op = u16(b, 6);
  if (ptype !== ETHERTYPE.IPV4 || plen !== 4 || hlen !== 6) {
    return `ARP, hardware ${u16(b, 0)}, protocol 0x${hex(ptype, 4)}, length ${b.length}`;
  }
  if (b.length < 28) return 'ARP, [|arp]';
  const spa = formatIpv4(b, 14);
  const tpa = formatIpv4(b, 24);
  switch (op) {
    case 1: {
      // tcpdump shows the target hardware address only when the asker filled it in.
      const tha = b.subarray(18, 24).some((x) => x !== 0) ? ` (${formatMac(b, 18)})` : '';
      return `ARP, Request who-has ${tpa}${tha} tell ${spa}, length ${b.length}`;
    }
    case 2:
      return `ARP, Reply ${spa} is-at ${formatMac(b, 8)}, length ${b.length}`;
    default:
      return `ARP, op ${op}, length ${b.length}`;
  }
}

function ipv4(b: Uint8Array): string {
  if (b.length < 20) return 'IP [|ip]';
  const ihl = (b[0]! & 0x0f) * 4;
  if (ihl < 20) return `IP bad-hlen ${ihl}`;
  if (b.length < ihl) return 'IP [|ip]';
  const totalLen = u16(b, 2);
  const src = formatIpv4(b, 12);
  const dst = formatIpv4(b, 16);
  if (totalLen < ihl) return `IP ${src} > ${dst}: bad-len ${totalLen}`;
  const proto = b[9]!;
  const len = totalLen - ihl;
  // A later fragment carries no transport header to decode.
  if ((u16(b, 6) & 0x1fff) !== 0) return `IP ${src} > ${dst}: ip-proto-${proto}`;
  return `IP ${transport(proto, src, dst, b.subarray(ihl, Math.min(totalLen, b.length)), len, false)}`;
}

function ipv6(b: Uint8Array): string {
  if (b.length < 40) return 'IP6 [|ip6]';
  let len = u16(b, 4);
  let nh = b[6]!;
  const src = formatIpv6(b, 8);
  const dst = formatIpv6(b, 24);
  let off = 40;
  // Walk the extension headers to the transport header.
  for (;;) {
    if (nh === IPPROTO.IPV6_HOPOPTS || nh === IPPROTO.IPV6_ROUTING || nh === IPPROTO.IPV6_DSTOPTS) {
      if (b.length < off + 2) return `IP6 ${src} > ${dst}: [|ip6]`;
      const hlen = (b[off + 1]! + 1) * 8;
      nh = b[off]!;
      off += hlen;
      len -= hlen;
    } else if (nh === IPPROTO.IPV6_FRAGMENT) {
      if (b.length < off + 8) return `IP6 ${src} > ${dst}: [|frag]`;
      const later = (u16(b, off + 2) & 0xfff8) !== 0;
      nh = b[off]!;
      off += 8;
      len -= 8;
      if (later) return `IP6 ${src} > ${dst}: ip-proto-${nh}`;
    } else {
      break;
    }
  }
  if (nh === IPPROTO.IPV6_NONXT) return `IP6 ${src} > ${dst}: no next header`;
  if (len < 0) return `IP6 ${src} > ${dst}: [|ip6]`;
  return `IP6 ${transport(nh, src, dst, b.subarray(off, Math.min(off + len, b.length)), len, true)}`;
}

/** `p` holds the captured part of the transport segment, `len` its length per the IP header. */
function transport(proto: number, src: string, dst: string, p: Uint8Array, len: number, v6: boolean): string {
  switch (proto) {
    case IPPROTO.TCP: return tcp(src, dst, p, len);
    case IPPROTO.UDP: return udp(src, dst, p);
    case IPPROTO.ICMP: if (!v6) return `${src} > ${dst}: ${icmp(p, len)}`; break;
    case IPPROTO.ICMPV6: if (v6) return `${src} > ${dst}: ${icmp6(p, len)}`; break;
  }
  return `${src} > ${dst}: ip-proto-${proto} ${len}`;
}

/** tcpdump's flag letters, in its order: FIN SYN RST PSH ACK URG ECE CWR, then AE. */
const TCP_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W'], [0x100, 'e'],
];
const TH = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10, URG: 0x20 } as const;

function tcp(src: string, dst: string, p: Uint8Array, len: number): string {
  if (p.length < 4) return `${src} > ${dst}: [|tcp]`;
  const ends = `${src}.${u16(p, 0)} > ${dst}.${u16(p, 2)}`;
  if (p.length < 20) return `${ends}: [|tcp]`;
  const doff = (p[12]! >> 4) * 4;
  if (doff < 20) return `${ends}: tcp ${len} [bad hdr length ${doff} - too short, < 20]`;
  if (doff > len) return `${ends}: tcp ${len} [bad hdr length ${doff} - too long, > ${len}]`;
  const flags = p[13]! | ((p[12]! & 0x01) << 8);
  const letters = TCP_FLAGS.filter(([bit]) => flags & bit).map(([, c]) => c).join('');
  const seq = u32(p, 4);
  const dataLen = len - doff;
  let s = `${ends}: Flags [${letters || 'none'}]`;
  // tcpdump prints seq only when it means something: the segment carries
  // data or a sequence-consuming flag; then seq:end of the data.
  if (dataLen > 0 || flags & (TH.SYN | TH.FIN | TH.RST)) {
    s += `, seq ${seq}`;
    if (dataLen > 0) s += `:${(seq + dataLen) >>> 0}`;
  }
  if (flags & TH.ACK) s += `, ack ${u32(p, 8)}`;
  s += `, win ${u16(p, 14)}`;
  if (flags & TH.URG) s += `, urg ${u16(p, 18)}`;
  if (doff > 20) {
    s += p.length < doff ? ', options [|tcp]' : `, options [${tcpOptions(p.subarray(20, doff))}]`;
  }
  return `${s}, length ${dataLen}`;
}

function tcpOptions(o: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < o.length; ) {
    const kind = o[i]!;
    if (kind === 0) {
      out.push('eol');
      i++;
      continue;
    }
    if (kind === 1) {
      out.push('nop');
      i++;
      continue;
    }
    const olen = o[i + 1];
    if (olen === undefined || olen < 2 || i + olen > o.length) {
      out.push('bad opt');
      break;
    }
    const v = o.subarray(i + 2, i + olen);
    if (kind === 2 && olen === 4) out.push(`mss ${u16(v, 0)}`);
    else if (kind === 3 && olen === 3) out.push(`wscale ${v[0]}`);
    else if (kind === 4 && olen === 2) out.push('sackOK');
    else if (kind === 8 && olen === 10) out.push(`TS val ${u32(v, 0)} ecr ${u32(v, 4)}`);
    else if (kind === 5 && (olen - 2) % 8 === 0) {
      const blocks: string[] = [];
      for (let j = 0; j < v.length; j += 8) blocks.push(`{${u32(v, j)}:${u32(v, j + 4)}}`);
      out.push(`sack ${blocks.length} ${blocks.join('')}`);
    } else out.push(`unknown-${kind} 0x${Array.from(v, (x) => hex(x, 2)).join('')}`);
    i += olen;
  }
  return out.join(',');
}

function udp(src: string, dst: string, p: Uint8Array): string {
  if (p.length < 4) return `${src} > ${dst}: [|udp]`;
  const ends = `${src}.${u16(p, 0)} > ${dst}.${u16(p, 2)}`;
  if (p.length < 8) return `${ends}: [|udp]`;
  const ulen = u16(p, 4);
  if (ulen < 8) return `${ends}: UDP, bad length ${ulen} < 8`;
  return `${ends}: UDP, length ${ulen - 8}`;
}

const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply', 3: 'unreachable', 4: 'source quench', 5: 'redirect', 8: 'echo request',
  9: 'router advertisement', 10: 'router solicitation', 11: 'time exceeded', 12: 'parameter problem',
  13: 'time stamp request', 14: 'time stamp reply', 17: 'address mask request', 18: 'address mask reply',
};

function icmp(p: Uint8Array, len: number): string {
  if (p.length < 4) return '[|icmp]';
  const type = p[0]!;
  if (type === 0 || type === 8) {
    if (p.length < 8) return `ICMP ${ICMP_TYPES[type]}, [|icmp]`;
    return `ICMP ${ICMP_TYPES[type]}, id ${u16(p, 4)}, seq ${u16(p, 6)}, length ${len}`;
  }
  return `ICMP ${ICMP_TYPES[type] ?? `type-#${type}`}, length ${len}`;
}

const ICMP6_TYPES: Record<number, string> = {
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded in-transit', 4: 'parameter problem',
  128: 'echo request', 129: 'echo reply', 133: 'router solicitation', 134: 'router advertisement',
  135: 'neighbor solicitation', 136: 'neighbor advertisement', 137: 'redirect',
};

function icmp6(p: Uint8Array, len: number): string {
  if (p.length < 4) return 'ICMP6, [|icmp6]';
  const type = p[0]!;
  const name = ICMP6_TYPES[type] ?? `unknown icmp6 type (${type})`;
  if (type === 128 || type === 129) {
    if (p.length < 8) return `ICMP6, ${name}, [|icmp6]`;
    return `ICMP6, ${name}, id ${u16(p, 4)}, seq ${u16(p, 6)}, length ${len}`;
  }
  return `ICMP6, ${name}, length ${len}`;
}
