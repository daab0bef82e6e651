/**
 * The modern runtime's containment fuzzer (test/fuzz/modern-runtime.ts) on
 * a fixed corpus, and the reproducers of what it found: each a program or
 * a syscall that broke containment or the instruction budget before its fix.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble } from '../src/isa/index.js';
import type { Instruction } from '../src/isa/instruction.js';
import { NULL_PAGE_END } from '../src/memory/address-space.js';
import { fuzzModern } from './fuzz/modern-runtime.js';
import { expectErr } from './expect-error.js';

const modern = (): BpfSystem => new BpfSystem({ profile: 'modern' });
const nullPage = (sys: BpfSystem): number[] => [...sys.runtime.mem.u8.subarray(0, NULL_PAGE_END).keys()].filter((i) => sys.runtime.mem.u8[i] !== 0 && (i < NULL_PAGE_END - 8 || i >= NULL_PAGE_END - 4));
const pseudoFunc = (dst: number, rel: number): Instruction => ({ code: 0x18, dst, src: 4, off: 0, imm: rel, imm2: 0 } as unknown as Instruction);

test('finding: BPF_MAP_UPDATE_ELEM and LOOKUP_ELEM of a queue (no key) stage the value in memory of their own, not at address 1', () => {
  const sys = modern();
  for (const type of [22, 23]) {
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: type, key_size: 0, value_size: 8, max_entries: 2 });
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), flags: 0 });
    assert.deepEqual(nullPage(sys), []);
    const out = new Uint8Array(8);
    sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, value: out });
    assert.deepEqual([...out], [1, 2, 3, 4, 5, 6, 7, 8]);
    sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, value: out });
    assert.deepEqual(nullPage(sys), []);
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, value: out }), 'ENOENT', 'no such key');
  }
});

test('finding: bpf_loop called through callx counts its callbacks against the run\'s budget', () => {
  const sys = modern();
  sys.unverifiedBudget = 1000;
  // a helper call first (the budget it saw went stale), 600 instructions of loop, then 150 callbacks of 5 through callx
  const insns = [
    ...assemble(`call 7
      r8 = 300
      r8 -= 1
      if r8 != 0x0 goto pc-2
      r1 = 150`),
    pseudoFunc(2, 6),
    ...assemble(`r3 = 0
      r4 = 0
      r5 = 181
      callx r5
      exit
      r0 = 0
      r0 += 1
      r0 += 1
      r0 = 0
      exit`),
  ];
  const fd = sys.loadUnverified({ prog_type: 6, insns, license: 'GPL' });
  expectErr(() => testRun(sys, fd, new Uint8Array(60)), 'E2BIG', 'instruction budget of 1000 exceeded');
  sys.unverifiedBudget = 2000;
  const fd2 = sys.loadUnverified({ prog_type: 6, insns, license: 'GPL' });
  assert.equal(testRun(sys, fd2, new Uint8Array(60)).retval, 150n);
  // 1 + 1 + 600 + 1 + 2 + 4 + 150 * 5 + 1
  assert.equal(sys.progOf(fd2).prog.interpreter.executed, 1360);
});

test('finding: a chain of tail calls runs within one budget, not one per program', () => {
  const sys = modern();
  sys.unverifiedBudget = 1000;
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 1 });
  const self = `r8 = 300
    r8 -= 1
    if r8 != 0x0 goto pc-2
    r2 = map[fd:${pa}]
    r3 = 0
    call 12
    r0 = 5
    exit`;
  const fd = sys.loadUnverified({ prog_type: 6, insns: assemble(self), license: 'GPL' });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([fd, 0, 0, 0]) });
  // 34 runs of 606 instructions: the second one runs out of the budget
  expectErr(() => testRun(sys, fd, new Uint8Array(60)), 'E2BIG', 'pc 2: instruction budget of 1000 exceeded');
  // with room for all 34, the chain ends after 33 tail calls and returns 5
  sys.unverifiedBudget = 34 * 606;
  const fd2 = sys.loadUnverified({ prog_type: 6, insns: assemble(self), license: 'GPL' });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([fd2, 0, 0, 0]) });
  assert.equal(testRun(sys, fd2, new Uint8Array(60)).retval, 5n);
});

test('finding: a program looks up a map of maps and uses the inner map through the map helpers and its value', () => {
  const sys = modern();
  const inner = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 });
  const other = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 });
  for (const type of [12, 13]) {
    const outer = sys.bpf('BPF_MAP_CREATE', { map_type: type, key_size: 4, value_size: 4, max_entries: 2, inner_map_fd: inner });
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: outer, key: new Uint8Array(4), value: new Uint8Array([inner, 0, 0, 0]) });
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: inner, key: new Uint8Array([1, 0, 0, 0]), value: new Uint8Array([42, 0, 0, 0, 0, 0, 0, 0]) });
    // inner[1] += 1 through the value pointer, then the value read back
    const fd = sys.loadUnverified({ prog_type: 6, insns: assemble(`*(u32 *)(r10 -4) = 0
      r1 = map[fd:${outer}]
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0x0 goto pc+9
      r1 = r0
      *(u32 *)(r10 -4) = 1
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0x0 goto pc+4
      r1 = *(u64 *)(r0 +0)
      r1 += 1
      *(u64 *)(r0 +0) = r1
      r0 = r1
      exit`), license: 'GPL' });
    assert.equal(testRun(sys, fd, new Uint8Array(60)).retval, 43n);
    // the inner map's address as a constant: the program's while the outer map holds it, not after
    const addr = sys.mapOf(inner).impl.addr;
    const byAddr = sys.loadUnverified({ prog_type: 6, insns: assemble(`*(u32 *)(r10 -4) = 1
      r1 = map[fd:${outer}]
      r1 = 0x${addr.toString(16)} ll
      r2 = r10
      r2 += -4
      call 1
      r0 = *(u64 *)(r0 +0)
      exit`), license: 'GPL' });
    assert.equal(testRun(sys, byAddr, new Uint8Array(60)).retval, 43n);
    sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: outer, key: new Uint8Array(4) });
    expectErr(() => testRun(sys, byAddr, new Uint8Array(60)), 'EFAULT', `bpf_map_lookup_elem: r1 = 0x${addr.toString(16)} is not a map of this program`);
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: inner, key: new Uint8Array([1, 0, 0, 0]), value: new Uint8Array([42, 0, 0, 0, 0, 0, 0, 0]) });
  }
});

test('finding: a socket filter (read-only packet) calling bpf_skb_store_bytes or bpf_l3/l4_csum_replace gets EFAULT, its packet unchanged', () => {
  const sys = modern();
  const store = sys.loadUnverified({ prog_type: 1, insns: assemble(`*(u64 *)(r10 -8) = 65
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 4
    r5 = 0
    call 9
    r0 = *(u8 *)skb[0]
    exit`), license: 'GPL' });
  expectErr(() => testRun(sys, store, new Uint8Array(60)), 'EFAULT', 'bpf_skb_store_bytes: the packet is read-only for this program');
  for (const [id, name] of [[10, 'bpf_l3_csum_replace'], [11, 'bpf_l4_csum_replace']] as const) {
    const csum = sys.loadUnverified({ prog_type: 1, insns: assemble(`r2 = 0
      r3 = 0
      r4 = 4660
      r5 = 0
      call ${id}
      r0 = *(u16 *)skb[0]
      exit`), license: 'GPL' });
    expectErr(() => testRun(sys, csum, new Uint8Array(60)), 'EFAULT', `${name}: the packet is read-only for this program`);
  }
  // tc's packet is writable: the same store changes it
  const tc = sys.loadUnverified({ prog_type: 3, insns: assemble(`*(u64 *)(r10 -8) = 65
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 4
    r5 = 0
    call 9
    exit`), license: 'GPL' });
  assert.deepEqual([...testRun(sys, tc, new Uint8Array(60)).dataOut.subarray(0, 5)], [65, 0, 0, 0, 0]);
});

test('finding: a socket filter (read-only packet) calling bpf_skb_change_head or bpf_skb_change_tail gets EFAULT, its packet unchanged', () => {
  // found by the modern runtime fuzzer (seed 8) once the two helpers joined the table: they wrote the packet of any type
  const sys = modern();
  for (const [id, name, arg] of [[43, 'bpf_skb_change_head', 14], [38, 'bpf_skb_change_tail', 20]] as const) {
    const prog = sys.loadUnverified({ prog_type: 1, insns: assemble(`r2 = ${arg}
      r3 = 0
      call ${id}
      r0 = *(u8 *)skb[0]
      exit`), license: 'GPL' });
    expectErr(() => testRun(sys, prog, new Uint8Array(60)), 'EFAULT', `${name}: the packet is read-only for this program`);
  }
  // tc's packet is writable: change_tail grows it with zeros
  const tc = sys.loadUnverified({ prog_type: 3, insns: assemble(`r2 = 80
    r3 = 0
    call 38
    exit`), license: 'GPL' });
  const frame = new Uint8Array(60).fill(7);
  frame[12] = 0x88; frame[13] = 0xb5;
  const out = testRun(sys, tc, frame);
  assert.equal(out.retval, 0n);
  assert.equal(out.dataOut.length, 80);
  assert.deepEqual([...out.dataOut.subarray(58, 62)], [7, 7, 0, 0]);
});

test('finding: a spin lock a faulting run left taken does not deadlock the next runs', () => {
  const sys = modern();
  const arr = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 16, max_entries: 1 });
  const lockThen = (middle: string): number => sys.loadUnverified({ prog_type: 6, insns: assemble(`*(u32 *)(r10 -4) = 0
    r1 = map[fd:${arr}]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0x0 goto pc+6
    r6 = r0
    r1 = r6
    call 93
    ${middle}
    r1 = r6
    call 94
    r0 = 2
    exit`), license: 'GPL' });
  const faults = lockThen('r0 = *(u64 *)(r7 +0)');
  const good = lockThen('r0 = 0');
  const twice = lockThen(`r1 = r6
    call 93`);
  assert.equal(testRun(sys, good, new Uint8Array(60)).retval, 2n);
  expectErr(() => testRun(sys, faults, new Uint8Array(60)), 'EFAULT', 'pc 10: invalid read of 8 bytes at 0x0: null pointer dereference');
  assert.equal(testRun(sys, good, new Uint8Array(60)).retval, 2n);
  // within a run, a lock taken twice is still the deadlock it is
  const at = sys.mapOf(arr).impl.region.start;
  expectErr(() => testRun(sys, twice, new Uint8Array(60)), 'EFAULT', `bpf_spin_lock: the lock at 0x${at.toString(16)} is already held (a deadlock in the kernel)`);
  assert.equal(testRun(sys, good, new Uint8Array(60)).retval, 2n);
});

test('finding: a record left reserved in a ring buffer since freed: committing its address later writes nothing', () => {
  const sys = modern();
  const rb = sys.bpf('BPF_MAP_CREATE', { map_type: 27, key_size: 0, value_size: 0, max_entries: 4096 });
  const reserve = sys.loadUnverified({ prog_type: 6, insns: assemble(`r1 = map[fd:${rb}]
    r2 = 16
    r3 = 0
    call 131
    exit`), license: 'GPL' });
  const at = Number(testRun(sys, reserve, new Uint8Array(60)).retval);
  sys.close(reserve);
  sys.close(rb);
  // an array now where the ring was; a program with no map discards the old record's address
  const arr = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 4096, max_entries: 2 });
  const values = sys.mapOf(arr).impl.region;
  assert.ok(at - 8 >= values.start && at <= values.end);
  const discard = sys.loadUnverified({ prog_type: 6, insns: assemble(`r1 = 0x${at.toString(16)} ll
    r2 = 0
    call 133
    r0 = 0
    exit`), license: 'GPL' });
  assert.equal(testRun(sys, discard, new Uint8Array(60)).retval, 0n);
  assert.deepEqual([...sys.runtime.mem.u8.subarray(values.start, values.end)].filter((b) => b !== 0), []);
});

test('finding: a record a run left reserved is discarded when the next run begins; the consumer reads on', () => {
  const sys = modern();
  const rb = sys.bpf('BPF_MAP_CREATE', { map_type: 27, key_size: 0, value_size: 0, max_entries: 4096 });
  const output = (reserveFirst: boolean): number => sys.loadUnverified({ prog_type: 6, insns: assemble(`${reserveFirst ? `r1 = map[fd:${rb}]
    r2 = 8
    r3 = 0
    call 131
    ` : ''}*(u64 *)(r10 -8) = 7
    r1 = map[fd:${rb}]
    r2 = r10
    r2 += -8
    r3 = 8
    r4 = 0
    call 130
    exit`), license: 'GPL' });
  const ring = sys.mapOf(rb).impl as unknown as { records(): Uint8Array[] };
  assert.equal(testRun(sys, output(true), new Uint8Array(60)).retval, 0n);
  // the record reserved first holds back the one output after it
  assert.deepEqual(ring.records(), []);
  assert.equal(testRun(sys, output(false), new Uint8Array(60)).retval, 0n);
  assert.deepEqual(ring.records().map((r) => [...r]), [[7, 0, 0, 0, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0]]);
});

test('finding: a tail call\'s target gets the context\'s packet pointers and sk from the frame, not what the caller wrote there', () => {
  const sys = modern();
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 1 });
  // data_end - data, plus sk (NULL in a test run) in the high half
  const target = sys.loadUnverified({ prog_type: 3, insns: assemble(`r2 = *(u32 *)(r1 +76)
    r0 = *(u32 *)(r1 +80)
    r0 -= r2
    r3 = *(u64 *)(r1 +168)
    r3 <<= 32
    r0 |= r3
    exit`), license: 'GPL' });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([target, 0, 0, 0]) });
  const caller = sys.loadUnverified({ prog_type: 3, insns: assemble(`*(u32 *)(r1 +80) = -1
    *(u32 *)(r1 +76) = 4096
    *(u64 *)(r1 +168) = 65
    r2 = map[fd:${pa}]
    r3 = 0
    call 12
    r0 = 1
    exit`), license: 'GPL' });
  assert.equal(testRun(sys, caller, new Uint8Array(60)).retval, 60n);
});

test('finding: a program deleting from a prog array or map of maps gets -EINVAL (it could free itself, or a map it uses, mid-run)', () => {
  const sys = modern();
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 1 });
  const inner = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
  const hom = sys.bpf('BPF_MAP_CREATE', { map_type: 13, key_size: 4, value_size: 4, max_entries: 1, inner_map_fd: inner });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: hom, key: new Uint8Array(4), value: new Uint8Array([inner, 0, 0, 0]) });
  const del = (fd: number): string => `*(u32 *)(r10 -4) = 0
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -4
    call 3
    `;
  // itself, in the prog array that holds its only reference: then a lookup in the inner map of the other
  const self = sys.loadUnverified({ prog_type: 6, insns: assemble(`${del(pa)}r6 = r0
    ${del(hom)}r0 += r6
    exit`), license: 'GPL' });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([self, 0, 0, 0]) });
  const caller = sys.loadUnverified({ prog_type: 6, insns: assemble(`r2 = map[fd:${pa}]
    r3 = 0
    call 12
    exit`), license: 'GPL' });
  sys.close(self);
  // -EINVAL twice
  assert.equal(testRun(sys, caller, new Uint8Array(60)).retval, BigInt.asUintN(64, -44n));
  // both still hold their element
  for (const fd of [pa, hom]) {
    const out = new Uint8Array(4);
    sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(4), value: out });
    assert.notEqual(new DataView(out.buffer).getUint32(0, true), 0);
  }
});

/**
 * The stale-element check of the two findings below: with key 1 in the
 * one-entry hash map `h`, program `fd` looks key 1 up, deletes it, adds key 2
 * = 5 and writes 99 through its old pointer; key 2 must still read 5.
 */
