/**
 * Property tests of the filter compiler on random expressions of the
 * grammar (primitives of every kind joined by and/or/not/parentheses, with
 * the shorthand `host a or b`): the compiled program's verdicts equal the
 * reference evaluator's (test/filter-reference.ts) on every frame where
 * that has one answer, always; and equal `tcpdump -dd`'s program where
 * tcpdump is installed. Compiling never throws anything but a BpfError.
 * The eBPF compiled straight from the same expression loads under the 3.19
 * verifier and gives the classic program's verdict on every frame (truncated
 * ones included) in the interpreter and the JIT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { compileFilter, compileFilterEbpf, parseFilter, runClassic } from '../src/filter/index.js';
import { encode } from '../src/isa/instruction.js';
import { BpfSystem } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { parseDd } from '../src/cbpf/parse.js';
import type { SockFilter } from '../src/cbpf/parse.js';
import { BpfError } from '../src/errors.js';
import { referenceVerdict } from './filter-reference.js';
import { etherFrames } from './filter-frames.js';

const TCPDUMP = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
const frames = etherFrames(300, 11);

const ip4 = fc.constantFrom('1.2.3.4', '5.6.7.8', '10.1.2.3', '192.168.1.1', '255.255.255.255', '224.0.0.1');
const net4 = fc.constantFrom('10.0.0.0/8', '192.168.0.0/16', '10.1', '224.0.0.0/4', '1.2.3.0 mask 255.255.255.0', '0.0.0.0/0');
const ip6 = fc.constantFrom('fe80::1', '::1', '2001:db8::5', 'ff02::1');
const port = fc.constantFrom(80, 443, 53, 22, 1, 2, 100, 5060, 0);
const dir = fc.constantFrom('', 'src ', 'dst ', 'src or dst ', 'src and dst ');
const small = fc.integer({ min: 0, max: 255 });
const mac = fc.constantFrom('1:2:3:4:5:6', 'ff:ff:ff:ff:ff:ff', 'aa:bb:cc:dd:ee:ff', '01:00:5e:00:00:01');

/** One primitive, as text. */
const primitive: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'ah', 'esp', 'vrrp', 'vlan',
    'ether broadcast', 'ether multicast', 'ip broadcast', 'ip multicast', 'ip6 multicast', 'broadcast', 'multicast'),
  fc.tuple(fc.constantFrom('', 'ip ', 'arp ', 'rarp '), dir, ip4).map(([p, d, a]) => `${p}${d}host ${a}`),
  fc.tuple(fc.constantFrom('', 'ip '), dir, net4).map(([p, d, n]) => `${p}${d}net ${n}`),
  fc.tuple(dir, ip6).map(([d, a]) => `ip6 ${d}host ${a}`),
  fc.tuple(dir, fc.constantFrom('fe80::/10', '2001:db8::/32', 'ff00::/8')).map(([d, n]) => `${d}net ${n}`),
  fc.tuple(fc.constantFrom('', 'tcp ', 'udp ', 'sctp '), dir, port).map(([p, d, n]) => `${p}${d}port ${n}`),
  fc.tuple(fc.constantFrom('', 'tcp ', 'udp '), dir, port, port).map(([p, d, a, b]) => `${p}${d}portrange ${a}-${b}`),
  fc.tuple(fc.constantFrom('ip', 'ip6', ''), fc.constantFrom(6, 17, 1, 58, 132, 47)).map(([p, n]) => `${p === '' ? '' : `${p} `}proto ${n}`),
  fc.tuple(dir, mac).map(([d, m]) => `ether ${d}host ${m}`),
  fc.integer({ min: 0, max: 200 }).map((n) => `vlan ${n % 2 === 0 ? 5 : 10}`),
  fc.constantFrom('mpls', 'mpls 5', 'mpls 6', 'pppoes', 'pppoes 7', 'pppoes 3'),
  fc.tuple(fc.constantFrom('less', 'greater'), fc.integer({ min: 30, max: 120 })).map(([k, n]) => `${k} ${n}`),
  fc.tuple(fc.constantFrom('>', '<', '=', '!=', '>=', '<='), fc.integer({ min: 30, max: 120 })).map(([o, n]) => `len ${o} ${n}`),
  fc.tuple(fc.constantFrom('ip', 'tcp', 'udp', 'icmp', 'ip6', 'ether', 'arp', 'icmp6'), fc.integer({ min: 0, max: 40 }), fc.constantFrom(1, 2, 4),
    fc.constantFrom('=', '!=', '>', '<', '>=', '<='), small, fc.constantFrom('', ' & 0xf', ' & 0xf0', ' >> 4', ' + 1', ' * 2'))
    .map(([p, i, s, o, v, a]) => `${p}[${i}${s === 1 ? '' : `:${s}`}]${a} ${o} ${v}`),
  fc.tuple(fc.constantFrom('tcp-syn', 'tcp-ack', 'tcp-fin', 'tcp-rst', 'tcp-syn|tcp-ack'), fc.constantFrom('!= 0', '= 0')).map(([f, o]) => `tcp[tcpflags] & (${f}) ${o}`),
  fc.constantFrom('ip[ip[0] & 0xf] = 4', 'ip[(ip[0] & 0xf) * 4 : 2] = 80', 'icmp[icmptype] = icmp-echo', 'ip[2:2] - 20 > len / 2'),
  // the shorthand: a bare operand after a qualified one
  fc.tuple(ip4, fc.constantFrom(' or ', ' and not ', ' or not '), ip4).map(([a, j, b]) => `host ${a}${j}${b}`),
  fc.tuple(port, fc.constantFrom(' or ', ' and not '), port).map(([a, j, b]) => `tcp port ${a}${j}${b}`),
);

