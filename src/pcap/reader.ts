/**
 * Capture file reader: classic pcap (microsecond and nanosecond magics, either
 * byte order) and pcapng (sections, interfaces, enhanced/simple/obsolete
 * packet blocks), from bytes in memory, a web ReadableStream, a Node stream,
 * or any async iterable of chunks. It owns the file formats only; link-layer
 * framing is linktype.ts's and protocol decoding summary.ts's. Reading a file
 * by path is file.ts's: this file imports nothing of Node, so the package's
 * main entry bundles for a browser.
 *
 * One decoder serves every source: `decode` is a generator that yields
 * packets and, when it needs bytes it has not got, the MORE token. The
 * synchronous parser hands it the whole input up front, so MORE never comes;
 * the asynchronous reader answers MORE by awaiting the next chunk. The decoder
 * buffers at most one record or block, and skips blocks it does not parse
 * without buffering them, so a capture of any size streams in bounded memory.
 *
 * Errors are BpfError EINVAL naming the byte offset of the record or block at
 * fault, and are thrown only after every packet before it has been yielded.
 * Formats: pcap per draft-ietf-opsawg-pcap, pcapng per draft-ietf-opsawg-pcapng.
 */
import { BpfError, InternalError } from '../errors.js';
import { networkOffset } from './linktype.js';

/** One packet of a capture: its bytes, wire length, timestamp, link type and network header offset. */
export interface Packet {
  /** The captured bytes; a view into the reader's input, copy it to keep it past the next chunk's mutation. */
  data: Uint8Array;
  /** The packet's length on the wire; larger than data.length when the capture truncated it. */
  origLen: number;
  /** Nanoseconds since the Unix epoch; 0 for a pcapng simple packet block, which records none. */
  tsNs: bigint;
  linkType: number;
  /** The pcapng interface id within its section; 0 for classic pcap. */
  interfaceId: number;
  /** The offset of the network-layer header in data, or -1 when unknown (see linktype.ts). */
  netOff: number;
}

/** A capture interface: link type, snaplen, timestamp resolution and offset. */
export interface InterfaceInfo {
  linkType: number;
  /** 0 means no limit (pcapng allows it). */
  snaplen: number;
  /** Timestamp units per second: 1e6 for microseconds, 1e9 for nanoseconds. */
  tsTicksPerSecond: bigint;
  /** pcapng if_tsoffset, in nanoseconds, added to every timestamp. */
  tsOffsetNs: bigint;
}

/** What the header of a capture (or pcapng section) says: format, byte order, version, interfaces. */
export interface CaptureInfo {
  format: 'pcap' | 'pcapng';
  /** The byte order of the file (pcapng: of the current section). */
  byteOrder: 'little' | 'big';
  versionMajor: number;
  versionMinor: number;
  /** pcapng: the index of the current section, counted from 0; pcap: 0. */
  section: number;
  /**
   * pcap: the one interface the global header describes. pcapng: the
   * interfaces declared so far in the current section, indexed by id.
   */
  interfaces: InterfaceInfo[];
  /** Interface 0's link type, snaplen and resolution; -1, 0 and 1e6 until it is declared. */
  linkType: number;
  snaplen: number;
  tsTicksPerSecond: bigint;
}

/** A record or block bigger than this is corrupt, not a packet: no link carries one. */
export const MAX_RECORD = 256 * 1024 * 1024;
/** libpcap's MAXIMUM_SNAPLEN: records up to this are accepted even above a file's (often wrong) snaplen. */
const LIBPCAP_MAX_SNAPLEN = 262144;

const MICRO = 1_000_000n;
const NANO = 1_000_000_000n;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const BLOCK = {
  SHB: 0x0a0d0d0a,
  IDB: 1,
  /** The obsolete Packet Block, still found in old Wireshark files. */
  PB: 2,
  SPB: 3,
  EPB: 6,
} as const;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT = { END: 0, IF_TSRESOL: 9, IF_TSOFFSET: 14 } as const;

