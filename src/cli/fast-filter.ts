/**
 * The fast path of `tsbpf filter 'EXPR' CAPTURE`: the tcpdump case, a
 * pcap-filter expression over a capture file, done the way tcpdump -r does
 * it rather than through the runtime. The expression's classic program is
 * compiled to a small WebAssembly module (classic-wasm.ts: the checked
 * runtime's verdicts exactly). The file is read into the module's memory
 * ahead of the filtering, in two halves (DoubleChunks: the next half read
 * in libuv's thread pool while the module runs through this one; a pcap
 * file whose snaplen allows records over libpcap's limit, or one that fits
 * the first read, is read plainly, Chunks): for classic pcap the module
 * itself runs through the records, for pcapng through runs of enhanced
 * packet blocks, the other blocks walked here. The accepted records go out
 * as the general path's PcapWriter writes them (with -w the module writes
 * them into one of two output areas, written out asynchronously while it
 * fills the other), or become tcpdump-style lines, or are only counted. Nothing of the runtime,
 * verifier, engines or object loader is loaded: bin/tsbpf.js comes here
 * (entry.ts) before it loads main.ts.
 *
 * It answers only what it can answer exactly as capture.ts's filterCommand
 * would (the same output file, lines, counts, errors and exit status) and
 * returns undefined otherwise, having printed nothing: a program file,
 * options other than -e, --linktype, -w, --count, --json and -l, a capture
 * on standard input or not a regular file, a file that is not a capture, an
 * expression that does not compile, a program the verifier might refuse
 * (classic-wasm.ts), a pcapng file with a problem anywhere or with
 * interfaces of different link types, a record the pcap writer would
 * refuse. The general path then does it all again and gives today's result
 * (an output file this path had begun is opened again, and so truncated).
 * A classic pcap file ending in a truncated or oversized record is answered
 * here as the general path answers it: the packets before it, the
 * throughput line, the error, exit status 2.
 *
 * Not shown here: the progress bar on a terminal (the general path's; this
 * path reads a capture at hundreds of MB/s).
 */

import { closeSync, fstatSync, openSync, read, readSync, statSync, write, writeSync } from 'node:fs';
import { compileFilter } from '../filter/index.js';
import type { SockFilter } from '../cbpf/parse.js';
import { networkOffset } from '../pcap/linktype.js';
import { parseCommand } from './args.js';
import { FILTER } from './commands.js';
import { compileClassicWasm } from './classic-wasm.js';
import type { ClassicWasm } from './classic-wasm.js';
import { throughput, timestamp } from './filter-output.js';
import type { CliIo } from './io.js';

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

/** The module's memory: the records it writes for -w, the scan's output words, then the chunk of the file. */
const OUT_RECORDS = 1 << 20;
const OUT_WORDS = OUT_RECORDS;
const OUT_WORDS_END = OUT_WORDS + 12 * 4096;
const BASE = OUT_WORDS_END;
/** Bytes of the file read at a time (the buffer grows for a record or block that does not fit). */
const CHUNK = 256 * 1024;
/** The largest pcapng block the read-ahead takes (the general path reads a file with a larger one). */
const PCAPNG_GAP = 1 << 20;
/** Bytes per half of the read-ahead (DoubleChunks). */
const READ_AHEAD = 1 << 20;
/** The output buffer: written out whenever the next record does not fit. */
const OUT_BUFFER = 1 << 20;

/** Not for this path: the general path does it all. */
class Decline extends Error {}

const decline = (): never => {
  throw new Decline();
};

/** Where the accepted packets go: a pcap file, lines, or only a count. */
interface Sink {
  count: number;
  /** one accepted packet: src[s, s + keep), its captured and wire lengths, timestamp, number in the capture (from 1) and verdict */
  add(src: Uint8Array, s: number, keep: number, cap: number, orig: number, sec: number, ns: number, index: number, verdict: number): void;
}

/** --count: nothing but the count. */
class CountSink implements Sink {
  count = 0;
  add(): void {
    this.count++;
  }
}

