/**
 * The fast path of `tsbpf filter 'EXPR' CAPTURE`: the tcpdump case, a
 * pcap-filter expression over a capture file, done the way tcpdump -r does
 * it rather than through the runtime. The whole file is read with one read;
 * the expression's classic program runs as a JavaScript function over the
 * records in place (classic-js.ts: the checked runtime's verdicts exactly);
 * the accepted records are assembled into one buffer and written with one
 * write. Nothing of the runtime, verifier, engines or object loader is
 * loaded: bin/tsbpf.js comes here (entry.ts) before it loads main.ts.
 *
 * It answers only what it can answer exactly as capture.ts's filterCommand
 * would (the same output file, lines, counts, errors and exit status) and
 * returns undefined for anything else, before it has printed or written
 * anything: a program file, options other than -e, --linktype, -w, --count,
 * --json and -l, a capture on standard input, not a regular file or over
 * FAST_MAX_BYTES, a file that is not a capture, an expression that does
 * not compile, a program the verifier might refuse (classic-js.ts), a
 * pcapng file with a problem anywhere or with interfaces of different link
 * types, a record the pcap writer would refuse. The general path then does
 * it all again and gives today's result. A classic pcap file that ends in
 * a truncated or oversized record is answered here, as the general path
 * answers it: the packets before it, the throughput line, the error, exit 2.
 *
 * Not shown here: the progress bar on a terminal (the general path's; a
 * file small enough for this path is read in well under a second).
 */

import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { compileFilter } from '../filter/index.js';
import { networkOffset } from '../pcap/linktype.js';
import { parseCommand } from './args.js';
import { FILTER } from './commands.js';
import { compileClassicJs } from './classic-js.js';
import type { ClassicFn } from './classic-js.js';
import { throughput, timestamp } from './filter-output.js';
import type { CliIo } from './io.js';

/** Captures up to this size are read whole; larger ones stream through the general path. */
export const FAST_MAX_BYTES = 512 * 1024 * 1024;

/** The options the fast path takes; any other sends the command to the general path. */
const FAST_OPTIONS = new Set(['expression', 'linktype', 'write', 'count', 'json', 'line-buffered']);

/** The reader's MAX_RECORD and libpcap's largest snaplen (pcap/reader.ts). */
const MAX_RECORD = 256 * 1024 * 1024;
const LIBPCAP_MAX_SNAPLEN = 262144;
/** PcapWriter's default snaplen: written records are cut to it. */
const WRITE_SNAPLEN = 262144;
const U32_MAX = 0xffffffff;
const NANO = 1_000_000_000n;

/** The accepted packets of a scan, in order, in growable columns. */
class Matches {
  count = 0;
  /** the packet's first byte in the file */
  off = new Int32Array(1024);
  /** the bytes kept: the captured length cut to the verdict */
  len = new Int32Array(1024);
  orig = new Float64Array(1024);
  /** the timestamp as seconds and nanoseconds, already carried as the writer carries them */
  sec = new Float64Array(1024);
  ns = new Int32Array(1024);
  /** the packet's number in the capture, from 1 */
  index = new Int32Array(1024);
  verdict = new Float64Array(1024);
  /** the captured length (--json's len) */
  cap = new Int32Array(1024);

  add(off: number, len: number, orig: number, sec: number, ns: number, index: number, verdict: number, cap: number): void {
    if (this.count === this.off.length) this.grow();
    const i = this.count++;
    this.off[i] = off;
    this.len[i] = len;
    this.orig[i] = orig;
    this.sec[i] = sec;
    this.ns[i] = ns;
    this.index[i] = index;
    this.verdict[i] = verdict;
    this.cap[i] = cap;
  }

  private grow(): void {
    const n = this.off.length * 2;
    const g = <T extends Int32Array | Float64Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(n);
      b.set(a);
      return b;
    };
    this.off = g(this.off, Int32Array);
    this.len = g(this.len, Int32Array);
    this.orig = g(this.orig, Float64Array);
    this.sec = g(this.sec, Float64Array);
    this.ns = g(this.ns, Int32Array);
    this.index = g(this.index, Int32Array);
    this.verdict = g(this.verdict, Float64Array);
    this.cap = g(this.cap, Int32Array);
  }
}

/** A scan's result: what the general path's forEachPacket would have counted, and its error. */
interface Scan {
  packets: number;
  bytes: number;
  linkType: number;
  matches: Matches;
  /** the capture error ending the scan (the reader's message without 'capture: ') */
  error?: string;
}

/** Not for this path: the general path does it all. */
class Decline extends Error {}

const decline = (): never => {
  throw new Decline();
};

