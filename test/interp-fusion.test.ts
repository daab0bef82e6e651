/**
 * Superinstructions (fast mode): every pair of fusable kinds gives the same
 * registers, memory and executed count as checked mode (which never fuses),
 * jumps into the second half of a fused pair, exact counts, faults naming
 * the right pc, and the generated code is up to date and still optimized.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assemble, toSlots } from '../src/isa/index.js';
import { BpfError } from '../src/errors.js';
import { Runtime } from '../src/runtime/runtime.js';
import { STACK_TOP } from '../src/memory/address-space.js';
import { FUSED_KIND_NAMES, FUSED_KEYS, Interpreter, KEY_MASK } from '../src/vm/interpreter.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Fast-mode keys of the predecoded program: slot i is fused when its key is one of the generated cases'. */
function keys(it: Interpreter): number[] {
  const p = (it as unknown as { prog: Int32Array }).prog;
  const out: number[] = [];
  for (let i = 0; i + 2 < p.length; i += 2) out.push(p[i]! & KEY_MASK);
  return out;
}
const fused = (k: number): boolean => FUSED_KEYS.has(k);

/** One instruction of the named kind, as assembler text, with random operands. */
function kindInsn(kind: string, rnd: () => number, immForm: boolean): string {
  const reg = (): number => 2 + (rnd() % 8);
  const d = reg();
  const s = reg(); // may equal d
  const imm32 = (): number => {
    const r = rnd() % 4;
    return r === 0 ? (rnd() % 64) : r === 1 ? -(rnd() % 100) - 1 : (rnd() | 0);
  };
  const src = immForm ? String(imm32()) : `%r${s}`;
  switch (kind) {
    case 'add': case 'sub': case 'mul': case 'or': case 'and': case 'xor': case 'mov':
      return `${kind} %r${d}, ${src}`;
    case 'lsh': case 'rsh': case 'arsh':
      return `${kind} %r${d}, ${immForm ? rnd() % 64 : `%r${s}`}`;
    case 'be16': case 'be32': case 'be64':
      return immForm ? `${kind} %r${d}` : `bswap${kind.slice(2)} %r${d}`;
    case 'ldxb': case 'ldxh': case 'ldxw': case 'ldxdw':
      // r1 is the 64-byte buffer
      return `${kind} %r${d}, [%r1+${rnd() % 56}]`;
    case 'stxb': case 'stxh': case 'stxw': case 'stxdw': {
      const o = -8 * (1 + (rnd() % 8));
      return immForm ? `st${kind.slice(3)} [%r10${o}], ${imm32()}` : `${kind} [%r10${o}], %r${s}`;
    }
    default:
      throw new Error(`no instruction for kind ${kind}`);
  }
}

interface Outcome {
  regs: number[];
  stack: number[];
  buffer: number[];
  r0: bigint;
  insns: number;
}

const RT = new Runtime();
const BUF = RT.mem.alloc(64);

function runBoth(src: string, input: Uint8Array, expectFusedAt?: number): [Outcome, Outcome] {
  const rt = RT;
  const addr = BUF;
  const slots = toSlots(assemble(src));
  const outs: Outcome[] = [];
  for (const checked of [false, true]) {
    rt.mem.write(addr, input);
    rt.mem.u8.fill(0, STACK_TOP - 512, STACK_TOP);
    const it = new Interpreter(rt.mem, slots, { checked, helpers: rt.helpers, regions: rt.regions });
    if (!checked && expectFusedAt !== undefined) assert.ok(fused(keys(it)[expectFusedAt]!), `slot ${expectFusedAt} is fused in:\n${src}`);
    const res = it.run({ r1: addr, r2: 64, regions: [{ start: addr, end: addr + 64, writable: true, name: 'buffer' }] });
    outs.push({
      regs: Array.from(it.registerHalves()),
      stack: Array.from(rt.mem.u8.subarray(STACK_TOP - 512, STACK_TOP)),
      buffer: Array.from(rt.mem.u8.subarray(addr, addr + 64)),
      r0: res.r0,
      insns: res.insns,
    });
  }
  return [outs[0]!, outs[1]!];
}

