/**
 * The end-to-end filter row of `npm run bench` (issue 18, item 6):
 * `tsbpf filter 'tcp port 80' big.pcap -w out.pcap` against
 * `tcpdump -r big.pcap -w out.pcap 'tcp port 80'`, each a process of its
 * own, wall time from spawn to exit, the best of FILTER_RUNS runs taken in
 * turns, over a capture of FILTER_FRAMES Ethernet frames generated into a
 * temporary directory: a mix of sizes and protocols as a link carries them
 * (see `mixFrame`). Both outputs must hold the same records (timestamp,
 * lengths, bytes), or the row is an error. A pcapng copy of the same frames
 * is a second row (tcpdump reads pcapng too). Skipped, with the reason, where
 * tcpdump is missing.
 *
 * Node's own start-up (`node -e 0`, measured the same way) is reported
 * beside: it is the floor under any tsbpf command. NODE_EXTRA_CA_CERTS is
 * removed from tsbpf's environment (and from the floor's): Node 20 reads the
 * whole certificate file at start-up when it is set, which has nothing to do
 * with filtering and costs tens of milliseconds; the row says so when it was
 * set.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCapture } from '../pcap/index.js';

/** Frames in the generated capture. */
export const FILTER_FRAMES = 500_000;
/** Runs of each command; the best wall time counts. */
export const FILTER_RUNS = 7;
const EXPR = 'tcp port 80';

/** One row: a capture format, both commands' best wall times, what they matched. */
export interface FilterE2ERow {
  format: 'pcap' | 'pcapng';
  frames: number;
  bytes: number;
  matched: number;
  tsbpfMs: number;
  tcpdumpMs: number;
  /** `node -e 0`: the start-up every tsbpf command pays */
  nodeMs: number;
}

/** The section: its rows, or why it was skipped; and whether NODE_EXTRA_CA_CERTS was removed from tsbpf's environment. */
export interface FilterE2ESection {
  rows: FilterE2ERow[];
  skipped?: string;
  caCertsRemoved: boolean;
}

/** A small deterministic PRNG (mulberry32), for the benches' generated captures. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One frame of the mix, written at b[at]; its length. The mix: TCP (60%:
 * web on 80 and 443, ssh, others; acknowledgements of 54-66 bytes, full
 * segments of 1514, sizes between), UDP (20%: DNS queries and answers,
 * QUIC datagrams of about 1250-1350, NTP), ICMP echo (3%), ARP (4%), and
 * IPv6 (13%: TCP, UDP, ICMPv6 neighbour discovery), a few inside a VLAN tag.
 * About a quarter of the TCP segments have port 80 at one end.
 */
