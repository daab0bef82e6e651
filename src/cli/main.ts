/**
 * The `tsbpf` command (docs/cli.md). This file dispatches to one function
 * per command (each parses its arguments with args.ts against its entry in
 * commands.ts, which also gives its --help), and owns the error format
 * `tsbpf: <context>: <message> (<ERRNO>)`. main(argv, io) returns the exit
 * status: 0 success, 1 the program was rejected or failed at run time, 2 bad
 * usage or unreadable input. Importing it runs nothing: bin/tsbpf.js runs it
 * with the process's streams and owns the process (exit code, EPIPE).
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { disasmSlots } from '../isa/disasm.js';
import { encode, encodeSlots } from '../isa/instruction.js';
import { assemble } from '../isa/asm.js';
import { detectFormat, parseHexData, parseProgram } from './input.js';
import type { ProgramInput } from './input.js';
import { mapName, runCommand, verifyCommand } from './run.js';
import { sourceJson, withSource } from './source-view.js';
import { conformancePlugin } from './plugin.js';
import { style } from './style.js';
import { chooseProfile, cpusOption } from './profile.js';
import { PROFILE_MODERN } from '../progs/profile.js';
import type { Profile } from '../progs/profile.js';
import { BatchSession } from './batch.js';
import { CliError, fileError } from './cli-error.js';
import type { EngineName } from '../api/bpf.js';
import { filterCommand, runPcapCommand } from './capture.js';
import { steerOption, workersOption } from './workers.js';
import { fastFilter } from './fast-filter.js';
import { captureLinkType, caret, compileCommand, expressionInput, isFile, tcpdumpFormatArgs } from './expression.js';
import type { CompileFormat } from './expression.js';
import { disassembleClassic } from '../cbpf/index.js';
import type { SockFilter } from '../cbpf/index.js';
import { escapeControls, parseElf } from '../elf/index.js';
import { variableViews, variablesJson } from './variables-view.js';
import { loadCollectionSpec } from '../loader/collection.js';
import type { CliIo } from './io.js';
import { mapTypeName } from '../maps/types.js';
import { uapiHelperName } from '../isa/uapi.js';
import { findProgTypeByName } from '../progs/types.js';
import { help, parseCommand } from './args.js';
import type { CommandSpec, Parsed } from './args.js';
import { ASM, BATCH, BENCH, COMMANDS, COMPILE, CONFORMANCE_PLUGIN, DISASM, FILTER, HELP_CMD, INSPECT, RUN, SHELL, USAGE, VERIFY } from './commands.js';


/** A file's bytes, or standard input's for '-'. */
export function readInput(path: string, io: CliIo): Uint8Array {
  try {
    return path === '-' ? io.stdin.readAll() : new Uint8Array(readFileSync(path));
  } catch (e) {
    throw fileError(path, e);
  }
}

/**
 * The options and arguments of one command; undefined when -h/--help was
 * given, after printing the command's help (the caller then returns 0).
 */
function parse(spec: CommandSpec, args: readonly string[], io: CliIo): Pick<Parsed, 'values' | 'lists' | 'positionals'> | undefined {
  const p = parseCommand(spec, args);
  if (p.help) {
    io.stdout.write(help(spec));
    return undefined;
  }
  return p;
}

/** A value option's string, or undefined. */
const str = (values: Record<string, unknown>, name: string): string | undefined => values[name] as string | undefined;

/** --engine: jit, interpreter, jit-hardened, or undefined for the default */
function engineOption(values: Record<string, unknown>): EngineName | undefined {
  const engine = values['engine'] as string | undefined;
  if (engine !== undefined && engine !== 'interpreter' && engine !== 'jit' && engine !== 'jit-hardened') {
    throw new CliError(`--engine must be interpreter or jit, or jit-hardened for untrusted programs, got '${engine}'`, 2, 'EINVAL');
  }
  return engine;
}

/** --cbpf and --section, for the commands taking PROG; --set where the command has it */
function sourceOptions(values: Record<string, unknown>, lists: Record<string, string[]> = {}): { classic: boolean; section?: string; variableText?: Record<string, string> } {
  const section = values['section'] as string | undefined;
  const out: { classic: boolean; section?: string; variableText?: Record<string, string> } = { classic: values['cbpf'] === true };
  if (section !== undefined) out.section = section;
  const set = setOption(lists['set']);
  if (set !== undefined) out.variableText = set;
  return out;
}

