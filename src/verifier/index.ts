/**
 * bpf_check: the 3.19 verifier's entry. Given the program with its map
 * references already resolved (prog-load does replace_map_fd_with_map_ptr,
 * whose messages share this log), run check_cfg then do_check, and report
 * the verdict with the errno the kernel returns and the log.
 *
 * Local calls are not verified yet: they are rejected with a clear message
 * before the control-flow check (3.19 would have reported the callee
 * unreachable). callx gets 3.19's own "BPF_CALL uses reserved fields" in the
 * log and a summary saying callx is not supported.
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_CALL, BPF_JMP, BPF_X } from '../isa/opcodes.js';
import { checkCfg, VerifyError } from './cfg.js';
import { doCheck } from './check.js';
import type { RuleTable, VerifierEnv } from './context.js';
import { RULES_319 } from './rules.js';

export { VerifierLog, formatState } from './log.js';
export type { InsnRule, RuleTable, VerifierEnv } from './context.js';
export { CheckContext, PATH_END } from './context.js';
export { RULES_319 } from './rules.js';
export { INSN_PROCESSED_LIMIT, MAX_PENDING_STATES } from './check.js';
export { VerifyError } from './cfg.js';
export { SourceLinePrinter, checkSourceLines } from './source-lines.js';
export type { SourceLine } from './source-lines.js';
export * from './state.js';

/** bpf_check's verdict: accepted with the instructions processed, or rejected with errno, message and slot. */
export type VerifyResult =
  /**
   * visited: the instructions the verifier explored (1), for checking that a run executes nothing else;
   * ctxAccesses (the modern profile): the loads and stores through the context pointer, insn -> context offset,
   * for the load's rewrite (progs/ctx-rewrite.ts)
   */
  | { ok: true; insnProcessed: number; visited: Uint8Array; ctxAccesses?: ReadonlyMap<number, number> }
  | { ok: false; errno: VerifyError['errno']; message: string; insn?: number };

/** `rules`: the profile's rule per instruction class (3.19's unless given). */
export function verify(insns: readonly Slot[], env: VerifierEnv, rules: RuleTable = RULES_319): VerifyResult {
  const print = (s: string): void => env.log.print(s);
  try {
    insns.forEach((insn, i) => {
      if (insn.code === (BPF_JMP | BPF_CALL) && insn.src === 1) {
        print(`insn ${i}: bpf-to-bpf calls are not supported yet\n`);
        throw new VerifyError('EINVAL', `insn ${i}: bpf-to-bpf calls are not supported yet`);
      }
    });
    const pruning = checkCfg(insns, print);
    const { insnProcessed, visited } = doCheck(insns, pruning, env, rules);
    if (env.log.level >= 2) print(`processed ${insnProcessed} insns\n`);
    return { ok: true, insnProcessed, visited };
  } catch (e) {
    if (e instanceof VerifyError) {
      // 3.19's log says "BPF_CALL uses reserved fields" for callx; the summary says why.
      if (e.insn !== undefined && insns[e.insn]?.code === (BPF_JMP | BPF_CALL | BPF_X)) {
        return { ok: false, errno: e.errno, message: `${e.message} (callx is not supported)`, insn: e.insn };
      }
      return e.insn === undefined ? { ok: false, errno: e.errno, message: e.message } : { ok: false, errno: e.errno, message: e.message, insn: e.insn };
    }
    throw e;
  }
}
