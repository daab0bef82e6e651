/**
 * ELF64 reader: the ELF header, section headers, string tables, symbol tables
 * and REL/RELA relocation sections of a byte buffer, in either byte order.
 * It knows nothing of eBPF: what a 'maps' section or an R_BPF_* type means is
 * the loader's business, and so is checking that an r_offset lies inside its
 * target section (r_offset is an address in linked files, not an offset).
 *
 * The input is hostile until proven otherwise. parseElf validates everything
 * eagerly (ranges, overlaps, entry sizes, links, symbol and string indices)
 * and throws BpfError EINVAL on the first problem, so a returned ElfFile's
 * accessors cannot fail except StringTable.get with an offset of the caller's
 * choosing. Every count is checked against the bytes actually present before
 * anything is allocated for it, and overlapping sections are refused, so work
 * and memory stay linear in the file size. Messages read
 * `elf: <what>: offset 0x<file offset>: <problem>`.
 *
 * 64-bit fields become numbers and must be safe integers (offsets, sizes,
 * addresses, symbol values: an object whose addresses pass 2^53, such as a
 * linked x86-64 kernel image, is refused); only r_addend, which is signed and
 * routinely negative, is a bigint. r_info is split the gABI way (sym = info >>
 * 32); MIPS64's three-type r_info layout is not decoded.
 * Section data() views alias the caller's buffer: copy before patching.
 */
import { BpfError } from '../errors.js';

/** e_ident[EI_CLASS]: 32-bit objects. */
export const ELFCLASS32 = 1;
/** e_ident[EI_CLASS]: 64-bit objects (BPF objects are). */
export const ELFCLASS64 = 2;
/** e_ident[EI_DATA]: little-endian. */
export const ELFDATA2LSB = 1;
/** e_ident[EI_DATA]: big-endian. */
export const ELFDATA2MSB = 2;
/** e_version: the current ELF version. */
export const EV_CURRENT = 1;
/** e_machine of a BPF object. */
export const EM_BPF = 247;

/** e_type values: relocatable, executable, shared, core. */
export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

/** Section types; others are kept as plain numbers. */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  SYMTAB_SHNDX: 18,
} as const;

/** Section flags: writable, allocated, executable. */
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;

/** Special section indexes (undefined, reserved range, absolute, common, extended). */
export const SHN = {
  UNDEF: 0,
  LORESERVE: 0xff00,
  ABS: 0xfff1,
  COMMON: 0xfff2,
  XINDEX: 0xffff,
} as const;

/** Symbol bindings: local, global, weak. */
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** Symbol types: none, object, function, section, file. */
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

/** The ELF header fields tsbpf reads. */
export interface ElfHeader {
  readonly class: typeof ELFCLASS64;
  /** ELFDATA2LSB or ELFDATA2MSB */
  readonly data: number;
  readonly littleEndian: boolean;
  readonly osabi: number;
  readonly abiVersion: number;
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: number;
  readonly phoff: number;
  readonly shoff: number;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  /** the section count, taken from section 0's sh_size when e_shnum is 0 */
  readonly shnum: number;
  /** the section-name table index, taken from section 0's sh_link for SHN_XINDEX */
  readonly shstrndx: number;
}

/** A section header, its name, and its bytes on demand. */
export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly nameOffset: number;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** A view of the section's bytes; empty for SHT_NOBITS and SHT_NULL. */
  data(): Uint8Array;
}

/** A symbol table entry with its name. */
export interface ElfSymbol {
  /** index of the symbol table section holding it */
  readonly symtab: number;
  /** index within that table (what r_info's sym refers to) */
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly info: number;
  readonly bind: number;
  readonly type: number;
  readonly other: number;
  /** st_shndx, with SHN_XINDEX already resolved through SHT_SYMTAB_SHNDX */
  readonly shndx: number;
}

/** A relocation entry (SHT_REL or SHT_RELA) with its symbol resolved. */
export interface ElfRelocation {
  /** index of the SHT_REL/SHT_RELA section holding it */
  readonly section: number;
  /** index of the section it applies to (the relocation section's sh_info) */
  readonly target: number;
  readonly offset: number;
  readonly sym: number;
  readonly type: number;
  /** present for SHT_RELA only: SHT_REL keeps its addend in the patched bytes */
  readonly addend?: bigint;
  readonly symbol: ElfSymbol;
}

