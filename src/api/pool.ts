/**
 * WorkerPool (`tsbpf/node`): one loaded program run over a capture by
 * several worker threads at once. The capture's bytes are put in a
 * SharedArrayBuffer once; the main thread reads its record headers into a
 * shared index (where each packet's bytes are, their length, their link
 * type), and the workers (pool-worker.ts) run their share of the packets:
 * by default each flow's packets on one worker (steer.ts), else chunks taken
 * from a shared counter until none is left. They read the packets from the
 * shared bytes and write each verdict into a shared array at the packet's
 * index. The results are therefore in capture order however the workers
 * interleave, and the caller emits output (`-w`) from them in that order.
 *
 * Workers are started once and kept: a pool runs as many captures as it is
 * given, each worker keeping its loaded program (and its compiled JIT)
 * between them. Start-up costs a worker thread and a load of the program
 * (its imports compiled, the program verified and compiled): tens of
 * milliseconds, which is why a small capture is better run on one thread
 * (defaultWorkers).
 *
 * Node's only (worker_threads); the main entry `tsbpf` never imports this
 * file.
 */

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BpfError } from '../errors.js';
import type { EngineName } from './bpf.js';
import type { ProgObject } from './objects.js';
import type { BpfSystem } from './bpf.js';
import { loadRecordOf } from './program.js';
import { describe } from './describe.js';
import { MAX_RECORD, parseCapture } from '../pcap/reader.js';
import { networkOffset } from '../pcap/linktype.js';
import type { Packet } from '../pcap/reader.js';
import type { InitMessage, RunMessage, SharedMap, WorkerReply } from './pool-worker.js';
import type { RuntimeAttach } from '../runtime/runtime.js';
import { mapTypeName } from '../maps/types.js';
import { CHUNK, STEER_MODES } from './steer.js';
import type { SteerMode } from './steer.js';

/** The most workers a pool takes: far more threads than any machine's cores only cost memory and start-up. */
export const MAX_WORKERS = 256;

/** Options of WorkerPool.create. */
export interface WorkerPoolOptions {
  /** worker threads, 1 to MAX_WORKERS (default: the machine's cores, os.availableParallelism()) */
  workers?: number;
  /** the engine every worker runs (default: the one the program's own system picks; tiered where it loaded tiered) */
  engine?: EngineName;
  /**
   * how packets are given to the workers (default 'chunk'): 'chunk' 4096
   * packets at a time to whichever worker is free; 'flow' as a NIC's
   * receive-side scaling, each flow's packets all to one worker, in capture
   * order (steer.ts: the 5-tuple, ordered so both directions go together),
   * for programs whose per-flow state must see a flow's packets in order.
   * 'chunk' is the default as it was faster on every bench row measured
   * (bench --workers: each worker reads a contiguous stretch and hashes
   * nothing; see the README's workers figures)
   */
  steer?: SteerMode;
}

/** What WorkerPool.runCapture gives: every packet's verdict, in capture order. */
export interface PoolCaptureResult {
  /** the capture as the pool read it: capture.packet(i) is packet i (its data a view of the shared bytes), capture.error a fault after the last packet */
  capture: SharedCapture;
  /** the number of packets run */
  count: number;
  /** each packet's r0, low 32 bits (a socket filter's bytes to keep), by packet index */
  verdicts: Uint32Array;
  /** each packet's r0, all 64 bits (signed), for frame programs (XDP, tc, modern socket filters) */
  retvals?: BigInt64Array;
  /** frame programs: the frames a run changed, by packet index (0-based), in order */
  frames: { packet: number; data: Uint8Array }[];
  /** bpf_trace_printk's lines, worker by worker in capture order */
  printk: string;
  /** the engines that ran (one worker's: 'jit', or 'interpreter then jit' on a tiered load) */
  engines: string;
  /** wall time of the runs, from handing the runs out to the last worker's answer (ms) */
  runMs: number;
  /** r0 of the last packet, all 64 bits (0 when there was none) */
  lastRetval: bigint;
}

