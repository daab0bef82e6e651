/**
 * A compiled program: JitProgram compiles slots with compile.ts,
 * instantiates the module over the runtime's memory with its two imports
 * (the helper trampoline and, hardened, the access fault), and runs it one
 * input at a time (exec) or over a batch of descriptors (execBatch,
 * batch.ts; with each run's input, XDP and tc frames included, so that the
 * helpers a run calls follow it): an Engine (runtime/engine.ts), as the Interpreter is. A
 * run stopped early (fuel, call depth) is read back from the scratch area's
 * fault word (layout.ts) and thrown as a BpfError. The helpers that run
 * callbacks (bpf_loop, bpf_for_each_map_elem), where the compiled code does
 * not run the loop itself, call back through the module's callback export
 * (HelperEnv.callback).
 */

import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import type { Helper, HelperEnv, HelperRegistry, RunState } from '../runtime/helpers.js';
import { CALLBACK_TAG, EngineHelperEnv, helperLabel, programMaps, setReg, UNVISITED_TRAP, unvisitedTrapMessage } from '../runtime/helpers.js';
import type { Region } from '../memory/address-space.js';
import { isLdImm64 } from '../isa/instruction.js';
import type { AddressSpace } from '../memory/address-space.js';
import { MAX_CALL_FRAMES, PAGE_SIZE } from '../memory/address-space.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { Engine, RunInput, RunResult } from '../runtime/engine.js';
import { callbackEntries, compileToWasm } from './compile.js';
import type { HardenedOptions } from './hardened.js';
import { Guard, valueRegions } from './hardened.js';
import type { ValueRegion } from './hardened.js';
import {
  BATCH_RUN, CPU_WORD, BPF_FUNC_MAP_LOOKUP_ELEM, BPF_FUNC_MAP_UPDATE_ELEM, BPF_FUNC_SKB_LOAD_BYTES, BPF_FUNC_SKB_STORE_BYTES, FAULT_DEPTH,
  FAULT_PC, FRAME_OK, JIT_LOOP_BUDGET, CB_PC, SCRATCH_BYTES, REGISTER_FILE_BYTES, STOP_FLAG, BPF_FUNC_LOOP, BPF_FUNC_FOR_EACH_MAP_ELEM,
} from './layout.js';
import type { CompileOptions, InlineArray } from './compile.js';
import { batchBytes } from './batch.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import type { JitArrayLayout, JitMapLayout } from '../maps/map.js';
import { ArrayMapBase } from '../maps/array.js';
import { HashMapBase } from '../maps/hash.js';
import type { FrameFields } from '../progs/program-type.js';

export interface JitOptions {
  helpers: HelperRegistry;
  /**
   * the program's maps (BPF_PROG_LOAD's, from its ld_imm64 map fds and map
   * values), the only ones its helper calls may use and, hardened, whose
   * values it may touch; without it, the maps its ld_imm64 constants name
   * (runtime/helpers.ts, programMaps)
   */
  maps?: readonly BpfMapImpl[];
  /** compile with per-access region checks (see the top of compile.ts, and hardened.ts) */
  hardened?: HardenedOptions;
  /**
   * the program type's frame fields (ProgramType.frameFields): the frame
   * helpers' common case runs in WebAssembly when a run's input has the
   * frame (not hardened)
   */
  frame?: FrameFields;
  /**
   * false: every helper call goes to its helper in JavaScript, none is
   * inlined (the runtime fuzzer's reference for the inline helpers)
   */
  inline?: boolean;
}

/** A compiled program: an Engine, as the Interpreter is. */
export class JitProgram implements Engine {
  readonly engineName: 'jit' | 'jit-hardened';
  retLo = 0;
  retHi = 0;
  readonly executed = -1;
  private readonly runFn: (r1: number, r2: number, pkt: number, len: number, net: number) => void;
  private readonly batchFn: (desc: number, n: number, z0: number, z1: number, z2: number) => void;
  private readonly scratch: number;
  private regs: Int32Array;
  private readonly mem: AddressSpace;
  readonly wasmBytes: number;
  /** hardened mode: what the checks allow, for helpers' pointers and fault messages (undefined otherwise) */
  private readonly guard: Guard | undefined;

