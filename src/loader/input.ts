/**
 * Program inputs as a library: every form a program comes in (assembly text,
 * a JSON program spec, a clang-compiled ELF object, classic BPF as tcpdump
 * -dd / -ddd text or raw `struct sock_filter` bytes, raw 8-byte instruction
 * slots), detected from its content and turned into what BPF_PROG_LOAD takes:
 * the raw instruction slots, the program type and license, the maps to
 * create and the slots to point at them (fixups).
 *
 * The slots are passed on as they are: nothing here decodes them strictly.
 * 3.19's bpf() takes any instructions and lets its verifier judge them (`R15
 * is invalid`, `invalid BPF_ALU opcode f0`, `invalid bpf_ld_imm64 insn`...),
 * so a program with junk in it reaches the verifier and gets the kernel's
 * verdict and log. What is refused here is what is not a program at all: a
 * file format that does not parse, bytes that are not whole slots, an empty
 * program, a spec field of the wrong type. The assembler may still refuse
 * text it cannot encode. The CLI (cli/) and Program.load (api/) both read
 * their inputs through programInput.
 */

import type { FuncSpan } from './line-info.js';
import { BpfError } from '../errors.js';
import type { Slot } from '../isa/instruction.js';
import { decodeSlots, isLdImm64, toSlots } from '../isa/instruction.js';
import { assemble } from '../isa/asm.js';
import { loadCollectionSpec } from './collection.js';
import { parseVariableText, setVariables, variableNamed } from './variables.js';
import type { MapBtf, MapSpecData } from './spec.js';
import { convertClassic, decodeClassic, detectClassicText, parseClassicText } from '../cbpf/index.js';
import type { SockFilter } from '../cbpf/index.js';
import { MAP_TYPES, findMapType, findMapTypeByName, unsupportedMapType } from '../maps/types.js';
import { PROG_TYPE_NAMES } from '../progs/types.js';
import type { ProgTypeName } from '../progs/types.js';
import type { SourceLine } from '../verifier/source-lines.js';

/** How a program was given: an ELF object, a JSON program spec, assembly text, classic BPF, raw slots. */
export type InputFormat = 'elf' | 'spec' | 'asm' | 'cbpf' | 'raw';

/** A map a program input needs created before its load (`type` is a map type name, e.g. 'hash'). */
export interface InputMapSpec {
  /** the object's symbol name, or a JSON spec's optional `name` */
  name?: string;
  type: string;
  key_size: number;
  value_size: number;
  max_entries: number;
  flags?: number;
  /** objects' global data: the value of element 0 */
  initial?: Uint8Array;
  /** objects' maps of maps: the inner map's template (`__array(values, struct inner)`) */
  inner?: InputMapSpec;
  /** objects' maps of maps: the map at each index, by its index in the input's `maps` (`.values = { [i] = &m }`) */
  contents?: [number, number][];
  /** objects' BTF-defined maps: the key and value types, for readable dumps */
  btf?: MapBtf;
}

/** A map reference: [slot, map index] or, for global data, [slot, map index, offset into the value]. */
export type InputFixup = [number, number] | [number, number, number];

/** A program as BPF_PROG_LOAD takes it, with the maps it needs. */
export interface ProgramInput {
  format: InputFormat;
  /** the classic program, for classic BPF input (before its conversion to eBPF) */
  classic?: SockFilter[];
  /** the raw instruction slots, never decoded strictly: the verifier judges them */
  slots: Slot[];
  progType: ProgTypeName;
  license: string;
  /** the maps to create, in creation order (an object's maps in its loader's order) */
  maps: InputMapSpec[];
  /** the ld_imm64 slots to point at maps[index] (BPF_PSEUDO_MAP_FD, or BPF_PSEUDO_MAP_VALUE with an offset) */
  fixups: InputFixup[];
  /** the names of maps[i], for objects */
  mapNames?: string[];
  /** for objects: the program's function name and section */
  name?: string;
  section?: string;
  /** for objects compiled with -g: the program's line records and functions (.BTF.ext), program-relative */
  lineInfo?: SourceLine[];
  funcInfo?: FuncSpan[];
}

