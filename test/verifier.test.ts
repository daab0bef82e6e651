/**
 * The 3.19 verifier: each check's message and errno, the limits, the log
 * buffer rules of BPF_PROG_LOAD, and the rules for the opcodes that came
 * after 3.19. Whole logs, derived by hand from the algorithm and log format
 * of ../shared/docs/linux-3.19/verifier.md, are baselines in test/verifier/
 * (verifier-baselines.test.ts).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { assemble, encode } from '../src/isa/index.js';

const UNSPEC = 0;
const SOCKET_FILTER = 1;

function load(sys: BpfSystem, src: string, opts: { type?: number; logSize?: number; logLevel?: number; license?: string } = {}): { fd?: number; err?: BpfError; log: string } {
  const logSize = opts.logSize ?? 1 << 22;
  const buf = new Uint8Array(logSize);
  const insns = encode(assemble(src));
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: opts.type ?? UNSPEC, insns, license: opts.license ?? 'GPL',
      log_level: opts.logLevel ?? 1, log_size: logSize, log_buf: opts.logLevel === 0 ? null : buf,
    });
    return { fd, log: sys.progOf(fd).prog.log };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { err: e, log: e.log ?? '' };
  }
}

describe('each check: message and errno', () => {
  const cases: [name: string, src: string, errno: string, message: string, type?: number][] = [
    ['read of an uninitialised register', 'r0 = r2\nexit', 'EACCES', 'R2 !read_ok'],
    ['exit without r0', 'exit', 'EACCES', 'R0 !read_ok'],
    ['write to r10', 'r10 = 0\nr0 = 0\nexit', 'EACCES', 'frame pointer is read only'],
    ['stack out of bounds', '*(u64 *)(r10 +8) = 0\nr0 = 0\nexit', 'EACCES', 'invalid stack off=8 size=8'],
    ['stack below 512', '*(u64 *)(r10 -520) = 0\nr0 = 0\nexit', 'EACCES', 'invalid stack off=-520 size=8'],
    ['misaligned', '*(u64 *)(r10 -4) = 0\nr0 = 0\nexit', 'EACCES', 'misaligned access off -4 size 8'],
    ['uninitialised stack read', 'r0 = *(u64 *)(r10 -8)\nexit', 'EACCES', 'invalid read from stack off -8+0 size 8'],
    ['partial spill', '*(u32 *)(r10 -8) = r1\nr0 = 0\nexit', 'EACCES', 'invalid size of register spill'],
    ['corrupted spill', '*(u64 *)(r10 -8) = r1\n*(u32 *)(r10 -4) = 0\nr0 = *(u64 *)(r10 -8)\nexit', 'EACCES', 'corrupted spill memory'],
    ['spill read of 4 bytes', '*(u64 *)(r10 -8) = r1\nr0 = *(u32 *)(r10 -8)\nexit', 'EACCES', 'invalid size of register spill'],
    ['scalar dereference', 'r0 = 5\nr0 = *(u64 *)(r0 +0)\nexit', 'EACCES', "R0 invalid mem access 'imm'"],
    ['pointer arithmetic on the stack pointer is lost', 'r2 = r10\nr2 += -8\nr0 = *(u64 *)(r2 +0)\nexit', 'EACCES', "R2 invalid mem access 'fp'"],
    ['ctx read of a socket filter past the length', 'r0 = *(u32 *)(r1 +4)\nexit', 'EACCES', 'invalid bpf_context access off=4 size=4', SOCKET_FILTER],
    ['ctx read of the length with 8 bytes', 'r0 = *(u64 *)(r1 +0)\nexit', 'EACCES', 'invalid bpf_context access off=0 size=8', SOCKET_FILTER],
    ['ctx write of the length', '*(u32 *)(r1 +0) = 0\nr0 = 0\nexit', 'EACCES', 'invalid bpf_context access off=0 size=4', SOCKET_FILTER],
    ['ctx read of 4 bytes in unspec', 'r0 = *(u32 *)(r1 +0)\nexit', 'EACCES', 'invalid bpf_context access off=0 size=4'],
    ['ctx write in unspec', '*(u64 *)(r1 +0) = 0\nr0 = 0\nexit', 'EACCES', 'invalid bpf_context access off=0 size=8'],
    ['div by a constant zero', 'r0 = 1\nr0 /= 0\nexit', 'EINVAL', 'div by zero'],
    ['mod by a constant zero (32-bit)', 'r0 = 1\n(u32) r0 %= (u32) 0\nexit', 'EINVAL', 'div by zero'],
    ['unknown helper id', 'call 4\nr0 = 0\nexit', 'EINVAL', 'invalid func 4'],
    ['helper 0', 'call 0\nr0 = 0\nexit', 'EINVAL', 'unknown func 0'],
    ['negative helper id', 'call -1\nr0 = 0\nexit', 'EINVAL', 'invalid func -1'],
    ['map helper without a map', 'r1 = 0\ncall 1\nexit', 'EACCES', 'R1 type=imm expected=map_ptr'],
    ['map helper with uninitialised r1', 'r6 = r1\nr0 = *(u8 *)skb[0]\ncall 1\nexit', 'EACCES', 'R1 !read_ok', SOCKET_FILTER],
    ['a context pointer is not a map', 'call 1\nexit', 'EACCES', 'R1 type=ctx expected=map_ptr'],
    ['LD_ABS outside socket filters', 'r6 = r1\nr0 = *(u8 *)skb[0]\nexit', 'EINVAL', 'BPF_LD_ABS|IND instructions are only allowed in socket filters'],
    ['LD_ABS without r6', 'r0 = *(u8 *)skb[0]\nexit', 'EACCES', 'R6 !read_ok', SOCKET_FILTER],
    ['LD_ABS with r6 not the context', 'r6 = 0\nr0 = *(u8 *)skb[0]\nexit', 'EINVAL', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb', SOCKET_FILTER],
    ['LD_ABS clobbers r1-r5', 'r6 = r1\nr2 = 1\nr0 = *(u8 *)skb[0]\nr0 = r2\nexit', 'EACCES', 'R2 !read_ok', SOCKET_FILTER],
    ['back-edge', 'r0 = 0\nif r0 > 0x1 goto pc-2\nexit', 'EINVAL', 'back-edge from insn 1 to 0'],
    ['jump out of range', 'r0 = 0\ngoto pc+5\nexit', 'EINVAL', 'jump out of range from insn 1 to 7'],
    ['unreachable', 'r0 = 0\nexit\nr0 = 1\nexit', 'EINVAL', 'unreachable insn 2'],
    ['no exit', 'r0 = 0', 'EINVAL', 'jump out of range from insn 0 to 1'],
    ['local call', 'call pc+1\nexit\nr0 = 0\nexit', 'EINVAL', 'insn 0: bpf-to-bpf calls are not supported yet'],
    ['callx', 'r2 = 1\ncallx r2\nexit', 'EINVAL', 'BPF_CALL uses reserved fields'],
    ['atomic on the context', 'r2 = 1\nlock *(u64 *)(r1 +0) |= r2\nr0 = 0\nexit', 'EACCES', 'BPF_ATOMIC stores into R1 ctx are not allowed'],
  ];
  for (const [name, src, errno, message, type] of cases) {
    test(name, () => {
      const r = load(new BpfSystem(), src, { type: type ?? UNSPEC });
      assert.ok(r.err, 'rejected');
      assert.equal(r.err.code, errno);
      if (message) assert.equal(r.log.trimEnd().split('\n').at(-1), message);
    });
  }

  test('callx: the summary says it is not supported', () => {
    const r = load(new BpfSystem(), 'r2 = 1\ncallx r2\nexit');
    assert.equal(r.err?.message, 'insn 1: BPF_CALL uses reserved fields (callx is not supported)');
  });

  test('reserved fields, from raw instructions', () => {
    const raw = (slots: string[]): BpfError => {
      const sys = new BpfSystem();
      const bytes = Uint8Array.from(Buffer.from(slots.join(''), 'hex'));
      try {
        sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: bytes, license: 'GPL', log_level: 1, log_size: 4096, log_buf: new Uint8Array(4096) });
      } catch (e) {
        return e as BpfError;
      }
      throw new Error('accepted');
    };
    const last = (e: BpfError): string => (e.log ?? '').trimEnd().split('\n').at(-1)!;
    // mov r0, r11
    let e = raw(['bfb0000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL R11 is invalid');
    // mov r0, 1 with src_reg 1
    e = raw(['b710000001000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL BPF_MOV uses reserved fields');
    // exit with imm 1
    e = raw(['b700000000000000', '9500000001000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL BPF_EXIT uses reserved fields');
    // ALU op 0xe0
    e = raw(['e700000000000000', 'b700000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL invalid BPF_ALU opcode e0');
    // JMP op 0xe0
    e = raw(['b700000000000000', 'e500000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL invalid BPF_JMP opcode e0');
    // a well-formed ld_imm64 into r1 leaves r0 unset
    e = raw(['1801000000000000', '0000000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EACCES R0 !read_ok');
    // a jump into the second half of an ld_imm64 finds opcode 0x00
    e = raw(['b700000000000000', '5501010000000000', '1801000000000000', '0000000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL invalid BPF_LD_IMM insn');
    e = raw(['1800000000000000', '0100000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL invalid bpf_ld_imm64 insn');
    // XADD of one byte
    e = raw(['b700000000000000', '7a0af8ff00000000', 'd30af8ff00000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL BPF_XADD uses reserved fields');
    // class 6 in 3.19 terms is JMP32 today: an invalid one
    e = raw(['b700000000000000', '8600000000000000', '9500000000000000']);
    assert.equal(e.code, 'EINVAL');
    // LD mode MEM
    e = raw(['6000000000000000', '9500000000000000']);
    assert.equal([e.code, last(e)].join(' '), 'EINVAL invalid BPF_LD mode');
    // JA with the X bit: rejected by check_cfg with an empty log
    e = raw(['0d00000000000000', '9500000000000000']);
    assert.equal(e.code, 'EINVAL');
    assert.equal(e.log, '');
  });
});

describe('limits', () => {
  test('more than 32768 processed instructions: E2BIG', () => {
    // 6 diamonds whose sides differ in the stack (64 paths, none pruned), then
    // a 600-instruction tail every path walks: 64 x 600 > 32768
    const body = Array.from({ length: 6 }, (_, i) => `if r2 > 0x${i.toString(16)} goto pc+1\n*(u64 *)(r10 -${8 * (i + 1)}) = 0`).join('\n');
    const src = `r2 = *(u64 *)(r1 +0)\n${body}\n${'r0 = 0\n'.repeat(600)}exit`;
    const quiet = load(new BpfSystem(), src, { logLevel: 0, logSize: 0 });
    assert.equal(quiet.err?.code, 'E2BIG');
    assert.match(quiet.err!.message, /^insn \d+: BPF program is too large\. Proccessed 32769 insn$/);
    const logged = load(new BpfSystem(), src);
    assert.equal(logged.err?.code, 'E2BIG');
    assert.equal(logged.log.trimEnd().split('\n').at(-1), 'BPF program is too large. Proccessed 32769 insn');
  });

  test('more than 1024 pending branches: EFAULT, BPF program is too complex', () => {
    const src = `r2 = *(u64 *)(r1 +0)\n${'if r2 > 0x0 goto pc+0\n'.repeat(1030)}r0 = 0\nexit`;
    const r = load(new BpfSystem(), src, { logLevel: 0, logSize: 0 });
    assert.equal(r.err?.code, 'EFAULT');
    assert.equal(r.err?.message, 'insn 1025: BPF program is too complex');
  });

  test('insn_cnt: 4095 is the most, 0 is E2BIG', () => {
    const sys = new BpfSystem();
    const insns = (n: number): Uint8Array => encode(assemble(`${'r0 = 0\n'.repeat(n - 1)}exit`));
    assert.ok(sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: insns(4095), license: 'GPL' }) >= 3);
    assert.throws(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: insns(4096), license: 'GPL' }), { code: 'EINVAL' });
    assert.throws(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: new Uint8Array(0), insn_cnt: 0, license: 'GPL' }), { code: 'E2BIG' });
  });
});

describe('BPF_PROG_LOAD log rules', () => {
  const good = encode(assemble('r0 = 0\nexit'));
  const attempt = (attr: object): string => {
    try {
      new BpfSystem().bpf('BPF_PROG_LOAD', { prog_type: 0, insns: good, license: 'GPL', ...attr });
      return 'ok';
    } catch (e) {
      return (e as BpfError).code;
    }
  };
  test('log_size 128..16777215 with a level and a buffer, or nothing at all', () => {
    assert.equal(attempt({}), 'ok');
    assert.equal(attempt({ log_level: 1, log_size: 128, log_buf: new Uint8Array(128) }), 'ok');
    assert.equal(attempt({ log_level: 1, log_size: 127, log_buf: new Uint8Array(128) }), 'EINVAL');
    assert.equal(attempt({ log_level: 1, log_size: 16777216, log_buf: new Uint8Array(16) }), 'EINVAL');
    assert.equal(attempt({ log_level: 0, log_size: 256, log_buf: new Uint8Array(256) }), 'EINVAL');
    assert.equal(attempt({ log_level: 1, log_size: 256 }), 'EINVAL');
    assert.equal(attempt({ log_level: 1 }), 'EINVAL');
    assert.equal(attempt({ log_level: 1, log_size: 256, log_buf: new Uint8Array(100) }), 'EFAULT');
  });

  test('a log that fills up is ENOSPC, even for a good program, and the buffer holds log_size - 1 bytes and a NUL', () => {
    const sys = new BpfSystem();
    const src = `${'r0 = 0\n'.repeat(40)}exit`;
    const buf = new Uint8Array(128);
    assert.throws(
      () => sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: encode(assemble(src)), license: 'GPL', log_level: 1, log_size: 128, log_buf: buf }),
      (e: BpfError) => e.code === 'ENOSPC' && e.log!.length === 127,
    );
    assert.equal(buf[127], 0);
    assert.equal(new TextDecoder().decode(buf.subarray(0, 16)), '0: (b7) r0 = 0\n1');
    assert.deepEqual(sys.fds(), []);
  });

  test('a rejected program with a full log is ENOSPC too', () => {
    const src = `${'r0 = 0\n'.repeat(40)}r0 = r2\nexit`;
    assert.throws(
      () => new BpfSystem().bpf('BPF_PROG_LOAD', { prog_type: 0, insns: encode(assemble(src)), license: 'GPL', log_level: 1, log_size: 200, log_buf: new Uint8Array(200) }),
      { code: 'ENOSPC' },
    );
  });

  test('any license loads (no 3.19 helper is GPL-only)', () => {
    assert.equal(attempt({ license: 'Proprietary' }), 'ok');
  });
});

test("a socket filter reads the packet length at offset 0 of its context (4.1's __sk_buff.len)", () => {
  const p = Program.load(new BpfSystem(), { type: 'socket_filter', insns: 'r0 = *(u32 *)(r1 +0)\nexit' });
  assert.equal(p.run(new Uint8Array(60)), 60n);
  assert.equal(p.run(new Uint8Array(0)), 0n);
});

test('BPF_PSEUDO_MAP_VALUE: a pointer into an array value, bounds-checked with its offset', () => {
  const sys = new BpfSystem();
  const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 16, max_entries: 1 });
  const ok = Program.load(sys, { type: 'unspec', insns: `r1 = map[fd:${fd}][0]+8\n*(u64 *)(r1 +0) = 42\nr0 = *(u64 *)(r1 +0)\nexit` });
  assert.equal(ok.run(), 42n);
  const v = sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(4), value: new Uint8Array(16) });
  assert.equal(v, 0);
  const past = load(sys, `r1 = map[fd:${fd}][0]+8\nr0 = *(u64 *)(r1 +8)\nexit`);
  assert.equal(past.err?.code, 'EACCES');
  assert.equal(past.log.trimEnd().split('\n').at(-1), 'invalid access to map value, value_size=16 off=16 size=8');
  // an offset at or past the value size is refused at load
  assert.equal(load(sys, `r1 = map[fd:${fd}][0]+16\nr0 = 0\nexit`).err?.code, 'EINVAL');
  const hash = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 16, max_entries: 1 });
  assert.equal(load(sys, `r1 = map[fd:${hash}][0]+0\nr0 = 0\nexit`).err?.code, 'EINVAL');
});

describe('the newer opcodes', () => {
  test('JMP32, JLT family, sdiv/smod, movsx, bswap, ldsx and atomics verify and run', () => {
    const sys = new BpfSystem();
    const p = Program.load(sys, {
      type: 'unspec',
      insns: `
        r2 = *(u64 *)(r1 +0)
        r3 = r2
        r3 s/= -3
        r3 s%= 5
        r4 = (s8) r2
        r5 = r2
        r5 = bswap32 r5
        *(u64 *)(r10 -8) = 7
        r6 = 3
        lock *(u64 *)(r10 -8) += r6
        r6 = atomic64_fetch_add((u64 *)(r10 -8), r6)
        r0 = 13
        r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r6)
        r7 = *(s32 *)(r10 -8)
        if (u32) r2 < 0x10 goto pc+1
        r7 += 1
        if r2 s<= r3 goto pc+0
        r0 = r7
        exit`,
    });
    assert.equal(p.verified, true);
    // r2 = 100: the cmpxchg sees 13 == 13 and stores r6 = 10; r7 = 10; 100 >= 16 so r7 += 1
    assert.equal(p.run(Uint8Array.of(100, 0, 0, 0, 0, 0, 0, 0)), 11n);
    assert.equal(p.run(Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0)), 10n);
  });

  test('a fetched value is an unknown scalar, not a pointer', () => {
    const r = load(new BpfSystem(), '*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 = atomic64_xchg((u64 *)(r10 -8), r2)\nr0 = *(u64 *)(r2 +0)\nexit');
    assert.equal(r.err?.code, 'EACCES');
    assert.equal(r.log.trimEnd().split('\n').at(-1), "R2 invalid mem access 'inv'");
  });
});
