/**
 * The map-type, program-type and helper tables (issue 14): rows agree with
 * the uapi vocabulary, lookups name what they refuse, the verifier's helper
 * bound is the profile's, disasm names helpers only where asked.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem } from '../src/api/bpf.js';
import { assemble } from '../src/isa/asm.js';
import { disasm } from '../src/isa/disasm.js';
import { toSlots } from '../src/isa/instruction.js';
import { MAP_TYPES, findMapType, mapTypeById, mapTypeByName, mapTypeName } from '../src/maps/types.js';
import { PROG_TYPES, PROG_TYPE_NAMES, progTypeById, progTypeByName, progTypeBySection, verifierRules } from '../src/progs/types.js';
import { HELPERS, funcProtoFor, helperDef } from '../src/progs/helpers.js';
import { PROFILE_3_19, PROFILE_MODERN, introducedBy } from '../src/progs/profile.js';
import type { Profile } from '../src/progs/profile.js';
import { BPF_FUNC, BPF_MAP_TYPE, BPF_PROG_TYPE, uapiHelperName, uapiMapTypeName, uapiProgTypeName } from '../src/isa/uapi.js';
import { helperLabel } from '../src/runtime/helpers.js';
import { AddressSpace } from '../src/memory/address-space.js';
import { verify, VerifierLog } from '../src/verifier/index.js';

function err(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BpfError, `not a BpfError: ${String(e)}`);
    return `${e.code} ${e.message}`;
  }
  assert.fail('no error');
}

test('the uapi lists: numbers in order, names as the kernel spells them', () => {
  assert.equal(Object.keys(BPF_MAP_TYPE).length, 34);
  assert.equal(Object.keys(BPF_PROG_TYPE).length, 33);
  assert.equal(Object.keys(BPF_FUNC).length, 212);
  for (const t of [BPF_MAP_TYPE, BPF_PROG_TYPE, BPF_FUNC]) assert.deepEqual(Object.values(t), [...Object.values(t).keys()]);
  assert.equal(uapiMapTypeName(5), 'percpu_hash');
  assert.equal(uapiMapTypeName(33), 'arena');
  assert.equal(uapiMapTypeName(34), undefined);
  assert.equal(uapiProgTypeName(6), 'xdp');
  assert.equal(uapiProgTypeName(32), 'netfilter');
  assert.equal(uapiHelperName(1), 'bpf_map_lookup_elem');
  assert.equal(uapiHelperName(6), 'bpf_trace_printk');
  assert.equal(uapiHelperName(211), 'bpf_cgrp_storage_delete');
  assert.equal(uapiHelperName(0), undefined);
  assert.equal(uapiHelperName(212), undefined);
  assert.equal(uapiHelperName(1.5), undefined);
});

test('every row carries its uapi name and number', () => {
  assert.deepEqual(MAP_TYPES.map((t) => [t.name, t.id, t.since]), [
    ['hash', 1, '3.19'], ['array', 2, '3.19'], ['percpu_hash', 5, '4.6'], ['percpu_array', 6, '4.6'], ['lru_hash', 9, '4.10'],
    ['lru_percpu_hash', 10, '4.10'], ['lpm_trie', 11, '4.11'], ['queue', 22, '4.20'], ['stack', 23, '4.20'], ['ringbuf', 27, '5.8'],
    ['prog_array', 3, '4.2'], ['array_of_maps', 12, '4.12'], ['hash_of_maps', 13, '4.12'],
  ]);
  for (const t of MAP_TYPES) assert.equal(uapiMapTypeName(t.id), t.name);
  assert.deepEqual(PROG_TYPES.map((t) => [t.name, t.id, t.since]), [['socket_filter', 1, '3.19'], ['unspec', 0, '3.19'], ['xdp', 6, '4.8'], ['sched_cls', 3, '4.1'], ['mem', 0x7473, 'tsbpf']]);
  // tsbpf's own type (progs/mem.ts) has no uapi name: its number is none of the kernel's
  for (const t of PROG_TYPES) assert.equal(uapiProgTypeName(t.id), t.since === 'tsbpf' ? undefined : t.name);
  assert.deepEqual(HELPERS.map((h) => [h.id, h.name, h.since, h.progTypes]), [
    [1, 'bpf_map_lookup_elem', '3.19', 'all'], [2, 'bpf_map_update_elem', '3.19', 'all'], [3, 'bpf_map_delete_elem', '3.19', 'all'],
    [5, 'bpf_ktime_get_ns', '4.1', 'all'], [6, 'bpf_trace_printk', '4.1', 'all'], [7, 'bpf_get_prandom_u32', '4.1', 'all'],
    [8, 'bpf_get_smp_processor_id', '4.1', 'all'], [9, 'bpf_skb_store_bytes', '4.1', ['sched_cls']],
    [10, 'bpf_l3_csum_replace', '4.1', ['sched_cls']], [11, 'bpf_l4_csum_replace', '4.1', ['sched_cls']], [12, 'bpf_tail_call', '4.2', 'all'],
    [23, 'bpf_redirect', '4.4', ['sched_cls', 'xdp']], [26, 'bpf_skb_load_bytes', '4.5', ['socket_filter', 'sched_cls']],
    [28, 'bpf_csum_diff', '4.6', ['sched_cls', 'xdp']], [38, 'bpf_skb_change_tail', '4.9', ['sched_cls']], [43, 'bpf_skb_change_head', '4.10', ['sched_cls']], [44, 'bpf_xdp_adjust_head', '4.10', ['xdp']], [51, 'bpf_redirect_map', '4.14', ['xdp']],
    [54, 'bpf_xdp_adjust_meta', '4.15', ['xdp']], [65, 'bpf_xdp_adjust_tail', '4.18', ['xdp']], [87, 'bpf_map_push_elem', '4.20', 'all'],
    [88, 'bpf_map_pop_elem', '4.20', 'all'], [89, 'bpf_map_peek_elem', '4.20', 'all'], [93, 'bpf_spin_lock', '5.1', 'all'],
    [94, 'bpf_spin_unlock', '5.1', 'all'], [113, 'bpf_probe_read_kernel', '5.5', 'all'], [130, 'bpf_ringbuf_output', '5.8', 'all'],
    [131, 'bpf_ringbuf_reserve', '5.8', 'all'], [132, 'bpf_ringbuf_submit', '5.8', 'all'], [133, 'bpf_ringbuf_discard', '5.8', 'all'],
    [134, 'bpf_ringbuf_query', '5.8', 'all'], [125, 'bpf_ktime_get_boot_ns', '5.8', 'all'], [164, 'bpf_for_each_map_elem', '5.13', 'all'],
    [181, 'bpf_loop', '5.17', 'all'],
    [188, 'bpf_xdp_get_buff_len', '5.18', ['xdp']],
    [189, 'bpf_xdp_load_bytes', '5.18', ['xdp']],
    [190, 'bpf_xdp_store_bytes', '5.18', ['xdp']],
  ]);
  for (const h of HELPERS) assert.equal(uapiHelperName(h.id), h.name);
});

test('map types: found by number and name, refused by name', () => {
  assert.equal(mapTypeById(2).name, 'array');
  assert.equal(mapTypeByName('hash').id, 1);
  // the table has percpu_hash; the 3.19 profile (the default) does not
  assert.equal(findMapType(5)?.since, '4.6');
  assert.equal(findMapType(7), undefined);
  assert.equal(err(() => mapTypeById(5)), 'EINVAL map type percpu_hash (5) is not supported (supported: hash, array)');
  assert.equal(err(() => mapTypeById(1000)), 'EINVAL unknown map type 1000 (supported: hash, array)');
  assert.equal(err(() => mapTypeByName('ringbuf')), 'EINVAL map type ringbuf (27) is not supported (supported: hash, array)');
  assert.equal(err(() => mapTypeByName('unspec')), 'EINVAL unknown map type unspec (supported: hash, array)');
  assert.equal(err(() => mapTypeByName(3, '3')), 'EINVAL unknown map type 3 (supported: hash, array)');
  assert.equal(mapTypeName(1), 'hash');
  assert.equal(mapTypeName(6), 'percpu_array');
  assert.equal(mapTypeName(99), 'type 99');
  assert.deepEqual(MAP_TYPES.map((t) => t.dense), [false, true, false, true, false, false, false, false, false, false, false, false, false]);
  // BPF_MAP_CREATE by number, and messages naming the type
  const sys = new BpfSystem();
  const fd = sys.bpf('BPF_MAP_CREATE', { map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 8, max_entries: 2 });
  assert.equal(sys.mapOf(fd).impl.type, 2);
  assert.equal(err(() => sys.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: new Uint8Array(4) })), 'EINVAL array map elements cannot be deleted');
  assert.equal(err(() => sys.bpf('BPF_MAP_CREATE', { map_type: BPF_MAP_TYPE.QUEUE, key_size: 0, value_size: 8, max_entries: 2 })), 'EINVAL map type queue (22) is not supported (supported: hash, array)');
});

test('program types: found by number, name and ELF section; refused by name', () => {
  assert.equal(progTypeById(1).name, 'socket_filter');
  assert.equal(progTypeByName('unspec').id, 0);
  assert.equal(err(() => progTypeById(6)), 'EINVAL program type xdp (6) is not supported (supported: socket_filter, unspec, mem)');
  assert.equal(err(() => progTypeById(-1 >>> 0)), 'EINVAL unknown program type 4294967295 (supported: socket_filter, unspec, mem)');
  assert.equal(err(() => progTypeByName('kprobe')), 'EINVAL program type kprobe (2) is not supported (supported: socket_filter, unspec, mem)');
  assert.equal(err(() => progTypeByName('nonsense')), "EINVAL unknown program type 'nonsense' (supported: socket_filter, unspec, mem)");
  assert.deepEqual(PROG_TYPE_NAMES, ['socket_filter', 'unspec', 'xdp', 'sched_cls', 'mem']);
  // the modern profile has them, and its socket filter is the __sk_buff row
  assert.equal(progTypeById(6, PROFILE_MODERN).name, 'xdp');
  assert.equal(progTypeById(1, PROFILE_MODERN).context.size, 192);
  assert.equal(progTypeById(1).context.size, 8);
  assert.equal(err(() => progTypeById(2, PROFILE_MODERN)), 'EINVAL program type kprobe (2) is not supported (supported: socket_filter, unspec, xdp, sched_cls, mem)');
  assert.equal(progTypeBySection('xdp')?.name, 'xdp');
  assert.equal(progTypeBySection('tc')?.name, 'sched_cls');
  assert.equal(progTypeBySection('classifier')?.name, 'sched_cls');
  assert.equal(progTypeBySection('socket1')?.name, 'socket_filter');
  assert.equal(progTypeBySection('kprobe/sys_write'), undefined);
  assert.equal(progTypeBySection('.text'), undefined);
});

test('a packet becomes a socket filter context in one place: the length at offset 0, the packet after the context', () => {
  const sf = progTypeById(1);
  assert.deepEqual(sf.context, { size: 8, writable: false });
  assert.equal(sf.packet?.ctxSize, 8);
  assert.equal(progTypeById(0).packet, undefined);
  assert.deepEqual(progTypeById(0).context, { size: 16, writable: true });
  const mem = new AddressSpace();
  const run = sf.prepare(mem, new Uint8Array([1, 2, 3]));
  const r1 = Number(run.input.r1);
  assert.equal(mem.view.getUint32(r1, true), 3);
  assert.equal(run.input.packet?.addr, r1 + 8);
  assert.deepEqual([...run.snapshot()], [1, 2, 3]);
  run.release();
});

test('helper prototypes come from the helper table, filtered by program type and profile', () => {
  const proto = funcProtoFor('socket_filter', PROFILE_3_19);
  assert.equal(proto(1), helperDef(1)!.proto);
  assert.equal(proto(4), undefined);
  // the 3.19 profile's helper set is unchanged: the new helpers exist under the modern profile only
  assert.equal(proto(6), undefined);
  assert.equal(funcProtoFor('socket_filter', PROFILE_MODERN)(6), helperDef(6)!.proto);
  assert.equal(funcProtoFor('socket_filter', PROFILE_MODERN)(44), undefined);
  assert.equal(funcProtoFor('xdp', PROFILE_MODERN)(44), helperDef(44)!.proto);
  // a profile of a kernel before 3.19 has none of them
  assert.equal(funcProtoFor('socket_filter', { name: '3.18', maxHelperId: 1 })(1), undefined);
  assert.equal(introducedBy('3.19', PROFILE_3_19), true);
  assert.equal(introducedBy('4.1', PROFILE_3_19), false);
  assert.equal(introducedBy('3.2', PROFILE_3_19), true);
  assert.equal(introducedBy('3.19.1', { name: '3.19', maxHelperId: 4 }), false);
});

test("the verifier's helper bound is the profile's (__BPF_FUNC_MAX_ID), not the checker's", () => {
  const check = (profile: Profile): string => {
    const log = new VerifierLog(1, 1 << 16);
    const r = verify(toSlots(assemble('call 4\nr0 = 0\nexit')), {
      ...verifierRules(progTypeById(0), PROFILE_3_19), profile, gplCompatible: true, mapAt: () => undefined, log,
    });
    assert.equal(r.ok, false);
    return log.toString();
  };
  assert.equal(check(PROFILE_3_19), '0: (85) call 4\ninvalid func 4\n');
  // a profile whose kernel knows more ids: 4 passes the bound, and no helper 4 is declared
  assert.equal(check({ name: '3.19', maxHelperId: 212 }), '0: (85) call 4\nunknown func 4\n');
});

test('disasm names helpers only when given names, and never in the 3.19 log style', () => {
  const prog = assemble('call 1\ncall 6\ncall 999\ncall local f\nexit\nf:\nexit');
  assert.equal(disasm(prog), '0: (85) call 1\n1: (85) call 6\n2: (85) call 999\n3: (85) call pc+1\n4: (95) exit\n5: (95) exit\n');
  const named = disasm(prog, { helperName: uapiHelperName });
  assert.equal(named, '0: (85) call bpf_map_lookup_elem#1\n1: (85) call bpf_trace_printk#6\n2: (85) call 999\n3: (85) call pc+1\n4: (95) exit\n5: (95) exit\n');
  assert.equal(disasm(prog, { helperName: uapiHelperName, style: 'log319' }).split('\n')[0], '0: (85) call 1');
  // the assembler reads bpftool's form back; the number decides
  assert.deepEqual(assemble(named), prog);
  assert.deepEqual(assemble('call bpf_map_update_elem#2 # a comment'), assemble('call 2'));
  assert.deepEqual(assemble('r0 = 1 #1\nexit'), assemble('r0 = 1\nexit'));
});

test('run-time errors name a helper the kernel has', () => {
  assert.equal(helperLabel(8), '8 (bpf_get_smp_processor_id)');
  assert.equal(helperLabel(5000), '5000');
});
