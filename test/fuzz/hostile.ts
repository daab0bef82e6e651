/**
 * Hostile-input fuzzers (issue 13, "Deliver 5"): every parser of untrusted
 * input, fed mutated real inputs and random structures, may only ever return
 * or throw a BpfError with an errno code and a one-line message. Anything
 * else (a TypeError, RangeError, InternalError, a hang, a blow-up of memory)
 * is a problem, reported with the seed that regenerates the input and a
 * shrunk copy of the input.
 *
 * Targets, each a harness below:
 *   elf   clang objects (examples/*.o, test/c/calls.o, plus objects written by elf-writer.ts
 *         with hostile names, offsets and sizes): loadCollectionSpec, then a
 *         Collection on a small BpfSystem, then the CLI's parseProgram;
 *   pcap  classic pcap (both magics, both byte orders) and pcapng: the
 *         synchronous parser, the chunked asynchronous reader (which must
 *         agree with it packet for packet and error for error), summarize;
 *   cbpf  tcpdump -dd/-ddd text, raw sock_filter bytes and malformed
 *         SockFilter arrays: parse, checkClassic/convertClassic, disassemble;
 *   asm   both assembler dialects (conformance vectors, disassembled
 *         objects) with token-level mutations: assemble, encode, disasm;
 *   spec  the CLI's JSON program specs: parseProgram, then its maps created,
 *         fixups linked and the program loaded as `tsbpf run` does;
 *   attr  sys.bpf(cmd, attr) with random commands and valid, mutated and
 *         wrongly typed attrs, over fds that are open, closed and never were;
 *   btf   .BTF and .BTF.ext sections of the clang objects compiled with -g
 *         (each type's value codec and bpftool view run over its bytes),
 *         mutated, and random type tables of every kind (btf-writer.ts):
 *         the reader, then every type's name, resolution and size, the
 *         .BTF.ext records, each program's line records and the log's
 *         source-line printer over them.
 *   filter tcpdump expressions (the differential test's, mutated token by
 *         token, and token soup from the language's vocabulary) for every
 *         link type: compileFilter, then the classic checker must accept the
 *         program (a compiled filter is always a valid socket filter), and it
 *         runs over a few frames; the eBPF compiled straight from the same
 *         expression must pass the 3.19 verifier and give the classic
 *         program's verdict on each of them.
 *   shmaps hash and percpu_hash maps in a shared memory, one object per
 *         lane (attachMap), under random interleavings of the lanes' runs
 *         and operations and rewrites of the JIT's mirror, checked against
 *         a model after each operation (shared-maps.ts).
 *   steer  random captures of flows (every link type, fragments, VLAN
 *         tags, ARP, garbage, cut headers) through a WorkerPool of 2-3
 *         workers steered by flow or chunk, against one thread; the flow
 *         hash's own checks on every packet (steer.ts).
 *
 * Input i of a run with seed S is generated from its own seed, mix(S, i), so
 * one input is reproduced by `--seed S --replay i` without replaying the
 * others. `node dist/test/fuzz/hostile.js --seconds N --seed S [--target T]`
 * runs the targets (all by default, the time split between them) in a worker
 * thread that the main thread watches: an input that runs past the hang limit
 * or exhausts the worker's heap is reported by its index. test/hostile.test.ts
 * runs a fixed corpus of every target in-process.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { BpfSystem, BPF_CMD } from '../../src/api/bpf.js';
import { BpfError, ERRNO } from '../../src/errors.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { Collection } from '../../src/api/collection.js';
import { Program } from '../../src/api/program.js';
import { linkMapRefs, loadCollectionSpec } from '../../src/loader/collection.js';
import { parseProgram } from '../../src/cli/input.js';
import { parseCapture, readCapture, summarize, writePcap } from '../../src/pcap/index.js';
import type { Packet } from '../../src/pcap/index.js';
import {
  CLASSIC_CODES, SKF_AD, SKF_AD_OFF, checkClassic, convertClassic, decodeClassic, disassembleClassic, formatDd, formatDdd,
  parseClassicText,
} from '../../src/cbpf/index.js';
import type { SockFilter } from '../../src/cbpf/index.js';
import { assemble } from '../../src/isa/asm.js';
import { compileFilter, compileFilterEbpf, runClassic, FILTER_LINKTYPES } from '../../src/filter/index.js';
import { ETHER_EXPRS } from '../filter-exprs.js';
import { etherFrames } from '../filter-frames.js';
import { disasm, disasmSlots } from '../../src/isa/disasm.js';
import { encode, encodeSlots } from '../../src/isa/instruction.js';
import { progTypeByName } from '../../src/progs/types.js';
import { prng } from '../random-programs.js';
import { conformanceDir, projectRoot } from '../conformance-data.js';
import { slots as slotBytes, writeObj } from './elf-writer.js';
import { Btf, btfCodec, btfDump, btfJson, btfText, parseBtfExt } from '../../src/btf/index.js';
import { parseElf } from '../../src/elf/index.js';
import { ObjectDebugInfo } from '../../src/loader/line-info.js';
import { SourceLinePrinter } from '../../src/verifier/source-lines.js';
import { Strings, writeBtf, writeBtfExt } from './btf-writer.js';
import type { RawType } from './btf-writer.js';
import type { ObjReloc, ObjSection, ObjSymbol } from './elf-writer.js';
import { shmapsHarness } from './shared-maps.js';
import { steerHarness } from './steer.js';

export const TARGETS = ['elf', 'pcap', 'cbpf', 'asm', 'spec', 'attr', 'btf', 'filter', 'shmaps', 'steer'] as const;
export type Target = (typeof TARGETS)[number];

type Rnd = () => number;

/** A target: how to make input i, what to do with it, how to show and shrink it. */
export interface Harness<I> {
  generate(rnd: Rnd): I;
  exercise(input: I): void | Promise<void>;
  show(input: I): string;
  /** smaller variants of a failing input, tried in order */
  shrink(input: I): Iterable<I>;
}

export interface Problem {
  target: Target;
  seed: number;
  /** the input's index in the run: `--seed S --replay I` regenerates it */
  index: number;
  /** the error's class and first line (or 'hang' / 'slow' / 'memory') */
  what: string;
  /** the shrunk input, printable */
  input: string;
}

export interface TargetResult {
  target: Target;
  tried: number;
  /** inputs that were accepted whole */
  accepted: number;
  /** inputs refused with a BpfError, by errno code */
  refused: Record<string, number>;
  /** attr only: the bpf() calls made, by outcome ('ok' or the errno) */
  calls?: Record<string, number>;
  problems: Problem[];
}

/** One input taking longer than this (in-process, measured) is a problem: nothing here should take a second. */
export const SLOW_MS = 3000;
/** The process's resident memory past this after one input is a blow-up (typed arrays live outside the worker's heap limit). */
export const RSS_LIMIT = 4 * 1024 ** 3;

/** Input i's own seed, so one input is regenerated without replaying the run. */
export function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0 || 1;
}

// ---- random helpers ----

const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);
const chance = (rnd: Rnd, p: number): boolean => rnd() < p;

/** Values at the edges of every width, where parsers go wrong. */
const INTERESTING_U64: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 8n, 12n, 16n, 20n, 24n, 63n, 64n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 1n << 40n, (1n << 53n) - 1n, (1n << 53n) + 1n, (1n << 63n) - 1n,
  1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 8n,
];

function randomBytes(rnd: Rnd, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => int(rnd, 256));
}

/**
 * One byte-level mutation: bit flips, interesting values at aligned or
 * chosen offsets (`fields`: offsets of header fields worth hitting), chunk
 * deletion, duplication and splicing, truncation, random tails.
 */
function mutateOnce(rnd: Rnd, b: Uint8Array, fields: readonly { at: number; width: 1 | 2 | 4 | 8 }[] = [], donor?: Uint8Array): Uint8Array {
  const out = b.slice();
  const n = out.length;
  const k = rnd();
  const setField = (at: number, width: number): void => {
    if (at + width > out.length) return;
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const big = chance(rnd, 0.8) ? pick(rnd, INTERESTING_U64) : BigInt(int(rnd, 0x100000000)) * BigInt(int(rnd, 0x100000000) | 1);
    const le = chance(rnd, 0.9);
    const val = BigInt.asUintN(width * 8, chance(rnd, 0.2) ? -big : big);
    if (width === 1) v.setUint8(at, Number(val));
    else if (width === 2) v.setUint16(at, Number(val), le);
    else if (width === 4) v.setUint32(at, Number(val), le);
    else v.setBigUint64(at, val, le);
  };
  if (n === 0) return randomBytes(rnd, 1 + int(rnd, 64));
  if (k < 0.35 && fields.length > 0) {
    const f = pick(rnd, fields);
    setField(f.at, f.width);
  } else if (k < 0.5) {
    out[int(rnd, n)]! ^= 1 << int(rnd, 8);
  } else if (k < 0.6) {
    out[int(rnd, n)] = pick(rnd, [0, 1, 0x7f, 0x80, 0xfe, 0xff]);
  } else if (k < 0.72) {
    const width = pick(rnd, [2, 4, 8] as const);
    setField(int(rnd, Math.max(1, n - width + 1)) & ~(width - 1), width);
  } else if (k < 0.78) {
    return out.subarray(0, int(rnd, n)).slice();
  } else if (k < 0.84) {
    const a = int(rnd, n);
    const len = 1 + int(rnd, Math.min(64, n - a));
    const c = new Uint8Array(n - len);
    c.set(out.subarray(0, a));
    c.set(out.subarray(a + len), a);
    return c;
  } else if (k < 0.9) {
    const a = int(rnd, n);
    const len = 1 + int(rnd, Math.min(64, n - a));
    const at = int(rnd, n + 1);
    const c = new Uint8Array(n + len);
    c.set(out.subarray(0, at));
    c.set(out.subarray(a, a + len), at);
    c.set(out.subarray(at), at + len);
    return c;
  } else if (k < 0.95 && donor !== undefined && donor.length > 0) {
    const a = int(rnd, donor.length);
    const len = 1 + int(rnd, Math.min(256, donor.length - a));
    out.set(donor.subarray(a, a + Math.min(len, n)), int(rnd, Math.max(1, n - len)));
  } else {
    const c = new Uint8Array(n + 1 + int(rnd, 32));
    c.set(out);
    c.set(randomBytes(rnd, c.length - n), n);
    return c;
  }
  return out;
}

