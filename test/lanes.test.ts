/**
 * Shared memory and lanes (issue 21 item 3): a runtime made with
 * `shared: true`, worker threads attached to it (Runtime.workerAttach,
 * `new BpfSystem({ attach })`), each on a lane of its own (stack frames and
 * run word), the engines' real atomics and epochs over the shared memory,
 * and bpf_spin_lock as a real lock. The concurrent tests run two workers
 * (test/lanes-worker.ts) at once over one buffer of the shared memory with
 * every engine: the fast and checked interpreter, the JIT and the hardened
 * JIT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { assemble, toSlots } from '../src/isa/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { BpfSystem } from '../src/api/bpf.js';
import {
  AddressSpace, EPOCH_ADDR, HEAP_BASE, LANE_0, LANE_BLOCK_SIZE, MAX_LANES, RUN_GEN_ADDR, STACK_TOP,
} from '../src/memory/address-space.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { JitProgram } from '../src/jit/program.js';
import { compileToWasm } from '../src/jit/compile.js';
import { batchBytes, writeBatchDescriptor } from '../src/jit/batch.js';
import type { Engine } from '../src/runtime/engine.js';
import type { LaneJob, LaneReport } from './lanes-worker.js';
import { expectErr as expectBpfError } from './expect-error.js';

const ENGINES = ['fast', 'checked', 'jit', 'hardened'] as const;
type EngineKind = (typeof ENGINES)[number];

function engine(rt: Runtime, kind: EngineKind, source: string): Engine {
  const slots = toSlots(assemble(source));
  const o = { helpers: rt.helpers };
  switch (kind) {
    case 'fast': return new Interpreter(rt.mem, slots, { ...o, checked: false });
    case 'checked': return new Interpreter(rt.mem, slots, { ...o, checked: true, regions: rt.regions });
    case 'jit': return new JitProgram(rt.mem, slots, o);
    case 'hardened': return new JitProgram(rt.mem, slots, { ...o, maps: [], hardened: { batchContext: { size: 8, writable: true } } });
  }
}

/** Run one job per worker at once (each on a lane of its own) over [buf, buf + size); their reports. */
async function inWorkers(sys: BpfSystem, jobs: Omit<LaneJob, 'attach' | 'go'>[]): Promise<LaneReport[]> {
  const rt = sys.runtime;
  const go = rt.mem.alloc(8);
  const attaches = jobs.map(() => rt.workerAttach({ arenaBytes: 1 << 20 }));
  const workers = jobs.map((j, i) => new Worker(new URL('./lanes-worker.js', import.meta.url), { workerData: { ...j, attach: attaches[i], go } }));
  let ready = 0;
  const reports = workers.map((w) => new Promise<LaneReport>((resolve, reject) => {
    w.on('message', (m: 'ready' | LaneReport) => {
      if (m !== 'ready') {
        resolve(m);
        return;
      }
      if (++ready < workers.length) return;
      Atomics.store(rt.mem.i32, go >> 2, 1);
      Atomics.notify(rt.mem.i32, go >> 2);
    });
    w.on('error', reject);
  }));
  try {
    return await Promise.all(reports);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const a of attaches) rt.releaseAttach(a);
    rt.mem.release(go);
  }
}

function shared(cpus = 2): BpfSystem {
  return new BpfSystem({ shared: true, cpus, maxBytes: 32 << 20, profile: 'modern' });
}

