/**
 * Packets for the playground: the small form's Ethernet + IPv4 + TCP, UDP
 * or ICMP echo frame (checksums computed), hex text in and out, and a hex
 * dump as tcpdump -X lays it out.
 */

/** What the form gives. */
export interface PacketForm {
  proto: 'tcp' | 'udp' | 'icmp';
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP flags byte (SYN = 0x02, ACK = 0x10) */
  flags: number;
  payload: number;
}

function ipv4(text: string): number[] {
  const parts = text.trim().split('.');
  const bytes = parts.map((p) => Number(p));
  if (parts.length !== 4 || bytes.some((b, i) => !/^\d{1,3}$/.test(parts[i]!) || b > 255)) throw new Error(`not an IPv4 address: '${text}'`);
  return bytes;
}

function port(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${what} must be 0-65535, got ${n}`);
  return n;
}

/** The Internet checksum (RFC 1071) of bytes[from, to). */
function checksum(bytes: Uint8Array, from: number, to: number, initial = 0): number {
  let sum = initial;
  for (let i = from; i < to; i += 2) sum += (bytes[i]! << 8) | (i + 1 < to ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame (02:00:00:00:00:01 -> 02:00:00:00:00:02) carrying IPv4 and the form's transport header and zero payload. */
export function buildPacket(f: PacketForm): Uint8Array {
  const src = ipv4(f.src);
  const dst = ipv4(f.dst);
  if (!Number.isInteger(f.payload) || f.payload < 0 || f.payload > 1400) throw new Error(`payload must be 0-1400 bytes, got ${f.payload}`);
  const l4 = f.proto === 'tcp' ? 20 : 8;
  const ipLen = 20 + l4 + f.payload;
  const p = new Uint8Array(14 + ipLen);
  const v = new DataView(p.buffer);
  p.set([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1], 0);
  v.setUint16(12, 0x0800);
  p[14] = 0x45;
  v.setUint16(16, ipLen);
  v.setUint16(18, 1);
  v.setUint16(20, 0x4000);
  p[22] = 64;
  p[23] = f.proto === 'tcp' ? 6 : f.proto === 'udp' ? 17 : 1;
  p.set(src, 26);
  p.set(dst, 30);
  v.setUint16(24, checksum(p, 14, 34));
  const t = 34;
  if (f.proto === 'icmp') {
    p[t] = 8; // echo request
    v.setUint16(t + 4, 1);
    v.setUint16(t + 6, 1);
    v.setUint16(t + 2, checksum(p, t, p.length));
    return p;
  }
  v.setUint16(t, port(f.sport, 'source port'));
  v.setUint16(t + 2, port(f.dport, 'destination port'));
  // the pseudo-header's sum, then the segment's
  let pseudo = 0;
  for (let i = 0; i < 4; i += 2) pseudo += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!);
  pseudo += p[23]! + l4 + f.payload;
  if (f.proto === 'tcp') {
    v.setUint32(t + 4, 1);
    p[t + 12] = 0x50;
    p[t + 13] = f.flags & 0xff;
    v.setUint16(t + 14, 0xffff);
    v.setUint16(t + 16, checksum(p, t, p.length, pseudo));
  } else {
    v.setUint16(t + 4, 8 + f.payload);
    v.setUint16(t + 6, checksum(p, t, p.length, pseudo) || 0xffff);
  }
  return p;
}

/** Bytes as lower-case hex, no separators. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Hex text (spaces, newlines, colons and a 0x prefix allowed) as bytes; an Error naming the problem otherwise. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new Error('the packet must be hex digits (spaces and colons allowed)');
  if (clean.length % 2 !== 0) throw new Error(`the packet has an odd number of hex digits (${clean.length})`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** tcpdump -X style: offset, 8 groups of 2 bytes, the printable characters. */
export function hexDump(bytes: Uint8Array, max = 4096): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, max);
  for (let o = 0; o < n; o += 16) {
    const row = bytes.subarray(o, Math.min(o + 16, n));
    let hex = '';
    for (let i = 0; i < 16; i += 2) {
      hex += i < row.length ? row[i]!.toString(16).padStart(2, '0') + (i + 1 < row.length ? row[i + 1]!.toString(16).padStart(2, '0') : '  ') : '    ';
      hex += ' ';
    }
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`0x${o.toString(16).padStart(4, '0')}:  ${hex} ${text}`);
  }
  if (bytes.length > n) lines.push(`(${bytes.length - n} more bytes)`);
  return lines.join('\n');
}
