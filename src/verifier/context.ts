/**
 * What a verifier rule sees: the seam between the walker (check.ts), which
 * chooses the path and the instruction, and the rules of each instruction
 * class (alu.ts, jmp.ts, mem.ts, call.ts, ld.ts), which check one
 * instruction against the state of the path and change that state.
 *
 * A rule is a function of (context, instruction, index) returning the index
 * of the next instruction on the path, or PATH_END when the path ends there
 * (exit). The context carries the current state, the environment (program
 * type, helpers, maps), the log, and the few operations every class shares:
 * fail with an errno and the kernel's message, check_reg_arg's source and
 * destination checks, and pushing the other side of a branch. A rule table
 * (RuleTable, one rule per BPF_CLASS) is a profile's set of rules; the
 * walker and the abstract state (state.ts) do not depend on it.
 *
 * It does not own the path exploration (pending branches, pruning, limits,
 * the "from X to Y" lines of the log): that is check.ts.
 */

import type { Slot } from '../isa/instruction.js';
import type { HelperProto } from '../runtime/helpers.js';
import type { Profile } from '../progs/profile.js';
import { VerifyError } from './cfg.js';
import type { VerifierLog } from './log.js';
import { formatState } from './log.js';
import type { SourceLine } from './source-lines.js';
import type { MapInfo, RegState, VerifierState } from './state.js';
import { MAX_BPF_REG, REG, initialState } from './state.js';

/** What the verifier needs to know of the program's type and system: context access, helper prototypes, maps, the log. */
export interface VerifierEnv {
  /** BPF_PROG_TYPE_SOCKET_FILTER allows LD_ABS/LD_IND */
  socketFilter: boolean;
  /** The program type's rule for a context access of `size` bytes at `off`. */
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  /** the helper prototypes the program's type and profile allow (progs/helpers.ts, funcProtoFor) */
  funcProto(id: number): HelperProto | undefined;
  /** the kernel modelled: its helper id bound (__BPF_FUNC_MAX_ID) */
  profile: Profile;
  gplCompatible: boolean;
  /** r2's value at entry when the program type gives it one (tsbpf's mem type: the buffer length), else r2 is not initialised */
  entryR2?: number;
  /** the map an ld_imm64 with src_reg 1 refers to, by the address it now holds */
  mapAt(addr: number): MapInfo | undefined;
  log: VerifierLog;
  /** the program's line records (checked, program-relative): the log shows the source line above each instruction's line */
  sourceLines?: readonly SourceLine[] | undefined;
}

/** A rule's answer when the path ends at this instruction (exit). */
export const PATH_END = -1;

/** An unknown scalar (RegStates are immutable: one object serves every register). */
const UNKNOWN: RegState = { type: REG.UNKNOWN_VALUE, value: 0 };

/**
 * The rule of one instruction class: check `insn` (at `idx`) in `c.cur`,
 * change `c.cur` as the instruction would, and return the next index on
 * this path (PATH_END when the path ends). A failed check calls c.fail,
 * which throws.
 */
export type InsnRule = (c: CheckContext, insn: Slot, idx: number) => number;

/** One rule per instruction class, indexed by BPF_CLASS(code) (0..7); a missing one refuses the class. */
export type RuleTable = readonly (InsnRule | undefined)[];

/** What a rule sees and changes: the current path's state, the instruction's index, the environment and the log; fail() rejects. */
export class CheckContext {
  /** The state of the path being walked: the walker replaces it when it switches paths. */
  cur: VerifierState;
  /** The instruction being checked: a failure names it. */
  idx = 0;
  readonly log: VerifierLog;

  constructor(
    readonly insns: readonly Slot[],
    readonly env: VerifierEnv,
    /** the walker's push_stack: queue a copy of cur to be walked from `target` later, and return it */
    private readonly branch: (target: number, prev: number) => VerifierState,
  ) {
    this.log = env.log;
    this.cur = initialState(env.entryR2);
  }

  /** Print the kernel's message and refuse the program with its errno. */
  fail(errno: VerifyError['errno'], msg: string): never {
    this.log.print(msg + '\n');
    throw new VerifyError(errno, msg, this.idx);
  }

  /** print_verifier_state, when the log is on. */
  printState(): void {
    if (this.log.enabled) this.log.print(formatState(this.cur));
  }

  /** Register r now holds an unknown scalar. */
  markUnknown(r: number): void {
    this.cur.regs[r] = UNKNOWN;
  }

  /** check_reg_arg(SRC_OP): the register exists and holds a value. */
  srcOp(r: number): void {
    if (r >= MAX_BPF_REG) this.fail('EINVAL', `R${r} is invalid`);
    if (this.cur.regs[r]!.type === REG.NOT_INIT) this.fail('EACCES', `R${r} !read_ok`);
  }

  /** check_reg_arg(DST_OP): the register exists and is writable; `mark` makes it unknown. */
  dstOp(r: number, mark = true): void {
    if (r >= MAX_BPF_REG) this.fail('EINVAL', `R${r} is invalid`);
    if (r === 10) this.fail('EACCES', 'frame pointer is read only');
    if (mark) this.markUnknown(r);
  }

  /**
   * The other side of a branch from `prev` to `target`: a copy of cur the
   * walker explores later. The caller may refine the copy (what the branch
   * teaches) before the walker gets to it.
   */
  pushBranch(target: number, prev: number): VerifierState {
    return this.branch(target, prev);
  }
}
