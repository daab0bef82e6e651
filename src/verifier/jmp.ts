/**
 * The 3.19 rules of the JMP and JMP32 classes but calls (call.ts): goto,
 * exit (r0 must hold a value), and conditional jumps (check_cond_jmp_op).
 * A conditional jump whose outcome is known (a constant compared for
 * equality with its own value) follows one side; otherwise the other side
 * is pushed for the walker, and an equality test teaches each side what it
 * can (the constant, or whether a map value pointer is NULL).
 *
 * Newer opcodes (SEMANTICS.md decision 1): JMP32 conditional jumps and
 * JLT/JLE/JSLT/JSLE check their operands and fork without learning
 * anything; gotol (JMP32 | JA) keeps its offset in imm.
 */

import type { Slot } from '../isa/instruction.js';
import {
  BPF_CALL, BPF_CLASS, BPF_EXIT, BPF_JA, BPF_JEQ, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSLE, BPF_K, BPF_OP, BPF_SRC, BPF_X,
} from '../isa/opcodes.js';
import type { CheckContext } from './context.js';
import { PATH_END } from './context.js';
import type { RegState } from './state.js';
import { REG } from './state.js';

/** Every BPF_JMP and BPF_JMP32 instruction except BPF_JMP | BPF_CALL, which the rule table sends to call.ts. */
export function checkJmp(c: CheckContext, insn: Slot, idx: number): number {
  const cls = BPF_CLASS(insn.code);
  const op = BPF_OP(insn.code);
  if (op === BPF_JA) {
    if (cls === BPF_JMP32) {
      // gotol: the offset is in imm
      if (insn.off !== 0 || insn.src !== 0 || insn.dst !== 0) c.fail('EINVAL', 'BPF_JA uses reserved fields');
      return idx + insn.imm + 1;
    }
    if (BPF_SRC(insn.code) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0) c.fail('EINVAL', 'BPF_JA uses reserved fields');
    return idx + insn.off + 1;
  }
  if (cls === BPF_JMP && op === BPF_EXIT) {
    if (BPF_SRC(insn.code) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0) c.fail('EINVAL', 'BPF_EXIT uses reserved fields');
    c.srcOp(0);
    return PATH_END;
  }
  if (cls === BPF_JMP32 && (op === BPF_CALL || op === BPF_EXIT)) c.fail('EINVAL', `invalid BPF_JMP32 opcode ${op.toString(16)}`);
  return checkCondJmp(c, insn, idx);
}

/** check_cond_jmp_op (and JMP32, which learns nothing) */
export function checkCondJmp(c: CheckContext, insn: Slot, idx: number): number {
  const op = BPF_OP(insn.code);
  const jmp32 = BPF_CLASS(insn.code) === BPF_JMP32;
  // 3.19 stopped at BPF_EXIT; JLT, JLE, JSLT and JSLE (0xa0-0xd0) came later and are accepted
  if (op > BPF_JSLE) c.fail('EINVAL', `invalid BPF_JMP opcode ${op.toString(16)}`);
  if (BPF_SRC(insn.code) === BPF_X) {
    if (insn.imm !== 0) c.fail('EINVAL', 'BPF_JMP uses reserved fields');
    c.srcOp(insn.src);
  } else if (insn.src !== 0) {
    c.fail('EINVAL', 'BPF_JMP uses reserved fields');
  }
  c.srcOp(insn.dst);
  const cur = c.cur;
  const k = BPF_SRC(insn.code) === BPF_K;
  const dst = cur.regs[insn.dst]!;
  if (!jmp32 && k && (op === BPF_JEQ || op === BPF_JNE) && dst.type === REG.CONST_IMM && dst.value === insn.imm) {
    // the outcome is known: follow only the path taken, and print nothing
    return op === BPF_JEQ ? idx + insn.off + 1 : idx + 1;
  }
  const other = c.pushBranch(idx + insn.off + 1, idx);
  if (!jmp32 && k && insn.imm === 0 && (op === BPF_JEQ || op === BPF_JNE) && dst.type === REG.PTR_TO_MAP_VALUE_OR_NULL) {
    const nonNull = { type: REG.PTR_TO_MAP_VALUE, value: dst.value, map: dst.map } as RegState;
    const isNull = { type: REG.CONST_IMM, value: 0 } as RegState;
    if (op === BPF_JEQ) {
      cur.regs[insn.dst] = nonNull;
      other.regs[insn.dst] = isNull;
    } else {
      other.regs[insn.dst] = nonNull;
      cur.regs[insn.dst] = isNull;
    }
  } else if (!jmp32 && k && (op === BPF_JEQ || op === BPF_JNE)) {
    const known = { type: REG.CONST_IMM, value: insn.imm } as RegState;
    if (op === BPF_JEQ) other.regs[insn.dst] = known;
    else cur.regs[insn.dst] = known;
  }
  c.printState();
  return idx + 1;
}
