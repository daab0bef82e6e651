/**
 * The 3.19 profile's rule table: which rule checks each instruction class.
 * A newer kernel's profile is another table of the same shape (context.ts),
 * reusing the walker (check.ts), the state (state.ts) and whichever of
 * these rule modules it keeps.
 */

import { BPF_CALL, BPF_OP } from '../isa/opcodes.js';
import { checkAlu } from './alu.js';
import { checkCallInsn } from './call.js';
import type { InsnRule, RuleTable } from './context.js';
import { checkJmp } from './jmp.js';
import { checkLd } from './ld.js';
import { checkLdx, checkSt, checkStx } from './mem.js';

/** BPF_JMP: helper calls are call.ts's, the other jumps jmp.ts's. */
const jmpOrCall: InsnRule = (c, insn, idx) => (BPF_OP(insn.code) === BPF_CALL ? checkCallInsn(c, insn, idx) : checkJmp(c, insn, idx));

/** Indexed by BPF_CLASS: LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64. */
export const RULES_319: RuleTable = [checkLd, checkLdx, checkSt, checkStx, checkAlu, jmpOrCall, checkJmp, checkAlu];
