/**
 * Isolation in the WebAssembly JIT (issue 13): local-call depth counted
 * where a program cannot reach it (finding 3, also through the conformance
 * plugin process), and the hardened engine ('jit-hardened'): forged
 * pointers into map headers, hash links, another program's map, the null
 * page or frames below the current one are EFAULT naming pc, address and
 * size; its stack starts zeroed; verified programs give the same results as
 * on the normal JIT (conformance vectors, socket vectors, random socket
 * filters, the bench workloads, the map workload).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { batchBytes, writeBatchDescriptor } from '../src/jit/batch.js';
import { JitProgram } from '../src/jit/program.js';
import type { HardenedOptions } from '../src/jit/hardened.js';
import { BpfError } from '../src/errors.js';
import { assemble, encode, toSlots } from '../src/isa/index.js';
import { conformanceHelpers } from '../src/api/conformance.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { PacketRunner } from '../src/api/packets.js';
import { MAP_HDR, MAP_MAGIC } from '../src/maps/map.js';
import { RUN_GEN_ADDR, STACK_TOP } from '../src/memory/address-space.js';
import { capturePackets, workloads } from '../src/bench/workloads.js';
import { loadMapHeavy } from '../src/bench/bench.js';
import { tsbpf } from './cli-harness.js';
import type { CliResult } from './cli-harness.js';
import { loadVectors, parseVector, projectRoot } from './conformance-data.js';
import { prng, randomPackets, randomSocketFilter } from './random-programs.js';

const HARDENED: HardenedOptions = { batchContext: { size: 8, writable: false } };

/** r0 in hex, or the error as "CODE message". */
function outcome(f: () => bigint): string {
  try {
    return `0x${f().toString(16)}`;
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    return `${e.code} ${e.message}`;
  }
}

/** A program (uBPF assembly) on the normal JIT, the hardened JIT and the checked interpreter, each in a fresh runtime. */
function engines(src: string): { jit: string; hardened: string; interp: string } {
  const slots = toSlots(assemble(src));
  const run = (hardened: boolean): string => {
    const rt = new Runtime({ helpers: conformanceHelpers() });
    return outcome(() => new JitProgram(rt.mem, slots, { helpers: rt.helpers, ...(hardened ? { hardened: HARDENED } : {}) }).run1({}));
  };
  const rt = new Runtime({ helpers: conformanceHelpers() });
  const interp = outcome(() => new Interpreter(rt.mem, slots, { checked: true, helpers: rt.helpers, regions: rt.regions }).run({}).r0);
  return { jit: run(false), hardened: run(true), interp };
}

const DEPTH_E2BIG = 'E2BIG pc 4: call depth exceeds 8 frames';

test('finding 3: a callee that moves r10 before recursing stops at 8 frames with the interpreter\'s E2BIG', () => {
  const r = engines('call local f\nexit\nf:\nlddw %r10, 0x20000\ncall local f\nexit');
  assert.deepEqual(r, { jit: DEPTH_E2BIG, hardened: DEPTH_E2BIG, interp: DEPTH_E2BIG });
  // r10 moved up once in the entry, then plain recursion
  const s = engines('mov %r10, 0x7fffffff\ncall local f\nexit\nf:\nmov %r0, 1\ncall local f\nexit');
  assert.deepEqual(s, { jit: DEPTH_E2BIG, hardened: DEPTH_E2BIG, interp: DEPTH_E2BIG });
});

test('a callee\'s r10 comes from the call depth, never from the caller\'s r10', () => {
  for (const hardened of [false, true]) {
    const jit = (src: string): bigint => {
      const rt = new Runtime({ helpers: conformanceHelpers() });
      return new JitProgram(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers, ...(hardened ? { hardened: HARDENED } : {}) }).run1({});
    };
    assert.equal(jit('mov %r10, 1024\ncall local f\nexit\nf:\nmov %r0, %r10\nexit'), BigInt(STACK_TOP - 512));
    assert.equal(jit('call local f\nexit\nf:\nlddw %r10, 0x12345\ncall local g\nexit\ng:\nmov %r0, %r10\nexit'), BigInt(STACK_TOP - 1024));
    // the caller's r10 is its own again after the call
    assert.equal(jit('mov %r10, 1024\ncall local f\nmov %r0, %r10\nexit\nf:\nexit'), 1024n);
  }
});

