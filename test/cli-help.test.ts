/**
 * `tsbpf CMD --help` for every command (usage, options, an example; exit 0;
 * nothing run or read), the examples the help shows actually run, and every
 * bad option is one `tsbpf: ...` line in tsbpf's words (no message of
 * Node's argument parser), exit 2, before any input is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { COMMANDS } from '../src/cli/commands.js';
import { help } from '../src/cli/args.js';
import type { CliIo } from '../src/cli/io.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-help-');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MISSING = join(dir, 'no-such-program.s');

/** The commands, named here so that a command losing its help fails the test. */
const NAMES = ['run', 'filter', 'compile', 'verify', 'disasm', 'asm', 'inspect', 'batch', 'shell', 'conformance-plugin', 'bench', 'help'];

/** An io whose standard input fails the test if anything reads it. */
function untouchedStdin(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (c) => (out += c.toString()) },
    stderr: { write: (c) => (err += c.toString()) },
    stdin: {
      readAll: () => assert.fail('--help read standard input'),
      stream: () => assert.fail('--help read standard input'),
    },
  };
  return { io, out: () => out, err: () => err };
}

test('the command table is the list above', () => {
  assert.deepEqual(COMMANDS.map((c) => c.name), NAMES);
});

for (const name of NAMES) {
  test(`tsbpf ${name} --help: usage, options, an example; exit 0; nothing read`, async () => {
    const spec = COMMANDS.find((c) => c.name === name)!;
    for (const flag of ['--help', '-h']) {
      // a missing file, a bad option before it: --help still wins and reads nothing
      const { io, out, err } = untouchedStdin();
      const status = await main([name, MISSING, '--bogus', flag, '-'], io);
      assert.equal(err(), '');
      assert.equal(status, 0);
      assert.equal(out(), help(spec));
    }
    const text = help(spec);
    const lines = text.split('\n');
    assert.ok(lines[0]!.startsWith(`Usage: tsbpf ${name}`), lines[0]);
    assert.ok(lines.includes('Options:'), text);
    assert.match(text, /^ {2}-h, --help +print this help and exit$/m);
    const ex = lines.findIndex((l) => l === 'Example:' || l === 'Examples:');
    assert.ok(ex > 0 && lines[ex + 1]!.startsWith(`  tsbpf ${name}`), text);
    for (const o of spec.options) assert.ok(text.includes(`--${o.name}`), `--${o.name} in the help of ${name}`);
    // `tsbpf help CMD` is the same text
    assert.equal((await tsbpf(['help', name])).stdout, text);
  });
}

test('bench --help returns at once with the help alone (the benchmark takes a minute)', async () => {
  const t0 = performance.now();
  const r = await tsbpf(['bench', '--help']);
  assert.ok(performance.now() - t0 < 2000, `bench --help took ${performance.now() - t0} ms`);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, help(COMMANDS.find((c) => c.name === 'bench')!));
});

test('conformance-plugin --help exits 0 without reading the program', async () => {
  const r = await tsbpf(['conformance-plugin', '--help'], 'not base16 at all');
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  assert.ok(r.stdout.startsWith('Usage: tsbpf conformance-plugin [MEMORY] [--interpret | --jit]\n'), r.stdout);
});

test('--help after -- is an argument, not the help', async () => {
  const r = await tsbpf(['disasm', '--', '--help']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'tsbpf: --help: no such file (ENOENT)\n');
});

test('tsbpf help with an unknown command', async () => {
  const r = await tsbpf(['help', 'frob']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `tsbpf: help: unknown command 'frob' (commands: ${NAMES.join(', ')}) (EINVAL)\n`);
});