test('a shared runtime: its memory is a SharedArrayBuffer of its full size, epoch 1, lane 0 as today, lanes in the table', () => {
  const sys = shared();
  const rt = sys.runtime;
  assert.equal(rt.mem.shared, true);
  assert.equal(rt.mem.memory.buffer instanceof SharedArrayBuffer, true);
  assert.equal(rt.mem.byteLength, 32 << 20);
  assert.equal(Atomics.load(rt.mem.i32, EPOCH_ADDR >> 2), 1);
  assert.deepEqual(rt.lane, { index: 0, stackTop: STACK_TOP, runWord: RUN_GEN_ADDR });
  assert.equal(rt.lane, LANE_0);
  assert.equal((sys.mapEnv as unknown as { runWord: number }).runWord, RUN_GEN_ADDR);
  const env = sys.mapEnv as unknown as { lanes: { count: number; runWords: number[] } };
  assert.deepEqual([env.lanes.count, env.lanes.runWords], [1, [RUN_GEN_ADDR]]);
  const before = rt.mem.allocatedBytes;
  const a = rt.workerAttach({ arenaBytes: 1000 });
  const b = rt.workerAttach({ arenaBytes: 4096, cpu: 0 });
  assert.deepEqual(a.lane, { index: 1, stackTop: a.lane.runWord + LANE_BLOCK_SIZE, runWord: a.lane.runWord });
  assert.deepEqual([a.cpu, b.cpu, b.lane.index, a.cpus, a.profile], [0, 0, 2, 2, 'modern']);
  assert.equal(a.arena.end - a.arena.start, 1000);
  assert.equal(a.memory, rt.mem.memory);
  assert.deepEqual([env.lanes.count, env.lanes.runWords], [3, [RUN_GEN_ADDR, a.lane.runWord, b.lane.runWord]]);
  rt.releaseAttach(a);
  assert.deepEqual(env.lanes.runWords, [RUN_GEN_ADDR, b.lane.runWord]);
  // a freed lane's index is taken again first
  const c = rt.workerAttach();
  assert.equal(c.lane.index, 1);
  assert.equal(c.arena.end - c.arena.start, 4 << 20);
  rt.releaseAttach(c);
  rt.releaseAttach(b);
  assert.equal(rt.mem.allocatedBytes, before);
  // an unshared runtime: lane 0, no lanes to give
  const plain = new BpfSystem();
  assert.equal(plain.runtime.mem.shared, false);
  assert.equal(plain.runtime.lane, LANE_0);
  assert.equal('lanes' in plain.mapEnv, false);
  expectBpfError(() => plain.runtime.workerAttach(), 'EINVAL', 'lanes need a shared memory (shared: true)');
});

test('attach and lanes refuse what is not theirs, with one clear line', () => {
  const rt = shared().runtime;
  const at = rt.workerAttach({ arenaBytes: 4096 });
  const plain = new Runtime();
  expectBpfError(() => AddressSpace.attach(plain.mem.memory, at.arena, at.lane), 'EINVAL',
    'attach needs a shared WebAssembly.Memory (an address space made with shared: true)');
  expectBpfError(() => AddressSpace.attach(at.memory, { start: 8, end: 64 }, at.lane), 'EINVAL',
    `attach: arena [8, 64) is not an 8-aligned range of the heap [${HEAP_BASE}, ${32 << 20})`);
  expectBpfError(() => AddressSpace.attach(at.memory, at.arena, LANE_0), 'EINVAL', `attach: lane index 0 is not 1 to ${MAX_LANES - 1} (lane 0 is the owner's)`);
  expectBpfError(() => AddressSpace.attach(at.memory, at.arena, { index: 2, stackTop: at.lane.stackTop, runWord: at.lane.runWord }), 'EINVAL',
    `attach: lane 2 (run word ${at.lane.runWord}, stack top ${at.lane.stackTop}) is not a lane of this memory`);
  expectBpfError(() => new Runtime({ attach: at, cpus: 3 }), 'EINVAL', 'cpus 3 differs from the attached runtime\'s 2');
  expectBpfError(() => new Runtime({ attach: at, profile: '3.19' }), 'EINVAL', 'profile 3.19 differs from the attached runtime\'s modern');
  expectBpfError(() => new Runtime({ attach: { ...at, cpu: 2 } }), 'EINVAL', 'attach: cpu 2 is not one of its 2 CPUs');
  expectBpfError(() => rt.workerAttach({ cpu: 5 }), 'EINVAL', 'cpu must be an integer from 0 to 1, got 5');
  expectBpfError(() => rt.workerAttach({ arenaBytes: 0 }), 'EINVAL', 'arenaBytes must be a positive integer, got 0');
  // an attached address space allocates only inside its arena
  const mine = new Runtime({ attach: at });
  assert.deepEqual([mine.lane, mine.cpu, mine.cpus, mine.profile.name, mine.mem.shared], [at.lane, 0, 2, 'modern', true]);
  assert.equal(mine.mem.alloc(4000), at.arena.start);
  expectBpfError(() => mine.mem.alloc(200), 'ENOMEM', `cannot allocate 200 bytes: this thread's arena ends at 0x${at.arena.end.toString(16)}`);
  expectBpfError(() => mine.mem.allocLane(), 'EINVAL', 'lanes are allocated by the thread that made the shared memory');
  // a lane running a program is not given back
  Atomics.store(rt.mem.i32, at.lane.runWord >> 2, 7);
  expectBpfError(() => rt.releaseAttach(at), 'EBUSY', `lane ${at.lane.index} is running a program`);
  const env = (new BpfSystem(rt)).mapEnv;
  assert.deepEqual(env.lanes?.runWords, [RUN_GEN_ADDR, at.lane.runWord]);
  // a worker terminated mid-run: forced, its run word is cleared and it leaves the table
  rt.releaseAttach(at, true);
  assert.equal(Atomics.load(rt.mem.i32, at.lane.runWord >> 2), 0);
  assert.deepEqual(env.lanes?.runWords, [RUN_GEN_ADDR]);
  expectBpfError(() => rt.releaseAttach(at), 'EINVAL', `lane ${at.lane.index} is not a lane allocated in this memory`);
});