function corrupt(offset: number, what: string): BpfError {
  return new BpfError('EINVAL', `capture: offset ${offset}: ${what}`);
}

/**
 * The unread input as a list of chunks. `view` returns a contiguous view,
 * copying only when the bytes asked for span chunks, and only once they have
 * all arrived, so a hostile length field never sizes an allocation by itself.
 */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** The read position within chunks[0]. */
  private head = 0;
  /** Bytes buffered and not yet consumed. */
  avail = 0;
  /** The absolute file offset of the next unread byte. */
  offset = 0;
  /** No more chunks will come. */
  eof = false;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.avail += chunk.length;
  }

  view(n: number): Uint8Array {
    if (n > this.avail) throw new InternalError(`view of ${n} bytes with ${this.avail} buffered`);
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + take), filled);
      filled += take;
      if (this.head + take === c.length) {
        this.chunks.shift();
        this.head = 0;
      } else {
        this.head += take;
      }
    }
    // The copied bytes replace the chunks they came from, still unconsumed.
    if (this.head > 0) {
      this.chunks[0] = this.chunks[0]!.subarray(this.head);
      this.head = 0;
    }
    this.chunks.unshift(out);
    return out;
  }

  /** Drops up to n buffered bytes; returns how many it dropped. */
  consume(n: number): number {
    const total = Math.min(n, this.avail);
    let left = total;
    while (left > 0) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, left);
      left -= take;
      if (this.head + take === c.length) {
        this.chunks.shift();
        this.head = 0;
      } else {
        this.head += take;
      }
    }
    this.avail -= total;
    this.offset += total;
    return total;
  }
}

const MORE: unique symbol = Symbol('need more input');
type Step = Packet | typeof MORE;

interface DecodeState {
  info: CaptureInfo | undefined;
}

/** Waits until n bytes are buffered; false if the input ends first. */
function* fill(q: ByteQueue, n: number): Generator<typeof MORE, boolean, void> {
  while (q.avail < n) {
    if (q.eof) return false;
    yield MORE;
  }
  return true;
}

