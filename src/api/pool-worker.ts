/**
 * The worker thread of a WorkerPool (pool.ts): what one worker owns. It
 * builds its own BpfSystem, loads the pool's program into it from the
 * program's LoadRecord (the instructions as first loaded, re-verified here:
 * the verifier is deterministic, so it accepts what the main thread's did
 * and the engines it builds are the ones the main system would pick), then
 * runs its share of the packets the pool sends it, reading each packet
 * straight from the shared copy of the capture and writing each verdict
 * into the shared verdict array at the packet's index, so that the main
 * thread has the results in capture order without a copy. Its share is
 * either its flows' packets (steer 'flow': every worker walks the capture
 * chunk by chunk in order, steering each chunk's packets by flow hash,
 * steer.ts, the first time any worker reaches it, and runs those steered to
 * itself) or whole chunks taken from a shared counter until none is left
 * (steer 'chunk').
 *
 * This file is a worker entry: it does nothing when imported on the main
 * thread (no parentPort), and the main entry `tsbpf` never imports it.
 */

import { isMainThread, parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { BpfError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { BpfSystem, BPF_CMD } from './bpf.js';
import { FrameRunner } from './frames.js';
import type { EngineName } from './bpf.js';
import { PacketRunner } from './packets.js';
import type { LoadRecord } from './program.js';
import type { ProgObject } from './objects.js';
import type { RuntimeAttach } from '../runtime/runtime.js';
import type { SharedMapState } from '../maps/map.js';
import { networkOffset } from '../pcap/linktype.js';
import { CHUNK, steerRange } from './steer.js';
import type { SteerMode } from './steer.js';

/** pool.ts's INDEX_WORDS (not imported: the worker's graph stays the engines' and the loader's) */
const W = 5;
/** which Int32 word of a BigInt64 element holds its low half: 0 on a little-endian host */
const LO_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
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
   * has taken (steer 'chunk': each takes CHUNK at a time, Atomics.add), [1]
   * the first packet known to fail (to: none yet): no batch from it on is
   * started.
   */
  work: SharedArrayBuffer;
  /** 'flow': each worker runs the packets steered to it (steer.ts); 'chunk': chunks from work[0] */
  steer: SteerMode;
  /**
   * steer 'flow': the worker of each packet (a byte per packet), written
   * chunk by chunk by the worker that claims the chunk in `states`
   */
  owner?: SharedArrayBuffer;
  /** steer 'flow': an Int32 per chunk of CHUNK packets: 0 not steered yet, 1 being steered (claimed), 2 steered */
  states?: SharedArrayBuffer;
  /** steer 'flow': the run's workers (each owner byte is workerOf(flowHash, workers)) */
  workers?: number;
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
  /** at: the failing packet, or the first packet of the batch that failed (which worker's failure comes first in the capture) */
  | { kind: 'error'; code: string; message: string; packet?: number; printk?: string; at?: number };

/** Packets handed to the engine per call (one call into WebAssembly each with the JIT), as the CLI's capture loop. */
const BATCH = 256;

/** A chunk's state word (RunMessage.states). */
const UNSTEERED = 0;
const STEERING = 1;
const STEERED = 2;

/**
 * The longest a worker waits for another to steer a chunk before steering
 * it itself (ms). Steering a chunk takes tens of microseconds: only a worker
 * that stopped (terminated, or a thread starved by a loaded machine) makes
 * another wait this long.
 */
const STEER_WAIT_MS = 200;

/** Lower the run's first failing packet (work[1]) to `at`: no worker starts a batch from there on. */
function failFrom(work: Int32Array, at: number): void {
  for (let cur = Atomics.load(work, 1); at < cur; cur = Atomics.load(work, 1)) {
    if (Atomics.compareExchange(work, 1, cur, at) === cur) return;
  }
}

class PoolWorker {
  private sys: BpfSystem | undefined;
  private obj: ProgObject | undefined;
  private runner: PacketRunner | undefined;
  /** frame mode: the runs, as testRun makes them frame by frame */
  private frames: FrameRunner | undefined;
  private init: InitMessage | undefined;
  /** the first packet of the batch being run (undefined between runs) */
  private batchAt: number | undefined;
  /** the packets of a chunk this worker runs, by index */
  private list: Int32Array | undefined;
  /** a batch's packets for the runner, reused */
  private readonly batch: { data: Uint8Array; netOff: number }[] = [];
  /** steer 'flow': no chunk below this one is unclaimed (a cursor over the run's chunk states) */
  private ahead = 0;

  constructor(private readonly port: MessagePort) {}

  handle(msg: InitMessage | RunMessage): void {
    try {
      if (msg.kind === 'init') this.setUp(msg);
      else this.run(msg);
    } catch (e) {
      const printk = this.sys ? this.sys.runtime.helpers.run.takePrintk().join('') : '';
      const at = e instanceof PacketError ? e.packet : this.batchAt;
      if (msg.kind === 'run' && at !== undefined) failFrom(new Int32Array(msg.work), at);
      this.batchAt = undefined;
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
    else this.frames = new FrameRunner(sys, fd, msg.engine);
    this.port.postMessage({ kind: 'ready', ms: performance.now() - t0 } satisfies WorkerReply);
  }

  private run(msg: RunMessage): void {
    if (!this.sys || !this.init || !this.obj) throw new BpfError('EINVAL', 'the worker has not been set up');
    const t0 = performance.now();
    const r: RunState = {
      msg, bytes: new Uint8Array(msg.capture), index: new Int32Array(msg.index), verdicts: new Uint32Array(msg.verdicts),
      retvals: msg.retvals ? new Int32Array(msg.retvals) : undefined, work: new Int32Array(msg.work), frames: [], last: undefined, lastPacket: -1,
    };
    const work = r.work;
    const list = (this.list ??= new Int32Array(CHUNK));
    const workers = msg.workers ?? 1;
    if (msg.steer === 'flow' && workers > 1 && msg.owner && msg.states) {
      // every chunk in order, running the packets steered here: a flow's packets in capture order
      const owner = new Uint8Array(msg.owner);
      const states = new Int32Array(msg.states);
      const me = this.init.index;
      this.ahead = 0;
      for (let c = 0, from = 0; from < msg.to && from < Atomics.load(work, 1); c++, from += CHUNK) {
        const to = Math.min(msg.to, from + CHUNK);
        this.steered(r, owner, states, c, workers);
        let n = 0;
        // branch-free: which packets are whose is as random as a hash, and a mispredicted branch per packet costs about 10 ns
        for (let i = from; i < to; i++) {
          list[n] = i;
          n += (owner[i] === me) as unknown as number;
        }
        this.runList(r, list, n);
      }
    } else {
      // chunks in increasing order: this worker's last run is of the last packet it took
      for (let from = Atomics.add(work, 0, CHUNK); from < msg.to && from < Atomics.load(work, 1); from = Atomics.add(work, 0, CHUNK)) {
        const to = Math.min(msg.to, from + CHUNK);
        for (let i = from; i < to; i++) list[i - from] = i;
        this.runList(r, list, to - from);
      }
    }
    this.batchAt = undefined;
    const engines = this.runner ? this.runner.enginesRun : this.frames ? this.frames.enginesRun : '';
    const printk = this.sys.runtime.helpers.run.takePrintk().map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
    this.port.postMessage({
      kind: 'done', ms: performance.now() - t0, engines, frames: r.frames, printk, lastPacket: r.lastPacket, ...(r.last === undefined ? {} : { last: r.last }),
    } satisfies WorkerReply);
  }

  /**
   * Chunk c's owner bytes written: by this worker when no worker has claimed
   * the chunk yet; when another has, this one steers a later chunk nobody has
   * claimed meanwhile (so that steering stays shared between the workers
   * rather than waited for), and waits for chunk c only when there is none.
   * A wait is bounded: after STEER_WAIT_MS this worker steers the chunk
   * itself (the bytes are the same whoever writes them), so a worker that
   * stopped mid-chunk can never hang the others.
   */
  private steered(r: RunState, owner: Uint8Array, states: Int32Array, c: number, workers: number): void {
    const nChunks = states.length;
    let waitStart = 0;
    for (;;) {
      const s = Atomics.load(states, c);
      if (s === STEERED) return;
      if (s === UNSTEERED && Atomics.compareExchange(states, c, UNSTEERED, STEERING) === UNSTEERED) {
        this.steerChunk(r, owner, states, c, workers);
        return;
      }
      // chunks only ever go from unsteered to steering to steered: the cursor of the first that may be unclaimed only moves on
      let k = Math.max(this.ahead, c + 1);
      while (k < nChunks && Atomics.load(states, k) !== UNSTEERED) k++;
      this.ahead = k;
      if (k < nChunks) {
        if (Atomics.compareExchange(states, k, UNSTEERED, STEERING) === UNSTEERED) this.steerChunk(r, owner, states, k, workers);
        continue;
      }
      const now = performance.now();
      if (waitStart === 0) waitStart = now;
      else if (now - waitStart > STEER_WAIT_MS) {
        steerRange(r.bytes, r.index, W, owner, c * CHUNK, Math.min(r.msg.to, (c + 1) * CHUNK), workers);
        if (Atomics.compareExchange(states, c, STEERING, STEERED) === STEERING) Atomics.notify(states, c);
        return;
      }
      Atomics.wait(states, c, STEERING, STEER_WAIT_MS);
    }
  }

  /** Steer chunk k (claimed by this worker): its packets' owners, then the chunk marked steered and its waiters woken. */
  private steerChunk(r: RunState, owner: Uint8Array, states: Int32Array, k: number, workers: number): void {
    steerRange(r.bytes, r.index, W, owner, k * CHUNK, Math.min(r.msg.to, (k + 1) * CHUNK), workers);
    // a seq-cst store after the plain byte writes: a worker that loads STEERED sees the bytes
    Atomics.store(states, k, STEERED);
    Atomics.notify(states, k);
  }

  /**
   * The packets list[0, n) (increasing indexes) run, BATCH at a time: their
   * verdicts (frame mode: retvals and changed frames too), and the run's
   * last packet and its r0. No batch starts at or past the run's first
   * failing packet (work[1]): a worker that failed there stops the others.
   */
  private runList(r: RunState, list: Int32Array, n: number): void {
    const sys = this.sys!;
    const { msg, bytes, index, verdicts } = r;
    const runner = this.runner;
    for (let k = 0; k < n; k += BATCH) {
      const first = list[k]!;
      if (first >= Atomics.load(r.work, 1)) return;
      this.batchAt = first;
      const end = Math.min(n, k + BATCH);
      if (runner && !msg.oneByOne) {
        const batch = this.batch;
        batch.length = 0;
        for (let j = k; j < end; j++) {
          const i = list[j]!;
          const off = index[i * W]!;
          const data = bytes.subarray(off, off + index[i * W + 1]!);
          batch.push({ data, netOff: networkOffset(data, index[i * W + 3]!) });
        }
        const v = runner.runBatch(batch);
        for (let j = k; j < end; j++) verdicts[list[j]!] = v[j - k]!;
        r.last = runner.lastRetval;
      } else if (runner) {
        for (let j = k; j < end; j++) {
          const i = list[j]!;
          const off = index[i * W]!;
          const data = bytes.subarray(off, off + index[i * W + 1]!);
          try {
            verdicts[i] = runner.run(data, networkOffset(data, index[i * W + 3]!));
          } catch (e) {
            if (e instanceof BpfError) throw new PacketError(e.code, e.message, i);
            throw e;
          }
        }
        r.last = runner.lastRetval;
      } else {
        // frame mode: each packet as the test run makes it the program's context (FrameRunner: testRun's results, frame by frame)
        const fr = this.frames!;
        const retvals = r.retvals;
        for (let j = k; j < end; j++) {
          const i = list[j]!;
          const off = index[i * W]!;
          const data = bytes.subarray(off, off + index[i * W + 1]!);
          const linkType = index[i * W + 3]!;
          if (linkType !== LINKTYPE_ETHERNET) throw new PacketError('EINVAL', `the test run takes Ethernet frames, the capture's link type is ${linkType}`, i);
          try {
            verdicts[i] = fr.run(data);
          } catch (e) {
            if (e instanceof BpfError) throw new PacketError(e.code, e.message, i);
            throw e;
          }
          if (retvals) {
            // r0's 64 bits as the BigInt64 element's two words in the host's order: no bigint per packet
            retvals[2 * i + LO_WORD] = fr.retLo;
            retvals[2 * i + 1 - LO_WORD] = fr.retHi;
          }
          if (msg.frames) {
            const after = fr.out();
            if (!sameBytes(after, data)) r.frames.push({ packet: i, data: after });
          }
        }
        if (end > k) r.last = fr.lastRetval;
      }
      r.lastPacket = list[end - 1]!;
    }
  }
}

/** What one run's loops share. */
interface RunState {
  msg: RunMessage;
  bytes: Uint8Array;
  index: Int32Array;
  verdicts: Uint32Array;
  /** r0 per packet as two Int32 words (the buffer is the pool's BigInt64Array of retvals; LO_WORD says which is the low half) */
  retvals: Int32Array | undefined;
  work: Int32Array;
  frames: { packet: number; data: Uint8Array }[];
  /** r0 of the last packet run, all 64 bits */
  last: bigint | undefined;
  /** the last packet run (-1: none) */
  lastPacket: number;
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
