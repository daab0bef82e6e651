/**
 * The pruning index (src/verifier/prune.ts) must answer exactly as 3.19's
 * linear scan of states_equal over every stored state, and keep the
 * verifier's time bounded: the issue 13 reproducers (independent diamonds
 * over an initialised stack, and diamonds whose every path leaves the stack
 * in a different shape) with their exact verdicts and comparison counts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import { PruneIndex } from '../src/verifier/prune.js';
import type { RegState, VerifierState } from '../src/verifier/state.js';
import { REG, STACK, copyState, emptyReg, initialState, setStack, spilledAt, stackType, statesEqual } from '../src/verifier/state.js';
import { PRUNE_PROBE_LIMIT } from '../src/verifier/check.js';
import { prng } from './random-programs.js';

const TYPES = [REG.NOT_INIT, REG.UNKNOWN_VALUE, REG.PTR_TO_CTX, REG.CONST_IMM, REG.PTR_TO_STACK, REG.PTR_TO_MAP_VALUE];

function randomReg(rnd: () => number): RegState {
  const type = TYPES[Math.floor(rnd() * TYPES.length)]!;
  const value = type === REG.CONST_IMM || type === REG.PTR_TO_STACK ? [0, -8, 1, 4294967295][Math.floor(rnd() * 4)]! : 0;
  return { type, value };
}

/** A state over a few registers and the top 4 stack slots, so that covering is common. */
function randomState(rnd: () => number): VerifierState {
  const s = initialState();
  for (const r of [0, 2, 3]) s.regs[r] = randomReg(rnd);
  for (let slot = 0; slot < 4; slot++) {
    const off = -8 * (slot + 1);
    const kind = Math.floor(rnd() * 4);
    if (kind === 1) {
      setStack(s, off, 8, STACK.SPILL, rnd() < 0.5 ? { type: REG.PTR_TO_CTX, value: 0 } : { type: REG.PTR_TO_STACK, value: -16 });
    } else if (kind >= 2) {
      // misc, whole or the upper half only
      setStack(s, kind === 2 ? off : off + 4, kind === 2 ? 8 : 4, STACK.MISC, emptyReg());
    }
  }
  return s;
}

/** A state `old` covers, made by filling in what old leaves free. */
function specialise(old: VerifierState, rnd: () => number): VerifierState {
  const s = copyState(old);
  for (let r = 0; r < 10; r++) {
    if (s.regs[r]!.type === REG.NOT_INIT || (s.regs[r]!.type === REG.UNKNOWN_VALUE && rnd() < 0.5)) {
      const reg = randomReg(rnd);
      if (reg.type !== REG.NOT_INIT) s.regs[r] = reg;
    }
  }
  for (let off = -64; off < 0; off++) {
    if (stackType(s, off) === STACK.INVALID && rnd() < 0.3) setStack(s, off, 1, STACK.MISC, spilledAt(s, off));
  }
  return s;
}

describe('the pruning index', () => {
  test('answers as the linear scan over 20000 random queries', () => {
    const rnd = prng(0x9e37);
    let covered = 0;
    let queries = 0;
    for (let round = 0; round < 200; round++) {
      const index = new PruneIndex();
      const stored: VerifierState[] = [];
      for (let i = 0; i < 30; i++) {
        const s = randomState(rnd);
        stored.push(s);
        index.add(copyState(s));
      }
      for (let q = 0; q < 100; q++) {
        const cur = rnd() < 0.5 ? specialise(stored[Math.floor(rnd() * stored.length)]!, rnd) : randomState(rnd);
        const expected = stored.some((old) => statesEqual(old, cur));
        assert.equal(index.covers(cur, () => {}), expected);
        queries++;
        if (expected) covered++;
      }
    }
    assert.equal(queries, 20000);
    // both answers occur often enough for the comparison to mean something
    assert.ok(covered > 5000 && covered < 15000, `${covered} covered`);
  });
});

function load(src: string): { insnProcessed?: number; err?: BpfError } {
  const sys = new BpfSystem();
  const size = 16777215;
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: 1, insns: encode(assemble(src)), license: 'GPL', log_level: 2, log_size: size, log_buf: new Uint8Array(size),
    });
    const m = /processed (\d+) insns\n$/.exec(sys.progOf(fd).prog.log);
    return { insnProcessed: Number(m![1]) };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { err: e };
  }
}

/** n independent diamonds, each leaving one slot of an initialised stack spilled ctx or misc. */
function diamonds(n: number): string {
  const l = ['r6 = r1', 'r2 = *(u32 *)(r1 +0)'];
  for (let i = 0; i < 64; i++) l.push(`*(u64 *)(r10 -${8 * (i + 1)}) = 0`);
  for (let k = 0; k < n; k++) l.push(`if r2 > ${k} goto pc+2`, `*(u64 *)(r10 -${8 * (k + 1)}) = r6`, 'goto pc+1', `*(u64 *)(r10 -${8 * (k + 1)}) = 0`);
  return [...l, 'r0 = 0', 'exit'].join('\n');
}

/** n diamonds whose two sides initialise different slots: every path a different stack shape. */
function shapes(n: number): string {
  const l = ['r2 = *(u32 *)(r1 +0)'];
  for (let k = 0; k < n; k++) l.push(`if r2 > ${k} goto pc+2`, `*(u64 *)(r10 -${16 * k + 8}) = 0`, 'goto pc+1', `*(u64 *)(r10 -${16 * k + 16}) = 0`);
  return [...l, 'r0 = 0', 'exit'].join('\n');
}

describe('verification time is bounded', () => {
  test('12 diamonds over an initialised stack: accepted, as 3.19 would (minutes before the index; logs byte-identical to the linear scan)', () => {
    assert.equal(load(diamonds(12)).insnProcessed, 24638);
  });

  test('13 diamonds: E2BIG at the processed-instruction limit, as 3.19', () => {
    const r = load(diamonds(13));
    assert.equal(r.err?.code, 'E2BIG');
    assert.equal(r.err?.message, 'insn 105: BPF program is too large. Proccessed 32769 insn');
  });

  test('every path a different stack shape: E2BIG once the comparison budget is spent', () => {
    assert.equal(load(shapes(11)).insnProcessed, 12285);
    const r = load(shapes(14));
    assert.equal(r.err?.code, 'E2BIG');
    assert.equal(r.err?.message, `insn 52: BPF program is too complex: more than ${PRUNE_PROBE_LIMIT} state comparisons`);
  });
});