/** tcpdump-style lines, or --json's objects, as the general path prints them. */
class LineSink implements Sink {
  count = 0;
  readonly lines: string[] = [];
  constructor(private readonly json: boolean, private readonly linkType: () => number, private readonly summarize: (data: Uint8Array, linkType: number) => string) {}

  add(src: Uint8Array, s: number, keep: number, cap: number, orig: number, sec: number, ns: number, index: number, verdict: number): void {
    this.count++;
    const data = src.subarray(s, s + keep);
    const tsNs = BigInt(sec) * NANO + BigInt(ns);
    this.lines.push(this.json
      ? JSON.stringify({ packet: index, ts_ns: tsNs.toString(), len: cap, orig_len: orig, retval: verdict, summary: this.summarize(data, this.linkType()) }) + '\n'
      : `${timestamp(tsNs)} ${this.summarize(data, this.linkType())}\n`);
  }
}

/**
 * -w: the records as the general path's PcapWriter writes them (nanosecond
 * magic, snaplen 262144), through one reused buffer to the file, or
 * gathered for standard output (written whole at the end: until then this
 * path may still decline).
 */
class PcapSink implements Sink {
  count = 0;
  private readonly buf = new Uint8Array(Buffer.allocUnsafeSlow(OUT_BUFFER).buffer, 0, OUT_BUFFER);
  private used = 0;
  private headed = false;
  readonly gathered: Uint8Array[] = [];
  private pending: Promise<void> | undefined;
  constructor(private readonly fd: number | undefined, private readonly linkType: () => number) {}

  add(src: Uint8Array, s: number, keep: number, _cap: number, orig: number, sec: number, ns: number): void {
    // what the pcap writer refuses, the general path reports its own way
    if (orig < keep || sec > U32_MAX || keep > WRITE_SNAPLEN) decline();
    if (!this.headed) this.header();
    if (this.used + 16 + keep > OUT_BUFFER) this.flush();
    const b = this.buf;
    const at = this.used;
    put32(b, at, sec);
    put32(b, at + 4, ns);
    put32(b, at + 8, keep);
    put32(b, at + 12, orig);
    b.set(src.subarray(s, s + keep), at + 16);
    this.used = at + 16 + keep;
    this.count++;
  }

  /** the 24-byte header, for the capture's link type (pcapng: its first interface's) */
  private header(): void {
    const linkType = this.linkType();
    // the general path's writer refuses an unknown link type
    if (linkType < 0) decline();
    const b = this.buf;
    put32(b, 0, 0xa1b23c4d);
    put32(b, 4, 0x00040002);
    put32(b, 8, 0);
    put32(b, 12, 0);
    put32(b, 16, WRITE_SNAPLEN);
    put32(b, 20, linkType);
    this.used = 24;
    this.headed = true;
  }

  private flush(): void {
    if (this.used === 0) return;
    if (this.fd === undefined) this.gathered.push(this.buf.slice(0, this.used));
    else writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }

  /** `n` records the module wrote, as they are */
  records(bytes: Uint8Array, n: number): void {
    if (!this.headed) this.header();
    this.flush();
    if (this.fd === undefined) this.gathered.push(bytes.slice());
    else writeAll(this.fd, bytes);
    this.count += n;
  }

  /**
   * `n` records the module wrote, as they are, written in the thread pool:
   * the write before it awaited first (so one is in flight, and the area it
   * wrote from is free again).
   */
  async recordsAsync(bytes: Uint8Array, n: number): Promise<void> {
    await this.drain();
    if (!this.headed) this.header();
    this.flush();
    this.count += n;
    if (this.fd === undefined) this.gathered.push(bytes.slice());
    else this.pending = handled(writeAllAsync(this.fd, bytes));
  }

