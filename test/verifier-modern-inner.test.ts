/**
 * Three things the modern verifier refused where the 6.18 kernel accepts
 * (issues 16 and 17): maps of maps (a lookup in an array or hash of maps
 * gives the inner map, map_ptr_or_null of its template, which a second
 * lookup takes), a callback whose state repeats from one run to the next
 * (not an infinite loop: the kernel's callback_unroll_depth), and a
 * callback adding to an unbounded sum in its caller's stack (the kernel
 * widens imprecise scalars after each run, so the runs converge). The
 * maps-of-maps verdicts, messages and processed counts are the host's
 * (6.18, privileged, log_level 1), taken with the same maps; the callback
 * programs are hand-built without BTF, which the host refuses
 * (`missing btf func_info`), so there tsbpf's verdicts stand alone (the
 * clang-built test/c/calls.o has the same shapes and is checked against
 * the host in test/calls.test.ts). Accepted programs run, verified and in
 * the checked interpreter, with the same results.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';

// ---- maps of maps ----

/**
 * The maps: 0 an array (4 elements of 4 bytes), the template; 1 an array of
 * maps (2) and 2 a hash of maps (4) over it; 3 an array of maps whose
 * template has BPF_F_INNER_MAP (inner maps of any size).
 */
function system(): { sys: BpfSystem; fds: number[] } {
  const sys = new BpfSystem({ profile: 'modern' });
  const mk = (attr: Record<string, number>): number => sys.bpf('BPF_MAP_CREATE', { key_size: 4, value_size: 4, ...attr }) as number;
  const inner = mk({ map_type: 2, max_entries: 4 });
  const free = mk({ map_type: 2, max_entries: 4, map_flags: 1 << 12 });
  return { sys, fds: [inner, mk({ map_type: 12, max_entries: 2, inner_map_fd: inner }), mk({ map_type: 13, max_entries: 4, inner_map_fd: inner }), mk({ map_type: 12, max_entries: 2, inner_map_fd: free })] };
}

interface Loaded {
  sys: BpfSystem;
  fds: number[];
  fd?: number;
  errno?: string;
  log: string[];
}

function load(src: string[], verify = true, level = 1): Loaded {
  const { sys, fds } = system();
  const insns = assemble(src.join('\n'));
  for (const i of insns) if (i.code === 0x18 && i.src === 1) i.imm = fds[i.imm]!;
  if (!verify) return { sys, fds, fd: sys.loadUnverified({ prog_type: 1, insns, license: 'GPL' }), log: [] };
  const buf = new Uint8Array(1 << 20);
  const text = (): string[] => new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))).trimEnd().split('\n');
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(insns), license: 'GPL', log_level: level, log_size: buf.length, log_buf: buf }) as number;
    return { sys, fds, fd, log: text() };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { sys, fds, errno: e.code, log: (e.log ?? '').trimEnd().split('\n') };
  }
}

const KEY0 = ['r1 = 0', '*(u32 *)(r10 -4) = r1', 'r2 = r10', 'r2 += -4'];
/** outer[0], then its element 0, read at `off` (0 when either is missing) */
const TWO_LOOKUPS = (outer: number, off = 0): string[] => [...KEY0, `r1 = map[fd:${outer}]`, 'call 1', 'if r0 == 0x0 goto pc+7', 'r1 = r0', 'r2 = r10', 'r2 += -4',
  'call 1', 'if r0 == 0x0 goto pc+2', `r0 = *(u32 *)(r0 +${off})`, 'exit', 'r0 = 0', 'exit'];
/** the same without the second null check: a constant key in range of an array */
const ELIDED = (outer: number): string[] => [...KEY0, `r1 = map[fd:${outer}]`, 'call 1', 'if r0 == 0x0 goto pc+6', 'r1 = r0', 'r2 = r10', 'r2 += -4',
  'call 1', 'r0 = *(u32 *)(r0 +0)', 'exit', 'r0 = 0', 'exit'];

const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);

/** the last lines of a log before the statistics line */
const before = (log: string[], n: number): string[] => log.slice(-1 - n, -1);

