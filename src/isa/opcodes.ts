/**
 * Opcode constants, named as in include/uapi/linux/bpf_common.h and bpf.h,
 * and the table of valid opcodes (the 3.19 uapi plus RFC 9669). This file
 * knows the shape of every opcode; it knows nothing of semantics or text.
 *
 * An opcode byte is `class | size/op | mode/src`: the low 3 bits are the class,
 * for ALU/JMP classes bit 3 is the source (K immediate, X register) and the
 * high 4 bits the operation; for load/store classes bits 3-4 are the size and
 * the high 3 bits the mode.
 */

// Instruction classes (bpf_common.h; ALU64 and JMP32 from bpf.h).
/** Instruction class (the opcode's low 3 bits): ld. */
export const BPF_LD = 0x00;
/** Instruction class (the opcode's low 3 bits): ldx. */
export const BPF_LDX = 0x01;
/** Instruction class (the opcode's low 3 bits): st. */
export const BPF_ST = 0x02;
/** Instruction class (the opcode's low 3 bits): stx. */
export const BPF_STX = 0x03;
/** Instruction class (the opcode's low 3 bits): alu. */
export const BPF_ALU = 0x04;
/** Instruction class (the opcode's low 3 bits): jmp. */
export const BPF_JMP = 0x05;
/** classic BPF's RET class; eBPF reuses class 6 as JMP32 */
export const BPF_RET = 0x06;
/** Instruction class (the opcode's low 3 bits): jmp32. */
export const BPF_JMP32 = 0x06;
/** Instruction class (the opcode's low 3 bits): alu64. */
export const BPF_ALU64 = 0x07;

// Sizes.
/** Load/store size field: 4 bytes. */
export const BPF_W = 0x00;
/** Load/store size field: 2 bytes. */
export const BPF_H = 0x08;
/** Load/store size field: 1 byte. */
export const BPF_B = 0x10;
/** Load/store size field: 8 bytes. */
export const BPF_DW = 0x18;

// Modes.
/** Load/store mode field: immediate (ld_imm64). */
export const BPF_IMM = 0x00;
/** Load/store mode field: packet at an absolute offset (LD_ABS). */
export const BPF_ABS = 0x20;
/** Load/store mode field: packet at src + offset (LD_IND). */
export const BPF_IND = 0x40;
/** Load/store mode field: memory at a register + offset. */
export const BPF_MEM = 0x60;
/** Load/store mode field: classic BPF: the packet length. */
export const BPF_LEN = 0x80;
/** Load/store mode field: classic BPF: 4 * (packet[k] & 0xf). */
export const BPF_MSH = 0xa0;
/** sign-extending load (RFC 9669) */
export const BPF_MEMSX = 0x80;
/** Load/store mode field: atomic operation. */
export const BPF_ATOMIC = 0xc0;
/** 3.19's name for the atomic add mode */
export const BPF_XADD = 0xc0;

// ALU operations.
/** ALU operation (the opcode's high 4 bits): add. */
export const BPF_ADD = 0x00;
/** ALU operation (the opcode's high 4 bits): sub. */
export const BPF_SUB = 0x10;
/** ALU operation (the opcode's high 4 bits): mul. */
export const BPF_MUL = 0x20;
/** ALU operation (the opcode's high 4 bits): div. */
export const BPF_DIV = 0x30;
/** ALU operation (the opcode's high 4 bits): or. */
export const BPF_OR = 0x40;
/** ALU operation (the opcode's high 4 bits): and. */
export const BPF_AND = 0x50;
/** ALU operation (the opcode's high 4 bits): lsh. */
export const BPF_LSH = 0x60;
/** ALU operation (the opcode's high 4 bits): rsh. */
export const BPF_RSH = 0x70;
/** ALU operation (the opcode's high 4 bits): neg. */
export const BPF_NEG = 0x80;
/** ALU operation (the opcode's high 4 bits): mod. */
export const BPF_MOD = 0x90;
/** ALU operation (the opcode's high 4 bits): xor. */
export const BPF_XOR = 0xa0;
/** ALU operation (the opcode's high 4 bits): mov. */
export const BPF_MOV = 0xb0;
/** ALU operation (the opcode's high 4 bits): arsh. */
export const BPF_ARSH = 0xc0;
/** ALU operation (the opcode's high 4 bits): end. */
export const BPF_END = 0xd0;

