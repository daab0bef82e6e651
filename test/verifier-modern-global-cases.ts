/**
 * Programs with func info for the global-function tests: each has its
 * instructions, its functions' BTF (through BtfWriter: the host kernel gets
 * the bytes, tsbpf the table `globalFuncArgs` reads) and the 6.18 host's
 * verdict at log level 1 (processed instructions, or errno and the lines
 * before the statistics line). Program type 3 (tc, context `__sk_buff`).
 */

import { BtfWriter } from './global-btf.js';
import type { FuncInfoEntry } from '../src/verifier/modern/func-info.js';
import { globalFuncArgs } from '../src/verifier/modern/func-info.js';

export interface GlobalCase {
  name: string;
  src: string;
  /** the functions in subprogram order: [first insn, name, linkage, return type, parameter types] from the common types */
  funcs: [number, string, 'static' | 'global', Ty, Ty[]][];
  /** `arg:` decl tags: [function index, parameter, tag] */
  tags?: [number, number, string][];
  /** func_info records in place of one per function (layout checks): [insn, function index] */
  records?: [number, number][];
  expect: { processed: number } | { errno: string; lines: string[] };
}

/** The common types by name. */
export type Ty = 'int' | 'void' | 'ctx' | 'pair*' | 'big*' | 'void*' | 'pair';

/** The BTF of a case: bytes for the kernel, func_info records, and tsbpf's resolved func info. */
export function caseBtf(c: GlobalCase): { btf: Uint8Array; records: [number, number][]; funcInfo: FuncInfoEntry[] } {
  const w = new BtfWriter();
  const int = w.int();
  const pair = w.struct('pair', 8, [['a', int, 0], ['b', int, 32]]);
  const big = w.struct('big', 32, [['a', int, 0], ['b', int, 224]]);
  const skb = w.struct('__sk_buff', 4, [['len', int, 0]]);
  const ty: Record<Ty, number> = { int, void: 0, ctx: w.ptr(skb), 'pair*': w.ptr(pair), 'big*': w.ptr(big), 'void*': w.ptr(0), pair };
  const ids = c.funcs.map(([, name, linkage, ret, params]) => w.func(name, w.proto(ty[ret], params.map((p) => ty[p])), linkage));
  for (const [f, p, tag] of c.tags ?? []) w.tag(`arg:${tag}`, ids[f]!, p);
  const view = w.view();
  const records = (c.records ?? c.funcs.map(([insn], i): [number, number] => [insn, i])).map(([insn, f]): [number, number] => [insn, ids[f]!]);
  const funcInfo = records.map(([insn, id]): FuncInfoEntry => ({ insn, ...globalFuncArgs(view, id, ['__sk_buff', 'sk_buff']) }));
  return { btf: w.bytes(), records, funcInfo };
}

/** The host's reference program (glob-example.c built by clang 14 -O2): tc_glob calls add_len, sum_pair (global) and twice (static). */
export const GLOB_EXAMPLE = `r6 = r1
r1 = 0x200000001 ll
*(u64 *)(r10 -8) = r1
r1 = r6
r2 = 3
call pc+11
r7 = r0
r1 = r10
r1 += -8
call pc+10
r8 = r0
r8 += r7
r1 = *(u32 *)(r6 +8)
call pc+12
r8 += r0
r0 = r8
exit
r0 = *(u32 *)(r1 +0)
r0 += r2
exit
r0 = 0
if r1 == 0x0 goto pc+3
r2 = *(u32 *)(r1 +0)
r0 = *(u32 *)(r1 +4)
r0 += r2
exit
r0 = r1
r0 <<= 1
exit`;

const MAIN: [number, string, 'global', Ty, Ty[]] = [0, 'prog', 'global', 'int', ['ctx']];

/** main calls g1, which calls g2... down to gn: n + 1 frames */
function chain(n: number, expect: GlobalCase['expect']): GlobalCase {
  const lines = ['r1 = 1', 'call pc+1', 'exit'];
  const funcs: GlobalCase['funcs'] = [MAIN];
  for (let k = 1; k <= n; k++) {
    funcs.push([lines.length, `g${k}`, 'global', 'int', ['int']]);
    lines.push(...(k < n ? ['call pc+1', 'exit'] : ['r0 = 0', 'exit']));
  }
  return { name: `a chain of ${n} global functions`, src: lines.join('\n'), funcs, expect };
}
/** main: a pair {1, 2} on the stack, its address in r1, then the call */
const PAIR_CALL = 'r1 = 0x200000001 ll\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\ncall pc+1\nexit';

