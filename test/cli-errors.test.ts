/**
 * The CLI on captures that are not captures (issue 13, finding 8), run
 * through main(). tcpdump -r is the model: a file that does not open
 * as a capture gives the error alone; a capture that opens and then faults
 * gives the results for the packets read, then the error. tsbpf exits 2 in
 * both cases (tcpdump exits 1). A directory is EISDIR, never EINVAL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap } from '../src/pcap/index.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-errors-');
process.env['TZ'] = 'UTC';
const run = (args: string[]) => tsbpf(args);
const synFilter = fileURLToPath(new URL('../../examples/syn-filter.s', import.meta.url));

const text = join(dir, 'notes.pcap');
writeFileSync(text, 'this is not a capture at all\n');
const short = join(dir, 'short.pcap');
writeFileSync(short, Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1, 2, 0)); // the magic, then 6 of 24 header bytes
const folder = join(dir, 'captures');
mkdirSync(folder);
// a valid header, then a first record whose header is cut after 10 bytes
const headerOnly = join(dir, 'first-record-cut.pcap');
writeFileSync(headerOnly, writePcap([{ data: new Uint8Array(60), tsNs: 0n }], 1).subarray(0, 24 + 10));

for (const [name, file, message] of [
  ['text', text, `offset 0: unrecognised magic 0x74686973 (EINVAL)`],
  ['a cut global header', short, `offset 0: truncated file header (EINVAL)`],
] as const) {
  test(`run --pcap and filter on ${name}: the error alone, exit 2`, async () => {
    for (const args of [['run', synFilter, '--pcap', file], ['run', synFilter, '--pcap', file, '--json'], ['filter', synFilter, file], ['filter', synFilter, file, '--count']]) {
      const r = await run(args);
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(r.stderr, `tsbpf: ${file}: ${message}\n`, args.join(' '));
      assert.equal(r.status, 2);
    }
    // and -w leaves no output file behind: the capture never opened
    const out = join(dir, `${name.replace(/ /g, '-')}.out.pcap`);
    const w = await run(['filter', synFilter, file, '-w', out]);
    assert.equal(w.status, 2);
    assert.equal(existsSync(out), false);
  });
}

test('a capture that opens and faults before its first packet: the (empty) results, then the error', async () => {
  const r = await run(['run', synFilter, '--pcap', headerOnly, '--json']);
  assert.equal(r.status, 2);
  const j = JSON.parse(r.stdout) as Record<string, unknown> & { startup: { load_ns: number; jit_compile_ns: number; first_runs: unknown[] } };
  // the load happened, no packet ran (the tier's compile may or may not have ended meanwhile)
  assert.deepEqual(Object.keys(j.startup), ['load_ns', 'jit_compile_ns', 'first_runs']);
  assert.deepEqual(j.startup.first_runs, []);
  delete (j as Record<string, unknown>)['startup'];
  assert.deepEqual(j, { retval: 0, duration_ns: 0, runs: 0, maps: [], map_dump: [], packets: 0, accepted: 0 });
  assert.equal(r.stderr, `tsbpf: ${headerOnly}: offset 24: truncated record header (EINVAL)\n`);
  const c = await run(['filter', synFilter, headerOnly, '--count']);
  assert.equal(c.status, 2);
  assert.equal(c.stdout, '0 packets\n');
  assert.equal(c.stderr, `tsbpf: ${headerOnly}: offset 24: truncated record header (EINVAL)\n`);
});

test('a directory as the capture or as -w is EISDIR', async () => {
  for (const args of [['filter', synFilter, folder], ['run', synFilter, '--pcap', folder], ['filter', synFilter, folder, '--count']]) {
    const r = await run(args);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `tsbpf: ${folder}: is a directory (EISDIR)\n`);
    assert.equal(r.status, 2);
  }
  const good = join(dir, 'good.pcap');
  writeFileSync(good, writePcap([{ data: new Uint8Array(60), tsNs: 0n }], 1));
  const w = await run(['filter', synFilter, good, '-w', folder]);
  assert.equal(w.stderr, `tsbpf: ${folder}: is a directory (EISDIR)\n`);
  assert.equal(w.status, 2);
  const missing = join(dir, 'missing.pcap');
  const m = await run(['filter', synFilter, missing]);
  assert.equal(m.stderr, `tsbpf: ${missing}: no such file (ENOENT)\n`);
  assert.equal(m.status, 2);
});
