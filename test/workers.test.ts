/**
 * Worker threads over one capture (WorkerPool, `--workers N` of `run --pcap`
 * and `filter`): a generated capture of a flow mix run with 1, 2 and 3
 * workers gives the same verdicts, the same `-w` bytes and the same maps as
 * the main thread alone (a flow-count hash map with XADD counters; a
 * per-CPU array whose per-CPU values sum to the one-thread totals), on the
 * interpreter and the JIT, through the API, the CLI in process and the CLI
 * as a process; and the errors of the option and the pool, one line each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import type { EngineName } from '../src/api/bpf.js';
import { BpfMap } from '../src/api/map.js';
import { Program } from '../src/api/program.js';
import { WorkerPool, defaultWorkers, indexCapture, POOL_MIN_BYTES } from '../src/api/pool.js';
import { CHUNK } from '../src/api/steer.js';
import { parseCapture } from '../src/pcap/reader.js';
import { FLOW_COUNT, PORT_80, flowCapture, programSpecJson, withFds } from '../src/bench/workers.js';
import { spawnTsbpf, tsbpf } from './cli-harness.js';
import { fastFilter } from '../src/cli/fast-filter.js';
import { tempDir } from './tmp.js';

const FRAMES = 20_000;
const dir = tempDir('tsbpf-workers-');
const captureBytes = flowCapture(FRAMES, { flows: 512 });
const capturePath = join(dir, 'flows.pcap');
writeFileSync(capturePath, captureBytes);
const FLOWS_MAP = { name: 'flows', type: 'hash', key_size: 16, value_size: 16, max_entries: 4096 };
const flowSpec = join(dir, 'flows.json');
writeFileSync(flowSpec, programSpecJson(FLOW_COUNT, [FLOWS_MAP]));
const portSpec = join(dir, 'port80.json');
writeFileSync(portSpec, programSpecJson(PORT_80, []));

/** The modern profile's per-CPU counters: packets and bytes in a percpu_array's one value, plain adds (a CPU is one thread). */
const PERCPU = `
    r6 = r1
    r7 = *(u32 *)(r6 +0)
    *(u32 *)(r10 -4) = 0
    r1 = map[fd:0]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r1 = *(u64 *)(r0 +8)
    r1 += r7
    *(u64 *)(r0 +8) = r1
out:
    r0 = r7
    exit
`;
const percpuSpec = join(dir, 'percpu.json');
writeFileSync(percpuSpec, programSpecJson(PERCPU, [{ name: 'counts', type: 'percpu_array', key_size: 4, value_size: 16, max_entries: 1 }]));

/** A map's entries as sorted hex pairs. */
function contents(m: BpfMap): string[] {
  return [...m.entries()].map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`).sort();
}

/** The flow count on the main thread alone (no pool, a memory that is not shared): verdicts and the map. */
function mainThread(engine: EngineName): { verdicts: number[]; flows: string[] } {
  const sys = new BpfSystem();
  const flows = BpfMap.create(sys, { type: 'hash', keySize: 16, valueSize: 16, maxEntries: 4096 });
  const prog = Program.load(sys, { insns: withFds(FLOW_COUNT, [flows.fd]), tiered: false });
  const verdicts = [...prog.runBatch([...parseCapture(captureBytes)], engine)];
  return { verdicts, flows: contents(flows) };
}

for (const engine of ['interpreter', 'jit'] as const) {
  test(`API: a flow count over ${FRAMES} frames on 1, 2 and 3 workers equals the main thread's (${engine})`, async () => {
    const expected = mainThread(engine);
    // the capture is a real mix: most packets are counted into a few hundred flows
    assert.equal(expected.flows.length > 200 && expected.flows.length <= 1024, true, `${expected.flows.length} flows`);
    const capture = indexCapture(new Uint8Array(captureBytes));
    for (const workers of [1, 2, 3]) {
      const sys = new BpfSystem({ shared: true, cpus: 3 });
      const flows = BpfMap.create(sys, { type: 'hash', keySize: 16, valueSize: 16, maxEntries: 4096 });
      const prog = Program.load(sys, { insns: withFds(FLOW_COUNT, [flows.fd]) });
      const pool = await WorkerPool.create(prog, { workers, engine });
      try {
        assert.equal(pool.size, workers);
        // twice over the same workers: the counters double, the verdicts stay
        const r = await pool.runCapture(capture);
        assert.equal(r.count, FRAMES);
        assert.equal(r.engines, engine);
        assert.deepEqual([...r.verdicts], expected.verdicts, `${workers} workers: verdicts`);
        assert.deepEqual(contents(flows), expected.flows, `${workers} workers: flows`);
        const again = await pool.runCapture(capture);
        assert.deepEqual([...again.verdicts], expected.verdicts);
        let packets = 0n;
        for (const [, v] of flows.entries()) packets += new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
        let ipv4 = 0;
        for (let i = 0; i < capture.count; i++) if (new DataView(capture.packet(i).data.buffer, capture.packet(i).data.byteOffset).getUint16(12) === 0x800) ipv4++;
        assert.equal(packets, BigInt(2 * ipv4));
      } finally {
        await pool.close();
        prog.close();
      }
    }
  });
}

