/**
 * ELF64 reader: files built byte by byte by the small writer below (both
 * byte orders, plain and extended section numbering) with every parsed field
 * checked exactly; one exact message per refused structure; truncation and
 * bit-flip fuzzing that may only ever produce an ElfFile or BpfError EINVAL;
 * and, when clang is installed, a real `clang -target bpf` object.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import { parseElf, EM_BPF, ET, SHT, SHF, SHN, STB, STT, ELFDATA2LSB, ELFDATA2MSB } from '../src/elf/index.js';
import type { ElfFile } from '../src/elf/index.js';
import { tempDir } from './tmp.js';
import { prng as mulberry32 } from '../src/bench/filter-e2e.js';

// ---- a tiny ELF64 writer, for the tests only ----

interface WSection {
  name: string;
  type: number;
  flags?: number;
  addr?: number;
  data?: Uint8Array;
  /** sh_size for SHT_NOBITS */
  size?: number;
  link?: number;
  info?: number;
  addralign?: number;
  entsize?: number;
}

interface Written {
  bytes: Uint8Array;
  /** sh_offset of each section, index 0 being SHT_NULL */
  offsets: number[];
  shoff: number;
  le: boolean;
  extended: boolean;
}

class Strtab {
  private parts: number[] = [0];
  private at = new Map<string, number>();
  add(s: string): number {
    const hit = this.at.get(s);
    if (hit !== undefined) return hit;
    const off = this.parts.length;
    for (const b of new TextEncoder().encode(s)) this.parts.push(b);
    this.parts.push(0);
    this.at.set(s, off);
    return off;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function bytesOf(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

function symbolsBytes(le: boolean, syms: { name: number; info: number; other?: number; shndx: number; value: number; size: number }[]): Uint8Array {
  return bytesOf(syms.length * 24, (v) =>
    syms.forEach((s, i) => {
      const o = i * 24;
      v.setUint32(o, s.name, le);
      v.setUint8(o + 4, s.info);
      v.setUint8(o + 5, s.other ?? 0);
      v.setUint16(o + 6, s.shndx, le);
      v.setBigUint64(o + 8, BigInt(s.value), le);
      v.setBigUint64(o + 16, BigInt(s.size), le);
    }),
  );
}

function relBytes(le: boolean, rels: { offset: number; sym: number; type: number; addend?: bigint }[], rela: boolean): Uint8Array {
  const es = rela ? 24 : 16;
  return bytesOf(rels.length * es, (v) =>
    rels.forEach((r, i) => {
      v.setBigUint64(i * es, BigInt(r.offset), le);
      v.setBigUint64(i * es + 8, (BigInt(r.sym) << 32n) | BigInt(r.type), le);
      if (rela) v.setBigInt64(i * es + 16, r.addend ?? 0n, le);
    }),
  );
}

/** Header, each section's bytes 8-aligned, a generated .shstrtab last, then the section header table. */
function writeElf(sections: WSection[], opts: { le?: boolean; extended?: boolean } = {}): Written {
  const le = opts.le ?? true;
  const shstr = new Strtab();
  const all: (WSection & { nameOff: number })[] = sections.map((s) => ({ ...s, nameOff: shstr.add(s.name) }));
  const shstrNameOff = shstr.add('.shstrtab');
  all.push({ name: '.shstrtab', type: SHT.STRTAB, data: shstr.bytes(), nameOff: shstrNameOff, addralign: 1 });
  const align = (n: number) => (n + 7) & ~7;
  let pos = 64;
  const offsets = [0];
  for (const s of all) {
    if (s.type === SHT.NOBITS) {
      offsets.push(pos);
      continue;
    }
    pos = align(pos);
    offsets.push(pos);
    pos += s.data!.length;
  }
  const shoff = align(pos);
  const shnum = all.length + 1;
  const total = shoff + shnum * 64;
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? ELFDATA2LSB : ELFDATA2MSB, 1, 0]);
  v.setUint16(0x10, ET.REL, le);
  v.setUint16(0x12, EM_BPF, le);
  v.setUint32(0x14, 1, le);
  v.setBigUint64(0x28, BigInt(shoff), le);
  v.setUint16(0x34, 64, le);
  v.setUint16(0x3a, 64, le);
  v.setUint16(0x3c, opts.extended ? 0 : shnum, le);
  v.setUint16(0x3e, opts.extended ? SHN.XINDEX : shnum - 1, le);
  if (opts.extended) {
    v.setBigUint64(shoff + 32, BigInt(shnum), le);
    v.setUint32(shoff + 40, shnum - 1, le);
  }
  all.forEach((s, i) => {
    const off = offsets[i + 1]!;
    if (s.data !== undefined && s.type !== SHT.NOBITS) bytes.set(s.data, off);
    const h = shoff + (i + 1) * 64;
    v.setUint32(h, s.nameOff, le);
    v.setUint32(h + 4, s.type, le);
    v.setBigUint64(h + 8, BigInt(s.flags ?? 0), le);
    v.setBigUint64(h + 16, BigInt(s.addr ?? 0), le);
    v.setBigUint64(h + 24, BigInt(off), le);
    v.setBigUint64(h + 32, BigInt(s.type === SHT.NOBITS ? s.size! : s.data!.length), le);
    v.setUint32(h + 40, s.link ?? 0, le);
    v.setUint32(h + 44, s.info ?? 0, le);
    v.setBigUint64(h + 48, BigInt(s.addralign ?? 0), le);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), le);
  });
  return { bytes, offsets, shoff, le, extended: opts.extended ?? false };
}

