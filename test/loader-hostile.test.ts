/**
 * Hostile objects for the loader (issue 13, finding 7): names that are
 * Object.prototype's own (`__proto__`, `constructor`), function symbols that
 * do not cover whole instruction slots, global data sections sized far past
 * the file, and references cut off by a section's or a function's end. Each
 * object is written byte by byte by test/fuzz/elf-writer.ts and checked twice:
 * through the library (loadCollectionSpec, then Collection) for the exact
 * BpfError, and through the CLI (`tsbpf run` and `inspect`, in process)
 * for exit 2 and its one `tsbpf: FILE: message (ERRNO)` line.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Collection } from '../src/api/collection.js';
import { linkMapRefs, loadCollectionSpec } from '../src/loader/collection.js';
import type { CollectionSpec } from '../src/loader/spec.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import { decodeSlots } from '../src/isa/instruction.js';
import { slots, writeObj } from './fuzz/elf-writer.js';
import type { ObjReloc, ObjSection, ObjSymbol } from './fuzz/elf-writer.js';
import { tsbpf } from './cli-harness.js';
import type { CliResult } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-loader-hostile-');

const PROGBITS = 1;
const NOBITS = 8;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const R_BPF_64_64 = 1;

/** struct bpf_map_def { type, key_size, value_size, max_entries, map_flags } */
function mapDef(type: number, keySize: number, valueSize: number, maxEntries: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  [type, keySize, valueSize, maxEntries, 0].forEach((x, i) => v.setUint32(4 * i, x, true));
  return b;
}

/** Store 42 in element 0 of the map the ld_imm64 at slot 0 names, return 0. */
const STORE42 = slots(
  [0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], // r1 = map ll
  [0x62, 10, 0, -4, 0], // *(u32 *)(r10 -4) = 0
  [0xbf, 2, 10, 0, 0], // r2 = r10
  [0x07, 2, 0, 0, -4], // r2 += -4
  [0x85, 0, 0, 0, 1], // call bpf_map_lookup_elem
  [0x15, 0, 0, 1, 0], // if r0 == 0 goto +1
  [0x7a, 0, 0, 0, 42], // *(u64 *)(r0 +0) = 42
  [0xb7, 0, 0, 0, 0], // r0 = 0
  [0x95, 0, 0, 0, 0], // exit
);

const LICENSE: ObjSection = { name: 'license', type: PROGBITS, flags: 3, data: new TextEncoder().encode('GPL\0') };

/** One socket program `func` in socket1 using the legacy map `map`, plus any extra sections and symbols. */
function object(o: { map?: string; func?: string; funcValue?: number; funcSize?: number; code?: Uint8Array; extra?: ObjSection[]; symbols?: ObjSymbol[]; relocations?: ObjReloc[] } = {}): Uint8Array {
  const map = o.map ?? 'counts';
  const code = o.code ?? STORE42;
  return writeObj({
    sections: [{ name: 'socket1', type: PROGBITS, flags: 6, data: code }, { name: 'maps', type: PROGBITS, flags: 3, data: mapDef(2, 4, 8, 1) }, LICENSE, ...(o.extra ?? [])],
    symbols: [
      { name: map, section: 'maps', value: 0, size: 20, type: STT_OBJECT },
      { name: o.func ?? 'prog', section: 'socket1', value: o.funcValue ?? 0, size: o.funcSize ?? code.length, type: STT_FUNC },
      ...(o.symbols ?? []),
    ],
    relocations: o.relocations ?? [{ section: 'socket1', offset: 0, symbol: map, type: R_BPF_64_64 }],
  }).bytes;
}

let fileCounter = 0;
function file(bytes: Uint8Array): string {
  const path = join(dir, `${fileCounter++}.o`);
  writeFileSync(path, bytes);
  return path;
}

function cli(args: string[]): Promise<CliResult> {
  return tsbpf(args);
}

/** The library's BpfError, then the CLI's one line and exit 2 for `run` and `inspect`. */
async function refused(bytes: Uint8Array, code: string, message: string, collection?: { cliMessage: string }): Promise<void> {
  const phase = collection === undefined ? 'spec' : 'collection';
  const e = (() => {
    try {
      const spec = loadCollectionSpec(bytes);
      if (phase === 'spec') assert.fail('loadCollectionSpec accepted the object');
      new Collection(new BpfSystem(), spec).close();
    } catch (e) {
      return e;
    }
    return assert.fail('the object loaded');
  })();
  assert.ok(e instanceof BpfError, `not a BpfError: ${String(e)}`);
  assert.equal(e.code, code);
  assert.equal(e.message, message);
  const path = file(bytes);
  const commands = phase === 'spec' ? [['run', path, '--data', '00'], ['inspect', path]] : [['run', path, '--data', '00']];
  for (const args of commands) {
    const r = await cli(args);
    assert.equal(r.stdout, '', `stdout of ${args[0]}`);
    assert.equal(r.status, 2, `exit status of ${args[0]}: ${r.stderr}`);
    const want = `tsbpf: ${path}: ${collection?.cliMessage ?? message} (${code})\n`;
    assert.equal(r.stderr, want, `stderr of ${args[0]}`);
  }
}

