/**
 * The JIT's fast paths for XDP and tc (issue 17, items 3 and 6):
 * Program.runFrames (frames made contexts once, many runs per call into
 * WebAssembly, the helpers following each run's frame) against the
 * interpreter run frame by frame; the inline helpers' fallbacks, exact;
 * structured compilation of programs whose backward jumps make no cycle;
 * the straight-line lookup of an array map known at the call; and a fixed
 * corpus of the runtime fuzzer's inline-helper cases (test/fuzz/inline-diff.ts).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfSystem } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { Program } from '../src/api/program.js';
import type { EngineName } from '../src/runtime/engine.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { sampleFrames } from '../src/bench/xdp.js';
import { assemble } from '../src/isa/index.js';
import { JitProgram } from '../src/jit/program.js';
import { topologicalOrder } from '../src/jit/compile.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { Runtime } from '../src/runtime/runtime.js';
import { decodeSlots, encode } from '../src/isa/instruction.js';
import { BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_LD_MAP_FD, BPF_MOV64_IMM, BPF_MOV64_REG } from '../src/isa/builders.js';
import { prng } from './random-programs.js';
import { randomInlineCase, runInlineCase } from './fuzz/inline-diff.js';
import { expectErr } from './expect-error.js';

const object = (rel: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../${rel}`, import.meta.url)));

/** An object's program over the sample frames, `repeat` passes on `engine`: verdicts, frames after, every map's entries. */
function framesOn(rel: string, name: string, engine: EngineName, repeat: number): { verdicts: number[]; frames: string[]; maps: Record<string, string>; runs: number; engine: EngineName } {
  const sys = new BpfSystem({ profile: 'modern' });
  const col = new Collection(sys, loadCollectionSpec(object(rel)));
  try {
    const r = col.programs[name]!.runFrames(sampleFrames(), { repeat, engine });
    assert.equal(Number.isFinite(r.durationNs) && r.durationNs > 0, true);
    const maps = Object.fromEntries(Object.entries(col.maps).map(([n, m]) => [n, [...m.raw.entries()].map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`).sort().join(' ')]));
    return { verdicts: [...r.verdicts], frames: r.framesOut.map((f) => Buffer.from(f).toString('hex')), maps, runs: r.runs, engine: r.engine };
  } finally {
    col.close();
  }
}

test('runFrames: xdp_parse over the sample frames, 1000 passes (many runs per call into WebAssembly) give the interpreter\'s verdicts, frames and maps', () => {
  const jit = framesOn('test/c/xdp-parse.o', 'xdp_parse', 'jit', 1000);
  const int = framesOn('test/c/xdp-parse.o', 'xdp_parse', 'interpreter', 1000);
  assert.equal(jit.engine, 'jit');
  assert.equal(int.engine, 'interpreter');
  assert.equal(jit.runs, 9000);
  // XDP_PASS 7 frames, XDP_TX 2 (as the bench and the kernel give)
  assert.deepEqual([...jit.verdicts].sort(), [2, 2, 2, 2, 2, 2, 2, 3, 3]);
  assert.deepEqual(jit.verdicts, int.verdicts);
  assert.deepEqual(jit.frames, int.frames);
  assert.deepEqual(jit.maps, int.maps);
  // proto_count[P_ETH] counts every run: 9000, little-endian u64
  assert.equal(jit.maps['proto_count']!.split(' ')[0], `00000000=${Buffer.from(new BigUint64Array([9000n]).buffer).toString('hex')}`);
});

test('runFrames: tc_fields (array updates, bpf_skb_load_bytes and bpf_skb_store_bytes inline) gives the interpreter\'s verdicts, frames and maps', () => {
  const jit = framesOn('test/c/tc-skb.o', 'tc_fields', 'jit', 7);
  const int = framesOn('test/c/tc-skb.o', 'tc_fields', 'interpreter', 7);
  assert.deepEqual([...jit.verdicts].sort(), [0, 0, 0, 0, 0, 0, 2, 3, 3]);
  assert.deepEqual(jit.verdicts, int.verdicts);
  // bpf_skb_store_bytes wrote byte 11 of each frame (the low byte of its length)
  assert.deepEqual(jit.frames, int.frames);
  const frames = sampleFrames();
  jit.frames.forEach((f, i) => assert.equal(Buffer.from(f, 'hex')[11], frames[i]!.length & 0xff));
  assert.deepEqual(jit.maps, int.maps);
});

test('testRun with repeat on XDP and tc (one batch per 4096 runs, the last shorter): the interpreter\'s r0, frame after and maps', () => {
  const frames = sampleFrames();
  for (const [rel, name, repeat] of [['test/c/tc-skb.o', 'tc_fields', 5000], ['test/c/xdp-adjust.o', 'xdp_head', 7], ['test/c/xdp-adjust.o', 'xdp_tail', 4100],
    ['test/c/xdp-adjust.o', 'xdp_meta', 3], ['test/c/xdp-parse.o', 'xdp_parse', 4097]] as const) {
    const on = (engine: EngineName): string[] => {
      const sys = new BpfSystem({ profile: 'modern' });
      const col = new Collection(sys, loadCollectionSpec(object(rel)));
      try {
        const out = [frames[1]!, frames[4]!].map((f) => {
          const r = col.programs[name]!.testRun(f, repeat, engine);
          assert.equal(r.runs, repeat);
          return `${r.retval} ${Buffer.from(r.dataOut).toString('hex')}`;
        });
        for (const [n, m] of Object.entries(col.maps)) {
          if (m.keySize > 0) out.push(`${n}: ${[...m.raw.keys()].map((k) => Buffer.from(k).toString('hex')).sort().join(' ')}`);
        }
        return out;
      } finally {
        col.close();
      }
    };
    assert.deepEqual(on('jit'), on('interpreter'), `${rel} ${name}`);
  }
});

test('runFrames: a program that can tail-call runs frame by frame (no batch), with the interpreter\'s verdicts', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 2 });
  const target = Program.load(sys, { type: 'xdp', insns: [BPF_MOV64_IMM(0, 3), BPF_EXIT_INSN()] });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: new Uint8Array(4), value: new Uint8Array([target.fd, 0, 0, 0]), flags: 0 });
  const prog = Program.load(sys, { type: 'xdp', insns: [BPF_MOV64_REG(6, 1), BPF_LD_MAP_FD(2, pa), BPF_MOV64_IMM(3, 0), BPF_EMIT_CALL(12), BPF_MOV64_IMM(0, 1), BPF_EXIT_INSN()] });
  assert.equal((prog.object.prog.jit as JitProgram).batchesInputs, false);
  assert.equal((target.object.prog.jit as JitProgram).batchesInputs, true);
  const r = prog.runFrames(sampleFrames(), { repeat: 3, engine: 'jit' });
  assert.deepEqual([...r.verdicts], new Array(9).fill(3));
  assert.deepEqual([...prog.runFrames(sampleFrames(), { engine: 'interpreter' }).verdicts], new Array(9).fill(3));
  assert.equal(r.runs, 27);
});

test('runFrames: bad arguments are EINVAL before any run; a frame the type refuses is its test run\'s error', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const prog = Program.load(sys, { type: 'sched_cls', insns: [BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()] });
  expectErr(() => prog.runFrames('x' as unknown as Uint8Array[]), 'EINVAL', 'frames must be an array of Uint8Array, got \'x\' (a string)');
  expectErr(() => prog.runFrames([new Uint8Array(14), [1] as unknown as Uint8Array]), 'EINVAL', 'frame 1 must be a Uint8Array, got an array');
  expectErr(() => prog.runFrames([new Uint8Array(14)], { repeat: 0 }), 'EINVAL', 'repeat must be a positive integer, got 0');
  expectErr(() => prog.runFrames([new Uint8Array(14), new Uint8Array(4)]), 'EINVAL', 'a test run\'s frame has at least 14 bytes (an Ethernet header), got 4');
  const none = prog.runFrames([]);
  assert.deepEqual({ verdicts: [...none.verdicts], runs: none.runs, durationNs: none.durationNs, framesOut: none.framesOut }, { verdicts: [], runs: 0, durationNs: 0, framesOut: [] });
  prog.close();
  expectErr(() => prog.runFrames([new Uint8Array(14)]), 'EBADF', `program fd ${prog.fd} is closed`);
});

test('the inline helpers\' edge cases give the helpers\' own results: EEXIST, E2BIG, EINVAL, EFAULT with the buffer zeroed', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const arr = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 });
  // r7 = update(key 1, BPF_ANY) | update(key 1, BPF_NOEXIST) << 8 | update(key 2) << 16 | update(flags 4) << 24, each r0 & 0xff
  const src = `
    r6 = r1
    *(u64 *)(r10 -8) = 4660
    *(u32 *)(r10 -16) = 1
    r1 = map[fd:${arr}]
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -8
    r4 = 0
    call 2
    r7 = r0
    r7 &= 255
    r1 = map[fd:${arr}]
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -8
    r4 = 1
    call 2
    r0 &= 255
    r0 <<= 8
    r7 |= r0
    *(u32 *)(r10 -16) = 2
    r1 = map[fd:${arr}]
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -8
    r4 = 0
    call 2
    r0 &= 255
    r0 <<= 16
    r7 |= r0
    r1 = r6
    r2 = 50
    r3 = r10
    r3 += -8
    r4 = 8
    call 26
    r0 &= 255
    r0 <<= 24
    r7 |= r0
    r0 = *(u64 *)(r10 -8)
    r0 <<= 32
    r0 |= r7
    exit`;
  const prog = Program.load(sys, { type: 'sched_cls', insns: src });
  const frame = new Uint8Array(54);
  for (const engine of ['jit', 'interpreter'] as const) {
    const r = prog.runFrames([frame], { engine });
    // updates: 0, -17 (0xef), -7 (0xf9); load of 8 bytes at 50 of 54: -14 (0xf2), the buffer zeroed
    assert.equal(r.verdicts[0], 0xf2f9ef00, engine);
    assert.equal(prog.testRun(frame, 1, engine).retval, 0xf2f9ef00n, engine);
  }
});

/** clang's shared tails: 6 and 8 jump back to 4, and no jump makes a cycle */
const SHARED_TAILS = `
    r2 = *(u8 *)(r1 +0)
    r0 = 0
    if r2 == 1 goto pc+3
    if r2 == 2 goto pc+4
    r0 += 100
    exit
    r0 += 1
    goto pc-4
    r0 += 2
    goto pc-6`;

test('a function whose backward jumps make no cycle compiles to blocks and runs as the interpreter does; a real loop still runs', () => {
  // clang's shared tails: 6 and 8 jump back to 4
  const acyclic = assemble(SHARED_TAILS);
  const loop = assemble(`
    r2 = *(u8 *)(r1 +0)
    r0 = 0
    r0 += 3
    r2 += -1
    if r2 s> 0 goto pc-3
    exit`);
  const rt = new Runtime();
  const buf = rt.mem.alloc(8);
  for (const [insns, expect] of [[acyclic, [100, 101, 102, 100]], [loop, [3, 3, 6, 9]]] as const) {
    const slots = decodeSlots(encode(insns));
    const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
    const interp = new Interpreter(rt.mem, slots, { checked: false, helpers: rt.helpers });
    expect.forEach((want, b) => {
      rt.mem.u8[buf] = b;
      assert.equal(jit.run1({ r1: buf }), BigInt(want));
      assert.equal(interp.run({ r1: buf }).r0, BigInt(want));
    });
  }
});

test('the JIT\'s block order: a graph with backward edges but no cycle gets a topological order, lowest pc first; a cycle gets none', () => {
  const blocksOf = (src: string): { slots: ReturnType<typeof decodeSlots>; blocks: number[] } => {
    const slots = decodeSlots(encode(assemble(src)));
    const leaders = new Set<number>([0]);
    slots.forEach((s, pc) => {
      const jump = (s.code & 0x07) === 0x05 && s.code !== 0x85 && s.code !== 0x95;
      if (jump) leaders.add(pc + s.off + 1).add(pc + 1);
      if (s.code === 0x95) leaders.add(pc + 1);
    });
    return { slots, blocks: [...leaders].filter((l) => l < slots.length).sort((a, b) => a - b) };
  };
  const order = (src: string): number[] | undefined => {
    const { slots, blocks } = blocksOf(src);
    return topologicalOrder(slots, blocks, new Map(blocks.map((b, i) => [b, i])), slots.length);
  };
  // 6 and 8 jump back to 4: the shared tail goes last
  assert.deepEqual(order(SHARED_TAILS), [0, 3, 6, 8, 4]);
  // forward jumps only: the natural order
  assert.deepEqual(order(`
    r0 = 0
    if r1 == 0 goto pc+1
    r0 = 1
    exit`), [0, 2, 3]);
  assert.equal(order(`
    r0 = 0
    r0 += 3
    if r0 < 9 goto pc-2
    exit`), undefined);
});

test('the runtime fuzzer\'s inline-helper cases, a fixed corpus: the JIT\'s inline helpers (exec and batch) agree with the helpers', () => {
  const rnd = prng(17);
  let n = 0;
  for (; n < 60; n++) assert.deepEqual(runInlineCase(randomInlineCase(rnd)), []);
  assert.equal(n, 60);
});