// ---- the reference object ----

const TEXT = 1, MAPS = 2, LICENSE = 3, BSS = 4, STRTAB = 5, SYMTAB = 6, RELTEXT = 7, RELAMAPS = 8, SHSTRTAB = 9;

const strtab = new Strtab();
const N = {
  file: strtab.add('prog.c'),
  func: strtab.add('func'),
  map: strtab.add('my_map'),
  license: strtab.add('_license'),
  ext: strtab.add('ext'),
  common: strtab.add('common_var'),
};
const info = (bind: number, type: number) => (bind << 4) | type;
const SYMS = [
  { name: 0, info: 0, shndx: 0, value: 0, size: 0 },
  { name: N.file, info: info(STB.LOCAL, STT.FILE), shndx: SHN.ABS, value: 0, size: 0 },
  { name: 0, info: info(STB.LOCAL, STT.SECTION), shndx: TEXT, value: 0, size: 0 },
  { name: N.func, info: info(STB.GLOBAL, STT.FUNC), shndx: TEXT, value: 0, size: 32 },
  { name: N.map, info: info(STB.GLOBAL, STT.OBJECT), other: 2, shndx: MAPS, value: 0, size: 16 },
  { name: N.license, info: info(STB.GLOBAL, STT.OBJECT), shndx: LICENSE, value: 0, size: 4 },
  { name: N.ext, info: info(STB.WEAK, STT.NOTYPE), shndx: SHN.UNDEF, value: 0, size: 0 },
  { name: N.common, info: info(STB.GLOBAL, STT.OBJECT), shndx: SHN.COMMON, value: 8, size: 4 },
];
const TEXT_BYTES = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff);
const MAPS_BYTES = Uint8Array.from([1, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 0x10, 0, 0, 0]);
const LICENSE_BYTES = Uint8Array.from([0x47, 0x50, 0x4c, 0]);
const RELS = [
  { offset: 8, sym: 4, type: 1 },
  { offset: 24, sym: 4, type: 1 },
];
const RELAS = [
  { offset: 0, sym: 3, type: 2, addend: -8n },
  { offset: 8, sym: 6, type: 10, addend: -(2n ** 63n) },
];

