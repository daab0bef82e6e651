/**
 * Hostile inputs (issue 13, "Deliver 5"): a fixed corpus of every target of
 * test/fuzz/hostile.ts (ELF objects, captures, classic BPF, assembly, JSON
 * specs, bpf() attrs, BTF and .BTF.ext) must produce no problem, i.e. only returns and
 * BpfErrors with one-line messages; the fuzzer's own machinery must catch,
 * count and shrink a crash when there is one; and each crash the fuzzers
 * found in the parsers is pinned here with its exact error. Loader objects
 * have their own file, test/loader-hostile.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../src/errors.js';
import { assemble } from '../src/isa/asm.js';
import { checkClassic, convertClassic, decodeClassic, disassembleClassic, formatDd, parseClassicText } from '../src/cbpf/index.js';
import type { SockFilter } from '../src/cbpf/index.js';
import { parseProgram, parseSpec } from '../src/cli/input.js';
import { TARGETS, mix, runHarness, runTarget } from './fuzz/hostile.js';
import type { Harness, Target } from './fuzz/hostile.js';

/** Inputs per target: about half a second each on one core. */
const CORPUS: Record<Target, number> = { elf: 400, pcap: 1500, cbpf: 1500, asm: 3000, spec: 800, attr: 600, btf: 800, filter: 3000, shmaps: 150, steer: 40 };
const SEED = 13;

describe('the fixed corpus of each target gives no problem', () => {
  for (const target of TARGETS) {
    test(`${target}: ${CORPUS[target]} inputs from seed ${SEED}`, async () => {
      const r = await runTarget(target, { seed: SEED, count: CORPUS[target], shrinkMs: 2000 });
      assert.deepEqual(r.problems, []);
      assert.equal(r.tried, CORPUS[target]);
      // the corpus reaches past the first check: some inputs are accepted whole, some refused
      const refused = Object.values(r.refused).reduce((a, b) => a + b, 0);
      assert.ok(r.accepted > 0 && (refused > 0 || target === 'attr' || target === 'shmaps' || target === 'steer'), `${target}: ${r.accepted} accepted, ${refused} refused`);
      if (target === 'attr') {
        assert.ok((r.calls?.['ok'] ?? 0) > 0 && (r.calls?.['EINVAL'] ?? 0) > 0, `bpf() calls: ${JSON.stringify(r.calls)}`);
      }
    });
  }
});

describe('the fuzzer machinery', () => {
  /** Numbers; the "parser" crashes with a TypeError on any list holding a 7, and refuses lists longer than 5. */
  const fake: Harness<number[]> = {
    generate: (rnd) => Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 10)),
    exercise(xs) {
      if (xs.length > 5) throw new BpfError('E2BIG', 'too long');
      if (xs.includes(7)) throw new TypeError('seven');
    },
    show: (xs) => JSON.stringify(xs),
    *shrink(xs) {
      for (let i = 0; i < xs.length; i++) yield [...xs.slice(0, i), ...xs.slice(i + 1)];
    },
  };

  test('a crash is a problem, reported with its seed and index and shrunk to what still crashes', async () => {
    const r = await runHarness('cbpf', fake, { seed: 5, count: 200, perClass: 2 });
    assert.equal(r.tried, 200);
    assert.equal(r.problems.length, 2, 'two problems kept for the one class');
    for (const p of r.problems) {
      assert.equal(p.what, 'TypeError: seven');
      assert.equal(p.input, '[7]');
      assert.equal(p.seed, 5);
    }
    assert.ok(r.refused['E2BIG']! > 0 && r.accepted > 0);
  });

  test('a BpfError whose message spans lines is a problem', async () => {
    const twoLines: Harness<number> = { generate: () => 1, exercise: () => { throw new BpfError('EINVAL', 'a\nb'); }, show: String, shrink: () => [] };
    const r = await runHarness('asm', twoLines, { seed: 1, count: 1 });
    assert.deepEqual(r.problems.map((p) => p.what), ['BpfError EINVAL whose message is not one line: "a\\nb"']);
  });

  test('input i has its own seed: the same input whatever ran before it', () => {
    assert.notEqual(mix(1, 0), mix(1, 1));
    assert.notEqual(mix(1, 0), mix(2, 0));
    assert.equal(mix(1, 5), mix(1, 5));
  });

  test('the command runs a target in a watched worker and reports', () => {
    const script = fileURLToPath(new URL('./fuzz/hostile.js', import.meta.url));
    const r = spawnSync(process.execPath, [script, '--seconds', '1', '--seed', '3', '--target', 'asm'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    // on a loaded machine the worker may start late: it still runs at least one input
    const m = /^hostile: seed 3, 1 s over asm\nasm: (\d+) inputs, \d+ accepted, refused: (?:EINVAL \d+|none); 0 problems\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 1, r.stdout);
    const bad = spawnSync(process.execPath, [script, '--target', 'nope'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, "hostile: unknown target 'nope' (elf, pcap, cbpf, asm, spec, attr, btf, filter, shmaps, steer)\n");
  });
});

