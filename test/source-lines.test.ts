/**
 * Source lines in verifier logs (issue 16 item 7, issue 19 item 4): the
 * printer's rule (verifier/source-lines.ts), the loader's per-program line
 * records (loader/line-info.ts, rebased runs), BPF_PROG_LOAD's line_info
 * checks, the modern log of clang objects compiled with -g, the 3.19 profile's
 * opt-in (its log unchanged by default), and the host kernel differential:
 * the `; <line> @ <file>:<n>` lines of the 6.18 kernel's log (libbpf,
 * test/c/prog-log.c) and of tsbpf's modern log must be the same, for
 * accepted and rejected programs, at log levels 1 and 2. That part skips,
 * with its reason, without cc, libbpf or bpf(2).
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem, BPF_CMD } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { Program } from '../src/api/program.js';
import { BpfError, VerifierError } from '../src/errors.js';
import { parseElf } from '../src/elf/index.js';
import { BPF_CALL_REL, BPF_EXIT_INSN, BPF_LD_IMM64, BPF_MOV64_IMM } from '../src/isa/builders.js';
import { decodeSlots, encode } from '../src/isa/instruction.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { ObjectDebugInfo } from '../src/loader/line-info.js';
import type { CollectionSpec } from '../src/loader/spec.js';
import { SourceLinePrinter } from '../src/verifier/source-lines.js';
import type { SourceLine } from '../src/verifier/source-lines.js';
import { projectRoot } from './conformance-data.js';
import { tsbpf } from './cli-harness.js';
import { Btf, parseBtfExt } from '../src/btf/index.js';
import { lineCol, Strings, writeBtf, writeBtfExt } from './fuzz/btf-writer.js';
import { Runtime } from '../src/runtime/runtime.js';
import { withMapFds } from '../src/bench/workloads.js';
import { TARGET_319 } from './fuzz/soundness.js';
import { TARGET_MODERN } from './fuzz/modern.js';
import { generated } from './fuzz/modern-diff.js';
import { prng } from './random-programs.js';
import { tempDir } from './tmp.js';

const objPath = (name: string): string => join(projectRoot(), 'test', 'c', `${name}.o`);
const spec = (name: string): CollectionSpec => loadCollectionSpec(new Uint8Array(readFileSync(objPath(name))));
const sourceLinesOf = (log: string): string[] => log.split('\n').filter((l) => l.startsWith('; '));

const rec = (insn: number, lineNum: number, line: string, col = 1, file = './dir/a.c'): SourceLine => ({ insn, file, line, lineNum, col });

describe('the printer: a line when it changes, as verbose_linfo', () => {
  test('records of one line with other columns print once; a new line prints; going back prints again', () => {
    const p = new SourceLinePrinter([rec(0, 3, '\t  int x = 1;'), rec(2, 3, '\t  int x = 1;', 9), rec(3, 4, 'return x;'), rec(5, 0, '')]);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 0, 3].map((i) => p.at(i)), [
      '; int x = 1; @ a.c:3\n', '', '', '; return x; @ a.c:4\n', '', ';  @ a.c:0\n', '', '; int x = 1; @ a.c:3\n', '; return x; @ a.c:4\n',
    ]);
  });

  test('the same line number in another file is another line; a file without directories stays as it is', () => {
    const p = new SourceLinePrinter([rec(0, 7, 'a();', 1, 'x.h'), rec(1, 7, 'b();', 1, 'y.c')]);
    assert.deepEqual([p.at(0), p.at(1)], ['; a(); @ x.h:7\n', '; b(); @ y.c:7\n']);
  });

  test('find: the last record at or before an instruction', () => {
    const p = new SourceLinePrinter([rec(0, 1, 'a'), rec(4, 2, 'b'), rec(9, 3, 'c')]);
    assert.deepEqual([0, 3, 4, 8, 9, 100, 2].map((i) => p.find(i)?.lineNum), [1, 1, 2, 2, 3, 3, 1]);
  });
});

describe('the loader: each program its own records', () => {
  test('two programs of one section: the second one\'s records start at its own instruction 0', () => {
    const s = spec('source-lines');
    const second = s.programs['second']!;
    // with its prototype for BPF_PROG_LOAD's func_info (a program's own function: global, the context its argument)
    assert.deepEqual(second.funcInfo, [{ insn: 0, name: 'second', decl: 'int second(struct xdp_md * ctx)', linkage: 'global', args: [{ kind: 'ctx' }], returnsScalar: true }]);
    assert.deepEqual(second.lineInfo!.map((l) => `${l.insn} ${l.lineNum}:${l.col} ${l.line.trim()}`), [
      '0 79:0 int second(struct xdp_md *ctx) {',
      '1 81:34 void *end = (void *)(long)ctx->data_end;',
      '2 80:44 unsigned char *data = (void *)(long)ctx->data;',
      '3 82:21 if ((void *)(data + 1) > end)',
      '5 82:7 if ((void *)(data + 1) > end)',
      '7 84:10 return data[0] == 0x45 ? XDP_PASS : data[20];',
      '9 84:39 return data[0] == 0x45 ? XDP_PASS : data[20];',
      '10 85:1 }',
    ]);
    assert.equal(second.lineInfo![0]!.file, './test/c/source-lines.c');
    assert.deepEqual(s.programs['first']!.lineInfo!.map((l) => l.insn), [0, 1, 2, 4]);
    // an object without -g has none
    const plain = loadCollectionSpec(new Uint8Array(readFileSync(join(projectRoot(), 'examples', 'syn-filter.o'))));
    assert.equal(plain.programs['syn_filter']!.lineInfo, undefined);
  });

  test('runs: a run that starts between records gets the one in effect; runs appended in any order', () => {
    const info = ObjectDebugInfo.of(parseElf(new Uint8Array(readFileSync(objPath('source-lines')))));
    const mid = info.program([{ section: 'xdp/two', sectionInsn: 3, count: 2, progInsn: 0 }])!;
    assert.deepEqual(mid.lineInfo.map((l) => [l.insn, l.lineNum]), [[0, 73], [1, 76]]);
    assert.deepEqual(mid.funcInfo, []);
    // `second` (section insns 7..17) with `first` (0..6) appended after it, as a call would append a sub-program
    const both = info.program([{ section: 'xdp/two', sectionInsn: 7, count: 11, progInsn: 0 }, { section: 'xdp/two', sectionInsn: 0, count: 7, progInsn: 11 }])!;
    assert.deepEqual(both.funcInfo.map((f) => [f.insn, f.name]), [[0, 'second'], [11, 'first']]);
    assert.deepEqual(both.lineInfo.map((l) => [l.insn, l.lineNum]), [[0, 79], [1, 81], [2, 80], [3, 82], [5, 82], [7, 84], [9, 84], [10, 85], [11, 72], [12, 71], [13, 73], [15, 76]]);
    assert.equal(info.program([{ section: 'nope', sectionInsn: 0, count: 4, progInsn: 0 }]), undefined);
  });
});

describe('BPF_PROG_LOAD line_info', () => {
  const insns = encode([BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()]);
  const load = (line_info: unknown): number => new BpfSystem({ profile: 'modern' }).bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 1, insns, license: 'GPL', line_info } as never);
  const bad: [string, unknown, string][] = [
    ['not an array', 5, 'line_info must be an array of { insn, file, line, lineNum, col }'],
    ['not at 0 first', [rec(1, 1, 'a')], 'line_info[0]: the first record is at insn 1, not 0'],
    ['out of order', [rec(0, 1, 'a'), rec(1, 1, 'a'), rec(1, 2, 'b')], 'line_info[2]: insn 1 does not follow insn 1'],
    ['past the program', [rec(0, 1, 'a'), rec(2, 1, 'a')], 'line_info[1]: insn 2 is not an instruction of the program (2)'],
    ['a bad line number', [{ ...rec(0, 1, 'a'), lineNum: -1 }], 'line_info[0]: line number -1 is not a natural number'],
    ['a record that is not an object', [null], 'line_info[0]: not an object { insn, file, line, lineNum, col }'],
  ];
  test('a record inside an ld_imm64; a called function without its record', () => {
    const sys = new BpfSystem({ profile: 'modern' });
    const ldimm = encode([BPF_LD_IMM64(1, 7n), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()]);
    const load = (insns: Uint8Array, line_info: SourceLine[]): number => sys.bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 1, insns, license: 'GPL', line_info });
    assert.throws(() => load(ldimm, [rec(0, 1, 'a'), rec(1, 2, 'b')]), (e: unknown) => e instanceof BpfError && e.message === 'line_info[1]: insn 1 is the second slot of an ld_imm64');
    assert.ok(load(ldimm, [rec(0, 1, 'a'), rec(2, 2, 'b')]) > 0);
    // call pc+2 enters a function at insn 3
    const call = encode([BPF_CALL_REL(2), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(), BPF_MOV64_IMM(0, 1), BPF_EXIT_INSN()]);
    assert.throws(() => load(call, [rec(0, 1, 'a'), rec(2, 2, 'b')]), (e: unknown) => e instanceof BpfError && e.message === 'line_info: no record at insn 3, where a called function starts');
    assert.ok(load(call, [rec(0, 1, 'a'), rec(3, 2, 'b')]) > 0);
  });
  for (const [what, v, message] of bad) {
    test(what, () => assert.throws(() => load(v), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === message));
  }
  test('good records load', () => assert.ok(load([rec(0, 1, 'a'), rec(1, 2, 'b')]) > 0));
});

describe('the modern log of a clang object compiled with -g', () => {
  test('a rejected program: the source lines, the last one the offending C line', () => {
    const sys = new BpfSystem({ profile: 'modern' });
    const s = spec('source-lines');
    const e = ((): VerifierError => {
      try {
        new Collection(sys, { ...s, programs: { bad_index: s.programs['bad_index']! } });
      } catch (err) {
        return err as VerifierError;
      }
      throw new Error('bad_index was accepted');
    })();
    assert.ok(e instanceof VerifierError);
    assert.deepEqual(sourceLinesOf(e.log), [
      '; int bad_index(struct xdp_md *ctx) { @ source-lines.c:50',
      '; unsigned int k = 1; @ source-lines.c:51',
      ';  @ source-lines.c:0',
      '; struct rec *r = bpf_map_lookup_elem(&recs, &k); @ source-lines.c:52',
      '; if (!r) @ source-lines.c:53',
      '; unsigned int i = r->n; @ source-lines.c:55',
      '; r->c[i] += 1; @ source-lines.c:56',
    ]);
    const lines = e.log.trimEnd().split('\n');
    assert.deepEqual(lines.slice(-6, -3).map((l) => l.replace(/ +;.*/, '')), ['; r->c[i] += 1; @ source-lines.c:56', '10: (67) r1 <<= 2', '11: (0f) r0 += r1']);
    assert.equal(lines.at(-2), 'R0 unbounded memory access, make sure to bounds check any such access');
  });

  test('infinite loop detected: the loop\'s line above the message, as the kernel prints it', () => {
    const s = spec('source-lines');
    try {
      new Collection(new BpfSystem({ profile: 'modern' }), { ...s, programs: { spin: s.programs['spin']! } });
      assert.fail('spin was accepted');
    } catch (e) {
      assert.ok(e instanceof VerifierError);
      const lines = e.log.split('\n');
      const at = lines.findIndex((l) => l.startsWith('infinite loop detected at insn '));
      assert.equal(lines[at - 1], '; while (i < 10) { @ source-lines.c:90');
    }
  });

  test('an accepted one at level 2: the lines on the path, a loop body\'s line again after its back-edge', () => {
    const sys = new BpfSystem({ profile: 'modern' });
    const s = spec('source-lines');
    const c = new Collection(sys, { ...s, programs: { sum_values: s.programs['sum_values']! } }, { logLevel: 2 });
    const lines = sourceLinesOf(c.programs['sum_values']!.log);
    assert.equal(lines.filter((l) => l === '; sum += r->c[i] * 3 + i; @ source-lines.c:43').length, 4);
    assert.equal(lines[0], '; int sum_values(struct xdp_md *ctx) { @ source-lines.c:35');
    c.close();
  });
});

