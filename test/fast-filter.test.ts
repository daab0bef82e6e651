/**
 * The fast path of `tsbpf filter 'EXPR' CAPTURE` (src/cli/fast-filter.ts,
 * classic-wasm.ts) against the general one. Verdicts: the WebAssembly
 * filter's equal the checked interpreter's (the converted program loaded
 * without the verifier) and the verified program's, for every expression of
 * the differential corpus over its frames on every link type, and for
 * random classic programs over random and real frames; a program the fast
 * path takes is one the verifier accepts. Commands: for captures of every
 * shape the fast path answers (pcap in both byte orders and resolutions,
 * pcapng, truncated and oversized records, empty captures) and every output
 * (-w FILE, -w -, lines, --json, --count), the fast path's output file,
 * standard output, standard error and status equal the general path's
 * (`--engine interpreter`, which the fast path declines), the throughput
 * line's timings aside; and what it declines it leaves untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileFilter } from '../src/filter/index.js';
import { encodeClassic } from '../src/cbpf/index.js';
import type { SockFilter } from '../src/cbpf/index.js';
import { checkClassic } from '../src/cbpf/check.js';
import { BpfSystem } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { PacketRunner } from '../src/api/packets.js';
import { networkOffset } from '../src/pcap/linktype.js';
import { writePcap } from '../src/pcap/index.js';
import { classicModule, fastFilter } from '../src/cli/fast-filter.js';
import type { ReadAt, ReadOptions } from '../src/cli/fast-filter.js';
import { read } from 'node:fs';
import { fastPathRefusal } from '../src/cli/classic-wasm.js';
import type { CliIo } from '../src/cli/io.js';
import { spawnTsbpf, tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';
import { bundleFresh, loadBundle } from '../src/cli/entry.js';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { ETHER_EXPRS, LINK_EXPRS } from './filter-exprs.js';
import { etherFrames, linkFrames, prng } from './filter-frames.js';

/** Each frame's verdict from the fast path's module, every frame in memory between bytes it must not read. */
function fastVerdicts(prog: readonly SockFilter[], frames: readonly Uint8Array[], linkType: number): number[] | undefined {
  const total = frames.reduce((n, f) => n + f.length + 64, 64);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) + 1 });
  const u8 = new Uint8Array(memory.buffer);
  u8.fill(0xa5);
  const at: number[] = [];
  let p = 64;
  for (const f of frames) {
    u8.set(f, p);
    at.push(p);
    p += f.length + 64;
  }
  const m = classicModule(prog, memory, true, linkType);
  if (m === undefined) return undefined;
  return frames.map((f, i) => m.filter(at[i]!, f.length) >>> 0);
}

/** Each frame's verdict from the runtime: the checked interpreter (unverified), or the verified program's default engine. */
function runtimeVerdicts(prog: readonly SockFilter[], frames: readonly Uint8Array[], linkType: number, verify: boolean): number[] {
  const sys = new BpfSystem();
  const p = Program.load(sys, { type: 'socket_filter', insns: encodeClassic(prog), classic: true, verify });
  const runner = new PacketRunner(sys, p.fd);
  return frames.map((f) => runner.run(f, networkOffset(f, linkType)));
}

/** Whether the expression compiles for the link type (the corpus holds some that libpcap refuses too). */
function compiles(expr: string, linkType: number): boolean {
  try {
    compileFilter(expr, linkType);
    return true;
  } catch {
    return false;
  }
}

/** Every expression of the differential corpus on a link type, over its frames: the same verdicts three ways. */
function corpus(exprs: readonly string[], linkType: number, frames: readonly Uint8Array[]): number {
  let fast = 0;
  for (const expr of exprs) {
    const prog = compileFilter(expr, linkType);
    const got = fastVerdicts(prog, frames, linkType);
    if (got === undefined) continue;
    fast++;
    assert.deepEqual(got, runtimeVerdicts(prog, frames, linkType, false), `${expr} (link type ${linkType}): against the checked interpreter`);
    assert.deepEqual(got, runtimeVerdicts(prog, frames, linkType, true), `${expr} (link type ${linkType}): against the verified program`);
  }
  return fast;
}

test('fast path: the differential corpus on Ethernet, the same verdicts as the checked runtime', () => {
  const frames = etherFrames(250, 3);
  const exprs = ETHER_EXPRS.filter((e) => compiles(e, 1));
  const fast = corpus(exprs, 1, frames);
  // every expression of the corpus is one the fast path takes
  assert.equal(fast, exprs.length);
});

test('fast path: the link-type corpus on every other link type, the same verdicts as the checked runtime', () => {
  for (const lt of [0, 101, 113, 228, 229, 276]) {
    const frames = linkFrames(lt, 200, 5);
    const exprs = LINK_EXPRS.filter((e) => compiles(e, lt));
    assert.equal(corpus(exprs, lt, frames), exprs.length, `link type ${lt}`);
  }
});

