/**
 * The Engine interface (runtime/engine.ts), held to by every engine: the
 * fast and the checked interpreter, the JIT and the hardened JIT built over
 * one program give the same r0 through run() and through exec() with
 * retLo/retHi, say who they are, count instructions or say they do not
 * (-1), offer execBatch exactly when they can run a batch, and give back
 * what they took from the runtime's memory on free().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, toSlots } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import type { Engine, EngineName, RunInput } from '../src/runtime/engine.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';
import { batchBytes, batchVerdicts, writeBatchDescriptor } from '../src/jit/batch.js';

/** r0 = the u32 at r1 + r2 (a byte offset into 8 bytes), plus a loop of r2 rounds: 3 + 3 * r2 + 2 instructions. */
const SOURCE = `
  mov %r0, 0
  mov %r3, %r2
  add %r1, %r2
loop:
  jeq %r3, 0, +3
  add %r0, 1
  sub %r3, 1
  ja loop
  ldxw %r4, [%r1+0]
  add %r0, %r4
  exit`;

function engines(rt: Runtime): [EngineName, string, Engine][] {
  const slots = toSlots(assemble(SOURCE));
  const o = { helpers: rt.helpers };
  return [
    ['interpreter', 'fast', new Interpreter(rt.mem, slots, { ...o, checked: false })],
    ['interpreter', 'checked', new Interpreter(rt.mem, slots, { ...o, checked: true, regions: rt.regions })],
    ['jit', 'jit', new JitProgram(rt.mem, slots, o)],
    ['jit-hardened', 'hardened', new JitProgram(rt.mem, slots, { ...o, hardened: { batchContext: { size: 8, writable: false } } })],
  ];
}

test('every engine runs one program to the same r0 through run() and exec(), and counts instructions or says -1', () => {
  const rt = new Runtime();
  const buf = rt.mem.alloc(8);
  rt.mem.write(buf, new Uint8Array([1, 2, 3, 4, 0x10, 0, 0, 0]));
  const input = (r2: number): RunInput => ({ r1: buf, r2, regions: [{ start: buf, end: buf + 8, writable: false, name: 'buffer' }] });
  for (const [name, what, e] of engines(rt)) {
    assert.equal(e.engineName, name, what);
    assert.deepEqual(e.run(input(4)), { r0: 4n + 0x10n, insns: name === 'interpreter' ? 3 + 4 * 4 + 1 + 3 : -1 }, what);
    e.exec(input(0));
    assert.deepEqual([e.retLo, e.retHi, e.executed], [0x04030201, 0, name === 'interpreter' ? 3 + 1 + 3 : -1], what);
    e.free();
  }
});

test('execBatch exactly on the engines that run batches, each run of the batch giving its verdict', () => {
  const rt = new Runtime();
  const n = 3;
  const buf = rt.mem.alloc(8);
  rt.mem.write(buf, new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
  const desc = rt.mem.alloc(batchBytes(n));
  // each run: r1 = the buffer; the packet is absent (r2 = 0 in a batch)
  for (let i = 0; i < n; i++) writeBatchDescriptor(rt.mem.view, desc, i, buf, 0, 0, -1);
  const batching = engines(rt).filter(([, , e]) => e.execBatch !== undefined).map(([, what]) => what);
  assert.deepEqual(batching, ['jit', 'hardened']);
  for (const [, what, e] of engines(rt)) {
    if (!e.execBatch) continue;
    e.execBatch(desc, n);
    assert.deepEqual(Array.from(batchVerdicts(rt.mem, desc, n)), [7, 7, 7], what);
    assert.equal(e.retLo, 7, what);
  }
});

test('free() gives back what an engine took from the runtime\'s memory', () => {
  const rt = new Runtime();
  const before = rt.mem.allocatedBytes;
  const built = engines(rt);
  assert.ok(rt.mem.allocatedBytes > before, 'the JITs hold scratch memory');
  for (const [, , e] of built) e.free();
  assert.equal(rt.mem.allocatedBytes, before);
});