/** Options of programInput. */
export interface ProgramInputOptions {
  /** read raw bytes as classic `struct sock_filter` instructions (there is no telling them from eBPF by content) */
  classic?: boolean;
  /** for an object with several programs: the section or function name of the one to take */
  section?: string;
  /**
   * for an object: variables of its global data set before its maps are
   * made (as `spec.variables[name].set(value)`; an unknown name is ENOENT,
   * a value that does not fit EINVAL)
   */
  variables?: Readonly<Record<string, unknown>>;
  /** the same with each value as text, read by the variable's type (the CLI's `--set NAME=VALUE`; parseVariableText) */
  variableText?: Readonly<Record<string, string>>;
}

/** `"a", "b" or "c"` */
const orList = (names: readonly string[]): string =>
  names.length < 2 ? names.map((n) => `"${n}"`).join('') : `${names.slice(0, -1).map((n) => `"${n}"`).join(', ')} or "${names[names.length - 1]}"`;

/** Whether bytes start with the ELF magic (\x7fELF). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * The format of a program from its content: ELF by its magic, text that is a
 * JSON object a spec, tcpdump -dd / -ddd text classic BPF, other text
 * assembly, and anything that is not text raw slots.
 */
export function detectFormat(bytes: Uint8Array): InputFormat {
  if (isElf(bytes)) return 'elf';
  if (!isText(bytes)) return 'raw';
  const text = new TextDecoder().decode(bytes);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') && isJsonObject(trimmed)) return 'spec';
  // tcpdump -dd: `{ 0x28, 0, 0, 0x0000000c },`; -ddd: a count line then `40 0 0 12` lines.
  if (detectClassicText(text)) return 'cbpf';
  return 'asm';
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    // `{` starting text that is not JSON: a spec with a syntax error is still
    // a spec (so the error says so) unless it is tcpdump -dd output.
    return /"insns"\s*:/.test(text);
  }
}

function isText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * A program from its bytes or text, in any input format (detected from the
 * content; `options.classic` reads raw bytes as classic BPF). The slots are
 * as given: junk instructions are the verifier's to refuse at load.
 */
export function programInput(input: Uint8Array | string, options: ProgramInputOptions = {}): ProgramInput {
  let bytes: Uint8Array;
  if (typeof input === 'string') bytes = new TextEncoder().encode(input);
  else if (input instanceof Uint8Array) bytes = input;
  else throw new BpfError('EINVAL', `a program input must be a Uint8Array or a string, got ${input === null ? 'null' : typeof input}`);
  const detected = detectFormat(bytes);
  const format = options.classic && detected === 'raw' ? 'cbpf' : detected;
  const setting = Object.keys(options.variables ?? {}).length + Object.keys(options.variableText ?? {}).length > 0;
  if (setting && format !== 'elf') {
    const what = { spec: 'a JSON program spec', asm: 'assembly', cbpf: 'classic BPF', raw: 'raw instruction slots' }[format];
    throw new BpfError('EINVAL', `variables are set in an object's global data; this program is ${what}`);
  }
  const base = { format, progType: 'socket_filter' as ProgTypeName, license: 'GPL', maps: [] as InputMapSpec[], fixups: [] as InputFixup[] };
  switch (format) {
    case 'elf':
      return fromObject(bytes, options);
    case 'cbpf': {
      // checked as the kernel's classic checker does (sk_chk_filter), then converted to eBPF
      const classic = detected === 'raw' ? decodeClassic(bytes) : parseClassicText(new TextDecoder().decode(bytes));
      const { insns } = convertClassic(classic);
      return { ...base, slots: toSlots(insns), classic };
    }
    case 'raw': {
      const slots = decodeSlots(bytes);
      if (slots.length === 0) throw new BpfError('EINVAL', 'the program is empty');
      return { ...base, slots };
    }
    case 'asm': {
      const insns = assemble(new TextDecoder().decode(bytes));
      if (insns.length === 0) throw new BpfError('EINVAL', 'the program has no instructions');
      return { ...base, slots: toSlots(insns) };
    }
    case 'spec':
      return parseSpec(new TextDecoder().decode(bytes));
  }
}