/** Classic codes, with k and jumps from a PRNG: loads at every kind of offset (negative ones too), division by X, scratch memory. */
function randomClassic(rnd: () => number): SockFilter[] {
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const n = 1 + int(24);
  const prog: SockFilter[] = [];
  const ks = (): number => pick([
    int(16), int(80), int(4) * 4, 12, 14, 23, 0xffffffff, 0x80000000, 31, 32, 33,
    (-0x100000 + int(40)) >>> 0, (-0x200000 + int(40)) >>> 0, (-0x100000 - 1) >>> 0, (-0x1000 + 40) >>> 0, int(0x100000000),
  ]);
  for (let i = 0; i < n; i++) {
    const left = n - i; // instructions after this one, the final ret included
    const r = rnd();
    let f: SockFilter;
    if (r < 0.25) f = { code: pick([0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0xb1, 0x80, 0x81]), jt: 0, jf: 0, k: ks() };
    else if (r < 0.45) f = { code: pick([0x04, 0x14, 0x24, 0x34, 0x94, 0x44, 0x54, 0xa4, 0x64, 0x74, 0x0c, 0x1c, 0x2c, 0x3c, 0x9c, 0x4c, 0x5c, 0xac, 0x6c, 0x7c, 0x84]), jt: 0, jf: 0, k: pick([1, 2, 3, 7, 31, 32, 33, 0xffffffff, int(0x100000000) || 1]) };
    else if (r < 0.7) f = { code: pick([0x15, 0x25, 0x35, 0x45, 0x1d, 0x2d, 0x3d, 0x4d]), jt: int(Math.min(left, 6)), jf: rnd() < 0.6 ? 0 : int(Math.min(left, 6)), k: pick([0, 1, 6, 17, 0x800, 0x86dd, 0x80000000, 0xffffffff, int(256)]) };
    // most jumps fall through somewhere: code no path reaches is refused (the verifier's unreachable insn)
    else if (r < 0.75) f = { code: 0x05, jt: 0, jf: 0, k: rnd() < 0.7 ? 0 : int(Math.min(left, 3)) };
    else if (r < 0.85) f = { code: pick([0x00, 0x01, 0x07, 0x87]), jt: 0, jf: 0, k: pick([0, 1, 14, 0xffffffff, int(1 << 16)]) };
    else if (r < 0.98) f = { code: pick([0x02, 0x03, 0x60, 0x61]), jt: 0, jf: 0, k: int(4) };
    else f = { code: pick([0x16, 0x06]), jt: 0, jf: 0, k: pick([0, 1, 0xffff, 0x40000, 0xffffffff]) };
    prog.push(f);
  }
  prog.push({ code: pick([0x16, 0x06]), jt: 0, jf: 0, k: pick([0, 0x40000, 0xffffffff, int(100)]) });
  return prog;
}

function accepted(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

test('fast path: random classic programs give the checked runtime\'s verdicts, and only programs the verifier accepts are taken', () => {
  const frames = [...etherFrames(40, 9), new Uint8Array(0), Uint8Array.from([0x45]), new Uint8Array(70).fill(0xff), new Uint8Array(64).fill(0)];
  let taken = 0;
  let checked = 0;
  fc.assert(fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => {
    const prog = randomClassic(prng(seed));
    if (!accepted(() => checkClassic(prog))) return;
    checked++;
    const refusal = fastPathRefusal(prog);
    const loads = accepted(() => Program.load(new BpfSystem(), { type: 'socket_filter', insns: encodeClassic(prog), classic: true }));
    if (refusal === undefined) assert.ok(loads, `the fast path takes a program the verifier refuses: ${JSON.stringify(prog)}`);
    const got = fastVerdicts(prog, frames, 1);
    assert.equal(got === undefined, refusal !== undefined);
    if (got === undefined) return;
    taken++;
    assert.deepEqual(got, runtimeVerdicts(prog, frames, 1, false), JSON.stringify(prog));
  }), { numRuns: 600, seed: 18 });
  // the generator makes programs of both kinds, and mostly ones the fast path takes
  assert.ok(checked > 150, `${checked} programs passed the classic checker`);
  assert.ok(taken > checked / 2 && taken < checked, `${taken} of ${checked} taken`);
});

