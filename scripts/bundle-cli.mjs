// What scripts/bundle-fast-filter.mjs and scripts/bundle-main.mjs share:
// esbuild bundles a built CLI module (dist/src/cli/NAME.js and what it
// imports) into one CommonJS file, dist/src/cli/NAME.bundle.cjs, writes
// NAME.bundle.json beside it (each input file and its size, which
// cli/entry.ts checks to use the bundle only while it is fresh), removes a
// code cache an older build left, and loads the bundle as entry.ts does, so
// that the caller can run its warm-up through it and save V8's code cache
// (writeCache) once the functions it wants compiled have run.
import { build } from 'esbuild';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(root, 'dist', 'src', 'cli');

/** Bundle dist/src/cli/`name`.js with esbuild's `options` added; its exports and a writeCache() for after the warm-up. */
export async function bundleCli(name, options = {}) {
  const outfile = join(cli, `${name}.bundle.cjs`);
  const cache = join(cli, `${name}.bundle.cache`);
  // an older build's cache must not outlive its bundle
  rmSync(cache, { force: true });
  const result = await build({
    entryPoints: [join(cli, `${name}.js`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    metafile: true,
    logLevel: 'warning',
    ...options,
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => {
    const abs = join(root, p);
    return { path: relative(cli, abs), size: statSync(abs).size };
  });
  writeFileSync(join(cli, `${name}.bundle.json`), JSON.stringify({ inputs }) + '\n');
  const { loadBundle } = await import(join(cli, 'entry.js'));
  const { exports, script } = loadBundle(outfile, undefined);
  return { exports, writeCache: () => writeFileSync(cache, script.createCachedData()) };
}