describe('the 3.19 profile: source lines only on request', () => {
  const s = spec('modern-examples');
  const prog = { index_after_check: s.programs['index_after_check']! };
  const rejected = (source: boolean | undefined): VerifierError => {
    try {
      new Collection(new BpfSystem(), { ...s, programs: prog }, source === undefined ? {} : { source });
    } catch (e) {
      return e as VerifierError;
    }
    throw new Error('3.19 accepted a modern program');
  };
  test('the default log is the one without line records, byte for byte', () => {
    const plain = rejected(undefined).log;
    const bare = { ...prog.index_after_check };
    delete bare.lineInfo;
    assert.equal(rejected(false).log, plain);
    let without = '';
    try {
      new Collection(new BpfSystem(), { ...s, programs: { index_after_check: bare } });
    } catch (e) {
      without = (e as VerifierError).log;
    }
    assert.equal(plain, without);
    assert.deepEqual(sourceLinesOf(plain), []);
  });

  test('source: true puts them above the instructions, as in the modern log', () => {
    const log = rejected(true).log;
    assert.deepEqual(sourceLinesOf(log).slice(0, 2), ['; int index_after_check(void *skb) { @ modern-examples.c:29', '; unsigned int k = 0; @ modern-examples.c:30']);
    // the log without the source lines is the plain log
    assert.equal(log.split('\n').filter((l) => !l.startsWith('; ')).join('\n'), rejected(undefined).log);
  });

  test('Program.load: lineInfo given by hand, with source', () => {
    const insns = [BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()];
    const lineInfo = [rec(0, 5, '  int r = 0;'), rec(1, 6, '  return r;')];
    const p = Program.load(new BpfSystem(), { insns, lineInfo, source: true, logLevel: 1 });
    assert.equal(p.log, '; int r = 0; @ a.c:5\n0: (b7) r0 = 0\n; return r; @ a.c:6\n1: (95) exit\n');
    assert.equal(Program.load(new BpfSystem(), { insns, lineInfo, logLevel: 1 }).log, '0: (b7) r0 = 0\n1: (95) exit\n');
  });
});

