/**
 * Precision carried back from a pruned state (the modern profile,
 * a16-prec). When the walk meets a state equal to a checkpoint, the
 * checkpoint's precise registers must be precise in the current path's own
 * checkpoints too, and the walk back starts at the pruned instruction: the
 * 6.18 kernel sets the state's insn_idx to it (do_check), records it in the
 * jump history when it is a jump point (is_state_visited, before
 * propagate_precision) and __mark_chain_precision skips only that first
 * instruction, so the one before it (`r2 = r1` here) is backtracked and r1
 * becomes precise in the checkpoint before. tsbpf started the walk one
 * instruction earlier and skipped `r2 = r1` itself: r2 went up the chain
 * instead of r1, and a checkpoint with an imprecise r1 pruned a path whose
 * r1 put a stack store 1000 bytes past the frame (accepted; the checked
 * interpreter faults on it). The level-2 lines of the propagation are the
 * 6.18 host's, recorded here and, where bpf(2) is allowed, compared live.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import { tempDir } from './tmp.js';
import { fuzz } from './fuzz/soundness.js';
import { modernTarget } from './fuzz/modern.js';

/** The shape: X reaches the store with r2 = 3 (precise there), Y and Z join at 11/12 and copy r1 into r2 right before it. */
const head = [
  'r7 = *(u32 *)(r1 +0)', // skb->len
  'r0 = r10',
  'r0 += -16',
  'r1 = 3',
  'if r7 > 5 goto pc+8', // Z, walked last
  'if r7 > 2 goto pc+8', // Y
];

/** The host prunes Y at 20 (`20: safe`): the propagation's lines are compared. */
const JOIN = [
  ...head,
  'r2 = 3', 'r5 = 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'goto pc+7',
  'r1 = 1000', // Z: r1 = 1000 falls into Y's code
  'r5 = 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1',
  'r2 = r1',
  'r0 += r2', // 20: the store's address, r2 precise
  'r3 = 0',
  '*(u8 *)(r0 +0) = r3',
  'if r7 > 1 goto pc+7', 'r3 += 1', 'r3 += 1', 'r3 += 1', 'r3 += 1', 'r3 += 1', 'r0 = 0', 'exit', 'r0 = 1', 'exit',
].join('\n');

/** Two registers precise at once (the kernel's one walk with both, `frame 0: propagating r2,r4`). */
const JOIN2 = JOIN.replace('r2 = 3\nr5 = 1', 'r2 = 3\nr4 = 2').replace('r5 += 1\nr5 += 1\nr5 += 1\nr5 += 1\ngoto', 'r5 = 1\nr5 += 1\nr5 += 1\nr5 += 1\ngoto')
  .replace('r1 = 1000\nr5 = 1', 'r1 = 1000\nr4 = 2').replace('r4 = 2\nr5 += 1', 'r4 = 2\nr5 = 1').replace('r0 += r2\n', 'r0 += r2\nr0 += r4\n');

/** The copy through the stack: a spilled precise scalar (`frame 0: propagating fp-8`). */
const JOIN_SPILL = JOIN.replace('r2 = 3\nr5 = 1', 'r2 = 3\n*(u64 *)(r10 -8) = r2').replace('*(u64 *)(r10 -8) = r2\nr5 += 1', '*(u64 *)(r10 -8) = r2\nr5 = 1')
  .replace('r2 = r1\nr0 += r2', '*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\nr0 += r2');

/**
 * Accepted before the fix: tsbpf's checkpoint at 21 (Y's, where Z joins)
 * kept r1 imprecise, and Z (r1 = 1000) was pruned there.
 */
const UNSAFE = [
  'r7 = *(u32 *)(r1 +0)', 'r8 = *(u32 *)(r1 +8)', 'r0 = r10', 'r0 += -16', 'r1 = 3',
  'if r7 > 5 goto pc+5', 'if r7 > 2 goto pc+6', 'r2 = 3', 'if r7 == 0 goto pc+14', 'r0 = 0', 'exit',
  'r1 = 1000', 'goto pc+8', // Z
  'r5 = 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', 'r5 += 1', // Y
  'r5 = 9', // 21: where Z joins
  'r2 = r1',
  'r0 += r2', // 23
  'r3 = 0', '*(u8 *)(r0 +0) = r3', 'if r8 > 1 goto pc+2', 'r0 = 0', 'exit', 'r0 = 1', 'exit',
].join('\n');

interface Outcome { ok: boolean; errno?: string; message?: string; log: string }

function load(src: string, level: number): Outcome {
  const sys = new BpfSystem({ profile: 'modern' });
  const buf = new Uint8Array(1 << 20);
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(assemble(src)), license: 'GPL', log_level: level, log_size: buf.length, log_buf: buf });
    return { ok: true, log: sys.progOf(fd as number).prog.log };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { ok: false, errno: e.code, message: e.message, log: e.log ?? '' };
  }
}

