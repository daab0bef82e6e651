// Bundles the fast filter path (dist/src/cli/fast-filter.js and what it
// imports) into one module, dist/src/cli/fast-filter.bundle.js, with
// fast-filter.bundle.json beside it naming each input file and its size.
// Loading one module instead of about thirty saves Node's ESM loader some
// 20 ms of CPU per `tsbpf filter` run, which is about half of what tcpdump
// spends on a whole capture. cli/entry.ts uses the bundle only while it is
// fresh (every input the recorded size and no newer than the bundle), so a
// build by `tsc` alone, which leaves it stale, falls back to the modules.
// Run after `tsc -p .` (npm run build, prepare, test and bench do).
import { build } from 'esbuild';
import { statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli');
const outfile = join(cli, 'fast-filter.bundle.js');
const result = await build({
  entryPoints: [join(cli, 'fast-filter.js')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs).map((p) => {
  const abs = join(root, p);
  return { path: relative(cli, abs), size: statSync(abs).size };
});
writeFileSync(join(cli, 'fast-filter.bundle.json'), JSON.stringify({ inputs }) + '\n');