function mutate(rnd: Rnd, b: Uint8Array, fields: readonly { at: number; width: 1 | 2 | 4 | 8 }[] = [], donor?: Uint8Array): Uint8Array {
  let out = b;
  for (let i = 1 + (chance(rnd, 0.5) ? 0 : int(rnd, 8)); i > 0; i--) out = mutateOnce(rnd, out, fields, donor);
  return out;
}

/** Byte inputs shrink by cutting chunks, halving down to single bytes, then zeroing bytes. */
function* shrinkBytes(b: Uint8Array): Iterable<Uint8Array> {
  for (let chunk = Math.max(1, b.length >> 1); chunk >= 1; chunk >>= 1) {
    for (let at = 0; at + chunk <= b.length; at += chunk) {
      const c = new Uint8Array(b.length - chunk);
      c.set(b.subarray(0, at));
      c.set(b.subarray(at + chunk), at);
      yield c;
    }
  }
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0) {
      const c = b.slice();
      c[i] = 0;
      yield c;
    }
  }
}

function* shrinkText(s: string): Iterable<string> {
  const lines = s.split('\n');
  for (let i = 0; i < lines.length; i++) yield [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n');
  for (let chunk = Math.max(1, s.length >> 1); chunk >= 1; chunk >>= 1) {
    for (let at = 0; at + chunk <= s.length; at += chunk) yield s.slice(0, at) + s.slice(at + chunk);
  }
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function showBytes(b: Uint8Array): string {
  return b.length <= 4096 ? `${b.length} bytes: ${hexOf(b)}` : `${b.length} bytes, first 4096: ${hexOf(b.subarray(0, 4096))}`;
}

/** A fresh system per input, small: a hostile input must not be able to ask for more than this. */
function smallSystem(options: { profile?: string; cpus?: number } = {}): BpfSystem {
  const sys = new BpfSystem(new Runtime({ maxBytes: 16 << 20, initialBytes: 1 << 20, ...options }));
  sys.unverifiedBudget = 10_000;
  return sys;
}

// ---- seeds ----

let seedCache: { objects: Uint8Array[]; pcap: Uint8Array; asm: string[]; dd: string[] } | undefined;
function seeds(): NonNullable<typeof seedCache> {
  if (seedCache) return seedCache;
  const ex = join(projectRoot(), 'examples');
  const objects = readdirSync(ex).filter((f) => f.endsWith('.o')).sort().map((f) => new Uint8Array(readFileSync(join(ex, f))));
  // objects with CO-RE relocations, so that mutations reach core.ts
  for (const f of ['core.o', 'core-poison.o']) objects.push(new Uint8Array(readFileSync(join(projectRoot(), 'test', 'c', f))));
  // bpf-to-bpf calls, callbacks and __array(values, ...) maps, for the linker
  objects.push(new Uint8Array(readFileSync(join(projectRoot(), 'test', 'c', 'calls.o'))));
  // typed variables in .rodata, .data and .bss, for spec.variables
  objects.push(new Uint8Array(readFileSync(join(projectRoot(), 'test', 'c', 'vars.o'))));
  const pcap = new Uint8Array(readFileSync(join(ex, 'sample.pcap')));
  const asm: string[] = [readFileSync(join(ex, 'syn-filter.s'), 'utf8')];
  const conf = conformanceDir();
  for (const f of readdirSync(conf).filter((x) => x.endsWith('.data')).sort()) {
    const m = /-- asm\n([\s\S]*?)(?:\n-- |$)/.exec(readFileSync(join(conf, f), 'utf8'));
    if (m) asm.push(m[1]!);
  }
  // the kernel dialect, as the disassembler prints the example objects
  for (const o of objects) {
    try {
      for (const p of Object.values(loadCollectionSpec(o).programs)) asm.push(disasmSlots(parseProgram(o, { section: p.name }).slots));
    } catch {
      // an example this build cannot read is no seed
    }
  }
  // tcpdump -dd of 'ip', 'tcp port 80', 'arp or icmp' (libpcap's bpf_dump format)
  const dd = [
    '{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n',
    formatDd([
      { code: 0x28, jt: 0, jf: 0, k: 12 }, { code: 0x15, jt: 0, jf: 10, k: 0x800 }, { code: 0x30, jt: 0, jf: 0, k: 23 },
      { code: 0x15, jt: 0, jf: 8, k: 6 }, { code: 0x28, jt: 0, jf: 0, k: 20 }, { code: 0x45, jt: 6, jf: 0, k: 0x1fff },
      { code: 0xb1, jt: 0, jf: 0, k: 14 }, { code: 0x48, jt: 0, jf: 0, k: 14 }, { code: 0x15, jt: 2, jf: 0, k: 80 },
      { code: 0x48, jt: 0, jf: 0, k: 16 }, { code: 0x15, jt: 0, jf: 1, k: 80 }, { code: 0x6, jt: 0, jf: 0, k: 262144 },
      { code: 0x6, jt: 0, jf: 0, k: 0 },
    ]),
    formatDdd([
      { code: 0x28, jt: 0, jf: 0, k: 12 }, { code: 0x15, jt: 3, jf: 0, k: 0x806 }, { code: 0x15, jt: 0, jf: 3, k: 0x800 },
      { code: 0x30, jt: 0, jf: 0, k: 23 }, { code: 0x15, jt: 0, jf: 1, k: 1 }, { code: 0x6, jt: 0, jf: 0, k: 262144 },
      { code: 0x6, jt: 0, jf: 0, k: 0 },
    ]),
  ];
  seedCache = { objects, pcap, asm, dd };
  return seedCache;
}

/** File offsets of an ELF64 LE object's header fields, section headers, symbols and relocations. */
function elfFields(b: Uint8Array): { at: number; width: 1 | 2 | 4 | 8 }[] {
  const out: { at: number; width: 1 | 2 | 4 | 8 }[] = [0x28, 0x3c, 0x3e].map((at) => ({ at, width: at === 0x28 ? 8 : 2 }));
  if (b.length < 64) return out;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shnum = v.getUint16(0x3c, true);
  for (let i = 0; i < shnum && shoff + 64 * (i + 1) <= b.length; i++) {
    const h = shoff + 64 * i;
    out.push({ at: h, width: 4 }, { at: h + 4, width: 4 }, { at: h + 8, width: 8 }, { at: h + 24, width: 8 }, { at: h + 32, width: 8 },
      { at: h + 40, width: 4 }, { at: h + 44, width: 4 }, { at: h + 56, width: 8 });
    const type = v.getUint32(h + 4, true);
    const off = Number(v.getBigUint64(h + 24, true));
    const size = Number(v.getBigUint64(h + 32, true));
    if (off + size > b.length) continue;
    const flags = Number(v.getBigUint64(h + 8, true));
    if (type === 1 && (flags & 2) === 0) {
      // non-allocated data: .BTF and .BTF.ext (type records are u32 words)
      for (let w = off; w + 4 <= off + Math.min(size, 4096); w += 4) out.push({ at: w, width: 4 });
    } else if (type === 1 && (flags & 4) !== 0) {
      // code: the opcode byte, the registers byte, the imm of each slot
      for (let w = off; w + 8 <= off + Math.min(size, 4096); w += 8) out.push({ at: w, width: 1 }, { at: w + 1, width: 1 }, { at: w + 4, width: 4 });
    }
    if (type === 2) {
      for (let s = off; s + 24 <= off + size; s += 24) out.push({ at: s, width: 4 }, { at: s + 4, width: 1 }, { at: s + 6, width: 2 }, { at: s + 8, width: 8 }, { at: s + 16, width: 8 });
    } else if (type === 9 || type === 4) {
      const ent = type === 9 ? 16 : 24;
      for (let r = off; r + ent <= off + size; r += ent) out.push({ at: r, width: 8 }, { at: r + 8, width: 4 }, { at: r + 12, width: 4 });
    }
  }
  return out;
}

// ---- elf ----

const HOSTILE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', 'm', 'prog', '.data', '.bss', 'socket1', 'maps'];
const SECTION_NAMES = ['socket1', 'socket/x', 'maps', 'maps/a', '.data', '.rodata', '.rodata.str1.1', '.bss', 'license', 'version', '.text', '.maps', '.BTF', 'kprobe/x', '__proto__'];

/**
 * A random .BTF section: a well-formed BTF-defined map (libbpf's `__uint` /
 * `__type` convention) among random type records whose kinds, counts and
 * type ids are often wrong (ids past the table, typedef cycles, arrays of
 * themselves, huge element counts), then maybe a byte mutation on top.
 */
function randomBtf(rnd: Rnd, mapNames: readonly string[]): Uint8Array {
  const strs: number[] = [0];
  const str = (t: string): number => {
    const at = strs.length;
    for (const b of new TextEncoder().encode(t)) strs.push(b);
    strs.push(0);
    return at;
  };
  const words: number[] = [];
  let id = 0;
  const type = (name: number, kind: number, vlen: number, sizeOrType: number, extra: number[] = []): number => {
    words.push(name, ((kind & 0x1f) << 24) | (vlen & 0xffff), sizeOrType >>> 0, ...extra);
    return ++id;
  };
  const anyId = (): number => (chance(rnd, 0.9) ? 1 + int(rnd, id + 2) : pick(rnd, [0, 0xffffffff, 0x7fffffff]));
  const u32 = (): number => Number(pick(rnd, INTERESTING_U64) & 0xffffffffn);
  const INT = type(str('int'), 1, 0, 4, [32]);
  const n = (count: number): number => type(0, 2, 0, type(0, 3, 0, 0, [INT, INT, count])); // int (*)[count]
  const ptr = (to: number): number => type(0, 2, 0, to);
  const vars: number[] = [];
  for (const name of mapNames) {
    const members: [string, number][] = [['type', n(pick(rnd, [1, 2, 2, 0, 99]))], ['max_entries', n(chance(rnd, 0.8) ? 4 : u32())], ['key', ptr(INT)], ['value', ptr(chance(rnd, 0.8) ? INT : anyId())]];
    if (chance(rnd, 0.2)) members.push([pick(rnd, ['key_size', 'value_size', 'map_flags', '__proto__', 'constructor', 'pinning']), n(u32())]);
    const struct = type(0, 4, members.length, 32, members.flatMap(([m, t], i) => [str(m), t, i * 64]));
    vars.push(type(str(name), 14, 0, struct, [1]));
  }
  for (let k = int(rnd, 8); k > 0; k--) {
    const kind = chance(rnd, 0.9) ? pick(rnd, [1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 14, 15, 16]) : int(rnd, 32);
    if (kind === 1 || kind === 14) type(str(pick(rnd, HOSTILE_NAMES)), kind, 0, anyId(), [u32()]);
    else if (kind === 3) type(0, kind, 0, 0, [anyId(), INT, u32()]);
    else if (kind === 4 || kind === 5) {
      const vlen = int(rnd, 4);
      type(0, kind, vlen, u32(), Array.from({ length: vlen }, () => [str(pick(rnd, ['type', 'key', 'value', 'max_entries', ...HOSTILE_NAMES])), anyId(), 0]).flat());
    } else if (kind === 13) type(0, kind, 1, anyId(), [0, anyId()]);
    else if (kind === 15) vars.push(anyId());
    else type(str(pick(rnd, HOSTILE_NAMES)), kind, 0, chance(rnd, 0.3) ? id + 1 : anyId()); // id + 1: itself
  }
  type(str(chance(rnd, 0.9) ? '.maps' : '.data'), 15, vars.length, 0, vars.flatMap((v, i) => [v, i * 32, 32]));
  const typeBytes = new Uint8Array(4 * words.length);
  const tv = new DataView(typeBytes.buffer);
  words.forEach((w, i) => tv.setUint32(4 * i, w >>> 0, true));
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  hv.setUint16(0, 0xeb9f, true);
  hv.setUint8(2, 1);
  hv.setUint32(4, 24, true);
  hv.setUint32(8, 0, true);
  hv.setUint32(12, typeBytes.length, true);
  hv.setUint32(16, typeBytes.length, true);
  hv.setUint32(20, strs.length, true);
  const btf = concat([header, typeBytes, Uint8Array.from(strs)]);
  if (!chance(rnd, 0.3)) return btf;
  const fields = Array.from({ length: words.length }, (_, i) => ({ at: 24 + 4 * i, width: 4 as const }));
  return mutate(rnd, btf, [...fields, { at: 4, width: 4 }, { at: 8, width: 4 }, { at: 12, width: 4 }, { at: 16, width: 4 }, { at: 20, width: 4 }]);
}

/** A random object from elf-writer: sections, symbols and relocations that are each plausible and together rarely are. */
function randomObject(rnd: Rnd): Uint8Array {
  const sections: ObjSection[] = [];
  const nsec = 1 + int(rnd, 5);
  for (let i = 0; i < nsec; i++) {
    const name = pick(rnd, SECTION_NAMES);
    const exec = name.startsWith('socket') || name === '.text' || name.startsWith('kprobe');
    if (name === '.bss' && chance(rnd, 0.7)) {
      sections.push({ name, type: 8, flags: 3, size: chance(rnd, 0.5) ? pick(rnd, INTERESTING_U64.filter((x) => x < 1n << 64n)) : BigInt(int(rnd, 64)) });
      continue;
    }
    let data: Uint8Array;
    if (exec) {
      const insns: [number, number, number, number, number][] = [];
      for (let k = 1 + int(rnd, 12); k > 0; k--) {
        const r = rnd();
        if (r < 0.3) insns.push([0x18, int(rnd, 11), 0, 0, int(rnd, 3) * 4], [0, 0, 0, 0, 0]);
        else if (r < 0.5) insns.push([0xb7, 0, 0, 0, int(rnd, 100)]);
        else if (r < 0.6) insns.push([0x85, 0, chance(rnd, 0.8) ? 0 : 1, 0, int(rnd, 4)]);
        else if (r < 0.7) insns.push([pick(rnd, [0x61, 0x79, 0x62, 0x7a, 0x15, 0x05]), int(rnd, 11), int(rnd, 11), int(rnd, 8) - 4, int(rnd, 16)]);
        else insns.push([int(rnd, 256), int(rnd, 16), int(rnd, 16), int(rnd, 65536) - 32768, int(rnd, 1 << 30)]);
      }
      insns.push([0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);
      data = slotBytes(...insns);
    } else if (name.startsWith('maps')) {
      data = new Uint8Array(20 * (1 + int(rnd, 3)) + (chance(rnd, 0.1) ? int(rnd, 8) : 0));
      const v = new DataView(data.buffer);
      for (let at = 0; at + 20 <= data.length; at += 20) {
        v.setUint32(at, pick(rnd, [1, 2, 2, 0, 99]), true);
        v.setUint32(at + 4, pick(rnd, [4, 4, 8, 0, 513, 0xffffffff]), true);
        v.setUint32(at + 8, pick(rnd, [4, 8, 16, 0, 0x10000000, 0xffffffff]), true);
        v.setUint32(at + 12, pick(rnd, [1, 4, 64, 0, 0x7fffffff, 0xffffffff]), true);
        v.setUint32(at + 16, pick(rnd, [0, 0, 1, 0xffffffff]), true);
      }
    } else if (name === 'license') {
      data = new TextEncoder().encode(pick(rnd, ['GPL\0', 'MIT\0', '', 'GPL']));
    } else if (name === 'version') {
      data = randomBytes(rnd, pick(rnd, [0, 2, 4, 8]));
    } else {
      data = randomBytes(rnd, int(rnd, 40));
    }
    sections.push({ name, type: exec || chance(rnd, 0.9) ? 1 : pick(rnd, [8, 3, 2, 0x6ffffff5]), flags: exec ? 6 : pick(rnd, [2, 3]), data });
  }
  const symbols: ObjSymbol[] = [];
  if (chance(rnd, 0.25)) {
    // BTF-defined maps: .maps symbols named as the BTF's variables (or not)
    const names = Array.from({ length: 1 + int(rnd, 3) }, () => pick(rnd, HOSTILE_NAMES));
    sections.push({ name: '.maps', type: 1, flags: 3, data: new Uint8Array(32 * names.length) });
    sections.push({ name: '.BTF', type: 1, flags: 0, data: randomBtf(rnd, chance(rnd, 0.9) ? names : names.slice(1)) });
    names.forEach((name, i) => symbols.push({ name, section: '.maps', value: 32 * i, size: 32, type: 1 }));
  }
  for (let k = int(rnd, 7); k > 0; k--) {
    const sec = pick(rnd, sections);
    const size = sec.data?.length ?? 0;
    symbols.push({
      name: pick(rnd, HOSTILE_NAMES),
      section: chance(rnd, 0.95) ? sec.name : '',
      value: chance(rnd, 0.8) ? (size > 0 ? int(rnd, size + 1) & (chance(rnd, 0.7) ? ~7 : ~0) : 0) : pick(rnd, INTERESTING_U64),
      size: chance(rnd, 0.8) ? int(rnd, size + 1) & (chance(rnd, 0.7) ? ~7 : ~0) : pick(rnd, INTERESTING_U64),
      type: pick(rnd, [0, 1, 2, 2, 3]),
      bind: pick(rnd, [0, 1, 2]),
    });
  }
  const relocations: ObjReloc[] = [];
  const execs = sections.filter((s) => s.name.startsWith('socket') || s.name === '.text');
  if (symbols.length > 0 && execs.length > 0) {
    for (let k = int(rnd, 4); k > 0; k--) {
      const s = pick(rnd, execs);
      const len = s.data?.length ?? 0;
      relocations.push({ section: s.name, offset: chance(rnd, 0.85) ? int(rnd, Math.max(1, len / 8)) * 8 : int(rnd, len + 16), symbol: pick(rnd, symbols).name, type: pick(rnd, [1, 1, 1, 10, 2]) });
    }
  }
  return writeObj({ sections, symbols, relocations, machine: chance(rnd, 0.97) ? 247 : pick(rnd, [0, 62]) }).bytes;
}

const elf: Harness<Uint8Array> = {
  generate(rnd) {
    const { objects } = seeds();
    if (chance(rnd, 0.3)) {
      const o = randomObject(rnd);
      return chance(rnd, 0.5) ? o : mutate(rnd, o, elfFields(o));
    }
    const base = pick(rnd, objects);
    return mutate(rnd, base, elfFields(base), pick(rnd, objects));
  },
  exercise(bytes) {
    const spec = loadCollectionSpec(bytes);
    // each variable read, and written back with what it read (a value may not decode, or not encode back: an answer)
    for (const v of Object.values(spec.variables)) {
      tolerate(() => v.set(v.get()));
      tolerate(() => v.bytes());
    }
    const col = new Collection(smallSystem(), spec);
    col.close();
    // the CLI's view of each program (input.ts), then its load as `tsbpf run` does
    for (const p of Object.values(spec.programs)) loadProgramInput(parseProgram(bytes, { section: p.name }));
  },
  show: showBytes,
  shrink: shrinkBytes,
};

/** What run.ts's loadInput does, on a small system and without printing. */
function loadProgramInput(prog: ReturnType<typeof parseProgram>): void {
  const sys = smallSystem();
  const fds = prog.maps.map((m) => sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: m.type === 'hash' ? 1 : 2, key_size: m.key_size, value_size: m.value_size, max_entries: m.max_entries, map_flags: m.flags ?? 0 }));
  prog.maps.forEach((m, i) => {
    if (m.initial) sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: fds[i]!, key: new Uint8Array(4), value: m.initial, flags: 0 });
  });
  const slots = prog.slots.map((s) => ({ ...s }));
  linkMapRefs(slots, prog.fixups.map(([slot, index, offset]) => ({ slot, fd: fds[index]!, offset })));
  sys.bpf(BPF_CMD.BPF_PROG_LOAD, {
    prog_type: progTypeByName(prog.progType).id,
    insns: encodeSlots(slots),
    license: prog.license,
  });
}

