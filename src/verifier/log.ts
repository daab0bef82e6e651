/**
 * The verifier log: 3.19's verbose() into a buffer of log_size bytes,
 * silently truncated at log_size - 1, and print_verifier_state's text.
 */

import type { VerifierState } from './state.js';
import { BPF_REG_SIZE, MAX_BPF_REG, MAX_BPF_STACK, REG, REG_TYPE_STR, STACK } from './state.js';

/** The verifier's log: level, size limit, and what was printed (3.19's verbose()). */
export class VerifierLog {
  private readonly parts: string[] = [];
  private length = 0;
  constructor(readonly level: number, readonly size: number) {}

  get enabled(): boolean {
    return this.level !== 0;
  }

  /** Append to the log, cut at its size (the kernel's verbose()). */
  print(s: string): void {
    if (this.level === 0 || this.length >= this.size - 1) return;
    const room = this.size - 1 - this.length;
    const part = s.length > room ? s.slice(0, room) : s;
    this.parts.push(part);
    this.length += part.length;
  }

  /** The log filled up: BPF_PROG_LOAD fails with ENOSPC whatever the verdict. */
  get full(): boolean {
    return this.level !== 0 && this.length >= this.size - 1;
  }

  /** The log so far. */
  toString(): string {
    const text = this.parts.join('');
    this.parts.length = 0;
    this.parts.push(text);
    return text;
  }
}

/** print_verifier_state: ` R0=imm0 R10=fp fp-8=ctx` and a newline. */
export function formatState(s: VerifierState): string {
  let out = '';
  for (let i = 0; i < MAX_BPF_REG; i++) {
    const r = s.regs[i]!;
    if (r.type === REG.NOT_INIT) continue;
    out += ` R${i}=${REG_TYPE_STR[r.type]}`;
    if (r.type === REG.CONST_IMM || r.type === REG.PTR_TO_STACK) out += `${r.value}`;
    else if (r.type === REG.CONST_PTR_TO_MAP || r.type === REG.PTR_TO_MAP_VALUE || r.type === REG.PTR_TO_MAP_VALUE_OR_NULL) {
      out += `(ks=${r.map!.keySize},vs=${r.map!.valueSize})`;
    }
  }
  // from the deepest slot up, as 3.19 walks its stack array
  for (let j = s.stack.length - 1; j >= 0; j--) {
    if ((s.stack[j]! & 3) === STACK.SPILL) out += ` fp${-BPF_REG_SIZE * (j + 1)}=${REG_TYPE_STR[s.spilled[j]!.type]}`;
  }
  return out + '\n';
}
