/**
 * Bad input at the library level: decode(), encode(), assemble() and the
 * Interpreter constructor must refuse it with a BpfError carrying the right
 * errno (never a TypeError or an InternalError), and a message that says why.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError, ERRNO } from '../src/errors.js';
import type { ErrnoCode } from '../src/errors.js';
import { assemble, decode, encode, VALID_OPCODES } from '../src/isa/index.js';
import type { Instruction, Slot } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { Interpreter } from '../src/vm/interpreter.js';

/** Assert that f throws a BpfError with this code whose message contains every word; returns it. */
function throwsBpf(f: () => unknown, code: ErrnoCode, words: (string | RegExp)[] = []): BpfError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, 'expected a BpfError, nothing was thrown');
  assert.ok(caught instanceof BpfError, `expected a BpfError, got ${String(caught)}`);
  assert.equal(caught.name, 'BpfError');
  assert.equal(caught.code, code);
  assert.equal(caught.errno, -ERRNO[code]);
  assert.ok(caught.errno < 0);
  assert.equal(caught.syscall, 'bpf');
  for (const w of words) {
    if (typeof w === 'string') assert.ok(caught.message.includes(w), `'${w}' in '${caught.message}'`);
    else assert.match(caught.message, w);
  }
  return caught;
}

/** One 8-byte slot: opcode, dst, src, off, imm in the kernel's little-endian layout. */
function slot(code: number, dst = 0, src = 0, off = 0, imm = 0): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = code;
  b[1] = (dst & 0xf) | ((src & 0xf) << 4);
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const EXIT = slot(0x95);

describe('decode()', () => {
  test('a length that is not a multiple of 8', () => {
    for (const n of [1, 7, 9, 15]) {
      throwsBpf(() => decode(concat(EXIT, EXIT).subarray(0, n)), 'EINVAL', [`length ${n}`, 'multiple of 8']);
    }
  });

  test('every byte that is not a valid opcode is EINVAL naming the slot and the opcode', () => {
    const valid = new Set(VALID_OPCODES);
    let invalid = 0;
    for (let code = 0; code < 256; code++) {
      if (valid.has(code)) continue;
      invalid++;
      const hex = code.toString(16).padStart(2, '0');
      throwsBpf(() => decode(concat(slot(0xb7), slot(code), EXIT)), 'EINVAL', ['slot 1', `unknown opcode 0x${hex}`]);
    }
    assert.ok(invalid > 0 && invalid < 256);
  });

  test('no valid opcode is reported as unknown', () => {
    for (const code of VALID_OPCODES) {
      try {
        const second = code === 0x18 ? [slot(0)] : []; // ld_imm64 takes two slots
        decode(concat(slot(code), ...second, EXIT));
      } catch (e) {
        assert.ok(e instanceof BpfError, `opcode 0x${code.toString(16)}: ${String(e)}`);
        assert.ok(!e.message.includes('unknown opcode'), e.message);
      }
    }
  });

  const cases: { name: string; bytes: Uint8Array; words: string[] }[] = [
    ...[11, 12, 13, 14, 15].map((r) => ({
      name: `dst register r${r}`,
      bytes: concat(slot(0xb7, r, 0, 0, 1), EXIT),
      words: ['slot 0', `invalid register r${r}`],
    })),
    ...[11, 15].map((r) => ({
      name: `src register r${r}`,
      bytes: concat(slot(0xbf, 0, r), EXIT),
      words: ['slot 0', `invalid register r${r}`],
    })),
    { name: 'div with off=2', bytes: concat(slot(0x37, 1, 0, 2, 3), EXIT), words: ['slot 0', 'offset 2', 'div'] },
    { name: 'mod with off=-1', bytes: concat(slot(0x9f, 1, 2, -1), EXIT), words: ['slot 0', 'offset -1', 'mod'] },
    { name: 'END with imm 8', bytes: concat(slot(0xd4, 1, 0, 0, 8), EXIT), words: ['slot 0', 'byte swap', '8'] },
    { name: 'END with imm 0', bytes: concat(slot(0xdc, 1, 0, 0, 0), EXIT), words: ['slot 0', 'byte swap'] },
    { name: 'atomic with imm 0x02', bytes: concat(slot(0xdb, 10, 1, -8, 0x02), EXIT), words: ['slot 0', 'atomic', '0x2'] },
    {
      name: 'ld_imm64 whose second slot has a non-zero opcode',
      bytes: concat(slot(0x18, 1, 0, 0, 1), slot(0xb7, 0, 0, 0, 2), EXIT),
      words: ['slot 1', 'second slot of ld_imm64'],
    },
    {
      name: 'ld_imm64 whose second slot has a register set',
      bytes: concat(slot(0x18, 1, 0, 0, 1), slot(0, 1, 0, 0, 2), EXIT),
      words: ['slot 1', 'second slot of ld_imm64'],
    },
    {
      name: 'ld_imm64 with no second slot',
      bytes: slot(0x18, 1, 0, 0, 1),
      words: ['slot 0', 'ld_imm64', 'second slot'],
    },
    {
      name: 'ld_imm64 after other instructions with no second slot',
      bytes: concat(slot(0xb7), EXIT, slot(0x18, 1, 0, 0, 1)),
      words: ['slot 2', 'ld_imm64', 'second slot'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      throwsBpf(() => decode(c.bytes), 'EINVAL', c.words);
    });
  }
});

