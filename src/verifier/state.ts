/**
 * The abstract domain of the 3.19 verifier: a register is a type with, for
 * CONST_IMM and PTR_TO_STACK, a 32-bit value, and for the map types, the
 * map; the stack is 512 byte-states (invalid, spill, misc) plus the register
 * spilled into each 8-byte slot. This file offers only what the domain
 * needs: construction, copy, and 3.19's states_equal comparison for pruning.
 * The walk is check.ts, the per-instruction rules alu.ts, jmp.ts, mem.ts,
 * call.ts and ld.ts, the text log.ts.
 *
 * The kernel's reg_state keeps `imm` and `map_ptr` in one union and
 * compares it bytewise; here a map "pointer" is the map's address in the
 * runtime's memory, below 2^32, so the union is one number (`value`).
 */

import { MAX_BPF_REG, MAX_BPF_STACK } from '../isa/opcodes.js';

/** The register types of 3.19's verifier (enum bpf_reg_type). */
export const REG = {
  NOT_INIT: 0,
  UNKNOWN_VALUE: 1,
  PTR_TO_CTX: 2,
  CONST_PTR_TO_MAP: 3,
  PTR_TO_MAP_VALUE: 4,
  PTR_TO_MAP_VALUE_OR_NULL: 5,
  FRAME_PTR: 6,
  PTR_TO_STACK: 7,
  CONST_IMM: 8,
} as const;
/** One of REG's values. */
export type RegType = (typeof REG)[keyof typeof REG];

/** reg_type_str[] */
export const REG_TYPE_STR = ['?', 'inv', 'ctx', 'map_ptr', 'map_value', 'map_value_or_null', 'fp', 'fp', 'imm'];

/** What a stack byte holds, as 3.19's verifier tracks it (enum bpf_stack_slot_type). */
export const STACK = { INVALID: 0, SPILL: 1, MISC: 2 } as const;

/** the ISA's limits (defined in isa/opcodes.ts), for the verifier's other files */
export { MAX_BPF_REG, MAX_BPF_STACK };
/** Bytes of a register spilled to the stack. */
export const BPF_REG_SIZE = 8;

/** What the verifier knows of a map: its address, and the sizes checks need. */
export interface MapInfo {
  addr: number;
  keySize: number;
  valueSize: number;
}

/** A register's abstract value; never changed in place, so states can share them. */
export interface RegState {
  readonly type: RegType;
  /** imm (CONST_IMM, PTR_TO_STACK) or the map's address (map types); 0 otherwise */
  readonly value: number;
  readonly map?: MapInfo;
  /** PTR_TO_MAP_VALUE from BPF_PSEUDO_MAP_VALUE (global data): the offset into the value; 3.19's pointers have none */
  readonly off?: number;
}

/** The verifier's abstract state on one path: registers and stack. */
export interface VerifierState {
  regs: RegState[];
  stackSlotType: Uint8Array;
  spilledRegs: RegState[];
  /**
   * Index of the lowest stack byte that is not STACK_INVALID (512 when all
   * are): bytes below it are invalid, so states_equal need not look at them.
   */
  stackLow: number;
  /** stackSlotType as 128 words, for comparing four byte-states at a time */
  stackWords: Int32Array;
}

/** A register not yet written (NOT_INIT). */
export const emptyReg = (): RegState => ({ type: REG.NOT_INIT, value: 0 });

/**
 * init_reg_state: R1 = ctx, R10 = frame pointer, everything else not
 * initialised; with `r2`, R2 a known constant (tsbpf's mem type).
 */
export function initialState(r2?: number): VerifierState {
  const regs = Array.from({ length: MAX_BPF_REG }, emptyReg);
  regs[10] = { type: REG.FRAME_PTR, value: 0 };
  regs[1] = { type: REG.PTR_TO_CTX, value: 0 };
  if (r2 !== undefined) regs[2] = { type: REG.CONST_IMM, value: r2 };
  const stackSlotType = new Uint8Array(MAX_BPF_STACK);
  return {
    regs,
    stackSlotType,
    spilledRegs: Array.from({ length: MAX_BPF_STACK / BPF_REG_SIZE }, emptyReg),
    stackLow: MAX_BPF_STACK,
    stackWords: new Int32Array(stackSlotType.buffer),
  };
}

/** A deep copy of a verifier state (for a branch to explore later). */
export function copyState(s: VerifierState): VerifierState {
  const stackSlotType = s.stackSlotType.slice();
  return {
    // RegStates are immutable: the arrays are copied, the registers shared
    regs: s.regs.slice(),
    stackSlotType,
    spilledRegs: s.spilledRegs.slice(),
    stackLow: s.stackLow,
    stackWords: new Int32Array(stackSlotType.buffer),
  };
}

/** The kernel's memcmp of two reg_states: type and union. */
export const sameReg = (a: RegState, b: RegState): boolean => a.type === b.type && a.value === b.value && (a.off ?? 0) === (b.off ?? 0);

/**
 * states_equal: is `cur` covered by the already-verified `old`? A register
 * may differ where old had it uninitialised, or unknown while cur has it
 * initialised; stack bytes old left invalid are free; everything else must
 * match, spilled registers exactly.
 */
export function statesEqual(old: VerifierState, cur: VerifierState): boolean {
  for (let i = 0; i < MAX_BPF_REG; i++) {
    const o = old.regs[i]!;
    const c = cur.regs[i]!;
    if (!sameReg(o, c)) {
      if (o.type === REG.NOT_INIT || (o.type === REG.UNKNOWN_VALUE && c.type !== REG.NOT_INIT)) continue;
      return false;
    }
  }
  // Bytes below old.stackLow are STACK_INVALID in old: nothing to compare there.
  // Compare four byte-states at a time; look at bytes only where the words differ.
  const ow = old.stackWords;
  const cw = cur.stackWords;
  for (let w = (old.stackLow >> 3) << 1; w < MAX_BPF_STACK / 4; w++) {
    const o = ow[w]!;
    if (o === 0) continue;
    if (o !== cw[w]) {
      for (let b = 0; b < 4; b++) {
        const t = (o >>> (8 * b)) & 0xff;
        if (t !== STACK.INVALID && t !== ((cw[w]! >>> (8 * b)) & 0xff)) return false;
      }
    }
    // At each 8-byte boundary the spilled registers must match, unless old's byte there is invalid.
    if ((w & 1) === 0 && (o & 0xff) !== STACK.INVALID) {
      if (!sameReg(old.spilledRegs[w >> 1]!, cur.spilledRegs[w >> 1]!)) return false;
    }
  }
  return true;
}