function u16(b: Uint8Array, at: number, le: boolean): number {
  return le ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number, le: boolean): number {
  const v = le
    ? b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)
    : (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
  return v >>> 0;
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

function* decode(q: ByteQueue, st: DecodeState): Generator<Step, void, void> {
  if (!(yield* fill(q, 1))) throw new BpfError('EINVAL', 'capture: empty file');
  if (!(yield* fill(q, 4))) throw corrupt(0, 'truncated file header');
  const magic = u32(q.view(4), 0, false);
  if (magic === BLOCK.SHB) return yield* decodePcapng(q, st);
  for (const [m, nanos] of [[PCAP_MAGIC_US, false], [PCAP_MAGIC_NS, true]] as const) {
    if (magic === m) return yield* decodePcap(q, st, false, nanos);
    if (magic === swap32(m)) return yield* decodePcap(q, st, true, nanos);
  }
  throw corrupt(0, `unrecognised magic ${hex32(magic)}`);
}

function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function* decodePcap(q: ByteQueue, st: DecodeState, le: boolean, nanos: boolean): Generator<Step, void, void> {
  if (!(yield* fill(q, 24))) throw corrupt(0, 'truncated file header');
  const h = q.view(24);
  const snaplen = u32(h, 16, le);
  // The upper bits of the link type field carry FCS information; the link
  // type proper is the low 16 bits.
  const linkType = u32(h, 20, le) & 0xffff;
  const tsTicksPerSecond = nanos ? NANO : MICRO;
  const iface: InterfaceInfo = { linkType, snaplen, tsTicksPerSecond, tsOffsetNs: 0n };
  st.info = {
    format: 'pcap',
    byteOrder: le ? 'little' : 'big',
    versionMajor: u16(h, 4, le),
    versionMinor: u16(h, 6, le),
    section: 0,
    interfaces: [iface],
    linkType,
    snaplen,
    tsTicksPerSecond,
  };
  q.consume(24);
  // Like libpcap, accept a record above the file's snaplen (writers get it
  // wrong, and 0 is common) up to the largest snaplen libpcap itself uses.
  const limit = Math.min(MAX_RECORD, Math.max(snaplen, LIBPCAP_MAX_SNAPLEN));
  const fracNs = nanos ? 1n : 1000n;
  for (;;) {
    const at = q.offset;
    if (!(yield* fill(q, 1))) return;
    if (!(yield* fill(q, 16))) throw corrupt(at, 'truncated record header');
    const r = q.view(16);
    const sec = u32(r, 0, le);
    const frac = u32(r, 4, le);
    const inclLen = u32(r, 8, le);
    const origLen = u32(r, 12, le);
    if (inclLen > limit) throw corrupt(at, `captured length ${inclLen} exceeds the limit ${limit}`);
    if (!(yield* fill(q, 16 + inclLen))) {
      throw corrupt(at, `truncated packet data (${inclLen} bytes declared, ${q.avail - 16} present)`);
    }
    const data = q.view(16 + inclLen).subarray(16);
    q.consume(16 + inclLen);
    yield {
      data,
      origLen,
      tsNs: BigInt(sec) * NANO + BigInt(frac) * fracNs,
      linkType,
      interfaceId: 0,
      netOff: networkOffset(data, linkType),
    };
  }
}

function blockName(type: number): string {
  switch (type) {
    case BLOCK.SHB: return 'section header block';
    case BLOCK.IDB: return 'interface description block';
    case BLOCK.PB: return 'packet block';
    case BLOCK.SPB: return 'simple packet block';
    case BLOCK.EPB: return 'enhanced packet block';
    default: return `block type ${hex32(type)}`;
  }
}

/** The smallest legal total length of each block type the decoder parses. */
const MIN_BLOCK: Record<number, number> = {
  [BLOCK.SHB]: 28,
  [BLOCK.IDB]: 20,
  [BLOCK.PB]: 32,
  [BLOCK.SPB]: 16,
  [BLOCK.EPB]: 32,
};

function* decodePcapng(q: ByteQueue, st: DecodeState): Generator<Step, void, void> {
  let le = true;
  let ifaces: InterfaceInfo[] = [];
  for (;;) {
    const at = q.offset;
    if (!(yield* fill(q, 1))) return;
    if (!(yield* fill(q, 12))) throw corrupt(at, 'truncated block header');
    const head = q.view(12);
    // The SHB type reads the same in either byte order; its byte-order magic
    // (after the length) says how to read everything else, length included.
    const isShb = u32(head, 0, false) === BLOCK.SHB;
    if (isShb) {
      const bom = u32(head, 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === swap32(BYTE_ORDER_MAGIC)) le = false;
      else throw corrupt(at, `bad byte-order magic ${hex32(u32(head, 8, false))}`);
    }
    const type = isShb ? BLOCK.SHB : u32(head, 0, le);
    const len = u32(head, 4, le);
    if (len < 12 || len % 4 !== 0) throw corrupt(at, `${blockName(type)}: invalid block length ${len}`);
    const min = MIN_BLOCK[type];
    if (min === undefined) {
      yield* skipBlock(q, at, type, len, le);
      continue;
    }
    if (len < min) throw corrupt(at, `${blockName(type)}: block length ${len} below the minimum ${min}`);
    if (len > MAX_RECORD) throw corrupt(at, `${blockName(type)}: block length ${len} exceeds the limit ${MAX_RECORD}`);
    if (!(yield* fill(q, len))) {
      throw corrupt(at, `truncated ${blockName(type)} (${len} bytes declared, ${q.avail} present)`);
    }
    const b = q.view(len);
    const trailer = u32(b, len - 4, le);
    if (trailer !== len) {
      throw corrupt(at, `${blockName(type)}: trailing block length ${trailer} does not match ${len}`);
    }
    const body = b.subarray(8, len - 4);
    let pkt: Packet | undefined;
    switch (type) {
      case BLOCK.SHB: {
        const major = u16(body, 4, le);
        const minor = u16(body, 6, le);
        if (major !== 1) throw corrupt(at, `unsupported pcapng version ${major}.${minor}`);
        ifaces = [];
        const prev = st.info;
        st.info = {
          format: 'pcapng',
          byteOrder: le ? 'little' : 'big',
          versionMajor: major,
          versionMinor: minor,
          section: prev === undefined ? 0 : prev.section + 1,
          interfaces: ifaces,
          linkType: -1,
          snaplen: 0,
          tsTicksPerSecond: MICRO,
        };
        break;
      }
      case BLOCK.IDB: {
        const iface = parseIdb(body, le, at);
        ifaces.push(iface);
        if (ifaces.length === 1) {
          const info = st.info!;
          info.linkType = iface.linkType;
          info.snaplen = iface.snaplen;
          info.tsTicksPerSecond = iface.tsTicksPerSecond;
        }
        break;
      }
      case BLOCK.EPB:
      case BLOCK.PB: {
        // EPB: interface id (32 bits); the obsolete PB: interface id and drop
        // count (16 bits each). The rest of the two layouts is the same.
        const id = type === BLOCK.EPB ? u32(body, 0, le) : u16(body, 0, le);
        const iface = ifaces[id];
        if (iface === undefined) throw corrupt(at, `${blockName(type)} for undeclared interface ${id}`);
        const ts = (BigInt(u32(body, 4, le)) << 32n) | BigInt(u32(body, 8, le));
        const capLen = u32(body, 12, le);
        if (capLen > body.length - 20) {
          throw corrupt(at, `${blockName(type)}: captured length ${capLen} overruns the block`);
        }
        pkt = packet(body.subarray(20, 20 + capLen), u32(body, 16, le), ts, iface, id);
        break;
      }
      case BLOCK.SPB: {
        const iface = ifaces[0];
        if (iface === undefined) throw corrupt(at, `${blockName(type)} with no interface 0 declared`);
        const origLen = u32(body, 0, le);
        // An SPB does not record its captured length: it is the original
        // length cut to the snaplen (0: none), and the block must hold it.
        let capLen = Math.min(origLen, body.length - 4);
        if (iface.snaplen !== 0) capLen = Math.min(capLen, iface.snaplen);
        // No timestamp either: 0, the epoch, says so honestly.
        pkt = packet(body.subarray(4, 4 + capLen), origLen, null, iface, 0);
        break;
      }
      default:
        throw new InternalError(`no parser for ${blockName(type)}`);
    }
    q.consume(len);
    if (pkt !== undefined) yield pkt;
  }
}

/**
 * Passes over a block the decoder does not parse (name resolution, interface
 * statistics, custom, ...) without buffering its body, which may be large.
 */
function* skipBlock(q: ByteQueue, at: number, type: number, len: number, le: boolean): Generator<Step, void, void> {
  q.consume(8);
  let left = len - 12;
  for (;;) {
    left -= q.consume(left);
    if (left === 0) break;
    if (q.eof) throw corrupt(at, `truncated ${blockName(type)} (${len} bytes declared)`);
    yield MORE;
  }
  if (!(yield* fill(q, 4))) throw corrupt(at, `truncated ${blockName(type)} (${len} bytes declared)`);
  const trailer = u32(q.view(4), 0, le);
  if (trailer !== len) throw corrupt(at, `${blockName(type)}: trailing block length ${trailer} does not match ${len}`);
  q.consume(4);
}

function parseIdb(body: Uint8Array, le: boolean, at: number): InterfaceInfo {
  const iface: InterfaceInfo = {
    linkType: u16(body, 0, le),
    snaplen: u32(body, 4, le),
    tsTicksPerSecond: MICRO,
    tsOffsetNs: 0n,
  };
  let off = 8;
  while (off + 4 <= body.length) {
    const code = u16(body, off, le);
    const olen = u16(body, off + 2, le);
    if (code === OPT.END) break;
    if (off + 4 + olen > body.length) throw corrupt(at, `interface description block: option ${code} overruns the block`);
    const v = body.subarray(off + 4, off + 4 + olen);
    if (code === OPT.IF_TSRESOL && olen >= 1) {
      // The high bit picks the base: clear, 10^-n seconds; set, 2^-n.
      const n = BigInt(v[0]! & 0x7f);
      iface.tsTicksPerSecond = v[0]! & 0x80 ? 1n << n : 10n ** n;
    } else if (code === OPT.IF_TSOFFSET && olen >= 8) {
      const hi = BigInt(u32(v, le ? 4 : 0, le));
      const lo = BigInt(u32(v, le ? 0 : 4, le));
      iface.tsOffsetNs = BigInt.asIntN(64, (hi << 32n) | lo) * NANO;
    }
    // Option values are padded to 32 bits.
    off += 4 + ((olen + 3) & ~3);
  }
  return iface;
}

function packet(data: Uint8Array, origLen: number, ts: bigint | null, iface: InterfaceInfo, interfaceId: number): Packet {
  const tsNs = ts === null ? 0n : (ts * NANO) / iface.tsTicksPerSecond + iface.tsOffsetNs;
  return { data, origLen, tsNs, linkType: iface.linkType, interfaceId, netOff: networkOffset(data, iface.linkType) };
}

/**
 * The packets of an in-memory capture, synchronously. `info` is undefined
 * until the first call of next() has read the file header, then describes
 * the capture (for pcapng, the current section, updated as blocks are read).
 */
export class CaptureIterator implements IterableIterator<Packet> {
  private readonly state: DecodeState = { info: undefined };
  private readonly steps: Generator<Step, void, void>;

  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw new BpfError('EINVAL', 'capture: input is not a Uint8Array');
    const q = new ByteQueue();
    q.push(bytes);
    q.eof = true;
    this.steps = decode(q, this.state);
  }

  get info(): CaptureInfo | undefined {
    return this.state.info;
  }

  /** The next packet; done at the end of the capture. Throws the BpfError of a corrupt record after the packets before it. */
  next(): IteratorResult<Packet, undefined> {
    const r = this.steps.next();
    if (r.done) return { done: true, value: undefined };
    // The whole input was given up front, so the decoder can never wait.
    if (r.value === MORE) throw new InternalError('decoder asked for more input past the end');
    return { done: false, value: r.value };
  }

  /** Stop reading. */
  return(): IteratorResult<Packet, undefined> {
    this.steps.return();
    return { done: true, value: undefined };
  }

  /** The iterator itself. */
  [Symbol.iterator](): CaptureIterator {
    return this;
  }
}

