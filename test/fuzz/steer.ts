/**
 * The flow-steering mode of the hostile fuzzer (target `steer`,
 * test/fuzz/hostile.ts): random captures (every link type the steering
 * reads, frames of IPv4 and IPv6 flows in both directions, fragments, VLAN
 * tags, IP options, ARP, garbage, headers cut anywhere, and sometimes a
 * capture cut inside a record) run through a WorkerPool of 2 or 3 workers,
 * steered by flow (sometimes by chunk), and compared with one thread: every
 * verdict, the flow map's contents, the packets before a fault and the
 * fault. The pool's shared state (the owner byte per packet, the chunk
 * state words, the first failing packet) is what this exercises; the pools
 * are kept between inputs, as a pool is between captures.
 *
 * On every packet, too: the flow hash never throws, the owner the pool's
 * steering pass writes (steerRange, whose common case is written inline) is
 * workerOf(flowHash) of the general path, and an IP packet's copy with its
 * addresses and ports swapped hashes alike (the key is symmetric). A
 * disagreement is thrown as an Error: a problem for the harness.
 */

import { BpfSystem } from '../../src/api/bpf.js';
import { BpfMap } from '../../src/api/map.js';
import { Program } from '../../src/api/program.js';
import { PacketRunner } from '../../src/api/packets.js';
import { WorkerPool, indexCapture, INDEX_WORDS } from '../../src/api/pool.js';
import type { SteerMode } from '../../src/api/steer.js';
import { flowHash, steerRange, workerOf } from '../../src/api/steer.js';
import { FLOW_COUNT, withFds } from '../../src/bench/workers.js';
import { networkOffset } from '../../src/pcap/linktype.js';
import { writePcap } from '../../src/pcap/writer.js';

type Rnd = () => number;

export interface SteerInput {
  linkType: number;
  frames: Uint8Array[];
  /** bytes cut off the end of the capture file (0: whole) */
  cutTail: number;
  workers: 2 | 3;
  steer: SteerMode;
}

const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);

/** A few hosts, so that flows repeat and are seen both ways. */
const V4 = [[10, 0, 0, 1], [10, 0, 0, 2], [192, 168, 1, 9], [8, 8, 8, 8], [10, 0, 0, 1]];
const V6 = [0, 1, 2].map((k) => [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), k]);
const PORTS = [80, 443, 53, 40000, 40001, 0, 65535];

function ipPacket(rnd: Rnd): number[] {
  const proto = pick(rnd, [6, 17, 132, 1, 47, 6, 17]);
  const ports = [...[pick(rnd, PORTS), pick(rnd, PORTS)].flatMap((p) => [p >> 8, p & 255]), ...Array.from({ length: int(rnd, 30) }, () => int(rnd, 256))];
  if (rnd() < 0.7) {
    const options = rnd() < 0.1 ? int(rnd, 4) * 4 : 0;
    const ihl = rnd() < 0.03 ? int(rnd, 5) : 5 + options / 4;
    const frag = rnd() < 0.1 ? pick(rnd, [0x2000, 0x0001, 0x2010, 0x4000]) : 0;
    const h = [0x40 | ihl, 0, 0, 0, 0, 1, frag >> 8, frag & 255, 64, proto, 0, 0, ...pick(rnd, V4), ...pick(rnd, V4), ...new Array<number>(options).fill(1)];
    return [...h, ...ports];
  }
  return [0x60, 0, 0, 0, 0, 0, rnd() < 0.8 ? proto : pick(rnd, [0, 43, 44, 60]), 64, ...pick(rnd, V6), ...pick(rnd, V6), ...ports];
}

