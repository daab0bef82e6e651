/**
 * The pcap-filter front end: tokens with their columns, exact syntax trees
 * (the implicit-qualifier rule, equal precedence of and/or, negation,
 * arithmetic precedence), exact error messages, and compileFilter's own
 * behaviour: exact programs for a few expressions (the shapes tcpdump -d
 * prints), link types refusing what they cannot express, the empty
 * expression, an expression that matches nothing, loading the program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, parseFilter, tokenize, runClassic, linkLayer, FILTER_SNAPLEN } from '../src/filter/index.js';
import { disassembleClassic, encodeClassic } from '../src/cbpf/index.js';
import { BpfSystem } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { expectErr } from './expect-error.js';
import { tcpFrame, udpFrame } from './frames.js';

const host = (text: string, col: number, q: Partial<{ proto: string | null; dir: string | null; addr: string | null }> = {}): unknown => ({
  type: 'prim', q: { proto: null, dir: null, addr: 'host', ...q }, id: { kind: 'ipv4', text }, col,
});

test('tokens carry their kind and column; the longest match wins, keywords and named numbers are words', () => {
  const t = tokenize('tcp[tcpflags] & tcp-syn != 0 and host 10.1 or portrange 1-100 or ether host aa:bb:cc:dd:ee:ff or fe80::1 or 0x1f');
  assert.deepEqual(t.map((x) => [x.kind, x.text, x.col, x.value]), [
    ['kw', 'tcp', 1, undefined], ['op', '[', 4, undefined], ['num', 'tcpflags', 5, 13], ['op', ']', 13, undefined],
    ['op', '&', 15, undefined], ['num', 'tcp-syn', 17, 2], ['op', '!=', 25, undefined], ['num', '0', 28, 0],
    ['kw', 'and', 30, undefined], ['kw', 'host', 34, undefined], ['hid', '10.1', 39, undefined], ['kw', 'or', 44, undefined],
    ['kw', 'portrange', 47, undefined], ['id', '1-100', 57, undefined], ['kw', 'or', 63, undefined], ['kw', 'ether', 66, undefined],
    ['kw', 'host', 72, undefined], ['eid', 'aa:bb:cc:dd:ee:ff', 77, undefined], ['kw', 'or', 95, undefined],
    ['hid6', 'fe80::1', 98, undefined], ['kw', 'or', 106, undefined], ['num', '0x1f', 109, 31], ['eof', '', 113, undefined],
  ]);
  assert.deepEqual(tokenize('ip proto \\tcp && 010 || !x').map((x) => [x.kind, x.text, x.value]), [
    ['kw', 'ip', undefined], ['kw', 'proto', undefined], ['id', 'tcp', undefined], ['op', '&&', undefined], ['num', '010', 8],
    ['op', '||', undefined], ['op', '!', undefined], ['id', 'x', undefined], ['eof', '', undefined],
  ]);
});

test('host a or b: the bare operand takes the last qualifiers; and/or group left to right', () => {
  assert.deepEqual(parseFilter('host 1.2.3.4 or 5.6.7.8'), { type: 'or', left: host('1.2.3.4', 6), right: host('5.6.7.8', 17) });
  assert.deepEqual(parseFilter('src host 1.2.3.4 and not 5.6.7.8'), {
    type: 'and', left: host('1.2.3.4', 10, { dir: 'src' }), right: { type: 'not', expr: host('5.6.7.8', 26, { dir: 'src' }) },
  });
  assert.deepEqual(parseFilter('tcp or udp and icmp'), {
    type: 'and',
    left: { type: 'or', left: { type: 'proto', proto: 'tcp', col: 1 }, right: { type: 'proto', proto: 'udp', col: 8 } },
    right: { type: 'proto', proto: 'icmp', col: 16 },
  });
  assert.deepEqual(parseFilter('tcp dst port 80 or (443 or 22)'), {
    type: 'or',
    left: { type: 'prim', q: { proto: 'tcp', dir: 'dst', addr: 'port' }, id: { kind: 'num', value: 80 }, col: 14 },
    right: {
      type: 'or',
      left: { type: 'prim', q: { proto: 'tcp', dir: 'dst', addr: 'port' }, id: { kind: 'num', value: 443 }, col: 21 },
      right: { type: 'prim', q: { proto: 'tcp', dir: 'dst', addr: 'port' }, id: { kind: 'num', value: 22 }, col: 28 },
    },
  });
  // a parenthesised expression passes on the qualifiers from before it
  assert.deepEqual(parseFilter('host 1.1.1.1 and (tcp) or 2.2.2.2'), {
    type: 'or',
    left: { type: 'and', left: host('1.1.1.1', 6), right: { type: 'proto', proto: 'tcp', col: 19 } },
    right: host('2.2.2.2', 27),
  });
});

test('addresses, nets, masks, MACs, IPv6 and names keep their form for code generation', () => {
  assert.deepEqual(parseFilter('src or dst net 10.0.0.0/8'), { type: 'prim', q: { proto: null, dir: 'src or dst', addr: 'net' }, id: { kind: 'ipv4/len', text: '10.0.0.0', len: 8 }, col: 16 });
  assert.deepEqual(parseFilter('net 10.0.0.0 mask 255.0.0.0'), { type: 'prim', q: { proto: null, dir: null, addr: 'net' }, id: { kind: 'ipv4 mask', text: '10.0.0.0', mask: '255.0.0.0' }, col: 5 });
  assert.deepEqual(parseFilter('ip6 net fe80::/10'), { type: 'prim', q: { proto: 'ip6', dir: null, addr: 'net' }, id: { kind: 'ipv6', text: 'fe80::', len: 10 }, col: 9 });
  assert.deepEqual(parseFilter('ether src and dst aa-bb-cc-dd-ee-ff'), { type: 'prim', q: { proto: 'link', dir: 'src and dst', addr: null }, id: { kind: 'mac', text: 'aa-bb-cc-dd-ee-ff' }, col: 19 });
  assert.deepEqual(parseFilter('udp port domain'), { type: 'prim', q: { proto: 'udp', dir: null, addr: 'port' }, id: { kind: 'name', text: 'domain' }, col: 10 });
  assert.deepEqual(parseFilter('ip broadcast'), { type: 'broadcast', proto: 'ip', col: 1 });
  assert.deepEqual(parseFilter('vlan 10 and less 60'), { type: 'and', left: { type: 'vlan', id: 10, col: 1 }, right: { type: 'less', value: 60, col: 13 } });
  assert.deepEqual(parseFilter('mpls 5 or pppoes'), { type: 'or', left: { type: 'mpls', label: 5, col: 1 }, right: { type: 'pppoes', session: null, col: 11 } });
  assert.deepEqual(parseFilter(''), { type: 'true' });
});

test('arithmetic: precedence, unary minus, loads with sizes, all relations', () => {
  assert.deepEqual(parseFilter('ip[2:2] - 20 * 2 > len | 1'), {
    type: 'rel', op: '>', col: 1,
    left: {
      type: 'bin', op: '-', col: 9,
      left: { type: 'load', proto: 'ip', index: { type: 'num', value: 2 }, size: 2, col: 1 },
      right: { type: 'bin', op: '*', col: 14, left: { type: 'num', value: 20 }, right: { type: 'num', value: 2 } },
    },
    right: { type: 'bin', op: '|', col: 24, left: { type: 'len' }, right: { type: 'num', value: 1 } },
  });
  assert.deepEqual(parseFilter('-tcp[0] <= 4'), { type: 'rel', op: '<=', col: 1, left: { type: 'neg', expr: { type: 'load', proto: 'tcp', index: { type: 'num', value: 0 }, size: 1, col: 2 } }, right: { type: 'num', value: 4 } });
  for (const [text, op] of [['=', '='], ['==', '='], ['!=', '!='], ['<', '<'], ['>=', '>=']] as const) {
    assert.equal((parseFilter(`len ${text} 1`) as { op: string }).op, op);
  }
});

test('syntax errors: one line, the column of the offending token', () => {
  expectErr(() => parseFilter('host 1.2.3.4 and and'), 'EINVAL', "syntax error at column 18: unexpected 'and'");
  expectErr(() => parseFilter('TCP'), 'EINVAL', "syntax error at column 1: unexpected 'TCP'");
  expectErr(() => parseFilter('1.2.3.4'), 'EINVAL', "syntax error at column 1: unexpected '1.2.3.4'");
  expectErr(() => parseFilter('tcp or 80'), 'EINVAL', 'syntax error at column 10: unexpected end of expression');
  expectErr(() => parseFilter('(port 80'), 'EINVAL', 'syntax error at column 9: unexpected end of expression');
  expectErr(() => parseFilter('port 80)'), 'EINVAL', "syntax error at column 8: unexpected ')'");
  expectErr(() => parseFilter('ip[0:3] = 1'), 'EINVAL', 'data size at column 6 must be 1, 2 or 4, got 3');
  expectErr(() => parseFilter('host 1.2.3.4 # x'), 'EINVAL', "syntax error at column 14: unexpected character '#'");
  expectErr(() => parseFilter('gateway foo'), 'EINVAL', "'gateway' at column 1 is not supported by this compiler");
  expectErr(() => parseFilter('len > 99999999999'), 'EINVAL', 'number 99999999999 at column 7 does not fit in 32 bits');
  expectErr(() => parseFilter(5 as unknown as string), 'EINVAL', 'a filter expression must be a string, got number');
});

test('compileFilter: the programs tcpdump -d prints for ip, tcp port 80 and host X', () => {
  assert.equal(disassembleClassic(compileFilter('ip')), [
    '(000) ldh      [12]', '(001) jeq      #0x800           jt 2\tjf 3', '(002) ret      #262144', '(003) ret      #0', '',
  ].join('\n'));
  assert.equal(compileFilter('tcp port 80').length, 20);
  assert.equal(compileFilter('host 1.2.3.4').length, 14);
  assert.equal(disassembleClassic(compileFilter('tcp[13] & 2 != 0', 'raw')), [
    '(000) ldb      [0]', '(001) and      #0xf0', '(002) jeq      #0x40            jt 3\tjf 11', '(003) ldb      [9]',
    '(004) jeq      #0x6             jt 5\tjf 11', '(005) ldh      [6]', '(006) jset     #0x1fff          jt 11\tjf 7',
    '(007) ldxb     4*([0]&0xf)', '(008) ldb      [x + 13]', '(009) jset     #0x2             jt 10\tjf 11', '(010) ret      #262144',
    '(011) ret      #0', '',
  ].join('\n'));
  assert.deepEqual(compileFilter(''), [{ code: 6, jt: 0, jf: 0, k: 262144 }]);
  assert.deepEqual(compileFilter('ip', 228), [{ code: 6, jt: 0, jf: 0, k: 262144 }]);
  assert.deepEqual(compileFilter('tcp', 1, { snaplen: 96 }).at(-2), { code: 6, jt: 0, jf: 0, k: 96 });
  assert.equal(FILTER_SNAPLEN, 262144);
  assert.equal(linkLayer('EN10MB').linktype, 1);
});

test('compileFilter: a long or-list shares the tail its IPv6 and IPv4 arms have in common, as libpcap does', () => {
  // tcpdump -dd gives 111 instructions for the 30 ports: after the first dst-port comparison of each arm (the
  // load differs: [56] or [x + 16]) the other 29 are the same jeq chain, laid out once; unmerged it was 140
  const ports = (n: number): string => Array.from({ length: n }, (_, i) => `port ${i + 1}`).join(' or ');
  assert.equal(compileFilter(ports(30)).length, 111);
  assert.equal(disassembleClassic(compileFilter(ports(3))).split('\n').slice(14, 16).join('\n'), [
    '(014) ldh      [x + 16]', '(015) jeq      #0x1             jt 28\tjf 26',
  ].join('\n'));
  assert.equal(disassembleClassic(compileFilter(ports(3))).split('\n').slice(24, 28).join('\n'), [
    '(024) ldh      [56]', '(025) jeq      #0x1             jt 28\tjf 26', '(026) jeq      #0x2             jt 28\tjf 27',
    '(027) jeq      #0x3             jt 28\tjf 29',
  ].join('\n'));
  assert.equal(compileFilter(ports(3)).length, 30);
});

test('compileFilter: a protocol tested after the ports narrows the protocol chain they test (port 53 and udp is udp port 53)', () => {
  // tcpdump -dd: 24 and 22 instructions; the tcp and sctp paths can only reject, so they go at the first test
  assert.deepEqual(compileFilter('port 53 and udp'), compileFilter('udp port 53'));
  assert.deepEqual(compileFilter('port 80 and tcp'), compileFilter('tcp port 80'));
  assert.equal(compileFilter('port 53 and udp').length, 20);
  assert.equal(compileFilter('portrange 5060-8080 and udp').length, 23);
  // what rejects everything is still refused as tcpdump refuses it
  expectErr(() => compileFilter('port 53 and icmp'), 'EINVAL', 'expression rejects all packets');
});

test('compileFilter: what a link type cannot express, and semantic errors, are refused with the column', () => {
  expectErr(() => compileFilter('arp', 'raw'), 'EINVAL', 'expression rejects all packets');
  expectErr(() => compileFilter('ether host 1:2:3:4:5:6', 'raw'), 'EINVAL', 'ethernet addresses are not supported on raw (at column 12)');
  expectErr(() => compileFilter('vlan 5', 'linux_sll'), 'EINVAL', 'no VLAN support for linux_sll (at column 1)');
  expectErr(() => compileFilter('broadcast', 'ipv4'), 'EINVAL', "'broadcast' needs a link layer with addresses (not ipv4) (at column 1)");
  expectErr(() => compileFilter('net 10.1.2.3/8'), 'EINVAL', 'non-network bits set in "10.1.2.3/8" (at column 5)');
  expectErr(() => compileFilter('host 01:02:03:04:05:06'), 'EINVAL', 'ethernet address used in non-ether expression (at column 6)');
  expectErr(() => compileFilter('port 70000'), 'EINVAL', 'illegal port number 70000 > 65535 (at column 6)');
  expectErr(() => compileFilter('udp port ssh'), 'EINVAL', "port 'ssh' is tcp (at column 10)");
  expectErr(() => compileFilter('port nosuch'), 'EINVAL', "unknown port 'nosuch' (at column 6)");
  expectErr(() => compileFilter('host example.com'), 'EINVAL', "'example.com' is not an address or a number (host names are not looked up) (at column 6)");
  expectErr(() => compileFilter('ip port 80'), 'EINVAL', "illegal qualifier of 'port': 'ip' (at column 9)");
  expectErr(() => compileFilter('ip[1] / 0 = 1'), 'EINVAL', 'division by zero (at column 7)');
  expectErr(() => compileFilter('mpls and vlan'), 'EINVAL', 'no VLAN match after MPLS (at column 10)');
  expectErr(() => compileFilter('mpls and arp'), 'EINVAL', 'unsupported protocol over mpls (at column 10)');
  expectErr(() => compileFilter('pppoes and ether host 1:2:3:4:5:6'), 'EINVAL', 'ethernet addresses are not supported on PPP (after pppoes) (at column 23)');
  expectErr(() => compileFilter('mpls 1048576'), 'EINVAL', 'MPLS label 1048576 greater than maximum 1048575 (at column 1)');
  expectErr(() => compileFilter('vlan 5000'), 'EINVAL', 'VLAN tag 5000 greater than maximum 4095 (at column 1)');
  expectErr(() => compileFilter('ip6 broadcast'), 'EINVAL', 'only link-layer/IP broadcast filters supported (at column 1)');
  expectErr(() => compileFilter('ip', 'token-ring'), 'EINVAL', "unknown link type 'token-ring' (supported: ethernet, raw, ipv4, ipv6, linux_sll, linux_sll2, null, loop)");
  expectErr(() => compileFilter('ip', 105), 'EINVAL', 'link type 105 is not supported by the filter compiler (supported: 1 ethernet, 101 raw, 228 ipv4, 229 ipv6, 113 linux_sll, 276 linux_sll2, 0 null, 108 loop)');
  expectErr(() => compileFilter('ip', 1, { snaplen: 0 }), 'EINVAL', 'snaplen must be an integer from 1 to 4294967295, got 0');
});

test('null link type: the address family in the capture\'s byte order', () => {
  assert.equal(compileFilter('ip', 'null')[0]!.k >>> 0, 0);
  assert.equal(compileFilter('ip', 'null')[1]!.k, 0x02000000);
  assert.equal(compileFilter('ip', 0, { byteOrder: 'big' })[1]!.k, 2);
  assert.equal(compileFilter('ip', 'loop')[1]!.k, 2);
});

test('a compiled filter loads as a classic socket filter and keeps the packets its verdicts keep', () => {
  const prog = compileFilter('tcp[tcpflags] & tcp-syn != 0 and dst port 80');
  const sys = new BpfSystem();
  const p = Program.load(sys, { insns: encodeClassic(prog), classic: true });
  const syn = tcpFrame(0x02, 40000, 80);
  const ack = tcpFrame(0x10, 40000, 80);
  const synOther = tcpFrame(0x02, 40000, 443);
  for (const [frame, want] of [[syn, 262144], [ack, 0], [synOther, 0], [udpFrame(), 0]] as const) {
    assert.equal(runClassic(prog, frame), want);
    assert.equal(Number(p.run(frame)), want);
  }
  p.close();
});
