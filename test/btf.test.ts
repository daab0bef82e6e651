/**
 * The BTF reader (src/btf/): every kind from hand-built bytes, with
 * kind_flag (bitfields, signed enums, a union's forward declaration);
 * resolve, sizeOf and typeName; the `.BTF.ext` records; clang objects
 * compiled with -g; and bad input, each refused with its exact message.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf, BTF_KIND, parseBtfExt } from '../src/btf/index.js';
import { BpfError } from '../src/errors.js';
import { parseElf } from '../src/elf/index.js';
import { lineCol, Strings, writeBtf, writeBtfExt } from './fuzz/btf-writer.js';
import type { RawType } from './fuzz/btf-writer.js';
import { projectRoot } from './conformance-data.js';

const K = BTF_KIND;

function refuses(f: () => unknown, message: string, code = 'EINVAL'): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BpfError, `not a BpfError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

/** One type of every kind, ids in comments. */
const EVERY_KIND: RawType[] = [
  /* 1 */ { name: 'int', kind: K.INT, sizeOrType: 4, extra: [(1 << 24) | 32] },
  /* 2 */ { kind: K.PTR, sizeOrType: 1 },
  /* 3 */ { kind: K.ARRAY, sizeOrType: 0, extra: [1, 1, 4] },
  /* 4 */ { name: 'flow', kind: K.STRUCT, vlen: 3, sizeOrType: 24, extra: ['a', 1, 0, 'b', 3, 32, 'p', 2, 128] },
  /* 5 */ { name: 'u', kind: K.UNION, vlen: 2, sizeOrType: 8, extra: ['x', 1, 0, 'y', 2, 0] },
  /* 6 */ { name: 'color', kind: K.ENUM, vlen: 2, sizeOrType: 4, extra: ['RED', 0, 'BLUE', 0xffffffff] },
  /* 7 */ { name: 'later', kind: K.FWD, sizeOrType: 0 },
  /* 8 */ { name: '__u32', kind: K.TYPEDEF, sizeOrType: 1 },
  /* 9 */ { kind: K.VOLATILE, sizeOrType: 8 },
  /* 10 */ { kind: K.CONST, sizeOrType: 9 },
  /* 11 */ { kind: K.RESTRICT, sizeOrType: 2 },
  /* 12 */ { kind: K.FUNC_PROTO, vlen: 2, sizeOrType: 1, extra: ['ctx', 2, 'n', 8] },
  /* 13 */ { name: 'prog', kind: K.FUNC, vlen: 1, sizeOrType: 12 },
  /* 14 */ { name: 'counter', kind: K.VAR, sizeOrType: 10, extra: [1] },
  /* 15 */ { name: '.data', kind: K.DATASEC, vlen: 1, sizeOrType: 16, extra: [14, 8, 4] },
  /* 16 */ { name: 'double', kind: K.FLOAT, sizeOrType: 8 },
  /* 17 */ { name: 'tag', kind: K.DECL_TAG, sizeOrType: 4, extra: [1] },
  /* 18 */ { name: 'user', kind: K.TYPE_TAG, sizeOrType: 1 },
  /* 19 */ { name: 'big', kind: K.ENUM64, vlen: 1, sizeOrType: 8, extra: ['HUGE', 1, 0x80000000] },
];

