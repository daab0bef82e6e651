/**
 * BTF values (issue 19 items 1-3 and 6): btfCodec's round trips over random
 * types of every kind (fast-check: bytes to value to bytes, byte-exact, and
 * the value back), its errors naming the path, typed maps of a Collection
 * loaded from test/c/btf-values.o (clang -g), bpftool's formatted view
 * (btf/dump.ts) against the output bpftool 7.1 printed for these types, the
 * CLI through its process, and, as root with bpftool, the formatted dump of
 * every map equal to `bpftool -j map dump` and `bpftool map dump` of the
 * same contents in the host kernel.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Btf, btfCodec, btfDump, btfJson, btfText, BtfDumpObject, BTF_VALUE_MAX_FIELDS } from '../src/btf/index.js';
import type { BtfValue } from '../src/btf/index.js';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { parseElf } from '../src/elf/index.js';
import { formattedEntry, jsonLine, mapContents, mapDumpJson, RawJson } from '../src/cli/map-view.js';
import { possibleCpus } from './map-ops.js';
import { BtfBuilder } from './btf-build.js';
import { projectRoot } from './conformance-data.js';
import { spawnTsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const OBJ = join(projectRoot(), 'test', 'c', 'btf-values.o');
const objBytes = (): Uint8Array => new Uint8Array(readFileSync(OBJ));
const objBtf = (): Btf => new Btf(parseElf(objBytes()).sectionByName('.BTF')!.data());

const einval = (f: () => unknown, message: string): void => {
  assert.throws(f, (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === message ? true : assert.fail(`${String(e)}`));
};

// ------------------------------------------------------------ random types

/** A type to build: scalars, arrays, structs and unions (with bitfield groups and anonymous members), qualifiers. */
type Desc =
  | { k: 'int'; size: 1 | 2 | 4 | 8 | 16; signed: boolean; bool?: boolean }
  | { k: 'char' }
  | { k: 'enum'; size: 1 | 2 | 4 | 8; signed: boolean; wide: boolean; values: bigint[] }
  | { k: 'float'; size: 2 | 4 | 8 }
  | { k: 'ptr' }
  | { k: 'array'; elem: Desc; n: number }
  | { k: 'struct' | 'union'; fields: Field[] }
  | { k: 'mod'; mod: 'typedef' | 'const' | 'volatile' | 'restrict' | 'type_tag'; inner: Desc };
type Field = { f: 'named'; d: Desc } | { f: 'anon'; d: Desc & { k: 'struct' | 'union' } } | { f: 'bits'; unit: 4 | 8; signed: boolean; widths: number[] };

const noFloat = (d: Desc): boolean =>
  d.k === 'float' ? false : d.k === 'array' ? noFloat(d.elem) : d.k === 'mod' ? noFloat(d.inner) : d.k === 'struct' || d.k === 'union' ? d.fields.every((f) => f.f === 'bits' || noFloat(f.d)) : true;

const scalar: fc.Arbitrary<Desc> = fc.oneof(
  fc.record({ k: fc.constant('int' as const), size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const, 16 as const), signed: fc.boolean() }),
  fc.constant({ k: 'int' as const, size: 1 as const, signed: false, bool: true }),
  fc.constant({ k: 'char' as const }),
  fc.record({
    k: fc.constant('enum' as const), size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), signed: fc.boolean(), wide: fc.boolean(),
    values: fc.array(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), { minLength: 0, maxLength: 4 }),
  }).map((e) => ({ ...e, wide: e.size === 8 ? true : e.wide && e.size >= 4 })),
  fc.record({ k: fc.constant('float' as const), size: fc.constantFrom(2 as const, 4 as const, 8 as const) }),
  fc.constant({ k: 'ptr' as const }),
);

const { desc } = fc.letrec<{ desc: Desc; field: Field }>((tie) => ({
  desc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.record({ k: fc.constant('array' as const), elem: tie('desc'), n: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ k: fc.constantFrom('struct' as const, 'union' as const), fields: fc.array(tie('field'), { minLength: 1, maxLength: 5 }) }),
    fc.record({ k: fc.constant('mod' as const), mod: fc.constantFrom('typedef' as const, 'const' as const, 'volatile' as const, 'restrict' as const, 'type_tag' as const), inner: tie('desc') }),
  ),
  field: fc.oneof(
    fc.record({ f: fc.constant('named' as const), d: tie('desc') }),
    fc.record({ f: fc.constant('anon' as const), d: fc.record({ k: fc.constantFrom('struct' as const, 'union' as const), fields: fc.array(tie('field'), { minLength: 1, maxLength: 3 }) }) }) as fc.Arbitrary<Field>,
    fc.record({ f: fc.constant('bits' as const), unit: fc.constantFrom(4 as const, 8 as const), signed: fc.boolean(), widths: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 3 }) }),
  ),
})) as { desc: fc.Arbitrary<Desc> };

