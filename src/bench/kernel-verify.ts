/**
 * The host kernel's verifier, for the bench's verifier section and the
 * modern kernel differential: builds native/kernel-verify.c with cc and
 * speaks its line protocol (maps by index, programs loaded with a log level
 * and a repeat count; verdict, errno, processed instructions, the kernel's
 * own verification time from BPF_LOG_STATS, the bpf(2) wall time and the
 * log's last lines). Without cc, or where bpf(2) is not allowed (not root,
 * not Linux), `kernelVerifier()` says why instead.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A map to create before the programs, as BPF_MAP_CREATE takes it. */
export interface KernelMap {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
}

/** A program to load: its type, the log level (4 = BPF_LOG_STATS, with its verification time), how many loads. */
export interface KernelLoad {
  progType: number;
  logLevel: number;
  /** loads of the same program; the times reported are the smallest (default 1) */
  repeat?: number;
  /** the 8-byte slots; an ld_imm64 with src_reg 1 and imm N names the Nth map */
  insns: Uint8Array;
}

/** The kernel's answer for one program. */
export interface KernelVerdict {
  ok: boolean;
  /** 0 when accepted, else the positive errno (13 EACCES, 22 EINVAL, 7 E2BIG...) */
  errno: number;
  /** from the log's `processed N insns` line, -1 without it */
  processed: number;
  /** the smallest `verification time N usec` of the loads, -1 without log level 4 */
  usec: number;
  /** the smallest wall time of the bpf(2) call, in ns (it includes the JIT and the copies) */
  loadNs: number;
  /** the last lines of the last load's log (at most 40) */
  log: string[];
}

/** The runner's C source, shipped with the package (compiled code runs from dist/src/bench/). */
export function kernelVerifySource(): string {
  return fileURLToPath(new URL('../../../src/bench/native/kernel-verify.c', import.meta.url));
}

/** The host kernel's verifier, behind the runner built in a directory of its own. */
export class KernelVerifier {
  private constructor(private readonly exe: string, private readonly dir: string) {}

  /** Build the runner and check bpf(2) answers; the reason when it cannot. */
  static build(): KernelVerifier | { why: string } {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-kverify-'));
    const exe = join(dir, 'kernel-verify');
    const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, kernelVerifySource()], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      return { why: `no C compiler to build the bpf(2) runner (${cc.error?.message ?? cc.stderr.trim()})` };
    }
    const k = new KernelVerifier(exe, dir);
    // r0 = 0; exit: any kernel with bpf(2) accepts it
    const probe = k.tryLoad([], [{ progType: 1, logLevel: 0, insns: Uint8Array.from(Buffer.from('b7000000000000009500000000000000', 'hex')) }]);
    if (typeof probe === 'string' || !probe[0]?.ok) {
      k.close();
      return { why: `bpf(2) is not available here (${typeof probe === 'string' ? probe : `errno ${probe[0]?.errno}`}; root on Linux is needed)` };
    }
    return k;
  }

  /** Create `maps`, then load each program; one answer per program. */
  load(maps: readonly KernelMap[], progs: readonly KernelLoad[]): KernelVerdict[] {
    const r = this.tryLoad(maps, progs);
    if (typeof r === 'string') throw new Error(`the kernel runner: ${r}`);
    return r;
  }

  private tryLoad(maps: readonly KernelMap[], progs: readonly KernelLoad[]): KernelVerdict[] | string {
    const input = [
      ...maps.map((m) => `M ${m.map_type} ${m.key_size} ${m.value_size} ${m.max_entries} ${m.map_flags ?? 0}`),
      ...progs.map((p) => `V ${p.progType} ${p.logLevel} ${p.repeat ?? 1} ${Buffer.from(p.insns).toString('hex')}`),
    ].join('\n') + '\n';
    const run = spawnSync(this.exe, [], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
    if (run.error) return run.error.message;
    const lines = run.stdout.split('\n');
    let at = 0;
    for (let i = 0; i < maps.length; i++, at++) {
      if (!lines[at]?.startsWith('M ')) return `map ${i} was not created (${lines[at] ?? 'no answer'})`;
    }
    const out: KernelVerdict[] = [];
    for (let i = 0; i < progs.length; i++) {
      const head = (lines[at++] ?? '').split(' ');
      const count = /^N \d+$/.test(lines[at] ?? '') ? Number(lines[at++]!.slice(2)) : -1;
      if ((head[0] !== 'L' && head[0] !== 'E') || count < 0) return `no answer for program ${i} (${run.stderr.trim() || 'the runner stopped'})`;
      const log = lines.slice(at, at + count).map((l) => l.slice(2));
      at += count;
      const nums = head.slice(1).map(Number);
      if (head[0] === 'L') out.push({ ok: true, errno: 0, processed: nums[0]!, usec: nums[1]!, loadNs: nums[2]!, log });
      else out.push({ ok: false, errno: nums[0]!, processed: nums[1]!, usec: nums[2]!, loadNs: nums[3]!, log });
    }
    return out;
  }

  /** Remove the runner. */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
