/**
 * Capture files (src/pcap): the reader against captures written byte by byte
 * here (pcap in both byte orders and resolutions, a two-section pcapng with
 * mixed link types, an SPB and skipped blocks), so the writer is not the
 * reader's only oracle; writer round trips; truncation at every byte offset;
 * corrupt and random input; the streaming reader over files and tiny chunks;
 * and exact tcpdump -nn style summaries. Every assertion is an exact value.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import {
  parseCapture, readCapture, writePcap, PcapWriter, summarize, formatIpv6, LINKTYPE, MAX_RECORD,
} from '../src/pcap/index.js';
import type { Packet } from '../src/pcap/index.js';
import { tempDir } from './tmp.js';
import { readCaptureFile } from '../src/pcap/file.js';
import { Readable } from 'node:stream';

// ---------------------------------------------------------------- helpers

/** A byte builder with explicit byte order, independent of the writer. */
class Bytes {
  readonly a: number[] = [];
  constructor(private readonly le = true) {}
  u8(...v: number[]): this {
    this.a.push(...v);
    return this;
  }
  u16(v: number): this {
    return this.le ? this.u8(v & 0xff, v >>> 8) : this.u8(v >>> 8, v & 0xff);
  }
  u32(v: number): this {
    const b = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    return this.u8(...(this.le ? b.reverse() : b));
  }
  /** A 64-bit pcapng timestamp: high word, then low word, each in the section's order. */
  ts64(v: bigint): this {
    return this.u32(Number(v >> 32n)).u32(Number(v & 0xffffffffn));
  }
  raw(b: Uint8Array | number[]): this {
    this.a.push(...b);
    return this;
  }
  get length(): number {
    return this.a.length;
  }
  get bytes(): Uint8Array {
    return Uint8Array.from(this.a);
  }
}

function hexBytes(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A pcapng block: type, total length, body padded to 32 bits, total length again. */
function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  return new Bytes(le).u32(type).u32(len).raw(body).raw(new Array(padded - body.length).fill(0)).u32(len).bytes;
}

function shb(le: boolean): Uint8Array {
  // byte-order magic, version 1.0, section length -1 (unknown), no options
  return block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).bytes);
}

function idb(le: boolean, linkType: number, snaplen: number, tsresol?: number): Uint8Array {
  const b = new Bytes(le).u16(linkType).u16(0).u32(snaplen);
  if (tsresol !== undefined) b.u16(9).u16(1).u8(tsresol, 0, 0, 0).u16(0).u16(0);
  return block(le, 1, b.bytes);
}

function epb(le: boolean, ifid: number, ts: bigint, data: Uint8Array, origLen = data.length): Uint8Array {
  return block(le, 6, new Bytes(le).u32(ifid).ts64(ts).u32(data.length).u32(origLen).raw(data).raw(new Array((4 - (data.length % 4)) % 4).fill(0)).bytes);
}

function collect(bytes: Uint8Array): { packets: Packet[]; error: unknown } {
  const packets: Packet[] = [];
  try {
    for (const p of parseCapture(bytes)) packets.push(p);
    return { packets, error: undefined };
  } catch (e) {
    return { packets, error: e };
  }
}

function assertEinval(e: unknown, message: string | RegExp): void {
  assert.ok(e instanceof BpfError, `expected a BpfError, got ${String(e)}`);
  assert.equal(e.code, 'EINVAL');
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
}

/** Deterministic bytes for fuzzing (xorshift32). */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

// Frame builders for the summaries and the reader's netOff checks.
const MAC_A = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const MAC_B = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];

function ether(type: number, payload: Uint8Array, tags: number[] = []): Uint8Array {
  const b = new Bytes(false).raw(MAC_B).raw(MAC_A);
  for (const [i, tpid] of tags.entries()) b.u16(tpid).u16(100 + i);
  return b.u16(type).raw(payload).bytes;
}

function ip4(src: number[], dst: number[], proto: number, payload: Uint8Array): Uint8Array {
  return new Bytes(false).u8(0x45, 0).u16(20 + payload.length).u16(0x1234).u16(0x4000).u8(64, proto).u16(0)
    .raw(src).raw(dst).raw(payload).bytes;
}

