/**
 * The program types and helpers of the modern profile at run time
 * (issue 17): programs loaded without the verifier run in the checked
 * interpreter over frames as the kernel's test run builds them; exact
 * verdicts, frames after the run, context fields and helper results.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble } from '../src/isa/index.js';
import type { Instruction } from '../src/isa/instruction.js';
import { SK_BUFF, XDP_MD, progTypeById } from '../src/progs/types.js';
import { PROFILE_MODERN } from '../src/progs/profile.js';
import { le32 } from './bytes.js';

const modern = (): BpfSystem => new BpfSystem({ profile: 'modern' });
const load = (sys: BpfSystem, type: number, insns: string | Instruction[]): number =>
  sys.loadUnverified({ prog_type: type, insns: typeof insns === 'string' ? assemble(insns) : insns, license: 'GPL' });
/** a 20-byte frame: dst MAC, src MAC, ethertype, 6 bytes of payload */
const frame = (dst: number[], type: [number, number]): Uint8Array =>
  new Uint8Array([...dst, 2, 2, 2, 2, 2, 2, ...type, 1, 2, 3, 4, 5, 6]);
const HOST = [0, 0, 0, 0, 0, 0];
/** an ethertype for local experiments (0x88b5): __sk_buff tests with 20-byte frames, which an IPv4 or IPv6 frame is too short to be */
const EXP: [number, number] = [0x88, 0xb5];

test('xdp: data_end - data is the frame length, data_meta = data, ingress_ifindex 1; the frame is writable', () => {
  const sys = modern();
  const fd = load(sys, 6, `r2 = *(u32 *)(r1 +0)
    r3 = *(u32 *)(r1 +4)
    r4 = *(u32 *)(r1 +8)
    r5 = *(u32 *)(r1 +12)
    r0 = r3
    r0 -= r2
    r2 -= r4
    r0 <<= 8
    r0 |= r2
    r0 <<= 8
    r0 |= r5
    r6 = *(u32 *)(r1 +0)
    *(u8 *)(r6 +14) = 170
    exit`);
  const r = testRun(sys, fd, frame(HOST, [8, 0]));
  assert.equal(r.retval, (20n << 16n) | 1n);
  assert.deepEqual([...r.dataOut.subarray(12)], [8, 0, 0xaa, 2, 3, 4, 5, 6]);
});

test('xdp: bpf_xdp_adjust_head moves the start of the frame, within the kernel bounds', () => {
  const sys = modern();
  const adjust = (delta: number): string => `r6 = r1
    r2 = ${delta}
    call 44
    r7 = r0
    r2 = *(u32 *)(r6 +0)
    r3 = *(u32 *)(r6 +4)
    r3 -= r2
    r0 = r7
    r0 <<= 32
    r0 |= r3
    exit`;
  const f = frame(HOST, [8, 0]);
  let r = testRun(sys, load(sys, 6, adjust(-4)), f);
  assert.equal(r.retval, 24n);
  assert.deepEqual([...r.dataOut.subarray(0, 6)], [0, 0, 0, 0, 0, 0]);
  assert.equal(r.dataOut.length, 24);
  r = testRun(sys, load(sys, 6, adjust(6)), f);
  assert.equal(r.retval, 14n);
  assert.deepEqual([...r.dataOut], [...f.subarray(6)]);
  // data must stay 14 bytes before data_end, and after the xdp_frame at the head
  assert.equal(testRun(sys, load(sys, 6, adjust(7)), f).retval, (BigInt.asUintN(32, -22n) << 32n) | 20n);
  assert.equal(testRun(sys, load(sys, 6, adjust(-217)), f).retval, (BigInt.asUintN(32, -22n) << 32n) | 20n);
  assert.equal(testRun(sys, load(sys, 6, adjust(-216)), f).retval, 236n);
});

test('xdp: bpf_xdp_adjust_tail grows with zeros and shrinks to 14 bytes at least', () => {
  const sys = modern();
  const tail = (delta: number): string => `r2 = ${delta}
    call 65
    exit`;
  const f = frame(HOST, [8, 0]);
  let r = testRun(sys, load(sys, 6, tail(4)), f);
  assert.equal(r.retval, 0n);
  assert.deepEqual([...r.dataOut], [...f, 0, 0, 0, 0]);
  r = testRun(sys, load(sys, 6, tail(-6)), f);
  assert.deepEqual([r.retval, r.dataOut.length], [0n, 14]);
  r = testRun(sys, load(sys, 6, tail(-7)), f);
  assert.deepEqual([r.retval, r.dataOut.length], [BigInt.asUintN(64, -22n), 20]);
});