test('the depth bound holds in a batch, and the next batch starts from depth 0', () => {
  const rt = new Runtime({ helpers: conformanceHelpers() });
  const deep = new JitProgram(rt.mem, toSlots(assemble('call local f\nexit\nf:\nlddw %r10, 0x20000\ncall local f\nexit')), { helpers: rt.helpers });
  const desc = rt.mem.alloc(batchBytes(3));
  for (let i = 0; i < 3; i++) writeBatchDescriptor(rt.mem.view, desc, i, 0, 0, 0, -1);
  assert.equal(outcome(() => {
    deep.execBatch(desc, 3);
    return 0n;
  }), DEPTH_E2BIG);
  // seven calls deep still works after a run that hit the bound
  const seven = new JitProgram(rt.mem, toSlots(assemble('mov %r0, 0\nmov %r6, 7\ncall local f\nexit\nf:\nadd %r0, 1\nsub %r6, 1\njeq %r6, 0, out\ncall local f\nout:\nexit')), { helpers: rt.helpers });
  seven.execBatch(desc, 3);
  assert.equal(seven.retLo, 7);
});

test('the JIT refuses registers beyond r10 (they would index its own locals) and a truncated ld_imm64', () => {
  const rt = new Runtime();
  const bad = (slots: { code: number; dst: number; src: number; off: number; imm: number }[]): string => outcome(() => new JitProgram(rt.mem, slots, { helpers: rt.helpers, hardened: HARDENED }).run1({}));
  assert.equal(bad([{ code: 0xb7, dst: 15, src: 0, off: 0, imm: 1 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]), 'EINVAL insn 0: invalid register r15');
  assert.equal(bad([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x18, dst: 0, src: 0, off: 0, imm: 1 }]), 'EINVAL insn 1: invalid bpf_ld_imm64 insn');
});

/** The bpf_conformance runner's base16: two hex digits and two spaces per byte. */
const base16 = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0') + '  ').join('');

test('conformance-plugin --jit: the r10 recursion is one E2BIG line and exit 1, as with --interpret (was a stack overflow, exit 70)', async () => {
  const program = base16(encode(assemble('call local f\nexit\nf:\nlddw %r10, 0x20000\ncall local f\nexit')));
  for (const opt of ['--jit', '--interpret']) {
    const r = await tsbpf(['conformance-plugin', opt], program);
    assert.equal(r.stdout, '', opt);
    assert.equal(r.stderr, 'pc 4: call depth exceeds 8 frames (E2BIG)\n', opt);
    assert.equal(r.status, 1, opt);
  }
});

/** A system with a hash map and an array map the programs reference, and an array map they do not. */
function hostile(): { sys: BpfSystem; hash: number; array: number; other: number; addr: (fd: number) => number; values: (fd: number) => number } {
  const sys = new BpfSystem();
  const hash = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 8, max_entries: 4 });
  const array = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 12, max_entries: 4 });
  const other = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 4 });
  return { sys, hash, array, other, addr: (fd) => sys.mapOf(fd).impl.addr, values: (fd) => sys.mapOf(fd).impl.region.start };
}

/** Load `src` unverified (map references to the hash and array maps prepended) and run it once on the hardened JIT. */
function hardenedRun(h: ReturnType<typeof hostile>, src: string, progType = 0, data = new Uint8Array(16)): string {
  const prologue = `r8 = map[fd:${h.hash}]\nr9 = map[fd:${h.array}]\n`;
  const fd = h.sys.loadUnverified({ prog_type: progType, insns: encode(assemble(prologue + src)), license: 'GPL' });
  return outcome(() => testRun(h.sys, fd, data, 1, 'jit-hardened').retval);
}

const hex = (x: number): string => `0x${x.toString(16)}`;

