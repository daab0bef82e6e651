/**
 * The map-command line protocol of test/c/map-ops.c, on both sides: the
 * host kernel (that program, built with cc, pinned to CPU 0) and tsbpf (a
 * BpfSystem answering the same lines), plus the random sequences the
 * kernel differential test (maps-kernel.test.ts) sends to both. One line
 * per command, one answer per line: a non-negative result (with the bytes
 * read, in hex) or -errno; hex "-" is a NULL pointer.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { BpfError, ERRNO } from '../src/errors.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';
import { prng as rng } from '../src/bench/filter-e2e.js';

/** The host kernel's side: builds map-ops.c and checks that bpf(2) creates a map, or says why not. */
export function buildMapOps(): { exe?: string; why?: string } {
  const exe = join(tempDir('tsbpf-map-ops-'), 'map-ops');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-o', exe, join(projectRoot(), 'test', 'c', 'map-ops.c')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return { why: `no C compiler to build test/c/map-ops.c (${cc.error?.message ?? cc.stderr.trim()})` };
  const probe = kernelAnswers(exe, ['C 2 4 4 1 0 0']);
  if (!/^\d+$/.test(probe[0] ?? '')) return { why: `bpf(2) BPF_MAP_CREATE is not available here (${probe[0] || 'no output'}; root on Linux is needed)` };
  return { exe };
}

export function kernelAnswers(exe: string, lines: readonly string[]): string[] {
  const r = spawnSync(exe, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  return r.stdout.trimEnd().split('\n');
}

/** The host's possible CPUs (/sys/devices/system/cpu/possible, as libbpf counts them): per-CPU values on bpf(2). */
export function possibleCpus(): number {
  try {
    let n = 0;
    for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += (b ?? a!) - a! + 1;
    }
    return n;
  } catch {
    return 1;
  }
}

const unhex = (s: string): Uint8Array | null => (s === '-' ? null : Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16)));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Object ids differ between the host kernel (global counters) and tsbpf:
 * the answers of `I`, `L` and `X` lines with the ids named by the fd that
 * `I fd` lines learnt them from (`0 id3`), so the two sides compare. (A
 * sequence asks `I` of one kind of object: maps' and programs' ids are
 * separate counters.)
 */
export function nameIds(lines: readonly string[], answers: readonly string[]): string[] {
  const names = new Map<string, string>();
  return answers.map((a, i) => {
    const [c, fd] = lines[i]!.split(' ');
    const m = /^0 ([0-9a-f]{8})$/.exec(a);
    if (c === 'I' && m) names.set(m[1]!, `id${fd}`);
    if (m && (c === 'I' || c === 'L' || c === 'X') && names.has(m[1]!)) return `0 ${names.get(m[1]!)}`;
    return a;
  });
}

/** tsbpf's side: the answer of one line, from `sys`. */
export function tsbpfAnswer(sys: BpfSystem, line: string): string {
  const [c, ...p] = line.split(' ');
  const n = (i: number): number => Number(p[i]);
  const filled = (len: number): Uint8Array => new Uint8Array(len).fill(0xee);
  try {
    switch (c) {
      case 'C': {
        const attr: Record<string, number> = { map_type: n(0), key_size: n(1), value_size: n(2), max_entries: n(3), map_flags: n(4) };
        if (n(5) !== 0) attr['inner_map_fd'] = n(5);
        return String(sys.bpf('BPF_MAP_CREATE', attr));
      }
      case 'L':
      case 'X': {
        const value = filled(n(2));
        sys.bpf(c === 'L' ? 'BPF_MAP_LOOKUP_ELEM' : 'BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: n(0), key: unhex(p[1]!), value });
        return `0 ${hex(value)}`;
      }
      case 'U':
        return String(sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: n(0), key: unhex(p[1]!), value: unhex(p[2]!), flags: n(3) }));
      case 'D':
        return String(sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: n(0), key: unhex(p[1]!) }));
      case 'N': {
        const next = filled(n(2));
        sys.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: n(0), key: unhex(p[1]!), next_key: next });
        return `0 ${hex(next)}`;
      }
      case 'F':
        return String(sys.bpf('BPF_MAP_FREEZE', { map_fd: n(0) }));
      case 'Z':
        sys.close(n(0));
        return '0';
      case 'P':
        // r0 = 0; exit
        return String(sys.bpf('BPF_PROG_LOAD', { prog_type: n(0), insns: Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), insn_cnt: 2, license: 'GPL' }));
      case 'I': {
        const f = sys.fds().find((x) => x.fd === n(0));
        if (!f) return String(-ERRNO.EBADF);
        return `0 ${le32(f.id)}`;
      }
      default:
        return `? ${line}`;
    }
  } catch (e) {
    if (e instanceof BpfError) return String(-ERRNO[e.code]);
    throw e;
  }
}

