/**
 * Captures in the CLI: `tsbpf run PROG --pcap FILE` (every record run once,
 * maps carried over) and `tsbpf filter PROG CAPTURE [-w OUT] [--count]`, the
 * `tcpdump -r` experience: the accepted packets, truncated to the length the
 * filter returned as a socket would, written as pcap or summarised one line
 * each. A progress bar goes to stderr when it is a terminal, and a final
 * throughput line always.
 *
 * A bad capture is handled as `tcpdump -r` does: a file that does not open
 * as a capture (not pcap or pcapng, a directory) gives only the error; a
 * capture that opened and then faults (a truncated or corrupt record) gives
 * the results for the packets read before the fault, then the error. Either
 * way the exit status is 2 (tcpdump says 1).
 */

import { closeSync, createReadStream, openSync, statSync, writeSync } from 'node:fs';
import { BpfError } from '../errors.js';
import type { EngineName } from '../api/bpf.js';
/** pcap's LINKTYPE_ETHERNET: the frames XDP and tc programs take */
const LINKTYPE_ETHERNET = 1;
/** the Ethernet header a modern socket filter's data starts after */
const ETH_HLEN = 14;
import { PacketRunner } from '../api/packets.js';
import { FrameRunner } from '../api/frames.js';
import { PcapWriter, readCapture, summarize } from '../pcap/index.js';
import type { Packet } from '../pcap/index.js';
import type { ProgramInput } from './input.js';
import { findProgTypeByName } from '../progs/types.js';
import { CliError, fileError } from './cli-error.js';
import { jsonLine } from './map-view.js';
import { loadInput, mapsJson, mapsText, profileJson, profileText, retvalJson, sameBytes, formatNs, writePrintk } from './run.js';
import { framesOut, verdictName } from './profile.js';
import { BpfSystem } from '../api/bpf.js';
import { PROFILE_3_19, PROFILE_MODERN } from '../progs/profile.js';
import type { Profile } from '../progs/profile.js';
import { style } from './style.js';
import { throughput, timestamp } from './filter-output.js';
import { chooseWorkers, pooledError, runPooled } from './workers.js';
import { INDEX_WORDS, prestartWorkers } from '../api/pool.js';
import type { SteerMode } from '../api/steer.js';
import type { CliIo, CliOutput } from './io.js';

export interface Progress {
  tick(bytes: number): void;
  done(): void;
}

