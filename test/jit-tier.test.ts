/**
 * Tiered execution and the JIT's compile cost (issue 21, item 1): a tiered
 * load runs on the interpreter until its background compile resolves and on
 * the JIT after, with the same verdicts and maps as either engine alone,
 * tiers switched mid capture; the module cache hands back the module the
 * emitter would make again; the emitter's number LEB128 is the BigInt one's.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { BpfSystem, engineOf } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { PacketRunner, TIER_UP_INSNS } from '../src/api/packets.js';
import { Runtime } from '../src/runtime/runtime.js';
import { JitProgram, moduleCache } from '../src/jit/program.js';
import { JitTier } from '../src/jit/tier.js';
import { Bytes } from '../src/jit/wasm.js';
import { toSlots } from '../src/isa/instruction.js';
import { workloads, prng } from '../src/bench/workloads.js';
import { tcpFrame, udpFrame } from './frames.js';
import { tsbpf } from './cli-harness.js';
import { tempDir } from './tmp.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const FLOW_TABLE = new Uint8Array(readFileSync(join(EXAMPLES, 'flow-table.o')));

/** 600 frames over 33 flows, TCP and UDP, in a fixed pseudo-random order */
function capture(): { data: Uint8Array; netOff: number }[] {
  const rnd = prng(21);
  const out: { data: Uint8Array; netOff: number }[] = [];
  for (let i = 0; i < 600; i++) {
    const r = rnd();
    const data = r < 0.2 ? udpFrame() : tcpFrame(0x10, 40000 + Math.floor(r * 40), 80);
    out.push({ data, netOff: 14 });
  }
  return out;
}

/** The flow table's entries as hex, sorted. */
function flows(p: Program): string[] {
  const m = p.maps['flows']!;
  return [...m.entries()].map(([k, v]) => `${Buffer.from(k as Uint8Array).toString('hex')}=${Buffer.from(v as Uint8Array).toString('hex')}`).sort();
}

/** The capture's verdicts and final flow table, each packet run on the engine `pick(i)` chooses (undefined: the runner's tier). */
async function runOn(packets: readonly { data: Uint8Array; netOff: number }[], tiered: boolean, pick?: (i: number) => 'jit' | 'interpreter', awaitAt?: number): Promise<{ verdicts: number[]; flows: string[]; ran: string }> {
  const sys = new BpfSystem();
  const p = Program.load(sys, { insns: FLOW_TABLE, tiered });
  const runners = pick ? { jit: new PacketRunner(sys, p, 'jit'), interpreter: new PacketRunner(sys, p, 'interpreter') } : undefined;
  const tierRunner = new PacketRunner(sys, p);
  const verdicts: number[] = [];
  for (let i = 0; i < packets.length; i++) {
    if (i === awaitAt) await p.object.prog.tier!.settled;
    const r = runners ? runners[pick!(i)] : tierRunner;
    verdicts.push(r.run(packets[i]!.data, packets[i]!.netOff));
  }
  const out = { verdicts, flows: flows(p), ran: tierRunner.enginesRun };
  tierRunner.close();
  runners?.jit.close();
  runners?.interpreter.close();
  p.close();
  return out;
}

test('a tiered capture switches from the interpreter to the JIT between runs, with the verdicts and maps of each engine alone', async () => {
  const packets = capture();
  const interp = await runOn(packets, false, () => 'interpreter');
  const jit = await runOn(packets, false, () => 'jit');
  assert.deepEqual(jit.verdicts, interp.verdicts);
  assert.deepEqual(jit.flows, interp.flows);
  // 32 TCP flows (ports 40008..40039: r in [0.2, 1)) and the one UDP flow
  assert.equal(interp.flows.length, 33);
  // tiers alternating packet by packet over the same maps
  const alternating = await runOn(packets, true, (i) => (i % 3 === 0 ? 'jit' : 'interpreter'));
  assert.deepEqual(alternating.verdicts, interp.verdicts);
  assert.deepEqual(alternating.flows, interp.flows);
  // the tiered runner: the interpreter, then the JIT from the first run after the compile resolved
  const tiered = await runOn(packets, true, undefined, 250);
  assert.equal(tiered.ran, 'interpreter then jit');
  assert.deepEqual(tiered.verdicts, interp.verdicts);
  assert.deepEqual(tiered.flows, interp.flows);
});

