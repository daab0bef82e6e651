/**
 * The bench's XDP/tc section (`tsbpf bench --xdp`, and part of `npm run
 * bench`): programs people ship today, as clang built them (test/c/*.o),
 * over about a million packets in memory, the frames of
 * examples/sample.pcap repeated. tsbpf's column is the JIT of the program
 * loaded and verified under the modern profile, each frame made the program's
 * context once (as the kernel's test run does for its repeats), run by
 * Program.runFrames (thousands of runs per call into WebAssembly) and, in
 * its own column, one call per packet; the kernel's is the host kernel's BPF_PROG_TEST_RUN with
 * repeat on each frame (native/kernel-obj-run.c loads the same object with
 * libbpf; the time is the kernel's own per-run duration, averaged over the
 * frames). Each frame's verdict is checked equal on both. Without cc,
 * libbpf or bpf(2) the kernel column is empty and says why.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfSystem, engineOf } from '../api/bpf.js';
import { Collection } from '../api/collection.js';
import { testRunObject } from '../api/bpf.js';
import type { PreparedRun } from '../progs/program-type.js';
import { loadCollectionSpec } from '../loader/collection.js';
import { parseCapture } from '../pcap/reader.js';
import { CAPTURE_RUNS } from './timing.js';

/** One program of the section: the object (relative to the package root) and the function to run. */
export interface XdpProgram {
  name: string;
  object: string;
  program: string;
  description: string;
}

export const XDP_PROGRAMS: readonly XdpProgram[] = [
  { name: 'xdp-parse', object: 'test/c/xdp-parse.o', program: 'xdp_parse', description: 'XDP parser: Ethernet, VLAN, IPv4/IPv6, TCP/UDP ports, two hash maps' },
  { name: 'tc-fields', object: 'test/c/tc-skb.o', program: 'tc_fields', description: 'tc classifier: __sk_buff fields, cb[] writes, bpf_skb_load_bytes/store_bytes, a hash map' },
];

export interface XdpRow {
  program: string;
  /** runs timed (frames x passes) */
  packets: number;
  /** the frames' verdicts: verdict -> how many frames of one pass */
  verdicts: Record<string, number>;
  /** Program.runFrames: thousands of runs per call into WebAssembly */
  jitNs: number;
  /** one JitProgram.exec per packet (absent in rows made by hand) */
  jitCallNs?: number;
  kernelNs?: number;
  /** the same logic in C, cc -O2 (xdp-parse only) */
  nativeNs?: number;
}

export interface XdpSection {
  cpu: string;
  frames: number;
  rows: XdpRow[];
  /** why the kernel column is empty, when it is */
  kernelSkipped?: string;
}

const root = (rel: string): string => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));

/** The frames of examples/sample.pcap (copied out of the file's buffer). */
export function sampleFrames(): Uint8Array[] {
  return Array.from(parseCapture(new Uint8Array(readFileSync(root('examples/sample.pcap')))), (p) => p.data.slice());
}

/** Rounds of each JIT measurement; the best is kept. */
const ROUNDS = 5;

/**
 * The process's CPU time (user and system) since `c0`, in ns. The JIT's
 * columns are CPU time, not wall time: the kernel's test run stops its
 * clock while its task is rescheduled (bpf_test_timer), and on a shared
 * machine wall time would count other processes' slices against tsbpf.
 */
function cpuNs(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) * 1000;
}

/**
 * tsbpf's JIT over `runs` packets (the frames repeated): CPU ns per packet,
 * best of ROUNDS rounds, and one pass's verdicts, for the two ways of running
 * it. `batch`: Program.runFrames, each frame made the program's context
 * once (as the kernel's test run makes it once for all its repeats) and
 * thousands of runs per call into WebAssembly, the helpers following each
 * run's frame. `call`: one JitProgram.exec per packet over the same
 * prepared contexts, the per-call cost of JavaScript included.
 */