describe('every kind from hand-built bytes', () => {
  const btf = new Btf(writeBtf(EVERY_KIND));

  test('the records as read', () => {
    assert.equal(btf.count, 19);
    assert.deepEqual(btf.type(1), { id: 1, name: 'int', kind: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 });
    assert.deepEqual(btf.type(2), { id: 2, name: '', kind: 'ptr', type: 1 });
    assert.deepEqual(btf.type(3), { id: 3, name: '', kind: 'array', type: 1, indexType: 1, nelems: 4 });
    assert.deepEqual(btf.type(4), {
      id: 4, name: 'flow', kind: 'struct', size: 24, kindFlag: false,
      members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'b', type: 3, bitOffset: 32, bitfieldSize: 0 }, { name: 'p', type: 2, bitOffset: 128, bitfieldSize: 0 }],
    });
    assert.deepEqual(btf.type(5), { id: 5, name: 'u', kind: 'union', size: 8, kindFlag: false, members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'y', type: 2, bitOffset: 0, bitfieldSize: 0 }] });
    assert.deepEqual(btf.type(6), { id: 6, name: 'color', kind: 'enum', size: 4, signed: false, values: [{ name: 'RED', value: 0n }, { name: 'BLUE', value: 0xffffffffn }] });
    assert.deepEqual(btf.type(7), { id: 7, name: 'later', kind: 'fwd', union: false });
    assert.deepEqual(btf.type(8), { id: 8, name: '__u32', kind: 'typedef', type: 1 });
    assert.deepEqual(btf.type(12), { id: 12, name: '', kind: 'func_proto', type: 1, params: [{ name: 'ctx', type: 2 }, { name: 'n', type: 8 }] });
    assert.deepEqual(btf.type(13), { id: 13, name: 'prog', kind: 'func', type: 12, linkage: 1 });
    assert.deepEqual(btf.type(14), { id: 14, name: 'counter', kind: 'var', type: 10, linkage: 1 });
    assert.deepEqual(btf.type(15), { id: 15, name: '.data', kind: 'datasec', size: 16, vars: [{ type: 14, offset: 8, size: 4 }] });
    assert.deepEqual(btf.type(16), { id: 16, name: 'double', kind: 'float', size: 8 });
    assert.deepEqual(btf.type(17), { id: 17, name: 'tag', kind: 'decl_tag', type: 4, componentIdx: 1 });
    assert.deepEqual(btf.type(18), { id: 18, name: 'user', kind: 'type_tag', type: 1 });
    assert.deepEqual(btf.type(19), { id: 19, name: 'big', kind: 'enum64', size: 8, signed: false, values: [{ name: 'HUGE', value: 0x8000000000000001n }] });
  });

  test('C-like names', () => {
    const names = Array.from({ length: 19 }, (_, i) => btf.typeName(i + 1));
    assert.deepEqual(names, [
      'int', 'int *', 'int[4]', 'struct flow', 'union u', 'enum color', 'struct later', '__u32', 'volatile __u32', 'const volatile __u32',
      'int *restrict', 'int (int *, __u32)', 'prog', 'counter', '.data', 'double', 'decl_tag tag', 'int', 'enum big',
    ]);
    assert.equal(btf.typeName(0), 'void');
  });

  test('resolve goes through typedefs, qualifiers, type tags and a var; sizeOf', () => {
    assert.equal(btf.resolveId(10), 1);
    assert.equal(btf.resolveId(14), 1);
    assert.equal(btf.resolveId(18), 1);
    assert.equal(btf.resolveId(11), 2, 'restrict of a pointer is the pointer');
    assert.equal(btf.resolve(4)?.kind, 'struct');
    assert.deepEqual([1, 2, 3, 4, 5, 6, 8, 10, 14, 15, 16, 19].map((id) => btf.sizeOf(id)), [4, 8, 16, 24, 8, 4, 4, 4, 4, 16, 8, 8]);
    refuses(() => btf.sizeOf(7), 'section .BTF: type 7 (struct later) has no size');
    refuses(() => btf.sizeOf(13), 'section .BTF: type 13 (prog) has no size');
    refuses(() => btf.sizeOf(0), 'section .BTF: type 0 (void) has no size');
    refuses(() => btf.type(20), 'section .BTF: type 20 does not exist (19 types)');
    assert.equal(btf.find('flow')?.id, 4);
    assert.equal(btf.find('flow', 'union'), undefined);
  });
});

