/**
 * Objects with bpf-to-bpf calls, global functions, callbacks and
 * `__array(values, ...)` maps (src/loader/collection.ts links them as
 * libbpf does): test/c/calls.c (built by scripts/build-kernel-progs.mjs,
 * the object committed) read as a spec, loaded under the modern profile and
 * run over frames in both engines, and by the host kernel through libbpf
 * and BPF_PROG_TEST_RUN (test/c/prog-run.c; skipped with its reason without
 * cc, libbpf or bpf(2)), comparing return values, frames and maps; the
 * linking errors on hand-made objects; the CLI's verify and run on calls.o.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import type { EngineName } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import type { BpfMap } from '../src/api/map.js';
import { Program } from '../src/api/program.js';
import { BpfError, ERRNO } from '../src/errors.js';
import { encodeSlots, isLocalCall } from '../src/isa/instruction.js';
import { MAX_LINKED_SLOTS, linkMapRefs, loadCollectionSpec } from '../src/loader/collection.js';
import type { CollectionSpec } from '../src/loader/spec.js';
import { parseCapture, writePcap } from '../src/pcap/index.js';
import { projectRoot } from './conformance-data.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';
import { slots, writeObj } from './fuzz/elf-writer.js';
import { prng } from './random-programs.js';
import type { Obj } from './fuzz/elf-writer.js';

const C_DIR = join(projectRoot(), 'test', 'c');
const OBJ = join(C_DIR, 'calls.o');
const dir = tempDir('tsbpf-calls-');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const spec = (): CollectionSpec => loadCollectionSpec(new Uint8Array(readFileSync(OBJ)));

function err(f: () => unknown): BpfError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    return e;
  }
  assert.fail('no error');
}

// ------------------------------------------------------------------ the spec

test('calls.o: programs are the global functions of program sections; .text functions are linked after each', () => {
  const s = spec();
  assert.deepEqual(Object.keys(s.programs), ['xdp_tail', 'xdp_calls', 'xdp_each', 'xdp_inner', 'xdp_jump', 'tc_calls']);
  const p = s.programs['xdp_calls']!;
  assert.deepEqual(p.functions, [
    { name: 'xdp_calls', insn: 0, global: true },
    { name: 'bump', insn: 52, global: false },
    { name: 'level1', insn: 70, global: false },
    { name: 'level2', insn: 74, global: false },
    { name: 'level3', insn: 78, global: false },
    { name: 'mix', insn: 82, global: true },
    { name: 'loop_step', insn: 89, global: false },
  ]);
  assert.deepEqual(p.origins, [
    { section: 'xdp', sectionInsn: 5, insn: 0, count: 52 },
    { section: '.text', sectionInsn: 7, insn: 52, count: 18 },
    { section: '.text', sectionInsn: 25, insn: 70, count: 4 },
    { section: '.text', sectionInsn: 68, insn: 74, count: 4 },
    { section: '.text', sectionInsn: 64, insn: 78, count: 4 },
    { section: '.text', sectionInsn: 0, insn: 82, count: 7 },
    { section: '.text', sectionInsn: 29, insn: 89, count: 16 },
  ]);
  assert.equal(p.insns.length, 105);
  // the map references of bump and mix follow them
  assert.deepEqual(p.mapRefs, [{ slot: 56, map: 'out' }, { slot: 63, map: '.bss', offset: 0 }, { slot: 84, map: '.data', offset: 0 }]);
  // every call lands on a function's first slot; the callback's ld_imm64 is BPF_PSEUDO_FUNC (src 4)
  const starts = new Set(p.functions!.map((f) => f.insn));
  const calls = p.insns.flatMap((x, i) => (isLocalCall(x) ? [i + x.imm + 1] : []));
  assert.deepEqual(calls, [52, 70, 52, 82, 52, 52, 52, 74, 78]);
  for (const t of calls) assert.ok(starts.has(t));
  const cb = p.insns.findIndex((x) => x.code === 0x18 && x.src === 4);
  assert.equal(cb + p.insns[cb]!.imm + 1, 89);
  // the tail call's target and the maps of maps: their slots, as the object fills them
  assert.deepEqual(s.maps['jumps']!.contents, [{ index: 1, name: 'xdp_tail' }]);
  // the BTF key and value types: the outer map's key, the inner map's both (its values are fds)
  const { btf: outerBtf, ...outer } = s.maps['by_index']!;
  const { btf: innerBtf, ...inner } = outer.inner!;
  assert.deepEqual([outerBtf!.btf.typeName(outerBtf!.key), outerBtf!.value], ['__u32', 0]);
  assert.deepEqual([innerBtf!.btf.typeName(innerBtf!.key), innerBtf!.btf.typeName(innerBtf!.value)], ['__u32', '__u32']);
  assert.deepEqual({ ...outer, inner }, {
    name: 'by_index', type: 12, keySize: 4, valueSize: 4, maxEntries: 3, flags: 0,
    inner: { name: 'by_index.inner', type: 2, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 },
    contents: [{ index: 0, name: 'inner_a' }, { index: 2, name: 'inner_b' }],
  });
  assert.deepEqual(s.maps['by_key']!.contents, [{ index: 1, name: 'inner_b' }, { index: 5, name: 'inner_a' }]);
  // a function reached twice is appended once
  assert.deepEqual(s.programs['xdp_tail']!.functions, [{ name: 'xdp_tail', insn: 0, global: true }, { name: 'bump', insn: 5, global: false }]);
});

test('a static function in a program\'s own section is a sub-program there (test/c/modern-call.o), not a program', () => {
  const s = loadCollectionSpec(new Uint8Array(readFileSync(join(C_DIR, 'modern-call.o'))));
  assert.deepEqual(Object.keys(s.programs), ['noinline_call']);
  const p = s.programs['noinline_call']!;
  assert.deepEqual(p.functions, [{ name: 'noinline_call', insn: 0, global: true }, { name: 'twice_plus', insn: 4, global: false }]);
  const c = new Collection(new BpfSystem({ profile: 'modern' }), s);
  // 2 * skb->len + 3, skb->len 6: the 20 bytes less the Ethernet header
  assert.equal(c.programs['noinline_call']!.run(new Uint8Array(20)), 15n);
  c.close();
});

// ------------------------------------------------------------------ running it

/** The programs the JIT compiles: all of them, callbacks (xdp_calls' bpf_loop, xdp_each's bpf_for_each_map_elem) included. */
const JITTED = ['xdp_calls', 'xdp_each', 'xdp_tail', 'xdp_inner', 'xdp_jump', 'tc_calls'];

