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
import type { MapSpec, ProgramInput } from './input.js';
import { CliError } from './cli-error.js';
import { PROFILE_3_19, PROFILE_MODERN } from '../progs/profile.js';
import type { Profile } from '../progs/profile.js';
import { UNVERIFIED_HINT, framesOut, verdictName, verifiesModern } from './profile.js';
import type { CliIo, CliOutput } from './io.js';
import { style } from './style.js';
import { fprintHex, jsonLine, mapContents, mapDumpJson, mapDumpText } from './map-view.js';
import type { MapContents, MapDumpJson } from './map-view.js';

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
  /** --profile, or the one the program needs (profile.ts) */
  profile?: Profile;
  /** --cpus */
  cpus?: number;
  /** --source: the C source lines (an object's .BTF.ext) in a 3.19 profile's log too */
  source?: boolean;
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
  /** tiered execution (BpfSystem.jitTiering): captures start on the interpreter while the JIT compiles */
  tiered?: boolean;
  budget?: number;
  verify?: boolean;
  logLevel?: number;
  /** on a rejection: print the verify JSON object on stdout */
  json?: boolean;
  /** load as tsbpf's mem type for a buffer of this many bytes (--mem), whatever type the input names */
  memSize?: number;
  /** the kernel modelled (profile.ts's chooseProfile); 3.19 when not given */
  profile?: Profile;
  /** simulated CPUs (--cpus) */
  cpus?: number;
  /** --source: the C source lines (an object's .BTF.ext) in a 3.19 profile's log too */
  source?: boolean;
  /** a shared memory (worker threads attach to it: --workers) */
  shared?: boolean;
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
  const profile = opts.profile ?? PROFILE_3_19;
  const sys = new BpfSystem({ profile, cpus: opts.cpus ?? 1, ...(opts.shared ? { shared: true } : {}) });
  if (budget !== undefined) sys.unverifiedBudget = budget;
  const create = (m: MapSpec, name: string, innerMap?: BpfMap): BpfMap =>
    BpfMap.create(sys, { type: m.type as MapTypeName, keySize: m.key_size, valueSize: m.value_size, maxEntries: m.max_entries, name, ...(m.flags ? { flags: m.flags } : {}), ...(innerMap ? { innerMap } : {}), ...(m.btf ? { btf: m.btf } : {}) });
  const maps = prog.maps.map((m, i) => {
    try {
      // a map of maps is created against its inner map's template, closed once it is
      const template = m.inner ? create(m.inner, m.inner.name ?? '') : undefined;
      try {
        return create(m, mapName(prog, i), template);
      } finally {
        template?.close();
      }
    } catch (e) {
      if (e instanceof BpfError) throw new CliError(`${file}: maps[${i}]: ${e.message}`, 2, e.code);
      throw e;
    }
  });
  prog.maps.forEach((m, i) => {
    if (m.initial) maps[i]!.update(new Uint8Array(4), m.initial);
    // an object's maps of maps: the maps its definition names
    for (const [index, target] of m.contents ?? []) {
      const key = new Uint8Array(4);
      const value = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, index, true);
      new DataView(value.buffer).setUint32(0, maps[target]!.fd, true);
      maps[i]!.update(key, value);
    }
  });
  const slots = prog.slots.map((s) => ({ ...s }));
  linkMapRefs(slots, prog.fixups.map(([slot, index, offset]) => ({ slot, fd: maps[index]!.fd, offset })));
  try {
    const common = { insns: encodeSlots(slots), license: prog.license, logLevel: opts.logLevel ?? 1, logSize: CLI_LOG_SIZE, verify: opts.verify };
    const loaded = opts.memSize !== undefined
      ? MemProgram.load(sys, { ...common, size: opts.memSize })
      : Program.load(sys, {
        ...common, type: prog.progType as ProgTypeName,
        // tiered only where asked (captures): a single run or --repeat runs the JIT compiled during the load
        tiered: opts.tiered === true,
        ...(prog.lineInfo ? { lineInfo: prog.lineInfo, source: opts.source === true } : {}),
        ...(prog.funcInfo ? { funcInfo: prog.funcInfo } : {}),
      });
    return { sys, progFd: loaded.fd, maps, log: loaded.log };
  } catch (e) {
    // A program the kernel would refuse to load is a rejected program: exit 1.
    if (e instanceof BpfError) {
      // a modern program refused by 3.19's rules: say what runs it meanwhile
      const hint = profile === PROFILE_MODERN && opts.verify !== false && !verifiesModern() ? UNVERIFIED_HINT : undefined;
      if (opts.json) io.stdout.write(JSON.stringify({ accepted: false, code: e.code, log: e.log ?? '', ...profileJson(profile), ...(hint ? { hint } : {}) }) + '\n');
      else if (e.log) io.stdout.write(highlightLog(e.log, io.stdout));
      if (hint) io.stderr.write(`tsbpf: ${file}: ${hint}\n`);
      throw new CliError(`${file}: ${e.message}`, 1, e.code);
    }
    throw e;
  }
}