const STORES = `
  mov %r6, %r1
  call 28672
  mov %r0, 0
  exit`;

test('epochs: a run holds the global epoch in its lane\'s run word (each run of a JIT batch), 0 once it ends; unshared runs leave it alone', () => {
  for (const isShared of [true, false]) {
    const sys = isShared ? shared() : new BpfSystem();
    const rt = sys.runtime;
    const words = new Int32Array(rt.mem.memory.buffer);
    const seen: number[] = [];
    // the helper reads the run word and moves the epoch on, as a map's unlink does
    rt.helpers.register({ id: 0x7000, name: 'probe', call: (regs) => {
      seen.push(Atomics.load(words, RUN_GEN_ADDR >> 2));
      Atomics.add(words, EPOCH_ADDR >> 2, 1);
      regs[0] = 0;
      regs[1] = 0;
    } });
    Atomics.store(words, EPOCH_ADDR >> 2, 40);
    Atomics.store(words, RUN_GEN_ADDR >> 2, isShared ? 0 : 9);
    for (const kind of ['fast', 'checked', 'jit'] as const) engine(rt, kind, STORES).exec({});
    const jit = engine(rt, 'jit', STORES) as JitProgram;
    const desc = rt.mem.alloc(batchBytes(3));
    for (let i = 0; i < 3; i++) writeBatchDescriptor(rt.mem.view, desc, i, 0, 0, 0, -1);
    jit.execBatch(desc, 3);
    // the epoch wraps to 0 after 2^32 retirements: a run then publishes 0xffffffff, the one before (0 is idle)
    Atomics.store(words, EPOCH_ADDR >> 2, 0);
    engine(rt, 'fast', STORES).exec({});
    Atomics.store(words, EPOCH_ADDR >> 2, -1);
    jit.execBatch(desc, 2);
    if (isShared) {
      assert.deepEqual(seen, [40, 41, 42, 43, 44, 45, -1, -1, -1]);
      assert.equal(Atomics.load(words, RUN_GEN_ADDR >> 2), 0);
    } else {
      // the unshared run generation: exec leaves it (the maps' enterRun bumps it), a batch bumps it per run
      assert.deepEqual(seen, [9, 9, 9, 10, 11, 12, 12, 13, 14]);
      assert.equal(Atomics.load(words, RUN_GEN_ADDR >> 2), 14);
    }
  }
});

test('lane 0 compiles to the same module bytes as before lanes; another lane bakes in its own stack and run word', () => {
  const sources = [STORES, `
    mov %r2, 1
    lock add [%r10-8], %r2
    stxdw [%r10-16], %r2
    call local f
    exit
  f:
    mov %r0, %r10
    exit`];
  for (const src of sources) {
    const slots = toSlots(assemble(src));
    const plain = compileToWasm(slots, 0x20000, { min: 16 });
    assert.deepEqual(compileToWasm(slots, 0x20000, { min: 16 }, { lane: { stackTop: STACK_TOP, runWord: RUN_GEN_ADDR } }), plain);
    const other = compileToWasm(slots, 0x20000, { min: 16 }, { lane: { stackTop: 0x123458, runWord: 0x122450 } });
    assert.notDeepEqual(other, plain);
    // the memory import of a shared memory: limits flag 3, its maximum its size
    const sharedBytes = compileToWasm(slots, 0x20000, { min: 16 }, { shared: true });
    const at = (b: Uint8Array): number => Buffer.from(b).indexOf(Buffer.from('memory')) + 6;
    assert.deepEqual([...plain.subarray(at(plain), at(plain) + 3)], [0x02, 0x00, 16]);
    assert.deepEqual([...sharedBytes.subarray(at(sharedBytes), at(sharedBytes) + 4)], [0x02, 0x03, 16, 16]);
  }
});