// ------------------------------------------------------------------ random sequences

/** The benches' seeded PRNG (mulberry32): the same sequence for a seed on every run. */
export { prng as rng } from '../src/bench/filter-e2e.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const bytes = (r: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 256).toString(16).padStart(2, '0');
  return s;
};
const le32 = (v: number): string => hex(Uint8Array.from([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]));

export interface SeqSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** inner_map_fd */
  inner?: number;
  /** bytes of a value on bpf(2) */
  sysValue: number;
  /** a random key (hex, or '-' for none) */
  key(r: () => number): string;
  ops: readonly string[];
  /** objects made before the map (fds from 3 on); the map under test gets the next fd */
  setup?: readonly string[];
  /** a random value to update with (default: random bytes); fd maps give an fd */
  value?(r: () => number): string;
}

/** The lines of one random sequence on `spec`: the setup, the map, `count` operations, and every fd closed. */
export function randomSequence(spec: SeqSpec, seed: number, count: number): string[] {
  const r = rng(seed);
  const setup = spec.setup ?? [];
  const fd = 3 + setup.filter((l) => l[0] === 'C' || l[0] === 'P').length;
  const lines = [...setup, `C ${spec.type} ${spec.keySize} ${spec.valueSize} ${spec.maxEntries} ${spec.flags} ${spec.inner ?? 0}`];
  for (let i = 0; i < count; i++) {
    const op = pick(r, spec.ops);
    const key = spec.key(r);
    const flags = pick(r, [0, 0, 0, 1, 2, 2, 3]);
    switch (op) {
      case 'U': lines.push(`U ${fd} ${key} ${spec.value ? spec.value(r) : bytes(r, spec.sysValue)} ${flags}`); break;
      case 'L': lines.push(`L ${fd} ${key} ${spec.sysValue}`); break;
      case 'X': lines.push(`X ${fd} ${key} ${spec.sysValue}`); break;
      case 'D': lines.push(`D ${fd} ${key}`); break;
      case 'N': lines.push(`N ${fd} ${r() < 0.25 ? '-' : key} ${spec.keySize}`); break;
      default: throw new Error(`op ${op}`);
    }
  }
  for (let f = fd; f >= 3; f--) lines.push(`Z ${f}`);
  return lines;
}

