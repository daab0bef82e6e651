/**
 * main's bundle (scripts/bundle-main.mjs, loaded by cli/entry.ts while
 * fresh): V8 takes its code cache, and bin/tsbpf.js answers through it
 * exactly as main does through the modules: `--version` (package.json found
 * from the bundle's own URL), verify, disasm, run --data and run --pcap
 * (times aside). After a build by tsc alone the bundle is stale and bin runs
 * the modules: the test then says so and skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFresh } from '../src/cli/entry.js';
import { spawnTsbpf, tsbpf } from './cli-harness.js';

const built = fileURLToPath(new URL('../src/cli/main.bundle.cjs', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/** A run's text with its times replaced by T (they differ from run to run). */
function timeless(out: string): string {
  return out.replace(/\d+(\.\d+)? (ns|µs|ms)/g, 'T').replace(/"(duration_ns|load_ns|jit_compile_ns|ns)":[\d.]+/g, '"$1":T');
}

test('main bundle: its code cache is taken, and bin answers through it as main does through the modules', async (t) => {
  if (!bundleFresh(built, built.replace(/\.cjs$/, '.json'))) {
    t.skip('dist/src/cli/main.bundle.cjs is stale or absent (a tsc-only build): npm run build makes it');
    return;
  }
  const entry = fileURLToPath(new URL('../src/cli/entry.js', import.meta.url));
  const code = `import { loadBundle } from ${JSON.stringify(entry)}; process.stdout.write(String(loadBundle(${JSON.stringify(built)}, ${JSON.stringify(built.replace(/\.cjs$/, '.cache'))}).script.cachedDataRejected));`;
  assert.equal(execFileSync(process.execPath, ['--input-type=module', '-e', code]).toString(), 'false');
  const flows = join(EXAMPLES, 'flow-table.o');
  const pcap = join(EXAMPLES, 'sample.pcap');
  for (const args of [
    ['--version'],
    ['verify', flows],
    ['disasm', flows],
    ['run', join(EXAMPLES, 'syn-filter.s'), '--data-file', join(EXAMPLES, 'tcp-syn.bin')],
    ['run', join(EXAMPLES, 'counter.json'), '--pcap', pcap, '--json'],
    ['run', flows, '--pcap', pcap, '--engine', 'interpreter'],
    // the pool's worker script found from the bundle's URL as from the modules'
    ['run', join(EXAMPLES, 'proto-count.o'), '--pcap', pcap, '--workers', '2', '--engine', 'jit'],
    ['verify', join(EXAMPLES, 'nonexistent.o')],
  ]) {
    const viaBin = spawnTsbpf(args);
    const viaMain = await tsbpf(args);
    assert.equal(viaBin.status, viaMain.status, args.join(' '));
    assert.equal(timeless(viaBin.stdout), timeless(viaMain.stdout), args.join(' '));
    assert.equal(viaBin.stderr, viaMain.stderr, args.join(' '));
  }
  assert.match(spawnTsbpf(['--version']).stdout, /^tsbpf \d+\.\d+\.\d+\n$/);
});