/** The examples of every help, run from the project root; output files go to the temp dir. */
for (const spec of COMMANDS) {
  for (const example of spec.examples) {
    if (['shell', 'bench'].includes(spec.name)) continue; // interactive, a minute long
    if (example.includes('<<<')) continue; // a shell here-string: run below
    test(`the example 'tsbpf ${example}' runs`, async (t) => {
      // words split at spaces, as a shell would split them: 'quoted words' stay one
      const words = (example.match(/'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^'(.*)'$/, '$1')).map((w, i, all) =>
        ['-o', '-w'].includes(all[i - 1]!) ? join(dir, w) : w.startsWith('examples/') ? join(ROOT, w) : w);
      const missing = words.filter((w) => w.startsWith(join(ROOT, 'examples')) && !existsSync(w));
      if (missing.length > 0 && missing.every((m) => m.endsWith('script.txt'))) {
        t.skip('examples/script.txt is added with the README examples');
        return;
      }
      // `< FILE`: the file on standard input
      const lt = words.indexOf('<');
      const r = lt < 0 ? await tsbpf(words) : await tsbpf(words.slice(0, lt), new Uint8Array(readFileSync(words[lt + 1]!)));
      assert.equal(r.status, 0, r.stderr);
    });
  }
}

test('the examples with a here-string run', async () => {
  const r = await tsbpf(['conformance-plugin', '00 2a'], 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00');
  assert.equal(r.stdout, '2a\n');
  const m = await tsbpf(['run', '-', '--mem', '0102032a'], 'r0 = *(u8 *)(r1 +3)\nexit');
  assert.equal(m.stdout.split('\n')[0], 'retval  0x2a (42)');
  const here = COMMANDS.flatMap((c) => c.examples).filter((e) => e.includes('<<<'));
  assert.deepEqual(here, ["run - --mem 0102032a <<< $'r0 = *(u8 *)(r1 +3)\\nexit'", "conformance-plugin '00 2a' <<< 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00'"]);
});

/** Every bad option: exit 2, exactly this one line, nothing on stdout, no input read. */
const BAD: [string[], string][] = [
  [['run', MISSING, '--repeat', '-1'], "tsbpf: --repeat must be a positive integer, got '-1' (EINVAL)"],
  [['run', MISSING, '--repeat=-1'], "tsbpf: --repeat must be a positive integer, got '-1' (EINVAL)"],
  [['run', MISSING, '--budget', '1e3'], "tsbpf: --budget must be a positive integer, got '1e3' (EINVAL)"],
  [['run', MISSING, '--repeat', '99999999999999999999'], "tsbpf: --repeat must be a positive integer, got '99999999999999999999' (EINVAL)"],
  [['run', MISSING, '--foo'], "tsbpf: run: unknown option '--foo'; see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--jsn'], "tsbpf: run: unknown option '--jsn' (did you mean --json?); see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '-x'], "tsbpf: run: unknown option '-x'; see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--repeat'], "tsbpf: run: --repeat needs a value (N); see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--data-file', '--json'], "tsbpf: run: --data-file needs a value (FILE), got the option '--json'; see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--json=yes'], "tsbpf: run: --json takes no value, got 'yes'; see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--data', '00', '--data', '01'], "tsbpf: run: --data is given twice; see 'tsbpf run --help' (EINVAL)"],
  [['run', MISSING, '--engine', 'fast'], "tsbpf: --engine must be interpreter or jit, or jit-hardened for untrusted programs, got 'fast' (EINVAL)"],
  [['run', '-', '--data-file', '-'], "tsbpf: standard input ('-') can be only one of the inputs (EINVAL)"],
  [['run'], 'tsbpf: run: missing PROG (usage: tsbpf run PROG [--data HEX | --data-file FILE | --pcap CAPTURE] [--repeat N] [--json]) (EINVAL)'],
  [['filter', MISSING], 'tsbpf: filter: missing CAPTURE (usage: tsbpf filter PROG CAPTURE [-w OUT.pcap] [--count] [--json]) (EINVAL)'],
  [['filter', MISSING, 'a.pcap', '-w'], "tsbpf: filter: -w needs a value (OUT); see 'tsbpf filter --help' (EINVAL)"],
  [['asm', MISSING, 'b'], "tsbpf: asm: unexpected argument 'b' (usage: tsbpf asm FILE [-o OUT]) (EINVAL)"],
  [['verify', MISSING, '--log-level', '3'], "tsbpf: --log-level must be 0, 1 or 2, got '3' (EINVAL)"],
  [['shell', 'x'], "tsbpf: shell: unexpected argument 'x' (usage: tsbpf shell [--profile 3.19|modern] [--cpus N]) (EINVAL)"],
  [['bench', '--quick'], "tsbpf: bench: unknown option '--quick'; see 'tsbpf bench --help' (EINVAL)"],
  [['conformance-plugin', '--profile'], "tsbpf: conformance-plugin: unknown option '--profile'; see 'tsbpf conformance-plugin --help' (EINVAL)"],
];
for (const [args, line] of BAD) {
  test(`bad usage: tsbpf ${args.join(' ').replace(MISSING, 'MISSING')}`, async () => {
    const { io, out, err } = untouchedStdin();
    const status = await main(args, io);
    assert.equal(err(), line + '\n');
    assert.equal(out(), '');
    assert.equal(status, 2);
  });
}

for (const name of NAMES.filter((n) => n !== 'help')) {
  test(`tsbpf ${name} --bogus: one line in our words`, async () => {
    const r = await tsbpf([name, '--bogus']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `tsbpf: ${name}: unknown option '--bogus'; see 'tsbpf ${name} --help' (EINVAL)\n`);
    assert.doesNotMatch(r.stderr, /ambiguous|To specify a positional|ERR_PARSE_ARGS/);
  });
}

test('an option value may start with a dash: --data-file - reads standard input', async () => {
  const prog = join(dir, 'ld.s');
  writeFileSync(prog, 'mov %r6, %r1\nldabsb 1\nexit\n');
  const r = await tsbpf(['run', prog, '--data-file', '-', '--json'], Uint8Array.of(0, 42));
  assert.equal(r.stderr, '');
  assert.equal((JSON.parse(r.stdout) as { retval: number }).retval, 42);
});