// ---- pcap ----

function pcapngBlock(type: number, body: Uint8Array, le = true): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, len, le);
  b.set(body, 8);
  v.setUint32(len - 4, len, le);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A pcapng section with every block kind the reader parses, and one it skips. */
function samplePcapng(rnd: Rnd, le: boolean): Uint8Array {
  const u = (n: number, f: (v: DataView) => void): Uint8Array => {
    const b = new Uint8Array(n);
    f(new DataView(b.buffer));
    return b;
  };
  const shb = u(16, (v) => {
    v.setUint32(0, 0x1a2b3c4d, le);
    v.setUint16(4, 1, le);
    v.setBigInt64(8, -1n, le);
  });
  const idb = u(8 + 8 + 12 + 4, (v) => {
    v.setUint16(0, pick(rnd, [1, 101, 113, 228, 276, 0]), le);
    v.setUint32(4, pick(rnd, [0, 64, 262144]), le);
    v.setUint16(8, 9, le); // if_tsresol
    v.setUint16(10, 1, le);
    v.setUint8(12, pick(rnd, [6, 9, 0x8a, 0x7f, 0xff]));
    v.setUint16(16, 14, le); // if_tsoffset
    v.setUint16(18, 8, le);
    v.setBigInt64(20, BigInt(int(rnd, 1000)) - 500n, le);
  });
  const frame = seedPackets()[int(rnd, seedPackets().length)]!;
  const epb = concat([u(20, (v) => {
    v.setUint32(0, 0, le);
    v.setUint32(4, 1, le);
    v.setUint32(8, 2, le);
    v.setUint32(12, frame.length, le);
    v.setUint32(16, frame.length + 4, le);
  }), frame]);
  const spb = concat([u(4, (v) => v.setUint32(0, frame.length, le)), frame]);
  const pb = concat([u(20, (v) => {
    v.setUint16(0, 0, le);
    v.setUint32(4, 0, le);
    v.setUint32(12, frame.length, le);
    v.setUint32(16, frame.length, le);
  }), frame]);
  const blocks = [
    pcapngBlock(0x0a0d0d0a, shb, le),
    pcapngBlock(1, idb, le),
    pcapngBlock(6, epb, le),
    pcapngBlock(4, randomBytes(rnd, 8), le), // name resolution: skipped
    pcapngBlock(3, spb, le),
    pcapngBlock(2, pb, le),
  ];
  return concat(blocks);
}