const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitive,
    fc.tuple(tie('e'), fc.constantFrom(' and ', ' or ', ' && ', ' || '), tie('e')).map(([a, o, b]) => `${a}${o}${b}`),
    tie('e').map((a) => `not (${a})`),
    tie('e').map((a) => `!(${a})`),
    tie('e').map((a) => `(${a})`),
  ),
})).e;

function compileOrError(expr: string): SockFilter[] | BpfError {
  try {
    return compileFilter(expr);
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
}

test('random expressions: verdicts equal the reference evaluator\'s wherever it has one answer', () => {
  let checked = 0;
  fc.assert(fc.property(expression, (expr) => {
    const prog = compileOrError(expr);
    if (prog instanceof BpfError) return;
    const ast = parseFilter(expr);
    for (const f of frames) {
      const want = referenceVerdict(ast, f);
      if (want === null) continue;
      checked++;
      assert.equal(runClassic(prog, f), want ? 262144 : 0, `${expr} on ${Buffer.from(f).toString('hex')}`);
    }
  }), { numRuns: 400, seed: 18 });
  assert.ok(checked > 10000, `only ${checked} verdicts compared`);
});

test('random expressions: verdicts and refusals equal tcpdump -dd\'s', { skip: TCPDUMP ? false : 'tcpdump is not installed' }, () => {
  fc.assert(fc.property(expression, (expr) => {
    const prog = compileOrError(expr);
    let ref: SockFilter[] | string;
    try {
      ref = parseDd(execFileSync('tcpdump', ['-dd', '--', expr], { stdio: ['ignore', 'pipe', 'pipe'] }).toString());
    } catch (e) {
      ref = String((e as { stderr?: Buffer }).stderr).trim();
    }
    if (typeof ref === 'string') {
      assert.ok(prog instanceof BpfError, `${expr}: tcpdump refuses it (${ref}), we compiled it`);
      return;
    }
    assert.ok(!(prog instanceof BpfError), `${expr}: we refuse it (${prog instanceof BpfError ? prog.message : ''}), tcpdump compiles it`);
    const ast = parseFilter(expr);
    for (const f of frames) {
      // where a load runs off the end, the verdict depends on the order of the tests (see test/filter-diff.test.ts)
      if (referenceVerdict(ast, f) === null) continue;
      assert.equal(runClassic(prog, f), runClassic(ref, f), `${expr} on ${Buffer.from(f).toString('hex')}`);
    }
  }), { numRuns: 150, seed: 18 });
});

test('random expressions: the direct eBPF loads and gives the classic program\'s verdict on every frame, on the interpreter and the JIT', () => {
  const sys = new BpfSystem();
  const batch = frames.map((data) => ({ data, netOff: -1 }));
  let compared = 0;
  fc.assert(fc.property(expression, (expr) => {
    const prog = compileOrError(expr);
    if (prog instanceof BpfError) return;
    const p = Program.load(sys, { type: 'socket_filter', insns: encode(compileFilterEbpf(expr)), license: 'GPL' });
    try {
      const want = frames.map((f) => runClassic(prog, f));
      for (const engine of ['interpreter', 'jit'] as const) assert.deepEqual(Array.from(p.runBatch(batch, engine)), want, `${expr} (${engine})`);
      compared++;
    } finally {
      p.close();
    }
  }), { numRuns: 300, seed: 19 });
  assert.ok(compared > 200, `only ${compared} expressions compared`);
});