describe('kind_flag', () => {
  test('bitfield members: size in the top 8 bits, bit offset in the low 24', () => {
    const btf = new Btf(writeBtf([
      { name: 'unsigned int', kind: K.INT, sizeOrType: 4, extra: [32] },
      { name: 'bits', kind: K.STRUCT, vlen: 3, kindFlag: true, sizeOrType: 4, extra: ['a', 1, (3 << 24) | 0, 'b', 1, (5 << 24) | 3, 'c', 1, 8] },
    ]));
    const t = btf.type(2);
    assert.ok(t.kind === 'struct');
    assert.equal(t.kindFlag, true);
    assert.deepEqual(t.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]), [['a', 0, 3], ['b', 3, 5], ['c', 8, 0]]);
  });

  test('signed enum and enum64 values; a forward declaration of a union', () => {
    const btf = new Btf(writeBtf([
      { name: 'e', kind: K.ENUM, vlen: 1, kindFlag: true, sizeOrType: 4, extra: ['MINUS', 0xfffffffe] },
      { name: 'e64', kind: K.ENUM64, vlen: 1, kindFlag: true, sizeOrType: 8, extra: ['MIN', 0, 0x80000000] },
      { name: 'later', kind: K.FWD, kindFlag: true, sizeOrType: 0 },
    ]));
    assert.deepEqual(btf.type(1), { id: 1, name: 'e', kind: 'enum', size: 4, signed: true, values: [{ name: 'MINUS', value: -2n }] });
    assert.deepEqual(btf.type(2), { id: 2, name: 'e64', kind: 'enum64', size: 8, signed: true, values: [{ name: 'MIN', value: -(1n << 63n) }] });
    assert.deepEqual(btf.type(3), { id: 3, name: 'later', kind: 'fwd', union: true });
    assert.equal(btf.typeName(3), 'union later');
  });

  test('names of pointers to arrays and functions, const pointers, variadic prototypes, nested arrays', () => {
    const btf = new Btf(writeBtf([
      /* 1 */ { name: 'char', kind: K.INT, sizeOrType: 1, extra: [(2 << 24) | 8] },
      /* 2 */ { kind: K.ARRAY, sizeOrType: 0, extra: [1, 1, 3] },
      /* 3 */ { kind: K.ARRAY, sizeOrType: 0, extra: [2, 1, 2] },
      /* 4 */ { kind: K.PTR, sizeOrType: 3 },
      /* 5 */ { kind: K.FUNC_PROTO, vlen: 2, sizeOrType: 0, extra: ['fmt', 7, '', 0] },
      /* 6 */ { kind: K.PTR, sizeOrType: 5 },
      /* 7 */ { kind: K.PTR, sizeOrType: 8 },
      /* 8 */ { kind: K.CONST, sizeOrType: 1 },
      /* 9 */ { kind: K.CONST, sizeOrType: 7 },
      /* 10 */ { kind: K.ARRAY, sizeOrType: 0, extra: [7, 1, 4] },
      /* 11 */ { kind: K.FUNC_PROTO, sizeOrType: 1 },
    ]));
    assert.deepEqual([2, 3, 4, 5, 6, 7, 9, 10, 11].map((id) => btf.typeName(id)), [
      'char[3]', 'char[2][3]', 'char (*)[2][3]', 'void (const char *, ...)', 'void (*)(const char *, ...)', 'const char *', 'const char *const', 'const char *[4]', 'char (void)',
    ]);
    assert.equal(btf.sizeOf(3), 6);
    assert.equal(btf.funcDecl(5, 'printk'), 'void printk(const char * fmt, ...)');
    assert.equal(btf.funcDecl(11, 'none'), 'char none()');
  });
});

