/**
 * The host kernel's column: native/kernel-run.c (bpf(2) BPF_PROG_LOAD and
 * BPF_PROG_TEST_RUN behind a line protocol, see that file), built here with
 * cc and fed the workloads as XDP programs, the capture filter and the
 * map-heavy program as socket filters. Without cc, or where bpf(2) is not
 * allowed (not root, not Linux), the column is empty. The differential
 * tests build the same runner (test/kernel-helper.ts, kernelRunSource).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../isa/asm.js';
import { encode } from '../isa/instruction.js';
import { mapTypeByName } from '../maps/types.js';
import type { Workload } from './workloads.js';
import { MAP_HEAVY } from './workloads.js';
import type { Measurement } from './timing.js';

/** The runner's C source, shipped with the package (compiled code runs from dist/src/bench/). */
export function kernelRunSource(): string {
  return fileURLToPath(new URL('../../../src/bench/native/kernel-run.c', import.meta.url));
}

/** The kernel-run helper built here, or undefined without cc. */
function buildKernelRunner(dir: string): string | undefined {
  const cc = process.env['CC'] ?? 'cc';
  const exe = join(dir, 'kernel-run');
  const r = spawnSync(cc, ['-O2', '-o', exe, kernelRunSource()]);
  return r.status === 0 ? exe : undefined;
}

/** Run the helper on `input`; its output lines, or undefined when it cannot load (no bpf(2), not root). */
function kernelRunner(input: string): string[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-kernel-'));
  try {
    const exe = buildKernelRunner(dir);
    if (!exe) return undefined;
    const out = spawnSync(exe, [], { input, encoding: 'utf8' }).stdout?.trim().split('\n') ?? [];
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The workloads as XDP programs in the host kernel; workload name -> ns per run and r0's low 32 bits. */
export function measureKernelWorkloads(ws: Workload[]): Map<string, Measurement> {
  const result = new Map<string, Measurement>();
  const hex = (b: Uint8Array | number[]): string => Buffer.from(b).toString('hex');
  const lines = ws.map((w) => {
    const data = new Uint8Array(128);
    data.set(w.input);
    const repeat = Math.max(10000, Math.floor(2e8 / Math.max(1, w.insns.length * 10)));
    return `X ${hex(encode(w.kernel))}\nB ${repeat} ${hex(data)}`;
  });
  const out = kernelRunner(lines.join('\n') + '\n');
  if (!out) return result;
  ws.forEach((w, i) => {
    const load = out[2 * i];
    const run = out[2 * i + 1];
    if (!load?.startsWith('L ') || !run?.startsWith('B ')) return;
    const [, retval, ns] = run.split(' ');
    result.set(w.name, { nsPerRun: Number(ns), r0: BigInt(retval!) });
  });
  return result;
}

/** The host kernel's JIT through BPF_PROG_TEST_RUN (the kernel runner, after `mapLines` create maps), averaged over 16 of the packets. */
export function measureKernel(insns: Uint8Array, packets: Uint8Array[], mapLines: string[] = []): number | undefined {
  const sample = packets.slice(0, 16);
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const out = kernelRunner([...mapLines, `P ${hex(insns)}`, ...sample.map((p) => `B 200000 ${hex(p)}`)].join('\n') + '\n');
  if (!out || !out[mapLines.length]?.startsWith('L ')) return undefined;
  const ns = out.slice(mapLines.length + 1).map((l) => (l.startsWith('B ') ? Number(l.split(' ')[2]) : NaN));
  if (ns.length !== sample.length || ns.some((x) => !Number.isFinite(x))) return undefined;
  return ns.reduce((x, y) => x + y, 0) / ns.length;
}

/** The map-heavy workload in the host kernel (socket filter with its two maps), averaged over 16 packets. */
export function measureMapKernel(packets: Uint8Array[]): number | undefined {
  const mapLines = MAP_HEAVY.maps.map((m) => `M ${mapTypeByName(m.type).id} ${m.keySize} ${m.valueSize} ${m.maxEntries}`);
  return measureKernel(encode(assemble(MAP_HEAVY.source)), packets, mapLines);
}
