/**
 * Variables before load (issue 19 item 5): `spec.variables` of an object's
 * .rodata, .data and .bss, typed from BTF (test/c/vars.c), and without BTF
 * from the ELF symbols; set() changing what the programs do over
 * examples/sample.pcap (the verdicts asserted here are the host kernel's,
 * compared case by case in test/vars-kernel.test.ts); setVariables' errors;
 * the text form of `--set` (parseVariableText); programInput's variables;
 * and the CLI's `--set` and `inspect`, through the process.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { programInput } from '../src/loader/input.js';
import { parseVariableText, setVariables } from '../src/loader/variables.js';
import type { CollectionSpec } from '../src/loader/spec.js';
import { parseCapture } from '../src/pcap/reader.js';
import { projectRoot } from './conformance-data.js';
import { expectErr } from './expect-error.js';
import { spawnTsbpf, tsbpf } from './cli-harness.js';

const OBJ = join(projectRoot(), 'test', 'c', 'vars.o');
const PCAP = join(projectRoot(), 'examples', 'sample.pcap');
const objBytes = (): Uint8Array => new Uint8Array(readFileSync(OBJ));
const spec = (): CollectionSpec => loadCollectionSpec(objBytes());
const frames = (): Uint8Array[] => [...parseCapture(readFileSync(PCAP))].map((p) => p.data.slice());

/** Each program's r0 (low 32 bits) for each frame of sample.pcap, and the .bss after them. */
function run(s: CollectionSpec): { xdp: number[]; socket: number[]; bss: string } {
  const c = new Collection(new BpfSystem({ profile: 'modern' }), s);
  try {
    const r0 = (p: string): number[] => frames().map((f) => Number(BigInt.asUintN(32, c.programs[p]!.testRun(f).retval)));
    const xdp = r0('vars_xdp');
    const socket = r0('vars_socket');
    return { xdp, socket, bss: Buffer.from(c.maps['.bss']!.raw.lookup(new Uint8Array(4))!).toString('hex') };
  } finally {
    c.close();
  }
}

const XDP_ABORTED = 0, XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3;
const KEEP = 0xffffffff;

test('spec.variables: every variable of .rodata, .data and .bss with its section, offset, size, C type and value', () => {
  const v = spec().variables;
  assert.deepEqual(Object.keys(v), ['port', 'drop_udp', 'mode', 'limits', 'allowed', 'tag', 'bias', 'step', 'seen', 'matched']);
  const rows = Object.values(v).map((x) => [x.name, x.section, x.offset, x.size, x.type, x.readonly]);
  assert.deepEqual(rows, [
    ['port', '.rodata', 0, 2, 'const volatile __u16', true],
    ['drop_udp', '.rodata', 2, 1, 'const volatile _Bool', true],
    ['mode', '.rodata', 4, 4, 'const volatile enum mode', true],
    ['limits', '.rodata', 8, 6, 'const volatile struct limits', true],
    ['allowed', '.rodata', 14, 8, 'const volatile __u16[4]', true],
    ['tag', '.rodata', 22, 8, 'const volatile char[8]', true],
    ['bias', '.rodata', 32, 4, 'const volatile __s32', true],
    ['step', '.data', 0, 4, '__u32', false],
    ['seen', '.bss', 0, 8, '__u64', false],
    ['matched', '.bss', 8, 8, '__u64', false],
  ]);
  assert.deepEqual(Object.values(v).map((x) => x.get()), [
    80, false, 'MODE_FILTER', { min_len: 14, max_len: 1514, ttl_min: 0 }, [22, 0, 0, 0], 'web', -1, 1, 0n, 0n,
  ]);
  assert.equal(Object.getPrototypeOf(v), null);
});

