/**
 * The map types of later kernels under the modern profile, value by value:
 * percpu_array and percpu_hash (every CPU's value on the syscall side, the
 * running CPU's for programs), lru_hash (the eviction order tsbpf models),
 * lpm_trie (longest prefix, walk order), queue and stack, ringbuf (records
 * reserved, submitted, discarded, read in order), prog_array and maps of
 * maps (references, templates), the modern attributes (flags, names,
 * freeze, access flags) and the 3.19 profile's refusals, unchanged. The
 * kernel's own answers to the same commands: maps-kernel.test.ts.
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { BpfMap, u32, u64 } from '../src/api/map.js';
import { assemble } from '../src/isa/index.js';
import { BpfError } from '../src/errors.js';
import { Runtime } from '../src/runtime/runtime.js';
import { RingbufMap } from '../src/maps/ringbuf.js';
import { le32, le64 } from './bytes.js';
import { expectErr } from './expect-error.js';

const modern = (cpus = 1): BpfSystem => new BpfSystem({ profile: 'modern', cpus });
const create = (sys: BpfSystem, map_type: number, key_size: number, value_size: number, max_entries: number, map_flags = 0, inner_map_fd = 0): number =>
  sys.bpf('BPF_MAP_CREATE', inner_map_fd ? { map_type, key_size, value_size, max_entries, map_flags, inner_map_fd } : { map_type, key_size, value_size, max_entries, map_flags });
const lookup = (sys: BpfSystem, fd: number, key: Uint8Array | null, size: number): number[] => {
  const value = new Uint8Array(size);
  sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key, value });
  return [...value];
};
const update = (sys: BpfSystem, fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): number => sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key, value, flags });
const nextKey = (sys: BpfSystem, fd: number, key: Uint8Array | null, size: number): number[] | undefined => {
  const next_key = new Uint8Array(size);
  try {
    sys.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key, next_key });
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
    throw e;
  }
  return [...next_key];
};
/** Every key in get_next_key order, from no key. */
const walk = (sys: BpfSystem, fd: number, size: number): number[][] => {
  const out: number[][] = [];
  for (let k = nextKey(sys, fd, null, size); k !== undefined && out.length < 1000; k = nextKey(sys, fd, Uint8Array.from(k), size)) out.push(k);
  return out;
};
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
/** A key staged in the runtime's memory, for the program side of a map (impl.lookup). */
const staged = (sys: BpfSystem, key: Uint8Array): number => {
  const a = sys.runtime.mem.alloc(Math.max(key.length, 8));
  sys.runtime.mem.write(a, key);
  return a;
};