// ---------------------------------------------------------------- the host kernel

/** Builds prog-log.c against libbpf and checks that it loads an XDP program, or says why not. */
function buildProgLog(): { exe?: string; why?: string } {
  const exe = join(tempDir('tsbpf-prog-log-'), 'prog-log');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(projectRoot(), 'test', 'c', 'prog-log.c'), '-lbpf'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `cannot build test/c/prog-log.c with cc and libbpf (${cc.error?.message ?? (cc.stderr.trim().split('\n')[0] || `exit status ${cc.status}`)})` };
  const probe = spawnSync(exe, [objPath('source-lines'), 'first', '1', '6'], { encoding: 'utf8' });
  if (!/^OK\n/.test(probe.stdout)) return { why: `BPF_PROG_LOAD of an XDP program is not available here (${probe.stdout.trim() || probe.stderr.trim() || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const kernel = buildProgLog();
if (kernel.why) process.stderr.write(`source lines kernel differential skipped: ${kernel.why}\n`);

/** The kernel's verdict (0 or the errno) and log for one program of an object. */
function kernelLog(obj: string, prog: string, level: number, progType: number): { errno: number; log: string } {
  const r = spawnSync(kernel.exe!, [objPath(obj), prog, String(level), String(progType)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const first = r.stdout.indexOf('\n');
  const head = r.stdout.slice(0, first);
  assert.match(head, /^(OK|E \d+)$/, `prog-log ${obj} ${prog}: ${r.stdout.slice(0, 200)} ${r.stderr}`);
  return { errno: head === 'OK' ? 0 : Number(head.slice(2)), log: r.stdout.slice(first + 1) };
}

/** tsbpf's (modern profile) for the same program, loaded alone from the object. */
function tsbpfLog(obj: string, prog: string, level: number): { errno: number; log: string } {
  const s = spec(obj);
  try {
    const c = new Collection(new BpfSystem({ profile: 'modern' }), { ...s, programs: { [prog]: s.programs[prog]! } }, { logLevel: level });
    const log = c.programs[prog]!.log;
    c.close();
    return { errno: 0, log };
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    return { errno: -e.errno, log: e.log };
  }
}

/**
 * Each program, at each level: the verdicts and the source lines must agree.
 * At level 2 the whole walk is printed, so the lines agree only where the two
 * verifiers walk the same paths in the same order; these are the programs
 * where they do (elsewhere the modern profile prunes at other points, which
 * is the walker's business, not the log's: xdp_parse, tc_fields, xdp_tail).
 */
const CASES: { obj: string; prog: string; type: number; levels: number[]; rejected?: string }[] = [
  { obj: 'source-lines', prog: 'sum_values', type: 6, levels: [1, 2] },
  { obj: 'source-lines', prog: 'bad_index', type: 6, levels: [1, 2], rejected: '; r->c[i] += 1; @ source-lines.c:56' },
  { obj: 'source-lines', prog: 'late_bad', type: 6, levels: [1, 2], rejected: ';  @ source-lines.c:0' },
  { obj: 'source-lines', prog: 'first', type: 6, levels: [1, 2] },
  { obj: 'source-lines', prog: 'second', type: 6, levels: [1, 2], rejected: '; return data[0] == 0x45 ? XDP_PASS : data[20]; @ source-lines.c:84' },
  { obj: 'modern-examples', prog: 'index_after_check', type: 1, levels: [1, 2] },
  { obj: 'modern-examples', prog: 'bounded_loop', type: 1, levels: [1, 2] },
  { obj: 'tc-skb', prog: 'tc_writes', type: 3, levels: [1, 2] },
  { obj: 'tc-skb', prog: 'sk_fields', type: 1, levels: [1, 2] },
  { obj: 'xdp-adjust', prog: 'xdp_head', type: 6, levels: [1, 2] },
  { obj: 'xdp-adjust', prog: 'xdp_meta', type: 6, levels: [1, 2] },
  { obj: 'xdp-parse', prog: 'xdp_parse', type: 6, levels: [1] },
  { obj: 'helpers', prog: 'xdp_helpers', type: 6, levels: [1] },
];

describe('the host kernel\'s source lines and tsbpf\'s agree', { skip: kernel.why ?? false }, () => {
  for (const c of CASES) {
    for (const level of c.levels) {
      test(`${c.obj}.o ${c.prog}, log level ${level}`, () => {
        const k = kernelLog(c.obj, c.prog, level, c.type);
        const t = tsbpfLog(c.obj, c.prog, level);
        assert.equal(t.errno, k.errno, `verdicts: the kernel's last lines:\n${k.log.split('\n').slice(-4).join('\n')}`);
        const kl = sourceLinesOf(k.log);
        assert.deepEqual(sourceLinesOf(t.log), kl);
        if (c.rejected !== undefined) {
          assert.ok(k.errno !== 0);
          assert.equal(kl.at(-1), c.rejected);
        } else if (level === 2) {
          assert.ok(kl.length > 3, `${kl.length} source lines`);
        }
      });
    }
  }
});

