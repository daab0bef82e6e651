import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encode } from '../src/isa/index.js';
import { loadAssembled, loadVectors } from './conformance-data.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('the assembler reproduces the bytes of every program in assembled.json', () => {
  const assembled = loadAssembled();
  const vectors = loadVectors();
  assert.equal(vectors.length, 313);
  let checked = 0;
  for (const v of vectors) {
    const want = assembled[v.name];
    assert.ok(want, `${v.name} is in assembled.json`);
    assert.equal(hex(encode(assemble(v.asm))), want.prog, v.name);
    checked++;
  }
  assert.equal(checked, 313);
});