// Byte order of BPF_END (shares the bit of BPF_X).
/** Byte order of BPF_END (the BPF_X bit): to little-endian. */
export const BPF_TO_LE = 0x00;
/** Byte order of BPF_END (the BPF_X bit): to big-endian. */
export const BPF_TO_BE = 0x08;
/** Byte order of BPF_END (the BPF_X bit): from little-endian (= BPF_TO_LE). */
export const BPF_FROM_LE = BPF_TO_LE;
/** Byte order of BPF_END (the BPF_X bit): from big-endian (= BPF_TO_BE). */
export const BPF_FROM_BE = BPF_TO_BE;

// Jump operations.
/** Jump operation (the opcode's high 4 bits): ja. */
export const BPF_JA = 0x00;
/** Jump operation (the opcode's high 4 bits): jeq. */
export const BPF_JEQ = 0x10;
/** Jump operation (the opcode's high 4 bits): jgt. */
export const BPF_JGT = 0x20;
/** Jump operation (the opcode's high 4 bits): jge. */
export const BPF_JGE = 0x30;
/** Jump operation (the opcode's high 4 bits): jset. */
export const BPF_JSET = 0x40;
/** Jump operation (the opcode's high 4 bits): jne. */
export const BPF_JNE = 0x50;
/** Jump operation (the opcode's high 4 bits): jsgt. */
export const BPF_JSGT = 0x60;
/** Jump operation (the opcode's high 4 bits): jsge. */
export const BPF_JSGE = 0x70;
/** Jump operation (the opcode's high 4 bits): call. */
export const BPF_CALL = 0x80;
/** Jump operation (the opcode's high 4 bits): exit. */
export const BPF_EXIT = 0x90;
/** Jump operation (the opcode's high 4 bits): jlt. */
export const BPF_JLT = 0xa0;
/** Jump operation (the opcode's high 4 bits): jle. */
export const BPF_JLE = 0xb0;
/** Jump operation (the opcode's high 4 bits): jslt. */
export const BPF_JSLT = 0xc0;
/** Jump operation (the opcode's high 4 bits): jsle. */
export const BPF_JSLE = 0xd0;

// Source operand.
/** Source operand bit: the immediate (imm). */
export const BPF_K = 0x00;
/** Source operand bit: the source register (src). */
export const BPF_X = 0x08;

// Atomic operations (in imm of BPF_STX | BPF_ATOMIC).
/** Atomic operation (imm of BPF_STX | BPF_ATOMIC): flag: return the old value. */
export const BPF_FETCH = 0x01;
/** Atomic operation (imm of BPF_STX | BPF_ATOMIC): exchange. */
export const BPF_XCHG = 0xe0 | BPF_FETCH;
/** Atomic operation (imm of BPF_STX | BPF_ATOMIC): compare and exchange with r0. */
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src_reg values of ld_imm64 and call.
/** src_reg value of ld_imm64 or call: ld_imm64: imm is a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;
/** src_reg value of ld_imm64 or call: ld_imm64: a pointer into a map's value. */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** src_reg value of ld_imm64 or call: call: a local function (bpf-to-bpf). */
export const BPF_PSEUDO_CALL = 1;
/** src_reg value of ld_imm64 or call: call: a kernel function. */
export const BPF_PSEUDO_KFUNC_CALL = 2;

