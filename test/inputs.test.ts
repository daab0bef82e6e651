/**
 * The verifier as the only judge of the instructions (issue 15, point 2):
 * program inputs (loader/input.ts) become raw slots that go to
 * BPF_PROG_LOAD as they are. Every case of 3.19's test_verifier table gets
 * the same verdict, errno and log through `tsbpf verify` (a JSON program
 * spec on standard input, main() in process) as through
 * sys.bpf('BPF_PROG_LOAD'), junk instructions included; the disassembler
 * prints junk slots raw; programInput reads every input format as a library.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import type { Slot } from '../src/isa/instruction.js';
import { encodeSlots, slotHex, slotsToInstructions } from '../src/isa/instruction.js';
import { disasmSlots } from '../src/isa/disasm.js';
import { detectFormat, programInput } from '../src/loader/input.js';
import { CASES, slotsOf } from './verifier-cases.js';
import type { VerifierCase } from './verifier-cases.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Program } from '../src/api/program.js';
import { tsbpf } from './cli-harness.js';
import { expectErr } from './expect-error.js';
import { projectRoot } from './conformance-data.js';

const LOG_SIZE = 1 << 22;

/** The case as a JSON program spec: test_verifier's map (hash, 8-byte keys and values, 1024 entries) for its fixups. */
function specOf(c: VerifierCase): string {
  const fixup = c.fixup ?? [];
  return JSON.stringify({
    prog_type: 'unspec',
    insns: slotHex(encodeSlots(slotsOf(c.insns))),
    maps: fixup.length > 0 ? [{ type: 'hash', key_size: 8, value_size: 8, max_entries: 1024 }] : [],
    fixups: fixup.map((slot) => [slot, 0]),
  });
}

interface Verdict {
  accepted: boolean;
  code: string | null;
  message: string | null;
  log: string;
}

/** sys.bpf('BPF_PROG_LOAD') on the case, as verifier-kernel.test.ts loads it. */
function kernelVerdict(c: VerifierCase): Verdict {
  const sys = new BpfSystem();
  const slots: Slot[] = slotsOf(c.insns);
  if (c.fixup && c.fixup.length > 0) {
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 8, value_size: 8, max_entries: 1024 });
    for (const i of c.fixup) {
      slots[i]!.src = 1;
      slots[i]!.imm = fd;
    }
  }
  const buf = new Uint8Array(LOG_SIZE);
  try {
    sys.bpf('BPF_PROG_LOAD', { prog_type: 0, insns: encodeSlots(slots), license: 'GPL', log_level: 1, log_size: LOG_SIZE, log_buf: buf });
    const end = buf.indexOf(0);
    return { accepted: true, code: null, message: null, log: new TextDecoder().decode(buf.subarray(0, end)) };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { accepted: false, code: e.code, message: e.message, log: e.log ?? '' };
  }
}

/** Whether the strict decoder (which the CLI used to apply before the verifier) refuses the case's slots. */
function strictlyUndecodable(c: VerifierCase): boolean {
  try {
    slotsToInstructions(slotsOf(c.insns));
    return false;
  } catch {
    return true;
  }
}

describe('3.19 test_verifier through the CLI equals BPF_PROG_LOAD', () => {
  test('the 14 cases a strict decode used to refuse are in the table', () => {
    assert.deepEqual(CASES.filter(strictlyUndecodable).map((c) => c.descr), [
      'test3 ld_imm64', 'test4 ld_imm64', 'test5 ld_imm64', 'read invalid register', 'invalid src register in STX',
      'invalid dst register in STX', 'invalid dst register in ST', 'invalid src register in LDX', 'invalid dst register in LDX',
      'junk insn', 'junk insn2', 'junk insn3', 'junk insn4', 'junk insn5',
    ]);
    assert.equal(CASES.filter(strictlyUndecodable).length, 14);
  });

  CASES.forEach((c, i) => {
    test(`#${i} ${c.descr}`, async () => {
      const want = kernelVerdict(c);
      assert.equal(want.accepted, c.result === 'ACCEPT', want.log);
      const json = await tsbpf(['verify', '-', '--json'], specOf(c));
      assert.deepEqual(JSON.parse(json.stdout), { accepted: want.accepted, code: want.code, log: want.log });
      const text = await tsbpf(['verify', '-'], specOf(c));
      if (want.accepted) {
        assert.equal(text.status, 0);
        assert.equal(text.stderr, '');
        assert.equal(text.stdout, `${want.log}accepted: ${slotsOf(c.insns).length} instructions\n`);
      } else {
        assert.equal(text.status, 1);
        assert.equal(text.stdout, want.log);
        assert.equal(text.stderr, `tsbpf: -: ${want.message} (${want.code})\n`);
      }
    });
  });
});

