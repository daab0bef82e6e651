/**
 * The test table of the kernel's samples/bpf/test_verifier.c as of v3.19
 * (February 2015), transcribed: the instruction sequences, the fixups (slot
 * indexes whose imm becomes a map fd), the expected verdict and the expected
 * substring of the verifier log. Programs are loaded as
 * BPF_PROG_TYPE_UNSPEC, as 3.19's test_verifier did.
 *
 * Source: torvalds/linux samples/bpf/test_verifier.c. The stored text read was
 * the version of spring 2015 (commit 70006af9), which is the v3.19 table plus
 * the changes of "bpf: allow extended BPF programs access skb fields"
 * (v4.1): that commit switched the loader to BPF_PROG_TYPE_SOCKET_FILTER,
 * commented out the `r0 = *(u64 *)(r2 + 8)` read of "check valid spill/fill"
 * (replacing it by `r0 = r2`) and appended the four "access skb fields"
 * tests. Those changes are undone here, so the table is the v3.19 one.
 *
 * `errno` is not in the kernel table: it is the errno 3.19 returns with that
 * message (../shared/docs/linux-3.19/verifier.md).
 *
 * A program is a list of logical instructions (an ld_imm64 from
 * BPF_LD_IMM64/BPF_LD_MAP_FD is one value covering two slots) and raw
 * single slots (`RAW`, the kernel's BPF_RAW_INSN), so that hand-made and
 * malformed ld_imm64 halves keep their exact slot positions.
 */
import type { Instruction, Slot } from '../src/isa/instruction.js';
import { toSlots } from '../src/isa/instruction.js';
import {
  BPF_ALU64_IMM, BPF_ALU64_REG, BPF_EXIT_INSN, BPF_JMP_IMM, BPF_LDX_MEM, BPF_LD_IMM64, BPF_LD_MAP_FD,
  BPF_MOV64_IMM, BPF_MOV64_REG, BPF_STX_MEM, BPF_ST_MEM,
} from '../src/isa/builders.js';
import {
  BPF_ADD, BPF_B, BPF_CALL, BPF_DW, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_LD, BPF_MOV, BPF_MUL,
  BPF_REG_0, BPF_REG_1, BPF_REG_10, BPF_REG_2, BPF_REG_3, BPF_SUB, BPF_X,
} from '../src/isa/opcodes.js';
import { BPF_FUNC } from '../src/progs/map-helpers.js';
import type { ErrnoCode } from '../src/errors.js';

/** One raw 8-byte slot, exactly as given (fields masked to their widths as C stores them). */
export interface RawSlot {
  raw: Slot;
}

export type Insn = Instruction | RawSlot;

/** The kernel's BPF_RAW_INSN: one slot, never expanded. */
export const RAW = (code: number, dst: number, src: number, off: number, imm: number): RawSlot => ({
  raw: { code: code & 0xff, dst: dst & 0x0f, src: src & 0x0f, off: (off << 16) >> 16, imm: imm | 0 },
});

export interface VerifierCase {
  descr: string;
  insns: Insn[];
  /** slot indexes whose imm becomes the fd of a fresh hash map (src is already BPF_PSEUDO_MAP_FD) */
  fixup?: number[];
  result: 'ACCEPT' | 'REJECT';
  /** REJECT: a substring of the log (strstr in the kernel test) */
  errstr?: string;
  /** REJECT: the errno 3.19 returns with errstr */
  errno?: ErrnoCode;
}

/** The program as raw slots: logical instructions expanded, raw slots kept. */
export function slotsOf(insns: readonly Insn[]): Slot[] {
  const out: Slot[] = [];
  for (const i of insns) {
    if ('raw' in i) out.push({ ...i.raw });
    else out.push(...toSlots([i]).map((s) => ({ code: s.code & 0xff, dst: s.dst & 0x0f, src: s.src & 0x0f, off: s.off, imm: s.imm | 0 })));
  }
  return out;
}

const R0 = BPF_REG_0;
const R1 = BPF_REG_1;
const R2 = BPF_REG_2;
const R3 = BPF_REG_3;
const R10 = BPF_REG_10;

