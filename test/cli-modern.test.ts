/**
 * The CLI over modern programs (issue 17): the profile chosen from the
 * program (xdp/tc sections, modern map types) or by --profile, named in the
 * output; `run --pcap` over XDP and tc objects (test/c/) with verdict
 * names, --retvals and the frames a program changed; --cpus and per-CPU
 * maps, ring buffer records and global data in the map display;
 * bpf_trace_printk on stderr; the refusal of a modern program by the
 * 3.19 rules, with its hint. The programs load --unverified until the
 * modern verifier merges (the hint test follows whichever is the case).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tsbpf } from './cli-harness.js';
import { projectRoot } from './conformance-data.js';
import { assemble } from '../src/isa/index.js';
import { encode } from '../src/isa/instruction.js';
import { UNVERIFIED_HINT, verifiesModern } from '../src/cli/profile.js';

const obj = (name: string): string => join(projectRoot(), 'test', 'c', `${name}.o`);
const PCAP = join(projectRoot(), 'examples', 'sample.pcap');

test('run --pcap: an XDP object runs under the modern profile, verdicts by name, every packet\'s r0 with --retvals', async () => {
  const r = await tsbpf(['run', obj('xdp-parse'), '--pcap', PCAP, '--unverified', '--retvals', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.profile, 'modern');
  assert.deepEqual(j.verdicts, { XDP_PASS: 7, XDP_TX: 2 });
  assert.equal(j.accepted, undefined);
  assert.deepEqual(j.retvals, [2, 2, 2, 2, 3, 2, 2, 3, 2]);
  assert.deepEqual(j.frames, []);
  assert.equal(j.packets, 9);
  const ports = j.map_dump.find((m: { name: string }) => m.name === 'port_bytes');
  // the object's BTF types the map (__u16 to __u64): each entry also as bpftool -j formats it
  assert.deepEqual(ports.entries, [
    { key: '3500', value: '4c00000000000000', formatted: { key: 53, value: 76 } },
    { key: '409c', value: '3600000000000000', formatted: { key: 40000, value: 54 } },
    { key: 'bb01', value: '0601000000000000', formatted: { key: 443, value: 262 } },
    { key: 'e914', value: '6600000000000000', formatted: { key: 5353, value: 102 } },
    { key: '5000', value: '6c00000000000000', formatted: { key: 80, value: 108 } },
  ]);
  const t = await tsbpf(['run', obj('xdp-parse'), '--pcap', PCAP, '--unverified', '--retvals']);
  const lines = t.stdout.split('\n');
  assert.equal(lines[0], 'packets 9, XDP_PASS 7, XDP_TX 2, last retval 0x2 (XDP_PASS)');
  assert.equal(lines[1], 'retvals XDP_PASS XDP_PASS XDP_PASS XDP_PASS XDP_TX XDP_PASS XDP_PASS XDP_TX XDP_PASS');
  assert.match(lines[2]!, /^runs {4}.* per packet \(modern profile, interpreter, unverified\)$/);
});

test('run --pcap: a tc program\'s TC_ACT_* verdicts and the frames it changed (bpf_skb_store_bytes)', async () => {
  const r = await tsbpf(['run', obj('tc-skb'), '--section', 'tc_fields', '--pcap', PCAP, '--unverified', '--retvals', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.verdicts, { TC_ACT_OK: 6, TC_ACT_PIPE: 2, TC_ACT_SHOT: 1 });
  assert.deepEqual(j.retvals, [0, 0, 0, 3, 0, 0, 3, 0, 2]);
  // the program writes the frame's length into byte 11 (the source MAC's last byte)
  assert.deepEqual(j.frames.map((f: { packet: number; frame: string }) => [f.packet, f.frame.slice(22, 24)]),
    [[1, '36'], [2, '36'], [3, '36'], [4, '9a'], [5, '36'], [6, '4c'], [7, '66'], [8, '36'], [9, '2a']]);
  assert.equal(j.frames[8].frame, '02000000000202000000002a080600010800060400010200000000010a0000010000000000000a000002');
});

test('run --data: an XDP program\'s verdict and the frame after bpf_xdp_adjust_tail', async () => {
  const data = '020000000002020000000001080045000000';
  const r = await tsbpf(['run', obj('xdp-adjust'), '--section', 'xdp_tail', '--unverified', '--data', data, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual([j.retval, j.verdict, j.frame, j.profile], [3, 'XDP_TX', '0200000000020200000000010800', 'modern']);
  const t = await tsbpf(['run', obj('xdp-adjust'), '--section', 'xdp_tail', '--unverified', '--data', data]);
  assert.equal(t.stdout.split('\n')[0], 'retval  0x3 (3) XDP_TX');
  assert.equal(t.stdout.split('\n')[2], 'frame   02 00 00 00 00 02 02 00  00 00 00 01 08 00');
});

test('run --cpus 2: per-CPU values for every CPU, ring buffer records in order, global data by section name', async () => {
  const r = await tsbpf(['run', obj('maps-globals'), '--pcap', PCAP, '--unverified', '--cpus', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const byName = Object.fromEntries(j.map_dump.map((m: { name: string }) => [m.name, m]));
  assert.deepEqual(Object.keys(byName), ['len_buckets', 'by_type', 'pc_hash', 'recent', 'events', '.rodata', '.data', '.bss']);
  const cpus = (v: number): { cpu: number; value: number }[] => [{ cpu: 0, value: v }, { cpu: 1, value: 0 }];
  assert.deepEqual(byName['len_buckets'].entries[1], { key: '01000000', values: ['0600000000000000', '0000000000000000'], formatted: { key: 1, values: cpus(6) } });
  assert.deepEqual(byName['pc_hash'].entries, [
    { key: '0a000000', values: ['02000000', '00000000'], formatted: { key: 10, values: cpus(2) } },
    { key: '0c000000', values: ['01000000', '00000000'], formatted: { key: 12, values: cpus(1) } },
    { key: '06000000', values: ['06000000', '00000000'], formatted: { key: 6, values: cpus(6) } },
  ]);
  // one record per frame but the ARP one, whose reservation was discarded
  assert.deepEqual(byName['events'], { name: 'events', type: 'ringbuf', records: ['3600000000080200', '3600000000080201', '3600000000080202', '9a00000000080203', '3600000000080204', '4c00000000080205', '6600000000080206', '3600000000080207'] });
  assert.deepEqual(j.maps[4], []);
  assert.deepEqual(byName['.rodata'].entries.map((e: { key: string; value: string }) => [e.key, e.value]), [['00000000', '05000000000000000807060504030201']]);
  // global data formatted as bpftool shows its DATASEC, the u64 exact (past 2^53: JSON.parse would round it)
  assert.ok(r.stdout.includes('"formatted":{"value":{".rodata":[{"bucket_shift":5},{"salt":72623859790382856}]}}'), r.stdout);
  const t = await tsbpf(['run', obj('maps-globals'), '--pcap', PCAP, '--unverified', '--cpus', '2']);
  // as bpftool map dump prints a per-CPU map with BTF
  assert.ok(t.stdout.includes('map len_buckets type percpu_array key 4B value 8B entries 8 (4 all-zero not shown)\n[{\n        "key": 1,\n        "values": [{\n                "cpu": 0,\n                "value": 6\n            },{\n                "cpu": 1,\n                "value": 0\n            }\n        ]\n    },{\n'), t.stdout);
  assert.ok(t.stdout.includes('map events type ringbuf records 8\nrecord: 36 00 00 00 00 08 02 00\n'), t.stdout);
});

test('bpf_trace_printk lines go to stderr', async () => {
  const fmt = [...new TextEncoder().encode('len %d'), 0, 0];
  const stores = fmt.map((b, i) => `*(u8 *)(r10 -${fmt.length - i}) = ${b}`).join('\n');
  const insns = encode(assemble(`r6 = r1
    ${stores}
    r2 = *(u32 *)(r6 +0)
    r3 = *(u32 *)(r6 +4)
    r3 -= r2
    r1 = r10
    r1 += -${fmt.length}
    r2 = 7
    call 6
    r0 = 2
    exit`));
  const spec = JSON.stringify({ prog_type: 'xdp', insns: Buffer.from(insns).toString('hex').match(/.{16}/g) });
  const r = await tsbpf(['run', '-', '--unverified', '--pcap', PCAP], spec);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('len')), ['len 54', 'len 54', 'len 54', 'len 154', 'len 54', 'len 76', 'len 102', 'len 54', 'len 42']);
});

test('profiles: --profile 3.19 refuses a program that needs modern; bad --profile, --cpus, --retvals', async () => {
  let r = await tsbpf(['run', obj('xdp-parse'), '--profile', '3.19', '--data', '00']);
  assert.deepEqual([r.status, r.stderr], [2, `tsbpf: ${obj('xdp-parse')}: program type xdp needs --profile modern (it is not in Linux 3.19) (EINVAL)\n`]);
  r = await tsbpf(['run', obj('maps-globals'), '--profile', '3.19', '--data', '00']);
  assert.deepEqual([r.status, r.stderr], [2, `tsbpf: ${obj('maps-globals')}: program type xdp needs --profile modern (it is not in Linux 3.19) (EINVAL)\n`]);
  // a socket filter with a map type 3.19 lacks: modern, chosen from the map
  const spec = JSON.stringify({ prog_type: 'socket_filter', maps: [{ type: 'percpu_array', key_size: 4, value_size: 8, max_entries: 1 }], insns: ['b700000000000000', '9500000000000000'] });
  r = await tsbpf(['run', '-', '--profile', '3.19', '--data', '00'], spec);
  assert.deepEqual([r.status, r.stderr], [2, 'tsbpf: -: map type percpu_array needs --profile modern (it is not in Linux 3.19) (EINVAL)\n']);
  r = await tsbpf(['run', '-', '--data', '00000000000000000000000000000000', '--json'], spec);
  assert.deepEqual([r.status, JSON.parse(r.stdout).profile, JSON.parse(r.stdout).maps], [0, 'modern', [[{ key: '00000000', values: ['0000000000000000'] }]]]);
  r = await tsbpf(['verify', obj('xdp-parse'), '--profile', '6.1']);
  assert.deepEqual([r.status, r.stderr], [2, "tsbpf: --profile must be 3.19 or modern, got '6.1' (EINVAL)\n"]);
  r = await tsbpf(['run', obj('xdp-parse'), '--cpus', '0', '--data', '00']);
  assert.deepEqual([r.status, r.stderr], [2, "tsbpf: --cpus must be an integer from 1 to 1024, got '0' (EINVAL)\n"]);
  r = await tsbpf(['run', obj('xdp-parse'), '--retvals', '--data', '00']);
  assert.deepEqual([r.status, r.stderr], [2, 'tsbpf: --retvals lists the return value of each packet of --pcap (EINVAL)\n']);
  // a 3.19 program keeps its 3.19 output: no profile named
  r = await tsbpf(['run', join(projectRoot(), 'examples', 'proto-count.o'), '--pcap', PCAP, '--json']);
  assert.equal(JSON.parse(r.stdout).profile, undefined);
});

test('a verified load of a modern program: accepted, or refused with the hint that --unverified runs it', async () => {
  const r = await tsbpf(['verify', obj('xdp-parse')]);
  if (verifiesModern()) {
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /accepted: \d+ instructions \(modern profile\)\n$/);
    return;
  }
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `tsbpf: ${obj('xdp-parse')}: ${UNVERIFIED_HINT}\ntsbpf: ${obj('xdp-parse')}: insn 0: invalid bpf_context access off=4 size=4 (EACCES)\n`);
  const j = await tsbpf(['verify', obj('xdp-parse'), '--json']);
  assert.deepEqual(JSON.parse(j.stdout), { accepted: false, code: 'EACCES', log: '0: (61) r7 = *(u32 *)(r1 +4)\ninvalid bpf_context access off=4 size=4\n', profile: 'modern', hint: UNVERIFIED_HINT });
});

test('filter --profile modern: a socket filter over the test run\'s __sk_buff; its length counts after the link header', async () => {
  // sk_fields accepts skb->len bytes when the data after the Ethernet header is at most 60 bytes
  const r = await tsbpf(['filter', obj('tc-skb'), PCAP, '--section', 'sk_fields', '--profile', 'modern', '--unverified', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { packet: number; retval: number; summary: string });
  assert.deepEqual(lines.map((l) => [l.packet, l.retval]), [[1, 40], [2, 40], [3, 40], [5, 40], [8, 40], [9, 28]]);
  assert.equal(lines[0]!.summary, 'IP 10.0.0.1.40000 > 192.168.1.20.443: Flags [S], seq 1, win 65535, length 0');
});

test('run --data: a frame the test run refuses is a usage error naming --data', async () => {
  let r = await tsbpf(['run', obj('tc-skb'), '--section', 'tc_fields', '--unverified', '--data', '00']);
  assert.deepEqual([r.status, r.stderr], [2, "tsbpf: --data: a test run's frame has at least 14 bytes (an Ethernet header), got 1 (EINVAL)\n"]);
  r = await tsbpf(['run', obj('tc-skb'), '--section', 'tc_fields', '--unverified', '--data', '020000000002020000000001080045']);
  assert.deepEqual([r.status, r.stderr], [2, "tsbpf: --data: a test run's IPv4 frame has at least 34 bytes (Ethernet and IPv4 headers), got 15 (EINVAL)\n"]);
});