test('tc: __sk_buff fields of a test run; LD_ABS and bpf_skb_load_bytes read from the Ethernet header', () => {
  const sys = modern();
  const field = (off: number, size = 'u32'): number => load(sys, 3, `r0 = *(${size} *)(r1 +${off})
    exit`);
  const f = frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], EXP);
  assert.equal(testRun(sys, field(SK_BUFF.len), f).retval, 20n);
  assert.equal(testRun(sys, field(SK_BUFF.protocol), f).retval, 0xb588n);
  // the kernel's test run refuses an IPv6 (or IPv4) frame shorter than its network header
  assert.throws(() => testRun(sys, field(SK_BUFF.len), frame(HOST, [0x86, 0xdd])), { code: 'EINVAL', message: "a test run's IPv6 frame has at least 54 bytes (Ethernet and IPv6 headers), got 20" });
  // lo's broadcast address is all-zero: ff:ff:ff:ff:ff:ff is a multicast destination there (2 on the 6.18 host)
  assert.equal(testRun(sys, field(SK_BUFF.pkt_type), f).retval, 2n);
  assert.equal(testRun(sys, field(SK_BUFF.pkt_type), frame([1, 0, 0x5e, 0, 0, 1], EXP)).retval, 2n);
  assert.equal(testRun(sys, field(SK_BUFF.pkt_type), frame([2, 0, 0, 0, 0, 1], EXP)).retval, 3n);
  assert.equal(testRun(sys, field(SK_BUFF.ifindex), f).retval, 1n);
  assert.equal(testRun(sys, load(sys, 3, `r0 = *(u16 *)skb[12]
    exit`), f).retval, 0x88b5n);
  const lb = load(sys, 3, `r6 = r1
    r2 = 12
    r3 = r10
    r3 += -8
    r4 = 2
    call 26
    r7 = r0
    r0 = *(u16 *)(r10 -8)
    r1 = r6
    r2 = 19
    r3 = r10
    r3 += -8
    r4 = 2
    call 26
    r0 <<= 32
    r0 |= r7
    exit`);
  // the second load runs past the end: -EFAULT, and its destination zeroed
  assert.equal(testRun(sys, lb, f).retval, BigInt.asUintN(64, -14n) << 32n >> 0n & 0xffffffff00000000n);
});

test('socket filter (modern): __sk_buff, the data after the Ethernet header', () => {
  const sys = modern();
  const f = frame(HOST, EXP);
  assert.equal(testRun(sys, load(sys, 1, `r0 = *(u32 *)(r1 +0)
    exit`), f).retval, 6n);
  assert.equal(testRun(sys, load(sys, 1, `r0 = *(u8 *)skb[0]
    exit`), f).retval, 1n);
  assert.equal(progTypeById(1, PROFILE_MODERN).ctxAccess!(SK_BUFF.data, 4, false).kind, 'denied');
  assert.deepEqual(progTypeById(3, PROFILE_MODERN).ctxAccess!(SK_BUFF.data, 4, false), { kind: 'pointer', ptr: 'pkt' });
  assert.equal(progTypeById(3, PROFILE_MODERN).ctxAccess!(SK_BUFF.mark, 4, true).kind, 'scalar');
  assert.equal(progTypeById(3, PROFILE_MODERN).ctxAccess!(SK_BUFF.len, 4, true).kind, 'denied');
  assert.equal(progTypeById(3, PROFILE_MODERN).ctxAccess!(SK_BUFF.protocol, 2, false).kind, 'scalar');
  assert.equal(progTypeById(3, PROFILE_MODERN).ctxAccess!(SK_BUFF.tstamp, 4, false).kind, 'denied');
  assert.deepEqual(progTypeById(6, PROFILE_MODERN).ctxAccess!(XDP_MD.data_end, 4, false), { kind: 'pointer', ptr: 'pkt_end' });
  assert.equal(progTypeById(6, PROFILE_MODERN).ctxAccess!(XDP_MD.egress_ifindex, 4, false).kind, 'denied');
  assert.equal(progTypeById(6, PROFILE_MODERN).ctxAccess!(XDP_MD.data, 2, false).kind, 'denied');
});