/**
 * The packets of an asynchronous source, read chunk by chunk and only as
 * fast as they are consumed. Iterate it once, with for-await or sequential
 * next() calls. `info` behaves as on CaptureIterator.
 */
export class CaptureStream implements AsyncIterableIterator<Packet> {
  private readonly state: DecodeState = { info: undefined };
  private readonly q = new ByteQueue();
  private readonly steps = decode(this.q, this.state);
  private source: AsyncIterator<Uint8Array> | undefined;
  private finished = false;

  constructor(private readonly open: () => AsyncIterator<Uint8Array>) {}

  get info(): CaptureInfo | undefined {
    return this.state.info;
  }

  /** The next packet, read from the source as far as needed; done at its end. A corrupt record rejects, after the packets before it. */
  async next(): Promise<IteratorResult<Packet, undefined>> {
    if (this.finished) return { done: true, value: undefined };
    try {
      for (;;) {
        const r = this.steps.next();
        if (r.done) {
          await this.finish();
          return { done: true, value: undefined };
        }
        if (r.value !== MORE) return { done: false, value: r.value };
        this.source ??= this.open();
        const c = await this.source.next();
        if (c.done) {
          this.q.eof = true;
        } else {
          if (!(c.value instanceof Uint8Array)) throw new BpfError('EINVAL', 'capture: source yielded a chunk that is not a Uint8Array');
          this.q.push(c.value);
        }
      }
    } catch (e) {
      await this.finish().catch(() => undefined);
      throw e;
    }
  }

