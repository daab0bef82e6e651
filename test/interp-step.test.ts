/**
 * Interpreter.runStepped, the single-stepping the playground's debugger
 * uses: the pcs it stops at, the registers and memory it shows before each
 * instruction, and that a stepped run ends exactly as an ordinary run of the
 * same program (r0, registers, maps), through jumps, local calls, helper
 * calls, a bpf_loop callback and faults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, toSlots } from '../src/isa/index.js';
import type { Instruction } from '../src/isa/instruction.js';
import { BpfError, InternalError } from '../src/errors.js';
import { Runtime } from '../src/runtime/runtime.js';
import { STACK_TOP } from '../src/memory/address-space.js';
import { Interpreter } from '../src/vm/interpreter.js';
import type { StepPoint } from '../src/vm/interpreter.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import type { ProgObject } from '../src/api/objects.js';
import { prng, randomPackets, randomSocketFilter } from './random-programs.js';

function interp(src: string, checked = true, budget?: number): Interpreter {
  const rt = new Runtime();
  return new Interpreter(rt.mem, toSlots(assemble(src)), { checked, budget, helpers: rt.helpers, regions: rt.regions });
}

/** r0..r10 as unsigned bigints from registerHalves(). */
function regs(it: Interpreter): bigint[] {
  const h = it.registerHalves();
  return Array.from({ length: 11 }, (_, r) => (BigInt(h[2 * r + 1]! >>> 0) << 32n) | BigInt(h[2 * r]! >>> 0));
}