function hex(n: number | bigint): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** Names come from the file: control characters in them are escaped, so a message stays one printable line. */
export function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fail(message: string): never {
  throw new BpfError('EINVAL', `elf: ${escapeControls(message)}`);
}

/** A NUL-terminated string table (SHT_STRTAB). */
export class StringTable {
  private readonly cache = new Map<number, string>();
  private readonly decoder = new TextDecoder('utf-8');
  /**
   * Distinct offsets into one long string each cost its length to scan and
   * decode, so a hostile symtab could make the total quadratic; real tables
   * are read about once over (suffix sharing aside), so a budget of a few
   * passes keeps the work linear without ever refusing a real file.
   */
  private budget: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly label: string,
    private readonly fileOffset: number,
  ) {
    this.budget = 16 * bytes.length + 65536;
  }

  get size(): number {
    return this.bytes.length;
  }

  /** The NUL-terminated string at `offset`. */
  get(offset: number): string {
    const hit = this.cache.get(offset);
    if (hit !== undefined) return hit;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      fail(`${this.label}: string offset ${hex(offset)} is out of range (size ${hex(this.bytes.length)})`);
    }
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) {
      fail(`${this.label}: offset ${hex(this.fileOffset + offset)}: string runs off the end of the section`);
    }
    this.budget -= end - offset + 1;
    if (this.budget < 0) {
      fail(`${this.label}: offset ${hex(this.fileOffset + offset)}: too many overlapping strings`);
    }
    const s = this.decoder.decode(this.bytes.subarray(offset, end));
    this.cache.set(offset, s);
    return s;
  }
}

interface RawSection {
  index: number;
  hdr: number; // file offset of the header
  nameOffset: number;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

const EMPTY = new Uint8Array(0);

class Section implements ElfSection {
  constructor(
    private readonly raw: RawSection,
    readonly name: string,
    private readonly view: Uint8Array,
  ) {}
  get index(): number { return this.raw.index; }
  get nameOffset(): number { return this.raw.nameOffset; }
  get type(): number { return this.raw.type; }
  get flags(): number { return this.raw.flags; }
  get addr(): number { return this.raw.addr; }
  get offset(): number { return this.raw.offset; }
  get size(): number { return this.raw.size; }
  get link(): number { return this.raw.link; }
  get info(): number { return this.raw.info; }
  get addralign(): number { return this.raw.addralign; }
  get entsize(): number { return this.raw.entsize; }
  data(): Uint8Array { return this.view; }
}

/** Whether a section type occupies bytes in the file. */
function hasFileData(type: number): boolean {
  return type !== SHT.NOBITS && type !== SHT.NULL;
}

/** A parsed ELF64 file: header, sections, symbols, relocations, string tables. */
export class ElfFile {
  private readonly byName = new Map<string, ElfSection>();
  private readonly strtabs = new Map<number, StringTable>();
  private readonly syms: ElfSymbol[] = [];
  private readonly symsBySection = new Map<number, ElfSymbol[]>();
  private readonly relocs = new Map<number, ElfRelocation[]>();