test('fast path: what it refuses and why', () => {
  const ret = { code: 0x06, jt: 0, jf: 0, k: 1 };
  // an unreachable instruction (the converted program's verifier refuses it; bpf_check_classic does not)
  assert.equal(fastPathRefusal([{ code: 0x05, jt: 0, jf: 0, k: 1 }, ret, ret]), 'converted instruction 4 is unreachable');
  // an ancillary load other than A ^= X
  assert.equal(fastPathRefusal([{ code: 0x20, jt: 0, jf: 0, k: (-0x1000 + 0) >>> 0 }, ret]),
    "not converted: insn 0: ancillary load SKF_AD_PROTOCOL needs an sk_buff, which tsbpf's socket filter context does not have");
  assert.equal(fastPathRefusal([{ code: 0x20, jt: 0, jf: 0, k: (-0x1000 + 40) >>> 0 }, ret]), undefined);
  // 16 independent diamonds: 2^16 paths, more than the verifier may process
  const diamonds: SockFilter[] = [];
  for (let i = 0; i < 16; i++) diamonds.push({ code: 0x30, jt: 0, jf: 0, k: i }, { code: 0x15, jt: 0, jf: 1, k: 1 }, { code: 0x04, jt: 0, jf: 0, k: 1 });
  diamonds.push(ret);
  assert.equal(fastPathRefusal(diamonds), 'more than 32768 instructions over all paths');
  assert.equal(fastPathRefusal([{ code: 0x99, jt: 0, jf: 0, k: 0 }, ret]), 'not converted: insn 0: unknown opcode 0x99');
});

// ---- the command, fast against general ----

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  out?: string;
}

const timings = (s: string): string => s.replace(/in \d+\.\d+ s: [\d.]+[kM]? packets\/s, [\d.]+ MB\/s/g, 'in T s: R packets/s, R MB/s');