const CALL = (func: number): RawSlot => RAW(BPF_JMP | BPF_CALL, 0, 0, 0, func);

/** "jump test 4": if r1 == 10 goto +1, +2, +3, +4 nine times, then four goto +0. */
function jumpTest4(): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < 36; i++) out.push(BPF_JMP_IMM(BPF_JEQ, R1, R10, (i % 4) + 1));
  for (let i = 0; i < 4; i++) out.push(BPF_JMP_IMM(BPF_JEQ, R1, R10, 0));
  out.push(BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN());
  return out;
}

/** "jump test 5": five times the diamond that spills r3 (fp) or r2 (fp) to fp-8. */
function jumpTest5(): Insn[] {
  const out: Insn[] = [BPF_MOV64_REG(R2, R10), BPF_MOV64_REG(R3, R2)];
  for (let i = 0; i < 5; i++) {
    out.push(
      BPF_JMP_IMM(BPF_JGE, R1, 0, 2),
      BPF_STX_MEM(BPF_DW, R2, R3, -8),
      BPF_JMP_IMM(BPF_JA, 0, 0, 2),
      BPF_STX_MEM(BPF_DW, R2, R2, -8),
      BPF_JMP_IMM(BPF_JA, 0, 0, 0),
      BPF_MOV64_IMM(R0, 0),
    );
  }
  out.push(BPF_EXIT_INSN());
  return out;
}

