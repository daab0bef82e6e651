/**
 * What `tsbpf filter` prints besides the packets, shared by its two paths
 * (capture.ts, the general one, and fast-filter.ts): the final throughput
 * line and tcpdump's timestamp. Kept apart so the fast path loads neither
 * the runtime nor the engines.
 */

/** The throughput line: packets, bytes, time, rates and `extra`. */
export function throughput(packets: number, bytes: number, ms: number, extra: string): string {
  const s = Math.max(ms, 1e-3) / 1000;
  const rate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
  return `${packets} packets (${(bytes / 1e6).toFixed(2)} MB) in ${s.toFixed(3)} s: ${rate(packets / s)} packets/s, ${(bytes / 1e6 / s).toFixed(1)} MB/s${extra}`;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** tcpdump's default timestamp: local time of day, microseconds. */
export function timestamp(tsNs: bigint): string {
  const ms = Number(tsNs / 1000000n);
  const d = new Date(ms);
  const us = Number((tsNs / 1000n) % 1000000n);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(us).padStart(6, '0')}`;
}
