/**
 * Captures through the CLI: `run --pcap`, `filter` (summaries, --count, -w
 * with truncation to the returned length), classic BPF input, and a
 * truncated capture processed up to the fault.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCapture } from '../src/pcap/index.js';
import { MIX, mixPcap } from './frames.js';
import { tsbpf } from './cli-harness.js';
import { perPacket, startupJson, startupText } from '../src/cli/capture.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-capture-');
// filter prints tcpdump's local time of day: UTC here, whatever the machine's zone
process.env['TZ'] = 'UTC';
const run = (args: string[]) => tsbpf(args);

const packets = MIX;
const capture = join(dir, 'mix.pcap');
writeFileSync(capture, mixPcap());
const synFilter = join(projectExamples(), 'syn-filter.s');

function projectExamples(): string {
  return fileURLToPath(new URL('../../examples', import.meta.url));
}

// tcpdump -dd 'tcp' on Ethernet
const TCP_DD = join(dir, 'tcp.dd');
writeFileSync(TCP_DD, [
  '{ 0x28, 0, 0, 0x0000000c },', '{ 0x15, 0, 5, 0x000086dd },', '{ 0x30, 0, 0, 0x00000014 },', '{ 0x15, 6, 0, 0x00000006 },',
  '{ 0x15, 0, 6, 0x0000002c },', '{ 0x30, 0, 0, 0x00000036 },', '{ 0x15, 3, 4, 0x00000006 },', '{ 0x15, 0, 3, 0x00000800 },',
  '{ 0x30, 0, 0, 0x00000017 },', '{ 0x15, 0, 1, 0x00000006 },', '{ 0x6, 0, 0, 0x00040000 },', '{ 0x6, 0, 0, 0x00000000 },',
].join('\n') + '\n');

test('run --pcap counts packets and accepted ones, maps carried over', async () => {
  // count packets per IP protocol in an array map indexed by the protocol byte
  const counter = join(dir, 'count.s');
  const asm = [
    'mov %r6, %r1', 'ldabsb 23', 'stxw [%r10-4], %r0', 'mov %r2, %r10', 'add %r2, -4',
    'lddw %r1, 0', 'call 1', 'jeq %r0, 0, +3', 'ldxdw %r1, [%r0+0]', 'add %r1, 1', 'stxdw [%r0+0], %r1', 'mov %r0, 1', 'exit',
  ].join('\n');
  writeFileSync(counter, asm);
  const bin = join(dir, 'count.bin');
  assert.equal((await run(['asm', counter, '-o', bin])).status, 0);
  const bytes = readFileSync(bin);
  const insns = Array.from({ length: bytes.length / 8 }, (_, i) => bytes.subarray(i * 8, i * 8 + 8).toString('hex'));
  const spec = join(dir, 'count.json');
  writeFileSync(spec, JSON.stringify({ maps: [{ type: 'array', key_size: 4, value_size: 8, max_entries: 32 }], fixups: [[5, 0]], insns }));
  const r = await run(['run', spec, '--pcap', capture, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.packets, 5);
  assert.equal(j.runs, 5);
  assert.equal(j.accepted, 5);
  assert.equal(j.retval, 1);
  const nonzero = j.maps[0].filter((e: { value: string }) => e.value !== '0000000000000000');
  assert.deepEqual(nonzero, [
    { key: '06000000', value: '0400000000000000' },
    { key: '11000000', value: '0100000000000000' },
  ]);
  assert.equal(j.maps[0].length, 32);
});

test('filter prints tcpdump -nn summaries of the accepted packets', async () => {
  const r = await run(['filter', synFilter, capture]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, [
    '01:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 7, win 4096, length 0',
    '01:00:00.004500 IP 10.0.0.1.40001 > 10.0.0.2.443: Flags [S], seq 7, win 4096, length 0',
    '',
  ].join('\n'));
  assert.match(r.stderr, /^tsbpf: 5 packets \(0\.00 MB\) in \d+\.\d{3} s: .+ packets\/s, .+ MB\/s; 2 matched\n$/);
});

test('filter --count with a classic tcpdump -dd filter', async () => {
  const r = await run(['filter', TCP_DD, capture, '--count']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '4 packets\n');
  const i = await run(['filter', TCP_DD, capture, '--count', '--engine', 'interpreter']);
  assert.equal(i.stdout, '4 packets\n');
});

test('filter -w writes accepted packets truncated to the returned length', async () => {
  const trunc = join(dir, 'trunc.s');
  writeFileSync(trunc, 'mov %r6, %r1\nldabsb 23\njne %r0, 6, +2\nmov %r0, 20\nexit\nmov %r0, 0\nexit\n');
  const out = join(dir, 'out.pcap');
  const r = await run(['filter', trunc, capture, '-w', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  const got = [...parseCapture(new Uint8Array(readFileSync(out)))];
  assert.equal(got.length, 4);
  for (const p of got) {
    assert.equal(p.data.length, 20);
    assert.equal(p.origLen, 54);
    assert.equal(p.linkType, 1);
  }
  assert.deepEqual(Array.from(got[1]!.data), Array.from(packets[1]!.subarray(0, 20)));
  assert.equal(got[3]!.tsNs, 3600_000_000_000n + 4n * 1_500_000n);
});

test('a truncated capture: the packets before the fault are processed, then the error names the offset', async () => {
  const whole = readFileSync(capture);
  const cut = join(dir, 'cut.pcap');
  // global header 24 + 2 records of 16 + 54, then 10 bytes of the third record's header
  writeFileSync(cut, whole.subarray(0, 24 + 2 * 70 + 10));
  const r = await run(['run', synFilter, '--pcap', cut, '--json']);
  assert.equal(r.status, 2);
  const j = JSON.parse(r.stdout);
  assert.equal(j.packets, 2);
  assert.equal(j.accepted, 1);
  assert.equal(r.stderr, `tsbpf: ${cut}: offset 164: truncated record header (EINVAL)\n`);
  const f = await run(['filter', synFilter, cut]);
  assert.equal(f.status, 2);
  assert.equal(f.stdout.split('\n').length, 2);
});

test('disasm of classic BPF shows tcpdump -d and the converted eBPF', async () => {
  const r = await run(['disasm', TCP_DD]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'classic BPF (tcpdump -d):');
  assert.equal(lines[1], '(000) ldh      [12]');
  assert.equal(lines[11], '(010) ret      #262144');
  assert.ok(lines.includes('eBPF:'));
  assert.ok(lines.includes('3: (28) r0 = *(u16 *)skb[12]'));
});

test('the progress bar: drawn on a terminal, cleared at the end, absent otherwise', async () => {
  const { progress } = await import('../src/cli/capture.js');
  const size = readFileSync(capture).length;
  const written: string[] = [];
  const bar = progress(capture, { isTTY: true, write: (s: string) => written.push(s) });
  bar.tick(Math.floor(size / 2));
  bar.done();
  assert.equal(written[0], '\r[' + '#'.repeat(15) + ' '.repeat(15) + ']  50%');
  assert.equal(written[1], '\r' + ' '.repeat(40) + '\r');
  const quiet: string[] = [];
  const none = progress(capture, { isTTY: false, write: (s: string) => quiet.push(s) });
  none.tick(size);
  none.done();
  assert.deepEqual(quiet, []);
});

test('filter and run --pcap: clear one-line errors for a missing or garbage capture, and --repeat with --pcap', async () => {
  const missing = await run(['filter', synFilter, join(dir, 'nope.pcap')]);
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr, `tsbpf: ${join(dir, 'nope.pcap')}: no such file (ENOENT)\n`);
  const junk = join(dir, 'junk.pcap');
  writeFileSync(junk, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const g = await run(['filter', synFilter, junk]);
  assert.equal(g.status, 2);
  assert.equal(g.stderr, `tsbpf: ${junk}: offset 0: unrecognised magic 0x01020304 (EINVAL)\n`);
  const rep = await run(['run', synFilter, '--pcap', capture, '--repeat', '2']);
  assert.equal(rep.status, 2);
  assert.equal(rep.stderr, 'tsbpf: --repeat does not apply to --pcap (each packet runs once) (EINVAL)\n');
});

test('run --pcap: the time per packet leaves out each engine\'s first run, which the startup line shows', () => {
  // 9 packets in 10 ms, of which the interpreter's first run took 4 and the JIT's 1: 5 ms over 7 packets
  assert.deepEqual(perPacket(9, 10, [{ ms: 4 }, { ms: 1 }]), { ns: 5e6 / 7, packets: 7 });
  // every packet a first run: those are all there is
  assert.deepEqual(perPacket(1, 2, [{ ms: 2 }]), { ns: 2e6, packets: 1 });
  assert.deepEqual(perPacket(0, 0, []), { ns: 0, packets: 0 });
  assert.equal(startupText(1.5, 0.25, [{ engine: 'interpreter', ms: 1.25 }, { engine: 'jit', ms: 0.0125 }]), 'load 1.50 ms, JIT compile 250.00 µs, first run 1.25 ms (interpreter), 12.50 µs (jit)');
  assert.equal(startupText(2, 0, [{ engine: 'jit', ms: 0.5 }]), 'load 2.00 ms, first run 500.00 µs (jit)');
  assert.deepEqual(startupJson(1.5, 0, [{ engine: 'jit', ms: 0.01234 }]), { load_ns: 1500000, jit_compile_ns: 0, first_runs: [{ engine: 'jit', ns: 12340 }] });
});
