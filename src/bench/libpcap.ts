/**
 * The libpcap baseline: libpcap's own bpf_filter over the capture packets,
 * in a C program compiled here against -lpcap. Undefined without a C
 * compiler or libpcap's headers.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SockFilter } from '../cbpf/index.js';
import { CAPTURE_RUNS, PROCESSES } from './timing.js';

/** libpcap's bpf_filter over the same packets, compiled here against -lpcap; undefined without it. */
export function measureLibpcap(prog: SockFilter[], packets: Uint8Array[]): { ns: number; matched: number } | undefined {
  const cc = process.env['CC'] ?? 'cc';
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-pcap-'));
  try {
    const insns = prog.map((p) => `{ ${p.code}, ${p.jt}, ${p.jf}, ${p.k}u }`).join(',\n');
    const pkts = packets.map((p, i) => `static const unsigned char p${i}[] = { ${Array.from(p).join(',')} };`).join('\n');
    const table = packets.map((p, i) => `{ p${i}, ${p.length} }`).join(',');
    const src = `#include <pcap/pcap.h>
#include <stdio.h>
#include <time.h>
static struct bpf_insn prog[] = { ${insns} };
${pkts}
static struct { const unsigned char *d; unsigned n; } pk[] = { ${table} };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
int main(void) {
  unsigned np = ${packets.length}, matched = 0;
  double best = 1e300;
  for (int round = 0; round < 5; round++) {
    matched = 0;
    double t0 = now();
    for (unsigned i = 0; i < ${CAPTURE_RUNS}u; i++) matched += bpf_filter(prog, pk[i % np].d, pk[i % np].n, pk[i % np].n) != 0;
    double per = (now() - t0) / ${CAPTURE_RUNS};
    if (per < best) best = per;
  }
  printf("%.3f %u\\n", best, matched);
  return 0;
}
`;
    writeFileSync(join(dir, 'f.c'), src);
    const r = spawnSync(cc, ['-O2', '-w', '-o', join(dir, 'f'), join(dir, 'f.c'), '-lpcap'], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    let best: { ns: number; matched: number } | undefined;
    for (let p = 0; p < PROCESSES; p++) {
      const [ns, matched] = execFileSync(join(dir, 'f'), { encoding: 'utf8' }).trim().split(' ');
      if (!best || Number(ns) < best.ns) best = { ns: Number(ns), matched: Number(matched) };
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