function v6addr(s: string): number[] {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function ip6(src: string, dst: string, nh: number, payload: Uint8Array): Uint8Array {
  return new Bytes(false).u32(0x60000000).u16(payload.length).u8(nh, 64).raw(v6addr(src)).raw(v6addr(dst)).raw(payload).bytes;
}

function tcpSeg(sp: number, dp: number, seq: number, ack: number, flags: number, win: number, data: Uint8Array = new Uint8Array(0), opts: number[] = []): Uint8Array {
  const doff = (20 + opts.length) / 4;
  return new Bytes(false).u16(sp).u16(dp).u32(seq).u32(ack).u8(doff << 4, flags).u16(win).u16(0).u16(0).raw(opts).raw(data).bytes;
}

function udpDgram(sp: number, dp: number, data: Uint8Array): Uint8Array {
  return new Bytes(false).u16(sp).u16(dp).u16(8 + data.length).u16(0).raw(data).bytes;
}

const A = [10, 0, 0, 1];
const B = [192, 168, 1, 20];
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;

// ---------------------------------------------------------------- classic pcap by hand

describe('pcap written by hand', () => {
  test('little-endian microseconds: header and two packets', () => {
    const frame = ether(0x0800, ip4(A, B, 17, udpDgram(1, 2, new Uint8Array(4))));
    const bytes = concat(
      hexBytes('d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000'),
      // ts 1700000000 s (0x6553f100) + 123456 us (0x0001e240), incl = orig = frame.length
      new Bytes(true).u32(0x6553f100).u32(123456).u32(frame.length).u32(frame.length).raw(frame).bytes,
      // a second record cut by the capture: 3 bytes kept of 1514
      hexBytes('01f15365 00000000 03000000 ea050000 aabbcc'),
    );
    const it = parseCapture(bytes);
    assert.equal(it.info, undefined);
    const packets = [...it];
    assert.deepEqual(it.info, {
      format: 'pcap', byteOrder: 'little', versionMajor: 2, versionMinor: 4, section: 0,
      interfaces: [{ linkType: 1, snaplen: 65535, tsTicksPerSecond: 1_000_000n, tsOffsetNs: 0n }],
      linkType: 1, snaplen: 65535, tsTicksPerSecond: 1_000_000n,
    });
    assert.deepEqual(packets, [
      { data: frame, origLen: frame.length, tsNs: 1_700_000_000_123_456_000n, linkType: 1, interfaceId: 0, netOff: 14 },
      { data: Uint8Array.of(0xaa, 0xbb, 0xcc), origLen: 1514, tsNs: 1_700_000_001_000_000_000n, linkType: 1, interfaceId: 0, netOff: -1 },
    ]);
  });

  test('big-endian nanoseconds, raw IP', () => {
    const pkt = ip4(A, B, 1, new Uint8Array(8));
    const bytes = concat(
      hexBytes('a1b23c4d 0002 0004 00000000 00000000 00000064 00000065'),
      new Bytes(false).u32(1).u32(999_999_999).u32(pkt.length).u32(pkt.length).raw(pkt).bytes,
    );
    const it = parseCapture(bytes);
    const packets = [...it];
    assert.equal(it.info?.byteOrder, 'big');
    assert.equal(it.info?.tsTicksPerSecond, 1_000_000_000n);
    assert.equal(it.info?.snaplen, 100);
    assert.equal(it.info?.linkType, LINKTYPE.RAW);
    assert.deepEqual(packets, [{ data: pkt, origLen: pkt.length, tsNs: 1_999_999_999n, linkType: 101, interfaceId: 0, netOff: 0 }]);
  });

  test('big-endian microseconds and little-endian nanoseconds magics', () => {
    const be = parseCapture(hexBytes('a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000071'));
    assert.deepEqual([...be], []);
    assert.equal(be.info?.linkType, LINKTYPE.LINUX_SLL);
    assert.equal(be.info?.tsTicksPerSecond, 1_000_000n);
    const le = parseCapture(hexBytes('4d3cb2a1 0200 0400 00000000 00000000 ffff0000 0c000000'));
    assert.deepEqual([...le], []);
    assert.equal(le.info?.tsTicksPerSecond, 1_000_000_000n);
    assert.equal(le.info?.linkType, 12);
  });
});

// ---------------------------------------------------------------- pcapng by hand

/**
 * Section 1 (little-endian): IDB 0 Ethernet (default microseconds, snaplen
 * 8), IDB 1 raw IP (if_tsresol 9: nanoseconds), a name resolution block to
 * skip, EPBs on both interfaces, an SPB (interface 0, cut to the snaplen),
 * and a custom block to skip. Section 2 (big-endian): IDB 0 Linux SLL at
 * 2^-10 s resolution, and one EPB.
 */
function handPcapng(): { bytes: Uint8Array; expected: Packet[]; blockEnds: number[]; packetEnds: number[] } {
  const eth = ether(0x0800, ip4(A, B, 17, udpDgram(1, 2, new Uint8Array(2))));
  const raw = ip4(A, B, 1, new Uint8Array(8));
  const sll = new Bytes(false).u16(0).u16(1).u16(6).raw(MAC_A).u16(0).u16(0x0800).raw(raw).bytes;
  const spbData = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  const blocks: [Uint8Array, boolean][] = [
    [shb(true), false],
    [idb(true, 1, 8), false],
    [idb(true, 101, 0, 9), false],
    // name resolution: one IPv4 record (10.0.0.1 "a"), end of records
    [block(true, 4, new Bytes(true).u16(1).u16(6).raw(A).u8(0x61, 0).u16(0).u16(0).bytes), false],
    [epb(true, 0, 1_700_000_000_000_001n, eth), true],
    [epb(true, 1, 1_700_000_000_000_000_007n, raw, 1000), true],
    [block(true, 3, new Bytes(true).u32(10).raw(spbData).u16(0).bytes), true],
    [block(true, 0x00000bad, new Bytes(true).u32(32473).u8(1, 2, 3).bytes), false],
    [shb(false), false],
    [idb(false, 113, 65535, 0x8a), false],
    [epb(false, 0, 3n * 1024n + 512n, sll), true],
  ];
  const blockEnds: number[] = [];
  const packetEnds: number[] = [];
  let end = 0;
  for (const [b, isPacket] of blocks) {
    end += b.length;
    blockEnds.push(end);
    if (isPacket) packetEnds.push(end);
  }
  return {
    bytes: concat(...blocks.map(([b]) => b)),
    blockEnds,
    packetEnds,
    expected: [
      { data: eth, origLen: eth.length, tsNs: 1_700_000_000_000_001_000n, linkType: 1, interfaceId: 0, netOff: 14 },
      { data: raw, origLen: 1000, tsNs: 1_700_000_000_000_000_007n, linkType: 101, interfaceId: 1, netOff: 0 },
      { data: spbData.subarray(0, 8), origLen: 10, tsNs: 0n, linkType: 1, interfaceId: 0, netOff: -1 },
      { data: sll, origLen: sll.length, tsNs: 3_500_000_000n, linkType: 113, interfaceId: 0, netOff: 16 },
    ],
  };
}

describe('pcapng written by hand', () => {
  test('two sections, two link types, an SPB and skipped blocks', () => {
    const { bytes, expected } = handPcapng();
    const it = parseCapture(bytes);
    const packets = [...it];
    assert.deepEqual(packets.map((p) => ({ ...p, data: Uint8Array.from(p.data) })), expected.map((p) => ({ ...p, data: Uint8Array.from(p.data) })));
    assert.deepEqual(it.info, {
      format: 'pcapng', byteOrder: 'big', versionMajor: 1, versionMinor: 0, section: 1,
      interfaces: [{ linkType: 113, snaplen: 65535, tsTicksPerSecond: 1024n, tsOffsetNs: 0n }],
      linkType: 113, snaplen: 65535, tsTicksPerSecond: 1024n,
    });
  });

  test('if_tsoffset adds whole seconds', () => {
    const idbOff = block(true, 1, new Bytes(true).u16(1).u16(0).u32(0).u16(14).u16(8).u32(100).u32(0).u16(0).u16(0).bytes);
    const frame = ether(0x0806, new Uint8Array(28));
    const [p] = [...parseCapture(concat(shb(true), idbOff, epb(true, 0, 5n, frame)))];
    assert.equal(p?.tsNs, 100_000_005_000n);
  });

  test('corrupt blocks name their offset', () => {
    const head = concat(shb(true), idb(true, 1, 0));
    const at = head.length;
    const frame = ether(0x0800, new Uint8Array(20));
    const good = epb(true, 0, 1n, frame);
    const cases: [string, Uint8Array, string][] = [
      ['length not a multiple of 4', new Bytes(true).u32(6).u32(30).bytes, `capture: offset ${at}: enhanced packet block: invalid block length 30`],
      ['length below 12', new Bytes(true).u32(4).u32(8).u32(0).bytes, `capture: offset ${at}: block type 0x00000004: invalid block length 8`],
      ['EPB below its minimum', block(true, 6, new Uint8Array(8)), `capture: offset ${at}: enhanced packet block: block length 20 below the minimum 32`],
      ['mismatched trailer', concat(good.subarray(0, good.length - 4), new Bytes(true).u32(good.length + 4).bytes), `capture: offset ${at}: enhanced packet block: trailing block length ${good.length + 4} does not match ${good.length}`],
      ['mismatched trailer on a skipped block', new Bytes(true).u32(5).u32(16).u32(0).u32(20).bytes, `capture: offset ${at}: block type 0x00000005: trailing block length 20 does not match 16`],
      ['undeclared interface', epb(true, 1, 1n, frame), `capture: offset ${at}: enhanced packet block for undeclared interface 1`],
      ['captured length overruns', block(true, 6, new Bytes(true).u32(0).u32(0).u32(0).u32(100).u32(100).u32(0).bytes), `capture: offset ${at}: enhanced packet block: captured length 100 overruns the block`],
      ['hostile huge length', new Bytes(true).u32(6).u32(0xfffffffc).u32(0).bytes, `capture: offset ${at}: enhanced packet block: block length 4294967292 exceeds the limit ${MAX_RECORD}`],
      ['hostile huge skipped block', new Bytes(true).u32(0x40000bad).u32(0xfffffffc).u32(0).bytes, `capture: offset ${at}: truncated block type 0x40000bad (4294967292 bytes declared)`],
    ];
    for (const [name, bad, message] of cases) {
      const { packets, error } = collect(concat(head, bad, good));
      assert.deepEqual(packets, [], name);
      assertEinval(error, message);
    }
    // The packet before the fault is yielded first.
    const { packets, error } = collect(concat(head, good, epb(true, 7, 1n, frame)));
    assert.equal(packets.length, 1);
    assertEinval(error, `capture: offset ${at + good.length}: enhanced packet block for undeclared interface 7`);
    // An SPB needs interface 0.
    assertEinval(collect(concat(shb(true), block(true, 3, new Uint8Array(4)))).error, 'capture: offset 28: simple packet block with no interface 0 declared');
    // Byte-order magic and version.
    const badBom = shb(true);
    badBom[8] = 0;
    assertEinval(collect(badBom).error, 'capture: offset 0: bad byte-order magic 0x003c2b1a');
    const v2 = block(true, 0x0a0d0d0a, new Bytes(true).u32(0x1a2b3c4d).u16(2).u16(0).u32(0).u32(0).bytes);
    assertEinval(collect(v2).error, 'capture: offset 0: unsupported pcapng version 2.0');
  });
});

// ---------------------------------------------------------------- writer

describe('pcap writer', () => {
  const frames = [
    ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 1, 0, SYN, 65535))),
    ether(0x0800, ip4(A, B, 17, udpDgram(1, 2, new Uint8Array(3))), [0x8100]),
    ether(0x86dd, ip6('2001:db8::1', '2001:db8::2', 59, new Uint8Array(0)), [0x88a8, 0x8100]),
    new Uint8Array(0),
  ];

  test('round trip, microseconds: sub-microsecond digits are dropped', () => {
    const input = frames.map((data, i) => ({ data, tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n }));
    const packets = [...parseCapture(writePcap(input, LINKTYPE.ETHERNET))];
    assert.deepEqual(packets, input.map(({ data, tsNs }) => ({
      data, origLen: data.length, tsNs: tsNs - (tsNs % 1000n), linkType: 1, interfaceId: 0,
      netOff: data.length === 0 ? -1 : 14 + 4 * [0, 1, 2, 0][frames.indexOf(data)]!,
    })));
    assert.deepEqual(packets.map((p) => p.netOff), [14, 18, 22, -1]);
  });

  test('round trip, nanoseconds, snaplen truncation and origLen', () => {
    const w = new PcapWriter(LINKTYPE.ETHERNET, { snaplen: 40, nanos: true });
    const bytes = concat(w.header(), ...frames.map((data, i) => w.record({ data, tsNs: BigInt(i) * 1_000_000_001n, origLen: data.length + 2 })));
    const it = parseCapture(bytes);
    const packets = [...it];
    assert.equal(it.info?.snaplen, 40);
    assert.equal(it.info?.tsTicksPerSecond, 1_000_000_000n);
    assert.deepEqual(packets.map((p) => [p.data, p.origLen, p.tsNs]), frames.map((f, i) => [f.subarray(0, 40), f.length + 2, BigInt(i) * 1_000_000_001n]));
  });

  test('the header bytes', () => {
    assert.deepEqual(new PcapWriter(113, { snaplen: 1500 }).header(), hexBytes('d4c3b2a1 0200 0400 00000000 00000000 dc050000 71000000'));
  });

  test('bad arguments are EINVAL', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => new PcapWriter(70000), /link type 70000 out of range/],
      [() => new PcapWriter(1, { snaplen: 0 }), /snaplen 0/],
      [() => new PcapWriter(1).record({ data: new Uint8Array(4), tsNs: -1n }), /non-negative/],
      [() => new PcapWriter(1).record({ data: new Uint8Array(4), tsNs: 1n << 63n }), /beyond 32-bit seconds/],
      [() => new PcapWriter(1).record({ data: new Uint8Array(4), tsNs: 0n, origLen: 3 }), /origLen 3/],
    ];
    for (const [f, re] of bad) assert.throws(f, (e) => (assertEinval(e, re), true));
  });
});

