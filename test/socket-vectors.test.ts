/**
 * Socket-filter vectors in the bpf_conformance format (test/socket-vectors/):
 * LD_ABS / LD_IND over the packet given as `-- mem`, every bound case, run
 * as verified socket filters and, unverified, in the checked interpreter;
 * both must give `-- result`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { encode, assemble } from '../src/isa/index.js';
import { parseVector, projectRoot } from './conformance-data.js';

const dir = join(projectRoot(), 'test', 'socket-vectors');
const files = readdirSync(dir).filter((f) => f.endsWith('.data')).sort();

test('the socket-filter vector set is complete', () => {
  assert.equal(files.length, 27);
});

for (const f of files) {
  const v = parseVector(f.replace(/\.data$/, ''), readFileSync(join(dir, f), 'utf8'));
  test(`socket filter ${v.name}`, () => {
    const insns = encode(assemble(v.asm));
    const sys = new BpfSystem();
    const verified = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns, license: 'GPL' });
    assert.equal(sys.progOf(verified).prog.verified, true);
    assert.equal(testRun(sys, verified, v.mem).retval, v.result);
    const checked = sys.loadUnverified({ prog_type: 1, insns, license: 'GPL' });
    assert.equal(testRun(sys, checked, v.mem).retval, v.result);
  });
}