test('maps of maps: a lookup gives map_ptr_or_null of the inner template, and a second lookup takes it (the 6.18 host: 16 insns)', () => {
  for (const outer of [1, 2]) {
    const r = load(TWO_LOOKUPS(outer), true, 2);
    assert.equal(r.errno, undefined, r.log.join('\n'));
    assert.equal(r.log.at(-1), 'processed 16 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0');
    // the host's lines (log_level 2): the template has no name; key 0 is in range of the template array, never null
    assert.equal(r.log.find((l) => l.startsWith('6: (85)')), '6: (85) call bpf_map_lookup_elem#1    ; R0=map_ptr_or_null(id=1,ks=4,vs=4)');
    assert.equal(r.log.find((l) => l.startsWith('7: (15)')), '7: (15) if r0 == 0x0 goto pc+7        ; R0=map_ptr(ks=4,vs=4)');
    assert.equal(r.log.find((l) => l.startsWith('11: (85)')), '11: (85) call bpf_map_lookup_elem#1   ; R0=map_value(ks=4,vs=4)');
    // no inner map yet: 0; then inner[0] = 42 at the outer key 0
    assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 0n);
    r.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: r.fds[0]!, key: u32(0), value: u32(42) });
    r.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: r.fds[outer]!, key: u32(0), value: u32(r.fds[0]!) });
    assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 42n);
    // the same instructions in the checked interpreter, where a bad access faults
    const u = load(TWO_LOOKUPS(outer), false);
    u.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: u.fds[0]!, key: u32(0), value: u32(42) });
    u.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: u.fds[outer]!, key: u32(0), value: u32(u.fds[0]!) });
    assert.equal(testRun(u.sys, u.fd!, new Uint8Array(20)).retval, 42n);
  }
});

test('maps of maps: what the 6.18 host refuses, with its messages', () => {
  const refused = (src: string[]): [string | undefined, string[]] => {
    const r = load(src);
    return [r.errno, before(r.log, 2)];
  };
  // the inner map, not null-checked: neither memory nor a map
  assert.deepEqual(refused([...KEY0, 'r1 = map[fd:1]', 'call 1', 'r0 = *(u32 *)(r0 +0)', 'exit']),
    ['EACCES', ['7: (61) r0 = *(u32 *)(r0 +0)', "R0 invalid mem access 'map_ptr_or_null'"]]);
  assert.deepEqual(refused([...KEY0, 'r1 = map[fd:1]', 'call 1', 'r1 = r0', 'r2 = r10', 'r2 += -4', 'call 1', 'r0 = 0', 'exit']),
    ['EACCES', ['10: (85) call bpf_map_lookup_elem#1', 'R1 type=map_ptr_or_null expected=map_ptr']]);
  // an inner map's value has the template's size
  assert.deepEqual(refused(TWO_LOOKUPS(1, 4)),
    ['EACCES', ['invalid access to map value, value_size=4 off=4 size=4', 'R0 min value is outside of the allowed memory range']]);
  // a program only looks a map of maps up
  assert.deepEqual(refused([...KEY0, '*(u32 *)(r10 -8) = r1', 'r1 = map[fd:1]', 'r3 = r10', 'r3 += -8', 'r4 = 0', 'call 2', 'r0 = 0', 'exit']),
    ['EINVAL', ['10: (85) call bpf_map_update_elem#2', 'cannot pass map_type 12 into func bpf_map_update_elem#2']]);
  assert.deepEqual(refused([...KEY0, 'r1 = map[fd:2]', 'r2 = r10', 'r2 += -4', 'call 3', 'r0 = 0', 'exit']),
    ['EINVAL', ['8: (85) call bpf_map_delete_elem#3', 'cannot pass map_type 13 into func bpf_map_delete_elem#3']]);
});

test('maps of maps: a constant key in range of the template array is never null (15 insns on the host), unless the template has BPF_F_INNER_MAP', () => {
  const r = load(ELIDED(1));
  assert.equal(r.errno, undefined, r.log.join('\n'));
  assert.equal(r.log.at(-1), 'processed 15 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0');
  r.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: r.fds[0]!, key: u32(0), value: u32(7) });
  r.sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: r.fds[1]!, key: u32(0), value: u32(r.fds[0]!) });
  assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 7n);
  // inner maps of any size: element 0 may be missing
  const f = load(ELIDED(3));
  assert.deepEqual([f.errno, before(f.log, 2)], ['EACCES', ['12: (61) r0 = *(u32 *)(r0 +0)', "R0 invalid mem access 'map_value_or_null'"]]);
});

