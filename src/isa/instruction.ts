/**
 * The instruction model and the 8-byte wire format.
 *
 * Two levels:
 * - a `Slot` is one raw 8-byte slot exactly as the kernel's `struct bpf_insn`
 *   (opcode, dst:4, src:4, off:s16, imm:s32). The verifier and the engines
 *   index programs by slot, as the kernel does.
 * - an `Instruction` is one logical instruction: identical to a slot except
 *   that ld_imm64 is a single value carrying both halves of its constant.
 *
 * `decodeSlots` only splits bytes (the verifier reports field errors itself);
 * `decode` is strict and rejects anything that is not a meaningful
 * instruction with a BpfError naming the slot.
 */

import { BpfError } from '../errors.js';
import {
  ATOMIC_OPS, BPF_ALU, BPF_CLASS, BPF_DIV, BPF_MOD, BPF_MOV, BPF_OP, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_SRC, BPF_X, CALL, CALLX, EXIT, LD_IMM64, MAX_BPF_REG, opcodeShape,
} from './opcodes.js';

/** One 8-byte instruction slot (struct bpf_insn): opcode, registers, offset, immediate. */
export interface Slot {
  code: number;
  dst: number;
  src: number;
  /** signed 16-bit */
  off: number;
  /** signed 32-bit */
  imm: number;
}

/** A logical instruction: a slot, and for ld_imm64 the second slot's imm as imm2. */
export interface Instruction extends Slot {
  /** ld_imm64 only: the second slot's imm, i.e. the high 32 bits of the constant (signed 32-bit) */
  imm2?: number;
}

/** Bytes of one instruction slot (struct bpf_insn). */
export const SLOT_SIZE = 8;

/*
 * The questions an instruction answers about itself, asked here rather than
 * as raw opcode tests at each caller (as cilium/ebpf's asm.Instruction has
 * IsLoadFromMap, IsConstantLoad, IsBuiltinCall). Each takes a slot or a
 * logical instruction; the hot loops of the engines keep their literal
 * opcodes.
 */

/** ld_imm64: the one instruction of two slots, the second carrying the high half of the constant in imm. */
export const isLdImm64 = (s: Pick<Slot, 'code'>): boolean => s.code === LD_IMM64;

/** A pseudo ld_imm64 of a map (BPF_PSEUDO_MAP_FD, src 1): imm is the map's fd until the program is loaded. */
export const isMapLoad = (s: Pick<Slot, 'code' | 'src'>): boolean => s.code === LD_IMM64 && s.src === BPF_PSEUDO_MAP_FD;

/** A pseudo ld_imm64 of a pointer into a map's value (BPF_PSEUDO_MAP_VALUE, src 2): the map's fd, the offset in the second slot. */
export const isMapValueLoad = (s: Pick<Slot, 'code' | 'src'>): boolean => s.code === LD_IMM64 && s.src === BPF_PSEUDO_MAP_VALUE;

/** A call of the helper numbered imm (src 0). */
export const isHelperCall = (s: Pick<Slot, 'code' | 'src'>): boolean => s.code === CALL && s.src === 0;

/** A bpf-to-bpf call (BPF_PSEUDO_CALL, src 1) of the function at pc + imm + 1. */
export const isLocalCall = (s: Pick<Slot, 'code' | 'src'>): boolean => s.code === CALL && s.src === BPF_PSEUDO_CALL;

/** A call of a kernel function by BTF id (BPF_PSEUDO_KFUNC_CALL, src 2). */
export const isKfuncCall = (s: Pick<Slot, 'code' | 'src'>): boolean => s.code === CALL && s.src === BPF_PSEUDO_KFUNC_CALL;

/** callx: a call of the helper whose id is in dst. */
export const isIndirectCall = (s: Pick<Slot, 'code'>): boolean => s.code === CALLX;

/** exit: return r0 to the caller (from the entry function: end the program). */
export const isExit = (s: Pick<Slot, 'code'>): boolean => s.code === EXIT;

/** Number of 8-byte slots an instruction occupies (2 for ld_imm64). */
export function slotCount(insn: Pick<Slot, 'code'>): 1 | 2 {
  return insn.code === LD_IMM64 ? 2 : 1;
}