/** A program of a clang-compiled object, with every map of the object (in creation order) and its references as fixups. */
function fromObject(bytes: Uint8Array, options: ProgramInputOptions): ProgramInput {
  try {
    return objectProgram(bytes, options);
  } catch (e) {
    // the messages quote program and map names from the object (and --section)
    if (e instanceof BpfError && oneLine(e.message) !== e.message) throw new BpfError(e.code, oneLine(e.message), { command: e.command, log: e.log, cause: e.cause });
    throw e;
  }
}

function objectProgram(bytes: Uint8Array, options: ProgramInputOptions): ProgramInput {
  const { section } = options;
  const spec = loadCollectionSpec(bytes);
  // variables first: the maps below take their sections' initial values
  // without a prototype: a variable may be called __proto__
  const values = Object.assign(Object.create(null) as Record<string, unknown>, options.variables);
  for (const [name, text] of Object.entries(options.variableText ?? {})) values[name] = parseVariableText(variableNamed(spec.variables, name), text);
  setVariables(spec.variables, values);
  const progs = Object.values(spec.programs);
  if (progs.length === 0) throw new BpfError('EINVAL', 'the object has no program sections');
  let prog = progs[0]!;
  if (section !== undefined) {
    // a function name, a section name, or both as the listings print them (`section/name`)
    const found = progs.filter((p) => p.name === section || p.section === section || `${p.section}/${p.name}` === section);
    if (found.length !== 1) {
      throw new BpfError('EINVAL', `${found.length === 0 ? 'no' : 'more than one'} program with section or name '${section}' (programs: ${progs.map((p) => `${p.section}/${p.name}`).join(', ')})`);
    }
    prog = found[0]!;
  } else if (progs.length > 1) {
    throw new BpfError('EINVAL', `the object has ${progs.length} programs: pick one with --section (${progs.map((p) => `${p.section}/${p.name}`).join(', ')})`);
  }
  const mapNames = Object.keys(spec.maps);
  const indexOf = new Map(mapNames.map((n, i) => [n, i]));
  const inputMap = (n: string, m: MapSpecData): InputMapSpec => {
    const type = findMapType(m.type);
    if (!type) throw new BpfError('ENOTSUP', `map ${n}: ${unsupportedMapType(m.type)}`);
    const out: InputMapSpec = { name: n, type: type.name, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries };
    if (m.flags) out.flags = m.flags;
    if (m.initial) out.initial = m.initial;
    if (m.inner) out.inner = inputMap(m.inner.name, m.inner);
    if (m.btf) out.btf = m.btf;
    // a prog array's programs are not this one program's to load: only maps of maps keep their contents
    const maps = (m.contents ?? []).filter((c) => indexOf.has(c.name) && type.name !== 'prog_array');
    if (maps.length > 0) out.contents = maps.map((c) => [c.index, indexOf.get(c.name)!]);
    return out;
  };
  const maps: InputMapSpec[] = mapNames.map((n) => inputMap(n, spec.maps[n]!));
  const fixups = prog.mapRefs.map((r): InputFixup => {
    const index = indexOf.get(r.map);
    if (index === undefined) throw new BpfError('EINVAL', `program ${prog.name}: slot ${r.slot} refers to unknown map ${r.map}`);
    return r.offset === undefined ? [r.slot, index] : [r.slot, index, r.offset];
  });
  const slots = prog.insns.map((s) => ({ ...s }));
  const input: ProgramInput = { format: 'elf', slots, progType: prog.type, license: spec.license, maps, fixups, mapNames, name: prog.name, section: prog.section };
  if (prog.lineInfo) input.lineInfo = prog.lineInfo;
  if (prog.funcInfo) input.funcInfo = prog.funcInfo;
  return input;
}

/**
 * The JSON program spec (docs/cli.md): `{"prog_type", "license", "maps",
 * "insns": ["16 hex digits", ...], "fixups": [[slot, map index], ...]}`.
 * The slots are taken as written; a fixup must name an ld_imm64 slot, as it
 * says which instruction loads the map.
 */