describe('the CLI: --source for verify, run and filter', () => {
  const modernObj = join(projectRoot(), 'examples', 'modern.o');
  test('verify: 3.19 without --source prints no source line; with it, the lines above the instructions', async () => {
    const plain = await tsbpf(['verify', modernObj]);
    assert.equal(plain.status, 0);
    assert.deepEqual(sourceLinesOf(plain.stdout), []);
    const withSource = await tsbpf(['verify', modernObj, '--source']);
    assert.equal(withSource.status, 0);
    const lines = sourceLinesOf(withSource.stdout);
    assert.equal(lines[0], '; SEC("socket1") int modern(void *skb) { @ modern.c:29');
    assert.equal(withSource.stdout.split('\n').filter((l) => !l.startsWith('; ')).join('\n'), plain.stdout);
  });

  test('verify: the modern profile prints them without asking; the JSON log carries them', async () => {
    const r = await tsbpf(['verify', objPath('source-lines'), '--section', 'bad_index', '--json']);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout) as { accepted: boolean; log: string; profile: string };
    assert.equal(out.profile, 'modern');
    assert.equal(sourceLinesOf(out.log).at(-1), '; r->c[i] += 1; @ source-lines.c:56');
  });

  test('run and filter: a rejection\'s log with --source', async () => {
    const s = spec('modern-examples');
    assert.ok(s.programs['index_after_check']);
    const run = await tsbpf(['run', objPath('modern-examples'), '--section', 'index_after_check', '--profile', '3.19', '--source', '--data', '00']);
    assert.equal(run.status, 1);
    assert.equal(sourceLinesOf(run.stdout).at(-1), '; r->c[i]++; @ modern-examples.c:35');
    const filter = await tsbpf(['filter', objPath('modern-examples'), join(projectRoot(), 'examples', 'sample.pcap'), '--section', 'index_after_check', '--profile', '3.19', '--source']);
    assert.equal(filter.status, 1);
    assert.equal(sourceLinesOf(filter.stdout).at(-1), '; r->c[i]++; @ modern-examples.c:35');
    const without = await tsbpf(['run', objPath('modern-examples'), '--section', 'index_after_check', '--profile', '3.19', '--data', '00']);
    assert.deepEqual(sourceLinesOf(without.stdout), []);
  });
});

