/**
 * Every compiled filter of the differential test loads as a classic socket
 * filter (the 3.19 classic checker and verifier accept it: trampolines,
 * scratch memory and all) and, run by the engines over generated frames,
 * returns what the reference classic interpreter returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, runClassic } from '../src/filter/index.js';
import { encodeClassic } from '../src/cbpf/index.js';
import { BpfSystem } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { BpfError } from '../src/errors.js';
import { ETHER_EXPRS } from './filter-exprs.js';
import { etherFrames } from './filter-frames.js';

test('every differential expression loads, and the engines agree with runClassic on 120 frames', () => {
  const frames = etherFrames(120, 5);
  const sys = new BpfSystem();
  let loaded = 0;
  const problems: string[] = [];
  for (const expr of ETHER_EXPRS) {
    let prog;
    try {
      prog = compileFilter(expr);
    } catch (e) {
      if (e instanceof BpfError) continue; // refused as tcpdump refuses it
      throw e;
    }
    const p = Program.load(sys, { insns: encodeClassic(prog), classic: true });
    loaded++;
    for (const f of frames) {
      const want = runClassic(prog, f);
      const got = Number(p.run(f));
      if (got !== want) problems.push(`${expr}: ${Buffer.from(f).toString('hex')}: engine ${got}, runClassic ${want}`);
    }
    p.close();
  }
  assert.deepEqual(problems.slice(0, 5), []);
  assert.ok(loaded >= 240, `${loaded} loaded`);
});