/** The fast path directly (it must take the command), writing its -w file to fast.pcap. */
async function fastRun(dir: string, args: string[], withOut: boolean, opts: ReadOptions = {}): Promise<Run> {
  const outFast = join(dir, 'fast.pcap');
  rmSync(outFast, { force: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const io: CliIo = {
    stdout: { write: (c) => out.push(Buffer.from(c)) },
    stderr: { write: (c) => err.push(Buffer.from(c)) },
    stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') },
  };
  const status = await fastFilter([...args, ...(withOut ? ['-w', outFast] : [])], io, opts);
  assert.notEqual(status, undefined, `the fast path declined: ${args.join(' ')}`);
  const fast: Run = { status: status!, stdout: Buffer.concat(out).toString('latin1'), stderr: timings(Buffer.concat(err).toString('utf8')) };
  if (withOut && existsSync(outFast)) fast.out = readFileSync(outFast).toString('hex');
  return fast;
}

/** The fast path directly, and the general path (`--engine interpreter`), each writing its own -w file. */
async function both(dir: string, args: string[], withOut: boolean, opts: ReadOptions = {}): Promise<[Run, Run]> {
  const outSlow = join(dir, 'slow.pcap');
  rmSync(outSlow, { force: true });
  const fast = await fastRun(dir, args, withOut, opts);
  const r = await tsbpf(['filter', ...args, ...(withOut ? ['-w', outSlow] : []), '--engine', 'interpreter']);
  const slow: Run = { status: r.status, stdout: Buffer.from(r.stdoutBytes).toString('latin1'), stderr: timings(r.stderr) };
  if (withOut && existsSync(outSlow)) slow.out = readFileSync(outSlow).toString('hex');
  return [fast, slow];
}

/** A pcapng file: a section (either byte order), interfaces (link type, snaplen, if_tsresol), enhanced and simple packet blocks. */
function pcapng(le: boolean, ifaces: { linkType: number; snaplen: number; tsresol?: number }[], packets: { kind: 'epb' | 'spb'; iface?: number; ts?: bigint; data: Uint8Array; orig?: number }[]): Uint8Array {
  const blocks: number[] = [];
  const block = (type: number, body: number[]): void => {
    while (body.length % 4) body.push(0);
    const len = 12 + body.length;
    blocks.push(...u32(type), ...u32(len), ...body, ...u32(len));
  };
  const u32 = (v: number): number[] => {
    const b = [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
    return le ? b : b.reverse();
  };
  const u16 = (v: number): number[] => (le ? [v & 255, v >>> 8] : [v >>> 8, v & 255]);
  block(0x0a0d0d0a, [...u32(0x1a2b3c4d), ...u16(1), ...u16(0), ...u32(0xffffffff), ...u32(0xffffffff)]);
  for (const i of ifaces) block(1, [...u16(i.linkType), 0, 0, ...u32(i.snaplen), ...(i.tsresol === undefined ? [] : [...u16(9), ...u16(1), i.tsresol, 0, 0, 0, 0, 0, 0, 0])]);
  // a block the reader skips
  block(0x00000bad, [1, 2, 3, 4]);
  for (const p of packets) {
    if (p.kind === 'spb') block(3, [...u32(p.orig ?? p.data.length), ...p.data]);
    else block(6, [...u32(p.iface ?? 0), ...u32(Number((p.ts ?? 0n) >> 32n)), ...u32(Number((p.ts ?? 0n) & 0xffffffffn)), ...u32(p.data.length), ...u32(p.orig ?? p.data.length), ...p.data]);
  }
  return Uint8Array.from(blocks);
}

/** A classic pcap file in either byte order and resolution, with the records' own timestamps. */
function pcapFile(le: boolean, nanos: boolean, linkType: number, recs: { sec: number; frac: number; data: Uint8Array; orig?: number }[], snaplen = 65535): Uint8Array {
  const size = 24 + recs.reduce((n, r) => n + 16 + r.data.length, 0);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, snaplen, le);
  dv.setUint32(20, linkType, le);
  let at = 24;
  for (const r of recs) {
    dv.setUint32(at, r.sec, le);
    dv.setUint32(at + 4, r.frac, le);
    dv.setUint32(at + 8, r.data.length, le);
    dv.setUint32(at + 12, r.orig ?? r.data.length + 3, le);
    b.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return b;
}

test('fast path: the command\'s output, lines, counts, errors and status are the general path\'s', async () => {
  const dir = tempDir('tsbpf-fast-');
  try {
    const frames = etherFrames(300, 21);
    const rnd = prng(4);
    const recs = frames.map((data, i) => ({ sec: 1_700_000_000 + i, frac: Math.floor(rnd() * 1_000_000), data }));
    const files: Record<string, Uint8Array> = {
      'le-us.pcap': pcapFile(true, false, 1, recs),
      'be-ns.pcap': pcapFile(false, true, 1, recs.map((r) => ({ ...r, frac: r.frac * 1000 + 7 }))),
      // microseconds past a second carry into the seconds, as the reader's tsNs does
      'carry.pcap': pcapFile(true, false, 1, recs.slice(0, 20).map((r) => ({ ...r, frac: 1_000_000 + r.frac * 3 }))),
      'empty.pcap': pcapFile(true, false, 1, []),
      'raw.pcap': pcapFile(true, false, 101, linkFrames(101, 150, 2).map((data, i) => ({ sec: i, frac: i, data }))),
      'sll.pcap': pcapFile(false, false, 113, linkFrames(113, 150, 3).map((data, i) => ({ sec: i, frac: i, data }))),
      'big.pcap': writePcap(Array.from({ length: 3000 }, (_, i) => ({ data: frames[i % frames.length]!, tsNs: BigInt(i) * 1_000_001n })), 1),
      'ng.pcapng': pcapng(true, [{ linkType: 1, snaplen: 0, tsresol: 9 }, { linkType: 1, snaplen: 0 }],
        frames.slice(0, 120).map((data, i) => (i % 7 === 3 ? { kind: 'spb' as const, data } : { kind: 'epb' as const, iface: i % 2, ts: BigInt(i) * 123_456_789n, data }))),
      'ng-be.pcapng': pcapng(false, [{ linkType: 1, snaplen: 60, tsresol: 0x86 }], frames.slice(0, 120).map((data, i) => ({ kind: 'epb' as const, ts: BigInt(i) * 1000n, data }))),
    };
    // bigger than the 256 KiB the fast path reads at a time: records and blocks straddle its chunks
    const many = Array.from({ length: 12000 }, (_, i) => frames[i % frames.length]!);
    files['chunks.pcap'] = pcapFile(false, false, 1, many.map((data, i) => ({ sec: i, frac: i * 7, data })));
    files['chunks.pcapng'] = pcapng(true, [{ linkType: 1, snaplen: 0 }], many.map((data, i) => ({ kind: 'epb' as const, ts: BigInt(i) * 999n, data })));
    // runs of enhanced packet blocks the module reads itself: big-endian, two interfaces of one unit, a simple packet block between
    files['ng-uniform-be.pcapng'] = pcapng(false, [{ linkType: 1, snaplen: 0, tsresol: 9 }, { linkType: 1, snaplen: 0, tsresol: 9 }],
      many.slice(0, 3000).map((data, i) => (i % 500 === 7 ? { kind: 'spb' as const, data } : { kind: 'epb' as const, iface: i % 2, ts: 1_733_400_000_123_456_789n + BigInt(i) * 987_654_321n, data })));
    files['ng-ms.pcapng'] = pcapng(true, [{ linkType: 1, snaplen: 0, tsresol: 3 }], many.slice(0, 2000).map((data, i) => ({ kind: 'epb' as const, ts: 1_733_400_000_000n + BigInt(i * 17), data })));
    const chunked = files['chunks.pcap']!;
    files['chunks-cut.pcap'] = chunked.subarray(0, chunked.length - 300);
    // a record larger than a chunk (the file's snaplen allows it)
    const jumbo = new Uint8Array(300_000);
    jumbo.set(frames.find((f) => f.length > 40 && f[12] === 8)!);
    files['jumbo.pcap'] = pcapFile(true, false, 1, [...recs.slice(0, 50), { sec: 9, frac: 9, data: jumbo }, ...recs.slice(50, 100)], 400_000);
    const le = files['le-us.pcap']!;
    // cut inside a record's data, inside a record header; a record over the limit
    files['cut-data.pcap'] = le.subarray(0, le.length - 5);
    files['cut-head.pcap'] = le.subarray(0, 24 + 16 + frames[0]!.length + 9);
    const over = pcapFile(true, false, 1, recs.slice(0, 30));
    new DataView(over.buffer).setUint32(24 + 16 + frames[0]!.length + 8, 300000, true);
    files['over.pcap'] = over;
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);

    const cases: [string[], boolean][] = [];
    // the jumbo record is cut to 262144 bytes by the verdict (libpcap's snaplen), as the general path's writer would cut it
    for (const name of Object.keys(files)) {
      cases.push([['tcp port 80 or udp', join(dir, name)], true]);
      cases.push([['ip', join(dir, name), '--count'], false]);
    }
    const le1 = join(dir, 'le-us.pcap');
    cases.push(
      [['ip[0] & 0xf > 5 or tcp[13] = 2', le1], false],
      [['vlan and udp', le1, '--json'], false],
      [['-e', 'icmp or arp', le1], false],
      [['tcp', le1, '--count', '--json'], false],
      [['tcp', le1, '-l'], false],
      [['udp', join(dir, 'ng.pcapng'), '--json'], false],
      [['udp', join(dir, 'ng-be.pcapng')], false],
      [['len > 60', join(dir, 'cut-data.pcap')], false],
      [['ip6', join(dir, 'over.pcap'), '--json'], false],
      [['tcp', join(dir, 'raw.pcap'), '--count', '--json'], false],
      [['ip', join(dir, 'raw.pcap'), '--linktype', 'ethernet'], true],
      // a snaplen-like verdict: ether[12:2] as the bytes to keep, some shorter than the packet
      [['ether[12:2] > 0', le1], true],
      [['ip', join(dir, 'jumbo.pcap')], false],
      [['ip', join(dir, 'jumbo.pcap'), '--count'], false],
      [['tcp', join(dir, 'chunks.pcapng'), '--json'], false],
    );
    for (const [args, withOut] of cases) {
      const [fast, slow] = await both(dir, args, withOut);
      assert.deepEqual(fast, slow, args.join(' '));
    }
    // -w -: the capture on standard output
    const [fast, slow] = await both(dir, ['tcp', le1, '-w', '-'], false);
    assert.deepEqual(fast, slow);
    assert.equal(fast.stdout.slice(0, 4), '\x4d\x3c\xb2\xa1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fast path: the read-ahead (pcap and pcapng): records straddling the two halves, tiny and huge records, short reads, the end of the file at a half\'s end', async () => {
  const dir = tempDir('tsbpf-fast-');
  try {
    const frames = etherFrames(300, 33);
    const recs = Array.from({ length: 3000 }, (_, i) => ({ sec: 1_700_000_000 + i, frac: i * 331, data: frames[i % frames.length]! }));
    const files: Record<string, Uint8Array> = {};
    // the largest record libpcap takes (262144 bytes, its limit and the gap before a half), an IPv4 frame at its front
    const huge = new Uint8Array(262144);
    huge.set(frames.find((f) => f.length > 40 && f[12] === 8 && f[13] === 0)!);
    files['mix.pcap'] = pcapFile(true, false, 1, recs);
    files['mix-be-ns.pcap'] = pcapFile(false, true, 1, recs.map((r) => ({ ...r, frac: r.frac * 1000 + 1 })));
    // records of no bytes at all: their 16-byte headers straddle the halves
    const empty = { sec: 5, frac: 6, data: new Uint8Array(0), orig: 0 };
    files['tiny.pcap'] = pcapFile(true, false, 1, Array.from({ length: 2000 }, (_, i) => (i % 9 === 4 ? recs[i]! : empty)));
    // 24 + 400 * 16 + 672 = 4096 + 3 * 1000: with halves of 1000 bytes after the 4096-byte first read, the file ends at a half's end
    const exact = pcapFile(true, false, 1, [...Array.from({ length: 399 }, () => empty), { sec: 1, frac: 2, data: new Uint8Array(672).fill(0x45) }]);
    assert.equal(exact.length, 4096 + 3000);
    files['exact.pcap'] = exact;
    files['huge.pcap'] = pcapFile(true, false, 1, [...recs.slice(0, 40), { sec: 9, frac: 9, data: huge }, ...recs.slice(40, 80), { sec: 10, frac: 1, data: huge }]);
    // pcapng read ahead too: runs of enhanced packet blocks (the module's), a simple packet block now and then (walked in JS), both byte orders
    files['mix.pcapng'] = pcapng(true, [{ linkType: 1, snaplen: 0, tsresol: 9 }], recs.map((r, i) => (i % 97 === 5 ? { kind: 'spb' as const, data: r.data } : { kind: 'epb' as const, ts: BigInt(r.sec) * 1_000_000_000n + BigInt(r.frac), data: r.data })));
    files['mix-be.pcapng'] = pcapng(false, [{ linkType: 1, snaplen: 0 }], recs.slice(0, 1500).map((r) => ({ kind: 'epb' as const, ts: BigInt(r.sec) * 1_000_000n + BigInt(r.frac), data: r.data })));
    // a 262176-byte enhanced packet block between two runs (made by hand: the helper spreads its bytes as arguments); 64 bytes of section, interface and skipped block before the second run's packets
    const epb = new Uint8Array(32 + huge.length);
    const ev = new DataView(epb.buffer);
    for (const [o, v] of [[0, 6], [4, epb.length], [12, 0], [16, 77], [20, huge.length], [24, huge.length], [28 + huge.length, epb.length]] as const) ev.setUint32(o, v, true);
    epb.set(huge, 28);
    const runs = [recs.slice(0, 30), recs.slice(30, 60)].map((part) => pcapng(true, [{ linkType: 1, snaplen: 0 }], part.map((r, i) => ({ kind: 'epb' as const, ts: BigInt(i), data: r.data }))));
    files['huge.pcapng'] = Buffer.concat([runs[0]!, epb, runs[1]!.subarray(64)]);
    // ends cut inside a record's data and inside a header, and a record over the limit, past the first read
    const mix = files['mix.pcap']!;
    files['cut-data.pcap'] = mix.subarray(0, mix.length - 7);
    files['cut-head.pcap'] = mix.subarray(0, mix.length - frames[2999 % frames.length]!.length - 9);
    const over = pcapFile(true, false, 1, recs.slice(0, 500));
    let o = 24;
    for (let i = 0; i < 400; i++) o += 16 + recs[i]!.data.length;
    new DataView(over.buffer).setUint32(o + 8, 262145, true);
    files['over.pcap'] = over;
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);

    let reads = 0;
    let shortReads = 0;
    /** reads of 1 to 13 bytes: every read of a half is made of short ones */
    const short: ReadAt = (fd, into, at, len, pos) => new Promise((resolve, reject) => {
      reads++;
      const n = Math.min(len, 1 + (reads % 13));
      if (n < len) shortReads++;
      read(fd, into, at, n, pos, (err, got) => (err ? reject(err) : resolve(got)));
    });
    const ways: ReadOptions[] = [{ chunk: 1000 }, { chunk: 64 }, { chunk: 4099, read: short }, { chunk: 70_000 }];
    for (const name of Object.keys(files)) {
      for (const [args, withOut] of [[['tcp port 80 or udp', join(dir, name)], true], [['ip', join(dir, name), '--count'], false], [['udp', join(dir, name), '--json'], false]] as [string[], boolean][]) {
        // the general path once; each way of reading against it
        const [fast, slow] = await both(dir, args, withOut, ways[0]);
        assert.deepEqual(fast, slow, `${args.join(' ')} ${JSON.stringify(ways[0])}`);
        for (const opts of ways.slice(1)) assert.deepEqual(await fastRun(dir, args, withOut, opts), slow, `${args.join(' ')} ${JSON.stringify(opts.chunk)}`);
      }
    }
    assert.ok(shortReads > 1000, `${shortReads} short reads`);
    // what the general path says for them (the read-ahead's own offsets)
    const fast = await fastRun(dir, ['ip', join(dir, 'over.pcap'), '--count'], false, { chunk: 1000 });
    assert.equal(fast.stderr.split('\n')[1], `tsbpf: ${join(dir, 'over.pcap')}: offset ${o}: captured length 262145 exceeds the limit 262144 (EINVAL)`);
    const cut = await fastRun(dir, ['ip', join(dir, 'cut-data.pcap'), '--count'], false, { chunk: 1000 });
    assert.match(cut.stderr, /truncated packet data \(\d+ bytes declared, \d+ present\) \(EINVAL\)/);
    // a read failing (a timer later): declined, printing nothing, for the general path to report
    for (const name of ['mix.pcap', 'mix.pcapng']) {
      let calls = 0;
      const failing: ReadAt = (fd, into, at, len, pos) => new Promise((resolve, reject) => {
        if (++calls === 4) setTimeout(() => reject(new Error('EIO')), 1);
        else read(fd, into, at, len, pos, (err, got) => (err ? reject(err) : resolve(got)));
      });
      const quiet = { write: () => assert.fail('printed') };
      const io: CliIo = { stdout: quiet, stderr: quiet, stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') } };
      assert.equal(await fastFilter(['tcp', join(dir, name), '-w', join(dir, 'fail.pcap')], io, { chunk: 1000, read: failing }), undefined);
      assert.ok(calls > 4, `${calls} reads`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fast path: it declines, writing and printing nothing, what only the general path does', async () => {
  const dir = tempDir('tsbpf-fast-');
  try {
    const cap = join(dir, 'c.pcap');
    writeFileSync(cap, pcapFile(true, false, 1, etherFrames(10, 1).map((data, i) => ({ sec: i, frac: 0, data }))));
    const prog = join(dir, 'p.dd');
    writeFileSync(prog, '{ 0x6, 0, 0, 0x00040000 },\n');
    const notCapture = join(dir, 'x.pcap');
    writeFileSync(notCapture, 'not a capture at all, no');
    const multi = join(dir, 'multi.pcapng');
    writeFileSync(multi, pcapng(true, [{ linkType: 1, snaplen: 0 }, { linkType: 101, snaplen: 0 }], [{ kind: 'epb', data: etherFrames(1, 1)[0]! }]));
    const out = join(dir, 'o.pcap');
    const declined = [
      [prog, cap],
      ['tcp', cap, '--engine', 'jit'],
      ['tcp', cap, '--workers', '2'],
      ['tcp', cap, '--profile', 'modern'],
      ['tcp', '-'],
      ['tcp', dir],
      ['tcp', join(dir, 'missing.pcap')],
      ['tcp', notCapture],
      ['tcp port', cap],
      ['tcp', cap, '-w', out, '--json'],
      ['tcp', multi],
      ['tcp', cap, '--help'],
      ['tcp', cap, '-w', join(dir, 'no', 'such', 'dir.pcap')],
    ];
    for (const args of declined) {
      const io: CliIo = {
        stdout: { write: () => assert.fail(`wrote to stdout: ${args.join(' ')}`) },
        stderr: { write: () => assert.fail(`wrote to stderr: ${args.join(' ')}`) },
        stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') },
      };
      assert.equal(await fastFilter(args, io), undefined, args.join(' '));
      assert.equal(existsSync(out), false);
    }
    // a record the pcap writer refuses (wire length below the captured): declined once the output file is begun, and left to the general path
    const short = join(dir, 'short.pcap');
    writeFileSync(short, pcapFile(true, false, 1, etherFrames(30, 1).map((data, i) => ({ sec: i, frac: 0, data, orig: i === 20 ? 10 : data.length }))));
    const silent: CliIo = {
      stdout: { write: () => assert.fail('wrote to stdout') },
      stderr: { write: () => assert.fail('wrote to stderr') },
      stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') },
    };
    assert.equal(await fastFilter(['len > 0', short, '-w', out], silent), undefined);
    const general = await tsbpf(['filter', 'len > 0', short, '-w', out]);
    assert.equal(general.status, 2);
    assert.match(general.stderr, /^tsbpf: pcap writer: origLen 10 is below the data length \d+ \(EINVAL\)\n$/);
    // and the general path then answers them as before
    const r = await tsbpf(['filter', 'tcp port', cap]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'tsbpf: syntax error at column 9: unexpected end of expression (EINVAL)\n  tcp port\n          ^\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fast path: its bundle is used only while fresh, and bin answers through it as through the modules', async () => {
  const dir = tempDir('tsbpf-fast-');
  try {
    const input = join(dir, 'a.js');
    const bundle = join(dir, 'b.js');
    const manifest = join(dir, 'b.json');
    writeFileSync(input, 'export const a = 1;\n');
    writeFileSync(bundle, 'export const a = 1;\n');
    writeFileSync(manifest, JSON.stringify({ inputs: [{ path: 'a.js', size: 20 }] }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(input, old, old);
    assert.equal(bundleFresh(bundle, manifest), true);
    // an input rebuilt after the bundle (tsc alone), of another size, missing; a missing manifest
    utimesSync(input, new Date(), new Date(Date.now() + 60_000));
    assert.equal(bundleFresh(bundle, manifest), false);
    utimesSync(input, old, old);
    writeFileSync(manifest, JSON.stringify({ inputs: [{ path: 'a.js', size: 21 }] }));
    assert.equal(bundleFresh(bundle, manifest), false);
    writeFileSync(manifest, JSON.stringify({ inputs: [{ path: 'gone.js', size: 20 }] }));
    assert.equal(bundleFresh(bundle, manifest), false);
    assert.equal(bundleFresh(bundle, join(dir, 'none.json')), false);

    // the CommonJS bundle through vm.Script: its code cache used only when no older than the bundle; one V8 refuses costs nothing but the time
    const cjs = join(dir, 'b.cjs');
    const cache = join(dir, 'b.cache');
    writeFileSync(cjs, "const { join } = require('node:path');\nexports.fastFilter = async (args) => join(...args).length;\n");
    const first = loadBundle(cjs, undefined);
    assert.equal(await first.exports.fastFilter(['ab', 'c'], undefined as unknown as CliIo), 4);
    assert.equal(first.script.cachedDataRejected, undefined);
    writeFileSync(cache, first.script.createCachedData());
    utimesSync(cjs, old, old);
    assert.equal(loadBundle(cjs, cache).script.cachedDataRejected, false);
    utimesSync(cache, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    assert.equal(loadBundle(cjs, cache).script.cachedDataRejected, undefined);
    // (another source: this process's V8 keeps what it compiled, and would not look at a cache for b.cjs again)
    writeFileSync(cjs, "exports.fastFilter = async (args) => args.length + 10;\n");
    writeFileSync(cache, new Uint8Array(64).fill(7));
    const refused = loadBundle(cjs, cache);
    assert.equal(refused.script.cachedDataRejected, true);
    assert.equal(await refused.exports.fastFilter(['x'], undefined as unknown as CliIo), 11);
    assert.equal(loadBundle(cjs, join(dir, 'none.cache')).script.cachedDataRejected, undefined);
    // the build's own bundle and cache (after npm test's build): V8 takes the cache
    const built = fileURLToPath(new URL('../src/cli/fast-filter.bundle.cjs', import.meta.url));
    if (bundleFresh(built, built.replace(/\.cjs$/, '.json'))) {
      const entry = fileURLToPath(new URL('../src/cli/entry.js', import.meta.url));
      const code = `import { loadBundle } from ${JSON.stringify(entry)}; process.stdout.write(String(loadBundle(${JSON.stringify(built)}, ${JSON.stringify(built.replace(/\.cjs$/, '.cache'))}).script.cachedDataRejected));`;
      assert.equal(execFileSync(process.execPath, ['--input-type=module', '-e', code]).toString(), 'false');
    }

    // bin/tsbpf.js as a process (through the bundle after npm test's build, else the modules): what main gives
    const cap = join(dir, 'c.pcap');
    writeFileSync(cap, writePcap(etherFrames(500, 8).map((data, i) => ({ data, tsNs: BigInt(i) * 1_000_003n })), 1));
    for (const args of [['tcp or udp port 53', cap, '-w', '-'], ['ip', cap, '--json'], ['vlan', cap, '--count']]) {
      const viaBin = spawnTsbpf(['filter', ...args]);
      const viaMain = await tsbpf(['filter', ...args]);
      assert.equal(viaBin.status, viaMain.status);
      assert.deepEqual(Buffer.from(viaBin.stdoutBytes), Buffer.from(viaMain.stdoutBytes), args.join(' '));
      assert.equal(timings(viaBin.stderr), timings(viaMain.stderr));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fast path: corrupted captures: it declines or answers exactly as the general path, never a fault of its own', async () => {
  const dir = tempDir('tsbpf-fast-');
  try {
    const frames = etherFrames(60, 31);
    const bases = [
      pcapFile(true, false, 1, frames.map((data, i) => ({ sec: i, frac: i * 1000, data }))),
      pcapFile(false, true, 1, frames.map((data, i) => ({ sec: i, frac: i, data }))),
      pcapng(true, [{ linkType: 1, snaplen: 0 }], frames.map((data, i) => ({ kind: 'epb' as const, ts: BigInt(i) * 1000n, data }))),
      pcapng(false, [{ linkType: 1, snaplen: 64, tsresol: 9 }], frames.map((data, i) => (i % 5 === 0 ? { kind: 'spb' as const, data } : { kind: 'epb' as const, ts: BigInt(i), data }))),
    ];
    const rnd = prng(77);
    const cap = join(dir, 'c.cap');
    let answered = 0;
    for (let n = 0; n < 120; n++) {
      const bytes = Uint8Array.from(bases[n % bases.length]!);
      // a few bytes changed (lengths, magics, types, data), sometimes the end cut off
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const at = Math.floor(rnd() * bytes.length);
        bytes[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : bytes[at]! ^ (1 << Math.floor(rnd() * 8));
      }
      const cut = rnd() < 0.3 ? Math.floor(rnd() * bytes.length) : bytes.length;
      writeFileSync(cap, bytes.subarray(0, cut));
      for (const args of [['tcp or udp or arp', cap, '-w', join(dir, 'f.pcap')], ['len > 50', cap, '--json']]) {
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const io: CliIo = {
          stdout: { write: (c) => out.push(Buffer.from(c)) },
          stderr: { write: (c) => err.push(Buffer.from(c)) },
          stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') },
        };
        const status = await fastFilter(args, io);
        if (status === undefined) {
          assert.equal(out.length + err.length, 0);
          continue;
        }
        answered++;
        const fileOut = args[2] === '-w' && existsSync(args[3]!) ? readFileSync(args[3]!).toString('hex') : '';
        const general = await tsbpf(['filter', ...args, '--engine', 'interpreter']);
        const generalOut = args[2] === '-w' && existsSync(args[3]!) ? readFileSync(args[3]!).toString('hex') : '';
        assert.deepEqual(
          { status, stdout: Buffer.concat(out).toString('utf8'), stderr: timings(Buffer.concat(err).toString('utf8')), fileOut },
          { status: general.status, stdout: general.stdout, stderr: timings(general.stderr), fileOut: generalOut },
          `case ${n}: ${args.join(' ')}`,
        );
      }
    }
    // most corruptions are answered here (a changed data byte, a cut pcap), not declined
    assert.ok(answered > 80, `${answered} answered`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
