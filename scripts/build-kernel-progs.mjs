// Builds the C programs of the kernel differential test
// (test/progs-kernel.test.ts) into the objects committed next to them in
// test/c/. They use libbpf's headers (bpf_helpers.h) and the uapi headers;
// -g gives the BTF the `.maps` definitions are read from,
// -fdebug-compilation-dir=. keeps the checkout's path out of the DWARF, and
// maps-globals needs -mcpu=v3 for its 32-bit atomic exchange and
// compare-and-exchange. calls links bpf-to-bpf calls, callbacks and
// __array(values, ...) maps (test/calls.test.ts).
//
// Usage: node scripts/build-kernel-progs.mjs [OUTDIR]
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMMON = ['-O2', '-g', '-fdebug-compilation-dir=.', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu'];

/** Each program and the flags it adds to COMMON. */
export const KERNEL_PROGS = [
  { name: 'xdp-parse', flags: [] },
  { name: 'tc-skb', flags: [] },
  { name: 'xdp-adjust', flags: [] },
  { name: 'maps-globals', flags: ['-mcpu=v3'] },
  { name: 'helpers', flags: [] },
  { name: 'core', flags: [] },
  { name: 'core-poison', flags: [] },
  { name: 'calls', flags: [] },
  { name: 'global-funcs', flags: [] },
  { name: 'source-lines', flags: [] },
  // variables set before load (test/vars.test.ts, test/vars-kernel.test.ts)
  { name: 'vars', flags: [] },
  // typed maps and bpftool's formatted dumps (test/btf-values.test.ts)
  { name: 'btf-values', flags: [] },
  // not run by the kernel test: the BTF reader's CO-RE records (test/btf.test.ts)
  { name: 'core-relos', flags: [] },
];

const out = resolve(process.argv[2] ?? join(ROOT, 'test', 'c'));
mkdirSync(out, { recursive: true });
for (const { name, flags } of KERNEL_PROGS) {
  const args = [...COMMON, ...flags, '-c', `test/c/${name}.c`, '-o', join(out, `${name}.o`)];
  const r = spawnSync('clang', args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    process.stderr.write(`build-kernel-progs: clang ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}\n`);
    process.exit(1);
  }
}