  /** @internal use parseElf */
  constructor(
    readonly header: ElfHeader,
    readonly sections: readonly ElfSection[],
  ) {
    for (const s of sections) if (s.name !== '' && !this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  /** The first section with this name. */
  sectionByName(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  /** The string table at a section index (SHT_STRTAB only). */
  stringTable(index: number): StringTable {
    const cached = this.strtabs.get(index);
    if (cached !== undefined) return cached;
    const s = this.sections[index];
    if (!Number.isInteger(index) || s === undefined) {
      fail(`section ${index} does not exist (${this.sections.length} sections)`);
    }
    if (s.type !== SHT.STRTAB) fail(`${sectionLabel(s)}: not a string table (type ${s.type})`);
    const t = new StringTable(s.data(), sectionLabel(s), s.offset);
    this.strtabs.set(index, t);
    return t;
  }

  /** Every symbol of every SHT_SYMTAB and SHT_DYNSYM section, in file order. */
  symbols(): readonly ElfSymbol[] {
    return this.syms;
  }

  /** The symbols of one symbol table section. */
  symbolsOf(symtab: number): readonly ElfSymbol[] {
    return this.symsBySection.get(symtab) ?? [];
  }

  private byShndx: Map<number, ElfSymbol[]> | undefined;

  /**
   * The symbols defined in one section (st_shndx), from every symbol table,
   * in file order. Indexed once, so a caller asking for each of many
   * sections does not scan every symbol each time.
   */
  symbolsIn(section: number): readonly ElfSymbol[] {
    if (this.byShndx === undefined) {
      this.byShndx = new Map();
      for (const sym of this.syms) {
        const list = this.byShndx.get(sym.shndx);
        if (list === undefined) this.byShndx.set(sym.shndx, [sym]);
        else list.push(sym);
      }
    }
    return this.byShndx.get(section) ?? [];
  }

  /** Relocations grouped by the index of the section they apply to. */
  relocations(): ReadonlyMap<number, readonly ElfRelocation[]> {
    return this.relocs;
  }

  /** @internal */
  setSymbols(symtab: number, list: ElfSymbol[]): void {
    this.symsBySection.set(symtab, list);
    // push, not concat: many symbol tables must not cost quadratic copying
    for (const sym of list) this.syms.push(sym);
    this.byShndx = undefined;
  }

  /** @internal */
  addRelocations(target: number, list: ElfRelocation[]): void {
    const have = this.relocs.get(target);
    if (have === undefined) this.relocs.set(target, list);
    else for (const r of list) have.push(r);
  }
}

function sectionLabel(s: { index: number; name: string }): string {
  return s.name === '' ? `section ${s.index}` : `section ${s.name}`;
}

/** Bounds-checked reads in the file's byte order. */
class Reader {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(off: number): number { return this.view.getUint8(off); }
  u16(off: number): number { return this.view.getUint16(off, this.le); }
  u32(off: number): number { return this.view.getUint32(off, this.le); }
  u64big(off: number): bigint { return this.view.getBigUint64(off, this.le); }
  i64(off: number): bigint { return this.view.getBigInt64(off, this.le); }
  /** A u64 field that must fit a safe integer. */
  u64(off: number, what: string, field: string): number {
    const v = this.u64big(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what}: offset ${hex(off)}: ${field} ${hex(v)} is too large`);
    return Number(v);
  }
}

function parseHeader(bytes: Uint8Array): { r: Reader; h: Omit<ElfHeader, 'shnum' | 'shstrndx'>; eShnum: number; eShstrndx: number } {
  if (bytes.length < EHDR_SIZE) {
    fail(`offset 0x0: file is ${bytes.length} bytes, too short for the ${EHDR_SIZE}-byte ELF header`);
  }
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`offset 0x0: bad magic ${got}, not an ELF file`);
  }
  const cls = bytes[4]!;
  if (cls === ELFCLASS32) fail('offset 0x4: ELFCLASS32 (32-bit) objects are not supported, only ELFCLASS64');
  if (cls !== ELFCLASS64) fail(`offset 0x4: unknown ELF class ${cls}`);
  const data = bytes[5]!;
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) fail(`offset 0x5: unknown data encoding ${data}`);
  if (bytes[6] !== EV_CURRENT) fail(`offset 0x6: unknown ELF version ${bytes[6]}`);
  const r = new Reader(bytes, data === ELFDATA2LSB);
  const version = r.u32(0x14);
  if (version !== EV_CURRENT) fail(`offset 0x14: e_version ${version}, expected ${EV_CURRENT}`);
  const h = {
    class: ELFCLASS64,
    data,
    littleEndian: r.le,
    osabi: bytes[7]!,
    abiVersion: bytes[8]!,
    type: r.u16(0x10),
    machine: r.u16(0x12),
    version,
    entry: r.u64(0x18, 'ELF header', 'e_entry'),
    phoff: r.u64(0x20, 'ELF header', 'e_phoff'),
    shoff: r.u64(0x28, 'ELF header', 'e_shoff'),
    flags: r.u32(0x30),
    ehsize: r.u16(0x34),
    phentsize: r.u16(0x36),
    phnum: r.u16(0x38),
    shentsize: r.u16(0x3a),
  } as const;
  return { r, h, eShnum: r.u16(0x3c), eShstrndx: r.u16(0x3e) };
}

function readRawSection(r: Reader, index: number, hdr: number): RawSection {
  const what = `section ${index}`;
  return {
    index,
    hdr,
    nameOffset: r.u32(hdr),
    type: r.u32(hdr + 4),
    flags: r.u64(hdr + 8, what, 'sh_flags'),
    addr: r.u64(hdr + 16, what, 'sh_addr'),
    offset: r.u64(hdr + 24, what, 'sh_offset'),
    size: r.u64(hdr + 32, what, 'sh_size'),
    link: r.u32(hdr + 40),
    info: r.u32(hdr + 44),
    addralign: r.u64(hdr + 48, what, 'sh_addralign'),
    entsize: r.u64(hdr + 56, what, 'sh_entsize'),
  };
}

/** Refuses a section whose bytes are not all inside the file. */
function checkRange(r: Reader, s: RawSection, label: string): void {
  if (!hasFileData(s.type)) return;
  // Both are safe integers, so the sum is exact well past the file size.
  if (s.offset + s.size > r.bytes.length) {
    fail(`${label}: offset ${hex(s.offset)}: size ${hex(s.size)} runs past the end of the file (${hex(r.bytes.length)} bytes)`);
  }
}

/**
 * Parses and validates a whole ELF64 file. Throws BpfError EINVAL naming the
 * offending structure and its file offset.
 */
export function parseElf(bytes: Uint8Array): ElfFile {
  const { r, h, eShnum, eShstrndx } = parseHeader(bytes);
  const len = bytes.length;

  let shnum = eShnum;
  let shstrndx = eShstrndx;
  let shstrndxAt = 0x3e;
  const raws: RawSection[] = [];
  if (h.shoff === 0) {
    if (shnum !== 0) fail(`offset 0x3c: e_shnum ${shnum} but e_shoff is 0`);
    shstrndx = 0;
  } else {
    if (h.shentsize !== SHDR_SIZE) fail(`offset 0x3a: e_shentsize ${h.shentsize}, expected ${SHDR_SIZE}`);
    if (h.shoff + SHDR_SIZE > len) {
      fail(`section header table: offset ${hex(h.shoff)}: runs past the end of the file (${hex(len)} bytes)`);
    }
    // Section 0 carries the real count and name-table index when they do not
    // fit the 16-bit header fields (gABI "extended section numbering").
    const s0 = readRawSection(r, 0, h.shoff);
    if (shnum === 0) shnum = s0.size;
    if (shstrndx === SHN.XINDEX) {
      shstrndx = s0.link;
      shstrndxAt = h.shoff + 40;
    }
    // Checked before anything is allocated per section: a hostile count can
    // only ask for what the file can actually hold.
    if (shnum > Math.floor((len - h.shoff) / SHDR_SIZE)) {
      fail(`section header table: offset ${hex(h.shoff)}: ${shnum} entries of ${SHDR_SIZE} bytes run past the end of the file (${hex(len)} bytes)`);
    }
    for (let i = 0; i < shnum; i++) raws.push(i === 0 ? s0 : readRawSection(r, i, h.shoff + i * SHDR_SIZE));
  }
  if (shstrndx !== 0 && shstrndx >= shnum) {
    fail(`offset ${hex(shstrndxAt)}: e_shstrndx ${shstrndx} is out of range (${shnum} sections)`);
  }
  const header: ElfHeader = { ...h, shnum, shstrndx };

  // The section-name table has to be sound before any name can be read, so
  // its errors name it by index.
  let names: StringTable | undefined;
  if (shstrndx !== 0) {
    const s = raws[shstrndx]!;
    const label = `section ${shstrndx}`;
    if (s.type !== SHT.STRTAB) fail(`${label}: offset ${hex(s.hdr + 4)}: section-name table has type ${s.type}, expected SHT_STRTAB (3)`);
    checkRange(r, s, label);
    checkStrtabEnd(bytes, s, label);
    names = new StringTable(bytes.subarray(s.offset, s.offset + s.size), label, s.offset);
  }

  const sections: Section[] = raws.map((s) => {
    let name = '';
    if (names !== undefined && s.nameOffset !== 0) {
      if (s.nameOffset >= names.size) {
        fail(`section ${s.index}: offset ${hex(s.hdr)}: sh_name ${hex(s.nameOffset)} is out of range of the section-name table (size ${hex(names.size)})`);
      }
      name = names.get(s.nameOffset);
    }
    const label = sectionLabel({ index: s.index, name });
    checkRange(r, s, label);
    const view = hasFileData(s.type) ? bytes.subarray(s.offset, s.offset + s.size) : EMPTY;
    return new Section(s, name, view);
  });

  checkOverlaps(h.shoff, shnum, sections);

  for (const s of sections) {
    const label = sectionLabel(s);
    if (s.type === SHT.STRTAB) checkStrtabEnd(bytes, raws[s.index]!, label);
    const need =
      s.type === SHT.SYMTAB || s.type === SHT.DYNSYM ? SYM_SIZE
      : s.type === SHT.REL ? REL_SIZE
      : s.type === SHT.RELA ? RELA_SIZE
      : s.type === SHT.SYMTAB_SHNDX ? 4
      : 0;
    if (need === 0) continue;
    if (s.entsize !== need) fail(`${label}: offset ${hex(raws[s.index]!.hdr + 56)}: sh_entsize ${s.entsize}, expected ${need}`);
    if (s.size % need !== 0) fail(`${label}: offset ${hex(s.offset)}: size ${hex(s.size)} is not a multiple of ${need}`);
  }

  const file = new ElfFile(header, sections);
  // each symbol table's SHT_SYMTAB_SHNDX companion (the first one linking to it), found in one pass
  const xindexOf = new Map<number, ElfSection>();
  for (const s of sections) if (s.type === SHT.SYMTAB_SHNDX && !xindexOf.has(s.link)) xindexOf.set(s.link, s);
  for (const s of sections) {
    if (s.type === SHT.SYMTAB || s.type === SHT.DYNSYM) file.setSymbols(s.index, readSymbols(r, file, s, xindexOf.get(s.index)));
  }
  for (const s of sections) {
    if (s.type === SHT.REL || s.type === SHT.RELA) file.addRelocations(s.info, readRelocations(r, file, s));
  }
  return file;
}

/** gABI: a string table's last byte is NUL, so no string can run off it. */
function checkStrtabEnd(bytes: Uint8Array, s: RawSection, label: string): void {
  if (s.size !== 0 && bytes[s.offset + s.size - 1] !== 0) {
    fail(`${label}: offset ${hex(s.offset + s.size - 1)}: string table does not end with a NUL byte`);
  }
}

/**
 * Refuses sections sharing file bytes with each other, the ELF header or the
 * section header table: compilers never emit that, a loader patching one
 * section would silently change another, and it is what keeps the total work
 * linear in the file size.
 */
function checkOverlaps(shoff: number, shnum: number, sections: readonly Section[]): void {
  const regions: { start: number; end: number; label: string }[] = [
    { start: 0, end: EHDR_SIZE, label: 'the ELF header' },
  ];
  if (shnum > 0) regions.push({ start: shoff, end: shoff + shnum * SHDR_SIZE, label: 'the section header table' });
  for (const s of sections) {
    if (hasFileData(s.type) && s.size > 0) regions.push({ start: s.offset, end: s.offset + s.size, label: sectionLabel(s) });
  }
  regions.sort((a, b) => a.start - b.start || a.end - b.end);
  let widest = regions[0]!;
  for (let i = 1; i < regions.length; i++) {
    const cur = regions[i]!;
    if (cur.start < widest.end) {
      // Sorted by start, so cur is the later one: the region to blame.
      const what = cur.label.startsWith('the ') ? cur.label.slice(4) : cur.label;
      fail(`${what}: offset ${hex(cur.start)}: overlaps ${widest.label} (${hex(widest.start)}..${hex(widest.end)})`);
    }
    if (cur.end > widest.end) widest = cur;
  }
}

function linked(file: ElfFile, s: ElfSection, raw: 'link' | 'info', hdrField: number, want: readonly number[], wantName: string): ElfSection {
  const idx = raw === 'link' ? s.link : s.info;
  const t = file.sections[idx];
  if (idx === 0 || t === undefined || !want.includes(t.type)) {
    fail(`${sectionLabel(s)}: offset ${hex(hdrField)}: sh_${raw} ${idx} is not ${wantName}`);
  }
  return t;
}

function readSymbols(r: Reader, file: ElfFile, s: ElfSection, xindex: ElfSection | undefined): ElfSymbol[] {
  const label = sectionLabel(s);
  const shdr = file.header.shoff + s.index * SHDR_SIZE;
  const strs = file.stringTable(linked(file, s, 'link', shdr + 40, [SHT.STRTAB], 'a string table').index);
  const count = s.size / SYM_SIZE;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const at = s.offset + i * SYM_SIZE;
    const nameOff = r.u32(at);
    if (nameOff >= strs.size && nameOff !== 0) {
      fail(`${label}: offset ${hex(at)}: symbol ${i}: st_name ${hex(nameOff)} is out of range (string table size ${hex(strs.size)})`);
    }
    const info = r.u8(at + 4);
    const rawShndx = r.u16(at + 6);
    let shndx = rawShndx;
    if (rawShndx === SHN.XINDEX) {
      if (xindex === undefined || (i + 1) * 4 > xindex.size) {
        fail(`${label}: offset ${hex(at + 6)}: symbol ${i}: SHN_XINDEX without an SHT_SYMTAB_SHNDX entry`);
      }
      shndx = r.u32(xindex.offset + i * 4);
    }
    // The reserved range (SHN_ABS, SHN_COMMON, ...) is not a section index;
    // an index read through SHT_SYMTAB_SHNDX always is.
    const reserved = rawShndx >= SHN.LORESERVE && rawShndx !== SHN.XINDEX;
    if (!reserved && shndx >= file.sections.length) {
      fail(`${label}: offset ${hex(at + 6)}: symbol ${i}: st_shndx ${shndx} is out of range (${file.sections.length} sections)`);
    }
    out.push({
      symtab: s.index,
      index: i,
      name: nameOff === 0 ? '' : strs.get(nameOff),
      value: r.u64(at + 8, label, `symbol ${i}: st_value`),
      size: r.u64(at + 16, label, `symbol ${i}: st_size`),
      info,
      bind: info >> 4,
      type: info & 0xf,
      other: r.u8(at + 5),
      shndx,
    });
  }
  return out;
}

function readRelocations(r: Reader, file: ElfFile, s: ElfSection): ElfRelocation[] {
  const label = sectionLabel(s);
  const shdr = file.header.shoff + s.index * SHDR_SIZE;
  const symtab = linked(file, s, 'link', shdr + 40, [SHT.SYMTAB, SHT.DYNSYM], 'a symbol table');
  // sh_info 0 means "no particular section" (dynamic relocations); anything
  // else must name an existing section.
  if (s.info >= file.sections.length) {
    fail(`${label}: offset ${hex(shdr + 44)}: sh_info ${s.info} is out of range (${file.sections.length} sections)`);
  }
  const syms = file.symbolsOf(symtab.index);
  const rela = s.type === SHT.RELA;
  const entsize = rela ? RELA_SIZE : REL_SIZE;
  const count = s.size / entsize;
  const out: ElfRelocation[] = [];
  for (let i = 0; i < count; i++) {
    const at = s.offset + i * entsize;
    const info = r.u64big(at + 8);
    const sym = Number(info >> 32n);
    const symbol = syms[sym];
    if (symbol === undefined) {
      fail(`${label}: offset ${hex(at + 8)}: relocation ${i}: symbol ${sym} is out of range (${syms.length} symbols)`);
    }
    const rel: ElfRelocation = {
      section: s.index,
      target: s.info,
      offset: r.u64(at, label, `relocation ${i}: r_offset`),
      sym,
      type: Number(info & 0xffffffffn),
      symbol,
      ...(rela ? { addend: r.i64(at + 16) } : {}),
    };
    out.push(rel);
  }
  return out;
}
