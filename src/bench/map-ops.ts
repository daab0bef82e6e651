/**
 * The map-ops bench (`tsbpf bench --map-ops`, and a section of the full
 * bench): a hash map of 4-byte keys and 8-byte values at 10k, 100k and 1M
 * entries, lookups and updates of present keys in a pseudo-random order,
 * from JavaScript, each interface against the JavaScript Map its user
 * would otherwise pick, of the same size, over the same key objects:
 * - typed: BpfMap with the u32/u64 codecs (a number key; lookup decodes a
 *   new bigint) against a Map<number, bigint>;
 * - raw: BpfMap.raw with 4-byte Uint8Array keys (lookup returns a new
 *   8-byte copy; lookupInto copies into the caller's buffer; update copies
 *   the caller's bytes in) against a Map<number, Uint8Array> keyed by the
 *   key's 4 bytes read as a little-endian u32 (get returns the stored
 *   array, set stores the caller's: a JS Map copies nothing);
 * - sys.bpf with attribute objects and the host kernel's bpf(2) syscalls
 *   (native/map-ops.c, built with cc; the column is empty without cc or
 *   bpf(2)), against the typed row's Map.
 * Also one full walk by lookupBatch against get_next_key plus lookup per
 * key. Ratios are to the JavaScript Map of the same run. Times are the
 * process's CPU time (user and system, the kernel's syscalls included),
 * not the wall clock: on a machine shared with other work, the time a
 * side spends descheduled is not its own, and rounds taken in turn still
 * share out what is left (caches, a core's other thread) alike.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfSystem } from '../api/bpf.js';
import { BpfMap, u32, u64 } from '../api/map.js';
import { median } from './timing.js';

/** Entries of each measured map. */
export const MAP_OPS_SIZES = [10_000, 100_000, 1_000_000] as const;
/** the key sequence: xorshift32 from 1, modulo the size (native/map-ops.c draws the same) */
const NKEYS = 65536;
const ROUND_NS = 5e6;
const ROUNDS = 21;

/** The process's CPU time (user + system) in ns: the bench's clock (see the file comment). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** ns per operation of each interface at one size; kernel undefined when bpf(2) could not be measured. */
export interface MapOpsRow {
  entries: number;
  /** js: Map<number, bigint> (typed's, sys.bpf's and the kernel's reference); jsBytes: Map<number, Uint8Array> keyed by the raw key's bytes (raw's and rawInto's) */
  lookup: { js: number; typed: number; jsBytes: number; raw: number; rawInto: number; syscall: number; kernel?: number };
  update: { js: number; typed: number; jsBytes: number; raw: number; syscall: number; kernel?: number };
  /** a full walk, ns per element: lookupBatch (1024 a call) against get_next_key + lookup per key */
  walk: { batch: number; perKey: number };
}

export interface MapOpsSection {
  cpu: string;
  rows: MapOpsRow[];
  /** why the kernel column is empty, when it is */
  kernelNote?: string;
}

function keySequence(n: number): Uint32Array {
  const keys = new Uint32Array(NKEYS);
  let x = 1;
  for (let i = 0; i < NKEYS; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    keys[i] = x % n;
  }
  return keys;
}

/**
 * CPU ns per call of each `f(count)`: the median of ROUNDS rounds of about
 * ROUND_NS after a warm-up, the functions taking turns round by round, so
 * that a machine shared with other work slows them alike and the ratios
 * hold. The median, not the best: the best of many short rounds is the
 * luckiest one, and luck differs between the sides.
 */
function timeAll(fs: ((count: number) => void)[]): number[] {
  const ns = fs.map((f) => {
    f(20000);
    let n = 20000;
    for (;;) {
      const t0 = cpuNs();
      f(n);
      if (cpuNs() - t0 > ROUND_NS) return n;
      n *= 2;
    }
  });
  const times = fs.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    fs.forEach((f, i) => {
      const t0 = cpuNs();
      f(ns[i]!);
      times[i]!.push((cpuNs() - t0) / ns[i]!);
    });
  }
  return times.map(median);
}