function staleElementStaysOwn(sys: BpfSystem, h: number, fd: number): void {
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: h, key: new Uint8Array([1, 0, 0, 0]), value: new Uint8Array(8) });
  assert.equal(testRun(sys, fd, new Uint8Array(60)).retval, 0n);
  const v = new Uint8Array(8);
  sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: h, key: new Uint8Array([2, 0, 0, 0]), value: v });
  assert.deepEqual([...v], [5, 0, 0, 0, 0, 0, 0, 0]);
  sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: h, key: new Uint8Array([2, 0, 0, 0]) });
}

test('finding: a hash element a tail call\'s target looked up stays its own until the run ends (the target\'s maps join the run)', () => {
  const sys = modern();
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 1 });
  const h = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 8, max_entries: 1 });
  // look up key 1, delete it, add key 2, write through the pointer to key 1's element
  const target = sys.loadUnverified({ prog_type: 6, insns: assemble(`*(u32 *)(r10 -4) = 1
    r1 = map[fd:${h}]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0x0 goto pc+14
    r6 = r0
    r1 = map[fd:${h}]
    r2 = r10
    r2 += -4
    call 3
    *(u32 *)(r10 -4) = 2
    *(u64 *)(r10 -16) = 5
    r1 = map[fd:${h}]
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call 2
    *(u64 *)(r6 +0) = 99
    r0 = 0
    exit`), license: 'GPL' });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([target, 0, 0, 0]) });
  const caller = sys.loadUnverified({ prog_type: 6, insns: assemble(`r2 = map[fd:${pa}]
    r3 = 0
    call 12
    exit`), license: 'GPL' });
  for (const fd of [target, caller]) {
    staleElementStaysOwn(sys, h, fd);
  }
});

