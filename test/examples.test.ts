/**
 * Each example object over examples/sample.pcap (three TCP flows, a DNS
 * exchange whose query carries an IPv4 option, an ARP), with the exact map
 * contents and verdicts worked out from the capture by hand. The objects are
 * committed; `npm run examples` rebuilds them with clang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { projectRoot } from './conformance-data.js';
import { tsbpf } from './cli-harness.js';

// filter prints tcpdump's local time of day: UTC here, whatever the machine's zone
process.env['TZ'] = 'UTC';
const ex = (f: string): string => join(projectRoot(), 'examples', f);
const sample = ex('sample.pcap');

interface RunOut { packets: number; accepted: number; maps: { key: string; value: string }[][] }
async function run(obj: string): Promise<RunOut> {
  const r = await tsbpf(['run', ex(obj), '--pcap', sample, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as RunOut;
}
const nonzero = (m: { key: string; value: string }[]): { key: string; value: string }[] => m.filter((e) => /[^0]/.test(e.value));

test('proto-count: packets and bytes per IP protocol', async () => {
  const j = await run('proto-count.o');
  assert.equal(j.packets, 9);
  assert.equal(j.accepted, 0);
  // TCP: five 54-byte packets and one with 100 bytes of payload; UDP: 76 + 102 bytes
  assert.deepEqual(nonzero(j.maps[0]!), [
    { key: '06000000', value: '0600000000000000a801000000000000' },
    { key: '11000000', value: '0200000000000000b200000000000000' },
  ]);
});

test('flow-table: one entry per 5-tuple, first inserted with BPF_NOEXIST then counted in place', async () => {
  const j = await run('flow-table.o');
  // key: saddr, daddr (host-order words of the big-endian loads), sport, dport, proto
  assert.deepEqual(j.maps[0], [
    { key: '0100000a1401a8c0409cbb0106000000', value: '03000000000000000601000000000000' },
    { key: '0100000a3500000ae914350011000000', value: '01000000000000004c00000000000000' },
    { key: '0200000a1401a8c0419c500006000000', value: '02000000000000006c00000000000000' },
    { key: '1401a8c00100000abb01409c06000000', value: '01000000000000003600000000000000' },
    { key: '3500000a0100000a3500e91411000000', value: '01000000000000006600000000000000' },
  ]);
});

test('ipv4-options: the first option type counted, the DNS query accepted past its longer header', async () => {
  const j = await run('ipv4-options.o');
  assert.equal(j.accepted, 1);
  assert.deepEqual(nonzero(j.maps[0]!), [
    { key: '00000000', value: '0700000000000000' },
    { key: '94000000', value: '0100000000000000' },
  ]);
});

test('syn-filter.o and syn-filter.s keep the same two connection attempts', async () => {
  for (const prog of ['syn-filter.o', 'syn-filter.s']) {
    const r = await tsbpf(['filter', ex(prog), sample]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, [
      '16:00:00.000000 IP 10.0.0.1.40000 > 192.168.1.20.443: Flags [S], seq 1, win 65535, length 0',
      '16:00:01.000000 IP 10.0.0.2.40001 > 192.168.1.20.80: Flags [S], seq 1, win 65535, length 0',
      '',
    ].join('\n'), prog);
  }
});

test('modern: a BTF-defined hash map and global variables (.rodata, .bss, .data as one-element arrays)', async () => {
  const j = await run('modern.o');
  assert.equal(j.packets, 9);
  // TCP to ports below the read-only limit 1024: 443 three times, 80 twice
  assert.equal(j.accepted, 5);
  // in libbpf's creation order: the BTF-defined map, then global data by section
  assert.deepEqual(j.maps, [
    [{ key: '50000000', value: '0200000000000000' }, { key: 'bb010000', value: '0300000000000000' }],
    [{ key: '00000000', value: '00040000' }],
    [{ key: '00000000', value: '09000000000000000500000000000000' }],
    [{ key: '00000000', value: '07000000' }],
  ]);
});