function fault(f: () => unknown, code: string, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BpfError, `a BpfError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

test('runStepped stops before every instruction, in execution order, with the registers as they stand there', () => {
  const it = interp(`
    r0 = 0
    r1 = 3
  loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    r0 *= 2
    exit`);
  const seen: [number, bigint, bigint][] = [];
  const res = it.runStepped({}, (at) => {
    const r = regs(it);
    seen.push([at.pc, r[0]!, r[1]!]);
  });
  assert.deepEqual(seen, [
    [0, 0n, 0n], [1, 0n, 0n],
    [2, 0n, 3n], [3, 3n, 3n], [4, 3n, 2n],
    [2, 3n, 2n], [3, 5n, 2n], [4, 5n, 1n],
    [2, 5n, 1n], [3, 6n, 1n], [4, 6n, 0n],
    [5, 6n, 0n], [6, 12n, 0n],
  ]);
  assert.deepEqual(res, { r0: 12n, insns: 13, stopped: false });
  assert.equal(it.executed, 13);
  // the same program run ordinarily afterwards: same r0 and count (the code arena is reloaded)
  assert.deepEqual(it.run(), { r0: 12n, insns: 13 });
});

test('runStepped follows local calls with their depth and frame, and the stack as the instruction finds it', () => {
  const it = interp(`
    r6 = 5
    *(u64 *)(r10 -8) = r6
    call f
    r1 = *(u64 *)(r10 -8)
    r0 += r1
    exit
  f:
    r1 = 7
    *(u64 *)(r10 -8) = r1
    r0 = *(u64 *)(r10 -8)
    exit`);
  const points: StepPoint[] = [];
  const r10: bigint[] = [];
  const stack: number[] = [];
  const mem = (it as unknown as { mem: { view: DataView } }).mem;
  it.runStepped({}, (at) => {
    points.push(at);
    r10.push(regs(it)[10]!);
    stack.push(mem.view.getUint32(STACK_TOP - 8, true));
  });
  assert.deepEqual(points.map((p) => `${p.pc}@${p.depth}`), ['0@0', '1@0', '2@0', '6@1', '7@1', '8@1', '9@1', '3@0', '4@0', '5@0']);
  assert.deepEqual(r10, [0, 0, 0, 1, 1, 1, 1, 0, 0, 0].map((d) => BigInt(STACK_TOP - d * 512)));
  assert.deepEqual(stack, [0, 0, 5, 5, 5, 5, 5, 5, 5, 5]);
  assert.deepEqual(it.runStepped({}, () => {}), { r0: 12n, insns: 10, stopped: false });
  assert.deepEqual(it.run(), { r0: 12n, insns: 10 });
});

test('false from onStep stops the run before that instruction, and an ordinary run can follow', () => {
  const it = interp('r0 = 1\nr0 += 2\nr0 += 4\nexit');
  assert.deepEqual(it.runStepped({}, (at) => at.pc !== 2), { r0: 3n, insns: 2, stopped: true });
  assert.deepEqual(it.runStepped({}, () => false), { r0: 0n, insns: 0, stopped: true });
  assert.deepEqual(it.run(), { r0: 7n, insns: 4 });
});

test('a stepped run faults where an ordinary one does, counts its steps against the budget, and refuses fast mode', () => {
  fault(() => interp('r1 = 0\nr0 = *(u32 *)(r1 +16)\nexit').runStepped({}, () => {}), 'EFAULT', 'pc 1: invalid read of 4 bytes at 0x10: null pointer dereference');
  fault(() => interp('r0 = 0\nr0 += 1\nif r0 != 0 goto pc-2\nexit', true, 50).runStepped({}, () => {}), 'E2BIG', 'pc 2: instruction budget of 50 exceeded');
  fault(() => interp('r0 = 0\nexit', false).runStepped({}, () => {}), 'EINVAL', 'stepping runs in the checked interpreter only');
  fault(() => interp('r0 = 0\nexit').runStepped({}, 1 as unknown as () => void), 'EINVAL', 'runStepped needs an onStep function');
  // after a fault the interpreter runs normally again
  const it = interp('r1 = 0\nr0 = *(u32 *)(r1 +16)\nexit');
  assert.throws(() => it.runStepped({}, () => {}), BpfError);
  assert.deepEqual(interp('r0 = 9\nexit').run(), { r0: 9n, insns: 2 });
  // onStep may not start a run of its own
  const outer = interp('r0 = 1\nexit');
  const inner = interp('r0 = 2\nexit');
  assert.throws(() => outer.runStepped({}, () => { inner.run(); }), InternalError);
  assert.deepEqual(inner.run(), { r0: 2n, insns: 2 });
});

const pseudoFunc = (dst: number, rel: number): Instruction => ({ code: 0x18, dst, src: 4, off: 0, imm: rel, imm2: 0 } as unknown as Instruction);

test('helper calls and a bpf_loop callback: one step each, the map changing between steps, the end as an ordinary run', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const map = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
  // value[0] += 10 through a lookup, then bpf_loop(3, cb) where cb adds 1 to r0's slot; r0 = the loop count
  const insns = [
    ...assemble(`*(u32 *)(r10 -4) = 0
      r2 = r10
      r2 += -4
      r1 = map[fd:${map}]
      call 1
      if r0 == 0x0 goto pc+9
      r1 = 10
      lock *(u64 *)(r0 +0) += r1
      r1 = 3`),
    pseudoFunc(2, 7),
    ...assemble(`r3 = 0
      r4 = 0
      call 181
      exit
      r0 = 0
      exit
      r0 = 0
      exit`),
  ];
  const fd = sys.loadUnverified({ prog_type: 1, insns, license: 'GPL' });
  const { prog } = sys.progOf(fd) as ProgObject;
  const it = prog.interpreter as Interpreter;
  const value = (): bigint => {
    const out = new Uint8Array(8);
    sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: map, key: new Uint8Array(4), value: out });
    return new DataView(out.buffer).getBigUint64(0, true);
  };
  const run = prog.type.prepare(sys.runtime.mem, new Uint8Array(60));
  const pcs: number[] = [];
  const values: bigint[] = [];
  try {
    const res = it.runStepped(run.input, (at) => {
      pcs.push(at.pc);
      values.push(value());
    });
    assert.deepEqual(res, { r0: 3n, insns: 14, stopped: false });
  } finally {
    run.release();
  }
  // the callback (pcs 18, 19) runs inside the step of the call at 14; 4 and 11 are ld_imm64s' second slots
  assert.deepEqual(pcs, [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]);
  assert.deepEqual(values, [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 10n, 10n, 10n, 10n, 10n, 10n]);
  // an ordinary run of the same program: the same r0, the map moved on by the same amount
  assert.equal(testRun(sys, fd, new Uint8Array(60)).retval, 3n);
  assert.equal(value(), 20n);
});

test('random socket filters: a stepped run ends as an ordinary checked run (r0, count, every register, or the same fault)', () => {
  const rnd = prng(0x57e9);
  let runs = 0;
  const r0s = new Set<string>();
  for (let i = 0; i < 120; i++) {
    const sys = new BpfSystem();
    const fd = sys.loadUnverified({ prog_type: 1, insns: assemble(randomSocketFilter(rnd, true)), license: 'GPL' });
    const { prog } = sys.progOf(fd) as ProgObject;
    const it = prog.interpreter as Interpreter;
    for (const pkt of randomPackets(rnd).slice(0, 3)) {
      const run = prog.type.prepare(sys.runtime.mem, pkt.data);
      const outcome = (f: () => { r0: bigint; insns: number }): string => {
        try {
          const r = f();
          return `r0=${r.r0} insns=${r.insns} regs=${regs(it).join(',')}`;
        } catch (e) {
          return `fault ${(e as BpfError).code}: ${(e as Error).message}`;
        }
      };
      try {
        const plain = outcome(() => it.run(run.input));
        let steps = 0;
        const stepped = outcome(() => {
          const r = it.runStepped(run.input, () => {
            steps++;
          });
          assert.equal(steps, r.insns);
          return r;
        });
        // a fault names the same pc and access; the stepped run's budget message differs only in its count
        assert.equal(stepped, plain, `program ${i}`);
        r0s.add(plain.split(' ')[0]!);
        runs++;
      } finally {
        run.release();
      }
    }
  }
  assert.equal(runs, 360);
  // the programs do different things: many distinct results
  assert.ok(r0s.size > 50, `${r0s.size} distinct r0 values`);
});
