/**
 * The eBPF back end (src/filter/ebpf.ts) against the classic program: for
 * every expression of the differential corpus, on every link type, the
 * direct eBPF program passes the verifier of the profile it targets (3.19,
 * and modern with jlt/jle) and gives, on every engine, the verdict the
 * reference classic interpreter gives compileFilter's classic program on
 * each of the differential test's frames (and that program is tcpdump's
 * verdict there: test/filter-diff.test.ts). Plus the shape of the code on
 * the things it does differently from the conversion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, compileFilterEbpf, runClassic } from '../src/filter/index.js';
import type { EbpfTarget } from '../src/filter/index.js';
import { convertClassic } from '../src/cbpf/index.js';
import { encode } from '../src/isa/instruction.js';
import { disasm } from '../src/isa/disasm.js';
import { BpfSystem, engineOf } from '../src/api/bpf.js';
import type { Interpreter } from '../src/vm/interpreter.js';
import type { Instruction } from '../src/isa/instruction.js';
import { Program } from '../src/api/program.js';
import { BpfError } from '../src/errors.js';
import type { EngineName } from '../src/runtime/engine.js';
import { ETHER_EXPRS, LINK_EXPRS } from './filter-exprs.js';
import { etherFrames, linkFrames } from './filter-frames.js';

const ENGINES: readonly EngineName[] = ['interpreter', 'jit', 'jit-hardened'];

/**
 * Each expression compiled both ways; the eBPF program loaded under the
 * verifier of its target and under the modern one (a 3.19 program must pass
 * both); its verdicts on the engines against runClassic on the classic
 * program. A modern socket filter runs as BPF_PROG_TEST_RUN sees it (data
 * after the Ethernet header), not as a filter over captured frames, so the
 * modern target's programs run in the checked interpreter of a 3.19 system,
 * loaded without its verifier (which does not know jlt/jle).
 */
function compare(exprs: readonly string[], linktype: number, frames: Uint8Array[], target: EbpfTarget): { compared: number; problems: string[]; mine: number; converted: number } {
  const sys = new BpfSystem();
  const modern = new BpfSystem({ profile: 'modern' });
  const problems: string[] = [];
  let compared = 0;
  let mine = 0;
  let converted = 0;
  const batch = frames.map((data) => ({ data, netOff: -1 }));
  for (const expr of exprs) {
    let classic;
    try {
      classic = compileFilter(expr, linktype);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      // refused the same way by both back ends
      assert.throws(() => compileFilterEbpf(expr, linktype, { target }), { message: e.message });
      continue;
    }
    const insns = compileFilterEbpf(expr, linktype, { target });
    mine += insns.length;
    converted += convertClassic(classic).insns.length;
    const spec = { type: 'socket_filter', insns: encode(insns), license: 'GPL' } as const;
    let p: Program;
    try {
      Program.load(modern, spec).close();
      p = Program.load(sys, target === '3.19' ? spec : { ...spec, verify: false });
    } catch (e) {
      problems.push(`${expr}: refused by the verifier: ${(e as Error).message}`);
      continue;
    }
    compared++;
    const want = frames.map((f) => runClassic(classic, f));
    for (const engine of target === '3.19' ? ENGINES : [undefined]) {
      const got = Array.from(p.runBatch(batch, engine));
      const bad = got.findIndex((v, i) => v !== want[i]);
      if (bad !== -1) problems.push(`${expr} (${engine ?? 'checked'}): frame ${bad} (${Buffer.from(frames[bad]!).toString('hex')}): eBPF ${got[bad]}, classic ${want[bad]}`);
    }
    p.close();
  }
  return { compared, problems, mine, converted };
}

for (const target of ['3.19', 'modern'] as const) {
  test(`direct eBPF (${target}): every Ethernet expression loads and gives the classic verdict on 600 frames`, (t) => {
    const r = compare(ETHER_EXPRS, 1, etherFrames(600, 7), target);
    assert.deepEqual(r.problems, []);
    assert.equal(r.compared, ETHER_EXPRS.filter((e) => { try { compileFilter(e); return true; } catch { return false; } }).length);
    assert.ok(r.compared >= 240, `${r.compared} compared`);
    t.diagnostic(`ethernet (${target}): ${r.compared} expressions, ${r.mine} eBPF instructions direct against ${r.converted} converted`);
    assert.ok(r.mine < r.converted);
  });
}

