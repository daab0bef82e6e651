/**
 * `tsbpf run`: create the program's maps, load it through BPF_PROG_LOAD
 * (map fixups applied), run it over the given data through the API, and
 * report r0, the mean time per run and the maps. Programs are verified; with
 * --unverified they skip the verifier and run in the checked interpreter, so
 * a bad program faults cleanly instead of touching anything it should not.
 */

import { BpfError } from '../errors.js';
import { BpfSystem, testRun } from '../api/bpf.js';
import type { EngineName } from '../api/bpf.js';
import { BpfMap } from '../api/map.js';
import { Program } from '../api/program.js';
import { MemProgram, runMemObject } from '../api/mem-program.js';
import { PacketRunner } from '../api/packets.js';
import type { TestRunResult } from '../api/bpf.js';
import type { ProgTypeName } from '../progs/types.js';
import type { MapTypeName } from '../maps/types.js';
import { encodeSlots } from '../isa/instruction.js';
import { linkMapRefs } from '../loader/collection.js';
import type { ProgramInput } from './input.js';
import { CliError } from './cli-error.js';
import type { CliIo, CliOutput } from './io.js';
import { style } from './style.js';
import { fprintHex, mapDumpJson, mapDumpText } from './map-view.js';
import type { MapDumpJson } from './map-view.js';

export interface RunOptions {
  repeat: number;
  /** the engine to run: the JIT where available, unless 'interpreter' */
  engine?: EngineName;
  budget: number;
  /** load without the verifier, run in the checked interpreter */
  unverified: boolean;
  json: boolean;
  file: string;
  /** how to name the data in errors: '--data' or the data file */
  dataContext: string;
  /** the data is a mem program's buffer (--mem, --mem-file, or a spec of prog_type mem) */
  mem?: boolean;
  /** --link: where a socket filter's packet has its network header (SKF_NET_OFF) */
  link?: 'ethernet' | 'raw';
}

