// Writes examples/sample.pcap, the capture the README runs the examples over:
// 3 TCP flows and a DNS exchange over UDP, one with IPv4 options, and an ARP.
// Run after `npm ci` (it uses the built library): node examples/make-sample-pcap.mjs
import { writeFileSync } from 'node:fs';
import { writePcap } from '../dist/src/pcap/index.js';

function frame(ethertype, payload) {
  const f = new Uint8Array(14 + payload.length);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, ethertype >> 8, ethertype & 0xff]);
  f.set(payload, 14);
  return f;
}
function ipv4(proto, src, dst, l4, options = []) {
  const ihl = 5 + options.length / 4;
  const h = [0x40 | ihl, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, ...src, ...dst, ...options];
  const total = h.length + l4.length;
  h[2] = total >> 8;
  h[3] = total & 0xff;
  return frame(0x0800, [...h, ...l4]);
}
const tcp = (sport, dport, flags, payload = 0) => [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0, ...new Array(payload).fill(0x61)];
const udp = (sport, dport, payload) => [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 8 + payload, 0, 0, ...new Array(payload).fill(0x62)];
const A = [10, 0, 0, 1], B = [10, 0, 0, 2], C = [192, 168, 1, 20], DNS = [10, 0, 0, 53];
const packets = [
  ipv4(6, A, C, tcp(40000, 443, 0x02)),
  ipv4(6, C, A, tcp(443, 40000, 0x12)),
  ipv4(6, A, C, tcp(40000, 443, 0x10)),
  ipv4(6, A, C, tcp(40000, 443, 0x18, 100)),
  ipv4(6, B, C, tcp(40001, 80, 0x02)),
  ipv4(17, A, DNS, udp(5353, 53, 30), [0x94, 0x04, 0x00, 0x00]),
  ipv4(17, DNS, A, udp(53, 5353, 60)),
  ipv4(6, B, C, tcp(40001, 80, 0x10)),
  frame(0x0806, [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, ...A, 0, 0, 0, 0, 0, 0, ...B]),
];
writeFileSync(new URL('./sample.pcap', import.meta.url), writePcap(packets.map((data, i) => ({ data: Uint8Array.from(data), tsNs: 1764000000000000000n + BigInt(i) * 250000000n })), 1));
