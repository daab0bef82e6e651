/**
 * The helper registry: the functions a runtime's engines call for `call N`
 * (the helper table, progs/helpers.ts, installs the kernel's; a runtime may
 * add its own, as the conformance vectors' `unwind`). A helper reads its
 * arguments from the caller's register file (r1..r5) and writes its result
 * to r0, so the engines pass no allocation across the call. The register
 * file is an Int32Array of 32 entries: r(i) is the pair
 * (lo = regs[2i], hi = regs[2i+1]).
 *
 * Prototypes (argument and return types) are the verifier's, which reads
 * them from the helper table, never from this registry.
 *
 * A program reaches maps through helpers only as its own instructions
 * allow: each engine builds the program's map set once (programMaps) and
 * offers it to helpers as HelperEnv.mapAt, so an address in r1 that is not
 * one of those maps is a fault, whatever else lives at it.
 */

import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { isLdImm64 } from '../isa/instruction.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { Region } from '../memory/address-space.js';
import { uapiHelperName } from '../isa/uapi.js';

/** Argument kinds, as 3.19's enum bpf_arg_type. */
/**
 * The helper id of the trap that replaces, after verification, every
 * instruction the verifier never reached (api/prog-load.ts): no registry can
 * hold it (ids are 0..2^31-1), and the engines report a call to it as EFAULT.
 */
export const UNVISITED_TRAP = -1;

/** The engines' message for reaching that trap (the JIT knows the pc in hardened mode only). */
export const unvisitedTrapMessage = (pc?: number): string => `${pc === undefined ? '' : `pc ${pc}: `}reached an instruction the verifier never visited`;

/**
 * Argument kinds: 0-5 are 3.19's enum bpf_arg_type, with its numbers and
 * meaning (the 3.19 verifier compares against them); 6 and up are the
 * modern kernel's base types, which only helpers of later kernels use and
 * which may carry the ARG_FLAG modifiers (the kernel's MEM_RDONLY,
 * MEM_UNINIT, PTR_MAYBE_NULL, OBJ_RELEASE).
 */
export const ARG = {
  ANYTHING: 0,
  CONST_MAP_PTR: 1,
  PTR_TO_MAP_KEY: 2,
  PTR_TO_MAP_VALUE: 3,
  PTR_TO_STACK: 4,
  CONST_STACK_SIZE: 5,
  /** memory of the size given by the next argument (stack, map value, packet, ringbuf record...) */
  PTR_TO_MEM: 6,
  /** the size of the memory argument before it: a known constant > 0 */
  CONST_SIZE: 7,
  /** the same, 0 allowed */
  CONST_SIZE_OR_ZERO: 8,
  /** the program's context (r1 as the program got it) */
  PTR_TO_CTX: 9,
  /** a subprogram: the callback of bpf_loop / bpf_for_each_map_elem (ld_imm64 with BPF_PSEUDO_FUNC) */
  PTR_TO_FUNC: 10,
  /** a struct bpf_spin_lock inside a map value */
  PTR_TO_SPIN_LOCK: 11,
  /** a long (8 bytes) the helper writes */
  PTR_TO_LONG: 12,
  /** a constant size the helper allocates (bpf_ringbuf_reserve), 0 allowed */
  CONST_ALLOC_SIZE_OR_ZERO: 13,
  /** a ring buffer record from bpf_ringbuf_reserve (with RELEASE: submit, discard) */
  PTR_TO_RINGBUF_MEM: 14,
} as const;

/** Modifiers of the modern argument kinds (bits above the kind). */
export const ARG_FLAG = {
  /** the helper only reads the memory */
  RDONLY: 1 << 8,
  /** the helper writes the memory without reading it: it may be uninitialized */
  UNINIT: 1 << 9,
  /** NULL is also allowed */
  MAYBE_NULL: 1 << 10,
  /** the helper releases the reference (the verifier forgets the pointer) */
  RELEASE: 1 << 11,
} as const;

/** An argument kind, with its modifiers for the modern kinds. */
export type ArgType = number;
/** The kind without the modifiers. */
export const argBase = (t: ArgType): number => t & 0xff;

/**
 * Return kinds: 0-2 are 3.19's enum bpf_return_type (numbers and meaning
 * kept); 3 and up are the modern kernel's.
 */
export const RET = {
  INTEGER: 0,
  VOID: 1,
  PTR_TO_MAP_VALUE_OR_NULL: 2,
  /** memory of the size of argument 2 (a constant) or NULL: bpf_ringbuf_reserve's record (RET_PTR_TO_RINGBUF_MEM_OR_NULL) */
  PTR_TO_MEM_OR_NULL: 3,
  /** a map value pointer, never NULL (bpf_map_lookup_percpu_elem's kin) */
  PTR_TO_MAP_VALUE: 4,
} as const;
export type RetType = (typeof RET)[keyof typeof RET];