function reference(le = true, extended = false): Written {
  return writeElf(
    [
      { name: '.text', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.EXECINSTR, data: TEXT_BYTES, addralign: 8 },
      { name: 'maps', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: MAPS_BYTES, addralign: 4 },
      { name: 'license', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: LICENSE_BYTES, addralign: 1 },
      { name: '.bss', type: SHT.NOBITS, flags: SHF.ALLOC | SHF.WRITE, size: 64, addralign: 8 },
      { name: '.strtab', type: SHT.STRTAB, data: strtab.bytes(), addralign: 1 },
      { name: '.symtab', type: SHT.SYMTAB, data: symbolsBytes(le, SYMS), link: STRTAB, info: 3, addralign: 8, entsize: 24 },
      { name: '.rel.text', type: SHT.REL, data: relBytes(le, RELS, false), link: SYMTAB, info: TEXT, addralign: 8, entsize: 16 },
      { name: '.rela.maps', type: SHT.RELA, data: relBytes(le, RELAS, true), link: SYMTAB, info: MAPS, addralign: 8, entsize: 24 },
    ],
    { le, extended },
  );
}

function checkReference(w: Written, f: ElfFile): void {
  const { offsets } = w;
  assert.deepEqual(f.header, {
    class: 2,
    data: w.le ? ELFDATA2LSB : ELFDATA2MSB,
    littleEndian: w.le,
    osabi: 0,
    abiVersion: 0,
    type: ET.REL,
    machine: EM_BPF,
    version: 1,
    entry: 0,
    phoff: 0,
    shoff: w.shoff,
    flags: 0,
    ehsize: 64,
    phentsize: 0,
    phnum: 0,
    shentsize: 64,
    shnum: 10,
    shstrndx: SHSTRTAB,
  });
  const expect = [
    // extended numbering keeps the count in sh_size and e_shstrndx in sh_link
    ['', SHT.NULL, 0, 0, w.extended ? 10 : 0, w.extended ? SHSTRTAB : 0, 0, 0, 0],
    ['.text', SHT.PROGBITS, 6, offsets[TEXT], 32, 0, 0, 8, 0],
    ['maps', SHT.PROGBITS, 3, offsets[MAPS], 16, 0, 0, 4, 0],
    ['license', SHT.PROGBITS, 3, offsets[LICENSE], 4, 0, 0, 1, 0],
    ['.bss', SHT.NOBITS, 3, offsets[BSS], 64, 0, 0, 8, 0],
    ['.strtab', SHT.STRTAB, 0, offsets[STRTAB], strtab.bytes().length, 0, 0, 1, 0],
    ['.symtab', SHT.SYMTAB, 0, offsets[SYMTAB], 24 * 8, STRTAB, 3, 8, 24],
    ['.rel.text', SHT.REL, 0, offsets[RELTEXT], 32, SYMTAB, TEXT, 8, 16],
    ['.rela.maps', SHT.RELA, 0, offsets[RELAMAPS], 48, SYMTAB, MAPS, 8, 24],
    ['.shstrtab', SHT.STRTAB, 0, offsets[SHSTRTAB], f.sections[SHSTRTAB]!.size, 0, 0, 1, 0],
  ];
  assert.equal(f.sections.length, expect.length);
  f.sections.forEach((s, i) => {
    assert.equal(s.index, i);
    assert.equal(s.addr, 0);
    assert.deepEqual([s.name, s.type, s.flags, s.offset, s.size, s.link, s.info, s.addralign, s.entsize], expect[i], `section ${i}`);
  });
  assert.deepEqual(f.sections[TEXT]!.data(), TEXT_BYTES);
  assert.equal(f.sections[TEXT]!.data().length / 8, 4);
  assert.deepEqual(f.sections[MAPS]!.data(), MAPS_BYTES);
  assert.deepEqual(f.sections[LICENSE]!.data(), Uint8Array.from([0x47, 0x50, 0x4c, 0]));
  assert.equal(f.sections[BSS]!.data().length, 0);
  assert.equal(f.sections[0]!.data().length, 0);
  assert.equal(f.sectionByName('license'), f.sections[LICENSE]);
  assert.equal(f.sectionByName('.rela.maps'), f.sections[RELAMAPS]);
  assert.equal(f.sectionByName('nope'), undefined);
  // data() is a view of the input, not a copy
  assert.equal(f.sections[TEXT]!.data().buffer, w.bytes.buffer);

  const st = f.stringTable(STRTAB);
  assert.equal(st.get(N.func), 'func');
  assert.equal(st.get(N.map + 3), 'map'); // suffix sharing
  assert.equal(st.get(0), '');

  const syms = f.symbols();
  assert.equal(syms.length, 8);
  const names = ['', 'prog.c', '', 'func', 'my_map', '_license', 'ext', 'common_var'];
  syms.forEach((s, i) => {
    const w0 = SYMS[i]!;
    assert.deepEqual(s, {
      symtab: SYMTAB,
      index: i,
      name: names[i],
      value: w0.value,
      size: w0.size,
      info: w0.info,
      bind: w0.info >> 4,
      type: w0.info & 15,
      other: w0.other ?? 0,
      shndx: w0.shndx,
    });
  });
  assert.equal(syms[3]!.type, STT.FUNC);
  assert.equal(syms[3]!.bind, STB.GLOBAL);
  assert.equal(syms[4]!.type, STT.OBJECT);
  assert.equal(syms[6]!.bind, STB.WEAK);
  assert.equal(syms[7]!.shndx, SHN.COMMON);
  assert.equal(syms[1]!.shndx, SHN.ABS);
  assert.deepEqual(f.symbolsOf(SYMTAB), syms);
  assert.deepEqual(f.symbolsOf(TEXT), []);

  const rels = f.relocations();
  assert.deepEqual([...rels.keys()], [TEXT, MAPS]);
  const rt = rels.get(TEXT)!;
  assert.equal(rt.length, 2);
  rt.forEach((r, i) => {
    assert.deepEqual(r, { section: RELTEXT, target: TEXT, offset: RELS[i]!.offset, sym: 4, type: 1, symbol: syms[4] });
    assert.equal('addend' in r, false);
  });
  const rm = rels.get(MAPS)!;
  assert.deepEqual(rm, [
    { section: RELAMAPS, target: MAPS, offset: 0, sym: 3, type: 2, symbol: syms[3], addend: -8n },
    { section: RELAMAPS, target: MAPS, offset: 8, sym: 6, type: 10, symbol: syms[6], addend: -(2n ** 63n) },
  ]);
}