/** A Desc built into BTF: its id, size and alignment, and how to fill a value's bytes at random. */
interface Built {
  id: number;
  size: number;
  align: number;
  fill(b: Uint8Array, at: number, rnd: () => number): void;
}

function build(root: Desc): { btf: Btf; built: Built } {
  const w = new BtfBuilder();
  const index = w.int('__ARRAY_SIZE_TYPE__', 4);
  const charId = w.int('char', 1, { signed: true });
  let names = 0;
  const randomBytes = (b: Uint8Array, at: number, n: number, rnd: () => number): void => {
    for (let i = 0; i < n; i++) b[at + i] = rnd() & 0xff;
  };
  const go = (d: Desc, inUnion: boolean): Built => {
    switch (d.k) {
      case 'int': {
        const id = w.int(d.bool ? '_Bool' : `i${d.size}${d.signed ? 's' : 'u'}`, d.size, d.bool ? { bool: true } : { signed: d.signed });
        return {
          id, size: d.size, align: Math.min(d.size, 8),
          fill: (b, at, rnd) => (d.bool ? (b[at] = rnd() % 5 === 0 ? rnd() & 0xff : rnd() & 1) : randomBytes(b, at, d.size, rnd)),
        };
      }
      case 'char':
        return { id: charId, size: 1, align: 1, fill: (b, at, rnd) => randomBytes(b, at, 1, rnd) };
      case 'enum': {
        const bits = BigInt(d.size * 8);
        const values = d.values.map((v) => (d.signed ? BigInt.asIntN(Number(bits), v) : BigInt.asUintN(Number(bits), v)));
        const id = w.enum(`e${names++}`, d.size, values.map((v, i) => [`E${names}_${i}`, v]), { signed: d.signed, wide: d.wide });
        return {
          id, size: d.size, align: Math.min(d.size, 8),
          fill: (b, at, rnd) => {
            const pick = values.length > 0 && rnd() % 2 === 0 ? BigInt.asUintN(Number(bits), values[rnd() % values.length]!) : undefined;
            if (pick === undefined) randomBytes(b, at, d.size, rnd);
            else for (let i = 0; i < d.size; i++) b[at + i] = Number((pick >> BigInt(8 * i)) & 0xffn);
          },
        };
      }
      case 'float': {
        const id = w.float(d.size === 2 ? '_Float16' : d.size === 4 ? 'float' : 'double', d.size);
        return {
          id, size: d.size, align: d.size,
          fill: (b, at, rnd) => {
            const v = new DataView(b.buffer, b.byteOffset + at, d.size);
            const x = (rnd() - 2 ** 31) * 2 ** ((rnd() % 80) - 40);
            if (d.size === 8) v.setFloat64(0, x, true);
            else if (d.size === 4) v.setFloat32(0, x, true);
            else {
              let h = rnd() & 0xffff;
              if ((h & 0x7c00) === 0x7c00) h &= 0xfc00; // no NaN: its payload is not a value
              v.setUint16(0, h, true);
            }
          },
        };
      }
      case 'ptr': {
        const id = w.ptr(0);
        return { id, size: 8, align: 8, fill: (b, at, rnd) => randomBytes(b, at, 8, rnd) };
      }
      case 'array': {
        const e = go(d.elem, inUnion);
        const id = w.array(e.id, index, d.n);
        const chars = d.elem.k === 'char';
        return {
          id, size: e.size * d.n, align: e.align,
          fill: (b, at, rnd) => {
            if (chars && rnd() % 2 === 0) {
              // a text, NUL-padded: the string form
              const text = new TextEncoder().encode(['', 'a', 'eth0', 'é€', 'xxxxxxxx'][rnd() % 5]!).subarray(0, d.n);
              b.fill(0, at, at + d.n);
              b.set(text, at);
              return;
            }
            for (let i = 0; i < d.n; i++) e.fill(b, at + i * e.size, rnd);
          },
        };
      }
      case 'mod': {
        const inner = go(d.inner, inUnion);
        const id = w.modifier(d.mod, inner.id, d.mod === 'typedef' ? `t${names++}` : '');
        return { ...inner, id };
      }
      case 'struct': case 'union': {
        const union = d.k === 'union';
        const members: [string, number, number, number?][] = [];
        const fills: ((b: Uint8Array, at: number, rnd: () => number) => void)[] = [];
        let off = 0;
        let size = 0;
        let align = 1;
        const place = (sz: number, al: number): number => {
          const at = union ? 0 : Math.ceil(off / al) * al;
          off = at + sz;
          size = Math.max(size, at + sz);
          align = Math.max(align, al);
          return at;
        };
        for (const f of d.fields) {
          if (f.f === 'bits') {
            const unit = go({ k: 'int', size: f.unit, signed: f.signed }, union || inUnion);
            const at = place(f.unit, f.unit);
            let bit = 0;
            const spans: [number, number][] = [];
            for (const width of f.widths) {
              if (bit + width > f.unit * 8) break;
              members.push([`b${names++}`, unit.id, at * 8 + bit, width]);
              spans.push([at * 8 + bit, width]);
              bit += width;
            }
            fills.push((b, base, rnd) => {
              for (const [start, width] of spans) {
                for (let i = 0; i < width; i++) {
                  const p = start + i;
                  const byte = base + (p >> 3);
                  b[byte] = (b[byte]! & ~(1 << (p & 7))) | ((rnd() & 1) << (p & 7));
                }
              }
            });
            continue;
          }
          const m = go(f.d, union || inUnion);
          const at = place(m.size, m.align);
          members.push([f.f === 'anon' ? '' : `f${names++}`, m.id, at * 8]);
          fills.push((b, base, rnd) => m.fill(b, base + at, rnd));
        }
        size = Math.ceil(size / align) * align;
        const id = w.composite(d.k, `s${names++}`, size, members);
        return { id, size, align, fill: (b, at, rnd) => fills.forEach((f) => f(b, at, rnd)) };
      }
    }
  };
  const built = go(root, false);
  return { btf: new Btf(w.bytes()), built };
}

