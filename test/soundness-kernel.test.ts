/**
 * The folding differential against the host kernel (issue 13, Deliver 4):
 * a sample of the soundness fuzzer's accepted corpus goes to Linux as well,
 * and for every program both verifiers accept, each instruction the checked
 * interpreter executes over the fuzz packets must be one tsbpf's verifier
 * visited. Skips, with the reason, where there is no C compiler or bpf(2)
 * is not allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../src/isa/instruction.js';
import type { Instruction } from '../src/isa/instruction.js';
import { accepted, executed, FINDINGS, FUZZ_MAPS, randomProgram, unexplored } from './fuzz/soundness.js';
import { buildKernelHelper, kernelLines } from './kernel-helper.js';
import { prng } from './random-programs.js';

const helper = buildKernelHelper();
const skip = helper.exe ? false : helper.why!;
if (skip) process.stderr.write(`kernel folding differential skipped: ${skip}\n`);

test('executed ⊆ visited for the accepted fuzz corpus the host kernel also accepts', { skip }, (t) => {
  const corpus: Instruction[][] = FINDINGS.filter((f) => f.accepted).map((f) => f.insns);
  const rnd = prng(0x6b65726e);
  for (let n = 0; n < 4000 && corpus.length < 120; n++) {
    const p = randomProgram(rnd);
    if (accepted(p)) corpus.push(p);
  }
  assert.equal(corpus.length, 120);
  // map[fd:N] stays N: the helper resolves it to the Nth map it created
  const maps = FUZZ_MAPS.map((m) => `M ${m.map_type} ${m.key_size} ${m.value_size} ${m.max_entries}`);
  const out = kernelLines(helper.exe!, [...maps, ...corpus.map((p) => `P ${Buffer.from(encode(p)).toString('hex')}`)]);
  assert.equal(out.length, maps.length + corpus.length);
  out.slice(0, maps.length).forEach((l) => assert.match(l, /^M \d+$/));
  const verdicts = out.slice(maps.length);
  const both = corpus.filter((_, i) => verdicts[i]!.startsWith('L '));
  // finding 1's program: the kernel accepts it too
  assert.match(verdicts[0]!, /^L \d+$/);
  assert.ok(both.length >= 40, `only ${both.length} of ${corpus.length} accepted by the kernel too`);
  t.diagnostic(`${corpus.length} programs accepted by tsbpf, ${both.length} of them by the kernel too`);
  assert.deepEqual(both.flatMap((p) => unexplored(p, executed(p))), []);
});
