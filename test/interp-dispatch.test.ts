/**
 * The interpreter's dispatch keeps literal opcode bytes as case labels (a
 * dense switch V8 turns into one jump table; named constants there cost
 * nothing at run time but hide the byte the table is indexed by). So that
 * the literals cannot lie, each case names its instruction in a comment,
 * and this test reads src/vm/interpreter.ts and checks every such comment
 * against the disassembler: the comment must begin with the disassembly of
 * the opcode with symbolic operands (dst, src, off, imm), e.g.
 * `case 0x61: // dst = *(u32 *)(src +off)`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { disasmInsn } from '../src/isa/disasm.js';
import type { Instruction } from '../src/isa/instruction.js';
import { BPF_DIV, BPF_MOD, BPF_MOV, BPF_OP, opcodeShape, VALID_OPCODES } from '../src/isa/opcodes.js';
import { projectRoot } from './conformance-data.js';

/** Operand values no disassembly prints otherwise, replaced by their names. */
const OFF = 0x1234;
const IMM = 0x5555;
const IMM2 = 0x6666;

/** The disassembly of `code` with symbolic operands: what the case's comment must begin with. */
function symbolic(code: number): string {
  const shape = opcodeShape(code);
  if (shape === undefined) throw new Error(`0x${code.toString(16)} is no opcode`);
  const insn: Instruction = { code, dst: 1, src: 2, off: OFF, imm: IMM };
  // the forms one case covers are told apart by fields; the symbolic form is the plain one:
  // a helper call, a plain ld_imm64 constant, atomic add, unsigned div/mod, mov without sign extension
  if (shape === 'call' || shape === 'lddw') insn.src = 0;
  if (shape === 'lddw') insn.imm2 = IMM2;
  if (shape === 'atomic' || shape === 'neg') insn.imm = 0;
  const op = BPF_OP(code);
  if (shape === 'alu' && (op === BPF_DIV || op === BPF_MOD || op === BPF_MOV)) insn.off = 0;
  const text = disasmInsn(insn).replace(/^\([0-9a-f]{2}\) /, '');
  return text
    .replace(`0x${((BigInt(IMM2) << 32n) | BigInt(IMM)).toString(16)}`, 'imm64')
    .replace(new RegExp(`(le|be|bswap)${IMM}\\b`, 'g'), '$1<imm>')
    .replace(/\br1\b/g, 'dst')
    .replace(/\br2\b/g, 'src')
    .replace(new RegExp(`\\+${OFF}\\b`, 'g'), '+off')
    .replace(new RegExp(`\\b(${IMM}|0x${IMM.toString(16)})\\b`, 'g'), 'imm');
}

interface Case {
  line: number;
  code: number;
  comment: string | undefined;
}

/** The case labels of the dispatch switch of loopInner, up to the generated fused cases. */
function dispatchCases(): Case[] {
  const src = readFileSync(join(projectRoot(), 'src', 'vm', 'interpreter.ts'), 'utf8');
  const lines = src.split('\n');
  const start = lines.findIndex((l) => l.includes('private loopInner'));
  const sw = lines.findIndex((l, i) => i > start && l.includes('switch (w & 0xff) {'));
  const end = lines.findIndex((l, i) => i > sw && l.includes('BEGIN GENERATED: fused cases'));
  assert.ok(start > 0 && sw > start && end > sw, 'the dispatch switch of loopInner is where this test looks for it');
  const out: Case[] = [];
  for (let i = sw + 1; i < end; i++) {
    const labels = [...lines[i]!.matchAll(/case 0x([0-9a-f]{2}):/g)];
    if (labels.length === 0) continue;
    assert.equal(labels.length, 1, `interpreter.ts:${i + 1}: one case label per line, so each has its comment`);
    const after = lines[i]!.slice(labels[0]!.index! + labels[0]![0].length).trimStart();
    const comment = /^\/\/ ?(.*)$/.exec(after)?.[1] ?? /^\/\* ?(.*?) ?\*\//.exec(after)?.[1];
    out.push({ line: i + 1, code: parseInt(labels[0]![1]!, 16), comment });
  }
  return out;
}

test('the symbolic disassembly reads as the instruction', () => {
  assert.equal(symbolic(0x07), 'dst += imm');
  assert.equal(symbolic(0x0c), '(u32) dst += (u32) src');
  assert.equal(symbolic(0x18), 'dst = imm64');
  assert.equal(symbolic(0x61), 'dst = *(u32 *)(src +off)');
  assert.equal(symbolic(0x7a), '*(u64 *)(dst +off) = imm');
  assert.equal(symbolic(0x48), 'r0 = *(u16 *)skb[src + imm]');
  assert.equal(symbolic(0xdc), 'dst = be<imm> dst');
  assert.equal(symbolic(0x1e), 'if (u32) dst == (u32) src goto pc+off');
  assert.equal(symbolic(0x06), 'gotol pc+imm');
  assert.equal(symbolic(0x85), 'call imm');
  assert.equal(symbolic(0x8d), 'callx dst');
  assert.equal(symbolic(0xdb), 'lock *(u64 *)(dst +off) += src');
});

test("each case of the interpreter's dispatch names its instruction as the disassembler does", () => {
  const cases = dispatchCases();
  const wrong: string[] = [];
  for (const c of cases) {
    // the other keys are the interpreter's own (specialised shifts, the fell-off sentinel, 0 for the jump table)
    if (opcodeShape(c.code) === undefined) continue;
    const want = symbolic(c.code);
    const ok = c.comment !== undefined && (c.comment === want || c.comment.startsWith(`${want};`) || c.comment.startsWith(`${want},`));
    if (!ok) wrong.push(`interpreter.ts:${c.line}: case 0x${c.code.toString(16).padStart(2, '0')}: // ${want}   (has: ${c.comment === undefined ? 'no comment' : `// ${c.comment}`})`);
  }
  assert.deepEqual(wrong, []);
});

test("every opcode has one case of its own in the interpreter's dispatch", () => {
  const codes = dispatchCases().map((c) => c.code).filter((c) => opcodeShape(c) !== undefined);
  assert.equal(new Set(codes).size, codes.length, 'no opcode has two cases');
  assert.deepEqual([...codes].sort((x, y) => x - y), [...VALID_OPCODES]);
});