/**
 * `tsbpf filter ARGS` when the fast path can do it exactly: the exit
 * status; undefined, having printed and written nothing, when it cannot.
 */
export async function fastFilter(args: readonly string[], io: CliIo): Promise<number | undefined> {
  try {
    return await attempt(args, io);
  } catch (e) {
    if (e instanceof Decline) return undefined;
    throw e;
  }
}

async function attempt(args: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommand(FILTER, args);
  } catch {
    return decline();
  }
  const { values, positionals, help } = parsed;
  if (help || Object.keys(values).some((k) => !FAST_OPTIONS.has(k))) return decline();
  const given = values['expression'] as string | undefined;
  if (given !== undefined ? positionals.length !== 1 : positionals.length !== 2) return decline();
  const write = values['write'] as string | undefined;
  const count = values['count'] === true;
  const json = values['json'] === true;
  if (json && write !== undefined) return decline();
  if (write === '-' && (count || io.stdout.isTTY)) return decline();
  const first = positionals[0]!;
  const capture = given !== undefined ? first : positionals[1]!;
  // an argument that names a file is a program: the general path reads it
  if (given === undefined && isFile(first)) return decline();
  const expr = given ?? first;
  if (capture === '-') return decline();

  const wall0 = performance.now();
  const bytes = readWhole(capture);
  const head = captureHead(bytes);
  const lt = values['linktype'] as string | undefined;
  const linktype: number | string = head?.linktype ?? (lt === undefined ? 'ethernet' : /^\d+$/.test(lt) ? Number(lt) : lt);
  let prog;
  try {
    prog = compileFilter(expr, linktype, head === undefined ? {} : { byteOrder: head.byteOrder });
  } catch {
    return decline();
  }
  const magic = bytes.length >= 4 ? u32be(bytes, 0) : 0;
  const scan = magic === PCAPNG_SHB ? scanPcapng(bytes, prog) : scanPcap(bytes, prog, magic);
  const wallMs = performance.now() - wall0;
  const m = scan.matches;

  if (write !== undefined) {
    const out = pcapOut(bytes, scan);
    if (write === '-') io.stdout.write(out);
    else writeFile(write, out);
  } else if (!count) {
    const { summarize } = await import('../pcap/summary.js');
    const lines: string[] = [];
    for (let i = 0; i < m.count; i++) {
      const data = bytes.subarray(m.off[i]!, m.off[i]! + m.len[i]!);
      const tsNs = BigInt(m.sec[i]!) * NANO + BigInt(m.ns[i]!);
      lines.push(json
        ? JSON.stringify({ packet: m.index[i]!, ts_ns: tsNs.toString(), len: m.cap[i]!, orig_len: m.orig[i]!, retval: m.verdict[i]!, summary: summarize(data, scan.linkType) }) + '\n'
        : `${timestamp(tsNs)} ${summarize(data, scan.linkType)}\n`);
    }
    if (lines.length) io.stdout.write(lines.join(''));
  }
  if (count) io.stdout.write(json ? JSON.stringify({ packets: scan.packets, matched: m.count }) + '\n' : `${m.count} packets\n`);
  if (scan.packets > 0 || scan.error === undefined) io.stderr.write(`tsbpf: ${throughput(scan.packets, scan.bytes, wallMs, `; ${m.count} matched`)}\n`);
  if (scan.error !== undefined) {
    io.stderr.write(`tsbpf: ${capture}: ${scan.error} (EINVAL)\n`);
    return 2;
  }
  return 0;
}

function isFile(arg: string): boolean {
  if (arg === '-') return true;
  try {
    return statSync(arg).isFile();
  } catch {
    return false;
  }
}

/** The whole file in one read: a regular file up to FAST_MAX_BYTES, else decline. */
function readWhole(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return decline();
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > FAST_MAX_BYTES || st.size < 4) return decline();
    const buf = new Uint8Array(Buffer.allocUnsafeSlow(st.size).buffer, 0, st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } catch (e) {
    if (e instanceof Decline) throw e;
    return decline();
  } finally {
    closeSync(fd);
  }
}

const PCAPNG_SHB = 0x0a0d0d0a;

function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * The link type and byte order the expression is compiled for, from the
 * file's first 4096 bytes, as the general path's captureLinkType reads them
 * (cli/expression.ts): pcap's header, or pcapng's first interface when it
 * directly follows the section header.
 */
