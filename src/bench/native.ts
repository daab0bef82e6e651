/**
 * The C baselines: each workload transliterated to C (to-c.ts; the ALU
 * workload's own C source) and the map-heavy workload over C maps (MAPS_C),
 * compiled on the spot with `cc -O2` and timed as timing.ts times the
 * engines. Undefined when there is no C compiler.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../isa/asm.js';
import { mapTypeByName } from '../maps/types.js';
import { MAPS_C, toC } from './to-c.js';
import type { Workload } from './workloads.js';
import { MAP_HEAVY } from './workloads.js';
import type { Measurement } from './timing.js';
import { CAPTURE_RUNS, PROCESSES, ROUND_NS, ROUNDS } from './timing.js';

/** Compile all workloads into one C program; undefined when no C compiler is available. */
export function measureNative(ws: Workload[]): Map<string, Measurement> | undefined {
  const cc = process.env['CC'] ?? 'cc';
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-'));
  try {
    const fns = ws.map((w, i) => toC(`w${i}`, w.source ?? w.insns)).join('\n\n');
    const runs = ws.map((w, i) => {
      const bytes = Array.from(w.input).join(', ');
      return `  {
    static uint8_t buf[${w.input.length}] = { ${bytes} };
    uint64_t r0 = w${i}(buf, ${w.input.length}, buf);
    uint64_t n = 1000;
    for (;;) {
      double t0 = now();
      for (uint64_t k = 0; k < n; k++) sink ^= w${i}(buf, ${w.input.length}, buf);
      if (now() - t0 > ${ROUND_NS}) break;
      n *= 2;
    }
    double best = 1e300;
    for (int round = 0; round < ${ROUNDS}; round++) {
      double t0 = now();
      for (uint64_t k = 0; k < n; k++) sink ^= w${i}(buf, ${w.input.length}, buf);
      double per = (now() - t0) / n;
      if (per < best) best = per;
    }
    printf("%s %llx %.3f\\n", "${w.name}", (unsigned long long)r0, best);
  }`;
    }).join('\n');
    const program = `#include <stdint.h>
#include <stdio.h>
#include <time.h>
static volatile uint64_t sink;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
${fns}
int main(void) {
${runs}
  return 0;
}
`;
    const src = join(dir, 'bench.c');
    const exe = join(dir, 'bench');
    writeFileSync(src, program);
    execFileSync(cc, ['-O2', '-w', '-o', exe, src]);
    // best of PROCESSES processes, as the interpreter and JIT measurements
    const result = new Map<string, Measurement>();
    for (let p = 0; p < PROCESSES; p++) {
      const out = execFileSync(exe, { encoding: 'utf8' });
      for (const line of out.trim().split('\n')) {
        const [name, r0, ns] = line.split(' ');
        const prev = result.get(name!);
        if (!prev || Number(ns) < prev.nsPerRun) result.set(name!, { r0: BigInt(`0x${r0}`), nsPerRun: Number(ns) });
      }
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The map-heavy workload as C over C maps (to-c.ts, MAPS_C); undefined without cc. */
export function measureMapNative(packets: Uint8Array[]): { ns: number; verdictSum: number; portPackets: bigint } | undefined {
  const cc = process.env['CC'] ?? 'cc';
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-map-'));
  try {
    const pkts = packets.map((p, i) => `static uint8_t p${i}[] = { ${Array.from(p).join(',')} };`).join('\n');
    const table = packets.map((p, i) => `{ p${i}, ${p.length} }`).join(',');
    const init = MAP_HEAVY.maps.map((m, i) => `  map_init(&maps[${i}], ${mapTypeByName(m.type).id}, ${m.keySize}, ${m.valueSize}, ${m.maxEntries});`).join('\n');
    const src = `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
${MAPS_C}
${toC('prog', assemble(MAP_HEAVY.source))}
${pkts}
static struct { uint8_t *d; uint32_t n; } pk[] = { ${table} };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
int main(void) {
${init}
  unsigned np = ${packets.length};
  uint32_t ctx[${packets.length}][2];
  for (unsigned i = 0; i < np; i++) ctx[i][0] = pk[i].n;
  uint64_t vsum = 0;
  for (unsigned i = 0; i < np; i++) vsum += (uint32_t)prog((uint8_t *)ctx[i], pk[i].n, pk[i].d);
  uint64_t ports = 0;
  struct map *h = &maps[0];
  for (uint32_t b = 0; b < h->n_buckets; b++)
    for (int32_t e = h->heads[b]; e >= 0; e = h->next[e]) ports += *(uint64_t *)(h->elems + (size_t)e * h->elem_size + 8);
  double best = 1e300;
  volatile uint64_t sink = 0;
  for (int round = 0; round < 5; round++) {
    double t0 = now();
    for (unsigned i = 0; i < ${CAPTURE_RUNS}u; i++) sink += prog((uint8_t *)ctx[i % np], pk[i % np].n, pk[i % np].d);
    double per = (now() - t0) / ${CAPTURE_RUNS};
    if (per < best) best = per;
  }
  printf("%.3f %llu %llu\\n", best, (unsigned long long)vsum, (unsigned long long)ports);
  return 0;
}
`;
    writeFileSync(join(dir, 'm.c'), src);
    const r = spawnSync(cc, ['-O2', '-w', '-o', join(dir, 'm'), join(dir, 'm.c')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the map workload's C baseline does not compile:\n${r.stderr}`);
    let best: { ns: number; verdictSum: number; portPackets: bigint } | undefined;
    for (let p = 0; p < PROCESSES; p++) {
      const [ns, vsum, ports] = execFileSync(join(dir, 'm'), { encoding: 'utf8' }).trim().split(' ');
      if (!best || Number(ns) < best.ns) best = { ns: Number(ns), verdictSum: Number(vsum), portPackets: BigInt(ports!) };
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