describe('profiles', () => {
  test('3.19 is the default and refuses the later map types and commands as before', () => {
    const sys = new BpfSystem();
    assert.equal(sys.profile.name, '3.19');
    expectErr(() => create(sys, 6, 4, 4, 4), 'EINVAL', 'map type percpu_array (6) is not supported (supported: hash, array)');
    expectErr(() => create(sys, 1, 4, 4, 4, 1), 'EINVAL', 'map_flags 1 is not supported (3.19 has no map flags)');
    expectErr(() => sys.bpf('BPF_MAP_FREEZE', { map_fd: 3 }), 'EINVAL', "unknown command 'BPF_MAP_FREEZE' (a string)");
    expectErr(() => sys.bpf(21, { map_fd: 3 }), 'EINVAL', 'unknown command 21');
    expectErr(() => create(sys, 1, 4, 4, 4, 0, 3), 'EINVAL', "field 'inner_map_fd' is not used by BPF_MAP_CREATE and must be zero");
  });

  test('the modern profile models 6.18; profiles and CPUs are checked', () => {
    const sys = modern(4);
    assert.deepEqual([sys.profile.name, sys.profile.version, sys.profile.maxHelperId, sys.runtime.cpus], ['modern', '6.18', 212, 4]);
    assert.equal(new BpfSystem(new Runtime({ profile: 'modern' })).profile.name, 'modern');
    expectErr(() => new BpfSystem({ profile: '5.10' }), 'EINVAL', "unknown profile '5.10' (3.19, modern)");
    expectErr(() => new BpfSystem({ cpus: 0 }), 'EINVAL', 'cpus must be an integer from 1 to 1024, got 0');
    expectErr(() => new BpfSystem({ cpus: 1.5 }), 'EINVAL', 'cpus must be an integer from 1 to 1024, got 1.5');
    expectErr(() => create(sys, 99, 4, 4, 4), 'EINVAL',
      'unknown map type 99 (supported: hash, array, percpu_hash, percpu_array, lru_hash, lru_percpu_hash, lpm_trie, queue, stack, ringbuf, prog_array, array_of_maps, hash_of_maps)');
    expectErr(() => create(sys, 7, 4, 4, 4), 'EINVAL',
      'map type stack_trace (7) is not supported (supported: hash, array, percpu_hash, percpu_array, lru_hash, lru_percpu_hash, lpm_trie, queue, stack, ringbuf, prog_array, array_of_maps, hash_of_maps)');
  });

  test('modern BPF_MAP_CREATE attributes: flags per type, name, NUMA node, no map_extra, BTF or offload', () => {
    const sys = modern();
    expectErr(() => create(sys, 2, 4, 4, 4, 1), 'EINVAL', 'map_flags 0x1 not allowed for array maps (allowed: 0x159c)');
    expectErr(() => create(sys, 1, 4, 4, 4, 2), 'EINVAL', 'map_flags 0x2 not allowed for hash maps (allowed: 0x1dd)');
    expectErr(() => create(sys, 1, 4, 4, 4, 8 | 16), 'EINVAL', 'map_flags: BPF_F_RDONLY and BPF_F_WRONLY exclude each other');
    expectErr(() => create(sys, 9, 4, 4, 4, 1), 'ENOTSUPP', 'lru_hash maps are always preallocated (BPF_F_NO_PREALLOC)');
    const fd = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_name: 'flow_table.v2' });
    assert.equal(sys.mapOf(fd).name, 'flow_table.v2');
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_name: 'a-b' }), 'EINVAL',
      "map_name 'a-b' must be at most 15 characters of [A-Za-z0-9_.]");
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_name: 'sixteen_chars_xx' }), 'EINVAL',
      "map_name 'sixteen_chars_xx' must be at most 15 characters of [A-Za-z0-9_.]");
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_extra: 1 }), 'EINVAL', 'map_extra is for bloom filters, which tsbpf does not have');
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_flags: 4, numa_node: 1 }), 'EINVAL', 'numa_node 1 is not online (one node: 0)');
    assert.equal(sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_flags: 4, numa_node: 0 }), 4);
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, btf_key_type_id: 1 }), 'EINVAL',
      'btf_key_type_id: bpf(2) takes no BTF or token objects here (load BTF-defined maps from an object file)');
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_ifindex: 2 }), 'EINVAL', 'map_ifindex: no device offloads maps here');
    expectErr(() => sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 4, max_entries: 4, prog_type: 1 }), 'EINVAL',
      "field 'prog_type' is not used by BPF_MAP_CREATE and must be zero");
    // 6.18 dropped 3.19's key_size bound of 512
    assert.equal(create(sys, 1, 513, 4, 4), 5);
  });

  test('access flags and BPF_MAP_FREEZE: the syscall side loses reads or writes', () => {
    const sys = modern();
    const ro = create(sys, 2, 4, 4, 2, 8);
    const wo = create(sys, 2, 4, 4, 2, 16);
    expectErr(() => update(sys, ro, le32(0), le32(1)), 'EPERM', 'the map is read-only from bpf(2) (BPF_F_RDONLY)');
    assert.deepEqual(lookup(sys, ro, le32(0), 4), [0, 0, 0, 0]);
    expectErr(() => lookup(sys, wo, le32(0), 4), 'EPERM', 'the map is write-only from bpf(2) (BPF_F_WRONLY)');
    expectErr(() => nextKey(sys, wo, null, 4), 'EPERM', 'the map is write-only from bpf(2) (BPF_F_WRONLY)');
    assert.equal(update(sys, wo, le32(1), le32(7)), 0);
    const fd = create(sys, 1, 4, 4, 2);
    update(sys, fd, le32(1), le32(0x01020304));
    assert.equal(sys.bpf('BPF_MAP_FREEZE', { map_fd: fd }), 0);
    expectErr(() => update(sys, fd, le32(1), le32(0)), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le32(1) }), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    expectErr(() => sys.bpf('BPF_MAP_FREEZE', { map_fd: fd }), 'EPERM', 'the map is frozen: bpf(2) may no longer write it');
    assert.deepEqual(lookup(sys, fd, le32(1), 4), [4, 3, 2, 1]);
    // programs still write a frozen map
    const impl = sys.mapOf(fd).impl;
    assert.equal(impl.update(staged(sys, le32(1)), staged(sys, le32(9)), 0, 0), 0);
    assert.deepEqual(lookup(sys, fd, le32(1), 4), [9, 0, 0, 0]);
    expectErr(() => lookup(sys, fd, le32(1), 4 - 1), 'EFAULT', 'value has 3 bytes, the map needs 4');
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(1), value: new Uint8Array(4), flags: 4 }), 'EINVAL', "BPF_F_LOCK: the map's values have no bpf_spin_lock");
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(1), value: new Uint8Array(4), flags: 1 }), 'EINVAL', 'flags 1: only BPF_F_LOCK (4) exists');
  });
});

