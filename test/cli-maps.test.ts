/**
 * One map display: run --data, run --pcap and batch show a map the same
 * way, named, as bpftool does (text: a `map NAME type ...` header, then
 * `bpftool map dump`'s entries; JSON: {name, type, key_size, value_size,
 * entries}), and run's --json keeps CLI.md's `maps` beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIX, mixPcap } from './frames.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-maps-');
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const capture = join(dir, 'mix.pcap');
writeFileSync(capture, mixPcap());

// map[ip protocol] = packet length, with BPF_ANY; the ld_imm64 at slot 9 is the map
const SRC = [
  'mov %r6, %r1', 'ldabsb 23', 'stxw [%r10-4], %r0', 'ldxw %r7, [%r6+0]', 'stxdw [%r10-16], %r7',
  'mov %r2, %r10', 'add %r2, -4', 'mov %r3, %r10', 'add %r3, -16', 'lddw %r1, 0', 'mov %r4, 0', 'call 2', 'mov %r0, -1', 'exit',
].join('\n');

async function spec(): Promise<string> {
  const asm = join(dir, 'len.s');
  writeFileSync(asm, SRC);
  const bin = join(dir, 'len.bin');
  assert.equal((await tsbpf(['asm', asm, '-o', bin])).status, 0);
  const bytes = readFileSync(bin);
  const insns = Array.from({ length: bytes.length / 8 }, (_, i) => bytes.subarray(i * 8, i * 8 + 8).toString('hex'));
  const path = join(dir, 'len.json');
  writeFileSync(path, JSON.stringify({ maps: [{ type: 'hash', key_size: 4, value_size: 8, max_entries: 4 }], fixups: [[9, 0]], insns }));
  return path;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('run --data: the map named and dumped as bpftool does', async () => {
  const r = await tsbpf(['run', await spec(), '--data', hex(MIX[0]!)]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').slice(2), [
    'map map0 type hash key 4B value 8B entries 1',
    'key: 06 00 00 00  value: 36 00 00 00 00 00 00 00',
    '',
  ]);
  const j = JSON.parse((await tsbpf(['run', await spec(), '--data', hex(MIX[0]!), '--json'])).stdout) as Record<string, unknown>;
  assert.deepEqual(j['map_dump'], [{ name: 'map0', type: 'hash', key_size: 4, value_size: 8, entries: [{ key: '06000000', value: '3600000000000000' }] }]);
  // CLI.md's `maps` stays for the scripts that read it
  assert.deepEqual(j['maps'], [[{ key: '06000000', value: '3600000000000000' }]]);
});

test('run --pcap and batch show the same map the same way', async () => {
  const r = await tsbpf(['run', await spec(), '--pcap', capture]);
  assert.equal(r.status, 0, r.stderr);
  // (packets, runs and startup lines first)
  const text = r.stdout.split('\n').slice(3).join('\n');
  const j = JSON.parse((await tsbpf(['run', await spec(), '--pcap', capture, '--json'])).stdout) as Record<string, unknown>;
  // the same updates, in the same order, through batch
  const script = join(dir, 'same.txt');
  const lines = ['map create m type hash key 4 value 8 entries 4 name map0'];
  for (const p of MIX) lines.push(`map update name map0 key ${p[23]} 0 0 0 value ${p.length} 0 0 0 0 0 0 0`);
  lines.push('map dump name map0');
  writeFileSync(script, lines.join('\n') + '\n');
  const b = await tsbpf(['batch', script]);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(text, 'map map0 type hash key 4B value 8B entries 2\n' + b.stdout.replace(/Found 2 elements\n$/, ''));
  assert.equal(text, [
    'map map0 type hash key 4B value 8B entries 2',
    'key: 06 00 00 00  value: 36 00 00 00 00 00 00 00',
    'key: 11 00 00 00  value: 2a 00 00 00 00 00 00 00',
    '',
  ].join('\n'));
  const bj = await tsbpf(['batch', script, '--json']);
  const dump = JSON.parse(bj.stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
  delete dump['ok'];
  assert.deepEqual((j['map_dump'] as unknown[])[0], dump);
});

test("an object's maps by their names; an array's zero elements counted, not printed", async () => {
  const flows = await tsbpf(['run', join(EXAMPLES, 'flow-table.o'), '--pcap', join(EXAMPLES, 'sample.pcap')]);
  assert.equal(flows.status, 0, flows.stderr);
  const lines = flows.stdout.split('\n');
  assert.equal(lines[3], 'map flows type hash key 16B value 16B entries 5');
  // key 16 + value 16 bytes: bpftool breaks the entry over two lines
  assert.match(lines[4]!, /^key: ([0-9a-f]{2} ){7}[0-9a-f]{2} {2}([0-9a-f]{2} ){7}[0-9a-f]{2}$/);
  assert.match(lines[5]!, /^value: /);
  const j = JSON.parse((await tsbpf(['run', join(EXAMPLES, 'flow-table.o'), '--pcap', join(EXAMPLES, 'sample.pcap'), '--json'])).stdout) as { map_dump: { name: string; entries: unknown[] }[] };
  assert.deepEqual(j.map_dump.map((m) => [m.name, m.entries.length]), [['flows', 5]]);
  const proto = await tsbpf(['run', join(EXAMPLES, 'proto-count.o'), '--pcap', join(EXAMPLES, 'sample.pcap')]);
  const p = proto.stdout.split('\n').slice(3);
  assert.equal(p[0], 'map proto_count type array key 4B value 16B entries 256 (254 all-zero not shown)');
  assert.equal(p.length, 4);
  assert.ok(p[1]!.startsWith('key: 06 00 00 00  value: '), p[1]);
  assert.ok(p[2]!.startsWith('key: 11 00 00 00  value: '), p[2]);
});