/** A program's fault on one packet: the packet's index (0-based), with the error. */
export class PoolPacketError extends BpfError {
  constructor(code: BpfError['code'], message: string, readonly packet: number, readonly printk = '') {
    super(code, message);
  }
}

/**
 * The workers a capture of `bytes` bytes should get by default: every core
 * when the capture is large enough to pay for the workers' start-up, else 1.
 */
export function defaultWorkers(bytes: number, cores = availableParallelism()): number {
  return bytes >= POOL_MIN_BYTES ? Math.max(1, Math.min(cores, MAX_WORKERS)) : 1;
}

/**
 * The capture size from which defaultWorkers uses every core. A worker's
 * start-up (a thread, tsbpf's modules compiled, the program loaded and its
 * JIT compiled) costs about 110 ms of CPU (2-core Xeon, measured by CPU
 * time: the machine was loaded), in parallel with the main thread reading
 * and indexing the capture, and a second worker saves half of the runs'
 * time. Estimated from the CPU times of one-thread and two-worker
 * `filter` and `run --pcap` processes on a generated flow mix (frames of
 * 60-1514 bytes, about 600 on average): they break even near 100,000
 * frames (60 MB), and two workers are about 1.3x faster at 300,000 (180
 * MB). A capture cut short (tcpdump -s 128) has more packets per byte and
 * pays off sooner; the threshold is set for whole frames, with a margin.
 */
export const POOL_MIN_BYTES = 64 << 20;

interface Slot {
  worker: Worker;
  /** its lane and arena of the shared memory */
  attach?: RuntimeAttach;
  /** the answer awaited, if any */
  waiting?: { resolve(r: WorkerReply): void; reject(e: Error): void };
}

/** A loaded program's runs spread over worker threads; create with WorkerPool.create, end with close(). */
export class WorkerPool {
  private closed = false;
  /** each worker's start-up, ms (thread, modules, program load), measured from the main thread */
  readonly startMs: number[];

  private constructor(
    private readonly sys: BpfSystem, private readonly obj: ProgObject, private readonly slots: Slot[], private readonly mode: 'packet' | 'frame', startMs: number[],
    /** how runCapture gives packets to the workers unless told otherwise */
    readonly steer: SteerMode,
  ) {
    this.startMs = startMs;
  }