describe('per-CPU maps', () => {
  test('percpu_array: the syscall carries every CPU\'s value in 8-byte slots, a program sees its CPU\'s', () => {
    const sys = modern(3);
    const fd = create(sys, 6, 4, 5, 2);
    assert.equal(sys.mapOf(fd).impl.sysValueSize, 24);
    assert.deepEqual(lookup(sys, fd, le32(1), 24), new Array(24).fill(0));
    const v = Uint8Array.from({ length: 24 }, (_, i) => i + 1);
    assert.equal(update(sys, fd, le32(1), v), 0);
    // the padding bytes go in and come back, as the kernel copies whole longs
    assert.deepEqual(lookup(sys, fd, le32(1), 24), [...v]);
    expectErr(() => lookup(sys, fd, le32(1), 8), 'EFAULT', 'value has 8 bytes, the map needs 24');
    expectErr(() => update(sys, fd, le32(2), v), 'E2BIG', 'the map is full (or the index is out of range)');
    expectErr(() => update(sys, fd, le32(0), v, 1), 'EEXIST', 'the key exists (BPF_NOEXIST)');
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le32(0) }), 'EINVAL', 'percpu_array map elements cannot be deleted');
    // the program side: the running CPU's value
    const impl = sys.mapOf(fd).impl;
    const key = staged(sys, le32(1));
    sys.runtime.cpu = 2;
    const a = impl.lookup(key);
    assert.deepEqual([...sys.runtime.mem.u8.subarray(a, a + 5)], [17, 18, 19, 20, 21]);
    assert.equal(impl.update(key, staged(sys, bytes(0xaa, 0xbb, 0xcc, 0xdd, 0xee)), 0, 0), 0);
    sys.runtime.cpu = 0;
    assert.deepEqual(lookup(sys, fd, le32(1), 24), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 22, 23, 24]);
    // the checked interpreter's view: one CPU's value, not across CPUs' slots
    assert.equal(impl.region.contains!(a, a + 5), true);
    assert.equal(impl.region.contains!(a, a + 6), false);
    assert.equal(impl.jitLayout, undefined);
    assert.equal(impl.directValue, undefined);
  });

  test('percpu_hash: a program\'s new element zeroes the other CPUs; updates are in place; lookup_and_delete', () => {
    const sys = modern(2);
    const fd = create(sys, 5, 4, 4, 2, 64);
    const impl = sys.mapOf(fd).impl;
    sys.runtime.cpu = 1;
    assert.equal(impl.update(staged(sys, le32(7)), staged(sys, le32(0x11223344)), 0, 0), 0);
    sys.runtime.cpu = 0;
    assert.deepEqual(lookup(sys, fd, le32(7), 16), [0, 0, 0, 0, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0]);
    assert.equal(update(sys, fd, le32(8), Uint8Array.from({ length: 16 }, (_, i) => i)), 0);
    expectErr(() => update(sys, fd, le32(9), new Uint8Array(16)), 'E2BIG', 'the map is full (or the index is out of range)');
    // the modern order: BPF_EXIST is checked before the capacity
    expectErr(() => update(sys, fd, le32(9), new Uint8Array(16), 2), 'ENOENT', 'no such key (BPF_EXIST)');
    const order = walk(sys, fd, 4);
    assert.equal(update(sys, fd, le32(7), new Uint8Array(16).fill(5), 2), 0);
    assert.deepEqual(walk(sys, fd, 4), order);
    const out = new Uint8Array(16);
    assert.equal(sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, key: le32(7), value: out }), 0);
    assert.deepEqual([...out], new Array(16).fill(5));
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, key: le32(7), value: out }), 'ENOENT', 'no such key');
  });

  test('BpfMap: lookupPerCpu and updatePerCpu; lookup and update refuse a per-CPU map', () => {
    const sys = modern(2);
    const m = BpfMap.create(sys, { type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'counts' }, { key: u32, value: u32 });
    assert.equal(m.perCpu, true);
    m.updatePerCpu(1, [10, 20]);
    m.updatePerCpu(2, 7);
    assert.deepEqual(m.lookupPerCpu(1), [10, 20]);
    assert.deepEqual(m.lookupPerCpu(2), [7, 7]);
    assert.equal(m.lookupPerCpu(3), undefined);
    expectErr(() => m.lookup(1), 'EINVAL', 'counts is a per-CPU map: use lookupPerCpu, which carries every CPU\'s value');
    expectErr(() => m.update(1, 1), 'EINVAL', 'counts is a per-CPU map: use updatePerCpu, which carries every CPU\'s value');
    expectErr(() => m.updatePerCpu(1, [1, 2, 3]), 'EINVAL', '3 values for 2 CPUs');
    assert.deepEqual([...m.keys()].sort(), [1, 2]);
  });
});

