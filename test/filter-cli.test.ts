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

test('run, verify and disasm take an expression wherever they take PROG (an argument that is not a file, or -e)', () => {
  // run --pcap: compiled for the capture's link type, the same packets as filter accepts
  const r = spawnTsbpf(['run', 'tcp[tcpflags] & tcp-syn != 0', '--pcap', mix, '--json', '--retvals']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).retvals, [262144, 262144, 0, 262144, 0]);
  const rawFile = join(dir, 'raw-run.pcap');
  writeFileSync(rawFile, writePcap(MIX.map((f, i) => ({ data: f.subarray(14), tsNs: BigInt(i) })), 101));
  assert.deepEqual(JSON.parse(spawnTsbpf(['run', '-e', 'tcp port 80', '--pcap', rawFile, '--json', '--retvals']).stdout).retvals, [262144, 262144, 0, 0, 262144]);
  // run --data: Ethernet unless --linktype (or --link raw) says otherwise
  const udp = Buffer.from(MIX[2]!).toString('hex');
  assert.equal(JSON.parse(spawnTsbpf(['run', 'udp port 53', '--data', udp, '--json']).stdout).retval, 262144);
  assert.equal(JSON.parse(spawnTsbpf(['run', 'udp port 53', '--data', udp.slice(28), '--json']).stdout).retval, 0);
  assert.equal(JSON.parse(spawnTsbpf(['run', 'udp port 53', '--data', udp.slice(28), '--link', 'raw', '--json']).stdout).retval, 262144);
  assert.equal(JSON.parse(spawnTsbpf(['run', 'udp port 53', '--data', udp.slice(28), '--linktype', 'raw', '--json']).stdout).retval, 262144);
  // verify: the verifier's log of the eBPF the expression compiles to
  const v = spawnTsbpf(['verify', '-e', 'ip', '--linktype', 'raw', '--json']);
  assert.equal(v.status, 0, v.stderr);
  assert.deepEqual(JSON.parse(v.stdout), {
    accepted: true,
    code: null,
    log: '0: (bf) r6 = r1\n1: (30) r0 = *(u8 *)skb[0]\n2: (54) (u32) r0 &= (u32) 240\n3: (15) if r0 == 0x40 goto pc+2\n R0=inv R6=ctx R10=fp\n'
      + '4: (b4) (u32) r0 = (u32) 0\n5: (95) exit\n\nfrom 3 to 6: R0=imm64 R6=ctx R10=fp\n6: (b4) (u32) r0 = (u32) 262144\n7: (95) exit\n',
  });
  const tp = spawnTsbpf(['verify', 'tcp port 80']);
  assert.equal(tp.status, 0, tp.stderr);
  assert.ok(tp.stdout.endsWith('\naccepted: 28 instructions\n'), tp.stdout);
  // disasm: the classic program, then the eBPF it compiles to
  const d = spawnTsbpf(['disasm', 'ip', '--linktype', 'raw']);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, [
    'classic BPF (tcpdump -d):', '(000) ldb      [0]', '(001) and      #0xf0', '(002) jeq      #0x40            jt 3\tjf 4',
    '(003) ret      #262144', '(004) ret      #0', '', 'eBPF:', '0: (bf) r6 = r1', '1: (30) r0 = *(u8 *)skb[0]',
    '2: (54) (u32) r0 &= (u32) 240', '3: (15) if r0 == 0x40 goto pc+2', '4: (b4) (u32) r0 = (u32) 0', '5: (95) exit',
    '6: (b4) (u32) r0 = (u32) 262144', '7: (95) exit', '',
  ].join('\n'));
  const dj = JSON.parse(spawnTsbpf(['disasm', '-e', 'ip', '--json']).stdout);
  assert.deepEqual(dj.classic.map((c: { text: string }) => c.text), ['ldh [12]', 'jeq #0x800 jt 2 jf 3', 'ret #262144', 'ret #0']);
  assert.equal(dj.insns.length, 7);
});

