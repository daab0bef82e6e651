/**
 * Kernel differential test for the modern map types: the same bpf(2) map
 * command sequences (test/map-ops.ts, random and seeded) run on the host
 * kernel, through test/c/map-ops.c, and on a tsbpf BpfSystem with the
 * modern profile and as many simulated CPUs as the host has possible; every
 * answer (fds, return codes, every byte read) must be equal. Skips with its
 * reason where there is no cc or no bpf(2) (root on Linux).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem } from '../src/api/bpf.js';
import { CREATE_CASES, INNER_CASES, LRU_CASE, buildMapOps, kernelAnswers, nameIds, possibleCpus, randomSequence, specs, tsbpfAnswer } from './map-ops.js';

const helper = buildMapOps();
const skip = helper.exe ? false : helper.why!;
if (skip) process.stderr.write(`map kernel differential tests skipped: ${skip}\n`);
const cpus = possibleCpus();
const SEQUENCES = Number(process.env['MAPS_KERNEL_SEQUENCES'] ?? 12);
const OPS = Number(process.env['MAPS_KERNEL_OPS'] ?? 80);

/** The first line where the two sides differ, with the lines before it, or undefined. */
function compare(lines: readonly string[], kernel: readonly string[], tsbpf: readonly string[]): string | undefined {
  for (let i = 0; i < lines.length; i++) {
    if (kernel[i] !== tsbpf[i]) {
      const before = lines.slice(Math.max(0, i - 6), i).map((l, j) => `  ${l} -> ${kernel[Math.max(0, i - 6) + j]}`);
      return `line ${i}: ${lines[i]}\n${before.join('\n')}\n  kernel: ${kernel[i]}\n  tsbpf:  ${tsbpf[i]}`;
    }
  }
  return undefined;
}

const tsbpfAnswers = (lines: readonly string[]): string[] => {
  const sys = new BpfSystem({ profile: 'modern', cpus });
  return nameIds(lines, lines.map((l) => tsbpfAnswer(sys, l)));
};

test('map creation: every create-time case gives the host kernel\'s fd or errno', { skip }, () => {
  const mismatches: string[] = [];
  for (const line of CREATE_CASES) {
    const k = kernelAnswers(helper.exe!, [line]);
    const t = tsbpfAnswers([line]);
    if (k[0] !== t[0]) mismatches.push(`${line}: kernel ${k[0]}, tsbpf ${t[0]}`);
  }
  assert.deepEqual(mismatches, []);
});

test('maps of maps: inner map templates, and a prog array holding programs, as the host kernel', { skip }, () => {
  for (const lines of INNER_CASES) {
    const diff = compare(lines, nameIds(lines, kernelAnswers(helper.exe!, lines)), tsbpfAnswers(lines));
    assert.equal(diff, undefined, diff);
  }
});

test('lru_hash eviction where the kernel\'s batches and tsbpf\'s order agree (2 or more CPUs)', { skip: skip || (cpus < 2 && 'one possible CPU: the kernel evicts 4 at once') }, () => {
  const diff = compare(LRU_CASE, kernelAnswers(helper.exe!, LRU_CASE), tsbpfAnswers(LRU_CASE));
  assert.equal(diff, undefined, diff);
});

for (const spec of specs(cpus)) {
  test(`${spec.name}: ${SEQUENCES} random sequences of ${OPS} commands agree with the host kernel (${cpus} CPUs)`, { skip }, () => {
    // one kernel process per type: all sequences in it, each on its own map (closed after)
    const all: string[] = [];
    const starts: number[] = [];
    for (let s = 0; s < SEQUENCES; s++) {
      starts.push(all.length);
      all.push(...randomSequence(spec, 1000 * spec.type + s, OPS));
    }
    const kernel = nameIds(all, kernelAnswers(helper.exe!, all));
    for (let s = 0; s < SEQUENCES; s++) {
      const lines = all.slice(starts[s], s + 1 < SEQUENCES ? starts[s + 1] : all.length);
      const k = kernel.slice(starts[s], starts[s]! + lines.length);
      const diff = compare(lines, k, tsbpfAnswers(lines));
      assert.equal(diff, undefined, `${spec.name}, sequence ${s} (seed ${1000 * spec.type + s}):\n${diff}`);
    }
  });
}