/** r0 as docs/cli.md has it: a number when it fits in 2^53, else a decimal string. */
export function retvalJson(r0: bigint): number | string {
  return r0 < 2n ** 53n ? Number(r0) : r0.toString();
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface LoadedInput {
  sys: BpfSystem;
  progFd: number;
  maps: BpfMap[];
  log: string;
}

export interface LoadInputOptions {
  budget?: number;
  verify?: boolean;
  logLevel?: number;
  /** on a rejection: print the verify JSON object on stdout */
  json?: boolean;
  /** load as tsbpf's mem type for a buffer of this many bytes (--mem), whatever type the input names */
  memSize?: number;
}

/** The log size the CLI asks for: 3.19's maximum would be 16 MiB. */
const CLI_LOG_SIZE = 1 << 22;

/**
 * Create the maps of a program input, apply its fixups and load it (verified
 * unless asked otherwise). A rejection prints the log (or the verify JSON)
 * and exits 1.
 */
export function loadInput(prog: ProgramInput, file: string, io: CliIo, opts: LoadInputOptions = {}): LoadedInput {
  const budget = opts.budget;
  const sys = new BpfSystem();
  if (budget !== undefined) sys.unverifiedBudget = budget;
  const maps = prog.maps.map((m, i) => {
    try {
      return BpfMap.create(sys, { type: m.type as MapTypeName, keySize: m.key_size, valueSize: m.value_size, maxEntries: m.max_entries, name: mapName(prog, i) });
    } catch (e) {
      if (e instanceof BpfError) throw new CliError(`${file}: maps[${i}]: ${e.message}`, 2, e.code);
      throw e;
    }
  });
  prog.maps.forEach((m, i) => {
    if (m.initial) maps[i]!.update(new Uint8Array(4), m.initial);
  });
  const slots = prog.slots.map((s) => ({ ...s }));
  linkMapRefs(slots, prog.fixups.map(([slot, index, offset]) => ({ slot, fd: maps[index]!.fd, offset })));
  try {
    const common = { insns: encodeSlots(slots), license: prog.license, logLevel: opts.logLevel ?? 1, logSize: CLI_LOG_SIZE, verify: opts.verify };
    const loaded = opts.memSize !== undefined
      ? MemProgram.load(sys, { ...common, size: opts.memSize })
      : Program.load(sys, { ...common, type: prog.progType as ProgTypeName });
    return { sys, progFd: loaded.fd, maps, log: loaded.log };
  } catch (e) {
    // A program the kernel would refuse to load is a rejected program: exit 1.
    if (e instanceof BpfError) {
      if (opts.json) io.stdout.write(JSON.stringify({ accepted: false, code: e.code, log: e.log ?? '' }) + '\n');
      else if (e.log) io.stdout.write(highlightLog(e.log, io.stdout));
      throw new CliError(`${file}: ${e.message}`, 1, e.code);
    }
    throw e;
  }
}

/** The log for a terminal: the last instruction line in bold, the message after it in red. */
export function highlightLog(log: string, out: CliOutput): string {
  const lines = log.replace(/\n$/, '').split('\n');
  let lastInsn = -1;
  lines.forEach((l, i) => {
    if (/^\d+: \(/.test(l)) lastInsn = i;
  });
  return lines
    .map((l, i) => (i === lastInsn ? style.bold(l, out) : i > lastInsn && lastInsn >= 0 && l !== '' ? style.red(l, out) : l))
    .join('\n') + '\n';
}

/** A map's name in output: the object's name for it, a spec map's `name`, else `map0`, `map1`... */
export function mapName(prog: ProgramInput, i: number): string {
  return prog.mapNames?.[i] ?? prog.maps[i]?.name ?? `map${i}`;
}

/**
 * The maps after a run in --json: `maps` (docs/cli.md, the first contract: each map's
 * entries, keys ascending) and `map_dump` (the named view of map-view.ts).
 */
export function mapsJson(maps: BpfMap[]): { maps: { key: string; value: string }[][]; map_dump: MapDumpJson[] } {
  return { maps: maps.map(mapEntriesSorted), map_dump: maps.map((m) => mapDumpJson(m.name, m)) };
}

/** Entries of a map, keys ascending as bytes, as docs/cli.md's `maps` output. */
export function mapEntriesSorted(m: BpfMap): { key: string; value: string }[] {
  return [...m.entries()]
    .map(([k, v]) => ({ key: hex(k), value: hex(v) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function runCommand(prog: ProgramInput, data: Uint8Array, opts: RunOptions, io: CliIo): number {
  const { sys, progFd, maps } = loadInput(prog, opts.file, io, { budget: opts.budget, verify: !opts.unverified, json: opts.json, ...(opts.mem ? { memSize: data.length } : {}) });
  let result: TestRunResult;
  try {
    // raw: the network header at offset 0, which testRun's Ethernet framing cannot say
    result = opts.link === 'raw'
      ? runPacketAt(sys, progFd, data, 0, opts.repeat, opts.engine)
      : opts.mem
      ? runMemObject(sys, sys.progOf(progFd), data, opts.repeat, opts.engine)
      : testRun(sys, progFd, data, opts.repeat, opts.engine);
  } catch (e) {
    if (e instanceof BpfError) {
      if (/context is 16 bytes/.test(e.message)) throw new CliError(`${opts.dataContext}: ${e.message}`, 2, e.code);
      if (opts.json) io.stdout.write(JSON.stringify({ retval: null, code: e.code, error: e.message }) + '\n');
      throw new CliError(`${opts.file}: ${e.message}`, 1, e.code);
    }
    throw e;
  }
  const r0 = result.retval;
  // a mem program's buffer after the run: what it wrote there is its output too
  const memory = opts.mem ? { memory: Buffer.from(result.dataOut).toString('hex') } : {};
  if (opts.json) {
    io.stdout.write(JSON.stringify({ retval: retvalJson(r0), duration_ns: Math.round(result.durationNs * 10) / 10, runs: result.runs, ...mapsJson(maps), ...memory }) + '\n');
    return 0;
  }
  const signed = BigInt.asIntN(64, r0);
  const decimal = signed < 0n ? `${r0} = ${signed}` : `${r0}`;
  io.stdout.write(`${style.bold('retval', io.stdout)}  ${style.green(`0x${r0.toString(16)}`, io.stdout)} (${decimal})\n`);
  const loaded = sys.progOf(progFd).prog;
  const how = result.engine === 'jit'
    ? 'verified, WebAssembly JIT'
    : result.engine === 'jit-hardened'
    ? `${loaded.verified ? 'verified' : 'unverified'}, hardened WebAssembly JIT`
    : `${loaded.interpreter.executed} insns in the last run, ${loaded.verified ? 'verified, interpreter' : 'unverified, checked interpreter'}`;
  io.stdout.write(`${style.bold('runs', io.stdout)}    ${result.runs} × ${formatNs(result.durationNs)} (${how})\n`);
  if (opts.mem) io.stdout.write(`${style.bold('memory', io.stdout)}  ${result.dataOut.length === 0 ? '(empty)' : fprintHex(result.dataOut).replace(/\n/g, '\n        ')}\n`);
  for (const m of maps) io.stdout.write(mapDumpText(m.name, m));
  return 0;
}

/** testRun's runs of a packet program with its network header at `netOff` (PacketRunner sets it; testRun assumes Ethernet). */
function runPacketAt(sys: BpfSystem, progFd: number, data: Uint8Array, netOff: number, repeat: number, engine?: EngineName): TestRunResult {
  const runner = new PacketRunner(sys, progFd, engine);
  try {
    const t0 = performance.now();
    for (let i = 0; i < repeat; i++) runner.run(data, netOff);
    const elapsedMs = performance.now() - t0;
    return { retval: runner.lastRetval, durationNs: (elapsedMs * 1e6) / repeat, runs: repeat, dataOut: data, engine: runner.engineName };
  } finally {
    runner.close();
  }
}

export function formatNs(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export interface VerifyOptions {
  logLevel: number;
  json: boolean;
  file: string;
}

/** `tsbpf verify`: load the program and report the verdict with the log. */
export function verifyCommand(prog: ProgramInput, opts: VerifyOptions, io: CliIo): number {
  const { log } = loadInput(prog, opts.file, io, { logLevel: opts.logLevel, json: opts.json });
  if (opts.json) {
    io.stdout.write(JSON.stringify({ accepted: true, code: null, log }) + '\n');
    return 0;
  }
  io.stdout.write(log);
  io.stdout.write(`${style.green('accepted', io.stdout)}: ${prog.slots.length} instructions\n`);
  return 0;
}