describe('elf: reference object', () => {
  test('little-endian', () => {
    const w = reference();
    checkReference(w, parseElf(w.bytes));
  });
  test('big-endian', () => {
    const w = reference(false);
    checkReference(w, parseElf(w.bytes));
  });
  test('extended section numbering (e_shnum 0, e_shstrndx SHN_XINDEX)', () => {
    const w = reference(true, true);
    const f = parseElf(w.bytes);
    checkReference(w, f);
  });
  test('a subarray input at a non-zero byteOffset', () => {
    const w = reference();
    const padded = new Uint8Array(w.bytes.length + 3);
    padded.set(w.bytes, 3);
    checkReference({ ...w, bytes: padded }, parseElf(padded.subarray(3)));
  });
  test('a file without sections', () => {
    const w = reference();
    const b = w.bytes.slice(0, 64);
    const v = new DataView(b.buffer);
    v.setBigUint64(0x28, 0n, true);
    v.setUint16(0x3c, 0, true);
    v.setUint16(0x3e, 0, true);
    const f = parseElf(b);
    assert.equal(f.sections.length, 0);
    assert.equal(f.header.shnum, 0);
    assert.deepEqual(f.symbols(), []);
    assert.equal(f.relocations().size, 0);
  });
});

// ---- exact errors ----

const SHDR_FIELD = { name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, entsize: 56 } as const;

function patched(edit: (v: DataView, w: Written) => void, le = true): Written {
  const w = reference(le);
  edit(new DataView(w.bytes.buffer), w);
  return w;
}
function setShdr(v: DataView, w: Written, index: number, field: keyof typeof SHDR_FIELD, value: number | bigint): void {
  const at = w.shoff + index * 64 + SHDR_FIELD[field];
  if (field === 'name' || field === 'type' || field === 'link' || field === 'info') v.setUint32(at, Number(value), w.le);
  else v.setBigUint64(at, BigInt(value), w.le);
}
function rejects(bytes: Uint8Array, message: string): void {
  assert.throws(
    () => parseElf(bytes),
    (e: unknown) => {
      assert.ok(e instanceof BpfError, `not a BpfError: ${String(e)}`);
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.message, message);
      return true;
    },
  );
}
const h = (n: number) => `0x${n.toString(16)}`;