test('a tiered load runs its first verdict on the interpreter and never waits for the JIT', async () => {
  const sys = new BpfSystem();
  const p = Program.load(sys, { insns: FLOW_TABLE });
  const prog = p.object.prog;
  assert.equal(prog.tier!.ready(), undefined);
  assert.equal(engineOf(prog).engineName, 'interpreter');
  const r = new PacketRunner(sys, p);
  assert.equal(r.enginesRun, '');
  r.runBatch([{ data: tcpFrame(0x02, 1, 2), netOff: 14 }]);
  assert.equal(r.enginesRun, 'interpreter');
  await prog.tier!.settled;
  assert.equal(engineOf(prog).engineName, 'jit');
  r.runBatch([{ data: tcpFrame(0x02, 1, 2), netOff: 14 }, { data: udpFrame(), netOff: 14 }]);
  assert.equal(r.enginesRun, 'interpreter then jit');
  assert.equal(r.engineName, 'jit');
  assert.deepEqual(flows(p).length, 2);
  r.close();
  p.close();
});

test('a synchronous batch moves to the JIT inside it: compiled on the spot after TIER_UP_INSNS instructions per instruction on the interpreter, the verdicts and maps of the interpreter alone', async () => {
  const packets = capture();
  const interp = await runOn(packets, false, () => 'interpreter');
  const sys = new BpfSystem();
  const p = Program.load(sys, { insns: FLOW_TABLE });
  const prog = p.object.prog;
  const r = new PacketRunner(sys, p);
  // one call: the event loop never turns, so only the runner's own compile can bring the JIT in
  const verdicts = r.runBatch(packets);
  assert.equal(prog.tier!.ready()?.engineName, 'jit');
  assert.equal(r.enginesRun, 'interpreter then jit');
  assert.deepEqual([...verdicts], interp.verdicts);
  assert.deepEqual(flows(p), interp.flows);
  // each engine's first run alone: the interpreter's first packet, then the JIT's first batch of one
  assert.deepEqual(r.firstRuns.map((f) => f.engine), ['interpreter', 'jit']);
  assert.ok(r.firstRuns.every((f) => f.ms >= 0));
  assert.equal(TIER_UP_INSNS, 32);
  r.close();
  p.close();
  // the count is the program's, not the runner's: Program.runBatch's runner per call reaches it too
  const sys2 = new BpfSystem();
  const p2 = Program.load(sys2, { insns: FLOW_TABLE });
  for (let i = 0; i < packets.length; i += 100) p2.runBatch(packets.slice(i, i + 100));
  assert.equal(p2.object.prog.tier!.ready()?.engineName, 'jit');
  assert.deepEqual(flows(p2), interp.flows);
  p2.close();
  // run by run: the first run after the interpreter has executed TIER_UP_INSNS * 53 instructions is the JIT's
  const sys3 = new BpfSystem();
  const p3 = Program.load(sys3, { insns: FLOW_TABLE });
  const prog3 = p3.object.prog;
  const r3 = new PacketRunner(sys3, p3);
  let executed = 0;
  const limit = TIER_UP_INSNS * prog3.slots.length;
  assert.equal(prog3.slots.length, 53);
  for (let i = 0; i < 100; i++) {
    r3.run(packets[i]!.data, 14);
    assert.equal(r3.engineName, executed < limit ? 'interpreter' : 'jit', `run ${i}`);
    if (r3.engineName === 'interpreter') executed += prog3.interpreter.executed;
  }
  assert.ok(executed >= limit && executed < limit + 60, String(executed));
  assert.deepEqual(r3.firstRuns.map((f) => f.engine), ['interpreter', 'jit']);
  r3.close();
  p3.close();
});