/** A small xorshift generator from a seed: the bytes of a value, reproducible from the seed fast-check shrinks. */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

test('btfCodec: bytes to value to bytes is byte-exact, and the value comes back, over random types of every kind', () => {
  // unions whose members overlay floats would see NaNs of other members' bits: those are not values
  const types = desc.filter((d) => !(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).includes('"union"') && !noFloat(d)));
  fc.assert(fc.property(types, fc.integer(), (d, seed) => {
    const { btf, built } = build(d);
    const codec = btfCodec(btf, built.id);
    assert.equal(codec.size, built.size);
    const bytes = new Uint8Array(built.size);
    built.fill(bytes, 0, rng(seed));
    const value = codec.decode(bytes);
    const again = codec.encode(value);
    assert.deepEqual(again, bytes);
    assert.deepEqual(codec.decode(again), value);
    // encodeInto: the same bytes at an offset, the rest of the target untouched
    const target = new Uint8Array(built.size + 3).fill(0xee);
    codec.encodeInto(value, target, 2);
    assert.deepEqual(target.subarray(2, 2 + built.size), bytes);
    assert.deepEqual([target[0], target[1], target[built.size + 2]], [0xee, 0xee, 0xee]);
  }), { numRuns: 400 });
});

// ------------------------------------------------------------ kinds one by one

/** A BTF of scalars for the exact cases below. */
function scalars(): { btf: Btf; ids: Record<string, number> } {
  const w = new BtfBuilder();
  const ids: Record<string, number> = {};
  ids['u8'] = w.int('unsigned char', 1);
  ids['s16'] = w.int('short', 2, { signed: true });
  ids['u32'] = w.int('unsigned int', 4);
  ids['s64'] = w.int('long long', 8, { signed: true });
  ids['u128'] = w.int('unsigned __int128', 16);
  ids['bool'] = w.int('_Bool', 1, { bool: true });
  ids['__u16'] = w.modifier('typedef', w.int('unsigned short', 2), '__u16');
  ids['cv'] = w.modifier('const', w.modifier('volatile', ids['__u16']!));
  ids['e64'] = w.enum('big', 8, [['HUGE', 1n << 63n], ['ONE', 1n]], { wide: true });
  ids['es'] = w.enum('sign', 4, [['MINUS', -1n], ['ZERO', 0n]], { signed: true });
  ids['f16'] = w.float('_Float16', 2);
  ids['f32'] = w.float('float', 4);
  ids['ld'] = w.float('long double', 16);
  ids['ptr'] = w.ptr(ids['u32']!);
  ids['fwd'] = w.fwd('later');
  const idx = w.int('__ARRAY_SIZE_TYPE__', 4);
  const ch = w.int('char', 1, { signed: true });
  ids['str'] = w.array(ch, idx, 6);
  ids['empty'] = w.array(ids['u32']!, idx, 0);
  // an old-style bitfield type: 5 bits at bit 3 of an int
  ids['oldbits'] = w.int('int', 4, { signed: true, bits: 5, offset: 3 });
  ids['port'] = w.variable('port', ids['cv']!);
  ids['count'] = w.variable('count', ids['s64']!);
  ids['rodata'] = w.datasec('.rodata', 16, [[ids['port']!, 0, 2], [ids['count']!, 8, 8]]);
  ids['tag'] = w.modifier('type_tag', ids['u32']!, 'user');
  return { btf: new Btf(w.bytes()), ids };
}

