/**
 * The abstract domain of the 3.19 verifier: a register is a type with, for
 * CONST_IMM and PTR_TO_STACK, a 32-bit value, and for the map types, the
 * map; the stack is 512 byte-states (invalid, spill, misc) plus the register
 * spilled into each 8-byte slot, kept per slot (VerifierState). This file
 * offers only what the domain needs: construction, copy, reading and
 * writing the stack, and 3.19's states_equal comparison for pruning.
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

/**
 * The verifier's abstract state on one path: registers and stack.
 *
 * The stack is kept per 8-byte slot, from the top down, and only as deep as
 * the path has written: `stack[j]` holds the byte-states of fp-8(j+1) ..
 * fp-8j-1, two bits a byte (the byte at fp-8(j+1)+b in bits 2b and 2b+1),
 * and `spilled[j]` the register spilled into that slot (NOT_INIT where
 * none). Slots past the arrays' end are all STACK_INVALID, and as 3.19
 * never makes a written byte invalid again, the arrays only grow. Short
 * arrays of small integers make a state cheap to copy (a branch and every
 * stored state is one), which 512 byte-states were not: copying them was a
 * fifth of the time of a program that explores many paths.
 */
export interface VerifierState {
  regs: RegState[];
  stack: number[];
  spilled: RegState[];
}

/** A slot whose 8 bytes all hold `t` (STACK.SPILL or STACK.MISC), in stack[]'s encoding. */
const fullSlot = (t: number): number => t * 0x5555;

/**
 * 0b11 in each byte-state of a slot word that is not STACK_INVALID:
 * the parts of the slot a stored state constrains.
 */
export const slotInitMask = (w: number): number => {
  const n = (w | (w >>> 1)) & 0x5555;
  return n | (n << 1);
};

/** The byte-state (STACK) of the stack byte at fp`off` (-512..-1). */
export function stackType(s: VerifierState, off: number): number {
  const j = (-off - 1) >> 3;
  return j < s.stack.length ? (s.stack[j]! >>> (2 * ((MAX_BPF_STACK + off) & 7))) & 3 : STACK.INVALID;
}

/** The register spilled into the slot holding fp`off` (NOT_INIT where none). */
export function spilledAt(s: VerifierState, off: number): RegState {
  const j = (-off - 1) >> 3;
  return j < s.spilled.length ? s.spilled[j]! : NOT_INIT_REG;
}

/**
 * Write the stack: `size` bytes from fp`off` (within one slot) become `t`,
 * and the slot's spilled register becomes `spill` (a spill is a whole slot).
 */
export function setStack(s: VerifierState, off: number, size: number, t: number, spill: RegState): void {
  const j = (-off - 1) >> 3;
  while (s.stack.length <= j) {
    s.stack.push(STACK.INVALID);
    s.spilled.push(NOT_INIT_REG);
  }
  const b = (MAX_BPF_STACK + off) & 7;
  const field = size >= BPF_REG_SIZE ? 0xffff : ((1 << (2 * size)) - 1) << (2 * b);
  s.stack[j] = (s.stack[j]! & ~field) | (fullSlot(t) & field);
  s.spilled[j] = spill;
}

const NOT_INIT_REG: RegState = { type: REG.NOT_INIT, value: 0 };

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
  return { regs, stack: [], spilled: [] };
}

/** A copy of a verifier state (for a branch to explore later); RegStates are immutable and shared. */
export function copyState(s: VerifierState): VerifierState {
  return { regs: s.regs.slice(), stack: s.stack.slice(), spilled: s.spilled.slice() };
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
  // Slots past old's stack are invalid in old: nothing to compare there.
  // A slot at a time; look at byte-states only where the slots differ.
  const os = old.stack;
  const cs = cur.stack;
  for (let j = 0; j < os.length; j++) {
    const o = os[j]!;
    if (o === 0) continue;
    const c = j < cs.length ? cs[j]! : 0;
    if (o !== c && (c & slotInitMask(o)) !== o) return false;
    // The spilled registers must match, unless old's first byte of the slot is invalid.
    if ((o & 3) !== STACK.INVALID && !sameReg(old.spilled[j]!, j < cs.length ? cur.spilled[j]! : NOT_INIT_REG)) return false;
  }
  return true;
}