test('API: packets come back in capture order, their bytes and stamps the reader\'s', () => {
  const capture = indexCapture(new Uint8Array(captureBytes));
  const ref = [...parseCapture(captureBytes)];
  assert.equal(capture.count, ref.length);
  for (const i of [0, 1, 777, ref.length - 1]) {
    const p = capture.packet(i);
    assert.deepEqual(p.data, ref[i]!.data);
    assert.equal(p.tsNs, ref[i]!.tsNs);
    assert.equal(p.origLen, ref[i]!.origLen);
    assert.equal(p.netOff, ref[i]!.netOff);
  }
  // pcapng goes through the reader: the same packets
  const truncated = captureBytes.subarray(0, captureBytes.length - 5);
  const cut = indexCapture(new Uint8Array(truncated));
  assert.equal(cut.count, ref.length - 1);
  assert.equal(cut.error?.message, `capture: offset ${truncated.length - (16 + ref[ref.length - 1]!.data.length) + 5}: truncated packet data (${ref[ref.length - 1]!.data.length} bytes declared, ${ref[ref.length - 1]!.data.length - 5} present)`);
});

test('API: the pool refuses what it cannot run, one line each', async () => {
  const plain = new BpfSystem();
  const m = BpfMap.create(plain, { type: 'hash', keySize: 16, valueSize: 16, maxEntries: 16, name: 'flows' });
  const p = Program.load(plain, { insns: withFds(FLOW_COUNT, [m.fd]) });
  await assert.rejects(WorkerPool.create(p, { workers: 2 }), { code: 'ENOTSUP', message: "the program uses map 'flows' (hash): worker threads share maps only in a system made with shared: true" });
  for (const bad of [0, 1.5, 257, '2']) {
    await assert.rejects(WorkerPool.create(p, { workers: bad as number }), { code: 'EINVAL', message: `workers must be an integer from 1 to 256, got ${typeof bad === 'string' ? `'${bad}' (a string)` : bad}` });
  }
  const shared = new BpfSystem({ shared: true, cpus: 2, profile: 'modern' });
  const q = Program.load(shared, { insns: PORT_80 });
  await assert.rejects(WorkerPool.create(q, { workers: 3 }), { code: 'EINVAL', message: 'the system has 2 CPUs: 3 workers need one each (BpfSystem option cpus)' });
  const trie = BpfMap.create(shared, { type: 'lpm_trie', keySize: 16, valueSize: 16, maxEntries: 16, flags: 1, name: 'routes' });
  const r = Program.load(shared, { insns: withFds(FLOW_COUNT, [trie.fd]) });
  await assert.rejects(WorkerPool.create(r, { workers: 2 }), { code: 'ENOTSUP', message: "the program uses map 'routes' (lpm_trie): maps of this type cannot be shared between worker threads" });
  const pool = await WorkerPool.create(q, { workers: 2 });
  // the pool holds the program: closing it meanwhile frees nothing the workers use
  q.close();
  const still = await pool.runCapture(captureBytes);
  assert.equal(still.count, FRAMES);
  await pool.close();
  await pool.close();
  await assert.rejects(pool.runCapture(captureBytes), { code: 'EBADF', message: 'the worker pool is closed' });
  await assert.rejects(WorkerPool.create({} as Program), { code: 'EINVAL' });
});