test('btfCodec: each kind as documented (numbers to 32 bits, bigints above, enums by name, strings, floats, datasec)', () => {
  const { btf, ids } = scalars();
  const rt = (name: string, value: BtfValue, hex: string): void => {
    const c = btfCodec(btf, ids[name]!);
    assert.equal(Buffer.from(c.encode(value)).toString('hex'), hex, name);
    assert.deepEqual(c.decode(Buffer.from(hex, 'hex')), value, name);
  };
  rt('u8', 255, 'ff');
  rt('s16', -2, 'feff');
  rt('u32', 0xdeadbeef, 'efbeadde');
  rt('s64', -1n, 'ffffffffffffffff');
  rt('u128', (1n << 127n) | 5n, '05000000000000000000000000000080');
  rt('bool', true, '01');
  rt('bool', 7, '07'); // not 0 or 1: kept as the number, so it survives
  rt('cv', 443, 'bb01');
  rt('e64', 'HUGE', '0000000000000080');
  rt('e64', 7n, '0700000000000000');
  rt('es', 'MINUS', 'ffffffff');
  rt('es', -5, 'fbffffff');
  rt('f16', 1.5, '003e');
  rt('f16', -65504, 'fffb');
  rt('f32', 0.25, '0000803e');
  rt('ld', Uint8Array.from({ length: 16 }, (_, i) => i), '000102030405060708090a0b0c0d0e0f');
  rt('ptr', 0xffff888000001000n, '001000008088ffff');
  rt('str', 'eth0', '657468300000');
  rt('str', 'abcdef', '616263646566');
  rt('str', [97, 0, 98, 0, 0, 0], '610062000000'); // a NUL inside: numbers
  rt('str', [-1, 0, 0, 0, 0, 0], 'ff0000000000'); // not UTF-8: numbers
  rt('empty', [], '');
  rt('oldbits', -3, 'e8000000');
  rt('rodata', { port: 80, count: 9n }, '50000000000000000900000000000000');
  rt('tag', 3, '03000000');
  assert.equal(btfCodec(btf, ids['cv']!).typeName, 'const volatile __u16');
  assert.equal(btfCodec(btf, ids['port']!, { root: 'port' }).size, 2);
  // an enum value encoded by number, and by name
  assert.deepEqual(btfCodec(btf, ids['es']!).encode(0), btfCodec(btf, ids['es']!).encode('ZERO'));
});

test('btfCodec: wrong values are EINVAL naming the path; types without values too', () => {
  const { btf, ids } = scalars();
  const c = (name: string, root?: string) => btfCodec(btf, ids[name]!, root === undefined ? {} : { root });
  einval(() => c('cv', 'port').encode(70000), 'port: 70000 does not fit const volatile __u16');
  einval(() => c('u8').encode(-1), 'value: -1 does not fit unsigned char');
  einval(() => c('u32').encode(1.5), 'value: 1.5 is not an integer (unsigned int)');
  einval(() => c('u32').encode('1'), 'value: "1" is not an integer (unsigned int)');
  einval(() => c('s64').encode(2 ** 60), 'value: 1152921504606847000 is not a safe integer (use a bigint for long long)');
  einval(() => c('s64').encode(1n << 63n), 'value: 9223372036854775808n does not fit long long');
  einval(() => c('es').encode('PLUS'), 'value: "PLUS" is not a value of enum sign (MINUS, ZERO)');
  einval(() => c('f32').encode(0.1), 'value: 0.1 does not fit float (a 32-bit float) exactly');
  einval(() => c('f16').encode(1e6), 'value: 1000000 does not fit _Float16 (a 16-bit float) exactly');
  einval(() => c('str').encode('toolong'), 'value: "toolong" (7 bytes in UTF-8) does not fit char[6]');
  einval(() => c('str').encode('a\u0000b'), 'value: "a\\u0000b" holds a NUL: give an array of numbers for char[6]');
  einval(() => c('str').encode([1, 2]), 'value: an array of 2 for char[6], which has 6 elements');
  einval(() => c('rodata').encode({ port: 1 }), 'value: missing variable count of .rodata');
  einval(() => c('rodata').encode({ port: 1, count: 1n, extra: 2 }), 'value: .rodata has no variable "extra"');
  einval(() => c('u32').decode(new Uint8Array(3)), 'value: 3 bytes for unsigned int, which has 4');
  einval(() => btfCodec(btf, 0), 'BTF type 0 (void) is void: it has no values');
  einval(() => btfCodec(btf, ids['fwd']!), `BTF type ${ids['fwd']!} (struct later) has no values`);
  einval(() => btfCodec(btf, 999), `section .BTF: type 999 does not exist (${btf.count} types)`);
  einval(() => c('u32').encodeInto(1, new Uint8Array(6), 3), 'encodeInto: 4 bytes at offset 3 do not fit a target of 6');
  // a refused value leaves encodeInto's target as it was
  const target = new Uint8Array(16).fill(7);
  assert.throws(() => c('rodata').encodeInto({ port: 80, count: 'x' }, target), BpfError);
  assert.deepEqual(target, new Uint8Array(16).fill(7));
});