test('set() writes the section\'s initial value in the spec (a .bss gets one on its first set); get() reads it back', () => {
  const s = spec();
  assert.equal(s.maps['.bss']!.initial, undefined);
  s.variables['port']!.set(443);
  s.variables['limits']!.set({ min_len: 60, max_len: 0x1234, ttl_min: 7 });
  s.variables['tag']!.set('!');
  s.variables['bias']!.set(-2);
  s.variables['matched']!.set(0x0102030405060708n);
  assert.equal(Buffer.from(s.maps['.rodata']!.initial!).toString('hex'), 'bb010000000000003c0034120700160000000000000021000000000000000000feffffff');
  assert.equal(Buffer.from(s.maps['.bss']!.initial!).toString('hex'), '00000000000000000807060504030201');
  assert.deepEqual(s.variables['limits']!.get(), { min_len: 60, max_len: 0x1234, ttl_min: 7 });
  assert.equal(s.variables['tag']!.get(), '!');
  assert.equal(s.variables['matched']!.get(), 0x0102030405060708n);
  assert.deepEqual(s.variables['port']!.bytes(), Uint8Array.of(0xbb, 0x01));
});

test('the initial values: the programs\' verdicts over sample.pcap', () => {
  const r = run(spec());
  // TCP to or from port 80 passes (frames 4, 7), UDP to 53 passes through the bias (frame 5), the rest drops
  assert.deepEqual(r.xdp, [XDP_DROP, XDP_DROP, XDP_DROP, XDP_DROP, XDP_PASS, XDP_PASS, XDP_DROP, XDP_PASS, XDP_DROP]);
  assert.deepEqual(r.socket, [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0]);
  assert.equal(r.bss, '0900000000000000' + '0300000000000000');
});