describe('elf: exact errors', () => {
  const base = reference();
  const len = base.bytes.length;
  const cases: [string, () => Written | Uint8Array, string | ((w: Written) => string)][] = [
    ['too short', () => base.bytes.slice(0, 10), 'elf: offset 0x0: file is 10 bytes, too short for the 64-byte ELF header'],
    ['bad magic', () => patched((v) => v.setUint8(1, 0x46)), 'elf: offset 0x0: bad magic 7f 46 4c 46, not an ELF file'],
    ['32-bit class', () => patched((v) => v.setUint8(4, 1)), 'elf: offset 0x4: ELFCLASS32 (32-bit) objects are not supported, only ELFCLASS64'],
    ['unknown class', () => patched((v) => v.setUint8(4, 3)), 'elf: offset 0x4: unknown ELF class 3'],
    ['unknown data encoding', () => patched((v) => v.setUint8(5, 3)), 'elf: offset 0x5: unknown data encoding 3'],
    ['ident version', () => patched((v) => v.setUint8(6, 2)), 'elf: offset 0x6: unknown ELF version 2'],
    ['e_version', () => patched((v) => v.setUint32(0x14, 7, true)), 'elf: offset 0x14: e_version 7, expected 1'],
    ['e_shentsize 40', () => patched((v) => v.setUint16(0x3a, 40, true)), 'elf: offset 0x3a: e_shentsize 40, expected 64'],
    ['e_shoff past 2^53', () => patched((v) => v.setBigUint64(0x28, 1n << 60n, true)), 'elf: ELF header: offset 0x28: e_shoff 0x1000000000000000 is too large'],
    ['e_shoff past the end', () => patched((v) => v.setBigUint64(0x28, BigInt(len - 10), true)), `elf: section header table: offset ${h(len - 10)}: runs past the end of the file (${h(len)} bytes)`],
    ['e_shnum 65535', () => patched((v) => v.setUint16(0x3c, 65535, true)), `elf: section header table: offset ${h(base.shoff)}: 65535 entries of 64 bytes run past the end of the file (${h(len)} bytes)`],
    ['extended count absurd', () => patched((v, w) => { v.setUint16(0x3c, 0, true); setShdr(v, w, 0, 'size', 2n ** 40n); }), `elf: section header table: offset ${h(base.shoff)}: 1099511627776 entries of 64 bytes run past the end of the file (${h(len)} bytes)`],
    ['e_shnum with e_shoff 0', () => patched((v) => v.setBigUint64(0x28, 0n, true)), 'elf: offset 0x3c: e_shnum 10 but e_shoff is 0'],
    ['e_shstrndx out of range', () => patched((v) => v.setUint16(0x3e, 10, true)), 'elf: offset 0x3e: e_shstrndx 10 is out of range (10 sections)'],
    ['SHN_XINDEX sh_link out of range', () => patched((v, w) => { v.setUint16(0x3e, SHN.XINDEX, true); setShdr(v, w, 0, 'link', 99); }), `elf: offset ${h(base.shoff + 40)}: e_shstrndx 99 is out of range (10 sections)`],
    ['section-name table of the wrong type', () => patched((v) => v.setUint16(0x3e, TEXT, true)), `elf: section 1: offset ${h(base.shoff + 64 + 4)}: section-name table has type 1, expected SHT_STRTAB (3)`],
    ['sh_name out of range', () => patched((v, w) => setShdr(v, w, MAPS, 'name', 0x1000)), `elf: section 2: offset ${h(base.shoff + 128)}: sh_name 0x1000 is out of range of the section-name table (size 0x48)`],
    ['section past the end', () => patched((v, w) => setShdr(v, w, TEXT, 'size', len)), `elf: section .text: offset ${h(base.offsets[TEXT]!)}: size ${h(len)} runs past the end of the file (${h(len)} bytes)`],
    ['section offset past 2^53', () => patched((v, w) => setShdr(v, w, TEXT, 'offset', 2n ** 63n)), `elf: section 1: offset ${h(base.shoff + 64 + 24)}: sh_offset 0x8000000000000000 is too large`],
    ['overlapping sections', () => patched((v, w) => setShdr(v, w, MAPS, 'offset', w.offsets[TEXT]! + 8)), `elf: section maps: offset ${h(base.offsets[TEXT]! + 8)}: overlaps section .text (${h(base.offsets[TEXT]!)}..${h(base.offsets[TEXT]! + 32)})`],
    ['section over the ELF header', () => patched((v, w) => setShdr(v, w, LICENSE, 'offset', 60)), 'elf: section license: offset 0x3c: overlaps the ELF header (0x0..0x40)'],
    ['section over the section header table', () => patched((v, w) => setShdr(v, w, LICENSE, 'offset', w.shoff + 4)), `elf: section license: offset ${h(base.shoff + 4)}: overlaps the section header table (${h(base.shoff)}..${h(len)})`],
    ['string table without NUL', () => patched((v, w) => v.setUint8(w.offsets[STRTAB]! + strtab.bytes().length - 1, 0x78)), `elf: section .strtab: offset ${h(base.offsets[STRTAB]! + strtab.bytes().length - 1)}: string table does not end with a NUL byte`],
    ['symtab size not a multiple of 24', () => patched((v, w) => setShdr(v, w, SYMTAB, 'size', 24 * 8 - 1)), `elf: section .symtab: offset ${h(base.offsets[SYMTAB]!)}: size 0xbf is not a multiple of 24`],
    ['symtab entsize', () => patched((v, w) => setShdr(v, w, SYMTAB, 'entsize', 16)), `elf: section .symtab: offset ${h(base.shoff + SYMTAB * 64 + 56)}: sh_entsize 16, expected 24`],
    ['rel size not a multiple of 16', () => patched((v, w) => setShdr(v, w, RELTEXT, 'size', 24)), `elf: section .rel.text: offset ${h(base.offsets[RELTEXT]!)}: size 0x18 is not a multiple of 16`],
    ['symtab sh_link not a string table', () => patched((v, w) => setShdr(v, w, SYMTAB, 'link', TEXT)), `elf: section .symtab: offset ${h(base.shoff + SYMTAB * 64 + 40)}: sh_link 1 is not a string table`],
    ['st_name out of range', () => patched((v, w) => v.setUint32(w.offsets[SYMTAB]! + 3 * 24, 0x500, true)), `elf: section .symtab: offset ${h(base.offsets[SYMTAB]! + 72)}: symbol 3: st_name 0x500 is out of range (string table size ${h(strtab.bytes().length)})`],
    ['st_shndx out of range', () => patched((v, w) => v.setUint16(w.offsets[SYMTAB]! + 3 * 24 + 6, 10, true)), `elf: section .symtab: offset ${h(base.offsets[SYMTAB]! + 78)}: symbol 3: st_shndx 10 is out of range (10 sections)`],
    ['SHN_XINDEX without SHT_SYMTAB_SHNDX', () => patched((v, w) => v.setUint16(w.offsets[SYMTAB]! + 3 * 24 + 6, SHN.XINDEX, true)), `elf: section .symtab: offset ${h(base.offsets[SYMTAB]! + 78)}: symbol 3: SHN_XINDEX without an SHT_SYMTAB_SHNDX entry`],
    ['st_value past 2^53', () => patched((v, w) => v.setBigUint64(w.offsets[SYMTAB]! + 3 * 24 + 8, 2n ** 53n, true)), `elf: section .symtab: offset ${h(base.offsets[SYMTAB]! + 80)}: symbol 3: st_value 0x20000000000000 is too large`],
    ['relocation symbol out of range', () => patched((v, w) => v.setUint32(w.offsets[RELTEXT]! + 8 + 4, 8, true)), `elf: section .rel.text: offset ${h(base.offsets[RELTEXT]! + 8)}: relocation 0: symbol 8 is out of range (8 symbols)`],
    ['rel sh_link not a symbol table', () => patched((v, w) => setShdr(v, w, RELTEXT, 'link', STRTAB)), `elf: section .rel.text: offset ${h(base.shoff + RELTEXT * 64 + 40)}: sh_link 5 is not a symbol table`],
    ['rel sh_info out of range', () => patched((v, w) => setShdr(v, w, RELTEXT, 'info', 77)), `elf: section .rel.text: offset ${h(base.shoff + RELTEXT * 64 + 44)}: sh_info 77 is out of range (10 sections)`],
  ];
  for (const [name, make, message] of cases) {
    test(name, () => {
      const w = make();
      const bytes = w instanceof Uint8Array ? w : w.bytes;
      rejects(bytes, typeof message === 'string' ? message : message(w as Written));
    });
  }

  test('big-endian errors decode big-endian fields', () => {
    rejects(patched((v) => v.setUint16(0x3a, 40, false), false).bytes, 'elf: offset 0x3a: e_shentsize 40, expected 64');
  });

  test('StringTable.get bounds', () => {
    const f = parseElf(base.bytes);
    const st = f.stringTable(STRTAB);
    const size = strtab.bytes().length;
    assert.throws(() => st.get(size), { name: 'BpfError', code: 'EINVAL', message: `elf: section .strtab: string offset ${h(size)} is out of range (size ${h(size)})` });
    assert.throws(() => st.get(-1), { name: 'BpfError', code: 'EINVAL', message: `elf: section .strtab: string offset -0x1 is out of range (size ${h(size)})` });
    assert.throws(() => f.stringTable(TEXT), { name: 'BpfError', code: 'EINVAL', message: 'elf: section .text: not a string table (type 1)' });
    assert.throws(() => f.stringTable(42), { name: 'BpfError', code: 'EINVAL', message: 'elf: section 42 does not exist (10 sections)' });
  });
});

