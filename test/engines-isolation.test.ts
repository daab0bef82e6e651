/**
 * The checked interpreter's isolation (issue 13, findings 3 and 4): frames
 * bounded by the call depth, not by r10; stack frames that start zeroed,
 * whatever another program left there (the first of each also on the
 * hardened JIT, through the API); and the coverage option the
 * soundness fuzzer's folding differential records executed instructions
 * with.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode, toSlots } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { NULL_PAGE_END, RUN_GEN_ADDR, STACK_FRAME_SIZE, STACK_TOP } from '../src/memory/address-space.js';
import { Interpreter } from '../src/vm/interpreter.js';

const SOCKET_FILTER = 1;

function fault(f: () => unknown, code: string, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BpfError, `a BpfError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

function unverified(sys: BpfSystem, src: string): number {
  return sys.loadUnverified({ prog_type: SOCKET_FILTER, insns: encode(assemble(src)), license: 'GPL' });
}

function interp(src: string, opts: { checked?: boolean; coverage?: Uint8Array; budget?: number; rt?: Runtime } = {}): Interpreter {
  const rt = opts.rt ?? new Runtime();
  return new Interpreter(rt.mem, toSlots(assemble(src)), {
    checked: opts.checked ?? true, budget: opts.budget, coverage: opts.coverage, helpers: rt.helpers, regions: rt.regions,
  });
}

describe('finding 3: checked frames follow the call depth, not r10', () => {
  test('the reproducer: r10 = 1024 and a local call no longer open the null page (the run generation word)', () => {
    const sys = new BpfSystem();
    // the hash map makes runs bump the run generation, as in the finding
    sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 8, max_entries: 4 });
    const fd = unverified(sys, `
      mov %r10, 1024
      call local f
      exit
    f:
      lddw %r1, ${RUN_GEN_ADDR}
      stw [%r1+0], 0x41414141
      mov %r0, 0
      exit`);
    const view = sys.runtime.mem.view;
    view.setUint32(RUN_GEN_ADDR, 1234, true);
    // the checked interpreter (an unverified program's default) and the hardened JIT, in the same words
    for (const engine of ['interpreter', 'jit-hardened'] as const) {
      fault(() => testRun(sys, fd, new Uint8Array(16), 1, engine), 'EFAULT', `pc 5: invalid write of 4 bytes at 0x${RUN_GEN_ADDR.toString(16)}: null pointer dereference`);
      assert.equal(view.getUint32(RUN_GEN_ADDR, true), 1234);
    }
  });

  test('through the callee\'s own r10, too: it is the depth\'s frame, and its stores land there', () => {
    const sys = new BpfSystem();
    const fd = unverified(sys, `
      mov %r10, 1024
      call local f
      exit
    f:
      stdw [%r10-8], 0x5a
      ldxdw %r0, [%r10-8]
      add %r0, %r10
      exit`);
    for (const engine of ['interpreter', 'jit-hardened'] as const) {
      sys.runtime.mem.view.setUint32(STACK_TOP - STACK_FRAME_SIZE - 8, 0, true);
      assert.equal(testRun(sys, fd, new Uint8Array(16), 1, engine).retval, BigInt(STACK_TOP - STACK_FRAME_SIZE + 0x5a));
      assert.equal(sys.runtime.mem.view.getUint32(1024 - STACK_FRAME_SIZE - 8, true), 0);
      assert.equal(sys.runtime.mem.view.getUint32(STACK_TOP - STACK_FRAME_SIZE - 8, true), 0x5a);
    }
  });

  test('a moved r10 in the outermost frame reaches nothing either', () => {
    fault(() => interp('mov %r10, 1024\nldxdw %r0, [%r10-8]\nexit').run(), 'EFAULT', 'pc 1: invalid read of 8 bytes at 0x3f8: null pointer dereference');
    // just below the frame: the next frame down is not the outermost frame's
    fault(() => interp(`mov %r10, ${STACK_TOP - STACK_FRAME_SIZE}\nstdw [%r10-8], 1\nexit`).run(), 'EFAULT',
      `pc 1: invalid write of 8 bytes at 0x${(STACK_TOP - STACK_FRAME_SIZE - 8).toString(16)}: outside the stack frame`);
  });

  test('a return restores the caller\'s r10 from the depth, also when the caller had moved it (high half included)', () => {
    const it = interp(`
      lddw %r10, 0x100000400
      call local f
      mov %r0, %r10
      exit
    f:
      mov %r0, 0
      exit`);
    assert.equal(it.run().r0, BigInt(STACK_TOP));
    // and the callee's r10, whatever the caller's was
    assert.equal(interp('lddw %r10, 0x100000400\ncall local f\nexit\nf:\nmov %r0, %r10\nexit').run().r0, BigInt(STACK_TOP - STACK_FRAME_SIZE));
  });

  test('a callee moving r10 before a nested call still gets the next frame down, and depth still bounds recursion', () => {
    const it = interp(`
      call local f
      exit
    f:
      mov %r10, 0
      call local g
      exit
    g:
      mov %r0, %r10
      exit`);
    assert.equal(it.run().r0, BigInt(STACK_TOP - 2 * STACK_FRAME_SIZE));
    fault(() => interp('f:\nmov %r10, 100000\ncall local f\nexit').run(), 'E2BIG', 'pc 1: call depth exceeds 8 frames');
  });
});

describe('finding 4 (stack): a checked run starts with zeroed frames', () => {
  test('a verified program\'s secret on the stack reads as 0 in an unverified program, after either engine', () => {
    const sys = new BpfSystem();
    const a = sys.bpf('BPF_PROG_LOAD', {
      prog_type: SOCKET_FILTER, insns: encode(assemble('lddw %r1, 0x5ec2e75ec2e7\nstxdw [%r10-8], %r1\nstxdw [%r10-512], %r1\nmov %r0, 0\nexit')), license: 'GPL',
    });
    const b = unverified(sys, 'ldxdw %r0, [%r10-8]\nldxdw %r1, [%r10-512]\nor %r0, %r1\nexit');
    for (const engine of ['interpreter', 'jit'] as const) {
      for (const reader of ['interpreter', 'jit-hardened'] as const) {
        assert.equal(testRun(sys, a, new Uint8Array(16), 1, engine).retval, 0n);
        assert.equal(sys.runtime.mem.view.getUint32(STACK_TOP - 8, true), 0xe75ec2e7, `${engine} left its secret`);
        assert.equal(testRun(sys, b, new Uint8Array(16), 1, reader).retval, 0n, `${reader} after the ${engine}`);
      }
    }
  });

  test('a callee\'s frame starts zeroed too, also when a fast-mode run left data there', () => {
    const rt = new Runtime();
    const writer = interp('call local f\nexit\nf:\nstdw [%r10-8], 0x77\nstdw [%r10-512], 0x77\nexit', { checked: false, rt });
    writer.run();
    assert.equal(rt.mem.view.getUint32(STACK_TOP - STACK_FRAME_SIZE - 8, true), 0x77);
    const reader = interp('call local f\nexit\nf:\nldxdw %r0, [%r10-8]\nldxdw %r1, [%r10-512]\nadd %r0, %r1\nexit', { rt });
    assert.equal(reader.run().r0, 0n);
  });

  test('within one checked run the stack is the program\'s own: a callee reads what its caller stored', () => {
    const it = interp('stdw [%r10-8], 9\nmov %r6, %r10\ncall local f\nexit\nf:\nldxdw %r0, [%r6-8]\nexit');
    assert.equal(it.run().r0, 9n);
  });
});

describe('coverage: the instructions a checked run executed', () => {
  const branchy = `
      mov %r0, 0
      jeq %r1, 0, +3
      lddw %r2, 0x100000000
      add %r0, 1
      jgt %r1, 5, +1
      add %r0, 10
      exit`;

  test('exact per run and accumulated over runs; the second slot of ld_imm64 is never marked', () => {
    const cov = new Uint8Array(8);
    const it = interp(branchy, { coverage: cov });
    const r = it.run({ r1: 0 });
    assert.equal(r.r0, 10n);
    assert.equal(r.insns, 5);
    assert.deepEqual([...cov], [1, 1, 0, 0, 0, 1, 1, 1]);
    // the count is of slots: ld_imm64 counts 2
    assert.equal(it.run({ r1: 9 }).insns, 7);
    assert.deepEqual([...cov], [1, 1, 1, 0, 1, 1, 1, 1]);
  });

  test('the instruction counts and the budget are the same with and without coverage', () => {
    const loop = 'mov %r0, 0\nloop:\nadd %r0, 1\njne %r0, 100, loop\nexit';
    const plain = interp(loop).run();
    const cov = new Uint8Array(4);
    const covered = interp(loop, { coverage: cov }).run();
    assert.equal(covered.insns, plain.insns);
    assert.equal(covered.insns, 202);
    assert.deepEqual([...cov], [1, 1, 1, 1]);
    assert.equal(interp(loop, { coverage: new Uint8Array(4), budget: 202 }).run().insns, 202);
    fault(() => interp(loop, { coverage: new Uint8Array(4), budget: 201 }).run(), 'E2BIG', 'instruction budget of 201 exceeded');
    fault(() => interp(loop, { budget: 201 }).run(), 'E2BIG', 'instruction budget of 201 exceeded');
    fault(() => interp(loop, { coverage: new Uint8Array(4), budget: 150 }).run(), 'E2BIG', 'pc 2: instruction budget of 150 exceeded');
    fault(() => interp(loop, { budget: 150 }).run(), 'E2BIG', 'pc 2: instruction budget of 150 exceeded');
  });

  test('local calls, helper exits, packet loads out of bounds and faults end segments where they happen', () => {
    const cov = new Uint8Array(7);
    interp('call local f\nmov %r0, 1\nexit\nmov %r0, 9\nf:\nmov %r0, 2\nexit\nexit', { coverage: cov }).run();
    assert.deepEqual([...cov], [1, 1, 1, 0, 1, 1, 0]);
    const faulty = new Uint8Array(4);
    fault(() => interp('mov %r1, 0\nldxdw %r0, [%r1+0]\nmov %r0, 1\nexit', { coverage: faulty }).run(), 'EFAULT', 'pc 1: invalid read of 8 bytes at 0x0: null pointer dereference');
    assert.deepEqual([...faulty], [1, 1, 0, 0]);
    // LD_ABS past the packet ends the program with r0 = 0
    const abs = new Uint8Array(4);
    assert.equal(interp('mov %r0, 5\nldabsw 100\nmov %r0, 1\nexit', { coverage: abs }).run({ packet: { addr: STACK_TOP, len: 0 } }).r0, 0n);
    assert.deepEqual([...abs], [1, 1, 0, 0]);
  });

  test('EINVAL in fast mode, and for an array shorter than the program', () => {
    fault(() => interp('exit', { checked: false, coverage: new Uint8Array(1) }), 'EINVAL', 'coverage is recorded in checked mode only');
    fault(() => interp('mov %r0, 0\nexit', { coverage: new Uint8Array(1) }), 'EINVAL', 'coverage must be a Uint8Array of at least 2 entries');
  });

  test('the null page stays out of reach of a covered run', () => {
    fault(() => interp(`mov %r1, ${NULL_PAGE_END - 8}\nldxdw %r0, [%r1+0]\nexit`, { coverage: new Uint8Array(3) }).run(), 'EFAULT',
      `pc 1: invalid read of 8 bytes at 0x${(NULL_PAGE_END - 8).toString(16)}: null pointer dereference`);
  });
});