const mac = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
const CRAFTED: Uint8Array[] = [
  mac.concat([0x08, 0x00]),
  new Array<number>(60).fill(0),
  new Array<number>(61).fill(0),
  [...mac, 0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, ...new Array<number>(20).fill(3)],
  [...mac, 0x86, 0xdd, 0x60, ...new Array<number>(200).fill(0x11)],
  // 802.3 length fields: skb->protocol is ETH_P_802_3 (raw IPX, 0xffff next) or ETH_P_802_2
  [...mac, 0x00, 0x2e, 0xff, 0xff, ...new Array<number>(44).fill(0)],
].map((f) => Uint8Array.from(f));

function frames(): Uint8Array[] {
  return [...[...parseCapture(readFileSync(join(projectRoot(), "examples", "sample.pcap")))].map((p) => p.data.slice()), ...CRAFTED];
}

/** The runs: every frame through each program but xdp_tail, which runs by the tail call. */
function runs(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const p of ['xdp_calls', 'xdp_each', 'xdp_inner', 'xdp_jump', 'tc_calls']) for (const f of frames()) out.push([p, f]);
  return out;
}

interface Outcome {
  runs: string[];
  maps: Record<string, string[]>;
}

/** enum bpf_map_type: a prog array's and a map of maps' values are ids, which differ between systems: their keys are compared */
const FD_MAPS = [3, 12, 13];

function dump(m: BpfMap): string[] {
  const lines: string[] = [];
  // as prog-run.c: the keys get_next_key gives whose lookup finds a value (an array of maps' empty slots are not)
  for (let k = m.nextKey(); k !== undefined; k = m.nextKey(k)) {
    const v = m.lookup(k);
    if (v !== undefined) lines.push(FD_MAPS.includes(m.type) ? `K ${hex(k)}` : `K ${hex(k)} ${hex(v)}`);
  }
  return lines.sort();
}

function tsbpfSide(engine: EngineName): Outcome {
  const sys = new BpfSystem({ profile: 'modern' });
  const s = spec();
  // every program verified: maps of maps (xdp_inner) and callbacks with unbounded sums (xdp_calls, xdp_each) too
  const c = new Collection(sys, s);
  const progs: Record<string, Program> = { ...c.programs };
  assert.deepEqual(Object.keys(progs).filter((n) => sys.progOf(progs[n]!.fd).prog.jit !== undefined).sort(), [...JITTED].sort());
  const out: Outcome = { runs: [], maps: {} };
  for (const [p, f] of runs()) {
    const prog = progs[p]!;
    try {
      const r = prog.testRun(f, 1, engine);
      out.runs.push(`R ${BigInt.asUintN(32, r.retval)} ${hex(r.dataOut)}`);
    } catch (x) {
      if (!(x instanceof BpfError)) throw x;
      out.runs.push(`E ${ERRNO[x.code]}`);
    }
  }
  for (const [name, m] of Object.entries(c.maps)) out.maps[name] = dump(m.raw);
  c.close();
  assert.deepEqual(sys.fds(), []);
  return out;
}

