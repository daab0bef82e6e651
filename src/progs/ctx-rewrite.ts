/**
 * The load-time rewrite of context accesses (the kernel's
 * convert_ctx_accesses), where tsbpf's context differs from the kernel's.
 * tsbpf's context in memory is the uapi struct itself, so most accesses
 * need none: each field holds what the kernel's rewritten load would give,
 * as long as every store leaves in it what the kernel's field would hold.
 * Where a field is narrower in the kernel's structure than the u32 a
 * program writes, or the kernel filters the value, the store is replaced
 * by what the kernel's rewrite does; where the kernel's rewrite of a
 * narrow load gives another value than the bytes at its offset, the load
 * is too.
 *
 * The program type says what an access becomes
 * (ProgramType.rewriteCtxAccess); this file splices the replacements in
 * and moves every jump, call and callback offset that crosses them, as the
 * kernel's bpf_patch_insn_data does, and carries the verifier's visited
 * marks along.
 */

import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { isLdImm64 } from '../isa/instruction.js';
import { BPF_CALL, BPF_CLASS, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_OP } from '../isa/opcodes.js';

/** ld_imm64's src for a subprogram's address (a callback): imm is an offset from the next slot */
const BPF_PSEUDO_FUNC = 4;
/** call's src for a bpf-to-bpf call: imm is an offset from the next slot */
const BPF_PSEUDO_CALL = 1;

/**
 * The program with each context access in `accesses` (insn -> context
 * offset) replaced by `rewrite(off, insn)` where it gives a replacement; `visited`
 * (the verifier's) follows, each replacement's slots taking the mark of the
 * store they replace. A jump whose new offset does not fit its field is
 * ERANGE, as in the kernel.
 */
export function rewriteCtxAccesses(
  slots: readonly Slot[],
  accesses: ReadonlyMap<number, number>,
  rewrite: (off: number, insn: Slot) => Slot[] | undefined,
  visited: Uint8Array,
): { slots: Slot[]; visited: Uint8Array } {
  const repl = new Map<number, Slot[]>();
  for (const [i, off] of accesses) {
    const r = rewrite(off, slots[i]!);
    if (r !== undefined) repl.set(i, r);
  }
  if (repl.size === 0) return { slots: [...slots], visited };
  // where each old slot starts in the new program (and the end, for a jump to it)
  const at = new Int32Array(slots.length + 1);
  let n = 0;
  for (let i = 0; i < slots.length; i++) {
    at[i] = n;
    n += repl.get(i)?.length ?? 1;
  }
  at[slots.length] = n;
  const out: Slot[] = [];
  const marks = new Uint8Array(n);
  const moved = (i: number, rel: number, field: string): number => {
    const t = i + 1 + rel;
    if (t < 0 || t > slots.length) return rel; // out of the program: the verifier refused it, nothing runs it
    const v = at[t]! - at[i]! - 1;
    if (field === 'off' && (v < -0x8000 || v > 0x7fff)) {
      throw new BpfError('ERANGE', `insn ${i}: the jump to insn ${t} does not fit in 16 bits once the context accesses are rewritten`);
    }
    return v;
  };
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    const r = repl.get(i);
    if (r !== undefined) {
      for (const x of r) {
        marks[out.length] = visited[i]!;
        out.push({ ...x });
      }
      continue;
    }
    const x = { ...s };
    const cls = BPF_CLASS(s.code);
    const op = BPF_OP(s.code);
    if (isLdImm64(s)) {
      if (s.src === BPF_PSEUDO_FUNC) x.imm = moved(i, s.imm, 'imm');
      marks[out.length] = visited[i]!;
      out.push(x);
      if (i + 1 < slots.length) {
        i++;
        marks[out.length] = visited[i]!;
        out.push({ ...slots[i]! });
      }
      continue;
    }
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      if (op === BPF_CALL) {
        if (s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL) x.imm = moved(i, s.imm, 'imm');
      } else if (op !== BPF_EXIT) {
        // gotol (BPF_JMP32 | BPF_JA) keeps its offset in imm
        if (cls === BPF_JMP32 && op === BPF_JA) x.imm = moved(i, s.imm, 'imm');
        else x.off = moved(i, s.off, 'off');
      }
    }
    marks[out.length] = visited[i]!;
    out.push(x);
  }
  return { slots: out, visited: marks };
}
