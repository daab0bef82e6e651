/**
 * A small writer of little-endian ELF64 BPF relocatable objects, for the
 * hostile-input tests and the ELF fuzzer: sections by name, symbols naming
 * their section, REL relocations per program section. It lays the file out
 * the way clang does (data, then .symtab, .rel*, .strtab, then the section
 * headers) and checks nothing: producing what a compiler never would is its
 * purpose. It also reads back the layout it chose, so a test can patch one
 * field of an otherwise sound object.
 */

export interface ObjSection {
  name: string;
  /** SHT_* (PROGBITS 1, NOBITS 8, ...) */
  type: number;
  /** SHF_* (WRITE 1, ALLOC 2, EXECINSTR 4) */
  flags?: number;
  data?: Uint8Array;
  /** sh_size for SHT_NOBITS (a number or, past 2^53, a bigint) */
  size?: number | bigint;
}

export interface ObjSymbol {
  name: string;
  /** the name of the section it is defined in; '' for SHN_UNDEF */
  section: string;
  value: number | bigint;
  size?: number | bigint;
  /** STT_* (NOTYPE 0, OBJECT 1, FUNC 2, SECTION 3) */
  type: number;
  /** STB_* (LOCAL 0, GLOBAL 1) */
  bind?: number;
}

export interface ObjReloc {
  /** the section patched; its relocations go to `.rel<section>` */
  section: string;
  offset: number;
  /** a symbol name (its first occurrence) */
  symbol: string;
  /** R_BPF_64_64 is 1 */
  type: number;
}

export interface Obj {
  sections: ObjSection[];
  symbols: ObjSymbol[];
  relocations?: ObjReloc[];
  /** e_machine, 247 (EM_BPF) unless given */
  machine?: number;
}

export interface WrittenObj {
  bytes: Uint8Array;
  /** section index by name */
  index: Map<string, number>;
  /** file offset of each section's header */
  shdr: (index: number) => number;
  /** file offset of the symbol table entry of symbol i (i counts from 1: 0 is the null symbol) */
  symOffset: (i: number) => number;
}

const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;
const SHT_REL = 9;

export function writeObj(obj: Obj): WrittenObj {
  const enc = new TextEncoder();
  const strs: number[] = [0];
  const strAt = new Map<string, number>();
  const str = (s: string): number => {
    if (s === '') return 0;
    const hit = strAt.get(s);
    if (hit !== undefined) return hit;
    const at = strs.length;
    for (const b of enc.encode(s)) strs.push(b);
    strs.push(0);
    strAt.set(s, at);
    return at;
  };

  const relocs = obj.relocations ?? [];
  const relTargets = [...new Set(relocs.map((r) => r.section))];
  interface Out { name: string; type: number; flags: number; data: Uint8Array; size: bigint; link: number; info: number; align: number; entsize: number }
  const out: Out[] = [{ name: '', type: 0, flags: 0, data: new Uint8Array(0), size: 0n, link: 0, info: 0, align: 0, entsize: 0 }];
  const index = new Map<string, number>();
  for (const s of obj.sections) {
    if (!index.has(s.name)) index.set(s.name, out.length);
    const data = s.data ?? new Uint8Array(0);
    const size = s.type === SHT_NOBITS ? BigInt(s.size ?? 0) : BigInt(data.length);
    out.push({ name: s.name, type: s.type, flags: s.flags ?? 0, data: s.type === SHT_NOBITS ? new Uint8Array(0) : data, size, link: 0, info: 0, align: 8, entsize: 0 });
  }
  const symtabIndex = out.length;
  const strtabIndex = symtabIndex + 1 + relTargets.length;

  const symBytes = new Uint8Array(24 * (obj.symbols.length + 1));
  const sv = new DataView(symBytes.buffer);
  obj.symbols.forEach((s, i) => {
    const o = 24 * (i + 1);
    sv.setUint32(o, str(s.name), true);
    sv.setUint8(o + 4, ((s.bind ?? 1) << 4) | s.type);
    sv.setUint16(o + 6, s.section === '' ? 0 : index.get(s.section) ?? 0, true);
    sv.setBigUint64(o + 8, BigInt(s.value), true);
    sv.setBigUint64(o + 16, BigInt(s.size ?? 0), true);
  });
  out.push({ name: '.symtab', type: SHT_SYMTAB, flags: 0, data: symBytes, size: BigInt(symBytes.length), link: strtabIndex, info: 1, align: 8, entsize: 24 });

  for (const target of relTargets) {
    const list = relocs.filter((r) => r.section === target);
    const b = new Uint8Array(16 * list.length);
    const v = new DataView(b.buffer);
    list.forEach((r, i) => {
      const sym = obj.symbols.findIndex((s) => s.name === r.symbol) + 1;
      v.setBigUint64(16 * i, BigInt(r.offset), true);
      v.setBigUint64(16 * i + 8, (BigInt(sym) << 32n) | BigInt(r.type), true);
    });
    out.push({ name: `.rel${target}`, type: SHT_REL, flags: 0, data: b, size: BigInt(b.length), link: symtabIndex, info: index.get(target) ?? 0, align: 8, entsize: 16 });
  }
  // the section names go into the one string table, as clang does (.strtab doubles as .shstrtab)
  const nameOffsets = out.map((s) => str(s.name));
  const strtabName = str('.strtab');
  const strBytes = Uint8Array.from(strs);
  out.push({ name: '.strtab', type: SHT_STRTAB, flags: 0, data: strBytes, size: BigInt(strBytes.length), link: 0, info: 0, align: 1, entsize: 0 });
  nameOffsets.push(strtabName);

  let at = 64;
  const offsets: number[] = [];
  for (const s of out) {
    at = (at + 7) & ~7;
    offsets.push(s.type === 0 ? 0 : at);
    at += s.data.length;
  }
  const shoff = (at + 7) & ~7;
  const bytes = new Uint8Array(shoff + 64 * out.length);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(0x10, 1, true); // ET_REL
  v.setUint16(0x12, obj.machine ?? 247, true);
  v.setUint32(0x14, 1, true);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x34, 64, true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, out.length, true);
  v.setUint16(0x3e, strtabIndex, true);
  out.forEach((s, i) => {
    bytes.set(s.data, offsets[i]!);
    const h = shoff + 64 * i;
    v.setUint32(h, nameOffsets[i]!, true);
    v.setUint32(h + 4, s.type, true);
    v.setBigUint64(h + 8, BigInt(s.flags), true);
    v.setBigUint64(h + 24, BigInt(offsets[i]!), true);
    v.setBigUint64(h + 32, s.size, true);
    v.setUint32(h + 40, s.link, true);
    v.setUint32(h + 44, s.info, true);
    v.setBigUint64(h + 48, BigInt(s.align), true);
    v.setBigUint64(h + 56, BigInt(s.entsize), true);
  });
  return {
    bytes,
    index,
    shdr: (i) => shoff + 64 * i,
    symOffset: (i) => offsets[symtabIndex]! + 24 * i,
  };
}

/** Little-endian eBPF slots from [code, dst, src, off, imm] tuples. */
export function slots(...insns: [number, number, number, number, number][]): Uint8Array {
  const b = new Uint8Array(8 * insns.length);
  const v = new DataView(b.buffer);
  insns.forEach(([code, dst, src, off, imm], i) => {
    v.setUint8(8 * i, code);
    v.setUint8(8 * i + 1, (src << 4) | dst);
    v.setInt16(8 * i + 2, off, true);
    v.setInt32(8 * i + 4, imm, true);
  });
  return b;
}
