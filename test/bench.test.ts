/**
 * The benchmark's baselines compute what tsbpf computes: the C
 * transliteration (to-c.ts) of every workload returns the interpreter's r0,
 * and the map-heavy workload in C over C maps (MAPS_C) gives the verdicts and
 * per-port counters of tsbpf's maps. Skips with a message without cc.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble, toSlots } from '../src/isa/index.js';
import { MAPS_C, toC } from '../src/bench/to-c.js';
import { loadMapHeavy } from '../src/bench/bench.js';
import { capturePackets, MAP_HEAVY, workloads } from '../src/bench/workloads.js';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { PacketRunner } from '../src/api/packets.js';
import { formatCapture, formatJson, formatMap, formatTable } from '../src/bench/report.js';
import type { BenchRow, CaptureRow, MapRow } from '../src/bench/report.js';
import { kernelRunSource } from '../src/bench/kernel.js';
import { existsSync, readFileSync } from 'node:fs';
import { tempDir } from './tmp.js';

const cc = process.env['CC'] ?? 'cc';
const skip = spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0 ? false : `no C compiler (${cc})`;
if (skip) process.stdout.write(`# skipping the C baseline tests: ${skip}\n`);

function compileAndRun(src: string): string {
  const dir = tempDir('tsbpf-bench-test-');
  try {
    writeFileSync(join(dir, 'b.c'), src);
    execFileSync(cc, ['-O2', '-w', '-o', join(dir, 'b'), join(dir, 'b.c')]);
    return execFileSync(join(dir, 'b'), { encoding: 'utf8' }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the C transliteration of each workload returns the interpreter\'s r0', { skip }, () => {
  const ws = workloads();
  const src = `#include <stdint.h>
#include <stdio.h>
${ws.map((w, i) => toC(`w${i}`, w.source ?? w.insns)).join('\n')}
int main(void) {
${ws.map((w, i) => `  { static uint8_t b[] = { ${Array.from(w.input).join(',')} }; printf("%llx\\n", (unsigned long long)w${i}(b, ${w.input.length}, b)); }`).join('\n')}
  return 0;
}
`;
  const native = compileAndRun(src).split('\n');
  ws.forEach((w, i) => {
    const rt = new Runtime();
    const addr = rt.mem.alloc(w.input.length);
    rt.mem.write(addr, w.input);
    const r0 = new Interpreter(rt.mem, toSlots(w.insns), { helpers: rt.helpers }).run({ r1: addr, r2: w.input.length }).r0;
    assert.equal(native[i], r0.toString(16), w.name);
  });
});

test('the map-heavy workload in C over C maps: the verdicts and counters of tsbpf\'s maps', { skip }, () => {
  const packets = capturePackets();
  const src = `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
${MAPS_C}
${toC('prog', assemble(MAP_HEAVY.source))}
${packets.map((p, i) => `static uint8_t p${i}[] = { ${Array.from(p).join(',') || '0'} };`).join('\n')}
static struct { uint8_t *d; uint32_t n; } pk[] = { ${packets.map((p, i) => `{ p${i}, ${p.length} }`).join(',')} };
int main(void) {
${MAP_HEAVY.maps.map((m, i) => `  map_init(&maps[${i}], ${m.type === 'hash' ? 1 : 2}, ${m.keySize}, ${m.valueSize}, ${m.maxEntries});`).join('\n')}
  for (unsigned i = 0; i < ${packets.length}; i++) { uint32_t ctx[2] = { pk[i].n, 0 }; printf("%u\\n", (uint32_t)prog((uint8_t *)ctx, pk[i].n, pk[i].d)); }
  uint64_t total = 0;
  for (uint32_t p = 0; p < 65536; p++) { uint64_t v = helper_1((uint64_t)(uintptr_t)&maps[0], (uint64_t)(uintptr_t)&p, 0, 0, 0); if (v) total += *(uint64_t *)(uintptr_t)v; }
  printf("%llu\\n", (unsigned long long)total);
  return 0;
}
`;
  const out = compileAndRun(src).split('\n').map(Number);
  const { sys, fd } = loadMapHeavy();
  const runner = new PacketRunner(sys, fd, 'interpreter');
  const verdicts = packets.map((p) => runner.run(p, 14));
  assert.deepEqual(out.slice(0, packets.length), verdicts);
  // every IPv4 TCP/UDP packet bumps two ports: 6 of each 8 packets are
  assert.equal(out[packets.length], (packets.length / 8) * 6 * 2);
});

const ROW: BenchRow = {
  workload: 'alu', description: 'd', insnsPerRun: 1000,
  interpreter: { nsPerRun: 2000, r0: 7n }, checked: { nsPerRun: 4000, r0: 7n },
  jit: { nsPerRun: 100, r0: 7n, compileUsPerInsn: 0.5 }, hardened: { nsPerRun: 150, r0: 7n, pairedJitNs: 120 },
  native: { nsPerRun: 50, r0: 7n },
};
const CAPTURE: CaptureRow = { packets: 1000000, matched: 250000, interpreterNs: 80, jitNs: 20, hardenedNs: 30, libpcapNs: 40 };
const MAP: MapRow = { packets: 1000000, interpreterNs: 300, jitNs: 60, hardenedNs: 90, nativeNs: 30, verdictSum: 5, portPackets: 12n };

test('the report: the workloads table, the capture and map lines, the JSON object', () => {
  assert.equal(formatTable([ROW]), [
    'workload  insns/run  native ns  interp ns  Minsn/s  x native  checked ns  x native  jit ns  x native  hardened ns  x jit  x native  kernel ns  jit x kernel  jit µs/insn',
    'alu            1000       50.0     2000.0      500      40.0      4000.0      80.0   100.0      2.00        150.0   1.25      3.00        n/a           n/a         0.50',
  ].join('\n'));
  assert.equal(formatCapture(CAPTURE), "\ncapture: tcpdump 'tcp port 80' (classic BPF, converted) over 1000000 packets in memory, 250000 matched, ns per packet\n"
    + '  interpreter 80.0  JIT (batched) 20.0  libpcap bpf_filter 40.0  kernel BPF_PROG_TEST_RUN n/a (no bpf(2))\n'
    + '  JIT x libpcap 0.50x, JIT x kernel n/a\n'
    + '  hardened JIT (batched) 30.0: 1.50x the JIT\n');
  assert.equal(formatMap(MAP), `\nmap: ${MAP_HEAVY.description}, over the same packets (1000000 runs; 12 port hits per pass, checked equal on every engine), ns per packet\n`
    + '  interpreter 300.0  JIT (batched) 60.0  native C with C maps 30.0  kernel BPF_PROG_TEST_RUN n/a (no bpf(2))\n'
    + '  JIT x native 2.00x, JIT x kernel n/a, interpreter x native 10.0x\n'
    + '  hardened JIT (batched) 90.0: 1.50x the JIT, 3.00x native\n');
  const json = JSON.parse(formatJson({ workloads: [ROW], capture: CAPTURE, map: MAP })) as { workloads: { interpreter: { r0: string } }[]; map: { portPackets: string } };
  assert.equal(json.workloads[0]!.interpreter.r0, '0x7');
  assert.equal(json.map.portPackets, '0xc');
});

test('the kernel runner the bench builds is shipped with the package (src/bench/native, in package.json files)', () => {
  assert.ok(existsSync(kernelRunSource()), kernelRunSource());
  const pkg = JSON.parse(readFileSync(join(kernelRunSource(), '..', '..', '..', '..', 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('src/bench/native'), `files: ${pkg.files.join(', ')}`);
});