  private readonly runState: RunState;
  /**
   * execBatch takes this program over inputs (frames included): not
   * hardened, and no helper call that may ask for a tail call (a direct
   * call to one, or callx, whose helper is known only at run time)
   */
  readonly batchesInputs: boolean;
  /** the inline lookup reads per-CPU maps: the CPU word is written before each run */
  private readonly perCpu: boolean;
  /** the frame kind the inline frame helpers expect (JitOptions.frame), undefined without them */
  private readonly frameKind: 'xdp' | 'skb' | undefined;
  /** a batch over inputs in progress (execBatch): the inputs, and the run whose input the helpers follow */
  private batchInputs: readonly RunInput[] | undefined;
  private batchAt = -1;

  /**
   * Compile `slots` now. `ready`: what create() prepared (the plan, the
   * scratch area it allocated and the module it compiled in the background).
   */
  constructor(mem: AddressSpace, slots: readonly Slot[], options: JitOptions, ready?: Prepared) {
    this.mem = mem;
    this.engineName = options.hardened ? 'jit-hardened' : 'jit';
    this.frameKind = options.hardened || options.inline === false ? undefined : options.frame?.kind;
    this.batchesInputs = !options.hardened && !slots.some((s) => (s.code === 0x85 && s.src === 0 && options.helpers.get(s.imm >>> 0)?.tailCall === true) || s.code === 0x8d);
    const plan = ready?.plan ?? planJit(mem, slots, options);
    const { programs, values, outer, callbacks } = plan;
    const inner = outer.length === 0 ? undefined : (): BpfMapImpl[] => outer.flatMap((m) => m.innerMaps!());
    this.callbackSel = new Map(callbacks.map((pc, i) => [pc, i]));
    this.slots = slots;
    this.scratchWords = plan.scratchWords;
    this.perCpu = plan.perCpu;
    let module: WebAssembly.Module;
    if (ready) {
      this.scratch = ready.scratch;
      module = ready.module as WebAssembly.Module;
    } else {
      this.scratch = mem.alloc(this.scratchWords * 4);
      try {
        module = moduleFor(slots, this.scratch, mem.memory.buffer.byteLength / PAGE_SIZE, plan.compile);
      } catch (e) {
        mem.release(this.scratch);
        throw e;
      }
    }
    this.wasmBytes = MODULE_BYTES.get(module) ?? 0;
    this.regs = new Int32Array(mem.memory.buffer, this.scratch, this.scratchWords);
    this.regsGrowth = mem.growth;
    const helpers = options.helpers;
    this.runState = helpers.run;
    const self = this;
    let guard: Guard | undefined;
    const env: HelperEnv = new EngineHelperEnv(
      mem,
      programs.at,
      (addr: number, size: number, write: boolean): void => {
        if (guard) {
          guard.check(addr, size, write);
          return;
        }
        if (addr < 0 || addr + size > mem.byteLength) {
          throw new BpfError('EFAULT', `helper: invalid ${write ? 'write' : 'read'} of ${size} bytes at 0x${(addr >>> 0).toString(16)}`);
        }
      },
      helpers.run,
      (pc, args, extra) => self.callback(pc, args, extra),
    );
    const imports = {
      env: {
        memory: mem.memory as WebAssembly.Memory,
        helper(id: number, pc: number): number {
          const h = helpers.get(id >>> 0);
          if (!h && id === UNVISITED_TRAP) throw new BpfError('EFAULT', unvisitedTrapMessage(guard ? pc : undefined));
          if (!h) throw new BpfError('EINVAL', `${guard ? `pc ${pc}: ` : ''}call to unknown helper ${helperLabel(id >>> 0)}`);
          self.refreshRegs();
          if (self.batchInputs !== undefined) {
            if (h.tailCall === true) throw new BpfError('ENOTSUP', `${h.name}: a batch does not take tail calls; run such a program one input at a time`);
            self.followBatch();
          }
          // hardened: the pc for fault messages of the helper's pointer checks (env.access); its map
          // arguments are checked by the helper itself against the program's maps (env.mapAt)
          if (guard) guard.pc = pc;
          if (h.callsBack === true) self.callBack(h, env, guard ? pc : self.regs[CB_PC >> 2] ?? -1);
          else h.call(self.regs, env);
          if (guard) guard.resync();
          if (h.tailCall === true && helpers.run.tail !== undefined) return 1;
          return h.exitOnZero === true && self.regs[0] === 0 && self.regs[1] === 0 ? 1 : 0;
        },
        fault(pc: number, addr: bigint, sizeWrite: number): void {
          const ea = BigInt.asUintN(64, addr);
          // (a callback's read of the key bpf_for_each_map_elem passed it, or an inner map's value: the compiled code goes on)
          if (guard!.extraAllows(ea, sizeWrite >>> 1, (sizeWrite & 1) !== 0)) return;
          guard!.pc = pc;
          throw guard!.fault(ea, sizeWrite >>> 1, (sizeWrite & 1) !== 0);
        },
      },
    };
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      mem.release(this.scratch);
      throw new BpfError('EFAULT', `the JIT could not instantiate its module: ${(e as Error).message}`);
    }
    this.runFn = instance.exports['run'] as (r1: number, r2: number, pkt: number, len: number, net: number) => void;
    this.callbackFn = callbacks.length > 0 ? instance.exports['callback'] as (sel: number) => void : undefined;
    this.depth = instance.exports['depth'] as WebAssembly.Global;
    this.batchFn = instance.exports['batch'] as (desc: number, n: number, z0: number, z1: number, z2: number) => void;
    if (values) {
      guard = new Guard(instance, values, inner, mem.lane.stackTop);
      this.guard = guard;
    }
  }

  /**
   * Run `n` times in one call into WebAssembly, over descriptors laid out at
   * `desc` (BATCH_DESC bytes each: context, packet, length, network offset);
   * the verdicts (r0's low 32 bits) land after them, one u32 per run.
   * Hardened: each run may touch its context (HardenedOptions.batchContext)
   * and its packet.
   */
  execBatch(desc: number, n: number, inputs?: readonly RunInput[]): void {
    if (this.guard) this.guard.batch();
    // (shared memory: each run stores its epoch in the lane's run word; idle again after the batch)
    try {
      if (inputs === undefined) {
        this.setFrameOk(false);
        this.call(this.batchFn, desc, n, 0, 0, 0);
        return;
      }
      this.execInputs(desc, n, inputs);
    } finally {
      this.mem.runEnd();
    }
  }

  /**
   * A batch whose runs each have an input (batch.ts, writeInputDescriptors
   * into inputBatchBytes(n): descriptor i made from inputs[i], then each
   * run's frame kind, which tells the inline frame helpers whether they may
   * act), packet frames included (XDP, tc): as
   * many runs of exec, in one call into WebAssembly. The helpers a run
   * calls see its input, and the run's shared state (RunState) starts
   * afresh for it, as exec's does; after the batch it is the last run's.
   * A program that asks for a tail call is ENOTSUP (exec runs it), as is
   * the hardened JIT (its checks follow one run's regions).
   */
  private execInputs(desc: number, n: number, inputs: readonly RunInput[]): void {
    if (this.guard) throw new BpfError('ENOTSUP', 'the hardened JIT runs inputs with frames one at a time');
    if (inputs.length !== n) throw new BpfError('EINVAL', `a batch of ${n} runs needs ${n} inputs, got ${inputs.length}`);
    if (n === 0) return;
    // (the batch takes each run's frame flag from the frame kinds: writeInputDescriptors)
    this.setFrameOk(false);
    const run = this.runState;
    run.begin(inputs[0]!);
    this.batchAt = 0;
    this.batchInputs = inputs;
    try {
      this.call(this.batchFn, desc, n, desc + batchBytes(n), 0, 0);
      // the runs after the last that called a helper changed nothing a helper shares: begin the last
      if (this.batchAt !== n - 1) run.begin(inputs[n - 1]!);
    } finally {
      this.batchInputs = undefined;
      run.end();
    }
  }

  /** A helper of a batch over inputs is called: the run's shared state follows the batch's current run. */
  private followBatch(): void {
    const i = this.regs[BATCH_RUN >> 2]!;
    if (i === this.batchAt) return;
    this.batchAt = i;
    this.runState.begin(this.batchInputs![i]!);
  }

  /** The input has the frame the inline frame helpers expect, its context being r1. */
  private hasFrame(input: RunInput): boolean {
    const f = input.frame;
    const r1 = typeof input.r1 === 'bigint' ? Number(input.r1) : input.r1 ?? 0;
    return f !== undefined && f.kind === this.frameKind && f.ctx === r1;
  }

  /** Before a run or a batch: whether the inline frame helpers may act (see FRAME_OK), and the run's CPU. */
  private setFrameOk(ok: boolean): void {
    if (this.frameKind === undefined && !this.perCpu) return;
    this.refreshRegs();
    this.regs[FRAME_OK >> 2] = ok ? 1 : 0;
    if (this.perCpu) this.regs[CPU_WORD >> 2] = this.runState.cpu();
  }

  /**
   * One run. Hardened: the run may touch at most two regions of
   * input.regions (the context and packet, or a buffer). A tail call the
   * run asks for continues in its target's engine, whose r0 is the run's.
   */
  exec(input: RunInput = {}): void {
    const run = this.runState;
    run.begin(input);
    // (shared memory: the lane's run word holds the epoch until the run and its tail calls end)
    this.mem.runStart();
    try {
      this.execTail(input);
      while (run.tail !== undefined) {
        const next = run.tailEngine(run.tail, this.engineName);
        run.tail = undefined;
        if (next?.execTail === undefined) throw new BpfError('EFAULT', 'bpf_tail_call: the target program cannot run here');
        next.execTail(input);
        this.retLo = next.retLo;
        this.retHi = next.retHi;
      }
    } finally {
      this.mem.runEnd();
      run.end();
    }
  }

  /** One run as a tail call's target (Engine.execTail). */
  execTail(input: RunInput): void {
    const r1 = typeof input.r1 === 'bigint' ? Number(input.r1) : input.r1 ?? 0;
    const r2 = typeof input.r2 === 'bigint' ? Number(input.r2) : input.r2 ?? 0;
    const p = input.packet;
    if (this.guard) this.guard.setRegions(input.regions ?? []);
    this.setFrameOk(this.frameKind !== undefined && this.hasFrame(input));
    this.call(this.runFn, r1, r2, p?.addr ?? 0, p?.len ?? 0, p?.netOff ?? -1);
  }

  /** Call an export; a trap is EFAULT, a fault the run stopped on is thrown; r0 (of the last run) lands in retLo/retHi. */
  private call(f: (a: number, b: number, c: number, d: number, e: number) => void, a: number, b: number, c: number, d: number, e: number): void {
    try {
      f(a, b, c, d, e);
    } catch (err) {
      if (err instanceof BpfError) throw err;
      if (err instanceof WebAssembly.RuntimeError) throw new BpfError('EFAULT', `JIT: ${err.message}`);
      throw err;
    }
    this.refreshRegs();
    this.checkFault();
    this.retLo = this.regs[0]!;
    this.retHi = this.regs[1]!;
  }

  private regsGrowth = 0;

  /** callback pc -> its number in the module's callback export (CompileOptions.callbacks) */
  private readonly callbackSel: ReadonlyMap<number, number>;
  private readonly callbackFn: ((sel: number) => void) | undefined;
  private readonly slots: readonly Slot[];
  /** the scratch area's size in 32-bit words */
  private readonly scratchWords: number;
  /** the module's call depth (frames below the run's entry) */
  private readonly depth: WebAssembly.Global;
  /** the pc of the helper call whose callbacks run (bpf_loop...), for their errors */
  private callbackPc = 0;
  /** the last 64-bit callback argument given as a bigint, and its halves */
  private argBig: bigint | undefined;
  private argLo = 0;
  private argHi = 0;

  /**
   * A helper that runs callbacks (bpf_loop, bpf_for_each_map_elem), called
   * at `pc`: over registers of its own, since the callbacks it runs call
   * helpers over the scratch register file (and may grow the memory, which
   * moves it); its r0 goes back to the scratch.
   */
  private callBack(h: Helper, env: HelperEnv, pc: number): void {
    const regs = this.regs.slice();
    const saved = this.callbackPc;
    this.callbackPc = pc;
    try {
      h.call(regs, env);
    } finally {
      this.callbackPc = saved;
    }
    this.refreshRegs();
    this.regs[0] = regs[0]!;
    this.regs[1] = regs[1]!;
  }

  /**
   * HelperEnv.callback: run the callback at `pc` with r1..r5 = args in a
   * frame below the caller's, as the interpreter does (8 frames at most,
   * E2BIG beyond; its instructions take the run's fuel), and give its r0.
   * A callback that ends the program (exit-on-zero helper, LD_ABS out of
   * bounds, a tail call) ends only itself, its r0 as it was, as in the
   * interpreter; a fault (fuel, depth) stops the run. Hardened: `extra` (the
   * key bpf_for_each_map_elem passes) may be read while it runs.
   */
  private callback(pc: number, args: readonly (number | bigint)[], extra?: Region): bigint {
    const at = this.callbackPc;
    const sel = this.callbackSel.get(pc);
    if (sel === undefined || this.callbackFn === undefined) {
      // (as the interpreter says it of a pc outside the program or an ld_imm64's second slot)
      const insn = Number.isInteger(pc) && pc >= 0 && pc < this.slots.length && !(pc > 0 && isLdImm64(this.slots[pc - 1]!) && secondSlot(this.slots, pc));
      throw new BpfError('EFAULT', `pc ${at}: callback at insn ${pc} is not ${insn ? 'a function the JIT compiled' : 'an instruction of the program'}`);
    }
    if ((this.depth.value as number) + 1 >= MAX_CALL_FRAMES) throw new BpfError('E2BIG', `pc ${at}: call depth exceeds ${MAX_CALL_FRAMES} frames`);
    this.refreshRegs();
    const regs0 = this.regs;
    for (let r = 1; r <= 5; r++) {
      const v = args[r - 1] ?? 0;
      // (the same context for every callback of a loop: its halves once)
      if (typeof v === 'bigint') {
        if (v !== this.argBig) {
          this.argBig = v;
          const u = BigInt.asUintN(64, v);
          this.argLo = Number(u & 0xffffffffn) | 0;
          this.argHi = Number(u >> 32n) | 0;
        }
        regs0[2 * r] = this.argLo;
        regs0[2 * r + 1] = this.argHi;
      } else {
        setReg(regs0, r, v);
      }
    }
    const guard = this.guard;
    const guardPc = guard?.pc ?? 0;
    if (guard && extra) guard.extras.push(extra);
    try {
      this.callbackFn(sel);
    } finally {
      if (guard && extra) guard.extras.pop();
      if (guard) guard.pc = guardPc;
    }
    this.refreshRegs();
    const regs = this.regs;
    if (regs[STOP_FLAG >> 2] !== 0) {
      this.checkFault();
      // the callback ended the program: it ends the callback alone (its r0 is in the scratch)
      regs[STOP_FLAG >> 2] = 0;
    }
    // (most callbacks return 0: no BigInt made for it)
    if (regs[0] === 0 && regs[1] === 0) return 0n;
    return (BigInt(regs[1]! >>> 0) << 32n) | BigInt(regs[0]! >>> 0);
  }

  /** Throw the fault a run stopped on (E2BIG: out of fuel, or too deep), clearing it. */
  private checkFault(): void {
    const fault = this.regs[30];
    if (fault === 0) return;
    this.regs[30] = 0;
    if (fault === FAULT_DEPTH) throw new BpfError('E2BIG', `pc ${this.regs[FAULT_PC / 4]}: call depth exceeds ${MAX_CALL_FRAMES} frames`);
    throw new BpfError('E2BIG', `JIT: the budget of ${JIT_LOOP_BUDGET} taken jumps per run is exhausted`);
  }
  /** The scratch register file's view, made again when the memory has grown. */
  private refreshRegs(): void {
    if (this.regsGrowth !== this.mem.growth) {
      this.regs = new Int32Array(this.mem.memory.buffer, this.scratch, this.scratchWords);
      this.regsGrowth = this.mem.growth;
    }
  }

  /** One run; insns is -1: the JIT does not count instructions. */
  run(input: RunInput = {}): RunResult {
    return { r0: this.run1(input), insns: this.executed };
  }

  run1(input: RunInput = {}): bigint {
    this.exec(input);
    return (BigInt(this.retHi >>> 0) << 32n) | BigInt(this.retLo >>> 0);
  }

  free(): void {
    this.mem.release(this.scratch);
  }
}

