/**
 * `tsbpf run`: load a program, run it over the given data, report r0, the
 * mean time per run and (once maps exist) the maps. Until the verifier
 * lands, programs run unverified in the checked interpreter under an
 * instruction budget, so a bad program faults cleanly instead of touching
 * anything it should not.
 */

import { BpfError } from '../errors.js';
import { programType } from '../progs/types.js';
import { Runtime } from '../runtime/runtime.js';
import { Interpreter } from '../vm/interpreter.js';
import type { ProgramInput } from './input.js';
import { CliError } from './main.js';
import { style } from './style.js';

export interface RunOptions {
  repeat: number;
  budget: number;
  json: boolean;
  file: string;
  /** how to name the data in errors: '--data' or the data file */
  dataContext: string;
}

/** r0 as CLI.md wants it: a number when it fits in 2^53, else a decimal string. */
export function retvalJson(r0: bigint): number | string {
  return r0 < 2n ** 53n ? Number(r0) : r0.toString();
}

export function runCommand(prog: ProgramInput, data: Uint8Array, opts: RunOptions): number {
  const rt = new Runtime();
  const type = programType(prog.progType);
  let interp: Interpreter;
  try {
    interp = new Interpreter(rt.mem, prog.slots, { checked: true, budget: opts.budget, helpers: rt.helpers, regions: rt.regions });
  } catch (e) {
    // A program the engine refuses to load is a rejected program: exit 1.
    if (e instanceof BpfError) throw new CliError(`${opts.file}: ${e.message}`, 1, e.code);
    throw e;
  }
  let run;
  try {
    run = type.prepare(rt.mem, data);
  } catch (e) {
    if (e instanceof BpfError) throw e.withContext(opts.dataContext);
    throw e;
  }
  let r0 = 0n;
  let elapsed = 0n;
  try {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opts.repeat; i++) interp.exec(run.input);
    elapsed = process.hrtime.bigint() - t0;
    r0 = (BigInt(interp.retHi >>> 0) << 32n) | BigInt(interp.retLo >>> 0);
  } catch (e) {
    if (e instanceof BpfError) {
      if (opts.json) process.stdout.write(JSON.stringify({ retval: null, code: e.code, error: e.message }) + '\n');
      throw new CliError(`${opts.file}: ${e.message}`, 1, e.code);
    }
    throw e;
  }
  const durationNs = Number(elapsed) / opts.repeat;
  if (opts.json) {
    process.stdout.write(JSON.stringify({ retval: retvalJson(r0), duration_ns: round(durationNs), runs: opts.repeat, maps: [] }) + '\n');
    return 0;
  }
  const hex = `0x${r0.toString(16)}`;
  const signed = BigInt.asIntN(64, r0);
  const decimal = signed < 0n ? `${r0} = ${signed}` : `${r0}`;
  process.stdout.write(`${style.bold('retval')}  ${style.green(hex)} (${decimal})\n`);
  process.stdout.write(`${style.bold('runs')}    ${opts.repeat} × ${formatNs(durationNs)} (${interp.executed} insns in the last run, unverified: checked interpreter)\n`);
  return 0;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export function formatNs(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}
