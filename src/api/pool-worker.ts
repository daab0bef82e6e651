/**
 * The worker thread of a WorkerPool (pool.ts): what one worker owns. It
 * builds its own BpfSystem, loads the pool's program into it from the
 * program's LoadRecord (the instructions as first loaded, re-verified here:
 * the verifier is deterministic, so it accepts what the main thread's did
 * and the engines it builds are the ones the main system would pick), then
 * runs chunks of the packets the pool sends it, taking CHUNK packets at a
 * time until none is left (as do the other workers), reading each
 * packet straight from the shared copy of the capture and writing each
 * verdict into the shared verdict array at the packet's index, so that the
 * main thread has the results in capture order without a copy.
 *
 * This file is a worker entry: it does nothing when imported on the main
 * thread (no parentPort), and the main entry `tsbpf` never imports it.
 */

import { isMainThread, parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { BpfError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { BpfSystem, BPF_CMD, testRunObject } from './bpf.js';
import type { EngineName } from './bpf.js';
import { PacketRunner } from './packets.js';
import type { LoadRecord } from './program.js';
import type { ProgObject } from './objects.js';
import type { RuntimeAttach } from '../runtime/runtime.js';
import type { SharedMapState } from '../maps/map.js';
import { networkOffset } from '../pcap/linktype.js';

/** pool.ts's INDEX_WORDS (not imported: the worker's graph stays the engines' and the loader's) */
const W = 5;
/** pcap's LINKTYPE_ETHERNET: the frames a test run takes */
const LINKTYPE_ETHERNET = 1;

/** What the pool sends to set a worker up. */
export interface InitMessage {
  kind: 'init';
  record: LoadRecord;
  profile: string;
  cpus: number;
  /** the worker's index: its CPU (per-CPU maps, bpf_get_smp_processor_id) */
  index: number;
  engine?: EngineName;
  /** unverified programs: the checked interpreter's budget */
  budget: number;
  /** how packets become the context: 'packet' (PacketRunner: a socket filter's skb) or 'frame' (the test run's: XDP, tc, modern socket filters) */
  mode: 'packet' | 'frame';
  /** a shared system: the worker's lane and arena of its memory, and the program's maps (their states), in the record's order */
  attach?: RuntimeAttach;
  maps?: SharedMap[];
}

/** A map of the program as a worker attaches it. */
export interface SharedMap {
  state: SharedMapState;
  name: string;
}

/** A run of packets: indexes from..to of the capture index. */
export interface RunMessage {
  kind: 'run';
  /** the capture's bytes */
  capture: SharedArrayBuffer;
  /** per packet INDEX_WORDS words (pool.ts): the offset of its data in capture, its length, its length on the wire, its link type, its interface */
  index: SharedArrayBuffer;
  /** the packets [0, to) of the capture this run covers */
  to: number;
  /**
   * Int32 words shared by the run's workers: [0] the next packet no worker
   * has taken (each takes CHUNK at a time, Atomics.add), [1] the first
   * packet known to fail (to: none yet): chunks from it on are not taken.
   */
  work: SharedArrayBuffer;
  /** r0's low 32 bits per packet (Uint32) */
  verdicts: SharedArrayBuffer;
  /** r0's 64 bits per packet (BigInt64), in frame mode */
  retvals?: SharedArrayBuffer;
  /** run packets one at a time, naming the one that faults (unverified programs) */
  oneByOne: boolean;
  /** frame mode: send back the frames a run changed */
  frames: boolean;
}

/** A worker's answer to init or run. */
export type WorkerReply =
  | { kind: 'ready'; ms: number }
  /** lastPacket: the last packet this worker ran (-1: none), whose r0 is `last` */
  | { kind: 'done'; ms: number; engines: string; frames: { packet: number; data: Uint8Array }[]; printk: string; last?: bigint; lastPacket: number }
  /** at: the failing packet, or the start of the chunk that failed (which worker's failure comes first in the capture) */
  | { kind: 'error'; code: string; message: string; packet?: number; printk?: string; at?: number };

/** Packets handed to the engine per call (one call into WebAssembly each with the JIT), as the CLI's capture loop. */
const BATCH = 256;

/**
 * Packets a worker takes from a run at a time (a multiple of BATCH):
 * workers take chunks until none is left, so that one slowed down (a
 * busier core, more new flows in its part of the capture) leaves the rest
 * to the others instead of being waited for, as with a fixed split into
 * one part per worker.
 */
export const CHUNK = 4096;

/** Lower the run's first failing packet (work[1]) to `at`: no worker takes a chunk from there on. */
function failFrom(work: Int32Array, at: number): void {
  for (let cur = Atomics.load(work, 1); at < cur; cur = Atomics.load(work, 1)) {
    if (Atomics.compareExchange(work, 1, cur, at) === cur) return;
  }
}

class PoolWorker {
  private sys: BpfSystem | undefined;
  private obj: ProgObject | undefined;
  private runner: PacketRunner | undefined;
  private init: InitMessage | undefined;
  /** the engines that ran, in the order they first ran (frame mode) */
  private readonly ran: string[] = [];
  /** the first packet of the chunk being run (undefined between runs) */
  private chunkAt: number | undefined;

  constructor(private readonly port: MessagePort) {}

  handle(msg: InitMessage | RunMessage): void {
    try {
      if (msg.kind === 'init') this.setUp(msg);
      else this.run(msg);
    } catch (e) {
      const printk = this.sys ? this.sys.runtime.helpers.run.takePrintk().join('') : '';
      const at = e instanceof PacketError ? e.packet : this.chunkAt;
      if (msg.kind === 'run' && at !== undefined) failFrom(new Int32Array(msg.work), at);
      this.chunkAt = undefined;
      if (e instanceof PacketError) this.port.postMessage({ kind: 'error', code: e.code, message: e.message, packet: e.packet, printk, at } satisfies WorkerReply);
      else if (e instanceof BpfError) this.port.postMessage({ kind: 'error', code: e.code, message: e.message, printk, ...(at === undefined ? {} : { at }) } satisfies WorkerReply);
      else this.port.postMessage({ kind: 'error', code: 'EFAULT', message: `internal error in worker: ${e instanceof Error ? e.message : String(e)}`, printk } satisfies WorkerReply);
    }
  }

  private setUp(msg: InitMessage): void {
    const t0 = performance.now();
    const rec = msg.record;
    let sys: BpfSystem;
    let insns = rec.insns;
    if (msg.attach) {
      // the owner's memory and maps: each map reference of the record (an index) becomes this system's fd for it
      sys = new BpfSystem({ attach: msg.attach });
      const fds = (msg.maps ?? []).map((m) => sys.attachMap(m.state, m.name));
      insns = rec.insns.slice();
      const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
      for (const slot of rec.mapSlots) {
        const fd = fds[view.getInt32(slot * 8 + 4, true)];
        if (fd === undefined) throw new BpfError('EINVAL', `slot ${slot} names a map the pool did not attach`);
        view.setInt32(slot * 8 + 4, fd, true);
      }
    } else {
      if (rec.mapSlots.length > 0) throw new BpfError('ENOTSUP', 'the program uses maps and the worker has no shared memory to attach them from');
      sys = new BpfSystem({ profile: msg.profile, cpus: msg.cpus });
      sys.runtime.cpu = msg.index;
    }
    sys.unverifiedBudget = msg.budget;
    // the interpreter asked for: no JIT to compile
    if (msg.engine === 'interpreter') sys.jitEnabled = false;
    const attr = {
      prog_type: rec.progType, insns, license: rec.license,
      ...(rec.lineInfo ? { line_info: rec.lineInfo } : {}), ...(rec.funcInfo ? { func_info: rec.funcInfo } : {}),
    };
    let fd: number;
    if (rec.verify) {
      // Not tiered: a worker runs its packets in one synchronous loop, in
      // which a background compile never resolves (its promise needs the
      // event loop), so a tiered load would run the interpreter throughout.
      // The JIT compiles here, while the main thread reads the capture.
      sys.jitTiering = false;
      fd = sys.bpf(BPF_CMD.BPF_PROG_LOAD, attr);
    } else {
      fd = sys.loadUnverified(attr);
    }
    this.sys = sys;
    this.obj = sys.progOf(fd);
    this.init = msg;
    if (msg.mode === 'packet') this.runner = new PacketRunner(sys, fd, msg.engine);
    this.port.postMessage({ kind: 'ready', ms: performance.now() - t0 } satisfies WorkerReply);
  }

  private run(msg: RunMessage): void {
    if (!this.sys || !this.init || !this.obj) throw new BpfError('EINVAL', 'the worker has not been set up');
    const t0 = performance.now();
    const bytes = new Uint8Array(msg.capture);
    const index = new Int32Array(msg.index);
    const verdicts = new Uint32Array(msg.verdicts);
    const work = new Int32Array(msg.work);
    const frames: { packet: number; data: Uint8Array }[] = [];
    let last: bigint | undefined;
    let lastPacket = -1;
    // chunks in increasing order: this worker's last run is of the last packet it took
    for (let from = Atomics.add(work, 0, CHUNK); from < msg.to && from < Atomics.load(work, 1); from = Atomics.add(work, 0, CHUNK)) {
      const to = Math.min(msg.to, from + CHUNK);
      this.chunkAt = from;
      last = this.runChunk(msg, bytes, index, verdicts, frames, from, to);
      lastPacket = to - 1;
    }
    this.chunkAt = undefined;
    const engines = this.runner ? this.runner.enginesRun : this.ran.join(' then ');
    const printk = this.sys.runtime.helpers.run.takePrintk().map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
    this.port.postMessage({ kind: 'done', ms: performance.now() - t0, engines, frames, printk, lastPacket, ...(last === undefined ? {} : { last }) } satisfies WorkerReply);
  }

  /** Packets [from, to): their verdicts (frame mode: their retvals and changed frames too); r0 of the last. */
  private runChunk(msg: RunMessage, bytes: Uint8Array, index: Int32Array, verdicts: Uint32Array, frames: { packet: number; data: Uint8Array }[], from: number, to: number): bigint | undefined {
    const sys = this.sys!;
    if (this.runner) {
      const runner = this.runner;
      if (msg.oneByOne) {
        for (let i = from; i < to; i++) {
          const off = index[i * W]!;
          const data = bytes.subarray(off, off + index[i * W + 1]!);
          try {
            verdicts[i] = runner.run(data, networkOffset(data, index[i * W + 3]!));
          } catch (e) {
            if (e instanceof BpfError) throw new PacketError(e.code, e.message, i);
            throw e;
          }
        }
      } else {
        const batch: { data: Uint8Array; netOff: number }[] = [];
        for (let at = from; at < to; at += BATCH) {
          const end = Math.min(to, at + BATCH);
          batch.length = 0;
          for (let i = at; i < end; i++) {
            const off = index[i * W]!;
            const data = bytes.subarray(off, off + index[i * W + 1]!);
            batch.push({ data, netOff: networkOffset(data, index[i * W + 3]!) });
          }
          verdicts.set(runner.runBatch(batch), at);
        }
      }
      return to > from ? runner.lastRetval : undefined;
    }
    // frame mode: each packet as the test run makes it the program's context
    const retvals = msg.retvals ? new BigInt64Array(msg.retvals) : undefined;
    let last: bigint | undefined;
    for (let i = from; i < to; i++) {
      const off = index[i * W]!;
      const data = bytes.subarray(off, off + index[i * W + 1]!);
      const linkType = index[i * W + 3]!;
      if (linkType !== LINKTYPE_ETHERNET) throw new PacketError('EINVAL', `the test run takes Ethernet frames, the capture's link type is ${linkType}`, i);
      let r;
      try {
        r = testRunObject(sys, this.obj!, data, 1, this.init!.engine);
      } catch (e) {
        if (e instanceof BpfError) throw new PacketError(e.code, e.message, i);
        throw e;
      }
      verdicts[i] = Number(BigInt.asUintN(32, r.retval));
      if (retvals) retvals[i] = BigInt.asIntN(64, r.retval);
      if (msg.frames && !sameBytes(r.dataOut, data)) frames.push({ packet: i, data: r.dataOut });
      if (this.ran.length === 0 || this.ran[this.ran.length - 1] !== r.engine) this.ran.push(r.engine);
      last = r.retval;
    }
    return last;
  }
}

/** A run's fault on one packet: its index goes back with the error. */
class PacketError extends BpfError {
  constructor(code: ErrnoCode, message: string, readonly packet: number) {
    super(code, message);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const worker = new PoolWorker(port);
  port.on('message', (msg: InitMessage | RunMessage) => worker.handle(msg));
}