function captureHead(bytes: Uint8Array): { linktype: number; byteOrder: 'little' | 'big' } | undefined {
  const n = Math.min(bytes.length, 4096);
  if (n < 24) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, n);
  const magicLe = v.getUint32(0, true);
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) return { linktype: v.getUint32(20, true) & 0xffff, byteOrder: 'little' };
  if (magicLe === 0xd4c3b2a1 || magicLe === 0x4d3cb2a1) return { linktype: v.getUint32(20, false) & 0xffff, byteOrder: 'big' };
  if (magicLe === PCAPNG_SHB) {
    const le = v.getUint32(8, true) === 0x1a2b3c4d;
    const shbLen = v.getUint32(4, le);
    if (shbLen + 12 > n) return undefined;
    if (v.getUint32(shbLen, le) !== 1) return undefined;
    return { linktype: v.getUint16(shbLen + 8, le), byteOrder: le ? 'little' : 'big' };
  }
  return undefined;
}

/** The program for a link type, or decline (a program the verifier might refuse). */
function filterFn(prog: Parameters<typeof compileClassicJs>[0], linkType: number): ClassicFn {
  return compileClassicJs(prog, (b, s, n) => networkOffset(b.subarray(s, s + n), linkType)) ?? decline();
}

/**
 * Classic pcap: every record through the filter in place. Mirrors
 * reader.ts's decodePcap, its limit and its three errors; a file whose
 * header is not whole is the general path's.
 */
function scanPcap(b: Uint8Array, prog: Parameters<typeof compileClassicJs>[0], magic: number): Scan {
  let le: boolean;
  let nanos: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = true;
  else return decline();
  nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  if (b.length < 24) return decline();
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const snaplen = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0xffff;
  const limit = Math.min(MAX_RECORD, Math.max(snaplen, LIBPCAP_MAX_SNAPLEN));
  const fn = filterFn(prog, linkType);
  const matches = new Matches();
  const end = b.length;
  let at = 24;
  let packets = 0;
  let bytes = 0;
  let error: string | undefined;
  const fracNs = nanos ? 1 : 1000;
  while (at < end) {
    if (at + 16 > end) {
      error = `offset ${at}: truncated record header`;
      break;
    }
    const incl = dv.getUint32(at + 8, le);
    if (incl > limit) {
      error = `offset ${at}: captured length ${incl} exceeds the limit ${limit}`;
      break;
    }
    if (at + 16 + incl > end) {
      error = `offset ${at}: truncated packet data (${incl} bytes declared, ${end - at - 16} present)`;
      break;
    }
    const s = at + 16;
    packets++;
    bytes += incl;
    const verdict = fn(b, s, incl);
    if (verdict !== 0) {
      // the reader's tsNs (sec * 1e9 + frac * unit), split again as the writer splits it
      let sec = dv.getUint32(at, le);
      let ns = dv.getUint32(at + 4, le) * fracNs;
      if (ns >= 1e9) {
        sec += Math.floor(ns / 1e9);
        ns %= 1e9;
      }
      matches.add(s, verdict < incl ? verdict : incl, dv.getUint32(at + 12, le), sec, ns, packets, verdict, incl);
    }
    at = s + incl;
  }
  return { packets, bytes, linkType, matches, ...(error === undefined ? {} : { error }) };
}

/**
 * pcapng: section headers, interfaces and enhanced, simple and obsolete
 * packet blocks as reader.ts's decodePcapng reads them, other blocks
 * skipped. Anything the reader would call an error, a timestamp the pcap
 * writer would refuse, or interfaces of different link types: decline.
 */
