/**
 * Global functions under the modern profile (issue 16, point 5): with func
 * info (BPF_PROG_LOAD's func_info in tsbpf's resolved form), a global
 * function is verified once on its own from its prototype and a call to it
 * is checked against the prototype, as the 6.18 kernel does. The cases
 * (verifier-modern-global-cases.ts) carry the host's verdicts, errnos, error
 * lines and processed counts; where bpf(2) and cc are available the same
 * programs, with the same BTF and func_info, go to the host kernel too
 * (test/c/global-load.c) and both are compared. Also: the translation from
 * BTF (globalFuncArgs), the log at level 2 against the host's reference
 * log, bad func_info input, and programs without func info unchanged.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import { BpfSystem } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import type { FuncInfoEntry } from '../src/verifier/modern/func-info.js';
import { ctxStructsOf, globalFuncArgs } from '../src/verifier/modern/func-info.js';
import { BtfWriter } from './global-btf.js';
import { GLOBAL_CASES, GLOB_EXAMPLE, caseBtf } from './verifier-modern-global-cases.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

interface Outcome { errno: string; log: string }

function load(src: string, funcInfo: readonly FuncInfoEntry[] | undefined, level = 1): Outcome {
  const sys = new BpfSystem({ profile: 'modern' });
  const buf = new Uint8Array(1 << 20);
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: 3, insns: encode(assemble(src)), license: 'GPL', log_level: level, log_size: buf.length, log_buf: buf, ...(funcInfo ? { func_info: funcInfo } : {}),
    });
    return { errno: '', log: sys.progOf(fd as number).prog.log };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { errno: e.code, log: e.log ?? '' };
  }
}

/** The lines before the statistics line (blank lines left out, as the kernel harness prints none). */
function errorLines(log: string, n: number): string[] {
  const lines = log.split('\n').filter((l) => l !== '');
  return lines.slice(lines.length - 1 - n, lines.length - 1);
}

const processed = (log: string): number => Number(/processed (\d+) insns/.exec(log)?.[1] ?? -1);

const REF_INFO: FuncInfoEntry[] = [
  { insn: 0, name: 'tc_glob', linkage: 'global', args: [{ kind: 'ctx' }], returnsScalar: true },
  { insn: 18, name: 'add_len', linkage: 'global', args: [{ kind: 'ctx' }, { kind: 'scalar' }], returnsScalar: true },
  { insn: 21, name: 'sum_pair', linkage: 'global', args: [{ kind: 'mem', size: 8, nullable: true }], returnsScalar: true },
  { insn: 27, name: 'twice', linkage: 'static' },
];

for (const c of GLOBAL_CASES) {
  test(`global functions: ${c.name}`, () => {
    const r = load(c.src, caseBtf(c).funcInfo);
    if ('processed' in c.expect) {
      assert.equal(r.errno, '', r.log);
      assert.equal(processed(r.log), c.expect.processed);
    } else {
      assert.equal(r.errno, c.expect.errno, r.log);
      assert.deepEqual(errorLines(r.log, c.expect.lines.length), c.expect.lines);
    }
  });
}