/**
 * The profile in JSON output: `"profile": "modern"` when the modern profile
 * judged or ran the program; absent under 3.19, so 3.19's outputs stay as
 * they were.
 */
export function profileJson(p: Profile): { profile?: string } {
  return p === PROFILE_MODERN ? { profile: p.name } : {};
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
 * entries, keys ascending; a per-CPU map's with `values`, one per CPU; a ring
 * buffer, queue or stack has none) and `map_dump` (the named view of
 * map-view.ts). Each map is read once.
 */
export function mapsJson(maps: BpfMap[]): { maps: ({ key: string; value: string } | { key: string; values: string[] })[][]; map_dump: MapDumpJson[] } {
  const contents = maps.map((m) => mapContents(m));
  return { maps: contents.map(entriesSorted), map_dump: maps.map((m, i) => mapDumpJson(m.name, m, contents[i])) };
}

const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Entries of a map, keys ascending as bytes, as docs/cli.md's `maps` output. */
function entriesSorted(c: MapContents): ({ key: string; value: string } | { key: string; values: string[] })[] {
  if (c.kind === 'entries') return c.entries.map(([k, v]) => ({ key: hex(k), value: hex(v) })).sort(byKey);
  if (c.kind === 'percpu') return c.entries.map(([k, v]) => ({ key: hex(k), values: v.map(hex) })).sort(byKey);
  return [];
}

/** Entries of a map, keys ascending as bytes (not for per-CPU maps, ring buffers, queues or stacks). */
export function mapEntriesSorted(m: BpfMap): { key: string; value: string }[] {
  return [...m.entries()].map(([k, v]) => ({ key: hex(k), value: hex(v) })).sort(byKey);
}

/** Every map as text, each read once. */
export function mapsText(maps: BpfMap[]): string {
  return maps.map((m) => mapDumpText(m.name, m)).join('');
}

