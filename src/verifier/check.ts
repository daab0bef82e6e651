/**
 * do_check: 3.19's path-exploring abstract interpretation, as a walker over
 * a rule table. It walks every path of the program from insn 0 with the
 * abstract state of state.ts, handing each instruction to the rule of its
 * class (rules.ts: alu.ts, jmp.ts, mem.ts, call.ts, ld.ts, through the
 * CheckContext of context.ts), keeping the other side of every conditional
 * jump for later (at most MAX_PENDING_STATES), and pruning a path when it
 * reaches a pruning point in a state already proven safe there (prune.ts,
 * within a budget of probes). It owns the processed-instruction limit, the
 * log's instruction lines and "from X to Y" lines, and the set of visited
 * instructions; what an instruction requires and does is the rules'.
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_CLASS } from '../isa/opcodes.js';
import { disasmInsn } from '../isa/disasm.js';
import type { RuleTable, VerifierEnv } from './context.js';
import { CheckContext, PATH_END } from './context.js';
import { formatState } from './log.js';
import { PruneIndex } from './prune.js';
import { RULES_319 } from './rules.js';
import { SourceLinePrinter } from './source-lines.js';
import type { VerifierState } from './state.js';
import { copyState } from './state.js';


/** 3.19's limit on instructions processed by the verifier: a program that needs more is rejected. */
export const INSN_PROCESSED_LIMIT = 32768;
/** The most branches the verifier keeps to explore later before it rejects the program. */
export const MAX_PENDING_STATES = 1024;
/**
 * Pruning probes (a group of stored states looked up, or one state compared)
 * per verification: a tsbpf bound, not 3.19's, so that no program keeps the
 * verifier busy for long (about a second at most). Programs 3.19 could
 * verify in reasonable time stay far below it.
 */
export const PRUNE_PROBE_LIMIT = 1 << 22;

interface Pending {
  state: VerifierState;
  insnIdx: number;
  prevInsnIdx: number;
}

export interface CheckResult {
  insnProcessed: number;
  /** 1 for every instruction some explored path reached (the first slot of an ld_imm64) */
  visited: Uint8Array;
}

export function doCheck(insns: readonly Slot[], pruning: Uint8Array, env: VerifierEnv, rules: RuleTable = RULES_319): CheckResult {
  const log = env.log;
  const pending: Pending[] = [];
  // push_stack
  const c = new CheckContext(insns, env, (target, prev) => {
    const state = copyState(c.cur);
    pending.push({ state, insnIdx: target, prevInsnIdx: prev });
    if (pending.length > MAX_PENDING_STATES) {
      pending.length = 0;
      c.fail('EFAULT', 'BPF program is too complex');
    }
    return state;
  });
  const explored: (PruneIndex | undefined)[] = new Array(insns.length);
  let probes = 0;
  const probe = (): void => {
    if (++probes > PRUNE_PROBE_LIMIT) c.fail('E2BIG', `BPF program is too complex: more than ${PRUNE_PROBE_LIMIT} state comparisons`);
  };
  let insnIdx = 0;
  let insnProcessed = 0;
  let prevInsnIdx = 0;
  let doPrintState = false;
  const visited = new Uint8Array(insns.length);
  // only when the program came with line records: 3.19's own log has none
  const source = env.sourceLines && env.sourceLines.length > 0 ? new SourceLinePrinter(env.sourceLines) : undefined;

  const copyCur = (): VerifierState => copyState(c.cur);
  const isStateVisited = (idx: number): boolean => {
    if (!pruning[idx]) return false;
    // 3.19 compares cur with every state stored here; the index finds the same answer (prune.ts).
    const index = (explored[idx] ??= new PruneIndex());
    return index.visit(c.cur, probe, copyCur);
  };

  for (;;) {
    c.idx = insnIdx;
    if (insnIdx >= insns.length) c.fail('EFAULT', `invalid insn idx ${insnIdx} insn_cnt ${insns.length}`);
    const insn = insns[insnIdx]!;
    if (++insnProcessed > INSN_PROCESSED_LIMIT) c.fail('E2BIG', `BPF program is too large. Proccessed ${insnProcessed} insn`);

    let next: number;
    if (isStateVisited(insnIdx)) {
      if (log.enabled) {
        if (doPrintState) log.print(`\nfrom ${prevInsnIdx} to ${insnIdx}: safe\n`);
        else log.print(`${insnIdx}: safe\n`);
      }
      next = PATH_END;
    } else {
      if (log.enabled && doPrintState) {
        log.print(`\nfrom ${prevInsnIdx} to ${insnIdx}:${formatState(c.cur)}`);
        doPrintState = false;
      }
      if (log.enabled && source) log.print(source.at(insnIdx));
      if (log.enabled) log.print(`${insnIdx}: ${disasmInsn(insn, { style: 'log319' })}\n`);
      visited[insnIdx] = 1;
      const cls = BPF_CLASS(insn.code);
      const rule = rules[cls];
      next = rule ? rule(c, insn, insnIdx) : c.fail('EINVAL', `unknown insn class ${cls}`);
    }

    if (next === PATH_END) {
      // process_bpf_exit: continue with the next pending path, or finish
      const p = pending.pop();
      if (!p) break;
      c.cur = p.state;
      prevInsnIdx = p.prevInsnIdx;
      insnIdx = p.insnIdx;
      doPrintState = true;
      continue;
    }
    insnIdx = next;
  }
  return { insnProcessed, visited };
}