test('hardened: forged pointers to map headers, hash keys and links, another map, the null page: EFAULT with pc, size, address', () => {
  const h = hostile();
  const hdr = h.addr(h.hash);
  // (the prologue's two lddw are pcs 0..3)
  assert.equal(hardenedRun(h, 'ldxw %r0, [%r8+0]\nexit'), `EFAULT pc 4: invalid read of 4 bytes at ${hex(hdr)}: outside any region the program may access`);
  assert.equal(hardenedRun(h, `stw [%r8+${MAP_HDR.MAX_ENTRIES}], 0\nexit`), `EFAULT pc 4: invalid write of 4 bytes at ${hex(hdr + MAP_HDR.MAX_ENTRIES)}: outside any region the program may access`);
  // the same read on the normal JIT reads the header: what the checks are for
  const fd = h.sys.loadUnverified({ prog_type: 0, insns: encode(assemble(`r1 = map[fd:${h.hash}]\nldxw %r0, [%r1+0]\nexit`)), license: 'GPL' });
  const rt = h.sys.runtime;
  assert.equal(new JitProgram(rt.mem, h.sys.progOf(fd).prog.slots, { helpers: rt.helpers }).run1({}), BigInt(MAP_MAGIC));
  // the mirror of the hash map's links (for the inline lookup) follows its elements: its suspect word,
  // bucket heads, next links and pin words
  const layout = h.sys.mapOf(h.hash).impl.jitLayout!();
  assert.ok(layout.type === 1);
  assert.equal(layout.suspect, h.sys.mapOf(h.hash).impl.region.end);
  for (const at of [layout.suspect, layout.heads, layout.next + 4, layout.pinned]) {
    assert.equal(hardenedRun(h, `lddw %r1, ${hex(at)}\nstw [%r1+0], 0\nexit`), `EFAULT pc 6: invalid write of 4 bytes at ${hex(at)}: outside any region the program may access`);
  }
  // a map the program does not reference: its values, and as a helper's map
  const otherValue = h.values(h.other);
  assert.equal(hardenedRun(h, `lddw %r1, ${hex(otherValue)}\nstdw [%r1+0], 1\nexit`), `EFAULT pc 6: invalid write of 8 bytes at ${hex(otherValue)}: outside any region the program may access`);
  assert.equal(
    hardenedRun(h, `lddw %r1, ${hex(h.addr(h.other))}\nstw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit`),
    `EFAULT bpf_map_lookup_elem: r1 = ${hex(h.addr(h.other))} is not a map of this program`,
  );
  // a helper's key pointer into a map header
  assert.equal(hardenedRun(h, `mov %r1, %r8\nmov %r2, %r9\ncall 1\nexit`), `EFAULT pc 6: invalid read of 4 bytes at ${hex(h.addr(h.array))}: outside any region the program may access`);
  // the null page: NULL, and the hash maps' run generation word
  assert.equal(hardenedRun(h, 'mov %r1, 0\nldxdw %r0, [%r1+16]\nexit'), 'EFAULT pc 5: invalid read of 8 bytes at 0x10: null pointer dereference');
  assert.equal(hardenedRun(h, `lddw %r1, ${hex(RUN_GEN_ADDR)}\nlock add32 [%r1+0], %r1\nexit`), `EFAULT pc 6: invalid write of 4 bytes at ${hex(RUN_GEN_ADDR)}: null pointer dereference`);
  // beyond 32 bits
  assert.equal(hardenedRun(h, `lddw %r1, 0x1${(STACK_TOP - 8).toString(16).padStart(8, '0')}\nldxdw %r0, [%r1+0]\nexit`), `EFAULT pc 6: invalid read of 8 bytes at 0x1${(STACK_TOP - 8).toString(16).padStart(8, '0')}: address beyond the address space`);
});