describe('lru_hash', () => {
  test('a full map evicts the least recently used: program lookups and updates refresh, syscall lookups do not', () => {
    const sys = modern();
    const fd = create(sys, 9, 4, 8, 3);
    const impl = sys.mapOf(fd).impl;
    for (const k of [1, 2, 3]) update(sys, fd, le32(k), le64(k * 10));
    assert.notEqual(impl.lookup(staged(sys, le32(1))), 0); // 1 is now the most recent: 2 is the least
    lookup(sys, fd, le32(2), 8); // the syscall's lookup does not refresh 2
    update(sys, fd, le32(4), le64(40));
    assert.deepEqual(walk(sys, fd, 4).map((k) => k[0]).sort(), [1, 3, 4]);
    // an update of a full map takes its node first: replacing 4 still evicts the least recent (3)
    update(sys, fd, le32(4), le64(41), 2);
    assert.deepEqual(walk(sys, fd, 4).map((k) => k[0]).sort(), [1, 4]);
    assert.deepEqual(lookup(sys, fd, le32(4), 8), [41, 0, 0, 0, 0, 0, 0, 0]);
    // ... and a failing update too
    update(sys, fd, le32(5), le64(50));
    expectErr(() => update(sys, fd, le32(4), le64(0), 1), 'EEXIST', 'the key exists (BPF_NOEXIST)');
    assert.deepEqual(walk(sys, fd, 4).map((k) => k[0]).sort(), [4, 5]);
  });

  test('lru_percpu_hash: BPF_EXIST on a full map evicts nothing', () => {
    const sys = modern(2);
    const fd = create(sys, 10, 4, 4, 2);
    update(sys, fd, le32(1), new Uint8Array(16).fill(1));
    update(sys, fd, le32(2), new Uint8Array(16).fill(2));
    assert.equal(update(sys, fd, le32(2), new Uint8Array(16).fill(3), 2), 0);
    assert.deepEqual(walk(sys, fd, 4).map((k) => k[0]).sort(), [1, 2]);
    assert.equal(update(sys, fd, le32(3), new Uint8Array(16).fill(4)), 0);
    assert.deepEqual(walk(sys, fd, 4).map((k) => k[0]).sort(), [2, 3]);
  });
});

