/**
 * The architecture, enforced: src/ is a stack of layers (docs/ARCHITECTURE.md),
 * and a file may import only from its own folder or from a layer below its
 * own. This test reads the imports of every file under src/ (static, type-only,
 * re-exports and dynamic import()) and fails on an import upward or sideways
 * (between two folders of the same rank), on a folder missing from the table,
 * and on a circle of imports between files (inside a folder, where the rank
 * rule cannot see it), naming the file and line of each import at fault.
 *
 * The table below is the authority; docs/ARCHITECTURE.md explains it. A new
 * folder gets a row (or joins one) here before it can hold code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

/**
 * Layers from the bottom up: each entry is one rank; folders of one rank are
 * peers and may not import each other. Root files of src/ are named with
 * their extension.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts'],
  ['isa'],
  ['memory'],
  ['maps'],
  ['runtime'],
  ['progs'],
  ['verifier'],
  ['vm', 'jit'],
  ['cbpf', 'elf', 'pcap', 'btf'],
  ['filter'],
  ['loader'],
  ['api'],
  ['bench'],
  ['cli'],
  ['index.ts', 'node.ts'],
];

interface Edge {
  from: string;
  to: string;
  line: number;
  spec: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The layer of a file: its folder under src/, or its own name for a file at the root. */
function layerOf(srcDir: string, file: string): string {
  return relative(srcDir, file).split(sep)[0]!;
}

/** Every problem with the imports under srcDir, one line each: `path:line: what`. */
export function architectureProblems(srcDir: string, layers: readonly (readonly string[])[] = LAYERS): string[] {
  const rank = new Map<string, number>();
  layers.forEach((row, i) => row.forEach((l) => rank.set(l, i)));
  const problems: string[] = [];
  const files = sourceFiles(srcDir);
  const name = (f: string): string => relative(join(srcDir, '..'), f).split(sep).join('/');
  const unplaced = new Set<string>();
  const edges = new Map<string, Edge[]>();
  for (const file of files) {
    const layer = layerOf(srcDir, file);
    if (!rank.has(layer) && !unplaced.has(layer)) {
      unplaced.add(layer);
      problems.push(`${name(file)}: ${layer} is in no layer of test/architecture.test.ts (LAYERS)`);
    }
    const text = readFileSync(file, 'utf8');
    const out: Edge[] = [];
    for (const imp of ts.preProcessFile(text, true, true).importedFiles) {
      const spec = imp.fileName;
      if (!spec.startsWith('.')) continue; // node: modules and packages
      let line = 1;
      for (let i = text.indexOf('\n'); i !== -1 && i < imp.pos; i = text.indexOf('\n', i + 1)) line++;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const where = `${name(file)}:${line}: imports '${spec}'`;
      if (relative(srcDir, target).startsWith('..')) {
        problems.push(`${where}, outside src/`);
        continue;
      }
      if (!existsSync(target)) {
        problems.push(`${where}, which does not exist`);
        continue;
      }
      out.push({ from: file, to: target, line, spec });
      const to = layerOf(srcDir, target);
      if (to === layer || !rank.has(layer) || !rank.has(to)) continue;
      if (rank.get(to)! > rank.get(layer)!) problems.push(`${where}: ${layer} may not import from ${to}, a layer above it`);
      else if (rank.get(to) === rank.get(layer)) problems.push(`${where}: ${layer} may not import from ${to}, a layer of the same rank`);
    }
    edges.set(file, out);
  }
  // Circles between files: a depth-first search, each circle reported once, from its first file.
  const state = new Map<string, 'open' | 'done'>();
  const path: Edge[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    for (const e of edges.get(file) ?? []) {
      const s = state.get(e.to);
      if (s === 'open') {
        const start = path.findIndex((p) => p.from === e.to);
        const ring = [...path.slice(start === -1 ? path.length : start), e];
        problems.push(`circle: ${ring.map((r) => `${name(r.from)}:${r.line} imports '${r.spec}'`).join(', ')}`);
      } else if (s === undefined) {
        path.push(e);
        visit(e.to);
        path.pop();
      }
    }
    state.set(file, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return problems;
}

test('no file under src/ imports upward or sideways, every folder has a layer, and no imports go round in a circle', () => {
  assert.deepEqual(architectureProblems(join(projectRoot(), 'src')), []);
});

test('every layer of the table exists under src/', () => {
  const src = join(projectRoot(), 'src');
  assert.deepEqual(LAYERS.flat().filter((l) => !existsSync(join(src, l))), []);
});

test('the check itself: a planted upward import, a sideways one, a circle and an unplaced folder are each reported at their line', () => {
  const dir = tempDir('tsbpf-arch-');
  try {
    const src = join(dir, 'src');
    const put = (path: string, text: string): void => {
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), text);
    };
    put('errors.ts', 'export class E {}\n');
    put('isa/op.ts', "import { E } from '../errors.js';\n// import { x } from '../maps/hash.js';\nimport type { H } from '../maps/hash.js';\nexport type X = H | E;\n");
    put('maps/hash.ts', "import type { X } from '../isa/op.js';\nexport type H = X;\n");
    put('vm/run.ts', "export const run = async () => (await import('../jit/code.js')).code;\n");
    put('jit/code.ts', 'export const code = 1;\n');
    put('api/a.ts', "import { b } from './b.js';\nexport const a = b;\n");
    put('api/b.ts', "export { a as b } from './a.js';\n");
    put('extra/x.ts', "import { b } from '../api/b.js';\nimport '../nowhere.js';\nexport const x = b;\n");
    put('pcap/out.ts', "import '../../test/x.js';\n");
    assert.deepEqual(architectureProblems(src), [
      'src/extra/x.ts: extra is in no layer of test/architecture.test.ts (LAYERS)',
      "src/extra/x.ts:2: imports '../nowhere.js', which does not exist",
      "src/isa/op.ts:3: imports '../maps/hash.js': isa may not import from maps, a layer above it",
      "src/pcap/out.ts:1: imports '../../test/x.js', outside src/",
      "src/vm/run.ts:1: imports '../jit/code.js': vm may not import from jit, a layer of the same rank",
      "circle: src/api/a.ts:1 imports './b.js', src/api/b.ts:1 imports './a.js'",
      "circle: src/isa/op.ts:3 imports '../maps/hash.js', src/maps/hash.ts:1 imports '../isa/op.js'",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