test('direct eBPF: the other link types give the classic verdicts on 300 frames each', () => {
  for (const linktype of [101, 228, 229, 113, 276, 0, 108]) {
    const r = compare(LINK_EXPRS, linktype, linkFrames(linktype, 300, linktype + 3), '3.19');
    assert.deepEqual(r.problems, [], `linktype ${linktype}`);
    assert.ok(r.compared >= 10, `linktype ${linktype}: ${r.compared}`);
  }
});

/** Instructions the interpreter executes for each frame (its `executed` count), the program loaded as a 3.19 socket filter. */
function executed(sys: BpfSystem, insns: readonly Instruction[], frames: readonly Uint8Array[]): number[] {
  const p = Program.load(sys, { type: 'socket_filter', insns: encode(insns), license: 'GPL' });
  const interp = engineOf(sys.progOf(p.fd).prog, 'interpreter', sys) as Interpreter;
  const mem = sys.runtime.mem;
  const counts = frames.map((f) => {
    // the 3.19 socket filter's context (the length at offset 0), then the packet
    const at = mem.alloc(8 + f.length);
    try {
      mem.view.setUint32(at, f.length, true);
      mem.u8.set(f, at + 8);
      interp.exec({ r1: at, packet: { addr: at + 8, len: f.length, netOff: 14 } });
      return interp.executed;
    } finally {
      mem.release(at);
    }
  });
  p.close();
  return counts;
}

test('direct eBPF runs no more instructions per packet than the classic program converted on any expression, 0.76x over all', (t) => {
  const sys = new BpfSystem();
  const frames = etherFrames(600, 7);
  let direct = 0;
  let converted = 0;
  let n = 0;
  const more: string[] = [];
  for (const expr of ETHER_EXPRS) {
    let classic;
    try {
      classic = compileFilter(expr);
    } catch {
      continue;
    }
    const d = executed(sys, compileFilterEbpf(expr), frames).reduce((a, b) => a + b, 0);
    const c = executed(sys, convertClassic(classic).insns, frames).reduce((a, b) => a + b, 0);
    if (d > c) more.push(`${expr}: ${d} against ${c}`);
    direct += d;
    converted += c;
    n++;
  }
  assert.deepEqual(more, []);
  assert.ok(n >= 240, `${n} expressions`);
  t.diagnostic(`${n} expressions, per packet: ${(direct / frames.length / n).toFixed(2)} instructions direct, ${(converted / frames.length / n).toFixed(2)} converted (${(direct / converted).toFixed(3)}x)`);
  assert.ok(direct / converted < 0.8, `${direct} against ${converted}`);
});

test('direct eBPF: an offset of 2^31 or more is past the end, as in classic BPF, not an SKF_NET_OFF/SKF_LL_OFF load', () => {
  // as a capture is filtered, the network header at 14: eBPF's s32 offsets at -0x100000 and -0x200000 would read it
  const frames = etherFrames(200, 9);
  const batch = frames.map((data) => ({ data, netOff: 14 }));
  const sys = new BpfSystem();
  const exprs = [
    'ether[0xfff00000] = 0x45', 'ether[0xffe00000] = 0', 'ether[0xfff00000 : 2] != 1', 'ip[0xfff00000 - 14] = 0x45', 'tcp[0xfff00000] = 0',
    'ether[ip[0] + 0xffefffbb] = 0x45', 'ether[ip[0] * 0x1000000 + 0x40000000] = 0', 'ether[len + 0x7ffffff0] = 0', 'ether[ip[0] - 0x45] = 0',
  ];
  const problems: string[] = [];
  for (const expr of exprs) {
    const classic = compileFilter(expr);
    const want = frames.map((f) => runClassic(classic, f));
    const p = Program.load(sys, { type: 'socket_filter', insns: encode(compileFilterEbpf(expr)), license: 'GPL' });
    for (const engine of ENGINES) {
      const got = Array.from(p.runBatch(batch, engine));
      const bad = got.findIndex((v, i) => v !== want[i]);
      if (bad !== -1) problems.push(`${expr} (${engine}): frame ${bad}: eBPF ${got[bad]}, classic ${want[bad]}`);
    }
    p.close();
  }
  assert.deepEqual(problems, []);
  // the classic program does accept some frames where the offset is in range (the comparison means something)
  assert.ok(frames.some((f) => runClassic(compileFilter('ether[ip[0] - 0x45] = 0'), f) !== 0));
  assert.ok(text(compileFilterEbpf('ether[0xfff00000] = 0x45')).includes('r0 = *(u8 *)skb[-2147483648]'));
  // X from arithmetic is guarded before the load; the header length of ldxb needs no guard
  assert.ok(text(compileFilterEbpf('ether[ip[0] + 1] = 0')).includes('r7 = r0\nif r7 > 0x7fffffff goto pc+2\nr0 = *(u8 *)skb[r7 + 0]'));
  assert.ok(!text(compileFilterEbpf('tcp[0] = 0')).includes(' > 0x7'));
});

