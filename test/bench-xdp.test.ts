/**
 * The bench's XDP/tc section (src/bench/xdp.ts) on a tiny packet count:
 * the rows, the runs counted, each program's verdicts over the frames of
 * examples/sample.pcap (exact: the kernel agrees with them where bpf(2)
 * answers, the section checks that itself), the kernel column present on
 * every row, the XDP parser's native C column, or skipped with its reason, and the table's text. No timing is
 * asserted (both JIT columns, batched and one call per packet, are present).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatXdp, runXdpBench, sampleFrames } from '../src/bench/xdp.js';

test('the section over 18 packets: two passes over the 9 frames, the verdicts, the kernel column or its reason', () => {
  assert.equal(sampleFrames().length, 9);
  const s = runXdpBench(18);
  assert.equal(s.frames, 9);
  assert.equal(typeof s.cpu, 'string');
  assert.deepEqual(s.rows.map((r) => r.program), ['xdp-parse', 'tc-fields']);
  assert.deepEqual(s.rows.map((r) => r.packets), [18, 18]);
  // XDP_PASS for 7 frames, XDP_TX for 2; tc: TC_ACT_OK 6, TC_ACT_SHOT 1 (the ARP frame), TC_ACT_PIPE 2
  assert.deepEqual(s.rows[0]!.verdicts, { 2: 7, 3: 2 });
  assert.deepEqual(s.rows[1]!.verdicts, { 0: 6, 2: 1, 3: 2 });
  for (const r of s.rows) assert.equal(Number.isFinite(r.jitNs) && r.jitNs > 0 && Number.isFinite(r.jitCallNs) && r.jitCallNs! > 0, true);
  // the native column: the XDP parser's logic in C, where cc builds it (its verdicts checked equal by the section)
  assert.equal(s.rows[1]!.nativeNs, undefined);
  if (s.rows[0]!.nativeNs !== undefined) assert.equal(Number.isFinite(s.rows[0]!.nativeNs) && s.rows[0]!.nativeNs > 0, true);
  if (s.kernelSkipped === undefined) {
    for (const r of s.rows) assert.equal(Number.isFinite(r.kernelNs) && r.kernelNs! >= 0, true);
  } else {
    assert.equal(s.kernelSkipped.length > 0, true);
    for (const r of s.rows) assert.equal(r.kernelNs, undefined);
    assert.equal(formatXdp(s).split('\n').at(-2), `  kernel column skipped: ${s.kernelSkipped}`);
  }
});

test('the table: ns per packet, the ratio to the kernel, n/a and the reason without it', () => {
  const text = formatXdp({
    cpu: 'Test CPU', frames: 9, kernelSkipped: 'no bpf(2)',
    rows: [{ program: 'xdp-parse', packets: 1000008, verdicts: { 2: 7, 3: 2 }, jitNs: 236.54 }],
  });
  assert.equal(text, [
    '',
    'xdp/tc: clang-built objects (modern profile, verified) over the 9 frames of examples/sample.pcap repeated, on Test CPU, ns per packet',
    'program     packets      JIT  JIT/call   kernel   native  JIT x kernel  JIT x native  verdicts',
    'xdp-parse   1000008    236.5       n/a      n/a      n/a           n/a           n/a  2:7 3:2',
    '  xdp-parse: XDP parser: Ethernet, VLAN, IPv4/IPv6, TCP/UDP ports, two hash maps (test/c/xdp-parse.o, xdp_parse)',
    '  JIT: Program.runFrames, each frame\'s context made once and thousands of runs per call into WebAssembly; JIT/call: one exec per packet',
    '  kernel column skipped: no bpf(2)',
    '',
  ].join('\n'));
  const withKernel = formatXdp({ cpu: 'Test CPU', frames: 9, rows: [{ program: 'xdp-parse', packets: 18, verdicts: { 0: 6 }, jitNs: 100, jitCallNs: 150, kernelNs: 40, nativeNs: 10 }] });
  assert.equal(withKernel.split('\n')[3], 'xdp-parse        18    100.0     150.0     40.0     10.0         2.50x        10.00x  0:6');
});
