/**
 * End-to-end tests of the `tsbpf` command (../shared/docs/CLI.md): each test
 * runs the command (in process, through main(); a few through bin/tsbpf.js as
 * a process of its own) and checks exit status, stdout and the one-line
 * stderr error format `tsbpf: <context>: <message> (<ERRNO>)`.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, spawnTsbpf, tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-test-');

let fileCounter = 0;
/** Write a temp file and return its absolute path. */
function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, `${fileCounter++}-${name}`);
  writeFileSync(path, content);
  return path;
}

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

/** Success: exit 0, nothing on stderr. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await tsbpf(args, input);
  assert.equal(r.stderr, '', `stderr of tsbpf ${args.join(' ')}`);
  assert.equal(r.status, 0);
  return r.stdout;
}

/**
 * A failure: the given exit status and exactly one stderr line, of the form
 * `tsbpf: ...: message (ERRNO)`, with no stack trace. Returns that line.
 */
async function fails(args: string[], status: number, errno: string, input?: string): Promise<string> {
  const r = await tsbpf(args, input);
  assert.ok(!r.stderr.includes('    at '), `stack trace on stderr:\n${r.stderr}`);
  assert.equal(r.status, status, `exit status of tsbpf ${args.join(' ')}; stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.pop(), '', 'stderr ends with a newline');
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
  const line = lines[0]!;
  assert.match(line, /^tsbpf: .+ \(E[A-Z0-9]+\)$/);
  assert.ok(line.endsWith(` (${errno})`), `expected (${errno}): ${line}`);
  return line;
}

// Programs used throughout.
const MOV42_CONF = 'mov %r0, 42\nexit\n';
const MOV42_KERNEL = 'r0 = 42\nexit\n';
const RAW7 = 'b700000007000000 9500000000000000';
const SPEC7 = { insns: ['b700000007000000', '9500000000000000'] };

interface RunJson {
  retval: number | string;
  duration_ns: number;
  runs: number;
  maps: unknown[];
}

async function runJson(args: string[]): Promise<RunJson> {
  const out = await ok(['run', ...args, '--json']);
  assert.ok(out.endsWith('\n') && out.indexOf('\n') === out.length - 1, `one JSON line: ${out}`);
  const j = JSON.parse(out) as RunJson;
  assert.deepEqual(Object.keys(j).sort(), ['duration_ns', 'maps', 'retval', 'runs']);
  assert.equal(typeof j.duration_ns, 'number');
  assert.ok(Number.isFinite(j.duration_ns) && j.duration_ns >= 0, `duration_ns ${j.duration_ns}`);
  assert.deepEqual(j.maps, []);
  return j;
}

describe('usage', () => {
  test('--help exits 0 and lists the commands', async () => {
    const lines = (await ok(['--help'])).split('\n');
    for (const prefix of [
      '  tsbpf run PROG [--data HEX | --data-file FILE | --pcap FILE] [--repeat N] [--json]',
      '  tsbpf disasm PROG ',
      '  tsbpf asm FILE [-o OUT] ',
      '  tsbpf conformance-plugin ',
    ]) {
      assert.ok(lines.some((l) => l.startsWith(prefix)), `usage line '${prefix}'`);
    }
  });

  test('no arguments exits 2', async () => {
    assert.equal((await tsbpf([])).status, 2);
  });
});

describe('run', () => {
  test('conformance dialect, human output', async () => {
    const out = await ok(['run', file('a.s', MOV42_CONF)]);
    const [retval, runs, end, ...rest] = out.split('\n');
    assert.equal(retval, 'retval  0x2a (42)');
    assert.match(runs!, /^runs {4}1 × \d+(\.\d+)? (ns|µs|ms) \(verified, WebAssembly JIT\)$/);
    assert.equal(end, '');
    assert.deepEqual(rest, []);
  });

  test('kernel syntax, human output', async () => {
    const out = await ok(['run', file('k.s', MOV42_KERNEL)]);
    assert.equal(out.split('\n')[0], 'retval  0x2a (42)');
  });

  test('a 64-bit result in human output shows unsigned and signed', async () => {
    const out = await ok(['run', file('big.s', 'lddw %r0, 0xffffffffffffffff\nexit\n')]);
    assert.equal(out.split('\n')[0], 'retval  0xffffffffffffffff (18446744073709551615 = -1)');
  });

  const jsonCases: { name: string; args: () => string[]; retval: number | string; runs?: number }[] = [
    { name: 'conformance dialect', args: () => [file('a.s', MOV42_CONF)], retval: 42 },
    { name: 'kernel syntax', args: () => [file('k.s', MOV42_KERNEL)], retval: 42 },
    {
      name: '--data is the packet LD_ABS reads',
      args: () => [file('d.s', 'mov %r6, %r1\nldabsb 1\nexit\n'), '--data', '00 2a'],
      retval: 42,
    },
    {
      name: '--data without spaces',
      args: () => [file('d.s', 'mov %r6, %r1\nldabsb 1\nexit\n'), '--data', '002a'],
      retval: 42,
    },
    {
      name: '--data-file',
      args: () => [file('d.s', 'mov %r6, %r1\nldabsb 1\nexit\n'), '--data-file', file('data.bin', bytes('00 2a'))],
      retval: 42,
    },
    {
      name: '--unverified: the context holds the length, the packet follows it',
      args: () => [file('d.s', 'ldxw %r0, [%r1+0]\nldxb %r2, [%r1+9]\nadd %r0, %r2\nexit\n'), '--data', '00 28', '--unverified'],
      retval: 42,
    },
    { name: '--repeat 5', args: () => [file('a.s', MOV42_CONF), '--repeat', '5'], retval: 42, runs: 5 },
    {
      name: 'a result above 2^53 is a decimal string',
      args: () => [file('big.s', 'lddw %r0, 0xffffffffffffffff\nexit\n')],
      retval: '18446744073709551615',
    },
    {
      name: '2^53 is a decimal string',
      args: () => [file('b53.s', 'lddw %r0, 0x20000000000000\nexit\n')],
      retval: '9007199254740992',
    },
    { name: '2^53 - 1 is a number', args: () => [file('b53m1.s', 'lddw %r0, 0x1fffffffffffff\nexit\n')], retval: 2 ** 53 - 1 },
    { name: 'raw binary', args: () => [file('p.bin', bytes(RAW7))], retval: 7 },
    { name: 'JSON program spec', args: () => [file('p.json', JSON.stringify(SPEC7))], retval: 7 },
    {
      name: 'JSON program spec with prog_type unspec',
      args: () => [file('p.json', JSON.stringify({ prog_type: 'unspec', ...SPEC7 }))],
      retval: 7,
    },
  ];
  for (const c of jsonCases) {
    test(`--json: ${c.name}`, async () => {
      const j = await runJson(c.args());
      assert.equal(j.retval, c.retval);
      assert.equal(j.runs, c.runs ?? 1);
    });
  }

  test('program on stdin with "-"', async () => {
    const out = await ok(['run', '-', '--json'], MOV42_CONF);
    assert.equal((JSON.parse(out) as RunJson).retval, 42);
  });

  test('program on stdin with "-", piped into the tsbpf process', async () => {
    const r = spawnTsbpf(['run', '-', '--json'], MOV42_CONF);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal((JSON.parse(r.stdout) as RunJson).retval, 42);
  });
});

describe('run with maps', () => {
  // key = 6 and value = 42 on the stack, then bpf_map_update_elem(map, &key, &value, BPF_ANY);
  // a second run of the same map (--repeat 3) updates it again with the same value.
  const src = [
    'stdw [%r10-8], 6',
    'stdw [%r10-16], 42',
    'mov %r2, %r10',
    'add %r2, -8',
    'mov %r3, %r10',
    'add %r3, -16',
    'lddw %r1, 0', // slot 6: the fixup makes it a map reference
    'mov %r4, 0',
    'call 2',
    'exit',
  ].join('\n');
  const spec = (insns: string[], maps: object[], fixups: number[][]): object => ({ prog_type: 'unspec', maps, fixups, insns });
  test('a spec with a hash map and a fixup prints the map after the run', async () => {
    const asmFile = file('upd.s', src);
    const raw = await ok(['asm', asmFile, '-o', asmFile + '.bin']);
    assert.equal(raw, '');
    const bytes = new Uint8Array(readFileSync(asmFile + '.bin'));
    const insns = Array.from({ length: bytes.length / 8 }, (_, i) => Buffer.from(bytes.subarray(i * 8, i * 8 + 8)).toString('hex'));
    const j = JSON.parse(await ok(['run', file('upd.json', JSON.stringify(spec(insns, [{ type: 'hash', key_size: 8, value_size: 8, max_entries: 4 }], [[6, 0]]))), '--json', '--repeat', '3']));
    assert.equal(j.retval, 0);
    assert.equal(j.runs, 3);
    assert.deepEqual(j.maps, [[{ key: '0600000000000000', value: '2a00000000000000' }]]);
  });
  test('an array map is printed whole, keys ascending', async () => {
    const asmFile = file('upd2.s', src.replace('stdw [%r10-8], 6', 'stw [%r10-8], 1\nstw [%r10-4], 0'));
    await ok(['asm', asmFile, '-o', asmFile + '.bin']);
    const bytes = new Uint8Array(readFileSync(asmFile + '.bin'));
    const insns = Array.from({ length: bytes.length / 8 }, (_, i) => Buffer.from(bytes.subarray(i * 8, i * 8 + 8)).toString('hex'));
    const j = JSON.parse(await ok(['run', file('upd2.json', JSON.stringify(spec(insns, [{ type: 'array', key_size: 4, value_size: 8, max_entries: 3 }], [[7, 0]]))), '--json']));
    assert.equal(j.retval, 0);
    assert.deepEqual(j.maps, [[
      { key: '00000000', value: '0000000000000000' },
      { key: '01000000', value: '2a00000000000000' },
      { key: '02000000', value: '0000000000000000' },
    ]]);
  });
});

describe('disasm and asm', () => {
  const SOURCE = [
    'mov %r0, 1',
    'lddw %r1, 0x1122334455667788',
    'ldxw %r2, [%r1+4]',
    'stxdw [%r10-8], %r2',
    'stb [%r10-16], 7',
    'jeq %r2, 0x10, +1',
    'call 1',
    'exit',
    '',
  ].join('\n');
  const DISASM = [
    '0: (b7) r0 = 1',
    '1: (18) r1 = 0x1122334455667788',
    '3: (61) r2 = *(u32 *)(r1 +4)',
    '4: (7b) *(u64 *)(r10 -8) = r2',
    '5: (72) *(u8 *)(r10 -16) = 7',
    '6: (15) if r2 == 0x10 goto pc+1',
    '7: (85) call bpf_map_lookup_elem#1',
    '8: (95) exit',
    '',
  ].join('\n');
  const BYTES = bytes(`
    b700000001000000
    1801000088776655 0000000044332211
    6112040000000000
    7b2af8ff00000000
    720af0ff07000000
    1502010010000000
    8500000001000000
    9500000000000000`);

  test('disasm of assembly prints the verifier-log syntax', async () => {
    assert.equal(await ok(['disasm', file('prog.s', SOURCE)]), DISASM);
  });

  test('disasm of the raw bytes prints the same', async () => {
    assert.equal(await ok(['disasm', file('prog.bin', BYTES)]), DISASM);
  });

  test('asm -o writes exactly the expected bytes', async () => {
    const out = join(dir, 'asm-out.bin');
    assert.equal(await ok(['asm', file('prog.s', SOURCE), '-o', out]), '');
    assert.deepEqual(new Uint8Array(readFileSync(out)), BYTES);
  });

  test('asm to stdout (not a TTY) writes the raw bytes', async () => {
    const r = await tsbpf(['asm', file('prog.s', SOURCE)]);
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdoutBytes, BYTES);
  });

  test('asm then disasm then asm round trip', async () => {
    const first = join(dir, 'round1.bin');
    await ok(['asm', file('prog.s', SOURCE), '-o', first]);
    const text = await ok(['disasm', first]);
    assert.equal(text, DISASM);
    const second = join(dir, 'round2.bin');
    await ok(['asm', file('disasm.txt', text), '-o', second]);
    assert.deepEqual(readFileSync(second), readFileSync(first));
  });
});

describe('run-time faults exit 1', () => {
  test('a null pointer read is EFAULT in the checked interpreter', async () => {
    const prog = file('null.s', 'mov %r1, 0\nldxw %r0, [%r1+0]\nexit\n');
    const line = await fails(['run', prog, '--unverified'], 1, 'EFAULT');
    assert.equal(line, `tsbpf: ${prog}: pc 1: invalid read of 4 bytes at 0x0: null pointer dereference (EFAULT)`);
  });

  test('an infinite loop stops at the budget with E2BIG', async () => {
    const prog = file('loop.s', 'ja -1\nexit\n');
    const line = await fails(['run', prog, '--budget', '1000', '--unverified'], 1, 'E2BIG');
    assert.ok(line.startsWith(`tsbpf: ${prog}: `), line);
    assert.ok(line.includes('budget of 1000 '), line);
  });

  test('an infinite loop under the default budget still terminates', async () => {
    await fails(['run', file('loop.s', 'ja -1\nexit\n'), '--unverified'], 1, 'E2BIG');
  });

  test('falling off the end is EFAULT', async () => {
    await fails(['run', file('noexit.s', 'mov %r0, 1\n'), '--unverified'], 1, 'EFAULT');
  });
});

describe('the verifier rejects before running: exit 1', () => {
  const cases: [string, string, string, string][] = [
    ['a null pointer read', 'mov %r1, 0\nldxw %r0, [%r1+0]\nexit\n', 'EACCES', "insn 1: R1 invalid mem access 'imm'"],
    ['an infinite loop', 'ja -1\nexit\n', 'EINVAL', 'back-edge from insn 0 to 0'],
    ['no exit', 'mov %r0, 1\n', 'EINVAL', 'jump out of range from insn 0 to 1'],
    ['reading r2 (not initialised)', 'mov %r0, %r2\nexit\n', 'EACCES', 'insn 0: R2 !read_ok'],
  ];
  for (const [name, src, errno, message] of cases) {
    test(name, async () => {
      const prog = file('v.s', src);
      const r = await tsbpf(['run', prog]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `tsbpf: ${prog}: ${message} (${errno})\n`);
      // the log goes to stdout, its last line the verifier's message
      assert.equal(r.stdout.trimEnd().split('\n').at(-1), message.replace(/^insn \d+: /, ''));
    });
  }
  test('--json prints the verify object', async () => {
    const prog = file('v.s', 'mov %r0, %r2\nexit\n');
    const r = await tsbpf(['run', prog, '--json']);
    assert.equal(r.status, 1);
    assert.deepEqual(JSON.parse(r.stdout), { accepted: false, code: 'EACCES', log: '0: (bf) r0 = r2\nR2 !read_ok\n' });
  });
});

/** 4096 pseudo-random bytes from a fixed-seed LCG (Numerical Recipes constants). */
function garbage(seed: number, n = 4096): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('bad input exits 2 with one error line', () => {
  const MISSING = join(dir, 'does-not-exist.s');
  const cases: {
    name: string;
    args: () => string[];
    errno: string;
    /** the exact stderr line */
    line?: (args: string[]) => string;
    /** substrings of the stderr line */
    includes?: string[];
    /** the line starts with `tsbpf: PROG: ` */
    prog?: boolean;
  }[] = [
    {
      name: 'nonexistent file',
      args: () => ['run', MISSING],
      errno: 'ENOENT',
      line: () => `tsbpf: ${MISSING}: no such file (ENOENT)`,
    },
    {
      name: 'raw length not a multiple of 8',
      args: () => ['run', file('short.bin', bytes('b700000007000000 950000'))],
      errno: 'EINVAL',
      line: (a) => `tsbpf: ${a[1]}: program length 11 is not a multiple of 8 bytes (EINVAL)`,
    },
    {
      name: 'assembly: unknown mnemonic',
      args: () => ['run', file('m.s', 'mov %r0, 1\nfrob %r0, 1\nexit\n')],
      errno: 'EINVAL',
      includes: [': line 2: ', 'frob'],
      prog: true,
    },
    {
      name: 'assembly: bad register r11',
      args: () => ['run', file('m.s', 'mov %r11, 1\nexit\n')],
      errno: 'EINVAL',
      includes: [': line 1: ', 'r11'],
      prog: true,
    },
    {
      name: 'assembly: bad register r11 in kernel syntax',
      args: () => ['run', file('m.s', 'r0 = 0\nr11 = 1\nexit\n')],
      errno: 'EINVAL',
      includes: [': line 2: ', 'r11'],
      prog: true,
    },
    {
      name: 'assembly: missing operand',
      args: () => ['run', file('m.s', 'mov %r0\nexit\n')],
      errno: 'EINVAL',
      includes: [': line 1: ', 'operand'],
      prog: true,
    },
    {
      name: 'assembly: undefined label',
      args: () => ['run', file('m.s', 'mov %r0, 0\n\nja nowhere\nexit\n')],
      errno: 'EINVAL',
      includes: [': line 3: ', "undefined label 'nowhere'"],
      prog: true,
    },
    {
      name: 'asm command: malformed assembly',
      args: () => ['asm', file('m.s', 'frob\n'), '-o', join(dir, 'never.bin')],
      errno: 'EINVAL',
      includes: [': line 1: ', 'frob'],
      prog: true,
    },
    {
      name: 'spec: invalid JSON',
      args: () => ['run', file('j.json', '{"insns": [')],
      errno: 'EINVAL',
      includes: ['invalid JSON'],
      prog: true,
    },
    {
      name: 'spec: insns not an array',
      args: () => ['run', file('j.json', '{"insns": "b700000007000000"}')],
      errno: 'EINVAL',
      line: (a) => `tsbpf: ${a[1]}: 'insns' must be an array of 16-hex-digit strings (EINVAL)`,
    },
    {
      name: 'spec: an insn of 15 hex digits',
      args: () => ['run', file('j.json', JSON.stringify({ insns: ['b70000000700000', '9500000000000000'] }))],
      errno: 'EINVAL',
      includes: ['insns[0]', '16 hex digits', '"b70000000700000"'],
      prog: true,
    },
    {
      name: 'spec: unknown prog_type',
      args: () => ['run', file('j.json', JSON.stringify({ prog_type: 'nonsense', ...SPEC7 }))],
      errno: 'EINVAL',
      includes: ['prog_type', '"nonsense"'],
      prog: true,
    },
    {
      name: 'spec: a map of an unknown type',
      args: () =>
        ['run', file('j.json', JSON.stringify({ maps: [{ type: 'lru', key_size: 8, value_size: 8, max_entries: 4 }], ...SPEC7 }))],
      errno: 'EINVAL',
      line: (a) => `tsbpf: ${a[1]}: maps[0].type must be "hash", "array", "percpu_hash", "percpu_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "queue" or "stack" (EINVAL)`,
    },
    {
      name: 'spec: a fixup that is not at an ld_imm64',
      args: () =>
        ['run', file('j2.json', JSON.stringify({ maps: [{ type: 'hash', key_size: 8, value_size: 8, max_entries: 4 }], fixups: [[0, 0]], ...SPEC7 }))],
      errno: 'EINVAL',
      line: (a) => `tsbpf: ${a[1]}: fixup [0, 0]: slot 0 is not an ld_imm64 (EINVAL)`,
    },
    {
      name: 'unknown command',
      args: () => ['frobnicate'],
      errno: 'EINVAL',
      includes: ["unknown command 'frobnicate'"],
    },
    {
      name: '--data with an odd number of hex digits',
      args: () => ['run', file('a.s', MOV42_CONF), '--data', '0a1'],
      errno: 'EINVAL',
      line: () => 'tsbpf: --data: --data has an odd number of hex digits (EINVAL)',
    },
    {
      name: '--data that is not hex',
      args: () => ['run', file('a.s', MOV42_CONF), '--data', 'zz'],
      errno: 'EINVAL',
      includes: ['--data', 'not hexadecimal'],
    },
    {
      name: '--repeat 0',
      args: () => ['run', file('a.s', MOV42_CONF), '--repeat', '0'],
      errno: 'EINVAL',
      line: () => "tsbpf: --repeat must be a positive integer, got '0' (EINVAL)",
    },
    {
      name: '--budget 0',
      args: () => ['run', file('a.s', MOV42_CONF), '--budget', '0'],
      errno: 'EINVAL',
      includes: ['--budget'],
    },
    {
      name: '--engine bogus',
      args: () => ['run', file('a.s', MOV42_CONF), '--engine', 'bogus'],
      errno: 'EINVAL',
      includes: ['--engine must be interpreter or jit'],
    },
    {
      name: 'empty file',
      args: () => ['run', file('empty', '')],
      errno: 'EINVAL',
      includes: ['no instructions'],
      prog: true,
    },
    {
      name: 'a file with only comments',
      args: () => ['run', file('comments.s', '# nothing here\n\n; nor here\n')],
      errno: 'EINVAL',
      includes: ['no instructions'],
      prog: true,
    },
    {
      name: 'a truncated ELF object',
      args: () => ['run', file('o.elf', bytes('7f454c4602010100'))],
      errno: 'EINVAL',
      includes: ['elf: offset 0x0: file is 8 bytes, too short for the 64-byte ELF header'],
      prog: true,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const args = c.args();
      const line = await fails(args, 2, c.errno);
      if (c.line) assert.equal(line, c.line(args));
      for (const s of c.includes ?? []) assert.ok(line.includes(s), `'${s}' in: ${line}`);
      // Errors about the program file name it as the context.
      if (c.prog) assert.ok(line.startsWith(`tsbpf: ${args[1]}: `), line);
    });
  }

  // CLI.md: "Errors go to stderr as one line", usage errors included.
  const usageErrors: { name: string; args: () => string[]; includes: string }[] = [
    { name: 'unknown option', args: () => ['run', file('a.s', MOV42_CONF), '--foo'], includes: "Unknown option '--foo'" },
    { name: 'missing option argument', args: () => ['run', file('a.s', MOV42_CONF), '--repeat'], includes: '--repeat' },
    { name: 'wrong number of arguments', args: () => ['disasm'], includes: 'wrong number of arguments' },
    {
      name: '--data with --data-file',
      args: () => ['run', file('a.s', MOV42_CONF), '--data', '00', '--data-file', file('d.bin', bytes('00'))],
      includes: 'exclusive',
    },
  ];
  for (const c of usageErrors) {
    test(`usage error: ${c.name}`, async () => {
      const line = await fails(c.args(), 2, 'EINVAL');
      assert.ok(line.includes(c.includes), line);
    });
  }
  for (const c of usageErrors) {
    test(`usage error: ${c.name}: exit 2, first stderr line is the error`, async () => {
      const r = await tsbpf(c.args());
      assert.equal(r.status, 2);
      assert.ok(!r.stderr.includes('    at '));
      const first = r.stderr.split('\n')[0]!;
      assert.match(first, /^tsbpf: .+ \(EINVAL\)$/);
      assert.ok(first.includes(c.includes), first);
    });
  }

  test('a jump out of range names the file', async () => {
    const prog = file('far.bin', bytes('9500000000000000 0500050000000000'));
    const r = await tsbpf(['run', prog, '--unverified']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `tsbpf: ${prog}: jump out of range from insn 1 to 7 (EINVAL)\n`);
    // the verifier sees the unreachable instruction first
    const v = await tsbpf(['run', prog]);
    assert.equal(v.status, 1);
    assert.equal(v.stderr, `tsbpf: ${prog}: unreachable insn 1 (EINVAL)\n`);
  });

  for (const seed of [1, 2, 3]) {
    test(`4096 pseudo-random bytes (seed ${seed}) fail cleanly`, async () => {
      const r = await tsbpf(['run', file(`garbage-${seed}.bin`, garbage(seed))]);
      assert.ok(r.status === 1 || r.status === 2, `exit status ${r.status}`);
      assert.ok(!r.stderr.includes('    at '));
      assert.match(r.stderr, /^tsbpf: [^\n]+ \(E[A-Z0-9]+\)\n$/);
    });
  }
});