/** pc is the second slot of an ld_imm64. */
function secondSlot(slots: readonly Slot[], pc: number): boolean {
  let i = 0;
  while (i < pc) i += isLdImm64(slots[i]!) ? 2 : 1;
  return i !== pc;
}

/** The pcs the program's ld_imm64s load as callbacks (their high word CALLBACK_TAG, as BPF_PROG_LOAD makes them). */
function taggedCallbacks(slots: readonly Slot[]): number[] {
  const out: number[] = [];
  for (let pc = 0; pc + 1 < slots.length; pc++) {
    if (!isLdImm64(slots[pc]!)) continue;
    if (slots[pc + 1]!.imm === CALLBACK_TAG) out.push(slots[pc]!.imm >>> 0);
    pc++;
  }
  return out;
}

/**
 * The inline lookup's layout of a per-CPU map (percpu_array from its
 * shape, percpu_hash from the map), undefined for any other map.
 */
function perCpuLayout(m: BpfMapImpl): JitMapLayout | undefined {
  if (m instanceof ArrayMapBase && m.type === BPF_MAP_TYPE.PERCPU_ARRAY) {
    return { type: BPF_MAP_TYPE.ARRAY, addr: m.addr, base: m.base, stride: m.elemSize, maxEntries: m.maxEntries, ncpus: m.ncpus };
  }
  if (m instanceof HashMapBase) return m.jitPerCpuLayout();
  return undefined;
}