/** One size: every JavaScript-side interface and the JS Map, each over the same key sequence. */
function measureSize(entries: number): MapOpsRow {
  const keys = keySequence(entries);
  const js = new Map<number, bigint>();
  for (let k = 0; k < entries; k++) js.set(k, 7n);
  // a JS user's map of raw bytes: the 4-byte key as its little-endian u32, the value an array of its own
  const jsBytes = new Map<number, Uint8Array>();
  for (let k = 0; k < entries; k++) jsBytes.set(k, new Uint8Array(8).fill(7));
  const word = (b: Uint8Array): number => b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  const sys = new BpfSystem({ profile: 'modern' });
  const map = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: entries }, { key: u32, value: u64 });
  try {
    for (let k = 0; k < entries; k++) map.update(k, 7n);
    const raw = map.raw;
    const rawKeys = Array.from(keys, (k) => new Uint8Array(new Uint32Array([k]).buffer));
    const rawValue = new Uint8Array(8).fill(9);
    const valueBuf = new Uint8Array(8);
    const out = new Uint8Array(8);
    let sink = 0n;
    let sinkN = 0;
    const [ljs, ltyped, lbytes, lraw, linto, lsys] = timeAll([
      (n) => { for (let i = 0; i < n; i++) sink += js.get(keys[i & (NKEYS - 1)]!) ?? 0n; },
      (n) => { for (let i = 0; i < n; i++) sink += map.lookup(keys[i & (NKEYS - 1)]!) ?? 0n; },
      (n) => { for (let i = 0; i < n; i++) sinkN += jsBytes.get(word(rawKeys[i & (NKEYS - 1)]!))?.[0] ?? 0; },
      (n) => { for (let i = 0; i < n; i++) sinkN += raw.lookup(rawKeys[i & (NKEYS - 1)]!)?.[0] ?? 0; },
      (n) => { for (let i = 0; i < n; i++) sinkN += raw.lookupInto(rawKeys[i & (NKEYS - 1)]!, out) ? out[0]! : 0; },
      (n) => { for (let i = 0; i < n; i++) sinkN += sys.bpf(1, { map_fd: map.fd, key: rawKeys[i & (NKEYS - 1)]!, value: valueBuf }); },
    ]);
    const [ujs, utyped, ubytes, uraw, usys] = timeAll([
      (n) => { for (let i = 0; i < n; i++) js.set(keys[i & (NKEYS - 1)]!, 9n); },
      (n) => { for (let i = 0; i < n; i++) map.update(keys[i & (NKEYS - 1)]!, 9n); },
      (n) => { for (let i = 0; i < n; i++) jsBytes.set(word(rawKeys[i & (NKEYS - 1)]!), rawValue); },
      (n) => { for (let i = 0; i < n; i++) raw.update(rawKeys[i & (NKEYS - 1)]!, rawValue); },
      (n) => { for (let i = 0; i < n; i++) sys.bpf(2, { map_fd: map.fd, key: rawKeys[i & (NKEYS - 1)]!, value: rawValue, flags: 0 }); },
    ]);
    const lookup = { js: ljs!, typed: ltyped!, jsBytes: lbytes!, raw: lraw!, rawInto: linto!, syscall: lsys! };
    const update = { js: ujs!, typed: utyped!, jsBytes: ubytes!, raw: uraw!, syscall: usys! };
    if (sink < 0n || sinkN < 0) throw new Error('unreachable');
    const walkBatch = timeWalk(() => {
      let c = 0;
      let cursor;
      do {
        const r = raw.lookupBatch(1024, cursor);
        c += r.entries.length;
        cursor = r.next;
      } while (cursor !== undefined);
      return c;
    }, entries);
    const walkKeys = timeWalk(() => {
      let c = 0;
      for (const _ of raw.entries()) c++;
      return c;
    }, entries);
    return { entries, lookup, update, walk: { batch: walkBatch, perKey: walkKeys } };
  } finally {
    map.close();
  }
}

/** CPU ns per element of a full walk (best of 3), checked to visit every element. */
function timeWalk(walk: () => number, entries: number): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = cpuNs();
    const c = walk();
    best = Math.min(best, (cpuNs() - t0) / entries);
    if (c !== entries) throw new Error(`map walk visited ${c} of ${entries} elements`);
  }
  return best;
}

