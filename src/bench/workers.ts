/**
 * The workers bench (`tsbpf bench --workers`, and a section of the full
 * bench): one capture run by a WorkerPool of 1, 2 and N workers (N: the
 * machine's cores, when more than 2), beside the one-thread path the CLI
 * takes without workers (a PacketRunner, or for XDP a FrameRunner, on the
 * main thread), for a map-heavy program (a hash map of flows with XADD
 * counters), a map-less filter, and the map-heavy program as XDP over a
 * per-CPU hash (each worker's counters its own: what the kernel's per-CPU
 * maps are for) and over a shared hash. The capture is generated: WORKERS_FRAMES frames of a
 * flow mix (FLOWS flows, a few of them heavy, as real traffic), cut to 128
 * bytes as `tcpdump -s 128` would, so that it stays in memory. Each
 * configuration runs WORKERS_ROUNDS times, the configurations taking turns
 * round by round so that other load on the machine slows them alike; the
 * best run counts. Each pool of the 3.19 programs runs the capture both
 * ways, chunks taken in turn and packets steered by flow (steer.ts), as two
 * configurations (the XDP pools: chunks only). Ratios
 * are to the pool of 1 worker of the same run and steering.
 *
 * This file also owns the flow mix and the programs, which the tests use to
 * check that every worker count gives the same verdicts and maps.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfSystem } from '../api/bpf.js';
import { BpfMap } from '../api/map.js';
import { Program } from '../api/program.js';
import { PacketRunner } from '../api/packets.js';
import { FrameRunner } from '../api/frames.js';
import { WorkerPool, indexCapture, INDEX_WORDS } from '../api/pool.js';
import type { SharedCapture } from '../api/pool.js';
import type { SteerMode } from '../api/steer.js';
import { assemble } from '../isa/asm.js';
import { encodeSlots, isMapLoad, toSlots } from '../isa/instruction.js';
import { networkOffset } from '../pcap/linktype.js';
import { prng } from './filter-e2e.js';

/** Frames of the bench's capture. */
export const WORKERS_FRAMES = 500_000;
/** Flows of the mix. */
export const FLOWS = 4096;
/** Runs of each configuration. */
export const WORKERS_ROUNDS = 7;
/** What the bench's capture keeps of each frame (tcpdump -s 128). */
const SNAPLEN = 128;

/**
 * A classic pcap capture (microseconds, Ethernet) of `frames` frames of a
 * flow mix: `flows` IPv4 flows (TCP three in four, UDP the rest; servers on
 * 80, 443, 53, 22 and others), each frame picking a flow with a skew (the
 * first flows carry most frames), lengths from 60 to 1514 bytes; one frame
 * in 16 is ARP or IPv6. Frames are cut to `snaplen` bytes (0: whole).
 */
export function flowCapture(frames: number, options: { flows?: number; seed?: number; snaplen?: number } = {}): Uint8Array {
  const nflows = options.flows ?? FLOWS;
  const rnd = prng(options.seed ?? 21);
  const snap = options.snaplen ?? SNAPLEN;
  const flows = Array.from({ length: nflows }, (_, i) => {
    const s = rnd();
    const tcp = rnd() < 0.75;
    const server = s < 0.3 ? 80 : s < 0.7 ? 443 : s < 0.8 ? (tcp ? 22 : 53) : 1024 + Math.floor(rnd() * 8000);
    return { tcp, saddr: (10 << 24) | ((i >> 8) << 8) | (i & 255), daddr: (93 << 24) | (184 << 16) | (216 << 8) | Math.floor(rnd() * 256), sport: 32768 + Math.floor(rnd() * 28000), dport: server };
  });
  const maxRecord = 16 + (snap === 0 ? 1514 : Math.min(snap, 1514));
  const b = new Uint8Array(24 + frames * maxRecord);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, snap === 0 ? 65535 : snap, true);
  dv.setUint32(20, 1, true);
  let at = 24;
  let usec = 1_733_400_000_000_000;
  const frame = new Uint8Array(1514);
  const fv = new DataView(frame.buffer);
  for (let i = 0; i < frames; i++) {
    usec += 1 + Math.floor(rnd() * 50);
    const r = rnd();
    const len = r < 0.4 ? 60 + Math.floor(rnd() * 40) : r < 0.7 ? 100 + Math.floor(rnd() * 500) : 1514;
    frame.fill(0, 0, 64);
    for (let k = 0; k < 12; k++) frame[k] = 2 + k;
    if (r * 16 % 1 < 1 / 16) {
      // ARP or IPv6: no flow
      fv.setUint16(12, rnd() < 0.5 ? 0x0806 : 0x86dd);
      if (frame[13] === 0xdd) frame[14] = 0x60;
    } else {
      const f = flows[Math.floor(nflows * rnd() * rnd())]!;
      const back = rnd() < 0.4;
      fv.setUint16(12, 0x0800);
      frame[14] = 0x45;
      fv.setUint16(16, len - 14);
      frame[22] = 64;
      frame[23] = f.tcp ? 6 : 17;
      fv.setUint32(26, back ? f.daddr : f.saddr);
      fv.setUint32(30, back ? f.saddr : f.daddr);
      fv.setUint16(34, back ? f.dport : f.sport);
      fv.setUint16(36, back ? f.sport : f.dport);
      if (f.tcp) frame[46] = 0x50;
      else fv.setUint16(38, len - 34);
    }
    const incl = snap === 0 ? len : Math.min(len, snap);
    dv.setUint32(at, Math.floor(usec / 1e6), true);
    dv.setUint32(at + 4, usec % 1e6, true);
    dv.setUint32(at + 8, incl, true);
    dv.setUint32(at + 12, len, true);
    b.set(frame.subarray(0, incl), at + 16);
    at += 16 + incl;
  }
  return b.subarray(0, at);
}