test('calls.o under the modern profile: the interpreter, the JIT and the hardened JIT give the same runs and maps', () => {
  const i = tsbpfSide('interpreter');
  const j = tsbpfSide('jit');
  assert.deepEqual(j, i);
  assert.deepEqual(tsbpfSide('jit-hardened'), i);
  // the 60-byte frame through xdp_calls: level1(60) = ((((60 + 3) ^ 0x55) * 5 + 1) + 2) * 3 = 1599, and XDP_DROP
  const at = runs().findIndex(([p, f]) => p === 'xdp_calls' && f.length === 60 && f.every((b) => b === 0));
  assert.equal(i.runs[at], `R 1 ${'00'.repeat(60)}`);
  // odd lengths tail-call xdp_tail (XDP_TX), even ones fall through to XDP_PASS
  const jumps = runs().map(([p, f], k) => [p, f.length, i.runs[k]!.split(' ')[1]] as const).filter(([p]) => p === 'xdp_jump');
  for (const [, len, ret] of jumps) assert.equal(ret, len % 2 === 1 ? '3' : '2', `xdp_jump, ${len} bytes`);
  // the maps of maps hold what the object put in them
  assert.deepEqual(i.maps['by_index'], ['K 00000000', 'K 02000000']);
  assert.deepEqual(i.maps['by_key'], ['K 01000000', 'K 05000000']);
});