export const CASES: VerifierCase[] = [
  {
    descr: 'add+sub+mul',
    insns: [
      BPF_MOV64_IMM(R1, 1),
      BPF_ALU64_IMM(BPF_ADD, R1, 2),
      BPF_MOV64_IMM(R2, 3),
      BPF_ALU64_REG(BPF_SUB, R1, R2),
      BPF_ALU64_IMM(BPF_ADD, R1, -1),
      BPF_ALU64_IMM(BPF_MUL, R1, 3),
      BPF_MOV64_REG(R0, R1),
      BPF_EXIT_INSN(),
    ],
    result: 'ACCEPT',
  },
  {
    descr: 'unreachable',
    insns: [BPF_EXIT_INSN(), BPF_EXIT_INSN()],
    errstr: 'unreachable',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'unreachable2',
    insns: [BPF_JMP_IMM(BPF_JA, 0, 0, 1), BPF_JMP_IMM(BPF_JA, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'unreachable',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'out of range jump',
    insns: [BPF_JMP_IMM(BPF_JA, 0, 0, 1), BPF_EXIT_INSN()],
    errstr: 'jump out of range',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'out of range jump2',
    insns: [BPF_JMP_IMM(BPF_JA, 0, 0, -2), BPF_EXIT_INSN()],
    errstr: 'jump out of range',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'test1 ld_imm64',
    insns: [
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 1),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 1),
      BPF_LD_IMM64(R0, 1),
      BPF_MOV64_IMM(R0, 2),
      BPF_EXIT_INSN(),
    ],
    errstr: 'invalid BPF_LD_IMM insn',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'test2 ld_imm64',
    insns: [
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 1),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 1),
      BPF_LD_IMM64(R0, 1),
      BPF_EXIT_INSN(),
    ],
    errstr: 'invalid BPF_LD_IMM insn',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'test3 ld_imm64',
    insns: [
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 1),
      RAW(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 0),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 0),
      BPF_LD_IMM64(R0, 1),
      BPF_LD_IMM64(R0, 1),
      BPF_EXIT_INSN(),
    ],
    errstr: 'invalid bpf_ld_imm64 insn',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'test4 ld_imm64',
    insns: [RAW(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'invalid bpf_ld_imm64 insn',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'test5 ld_imm64',
    insns: [RAW(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 0)],
    errstr: 'invalid bpf_ld_imm64 insn',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'no bpf_exit',
    insns: [BPF_ALU64_REG(BPF_MOV, R0, R2)],
    errstr: 'jump out of range',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'loop (back-edge)',
    insns: [BPF_JMP_IMM(BPF_JA, 0, 0, -1), BPF_EXIT_INSN()],
    errstr: 'back-edge',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'loop2 (back-edge)',
    insns: [
      BPF_MOV64_REG(R1, R0),
      BPF_MOV64_REG(R2, R0),
      BPF_MOV64_REG(R3, R0),
      BPF_JMP_IMM(BPF_JA, 0, 0, -4),
      BPF_EXIT_INSN(),
    ],
    errstr: 'back-edge',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'conditional loop',
    insns: [
      BPF_MOV64_REG(R1, R0),
      BPF_MOV64_REG(R2, R0),
      BPF_MOV64_REG(R3, R0),
      BPF_JMP_IMM(BPF_JEQ, R1, 0, -3),
      BPF_EXIT_INSN(),
    ],
    errstr: 'back-edge',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'read uninitialized register',
    insns: [BPF_MOV64_REG(R0, R2), BPF_EXIT_INSN()],
    errstr: 'R2 !read_ok',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'read invalid register',
    insns: [BPF_MOV64_REG(R0, -1), BPF_EXIT_INSN()],
    errstr: 'R15 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: "program doesn't init R0 before exit",
    insns: [BPF_ALU64_REG(BPF_MOV, R2, R1), BPF_EXIT_INSN()],
    errstr: 'R0 !read_ok',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: "program doesn't init R0 before exit in all branches",
    insns: [
      BPF_JMP_IMM(BPF_JGE, R1, 0, 2),
      BPF_MOV64_IMM(R0, 1),
      BPF_ALU64_IMM(BPF_ADD, R0, 2),
      BPF_EXIT_INSN(),
    ],
    errstr: 'R0 !read_ok',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'stack out of bounds',
    insns: [BPF_ST_MEM(BPF_DW, R10, 8, 0), BPF_EXIT_INSN()],
    errstr: 'invalid stack',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'invalid call insn1',
    insns: [RAW(BPF_JMP | BPF_CALL | BPF_X, 0, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'BPF_CALL uses reserved',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid call insn2',
    insns: [RAW(BPF_JMP | BPF_CALL, 0, 0, 1, 0), BPF_EXIT_INSN()],
    errstr: 'BPF_CALL uses reserved',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid function call',
    insns: [RAW(BPF_JMP | BPF_CALL, 0, 0, 0, 1234567), BPF_EXIT_INSN()],
    errstr: 'invalid func 1234567',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'uninitialized stack1',
    insns: [
      BPF_MOV64_REG(R2, R10),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_lookup_elem),
      BPF_EXIT_INSN(),
    ],
    fixup: [2],
    errstr: 'invalid indirect read from stack',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'uninitialized stack2',
    insns: [BPF_MOV64_REG(R2, R10), BPF_LDX_MEM(BPF_DW, R0, R2, -8), BPF_EXIT_INSN()],
    errstr: 'invalid read from stack',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'check valid spill/fill',
    insns: [
      // spill R1(ctx) into stack
      BPF_STX_MEM(BPF_DW, R10, R1, -8),
      // fill it back into R2
      BPF_LDX_MEM(BPF_DW, R2, R10, -8),
      // should be able to access R0 = *(R2 + 8)
      BPF_LDX_MEM(BPF_DW, R0, R2, 8),
      BPF_EXIT_INSN(),
    ],
    result: 'ACCEPT',
  },
  {
    descr: 'check corrupted spill/fill',
    insns: [
      // spill R1(ctx) into stack
      BPF_STX_MEM(BPF_DW, R10, R1, -8),
      // mess up with R1 pointer on stack
      BPF_ST_MEM(BPF_B, R10, -7, 0x23),
      // fill back into R0 should fail
      BPF_LDX_MEM(BPF_DW, R0, R10, -8),
      BPF_EXIT_INSN(),
    ],
    errstr: 'corrupted spill',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'invalid src register in STX',
    insns: [BPF_STX_MEM(BPF_B, R10, -1, -1), BPF_EXIT_INSN()],
    errstr: 'R15 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid dst register in STX',
    insns: [BPF_STX_MEM(BPF_B, 14, R10, -1), BPF_EXIT_INSN()],
    errstr: 'R14 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid dst register in ST',
    insns: [BPF_ST_MEM(BPF_B, 14, -1, -1), BPF_EXIT_INSN()],
    errstr: 'R14 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid src register in LDX',
    insns: [BPF_LDX_MEM(BPF_B, R0, 12, 0), BPF_EXIT_INSN()],
    errstr: 'R12 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'invalid dst register in LDX',
    insns: [BPF_LDX_MEM(BPF_B, 11, R1, 0), BPF_EXIT_INSN()],
    errstr: 'R11 is invalid',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'junk insn',
    insns: [RAW(0, 0, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'invalid BPF_LD_IMM',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'junk insn2',
    insns: [RAW(1, 0, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'BPF_LDX uses reserved fields',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'junk insn3',
    insns: [RAW(-1, 0, 0, 0, 0), BPF_EXIT_INSN()],
    errstr: 'invalid BPF_ALU opcode f0',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'junk insn4',
    insns: [RAW(-1, -1, -1, -1, -1), BPF_EXIT_INSN()],
    errstr: 'invalid BPF_ALU opcode f0',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'junk insn5',
    insns: [RAW(0x7f, -1, -1, -1, -1), BPF_EXIT_INSN()],
    errstr: 'BPF_ALU uses reserved fields',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: 'misaligned read from stack',
    insns: [BPF_MOV64_REG(R2, R10), BPF_LDX_MEM(BPF_DW, R0, R2, -4), BPF_EXIT_INSN()],
    errstr: 'misaligned access',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'invalid map_fd for function call',
    insns: [
      BPF_ST_MEM(BPF_DW, R10, -8, 0),
      BPF_ALU64_REG(BPF_MOV, R2, R10),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_delete_elem),
      BPF_EXIT_INSN(),
    ],
    // no fixup: fd 0 is open (stdin) but not a map, hence EINVAL rather than EBADF
    errstr: 'fd 0 is not pointing to valid bpf_map',
    errno: 'EINVAL',
    result: 'REJECT',
  },
  {
    descr: "don't check return value before access",
    insns: [
      BPF_ST_MEM(BPF_DW, R10, -8, 0),
      BPF_MOV64_REG(R2, R10),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_lookup_elem),
      BPF_ST_MEM(BPF_DW, R0, 0, 0),
      BPF_EXIT_INSN(),
    ],
    fixup: [3],
    errstr: "R0 invalid mem access 'map_value_or_null'",
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'access memory with incorrect alignment',
    insns: [
      BPF_ST_MEM(BPF_DW, R10, -8, 0),
      BPF_MOV64_REG(R2, R10),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_lookup_elem),
      BPF_JMP_IMM(BPF_JEQ, R0, 0, 1),
      BPF_ST_MEM(BPF_DW, R0, 4, 0),
      BPF_EXIT_INSN(),
    ],
    fixup: [3],
    errstr: 'misaligned access',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'sometimes access memory with incorrect alignment',
    insns: [
      BPF_ST_MEM(BPF_DW, R10, -8, 0),
      BPF_MOV64_REG(R2, R10),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_lookup_elem),
      BPF_JMP_IMM(BPF_JEQ, R0, 0, 2),
      BPF_ST_MEM(BPF_DW, R0, 0, 0),
      BPF_EXIT_INSN(),
      BPF_ST_MEM(BPF_DW, R0, 0, 1),
      BPF_EXIT_INSN(),
    ],
    fixup: [3],
    errstr: 'R0 invalid mem access',
    errno: 'EACCES',
    result: 'REJECT',
  },
  {
    descr: 'jump test 1',
    insns: [
      BPF_MOV64_REG(R2, R10),
      BPF_STX_MEM(BPF_DW, R2, R1, -8),
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 1),
      BPF_ST_MEM(BPF_DW, R2, -8, 0),
      BPF_JMP_IMM(BPF_JEQ, R1, 1, 1),
      BPF_ST_MEM(BPF_DW, R2, -16, 1),
      BPF_JMP_IMM(BPF_JEQ, R1, 2, 1),
      BPF_ST_MEM(BPF_DW, R2, -8, 2),
      BPF_JMP_IMM(BPF_JEQ, R1, 3, 1),
      BPF_ST_MEM(BPF_DW, R2, -16, 3),
      BPF_JMP_IMM(BPF_JEQ, R1, 4, 1),
      BPF_ST_MEM(BPF_DW, R2, -8, 4),
      BPF_JMP_IMM(BPF_JEQ, R1, 5, 1),
      BPF_ST_MEM(BPF_DW, R2, -32, 5),
      BPF_MOV64_IMM(R0, 0),
      BPF_EXIT_INSN(),
    ],
    result: 'ACCEPT',
  },
  {
    descr: 'jump test 2',
    insns: [
      BPF_MOV64_REG(R2, R10),
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 2),
      BPF_ST_MEM(BPF_DW, R2, -8, 0),
      BPF_JMP_IMM(BPF_JA, 0, 0, 14),
      BPF_JMP_IMM(BPF_JEQ, R1, 1, 2),
      BPF_ST_MEM(BPF_DW, R2, -16, 0),
      BPF_JMP_IMM(BPF_JA, 0, 0, 11),
      BPF_JMP_IMM(BPF_JEQ, R1, 2, 2),
      BPF_ST_MEM(BPF_DW, R2, -32, 0),
      BPF_JMP_IMM(BPF_JA, 0, 0, 8),
      BPF_JMP_IMM(BPF_JEQ, R1, 3, 2),
      BPF_ST_MEM(BPF_DW, R2, -40, 0),
      BPF_JMP_IMM(BPF_JA, 0, 0, 5),
      BPF_JMP_IMM(BPF_JEQ, R1, 4, 2),
      BPF_ST_MEM(BPF_DW, R2, -48, 0),
      BPF_JMP_IMM(BPF_JA, 0, 0, 2),
      BPF_JMP_IMM(BPF_JEQ, R1, 5, 1),
      BPF_ST_MEM(BPF_DW, R2, -56, 0),
      BPF_MOV64_IMM(R0, 0),
      BPF_EXIT_INSN(),
    ],
    result: 'ACCEPT',
  },
  {
    descr: 'jump test 3',
    insns: [
      BPF_MOV64_REG(R2, R10),
      BPF_JMP_IMM(BPF_JEQ, R1, 0, 3),
      BPF_ST_MEM(BPF_DW, R2, -8, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -8),
      BPF_JMP_IMM(BPF_JA, 0, 0, 19),
      BPF_JMP_IMM(BPF_JEQ, R1, 1, 3),
      BPF_ST_MEM(BPF_DW, R2, -16, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -16),
      BPF_JMP_IMM(BPF_JA, 0, 0, 15),
      BPF_JMP_IMM(BPF_JEQ, R1, 2, 3),
      BPF_ST_MEM(BPF_DW, R2, -32, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -32),
      BPF_JMP_IMM(BPF_JA, 0, 0, 11),
      BPF_JMP_IMM(BPF_JEQ, R1, 3, 3),
      BPF_ST_MEM(BPF_DW, R2, -40, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -40),
      BPF_JMP_IMM(BPF_JA, 0, 0, 7),
      BPF_JMP_IMM(BPF_JEQ, R1, 4, 3),
      BPF_ST_MEM(BPF_DW, R2, -48, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -48),
      BPF_JMP_IMM(BPF_JA, 0, 0, 3),
      BPF_JMP_IMM(BPF_JEQ, R1, 5, 0),
      BPF_ST_MEM(BPF_DW, R2, -56, 0),
      BPF_ALU64_IMM(BPF_ADD, R2, -56),
      BPF_LD_MAP_FD(R1, 0),
      CALL(BPF_FUNC.map_delete_elem),
      BPF_EXIT_INSN(),
    ],
    fixup: [24],
    result: 'ACCEPT',
  },
  {
    descr: 'jump test 4',
    insns: jumpTest4(),
    result: 'ACCEPT',
  },
  {
    descr: 'jump test 5',
    insns: jumpTest5(),
    result: 'ACCEPT',
  },
];
