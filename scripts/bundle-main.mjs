// Bundles the CLI's main (dist/src/cli/main.js and everything it imports but
// the bench) into one CommonJS file, dist/src/cli/main.bundle.cjs, with
// main.bundle.json beside it naming each input file and its size (entry.ts
// uses the bundle only while it is fresh, as it does the fast filter's:
// scripts/bundle-fast-filter.mjs), and main.bundle.cache: V8's code cache
// for it, made after running the README's commands (run --pcap on each
// engine and tiered, a spec with maps, verify, disasm, a general-path
// filter), so that a `tsbpf run` finds the loader, the verifier, the
// interpreter, the JIT's emitter and glue, the helpers and the maps' code
// already compiled to bytecode. Without it a fresh process paid that lazy
// compile in its first packets (the README's 9-packet capture reported
// 300-500 µs per packet on the interpreter), and the ESM loader's walk over
// some two hundred modules (about 40 ms) before the command began.
// Run after `tsc -p .` (npm run build, prepare, test and bench do).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, root } from './bundle-cli.mjs';

const { exports, writeCache } = await bundleCli('main', {
  // entry.ts's loadBundle passes the bundle's own URL under this name (main reads package.json beside it)
  define: { 'import.meta.url': '__tsbpf_import_meta_url' },
  // import() inside a vm.Script has no loader to call: the shell's node:readline becomes a require()
  supported: { 'dynamic-import': false },
  plugins: [{
    // the bench stays in its modules: entry.ts runs `tsbpf bench` from them
    name: 'bench-external',
    setup(b) {
      b.onResolve({ filter: /\/bench\/bench\.js$/ }, (a) => ({ path: a.path, external: true }));
    },
  }],
});

// the code cache: the README's commands run through the bundle, then its compiled functions saved
const examples = join(root, 'examples');
if (existsSync(join(examples, 'sample.pcap'))) {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bundle-'));
  try {
    // sample.pcap's records repeated: enough packets for the tiered run to reach the JIT
    const sample = readFileSync(join(examples, 'sample.pcap'));
    const records = [];
    for (let at = 24; at + 16 <= sample.length;) {
      const len = sample.readUInt32LE(at + 8);
      records.push(sample.subarray(at, at + 16 + len));
      at += 16 + len;
    }
    const big = join(dir, 'warm.pcap');
    writeFileSync(big, Buffer.concat([sample.subarray(0, 24), ...Array.from({ length: 2000 }, (_, i) => records[i % records.length])]));
    const quiet = { write: () => true };
    const io = { stdout: quiet, stderr: quiet, stdin: { readAll: () => new Uint8Array(0), stream: () => { throw new Error('stdin'); } } };
    const ex = (f) => join(examples, f);
    const commands = [
      ['run', ex('flow-table.o'), '--pcap', ex('sample.pcap')],
      ['run', ex('flow-table.o'), '--pcap', big],
      ['run', ex('flow-table.o'), '--pcap', ex('sample.pcap'), '--engine', 'jit'],
      ['run', ex('flow-table.o'), '--pcap', ex('sample.pcap'), '--engine', 'interpreter'],
      ['run', ex('proto-count.o'), '--pcap', big, '--json'],
      ['run', ex('counter.json'), '--pcap', ex('sample.pcap'), '--json'],
      ['run', ex('syn-filter.s'), '--data-file', ex('tcp-syn.bin'), '--repeat', '100'],
      ['verify', ex('flow-table.o')],
      ['disasm', ex('flow-table.o')],
      ['batch', ex('script.txt')],
      ['filter', ex('syn-filter.o'), ex('sample.pcap')],
    ];
    for (const argv of commands) {
      const status = await exports.main(argv, io);
      if (status !== 0) throw new Error(`bundle-main: the warm-up command ${argv.join(' ')} gave ${status}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
writeCache();