const PROLOGUE = Array.from({ length: 8 }, (_, k) => `ldxdw %r${2 + k}, [%r1+${8 * k}]`).join('\n');

test('every fusable kind pair: fast (fused) equals checked (unfused) over random operands', () => {
  const rnd = prng(0x5eed);
  let fusedPairs = 0;
  for (const k1 of FUSED_KIND_NAMES) {
    for (const k2 of FUSED_KIND_NAMES) {
      for (let trial = 0; trial < 12; trial++) {
        const input = Uint8Array.from({ length: 64 }, () => rnd() & 0xff);
        const a = kindInsn(k1, rnd, (trial & 1) === 1);
        const b = kindInsn(k2, rnd, (trial & 2) === 2);
        const src = `${PROLOGUE}\n${a}\n${b}\nmov %r0, %r2\nexit`;
        const probe = new Interpreter(RT.mem, toSlots(assemble(src)), { helpers: RT.helpers });
        if (fused(keys(probe)[8]!)) fusedPairs++;
        const [fast, checked] = runBoth(src, input);
        assert.deepEqual(fast, checked, `${k1} + ${k2}:\n${a}\n${b}`);
        assert.equal(fast.insns, 12);
      }
    }
  }
  // 4 x 3 load + swap and 4 x 4 store + load, with STX (ST is not fused); 12 trials each
  // (ST, the imm form of a store, is not fused: half the store + load trials)
  assert.equal(fusedPairs, 12 * 12 + 16 * 6);
});

test('random chains of loads, stores and swaps (fused pairs back to back): fast equals checked', () => {
  const rnd = prng(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + (rnd() % 9);
    const body = Array.from({ length: n }, () => kindInsn(FUSED_KIND_NAMES[rnd() % FUSED_KIND_NAMES.length]!, rnd, (rnd() & 3) === 0));
    const src = `${PROLOGUE}\n${body.join('\n')}\nmov %r0, %r${2 + (rnd() % 8)}\nexit`;
    const input = Uint8Array.from({ length: 64 }, () => rnd() & 0xff);
    const [fast, checked] = runBoth(src, input);
    assert.deepEqual(fast, checked, src);
    assert.equal(fast.insns, 8 + n + 2);
  }
});