test('a misaligned atomic in a shared memory is a fault in every engine; unshared, it runs as before', () => {
  const sys = shared();
  const rt = sys.runtime;
  const buf = rt.mem.alloc(32);
  const src = `
    mov %r2, 1
    lock add32 [%r1+0], %r2
    lock add [%r1+8], %r2
    exit`;
  const regions = [{ start: buf, end: buf + 32, writable: true, name: 'buffer' }];
  for (const kind of ENGINES) {
    const e = engine(rt, kind, src);
    e.exec({ r1: buf, regions });
    const jit = kind === 'jit' || kind === 'hardened';
    expectBpfError(() => e.exec({ r1: buf + 2, regions }), 'EFAULT',
      jit ? 'JIT: operation does not support unaligned accesses' : `pc 1: invalid write of 4 bytes at 0x${(buf + 2).toString(16)}: misaligned atomic access`);
    expectBpfError(() => e.exec({ r1: buf + 4, regions }), 'EFAULT',
      jit ? 'JIT: operation does not support unaligned accesses' : `pc 2: invalid write of 8 bytes at 0x${(buf + 12).toString(16)}: misaligned atomic access`);
  }
  // four aligned runs, and the 32-bit add of each misaligned run at buf + 4 happened before its fault
  assert.deepEqual([rt.mem.view.getUint32(buf, true), rt.mem.view.getUint32(buf + 4, true), rt.mem.view.getBigUint64(buf + 8, true)], [4, 4, 4n]);
  const plain = new Runtime();
  const pbuf = plain.mem.alloc(32);
  for (const kind of ENGINES) engine(plain, kind, src).exec({ r1: pbuf + 2, regions: [{ start: pbuf, end: pbuf + 32, writable: true, name: 'buffer' }] });
  assert.equal(plain.mem.view.getUint32(pbuf + 2, true), 4);
});

const RUNS = 100_000;

const COUNT = `
  mov %r4, %r2
  mov %r2, 1
  lock add [%r1+0], %r2
  lock add32 [%r1+8], %r2
  mov %r3, 3
  lock fetch add [%r1+16], %r3
  lock or [%r1+24], %r4
  lock xor32 [%r1+32], %r2
  lock fetch and [%r1+40], %r4
  mov %r0, 0
  exit`;

for (const kind of ENGINES) {
  test(`${kind}: two workers XADD-count ${RUNS} runs each into one shared buffer: exact sums`, async () => {
    const sys = shared();
    const buf = sys.runtime.mem.alloc(48);
    sys.runtime.mem.view.setBigUint64(buf + 40, 0xffn, true);
    const job = { engine: kind, source: COUNT, runs: RUNS, r1: buf, regionEnd: buf + 48, expect: '0' };
    const reports = await inWorkers(sys, [{ ...job, r2: 1 }, { ...job, r2: 2 }]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad, r.lane]), [[undefined, 0, 1], [undefined, 0, 2]]);
    const v = sys.runtime.mem.view;
    assert.deepEqual(
      [v.getBigUint64(buf, true), v.getUint32(buf + 8, true), v.getBigUint64(buf + 16, true), v.getBigUint64(buf + 24, true), v.getUint32(buf + 32, true), v.getBigUint64(buf + 40, true)],
      [BigInt(2 * RUNS), 2 * RUNS, BigInt(6 * RUNS), 3n, 0, 0n],
    );
  });
}

/** key 0's value of the map at `addr`: lock add 1 to its u64 at 0 and its u32 at 8 */
const ARRAY_COUNT = (addr: number): string => `
  stw [%r10-4], 0
  lddw %r1, ${addr}
  mov %r2, %r10
  add %r2, -4
  call 1
  jeq %r0, 0, out
  mov %r1, 1
  lock add [%r0+0], %r1
  lock add32 [%r0+8], %r1
out:
  mov %r0, 0
  exit`;

test('two workers attached to one shared system XADD-count 100,000 runs each on one array value (looked up by each engine): exact', async () => {
  for (const kind of ENGINES) {
    const sys = shared();
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 16, max_entries: 4 });
    const impl = sys.mapOf(fd).impl;
    const job = { engine: kind, source: ARRAY_COUNT(impl.addr), runs: RUNS, r1: 0, regionEnd: 0, r2: 0, expect: '0', maps: [impl.shareState!()] };
    const reports = await inWorkers(sys, [job, job]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad]), [[undefined, 0], [undefined, 0]], kind);
    const value = new Uint8Array(16);
    sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(4), value });
    const v = new DataView(value.buffer);
    assert.deepEqual([v.getBigUint64(0, true), v.getUint32(8, true)], [BigInt(2 * RUNS), 2 * RUNS], kind);
  }
});

