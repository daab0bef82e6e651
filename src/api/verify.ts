/**
 * verifyProgram: the verifier's verdict on a program as data, without
 * keeping the program, what `tsbpf verify` prints and what a test or an
 * editor wants. It loads through Program.load (so it takes every input
 * Program.load takes) with a log, closes the program again, and turns a
 * VerifierError into a verdict; any other error (bad attributes, an input
 * that is not a program) is thrown as it is, since no verifier judged it.
 */

import { VerifierError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { BpfSystem } from './bpf.js';
import { Program } from './program.js';
import type { ProgramSpec } from './program.js';

/** The verifier's verdict on a program. */
export type Verdict =
  | { ok: true; log: string }
  /** `insn`: the slot at fault, when the rejection names one */
  | { ok: false; code: ErrnoCode; message: string; log: string; insn: number | undefined; truncated: boolean };

/**
 * Verify a program as BPF_PROG_LOAD would, at `logLevel` 1 unless the spec
 * says otherwise (2 adds the states at branches). `sys` holds the maps the
 * program's ld_imm64 name by fd; a fresh system when none is given.
 */
export function verifyProgram(spec: ProgramSpec, sys: BpfSystem = new BpfSystem()): Verdict {
  try {
    const prog = Program.load(sys, { ...spec, logLevel: spec.logLevel || 1, verify: true });
    prog.close();
    return { ok: true, log: prog.log };
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    return { ok: false, code: e.code, message: e.message, log: e.log, insn: e.insn, truncated: e.truncated };
  }
}
