/**
 * Source lines in the verifier's log, as the modern kernel prints them
 * (kernel/bpf/log.c's verbose_linfo): before an instruction's line, the C
 * line its line record gives, `; <text> @ <file>:<line>`, with the text's
 * leading whitespace dropped and the file's directories dropped. The record
 * of an instruction is the last one at or before it; a line is printed only
 * when it differs (by file and line number: records of one line with other
 * columns print nothing) from the last one printed. That memory is never
 * reset: a path taken up again after a branch prints its line only if it
 * differs from the last line printed, even when a level-1 log has since been
 * rewound past it (measured on the host's 6.18).
 *
 * The records come with the program (BPF_PROG_LOAD's `line_info`, from an
 * object's .BTF.ext); this file knows nothing of BTF. Both verifiers use it:
 * the modern one whenever a program has line records, 3.19's only when asked
 * (its log stays byte-identical by default).
 */

import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { isLdImm64 } from '../isa/instruction.js';
import { BPF_CALL, BPF_JMP } from '../isa/opcodes.js';

/** One line record of a program: the source of its instructions from `insn` on. */
export interface SourceLine {
  /** the program's instruction (slot) index, relative to the program's first */
  insn: number;
  /** the source file as the compiler recorded it (the log shows its last path component) */
  file: string;
  /** the line's text (the log drops its leading whitespace) */
  line: string;
  /** the line number (0 for code the compiler made up) */
  lineNum: number;
  /** the column, 0 when unknown (not shown in the log) */
  col: number;
}

/**
 * Check records as BPF_PROG_LOAD takes them (the kernel's check_btf_line):
 * the first at instruction 0, in strictly increasing order, each inside the
 * program and at an instruction (never the second slot of an ld_imm64), and
 * one at the start of every function a BPF_PSEUDO_CALL enters; EINVAL with
 * the record's index otherwise.
 */
export function checkSourceLines(lines: readonly SourceLine[], slots: readonly Slot[]): void {
  if (!Array.isArray(lines)) throw new BpfError('EINVAL', 'line_info must be an array of { insn, file, line, lineNum, col }');
  const insnCount = slots.length;
  // the second slots of ld_imm64s, and the first instructions of the functions called
  const inside = new Uint8Array(insnCount);
  const funcs = new Set<number>();
  for (let i = 0; i < insnCount; i++) {
    const s = slots[i]!;
    if (isLdImm64(s)) inside[++i] = 1;
    else if (s.code === (BPF_JMP | BPF_CALL) && s.src === 1) funcs.add(i + s.imm + 1);
  }
  lines.forEach((l, i) => {
    const bad = (why: string): never => {
      throw new BpfError('EINVAL', `line_info[${i}]: ${why}`);
    };
    if (typeof l !== 'object' || l === null) bad('not an object { insn, file, line, lineNum, col }');
    if (!Number.isSafeInteger(l.insn) || l.insn < 0 || l.insn >= insnCount) bad(`insn ${String(l.insn)} is not an instruction of the program (${insnCount})`);
    if (i === 0 && l.insn !== 0) bad(`the first record is at insn ${l.insn}, not 0`);
    if (i > 0 && l.insn <= lines[i - 1]!.insn) bad(`insn ${l.insn} does not follow insn ${lines[i - 1]!.insn}`);
    if (typeof l.file !== 'string' || typeof l.line !== 'string') bad('file and line must be strings');
    if (!Number.isSafeInteger(l.lineNum) || l.lineNum < 0) bad(`line number ${String(l.lineNum)} is not a natural number`);
    if (inside[l.insn]) bad(`insn ${l.insn} is the second slot of an ld_imm64`);
    funcs.delete(l.insn);
  });
  for (const f of [...funcs].sort((a, b) => a - b)) {
    if (f > 0 && f < insnCount) throw new BpfError('EINVAL', `line_info: no record at insn ${f}, where a called function starts`);
  }
}

/** The basename the kernel prints: after the last '/'. */
function fileName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

/** The source-line text of a log (one per verification): call `at` before each instruction's line. */
export class SourceLinePrinter {
  private prev: SourceLine | undefined;
  /** the record found last, so that a straight walk costs no search */
  private hint = 0;

  constructor(private readonly lines: readonly SourceLine[]) {}

  /** The record of an instruction: the last at or before it (find_linfo). */
  find(idx: number): SourceLine | undefined {
    const ls = this.lines;
    const h = this.hint;
    if (h < ls.length && ls[h]!.insn <= idx && (h + 1 >= ls.length || ls[h + 1]!.insn > idx)) return ls[h];
    let lo = 0;
    let hi = ls.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ls[mid]!.insn <= idx) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    this.hint = found;
    return ls[found];
  }

  /** `; <text> @ <file>:<line>\n` when instruction `idx`'s line is not the last one printed, else ''. */
  at(idx: number): string {
    const l = this.find(idx);
    if (l === undefined || l === this.prev) return '';
    const prev = this.prev;
    this.prev = l;
    if (prev !== undefined && prev.file === l.file && prev.lineNum === l.lineNum) return '';
    return `; ${l.line.replace(/^[ \t\n\v\f\r]+/, '')} @ ${fileName(l.file)}:${l.lineNum}\n`;
  }
}