// ---- fuzzing ----


/** Parses and touches every accessor; returns 'ok' or 'einval', rethrowing anything else. */
function outcome(bytes: Uint8Array): 'ok' | 'einval' {
  const onlyEinval = (e: unknown): 'einval' => {
    if (e instanceof BpfError && e.code === 'EINVAL' && e.message.startsWith('elf: ')) return 'einval';
    throw e;
  };
  let f: ElfFile;
  try {
    f = parseElf(bytes);
  } catch (e) {
    return onlyEinval(e);
  }
  for (const s of f.sections) {
    void [s.name, s.type, s.flags, s.addr, s.offset, s.size, s.link, s.info, s.addralign, s.entsize, s.data().length];
    f.sectionByName(s.name);
    if (s.type === SHT.STRTAB) {
      try {
        const st = f.stringTable(s.index);
        for (const off of [0, 1, s.size - 1, s.size, 0x7fffffff]) {
          try { st.get(off); } catch (e) { onlyEinval(e); }
        }
      } catch (e) {
        onlyEinval(e);
      }
    } else {
      try { f.stringTable(s.index); } catch (e) { onlyEinval(e); }
    }
  }
  for (const s of f.symbols()) void [s.name, s.value, s.shndx];
  for (const [, list] of f.relocations()) for (const r of list) void [r.symbol.name, r.addend];
  return 'ok';
}