/** The sequences' map specs for `cpus` possible CPUs. */
export function specs(cpus: number): SeqSpec[] {
  const u32key = (max: number) => (r: () => number) => le32(Math.floor(r() * max));
  const pcpu = (v: number): number => Math.ceil(v / 8) * 8 * cpus;
  // BPF_F_ZERO_SEED: the kernel's hash seed is random otherwise, and tsbpf's is 0 (bucket order, get_next_key order)
  const ZERO_SEED = 64;
  const lpmKey = (r: () => number): string => {
    const len = pick(r, [0, 1, 7, 8, 9, 16, 24, 24, 31, 32, 32, 32, 33]);
    const data = pick(r, ['0a000000', '0a000001', '0a010000', '0a800000', 'c0a80000', 'c0a80101', 'ff000000', '00000000', '80000000']);
    return le32(len) + data;
  };
  return [
    { name: 'percpu_array', type: 6, keySize: 4, valueSize: 12, maxEntries: 6, flags: 0, sysValue: pcpu(12), key: u32key(8), ops: ['U', 'U', 'L', 'L', 'D', 'N', 'X'] },
    { name: 'percpu_hash', type: 5, keySize: 4, valueSize: 5, maxEntries: 6, flags: ZERO_SEED, sysValue: pcpu(5), key: u32key(10), ops: ['U', 'U', 'U', 'L', 'D', 'N', 'N', 'X'] },
    { name: 'hash (modern)', type: 1, keySize: 6, valueSize: 4, maxEntries: 5, flags: ZERO_SEED, sysValue: 4, key: (r) => le32(Math.floor(r() * 9)) + '0000', ops: ['U', 'U', 'U', 'L', 'D', 'N', 'N', 'X'] },
    { name: 'hash no_prealloc', type: 1, keySize: 4, valueSize: 8, maxEntries: 4, flags: ZERO_SEED | 1, sysValue: 8, key: u32key(7), ops: ['U', 'U', 'L', 'D', 'N', 'X'] },
    { name: 'array (modern)', type: 2, keySize: 4, valueSize: 3, maxEntries: 5, flags: 0, sysValue: 3, key: u32key(7), ops: ['U', 'L', 'D', 'N', 'X'] },
    // LRU without eviction: far fewer keys than max_entries (the kernel evicts in batches; see maps/hash.ts)
    { name: 'lru_hash', type: 9, keySize: 4, valueSize: 8, maxEntries: 128, flags: ZERO_SEED, sysValue: 8, key: u32key(12), ops: ['U', 'U', 'L', 'D', 'N', 'X'] },
    { name: 'lru_percpu_hash', type: 10, keySize: 4, valueSize: 4, maxEntries: 128, flags: ZERO_SEED, sysValue: pcpu(4), key: u32key(12), ops: ['U', 'U', 'L', 'D', 'N', 'X'] },
    // with eviction: many more keys than entries (the kernel's LRU lists, modelled in maps/lru.ts)
    { name: 'lru_hash evicting', type: 9, keySize: 4, valueSize: 4, maxEntries: 8, flags: ZERO_SEED, sysValue: 4, key: u32key(24), ops: ['U', 'U', 'U', 'L', 'D', 'N', 'X'] },
    { name: 'lru_hash evicting, 64', type: 9, keySize: 4, valueSize: 4, maxEntries: 64, flags: ZERO_SEED, sysValue: 4, key: u32key(120), ops: ['U', 'U', 'U', 'U', 'L', 'D', 'X'] },
    { name: 'lru_percpu_hash evicting', type: 10, keySize: 4, valueSize: 4, maxEntries: 6, flags: ZERO_SEED, sysValue: pcpu(4), key: u32key(16), ops: ['U', 'U', 'U', 'L', 'D', 'N', 'X'] },
    { name: 'lpm_trie', type: 11, keySize: 8, valueSize: 4, maxEntries: 12, flags: 1, sysValue: 4, key: lpmKey, ops: ['U', 'U', 'U', 'L', 'L', 'D', 'N', 'N', 'X'] },
    { name: 'queue', type: 22, keySize: 0, valueSize: 4, maxEntries: 4, flags: 0, sysValue: 4, key: (r) => (r() < 0.9 ? '-' : '00'), ops: ['U', 'U', 'L', 'X', 'X', 'D', 'N'] },
    {
      name: 'prog_array', type: 3, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, sysValue: 4, key: u32key(6), ops: ['U', 'U', 'L', 'D', 'N', 'X'],
      // fds 3, 4: programs; 5: a map (EINVAL as a value); 99: not open (EBADF); 0: not a bpf object
      setup: ['P 1', 'P 1', 'C 2 4 4 4 0 0', 'I 3', 'I 4'], value: (r) => le32(pick(r, [3, 3, 4, 4, 5, 99, 0])),
    },
    {
      name: 'array_of_maps', type: 12, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, inner: 3, sysValue: 4, key: u32key(6), ops: ['U', 'U', 'L', 'D', 'N', 'X'],
      // 3: the template, 4: another like it, 5 and 6: unlike it (max_entries, type)
      setup: ['C 2 4 8 4 0 0', 'C 2 4 8 4 0 0', 'C 2 4 8 8 0 0', 'C 1 4 8 4 0 0', 'I 3', 'I 4'], value: (r) => le32(pick(r, [3, 4, 4, 5, 6, 99, 0])),
    },
    {
      name: 'hash_of_maps', type: 13, keySize: 8, valueSize: 4, maxEntries: 3, flags: ZERO_SEED, inner: 3, sysValue: 4,
      key: (r) => le32(Math.floor(r() * 5)) + '00000000', ops: ['U', 'U', 'L', 'D', 'N', 'X'],
      // 3: the template (BPF_F_INNER_MAP: any max_entries), 4 and 5: like it, 6: unlike it (flags)
      setup: ['C 2 4 8 4 4096 0', 'C 2 4 8 16 4096 0', 'C 2 4 8 4 4096 0', 'C 2 4 8 4 0 0', 'I 3', 'I 4', 'I 5'], value: (r) => le32(pick(r, [3, 4, 5, 5, 6, 99])),
    },
    {
      name: 'ringbuf', type: 27, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0, sysValue: 0, key: (r) => (r() < 0.8 ? '-' : '00'),
      ops: ['U', 'L', 'D', 'N', 'X'], value: () => '-',
    },
    { name: 'stack', type: 23, keySize: 0, valueSize: 6, maxEntries: 3, flags: 0, sysValue: 6, key: (r) => (r() < 0.9 ? '-' : '00'), ops: ['U', 'U', 'L', 'X', 'X', 'D', 'N'] },
  ];
}

/** lru_hash of 8, ten new keys: 1 and 2 are evicted (with 2 CPUs, in one refill of target_free = 2; maps/lru.ts). */
export const LRU_CASE: readonly string[] = [
  'C 9 4 4 8 0 0', ...Array.from({ length: 10 }, (_, k) => `U 3 ${le32(k + 1)} ${le32(k)} 0`), ...Array.from({ length: 10 }, (_, k) => `L 3 ${le32(k + 1)} 4`),
];

