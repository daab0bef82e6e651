/**
 * The WebAssembly JIT against the interpreter: the conformance vectors it
 * compiles, the socket-filter vectors, random programs over random inputs
 * (identical r0 and identical memory afterwards), map helpers, and batches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';
import { BpfError } from '../src/errors.js';
import { assemble, encode, toSlots } from '../src/isa/index.js';
import { conformanceHelpers } from '../src/api/conformance.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { BpfMap, u32, u64 } from '../src/api/map.js';
import { PacketRunner } from '../src/api/packets.js';
import { loadVectors, parseVector, projectRoot } from './conformance-data.js';
import { prng, randomPackets, randomSocketFilter } from './random-programs.js';
import { batchBytes, batchVerdicts, writeBatchDescriptor } from '../src/jit/batch.js';

test('conformance vectors under the JIT: all 313, local calls and callx included', () => {
  let passed = 0;
  for (const v of loadVectors()) {
    const rt = new Runtime({ helpers: conformanceHelpers() });
    const jit = new JitProgram(rt.mem, toSlots(assemble(v.asm)), { helpers: rt.helpers });
    let r1 = 0;
    if (v.mem.length) {
      r1 = rt.mem.alloc(v.mem.length);
      rt.mem.write(r1, v.mem);
    }
    assert.equal(jit.run1({ r1, r2: v.mem.length }), v.result, v.name);
    passed++;
  }
  assert.equal(passed, 313);
});

/** r0 and the error (code and message tail) of a run on the JIT and on the checked interpreter. */
function bothEngines(src: string, helpers = conformanceHelpers): { jit: string; interp: string } {
  const outcome = (f: () => bigint): string => {
    try {
      return `r0=0x${f().toString(16)}`;
    } catch (e) {
      assert.ok(e instanceof BpfError, String(e));
      return `${e.code}`;
    }
  };
  const slots = toSlots(assemble(src));
  const rt1 = new Runtime({ helpers: helpers() });
  const jit = outcome(() => new JitProgram(rt1.mem, slots, { helpers: rt1.helpers }).run1({}));
  const rt2 = new Runtime({ helpers: helpers() });
  const interp = outcome(() => new Interpreter(rt2.mem, slots, { checked: true, helpers: rt2.helpers }).run({}).r0);
  return { jit, interp };
}

test('local calls: frames, callee-saved r6..r9, r1..r5 as the callee left them, the depth limit, exit-on-zero from a callee', () => {
  // r1..r5 come back as the callee left them (the interpreter's register file is shared); r6..r9 do not.
  let r = bothEngines('mov %r6, 6\nmov %r1, 1\ncall local f\nlsh %r1, 8\nor %r0, %r1\nlsh %r6, 16\nor %r0, %r6\nexit\nf:\nmov %r1, 0x22\nmov %r6, 0x77\nmov %r0, 0x11\nexit');
  assert.deepEqual(r, { jit: 'r0=0x62211', interp: 'r0=0x62211' });
  // a callee's stack frame is 512 bytes below its caller's
  r = bothEngines('mov %r1, %r10\ncall local f\nexit\nf:\nmov %r0, %r1\nsub %r0, %r10\nstxdw [%r10-8], %r0\nldxdw %r0, [%r10-8]\nexit');
  assert.deepEqual(r, { jit: 'r0=0x200', interp: 'r0=0x200' });
  // nested calls three deep, each adding its depth
  r = bothEngines('mov %r0, 0\ncall local a\nexit\na:\nadd %r0, 1\ncall local b\nexit\nb:\nadd %r0, 10\ncall local c\nexit\nc:\nadd %r0, 100\nexit');
  assert.deepEqual(r, { jit: 'r0=0x6f', interp: 'r0=0x6f' });
  // endless recursion stops at 8 frames with E2BIG on both engines
  r = bothEngines('call local f\nexit\nf:\ncall local f\nexit');
  assert.deepEqual(r, { jit: 'E2BIG', interp: 'E2BIG' });
  // seven calls deep is allowed (8 frames)
  r = bothEngines('mov %r0, 0\nmov %r6, 7\ncall local f\nexit\nf:\nadd %r0, 1\nsub %r6, 1\njeq %r6, 0, out\ncall local f\nout:\nexit');
  assert.deepEqual(r, { jit: 'r0=0x7', interp: 'r0=0x7' });
  // helper 5 returning 0 inside a callee ends the whole program with r0 = 0
  r = bothEngines('mov %r0, 9\ncall local f\nmov %r0, 3\nexit\nf:\nmov %r1, 0\ncall 5\nmov %r0, 4\nexit');
  assert.deepEqual(r, { jit: 'r0=0x0', interp: 'r0=0x0' });
  // a loop inside a callee runs through the dispatch loop
  r = bothEngines('call local f\nexit\nf:\nmov %r0, 0\nmov %r1, 10\nl:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, l\nexit');
  assert.deepEqual(r, { jit: 'r0=0x37', interp: 'r0=0x37' });
});