describe('elf: fuzz', () => {
  test('truncation at every byte offset is refused', () => {
    for (const le of [true, false]) {
      const w = reference(le);
      for (let n = 0; n < w.bytes.length; n++) {
        // The section header table is the last thing in the file, so every
        // cut loses part of it.
        assert.equal(outcome(w.bytes.slice(0, n)), 'einval', `cut at ${n}`);
      }
      assert.equal(outcome(w.bytes), 'ok');
    }
  });

  test('3000 copies with random byte flips: ElfFile or BpfError EINVAL only', () => {
    const rand = mulberry32(0x5eed);
    const counts = { ok: 0, einval: 0 };
    for (let i = 0; i < 3000; i++) {
      const w = reference(i % 2 === 0, i % 3 === 0);
      const b = w.bytes;
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) {
        // Half the flips land in the headers, where they matter most.
        const inHeaders = rand() < 0.5;
        const at = inHeaders
          ? (rand() < 0.3 ? Math.floor(rand() * 64) : w.shoff + Math.floor(rand() * (b.length - w.shoff)))
          : Math.floor(rand() * b.length);
        b[at]! ^= 1 + Math.floor(rand() * 255);
      }
      counts[outcome(b)]++;
    }
    assert.equal(counts.ok + counts.einval, 3000);
    assert.ok(counts.ok > 100, `too few parses survive: ${counts.ok}`);
    assert.ok(counts.einval > 100, `too few rejections: ${counts.einval}`);
  });

  test('hostile symtab: many distinct offsets into one long string stay linear', () => {
    // 4000 symbols naming successive suffixes of one 100 KB string: without a
    // bound this decodes ~200 MB of text.
    const long = new Uint8Array(100_001).fill(0x61);
    long[100_000] = 0;
    const syms = Array.from({ length: 4000 }, (_, i) => ({ name: i === 0 ? 0 : i, info: 0, shndx: 0, value: 0, size: 0 }));
    const w = writeElf([
      { name: '.strtab', type: SHT.STRTAB, data: long },
      { name: '.symtab', type: SHT.SYMTAB, data: symbolsBytes(true, syms), link: 1, entsize: 24 },
    ]);
    const start = performance.now();
    assert.equal(outcome(w.bytes), 'einval');
    assert.ok(performance.now() - start < 2000);
    rejects(w.bytes, `elf: section .strtab: offset ${h(w.offsets[1]! + 17)}: too many overlapping strings`);
  });
});

