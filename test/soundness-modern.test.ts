/**
 * The soundness fuzzer's modern mode (test/fuzz/modern.ts) on a fixed
 * corpus: the programs the modern profile accepts must run without a fault
 * or a budget overrun in the checked interpreter, execute only what the
 * verifier visited, and agree on every engine; the others, run unverified,
 * stay contained. The programs the 6.18 kernel accepts (modern-corpus.ts)
 * run fault-free and contained here whatever tsbpf's verifier says of them,
 * and on every engine once the modern profile accepts them. `npm run fuzz`
 * runs the modern mode longer from a random seed.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instruction } from '../src/isa/instruction.js';
import { decode } from '../src/isa/instruction.js';
import { BPF_ADD, BPF_JGE } from '../src/isa/opcodes.js';
import { BPF_ALU64_IMM, BPF_EXIT_INSN, BPF_JMP_A, BPF_JMP_IMM, BPF_MOV64_IMM } from '../src/isa/builders.js';
import { accepted, containment, examine, fuzz, randomProgram, sharedTarget, TARGET_319 } from './fuzz/soundness.js';
import { funcInfoOf, hasXdp, MODERN_MAPS, modernTarget, randomModernProgram, TARGET_MODERN } from './fuzz/modern.js';
import { KERNEL_ACCEPTED } from './fuzz/modern-corpus.js';
import { prng } from './random-programs.js';

const fromHex = (hex: string): Instruction[] => decode(Uint8Array.from(Buffer.from(hex, 'hex')));

/** Whether the modern profile has its own verifier: it accepts a bounded loop, which 3.19 refuses (back-edge). */
function modernWalker(): boolean {
  return accepted([BPF_MOV64_IMM(1, 0), BPF_JMP_IMM(BPF_JGE, 1, 10, 2), BPF_ALU64_IMM(BPF_ADD, 1, 1), BPF_JMP_A(-3), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()], TARGET_MODERN);
}

test('modern soundness fuzzer: 300 programs, the accepted ones safe, explored and identical on every engine, the others contained', () => {
  const r = fuzz(0x16, 300, Infinity, TARGET_MODERN);
  assert.equal(r.generated, 300);
  assert.deepEqual(r.problems, []);
  // the modern walker accepts about as many as the host kernel (40%); the
  // accepted ones run through testRun over FUZZ_FRAMES, each frame twice
  assert.equal(modernWalker(), true);
  // one misaligned access refused since the alignment rule; one more accepted since bpf_get_smp_processor_id's range
  assert.equal(r.accepted, 131);
  assert.equal(r.addressDependent, 0);
  assert.equal(r.unverified, 45);
  assert.equal(r.unverifiedRuns, 540);
  // every unverified program also runs on the hardened JIT, which knows every map type of MODERN_MAPS
  assert.equal(r.hardenedRuns, 540);
});

test('modern soundness fuzzer in a shared memory on lane 1: the same 100 programs as unshared, the same counts, no problem', () => {
  const unshared = fuzz(0x19, 100, Infinity, TARGET_MODERN);
  const r = fuzz(0x19, 100, Infinity, sharedTarget(TARGET_MODERN));
  assert.deepEqual(r.problems, []);
  assert.deepEqual([r.generated, r.accepted, r.unverified, r.unverifiedRuns, r.hardenedRuns], [unshared.generated, unshared.accepted, unshared.unverified, unshared.unverifiedRuns, unshared.hardenedRuns]);
  assert.ok(r.accepted >= 30, `only ${r.accepted} accepted`);
});

/** A slice of the globals mode: the fuzzer's counts, and how many accepted programs have global functions (with memory arguments). */
function globalsSlice(packets: boolean, seed: number, count: number): { r: ReturnType<typeof fuzz>; withGlobals: number; accepted: number; mem: number } {
  const target = modernTarget({ globals: true, packets });
  const progs: Instruction[][] = [];
  const r = fuzz(seed, count, Infinity, target, (_n, p) => progs.push(p));
  const globals = progs.filter((p) => funcInfoOf(p)?.some((e) => e.linkage === 'global'));
  const acc = globals.filter((p) => accepted(p, target));
  return { r, withGlobals: globals.length, accepted: acc.length, mem: acc.filter((p) => funcInfoOf(p)!.some((e) => e.args?.some((a) => a.kind === 'mem'))).length };
}

test('global functions: 150 programs with func info, each global function verified on its own; the accepted ones safe and alike on every engine, the others contained', () => {
  const { r, withGlobals, accepted: acc, mem } = globalsSlice(false, 0x5a, 150);
  assert.equal(r.generated, 150);
  assert.deepEqual(r.problems, []);
  assert.equal(r.accepted, 46);
  // (a static callee of the older grammar reads its own uninitialised stack, as a privileged program may)
  assert.equal(r.addressDependent, 1);
  assert.equal(r.unverified, 22);
  // the slice exercises what it is for: accepted programs whose global functions take memory
  assert.equal(withGlobals, 105);
  assert.equal(acc, 24);
  assert.equal(mem, 15);
});