describe('lpm_trie', () => {
  const key = (len: number, ...data: number[]): Uint8Array => Uint8Array.from([...le32(len), ...data]);
  test('longest-prefix lookup, exact delete, ENOSPC, and the kernel\'s walk order', () => {
    const sys = modern();
    expectErr(() => create(sys, 11, 8, 4, 8), 'EINVAL',
      'invalid lpm_trie map: BPF_F_NO_PREALLOC required, key_size from 5 to 260 (got 8), value_size and max_entries non-zero');
    const fd = create(sys, 11, 8, 4, 5, 1);
    update(sys, fd, key(8, 10, 0, 0, 0), le32(8));
    update(sys, fd, key(16, 10, 1, 0, 0), le32(16));
    update(sys, fd, key(24, 10, 1, 2, 0), le32(24));
    update(sys, fd, key(0, 0, 0, 0, 0), le32(100));
    assert.deepEqual(lookup(sys, fd, key(32, 10, 1, 2, 3), 4), [24, 0, 0, 0]);
    assert.deepEqual(lookup(sys, fd, key(32, 10, 1, 9, 3), 4), [16, 0, 0, 0]);
    assert.deepEqual(lookup(sys, fd, key(32, 10, 9, 9, 9), 4), [8, 0, 0, 0]);
    assert.deepEqual(lookup(sys, fd, key(32, 11, 0, 0, 0), 4), [100, 0, 0, 0]);
    // the key's prefixlen bounds the match
    assert.deepEqual(lookup(sys, fd, key(20, 10, 1, 2, 3), 4), [16, 0, 0, 0]);
    expectErr(() => lookup(sys, fd, key(33, 10, 1, 2, 3), 4), 'ENOENT', 'no such key');
    expectErr(() => update(sys, fd, key(33, 0, 0, 0, 0), le32(0)), 'EINVAL', 'invalid flags');
    expectErr(() => update(sys, fd, key(16, 10, 1, 0xff, 0xff), le32(0), 1), 'EEXIST', 'the key exists (BPF_NOEXIST)');
    expectErr(() => update(sys, fd, key(12, 10, 1, 0, 0), le32(0), 2), 'ENOENT', 'no such key (BPF_EXIST)');
    update(sys, fd, key(9, 10, 0x80, 0, 0), le32(9));
    expectErr(() => update(sys, fd, key(30, 1, 2, 3, 4), le32(0)), 'ENOSPC', 'the map is full');
    // post-order: a longer prefix before the prefix it extends; 0 before 1 where they part
    assert.deepEqual(walk(sys, fd, 8), [
      [24, 0, 0, 0, 10, 1, 2, 0], [16, 0, 0, 0, 10, 1, 0, 0], [9, 0, 0, 0, 10, 0x80, 0, 0], [8, 0, 0, 0, 10, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    // an absent key, or a prefixlen past the data, restarts the walk
    assert.deepEqual(nextKey(sys, fd, key(7, 10, 0, 0, 0), 8), [24, 0, 0, 0, 10, 1, 2, 0]);
    assert.deepEqual(nextKey(sys, fd, key(16, 10, 1, 0, 0), 8), [9, 0, 0, 0, 10, 0x80, 0, 0]);
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: key(12, 10, 0, 0, 0) }), 'ENOENT', 'no such key');
    assert.equal(sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: key(16, 10, 1, 0, 0) }), 0);
    assert.deepEqual(lookup(sys, fd, key(32, 10, 1, 9, 3), 4), [8, 0, 0, 0]);
    // the stored bytes past the prefix are the latest update's
    update(sys, fd, key(8, 10, 0xaa, 0xbb, 0xcc), le32(80));
    assert.deepEqual(walk(sys, fd, 8)[2], [8, 0, 0, 0, 10, 0xaa, 0xbb, 0xcc]);
  });
});

describe('queue and stack', () => {
  test('queue: push, peek and pop the oldest; E2BIG when full unless BPF_EXIST drops the oldest', () => {
    const sys = modern();
    const fd = create(sys, 22, 0, 4, 2);
    const pop = (): number[] => {
      const value = new Uint8Array(4);
      sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, value });
      return [...value];
    };
    expectErr(() => lookup(sys, fd, null, 4), 'ENOENT', 'no such key');
    update(sys, fd, null, le32(1));
    update(sys, fd, null, le32(2));
    expectErr(() => update(sys, fd, null, le32(3)), 'E2BIG', 'the map is full (or the index is out of range)');
    expectErr(() => update(sys, fd, null, le32(3), 1), 'EINVAL', 'invalid flags');
    assert.equal(update(sys, fd, null, le32(3), 2), 0);
    assert.deepEqual(lookup(sys, fd, null, 4), [2, 0, 0, 0]);
    assert.deepEqual(pop(), [2, 0, 0, 0]);
    assert.deepEqual(pop(), [3, 0, 0, 0]);
    expectErr(pop, 'ENOENT', 'no such key');
    expectErr(() => lookup(sys, fd, bytes(0), 4), 'EINVAL', 'the map has no keys (key_size 0): key must be null');
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd }), 'EINVAL', 'queue map elements cannot be deleted');
    expectErr(() => nextKey(sys, fd, null, 0), 'EINVAL', 'queue maps have no keys to walk');
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, value: new Uint8Array(4), flags: 4 }), 'EINVAL', 'flags must be 0 to pop a queue or stack');
    expectErr(() => create(sys, 22, 4, 4, 2), 'EINVAL', 'invalid queue map: key_size must be 0 (got 4), value_size and max_entries non-zero');
  });

  test('stack through BpfMap: pop and peek the newest; BPF_EXIST still drops the oldest', () => {
    const sys = modern();
    const s = BpfMap.create(sys, { type: 'stack', keySize: 0, valueSize: 8, maxEntries: 3 }, { value: u64 });
    for (const v of [1n, 2n, 3n]) s.push(v);
    expectErr(() => s.push(4n), 'E2BIG', 'the map is full (or the index is out of range)');
    s.push(4n, 'exist');
    assert.equal(s.peek(), 4n);
    assert.deepEqual([s.pop(), s.pop(), s.pop(), s.pop()], [4n, 3n, 2n, undefined]);
    // the program side: lookups find nothing; push, pop, peek are the helpers' entries
    const impl = sys.mapOf(s.fd).impl;
    assert.equal(impl.lookup(0), 0);
    assert.equal(impl.push!(staged(sys, le64(9)), 0, 0), 0);
    const out = sys.runtime.mem.alloc(8);
    assert.equal(impl.peek!(out), 0);
    assert.equal(sys.runtime.mem.view.getBigUint64(out, true), 9n);
    assert.equal(impl.pop!(out), 0);
    assert.equal(impl.pop!(out), -2);
  });
});