/** A spec of these hex slots. */
const spec = (insns: string[], progType = 'unspec'): string => JSON.stringify({ prog_type: progType, insns });
const EXIT = '9500000000000000';
const MOV0 = 'b700000000000000';

describe('tsbpf verify: junk instructions get 3.19 messages and logs, exit 1', () => {
  const cases: [name: string, insns: string[], log: string, message: string][] = [
    ['register r15', ['bff0000000000000', EXIT], '0: (bf) r0 = r15\nR15 is invalid\n', 'insn 0: R15 is invalid'],
    ['a reserved field of LDX', ['7910000001000000', EXIT], '0: (79) r0 = *(u64 *)(r1 +0)\nBPF_LDX uses reserved fields\n', 'insn 0: BPF_LDX uses reserved fields'],
    ['ALU opcode 0xf0', ['f400000000000000', EXIT], '0: (f4) (u32) r0 BUG_alu_f0 (u32) 0\ninvalid BPF_ALU opcode f0\n', 'insn 0: invalid BPF_ALU opcode f0'],
    ['an ld_imm64 with a bad second slot', ['1800000001000000', 'b700000000000000', EXIT], 'invalid bpf_ld_imm64 insn\n', 'invalid bpf_ld_imm64 insn'],
    ['an ld_imm64 cut off by the end', [MOV0, EXIT, '1800000001000000'], 'invalid bpf_ld_imm64 insn\n', 'invalid bpf_ld_imm64 insn'],
    ['BPF_LD_IMM of another size', ['0000000000000000', EXIT], '0: (00) r0 = 0x0\ninvalid BPF_LD_IMM insn\n', 'insn 0: invalid BPF_LD_IMM insn'],
  ];
  for (const [name, insns, log, message] of cases) {
    test(name, async () => {
      const r = await tsbpf(['verify', '-'], spec(insns));
      assert.equal(r.stdout, log);
      assert.equal(r.stderr, `tsbpf: -: ${message} (EINVAL)\n`);
      assert.equal(r.status, 1);
    });
  }

  test('run of a raw file with junk: the verifier answers (exit 1), not the reader (exit 2)', async () => {
    const unk = Buffer.from('b700000007000000ff00000000000000', 'hex');
    const r = await tsbpf(['run', '-'], new Uint8Array(unk));
    assert.equal(r.stdout, 'jump out of range from insn 1 to 2\n');
    assert.equal(r.stderr, 'tsbpf: -: jump out of range from insn 1 to 2 (EINVAL)\n');
    assert.equal(r.status, 1);
    const trunc = await tsbpf(['run', '-'], new Uint8Array(Buffer.from('1800000007000000', 'hex')));
    assert.equal(trunc.stdout, 'invalid bpf_ld_imm64 insn\n');
    assert.equal(trunc.stderr, 'tsbpf: -: invalid bpf_ld_imm64 insn (EINVAL)\n');
    assert.equal(trunc.status, 1);
  });

  test('only what bpf() refuses before the verifier is refused before it: over 4095 slots', async () => {
    const r = await tsbpf(['verify', '-'], spec(Array.from({ length: 4096 }, () => MOV0)));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'tsbpf: -: insn_cnt 4096 is over the limit of 4095 (EINVAL)\n');
    assert.equal(r.status, 1);
  });
});

