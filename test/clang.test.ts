/**
 * clang's output verifies: test/c/port-filter.c compiled with
 * `clang -O2 -target bpf -mcpu=v1|v2|v3 -c`, its `socket1` section read with
 * our ELF reader, loaded as a socket filter through BPF_PROG_LOAD and run on
 * packets, on both engines. v3 uses JMP32 and 32-bit ALU throughout. Skips,
 * with the reason, where clang is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf } from '../src/elf/index.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

const probe = spawnSync('clang', ['--version'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'clang is not installed (apt-get install -y clang)';
if (skip) process.stderr.write(`clang tests skipped: ${skip}\n`);

function frame(proto: number, saddr: number, dport: number): Uint8Array {
  const f = new Uint8Array(54);
  f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, proto, 0, 0, saddr >>> 24, (saddr >>> 16) & 0xff, (saddr >>> 8) & 0xff, saddr & 0xff, 10, 0, 0, 2], 14);
  f.set([0x12, 0x34, dport >> 8, dport & 0xff], 34);
  return f;
}

// port-filter.c by hand: not IPv4 or not TCP/UDP → 0; source 10.x.x.x and dport < 1024 → -1 (as u32);
// otherwise 64 when dport % 7 == 3, else 0
const cases: [string, Uint8Array, bigint][] = [
  ['TCP from 10.0.0.1 to port 80', frame(6, 0x0a000001, 80), 0xffffffffn],
  ['UDP from 10.0.0.1 to port 53', frame(17, 0x0a000001, 53), 0xffffffffn],
  ['TCP from 192.168.0.1 to port 80 (80 % 7 = 3)', frame(6, 0xc0a80001, 80), 64n],
  ['TCP from 192.168.0.1 to port 81', frame(6, 0xc0a80001, 81), 0n],
  ['TCP from 10.0.0.1 to port 2000 (2000 % 7 = 5)', frame(6, 0x0a000001, 2000), 0n],
  ['TCP from 10.0.0.1 to port 1032 (1032 % 7 = 3)', frame(6, 0x0a000001, 1032), 64n],
  ['ICMP', frame(1, 0x0a000001, 80), 0n],
  ['ARP', Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x06, 0, 1), 0n],
];

for (const cpu of ['v1', 'v2', 'v3']) {
  test(`clang -mcpu=${cpu}: the object's socket1 program verifies and filters`, { skip }, () => {
    const out = join(tempDir('tsbpf-clang-'), `f-${cpu}.o`);
    const cc = spawnSync('clang', ['-O2', '-target', 'bpf', `-mcpu=${cpu}`, '-c', join(projectRoot(), 'test', 'c', 'port-filter.c'), '-o', out], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    const elf = parseElf(new Uint8Array(readFileSync(out)));
    const text = elf.sectionByName('socket1');
    assert.ok(text, 'the object has a socket1 section');
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: text.data(), license: 'GPL', log_level: 1, log_size: 1 << 20, log_buf: new Uint8Array(1 << 20) });
    const prog = sys.progOf(fd).prog;
    assert.equal(prog.verified, true);
    if (cpu === 'v3') assert.ok(prog.slots.some((s) => (s.code & 7) === 6), 'v3 output uses JMP32');
    for (const [name, pkt, want] of cases) {
      assert.equal(testRun(sys, fd, pkt, 1, 'jit').retval & 0xffffffffn, want, `${cpu} jit: ${name}`);
      assert.equal(testRun(sys, fd, pkt, 1, 'interpreter').retval & 0xffffffffn, want, `${cpu} interpreter: ${name}`);
    }
  });
}