let packetCache: Uint8Array[] | undefined;
function seedPackets(): Uint8Array[] {
  packetCache ??= [...parseCapture(seeds().pcap)].map((p) => p.data.slice());
  return packetCache;
}

/** Every packet and the outcome, as a comparable transcript. */
function transcript(packets: Packet[], error: unknown): string {
  const lines = packets.map((p) => `${hexOf(p.data)} ${p.origLen} ${p.tsNs} ${p.linkType} ${p.interfaceId} ${p.netOff}`);
  lines.push(error === undefined ? 'end' : error instanceof BpfError ? `${error.code} ${error.message}` : `crash ${String(error)}`);
  return lines.join('\n');
}

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const n = sizes[i++ % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

interface PcapInput {
  bytes: Uint8Array;
  /** chunk sizes for the asynchronous reader; empty: the synchronous parser only */
  chunks: number[];
}

const pcap: Harness<PcapInput> = {
  generate(rnd) {
    const r = rnd();
    let base: Uint8Array;
    if (r < 0.35) base = seeds().pcap;
    else if (r < 0.6) base = samplePcapng(rnd, chance(rnd, 0.7));
    else {
      const pkts = seedPackets().slice(0, 1 + int(rnd, 4)).map((data, i) => ({ data, tsNs: BigInt(i) * 1_000_123n }));
      base = writePcap(pkts, pick(rnd, [1, 101, 113, 228, 229, 276, 12, 0, 0xffff]), { nanos: chance(rnd, 0.5), snaplen: pick(rnd, [64, 65535, 262144]) });
      if (chance(rnd, 0.3)) {
        // the same file in the other byte order
        const v = new DataView(base.buffer);
        for (const at of [0, 8, 12, 16, 20]) v.setUint32(at, v.getUint32(at, true), false);
        v.setUint16(4, v.getUint16(4, true), false);
        v.setUint16(6, v.getUint16(6, true), false);
        for (let at = 24; at + 16 <= base.length;) {
          const incl = v.getUint32(at + 8, true);
          for (let f = 0; f < 16; f += 4) v.setUint32(at + f, v.getUint32(at + f, true), false);
          at += 16 + incl;
        }
      }
    }
    const bytes = chance(rnd, 0.05) ? base : mutate(rnd, base, [], seeds().pcap);
    const chunks = chance(rnd, 0.3) ? Array.from({ length: 1 + int(rnd, 4) }, () => 1 + int(rnd, chance(rnd, 0.5) ? 8 : 200)) : [];
    return { bytes, chunks };
  },
  async exercise({ bytes, chunks }) {
    const packets: Packet[] = [];
    let error: unknown;
    try {
      const it = parseCapture(bytes);
      for (const p of it) {
        packets.push(p);
        summarize(p.data, p.linkType);
      }
      void it.info;
    } catch (e) {
      error = e;
    }
    if (chunks.length > 0) {
      const streamed: Packet[] = [];
      let streamError: unknown;
      try {
        for await (const p of readCapture(chunked(bytes, chunks))) streamed.push({ ...p, data: p.data.slice() });
      } catch (e) {
        streamError = e;
      }
      const a = transcript(packets, error);
      const b = transcript(streamed, streamError);
      if (a !== b) throw new Error(`the streamed reader disagrees with parseCapture:\n  parse:  ${a.split('\n').pop()} (${packets.length} packets)\n  stream: ${b.split('\n').pop()} (${streamed.length} packets)`);
    }
    if (error !== undefined) throw error;
  },
  show: (i) => `${showBytes(i.bytes)}${i.chunks.length ? `\nchunks ${i.chunks.join(',')}` : ''}`,
  *shrink(i) {
    if (i.chunks.length > 1) yield { bytes: i.bytes, chunks: [i.chunks[0]!] };
    for (const b of shrinkBytes(i.bytes)) yield { bytes: b, chunks: i.chunks };
  },
};

// ---- cbpf ----

type CbpfInput = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'filters'; prog: unknown };

/** A random classic program: real opcodes, jumps mostly in range, k often meaningful. */
function randomClassic(rnd: Rnd): SockFilter[] {
  const codes = [...CLASSIC_CODES];
  const n = 1 + int(rnd, chance(rnd, 0.95) ? 24 : 5000);
  const prog: SockFilter[] = [];
  for (let i = 0; i < n; i++) {
    const code = chance(rnd, 0.97) ? pick(rnd, codes) : int(rnd, 0x10000);
    const left = n - i - 1;
    const kr = rnd();
    const k = kr < 0.4 ? int(rnd, 16) : kr < 0.6 ? (SKF_AD_OFF + pick(rnd, Object.values(SKF_AD))) >>> 0 : kr < 0.7 ? (SKF_AD_OFF + int(rnd, 80)) >>> 0 : kr < 0.8 ? int(rnd, Math.max(1, left)) : int(rnd, 0x100000000);
    prog.push({ code, jt: chance(rnd, 0.9) ? int(rnd, Math.min(256, left + 1)) : int(rnd, 256), jf: chance(rnd, 0.9) ? int(rnd, Math.min(256, left + 1)) : int(rnd, 256), k });
  }
  if (chance(rnd, 0.9)) prog.push({ code: 0x06, jt: 0, jf: 0, k: int(rnd, 0x40000) });
  return prog;
}

const BAD_VALUES: readonly unknown[] = [null, undefined, -1, 1.5, NaN, Infinity, 2 ** 32, 2 ** 53, '6', 6n, {}, [], true, { valueOf: () => 6 }];

function mutateText(rnd: Rnd, text: string, vocab: readonly string[]): string {
  const tokens = text.split(/(\s+|[,{}()[\]:;+*=<>!&|^%-])/).filter((t) => t !== '');
  for (let n = 1 + int(rnd, 4); n > 0 && tokens.length > 0; n--) {
    const i = int(rnd, tokens.length);
    const r = rnd();
    if (r < 0.5) tokens[i] = pick(rnd, vocab);
    else if (r < 0.65) tokens.splice(i, 1);
    else if (r < 0.8) tokens.splice(i, 0, tokens[int(rnd, tokens.length)]!);
    else if (r < 0.9) tokens.splice(i, 0, String.fromCharCode(pick(rnd, [0x20 + int(rnd, 95), 0x0a, 0x09, 0x0d, 0xfeff, 0x2028, 0xd800])));
    else {
      const lines = tokens.join('').split('\n');
      const l = int(rnd, lines.length);
      lines.splice(int(rnd, lines.length + 1), 0, lines[l]!);
      return lines.join('\n');
    }
  }
  return tokens.join('');
}

const NUMBERS = ['0', '1', '-1', '7', '8', '15', '16', '255', '256', '4096', '4097', '65535', '65536', '0x7fffffff', '0x80000000', '0xffffffff',
  '0x100000000', '4294967295', '4294967296', '18446744073709551615', '99999999999999999999999', '0x', '00', '1e3', '-0', '0x8000000000000000',
  '-2147483648', '-2147483649', '2147483648', '9007199254740993'];

const cbpf: Harness<CbpfInput> = {
  generate(rnd) {
    const r = rnd();
    if (r < 0.35) {
      const base = chance(rnd, 0.4) ? pick(rnd, seeds().dd) : chance(rnd, 0.5) ? formatDd(randomClassic(rnd)) : formatDdd(randomClassic(rnd));
      return { kind: 'text', text: chance(rnd, 0.8) ? mutateText(rnd, base, NUMBERS) : base };
    }
    if (r < 0.75) {
      const prog = randomClassic(rnd);
      return chance(rnd, 0.5) ? { kind: 'filters', prog } : { kind: 'text', text: chance(rnd, 0.5) ? formatDd(prog) : formatDdd(prog) };
    }
    if (r < 0.85) {
      const prog = randomClassic(rnd);
      const bytes = new Uint8Array(prog.length * 8);
      const v = new DataView(bytes.buffer);
      prog.forEach((f, i) => {
        v.setUint16(8 * i, f.code, true);
        bytes[8 * i + 2] = f.jt;
        bytes[8 * i + 3] = f.jf;
        v.setUint32(8 * i + 4, f.k, true);
      });
      return { kind: 'bytes', bytes: chance(rnd, 0.5) ? mutate(rnd, bytes) : bytes };
    }
    // malformed structures, as a library caller could pass them
    const prog: unknown[] = randomClassic(rnd).slice(0, 8);
    const f = { ...(prog[int(rnd, prog.length)] as SockFilter) } as Record<string, unknown>;
    const field = pick(rnd, ['code', 'jt', 'jf', 'k']);
    if (chance(rnd, 0.8)) f[field] = pick(rnd, BAD_VALUES);
    else delete f[field];
    prog[int(rnd, prog.length)] = chance(rnd, 0.85) ? f : pick(rnd, [null, undefined, 7, 'ret', []]);
    if (chance(rnd, 0.1)) delete prog[int(rnd, prog.length)];
    return { kind: 'filters', prog: chance(rnd, 0.95) ? prog : pick(rnd, [null, undefined, 'ret #0', { length: 2 }, new Uint8Array(8)]) };
  },
  exercise(input) {
    let prog: SockFilter[];
    if (input.kind === 'text') prog = parseClassicText(input.text);
    else if (input.kind === 'bytes') prog = decodeClassic(input.bytes);
    else prog = input.prog as SockFilter[];
    checkClassic(prog);
    const { insns } = convertClassic(prog);
    encode(insns);
    disassembleClassic(prog);
    formatDd(prog);
  },
  show(i) {
    if (i.kind === 'text') return `text ${JSON.stringify(i.text)}`;
    if (i.kind === 'bytes') return `raw ${showBytes(i.bytes)}`;
    return `filters ${showValue(i.prog)}`;
  },
  *shrink(i) {
    if (i.kind === 'text') {
      for (const text of shrinkText(i.text)) yield { kind: 'text', text };
    } else if (i.kind === 'bytes') {
      for (const bytes of shrinkBytes(i.bytes)) if (bytes.length % 8 === 0) yield { kind: 'bytes', bytes };
    } else if (Array.isArray(i.prog)) {
      const prog = i.prog;
      for (let k = 0; k < prog.length; k++) yield { kind: 'filters', prog: [...prog.slice(0, k), ...prog.slice(k + 1)] };
    }
  },
};

