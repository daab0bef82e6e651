/**
 * What bin/tsbpf.js runs: `tsbpf filter 'EXPR' CAPTURE` goes to the fast
 * path first (fast-filter.ts), which loads only the expression compiler and
 * the capture's framing, and every other command line (and every filter
 * command the fast path declines) to main.ts, loaded only then: its imports
 * (the runtime, verifier, engines and object loader) cost more start-up
 * time than tcpdump spends on a whole capture. The fast path is loaded from
 * its one-module bundle (scripts/bundle-fast-filter.mjs) while that is
 * fresh, else from its modules.
 */

import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './io.js';

type FastFilter = (args: readonly string[], io: CliIo) => Promise<number | undefined>;

/**
 * Whether the bundle at `bundle` still holds what its inputs hold: each
 * input listed in `manifest` has the recorded size and is no newer than the
 * bundle. (A `tsc` build rewrites the inputs; a package keeps them all with
 * one timestamp.) Anything unreadable: not fresh.
 */
export function bundleFresh(bundle: string, manifest: string): boolean {
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(manifest, 'utf8')) as { inputs: { path: string; size: number }[] };
    const dir = dirname(bundle);
    return inputs.length > 0 && inputs.every((i) => {
      const st = statSync(join(dir, i.path));
      return st.size === i.size && st.mtimeMs <= built;
    });
  } catch {
    return false;
  }
}

async function loadFastFilter(): Promise<FastFilter> {
  const bundle = new URL('./fast-filter.bundle.js', import.meta.url);
  if (bundleFresh(fileURLToPath(bundle), fileURLToPath(new URL('./fast-filter.bundle.json', import.meta.url)))) {
    return ((await import(bundle.href)) as { fastFilter: FastFilter }).fastFilter;
  }
  return (await import('./fast-filter.js')).fastFilter;
}

/** Run the command line `argv` over `io`; the exit status (main's contract). */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'filter') {
    let code: number | undefined;
    try {
      code = await (await loadFastFilter())(argv.slice(1), io);
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