test('hardened: map values are reachable through lookups and map-value pointers, value bytes only', () => {
  const h = hostile();
  // insert key 1 = 5, look it up, add 2 atomically, read it back
  const lookup = 'stw [%r10-4], 1\nstdw [%r10-16], 5\nmov %r1, %r8\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2\n'
    + 'mov %r1, %r8\nmov %r2, %r10\nadd %r2, -4\ncall 1\n';
  assert.equal(hardenedRun(h, `${lookup}mov %r1, 2\nlock add [%r0+0], %r1\nldxdw %r0, [%r0+0]\nexit`), '0x7');
  // the element's key, 8 bytes before its value, and the bytes after the value
  assert.equal(hardenedRun(h, `${lookup}mov %r6, %r0\nstw [%r0-8], 9\nexit`), `EFAULT pc 18: invalid write of 4 bytes at ${hex(h.values(h.hash))}: outside any region the program may access`);
  assert.equal(hardenedRun(h, `${lookup}ldxw %r0, [%r0+6]\nexit`), `EFAULT pc 17: invalid read of 4 bytes at ${hex(h.values(h.hash) + 14)}: outside any region the program may access`);
  // array values are 12 bytes in 16-byte slots: element 1's value is reachable, not the padding before it
  const arr = h.values(h.array);
  assert.equal(hardenedRun(h, `r1 = map[fd:${h.array}][0]+0\nstw [%r1+24], 3\nldxw %r0, [%r1+24]\nexit`), '0x3');
  assert.equal(hardenedRun(h, `r1 = map[fd:${h.array}][0]+0\nstdw [%r1+8], 3\nexit`), `EFAULT pc 6: invalid write of 8 bytes at ${hex(arr + 8)}: outside any region the program may access`);
  // 8-byte values back to back: one value at a time, not a read straddling two
  const other = h.values(h.other);
  assert.equal(hardenedRun(h, `r1 = map[fd:${h.other}][0]+0\nstdw [%r1+8], 5\nldxdw %r0, [%r1+8]\nexit`), '0x5');
  assert.equal(hardenedRun(h, `r1 = map[fd:${h.other}][0]+0\nldxdw %r0, [%r1+4]\nexit`), `EFAULT pc 6: invalid read of 8 bytes at ${hex(other + 4)}: outside any region the program may access`);
});

test('hardened with more maps than are checked inline: values of every referenced map, nothing else', () => {
  const sys = new BpfSystem();
  const fds = Array.from({ length: 6 }, (_, i) => sys.bpf('BPF_MAP_CREATE', { map_type: i % 2 === 0 ? 2 : 1, key_size: 4, value_size: 8 + 4 * i, max_entries: 4 }));
  const refs = fds.map((fd, i) => `r${i === 5 ? 9 : i + 1} = map[fd:${fd}]`).join('\n').replace('r1 =', 'r6 =');
  const run = (body: string): string => {
    const fd = sys.loadUnverified({ prog_type: 0, insns: encode(assemble(`${refs}\n${body}`)), license: 'GPL' });
    return outcome(() => testRun(sys, fd, new Uint8Array(16), 1, 'jit-hardened').retval);
  };
  // (the six lddw are pcs 0..11) the last map, a hash map of 28-byte values: insert key 2, look it up, write its last word
  const insert = 'stw [%r10-4], 2\nstdw [%r10-16], 0\nmov %r1, %r9\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -32\nmov %r4, 0\ncall 2\n'
    + 'mov %r1, %r9\nmov %r2, %r10\nadd %r2, -4\ncall 1\n';
  assert.equal(run(`${insert}stw [%r0+24], 77\nldxw %r0, [%r0+24]\nexit`), '0x4d');
  assert.equal(run(`${insert}stw [%r0+28], 77\nexit`), `EFAULT pc 25: invalid write of 4 bytes at ${hex(sys.mapOf(fds[5]!).impl.region.start + 8 + 28)}: outside any region the program may access`);
  // array map 4 (16-byte values): a map-value pointer, and its header
  assert.equal(run(`r1 = map[fd:${fds[4]}][0]+8\nstdw [%r1+0], 5\nldxdw %r0, [%r1+0]\nexit`), '0x5');
  assert.equal(run(`ldxw %r0, [%r5+0]\nexit`), `EFAULT pc 12: invalid read of 4 bytes at ${hex(sys.mapOf(fds[4]!).impl.addr)}: outside any region the program may access`);
  // a seventh map, not referenced
  const other = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 4 });
  const v = sys.mapOf(other).impl.region.start;
  assert.equal(run(`lddw %r1, ${hex(v)}\nldxdw %r0, [%r1+0]\nexit`), `EFAULT pc 14: invalid read of 8 bytes at ${hex(v)}: outside any region the program may access`);
});

