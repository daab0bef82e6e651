/**
 * The debug information of an object compiled with -g in `tsbpf disasm`:
 * each function's C declaration as a header above its first instruction
 * (`int sum(struct xdp_md * ctx):`), and each line record above the
 * instruction it starts at (`; <line> @ <file>:<n>`), placed as `bpftool
 * prog dump xlated linum` places them (every record, so a line split over
 * columns shows at each of its parts), written as the verifier's log writes
 * a source line (leading whitespace dropped, the file's last component).
 * The JSON form carries the same per instruction, with bpftool's keys.
 */

import type { ProgramInput } from './input.js';

const ltrim = (s: string): string => s.replace(/^[ \t\n\v\f\r]+/, '');
const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** The listing `text` (lines `PC: ...`) with the function headers and source lines of `prog` inserted. */
export function withSource(text: string, prog: ProgramInput): string {
  if (!prog.lineInfo && !prog.funcInfo) return text;
  const funcs = new Map((prog.funcInfo ?? []).map((f) => [f.insn, f]));
  const lines = new Map((prog.lineInfo ?? []).map((l) => [l.insn, l]));
  return text.replace(/^(\d+): .*$/gm, (line, pc: string) => {
    const f = funcs.get(Number(pc));
    const l = lines.get(Number(pc));
    return `${f ? `${f.decl}:\n` : ''}${l ? `; ${ltrim(l.line)} @ ${baseName(l.file)}:${l.lineNum}\n` : ''}${line}`;
  });
}

/** An instruction's JSON fields of debug information: its function where one starts (`func`, `proto`), its line record (`src`, `file`, `line_num`, `line_col`). */
export function sourceJson(prog: ProgramInput): (pc: number) => { func?: string; proto?: string; src?: string; file?: string; line_num?: number; line_col?: number } {
  const funcs = new Map((prog.funcInfo ?? []).map((f) => [f.insn, f]));
  const lines = new Map((prog.lineInfo ?? []).map((l) => [l.insn, l]));
  return (pc) => {
    const f = funcs.get(pc);
    const l = lines.get(pc);
    return {
      ...(f ? { func: f.name, proto: f.decl } : {}),
      ...(l ? { src: ltrim(l.line), file: l.file, line_num: l.lineNum, line_col: l.col } : {}),
    };
  };
}