test('asking for the JIT compiles a tiered program on the spot; an eager load (tiered: false) has it at once', async () => {
  const sys = new BpfSystem();
  const p = Program.load(sys, { insns: FLOW_TABLE });
  const prog = p.object.prog;
  assert.equal(prog.tier!.ready(), undefined);
  assert.equal(p.testRun(new Uint8Array(64), 1, 'jit').engine, 'jit');
  const forced = prog.tier!.ready();
  assert.ok(forced instanceof JitProgram);
  // the background compile that ends later is dropped: the forced JIT stays
  await prog.tier!.settled;
  assert.equal(prog.tier!.ready(), forced);
  p.close();
  const eager = Program.load(sys, { insns: FLOW_TABLE, tiered: false });
  assert.equal(eager.object.prog.tier, undefined);
  assert.equal(eager.testRun(new Uint8Array(64)).engine, 'jit');
  eager.close();
  // the bare bpf(2) interface is eager by default
  assert.equal(sys.jitTiering, false);
});

test('a tiered program closed before its compile resolves gives its memory back', async () => {
  const sys = new BpfSystem();
  const warm = Program.load(sys, { insns: FLOW_TABLE });
  await warm.object.prog.tier!.settled;
  warm.close();
  const before = sys.runtime.mem.allocatedBytes;
  for (let i = 0; i < 3; i++) {
    const p = Program.load(sys, { insns: FLOW_TABLE });
    const tier = p.object.prog.tier!;
    p.close();
    await tier.settled;
    assert.equal(tier.ready(), undefined);
  }
  assert.equal(sys.runtime.mem.allocatedBytes, before);
});

test('JitTier freed before its deferred start: the start compiles nothing, the reservation is given back once, and the compile closures are let go', async () => {
  let started: (() => void) | undefined;
  let laterCalls = 0;
  let cancels = 0;
  let later: (() => Promise<JitProgram>) | undefined = () => {
    laterCalls++;
    return Promise.reject(new Error('not to be called'));
  };
  // the closure's only other holder is the tier: once it lets go, a WeakRef to it may clear
  const ref = new WeakRef(later);
  const tier = new JitTier(() => { throw new Error('not to be called'); }, later, () => { cancels++; }, (start) => { started = start; });
  later = undefined;
  tier.free();
  assert.equal(cancels, 1);
  assert.equal(tier.force(), undefined);
  started!();
  await tier.settled;
  assert.equal(laterCalls, 0);
  assert.equal(cancels, 1);
  assert.equal(tier.ready(), undefined);
  // what the tier still holds: nothing of the program (gc() taken from a fresh context once the flag allows it)
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // (a WeakRef keeps its target to the end of the task that made it)
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.equal(ref.deref(), undefined);
});

test('the module cache: the same program compiled again is a hit, with the same results; another scratch address is a miss', () => {
  const w = workloads().find((x) => x.name === 'alu')!;
  const slots = toSlots(w.insns);
  const results: bigint[] = [];
  const hits0 = moduleCache.hits;
  const misses0 = moduleCache.misses;
  moduleCache.clear();
  for (let i = 0; i < 2; i++) {
    const rt = new Runtime();
    const addr = rt.mem.alloc(w.input.length);
    rt.mem.write(addr, w.input);
    const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
    results.push(jit.run({ r1: addr, r2: w.input.length }).r0);
    assert.ok(jit.wasmBytes > 10_000);
  }
  assert.equal(moduleCache.misses - misses0, 1);
  assert.equal(moduleCache.hits - hits0, 1);
  assert.equal(results[0], results[1]);
  // a runtime whose allocations differ puts the scratch area elsewhere: compiled anew
  const rt = new Runtime();
  rt.mem.alloc(4096);
  const addr = rt.mem.alloc(w.input.length);
  rt.mem.write(addr, w.input);
  const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
  assert.equal(moduleCache.misses - misses0, 2);
  assert.equal(jit.run({ r1: addr, r2: w.input.length }).r0, results[0]);
});

test('the emitter writes a safe integer as the same signed LEB128 as its BigInt', () => {
  const rnd = prng(7);
  const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 0x7fffffff, -0x80000000, 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (let i = 0; i < 200; i++) values.push(Math.floor((rnd() - 0.5) * 2 ** Math.floor(rnd() * 53)));
  for (const v of values) {
    assert.deepEqual([...new Bytes().sNum(v).buf], [...new Bytes().s64(BigInt(v)).buf], `${v}`);
  }
  // the buffer grows past its first 256 bytes
  const b = new Bytes();
  for (let i = 0; i < 1000; i++) b.byte(i);
  assert.equal(b.buf.length, 1000);
  assert.equal(b.buf[999], 999 & 0xff);
});