function mixFrame(b: Uint8Array, at: number, rnd: () => number): number {
  const r = rnd();
  const vlan = rnd() < 0.03;
  let p = at + 12;
  const mac = (o: number): void => {
    for (let i = 0; i < 6; i++) b[o + i] = (0x02 + i * 17 + (rnd() < 0.5 ? 0 : 1)) & 0xff;
  };
  mac(at);
  mac(at + 6);
  if (vlan) {
    b[p] = 0x81;
    b[p + 1] = 0;
    b[p + 2] = 0;
    b[p + 3] = 10;
    p += 4;
  }
  const u16 = (o: number, v: number): void => {
    b[o] = v >> 8;
    b[o + 1] = v & 255;
  };
  const pickSize = (): number => {
    const s = rnd();
    // acknowledgements, small requests, full segments
    return s < 0.45 ? 0 : s < 0.6 ? 40 + Math.floor(rnd() * 500) : s < 0.75 ? 500 + Math.floor(rnd() * 900) : 1460;
  };
  const ports = (o: number, server: number): void => {
    const eph = 32768 + Math.floor(rnd() * 28000);
    const toServer = rnd() < 0.5;
    u16(o, toServer ? eph : server);
    u16(o + 2, toServer ? server : eph);
  };
  const fill = (o: number, n: number): void => {
    for (let i = 0; i < n; i += 64) b[o + i] = i & 255;
  };
  if (r < 0.04) {
    // ARP, padded to the Ethernet minimum
    u16(p, 0x0806);
    p += 2;
    b.fill(0, p, p + 46);
    u16(p, 1);
    u16(p + 2, 0x0800);
    b[p + 4] = 6;
    b[p + 5] = 4;
    u16(p + 6, 1 + (rnd() < 0.5 ? 0 : 1));
    return p + 46 - at;
  }
  const v6 = r > 0.87;
  u16(p, v6 ? 0x86dd : 0x0800);
  p += 2;
  const ip = p;
  const k = rnd();
  let proto: number;
  let payload: number;
  let server = 0;
  if (v6 ? k < 0.6 : k < 0.7) {
    proto = 6;
    const s = rnd();
    server = s < 0.27 ? 80 : s < 0.8 ? 443 : s < 0.88 ? 22 : 1024 + Math.floor(rnd() * 8000);
    // IPv6's larger header leaves a full segment 1440 bytes
    payload = Math.min(pickSize(), v6 ? 1440 : 1460);
  } else if (v6 ? k < 0.9 : k < 0.96) {
    proto = 17;
    const s = rnd();
    server = s < 0.4 ? 53 : s < 0.9 ? 443 : 123;
    payload = server === 53 ? 30 + Math.floor(rnd() * 200) : server === 443 ? 1200 + Math.floor(rnd() * 150) : 48;
  } else {
    proto = v6 ? 58 : 1;
    payload = v6 ? 24 : 56;
  }
  const l4 = v6 ? ip + 40 : ip + 20;
  const l4len = proto === 6 ? 20 + payload : proto === 17 ? 8 + payload : 8 + payload;
  if (v6) {
    b[ip] = 0x60;
    b.fill(0, ip + 1, ip + 4);
    u16(ip + 4, l4len);
    b[ip + 6] = proto;
    b[ip + 7] = 64;
    for (let i = 0; i < 32; i++) b[ip + 8 + i] = i === 0 ? 0x20 : i === 16 ? 0x20 : (i * 7) & 255;
  } else {
    b[ip] = 0x45;
    b[ip + 1] = 0;
    u16(ip + 2, 20 + l4len);
    u16(ip + 4, Math.floor(rnd() * 65536));
    u16(ip + 6, 0x4000);
    b[ip + 8] = 64;
    b[ip + 9] = proto;
    u16(ip + 10, 0);
    b[ip + 12] = 10;
    b[ip + 13] = 0;
    b[ip + 14] = Math.floor(rnd() * 4);
    b[ip + 15] = 1 + Math.floor(rnd() * 250);
    b[ip + 16] = 93;
    b[ip + 17] = 184;
    b[ip + 18] = 216;
    b[ip + 19] = Math.floor(rnd() * 256);
  }
  if (proto === 6) {
    ports(l4, server);
    b.fill(0, l4 + 4, l4 + 20);
    b[l4 + 12] = 0x50;
    b[l4 + 13] = payload === 0 ? 0x10 : 0x18;
    u16(l4 + 14, 501);
  } else if (proto === 17) {
    ports(l4, server);
    u16(l4 + 4, l4len);
    u16(l4 + 6, 0);
  } else {
    b[l4] = v6 ? 135 : 8;
    b.fill(0, l4 + 1, l4 + 8);
  }
  fill(l4 + (l4len - payload), payload);
  const len = l4 + l4len - at;
  if (len < 60) {
    b.fill(0, at + len, at + 60);
    return 60;
  }
  return len;
}

/** The capture as classic pcap (microseconds, as tcpdump writes) or pcapng (enhanced packet blocks), one buffer. */
export function generateCapture(frames: number, format: 'pcap' | 'pcapng', seed = 18): Uint8Array {
  const rnd = prng(seed);
  // no frame is longer than 1518 bytes; a record adds 16, a pcapng block 32 and padding
  const b = new Uint8Array(64 + frames * (1518 + 36));
  const dv = new DataView(b.buffer);
  let at: number;
  if (format === 'pcap') {
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, 262144, true);
    dv.setUint32(20, 1, true);
    at = 24;
  } else {
    // section header (no options), interface description (Ethernet, microseconds)
    dv.setUint32(0, 0x0a0d0d0a, true);
    dv.setUint32(4, 28, true);
    dv.setUint32(8, 0x1a2b3c4d, true);
    dv.setUint16(12, 1, true);
    dv.setUint16(14, 0, true);
    dv.setInt32(16, -1, true);
    dv.setInt32(20, -1, true);
    dv.setUint32(24, 28, true);
    dv.setUint32(28, 1, true);
    dv.setUint32(32, 20, true);
    dv.setUint16(36, 1, true);
    dv.setUint32(40, 262144, true);
    dv.setUint32(44, 20, true);
    at = 48;
  }
  let usec = 1_733_400_000_000_000;
  for (let i = 0; i < frames; i++) {
    usec += 1 + Math.floor(rnd() * 200);
    const sec = Math.floor(usec / 1e6);
    if (format === 'pcap') {
      const len = mixFrame(b, at + 16, rnd);
      dv.setUint32(at, sec, true);
      dv.setUint32(at + 4, usec % 1e6, true);
      dv.setUint32(at + 8, len, true);
      dv.setUint32(at + 12, len, true);
      at += 16 + len;
    } else {
      const len = mixFrame(b, at + 28, rnd);
      const padded = (len + 3) & ~3;
      b.fill(0, at + 28 + len, at + 28 + padded);
      const total = 32 + padded;
      dv.setUint32(at, 6, true);
      dv.setUint32(at + 4, total, true);
      dv.setUint32(at + 8, 0, true);
      dv.setUint32(at + 12, Math.floor(usec / 2 ** 32), true);
      dv.setUint32(at + 16, usec >>> 0, true);
      dv.setUint32(at + 20, len, true);
      dv.setUint32(at + 24, len, true);
      dv.setUint32(at + 28 + padded, total, true);
      at += total;
    }
  }
  return b.subarray(0, at);
}