test('hardened: frames by depth, a read-only context, and faults inside a batch', () => {
  const h = hostile();
  assert.equal(hardenedRun(h, 'stdw [%r10-520], 1\nexit'), `EFAULT pc 4: invalid write of 8 bytes at ${hex(STACK_TOP - 520)}: outside the stack frame`);
  // a program that moves r10 cannot move its frame
  assert.equal(hardenedRun(h, 'lddw %r10, 0x10200\nstdw [%r10-8], 1\nexit'), 'EFAULT pc 6: invalid write of 8 bytes at 0x101f8: outside the stack frame');
  // r10 written by an atomic exchange: its accesses are checked, as any register's
  assert.equal(hardenedRun(h, 'stdw [%r10-8], 0x10100\nlock xchg [%r10-8], %r10\nstdw [%r10-8], 1\nexit'), 'EFAULT pc 6: invalid write of 8 bytes at 0x100f8: outside the stack frame');
  // pointers derived from r10 go unchecked only while provably inside the frame: past it, after a join,
  // after a call that returned them, after an atomic fetch into them
  const hdr = hex(h.addr(h.hash));
  assert.equal(hardenedRun(h, 'mov %r2, %r10\nadd %r2, -520\nstdw [%r2+0], 1\nexit'), `EFAULT pc 6: invalid write of 8 bytes at ${hex(STACK_TOP - 520)}: outside the stack frame`);
  assert.equal(hardenedRun(h, 'mov %r2, %r9\njne %r1, 0, +1\nmov %r2, %r10\nstdw [%r2-8], 1\nexit'), `EFAULT pc 7: invalid write of 8 bytes at ${hex(h.addr(h.array) - 8)}: outside any region the program may access`);
  assert.equal(hardenedRun(h, 'mov %r1, %r10\nadd %r1, -8\ncall local f\nstdw [%r1+0], 1\nexit\nf:\nmov %r1, %r8\nexit'), `EFAULT pc 7: invalid write of 8 bytes at ${hdr}: outside any region the program may access`);
  assert.equal(hardenedRun(h, 'stxdw [%r10-16], %r8\nmov %r3, %r10\nadd %r3, -16\nlock xchg [%r10-16], %r3\nstw [%r3+0], 1\nexit'), `EFAULT pc 8: invalid write of 4 bytes at ${hdr}: outside any region the program may access`);
  assert.equal(hardenedRun(h, 'mov %r2, %r10\nadd %r2, -16\nstdw [%r2+8], 6\nldxdw %r0, [%r10-8]\nexit'), '0x6');
  // a callee reaches its caller's frame, not the frame below its own
  assert.equal(hardenedRun(h, 'stdw [%r10-8], 40\nmov %r1, %r10\ncall local f\nexit\nf:\nldxdw %r0, [%r1-8]\nadd %r0, 2\nexit'), '0x2a');
  assert.equal(hardenedRun(h, 'call local f\nexit\nf:\nstdw [%r10-520], 1\nexit'), `EFAULT pc 6: invalid write of 8 bytes at ${hex(STACK_TOP - 1032)}: outside the stack frame`);
  // a socket filter's context is read-only, its packet readable
  const pkt = Uint8Array.of(1, 2, 3, 4);
  assert.equal(hardenedRun(h, 'ldxw %r0, [%r1+0]\nexit', 1, pkt), '0x4');
  assert.match(hardenedRun(h, 'stw [%r1+0], 0\nexit', 1, pkt), /^EFAULT pc 4: invalid write of 4 bytes at 0x[0-9a-f]+: context is read-only$/);
  // in a batch of packets the same checks stop the batch
  const fd = h.sys.loadUnverified({ prog_type: 1, insns: encode(assemble('ldxw %r0, [%r1+0]\njeq %r0, 3, bad\nexit\nbad:\nstw [%r1+0], 0\nexit')), license: 'GPL' });
  const runner = new PacketRunner(h.sys, fd, 'jit-hardened');
  assert.equal(runner.engineName, 'jit-hardened');
  assert.deepEqual(Array.from(runner.runBatch([{ data: pkt, netOff: -1 }, { data: Uint8Array.of(9), netOff: -1 }])), [4, 1]);
  assert.throws(() => runner.runBatch([{ data: pkt, netOff: -1 }, { data: Uint8Array.of(1, 2, 3), netOff: -1 }]), (e: unknown) => {
    assert.ok(e instanceof BpfError);
    assert.equal(e.code, 'EFAULT');
    assert.match(e.message, /^pc 3: invalid write of 4 bytes at 0x[0-9a-f]+: context is read-only$/);
    return true;
  });
});