function measureJit(p: XdpProgram, frames: Uint8Array[], runs: number): { ns: number; callNs: number; verdicts: number[] } {
  const sys = new BpfSystem({ profile: 'modern' });
  const col = new Collection(sys, loadCollectionSpec(new Uint8Array(readFileSync(root(p.object)))));
  const prepared: PreparedRun[] = [];
  try {
    const prog = col.programs[p.program];
    if (!prog) throw new Error(`${p.object} has no program ${p.program}`);
    const loaded = prog.object.prog;
    // the reference: the library's test run of each fresh frame
    const expected = frames.map((f) => Number(BigInt.asUintN(32, testRunObject(sys, prog.object, f, 1, 'jit').retval)));
    const passes = Math.max(1, Math.ceil(runs / frames.length));
    const check = (verdicts: ArrayLike<number>, how: string): void => {
      if (Array.from(verdicts).join() !== expected.join()) throw new Error(`${p.name}: the ${how} runs' verdicts differ from the test run's`);
    };
    prog.runFrames(frames, { repeat: Math.min(passes, 100), engine: 'jit' }); // warm-up
    let best = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      const c0 = process.cpuUsage();
      const r = prog.runFrames(frames, { repeat: passes, engine: 'jit' });
      best = Math.min(best, cpuNs(c0) / r.runs);
      check(r.verdicts, 'batched');
    }
    for (const f of frames) prepared.push(loaded.type.prepare(sys.runtime.mem, f));
    const inputs = prepared.map((r) => r.input);
    const jit = engineOf(loaded, 'jit', sys);
    const maps = loaded.maps.map((m) => m.impl);
    const verdicts = new Array<number>(frames.length).fill(0);
    const pass = (): void => {
      for (let i = 0; i < inputs.length; i++) {
        for (const m of maps) m.enterRun();
        jit.exec(inputs[i]!);
        for (const m of maps) m.exitRun();
        verdicts[i] = jit.retLo >>> 0;
      }
    };
    for (let k = 0; k < Math.min(passes, 100); k++) pass(); // warm-up
    let bestCall = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      const c0 = process.cpuUsage();
      for (let k = 0; k < passes; k++) pass();
      bestCall = Math.min(bestCall, cpuNs(c0) / (passes * frames.length));
      check(verdicts, 'one-call');
    }
    return { ns: best, callNs: bestCall, verdicts: expected };
  } finally {
    for (const r of prepared) r.release();
    col.close();
  }
}

/**
 * xdp_parse's logic transliterated to C (test/c/xdp-parse.c's walk and
 * verdicts; proto_count a C array, port_bytes an open-addressing table of
 * 64 slots), run over the frames as the JIT runs them: the native column.
 */
const XDP_PARSE_C = `
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
static uint64_t proto_count[8];
static struct { uint16_t key; uint8_t used; uint64_t val; } port_bytes[64];
static void port_add(uint16_t k, uint64_t len) {
  unsigned h = (k * 40503u) & 63;
  for (int i = 0; i < 64; i++, h = (h + 1) & 63) {
    if (port_bytes[h].used && port_bytes[h].key == k) { __atomic_fetch_add(&port_bytes[h].val, len, __ATOMIC_RELAXED); return; }
    if (!port_bytes[h].used) { port_bytes[h].used = 1; port_bytes[h].key = k; port_bytes[h].val = len; return; }
  }
}
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
__attribute__((noinline)) static unsigned xdp_parse(const uint8_t *data, const uint8_t *end) {
  enum { P_ETH, P_VLAN, P_IPV4, P_IPV6, P_TCP, P_UDP, P_OTHER, P_SHORT };
  if (data + 14 > end) { proto_count[P_SHORT]++; return 1; }
  proto_count[P_ETH]++;
  uint16_t proto = be16(data + 12);
  const uint8_t *p = data + 14;
  int tags = 0;
  for (int i = 0; i < 2; i++) {
    if (proto != 0x8100 && proto != 0x88a8) break;
    if (p + 4 > end) { proto_count[P_SHORT]++; return 1; }
    proto_count[P_VLAN]++;
    proto = be16(p + 2);
    p += 4;
    tags++;
  }
  uint8_t l4;
  if (proto == 0x0800) {
    if (p + 20 > end) { proto_count[P_SHORT]++; return 1; }
    proto_count[P_IPV4]++;
    unsigned ihl = (p[0] & 15) * 4;
    if (ihl < 20) return 0;
    l4 = p[9];
    p += ihl;
  } else if (proto == 0x86dd) {
    if (p + 40 > end) { proto_count[P_SHORT]++; return 1; }
    proto_count[P_IPV6]++;
    l4 = p[6];
    p += 40;
  } else {
    proto_count[P_OTHER]++;
    return tags == 2 ? 1 : 2;
  }
  uint16_t sport, dport;
  if (l4 == 6) {
    if (p + 20 > end) { proto_count[P_SHORT]++; return 1; }
    proto_count[P_TCP]++;
    sport = be16(p); dport = be16(p + 2);
    if (dport == 23) return 1;
  } else if (l4 == 17) {
    if (p + 8 > end) { proto_count[P_SHORT]++; return 1; }
    proto_count[P_UDP]++;
    sport = be16(p); dport = be16(p + 2);
    if (dport == 53 && sport < 1024) return 1;
  } else {
    proto_count[P_OTHER]++;
    return 2;
  }
  port_add(dport, (uint64_t)(end - data));
  if (tags == 2) return 1;
  return sport == 40001 ? 3 : 2;
}
/* CPU time, as the JIT's columns measure theirs */
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
`;

