/**
 * The ALU benchmark workload: its C source (aluSource) is written as a person
 * would write it (no dead value, no mergeable pair of operations), and the
 * program the interpreter runs is clang's compilation of that C, computing
 * the same r0. The stored compilation is checked against the installed
 * clang when it is the version that produced it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Instruction } from '../src/isa/index.js';
import { BPF_ADD, BPF_ALU64, BPF_CLASS, BPF_LDX, BPF_LSH, BPF_MOV, BPF_MUL, BPF_OP, BPF_SRC, BPF_SUB, BPF_X, toSlots } from '../src/isa/index.js';
import { ALU_CLANG } from '../src/bench/alu-clang.js';
import { aluMix, aluSource, prng } from '../src/bench/workloads.js';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(insns: readonly Instruction[], input: Uint8Array): bigint {
  const rt = new Runtime();
  const addr = rt.mem.alloc(input.length);
  rt.mem.write(addr, input);
  return new Interpreter(rt.mem, toSlots(insns), { helpers: rt.helpers }).run({ r1: addr, r2: input.length }).r0;
}

test('clang\'s compilation of the ALU source computes the source\'s r0, on the workload\'s input and on 20 others', () => {
  const w = aluMix();
  const src = aluSource();
  assert.equal(run(w.insns, w.input), run(src, w.input));
  const rnd = prng(99);
  for (let k = 0; k < 20; k++) {
    const input = Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256));
    assert.equal(run(w.insns, input), run(src, input), `input ${k}`);
  }
  // ~1000 straight-line instructions, as the workload promises
  assert.ok(w.insns.length >= 950 && w.insns.length <= 1050, `${w.insns.length} instructions`);
  assert.equal(w.insns.filter((i) => BPF_CLASS(i.code) === 0x05).length, 1, 'one exit and no jumps');
});

test('the ALU source has no dead value and no two mergeable operations in a row on a register', () => {
  const src = aluSource();
  // Backward liveness: r0 is live at the exit; only mov and the loads overwrite without reading.
  const live = new Set<number>([0]);
  let dead = 0;
  for (let i = src.length - 2; i >= 0; i--) {
    const x = src[i]!;
    if (!live.has(x.dst)) dead++;
    if (BPF_CLASS(x.code) === BPF_LDX || BPF_OP(x.code) === BPF_MOV) live.delete(x.dst);
    if (BPF_CLASS(x.code) === BPF_ALU64 && BPF_SRC(x.code) === BPF_X) live.add(x.src);
  }
  assert.equal(dead, 0);
  const kind = (op: number): number => (op === BPF_SUB ? BPF_ADD : op === BPF_LSH ? BPF_MUL : op);
  const last = new Map<number, number>();
  // (the epilogue xors r2..r9 into r0: a chain no compiler shortens)
  for (const x of src.slice(0, -9)) {
    if (BPF_CLASS(x.code) !== BPF_ALU64) continue;
    const op = BPF_OP(x.code);
    if (op === BPF_MOV) {
      last.set(x.dst, last.get(x.src) ?? -1);
      continue;
    }
    assert.notEqual(kind(op), last.get(x.dst), `two ${op.toString(16)}-kind operations in a row on r${x.dst}`);
    last.set(x.dst, kind(op));
  }
});

const probe = spawnSync('clang', ['--version'], { encoding: 'utf8' });
const version = probe.status === 0 ? probe.stdout.split('\n')[0]!.trim() : undefined;
const skip = version === undefined ? 'clang is not installed' : version !== ALU_CLANG.clang ? `clang is "${version}", the stored compilation is from "${ALU_CLANG.clang}"` : false;
if (skip) process.stdout.write(`# skipping the ALU workload's clang check: ${skip}\n`);

test('the stored compilation is what clang compiles from the source (scripts/gen-alu.mjs --check)', { skip }, () => {
  const r = spawnSync(process.execPath, ['scripts/gen-alu.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