/** JSON-ish, but showing undefined, NaN, bigint, holes and typed arrays as what they are. */
function showValue(v: unknown, depth = 0): string {
  if (depth > 6) return '…';
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'function') return 'function';
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})[${hexOf(v.subarray(0, 64))}${v.length > 64 ? '…' : ''}]`;
  if (Array.isArray(v)) {
    const items: string[] = [];
    for (let i = 0; i < Math.min(v.length, 40); i++) items.push(i in v ? showValue(v[i], depth + 1) : '<hole>');
    return `[${items.join(', ')}${v.length > 40 ? `, … ${v.length} items` : ''}]`;
  }
  if (typeof v === 'object' && v !== null) {
    const proto = Object.getPrototypeOf(v);
    const tag = proto === null ? 'null-proto ' : proto === Object.prototype ? '' : `${(proto as { constructor?: { name?: string } }).constructor?.name ?? '?'} `;
    return `${tag}{${Object.keys(v).map((k) => `${JSON.stringify(k)}: ${showValue((v as Record<string, unknown>)[k], depth + 1)}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? String(v);
}

// ---- asm ----

const ASM_VOCAB = [
  ...NUMBERS, 'r0', 'r1', 'r10', 'r11', 'r16', 'r99', '%r0', '%r10', '%r11', 'w0', 'w11', 'constructor', '__proto__', 'toString', 'hasOwnProperty',
  'valueOf', 'exit', 'call', 'goto', 'ja', 'jeq', 'mov', 'mov32', 'lddw', 'ldxdw', 'stxw', 'lock', 'fetch', 'add', 'xchg', 'cmpxchg', 'be16', 'le64',
  'be', 'le', 'neg', 'u8', 'u16', 'u32', 'u64', 's8', 'u128', 'pc', 'pc+', 'll', 'if', 'r10 -8', '[%r10-8]', '*(u64 *)', 'label:', '__proto__:',
  'constructor:', 'goto __proto__', 'ja constructor', 'call constructor', 'call -1', '+32767', '-32769', '65536', '(85)', '(ff)', '0:', '99999:',
];

const asm: Harness<string> = {
  generate(rnd) {
    const base = pick(rnd, seeds().asm);
    if (chance(rnd, 0.1)) {
      const lines = Array.from({ length: 1 + int(rnd, 8) }, () => Array.from({ length: 1 + int(rnd, 5) }, () => pick(rnd, ASM_VOCAB)).join(pick(rnd, [' ', ', ', ''])));
      return lines.join('\n');
    }
    let text = base;
    for (let n = 1 + int(rnd, 3); n > 0; n--) text = mutateText(rnd, text, ASM_VOCAB);
    return text;
  },
  exercise(text) {
    const insns = assemble(text);
    encode(insns);
    disasm(insns);
  },
  show: (t) => JSON.stringify(t),
  shrink: shrinkText,
};

// ---- spec ----

const SPEC_SEEDS = [
  { insns: ['b700000007000000', '9500000000000000'] },
  {
    prog_type: 'socket_filter',
    license: 'GPL',
    maps: [{ type: 'hash', key_size: 4, value_size: 8, max_entries: 16 }],
    insns: ['1801000000000000', '0000000000000000', '620afcff00000000', 'bfa2000000000000', '07020000fcffffff', '8500000001000000', 'b700000000000000', '9500000000000000'],
    fixups: [[0, 0]],
  },
  { prog_type: 'unspec', name: 'x', description: 'y', maps: [{ type: 'array', key_size: 4, value_size: 4, max_entries: 1, flags: 0, name: 'a' }], insns: ['1801000000000000', '0000000000000000', 'b700000000000000', '9500000000000000'], fixups: [[0, 0]] },
];

const SPEC_VALUES: readonly unknown[] = [null, true, 0, -1, 1.5, 2 ** 32, 2 ** 53, 1e308, -0, '', 'hash', 'array', 'socket_filter', 'unspec', '__proto__',
  '1801000000000000', 'ffffffffffffffff', '0000000000000000', 'b70000000700000', {}, [], [null], [0, 0], [[0, 0]], [[0, 1]], [[1, 0]], [[0, 0, 0]], [[-1, 0]], [[0.5, 0]]];

/** A fresh copy: the table's objects and arrays must not be shared between inputs (or grow into cycles). */
const specValue = (rnd: Rnd): unknown => structuredClone(pick(rnd, SPEC_VALUES));

/** Mutate a JSON value in place at a random node: replace, delete, add keys (including own `__proto__`). */
function mutateJson(rnd: Rnd, doc: unknown): unknown {
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => { nodes.push({ parent: v, key: i }); walk(x); });
    else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) { nodes.push({ parent: v as Record<string, unknown>, key: k }); walk((v as Record<string, unknown>)[k]); }
  };
  const root = { root: doc } as Record<string, unknown>;
  walk(root);
  for (let n = 1 + int(rnd, 3); n > 0; n--) {
    const { parent, key } = pick(rnd, nodes);
    const r = rnd();
    const p = parent as Record<string | number, unknown>;
    if (r < 0.55) p[key] = specValue(rnd);
    else if (r < 0.7) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
    } else if (r < 0.85) {
      const target = p[key];
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
        Object.defineProperty(target, pick(rnd, ['__proto__', 'constructor', 'toString', 'insns', 'maps', 'key_size', 'fixups']), { value: specValue(rnd), enumerable: true, configurable: true, writable: true });
      } else if (Array.isArray(target)) {
        target.push(specValue(rnd));
      }
    } else if (Array.isArray(parent) && chance(rnd, 0.5)) {
      parent.push(...Array.from({ length: int(rnd, 3) + 1 }, () => parent[int(rnd, parent.length)]));
    } else {
      // through JSON: String() throws on an object whose toString was replaced
      const json = JSON.stringify(p[key]) ?? '';
      p[key] = chance(rnd, 0.5) ? json : Number(json);
    }
  }
  return root['root'];
}

const spec: Harness<string> = {
  generate(rnd) {
    const doc = structuredClone(pick(rnd, SPEC_SEEDS)) as unknown;
    if (chance(rnd, 0.05)) return JSON.stringify(doc);
    let text = JSON.stringify(mutateJson(rnd, doc)) ?? 'undefined';
    if (chance(rnd, 0.25)) text = mutateText(rnd, text, ['{', '}', '[', ']', '"', ',', ':', 'null', '"insns"', '"maps"', '"__proto__"', ...NUMBERS]);
    return text;
  },
  exercise(text) {
    loadProgramInput(parseProgram(new TextEncoder().encode(text)));
  },
  show: (t) => t,
  shrink: shrinkText,
};

// ---- attr ----

interface AttrCall {
  cmd: unknown;
  attr: unknown;
}

const ATTR_VALUES: readonly unknown[] = [
  null, undefined, 0, 1, -1, 3, 4, 5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 53, -(2 ** 31) - 1, 0n, 1n, -1n, 2n ** 64n, 2n ** 63n,
  '', '0', 'GPL', '__proto__', true, false, {}, [], [null], [0], [1, 2], new Array(3), new Uint8Array(0), new Uint8Array(4), new Uint8Array(8), new Uint8Array(16),
  new Uint8Array(7), new Int8Array(8), new Uint16Array(4), new ArrayBuffer(8), new DataView(new ArrayBuffer(8)), Symbol('x'), () => 0,
  { valueOf: () => 4 }, { length: 8 }, Object.create(null),
];

function templates(rnd: Rnd, fds: number[]): Record<number, Record<string, unknown>> {
  const fd = (): unknown => (chance(rnd, 0.85) && fds.length > 0 ? pick(rnd, fds) : pick(rnd, [0, 1, 2, 3, 99, -1, 2 ** 32, 1.5, '3']));
  const buf = (n: number): Uint8Array => randomBytes(rnd, chance(rnd, 0.85) ? n : int(rnd, 2 * n + 1));
  const insns = (): unknown => {
    const r = rnd();
    if (r < 0.4) return encodeSlots([{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    if (r < 0.6) return [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: int(rnd, 9) }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
    if (r < 0.75) return encodeSlots([{ code: 0x18, dst: 1, src: 1, off: 0, imm: fds.length ? pick(rnd, fds) : 3 }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    return randomBytes(rnd, 8 * int(rnd, 6));
  };
  return {
    0: chance(rnd, 0.7)
      ? { map_type: pick(rnd, [1, 2]), key_size: 4, value_size: pick(rnd, [4, 8]), max_entries: pick(rnd, [1, 4, 64]) }
      : { map_type: pick(rnd, [1, 2, 0, 3]), key_size: pick(rnd, [4, 8, 1, 0, 600]), value_size: pick(rnd, [4, 8, 1, 0, 1 << 20]), max_entries: pick(rnd, [1, 4, 64, 0]), map_flags: pick(rnd, [0, 0, 1]) },
    1: { map_fd: fd(), key: buf(4), value: buf(8) },
    2: { map_fd: fd(), key: buf(4), value: buf(8), flags: pick(rnd, [0, 1, 2, 3, 0n, 2n ** 32n]) },
    3: { map_fd: fd(), key: buf(4) },
    4: { map_fd: fd(), key: chance(rnd, 0.3) ? null : buf(4), next_key: buf(4) },
    5: { prog_type: pick(rnd, [0, 1, 2]), insns: insns(), license: pick(rnd, ['GPL', 'MIT', new TextEncoder().encode('GPL\0'), '']), log_level: pick(rnd, [0, 1, 2]), log_size: pick(rnd, [0, 64, 1 << 16]), log_buf: chance(rnd, 0.5) ? new Uint8Array(pick(rnd, [0, 64, 1 << 16])) : null },
  };
}

/**
 * The modern profile's attributes (issue 17): every map type of the table
 * with sizes around its rules, map_flags bits, inner maps, names, null keys,
 * fd values, BPF_MAP_LOOKUP_AND_DELETE_ELEM (21) and BPF_MAP_FREEZE (22);
 * the batch commands (24-27, issue 21): cursors of every size, counts
 * around the map's, buffers short and long, elem_flags and flags.
 */
function modernTemplates(rnd: Rnd, fds: number[]): Record<number, Record<string, unknown>> {
  const t = templates(rnd, fds);
  const fd = (): unknown => (chance(rnd, 0.85) && fds.length > 0 ? pick(rnd, fds) : pick(rnd, [0, 1, 2, 99, -1, 1.5]));
  const size = (n: number): number => (chance(rnd, 0.7) ? n : pick(rnd, [0, 1, 4, 5, 8, 12, 260, 261, 4096, 32769, 2 ** 31]));
  const type = pick(rnd, [1, 2, 3, 5, 6, 9, 10, 11, 12, 13, 22, 23, 27, 7, 33]);
  const keySize = { 11: 8, 22: 0, 23: 0, 27: 0 }[type] ?? 4;
  const valueSize = { 27: 0 }[type] ?? (type === 3 || type === 12 || type === 13 ? 4 : pick(rnd, [4, 8, 13]));
  const maxEntries = type === 27 ? pick(rnd, [4096, 8192, 4095, 1 << 20]) : pick(rnd, [1, 4, 64]);
  const flags = type === 11 ? 1 : chance(rnd, 0.6) ? 0 : pick(rnd, [1, 2, 4, 8, 16, 24, 64, 128, 1024, 4096, 0xffffffff]);
  // values: random bytes, an fd (prog arrays, maps of maps), or every CPU's (per-CPU maps: up to 4 CPUs of 16 bytes)
  const value = (): unknown => pick(rnd, [randomBytes(rnd, pick(rnd, [0, 4, 8, 16, 64])), Uint8Array.from([pick(rnd, [3, 4, 5, 6, 99, 0]), 0, 0, 0]), null]);
  const key = (): unknown => pick(rnd, [null, randomBytes(rnd, pick(rnd, [0, 4, 8])), Uint8Array.from([pick(rnd, [0, 8, 32, 33]), 0, 0, 0, 10, 1, 2, 3])]);
  return {
    ...t,
    0: {
      map_type: type, key_size: size(keySize), value_size: size(valueSize), max_entries: size(maxEntries), map_flags: flags,
      ...(chance(rnd, 0.4) ? { inner_map_fd: fd() } : {}),
      ...(chance(rnd, 0.2) ? { map_name: pick(rnd, ['counts', 'a.b_c', 'bad-name', 'x'.repeat(16), '', 7]) } : {}),
      ...(chance(rnd, 0.1) ? { numa_node: pick(rnd, [0, 1]), map_extra: pick(rnd, [0, 1]) } : {}),
    },
    1: { map_fd: fd(), key: key(), value: value(), flags: pick(rnd, [0, 0, 4, 1]) },
    2: { map_fd: fd(), key: key(), value: value(), flags: pick(rnd, [0, 1, 2, 3, 4, 2n ** 32n]) },
    3: { map_fd: fd(), key: key() },
    4: { map_fd: fd(), key: key(), next_key: randomBytes(rnd, pick(rnd, [0, 4, 8])) },
    21: { map_fd: fd(), key: key(), value: value(), flags: pick(rnd, [0, 0, 4]) },
    22: { map_fd: fd() },
    ...Object.fromEntries([24, 25, 26, 27].map((cmd) => {
      const count = pick(rnd, [0, 1, 2, 3, 4, 64, 65, 2 ** 32 - 1, -1]);
      const n = (per: number): unknown => (chance(rnd, 0.8) ? randomBytes(rnd, per * pick(rnd, [0, 1, 2, 4, 64])) : pick(rnd, ATTR_VALUES));
      return [cmd, {
        map_fd: fd(), count,
        keys: n(pick(rnd, [4, 8])), values: n(pick(rnd, [4, 8, 16, 64])),
        in_batch: pick(rnd, [null, null, randomBytes(rnd, pick(rnd, [0, 3, 4, 8])), Uint8Array.from([pick(rnd, [0, 1, 63, 64, 255]), 0, 0, 0])]),
        out_batch: pick(rnd, [randomBytes(rnd, pick(rnd, [0, 4, 8])), null]),
        elem_flags: pick(rnd, [0, 0, 0, 1, 2, 3, 4, 2n ** 32n]), flags: pick(rnd, [0, 0, 0, 1]),
      }];
    })),
  };
}

const MODERN_CMDS = [0, 0, 1, 2, 2, 3, 4, 5, 21, 21, 22, 24, 24, 25, 26, 26, 27];

/** A sequence of calls on one system: map creations first (so fds exist), then anything. Some systems model the modern profile. */
function attrCalls(rnd: Rnd): AttrCall[] {
  const calls: AttrCall[] = [];
  const fds = [3, 4, 5, 6];
  const modern = chance(rnd, 0.5);
  if (modern) calls.push({ cmd: 'system', attr: { profile: 'modern', cpus: pick(rnd, [1, 2, 4]) } });
  for (let n = 1 + int(rnd, modern ? 16 : 10); n > 0; n--) {
    const t = modern ? modernTemplates(rnd, fds) : templates(rnd, fds);
    const r = rnd();
    let cmd: unknown = r < 0.9 ? (modern ? pick(rnd, MODERN_CMDS) : int(rnd, 6)) : pick(rnd, [6, -1, 1.5, NaN, '0', 'BPF_MAP_CREATE', 'BPF_PROG_LOAD', 'BPF_MAP_FREEZE', 'constructor', '__proto__', 'toString', null, undefined, 2 ** 32, 0n]);
    if (calls.length < (modern ? 4 : 2) && chance(rnd, 0.7)) cmd = 0;
    const base = typeof cmd === 'number' && t[cmd] !== undefined ? t[cmd]! : t[int(rnd, 6)]!;
    let attr: unknown = { ...base };
    const a = attr as Record<string, unknown>;
    // half the calls unmutated, so maps exist and programs load for the later calls to use
    for (let m = chance(rnd, 0.5) ? 0 : 1 + int(rnd, 3); m > 0; m--) {
      const keys = Object.keys(a);
      const k = rnd();
      if (k < 0.6 && keys.length > 0) a[pick(rnd, keys)] = pick(rnd, ATTR_VALUES);
      else if (k < 0.75 && keys.length > 0) delete a[pick(rnd, keys)];
      else if (k < 0.85) Object.defineProperty(a, pick(rnd, ['__proto__', 'constructor', 'insn_cnt', 'flags', 'key', 'map_fd', 'x']), { value: pick(rnd, ATTR_VALUES), enumerable: true, configurable: true, writable: true });
      else if (k < 0.9 && Array.isArray(a['insns'])) {
        const insns = (a['insns'] as unknown[]).slice();
        insns[int(rnd, insns.length + 1)] = pick(rnd, [null, undefined, 0, {}, { code: 0x95 }, { code: 'x', dst: 0, src: 0, off: 0, imm: 0 }, { code: 0xb7, dst: 99, src: 0, off: 0, imm: 0 },
          { code: 0xb7, dst: 0, src: 0, off: 0, imm: pick(rnd, [1.5, 2 ** 40, 5n, NaN, '1', null]) }, { code: 0x18, dst: 1, src: 0, off: 0, imm: 0, imm2: pick(rnd, [undefined, null, 1.5, 2 ** 40, 1n]) },
          { code: 0x18, dst: 1, src: 1, off: 0, imm: 3 }, { code: 0xbf, dst: 0, src: -1, off: 0, imm: 0 }, { code: 0x05, dst: 0, src: 0, off: 0.5, imm: 0 }]);
        a['insns'] = insns;
      } else if (k < 0.95) {
        a[pick(rnd, Object.keys(t[int(rnd, 6)]!))] = pick(rnd, ATTR_VALUES);
      } else {
        attr = pick(rnd, [null, undefined, 0, 'attr', [], new Uint8Array(8), Object.create(null)]);
        break;
      }
    }
    calls.push({ cmd, attr });
    if (chance(rnd, 0.15)) calls.push({ cmd: 'close', attr: pick(rnd, [...fds, 0, 99, -1, 1.5, '3', null]) });
  }
  return calls;
}

/** attr's calls by outcome ('ok' or the errno), over the whole run: one input is a sequence of calls. */
export const attrCallOutcomes: Record<string, number> = {};

const attr: Harness<AttrCall[]> = {
  generate: attrCalls,
  exercise(calls) {
    const first = calls[0];
    const sys = first?.cmd === 'system' ? smallSystem(first.attr as { profile: string; cpus: number }) : smallSystem();
    for (const call of calls) {
      if (call.cmd === 'system') continue;
      try {
        if (call.cmd === 'close') sys.close(call.attr as number);
        else sys.bpf(call.cmd as number, call.attr as object);
        attrCallOutcomes['ok'] = (attrCallOutcomes['ok'] ?? 0) + 1;
      } catch (e) {
        if (e instanceof BpfError) {
          attrCallOutcomes[e.code] = (attrCallOutcomes[e.code] ?? 0) + 1;
          continue;
        }
        throw e;
      }
    }
  },
  show: (calls) => calls.map((c) => `bpf(${showValue(c.cmd)}, ${showValue(c.attr)})`).join('\n'),
  *shrink(calls) {
    for (let i = 0; i < calls.length; i++) yield [...calls.slice(0, i), ...calls.slice(i + 1)];
    for (let i = 0; i < calls.length; i++) {
      const a = calls[i]!.attr;
      if (typeof a === 'object' && a !== null && !ArrayBuffer.isView(a)) {
        for (const k of Object.keys(a)) {
          const b = { ...(a as Record<string, unknown>) };
          delete b[k];
          yield calls.map((c, j) => (j === i ? { cmd: c.cmd, attr: b } : c));
        }
      }
    }
  },
};

// ---- btf ----

/** A .BTF section and maybe its .BTF.ext, as one input. */
interface BtfInput {
  btf: Uint8Array;
  ext?: Uint8Array;
}

let btfSeedCache: BtfInput[] | undefined;
/** The .BTF and .BTF.ext of every object compiled with -g (test/c/*.o, examples/modern.o). */
function btfSeeds(): BtfInput[] {
  if (btfSeedCache) return btfSeedCache;
  const files = [
    ...readdirSync(join(projectRoot(), 'test', 'c')).filter((f) => f.endsWith('.o')).sort().map((f) => join(projectRoot(), 'test', 'c', f)),
    join(projectRoot(), 'examples', 'modern.o'),
  ];
  btfSeedCache = files.flatMap((f) => {
    const elf = parseElf(new Uint8Array(readFileSync(f)));
    const btf = elf.sectionByName('.BTF')?.data();
    const ext = elf.sectionByName('.BTF.ext')?.data();
    return btf ? [ext ? { btf: btf.slice(), ext: ext.slice() } : { btf: btf.slice() }] : [];
  });
  return btfSeedCache;
}

/** The offsets of a section's header words and its first 1024 words, for field mutations. */
function wordFields(b: Uint8Array): { at: number; width: 1 | 2 | 4 | 8 }[] {
  return Array.from({ length: Math.min(1024, b.length >> 2) }, (_, i) => ({ at: 4 * i, width: 4 as const }));
}

const BTF_NAMES = ['int', 'x', '', 'unsigned int', '__u32', 'a.c', '  return 0;', '\n', '__proto__', 'xdp', '0:1:2', 'main'];

/** A random type table: every kind, with counts, sizes, offsets and type ids often wrong. */
function randomBtfInput(rnd: Rnd): BtfInput {
  const strings = new Strings();
  for (const n of BTF_NAMES) strings.add(n);
  const types: RawType[] = [];
  const n = 1 + int(rnd, 24);
  const id = (): number => (chance(rnd, 0.9) ? int(rnd, n + 1) : pick(rnd, [n + 1, 0xfffff, 0xffffffff]));
  const u32 = (): number => (chance(rnd, 0.7) ? pick(rnd, [0, 1, 2, 4, 8, 16, 32, 64]) : Number(pick(rnd, INTERESTING_U64) & 0xffffffffn));
  const name = (): string => pick(rnd, BTF_NAMES);
  for (let i = 0; i < n; i++) {
    const kind = chance(rnd, 0.95) ? 1 + int(rnd, 19) : int(rnd, 32);
    const vlen = chance(rnd, 0.9) ? int(rnd, 4) : u32() & 0xffff;
    const kindFlag = chance(rnd, 0.3);
    const t: RawType = { name: name(), kind, vlen, kindFlag, sizeOrType: chance(rnd, 0.5) ? id() : u32() };
    switch (kind) {
      case 1: t.sizeOrType = pick(rnd, [1, 2, 4, 8, 16, 3]); t.extra = [(int(rnd, 8) << 24) | (int(rnd, 4) * 8 << 16) | pick(rnd, [1, 8, 16, 32, 64, 128, 0, 200])]; break;
      case 3: t.extra = [id(), id(), u32()]; break;
      case 4: case 5: t.extra = Array.from({ length: vlen }, () => [name(), id(), chance(rnd, 0.5) ? int(rnd, 64) : u32()]).flat(); break;
      case 6: t.extra = Array.from({ length: vlen }, () => [name(), u32()]).flat(); break;
      case 19: t.extra = Array.from({ length: vlen }, () => [name(), u32(), u32()]).flat(); break;
      case 13: t.extra = Array.from({ length: vlen }, () => [name(), chance(rnd, 0.2) ? 0 : id()]).flat(); break;
      case 14: case 17: t.extra = [chance(rnd, 0.8) ? int(rnd, 3) : u32()]; break;
      case 15: t.extra = Array.from({ length: vlen }, () => [id(), u32(), u32()]).flat(); break;
      default: break;
    }
    if (kind === 12 && chance(rnd, 0.8)) t.vlen = int(rnd, 3);
    types.push(t);
  }
  const btf = writeBtf(types, strings);
  if (chance(rnd, 0.3)) return { btf };
  const funcIds = types.map((t, i) => (t.kind === 12 ? i + 1 : -1)).filter((x) => x > 0);
  const insn = (): number => (chance(rnd, 0.9) ? 8 * int(rnd, 32) : u32());
  const sec = (): string => pick(rnd, ['xdp', 'a.c', '', '__proto__']);
  const sorted = (k: number, f: (off: number) => (number | string)[]): (number | string)[][] => {
    const offs = Array.from({ length: k }, insn).sort((a, b) => a - b);
    return offs.map(f);
  };
  const ext = writeBtfExt({
    func: chance(rnd, 0.8) ? [{ section: sec(), records: sorted(1 + int(rnd, 3), (o) => [o, funcIds.length && chance(rnd, 0.9) ? pick(rnd, funcIds) : id()]) }] : [],
    line: chance(rnd, 0.8) ? [{ section: sec(), records: sorted(1 + int(rnd, 6), (o) => [o, name(), name(), u32()]) }] : [],
    core: chance(rnd, 0.3) ? [{ section: sec(), records: sorted(1 + int(rnd, 2), (o) => [o, id(), name(), int(rnd, 15)]) }] : [],
  }, strings);
  // the ext's strings were added after the BTF was written: write it again with them
  return { btf: writeBtf(types, strings), ext };
}

/** A BpfError (one line) from a query over a table that read is an answer, not a problem: the other queries still run. */
function tolerate(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof BpfError) || /[\n\r\u2028\u2029]/.test(e.message)) throw e;
  }
}

const btfHarness: Harness<BtfInput> = {
  generate(rnd) {
    if (chance(rnd, 0.35)) {
      const r = randomBtfInput(rnd);
      return chance(rnd, 0.5) ? r : { ...r, btf: mutate(rnd, r.btf, wordFields(r.btf)) };
    }
    const seeds = btfSeeds();
    const base = pick(rnd, seeds);
    const which = rnd();
    const btf = which < 0.5 ? mutate(rnd, base.btf, wordFields(base.btf), pick(rnd, seeds).btf) : base.btf;
    const ext = base.ext && which >= 0.4 ? mutate(rnd, base.ext, wordFields(base.ext), pick(rnd, seeds).ext) : base.ext;
    return ext ? { btf, ext } : { btf };
  },
  exercise(input) {
    const btf = new Btf(input.btf);
    for (let id = 0; id <= btf.count + 1; id++) {
      tolerate(() => btf.typeName(id));
      tolerate(() => btf.resolve(id));
      tolerate(() => btf.sizeOf(id));
      // values of the type: a codec, bytes decoded and encoded back, bpftool's view of them
      if (id < 256) {
        tolerate(() => {
          const c = btfCodec(btf, id);
          if (c.size > 1 << 16) return;
          for (const fill of [0, 0xa5]) {
            const bytes = new Uint8Array(c.size).fill(fill);
            c.encode(c.decode(bytes));
            const node = btfDump(btf, id, bytes);
            btfJson(node);
            btfText(node);
          }
        });
      }
    }
    if (!input.ext) return;
    const ext = parseBtfExt(input.ext, btf);
    const info = new ObjectDebugInfo(ext);
    for (const [section, lines] of ext.lineInfo) {
      const last = lines.at(-1)?.insn ?? 0;
      for (const run of [{ section, sectionInsn: 0, count: last + 1, progInsn: 0 }, { section, sectionInsn: last >> 1, count: 4, progInsn: 3 }]) {
        const prog = info.program([run]);
        if (!prog) continue;
        const printer = new SourceLinePrinter(prog.lineInfo);
        for (let i = 0; i < Math.min(run.count + 3, 4096); i++) printer.at(i);
      }
    }
  },
  show: (input) => `btf ${showBytes(input.btf)}${input.ext ? `; ext ${showBytes(input.ext)}` : ''}`,
  *shrink(input) {
    if (input.ext) {
      for (const ext of shrinkBytes(input.ext)) yield { ...input, ext };
      yield { btf: input.btf };
    }
    for (const btf of shrinkBytes(input.btf)) yield input.ext ? { btf, ext: input.ext } : { btf };
  },
};

// ---- filter: tcpdump expressions ----

interface FilterInput {
  text: string;
  linktype: string;
}

const FILTER_VOCAB = ['and', 'or', 'not', '!', '&&', '||', '(', ')', '[', ']', ':', '=', '!=', '<', '>', '<=', '>=', '+', '-', '*', '/', '%',
  '&', '|', '^', '<<', '>>', 'host', 'net', 'port', 'portrange', 'proto', 'src', 'dst', 'ether', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp',
  'icmp', 'icmp6', 'sctp', 'vlan', 'len', 'less', 'greater', 'broadcast', 'multicast', 'mask', 'tcpflags', 'tcp-syn', 'icmptype',
  '1.2.3.4', '10/8', '10.0.0.0/33', 'fe80::1', 'fe80::/200', '::', 'aa:bb:cc:dd:ee:ff', '1-100', '65536-1', 'http', 'gateway', 'x', '\\tcp',
  '0', '1', '4', '0xffffffff', '4294967296', '0777', '255', '4095', '4096'];
let filterFrames: Uint8Array[] | undefined;
let filterSys: BpfSystem | undefined;

const filter: Harness<FilterInput> = {
  generate(rnd) {
    const linktype = pick(rnd, FILTER_LINKTYPES);
    if (chance(rnd, 0.6)) {
      const base = pick(rnd, ETHER_EXPRS);
      return { text: chance(rnd, 0.85) ? mutateText(rnd, base, [...FILTER_VOCAB, ...NUMBERS]) : base, linktype };
    }
    const n = 1 + int(rnd, 14);
    return { text: Array.from({ length: n }, () => pick(rnd, FILTER_VOCAB)).join(chance(rnd, 0.8) ? ' ' : ''), linktype };
  },
  exercise(input) {
    const prog = compileFilter(input.text, input.linktype);
    checkClassic(prog);
    filterFrames ??= etherFrames(24, 3);
    const want = filterFrames.map((f) => runClassic(prog, f));
    // the same expression compiled straight to eBPF: the 3.19 verifier accepts it, and it gives the classic verdicts
    filterSys ??= new BpfSystem();
    const p = Program.load(filterSys, { type: 'socket_filter', insns: encode(compileFilterEbpf(input.text, input.linktype)), license: 'GPL' });
    try {
      const got = p.runBatch(filterFrames.map((data) => ({ data, netOff: -1 })), 'interpreter');
      const bad = want.findIndex((v, i) => got[i] !== v);
      if (bad !== -1) throw new Error(`direct eBPF returns ${got[bad]} on frame ${bad}, the classic program ${want[bad]}`);
    } finally {
      p.close();
    }
  },
  show: (i) => `${i.linktype} ${JSON.stringify(i.text)}`,
  *shrink(i) {
    for (const text of shrinkText(i.text)) yield { text, linktype: i.linktype };
  },
};

export const HARNESSES: Record<Target, Harness<unknown>> = { elf, pcap, cbpf, asm, spec, attr, btf: btfHarness, filter, shmaps: shmapsHarness, steer: steerHarness } as Record<Target, Harness<unknown>>;

// ---- running ----

/** Whether an outcome is acceptable: a return, or a BpfError with a known errno and one non-empty line. */
function verdict(e: unknown): string | undefined {
  if (e === undefined) return undefined;
  if (e instanceof BpfError) {
    if (!(e.code in ERRNO)) return `BpfError with unknown code ${String(e.code)}`;
    if (e.message === '' || /[\n\r\u2028\u2029]/.test(e.message)) return `BpfError ${e.code} whose message is not one line: ${JSON.stringify(e.message.slice(0, 200))}`;
    return undefined;
  }
  if (e instanceof Error) return `${e.name}: ${e.message.split('\n')[0]}`;
  return `non-Error thrown: ${String(e)}`;
}

/** Digits and quoted bits vary between inputs of one bug: the class key drops them. */
const classOf = (what: string): string => what.replace(/0x[0-9a-f]+|\d+/gi, 'N').replace(/'[^']*'|"[^"]*"/g, 'S').slice(0, 160);

async function outcome<I>(h: Harness<I>, input: I): Promise<{ what?: string; error?: unknown; ms: number }> {
  const t0 = performance.now();
  let error: unknown;
  try {
    const r = h.exercise(input);
    if (r instanceof Promise) await r;
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  const what = verdict(error);
  if (what !== undefined) return { what, error, ms };
  if (ms > SLOW_MS) return { what: `slow: ${Math.round(ms)} ms for one input`, ms };
  const rss = process.memoryUsage.rss();
  if (rss > RSS_LIMIT) return { what: `memory: resident set ${Math.round(rss / 2 ** 20)} MiB after one input`, ms };
  return { error, ms };
}

/** Greedy shrinking: take the first smaller input that fails the same way, until none does (bounded in time). */
async function shrink<I>(h: Harness<I>, input: I, what: string, budgetMs = 10_000, tick: () => void = () => undefined): Promise<I> {
  const key = classOf(what);
  const stop = performance.now() + budgetMs;
  let best = input;
  for (let improved = true; improved && performance.now() < stop;) {
    improved = false;
    for (const c of h.shrink(best)) {
      if (performance.now() > stop) break;
      tick();
      const o = await outcome(h, c);
      if (o.what !== undefined && classOf(o.what) === key && !/^(slow|memory)/.test(o.what)) {
        best = c;
        improved = true;
        break;
      }
    }
  }
  return best;
}

export interface RunOptions {
  seed: number;
  /** inputs to try (Infinity: until stopAt) */
  count: number;
  /** Date.now() at which to stop */
  stopAt?: number;
  /** the first input's index (a worker resuming after a hang) */
  start?: number;
  /** called with the index before each input, and with no argument before each run of a shrinking candidate (the watchdog's heartbeat) */
  onInput?: (index?: number) => void;
  /** keep at most this many problems of one class */
  perClass?: number;
  shrinkMs?: number;
  /** called about once a second with the result so far (a worker reports it, in case it dies) */
  onProgress?: (partial: TargetResult) => void;
}

export async function runTarget(target: Target, opts: RunOptions): Promise<TargetResult> {
  return runHarness(target, HARNESSES[target], opts);
}

/** The loop of runTarget over any harness (the tests give it one that fails on purpose). */
export async function runHarness<I>(target: Target, h: Harness<I>, opts: RunOptions): Promise<TargetResult> {
  const res: TargetResult = { target, tried: 0, accepted: 0, refused: {}, problems: [] };
  if (target === 'attr') for (const k of Object.keys(attrCallOutcomes)) delete attrCallOutcomes[k];
  const perClass = new Map<string, number>();
  const stopAt = opts.stopAt ?? Infinity;
  let lastProgress = Date.now();
  // the first input runs even past the deadline: a worker that took the whole budget to start
  // (a loaded machine) still tries one, so that a short run reports what it met
  const first = opts.start ?? 0;
  for (let i = first; i < first + opts.count && (i === first || Date.now() < stopAt); i++) {
    opts.onInput?.(i);
    if (opts.onProgress && Date.now() - lastProgress > 1000) {
      lastProgress = Date.now();
      opts.onProgress(structuredClone({ ...res, calls: target === 'attr' ? { ...attrCallOutcomes } : undefined }));
    }
    const input = h.generate(prng(mix(opts.seed, i)));
    const o = await outcome(h, input);
    res.tried++;
    if (o.what === undefined) {
      if (o.error instanceof BpfError) res.refused[o.error.code] = (res.refused[o.error.code] ?? 0) + 1;
      else res.accepted++;
      continue;
    }
    const key = classOf(o.what);
    const seen = perClass.get(key) ?? 0;
    perClass.set(key, seen + 1);
    if (seen >= (opts.perClass ?? 3)) continue;
    const small = /^(slow|memory)/.test(o.what) ? input : await shrink(h, input, o.what, opts.shrinkMs, () => opts.onInput?.());
    const what = small === input ? o.what : (await outcome(h, small)).what ?? o.what;
    res.problems.push({ target, seed: opts.seed, index: i, what, input: h.show(small) });
  }
  if (target === 'attr') res.calls = { ...attrCallOutcomes };
  return res;
}

/** The input a (target, seed, index) names, printable: what --replay shows. */
export function replayInput(target: Target, seed: number, index: number): string {
  const h = HARNESSES[target];
  return h.show(h.generate(prng(mix(seed, index))));
}

// ---- the command ----

interface WorkerJob {
  target: Target;
  seed: number;
  start: number;
  stopAt: number;
  heartbeat: SharedArrayBuffer;
}

/** Each target in a worker, watched: no heartbeat for HANG_MS is a hang, a dead worker a blow-up. */
const HANG_MS = 15_000;
const WORKER_HEAP_MB = 1024;

async function runWatched(target: Target, seed: number, seconds: number): Promise<TargetResult> {
  const total: TargetResult = { target, tried: 0, accepted: 0, refused: {}, problems: [] };
  const stopAt = Date.now() + seconds * 1000;
  let start = 0;
  while (Date.now() < stopAt) {
    // [0]: the input's index; [1]: bumped before every input and every shrinking candidate
    const heartbeat = new SharedArrayBuffer(8);
    const beat = new Int32Array(heartbeat);
    Atomics.store(beat, 0, start);
    const job: WorkerJob = { target, seed, start, stopAt, heartbeat };
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let partial: TargetResult | undefined;
    const done = await new Promise<{ result?: TargetResult; failure?: string }>((resolve) => {
      let last = -1;
      let lastChange = Date.now();
      const timer = setInterval(() => {
        const now = Atomics.load(beat, 1);
        if (now !== last) {
          last = now;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > HANG_MS) {
          clearInterval(timer);
          void worker.terminate();
          resolve({ failure: `hang: input ran over ${HANG_MS / 1000} s` });
        }
      }, 250);
      worker.on('message', (m: { partial?: TargetResult; result?: TargetResult }) => {
        if (m.partial) {
          partial = m.partial;
          return;
        }
        clearInterval(timer);
        resolve({ result: m.result! });
      });
      worker.on('error', (e) => {
        clearInterval(timer);
        resolve({ failure: `memory or worker failure: ${(e as Error).message.split('\n')[0]}` });
      });
      worker.on('exit', (code) => {
        clearInterval(timer);
        resolve({ failure: `worker exited with ${code}` });
      });
    });
    const r = done.result ?? partial;
    if (r) {
      total.tried += r.tried;
      total.accepted += r.accepted;
      for (const [k, v] of Object.entries(r.refused)) total.refused[k] = (total.refused[k] ?? 0) + v;
      if (r.calls) {
        total.calls ??= {};
        for (const [k, v] of Object.entries(r.calls)) total.calls[k] = (total.calls[k] ?? 0) + v;
      }
      total.problems.push(...r.problems);
    }
    if (done.result) break;
    const index = Atomics.load(beat, 0);
    // the inputs after the last progress report, the failing one included
    total.tried += index - start + 1 - (partial?.tried ?? 0);
    total.problems.push({ target, seed, index, what: done.failure!, input: replayInput(target, seed, index) });
    start = index + 1;
  }
  return total;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function report(r: TargetResult): string {
  const refused = Object.entries(r.refused).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  const calls = r.calls ? `; bpf() calls: ${Object.entries(r.calls).sort().map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
  let s = `${r.target}: ${r.tried} inputs, ${r.accepted} accepted, refused: ${refused || 'none'}${calls}; ${r.problems.length} problems\n`;
  for (const p of r.problems) s += `  PROBLEM ${p.target} --seed ${p.seed} --replay ${p.index}: ${p.what}\n    input: ${p.input.split('\n').join('\n           ')}\n`;
  return s;
}

async function main(args: string[]): Promise<number> {
  const seconds = Number(argValue(args, '--seconds') ?? 30);
  const seed = Number(argValue(args, '--seed') ?? Date.now() % 0xffffffff) >>> 0;
  const only = argValue(args, '--target');
  const replay = argValue(args, '--replay');
  if (only !== undefined && !(TARGETS as readonly string[]).includes(only)) {
    process.stderr.write(`hostile: unknown target '${only}' (${TARGETS.join(', ')})\n`);
    return 2;
  }
  const targets = only === undefined ? [...TARGETS] : [only as Target];
  if (replay !== undefined) {
    for (const t of targets) {
      const h = HARNESSES[t];
      const input = h.generate(prng(mix(seed, Number(replay))));
      const o = await outcome(h, input);
      process.stdout.write(`${t} --seed ${seed} --replay ${replay}: ${o.what ?? (o.error instanceof BpfError ? `BpfError ${o.error.code}: ${o.error.message}` : 'accepted')} (${o.ms.toFixed(1)} ms)\n  input: ${h.show(input)}\n`);
    }
    return 0;
  }
  process.stdout.write(`hostile: seed ${seed}, ${seconds} s over ${targets.join(', ')}\n`);
  let problems = 0;
  for (const t of targets) {
    const r = await runWatched(t, seed, seconds / targets.length);
    problems += r.problems.length;
    process.stdout.write(report(r));
  }
  return problems === 0 ? 0 : 1;
}

if (!isMainThread && (workerData as WorkerJob | undefined)?.heartbeat !== undefined) {
  const job = workerData as WorkerJob;
  const beat = new Int32Array(job.heartbeat);
  const onInput = (i?: number): void => {
    if (i !== undefined) Atomics.store(beat, 0, i);
    Atomics.add(beat, 1, 1);
  };
  const onProgress = (partial: TargetResult): void => parentPort!.postMessage({ partial });
  void runTarget(job.target, { seed: job.seed, count: Infinity, start: job.start, stopAt: job.stopAt, onInput, onProgress }).then((result) => parentPort!.postMessage({ result }));
} else if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
