/**
 * Callbacks on every engine: programs calling bpf_loop and
 * bpf_for_each_map_elem, verified under the modern profile, run by the
 * interpreter, the JIT and the hardened JIT (and, loaded unverified, the
 * checked interpreter), each in a system of its own built alike: r0 and
 * every map after the runs must be the same, and the values the tests
 * compute by hand. Also the run-time rules the verifier leaves to the
 * helpers (bpf_loop's E2BIG and EINVAL, the 8-frame limit) and a batch of
 * frames through the JIT.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import { assemble } from '../src/isa/index.js';
import type { Instruction } from '../src/isa/instruction.js';
import { encode } from '../src/isa/instruction.js';
import { Program } from '../src/api/program.js';
import { disasm } from '../src/isa/disasm.js';
import { randomCallbackCase, runCallbackCase } from './fuzz/callback-diff.js';
import { prng } from './random-programs.js';

const ENGINES = ['interpreter', 'jit', 'jit-hardened'] as const;

/**
 * A program of parts: the main function, then each callback, assembled in
 * order. `r2 = func[k]` loads callback k (BPF_PSEUDO_FUNC, pc-relative
 * once placed); `map[fd:k]` is map k of the system (its fd put in).
 */
function program(parts: readonly string[], fds: readonly number[]): Instruction[] {
  // positions in slots (an ld_imm64 takes two), as the pc-relative offset counts them
  const starts: number[] = [];
  const out: Instruction[] = [];
  const pending: { insn: Instruction; slot: number; k: number }[] = [];
  let slot = 0;
  for (const part of parts) {
    starts.push(slot);
    const text = part.replace(/map\[fd:(\d+)\]/g, (_, k: string) => `map[fd:${fds[Number(k)]!}]`)
      .replace(/^(\s*r\d) = func\[(\d+)\]$/gm, (_, r: string, k: string) => `${r} = map[fd:${9000 + Number(k)}]`);
    for (const i of assemble(text)) {
      if (i.code === 0x18 && i.src === 1 && i.imm >= 9000) pending.push({ insn: i, slot, k: i.imm - 9000 });
      out.push(i);
      slot += i.code === 0x18 ? 2 : 1;
    }
  }
  for (const { insn, slot: at, k } of pending) {
    insn.src = 4;
    insn.imm = starts[k + 1]! - at - 1;
  }
  return out;
}

interface MapDef { map_type: number; key_size: number; value_size: number; max_entries: number; entries?: [number, bigint][] }

/** A modern system with the maps made and filled (u32 keys, u64 values; per-CPU: the value for each CPU). */
function system(maps: readonly MapDef[]): { sys: BpfSystem; fds: number[] } {
  // two CPUs: a per-CPU map's callback must see the run's (CPU 0's) values, not the other's
  const sys = new BpfSystem({ profile: 'modern', cpus: 2 });
  const fds = maps.map((m) => {
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: m.map_type, key_size: m.key_size, value_size: m.value_size, max_entries: m.max_entries }) as number;
    for (const [k, v] of m.entries ?? []) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, k, true);
      const percpu = m.map_type === 5 || m.map_type === 6;
      const value = new Uint8Array(percpu ? 8 * sys.runtime.cpus : m.value_size);
      const dv = new DataView(value.buffer);
      for (let c = 0; c < (percpu ? sys.runtime.cpus : 1); c++) dv.setBigUint64(c * 8, v + BigInt(c) * 1000n, true);
      sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key, value, flags: 0 });
    }
    return fd;
  });
  return { sys, fds };
}

/** Every map's elements as `key=value` hex, in get_next_key order. */
function mapsOf(sys: BpfSystem, fds: readonly number[]): string[] {
  return fds.map((fd) => {
    const m = sys.mapOf(fd).impl;
    const out: string[] = [];
    const mem = sys.runtime.mem;
    const key = mem.alloc(m.keySize);
    const next = mem.alloc(m.keySize);
    try {
      let prev = 0;
      while (m.getNextKey(prev, next) === 0) {
        const v = m.lookup(next);
        const hex = (a: number, n: number): string => Buffer.from(mem.u8.subarray(a, a + n)).toString('hex');
        out.push(`${hex(next, m.keySize)}=${v === 0 ? '-' : hex(v, m.valueSize)}`);
        mem.u8.copyWithin(key, next, next + m.keySize);
        prev = key;
      }
    } finally {
      mem.release(key);
      mem.release(next);
    }
    return out.join(' ');
  });
}