describe('disasm: function headers and source lines of an object compiled with -g', () => {
  test('text: the declaration above the function, each line record above its instruction', async () => {
    const r = await tsbpf(['disasm', objPath('source-lines'), '--section', 'first']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, [
      'int first(struct xdp_md * ctx):',
      '; void *end = (void *)(long)ctx->data_end; @ source-lines.c:72',
      '0: (61) r2 = *(u32 *)(r1 +4)',
      '; void *data = (void *)(long)ctx->data; @ source-lines.c:71',
      '1: (61) r1 = *(u32 *)(r1 +0)',
      '; if (data + 14 > end) @ source-lines.c:73',
      '2: (07) r1 += 14',
      '3: (b7) r0 = 1',
      '; } @ source-lines.c:76',
      '4: (2d) if r1 > r2 goto pc+1',
      '5: (b7) r0 = 2',
      '6: (95) exit',
      '',
    ].join('\n'));
  });

  test('every program of the object: a helper call by name, the map annotation, the lines', async () => {
    const r = await tsbpf(['disasm', objPath('source-lines')]);
    assert.equal(r.status, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'xdp/sum_values:');
    assert.equal(lines[1], 'int sum_values(struct xdp_md * ctx):');
    assert.ok(lines.includes('; struct rec *r = bpf_map_lookup_elem(&recs, &k); @ source-lines.c:37'));
    assert.ok(lines.includes('6: (85) call bpf_map_lookup_elem#1'));
    assert.ok(lines.includes('4: (18) r1 = 0x0  ; map recs'));
    assert.deepEqual(lines.filter((l) => l.endsWith('):')), [
      'int sum_values(struct xdp_md * ctx):', 'int bad_index(struct xdp_md * ctx):', 'int late_bad(struct xdp_md * ctx):', 'int spin(struct xdp_md * ctx):',
      'int first(struct xdp_md * ctx):', 'int second(struct xdp_md * ctx):',
    ]);
  });

  test('--json: bpftool\'s keys on the instructions they belong to', async () => {
    const r = await tsbpf(['disasm', objPath('source-lines'), '--section', 'first', '--json']);
    const insns = (JSON.parse(r.stdout) as { insns: Record<string, unknown>[] }).insns;
    assert.deepEqual(insns[0], {
      pc: 0, code: 0x61, hex: '6112040000000000', text: 'r2 = *(u32 *)(r1 +4)', func: 'first', proto: 'int first(struct xdp_md * ctx)',
      src: 'void *end = (void *)(long)ctx->data_end;', file: './test/c/source-lines.c', line_num: 72, line_col: 34,
    });
    assert.deepEqual(insns[3], { pc: 3, code: 0xb7, hex: 'b700000001000000', text: 'r0 = 1' });
  });

  test('an object without -g lists as before', async () => {
    const r = await tsbpf(['disasm', join(projectRoot(), 'examples', 'syn-filter.o')]);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith(';') || l.endsWith('):')).length, 0);
  });
});