  /** the write in flight done; its error thrown */
  async drain(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) await p;
  }

  /** the rest out (the header alone when nothing was accepted) */
  finish(): void {
    if (!this.headed) this.header();
    this.flush();
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** fs.write in the thread pool until all of `bytes` is written, at the file's position. */
async function writeAllAsync(fd: number, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    done += await new Promise<number>((resolve, reject) => {
      write(fd, bytes, done, bytes.length - done, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }
}

/** A scan's result: what the general path's forEachPacket would have counted, and its error. */
interface Scan {
  packets: number;
  bytes: number;
  /** the capture error ending the scan: the reader's message without 'capture: ' */
  error?: string;
}

/** The capture being read: its file, the module's memory holding the current chunk at [BASE, end). */
class Chunks {
  u8: Uint8Array;
  dv: DataView;
  /** the file offset of the byte at BASE */
  filePos = 0;
  end: number;
  eof: boolean;

  /** `first`: the bytes of the first read (tests make it small, to reach the read-ahead with small files) */
  constructor(readonly fd: number, readonly memory: WebAssembly.Memory, first = CHUNK) {
    this.u8 = new Uint8Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
    const got = readFully(fd, this.u8, BASE, first, 0);
    this.end = BASE + got;
    this.eof = got < first;
  }

  /**
   * `n` bytes from `at` in the chunk as far as the file has them, reading on
   * when they are not there: the bytes from `at` move to BASE first, the
   * memory grows if n would not fit. Returns where the byte at `at` is now
   * (BASE after a move); fewer than n bytes follow it only at the end of the
   * file.
   */
  ensure(at: number, n: number): number {
    if (at + n <= this.end || this.eof) return at;
    const left = this.end - at;
    this.u8.copyWithin(BASE, at, this.end);
    this.filePos += at - BASE;
    this.end = BASE + left;
    const room = Math.max(CHUNK, n);
    if (BASE + room > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((BASE + room - this.memory.buffer.byteLength) / PAGE));
      this.u8 = new Uint8Array(this.memory.buffer);
      this.dv = new DataView(this.memory.buffer);
    }
    while (this.end - BASE < n && !this.eof) {
      const want = room - (this.end - BASE);
      const got = readFully(this.fd, this.u8, this.end, want, this.filePos + (this.end - BASE));
      this.end += got;
      if (got < want) this.eof = true;
    }
    return BASE;
  }

  /** the file offset of memory position `at` */
  offset(at: number): number {
    return this.filePos + at - BASE;
  }
}

/** A read of up to `len` bytes of the file at `pos` into `into` at `at`: how many were read (0 at the end of the file). */
export type ReadAt = (fd: number, into: Uint8Array, at: number, len: number, pos: number) => Promise<number>;

/** fs.read in libuv's thread pool: the copy from the page cache happens beside the filtering. */
const readAsync: ReadAt = (fd, into, at, len, pos) => new Promise((resolve, reject) => {
  read(fd, into, at, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
});

/**
 * `p`, marked as handled: a read or write in flight that fails while the
 * module runs is reported when it is awaited (the general path then
 * reports the error its own way), not as an unhandled rejection ending the
 * process.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** `read` until `len` bytes or the end of the file. */
async function readAllAsync(readAt: ReadAt, fd: number, into: Uint8Array, at: number, len: number, pos: number): Promise<number> {
  let got = 0;
  while (got < len) {
    const n = await readAt(fd, into, at + got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Classic pcap read ahead: two halves of the file's bytes in the module's
 * memory, the next one being read (in the thread pool) while the module
 * runs through the other. Each half has a gap of `gap` bytes before it: at
 * the end of one half, the record not whole in it (at most a record header
 * and `limit` bytes, hence the gap's size) is copied into the gap before
 * the other, so that it runs on into the other half's bytes; the half left
 * behind is then given the next read. Each read fills its half but at the
 * end of the file (a short read is read on), so the file offset of every
 * read is known before the one before it completes. The memory is laid out
 * once and never grows while a read is in flight.
 */
class DoubleChunks {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  /** the two halves' first bytes */
  private readonly half: [number, number];
  /** which half is being run through */
  private cur = 0;
  /** the file offset of the current half's first byte */
  private curPos = 0;
  /** the file offset of the next read */
  private nextPos: number;
  /** the other half's read, in flight (undefined past the end of the file) */
  private pending: Promise<number> | undefined;
  end: number;
  eof = false;

  /**
   * Over `c`'s memory, grown to the layout (and `after` bytes more for
   * the caller, from limitEnd): its first chunk becomes the first half.
   * `room` is where the layout begins.
   */
  constructor(c: Chunks, readonly fd: number, private readonly chunk: number, private readonly gap: number, room: number, private readonly readAt: ReadAt, after: number) {
    const first = room + gap;
    const second = first + chunk + gap;
    const need = second + chunk + after;
    const memory = c.memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    this.u8 = new Uint8Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
    this.half = [first, second];
    const got = c.end - BASE;
    this.u8.copyWithin(first, BASE, c.end);
    this.end = first + got;
    this.nextPos = got;
    this.pending = c.eof ? undefined : handled(this.issue(1));
  }

  /** where the file's first byte is */
  get start(): number {
    return this.half[0];
  }

  /** the end of the layout: what follows is free for the caller */
  get limitEnd(): number {
    return this.half[1] + this.chunk;
  }

  /**
   * The read of half `h`, as two reads at once: the module filters faster
   * than one thread copies from the page cache, and the pool has the
   * threads (the count: the first part's when it ends the file).
   */
  private async issue(h: number): Promise<number> {
    const pos = this.nextPos;
    this.nextPos += this.chunk;
    const part = Math.ceil(this.chunk / 2 / 4096) * 4096;
    if (part >= this.chunk) return readAllAsync(this.readAt, this.fd, this.u8, this.half[h]!, this.chunk, pos);
    const [a, b] = await Promise.all([
      readAllAsync(this.readAt, this.fd, this.u8, this.half[h]!, part, pos),
      readAllAsync(this.readAt, this.fd, this.u8, this.half[h]! + part, this.chunk - part, pos + part),
    ]);
    return a < part ? a : part + b;
  }

  /**
   * `n` bytes from `at` as far as the file has them: the part of the
   * current half from `at` moves into the gap before the other, whose read
   * is awaited (the next issued into the half left), until n bytes follow
   * or the file ends. Returns where the byte at `at` is now.
   */
  async ensure(at: number, n: number): Promise<number> {
    // more than the gap holds (a pcapng block over libpcap's limit): the general path reads it
    if (n > this.gap) decline();
    while (at + n > this.end && !this.eof) {
      const left = this.end - at;
      const next = 1 - this.cur;
      const to = this.half[next]! - left;
      this.u8.copyWithin(to, at, this.end);
      const pending = this.pending;
      const nextStart = this.curPos + (this.end - this.half[this.cur]!);
      let got = 0;
      if (pending !== undefined) {
        // the half left behind is free now: its read goes out before the other's is awaited (past the end of the file it reads nothing)
        this.pending = handled(this.issue(this.cur));
        got = await pending;
      }
      if (got < this.chunk) this.eof = true;
      this.cur = next;
      this.curPos = nextStart;
      this.end = this.half[next]! + got;
      at = to;
    }
    return at;
  }

  /** the file offset of memory position `at` */
  offset(at: number): number {
    return this.curPos + at - this.half[this.cur]!;
  }

  /** the read in flight, if any, done (its buffer must not be reused while the kernel copies into it) */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) await p.catch(() => 0);
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

/**
 * `tsbpf filter ARGS` when the fast path can do it exactly: the exit
 * status; undefined, having printed nothing, when it cannot.
 */
export async function fastFilter(args: readonly string[], io: CliIo, opts: ReadOptions = {}): Promise<number | undefined> {
  try {
    return await attempt(args, io, opts);
  } catch (e) {
    if (e instanceof Decline) return undefined;
    throw e;
  }
}

async function attempt(args: readonly string[], io: CliIo, opts: ReadOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseCommand(FILTER, args);
  } catch {
    return decline();
  }
  const { values, positionals, help, lists } = parsed;
  // repeatable options (--set) are in lists: none of them is the fast path's
  // --workers 1 is this path's one thread; more workers go the general way (the pool: measured slower than this path for an expression)
  if (help || Object.keys(values).some((k) => !FAST_OPTIONS.has(k) && !(k === 'workers' && values[k] === '1')) || Object.keys(lists).length > 0) return decline();
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
  const summarize = write === undefined && !count ? (await import('../pcap/summary.js')).summarize : undefined;

  const wall0 = performance.now();
  let fd: number;
  try {
    fd = openSync(capture, 'r');
  } catch {
    return decline();
  }
  let out: number | undefined;
  let scan: Scan;
  let sink: Sink;
  let pcapSink: PcapSink | undefined;
  try {
    if (!fstatSync(fd).isFile()) return decline();
    const memory = new WebAssembly.Memory({ initial: Math.ceil((BASE + CHUNK) / PAGE) });
    // the first read: at least the 4096 bytes captureHead may look at
    const chunks = new Chunks(fd, memory, opts.chunk === undefined ? CHUNK : Math.min(CHUNK, Math.max(4096, opts.chunk)));
    const head = captureHead(chunks.u8.subarray(BASE, chunks.end));
    const lt = values['linktype'] as string | undefined;
    const linktype: number | string = head?.linktype ?? (lt === undefined ? 'ethernet' : /^\d+$/.test(lt) ? Number(lt) : lt);
    let prog: SockFilter[];
    try {
      prog = compileFilter(expr, linktype, head === undefined ? {} : { byteOrder: head.byteOrder });
    } catch {
      return decline();
    }
    if (chunks.end - BASE < 24) return decline();
    const magic = u32be(chunks.u8, BASE);
    const pcapng = magic === PCAPNG_SHB;
    if (!pcapng && ![0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1].includes(magic)) return decline();
    // the capture's link type as the output file's header gives it: pcap's, pcapng's first interface's
    let linkType = pcapng ? -1 : chunks.dv.getUint32(BASE + 20, magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) & 0xffff;
    const getLinkType = (): number => linkType;
    if (write !== undefined) {
      if (write !== '-') {
        try {
          out = openSync(write, 'w');
        } catch {
          return decline();
        }
      }
      sink = pcapSink = new PcapSink(out, getLinkType);
    } else {
      sink = count ? new CountSink() : new LineSink(json, getLinkType, summarize!);
    }
    scan = pcapng
      ? await scanPcapng(chunks, prog, sink, (t) => {
        linkType = t;
      }, opts)
      : await scanPcap(chunks, prog, sink, magic, opts);
    pcapSink?.finish();
  } catch (e) {
    if (e instanceof Decline) throw e;
    // a read or write that failed: the general path reports it
    return decline();
  } finally {
    closeSync(fd);
    if (out !== undefined) closeSync(out);
  }
  const wallMs = performance.now() - wall0;

  if (pcapSink && write === '-') for (const b of pcapSink.gathered) io.stdout.write(b);
  if (sink instanceof LineSink && sink.lines.length > 0) io.stdout.write(sink.lines.join(''));
  if (count) io.stdout.write(json ? JSON.stringify({ packets: scan.packets, matched: sink.count }) + '\n' : `${sink.count} packets\n`);
  if (scan.packets > 0 || scan.error === undefined) io.stderr.write(`tsbpf: ${throughput(scan.packets, scan.bytes, wallMs, `; ${sink.count} matched`)}\n`);
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
 * -w's output areas in the module's memory: the module writes accepted
 * records into the current one; when it is half full (or full) it goes out
 * through the sink, written in the thread pool, and the module fills the
 * other (whose write is awaited first). One area, at 0, where the memory
 * may still grow (Chunks).
 */
class OutAreas {
  private area = 0;
  /** where the module writes next */
  at: number;
  /** the records written to the current area since it last went out */
  private count = 0;
  constructor(private readonly sink: PcapSink, private readonly starts: readonly number[], private readonly u8: () => Uint8Array) {
    this.at = starts[0]!;
  }

  /** the end of the current area */
  get end(): number {
    return this.starts[this.area]! + OUT_RECORDS;
  }

  /** the module wrote up to `written`, `accepted` records; `full`: it stopped for want of room */
  async wrote(written: number, accepted: number, full: boolean): Promise<void> {
    this.at = written;
    this.count += accepted;
    if (full || written - this.starts[this.area]! >= OUT_RECORDS / 2) await this.out();
  }

  /** whether the current area holds records not yet out */
  get holding(): boolean {
    return this.at > this.starts[this.area]!;
  }

  /** the current area out, the next one ready */
  async out(): Promise<void> {
    const base = this.starts[this.area]!;
    if (this.at > base) await this.sink.recordsAsync(this.u8().subarray(base, this.at), this.count);
    this.count = 0;
    this.area = (this.area + 1) % this.starts.length;
    this.at = this.starts[this.area]!;
    // one area: the module may not write into it again until its write is done
    if (this.starts.length === 1) await this.sink.drain();
  }
}

/** How `tsbpf filter` reads a classic pcap file (tests shrink the halves and make reads short). */
export interface ReadOptions {
  /** the reads, fs.read's by default */
  read?: ReadAt;
  /** bytes per half of the read-ahead (READ_AHEAD by default), and of the first read when smaller than its 256 KiB (but at least 4096) */
  chunk?: number;
}

/**
 * Classic pcap, a chunk at a time: the module runs through the whole
 * records of the chunk; the part of a record at its end runs on into the
 * next (DoubleChunks, the next chunk read while this one is filtered; a
 * file whose snaplen allows records over libpcap's limit is read the plain
 * way, Chunks, growing for each). Mirrors reader.ts's decodePcap: its
 * limit on a record's length and its three errors. With -w the accepted
 * records gather in one of two output areas and go out (written in the
 * thread pool) while the module fills the other.
 */
async function scanPcap(c0: Chunks, prog: SockFilter[], sink: Sink, magic: number, opts: ReadOptions): Promise<Scan> {
  // -w: the module writes the records itself
  const direct = sink instanceof PcapSink ? sink : undefined;
  const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const snaplen = c0.dv.getUint32(BASE + 16, le);
  const linkType = c0.dv.getUint32(BASE + 20, le) & 0xffff;
  const limit = Math.min(MAX_RECORD, Math.max(snaplen, LIBPCAP_MAX_SNAPLEN));
  const ahead = limit === LIBPCAP_MAX_SNAPLEN && !c0.eof;
  const c = ahead ? new DoubleChunks(c0, c0.fd, opts.chunk ?? READ_AHEAD, 16 + limit, BASE, opts.read ?? readAsync, direct ? OUT_RECORDS : 0) : c0;
  // the second output area after the halves (read-ahead only: the plain way's memory grows)
  const outs = direct ? new OutAreas(direct, c instanceof DoubleChunks ? [0, c.limitEnd] : [0], () => c.u8) : undefined;
  const wasm = classicModule(prog, c0.memory, le, linkType) ?? decline();
  const fracNs = nanos ? 1 : 1000;
  let packets = 0;
  let bytes = 0;
  let error: string | undefined;
  let at = c === c0 ? BASE + 24 : (c as DoubleChunks).start + 24;
  /** One call of the module over [at, end): the accepted packets to the sink; whether it stopped for want of room. */
  const step = async (): Promise<boolean> => {
    if (outs) {
      const written = wasm.records(at, c.end, outs.at, outs.end, limit, fracNs);
      // a record the writer refuses: the general path says how
      if (written < 0) return decline();
      packets += wasm.packets.value as number;
      bytes += wasm.bytes.value as number;
      at = wasm.at.value as number;
      const full = (wasm.full.value as number) !== 0;
      await outs.wrote(written, wasm.accepted.value as number, full);
      return full;
    }
    const outEnd = wasm.scan(at, c.end, OUT_WORDS, OUT_WORDS_END, limit);
    const before = packets;
    packets += wasm.packets.value as number;
    bytes += wasm.bytes.value as number;
    at = wasm.at.value as number;
    const dv = c.dv;
    for (let w = OUT_WORDS; w < outEnd; w += 12) {
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
      sink.add(c.u8, s, verdict < incl ? verdict : incl, incl, dv.getUint32(r + 12, le), sec, ns, before + dv.getUint32(w + 8, true), verdict);
    }
    return outEnd >= OUT_WORDS_END;
  };
  try {
    for (;;) {
      if (await step()) continue;
      // stopped at a record not whole in the chunk, or over the limit
      const left = c.end - at;
      const incl = left >= 16 ? c.dv.getUint32(at + 8, le) : -1;
      if (incl > limit) {
        error = `offset ${c.offset(at)}: captured length ${incl} exceeds the limit ${limit}`;
        break;
      }
      if (left === 0 && c.eof) break;
      const need = left >= 16 ? 16 + incl : 16;
      at = await c.ensure(at, need);
      if (at + need > c.end) {
        const rest = c.end - at;
        if (rest > 0) {
          error = rest < 16
            ? `offset ${c.offset(at)}: truncated record header`
            : `offset ${c.offset(at)}: truncated packet data (${incl} bytes declared, ${rest - 16} present)`;
        }
        break;
      }
    }
    await outs?.out();
  } finally {
    // nothing may still be copying into the memory or out of it when the files close
    if (c instanceof DoubleChunks) await c.settle();
    await direct?.drain();
  }
  return { packets, bytes, ...(error === undefined ? {} : { error }) };
}

/** The smallest legal length of each block type the reader parses (reader.ts's MIN_BLOCK); 12 for the others. */
function minBlock(type: number): number {
  switch (type) {
    case PCAPNG_SHB: return 28;
    case 1: return 20;
    case 2: return 32;
    case 3: return 16;
    case 6: return 32;
    default: return 12;
  }
}

/**
 * pcapng, a chunk at a time: section headers, interfaces and enhanced,
 * simple and obsolete packet blocks as reader.ts's decodePcapng reads them,
 * other blocks skipped, each packet through the module's filter. Anything
 * the reader would call an error, or interfaces of different link types:
 * decline. `linkType` learns the first interface's.
 */
async function scanPcapng(c0: Chunks, prog: SockFilter[], sink: Sink, linkType: (t: number) => void, opts: ReadOptions): Promise<Scan> {
  // -w: the module reads runs of enhanced packet blocks and writes the records itself
  const direct = sink instanceof PcapSink ? sink : undefined;
  // read ahead as for pcap; a block over the gap (1 MiB: four times libpcap's limit on a packet) declines there
  const c = c0.eof ? c0 : new DoubleChunks(c0, c0.fd, opts.chunk ?? READ_AHEAD, PCAPNG_GAP, BASE, opts.read ?? readAsync, direct ? OUT_RECORDS : 0);
  const outs = direct ? new OutAreas(direct, c instanceof DoubleChunks ? [0, c.limitEnd] : [0], () => c.u8) : undefined;
  /** `n` bytes from `at` (awaited only when they are not there yet: most blocks are) */
  const ensure = async (at: number, n: number): Promise<number> => (at + n <= c.end || c.eof ? at : await c.ensure(at, n));
  try {
    return await walkPcapng(c, c0.memory, prog, sink, outs, ensure, linkType);
  } finally {
    if (c instanceof DoubleChunks) await c.settle();
    await direct?.drain();
  }
}

/** scanPcapng's walk over the blocks. */
async function walkPcapng(c: Chunks | DoubleChunks, memory: WebAssembly.Memory, prog: SockFilter[], sink: Sink, outs: OutAreas | undefined,
  ensure: (at: number, n: number) => Promise<number>, linkType: (t: number) => void): Promise<Scan> {
  let wasmLe = true;
  /** the interfaces the module may take (0: none), all of one timestamp unit: nsPerTick */
  let uniform = 0;
  let uniformNs = 0;
  /** ticks per second, and when it is a power of ten up to 1e9 without an offset, nanoseconds per tick (no bigint needed) */
  interface Iface { linkType: number; snaplen: number; ticks: bigint; offsetNs: bigint; nsPerTick: number }
  let ifaces: Iface[] = [];
  let le = true;
  let wasm: ClassicWasm | undefined;
  let firstLinkType = -1;
  let packets = 0;
  let bytes = 0;
  let at = c instanceof DoubleChunks ? c.start : BASE;
  for (;;) {
    if (outs && uniform > 0 && le === wasmLe) {
      const written = wasm!.epbs(at, c.end, outs.at, outs.end, uniform, uniformNs);
      // a record the writer refuses: the general path says how
      if (written < 0) return decline();
      packets += wasm!.packets.value as number;
      bytes += wasm!.bytes.value as number;
      at = wasm!.at.value as number;
      const full = (wasm!.full.value as number) !== 0;
      await outs.wrote(written, wasm!.accepted.value as number, full);
      if (full) continue;
    }
    // the end of the file between blocks is the end of the capture
    if (at === c.end) {
      at = await ensure(at, 1);
      if (at === c.end) break;
    }
    at = await ensure(at, 12);
    if (at + 12 > c.end) return decline();
    let dv = c.dv;
    const isShb = dv.getUint32(at, false) === PCAPNG_SHB;
    if (isShb) {
      const bom = dv.getUint32(at + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return decline();
    }
    const type = isShb ? PCAPNG_SHB : dv.getUint32(at, le);
    const len = dv.getUint32(at + 4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) return decline();
    if (len < minBlock(type)) return decline();
    at = await ensure(at, len);
    if (at + len > c.end) return decline();
    dv = c.dv;
    const b = c.u8;
    if (dv.getUint32(at + len - 4, le) !== len) return decline();
    const body = at + 8;
    const bodyLen = len - 12;
    switch (type) {
      case PCAPNG_SHB:
        if (dv.getUint16(body + 4, le) !== 1) return decline();
        ifaces = [];
        uniform = 0;
        break;
      case 1: {
        const iface: Iface = { linkType: dv.getUint16(body, le), snaplen: dv.getUint32(body + 4, le), ticks: 1_000_000n, offsetNs: 0n, nsPerTick: 0 };
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
        iface.nsPerTick = iface.offsetNs === 0n && NANO % iface.ticks === 0n ? Number(NANO / iface.ticks) : 0;
        // one module for the first interface's link type; another would need another SKF_NET_OFF
        if (wasm === undefined) {
          firstLinkType = iface.linkType;
          linkType(firstLinkType);
          wasm = classicModule(prog, memory, le, firstLinkType) ?? decline();
          wasmLe = le;
        } else if (iface.linkType !== firstLinkType) {
          return decline();
        }
        ifaces.push(iface);
        // the module takes the section's interfaces while they share one unit of time
        uniform = ifaces.every((i) => i.nsPerTick !== 0 && i.nsPerTick === ifaces[0]!.nsPerTick) ? ifaces.length : 0;
        uniformNs = ifaces[0]!.nsPerTick;
        break;
      }
      case 2:
      case 3:
      case 6: {
        let iface: Iface | undefined;
        let s: number;
        let cap: number;
        let orig: number;
        let hi = -1;
        let lo = 0;
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
          hi = dv.getUint32(body + 4, le);
          lo = dv.getUint32(body + 8, le);
        }
        packets++;
        bytes += cap;
        const verdict = wasm!.filter(s, cap) >>> 0;
        if (verdict !== 0) {
          let sec = 0;
          let ns = 0;
          const ticks = hi * 4294967296 + lo;
          if (hi < 0) {
            // a simple packet block has no timestamp: 0
          } else if (iface.nsPerTick !== 0 && ticks <= Number.MAX_SAFE_INTEGER) {
            // the reader's (ts * 1e9) / ticksPerSecond, exactly, in doubles: ts is below 2^53 and 1e9 a multiple of the rate
            const perSecond = 1e9 / iface.nsPerTick;
            sec = Math.floor(ticks / perSecond);
            let rem = ticks - sec * perSecond;
            // the division may round across a whole second; the products are exact
            if (rem < 0) {
              sec--;
              rem += perSecond;
            } else if (rem >= perSecond) {
              sec++;
              rem -= perSecond;
            }
            ns = rem * iface.nsPerTick;
          } else {
            const tsNs = ((BigInt(hi) << 32n) | BigInt(lo)) * NANO / iface.ticks + iface.offsetNs;
            if (tsNs < 0n) return decline();
            sec = Number(tsNs / NANO);
            ns = Number(tsNs % NANO);
          }
          // the module's records before it go out first, in order, and are written before the sink's own buffer may be
          if (outs) {
            if (outs.holding) await outs.out();
            await (sink as PcapSink).drain();
          }
          sink.add(c.u8, s, verdict < cap ? verdict : cap, cap, orig, sec, ns, packets, verdict);
        }
        break;
      }
      default:
        break;
    }
    at += len;
  }
  await outs?.out();
  return { packets, bytes };
}
