/**
 * Wrong bpf() attributes, table-driven (issue 13, findings 7 and 8): for
 * every command, every field given every kind of wrong value answers a
 * BpfError with the kernel's errno and one exact line, never a TypeError.
 * Each row starts from a valid attr of the command and changes one field.
 * Also: wrong commands and attrs, instruction arrays (null, holes, wrong
 * field types), close() and testRun() arguments, and the same values through
 * the Program and BpfMap wrappers.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD, testRun } from '../src/api/bpf.js';
import type { BpfCmdName } from '../src/api/bpf.js';
import { BpfMap, u32 } from '../src/api/map.js';
import { Program } from '../src/api/program.js';
import { PacketRunner } from '../src/api/packets.js';
import { BpfError, ERRNO } from '../src/errors.js';
import type { ErrnoCode } from '../src/errors.js';

const EXIT = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
const MOV0 = { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 };

/** A system with one 4-byte-key, 8-byte-value hash map (fd 3) holding key 0. */
function system(): BpfSystem {
  const sys = new BpfSystem();
  sys.bpf(0, { map_type: 1, key_size: 4, value_size: 8, max_entries: 4 });
  sys.bpf(2, { map_fd: 3, key: new Uint8Array(4), value: new Uint8Array(8) });
  return sys;
}

/** A valid attr per command, against system(). */
function valid(cmd: number): Record<string, unknown> {
  switch (cmd) {
    case 0: return { map_type: 1, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0 };
    case 1: return { map_fd: 3, key: new Uint8Array(4), value: new Uint8Array(8) };
    case 2: return { map_fd: 3, key: new Uint8Array(4), value: new Uint8Array(8), flags: 0 };
    case 3: return { map_fd: 3, key: new Uint8Array(4) };
    case 4: return { map_fd: 3, key: Uint8Array.of(1, 0, 0, 0), next_key: new Uint8Array(4) };
    default: return { prog_type: 1, insn_cnt: 2, insns: [MOV0, EXIT], license: 'GPL', log_level: 1, log_size: 256, log_buf: new Uint8Array(256) };
  }
}

const NAMES = ['BPF_MAP_CREATE', 'BPF_MAP_LOOKUP_ELEM', 'BPF_MAP_UPDATE_ELEM', 'BPF_MAP_DELETE_ELEM', 'BPF_MAP_GET_NEXT_KEY', 'BPF_PROG_LOAD'];

function caught(f: () => unknown): BpfError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof BpfError, `expected a BpfError, got ${err === undefined ? 'no error' : String(err)}`);
  return err;
}

function expectErr(f: () => unknown, code: ErrnoCode, message: string, command?: string): void {
  const e = caught(f);
  assert.equal(`${e.code} ${e.message}`, `${code} ${message}`);
  assert.equal(e.errno, -ERRNO[code]);
  assert.equal(e.message.includes('\n'), false, 'one line');
  if (command !== undefined) assert.equal(e.command, command);
}

/** Wrong values of every JavaScript kind, with how a message shows them. */
const WRONG: [value: unknown, shown: string][] = [
  ['1', "'1' (a string)"],
  ['', "'' (a string)"],
  [1.5, '1.5'],
  [NaN, 'NaN'],
  [Infinity, 'Infinity'],
  [-Infinity, '-Infinity'],
  [2 ** 53, '9007199254740992'],
  [1e308, '1e+308'],
  [1n, '1n'],
  [1n << 70n, '1180591620717411303424n'],
  [true, 'true'],
  [{}, 'an object'],
  [Object.create(null), 'an object'],
  [[], 'an array'],
  [[null], 'an array'],
  [new ArrayBuffer(8), 'an ArrayBuffer'],
  [new Uint32Array(2), 'a Uint32Array'],
  [Symbol('s'), 'a symbol'],
  [() => 0, 'a function'],
  [new Date(0), 'a Date'],
];

type Row = [cmd: number, field: string, value: unknown, code: ErrnoCode, message: string];
const rows: Row[] = [];