test('hardened: a run starts from a zeroed frame, whatever another program left there', () => {
  const sys = new BpfSystem();
  const writer = sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: encode(assemble('stdw [%r10-8], 0x1234\nmov %r0, 0\nexit')), license: 'GPL' });
  const reader = sys.loadUnverified({ prog_type: 0, insns: encode(assemble('ldxdw %r0, [%r10-8]\nexit')), license: 'GPL' });
  const calleeReader = sys.loadUnverified({ prog_type: 0, insns: encode(assemble('call local f\nexit\nf:\nldxdw %r0, [%r10-8]\nexit')), license: 'GPL' });
  testRun(sys, writer, new Uint8Array(0), 1, 'jit');
  // what the checked interpreter gives the reader today is not this test's business; the normal JIT sees the leftover
  const rt = sys.runtime;
  assert.equal(new JitProgram(rt.mem, sys.progOf(reader).prog.slots, { helpers: rt.helpers }).run1({}), 0x1234n);
  assert.equal(testRun(sys, reader, new Uint8Array(0), 1, 'jit-hardened').retval, 0n);
  // a callee's frame too
  rt.mem.view.setBigUint64(STACK_TOP - 512 - 8, 0x5678n, true);
  assert.equal(testRun(sys, calleeReader, new Uint8Array(0), 1, 'jit-hardened').retval, 0n);
});

test('hardened = normal JIT on verified programs: all 313 conformance vectors', () => {
  let passed = 0;
  for (const v of loadVectors()) {
    const rt = new Runtime({ helpers: conformanceHelpers() });
    const slots = toSlots(assemble(v.asm));
    const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
    const hardened = new JitProgram(rt.mem, slots, { helpers: rt.helpers, hardened: HARDENED });
    let r1 = 0;
    if (v.mem.length) {
      r1 = rt.mem.alloc(v.mem.length);
      rt.mem.write(r1, v.mem);
    }
    const regions = v.mem.length ? [{ start: r1, end: r1 + v.mem.length, writable: true, name: 'memory' }] : [];
    const a = jit.run1({ r1, r2: v.mem.length });
    if (v.mem.length) rt.mem.write(r1, v.mem);
    assert.equal(hardened.run1({ r1, r2: v.mem.length, regions }), a, v.name);
    assert.equal(a, v.result, v.name);
    passed++;
  }
  assert.equal(passed, 313);
});

