/**
 * PacketRunner: run a loaded program of a type that runs over packets (a
 * socket filter) over many packets (a capture)
 * without allocating per packet. One context-and-packet buffer is reused
 * and grown as needed; maps carry over from packet to packet, and elements
 * a run replaced while holding them are recycled after each run.
 *
 * A runner holds a reference to its program (and so to the program's maps)
 * until close(): closing the program's or the maps' fds meanwhile frees
 * nothing, so the addresses compiled into the program never come to name
 * another map. After close() every call is EBADF and touches no memory.
 *
 * On a tiered program (jit/tier.ts) the engine is picked again before each
 * run and inside a batch: the JIT from the first run after its background
 * compile resolved, or, when a synchronous caller has kept the event loop
 * from letting it resolve (a batch, a capture read from memory), compiled on
 * the spot once the interpreter has executed TIER_UP_INSNS instructions per
 * instruction of the program, so that a long loop does not stay on the
 * interpreter to its end. Each engine's first
 * run is made alone and timed (firstRuns): it pays one-time costs (V8
 * compiling tsbpf's engine code, the module's lazy compile), which a
 * caller reporting a time per packet keeps apart from the packets' own.
 */

import { BpfError } from '../errors.js';
import type { PacketContext } from '../progs/types.js';
import type { Engine, EngineName, RunInput } from '../runtime/engine.js';
import type { BpfSystem } from './bpf.js';
import { engineOf } from './bpf.js';
import type { LoadedProgram, ProgObject } from './objects.js';
import { describe } from './describe.js';
import { BATCH_DESC, batchBytes, batchVerdicts, writeBatchDescriptor } from '../jit/batch.js';

/**
 * Instructions the interpreter executes in a tiered program's runs, per
 * instruction of the program, after which the runner compiles the JIT on
 * the spot if its background compile has not resolved: about where the
 * compile has cost what the interpreter loses against the JIT meanwhile.
 * Measured on this machine: a compile costs 0.5 µs per instruction in a
 * warm process and 10-20 µs in a fresh one; the interpreter, over the JIT,
 * 10-20 ns per instruction executed warm and about 1 µs fresh.
 */
export const TIER_UP_INSNS = 32;

/** Instructions the interpreter executed in each tiered program's runs through any runner (Program.runBatch makes a runner per call). */
const interpretedInsns = new WeakMap<LoadedProgram, { n: number }>();

/** A tiered program's count of interpreted instructions, shared by every runner of it (interpretedInsns). */
export function tierCount(prog: LoadedProgram): { n: number } {
  let count = interpretedInsns.get(prog);
  if (!count) interpretedInsns.set(prog, (count = { n: 0 }));
  return count;
}

/**
 * The engine of a tiered program's next run in a synchronous loop of runs
 * (PacketRunner, FrameRunner): the JIT once its background compile has
 * resolved; compiled on the spot once the interpreter has executed
 * TIER_UP_INSNS instructions per instruction of the program (`count`,
 * tierCount's; a synchronous loop keeps the event loop from resolving the
 * compile); a compile that fails leaves the program on the interpreter.
 */
export function tierPick(prog: LoadedProgram, count: { n: number }): Engine {
  const e = engineOf(prog);
  if (e !== prog.interpreter || count.n < TIER_UP_INSNS * prog.slots.length) return e;
  count.n = -Infinity;
  try {
    return prog.tier!.force() ?? e;
  } catch {
    return e;
  }
}

/** After a run of a tiered program on `e`: the instructions its interpreter executed, counted. */
export function tierCounted(prog: LoadedProgram, count: { n: number }, e: Engine): void {
  if (e === prog.interpreter) count.n += Math.max(1, e.executed);
}

/** Runs a socket filter over many packets without allocating per packet; holds its program until close(). */
export class PacketRunner {
  private ctx = 0;
  private capacity = 0;
  private readonly input: RunInput & { packet: { addr: number; len: number; netOff: number } };
  /** what the checked interpreter lets a run touch: updated in place per packet */
  private readonly ctxRegion = { start: 0, end: 0, writable: false, name: 'context' };
  private readonly pktRegion = { start: 0, end: 0, writable: false, name: 'packet' };
  /** the engine of the last run (before any: the one the next run takes) */
  private engine: Engine;
  /** a tiered program run with no engine asked for: the engine is picked again before each run (JitTier) */
  private readonly tiered: LoadedProgram | undefined;
  /** the engines that have run, in the order they first ran */
  private readonly ran: EngineName[] = [];
  /** each engine's first run, alone and timed */
  private readonly first: { engine: EngineName; ms: number }[] = [];
  /** the next run is its engine's first (next() sets it) */
  private firstRun = false;
  /** the tiered program's instructions executed on the interpreter (tierCount) */
  private readonly interpreted: { n: number } | undefined;
  /** how a packet becomes the context (the program type's) */
  private readonly pc: PacketContext;
  private readonly maps: { enterRun(): void; exitRun(): void }[];
  private readonly sys: BpfSystem;
  /** the program held, undefined once closed */
  private obj: ProgObject | undefined;