describe('names that are Object.prototype properties', () => {
  test('a map named __proto__ is one more map, created, linked and written by its program', async () => {
    const bytes = object({ map: '__proto__' });
    const spec = loadCollectionSpec(bytes);
    assert.deepEqual(Object.keys(spec.maps), ['__proto__']);
    assert.equal(Object.getPrototypeOf(spec.maps), Object.prototype);
    assert.deepEqual(spec.maps['__proto__'], { name: '__proto__', type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 });
    assert.deepEqual(spec.programs['prog']!.mapRefs, [{ slot: 0, map: '__proto__' }]);
    const sys = new BpfSystem();
    const col = new Collection(sys, spec);
    assert.deepEqual(Object.keys(col.maps), ['__proto__']);
    assert.equal(testRun(sys, col.programs['prog']!.fd, new Uint8Array(1)).retval, 0n);
    assert.deepEqual([...col.maps['__proto__']!.raw.lookup(new Uint8Array(4))!], [42, 0, 0, 0, 0, 0, 0, 0]);
    col.close();

    const path = file(bytes);
    const run = await cli(['run', path, '--data', '00', '--json']);
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    const j = JSON.parse(run.stdout) as { retval: number; maps: unknown[] };
    assert.equal(j.retval, 0);
    assert.deepEqual(j.maps, [[{ key: '00000000', value: '2a00000000000000' }]]);
    const inspect = await cli(['inspect', path, '--json']);
    assert.equal(inspect.status, 0);
    const ij = JSON.parse(inspect.stdout) as { programs: unknown[]; maps: unknown[] };
    assert.deepEqual(ij.maps, [{ name: '__proto__', type: 'array', key_size: 4, value_size: 8, max_entries: 1, flags: 0 }]);
    assert.deepEqual(ij.programs, [{ name: 'prog', section: 'socket1', type: 'socket_filter', insns: 10, maps: ['__proto__'] }]);
  });

  test('a program named __proto__ and a map named constructor are found by name', async () => {
    const spec = loadCollectionSpec(object({ map: 'constructor', func: '__proto__' }));
    assert.deepEqual(Object.keys(spec.programs), ['__proto__']);
    assert.deepEqual(Object.keys(spec.maps), ['constructor']);
    const sys = new BpfSystem();
    const col = new Collection(sys, spec);
    assert.equal(testRun(sys, col.programs['__proto__']!.fd, new Uint8Array(1)).retval, 0n);
    assert.deepEqual([...col.maps['constructor']!.raw.lookup(new Uint8Array(4))!], [42, 0, 0, 0, 0, 0, 0, 0]);
    col.close();
  });

  test('a spec referring to a map it does not define is EINVAL, even when the name is an Object property', async () => {
    const spec = loadCollectionSpec(object());
    const bad: CollectionSpec = { ...spec, maps: {}, programs: { prog: { ...spec.programs['prog']!, mapRefs: [{ slot: 0, map: 'constructor' }] } } };
    assert.throws(() => new Collection(new BpfSystem(), bad), {
      name: 'BpfError',
      code: 'EINVAL',
      message: 'program prog (section socket1): ld_imm64 at slot 0 refers to unknown map constructor',
    });
  });

  test('two maps of one name are EINVAL: a legacy map named .data beside a .data section', async () => {
    await refused(object({ map: '.data', extra: [{ name: '.data', type: PROGBITS, flags: 3, data: new Uint8Array(8) }] }), 'EINVAL', 'map .data is defined twice');
  });
});

test('a section name with control characters is escaped in the one-line message', async () => {
  const bytes = writeObj({ sections: [{ name: 'kprobe\r\n1', type: PROGBITS, flags: 6, data: STORE42 }, LICENSE], symbols: [] }).bytes;
  await refused(bytes, 'ENOTSUP', 'section kprobe\\u000d\\u000a1: program type not supported (only socket*, xdp*, tc*, classifier* sections so far)');
});