test('a jump into the second half of a fused pair runs that instruction alone', () => {
  const src = `
    mov %r3, 0x1234
    stxdw [%r10-8], %r3
    jeq %r2, 1, +1
    stxh [%r10-8], %r2
    ldxh %r3, [%r10-8]
    be16 %r3
    mov %r0, %r3
    exit`;
  const rt = new Runtime();
  const fast = new Interpreter(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
  const k = keys(fast);
  assert.ok(fused(k[3]!), 'stxh + ldxh is fused');
  assert.ok(fused(k[4]!), 'ldxh + be16 is fused too');
  assert.ok(!fused(k[2]!), 'the jump is not');
  const checked = new Interpreter(rt.mem, toSlots(assemble(src)), { checked: true, helpers: rt.helpers });
  // fall through: the stored r2 = 0 swapped; jump: 0x1234 swapped
  for (const it of [fast, checked]) {
    assert.deepEqual(it.run({ r2: 0 }), { r0: 0n, insns: 8 });
    assert.deepEqual(it.run({ r2: 1 }), { r0: 0x3412n, insns: 7 });
  }
});

test('a backward loop through fused pairs counts every instruction', () => {
  const src = `
    mov %r0, 0
    mov %r3, 10
    stxdw [%r10-8], %r3
    ldxw %r4, [%r10-8]
    be32 %r4
    add %r0, %r4
    sub %r3, 1
    jne %r3, 0, -6
    exit`;
  const rt = new Runtime();
  const fast = new Interpreter(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
  assert.ok(fused(keys(fast)[2]!) && fused(keys(fast)[3]!));
  const checked = new Interpreter(rt.mem, toSlots(assemble(src)), { checked: true, helpers: rt.helpers });
  let r0 = 0n;
  for (let r3 = 10n; r3 > 0n; r3--) r0 += r3 << 24n;
  for (const it of [fast, checked]) {
    assert.deepEqual(it.run(), { r0, insns: 2 + 10 * 6 + 1 });
    assert.equal(it.executed, 63);
  }
  // the budget still ends a run at the exact instruction count in checked mode
  const tight = new Interpreter(rt.mem, toSlots(assemble(src)), { checked: true, budget: 62, helpers: rt.helpers });
  assert.throws(() => tight.run(), /instruction budget of 62 exceeded/);
});

test('a fault in a fused load names the load\'s pc', () => {
  const rt = new Runtime();
  const src = `
    mov %r0, 0
    mov %r2, %r1
    ldxh %r3, [%r2+2]
    be16 %r3
    mov %r0, %r3
    exit`;
  const fast = new Interpreter(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
  assert.ok(fused(keys(fast)[2]!), 'ldxh + be16 is fused');
  const far = rt.mem.byteLength + 0x1000;
  assert.throws(() => fast.run({ r1: far }), (e: unknown) => {
    assert.ok(e instanceof BpfError);
    assert.equal(e.code, 'EFAULT');
    assert.equal(e.message, `pc 2: memory access at 0x${(far + 2).toString(16)} outside the address space`);
    return true;
  });
  // and in range it loads big-endian
  const addr = rt.mem.alloc(8);
  rt.mem.write(addr, Uint8Array.from([0, 0, 0x12, 0x34]));
  assert.equal(fast.run({ r1: addr }).r0, 0x1234n);
});

test('a fault in the second instruction of a fused pair names its pc', () => {
  // store + load: the store is in range, the load faults; pc advances to it
  const rt = new Runtime();
  const src = `
    mov %r0, 0
    stxdw [%r10-8], %r1
    ldxdw %r0, [%r1+8]
    exit`;
  const fast = new Interpreter(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
  assert.ok(fused(keys(fast)[1]!));
  const far = rt.mem.byteLength;
  assert.throws(() => fast.run({ r1: far }), new RegExp(`pc 2: memory access at 0x${(far + 8).toString(16)} outside`));
});

test('the generated fused cases are up to date (scripts/gen-fused.mjs --check)', () => {
  const r = spawnSync(process.execPath, ['scripts/gen-fused.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('the interpreter loop stays under TurboFan\'s bytecode limit and is optimized', () => {
  const r = spawnSync(process.execPath, [
    '--trace-opt', '--print-bytecode', '--print-bytecode-filter=loopInner',
    'dist/src/bench/bench.js', '--measure', 'packet', 'fast',
  ], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const m = /Bytecode length: (\d+)/.exec(r.stdout);
  assert.ok(m, 'bytecode printed');
  // TurboFan gives up on functions over 60 KB (max_optimized_bytecode_size);
  // a wide margin, as the bytecode size differs between V8 versions
  assert.ok(Number(m[1]) <= 45 * 1024, `loopInner bytecode ${m[1]} bytes, over the 45 KB budget (TurboFan's limit is 61440)`);
  assert.match(r.stdout, /completed optimizing .*loopInner/);
});

test('K-form ALU and ST instructions are never fused, and agree with checked mode', () => {
  const src = `
    mov %r2, 7
    stdw [%r10-8], 5
    ldxdw %r3, [%r10-8]
    add %r3, %r2
    ldxh %r4, [%r1+0]
    add %r4, 1
    mov %r0, %r3
    add %r0, %r4
    exit`;
  const rt = new Runtime();
  const addr = rt.mem.alloc(8);
  rt.mem.write(addr, Uint8Array.from([0x34, 0x12]));
  const fast = new Interpreter(rt.mem, toSlots(assemble(src)), { helpers: rt.helpers });
  assert.deepEqual(keys(fast).map(fused), [false, false, false, false, false, false, false, false, false]);
  const checked = new Interpreter(rt.mem, toSlots(assemble(src)), { checked: true, helpers: rt.helpers });
  const regions = [{ start: addr, end: addr + 8, writable: false, name: 'buffer' }];
  for (const it of [fast, checked]) assert.deepEqual(it.run({ r1: addr, regions }), { r0: 12n + 0x1235n, insns: 9 });
});