/**
 * The flow counters' part of FLOW_COUNT and XDP_FLOW_COUNT, once the
 * 16-byte flow key is at r10-16 and the bytes to count in r7: the flow's
 * value in `map[fd:0]` (a new flow inserted with BPF_NOEXIST, then looked
 * up again, so that two threads inserting it at once both count in the one
 * element), its packet and byte counters bumped with XADD; then `ret` and
 * exit.
 */
function countFlow(ret: string): string {
  return `    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    call 1
    if r0 != 0 goto have
    *(u64 *)(r10 -32) = 0
    *(u64 *)(r10 -24) = 0
    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -32
    r4 = 1
    call 2
    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    call 1
    if r0 == 0 goto out
have:
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    lock *(u64 *)(r0 +8) += r7
out:
    ${ret}
    exit`;
}

/**
 * The map-heavy program (3.19 socket filter): per IPv4 flow (addresses,
 * ports, protocol: a 16-byte key) a packet and a byte counter in a hash
 * map (`map[fd:0]`), bumped with XADD. A new flow is inserted with
 * BPF_NOEXIST and looked up again, so that when two threads insert it at
 * once the loser counts in the winner's element: the totals are the same
 * on any number of threads. Accepts every packet whole.
 */
export const FLOW_COUNT = `
    r6 = r1
    r7 = *(u32 *)(r6 +0)
    r0 = *(u16 *)skb[12]
    if r0 != 0x800 goto out
    r0 = *(u32 *)skb[26]
    *(u32 *)(r10 -16) = r0
    r0 = *(u32 *)skb[30]
    *(u32 *)(r10 -12) = r0
    r0 = *(u32 *)skb[34]
    *(u32 *)(r10 -8) = r0
    r0 = *(u8 *)skb[23]
    *(u32 *)(r10 -4) = r0
${countFlow('r0 = r7')}`;

/**
 * FLOW_COUNT as XDP (modern profile): the same flow key (addresses, ports,
 * protocol, read with direct packet access after a bounds check) and a
 * packet and a byte counter per flow (the IPv4 total length), bumped with
 * XADD in the value `map[fd:0]` gives: in a `percpu_hash`, this CPU's
 * value, so that each worker writes only its own (the kernel's per-CPU
 * semantics); in a `hash`, the one value every worker shares. A new flow
 * is inserted with BPF_NOEXIST and looked up again, as FLOW_COUNT does.
 * Passes every frame (XDP_PASS).
 */
export const XDP_FLOW_COUNT = `
    r2 = *(u32 *)(r1 +0)
    r3 = *(u32 *)(r1 +4)
    r4 = r2
    r4 += 38
    if r4 > r3 goto out
    r0 = *(u16 *)(r2 +12)
    if r0 != 0x8 goto out
    r7 = *(u16 *)(r2 +16)
    r7 = be16 r7
    r0 = *(u32 *)(r2 +26)
    *(u32 *)(r10 -16) = r0
    r0 = *(u32 *)(r2 +30)
    *(u32 *)(r10 -12) = r0
    r0 = *(u32 *)(r2 +34)
    *(u32 *)(r10 -8) = r0
    r0 = *(u8 *)(r2 +23)
    *(u32 *)(r10 -4) = r0
${countFlow('r0 = 2')}`;