describe('bad input: each refused with its offset', () => {
  const one = (types: RawType[]): Uint8Array => writeBtf(types);
  const cases: [string, () => unknown, string][] = [
    ['too short', () => new Btf(new Uint8Array(10)), 'section .BTF: offset 0: 10 bytes, too short for a header (24)'],
    ['big-endian', () => new Btf(Uint8Array.from([0xeb, 0x9f, 1, 0, ...new Uint8Array(20)])), 'section .BTF: offset 0: bad magic 0x9feb (a big-endian BTF)'],
    ['a dangling type id', () => new Btf(one([{ kind: K.PTR, sizeOrType: 5 }])), 'section .BTF: offset 32: type 1 (ptr): refers to: type 5 does not exist (1 types)'],
    ['an unknown kind', () => new Btf(one([{ kind: 25, sizeOrType: 0 }])), 'section .BTF: offset 24: type 1: unknown kind 25'],
    ['a struct whose members run past the table', () => new Btf(one([{ name: 's', kind: K.STRUCT, vlen: 3, sizeOrType: 4, extra: ['a', 0, 0] }])), 'section .BTF: offset 24: type 1 runs past the type table (24 bytes)'],
    ['an int wider than its size', () => new Btf(one([{ name: 'i', kind: K.INT, sizeOrType: 4, extra: [33] }])), 'section .BTF: offset 24: type 1 (int i): 33 bits at bit 0 do not fit 4 bytes'],
    ['a member past its struct', () => new Btf(one([{ name: 's', kind: K.STRUCT, vlen: 1, kindFlag: true, sizeOrType: 1, extra: ['a', 0, (4 << 24) | 6] }])), 'section .BTF: offset 36: type 1 (struct s): member a at bit 6 runs past its 1 bytes'],
    ['a name past the strings', () => new Btf(one([{ kind: K.PTR, sizeOrType: 0, name: undefined }]).map((b, i) => (i === 24 ? 200 : b))), 'section .BTF: offset 24: type 1: string offset 200 is past the string table (1 bytes)'],
    ['a typedef cycle', () => new Btf(one([{ name: 'a', kind: K.TYPEDEF, sizeOrType: 2 }, { name: 'b', kind: K.TYPEDEF, sizeOrType: 1 }])).sizeOf(1), 'section .BTF: type 1: a cycle of typedefs or qualifiers'],
    ['an array of itself', () => new Btf(one([{ kind: K.ARRAY, sizeOrType: 0, extra: [1, 1, 2] }])).sizeOf(1), 'section .BTF: type 1: an array that contains itself'],
    ['a control character in a name is escaped', () => new Btf(one([{ name: 'a\nb', kind: K.INT, sizeOrType: 3, extra: [8] }])), 'section .BTF: offset 24: type 1 (int a\\u000ab): size 3 is not 1, 2, 4, 8 or 16'],
  ];
  for (const [what, f, message] of cases) test(what, () => refuses(f, message));

  test('a long chain of typedefs and arrays resolves in linear time, without recursion', () => {
    const n = 100_000;
    const types: RawType[] = [{ name: 'int', kind: K.INT, sizeOrType: 4, extra: [32] }];
    for (let i = 0; i < n; i++) types.push(i % 2 ? { kind: K.ARRAY, sizeOrType: 0, extra: [types.length, 1, 1] } : { name: 't', kind: K.TYPEDEF, sizeOrType: types.length });
    const btf = new Btf(writeBtf(types));
    const t0 = performance.now();
    for (let id = btf.count; id >= 1; id -= 1000) assert.equal(btf.sizeOf(id), 4);
    assert.equal(btf.typeName(btf.count).length <= 259, true);
    assert.ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  });

  test('a prototype of prototypes is named within its budget', () => {
    const types: RawType[] = [{ name: 'int', kind: K.INT, sizeOrType: 4, extra: [32] }];
    for (let i = 0; i < 40; i++) types.push({ kind: K.FUNC_PROTO, vlen: 200, sizeOrType: types.length, extra: Array.from({ length: 200 }, () => ['', types.length]).flat() });
    const btf = new Btf(writeBtf(types));
    assert.ok(btf.typeName(btf.count).endsWith('...'));
  });
});