describe('ringbuf', () => {
  test('records are read in order; discarded ones skipped; a reserved one holds back the rest', () => {
    const sys = modern();
    const fd = create(sys, 27, 0, 0, 4096);
    const rb = sys.mapOf(fd).impl as RingbufMap;
    const mem = sys.runtime.mem;
    const a = rb.reserve(3, 0, 0);
    const b = rb.reserve(16, 0, 0);
    const c = rb.reserve(1, 0, 0);
    assert.deepEqual([b - a, c - b], [16, 24]);
    mem.write(a, bytes(1, 2, 3));
    mem.write(c, bytes(9));
    assert.equal(rb.region.contains!(a, a + 3), true);
    assert.equal(rb.region.contains!(a, a + 4), false);
    assert.equal(rb.commit(c, false), 0);
    assert.equal(rb.commit(c, false), -22);
    assert.deepEqual(rb.records(), []);
    assert.equal(rb.commit(a, false), 0);
    assert.equal(rb.region.contains!(a, a + 1), false);
    assert.deepEqual(rb.records().map((r) => [...r]), [[1, 2, 3]]);
    assert.equal(rb.commit(b, true), 0);
    assert.equal(rb.output(staged(sys, bytes(7, 7)), 2, 0, 0), 0);
    assert.equal(rb.query(0), 56n);
    assert.deepEqual(rb.records().map((r) => [...r]), [[9], [7, 7]]);
    assert.deepEqual([rb.query(0), rb.query(1), rb.query(2), rb.query(3)], [0n, 4096n, 72n, 72n]);
    // the header in memory: the length, BUSY while reserved
    const d = rb.reserve(5, 0, 0);
    assert.equal(mem.view.getUint32(d - 8, true), 0x80000005);
    assert.equal(rb.reserve(1, 1, 0), 0);
  });

  test('a full ring refuses, records crossing the end are whole, and bpf(2) element commands are ENOTSUPP', () => {
    const sys = modern();
    const m = BpfMap.create(sys, { type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
    const rb = sys.mapOf(m.fd).impl as RingbufMap;
    // at most 4095 bytes ahead of the consumer
    assert.equal(rb.reserve(4088, 0, 0), 0);
    const big = rb.reserve(4000, 0, 0);
    assert.notEqual(big, 0);
    assert.equal(rb.reserve(100, 0, 0), 0);
    rb.commit(big, true);
    assert.deepEqual(m.records(), []);
    // the next record starts at 4008 and crosses the end
    const data = Uint8Array.from({ length: 200 }, (_, i) => i);
    assert.equal(rb.output(staged(sys, data), 200, 0, 0), 0);
    assert.deepEqual(m.records().map((r) => [...r]), [[...data]]);
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: m.fd }), 'ENOTSUPP', 'ringbuf maps do not support this command');
    expectErr(() => sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: m.fd }), 'ENOTSUPP', 'ringbuf maps do not support this command');
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: m.fd }), 'ENOTSUPP', 'ringbuf maps do not support this command');
    expectErr(() => create(sys, 27, 0, 0, 12288), 'EINVAL', 'invalid ringbuf map: key_size and value_size 0, max_entries a power of 2 multiple of 4096 (got 12288)');
    const h = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'h' });
    expectErr(() => h.records(), 'EINVAL', 'h is not a ring buffer');
  });
});