/** The map-less filter: IPv4 TCP with port 80 at either end (what `tcp port 80` keeps of IPv4), the whole packet kept. */
export const PORT_80 = `
    r6 = r1
    r0 = *(u16 *)skb[12]
    if r0 != 0x800 goto drop
    r0 = *(u8 *)skb[23]
    if r0 != 0x6 goto drop
    r0 = *(u16 *)skb[34]
    if r0 == 80 goto keep
    r0 = *(u16 *)skb[36]
    if r0 != 80 goto drop
keep:
    r0 = 262144
    exit
drop:
    r0 = 0
    exit
`;

/**
 * Assembly whose maps are `map[fd:I]` (I an index into `maps`) as a JSON
 * program spec (docs/cli.md): the maps, the slots hex, a fixup per map load.
 */
export function programSpecJson(asm: string, maps: readonly { name: string; type: string; key_size: number; value_size: number; max_entries: number; flags?: number }[], progType = 'socket_filter'): string {
  const slots = toSlots(assemble(asm));
  const fixups: [number, number][] = [];
  slots.forEach((s, i) => {
    if (isMapLoad(s)) {
      fixups.push([i, s.imm]);
      s.imm = 0;
    }
  });
  const bytes = encodeSlots(slots);
  const insns = slots.map((_, i) => Buffer.from(bytes.subarray(i * 8, i * 8 + 8)).toString('hex'));
  return JSON.stringify({ prog_type: progType, license: 'GPL', maps, insns, fixups });
}

/** Assembly with `map[fd:I]` pointed at the I-th of `fds`. */
export function withFds(asm: string, fds: readonly number[]): string {
  return asm.replace(/map\[fd:(\d+)\]/g, (_, i: string) => `map[fd:${fds[Number(i)]}]`);
}

/**
 * The section's programs: the 3.19 socket filters (packets as a packet
 * socket's filter sees them: PacketRunner), and FLOW_COUNT as XDP under the
 * modern profile (each frame made the context as the test run makes it:
 * FrameRunner) over a per-CPU hash and over a shared hash.
 */
export type WorkersProgram = 'map-heavy' | 'map-less' | 'xdp per-cpu' | 'xdp shared';
const PROGRAMS: readonly WorkersProgram[] = ['map-heavy', 'map-less', 'xdp per-cpu', 'xdp shared'];

/** One configuration's best run. */
export interface WorkersRow {
  program: WorkersProgram;
  /** 0: the main thread alone (PacketRunner, as the CLI without workers) */
  workers: number;
  /** how the pool gave packets to its workers (none for the main thread) */
  steer?: SteerMode;
  /** ms: the pool's start (threads, modules, the program's load in each); 0 for the main thread */
  startMs: number;
  /** ms: the run over the capture, best of the rounds */
  runMs: number;
  /** ns per packet of that run */
  nsPerPacket: number;
  /** the pool of 1 worker's runMs (the better of its two rows, which run the same path) over this runMs */
  speedup: number;
  /** ms of CPU time the process spent in a run, every thread's (process.cpuUsage), the least of the rounds */
  cpuMs: number;
  /** the pool of 1 worker's cpuMs (the lesser of its two rows), for the idle-core estimate */
  oneCpuMs: number;
}

export interface WorkersSection {
  cpu: string;
  cores: number;
  frames: number;
  rounds: number;
  bytes: number;
  /** ms to index the capture (the main thread's serial part before the runs) */
  indexMs: number;
  rows: WorkersRow[];
  /** every worker count gave the main thread's verdicts and map totals */
  same: boolean;
  /** the machine's load average (1 minute) when the section started and ended */
  load: [number, number];
  /** the native baseline (native/flow-workers.c): the XDP flow counter in C on 1, 2 and N threads; why not, without cc */
  native: { rows: NativeWorkersRow[]; same: boolean } | { why: string };
}

/** One native configuration's best round. */
export interface NativeWorkersRow {
  mode: 'percpu' | 'shared';
  threads: number;
  runMs: number;
  /** the 1-thread run's time of the same mode over this one */
  speedup: number;
}