test('callx: the helper id comes from a register; an unknown id is EINVAL on both engines', () => {
  let r = bothEngines('mov %r1, 7\nmov %r3, 5\ncall %r3\nexit');
  assert.deepEqual(r, { jit: 'r0=0x7', interp: 'r0=0x7' });
  r = bothEngines('mov %r1, 0\nmov %r3, 5\ncall %r3\nmov %r0, 1\nexit');
  assert.deepEqual(r, { jit: 'r0=0x0', interp: 'r0=0x0' });
  r = bothEngines('mov %r3, 99\ncall %r3\nexit');
  assert.deepEqual(r, { jit: 'EINVAL', interp: 'EINVAL' });
  r = bothEngines('lddw %r3, 0x100000005\ncall %r3\nexit');
  assert.deepEqual(r, { jit: 'EINVAL', interp: 'EINVAL' });
});

test('a backward jump: loops run through the dispatch loop, and an endless one runs out of fuel', () => {
  const rt = new Runtime();
  const sum = new JitProgram(rt.mem, toSlots(assemble('mov %r0, 0\nmov %r1, 100\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit')), { helpers: rt.helpers });
  assert.equal(sum.run1(), 5050n);
  const endless = new JitProgram(rt.mem, toSlots(assemble('mov %r0, 0\nja -1\nexit')), { helpers: rt.helpers });
  assert.throws(() => endless.run1(), { code: 'E2BIG', message: 'JIT: the budget of 10000000 taken jumps per run is exhausted' });
  // the flag is reset: a bounded run afterwards is fine
  assert.equal(sum.run1(), 5050n);
});

test('socket-filter vectors: the JIT agrees with the interpreter', () => {
  const dir = join(projectRoot(), 'test', 'socket-vectors');
  for (const f of readdirSync(dir)) {
    const v = parseVector(f, readFileSync(join(dir, f), 'utf8'));
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(assemble(v.asm)), license: 'GPL' });
    assert.ok(sys.progOf(fd).prog.jit, `${f} compiles`);
    assert.equal(testRun(sys, fd, v.mem, 1, 'jit').retval, v.result, f);
    assert.equal(testRun(sys, fd, v.mem, 1, 'interpreter').retval, v.result, f);
  }
});

