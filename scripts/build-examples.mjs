// Builds the clang objects committed under examples/ from their C sources
// (`npm run examples`), byte for byte as committed, or into OUTDIR when given
// (test/examples.test.ts builds into a temporary directory and compares).
//
// Usage: node scripts/build-examples.mjs [OUTDIR]
//
// The flags are the ones the objects were built with. The legacy-map objects
// have no debug info (-g would add about 4 KB of DWARF and change every
// byte after the code). modern.o needs -g: clang emits BTF, which the `.maps`
// section's map definitions are read from, only with debug info; and
// -fdebug-compilation-dir=. keeps the build directory out of the DWARF, so
// the object does not depend on where the checkout is. clang runs in the
// project root with the source as examples/NAME.c, the name DWARF records.
// The bytes depend on clang's version too: CLANG names the one used.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `clang --version`'s first line when the committed objects were built. */
export const CLANG = 'Debian clang version 14.0.6';

/** Each example object and the flags besides `-c SRC -o OUT` it is built with. */
export const EXAMPLES = [
  { name: 'proto-count', flags: ['-O2', '-target', 'bpf'] },
  { name: 'flow-table', flags: ['-O2', '-target', 'bpf'] },
  { name: 'syn-filter', flags: ['-O2', '-target', 'bpf'] },
  { name: 'ipv4-options', flags: ['-O2', '-target', 'bpf'] },
  { name: 'modern', flags: ['-O2', '-g', '-fdebug-compilation-dir=.', '-target', 'bpf'] },
];

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Build every example into `outDir`; returns the error text of the first failure, or undefined. */
export function buildExamples(outDir) {
  mkdirSync(outDir, { recursive: true });
  for (const { name, flags } of EXAMPLES) {
    const args = [...flags, '-c', `examples/${name}.c`, '-o', join(outDir, `${name}.o`)];
    const r = spawnSync('clang', args, { cwd: ROOT, encoding: 'utf8' });
    if (r.error) return `clang: ${r.error.message}`;
    if (r.status !== 0) return `clang ${args.join(' ')}: ${r.stderr.trim()}`;
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(ROOT, 'examples'));
  const v = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) {
    process.stderr.write('build-examples: clang is not installed (apt-get install -y clang)\n');
    process.exit(2);
  }
  const version = v.stdout.split('\n')[0].trim();
  if (version !== CLANG) process.stderr.write(`build-examples: ${version}, not ${CLANG}: the objects will differ from the committed ones\n`);
  const err = buildExamples(out);
  if (err) {
    process.stderr.write(`build-examples: ${err}\n`);
    process.exit(1);
  }
}
