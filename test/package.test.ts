/**
 * The package as npm users get it: `npm pack` (of the dist/ this test run
 * was built into), unpacked into a fresh project's node_modules as npm
 * would install it (tsbpf has no dependencies), then:
 *
 * - every entry of package.json's `exports` imports, and its runtime names
 *   are exactly the ones docs/api.md documents for it (each documented value
 *   is there, each exported value is documented);
 * - a small TypeScript program using the documented types type-checks
 *   against the packed .d.ts files with neither the DOM library nor Node's
 *   types: the main entry's types need neither;
 * - esbuild bundles the main entry with --platform=browser; the bundle
 *   imports nothing of Node, runs (under Node, as plain JavaScript), and a
 *   bundle using one function leaves the engines out (sideEffects: false);
 * - the packed CLI runs.
 *
 * Everything happens in one temporary folder, removed at the end.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

const root = projectRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; version: string };
const work = tempDir('tsbpf-package-');
const project = join(work, 'project');
const installed = join(project, 'node_modules', 'tsbpf');

/** Run a command; its stdout, failing the test with its stderr when it fails. */
function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.error?.message ?? ''}${r.stderr}${r.stdout}`);
  return r.stdout;
}

before(() => {
  // --ignore-scripts: `prepare` would rebuild; the test runs on the build it belongs to
  const out = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], root).trim().split('\n');
  const tarball = join(work, out[out.length - 1]!);
  mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
});

/** An entry of docs/api.md: the names it documents, by kind, and the entries it includes whole. */
interface DocEntry {
  values: string[];
  types: string[];
  /** `BPF_*`: every name with the prefix */
  patterns: string[];
  includes: string[];
}

/**
 * docs/api.md's entries: a `## \`tsbpf...\`` heading per entry, an
 * optional `Includes:` line naming entries exported whole, and table rows
 * `| \`name\` | kind | ... |`.
 */