/** A random straight-line-and-forward-jump program over r0-r9 and the stack; always terminates. */
function randomProgram(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const regs = ['%r0', '%r2', '%r3', '%r4', '%r5', '%r6', '%r7', '%r8', '%r9'];
  const lines = regs.map((r, i) => (rnd() < 0.5 ? `lddw ${r}, 0x${Math.floor(rnd() * 2 ** 32).toString(16)}${Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0')}` : `mov ${r}, ${i * 7 - 20}`));
  const n = 20 + Math.floor(rnd() * 60);
  const body: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = rnd();
    const d = pick(regs);
    const s = pick(regs);
    const w = pick(['', '32']);
    if (k < 0.45) {
      const op = pick(['add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov']);
      body.push(rnd() < 0.5 ? `${op}${w} ${d}, ${s}` : `${op}${w} ${d}, ${pick([0, 1, -1, 7, 31, 32, 63, 64, -2147483648, 2147483647, Math.floor(rnd() * 1e6)])}`);
    } else if (k < 0.55) {
      body.push(pick([`neg${w} ${d}`, `be16 ${d}`, `be32 ${d}`, `be64 ${d}`, `le16 ${d}`, `le32 ${d}`, `bswap64 ${d}`, `movsx864 ${d}, ${s}`, `movsx1632 ${d}, ${s}`, `movsx3264 ${d}, ${s}`]));
    } else if (k < 0.75) {
      const slot = -8 * (1 + Math.floor(rnd() * 8));
      body.push(pick([`stxdw [%r10${slot}], ${s}`, `stxw [%r10${slot}], ${s}`, `stxh [%r10${slot}], ${s}`, `stxb [%r10${slot}], ${s}`, `stdw [%r10${slot}], ${Math.floor(rnd() * 1e9) - 5e8}`]));
      body.push(pick([`ldxdw ${d}, [%r10${slot}]`, `ldxw ${d}, [%r10${slot}]`, `ldxh ${d}, [%r10${slot}]`, `ldxb ${d}, [%r10${slot}]`, `ldxsw ${d}, [%r10${slot}]`, `ldxsb ${d}, [%r10${slot}]`]));
    } else if (k < 0.8) {
      const slot = -8 * (1 + Math.floor(rnd() * 8));
      body.push(`stxdw [%r10${slot}], ${d}`);
      body.push(pick([`lock add [%r10${slot}], ${s}`, `lock fetch xor [%r10${slot}], ${s}`, `lock xchg32 [%r10${slot}], ${s}`, `lock cmpxchg [%r10${slot}], ${s}`, `lock fetch or32 [%r10${slot}], ${s}`]));
    } else {
      const j = pick(['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jset', 'jsgt', 'jsge', 'jslt', 'jsle']);
      body.push(`${j}${w} ${d}, ${rnd() < 0.5 ? s : Math.floor(rnd() * 100) - 50}, +${1 + Math.floor(rnd() * 4)}`);
    }
  }
  for (let b = 0; b < body.length; b++) {
    body[b] = body[b]!.replace(/\+(\d+)$/, (_m, x: string) => `+${Math.min(Number(x), body.length - b - 1)}`);
  }
  // fold every register into r0 so the result depends on all of them
  const fold = regs.slice(1).map((r) => `xor %r0, ${r}`);
  return [...lines, ...body, ...fold, 'exit'].join('\n');
}

test('random programs: identical r0 and stack from the interpreter (checked and fast) and the JIT', () => {
  const rnd = prng(0x9e3779b9);
  for (let i = 0; i < 400; i++) {
    const src = randomProgram(rnd);
    const slots = toSlots(assemble(src));
    const rt = new Runtime();
    // the programs may read stack bytes they did not write: every engine starts from
    // a zeroed stack, as the checked interpreter guarantees (issue 13, finding 4)
    rt.mem.u8.fill(0, 0x10e00, 0x11000);
    const checked = new Interpreter(rt.mem, slots, { checked: true, helpers: rt.helpers, regions: rt.regions }).run().r0;
    const stackAfterInterp = rt.mem.read(0x10e00, 512);
    rt.mem.u8.fill(0, 0x10e00, 0x11000);
    const fast = new Interpreter(rt.mem, slots, { helpers: rt.helpers }).run().r0;
    rt.mem.u8.fill(0, 0x10e00, 0x11000);
    const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run1();
    const stackAfterJit = rt.mem.read(0x10e00, 512);
    assert.equal(fast, checked, `program ${i}:\n${src}`);
    assert.equal(jit, checked, `program ${i}:\n${src}`);
    // the 64 bytes the programs use (fp-64..fp-1), after a clean start in both
    assert.deepEqual(stackAfterJit, stackAfterInterp, `program ${i}: the stack afterwards`);
  }
});