/** Builds prog-run.c against libbpf and checks it loads calls.o, or says why not. */
function buildProgRun(): { exe?: string; why?: string } {
  const exe = join(dir, 'prog-run');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(C_DIR, 'prog-run.c'), '-lbpf'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `cannot build test/c/prog-run.c with cc and libbpf (${cc.error?.message ?? cc.stderr.trim().split('\n')[0]})` };
  const probe = spawnSync(exe, [OBJ], { input: `R xdp_calls ${'00'.repeat(14)}\n`, encoding: 'utf8' });
  if (!/^C \d+\nR \d+ /.test(probe.stdout)) return { why: `BPF_PROG_LOAD / BPF_PROG_TEST_RUN of calls.o is not available here (${probe.stdout.trim() || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const helper = buildProgRun();
if (helper.why) process.stderr.write(`calls.o kernel differential test skipped: ${helper.why}\n`);

function kernelSide(exe: string): Outcome {
  const all = runs();
  const r = spawnSync(exe, [OBJ], { input: [...all.map(([p, f]) => `R ${p} ${hex(f)}`), 'D'].join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^C \d+$/, r.stdout.slice(0, 200));
  const out: Outcome = { runs: lines.slice(1, 1 + all.length).map((l) => l.trimEnd()), maps: {} };
  let cur: string[] = [];
  let fdMap = false;
  for (const l of lines.slice(1 + all.length)) {
    if (l.startsWith('M ')) {
      const [, name, type] = l.split(' ');
      // libbpf names global data after the object (calls.bss), tsbpf after the section
      out.maps[name!.replace(/^calls(?=\.(data|bss)$)/, '')] = cur = [];
      fdMap = FD_MAPS.includes(Number(type));
    } else if (l.startsWith('K ')) {
      cur.push(fdMap ? l.split(' ').slice(0, 2).join(' ') : l);
    }
  }
  for (const k of Object.keys(out.maps)) out.maps[k]!.sort();
  return out;
}

test('calls.o: the host kernel (libbpf, BPF_PROG_TEST_RUN) gives the same return values, frames and maps', { skip: helper.why ?? false }, () => {
  const k = kernelSide(helper.exe!);
  // prog-run.c does not list a prog array's elements
  const t = tsbpfSide('jit');
  t.maps['jumps'] = [];
  runs().forEach(([p, f], i) => assert.equal(t.runs[i], k.runs[i], `${p}, frame ${i % frames().length} (${f.length} bytes)`));
  assert.deepEqual(Object.keys(t.maps).sort(), Object.keys(k.maps).sort());
  for (const name of Object.keys(k.maps)) assert.deepEqual(t.maps[name], k.maps[name], `map ${name}`);
});

test('calls.o: rebuilt by scripts/build-kernel-progs.mjs with Debian clang 14, byte for byte', { skip: /Debian clang version 14\./.test(spawnSync('clang', ['--version'], { encoding: 'utf8' }).stdout ?? '') ? false : 'Debian clang 14 is not installed' }, () => {
  const out = join(dir, 'rebuilt');
  const r = spawnSync(process.execPath, [join(projectRoot(), 'scripts', 'build-kernel-progs.mjs'), out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Buffer.from(readFileSync(join(out, 'calls.o'))).equals(readFileSync(OBJ)));
});

// ------------------------------------------------------------------ errors on hand-made objects

const exec = (name: string, data: Uint8Array): Obj['sections'][number] => ({ name, type: 1, flags: 6, data });
const GPL = { name: 'license', type: 1, flags: 3, data: new TextEncoder().encode('GPL\0') };
/** g in .text: r0 = r1 + 1 */
const TEXT = exec('.text', slots([0xbf, 0, 1, 0, 0], [0x07, 0, 0, 0, 1], [0x95, 0, 0, 0, 0]));
const G = { name: 'g', section: '.text', value: 0, size: 24, type: 2, bind: 0 };
const TEXT_SYM = { name: '.text', section: '.text', value: 0, size: 0, type: 3, bind: 0 };

/** f in socket1: r1 = 1; call (imm); exit, with the given relocation of the call */
function caller(imm: number, symbol: string | undefined, extra: Partial<Obj> = {}): Uint8Array {
  return writeObj({
    sections: [exec('socket1', slots([0xb7, 1, 0, 0, 1], [0x85, 0, 1, 0, imm], [0x95, 0, 0, 0, 0])), TEXT, GPL, ...(extra.sections ?? [])],
    symbols: [{ name: 'f', section: 'socket1', value: 0, size: 24, type: 2, bind: 1 }, G, TEXT_SYM, ...(extra.symbols ?? [])],
    relocations: symbol === undefined ? [] : [{ section: 'socket1', offset: 8, symbol, type: 10 }],
  }).bytes;
}

test('a call relocated against a section symbol or a function runs the function; without a relocation it is pc-relative', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  for (const [imm, sym] of [[-1, '.text'], [-1, 'g']] as const) {
    const s = loadCollectionSpec(caller(imm, sym));
    assert.deepEqual(s.programs['f']!.insns.map((x) => [x.code, x.src, x.imm]), [[0xb7, 0, 1], [0x85, 1, 1], [0x95, 0, 0], [0xbf, 1, 0], [0x07, 0, 1], [0x95, 0, 0]]);
    assert.deepEqual(s.programs['f']!.origins, [{ section: 'socket1', sectionInsn: 0, insn: 0, count: 3 }, { section: '.text', sectionInsn: 0, insn: 3, count: 3 }]);
    const c = new Collection(sys, s);
    assert.equal(c.programs['f']!.run(new Uint8Array(20)), 2n);
    c.close();
  }
});

test('linking errors: each a BpfError naming the section and offset', () => {
  const data = { name: '.data', type: 1, flags: 3, data: new Uint8Array(8) };
  const cases: [string, () => unknown, string, string][] = [
    ['a call to data', () => caller(-1, 'counter', { sections: [data], symbols: [{ name: 'counter', section: '.data', value: 0, size: 4, type: 1, bind: 1 }] }),
      'EINVAL', 'relocation at offset 8 in section socket1: call to counter in .data, which is not code'],
    ['a target past the section', () => caller(9, '.text'), 'EINVAL', 'relocation at offset 8 in section socket1: call to .text at offset 80 is outside section .text (24 bytes)'],
    ['a misaligned target', () => caller(-1, 'h', { symbols: [{ name: 'h', section: '.text', value: 4, size: 8, type: 2, bind: 1 }] }),
      'EINVAL', 'relocation at offset 8 in section socket1: call to h at offset 4 of section .text is not at an instruction boundary (a multiple of 8)'],
    ['a target inside a function', () => caller(0, '.text'), 'EINVAL', 'section socket1: call at offset 8: target insn 1 of section .text is inside function g (which starts at insn 0), not at its start'],
    ['a pc-relative target past the section', () => caller(50, undefined), 'EINVAL', 'section socket1: call at offset 8: target insn 52 is outside the section (3 insns)'],
    ['an extern function', () => caller(-1, 'ext', { symbols: [{ name: 'ext', section: '', value: 0, size: 0, type: 2, bind: 1 }] }),
      'ENOTSUP', 'relocation at offset 8 in section socket1: call to ext, which this object does not define (extern functions and kfuncs are not supported)'],
  ];
  for (const [what, bytes, code, message] of cases) {
    const e = err(() => loadCollectionSpec(bytes() as Uint8Array));
    assert.equal(e.code, code, what);
    assert.equal(e.message, message, what);
  }
  // R_BPF_64_32 on a helper call, and a relocation type no BPF object has
  const on = (type: number, src: number): Uint8Array => writeObj({
    sections: [exec('socket1', slots([0x85, 0, src, 0, 1], [0x95, 0, 0, 0, 0])), TEXT, GPL],
    symbols: [{ name: 'f', section: 'socket1', value: 0, size: 16, type: 2, bind: 1 }, G, TEXT_SYM],
    relocations: [{ section: 'socket1', offset: 0, symbol: 'g', type }],
  }).bytes;
  const helperCall = err(() => loadCollectionSpec(on(10, 0)));
  assert.equal(helperCall.code, 'EINVAL');
  assert.equal(helperCall.message, 'relocation at offset 0 in section socket1: R_BPF_64_32 on an instruction that is not a bpf-to-bpf call (opcode 0x85, src_reg 0)');
  const unknown = err(() => loadCollectionSpec(on(5, 1)));
  assert.equal(unknown.code, 'ENOTSUP');
  assert.equal(unknown.message, 'relocation type 5 in section socket1 is not supported');
});

test('many programs calling one large function: linking stops at MAX_LINKED_SLOTS copied slots (E2BIG)', () => {
  // a .text function of 2^16 slots called by 17 programs: 17 copies pass the 2^20 budget
  const n = 1 << 16;
  const text = new Uint8Array(n * 8);
  for (let i = 0; i < n - 1; i++) text[i * 8] = 0xb7;
  text[(n - 1) * 8] = 0x95;
  const progs = MAX_LINKED_SLOTS / n + 1;
  const code = new Uint8Array(progs * 16);
  for (let p = 0; p < progs; p++) code.set(slots([0x85, 0, 1, 0, -1], [0x95, 0, 0, 0, 0]), p * 16);
  const bytes = writeObj({
    sections: [exec('socket1', code), exec('.text', text)],
    symbols: [...Array.from({ length: progs }, (_, p) => ({ name: `p${p}`, section: 'socket1', value: p * 16, size: 16, type: 2, bind: 1 })), { name: 'g', section: '.text', value: 0, size: n * 8, type: 2, bind: 1 }],
    relocations: Array.from({ length: progs }, (_, p) => ({ section: 'socket1', offset: p * 16, symbol: 'g', type: 10 })),
  }).bytes;
  const e = err(() => loadCollectionSpec(bytes));
  assert.equal(e.code, 'E2BIG');
  assert.equal(e.message, `section .text: linking the object's programs copies more than ${MAX_LINKED_SLOTS} slots of called functions`);
  // one program fewer fits
  const fits = loadCollectionSpec(writeObj({
    sections: [exec('socket1', code.subarray(0, (progs - 1) * 16)), exec('.text', text)],
    symbols: [...Array.from({ length: progs - 1 }, (_, p) => ({ name: `p${p}`, section: 'socket1', value: p * 16, size: 16, type: 2, bind: 1 })), { name: 'g', section: '.text', value: 0, size: n * 8, type: 2, bind: 1 }],
    relocations: Array.from({ length: progs - 1 }, (_, p) => ({ section: 'socket1', offset: p * 16, symbol: 'g', type: 10 })),
  }).bytes);
  assert.equal(Object.keys(fits.programs).length, progs - 1);
  assert.equal(fits.programs['p0']!.insns.length, 2 + n);
});

