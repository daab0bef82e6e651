/**
 * Reading clang-compiled objects: programs in executable sections whose
 * name selects the program type (`socket*` is a socket filter, `xdp`,
 * `tc`...), `license` and `version` sections, the legacy `maps` section of
 * `struct bpf_map_def { type, key_size, value_size, max_entries[,
 * map_flags] }` entries named by their symbols, BTF-defined maps in `.maps`
 * (libbpf's `__uint`/`__type`/`__array` convention, read from the BTF),
 * global data (.data, .rodata, .bss) as one-element array maps referenced
 * with BPF_PSEUDO_MAP_VALUE, and R_BPF_64_64 relocations turning ld_imm64
 * into map references, as libbpf does.
 *
 * Calls are linked as libbpf's bpf_object__reloc_code links them: every
 * function a program reaches by a bpf-to-bpf call (`call` with src_reg 1,
 * relocated by R_BPF_64_32 or already pc-relative inside its section) or
 * by a callback's address (an ld_imm64 relocated against a function, which
 * becomes BPF_PSEUDO_FUNC) is copied once after the program's own code, in
 * the order first met (depth first), and each call's imm is rewritten for
 * that layout; the map references of the copied functions follow them.
 * Which functions are programs follows libbpf: in a program's section each
 * global function is one, and so is a static one nothing calls (libbpf
 * refuses static programs; earlier tsbpf loaded them, and still does);
 * functions of `.text` are only ever called.
 *
 * `loadCollectionSpec` gives the maps and programs as data (inspectable,
 * modifiable; the types are in spec.ts), as cilium/ebpf's elf_reader.go
 * does; turning a spec into live maps and programs is api/collection.ts's
 * business, which this layer knows nothing of. Errors name the section and
 * offset.
 */

import { BpfError } from '../errors.js';
import { decodeSlots, encodeSlots, isLdImm64, isLocalCall } from '../isa/instruction.js';
import type { Slot } from '../isa/instruction.js';
import { escapeControls, parseElf, SHF, SHT, STB, STT, EM_BPF } from '../elf/index.js';
import type { ElfFile, ElfRelocation, ElfSection } from '../elf/index.js';
import { Btf } from '../btf/index.js';
import { btfMaps as readBtfMaps, globalDataBtf } from './btf.js';
import type { BtfMapDef } from './btf.js';
import { ObjectDebugInfo } from './line-info.js';
import { readVariables } from './variables.js';
import { coreRelocator } from './core.js';
import { PROG_TYPES, progTypeByName, progTypeBySection } from '../progs/types.js';
import { ctxStructsOf } from '../verifier/modern/func-info.js';
import type { ProgTypeName } from '../progs/types.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import type { CollectionSpec, FunctionSpec, MapSpecData, OriginSpec, ProgramSpecData } from './spec.js';

/** R_BPF_64_64: an ld_imm64 of a symbol's address (map references). */
export const R_BPF_64_64 = 1;
/**
 * R_BPF_64_32: a call's imm (bpf-to-bpf calls). Clang 14 emits it for a
 * call to a global function (against its symbol, imm -1) and to a static
 * one of another section (against the section's symbol, imm the callee's
 * slot less one). A call to a static function of its own section has none:
 * its imm is already pc-relative.
 */
export const R_BPF_64_32 = 10;
/** R_BPF_64_ABS64: a 64-bit address in data; in `.maps`, a slot of `__array(values, ...)` naming a program or a map. */
const R_BPF_64_ABS64 = 2;
/** ld_imm64's src_reg for a function's address (a callback): imm is its offset from the next slot */
const BPF_PSEUDO_FUNC = 4;
/** st_other's visibility: a hidden global function is verified as a static one by the kernel */
const STV_HIDDEN = 2;
/**
 * The most slots of called functions linking may copy for one object, over
 * all its programs: each program gets its own copy of what it calls, so a
 * hostile object of many programs calling one large function would
 * otherwise cost programs x function size. Real objects stay far below.
 */
export const MAX_LINKED_SLOTS = 1 << 20;

/** Program type from the section name, as bpf_load.c chose it (the table's `sections`). */
function programType(section: string): ProgTypeName | undefined {
  return progTypeBySection(section)?.name as ProgTypeName | undefined;
}

