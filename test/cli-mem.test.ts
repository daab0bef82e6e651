/**
 * Raw-memory runs: `tsbpf run PROG --mem HEX | --mem-file F` and the API's
 * MemProgram, tsbpf's mem program type (r1 = the buffer, r2 = its length,
 * verified for exactly that length, or unverified in the checked
 * interpreter), checked against the bpf_conformance vectors; and --link
 * ethernet|raw, where a socket filter's --data has its network header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { MemProgram } from '../src/api/mem-program.js';
import { loadVectors } from './conformance-data.js';
import { MIX } from './frames.js';
import { expectErr } from './expect-error.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const dir = tempDir('tsbpf-cli-mem-');

function prog(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// r0 = buf[3]; buf[0] = r0
const BYTE3 = prog('byte3.s', 'r0 = *(u8 *)(r1 +3)\n*(u8 *)(r1 +0) = r0\nexit\n');

test('--mem: r1 is the buffer, verified for its length; the buffer after the run is shown', async () => {
  const r = await tsbpf(['run', BYTE3, '--mem', '0102032a']);
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'retval  0x2a (42)');
  assert.match(lines[1]!, /^runs {4}1 × .* \(verified, WebAssembly JIT\)$/);
  assert.equal(lines[2], 'memory  2a 02 03 2a');
  const j = JSON.parse((await tsbpf(['run', BYTE3, '--mem', '01 02 03 2a', '--json'])).stdout) as Record<string, unknown>;
  assert.deepEqual([j['retval'], j['memory'], j['runs']], [42, '2a02032a', 1]);
  const i = JSON.parse((await tsbpf(['run', BYTE3, '--mem', '0102032a', '--json', '--engine', 'interpreter'])).stdout) as Record<string, unknown>;
  assert.deepEqual([i['retval'], i['memory']], [42, '2a02032a']);
});

test('--mem: the verifier bounds every access by the buffer length', async () => {
  const past = prog('past.s', 'r0 = *(u32 *)(r1 +4)\nexit\n');
  const r = await tsbpf(['run', past, '--mem', '0102032a05']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '0: (61) r0 = *(u32 *)(r1 +4)\ninvalid bpf_context access off=4 size=4\n');
  assert.equal(r.stderr, `tsbpf: ${past}: insn 0: invalid bpf_context access off=4 size=4 (EACCES)\n`);
  // the same program over 8 bytes is fine
  assert.equal(JSON.parse((await tsbpf(['run', past, '--mem', '0000000007000000', '--json'])).stdout).retval, 7);
  const neg = prog('neg.s', 'r0 = *(u8 *)(r1 -1)\nexit\n');
  assert.equal((await tsbpf(['run', neg, '--mem', '00'])).stderr, `tsbpf: ${neg}: insn 0: invalid bpf_context access off=-1 size=1 (EACCES)\n`);
});

test('--mem: r2 holds the length, a constant the verifier knows, and --unverified reads it too', async () => {
  const len = prog('len.s', 'mov %r0, %r2\nexit\n');
  const v = JSON.parse((await tsbpf(['run', len, '--mem', '0102032a', '--json'])).stdout) as Record<string, unknown>;
  assert.equal(v['retval'], 4);
  const u = JSON.parse((await tsbpf(['run', len, '--mem', '0102032a', '--unverified', '--json'])).stdout) as Record<string, unknown>;
  assert.equal(u['retval'], 4);
  // every run sees r2, whatever the engine and however many runs (a JIT batch of runs carries no r2)
  for (const engine of ['interpreter', 'jit-hardened']) {
    const h = JSON.parse((await tsbpf(['run', len, '--mem', '0102032a', '--unverified', '--engine', engine, '--repeat', '3', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual([h['retval'], h['runs']], [4, 3], engine);
  }
  // unverified: the checked interpreter faults past the end instead
  const past = prog('past2.s', 'r0 = *(u8 *)(r1 +4)\nexit\n');
  const f = await tsbpf(['run', past, '--mem', '0102032a', '--unverified']);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /^tsbpf: .*: pc 0: invalid read of 1 bytes? at 0x[0-9a-f]+.* \(EFAULT\)\n$/);
});

test('--mem-file, --mem-file -, an empty buffer (r1 NULL), and a spec of prog_type mem', async () => {
  const buf = join(dir, 'buf.bin');
  writeFileSync(buf, Uint8Array.of(9, 8, 7, 6));
  const f = JSON.parse((await tsbpf(['run', BYTE3, '--mem-file', buf, '--json'])).stdout) as Record<string, unknown>;
  assert.deepEqual([f['retval'], f['memory']], [6, '06080706']);
  const s = JSON.parse((await tsbpf(['run', BYTE3, '--mem-file', '-', '--json'], Uint8Array.of(0, 0, 0, 5))).stdout) as Record<string, unknown>;
  assert.equal(s['retval'], 5);
  const empty = await tsbpf(['run', prog('seven.s', 'mov %r0, 7\nexit\n'), '--mem', '']);
  assert.equal(empty.stdout.split('\n')[2], 'memory  (empty)');
  assert.equal(empty.stdout.split('\n')[0], 'retval  0x7 (7)');
  const spec = prog('mem.json', JSON.stringify({ prog_type: 'mem', insns: ['7110030000000000', '9500000000000000'] }));
  const d = JSON.parse((await tsbpf(['run', spec, '--data', '0102032a', '--json'])).stdout) as Record<string, unknown>;
  assert.deepEqual([d['retval'], d['memory']], [42, '0102032a']);
});

test('the bpf_conformance vectors run through run --mem as through their runner', async () => {
  const vectors = loadVectors().filter((v) => v.result !== undefined && v.error === undefined);
  const wrong: string[] = [];
  let verified = 0;
  for (const v of vectors) {
    const mem = Buffer.from(v.mem).toString('hex');
    // helper 5 is uBPF's unwind, which only the conformance plugin's environment has
    if (/call 5\b/.test(v.asm) || v.name === 'callx') continue;
    const r = await tsbpf(['run', '-', '--mem', mem, '--unverified', '--json'], v.asm);
    if (r.status !== 0 || BigInt((JSON.parse(r.stdout) as { retval: number | string }).retval) !== v.result) wrong.push(`${v.name}: ${r.stderr}`);
    // and where 3.19's verifier accepts the program under the mem type, the verified run agrees
    const q = await tsbpf(['run', '-', '--mem', mem, '--json'], v.asm);
    if (q.status === 0) {
      verified++;
      if (BigInt((JSON.parse(q.stdout) as { retval: number | string }).retval) !== v.result) wrong.push(`${v.name} (verified): ${q.stdout}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(vectors.length, 313);
  assert.equal(verified, 300, 'vectors the verifier accepts under the mem type (r2 a known constant)');
});

test('MemProgram: the API of --mem', () => {
  const sys = new BpfSystem();
  const p = MemProgram.load(sys, { insns: 'r0 = *(u8 *)(r1 +3)\n*(u32 *)(r1 +0) = r0\nexit\n', size: 4, logLevel: 1 });
  assert.equal(p.verified, true);
  assert.equal(p.log, '0: (71) r0 = *(u8 *)(r1 +3)\n1: (63) *(u32 *)(r1 +0) = r0\n2: (95) exit\n');
  const r = p.runMem(Uint8Array.of(1, 2, 3, 42));
  assert.equal(r.retval, 42n);
  assert.deepEqual(Array.from(r.memory), [42, 0, 0, 0]);
  // repeated runs share one copy: the second sees the first's write
  assert.equal(p.runMem(Uint8Array.of(1, 2, 3, 42), 2).retval, 0n);
  assert.equal(p.run(Uint8Array.of(0, 0, 0, 9)), 9n);
  expectErr(() => p.run(new Uint8Array(5)), 'EINVAL', 'the program was loaded for a 4-byte buffer, got 5 bytes');
  expectErr(() => MemProgram.load(sys, { insns: 'r0 = *(u8 *)(r1 +4)\nexit\n', size: 4 }), 'EACCES', 'insn 0: invalid bpf_context access off=4 size=1');
  expectErr(() => MemProgram.load(sys, { insns: 'r0 = 0\nexit\n', size: -1 }), 'EINVAL', 'mem_size must be an unsigned 32-bit integer, got -1');
  expectErr(() => MemProgram.load(sys, { insns: 'r0 = 0\nexit\n', size: 2 ** 25 }), 'EINVAL', 'mem_size must be an integer in 0..16777216, got 33554432');
  const u = MemProgram.load(sys, { insns: 'r0 = r2\nexit\n', size: 3, verify: false });
  assert.equal(u.verified, false);
  assert.equal(u.run(new Uint8Array(3)), 3n);
  assert.equal(u.runMem(new Uint8Array(3), 3, 'jit-hardened').retval, 3n);
  p.close();
  expectErr(() => p.run(new Uint8Array(4)), 'EBADF', `program fd ${p.fd} is closed`);
  // mem_size belongs to the mem type
  expectErr(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: new Uint8Array(Buffer.from('b7000000000000009500000000000000', 'hex')), license: 'GPL', mem_size: 4 }), 'EINVAL', 'mem_size is for the mem program type, not socket_filter');
});

test('--link raw: the packet starts at the IP header (SKF_NET_OFF + 9 is the protocol)', async () => {
  const proto = prog('proto.s', 'mov %r6, %r1\nldabsb -1048567\nexit\n');
  const frame = Buffer.from(MIX[2]!).toString('hex'); // Ethernet + IPv4 + UDP
  const ip = Buffer.from(MIX[2]!.subarray(14)).toString('hex');
  const run = async (data: string, link?: string): Promise<unknown> =>
    (JSON.parse((await tsbpf(['run', proto, '--data', data, '--json', ...(link ? ['--link', link] : [])])).stdout) as Record<string, unknown>)['retval'];
  assert.equal(await run(frame), 17);
  assert.equal(await run(frame, 'ethernet'), 17);
  assert.equal(await run(ip, 'raw'), 17);
  // an IP packet read as Ethernet: byte 14 + 9 of it is the low byte of the UDP destination port
  assert.equal(await run(ip, 'ethernet'), 53);
  const unverified = JSON.parse((await tsbpf(['run', proto, '--data', ip, '--link', 'raw', '--unverified', '--json'])).stdout) as Record<string, unknown>;
  assert.equal(unverified['retval'], 17);
  const rep = await tsbpf(['run', proto, '--data', ip, '--link', 'raw', '--repeat', '3']);
  assert.match(rep.stdout, /^retval {2}0x11 \(17\)\nruns {4}3 × /);
});

test('--link and --mem misuse: one line each', async () => {
  const cases: [string[], string][] = [
    [['run', BYTE3, '--data', '00', '--link', 'ppp'], "tsbpf: --link must be ethernet or raw, got 'ppp' (EINVAL)"],
    [['run', BYTE3, '--link', 'raw'], 'tsbpf: --link says where the network header of --data or --data-file is (a capture says it itself) (EINVAL)'],
    [['run', BYTE3, '--mem', '00', '--data', '00'], 'tsbpf: --data, --data-file, --pcap, --mem and --mem-file are exclusive (usage: tsbpf run PROG [--data HEX | --data-file FILE | --pcap CAPTURE] [--repeat N] [--json]) (EINVAL)'],
    [['run', BYTE3, '--mem', '0g'], "tsbpf: --mem: --mem is not hexadecimal: '0g' (EINVAL)"],
    [['run', BYTE3, '--mem', '012'], 'tsbpf: --mem: --mem has an odd number of hex digits (EINVAL)'],
  ];
  for (const [args, line] of cases) {
    const r = await tsbpf(args);
    assert.equal(r.stderr, line + '\n', args.join(' '));
    assert.equal(r.status, 2);
  }
  const spec = prog('unspec.json', JSON.stringify({ prog_type: 'unspec', insns: ['b700000000000000', '9500000000000000'] }));
  const u = await tsbpf(['run', spec, '--data', '00', '--link', 'raw']);
  assert.equal(u.stderr, `tsbpf: ${spec}: --link applies to socket filters, this is a unspec program (EINVAL)\n`);
});
