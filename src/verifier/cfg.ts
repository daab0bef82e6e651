/**
 * check_cfg: 3.19's first pass, a non-recursive depth-first search over the
 * control-flow graph that rejects jumps out of range, back-edges (loops) and
 * unreachable instructions, and marks the pruning points (branch targets,
 * the instruction after a goto) for the second pass.
 */

import type { Slot } from '../isa/instruction.js';
import { BPF_CALL, BPF_CLASS, BPF_EXIT, BPF_JA, BPF_JMP, BPF_K, BPF_OP, BPF_SRC, BPF_JMP32 } from '../isa/opcodes.js';

/** A verifier rejection inside the verifier: errno and message (prog-load turns it into a VerifierError). */
export class VerifyError extends Error {
  constructor(
    readonly errno: 'EINVAL' | 'EACCES' | 'E2BIG' | 'EFAULT' | 'ENOMEM',
    message: string,
    /** the instruction being checked, when the error is about one */
    readonly insn?: number,
  ) {
    super(message);
  }
}

const DISCOVERED = 0x10;
const EXPLORED = 0x20;
const FALLTHROUGH = 1;
const BRANCH = 2;

/**
 * Returns the pruning points. `print` receives messages; a VerifyError
 * carries the errno (its message is already printed; '' for the silent
 * rejections).
 */
export function checkCfg(insns: readonly Slot[], print: (s: string) => void): Uint8Array {
  const n = insns.length;
  const insnState = new Uint8Array(n);
  const stack = new Int32Array(n);
  const pruning = new Uint8Array(n);
  let cur = 0;
  const fail = (errno: VerifyError['errno'], msg: string): never => {
    if (msg) print(msg);
    throw new VerifyError(errno, msg.trimEnd());
  };

  /** push_insn: 1 when w was pushed (a tree edge), 0 otherwise. */
  const push = (t: number, w: number, e: number): number => {
    if (e === FALLTHROUGH && insnState[t]! >= (DISCOVERED | FALLTHROUGH)) return 0;
    if (e === BRANCH && insnState[t]! >= (DISCOVERED | BRANCH)) return 0;
    if (w < 0 || w >= n) fail('EINVAL', `jump out of range from insn ${t} to ${w}\n`);
    if (e === BRANCH) pruning[w] = 1;
    if (insnState[w] === 0) {
      insnState[t] = DISCOVERED | e;
      insnState[w] = DISCOVERED;
      if (cur >= n) fail('E2BIG', '');
      stack[cur++] = w;
      return 1;
    }
    if ((insnState[w]! & 0xf0) === DISCOVERED) fail('EINVAL', `back-edge from insn ${t} to ${w}\n`);
    if (insnState[w] === EXPLORED) {
      insnState[t] = DISCOVERED | e;
      return 0;
    }
    return fail('EFAULT', 'insn state internal bug\n');
  };

  insnState[0] = DISCOVERED;
  stack[0] = 0;
  cur = 1;
  while (cur > 0) {
    const t = stack[cur - 1]!;
    const insn = insns[t]!;
    const cls = BPF_CLASS(insn.code);
    let pushed = 0;
    if (cls === BPF_JMP || (cls === BPF_JMP32 && BPF_OP(insn.code) !== BPF_CALL && BPF_OP(insn.code) !== BPF_EXIT)) {
      const op = BPF_OP(insn.code);
      if (cls === BPF_JMP && op === BPF_EXIT) {
        pushed = 0;
      } else if (cls === BPF_JMP && op === BPF_CALL) {
        pushed = push(t, t + 1, FALLTHROUGH);
      } else if (op === BPF_JA) {
        if (cls === BPF_JMP && BPF_SRC(insn.code) !== BPF_K) fail('EINVAL', '');
        // gotol (JMP32 | JA) keeps its offset in imm
        const target = cls === BPF_JMP32 ? t + insn.imm + 1 : t + insn.off + 1;
        pushed = push(t, target, FALLTHROUGH);
        if (pushed === 0 && t + 1 < n) pruning[t + 1] = 1;
      } else {
        pushed = push(t, t + 1, FALLTHROUGH);
        if (pushed === 0) pushed = push(t, t + insn.off + 1, BRANCH);
      }
    } else {
      pushed = push(t, t + 1, FALLTHROUGH);
    }
    if (pushed === 1) continue;
    insnState[t] = EXPLORED;
    cur--;
  }
  for (let i = 0; i < n; i++) {
    if (insnState[i] !== EXPLORED) fail('EINVAL', `unreachable insn ${i}\n`);
  }
  return pruning;
}
