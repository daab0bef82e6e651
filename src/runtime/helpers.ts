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

/** The argument kinds of a helper prototype (3.19's enum bpf_arg_type). */
export const ARG = {
  ANYTHING: 0,
  CONST_MAP_PTR: 1,
  PTR_TO_MAP_KEY: 2,
  PTR_TO_MAP_VALUE: 3,
  PTR_TO_STACK: 4,
  CONST_STACK_SIZE: 5,
  // the modern kernel's argument types (enum bpf_arg_type without ARG_), checked by the modern verifier
  PTR_TO_MEM: 6,
  PTR_TO_UNINIT_MEM: 7,
  CONST_SIZE: 8,
  CONST_SIZE_OR_ZERO: 9,
  PTR_TO_CTX: 10,
  PTR_TO_FUNC: 11,
  PTR_TO_STACK_OR_NULL: 12,
  CONST_ALLOC_SIZE_OR_ZERO: 13,
} as const;
export type ArgType = (typeof ARG)[keyof typeof ARG];

/** Return kinds, as 3.19's enum bpf_return_type. */
export const RET = {
  INTEGER: 0,
  VOID: 1,
  PTR_TO_MAP_VALUE_OR_NULL: 2,
  // the modern kernel's return types (enum bpf_return_type without RET_)
  PTR_TO_MAP_VALUE: 3,
  PTR_TO_MEM_OR_NULL: 4,
} as const;
export type RetType = (typeof RET)[keyof typeof RET];

/** A helper's prototype as the verifier checks calls against it: return type, argument types, GPL only. */
export interface HelperProto {
  ret: RetType;
  args: ArgType[];
  gplOnly?: boolean;
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
}

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
}

/** The helpers a runtime offers, by id. */
export class HelperRegistry {
  private readonly byId = new Map<number, Helper>();
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
  const at = list.length === 0
    ? (): undefined => undefined
    : list.length === 1
      ? (addr: number): BpfMapImpl | undefined => (addr === list[0]!.addr ? list[0] : undefined)
      : (addr: number): BpfMapImpl | undefined => {
          for (const m of list) if (m.addr === addr) return m;
          return undefined;
        };
  return { list, at };
}