// MAP_CREATE: four u32 fields (any 32-bit pattern, -2^31..2^32-1), then the map's own checks
for (const f of ['map_type', 'key_size', 'value_size', 'max_entries', 'map_flags']) {
  for (const [v, shown] of WRONG) rows.push([0, f, v, 'EINVAL', `${f} must be a 32-bit integer, got ${shown}`]);
  rows.push([0, f, 2 ** 32, 'EINVAL', `${f} must be a 32-bit integer, got 4294967296`]);
  rows.push([0, f, -(2 ** 31) - 1, 'EINVAL', `${f} must be a 32-bit integer, got -2147483649`]);
}
rows.push(
  [0, 'map_type', 9, 'EINVAL', 'map type lru_hash (9) is not supported (supported: hash, array)'],
  [0, 'map_type', 5, 'EINVAL', 'map type percpu_hash (5) is not supported (supported: hash, array)'],
  [0, 'map_type', 0, 'EINVAL', 'map type unspec (0) is not supported (supported: hash, array)'],
  [0, 'map_type', 33, 'EINVAL', 'map type arena (33) is not supported (supported: hash, array)'],
  [0, 'map_type', 34, 'EINVAL', 'unknown map type 34 (supported: hash, array)'],
  [0, 'map_type', -1, 'EINVAL', 'unknown map type 4294967295 (supported: hash, array)'],
  [0, 'key_size', 0, 'EINVAL', 'invalid hash map: key_size, value_size and max_entries must be non-zero'],
  [0, 'value_size', 0, 'EINVAL', 'invalid hash map: key_size, value_size and max_entries must be non-zero'],
  [0, 'max_entries', 0, 'EINVAL', 'invalid hash map: key_size, value_size and max_entries must be non-zero'],
  [0, 'key_size', 0xffffffff, 'E2BIG', 'hash map key_size 4294967295 exceeds 512'],
  [0, 'value_size', 0xffffffff, 'ENOMEM', 'hash map of 4 x 4294967304 bytes does not fit in memory'],
  [0, 'max_entries', 0xffffffff, 'ENOMEM', 'hash map of 4294967295 x 16 bytes does not fit in memory'],
  [0, 'map_flags', 7, 'EINVAL', 'map_flags 7 is not supported (3.19 has no map flags)'],
);

// the map commands: map_fd, then the buffers, then flags
for (const cmd of [1, 2, 3, 4]) {
  for (const [v, shown] of WRONG) rows.push([cmd, 'map_fd', v, 'EBADF', `map_fd ${shown} is not a file descriptor`]);
  rows.push(
    [cmd, 'map_fd', -1, 'EBADF', 'map_fd -1 is not a file descriptor'],
    [cmd, 'map_fd', 2 ** 32, 'EBADF', 'map_fd 4294967296 is not a file descriptor'],
    [cmd, 'map_fd', 9, 'EBADF', 'fd 9 is not open'],
    [cmd, 'map_fd', 1, 'EINVAL', 'fd 1 is not a bpf object'],
  );
  const buffers = cmd === 1 || cmd === 2 ? ['key', 'value'] : cmd === 3 ? ['key'] : ['key', 'next_key'];
  for (const f of buffers) {
    for (const [v, shown] of WRONG) rows.push([cmd, f, v, 'EFAULT', `${f} must be a Uint8Array, got ${shown}`]);
    rows.push([cmd, f, new Uint8Array(3), 'EFAULT', `${f} has 3 bytes, the map needs ${f === 'value' ? 8 : 4}`]);
    // absent: a NULL pointer (GET_NEXT_KEY takes no key as "the first key", an extension)
    if (!(cmd === 4 && f === 'key')) rows.push([cmd, f, null, 'EFAULT', `${f} must be a Uint8Array, got null`]);
  }
}
for (const [v, shown] of WRONG) {
  if (v === 1n) continue;
  const bigint = typeof v === 'bigint';
  rows.push([2, 'flags', v, 'EINVAL', bigint ? `flags ${shown} does not fit in 64 bits` : `flags must be a safe integer or a bigint, got ${shown}`]);
}
rows.push(
  [2, 'flags', 1n, 'EEXIST', 'the key exists (BPF_NOEXIST)'],
  [2, 'flags', 3, 'EINVAL', 'invalid flags'],
  [2, 'flags', -(2n ** 63n) - 1n, 'EINVAL', 'flags -9223372036854775809n does not fit in 64 bits'],
  [1, 'flags', 1, 'EINVAL', "field 'flags' is not used by BPF_MAP_LOOKUP_ELEM and must be zero"],
  [3, 'value', new Uint8Array(8), 'EINVAL', "field 'value' is not used by BPF_MAP_DELETE_ELEM and must be zero"],
);