describe('prog_array and maps of maps', () => {
  const prog = (sys: BpfSystem, type = 1): number =>
    sys.bpf('BPF_PROG_LOAD', { prog_type: type, insns: bytes(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0), insn_cnt: 2, license: 'GPL' });

  test('prog_array: values are program fds, lookups give ids, the array holds the programs', () => {
    const sys = modern();
    const fd = create(sys, 3, 4, 4, 2);
    const p = prog(sys);
    const q = prog(sys, 0);
    const obj = sys.progOf(p);
    assert.equal(update(sys, fd, le32(1), le32(p)), 0);
    assert.equal(obj.refcnt, 2);
    assert.deepEqual(lookup(sys, fd, le32(1), 4), [obj.id, 0, 0, 0]);
    expectErr(() => lookup(sys, fd, le32(0), 4), 'ENOENT', 'no such key');
    expectErr(() => update(sys, fd, le32(0), le32(p), 2), 'EINVAL', 'invalid flags');
    expectErr(() => update(sys, fd, le32(2), le32(p)), 'E2BIG', 'the map is full (or the index is out of range)');
    expectErr(() => update(sys, fd, le32(0), le32(fd)), 'EINVAL', `fd ${fd} is not a program`);
    expectErr(() => update(sys, fd, le32(0), le32(99)), 'EBADF', 'fd 99 is not open');
    expectErr(() => update(sys, fd, le32(0), le32(q)), 'EINVAL', 'the prog_array holds programs of type 1, not 0');
    assert.equal(sys.progOf(q).refcnt, 1);
    // closing the program's fd leaves the array's reference
    sys.close(p);
    assert.equal(obj.refcnt, 1);
    assert.equal(sys.mapOf(fd).impl.fdLookup!(staged(sys, le32(1)))?.object, obj);
    assert.equal(sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le32(1) }), 0);
    assert.equal(obj.refcnt, 0);
    expectErr(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le32(1) }), 'ENOENT', 'no such key');
    expectErr(() => sys.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, key: le32(1), value: new Uint8Array(4) }), 'ENOTSUPP', 'prog_array maps do not support this command');
  });

  test('array_of_maps: inner maps must match the template; a program\'s lookup gives the inner map', () => {
    const sys = modern();
    const tpl = create(sys, 2, 4, 8, 4);
    const outer = create(sys, 12, 4, 4, 2, 0, tpl);
    const like = create(sys, 2, 4, 8, 4);
    const unlike = create(sys, 2, 4, 8, 5);
    assert.equal(update(sys, outer, le32(0), le32(like)), 0);
    expectErr(() => update(sys, outer, le32(1), le32(unlike)), 'EINVAL', 'the map does not match the inner map template (type, key_size, value_size, map_flags, max_entries)');
    const inner = sys.mapOf(like);
    assert.deepEqual(lookup(sys, outer, le32(0), 4), [inner.id, 0, 0, 0]);
    assert.equal(sys.mapOf(outer).impl.lookup(staged(sys, le32(0))), inner.impl.addr);
    assert.equal(sys.mapOf(outer).impl.lookup(staged(sys, le32(1))), 0);
    assert.deepEqual([inner.refcnt, sys.mapOf(unlike).refcnt], [2, 1]);
    sys.close(outer);
    assert.equal(inner.refcnt, 1);
    expectErr(() => create(sys, 12, 4, 4, 2, 0, 99), 'EBADF', 'fd 99 is not open');
    expectErr(() => create(sys, 12, 4, 4, 2), 'EINVAL', 'fd 0 is not a bpf object');
    const pa = create(sys, 3, 4, 4, 2);
    expectErr(() => create(sys, 12, 4, 4, 2, 0, pa), 'ENOTSUPP', 'a prog_array cannot be an inner map');
  });

  test('hash_of_maps: a hash of references; BPF_F_INNER_MAP templates accept any max_entries', () => {
    const sys = modern();
    expectErr(() => create(sys, 1, 4, 4, 4, 4096), 'EINVAL', 'map_flags 0x1000 not allowed for hash maps (allowed: 0x1dd)');
    const tpl = create(sys, 2, 4, 4, 4);
    const tplA = create(sys, 2, 4, 4, 4, 4096);
    const outer = create(sys, 13, 8, 4, 2, 0, tplA);
    const big = create(sys, 2, 4, 4, 64, 4096);
    expectErr(() => update(sys, outer, le64(1), le32(tpl)), 'EINVAL', 'the map does not match the inner map template (type, key_size, value_size, map_flags, max_entries)');
    assert.equal(update(sys, outer, le64(1), le32(big)), 0);
    expectErr(() => update(sys, outer, le64(1), le32(big), 1), 'EEXIST', 'the key exists (BPF_NOEXIST)');
    assert.equal(update(sys, outer, le64(2), le32(tplA)), 0);
    expectErr(() => update(sys, outer, le64(3), le32(tplA)), 'E2BIG', 'the map is full (or the index is out of range)');
    assert.deepEqual(lookup(sys, outer, le64(1), 4), [sys.mapOf(big).id, 0, 0, 0]);
    assert.equal(sys.mapOf(outer).impl.lookup(staged(sys, le64(2))), sys.mapOf(tplA).impl.addr);
    assert.equal(sys.mapOf(big).refcnt, 2);
    assert.equal(sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: outer, key: le64(1) }), 0);
    assert.equal(sys.mapOf(big).refcnt, 1);
    assert.deepEqual(walk(sys, outer, 8), [[2, 0, 0, 0, 0, 0, 0, 0]]);
  });
});