test('global functions: the reference program logs as the 6.18 host at level 2 (bpftool -d prog load glob-example.o)', () => {
  const lines = load(GLOB_EXAMPLE, REF_INFO, 2).log.split('\n');
  const at = (l: string): number => {
    const i = lines.indexOf(l);
    assert.ok(i >= 0, `no line ${l}`);
    return i;
  };
  const call = at('6: (85) call pc+11');
  assert.deepEqual(lines.slice(call, call + 4), [
    '6: (85) call pc+11',
    'Func#1 (\'add_len\') is global and assumed valid.',
    '7: R0=scalar()',
    '7: (bf) r7 = r0                       ; R0=scalar(id=1) R7=scalar(id=1)',
  ]);
  // the static callee walked in the caller's context; the stack the global call was given, clobbered
  const stat = at('14: (85) call pc+12');
  assert.deepEqual(lines.slice(stat + 1, stat + 5), [
    'caller:',
    ' R6=ctx() R7=scalar(id=1) R8=scalar() R10=fp0 fp-8=mmmmmmmm',
    'callee:',
    ' frame1: R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0',
  ]);
  const v1 = at('Validating add_len() func#1...');
  assert.deepEqual(lines.slice(v1, v1 + 6), [
    'Validating add_len() func#1...',
    '18: R1=ctx() R2=scalar() R10=fp0',
    '18: (61) r0 = *(u32 *)(r1 +0)         ; R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R1=ctx()',
    '19: (0f) r0 += r2                     ; R0=scalar() R2=scalar()',
    '20: (95) exit',
    'Func#1 (\'add_len\') is safe for any args that match its prototype',
  ]);
  const v2 = at('Validating sum_pair() func#2...');
  assert.deepEqual(lines.slice(v2, v2 + 4), [
    'Validating sum_pair() func#2...',
    '21: R1=mem_or_null(id=5,sz=8) R10=fp0',
    '21: (b7) r0 = 0                       ; R0=0',
    '22: (15) if r1 == 0x0 goto pc+3       ; R1=mem(sz=8)',
  ]);
  assert.ok(v1 > at('17: (95) exit'), 'the global functions after the main program');
  assert.equal(lines.at(-3), 'Func#2 (\'sum_pair\') is safe for any args that match its prototype');
  assert.match(lines.at(-2)!, /^processed 30 insns \(limit 1000000\) /);
});

test('global functions: at level 1 a verified program\'s log is the last function\'s line and the statistics, as on the host', () => {
  const log = load(GLOB_EXAMPLE, REF_INFO, 1).log;
  assert.equal(log.split('\n')[0], 'Func#2 (\'sum_pair\') is safe for any args that match its prototype');
  assert.equal(log.split('\n').length, 3);
});

test('global functions: without func info every callee is walked in context (the scalar-argument case is accepted)', () => {
  const c = GLOBAL_CASES.find((x) => x.name.startsWith('a scalar argument is any number'))!;
  assert.equal(load(c.src, undefined).errno, '');
  // and with it, refused (the global function is verified for any number)
  assert.equal(load(c.src, caseBtf(c).funcInfo).errno, 'EINVAL');
});

test('global functions: a global function no verified path calls is not verified (its code becomes traps)', () => {
  // the call is behind a branch the verifier folds; the function itself would be refused
  const src = 'r1 = 0\nif r1 != 0 goto pc+2\nr0 = 0\nexit\ncall pc+1\nexit\nr0 = *(u64 *)(r10 -600)\nexit';
  const info: FuncInfoEntry[] = [
    { insn: 0, name: 'prog', linkage: 'global', args: [{ kind: 'ctx' }], returnsScalar: true },
    { insn: 6, name: 'never', linkage: 'global', args: [], returnsScalar: true },
  ];
  const r = load(src, info, 2);
  assert.equal(r.errno, '', r.log);
  assert.equal(r.log.includes('Validating'), false);
});

test('global functions: the combined stack of a chain through a global call is checked', () => {
  const src = '*(u64 *)(r10 -512) = 0\ncall pc+2\nr0 = 0\nexit\n*(u64 *)(r10 -8) = 0\nr0 = 0\nexit';
  const info: FuncInfoEntry[] = [
    { insn: 0, name: 'prog', linkage: 'global', args: [{ kind: 'ctx' }], returnsScalar: true },
    { insn: 4, name: 'g', linkage: 'global', args: [], returnsScalar: true },
  ];
  const r = load(src, info);
  assert.equal(r.errno, 'EACCES');
  assert.deepEqual(errorLines(r.log, 1), ['combined stack size of 2 calls is 528. Too large']);
});

test('global functions: func_info records out of order are refused as check_btf_func_early does', () => {
  const info: FuncInfoEntry[] = [{ insn: 1, name: 'a', linkage: 'static' }];
  const r = load('r0 = 0\nexit', info);
  assert.equal(r.errno, 'EINVAL');
  assert.equal(r.log.split('\n')[0], 'nonzero insn_off 1 for the first func info recordprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0');
  const r2 = load('call pc+1\nexit\nr0 = 0\nexit', [{ insn: 0, name: 'a', linkage: 'static' }, { insn: 0, name: 'b', linkage: 'static' }]);
  assert.match(r2.log, /^same or smaller insn offset \(0\) than previous func info record \(0\)processed/);
});

