/**
 * The soundness fuzzer's fixed corpus (test/fuzz/soundness.ts): programs the
 * verifier accepts must never fault in the checked interpreter, and the
 * fast interpreter, the JIT and the batched JIT must agree with it on
 * verdicts, stacks, map contents and faults. `npm run fuzz` runs it longer
 * from a random seed.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../src/isa/index.js';
import { examine, fuzz } from './fuzz/soundness.js';

test('soundness fuzzer: 1000 random programs, the accepted ones safe in the checked interpreter and identical on every engine', () => {
  const r = fuzz(0x50f7, 1000);
  assert.equal(r.generated, 1000);
  assert.deepEqual(r.problems, []);
  // a corpus worth the name: a good share accepted, and most of them compared in full
  assert.ok(r.accepted >= 100, `only ${r.accepted} accepted`);
  assert.ok(r.addressDependent < r.accepted / 4, `${r.addressDependent} of ${r.accepted} depend on addresses`);
});

test('the oracle reports an unsafe program as unsound', () => {
  // as if the verifier had accepted a read above the frame
  const r = examine(assemble('ldxdw %r0, [%r10+8]\nexit'));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!, /^unsound: .*EFAULT/);
});