/** The host kernel's lookups and updates (native/map-ops.c): entries -> [lookup ns, update ns], or why not. */
function measureKernelMapOps(): Map<number, [number, number]> | string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-mapops-'));
  try {
    const src = fileURLToPath(new URL('../../../src/bench/native/map-ops.c', import.meta.url));
    const exe = join(dir, 'map-ops');
    const cc = process.env['CC'] ?? 'cc';
    const b = spawnSync(cc, ['-O2', '-o', exe, src]);
    if (b.status !== 0) return `no kernel column: ${cc} could not build native/map-ops.c`;
    const r = spawnSync(exe, [], { input: MAP_OPS_SIZES.map((n) => `${n} 200000`).join('\n') + '\n', encoding: 'utf8' });
    const out = new Map<number, [number, number]>();
    for (const line of (r.stdout ?? '').trim().split('\n')) {
      const [tag, n, l, u] = line.split(' ');
      if (tag === 'E') return `no kernel column: bpf(2) failed with errno ${n} (root and bpf(2) needed)`;
      if (tag === 'R') out.set(Number(n), [Number(l), Number(u)]);
    }
    return out.size === MAP_OPS_SIZES.length ? out : 'no kernel column: the native runner gave no result';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every size, with the kernel column where bpf(2) is allowed. */
export function runMapOpsBench(sizes: readonly number[] = MAP_OPS_SIZES): MapOpsSection {
  const rows = sizes.map(measureSize);
  const kernel = process.platform === 'linux' ? measureKernelMapOps() : 'no kernel column: not Linux';
  if (typeof kernel !== 'string') {
    for (const r of rows) {
      const k = kernel.get(r.entries);
      if (k) [r.lookup.kernel, r.update.kernel] = k;
    }
  }
  return { cpu: cpus()[0]?.model ?? 'unknown CPU', rows, ...(typeof kernel === 'string' ? { kernelNote: kernel } : {}) };
}

/** The section as text: ns per op and the ratio to the JavaScript Map its user would pick. */
export function formatMapOps(s: MapOpsSection): string {
  const f = (x: number | undefined, js: number): string => (x === undefined ? 'n/a' : `${x.toFixed(0)} (${(x / js).toFixed(1)}x)`);
  const lines = [
    `\nmap ops from JavaScript: hash map, 4-byte keys, 8-byte values, present keys at random; ns per op (x its JS Map); ${s.cpu}`,
    '  typed: BpfMap u32/u64, lookup(n) a new bigint, update(n, 9n)            x Map<number, bigint> get/set',
    '  raw:   BpfMap.raw, 4-byte Uint8Array keys: lookup a new 8-byte copy,    x Map<number, Uint8Array> keyed by the',
    '         lookupInto(key, out) copies into out, update copies the bytes in    key\'s 4 bytes (LE u32); get gives the',
    '                                                                            stored array, set stores the caller\'s',
    '  sys.bpf (attribute objects), kernel bpf(2)                               x Map<number, bigint>',
    '  entries  op      Map<n,big>  BpfMap u32/u64  Map<u32,u8[]>  raw          raw into     sys.bpf       kernel bpf(2)',
  ];
  for (const r of s.rows) {
    for (const op of ['lookup', 'update'] as const) {
      const o = r[op];
      const into = op === 'lookup' ? f(r.lookup.rawInto, o.jsBytes) : '';
      lines.push(`  ${String(r.entries).padStart(7)}  ${op.padEnd(6)}  ${o.js.toFixed(0).padStart(10)}  ${f(o.typed, o.js).padEnd(14)}  ${o.jsBytes.toFixed(0).padStart(13)}  ${f(o.raw, o.jsBytes).padEnd(11)}  ${into.padEnd(11)}  ${f(o.syscall, o.js).padEnd(12)}  ${f(o.kernel, o.js)}`);
    }
    lines.push(`  ${String(r.entries).padStart(7)}  walk    lookupBatch ${r.walk.batch.toFixed(0)} ns/elem, get_next_key + lookup ${r.walk.perKey.toFixed(0)} ns/elem`);
  }
  if (s.kernelNote) lines.push(`  (${s.kernelNote})`);
  return lines.join('\n') + '\n';
}
