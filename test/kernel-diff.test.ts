/**
 * Differential test against the host kernel: the same socket filter and
 * packet go to Linux (bpf(2) BPF_PROG_LOAD + BPF_PROG_TEST_RUN, through a
 * small C helper built here with cc) and to tsbpf; verdicts and results must
 * agree. The kernel strips a 14-byte Ethernet header before the filter sees
 * the data, so the helper prefixes each packet with 14 zero bytes. Skips,
 * with the reason, where there is no C compiler or bpf(2) is not allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import { parseVector, projectRoot } from './conformance-data.js';
import { randomSocketFilter } from './random-programs.js';
import { buildKernelHelper } from './kernel-helper.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const helper = buildKernelHelper();
const skip = helper.exe ? false : helper.why!;
if (skip) process.stderr.write(`kernel differential tests skipped: ${skip}\n`);

interface Case { name: string; insns: Uint8Array; packets: Uint8Array[]; src?: string }

/** Run cases in the kernel: per case, the load result and each packet's retval (or E errno). */
function kernelRun(cases: Case[]): string[][] {
  const input = cases.map((c) => [`P ${hex(c.insns)}`, ...c.packets.map((p) => `R ${hex(p)}`)].join('\n')).join('\n') + '\n';
  const r = spawnSync(helper.exe!, [], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = r.stdout.trim().split('\n');
  const out: string[][] = [];
  let i = 0;
  for (const c of cases) {
    out.push(lines.slice(i, i + 1 + c.packets.length));
    i += 1 + c.packets.length;
  }
  return out;
}

function tsbpfRun(c: Case): string[] {
  const sys = new BpfSystem();
  let fd: number;
  try {
    fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: c.insns, license: 'GPL' });
  } catch (e) {
    return [`E ${(e as { code: string }).code}`];
  }
  return ['L', ...c.packets.map((p) => `R ${Number(testRun(sys, fd, p).retval & 0xffffffffn)}`)];
}

test('socket-filter vectors agree with the host kernel', { skip }, () => {
  const dir = join(projectRoot(), 'test', 'socket-vectors');
  const cases: Case[] = [];
  for (const f of readdirSync(dir).sort()) {
    const v = parseVector(f, readFileSync(join(dir, f), 'utf8'));
    // SKF_NET_OFF / SKF_LL_OFF address headers the kernel's test run lays out differently
    if (/-\d{6,}/.test(v.asm)) continue;
    cases.push({ name: v.name, insns: encode(assemble(v.asm)), packets: [v.mem] });
  }
  assert.ok(cases.length >= 20);
  const k = kernelRun(cases);
  cases.forEach((c, i) => {
    const kernel = k[i]!.map((l) => l.replace(/^L \d+$/, 'L'));
    assert.deepEqual(tsbpfRun(c), kernel, c.name);
  });
});

test('random socket filters over random packets agree with the host kernel', { skip }, () => {
  let s = 0x2545f491;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const cases: Case[] = [];
  for (let i = 0; i < 300; i++) {
    const packets = Array.from({ length: 4 }, () => Uint8Array.from({ length: Math.floor(rnd() * 90) }, () => Math.floor(rnd() * 256)));
    const src = randomSocketFilter(rnd);
    cases.push({ name: `random ${i}`, insns: encode(assemble(src)), packets, src });
  }
  const k = kernelRun(cases);
  let compared = 0;
  cases.forEach((c, i) => {
    const kernel = k[i]!.map((l) => l.replace(/^L \d+$/, 'L'));
    assert.equal(kernel[0], 'L', `${c.name}: the kernel accepts it:\n${c.src}\n${kernel[0]}`);
    assert.deepEqual(tsbpfRun(c), kernel, `${c.name}:\n${c.src}`);
    compared += c.packets.length;
  });
  assert.equal(compared, 1200);
});