/** The program as the 6.x log prints it, without the pc and opcode columns. */
const text = (insns: ReturnType<typeof compileFilterEbpf>): string => disasm(insns, { style: 'modern' }).replace(/^\d+: \([0-9a-f]{2}\) /gm, '');

test('direct eBPF: tcp port 80 in registers, falling through to its returns', () => {
  assert.equal(text(compileFilterEbpf('tcp port 80')), [
    'r6 = r1',
    'r0 = *(u16 *)skb[12]',
    'if r0 == 0x86dd goto pc+15',
    'if r0 != 0x800 goto pc+12',
    'r0 = *(u8 *)skb[23]',
    'if r0 != 0x6 goto pc+10',
    'r0 = *(u16 *)skb[20]',
    'if r0 & 0x1fff goto pc+8',
    'r0 = *(u8 *)skb[14]',
    'w0 &= 15',
    'w0 <<= 2',
    'r7 = r0',
    'r0 = *(u16 *)skb[r7 + 14]',
    'if r0 == 0x50 goto pc+12',
    'r0 = *(u16 *)skb[r7 + 16]',
    'if r0 == 0x50 goto pc+10',
    'w0 = 0',
    'exit',
    'r0 = *(u8 *)skb[20]',
    'if r0 != 0x6 goto pc+4',
    'r0 = *(u16 *)skb[54]',
    'if r0 == 0x50 goto pc+4',
    'r0 = *(u16 *)skb[56]',
    'if r0 == 0x50 goto pc+2',
    'w0 = 0',
    'exit',
    'w0 = 262144',
    'exit',
    '',
  ].join('\n'));
  assert.equal(convertClassic(compileFilter('tcp port 80')).insns.length, 31);
});

test('direct eBPF: scratch cells in r8/r9, A kept across ldxb only when read again, big constants through r1, X division guarded', () => {
  const arith = text(compileFilterEbpf('ip[2:2] - 20 > len / 2'));
  assert.ok(arith.includes('r8 = r0\n'), arith);
  assert.ok(!arith.includes('r10'), arith);
  // `tcp[i]` with a computed index: A holds the index while X gets the header length
  const v = text(compileFilterEbpf('tcp[ip[0] & 3] = 1'));
  assert.ok(v.includes('*(u64 *)(r10 -72) = r0\nr0 = *(u8 *)skb[14]\nw0 &= 15\nw0 <<= 2\nr7 = r0\nr0 = *(u64 *)(r10 -72)\nw0 += w7\n'), v);
  // without a later read of A, no save
  assert.ok(!text(compileFilterEbpf('tcp port 80')).includes('r10'));
  assert.ok(text(compileFilterEbpf('ether[0:4] = 0xffffffff')).includes('w1 = -1\nif r0 == r1 goto'));
  assert.ok(text(compileFilterEbpf('ether[0:4] & 0x80000000 != 0')).includes('if r0 & 0x80000000 goto'));
  assert.ok(text(compileFilterEbpf('ip[0] / ip[1] = 1')).includes('if r7 != 0x0 goto pc+2\nw0 = 0\nexit\nw0 /= w7\n'));
  // the modern target inverts jgt and jge too
  assert.ok(text(compileFilterEbpf('len > 100 and ip', 1, { target: 'modern' })).includes(' <= '));
  assert.ok(!text(compileFilterEbpf('len > 100 and ip', 1)).includes(' <= '));
  assert.equal(text(compileFilterEbpf('')), 'w0 = 262144\nexit\n');
  assert.throws(() => compileFilterEbpf('tcp', 1, { target: '4.1' as EbpfTarget }), { code: 'EINVAL', message: "target must be '3.19' or 'modern', got 4.1" });
  assert.throws(() => compileFilterEbpf('arp', 'raw'), { code: 'EINVAL', message: 'expression rejects all packets' });
});