function scanPcapng(b: Uint8Array, prog: Parameters<typeof compileClassicJs>[0]): Scan {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const end = b.length;
  interface Iface { linkType: number; snaplen: number; ticks: bigint; offsetNs: bigint }
  let ifaces: Iface[] = [];
  let le = true;
  let fn: ClassicFn | undefined;
  let linkType = -1;
  let firstLinkType: number | undefined;
  const matches = new Matches();
  let packets = 0;
  let bytes = 0;
  let at = 0;
  const MIN: Record<number, number> = { [PCAPNG_SHB]: 28, 1: 20, 2: 32, 3: 16, 6: 32 };
  while (at < end) {
    if (at + 12 > end) return decline();
    const isShb = dv.getUint32(at, false) === PCAPNG_SHB;
    if (isShb) {
      const bom = dv.getUint32(at + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return decline();
    }
    const type = isShb ? PCAPNG_SHB : dv.getUint32(at, le);
    const len = dv.getUint32(at + 4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD || at + len > end) return decline();
    const min = MIN[type];
    if (min !== undefined && len < min) return decline();
    if (dv.getUint32(at + len - 4, le) !== len) return decline();
    const body = at + 8;
    const bodyLen = len - 12;
    switch (type) {
      case PCAPNG_SHB:
        if (dv.getUint16(body + 4, le) !== 1) return decline();
        ifaces = [];
        break;
      case 1: {
        const iface: Iface = { linkType: dv.getUint16(body, le), snaplen: dv.getUint32(body + 4, le), ticks: 1_000_000n, offsetNs: 0n };
        let off = 8;
        while (off + 4 <= bodyLen) {
          const code = dv.getUint16(body + off, le);
          const olen = dv.getUint16(body + off + 2, le);
          if (code === 0) break;
          if (off + 4 + olen > bodyLen) return decline();
          const v = body + off + 4;
          if (code === 9 && olen >= 1) {
            const r = BigInt(b[v]! & 0x7f);
            iface.ticks = b[v]! & 0x80 ? 1n << r : 10n ** r;
          } else if (code === 14 && olen >= 8) {
            const hi = BigInt(dv.getUint32(v + (le ? 4 : 0), le));
            const lo = BigInt(dv.getUint32(v + (le ? 0 : 4), le));
            iface.offsetNs = BigInt.asIntN(64, (hi << 32n) | lo) * NANO;
          }
          off += 4 + ((olen + 3) & ~3);
        }
        // the program is compiled for the first interface's link type; another would need another netOffset
        if (firstLinkType === undefined) {
          firstLinkType = iface.linkType;
          linkType = iface.linkType;
          fn = filterFn(prog, linkType);
        } else if (iface.linkType !== firstLinkType) {
          return decline();
        }
        ifaces.push(iface);
        break;
      }
      case 2:
      case 6:
      case 3: {
        let iface: Iface | undefined;
        let s: number;
        let cap: number;
        let orig: number;
        let ts: bigint | null = null;
        if (type === 3) {
          iface = ifaces[0];
          if (iface === undefined) return decline();
          orig = dv.getUint32(body, le);
          cap = Math.min(orig, bodyLen - 4);
          if (iface.snaplen !== 0) cap = Math.min(cap, iface.snaplen);
          s = body + 4;
        } else {
          const id = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
          iface = ifaces[id];
          if (iface === undefined) return decline();
          cap = dv.getUint32(body + 12, le);
          if (cap > bodyLen - 20) return decline();
          orig = dv.getUint32(body + 16, le);
          s = body + 20;
          ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
        }
        packets++;
        bytes += cap;
        const verdict = fn!(b, s, cap);
        if (verdict !== 0) {
          const tsNs = ts === null ? 0n : (ts * NANO) / iface.ticks + iface.offsetNs;
          // what the pcap writer refuses, the general path reports its own way
          if (tsNs < 0n || tsNs / NANO > BigInt(U32_MAX)) return decline();
          matches.add(s, verdict < cap ? verdict : cap, orig, Number(tsNs / NANO), Number(tsNs % NANO), packets, verdict, cap);
        }
        break;
      }
      default:
        break;
    }
    at += len;
  }
  return { packets, bytes, linkType, matches };
}

/**
 * The accepted packets as the general path's PcapWriter writes them
 * (nanosecond magic, snaplen 262144, the capture's link type), in one
 * buffer. A record the writer would refuse: decline.
 */
function pcapOut(b: Uint8Array, scan: Scan): Uint8Array {
  const m = scan.matches;
  // the general path writes no header when nothing was accepted and the link type is unknown
  if (scan.linkType < 0 || scan.linkType > 0xffff) return decline();
  let size = 24;
  for (let i = 0; i < m.count; i++) {
    if (m.orig[i]! < m.len[i]! || m.sec[i]! > U32_MAX) return decline();
    size += 16 + Math.min(m.len[i]!, WRITE_SNAPLEN);
  }
  const out = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
  const dv = new DataView(out.buffer, 0, size);
  dv.setUint32(0, 0xa1b23c4d, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, 0, true);
  dv.setUint32(16, WRITE_SNAPLEN, true);
  dv.setUint32(20, scan.linkType, true);
  let at = 24;
  for (let i = 0; i < m.count; i++) {
    const incl = Math.min(m.len[i]!, WRITE_SNAPLEN);
    dv.setUint32(at, m.sec[i]!, true);
    dv.setUint32(at + 4, m.ns[i]!, true);
    dv.setUint32(at + 8, incl, true);
    dv.setUint32(at + 12, m.orig[i]!, true);
    out.set(b.subarray(m.off[i]!, m.off[i]! + incl), at + 16);
    at += 16 + incl;
  }
  return out;
}

/** -w FILE: one write; a file that cannot be written is the general path's to report. */
function writeFile(path: string, bytes: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch {
    return decline();
  }
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch {
    return decline();
  } finally {
    closeSync(fd);
  }
}