/**
 * A random call graph of up to 7 functions over .text and two program
 * sections, static or global, each `r6 = c; call each callee, r6 += r0;
 * r0 = r6; exit`, calls written each way clang writes them (pc-relative in
 * a section, against the section symbol with imm the slot before the
 * callee, against a global's symbol with imm -1). Function i calls only
 * functions after it, so the graph is acyclic and at most 7 frames deep.
 * Some also run a callback (static, or global in .text) through
 * bpf_loop(1, cb, &slot, 0): the callback stores its constant in the
 * caller's stack slot, which the caller adds; its address is an ld_imm64
 * relocated as clang does it (the section symbol with the byte offset in
 * imm, or a global's symbol).
 */
function randomGraph(rnd: () => number): { bytes: Uint8Array; programs: Map<string, bigint>; callbacks: boolean } {
  const int = (n: number): number => Math.floor(rnd() * n);
  const SECS = ['.text', 'socket1', 'socket2'];
  type Fn = { name: string; sec: string; global: boolean; c: number; callees: number[]; cbs: number[]; at: number; size: number };
  const n = 1 + int(7);
  const fns: Fn[] = Array.from({ length: n }, (_, i) => ({
    name: `f${i}`, sec: SECS[int(3)]!, global: rnd() < 0.5, c: int(1000),
    callees: Array.from({ length: n }, (_, j) => j).filter((j) => j > i && rnd() < 0.4), cbs: [], at: 0, size: 0,
  }));
  const ncb = int(3);
  const cbs: Fn[] = Array.from({ length: ncb }, (_, k) => {
    const sec = SECS[int(3)]!;
    return { name: `cb${k}`, sec, global: sec === '.text' && rnd() < 0.5, c: int(1000), callees: [], cbs: [], at: 0, size: 3 };
  });
  for (const f of fns) f.cbs = cbs.map((_, k) => k).filter(() => rnd() < 0.5);
  // each callback is someone's (an unreferenced static function of a program section would be a program)
  for (let k = 0; k < ncb; k++) if (!fns.some((f) => f.cbs.includes(k))) fns[0]!.cbs.push(k);
  // layout: each section's functions in order
  for (const f of fns) f.size = 3 + 2 * f.callees.length + 10 * f.cbs.length;
  const used = new Map<string, number>();
  for (const f of [...fns, ...cbs]) {
    f.at = used.get(f.sec) ?? 0;
    used.set(f.sec, f.at + f.size);
  }
  const code = new Map<string, [number, number, number, number, number][]>(SECS.map((x) => [x, []]));
  const relocations: Obj['relocations'] = [];
  for (const f of fns) {
    const out = code.get(f.sec)!;
    out.push([0xb7, 6, 0, 0, f.c]);
    for (const j of f.callees) {
      const g = fns[j]!;
      const slot = out.length;
      const style = g.sec === f.sec ? int(2) : g.global ? 2 + int(2) : 3;
      if (style === 0) out.push([0x85, 0, 1, 0, g.at - slot - 1]); // pc-relative, no relocation
      else if (style === 2) {
        out.push([0x85, 0, 1, 0, -1]); // a global: its symbol, imm -1
        relocations.push({ section: f.sec, offset: slot * 8, symbol: g.name, type: 10 });
      } else {
        out.push([0x85, 0, 1, 0, g.at - 1]); // the section symbol, imm the callee's slot less one
        relocations.push({ section: f.sec, offset: slot * 8, symbol: `${g.sec}.sym`, type: 10 });
      }
      out.push([0x0f, 6, 0, 0, 0]);
    }
    for (const k of f.cbs) {
      const cb = cbs[k]!;
      out.push([0x7a, 10, 0, -8, 0], [0xb7, 1, 0, 0, 1]);
      const slot = out.length;
      // the callback's address: a global's symbol (imm 0), or its section's symbol with the byte offset in imm
      const bySymbol = cb.global && rnd() < 0.5;
      out.push([0x18, 2, 0, 0, bySymbol ? 0 : cb.at * 8], [0, 0, 0, 0, 0]);
      relocations.push({ section: f.sec, offset: slot * 8, symbol: bySymbol ? cb.name : `${cb.sec}.sym`, type: 1 });
      out.push([0xbf, 3, 10, 0, 0], [0x07, 3, 0, 0, -8], [0xb7, 4, 0, 0, 0], [0x85, 0, 0, 0, 181], [0x79, 1, 10, -8, 0], [0x0f, 6, 1, 0, 0]);
    }
    out.push([0xbf, 0, 6, 0, 0], [0x95, 0, 0, 0, 0]);
  }
  // each callback: *(u64 *)ctx = c; return 0
  for (const cb of cbs) code.get(cb.sec)!.push([0x7a, 2, 0, 0, cb.c], [0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);
  const sections = SECS.filter((x) => code.get(x)!.length > 0).map((x) => exec(x, slots(...code.get(x)!)));
  const symbols: Obj['symbols'] = [
    ...sections.map((x) => ({ name: `${x.name}.sym`, section: x.name, value: 0, size: 0, type: 3, bind: 0 })),
    ...[...fns, ...cbs].map((f) => ({ name: f.name, section: f.sec, value: f.at * 8, size: f.size * 8, type: 2, bind: f.global ? 1 : 0 })),
  ];
  const value = (i: number): bigint => fns[i]!.cbs.reduce((acc, k) => acc + BigInt(cbs[k]!.c), fns[i]!.callees.reduce((acc, j) => acc + value(j), BigInt(fns[i]!.c)));
  const called = new Set(fns.flatMap((f) => f.callees));
  const programs = new Map<string, bigint>();
  fns.forEach((f, i) => {
    if (f.sec !== '.text' && (f.global || !called.has(i))) programs.set(f.name, value(i));
  });
  return { bytes: writeObj({ sections: [...sections, GPL], symbols, relocations }).bytes, programs, callbacks: fns.some((f) => f.cbs.length > 0) };
}

test('random call graphs: each program links to its functions and computes what its call graph says, on every engine', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  let programs = 0;
  let withCallbacks = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const g = randomGraph(prng(seed));
    const s = loadCollectionSpec(g.bytes);
    assert.deepEqual(Object.keys(s.programs).sort(), [...g.programs.keys()].sort(), `seed ${seed}`);
    const c = new Collection(sys, s);
    for (const [name, want] of g.programs) {
      const p = s.programs[name]!;
      // every call and callback lands on the first slot of a linked function, each linked once
      const starts = p.functions!.map((f) => f.insn);
      assert.equal(new Set(p.functions!.map((f) => f.name)).size, starts.length, `seed ${seed} ${name}`);
      p.insns.forEach((x, i) => {
        if (isLocalCall(x) || (x.code === 0x18 && x.src === 4)) assert.ok(starts.includes(i + x.imm + 1), `seed ${seed} ${name}: call at ${i}`);
      });
      // the JIT compiles them all, callbacks (bpf_loop) included
      assert.ok(sys.progOf(c.programs[name]!.fd).prog.jit !== undefined, `seed ${seed} ${name}`);
      for (const engine of ['interpreter', 'jit', 'jit-hardened'] as const) {
        assert.equal(c.programs[name]!.testRun(new Uint8Array(20), 1, engine).retval, want, `seed ${seed} ${name} ${engine}`);
      }
      programs++;
      if (p.insns.some((x) => x.code === 0x18 && x.src === 4)) withCallbacks++;
    }
    c.close();
  }
  // the 150 graphs hold 86 programs (the rest have every function in .text), 53 of them with callbacks
  assert.deepEqual([programs, withCallbacks], [86, 53]);
});