test('maps of maps: the outer map and its inner template in one register are different states (the host refuses at the same insn, 35 insns)', () => {
  // r6 is the outer map on the first path, the inner one (r7) on the second; the second lookup's result goes to a
  // third lookup: a map (the inner one) on the first path, a map value on the second. Were the two r6 the same
  // state at the join (insn 14), the second path would be pruned there and the program accepted.
  const r = load(['r9 = r1', ...KEY0, 'r1 = map[fd:1]', 'call 1', 'if r0 == 0x0 goto pc+14', 'r7 = r0', 'r6 = map[fd:1]', 'r2 = *(u32 *)(r9 +0)',
    'if r2 > 0x10 goto pc+11', 'r1 = r6', 'r2 = r10', 'r2 += -4', 'call 1', 'if r0 == 0x0 goto pc+4', 'r1 = r0', 'r2 = r10', 'r2 += -4', 'call 1',
    'r0 = 0', 'exit', 'r6 = r7', 'goto pc-13']);
  assert.deepEqual([r.errno, before(r.log, 2)], ['EACCES', ['22: (85) call bpf_map_lookup_elem#1', 'R1 type=map_value expected=map_ptr']]);
  assert.match(r.log.at(-1)!, /^processed 35 insns /);
});

// ---- callbacks ----

/** `src` with `rN = func[pc+K]` lines as BPF_PSEUDO_FUNC ld_imm64 instructions (as in verifier-modern.test.ts). */
function withFuncs(src: string): ReturnType<typeof assemble> {
  const rel: number[] = [];
  const insns = assemble(src.replace(/^(r\d) = func\[pc\+(\d+)\]$/gm, (_, r: string, k: string) => { rel.push(Number(k)); return `${r} = map[fd:999]`; }));
  let n = 0;
  for (const i of insns) if (i.code === 0x18 && i.src === 1 && i.imm === 999) { i.src = 4; i.imm = rel[n++]!; }
  for (const i of insns) if (i.code === 0x18 && i.src === 1) i.imm = 0;
  return insns;
}

/** Loads with an array (4 elements of 4 bytes) as map[fd:0]; the verified program, or the errno and the log's error line. */
function loadCb(src: string, verify = true): { sys: BpfSystem; map: number; fd?: number; errno?: string; line?: string } {
  const sys = new BpfSystem({ profile: 'modern' });
  const map = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 4, max_entries: 4 }) as number;
  const insns = withFuncs(src);
  for (const i of insns) if (i.code === 0x18 && i.src === 1) i.imm = map;
  if (!verify) return { sys, map, fd: sys.loadUnverified({ prog_type: 1, insns, license: 'GPL' }) };
  const buf = new Uint8Array(1 << 20);
  try {
    return { sys, map, fd: sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(insns), license: 'GPL', log_level: 1, log_size: buf.length, log_buf: buf }) as number };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { sys, map, errno: e.code, line: before((e.log ?? '').trimEnd().split('\n'), 1)[0]! };
  }
}

// bpf_for_each_map_elem over the array: the callback returns 1 (stop) past key 1, each run like the one before
const EACH = `*(u64 *)(r10 -8) = 0
r1 = map[fd:0]
r2 = func[pc+6]
r3 = r10
r3 += -8
r4 = 0
call 164
exit
r1 = *(u32 *)(r2 +0)
r0 = 1
if r1 > 0x1 goto pc+1
r0 = 0
exit`;

test('callbacks: bpf_for_each_map_elem runs whose states repeat are accepted and visit keys 0-2', () => {
  const r = loadCb(EACH);
  assert.equal(r.errno, undefined, r.line);
  assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 3n);
  const u = loadCb(EACH, false);
  assert.equal(testRun(u.sys, u.fd!, new Uint8Array(20)).retval, 3n);
});

// calls.o's xdp_each as it was with 16-bit sums (clang 14's callback): the second run's state at the branch
// (insn 27) repeats the first's exactly while that one is still being explored; a later run of a callback is
// no loop (callback_unroll_depth), where tsbpf said `infinite loop detected at insn 27`
const EACH16 = `*(u32 *)(r10 -16) = 0
*(u64 *)(r10 -8) = 0
r3 = r10
r3 += -16
r1 = map[fd:0]
r2 = func[pc+5]
r4 = 0
call 164
r0 = *(u64 *)(r10 -8)
exit
r1 = *(u64 *)(r4 +8)
r5 = *(u32 *)(r3 +0)
r0 = r5
r0 *= 10
r1 += r0
r0 = *(u32 *)(r2 +0)
r1 += r0
r1 &= 65535
*(u64 *)(r4 +8) = r1
r1 = *(u32 *)(r4 +0)
r1 += r5
r1 &= 255
*(u32 *)(r3 +0) = r1
r1 = *(u32 *)(r2 +0)
r0 = 1
if r1 > 0x1 goto pc+1
r0 = 0
exit`;

