/**
 * The load-time rewrite of context accesses (src/progs/ctx-rewrite.ts and
 * skbCtxRewrite in src/progs/sk-buff.ts): the splice itself (jumps, calls
 * and callbacks crossing a replacement, visited marks, ERANGE), the
 * __sk_buff stores and narrow loads as the 6.18 host's rewrite gives them
 * (each expected value measured there with BPF_PROG_TEST_RUN over a
 * 64-byte IPv4 frame to ff:ff:ff:ff:ff:ff), on every engine, and the
 * verifier's rule that one instruction never goes through the context on
 * one path and another pointer on another.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { VerifierError } from '../src/errors.js';
import { assemble, encode } from '../src/isa/index.js';
import type { Slot } from '../src/isa/instruction.js';
import { toSlots } from '../src/isa/instruction.js';
import { rewriteCtxAccesses } from '../src/progs/ctx-rewrite.js';

const slots = (src: string): Slot[] => toSlots(assemble(src));
const text = (s: readonly Slot[]): string[] => s.map((x) => `${x.code.toString(16)} ${x.dst} ${x.src} ${x.off} ${x.imm}`);

test('rewriteCtxAccesses: jumps, gotol, calls and callbacks across a longer replacement move; visited marks follow', () => {
  const prog = slots([
    'if r1 == 0 goto pc+3', // 0 -> 4, over the replaced store
    'gotol pc+2', // 1 -> 4
    '*(u32 *)(r1 +12) = r2', // 2: replaced by 2 slots
    'call pc+2', // 3 -> 6
    'r0 = 0', // 4
    'exit', // 5
    'goto pc-5', // 6 -> 2
  ].join('\n'));
  const two: Slot[] = [{ code: 0x35, dst: 2, src: 0, off: 1, imm: 0xffff }, { code: 0x6b, dst: 1, src: 2, off: 12, imm: 0 }];
  const visited = Uint8Array.from([1, 1, 1, 0, 1, 1, 1]);
  const r = rewriteCtxAccesses(prog, new Map([[2, 12]]), (off) => (off === 12 ? two : undefined), visited);
  assert.deepEqual(text(r.slots), [
    '15 1 0 4 0', // goto 5 (old 4)
    '6 0 0 0 3', // gotol 5
    '35 2 0 1 65535', '6b 1 2 12 0',
    '85 0 1 0 2', // call 7 (old 6)
    'b7 0 0 0 0', '95 0 0 0 0',
    '5 0 0 -6 0', // goto 2 (old 2, the replacement's first slot)
  ]);
  assert.deepEqual([...r.visited], [1, 1, 1, 1, 0, 1, 1, 1]);
  // a callback's ld_imm64 offset moves too; the input is left as it was
  const cb = slots('r2 = 0x0\n*(u32 *)(r1 +12) = r2\nexit\nr0 = 0\nexit');
  cb[0]!.src = 4;
  cb[0]!.imm = 3; // the subprogram at 5
  const c = rewriteCtxAccesses(cb, new Map([[2, 12]]), () => two, new Uint8Array(6).fill(1));
  assert.equal(c.slots[0]!.imm, 4);
  assert.equal(cb[0]!.imm, 3);
  // nothing to replace: the same instructions
  assert.deepEqual(text(rewriteCtxAccesses(prog, new Map([[2, 12]]), () => undefined, visited).slots), text(prog));
});

test('rewriteCtxAccesses: a jump that no longer fits in 16 bits is ERANGE', () => {
  const prog = [...slots('if r1 == 0 goto pc+32766'), ...Array.from({ length: 32766 }, () => slots('*(u32 *)(r1 +12) = r2')[0]!), ...slots('r0 = 0\nexit')];
  const stores = new Map(Array.from({ length: 32766 }, (_, i) => [i + 1, 12] as [number, number]));
  const two = (_: number, s: Slot): Slot[] => [{ code: 0x35, dst: s.src, src: 0, off: 1, imm: 0xffff }, { ...s, code: 0x6b }];
  assert.throws(() => rewriteCtxAccesses(prog, stores, two, new Uint8Array(prog.length)), {
    code: 'ERANGE', message: 'insn 0: the jump to insn 32767 does not fit in 16 bits once the context accesses are rewritten',
  });
});

/** 64 bytes: Ethernet to ff:ff:ff:ff:ff:ff, IPv4 */
const FRAME = new Uint8Array(64);
FRAME.fill(0xff, 0, 6);
FRAME[12] = 0x08;
FRAME[14] = 0x45;

