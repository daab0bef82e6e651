/**
 * The modern kernel's checks before the walk: every opcode one the kernel
 * knows (`unknown opcode NN`), the subprograms (BPF_PSEUDO_CALL targets and
 * BPF_PSEUDO_FUNC callbacks: `func#N @I` in the log), jumps that stay inside
 * their subprogram, each subprogram ending in an exit or a jump, and the
 * depth-first walk of check_cfg that finds unreachable instructions and
 * marks the prune points. Back-edges are allowed (bounded loops); whether a
 * loop ends is the walker's question.
 */

import type { Slot } from '../../isa/instruction.js';
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_CLASS, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_OP,
} from '../../isa/opcodes.js';
import { VerifyError } from '../cfg.js';

/** Whether the 6.18 kernel knows the opcode (bpf_opcode_in_insntable). */
export function knownOpcode(code: number): boolean {
  return (code & 0xff) === code && KNOWN[code] === 1;
}

/** knownOpcode of each byte, once (the check runs over every instruction of every load). */
const KNOWN = Uint8Array.from({ length: 256 }, (_, code) => (opcodeKnown(code) ? 1 : 0));

function opcodeKnown(code: number): boolean {
  const cls = code & 7;
  const op = code & 0xf0;
  const x = code & 8;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      if (op === 0x80) return !x; // neg
      if (op === 0xd0) return cls === BPF_ALU || !x; // le/be; bswap
      return op <= 0xc0;
    case BPF_JMP:
      if (op === 0x00) return !x;
      if (op === 0x80) return !x; // call
      if (op === 0x90) return !x; // exit
      return op <= 0xd0;
    case BPF_JMP32:
      if (op === 0x00) return !x;
      if (op === 0x80 || op === 0x90) return false;
      return op <= 0xd0;
    case 0: // LD
      return code === 0x18 || code === 0x20 || code === 0x28 || code === 0x30 || code === 0x40 || code === 0x48 || code === 0x50;
    case 1: // LDX
      return [0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91].includes(code);
    case 2: // ST
      return [0x62, 0x6a, 0x72, 0x7a].includes(code);
    case 3: // STX
      return [0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0xcb, 0xd3].includes(code);
  }
  return false;
}

export interface ModernCfg {
  /** the first instruction of each subprogram, ascending */
  subprogs: number[];
  /** 1 where the walker looks for an equivalent explored state */
  prune: Uint8Array;
  /** whether any instruction is a bpf-to-bpf call or loads a callback's address (else subprogs is [0]) */
  calls: boolean;
}

const isLdImm64 = (s: Slot | undefined): boolean => s !== undefined && s.code === 0x18;

/**
 * check_subprogs and check_cfg; `print` writes the log. Throws VerifyError
 * with the kernel's message.
 */