/** The records of a pcap file as comparable text: timestamp in ns, lengths, bytes. */
function records(path: string): string[] {
  return Array.from(parseCapture(new Uint8Array(readFileSync(path))), (p) => `${p.tsNs} ${p.origLen} ${Buffer.from(p.data).toString('hex')}`);
}

/** Wall time of one process from spawn to exit, in ms; throws when it fails. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status ?? r.signal)}: ${r.stderr.toString().trim()}`);
  return ms;
}

/** The section: both formats, or the reason it is skipped. */
export function runFilterE2E(frames = FILTER_FRAMES, runs = FILTER_RUNS): FilterE2ESection {
  const caCertsRemoved = process.env['NODE_EXTRA_CA_CERTS'] !== undefined;
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status !== 0) return { rows: [], skipped: 'tcpdump is not installed', caCertsRemoved };
  const env = { ...process.env };
  delete env['NODE_EXTRA_CA_CERTS'];
  const bin = fileURLToPath(new URL('../../../bin/tsbpf.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-filter-bench-'));
  try {
    const rows = (['pcap', 'pcapng'] as const).map((format): FilterE2ERow => {
      const cap = join(dir, `big.${format}`);
      const bytes = generateCapture(frames, format);
      writeFileSync(cap, bytes);
      const outTs = join(dir, 'out-tsbpf.pcap');
      const outTd = join(dir, 'out-tcpdump.pcap');
      const tsbpf = (): number => timed(process.execPath, [bin, 'filter', EXPR, cap, '-w', outTs], env);
      const tcpdump = (): number => timed('tcpdump', ['-r', cap, '-w', outTd, EXPR], process.env);
      const node = (): number => timed(process.execPath, ['-e', '0'], env);
      const best = { tsbpf: Infinity, tcpdump: Infinity, node: Infinity };
      // a first run of each warms the page cache and the binaries; then turns, so a drift of the machine reaches all three
      tsbpf();
      tcpdump();
      for (let i = 0; i < runs; i++) {
        best.tsbpf = Math.min(best.tsbpf, tsbpf());
        best.tcpdump = Math.min(best.tcpdump, tcpdump());
        best.node = Math.min(best.node, node());
      }
      const ours = records(outTs);
      const theirs = records(outTd);
      if (ours.length !== theirs.length || ours.some((r, i) => r !== theirs[i])) {
        throw new Error(`${format}: tsbpf wrote ${ours.length} records, tcpdump ${theirs.length}, not the same`);
      }
      return { format, frames, bytes: bytes.length, matched: ours.length, tsbpfMs: best.tsbpf, tcpdumpMs: best.tcpdump, nodeMs: best.node };
    });
    return { rows, caCertsRemoved };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The section's lines. */
export function formatFilterE2E(s: FilterE2ESection): string {
  const head = `\nfilter end to end: tsbpf filter '${EXPR}' CAPTURE -w OUT against tcpdump -r CAPTURE -w OUT '${EXPR}', two processes, best wall time of ${FILTER_RUNS}\n`;
  if (s.skipped !== undefined) return `${head}  skipped: ${s.skipped}\n`;
  const lines = s.rows.map((r) => `  ${r.format.padEnd(6)} ${r.frames} frames, ${(r.bytes / 1e6).toFixed(0)} MB, ${r.matched} matched: tsbpf ${r.tsbpfMs.toFixed(1)} ms, tcpdump ${r.tcpdumpMs.toFixed(1)} ms, ${(r.tsbpfMs / r.tcpdumpMs).toFixed(2)}x tcpdump (node -e 0 alone: ${r.nodeMs.toFixed(1)} ms)\n`);
  const note = s.caCertsRemoved ? '  (NODE_EXTRA_CA_CERTS unset for tsbpf and node -e 0: Node reads the whole file at start-up)\n' : '';
  return head + lines.join('') + note;
}
