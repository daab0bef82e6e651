/**
 * Kernel differential test for variables set before load (issue 19 item
 * 5): test/c/vars.o's XDP program and socket filter run over every frame of
 * examples/sample.pcap by the host kernel (libbpf and BPF_PROG_TEST_RUN
 * through test/c/prog-run.c, each variable's bytes written into its
 * section's initial value before load with bpf_map__set_initial_value, as a
 * skeleton's `skel->rodata->port = 443` does) and by tsbpf (a Collection of
 * the spec after `spec.variables.x.set(...)`, under the modern profile).
 * The kernel side's bytes are written here by hand from the C layout, not
 * by tsbpf's encoder, so the test checks the encoding as well as the
 * behaviour: per frame the same verdict, and after all frames the same
 * .rodata, .data and .bss. Skips with its reason without cc, libbpf or bpf(2).
 * A todo compares the verifier's work with the kernel's (bpftool -d prog
 * loadall): the kernel reads frozen .rodata as constants, tsbpf not yet.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { setVariables } from '../src/loader/variables.js';
import { parseCapture } from '../src/pcap/reader.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const OBJ = join(projectRoot(), 'test', 'c', 'vars.o');
const PROGS = ['vars_xdp', 'vars_socket'];

function buildProgRun(): { exe?: string; why?: string } {
  const exe = join(tempDir('tsbpf-vars-run-'), 'prog-run');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(projectRoot(), 'test', 'c', 'prog-run.c'), '-lbpf'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `cannot build test/c/prog-run.c with cc and libbpf (${cc.error?.message ?? cc.stderr.trim().split('\n')[0]})` };
  const probe = spawnSync(exe, [OBJ, '.rodata:0:bb01'], { input: `R vars_xdp ${'00'.repeat(14)}\n`, encoding: 'utf8' });
  if (!/^C \d+\nR \d+ /.test(probe.stdout)) return { why: `BPF_PROG_LOAD / BPF_PROG_TEST_RUN of an XDP program is not available here (${probe.stdout.trim() || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const frames = (): Uint8Array[] => [...parseCapture(readFileSync(join(projectRoot(), 'examples', 'sample.pcap')))].map((p) => p.data.slice());

/**
 * Each case: the values tsbpf sets, and the same as bytes for the kernel
 * (SECTION:OFFSET:HEX, little-endian, from vars.c's layout: .rodata port@0
 * u16, drop_udp@2, mode@4 u32, limits@8 {u16, u16, u8}, allowed@14 u16[4],
 * tag@22 char[8], bias@32 s32; .data step@0 u32; .bss seen@0, matched@8 u64).
 */
const CASES: [string, Record<string, unknown>, string[]][] = [
  ['the initial values', {}, []],
  ['port 443', { port: 443 }, ['.rodata:0:bb01']],
  ['drop_udp, allowed ports', { drop_udp: true, allowed: [443, 53, 0, 0] }, ['.rodata:2:01', '.rodata:14:bb01350000000000']],
  ['mode MODE_PASS_ALL', { mode: 'MODE_PASS_ALL' }, ['.rodata:4:01000000']],
  ['mode 2 (MODE_DROP_ALL) by number, .data step and .bss seen', { mode: 2, step: 5, seen: 100n }, ['.rodata:4:02000000', '.data:0:05000000', '.bss:0:6400000000000000']],
  ['limits by length', { limits: { min_len: 60, max_len: 100, ttl_min: 0 } }, ['.rodata:8:3c00640000']],
  ['limits by TTL', { limits: { min_len: 14, max_len: 1514, ttl_min: 65 } }, ['.rodata:8:0e00ea0541']],
  ['tag, bias, step and matched', { tag: '!', bias: -5301, step: 3, matched: 1000n }, ['.rodata:22:2100000000000000', '.rodata:32:4bebffff', '.data:0:03000000', '.bss:8:e803000000000000']],
];

interface Outcome {
  runs: string[];
  maps: Record<string, string>;
}