// The opcodes the ISA's questions test (instruction.ts: isLdImm64, isHelperCall, ...).
/** ld_imm64 (BPF_LD | BPF_IMM | BPF_DW): the only instruction that takes two slots */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
/** call (BPF_JMP | BPF_CALL | BPF_K): a helper, a local function or a kfunc, by src */
export const CALL = BPF_JMP | BPF_CALL | BPF_K;
/** callx (BPF_JMP | BPF_CALL | BPF_X): the helper whose id is in dst */
export const CALLX = BPF_JMP | BPF_CALL | BPF_X;
/** exit (BPF_JMP | BPF_EXIT) */
export const EXIT = BPF_JMP | BPF_EXIT;

// Registers and limits: each defined here once, for every layer.
/** Register number: r0. */
export const BPF_REG_0 = 0;
/** Register number: r1. */
export const BPF_REG_1 = 1;
/** Register number: r2. */
export const BPF_REG_2 = 2;
/** Register number: r3. */
export const BPF_REG_3 = 3;
/** Register number: r4. */
export const BPF_REG_4 = 4;
/** Register number: r5. */
export const BPF_REG_5 = 5;
/** Register number: r6. */
export const BPF_REG_6 = 6;
/** Register number: r7. */
export const BPF_REG_7 = 7;
/** Register number: r8. */
export const BPF_REG_8 = 8;
/** Register number: r9. */
export const BPF_REG_9 = 9;
/** Register number: r10. */
export const BPF_REG_10 = 10;
/** The frame pointer, r10. */
export const BPF_REG_FP = BPF_REG_10;
/** registers r0..r10 */
export const MAX_BPF_REG = 11;
/** the instruction slot limit of a program (3.19: insn_cnt must stay below it) */
export const BPF_MAXINSNS = 4096;
/** bytes of stack per frame */
export const MAX_BPF_STACK = 512;
/** negative LD_ABS offsets address the network / link-layer header (filter.h) */
export const SKF_NET_OFF = -0x100000;
/** Negative LD_ABS offsets from here address the link-layer header (filter.h). */
export const SKF_LL_OFF = -0x200000;

// Field extraction, as the BPF_CLASS()/BPF_OP()/... macros.
/** Opcode field extraction, as the kernel macro of the same name: code & 0x07. */
export const BPF_CLASS = (code: number): number => code & 0x07;
/** Opcode field extraction, as the kernel macro of the same name: code & 0x18. */
export const BPF_SIZE = (code: number): number => code & 0x18;
/** Opcode field extraction, as the kernel macro of the same name: code & 0xe0. */
export const BPF_MODE = (code: number): number => code & 0xe0;
/** Opcode field extraction, as the kernel macro of the same name: code & 0xf0. */
export const BPF_OP = (code: number): number => code & 0xf0;
/** Opcode field extraction, as the kernel macro of the same name: code & 0x08. */
export const BPF_SRC = (code: number): number => code & 0x08;

/** Bytes moved by a load/store of the given size field. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}

/**
 * The shape of an opcode: which family it belongs to, hence which fields
 * mean what. `undefined` for a byte that is no eBPF opcode.
 */
export type Shape =
  | 'alu'      // ALU/ALU64 binary op or mov, K or X
  | 'neg'      // ALU/ALU64 NEG (K only)
  | 'end'      // byte swap: 0xd4/0xdc (to le/be), 0xd7 (unconditional)
  | 'ja'       // JMP | JA: pc += off
  | 'ja32'     // JMP32 | JA: gotol, pc += imm
  | 'jcond'    // conditional jump, JMP or JMP32, K or X
  | 'call'     // JMP | CALL | K: helper (src 0) or local call (src 1)
  | 'callx'    // JMP | CALL | X: call the helper whose id is in dst
  | 'exit'
  | 'lddw'     // LD | IMM | DW, two slots
  | 'ldabs'    // LD | ABS, W/H/B
  | 'ldind'    // LD | IND, W/H/B
  | 'ldx'      // LDX | MEM
  | 'ldsx'     // LDX | MEMSX, W/H/B
  | 'st'       // ST | MEM
  | 'stx'      // STX | MEM
  | 'atomic';  // STX | ATOMIC, W/DW