/** The lines from `frame 0: propagating` to the `N: safe` that follows. */
function propagation(log: string | readonly string[]): string[] {
  const lines = typeof log === 'string' ? log.split('\n') : [...log];
  const at = lines.findIndex((l) => l.startsWith('frame 0: propagating'));
  if (at < 0) return [];
  const end = lines.findIndex((l, i) => i > at && / safe$/.test(l));
  return lines.slice(at, end + 1);
}

/** Walked back from the pruned 20, r1 (not r2) is what reaches the checkpoint at 0 (the 6.18 host's lines). */
const HOST_JOIN = [
  'frame 0: propagating r2',
  'mark_precise: frame0: last_idx 20 first_idx 0 subseq_idx -1 ',
  'mark_precise: frame0: regs=r2 stack= before 19: (bf) r2 = r1',
  'mark_precise: frame0: regs=r1 stack= before 18: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 17: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 16: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 15: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 14: (b7) r5 = 1',
  'mark_precise: frame0: regs=r1 stack= before 5: (25) if r7 > 0x2 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 4: (25) if r7 > 0x5 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 3: (b7) r1 = 3',
  '20: safe',
];
const HOST_JOIN2 = [
  'frame 0: propagating r2,r4',
  'mark_precise: frame0: last_idx 20 first_idx 0 subseq_idx -1 ',
  'mark_precise: frame0: regs=r2,r4 stack= before 19: (bf) r2 = r1',
  'mark_precise: frame0: regs=r1,r4 stack= before 18: (07) r5 += 1',
  'mark_precise: frame0: regs=r1,r4 stack= before 17: (07) r5 += 1',
  'mark_precise: frame0: regs=r1,r4 stack= before 16: (07) r5 += 1',
  'mark_precise: frame0: regs=r1,r4 stack= before 15: (b7) r5 = 1',
  'mark_precise: frame0: regs=r1,r4 stack= before 14: (b7) r4 = 2',
  'mark_precise: frame0: regs=r1 stack= before 5: (25) if r7 > 0x2 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 4: (25) if r7 > 0x5 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 3: (b7) r1 = 3',
  '20: safe',
];
const HOST_JOIN_SPILL = [
  'frame 0: propagating fp-8',
  'mark_precise: frame0: last_idx 20 first_idx 0 subseq_idx -1 ',
  'mark_precise: frame0: regs= stack=-8 before 19: (7b) *(u64 *)(r10 -8) = r1',
  'mark_precise: frame0: regs=r1 stack= before 18: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 17: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 16: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 15: (07) r5 += 1',
  'mark_precise: frame0: regs=r1 stack= before 14: (b7) r5 = 1',
  'mark_precise: frame0: regs=r1 stack= before 5: (25) if r7 > 0x2 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 4: (25) if r7 > 0x5 goto pc+8',
  'mark_precise: frame0: regs=r1 stack= before 3: (b7) r1 = 3',
  '20: safe',
];

/** name, program, the host's propagation lines, the error (Z's store, as the host says it) */
const CASES: [string, string, string[], string][] = [
  ['a register copy', JOIN, HOST_JOIN, 'insn 22: invalid write to stack R0 off=984 size=1'],
  ['two registers', JOIN2, HOST_JOIN2, 'insn 23: invalid write to stack R0 off=986 size=1'],
  ['a spill', JOIN_SPILL, HOST_JOIN_SPILL, 'insn 23: invalid write to stack R0 off=984 size=1'],
];

for (const [name, src, host, error] of CASES) {
  test(`modern precision at a prune point (${name}): the level-2 lines are the 6.18 host's, and Z is refused as there`, () => {
    const r = load(src, 2);
    assert.deepEqual(propagation(r.log), host);
    assert.equal(r.errno, 'EACCES');
    assert.equal(r.message, error);
  });
}

test('modern precision at a prune point: the path joining a checkpoint with r1 = 1000 is walked, not pruned, and refused', () => {
  const r = load(UNSAFE, 2);
  assert.equal(r.errno, 'EACCES');
  assert.equal(r.message, 'insn 25: invalid write to stack R0 off=984 size=1');
  const lines = r.log.split('\n');
  // Y pruned at 23: r1 (through `r2 = r1`) marked precise in the checkpoint at 21, Z's join
  const at = lines.indexOf('frame 0: propagating r2');
  assert.deepEqual(lines.slice(at, at + 5), [
    'frame 0: propagating r2',
    'mark_precise: frame0: last_idx 23 first_idx 21 subseq_idx -1 ',
    'mark_precise: frame0: regs=r2 stack= before 22: (bf) r2 = r1',
    'mark_precise: frame0: regs=r1 stack= before 21: (b7) r5 = 9',
    'mark_precise: frame0: parent state regs=r1 stack=:  R0=fp-16 R1=P3 R5=8 R7=scalar(smin=umin=smin32=umin32=3,smax=umax=smax32=umax32=5,var_off=(0x0; 0x7)) R8=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0',
  ]);
  assert.equal(lines.includes('23: safe'), true);
  assert.equal(lines.includes('21: safe'), false);
  // the error at level 1 as well
  assert.equal(load(UNSAFE, 1).message, 'insn 25: invalid write to stack R0 off=984 size=1');
});

