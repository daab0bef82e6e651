/**
 * Map creation order (issue 15, point 3): the legacy `maps` section's
 * entries by offset, as 3.19's samples/bpf/bpf_load.c created them, whatever
 * the symbol table's order; BTF-defined maps in the order of the .maps
 * DATASEC's variables; then global data. The order is the spec's, so it is
 * the order of the Collection's fds, of `tsbpf inspect`, of the maps in
 * `tsbpf run` and of programInput's maps (whose fixups index them).
 * Objects are written by hand (test/fuzz/elf-writer.ts), and built by clang
 * when it is installed: a static map comes first in clang's symbol table and
 * is referenced through the section symbol with its offset in imm.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Collection } from '../src/api/collection.js';
import { BpfSystem } from '../src/api/bpf.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { programInput } from '../src/loader/input.js';
import { slots, writeObj } from './fuzz/elf-writer.js';
import { tsbpf } from './cli-harness.js';

const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_SECTION = 3;
const EXEC = 6; // SHF_ALLOC | SHF_EXECINSTR

/** `struct bpf_map_def` entries: array maps of 4-byte keys, 8-byte values, max_entries as given. */
function mapDefs(...maxEntries: number[]): Uint8Array {
  const b = new Uint8Array(16 * maxEntries.length);
  const v = new DataView(b.buffer);
  maxEntries.forEach((n, i) => {
    v.setUint32(16 * i, 2, true);
    v.setUint32(16 * i + 4, 4, true);
    v.setUint32(16 * i + 8, 8, true);
    v.setUint32(16 * i + 12, n, true);
  });
  return b;
}