describe('conformance-plugin', () => {
  /** The runner's base16: each byte as two lowercase hex digits and two spaces. */
  const base16 = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0') + '  ').join('');
  const MOV42 = base16(bytes('b70000002a000000 9500000000000000'));
  const LOAD_BYTE1 = base16(bytes('7110010000000000 9500000000000000')); // ldxb r0, [r1+1]
  const ALL_ONES = base16(bytes('18000000ffffffff 00000000ffffffff 9500000000000000'));
  const NULL_READ = base16(bytes('6110000000000000 9500000000000000')); // ldxw r0, [r1+0], r1 = NULL

  const cases: { name: string; args: string[]; stdin: string; out: string }[] = [
    { name: 'no memory', args: [], stdin: MOV42, out: '2a\n' },
    { name: 'with memory', args: [base16(bytes('002a'))], stdin: LOAD_BYTE1, out: '2a\n' },
    { name: '--interpret, memory first', args: [base16(bytes('002a')), '--interpret'], stdin: LOAD_BYTE1, out: '2a\n' },
    { name: '--interpret, memory last', args: ['--interpret', base16(bytes('002a'))], stdin: LOAD_BYTE1, out: '2a\n' },
    { name: 'all 64 bits of r0', args: [], stdin: ALL_ONES, out: 'ffffffffffffffff\n' },
    { name: 'plain hex on stdin', args: [], stdin: 'b70000002a0000009500000000000000\n', out: '2a\n' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      assert.equal(await ok(['conformance-plugin', ...c.args], c.stdin), c.out);
    });
  }

  test('--jit runs the program in the WebAssembly JIT', async () => {
    assert.equal(await ok(['conformance-plugin', '--jit'], MOV42), '2a\n');
    assert.equal(await ok(['conformance-plugin', '--jit', base16(bytes('002a'))], LOAD_BYTE1), '2a\n');
    assert.equal(await ok(['conformance-plugin', '--jit'], ALL_ONES), 'ffffffffffffffff\n');
  });

  for (const opt of ['--foo', '--profile']) {
    test(`${opt} is rejected`, async () => {
      const r = await tsbpf(['conformance-plugin', opt], MOV42);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `Invalid arguments: ${opt}\n`);
    });
  }

  test('a faulting program exits non-zero', async () => {
    const r = await tsbpf(['conformance-plugin'], NULL_READ);
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    assert.ok(!r.stderr.includes('    at '));
    assert.ok(r.stderr.endsWith(' (EFAULT)\n'), r.stderr);
  });

  test('an unknown opcode exits non-zero', async () => {
    const r = await tsbpf(['conformance-plugin'], base16(bytes('ff00000000000000')));
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.endsWith(' (EINVAL)\n'), r.stderr);
  });
});