export function progress(file: string, out: CliOutput): Progress {
  if (!out.isTTY) return { tick: () => {}, done: () => {} };
  let total = 0;
  try {
    total = statSync(file).size;
  } catch {
    total = 0;
  }
  let seen = 0;
  let last = 0;
  return {
    tick(bytes) {
      seen += bytes;
      const now = Date.now();
      if (now - last < 100 || total === 0) return;
      last = now;
      const frac = Math.min(1, seen / total);
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, ' ');
      out.write(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%`);
    },
    done() {
      if (last > 0) out.write(`\r${' '.repeat(40)}\r`);
    },
  };
}

/** What runs each packet: a PacketRunner (3.19's socket filters), or a CliFrameRunner (the test run's contexts). */
interface Runner extends Pick<PacketRunner, 'runBatch' | 'engineName' | 'enginesRun' | 'lastRetval' | 'close' | 'firstRuns'> {
  run(data: Uint8Array, netOff: number, linkType?: number): number;
}

/**
 * Each packet as the kernel's BPF_PROG_TEST_RUN makes it the program's
 * context (the API's FrameRunner: testRun's result, frame by frame): what
 * XDP, tc and the modern socket filter see. Keeps the last packet's r0 and
 * its frame after the run (copied out when asked); printk lines go to
 * stderr after each packet; each engine's first run is timed.
 */
class CliFrameRunner {
  /** each engine's first run, timed (PacketRunner.firstRuns) */
  readonly firstRuns: { engine: EngineName; ms: number }[] = [];
  private readonly runner: FrameRunner;

  constructor(private readonly sys: BpfSystem, progFd: number, private readonly io: CliIo, engine?: EngineName) {
    this.runner = new FrameRunner(sys, progFd, engine);
  }

  get lastRetval(): bigint {
    return this.runner.lastRetval;
  }
  /** the frame after the last run */
  get lastOut(): Uint8Array {
    return this.runner.out();
  }
  get engineName(): EngineName {
    return this.runner.engineName;
  }
  /** the engines that ran, in order ('interpreter then jit' on a tiered load) */
  get enginesRun(): string {
    return this.runner.enginesRun;
  }

  run(data: Uint8Array, _netOff?: number, linkType = LINKTYPE_ETHERNET): number {
    if (linkType !== LINKTYPE_ETHERNET) throw new BpfError('EINVAL', `the test run takes Ethernet frames, the capture's link type is ${linkType}`);
    const before = this.runner.enginesRun;
    const t0 = performance.now();
    let verdict: number;
    try {
      verdict = this.runner.run(data);
    } finally {
      writePrintk(this.sys, this.io);
    }
    // an engine's first run: the runner's engines grew (its first run of all, or a move to the JIT)
    if (this.runner.enginesRun !== before) this.firstRuns.push({ engine: this.runner.engineName, ms: performance.now() - t0 });
    return verdict;
  }

  runBatch(packets: readonly { data: Uint8Array }[]): Uint32Array {
    return Uint32Array.from(packets, (p) => this.run(p.data));
  }

  close(): void {
    this.runner.close();
  }
}

/** Packets are run in batches of this many (one call into WebAssembly each with the JIT). */
const BATCH = 256;

/**
 * Each record of the capture through the runner, in batches, and then `f`
 * with its verdict, in order; a capture error comes after the packets before it.
 */
async function forEachPacket(file: string, runner: Runner, io: CliIo, prog: string, oneByOne: boolean, f: (p: Packet, verdict: number) => void, idle: () => void = () => {}): Promise<{ packets: number; bytes: number; ms: number; wallMs: number; error?: BpfError; linkType?: number }> {
  if (file !== '-') {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(file).isDirectory();
    } catch (e) {
      throw fileError(file, e);
    }
    if (isDirectory) throw new CliError(`${file}: is a directory`, 2, 'EISDIR');
  }
  // no progress bar on a stream: there is no total to measure against
  const bar = progress(file, file === '-' ? { write: () => undefined } : io.stderr);
  let packets = 0;
  let bytes = 0;
  let ms = 0;
  const wall0 = performance.now();
  const wall = (): number => performance.now() - wall0;
  const pending: Packet[] = [];
  // Whenever the reader has handed over every whole packet it holds and waits
  // for more input, the packets read so far are run and their output written:
  // on a live pipe (tcpdump -U -w - | tsbpf filter F -) each packet shows as it
  // arrives; on a file, batches merely end at read boundaries.
  const stream = readCapture(whenWaiting(captureChunks(file, io), () => {
    flush();
    idle();
  }));
  const flush = (): void => {
    if (oneByOne) {
      // an unverified program may fault: run each packet alone, to name the one that did
      const first = packets - pending.length;
      pending.forEach((p, i) => {
        const t0 = performance.now();
        let verdict: number;
        try {
          verdict = runner.run(p.data, p.netOff, p.linkType);
        } catch (e) {
          if (e instanceof BpfError) throw new PacketFault(first + i + 1, `${prog}: packet ${first + i + 1}: ${e.message}`, e.code);
          throw e;
        }
        ms += performance.now() - t0;
        f(p, verdict);
      });
      pending.length = 0;
      return;
    }
    const t0 = performance.now();
    const verdicts = runner.runBatch(pending);
    ms += performance.now() - t0;
    pending.forEach((p, i) => f(p, verdicts[i]!));
    pending.length = 0;
  };
  try {
    for await (const p of stream) {
      pending.push(p);
      packets++;
      bytes += p.data.length;
      bar.tick(p.data.length + 16);
      if (pending.length >= BATCH) flush();
    }
  } catch (e) {
    if (e instanceof PacketFault) {
      bar.done();
      throw e;
    }
    flush();
    bar.done();
    // not a capture at all: the error alone, as tcpdump when pcap_open_offline fails
    if (e instanceof BpfError && stream.info === undefined) throw captureError(file, e);
    if (e instanceof BpfError) return { packets, bytes, ms, wallMs: wall(), error: e, linkType: stream.info?.linkType };
    throw e;
  }
  flush();
  bar.done();
  return { packets, bytes, ms, wallMs: wall(), linkType: stream.info?.linkType };
}