/** One ld_imm64 of each map (relocated), then r0 = 0; exit. The second map's through the section symbol, imm 16. */
const PROG = slots([0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0x18, 1, 0, 0, 16], [0, 0, 0, 0, 0], [0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);

/** Entries first@0 (max_entries 1), mid@16 (2), last@32 (3); symbols in the order last, first, mid and the section's. */
function legacyObject(): Uint8Array {
  return writeObj({
    sections: [
      { name: 'socket1', type: 1, flags: EXEC, data: PROG },
      { name: 'maps', type: 1, flags: 3, data: mapDefs(1, 2, 3) },
      { name: 'license', type: 1, flags: 3, data: new TextEncoder().encode('GPL\0') },
    ],
    symbols: [
      { name: 'last', section: 'maps', value: 32, size: 16, type: STT_OBJECT },
      { name: 'maps', section: 'maps', value: 0, type: STT_SECTION, bind: 0 },
      { name: 'first', section: 'maps', value: 0, size: 16, type: STT_OBJECT },
      { name: 'mid', section: 'maps', value: 16, size: 16, type: STT_OBJECT },
      { name: 'prog', section: 'socket1', value: 0, size: PROG.length, type: STT_FUNC },
    ],
    relocations: [
      { section: 'socket1', offset: 0, symbol: 'first', type: 1 },
      { section: 'socket1', offset: 16, symbol: 'maps', type: 1 },
      { section: 'socket1', offset: 32, symbol: 'last', type: 1 },
    ],
  }).bytes;
}

/**
 * A .BTF with two BTF-defined maps (libbpf's `__uint(type, N)`,
 * `__uint(max_entries, N)`, `__type(key, int)`, `__type(value, int)`) whose
 * .maps DATASEC lists `datasec` in that order.
 */
function btfOf(maps: { name: string; type: number; maxEntries: number; offset: number }[], datasec: string[]): Uint8Array {
  const strs: number[] = [0];
  const str = (t: string): number => {
    const at = strs.length;
    for (const b of new TextEncoder().encode(t)) strs.push(b);
    strs.push(0);
    return at;
  };
  const words: number[] = [];
  let id = 0;
  const type = (name: number, kind: number, vlen: number, sizeOrType: number, extra: number[] = []): number => {
    words.push(name, (kind << 24) | vlen, sizeOrType, ...extra);
    return ++id;
  };
  const INT = type(str('int'), 1, 0, 4, [32]);
  const uint = (n: number): number => type(0, 2, 0, type(0, 3, 0, 0, [INT, INT, n])); // int (*)[n]
  const vars = new Map<string, { id: number; offset: number }>();
  for (const m of maps) {
    const members: [string, number][] = [['type', uint(m.type)], ['max_entries', uint(m.maxEntries)], ['key', type(0, 2, 0, INT)], ['value', type(0, 2, 0, INT)]];
    const struct = type(0, 4, members.length, 32, members.flatMap(([name, t], i) => [str(name), t, i * 64]));
    vars.set(m.name, { id: type(str(m.name), 14, 0, struct, [1]), offset: m.offset });
  }
  type(str('.maps'), 15, datasec.length, 0, datasec.flatMap((n) => [vars.get(n)!.id, vars.get(n)!.offset, 32]));
  const typeBytes = new Uint8Array(4 * words.length);
  const tv = new DataView(typeBytes.buffer);
  words.forEach((w, i) => tv.setUint32(4 * i, w >>> 0, true));
  const out = new Uint8Array(24 + typeBytes.length + strs.length);
  const hv = new DataView(out.buffer);
  hv.setUint16(0, 0xeb9f, true);
  hv.setUint8(2, 1);
  hv.setUint32(4, 24, true);
  hv.setUint32(12, typeBytes.length, true);
  hv.setUint32(16, typeBytes.length, true);
  hv.setUint32(20, strs.length, true);
  out.set(typeBytes, 24);
  out.set(strs, 24 + typeBytes.length);
  return out;
}

/** BTF maps alpha@0 (array, 4 entries) and beta@32 (hash, 8 entries): symbols and offsets say alpha first, the DATASEC beta first. */
function btfObject(): Uint8Array {
  const prog = slots([0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0x18, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0xb7, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);
  return writeObj({
    sections: [
      { name: 'socket1', type: 1, flags: EXEC, data: prog },
      { name: '.maps', type: 1, flags: 3, data: new Uint8Array(64) },
      { name: 'license', type: 1, flags: 3, data: new TextEncoder().encode('GPL\0') },
      { name: '.BTF', type: 1, data: btfOf([{ name: 'alpha', type: 2, maxEntries: 4, offset: 0 }, { name: 'beta', type: 1, maxEntries: 8, offset: 32 }], ['beta', 'alpha']) },
    ],
    symbols: [
      { name: 'alpha', section: '.maps', value: 0, size: 32, type: STT_OBJECT },
      { name: 'beta', section: '.maps', value: 32, size: 32, type: STT_OBJECT },
      { name: 'prog', section: 'socket1', value: 0, size: prog.length, type: STT_FUNC },
    ],
    relocations: [
      { section: 'socket1', offset: 0, symbol: 'alpha', type: 1 },
      { section: 'socket1', offset: 16, symbol: 'beta', type: 1 },
    ],
  }).bytes;
}

/** The max_entries of each map line of `tsbpf run`, in output order (survives a change of the line's format). */
/** The maps `run` shows, by name, in the order it shows them (`map NAME type ...` headers). */
const mapsInRunOutput = (out: string): string[] => [...out.matchAll(/^map (\S+) type /gm)].map((m) => m[1]!);

describe('legacy maps: by offset in the section, not by symbol', () => {
  test('the spec, the Collection\'s fds and programInput', () => {
    const bytes = legacyObject();
    const spec = loadCollectionSpec(bytes);
    assert.deepEqual(Object.keys(spec.maps), ['first', 'mid', 'last']);
    assert.deepEqual(Object.values(spec.maps).map((m) => m.maxEntries), [1, 2, 3]);
    // the section symbol's reference resolves by offset, and its imm is cleared as the others'
    assert.deepEqual(spec.programs['prog']!.mapRefs, [{ slot: 0, map: 'first' }, { slot: 2, map: 'mid' }, { slot: 4, map: 'last' }]);
    assert.equal(spec.programs['prog']!.insns[2]!.imm, 0);
    const sys = new BpfSystem();
    const col = new Collection(sys, spec);
    const fds = ['first', 'mid', 'last'].map((n) => col.maps[n]!.fd);
    assert.deepEqual(fds, [fds[0], fds[0]! + 1, fds[0]! + 2]);
    col.close();
    const input = programInput(bytes);
    assert.deepEqual(input.mapNames, ['first', 'mid', 'last']);
    assert.deepEqual(input.fixups, [[0, 0], [2, 1], [4, 2]]);
  });

  test('tsbpf inspect and run list them in that order', async () => {
    const bytes = legacyObject();
    const inspect = await tsbpf(['inspect', '-'], bytes);
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.ok(inspect.stdout.includes('maps\n  first  array  key 4B  value 8B  max_entries 1\n  mid  array  key 4B  value 8B  max_entries 2\n  last  array  key 4B  value 8B  max_entries 3\n'), inspect.stdout);
    assert.ok(inspect.stdout.includes('  socket1/prog  socket_filter  8 insns  maps: first, mid, last\n'), inspect.stdout);
    const run = await tsbpf(['run', '-', '--data', '00'], bytes);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(mapsInRunOutput(run.stdout), ['first', 'mid', 'last']);
  });
});

describe('BTF-defined maps: in the order of the .maps DATASEC', () => {
  test('the spec, the fds, inspect and run', async () => {
    const bytes = btfObject();
    const spec = loadCollectionSpec(bytes);
    assert.deepEqual(Object.keys(spec.maps), ['beta', 'alpha']);
    assert.deepEqual(Object.values(spec.maps).map((m) => [m.type, m.keySize, m.valueSize, m.maxEntries]), [[1, 4, 4, 8], [2, 4, 4, 4]]);
    const col = new Collection(new BpfSystem(), spec);
    assert.equal(col.maps['alpha']!.fd, col.maps['beta']!.fd + 1);
    col.close();
    assert.deepEqual(programInput(bytes).fixups, [[0, 1], [2, 0]]);
    const inspect = await tsbpf(['inspect', '-'], bytes);
    assert.ok(inspect.stdout.includes('maps\n  beta  hash  key 4B  value 4B  max_entries 8\n  alpha  array  key 4B  value 4B  max_entries 4\n'), inspect.stdout);
    const run = await tsbpf(['run', '-', '--data', '00'], bytes);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(mapsInRunOutput(run.stdout), ['beta', 'alpha']);
  });
});

const clang = spawnSync('clang', ['--version']).status === 0;

describe('a clang-built object with a static map', { skip: clang ? false : 'clang is not installed' }, () => {
  test('clang lists the static map first in its symbols; the maps come in section order', () => {
    const source = [
      'struct bpf_map_def { unsigned int type, key_size, value_size, max_entries; };',
      '#define SEC(n) __attribute__((section(n), used))',
      'SEC("maps") struct bpf_map_def zeta = { 2, 4, 8, 1 };',
      'SEC("maps") struct bpf_map_def alpha = { 2, 4, 8, 2 };',
      'static SEC("maps") struct bpf_map_def mid = { 2, 4, 8, 3 };',
      'static void *(*lookup)(void *, void *) = (void *)1;',
      'SEC("socket1") int prog(void *skb) { int k = 0; return (lookup(&zeta, &k) != 0) + (lookup(&alpha, &k) != 0) + (lookup(&mid, &k) != 0); }',
      'char _license[] SEC("license") = "GPL";',
    ].join('\n');
    const r = spawnSync('clang', ['-O2', '-target', 'bpf', '-c', '-x', 'c', '-', '-o', '-'], { input: source });
    assert.equal(r.status, 0, r.stderr.toString());
    const spec = loadCollectionSpec(new Uint8Array(r.stdout));
    assert.deepEqual(Object.keys(spec.maps), ['zeta', 'alpha', 'mid']);
    assert.deepEqual(spec.programs['prog']!.mapRefs.map((m) => m.map), ['zeta', 'alpha', 'mid']);
    const col = new Collection(new BpfSystem(), spec);
    assert.deepEqual(['alpha', 'mid'].map((n) => col.maps[n]!.fd - col.maps['zeta']!.fd), [1, 2]);
    col.close();
  });
});