test('global functions: bad func_info is EINVAL naming the field; 3.19 refuses func_info', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const insns = encode(assemble('r0 = 0\nexit'));
  const err = (fi: unknown): string => {
    try {
      sys.bpf('BPF_PROG_LOAD', { prog_type: 3, insns, license: 'GPL', func_info: fi as FuncInfoEntry[] });
      return 'loaded';
    } catch (e) {
      assert.ok(e instanceof BpfError);
      return `${e.code} ${e.message}`;
    }
  };
  assert.equal(err(5), 'EINVAL func_info must be an array of { insn, name, linkage, args?, returnsScalar? }, got 5');
  assert.equal(err([{ insn: 0, name: 'p', linkage: 'weak' }]), 'EINVAL func_info[0].linkage must be \'static\' or \'global\', got \'weak\' (a string)');
  assert.equal(err([{ insn: -1, name: 'p', linkage: 'static' }]), 'EINVAL func_info[0].insn must be an unsigned 32-bit integer, got -1');
  assert.equal(err([{ insn: 0, name: 'p', linkage: 'global', args: [{ kind: 'mem', size: 1.5 }] }]), 'EINVAL func_info[0].args[0].size must be an integer in 0..536870911, got 1.5');
  assert.equal(err([{ insn: 0, name: 'p', linkage: 'global', args: [{ kind: 'ptr' }] }]), 'EINVAL func_info[0].args[0].kind must be \'scalar\', \'ctx\', \'mem\' or \'unsupported\', got \'ptr\' (a string)');
  assert.equal(err([{ insn: 0, name: 'p', linkage: 'global', args: [], returnsScalar: true }]), 'loaded');
  const old = new BpfSystem();
  assert.throws(() => old.bpf('BPF_PROG_LOAD', { prog_type: 1, insns, license: 'GPL', func_info: [{ insn: 0, name: 'p', linkage: 'static' }] }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === 'func_info needs the modern profile (3.19 has no bpf-to-bpf calls)');
});

test('globalFuncArgs: prototypes from BTF as btf_prepare_func_args reads them', () => {
  const w = new BtfWriter();
  const int = w.int();
  const pair = w.struct('pair', 8, [['a', int, 0], ['b', int, 32]]);
  const skb = w.struct('sk_buff', 200);
  const fwd = w.struct('opaque', 0);
  const f = (name: string, ret: number, params: number[], linkage: 'static' | 'global' = 'global'): number => w.func(name, w.proto(ret, params), linkage);
  const a = f('a', int, [w.ptr(skb), int, w.ptr(pair), w.ptr(fwd)]);
  const st = f('st', int, [w.ptr(0)], 'static');
  const v = f('v', 0, []);
  const nn = f('nn', int, [w.ptr(pair), int]);
  w.tag('arg:nonnull', nn, 0);
  w.tag('arg:nonnull', nn, 1);
  const tr = f('tr', int, [w.ptr(pair)]);
  w.tag('arg:trusted', tr, 0);
  const bad = f('bad', int, [w.ptr(pair)]);
  w.tag('arg:whatever', bad, 0);
  const view = w.view();
  const ctx = ['__sk_buff', 'sk_buff'];
  assert.deepEqual(globalFuncArgs(view, a, ctx), {
    name: 'a', linkage: 'global', returnsScalar: true,
    args: [{ kind: 'ctx' }, { kind: 'scalar' }, { kind: 'mem', size: 8, nullable: true }, { kind: 'mem', size: 0, nullable: true }],
  });
  assert.deepEqual(globalFuncArgs(view, st, ctx), { name: 'st', linkage: 'static' });
  assert.deepEqual(globalFuncArgs(view, v, ctx), { name: 'v', linkage: 'global', returnsScalar: false, args: [] });
  assert.deepEqual(globalFuncArgs(view, nn, ctx).args, [{ kind: 'mem', size: 8, nullable: false }, { kind: 'unsupported', message: 'arg#1 has pointer tag, but is not a pointer type' }]);
  assert.deepEqual(globalFuncArgs(view, tr, ctx).args, [{ kind: 'unsupported', message: 'arg#0 reference type(\'STRUCT pair\') has no matches' }]);
  assert.deepEqual(globalFuncArgs(view, bad, ctx).args, [{ kind: 'unsupported', message: 'arg#0 has unsupported set of tags' }]);
  // another program type's context is plain memory
  assert.deepEqual(globalFuncArgs(view, a, ['xdp_md', 'xdp_buff']).args![0], { kind: 'mem', size: 200, nullable: true });
  assert.throws(() => globalFuncArgs(view, int, ctx), /BTF type 1 is not a FUNC/);
  // the program types' context structs
  assert.deepEqual(ctxStructsOf(3), ['__sk_buff', 'sk_buff']);
  assert.deepEqual(ctxStructsOf(6), ['xdp_md', 'xdp_buff']);
  assert.deepEqual(globalFuncArgs(view, a, ctxStructsOf(6)).args![0], { kind: 'mem', size: 200, nullable: true });
});