  /** The number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Start the workers for `program` (a Program, or any object holding a
   * loaded program and its system, as a Collection's programs do) and load
   * it in each. The program must have been loaded by Program.load (each
   * worker loads it again from the same instructions). In a system made
   * with `shared: true` (and at least as many CPUs as workers: worker i runs
   * on CPU i), the workers attach to its memory and share its maps, which
   * must be of types that can be shared (ENOTSUP naming the first that
   * cannot); in any other system each worker has a system of its own and
   * the program may use no map (ENOTSUP).
   */
  static async create(program: { readonly sys: BpfSystem; readonly object: ProgObject }, options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    if (typeof program !== 'object' || program === null || !('object' in program) || !('sys' in program)) {
      throw new BpfError('EINVAL', `a worker pool runs a Program, got ${describe(program)}`);
    }
    const sys = program.sys;
    const obj = program.object;
    const prog = obj.prog;
    const workers = options.workers ?? defaultWorkers(Infinity);
    checkWorkers(workers);
    const steer = options.steer ?? 'chunk';
    checkSteer(steer);
    const record = loadRecordOf(obj);
    if (!record) throw new BpfError('EINVAL', 'a worker pool runs programs loaded by Program.load');
    const frameMode = sys.runtime.profile.name === 'modern' || !prog.type.packet;
    // the modern profile's packet programs (socket filters, XDP, tc) run as the test run makes a frame their context
    if (!prog.type.packet && sys.runtime.profile.name !== 'modern') throw new BpfError('EINVAL', `a ${prog.type.name} program does not run over packets`);
    const mem = sys.runtime.mem;
    // the maps the workers share: each one's state, in the order the record's map indexes name them
    const maps = mem.shared ? shareMaps(obj) : refuseMaps(obj);
    if (mem.shared && sys.runtime.cpus < workers) {
      throw new BpfError('EINVAL', `the system has ${sys.runtime.cpus} CPU${sys.runtime.cpus === 1 ? '' : 's'}: ${workers} workers need one each (BpfSystem option cpus)`);
    }
    const slots: Slot[] = [];
    const t0 = performance.now();
    try {
      const inits: InitMessage[] = [];
      for (let i = 0; i < workers; i++) {
        const attach = mem.shared ? sys.runtime.workerAttach({ arenaBytes: WORKER_ARENA, cpu: i }) : undefined;
        const s: Slot = startWorker(attach);
        slots.push(s);
        inits.push({
          kind: 'init', record, profile: sys.runtime.profile.name, cpus: Math.max(sys.runtime.cpus, workers), index: i,
          budget: sys.unverifiedBudget, mode: frameMode ? 'frame' : 'packet', ...(options.engine ? { engine: options.engine } : {}),
          ...(attach ? { attach, maps } : {}),
        });
      }
      const replies = await Promise.all(slots.map((s, i) => ask(s, inits[i]!)));
      const start = replies.map(() => performance.now() - t0);
      // the pool holds the program, and so its maps, whose memory the workers use, until close()
      sys.hold(obj);
      return new WorkerPool(sys, obj, slots, frameMode ? 'frame' : 'packet', start, steer);
    } catch (e) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      for (const s of slots) if (s.attach) sys.runtime.releaseAttach(s.attach, true);
      throw e;
    }
  }

  /**
   * Run the program over every packet of a capture (pcap or pcapng bytes),
   * each verdict at its packet's index. The packets go to the workers as
   * `steer` says (default: the pool's): 'flow', each flow's packets to one
   * worker in capture order, the flows' hashes computed by the workers
   * chunk by chunk as they go; 'chunk', chunks of CHUNK packets taken until
   * none is left. A capture that does not open is its error; one that
   * faults after some packets gives those packets' results with `error`. A
   * run that fails is a PoolPacketError naming the first packet (in capture
   * order) whose run failed; packets of other workers' runs after it may
   * have run.
   *
   * The capture is read from a SharedArrayBuffer: pass bytes over one to
   * spare the copy.
   */
  async runCapture(capture: Uint8Array | SharedCapture, options: { frames?: boolean; oneByOne?: boolean; steer?: SteerMode } = {}): Promise<PoolCaptureResult> {
    if (this.closed) throw new BpfError('EBADF', 'the worker pool is closed');
    const steer = options.steer ?? this.steer;
    checkSteer(steer);
    let cap: SharedCapture;
    if (capture instanceof SharedCapture) cap = capture;
    else if (capture instanceof Uint8Array) cap = indexCapture(capture.buffer instanceof SharedArrayBuffer ? capture : sharedCopy(capture));
    else throw new BpfError('EINVAL', `a capture must be a Uint8Array, got ${describe(capture)}`);
    const n = cap.count;
    const verdictBuf = new SharedArrayBuffer(n * 4);
    const retvalBuf = this.mode === 'frame' ? new SharedArrayBuffer(n * 8) : undefined;
    // [0]: the next packet to take, [1]: the first failing packet (n: none)
    const work = new Int32Array(new SharedArrayBuffer(8));
    work[1] = n;
    // flow steering: a worker per packet (a byte: MAX_WORKERS is 256) and a state per chunk, filled in by the workers;
    // one worker runs everything in order, with nothing to steer
    const workers = this.slots.length;
    const flow = steer === 'flow' && workers > 1 ? { owner: new SharedArrayBuffer(n), states: new SharedArrayBuffer(Math.ceil(n / CHUNK) * 4), workers } : {};
    const t0 = performance.now();
    const replies = await Promise.allSettled(this.slots.map((s) => ask(s, {
      kind: 'run', capture: cap.bytes.buffer as SharedArrayBuffer, index: cap.index.buffer as SharedArrayBuffer, to: n, work: work.buffer as SharedArrayBuffer,
      verdicts: verdictBuf, ...(retvalBuf ? { retvals: retvalBuf } : {}), oneByOne: options.oneByOne === true, frames: options.frames === true,
      steer, ...flow,
    } satisfies RunMessage)));
    const runMs = performance.now() - t0;
    let printk = '';
    const frames: { packet: number; data: Uint8Array }[] = [];
    let engines = '';
    let lastRetval = 0n;
    let lastPacket = -1;
    // the failure reported is the first in capture order: the workers ran chunks in any order between them
    let failure: { at: number; error: unknown } | undefined;
    for (const r of replies) {
      if (r.status === 'rejected') {
        failure ??= { at: Infinity, error: r.reason };
        continue;
      }
      const reply = r.value;
      if (reply.kind === 'done' || reply.kind === 'error') printk += reply.printk ?? '';
      if (reply.kind === 'error') {
        const e = reply.packet === undefined ? new BpfError(reply.code as BpfError['code'], reply.message) : new PoolPacketError(reply.code as BpfError['code'], reply.message, reply.packet, printk);
        const at = reply.at ?? Infinity;
        if (failure === undefined || at < failure.at) failure = { at, error: e };
        continue;
      }
      if (reply.kind !== 'done') throw new BpfError('EFAULT', `a worker answered ${reply.kind} to a run`);
      frames.push(...reply.frames);
      if (engines === '') engines = reply.engines;
      if (reply.last !== undefined && reply.lastPacket > lastPacket) {
        lastPacket = reply.lastPacket;
        lastRetval = BigInt.asUintN(64, reply.last);
      }
    }
    if (failure) throw failure.error;
    frames.sort((a, b) => a.packet - b.packet);
    return {
      capture: cap, count: n, verdicts: new Uint32Array(verdictBuf), ...(retvalBuf ? { retvals: new BigInt64Array(retvalBuf) } : {}),
      frames, printk, engines, runMs, lastRetval,
    };
  }

  /** Stop the workers. Closing twice is a no-op; a closed pool's runCapture is EBADF. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    // the lanes and arenas given to the workers, once they can no longer run (force: one
    // terminated mid-run, a failed run or a close during one, left its run word set)
    for (const s of this.slots) if (s.attach) this.sys.runtime.releaseAttach(s.attach, true);
    this.sys.release(this.obj);
  }
}

/** A worker count, or EINVAL in one line. */
export function checkWorkers(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new BpfError('EINVAL', `workers must be an integer from 1 to ${MAX_WORKERS}, got ${describe(n)}`);
  }
}

