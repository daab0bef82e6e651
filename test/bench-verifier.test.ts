/**
 * The bench's verifier section (src/bench/verifier.ts): the generated
 * programs' shapes, the processed counts tsbpf's 3.19 profile gives for the
 * diamond family (exact: the exploration is deterministic), the table's
 * text, and the host kernel's column where bpf(2) answers. No timing is
 * asserted.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundedLoop, diamonds, formatVerifier, measureTsbpf, straightLine, verifierPrograms } from '../src/bench/verifier.js';
import type { VerifierProgram, VerifierRow } from '../src/bench/verifier.js';
import { KernelVerifier } from '../src/bench/kernel-verify.js';
import { encode } from '../src/isa/instruction.js';
import { disasm } from '../src/isa/disasm.js';

const plain = (name: string, insns: ReturnType<typeof diamonds>, profiles: ('3.19' | 'modern')[] = ['3.19']): VerifierProgram =>
  ({ name, description: name, progType: 1, maps: [], insns: encode(insns), profiles });

test('the generated programs: straight-line 1000 slots, 3n + 4 for n diamonds, the loop', () => {
  assert.equal(straightLine(1000).length, 1000);
  assert.equal(straightLine(1000).at(-1)!.code, 0x95);
  assert.equal(diamonds(14).length, 46);
  assert.equal(disasm(diamonds(1)), [
    '0: (bf) r6 = r1', '1: (61) r7 = *(u32 *)(r6 +0)', '2: (7a) *(u64 *)(r10 -8) = 0', '3: (45) if r7 & 0x1 goto pc+1',
    '4: (7b) *(u64 *)(r10 -8) = r6', '5: (b7) r0 = 0', '6: (95) exit', '',
  ].join('\n'));
  assert.equal(boundedLoop(100).length, 19);
  const names = verifierPrograms().map((p) => p.name);
  assert.deepEqual(names, [
    'straight-1000', 'diamonds-8', 'diamonds-9', 'diamonds-10', 'diamonds-11', 'diamonds-12', 'diamonds-13', 'diamonds-14',
    'flow-table', 'ipv4-options', 'modern', 'proto-count', 'syn-filter', 'loop-100',
  ]);
});

test('3.19 explores every path of the diamonds: 10 * 2^n - 1 processed, E2BIG from 13 on', () => {
  const d8 = measureTsbpf(plain('d8', diamonds(8)), '3.19');
  assert.equal(d8.ok, true);
  assert.equal(d8.processed, 1279);
  const d11 = measureTsbpf(plain('d11', diamonds(11)), '3.19');
  assert.equal(d11.processed, 10239);
  const d13 = measureTsbpf(plain('d13', diamonds(13)), '3.19');
  assert.equal(d13.ok, false);
  assert.equal(d13.error, 'E2BIG: insn 39: BPF program is too large. Proccessed 32769 insn');
  assert.equal(d13.processed, 32769);
  const s = measureTsbpf(plain('s', straightLine(1000)), '3.19');
  assert.equal(s.processed, 1000);
});

test('the modern profile is also timed by its own BPF_LOG_STATS line (verify µs, whole numbers); 3.19 is not', () => {
  const m = measureTsbpf(plain('s', straightLine(50), ['modern']), 'modern', 5);
  assert.equal(m.ok, true);
  assert.equal(m.processed, 50);
  assert.equal(Number.isInteger(m.verifyUs), true, `verifyUs ${m.verifyUs}`);
  assert.equal(measureTsbpf(plain('s', straightLine(50)), '3.19', 5).verifyUs, undefined);
});

test('the table: verdicts, processed, times and the ratio to the kernel; refusals with their reasons', () => {
  const rows: VerifierRow[] = [
    { program: 'diamonds-14', profile: '3.19', slots: 46, tsbpf: { ok: false, error: 'E2BIG: too large', processed: 32769, us: 300000 }, kernel: { ok: true, processed: 128, us: 150 } },
    { program: 'loop-100', profile: 'modern', slots: 19, tsbpf: { ok: true, processed: 911, us: 100, verifyUs: 80 } },
    { program: 'diamonds-8', profile: 'modern', slots: 28, tsbpf: { ok: true, processed: 52, us: 45.25, verifyUs: 30 }, kernel: { ok: true, processed: 72, us: 40 } },
  ];
  const text = formatVerifier(rows, [plain('diamonds-14', diamonds(14)), plain('loop-100', boundedLoop(100), ['modern']), plain('diamonds-8', diamonds(8), ['modern'])]);
  const lines = text.split('\n');
  assert.equal(lines.find((l) => l.startsWith('program')), 'program      profile  slots  tsbpf  processed   load µs  verify µs  kernel  processed  kernel µs   load x  verify x');
  assert.equal(lines.find((l) => l.startsWith('diamonds-14 ')), 'diamonds-14  3.19        46  E2BIG      32769  300000.0        n/a      ok        128        150  2000.00       n/a');
  assert.equal(lines.find((l) => l.startsWith('loop-100 ')), 'loop-100     modern      19     ok        911     100.0         80     n/a        n/a        n/a      n/a       n/a');
  assert.equal(lines.find((l) => l.startsWith('diamonds-8 ')), 'diamonds-8   modern      28     ok         52      45.3         30      ok         72         40     1.13      0.75');
  assert.equal(lines.find((l) => l.startsWith('  diamonds-14 (')), '  diamonds-14 (3.19), tsbpf: E2BIG: too large');
});

const kv = KernelVerifier.build();
test('the host kernel accepts the 14 diamonds and the loop, with its processed count and BPF_LOG_STATS time', { skip: kv instanceof KernelVerifier ? false : kv.why }, () => {
  const k = kv as KernelVerifier;
  try {
    const [d, l] = k.load([{ map_type: 2, key_size: 4, value_size: 64, max_entries: 1 }], [
      { progType: 1, logLevel: 4, repeat: 3, insns: encode(diamonds(14)) },
      { progType: 1, logLevel: 4, insns: encode(boundedLoop(100)) },
    ]);
    assert.equal(d!.ok, true);
    assert.ok(d!.processed > 46 && d!.processed < 1000, `processed ${d!.processed}`);
    assert.ok(d!.usec >= 0);
    assert.match(d!.log.join('\n'), /^verification time \d+ usec\nstack depth 112\nprocessed \d+ insns \(limit 1000000\)/);
    assert.equal(l!.ok, true);
    assert.ok(l!.processed > 100 * 8, `processed ${l!.processed}`);
  } finally {
    k.close();
  }
});