test('btfCodec: structs by member name, anonymous members flattened, unions by any member, nested paths in errors', () => {
  const w = new BtfBuilder();
  const u16 = w.modifier('typedef', w.int('unsigned short', 2), '__u16');
  const u32 = w.int('unsigned int', 4);
  const idx = w.int('__ARRAY_SIZE_TYPE__', 4);
  const flow = w.composite('struct', 'flow', 8, [['saddr', u32, 0], ['sport', u16, 32], ['dport', u16, 48]]);
  const flows = w.array(flow, idx, 3);
  const anon = w.composite('union', '', 4, [['word', u32, 0], ['half', u16, 0]]);
  const top = w.composite('struct', 'top', 32, [['flows', flows, 0], ['', anon, 192], ['flag', u32, 224, 1], ['level', u32, 225, 7]]);
  const btf = new Btf(w.bytes());
  const c = btfCodec(btf, top);
  const v = { flows: [{ saddr: 1, sport: 2, dport: 3 }, { saddr: 4, sport: 5, dport: 6 }, { saddr: 7, sport: 8, dport: 9 }], word: 0x10002, half: 2, flag: 1, level: 100 };
  const b = c.encode(v);
  // the union's word then half (the same bytes), flag at bit 224 and level (100) above it: 0xc9
  assert.equal(Buffer.from(b).toString('hex'), '01000000020003000400000005000600070000000800090002000100c9000000');
  assert.deepEqual(c.decode(b), v);
  // a union takes any one member
  assert.deepEqual(c.decode(c.encode({ ...v, word: undefined as unknown as number })), { ...v, word: 2, half: 2 });
  einval(() => c.encode({ ...v, flows: [v.flows[0]!, v.flows[1]!, { saddr: 1, sport: 70000, dport: 1 }] }), 'value.flows[2].sport: 70000 does not fit __u16');
  einval(() => c.encode({ ...v, level: 128 }), 'value.level: 128 does not fit unsigned int:7');
  einval(() => c.encode({ flows: v.flows, word: 1, flag: 0 }), 'value: missing member level of struct top');
  einval(() => c.encode({ ...v, bogus: 1 }), 'value: struct top has no member "bogus"');
  einval(() => c.encode([1]), 'value: an array of 1 is not an object (struct top)');
  einval(() => c.encode({ ...v, flows: 'x' }), 'value.flows: "x" is not an array (struct flow[3])');
});

test('btfCodec: a struct that contains itself and a value of too many fields are refused when the codec is made', () => {
  const w = new BtfBuilder();
  const u8 = w.int('unsigned char', 1);
  // type 2 contains itself by value (a hostile section: its size says nothing of it)
  w.composite('struct', 'loop', 1, [['x', u8, 0], ['self', 2, 0]]);
  // unions of unions: 64 members of 64 members of ... every level the same byte
  let inner = u8;
  for (let i = 0; i < 4; i++) inner = w.composite('union', `u${i}`, 1, Array.from({ length: 64 }, (_, j) => [`m${j}`, inner, 0] as [string, number, number]));
  const btf = new Btf(w.bytes());
  einval(() => btfCodec(btf, 2), 'BTF type 2 (struct loop) contains itself');
  einval(() => btfCodec(btf, inner), `BTF type ${inner} (union u3) has more than ${BTF_VALUE_MAX_FIELDS} fields`);
});

// ------------------------------------------------------------ typed maps

/** An IPv4 TCP frame from 10.0.0.1:12345 to 10.0.0.2:80, `extra` bytes of payload. */
function frame(extra: number): Uint8Array {
  return Uint8Array.from([...new Array<number>(12).fill(0), 8, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 80, ...new Array<number>(16 + extra).fill(0)]);
}

test('Collection: maps of an object with BTF are typed from their key and value types; raw and typedMaps: false give bytes', () => {
  const sys = new BpfSystem({ profile: 'modern', cpus: 2 });
  const col = new Collection(sys, loadCollectionSpec(objBytes()));
  try {
    for (const n of [0, 10]) testRun(sys, col.programs['count_flows']!.fd, frame(n));
    const key = { saddr: 0x0100000a, daddr: 0x0200000a, sport: 12345, dport: 80, proto: 6 };
    assert.deepEqual(col.maps['flows']!.lookup(key), { packets: 2n, bytes: 118n });
    assert.deepEqual([...col.maps['flows']!.keys()], [key]);
    assert.deepEqual(col.maps['per_cpu']!.lookupPerCpu(0), [{ packets: 2n, bytes: 118n }, { packets: 0n, bytes: 0n }]);
    const last = col.maps['last']!.lookup(0) as Record<string, BtfValue>;
    assert.deepEqual([last['seen'], last['verdict'], last['history'], last['word'], last['bytes']], [true, 'V_PASS', [0, 54, 64], 0x0100000a, [10, 0, 0, 1]]);
    // typed updates, and bytes still taken at the exact size
    col.maps['names']!.update('V_DROP', 'drop');
    col.maps['names']!.update(Uint8Array.of(9, 0, 0, 0), new Uint8Array(16));
    assert.equal(col.maps['names']!.lookup('V_DROP'), 'drop');
    assert.deepEqual(col.maps['names']!.lookup(9), '');
    assert.deepEqual(col.maps['names']!.raw.lookup(Uint8Array.of(1, 0, 0, 0)), Uint8Array.from([100, 114, 111, 112, ...new Array<number>(12).fill(0)]));
    // the raw view closed on its own leaves the map and its fd; a new one is made on next use
    const fds = sys.fds().length;
    col.maps['names']!.raw.close();
    assert.equal(sys.fds().length, fds);
    assert.equal(col.maps['names']!.raw.lookup(Uint8Array.of(1, 0, 0, 0))!.length, 16);
    einval(() => col.maps['names']!.update('V_MAYBE', 'x'), 'key: "V_MAYBE" is not a value of enum verdict (V_PASS, V_DROP, V_ABORT, V_NEG)');
    einval(() => col.maps['flows']!.update({ ...key, sport: -1 }, { packets: 1n, bytes: 1n }), 'key.sport: -1 does not fit __u16');
  } finally {
    col.close();
  }
  assert.equal(sys.fds().length, 0);
  assert.throws(() => col.maps['flows']!.raw, (e: unknown) => e instanceof BpfError && e.code === 'EBADF' && e.message === 'map flows is closed');
  const bytes = new Collection(new BpfSystem({ profile: 'modern' }), loadCollectionSpec(objBytes()), { typedMaps: false });
  try {
    assert.deepEqual(bytes.maps['stats']!.lookup(new Uint8Array(4)), new Uint8Array(24));
    assert.equal(bytes.maps['stats']!.raw, bytes.maps['stats']);
  } finally {
    bytes.close();
  }
});