/** A helper's prototype as the verifier checks calls against it: return type, argument types, GPL only. */
export interface HelperProto {
  ret: RetType;
  args: ArgType[];
  gplOnly?: boolean;
  /**
   * Modern helpers: the range the verifier gives r0 on return, when the
   * kernel narrows it (bpf_get_smp_processor_id: [0, nr_cpus - 1];
   * bpf_get_prandom_u32 / ktime: u64 / u32 unknowns need none).
   */
  retRange?: { min: number; max: number };
  /** callback helpers: the argument number (1-5) of the callback, and the range its return must be in */
  callback?: { arg: number; ret: { min: number; max: number } };
}

/**
 * What a run leaves for helpers and callers to share: the run in progress
 * (its input and packet frame), a tail call it asked for, bpf_trace_printk's
 * output, the redirect a bpf_redirect asked for, the clock, the random
 * generator and the CPU. One per registry (so per Runtime); runs do not
 * nest, so one suffices.
 */
export class RunState {
  /** the input of the run in progress (set by each engine's exec) */
  input: import('./engine.js').RunInput | undefined;
  /** the program a bpf_tail_call asked to continue with (the object a prog array holds) */
  tail: unknown;
  /** tail calls taken in this run (the kernel's limit is 33) */
  tailCalls = 0;
  /**
   * The instructions the run may still execute in the programs it
   * tail-calls: set by a checked interpreter's run (its budget less what
   * it executed), so that tail calls do not restart the budget; Infinity
   * when no engine counts.
   */
  budgetLeft = Infinity;
  /** the engine of a tail call's target (BpfSystem installs it): its engine of the same kind, or its interpreter */
  tailEngine: (target: unknown, current: string) => import('./engine.js').Engine | undefined = () => undefined;
  /**
   * The maps of the programs the run tail-called (BpfSystem's tailEngine
   * enters them as the target starts), left when the run ends (end): a
   * value pointer a target took stays its own until then, as the caller's do.
   */
  readonly entered: { exitRun(): void }[] = [];
  /** bpf_trace_printk's lines, in order, until taken (takePrintk) */
  readonly printk: string[] = [];
  /** the last bpf_redirect / bpf_redirect_map of the run (undefined: none) */
  redirect: { ifindex?: number; map?: number; key?: bigint; flags: bigint } | undefined;
  /**
   * The spin locks (lock word addresses) the run holds: a lock is held by a
   * run, not by memory, so one a faulting run left taken is free for the
   * next run (its word still reads 1 until then)
   */
  readonly locks = new Set<number>();
  /**
   * Shared memory (bpf_spin_lock sets it at its first lock): give back a
   * lock word a run ended holding, which other threads would otherwise
   * wait for (unshared, the word is simply left as it is)
   */
  unlockWord: ((addr: number) => void) | undefined;
  /**
   * ring buffer records reserved and not yet submitted or discarded: data
   * address to its ring buffer. Those a run left reserved (an unverified
   * program that faulted or never submitted) are discarded when the next
   * run begins, so that they do not hold back the ring's consumer forever.
   */
  readonly reserved = new Map<number, { commit(addr: number, discard: boolean): number }>();
  /** 16 bytes of the runtime's memory the helpers use to hand a map a key from a register (Runtime allocates it at first use) */
  scratch: () => number = () => {
    throw new BpfError('EFAULT', 'this helper needs a Runtime');
  };
  /** memory of the runtime for a helper's own use during a call (Runtime sets them) */
  alloc: (size: number) => number = () => {
    throw new BpfError('EFAULT', 'this helper needs a Runtime');
  };
  free: (addr: number) => void = () => {};
  /** the simulated CPU of the run (Runtime sets it to its own) */
  cpu: () => number = () => 0;
  /** nanoseconds for bpf_ktime_get_ns / bpf_ktime_get_boot_ns: monotonic unless set (setClock) */
  clock: () => bigint = monotonicNs;
  private rng = (Math.random() * 0x100000000) >>> 0 || 1;

  /** A fixed seed for bpf_get_prandom_u32 (xorshift32): the same seed gives the same sequence. */
  seedRandom(seed: number): void {
    this.rng = (seed >>> 0) || 1;
  }

  /** The next bpf_get_prandom_u32. */
  nextRandom(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }

  /** bpf_trace_printk's lines since the last call. */
  takePrintk(): string[] {
    return this.printk.splice(0);
  }

