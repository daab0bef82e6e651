/**
 * How the bench times: rounds of about ROUND_NS after a warm-up, the best
 * of ROUNDS rounds per measurement, the best of PROCESSES fresh processes
 * per engine and workload, CAPTURE_RUNS runs for the capture and map
 * benches. The C programs of native.ts and libpcap.ts are generated from
 * these constants too.
 */

export interface Measurement {
  nsPerRun: number;
  r0: bigint;
}

/** Each timed round lasts about this long; the result is the best of ROUNDS rounds. */
export const ROUND_NS = 50e6;
export const ROUNDS = 9;

/** Time `f` in rounds of ROUND_NS after a warm-up; the best round, per call. */
export function timeIt(f: (n: number) => void): number {
  return timeAlternating([f])[0]!;
}

/**
 * Time each of `fs` in rounds of ROUND_NS after a warm-up, the functions
 * taking turns round by round, so that a drift of the machine's speed
 * reaches all of them alike; the best round of each, per call.
 */
export function timeAlternating(fs: ((n: number) => void)[]): number[] {
  const ns = fs.map((f) => {
    f(1000); // warm up: let V8 optimise the loop
    let n = 1000;
    for (;;) {
      const t0 = process.hrtime.bigint();
      f(n);
      const dt = Number(process.hrtime.bigint() - t0);
      if (dt > ROUND_NS) break;
      n *= 2;
    }
    return n;
  });
  const best = fs.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    fs.forEach((f, i) => {
      const t0 = process.hrtime.bigint();
      f(ns[i]!);
      best[i] = Math.min(best[i]!, Number(process.hrtime.bigint() - t0) / ns[i]!);
    });
  }
  return best;
}

/** Fresh processes per measurement of the interpreter, the JIT and native code; the best is reported. */
export const PROCESSES = 5;

/** Runs of the capture and map benches. */
export const CAPTURE_RUNS = 1_000_000;

/** The value at fraction `p` (0..1) of `xs` sorted ascending (0.5: the median, the upper middle of an even count). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}
