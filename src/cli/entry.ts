/**
 * What bin/tsbpf.js runs: `tsbpf filter 'EXPR' CAPTURE` goes to the fast
 * path first (fast-filter.ts), which loads only the expression compiler and
 * the capture's framing, and every other command line (and every filter
 * command the fast path declines) to main.ts, loaded only then: its imports
 * (the runtime, verifier, engines and object loader) cost more start-up
 * time than tcpdump spends on a whole capture.
 */

import type { CliIo } from './io.js';
import { fastFilter } from './fast-filter.js';

/** Run the command line `argv` over `io`; the exit status (main's contract). */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'filter') {
    let code: number | undefined;
    try {
      code = await fastFilter(argv.slice(1), io);
    } catch (e) {
      // the fast path throws nothing of its own (it declines instead): this is a fault, reported as main reports one
      if (process.env['TSBPF_DEBUG'] === '1' && e instanceof Error) io.stderr.write(`${e.stack ?? e.message}\n`);
      io.stderr.write(`tsbpf: internal error: ${e instanceof Error ? e.message : String(e)} (set TSBPF_DEBUG=1 for a stack trace)\n`);
      return 70;
    }
    if (code !== undefined) return code;
  }
  const { main } = await import('./main.js');
  return main(argv, io);
}