function frame(rnd: Rnd, linkType: number): Uint8Array {
  const r = rnd();
  let bytes: number[];
  if (r < 0.08) bytes = Array.from({ length: int(rnd, 90) }, () => int(rnd, 256));
  else {
    const ip = ipPacket(rnd);
    const v = ip[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
    const mac = (): number[] => [2, 0, 0, 0, 0, pick(rnd, [1, 2, 3])];
    if (linkType === 1) {
      const tags = rnd() < 0.1 ? [0x81, 0x00, 0, 5, ...(rnd() < 0.3 ? [0x81, 0x00, 0, 6] : [])] : [];
      bytes = rnd() < 0.1 ? [...mac(), ...mac(), 0x08, 0x06, ...new Array<number>(28).fill(int(rnd, 256))] : [...mac(), ...mac(), ...tags, v >> 8, v & 255, ...ip];
    } else if (linkType === 113) bytes = [0, 0, 0, 1, 0, 6, ...mac(), 0, 0, v >> 8, v & 255, ...ip];
    else if (linkType === 276) bytes = [v >> 8, v & 255, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, ...mac(), 0, 0, ...ip];
    else if (linkType === 0) bytes = [2, 0, 0, 0, ...ip];
    else bytes = ip;
  }
  // headers cut anywhere (a snap length)
  if (rnd() < 0.15) bytes = bytes.slice(0, int(rnd, bytes.length + 1));
  return new Uint8Array(bytes);
}

export function generateSteer(rnd: Rnd): SteerInput {
  const linkType = rnd() < 0.6 ? 1 : pick(rnd, [101, 113, 276, 0, 228, 229]);
  // up to 3 chunks' worth of packets, so that the workers meet at chunks being steered
  const n = rnd() < 0.5 ? int(rnd, 200) : int(rnd, 3 * 4096);
  return {
    linkType, frames: Array.from({ length: n }, () => frame(rnd, linkType)), cutTail: rnd() < 0.1 ? 1 + int(rnd, 40) : 0,
    workers: rnd() < 0.6 ? 2 : 3, steer: rnd() < 0.85 ? 'flow' : 'chunk',
  };
}

export function showSteer(x: SteerInput): string {
  const head = x.frames.slice(0, 8).map((f) => Buffer.from(f).toString('hex')).join(' ');
  return `link type ${x.linkType}, ${x.frames.length} frames, cut ${x.cutTail}, ${x.workers} workers, steer ${x.steer}; first frames: ${head}`;
}

export function* shrinkSteer(x: SteerInput): Iterable<SteerInput> {
  if (x.frames.length > 1) {
    yield { ...x, frames: x.frames.slice(0, x.frames.length >> 1) };
    yield { ...x, frames: x.frames.slice(x.frames.length >> 1) };
  }
  if (x.cutTail > 0) yield { ...x, cutTail: 0 };
}

interface Shared {
  sys: BpfSystem;
  flows: BpfMap;
  prog: Program;
  pools: Map<string, WorkerPool>;
}
let shared: Shared | undefined;

function contents(m: BpfMap): string {
  return [...m.entries()].map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`).sort().join(',');
}

function clear(m: BpfMap): void {
  for (const k of [...m.keys()]) m.delete(k);
}

/** An IP packet's copy with its addresses (and ports) swapped, or undefined when it is not one whose key has them all. */
function reversed(b: Uint8Array, net: number): Uint8Array | undefined {
  const c = b.slice();
  if (net < 0 || b.length < net + 1) return undefined;
  const v = b[net]! >> 4;
  const [addr, len, portsAt] = v === 4 ? [12, 4, net + (b[net]! & 15) * 4] : v === 6 ? [8, 16, net + 40] : [0, 0, 0];
  if (len === 0 || b.length < net + addr + 2 * len) return undefined;
  c.set(b.subarray(net + addr + len, net + addr + 2 * len), net + addr);
  c.set(b.subarray(net + addr, net + addr + len), net + addr + len);
  if (b.length >= portsAt + 4 && portsAt >= net + (v === 4 ? 20 : 40)) {
    c.set(b.subarray(portsAt + 2, portsAt + 4), portsAt);
    c.set(b.subarray(portsAt, portsAt + 2), portsAt + 2);
  }
  return c;
}

export async function exerciseSteer(x: SteerInput): Promise<void> {
  shared ??= (() => {
    const sys = new BpfSystem({ shared: true, cpus: 3 });
    const flows = BpfMap.create(sys, { type: 'hash', keySize: 16, valueSize: 16, maxEntries: 1 << 14 });
    const prog = Program.load(sys, { insns: withFds(FLOW_COUNT, [flows.fd]), tiered: false });
    return { sys, flows, prog, pools: new Map() };
  })();
  const s = shared;
  let file = writePcap(x.frames.map((data, i) => ({ data, tsNs: BigInt(i) * 1000n })), x.linkType);
  if (x.cutTail > 0 && file.length - x.cutTail > 24) file = file.subarray(0, file.length - x.cutTail);
  const bytes = new Uint8Array(new SharedArrayBuffer(file.length));
  bytes.set(file);
  const capture = indexCapture(bytes);
  const n = capture.count;
  // the hash on every packet: the pool's pass (inline common case) agrees with the general path, and is symmetric
  const owner = new Uint8Array(n);
  steerRange(capture.bytes, capture.index, INDEX_WORDS, owner, 0, n, x.workers);
  for (let i = 0; i < n; i++) {
    const p = capture.packet(i);
    const h = flowHash(p.data, 0, p.data.length, p.linkType);
    if (owner[i] !== workerOf(h, x.workers)) throw new Error(`packet ${i}: steerRange gives worker ${owner[i]}, flowHash's worker is ${workerOf(h, x.workers)}`);
    const back = reversed(p.data, networkOffset(p.data, p.linkType));
    if (back && flowHash(back, 0, back.length, p.linkType) !== h) throw new Error(`packet ${i}: the reversed packet hashes to ${flowHash(back, 0, back.length, p.linkType)}, the packet to ${h}`);
  }
  // one thread: the reference
  clear(s.flows);
  const runner = new PacketRunner(s.sys, s.prog);
  const want = new Uint32Array(n);
  try {
    for (let i = 0; i < n; i++) {
      const p = capture.packet(i);
      want[i] = runner.run(p.data, p.netOff);
    }
  } finally {
    runner.close();
  }
  const wantMap = contents(s.flows);
  clear(s.flows);
  const key = `${x.workers}`;
  let pool = s.pools.get(key);
  if (!pool) {
    pool = await WorkerPool.create(s.prog, { workers: x.workers });
    s.pools.set(key, pool);
  }
  const r = await pool.runCapture(capture, { steer: x.steer });
  if (r.count !== n) throw new Error(`the pool ran ${r.count} packets of ${n}`);
  for (let i = 0; i < n; i++) if (r.verdicts[i] !== want[i]) throw new Error(`packet ${i}: verdict ${r.verdicts[i]} on ${x.workers} workers, ${want[i]} on one thread`);
  const got = contents(s.flows);
  if (got !== wantMap) throw new Error(`the flow map differs from one thread's: ${got.length} against ${wantMap.length} characters`);
  if (n > 0 && r.lastRetval !== BigInt(want[n - 1]!)) throw new Error(`the last packet's r0 is ${r.lastRetval}, one thread's ${want[n - 1]}`);
}

/** The harness (test/fuzz/hostile.ts's shape). */
export const steerHarness = {
  generate: generateSteer,
  exercise: exerciseSteer,
  show: showSteer,
  shrink: shrinkSteer,
};