export function parseSpec(text: string): ProgramInput {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error, line breaks included: the message must stay one line
    throw new BpfError('EINVAL', `invalid JSON: ${oneLine((e as Error).message)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BpfError('EINVAL', 'a program spec must be a JSON object');
  const o = doc as Record<string, unknown>;
  const known = new Set(['prog_type', 'license', 'maps', 'insns', 'fixups', 'name', 'description']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new BpfError('EINVAL', `unknown field '${k}' in program spec`);
  if (!('insns' in o)) throw new BpfError('EINVAL', "a program spec needs 'insns', an array of 16-hex-digit strings");
  if (!Array.isArray(o['insns'])) throw new BpfError('EINVAL', "'insns' must be an array of 16-hex-digit strings");
  const insnsHex = o['insns'] as unknown[];
  if (insnsHex.length === 0) throw new BpfError('EINVAL', "'insns' is empty");
  const bytes = new Uint8Array(insnsHex.length * 8);
  insnsHex.forEach((h, i) => {
    if (typeof h !== 'string' || !/^[0-9a-fA-F]{16}$/.test(h)) {
      throw new BpfError('EINVAL', `insns[${i}] must be a string of 16 hex digits, got ${JSON.stringify(h)}`);
    }
    for (let j = 0; j < 8; j++) bytes[i * 8 + j] = parseInt(h.slice(2 * j, 2 * j + 2), 16);
  });
  const progType = o['prog_type'] ?? 'socket_filter';
  if (typeof progType !== 'string' || !(PROG_TYPE_NAMES as readonly string[]).includes(progType)) {
    throw new BpfError('EINVAL', `unknown prog_type ${JSON.stringify(progType)} (expected one of ${PROG_TYPE_NAMES.join(', ')})`);
  }
  const license = o['license'] ?? 'GPL';
  if (typeof license !== 'string') throw new BpfError('EINVAL', "'license' must be a string");
  const maps = o['maps'] ?? [];
  if (!Array.isArray(maps)) throw new BpfError('EINVAL', "'maps' must be an array");
  const fixups = o['fixups'] ?? [];
  if (!Array.isArray(fixups) || !fixups.every((f) => Array.isArray(f) && f.length === 2 && f.every((x) => Number.isInteger(x) && x >= 0))) {
    throw new BpfError('EINVAL', "'fixups' must be an array of [slot, map_index] pairs of non-negative integers");
  }
  const mapSpecs = maps.map((m, i) => parseMapSpec(m, i));
  const slots = decodeSlots(bytes);
  for (const [slot, index] of fixups as [number, number][]) {
    if (index >= mapSpecs.length) throw new BpfError('EINVAL', `fixup [${slot}, ${index}]: there is no maps[${index}]`);
    if (slot >= slots.length || !isLdImm64(slots[slot]!)) {
      throw new BpfError('EINVAL', `fixup [${slot}, ${index}]: slot ${slot} is not an ld_imm64`);
    }
    // the map's fd goes into the first slot, a global data offset into the second
    if (slot + 1 >= slots.length) throw new BpfError('EINVAL', `fixup [${slot}, ${index}]: the ld_imm64 at slot ${slot} has no second slot`);
  }
  return { format: 'spec', slots, progType: progType as ProgTypeName, license, maps: mapSpecs, fixups: fixups as [number, number][] };
}

function parseMapSpec(m: unknown, i: number): InputMapSpec {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new BpfError('EINVAL', `maps[${i}] must be an object`);
  const o = m as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['type', 'key_size', 'value_size', 'max_entries', 'flags', 'name'].includes(k)) throw new BpfError('EINVAL', `maps[${i}]: unknown field '${k}'`);
  }
  if (!findMapTypeByName(o['type'])) throw new BpfError('EINVAL', `maps[${i}].type must be ${orList(MAP_TYPES.map((t) => t.name))}`);
  const int = (k: string, required: boolean): number => {
    const v = o[k];
    if (v === undefined && !required) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new BpfError('EINVAL', `maps[${i}].${k} must be an unsigned 32-bit integer`);
    }
    return v;
  };
  const name = o['name'];
  if (name !== undefined && (typeof name !== 'string' || oneLine(name) !== name)) throw new BpfError('EINVAL', `maps[${i}].name must be a string of printable characters`);
  const spec: InputMapSpec = { type: o['type'] as string, key_size: int('key_size', true), value_size: int('value_size', true), max_entries: int('max_entries', true) };
  const flags = int('flags', false);
  if (flags) spec.flags = flags;
  if (name !== undefined) spec.name = name;
  return spec;
}

/** Control characters (but tab) and line breaks written as escapes, so a message quoting input stays one printable line. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
