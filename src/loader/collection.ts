/**
 * Reading clang-compiled objects, 3.19-era layout: programs in executable
 * sections whose name selects the program type (as the kernel samples'
 * bpf_load.c does: `socket*` is a socket filter), `license` and `version`
 * sections, the legacy `maps` section of `struct bpf_map_def { type,
 * key_size, value_size, max_entries[, map_flags] }` entries named by their
 * symbols, and R_BPF_64_64 relocations turning ld_imm64 into map references.
 * A section may hold several programs, one per function symbol.
 *
 * `loadCollectionSpec` gives the maps and programs as data (inspectable,
 * modifiable; the types are in spec.ts), as cilium/ebpf's elf_reader.go
 * does; turning a spec into live maps and programs is api/collection.ts's
 * business, which this layer knows nothing of. BTF-defined maps in `.maps`
 * (libbpf's `__uint`/`__type` convention) are read from the BTF. Global
 * data (.data, .rodata, .bss) becomes one-element array maps referenced
 * with BPF_PSEUDO_MAP_VALUE, as libbpf does. What is not supported yet
 * (bpf-to-bpf calls) is a precise error.
 */

import { BpfError } from '../errors.js';
import { decodeSlots, encodeSlots, isLdImm64 } from '../isa/instruction.js';
import type { Slot } from '../isa/instruction.js';
import { escapeControls, parseElf, SHF, SHT, STT, EM_BPF } from '../elf/index.js';
import type { ElfFile, ElfSection } from '../elf/index.js';
import { Btf } from '../btf/index.js';
import { btfMaps } from './btf.js';
import { ObjectDebugInfo } from './line-info.js';
import { PROG_TYPES, progTypeBySection } from '../progs/types.js';
import type { ProgTypeName } from '../progs/types.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import type { CollectionSpec, MapSpecData, ProgramSpecData } from './spec.js';

/** R_BPF_64_64: an ld_imm64 of a symbol's address (map references). */
export const R_BPF_64_64 = 1;
/** R_BPF_64_32: a call's imm (bpf-to-bpf calls); clang 14 emits it for calls to functions. */
export const R_BPF_64_32 = 10;

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

/** One program of a section: a function symbol's slots [start, end). */
interface Part {
  name: string;
  start: number;
  end: number;
}

/**
 * The programs of an executable section, one per function symbol, else the
 * whole section. A function must cover whole instruction slots inside the
 * section: an st_value of 4 would start a program in the middle of a slot.
 */