describe('.BTF.ext', () => {
  // the records' strings live in the BTF's table: intern them before the BTF is written
  const strings = new Strings();
  for (const s of ['xdp', 'a.c', '  int x = 1;', 'return x;', '0:1']) strings.add(s);
  const ext = (parts: Parameters<typeof writeBtfExt>[0]): Uint8Array => writeBtfExt(parts, strings);
  const btf = new Btf(writeBtf([
    { name: 'int', kind: K.INT, sizeOrType: 4, extra: [32] },
    { kind: K.FUNC_PROTO, sizeOrType: 1 },
    { name: 'main', kind: K.FUNC, vlen: 1, sizeOrType: 2 },
    { name: 'helper', kind: K.FUNC, sizeOrType: 2 },
  ], strings));

  test('func_info, line_info and CO-RE records by section, offsets as instruction indexes', () => {
    const e = parseBtfExt(ext({
      func: [{ section: 'xdp', records: [[0, 3], [40, 4]] }],
      line: [{ section: 'xdp', records: [[0, 'a.c', '  int x = 1;', lineCol(3, 7)], [16, 'a.c', 'return x;', lineCol(4, 2)]] }],
      core: [{ section: 'xdp', records: [[8, 1, '0:1', 0]] }],
    }), btf);
    assert.deepEqual(e.funcInfo.get('xdp'), [{ insn: 0, typeId: 3, name: 'main' }, { insn: 5, typeId: 4, name: 'helper' }]);
    const off = (s: string): number => strings.add(s);
    assert.deepEqual(e.lineInfo.get('xdp'), [
      { insn: 0, file: 'a.c', line: '  int x = 1;', lineNum: 3, col: 7, fileNameOff: off('a.c'), lineOff: off('  int x = 1;') },
      { insn: 2, file: 'a.c', line: 'return x;', lineNum: 4, col: 2, fileNameOff: off('a.c'), lineOff: off('return x;') },
    ]);
    assert.deepEqual(e.coreRelos.get('xdp'), [{ insn: 1, typeId: 1, access: '0:1', kind: 'field_byte_offset' }]);
  });

  test('a larger record size: the extra words are skipped', () => {
    const e = parseBtfExt(ext({ func: [{ section: 'xdp', records: [[0, 3, 99], [8, 4, 99]] }], recSize: { func: 12 } }), btf);
    assert.deepEqual(e.funcInfo.get('xdp')?.map((f) => f.insn), [0, 1]);
  });

  const bad: [string, () => unknown, string][] = [
    ['a misaligned instruction offset', () => parseBtfExt(ext({ func: [{ section: 'xdp', records: [[4, 3]] }] }), btf), 'section .BTF.ext: offset 44: instruction offset 4 is not a multiple of 8'],
    ['a func_info type that is not a FUNC', () => parseBtfExt(ext({ func: [{ section: 'xdp', records: [[0, 1]] }] }), btf), 'section .BTF.ext: offset 48: type 1 is not a FUNC'],
    ['more records than bytes', () => parseBtfExt(ext({ func: [{ section: 'xdp', records: [[0, 3]] }] }).map((b, i) => (i === 40 ? 9 : b)), btf), 'section .BTF.ext: offset 40: 9 func records of 8 bytes run past the records'],
    ['a record size too small', () => parseBtfExt(ext({ line: [{ section: 'xdp', records: [[0, 'a.c', 'return x;', 0]] }], recSize: { line: 8 } }), btf), 'section .BTF.ext: offset 32: line record size 8 (at least 16, a multiple of 4)'],
    ['line records out of order', () => parseBtfExt(ext({ line: [{ section: 'xdp', records: [[8, 'a.c', 'return x;', 0], [0, 'a.c', 'return x;', 0]] }] }), btf), 'section .BTF.ext: section xdp: line record 1 (insn 0) is out of order after insn 1'],
    ['an unknown CO-RE kind', () => parseBtfExt(ext({ core: [{ section: 'xdp', records: [[0, 1, '0:1', 13]] }] }), btf), 'section .BTF.ext: offset 56: unknown CO-RE relocation kind 13'],
    ['a region past the section', () => parseBtfExt(ext({ func: [{ section: 'xdp', records: [[0, 3]] }] }).subarray(0, 40), btf), 'section .BTF.ext: offset 8: the func records (20 bytes at 32) run past the section\'s 40 bytes'],
    ['a section name past the strings', () => parseBtfExt(ext({ func: [{ section: 'xdp', records: [[0, 3]] }] }).map((b, i) => (i === 36 ? 0xff : b)), btf), `section .BTF.ext: offset 36: func section name: string offset 255 is past the string table (${strings.bytes.length} bytes)`],
  ];
  for (const [what, f, message] of bad) test(what, () => refuses(f, message));
});

