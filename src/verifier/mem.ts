/**
 * The 3.19 rules of memory access: the LDX, ST and STX classes (loads,
 * stores, and in STX the atomics), with check_mem_access behind them and
 * what it dispatches to by pointer type: the stack (check_stack_write /
 * check_stack_read, with register spills), map values (bounds against the
 * value size) and the context (the program type's isValidCtxAccess). Also
 * check_stack_boundary, the helper-argument check of a stack buffer, which
 * call.ts uses.
 *
 * Newer opcodes (SEMANTICS.md decision 1): sign-extending loads give
 * unknown values; the RFC 9669 atomics are allowed on the stack and map
 * values only, and their fetch forms make the fetched register unknown.
 */

import type { Slot } from '../isa/instruction.js';
import {
  ATOMIC_OPS, BPF_ATOMIC, BPF_CMPXCHG, BPF_DW, BPF_FETCH, BPF_MEM, BPF_MEMSX, BPF_MODE, BPF_SIZE, BPF_W, sizeBytes,
} from '../isa/opcodes.js';
import type { CheckContext } from './context.js';
import type { RegState } from './state.js';
import { VerifyError } from './cfg.js';
import { BPF_REG_SIZE, MAX_BPF_STACK, REG, REG_TYPE_STR, STACK, setStack, spilledAt, stackType } from './state.js';

/** BPF_LDX: dst = *(size *)(src + off) */
export function checkLdx(c: CheckContext, insn: Slot, idx: number): number {
  const mode = BPF_MODE(insn.code);
  const ldsx = mode === BPF_MEMSX && BPF_SIZE(insn.code) !== BPF_DW;
  if ((mode !== BPF_MEM && !ldsx) || insn.imm !== 0) c.fail('EINVAL', 'BPF_LDX uses reserved fields');
  c.srcOp(insn.src);
  c.dstOp(insn.dst, false);
  memAccess(c, insn.src, insn.off, BPF_SIZE(insn.code), false, insn.dst);
  // a sign-extended value is a scalar whatever was loaded
  if (ldsx) c.markUnknown(insn.dst);
  return idx + 1;
}

/** BPF_STX: *(size *)(dst + off) = src, and the atomics */
export function checkStx(c: CheckContext, insn: Slot, idx: number): number {
  if (BPF_MODE(insn.code) === BPF_ATOMIC) {
    checkAtomic(c, insn);
    return idx + 1;
  }
  if (BPF_MODE(insn.code) !== BPF_MEM || insn.imm !== 0) c.fail('EINVAL', 'BPF_STX uses reserved fields');
  c.srcOp(insn.src);
  c.srcOp(insn.dst);
  memAccess(c, insn.dst, insn.off, BPF_SIZE(insn.code), true, insn.src);
  return idx + 1;
}

/** BPF_ST: *(size *)(dst + off) = imm */
export function checkSt(c: CheckContext, insn: Slot, idx: number): number {
  if (BPF_MODE(insn.code) !== BPF_MEM || insn.src !== 0) c.fail('EINVAL', 'BPF_ST uses reserved fields');
  c.srcOp(insn.dst);
  memAccess(c, insn.dst, insn.off, BPF_SIZE(insn.code), true, -1);
  return idx + 1;
}

/** check_xadd, and the RFC 9669 atomics */
function checkAtomic(c: CheckContext, insn: Slot): void {
  const size = BPF_SIZE(insn.code);
  const op = insn.imm;
  if ((size !== BPF_W && size !== BPF_DW) || (op !== 0 && !ATOMIC_OPS.includes(op))) c.fail('EINVAL', 'BPF_XADD uses reserved fields');
  c.srcOp(insn.src);
  c.srcOp(insn.dst);
  // the fetched value lands in src (r0 for cmpxchg): r10 may not receive it
  if (op & BPF_FETCH && op !== BPF_CMPXCHG && insn.src === 10) c.fail('EACCES', 'frame pointer is read only');
  if (op !== 0) {
    // RFC 9669 atomics: on the stack and on map values only
    if (c.cur.regs[insn.dst]!.type === REG.PTR_TO_CTX) c.fail('EACCES', `BPF_ATOMIC stores into R${insn.dst} ctx are not allowed`);
    if (op === BPF_CMPXCHG) c.srcOp(0);
  }
  memAccess(c, insn.dst, insn.off, size, false, -1);
  memAccess(c, insn.dst, insn.off, size, true, -1);
  if (op === BPF_CMPXCHG) c.markUnknown(0);
  else if (op & BPF_FETCH) c.markUnknown(insn.src);
}

