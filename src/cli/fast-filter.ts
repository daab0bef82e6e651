/**
 * The fast path of `tsbpf filter 'EXPR' CAPTURE`: the tcpdump case, a
 * pcap-filter expression over a capture file, done the way tcpdump -r does
 * it rather than through the runtime. The expression's classic program is
 * compiled to a small WebAssembly module (classic-wasm.ts: the checked
 * runtime's verdicts exactly). A classic pcap file is read in chunks into
 * the module's memory, one buffer reused, and the module runs through each
 * chunk's records in place; a pcapng file is read whole into it and its
 * blocks walked here. The accepted records are appended, in the pcap
 * writer's format, to one output buffer written with one write at the end.
 * Nothing of the runtime, verifier, engines or object loader is loaded:
 * bin/tsbpf.js comes here (entry.ts) before it loads main.ts.
 *
 * It answers only what it can answer exactly as capture.ts's filterCommand
 * would (the same output file, lines, counts, errors and exit status) and
 * returns undefined for anything else, before it has printed or written
 * anything: a program file, options other than -e, --linktype, -w, --count,
 * --json and -l, a capture on standard input or not a regular file, a file
 * that is not a capture, an expression that does not compile, a program the
 * verifier might refuse (classic-wasm.ts), a pcapng file over
 * FAST_MAX_BYTES, with a problem anywhere or with interfaces of different
 * link types, a record the pcap writer would refuse. The general path then
 * does it all again and gives today's result. A classic pcap file ending in
 * a truncated or oversized record is answered here as the general path
 * answers it: the packets before it, the throughput line, the error, exit 2.
 *
 * Not shown here: the progress bar on a terminal (the general path's; this
 * path reads a capture at hundreds of MB/s).
 */

import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { compileFilter } from '../filter/index.js';
import type { SockFilter } from '../cbpf/parse.js';
import { networkOffset } from '../pcap/linktype.js';
import { parseCommand } from './args.js';
import { FILTER } from './commands.js';
import { compileClassicWasm } from './classic-wasm.js';
import type { ClassicWasm } from './classic-wasm.js';
import { throughput, timestamp } from './filter-output.js';
import type { CliIo } from './io.js';

/** pcapng captures up to this size are read whole; larger ones stream through the general path. */
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
const PAGE = 65536;
const PCAPNG_SHB = 0x0a0d0d0a;

/** The module's memory: the scan's output words first, then the capture's bytes. */
const OUT_WORDS_BYTES = 12 * 4096;
const BASE = OUT_WORDS_BYTES;
/** Bytes of a classic pcap file read at a time (grown for a record that does not fit). */
const CHUNK = 256 * 1024;

/** Not for this path: the general path does it all. */
class Decline extends Error {}

const decline = (): never => {
  throw new Decline();
};

/**
 * The accepted packets, in order: the records as the general path's
 * PcapWriter writes them (nanosecond magic, snaplen 262144), in one growing
 * buffer, and what a line of output needs of each.
 */
class Accepted {
  count = 0;
  bytes = new Uint8Array(1 << 16);
  size = 24;
  /** per packet: where its record starts in bytes, its number in the capture, verdict, captured length */
  record: number[] = [];
  index: number[] = [];
  verdict: number[] = [];
  cap: number[] = [];

