/**
 * The interpreter's checked mode, budget, packet loads, calls and memory
 * layout: exact results and exact faults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, toSlots } from '../src/isa/index.js';
import { BpfError } from '../src/errors.js';
import { Runtime } from '../src/runtime/runtime.js';
import { HelperRegistry, RET, ARG, argU32, setR0 } from '../src/runtime/helpers.js';
import { STACK_TOP, NULL_PAGE_END } from '../src/memory/address-space.js';
import { Interpreter, MAX_INTERP_SLOTS } from '../src/vm/interpreter.js';
import type { RunInput } from '../src/runtime/engine.js';
import { SOCKET_FILTER } from '../src/progs/types.js';

function interp(src: string, opts: { checked?: boolean; budget?: number; rt?: Runtime } = {}): Interpreter {
  const rt = opts.rt ?? new Runtime();
  return new Interpreter(rt.mem, toSlots(assemble(src)), { checked: opts.checked ?? true, budget: opts.budget, helpers: rt.helpers, regions: rt.regions });
}

function fault(f: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BpfError, `a BpfError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

test('r10 is the top of the stack and the stack is read/write in checked mode', () => {
  const it = interp(`
    mov %r0, %r10
    stdw [%r10-8], 0x2a
    ldxdw %r1, [%r10-8]
    stxdw [%r10-512], %r1
    ldxdw %r0, [%r10-512]
    exit`);
  assert.equal(it.run().r0, 42n);
  assert.equal(interp('mov %r0, %r10\nexit').run().r0, BigInt(STACK_TOP));
});

test('checked mode rejects a null dereference, naming pc, address and size', () => {
  fault(() => interp('mov %r1, 0\nldxw %r0, [%r1+16]\nexit').run(), 'EFAULT', /^pc 1: invalid read of 4 bytes at 0x10: null pointer dereference$/);
});

test('checked mode rejects stack accesses outside the frame', () => {
  fault(() => interp('ldxdw %r0, [%r10+0]\nexit').run(), 'EFAULT', /^pc 0: invalid read of 8 bytes at 0x11000: outside any region/);
  fault(() => interp('stb [%r10-513], 1\nexit').run(), 'EFAULT', /^pc 0: invalid write of 1 byte at 0x10dff: outside the stack frame$/);
  fault(() => interp('stdw [%r10-4], 1\nexit').run(), 'EFAULT', /^pc 0: invalid write of 8 bytes at 0x10ffc/);
});

test('checked mode rejects addresses with high bits set', () => {
  fault(() => interp('lddw %r1, 0x100011000\nldxb %r0, [%r1+0]\nexit').run(), 'EFAULT', /^pc 2: invalid read of 1 byte at 0x100011000: address beyond the address space$/);
});

test('a run may touch its own regions and respects read-only ones', () => {
  const rt = new Runtime();
  const addr = rt.mem.alloc(8);
  rt.mem.write(addr, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
  const input: RunInput = { r1: addr, regions: [{ start: addr, end: addr + 8, writable: false, name: 'ctx' }] };
  assert.equal(interp('ldxdw %r0, [%r1+0]\nexit', { rt }).run(input).r0, 0x0807060504030201n);
  fault(() => interp('ldxdw %r0, [%r1+1]\nexit', { rt }).run(input), 'EFAULT', /^pc 0: invalid read of 8 bytes at 0x[0-9a-f]+: outside any region/);
  fault(() => interp('stb [%r1+0], 1\nexit', { rt }).run(input), 'EFAULT', /ctx is read-only$/);
});

test('long-lived runtime regions (map storage) are accessible in checked mode', () => {
  const rt = new Runtime();
  const addr = rt.mem.alloc(16);
  rt.addRegion({ start: addr, end: addr + 16, writable: true, name: 'map value' });
  const it = interp(`lddw %r1, ${addr}\nstdw [%r1+8], 7\nldxdw %r0, [%r1+8]\nexit`, { rt });
  assert.equal(it.run().r0, 7n);
  rt.removeRegion(addr);
  fault(() => it.run(), 'EFAULT', /outside any region/);
});

test('the instruction budget stops an infinite loop with E2BIG naming the budget', () => {
  fault(() => interp('ja -1', { budget: 1000 }).run(), 'E2BIG', /instruction budget of 1000 exceeded/);
  fault(() => interp('mov %r0, 0\nloop:\nadd %r0, 1\njne %r0, 0, loop\nexit', { budget: 5000 }).run(), 'E2BIG', /^pc 2: instruction budget of 5000 exceeded$/);
  // exactly at the budget is fine: 3 instructions
  assert.equal(interp('mov %r0, 1\nja +0\nexit', { budget: 3 }).run().insns, 3);
  fault(() => interp('mov %r0, 1\nja +0\nexit', { budget: 2 }).run(), 'E2BIG', /budget of 2/);
});

test('falling off the end and jumping out of range are errors', () => {
  fault(() => interp('mov %r0, 1').run(), 'EFAULT', /^pc 0: execution fell off the end of the program$/);
  fault(() => interp('ja +5\nexit'), 'EINVAL', /^jump out of range from insn 0 to 6$/);
  fault(() => interp('ja -2\nexit'), 'EINVAL', /^jump out of range from insn 0 to -1$/);
  // into the second half of an ld_imm64
  fault(() => interp('ja +1\nlddw %r0, 1\nexit'), 'EINVAL', /^jump out of range from insn 0 to 2$/);
});

test('executed instructions are counted exactly', () => {
  const it = interp('mov %r0, 0\njeq %r0, 0, +1\nmov %r0, 5\nadd %r0, 1\nexit');
  const r = it.run();
  assert.equal(r.r0, 1n);
  assert.equal(r.insns, 4);
});

test('LD_ABS and LD_IND read the packet in network byte order and end the program out of bounds', () => {
  const rt = new Runtime();
  const pkt = Uint8Array.from([0x45, 0x00, 0x00, 0x54, 0xde, 0xad, 0xbe, 0xef]);
  const run = (src: string, data = pkt, r1?: number): bigint => {
    const prepared = SOCKET_FILTER.prepare(rt.mem, data);
    const input = r1 === undefined ? prepared.input : { ...prepared.input, r1 };
    try {
      return interp(src, { rt }).run(input).r0;
    } finally {
      prepared.release();
    }
  };
  assert.equal(run('ldabsb 0\nexit'), 0x45n);
  assert.equal(run('ldabsh 2\nexit'), 0x54n);
  assert.equal(run('ldabsw 4\nexit'), 0xdeadbeefn);
  assert.equal(run('mov %r3, 2\nldindh %r3, 4\nexit'), 0xbeefn);
  // last valid bytes, then one past: the program returns 0 at once
  assert.equal(run('ldabsw 4\nmov %r0, 7\nexit'), 7n);
  assert.equal(run('ldabsw 5\nmov %r0, 7\nexit'), 0n);
  assert.equal(run('ldabsb 8\nmov %r0, 7\nexit'), 0n);
  assert.equal(run('mov %r0, 9\nmov %r3, -1\nldindb %r3, 0\nmov %r0, 7\nexit'), 0n);
  // IND wraps in 32 bits: 0xffffffff + 1 = 0
  assert.equal(run('lddw %r3, 0xffffffff\nldindb %r3, 1\nexit'), 0x45n);
  // SKF_LL_OFF addresses the first byte; SKF_NET_OFF needs a known network header
  assert.equal(run(`ldabsb ${-0x200000 + 4}\nexit`), 0xden);
  assert.equal(run(`ldabsb ${-0x100000}\nmov %r0, 7\nexit`), 0n);
  assert.equal(run('ldabsb 0\nexit', new Uint8Array(0)), 0n);
});

test('helpers: registry calls, unknown ids, callx, and exit-on-zero', () => {
  const helpers = new HelperRegistry()
    .register({ id: 7, name: 'double', proto: { ret: RET.INTEGER, args: [ARG.ANYTHING] }, call: (regs) => setR0(regs, argU32(regs, 1) * 2) })
    .register({ id: 5, name: 'unwind', proto: { ret: RET.INTEGER, args: [ARG.ANYTHING] }, exitOnZero: true, call: (regs) => { regs[0] = regs[2]!; regs[1] = regs[3]!; } })
    .register({ id: 9, name: 'negative', proto: { ret: RET.INTEGER, args: [] }, call: (regs) => setR0(regs, -2) });
  const rt = new Runtime({ helpers });
  assert.equal(interp('mov %r1, 21\ncall 7\nexit', { rt }).run().r0, 42n);
  assert.equal(interp('mov %r1, 21\nmov %r3, 7\ncall %r3\nexit', { rt }).run().r0, 42n);
  assert.equal(interp('call 9\nexit', { rt }).run().r0, 0xfffffffffffffffen);
  assert.equal(interp('mov %r1, 0\ncall 5\nmov %r0, 3\nexit', { rt }).run().r0, 0n);
  assert.equal(interp('mov %r1, 1\ncall 5\nmov %r0, 3\nexit', { rt }).run().r0, 3n);
  fault(() => interp('call 8\nexit', { rt }).run(), 'EINVAL', /^pc 0: call to unknown helper 8 \(bpf_get_smp_processor_id\)$/);
  // an id the kernel has no helper for keeps its bare number
  fault(() => interp('call 999\nexit', { rt }).run(), 'EINVAL', /^pc 0: call to unknown helper 999$/);
});

test('local calls get a fresh frame and preserve r6-r9 and r10', () => {
  const it = interp(`
    mov %r6, 6
    stdw [%r10-8], 1
    mov %r1, %r10
    call local f
    ldxdw %r1, [%r10-8]
    add %r0, %r1
    add %r0, %r6
    exit
  f:
    mov %r6, 100
    mov %r0, %r10
    stdw [%r10-8], 2
    ldxdw %r2, [%r1-8]
    add %r0, %r2
    sub %r0, %r1
    exit`);
  // callee: r0 = (r10' - r10) + 1 where r10' = r10 - 512 -> -511; caller: + 1 + 6
  assert.equal(it.run().r0, BigInt.asUintN(64, -511n + 1n + 6n));
});

test('unbounded recursion stops at 8 frames', () => {
  fault(() => interp('f:\ncall local f\nexit').run(), 'E2BIG', /call depth exceeds 8 frames/);
});

test('fast mode still keeps every access inside the runtime memory', () => {
  fault(() => interp('lddw %r1, 0x7ffffff0\nldxdw %r0, [%r1+0]\nexit', { checked: false }).run(), 'EFAULT', /outside the address space/);
  // the null page is readable memory in fast mode (the verifier is the proof); it is still in bounds
  assert.equal(interp(`mov %r1, ${NULL_PAGE_END - 8}\nldxdw %r0, [%r1+0]\nexit`, { checked: false }).run().r0, 0n);
});

test('the interpreter takes programs up to MAX_INTERP_SLOTS slots and rejects longer ones with E2BIG', () => {
  const rt = new Runtime();
  const prog = (n: number) => toSlots([...Array.from({ length: n - 2 }, () => ({ code: 0x07, dst: 0, src: 0, off: 0, imm: 1 })), { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
  for (const checked of [false, true]) {
    const it = new Interpreter(rt.mem, prog(MAX_INTERP_SLOTS), { helpers: rt.helpers, checked });
    assert.equal(it.run().r0, BigInt(MAX_INTERP_SLOTS - 2));
    assert.throws(() => new Interpreter(rt.mem, prog(MAX_INTERP_SLOTS + 1), { helpers: rt.helpers, checked }),
      (e: unknown) => e instanceof BpfError && e.code === 'E2BIG' && e.message === `program of ${MAX_INTERP_SLOTS + 1} instructions exceeds the interpreter's ${MAX_INTERP_SLOTS}`);
  }
});