/**
 * The XDP flow counter in C (native/flow-workers.c, `cc -O2 -pthread`) over
 * the same capture on 1, 2 and N threads, its counters per thread (percpu)
 * or shared with atomic adds (shared), best of `rounds` rounds each; its
 * totals checked against the XDP rows' (`packets/bytes` of their digest).
 */
function nativeWorkers(bytes: Uint8Array, counts: readonly number[], rounds: number, expect: string | undefined): WorkersSection['native'] {
  const cc = process.env['CC'] ?? 'cc';
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) return { why: `no C compiler (${cc})` };
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-flow-workers-'));
  try {
    const exe = join(dir, 'flow-workers');
    const src = fileURLToPath(new URL('../../../src/bench/native/flow-workers.c', import.meta.url));
    const built = spawnSync(cc, ['-O2', '-pthread', '-o', exe, src], { encoding: 'utf8' });
    if (built.status !== 0) return { why: `cc could not build native/flow-workers.c: ${(built.stderr || String(built.error)).trim().split('\n')[0]}` };
    const capture = join(dir, 'flows.pcap');
    writeFileSync(capture, bytes);
    const rows: NativeWorkersRow[] = [];
    let same = true;
    for (const mode of ['percpu', 'shared'] as const) {
      let one = 0;
      for (const threads of counts) {
        const out = execFileSync(exe, [capture, String(threads), String(rounds), mode], { encoding: 'utf8' }).trim().split(' ');
        const runMs = Number(out[0]);
        if (threads === 1) one = runMs;
        // the digest's packets/bytes (verdicts sum/kept/entries/packets/bytes)
        if (expect !== undefined && `${out[3]}/${out[1]}/${out[2]}` !== expect.split('/').slice(2).join('/')) same = false;
        rows.push({ mode, threads, runMs, speedup: one / runMs });
      }
    }
    return { rows, same };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Config {
  program: WorkersProgram;
  workers: number;
  steer?: SteerMode;
  sys: BpfSystem;
  prog: Program;
  flows?: BpfMap;
  /** the pool (the chunk and flow configurations of one worker count share it) */
  pool?: WorkerPool;
  startMs: number;
  best: number;
  /** the least CPU time of a run (every thread's) */
  cpu: number;
  /** the verdicts' sum and the maps' totals of the first run, to compare */
  digest?: string;
}

/** The workers section: 1, 2 and N workers (and the main thread) for both programs. */
export async function runWorkersBench(frames = WORKERS_FRAMES, rounds = WORKERS_ROUNDS, counts?: readonly number[]): Promise<WorkersSection> {
  const { loadavg } = await import('node:os');
  const load0 = loadavg()[0]!;
  const cores = availableParallelism();
  const ws = counts ?? [...new Set([1, 2, cores])].sort((a, b) => a - b);
  const bytes = flowCapture(frames);
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  const t0 = performance.now();
  const capture = indexCapture(shared);
  const indexMs = performance.now() - t0;
  const configs: Config[] = [];
  const maxWorkers = Math.max(...ws);
  try {
    for (const program of PROGRAMS) {
      const xdp = program.startsWith('xdp');
      for (const workers of [0, ...ws]) {
        const sys = new BpfSystem({ shared: workers > 0, cpus: Math.max(1, maxWorkers), ...(xdp ? { profile: 'modern' } : {}) });
        const type = program === 'xdp per-cpu' ? 'percpu_hash' : 'hash';
        const flows = program !== 'map-less' ? BpfMap.create(sys, { type, keySize: 16, valueSize: 16, maxEntries: FLOWS * 2, name: 'flows' }) : undefined;
        const insns = xdp ? withFds(XDP_FLOW_COUNT, [flows!.fd]) : program === 'map-heavy' ? withFds(FLOW_COUNT, [flows!.fd]) : PORT_80;
        const prog = Program.load(sys, { insns, tiered: false, ...(xdp ? { type: 'xdp' as const } : {}) });
        const c: Config = { program, workers, sys, prog, ...(flows ? { flows } : {}), startMs: 0, best: Infinity, cpu: Infinity };
        if (workers === 0) {
          configs.push(c);
          continue;
        }
        const s = performance.now();
        c.pool = await WorkerPool.create(prog, { workers });
        c.startMs = performance.now() - s;
        // the same pool run both ways, side by side (the XDP rows: chunks only, the bench's time)
        for (const steer of xdp ? (['chunk'] as const) : (['chunk', 'flow'] as const)) configs.push({ ...c, steer });
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const c of configs) {
        // each round starts from empty maps: the same work every time
        if (c.flows) for (const k of [...c.flows.keys()]) c.flows.delete(k);
        const cpu0 = process.cpuUsage();
        const s = performance.now();
        const verdicts = c.pool ? (await c.pool.runCapture(capture, { steer: c.steer! })).verdicts : c.program.startsWith('xdp') ? mainThreadFrames(c.prog, capture) : mainThread(c.prog, capture);
        const ms = performance.now() - s;
        const cpu = process.cpuUsage(cpu0);
        c.best = Math.min(c.best, ms);
        c.cpu = Math.min(c.cpu, (cpu.user + cpu.system) / 1000);
        if (r === 0) c.digest = digest(verdicts, c.flows);
      }
    }
  } finally {
    for (const c of configs) if (c.steer !== 'flow') await c.pool?.close();
  }
  const rows: WorkersRow[] = configs.map((c) => {
    // one worker steers nothing: its two rows run the same path, and the better of them is the baseline of both steerings
    const ones = configs.filter((x) => x.program === c.program && x.workers === 1);
    const one = Math.min(...ones.map((x) => x.best));
    return {
      program: c.program, workers: c.workers, ...(c.steer ? { steer: c.steer } : {}), startMs: c.startMs, runMs: c.best, nsPerPacket: (c.best * 1e6) / frames,
      speedup: one / c.best, cpuMs: c.cpu, oneCpuMs: Math.min(...ones.map((x) => x.cpu)),
    };
  });
  const same = PROGRAMS.every((p) => new Set(configs.filter((c) => c.program === p).map((c) => c.digest)).size === 1);
  // (a native round takes 5-20 ms, where one slowed by the machine weighs more: five times the rounds)
  const native = nativeWorkers(bytes, [1, ...ws.filter((w) => w > 1)], rounds * 5, configs.find((c) => c.program === 'xdp per-cpu')?.digest);
  return { cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', cores, frames, rounds, bytes: bytes.length, indexMs, rows, same, load: [load0, loadavg()[0]!], native };
}

/** The one-thread path: batches of 256 through a PacketRunner on the main thread, as the CLI without workers. */
function mainThread(prog: Program, capture: SharedCapture): Uint32Array {
  const runner = new PacketRunner(prog.sys, prog);
  const out = new Uint32Array(capture.count);
  const x = capture.index;
  const batch: { data: Uint8Array; netOff: number }[] = [];
  try {
    for (let at = 0; at < capture.count; at += 256) {
      const end = Math.min(capture.count, at + 256);
      batch.length = 0;
      for (let i = at; i < end; i++) {
        const data = new Uint8Array(capture.bytes.buffer, x[i * INDEX_WORDS]!, x[i * INDEX_WORDS + 1]!);
        batch.push({ data, netOff: networkOffset(data, x[i * INDEX_WORDS + 3]!) });
      }
      out.set(runner.runBatch(batch), at);
    }
  } finally {
    runner.close();
  }
  return out;
}

/** The one-thread path of run --pcap for XDP: a FrameRunner over the frames on the main thread. */
function mainThreadFrames(prog: Program, capture: SharedCapture): Uint32Array {
  const runner = new FrameRunner(prog.sys, prog.fd);
  const out = new Uint32Array(capture.count);
  const x = capture.index;
  try {
    for (let i = 0; i < capture.count; i++) out[i] = runner.run(new Uint8Array(capture.bytes.buffer, x[i * INDEX_WORDS]!, x[i * INDEX_WORDS + 1]!));
  } finally {
    runner.close();
  }
  return out;
}

/** The verdicts' sum and count of non-zero ones, and the flow map's entries and totals (a per-CPU map's summed over its CPUs). */
function digest(verdicts: Uint32Array, flows: BpfMap | undefined): string {
  let sum = 0;
  let kept = 0;
  for (const v of verdicts) {
    sum += v;
    if (v !== 0) kept++;
  }
  let entries = 0;
  let packets = 0n;
  let bytes = 0n;
  if (flows) {
    for (const k of flows.keys()) {
      entries++;
      for (const cpu of flows.perCpu ? flows.lookupPerCpu(k)! : [flows.lookup(k)!]) {
        const dv = new DataView(cpu.buffer, cpu.byteOffset, cpu.byteLength);
        packets += dv.getBigUint64(0, true);
        bytes += dv.getBigUint64(8, true);
      }
    }
  }
  return `${sum}/${kept}/${entries}/${packets}/${bytes}`;
}

export function formatWorkers(s: WorkersSection): string {
  const lines = [
    '',
    `Workers: one capture split across worker threads sharing one memory and its maps (WorkerPool, tsbpf filter/run --pcap --workers N)`,
    `  ${s.frames.toLocaleString('en-US')} frames of a ${FLOWS}-flow mix, cut to ${SNAPLEN} bytes (${(s.bytes / 1e6).toFixed(1)} MB); ${s.cpu}, ${s.cores} cores; load ${s.load[0].toFixed(1)} -> ${s.load[1].toFixed(1)}`,
    `  best of ${s.rounds} runs each, configurations taking turns; speedup = the 1-worker pool's best run time (its two rows run the same path) / this run time; the capture indexed once on the main thread (${s.indexMs.toFixed(1)} ms, not in the runs)`,
    `  map-heavy: a 3.19 socket filter counting packets and bytes per flow in one hash map (XADD); map-less: IPv4 TCP port 80, no map;`,
    `  xdp per-cpu / xdp shared: the same flow counter as XDP (modern profile, each frame made the context as the kernel's test run makes it),`,
    `  in a percpu_hash (each worker adds to its own CPU's value) / in a hash (every worker adds to the same values, whose cache lines move between cores)`,
    `  steer chunk: 4096 packets at a time to whichever worker is free (every flow counted by every worker); flow: each flow's packets to one worker, as a NIC's RSS,`,
    `  the flow hashes computed by the workers in the run (one worker has nothing to steer: its two rows run the same path)`,
    `  cpu ms: every thread's CPU time in a run (process.cpuUsage), the least of the rounds; on a loaded machine wall times mean little, and`,
    `  workers x (1 worker's cpu ms / this cpu ms) estimates the speedup on idle cores (it assumes the workers' runs overlap fully)`,
    `  same verdicts and map totals on every configuration: ${s.same ? 'yes' : 'NO'}`,
    '',
    `  ${'program'.padEnd(12)} ${'workers'.padEnd(12)} ${'start ms'.padStart(9)} ${'run ms'.padStart(9)} ${'ns/packet'.padStart(10)} ${'speedup'.padStart(8)} ${'cpu ms'.padStart(9)} ${'idle-core speedup'.padStart(18)}`,
  ];
  for (const r of s.rows) {
    const who = r.workers === 0 ? 'main thread' : `${r.workers} ${r.steer}`;
    const idle = r.workers === 0 ? '-' : `${((r.workers * r.oneCpuMs) / r.cpuMs).toFixed(2)}x`;
    lines.push(`  ${r.program.padEnd(12)} ${who.padEnd(12)} ${(r.workers === 0 ? '-' : r.startMs.toFixed(1)).padStart(9)} ${r.runMs.toFixed(1).padStart(9)} ${r.nsPerPacket.toFixed(1).padStart(10)} ${`${r.speedup.toFixed(2)}x`.padStart(8)} ${r.cpuMs.toFixed(1).padStart(9)} ${idle.padStart(18)}`);
  }
  lines.push('');
  if ('why' in s.native) lines.push(`  native C baseline: n/a (${s.native.why})`);
  else {
    lines.push(`  native C baseline (native/flow-workers.c, cc -O2, POSIX threads taking 4096 frames at a time; best of ${s.rounds * 5}): the XDP flow counter's work over the same capture,`);
    lines.push(`  its counters per thread (percpu) or shared with atomic adds (shared); totals equal to the xdp rows': ${s.native.same ? 'yes' : 'NO'}`);
    for (const r of s.native.rows) {
      lines.push(`  ${`native ${r.mode}`.padEnd(15)} ${`${r.threads} thread${r.threads === 1 ? '' : 's'}`.padEnd(10)} ${r.runMs.toFixed(1).padStart(7)} ms ${((r.runMs * 1e6) / s.frames).toFixed(1).padStart(6)} ns/packet ${`${r.speedup.toFixed(2)}x`.padStart(7)}`);
    }
  }
  return lines.join('\n') + '\n';
}