// ---- the host kernel ----

function buildLoader(): { exe?: string; why?: string } {
  const exe = join(tempDir('tsbpf-global-load-'), 'global-load');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(projectRoot(), 'test', 'c', 'global-load.c')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `cannot build test/c/global-load.c with cc (${cc.error?.message ?? cc.stderr.trim().split('\n')[0]})` };
  // a one-function program with its BTF: loads where bpf(2) with BTF is allowed
  const w = new BtfWriter();
  const fn = w.func('prog', w.proto(w.int(), []), 'global');
  const probe = spawnSync(exe, [], { input: `3 0 ${Buffer.from(w.bytes()).toString('hex')} b7000000000000009500000000000000 00000000${fn.toString(16).padStart(2, '0')}000000\n`, encoding: 'utf8' });
  if (!probe.stdout.startsWith('R 0\n')) return { why: `BPF_BTF_LOAD and BPF_PROG_LOAD with func_info are not available here (${probe.stdout.split('\n')[0] || probe.error?.message || 'no output'}; root on Linux is needed)` };
  return { exe };
}

const loader = buildLoader();
const kskip = loader.exe ? false : loader.why!;
if (kskip) process.stderr.write(`global functions against the host kernel skipped: ${kskip}\n`);

test('global functions: the host kernel gives every case the verdict, errno, error lines and processed count the case records', { skip: kskip }, () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const input = GLOBAL_CASES.map((c) => {
    const { btf, records } = caseBtf(c);
    const fi = new Uint8Array(records.length * 8);
    const dv = new DataView(fi.buffer);
    records.forEach(([insn, id], i) => {
      dv.setUint32(i * 8, insn, true);
      dv.setUint32(i * 8 + 4, id, true);
    });
    return `3 1 ${hex(btf)} ${hex(encode(assemble(c.src)))} ${hex(fi)}`;
  }).join('\n') + '\n';
  const out = spawnSync(loader.exe!, [], { input, encoding: 'utf8' }).stdout;
  const results: { errno: number; log: string[] }[] = [];
  let cur: { errno: number; log: string[] } | undefined;
  for (const l of out.split('\n')) {
    if (l.startsWith('R ')) cur = { errno: Number(l.slice(2)), log: [] };
    else if (l.startsWith('L ')) cur!.log.push(l.slice(2));
    else if (l === 'E') results.push(cur!);
  }
  assert.equal(results.length, GLOBAL_CASES.length);
  const ERRNO: Record<string, number> = { EINVAL: 22, EACCES: 13, E2BIG: 7 };
  const wrong: string[] = [];
  GLOBAL_CASES.forEach((c, i) => {
    const k = results[i]!;
    const log = k.log.join('\n') + '\n';
    if ('processed' in c.expect) {
      if (k.errno !== 0 || processed(log) !== c.expect.processed) wrong.push(`${c.name}: the kernel says errno ${k.errno}, processed ${processed(log)}: ${k.log.at(-2) ?? ''}`);
    } else if (k.errno !== ERRNO[c.expect.errno] || errorLines(log, c.expect.lines.length).join('|') !== c.expect.lines.join('|')) {
      wrong.push(`${c.name}: the kernel says errno ${k.errno}: ${errorLines(log, c.expect.lines.length).join(' | ')}`);
    }
  });
  assert.deepEqual(wrong, []);
});
