/**
 * The bench's report: the rows each bench produces and their text, the
 * workloads table (ns per run, instructions per second, ratios to native,
 * to the JIT and to the kernel), the capture and map lines, or one JSON
 * object. It measures nothing.
 */

import type { FilterE2ESection } from './filter-e2e.js';
import type { Measurement } from './timing.js';
import type { VerifierRow } from './verifier.js';
import type { XdpSection } from './xdp.js';
import type { StartupSection } from './startup.js';
import type { MapOpsSection } from './map-ops.js';
import type { WorkersSection } from './workers.js';
import { MAP_HEAVY } from './workloads.js';

export interface BenchRow {
  workload: string;
  description: string;
  insnsPerRun: number;
  interpreter: Measurement;
  checked: Measurement;
  jit: Measurement & { compileUsPerInsn: number };
  /**
   * the hardened JIT: every load and store checked against the frames and
   * the run's buffer; pairedJitNs is the normal JIT timed in the same
   * processes, rounds alternating with it, which the ratio uses
   */
  hardened: Measurement & { pairedJitNs: number };
  native?: Measurement;
  /** the host kernel's JIT through BPF_PROG_TEST_RUN (an XDP wrapper), r0's low 32 bits */
  kernel?: Measurement;
}

export interface CaptureRow {
  packets: number;
  matched: number;
  interpreterNs: number;
  jitNs: number;
  /** the hardened JIT, batched the same way */
  hardenedNs: number;
  libpcapNs?: number;
  kernelNs?: number;
}

export interface MapRow {
  packets: number;
  interpreterNs: number;
  jitNs: number;
  /** the hardened JIT, batched the same way */
  hardenedNs: number;
  nativeNs?: number;
  kernelNs?: number;
  /** per pass over the 1024 packets: the sum of the verdicts, and of the per-port packet counters */
  verdictSum: number;
  portPackets: bigint;
}

const fmt = (x: number, digits = 1): string => x.toFixed(digits);

export function formatTable(rows: BenchRow[]): string {
  const header = ['workload', 'insns/run', 'native ns', 'interp ns', 'Minsn/s', 'x native', 'checked ns', 'x native', 'jit ns', 'x native', 'hardened ns', 'x jit', 'x native', 'kernel ns', 'jit x kernel', 'jit µs/insn'];
  const body = rows.map((r) => {
    const nat = r.native?.nsPerRun;
    return [
      r.workload,
      String(r.insnsPerRun),
      nat === undefined ? 'n/a' : fmt(nat),
      fmt(r.interpreter.nsPerRun),
      fmt((r.insnsPerRun / r.interpreter.nsPerRun) * 1000, 0),
      nat === undefined ? 'n/a' : fmt(r.interpreter.nsPerRun / nat),
      fmt(r.checked.nsPerRun),
      nat === undefined ? 'n/a' : fmt(r.checked.nsPerRun / nat),
      fmt(r.jit.nsPerRun),
      nat === undefined ? 'n/a' : fmt(r.jit.nsPerRun / nat, 2),
      fmt(r.hardened.nsPerRun),
      fmt(r.hardened.nsPerRun / r.hardened.pairedJitNs, 2),
      nat === undefined ? 'n/a' : fmt(r.hardened.nsPerRun / nat, 2),
      r.kernel === undefined ? 'n/a' : fmt(r.kernel.nsPerRun),
      r.kernel === undefined ? 'n/a' : fmt(r.jit.nsPerRun / r.kernel.nsPerRun, 2),
      fmt(r.jit.compileUsPerInsn, 2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

/** The workloads: what native means here, each workload's description, then the table. */
export function formatWorkloads(rows: BenchRow[]): string {
  return `tsbpf benchmark: node ${process.version}, ${rows.some((r) => r.native) ? 'native = cc -O2 of the program transliterated to C (alu: of the C clang compiled it from)' : 'no C compiler found: native column unavailable'}\n`
    + rows.map((r) => `  ${r.workload}: ${r.description}\n`).join('')
    + '  hardened: the hardened JIT (every access checked, for untrusted programs); its x jit against the JIT timed in the same processes, rounds alternating\n'
    + '\n' + formatTable(rows) + '\n';
}

/** The capture bench's lines. */
export function formatCapture(c: CaptureRow): string {
  const ratio = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(c.jitNs / x).toFixed(2)}x`);
  return `\ncapture: tcpdump 'tcp port 80' (classic BPF, converted) over ${c.packets} packets in memory, ${c.matched} matched, ns per packet\n`
    + `  interpreter ${c.interpreterNs.toFixed(1)}  JIT (batched) ${c.jitNs.toFixed(1)}  libpcap bpf_filter ${c.libpcapNs?.toFixed(1) ?? 'n/a (no libpcap-dev)'}  kernel BPF_PROG_TEST_RUN ${c.kernelNs?.toFixed(1) ?? 'n/a (no bpf(2))'}\n`
    + `  JIT x libpcap ${ratio(c.libpcapNs)}, JIT x kernel ${ratio(c.kernelNs)}\n`
    + `  hardened JIT (batched) ${c.hardenedNs.toFixed(1)}: ${(c.hardenedNs / c.jitNs).toFixed(2)}x the JIT\n`;
}

/** The map bench's lines. */
export function formatMap(m: MapRow): string {
  const mr = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(m.jitNs / x).toFixed(2)}x`);
  return `\nmap: ${MAP_HEAVY.description}, over the same packets (${m.packets} runs; ${m.portPackets} port hits per pass, checked equal on every engine), ns per packet\n`
    + `  interpreter ${m.interpreterNs.toFixed(1)}  JIT (batched) ${m.jitNs.toFixed(1)}  native C with C maps ${m.nativeNs?.toFixed(1) ?? 'n/a (no cc)'}  kernel BPF_PROG_TEST_RUN ${m.kernelNs?.toFixed(1) ?? 'n/a (no bpf(2))'}\n`
    + `  JIT x native ${mr(m.nativeNs)}, JIT x kernel ${mr(m.kernelNs)}, interpreter x native ${m.nativeNs === undefined ? 'n/a' : `${(m.interpreterNs / m.nativeNs).toFixed(1)}x`}\n`
    + `  hardened JIT (batched) ${m.hardenedNs.toFixed(1)}: ${(m.hardenedNs / m.jitNs).toFixed(2)}x the JIT, ${m.nativeNs === undefined ? 'n/a' : `${(m.hardenedNs / m.nativeNs).toFixed(2)}x`} native\n`;
}

/** Everything as one JSON object (64-bit values as hex strings), one line. */
export function formatJson(all: { workloads?: BenchRow[]; startup?: StartupSection; capture?: CaptureRow; filter?: FilterE2ESection; map?: MapRow; mapOps?: MapOpsSection; verifier?: readonly VerifierRow[]; xdp?: XdpSection; workers?: WorkersSection }): string {
  return JSON.stringify(all, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)) + '\n';
}
