/**
 * The 3.19 rule of the ALU and ALU64 classes (check_alu_op): reserved
 * fields, operands readable, division by a constant zero refused, and what
 * the destination becomes. 3.19 tracks little: a mov of a constant or of a
 * register, and a frame pointer plus a constant (a stack pointer); every
 * other result is an unknown value.
 *
 * Newer opcodes (SEMANTICS.md decision 1): sdiv/smod (off 1), movsx (off
 * 8/16/32) and bswap (BPF_END in ALU64) are checked like their 3.19 forms
 * and give unknown values.
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_ADD, BPF_ALU64, BPF_CLASS, BPF_DIV, BPF_END, BPF_MOD, BPF_MOV, BPF_NEG, BPF_OP, BPF_SRC, BPF_X } from '../isa/opcodes.js';
import type { CheckContext } from './context.js';
import { REG } from './state.js';

export function checkAlu(c: CheckContext, insn: Slot, idx: number): number {
  const cur = c.cur;
  const op = BPF_OP(insn.code);
  const cls = BPF_CLASS(insn.code);
  const x = BPF_SRC(insn.code) === BPF_X;
  if (op === BPF_END || op === BPF_NEG) {
    if (op === BPF_NEG) {
      if (BPF_SRC(insn.code) !== 0 || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) c.fail('EINVAL', 'BPF_NEG uses reserved fields');
    } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (cls === BPF_ALU64 && x)) {
      c.fail('EINVAL', 'BPF_END uses reserved fields');
    }
    c.srcOp(insn.dst);
    c.dstOp(insn.dst);
  } else if (op === BPF_MOV) {
    // movsx (RFC 9669): a register source with off 8/16 (and 32 in ALU64) sign-extends
    const movsx = x && (insn.off === 8 || insn.off === 16 || (insn.off === 32 && cls === BPF_ALU64));
    if (x) {
      if (insn.imm !== 0 || (insn.off !== 0 && !movsx)) c.fail('EINVAL', 'BPF_MOV uses reserved fields');
      c.srcOp(insn.src);
    } else if (insn.src !== 0 || insn.off !== 0) {
      c.fail('EINVAL', 'BPF_MOV uses reserved fields');
    }
    c.dstOp(insn.dst);
    if (x) {
      if (cls === BPF_ALU64 && !movsx) cur.regs[insn.dst] = { ...cur.regs[insn.src]! };
      else cur.regs[insn.dst] = { type: REG.UNKNOWN_VALUE, value: 0 };
    } else {
      // A 32-bit mov zero-extends: (u32) r1 = (u32) -1 leaves 0x00000000ffffffff, not -1.
      // 3.19 recorded the sign-extended imm here, so `if r1 == -1` was folded as taken while
      // the other side ran unverified (the CVE-2017-16995 class); the kernel's fix is followed.
      cur.regs[insn.dst] = { type: REG.CONST_IMM, value: cls === BPF_ALU64 ? insn.imm : insn.imm >>> 0 };
    }
  } else if (op > BPF_END) {
    c.fail('EINVAL', `invalid BPF_ALU opcode ${op.toString(16)}`);
  } else {
    // sdiv/smod (RFC 9669) carry off = 1
    const signedDiv = (op === BPF_DIV || op === BPF_MOD) && insn.off === 1;
    if (x) {
      if (insn.imm !== 0 || (insn.off !== 0 && !signedDiv)) c.fail('EINVAL', 'BPF_ALU uses reserved fields');
      c.srcOp(insn.src);
    } else if (insn.src !== 0 || (insn.off !== 0 && !signedDiv)) {
      c.fail('EINVAL', 'BPF_ALU uses reserved fields');
    }
    c.srcOp(insn.dst);
    if ((op === BPF_MOD || op === BPF_DIV) && !x && insn.imm === 0) c.fail('EINVAL', 'div by zero');
    const stackRelative = op === BPF_ADD && cls === BPF_ALU64 && cur.regs[insn.dst]!.type === REG.FRAME_PTR && !x;
    c.dstOp(insn.dst);
    if (stackRelative) cur.regs[insn.dst] = { type: REG.PTR_TO_STACK, value: insn.imm };
  }
  return idx + 1;
}