// ---------------------------------------------------------------- truncation and garbage

describe('truncated and corrupt input', () => {
  test('pcap cut at every byte offset', () => {
    const data = [ether(0x0806, new Uint8Array(28)), ether(0x0800, ip4(A, B, 1, new Uint8Array(8))), Uint8Array.of(7)];
    const bytes = writePcap(data.map((d, i) => ({ data: d, tsNs: BigInt(i) })), 1);
    const recordStarts = [24, 24 + 16 + data[0]!.length, 24 + 32 + data[0]!.length + data[1]!.length];
    const ends = [...recordStarts.slice(1), bytes.length];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { packets, error } = collect(bytes.subarray(0, cut));
      const whole = ends.filter((e) => e <= cut).length;
      assert.deepEqual(packets.map((p) => p.data), data.slice(0, whole), `cut ${cut}`);
      if (cut === 0) assertEinval(error, 'capture: empty file');
      else if (cut < 24) assertEinval(error, 'capture: offset 0: truncated file header');
      else if (cut === 24 || ends.includes(cut)) assert.equal(error, undefined, `cut ${cut}`);
      else {
        const at = recordStarts[whole]!;
        const what = cut - at < 16 ? 'truncated record header' : 'truncated packet data';
        assertEinval(error, new RegExp(`^capture: offset ${at}: ${what.replace(/[()]/g, '\\$&')}`));
      }
    }
  });

  test('pcapng cut at every byte offset', () => {
    const { bytes, expected, blockEnds, packetEnds } = handPcapng();
    for (let cut = 1; cut <= bytes.length; cut++) {
      const { packets, error } = collect(bytes.subarray(0, cut));
      const whole = packetEnds.filter((e) => e <= cut).length;
      assert.deepEqual(packets.map((p) => Array.from(p.data)), expected.slice(0, whole).map((p) => Array.from(p.data)), `cut ${cut}`);
      if (blockEnds.includes(cut)) {
        assert.equal(error, undefined, `cut ${cut}`);
      } else {
        const at = [0, ...blockEnds].filter((e) => e < cut).pop()!;
        assertEinval(error, new RegExp(`^capture: offset ${at}: truncated `));
      }
    }
  });

  test('hostile pcap record length', () => {
    const bytes = concat(writePcap([{ data: Uint8Array.of(1), tsNs: 0n }], 1), hexBytes('00000000 00000000 ffffffff ffffffff'));
    const { packets, error } = collect(bytes);
    assert.equal(packets.length, 1);
    assertEinval(error, 'capture: offset 41: captured length 4294967295 exceeds the limit 262144');
  });

  test('bad magic and garbage', () => {
    assertEinval(collect(new Uint8Array(0)).error, 'capture: empty file');
    assertEinval(collect(Uint8Array.of(0xd4, 0xc3)).error, 'capture: offset 0: truncated file header');
    assertEinval(collect(hexBytes('7f454c46 02010100')).error, 'capture: offset 0: unrecognised magic 0x7f454c46');
    const rnd = prng(1);
    for (let n = 1; n < 300; n++) {
      const b = Uint8Array.from({ length: n }, () => rnd() & 0xff);
      assertEinval(collect(b).error, /^capture: offset 0: /);
    }
  });

  test('random corruption of valid captures: packets or EINVAL, nothing else', () => {
    const rnd = prng(7);
    const sources = [handPcapng().bytes, writePcap([1, 2, 3].map((i) => ({ data: new Uint8Array(i * 10).fill(i), tsNs: BigInt(i) })), 1)];
    for (const src of sources) {
      for (let round = 0; round < 2000; round++) {
        const b = Uint8Array.from(src);
        for (let k = 1 + (rnd() % 3); k > 0; k--) b[rnd() % b.length] = rnd() & 0xff;
        const { error } = collect(b.subarray(0, b.length - (rnd() % 8)));
        if (error !== undefined) assertEinval(error, /^capture: /);
      }
    }
  });
});