function documented(): Map<string, DocEntry> {
  const docs = new Map<string, DocEntry>();
  let cur: DocEntry | undefined;
  for (const line of readFileSync(join(root, 'docs', 'api.md'), 'utf8').split('\n')) {
    const h = /^## `(tsbpf(?:\/[a-z]+)?)`/.exec(line);
    if (h) {
      cur = { values: [], types: [], patterns: [], includes: [] };
      docs.set(h[1]!, cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('Includes:')) cur.includes.push(...[...line.matchAll(/`(tsbpf[^`]*)`/g)].map((m) => m[1]!));
    const row = /^\| `([A-Za-z0-9_$*]+)` \| (class|function|const|interface|type) \|/.exec(line);
    if (!row) continue;
    const [, name, kind] = row;
    if (name!.endsWith('*')) cur.patterns.push(name!.slice(0, -1));
    else if (kind === 'interface' || kind === 'type') cur.types.push(name!);
    else cur.values.push(name!);
  }
  return docs;
}

/** An entry's documented names with its includes' (recursively). */
function closure(docs: Map<string, DocEntry>, entry: string): DocEntry {
  const d = docs.get(entry);
  assert.ok(d, `docs/api.md has no section for ${entry}`);
  const all: DocEntry = { values: [...d.values], types: [...d.types], patterns: [...d.patterns], includes: [] };
  for (const inc of d.includes) {
    const c = closure(docs, inc);
    all.values.push(...c.values);
    all.types.push(...c.types);
    all.patterns.push(...c.patterns);
  }
  return all;
}

const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => (k === '.' ? 'tsbpf' : `tsbpf/${k.slice(2)}`));

test('the package holds the build and the CLI, no tests, no source maps', () => {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
  const all = files(installed);
  assert.ok(all.includes('dist/src/index.js') && all.includes('dist/src/index.d.ts') && all.includes('dist/src/node.js') && all.includes('bin/tsbpf.js'));
  assert.deepEqual(all.filter((f) => f.endsWith('.map') || f.startsWith('dist/test/') || f.startsWith('test/')), []);
  assert.deepEqual(entries, ['tsbpf', 'tsbpf/node', 'tsbpf/isa', 'tsbpf/cbpf', 'tsbpf/elf', 'tsbpf/pcap', 'tsbpf/loader', 'tsbpf/verifier', 'tsbpf/btf']);
  // the packed CLI runs
  writeFileSync(join(project, 'prog.s'), 'r0 = 1\nexit\n');
  assert.equal(run(process.execPath, [join(installed, 'bin', 'tsbpf.js'), 'disasm', 'prog.s'], project), '0: (b7) r0 = 1\n1: (95) exit\n');
});

test('every entry imports, and exports exactly the values docs/api.md documents for it', () => {
  const docs = documented();
  const script = `const out = {};\nfor (const e of ${JSON.stringify(entries)}) out[e] = Object.keys(await import(e)).sort();\nconsole.log(JSON.stringify(out));\n`;
  writeFileSync(join(project, 'names.mjs'), script);
  const got = JSON.parse(run(process.execPath, ['names.mjs'], project)) as Record<string, string[]>;
  for (const entry of entries) {
    const d = closure(docs, entry);
    const names = new Set(got[entry]);
    assert.deepEqual(d.values.filter((v) => !names.has(v)), [], `${entry}: documented in docs/api.md, not exported`);
    const covered = (n: string): boolean => d.values.includes(n) || d.patterns.some((p) => n.startsWith(p));
    assert.deepEqual(got[entry]!.filter((n) => !covered(n)), [], `${entry}: exported, not documented in docs/api.md`);
    assert.ok(names.size > 0, entry);
  }
});

test('the packed tsbpf/node runs a WorkerPool: its worker entry is in the package', () => {
  writeFileSync(join(project, 'pool.mjs'), [
    "import { BpfSystem, Program, writePcap } from 'tsbpf';",
    "import { WorkerPool } from 'tsbpf/node';",
    'const sys = new BpfSystem({ shared: true, cpus: 2 });',
    "const prog = Program.load(sys, { insns: 'r6 = r1\\nr0 = *(u8 *)skb[0]\\nexit' });",
    'const pool = await WorkerPool.create(prog, { workers: 2 });',
    'const capture = writePcap([1, 2, 3, 4, 5].map((b) => ({ data: new Uint8Array([b, 0]), tsNs: 0n })), 1);',
    'const r = await pool.runCapture(capture);',
    'await pool.close();',
    "console.log([...r.verdicts].join(' '), pool.size);",
  ].join('\n'));
  assert.equal(run(process.execPath, ['pool.mjs'], project), '1 2 3 4 5 2\n');
});

test('the documented types and a small program type-check against the packed .d.ts, without DOM or Node types', () => {
  const docs = documented();
  const lines: string[] = [];
  entries.forEach((entry, i) => {
    const types = docs.get(entry)!.types;
    // as `import type { X as X3 }`: the same name in two entries is two imports
    if (types.length > 0) lines.push(`import type { ${types.map((t) => `${t} as ${t}${i}`).join(', ')} } from '${entry}';`);
  });
  lines.push(
    "import { BpfSystem, Program, Collection, VerifierError, BpfError, loadCollectionSpec, readCapture, verifyProgram } from 'tsbpf';",
    "import type { CollectionSpec, Verdict, CaptureVerdict } from 'tsbpf';",
    'export async function use(object: Uint8Array, capture: Uint8Array): Promise<number> {',
    '  const sys = new BpfSystem();',
    "  const spec: CollectionSpec = loadCollectionSpec(object);",
    '  const col = new Collection(sys, spec);',
    "  const counts = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });",
    '  let kept = 0;',
    '  for (const prog of Object.values(col.programs)) {',
    '    for await (const v of prog.runCapture(readCapture(capture))) { const cv: CaptureVerdict = v; kept += cv.verdict; }',
    '  }',
    "  try { Program.load(sys, { insns: 'exit' }); } catch (e) { if (e instanceof VerifierError) { const at: number | undefined = e.insn; const log: string = e.log; kept += (at ?? 0) + log.length; } else if (e instanceof BpfError) { const c: string = e.code; kept += c.length; } }",
    "  const v: Verdict = verifyProgram({ insns: 'r0 = 0\\nexit' });",
    "  const r0: bigint = Program.load(sys, { type: 'socket_filter', insns: 'r0 = 1\\nexit' }).run(new Uint8Array(14));",
    '  col.close();',
    '  return kept + (v.ok ? 1 : 0) + Number(r0) + counts;',
    '}',
  );
  writeFileSync(join(project, 'use.ts'), lines.join('\n') + '\n');
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022'], types: [], skipLibCheck: false },
    files: ['use.ts'],
  }));
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project);
});

test('esbuild --platform=browser bundles the main entry: no Node import, it runs, and unused engines are left out', async () => {
  writeFileSync(join(project, 'app.js'), [
    "import { BpfSystem, Program, readCapture, writePcap } from 'tsbpf';",
    'const sys = new BpfSystem();',
    "const prog = Program.load(sys, { insns: 'r0 = 42\\nexit' });",
    'const capture = writePcap([{ data: new Uint8Array(20), tsNs: 0n }], 1);',
    'let n = 0;',
    'for await (const v of prog.runCapture(readCapture(capture))) n += v.verdict;',
    "console.log(String(prog.run(new Uint8Array(14))), n, prog.verified);",
  ].join('\n'));
  const full = await build({ entryPoints: [join(project, 'app.js')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  const text = full.outputFiles[0]!.text;
  assert.deepEqual([...text.matchAll(/["'](node:[a-z/_]+)["']/g)].map((m) => m[1]), []);
  assert.deepEqual(Object.keys(full.metafile.inputs).filter((f) => /node_modules\/tsbpf\/dist\/src\/(node|pcap\/file|cli\/|bench\/)/.test(f)), []);
  writeFileSync(join(project, 'bundle.mjs'), text);
  assert.equal(run(process.execPath, ['bundle.mjs'], project), '42 42 true\n');
  // one function of the instruction set: tree-shaken to the isa files
  writeFileSync(join(project, 'small.js'), "import { disasm, assemble } from 'tsbpf';\nconsole.log(disasm(assemble('r0 = 1\\nexit')));\n");
  const small = await build({ entryPoints: [join(project, 'small.js')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  // what is in the output (metafile.inputs lists every file read, used or not)
  const output = Object.values(small.metafile.outputs)[0]!.inputs;
  const inputs = Object.keys(output).filter((f) => output[f]!.bytesInOutput > 0).map((f) => f.replace(/^.*node_modules\/tsbpf\/dist\/src\//, '')).filter((f) => !f.endsWith('small.js'));
  assert.deepEqual(inputs.filter((f) => !/^(isa\/|errors\.js$)/.test(f)), [], 'files bundled for disasm+assemble beyond isa/ and errors.js');
  assert.ok(small.outputFiles[0]!.text.length < text.length / 3, `small bundle ${small.outputFiles[0]!.text.length} bytes, full ${text.length}`);
});