function programParts(elf: ElfFile, sec: ElfSection, slotCount: number): Part[] {
  const funcs = elf.symbolsIn(sec.index).filter((s) => s.type === STT.FUNC).sort((a, b) => a.value - b.value);
  if (funcs.length === 0) return [{ name: sec.name, start: 0, end: slotCount }];
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
    parts.push({ name: f.name || sec.name, start: f.value / 8, end: end / 8 });
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
  // the BTF, read once when the maps or the line records need it
  let btf: Btf | undefined;
  const btfSec = elf.sectionByName('.BTF');
  const mapsSec = elf.sectionByName('.maps');
  if (mapsSec) {
    // BTF-defined maps: their definitions are in the BTF, their symbols in .maps
    if (!btfSec) throw new BpfError('EINVAL', 'section .maps: BTF-defined maps need the .BTF section (compile with -g)');
    btf = new Btf(btfSec.data());
    for (const [name, m] of btfMaps(btf)) addNamed(maps, name, m, 'map');
    mapSections.add(mapsSec.index);
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
    addNamed(maps, s.name, m, 'map');
    dataSections.set(s.index, s.name);
  }

  const programs: Named<ProgramSpecData> = new Map();
  const debug = ObjectDebugInfo.of(elf, btf);
  const relocs = elf.relocations();
  for (const sec of elf.sections) {
    if (sec.type !== SHT.PROGBITS || (sec.flags & SHF.EXECINSTR) === 0 || sec.size === 0) continue;
    const type = programType(sec.name);
    if (!type) {
      if (sec.name === '.text') continue; // subprograms only reachable by bpf-to-bpf calls
      throw new BpfError('ENOTSUP', `section ${sec.name}: program type not supported (only ${PROG_TYPES.flatMap((t) => t.sections.map((p) => `${p}*`)).join(', ')} sections so far)`);
    }
    if (sec.size % 8 !== 0) throw new BpfError('EINVAL', `section ${sec.name}: size ${sec.size} is not a multiple of 8`);
    const slots = decodeSlots(sec.data());
    const refs = new Map<number, { map: string; offset?: number }>();
    for (const r of relocs.get(sec.index) ?? []) {
      const where = `relocation at offset ${r.offset} in section ${sec.name}`;
      if (r.offset % 8 !== 0 || r.offset / 8 >= slots.length) throw new BpfError('EINVAL', `${where}: outside the program`);
      const slot = r.offset / 8;
      if (r.type === R_BPF_64_32) throw new BpfError('ENOTSUP', `${where}: bpf-to-bpf calls are not supported yet`);
      if (r.type !== R_BPF_64_64) throw new BpfError('ENOTSUP', `relocation type ${r.type} in section ${sec.name} is not supported`);
      if (!isLdImm64(slots[slot]!)) throw new BpfError('EINVAL', `${where}: not an ld_imm64`);
      if (slot + 1 >= slots.length) throw new BpfError('EINVAL', `${where}: the ld_imm64 is cut off by the end of the section`);
      const data = dataSections.get(r.symbol.shndx);
      if (data !== undefined) {
        // the offset into the section: the symbol's value plus what clang left in imm
        const offset = r.symbol.value + slots[slot]!.imm;
        const size = maps.get(data)!.valueSize;
        if (offset < 0 || offset >= size) throw new BpfError('EINVAL', `${where}: offset ${offset} is outside ${data} (${size} bytes)`);
        refs.set(slot, { map: data, offset });
        continue;
      }
      if (!mapSections.has(r.symbol.shndx)) {
        const target = elf.sections[r.symbol.shndx]?.name ?? `section ${r.symbol.shndx}`;
        throw new BpfError('ENOTSUP', `${where}: a reference to ${r.symbol.name || target} in ${target} is not supported`);
      }
      if (r.symbol.type === STT.SECTION) {
        // a static map: the section's symbol, the entry's offset left by clang in imm
        const offset = r.symbol.value + slots[slot]!.imm;
        const name = legacyAt.get(`${r.symbol.shndx}:${offset}`);
        if (name === undefined) throw new BpfError('EINVAL', `${where}: offset ${offset} in section ${elf.sections[r.symbol.shndx]?.name ?? r.symbol.shndx} is not the start of a map`);
        slots[slot]!.imm = 0;
        refs.set(slot, { map: name });
        continue;
      }
      refs.set(slot, { map: r.symbol.name });
    }
    const parts = programParts(elf, sec, slots.length);
    const refsOf = new Map<Part, { slot: number; map: string; offset?: number }[]>(parts.map((p) => [p, []]));
    for (const slot of [...refs.keys()].sort((a, b) => a - b)) {
      const ref = refs.get(slot)!;
      const p = partOf(parts, slot);
      if (p === undefined) continue; // in code between functions, which no program loads
      if (!maps.has(ref.map)) throw new BpfError('EINVAL', `section ${sec.name}: ld_imm64 at slot ${slot} refers to unknown map ${ref.map}`);
      if (slot + 1 >= p.end) throw new BpfError('EINVAL', `section ${sec.name}: ld_imm64 at slot ${slot} is cut off by the end of function ${p.name}`);
      refsOf.get(p)!.push(ref.offset === undefined ? { slot: slot - p.start, map: ref.map } : { slot: slot - p.start, map: ref.map, offset: ref.offset });
    }
    for (const p of parts) {
      const insns = slots.slice(p.start, p.end).map((s) => ({ ...s }));
      const info = debug.program([{ section: sec.name, sectionInsn: p.start, count: p.end - p.start, progInsn: 0 }]);
      addNamed(programs, p.name, { name: p.name, section: sec.name, type, insns, mapRefs: refsOf.get(p)!, ...info }, 'program');
    }
  }
  return { maps: Object.fromEntries(maps), programs: Object.fromEntries(programs), license, version };
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