// ---------------------------------------------------------------- streaming

describe('streaming reader', () => {
  const dir = tempDir('tsbpf-pcap-');

  async function drain(it: AsyncIterable<Packet>): Promise<Packet[]> {
    const out: Packet[] = [];
    for await (const p of it) out.push(p);
    return out;
  }

  async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
  }

  test('a file in 7-byte chunks gives what the in-memory parser gives', async () => {
    const { bytes } = handPcapng();
    const path = join(dir, 'hand.pcapng');
    writeFileSync(path, bytes);
    const stream = readCaptureFile(path, { chunkSize: 7 });
    const streamed = await drain(stream);
    const copy = (ps: Packet[]): unknown => ps.map((p) => ({ ...p, data: Array.from(p.data) }));
    assert.deepEqual(copy(streamed), copy([...parseCapture(bytes)]));
    assert.equal(stream.info?.section, 1);
    assert.equal(streamed.length, 4);
  });

  test('async iterables of tiny chunks and a whole Uint8Array', async () => {
    const bytes = writePcap([5, 300, 1].map((n, i) => ({ data: new Uint8Array(n).fill(i), tsNs: BigInt(i) * 1000n })), 1);
    const expected = [...parseCapture(bytes)];
    for (const size of [1, 3, 7, 64]) assert.deepEqual(await drain(readCapture(chunked(bytes, size))), expected, `chunk ${size}`);
    assert.deepEqual(await drain(readCapture(bytes)), expected);
  });

  test('errors come after the packets before them, as BpfErrors', async () => {
    const bytes = writePcap([{ data: Uint8Array.of(1, 2), tsNs: 0n }], 1);
    const got: Packet[] = [];
    await assert.rejects(async () => {
      for await (const p of readCapture(chunked(concat(bytes, Uint8Array.of(0, 0, 0)), 5))) got.push(p);
    }, (e) => (assertEinval(e, 'capture: offset 42: truncated record header'), true));
    assert.equal(got.length, 1);
    await assert.rejects(drain(readCaptureFile(join(dir, 'missing.pcap'))), (e) => e instanceof BpfError && e.code === 'ENOENT');
    await assert.rejects(drain(readCapture(chunked(new Uint8Array(0), 1))), (e) => (assertEinval(e, 'capture: empty file'), true));
    assert.throws(() => readCapture(42 as unknown as Uint8Array), (e) => (assertEinval(e, 'capture: source is not a Uint8Array, a ReadableStream or an async iterable of chunks'), true));
    // the main entry reads no files: a path is refused with where to go instead
    assert.throws(() => readCapture('x.pcap' as unknown as Uint8Array), (e) => (assertEinval(e, `capture: "x.pcap": readCapture takes bytes or a stream; read a file with readCaptureFile from 'tsbpf/node'`), true));
    assert.throws(() => readCaptureFile(join(dir, 'x'), { chunkSize: 0 }), (e) => (assertEinval(e, 'capture: chunk size 0 is not a positive integer'), true));
    await assert.rejects(drain(readCapture(Readable.from(['text']))), (e) => (assertEinval(e, 'capture: source yielded a chunk that is not a Uint8Array'), true));
  });

  test('a web ReadableStream and a Node Readable give what the in-memory parser gives', async () => {
    const bytes = writePcap([5, 300, 1].map((n, i) => ({ data: new Uint8Array(n).fill(i), tsNs: BigInt(i) * 1000n })), 1);
    const expected = [...parseCapture(bytes)];
    const web = (size: number): ReadableStream<Uint8Array> => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (at >= bytes.length) return c.close();
          c.enqueue(bytes.slice(at, at + size));
          at += size;
        },
      });
    };
    for (const size of [1, 13, 1000]) assert.deepEqual(await drain(readCapture(web(size))), expected, `web chunk ${size}`);
    // a Node Readable yields Buffers: packets are plain Uint8Arrays all the same
    const node = Readable.from(Array.from({ length: Math.ceil(bytes.length / 9) }, (_, i) => Buffer.from(bytes.subarray(i * 9, i * 9 + 9))));
    assert.deepEqual(await drain(readCapture(node)), expected);
  });

  test('a web stream left early is cancelled; one read to the end is not', async () => {
    const bytes = writePcap([1, 2, 3].map(() => ({ data: Uint8Array.of(9), tsNs: 0n })), 1);
    let cancelled: unknown = 'no';
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    for await (const p of readCapture(stream)) {
      assert.equal(p.data[0], 9);
      break;
    }
    assert.equal(cancelled, undefined);
    assert.equal(stream.locked, false);
    let cancels = 0;
    const whole = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
      cancel() {
        cancels++;
      },
    });
    assert.equal((await drain(readCapture(whole))).length, 3);
    assert.equal(cancels, 0);
    assert.equal(whole.locked, false);
  });

  test('packets come as their records arrive, before the stream ends (a live pipe)', { timeout: 5000 }, async () => {
    const w = new PcapWriter(LINKTYPE.ETHERNET);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    async function* live(): AsyncGenerator<Uint8Array> {
      yield w.header();
      yield w.record({ data: Uint8Array.of(1), tsNs: 0n });
      yield w.record({ data: Uint8Array.of(2), tsNs: 0n });
      // the writer is still running: the reader must not wait for more to hand out the two
      await gate;
      yield w.record({ data: Uint8Array.of(3), tsNs: 0n });
    }
    const reading = (async () => {
      for await (const p of readCapture(live())) {
        seen.push(p.data[0]!);
        if (seen.length === 2) {
          assert.deepEqual(seen, [1, 2]);
          release();
        }
      }
    })();
    await reading;
    assert.deepEqual(seen, [1, 2, 3]);
  });

  test('breaking out early closes the source', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield writePcap([1, 2, 3].map(() => ({ data: Uint8Array.of(9), tsNs: 0n })), 1);
        yield new Uint8Array(100);
      } finally {
        closed = true;
      }
    }
    for await (const p of readCapture(source())) {
      assert.equal(p.data[0], 9);
      break;
    }
    assert.equal(closed, true);
  });

  test('20k packets from a file in 64 KiB chunks, each packet a view of a chunk-sized buffer', async () => {
    const path = join(dir, 'big.pcap');
    const w = new PcapWriter(LINKTYPE.ETHERNET, { nanos: true });
    const fd = openSync(path, 'w');
    writeSync(fd, w.header());
    const N = 20_000;
    let total = 24;
    for (let i = 0; i < N; i++) {
      const frame = ether(0x0800, ip4(A, B, 17, udpDgram(1000, 2000, new Uint8Array(i % 1400))));
      new DataView(frame.buffer).setUint32(frame.length - 4 >= 42 ? 42 : 30, i);
      const rec = w.record({ data: frame, tsNs: BigInt(i) * 1_000_001n });
      total += rec.length;
      writeSync(fd, rec);
    }
    closeSync(fd);
    assert.ok(total > 10 * 1024 * 1024, `capture is ${total} bytes`);
    let n = 0;
    let maxBacking = 0;
    for await (const p of readCaptureFile(path, { chunkSize: 64 * 1024 })) {
      assert.equal(p.tsNs, BigInt(n) * 1_000_001n);
      assert.equal(p.data.length, 42 + (n % 1400));
      assert.equal(p.netOff, 14);
      // Packets are views of the 64 KiB reads (or of one record's copy when
      // it spans two): nothing holds the whole file.
      maxBacking = Math.max(maxBacking, p.data.buffer.byteLength);
      n++;
    }
    assert.equal(n, N);
    assert.ok(maxBacking <= 64 * 1024, `largest backing buffer ${maxBacking}`);
  });
});