test('defaultWorkers: every core from POOL_MIN_BYTES, else 1', () => {
  assert.equal(defaultWorkers(POOL_MIN_BYTES - 1, 8), 1);
  assert.equal(defaultWorkers(POOL_MIN_BYTES, 8), 8);
  assert.equal(defaultWorkers(POOL_MIN_BYTES, 1), 1);
});

/** `tsbpf run SPEC --pcap CAPTURE --json` with these options: the JSON object, timing left out. */
async function runJson(spec: string, ...options: string[]): Promise<Record<string, unknown>> {
  const r = await tsbpf(['run', spec, '--pcap', capturePath, '--json', ...options]);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as Record<string, unknown>;
  delete o['duration_ns'];
  // one-time costs: times, and the first runs only one thread times alone
  delete o['startup'];
  delete o['workers'];
  // map_dump lists a hash map's elements in get_next_key order: within a bucket, the order the threads inserted them
  for (const d of o['map_dump'] as { entries?: unknown[] }[]) d.entries?.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return o;
}

for (const engine of ['interpreter', 'jit'] as const) {
  test(`CLI: run --pcap --retvals --workers 1, 2, 3 print the same retvals and maps (${engine})`, async () => {
    const one = await runJson(flowSpec, '--retvals', '--engine', engine, '--workers', '1');
    assert.equal(one['packets'], FRAMES);
    assert.equal((one['retvals'] as number[]).length, FRAMES);
    for (const w of ['2', '3']) assert.deepEqual(await runJson(flowSpec, '--retvals', '--engine', engine, '--workers', w), one, `--workers ${w}`);
  });

  test(`CLI: a per-CPU array's values over 2 workers sum to one thread's (${engine}, modern profile)`, async () => {
    const sum = (o: Record<string, unknown>): [bigint, bigint, number] => {
      const entry = (o['maps'] as { key: string; values: string[] }[][])[0]![0]!;
      let packets = 0n;
      let bytes = 0n;
      for (const v of entry.values) {
        const b = Buffer.from(v, 'hex');
        packets += b.readBigUInt64LE(0);
        bytes += b.readBigUInt64LE(8);
      }
      return [packets, bytes, entry.values.length];
    };
    const one = await runJson(percpuSpec, '--profile', 'modern', '--engine', engine, '--workers', '1');
    const two = await runJson(percpuSpec, '--profile', 'modern', '--engine', engine, '--workers', '2');
    const [p1, b1, cpus1] = sum(one);
    const [p2, b2, cpus2] = sum(two);
    assert.equal(p1, BigInt(FRAMES));
    assert.equal(cpus1, 1);
    // worker i on CPU i: two CPUs, each with its share
    assert.equal(cpus2, 2);
    assert.deepEqual([p2, b2], [p1, b1]);
    const perCpu = (two['maps'] as { values: string[] }[][])[0]![0]!.values.map((v) => Buffer.from(v, 'hex').readBigUInt64LE(0));
    // each CPU counted the chunks its worker took: whole chunks, but for the one that ran the last, shorter one
    assert.equal(perCpu.length, 2);
    assert.deepEqual(perCpu.map((c) => c % BigInt(CHUNK)).filter((r) => r !== 0n), [BigInt(FRAMES % CHUNK)]);
  });
}