test('bpf_trace_printk: the kernel format, lines collected; a bad conversion is -EINVAL', () => {
  const sys = modern();
  const printk = (fmt: string, a: number): number => {
    const bytes = [...new TextEncoder().encode(fmt), 0];
    while (bytes.length % 8) bytes.push(0);
    const stores: string[] = [];
    for (let i = 0; i < bytes.length; i++) stores.push(`*(u8 *)(r10 -${bytes.length - i}) = ${bytes[i]}`);
    return load(sys, 1, `${stores.join('\n')}
      r1 = r10
      r1 += -${bytes.length}
      r2 = ${fmt.length + 1}
      r3 = ${a}
      call 6
      exit`);
  };
  assert.equal(testRun(sys, printk('n=%d x=%04x', -5), frame(HOST, EXP)).retval, 11n);
  assert.equal(testRun(sys, printk('%q', 1), frame(HOST, EXP)).retval, BigInt.asUintN(64, -22n));
  assert.deepEqual(sys.runtime.helpers.run.takePrintk(), ['n=-5 x=0000']);
});

test('bpf_tail_call: continues in the prog array\'s program; at most 33 tail calls per run', () => {
  const sys = modern();
  const pa = sys.bpf('BPF_MAP_CREATE', { map_type: 3, key_size: 4, value_size: 4, max_entries: 2 });
  const cnt = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 1 });
  const target = load(sys, 6, `r0 = 7
    exit`);
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: le32(0), value: le32(target) });
  const caller = load(sys, 6, `r2 = map[fd:${pa}]
    r3 = 0
    call 12
    r0 = 1
    exit`);
  assert.equal(testRun(sys, caller, frame(HOST, [8, 0])).retval, 7n);
  // a program that counts its runs and tail-calls itself: 1 + 33 runs
  const self = load(sys, 6, `r6 = r1
    *(u32 *)(r10 -4) = 0
    r1 = map[fd:${cnt}]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0x0 goto pc+3
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r1 = r6
    r2 = map[fd:${pa}]
    r3 = 1
    call 12
    r0 = 2
    exit`);
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: le32(1), value: le32(self) });
  assert.equal(testRun(sys, self, frame(HOST, [8, 0])).retval, 2n);
  const v = new Uint8Array(8);
  sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: cnt, key: le32(0), value: v });
  assert.equal(v[0], 34);
});

test('bpf_loop runs its callback until it returns non-zero; the count is the result', () => {
  const sys = modern();
  const pseudoFunc = (dst: number, rel: number): Instruction => ({ code: 0x18, dst, src: 4, off: 0, imm: rel, imm2: 0 } as unknown as Instruction);
  const prog = (n: number): Instruction[] => [
    ...assemble(`*(u64 *)(r10 -8) = 0
      r1 = ${n}`),
    pseudoFunc(2, 9),
    ...assemble(`r3 = r10
      r3 += -8
      r4 = 0
      call 181
      r1 = *(u64 *)(r10 -8)
      r0 <<= 16
      r0 |= r1
      exit
      r3 = *(u64 *)(r2 +0)
      r3 += r1
      *(u64 *)(r2 +0) = r3
      r0 = 0
      if r1 != 0x5 goto pc+1
      r0 = 1
      exit`),
  ];
  // sum of i for i < 4, 4 runs; then stops at i == 5 after 6 runs (sum 15)
  assert.equal(testRun(sys, load(sys, 6, prog(4)), frame(HOST, [8, 0])).retval, (4n << 16n) | 6n);
  assert.equal(testRun(sys, load(sys, 6, prog(100)), frame(HOST, [8, 0])).retval, (6n << 16n) | 15n);
});

test('bpf_csum_diff and bpf_l3_csum_replace agree on an IPv4 header checksum update', () => {
  const sys = modern();
  // the sum of ~0 and 0x0a000001 (from an empty `from`): seed 0
  const fd = load(sys, 3, `*(u32 *)(r10 -4) = 16777226
    r1 = 0
    r2 = 0
    r3 = r10
    r3 += -4
    r4 = 4
    r5 = 0
    call 28
    exit`);
  // folded to 16 bits, as 6.18 returns it (test/progs-kernel.test.ts checks it against the kernel)
  assert.equal(testRun(sys, fd, frame(HOST, EXP)).retval, 0x010an);
});