describe('line records change nothing but the source lines', () => {
  /**
   * Generated programs of both soundness targets, loaded without and with
   * random line records (log level 2, the whole walk printed): the same
   * verdict and errno, and the log with its `; ` lines taken out is the log
   * without records, byte for byte.
   */
  for (const target of [TARGET_319, TARGET_MODERN]) {
    test(`${target.name}: 150 generated programs`, () => {
      const sys = new BpfSystem(new Runtime({ maxBytes: 4 << 20, profile: target.profile }));
      sys.jitEnabled = false;
      const fds = target.maps.map((m) => sys.bpf('BPF_MAP_CREATE', m));
      const rnd = prng(0x1607);
      let rejected = 0;
      let printed = 0;
      for (const insns of generated(0x19, 150, target)) {
        const bytes = encode(withMapFds(insns, fds));
        // records where the kernel takes them: at instructions (not an ld_imm64's second slot), one at each called function
        const slots = decodeSlots(bytes);
        const lines: SourceLine[] = [rec(0, 1, 'start();')];
        const calls = new Set(slots.flatMap((x, i) => (x.code === 0x85 && x.src === 1 ? [i + x.imm + 1] : [])));
        for (let i = 1; i < slots.length; i++) {
          // an ld_imm64's second slot has code 0, so a slot after a 0x18 is always one
          if (slots[i - 1]!.code === 0x18) continue;
          if (calls.has(i) || rnd() < 0.4) lines.push(rec(i, 1 + Math.floor(rnd() * 6), `  line${i};`, i % 5));
        }
        const load = (line_info?: SourceLine[]): { errno: number; log: string } => {
          const buf = new Uint8Array(1 << 22);
          try {
            sys.close(sys.bpf('BPF_PROG_LOAD', { prog_type: target.progType, insns: bytes, license: 'GPL', log_level: 2, log_size: buf.length, log_buf: buf, ...(line_info ? { line_info } : {}) }));
            return { errno: 0, log: new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))) };
          } catch (e) {
            if (!(e instanceof BpfError)) throw e;
            return { errno: -e.errno, log: e.log ?? '' };
          }
        };
        const plain = load();
        const lined = load(lines);
        assert.equal(lined.errno, plain.errno);
        assert.equal(lined.log.split('\n').filter((l) => !l.startsWith('; ')).join('\n'), plain.log);
        if (plain.errno !== 0) rejected++;
        printed += sourceLinesOf(lined.log).length;
      }
      assert.ok(rejected > 10 && rejected < 140, `${rejected} of 150 rejected`);
      assert.ok(printed > 150, `${printed} source lines printed`);
    });
  }
});