export const GLOBAL_CASES: GlobalCase[] = [
  {
    name: 'the reference: two global calls assumed valid, a static one walked in context', src: GLOB_EXAMPLE,
    funcs: [[0, 'tc_glob', 'global', 'int', ['ctx']], [18, 'add_len', 'global', 'int', ['ctx', 'int']], [21, 'sum_pair', 'global', 'int', ['pair*']], [27, 'twice', 'static', 'int', ['int']]],
    expect: { processed: 30 },
  },
  {
    name: 'a mem argument larger than the caller\'s stack buffer', src: PAIR_CALL + '\nr0 = 0\nif r1 == 0 goto pc+1\nr0 = *(u64 *)(r1 +24)\nexit',
    funcs: [MAIN, [7, 'gb', 'global', 'int', ['big*']]],
    expect: { errno: 'EINVAL', lines: ['invalid read from stack R1 off=-8 size=32', 'Caller passes invalid args into func#1 (\'gb\')'] },
  },
  {
    name: 'a pointer where a scalar is expected', src: 'call pc+1\nexit\nr0 = r1\nexit',
    funcs: [MAIN, [2, 'gs', 'global', 'int', ['int']]],
    expect: { errno: 'EINVAL', lines: ['R1 is not a scalar', 'Caller passes invalid args into func#1 (\'gs\')'] },
  },
  {
    name: 'a number where the context is expected', src: 'r1 = *(u32 *)(r1 +8)\ncall pc+1\nexit\nr0 = *(u32 *)(r1 +0)\nexit',
    funcs: [MAIN, [3, 'gc', 'global', 'int', ['ctx']]],
    expect: { errno: 'EINVAL', lines: ['arg#0 expects pointer to ctx', 'Caller passes invalid args into func#1 (\'gc\')'] },
  },
  {
    name: 'a modified context pointer', src: 'r1 += 4\ncall pc+1\nexit\nr0 = *(u32 *)(r1 +0)\nexit',
    funcs: [MAIN, [3, 'gc', 'global', 'int', ['ctx']]],
    expect: { errno: 'EACCES', lines: ['dereference of modified ctx ptr R1 off=4 disallowed', 'Caller passes invalid args into func#1 (\'gc\')'] },
  },
  {
    name: 'NULL where arg:nonnull', src: 'r1 = 0\ncall pc+1\nexit\nr0 = *(u32 *)(r1 +0)\nexit',
    funcs: [MAIN, [3, 'gn', 'global', 'int', ['pair*']]], tags: [[1, 0, 'nonnull']],
    expect: { errno: 'EINVAL', lines: ['arg#0 is expected to be non-NULL', 'Caller passes invalid args into func#1 (\'gn\')'] },
  },
  {
    name: 'NULL where the pointer may be null', src: 'r1 = 0\ncall pc+1\nexit\nr0 = 0\nif r1 == 0 goto pc+1\nr0 = *(u32 *)(r1 +4)\nexit',
    funcs: [MAIN, [3, 'gp', 'global', 'int', ['pair*']]],
    expect: { processed: 8 },
  },
  {
    name: 'arg:nonnull: the callee reads without a check', src: PAIR_CALL + '\nr0 = *(u32 *)(r1 +4)\nexit',
    funcs: [MAIN, [7, 'gn', 'global', 'int', ['pair*']]], tags: [[1, 0, 'nonnull']],
    expect: { processed: 8 },
  },
  {
    name: 'the callee reads a pointer that may be null', src: PAIR_CALL + '\nr0 = *(u32 *)(r1 +0)\nexit',
    funcs: [MAIN, [7, 'gp', 'global', 'int', ['pair*']]],
    expect: { errno: 'EACCES', lines: ['Validating gp() func#1...', '7: R1=mem_or_null(id=1,sz=8) R10=fp0', '7: (61) r0 = *(u32 *)(r1 +0)', 'R1 invalid mem access \'mem_or_null\''] },
  },
  {
    name: 'the callee reads past its argument\'s size', src: PAIR_CALL + '\nr0 = 0\nif r1 == 0 goto pc+1\nr0 = *(u32 *)(r1 +8)\nexit',
    funcs: [MAIN, [7, 'gp', 'global', 'int', ['pair*']]],
    expect: { errno: 'EACCES', lines: ['invalid access to memory, mem_size=8 off=8 size=4', 'R1 min value is outside of the allowed memory range'] },
  },
  {
    name: 'the callee returns a pointer', src: 'call pc+1\nexit\nr0 = r1\nexit',
    funcs: [MAIN, [2, 'gr', 'global', 'int', ['ctx']]],
    expect: { errno: 'EINVAL', lines: ['At subprogram exit the register R0 is not a scalar value (ctx)'] },
  },
  {
    name: 'a global function returning void', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'gv', 'global', 'void', ['ctx']]],
    expect: { errno: 'EINVAL', lines: ['Global function gv() doesn\'t return scalar. Only those are supported.', 'Caller passes invalid args into func#1 (\'gv\')'] },
  },
  {
    name: 'a void * argument', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'gv', 'global', 'int', ['void*']]],
    expect: { errno: 'EINVAL', lines: ['arg#0 reference type(\'UNKNOWN \') size cannot be determined: -22', 'Caller passes invalid args into func#1 (\'gv\')'] },
  },
  {
    name: 'a void * argument tagged arg:ctx', src: 'call pc+1\nexit\nr0 = *(u32 *)(r1 +0)\nexit',
    funcs: [MAIN, [2, 'gx', 'global', 'int', ['void*']]], tags: [[1, 0, 'ctx']],
    expect: { processed: 4 },
  },
  {
    name: 'arg:nullable without arg:trusted', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'g', 'global', 'int', ['pair*']]], tags: [[1, 0, 'nullable']],
    expect: { errno: 'EINVAL', lines: ['arg#0 has invalid combination of tags', 'Caller passes invalid args into func#1 (\'g\')'] },
  },
  {
    name: 'arg:ctx on a pointer to another struct', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'g', 'global', 'int', ['pair*']]], tags: [[1, 0, 'ctx']],
    expect: { errno: 'EINVAL', lines: ['arg#0 should be `struct __sk_buff *`', 'Caller passes invalid args into func#1 (\'g\')'] },
  },
  {
    name: 'arg:ctx on a number', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'g', 'global', 'int', ['int']]], tags: [[1, 0, 'ctx']],
    expect: { errno: 'EINVAL', lines: ['arg#0 has pointer tag, but is not a pointer type', 'Caller passes invalid args into func#1 (\'g\')'] },
  },
  {
    name: 'a struct passed by value', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'gv', 'global', 'int', ['pair']]],
    expect: { errno: 'EINVAL', lines: ['Arg#0 type STRUCT in gv() is not supported yet.', 'Caller passes invalid args into func#1 (\'gv\')'] },
  },
  {
    name: 'six arguments', src: 'r2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [6, 'g6', 'global', 'int', ['ctx', 'int', 'int', 'int', 'int', 'int']]],
    expect: { errno: 'EINVAL', lines: ['Global function g6() with 6 > 5 args. Buggy compiler.', 'Caller passes invalid args into func#1 (\'g6\')'] },
  },
  {
    name: 'a scalar argument is any number in the callee (a static callee sees the constant)', src: 'r1 = 4\ncall pc+1\nexit\nr2 = r10\nr2 += -8\nr2 += r1\nr0 = 0\n*(u32 *)(r2 +0) = r0\nexit',
    funcs: [MAIN, [3, 'gi', 'global', 'int', ['int']]],
    expect: { errno: 'EINVAL', lines: ['math between fp pointer and register with unbounded min value is not allowed'] },
  },
  {
    name: 'the same callee static', src: 'r1 = 4\ncall pc+1\nexit\nr2 = r10\nr2 += -8\nr2 += r1\nr0 = 0\n*(u32 *)(r2 +0) = r0\nexit',
    funcs: [MAIN, [3, 'gi', 'static', 'int', ['int']]],
    expect: { processed: 9 },
  },
  {
    name: 'a global function calling another, its stack clobbered by the call', src: [
      'r2 = 0x200000001 ll', '*(u64 *)(r10 -8) = r2', 'r2 = *(u32 *)(r1 +0)', 'r1 = r10', 'r1 += -8', 'call pc+1', 'exit',
      'r2 &= 63', 'r3 = r10', 'r3 += -64', 'r3 += r2', 'r2 = 1', '*(u8 *)(r3 +0) = r2', 'call pc+5', 'r1 = *(u8 *)(r10 -61)', 'r1 <<= 56', 'r1 s>>= 56', 'r0 += r1', 'exit',
      'r0 = 1', 'if r1 == 0x0 goto pc+1', 'r0 = *(u32 *)(r1 +4)', 'exit'].join('\n'),
    funcs: [MAIN, [8, 'g1', 'global', 'int', ['pair*', 'int']], [20, 'g2', 'global', 'int', ['pair*']]],
    expect: { processed: 24 },
  },
  {
    name: 'a global function called from a static one (frame 1), itself verified from frame 0', src: [
      'r1 = 0x200000001 ll', '*(u64 *)(r10 -8) = r1', 'r1 = r10', 'r1 += -8', 'call pc+2', 'r0 = 0', 'exit',
      '*(u64 *)(r10 -16) = r1', 'r2 = 5', 'r1 = *(u64 *)(r10 -16)', 'call pc+2', 'r0 += 1', 'exit',
      'r0 = 0', 'if r1 == 0 goto pc+1', 'r0 = *(u32 *)(r1 +4)', 'exit'].join('\n'),
    funcs: [MAIN, [8, 's', 'static', 'int', ['pair*']], [14, 'g', 'global', 'int', ['pair*', 'int']]],
    expect: { processed: 18 },
  },
  {
    name: 'NULL passed through a static function (frame 1) to a global one that wants it nonnull', src: [
      'r1 = 0', 'call pc+2', 'r0 = 0', 'exit', 'call pc+1', 'exit', 'r0 = *(u32 *)(r1 +0)', 'exit'].join('\n'),
    funcs: [MAIN, [4, 's', 'static', 'int', ['pair*']], [6, 'g', 'global', 'int', ['pair*']]], tags: [[2, 0, 'nonnull']],
    expect: { errno: 'EINVAL', lines: ['arg#0 is expected to be non-NULL', 'Caller passes invalid args into func#2 (\'g\')'] },
  },
  chain(7, { processed: 17 }),
  chain(8, { errno: 'E2BIG', lines: ['Func#8 (\'g8\') is safe for any args that match its prototype', 'the call stack of 8 frames is too deep !'] }),
  {
    name: 'a global function calling itself (verified once, then the chain of calls is too deep)', src: 'r1 = 1\ncall pc+1\nexit\ncall pc-1\nexit',
    funcs: [MAIN, [3, 'g', 'global', 'int', ['int']]],
    expect: { errno: 'E2BIG', lines: ['Func#1 (\'g\') is safe for any args that match its prototype', 'the call stack of 8 frames is too deep !'] },
  },
  {
    name: 'no func info: a static recursion the walk never reaches is still too deep', src: 'r1 = 0\nif r1 != 0 goto pc+2\nr0 = 0\nexit\ncall pc+1\nexit\ncall pc-1\nexit',
    funcs: [MAIN, [6, 'g', 'static', 'int', ['int']]], records: [],
    expect: { errno: 'E2BIG', lines: ['the call stack of 8 frames is too deep !'] },
  },
  {
    name: 'func_info with a record too few', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'g', 'global', 'int', ['int']]], records: [[0, 0]],
    expect: { errno: 'EINVAL', lines: ['number of funcs in func_info doesn\'t match number of subprogs'] },
  },
  {
    name: 'func_info off the subprogram layout', src: 'call pc+1\nexit\nr0 = 0\nexit',
    funcs: [MAIN, [2, 'g', 'global', 'int', ['int']]], records: [[0, 0], [3, 1]],
    expect: { errno: 'EINVAL', lines: ['func_info BTF section doesn\'t match subprog layout in BPF program'] },
  },
  {
    // a global function that may move the packet (bpf_skb_change_tail): the caller's packet pointers are stale after the call
    name: 'a packet pointer kept across a global function that changes the packet',
    src: STALE_PKT('r0 = *(u8 *)(r7 +0)'),
    funcs: [MAIN, [13, 'grow', 'global', 'int', ['ctx']]],
    expect: { errno: 'EACCES', lines: ['R7 invalid mem access \'scalar\''] },
  },
  {
    name: 'packet pointers derived again after a global function that changes the packet',
    src: STALE_PKT('r0 = 0\nr2 = *(u32 *)(r6 +76)\nr3 = *(u32 *)(r6 +80)\nr4 = r2\nr4 += 1\nif r4 > r3 goto pc+1\nr0 = *(u8 *)(r2 +0)'),
    funcs: [MAIN, [19, 'grow', 'global', 'int', ['ctx']]],
    expect: { processed: 25 },
  },
];

/** tc: a checked packet pointer in r7, a call to the global function after the main code (it calls bpf_skb_change_tail), then `tail` */
function STALE_PKT(tail: string): string {
  const n = tail.split('\n').length;
  const body = ['r6 = r1', 'r2 = *(u32 *)(r6 +76)', 'r3 = *(u32 *)(r6 +80)', 'r4 = r2', 'r4 += 14', `if r4 > r3 goto pc+${4 + n}`, 'r7 = r2', 'r1 = r6',
    `call pc+${3 + n}`, ...tail.split('\n'), 'exit', 'r0 = 0', 'exit'];
  return [...body, 'r2 = 64', 'r3 = 0', 'call 38', 'r0 = 0', 'exit'].join('\n');
}