/** The outcome of a run: r0, or the error's code and message. */
function outcome(f: () => bigint): string {
  try {
    return `r0 ${f()}`;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return `${e.code}: ${e.message}`;
  }
}

/**
 * Load `parts` verified (a socket filter of the modern profile) in a fresh
 * system for each engine and run it `runs` times over a 20-byte packet;
 * also unverified in the checked interpreter. Every engine must give the
 * same outcomes and maps; returns them.
 */
function onEveryEngine(parts: readonly string[], maps: readonly MapDef[] = [], runs = 1): { outcomes: string[]; maps: string[] } {
  const results: { engine: string; outcomes: string[]; maps: string[] }[] = [];
  for (const engine of [...ENGINES, 'checked'] as const) {
    const { sys, fds } = system(maps);
    const insns = encode(program(parts, fds));
    const fd = engine === 'checked'
      ? sys.loadUnverified({ prog_type: 1, insns, license: 'GPL' })
      : sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns, license: 'GPL' }) as number;
    // the JIT compiled it: the default engine runs callbacks in WebAssembly
    if (engine !== 'checked') assert.ok(sys.progOf(fd).prog.jit !== undefined, 'the JIT compiles the program');
    const outcomes: string[] = [];
    for (let i = 0; i < runs; i++) outcomes.push(outcome(() => testRun(sys, fd, new Uint8Array(20), 1, engine === 'checked' ? undefined : engine).retval));
    results.push({ engine, outcomes, maps: mapsOf(sys, fds) });
  }
  const [first, ...rest] = results;
  for (const r of rest) {
    assert.deepEqual(r.outcomes, first!.outcomes, `${r.engine} against the interpreter`);
    assert.deepEqual(r.maps, first!.maps, `${r.engine}'s maps against the interpreter's`);
  }
  return { outcomes: first!.outcomes, maps: first!.maps };
}

// bpf_loop(n, cb, &fp[-8], 0) summing the indexes into fp-8; the callback returns 1 at index `stop`:
// r0 = runs << 16 | sum
const SUM = (n: number | string, stop: number, flags = 0): string[] => [`
  *(u64 *)(r10 -8) = 0
  r1 = ${n}
  r2 = func[0]
  r3 = r10
  r3 += -8
  r4 = ${flags}
  call 181
  r1 = *(u64 *)(r10 -8)
  r0 <<= 16
  r0 |= r1
  exit`, `
  r3 = *(u64 *)(r2 +0)
  r3 += r1
  *(u64 *)(r2 +0) = r3
  r0 = 0
  if r1 != ${stop} goto pc+1
  r0 = 1
  exit`];

test('bpf_loop on every engine: the callback runs until it returns 1, the result is the runs made', () => {
  // 0..3, never stopping: 4 runs, sum 6
  assert.deepEqual(onEveryEngine(SUM(4, 99)).outcomes, [`r0 ${(4n << 16n) | 6n}`]);
  // stops at index 5: 6 runs, sum 15
  assert.deepEqual(onEveryEngine(SUM(100, 5)).outcomes, [`r0 ${(6n << 16n) | 15n}`]);
  // stops at once: 1 run
  assert.deepEqual(onEveryEngine(SUM(100, 0)).outcomes, [`r0 ${1n << 16n}`]);
  // no runs at all
  assert.deepEqual(onEveryEngine(SUM(0, 0)).outcomes, ['r0 0']);
});

test('bpf_loop with its callback moved from another register (the JIT leaves the loop to the helper, through JavaScript): the same results', () => {
  const viaR5 = (parts: string[]): string[] => [parts[0]!.replace('r2 = func[0]', 'r5 = func[0]\n  r2 = r5'), ...parts.slice(1)];
  assert.deepEqual(onEveryEngine(viaR5(SUM(4, 99))).outcomes, [`r0 ${(4n << 16n) | 6n}`]);
  assert.deepEqual(onEveryEngine(viaR5(SUM(100, 5))).outcomes, [`r0 ${(6n << 16n) | 15n}`]);
  assert.deepEqual(onEveryEngine(viaR5(SUM((1 << 23) + 1, 0))).outcomes, [`r0 ${BigInt.asUintN(64, -7n << 16n)}`]);
});

