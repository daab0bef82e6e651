/**
 * The questions an instruction answers about itself (isa/instruction.ts),
 * and the one ld_imm64 pair check every consumer asks: strict decode,
 * BPF_PROG_LOAD, the interpreter and the JIT refuse the same pairs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Slot } from '../src/isa/instruction.js';
import {
  encodeSlots, isExit, isHelperCall, isIndirectCall, isKfuncCall, isLdImm64, isLdImm64Pair, isLocalCall, isMapLoad,
  isMapValueLoad, slotCount, slotsToInstructions,
} from '../src/isa/instruction.js';
import { BpfError } from '../src/errors.js';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';
import { BpfSystem } from '../src/api/bpf.js';

const s = (code: number, dst = 0, src = 0, off = 0, imm = 0): Slot => ({ code, dst, src, off, imm });

const QUESTIONS = { isLdImm64, isMapLoad, isMapValueLoad, isHelperCall, isLocalCall, isKfuncCall, isIndirectCall, isExit };

const CASES: { name: string; slot: Slot; yes: (keyof typeof QUESTIONS)[] }[] = [
  { name: 'ld_imm64 of a constant', slot: s(0x18, 1, 0, 0, 7), yes: ['isLdImm64'] },
  { name: 'ld_imm64 of a map fd', slot: s(0x18, 1, 1, 0, 3), yes: ['isLdImm64', 'isMapLoad'] },
  { name: 'ld_imm64 of a map value', slot: s(0x18, 1, 2, 0, 3), yes: ['isLdImm64', 'isMapValueLoad'] },
  { name: 'helper call', slot: s(0x85, 0, 0, 0, 1), yes: ['isHelperCall'] },
  { name: 'local call', slot: s(0x85, 0, 1, 0, 2), yes: ['isLocalCall'] },
  { name: 'kfunc call', slot: s(0x85, 0, 2, 0, 9), yes: ['isKfuncCall'] },
  { name: 'callx', slot: s(0x8d, 3), yes: ['isIndirectCall'] },
  { name: 'exit', slot: s(0x95), yes: ['isExit'] },
  { name: 'mov64 imm', slot: s(0xb7, 0, 0, 0, 1), yes: [] },
  { name: 'ldxdw (shares the size bits of ld_imm64)', slot: s(0x79, 1, 2), yes: [] },
  { name: 'ld_abs b', slot: s(0x30, 0, 0, 0, 1), yes: [] },
];

for (const c of CASES) {
  test(`questions of ${c.name}`, () => {
    const answers = Object.entries(QUESTIONS).filter(([, q]) => q(c.slot)).map(([name]) => name);
    assert.deepEqual(answers, c.yes);
    assert.equal(slotCount(c.slot), c.yes.includes('isLdImm64') ? 2 : 1);
  });
}

const EXIT = s(0x95);
/** Programs whose slot 1 is an ld_imm64 with a bad or missing second slot. */
const BAD_PAIRS: { name: string; slots: Slot[] }[] = [
  { name: 'no second slot', slots: [s(0xb7), s(0x18, 0, 0, 0, 1)] },
  { name: 'a second slot with an opcode', slots: [s(0xb7), s(0x18, 0, 0, 0, 1), s(0x95), EXIT] },
  { name: 'a second slot with dst set', slots: [s(0xb7), s(0x18, 0, 0, 0, 1), s(0, 1), EXIT] },
  { name: 'a second slot with src set', slots: [s(0xb7), s(0x18, 0, 0, 0, 1), s(0, 0, 1), EXIT] },
  { name: 'a second slot with off set', slots: [s(0xb7), s(0x18, 0, 0, 0, 1), s(0, 0, 0, 1), EXIT] },
];

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof BpfError) return `${e.code} ${e.message}`;
    throw e;
  }
  return 'accepted';
}

for (const c of BAD_PAIRS) {
  test(`an ld_imm64 with ${c.name}: every consumer refuses it`, () => {
    assert.equal(isLdImm64Pair(c.slots, 1), false);
    const missing = c.slots.length === 2;
    assert.equal(refusal(() => slotsToInstructions(c.slots)), missing ? 'EINVAL slot 1: ld_imm64 is missing its second slot' : 'EINVAL slot 2: second slot of ld_imm64 must have only imm set');
    const rt = new Runtime();
    assert.equal(refusal(() => new Interpreter(rt.mem, c.slots, { helpers: rt.helpers })), 'EINVAL insn 1: invalid bpf_ld_imm64 insn');
    assert.equal(refusal(() => new JitProgram(rt.mem, c.slots, { helpers: rt.helpers })), 'EINVAL insn 1: invalid bpf_ld_imm64 insn');
    const sys = new BpfSystem();
    assert.equal(refusal(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encodeSlots(c.slots), license: 'GPL' })), 'EINVAL invalid bpf_ld_imm64 insn');
  });
}

test('a proper pair: only imm set in the second slot', () => {
  const slots = [s(0x18, 0, 0, 0, 1), s(0, 0, 0, 0, 2), EXIT];
  assert.equal(isLdImm64Pair(slots, 0), true);
  assert.equal(isLdImm64Pair(slots, 1), false, 'the second slot starts no pair');
  assert.equal(isLdImm64Pair(slots, 2), false);
  assert.equal(isLdImm64Pair(slots, 3), false, 'past the end');
  const rt = new Runtime();
  assert.equal(new Interpreter(rt.mem, slots, { helpers: rt.helpers }).run({}).r0, 0x200000001n);
  assert.equal(new JitProgram(rt.mem, slots, { helpers: rt.helpers }).run1({}), 0x200000001n);
});
