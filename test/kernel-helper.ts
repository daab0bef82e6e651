/**
 * The host kernel for differential tests: builds the bench's kernel runner,
 * src/bench/native/kernel-run.c (bpf(2) BPF_PROG_LOAD and BPF_PROG_TEST_RUN
 * behind a line protocol, see that file), with cc and checks that bpf(2)
 * answers, or says why not.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kernelRunSource } from '../src/bench/kernel.js';
import { tempDir } from './tmp.js';

export function buildKernelHelper(): { exe?: string; why?: string } {
  const src = kernelRunSource();
  const exe = join(tempDir('tsbpf-kernel-'), 'kernel-run');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, src], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `no C compiler to build the bpf(2) helper (${cc.error?.message ?? cc.stderr.trim()})` };
  const probe = spawnSync(exe, [], { input: 'P b7000000000000009500000000000000\nR 00\n', encoding: 'utf8' });
  if (!/^L \d+\nR 0\n$/.test(probe.stdout)) return { why: `bpf(2) is not available here (${probe.stdout.trim() || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

/** Send the helper its input lines; its output lines. */
export function kernelLines(exe: string, lines: readonly string[]): string[] {
  const r = spawnSync(exe, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  return r.stdout.trimEnd().split('\n');
}