test('run, verify, disasm: -e over a file of that name, and the mistakes of a program argument', () => {
  const named = join(dir, 'ip');
  writeFileSync(named, 'r0 = 7\nexit\n');
  // a file is read as a program; with -e the argument is an expression (over no data: a load past the end, 0)
  assert.equal(JSON.parse(spawnTsbpf(['run', named, '--json']).stdout).retval, 7);
  assert.equal(JSON.parse(spawnTsbpf(['run', '-e', 'ip', '--json']).stdout).retval, 0);
  assert.equal(JSON.parse(spawnTsbpf(['run', '-e', 'ip', '--json', '--data', Buffer.from(MIX[0]!).toString('hex')]).stdout).retval, 262144);
  const usage = (cmd: string, args: string[]): string => spawnTsbpf([cmd, ...args]).stderr;
  assert.equal(usage('run', ['-e', 'ip', named]), `tsbpf: run: -e gives the program, so '${named}' is one argument too many (usage: tsbpf run PROG [--data HEX | --data-file FILE | --pcap CAPTURE] [--repeat N] [--json]) (EINVAL)\n`);
  assert.equal(usage('verify', []), 'tsbpf: verify: missing PROG (usage: tsbpf verify PROG [--log-level 0|1|2] [--json]) (EINVAL)\n');
  assert.equal(usage('disasm', []), 'tsbpf: disasm: missing PROG (usage: tsbpf disasm PROG [--section NAME] [--json]) (EINVAL)\n');
  assert.equal(usage('verify', [named, '--linktype', 'raw']), 'tsbpf: --linktype applies to an expression, not a program file (EINVAL)\n');
  assert.equal(usage('disasm', ['tcp port 80', '--section', 'x']), 'tsbpf: --section applies to a program file, not an expression (EINVAL)\n');
  assert.equal(usage('run', ['-e', 'ip', '--cbpf']), 'tsbpf: --cbpf applies to a program file, not an expression (EINVAL)\n');
  assert.equal(usage('verify', [join(dir, 'nope.o')]), `tsbpf: ${join(dir, 'nope.o')}: no such file (ENOENT)\n`);
  assert.equal(usage('disasm', ['tcp port']), 'tsbpf: syntax error at column 9: unexpected end of expression (EINVAL)\n  tcp port\n          ^\n');
  assert.equal(usage('run', ['vlan', '--linktype', 'raw']), 'tsbpf: no VLAN support for raw (at column 1) (EINVAL)\n  vlan\n  ^\n');
  assert.equal(usage('verify', ['ip', '--linktype', 'fddi']), "tsbpf: unknown link type 'fddi' (supported: ethernet, raw, ipv4, ipv6, linux_sll, linux_sll2, null, loop) (EINVAL)\n");
  assert.equal(spawnTsbpf(['verify', 'ip', '--linktype', 'fddi']).status, 2);
});

test('an expression under --profile modern is refused where it would run (its offsets count from the frame), verified where it is only judged', () => {
  const msg = 'tsbpf: an expression runs over the whole frame, as tcpdump runs it: --profile modern gives a socket filter the data after the Ethernet header (verify takes --profile modern) (EINVAL)\n';
  const f = spawnTsbpf(['filter', 'tcp port 80', mix, '--profile', 'modern', '--count']);
  assert.equal(f.stderr, msg);
  assert.equal(f.status, 2);
  const r = spawnTsbpf(['run', 'udp', '--pcap', mix, '--profile', 'modern']);
  assert.equal(r.stderr, msg);
  assert.equal(r.status, 2);
  const v = spawnTsbpf(['verify', 'tcp port 80', '--profile', 'modern']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout, 'processed 37 insns (limit 1000000) max_states_per_insn 0 total_states 7 peak_states 7 mark_read 0\naccepted: 28 instructions (modern profile)\n');
  const set = spawnTsbpf(['verify', 'tcp port 80', '--set', 'port=1']);
  assert.equal(set.stderr, 'tsbpf: --set applies to the variables of an object file, not to an expression (EINVAL)\n');
});
