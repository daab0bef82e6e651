/**
 * The 3.19 rules of the LD class: LD_IMM64 (check_ld_imm: a constant, or
 * with src_reg 1 a map, with src_reg 2 a pointer into a map's value) and
 * LD_ABS/LD_IND (check_ld_abs: socket filters only, the context in r6,
 * r0-r5 clobbered as by a call, the loaded value unknown in r0). Any other
 * LD mode is refused.
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_ABS, BPF_DW, BPF_IMM, BPF_IND, BPF_MODE, BPF_SIZE } from '../isa/opcodes.js';
import { resetCallerSaved } from './call.js';
import { VerifyError } from './cfg.js';
import type { CheckContext } from './context.js';
import { REG } from './state.js';

export function checkLd(c: CheckContext, insn: Slot, idx: number): number {
  const mode = BPF_MODE(insn.code);
  if (mode === BPF_ABS || mode === BPF_IND) {
    checkLdAbs(c, insn);
    return idx + 1;
  }
  if (mode === BPF_IMM) {
    checkLdImm(c, insn, c.insns[idx + 1]);
    // the second slot holds the upper half of the constant: the path goes on after it
    return idx + 2;
  }
  return c.fail('EINVAL', 'invalid BPF_LD mode');
}

/**
 * check_ld_imm; `next` is the second slot, whose imm is the offset of a
 * BPF_PSEUDO_MAP_VALUE pointer. prog-load (replace_map_fd_with_map_ptr)
 * checked that slot and resolved every map before verifying.
 */
function checkLdImm(c: CheckContext, insn: Slot, next: Slot | undefined): void {
  if (BPF_SIZE(insn.code) !== BPF_DW) c.fail('EINVAL', 'invalid BPF_LD_IMM insn');
  if (insn.off !== 0) c.fail('EINVAL', 'BPF_LD_IMM64 uses reserved fields');
  c.dstOp(insn.dst);
  if (insn.src === 0) return;
  const map = c.env.mapAt(insn.imm >>> 0);
  // only a caller that skipped prog-load's resolution gets here: EFAULT, not printed
  if (!map) throw new VerifyError('EFAULT', 'ld_imm64 of an unresolved map');
  if (insn.src === 2) {
    // BPF_PSEUDO_MAP_VALUE: a pointer into the map's first value
    c.cur.regs[insn.dst] = { type: REG.PTR_TO_MAP_VALUE, value: map.addr, map, off: next?.imm ?? 0 };
    return;
  }
  c.cur.regs[insn.dst] = { type: REG.CONST_PTR_TO_MAP, value: map.addr, map };
}

/** check_ld_abs */
function checkLdAbs(c: CheckContext, insn: Slot): void {
  const mode = BPF_MODE(insn.code);
  if (!c.env.socketFilter) c.fail('EINVAL', 'BPF_LD_ABS|IND instructions are only allowed in socket filters');
  // 3.19 did not refuse size DW, which no engine (nor its own interpreter) can run; later kernels do
  if (insn.dst !== 0 || insn.off !== 0 || BPF_SIZE(insn.code) === BPF_DW || (mode === BPF_ABS && insn.src !== 0)) {
    c.fail('EINVAL', 'BPF_LD_ABS uses reserved fields');
  }
  c.srcOp(6);
  if (c.cur.regs[6]!.type !== REG.PTR_TO_CTX) c.fail('EINVAL', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
  if (mode === BPF_IND) c.srcOp(insn.src);
  resetCallerSaved(c);
  c.cur.regs[0] = { type: REG.UNKNOWN_VALUE, value: 0 };
}