/** What the constructor computes before compiling: the program's maps, its callbacks, the scratch area's size, compileToWasm's options. */
interface JitPlan {
  programs: ReturnType<typeof programMaps>;
  /** hardened: the program's maps' value regions */
  values: ValueRegion[] | undefined;
  /** the program's maps of maps */
  outer: BpfMapImpl[];
  callbacks: number[];
  scratchWords: number;
  perCpu: boolean;
  compile: CompileOptions;
}

/**
 * What JitReservation hands the constructor: the plan, the scratch area allocated
 * for it and the compiled module (a WebAssembly.Module, typed opaquely: the
 * package's declarations name no WebAssembly type, so that they check
 * without the DOM's or Node's types).
 */
interface Prepared {
  plan: JitPlan;
  scratch: number;
  module: object;
}

function planJit(mem: AddressSpace, slots: readonly Slot[], options: JitOptions): JitPlan {
  // the program's maps: for helpers (mapAt), the inline lookup and, hardened, the value regions
  const programs = programMaps(slots, options.helpers, options.maps);
  const values = options.hardened ? programs.list.flatMap(valueRegions) : undefined;
  // hardened: the inner maps of the program's maps of maps, held at the time of an access (Guard)
  const outer = programs.list.filter((m) => m.innerMaps !== undefined);
  // bpf_loop and bpf_for_each_map_elem call back into the program: each callback (a subprogram whose
  // tagged address an ld_imm64 loads) is a function of the module, which the helper runs through
  // the callback export (env.callback below). Only for programs that may call such a helper: by id,
  // or through callx, whose id is known at run time.
  const mayCallBack = slots.some((s) => (s.code === 0x85 && s.src === 0 && options.helpers.get(s.imm >>> 0)?.callsBack === true) || s.code === 0x8d);
  const callbacks = mayCallBack ? callbackEntries(slots, taggedCallbacks(slots)) : [];
  // (the words after the register file only for programs that may call back: the others' memory stays laid out as it was)
  const scratchWords = (mayCallBack ? SCRATCH_BYTES : REGISTER_FILE_BYTES) >> 2;
  const inline = options.inline !== false;
  // the inline lookup's maps: plain arrays and hashes, and (not hardened, whose checks know only those) per-CPU ones
  const lookups = inline && options.helpers.get(BPF_FUNC_MAP_LOOKUP_ELEM)?.name === 'bpf_map_lookup_elem'
    ? programs.list.flatMap((m): JitMapLayout[] => {
      const l = m.jitLayout?.() ?? (options.hardened ? undefined : perCpuLayout(m));
      return l ? [l] : [];
    })
    : undefined;
  const perCpu = lookups?.some((l) => (l.type === BPF_MAP_TYPE.ARRAY ? l.ncpus : l.perCpu) !== undefined) ?? false;
  const lane = mem.lane;
  const compile: CompileOptions = {
    // (lane 0 of an unshared memory adds nothing: its modules, and their cache keys, are as before lanes)
    ...(lane.index !== 0 ? { lane: { stackTop: lane.stackTop, runWord: lane.runWord } } : {}),
    ...(mem.shared ? { shared: true } : {}),
    inlineMapLookup: lookups,
    inlineMapUpdate: inline && options.helpers.get(BPF_FUNC_MAP_UPDATE_ELEM)?.name === 'bpf_map_update_elem' ? programs.list.flatMap((m): InlineArray[] => {
      const l = m.jitLayout?.();
      return l && l.type === BPF_MAP_TYPE.ARRAY && m.type === BPF_MAP_TYPE.ARRAY ? [{ ...l, valueSize: m.valueSize }] : [];
    }) : undefined,
    ...(inline && options.frame && !options.hardened ? {
      frame: {
        fields: options.frame,
        loadBytes: options.helpers.get(BPF_FUNC_SKB_LOAD_BYTES)?.name === 'bpf_skb_load_bytes',
        storeBytes: options.helpers.get(BPF_FUNC_SKB_STORE_BYTES)?.name === 'bpf_skb_store_bytes',
      },
    } : {}),
    ...(options.hardened && values ? { hardened: { maps: values, batchContext: options.hardened.batchContext, inner: outer.length > 0 } } : {}),
    ...(mayCallBack ? {
      callbacks,
      inlineLoop: inline && options.helpers.get(BPF_FUNC_LOOP)?.name === 'bpf_loop',
      // the program's plain arrays, which bpf_for_each_map_elem may walk in WebAssembly
      ...(inline && !options.hardened && options.helpers.get(BPF_FUNC_FOR_EACH_MAP_ELEM)?.name === 'bpf_for_each_map_elem' ? {
        inlineForEach: programs.list.flatMap((m): JitArrayLayout[] => {
          const l = m.type === BPF_MAP_TYPE.ARRAY ? m.jitLayout?.() : undefined;
          return l && l.type === BPF_MAP_TYPE.ARRAY && l.ncpus === undefined ? [l] : [];
        }),
      } : {}),
    } : {}),
  };
  return { programs, values, outer, callbacks, scratchWords, perCpu, compile };
}