describe('clang objects compiled with -g', () => {
  const objects = [
    'test/c/helpers.o', 'test/c/maps-globals.o', 'test/c/modern-call.o', 'test/c/modern-examples.o', 'test/c/tc-skb.o', 'test/c/xdp-adjust.o',
    'test/c/xdp-parse.o', 'examples/modern.o', 'test/c/source-lines.o', 'test/c/core-relos.o',
  ];
  for (const f of objects) {
    test(`${f}: every type named and sized or refused as sizeless; every code section's lines and functions`, () => {
      const elf = parseElf(new Uint8Array(readFileSync(join(projectRoot(), f))));
      const btf = new Btf(elf.sectionByName('.BTF')!.data());
      assert.ok(btf.count > 5);
      for (let id = 1; id <= btf.count; id++) {
        assert.notEqual(btf.typeName(id), '');
        const t = btf.type(id);
        const sized = !['fwd', 'func', 'func_proto', 'decl_tag'].includes(btf.resolve(id)?.kind ?? 'fwd');
        if (sized) assert.ok(btf.sizeOf(id) >= 0);
        else assert.throws(() => btf.sizeOf(id), BpfError, `${t.kind} ${t.name}`);
      }
      const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data(), btf);
      for (const [sec, lines] of ext.lineInfo) {
        const code = elf.sectionByName(sec);
        assert.ok(code, `line info for a section that exists: ${sec}`);
        for (const l of lines) {
          assert.ok(l.insn < code.size / 8);
          assert.match(l.file, /\.[ch]$/);
        }
        assert.ok((ext.funcInfo.get(sec)?.length ?? 0) >= 1);
      }
    });
  }

  test('core-relos.o: the CO-RE records, as clang made them (read, not applied)', () => {
    const elf = parseElf(new Uint8Array(readFileSync(join(projectRoot(), 'test/c/core-relos.o'))));
    const btf = new Btf(elf.sectionByName('.BTF')!.data());
    const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data(), btf);
    const relos = ext.coreRelos.get('xdp')!;
    assert.deepEqual(relos.map((r) => [r.insn, btf.typeName(r.typeId), r.access, r.kind]), [
      [0, 'struct task', '0:1:1', 'field_byte_offset'],
      [7, 'struct task', '0:0', 'field_exists'],
      [10, 'struct task', '0', 'type_size'],
    ]);
    // what the records say: inner.b is at byte 16, struct task has 24 bytes
    const task = btf.resolve(relos[0]!.typeId)!;
    assert.ok(task.kind === 'struct');
    const inner = btf.resolve(task.members[1]!.type)!;
    assert.ok(inner.kind === 'struct');
    assert.equal((task.members[1]!.bitOffset + inner.members[1]!.bitOffset) / 8, 16);
    assert.equal(btf.sizeOf(task.id), 24);
    assert.deepEqual(elf.sectionByName('xdp')!.data().subarray(0, 8), Uint8Array.from([0xb7, 0x02, 0, 0, 16, 0, 0, 0]));
  });

  test('modern-call.o: its two functions and the source of its first instructions', () => {
    const elf = parseElf(new Uint8Array(readFileSync(join(projectRoot(), 'test/c/modern-call.o'))));
    const btf = new Btf(elf.sectionByName('.BTF')!.data());
    const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data(), btf);
    assert.deepEqual(ext.funcInfo.get('socket/call'), [{ insn: 0, typeId: 18, name: 'noinline_call' }, { insn: 4, typeId: 20, name: 'twice_plus' }]);
    assert.deepEqual(ext.lineInfo.get('socket/call')!.map((l) => `${l.insn} ${l.file.split('/').pop()}:${l.lineNum}:${l.col} ${l.line}`), [
      '0 modern-call.c:18:10   return twice_plus(skb->len, 3);',
      '3 modern-call.c:18:3   return twice_plus(skb->len, 3);',
      '4 modern-call.c:21:0 static __attribute__((noinline)) SEC("socket/call") int twice_plus(unsigned int x, int y) {',
      '5 modern-call.c:22:12   return 2 * x + y;',
      '6 modern-call.c:22:16   return 2 * x + y;',
      '7 modern-call.c:22:3   return 2 * x + y;',
    ]);
    assert.equal(btf.typeName(20), 'twice_plus');
    assert.equal(btf.funcDecl(20), 'int twice_plus(unsigned int x, int y)');
    assert.equal(btf.funcDecl(18), 'int noinline_call(struct __sk_buff * skb)');
    assert.equal(btf.funcDecl(19, 'f'), 'int f(unsigned int x, int y)');
    refuses(() => btf.funcDecl(17), 'section .BTF: type 17 (int) is not a function');
    assert.equal(btf.typeName(19), 'int (unsigned int, int)');
    assert.equal(btf.typeName(1), 'struct __sk_buff *');
    assert.equal(btf.sizeOf(2), 192);
  });
});

test('the running kernel\'s own BTF (/sys/kernel/btf/vmlinux), where there is one: every kind read', (t) => {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
  } catch (e) {
    t.skip(`no kernel BTF here (${(e as Error).message})`);
    return;
  }
  const btf = new Btf(bytes);
  assert.ok(btf.count > 10_000, `${btf.count} types`);
  const kinds = new Set(btf.types.map((x) => x?.kind));
  for (const k of ['int', 'ptr', 'array', 'struct', 'union', 'enum', 'typedef', 'const', 'volatile', 'func', 'func_proto', 'var', 'datasec']) assert.ok(kinds.has(k as never), k);
  const attr = btf.find('bpf_attr', 'union')!;
  assert.equal(btf.typeName(attr.id), 'union bpf_attr');
  const insn = btf.find('bpf_insn', 'struct')!;
  assert.equal(btf.sizeOf(insn.id), 8);
  assert.ok(insn.kind === 'struct' && insn.kindFlag, 'bpf_insn has bitfields (dst_reg:4, src_reg:4)');
  assert.deepEqual(insn.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]), [['code', 0, 0], ['dst_reg', 8, 4], ['src_reg', 12, 4], ['off', 16, 0], ['imm', 32, 0]]);
});