test('per-CPU array counting: worker i on CPU i, each CPU\'s value of the element exact, the main thread\'s CPU untouched', async () => {
  const RUNS_CPU = 20_000;
  for (const kind of ENGINES) {
    const sys = shared(3);
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 6, key_size: 4, value_size: 16, max_entries: 2 });
    const impl = sys.mapOf(fd).impl;
    const job = { engine: kind, source: ARRAY_COUNT(impl.addr), runs: RUNS_CPU, r1: 0, regionEnd: 0, r2: 0, expect: '0', maps: [impl.shareState!()] };
    const reports = await inWorkers(sys, [job, job]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad, r.cpu]), [[undefined, 0, 0], [undefined, 0, 1]], kind);
    // the syscall's view of a per-CPU value: round_up(value_size, 8) bytes per CPU
    const value = new Uint8Array(16 * 3);
    sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(4), value });
    const v = new DataView(value.buffer);
    assert.deepEqual([0, 1, 2].map((c) => [v.getBigUint64(16 * c, true), v.getUint32(16 * c + 8, true)]),
      [[BigInt(RUNS_CPU), RUNS_CPU], [BigInt(RUNS_CPU), RUNS_CPU], [0n, 0]], kind);
  }
});

const PER_CPU = `
  mov %r6, %r1
  call 8
  lsh %r0, 3
  add %r6, %r0
  mov %r2, 1
  lock add [%r6+0], %r2
  mov %r0, 0
  exit`;

test('per-CPU counting: worker i runs on CPU i (bpf_get_smp_processor_id), each CPU\'s count exact', async () => {
  const RUNS_CPU = 20_000;
  for (const kind of ENGINES) {
    const sys = shared(3);
    const buf = sys.runtime.mem.alloc(24);
    const job = { engine: kind, source: PER_CPU, runs: RUNS_CPU, r1: buf, regionEnd: buf + 24, r2: 0, expect: '0' };
    const reports = await inWorkers(sys, [job, job]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad, r.cpu]), [[undefined, 0, 0], [undefined, 0, 1]], kind);
    const v = sys.runtime.mem.view;
    assert.deepEqual([v.getBigUint64(buf, true), v.getBigUint64(buf + 8, true), v.getBigUint64(buf + 16, true)], [BigInt(RUNS_CPU), BigInt(RUNS_CPU), 0n], kind);
  }
});

/**
 * Fill the whole frame with seed + i, call a function that fills its own
 * frame with (seed ^ 0x5555) + i and checks it, then check ours: r0 = 0
 * when every slot read back what this run wrote, 1 or 2 otherwise.
 */
function stackProgram(): string {
  const lines: string[] = ['  mov %r6, %r2'];
  for (let i = 0; i < 64; i++) lines.push('  mov %r3, %r6', `  add %r3, ${i}`, `  stxdw [%r10-${8 * (i + 1)}], %r3`);
  lines.push('  call local sub', '  jne %r0, 0, out');
  for (let i = 0; i < 64; i++) lines.push(`  ldxdw %r3, [%r10-${8 * (i + 1)}]`, '  mov %r4, %r6', `  add %r4, ${i}`, '  jne %r3, %r4, bad');
  lines.push('  mov %r0, 0', 'out:', '  exit', 'bad:', '  mov %r0, 1', '  exit', 'sub:', '  mov %r7, %r2', '  xor %r7, 0x5555');
  for (let i = 0; i < 64; i++) lines.push('  mov %r3, %r7', `  add %r3, ${i}`, `  stxdw [%r10-${8 * (i + 1)}], %r3`);
  for (let i = 0; i < 64; i++) lines.push(`  ldxdw %r3, [%r10-${8 * (i + 1)}]`, '  mov %r4, %r7', `  add %r4, ${i}`, '  jne %r3, %r4, subbad');
  lines.push('  mov %r0, 0', '  exit', 'subbad:', '  mov %r0, 2', '  exit');
  return lines.join('\n');
}