test('set() before load changes the verdicts: port, mode, limits, drop_udp, allowed, tag, bias, step and matched', () => {
  const cases: [Record<string, unknown>, number[], number[], string][] = [
    [{ port: 443 }, [XDP_PASS, XDP_PASS, XDP_PASS, XDP_PASS, XDP_DROP, XDP_PASS, XDP_DROP, XDP_DROP, XDP_DROP], [KEEP, KEEP, KEEP, KEEP, 0, 0, 0, 0, 0], '09000000000000000500000000000000'],
    [{ mode: 'MODE_PASS_ALL' }, Array<number>(9).fill(XDP_PASS), [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0], '09000000000000000000000000000000'],
    [{ mode: 2, step: 5, seen: 100n }, Array<number>(9).fill(XDP_DROP), [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0], '91000000000000000000000000000000'],
    // frames of 54, 154, 102 and 42 bytes are outside 60..100: aborted
    [{ limits: { min_len: 60, max_len: 100, ttl_min: 0 } }, [XDP_ABORTED, XDP_ABORTED, XDP_ABORTED, XDP_ABORTED, XDP_ABORTED, XDP_PASS, XDP_ABORTED, XDP_ABORTED, XDP_ABORTED], [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0], '09000000000000000100000000000000'],
    [{ drop_udp: true, allowed: [443, 53, 0, 0] }, [XDP_PASS, XDP_DROP, XDP_PASS, XDP_PASS, XDP_PASS, XDP_DROP, XDP_DROP, XDP_PASS, XDP_DROP], [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0], '09000000000000000500000000000000'],
    [{ tag: '!', bias: -5301, step: 3, matched: 1000n }, [XDP_DROP, XDP_DROP, XDP_DROP, XDP_DROP, XDP_TX, XDP_DROP, XDP_TX, XDP_TX, XDP_DROP], [0, 0, 0, 0, KEEP, 0, 0, KEEP, 0], '1b00000000000000f103000000000000'],
  ];
  for (const [values, xdp, socket, bss] of cases) {
    const s = spec();
    setVariables(s.variables, values);
    const r = run(s);
    const what = JSON.stringify(values, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    assert.deepEqual(r.xdp, xdp, what);
    assert.deepEqual(r.socket, socket, what);
    assert.equal(r.bss, bss, what);
  }
});

test('errors: a name that does not exist is ENOENT, a value that does not fit EINVAL naming the path; nothing is set then', () => {
  const s = spec();
  const list = 'variables: port, drop_udp, mode, limits, allowed, tag, bias, step, seen, matched';
  expectErr(() => setVariables(s.variables, { prot: 443 }), 'ENOENT', `no variable prot (${list})`);
  expectErr(() => setVariables(s.variables, JSON.parse('{"__proto__": 1}') as Record<string, unknown>), 'ENOENT', `no variable __proto__ (${list})`);
  expectErr(() => s.variables['port']!.set(70000), 'EINVAL', 'variable port: 70000 does not fit const volatile __u16');
  expectErr(() => s.variables['port']!.set('443'), 'EINVAL', 'variable port: "443" is not an integer (const volatile __u16)');
  expectErr(() => s.variables['limits']!.set({ min_len: 70000, max_len: 1, ttl_min: 1 }), 'EINVAL', 'variable limits.min_len: 70000 does not fit __u16');
  expectErr(() => s.variables['limits']!.set({ min_len: 1 }), 'EINVAL', 'variable limits: missing member max_len of const volatile struct limits');
  expectErr(() => s.variables['tag']!.set('toolong!!'), 'EINVAL', 'variable tag: "toolong!!" (9 bytes in UTF-8) does not fit const volatile char[8]');
  expectErr(() => s.variables['mode']!.set('MODE_NONE'), 'EINVAL', 'variable mode: "MODE_NONE" is not a value of const volatile enum mode (MODE_FILTER, MODE_PASS_ALL, MODE_DROP_ALL)');
  expectErr(() => s.variables['seen']!.set(-1n), 'EINVAL', 'variable seen: -1n does not fit __u64');
  // all or none: port fits, bias does not, and port stays 80
  expectErr(() => setVariables(s.variables, { port: 443, bias: 2 ** 31 }), 'EINVAL', 'variable bias: 2147483648 does not fit const volatile __s32');
  assert.equal(s.variables['port']!.get(), 80);
  // a section taken out of the spec
  delete (s.maps as Record<string, unknown>)['.data'];
  expectErr(() => s.variables['step']!.get(), 'ENOENT', 'variable step: its section .data is no longer a map of the spec');
});

test('without BTF: the ELF symbols of the sections, unsigned integers of 1, 2, 4 or 8 bytes, other sizes as bytes', () => {
  // the same object with its .BTF and .BTF.ext renamed away (the section name strings patched)
  const bytes = objBytes();
  const text = Buffer.from(bytes).toString('latin1');
  for (let at = text.indexOf('.BTF'); at >= 0; at = text.indexOf('.BTF', at + 1)) bytes[at + 1] = 0x58; // '.XTF'
  const s = loadCollectionSpec(bytes);
  const rows = Object.values(s.variables).map((x) => [x.name, x.section, x.offset, x.size, x.type, x.get()]);
  assert.deepEqual(rows, [
    ['port', '.rodata', 0, 2, '__u16', 80],
    ['drop_udp', '.rodata', 2, 1, '__u8', 0],
    ['mode', '.rodata', 4, 4, '__u32', 0],
    ['limits', '.rodata', 8, 6, '__u8[6]', Uint8Array.of(14, 0, 0xea, 5, 0, 0)],
    ['allowed', '.rodata', 14, 8, '__u64', 22n],
    ['tag', '.rodata', 22, 8, '__u64', 0x626577n],
    ['bias', '.rodata', 32, 4, '__u32', 0xffffffff],
    ['step', '.data', 0, 4, '__u32', 1],
    ['seen', '.bss', 0, 8, '__u64', 0n],
    ['matched', '.bss', 8, 8, '__u64', 0n],
  ]);
  s.variables['bias']!.set(-5301); // no signedness without BTF: a negative value is its two's complement
  assert.equal(s.variables['bias']!.get(), 0xffffeb4b);
  s.variables['limits']!.set(Uint8Array.of(60, 0, 100, 0, 0, 0));
  expectErr(() => s.variables['port']!.set(0x10000), 'EINVAL', 'variable port: 65536 does not fit 2 bytes (a variable without BTF)');
  expectErr(() => s.variables['port']!.set(1.5), 'EINVAL', 'variable port: 1.5 is not an integer (a 2-byte variable without BTF)');
  expectErr(() => s.variables['limits']!.set([1, 2]), 'EINVAL', 'variable limits: an array is not a Uint8Array of 6 bytes (a variable without BTF)');
  assert.equal(Buffer.from(s.maps['.rodata']!.initial!).toString('hex'), '50000000000000003c00640000001600000000000000776562000000000000004bebffff');
});

test('parseVariableText: --set VALUE read by the variable\'s type', () => {
  const v = spec().variables;
  const p = (name: string, text: string): unknown => parseVariableText(v[name]!, text);
  assert.equal(p('port', '443'), 443);
  assert.equal(p('port', '0x1bb'), 443);
  assert.equal(p('bias', '-0x10'), -16);
  assert.equal(p('seen', '18446744073709551615'), 18446744073709551615n);
  assert.equal(p('seen', '7'), 7n);
  assert.equal(p('drop_udp', 'true'), true);
  assert.equal(p('drop_udp', '0'), false);
  assert.equal(p('mode', 'MODE_PASS_ALL'), 'MODE_PASS_ALL');
  assert.equal(p('mode', '2'), 2);
  assert.equal(p('tag', '1234'), '1234');
  assert.deepEqual(p('limits', '{"min_len": 1, "max_len": 2, "ttl_min": 3}'), { min_len: 1, max_len: 2, ttl_min: 3 });
  assert.deepEqual(p('allowed', '[443, 0, 0, 0]'), [443, 0, 0, 0]);
  expectErr(() => p('port', 'http'), 'EINVAL', 'variable port: "http" is not an integer (decimal, or hex with 0x) (its type is const volatile __u16)');
  expectErr(() => p('port', '1.5'), 'EINVAL', 'variable port: "1.5" is not an integer (decimal, or hex with 0x) (its type is const volatile __u16)');
  expectErr(() => p('drop_udp', 'yes'), 'EINVAL', 'variable drop_udp: "yes" is not true or false (its type is const volatile _Bool)');
  expectErr(() => p('limits', '{min_len: 1}'), 'EINVAL', 'variable limits: "{min_len: 1}" is not JSON (a struct, union or array is written as JSON) (its type is const volatile struct limits)');
});

test('parseVariableText: integers past 2^53 in JSON stay exact', () => {
  // a struct of a u64 has none in vars.c: the JSON reader is checked through an array variable of the BTF-less object
  const bytes = objBytes();
  const text = Buffer.from(bytes).toString('latin1');
  for (let at = text.indexOf('.BTF'); at >= 0; at = text.indexOf('.BTF', at + 1)) bytes[at + 1] = 0x58;
  const v = loadCollectionSpec(bytes).variables;
  assert.equal(parseVariableText(v['seen']!, '0xffffffffffffffff'), 0xffffffffffffffffn);
  assert.deepEqual(parseVariableText(v['limits']!, '0e00 ea05 0000'), Uint8Array.of(14, 0, 0xea, 5, 0, 0));
  const s = spec();
  assert.deepEqual(parseVariableText(s.variables['limits']!, '{"min_len": 9007199254740993, "max_len": 1, "ttl_min": 2}'), { min_len: 9007199254740993n, max_len: 1, ttl_min: 2 });
});

test('programInput takes variables (values, or text as --set gives them) for an object; other inputs refuse them', () => {
  const input = programInput(objBytes(), { section: 'vars_socket', variables: { port: 443 }, variableText: { step: '0x10', matched: '5' } });
  const init = (name: string): string => Buffer.from(input.maps[input.mapNames!.indexOf(name)]!.initial!).toString('hex');
  assert.equal(init('.rodata').slice(0, 4), 'bb01');
  assert.equal(init('.data'), '10000000');
  assert.equal(init('.bss'), '00000000000000000500000000000000');
  expectErr(() => programInput('r0 = 0\nexit', { variables: { port: 1 } }), 'EINVAL', "variables are set in an object's global data; this program is assembly");
  expectErr(() => programInput(objBytes(), { section: 'vars_socket', variableText: { nope: '1' } }), 'ENOENT',
    'no variable nope (variables: port, drop_udp, mode, limits, allowed, tag, bias, step, seen, matched)');
});

test('CLI: run --set over a capture changes the verdicts (through the process)', () => {
  const base = ['run', OBJ, '--section', 'vars_xdp', '--pcap', PCAP, '--retvals'];
  const before = spawnTsbpf(base);
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout, /^retvals XDP_DROP XDP_DROP XDP_DROP XDP_DROP XDP_PASS XDP_PASS XDP_DROP XDP_PASS XDP_DROP$/m);
  const after = spawnTsbpf([...base, '--set', 'port=0x1bb', '--set', 'tag=!', '--set', 'matched=1000']);
  assert.equal(after.status, 0, after.stderr);
  assert.match(after.stdout, /^retvals XDP_TX XDP_TX XDP_TX XDP_TX XDP_DROP XDP_TX XDP_DROP XDP_DROP XDP_DROP$/m);
  // the .bss after the runs, as bpftool shows it: seen 9, matched 1000 + 5
  assert.match(after.stdout, /^map \.bss type array key 4B value 16B entries 1\n\[\{\n {8}"value": \{\n {12}"\.bss": \[\{\n {20}"seen": 9\n {16}\},\{\n {20}"matched": 1005\n/m);
});

test('CLI: filter and verify take --set; errors exit 2 with one line', async () => {
  const f = spawnTsbpf(['filter', OBJ, PCAP, '--section', 'vars_socket', '--count', '--set', 'port=443']);
  assert.equal(f.status, 0, f.stderr);
  assert.equal(f.stdout, '4 packets\n');
  const limits = await tsbpf(['verify', OBJ, '--section', 'vars_xdp', '--set', 'limits={"min_len": 1, "max_len": 2, "ttl_min": 3}', '--log-level', '0', '--json']);
  assert.equal(limits.status, 0, limits.stderr);
  assert.equal(JSON.parse(limits.stdout).accepted, true);
  const cases: [string[], string][] = [
    [['verify', OBJ, '--section', 'vars_xdp', '--set', 'prot=1'], `tsbpf: ${OBJ}: no variable prot (variables: port, drop_udp, mode, limits, allowed, tag, bias, step, seen, matched) (ENOENT)\n`],
    [['verify', OBJ, '--section', 'vars_xdp', '--set', 'port=70000'], `tsbpf: ${OBJ}: variable port: 70000 does not fit const volatile __u16 (EINVAL)\n`],
    [['run', OBJ, '--section', 'vars_xdp', '--set', 'port'], "tsbpf: --set takes NAME=VALUE, got 'port' (EINVAL)\n"],
    [['run', OBJ, '--section', 'vars_xdp', '--set', 'port=1', '--set', 'port=2'], 'tsbpf: --set port is given twice (EINVAL)\n'],
    [['filter', 'tcp', PCAP, '--set', 'port=1'], 'tsbpf: --set applies to the variables of an object file, not to an expression (EINVAL)\n'],
  ];
  for (const [args, stderr] of cases) {
    const r = await tsbpf(args);
    assert.equal(r.stderr, stderr, args.join(' '));
    assert.equal(r.status, 2, args.join(' '));
  }
  const asm = spawnTsbpf(['verify', '-', '--set', 'port=1'], 'r0 = 0\nexit\n');
  assert.equal(asm.stderr, "tsbpf: -: variables are set in an object's global data; this program is assembly (EINVAL)\n");
  assert.equal(asm.status, 2);
});

test('CLI: inspect lists the variables with section, offset, size, type and initial value (text and --json)', () => {
  const r = spawnTsbpf(['inspect', OBJ]);
  assert.equal(r.status, 0, r.stderr);
  const listing = r.stdout.slice(r.stdout.indexOf('variables\n'), r.stdout.indexOf('sections\n'));
  assert.equal(listing, [
    'variables',
    '  port  .rodata+0  2B  const volatile __u16  (read-only)  = 80',
    '  drop_udp  .rodata+2  1B  const volatile _Bool  (read-only)  = false',
    '  mode  .rodata+4  4B  const volatile enum mode  (read-only)  = "MODE_FILTER"',
    '  limits  .rodata+8  6B  const volatile struct limits  (read-only)  = {"min_len": 14, "max_len": 1514, "ttl_min": 0}',
    '  allowed  .rodata+14  8B  const volatile __u16[4]  (read-only)  = [22, 0, 0, 0]',
    '  tag  .rodata+22  8B  const volatile char[8]  (read-only)  = "web"',
    '  bias  .rodata+32  4B  const volatile __s32  (read-only)  = -1',
    '  step  .data+0  4B  __u32  = 1',
    '  seen  .bss+0  8B  __u64  = 0',
    '  matched  .bss+8  8B  __u64  = 0',
    '',
  ].join('\n'));
  const j = spawnTsbpf(['inspect', OBJ, '--json']);
  assert.equal(j.status, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as { variables: unknown[]; sections: unknown[] };
  assert.deepEqual(doc.variables.slice(2, 4), [
    { name: 'mode', section: '.rodata', offset: 4, size: 4, type: 'const volatile enum mode', readonly: true, value: 'MODE_FILTER' },
    { name: 'limits', section: '.rodata', offset: 8, size: 6, type: 'const volatile struct limits', readonly: true, value: { min_len: 14, max_len: 1514, ttl_min: 0 } },
  ]);
  assert.match(j.stdout, /"name":"seen","section":".bss","offset":0,"size":8,"type":"__u64","readonly":false,"value":0\}/);
  assert.ok(doc.sections.length > 0);
});

test('hostile objects: names are keys only (__proto__), a second variable of a name is SECTION:name, messages stay one line, bad extents are EINVAL', async () => {
  const { writeObj } = await import('./fuzz/elf-writer.js');
  const obj = (symbols: { name: string; value: number; size: number; section?: string }[]): Uint8Array => writeObj({
    sections: [{ name: '.data', type: 1, flags: 3, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }, { name: '.bss', type: 8, flags: 3, size: 4 }],
    symbols: symbols.map((s) => ({ name: s.name, section: s.section ?? '.data', value: s.value, size: s.size, type: 1, bind: 1 })),
  }).bytes;
  const s = loadCollectionSpec(obj([{ name: '__proto__', value: 0, size: 4 }, { name: 'a\nb', value: 4, size: 2 }, { name: '__proto__', value: 0, size: 4, section: '.bss' }]));
  assert.deepEqual(Object.keys(s.variables), ['__proto__', 'a\nb', '.bss:__proto__']);
  assert.equal(s.variables['__proto__']!.get(), 0x04030201);
  assert.equal(s.variables['.bss:__proto__']!.section, '.bss');
  expectErr(() => s.variables['a\nb']!.set(1 << 16), 'EINVAL', 'variable a\\u000ab: 65536 does not fit 2 bytes (a variable without BTF)');
  expectErr(() => setVariables(s.variables, { 'x\ny': 1 }), 'ENOENT', "no variable x\\u000ay (variables: __proto__, a\\u000ab, .bss:__proto__)");
  expectErr(() => loadCollectionSpec(obj([{ name: 'big', value: 6, size: 4 }])), 'EINVAL', "section .data: variable big at offset 6 (4 bytes) runs past the section's 8 bytes");
});
