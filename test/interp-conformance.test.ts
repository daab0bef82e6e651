import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, toSlots } from '../src/isa/index.js';
import { runConformance } from '../src/api/conformance.js';
import { loadVectors } from './conformance-data.js';

const vectors = loadVectors();

test('all 313 conformance vectors are present', () => {
  assert.equal(vectors.length, 313);
  assert.equal(vectors.filter((v) => v.result !== undefined).length, 313);
});

for (const v of vectors) {
  test(`conformance ${v.name}`, () => {
    const slots = toSlots(assemble(v.asm));
    assert.equal(runConformance(slots, v.mem), v.result);
  });
}