/** A run-time fault of the program on one packet of the capture: exit 1 once the results before it are out. */
export class PacketFault extends CliError {
  constructor(readonly packet: number, message: string, errno: string) {
    super(message, 1, errno);
  }
}

export interface RunPcapOptions {
  json: boolean;
  /** --retvals: every packet's r0, and the frames XDP/tc programs changed */
  retvals?: boolean;
  profile?: Profile;
  cpus?: number;
  file: string;
  engine?: EngineName;
  /** load without the verifier, run in the checked interpreter */
  unverified?: boolean;
  /** instructions per run with --unverified */
  budget?: number;
  /** --source: the C source lines (an object's .BTF.ext) in a 3.19 profile's log too */
  source?: boolean;
  /** --workers: worker threads (default: workers.ts's choice) */
  workers?: number;
  /** --steer: how the workers share the packets (default: the pool's, chunk) */
  steer?: SteerMode;
}

export async function runPcapCommand(prog: ProgramInput, capture: string, opts: RunPcapOptions, io: CliIo): Promise<number> {
  const profile = opts.profile ?? PROFILE_3_19;
  // the test run's contexts: XDP and tc see the Ethernet frame, a modern socket filter the data after it
  const frames = profile === PROFILE_MODERN;
  if (!findProgTypeByName(prog.progType)?.packet && !framesOut(prog.progType)) {
    throw new CliError(`${opts.file}: --pcap runs socket filters, XDP and tc programs, not ${prog.progType} programs`, 2, 'EINVAL');
  }
  const workers = chooseWorkers(prog, { given: opts.workers, capture, file: opts.file, unverified: opts.unverified === true });
  // the threads start (tsbpf's modules) while the program loads here
  if (workers > 1) prestartWorkers(workers);
  const load0 = performance.now();
  const { sys, progFd, maps } = loadInput(prog, opts.file, io, {
    json: opts.json, verify: opts.unverified !== true, profile, ...(opts.budget === undefined ? {} : { budget: opts.budget }),
    source: opts.source === true, tiered: opts.engine === undefined,
    // worker i runs on CPU i: per-CPU maps get a value per worker at least
    ...(workers > 1 ? { shared: true, cpus: Math.max(opts.cpus ?? 1, workers) } : opts.cpus ? { cpus: opts.cpus } : {}),
  });
  const loadMs = performance.now() - load0;
  const verdictNames = framesOut(prog.progType);
  let accepted = 0;
  let retval = 0n;
  let engineName: string;
  let firstRuns: readonly { engine: EngineName; ms: number }[] = [];
  let compileMs = 0;
  const retvals: (number | string)[] = [];
  const changed: { packet: number; frame: string }[] = [];
  const verdicts = new Map<string, number>();
  const countVerdict = (r0: bigint): void => {
    const name = verdictName(prog.progType, r0) ?? String(BigInt.asIntN(32, r0));
    verdicts.set(name, (verdicts.get(name) ?? 0) + 1);
  };
  let r: { packets: number; ms: number; error?: BpfError };
  if (workers > 1) {
    const pooled = await runPooled(sys, progFd, capture, io, workers, opts.engine, frames && opts.retvals === true, opts.steer).catch((e: unknown) => {
      throw pooledError(opts.file, e);
    });
    const res = pooled.result;
    if (res.printk) io.stderr.write(res.printk);
    let next = 0;
    for (let i = 0; i < res.count; i++) {
      if (res.verdicts[i] !== 0) accepted++;
      if (frames) {
        const r0 = BigInt.asUintN(64, res.retvals![i]!);
        if (opts.retvals) retvals.push(retvalJson(r0));
        if (verdictNames) {
          countVerdict(r0);
          const f = res.frames[next];
          if (f !== undefined && f.packet === i) {
            next++;
            changed.push({ packet: i + 1, frame: Buffer.from(f.data).toString('hex') });
          }
        }
      } else if (opts.retvals) {
        retvals.push(res.verdicts[i]!);
      }
    }
    retval = res.lastRetval;
    engineName = `${res.engines}, ${workers} workers`;
    r = { packets: res.count, ms: res.runMs, ...(pooled.capture.error ? { error: pooled.capture.error } : {}) };
  } else {
    const frameRunner = frames ? new CliFrameRunner(sys, progFd, io, opts.engine) : undefined;
    const runner: Runner = frameRunner ?? new PacketRunner(sys, progFd, opts.engine);
    let lastVerdictSeen = false;
    try {
      r = await forEachPacket(capture, runner, io, opts.file, opts.unverified === true || frames, (p, verdict) => {
        lastVerdictSeen = true;
        if (verdict !== 0) accepted++;
        if (frameRunner) {
          if (opts.retvals) retvals.push(retvalJson(frameRunner.lastRetval));
          if (verdictNames) {
            countVerdict(frameRunner.lastRetval);
            if (opts.retvals && !sameBytes(frameRunner.lastOut, p.data)) changed.push({ packet: retvals.length, frame: Buffer.from(frameRunner.lastOut).toString('hex') });
          }
        } else if (opts.retvals) {
          retvals.push(verdict);
        }
      });
      // all 64 bits of the last packet's r0
      if (lastVerdictSeen) retval = runner.lastRetval;
      // the engines that ran: on a tiered load the interpreter, then the JIT once it had compiled
      engineName = runner.enginesRun || runner.engineName;
      firstRuns = runner.firstRuns;
      // the JIT's compile: the tier's (background, or on the spot), else the eager load's (inside the load's time)
      compileMs = sys.progOf(progFd).prog.tier?.compileMs ?? 0;
    } catch (e) {
      if (e instanceof PacketFault && opts.json) {
        io.stdout.write(JSON.stringify({ retval: null, code: e.errno, error: e.message.slice(opts.file.length + 2), packets: e.packet - 1, accepted }) + '\n');
      }
      throw e;
    } finally {
      runner.close();
    }
  }
  const time = perPacket(r.packets, r.ms, firstRuns);
  const durationNs = time.ns;
  const verdictCounts = Object.fromEntries(verdicts);
  if (opts.json) {
    io.stdout.write(jsonLine({
      retval: retvalJson(retval), duration_ns: Math.round(durationNs * 10) / 10, runs: r.packets,
      startup: startupJson(loadMs, compileMs, firstRuns),
      ...mapsJson(maps), packets: r.packets,
      // accepted: a socket filter's non-zero verdicts; XDP and tc count each verdict instead
      ...(verdictNames ? { verdicts: verdictCounts } : { accepted }),
      ...profileJson(profile),
      ...(opts.retvals ? { retvals } : {}),
      ...(opts.retvals && verdictNames ? { frames: changed } : {}),
      ...(workers > 1 ? { workers } : {}),
    }) + '\n');
  } else {
    const counts = verdictNames ? `, ${[...verdicts].map(([n, c]) => `${n} ${c}`).join(', ') || 'no verdicts'}` : `, accepted ${accepted}`;
    const lastName = verdictNames ? verdictName(prog.progType, retval) : undefined;
    io.stdout.write(`${style.bold('packets', io.stdout)} ${r.packets}${counts}, last retval 0x${retval.toString(16)}${lastName ? ` (${lastName})` : ''}\n`);
    if (opts.retvals) {
      const names = retvals.map((v) => (verdictNames ? verdictName(prog.progType, BigInt(v)) ?? String(v) : String(v)));
      io.stdout.write(`${style.bold('retvals', io.stdout)} ${names.join(' ')}\n`);
      for (const c of changed) io.stdout.write(`${style.bold('frame', io.stdout)} ${c.packet}: ${c.frame}\n`);
    }
    io.stdout.write(`${style.bold('runs', io.stdout)}    ${formatNs(durationNs)} per packet (${profileText(profile)}${engineName}${opts.unverified ? ', unverified' : ''})\n`);
    io.stdout.write(`${style.bold('startup', io.stdout)} ${startupText(loadMs, compileMs, firstRuns)}\n`);
    io.stdout.write(mapsText(maps));
  }
  if (r.error) throw captureError(capture, r.error);
  return 0;
}