  /** The run ends (each engine's exec, however it ends): the maps tail calls entered leave it. */
  end(): void {
    if (this.locks.size !== 0 && this.unlockWord !== undefined) {
      for (const a of this.locks) this.unlockWord(a);
      this.locks.clear();
    }
    // (every run ends here: nothing is allocated when there is nothing to leave)
    if (this.entered.length === 0) return;
    for (const m of this.entered.splice(0)) m.exitRun();
  }

  /** A run starts (the outermost exec of an engine): forget the last run's tail call and redirect. */
  begin(input: import('./engine.js').RunInput): void {
    this.end();
    this.input = input;
    this.tail = undefined;
    this.tailCalls = 0;
    this.budgetLeft = Infinity;
    if (this.locks.size !== 0) this.locks.clear();
    if (this.reserved.size !== 0) {
      for (const [addr, ring] of this.reserved) ring.commit(addr, true);
      this.reserved.clear();
    }
    this.redirect = undefined;
  }
}

/** What a helper may touch besides the registers; the engine running the program implements it. */
export interface HelperEnv {
  readonly u8: Uint8Array;
  readonly view: DataView;
  /**
   * Throw BpfError EFAULT unless the program may access [addr, addr+size):
   * in the checked interpreter the same regions as its own loads and
   * stores, otherwise the bounds of the address space.
   */
  access(addr: number, size: number, write: boolean): void;
  /**
   * The map at `addr` when it is one of the running program's maps (see
   * programMaps), else undefined: the only maps its helper calls may use.
   */
  mapAt(addr: number): BpfMapImpl | undefined;
  /** the run in progress and what it shares with its helpers */
  readonly run: RunState;
  /**
   * Run the program's subprogram at `pc` with r1..r5 = args (a callback of
   * bpf_loop, bpf_for_each_map_elem) and give its r0; `extra` is memory the
   * callback may read besides its own (the key bpf_for_each_map_elem passes).
   * An engine that cannot run callbacks throws ENOTSUP.
   */
  callback(pc: number, args: readonly (number | bigint)[], extra?: Region): bigint;
}

/**
 * An engine's HelperEnv: `u8` and `view` read the memory's views as they
 * are now (they change when it grows), the rest as given. A class rather
 * than an object literal with getters: V8 makes such a literal a
 * dictionary-mode object in the old generation, where it kept everything
 * its closures reach (the engine, its program's slots) alive through every
 * scavenge until a full collection; a loop of loads then copied megabytes
 * per scavenge (4-13 ms each) and the start-up bench's p90 showed them.
 */
export class EngineHelperEnv implements HelperEnv {
  constructor(
    private readonly mem: { readonly u8: Uint8Array; readonly view: DataView },
    readonly mapAt: (addr: number) => BpfMapImpl | undefined,
    readonly access: (addr: number, size: number, write: boolean) => void,
    readonly run: RunState,
    readonly callback: (pc: number, args: readonly (number | bigint)[], extra?: Region) => bigint,
  ) {}

  get u8(): Uint8Array {
    return this.mem.u8;
  }

  get view(): DataView {
    return this.mem.view;
  }
}

/** The high word of a callback's address as a program holds it (ld_imm64 of BPF_PSEUDO_FUNC after loading); the low word is its pc. */
export const CALLBACK_TAG = 0x0cb0cb00;

/** A helper function a program can call: id, name, prototype, implementation. */
export interface Helper {
  id: number;
  name: string;
  /**
   * The argument and return types. The verifier reads them from the helper
   * table (progs/helpers.ts, where HelperDef requires them); a helper only a
   * runtime registers may omit them: no verified program can call it.
   */
  proto?: HelperProto;
  /** Compute r0 from regs[2..11] (r1..r5) into regs[0..1]. */
  call(regs: Int32Array, env: HelperEnv): void;
  /**
   * uBPF's "unwind" helper convention, used by the conformance vectors: when
   * the helper returns 0 the program ends at once with r0 = 0.
   */
  exitOnZero?: boolean;
  /** bpf_tail_call: the program ends when the helper set env.run.tail, and the engine continues with that program */
  tailCall?: boolean;
  /** the helper runs a callback (env.callback): engines that cannot run one refuse the program */
  callsBack?: boolean;
}

/** The helpers a runtime offers, by id. */
export class HelperRegistry {
  private readonly byId = new Map<number, Helper>();
  /** the state runs share with their helpers (see RunState) */
  readonly run = new RunState();
  /**
   * The runtime's maps by address (BpfSystem sets it when it installs the
   * map helpers), for engines built without the program's own list of maps
   * (see programMaps).
   */
  mapAt: (addr: number) => BpfMapImpl | undefined = () => undefined;