const SHAPES: (Shape | undefined)[] = new Array(256).fill(undefined);

function initShapes(): void {
  for (const cls of [BPF_ALU, BPF_ALU64]) {
    for (let op = BPF_ADD; op <= BPF_ARSH; op += 0x10) {
      if (op === BPF_NEG) {
        SHAPES[cls | op | BPF_K] = 'neg';
        continue;
      }
      SHAPES[cls | op | BPF_K] = 'alu';
      SHAPES[cls | op | BPF_X] = 'alu';
    }
  }
  SHAPES[BPF_ALU | BPF_END | BPF_TO_LE] = 'end';
  SHAPES[BPF_ALU | BPF_END | BPF_TO_BE] = 'end';
  SHAPES[BPF_ALU64 | BPF_END | BPF_TO_LE] = 'end';
  const condOps = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
  for (const cls of [BPF_JMP, BPF_JMP32]) {
    for (const op of condOps) {
      SHAPES[cls | op | BPF_K] = 'jcond';
      SHAPES[cls | op | BPF_X] = 'jcond';
    }
  }
  SHAPES[BPF_JMP | BPF_JA] = 'ja';
  SHAPES[BPF_JMP32 | BPF_JA] = 'ja32';
  SHAPES[BPF_JMP | BPF_CALL | BPF_K] = 'call';
  SHAPES[BPF_JMP | BPF_CALL | BPF_X] = 'callx';
  SHAPES[BPF_JMP | BPF_EXIT] = 'exit';
  SHAPES[BPF_LD | BPF_IMM | BPF_DW] = 'lddw';
  for (const size of [BPF_W, BPF_H, BPF_B]) {
    SHAPES[BPF_LD | BPF_ABS | size] = 'ldabs';
    SHAPES[BPF_LD | BPF_IND | size] = 'ldind';
    SHAPES[BPF_LDX | BPF_MEMSX | size] = 'ldsx';
  }
  for (const size of [BPF_W, BPF_H, BPF_B, BPF_DW]) {
    SHAPES[BPF_LDX | BPF_MEM | size] = 'ldx';
    SHAPES[BPF_ST | BPF_MEM | size] = 'st';
    SHAPES[BPF_STX | BPF_MEM | size] = 'stx';
  }
  SHAPES[BPF_STX | BPF_ATOMIC | BPF_W] = 'atomic';
  SHAPES[BPF_STX | BPF_ATOMIC | BPF_DW] = 'atomic';
}
initShapes();

/** The shape of an opcode byte (which fields mean what), undefined for a byte that is no eBPF opcode. */
export function opcodeShape(code: number): Shape | undefined {
  return SHAPES[code & 0xff];
}

/** Every valid opcode byte, ascending. */
export const VALID_OPCODES: readonly number[] = SHAPES.flatMap((s, code) => (s === undefined ? [] : [code]));

/** The imm values an atomic instruction may carry. */
export const ATOMIC_OPS: readonly number[] = [
  BPF_ADD, BPF_ADD | BPF_FETCH, BPF_OR, BPF_OR | BPF_FETCH, BPF_AND, BPF_AND | BPF_FETCH,
  BPF_XOR, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
];

/** True for the 32-bit classes (ALU, JMP32) whose operands are the low halves. */
export function is32(code: number): boolean {
  const cls = BPF_CLASS(code);
  return cls === BPF_ALU || cls === BPF_JMP32;
}

/**
 * The jump condition with its operands swapped: `a > b` is `b < a`. JEQ,
 * JNE and JSET read the same both ways and come back unchanged.
 */
export function swapJmpOperands(op: number): number {
  switch (op) {
    case BPF_JGT: return BPF_JLT;
    case BPF_JLT: return BPF_JGT;
    case BPF_JGE: return BPF_JLE;
    case BPF_JLE: return BPF_JGE;
    case BPF_JSGT: return BPF_JSLT;
    case BPF_JSLT: return BPF_JSGT;
    case BPF_JSGE: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGE;
    default: return op;
  }
}
