/** One assertion the API tests share: `f` throws a BpfError with exactly this code and message. */
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import type { ErrnoCode } from '../src/errors.js';

export function expectErr(f: () => unknown, code: ErrnoCode, message: string): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BpfError, `expected a BpfError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.message, message);
}