// ------------------------------------------------------------ bpftool's view

/** The `detail` value every dump test writes (the same bytes bpftool 7.1 was shown). */
const DETAIL: Record<string, BtfValue> = {
  name: 'eth0', verdict: 'V_NEG', seen: true, delta: -5, adjust: -300, low: 7, mid: 4095, high: 1, neg: -8, big: 2n ** 40n - 1n,
  word: 0x01020304, bytes: [4, 3, 2, 1], named: { inner_a: 1, inner_b: 2 }, ifindex: 3, ptr: 0xdeadn, tiny: 200, letter: 65,
  offset: -1n, wide: 2n ** 127n, history: [1, 2, 3],
};

test("btfDump: bpftool 7.1's formatted view of these types (text and JSON as it printed them)", () => {
  const btf = objBtf();
  const id = (name: string): number => btf.find(name)!.id;
  const key = Buffer.from('0100000a0200000a005001bb06000000', 'hex');
  const value = Buffer.from('0e000000000000005003000000000000', 'hex');
  const flowKey = btfDump(btf, id('flow_key'), key);
  const counters = btfDump(btf, id('counters'), value);
  assert.equal(btfJson(flowKey), '{"saddr":167772161,"daddr":167772162,"sport":20480,"dport":47873,"proto":6}');
  assert.equal(btfJson(counters), '{"packets":14,"bytes":848}');
  // `bpftool map dump` of that one entry, byte for byte
  const entry = btfText([new BtfDumpObject([['key', flowKey], ['value', counters]])]);
  assert.equal(`${entry}\n`, [
    '[{',
    '        "key": {',
    '            "saddr": 167772161,',
    '            "daddr": 167772162,',
    '            "sport": 20480,',
    '            "dport": 47873,',
    '            "proto": 6',
    '        },',
    '        "value": {',
    '            "packets": 14,',
    '            "bytes": 848',
    '        }',
    '    }',
    ']',
    '',
  ].join('\n'));
  // bitfields as hex strings (raw bits: neg:4 = -8 is "0x8"), the anonymous union under "", pointers in decimal
  const detail = btfCodec(btf, id('detail')).encode(DETAIL);
  assert.equal(btfJson(btfDump(btf, id('detail'), detail)),
    '{"name":"eth0","verdict":"V_NEG","seen":true,"delta":-5,"adjust":-300,"low":"0x7","mid":"0xfff","high":"0x1","neg":"0x8","big":"0xffffffffff",' +
    '"":{"word":16909060,"bytes":[4,3,2,1]},"named":{"inner_a":1,"inner_b":2},"ifindex":3,"ptr":57005,' +
    // a one-byte enum's 200 is read signed (-56) and matches no name; char is a number; __int128 hex
    '"tiny":-56,"letter":65,"offset":-1,"wide":"0x80000000000000000000000000000000","history":[1,2,3]}');
  // text: bare hex for bitfields, %p for pointers
  assert.match(btfText(btfDump(btf, id('detail'), detail)), /\n {4}"low": 0x7,\n[^]*\n {4}"ptr": 0xdead,\n/);
  assert.match(btfText(btfDump(btf, id('detail'), new Uint8Array(112))), /\n {4}"ptr": \(nil\),\n/);
  // char[16]: a string when printable up to a NUL (what follows the NUL unseen), else numbers; enum keys by name or number
  const m = loadCollectionSpec(objBytes()).maps['names']!.btf!;
  const json = (type: number, hex: string): string => btfJson(btfDump(m.btf, type, Buffer.from(hex.padEnd(32, '0'), 'hex')));
  assert.equal(json(m.value, '70617373'), '"pass"');
  assert.equal(json(m.value, '610062'), '"a"');
  assert.equal(json(m.value, ''), '""');
  assert.equal(json(m.value, '010203'), '[1,2,3,0,0,0,0,0,0,0,0,0,0,0,0,0]');
  assert.equal(json(m.value, '6974277322095c'), '[105,116,39,115,34,9,92,0,0,0,0,0,0,0,0,0]');
  assert.equal(json(m.value, '41'.repeat(16)), '[65,65,65,65,65,65,65,65,65,65,65,65,65,65,65,65]');
  // a long string: no argument-count limit on the way
  const w = new BtfBuilder();
  const long = w.array(w.int('char', 1, { signed: true }), w.int('__ARRAY_SIZE_TYPE__', 4), 300000);
  const longBtf = new Btf(w.bytes());
  const text = new Uint8Array(300000).fill(0x41);
  text[299999] = 0;
  assert.equal(btfJson(btfDump(longBtf, long, text)), `"${'A'.repeat(299999)}"`);
  assert.equal(btfCodec(longBtf, long).decode(text), 'A'.repeat(299999));
  assert.equal(btfJson(btfDump(m.btf, m.key, Uint8Array.of(0xfd, 0xff, 0xff, 0xff))), '"V_NEG"');
  assert.equal(btfJson(btfDump(m.btf, m.key, Uint8Array.of(9, 0, 0, 0))), '9');
  assert.equal(btfText([1, 2].map((n) => new BtfDumpObject([['key', btfDump(m.btf, m.key, Uint8Array.of(n, 0, 0, 0))], ['value', btfDump(m.btf, m.value, Uint8Array.of(n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))]]))),
    '[{\n        "key": "V_DROP",\n        "value": [1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n        ]\n    },{\n        "key": "V_PASS",\n        "value": [2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n        ]\n    }\n]');
});

