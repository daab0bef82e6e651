/**
 * The verifier against the kernel's own test table: every case of
 * samples/bpf/test_verifier.c as of v3.19 (test/verifier-cases.ts), loaded
 * through BPF_PROG_LOAD as BPF_PROG_TYPE_UNSPEC exactly as the kernel test
 * did: ACCEPT loads, REJECT fails with a log containing the kernel test's
 * errstr and with the errno 3.19 returns for that message.
 *
 * Then whole logs, written by hand from the 3.19 algorithm and log format
 * (../shared/docs/linux-3.19/verifier.md section 1): instruction lines, the
 * state after each conditional jump that was not constant-folded,
 * `from X to Y:` after a pop, `N: safe` / `from X to Y: safe` on pruning, the
 * error message last.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import type { ErrnoCode } from '../src/errors.js';
import type { Slot } from '../src/isa/instruction.js';
import { encodeSlots } from '../src/isa/instruction.js';
import {
  BPF_ALU64_IMM, BPF_EXIT_INSN, BPF_JMP_IMM, BPF_LDX_MEM, BPF_LD_MAP_FD, BPF_MOV64_IMM, BPF_MOV64_REG,
  BPF_STX_MEM, BPF_ST_MEM,
} from '../src/isa/builders.js';
import {
  BPF_ADD, BPF_B, BPF_DW, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JNE,
  BPF_REG_0, BPF_REG_1, BPF_REG_2, BPF_REG_3, BPF_REG_5, BPF_REG_10,
} from '../src/isa/opcodes.js';
import { BPF_FUNC } from '../src/progs/map-helpers.js';
import { CASES, RAW, slotsOf } from './verifier-cases.js';
import type { Insn, VerifierCase } from './verifier-cases.js';

const BPF_PROG_TYPE_UNSPEC = 0;
const BPF_MAP_TYPE_HASH = 1;
const BPF_PSEUDO_MAP_FD = 1;
const LOG_SIZE = 65536;

/** test_verifier.c's create_map(): a hash map of 8-byte keys and values, 1024 entries. */
function createMap(sys: BpfSystem): number {
  return sys.bpf('BPF_MAP_CREATE', { map_type: BPF_MAP_TYPE_HASH, key_size: 8, value_size: 8, max_entries: 1024 });
}

/** The kernel test's fixup: each listed slot's imm becomes the map fd (a pseudo ld_imm64). */
function applyFixup(slots: Slot[], fixup: readonly number[], fd: number): void {
  for (const i of fixup) {
    const s = slots[i];
    assert.ok(s && s.code === 0x18, `fixup slot ${i} is not an ld_imm64`);
    s.src = BPF_PSEUDO_MAP_FD;
    s.imm = fd;
  }
}

type Outcome = { accepted: true; fd: number; log: string } | { accepted: false; err: BpfError; log: string };

/** The text of a NUL-terminated log buffer. */
function bufText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

function load(sys: BpfSystem, slots: readonly Slot[]): Outcome {
  const insns = encodeSlots(slots);
  const logBuf = new Uint8Array(LOG_SIZE);
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: BPF_PROG_TYPE_UNSPEC,
      insns,
      insn_cnt: insns.length / 8,
      license: 'GPL',
      log_level: 1,
      log_size: LOG_SIZE,
      log_buf: logBuf,
    });
    return { accepted: true, fd, log: bufText(logBuf) };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { accepted: false, err: e, log: e.log ?? bufText(logBuf) };
  }
}

function runCase(c: VerifierCase): void {
  const sys = new BpfSystem();
  const slots = slotsOf(c.insns);
  let mapFd = -1;
  if (c.fixup && c.fixup.length > 0) {
    mapFd = createMap(sys);
    applyFixup(slots, c.fixup, mapFd);
  }
  const out = load(sys, slots);
  try {
    if (c.result === 'ACCEPT') {
      if (!out.accepted) {
        assert.fail(`expected ACCEPT, got ${out.err.code}: ${out.err.message}\n--- log ---\n${out.log}`);
      }
      sys.close(out.fd);
    } else {
      if (out.accepted) {
        sys.close(out.fd);
        assert.fail(`expected REJECT (${c.errno}, '${c.errstr}'), but the program loaded\n--- log ---\n${out.log}`);
      }
      const log = out.err.log ?? '';
      if (c.errstr) {
        assert.ok(log.includes(c.errstr), `log does not contain '${c.errstr}'\n--- log ---\n${log}`);
      }
      assert.equal(out.err.code, c.errno, `errno for '${c.errstr}'\n--- log ---\n${log}`);
    }
  } finally {
    if (mapFd >= 0) sys.close(mapFd);
  }
}