test('recursion links, and the verifier refuses it as the kernel does (E2BIG, the call stack of 9 frames is too deep)', () => {
  // g calls itself: `call -2` inside g stays pc-relative
  const bytes = writeObj({
    sections: [exec('xdp', slots([0xb7, 1, 0, 0, 1], [0x85, 0, 1, 0, -1], [0x95, 0, 0, 0, 0])), exec('.text', slots([0x07, 1, 0, 0, 1], [0x85, 0, 1, 0, -2], [0x95, 0, 0, 0, 0])), GPL],
    symbols: [{ name: 'f', section: 'xdp', value: 0, size: 24, type: 2, bind: 1 }, G, TEXT_SYM],
    relocations: [{ section: 'xdp', offset: 8, symbol: '.text', type: 10 }],
  }).bytes;
  const s = loadCollectionSpec(bytes);
  assert.deepEqual(s.programs['f']!.insns.map((x) => x.imm), [1, 1, 0, 1, -2, 0]);
  const e = err(() => new Collection(new BpfSystem({ profile: 'modern' }), s));
  assert.equal(e.code, 'E2BIG');
  assert.equal(e.message, 'program f (section xdp): insn 4: the call stack of 9 frames is too deep');
});

test('bpf_for_each_map_elem: the callback\'s r4 is the caller\'s r3 (callback_ctx), a stack pointer it may read', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const map = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 }) as number;
  const insns = slots(
    [0x7a, 10, 0, -8, 5], // *(u64 *)(r10 - 8) = 5
    [0x18, 1, 1, 0, map], [0, 0, 0, 0, 0],
    [0x18, 2, 4, 0, 7], [0, 0, 0, 0, 0], // the callback at 3 + 1 + 7
    [0xbf, 3, 10, 0, 0], [0x07, 3, 0, 0, -8],
    [0xb7, 4, 0, 0, 0],
    [0x85, 0, 0, 0, 164],
    [0x79, 0, 10, -8, 0], // r0 = the ctx after the runs
    [0x95, 0, 0, 0, 0],
    // callback: r1 = *(u64 *)ctx + 2, then *(u64 *)ctx = 7 (a constant, so the verifier's runs of it converge); return 0
    [0x79, 1, 4, 0, 0], [0x07, 1, 0, 0, 2], [0x7a, 4, 0, 0, 7], [0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0],
  );
  const p = Program.load(sys, { type: 'socket_filter', insns, license: 'GPL' });
  for (const engine of ['interpreter', 'jit', 'jit-hardened'] as const) assert.equal(p.testRun(new Uint8Array(20), 1, engine).retval, 7n, engine);
  p.close();
});