describe('programs reach the new maps through the map helpers, in both engines', () => {
  const counter = (fd: number, keyBytes: number[]): string => `
    ${keyBytes.map((b, i) => `*(u8 *)(r10 -${16 - i}) = ${b}`).join('\n')}
    r1 = map[fd:${fd}]
    r2 = r10
    r2 += -16
    call 1
    if r0 == 0x0 goto pc+4
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r0 = 1
    exit`;
  const run = (sys: BpfSystem, insns: string, engine: 'interpreter' | 'jit', times: number): void => {
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: assemble(insns), license: 'GPL' });
    // one run, then a batch (the JIT's execBatch)
    assert.equal(testRun(sys, fd, new Uint8Array(1), 1, engine).engine, engine);
    if (times > 1) testRun(sys, fd, new Uint8Array(1), times - 1, engine);
    sys.close(fd);
  };

  for (const engine of ['interpreter', 'jit'] as const) {
    test(`${engine}: a percpu_array counts on the running CPU; lru_hash and lpm_trie lookups`, () => {
      const sys = modern(2);
      const pc = create(sys, 6, 4, 8, 2);
      sys.runtime.cpu = 1;
      run(sys, counter(pc, [1, 0, 0, 0]), engine, 3);
      sys.runtime.cpu = 0;
      run(sys, counter(pc, [1, 0, 0, 0]), engine, 1);
      assert.deepEqual(lookup(sys, pc, le32(1), 16), [1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
      // lru_hash: the program's lookups keep key 1 recent, so inserting 3 evicts 2
      const lru = create(sys, 9, 4, 8, 2);
      update(sys, lru, le32(1), le64(0));
      update(sys, lru, le32(2), le64(0));
      run(sys, counter(lru, [1, 0, 0, 0]), engine, 2);
      update(sys, lru, le32(3), le64(0));
      assert.deepEqual(walk(sys, lru, 4).map((k) => k[0]).sort(), [1, 3]);
      assert.deepEqual(lookup(sys, lru, le32(1), 8), [2, 0, 0, 0, 0, 0, 0, 0]);
      // lpm_trie: key 32 bits of 10.1.2.3 counts in 10.1.0.0/16
      const lpm = create(sys, 11, 8, 8, 4, 1);
      update(sys, lpm, Uint8Array.from([16, 0, 0, 0, 10, 1, 0, 0]), le64(0));
      update(sys, lpm, Uint8Array.from([8, 0, 0, 0, 10, 0, 0, 0]), le64(0));
      run(sys, counter(lpm, [32, 0, 0, 0, 10, 1, 2, 3]), engine, 5);
      assert.deepEqual(lookup(sys, lpm, Uint8Array.from([16, 0, 0, 0, 10, 1, 0, 0]), 8), [5, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(lookup(sys, lpm, Uint8Array.from([8, 0, 0, 0, 10, 0, 0, 0]), 8), [0, 0, 0, 0, 0, 0, 0, 0]);
    });
  }
});
