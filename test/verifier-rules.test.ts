/**
 * The walker and the rule table are apart: verify() walks with whatever
 * table it is given (a newer kernel's profile is another table), the 3.19
 * table is the default, and a class without a rule is refused by the walker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, toSlots } from '../src/isa/index.js';
import type { Slot } from '../src/isa/instruction.js';
import { BPF_ALU64 } from '../src/isa/opcodes.js';
import { UNSPEC, verifierRules } from '../src/progs/types.js';
import { PROFILE_3_19 } from '../src/progs/profile.js';
import type { InsnRule, RuleTable, VerifierEnv } from '../src/verifier/index.js';
import { PATH_END, REG, RULES_319, VerifierLog, verify } from '../src/verifier/index.js';

function env(log: VerifierLog): VerifierEnv {
  return {
    ...verifierRules(UNSPEC, PROFILE_3_19),
    gplCompatible: true, mapAt: () => undefined, log,
  };
}

function run(src: string, rules?: RuleTable): { result: ReturnType<typeof verify>; log: string } {
  const slots: Slot[] = toSlots(assemble(src)).map((s) => ({ ...s }));
  const log = new VerifierLog(1, 1 << 20);
  const result = rules ? verify(slots, env(log), rules) : verify(slots, env(log));
  return { result, log: log.toString() };
}

const SRC = 'r2 = *(u64 *)(r1 +0)\nr0 = 0\nif r2 > 0x0 goto pc+1\nr0 += 1\nexit';

test('the 3.19 table has a rule for each of the 8 classes and is the default', () => {
  assert.equal(RULES_319.length, 8);
  assert.ok(RULES_319.every((r) => typeof r === 'function'));
  assert.deepEqual(run(SRC, RULES_319), run(SRC));
  // 3.19 makes r0 += 1 unknown, which covers the branch's r0 = 0 at insn 4
  assert.equal(run(SRC).log.split('\n').slice(-3).join('\n'), '\nfrom 2 to 4: safe\n');
});

test('a table with one rule replaced: the walker asks that rule, and what it knows decides the pruning', () => {
  const seen: number[] = [];
  // an ALU64 rule that knows r0 + 1 is 1 (3.19 makes it unknown), delegating the rest to 3.19's
  const alu64: InsnRule = (c, insn, idx) => {
    seen.push(idx);
    const next = RULES_319[BPF_ALU64]!(c, insn, idx);
    if (insn.code === 0x07) c.cur.regs[insn.dst] = { type: REG.CONST_IMM, value: insn.imm };
    return next;
  };
  const rules = RULES_319.map((r, cls) => (cls === BPF_ALU64 ? alu64 : r));
  const { result, log } = run(SRC, rules);
  assert.equal(result.ok, true);
  // r0 = 0 (insn 1) is ALU64 too
  assert.deepEqual(seen, [1, 3]);
  // r0 = 1 no longer covers the branch's r0 = 0: the branch is walked, not pruned
  assert.equal(log, [
    '0: (79) r2 = *(u64 *)(r1 +0)',
    '1: (b7) r0 = 0',
    '2: (25) if r2 > 0x0 goto pc+1',
    ' R0=imm0 R1=ctx R2=inv R10=fp',
    '3: (07) r0 += 1',
    '4: (95) exit',
    '',
    'from 2 to 4: R0=imm0 R1=ctx R2=inv R10=fp',
    '4: (95) exit',
    '',
  ].join('\n'));
});

test('a rule ending the path returns PATH_END; a class without a rule is refused by the walker', () => {
  const stopAtJump: InsnRule = () => PATH_END;
  const ends = run(SRC, RULES_319.map((r, cls) => (cls === 5 ? stopAtJump : r)));
  assert.equal(ends.result.ok, true);
  assert.equal(ends.log, '0: (79) r2 = *(u64 *)(r1 +0)\n1: (b7) r0 = 0\n2: (25) if r2 > 0x0 goto pc+1\n');
  const missing = run(SRC, RULES_319.map((r, cls) => (cls === 5 ? undefined : r)));
  assert.deepEqual(missing.result, { ok: false, errno: 'EINVAL', message: 'unknown insn class 5', insn: 2 });
  assert.equal(missing.log, '0: (79) r2 = *(u64 *)(r1 +0)\n1: (b7) r0 = 0\n2: (25) if r2 > 0x0 goto pc+1\nunknown insn class 5\n');
});