test('map helpers from JIT code: the same map contents as the interpreter', () => {
  for (const engine of ['jit', 'interpreter'] as const) {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64 });
    const p = Program.load(sys, {
      type: 'socket_filter',
      insns: `
        r6 = r1
        r0 = *(u8 *)skb[0]
        *(u32 *)(r10 -4) = r0
        r1 = map[fd:${m.fd}]
        r2 = r10
        r2 += -4
        call 1
        if r0 != 0x0 goto pc+11
        *(u64 *)(r10 -16) = 1
        r1 = map[fd:${m.fd}]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        call 2
        r0 = 1
        exit
        r1 = 1
        lock *(u64 *)(r0 +0) += r1
        r0 = 2
        exit`,
    });
    assert.equal(p.verified, true);
    const results = [3, 5, 3, 3, 7, 5].map((b) => p.testRun(Uint8Array.of(b), 1, engine).retval);
    assert.deepEqual(results, [1n, 1n, 2n, 2n, 1n, 2n]);
    assert.deepEqual([...m.entries()].sort((a, b) => a[0] - b[0]), [[3, 3n], [5, 2n], [7, 1n]]);
  }
});

test('a batch of packets in one call gives the verdicts of one-by-one runs', () => {
  const sys = new BpfSystem();
  const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, license: 'GPL', insns: encode(assemble('mov %r6, %r1\nldabsh 0\nmov %r7, %r0\nldxw %r0, [%r6+0]\nadd %r0, %r7\nexit')) });
  const rnd = prng(7);
  const packets = Array.from({ length: 1000 }, () => ({ data: Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)), netOff: -1 }));
  const batched = new PacketRunner(sys, fd, 'jit').runBatch(packets);
  const single = new PacketRunner(sys, fd, 'interpreter');
  const expected = packets.map((p) => (p.data.length < 2 ? 0 : ((p.data[0]! << 8) | p.data[1]!) + p.data.length));
  assert.deepEqual(Array.from(batched), expected);
  assert.deepEqual(packets.map((p) => single.run(p.data, p.netOff)), expected);
});

test('random socket filters (SKF offsets, out-of-bounds loads): batched JIT verdicts equal one-by-one interpreter runs', () => {
  const rnd = prng(0x5eed);
  let compared = 0;
  for (let i = 0; i < 200; i++) {
    const src = randomSocketFilter(rnd, true);
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, license: 'GPL', insns: encode(assemble(src)) });
    const packets = randomPackets(rnd);
    const batched = Array.from(new PacketRunner(sys, fd, 'jit').runBatch(packets));
    const interp = new PacketRunner(sys, fd, 'interpreter');
    const single = packets.map((p) => interp.run(p.data, p.netOff));
    assert.deepEqual(batched, single, `program ${i}:\n${src}`);
    compared += packets.length;
  }
  assert.equal(compared, 2400);
});

