/**
 * `tsbpf compile` and `tsbpf filter 'EXPR'` through the process: the
 * printed forms, the error with its caret line, an expression compiled for
 * the capture's link type, -e, --linktype for standard input, -w.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';
import { mixPcap, MIX } from './frames.js';
import { compileFilter } from '../src/filter/index.js';
import { disassembleClassic, formatDd, formatDdd } from '../src/cbpf/index.js';
import { parseCapture, writePcap } from '../src/pcap/index.js';

const dir = tempDir('tsbpf-filter-cli-');
const mix = join(dir, 'mix.pcap');
writeFileSync(mix, mixPcap());

test('compile prints -d (the default), -dd, -ddd and --ebpf', () => {
  const prog = compileFilter('tcp port 80');
  const d = spawnTsbpf(['compile', 'tcp port 80']);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, disassembleClassic(prog));
  assert.equal(spawnTsbpf(['compile', 'tcp port 80', '-dd']).stdout, formatDd(prog));
  assert.equal(spawnTsbpf(['compile', '-ddd', 'tcp port 80']).stdout, formatDdd(prog));
  const raw = spawnTsbpf(['compile', 'ip', '--linktype', 'raw', '-d']);
  assert.equal(raw.stdout, disassembleClassic(compileFilter('ip', 'raw')));
  // --ebpf: the program compiled straight to eBPF (src/filter/ebpf.ts), not the classic one converted
  const e = spawnTsbpf(['compile', 'ip', '--ebpf']);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(e.stdout, [
    '0: (bf) r6 = r1', '1: (28) r0 = *(u16 *)skb[12]', '2: (15) if r0 == 0x800 goto pc+2', '3: (b4) (u32) r0 = (u32) 0',
    '4: (95) exit', '5: (b4) (u32) r0 = (u32) 262144', '6: (95) exit', '',
  ].join('\n'));
});

test('compile: a syntax error is one line and a caret under its column, exit 2', () => {
  const r = spawnTsbpf(['compile', 'host 1.2.3.4 and and']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, "tsbpf: syntax error at column 18: unexpected 'and' (EINVAL)\n  host 1.2.3.4 and and\n                   ^\n");
  const lt = spawnTsbpf(['compile', 'ip', '--linktype', 'fddi']);
  assert.equal(lt.status, 2);
  assert.equal(lt.stderr, "tsbpf: --linktype: unknown link type 'fddi' (supported: ethernet, raw, ipv4, ipv6, linux_sll, linux_sll2, null, loop) (EINVAL)\n");
  const both = spawnTsbpf(['compile', 'ip', '-dd', '--ebpf']);
  assert.equal(both.status, 2);
  assert.equal(both.stderr, 'tsbpf: --ebpf and -d/-dd/-ddd are exclusive (EINVAL)\n');
});

test("filter 'EXPR' CAPTURE: an argument that is not a file is an expression", () => {
  const r = spawnTsbpf(['filter', 'tcp[tcpflags] & tcp-syn != 0', mix, '--count']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '3 packets\n');
  const udp = spawnTsbpf(['filter', 'udp port 53', mix, '--json']);
  assert.equal(udp.status, 0, udp.stderr);
  assert.equal(udp.stdout.trim().split('\n').length, 1);
  assert.equal(JSON.parse(udp.stdout).packet, 3);
});

test('filter -e EXPR takes an expression even where a file of that name exists; -w writes the matches', () => {
  const named = join(dir, 'tcp');
  writeFileSync(named, 'not a program');
  const out = join(dir, 'out.pcap');
  const r = spawnTsbpf(['filter', '-e', 'tcp and dst port 80', mix, '-w', out]);
  assert.equal(r.status, 0, r.stderr);
  const got = [...parseCapture(readFileSync(out))].map((p) => Buffer.from(p.data).toString('hex'));
  assert.deepEqual(got, [MIX[0]!, MIX[4]!].map((f) => Buffer.from(f).toString('hex')));
  const extra = spawnTsbpf(['filter', '-e', 'tcp', mix, mix]);
  assert.equal(extra.status, 2);
  assert.equal(extra.stderr, 'tsbpf: filter: with -e, the only argument is CAPTURE (usage: tsbpf filter PROG CAPTURE [-w OUT.pcap] [--count] [--json]) (EINVAL)\n');
});

test("the expression is compiled for the capture's link type; --linktype names it for standard input", () => {
  const rawFrames = MIX.map((f) => f.subarray(14));
  const raw = writePcap(rawFrames.map((data, i) => ({ data, tsNs: BigInt(i) * 1000n })), 101);
  const rawFile = join(dir, 'raw.pcap');
  writeFileSync(rawFile, raw);
  const r = spawnTsbpf(['filter', 'tcp port 80', rawFile, '--count']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '3 packets\n');
  const viaStdin = spawnTsbpf(['filter', 'tcp port 80', '-', '--count', '--linktype', 'raw'], raw);
  assert.equal(viaStdin.stdout, '3 packets\n');
  const refused = spawnTsbpf(['filter', 'ether src 1:2:3:4:5:6', rawFile]);
  assert.equal(refused.status, 2);
  assert.equal(refused.stderr, 'tsbpf: ethernet addresses are not supported on raw (at column 11) (EINVAL)\n  ether src 1:2:3:4:5:6\n            ^\n');
});

test('a missing program file is still a missing file, not a strange expression', () => {
  const r = spawnTsbpf(['filter', join(dir, 'nope.s'), mix]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `tsbpf: ${join(dir, 'nope.s')}: no such file (ENOENT)\n`);
  const bad = spawnTsbpf(['filter', 'tcp port', mix]);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'tsbpf: syntax error at column 9: unexpected end of expression (EINVAL)\n  tcp port\n          ^\n');
});