test('bpf_loop on every engine: nr_loops up to 1 << 23, E2BIG above; flags other than 0 are EINVAL, before any run', () => {
  // 1 << 23 is allowed (the callback stops at once), 1 << 23 + 1 is -E2BIG and no callback runs
  assert.deepEqual(onEveryEngine(SUM(1 << 23, 0)).outcomes, [`r0 ${1n << 16n}`]);
  assert.deepEqual(onEveryEngine(SUM((1 << 23) + 1, 0)).outcomes, [`r0 ${BigInt.asUintN(64, -7n << 16n)}`]);
  assert.deepEqual(onEveryEngine(SUM(3, 9, 1)).outcomes, [`r0 ${BigInt.asUintN(64, -22n << 16n)}`]);
  // the count is nr_loops' low 32 bits: 2^32 + 2 runs twice
  assert.deepEqual(onEveryEngine(SUM('0x100000002 ll', 9)).outcomes, [`r0 ${(2n << 16n) | 1n}`]);
});

test('nested bpf_loop on every engine: each callback has its frame; the inner one sees the outer index through the context', () => {
  // ctx = fp-16: ctx[0] the outer index, ctx[8] the sum of 10 * outer + inner over 3 x 4 runs = 138
  const r = onEveryEngine([`
    *(u64 *)(r10 -8) = 0
    *(u64 *)(r10 -16) = 0
    r1 = 3
    r2 = func[0]
    r3 = r10
    r3 += -16
    r4 = 0
    call 181
    r1 = *(u64 *)(r10 -8)
    r0 <<= 16
    r0 |= r1
    exit`, `
    *(u64 *)(r2 +0) = r1
    *(u64 *)(r10 -8) = r2
    r1 = 4
    r2 = func[1]
    r3 = *(u64 *)(r10 -8)
    r4 = 0
    call 181
    r0 = 0
    exit`, `
    r3 = *(u64 *)(r2 +0)
    r3 *= 10
    r3 += r1
    r4 = *(u64 *)(r2 +8)
    r4 += r3
    *(u64 *)(r2 +8) = r4
    r0 = 0
    exit`]);
  assert.deepEqual(r.outcomes, [`r0 ${(3n << 16n) | 138n}`]);
});

// bpf_for_each_map_elem(map[fd:0], cb, &fp[-16], 0): ctx[0] the sum of the values, ctx[8] the sum of the
// keys; the callback returns 1 at key `stop`; r0 = count << 32 | sum of values << 16 | sum of keys
const EACH = (stop: number): string[] => [`
  *(u64 *)(r10 -8) = 0
  *(u64 *)(r10 -16) = 0
  r1 = map[fd:0]
  r2 = func[0]
  r3 = r10
  r3 += -16
  r4 = 0
  call 164
  r0 <<= 32
  r1 = *(u64 *)(r10 -16)
  r1 <<= 16
  r0 |= r1
  r1 = *(u64 *)(r10 -8)
  r0 |= r1
  exit`, `
  r5 = *(u64 *)(r3 +0)
  r6 = *(u64 *)(r4 +0)
  r6 += r5
  *(u64 *)(r4 +0) = r6
  r5 = *(u32 *)(r2 +0)
  r6 = *(u64 *)(r4 +8)
  r6 += r5
  *(u64 *)(r4 +8) = r6
  r0 = 0
  if r5 != ${stop} goto pc+1
  r0 = 1
  exit`];

const packed = (count: number, values: number, keys: number): string => `r0 ${(BigInt(count) << 32n) | (BigInt(values) << 16n) | BigInt(keys)}`;

test('bpf_for_each_map_elem over an array on every engine: every element in key order, stopping when the callback returns 1', () => {
  const array: MapDef = { map_type: 2, key_size: 4, value_size: 8, max_entries: 4, entries: [[0, 10n], [1, 20n], [2, 30n], [3, 40n]] };
  assert.deepEqual(onEveryEngine(EACH(99), [array]).outcomes, [packed(4, 100, 6)]);
  // stops at key 2: three elements
  assert.deepEqual(onEveryEngine(EACH(2), [array]).outcomes, [packed(3, 60, 3)]);
  // an array's elements always exist: zeros count
  assert.deepEqual(onEveryEngine(EACH(99), [{ ...array, entries: [] }]).outcomes, [packed(4, 0, 6)]);
});