function kernelSide(exe: string, patches: string[]): Outcome {
  const runs = PROGS.flatMap((p) => frames().map((f) => `R ${p} ${hex(f)}`));
  const r = spawnSync(exe, [OBJ, ...patches], { input: [...runs, 'D'].join('\n') + '\n', encoding: 'utf8' });
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^C \d+$/, `prog-run: ${r.stdout.slice(0, 200)}`);
  const out: Outcome = { runs: lines.slice(1, 1 + runs.length), maps: {} };
  let name = '';
  for (const l of lines.slice(1 + runs.length)) {
    // libbpf names global data maps after the object (vars.rodata); tsbpf by the section
    if (l.startsWith('M ')) name = l.split(' ')[1]!.replace(/^vars/, '');
    else if (l.startsWith('K ')) out.maps[name] = l.split(' ')[2]!;
  }
  return out;
}

function tsbpfSide(values: Record<string, unknown>): Outcome {
  const spec = loadCollectionSpec(readFileSync(OBJ));
  setVariables(spec.variables, values);
  const c = new Collection(new BpfSystem({ profile: 'modern' }), spec);
  const out: Outcome = { runs: [], maps: {} };
  for (const p of PROGS) {
    for (const f of frames()) {
      const r = c.programs[p]!.testRun(f);
      out.runs.push(`R ${BigInt.asUintN(32, r.retval)} ${hex(r.dataOut)}`);
    }
  }
  for (const [name, m] of Object.entries(c.maps)) out.maps[name] = hex(m.raw.lookup(new Uint8Array(4))!);
  c.close();
  return out;
}

const helper = buildProgRun();
const skip = helper.exe ? false : helper.why!;
if (skip) process.stderr.write(`variables kernel differential tests skipped: ${skip}\n`);

for (const [name, values, patches] of CASES) {
  test(`vars.o with ${name}: the host kernel's verdicts and global data`, { skip }, () => {
    const k = kernelSide(helper.exe!, patches);
    const t = tsbpfSide(values);
    t.runs.forEach((r, i) => assert.equal(r, k.runs[i], `${PROGS[Math.floor(i / 9)]}, frame ${i % 9}`));
    assert.deepEqual(t.maps, k.maps);
  });
}

/** The kernel's `processed N insns` for each program of vars.o, in load order (bpftool -d prog loadall), or why not. */
function kernelProcessed(): { counts?: number[]; why?: string } {
  const pin = `/sys/fs/bpf/tsbpf-vars-${process.pid}`;
  const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', OBJ, pin], { encoding: 'utf8', timeout: 60_000 });
  spawnSync('rm', ['-rf', pin]);
  if (r.error || r.status !== 0) return { why: `bpftool prog loadall is not available here (${r.error?.message ?? r.stderr.trim().split('\n').at(-1)})` };
  return { counts: [...r.stderr.matchAll(/^processed (\d+) insns/gm)].map((m) => Number(m[1])) };
}

const processed = skip ? { why: skip } : kernelProcessed();

// The kernel's verifier reads a frozen BPF_F_RDONLY_PROG map (libbpf's .rodata) as constants
// (`r5 = *(u32 *)(r4 +0) ; R5=0` for `mode`), so it never walks the branches the initial values
// rule out. tsbpf's Collection neither creates .rodata read-only nor freezes it, and the modern
// verifier reads any map value as unknown: it walks them all.
test('vars.o: the modern verifier walks as many instructions as the kernel (rodata-dependent branches pruned)', {
  skip: processed.why ?? false,
  todo: 'frozen .rodata is not read as constants by the modern verifier yet (kernel 251 processed insns for vars_xdp, tsbpf 448)',
}, () => {
  const c = new Collection(new BpfSystem({ profile: 'modern' }), loadCollectionSpec(readFileSync(OBJ)), { logLevel: 1 });
  const ours = PROGS.map((p) => Number(/^processed (\d+) insns/m.exec(c.programs[p]!.log)?.[1]));
  c.close();
  assert.deepEqual(ours, processed.counts);
});