/**
 * The compiled modules of this process, by everything compileToWasm's
 * output depends on: the instructions, the scratch address, the memory's
 * pages at compile time and the compile options (map addresses and
 * layouts, frame fields, hardened regions). The same program loaded again
 * (a second Program over the same object file, a CLI batch, a test
 * suite's fresh runtimes, whose allocations repeat) skips the emitter and
 * WebAssembly's compile. The key is the options' JSON and two 32-bit hashes
 * of the instruction words; an entry keeps the words, and a hit must match
 * them all (a hash collision is a miss), so a hit is the module the emitter
 * would make again. (A string of every instruction as the key cost 0.6 ms
 * a 1000-instruction compile: building and hashing 20 KB.) Bounded: the
 * oldest entry goes first.
 */
const MODULES = new Map<string, { words: Int32Array; module: WebAssembly.Module }>();
const MODULE_CACHE_ENTRIES = 256;
/** each cached module's size in bytes (JitProgram.wasmBytes) */
const MODULE_BYTES = new WeakMap<WebAssembly.Module, number>();

/** Counters of the module cache (tests and the benchmark read them). */
export const moduleCache = {
  hits: 0,
  misses: 0,
  /** forget every module (the benchmark's cold compiles) */
  clear(): void {
    MODULES.clear();
  },
};