test('finding: a hash element looked up in an inner map stays the program\'s until the run ends (inner maps join the run with their map of maps)', () => {
  const sys = modern();
  const h = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 8, max_entries: 1 });
  for (const type of [12, 13]) {
    const outer = sys.bpf('BPF_MAP_CREATE', { map_type: type, key_size: 4, value_size: 4, max_entries: 1, inner_map_fd: h });
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: outer, key: new Uint8Array(4), value: new Uint8Array([h, 0, 0, 0]) });
    // inner = outer[0]; look up key 1, delete it, add key 2, write through the pointer to key 1's element
    const fd = sys.loadUnverified({ prog_type: 6, insns: assemble(`*(u32 *)(r10 -4) = 0
      r1 = map[fd:${outer}]
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0x0 goto pc+21
      r7 = r0
      *(u32 *)(r10 -4) = 1
      r1 = r7
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0x0 goto pc+14
      r6 = r0
      r1 = r7
      r2 = r10
      r2 += -4
      call 3
      *(u32 *)(r10 -4) = 2
      *(u64 *)(r10 -16) = 5
      r1 = r7
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      call 2
      *(u64 *)(r6 +0) = 99
      r0 = 0
      exit`), license: 'GPL' });
    staleElementStaysOwn(sys, h, fd);
  }
});

test('the modern runtime fuzzer: a fixed corpus of 240 programs stays contained', () => {
  // the hardened JIT runs every program, callbacks (bpf_loop, bpf_for_each_map_elem) and maps of maps included
  for (const seed of [1, 2, 3]) {
    // (the callback cases have a corpus of their own: jit-callbacks.test.ts)
    const r = fuzzModern(seed, 80, Infinity, { callbacks: false });
    assert.equal(r.generated, 80);
    assert.deepEqual(r.problems, []);
    assert.equal(r.runs, 480, `seed ${seed}`);
    assert.equal(r.hardenedRuns, 480, `seed ${seed}`);
  }
});

test('the modern runtime\'s containment fuzzer in a shared memory on lane 1 (real atomics and spin locks, shared hash maps): 80 programs contained', () => {
  const r = fuzzModern(4, 80, Infinity, { callbacks: false, shared: true });
  assert.equal(r.generated, 80);
  assert.deepEqual(r.problems, []);
  assert.equal(r.runs, 480);
  assert.equal(r.hardenedRuns, 480);
});