// PROG_LOAD, in 3.19's order: license, insn_cnt, insns, prog_type, then the log attributes
for (const f of ['prog_type', 'insn_cnt', 'log_level', 'log_size']) {
  for (const [v, shown] of WRONG) rows.push([5, f, v, 'EINVAL', `${f} must be an unsigned 32-bit integer, got ${shown}`]);
  rows.push([5, f, -1, 'EINVAL', `${f} must be an unsigned 32-bit integer, got -1`]);
  rows.push([5, f, 2 ** 32, 'EINVAL', `${f} must be an unsigned 32-bit integer, got 4294967296`]);
}
for (const [v, shown] of WRONG) {
  // a license is a string ('' too) or bytes; insns bytes or an array; log_buf bytes
  if (typeof v !== 'string') rows.push([5, 'license', v, 'EFAULT', `license must be a string or a Uint8Array, got ${shown}`]);
  if (!Array.isArray(v)) rows.push([5, 'insns', v, 'EFAULT', `insns must be a Uint8Array or an array of instructions, got ${shown}`]);
  rows.push([5, 'log_buf', v, 'EFAULT', `log_buf must be a Uint8Array, got ${shown}`]);
}
rows.push(
  [5, 'insns', null, 'EFAULT', 'insns must be a Uint8Array or an array of instructions, got null'],
  [5, 'insns', [], 'EFAULT', 'insns has 0 instructions, insn_cnt says 2'],
  [5, 'insn_cnt', 0, 'E2BIG', 'the program has no instructions'],
  [5, 'insn_cnt', 3, 'EFAULT', 'insns has 2 instructions, insn_cnt says 3'],
  [5, 'insn_cnt', 4096, 'EINVAL', 'insn_cnt 4096 is over the limit of 4095'],
  [5, 'insn_cnt', 0xffffffff, 'EINVAL', 'insn_cnt 4294967295 is over the limit of 4095'],
  [5, 'prog_type', 7, 'EINVAL', 'program type perf_event (7) is not supported (supported: socket_filter, unspec, mem)'],
  [5, 'prog_type', 6, 'EINVAL', 'program type xdp (6) is not supported (supported: socket_filter, unspec, mem)'],
  [5, 'prog_type', 32, 'EINVAL', 'program type netfilter (32) is not supported (supported: socket_filter, unspec, mem)'],
  [5, 'prog_type', 33, 'EINVAL', 'unknown program type 33 (supported: socket_filter, unspec, mem)'],
  [5, 'log_size', 127, 'EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log'],
  [5, 'log_size', 2 ** 24, 'EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log'],
  [5, 'log_size', 512, 'EFAULT', 'log_buf has 256 bytes, log_size says 512'],
  [5, 'log_level', 0, 'EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log'],
  [5, 'log_buf', null, 'EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log'],
  [5, 'log_buf', 0, 'EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log'],
  [5, 'log_buf', 5, 'EFAULT', 'log_buf must be a Uint8Array, got 5'],
  [5, 'log_buf', [0], 'EFAULT', 'log_buf must be a Uint8Array, got an array'],
  [5, 'key', new Uint8Array(8), 'EINVAL', "field 'key' is not used by BPF_PROG_LOAD and must be zero"],
);