/**
 * The time per packet of a capture's run: the packets after each engine's
 * first run (those pay one-time costs: V8 compiling tsbpf's engine code, the
 * JIT module's lazy compile; the startup line shows them). When every packet
 * was a first run, those runs are all there is to report.
 */
export function perPacket(packets: number, ms: number, firstRuns: readonly { ms: number }[]): { ns: number; packets: number } {
  const firstMs = firstRuns.reduce((a, f) => a + f.ms, 0);
  const rest = packets - firstRuns.length;
  if (rest > 0) return { ns: (Math.max(0, ms - firstMs) * 1e6) / rest, packets: rest };
  return { ns: packets > 0 ? (ms * 1e6) / packets : 0, packets };
}

/** The one-time costs of a capture's run, as the `startup` line says them: the load, the JIT's compile, each engine's first run. */
export function startupText(loadMs: number, compileMs: number, firstRuns: readonly { engine: EngineName; ms: number }[]): string {
  const parts = [`load ${formatNs(loadMs * 1e6)}`];
  if (compileMs > 0) parts.push(`JIT compile ${formatNs(compileMs * 1e6)}`);
  if (firstRuns.length > 0) parts.push(`first run ${firstRuns.map((f) => `${formatNs(f.ms * 1e6)} (${f.engine})`).join(', ')}`);
  return parts.join(', ');
}