test('__array(values) errors: a slot past max_entries, a slot naming no program', { skip: spawnSync('clang', ['--version']).status === 0 ? false : 'clang is not installed' }, () => {
  const build = (name: string, body: string): Uint8Array => {
    const src = `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n${body}\nchar _license[] SEC("license") = "GPL";\n`;
    writeFileSync(join(dir, `${name}.c`), src);
    const r = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', join(dir, `${name}.c`), '-o', join(dir, `${name}.o`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return new Uint8Array(readFileSync(join(dir, `${name}.o`)));
  };
  const prog = 'SEC("xdp") int a(struct xdp_md *c) { return 2; }\n';
  const past = build('past', `int a(struct xdp_md *c);\nstruct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __array(values, int (void *)); } jumps SEC(".maps") = { .values = { [3] = (void *)&a } };\n${prog}`);
  const e1 = err(() => loadCollectionSpec(past));
  assert.equal(e1.code, 'E2BIG');
  assert.equal(e1.message, 'relocation at offset 48 in section .maps: slot 3 of map jumps is past its max_entries 2');
  const notProg = build('notprog', `__noinline int g(int x) { return x + 1; }\nstruct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __array(values, int (void *)); } jumps SEC(".maps") = { .values = { [0] = (void *)&g } };\n${prog}`);
  const e2 = err(() => loadCollectionSpec(notProg));
  assert.equal(e2.code, 'EINVAL');
  assert.equal(e2.message, 'relocation at offset 24 in section .maps: slot 0 of prog array jumps names g, which is not a program');
  // a global function of a program section called by another program: a program, and linked into its caller (libbpf refuses the call)
  // a hidden global function is recorded as the kernel would verify it: as a static one
  const both = build('both', `__noinline SEC("xdp") int b(struct xdp_md *c) { return c->data_end - c->data > 30 ? 1 : 2; }\n__hidden __noinline int h(int x) { return x + 1; }\nSEC("xdp") int a2(struct xdp_md *c) { return h(b(c)); }\n`);
  const s = loadCollectionSpec(both);
  assert.deepEqual(Object.keys(s.programs), ['b', 'a2']);
  assert.deepEqual(s.programs['a2']!.functions, [{ name: 'a2', insn: 0, global: true }, { name: 'b', insn: 4, global: true }, { name: 'h', insn: 13, global: false }]);
  const c = new Collection(new BpfSystem({ profile: 'modern' }), s);
  assert.deepEqual([c.programs['a2']!.run(new Uint8Array(20)), c.programs['a2']!.run(new Uint8Array(40))], [3n, 2n]);
  c.close();
});