describe('disasm of junk slots prints them raw', () => {
  test('each junk slot as its hex with the reason; the slots after it on their own', async () => {
    const insns = ['bff0000000000000', 'ff00000000000000', '1800000001000000', MOV0, '1800000002000000', '0000000003000000', 'f400000000000000', '1800000007000000'];
    const r = await tsbpf(['disasm', '-'], spec(insns));
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, [
      '0: (bf) raw bff0000000000000  ; invalid register r15',
      '1: (ff) raw ff00000000000000  ; unknown opcode 0xff',
      '2: (18) raw 1800000001000000  ; ld_imm64 whose second slot is not code 0 with only imm set',
      '3: (b7) r0 = 0',
      '4: (18) r0 = 0x300000002',
      '6: (f4) raw f400000000000000  ; unknown opcode 0xf4',
      '7: (18) raw 1800000007000000  ; ld_imm64 without its second slot',
      '',
    ].join('\n'));
  });

  test('disasmSlots of sound slots is disasm of their instructions', () => {
    const slots = programInput('r1 = 0x100000002\nr0 = 1\nexit\n').slots;
    assert.equal(disasmSlots(slots), '0: (18) r1 = 0x100000002\n2: (b7) r0 = 1\n3: (95) exit\n');
    assert.equal(disasmSlots([]), '');
  });
});