/** The same in --json: ns, rounded to 0.1 as duration_ns is. */
export function startupJson(loadMs: number, compileMs: number, firstRuns: readonly { engine: EngineName; ms: number }[]): { load_ns: number; jit_compile_ns: number; first_runs: { engine: EngineName; ns: number }[] } {
  const ns = (ms: number): number => Math.round(ms * 1e7) / 10;
  return { load_ns: ns(loadMs), jit_compile_ns: ns(compileMs), first_runs: firstRuns.map((f) => ({ engine: f.engine, ns: ns(f.ms) })) };
}

/** The bytes of a capture: standard input for '-' (as it arrives), else the file. */
function captureChunks(file: string, io: CliIo): AsyncIterable<Uint8Array> {
  if (file === '-') return io.stdin.chunks ? io.stdin.chunks() : once(io.stdin.readAll());
  return fileChunks(file);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  } catch (e) {
    throw fileError(path, e);
  } finally {
    stream.destroy();
  }
}

/** `source`, calling `waiting` each time its reader asks for a chunk after the first. */
async function* whenWaiting(source: AsyncIterable<Uint8Array>, waiting: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    yield chunk;
    waiting();
  }
}

function captureError(file: string, e: BpfError): CliError {
  return new CliError(`${file}: ${e.message.replace(/^capture: /, '')}`, 2, e.code);
}

export interface FilterOptions {
  file: string;
  write?: string;
  count: boolean;
  /** one JSON object per accepted packet; with count, one in all */
  json?: boolean;
  /** write each packet's line as soon as it is decided (tcpdump -l) */
  lineBuffered?: boolean;
  engine?: EngineName;
  unverified?: boolean;
  budget?: number;
  profile?: Profile;
  cpus?: number;
  /** --source: the C source lines (an object's .BTF.ext) in a 3.19 profile's log too */
  source?: boolean;
  /** --workers: worker threads (default: workers.ts's choice) */
  workers?: number;
  /** --steer: how the workers share the packets (default: the pool's, chunk) */
  steer?: SteerMode;
}