test('hardened = normal JIT: socket-filter vectors (single runs and batches) and random socket filters', () => {
  const dir = join(projectRoot(), 'test', 'socket-vectors');
  let vectors = 0;
  for (const f of readdirSync(dir)) {
    const v = parseVector(f, readFileSync(join(dir, f), 'utf8'));
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(assemble(v.asm)), license: 'GPL' });
    assert.equal(testRun(sys, fd, v.mem, 1, 'jit-hardened').retval, v.result, f);
    assert.equal(testRun(sys, fd, v.mem, 3, 'jit-hardened').retval, v.result, f);
    assert.equal(testRun(sys, fd, v.mem, 1, 'jit').retval, v.result, f);
    vectors++;
  }
  assert.equal(vectors, readdirSync(dir).length);
  assert.ok(vectors > 0);
  const rnd = prng(0x5eed);
  let compared = 0;
  for (let i = 0; i < 100; i++) {
    const src = randomSocketFilter(rnd, true);
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, license: 'GPL', insns: encode(assemble(src)) });
    const packets = randomPackets(rnd);
    const normal = Array.from(new PacketRunner(sys, fd, 'jit').runBatch(packets));
    const hardened = new PacketRunner(sys, fd, 'jit-hardened');
    assert.deepEqual(Array.from(hardened.runBatch(packets)), normal, `program ${i}:\n${src}`);
    assert.deepEqual(packets.map((p) => hardened.run(p.data, p.netOff)), normal, `program ${i}:\n${src}`);
    compared += packets.length;
  }
  assert.equal(compared, 1200);
});

test('hardened = normal JIT: the bench workloads, and the map workload over the capture (verdicts and map contents)', () => {
  for (const w of workloads()) {
    const rt = new Runtime();
    const addr = rt.mem.alloc(w.input.length);
    const slots = toSlots(w.insns);
    const normal = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
    const hardened = new JitProgram(rt.mem, slots, { helpers: rt.helpers, maps: [], hardened: { batchContext: { size: w.input.length, writable: true } } });
    rt.mem.write(addr, w.input);
    const a = normal.run1({ r1: addr, r2: w.input.length });
    rt.mem.write(addr, w.input);
    const b = hardened.run1({ r1: addr, r2: w.input.length, regions: [{ start: addr, end: addr + w.input.length, writable: true, name: 'buffer' }] });
    assert.equal(b, a, w.name);
    const desc = rt.mem.alloc(batchBytes(4));
    for (let i = 0; i < 4; i++) writeBatchDescriptor(rt.mem.view, desc, i, addr, addr, w.input.length, -1);
    rt.mem.write(addr, w.input);
    hardened.execBatch(desc, 1);
    assert.equal((BigInt(hardened.retHi >>> 0) << 32n) | BigInt(hardened.retLo >>> 0), a, `${w.name}, batched`);
  }
  const packets = capturePackets().map((data) => ({ data, netOff: 14 }));
  const pass = (engine: 'jit' | 'jit-hardened'): { verdicts: number[]; entries: string } => {
    const { sys, fd, ports } = loadMapHeavy();
    const verdicts = Array.from(new PacketRunner(sys, fd, engine).runBatch(packets));
    const m = sys.mapOf(ports).impl;
    const mem = sys.runtime.mem;
    const key = mem.alloc(4);
    const next = mem.alloc(4);
    const entries: string[] = [];
    for (let prev = 0; m.getNextKey(prev, next) === 0; prev = key) {
      entries.push(`${mem.view.getUint32(next, true)}=${mem.view.getBigUint64(m.lookup(next), true)}`);
      mem.u8.copyWithin(key, next, next + 4);
    }
    return { verdicts, entries: entries.sort().join(',') };
  };
  const normal = pass('jit');
  assert.equal(normal.verdicts.length, packets.length);
  assert.ok(normal.entries.length > 0);
  assert.deepEqual(pass('jit-hardened'), normal);
});

test('CLI: run --engine jit-hardened runs an unverified program with its accesses checked', async () => {
  const run = (src: string): Promise<CliResult> => tsbpf(['run', '-', '--unverified', '--engine', 'jit-hardened'], src);
  const good = await run('stdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit\n');
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /^retval {2}0x5 \(5\)\nruns {4}1 × .* \(unverified, hardened WebAssembly JIT\)\n$/);
  const bad = await run('mov %r1, 0\nldxdw %r0, [%r1+0]\nexit\n');
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, 'tsbpf: -: pc 1: invalid read of 8 bytes at 0x0: null pointer dereference (EFAULT)\n');
  assert.equal(bad.status, 1);
});