  /** One accepted packet: data[s, s + keep) of `src`, its captured length, wire length and timestamp. */
  add(src: Uint8Array, s: number, keep: number, cap: number, orig: number, sec: number, ns: number, index: number, verdict: number): void {
    // what the pcap writer refuses, the general path reports its own way
    if (orig < keep || sec > U32_MAX || keep > WRITE_SNAPLEN) decline();
    const need = this.size + 16 + keep;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.size));
      this.bytes = grown;
    }
    const b = this.bytes;
    const at = this.size;
    put32(b, at, sec);
    put32(b, at + 4, ns);
    put32(b, at + 8, keep);
    put32(b, at + 12, orig);
    b.set(src.subarray(s, s + keep), at + 16);
    this.size = need;
    this.record.push(at);
    this.index.push(index);
    this.verdict.push(verdict);
    this.cap.push(cap);
    this.count++;
  }

  /** The pcap file: the header for `linkType`, then the records. */
  file(linkType: number): Uint8Array {
    const b = this.bytes;
    put32(b, 0, 0xa1b23c4d);
    b[4] = 2;
    b[5] = 0;
    b[6] = 4;
    b[7] = 0;
    put32(b, 8, 0);
    put32(b, 12, 0);
    put32(b, 16, WRITE_SNAPLEN);
    put32(b, 20, linkType);
    return b.subarray(0, this.size);
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** A scan's result: what the general path's forEachPacket would have counted, and its error. */
interface Scan {
  packets: number;
  bytes: number;
  /** the capture's link type (pcapng: the first interface's), for the output file */
  linkType: number;
  accepted: Accepted;
  /** the capture error ending the scan: the reader's message without 'capture: ' */
  error?: string;
}

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
  const scan = scanFile(capture, expr, values['linktype'] as string | undefined);
  const wallMs = performance.now() - wall0;
  const acc = scan.accepted;

  if (write !== undefined) {
    // the general path writes no header when nothing was accepted and the link type is unknown
    if (scan.linkType < 0) return decline();
    const out = acc.file(scan.linkType);
    if (write === '-') io.stdout.write(out);
    else writeFile(write, out);
  } else if (!count && acc.count > 0) {
    const { summarize } = await import('../pcap/summary.js');
    const b = acc.bytes;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const lines: string[] = [];
    for (let i = 0; i < acc.count; i++) {
      const r = acc.record[i]!;
      const data = b.subarray(r + 16, r + 16 + dv.getUint32(r + 8, true));
      const tsNs = BigInt(dv.getUint32(r, true)) * NANO + BigInt(dv.getUint32(r + 4, true));
      lines.push(json
        ? JSON.stringify({ packet: acc.index[i]!, ts_ns: tsNs.toString(), len: acc.cap[i]!, orig_len: dv.getUint32(r + 12, true), retval: acc.verdict[i]!, summary: summarize(data, scan.linkType) }) + '\n'
        : `${timestamp(tsNs)} ${summarize(data, scan.linkType)}\n`);
    }
    io.stdout.write(lines.join(''));
  }
  if (count) io.stdout.write(json ? JSON.stringify({ packets: scan.packets, matched: acc.count }) + '\n' : `${acc.count} packets\n`);
  if (scan.packets > 0 || scan.error === undefined) io.stderr.write(`tsbpf: ${throughput(scan.packets, scan.bytes, wallMs, `; ${acc.count} matched`)}\n`);
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

/** readSync until `len` bytes or the end of the file; how many were read. */
function readFully(fd: number, into: Uint8Array, at: number, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, into, at + got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** The capture file through the expression: a regular file only; reading errors are the general path's. */
function scanFile(path: string, expr: string, linktypeOption: string | undefined): Scan {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return decline();
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return decline();
    const memory = new WebAssembly.Memory({ initial: Math.ceil((BASE + CHUNK) / PAGE) });
    let u8 = new Uint8Array(memory.buffer);
    const got = readFully(fd, u8, BASE, CHUNK, 0);
    const head = captureHead(u8.subarray(BASE, BASE + got));
    const linktype: number | string = head?.linktype ?? (linktypeOption === undefined ? 'ethernet' : /^\d+$/.test(linktypeOption) ? Number(linktypeOption) : linktypeOption);
    let prog: SockFilter[];
    try {
      prog = compileFilter(expr, linktype, head === undefined ? {} : { byteOrder: head.byteOrder });
    } catch {
      return decline();
    }
    if (got < 24) return decline();
    const magic = u32be(u8, BASE);
    if (magic === PCAPNG_SHB) {
      if (st.size > FAST_MAX_BYTES) return decline();
      // the whole file in the memory, after what is read already
      const total = st.size;
      if (BASE + total > memory.buffer.byteLength) memory.grow(Math.ceil((BASE + total - memory.buffer.byteLength) / PAGE));
      u8 = new Uint8Array(memory.buffer);
      const rest = readFully(fd, u8, BASE + got, total - got, got);
      return scanPcapng(memory, BASE, got + rest, prog);
    }
    return scanPcap(fd, memory, got, prog, magic);
  } catch (e) {
    if (e instanceof Decline) throw e;
    // a read that failed: the general path reports it
    return decline();
  } finally {
    closeSync(fd);
  }
}

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

/**
 * The program's module over `memory`, its SKF_NET_OFF loads answered for
 * `linkType` as the reader's netOff is (pcap/linktype.ts); undefined when
 * the verifier might refuse the program.
 */
export function classicModule(prog: readonly SockFilter[], memory: WebAssembly.Memory, le: boolean, linkType: number): ClassicWasm | undefined {
  const neg = (s: number, n: number, k: number, size: number): number => {
    let start: number;
    // the interpreter's packetOffset: SKF_NET_OFF (-0x100000) and SKF_LL_OFF (-0x200000) relative
    if (k >= -0x100000) {
      const net = networkOffset(new Uint8Array(memory.buffer, s, n), linkType);
      if (net < 0) return -1;
      start = net + (k + 0x100000);
    } else if (k >= -0x200000) {
      start = k + 0x200000;
    } else {
      return -1;
    }
    return start + size <= n ? start : -1;
  };
  return compileClassicWasm(prog, memory, le, neg);
}

/**
 * Classic pcap, a chunk at a time: the module runs through the whole
 * records of the chunk; the part of a record at its end moves to the front
 * before the next read. Mirrors reader.ts's decodePcap: its limit on a
 * record's length and its three errors.
 */
function scanPcap(fd: number, memory: WebAssembly.Memory, got: number, prog: SockFilter[], magic: number): Scan {
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = true;
  else return decline();
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  let dv = new DataView(memory.buffer);
  let u8 = new Uint8Array(memory.buffer);
  const snaplen = dv.getUint32(BASE + 16, le);
  const linkType = dv.getUint32(BASE + 20, le) & 0xffff;
  const limit = Math.min(MAX_RECORD, Math.max(snaplen, LIBPCAP_MAX_SNAPLEN));
  const wasm = classicModule(prog, memory, le, linkType) ?? decline();
  const accepted = new Accepted();
  const fracNs = nanos ? 1 : 1000;
  let packets = 0;
  let bytes = 0;
  let error: string | undefined;
  // the file offset of the byte at BASE; the chunk is [BASE, end)
  let filePos = 0;
  let end = BASE + got;
  let at = BASE + 24;
  let eof = got < CHUNK;
  for (;;) {
    const outEnd = wasm.scan(at, end, 0, OUT_WORDS_BYTES, limit);
    const before = packets;
    packets += wasm.packets.value as number;
    bytes += wasm.bytes.value as number;
    at = wasm.at.value as number;
    for (let w = 0; w < outEnd; w += 12) {
      const s = dv.getUint32(w, true);
      const verdict = dv.getUint32(w + 4, true);
      const r = s - 16;
      const incl = dv.getUint32(r + 8, le);
      // the reader's tsNs (sec * 1e9 + frac * unit), split again as the writer splits it
      let sec = dv.getUint32(r, le);
      let ns = dv.getUint32(r + 4, le) * fracNs;
      if (ns >= 1e9) {
        sec += Math.floor(ns / 1e9);
        ns %= 1e9;
      }
      accepted.add(u8, s, verdict < incl ? verdict : incl, incl, dv.getUint32(r + 12, le), sec, ns, before + dv.getUint32(w + 8, true), verdict);
    }
    if (outEnd >= OUT_WORDS_BYTES) continue;
    // stopped at a record not whole in the chunk, or over the limit
    const left = end - at;
    const incl = left >= 16 ? dv.getUint32(at + 8, le) : -1;
    if (incl > limit) {
      error = `offset ${filePos + at - BASE}: captured length ${incl} exceeds the limit ${limit}`;
      break;
    }
    if (eof) {
      if (left > 0) {
        error = left < 16
          ? `offset ${filePos + at - BASE}: truncated record header`
          : `offset ${filePos + at - BASE}: truncated packet data (${incl} bytes declared, ${left - 16} present)`;
      }
      break;
    }
    // the partial record to the front, then read on
    u8.copyWithin(BASE, at, end);
    filePos += at - BASE;
    at = BASE;
    end = BASE + left;
    const room = Math.max(CHUNK, 16 + Math.max(incl, 0));
    if (BASE + room > memory.buffer.byteLength) {
      memory.grow(Math.ceil((BASE + room - memory.buffer.byteLength) / PAGE));
      dv = new DataView(memory.buffer);
      u8 = new Uint8Array(memory.buffer);
    }
    const n = readFully(fd, u8, end, room - left, filePos + left);
    end += n;
    if (n < room - left) eof = true;
  }
  return { packets, bytes, linkType, accepted, ...(error === undefined ? {} : { error }) };
}

/**
 * pcapng, read whole into the memory at `base`: section headers, interfaces
 * and enhanced, simple and obsolete packet blocks as reader.ts's
 * decodePcapng reads them, other blocks skipped, each packet through the
 * module's filter. Anything the reader would call an error, or interfaces
 * of different link types: decline.
 */
function scanPcapng(memory: WebAssembly.Memory, base: number, size: number, prog: SockFilter[]): Scan {
  const b = new Uint8Array(memory.buffer);
  const dv = new DataView(memory.buffer);
  const end = base + size;
  interface Iface { linkType: number; snaplen: number; ticks: bigint; offsetNs: bigint }
  let ifaces: Iface[] = [];
  let le = true;
  let wasm: ClassicWasm | undefined;
  let linkType = -1;
  const accepted = new Accepted();
  let packets = 0;
  let bytes = 0;
  let at = base;
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
        // one module for the first interface's link type; another would need another SKF_NET_OFF
        if (wasm === undefined) {
          linkType = iface.linkType;
          wasm = classicModule(prog, memory, true, linkType) ?? decline();
        } else if (iface.linkType !== linkType) {
          return decline();
        }
        ifaces.push(iface);
        break;
      }
      case 2:
      case 3:
      case 6: {
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
        const verdict = wasm!.filter(s, cap) >>> 0;
        if (verdict !== 0) {
          const tsNs = ts === null ? 0n : (ts * NANO) / iface.ticks + iface.offsetNs;
          if (tsNs < 0n) return decline();
          accepted.add(b, s, verdict < cap ? verdict : cap, cap, orig, Number(tsNs / NANO), Number(tsNs % NANO), packets, verdict);
        }
        break;
      }
      default:
        break;
    }
    at += len;
  }
  return { packets, bytes, linkType, accepted };
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
