/**
 * '-' for every input file (PROG, captures, data, scripts, objects), the
 * capture read from standard input as it arrives so that a live pipe's
 * packets are printed one by one (`tcpdump -U -w - | tsbpf filter F -`),
 * and `-w -` writing the filtered capture to standard output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCapture } from '../src/pcap/index.js';
import { main } from '../src/cli/main.js';
import { MIX, mixPcap } from './frames.js';
import { BIN, tsbpf, tsbpfLive } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-stdin-');
process.env['TZ'] = 'UTC';
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const SYN = join(EXAMPLES, 'syn-filter.s');
const PCAP = mixPcap();
const capture = join(dir, 'mix.pcap');
writeFileSync(capture, PCAP);
const ACCEPT = join(dir, 'accept.s');
writeFileSync(ACCEPT, 'mov %r0, -1\nexit\n');

/** The capture's global header, then each record (16-byte header + data) alone. */
function pieces(): Uint8Array[] {
  const out = [PCAP.subarray(0, 24)];
  let at = 24;
  for (const p of MIX) {
    out.push(PCAP.subarray(at, at + 16 + p.length));
    at += 16 + p.length;
  }
  return out;
}

const lineCount = (s: string): number => s.split('\n').length - 1;

/** Wait until `cond` holds; fail after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`${what} (waited ${ms} ms)`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('filter F -: each packet is printed before the next one arrives', async () => {
  const [header, ...records] = pieces();
  let live: ReturnType<typeof tsbpfLive> | undefined;
  let ended = false;
  async function* feed(): AsyncGenerator<Uint8Array> {
    // the header with the first record; the second record split in two chunks
    yield Buffer.concat([header!, records[0]!]);
    await waitFor(() => lineCount(live!.stdout()) === 1, 'packet 1 was not printed while the stream waited');
    yield records[1]!.subarray(0, 20);
    // half a record is no packet yet
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(lineCount(live!.stdout()), 1);
    yield records[1]!.subarray(20);
    for (let i = 1; i < records.length; i++) {
      await waitFor(() => lineCount(live!.stdout()) === i + 1, `packet ${i + 1} was not printed while the stream waited`);
      if (i + 1 < records.length) yield records[i + 1]!;
    }
    ended = true;
  }
  live = tsbpfLive(['filter', ACCEPT, '-'], feed());
  const r = await live.done;
  assert.equal(ended, true);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, (await tsbpf(['filter', ACCEPT, capture])).stdout);
  assert.equal(lineCount(r.stdout), 5);
  assert.match(r.stderr, /^tsbpf: 5 packets .*; 5 matched\n$/);
});

test('filter -l (tcpdump -l) and --json read from a stream the same way', async () => {
  for (const extra of [['-l'], ['--json']]) {
    const [header, ...records] = pieces();
    let live: ReturnType<typeof tsbpfLive> | undefined;
    async function* feed(): AsyncGenerator<Uint8Array> {
      yield Buffer.concat([header!, records[0]!]);
      await waitFor(() => lineCount(live!.stdout()) === 1, `${extra[0]}: packet 1 not printed while the stream waited`);
      yield* records.slice(1);
    }
    live = tsbpfLive(['filter', ACCEPT, '-', ...extra], feed());
    const r = await live.done;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lineCount(r.stdout), 5);
  }
});

test('a live pipe into the tsbpf process: the first packet is printed while the writer still writes', async () => {
  const [header, ...records] = pieces();
  const child = spawn(process.execPath, [BIN, 'filter', SYN, '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', TZ: 'UTC', TSBPF_DEBUG: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  child.stdin.write(Buffer.concat([header!, records[0]!]));
  try {
    // the pipe stays open: tsbpf has only the first packet, and prints it
    await waitFor(() => lineCount(out) === 1, 'the first SYN was not printed while the pipe was open', 20_000);
  } catch (e) {
    child.kill();
    throw e;
  }
  assert.equal(out, '01:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 7, win 4096, length 0\n');
  for (const r of records.slice(1)) child.stdin.write(r);
  child.stdin.end();
  assert.equal(await closed, 0, err);
  assert.equal(lineCount(out), 2);
  assert.match(err, /; 2 matched\n$/);
});

test('run --pcap - reads the capture from standard input', async () => {
  const fromFile = JSON.parse((await tsbpf(['run', SYN, '--pcap', capture, '--json'])).stdout) as Record<string, unknown>;
  const r = await tsbpf(['run', SYN, '--pcap', '-', '--json'], PCAP);
  assert.equal(r.status, 0, r.stderr);
  const fromStdin = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const k of ['retval', 'packets', 'accepted', 'maps', 'map_dump']) assert.deepEqual(fromStdin[k], fromFile[k], k);
  assert.equal(fromStdin['packets'], 5);
});

test('filter F - -w -: the filtered capture on standard output, ready for the next filter', async () => {
  const r = await tsbpf(['filter', SYN, '-', '-w', '-'], PCAP);
  assert.equal(r.status, 0, r.stderr);
  const got = [...parseCapture(r.stdoutBytes)];
  assert.deepEqual(got.map((p) => Array.from(p.data)), [Array.from(MIX[0]!), Array.from(MIX[3]!)]);
  // and through a second filter, as in a shell pipeline
  const second = await tsbpf(['filter', ACCEPT, '-', '--count'], r.stdoutBytes);
  assert.equal(second.stdout, '2 packets\n');
  const tty = await main(['filter', SYN, capture, '-w', '-'], {
    stdout: { write: () => assert.fail('wrote to the terminal'), isTTY: true },
    stderr: { write: (c) => assert.equal(c.toString(), 'tsbpf: -w -: standard output is a terminal; redirect it to a file or a pipe (EINVAL)\n') },
    stdin: { readAll: () => new Uint8Array(0), stream: () => assert.fail('read stdin') },
  });
  assert.equal(tty, 2);
  const both = await tsbpf(['filter', SYN, capture, '-w', '-', '--count']);
  assert.equal(both.stderr, 'tsbpf: --count and -w - both write to standard output (EINVAL)\n');
});

test("'-' as PROG, and as the input of every other command", async () => {
  const syn = readFileSync(SYN);
  const f = await tsbpf(['filter', '-', capture, '--count'], syn);
  assert.equal(f.stdout, '2 packets\n');
  assert.equal((await tsbpf(['disasm', '-'], syn)).stdout, (await tsbpf(['disasm', SYN])).stdout);
  assert.equal((await tsbpf(['verify', '-'], syn)).status, 0);
  const obj = new Uint8Array(readFileSync(join(EXAMPLES, 'flow-table.o')));
  assert.equal((await tsbpf(['inspect', '-'], obj)).stdout, (await tsbpf(['inspect', join(EXAMPLES, 'flow-table.o')])).stdout);
  const asm = await tsbpf(['asm', '-', '-o', '-'], 'mov %r0, 42\nexit\n');
  assert.equal(Buffer.from(asm.stdoutBytes).toString('hex'), 'b70000002a0000009500000000000000');
  const b = await tsbpf(['batch', '-'], 'map create m type array key 4 value 4 entries 1 name m\nmap dump name m\n');
  assert.equal(b.stdout, 'key: 00 00 00 00  value: 00 00 00 00\nFound 1 element\n');
  const twice = await tsbpf(['filter', '-', '-'], syn);
  assert.equal(twice.status, 2);
  assert.equal(twice.stderr, "tsbpf: standard input ('-') can be only one of the inputs (EINVAL)\n");
});

test('standard input that is not a capture: the error alone, exit 2', async () => {
  const r = await tsbpf(['filter', SYN, '-'], 'hello\n');
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'tsbpf: -: offset 0: unrecognised magic 0x68656c6c (EINVAL)\n');
});
