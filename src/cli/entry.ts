/**
 * What bin/tsbpf.js runs: `tsbpf filter 'EXPR' CAPTURE` goes to the fast
 * path first (fast-filter.ts), which loads only the expression compiler and
 * the capture's framing, and every other command line (and every filter
 * command the fast path declines) to main.ts, loaded only then: its imports
 * (the runtime, verifier, engines and object loader) cost more start-up
 * time than tcpdump spends on a whole capture. The fast path is loaded from
 * its one-file bundle (scripts/bundle-fast-filter.mjs) while that is fresh,
 * else from its modules. The bundle is a CommonJS body compiled through
 * vm.Script with V8's code cache made when it was built (a filter run's
 * functions already compiled: some 15 ms of CPU less per run than parsing
 * and compiling them); a cache older than the bundle is not used, and V8
 * itself refuses one made by another version or with other flags.
 * Every other command is loaded the same way from main's own bundle
 * (scripts/bundle-main.mjs), its code cache made after running captures on
 * both engines: the ESM loader's walk over some two hundred modules and the
 * lazy compile of the interpreter, the helpers and the maps' code would
 * otherwise be paid by each run (the first packets of `run --pcap` paid
 * most of it). `bench` keeps the modules (it loads the engines itself, and
 * one copy of each class must serve both).
 */

import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import type { CliIo } from './io.js';

type FastFilter = (args: readonly string[], io: CliIo) => Promise<number | undefined>;
type Main = (argv: readonly string[], io: CliIo) => Promise<number>;

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

/**
 * The bundle at `bundle` (CommonJS) compiled and run, with the code cache
 * in `cache` when given and no older than the bundle: its exports, and the
 * script (scripts/bundle-fast-filter.mjs and bundle-main.mjs make the cache
 * from it after a run). `import.meta.url` in the bundled modules is the
 * bundle's own URL (the bundles define it as `__tsbpf_import_meta_url`).
 */
export function loadBundle(bundle: string, cache: string | undefined): { exports: { fastFilter: FastFilter; main: Main }; script: Script } {
  let cachedData: Buffer | undefined;
  if (cache !== undefined) {
    try {
      if (statSync(cache).mtimeMs >= statSync(bundle).mtimeMs) cachedData = readFileSync(cache);
    } catch {
      // no cache: compiled from source
    }
  }
  const source = readFileSync(bundle, 'utf8');
  const script = new Script(`(function (require, module, exports, __tsbpf_import_meta_url) {${source}\n})`, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as { fastFilter: FastFilter; main: Main } };
  (script.runInThisContext() as (r: NodeJS.Require, m: object, e: object, url: string) => void)(createRequire(bundle), module, module.exports, pathToFileURL(bundle).href);
  return { exports: module.exports, script };
}

async function loadFastFilter(): Promise<FastFilter> {
  const bundle = fileURLToPath(new URL('./fast-filter.bundle.cjs', import.meta.url));
  if (bundleFresh(bundle, fileURLToPath(new URL('./fast-filter.bundle.json', import.meta.url)))) {
    return loadBundle(bundle, fileURLToPath(new URL('./fast-filter.bundle.cache', import.meta.url))).exports.fastFilter;
  }
  return (await import('./fast-filter.js')).fastFilter;
}

/** main(), from its bundle while that is fresh and `bundled`, else from its modules. */
async function loadMain(bundled: boolean): Promise<Main> {
  const bundle = fileURLToPath(new URL('./main.bundle.cjs', import.meta.url));
  if (bundled && bundleFresh(bundle, fileURLToPath(new URL('./main.bundle.json', import.meta.url)))) {
    return loadBundle(bundle, fileURLToPath(new URL('./main.bundle.cache', import.meta.url))).exports.main;
  }
  return (await import('./main.js')).main;
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
  return (await loadMain(argv[0] !== 'bench'))(argv, io);
}