/** A steer mode, or EINVAL in one line. */
export function checkSteer(s: unknown): asserts s is SteerMode {
  if (!STEER_MODES.includes(s as SteerMode)) throw new BpfError('EINVAL', `steer must be 'flow' or 'chunk', got ${describe(s)}`);
}

/** Each worker's heap arena: its packet buffers, batch descriptors and JIT scratch areas. */
const WORKER_ARENA = 8 << 20;

/** A program with maps in a system that is not shared: ENOTSUP naming its first map. */
function refuseMaps(obj: ProgObject): SharedMap[] {
  const m = obj.prog.maps[0];
  if (m) throw new BpfError('ENOTSUP', `the program uses map '${m.name}' (${mapTypeName(m.impl.type)}): worker threads share maps only in a system made with shared: true`);
  return [];
}

/** The program's maps as workers attach them; ENOTSUP naming the first map whose type cannot be shared. */
function shareMaps(obj: ProgObject): SharedMap[] {
  return obj.prog.maps.map((m) => {
    if (!m.impl.shareState) throw new BpfError('ENOTSUP', `the program uses map '${m.name}' (${mapTypeName(m.impl.type)}): maps of this type cannot be shared between worker threads`);
    return { state: m.impl.shareState(), name: m.name };
  });
}

/** Worker threads started ahead (prestartWorkers), loading tsbpf's modules, not yet given to a pool. */
const spare: { worker: Worker; exited: boolean }[] = [];