describe('samples/bpf/test_verifier.c (v3.19)', () => {
  test('the table: 46 cases, unique names, every REJECT with an errno', () => {
    assert.equal(CASES.length, 46);
    assert.equal(new Set(CASES.map((c) => c.descr)).size, CASES.length);
    for (const c of CASES) {
      if (c.result === 'REJECT') assert.ok(c.errno, c.descr);
      else assert.equal(c.errstr, undefined, c.descr);
    }
  });

  CASES.forEach((c, i) => {
    test(`#${i} ${c.descr}`, () => runCase(c));
  });
});

// ------------------------------------------------------------------ full logs

const R0 = BPF_REG_0;
const R1 = BPF_REG_1;
const R2 = BPF_REG_2;
const R3 = BPF_REG_3;
const R5 = BPF_REG_5;
const R10 = BPF_REG_10;

const CALL = (func: number): Insn => RAW(0x85, 0, 0, 0, func);
const lines = (...l: string[]): string => l.map((x) => x + '\n').join('');

interface LogRun {
  sys: BpfSystem;
  mapFd: number;
  /** `0x...` as the `(18) r1 = ...` line prints the map: the low 32 bits of its address */
  mapHex: string;
}

/** Load `insns` (with optional fixups against a fresh map) and return the outcome. */
function withMap(build: (run: LogRun) => { insns: Insn[]; fixup?: number[] }, check: (out: Outcome, run: LogRun) => void): void {
  const sys = new BpfSystem();
  const mapFd = createMap(sys);
  const addr = sys.mapOf(mapFd).impl.addr;
  const run: LogRun = { sys, mapFd, mapHex: `0x${(addr >>> 0).toString(16)}` };
  const { insns, fixup } = build(run);
  const slots = slotsOf(insns);
  if (fixup) applyFixup(slots, fixup, mapFd);
  const out = load(sys, slots);
  try {
    check(out, run);
  } finally {
    if (out.accepted) sys.close(out.fd);
    sys.close(mapFd);
  }
}

function expectAccept(out: Outcome, log: string): void {
  if (!out.accepted) assert.fail(`expected ACCEPT, got ${out.err.code}\n--- log ---\n${out.log}`);
  assert.equal(out.log, log);
}

function expectReject(out: Outcome, errno: ErrnoCode, log: string): void {
  if (out.accepted) assert.fail(`expected REJECT ${errno}, but the program loaded\n--- log ---\n${out.log}`);
  assert.equal(out.err.log, log);
  assert.equal(out.err.code, errno);
}

function logTest(insns: Insn[], check: (out: Outcome, run: LogRun) => void): void {
  withMap(() => ({ insns }), check);
}