test('callbacks: a run whose state repeats the run before, still being explored, is not an infinite loop (calls.o\'s old xdp_each)', () => {
  const r = loadCb(EACH16);
  assert.equal(r.errno, undefined, r.line);
  // keys 0, 1, 2 summed (the values are 0)
  assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 3n);
  const u = loadCb(EACH16, false);
  assert.equal(testRun(u.sys, u.fd!, new Uint8Array(20)).retval, 3n);
});

// bpf_loop(n): the callback adds 1 to the caller's fp-8 each run; the caller returns the count
const COUNT = (n: number, after = ''): string => `*(u64 *)(r10 -8) = 0
r1 = ${n}
r2 = func[pc+${7 + after.split('\n').filter((l) => l).length}]
r3 = r10
r3 += -8
r4 = 0
call 181
${after}r0 = *(u64 *)(r10 -8)
exit
r3 = *(u64 *)(r2 +0)
r3 += 1
*(u64 *)(r2 +0) = r3
r0 = 0
exit`;

test('callbacks: a count in the caller\'s stack (0, 1, 2...: never the same state) converges once widened after a run', () => {
  for (const n of [4, 100, 10000]) {
    const r = loadCb(COUNT(n));
    assert.equal(r.errno, undefined, r.line);
    assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, BigInt(n));
    const u = loadCb(COUNT(n), false);
    assert.equal(testRun(u.sys, u.fd!, new Uint8Array(20)).retval, BigInt(n));
  }
  // widened is forgotten: the caller may not assume the count is 0, or any other number
  for (const v of [0, 3]) {
    const r = loadCb(COUNT(4, `r1 = *(u64 *)(r10 -8)\nif r1 != 0x${v} goto pc+1\nr0 = *(u8 *)(r9 +0)\n`));
    assert.deepEqual([r.errno, r.line], ['EACCES', 'R9 !read_ok']);
  }
});

test('callbacks: a counter the callback uses as a stack offset: accepted while the writes stay in the frame, refused one step past it, and bpf_loop\'s count bounds the runs', () => {
  // the callback writes a byte at fp-24 + (fp-8) and steps fp-8 by 8 until it passes `limit`; bpf_loop(n)
  const src = (limit: number, n = 2): string => `*(u64 *)(r10 -8) = 0
*(u64 *)(r10 -16) = 0
*(u64 *)(r10 -24) = 0
r1 = ${n}
r2 = func[pc+7]
r3 = r10
r3 += -8
r4 = 0
call 181
r0 = *(u64 *)(r10 -16)
exit
r3 = *(u64 *)(r2 +0)
if r3 > ${limit} goto pc+7
r4 = r2
r4 += -16
r4 += r3
r5 = 1
*(u8 *)(r4 +0) = r5
r3 += 8
*(u64 *)(r2 +0) = r3
r0 = 0
exit`;
  const r = loadCb(src(8));
  assert.equal(r.errno, undefined, r.line);
  // the second run wrote fp-16's first byte
  assert.equal(testRun(r.sys, r.fd!, new Uint8Array(20)).retval, 1n);
  const u = loadCb(src(8), false);
  assert.equal(testRun(u.sys, u.fd!, new Uint8Array(20)).retval, 1n);
  // up to 24: the write at fp-24 + 24 is past the frame, which a fourth run would reach: bpf_loop(4) is refused,
  // bpf_loop(2) and (3) accepted (their runs stop first); the 6.18 host (with BTF func info for the callback) gives
  // the same verdicts, message and processed counts: 39, 53, 60 insns
  const four = loadCb(src(24, 4));
  assert.deepEqual([four.errno, four.line], ['EACCES', 'invalid write to stack R4 off=0 size=1']);
  for (const n of [2, 3]) assert.equal(loadCb(src(24, n)).errno, undefined);
});
