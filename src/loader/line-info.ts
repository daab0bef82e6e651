/**
 * An object's source lines and function names per program: the `.BTF.ext`
 * records of its code sections (read by btf/), given to each program
 * relative to its own first instruction. A program is described as runs of
 * instructions, each (section, first instruction in the section, count,
 * first instruction in the program): one run for a function of a section,
 * more once sub-programs are appended after it; the records inside each run
 * are moved to where the run landed, as libbpf does when it relocates calls.
 * A run that starts between two line records gets the one in effect there,
 * so each run's first instruction has its line; a run before any record
 * leaves the program without lines (BPF_PROG_LOAD would refuse them).
 *
 * An object without `.BTF.ext` has no lines (clang without -g); a `.BTF` or
 * `.BTF.ext` that cannot be read is an error like any other bad section.
 */

import { Btf, parseBtfExt } from '../btf/index.js';
import type { BtfExt, FuncInfo, LineInfo } from '../btf/index.js';
import type { ElfFile } from '../elf/index.js';
import type { SourceLine } from '../verifier/source-lines.js';
import { globalFuncArgs } from '../verifier/modern/func-info.js';
import type { GlobalArg } from '../verifier/modern/func-info.js';

/** Where a run of a program's instructions came from. */
export interface InsnRun {
  section: string;
  /** the run's first instruction, as an index into the section */
  sectionInsn: number;
  count: number;
  /** where the run starts in the program */
  progInsn: number;
}

/** A function of a program (func_info): where it starts in the program, its name and its C declaration. */
export interface FuncSpan {
  insn: number;
  name: string;
  /** `int sum(struct xdp_md * ctx)`, as bpftool heads a function in a listing */
  decl: string;
  /**
   * the function's linkage and, for a global one, its arguments' kinds from
   * its BTF prototype (globalFuncArgs): BPF_PROG_LOAD's func_info, with which
   * the modern verifier checks a global function on its own
   */
  linkage?: 'static' | 'global';
  args?: GlobalArg[];
  returnsScalar?: boolean;
}

/** A program's debug information: its line records and functions, program-relative, ascending. */
export interface ProgramDebugInfo {
  lineInfo: SourceLine[];
  funcInfo: FuncSpan[];
}

/** The last record at or before `insn` in records sorted by insn, by binary search; -1 when none. */
function lastAtOrBefore(records: readonly { insn: number }[], insn: number): number {
  let lo = 0;
  let hi = records.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (records[mid]!.insn <= insn) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const toLine = (l: LineInfo, insn: number): SourceLine => ({ insn, file: l.file, line: l.line, lineNum: l.lineNum, col: l.col });

/** An object's `.BTF.ext` records, ready to hand out per program. */
export class ObjectDebugInfo {
  constructor(private readonly ext: BtfExt | undefined, private readonly btf?: Btf) {}

  /** The object's, from its `.BTF` (`btf` when already read) and `.BTF.ext` sections (none without `.BTF.ext`). */
  static of(elf: ElfFile, read?: Btf): ObjectDebugInfo {
    const extSec = elf.sectionByName('.BTF.ext');
    if (!extSec) return new ObjectDebugInfo(undefined);
    const btfSec = elf.sectionByName('.BTF');
    if (!btfSec) return new ObjectDebugInfo(undefined);
    const btf = read ?? new Btf(btfSec.data());
    return new ObjectDebugInfo(parseBtfExt(extSec.data(), btf), btf);
  }

  /** The lines and functions of a program made of these runs; undefined when the object has no line records for any of them. */
  program(runs: readonly InsnRun[], ctxStructs: readonly string[] = []): ProgramDebugInfo | undefined {
    if (this.ext === undefined) return undefined;
    let lineInfo: SourceLine[] = [];
    const funcInfo: FuncSpan[] = [];
    // a run with no record in effect at its start (hand-written code, a stripped
    // section) leaves the program without lines, as libbpf goes on without them:
    // BPF_PROG_LOAD wants one at the start of the program and of each function
    let uncovered = false;
    for (const run of runs) {
      const end = run.sectionInsn + run.count;
      const move = (insn: number): number => run.progInsn + insn - run.sectionInsn;
      const lines = this.ext.lineInfo.get(run.section) ?? [];
      let i = lastAtOrBefore(lines, run.sectionInsn);
      if (i >= 0) {
        lineInfo.push(toLine(lines[i]!, run.progInsn));
        i++;
      } else {
        uncovered = true;
        i = 0;
      }
      for (; i < lines.length && lines[i]!.insn < end; i++) {
        if (lines[i]!.insn > run.sectionInsn) lineInfo.push(toLine(lines[i]!, move(lines[i]!.insn)));
      }
      const funcs: readonly FuncInfo[] = this.ext.funcInfo.get(run.section) ?? [];
      for (let f = Math.max(0, lastAtOrBefore(funcs, run.sectionInsn)); f < funcs.length && funcs[f]!.insn < end; f++) {
        const fn = funcs[f]!;
        if (fn.insn < run.sectionInsn) continue;
        const proto = this.btf ? globalFuncArgs(this.btf, fn.typeId, ctxStructs) : undefined;
        funcInfo.push({ insn: move(fn.insn), name: fn.name, decl: this.btf ? this.btf.funcDecl(fn.typeId) : `${fn.name}()`, ...(proto ? { ...proto, name: fn.name } : {}) });
      }
    }
    if (uncovered) lineInfo = [];
    if (lineInfo.length === 0 && funcInfo.length === 0) return undefined;
    lineInfo.sort((a, b) => a.insn - b.insn);
    funcInfo.sort((a, b) => a.insn - b.insn);
    return { lineInfo, funcInfo };
  }
}
