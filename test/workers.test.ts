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
import { WorkerPool, PoolPacketError, defaultWorkers, indexCapture, INDEX_WORDS, POOL_MIN_BYTES } from '../src/api/pool.js';
import { CHUNK, flowHash, hashWords, workerOf } from '../src/api/steer.js';
import { PacketRunner } from '../src/api/packets.js';
import { parseCapture } from '../src/pcap/reader.js';
import { FLOW_COUNT, PORT_80, XDP_FLOW_COUNT, flowCapture, programSpecJson, withFds } from '../src/bench/workers.js';
import { FrameRunner } from '../src/api/frames.js';
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

/** How many of the capture's packets flow steering gives each of `workers` workers. */
function steeredCounts(workers: number): bigint[] {
  const capture = indexCapture(new Uint8Array(captureBytes));
  const counts = new Array<bigint>(workers).fill(0n);
  for (let i = 0; i < capture.count; i++) {
    const x = capture.index.subarray(i * INDEX_WORDS);
    counts[workerOf(flowHash(capture.bytes, x[0]!, x[1]!, x[3]!), workers)]! += 1n;
  }
  return counts;
}

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
        assert.equal(pool.steer, 'chunk');
        // each steering from empty maps, then once more over the same workers: the counters double, the verdicts stay
        for (const steer of ['flow', 'chunk'] as const) {
          for (const k of [...flows.keys()]) flows.delete(k);
          const r = await pool.runCapture(capture, { steer });
          assert.equal(r.count, FRAMES);
          assert.equal(r.engines, engine);
          assert.deepEqual([...r.verdicts], expected.verdicts, `${workers} workers, steer ${steer}: verdicts`);
          assert.deepEqual(contents(flows), expected.flows, `${workers} workers, steer ${steer}: flows`);
          // r0 of the last packet in capture order, whichever worker ran it
          assert.equal(r.lastRetval, BigInt(expected.verdicts.at(-1)!));
        }
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
    for (const w of ['2', '3']) {
      for (const steer of [[], ['--steer', 'flow'], ['--steer', 'chunk']]) {
        assert.deepEqual(await runJson(flowSpec, '--retvals', '--engine', engine, '--workers', w, ...steer), one, `--workers ${w} ${steer.join(' ')}`);
      }
    }
  });

  test(`CLI: a per-CPU array's values over 2 workers sum to one thread's, by flow and by chunk (${engine}, modern profile)`, async () => {
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
    const [p1, b1, cpus1] = sum(one);
    assert.equal(p1, BigInt(FRAMES));
    assert.equal(cpus1, 1);
    const perCpu = (o: Record<string, unknown>): bigint[] => (o['maps'] as { values: string[] }[][])[0]![0]!.values.map((v) => Buffer.from(v, 'hex').readBigUInt64LE(0));
    for (const steer of ['chunk', 'flow']) {
      const two = await runJson(percpuSpec, '--profile', 'modern', '--engine', engine, '--workers', '2', '--steer', steer);
      const [p2, b2, cpus2] = sum(two);
      // worker i on CPU i: two CPUs, each with its share
      assert.equal(cpus2, 2);
      assert.deepEqual([p2, b2], [p1, b1]);
      if (steer === 'chunk') {
        // each CPU counted the chunks its worker took: whole chunks, but for the one that ran the last, shorter one
        assert.deepEqual(perCpu(two).map((c) => c % BigInt(CHUNK)).filter((r) => r !== 0n), [BigInt(FRAMES % CHUNK)]);
      } else {
        // each CPU counted the packets whose flows hash to its worker
        assert.deepEqual(perCpu(two), steeredCounts(2));
      }
    }
  });
}

