/**
 * The hostile review's findings (issue 13), each as its reproducer: the
 * verifier rules that let unverified code run, and what the engines must do
 * when a program misbehaves anyway.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode, toSlots } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { UNVISITED_TRAP } from '../src/runtime/helpers.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';

const SOCKET_FILTER = 1;

function load(sys: BpfSystem, src: string): { fd?: number; err?: BpfError; log: string } {
  const logSize = 1 << 20;
  const insns = encode(assemble(src));
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: SOCKET_FILTER, insns, license: 'GPL', log_level: 1, log_size: logSize, log_buf: new Uint8Array(logSize),
    });
    return { fd, log: sys.progOf(fd).prog.log };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { err: e, log: e.log ?? '' };
  }
}

describe('finding 1: a 32-bit mov zero-extends its constant', () => {
  const foldable = `(u32) r1 = (u32) -1
    if r1 == 0xffffffff goto pc+2
    r0 = 4660
    exit
    r0 = 0
    exit`;

  test('the fall-through of `if r1 == -1` is explored, and it is the path that runs on every engine', () => {
    const sys = new BpfSystem();
    const r = load(sys, foldable);
    assert.equal(r.err, undefined);
    assert.equal(r.log, [
      '0: (b4) (u32) r1 = (u32) -1',
      '1: (15) if r1 == 0xffffffff goto pc+2',
      ' R1=imm4294967295 R10=fp',
      '2: (b7) r0 = 4660',
      '3: (95) exit',
      '',
      'from 1 to 4: R1=imm-1 R10=fp',
      '4: (b7) r0 = 0',
      '5: (95) exit',
      '',
    ].join('\n'));
    for (const engine of ['interpreter', 'jit'] as const) {
      assert.equal(testRun(sys, r.fd!, new Uint8Array(64), 1, engine).retval, 4660n);
    }
  });

  test('the unverified path that dereferenced a map header is now checked and refused', () => {
    const sys = new BpfSystem();
    const m = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
    const r = load(sys, `(u32) r1 = (u32) -1
      if r1 == 0xffffffff goto pc+4
      r1 = map[fd:${m}]
      r0 = *(u64 *)(r1 +0)
      exit
      r0 = 0
      exit`);
    assert.equal(r.err?.code, 'EACCES');
    assert.equal(r.err?.message, "insn 4: R1 invalid mem access 'map_ptr'");
  });

  test('a 64-bit mov of -1 is still the constant -1, and the comparison still folds', () => {
    const sys = new BpfSystem();
    const r = load(sys, foldable.replace('(u32) r1 = (u32) -1', 'r1 = -1'));
    assert.equal(r.err, undefined);
    assert.equal(r.log, ['0: (b7) r1 = -1', '1: (15) if r1 == 0xffffffff goto pc+2', '4: (b7) r0 = 0', '5: (95) exit', ''].join('\n'));
    assert.equal(testRun(sys, r.fd!, new Uint8Array(64), 1, 'interpreter').retval, 0n);
  });

  test('a 32-bit mov of a non-negative constant keeps its value', () => {
    const sys = new BpfSystem();
    const r = load(sys, `(u32) r1 = (u32) 7
      if r1 == 0x7 goto pc+1
      exit
      r0 = 0
      exit`);
    // the fall-through is never explored (r0 would be !read_ok there), so the fold holds
    assert.equal(r.err, undefined);
    assert.doesNotMatch(r.log, /^2:/m);
  });
});

describe('finding 6: what the engines cannot run or must not write is refused', () => {
  test('an atomic fetch into r10: frame pointer is read only', () => {
    const r = load(new BpfSystem(), `r1 = r10
      *(u64 *)(r10 -8) = 0
      r10 = atomic64_fetch_add((u64 *)(r1 -8), r10)
      r0 = 0
      exit`);
    assert.equal(r.err?.code, 'EACCES');
    assert.equal(r.err?.message, 'insn 2: frame pointer is read only');
  });

  test('LD_ABS of size DW (0x38) is a reserved-field error, not a run-time unknown opcode', () => {
    const sys = new BpfSystem();
    const insns = new Uint8Array(24);
    // r6 = r1; ldabs dw [0]; exit
    insns.set([0xbf, 0x16, 0, 0, 0, 0, 0, 0, 0x38, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(
      () => sys.bpf('BPF_PROG_LOAD', { prog_type: SOCKET_FILTER, insns, license: 'GPL' }),
      (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === 'insn 1: BPF_LD_ABS uses reserved fields',
    );
  });
});

describe('finding 4: an unverified program touches only its own regions', () => {
  test("another map's value, read by address, is EFAULT; its own map's value is readable", () => {
    const sys = new BpfSystem();
    const other = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
    const mine = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
    const otherValue = sys.mapOf(other).impl.directValue!();
    const mineValue = sys.mapOf(mine).impl.directValue!();
    // the value of map[0] is 0x1122334455667788 in both maps
    for (const fd of [other, mine]) {
      sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: new Uint8Array(4), value: new Uint8Array([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]) });
    }
    const prog = (addr: number, withMap: boolean): number => sys.loadUnverified({
      prog_type: SOCKET_FILTER, license: 'GPL',
      insns: encode(assemble(`${withMap ? `r2 = map[fd:${mine}]\n` : ''}r1 = 0x${addr.toString(16)}
        r0 = *(u64 *)(r1 +0)
        exit`)),
    });
    assert.equal(testRun(sys, prog(mineValue, true), new Uint8Array(64)).retval, 0x1122334455667788n);
    assert.throws(() => testRun(sys, prog(otherValue, true), new Uint8Array(64)), (e: unknown) =>
      e instanceof BpfError && e.code === 'EFAULT' &&
      e.message === `pc 4: invalid read of 8 bytes at 0x${otherValue.toString(16)}: outside any region the program may access`);
    assert.throws(() => testRun(sys, prog(mineValue, false), new Uint8Array(64)), (e: unknown) =>
      e instanceof BpfError && e.code === 'EFAULT' && /outside any region the program may access/.test(e.message));
  });
});

describe('instructions the verifier never visited become traps', () => {
  // r1 = 5 makes `if r1 == 5` always taken: the fall-through is never explored, so the kfunc call
  // there (which the verifier would refuse, and the JIT cannot compile) is dead code.
  const src = `r1 = 5
    if r1 == 0x5 goto pc+2
    call 7
    exit
    r0 = 0
    exit`;

  test('a folded-away instruction is replaced by the trap; the JIT then compiles the program', () => {
    const sys = new BpfSystem();
    const slots = encode(assemble(src));
    slots[2 * 8 + 1] = 0x20; // call 7 -> src 2: a kfunc call
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: SOCKET_FILTER, insns: slots, license: 'GPL' });
    const prog = sys.progOf(fd).prog;
    assert.deepEqual(prog.slots.map((s) => [s.code, s.src, s.imm]), [[0xb7, 0, 5], [0x15, 0, 5], [0x85, 0, UNVISITED_TRAP], [0x85, 0, UNVISITED_TRAP], [0xb7, 0, 0], [0x95, 0, 0]]);
    assert.ok(prog.jit !== undefined);
    for (const engine of ['interpreter', 'jit', 'jit-hardened'] as const) assert.equal(testRun(sys, fd, new Uint8Array(64), 1, engine).retval, 0n);
  });

  test('reaching the trap is EFAULT on every engine', () => {
    const rt = new Runtime();
    const slots = toSlots([{ code: 0x85, dst: 0, src: 0, off: 0, imm: UNVISITED_TRAP }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    for (const checked of [false, true]) {
      assert.throws(() => new Interpreter(rt.mem, slots, { checked, helpers: rt.helpers }).run(), (e: unknown) =>
        e instanceof BpfError && e.code === 'EFAULT' && e.message === 'pc 0: reached an instruction the verifier never visited');
    }
    assert.throws(() => new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run(), (e: unknown) =>
      e instanceof BpfError && e.code === 'EFAULT' && e.message === 'reached an instruction the verifier never visited');
  });
});