describe('the tsbpf process (bin/tsbpf.js)', () => {
  test('the bin entry: --help exits 0, no arguments 2, a failure prints one line', async () => {
    const help = spawnTsbpf(['--help']);
    assert.equal(help.status, 0);
    assert.equal(help.stderr, '');
    assert.ok(help.stdout.startsWith('tsbpf: the Linux eBPF subsystem in TypeScript\n'), help.stdout);
    assert.equal(spawnTsbpf([]).status, 2);
    const missing = join(dir, 'no-such-file.s');
    const r = spawnTsbpf(['disasm', missing]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `tsbpf: ${missing}: no such file (ENOENT)\n`);
  });

  test('importing the CLI runs nothing (no output, exit 0): bin/tsbpf.js is what runs main()', () => {
    const url = new URL('../src/cli/main.js', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)});`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.match(spawnTsbpf(['--version']).stdout, /^tsbpf \d+\.\d+\.\d+\n$/);
  });

  test('a reader that closes the pipe early (tsbpf disasm | head -1) ends the output quietly: exit 0, nothing on stderr', async () => {
    const prog = file('long.s', 'r0 = 0\n'.repeat(20000) + 'exit\n');
    const child = spawn(process.execPath, [BIN, 'disasm', prog], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', TSBPF_DEBUG: '' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    // like head: read one chunk, then close the read end of the pipe
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.ok(first.startsWith('0: (b7) r0 = 0\n'), first.slice(0, 40));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