// ------------------------------------------------------------ the CLI

test('tsbpf run: maps with BTF as bpftool map dump prints them, and formatted entries in --json', () => {
  const dir = tempDir('tsbpf-btf-values-');
  const data = join(dir, 'frame.bin');
  writeFileSync(data, frame(0));
  const text = spawnTsbpf(['run', OBJ, '--data-file', data, '--repeat', '2']);
  assert.equal(text.status, 0, text.stderr);
  const flows = text.stdout.slice(text.stdout.indexOf('map flows'), text.stdout.indexOf('map per_cpu'));
  assert.equal(flows, [
    'map flows type hash key 16B value 16B entries 1',
    '[{',
    '        "key": {',
    '            "saddr": 16777226,',
    '            "daddr": 33554442,',
    '            "sport": 12345,',
    '            "dport": 80,',
    '            "proto": 6',
    '        },',
    '        "value": {',
    '            "packets": 2,',
    '            "bytes": 108',
    '        }',
    '    }',
    ']',
    '',
  ].join('\n'));
  const json = spawnTsbpf(['run', OBJ, '--data-file', data, '--json', '--cpus', '2']);
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { map_dump: { name: string; entries: { formatted?: unknown }[] }[] };
  const byName = Object.fromEntries(out.map_dump.map((m) => [m.name, m]));
  assert.deepEqual(byName['flows']!.entries[0]!.formatted, { key: { saddr: 16777226, daddr: 33554442, sport: 12345, dport: 80, proto: 6 }, value: { packets: 1, bytes: 54 } });
  assert.deepEqual(byName['per_cpu']!.entries[0]!.formatted, { key: 0, values: [{ cpu: 0, value: { packets: 1, bytes: 54 } }, { cpu: 1, value: { packets: 0, bytes: 0 } }] });
  assert.deepEqual(byName['stats']!.entries[0]!.formatted, { key: 0, value: { ratio: 0, mean: 0, count: 1 } });
  // the raw entries stay as they were
  assert.deepEqual(Object.keys(byName['flows']!.entries[0]!), ['key', 'value', 'formatted']);
});

test('jsonLine: formatted values are written as bpftool writes them, u64 past 2^53 exact', () => {
  const raw = new RawJson('{"bytes":18446744073709551615}');
  assert.equal(jsonLine({ a: 1, formatted: raw, s: '\ud800' }), '{"a":1,"formatted":{"bytes":18446744073709551615},"s":"\\ud800"}');
  // anything else stringifying it gets the parsed value
  assert.equal(JSON.stringify({ formatted: new RawJson('{"x":"0x7"}') }), '{"formatted":{"x":"0x7"}}');
});

// ------------------------------------------------------------ the host kernel