/** --set NAME=VALUE, repeatable: the values as text by name (each read by its variable's type when the object is). */
function setOption(given: readonly string[] | undefined): Record<string, string> | undefined {
  if (given === undefined) return undefined;
  // without a prototype: a variable may be called __proto__
  const out = Object.create(null) as Record<string, string>;
  for (const g of given) {
    const eq = g.indexOf('=');
    if (eq <= 0) throw new CliError(`--set takes NAME=VALUE, got '${g}'`, 2, 'EINVAL');
    const name = g.slice(0, eq);
    if (Object.hasOwn(out, name)) throw new CliError(`--set ${name} is given twice`, 2, 'EINVAL');
    out[name] = g.slice(eq + 1);
  }
  return out;
}

function cmdInspect(args: string[], io: CliIo): number {
  const p = parse(INSPECT, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const file = positionals[0]!;
  const bytes = readInput(file, io);
  const elf = withContext(file, () => parseElf(bytes));
  const spec = withContext(file, () => loadCollectionSpec(bytes));
  const programs = Object.values(spec.programs).map((p) => ({ name: p.name, section: p.section, type: p.type, insns: p.insns.length, maps: [...new Set(p.mapRefs.map((r) => r.map))] }));
  const maps = Object.values(spec.maps).map((m) => ({ name: m.name, type: mapTypeName(m.type), key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries, flags: m.flags }));
  const sections = elf.sections.filter((s) => s.name !== '').map((s) => ({ name: s.name, type: s.type, size: s.size }));
  if (values['json']) {
    // variables' values are JSON of their own (64-bit integers exact), spliced in before the sections
    const head = JSON.stringify({ license: spec.license, version: spec.version, programs, maps });
    io.stdout.write(`${head.slice(0, -1)},"variables":${variablesJson(variableViews(spec.variables))},"sections":${JSON.stringify(sections)}}\n`);
    return 0;
  }
  io.stdout.write(`${style.bold('license', io.stdout)}  ${spec.license || '(none)'}\n`);
  io.stdout.write(`${style.bold('programs', io.stdout)}\n`);
  for (const p of programs) io.stdout.write(`  ${p.section}/${p.name}  ${p.type}  ${p.insns} insns${p.maps.length ? `  maps: ${p.maps.join(', ')}` : ''}\n`);
  io.stdout.write(`${style.bold('maps', io.stdout)}\n`);
  for (const m of maps) io.stdout.write(`  ${m.name}  ${m.type}  key ${m.key_size}B  value ${m.value_size}B  max_entries ${m.max_entries}\n`);
  const vars = variableViews(spec.variables, true);
  if (vars.length > 0) {
    io.stdout.write(`${style.bold('variables', io.stdout)}\n`);
    for (const v of vars) {
      const value = v.value ?? `(cannot decode: ${v.error!})`;
      io.stdout.write(escapeControls(`  ${v.name}  ${v.section}+${v.offset}  ${v.size}B  ${v.type}${v.readonly ? '  (read-only)' : ''}  = ${value}`) + '\n');
    }
  }
  io.stdout.write(`${style.bold('sections', io.stdout)}\n`);
  for (const s of sections) io.stdout.write(`  ${s.name}  type ${s.type}  ${s.size} bytes\n`);
  return 0;
}

function withContext<T>(context: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BpfError) throw e.withContext(context);
    throw e;
  }
}

