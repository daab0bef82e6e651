/**
 * `tsbpf batch` and `tsbpf shell`: bpftool's syntax, bpftool's plain output,
 * the JSON of CLI.md, and errors that do not stop the batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchSession, fprintHex, printEntry } from '../src/cli/batch.js';
import { spawnTsbpf, tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-batch-');


const SCRIPT = `# the strict 3.19 test_maps hash sequence, then an array map
map create /sys/fs/bpf/h type hash key 8 value 8 entries 2 name h
map update name h key 1 0 0 0 0 0 0 0 value hex d2 04 00 00 00 00 00 00 any
map update name h key 1 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0 noexist
map lookup name h key 1 0 0 0 0 0 0 0
map lookup id 1 key 2 0 0 0 0 0 0 0
map update pinned /sys/fs/bpf/h key 2 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0 exist
map update name h key 2 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0 noexist
map update name h key 0 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0 noexist
map getnext name h key 0 0 0 0 0 0 0 0
map getnext name h key 2 0 0 0 0 0 0 0
map getnext name h key 1 0 0 0 0 0 0 0
map dump name h

map create a type array key 4 value 4 entries 2 name a
map update name a key 1 0 0 0 value 0x2a 0 0 0
map delete name a key 1 0 0 0
map dump id 2
map lookup name nosuch key 1
map update name h key 1 2 value 1
map frobnicate
`;

test('batch --json prints one object per command line, in order', async () => {
  const f = join(dir, 'script.txt');
  writeFileSync(f, SCRIPT);
  const r = await tsbpf(['batch', f, '--json']);
  assert.equal(r.status, 1);
  const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(objs, [
    { ok: true, id: 1 },
    { ok: true },
    { ok: false, code: 'EEXIST' },
    { ok: true, value: 'd204000000000000' },
    { ok: false, code: 'ENOENT' },
    { ok: false, code: 'ENOENT' },
    { ok: true },
    { ok: false, code: 'E2BIG' },
    { ok: true, next_key: '0200000000000000' },
    { ok: true, next_key: '0100000000000000' },
    { ok: false, code: 'ENOENT' },
    { ok: true, name: 'h', type: 'hash', key_size: 8, value_size: 8, entries: [{ key: '0200000000000000', value: '0000000000000000' }, { key: '0100000000000000', value: 'd204000000000000' }] },
    { ok: true, id: 2 },
    { ok: true },
    { ok: false, code: 'EINVAL' },
    { ok: true, name: 'a', type: 'array', key_size: 4, value_size: 4, entries: [{ key: '00000000', value: '00000000' }, { key: '01000000', value: '2a000000' }] },
    { ok: false, code: 'ENOENT' },
    { ok: false, code: 'EINVAL' },
    { ok: false, code: 'EINVAL' },
  ]);
  // each failure has one stderr line naming the file and line
  const err = r.stderr.trim().split('\n');
  assert.equal(err.length, 9);
  assert.equal(err[0], `tsbpf: ${f}:4: the key exists (BPF_NOEXIST) (EEXIST)`);
  assert.equal(err[7], `tsbpf: ${f}:20: map update: key expected 8 bytes got 2 (EINVAL)`);
  assert.match(err[8]!, new RegExp(`^tsbpf: ${f}:21: unknown map command 'frobnicate'`));
});

test('batch human output follows bpftool', async () => {
  const f = join(dir, 'human.txt');
  writeFileSync(f, SCRIPT.split('\n').slice(0, 13).join('\n'));
  const r = await tsbpf(['batch', f]);
  assert.equal(r.stdout, [
    'key: 01 00 00 00 00 00 00 00  value: d2 04 00 00 00 00 00 00',
    'key:',
    '02 00 00 00 00 00 00 00',
    '',
    'Not found',
    'key:',
    '00 00 00 00 00 00 00 00',
    'next key:',
    '02 00 00 00 00 00 00 00',
    'key:',
    '02 00 00 00 00 00 00 00',
    'next key:',
    '01 00 00 00 00 00 00 00',
    'key: 02 00 00 00 00 00 00 00  value: 00 00 00 00 00 00 00 00',
    'key: 01 00 00 00 00 00 00 00  value: d2 04 00 00 00 00 00 00',
    'Found 2 elements',
    '',
  ].join('\n'));
});

test("bpftool's hex layout: groups of 8, lines of 16, names on their own lines for wide entries", async () => {
  const b = Uint8Array.from({ length: 20 }, (_, i) => i);
  assert.equal(fprintHex(b), '00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13');
  assert.equal(printEntry(Uint8Array.of(1), Uint8Array.of(2)), 'key: 01  value: 02\n');
  // 16 + 16 > 24: one line each, names inline
  assert.equal(printEntry(new Uint8Array(16), new Uint8Array(16)).split('\n').length, 3);
  assert.equal(printEntry(new Uint8Array(4), new Uint8Array(17)), 'key:\n00 00 00 00\nvalue:\n00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n00\n');
});

test('map create validates like bpftool and 3.19', async () => {
  const s = new BatchSession();
  const run = (l: string) => s.execute(l)!;
  assert.deepEqual(run('map create m type hash key 8 value 8 entries 4').result, { ok: false, code: 'EINVAL' });
  assert.equal(run('map create m type hash key 8 value 8 entries 4').error, "map create: 'name' is required (EINVAL)");
  assert.deepEqual(run('map create m type lru key 8 value 8 entries 4 name m').result, { ok: false, code: 'EINVAL' });
  assert.deepEqual(run('map create m type hash key 513 value 8 entries 4 name m').result, { ok: false, code: 'E2BIG' });
  assert.deepEqual(run('map create m type array key 8 value 8 entries 4 name m').result, { ok: false, code: 'EINVAL' });
  assert.deepEqual(run('map create m type hash key 8 value 8 entries 4 name m flags 1').result, { ok: false, code: 'EINVAL' });
  assert.deepEqual(run('map create m type hash key 0x8 value 010 entries 4 name m').result, { ok: true, id: 1 });
  assert.deepEqual(run('map create m type hash key 8 value 8 entries 4 name m2').result, { ok: false, code: 'EEXIST' });
  assert.equal(s.execute('   # only a comment'), undefined);
  assert.equal(s.execute(''), undefined);
  assert.deepEqual(run('map getnext name m').result, { ok: false, code: 'ENOENT' });
  assert.deepEqual(run('map update name m key hex ff 0 0 0 0 0 0 0 value hex 100 0 0 0 0 0 0 0').result, { ok: false, code: 'EINVAL' });
  assert.deepEqual(run('map update name m key 256 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0').result, { ok: false, code: 'EINVAL' });
  assert.deepEqual(run('map update name m key 1 0 0 0 0 0 0 0 value 0 0 0 0 0 0 0 0 sometimes').result, { ok: false, code: 'EINVAL' });
});

test('shell reads commands from stdin and keeps going after errors', async () => {
  const r = await tsbpf(['shell'], 'map create m type hash key 1 value 1 entries 4 name m\nmap update name m key 7 value 9\nbogus\nmap dump name m\nquit\nmap dump name m\n');
  assert.equal(r.stdout, 'key: 07  value: 09\nFound 1 element\n');
  assert.equal(r.stderr, "Error: unknown object 'bogus' (only 'map' so far) (EINVAL)\n");
  assert.equal(r.status, 1);
});

test('shell with its stdin piped into the tsbpf process: the same output and exit status', () => {
  const r = spawnTsbpf(['shell'], 'map create m type hash key 1 value 1 entries 4 name m\nmap update name m key 7 value 9\nbogus\nmap dump name m\nquit\n');
  assert.equal(r.stdout, 'key: 07  value: 09\nFound 1 element\n');
  assert.equal(r.stderr, "Error: unknown object 'bogus' (only 'map' so far) (EINVAL)\n");
  assert.equal(r.status, 1);
});

test('batch on a missing file is a usage error', async () => {
  const r = await tsbpf(['batch', join(dir, 'nope.txt')]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `tsbpf: ${join(dir, 'nope.txt')}: no such file (ENOENT)\n`);
});

test('batch --profile modern: 6.18\'s map types and flags, per-CPU values for --cpus CPUs, push/pop/peek on a queue', async () => {
  const f = join(dir, 'modern.txt');
  writeFileSync(f, [
    'map create /p type percpu_array key 4 value 4 entries 2 name pc',
    'map update name pc key 1 0 0 0 value 7 0 0 0',
    'map update name pc key 0 0 0 0 value 1 0 0 0 2 0 0 0',
    'map dump name pc',
    'map create /q type queue key 0 value 2 entries 2 name q',
    'map push name q value 1 2',
    'map enqueue name q value 3 4',
    'map push name q value 5 6',
    'map push name q value 5 6 exist',
    'map peek name q',
    'map pop name q',
    'map dequeue name q',
    'map pop name q',
    'map create /h type hash key 4 value 4 entries 4 name h flags 1',
    'map show name h',
  ].join('\n'));
  const r = await tsbpf(['batch', f, '--profile', 'modern', '--cpus', '2']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, [
    'key:\n00 00 00 00\nvalue (CPU 00): 01 00 00 00\nvalue (CPU 01): 02 00 00 00\n',
    'key:\n01 00 00 00\nvalue (CPU 00): 07 00 00 00\nvalue (CPU 01): 07 00 00 00\n',
    'Found 2 elements\n',
    'value:\n03 04\n', 'value:\n03 04\n', 'value:\n05 06\n',
    '3: hash  name h  flags 0x1\n\tkey 4B  value 4B  max_entries 4\n',
  ].join(''));
  assert.equal(r.stderr, `tsbpf: ${f}:8: the map is full (or the index is out of range) (E2BIG)\ntsbpf: ${f}:13: map pop: the map is empty (ENOENT)\n`);
  // the default is 3.19's: no such types, no flags
  const old = await tsbpf(['batch', f]);
  assert.match(old.stderr, /^tsbpf: [^\n]*:1: map type percpu_array \(6\) is not supported \(supported: hash, array\) \(EINVAL\)\n/);
  assert.match(old.stderr, /:14: map create: map flags 0x1 are not supported \(3\.19 has none; --profile modern has 6\.18's\) \(EINVAL\)\n/);
  assert.equal((await tsbpf(['batch', f, '--profile', '4.0'])).stderr, "tsbpf: --profile must be 3.19 or modern, got '4.0' (EINVAL)\n");
});