test('bpf_for_each_map_elem over a hash on every engine: its get_next_key order, stopping, and an empty map (no callback, 0)', () => {
  const hash: MapDef = { map_type: 1, key_size: 4, value_size: 8, max_entries: 8, entries: [[7, 1n], [3, 2n], [12, 4n], [5, 8n]] };
  assert.deepEqual(onEveryEngine(EACH(99), [hash]).outcomes, [packed(4, 15, 27)]);
  // where it stops depends on the order: the elements up to key 12 in get_next_key order
  const { sys, fds } = system([hash]);
  const order = mapsOf(sys, fds)[0]!.split(' ').map((e) => Buffer.from(e.split('=')[0]!, 'hex').readUInt32LE(0));
  const upTo = order.slice(0, order.indexOf(12) + 1);
  const value = (k: number): number => Number(hash.entries!.find(([kk]) => kk === k)![1]);
  assert.deepEqual(onEveryEngine(EACH(12), [hash]).outcomes, [packed(upTo.length, upTo.reduce((s, k) => s + value(k), 0), upTo.reduce((s, k) => s + k, 0))]);
  assert.deepEqual(onEveryEngine(EACH(99), [{ ...hash, entries: [] }]).outcomes, [packed(0, 0, 0)]);
});

test('bpf_for_each_map_elem over a percpu_array on every engine: the callback sees the run\'s CPU\'s values', () => {
  // CPU 0's values are 5, 6, 7 (CPU 1's would be 1005...)
  const percpu: MapDef = { map_type: 6, key_size: 4, value_size: 8, max_entries: 3, entries: [[0, 5n], [1, 6n], [2, 7n]] };
  assert.deepEqual(onEveryEngine(EACH(99), [percpu]).outcomes, [packed(3, 18, 3)]);
  assert.deepEqual(onEveryEngine(EACH(1), [percpu]).outcomes, [packed(2, 11, 1)]);
});

test('callbacks writing a map on every engine: through the value pointer, and with bpf_map_update_elem of another map', () => {
  const array: MapDef = { map_type: 2, key_size: 4, value_size: 8, max_entries: 3, entries: [[0, 1n], [1, 2n], [2, 3n]] };
  const hash: MapDef = { map_type: 1, key_size: 4, value_size: 8, max_entries: 8 };
  // each element: *value *= 3, then hash[key] = *value + 100 (the key and value pointers as the helper's arguments)
  const r = onEveryEngine([`
    r1 = map[fd:0]
    r2 = func[0]
    r3 = 0
    r4 = 0
    call 164
    exit`, `
    r5 = *(u64 *)(r3 +0)
    r5 *= 3
    *(u64 *)(r3 +0) = r5
    r5 += 100
    *(u64 *)(r10 -8) = r5
    r1 = map[fd:1]
    r3 = r10
    r3 += -8
    r4 = 0
    call 2
    r0 = 0
    exit`], [array, hash], 2);
  // two runs: the array tripled twice, the hash holding the last run's values + 100
  assert.deepEqual(r.outcomes, ['r0 3', 'r0 3']);
  const u64 = (v: number): string => Buffer.from(new BigUint64Array([BigInt(v)]).buffer).toString('hex');
  assert.equal(r.maps[0], `00000000=${u64(9)} 01000000=${u64(18)} 02000000=${u64(27)}`);
  assert.deepEqual(r.maps[1]!.split(' ').sort(), [`00000000=${u64(109)}`, `01000000=${u64(118)}`, `02000000=${u64(127)}`]);
});

test('callbacks past 8 frames: E2BIG with the helper call\'s pc, alike in the checked interpreter and the hardened JIT', () => {
  // unverified: a callback that runs bpf_loop with itself as the callback, deeper and deeper
  const parts = [`
    r1 = 1
    r2 = func[0]
    r3 = 0
    r4 = 0
    call 181
    exit`, `
    r1 = 1
    r2 = func[0]
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit`];
  const got = (['interpreter', 'jit-hardened'] as const).map((engine) => {
    const sys = new BpfSystem({ profile: 'modern' });
    const fd = sys.loadUnverified({ prog_type: 1, insns: encode(program(parts, [])), license: 'GPL' });
    return outcome(() => testRun(sys, fd, new Uint8Array(20), 1, engine).retval);
  });
  // pc 12: the callback's call 181 (main's 7 slots, then r1, the ld_imm64's two, r3, r4)
  assert.deepEqual(got, ['E2BIG: pc 12: call depth exceeds 8 frames', 'E2BIG: pc 12: call depth exceeds 8 frames']);
});

test('the key bpf_for_each_map_elem passes is read-only: a callback writing it faults in the checked interpreter and the hardened JIT', () => {
  const parts = [`
    r1 = map[fd:0]
    r2 = func[0]
    r3 = 0
    r4 = 0
    call 164
    exit`, `
    *(u32 *)(r2 +0) = 1
    r0 = 0
    exit`];
  const array: MapDef = { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 };
  const got = (['interpreter', 'jit-hardened'] as const).map((engine) => {
    const { sys, fds } = system([array]);
    const fd = sys.loadUnverified({ prog_type: 1, insns: encode(program(parts, fds)), license: 'GPL' });
    try {
      testRun(sys, fd, new Uint8Array(20), 1, engine);
      return 'ran';
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      return e.code;
    }
  });
  assert.deepEqual(got, ['EFAULT', 'EFAULT']);
});