function newWorker(): Worker {
  // '../api/': the same file from this module (dist/src/api/) and from the CLI's bundle of it (dist/src/cli/main.bundle.cjs)
  return new Worker(new URL('../api/pool-worker.js', import.meta.url));
}

/**
 * Start `n` worker threads now, for the next WorkerPool.create to take: a
 * worker's start-up (a thread, tsbpf's modules) then overlaps whatever the
 * caller does meanwhile, such as loading the program (the CLI does this).
 * Threads never taken hold the process open no longer than it would be.
 */
export function prestartWorkers(n: number): void {
  checkWorkers(n);
  for (let i = 0; i < n; i++) {
    const s = { worker: newWorker(), exited: false };
    s.worker.on('error', () => undefined);
    s.worker.on('exit', () => {
      s.exited = true;
    });
    s.worker.unref();
    spare.push(s);
  }
}

function startWorker(attach: RuntimeAttach | undefined): Slot {
  let worker: Worker | undefined;
  while (worker === undefined && spare.length > 0) {
    const s = spare.shift()!;
    if (!s.exited) worker = s.worker;
  }
  worker ??= newWorker();
  const slot: Slot = { worker, ...(attach ? { attach } : {}) };
  worker.on('message', (msg: WorkerReply) => {
    const w = slot.waiting;
    slot.waiting = undefined;
    w?.resolve(msg);
  });
  const fail = (e: Error): void => {
    const w = slot.waiting;
    slot.waiting = undefined;
    w?.reject(new BpfError('EFAULT', `a pool worker failed: ${e.message}`, { cause: e }));
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)));
  return slot;
}

/** Send one message and wait for the worker's answer (the worker holds the process open meanwhile). */
function ask(slot: Slot, msg: InitMessage | RunMessage): Promise<WorkerReply> {
  return new Promise<WorkerReply>((resolve, reject) => {
    slot.worker.ref();
    slot.waiting = {
      resolve: (r) => {
        slot.worker.unref();
        if (msg.kind === 'init' && r.kind === 'error') reject(new BpfError(r.code as BpfError['code'], r.message));
        else resolve(r);
      },
      reject: (e) => {
        slot.worker.unref();
        reject(e);
      },
    };
    slot.worker.postMessage(msg);
  });
}

function sharedCopy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
}

/** Index words per packet: data offset in the buffer, captured length, length on the wire, link type, pcapng interface id. */
export const INDEX_WORDS = 5;

/**
 * A capture in shared bytes, indexed: where each packet's bytes are (the
 * workers read them by the index), and each packet as a Packet on demand
 * (made only for the packets the caller asks for: the output's).
 */
export class SharedCapture {
  /** the number of packets */
  readonly count: number;

  constructor(
    readonly bytes: Uint8Array,
    /** INDEX_WORDS per packet */
    readonly index: Int32Array,
    /** per packet timestamps for captures not read by the pcap walk (pcapng); else read from each record's header */
    private readonly stamps: BigInt64Array | undefined,
    private readonly pcap: { le: boolean; nanos: boolean } | undefined,
    readonly linkType: number | undefined,
    /** a capture that faulted after `count` packets */
    readonly error: BpfError | undefined,
  ) {
    this.count = index.length / INDEX_WORDS;
  }