test('CLI: filter -w on 1, 2 and 3 workers writes the same bytes, and the same lines', async () => {
  const written: Uint8Array[] = [];
  for (const [w, steer] of [['1', 'flow'], ['2', 'flow'], ['3', 'flow'], ['2', 'chunk'], ['3', 'chunk']] as const) {
    const out = join(dir, `port80-${w}-${steer}.pcap`);
    const r = await tsbpf(['filter', portSpec, capturePath, '-w', out, '--workers', w, '--steer', steer]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^tsbpf: ${FRAMES} packets .*; \\d+ matched${w === '1' ? '' : `; ${w} workers`}\\n$`));
    written.push(new Uint8Array(readFileSync(out)));
  }
  assert.ok(written[0]!.length > 24 + 100 * 16, `${written[0]!.length} bytes`);
  for (const w of written.slice(1)) assert.deepEqual(w, written[0]);
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

// ---- flow steering ----

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];
const be32 = (b: readonly number[], at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const ipv4Words = (a: string): number => a.split('.').reduce((x, o) => ((x << 8) | Number(o)) >>> 0, 0);

/** An IPv4 header (20 bytes, no options) and its payload: flags/fragment offset as given. */
function ipv4(src: string, dst: string, proto: number, payload: number[], fragWord = 0): number[] {
  const h = [0x45, 0, 0, 20 + payload.length, 0, 1, fragWord >> 8, fragWord & 255, 64, proto, 0, 0];
  for (const a of [src, dst]) h.push(...a.split('.').map(Number));
  return [...h, ...payload];
}

/** An IPv6 header (40 bytes) and its payload. */
function ipv6(src: number[], dst: number[], next: number, payload: number[]): number[] {
  return [0x60, 0, 0, 0, payload.length >> 8, payload.length & 255, next, 64, ...src, ...dst, ...payload];
}

const ports = (sp: number, dp: number, rest = 16): number[] => [sp >> 8, sp & 255, dp >> 8, dp & 255, ...new Array<number>(rest).fill(0)];
const ether = (dst: number[], src: number[], type: number, payload: number[]): number[] => [...dst, ...src, type >> 8, type & 255, ...payload];

/** The key words of steer.ts's hash, built here from what the flow is (the endpoints put in order by hand). */
const tag4 = (proto: number): number => (4 << 8) | proto;

/**
 * Hand-made frames, each padded to a length of its own (the test program
 * counts by the length), with the key the steering must hash them by.
 */
function handFrames(): { name: string; frame: Uint8Array; key: number[] }[] {
  const a = '10.1.2.3';
  const b = '192.168.7.9';
  const v6a = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x01];
  const v6b = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x02];
  const macWords = (m: number[]): number[] => [be32(m, 0), (m[4]! << 8) | m[5]!];
  const v6words = (x: number[]): number[] => [0, 4, 8, 12].map((i) => be32(x, i));
  const tcpKey = [tag4(6), ipv4Words(a), ipv4Words(b), ((40000 << 16) | 443) >>> 0];
  const list: { name: string; bytes: number[]; key: number[]; cut?: number }[] = [
    { name: 'IPv4 TCP', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(a, b, 6, ports(40000, 443))), key: tcpKey },
    { name: 'IPv4 TCP, the other direction', bytes: ether(MAC_A, MAC_B, 0x800, ipv4(b, a, 6, ports(443, 40000))), key: tcpKey },
    { name: 'IPv4 UDP', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(b, a, 17, ports(53, 5353))), key: [tag4(17), ipv4Words(a), ipv4Words(b), ((5353 << 16) | 53) >>> 0] },
    { name: 'IPv4 TCP under a VLAN tag', bytes: [...MAC_B, ...MAC_A, 0x81, 0x00, 0, 7, ...ether([], [], 0x800, ipv4(a, b, 6, ports(40001, 80)))], key: [tag4(6), ipv4Words(a), ipv4Words(b), ((40001 << 16) | 80) >>> 0] },
    { name: 'IPv4 first fragment (MF)', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(b, a, 17, ports(1, 2), 0x2000)), key: [tag4(17), ipv4Words(a), ipv4Words(b)] },
    { name: 'IPv4 later fragment', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(a, b, 17, ports(9, 9), 0x0010)), key: [tag4(17), ipv4Words(a), ipv4Words(b)] },
    { name: 'IPv4 ICMP', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(a, b, 1, ports(0x0800, 0))), key: [tag4(1), ipv4Words(a), ipv4Words(b)] },
    { name: 'IPv6 UDP', bytes: ether(MAC_B, MAC_A, 0x86dd, ipv6(v6b, v6a, 17, ports(5000, 53))), key: [(6 << 8) | 17, ...v6words(v6a), ...v6words(v6b), ((53 << 16) | 5000) >>> 0] },
    { name: 'IPv6 behind a hop-by-hop header', bytes: ether(MAC_B, MAC_A, 0x86dd, ipv6(v6a, v6b, 0, ports(5000, 53))), key: [6 << 8, ...v6words(v6a), ...v6words(v6b)] },
    { name: 'ARP', bytes: ether([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MAC_A, 0x806, new Array<number>(28).fill(1)), key: [0x10000, ...macWords(MAC_A), ...macWords([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])] },
    // cut inside the source address: the MAC pair's key (under a VLAN tag: the test run refuses an untagged IPv4 frame that short)
    { name: 'IPv4 header cut short', bytes: [...MAC_B, ...MAC_A, 0x81, 0x00, 0, 7, ...ether([], [], 0x800, ipv4(a, b, 6, ports(1, 2)))], key: [0x10000, ...macWords(MAC_A), ...macWords(MAC_B)], cut: 18 + 14 },
    // cut inside the ports: the address pair's key
    { name: 'IPv4 TCP ports cut short', bytes: ether(MAC_B, MAC_A, 0x800, ipv4(a, b, 6, ports(1, 2))), key: [tag4(6), ipv4Words(a), ipv4Words(b)], cut: 14 + 22 },
  ];
  // lengths 60, 80, ... (the program's key is skb->len, the frame less its 14-byte Ethernet header)
  return list.map((f, i) => {
    const len = 60 + 20 * i;
    const bytes = [...f.bytes, ...new Array<number>(Math.max(0, len - f.bytes.length)).fill(0)].slice(0, f.cut ?? len);
    return { name: f.name, frame: new Uint8Array(bytes), key: f.key };
  });
}

/** A classic pcap of `frames` (Ethernet), each kept as given (its length on the wire at least 60). */
function pcapOf(frames: readonly Uint8Array[]): Uint8Array {
  const out: number[] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
  const u32le = (v: number): number[] => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
  frames.forEach((f, i) => out.push(...u32le(1), ...u32le(i), ...u32le(f.length), ...u32le(Math.max(60, f.length)), ...f));
  return new Uint8Array(out);
}

/** Modern socket filter: a per-CPU array's counter at skb->len (under 512) bumped. */
const BY_LEN = `
    r6 = r1
    r7 = *(u32 *)(r6 +0)
    r7 &= 511
    *(u32 *)(r10 -4) = r7
    r1 = map[fd:0]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
out:
    r0 = 0
    exit
`;

test('steering: hand-made frames run on the worker their flow key hashes to (IPv4 both ways, VLAN, fragments, IPv6, ARP, cut headers)', async () => {
  const frames = handFrames();
  // every frame 3 times over, in turns
  const capture = pcapOf([...frames, ...frames, ...frames].map((f) => f.frame));
  for (const workers of [2, 3]) {
    const sys = new BpfSystem({ shared: true, cpus: workers, profile: 'modern' });
    const counts = BpfMap.create(sys, { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 512 });
    const prog = Program.load(sys, { insns: withFds(BY_LEN, [counts.fd]), type: 'socket_filter' });
    const pool = await WorkerPool.create(prog, { workers, steer: 'flow' });
    try {
      const r = await pool.runCapture(capture);
      assert.equal(r.count, 3 * frames.length);
      for (const f of frames) {
        // computed here: the key's hash (steer.ts's word mixing), its top 16 bits scaled to the workers
        const want = ((hashWords(f.key) >>> 16) * workers) >>> 16;
        const perCpu = counts.lookupPerCpu(new Uint8Array(new Uint32Array([(f.frame.length - 14) & 511]).buffer))!.map((v) => Buffer.from(v).readBigUInt64LE(0));
        const expected = new Array<bigint>(workers).fill(0n);
        expected[want] = 3n;
        assert.deepEqual(perCpu, expected, `${f.name}, ${workers} workers`);
      }
      // both directions of the TCP connection hash alike, and the cut headers hash as their shorter keys
      assert.equal(flowHash(frames[0]!.frame, 0, frames[0]!.frame.length, 1), flowHash(frames[1]!.frame, 0, frames[1]!.frame.length, 1));
    } finally {
      await pool.close();
      prog.close();
    }
  }
});

test('steering: the same packets hash alike on every link type (raw IP, Linux cooked v1 and v2), cut anywhere without a throw', () => {
  const tcp = ipv4('10.0.0.1', '10.0.0.2', 6, ports(1000, 22));
  const key = hashWords([tag4(6), ipv4Words('10.0.0.1'), ipv4Words('10.0.0.2'), ((1000 << 16) | 22) >>> 0]);
  const sll = [0, 0, 0, 1, 0, 6, ...MAC_A, 0, 0, 0x08, 0x00, ...tcp];
  const sll2 = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, ...MAC_A, 0, 0, ...tcp];
  const cases: [number, number[]][] = [[1, ether(MAC_B, MAC_A, 0x800, tcp)], [101, tcp], [228, tcp], [12, tcp], [113, sll], [276, sll2]];
  for (const [linkType, bytes] of cases) {
    const b = new Uint8Array(bytes);
    assert.equal(flowHash(b, 0, b.length, linkType), key, `link type ${linkType}`);
    // every cut: some hash, never a throw; and never a read past the cut (the same hash with garbage after it)
    const padded = new Uint8Array(b.length + 64).fill(0xee);
    for (let cut = 0; cut <= b.length; cut++) {
      padded.set(b.subarray(0, cut));
      padded.fill(0xee, cut);
      assert.equal(flowHash(padded, 0, cut, linkType), flowHash(b.subarray(0, cut), 0, cut, linkType), `link type ${linkType} cut at ${cut}`);
    }
  }
  // not IP without a MAC pair (cooked ARP, raw garbage, BSD loopback): worker 0's hash
  assert.equal(flowHash(new Uint8Array([0, 0, 0, 1, 0, 6, ...MAC_A, 0, 0, 0x08, 0x06, 1, 2]), 0, 18, 113), 0);
  assert.equal(flowHash(new Uint8Array([0x10, 1, 2, 3]), 0, 4, 101), 0);
  assert.equal(flowHash(new Uint8Array(tcp), 0, tcp.length, 0), 0);
  assert.equal(workerOf(0, 7), 0);
  assert.equal(workerOf(0xffffffff, 7), 6);
});

/** Modern socket filter: a per-CPU hash map of IPv4 flows as the packet has them (source first), a packet counter each. */
const PERCPU_FLOWS = `
    r6 = r1
    r0 = *(u8 *)skb[0]
    r0 >>= 4
    if r0 != 4 goto out
    r0 = *(u32 *)skb[12]
    *(u32 *)(r10 -16) = r0
    r0 = *(u32 *)skb[16]
    *(u32 *)(r10 -12) = r0
    r0 = *(u32 *)skb[20]
    *(u32 *)(r10 -8) = r0
    r0 = *(u8 *)skb[9]
    *(u32 *)(r10 -4) = r0
    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    call 1
    if r0 != 0 goto have
    *(u64 *)(r10 -24) = 0
    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -24
    r4 = 0
    call 2
    r1 = map[fd:0]
    r2 = r10
    r2 += -16
    call 1
    if r0 == 0 goto out
have:
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
out:
    r0 = 0
    exit
`;

test('steering: a per-CPU counter per flow direction is non-zero on one CPU only, the same as the other direction\'s, 3 workers', async () => {
  const sys = new BpfSystem({ shared: true, cpus: 3, profile: 'modern' });
  const flows = BpfMap.create(sys, { type: 'percpu_hash', keySize: 16, valueSize: 8, maxEntries: 4096 });
  const prog = Program.load(sys, { insns: withFds(PERCPU_FLOWS, [flows.fd]), type: 'socket_filter' });
  const pool = await WorkerPool.create(prog, { workers: 3, steer: 'flow' });
  try {
    await pool.runCapture(captureBytes);
    const cpuOf = new Map<string, number>();
    let total = 0n;
    for (const k of flows.keys()) {
      const values = flows.lookupPerCpu(k)!.map((x) => Buffer.from(x).readBigUInt64LE(0));
      const on = values.flatMap((c, cpu) => (c === 0n ? [] : [cpu]));
      assert.equal(on.length, 1, `flow ${Buffer.from(k).toString('hex')}: counted on CPUs ${on.join(', ')}`);
      cpuOf.set(Buffer.from(k).toString('hex'), on[0]!);
      total += values[on[0]!]!;
    }
    // every worker had flows, and the reversed key (addresses and ports swapped) ran on the same CPU
    assert.deepEqual([...new Set(cpuOf.values())].sort(), [0, 1, 2]);
    let reversed = 0;
    for (const [hex, cpu] of cpuOf) {
      const k = Buffer.from(hex, 'hex');
      const back = Buffer.concat([k.subarray(4, 8), k.subarray(0, 4), k.subarray(10, 12), k.subarray(8, 10), k.subarray(12)]).toString('hex');
      if (!cpuOf.has(back)) continue;
      reversed++;
      assert.equal(cpuOf.get(back), cpu, `flow ${hex} and its other direction`);
    }
    assert.ok(reversed > 100, `${reversed} flows seen both ways`);
    let ipv4 = 0;
    const capture = indexCapture(new Uint8Array(captureBytes));
    for (let i = 0; i < capture.count; i++) if (capture.packet(i).data[12] === 0x08 && capture.packet(i).data[13] === 0) ipv4++;
    assert.equal(total, BigInt(ipv4));
  } finally {
    await pool.close();
    prog.close();
  }
});

/** An unverified socket filter that faults (a load from address 0) on packets whose byte 50 is 0xee. */
const FAULT_ON_MARK = `
    r6 = r1
    r0 = *(u8 *)skb[50]
    if r0 != 0xee goto ok
    r3 = 0
    r0 = *(u64 *)(r3 +0)
ok:
    r0 = 1
    exit
`;

test('steering: the first failure in capture order is the one reported, whichever worker met it first', async () => {
  const bytes = new Uint8Array(captureBytes);
  const capture = indexCapture(bytes);
  // marked packets: IPv4 ones of different flows on different workers (flow steering over 2), far apart
  const ownerOf = (i: number): number => workerOf(flowHash(capture.bytes, capture.index[i * INDEX_WORDS]!, capture.index[i * INDEX_WORDS + 1]!, 1), 2);
  const isIpv4 = (i: number): boolean => capture.packet(i).data[12] === 0x08 && capture.packet(i).data.length > 50;
  let late = FRAMES - 1;
  while (!isIpv4(late)) late--;
  let early = 9000;
  while (!isIpv4(early) || ownerOf(early) === ownerOf(late)) early++;
  const marked = new Uint8Array(bytes);
  for (const i of [early, late]) marked[capture.index[i * INDEX_WORDS]! + 50] = 0xee;
  const sys = new BpfSystem();
  const prog = Program.load(sys, { insns: FAULT_ON_MARK, verify: false, tiered: false });
  // what one thread says at the first marked packet
  const runner = new PacketRunner(sys, prog);
  const first = capture.packet(early);
  let message = '';
  try {
    runner.run(marked.subarray(first.data.byteOffset, first.data.byteOffset + first.data.length), first.netOff);
  } catch (e) {
    message = (e as Error).message;
  } finally {
    runner.close();
  }
  assert.notEqual(message, '');
  for (const steer of ['flow', 'chunk'] as const) {
    for (const workers of [1, 2, 3]) {
      const pool = await WorkerPool.create(prog, { workers, steer });
      try {
        const e = await pool.runCapture(marked, { oneByOne: true }).then(() => undefined, (x: unknown) => x);
        assert.ok(e instanceof PoolPacketError, `${workers} workers, steer ${steer}: ${String(e)}`);
        assert.deepEqual([e.code, e.packet, e.message], ['EFAULT', early, message], `${workers} workers, steer ${steer}`);
      } finally {
        await pool.close();
      }
    }
  }
  prog.close();
});

test('steering: a steer mode other than flow or chunk is EINVAL, one line (API and CLI process)', async () => {
  const sys = new BpfSystem();
  const prog = Program.load(sys, { insns: PORT_80 });
  await assert.rejects(WorkerPool.create(prog, { workers: 2, steer: 'rss' as never }), { code: 'EINVAL', message: "steer must be 'flow' or 'chunk', got 'rss' (a string)" });
  const pool = await WorkerPool.create(prog, { workers: 2, steer: 'chunk' });
  try {
    assert.equal(pool.steer, 'chunk');
    await assert.rejects(pool.runCapture(captureBytes, { steer: 1 as never }), { code: 'EINVAL', message: "steer must be 'flow' or 'chunk', got 1" });
  } finally {
    await pool.close();
    prog.close();
  }
  const bad = spawnTsbpf(['filter', portSpec, capturePath, '--workers', '2', '--steer', 'rss']);
  assert.deepEqual([bad.status, bad.stdout, bad.stderr], [2, '', "tsbpf: --steer must be flow or chunk, got 'rss' (EINVAL)\n"]);
  const noPcap = spawnTsbpf(['run', portSpec, '--data', '00', '--steer', 'flow']);
  assert.deepEqual([noPcap.status, noPcap.stderr], [2, 'tsbpf: --steer applies to --pcap (how the workers share the packets of a capture) (EINVAL)\n']);
  const runBad = await tsbpf(['run', flowSpec, '--pcap', capturePath, '--steer', 'chunks']);
  assert.deepEqual([runBad.status, runBad.stderr], [2, "tsbpf: --steer must be flow or chunk, got 'chunks' (EINVAL)\n"]);
});

/** Per flow key: packets and bytes summed over the CPUs (a per-CPU map's values, or the one value). */
function flowTotals(m: BpfMap): Map<string, [bigint, bigint]> {
  const out = new Map<string, [bigint, bigint]>();
  for (const k of m.keys()) {
    let p = 0n;
    let b = 0n;
    for (const v of m.perCpu ? m.lookupPerCpu(k)! : [m.lookup(k)!]) {
      p += Buffer.from(v).readBigUInt64LE(0);
      b += Buffer.from(v).readBigUInt64LE(8);
    }
    out.set(Buffer.from(k).toString('hex'), [p, b]);
  }
  return out;
}

for (const type of ['percpu_hash', 'hash'] as const) {
  test(`the XDP flow counter (bench) over a ${type}: 1 and 2 workers and the main thread count the same packets and bytes per flow, every frame XDP_PASS`, async () => {
    // what the program counts, from the capture directly: IPv4 frames, and their IPv4 total lengths
    const capture = indexCapture(new Uint8Array(captureBytes));
    let ipv4 = 0n;
    let ipBytes = 0n;
    for (let i = 0; i < capture.count; i++) {
      const d = capture.packet(i).data;
      if (d.length >= 38 && d[12] === 0x08 && d[13] === 0) {
        ipv4++;
        ipBytes += BigInt((d[16]! << 8) | d[17]!);
      }
    }
    const results: Map<string, [bigint, bigint]>[] = [];
    // the main thread, unshared memory, as run --pcap without workers
    {
      const sys = new BpfSystem({ profile: 'modern' });
      const flows = BpfMap.create(sys, { type, keySize: 16, valueSize: 16, maxEntries: 4096 });
      const prog = Program.load(sys, { type: 'xdp', insns: withFds(XDP_FLOW_COUNT, [flows.fd]), tiered: false });
      const runner = new FrameRunner(sys, prog.fd);
      for (let i = 0; i < capture.count; i++) assert.equal(runner.run(capture.packet(i).data), 2);
      runner.close();
      results.push(flowTotals(flows));
      prog.close();
    }
    for (const workers of [1, 2]) {
      const sys = new BpfSystem({ profile: 'modern', shared: true, cpus: 2 });
      const flows = BpfMap.create(sys, { type, keySize: 16, valueSize: 16, maxEntries: 4096 });
      const prog = Program.load(sys, { type: 'xdp', insns: withFds(XDP_FLOW_COUNT, [flows.fd]), tiered: false });
      const pool = await WorkerPool.create(prog, { workers, steer: 'chunk' });
      try {
        const r = await pool.runCapture(captureBytes);
        assert.equal(r.count, FRAMES);
        assert.equal(r.verdicts.every((v) => v === 2), true);
        assert.equal(r.retvals!.every((v) => v === 2n), true);
        results.push(flowTotals(flows));
        if (type === 'percpu_hash' && workers === 2) {
          // each worker counted on its own CPU: both CPUs have packets
          const perCpu = [0n, 0n];
          for (const k of flows.keys()) flows.lookupPerCpu(k)!.forEach((v, cpu) => (perCpu[cpu]! += Buffer.from(v).readBigUInt64LE(0)));
          assert.equal(perCpu[0]! > 0n && perCpu[1]! > 0n, true, `per-CPU packets ${perCpu.join(', ')}`);
          assert.equal(perCpu[0]! + perCpu[1]!, ipv4);
        }
      } finally {
        await pool.close();
        prog.close();
      }
    }
    const total = [...results[0]!.values()].reduce(([p, b], [x, y]) => [p + x, b + y], [0n, 0n]);
    assert.deepEqual(total, [ipv4, ipBytes]);
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });
}

test("frame mode: every packet's r0 whole in retvals, a negative one and one above 32 bits, on 2 workers", async () => {
  const sys = new BpfSystem({ profile: 'modern', shared: true, cpus: 2 });
  for (const [asm, r0] of [['r0 = -3\nexit', -3n], ['r0 = 0x7fffffff\nr0 <<= 8\nexit', 0x7fffffff00n]] as const) {
    const prog = Program.load(sys, { type: 'socket_filter', insns: asm });
    const pool = await WorkerPool.create(prog, { workers: 2 });
    try {
      const r = await pool.runCapture(captureBytes);
      assert.equal(r.retvals!.length, FRAMES);
      assert.equal(r.retvals!.every((v) => v === r0), true);
      assert.equal(r.verdicts.every((v) => v === Number(BigInt.asUintN(32, r0))), true);
      assert.equal(r.lastRetval, BigInt.asUintN(64, r0));
    } finally {
      await pool.close();
      prog.close();
    }
  }
});