test('the stacks of two lanes never clobber each other: every run reads back its whole frame and its callee\'s', async () => {
  const source = stackProgram();
  for (const kind of ENGINES) {
    const sys = shared();
    const buf = sys.runtime.mem.alloc(8);
    const job = { engine: kind, source, runs: 20_000, r1: buf, regionEnd: buf + 8, expect: '0' };
    const reports = await inWorkers(sys, [{ ...job, r2: 0x1000000 }, { ...job, r2: 0x2000000 }]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad, r.samples]), [[undefined, 0, []], [undefined, 0, []]], kind);
  }
  // (the main thread's lane 0 frame was never written by them)
  const sys = shared();
  assert.deepEqual([...sys.runtime.mem.read(STACK_TOP - 512, 512)].filter((b) => b !== 0), []);
});

const CAS = `
  ldxdw %r6, [%r1+0]
retry:
  mov %r0, %r6
  mov %r7, %r6
  add %r7, 1
  lock cmpxchg [%r1+0], %r7
  jeq %r0, %r6, done
  mov %r6, %r0
  ja retry
done:
  ldxw %r6, [%r1+8]
retry32:
  mov %r0, %r6
  mov %r7, %r6
  add %r7, 1
  lock cmpxchg32 [%r1+8], %r7
  jeq %r0, %r6, done32
  mov %r6, %r0
  ja retry32
done32:
  mov %r0, 0
  exit`;

test('cmpxchg loops in two workers give exact counts (64 and 32 bits)', async () => {
  for (const kind of ENGINES) {
    const sys = shared();
    const buf = sys.runtime.mem.alloc(16);
    const job = { engine: kind, source: CAS, runs: 50_000, r1: buf, regionEnd: buf + 16, r2: 0, expect: '0' };
    const reports = await inWorkers(sys, [job, job]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad]), [[undefined, 0], [undefined, 0]], kind);
    const v = sys.runtime.mem.view;
    assert.deepEqual([v.getBigUint64(buf, true), v.getUint32(buf + 8, true)], [100_000n, 100_000], kind);
  }
});

const LOCKED = `
  mov %r6, %r1
  call 93
  ldxdw %r2, [%r6+8]
  add %r2, 1
  stxdw [%r6+8], %r2
  mov %r1, %r6
  call 94
  mov %r0, 0
  exit`;

test('bpf_spin_lock in a shared memory is a real lock: a plain read-modify-write under it counts exactly', async () => {
  for (const kind of ENGINES) {
    const sys = shared();
    const buf = sys.runtime.mem.alloc(16);
    const job = { engine: kind, source: LOCKED, runs: 20_000, r1: buf, regionEnd: buf + 16, r2: 0, expect: '0' };
    const reports = await inWorkers(sys, [job, job]);
    assert.deepEqual(reports.map((r) => [r.error, r.bad]), [[undefined, 0], [undefined, 0]], kind);
    const v = sys.runtime.mem.view;
    assert.deepEqual([v.getUint32(buf, true), v.getBigUint64(buf + 8, true)], [0, 40_000n], kind);
  }
});

test('bpf_spin_lock: a lock held elsewhere ends the run with EFAULT after a bounded wait; a run that faults holding one gives it back', () => {
  const sys = shared();
  const rt = sys.runtime;
  const buf = rt.mem.alloc(16);
  const regions = [{ start: buf, end: buf + 16, writable: true, name: 'buffer' }];
  Atomics.store(rt.mem.i32, buf >> 2, 1);
  const e = engine(rt, 'fast', LOCKED);
  const t0 = Date.now();
  expectBpfError(() => e.exec({ r1: buf, regions }), 'EFAULT',
    `bpf_spin_lock: the lock at 0x${buf.toString(16)} stayed held for 1000 ms (a deadlock, or a thread stuck holding it)`);
  assert.ok(Date.now() - t0 >= 1000);
  Atomics.store(rt.mem.i32, buf >> 2, 0);
  // lock, then a fault (a load at address 8): the run ends, and so does its hold on the lock
  const faults = engine(rt, 'checked', `
    mov %r6, %r1
    call 93
    mov %r1, 8
    ldxdw %r2, [%r1+0]
    exit`);
  expectBpfError(() => faults.exec({ r1: buf, regions }), 'EFAULT', 'pc 3: invalid read of 8 bytes at 0x8: null pointer dereference');
  assert.equal(Atomics.load(rt.mem.i32, buf >> 2), 0);
  e.exec({ r1: buf, regions });
  assert.equal(rt.mem.view.getBigUint64(buf + 8, true), 1n);
});