/** The instructions as words: code | dst << 8 | src << 16, off, imm per slot. */
function slotWords(slots: readonly Slot[]): Int32Array {
  const w = new Int32Array(slots.length * 3);
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    w[3 * i] = s.code | (s.dst << 8) | (s.src << 16);
    w[3 * i + 1] = s.off;
    w[3 * i + 2] = s.imm;
  }
  return w;
}

interface CacheKey {
  key: string;
  words: Int32Array;
}

function moduleKey(slots: readonly Slot[], scratch: number, pages: number, opts: CompileOptions): CacheKey {
  const words = slotWords(slots);
  // FNV-1a over the words, and a second hash with another prime and seed
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < words.length; i++) {
    h1 = Math.imul(h1 ^ words[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ words[i]!, 0x5bd1e995) ^ (h2 >>> 15);
  }
  const json = JSON.stringify(opts, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return { key: `${scratch}:${pages}:${slots.length}:${h1 >>> 0}:${h2 >>> 0}:${json}`, words };
}

function sameWords(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The cached module for `k`, counting the hit or the miss. */
function cached(k: CacheKey): WebAssembly.Module | undefined {
  const e = MODULES.get(k.key);
  if (e !== undefined && sameWords(e.words, k.words)) {
    moduleCache.hits++;
    return e.module;
  }
  moduleCache.misses++;
  return undefined;
}

function remember(k: CacheKey, module: WebAssembly.Module, bytes: number): void {
  MODULE_BYTES.set(module, bytes);
  if (MODULES.size >= MODULE_CACHE_ENTRIES) MODULES.delete(MODULES.keys().next().value!);
  MODULES.set(k.key, { words: k.words, module });
}

/**
 * The cache's module for `slots` compiled for `scratch`, or the key and the
 * emitted bytes to compile (moduleFor compiles them now, moduleForAsync in the
 * background).
 */
function cachedOrEmitted(slots: readonly Slot[], scratch: number, pages: number, opts: CompileOptions): { key: CacheKey; hit?: WebAssembly.Module; bytes: Uint8Array } {
  const key = moduleKey(slots, scratch, pages, opts);
  const hit = cached(key);
  if (hit !== undefined) return { key, hit, bytes: new Uint8Array(0) };
  return { key, bytes: compileToWasm(slots, scratch, { min: pages }, opts) };
}

function invalidModule(e: unknown): BpfError {
  return new BpfError('EFAULT', `the JIT produced an invalid module: ${(e as Error).message}`);
}

/** The module of `slots` compiled for `scratch` (from the cache, or emitted and compiled now). */
function moduleFor(slots: readonly Slot[], scratch: number, pages: number, opts: CompileOptions): WebAssembly.Module {
  const { key, hit, bytes } = cachedOrEmitted(slots, scratch, pages, opts);
  if (hit !== undefined) return hit;
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw invalidModule(e);
  }
  remember(key, module, bytes.length);
  return module;
}

/** moduleFor, with WebAssembly's compile in the background (WebAssembly.compile) on a miss. */
async function moduleForAsync(slots: readonly Slot[], scratch: number, pages: number, opts: CompileOptions): Promise<WebAssembly.Module> {
  const { key, hit, bytes } = cachedOrEmitted(slots, scratch, pages, opts);
  if (hit !== undefined) return hit;
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw invalidModule(e);
  }
  // (a synchronous compile of the same program may have finished meanwhile: either module is the same code)
  remember(key, module, bytes.length);
  return module;
}