test('a bpf_loop program over many frames: the JIT\'s batch gives each frame the interpreter\'s verdict', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  // XDP: bpf_loop(data_end - data, cb, &fp[-8], 0) summing the indexes; XDP_DROP (1) when the sum is odd, else XDP_PASS
  const insns = program([`
    r2 = *(u32 *)(r1 +0)
    r1 = *(u32 *)(r1 +4)
    r1 -= r2
    *(u64 *)(r10 -8) = 0
    r2 = func[0]
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = *(u64 *)(r10 -8)
    r0 &= 1
    r1 = 2
    r1 -= r0
    r0 = r1
    exit`, `
    r3 = *(u64 *)(r2 +0)
    r3 += r1
    *(u64 *)(r2 +0) = r3
    r0 = 0
    exit`], []);
  const p = Program.load(sys, { type: 'xdp', insns, license: 'GPL' });
  const frames = [14, 15, 17, 18, 60, 61, 62, 63].map((n) => new Uint8Array(n));
  // the sum of 0..n-1 is n(n-1)/2: odd for n % 4 of 2 or 3
  const want = frames.map((f) => (f.length % 4 >= 2 ? 1 : 2));
  for (const engine of ENGINES) assert.deepEqual([...p.runFrames(frames, { engine }).verdicts].map(Number), want, engine);
  p.close();
});

test('a callback address that is no subprogram (unverified): the checked interpreter runs from it, the hardened JIT refuses it at the call', () => {
  // bpf_loop(1, <tagged pc>, 0, 0) at pc 5: pc 0 (the entry function), 2 (the ld_imm64's second slot), 99 (past the end)
  const tagged = (pc: number): Instruction[] => [
    ...assemble(`r1 = 1\nr2 = 0x${(0x0cb0cb00n << 32n | BigInt(pc)).toString(16)}\nr3 = 0\nr4 = 0\ncall 181\nexit`),
  ];
  const want: Record<number, string[]> = {
    // the interpreter's callback from pc 0 calls bpf_loop again, each a frame deeper
    0: ['E2BIG: pc 5: call depth exceeds 8 frames', 'EFAULT: pc 5: callback at insn 0 is not a function the JIT compiled'],
    2: ['EFAULT: pc 5: callback at insn 2 is not an instruction of the program', 'EFAULT: pc 5: callback at insn 2 is not an instruction of the program'],
    99: ['EFAULT: pc 5: callback at insn 99 is not an instruction of the program', 'EFAULT: pc 5: callback at insn 99 is not an instruction of the program'],
  };
  for (const pc of [0, 2, 99]) {
    const got = (['interpreter', 'jit-hardened'] as const).map((engine) => {
      const sys = new BpfSystem({ profile: 'modern' });
      const fd = sys.loadUnverified({ prog_type: 1, insns: encode(tagged(pc)), license: 'GPL' });
      return outcome(() => testRun(sys, fd, new Uint8Array(20), 1, engine).retval);
    });
    assert.deepEqual(got, want[pc], `pc ${pc}`);
  }
});

test('the callback fuzzer (callback-diff.ts): a fixed corpus of 40 programs, all verified, alike on every engine', () => {
  const rnd = prng(17);
  let accepted = 0;
  for (let i = 0; i < 40; i++) {
    const c = randomCallbackCase(rnd);
    const r = runCallbackCase(c, () => `type ${c.type}\n${disasm(c.insns)}`);
    assert.deepEqual(r.problems, [], `case ${i}`);
    if (r.accepted) accepted++;
  }
  assert.equal(accepted, 40);
});

test('repeated test runs (a batch in one call into WebAssembly, hardened included) give each run the callbacks\' result', () => {
  // a socket filter's repeats run as execBatch over one input: the loop's callbacks run inside the batch
  for (const [parts, want] of [[SUM(100, 5), (6n << 16n) | 15n], [SUM(4, 99), (4n << 16n) | 6n]] as const) {
    for (const engine of ENGINES) {
      const { sys } = system([]);
      const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(program(parts, [])), license: 'GPL' }) as number;
      const r = testRun(sys, fd, new Uint8Array(20), 50, engine);
      assert.equal(r.retval, want, engine);
      assert.equal(r.runs, 50);
    }
  }
});