  /** Stop reading and release the source. */
  async return(): Promise<IteratorResult<Packet, undefined>> {
    await this.finish();
    return { done: true, value: undefined };
  }

  /** The iterator itself. */
  [Symbol.asyncIterator](): CaptureStream {
    return this;
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.steps.return();
    await this.source?.return?.();
  }
}

/**
 * The part of a web `ReadableStream` the reader uses (declared here, so the
 * types need neither the DOM library nor Node's): a reader giving chunks.
 */
export interface ReadableStreamLike {
  /** Lock the stream to a reader. */
  getReader(): {
    /** The next chunk, or done. */
    read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
    /** Stop the stream: nobody reads on. */
    cancel(reason?: unknown): Promise<void>;
    /** Unlock the stream. */
    releaseLock(): void;
  };
}

/**
 * Where a capture's bytes come from: bytes in memory, a web ReadableStream
 * (`fetch(url).body`, `file.stream()`), or an async iterable of chunks (a
 * Node Readable such as `process.stdin` or `fs.createReadStream`, or an
 * async generator). Chunks must not be modified once given: packets are
 * views of them. A file by path is `readCaptureFile` of `tsbpf/node`.
 */
export type CaptureSource = Uint8Array | ReadableStreamLike | AsyncIterable<Uint8Array>;