  /**
   * A runner for a socket filter given by fd or by its Program wrapper (any
   * object holding the loaded program: naming Program here would be a circle,
   * as Program runs captures through a runner).
   */
  constructor(sys: BpfSystem, prog: number | { readonly object: ProgObject }, engine?: EngineName) {
    const obj = typeof prog === 'object' && prog !== null ? prog.object : sys.progOf(prog);
    const loaded = obj.prog;
    if (!loaded.type.packet) throw new BpfError('EINVAL', `a ${loaded.type.name} program does not filter packets`);
    this.pc = loaded.type.packet;
    this.sys = sys;
    this.engine = engineOf(loaded, engine, sys);
    this.tiered = engine === undefined && loaded.tier !== undefined ? loaded : undefined;
    if (this.tiered) this.interpreted = tierCount(loaded);
    this.maps = loaded.maps.map((m) => m.impl);
    this.input = { r1: 0, packet: { addr: 0, len: 0, netOff: -1 }, regions: [this.ctxRegion, this.pktRegion] };
    this.grow(2048);
    sys.hold(obj);
    this.obj = obj;
  }

  private live(): void {
    if (!this.obj) throw new BpfError('EBADF', 'the packet runner is closed');
  }

  get engineName(): EngineName {
    this.live();
    return this.engine.engineName;
  }

  /** The engines that have run so far, in order: 'jit', or 'interpreter then jit' on a tiered program ('' before any run). */
  get enginesRun(): string {
    this.live();
    return this.ran.join(' then ');
  }

  /**
   * Each engine's first run in this runner, in the order they ran, and its
   * time in ms: one-time costs (V8 compiling the engine's code, the JIT
   * module's lazy compile) with the run's own. runBatch makes it alone.
   */
  get firstRuns(): readonly { readonly engine: EngineName; readonly ms: number }[] {
    this.live();
    return this.first;
  }

  /** The engine for the next run, not yet counted as run: a tiered program's JIT once it has compiled. */
  private pick(): Engine {
    return this.tiered ? tierPick(this.tiered, this.interpreted!) : this.engine;
  }

  /** The engine for the next run, counted as run: a tiered program's JIT from the first run after its compile resolves. */
  private next(): Engine {
    const e = this.pick();
    if (this.ran.length === 0 || this.ran[this.ran.length - 1] !== e.engineName) {
      this.firstRun = !this.ran.includes(e.engineName);
      this.ran.push(e.engineName);
    }
    this.engine = e;
    return e;
  }

  private grow(size: number): void {
    const mem = this.sys.runtime.mem;
    if (this.ctx) mem.release(this.ctx);
    this.capacity = Math.max(size, this.capacity * 2);
    this.ctx = mem.alloc(this.pc.ctxSize + this.capacity);
    this.input.r1 = this.ctx;
    this.input.packet.addr = this.ctx + this.pc.ctxSize;
  }

  /** Run over one packet; returns r0's low 32 bits, the number of bytes to keep (0 drops). */
  run(data: Uint8Array, netOff = -1): number {
    this.live();
    checkPacket(data, netOff, 'data');
    if (data.length > this.capacity) this.grow(data.length);
    const mem = this.sys.runtime.mem;
    const ctxSize = this.pc.ctxSize;
    this.pc.fill(mem.view, this.ctx, data.length);
    mem.u8.set(data, this.ctx + ctxSize);
    const pkt = this.input.packet;
    pkt.len = data.length;
    pkt.netOff = netOff;
    this.ctxRegion.start = this.ctx;
    this.ctxRegion.end = this.ctx + ctxSize;
    this.pktRegion.start = pkt.addr;
    this.pktRegion.end = pkt.addr + data.length;
    const e = this.next();
    const first = this.firstRun;
    this.firstRun = false;
    const t0 = first ? performance.now() : 0;
    for (const m of this.maps) m.enterRun();
    try {
      e.exec(this.input);
    } finally {
      for (const m of this.maps) m.exitRun();
      if (first) this.first.push({ engine: e.engineName, ms: performance.now() - t0 });
      if (this.tiered) tierCounted(this.tiered, this.interpreted!, e);
    }
    return e.retLo >>> 0;
  }

  /** r0 of the last run, all 64 bits. */
  get lastRetval(): bigint {
    this.live();
    return (BigInt(this.engine.retHi >>> 0) << 32n) | BigInt(this.engine.retLo >>> 0);
  }

  private arena = 0;
  private arenaSize = 0;