test('global functions with packet pointers: 100 XDP programs with func info', { skip: hasXdp() ? false : 'the XDP program type is not in this runtime yet (companion issue)' }, () => {
  const { r, withGlobals, accepted: acc, mem } = globalsSlice(true, 0x5b, 100);
  assert.equal(r.generated, 100);
  assert.deepEqual(r.problems, []);
  assert.equal(r.accepted, 38);
  // a packet pointer spilled before bpf_xdp_adjust_* is a number to the verifier afterwards (as in the
  // kernel, for root): returning it is address-dependent
  assert.equal(r.addressDependent, 3);
  assert.equal(withGlobals, 46);
  assert.equal(acc, 11);
  assert.equal(mem, 6);
});

test('modern soundness fuzzer with maps of maps, for_each_map_elem and bpf_loop callbacks: 80 programs, the accepted ones safe and alike on every engine', () => {
  const target = modernTarget({ innerMaps: true });
  let inner = 0, each = 0, loops = 0;
  const r = fuzz(0x17, 80, Infinity, target, (_, insns) => {
    // a lookup in map[fd:6] or map[fd:7] (the maps of maps), a bpf_for_each_map_elem call, a bpf_loop call
    if (insns.some((i) => i.code === 0x18 && i.src === 1 && i.imm >= 6)) inner++;
    if (insns.some((i) => i.code === 0x85 && i.src === 0 && i.imm === 164)) each++;
    if (insns.some((i) => i.code === 0x85 && i.src === 0 && i.imm === 181)) loops++;
  });
  assert.equal(r.generated, 80);
  assert.deepEqual(r.problems, []);
  // one accepted program's result depends on addresses (stack it reads and did not write, as a privileged
  // program may): the fuzzer compares such programs' safety, not their results
  assert.equal(r.addressDependent, 1);
  // every kind is common, and some of each verify
  assert.ok(inner >= 20 && each >= 15 && loops >= 20, `${inner} with maps of maps, ${each} with for_each, ${loops} with bpf_loop`);
  assert.ok(r.accepted >= 20, `${r.accepted} accepted`);
});

test('the programs the 6.18 kernel accepts run fault-free and contained, and on every engine alike once the modern profile accepts them', () => {
  assert.equal(KERNEL_ACCEPTED.length, 40);
  let examined = 0;
  for (const hex of KERNEL_ACCEPTED) {
    const insns = fromHex(hex);
    const c = containment(insns, undefined, TARGET_MODERN);
    assert.deepEqual(c.problems, []);
    // the checked interpreter runs all 12 frames (6, each twice) to a verdict: no fault, no budget overrun
    assert.equal(c.runs, 12);
    assert.deepEqual(c.outcomes.filter((o) => !/^\d+$/.test(o)), [], hex);
    if (accepted(insns, TARGET_MODERN)) {
      examined++;
      assert.deepEqual(examine(insns, { target: TARGET_MODERN }).problems, []);
    }
  }
  // the modern profile accepts every one of them
  assert.equal(examined, 40);
});

test('the modern generator covers what issue 16 asks for', () => {
  const rnd = prng(0x16);
  const seen = new Set<string>();
  const mark = (what: string, yes: boolean): void => {
    if (yes) seen.add(what);
  };
  const ALU64_X = (op: number): number => 0x07 | 0x08 | op;
  for (let n = 0; n < 300; n++) {
    const p = randomModernProgram(rnd);
    p.forEach((i, k) => {
      const cls = i.code & 7;
      const jmp = cls === 5 || cls === 6;
      const cond = jmp && i.code !== 0x05 && i.code !== 0x85 && i.code !== 0x95 && i.code !== 0x06;
      mark('a mask (64-bit AND of an immediate)', i.code === 0x57 && i.imm > 0);
      mark('an alignment mask (AND of a negative immediate)', i.code === 0x57 && i.imm < 0);
      mark('a JMP comparison against a constant', cond && cls === 5 && (i.code & 0x08) === 0);
      mark('a JMP32 comparison against a constant', cond && cls === 6 && (i.code & 0x08) === 0);
      mark('a JMP32 comparison of two registers', cond && cls === 6 && (i.code & 0x08) !== 0);
      mark('a signed comparison', cond && [0x60, 0x70, 0xc0, 0xd0].includes(i.code & 0xf0));
      mark('an unsigned comparison', cond && [0x20, 0x30, 0xa0, 0xb0].includes(i.code & 0xf0));
      mark('pointer += scalar register', i.code === ALU64_X(0x00) && i.dst === 0);
      mark('scalar register += pointer', i.code === ALU64_X(0x00) && (i.src === 0 || i.src === 10) && i.dst !== 0);
      mark('a stack pointer moved by a register', i.code === ALU64_X(0x00) && i.dst === 1 && p[k - 1]?.code === 0x07 && p[k - 1]?.dst === 1);
      mark('a spill of a register', i.code === 0x7b && i.dst === 10 && i.src === 3);
      mark('a narrow spill of a register', (i.code === 0x63 || i.code === 0x6b || i.code === 0x73) && i.dst === 10 && i.src === 3);
      mark('a fill used as an offset', (i.code & 7) === 1 && i.src === 10 && p[k + 1]?.code === ALU64_X(0x00) && p[k + 1]?.src === i.dst);
      mark('a back-edge (loop)', i.code === 0x05 && i.off < 0);
      mark('a local call', i.code === 0x85 && i.src === 1);
      mark('a stack pointer passed to a local call', i.code === 0x85 && i.src === 1 && p[k - 1]?.code === 0x07 && p[k - 1]?.dst === 2);
      mark('a nested local call', i.code === 0x85 && i.src === 1 && p.slice(0, k).some((x) => x.code === 0x95));
      for (const m of [3, 4, 5]) mark(`a lookup in map ${m} (type ${MODERN_MAPS[m]!.map_type})`, i.code === 0x18 && i.src === 1 && i.imm === m && p[k + 3]?.code === 0x85 && p[k + 3]?.imm === 1);
    });
  }
  const expected = [
    'a mask (64-bit AND of an immediate)', 'an alignment mask (AND of a negative immediate)', 'a JMP comparison against a constant',
    'a JMP32 comparison against a constant', 'a JMP32 comparison of two registers', 'a signed comparison', 'an unsigned comparison',
    'pointer += scalar register', 'scalar register += pointer', 'a stack pointer moved by a register', 'a spill of a register',
    'a narrow spill of a register', 'a fill used as an offset', 'a back-edge (loop)', 'a local call', 'a stack pointer passed to a local call',
    'a nested local call', 'a lookup in map 3 (type 6)', 'a lookup in map 4 (type 9)', 'a lookup in map 5 (type 5)',
  ];
  assert.deepEqual(expected.filter((e) => !seen.has(e)), []);
});