/** Parses an in-memory capture synchronously; see CaptureIterator. */
export function parseCapture(bytes: Uint8Array): CaptureIterator {
  return new CaptureIterator(bytes);
}

/**
 * Reads a capture from a source (see CaptureSource) as it arrives: each
 * packet is yielded as soon as its record is complete, so a live pipe gives
 * packets one by one. The source is released (a stream's reader cancelled,
 * an iterator's return() called) when the iteration ends, breaks or fails.
 */
export function readCapture(source: CaptureSource): CaptureStream {
  if (source instanceof Uint8Array) {
    return new CaptureStream(() => once(source)[Symbol.asyncIterator]());
  }
  if (typeof source === 'string') {
    throw new BpfError('EINVAL', `capture: ${JSON.stringify(source)}: readCapture takes bytes or a stream; read a file with readCaptureFile from 'tsbpf/node'`);
  }
  if (source !== null && typeof source === 'object') {
    if (typeof (source as ReadableStreamLike).getReader === 'function') {
      const stream = source as ReadableStreamLike;
      return new CaptureStream(() => webChunks(stream)[Symbol.asyncIterator]());
    }
    if (Symbol.asyncIterator in source) {
      const iterable = source as AsyncIterable<Uint8Array>;
      return new CaptureStream(() => plainChunks(iterable)[Symbol.asyncIterator]());
    }
  }
  throw new BpfError('EINVAL', 'capture: source is not a Uint8Array, a ReadableStream or an async iterable of chunks');
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * A chunk as a plain Uint8Array view (a Node Buffer is a subclass), so
 * packets compare equal to ones built by hand; anything else is refused.
 */
function plain(chunk: unknown): Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new BpfError('EINVAL', 'capture: source yielded a chunk that is not a Uint8Array');
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

async function* plainChunks(source: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield plain(chunk);
}

async function* webChunks(stream: ReadableStreamLike): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield plain(r.value);
    }
  } finally {
    // Stopped early: tell the stream nobody reads on (a fetch stops downloading).
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