// ---- a real object, when clang is around ----

const clang = ['/usr/bin/clang', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);

for (const [target, extra] of [['bpf', []], ['bpfeb', []], ['bpf', ['-g']]] as const) {
test(`elf: clang -O2 -target ${[target, ...extra].join(' ')} object`, { skip: clang === undefined ? 'clang not found (neither /usr/bin/clang nor clang on PATH)' : false }, () => {
  const dir = tempDir('tsbpf-elf-');
  try {
    const src = join(dir, 'prog.c');
    writeFileSync(
      src,
      [
        'struct bpf_map_def { unsigned int type, key_size, value_size, max_entries; };',
        '__attribute__((section("maps"), used)) struct bpf_map_def my_map = { 2, 4, 8, 16 };',
        'static void *(*lookup)(void *, void *) = (void *) 1;',
        '__attribute__((section("socket1"), used)) int prog(void *ctx) {',
        '  int key = 0; long *v = lookup(&my_map, &key); return v ? (int)*v : 0; }',
        '__attribute__((section("license"), used)) char _license[] = "GPL";',
      ].join('\n'),
    );
    const out = join(dir, 'prog.o');
    const r = spawnSync(clang!, ['-O2', '-target', target, ...extra, '-c', src, '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const f = parseElf(new Uint8Array(readFileSync(out)));
    assert.equal(f.header.littleEndian, target === 'bpf');
    assert.equal(f.header.machine, EM_BPF);
    assert.equal(f.header.type, ET.REL);
    const prog = f.sectionByName('socket1')!;
    assert.equal(prog.type, SHT.PROGBITS);
    assert.equal(prog.flags & SHF.EXECINSTR, SHF.EXECINSTR);
    assert.equal(prog.size % 8, 0);
    assert.deepEqual(f.sectionByName('license')!.data(), new TextEncoder().encode('GPL\0'));
    assert.equal(f.sectionByName('maps')!.size, 16);
    const byName = new Map(f.symbols().map((s) => [s.name, s]));
    assert.equal(byName.get('prog')!.type, STT.FUNC);
    assert.equal(byName.get('prog')!.shndx, prog.index);
    assert.equal(byName.get('my_map')!.type, STT.OBJECT);
    const relocs = f.relocations().get(prog.index)!;
    assert.ok(relocs.some((x) => x.symbol.name === 'my_map'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
}