test('a run before the first line record of its section: the program gets no lines (the load would refuse them)', () => {
  const strings = new Strings();
  for (const x of ['s', 'a.c', 'x();']) strings.add(x);
  const btfBytes = writeBtf([{ name: 'int', kind: 1, sizeOrType: 4, extra: [32] }, { kind: 13, sizeOrType: 1 }, { name: 'f', kind: 12, vlen: 1, sizeOrType: 2 }], strings);
  const ext = parseBtfExt(writeBtfExt({ func: [{ section: 's', records: [[16, 3]] }], line: [{ section: 's', records: [[16, 'a.c', 'x();', lineCol(4, 1)]] }] }, strings), new Btf(btfBytes));
  const info = new ObjectDebugInfo(ext, new Btf(btfBytes));
  assert.deepEqual(info.program([{ section: 's', sectionInsn: 0, count: 4, progInsn: 0 }]), { lineInfo: [], funcInfo: [{ insn: 2, name: 'f', decl: 'int f()', linkage: 'global', args: [], returnsScalar: true }] });
  assert.deepEqual(info.program([{ section: 's', sectionInsn: 2, count: 2, progInsn: 0 }])!.lineInfo, [{ insn: 0, file: 'a.c', line: 'x();', lineNum: 4, col: 1 }]);
});

test('Program.load of an object\'s program on a modern system: its maps of modern types, its lines in the log', () => {
  // (map types were looked up under 3.19 there: `map type percpu_array (6) is not supported`)
  const sys = new BpfSystem({ profile: 'modern' });
  const p = Program.load(sys, { insns: new Uint8Array(readFileSync(objPath('maps-globals'))), section: 'xdp_counters', logLevel: 2 });
  assert.deepEqual(Object.keys(p.maps).sort(), ['.bss', '.data', '.rodata', 'by_type', 'events', 'len_buckets', 'pc_hash', 'recent']);
  assert.equal(sourceLinesOf(p.log)[0], '; SEC("xdp") int xdp_counters(struct xdp_md *ctx) { @ maps-globals.c:60');
  p.close();
});
