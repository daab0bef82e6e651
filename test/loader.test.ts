/**
 * Loading clang-compiled objects (legacy layout): the committed
 * examples/proto-count.o read as a CollectionSpec, loaded as a Collection and
 * run; the CLI's run/inspect/disasm on it; precise errors for what is not
 * supported yet (calls link: test/calls.test.ts). Objects built here need clang and skip without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collection } from '../src/api/collection.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import { writePcap } from '../src/pcap/index.js';
import { projectRoot } from './conformance-data.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const object = join(projectRoot(), 'examples', 'proto-count.o');
const dir = tempDir('tsbpf-loader-');
const hasClang = spawnSync('clang', ['--version']).status === 0;
const noClang = hasClang ? false : 'clang is not installed';

function ipv4(proto: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45], 0);
  f[23] = proto;
  return f;
}

test('the spec of examples/proto-count.o: one socket filter, one array map, the license', async () => {
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(object)));
  assert.equal(spec.license, 'GPL');
  assert.deepEqual(spec.maps, { proto_count: { name: 'proto_count', type: 2, keySize: 4, valueSize: 16, maxEntries: 256, flags: 0 } });
  assert.deepEqual(Object.keys(spec.programs), ['count']);
  const p = spec.programs['count']!;
  assert.equal(p.section, 'socket1');
  assert.equal(p.type, 'socket_filter');
  assert.equal(p.insns.length, 17);
  assert.deepEqual(p.mapRefs, [{ slot: 7, map: 'proto_count' }]);
  assert.equal(p.insns[7]!.code, 0x18);
});

test('a Collection creates the maps, loads the programs, and counts packets per protocol', async () => {
  const sys = new BpfSystem();
  const col = new Collection(sys, loadCollectionSpec(new Uint8Array(readFileSync(object))));
  const fd = col.programs['count']!.fd;
  assert.equal(sys.progOf(fd).prog.verified, true);
  for (const [proto, len] of [[6, 60], [6, 1500], [17, 80], [1, 98]] as const) testRun(sys, fd, ipv4(proto, len));
  testRun(sys, fd, Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x06)); // ARP: not counted
  const value = (proto: number): [bigint, bigint] => {
    const v = col.maps['proto_count']!.raw.lookup(Uint8Array.of(proto, 0, 0, 0))!;
    const dv = new DataView(v.buffer, v.byteOffset);
    return [dv.getBigUint64(0, true), dv.getBigUint64(8, true)];
  };
  assert.deepEqual(value(6), [2n, 1560n]);
  assert.deepEqual(value(17), [1n, 80n]);
  assert.deepEqual(value(1), [1n, 98n]);
  assert.deepEqual(value(2), [0n, 0n]);
  col.close();
  assert.deepEqual(sys.fds(), []);
});

test('tsbpf run FILE.o --pcap prints the map after the capture', async () => {
  const cap = join(dir, 'c.pcap');
  writeFileSync(cap, writePcap([ipv4(6, 60), ipv4(17, 70), ipv4(6, 64)].map((data, i) => ({ data, tsNs: BigInt(i) })), 1));
  const r = await tsbpf(['run', object, '--pcap', cap, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.packets, 3);
  assert.equal(j.accepted, 0);
  const used = j.maps[0].filter((e: { value: string }) => /[^0]/.test(e.value));
  assert.deepEqual(used, [
    { key: '06000000', value: '02000000000000007c00000000000000' },
    { key: '11000000', value: '01000000000000004600000000000000' },
  ]);
});

test('tsbpf inspect and disasm on an object', async () => {
  const i = await tsbpf(['inspect', object, '--json']);
  assert.equal(i.status, 0, i.stderr);
  const j = JSON.parse(i.stdout);
  assert.deepEqual(j.programs, [{ name: 'count', section: 'socket1', type: 'socket_filter', insns: 17, maps: ['proto_count'] }]);
  assert.deepEqual(j.maps, [{ name: 'proto_count', type: 'array', key_size: 4, value_size: 16, max_entries: 256, flags: 0 }]);
  assert.equal(j.license, 'GPL');
  const d = await tsbpf(['disasm', object]);
  const lines = d.stdout.split('\n');
  assert.equal(lines[0], 'socket1/count:');
  assert.equal(lines[8], '7: (18) r1 = 0x0  ; map proto_count');
  const modern = await tsbpf(['disasm', join(projectRoot(), 'examples', 'modern.o')]);
  // modern.o is compiled with -g: its function's declaration and source lines head the instructions
  assert.deepEqual(modern.stdout.split('\n').slice(1, 7), [
    'int modern(void * skb):', '; SEC("socket1") int modern(void *skb) { @ modern.c:29', '0: (bf) r6 = r1', '1: (b7) r1 = 1',
    '; __sync_fetch_and_add(&seen, 1); @ modern.c:30', '2: (18) r2 = 0x0  ; map .bss+0',
  ]);
});

test('objects: what is not supported yet is a precise error', { skip: noClang }, async () => {
  const build = (name: string, src: string): Uint8Array => {
    writeFileSync(join(dir, `${name}.c`), src);
    const r = spawnSync('clang', ['-O2', '-target', 'bpf', '-c', join(dir, `${name}.c`), '-o', join(dir, `${name}.o`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return new Uint8Array(readFileSync(join(dir, `${name}.o`)));
  };
  const err = (f: () => unknown): BpfError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof BpfError);
      return e;
    }
    throw new Error('no error');
  };
  // global data is a one-element array map: a static counter persists across runs
  const global = build('global', 'static volatile int counter;\n__attribute__((section("socket1"), used)) int f(void *ctx) { counter++; return counter; }\n');
  const gsys = new BpfSystem();
  const gcol = new Collection(gsys, loadCollectionSpec(global));
  assert.deepEqual([1, 2, 3].map(() => testRun(gsys, gcol.programs['f']!.fd, new Uint8Array(0)).retval), [1n, 2n, 3n]);
  // a call into .text links (test/calls.test.ts has the rest); 3.19's verifier refuses calls
  const callsOther = build('calls', '__attribute__((noinline)) int g(unsigned long x) { return x * 3; }\n__attribute__((section("socket1"), used)) int f(void *ctx) { return g((unsigned long)ctx); }\n');
  const linked = loadCollectionSpec(callsOther);
  assert.deepEqual(linked.programs['f']!.functions, [{ name: 'f', insn: 0, global: true }, { name: 'g', insn: 2, global: true }]);
  const e1 = err(() => new Collection(new BpfSystem(), linked));
  assert.equal(e1.code, 'EINVAL');
  assert.equal(e1.message, 'program f (section socket1): insn 0: bpf-to-bpf calls are not supported yet');
  const kprobe = build('kprobe', '__attribute__((section("kprobe/sys_write"), used)) int f(void *ctx) { return 0; }\n');
  assert.equal(err(() => loadCollectionSpec(kprobe)).message, 'section kprobe/sys_write: program type not supported (only socket*, xdp*, tc*, classifier* sections so far)');
  const two = build('two', '__attribute__((section("socket1"), used)) int a(void *c) { return 1; }\n__attribute__((section("socket2"), used)) int b(void *c) { return 2; }\n');
  const spec = loadCollectionSpec(two);
  assert.deepEqual(Object.keys(spec.programs).sort(), ['a', 'b']);
  writeFileSync(join(dir, 'two.o'), two);
  const r = await tsbpf(['run', join(dir, 'two.o')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /the object has 2 programs: pick one with --section \(socket1\/a, socket2\/b\)/);
  const r2 = await tsbpf(['run', join(dir, 'two.o'), '--section', 'socket2', '--json']);
  assert.equal(JSON.parse(r2.stdout).retval, 2);
  const d = await tsbpf(['disasm', join(dir, 'two.o')]);
  assert.equal(d.stdout, 'socket1/a:\n0: (b7) r0 = 1\n1: (95) exit\n\nsocket2/b:\n0: (b7) r0 = 2\n1: (95) exit\n');
});

test('BTF-defined maps in .maps are read from the BTF (libbpf __uint/__type convention)', { skip: noClang }, async () => {
  const src = `#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct key { unsigned int a; unsigned int b; };
struct { __uint(type, 1); __uint(max_entries, 64); __type(key, struct key); __type(value, unsigned long long); } counts SEC(".maps");
struct { __uint(type, 2); __uint(max_entries, 4); __type(key, unsigned int); __type(value, unsigned int); } arr SEC(".maps");
static void *(*bpf_map_lookup_elem)(void *map, void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, void *key, void *value, unsigned long long flags) = (void *)2;
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
SEC("socket1") int f(void *skb) {
  struct key k = { load_byte(skb, 0), 7 };
  unsigned long long one = 1;
  unsigned long long *v = bpf_map_lookup_elem(&counts, &k);
  if (v) __sync_fetch_and_add(v, 1); else bpf_map_update_elem(&counts, &k, &one, 1);
  unsigned int i = 2;
  unsigned int *a = bpf_map_lookup_elem(&arr, &i);
  if (a) *a += 1;
  return 0;
}
char _license[] SEC("license") = "GPL";
`;
  writeFileSync(join(dir, 'btf.c'), src);
  const cc = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', join(dir, 'btf.c'), '-o', join(dir, 'btf.o')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(join(dir, 'btf.o'))));
  // the key and value types, by name (btf-values.test.ts covers what they give)
  const types = Object.fromEntries(Object.entries(spec.maps).map(([n, m]) => [n, [m.btf!.btf.typeName(m.btf!.key), m.btf!.btf.typeName(m.btf!.value)]]));
  assert.deepEqual(types, { counts: ['struct key', 'unsigned long long'], arr: ['unsigned int', 'unsigned int'] });
  assert.deepEqual(Object.fromEntries(Object.entries(spec.maps).map(([n, { btf: _, ...m }]) => [n, m])), {
    counts: { name: 'counts', type: 1, keySize: 8, valueSize: 8, maxEntries: 64, flags: 0 },
    arr: { name: 'arr', type: 2, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 },
  });
  const sys = new BpfSystem();
  const col = new Collection(sys, spec);
  for (const b of [5, 5, 9]) testRun(sys, col.programs['f']!.fd, Uint8Array.of(b, 0));
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  assert.deepEqual([...col.maps['counts']!.raw.entries()].map(([k, v]) => [hex(k), hex(v)]).sort(), [
    ['0500000007000000', '0200000000000000'],
    ['0900000007000000', '0100000000000000'],
  ]);
  assert.equal(hex(col.maps['arr']!.raw.lookup(Uint8Array.of(2, 0, 0, 0))!), '03000000');
  // without -g there is no BTF to read the maps from
  spawnSync('clang', ['-O2', '-target', 'bpf', '-c', join(dir, 'btf.c'), '-o', join(dir, 'nobtf.o')]);
  assert.throws(() => loadCollectionSpec(new Uint8Array(readFileSync(join(dir, 'nobtf.o')))), {
    code: 'EINVAL', message: 'section .maps: BTF-defined maps need the .BTF section (compile with -g)',
  });
});

test('a truncated object is a clear error, not a crash', async () => {
  const bytes = readFileSync(object);
  const cut = join(dir, 'cut.o');
  writeFileSync(cut, bytes.subarray(0, 300));
  const r = await tsbpf(['run', cut]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^tsbpf: .*cut\.o: elf: .+ \(EINVAL\)\n$/);
});
