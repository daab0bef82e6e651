/**
 * The modern profile against the host kernel (issue 16, point 9): programs
 * from the modern generator (modern.ts), seeded, loaded in the host kernel
 * (bpf(2), log level 1) and in tsbpf's modern profile (BPF_PROG_LOAD, log
 * level 1), their verdicts and errnos compared. The agreement table counts
 * both accepting, both refusing with the same errno, both refusing with
 * different errnos, and each side accepting alone; every disagreement comes
 * with the program and the last lines of both logs, so each can be
 * explained (a tsbpf acceptance the kernel refuses must be the kernel being
 * stricter than safety requires).
 *
 * `node dist/test/fuzz/modern-diff.js --count N --seed S [--packets | --tc] [--slow-loops] [--quiet] [--skip-too-large]`
 * prints the table and every disagreement (`--corpus N` prints modern-corpus.ts instead); test/verifier-modern-kernel.test.ts
 * runs it on a committed corpus and a seeded sample.
 */

import { fileURLToPath } from 'node:url';
import { BpfSystem } from '../../src/api/bpf.js';
import { BpfError, errnoName } from '../../src/errors.js';
import { disasm } from '../../src/isa/disasm.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { encode } from '../../src/isa/instruction.js';
import { withMapFds } from '../../src/bench/workloads.js';
import type { KernelVerdict } from '../../src/bench/kernel-verify.js';
import { KernelVerifier } from '../../src/bench/kernel-verify.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { prng } from '../random-programs.js';
import { modernTarget } from './modern.js';
import type { FuzzTarget } from './soundness.js';

/** One side's verdict: accepted, or the errno (positive) and the log's last lines. */
export interface Verdict {
  ok: boolean;
  errno: number;
  log: string[];
}

export type Agreement = 'both accept' | 'both refuse' | 'both refuse, errno differs' | 'only tsbpf accepts' | 'only the kernel accepts' | 'not compared';

export interface DiffRow {
  insns: Instruction[];
  kernel: Verdict;
  tsbpf: Verdict;
  agreement: Agreement;
}

const LOG_SIZE = 1 << 22;

/** tsbpf's verdicts under the modern profile, one system for all (the maps of `target` created once). */
export class TsbpfModern {
  private readonly sys: BpfSystem;
  private readonly fds: number[];
  private readonly buf = new Uint8Array(LOG_SIZE);

  constructor(private readonly target: FuzzTarget) {
    this.sys = new BpfSystem(new Runtime({ profile: 'modern', maxBytes: 16 << 20 }));
    this.sys.jitEnabled = false;
    this.fds = target.maps.map((m) => this.sys.bpf('BPF_MAP_CREATE', m));
  }

  verdict(insns: readonly Instruction[]): Verdict {
    try {
      const fd = this.sys.bpf('BPF_PROG_LOAD', {
        prog_type: this.target.progType, insns: encode(withMapFds(insns, this.fds)), license: 'GPL', log_level: 1, log_size: LOG_SIZE, log_buf: this.buf,
      });
      this.sys.close(fd);
      return { ok: true, errno: 0, log: tail(text(this.buf)) };
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      return { ok: false, errno: -e.errno, log: tail(e.log ?? e.message) };
    }
  }
}