/** Fixed sequences, each alone on a fresh system: inner map templates, a prog array's references. */
export const INNER_CASES: readonly (readonly string[])[] = [
  ['C 2 4 8 4 0 0', 'C 12 4 4 4 0 3', 'C 12 4 8 4 0 3', 'C 12 8 4 4 0 3', 'C 12 4 4 4 1 3', 'C 13 4 4 4 1 3', 'C 13 4 8 4 0 3'],
  ['C 3 4 4 4 0 0', 'C 12 4 4 4 0 3', 'C 13 4 4 4 0 3'],
  ['C 2 4 8 4 0 0', 'C 12 4 4 4 0 3', 'C 12 4 4 4 0 4', 'C 13 4 4 4 0 4'],
  ['C 27 0 0 4096 0 0', 'C 12 4 4 4 0 3', 'C 22 0 4 4 0 0', 'C 13 4 4 4 0 5', 'C 6 4 4 4 0 0', 'C 12 4 4 4 0 7', 'C 11 8 4 4 1 0', 'C 12 4 4 4 0 9'],
  ['P 1', 'C 12 4 4 4 0 3', 'C 2 4 4 4 0 0', 'C 3 4 4 4 0 0', 'I 3', 'U 5 00000000 04000000 0', 'U 5 00000000 03000000 0', 'L 5 00000000 4', 'U 5 00000000 03000000 0', 'L 5 00000000 4', 'Z 3', 'L 5 00000000 4', 'D 5 00000000', 'D 5 00000000'],
];

/** Create-time cases: each line alone on a fresh system (fd 3 when it succeeds). */
export const CREATE_CASES: readonly string[] = [
  // percpu_array: flags (NO_PREALLOC, MMAPABLE refused), value_size bounds
  'C 6 4 4 4 0 0', 'C 6 4 4 4 1 0', 'C 6 4 4 4 1024 0', 'C 6 4 32768 1 0 0', 'C 6 4 32769 1 0 0', 'C 6 8 4 4 0 0', 'C 6 4 0 4 0 0', 'C 6 4 4 0 0 0',
  // percpu_hash and the LRU variants
  'C 5 4 4 4 0 0', 'C 5 4 4 4 1 0', 'C 5 4 32769 4 0 0', 'C 5 0 4 4 0 0', 'C 5 4 4 4 2 0', 'C 9 4 4 4 0 0', 'C 9 4 4 4 1 0', 'C 9 4 4 4 2 0',
  'C 10 4 4 4 2 0', 'C 10 4 4 4 1 0', 'C 9 4 4 0 0 0',
  // hash under 6.18: key_size above 512 is fine now; flags
  'C 1 4 4 4 1 0', 'C 1 513 4 4 0 0', 'C 1 4 4 4 64 0', 'C 1 4 4 4 2 0', 'C 1 4 4 4 24 0', 'C 1 4 4 4 8 0', 'C 1 4 4 4 1024 0',
  // array flags
  'C 2 4 4 4 1024 0', 'C 2 4 4 4 4096 0', 'C 2 4 4 4 2048 0', 'C 2 4 4 4 1 0', 'C 2 4 4 4 128 0',
  // lpm_trie: BPF_F_NO_PREALLOC required, key_size 5..260
  'C 11 8 4 4 0 0', 'C 11 8 4 4 1 0', 'C 11 4 4 4 1 0', 'C 11 5 4 4 1 0', 'C 11 260 4 4 1 0', 'C 11 261 4 4 1 0', 'C 11 8 0 4 1 0', 'C 11 8 4 0 1 0', 'C 11 8 4 4 3 0',
  // queue and stack: key_size 0
  'C 22 0 4 4 0 0', 'C 22 4 4 4 0 0', 'C 22 0 0 4 0 0', 'C 22 0 4 0 0 0', 'C 22 0 4 4 1 0', 'C 23 0 4 4 0 0', 'C 23 0 4 4 8 0',
  // ringbuf: a power-of-2 multiple of the page
  'C 27 0 0 4096 0 0', 'C 27 0 0 8192 0 0', 'C 27 0 0 12288 0 0', 'C 27 0 0 2048 0 0', 'C 27 4 0 4096 0 0', 'C 27 0 4 4096 0 0', 'C 27 0 0 4096 1 0', 'C 27 0 0 4096 4 0', 'C 27 0 0 0 0 0',
  // prog_array: value_size 4, no program-side access flags, no mmap, no inner-map flag
  'C 3 4 4 4 0 0', 'C 3 4 8 4 0 0', 'C 3 8 4 4 0 0', 'C 3 4 4 4 8 0', 'C 3 4 4 4 128 0', 'C 3 4 4 4 1024 0', 'C 3 4 4 4 4096 0', 'C 3 4 4 0 0 0',
  // maps of maps: inner_map_fd 0 is no map
  'C 12 4 4 4 0 0', 'C 13 4 4 4 0 0', 'C 12 4 4 4 0 99',
  // an unknown map type
  'C 99 4 4 4 0 0',
];