describe('full 3.19 logs, derived by hand', () => {
  test('add+sub+mul: one line per instruction, nothing else', () => {
    logTest(CASES[0]!.insns, (out) => expectAccept(out, lines(
      '0: (b7) r1 = 1',
      '1: (07) r1 += 2',
      '2: (b7) r2 = 3',
      '3: (1f) r1 -= r2',
      '4: (07) r1 += -1',
      '5: (27) r1 *= 3',
      '6: (bf) r0 = r1',
      '7: (95) exit',
    )));
  });

  test('sometimes access memory with incorrect alignment (the verifier.md example)', () => {
    withMap(
      () => ({ insns: CASES.find((c) => c.descr === 'sometimes access memory with incorrect alignment')!.insns, fixup: [3] }),
      (out, { mapHex }) => expectReject(out, 'EACCES', lines(
        '0: (7a) *(u64 *)(r10 -8) = 0',
        '1: (bf) r2 = r10',
        '2: (07) r2 += -8',
        `3: (18) r1 = ${mapHex}`,
        '5: (85) call 1',
        '6: (15) if r0 == 0x0 goto pc+2',
        ' R0=map_value(ks=8,vs=8) R10=fp',
        '7: (7a) *(u64 *)(r0 +0) = 0',
        '8: (95) exit',
        '',
        'from 6 to 9: R0=imm0 R10=fp',
        '9: (7a) *(u64 *)(r0 +0) = 1',
        "R0 invalid mem access 'imm'",
      )),
    );
  });

  test("program doesn't init R0 before exit in all branches: the popped branch is not pruned", () => {
    // the state kept at 3 has R0=inv; the branch arrives with R0 not initialized
    logTest(
      [BPF_JMP_IMM(BPF_JGE, R1, 0, 2), BPF_MOV64_IMM(R0, 1), BPF_ALU64_IMM(BPF_ADD, R0, 2), BPF_EXIT_INSN()],
      (out) => expectReject(out, 'EACCES', lines(
        '0: (35) if r1 >= 0x0 goto pc+2',
        ' R1=ctx R10=fp',
        '1: (b7) r0 = 1',
        '2: (07) r0 += 2',
        '3: (95) exit',
        '',
        'from 0 to 3: R1=ctx R10=fp',
        '3: (95) exit',
        'R0 !read_ok',
      )),
    );
  });

  test('check corrupted spill/fill', () => {
    logTest(
      [BPF_STX_MEM(BPF_DW, R10, R1, -8), BPF_ST_MEM(BPF_B, R10, -7, 0x23), BPF_LDX_MEM(BPF_DW, R0, R10, -8), BPF_EXIT_INSN()],
      (out) => expectReject(out, 'EACCES', lines(
        '0: (7b) *(u64 *)(r10 -8) = r1',
        '1: (72) *(u8 *)(r10 -7) = 35',
        '2: (79) r0 = *(u64 *)(r10 -8)',
        'corrupted spill memory',
      )),
    );
  });

  test('uninitialized stack1: the map pointer line, the indirect read message', () => {
    withMap(
      () => ({
        insns: [
          BPF_MOV64_REG(R2, R10),
          BPF_ALU64_IMM(BPF_ADD, R2, -8),
          BPF_LD_MAP_FD(R1, 0),
          CALL(BPF_FUNC.map_lookup_elem),
          BPF_EXIT_INSN(),
        ],
        fixup: [2],
      }),
      (out, { mapHex }) => expectReject(out, 'EACCES', lines(
        '0: (bf) r2 = r10',
        '1: (07) r2 += -8',
        `2: (18) r1 = ${mapHex}`,
        '4: (85) call 1',
        'invalid indirect read from stack off -8+0 size 8',
      )),
    );
  });

  test('pruning right after a pop: from X to Y: safe', () => {
    // At 4 the fall-through path keeps {R0=inv, R2=inv}; the branch brings
    // {R0=imm0, R2=imm0}: an unknown value in the old state covers anything
    // initialized, so the branch is safe.
    logTest(
      [
        BPF_LDX_MEM(BPF_DW, R2, R1, 8),
        BPF_MOV64_IMM(R0, 0),
        BPF_JMP_IMM(BPF_JEQ, R2, 0, 1),
        BPF_MOV64_REG(R0, R2),
        BPF_EXIT_INSN(),
      ],
      (out) => expectAccept(out, lines(
        '0: (79) r2 = *(u64 *)(r1 +8)',
        '1: (b7) r0 = 0',
        '2: (15) if r2 == 0x0 goto pc+1',
        ' R0=imm0 R1=ctx R2=inv R10=fp',
        '3: (bf) r0 = r2',
        '4: (95) exit',
        '',
        'from 2 to 4: safe',
      )),
    );
  });

  test('pruning on the way: N: safe, states kept per instruction, LIFO order of pending branches', () => {
    // 6 keeps R0=imm2 (first path) and R0=imm1 (from 4); the path from 2 reaches
    // 6 with R0=imm2 again after executing 4 and 5: "6: safe". Its own pending
    // branch (R0=imm0) matches neither and is explored last.
    logTest(
      [
        BPF_LDX_MEM(BPF_DW, R2, R1, 8),
        BPF_MOV64_IMM(R0, 0),
        BPF_JMP_IMM(BPF_JGT, R2, 5, 1),
        BPF_MOV64_IMM(R0, 1),
        BPF_JMP_IMM(BPF_JGT, R2, 3, 1),
        BPF_MOV64_IMM(R0, 2),
        BPF_EXIT_INSN(),
      ],
      (out) => expectAccept(out, lines(
        '0: (79) r2 = *(u64 *)(r1 +8)',
        '1: (b7) r0 = 0',
        '2: (25) if r2 > 0x5 goto pc+1',
        ' R0=imm0 R1=ctx R2=inv R10=fp',
        '3: (b7) r0 = 1',
        '4: (25) if r2 > 0x3 goto pc+1',
        ' R0=imm1 R1=ctx R2=inv R10=fp',
        '5: (b7) r0 = 2',
        '6: (95) exit',
        '',
        'from 4 to 6: R0=imm1 R1=ctx R2=inv R10=fp',
        '6: (95) exit',
        '',
        'from 2 to 4: R0=imm0 R1=ctx R2=inv R10=fp',
        '4: (25) if r2 > 0x3 goto pc+1',
        ' R0=imm0 R1=ctx R2=inv R10=fp',
        '5: (b7) r0 = 2',
        '6: safe',
        '',
        'from 4 to 6: R0=imm0 R1=ctx R2=inv R10=fp',
        '6: (95) exit',
      )),
    );
  });

  test("spilled registers and stack pointers in the state; JNE's fall-through learns the constant", () => {
    logTest(
      [
        BPF_MOV64_REG(R3, R10),
        BPF_ALU64_IMM(BPF_ADD, R3, -8),
        BPF_STX_MEM(BPF_DW, R10, R1, -16),
        BPF_LDX_MEM(BPF_DW, R2, R1, 0),
        BPF_JMP_IMM(BPF_JNE, R2, 0, 2),
        BPF_LDX_MEM(BPF_DW, R0, R10, -16),
        BPF_EXIT_INSN(),
        BPF_LDX_MEM(BPF_DW, R0, R3, 0),
        BPF_EXIT_INSN(),
      ],
      (out) => expectReject(out, 'EACCES', lines(
        '0: (bf) r3 = r10',
        '1: (07) r3 += -8',
        '2: (7b) *(u64 *)(r10 -16) = r1',
        '3: (79) r2 = *(u64 *)(r1 +0)',
        '4: (55) if r2 != 0x0 goto pc+2',
        ' R1=ctx R2=imm0 R3=fp-8 R10=fp fp-16=ctx',
        '5: (79) r0 = *(u64 *)(r10 -16)',
        '6: (95) exit',
        '',
        'from 4 to 7: R1=ctx R2=inv R3=fp-8 R10=fp fp-16=ctx',
        '7: (79) r0 = *(u64 *)(r3 +0)',
        "R3 invalid mem access 'fp'",
      )),
    );
  });

  test('map value bounds after a JNE null check', () => {
    withMap(
      () => ({
        insns: [
          BPF_ST_MEM(BPF_DW, R10, -8, 0),
          BPF_MOV64_REG(R2, R10),
          BPF_ALU64_IMM(BPF_ADD, R2, -8),
          BPF_LD_MAP_FD(R1, 0),
          CALL(BPF_FUNC.map_lookup_elem),
          BPF_JMP_IMM(BPF_JNE, R0, 0, 1),
          BPF_EXIT_INSN(),
          BPF_LDX_MEM(BPF_DW, R1, R0, 8),
          BPF_EXIT_INSN(),
        ],
        fixup: [3],
      }),
      (out, { mapHex }) => expectReject(out, 'EACCES', lines(
        '0: (7a) *(u64 *)(r10 -8) = 0',
        '1: (bf) r2 = r10',
        '2: (07) r2 += -8',
        `3: (18) r1 = ${mapHex}`,
        '5: (85) call 1',
        '6: (55) if r0 != 0x0 goto pc+1',
        ' R0=imm0 R10=fp',
        '7: (95) exit',
        '',
        'from 6 to 8: R0=map_value(ks=8,vs=8) R10=fp',
        '8: (79) r1 = *(u64 *)(r0 +8)',
        'invalid access to map value, value_size=8 off=8 size=8',
      )),
    );
  });

  test('constant-folded JEQ/JNE: one side only, no state line, the dead side unchecked', () => {
    logTest(
      [
        BPF_MOV64_IMM(R0, 0),
        BPF_JMP_IMM(BPF_JEQ, R0, 0, 1),
        BPF_MOV64_REG(R0, R5),
        BPF_JMP_IMM(BPF_JNE, R0, 0, 1),
        BPF_EXIT_INSN(),
        BPF_MOV64_REG(R0, R5),
        BPF_EXIT_INSN(),
      ],
      (out) => expectAccept(out, lines(
        '0: (b7) r0 = 0',
        '1: (15) if r0 == 0x0 goto pc+1',
        '3: (55) if r0 != 0x0 goto pc+1',
        '4: (95) exit',
      )),
    );
  });

  test('check_cfg errors: the log is the message alone', () => {
    logTest([BPF_JMP_IMM(BPF_JA, 0, 0, -1), BPF_EXIT_INSN()], (out) => expectReject(out, 'EINVAL', 'back-edge from insn 0 to 0\n'));
    logTest([BPF_EXIT_INSN(), BPF_EXIT_INSN()], (out) => expectReject(out, 'EINVAL', 'unreachable insn 1\n'));
    logTest([BPF_JMP_IMM(BPF_JA, 0, 0, 1), BPF_EXIT_INSN()], (out) => expectReject(out, 'EINVAL', 'jump out of range from insn 0 to 2\n'));
  });
});