describe('programInput as a library', () => {
  test('formats by content; slots as given', () => {
    assert.equal(detectFormat(new Uint8Array(Buffer.from('bff0000000000000', 'hex'))), 'raw');
    const raw = programInput(new Uint8Array(Buffer.from('bff0000000000000' + EXIT, 'hex')));
    assert.deepEqual(raw, {
      format: 'raw', progType: 'socket_filter', license: 'GPL', maps: [], fixups: [],
      slots: [{ code: 0xbf, dst: 0, src: 15, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    });
    const asm = programInput('mov %r0, 2\nexit\n');
    assert.equal(asm.format, 'asm');
    assert.deepEqual(asm.slots, [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    const cbpf = programInput('{ 0x6, 0, 0, 0x00040000 },\n');
    assert.equal(cbpf.format, 'cbpf');
    assert.deepEqual(cbpf.classic, [{ code: 6, jt: 0, jf: 0, k: 0x40000 }]);
    const s = programInput(JSON.stringify({ prog_type: 'unspec', license: 'MIT', insns: ['1810000000000000', '0000000000000000', EXIT], maps: [{ type: 'array', key_size: 4, value_size: 8, max_entries: 1, name: 'counts' }], fixups: [[0, 0]] }));
    assert.deepEqual(s, {
      format: 'spec', progType: 'unspec', license: 'MIT', fixups: [[0, 0]],
      maps: [{ name: 'counts', type: 'array', key_size: 4, value_size: 8, max_entries: 1 }],
      slots: [{ code: 0x18, dst: 0, src: 1, off: 0, imm: 0 }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
    });
  });

  test('what is not a program is refused with one line', () => {
    expectErr(() => programInput(new Uint8Array(3).fill(0xff)), 'EINVAL', 'program length 3 is not a multiple of 8 bytes');
    expectErr(() => programInput(''), 'EINVAL', 'the program has no instructions');
    expectErr(() => programInput(null as unknown as string), 'EINVAL', 'a program input must be a Uint8Array or a string, got null');
    expectErr(() => programInput(JSON.stringify({ insns: [EXIT], maps: [{ type: 'hash', key_size: 4, value_size: 4, max_entries: 1, name: 'a\nb' }] })), 'EINVAL', 'maps[0].name must be a string of printable characters');
    expectErr(() => programInput(JSON.stringify({ insns: [MOV0, '1800000000000000'], maps: [{ type: 'hash', key_size: 4, value_size: 4, max_entries: 1 }], fixups: [[1, 0]] })), 'EINVAL', 'fixup [1, 0]: the ld_imm64 at slot 1 has no second slot');
  });
});

describe('Program.load takes every input the CLI takes', () => {
  const ipv4 = (proto: number, len: number): Uint8Array => {
    const f = new Uint8Array(len);
    f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45], 0);
    f[23] = proto;
    return f;
  };

  test('an ELF object: its type, license and maps; the Program owns the maps', () => {
    const sys = new BpfSystem();
    const obj = new Uint8Array(readFileSync(join(projectRoot(), 'examples', 'proto-count.o')));
    const p = Program.load(sys, { insns: obj, section: 'count' });
    assert.equal(p.verified, true);
    assert.deepEqual(Object.keys(p.maps), ['proto_count']);
    p.run(ipv4(6, 60));
    p.run(ipv4(6, 40));
    const v = p.maps['proto_count']!.lookup(Uint8Array.of(6, 0, 0, 0))!;
    assert.deepEqual([new DataView(v.buffer).getBigUint64(0, true), new DataView(v.buffer).getBigUint64(8, true)], [2n, 100n]);
    const map = p.maps['proto_count']!;
    p.close();
    expectErr(() => map.lookup(Uint8Array.of(6, 0, 0, 0)), 'EBADF', 'map proto_count is closed');
  });

  test('assembly, tcpdump -dd text, raw slots, classic sock_filter bytes', () => {
    const sys = new BpfSystem();
    assert.equal(Program.load(sys, { insns: 'r0 = 7\nexit\n' }).run(), 7n);
    assert.equal(Program.load(sys, { insns: 'mov %r0, 9\nexit\n' }).run(), 9n);
    assert.equal(Program.load(sys, { insns: '{ 0x6, 0, 0, 0x00000044 },\n' }).run(new Uint8Array(14)), 0x44n);
    assert.equal(Program.load(sys, { insns: '1\n6 0 0 85\n' }).run(new Uint8Array(14)), 85n);
    assert.equal(Program.load(sys, { insns: new Uint8Array(Buffer.from('b7000000030000009500000000000000', 'hex')) }).run(), 3n);
    assert.equal(Program.load(sys, { insns: Uint8Array.of(6, 0, 0, 0, 5, 0, 0, 0), classic: true }).run(new Uint8Array(14)), 5n);
  });

  test('a JSON program spec: its type and maps by name; a failed load closes the maps it created', () => {
    const sys = new BpfSystem();
    const text = JSON.stringify({
      prog_type: 'unspec',
      maps: [{ type: 'array', key_size: 4, value_size: 8, max_entries: 1, name: 'counts' }],
      // r1 = map; *(u32 *)(r10 - 4) = 0; r2 = r10 - 4; call lookup; if r0 == 0 goto exit; *(u64 *)(r0 + 0) = 5; r0 = 0; exit
      insns: ['1801000000000000', '0000000000000000', '620afcff00000000', 'bfa2000000000000', '07020000fcffffff', '8500000001000000', '1500010000000000', '7a00000005000000', 'b700000000000000', EXIT],
      fixups: [[0, 0]],
    });
    const p = Program.load(sys, { insns: text });
    assert.equal(p.object.prog.type.name, 'unspec');
    assert.equal(p.run(new Uint8Array(16)), 0n);
    assert.deepEqual(p.maps['counts']!.lookup(new Uint8Array(4)), Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0));
    p.close();
    const junk = JSON.stringify({ maps: [{ type: 'hash', key_size: 4, value_size: 4, max_entries: 1 }], insns: ['1801000000000000', '0000000000000000', 'bff0000000000000', EXIT], fixups: [[0, 0]] });
    const before = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 1 });
    sys.close(before);
    assert.throws(() => Program.load(sys, { insns: junk, logLevel: 1 }), (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.message, 'insn 2: R15 is invalid');
      assert.match(e.log ?? '', /^0: \(18\) r1 = 0x[0-9a-f]+\n2: \(bf\) r0 = r15\nR15 is invalid\n$/);
      return true;
    });
    // the map created for the spec was closed: its fd is the next one again
    assert.equal(sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 1 }), before);
  });

  test('junk raw slots reach the verifier', () => {
    expectErr(() => Program.load(new BpfSystem(), { insns: new Uint8Array(Buffer.from('f400000000000000' + EXIT, 'hex')) }), 'EINVAL', 'insn 0: invalid BPF_ALU opcode f0');
    expectErr(() => Program.load(new BpfSystem(), { insns: 42 as unknown as string }), 'EINVAL', 'insns must be instructions, a Uint8Array (raw slots, an ELF object, classic BPF) or text (assembly, a JSON program spec, tcpdump -dd), got 42');
  });
});
