/**
 * The examples and the README that names them. Each example object over
 * examples/sample.pcap (three TCP flows, a DNS exchange whose query carries
 * an IPv4 option, an ARP), with the exact map contents and verdicts worked
 * out from the capture by hand; the objects rebuilt by `npm run examples`
 * equal to the committed ones, byte for byte; the program spec and the batch
 * script; and every `npx tsbpf ...` line of the README's sh blocks run as a
 * new user would, from the checkout's root, with its exit status and the
 * part of its output that says it did what the README says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from './conformance-data.js';
import { tsbpf } from './cli-harness.js';
import type { CliResult } from './cli-harness.js';
import { tempDir } from './tmp.js';
import { parseCapture } from '../src/pcap/index.js';

// filter prints tcpdump's local time of day: UTC here, whatever the machine's zone
process.env['TZ'] = 'UTC';
const ex = (f: string): string => join(projectRoot(), 'examples', f);
const sample = ex('sample.pcap');

interface RunOut { packets: number; accepted: number; maps: { key: string; value: string }[][] }
async function run(obj: string): Promise<RunOut> {
  const r = await tsbpf(['run', ex(obj), '--pcap', sample, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as RunOut;
}
const nonzero = (m: { key: string; value: string }[]): { key: string; value: string }[] => m.filter((e) => /[^0]/.test(e.value));

test('proto-count: packets and bytes per IP protocol', async () => {
  const j = await run('proto-count.o');
  assert.equal(j.packets, 9);
  assert.equal(j.accepted, 0);
  // TCP: five 54-byte packets and one with 100 bytes of payload; UDP: 76 + 102 bytes
  assert.deepEqual(nonzero(j.maps[0]!), [
    { key: '06000000', value: '0600000000000000a801000000000000' },
    { key: '11000000', value: '0200000000000000b200000000000000' },
  ]);
});

test('flow-table: one entry per 5-tuple, first inserted with BPF_NOEXIST then counted in place', async () => {
  const j = await run('flow-table.o');
  // key: saddr, daddr (host-order words of the big-endian loads), sport, dport, proto
  assert.deepEqual(j.maps[0], [
    { key: '0100000a1401a8c0409cbb0106000000', value: '03000000000000000601000000000000' },
    { key: '0100000a3500000ae914350011000000', value: '01000000000000004c00000000000000' },
    { key: '0200000a1401a8c0419c500006000000', value: '02000000000000006c00000000000000' },
    { key: '1401a8c00100000abb01409c06000000', value: '01000000000000003600000000000000' },
    { key: '3500000a0100000a3500e91411000000', value: '01000000000000006600000000000000' },
  ]);
});

test('ipv4-options: the first option type counted, the DNS query accepted past its longer header', async () => {
  const j = await run('ipv4-options.o');
  assert.equal(j.accepted, 1);
  assert.deepEqual(nonzero(j.maps[0]!), [
    { key: '00000000', value: '0700000000000000' },
    { key: '94000000', value: '0100000000000000' },
  ]);
});

test('syn-filter.o and syn-filter.s keep the same two connection attempts', async () => {
  for (const prog of ['syn-filter.o', 'syn-filter.s']) {
    const r = await tsbpf(['filter', ex(prog), sample]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, [
      '16:00:00.000000 IP 10.0.0.1.40000 > 192.168.1.20.443: Flags [S], seq 1, win 65535, length 0',
      '16:00:01.000000 IP 10.0.0.2.40001 > 192.168.1.20.80: Flags [S], seq 1, win 65535, length 0',
      '',
    ].join('\n'), prog);
  }
});

test('modern: a BTF-defined hash map and global variables (.rodata, .bss, .data as one-element arrays)', async () => {
  const j = await run('modern.o');
  assert.equal(j.packets, 9);
  // TCP to ports below the read-only limit 1024: 443 three times, 80 twice
  assert.equal(j.accepted, 5);
  // in libbpf's creation order: the BTF-defined map, then global data by section
  assert.deepEqual(j.maps, [
    [{ key: '50000000', value: '0200000000000000' }, { key: 'bb010000', value: '0300000000000000' }],
    [{ key: '00000000', value: '00040000' }],
    [{ key: '00000000', value: '09000000000000000500000000000000' }],
    [{ key: '00000000', value: '07000000' }],
  ]);
});

test('counter.json: its insns are examples/counter.s assembled, its fixups the two map loads', async () => {
  const spec = JSON.parse(readFileSync(ex('counter.json'), 'utf8')) as { insns: string[]; fixups: [number, number][] };
  const r = await tsbpf(['asm', ex('counter.s')]);   // the slots on stdout
  assert.equal(r.status, 0, r.stderr);
  const slots = Array.from({ length: r.stdoutBytes.length / 8 }, (_, i) => Buffer.from(r.stdoutBytes.subarray(i * 8, i * 8 + 8)).toString('hex'));
  assert.deepEqual(spec.insns, slots);
  // both fixups land on an ld_imm64 (opcode 0x18) that loads r1
  assert.deepEqual(spec.fixups, [[11, 0], [21, 0]]);
  for (const [slot] of spec.fixups) assert.equal(spec.insns[slot]!.slice(0, 4), '1801');
});

test('counter.json over the capture: packets per TCP destination port', async () => {
  const r = await tsbpf(['run', ex('counter.json'), '--pcap', sample, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as RunOut;
  assert.equal(j.packets, 9);
  assert.equal(j.accepted, 0);
  // ports 40000 (the SYN-ACK back), 80 twice, 443 three times; keys in host order
  assert.deepEqual(j.maps, [[
    { key: '409c0000', value: '0100000000000000' },
    { key: '50000000', value: '0200000000000000' },
    { key: 'bb010000', value: '0300000000000000' },
  ]]);
});

test('script.txt: every line succeeds, bpftool output', async () => {
  const r = await tsbpf(['batch', ex('script.txt'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { ok: true, id: 1 },
    { ok: true },
    { ok: true },
    { ok: true },
    { ok: true, value: '0200000000000000' },
    { ok: true, next_key: '01bb' },
    { ok: true, name: 'ports', type: 'hash', key_size: 2, value_size: 8, entries: [{ key: '01bb', value: '0300000000000000' }, { key: '0050', value: '0200000000000000' }] },
    { ok: true },
    { ok: true, id: 2 },
    { ok: true },
    { ok: true, name: 'totals', type: 'array', key_size: 4, value_size: 4, entries: [{ key: '00000000', value: '00000000' }, { key: '01000000', value: '2a000000' }] },
  ]);
});

test('tcp-port-80.dd is what tcpdump -dd prints for the filter, when tcpdump is here', (t) => {
  // tcpdump compiles for the link type of the capture device it opens; -y EN10MB and no -i would still
  // need a device on some versions, so any failure to run it is a skip, not a failure
  const r = spawnSync('tcpdump', ['-dd', 'tcp port 80'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    t.skip(`tcpdump -dd did not run here (${r.error?.message ?? r.stderr.trim()})`);
    return;
  }
  assert.equal(r.stdout, readFileSync(ex('tcp-port-80.dd'), 'utf8'));
});

test('npm run examples rebuilds the committed objects byte for byte', (t) => {
  const v = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) {
    t.skip('clang is not installed: the objects cannot be rebuilt here (apt-get install -y clang)');
    return;
  }
  const out = tempDir('tsbpf-examples-');
  const script = join(projectRoot(), 'scripts', 'build-examples.mjs');
  const r = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  if (r.stderr !== '') {
    // the script warns when clang is not the one the objects were built with: its bytes differ
    assert.match(r.stderr, /^build-examples: .*, not .*: the objects will differ from the committed ones\n$/);
    t.skip(r.stderr.trim());
    return;
  }
  const built = readdirSync(out).sort();
  const committed = readdirSync(join(projectRoot(), 'examples')).filter((f) => f.endsWith('.o')).sort();
  assert.deepEqual(built, committed);
  for (const f of built) assert.ok(readFileSync(join(out, f)).equals(readFileSync(ex(f))), `${f} differs from the committed object`);
});

// ------------------------------------------------------------ the README

interface ReadmeCommand {
  /** the line as the README shows it, comment removed */
  line: string;
  /** the arguments after `npx tsbpf` */
  args: string[];
  /** a file piped to standard input (`cat FILE | npx tsbpf ...`) */
  stdin?: string;
}

