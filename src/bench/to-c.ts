/**
 * The native baseline of the benchmark: an eBPF program transliterated
 * statement by statement into C, the way a JIT translates it. Registers are
 * uint64_t locals the C compiler may optimise freely; each eBPF load and
 * store stays one machine load or store (through a volatile pointer), as in
 * the kernel's JIT output. Covers what the benchmark workloads use: ALU and
 * ALU64, byte swaps, ld_imm64, LDX/ST/STX, JA/JMP/JMP32 and EXIT.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { constant64 } from '../isa/instruction.js';
import {
  BPF_ALU, BPF_ALU64, BPF_CLASS, BPF_JMP, BPF_JMP32, BPF_LDX, BPF_OP, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX,
  BPF_X, sizeBytes,
} from '../isa/opcodes.js';

const ALU_C: Record<number, string> = { 0x00: '+', 0x10: '-', 0x20: '*', 0x40: '|', 0x50: '&', 0xa0: '^', 0x60: '<<', 0x70: '>>' };
const JMP_C: Record<number, [string, boolean]> = {
  0x10: ['==', false], 0x50: ['!=', false], 0x20: ['>', false], 0x30: ['>=', false], 0xa0: ['<', false], 0xb0: ['<=', false],
  0x60: ['>', true], 0x70: ['>=', true], 0xc0: ['<', true], 0xd0: ['<=', true],
};

/** The body of `uint64_t NAME(uint8_t *ctx, uint64_t len)`. */
export function toC(name: string, insns: readonly Instruction[]): string {
  const lines: string[] = [];
  const slotOf: number[] = [];
  let slot = 0;
  for (const i of insns) {
    slotOf.push(slot);
    slot += i.code === 0x18 ? 2 : 1;
  }
  lines.push(`__attribute__((noinline)) uint64_t ${name}(uint8_t *ctx, uint64_t len) {`);
  lines.push('  uint64_t stack[64];');
  lines.push('  uint64_t r0 = 0, r1 = (uint64_t)(uintptr_t)ctx, r2 = len, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0, r8 = 0, r9 = 0;');
  lines.push('  uint64_t r10 = (uint64_t)(uintptr_t)(stack + 64);');
  insns.forEach((insn, idx) => {
    const pc = slotOf[idx]!;
    const d = `r${insn.dst}`;
    const s = `r${insn.src}`;
    const cls = BPF_CLASS(insn.code);
    const op = BPF_OP(insn.code);
    const x = BPF_SRC(insn.code) === BPF_X;
    let stmt: string;
    if (insn.code === 0x18) stmt = `${d} = 0x${constant64(insn).toString(16)}ull;`;
    else if (cls === BPF_ALU64 || cls === BPF_ALU) {
      const is64 = cls === BPF_ALU64;
      const src = x ? (is64 ? s : `(uint32_t)${s}`) : is64 ? `(uint64_t)(int64_t)${insn.imm}` : `(uint32_t)${insn.imm}`;
      const dst = is64 ? d : `(uint32_t)${d}`;
      const wrap = (e: string): string => (is64 ? `${d} = ${e};` : `${d} = (uint32_t)(${e});`);
      if (op === 0xd0) {
        const w = insn.imm;
        const swap = insn.code === 0xd4 ? (w === 64 ? d : `(uint${w}_t)${d}`) : w === 16 ? `__builtin_bswap16((uint16_t)${d})` : `__builtin_bswap${w}((uint${w}_t)${d})`;
        stmt = `${d} = ${swap};`;
      } else if (op === 0xb0) stmt = wrap(src);
      else if (op === 0x80) stmt = wrap(`-${dst}`);
      else if (op === 0xc0) stmt = is64 ? `${d} = (uint64_t)((int64_t)${d} >> (${src} & 63));` : `${d} = (uint32_t)((int32_t)${dst} >> (${src} & 31));`;
      else if (op === 0x60 || op === 0x70) stmt = wrap(`${dst} ${ALU_C[op]} (${src} & ${is64 ? 63 : 31})`);
      else if (op === 0x30) stmt = wrap(`${src} ? ${dst} / ${src} : 0`);
      else if (op === 0x90) stmt = wrap(`${src} ? ${dst} % ${src} : ${dst}`);
      else stmt = wrap(`${dst} ${ALU_C[op]} ${src}`);
    } else if (cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) {
      const bits = sizeBytes(BPF_SIZE(insn.code)) * 8;
      const base = cls === BPF_LDX ? s : d;
      const mem = `*(volatile uint${bits}_t *)(uintptr_t)(${base} + ${insn.off})`;
      if (cls === BPF_LDX) stmt = `${d} = ${mem};`;
      else stmt = `${mem} = ${cls === BPF_STX ? s : `(uint${bits}_t)${insn.imm}`};`;
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      const target = `L${pc + insn.off + 1}`;
      if (insn.code === 0x95) stmt = 'return r0;';
      else if (insn.code === 0x05) stmt = `goto ${target};`;
      else {
        const is32 = cls === BPF_JMP32;
        const ty = JMP_C[op];
        const t = is32 ? 'int32_t' : 'int64_t';
        const u = is32 ? 'uint32_t' : 'uint64_t';
        const a = ty?.[1] ? `(${t})${d}` : `(${u})${d}`;
        const bRaw = x ? s : `(uint64_t)(int64_t)${insn.imm}`;
        const b = ty?.[1] ? `(${t})${bRaw}` : `(${u})${bRaw}`;
        if (op === 0x40) stmt = `if ((${u})${d} & (${u})${bRaw}) goto ${target};`;
        else if (ty) stmt = `if (${a} ${ty[0]} ${b}) goto ${target};`;
        else throw new BpfError('EINVAL', `insn ${pc}: the C baseline has no translation for opcode 0x${insn.code.toString(16)}`);
      }
    } else {
      throw new BpfError('EINVAL', `insn ${pc}: the C baseline has no translation for opcode 0x${insn.code.toString(16)}`);
    }
    lines.push(`L${pc}: ${stmt}`);
  });
  lines.push(`L${slot}: return r0;`);
  lines.push('}');
  return lines.join('\n');
}