function cstring(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

/**
 * Names index these tables, and names come from the object: a map or a
 * program called `__proto__` or `constructor` must be one more entry, never
 * a prototype's property. Hence Maps here; the spec's records are built with
 * Object.fromEntries (own data properties, whatever the name).
 */
type Named<T> = Map<string, T>;

function addNamed<T>(table: Named<T>, name: string, value: T, what: string): void {
  if (table.has(name)) throw new BpfError('EINVAL', `${what} ${name} is defined twice`);
  table.set(name, value);
}

/**
 * The entries of a legacy maps section, by offset, into `maps`; `at` gets
 * each entry's name by section and offset, for relocations that name the
 * section symbol (clang's choice for a static map) rather than the map's.
 */
function legacyMaps(elf: ElfFile, section: ElfSection, maps: Named<MapSpecData>, at: Map<string, string>): void {
  // by offset: an entry's place in the section, not its symbol's in the symbol table, makes its map's index
  const syms = elf.symbolsIn(section.index).filter((s) => s.name !== '' && s.type !== STT.SECTION).sort((a, b) => a.value - b.value);
  if (syms.length === 0) return;
  const data = section.data();
  // bpf_load.c: the entry size is the section size over the number of map symbols
  const entry = Math.floor(data.length / syms.length);
  if (entry < 16 || entry * syms.length !== data.length) {
    throw new BpfError('EINVAL', `section ${section.name}: ${data.length} bytes do not divide into ${syms.length} struct bpf_map_def entries`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.header.littleEndian;
  for (const s of syms) {
    if (s.value % entry !== 0 || s.value + 16 > data.length) {
      throw new BpfError('EINVAL', `section ${section.name}: map symbol ${s.name} at offset ${s.value} is not at an entry`);
    }
    at.set(`${section.index}:${s.value}`, s.name);
    addNamed(maps, s.name, {
      name: s.name,
      type: view.getUint32(s.value, le),
      keySize: view.getUint32(s.value + 4, le),
      valueSize: view.getUint32(s.value + 8, le),
      maxEntries: view.getUint32(s.value + 12, le),
      flags: entry >= 20 ? view.getUint32(s.value + 16, le) : 0,
    }, 'map');
  }
}

/** The largest global data section: its size becomes the map's value_size, a u32 in union bpf_attr. */
export const MAX_GLOBAL_DATA = 0xffffffff;

/** One function of a section: a function symbol's slots [start, end). */
interface Part {
  name: string;
  start: number;
  end: number;
  /** STB_LOCAL: a static function (a sub-program when something calls it) */
  local: boolean;
  /** STV_HIDDEN: the kernel verifies it as a static function */
  hidden: boolean;
}

/**
 * The programs of an executable section, one per function symbol, else the
 * whole section. A function must cover whole instruction slots inside the
 * section: an st_value of 4 would start a program in the middle of a slot.
 */
function programParts(elf: ElfFile, sec: ElfSection, slotCount: number): Part[] {
  const funcs = elf.symbolsIn(sec.index).filter((s) => s.type === STT.FUNC).sort((a, b) => a.value - b.value);
  if (funcs.length === 0) return [{ name: sec.name, start: 0, end: slotCount, local: false, hidden: false }];
  const parts: Part[] = [];
  let prev: { name: string; end: number } | undefined;
  funcs.forEach((f, i) => {
    const name = f.name || `symbol ${f.index}`;
    const what = `section ${sec.name}: function ${name}`;
    if (f.value % 8 !== 0) throw new BpfError('EINVAL', `${what}: offset ${f.value} is not at an instruction boundary (a multiple of 8)`);
    if (f.size % 8 !== 0) throw new BpfError('EINVAL', `${what}: size ${f.size} is not a multiple of 8`);
    const end = f.size > 0 ? f.value + f.size : funcs[i + 1]?.value ?? sec.size;
    if (end > sec.size) throw new BpfError('EINVAL', `${what}: offset ${f.value} size ${end - f.value} runs past the end of the section (${sec.size} bytes)`);
    if (end === f.value) throw new BpfError('EINVAL', `${what}: at offset ${f.value}: the function is empty`);
    // Overlapping functions would load the same code as many programs:
    // compilers never emit them, and refusing them keeps the work linear in the section.
    if (prev !== undefined && f.value < prev.end) throw new BpfError('EINVAL', `${what}: offset ${f.value} overlaps function ${prev.name} (which ends at ${prev.end})`);
    prev = { name, end };
    parts.push({ name: f.name || sec.name, start: f.value / 8, end: end / 8, local: f.bind === STB.LOCAL, hidden: (f.other & 3) === STV_HIDDEN });
  });
  return parts;
}

/** The part holding a slot, by binary search over parts sorted and apart. */
function partOf(parts: readonly Part[], slot: number): Part | undefined {
  let lo = 0;
  let hi = parts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = parts[mid]!;
    if (slot < p.start) hi = mid - 1;
    else if (slot >= p.end) lo = mid + 1;
    else return p;
  }
  return undefined;
}

/**
 * The same error with control characters escaped: messages quote section,
 * symbol and map names from the object, and must stay one printable line.
 */
export function printable(e: unknown): unknown {
  if (!(e instanceof BpfError)) return e;
  const message = escapeControls(e.message);
  return message === e.message ? e : new BpfError(e.code, message, { command: e.command, log: e.log, cause: e.cause });
}

/** Read an object's maps and programs as data. Errors name the section and offset. */
export function loadCollectionSpec(bytes: Uint8Array): CollectionSpec {
  try {
    return readCollectionSpec(bytes);
  } catch (e) {
    throw printable(e);
  }
}

function readCollectionSpec(bytes: Uint8Array): CollectionSpec {
  const elf = parseElf(bytes);
  if (elf.header.machine !== EM_BPF && elf.header.machine !== 0) {
    throw new BpfError('EINVAL', `elf: machine ${elf.header.machine} is not BPF (247)`);
  }
  if (!elf.header.littleEndian) throw new BpfError('ENOTSUP', 'big-endian BPF objects are not supported');
  const licenseSec = elf.sectionByName('license');
  const license = licenseSec ? cstring(licenseSec.data()) : '';
  // data(), not size: a SHT_NOBITS section has a size and no bytes
  const versionData = elf.sectionByName('version')?.data();
  const version = versionData && versionData.length >= 4 ? new DataView(versionData.buffer, versionData.byteOffset, versionData.byteLength).getUint32(0, true) : 0;
  // The order of this table is the order maps are created in (and so of
  // their fds, and of listings): the legacy `maps` sections' entries by
  // offset, as 3.19's bpf_load.c created them; then the BTF-defined maps in
  // the order of the .maps DATASEC's variables; then global data by section,
  // as libbpf does. Never symbol-table order, which clang does not promise.
  const maps: Named<MapSpecData> = new Map();
  const legacyAt = new Map<string, string>();
  for (const s of elf.sections) {
    if (s.name === 'maps' || s.name.startsWith('maps/')) legacyMaps(elf, s, maps, legacyAt);
  }
  const mapSections = new Set(elf.sections.filter((s) => s.name === 'maps' || s.name.startsWith('maps/')).map((s) => s.index));
  const btfMaps = elf.sectionByName('.maps');
  const btfDefs: Named<BtfMapDef> = new Map();
  // the BTF, read once when the maps or the line records need it
  let btf: Btf | undefined;
  const btfSec = elf.sectionByName('.BTF');
  if (btfMaps) {
    // BTF-defined maps: their definitions are in the BTF, their symbols in .maps
    if (!btfSec) throw new BpfError('EINVAL', 'section .maps: BTF-defined maps need the .BTF section (compile with -g)');
    btf = new Btf(btfSec.data());
    // clang leaves the DATASEC's offsets 0 (libbpf fixes them from the
    // symbols): where each definition lies in .maps is its symbol's
    const syms = new Map(elf.symbolsIn(btfMaps.index).filter((x) => x.type === STT.OBJECT).map((x) => [x.name, x]));
    for (const [name, m] of readBtfMaps(btf)) {
      addNamed(maps, name, m.spec, 'map');
      const sym = syms.get(name);
      btfDefs.set(name, { ...m, offset: sym?.value ?? 0, size: sym?.size ?? 0 });
    }
    mapSections.add(btfMaps.index);
  }
  // global data: each .data/.rodata/.bss section is a one-element array map holding the section
  const dataSections = new Map<number, string>();
  for (const s of elf.sections) {
    if (!/^\.(data|rodata|bss)(\.|$)/.test(s.name) || (s.type !== SHT.PROGBITS && s.type !== SHT.NOBITS) || s.size === 0) continue;
    // A .bss costs no file bytes, so its size is the object's word alone:
    // refuse before anything is sized by it.
    if (s.size > MAX_GLOBAL_DATA) {
      throw new BpfError('E2BIG', `section ${s.name}: ${s.size} bytes of global data do not fit a map value (at most ${MAX_GLOBAL_DATA} bytes)`);
    }
    const m: MapSpecData = { name: s.name, type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: s.size, maxEntries: 1, flags: 0 };
    // .bss needs no initial value: an array map's value starts zeroed.
    if (s.type === SHT.PROGBITS) m.initial = s.data().slice();
    // its DATASEC with the variables where their symbols are: a readable dump of the section
    if (btfSec) {
      btf ??= new Btf(btfSec.data());
      const types = globalDataBtf(btf, s.name, s.size, elf.symbolsIn(s.index).filter((x) => x.type === STT.OBJECT));
      if (types) m.btf = types;
    }
    addNamed(maps, s.name, m, 'map');
    dataSections.set(s.index, s.name);
  }

  // Every executable section is read (programs' and .text), its relocations
  // resolved to maps, calls and callbacks; then each program is linked.
  const relocs = elf.relocations();
  const codes = new Map<number, Code>();
  const core = coreRelocator(elf);
  for (const sec of elf.sections) {
    if (sec.type !== SHT.PROGBITS || (sec.flags & SHF.EXECINSTR) === 0 || sec.size === 0) continue;
    const type = programType(sec.name);
    if (!type && sec.name !== '.text') {
      throw new BpfError('ENOTSUP', `section ${sec.name}: program type not supported (only ${PROG_TYPES.flatMap((t) => t.sections.map((p) => `${p}*`)).join(', ')} sections so far)`);
    }
    if (sec.size % 8 !== 0) throw new BpfError('EINVAL', `section ${sec.name}: size ${sec.size} is not a multiple of 8`);
    const slots = decodeSlots(sec.data());
    // CO-RE first: the relocated instructions are what calls and maps are linked into
    core?.(slots, sec.name);
    codes.set(sec.index, { sec, type, slots, parts: [], refs: new Map() });
  }
  for (const code of codes.values()) {
    readRelocations(elf, code, relocs.get(code.sec.index) ?? [], codes, { maps, mapSections, dataSections, legacyAt });
    code.parts = programParts(elf, code.sec, code.slots.length);
  }
  // the functions something calls or takes the address of: a static one of a program's section is then not a program
  const called = new Set<string>();
  for (const code of codes.values()) {
    code.slots.forEach((s, i) => {
      const ref = code.refs.get(i);
      if (ref !== undefined && ref.kind !== 'map') called.add(`${ref.code}:${ref.insn}`);
      else if (ref === undefined && isLocalCall(s)) called.add(`${code.sec.index}:${i + s.imm + 1}`);
    });
  }

  const programs: Named<ProgramSpecData> = new Map();
  const debug = ObjectDebugInfo.of(elf, btf);
  const budget = { left: MAX_LINKED_SLOTS };
  for (const code of codes.values()) {
    if (code.type === undefined) continue; // .text: only ever called
    for (const p of code.parts) {
      if (p.local && called.has(`${code.sec.index}:${p.start}`)) continue;
      const linked = link(codes, code, p, maps, budget);
      // the .BTF.ext line and function records of every run of instructions the program was linked from
      const runs = linked.origins.map((o) => ({ section: o.section, sectionInsn: o.sectionInsn, count: o.count, progInsn: o.insn }));
      const info = debug.program(runs, ctxStructsOf(progTypeByName(code.type).id));
      addNamed(programs, p.name, { name: p.name, section: code.sec.name, type: code.type, ...linked, ...info }, 'program');
    }
  }
  if (btfMaps) mapContents(elf, btfMaps, relocs.get(btfMaps.index) ?? [], btfDefs, maps, programs);
  const mapRecord: Record<string, MapSpecData> = Object.fromEntries(maps);
  const variables = readVariables(elf, dataSections, mapRecord);
  return { maps: mapRecord, programs: Object.fromEntries(programs), license, version, variables };
}

/** An executable section read for linking. */
interface Code {
  sec: ElfSection;
  /** the program type its name selects; undefined for .text */
  type: ProgTypeName | undefined;
  slots: Slot[];
  /** its functions, sorted and apart */
  parts: Part[];
  /** what each relocated slot refers to: a map, or a function's slot (`code` a section index) called or taken as a callback */
  refs: Map<number, { kind: 'map'; map: string; offset?: number } | { kind: 'call' | 'func'; code: number; insn: number }>;
}

/** What relocations against data resolve with. */
interface DataTables {
  maps: Named<MapSpecData>;
  mapSections: Set<number>;
  dataSections: Map<number, string>;
  legacyAt: Map<string, string>;
}

/**
 * A code section's relocations: R_BPF_64_32 on calls, R_BPF_64_64 on
 * ld_imm64 of a map, of global data, or of a function (a callback). Each is
 * checked where it stands; a call's target, whether it is the start of a
 * function, when a program reaches it.
 */
function readRelocations(elf: ElfFile, code: Code, list: readonly ElfRelocation[], codes: ReadonlyMap<number, Code>, t: DataTables): void {
  const { sec, slots, refs } = code;
  for (const r of list) {
    const where = `relocation at offset ${r.offset} in section ${sec.name}`;
    if (r.offset % 8 !== 0 || r.offset / 8 >= slots.length) throw new BpfError('EINVAL', `${where}: outside the program`);
    const slot = r.offset / 8;
    const s = slots[slot]!;
    const targetSec = elf.sections[r.symbol.shndx];
    const symName = r.symbol.name || (r.symbol.shndx === 0 ? `symbol ${r.symbol.index}` : targetSec?.name ?? `section ${r.symbol.shndx}`);
    const targetCode = r.symbol.shndx === 0 ? undefined : codes.get(r.symbol.shndx);
    // the target's byte offset in its section, checked to be a whole slot of it
    const inCode = (off: number, what: string): number => {
      const tc = targetCode!;
      if (off % 8 !== 0) throw new BpfError('EINVAL', `${where}: ${what} ${symName} at offset ${off} of section ${tc.sec.name} is not at an instruction boundary (a multiple of 8)`);
      if (off < 0 || off / 8 >= tc.slots.length) throw new BpfError('EINVAL', `${where}: ${what} ${symName} at offset ${off} is outside section ${tc.sec.name} (${tc.sec.size} bytes)`);
      return off / 8;
    };
    if (r.type === R_BPF_64_32) {
      if (!isLocalCall(s)) throw new BpfError('EINVAL', `${where}: R_BPF_64_32 on an instruction that is not a bpf-to-bpf call (opcode 0x${s.code.toString(16).padStart(2, '0')}, src_reg ${s.src})`);
      if (r.symbol.shndx === 0) throw new BpfError('ENOTSUP', `${where}: call to ${symName}, which this object does not define (extern functions and kfuncs are not supported)`);
      if (targetCode === undefined) throw new BpfError('EINVAL', `${where}: call to ${symName} in ${targetSec?.name ?? `section ${r.symbol.shndx}`}, which is not code`);
      // libbpf: the callee's slot is the symbol's plus imm + 1 (a global's symbol with imm -1, a static's section symbol)
      refs.set(slot, { kind: 'call', code: targetCode.sec.index, insn: inCode(r.symbol.value + (s.imm + 1) * 8, 'call to') });
      continue;
    }
    if (r.type !== R_BPF_64_64) throw new BpfError('ENOTSUP', `relocation type ${r.type} in section ${sec.name} is not supported`);
    if (!isLdImm64(s)) throw new BpfError('EINVAL', `${where}: not an ld_imm64`);
    if (slot + 1 >= slots.length) throw new BpfError('EINVAL', `${where}: the ld_imm64 is cut off by the end of the section`);
    if (targetCode !== undefined) {
      // a function's address (a callback): the symbol's offset plus what clang left in imm
      refs.set(slot, { kind: 'func', code: targetCode.sec.index, insn: inCode(r.symbol.value + s.imm, 'address of') });
      continue;
    }
    const data = t.dataSections.get(r.symbol.shndx);
    if (data !== undefined) {
      // the offset into the section: the symbol's value plus what clang left in imm
      const offset = r.symbol.value + s.imm;
      const size = t.maps.get(data)!.valueSize;
      if (offset < 0 || offset >= size) throw new BpfError('EINVAL', `${where}: offset ${offset} is outside ${data} (${size} bytes)`);
      refs.set(slot, { kind: 'map', map: data, offset });
      continue;
    }
    if (!t.mapSections.has(r.symbol.shndx)) {
      const target = targetSec?.name ?? `section ${r.symbol.shndx}`;
      throw new BpfError('ENOTSUP', `${where}: a reference to ${r.symbol.name || target} in ${target} is not supported`);
    }
    if (r.symbol.type === STT.SECTION) {
      // a static map: the section's symbol, the entry's offset left by clang in imm
      const offset = r.symbol.value + s.imm;
      const name = t.legacyAt.get(`${r.symbol.shndx}:${offset}`);
      if (name === undefined) throw new BpfError('EINVAL', `${where}: offset ${offset} in section ${targetSec?.name ?? r.symbol.shndx} is not the start of a map`);
      s.imm = 0;
      refs.set(slot, { kind: 'map', map: name });
      continue;
    }
    refs.set(slot, { kind: 'map', map: r.symbol.name });
  }
}

/**
 * A program: its function's slots, then every function it reaches, each
 * once, depth first in the order met (libbpf's bpf_object__reloc_code), each
 * call's and callback's imm rewritten for this layout. A call into the
 * calling function itself stays as it is; any other must land on a
 * function's first slot. Recursion is left for the verifier to refuse.
 */
function link(codes: ReadonlyMap<number, Code>, code: Code, part: Part, maps: Named<MapSpecData>, budget: { left: number }):
  Pick<ProgramSpecData, 'insns' | 'mapRefs'> & { functions: FunctionSpec[]; origins: OriginSpec[] } {
  const insns: Slot[] = [];
  const mapRefs: ProgramSpecData['mapRefs'] = [];
  const functions: FunctionSpec[] = [];
  const origins: OriginSpec[] = [];
  const placed = new Map<Part, number>();
  const place = (c: Code, p: Part): number => {
    const base = insns.length;
    if (base > 0) {
      budget.left -= p.end - p.start;
      if (budget.left < 0) throw new BpfError('E2BIG', `section ${c.sec.name}: linking the object's programs copies more than ${MAX_LINKED_SLOTS} slots of called functions`);
    }
    placed.set(p, base);
    for (let i = p.start; i < p.end; i++) insns.push({ ...c.slots[i]! });
    functions.push({ name: p.name, insn: base, global: !p.local && !p.hidden });
    origins.push({ section: c.sec.name, sectionInsn: p.start, insn: base, count: p.end - p.start });
    return base;
  };
  const stack = [{ c: code, p: part, base: place(code, part), i: part.start }];
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.i >= f.p.end) {
      stack.pop();
      continue;
    }
    const i = f.i++;
    const s = f.c.slots[i]!;
    const at = f.base + i - f.p.start;
    const ref = f.c.refs.get(i);
    if (ref !== undefined && ref.kind !== 'call' && i + 1 >= f.p.end) {
      throw new BpfError('EINVAL', `section ${f.c.sec.name}: ld_imm64 at slot ${i} is cut off by the end of function ${f.p.name}`);
    }
    if (ref?.kind === 'map') {
      if (!maps.has(ref.map)) throw new BpfError('EINVAL', `section ${f.c.sec.name}: ld_imm64 at slot ${i} refers to unknown map ${ref.map}`);
      mapRefs.push(ref.offset === undefined ? { slot: at, map: ref.map } : { slot: at, map: ref.map, offset: ref.offset });
      continue;
    }
    if (ref === undefined && !isLocalCall(s)) continue;
    const tc = ref === undefined ? f.c : codes.get(ref.code)!;
    const target = ref === undefined ? i + s.imm + 1 : ref.insn;
    const where = `section ${f.c.sec.name}: ${ref?.kind === 'func' ? 'callback address' : 'call'} at offset ${i * 8}`;
    if (target < 0 || target >= tc.slots.length) throw new BpfError('EINVAL', `${where}: target insn ${target} is outside the section (${tc.slots.length} insns)`);
    let pos: number;
    if (tc === f.c && target >= f.p.start && target < f.p.end) {
      pos = f.base + target - f.p.start;
    } else {
      const tp = partOf(tc.parts, target);
      if (tp === undefined) throw new BpfError('EINVAL', `${where}: target insn ${target} of section ${tc.sec.name} is in no function`);
      if (tp.start !== target) throw new BpfError('EINVAL', `${where}: target insn ${target} of section ${tc.sec.name} is inside function ${tp.name} (which starts at insn ${tp.start}), not at its start`);
      let base = placed.get(tp);
      if (base === undefined) {
        base = place(tc, tp);
        stack.push({ c: tc, p: tp, base, i: tp.start });
      }
      pos = base;
    }
    const out = insns[at]!;
    out.imm = pos - at - 1;
    if (ref?.kind === 'func') out.src = BPF_PSEUDO_FUNC;
  }
  mapRefs.sort((a, b) => a.slot - b.slot);
  return { insns, mapRefs, functions, origins };
}