test('execBatch with loops, local calls and a fault: the same r0 as single runs, and E2BIG stops the batch', () => {
  const rt = new Runtime({ helpers: conformanceHelpers() });
  const buf = rt.mem.alloc(64);
  const N = 5;
  const desc = rt.mem.alloc(batchBytes(N));
  // run i gets r2 = i + 1 (the length field)
  for (let i = 0; i < N; i++) writeBatchDescriptor(rt.mem.view, desc, i, buf, buf, i + 1, -1);
  const programs = [
    // a loop: r0 = r2 * (r2 + 1) / 2
    'mov %r0, 0\nl:\nadd %r0, %r2\nsub %r2, 1\njne %r2, 0, l\nexit',
    // a local call doubling r2, and helper 5 ending the program from the callee when r2 is 3
    'mov %r1, %r2\ncall local f\nadd %r0, 100\nexit\nf:\nmov %r0, %r1\nlsh %r0, 1\nmov %r6, %r1\nsub %r6, 3\nmov %r1, %r6\ncall 5\nmov %r0, %r6\nadd %r0, 3\nlsh %r0, 1\nexit',
  ];
  for (const src of programs) {
    const jit = new JitProgram(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
    jit.execBatch(desc, N);
    const verdicts = Array.from(batchVerdicts(rt.mem, desc, N));
    const single = Array.from({ length: N }, (_, i) => Number(jit.run1({ r1: buf, r2: i + 1 })));
    assert.deepEqual(verdicts, single, src);
  }
  assert.deepEqual(Array.from(batchVerdicts(rt.mem, desc, N)), [102, 104, 0, 108, 110]);
  const endless = new JitProgram(rt.mem, toSlots(assemble('l:\nja l\nexit')), { helpers: rt.helpers });
  assert.throws(() => endless.execBatch(desc, N), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG');
  // the fault word is cleared: a good batch runs afterwards
  const ok = new JitProgram(rt.mem, toSlots(assemble('mov %r0, %r2\nexit')), { helpers: rt.helpers });
  ok.execBatch(desc, N);
  assert.deepEqual(Array.from(batchVerdicts(rt.mem, desc, N)), [1, 2, 3, 4, 5]);
});

test('ldxh + be16 is fused into one load and a swap, but not when a jump lands on the be16', () => {
  const rt = new Runtime();
  const buf = rt.mem.alloc(8);
  rt.mem.write(buf, Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]));
  const cases: [string, bigint][] = [
    // fused: the same register
    ['ldxh %r0, [%r1+2]\nbe16 %r0\nexit', 0x5678n],
    // the base register is the destination
    ['ldxh %r1, [%r1+6]\nbe16 %r1\nmov %r0, %r1\nexit', 0xdef0n],
    // a different register: not fused
    ['mov %r2, 0x1ffff\nldxh %r0, [%r1+0]\nbe16 %r2\nlsh %r2, 16\nor %r0, %r2\nexit', 0xffff3412n],
    // a jump lands on the be16: both paths swap
    ['ldxh %r0, [%r1+4]\njeq %r2, 0, +1\nldxh %r0, [%r1+0]\nbe16 %r0\nexit', 0x9abcn],
    ['ldxh %r0, [%r1+4]\njne %r2, 0, +1\nldxh %r0, [%r1+0]\nbe16 %r0\nexit', 0x1234n],
  ];
  for (const [src, want] of cases) {
    const slots = toSlots(assemble(src));
    assert.equal(new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run1({ r1: buf, r2: 0 }), want, src);
    assert.equal(new Interpreter(rt.mem, slots, { helpers: rt.helpers }).run({ r1: buf, r2: 0 }).r0, want, src);
  }
});