test('CLI: filter -w on 1, 2 and 3 workers writes the same bytes, and the same lines', async () => {
  const written: Uint8Array[] = [];
  for (const w of ['1', '2', '3']) {
    const out = join(dir, `port80-${w}.pcap`);
    const r = await tsbpf(['filter', portSpec, capturePath, '-w', out, '--workers', w]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^tsbpf: ${FRAMES} packets .*; \\d+ matched${w === '1' ? '' : `; ${w} workers`}\\n$`));
    written.push(new Uint8Array(readFileSync(out)));
  }
  assert.ok(written[0]!.length > 24 + 100 * 16, `${written[0]!.length} bytes`);
  assert.deepEqual(written[1], written[0]);
  assert.deepEqual(written[2], written[0]);
  const lines = await tsbpf(['filter', portSpec, capturePath, '--workers', '1']);
  const lines2 = await tsbpf(['filter', portSpec, capturePath, '--workers', '2', '--json']);
  const lines1 = await tsbpf(['filter', portSpec, capturePath, '--workers', '1', '--json']);
  assert.equal(lines2.stdout, lines1.stdout);
  assert.equal(lines.stdout.split('\n').length, lines1.stdout.split('\n').length);
});

test('CLI: an expression with --workers 1 takes the fast path (one thread), with --workers 2 the pool: the same count', async () => {
  const out: string[] = [];
  const io = { stdout: { write: (c: string | Uint8Array) => out.push(String(c)) }, stderr: { write: () => true }, stdin: { readAll: () => assert.fail('stdin'), stream: () => assert.fail('stdin') } };
  assert.equal(await fastFilter(['tcp port 80', capturePath, '--count', '--workers', '1'], io as never), 0);
  assert.equal(await fastFilter(['tcp port 80', capturePath, '--count', '--workers', '2'], io as never), undefined);
  const pooled = await tsbpf(['filter', 'tcp port 80', capturePath, '--count', '--workers', '2']);
  assert.equal(pooled.status, 0, pooled.stderr);
  assert.match(out.join(''), /^\d+ packets\n$/);
  assert.equal(pooled.stdout, out.join(''));
});

test('CLI process: filter --workers 2 and --count as a process of its own', () => {
  const one = spawnTsbpf(['filter', portSpec, capturePath, '--count', '--workers', '1']);
  const two = spawnTsbpf(['filter', portSpec, capturePath, '--count', '--workers', '2']);
  assert.equal(one.status, 0, one.stderr);
  assert.equal(two.status, 0, two.stderr);
  assert.match(one.stdout, /^\d+ packets\n$/);
  assert.equal(two.stdout, one.stdout);
});

test('CLI: a bad capture on 2 workers: what one thread says (the packets before a fault, then its error; not a capture: the error alone)', async () => {
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, captureBytes.subarray(0, 300_000));
  const bad = join(dir, 'bad.pcap');
  writeFileSync(bad, 'not a capture at all');
  for (const file of [cut, bad, join(dir, 'missing.pcap')]) {
    const one = await tsbpf(['filter', portSpec, file, '--workers', '1']);
    const two = await tsbpf(['filter', portSpec, file, '--workers', '2']);
    assert.equal(two.status, 2);
    assert.equal(two.status, one.status);
    assert.equal(two.stdout, one.stdout);
    // the throughput line's time and the workers aside
    const last = (s: string): string => s.split('\n').filter((l) => !l.startsWith('tsbpf: ') || !/ packets \(/.test(l)).join('\n');
    assert.equal(last(two.stderr), last(one.stderr));
  }
  const one = await tsbpf(['filter', portSpec, cut, '--workers', '1']);
  assert.match(one.stderr, /truncated packet data/);
  assert.ok(one.stdout.split('\n').length > 10);
});

test('CLI: --workers errors, one line each', async () => {
  for (const bad of ['0', 'abc', '100000', '-1']) {
    const r = await tsbpf(['filter', portSpec, capturePath, '--workers', bad]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `tsbpf: --workers must be an integer from 1 to 256, got '${bad}' (EINVAL)\n`);
  }
  const r = await tsbpf(['run', portSpec, '--data', '00', '--workers', '2']);
  assert.equal(r.stderr, 'tsbpf: --workers applies to --pcap (the packets of a capture are split between the workers) (EINVAL)\n');
  const trieSpec = join(dir, 'trie.json');
  writeFileSync(trieSpec, programSpecJson(FLOW_COUNT, [{ ...FLOWS_MAP, name: 'routes', type: 'lpm_trie', flags: 1 }]));
  const trie = await tsbpf(['run', trieSpec, '--pcap', capturePath, '--workers', '2']);
  assert.equal(trie.status, 2);
  assert.equal(trie.stderr, `tsbpf: ${trieSpec}: --workers 2: map 'routes' (lpm_trie) cannot be shared between worker threads (ENOTSUP)\n`);
  // without --workers, the same program quietly runs on one thread
  const quiet = await tsbpf(['run', trieSpec, '--pcap', capturePath]);
  assert.equal(quiet.status, 0, quiet.stderr);
  const unverified = await tsbpf(['filter', portSpec, capturePath, '--unverified', '--workers', '2']);
  assert.equal(unverified.stderr, `tsbpf: ${portSpec}: --workers 2: an unverified program runs on one thread (a fault must stop the capture at its packet) (ENOTSUP)\n`);
});