/** Every `npx tsbpf` line of the README's ```sh blocks; any other shape of line that runs tsbpf is an error. */
function readmeCommands(readme: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  for (const block of readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const raw of block[1]!.split('\n')) {
      // a comment starts at '#' after a space; no command here quotes a '#'
      const line = raw.replace(/\s+#\s.*$/, '').trim();
      const at = line.indexOf('npx tsbpf');
      if (at < 0) continue;
      const before = line.slice(0, at);
      // words, or single-quoted strings as a shell takes them (a tcpdump expression); no other shell syntax
      const words = [...line.slice(at + 'npx tsbpf'.length).trim().matchAll(/'([^']*)'|(\S+)/g)];
      assert.ok(words.every((w) => w[2] === undefined || !/["'|;&<>$`\\]/.test(w[2])), `README: no shell syntax after npx tsbpf: ${line}`);
      const args = words.map((w) => w[1] ?? w[2]!);
      const cat = /^cat (\S+) \| $/.exec(before);
      if (cat) out.push({ line, args, stdin: cat[1]! });
      else if (before === '' || before === 'npm ci && ') out.push({ line, args });
      else assert.fail(`README: a tsbpf line this test cannot run: ${line}`);
    }
  }
  return out;
}

type Check = (r: CliResult, cwd: string) => void;
const ok: Check = (r) => {
  assert.equal(r.status, 0, r.stderr);
};
const SYNS = [
  '16:00:00.000000 IP 10.0.0.1.40000 > 192.168.1.20.443: Flags [S], seq 1, win 65535, length 0',
  '16:00:01.000000 IP 10.0.0.2.40001 > 192.168.1.20.80: Flags [S], seq 1, win 65535, length 0',
  '',
].join('\n');

/**
 * What each README command must show besides exit status 0, by its arguments. The README and
 * this table must name the same commands: a command added to one and not the other fails.
 */
const CHECKS: Record<string, { check?: Check; skip?: string; todo?: string }> = {
  'run examples/flow-table.o --pcap examples/sample.pcap': {
    check: (r) => assert.match(r.stdout, /^packets 9, accepted 0, last retval 0x0\n/),
  },
  'run examples/syn-filter.s --data-file examples/tcp-syn.bin': {
    check: (r) => assert.match(r.stdout, /^retval {2}0x40000 \(262144\)\n/),
  },
  'verify examples/syn-filter.s': {
    check: (r) => {
      assert.ok(r.stdout.startsWith('0: (bf) r6 = r1\n1: (28) r0 = *(u16 *)skb[12]\n'), r.stdout);
      assert.ok(r.stdout.endsWith('\nfrom 2 to 17: safe\naccepted: 19 instructions\n'), r.stdout);
    },
  },
  'disasm examples/syn-filter.s': {
    check: (r) => {
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 19);
      assert.equal(lines[0], '0: (bf) r6 = r1');
      assert.equal(lines[18], '18: (95) exit');
    },
  },
  'run examples/syn-filter.s --data-file examples/tcp-synack.bin --json': {
    check: (r) => {
      const j = JSON.parse(r.stdout) as { retval: number; runs: number; maps: unknown[] };
      assert.equal(j.retval, 0);
      assert.equal(j.runs, 1);
      assert.deepEqual(j.maps, []);
    },
  },
  'asm examples/syn-filter.s -o syn.bin': {
    check: (r, cwd) => {
      assert.equal(r.stdout, '');
      assert.equal(readFileSync(join(cwd, 'syn.bin')).length, 19 * 8);
    },
  },
  'filter examples/syn-filter.s examples/sample.pcap': { check: (r) => assert.equal(r.stdout, SYNS) },
  'filter examples/tcp-port-80.dd examples/sample.pcap -w port80.pcap': {
    check: (r, cwd) => {
      assert.equal(r.stdout, '');
      const kept = [...parseCapture(new Uint8Array(readFileSync(join(cwd, 'port80.pcap'))))];
      // the SYN and the ACK of the connection to port 80
      assert.deepEqual(kept.map((p) => p.tsNs), [1764000001000000000n, 1764000001750000000n]);
    },
  },
  'filter tcp port 80 examples/sample.pcap': {
    check: (r) => assert.equal(r.stdout, [
      '16:00:01.000000 IP 10.0.0.2.40001 > 192.168.1.20.80: Flags [S], seq 1, win 65535, length 0',
      '16:00:01.750000 IP 10.0.0.2.40001 > 192.168.1.20.80: Flags [.], ack 0, win 65535, length 0',
      '',
    ].join('\n')),
  },
  'compile tcp port 80 -d': {
    check: (r) => {
      // as long as tcpdump -d 'tcp port 80' (20 instructions; test/filter-diff.test.ts compares verdicts with tcpdump's)
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 20);
      assert.deepEqual([lines[0], lines[18], lines[19]], ['(000) ldh      [12]', '(018) ret      #262144', '(019) ret      #0']);
    },
  },
  'run examples/counter.json --pcap examples/sample.pcap --json': {
    check: (r) => {
      const j = JSON.parse(r.stdout) as RunOut;
      assert.equal(j.packets, 9);
      assert.equal(j.maps[0]!.length, 3);
    },
  },
  'run examples/proto-count.o --pcap examples/sample.pcap': {
    check: (r) => assert.match(r.stdout, /^packets 9, accepted 0, last retval 0x0\n/),
  },
  'run examples/proto-count.o --pcap examples/sample.pcap --workers 2': {
    // the same counts as one thread: 6 TCP packets of 424 bytes, 2 UDP of 178
    check: (r) => assert.match(r.stdout, /^packets 9, accepted 0, last retval 0x0\nruns .* per packet \(jit, 2 workers\)\nstartup load .*\nmap proto_count type array key 4B value 16B entries 256 \(254 all-zero not shown\)\nkey: 06 00 00 00  value: 06 00 00 00 00 00 00 00  a8 01 00 00 00 00 00 00\nkey: 11 00 00 00  value: 02 00 00 00 00 00 00 00  b2 00 00 00 00 00 00 00\n$/),
  },
  'inspect examples/modern.o': {
    check: (r) => {
      assert.match(r.stdout, /^ {2}socket1\/modern {2}socket_filter {2}51 insns {2}maps: /m);
      assert.match(r.stdout, /^ {2}ports {2}hash {2}key 4B {2}value 8B {2}max_entries 1024$/m);
    },
  },
  'batch examples/script.txt': {
    check: (r) => {
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.endsWith('key: 00 00 00 00  value: 00 00 00 00\nkey: 01 00 00 00  value: 2a 00 00 00\nFound 2 elements\n'), r.stdout);
    },
  },
  // standard input is empty here: the shell reads no command and ends
  'shell': { check: (r) => assert.equal(r.stdout, '') },
  'run --help': {
    check: (r) => {
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /tsbpf run/);
    },
  },
  'filter examples/syn-filter.s -': {
    check: (r) => assert.equal(r.stdout, SYNS),
  },
  'run examples/mem-sum.s --mem 0100000002000000': {
    // 1 + 2 + the length 8
    check: (r) => assert.match(r.stdout, /0xb \(11\)/),
  },
  'bench': { skip: 'bench runs for minutes; test/bench.test.ts checks its parts' },
};

