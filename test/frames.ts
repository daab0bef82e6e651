/**
 * Packets for the CLI's capture tests: Ethernet/IPv4 frames with TCP or UDP
 * headers, and the five-packet capture mix the capture tests filter.
 */
import { writePcap } from '../src/pcap/index.js';

/** An Ethernet/IPv4/TCP frame (54 bytes) with the given flags and ports. */
export function tcpFrame(flags: number, sport: number, dport: number): Uint8Array {
  const f = new Uint8Array(54);
  f.set([0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, flags, 0x10, 0], 34);
  return f;
}

/** An Ethernet/IPv4/UDP frame (42 bytes), 10.0.0.1.5353 > 10.0.0.3.53. */
export function udpFrame(): Uint8Array {
  const f = new Uint8Array(42);
  f.set([0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 3], 14);
  f.set([0x14, 0xe9, 0x00, 0x35, 0, 8, 0, 0], 34);
  return f;
}

/** SYN, SYN-ACK, UDP, SYN, ACK: two SYNs, four TCP packets. */
export const MIX = [tcpFrame(0x02, 40000, 80), tcpFrame(0x12, 80, 40000), udpFrame(), tcpFrame(0x02, 40001, 443), tcpFrame(0x10, 40000, 80)];

/** MIX as an Ethernet pcap, 1.5 ms apart from 01:00:00 UTC on the first day of 1970. */
export function mixPcap(): Uint8Array {
  return writePcap(MIX.map((data, i) => ({ data, tsNs: 3600_000_000_000n + BigInt(i) * 1_500_000n })), 1);
}