/**
 * The one check of an ld_imm64's pair: slots[i] is an ld_imm64 and
 * slots[i + 1] exists with opcode, registers and offset zero, only imm (the
 * high half of the constant) set. The kernel refuses anything else as
 * "invalid bpf_ld_imm64 insn".
 */
export function isLdImm64Pair(slots: readonly Slot[], i: number): boolean {
  const first = slots[i];
  const next = slots[i + 1];
  return first !== undefined && first.code === LD_IMM64 && next !== undefined
    && next.code === 0 && next.dst === 0 && next.src === 0 && next.off === 0;
}

/** The 64-bit constant of an ld_imm64, as an unsigned bigint. */
export function constant64(insn: Instruction): bigint {
  return (BigInt(insn.imm2 ?? 0) << 32n | BigInt(insn.imm >>> 0)) & 0xffffffffffffffffn;
}

/** Split a 64-bit constant into the (imm, imm2) pair of an ld_imm64, both signed 32-bit. */
export function splitConstant64(value: bigint): { imm: number; imm2: number } {
  const v = BigInt.asUintN(64, value);
  return { imm: Number(BigInt.asIntN(32, v)), imm2: Number(BigInt.asIntN(32, v >> 32n)) };
}

/** Split bytes into raw slots. Fails only when the length is not a multiple of 8. */
export function decodeSlots(bytes: Uint8Array): Slot[] {
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new BpfError('EINVAL', `program length ${bytes.length} is not a multiple of ${SLOT_SIZE} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Slot[] = new Array(bytes.length / SLOT_SIZE);
  for (let i = 0; i < out.length; i++) {
    const p = i * SLOT_SIZE;
    const regs = bytes[p + 1]!;
    out[i] = {
      code: bytes[p]!,
      dst: regs & 0x0f,
      src: regs >> 4,
      off: view.getInt16(p + 2, true),
      imm: view.getInt32(p + 4, true),
    };
  }
  return out;
}

/** Slots to their 8-byte little-endian encoding. */
export function encodeSlots(slots: readonly Slot[]): Uint8Array {
  const bytes = new Uint8Array(slots.length * SLOT_SIZE);
  const view = new DataView(bytes.buffer);
  slots.forEach((s, i) => {
    const p = i * SLOT_SIZE;
    bytes[p] = s.code;
    bytes[p + 1] = (s.dst & 0x0f) | ((s.src & 0x0f) << 4);
    view.setInt16(p + 2, s.off, true);
    view.setInt32(p + 4, s.imm, true);
  });
  return bytes;
}

/** Logical instructions to slots: an ld_imm64 becomes two slots. */
export function toSlots(insns: readonly Instruction[]): Slot[] {
  const out: Slot[] = [];
  for (const i of insns) {
    out.push({ code: i.code, dst: i.dst, src: i.src, off: i.off, imm: i.imm });
    if (isLdImm64(i)) out.push({ code: 0, dst: 0, src: 0, off: 0, imm: i.imm2 ?? 0 });
  }
  return out;
}

/** Encode logical instructions to the little-endian wire format. Fields are checked first. */
export function encode(insns: readonly Instruction[]): Uint8Array {
  if (!Array.isArray(insns)) throw new BpfError('EINVAL', 'expected an array of instructions');
  insns.forEach((insn, i) => checkFields(insn, i));
  return encodeSlots(toSlots(insns));
}

/**
 * Why a slot is not a meaningful instruction, or undefined when it is. Checks
 * what changes the meaning of an instruction (the opcode, register numbers,
 * the sdiv/movsx offsets, the END width, the atomic operation, the call
 * kind); reserved fields that must merely be zero are the verifier's business.
 */
export function slotProblem(s: Slot): string | undefined {
  const shape = opcodeShape(s.code);
  if (shape === undefined) return `unknown opcode 0x${hex2(s.code)}`;
  if (s.dst >= MAX_BPF_REG) return `invalid register r${s.dst}`;
  if (s.src >= MAX_BPF_REG && shape !== 'call' && shape !== 'lddw') return `invalid register r${s.src}`;
  const op = BPF_OP(s.code);
  switch (shape) {
    case 'alu':
      if ((op === BPF_DIV || op === BPF_MOD) && s.off !== 0 && s.off !== 1) {
        return `invalid offset ${s.off} for ${op === BPF_DIV ? 'div' : 'mod'} (0 unsigned, 1 signed)`;
      }
      if (op === BPF_MOV && BPF_SRC(s.code) === BPF_X && s.off !== 0) {
        const ok = BPF_CLASS(s.code) === BPF_ALU ? s.off === 8 || s.off === 16 : s.off === 8 || s.off === 16 || s.off === 32;
        if (!ok) return `invalid sign-extension width ${s.off} for mov`;
      }
      return undefined;
    case 'end':
      if (s.imm !== 16 && s.imm !== 32 && s.imm !== 64) return `invalid byte swap width ${s.imm}`;
      return undefined;
    case 'atomic':
      if (!ATOMIC_OPS.includes(s.imm)) return `invalid atomic operation 0x${(s.imm >>> 0).toString(16)}`;
      return undefined;
    case 'call':
      if (s.src !== 0 && s.src !== 1 && s.src !== 2) return `invalid call kind src=${s.src}`;
      return undefined;
    case 'lddw':
      if (s.src > 6) return `invalid ld_imm64 kind src=${s.src}`;
      return undefined;
    default:
      return undefined;
  }
}

function checkFields(insn: Instruction, index: number): void {
  const bad = (what: string): never => {
    throw new BpfError('EINVAL', `instruction ${index}: ${what}`);
  };
  if (typeof insn !== 'object' || insn === null) bad(`expected an instruction object, got ${insn === null ? 'null' : typeof insn}`);
  const intIn = (v: unknown, lo: number, hi: number): boolean =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (!intIn(insn.code, 0, 255)) bad(`opcode ${String(insn.code)} is not a byte`);
  if (!intIn(insn.dst, 0, 15)) bad(`dst ${String(insn.dst)} is not a 4-bit register field`);
  if (!intIn(insn.src, 0, 15)) bad(`src ${String(insn.src)} is not a 4-bit register field`);
  if (!intIn(insn.off, -0x8000, 0x7fff)) bad(`offset ${String(insn.off)} is not a signed 16-bit value`);
  if (!intIn(insn.imm, -0x80000000, 0x7fffffff)) bad(`imm ${String(insn.imm)} is not a signed 32-bit value`);
  if (insn.imm2 !== undefined && !intIn(insn.imm2, -0x80000000, 0x7fffffff)) {
    bad(`imm2 ${String(insn.imm2)} is not a signed 32-bit value`);
  }
}

/**
 * Strict decode: bytes to logical instructions. Rejects a length that is not
 * a multiple of 8, unknown opcodes, register numbers above r10, meaningless
 * field values, and an ld_imm64 without a proper second slot.
 */
export function decode(bytes: Uint8Array): Instruction[] {
  return slotsToInstructions(decodeSlots(bytes));
}

/** Strictly group validated slots into logical instructions. */
export function slotsToInstructions(slots: readonly Slot[]): Instruction[] {
  const out: Instruction[] = [];
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    const problem = slotProblem(s);
    if (problem !== undefined) throw new BpfError('EINVAL', `slot ${i}: ${problem}`);
    if (isLdImm64(s)) {
      if (i + 1 >= slots.length) throw new BpfError('EINVAL', `slot ${i}: ld_imm64 is missing its second slot`);
      if (!isLdImm64Pair(slots, i)) throw new BpfError('EINVAL', `slot ${i + 1}: second slot of ld_imm64 must have only imm set`);
      out.push({ ...s, imm2: slots[i + 1]!.imm });
      i++;
    } else {
      out.push({ ...s });
    }
  }
  return out;
}

/** A byte as two lower-case hex digits. */
export function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/** Slot bytes as 16 hex digits in memory order (the program spec's `insns` format). */
export function slotHex(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let p = 0; p + SLOT_SIZE <= bytes.length; p += SLOT_SIZE) {
    out.push(Array.from(bytes.subarray(p, p + SLOT_SIZE), hex2).join(''));
  }
  return out;
}