test('the CLI names the engines that ran a capture: tiered by default, one engine with --engine', async () => {
  const pcap = join(EXAMPLES, 'sample.pcap');
  const tiered = await tsbpf(['run', join(EXAMPLES, 'flow-table.o'), '--pcap', pcap]);
  assert.equal(tiered.status, 0);
  // (which engines run a 9-packet capture depends on when the background compile resolves: the JIT may
  // even be ready before the first packet, the capture being read meanwhile)
  assert.match(tiered.stdout, /^runs {4}\d+(\.\d+)? [µm]?s per packet \((interpreter|interpreter then jit|jit)\)$/m);
  const jit = await tsbpf(['run', join(EXAMPLES, 'flow-table.o'), '--pcap', pcap, '--engine', 'jit']);
  assert.match(jit.stdout, /^runs {4}\d+(\.\d+)? [µm]?s per packet \(jit\)$/m);
  // the one-time costs on their own line: the load, the tier's compile when it ran, each engine's first run
  const t = '\\d+\\.\\d+ (ns|µs|ms)';
  assert.match(tiered.stdout.split('\n')[2]!, new RegExp(`^startup load ${t}(, JIT compile ${t})?, first run ${t} \\((interpreter|jit)\\)(, ${t} \\(jit\\))?$`));
  assert.match(jit.stdout.split('\n')[2]!, new RegExp(`^startup load ${t}, first run ${t} \\(jit\\)$`));
  const j = JSON.parse((await tsbpf(['run', join(EXAMPLES, 'flow-table.o'), '--pcap', pcap, '--engine', 'interpreter', '--json'])).stdout) as { startup: { load_ns: number; jit_compile_ns: number; first_runs: { engine: string; ns: number }[] } };
  assert.deepEqual(Object.keys(j.startup), ['load_ns', 'jit_compile_ns', 'first_runs']);
  assert.equal(j.startup.jit_compile_ns, 0);
  assert.deepEqual(j.startup.first_runs.map((f) => Object.keys(f).join()), ['engine,ns']);
  assert.equal(j.startup.first_runs[0]!.engine, 'interpreter');
  assert.ok(j.startup.load_ns > 0 && j.startup.first_runs[0]!.ns > 0);
  // the same maps either way
  const times = (out: string): string => out.replace(/^runs .*$/m, '').replace(/^startup .*$/m, '');
  assert.equal(times(tiered.stdout), times(jit.stdout));
});

test('run --pcap of an XDP program over 3000 frames: tiered (the JIT compiled on the spot if the background compile has not ended) gives the interpreter\'s verdicts and map', async () => {
  const dir = tempDir('tsbpf-tier-');
  try {
    // sample.pcap's 9 records repeated
    const sample = readFileSync(join(EXAMPLES, 'sample.pcap'));
    const records: Buffer[] = [];
    for (let at = 24; at + 16 <= sample.length;) {
      const len = sample.readUInt32LE(at + 8);
      records.push(sample.subarray(at, at + 16 + len));
      at += 16 + len;
    }
    const cap = join(dir, 'big.pcap');
    writeFileSync(cap, Buffer.concat([sample.subarray(0, 24), ...Array.from({ length: 3000 }, (_, i) => records[i % records.length]!)]));
    const xdp = fileURLToPath(new URL('../../test/c/xdp-parse.o', import.meta.url));
    const tiered = await tsbpf(['run', xdp, '--pcap', cap]);
    const interp = await tsbpf(['run', xdp, '--pcap', cap, '--engine', 'interpreter']);
    assert.equal(tiered.status, 0, tiered.stderr);
    assert.match(tiered.stdout.split('\n')[1]!, / per packet \(modern profile, (interpreter then )?jit\)$/);
    const lines = (out: string): string[] => out.split('\n').filter((l) => !/^(runs|startup) /.test(l));
    assert.deepEqual(lines(tiered.stdout), lines(interp.stdout));
    assert.equal(lines(interp.stdout)[0], 'packets 3000, XDP_PASS 2334, XDP_TX 666, last retval 0x2 (XDP_PASS)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
