/**
 * bpf_xdp_get_buff_len, bpf_xdp_load_bytes and bpf_xdp_store_bytes (5.18,
 * src/progs/packet-helpers.ts) on every engine: the frame's bytes, the
 * buffer's and its fragments' (a 5000-byte frame keeps 3520 bytes in the
 * buffer, as the kernel's test run), the kernel's errors (-EFAULT past
 * 0xffff, -EINVAL past the frame, the program's memory left alone), and
 * who may call them. test/c/helpers.c's xdp_bytes compares the same with
 * the host kernel (test/progs-kernel.test.ts).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';

const ENGINES = ['jit', 'interpreter', 'jit-hardened'] as const;

function load(sys: BpfSystem, src: string, type = 6): number {
  return sys.bpf('BPF_PROG_LOAD', { prog_type: type, insns: encode(assemble(src)), license: 'GPL' });
}

/** bytes i * 7 + 1 (mod 256), an IPv4 ethertype */
function frame(n: number): Uint8Array {
  const f = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);
  f[12] = 8;
  f[13] = 0;
  return f;
}

/** r0 = load_bytes(ctx, off, fp-16, len) << 32 | the buffer's low 4 bytes (0x5a5a5a5a before) */
const loadAt = (off: number, len: number): string => `r6 = r1
  r2 = 0x5a5a5a5a5a5a5a5a
  *(u64 *)(r10 -16) = r2
  *(u64 *)(r10 -8) = r2
  r1 = r6
  r2 = ${off}
  r3 = r10
  r3 += -16
  r4 = ${len}
  call 189
  r0 <<= 32
  r1 = *(u32 *)(r10 -16)
  r0 |= r1
  exit`;

test('bpf_xdp_get_buff_len counts the fragments; bpf_xdp_load_bytes reads the buffer and the fragments, across their boundary', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const len = load(sys, 'call 188\nexit');
  const f = frame(5000);
  const le32 = (at: number): bigint => BigInt(new DataView(f.buffer).getUint32(at, true));
  for (const engine of ENGINES) {
    assert.equal(testRun(sys, len, f, 1, engine).retval, 5000n, engine);
    assert.equal(testRun(sys, len, frame(60), 1, engine).retval, 60n, engine);
    for (const off of [0, 100, 3518, 3520, 4992]) assert.equal(testRun(sys, load(sys, loadAt(off, 8)), f, 1, engine).retval, le32(off), `${engine} at ${off}`);
  }
});

test('bpf_xdp_load_bytes: past the frame -EINVAL and past 0xffff -EFAULT, the buffer as it was', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const f = frame(5000);
  const err = (errno: number): bigint => (BigInt.asUintN(32, BigInt(errno)) << 32n) | 0x5a5a5a5an;
  for (const engine of ENGINES) {
    assert.equal(testRun(sys, load(sys, loadAt(4993, 8)), f, 1, engine).retval, err(-22), engine);
    assert.equal(testRun(sys, load(sys, loadAt(65536, 4)), f, 1, engine).retval, err(-14), engine);
    assert.equal(testRun(sys, load(sys, loadAt(0, 16)), frame(14), 1, engine).retval, err(-22), engine);
  }
});

test('bpf_xdp_store_bytes writes the frame after the run, in the buffer and across into a fragment; past the end it writes nothing', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const store = (off: number): number => load(sys, `r6 = r1
    r2 = 0x0807060504030201
    *(u64 *)(r10 -8) = r2
    r1 = r6
    r2 = ${off}
    r3 = r10
    r3 += -8
    r4 = 8
    call 190
    exit`);
  const f = frame(5000);
  for (const engine of ENGINES) {
    for (const off of [0, 3516, 4992]) {
      const r = testRun(sys, store(off), f, 1, engine);
      const want = f.slice();
      want.set([1, 2, 3, 4, 5, 6, 7, 8], off);
      assert.equal(r.retval, 0n, `${engine} at ${off}`);
      assert.deepEqual(r.dataOut, want, `${engine} at ${off}`);
    }
    const r = testRun(sys, store(4996), f, 1, engine);
    assert.equal(r.retval, BigInt.asUintN(64, -22n));
    assert.deepEqual(r.dataOut, f);
  }
});

test('the helpers are XDP\'s, and the 3.19 profile knows none of them', () => {
  const modern = new BpfSystem({ profile: 'modern' });
  const call = 'r1 = r1\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\ncall 189\nr0 = 0\nexit';
  assert.throws(() => load(modern, call, 3), { code: 'EINVAL', message: 'insn 5: program of this type cannot use helper bpf_xdp_load_bytes#189' });
  assert.throws(() => load(new BpfSystem(), call, 1), { code: 'EINVAL', message: 'insn 5: invalid func 189' });
});