/**
 * `.rel.maps`: R_BPF_64_ABS64 relocations in the definitions of maps with
 * `__array(values, ...)`, each naming what goes in one slot: a program (a
 * prog array) or a map (a map of maps), as libbpf's
 * bpf_object__collect_map_relos reads them.
 */
function mapContents(elf: ElfFile, sec: ElfSection, list: readonly ElfRelocation[], defs: Named<BtfMapDef>, maps: Named<MapSpecData>, programs: Named<ProgramSpecData>): void {
  const contents = new Map<string, Map<number, string>>();
  // by offset, for a binary search per relocation
  const sorted = [...defs.values()].sort((a, b) => a.offset - b.offset);
  const defAt = (off: number): BtfMapDef | undefined => {
    let lo = 0;
    let hi = sorted.length - 1;
    let found: BtfMapDef | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.offset <= off) {
        found = sorted[mid];
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found !== undefined && off < found.offset + found.size ? found : undefined;
  };
  for (const r of list) {
    const where = `relocation at offset ${r.offset} in section ${sec.name}`;
    if (r.type !== R_BPF_64_ABS64) throw new BpfError('ENOTSUP', `relocation type ${r.type} in section ${sec.name} is not supported`);
    const def = defAt(r.offset);
    if (def === undefined) throw new BpfError('EINVAL', `${where}: not inside a map's definition`);
    const m = def.spec;
    if (def.values === undefined) throw new BpfError('EINVAL', `${where}: map ${m.name} has no __array(values, ...) to fill`);
    const at = r.offset - def.offset - def.values.offset;
    if (at < 0 || at % 8 !== 0) throw new BpfError('EINVAL', `${where}: not a slot of map ${m.name}'s values`);
    const index = at / 8;
    if (index >= m.maxEntries) throw new BpfError('E2BIG', `${where}: slot ${index} of map ${m.name} is past its max_entries ${m.maxEntries}`);
    if (m.keySize !== 4) throw new BpfError('EINVAL', `${where}: map ${m.name} has ${m.keySize}-byte keys; slots filled by __array(values, ...) need 4-byte keys`);
    const name = r.symbol.name;
    if (def.values.kind === 'program') {
      const p = programs.get(name);
      if (r.symbol.type !== STT.FUNC || p === undefined || elf.sections[r.symbol.shndx]?.name !== p.section) {
        throw new BpfError('EINVAL', `${where}: slot ${index} of prog array ${m.name} names ${name || `symbol ${r.symbol.index}`}, which is not a program`);
      }
    } else if (!maps.has(name) || r.symbol.shndx !== sec.index || name === m.name) {
      throw new BpfError('EINVAL', `${where}: slot ${index} of map ${m.name} names ${name || `symbol ${r.symbol.index}`}, which is not another map of ${sec.name}`);
    }
    let slots = contents.get(m.name);
    if (slots === undefined) contents.set(m.name, slots = new Map());
    slots.set(index, name);
  }
  for (const [name, slots] of contents) {
    maps.get(name)!.contents = [...slots].sort((a, b) => a[0] - b[0]).map(([index, n]) => ({ index, name: n }));
  }
}

/**
 * Point each ld_imm64 at its map: BPF_PSEUDO_MAP_FD (src 1, imm = the fd), or
 * for global data BPF_PSEUDO_MAP_VALUE (src 2, the offset in the second slot).
 * A reference that is not the first slot of a whole ld_imm64 is EINVAL.
 */
export function linkMapRefs(slots: Slot[], refs: readonly { slot: number; fd: number; offset?: number | undefined }[]): void {
  for (const ref of refs) {
    const s = slots[ref.slot];
    const next = slots[ref.slot + 1];
    if (!Number.isInteger(ref.slot) || s === undefined || next === undefined || !isLdImm64(s)) {
      throw new BpfError('EINVAL', `map reference at slot ${ref.slot}: not the first slot of an ld_imm64 (${slots.length} slots)`);
    }
    s.src = ref.offset === undefined ? 1 : 2;
    s.imm = ref.fd;
    if (ref.offset !== undefined) next.imm = ref.offset;
  }
}