test('README: every command it names is checked here, and every check is in the README', () => {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const named = readmeCommands(readme).map((c) => c.args.join(' '));
  assert.deepEqual([...new Set(named)].sort(), Object.keys(CHECKS).sort());
  // the two commands of its first section come first: the setup-and-run line, then npm test
  assert.equal(named[0], 'run examples/flow-table.o --pcap examples/sample.pcap');
  assert.match(readme, /^## The two commands\n[\s\S]*?```sh\nnpm ci && npx tsbpf run examples\/flow-table\.o --pcap examples\/sample\.pcap\n```[\s\S]*?```sh\nnpm test\n```/m);
});

test('README: every npx tsbpf line runs from the checkout root and shows what the README says', async (t) => {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  // a fresh directory with the examples in it, so the outputs the commands write (-o, -w) go there
  const cwd = tempDir('tsbpf-readme-');
  symlinkSync(join(projectRoot(), 'examples'), join(cwd, 'examples'), 'dir');
  const home = process.cwd();
  process.chdir(cwd);
  t.after(() => process.chdir(home));
  for (const c of readmeCommands(readme)) {
    const want = CHECKS[c.args.join(' ')];
    assert.ok(want, `no check for README line: ${c.line}`);
    await t.test(c.line, { skip: want.skip, todo: want.todo }, async () => {
      for (const f of c.args.filter((a) => a.startsWith('examples/'))) assert.ok(existsSync(f), `${f} does not exist`);
      const r = await tsbpf(c.args, c.stdin === undefined ? '' : new Uint8Array(readFileSync(c.stdin)));
      ok(r, cwd);
      want.check?.(r, cwd);
    });
  }
});

/**
 * The README's TypeScript blocks, transpiled (types removed, nothing checked: the package test
 * type-checks against the .d.ts) with their `tsbpf` imports pointed at this build, run as
 * modules from the checkout's root: what each prints is what its comments say.
 */
const README_TS: { imports: string; todo?: string; check: (stdout: string) => void }[] = [
  {
    imports: 'BpfSystem, Collection, loadCollectionSpec, parseCapture, VerifierError',
    check: (stdout) => assert.deepEqual(stdout.trimEnd().split('\n').sort(), [
      '0100000a1401a8c0409cbb0106000000 03000000000000000601000000000000',
      '0100000a3500000ae914350011000000 01000000000000004c00000000000000',
      '0200000a1401a8c0419c500006000000 02000000000000006c00000000000000',
      '1401a8c00100000abb01409c06000000 01000000000000003600000000000000',
      '3500000a0100000a3500e91411000000 01000000000000006600000000000000',
    ]),
  },
  {
    imports: 'BpfSystem, BpfMap, Program, u32, u64',
    check: (stdout) => assert.equal(stdout, '0n\n1n\n'),
  },
];

test('README: the library examples run and print what they say', async (t) => {
  const { default: ts } = await import('typescript');
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  assert.equal(blocks.length, README_TS.length);
  const dir = tempDir('tsbpf-readme-ts-');
  const entry = fileURLToPath(new URL('../src/index.js', import.meta.url));
  for (const [i, want] of README_TS.entries()) {
    const source = blocks[i]!;
    assert.match(source, new RegExp(`^import \\{ ${want.imports} \\} from 'tsbpf';$`, 'm'));
    await t.test(`block ${i + 1}: import { ${want.imports} }`, { todo: want.todo }, () => {
      const js = ts.transpileModule(source.replace(/from 'tsbpf';/g, `from ${JSON.stringify(entry)};`), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const file = join(dir, `block${i + 1}.mjs`);
      writeFileSync(file, js);
      const r = spawnSync(process.execPath, [file], { cwd: projectRoot(), encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      want.check(r.stdout);
    });
  }
});
