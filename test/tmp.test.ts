/**
 * Tests leave nothing behind: test/tmp.ts's tempDir() removes its directory
 * when the test (or the file) that made it is done, and also when the process
 * exits before after() hooks run; and no test makes a temporary directory any
 * other way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

test('a directory made inside a test is gone when that test is done', async (t) => {
  let dir = '';
  await t.test('makes one', () => {
    dir = tempDir('tsbpf-tmp-test-');
    writeFileSync(join(dir, 'f'), 'x');
    assert.equal(existsSync(join(dir, 'f')), true);
  });
  assert.notEqual(dir, '');
  assert.equal(existsSync(dir), false);
});

test('a process that exits before its after() hooks still removes its directories', () => {
  // a child with its own temporary directory, so nothing else's folders are counted
  const root = mkdtempSync(join(tmpdir(), 'tsbpf-tmp-parent-'));
  try {
    const tmpJs = fileURLToPath(new URL('./tmp.js', import.meta.url));
    const child = `import { tempDir } from ${JSON.stringify(tmpJs)};\n`
      + "const d = tempDir('tsbpf-early-');\nconsole.log(d);\nprocess.exit(0);\n";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { env: { ...process.env, TMPDIR: root }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(join(root, 'tsbpf-early-')), r.stdout);
    assert.deepEqual(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no test makes a temporary directory except through tempDir()', () => {
  const dir = join(projectRoot(), 'test');
  const offenders: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        // the fuzzers' corpora are data, not code
        if (e.name !== 'corpus') walk(p);
      } else if (e.name.endsWith('.ts') && e.name !== 'tmp.ts' && e.name !== 'tmp.test.ts') {
        if (/\bmkdtemp(Sync)?\s*\(/.test(readFileSync(p, 'utf8'))) offenders.push(p.slice(dir.length + 1));
      }
    }
  };
  walk(dir);
  assert.deepEqual(offenders, []);
});