function text(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/** The last `n` non-empty lines of a log. */
export function tail(log: string | readonly string[], n = 3): string[] {
  const lines = (typeof log === 'string' ? log.split('\n') : [...log]).filter((l) => l.length > 0);
  return lines.slice(-n);
}

export function agreement(kernel: Verdict, tsbpf: Verdict): Agreement {
  if (kernel.ok && tsbpf.ok) return 'both accept';
  if (!kernel.ok && !tsbpf.ok) return kernel.errno === tsbpf.errno ? 'both refuse' : 'both refuse, errno differs';
  return tsbpf.ok ? 'only tsbpf accepts' : 'only the kernel accepts';
}

export interface CompareOptions {
  /**
   * leave out of tsbpf's judgement the programs the kernel refuses as too
   * large (`BPF program is too large`: it processed 1,000,000 instructions,
   * a loop it could not bound; E2BIG, or ENOSPC when the level-1 log filled): tsbpf's walk of them takes as long, and a test's time budget
   * does not hold it; their rows say 'not compared'
   */
  skipTooLarge?: boolean;
}

const E2BIG = 7;

/** Judge `programs` in the kernel and in tsbpf's modern profile. */
export function compare(kv: KernelVerifier, target: FuzzTarget, programs: readonly Instruction[][], options: CompareOptions = {}): DiffRow[] {
  const kernel: KernelVerdict[] = kv.load(target.maps, programs.map((p) => ({ progType: target.progType, logLevel: 1, insns: encode(p) })));
  const ts = new TsbpfModern(target);
  return programs.map((insns, i) => {
    const k = kernel[i]!;
    const kv2: Verdict = { ok: k.ok, errno: k.errno, log: tail(k.log) };
    // E2BIG, or ENOSPC when the log of those 1M instructions filled the buffer first
    if (options.skipTooLarge && (k.errno === E2BIG || k.log.some((l) => l.startsWith('BPF program is too large')))) return { insns, kernel: kv2, tsbpf: { ok: false, errno: 0, log: ['not judged'] }, agreement: 'not compared' };
    const t = ts.verdict(insns);
    return { insns, kernel: kv2, tsbpf: t, agreement: agreement(kv2, t) };
  });
}

/** `count` programs of the modern generator from `seed`. */
export function generated(seed: number, count: number, target: FuzzTarget): Instruction[][] {
  const rnd = prng(seed);
  return Array.from({ length: count }, () => target.generate(rnd));
}

const ORDER: Agreement[] = ['both accept', 'both refuse', 'both refuse, errno differs', 'only tsbpf accepts', 'only the kernel accepts', 'not compared'];

/** The agreement table: each class with its count and share. */
export function table(rows: readonly DiffRow[]): string {
  const n = rows.length;
  const agree = rows.filter((r) => r.agreement === 'both accept' || r.agreement === 'both refuse').length;
  const lines = ORDER.map((a) => {
    const c = rows.filter((r) => r.agreement === a).length;
    return `  ${a.padEnd(28)} ${String(c).padStart(5)}  ${n ? ((100 * c) / n).toFixed(1) : '0.0'}%`;
  });
  const kAcc = rows.filter((r) => r.kernel.ok).length;
  const tAcc = rows.filter((r) => r.tsbpf.ok).length;
  if (!rows.some((r) => r.agreement === 'not compared')) lines.pop();
  return `${n} programs: the kernel accepts ${kAcc}, tsbpf's modern profile ${tAcc}; agreement (verdict and errno) ${agree} (${n ? ((100 * agree) / n).toFixed(1) : '0.0'}%)\n${lines.join('\n')}\n`;
}

const errnoText = (e: number): string => (e === 0 ? 'accepted' : `${errnoName(e) ?? 'errno'} (${e})`);

/** One disagreement: the program, both verdicts and both logs' last lines. */
export function describeRow(r: DiffRow, index: number): string {
  return `#${index} ${r.agreement}: kernel ${errnoText(r.kernel.errno)}, tsbpf ${errnoText(r.tsbpf.errno)}\n`
    + `${disasm(r.insns)}\n  kernel: ${r.kernel.log.join('\n          ')}\n  tsbpf:  ${r.tsbpf.log.join('\n          ')}\n`;
}


if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const count = arg('--count', 200);
  const seed = arg('--seed', 1);
  const target = modernTarget({ packets: process.argv.includes('--packets'), tc: process.argv.includes('--tc'), slowLoops: process.argv.includes('--slow-loops') });
  const kv = KernelVerifier.build();
  if (!(kv instanceof KernelVerifier)) {
    process.stdout.write(`no kernel differential: ${kv.why}\n`);
    process.exitCode = 2;
  } else {
    try {
      const corpus = process.argv.indexOf('--corpus');
      if (corpus > 0) {
        const n = Number(process.argv[corpus + 1]);
        process.stdout.write(corpusSource(compare(kv, target, generated(seed, Math.max(count, 20 * n), target)), seed, n));
      } else {
        const rows = compare(kv, target, generated(seed, count, target), { skipTooLarge: process.argv.includes('--skip-too-large') });
        process.stdout.write(`${target.name} generator, seed ${seed}: ${table(rows)}`);
        if (!process.argv.includes('--quiet')) {
        rows.forEach((r, i) => {
            if (r.agreement !== 'both accept' && r.agreement !== 'both refuse' && r.agreement !== 'not compared') process.stdout.write(`\n${describeRow(r, i)}`);
          });
        }
      }
    } finally {
      kv.close();
    }
  }
}

/**
 * The committed corpus (modern-corpus.ts) regenerated: the first `n`
 * programs from `seed` the kernel accepts, and the first `n` on which the
 * kernel and tsbpf's modern profile agree (verdict and errno), as hex.
 */
export function corpusSource(rows: readonly DiffRow[], seed: number, n: number): string {
  const hex = (p: Instruction[]): string => Buffer.from(encode(p)).toString('hex');
  const accepted = rows.filter((r) => r.kernel.ok).slice(0, n);
  const agreed = rows.filter((r) => r.agreement === 'both accept' || r.agreement === 'both refuse');
  // every agreed acceptance, then refusals up to n
  const chosen = [...agreed.filter((r) => r.kernel.ok), ...agreed.filter((r) => !r.kernel.ok)].slice(0, n);
  return `/**
 * The modern fuzz corpus, generated by \`node dist/test/fuzz/modern-diff.js --corpus ${n} --seed ${seed}\`
 * (modern.ts's generator, modern-diff.ts's comparison against the 6.18 host kernel):
 * KERNEL_ACCEPTED, programs the kernel accepts (the soundness tests run them on
 * every engine); AGREED, programs the kernel and tsbpf's modern profile judged
 * alike when it was generated, with the verdict and errno (the kernel
 * differential test holds both sides to them). map[fd:N] is modern.ts's MODERN_MAPS[N].
 */

export const KERNEL_ACCEPTED: readonly string[] = [
${accepted.map((r) => `  '${hex(r.insns)}',`).join('\n')}
];

/** errno 0: accepted */
export const AGREED: readonly { hex: string; errno: number }[] = [
${chosen.map((r) => `  { hex: '${hex(r.insns)}', errno: ${r.kernel.errno} },`).join('\n')}
];
`;
}
