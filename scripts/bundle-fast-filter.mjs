// Bundles the fast filter path (dist/src/cli/fast-filter.js and what it
// imports) into one CommonJS file, dist/src/cli/fast-filter.bundle.cjs,
// with fast-filter.bundle.json beside it naming each input file and its
// size, and fast-filter.bundle.cache: V8's code cache for it, made after
// filtering a small generated capture (pcap and pcapng, -w), so that a
// `tsbpf filter` run finds those functions compiled. Loading one file
// instead of about thirty saves Node's ESM loader some 20 ms of CPU per
// run, the cache some 15 ms more: together about a third of what tcpdump
// spends on a whole capture. cli/entry.ts uses the bundle only while it is
// fresh (every input the recorded size and no newer than the bundle), so a
// build by `tsc` alone, which leaves it stale, falls back to the modules;
// and the cache only when it is no older than the bundle.
// Run after `tsc -p .` (npm run build, prepare, test and bench do).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, cli, root } from './bundle-cli.mjs';

// the ESM bundle of earlier builds is no longer read
rmSync(join(cli, 'fast-filter.bundle.js'), { force: true });
const { exports, writeCache } = await bundleCli('fast-filter');

// the code cache: the bundle run as entry.js runs it, over 3000 frames of the benchmark's mix, then its compiled functions saved
const { generateCapture } = await import(join(root, 'dist', 'src', 'bench', 'filter-e2e.js'));
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bundle-'));
try {
  const quiet = { write: () => true };
  const io = { stdout: quiet, stderr: quiet, stdin: { readAll: () => new Uint8Array(0), stream: () => { throw new Error('stdin'); } } };
  for (const format of ['pcap', 'pcapng']) {
    const cap = join(dir, `warm.${format}`);
    writeFileSync(cap, generateCapture(3000, format));
    const status = await exports.fastFilter(['tcp port 80', cap, '-w', join(dir, 'out.pcap')], io);
    if (status !== 0) throw new Error(`bundle-fast-filter: the warm-up run over ${format} gave ${status}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeCache();
