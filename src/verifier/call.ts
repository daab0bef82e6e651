/**
 * The 3.19 rule of helper calls (BPF_JMP | BPF_CALL): check_call with
 * check_func_arg. The helper's prototype comes from the environment (the
 * helper table, progs/helpers.ts) and the id bound from its profile; each
 * argument register is checked against its declared type (a map, a key or
 * value buffer on the stack sized by that map, a constant size for the
 * buffer before it), then the caller-saved registers are clobbered and r0
 * gets the return type. LD_ABS/LD_IND clobber the same registers (ld.ts).
 *
 * It does not own the prototypes (progs/helpers.ts, by program type and
 * profile) nor other jumps (jmp.ts).
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_K, BPF_SRC } from '../isa/opcodes.js';
import { ARG, RET } from '../runtime/helpers.js';
import type { CheckContext } from './context.js';
import { stackBoundary } from './mem.js';
import type { MapInfo } from './state.js';
import { REG, REG_TYPE_STR } from './state.js';

const CALLER_SAVED = [0, 1, 2, 3, 4, 5];

/** r0-r5 do not survive a call: they become unreadable. */
export function resetCallerSaved(c: CheckContext): void {
  for (const r of CALLER_SAVED) c.cur.regs[r] = { type: REG.NOT_INIT, value: 0 };
}

/** BPF_JMP | BPF_CALL: reserved fields, then check_call. */
export function checkCallInsn(c: CheckContext, insn: Slot, idx: number): number {
  if (BPF_SRC(insn.code) !== BPF_K || insn.off !== 0 || insn.src !== 0 || insn.dst !== 0) c.fail('EINVAL', 'BPF_CALL uses reserved fields');
  checkCall(c, insn.imm);
  return idx + 1;
}

/** check_func_arg; `meta.map` is the map an earlier argument named. */
function funcArg(c: CheckContext, regno: number, argType: number, meta: { map?: MapInfo }): void {
  if (argType === ARG.ANYTHING) return;
  const reg = c.cur.regs[regno]!;
  if (reg.type === REG.NOT_INIT) c.fail('EACCES', `R${regno} !read_ok`);
  let expected: number;
  if (argType === ARG.PTR_TO_STACK || argType === ARG.PTR_TO_MAP_KEY || argType === ARG.PTR_TO_MAP_VALUE) expected = REG.PTR_TO_STACK;
  else if (argType === ARG.CONST_STACK_SIZE) expected = REG.CONST_IMM;
  else if (argType === ARG.CONST_MAP_PTR) expected = REG.CONST_PTR_TO_MAP;
  else return c.fail('EFAULT', `unsupported arg_type ${argType}`);
  if (reg.type !== expected) c.fail('EACCES', `R${regno} type=${REG_TYPE_STR[reg.type]} expected=${REG_TYPE_STR[expected]}`);
  if (argType === ARG.CONST_MAP_PTR) meta.map = reg.map;
  else if (argType === ARG.PTR_TO_MAP_KEY) {
    if (!meta.map) c.fail('EACCES', 'invalid map_ptr to access map->key');
    stackBoundary(c, regno, meta.map!.keySize);
  } else if (argType === ARG.PTR_TO_MAP_VALUE) {
    if (!meta.map) c.fail('EACCES', 'invalid map_ptr to access map->value');
    stackBoundary(c, regno, meta.map!.valueSize);
  } else if (argType === ARG.CONST_STACK_SIZE) {
    if (regno === 0) c.fail('EACCES', 'ARG_CONST_STACK_SIZE cannot be first argument');
    stackBoundary(c, regno - 1, reg.value);
  }
}

/** check_call: the helper `funcId` called with r1-r5 in the current state. */
export function checkCall(c: CheckContext, funcId: number): void {
  if (funcId < 0 || funcId >= c.env.profile.maxHelperId) c.fail('EINVAL', `invalid func ${funcId}`);
  const fn = c.env.funcProto(funcId);
  if (!fn) return c.fail('EINVAL', `unknown func ${funcId}`);
  if (!c.env.gplCompatible && fn.gplOnly) c.fail('EINVAL', 'cannot call GPL only function from proprietary program');
  const meta: { map?: MapInfo } = {};
  for (let i = 0; i < 5; i++) funcArg(c, i + 1, fn.args[i] ?? ARG.ANYTHING, meta);
  resetCallerSaved(c);
  const cur = c.cur;
  if (fn.ret === RET.INTEGER) cur.regs[0] = { type: REG.UNKNOWN_VALUE, value: 0 };
  else if (fn.ret === RET.VOID) cur.regs[0] = { type: REG.NOT_INIT, value: 0 };
  else if (fn.ret === RET.PTR_TO_MAP_VALUE_OR_NULL) {
    if (!meta.map) c.fail('EINVAL', 'kernel subsystem misconfigured verifier');
    cur.regs[0] = { type: REG.PTR_TO_MAP_VALUE_OR_NULL, value: meta.map!.addr, map: meta.map };
  } else c.fail('EINVAL', `unknown return type ${String(fn.ret)} of func ${funcId}`);
}
