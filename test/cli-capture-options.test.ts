/**
 * Capture runs with --unverified and --budget (run --pcap and filter), the
 * packet a fault happened on, and the JSON of filter and disasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mixPcap } from './frames.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-capture-');
process.env['TZ'] = 'UTC';
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const capture = join(dir, 'mix.pcap');
writeFileSync(capture, mixPcap());

function prog(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// a bounded loop: 3.19's verifier refuses any back-edge; unverified, r0 = 3
const LOOP = prog('loop.s', 'mov %r0, 0\nmov %r2, 3\nadd %r0, 1\nsub %r2, 1\njne %r2, 0, -3\nexit\n');
const FOREVER = prog('forever.s', 'ja -1\nexit\n');
// packet byte 50 (the context is 8 bytes, the packet follows): the 42-byte UDP packet, the third, has none
const BYTE50 = prog('byte50.s', 'ldxb %r2, [%r1+58]\nmov %r0, -1\nexit\n');

test('run --pcap --unverified runs what the verifier refuses, in the checked interpreter', async () => {
  const refused = await tsbpf(['run', LOOP, '--pcap', capture]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, `tsbpf: ${LOOP}: back-edge from insn 4 to 2 (EINVAL)\n`);
  const r = await tsbpf(['run', LOOP, '--pcap', capture, '--unverified', '--json']);
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j['retval'], 3);
  assert.equal(j['packets'], 5);
  assert.equal(j['accepted'], 5);
  const text = await tsbpf(['run', LOOP, '--pcap', capture, '--unverified']);
  assert.equal(text.stdout.split('\n')[0], 'packets 5, accepted 5, last retval 0x3');
  assert.match(text.stdout.split('\n')[1]!, /^runs {4}\d+\.\d+ (ns|µs|ms) per packet \(interpreter, unverified\)$/);
});

test('run --pcap --unverified --budget: the packet that ran out is named, exit 1', async () => {
  const r = await tsbpf(['run', FOREVER, '--pcap', capture, '--unverified', '--budget', '1000']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^tsbpf: ${FOREVER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: packet 1: .*budget of 1000 .*\\(E2BIG\\)\n$`));
  const j = await tsbpf(['run', FOREVER, '--pcap', capture, '--unverified', '--budget', '1000', '--json']);
  assert.equal(j.status, 1);
  const o = JSON.parse(j.stdout) as Record<string, unknown>;
  assert.equal(o['retval'], null);
  assert.equal(o['code'], 'E2BIG');
  assert.equal(o['packets'], 0);
  assert.equal(o['accepted'], 0);
  assert.match(o['error'] as string, /^packet 1: .*budget of 1000 /);
});

test('a fault on the third packet: the two before it counted, the third named', async () => {
  const r = await tsbpf(['run', BYTE50, '--pcap', capture, '--unverified', '--json']);
  assert.equal(r.status, 1);
  const o = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual([o['retval'], o['code'], o['packets'], o['accepted']], [null, 'EFAULT', 2, 2]);
  assert.match(r.stderr, /: packet 3: pc 0: invalid read of 1 bytes? at 0x[0-9a-f]+.*\(EFAULT\)\n$/);
  const f = await tsbpf(['filter', BYTE50, capture, '--unverified']);
  assert.equal(f.status, 1);
  assert.equal(f.stdout, [
    '01:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 7, win 4096, length 0',
    '01:00:00.001500 IP 10.0.0.1.80 > 10.0.0.2.40000: Flags [S.], seq 7, ack 0, win 4096, length 0',
    '',
  ].join('\n'));
  assert.match(f.stderr, /: packet 3: pc 0: invalid read .*\(EFAULT\)\n$/);
});

test('filter --unverified with a budget; --budget alone is refused', async () => {
  const r = await tsbpf(['filter', LOOP, capture, '--unverified', '--budget', '100', '--count']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '5 packets\n');
  const alone = await tsbpf(['filter', LOOP, capture, '--budget', '100']);
  assert.equal(alone.status, 2);
  assert.equal(alone.stderr, 'tsbpf: --budget applies to --unverified runs (a verified program needs no budget) (EINVAL)\n');
  const run = await tsbpf(['run', LOOP, '--budget', '100']);
  assert.equal(run.stderr, 'tsbpf: --budget applies to --unverified runs (a verified program needs no budget) (EINVAL)\n');
});

test('filter --json: one object per accepted packet; with --count one in all', async () => {
  const syn = join(EXAMPLES, 'syn-filter.s');
  const r = await tsbpf(['filter', syn, capture, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [
    { packet: 1, ts_ns: '3600000000000', len: 54, orig_len: 54, retval: 0x40000, summary: 'IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 7, win 4096, length 0' },
    { packet: 4, ts_ns: '3600004500000', len: 54, orig_len: 54, retval: 0x40000, summary: 'IP 10.0.0.1.40001 > 10.0.0.2.443: Flags [S], seq 7, win 4096, length 0' },
  ]);
  const c = await tsbpf(['filter', syn, capture, '--json', '--count']);
  assert.equal(c.stdout, '{"packets":5,"matched":2}\n');
  const w = await tsbpf(['filter', syn, capture, '--json', '-w', join(dir, 'x.pcap')]);
  assert.equal(w.status, 2);
  assert.equal(w.stderr, 'tsbpf: --json and -w are exclusive: -w writes the packets, --json prints them (EINVAL)\n');
});

test('disasm --json: pc, opcode, bytes and text of each instruction', async () => {
  const p = prog('d.s', 'mov %r0, 1\nlddw %r1, 0x1122334455667788\nexit\n');
  const r = await tsbpf(['disasm', p, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    insns: [
      { pc: 0, code: 0xb7, hex: 'b700000001000000', text: 'r0 = 1' },
      { pc: 1, code: 0x18, hex: '18010000887766550000000044332211', text: 'r1 = 0x1122334455667788' },
      { pc: 3, code: 0x95, hex: '9500000000000000', text: 'exit' },
    ],
  });
});

test('disasm --json of classic BPF: the classic instructions, then the eBPF', async () => {
  const p = prog('c.dd', '{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00040000 },\n');
  const j = JSON.parse((await tsbpf(['disasm', p, '--json'])).stdout) as { classic: unknown[]; insns: { text: string }[] };
  assert.deepEqual(j.classic, [
    { pc: 0, code: 0x28, jt: 0, jf: 0, k: 12, text: 'ldh [12]' },
    { pc: 1, code: 0x06, jt: 0, jf: 0, k: 0x40000, text: 'ret #262144' },
  ]);
  assert.deepEqual(j.insns.map((i) => i.text), ['(u32) r0 = (u32) 0', '(u32) r7 = (u32) 0', 'r6 = r1', 'r0 = *(u16 *)skb[12]', '(u32) r0 = (u32) 262144', 'exit']);
});

test('disasm --json of an object: every program, map references named', async () => {
  const r = await tsbpf(['disasm', join(EXAMPLES, 'flow-table.o'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { programs: { section: string; name: string; insns: { pc: number; map?: string; hex: string }[] }[] };
  assert.deepEqual(j.programs.map((p) => [p.section, p.name]), [['socket1', 'flow_table']]);
  const refs = j.programs[0]!.insns.filter((i) => i.map !== undefined);
  assert.deepEqual(refs.map((i) => [i.pc, i.map, i.hex.length]), [[30, 'flows', 32], [42, 'flows', 32]]);
  // the text output names the same ones
  const text = (await tsbpf(['disasm', join(EXAMPLES, 'flow-table.o')])).stdout;
  assert.deepEqual(text.split('\n').filter((l) => l.endsWith('; map flows')).map((l) => Number(l.split(':')[0])), [30, 42]);
});