describe('function symbols must cover whole slots of their section', () => {
  test('st_value 4: a fractional instruction slot', async () => {
    await refused(object({ funcValue: 4, funcSize: 76 }), 'EINVAL', 'section socket1: function prog: offset 4 is not at an instruction boundary (a multiple of 8)');
  });
  test('st_size 12', async () => {
    await refused(object({ funcSize: 12 }), 'EINVAL', 'section socket1: function prog: size 12 is not a multiple of 8');
  });
  test('a function running past its section', async () => {
    await refused(object({ funcSize: 88 }), 'EINVAL', 'section socket1: function prog: offset 0 size 88 runs past the end of the section (80 bytes)');
    await refused(object({ funcValue: 2 ** 40, funcSize: 8 }), 'EINVAL', 'section socket1: function prog: offset 1099511627776 size 8 runs past the end of the section (80 bytes)');
  });
  test('an empty function at the end of its section', async () => {
    await refused(object({ funcValue: 80, funcSize: 0, relocations: [] }), 'EINVAL', 'section socket1: function prog: at offset 80: the function is empty');
  });
  test('overlapping functions: each would load the same code again (20000 of them took 4 GB before)', async () => {
    const code = new Uint8Array(4096 * 8);
    code.set(slots([0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]), code.length - 16);
    const bytes = writeObj({
      sections: [{ name: 'socket1', type: PROGBITS, flags: 6, data: code }, LICENSE],
      symbols: Array.from({ length: 2000 }, (_, i) => ({ name: `f${i}`, section: 'socket1', value: 0, size: code.length, type: STT_FUNC })),
    }).bytes;
    await refused(bytes, 'EINVAL', 'section socket1: function f1: offset 0 overlaps function f0 (which ends at 32768)');
    // a function starting inside the one before it
    await refused(object({ funcSize: 16, symbols: [{ name: 'g', section: 'socket1', value: 8, size: 16, type: STT_FUNC }], relocations: [] }), 'EINVAL', 'section socket1: function g: offset 8 overlaps function prog (which ends at 16)');
  });

  test('an ld_imm64 cut in two by the end of a function', async () => {
    await refused(object({ funcSize: 8 }), 'EINVAL', 'section socket1: ld_imm64 at slot 0 is cut off by the end of function prog');
  });
  test('an ld_imm64 cut off by the end of its section', async () => {
    const code = slots([0xb7, 0, 0, 0, 0], [0x18, 1, 0, 0, 0]);
    await refused(object({ code, relocations: [{ section: 'socket1', offset: 8, symbol: 'counts', type: R_BPF_64_64 }] }), 'EINVAL', 'relocation at offset 8 in section socket1: the ld_imm64 is cut off by the end of the section');
  });
});

describe('global data sizes', () => {
  const bss = (size: number | bigint): ObjSection => ({ name: '.bss', type: NOBITS, flags: 3, size });
  test('a .bss of 2^40 bytes is E2BIG before anything is allocated', async () => {
    await refused(object({ extra: [bss(2n ** 40n)] }), 'E2BIG', 'section .bss: 1099511627776 bytes of global data do not fit a map value (at most 4294967295 bytes)');
  });
  test('a .bss of 2^53 + 1 bytes is refused by the reader', async () => {
    const bytes = object({ extra: [bss(2n ** 53n + 1n)] });
    assert.throws(() => loadCollectionSpec(bytes), { name: 'BpfError', code: 'EINVAL', message: /^elf: section 4: offset 0x[0-9a-f]+: sh_size 0x20000000000001 is too large$/ });
  });
  test('a .bss of 2^31 bytes reads as a spec with no initial value, and is ENOMEM when created', async () => {
    const bytes = object({ extra: [bss(2 ** 31)] });
    const spec = loadCollectionSpec(bytes);
    assert.deepEqual(spec.maps['.bss'], { name: '.bss', type: 2, keySize: 4, valueSize: 2 ** 31, maxEntries: 1, flags: 0 });
    await refused(bytes, 'ENOMEM', 'map .bss: array map of 1 x 2147483648 bytes does not fit in memory', {
      cliMessage: 'maps[1]: array map of 1 x 2147483648 bytes does not fit in memory',
    });
  });
  test('a reference past the end of .data is EINVAL', async () => {
    const code = slots([0x18, 1, 0, 0, 16], [0, 0, 0, 0, 0], [0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);
    const bytes = object({
      code,
      extra: [{ name: '.data', type: PROGBITS, flags: 3, data: new Uint8Array(8) }],
      symbols: [{ name: 'x', section: '.data', value: 0, size: 8, type: STT_OBJECT }],
      relocations: [{ section: 'socket1', offset: 0, symbol: 'x', type: R_BPF_64_64 }],
    });
    await refused(bytes, 'EINVAL', 'relocation at offset 0 in section socket1: offset 16 is outside .data (8 bytes)');
  });
  test('a version section without bytes (SHT_NOBITS) reads as version 0', async () => {
    const spec = loadCollectionSpec(object({ extra: [{ name: 'version', type: NOBITS, flags: 3, size: 4 }] }));
    assert.equal(spec.version, 0);
  });
});

test('linkMapRefs refuses a reference that is not the first slot of an ld_imm64', async () => {
  const s = decodeSlots(slots([0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]));
  for (const slot of [1, 2, 3, -1, 0.5]) {
    assert.throws(() => linkMapRefs(s, [{ slot, fd: 3 }]), { name: 'BpfError', code: 'EINVAL', message: `map reference at slot ${slot}: not the first slot of an ld_imm64 (3 slots)` });
  }
  linkMapRefs(s, [{ slot: 0, fd: 3, offset: 4 }]);
  assert.deepEqual([s[0]!.src, s[0]!.imm, s[1]!.imm], [2, 3, 4]);
});