// ---------------------------------------------------------------- summaries

describe('summaries', () => {
  const tcpOpts = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7];
  const cases: [string, Uint8Array, number, string][] = [
    ['TCP SYN', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 1, 0, SYN, 65535))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [S], seq 1, win 65535, length 0'],
    ['TCP SYN with options', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 1, 0, SYN, 65535, undefined, tcpOpts))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [S], seq 1, win 65535, options [mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7], length 0'],
    ['TCP SYN-ACK', ether(0x0800, ip4(B, A, 6, tcpSeg(443, 49152, 1000, 2, SYN | ACK, 65535))), 1,
      'IP 192.168.1.20.443 > 10.0.0.1.49152: Flags [S.], seq 1000, ack 2, win 65535, length 0'],
    ['TCP ACK', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 2, 1001, ACK, 502))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [.], ack 1001, win 502, length 0'],
    ['TCP PSH-ACK with data', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 2, 1001, PSH | ACK, 502, new Uint8Array(10)))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [P.], seq 2:12, ack 1001, win 502, length 10'],
    ['TCP FIN-ACK', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 12, 1001, FIN | ACK, 502))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [F.], seq 12, ack 1001, win 502, length 0'],
    ['TCP RST', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 12, 0, RST, 0))), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: Flags [R], seq 12, win 0, length 0'],
    ['UDP', ether(0x0800, ip4(A, [224, 0, 0, 251], 17, udpDgram(5353, 5353, new Uint8Array(12)))), 1,
      'IP 10.0.0.1.5353 > 224.0.0.251.5353: UDP, length 12'],
    ['ICMP echo request', ether(0x0800, ip4(A, [10, 0, 0, 2], 1, new Bytes(false).u8(8, 0).u16(0).u16(1).u16(2).raw(new Uint8Array(56)).bytes)), 1,
      'IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 2, length 64'],
    ['ICMP echo reply, raw IP', ip4([10, 0, 0, 2], A, 1, new Bytes(false).u8(0, 0).u16(0).u16(1).u16(2).bytes), LINKTYPE.RAW,
      'IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 2, length 8'],
    ['ARP request', ether(0x0806, new Bytes(false).u16(1).u16(0x0800).u8(6, 4).u16(1).raw(MAC_A).raw(A).raw(new Uint8Array(6)).raw([10, 0, 0, 2]).bytes), 1,
      'ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28'],
    ['ARP reply, padded to 60', ether(0x0806, new Bytes(false).u16(1).u16(0x0800).u8(6, 4).u16(2).raw(MAC_B).raw([10, 0, 0, 2]).raw(MAC_A).raw(A).raw(new Uint8Array(18)).bytes), 1,
      'ARP, Reply 10.0.0.2 is-at 66:77:88:99:aa:bb, length 46'],
    ['IPv6 TCP', ether(0x86dd, ip6('2001:db8::1', '2001:db8::2', 6, tcpSeg(1234, 80, 5, 6, SYN | ACK, 1000))), 1,
      'IP6 2001:db8::1.1234 > 2001:db8::2.80: Flags [S.], seq 5, ack 6, win 1000, length 0'],
    ['IPv6 UDP behind a hop-by-hop header', ether(0x86dd, ip6('fe80::1', 'ff02::1:3', 0, concat(Uint8Array.of(17, 0, 1, 4, 0, 0, 0, 0), udpDgram(5355, 5355, new Uint8Array(20))))), 1,
      'IP6 fe80::1.5355 > ff02::1:3.5355: UDP, length 20'],
    ['ICMPv6 echo over Linux SLL', concat(new Bytes(false).u16(4).u16(1).u16(6).raw(MAC_A).u16(0).u16(0x86dd).bytes, ip6('::1', '::1', 58, new Bytes(false).u8(128, 0).u16(0).u16(7).u16(1).bytes)), LINKTYPE.LINUX_SLL,
      'IP6 ::1 > ::1: ICMP6, echo request, id 7, seq 1, length 8'],
    ['VLAN-tagged UDP', ether(0x0800, ip4(A, B, 17, udpDgram(1, 2, new Uint8Array(0))), [0x8100]), 1,
      'IP 10.0.0.1.1 > 192.168.1.20.2: UDP, length 0'],
    ['GRE: unknown IP protocol', ether(0x0800, ip4(A, B, 47, new Uint8Array(20))), 1,
      'IP 10.0.0.1 > 192.168.1.20: ip-proto-47 20'],
    ['unknown ethertype', ether(0x88cc, new Uint8Array(46)), 1, 'ethertype 0x88cc, length 60'],
    ['truncated IPv4 header', ether(0x0800, ip4(A, B, 6, tcpSeg(1, 2, 3, 4, SYN, 5))).subarray(0, 14 + 19), 1, 'IP [|ip]'],
    ['truncated TCP header', ether(0x0800, ip4(A, B, 6, tcpSeg(49152, 443, 1, 0, SYN, 65535))).subarray(0, 14 + 20 + 10), 1,
      'IP 10.0.0.1.49152 > 192.168.1.20.443: [|tcp]'],
    ['truncated Ethernet header', new Uint8Array(13), 1, '[|ether]'],
    ['unknown link type', new Uint8Array(5), 147, 'linktype 147, length 5'],
  ];
  for (const [name, frame, linkType, expected] of cases) {
    test(name, () => assert.equal(summarize(frame, linkType), expected));
  }

  test('IPv6 addresses in canonical form', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'],
    ];
    for (const [input, expected] of cases) assert.equal(formatIpv6(Uint8Array.from(v6addr(input))), expected, input);
  });

  test('never throws on random bytes', () => {
    const rnd = prng(3);
    for (let i = 0; i < 5000; i++) {
      const n = rnd() % 80;
      const b = Uint8Array.from({ length: n }, () => rnd() & 0xff);
      // Steer a share of them into the IP and ARP paths.
      if (n > 14 && i % 2) b.set([0x08, [0x00, 0x06][i % 4 >> 1]!], 12);
      if (n > 0 && i % 3 === 0) b[0] = 0x45;
      for (const lt of [1, 101, 113, 276, 9]) assert.equal(typeof summarize(b, lt), 'string');
    }
  });
});