function refuses(f: () => unknown, code: string, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BpfError, `not a BpfError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

describe('crashes the fuzzers found, fixed', () => {
  test('asm: a mnemonic named like an Object.prototype property is an unknown instruction', () => {
    // 'constructor' matched the conformance ALU table's prototype, then failed to destructure
    refuses(() => assemble('constructor 1 2'), 'EINVAL', "line 1: unknown instruction 'constructor 1 2': 'constructor 1 2'");
    refuses(() => assemble('constructor %r0, 1'), 'EINVAL', "line 1: unknown instruction 'constructor %r0, 1': 'constructor %r0, 1'");
    refuses(() => assemble('r0 = *(constructor *)(r1 +0)'), 'EINVAL', "line 1: unknown instruction 'r0 = *(constructor *)(r1 +0)': 'r0 = *(constructor *)(r1 +0)'");
  });

  test('asm: a line of separators only has no mnemonic', () => {
    refuses(() => assemble(','), 'EINVAL', "line 1: unknown instruction ',': ','");
    refuses(() => assemble('exit\n , ,'), 'EINVAL', "line 2: unknown instruction ', ,': ', ,'");
  });

  test('asm: a bare CR or an ESC inside a line is escaped in the message; a tab is kept', () => {
    refuses(() => assemble('mov %\rr0, 1'), 'EINVAL', "line 1: mov takes 2 operands, got 3: 'mov %\\u000dr0, 1'");
    refuses(() => assemble('mov\t%r0, \u001b[2J'), 'EINVAL', "line 1: expected an immediate, got '\\u001b[2J': 'mov\t%r0, \\u001b[2J'");
  });

  const ret0: SockFilter = { code: 0x06, jt: 0, jf: 0, k: 0 };
  test('cbpf: the checker refuses what is not an array of {code, jt, jf, k} with unsigned integer fields', () => {
    refuses(() => checkClassic(null as unknown as SockFilter[]), 'EINVAL', 'a classic program must be an array of {code, jt, jf, k}, got null');
    refuses(() => checkClassic([null] as unknown as SockFilter[]), 'EINVAL', 'insn 0: expected {code, jt, jf, k}, got null');
    // a hole of a sparse array
    refuses(() => convertClassic([, ret0] as SockFilter[]), 'EINVAL', 'insn 0: expected {code, jt, jf, k}, got undefined');
    // these reached the converter's jump arithmetic (InternalError 'jump target 6.5') or mixed a bigint in
    refuses(() => convertClassic([{ code: 0x15, jt: 1.5, jf: 0, k: 0 }, ret0, ret0]), 'EINVAL', 'insn 0: jt 1.5 is not a u8');
    refuses(() => convertClassic([{ code: 0x15, jf: 0, k: 0 } as unknown as SockFilter, ret0]), 'EINVAL', 'insn 0: jt undefined is not a u8');
    refuses(() => checkClassic([{ code: 0x06, jt: 0, jf: 0, k: 6n } as unknown as SockFilter]), 'EINVAL', 'insn 0: k 6n is not a u32');
    refuses(() => checkClassic([{ code: 0x15, jt: {}, jf: 0, k: 0 } as unknown as SockFilter, ret0]), 'EINVAL', 'insn 0: jt an object is not a u8');
  });

  test('cbpf: disassembling, formatting and decoding check their input first', () => {
    refuses(() => disassembleClassic([7] as unknown as SockFilter[]), 'EINVAL', 'insn 0: expected {code, jt, jf, k}, got 7');
    // String() of an object without a prototype throws: the message must not use it
    refuses(() => formatDd([{ code: Object.create(null) as number, jt: 0, jf: 0, k: 0 }]), 'EINVAL', 'insn 0: code an object is not a u16');
    refuses(() => parseClassicText(42 as unknown as string), 'EINVAL', 'classic program text must be a string, got 42');
    refuses(() => decodeClassic('abc' as unknown as Uint8Array), 'EINVAL', 'raw classic program must be a Uint8Array, got "abc"');
  });

  test('cbpf: a bare CR inside a quoted line is escaped in the message', () => {
    refuses(() => parseClassicText('{ 0x6 0,\r 0, 0x00000000 },'), 'EINVAL', "line 1: neither tcpdump -dd nor -ddd output: '{ 0x6 0,\\u000d 0, 0x00000000 },'");
  });

  test('spec: invalid JSON is one line even when V8 quotes line breaks from the text', () => {
    for (const text of ['{"insns":[:,0]}\n{"in', '{"insns":\u2028]}', '{"insns": [\r\n,]}']) {
      assert.throws(() => parseSpec(text), (e: unknown) => {
        assert.ok(e instanceof BpfError);
        assert.equal(e.code, 'EINVAL');
        assert.match(e.message, /^invalid JSON: [^\n\r\u2028\u2029]+$/);
        return true;
      });
    }
    // through the CLI's format detection as well: `{` and "insns" make it a spec
    assert.throws(() => parseProgram(new TextEncoder().encode('{"insns":[:,0]}\n{"in')), { name: 'BpfError', code: 'EINVAL', message: /^invalid JSON: .*\\u000a/ });
  });
});