/** The native column: xdp_parse in C over the frames (undefined without cc). */
function measureNativeXdpParse(frames: Uint8Array[], runs: number, dir: string): { ns: number; verdicts: number[] } | undefined {
  const cc = process.env['CC'] ?? 'cc';
  const passes = Math.max(1, Math.ceil(runs / frames.length));
  const arrays = frames.map((f, i) => `static uint8_t f${i}[${Math.max(1, f.length)}] = { ${Array.from(f).join(', ') || '0'} };`).join('\n');
  const main = `${arrays}
static const uint8_t *fs[] = { ${frames.map((_, i) => `f${i}`).join(', ')} };
static const unsigned ls[] = { ${frames.map((f) => f.length).join(', ')} };
int main(void) {
  unsigned n = ${frames.length}, v[${frames.length}];
  for (unsigned i = 0; i < n; i++) v[i] = xdp_parse(fs[i], fs[i] + ls[i]);
  double best = 1e300;
  for (int round = 0; round < 9; round++) {
    double t0 = now();
    for (unsigned k = 0; k < ${passes}u; k++) for (unsigned i = 0; i < n; i++) v[i] = xdp_parse(fs[i], fs[i] + ls[i]);
    double ns = (now() - t0) / ((double)${passes} * n);
    if (ns < best) best = ns;
  }
  printf("%f", best);
  for (unsigned i = 0; i < n; i++) printf(" %u", v[i]);
  printf("\\n");
  return 0;
}
`;
  const src = join(dir, 'xdp-parse-native.c');
  const exe = join(dir, 'xdp-parse-native');
  writeFileSync(src, XDP_PARSE_C + main);
  const built = spawnSync(cc, ['-O2', '-o', exe, src]);
  if (built.error || built.status !== 0) return undefined;
  const out = spawnSync(exe, [], { encoding: 'utf8' }).stdout.trim().split(' ').map(Number);
  return { ns: out[0]!, verdicts: out.slice(1) };
}

/** The kernel runner built here: its path, or why not. */
function buildKernelRunner(dir: string): { exe?: string; why?: string } {
  const cc = process.env['CC'] ?? 'cc';
  const exe = join(dir, 'kernel-obj-run');
  const r = spawnSync(cc, ['-O2', '-o', exe, root('src/bench/native/kernel-obj-run.c'), '-lbpf'], { encoding: 'utf8' });
  if (r.error) return { why: `no ${cc}` };
  if (r.status !== 0) return { why: 'kernel-obj-run.c does not build (libbpf-dev missing?)' };
  return { exe };
}

/**
 * The host kernel over the same frames: BPF_PROG_TEST_RUN with repeat on
 * each frame, the kernel's per-run time averaged over the frames, and each
 * frame's retval; or why there is no kernel column.
 */
function measureKernel(p: XdpProgram, frames: Uint8Array[], runs: number, exe: string): { ns: number; verdicts: number[] } | string {
  const repeat = Math.max(1, Math.ceil(runs / frames.length));
  const input = frames.map((f) => `${p.program} ${repeat} ${Buffer.from(f).toString('hex')}\n`).join('');
  const r = spawnSync(exe, [root(p.object)], { input, encoding: 'utf8' });
  const lines = (r.stdout ?? '').trim().split('\n');
  if (lines[0] !== 'L') return `the kernel does not load ${p.object} (${lines[0]?.startsWith('E ') ? `errno ${lines[0].split(' ')[1]}` : 'no output'}: no bpf(2) or not root?)`;
  const runsOut = lines.slice(1).map((l) => l.split(' '));
  if (runsOut.length !== frames.length || runsOut.some((x) => x[0] !== 'B')) return `BPF_PROG_TEST_RUN failed on ${p.program} (${runsOut.find((x) => x[0] !== 'B')?.join(' ') ?? 'missing output'})`;
  return { ns: runsOut.reduce((s, x) => s + Number(x[2]), 0) / frames.length, verdicts: runsOut.map((x) => Number(x[1])) };
}