describe('encode()', () => {
  const MOV: Instruction = { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 };
  const cases: { name: string; insn: Partial<Record<keyof Instruction, unknown>>; words: string[] }[] = [
    { name: 'code 256', insn: { code: 256 }, words: ['opcode', '256'] },
    { name: 'code -1', insn: { code: -1 }, words: ['opcode', '-1'] },
    { name: 'dst -1', insn: { dst: -1 }, words: ['dst', '-1'] },
    { name: 'dst 16', insn: { dst: 16 }, words: ['dst', '16'] },
    { name: 'src 16', insn: { src: 16 }, words: ['src', '16'] },
    { name: 'off 40000', insn: { off: 40000 }, words: ['offset', '40000'] },
    { name: 'off -32769', insn: { off: -32769 }, words: ['offset', '-32769'] },
    { name: 'imm 2**31', insn: { imm: 2 ** 31 }, words: ['imm', '2147483648'] },
    { name: 'imm -(2**31) - 1', insn: { imm: -(2 ** 31) - 1 }, words: ['imm', '-2147483649'] },
    { name: 'imm 1.5', insn: { imm: 1.5 }, words: ['imm', '1.5'] },
    { name: 'imm NaN', insn: { imm: NaN }, words: ['imm', 'NaN'] },
    { name: 'imm as a string', insn: { imm: '1' }, words: ['imm'] },
    { name: 'imm as a bigint', insn: { imm: 1n }, words: ['imm'] },
    { name: 'imm missing', insn: { imm: undefined }, words: ['imm'] },
    { name: 'ld_imm64 imm2 2**32', insn: { code: 0x18, imm2: 2 ** 32 }, words: ['imm2'] },
  ];
  for (const c of cases) {
    test(`out-of-range field: ${c.name}`, () => {
      const bad = { ...MOV, ...c.insn } as unknown as Instruction;
      throwsBpf(() => encode([MOV, bad]), 'EINVAL', ['instruction 1', ...c.words]);
    });
  }

  test('a valid program still encodes', () => {
    assert.deepEqual(encode([{ ...MOV, imm: -1 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]), concat(slot(0xb7, 0, 0, 0, -1), EXIT));
  });
});

describe('assemble()', () => {
  const cases: { name: string; source: string; line: number; words: string[] }[] = [
    { name: 'unknown mnemonic', source: 'frob %r0, 1', line: 1, words: ['unknown instruction', 'frob'] },
    { name: 'register r11', source: 'mov %r11, 1', line: 1, words: ['invalid register r11'] },
    { name: 'register r11 as source', source: 'mov %r0, %r11', line: 1, words: ['invalid register r11'] },
    { name: 'register r11 in kernel syntax', source: 'r11 = 1', line: 1, words: ['r11'] },
    { name: 'missing operand', source: 'mov %r0', line: 1, words: ['mov', '2 operands', 'got 1'] },
    { name: 'extra operand', source: 'exit %r0', line: 1, words: ['exit', '0 operands'] },
    { name: 'immediate too wide', source: 'mov %r0, 0x100000000', line: 1, words: ['0x100000000', '32 bits'] },
    { name: '64-bit immediate too wide', source: 'lddw %r0, 0x10000000000000000', line: 1, words: ['64 bits'] },
    { name: 'offset too wide', source: 'ldxw %r0, [%r1+40000]', line: 1, words: ['40000', '16 bits'] },
    { name: 'bad memory operand', source: 'ldxw %r0, %r1', line: 1, words: ['memory operand'] },
    { name: 'jump offset too wide', source: 'ja +40000', line: 1, words: ['16 bits'] },
    { name: 'opcode hint does not match', source: '(bf) r0 = 1', line: 1, words: ['(bf)', '(b7)'] },
    { name: 'undefined label', source: 'ja nowhere\nexit', line: 1, words: ["undefined label 'nowhere'"] },
    { name: 'label defined twice', source: 'a:\nexit\na:\nexit', line: 3, words: ["label 'a'", 'twice'] },
    {
      name: 'line numbers count blank lines, comments and labels',
      source: [
        '# a comment',
        '',
        'mov %r0, 1        ; fine',
        'start:',
        '    add %r0, 2    // fine',
        '',
        '    mov %r12, 1',
        'exit',
      ].join('\n'),
      line: 7,
      words: ['invalid register r12', "'mov %r12, 1'"],
    },
    {
      name: 'line numbers with CRLF line endings',
      source: 'mov %r0, 1\r\nexit\r\nfrob\r\n',
      line: 3,
      words: ['frob'],
    },
    {
      name: 'an undefined label is reported at the line that uses it',
      source: 'mov %r0, 0\n\njeq %r0, 0, done\nmov %r0, 1\nexit\n',
      line: 3,
      words: ["undefined label 'done'"],
    },
    {
      name: 'mixed dialects: kernel syntax error after conformance lines',
      source: 'mov %r0, 0\nr0 += 1\nr0 = *(u64 *)(r1 +8\nexit',
      line: 3,
      words: ['unknown instruction'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = throwsBpf(() => assemble(c.source), 'EINVAL', c.words);
      assert.ok(e.message.startsWith(`line ${c.line}: `), `'line ${c.line}: ' starts '${e.message}'`);
    });
  }
});

describe('Interpreter constructor', () => {
  const make = (slots: Slot[]): Interpreter => {
    const rt = new Runtime();
    return new Interpreter(rt.mem, slots, { checked: true, helpers: rt.helpers, regions: rt.regions });
  };
  const s = (code: number, dst = 0, src = 0, off = 0, imm = 0): Slot => ({ code, dst, src, off, imm });

  test('an empty program', () => {
    throwsBpf(() => make([]), 'EINVAL', ['empty']);
  });

  const outOfRange: { name: string; slots: Slot[]; words: string[] }[] = [
    { name: 'ja forward past the end', slots: [s(0x95), s(0x05, 0, 0, 5)], words: ['jump out of range', 'insn 1', '7'] },
    { name: 'ja backward before the start', slots: [s(0x05, 0, 0, -2), s(0x95)], words: ['jump out of range', 'insn 0', '-1'] },
    { name: 'conditional jump past the end', slots: [s(0x15, 1, 0, 10), s(0x95)], words: ['jump out of range'] },
    {
      name: 'a jump into the middle of an ld_imm64',
      slots: [s(0x05, 0, 0, 1), s(0x18, 0, 0, 0, 1), s(0, 0, 0, 0, 0), s(0x95)],
      words: ['jump out of range', 'insn 0', '2'],
    },
    { name: 'gotol past the end', slots: [s(0x06, 0, 0, 0, 100), s(0x95)], words: ['jump out of range'] },
    { name: 'local call past the end', slots: [s(0x85, 0, 1, 0, 100), s(0x95)], words: ['jump out of range'] },
  ];
  for (const c of outOfRange) {
    test(`a jump out of range: ${c.name}`, () => {
      throwsBpf(() => make(c.slots), 'EINVAL', c.words);
    });
  }

  test('an unknown opcode', () => {
    throwsBpf(() => make([s(0xff), s(0x95)]), 'EINVAL', ['insn 0', 'unknown opcode 0xff']);
  });

  test('a truncated ld_imm64', () => {
    throwsBpf(() => make([s(0x95), s(0x18, 0, 0, 0, 1)]), 'EINVAL', ['insn 1', 'ld_imm64']);
  });

  test('a valid program constructs and runs', () => {
    assert.equal(make([s(0xb7, 0, 0, 0, 42), s(0x95)]).run().r0, 42n);
  });
});