  /** Packet i (0-based): its data a view of the shared bytes. */
  packet(i: number): Packet {
    const x = this.index;
    const off = x[i * INDEX_WORDS]!;
    const data = new Uint8Array(this.bytes.buffer, off, x[i * INDEX_WORDS + 1]!);
    const linkType = x[i * INDEX_WORDS + 3]!;
    let tsNs: bigint;
    if (this.stamps) tsNs = this.stamps[i]!;
    else {
      const v = new DataView(this.bytes.buffer, off - 16, 8);
      const le = this.pcap!.le;
      tsNs = BigInt(v.getUint32(0, le)) * 1_000_000_000n + BigInt(v.getUint32(4, le)) * (this.pcap!.nanos ? 1n : 1000n);
    }
    return { data, origLen: x[i * INDEX_WORDS + 2]! >>> 0, tsNs, linkType, interfaceId: x[i * INDEX_WORDS + 4]!, netOff: networkOffset(data, linkType) };
  }
}

/**
 * Index a capture held in shared bytes. A classic pcap file is walked
 * record header by record header (no object per packet: a few ms for
 * 500,000 records); anything else, and a pcap file the walk finds a fault
 * in, goes through the capture reader, whose packets and errors are the
 * reference.
 */
export function indexCapture(bytes: Uint8Array): SharedCapture {
  return walkPcap(bytes) ?? readIndex(bytes);
}

const LIBPCAP_MAX_SNAPLEN = 262144;

function walkPcap(bytes: Uint8Array): SharedCapture | undefined {
  if (bytes.length < 24) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!le && !be) return undefined;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const snaplen = v.getUint32(16, le);
  const linkType = v.getUint32(20, le) & 0xffff;
  const limit = Math.min(MAX_RECORD, Math.max(snaplen, LIBPCAP_MAX_SNAPLEN));
  // at most one record per 16 bytes
  let index = new Int32Array(Math.min(1 << 16, Math.floor(bytes.length / 16) + 1) * INDEX_WORDS);
  let n = 0;
  let at = 24;
  const end = bytes.length;
  while (at < end) {
    if (end - at < 16) return undefined;
    const incl = v.getUint32(at + 8, le);
    if (incl > limit || end - at - 16 < incl) return undefined;
    if ((n + 1) * INDEX_WORDS > index.length) {
      const grown = new Int32Array(index.length * 2);
      grown.set(index);
      index = grown;
    }
    const w = n * INDEX_WORDS;
    index[w] = bytes.byteOffset + at + 16;
    index[w + 1] = incl;
    index[w + 2] = v.getUint32(at + 12, le);
    index[w + 3] = linkType;
    index[w + 4] = 0;
    n++;
    at += 16 + incl;
  }
  return new SharedCapture(bytes, shared(index, n), undefined, { le, nanos }, linkType, undefined);
}

/** The index through the capture reader (pcapng; a faulty pcap file): its packets, and its error after them. */
function readIndex(bytes: Uint8Array): SharedCapture {
  const it = parseCapture(bytes);
  const rows: number[] = [];
  const stamps: bigint[] = [];
  let error: BpfError | undefined;
  try {
    for (const p of it) {
      // a packet the reader did not hand over as a view of the bytes (none is, with one buffer): not indexable
      if (p.data.buffer !== bytes.buffer) throw new BpfError('EFAULT', `packet ${stamps.length} is not a view of the capture`);
      rows.push(p.data.byteOffset, p.data.length, p.origLen, p.linkType, p.interfaceId);
      stamps.push(p.tsNs);
    }
  } catch (e) {
    if (!(e instanceof BpfError) || it.info === undefined) throw e;
    error = e;
  }
  const index = new Int32Array(rows);
  return new SharedCapture(bytes, shared(index, stamps.length), BigInt64Array.from(stamps), undefined, it.info?.linkType, error);
}

/** The first n packets' index words in a SharedArrayBuffer. */
function shared(index: Int32Array, n: number): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(n * INDEX_WORDS * 4));
  out.set(index.subarray(0, n * INDEX_WORDS));
  return out;
}