/** [what, program, the 6.18 host's retval] */
const TC_CASES: [string, string, number][] = [
  ['queue_mapping: STX of 0xffff ignored', 'r2 = 9\n*(u32 *)(r1 +12) = r2\nr2 = 65535\n*(u32 *)(r1 +12) = r2\nr0 = *(u32 *)(r1 +12)\nexit', 9],
  ['queue_mapping: STX of 0x10003 ignored (0xffff or more)', '*(u32 *)(r1 +12) = 4\nr2 = 65539\n*(u32 *)(r1 +12) = r2\nr0 = *(u32 *)(r1 +12)\nexit', 4],
  ['queue_mapping: STX compares all 64 bits', '*(u32 *)(r1 +12) = 7\nr2 = 1\nr2 <<= 32\nr2 += 3\n*(u32 *)(r1 +12) = r2\nr0 = *(u32 *)(r1 +12)\nexit', 7],
  ['queue_mapping: ST of 0xffff ignored', '*(u32 *)(r1 +12) = 7\n*(u32 *)(r1 +12) = 65535\nr0 = *(u32 *)(r1 +12)\nexit', 7],
  ['queue_mapping: ST of -1 stored (imm compared signed)', '*(u32 *)(r1 +12) = 7\n*(u32 *)(r1 +12) = -1\nr0 = *(u32 *)(r1 +12)\nexit', 0xffff],
  ['tc_index keeps 16 bits', '*(u32 *)(r1 +44) = 74565\nr0 = *(u32 *)(r1 +44)\nexit', 0x2345],
  ['tc_classid keeps 16 bits', '*(u32 *)(r1 +72) = 74565\nr0 = *(u32 *)(r1 +72)\nexit', 0x2345],
  ['tc_classid: its third byte is 0', '*(u32 *)(r1 +72) = 74565\nr0 = *(u8 *)(r1 +74)\nexit', 0],
  ['priority is u32', '*(u32 *)(r1 +32) = -5\nr0 = *(u32 *)(r1 +32)\nexit', 0xfffffffb],
  ['tstamp is u64', '*(u64 *)(r1 +152) = -7\nr0 = *(u64 *)(r1 +152)\nr0 &= 65535\nexit', 0xfff9],
  ['cb[]: a byte store', '*(u8 *)(r1 +49) = 171\nr0 = *(u32 *)(r1 +48)\nexit', 0xab00],
  ['a u16 load at queue_mapping + 2 gives the field', '*(u32 *)(r1 +12) = 4660\nr0 = *(u16 *)(r1 +14)\nexit', 0x1234],
  ['a u8 load at queue_mapping + 1 gives its high byte', '*(u32 *)(r1 +12) = 4660\nr0 = *(u8 *)(r1 +13)\nexit', 0x12],
  ['a u8 load at queue_mapping + 2 gives 0', '*(u32 *)(r1 +12) = 4660\nr0 = *(u8 *)(r1 +14)\nexit', 0],
  ['a u16 load at tc_index + 2 gives the field', '*(u32 *)(r1 +44) = 43981\nr0 = *(u16 *)(r1 +46)\nexit', 0xabcd],
  ['a u8 load at pkt_type + 3 gives the field', 'r0 = *(u8 *)(r1 +7)\nexit', 2],
  ['a u16 load at protocol + 2 gives the field', 'r0 = *(u16 *)(r1 +18)\nexit', 8],
  ['a u16 load at mark + 2 gives its high half', '*(u32 *)(r1 +8) = 287454020\nr0 = *(u16 *)(r1 +10)\nexit', 0x1122],
  ['a u16 load at len + 2 gives 0', 'r0 = *(u16 *)(r1 +2)\nexit', 0],
];

for (const engine of ['jit', 'interpreter', 'jit-hardened'] as const) {
  test(`tc context stores and narrow loads give the 6.18 host's values (${engine})`, () => {
    const sys = new BpfSystem({ profile: 'modern' });
    for (const [what, src, want] of TC_CASES) {
      const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 3, insns: encode(assemble(src)), license: 'GPL' });
      assert.equal(testRun(sys, fd, FRAME, 1, engine).retval, BigInt(want), what);
    }
  });
}

test('a rewritten store inside a loop and a bpf-to-bpf call: the jumps still land', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  // three rounds of: store i * 0x10001 to tc_index in a callee (16 bits kept), add the field read back
  const src = [
    'r6 = r1', 'r7 = 0', 'r8 = 0',
    'r8 += 1', 'r1 = r6', 'r2 = r8', 'call pc+5', 'r3 = *(u32 *)(r6 +44)', 'r7 += r3', 'if r8 < 3 goto pc-7',
    'r0 = r7', 'exit',
    'r2 *= 65537', '*(u32 *)(r1 +44) = r2', 'r0 = 0', 'exit',
  ].join('\n');
  const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 3, insns: encode(assemble(src)), license: 'GPL' });
  for (const engine of ['jit', 'interpreter', 'jit-hardened'] as const) assert.equal(testRun(sys, fd, FRAME, 1, engine).retval, 6n, engine);
});

test("one instruction through the context on one path and the stack on another: 'same insn cannot be used with different pointers'", () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const src = 'r2 = r10\nr2 += -64\nr3 = *(u32 *)(r1 +0)\nif r3 > 10 goto pc+1\nr2 = r1\n*(u32 *)(r2 +48) = 0\nr0 = 0\nexit';
  assert.throws(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(assemble(src)), license: 'GPL', log_level: 1, log_size: 1 << 16, log_buf: new Uint8Array(1 << 16) }), (e: VerifierError) => {
    assert.equal(e.code, 'EINVAL');
    assert.match(e.log, /\nsame insn cannot be used with different pointers\nprocessed \d+ insns/);
    return true;
  });
});