export function modernCfg(
  insns: readonly Slot[],
  print: (s: string) => void,
  level: number,
  /** check_btf_func, between check_subprogs and the walk: the func info's message when it does not fit the subprograms */
  funcLayout?: (subprogs: readonly number[]) => string | undefined,
): ModernCfg {
  const n = insns.length;
  const fail = (errno: VerifyError['errno'], msg: string, insn?: number): never => {
    print(msg + '\n');
    throw new VerifyError(errno, msg, insn);
  };
  // One pass for the opcodes, the ld_imm64 second halves (a jump there lands in the
  // middle of one) and whether any instruction starts a subprogram: five passes over
  // the instructions were a tenth of the verification of straight-line code.
  const half = new Uint8Array(n);
  let calls = false;
  for (let i = 0; i < n; i++) {
    const s = insns[i]!;
    if (!knownOpcode(s.code)) fail('EINVAL', `unknown opcode ${s.code.toString(16).padStart(2, '0')}`, i);
    if (s.code === 0x18) {
      if (s.src === 4) calls = true;
      if (i + 1 < n) half[i + 1] = 1;
      i++;
    } else if (s.code === (BPF_JMP | BPF_CALL) && s.src === 1) {
      calls = true;
    }
  }
  let subprogs = [0];
  if (calls) {
    const starts = new Set<number>([0]);
    for (let i = 0; i < n; i++) {
      const s = insns[i]!;
      const callTarget = (s.code === (BPF_JMP | BPF_CALL) && s.src === 1) || (isLdImm64(s) && s.src === 4);
      if (callTarget) {
        const t = i + s.imm + 1;
        if (t < 0 || t >= n) fail('EINVAL', 'call to invalid destination', i);
        starts.add(t);
      }
      if (isLdImm64(s)) i++;
    }
    subprogs = [...starts].sort((a, b) => a - b);
  }
  if (level >= 2) subprogs.forEach((s, k) => print(`func#${k} @${s}\n`));
  // jumps stay inside their subprogram, which ends in an exit or a jump
  for (let k = 0; k < subprogs.length; k++) {
    const start = subprogs[k]!;
    const end = k + 1 < subprogs.length ? subprogs[k + 1]! : n;
    for (let i = start; i < end; i++) {
      const code = insns[i]!.code;
      const cls = code & 7;
      if (cls === BPF_JMP || cls === BPF_JMP32) {
        const s = insns[i]!;
        const op = code & 0xf0;
        if (op !== BPF_CALL && op !== BPF_EXIT) {
          const off = cls === BPF_JMP32 && op === BPF_JA ? s.imm : s.off;
          const t = i + off + 1;
          if (t < start || t >= end) fail('EINVAL', `jump out of range from insn ${i} to ${t}`, i);
        }
      } else if (code === 0x18) {
        i++;
      }
    }
    const last = insns[end - 1]!;
    const lc = BPF_CLASS(last.code);
    const okLast = (lc === BPF_JMP && (BPF_OP(last.code) === BPF_EXIT || BPF_OP(last.code) === BPF_JA)) || (lc === BPF_JMP32 && BPF_OP(last.code) === BPF_JA);
    if (!okLast) fail('EINVAL', 'last insn is not an exit or jmp', end - 1);
  }
  const layout = funcLayout?.(subprogs);
  if (layout !== undefined) fail('EINVAL', layout);
  // depth-first walk from insn 0: reachability, ld_imm64 halves, prune points
  const prune = new Uint8Array(n);
  const seen = new Uint8Array(n);
  const todo = [0];
  seen[0] = 1;
  const edge = (from: number, to: number, branch: boolean): void => {
    if (to < 0 || to >= n) fail('EINVAL', `jump out of range from insn ${from} to ${to}`, from);
    if (branch) prune[to] = 1;
    if (!seen[to]) {
      seen[to] = 1;
      todo.push(to);
    }
  };
  while (todo.length) {
    let t = todo.pop()!;
    // a run of instructions that only fall through is followed here, not pushed and popped
    for (;;) {
      if (half[t]) fail('EINVAL', `jump into the middle of ldimm64 insn ${t - 1}`, t);
      const s = insns[t]!;
      const cls = s.code & 7;
      if (cls !== BPF_JMP && cls !== BPF_JMP32 && s.code !== 0x18) {
        const to = t + 1;
        if (to >= n) fail('EINVAL', `jump out of range from insn ${t} to ${to}`, t);
        if (seen[to]) break;
        seen[to] = 1;
        t = to;
        continue;
      }
      if (s.code === 0x18) {
        if (s.src === 4) edge(t, t + s.imm + 1, true);
        edge(t, t + 2, false);
        break;
      }
      const op = s.code & 0xf0;
      if (op === BPF_EXIT) break;
      if (op === BPF_CALL) {
        edge(t, t + 1, false);
        prune[t + 1 < n ? t + 1 : t] = 1;
        if (s.src === 1) {
          prune[t] = 1;
          edge(t, t + s.imm + 1, true);
        }
        break;
      }
      if (op === BPF_JA) {
        edge(t, t + (cls === BPF_JMP32 ? s.imm : s.off) + 1, true);
        break;
      }
      prune[t] = 1;
      edge(t, t + 1, false);
      edge(t, t + s.off + 1, true);
      break;
    }
  }
  for (let i = 0; i < n; i++) {
    if (half[i]) continue;
    if (!seen[i]) fail('EINVAL', `unreachable insn ${i}`, i);
  }
  return { subprogs, prune, calls };
}