test('mov64 then a 64-bit ALU on the copy is fused (src naming the copy reads the source), but not when a jump lands on the ALU', () => {
  const rt = new Runtime();
  const cases: [string, bigint][] = [
    ['mov %r2, 7\nmov %r0, %r2\nadd %r0, 5\nexit', 12n],
    // src is the copy's register: it reads the source's value
    ['mov %r2, 7\nmov %r0, %r2\nmul %r0, %r0\nexit', 49n],
    ['mov %r2, 3\nmov %r3, 40\nmov %r0, %r2\nlsh %r0, %r3\nexit', 3n << 40n],
    ['mov %r2, -8\nmov %r0, %r2\narsh %r0, 1\nexit', 0xfffffffffffffffcn],
    ['mov %r2, 0xf0\nmov %r0, %r2\nxor %r0, %r2\nexit', 0n],
    // a division is not fused (RFC 9669's x/0): the pair still computes it
    ['mov %r2, 9\nmov %r3, 0\nmov %r0, %r2\ndiv %r0, %r3\nexit', 0n],
    // a jump lands on the ALU: both paths compute it from what r0 holds there
    ['mov %r0, 100\nmov %r2, 1\njeq %r1, 0, +1\nmov %r0, %r2\nadd %r0, 10\nexit', 110n],
    ['mov %r0, 100\nmov %r2, 1\njne %r1, 0, +1\nmov %r0, %r2\nadd %r0, 10\nexit', 11n],
    // another register: not fused
    ['mov %r2, 5\nmov %r0, %r2\nmov %r3, 1\nadd %r3, 1\nadd %r0, %r3\nexit', 7n],
  ];
  for (const [src, want] of cases) {
    const slots = toSlots(assemble(src));
    assert.equal(new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run1({ r1: 0, r2: 0 }), want, src);
    assert.equal(new Interpreter(rt.mem, slots, { helpers: rt.helpers }).run({ r1: 0, r2: 0 }).r0, want, src);
  }
  // random chains of copies and operations on every register: the JIT's r0 (all registers folded) is the interpreter's
  const rnd = prng(0x21f05e);
  const ops = ['add', 'sub', 'mul', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh'];
  for (let i = 0; i < 300; i++) {
    const lines: string[] = [];
    for (let r = 0; r <= 9; r++) lines.push(`lddw %r${r}, 0x${Math.floor(rnd() * 2 ** 32).toString(16)}${Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0')}`);
    for (let k = 0; k < 30; k++) {
      const d = Math.floor(rnd() * 10);
      const sr = Math.floor(rnd() * 10);
      const op = ops[Math.floor(rnd() * ops.length)]!;
      lines.push(`mov %r${d}, %r${sr}`);
      const src = rnd() < 0.5 ? `%r${rnd() < 0.3 ? d : Math.floor(rnd() * 10)}` : String(op.endsWith('sh') ? Math.floor(rnd() * 64) : Math.floor((rnd() - 0.5) * 2 ** 32));
      lines.push(`${op} %r${d}, ${src}`);
    }
    for (let r = 1; r <= 9; r++) lines.push(`lsh %r0, 7`, `xor %r0, %r${r}`);
    lines.push('exit');
    const slots = toSlots(assemble(lines.join('\n')));
    const want = new Interpreter(rt.mem, slots, { checked: true, helpers: rt.helpers, regions: rt.regions }).run({ r1: 0, r2: 0 }).r0;
    assert.equal(new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run1({ r1: 0, r2: 0 }), want, lines.join('\n'));
  }
});

test('batched runs with maps: a run replacing an element it holds, 200 packets, the same verdicts and map as one-by-one runs', () => {
  const outcome = (mode: 'batch' | 'jit' | 'interpreter'): { verdicts: number[]; entries: [number, bigint][] } => {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64 });
    const p = Program.load(sys, {
      type: 'socket_filter',
      insns: `
        r6 = r1
        r0 = *(u8 *)skb[0]
        *(u32 *)(r10 -4) = r0
        r1 = map[fd:${m.fd}]
        r2 = r10
        r2 += -4
        call 1
        if r0 != 0x0 goto pc+11
        *(u64 *)(r10 -16) = 1
        r1 = map[fd:${m.fd}]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        r0 &= 0xff
        exit
        r6 = r0
        r1 = *(u64 *)(r6 +0)
        r1 += 1
        *(u64 *)(r10 -16) = r1
        r1 = map[fd:${m.fd}]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        r0 &= 0xff
        r0 <<= 16
        r1 = *(u64 *)(r6 +0)
        r0 |= r1
        exit`,
    });
    assert.equal(p.verified, true);
    const rnd = prng(99);
    const packets = Array.from({ length: 200 }, () => ({ data: Uint8Array.of(Math.floor(rnd() * 12)), netOff: -1 }));
    const verdicts = mode === 'batch'
      ? Array.from(new PacketRunner(sys, p.fd, 'jit').runBatch(packets))
      : packets.map((pk) => new PacketRunner(sys, p.fd, mode).run(pk.data));
    return { verdicts, entries: [...m.entries()].sort((a, b) => a[0] - b[0]) };
  };
  const one = outcome('interpreter');
  assert.deepEqual(outcome('jit'), one);
  assert.deepEqual(outcome('batch'), one);
  // 8 keys got in (the rest E2BIG, 0xf9); the held pointer still reads the old value after its replacement
  assert.equal(one.entries.length, 8);
  assert.equal(one.verdicts.filter((v) => v === 0xf9).length > 0, true);
  const total = one.entries.reduce((a, [, v]) => a + v, 0n);
  assert.equal(total, BigInt(one.verdicts.filter((v) => v !== 0xf9).length));
  assert.ok(one.verdicts.some((v) => v === 1), 'an old value read through the held pointer');
});

