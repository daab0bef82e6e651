/**
 * Temporary directories for tests, removed when the test file is done.
 * `tempDir('tsbpf-loader-')` makes a fresh directory under the system's
 * temporary directory and registers its removal with node:test's `after()`
 * (and, for a file whose run is cut short before `after` hooks run, with the
 * process's exit), so no test leaves `tsbpf-*` folders behind. Called at
 * module level, the directory lives until the file's last test is done;
 * inside a describe() or a test, until that suite or test is done (after()
 * attaches to the innermost one running).
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}

// A file that exits early (a thrown top-level error, process.exit) skips
// after() hooks; the exit handler still runs, synchronously, and removes
// whatever is left.
process.on('exit', () => {
  for (const dir of [...made]) remove(dir);
});

/** A new empty directory named `${prefix}XXXXXX`, removed after the test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  after(() => remove(dir));
  return dir;
}