  /** Add (or replace) the helper with this id; returns the registry. */
  register(helper: Helper): this {
    if (!Number.isInteger(helper.id) || helper.id < 0 || helper.id > 0x7fffffff) {
      throw new BpfError('EINVAL', `helper id ${helper.id} is not a non-negative 32-bit integer`);
    }
    this.byId.set(helper.id, helper);
    return this;
  }

  /** The helper with this id, if registered. */
  get(id: number): Helper | undefined {
    return this.byId.get(id);
  }

  /** Whether a helper with this id is registered. */
  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** The registered ids, ascending. */
  ids(): number[] {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }
}

/** Helper `id` as run-time errors name it: `8 (bpf_get_smp_processor_id)`, or the bare number when the kernel has no such helper. */
export function helperLabel(id: number): string {
  const name = uapiHelperName(id);
  return name === undefined ? `${id}` : `${id} (${name})`;
}

/** Argument n (1..5) as an unsigned 32-bit number, when its high half is zero; else -1. */
export function argU32(regs: Int32Array, n: number): number {
  return regs[2 * n + 1] === 0 ? regs[2 * n]! >>> 0 : -1;
}

/** Argument n (1..5) of a helper call as an unsigned 64-bit value, read from the register file. */
export function argU64(regs: Int32Array, n: number): bigint {
  return (BigInt(regs[2 * n + 1]! >>> 0) << 32n) | BigInt(regs[2 * n]! >>> 0);
}

/** Set register r to a number (a safe integer, negative numbers as two's complement) or a bigint. */
export function setReg(regs: Int32Array, r: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    const v = BigInt.asUintN(64, value);
    regs[2 * r] = Number(v & 0xffffffffn) | 0;
    regs[2 * r + 1] = Number(v >> 32n) | 0;
  } else {
    regs[2 * r] = value | 0;
    regs[2 * r + 1] = Math.floor(value / 4294967296) | 0;
  }
}

/** Set r0, a helper's result. */
export function setR0(regs: Int32Array, value: number | bigint): void {
  setReg(regs, 0, value);
}

/** The maps a program may use through helpers. */
export interface ProgramMaps {
  readonly list: readonly BpfMapImpl[];
  /** the map of `list` at addr, else undefined */
  readonly at: (addr: number) => BpfMapImpl | undefined;
}

/**
 * The maps of a program: `given`, the maps BPF_PROG_LOAD found in its
 * pseudo ld_imm64 instructions (src 1, a map; src 2, a pointer into a
 * map's value), which it resolves into plain constants before the engines
 * see them. An engine built directly from instructions (without `given`)
 * runs its caller's own code, where a map is an ld_imm64 constant: every
 * ld_imm64 whose 64-bit constant is the address of a map of `registry`.
 */
export function programMaps(slots: readonly Slot[], registry: HelperRegistry, given?: readonly BpfMapImpl[]): ProgramMaps {
  let list: BpfMapImpl[];
  if (given) {
    list = [...new Set(given)];
  } else {
    list = [];
    for (let pc = 0; pc + 1 < slots.length; pc++) {
      const s = slots[pc]!;
      if (!isLdImm64(s)) continue;
      pc++;
      if (slots[pc]!.imm !== 0) continue;
      const m = registry.mapAt(s.imm >>> 0);
      if (m && !list.includes(m)) list.push(m);
    }
  }
  const outer = list.filter((m) => m.innerMaps !== undefined);
  const direct = list.length === 0
    ? (): undefined => undefined
    : list.length === 1
      ? (addr: number): BpfMapImpl | undefined => (addr === list[0]!.addr ? list[0] : undefined)
      : (addr: number): BpfMapImpl | undefined => {
          for (const m of list) if (m.addr === addr) return m;
          return undefined;
        };
  if (outer.length === 0) return { list, at: direct };
  // a map of maps' inner maps, as held at the time of the call (a lookup in the outer map gave their address)
  const at = (addr: number): BpfMapImpl | undefined => {
    const m = direct(addr);
    if (m) return m;
    for (const o of outer) for (const i of o.innerMaps!()) if (i.addr === addr) return i;
    return undefined;
  };
  return { list, at };
}

/**
 * Monotonic nanoseconds: Node's hrtime, or performance.now() where there
 * is no `process` (a browser), to the microsecond it gives.
 */
function monotonicNs(): bigint {
  const proc = (globalThis as { process?: { hrtime?: { bigint?: () => bigint } } }).process;
  if (proc?.hrtime?.bigint) return proc.hrtime.bigint();
  return BigInt(Math.round(performance.now() * 1000)) * 1000n;
}