// the instructions of an array, one wrong element or field at a time
const insnRows: [label: string, insns: unknown[], code: ErrnoCode, message: string][] = [
  ['[null]', [null], 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got null'],
  ['a hole', [MOV0, , EXIT], 'EINVAL', 'insns[1] must be an instruction { code, dst, src, off, imm }, got a hole (sparse array)'],
  ['new Array(3)', new Array(3), 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got a hole (sparse array)'],
  ['undefined', [MOV0, undefined], 'EINVAL', 'insns[1] must be an instruction { code, dst, src, off, imm }, got undefined'],
  ['a number', [149], 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got 149'],
  ['a string', ['exit'], 'EINVAL', "insns[0] must be an instruction { code, dst, src, off, imm }, got 'exit' (a string)"],
  ['an array', [[0x95, 0, 0, 0, 0]], 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got an array'],
  ['bytes', [new Uint8Array(8)], 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got a Uint8Array'],
  ['{}', [{}], 'EINVAL', 'insns[0]: code must be an integer in 0..255, got undefined'],
  ['code a string', [{ ...EXIT, code: '0x95' }], 'EINVAL', "insns[0]: code must be an integer in 0..255, got '0x95' (a string)"],
  ['code 256', [{ ...EXIT, code: 256 }], 'EINVAL', 'insns[0]: code must be an integer in 0..255, got 256'],
  ['code NaN', [MOV0, { ...EXIT, code: NaN }], 'EINVAL', 'insns[1]: code must be an integer in 0..255, got NaN'],
  ['dst 16', [{ ...MOV0, dst: 16 }, EXIT], 'EINVAL', 'insns[0]: dst must be an integer in 0..15, got 16'],
  ['dst -1', [{ ...MOV0, dst: -1 }, EXIT], 'EINVAL', 'insns[0]: dst must be an integer in 0..15, got -1'],
  ['src 1.5', [{ ...MOV0, src: 1.5 }, EXIT], 'EINVAL', 'insns[0]: src must be an integer in 0..15, got 1.5'],
  ['off missing', [{ code: 0xb7, dst: 0, src: 0, imm: 0 }, EXIT], 'EINVAL', 'insns[0]: off must be an integer in -32768..65535, got undefined'],
  ['off 65536', [{ ...MOV0, off: 65536 }, EXIT], 'EINVAL', 'insns[0]: off must be an integer in -32768..65535, got 65536'],
  ['imm 1e10', [{ ...MOV0, imm: 1e10 }, EXIT], 'EINVAL', 'insns[0]: imm must be an integer in -2147483648..4294967295, got 10000000000'],
  ['imm a bigint', [{ ...MOV0, imm: 1n }, EXIT], 'EINVAL', 'insns[0]: imm must be an integer in -2147483648..4294967295, got 1n'],
  ['imm a string', [{ ...MOV0, imm: '3' }, EXIT], 'EINVAL', "insns[0]: imm must be an integer in -2147483648..4294967295, got '3' (a string)"],
  ['imm2 a string', [{ code: 0x18, dst: 0, src: 0, off: 0, imm: 0, imm2: 'x' }, EXIT], 'EINVAL', "insns[0]: imm2 must be an integer in -2147483648..4294967295, got 'x' (a string)"],
  ['imm2 off ld_imm64', [{ ...MOV0, imm2: 1 }, EXIT], 'EINVAL', 'insns[0]: imm2 is for ld_imm64 (opcode 0x18) only'],
  ['5000 instructions', new Array(5000).fill(EXIT), 'EINVAL', 'insns has more than the limit of 4095 instruction slots'],
];

describe('bpf() with wrong attributes: one BpfError with the exact errno and line', () => {
  for (const cmd of [0, 1, 2, 3, 4, 5]) {
    test(`${NAMES[cmd]}: ${rows.filter((r) => r[0] === cmd).length} rows`, () => {
      // the valid attr is valid: each row's error is the changed field's
      assert.ok(system().bpf(cmd, valid(cmd)) >= 0);
      for (const [c, field, value, code, message] of rows) {
        if (c !== cmd) continue;
        const attr = { ...valid(cmd), [field]: value };
        try {
          expectErr(() => system().bpf(cmd, attr), code, message, NAMES[cmd]);
        } catch (e) {
          throw new Error(`${NAMES[cmd]} ${field} = ${typeof value === 'symbol' ? 'symbol' : typeof value === 'bigint' ? `${value}n` : Array.isArray(value) ? 'array' : String(typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : value)}: ${(e as Error).message}`);
        }
      }
    });
  }

  test('BPF_PROG_LOAD: instruction arrays with null, holes and mistyped fields', () => {
    for (const [label, insns, code, message] of insnRows) {
      const attr = { prog_type: 1, insns, license: 'GPL' };
      try {
        expectErr(() => system().bpf(5, attr), code, message, 'BPF_PROG_LOAD');
        // the unverified path reads the instructions the same way
        expectErr(() => system().loadUnverified(attr as never), code, message, 'BPF_PROG_LOAD');
        expectErr(() => Program.load(system(), { insns: insns as never }), code, message, 'BPF_PROG_LOAD');
      } catch (e) {
        throw new Error(`${label}: ${(e as Error).message}`);
      }
    }
  });

  test('instructions past insn_cnt are never read; either reading of imm and off is the same bit pattern', () => {
    const sys = system();
    const fd = sys.bpf(5, { prog_type: 1, insn_cnt: 2, insns: [{ ...MOV0, imm: 7 }, EXIT, null, 'junk'], license: 'GPL' });
    assert.equal(testRun(sys, fd).retval, 7n);
    const neg = sys.bpf(5, { prog_type: 1, insns: [{ ...MOV0, imm: 0xffffffff }, EXIT], license: 'GPL' });
    assert.equal(testRun(sys, neg).retval, 0xffffffffffffffffn);
    // off 0xffff is -1: 'if r0 == 0 goto -1' would loop; the verifier sees the back-edge
    expectErr(() => sys.bpf(5, { prog_type: 1, insns: [MOV0, { code: 0x15, dst: 0, src: 0, off: 0xffff, imm: 0 }, EXIT], license: 'GPL' }), 'EINVAL', 'back-edge from insn 1 to 1', 'BPF_PROG_LOAD');
  });

  test('wrong commands and attrs', () => {
    const sys = system();
    expectErr(() => sys.bpf(6, {}), 'EINVAL', 'unknown command 6', '6');
    expectErr(() => sys.bpf(NaN, {}), 'EINVAL', 'unknown command NaN', 'NaN');
    expectErr(() => sys.bpf('toString' as BpfCmdName, {}), 'EINVAL', "unknown command 'toString' (a string)", 'toString');
    expectErr(() => sys.bpf('__proto__' as BpfCmdName, {}), 'EINVAL', "unknown command '__proto__' (a string)", '__proto__');
    expectErr(() => sys.bpf(null as unknown as number, {}), 'EINVAL', 'unknown command null', 'null');
    expectErr(() => sys.bpf(Symbol('x') as unknown as number, {}), 'EINVAL', 'unknown command a symbol', 'a symbol');
    expectErr(() => sys.bpf(5, { prog_type: 1, insns: [], license: 'GPL' }), 'E2BIG', 'the program has no instructions', 'BPF_PROG_LOAD');
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_CREATE, null as unknown as object), 'EFAULT', 'attr must be an object, got null', 'BPF_MAP_CREATE');
    expectErr(() => sys.bpf('BPF_PROG_LOAD', 'attr' as unknown as object), 'EFAULT', "attr must be an object, got 'attr' (a string)", 'BPF_PROG_LOAD');
    expectErr(() => sys.bpf(1, Uint8Array.of(1)), 'EINVAL', "field '0' is not used by BPF_MAP_LOOKUP_ELEM and must be zero", 'BPF_MAP_LOOKUP_ELEM');
  });
});

describe('close(), testRun() and the wrappers take only what they document', () => {
  test("close('3') is EBADF and leaves fd 3 open; so are other non-numbers", () => {
    const sys = system();
    for (const [v, shown] of [['3', "'3' (a string)"], [3.5, '3.5'], [-1, '-1'], [3n, '3n'], [null, 'null'], [[3], 'an array'], [{ valueOf: () => 3 }, 'an object']] as const) {
      expectErr(() => sys.close(v as unknown as number), 'EBADF', `fd ${shown} is not a file descriptor (a non-negative integer)`, 'close');
    }
    assert.deepEqual(sys.fds(), [{ fd: 3, kind: 'map', id: 1 }]);
    sys.close(3);
    assert.deepEqual(sys.fds(), []);
    expectErr(() => sys.close(3), 'EBADF', 'fd 3 is not open', 'close');
  });

  test('testRun: a non-buffer data, a bad repeat or engine is EINVAL', () => {
    const sys = system();
    const fd = sys.bpf(5, { prog_type: 1, insns: [MOV0, EXIT], license: 'GPL' });
    expectErr(() => testRun(sys, fd, 'abc' as unknown as Uint8Array), 'EINVAL', "data must be a Uint8Array, got 'abc' (a string)");
    expectErr(() => testRun(sys, fd, [1, 2] as unknown as Uint8Array), 'EINVAL', 'data must be a Uint8Array, got an array');
    expectErr(() => testRun(sys, fd, new Uint8Array(14), 0), 'EINVAL', 'repeat must be a positive integer, got 0');
    expectErr(() => testRun(sys, fd, new Uint8Array(14), '2' as unknown as number), 'EINVAL', "repeat must be a positive integer, got '2' (a string)");
    expectErr(() => testRun(sys, fd, new Uint8Array(14), 1, 'wasm' as never), 'EINVAL', "unknown engine 'wasm' (a string) (jit, interpreter, jit-hardened)");
    expectErr(() => testRun(sys, '4' as unknown as number), 'EBADF', "prog_fd '4' (a string) is not a file descriptor");
  });

  test('PacketRunner: packets of the wrong type are EINVAL', () => {
    const sys = system();
    const fd = sys.bpf(5, { prog_type: 1, insns: [MOV0, EXIT], license: 'GPL' });
    const r = new PacketRunner(sys, fd, 'interpreter');
    expectErr(() => r.run(null as unknown as Uint8Array), 'EINVAL', 'data must be a Uint8Array, got null');
    expectErr(() => r.run(new Uint8Array(20), 1.5), 'EINVAL', 'data: netOff must be -1 or a non-negative integer, got 1.5');
    expectErr(() => r.runBatch([{ data: new Uint8Array(20), netOff: 14 }, null as never]), 'EINVAL', 'packet 1 must be an object { data, netOff }');
    expectErr(() => r.runBatch([{ data: 'x' as never, netOff: 14 }]), 'EINVAL', "packet 0 must be a Uint8Array, got 'x' (a string)");
    expectErr(() => r.runBatch({} as never), 'EINVAL', 'packets must be an array of { data, netOff }');
    expectErr(() => new PacketRunner(sys, fd, 'wasm' as never), 'EINVAL', "unknown engine 'wasm' (a string) (jit, interpreter, jit-hardened)");
    assert.equal(r.run(new Uint8Array(20), 14), 0);
    r.close();
  });

  test('BpfMap and Program pass wrong values on as the same errors', () => {
    const sys = system();
    const m = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 2 }, { key: u32 });
    expectErr(() => m.update(0, 'abc' as unknown as Uint8Array), 'EINVAL', 'value must be a Uint8Array of 8 bytes (this map has no value codec), got string');
    expectErr(() => m.update(0, new Uint8Array(3)), 'EINVAL', "value of 3 bytes, the map's values have 8");
    const raw = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 2 });
    expectErr(() => raw.lookup(0 as never), 'EINVAL', 'key must be a Uint8Array of 4 bytes (this map has no key codec), got number');
    expectErr(() => raw.update(new Uint8Array(4), 7 as never), 'EINVAL', 'value must be a Uint8Array of 8 bytes (this map has no value codec), got number');
    expectErr(() => m.update(0, new Uint8Array(8), 'sometimes' as never), 'EINVAL', "unknown update flag 'sometimes' (any, noexist, exist)");
    expectErr(() => m.lookup(1.5), 'EINVAL', '1.5 is not an integer');
    expectErr(() => m.lookup(Object.create(null)), 'EINVAL', 'an object is not an integer');
    expectErr(() => BpfMap.create(sys, null as never), 'EINVAL', 'a map spec must be an object { type, keySize, valueSize, maxEntries }, got null');
    expectErr(() => BpfMap.create(sys, { type: 'lru' as never, keySize: 4, valueSize: 8, maxEntries: 2 }), 'EINVAL', "unknown map type 'lru' (supported: hash, array)");
    expectErr(() => BpfMap.create(sys, { type: 'lru_hash' as never, keySize: 4, valueSize: 8, maxEntries: 2 }), 'EINVAL', 'map type lru_hash (9) is not supported (supported: hash, array)');
    expectErr(() => BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 2 }, null as never), 'EINVAL', 'codecs must be an object { key, value }, got null');
    expectErr(() => Program.load(sys, 'r0 = 0\nexit' as never), 'EINVAL', "a program spec must be an object { type, insns, license }, got 'r0 = 0\\nexit' (a string)");
    expectErr(() => Program.load(sys, { type: 7 as never, insns: [MOV0, EXIT] }), 'EINVAL', 'unknown program type 7 (supported: socket_filter, unspec, mem)');
    expectErr(() => Program.load(sys, { type: 'xdp' as never, insns: [MOV0, EXIT] }), 'EINVAL', 'program type xdp (6) is not supported (supported: socket_filter, unspec, mem)');
    expectErr(() => Program.load(sys, { insns: [MOV0, EXIT], license: 5 as never }), 'EFAULT', 'license must be a string or a Uint8Array, got 5', 'BPF_PROG_LOAD');
    expectErr(() => BpfMap.create(sys, { type: 'array', keySize: '4' as never, valueSize: 8, maxEntries: 2 }), 'EINVAL', "key_size must be a 32-bit integer, got '4' (a string)", 'BPF_MAP_CREATE');
    expectErr(() => Program.load(sys, { insns: [null] as never }), 'EINVAL', 'insns[0] must be an instruction { code, dst, src, off, imm }, got null', 'BPF_PROG_LOAD');
    expectErr(() => Program.load(sys, { insns: [MOV0, EXIT], logLevel: 1, logSize: -5 }), 'EINVAL', 'log_size must be an unsigned 32-bit integer, got -5', 'BPF_PROG_LOAD');
    m.close();
  });
});
