/**
 * Kernel differential test for modern programs (issue 17): the XDP, tc and
 * map programs of test/c/ (built by scripts/build-kernel-progs.mjs, the
 * objects committed) run over every frame of examples/sample.pcap and a few
 * crafted frames (VLAN, QinQ, IPv6, telnet, a bare Ethernet header, the
 * largest skb and one byte more, XDP frames with fragments) by the host kernel, through libbpf and
 * BPF_PROG_TEST_RUN (test/c/prog-run.c), and by tsbpf (a Collection under
 * the modern profile with as many CPUs as the host has possible CPUs).
 * Per frame the return value or errno and the frame after the run must be
 * equal, and after all frames every map: its elements in key order (a
 * per-CPU map's values for every CPU, each padded to 8 bytes, as bpf(2)
 * gives them), a ring buffer's records in order.
 *
 * tsbpf verifies them with the modern profile, as the kernel does, and
 * each object runs on the JIT, the interpreter and the hardened JIT (the
 * context stores rewritten at load as the kernel rewrites them), and once
 * unverified in the checked interpreter. Skips with its reason without cc,
 * libbpf or bpf(2).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import type { EngineName } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { FrameRunner } from '../src/api/frames.js';
import type { BpfMap } from '../src/api/map.js';
import { BpfError, ERRNO } from '../src/errors.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { parseCapture } from '../src/pcap/reader.js';
import { projectRoot } from './conformance-data.js';
import { possibleCpus } from './map-ops.js';
import { tempDir } from './tmp.js';
import { le32 } from './bytes.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Builds prog-run.c against libbpf and checks that it loads and runs an XDP program, or says why not. */
function buildProgRun(): { exe?: string; why?: string } {
  const exe = join(tempDir('tsbpf-prog-run-'), 'prog-run');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(projectRoot(), 'test', 'c', 'prog-run.c'), '-lbpf'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `cannot build test/c/prog-run.c with cc and libbpf (${cc.error?.message ?? cc.stderr.trim().split('\n')[0]})` };
  const probe = spawnSync(exe, [objPath('xdp-parse')], { input: `R xdp_parse ${'00'.repeat(14)}\n`, encoding: 'utf8' });
  if (!/^C \d+\nR \d+ /.test(probe.stdout)) return { why: `BPF_PROG_LOAD / BPF_PROG_TEST_RUN of an XDP program is not available here (${probe.stdout.trim() || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const objPath = (name: string): string => join(projectRoot(), 'test', 'c', `${name}.o`);

// ------------------------------------------------------------------ frames

const mac = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
const ipv4 = (proto: number, l4: number[]): number[] => {
  const total = 20 + l4.length;
  return [0x45, 0, total >> 8, total & 0xff, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, ...l4];
};
const ipv6 = (next: number, l4: number[]): number[] =>
  [0x60, 0, 0, 0, l4.length >> 8, l4.length & 0xff, next, 64, ...new Array<number>(15).fill(0), 1, 0xfe, 0x80, ...new Array<number>(13).fill(0), 2, ...l4];
const tcp = (sport: number, dport: number, payload = 0): number[] =>
  [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, ...new Array<number>(payload).fill(0x61)];
const udp = (sport: number, dport: number, payload: number): number[] =>
  [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 8 + payload, 0, 0, ...new Array<number>(payload).fill(0x62)];

/** frames besides the capture's: what sample.pcap does not have */
const CRAFTED: Uint8Array[] = [
  [...mac, 0x81, 0x00, 0x20, 0x05, 0x08, 0x00, ...ipv4(6, tcp(1234, 80))], // 802.1Q, IPv4 TCP
  [...mac, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x05, 0x86, 0xdd, ...ipv6(17, udp(5353, 53, 4))], // QinQ, IPv6 UDP
  [...mac, 0x86, 0xdd, ...ipv6(6, tcp(40001, 443, 10))], // IPv6 TCP
  [...mac, 0x86, 0xdd, ...ipv6(17, udp(53, 53, 0))], // IPv6 UDP from a low port to 53
  [...mac, 0x08, 0x00, ...ipv4(6, tcp(5000, 23))], // telnet: dropped
  [...mac, 0x08, 0x00, ...ipv4(17, udp(1000, 53, 1200))], // a large frame
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...mac.slice(6), 0x86, 0xdd, 0x60], // broadcast, IPv6 cut short
  [0x01, 0, 0x5e, 0, 0, 1, ...mac.slice(6), 0x08, 0x00], // multicast, a bare Ethernet header
  [0, 0, 0, 0, 0, 0, ...mac.slice(6), 0x08, 0x06, ...new Array<number>(28).fill(7)], // to the loopback's address: ARP
  [...mac, 0x08, 0x00, ...ipv4(17, udp(2000, 9, 3712 - 42))], // the largest skb a test run takes
  [...mac, 0x08, 0x00, ...ipv4(17, udp(2000, 9, 3713 - 42))], // one byte more: EINVAL for tc and socket filters
  [...mac, 0x08, 0x00, ...ipv4(6, tcp(7000, 80, 5000 - 54))], // XDP: 3520 bytes in the buffer, the rest in a fragment
  [...mac, 0x86, 0xdd, ...ipv6(17, udp(53, 5353, 7617 - 62))], // XDP: a full fragment and one byte
].map((f) => Uint8Array.from(f));

function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of parseCapture(readFileSync(join(projectRoot(), 'examples', 'sample.pcap')))) out.push(p.data.slice());
  return [...out, ...CRAFTED];
}

// ------------------------------------------------------------------ both sides

interface Outcome {
  /** per run: "R <retval> <hex frame>" or "E <errno>" */
  runs: string[];
  /** map name -> its lines ("K key value" sorted by key, "V record" in order) */
  maps: Record<string, string[]>;
}

/** libbpf names global data maps after the object (`maps_glo.bss`); tsbpf by the section (`.bss`). */
const mapName = (name: string): string => name.replace(/^[^.]*(?=\.(rodata|data|bss)$)/, '');

/** A program to put in a prog array before the runs: [map, index, program]. */
type Jump = [string, number, string];

function kernelSide(exe: string, obj: string, runs: [string, Uint8Array][], jumps: readonly Jump[]): Outcome {
  const input = [...jumps.map(([m, i, p]) => `P ${m} ${i} ${p}`), ...runs.map(([p, f]) => `R ${p} ${hex(f)}`), 'D'].join('\n') + '\n';
  const r = spawnSync(exe, [objPath(obj)], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^C \d+$/, `prog-run ${obj}: ${r.stdout.slice(0, 200)}`);
  assert.deepEqual(lines.slice(1, 1 + jumps.length), jumps.map(() => 'P 0'));
  const first = 1 + jumps.length;
  const out: Outcome = { runs: lines.slice(first, first + runs.length).map((l) => l.trimEnd()), maps: {} };
  let cur: string[] = [];
  for (const l of lines.slice(first + runs.length)) {
    if (l.startsWith('M ')) out.maps[mapName(l.split(' ')[1]!)] = cur = [];
    else if (l.startsWith('K ') || l.startsWith('V ')) cur.push(l);
  }
  // keyed maps in key order (hash and LPM trie orders differ); records and queue values stay in order
  for (const k of Object.keys(out.maps)) if (out.maps[k]![0]?.startsWith('K ')) out.maps[k]!.sort();
  return out;
}

/** enum bpf_map_type: the types the dump treats apart */
const MAP = { prog_array: 3, percpu_hash: 5, percpu_array: 6, lru_percpu_hash: 10, queue: 22, stack: 23, ringbuf: 27 } as const;

function dumpMap(m: BpfMap): string[] {
  const lines: string[] = [];
  const type = m.type;
  if (type === MAP.ringbuf) return m.records().map((r) => `V ${hex(r)}`);
  if (type === MAP.queue || type === MAP.stack) {
    for (let v = m.pop(); v !== undefined; v = m.pop()) lines.push(`V ${hex(v)}`);
    return lines;
  }
  if (type === MAP.prog_array) return lines;
  const perCpu = type === MAP.percpu_array || type === MAP.percpu_hash || type === MAP.lru_percpu_hash;
  for (let k = m.nextKey(); k !== undefined; k = m.nextKey(k)) {
    if (perCpu) {
      const stride = Math.ceil(m.valueSize / 8) * 8;
      const vals = m.lookupPerCpu(k)!;
      const all = new Uint8Array(stride * vals.length);
      vals.forEach((v, i) => all.set(v, i * stride));
      lines.push(`K ${hex(k)} ${hex(all)}`);
    } else {
      lines.push(`K ${hex(k)} ${hex(m.lookup(k)!)}`);
    }
  }
  return lines.sort();
}

/** `engine` 'unverified': loaded without the verifier, run in the checked interpreter. */
function tsbpfSide(obj: string, runs: [string, Uint8Array][], jumps: readonly Jump[], cpus: number, engine: EngineName | 'unverified'): Outcome {
  const sys = new BpfSystem({ profile: 'modern', cpus });
  const verify = engine !== 'unverified';
  const c = new Collection(sys, loadCollectionSpec(readFileSync(objPath(obj))), { verify });
  for (const [m, i, p] of jumps) c.maps[m]!.update(le32(i), le32(c.programs[p]!.fd));
  const out: Outcome = { runs: [], maps: {} };
  for (const [p, f] of runs) {
    try {
      const r = c.programs[p]!.testRun(f, 1, verify ? engine : undefined);
      out.runs.push(`R ${BigInt.asUintN(32, r.retval)} ${hex(r.dataOut)}`);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      out.runs.push(`E ${ERRNO[e.code]}`);
    }
  }
  for (const [name, m] of Object.entries(c.maps)) out.maps[name] = dumpMap(m.raw);
  c.close();
  return out;
}

/**
 * tsbpfSide through the FrameRunner the pool and run --pcap use (one runner
 * per program over all its frames, its buffer reused from frame to frame)
 * instead of testRun per frame: the same outcome.
 */
function frameRunnerSide(obj: string, runs: [string, Uint8Array][], jumps: readonly Jump[], cpus: number, engine: EngineName | 'unverified'): Outcome {
  const sys = new BpfSystem({ profile: 'modern', cpus });
  const verify = engine !== 'unverified';
  const c = new Collection(sys, loadCollectionSpec(readFileSync(objPath(obj))), { verify });
  for (const [m, i, p] of jumps) c.maps[m]!.update(le32(i), le32(c.programs[p]!.fd));
  const runners = new Map<string, FrameRunner>();
  const out: Outcome = { runs: [], maps: {} };
  for (const [p, f] of runs) {
    let r = runners.get(p);
    if (!r) runners.set(p, (r = new FrameRunner(sys, c.programs[p]!.fd, verify ? engine : undefined)));
    try {
      const verdict = r.run(f);
      assert.equal(verdict, Number(BigInt.asUintN(32, r.lastRetval)));
      out.runs.push(`R ${BigInt.asUintN(32, r.lastRetval)} ${hex(r.out())}`);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      out.runs.push(`E ${ERRNO[e.code]}`);
    }
  }
  for (const r of runners.values()) r.close();
  for (const [name, m] of Object.entries(c.maps)) out.maps[name] = dumpMap(m.raw);
  c.close();
  return out;
}

const helper = buildProgRun();
const skip = helper.exe ? false : helper.why!;
if (skip) process.stderr.write(`program kernel differential tests skipped: ${skip}\n`);

/**
 * Each object, the programs run over every frame (in this order, sharing
 * the object's maps), and a reason when tsbpf is known to differ.
 */
const PROGRAMS: [string, string[], string?, Jump[]?][] = [
  ['xdp-parse', ['xdp_parse']],
  ['tc-skb', ['tc_fields', 'tc_load_past', 'sk_fields']],
  // the context stores the kernel rewrites (a queue_mapping of 0xffff or more is ignored, tc_index keeps 16 bits)
  ['tc-skb', ['tc_writes']],
  ['xdp-adjust', ['xdp_head', 'xdp_tail', 'xdp_meta', 'xdp_limits']],
  ['maps-globals', ['xdp_counters']],
  // CO-RE: context views declared in another order, relocated against the kernel's BTF and tsbpf's
  ['core', ['tc_core', 'xdp_core']],
  // global functions verified on their own from their BTF prototypes (func_info)
  ['global-funcs', ['tc_glob']],
  ['helpers', ['xdp_helpers', 'tc_csum', 'xdp_bytes'], undefined, [['jumps', 0, 'xdp_tail_a'], ['jumps', 1, 'xdp_tail_b']]],
  // the __sk_buff accesses the kernel rewrites at load: narrow loads inside a field, stores to its u16 fields
  ['helpers', ['tc_ctx']],
];

/** Where a program loaded without the verifier is known to differ from the kernel (see the README). */
const UNVERIFIED_TODO: Record<string, string> = {
  tc_writes: 'without the verifier no store is known to be a context store: none is rewritten, and queue_mapping and tc_index keep the u32 written',
  tc_ctx: 'without the verifier no access is known to go through the context: none is rewritten (stores keep the u32 written, narrow loads read the uapi bytes)',
};

for (const [obj, progs, todo, jumps = []] of PROGRAMS) {
  for (const engine of ['jit', 'interpreter', 'jit-hardened', 'unverified'] as const) {
    const why = todo ?? (engine === 'unverified' ? UNVERIFIED_TODO[progs.join(', ')] : undefined);
    test(`${obj}: ${progs.join(', ')} over every frame give the host kernel's verdicts, frames and maps (${engine})`, { skip, ...(why ? { todo: why } : {}) }, () => {
      const runs: [string, Uint8Array][] = [];
      for (const p of progs) for (const f of frames()) runs.push([p, f]);
      const cpus = possibleCpus();
      const k = kernelSide(helper.exe!, obj, runs, jumps);
      const t = tsbpfSide(obj, runs, jumps, cpus, engine);
      runs.forEach(([p], i) => assert.equal(t.runs[i], k.runs[i], `${p}, frame ${i % frames().length}`));
      assert.deepEqual(Object.keys(t.maps).sort(), Object.keys(k.maps).sort());
      for (const name of Object.keys(k.maps)) assert.deepEqual(t.maps[name], k.maps[name], `map ${name}`);
    });
  }
}

// (no kernel needed: FrameRunner against testRun, both tsbpf's)
for (const [obj, progs, , jumps = []] of PROGRAMS) {
  for (const engine of ['jit', 'interpreter', 'jit-hardened', 'unverified'] as const) {
    test(`${obj}: ${progs.join(', ')} through a FrameRunner give testRun's verdicts, frames and maps, frame by frame (${engine})`, () => {
      const runs: [string, Uint8Array][] = [];
      // every frame, then again from the largest down: a run after a larger one in the runner's reused buffer
      const all = [...frames(), ...frames().sort((a, b) => b.length - a.length)];
      for (const p of progs) for (const f of all) runs.push([p, f]);
      const cpus = possibleCpus();
      const t = tsbpfSide(obj, runs, jumps, cpus, engine);
      const r = frameRunnerSide(obj, runs, jumps, cpus, engine);
      runs.forEach(([p], i) => assert.equal(r.runs[i], t.runs[i], `${p}, run ${i}`));
      assert.deepEqual(r.maps, t.maps);
    });
  }
}