test('the inline map lookup agrees with the maps own lookup: hash keys of 1..40 bytes (jhash words and tails), absent keys, array bounds', () => {
  const rnd = prng(4242);
  for (const keySize of [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 23, 24, 25, 36, 40]) {
    const sys = new BpfSystem();
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: keySize, value_size: 8, max_entries: 64 });
    const map = sys.mapOf(fd).impl;
    const mem = sys.runtime.mem;
    const keys: Uint8Array[] = [];
    const key = mem.alloc(keySize);
    const value = mem.alloc(8);
    for (let i = 0; i < 60; i++) {
      const k = Uint8Array.from({ length: keySize }, () => Math.floor(rnd() * 256));
      keys.push(k);
      mem.write(key, k);
      mem.view.setUint32(value, i, true);
      map.update(key, value, 0, 0);
    }
    // absent keys: random ones, and present ones with one byte changed (the last, the first)
    const probes = [...keys];
    for (let i = 0; i < 40; i++) probes.push(Uint8Array.from({ length: keySize }, () => Math.floor(rnd() * 256)));
    for (const k of keys.slice(0, 10)) {
      const last = Uint8Array.from(k);
      last[keySize - 1] ^= 1;
      const first = Uint8Array.from(k);
      first[0] ^= 0x80;
      probes.push(last, first);
    }
    const src = `lddw %r6, ${map.addr}\nmov %r2, %r1\nmov %r1, %r6\ncall 1\nexit`;
    const jit = new JitProgram(mem, toSlots(assemble(src)), { helpers: sys.runtime.helpers });
    let found = 0;
    for (const k of probes) {
      mem.write(key, k);
      const want = map.lookup(key);
      assert.equal(jit.run1({ r1: key }), BigInt(want), `key size ${keySize}, key ${Buffer.from(k).toString('hex')}`);
      if (want !== 0) found++;
    }
    assert.ok(found >= 60, `key size ${keySize}: ${found} found`);
  }
  // an array map: in range gives the value's address, out of range 0
  const sys = new BpfSystem();
  const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 12, max_entries: 5 });
  const map = sys.mapOf(fd).impl;
  const mem = sys.runtime.mem;
  const key = mem.alloc(4);
  const jit = new JitProgram(mem, toSlots(assemble(`lddw %r6, ${map.addr}\nmov %r2, %r1\nmov %r1, %r6\ncall 1\nexit`)), { helpers: sys.runtime.helpers });
  for (const i of [0, 1, 4, 5, 6, 0xffffffff, 0x80000000]) {
    mem.view.setUint32(key, i, true);
    const want = i < 5 ? map.lookup(key) : 0;
    assert.equal(jit.run1({ r1: key }), BigInt(want), `index ${i}`);
    if (i < 5) assert.notEqual(want, 0);
  }
  // not a map: the helper's own EFAULT
  const bad = new JitProgram(mem, toSlots(assemble(`mov %r2, %r1\nmov %r1, %r1\nadd %r1, 4\ncall 1\nexit`)), { helpers: sys.runtime.helpers });
  assert.throws(() => bad.run1({ r1: key }), (e: unknown) => e instanceof BpfError && e.code === 'EFAULT');
});