function cmdAsm(args: string[], io: CliIo): number {
  const p = parse(ASM, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const file = positionals[0]!;
  const text = new TextDecoder().decode(readInput(file, io));
  const bytes = withContext(file, () => encode(assemble(text)));
  const out = values['output'] as string | undefined;
  // -o -: standard output, as without -o
  if (out !== undefined && out !== '-') {
    try {
      writeFileSync(out, bytes);
    } catch (e) {
      throw new CliError(`${out}: ${(e as Error).message}`, 2, (e as NodeJS.ErrnoException).code ?? 'EIO');
    }
  } else if (io.stdout.isTTY) {
    // Raw bytes would garble a terminal: show the slots as hex instead.
    for (let p = 0; p < bytes.length; p += 8) io.stdout.write(Buffer.from(bytes.subarray(p, p + 8)).toString('hex') + '\n');
  } else {
    io.stdout.write(bytes);
  }
  return 0;
}

/** Objects: name the map each ld_imm64 refers to (and the offset into global data). */
function annotateMaps(text: string, prog: ProgramInput): string {
  const names = new Map(prog.fixups.map(([slot, i, off]) => [slot, `${prog.mapNames![i]!}${off === undefined ? '' : `+${off}`}`]));
  return text.replace(/^(\d+): (.*)$/gm, (line, pc: string) => (names.has(Number(pc)) ? `${line}  ; map ${names.get(Number(pc))}` : line));
}

/**
 * The PROG argument of run, verify and disasm, as filter reads its filter:
 * a program file ('-' standard input), or a tcpdump expression when the
 * argument is not a file or -e EXPR gives it, compiled for the capture's
 * link type (run --pcap), else --linktype, else `linktype` (run --link raw),
 * else Ethernet. `file` names the program in messages ('expression' for one).
 */
function programArgument(spec: CommandSpec, values: Record<string, unknown>, positionals: readonly string[], io: CliIo, lists: Record<string, string[]>, capture?: string, linktype?: string): { prog: ProgramInput; file: string; expr: boolean } {
  const given = str(values, 'expression');
  const usage = `(usage: tsbpf ${spec.usage[0]!})`;
  if (given !== undefined && positionals.length > 0) throw new CliError(`${spec.name}: -e gives the program, so '${positionals[0]!}' is one argument too many ${usage}`, 2, 'EINVAL');
  if (given === undefined && positionals.length === 0) throw new CliError(`${spec.name}: missing PROG ${usage}`, 2, 'EINVAL');
  const first = positionals[0];
  const expr = given ?? (isFile(first!) ? undefined : first!);
  if (expr === undefined) {
    if (values['linktype'] !== undefined) throw new CliError('--linktype applies to an expression, not a program file', 2, 'EINVAL');
    return { prog: withContext(first!, () => parseProgram(readInput(first!, io), sourceOptions(values, lists))), file: first!, expr: false };
  }
  for (const o of ['section', 'cbpf']) if (values[o] !== undefined) throw new CliError(`--${o} applies to a program file, not an expression`, 2, 'EINVAL');
  if (lists['set'] !== undefined) throw new CliError('--set applies to the variables of an object file, not to an expression', 2, 'EINVAL');
  try {
    return { prog: compileForCapture(expr, capture, str(values, 'linktype') ?? linktype), file: 'expression', expr: true };
  } catch (e) {
    // `prog.s`, `dir/x.o` or `--help` after `--` that is not there: a missing file, rather than a strange expression
    if (given === undefined && /[/\\]|\.[A-Za-z]{1,4}$|^--/.test(first!)) readInput(first!, io);
    throw e;
  }
}

/**
 * An expression is a classic filter over the whole frame, as libpcap runs it; a
 * modern socket filter's data starts after the Ethernet header (the kernel's
 * test run), where the expression's offsets would read the wrong bytes.
 */
function expressionRunsUnder(profile: Profile): void {
  if (profile === PROFILE_MODERN) throw new CliError('an expression runs over the whole frame, as tcpdump runs it: --profile modern gives a socket filter the data after the Ethernet header (verify takes --profile modern)', 2, 'EINVAL');
}

/** Helper calls by name, as bpftool prints them (`call bpf_map_lookup_elem#1`); `tsbpf asm` reads them back. */
const DISASM_OPTIONS = { helperName: uapiHelperName };

function cmdDisasm(args: string[], io: CliIo): number {
  const p = parse(DISASM, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const json = values['json'] === true;
  const file = positionals[0];
  const bytes = values['expression'] === undefined && file !== undefined && isFile(file) ? readInput(file, io) : undefined;
  if (bytes !== undefined && detectFormat(bytes) === 'elf' && values['section'] === undefined) {
    // every program of the object, each under its section and name
    const spec = withContext(file, () => loadCollectionSpec(bytes));
    const progs = Object.values(spec.programs).map((p) => ({ p, prog: withContext(file, () => parseProgram(bytes, { classic: false, section: p.name })) }));
    if (json) {
      io.stdout.write(JSON.stringify({ programs: progs.map(({ p, prog }) => ({ section: p.section, name: p.name, insns: insnsJson(prog) })) }) + '\n');
      return 0;
    }
    io.stdout.write(progs.map(({ p, prog }) => `${p.section}/${p.name}:\n${withSource(annotateMaps(disasmSlots(prog.slots, DISASM_OPTIONS), prog), prog)}`).join('\n'));
    return 0;
  }
  const { prog } = bytes !== undefined ? { prog: withContext(file!, () => parseProgram(bytes, sourceOptions(values))) } : programArgument(DISASM, values, positionals, io, {});
  if (json) {
    const classic = prog.classic?.map((f, pc) => ({ pc, code: f.code, jt: f.jt, jf: f.jf, k: f.k, text: classicText(prog.classic!, pc) }));
    io.stdout.write(JSON.stringify({ ...(classic ? { classic } : {}), insns: insnsJson(prog) }) + '\n');
    return 0;
  }
  let text = disasmSlots(prog.slots, DISASM_OPTIONS);
  if (prog.mapNames) {
    text = annotateMaps(text, prog);
  }
  text = withSource(text, prog);
  if (prog.classic) {
    // classic input: tcpdump -d's view, then the eBPF it converts to
    text = `classic BPF (tcpdump -d):\n${disassembleClassic(prog.classic)}\neBPF:\n${text}`;
  }
  if (io.stdout.isTTY) {
    io.stdout.write(text.replace(/^(\d+:)( \([0-9a-f]{2}\))/gm, (_m, idx: string, op: string) => style.dim(idx, io.stdout) + style.dim(op, io.stdout)));
  } else {
    io.stdout.write(text);
  }
  return 0;
}

/**
 * disasm --json: each instruction as {pc, code, hex, text}, code the opcode
 * byte, hex its slots'
 * bytes (32 digits for an ld_imm64), `map` naming the map an object's
 * ld_imm64 refers to. The text is the disassembler's, so the two outputs agree.
 */
function insnsJson(prog: ProgramInput): ({ pc: number; code: number; hex: string; text: string; map?: string } & ReturnType<ReturnType<typeof sourceJson>>)[] {
  const source = sourceJson(prog);
  const bytes = encodeSlots(prog.slots);
  const names = new Map(prog.fixups.map(([slot, i, off]) => [slot, `${mapName(prog, i)}${off === undefined ? '' : `+${off}`}`]));
  const lines = disasmSlots(prog.slots, DISASM_OPTIONS).split('\n').filter((l) => l !== '');
  const parsed = lines.map((l) => /^(\d+): \(([0-9a-f]{2})\) (.*)$/.exec(l));
  return parsed.map((m, i) => {
    const pc = m ? Number(m[1]) : i;
    const next = parsed[i + 1];
    const end = next ? Number(next[1]) : prog.slots.length;
    const hex = Buffer.from(bytes.subarray(pc * 8, end * 8)).toString('hex');
    const out: { pc: number; code: number; hex: string; text: string; map?: string } = { pc, code: parseInt(m ? m[2]! : hex.slice(0, 2), 16), hex, text: m ? m[3]! : lines[i]! };
    const map = names.get(pc);
    if (map !== undefined) out.map = map;
    return { ...out, ...source(pc) };
  });
}

/** One classic instruction as tcpdump -d prints it, without the (NNN) index and padding. */
function classicText(filter: readonly SockFilter[], pc: number): string {
  const line = disassembleClassic(filter).split('\n')[pc]!;
  return line.replace(/^\(\d+\) /, '').replace(/\s+/g, ' ').trim();
}

async function cmdRun(args: string[], io: CliIo): Promise<number> {
  const usage = `tsbpf ${RUN.usage[0]!}`;
  const p = parse(RUN, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const inputs = ['data', 'data-file', 'pcap', 'mem', 'mem-file'];
  if (inputs.filter((k) => values[k] !== undefined).length > 1) {
    throw new CliError(`--data, --data-file, --pcap, --mem and --mem-file are exclusive (usage: ${usage})`, 2, 'EINVAL');
  }
  const link = str(values, 'link');
  if (link !== undefined && link !== 'ethernet' && link !== 'raw') throw new CliError(`--link must be ethernet or raw, got '${link}'`, 2, 'EINVAL');
  if (link !== undefined && values['data'] === undefined && values['data-file'] === undefined) {
    throw new CliError('--link says where the network header of --data or --data-file is (a capture says it itself)', 2, 'EINVAL');
  }
  // every option is checked before any input is read
  const repeat = count(values, 'repeat', 1);
  const budget = count(values, 'budget', 1_000_000);
  const engine = engineOption(values);
  const pcap = str(values, 'pcap');
  if (pcap !== undefined && values['repeat'] !== undefined) throw new CliError('--repeat does not apply to --pcap (each packet runs once)', 2, 'EINVAL');
  budgetNeedsUnverified(values);
  oneStdin(values['expression'] === undefined ? positionals[0] : undefined, str(values, 'data-file'), pcap, str(values, 'mem-file'));
  const cpus = cpusOption(values['cpus']);
  if (values['retvals'] === true && pcap === undefined) throw new CliError('--retvals lists the return value of each packet of --pcap', 2, 'EINVAL');
  const workers = workersOption(values['workers']);
  if (workers !== undefined && pcap === undefined) throw new CliError('--workers applies to --pcap (the packets of a capture are split between the workers)', 2, 'EINVAL');
  const steer = steerOption(values['steer']);
  if (steer !== undefined && pcap === undefined) throw new CliError('--steer applies to --pcap (how the workers share the packets of a capture)', 2, 'EINVAL');
  // an expression over --data with --link raw reads a packet that starts with its IP header
  const { prog, file, expr } = programArgument(RUN, values, positionals, io, p.lists, pcap, link === 'raw' ? 'raw' : undefined);
  const profile = chooseProfile(prog, values['profile'], file);
  if (expr) expressionRunsUnder(profile);
  if (pcap !== undefined) {
    return runPcapCommand(prog, pcap, {
      json: values['json'] === true,
      retvals: values['retvals'] === true,
      profile,
      cpus,
      file,
      unverified: values['unverified'] === true,
      budget,
      source: values['source'] === true,
      ...(engine === undefined ? {} : { engine }),
      ...(workers === undefined ? {} : { workers }),
      ...(steer === undefined ? {} : { steer }),
    }, io);
  }
  let data: Uint8Array = new Uint8Array(0);
  if (values['data'] !== undefined) data = withContext('--data', () => parseHexData(values['data'] as string));
  if (values['data-file'] !== undefined) data = readInput(values['data-file'] as string, io);
  if (values['mem'] !== undefined) data = withContext('--mem', () => hexOption('--mem', values['mem'] as string));
  if (values['mem-file'] !== undefined) data = readInput(values['mem-file'] as string, io);
  // --mem: PROG runs as tsbpf's mem type, whatever its input says; a spec of prog_type mem takes its buffer from --data too
  const mem = values['mem'] !== undefined || values['mem-file'] !== undefined || prog.progType === 'mem';
  if (link !== undefined && !findProgTypeByName(prog.progType)?.packet) throw new CliError(`${file}: --link applies to socket filters, this is a ${prog.progType} program`, 2, 'EINVAL');
  return runCommand(prog, data, {
    mem,
    profile,
    cpus,
    ...(link === undefined ? {} : { link }),
    repeat,
    budget,
    unverified: values['unverified'] === true,
    ...(engine === undefined ? {} : { engine }),
    json: values['json'] === true,
    file,
    source: values['source'] === true,
    dataContext: str(values, 'data-file') ?? str(values, 'mem-file') ?? (values['mem'] !== undefined ? '--mem' : '--data'),
  }, io);
}

/** A hex option's bytes (parseHexData's reading: spaces, colons, commas and 0x ignored), its errors naming `name`. */
function hexOption(name: string, text: string): Uint8Array {
  try {
    return parseHexData(text);
  } catch (e) {
    if (e instanceof BpfError) throw new BpfError(e.code, e.message.replace(/^--data /, `${name} `));
    throw e;
  }
}

/** --repeat, --budget: a positive integer, or `def` when not given. */
function count(values: Record<string, unknown>, name: string, def: number): number {
  const v = str(values, name);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new CliError(`--${name} must be a positive integer, got '${v}'`, 2, 'EINVAL');
  }
  return Number(v);
}

/** A budget bounds the runs of unverified programs; a verified one has none to bound. */
function budgetNeedsUnverified(values: Record<string, unknown>): void {
  if (values['budget'] !== undefined && values['unverified'] !== true) throw new CliError('--budget applies to --unverified runs (a verified program needs no budget)', 2, 'EINVAL');
}

/** Standard input can be read once: at most one of the inputs may be '-'. */
function oneStdin(...inputs: (string | undefined)[]): void {
  if (inputs.filter((i) => i === '-').length > 1) throw new CliError("standard input ('-') can be only one of the inputs", 2, 'EINVAL');
}

async function cmdFilter(args: string[], io: CliIo): Promise<number> {
  const p = parse(FILTER, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const engine = engineOption(values);
  const budget = count(values, 'budget', 1_000_000);
  budgetNeedsUnverified(values);
  const write = str(values, 'write');
  if (values['json'] === true && write !== undefined) throw new CliError('--json and -w are exclusive: -w writes the packets, --json prints them', 2, 'EINVAL');
  const given = str(values, 'expression');
  if (given !== undefined ? positionals.length !== 1 : positionals.length !== 2) {
    throw new CliError(`filter: ${given !== undefined ? 'with -e, the only argument is CAPTURE' : 'missing CAPTURE'} (usage: tsbpf ${FILTER.usage[0]!})`, 2, 'EINVAL');
  }
  const [first, second] = positionals as [string, string | undefined];
  const capture = given !== undefined ? first : second!;
  // an argument that is not a file is a tcpdump expression
  const expr = given ?? (isFile(first) ? undefined : first);
  const file = expr === undefined ? first : 'expression';
  if (expr === undefined) oneStdin(file, capture);
  if (values['linktype'] !== undefined && expr === undefined) throw new CliError('--linktype applies to an expression, not a program file', 2, 'EINVAL');
  if (write === '-' && values['count'] === true) throw new CliError('--count and -w - both write to standard output', 2, 'EINVAL');
  const cpus = cpusOption(values['cpus']);
  const workers = workersOption(values['workers']);
  const steer = steerOption(values['steer']);
  const options = sourceOptions(values, p.lists);
  if (expr !== undefined && options.variableText !== undefined) throw new CliError('--set applies to the variables of an object file, not to an expression', 2, 'EINVAL');
  let prog: ProgramInput;
  if (expr === undefined) prog = withContext(file, () => parseProgram(readInput(file, io), options));
  else {
    try {
      prog = compileForCapture(expr, capture, str(values, 'linktype'));
    } catch (e) {
      // `prog.s` or `dir/x.o` that is not there: a missing file, rather than a strange expression
      if (given === undefined && /[/\\]|\.[A-Za-z]{1,4}$/.test(first)) readInput(first, io);
      throw e;
    }
  }
  const profile = chooseProfile(prog, values['profile'], file);
  if (expr !== undefined) expressionRunsUnder(profile);
  return filterCommand(prog, capture, {
    file,
    profile,
    cpus,
    count: values['count'] === true,
    json: values['json'] === true,
    lineBuffered: values['line-buffered'] === true,
    unverified: values['unverified'] === true,
    budget,
    source: values['source'] === true,
    ...(write === undefined ? {} : { write }),
    ...(engine === undefined ? {} : { engine }),
    ...(workers === undefined ? {} : { workers }),
    ...(steer === undefined ? {} : { steer }),
  }, io);
}

/** An expression compiled for the capture's link type (from its header; else --linktype, else Ethernet: standard input, no capture). */
function compileForCapture(expr: string, capture: string | undefined, linktype: string | undefined): ProgramInput {
  const found = capture === undefined || capture === '-' ? undefined : captureLinkType(capture);
  const lt: number | string = found?.linktype ?? (linktype === undefined ? 'ethernet' : /^\d+$/.test(linktype) ? Number(linktype) : linktype);
  try {
    return expressionInput(expr, lt, found?.byteOrder);
  } catch (e) {
    if (e instanceof BpfError) throw new CliError(`${e.message}${caret(expr, e.message)}`, 2, e.code);
    throw e;
  }
}

function cmdCompile(args: string[], io: CliIo): number {
  const p = parse(COMPILE, tcpdumpFormatArgs(args), io);
  if (!p) return 0;
  const { values, positionals } = p;
  let format = (str(values, 'format') ?? 'd') as CompileFormat;
  if (values['ebpf'] === true) {
    if (values['format'] !== undefined) throw new CliError('--ebpf and -d/-dd/-ddd are exclusive', 2, 'EINVAL');
    format = 'ebpf';
  }
  if (!['d', 'dd', 'ddd', 'ebpf'].includes(format)) throw new CliError(`--format must be d, dd, ddd or ebpf, got '${format}'`, 2, 'EINVAL');
  return compileCommand(positionals[0]!, str(values, 'linktype'), format, io);
}

function cmdVerify(args: string[], io: CliIo): number {
  const p = parse(VERIFY, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const level = (values['log-level'] as string | undefined) ?? '1';
  if (!/^[012]$/.test(level)) throw new CliError(`--log-level must be 0, 1 or 2, got '${level}'`, 2, 'EINVAL');
  const { prog, file } = programArgument(VERIFY, values, positionals, io, p.lists);
  return verifyCommand(prog, { logLevel: Number(level), json: values['json'] === true, file, profile: chooseProfile(prog, values['profile'], file), source: values['source'] === true }, io);
}

function cmdBatch(args: string[], io: CliIo): number {
  const p = parse(BATCH, args, io);
  if (!p) return 0;
  const { values, positionals } = p;
  const file = positionals[0]!;
  const lines = new TextDecoder().decode(readInput(file, io)).split('\n');
  const session = new BatchSession(sessionOptions(values));
  let failed = 0;
  lines.forEach((line, i) => {
    const r = session.execute(line.replace(/\r$/, ''));
    if (!r) return;
    if (values['json']) io.stdout.write(JSON.stringify(r.result) + '\n');
    else io.stdout.write(r.out);
    if (r.error !== undefined) {
      failed++;
      io.stderr.write(`tsbpf: ${file}:${i + 1}: ${r.error}\n`);
    }
  });
  return failed > 0 ? 1 : 0;
}

/** batch and shell: --profile (3.19 unless given) and --cpus for the session's system. */
function sessionOptions(values: Record<string, unknown>): { profile: '3.19' | 'modern'; cpus: number } {
  const p = values['profile'] ?? '3.19';
  if (p !== '3.19' && p !== 'modern') throw new CliError(`--profile must be 3.19 or modern, got '${String(p)}'`, 2, 'EINVAL');
  return { profile: p, cpus: cpusOption(values['cpus']) };
}

async function cmdShell(args: string[], io: CliIo): Promise<number> {
  const p = parse(SHELL, args, io);
  if (!p) return 0;
  const { createInterface } = await import('node:readline');
  const session = new BatchSession(sessionOptions(p.values));
  const tty = io.stdin.isTTY === true;
  // an interactive shell edits lines on a terminal: io.stdout is then the process's own stream
  const output = tty ? io.stdout as NodeJS.WritableStream : undefined;
  const rl = createInterface({ input: io.stdin.stream(), output, terminal: tty, historySize: 1000 });
  const prompt = (): void => {
    if (tty) rl.prompt();
  };
  rl.setPrompt('tsbpf> ');
  if (tty) io.stdout.write("tsbpf shell: bpftool's map commands ('map create m type hash key 4 value 8 entries 16 name m'), 'help', 'quit'\n");
  prompt();
  let failed = 0;
  for await (const line of rl) {
    const t = line.trim();
    if (t === 'quit' || t === 'exit') break;
    if (t === 'help') {
      io.stdout.write(SHELL_HELP);
    } else {
      const r = session.execute(line);
      if (r) {
        io.stdout.write(r.out);
        if (r.error !== undefined) {
          failed++;
          io.stderr.write(`${style.red('Error', io.stderr)}: ${r.error}\n`);
        }
      }
    }
    prompt();
  }
  rl.close();
  return tty || failed === 0 ? 0 : 1;
}

const SHELL_HELP = `map create PATH type TYPE key N value N entries N name NAME [flags N]
map update MAP key [hex] BYTES value [hex] BYTES [any|noexist|exist]
map push|enqueue MAP value [hex] BYTES [any|exist]
map pop|dequeue|peek MAP
map lookup MAP key [hex] BYTES
map getnext MAP [key [hex] BYTES]
map delete MAP key [hex] BYTES
map dump MAP
map show [MAP]
MAP is id N, pinned PATH or name NAME; BYTES are decimal, or hexadecimal after 'hex'.
TYPE is hash or array; with --profile modern also 6.18's percpu_array, percpu_hash,
lru_hash, lru_percpu_hash, lpm_trie, queue, stack, ringbuf, prog_array, array_of_maps,
hash_of_maps; flags are 6.18's map_flags. A per-CPU map's update takes one value for
every CPU, or one per CPU in a row (--cpus N).
`;

/**
 * Run the `tsbpf` command line `argv` (without node and the script) over
 * `io`; the exit status. Errors are reported on io.stderr, never thrown.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    return report(e, io);
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
      io.stdout.write(USAGE + '\n');
      return cmd === undefined ? 2 : 0;
    case 'help': {
      const p = parse(HELP_CMD, rest, io);
      if (!p) return 0;
      const name = p.positionals[0];
      if (name === undefined) {
        io.stdout.write(USAGE + '\n');
        return 0;
      }
      const spec = COMMANDS.find((c) => c.name === name);
      if (!spec) throw new CliError(`help: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`, 2, 'EINVAL');
      io.stdout.write(help(spec));
      return 0;
    }
    case '--version':
    case '-V': {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      io.stdout.write(`tsbpf ${pkg.version}\n`);
      return 0;
    }
    case 'asm':
      return cmdAsm(rest, io);
    case 'disasm':
      return cmdDisasm(rest, io);
    case 'run':
      return cmdRun(rest, io);
    case 'verify':
      return cmdVerify(rest, io);
    case 'filter':
      // the tcpdump case, when it can be done without the runtime (fast-filter.ts)
      return (await fastFilter(rest, io)) ?? cmdFilter(rest, io);
    case 'compile':
      return cmdCompile(rest, io);
    case 'inspect':
      return cmdInspect(rest, io);
    case 'conformance-plugin': {
      const p = parse(CONFORMANCE_PLUGIN, rest, io);
      if (!p) return 0;
      return conformancePlugin(p.positionals[0], p.values['jit'] === true, io);
    }
    case 'batch':
      return cmdBatch(rest, io);
    case 'shell':
      return cmdShell(rest, io);
    case 'bench': {
      if (!parse(BENCH, rest, io)) return 0;
      const { benchCommand } = await import('../bench/bench.js');
      return benchCommand(rest, (text) => io.stdout.write(text));
    }
    default:
      throw new CliError(`unknown command '${cmd}' (try 'tsbpf --help')`, 2, 'EINVAL');
  }
}

function report(e: unknown, io: CliIo): number {
  if (process.env['TSBPF_DEBUG'] === '1' && e instanceof Error) io.stderr.write(`${e.stack ?? e.message}\n`);
  if (e instanceof CliError) {
    const [first, ...more] = e.message.split('\n');
    io.stderr.write(`tsbpf: ${first}${e.errno ? ` (${e.errno})` : ''}\n${more.map((l) => l + '\n').join('')}`);
    return e.exitCode;
  }
  if (e instanceof BpfError) {
    io.stderr.write(`tsbpf: ${e.message} (${e.code})\n`);
    return 2;
  }
  const msg = e instanceof Error ? e.message : String(e);
  io.stderr.write(`tsbpf: internal error: ${msg} (set TSBPF_DEBUG=1 for a stack trace)\n`);
  return 70;
}