test('modern precision at a prune point: the refused program is unsafe (the checked interpreter faults on it, loaded unverified)', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const fd = sys.loadUnverified({ prog_type: 1, insns: encode(assemble(UNSAFE)), license: 'GPL' });
  // any frame has len >= 14 > 5: the path with r1 = 1000
  assert.throws(() => testRun(sys, fd, new Uint8Array(64), 1, 'interpreter'), (e: BpfError) => {
    assert.equal(e.code, 'EFAULT');
    assert.match(e.message, /^pc 25: invalid write of 1 byte at 0x[0-9a-f]+: outside any region the program may access$/);
    return true;
  });
});

// ---- the fuzzer's shape ----

test('modern precision at a prune point: the soundness fuzzer with pruneJoin blocks (seed 6, 200 programs) finds nothing', () => {
  // before the fix this slice had one unsound acceptance (a store at fp+0 from pc 64, the checked interpreter's fault)
  const r = fuzz(6, 200, Infinity, modernTarget({ joins: true }));
  assert.equal(r.generated, 200);
  assert.deepEqual(r.problems, []);
  assert.equal(r.accepted, 87);
  assert.equal(r.addressDependent, 0);
  assert.equal(r.unverified, 27);
  assert.equal(r.unverifiedRuns, 324);
});

// ---- the host kernel ----

/** A socket filter loader printing the whole level-2 log (the bench's runners keep the last lines only). */
const LOADER_C = `#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static char log[1 << 22], line[1 << 16];
static unsigned char buf[1 << 15];
int main(void) {
  while (fgets(line, sizeof line, stdin)) {
    union bpf_attr a; memset(&a, 0, sizeof a);
    int n = 0; unsigned v; char *s = line;
    while (s[0] && s[1] && s[0] != '\\n' && sscanf(s, "%2x", &v) == 1) { buf[n++] = v; s += 2; }
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER; a.insns = (uint64_t)(uintptr_t)buf; a.insn_cnt = n / 8;
    a.license = (uint64_t)(uintptr_t)"GPL"; a.log_buf = (uint64_t)(uintptr_t)log; a.log_size = sizeof log; a.log_level = 2;
    log[0] = 0;
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    printf("== %d\\n%s\\n", fd < 0 ? errno : 0, log);
    if (fd >= 0) close(fd);
  }
  return 0;
}
`;

function buildLoader(): { exe?: string; why?: string } {
  const dir = tempDir('tsbpf-precision-');
  writeFileSync(join(dir, 'load.c'), LOADER_C);
  const exe = join(dir, 'load');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(dir, 'load.c')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `no C compiler (${cc.error?.message ?? cc.stderr.trim()})` };
  const probe = spawnSync(exe, [], { input: 'b7000000000000009500000000000000\n', encoding: 'utf8' });
  if (!probe.stdout.startsWith('== 0\n')) return { why: `bpf(2) is not available here (${probe.stdout.split('\n')[0] || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const loader = buildLoader();
if (loader.why) process.stderr.write(`modern precision host comparison skipped: ${loader.why}\n`);

test('modern precision at a prune point: the host prints the same propagation lines and refuses the same programs', { skip: loader.exe ? false : loader.why! }, () => {
  const progs = [...CASES.map(([, src]) => src), UNSAFE];
  const out = spawnSync(loader.exe!, [], { input: progs.map((src) => Buffer.from(encode(assemble(src))).toString('hex')).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
  const results = out.split(/^== /m).slice(1);
  assert.equal(results.length, progs.length);
  CASES.forEach(([name, , host, error], i) => {
    assert.equal(results[i]!.slice(0, 3), '13\n', name);
    assert.deepEqual(propagation(results[i]!), host, name);
    assert.equal(results[i]!.includes(`\n${error.replace(/^insn \d+: /, '')}\n`), true, name);
  });
  const u = results[CASES.length]!;
  assert.equal(u.slice(0, 3), '13\n');
  assert.equal(u.includes('\ninvalid write to stack R0 off=984 size=1\n'), true);
});
