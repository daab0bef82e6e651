/**
 * FrameRunner: a program whose runs the test run makes from a frame (XDP,
 * tc, the modern socket filter, any type under the modern profile) run over
 * many frames, one run per frame, each with the result testRun gives for
 * that frame alone (repeat 1): the same context, the same engine choice,
 * the maps carried over from run to run, r0 whole, the frame after the run.
 *
 * What it spares over testRun per frame is what a capture of a million
 * frames feels: the types that can (ProgramType.prepareIn: XDP, tc, the
 * modern socket filter) make each run in one buffer of the runtime's memory
 * the runner keeps and reuses, instead of allocating and freeing one per
 * frame; the frame after a run is copied out only when asked for (out());
 * nothing is timed and no result object is made per run. Measured with
 * xdp-parse.o over 100,000 frames of the workers bench's flow mix, one
 * process, unshared memory: testRun 2.1-3.1 µs a frame, FrameRunner
 * 0.8-1.1 µs (most of the rest is the program's own helper calls).
 *
 * The runner holds a reference to its program until close(), as
 * PacketRunner does: closing the program's fd meanwhile frees nothing.
 * After close() every call is EBADF.
 */

import { BpfError } from '../errors.js';
import type { Engine, EngineName } from '../runtime/engine.js';
import type { BpfSystem } from './bpf.js';
import { engineOf } from './bpf.js';
import type { ProgObject } from './objects.js';
import type { PreparedRun } from '../progs/program-type.js';
import { describe } from './describe.js';
import { tierCount, tierCounted, tierPick } from './packets.js';

export class FrameRunner {
  private obj: ProgObject | undefined;
  /** the buffer runs are made in (0: none yet), and its size */
  private slot = 0;
  private slotBytes = 0;
  /** the last run (its frame after the run, until the next run; its memory, if its own, until then too) */
  private last: PreparedRun | undefined;
  /** r0 of the last run, as its low and high 32 bits */
  retLo = 0;
  retHi = 0;
  /** the engine of the last run */
  engineName: EngineName;
  /** the engines that have run, in the order they first ran ('interpreter then jit' on a tiered load) */
  enginesRun = '';
  /** a tiered program run with no engine asked for: its interpreted instructions (tierCount), the engine picked again per run */
  private readonly interpreted: { n: number } | undefined;

  constructor(
    private readonly sys: BpfSystem,
    prog: number | ProgObject,
    private readonly engine?: EngineName,
  ) {
    const obj = typeof prog === 'number' ? sys.progOf(prog) : prog;
    sys.live(obj);
    // (an unknown engine name is refused now, not at the first frame)
    this.engineName = engineOf(obj.prog, engine, sys).engineName;
    this.interpreted = engine === undefined && obj.prog.tier !== undefined ? tierCount(obj.prog) : undefined;
    sys.hold(obj);
    this.obj = obj;
  }

  /** r0 of the last run, unsigned 64-bit. */
  get lastRetval(): bigint {
    return (BigInt(this.retHi >>> 0) << 32n) | BigInt(this.retLo >>> 0);
  }

  /**
   * One run over `frame`, as testRun(frame) makes it; its verdict (r0's low
   * 32 bits; the whole r0 is retLo/retHi, lastRetval). A frame the type
   * refuses (too short, too long) is its EINVAL, before anything runs.
   */
  run(frame: Uint8Array): number {
    const obj = this.live();
    if (!(frame instanceof Uint8Array)) throw new BpfError('EINVAL', `a frame must be a Uint8Array, got ${describe(frame)}`);
    const { prog } = obj;
    const mem = this.sys.runtime.mem;
    const type = prog.type;
    // (a run in memory of its own gives it back now; one in the runner's buffer has nothing to give back,
    // and its objects may be taken over by the next: prepareIn's reuse)
    let last = this.last;
    last?.release();
    this.last = undefined;
    let run: PreparedRun;
    if (type.prepareIn && type.prepareBytes) {
      const need = type.prepareBytes(frame.length);
      if (need > this.slotBytes) {
        // (a new buffer: nothing of the last run's is reused)
        last = undefined;
        const at = mem.alloc(need);
        if (this.slot) mem.release(this.slot);
        this.slot = at;
        this.slotBytes = need;
      }
      run = type.prepareIn(mem, frame, this.slot, last);
    } else {
      run = type.prepare(mem, frame);
    }
    const it: Engine = this.interpreted ? tierPick(prog, this.interpreted) : engineOf(prog, this.engine, this.sys);
    const maps = prog.maps;
    try {
      for (let i = 0; i < maps.length; i++) maps[i]!.impl.enterRun();
      try {
        it.exec(run.input);
      } finally {
        for (let i = 0; i < maps.length; i++) maps[i]!.impl.exitRun();
      }
    } catch (e) {
      run.release();
      throw e;
    }
    this.retLo = it.retLo;
    this.retHi = it.retHi;
    this.last = run;
    if (this.enginesRun === '') this.enginesRun = it.engineName;
    else if (it.engineName !== this.engineName) this.enginesRun += ` then ${it.engineName}`;
    this.engineName = it.engineName;
    if (this.interpreted) tierCounted(prog, this.interpreted, it);
    return it.retLo >>> 0;
  }

  /** The last run's frame after the run (testRun's dataOut): valid until the next run. */
  out(): Uint8Array {
    this.live();
    if (!this.last) throw new BpfError('EINVAL', 'no frame has run yet');
    return this.last.snapshot();
  }

  /** Free the buffer and drop the runner's reference to its program. Closing twice is a no-op. */
  close(): void {
    const obj = this.obj;
    if (!obj) return;
    this.obj = undefined;
    this.last?.release();
    this.last = undefined;
    if (this.slot) this.sys.runtime.mem.release(this.slot);
    this.slot = 0;
    this.sys.release(obj);
  }

  private live(): ProgObject {
    if (!this.obj) throw new BpfError('EBADF', 'the frame runner is closed');
    return this.obj;
  }
}