export function runCommand(prog: ProgramInput, data: Uint8Array, opts: RunOptions, io: CliIo): number {
  const profile = opts.profile ?? PROFILE_3_19;
  const { sys, progFd, maps } = loadInput(prog, opts.file, io, { budget: opts.budget, verify: !opts.unverified, json: opts.json, profile, ...(opts.cpus ? { cpus: opts.cpus } : {}), ...(opts.mem ? { memSize: data.length } : {}), source: opts.source === true });
  let result: TestRunResult;
  try {
    // raw: the network header at offset 0, which testRun's Ethernet framing cannot say
    result = opts.link === 'raw'
      ? runPacketAt(sys, progFd, data, 0, opts.repeat, opts.engine)
      : opts.mem
      ? runMemObject(sys, sys.progOf(progFd), data, opts.repeat, opts.engine)
      : testRun(sys, progFd, data, opts.repeat, opts.engine);
  } catch (e) {
    writePrintk(sys, io);
    if (e instanceof BpfError) {
      // the input cannot be the program's context: a usage error naming the input
      if (/context is 16 bytes|test run's .*frame|XDP frame is at most/.test(e.message)) throw new CliError(`${opts.dataContext}: ${e.message}`, 2, e.code);
      if (opts.json) io.stdout.write(JSON.stringify({ retval: null, code: e.code, error: e.message }) + '\n');
      throw new CliError(`${opts.file}: ${e.message}`, 1, e.code);
    }
    throw e;
  }
  writePrintk(sys, io);
  const r0 = result.retval;
  // a mem program's buffer after the run: what it wrote there is its output too
  const memory = opts.mem ? { memory: Buffer.from(result.dataOut).toString('hex') } : {};
  // XDP and tc: the verdict's name, and the frame when the program changed it
  const verdict = verdictName(prog.progType, r0);
  const frame = framesOut(prog.progType) && !sameBytes(result.dataOut, data) ? result.dataOut : undefined;
  if (opts.json) {
    io.stdout.write(jsonLine({
      retval: retvalJson(r0), duration_ns: Math.round(result.durationNs * 10) / 10, runs: result.runs, ...mapsJson(maps), ...memory,
      ...profileJson(profile), ...(verdict ? { verdict } : {}), ...(frame ? { frame: hex(frame) } : {}),
    }) + '\n');
    return 0;
  }
  const signed = BigInt.asIntN(64, r0);
  const decimal = signed < 0n ? `${r0} = ${signed}` : `${r0}`;
  io.stdout.write(`${style.bold('retval', io.stdout)}  ${style.green(`0x${r0.toString(16)}`, io.stdout)} (${decimal})${verdict ? ` ${verdict}` : ''}\n`);
  const loaded = sys.progOf(progFd).prog;
  const how = result.engine === 'jit'
    ? 'verified, WebAssembly JIT'
    : result.engine === 'jit-hardened'
    ? `${loaded.verified ? 'verified' : 'unverified'}, hardened WebAssembly JIT`
    : `${loaded.interpreter.executed} insns in the last run, ${loaded.verified ? 'verified, interpreter' : 'unverified, checked interpreter'}`;
  io.stdout.write(`${style.bold('runs', io.stdout)}    ${result.runs} × ${formatNs(result.durationNs)} (${profileText(profile)}${how})\n`);
  if (frame) io.stdout.write(`${style.bold('frame', io.stdout)}   ${frame.length === 0 ? '(empty)' : fprintHex(frame).replace(/\n/g, '\n        ')}\n`);
  if (opts.mem) io.stdout.write(`${style.bold('memory', io.stdout)}  ${result.dataOut.length === 0 ? '(empty)' : fprintHex(result.dataOut).replace(/\n/g, '\n        ')}\n`);
  io.stdout.write(mapsText(maps));
  return 0;
}

/** In a text line: `modern profile, ` under the modern profile; nothing under 3.19, whose output is as it was. */
export function profileText(p: Profile): string {
  return p === PROFILE_MODERN ? 'modern profile, ' : '';
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** bpf_trace_printk's lines since the last call, to stderr (where the kernel's trace_pipe would show them). */
export function writePrintk(sys: BpfSystem, io: CliIo): void {
  const lines = sys.runtime.helpers.run.takePrintk();
  if (lines.length) io.stderr.write(lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''));
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
  /** the kernel whose verifier judges (3.19 when not given) */
  profile?: Profile;
  /** --source: the C source lines (an object's .BTF.ext) in a 3.19 profile's log too */
  source?: boolean;
}

/** `tsbpf verify`: load the program and report the verdict with the log. */
export function verifyCommand(prog: ProgramInput, opts: VerifyOptions, io: CliIo): number {
  const profile = opts.profile ?? PROFILE_3_19;
  const { log } = loadInput(prog, opts.file, io, { logLevel: opts.logLevel, json: opts.json, profile, source: opts.source === true });
  if (opts.json) {
    io.stdout.write(JSON.stringify({ accepted: true, code: null, log, ...profileJson(profile) }) + '\n');
    return 0;
  }
  io.stdout.write(log);
  io.stdout.write(`${style.green('accepted', io.stdout)}: ${prog.slots.length} instructions${profile === PROFILE_MODERN ? ' (modern profile)' : ''}\n`);
  return 0;
}