  /**
   * Run over many packets at once; returns each verdict (r0's low 32 bits).
   * With the JIT, the packets are laid out in memory and run in one call into
   * WebAssembly; with the interpreter, one by one. An engine's first run is
   * made alone (firstRuns: with the JIT, a batch of one, so that it is the
   * batch path that is warmed); a tiered program moves to the JIT inside the
   * batch once it has compiled (TIER_UP_INSNS).
   */
  runBatch(packets: readonly { data: Uint8Array; netOff: number }[]): Uint32Array {
    this.live();
    if (!Array.isArray(packets)) throw new BpfError('EINVAL', 'packets must be an array of { data, netOff }');
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i] as { data?: unknown; netOff?: unknown } | undefined;
      if (typeof p !== 'object' || p === null) throw new BpfError('EINVAL', `packet ${i} must be an object { data, netOff }`);
      checkPacket(p.data, p.netOff, `packet ${i}`);
    }
    const out = new Uint32Array(packets.length);
    let i = 0;
    while (i < packets.length) {
      const engine = this.pick();
      if (engine.execBatch === undefined) {
        // the interpreter, one by one (the engine is picked again for the next packet)
        const p = packets[i]!;
        out[i++] = this.run(p.data, p.netOff);
        continue;
      }
      const first = !this.ran.includes(engine.engineName);
      this.next();
      this.firstRun = false;
      out.set(this.batchOn(engine, i === 0 ? packets : packets.slice(i), first), i);
      i = packets.length;
    }
    return out;
  }

  /**
   * `packets` in one call into `engine` (execBatch); their verdicts. `first`:
   * the engine's first run, made alone and timed (firstRuns) as a batch of
   * one over the first packet where the whole batch lays it out, then the
   * rest: every packet at the address one call would give it.
   */
  private batchOn(engine: Engine, packets: readonly { data: Uint8Array; netOff: number }[], first: boolean): Uint32Array {
    const out = new Uint32Array(packets.length);
    let bytes = batchBytes(packets.length);
    const ctxSize = this.pc.ctxSize;
    // (each packet may start up to 7 bytes later, below)
    for (const p of packets) bytes += ctxSize + ((p.data.length + 7) & ~7) + 8;
    const mem = this.sys.runtime.mem;
    if (bytes > this.arenaSize) {
      if (this.arena) mem.release(this.arena);
      this.arenaSize = Math.max(bytes, this.arenaSize * 2);
      this.arena = mem.alloc(this.arenaSize);
    }
    const view = mem.view;
    const u8 = mem.u8;
    const desc = this.arena;
    let at = desc + batchBytes(packets.length);
    packets.forEach((p, i) => {
      this.pc.fill(view, at, p.data.length);
      // The packet at the same address mod 8 as its bytes: V8 copies into a SharedArrayBuffer byte
      // by byte when the two ends are not co-aligned (128 bytes: about 65 ns, 25 co-aligned). A
      // socket filter reaches its packet through LD_ABS/LD_IND only, never by its address.
      const pkt = at + ctxSize + ((p.data.byteOffset - at - ctxSize) & 7);
      u8.set(p.data, pkt);
      writeBatchDescriptor(view, desc, i, at, pkt, p.data.length, p.netOff);
      at = (pkt + p.data.length + 7) & ~7;
    });
    const n = packets.length;
    // One enterRun/exitRun around a batch: the batch bumps the run generation per run.
    const call = (d: number, k: number): void => {
      for (const m of this.maps) m.enterRun();
      try {
        engine.execBatch!(d, k);
      } finally {
        for (const m of this.maps) m.exitRun();
      }
    };
    if (!first) {
      call(desc, n);
      out.set(batchVerdicts(mem, desc, n));
      return out;
    }
    // the batch of one puts its verdict where descriptor 1 is: kept aside meanwhile
    const second = u8.slice(desc + BATCH_DESC, desc + 2 * BATCH_DESC);
    const t0 = performance.now();
    try {
      call(desc, 1);
    } finally {
      this.first.push({ engine: engine.engineName, ms: performance.now() - t0 });
    }
    out[0] = mem.view.getUint32(desc + BATCH_DESC, true);
    if (n > 1) {
      mem.u8.set(second, desc + BATCH_DESC);
      // descriptors 1..n-1, their verdicts from desc + n * BATCH_DESC on (batchVerdicts of the n - 1 after the first)
      call(desc + BATCH_DESC, n - 1);
      out.set(batchVerdicts(mem, desc + BATCH_DESC, n - 1), 1);
    }
    return out;
  }

  /** Free the buffers and drop the runner's reference to its program. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.obj = undefined;
    if (this.ctx) this.sys.runtime.mem.release(this.ctx);
    if (this.arena) this.sys.runtime.mem.release(this.arena);
    this.ctx = 0;
    this.arena = 0;
    this.capacity = 0;
    this.arenaSize = 0;
    this.sys.release(obj);
  }
}

/** A packet the runner can take: bytes, and a network header offset (-1 when unknown) inside them. */
function checkPacket(data: unknown, netOff: unknown, what: string): void {
  if (!(data instanceof Uint8Array)) throw new BpfError('EINVAL', `${what} must be a Uint8Array, got ${describe(data)}`);
  if (typeof netOff !== 'number' || !Number.isInteger(netOff) || netOff < -1 || netOff > 0x7fffffff) {
    throw new BpfError('EINVAL', `${what}: netOff must be -1 or a non-negative integer, got ${describe(netOff)}`);
  }
}