/** Whether bpftool can load the object and pin its maps here, or why not. */
function hostBpftool(): { pins?: string; why?: string } {
  if (process.platform !== 'linux') return { why: 'not Linux' };
  if (process.getuid?.() !== 0) return { why: 'not root (bpftool prog loadall needs CAP_BPF and CAP_SYS_ADMIN)' };
  const v = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return { why: `no bpftool (${v.error?.message ?? v.stderr.trim()})` };
  if (!existsSync('/sys/fs/bpf')) return { why: 'no bpffs at /sys/fs/bpf' };
  const base = `/sys/fs/bpf/tsbpf-btf-values-${process.pid}`;
  mkdirSync(base, { recursive: true });
  const r = spawnSync('bpftool', ['prog', 'loadall', OBJ, `${base}/progs`, 'pinmaps', `${base}/maps`], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(base, { recursive: true, force: true });
    return { why: `bpftool prog loadall failed: ${r.stderr.trim().split('\n').pop()}` };
  }
  return { pins: base };
}

const host = hostBpftool();
if (host.why) process.stderr.write(`btf-values kernel differential test skipped: ${host.why}\n`);

test('the formatted dump of every map equals bpftool -j map dump and bpftool map dump of the same contents in the host kernel', { skip: host.why ?? false }, () => {
  const base = host.pins!;
  const cpus = possibleCpus();
  const sys = new BpfSystem({ profile: 'modern', cpus });
  const col = new Collection(sys, loadCollectionSpec(objBytes()));
  try {
    for (const n of [0, 10, 3]) testRun(sys, col.programs['count_flows']!.fd, frame(n));
    const other = frame(1);
    other[29] = 9; // another source address
    testRun(sys, col.programs['count_flows']!.fd, other);
    col.maps['last']!.update(1, DETAIL);
    for (const [k, v] of [['V_PASS', 'pass'], ['V_NEG', 'a'], [9, [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], ['V_ABORT', '']] as [BtfValue, BtfValue][]) col.maps['names']!.update(k, v);
    // bpftool updates a per-CPU map with one value for every CPU: the same here
    col.maps['per_cpu']!.updatePerCpu(0, { packets: 5n, bytes: 300n });
    const spaced = (b: Uint8Array): string[] => [...b].map((x) => String(x));
    // libbpf pins global data as the object's name (8 characters) and the section's
    const pins = readdirSync(`${base}/maps`);
    const pinOf = (name: string): string => `${base}/maps/${name.startsWith('.') ? pins.find((p) => p.endsWith(`_${name.slice(1)}`))! : name}`;
    for (const name of ['flows', 'last', 'names', 'per_cpu', '.rodata', '.data', '.bss']) {
      const m = col.maps[name]!.raw;
      const pin = pinOf(name);
      const c = mapContents(m);
      const entries = c.kind === 'percpu' ? c.entries.map(([k, vs]) => [k, vs[0]!] as const) : c.kind === 'entries' ? c.entries : [];
      // global data: libbpf created the kernel's with the same initial values (and froze .rodata)
      for (const [k, v] of name.startsWith('.') ? [] : entries) {
        const r = spawnSync('bpftool', ['map', 'update', 'pinned', pin, 'key', ...spaced(k), 'value', ...spaced(v)], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      const kj = spawnSync('bpftool', ['-j', 'map', 'dump', 'pinned', pin], { encoding: 'utf8' });
      assert.equal(kj.status, 0, kj.stderr);
      const kernel = JSON.parse(kj.stdout) as { key: string[]; formatted: unknown }[];
      const ours = mapDumpJson(name, m, mapContents(m));
      assert.ok('entries' in ours);
      const oursByKey = new Map(ours.entries.map((e) => [e.key, e]));
      assert.equal(kernel.length, ours.entries.length, name);
      for (const e of kernel) {
        const key = e.key.map((x) => x.slice(2)).join('');
        const mine = oursByKey.get(key);
        assert.ok(mine?.formatted, `${name}: key ${key}`);
        assert.deepEqual(JSON.parse(mine.formatted.json), e.formatted, `${name}: key ${key}`);
      }
      // the typed API reads what bpftool formats: each flow's counters by its formatted key
      if (name === 'flows') {
        for (const e of kernel as { formatted: { key: Record<string, number>; value: { packets: number; bytes: number } } }[]) {
          assert.deepEqual(col.maps['flows']!.lookup(e.formatted.key), { packets: BigInt(e.formatted.value.packets), bytes: BigInt(e.formatted.value.bytes) });
        }
      }
      // the text, in the kernel's order of keys, byte for byte
      const kt = spawnSync('bpftool', ['map', 'dump', 'pinned', pin], { encoding: 'utf8' });
      assert.equal(kt.status, 0, kt.stderr);
      const order = kernel.map((e) => Buffer.from(e.key.map((x) => x.slice(2)).join(''), 'hex'));
      const byKey = new Map((c.kind === 'percpu' ? c.entries : c.kind === 'entries' ? c.entries : []).map(([k, v]) => [Buffer.from(k).toString('hex'), v]));
      const text = btfText(order.map((k) => formattedEntry(m.btf!, k, byKey.get(k.toString('hex'))!))) + '\n';
      assert.equal(text, kt.stdout, name);
    }
  } finally {
    col.close();
    rmSync(base, { recursive: true, force: true });
  }
});