/**
 * A JIT compile reserved at load and made later (tiered execution,
 * jit/tier.ts): the plan and the scratch area are made now, so that the
 * memory is laid out as an eager load lays it out (a program's or a
 * debugger's addresses do not depend on when the compile ends); the module
 * is compiled by now() on the spot or by later() in the background
 * (WebAssembly.compile, the emitter before its first await). The scratch
 * area goes to the first of them; one made after that takes its own.
 * release() gives it back if neither took it.
 */
export class JitReservation {
  private readonly plan: JitPlan;
  private readonly scratch: number;
  private taken = false;

  constructor(private readonly mem: AddressSpace, private readonly slots: readonly Slot[], private readonly options: JitOptions) {
    this.plan = planJit(mem, slots, options);
    this.scratch = mem.alloc(this.plan.scratchWords * 4);
  }

  private take(): number | undefined {
    if (this.taken) return undefined;
    this.taken = true;
    return this.scratch;
  }

  now(): JitProgram {
    const scratch = this.take();
    if (scratch === undefined) return new JitProgram(this.mem, this.slots, this.options);
    let module: WebAssembly.Module;
    try {
      module = moduleFor(this.slots, scratch, this.mem.memory.buffer.byteLength / PAGE_SIZE, this.plan.compile);
    } catch (e) {
      this.mem.release(scratch);
      throw e;
    }
    return new JitProgram(this.mem, this.slots, this.options, { plan: this.plan, scratch, module });
  }

  async later(): Promise<JitProgram> {
    const scratch = this.take();
    if (scratch === undefined) return new JitProgram(this.mem, this.slots, this.options);
    let module: WebAssembly.Module;
    try {
      module = await moduleForAsync(this.slots, scratch, this.mem.memory.buffer.byteLength / PAGE_SIZE, this.plan.compile);
    } catch (e) {
      this.mem.release(scratch);
      throw e;
    }
    return new JitProgram(this.mem, this.slots, this.options, { plan: this.plan, scratch, module });
  }

  release(): void {
    const scratch = this.take();
    if (scratch !== undefined) this.mem.release(scratch);
  }
}
