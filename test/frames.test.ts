/**
 * FrameRunner (src/api/frames.ts): runs over many frames as testRun makes
 * each alone. What the object programs' comparison in progs-kernel.test.ts
 * does not pin down: bytes an earlier, larger run left in the runner's
 * reused buffer never show through, r0's 64 bits, the runner's errors, and
 * AddressSpace.zero (memory.fill in a shared memory).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { FrameRunner } from '../src/api/frames.js';
import { AddressSpace } from '../src/memory/address-space.js';
import { assemble } from '../src/isa/index.js';
import { BpfError } from '../src/errors.js';

const load = (sys: BpfSystem, type: number, asm: string): number => sys.loadUnverified({ prog_type: type, insns: assemble(asm), license: 'GPL' });

/** an Ethernet frame of `len` bytes: broadcast, then 0xff to the end (ethertype 0xffff) */
const ones = (len: number): Uint8Array => new Uint8Array(len).fill(0xff);

/** XDP: grow the tail by 64 bytes (bpf_xdp_adjust_tail) and return the OR of the 64 bytes grown, which the kernel zeroes */
const XDP_GROWN = `r6 = r1
    r2 = 64
    call 65
    if r0 != 0 goto fail
    r2 = *(u32 *)(r6 +4)
    r0 = 0
    r3 = *(u64 *)(r2 -64)
    r0 |= r3
    r3 = *(u64 *)(r2 -56)
    r0 |= r3
    r3 = *(u64 *)(r2 -48)
    r0 |= r3
    r3 = *(u64 *)(r2 -40)
    r0 |= r3
    r3 = *(u64 *)(r2 -32)
    r0 |= r3
    r3 = *(u64 *)(r2 -24)
    r0 |= r3
    r3 = *(u64 *)(r2 -16)
    r0 |= r3
    r3 = *(u64 *)(r2 -8)
    r0 |= r3
    exit
fail:
    r0 = 99
    exit`;

/** XDP: move the head 64 bytes back (bpf_xdp_adjust_head), return the OR of the 64 headroom bytes now in front (zero in a fresh test run), then write 0xff over them */
const XDP_HEADROOM = `r6 = r1
    r2 = -64
    call 44
    if r0 != 0 goto fail
    r2 = *(u32 *)(r6 +0)
    r3 = *(u32 *)(r6 +4)
    r4 = r2
    r4 += 64
    if r4 > r3 goto fail
    r0 = 0
    r5 = -1
    r7 = 0
loop:
    r3 = *(u64 *)(r2 +0)
    r0 |= r3
    *(u64 *)(r2 +0) = r5
    r2 += 8
    r7 += 1
    if r7 < 8 goto loop
    exit
fail:
    r0 = 99
    exit`;

for (const shared of [false, true]) {
  test(`xdp: headroom an earlier run wrote over reads zero in the next run (${shared ? 'shared' : 'unshared'} memory)`, () => {
    const sys = new BpfSystem({ profile: 'modern', shared });
    const fd = load(sys, 6, XDP_HEADROOM);
    const runner = new FrameRunner(sys, fd);
    assert.deepEqual([60, 60, 1500, 14].map((n) => runner.run(ones(n))), [0, 0, 0, 0]);
    // the frame after the run: the 64 bytes written in front of it
    assert.deepEqual(runner.out(), Uint8Array.from([...ones(64), ...ones(14)]));
    runner.close();
  });

  test(`xdp: the bytes a tail grows into are zero after a larger frame ran in the runner's buffer (${shared ? 'shared' : 'unshared'} memory)`, () => {
    const sys = new BpfSystem({ profile: 'modern', shared });
    const fd = load(sys, 6, XDP_GROWN);
    const runner = new FrameRunner(sys, fd);
    const sizes = [3000, 60, 1514, 14, 200];
    assert.deepEqual(sizes.map((n) => runner.run(ones(n))), [0, 0, 0, 0, 0]);
    assert.deepEqual(sizes.map((n) => testRun(sys, fd, ones(n)).retval), [0n, 0n, 0n, 0n, 0n]);
    // and the frame after the run: the frame, then the 64 zeros grown
    runner.run(ones(100));
    assert.deepEqual(runner.out(), Uint8Array.from([...ones(100), ...new Uint8Array(64)]));
    runner.close();
  });
}

test("r0's 64 bits: a failed bpf_xdp_adjust_head's -EINVAL in the high half, the frame length in the low, as testRun gives them", () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const fd = load(sys, 6, `r6 = r1
    r2 = 7
    call 44
    r7 = r0
    r2 = *(u32 *)(r6 +0)
    r3 = *(u32 *)(r6 +4)
    r3 -= r2
    r0 = r7
    r0 <<= 32
    r0 |= r3
    exit`);
  const f = ones(20);
  const runner = new FrameRunner(sys, fd);
  assert.equal(runner.run(f), 20);
  assert.equal(runner.lastRetval, (BigInt.asUintN(32, -22n) << 32n) | 20n);
  assert.equal(runner.lastRetval, testRun(sys, fd, f).retval);
  assert.equal(runner.retHi, -22);
  assert.equal(runner.enginesRun, 'interpreter');
});

test('FrameRunner: bad frames are testRun\'s EINVAL before anything runs; a closed runner is EBADF; out() before a run is EINVAL', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  // tc: the largest skb a test run takes is 3712 bytes
  const fd = load(sys, 3, 'r0 = 1\nexit');
  const runner = new FrameRunner(sys, fd);
  assert.throws(() => runner.out(), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === 'no frame has run yet');
  const long = ones(3713);
  let expected = '';
  try {
    testRun(sys, fd, long);
  } catch (e) {
    expected = (e as Error).message;
  }
  assert.equal(expected, "a test run's skb frame is at most 3712 bytes, got 3713");
  assert.throws(() => runner.run(long), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === expected);
  assert.throws(() => runner.run('frame' as unknown as Uint8Array), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.message === "a frame must be a Uint8Array, got 'frame' (a string)");
  assert.equal(runner.run(ones(64)), 1);
  runner.close();
  runner.close();
  assert.throws(() => runner.run(ones(64)), (e: unknown) => e instanceof BpfError && e.code === 'EBADF');
  assert.throws(() => new FrameRunner(sys, fd, 'fast' as never), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
});

test('FrameRunner holds its program: closing the fd meanwhile frees nothing, and the runner goes on', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const fd = load(sys, 6, 'r0 = 2\nexit');
  const runner = new FrameRunner(sys, fd);
  sys.close(fd);
  assert.equal(runner.run(ones(60)), 2);
  runner.close();
});

for (const shared of [false, true]) {
  test(`AddressSpace.zero zeroes exactly the range, and a block alloc hands out again is zero (${shared ? 'shared: memory.fill' : 'unshared: fill'})`, () => {
    const mem = new AddressSpace({ shared, maxBytes: 4 << 20 });
    const a = mem.alloc(8192);
    mem.u8.fill(0xab, a, a + 8192);
    mem.zero(a + 100, 4000);
    assert.equal(mem.u8[a + 99], 0xab);
    assert.equal(mem.u8.subarray(a + 100, a + 4100).every((b) => b === 0), true);
    assert.equal(mem.u8[a + 4100], 0xab);
    mem.zero(a, 0);
    assert.equal(mem.u8[a], 0xab);
    mem.u8.fill(0xcd, a, a + 8192);
    mem.release(a);
    const b = mem.alloc(8192);
    assert.equal(b, a);
    assert.equal(mem.u8.subarray(b, b + 8192).every((x) => x === 0), true);
  });
}
