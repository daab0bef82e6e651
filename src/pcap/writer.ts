/**
 * Classic pcap writer: a little-endian file with the microsecond or
 * nanosecond magic, one link type and snaplen. It builds bytes only; where
 * they go (a file, a socket, a test's buffer) is the caller's business.
 * reader.ts reads back exactly what this writes.
 */
import { BpfError } from '../errors.js';

/** The snaplen and timestamp resolution of a written capture. */
export interface PcapWriterOptions {
  /** Packets are cut to this many bytes; default 262144, libpcap's maximum. */
  snaplen?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  nanos?: boolean;
}

/** A packet to write: bytes, wire length, timestamp. */
export interface PcapRecordInput {
  data: Uint8Array;
  /** The length on the wire; default data.length. */
  origLen?: number;
  /** Nanoseconds since the Unix epoch; rounded down to microseconds unless nanos. */
  tsNs: bigint;
}

const NANO = 1_000_000_000n;
const U32_MAX = 0xffffffff;

function u32Valid(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

/** Writes classic pcap bytes: the header, then one record per packet. */
export class PcapWriter {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanos: boolean;

  constructor(linkType: number, options: PcapWriterOptions = {}) {
    const snaplen = options.snaplen ?? 262144;
    // The file stores the link type in 16 bits (the upper bits are FCS flags).
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new BpfError('EINVAL', `pcap writer: link type ${linkType} out of range`);
    }
    if (!u32Valid(snaplen) || snaplen === 0) {
      throw new BpfError('EINVAL', `pcap writer: snaplen ${snaplen} is not a positive 32-bit integer`);
    }
    this.linkType = linkType;
    this.snaplen = snaplen;
    this.nanos = options.nanos ?? false;
  }

  /** The 24-byte global header. */
  header(): Uint8Array {
    const out = new Uint8Array(24);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, this.nanos ? 0xa1b23c4d : 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    // thiszone and sigfigs: always 0 in practice (offsets 8 and 12).
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, this.linkType, true);
    return out;
  }

  /** One record: the 16-byte record header and the data cut to the snaplen. */
  record(pkt: PcapRecordInput): Uint8Array {
    if (!(pkt.data instanceof Uint8Array)) throw new BpfError('EINVAL', 'pcap writer: data is not a Uint8Array');
    if (typeof pkt.tsNs !== 'bigint' || pkt.tsNs < 0n) throw new BpfError('EINVAL', 'pcap writer: tsNs must be a non-negative bigint');
    const sec = pkt.tsNs / NANO;
    if (sec > BigInt(U32_MAX)) throw new BpfError('EINVAL', `pcap writer: timestamp ${pkt.tsNs} ns is past 2106, beyond 32-bit seconds`);
    const ns = pkt.tsNs % NANO;
    const frac = this.nanos ? ns : ns / 1000n;
    const origLen = pkt.origLen ?? pkt.data.length;
    if (!u32Valid(origLen) || origLen < pkt.data.length) {
      throw new BpfError('EINVAL', `pcap writer: origLen ${origLen} is below the data length ${pkt.data.length}`);
    }
    const incl = Math.min(pkt.data.length, this.snaplen);
    const out = new Uint8Array(16 + incl);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, Number(sec), true);
    dv.setUint32(4, Number(frac), true);
    dv.setUint32(8, incl, true);
    dv.setUint32(12, origLen, true);
    out.set(pkt.data.subarray(0, incl), 16);
    return out;
  }
}

/** A whole pcap file in memory: the header, then a record per packet. */
export function writePcap(packets: Iterable<PcapRecordInput>, linkType: number, options: PcapWriterOptions = {}): Uint8Array {
  const w = new PcapWriter(linkType, options);
  const parts = [w.header()];
  for (const p of packets) parts.push(w.record(p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