test('the 3.19 target generates what randomProgram does from the same seed (its corpus is unchanged)', () => {
  const a = prng(7);
  const b = prng(7);
  for (let n = 0; n < 20; n++) assert.deepEqual(TARGET_319.generate(a), randomProgram(b));
  assert.equal(TARGET_319.profile, '3.19');
  assert.equal(TARGET_MODERN.profile, 'modern');
  assert.equal(TARGET_MODERN.progType, 1);
});

test('packet pointers: an XDP target where the runtime has the XDP program type', { skip: hasXdp() ? false : 'the XDP program type is not in this runtime yet (companion issue)' }, () => {
  const target = modernTarget({ packets: true });
  assert.equal(target.progType, 6);
  const r = fuzz(0x18, 100, Infinity, target);
  assert.deepEqual(r.problems, []);
  assert.equal(r.accepted, 32);
  assert.equal(r.addressDependent, 0);
  assert.equal(r.unverifiedRuns, 204);
  // accepted programs of the same seed calling bpf_xdp_load_bytes, bpf_xdp_store_bytes
  const rnd = prng(0x18);
  const calls = [0, 0];
  for (let n = 0; n < 100; n++) {
    const p = target.generate(rnd);
    if (!accepted(p, target)) continue;
    [189, 190].forEach((id, k) => {
      if (p.some((x) => x.code === 0x85 && x.src === 0 && x.imm === id)) calls[k]!++;
    });
  }
  assert.deepEqual(calls, [5, 7]);
});

test('context accesses: a tc target whose accepted programs have the stores and loads the load rewrites, safe and identical on every engine', () => {
  const target = modernTarget({ tc: true });
  assert.equal(target.progType, 3);
  const r = fuzz(0x17, 100, Infinity, target);
  assert.deepEqual(r.problems, []);
  assert.equal(r.accepted, 48);
  // a program that keeps data or data_end (addresses) in a register it returns or stores
  assert.equal(r.addressDependent, 1);
  assert.equal(r.unverifiedRuns, 180);
  assert.equal(r.hardenedRuns, 180);
  // of the first 100 programs of the same seed: accepted ones storing to queue_mapping, tc_index or tc_classid,
  // loading at an offset inside a narrow field, and refused ones storing through the context or the stack
  const rnd = prng(0x17);
  let stores = 0;
  let quirk = 0;
  let mixed = 0;
  for (let n = 0; n < 100; n++) {
    const p = target.generate(rnd);
    if (!accepted(p, target)) {
      if (p.some((x) => x.code === 0x63 && x.dst === 1 && x.off === 48)) mixed++;
      continue;
    }
    if (p.some((x) => (x.code === 0x63 || x.code === 0x62) && x.dst === 6 && [12, 44, 72].includes(x.off))) stores++;
    if (p.some((x) => (x.code === 0x69 || x.code === 0x71) && x.src === 6 && [4, 12, 16, 44, 72].some((f) => x.off > f && x.off < f + 4))) quirk++;
  }
  assert.deepEqual([stores, quirk, mixed], [13, 9, 4]);
});

test('the packet-pointer mode refuses to start without the XDP program type', { skip: hasXdp() ? 'the runtime has XDP' : false }, () => {
  assert.throws(() => modernTarget({ packets: true }), { message: 'the XDP program type is not in this runtime: no packet-pointer mode' });
});