/**
 * check_mem_access: an access of `bpfSize` at r(regno) + off, a write or a
 * read; a read into r(valueReg) (-1: none) sets it, a write of r(valueReg)
 * (-1: an immediate) to the stack may spill it.
 */
export function memAccess(c: CheckContext, regno: number, off: number, bpfSize: number, write: boolean, valueReg: number): void {
  const size = sizeBytes(bpfSize);
  if (off % size !== 0) c.fail('EACCES', `misaligned access off ${off} size ${size}`);
  const reg = c.cur.regs[regno]!;
  if (reg.type === REG.PTR_TO_MAP_VALUE) {
    const vs = reg.map!.valueSize;
    // a global-data pointer carries an offset of its own (0 for 3.19's lookups)
    const at = off + (reg.off ?? 0);
    if (at < 0 || at + size > vs) c.fail('EACCES', `invalid access to map value, value_size=${vs} off=${at} size=${size}`);
    if (!write && valueReg >= 0) c.markUnknown(valueReg);
  } else if (reg.type === REG.PTR_TO_CTX) {
    if (!c.env.isValidCtxAccess(off, size, write)) c.fail('EACCES', `invalid bpf_context access off=${off} size=${size}`);
    if (!write && valueReg >= 0) c.markUnknown(valueReg);
  } else if (reg.type === REG.FRAME_PTR) {
    if (off >= 0 || off < -MAX_BPF_STACK) c.fail('EACCES', `invalid stack off=${off} size=${size}`);
    if (write) stackWrite(c, off, size, valueReg);
    else stackRead(c, off, size, valueReg);
  } else {
    c.fail('EACCES', `R${regno} invalid mem access '${REG_TYPE_STR[reg.type]}'`);
  }
}

/** What a misc write leaves as the slot's spilled register (RegStates are immutable: one object serves all). */
const NOT_INIT: RegState = { type: REG.NOT_INIT, value: 0 };

/** check_stack_write: a pointer is spilled whole (8 bytes), anything else makes the bytes misc. */
function stackWrite(c: CheckContext, off: number, size: number, valueReg: number): void {
  const cur = c.cur;
  const v = valueReg >= 0 ? cur.regs[valueReg]! : undefined;
  if (v && (v.type === REG.PTR_TO_MAP_VALUE || v.type === REG.PTR_TO_STACK || v.type === REG.PTR_TO_CTX)) {
    if (size !== BPF_REG_SIZE) c.fail('EACCES', 'invalid size of register spill');
    setStack(cur, off, BPF_REG_SIZE, STACK.SPILL, v);
  } else {
    setStack(cur, off, size, STACK.MISC, NOT_INIT);
  }
}

/** check_stack_read: a spill comes back whole (8 bytes), misc bytes give an unknown value. */
function stackRead(c: CheckContext, off: number, size: number, valueReg: number): void {
  const cur = c.cur;
  if (stackType(cur, off) === STACK.SPILL) {
    if (size !== BPF_REG_SIZE) c.fail('EACCES', 'invalid size of register spill');
    for (let i = 1; i < BPF_REG_SIZE; i++) {
      if (stackType(cur, off + i) !== STACK.SPILL) c.fail('EACCES', 'corrupted spill memory');
    }
    if (valueReg >= 0) cur.regs[valueReg] = spilledAt(cur, off);
    return;
  }
  for (let i = 0; i < size; i++) {
    if (stackType(cur, off + i) !== STACK.MISC) c.fail('EACCES', `invalid read from stack off ${off}+${i} size ${size}`);
  }
  if (valueReg >= 0) c.markUnknown(valueReg);
}

/**
 * check_stack_boundary: r(regno) points to `accessSize` initialised (misc)
 * bytes of the stack, for a helper that reads them.
 */
export function stackBoundary(c: CheckContext, regno: number, accessSize: number): void {
  const cur = c.cur;
  const reg = cur.regs[regno]!;
  // not a stack pointer: 3.19 refuses it with EACCES and no message, and so does this
  if (reg.type !== REG.PTR_TO_STACK) throw new VerifyError('EACCES', '');
  const off = reg.value;
  if (off >= 0 || off < -MAX_BPF_STACK || off + accessSize > 0 || accessSize <= 0) {
    c.fail('EACCES', `invalid stack type R${regno} off=${off} access_size=${accessSize}`);
  }
  for (let i = 0; i < accessSize; i++) {
    if (stackType(cur, off + i) !== STACK.MISC) {
      c.fail('EACCES', `invalid indirect read from stack off ${off}+${i} size ${accessSize}`);
    }
  }
}