// ------------------------------------------------------------------ the CLI

test('tsbpf verify and run on calls.o (one program, the profile chosen from its section)', async () => {
  const v = await tsbpf(['verify', OBJ, '--section', 'xdp_calls']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^processed \d+ insns/m);
  assert.equal(v.stdout.trimEnd().split('\n').at(-1), 'accepted: 105 instructions (modern profile)');
  const cap = join(dir, 'c.pcap');
  writeFileSync(cap, writePcap(CRAFTED.map((data, i) => ({ data, tsNs: BigInt(i) })), 1));
  const r = await tsbpf(['run', OBJ, '--section', 'xdp_calls', '--pcap', cap, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { packets: number; map_dump: { name: string; entries: { key: string; value: string }[] }[] };
  assert.equal(j.packets, CRAFTED.length);
  const out = j.map_dump.find((m) => m.name === 'out')!.entries;
  // each of the 6 frames: bump(0, 1), and five bumps counted in .bss
  // (with BTF, each entry also as bpftool -j formats it; global data as its DATASEC)
  assert.deepEqual(out.slice(0, 1), [{ key: '00000000', value: '0600000000000000', formatted: { key: 0, value: 6 } }]);
  assert.deepEqual(j.map_dump.find((m) => m.name === '.bss')!.entries, [{ key: '00000000', value: '1e00000000000000', formatted: { value: { '.bss': [{ calls: 30 }] } } }]);
});

test('global functions of an object (test/c/global-funcs.o) are verified on their own from .BTF.ext func_info and BTF, as the 6.18 host logs them', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const obj = loadCollectionSpec(new Uint8Array(readFileSync(join(C_DIR, 'global-funcs.o'))));
  assert.deepEqual(obj.programs['tc_glob']!.funcInfo!.map((f) => [f.insn, f.name, f.linkage, JSON.stringify(f.args ?? null)]), [
    [0, 'tc_glob', 'global', '[{"kind":"ctx"}]'],
    [18, 'add_len', 'global', '[{"kind":"ctx"},{"kind":"scalar"}]'],
    [21, 'sum_pair', 'global', '[{"kind":"mem","size":8,"nullable":true}]'],
    [27, 'twice', 'static', 'null'],
  ]);
  const c = new Collection(sys, obj, { logLevel: 2 });
  const log = c.programs['tc_glob']!.log.split('\n');
  // lines of the host's log (bpftool -d prog load global-funcs.o)
  for (const line of [
    "Func#1 ('add_len') is global and assumed valid.",
    "Func#2 ('sum_pair') is global and assumed valid.",
    'Validating add_len() func#1...',
    '18: R1=ctx() R2=scalar() R10=fp0',
    'Validating sum_pair() func#2...',
    '21: R1=mem_or_null(id=5,sz=8) R10=fp0',
  ]) assert.ok(log.includes(line), line);
  assert.match(log.at(-2)!, /^processed 30 insns /);
  // and it runs as the kernel's test run does (progs-kernel.test.ts compares it with the host)
  const frame = new Uint8Array(60);
  assert.equal(c.programs['tc_glob']!.testRun(frame).retval, 60n + 3n + 3n);
  c.close();
});