function tally(verdicts: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of verdicts) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The section over `runs` packets per program (CAPTURE_RUNS by default; the tests pass a tiny count). */
export function runXdpBench(runs = CAPTURE_RUNS, programs: readonly XdpProgram[] = XDP_PROGRAMS): XdpSection {
  const frames = sampleFrames();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-xdp-'));
  try {
    const built = buildKernelRunner(dir);
    let kernelSkipped = built.why;
    const rows = programs.map((p): XdpRow => {
      const jit = measureJit(p, frames, runs);
      const row: XdpRow = { program: p.name, packets: Math.max(1, Math.ceil(runs / frames.length)) * frames.length, verdicts: tally(jit.verdicts), jitNs: jit.ns, jitCallNs: jit.callNs };
      if (built.exe && kernelSkipped === undefined) {
        const k = measureKernel(p, frames, runs, built.exe);
        if (typeof k === 'string') kernelSkipped = k;
        else {
          const bad = k.verdicts.findIndex((v, i) => v !== jit.verdicts[i]);
          if (bad >= 0) throw new Error(`${p.name}: frame ${bad}: the kernel returned ${k.verdicts[bad]}, tsbpf ${jit.verdicts[bad]}`);
          row.kernelNs = k.ns;
        }
      }
      if (p.name === 'xdp-parse') {
        const n = measureNativeXdpParse(frames, runs, dir);
        if (n) {
          if (n.verdicts.join() !== jit.verdicts.join()) throw new Error(`xdp-parse: native C's verdicts ${n.verdicts.join()} differ from tsbpf's ${jit.verdicts.join()}`);
          row.nativeNs = n.ns;
        }
      }
      return row;
    });
    if (kernelSkipped !== undefined) for (const r of rows) delete r.kernelNs;
    return { cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', frames: frames.length, rows, ...(kernelSkipped === undefined ? {} : { kernelSkipped }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The section's text: one line per program, ns per packet and the ratios JIT x kernel and JIT x native. */
export function formatXdp(s: XdpSection): string {
  const lines = [`\nxdp/tc: clang-built objects (modern profile, verified) over the ${s.frames} frames of examples/sample.pcap repeated, on ${s.cpu}, ns per packet`];
  lines.push(`${'program'.padEnd(10)} ${'packets'.padStart(8)}  ${'JIT'.padStart(7)}  ${'JIT/call'.padStart(8)}  ${'kernel'.padStart(7)}  ${'native'.padStart(7)}  ${'JIT x kernel'.padStart(12)}  ${'JIT x native'.padStart(12)}  verdicts`);
  const ratio = (a: number, b: number | undefined): string => (b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`).padStart(12);
  for (const r of s.rows) {
    const v = Object.entries(r.verdicts).map(([k, n]) => `${k}:${n}`).join(' ');
    lines.push(`${r.program.padEnd(10)} ${String(r.packets).padStart(8)}  ${r.jitNs.toFixed(1).padStart(7)}  ${(r.jitCallNs?.toFixed(1) ?? 'n/a').padStart(8)}  ${(r.kernelNs?.toFixed(1) ?? 'n/a').padStart(7)}  ${(r.nativeNs?.toFixed(1) ?? 'n/a').padStart(7)}  ${ratio(r.jitNs, r.kernelNs)}  ${ratio(r.jitNs, r.nativeNs)}  ${v}`);
  }
  for (const p of XDP_PROGRAMS.filter((x) => s.rows.some((r) => r.program === x.name))) lines.push(`  ${p.name}: ${p.description} (${p.object}, ${p.program})`);
  lines.push('  JIT: Program.runFrames, each frame\'s context made once and thousands of runs per call into WebAssembly; JIT/call: one exec per packet');
  if (s.kernelSkipped !== undefined) lines.push(`  kernel column skipped: ${s.kernelSkipped}`);
  return lines.join('\n') + '\n';
}
