/**
 * bpf_check of the modern profile: the checks before the walk (cfg.ts),
 * the walk (walker.ts), the combined stack size of the call chains, and the
 * statistics line every modern log ends with. The verdict has the shape of
 * the 3.19 verifier's (VerifyResult), so that BPF_PROG_LOAD, the dead-code
 * sanitiser and the soundness fuzzer use either profile the same way.
 */

import type { Slot } from '../../isa/instruction.js';
import { BPF_CALL, BPF_JMP } from '../../isa/opcodes.js';
import { VerifyError } from '../cfg.js';
import type { VerifyResult } from '../index.js';
import { modernCfg } from './cfg.js';
import { liveRegsTable } from './live-regs.js';
import type { ModernEnv } from './walker.js';
import { ModernLog, ModernWalker } from './walker.js';
import { funcInfoEarly, funcInfoLayout } from './func-info.js';

export type { ModernEnv, CtxAccessKind } from './walker.js';
export type { FuncInfoEntry, GlobalArg, GlobalFuncProto, BtfView, BtfTypeView } from './func-info.js';
export { ctxStructsOf, globalFuncArgs } from './func-info.js';
export { MODERN_INSN_LIMIT } from './walker.js';
export { knownOpcode } from './cfg.js';

const MAX_BPF_STACK = 512;
const MAX_CALL_FRAMES = 8;

/**
 * check_max_stack_depth: along every chain of calls from the main program,
 * the stack the frames use together (each rounded up to 16 bytes, as with
 * the kernel's JIT) stays within 512 bytes, and the chain within 8 frames.
 * The chains are read from the instructions, walked or not: a global
 * function is verified from frame 0 whatever calls it, and a recursion the
 * walk never reached still has no end, so only this check bounds them.
 */
function checkStackDepth(insns: readonly Slot[], subprogs: readonly number[], depths: readonly number[], calls: boolean, fail: (errno: 'EACCES' | 'E2BIG', msg: string) => never): void {
  // without calls the only chain is the main program: no walk over the instructions for them
  if (!calls) {
    const total = Math.ceil((depths[0] ?? 0) / 16) * 16;
    if (total > MAX_BPF_STACK) fail('EACCES', `combined stack size of 1 calls is ${total}. Too large`);
    return;
  }
  const sub = (i: number): number => {
    let k = 0;
    while (k + 1 < subprogs.length && subprogs[k + 1]! <= i) k++;
    return k;
  };
  const round = (d: number): number => Math.ceil(d / 16) * 16;
  const visit = (k: number, frames: number, total: number): void => {
    total += round(depths[k] ?? 0);
    if (total > MAX_BPF_STACK) fail('EACCES', `combined stack size of ${frames} calls is ${total}. Too large`);
    const end = k + 1 < subprogs.length ? subprogs[k + 1]! : insns.length;
    for (let i = subprogs[k]!; i < end; i++) {
      const s = insns[i]!;
      if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== 1) continue;
      // the callee would be frame number `frames` (the main program's is 0)
      if (frames >= MAX_CALL_FRAMES) fail('E2BIG', `the call stack of ${frames} frames is too deep !`);
      visit(sub(i + s.imm + 1), frames + 1, total);
    }
  };
  visit(0, 1, 0);
}

/**
 * do_check_subprogs: each global function some verified path calls, in
 * subprogram order, verified on its own; those calls may reach more global
 * functions, so the pass repeats until one verifies nothing new.
 */
function checkGlobals(walker: ModernWalker, info: NonNullable<ModernEnv['funcInfo']>, log: ModernLog): ReturnType<ModernWalker['run']> | undefined {
  const verified = new Uint8Array(walker.subprogs.length);
  let last: ReturnType<ModernWalker['run']> | undefined;
  for (;;) {
    let fresh = 0;
    for (let sp = 1; sp < walker.subprogs.length; sp++) {
      if (!walker.isGlobal(sp) || !walker.called[sp] || verified[sp]) continue;
      last = walker.verifyGlobal(sp);
      if (log.level) log.print(`Func#${sp} ('${info[sp]!.name}') is safe for any args that match its prototype\n`);
      verified[sp] = 1;
      fresh++;
    }
    if (fresh === 0) break;
  }
  return last;
}

/**
 * The log level's bits as the kernel reads them: 1 the path's log, 2 every
 * state and the precision walk (it includes 1), 4 the statistics (time and
 * stack depth) before the processed line. Any nonzero level gets that line.
 */
function verbosity(level: number): number {
  return level & 2 ? 2 : level & 1;
}

/** The modern verifier: verdict, processed instructions and visited instructions, as verify() gives them. */
export function verifyModern(insns: readonly Slot[], env: ModernEnv): VerifyResult {
  const t0 = env.startTime ?? performance.now();
  const log = new ModernLog(verbosity(env.log.level), env.log.size, env.log.level !== 0);
  let walker: ModernWalker | undefined;
  let subprogs: number[] = [0];
  const finish = (): void => {
    env.log.print(log.text);
    if (env.log.level & 4) {
      const depths = walker?.depths() ?? [];
      env.log.print(`verification time ${Math.round((performance.now() - t0) * 1000)} usec\n`);
      env.log.print(`stack depth ${subprogs.map((_, k) => Math.ceil((depths[k] ?? 0) / 8) * 8).join('+')}\n`);
    }
    env.log.print(walker?.statsLine() ?? 'processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n');
  };
  try {
    const info = env.funcInfo;
    if (info) {
      // check_btf_func_early (its messages have no newline)
      const early = funcInfoEarly(info);
      if (early !== undefined) {
        log.print(early);
        throw new VerifyError('EINVAL', early);
      }
    }
    const cfg = modernCfg(insns, (s) => log.print(s), log.level, info && ((sp) => funcInfoLayout(info, sp)));
    subprogs = cfg.subprogs;
    if (log.level >= 2) log.print(liveRegsTable(insns, (id) => (id >= 0 && id < env.profile.maxHelperId ? env.funcProto(id) : undefined)));
    walker = new ModernWalker(insns, env, cfg.prune, cfg.subprogs, log);
    let r = walker.run();
    if (info) r = checkGlobals(walker, info, log) ?? r;
    checkStackDepth(insns, cfg.subprogs, walker.depths(), cfg.calls, (errno, msg) => {
      log.print(msg + '\n');
      throw new VerifyError(errno, msg);
    });
    finish();
    return { ok: true, insnProcessed: r.insnProcessed, visited: r.visited, ctxAccesses: r.ctxAccesses };
  } catch (e) {
    if (e instanceof VerifyError) {
      finish();
      return e.insn === undefined ? { ok: false, errno: e.errno, message: e.message } : { ok: false, errno: e.errno, message: e.message, insn: e.insn };
    }
    throw e;
  }
}