export async function filterCommand(prog: ProgramInput, capture: string, opts: FilterOptions, io: CliIo): Promise<number> {
  if (opts.write === '-' && io.stdout.isTTY) throw new CliError('-w -: standard output is a terminal; redirect it to a file or a pipe', 2, 'EINVAL');
  if (!findProgTypeByName(prog.progType)?.packet) throw new CliError(`${opts.file}: filter runs socket filters, not ${prog.progType} programs (run --pcap runs those)`, 2, 'EINVAL');
  const profile = opts.profile ?? PROFILE_3_19;
  const workers = chooseWorkers(prog, { given: opts.workers, capture, file: opts.file, unverified: opts.unverified === true });
  if (workers > 1) prestartWorkers(workers);
  const { sys, progFd } = loadInput(prog, opts.file, io, {
    verify: opts.unverified !== true, profile, ...(opts.budget === undefined ? {} : { budget: opts.budget }), source: opts.source === true,
    tiered: opts.engine === undefined,
    // worker i runs on CPU i
    ...(workers > 1 ? { shared: true, cpus: Math.max(opts.cpus ?? 1, workers) } : opts.cpus ? { cpus: opts.cpus } : {}),
  });
  // a modern socket filter runs over the test run's __sk_buff, a packet at a time
  const frames = profile === PROFILE_MODERN;
  let out: number | undefined;
  let writer: PcapWriter | undefined;
  // -w is opened once the capture has opened, as tcpdump does: a capture
  // that does not open leaves the output file untouched
  const emit = (bytes: Uint8Array): void => {
    // -w -: the capture on standard output, for the next command of a pipeline
    if (opts.write === '-') {
      io.stdout.write(bytes);
      return;
    }
    if (out === undefined) {
      try {
        out = openSync(opts.write!, 'w');
      } catch (e) {
        throw fileError(opts.write!, e);
      }
    }
    writeSync(out, bytes);
  };
  let matched = 0;
  const lines: string[] = [];
  const flush = (): void => {
    if (lines.length) io.stdout.write(lines.join(''));
    lines.length = 0;
  };
  // `index`: the packet's number in the capture (from 1)
  const accept = (p: Packet, keep: number, index: number): void => {
    matched++;
    // a socket trims the packet to the length the filter returned; a
    // modern socket filter's length counts from after the link header
    const cap = frames ? keep + ETH_HLEN : keep;
    const data = cap < p.data.length ? p.data.subarray(0, cap) : p.data;
    if (opts.write !== undefined) {
      if (!writer) {
        writer = new PcapWriter(p.linkType, { nanos: true });
        emit(writer.header());
      }
      emit(writer.record({ data, origLen: p.origLen, tsNs: p.tsNs }));
    } else if (opts.json && !opts.count) {
      lines.push(JSON.stringify({ packet: index, ts_ns: p.tsNs.toString(), len: p.data.length, orig_len: p.origLen, retval: keep, summary: summarize(data, p.linkType) }) + '\n');
      if (lines.length >= 256 || opts.lineBuffered) flush();
    } else if (!opts.count) {
      lines.push(`${timestamp(p.tsNs)} ${summarize(data, p.linkType)}\n`);
      if (lines.length >= 256 || opts.lineBuffered) flush();
    }
  };
  let r: { packets: number; bytes: number; wallMs: number; error?: BpfError; linkType?: number };
  if (workers > 1) {
    const pooled = await runPooled(sys, progFd, capture, io, workers, opts.engine, false, opts.steer).catch((e: unknown) => {
      throw pooledError(opts.file, e);
    });
    const res = pooled.result;
    const c = pooled.capture;
    if (res.printk) io.stderr.write(res.printk);
    let bytes = 0;
    try {
      for (let i = 0; i < res.count; i++) {
        bytes += c.index[i * INDEX_WORDS + 1]!;
        const keep = res.verdicts[i]!;
        if (keep !== 0) accept(c.packet(i), keep, i + 1);
      }
      // an empty result is still a valid capture
      if (opts.write !== undefined && !writer && c.linkType !== undefined) emit(new PcapWriter(c.linkType, { nanos: true }).header());
    } finally {
      flush();
      if (out !== undefined) closeSync(out);
    }
    r = { packets: res.count, bytes, wallMs: pooled.wallMs, ...(c.error ? { error: c.error } : {}) };
  } else {
    const runner: Runner = frames ? new CliFrameRunner(sys, progFd, io, opts.engine) : new PacketRunner(sys, progFd, opts.engine);
    try {
      let index = 0;
      r = await forEachPacket(capture, runner, io, opts.file, opts.unverified === true || frames, (p, keep) => {
        index++;
        if (keep !== 0) accept(p, keep, index);
      }, flush);
      // an empty result is still a valid capture
      if (opts.write !== undefined && !writer && r.linkType !== undefined) emit(new PcapWriter(r.linkType, { nanos: true }).header());
    } finally {
      flush();
      if (out !== undefined) closeSync(out);
      runner.close();
    }
  }
  if (opts.count) io.stdout.write(opts.json ? JSON.stringify({ packets: r.packets, matched }) + '\n' : `${matched} packets\n`);
  // wall time: reading the capture included, as a user of tcpdump -r sees it
  if (r.packets > 0 || !r.error) io.stderr.write(`tsbpf: ${throughput(r.packets, r.bytes, r.wallMs, `; ${matched} matched${workers > 1 ? `; ${workers} workers` : ''}`)}\n`);
  if (r.error) throw captureError(capture, r.error);
  return 0;
}
