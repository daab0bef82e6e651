/**
 * Classic BPF: reading tcpdump's -dd/-ddd output and raw bytes, the 3.19
 * checker's verdicts, the conversion to eBPF (exact instruction lists derived
 * by hand from bpf_convert_filter), the tcpdump -d disassembly, and
 * converted programs run through BPF_PROG_LOAD and the interpreter against a
 * classic reference interpreter written here.
 *
 * The tcpdump programs below are written from tcpdump's (libpcap 1.x)
 * compiler output for an Ethernet interface with the default snaplen 262144,
 * and checked instruction by instruction in the comments.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BpfSystem, testRun } from '../src/api/bpf.js';
import { PacketRunner } from '../src/api/packets.js';
import {
  BPF_ALU32_REG, BPF_ALU32_IMM, BPF_ALU64_REG, BPF_EXIT_INSN, BPF_JMP_A, BPF_JMP_IMM, BPF_JMP_REG,
  BPF_LD_ABS, BPF_LD_IND, BPF_LDX_MEM, BPF_MOV32_IMM, BPF_MOV32_REG, BPF_MOV64_REG, BPF_STX_MEM, BPF_RAW_INSN,
} from '../src/isa/builders.js';
import {
  BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_JGT, BPF_JNE, BPF_JSET, BPF_LSH, BPF_W, BPF_XOR, BPF_ALU, BPF_X, BPF_JMP,
} from '../src/isa/opcodes.js';
import { encode, slotHex } from '../src/isa/instruction.js';
import type { Instruction } from '../src/isa/instruction.js';
import {
  checkClassic, convertClassic, decodeClassic, detectClassicText, disassembleClassic, bpfImage, encodeClassic,
  formatDd, formatDdd, parseClassic, parseClassicText, parseDd, parseDdd,
} from '../src/cbpf/index.js';
import type { SockFilter } from '../src/cbpf/index.js';
import { prng as rng } from '../src/bench/filter-e2e.js';

// ---------------------------------------------------------------- programs

interface Fixture {
  expr: string;
  /** tcpdump -d */
  d: string;
  /** tcpdump -dd */
  dd: string;
  /** tcpdump -ddd */
  ddd: string;
}

const lines = (...l: string[]): string => l.map((x) => `${x}\n`).join('');

const FIXTURES: Fixture[] = [
  {
    // ethertype at 12 is IPv4
    expr: 'ip',
    d: lines(
      '(000) ldh      [12]',
      '(001) jeq      #0x800           jt 2\tjf 3',
      '(002) ret      #262144',
      '(003) ret      #0',
    ),
    dd: lines(
      '{ 0x28, 0, 0, 0x0000000c },',
      '{ 0x15, 0, 1, 0x00000800 },',
      '{ 0x6, 0, 0, 0x00040000 },',
      '{ 0x6, 0, 0, 0x00000000 },',
    ),
    ddd: lines('4', '40 0 0 12', '21 0 1 2048', '6 0 0 262144', '6 0 0 0'),
  },
  {
    // ethertype ARP
    expr: 'arp',
    d: lines(
      '(000) ldh      [12]',
      '(001) jeq      #0x806           jt 2\tjf 3',
      '(002) ret      #262144',
      '(003) ret      #0',
    ),
    dd: lines(
      '{ 0x28, 0, 0, 0x0000000c },',
      '{ 0x15, 0, 1, 0x00000806 },',
      '{ 0x6, 0, 0, 0x00040000 },',
      '{ 0x6, 0, 0, 0x00000000 },',
    ),
    ddd: lines('4', '40 0 0 12', '21 0 1 2054', '6 0 0 262144', '6 0 0 0'),
  },
  {
    // IPv6: next header at 14+6 = 20 is TCP (6), or a fragment header (0x2c) whose
    // next header at 14+40 = 54 is TCP; IPv4: protocol at 14+9 = 23 is TCP
    expr: 'tcp',
    d: lines(
      '(000) ldh      [12]',
      '(001) jeq      #0x86dd          jt 2\tjf 7',
      '(002) ldb      [20]',
      '(003) jeq      #0x6             jt 10\tjf 4',
      '(004) jeq      #0x2c            jt 5\tjf 11',
      '(005) ldb      [54]',
      '(006) jeq      #0x6             jt 10\tjf 11',
      '(007) jeq      #0x800           jt 8\tjf 11',
      '(008) ldb      [23]',
      '(009) jeq      #0x6             jt 10\tjf 11',
      '(010) ret      #262144',
      '(011) ret      #0',
    ),
    dd: lines(
      '{ 0x28, 0, 0, 0x0000000c },',
      '{ 0x15, 0, 5, 0x000086dd },',
      '{ 0x30, 0, 0, 0x00000014 },',
      '{ 0x15, 6, 0, 0x00000006 },',
      '{ 0x15, 0, 6, 0x0000002c },',
      '{ 0x30, 0, 0, 0x00000036 },',
      '{ 0x15, 3, 4, 0x00000006 },',
      '{ 0x15, 0, 3, 0x00000800 },',
      '{ 0x30, 0, 0, 0x00000017 },',
      '{ 0x15, 0, 1, 0x00000006 },',
      '{ 0x6, 0, 0, 0x00040000 },',
      '{ 0x6, 0, 0, 0x00000000 },',
    ),
    ddd: lines('12', '40 0 0 12', '21 0 5 34525', '48 0 0 20', '21 6 0 6', '21 0 6 44', '48 0 0 54', '21 3 4 6',
      '21 0 3 2048', '48 0 0 23', '21 0 1 6', '6 0 0 262144', '6 0 0 0'),
  },
  {
    // IPv6 TCP: ports at 14+40 = 54 and 56. IPv4 TCP: not a fragment with
    // offset (frag field at 20 & 0x1fff), X = IP header length from the IHL
    // nibble at 14, ports at X+14 and X+16
    expr: 'tcp port 80',
    d: lines(
      '(000) ldh      [12]',
      '(001) jeq      #0x86dd          jt 2\tjf 8',
      '(002) ldb      [20]',
      '(003) jeq      #0x6             jt 4\tjf 19',
      '(004) ldh      [54]',
      '(005) jeq      #0x50            jt 18\tjf 6',
      '(006) ldh      [56]',
      '(007) jeq      #0x50            jt 18\tjf 19',
      '(008) jeq      #0x800           jt 9\tjf 19',
      '(009) ldb      [23]',
      '(010) jeq      #0x6             jt 11\tjf 19',
      '(011) ldh      [20]',
      '(012) jset     #0x1fff          jt 19\tjf 13',
      '(013) ldxb     4*([14]&0xf)',
      '(014) ldh      [x + 14]',
      '(015) jeq      #0x50            jt 18\tjf 16',
      '(016) ldh      [x + 16]',
      '(017) jeq      #0x50            jt 18\tjf 19',
      '(018) ret      #262144',
      '(019) ret      #0',
    ),
    dd: lines(
      '{ 0x28, 0, 0, 0x0000000c },',
      '{ 0x15, 0, 6, 0x000086dd },',
      '{ 0x30, 0, 0, 0x00000014 },',
      '{ 0x15, 0, 15, 0x00000006 },',
      '{ 0x28, 0, 0, 0x00000036 },',
      '{ 0x15, 12, 0, 0x00000050 },',
      '{ 0x28, 0, 0, 0x00000038 },',
      '{ 0x15, 10, 11, 0x00000050 },',
      '{ 0x15, 0, 10, 0x00000800 },',
      '{ 0x30, 0, 0, 0x00000017 },',
      '{ 0x15, 0, 8, 0x00000006 },',
      '{ 0x28, 0, 0, 0x00000014 },',
      '{ 0x45, 6, 0, 0x00001fff },',
      '{ 0xb1, 0, 0, 0x0000000e },',
      '{ 0x48, 0, 0, 0x0000000e },',
      '{ 0x15, 2, 0, 0x00000050 },',
      '{ 0x48, 0, 0, 0x00000010 },',
      '{ 0x15, 0, 1, 0x00000050 },',
      '{ 0x6, 0, 0, 0x00040000 },',
      '{ 0x6, 0, 0, 0x00000000 },',
    ),
    ddd: lines('20', '40 0 0 12', '21 0 6 34525', '48 0 0 20', '21 0 15 6', '40 0 0 54', '21 12 0 80', '40 0 0 56',
      '21 10 11 80', '21 0 10 2048', '48 0 0 23', '21 0 8 6', '40 0 0 20', '69 6 0 8191', '177 0 0 14', '72 0 0 14',
      '21 2 0 80', '72 0 0 16', '21 0 1 80', '6 0 0 262144', '6 0 0 0'),
  },
  {
    // as tcp port 80 with UDP (17) and only the destination port (56; X+16)
    expr: 'udp and dst port 53',
    d: lines(
      '(000) ldh      [12]',
      '(001) jeq      #0x86dd          jt 2\tjf 6',
      '(002) ldb      [20]',
      '(003) jeq      #0x11            jt 4\tjf 15',
      '(004) ldh      [56]',
      '(005) jeq      #0x35            jt 14\tjf 15',
      '(006) jeq      #0x800           jt 7\tjf 15',
      '(007) ldb      [23]',
      '(008) jeq      #0x11            jt 9\tjf 15',
      '(009) ldh      [20]',
      '(010) jset     #0x1fff          jt 15\tjf 11',
      '(011) ldxb     4*([14]&0xf)',
      '(012) ldh      [x + 16]',
      '(013) jeq      #0x35            jt 14\tjf 15',
      '(014) ret      #262144',
      '(015) ret      #0',
    ),
    dd: lines(
      '{ 0x28, 0, 0, 0x0000000c },',
      '{ 0x15, 0, 4, 0x000086dd },',
      '{ 0x30, 0, 0, 0x00000014 },',
      '{ 0x15, 0, 11, 0x00000011 },',
      '{ 0x28, 0, 0, 0x00000038 },',
      '{ 0x15, 8, 9, 0x00000035 },',
      '{ 0x15, 0, 8, 0x00000800 },',
      '{ 0x30, 0, 0, 0x00000017 },',
      '{ 0x15, 0, 6, 0x00000011 },',
      '{ 0x28, 0, 0, 0x00000014 },',
      '{ 0x45, 4, 0, 0x00001fff },',
      '{ 0xb1, 0, 0, 0x0000000e },',
      '{ 0x48, 0, 0, 0x00000010 },',
      '{ 0x15, 0, 1, 0x00000035 },',
      '{ 0x6, 0, 0, 0x00040000 },',
      '{ 0x6, 0, 0, 0x00000000 },',
    ),
    ddd: lines('16', '40 0 0 12', '21 0 4 34525', '48 0 0 20', '21 0 11 17', '40 0 0 56', '21 8 9 53', '21 0 8 2048',
      '48 0 0 23', '21 0 6 17', '40 0 0 20', '69 4 0 8191', '177 0 0 14', '72 0 0 16', '21 0 1 53', '6 0 0 262144', '6 0 0 0'),
  },
];

const fixture = (expr: string): Fixture => FIXTURES.find((f) => f.expr === expr)!;
const ins = (code: number, jt: number, jf: number, k: number): SockFilter => ({ code, jt, jf, k });

// ---------------------------------------------------------------- packets

const ETH_IP = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IP6 = 0x86dd;

const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];

function ether(type: number, payload: number[]): Uint8Array {
  return Uint8Array.from([0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, ...be16(type), ...payload]);
}
function ipv4(proto: number, payload: number[], opts: { ihl?: number; frag?: number } = {}): number[] {
  const ihl = opts.ihl ?? 5;
  const hdr = [0x40 | ihl, 0, ...be16(ihl * 4 + payload.length), 0x12, 0x34, ...be16(opts.frag ?? 0x4000), 64, proto, 0, 0,
    10, 0, 0, 1, 10, 0, 0, 2];
  while (hdr.length < ihl * 4) hdr.push(1); // NOP options
  return [...hdr, ...payload];
}
function ipv6(nextHeader: number, payload: number[]): number[] {
  return [0x60, 0, 0, 0, ...be16(payload.length), nextHeader, 64, ...new Array(15).fill(0), 1, ...new Array(15).fill(0), 2, ...payload];
}
const tcp = (sport: number, dport: number): number[] =>
  [...be16(sport), ...be16(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
const udp = (sport: number, dport: number): number[] => [...be16(sport), ...be16(dport), 0, 12, 0, 0, 0xde, 0xad, 0xbe, 0xef];
const arp = (): number[] => [0, 1, 8, 0, 6, 4, 0, 1, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2];

const PACKETS: Record<string, Uint8Array> = {
  'ipv4 tcp 1234->80': ether(ETH_IP, ipv4(6, tcp(1234, 80))),
  'ipv4 tcp 80->1234': ether(ETH_IP, ipv4(6, tcp(80, 1234))),
  'ipv4 tcp 1234->22': ether(ETH_IP, ipv4(6, tcp(1234, 22))),
  'ipv4 tcp 1234->80, ip options': ether(ETH_IP, ipv4(6, tcp(1234, 80), { ihl: 6 })),
  'ipv4 tcp 1234->80, later fragment': ether(ETH_IP, ipv4(6, tcp(1234, 80), { frag: 0x2001 })),
  'ipv4 udp 5353->53': ether(ETH_IP, ipv4(17, udp(5353, 53))),
  'ipv4 udp 53->5353': ether(ETH_IP, ipv4(17, udp(53, 5353))),
  'ipv4 udp 1234->80': ether(ETH_IP, ipv4(17, udp(1234, 80))),
  'ipv6 tcp 1234->80': ether(ETH_IP6, ipv6(6, tcp(1234, 80))),
  'ipv6 tcp 80->22': ether(ETH_IP6, ipv6(6, tcp(80, 22))),
  'ipv6 tcp 1234->443': ether(ETH_IP6, ipv6(6, tcp(1234, 443))),
  'ipv6 fragment header then tcp': ether(ETH_IP6, ipv6(0x2c, [6, 0, 0, 0, 0, 0, 0, 1, ...tcp(1, 2)])),
  'ipv6 udp 1234->53': ether(ETH_IP6, ipv6(17, udp(1234, 53))),
  'arp request': ether(ETH_ARP, arp()),
  // short frames: the loads past the end end the program with 0
  'empty frame': new Uint8Array(0),
  'ethernet header only, type ip': ether(ETH_IP, []),
  'ipv4 cut after 10 bytes': ether(ETH_IP, ipv4(6, tcp(1, 80)).slice(0, 10)),
  'ipv4 tcp cut before the ports': ether(ETH_IP, ipv4(6, tcp(1, 80)).slice(0, 21)),
  'ipv6 cut before the next header': ether(ETH_IP6, ipv6(6, tcp(1, 80)).slice(0, 5)),
  'ipv6 tcp cut before dst port': ether(ETH_IP6, ipv6(6, tcp(80, 80)).slice(0, 41)),
  'ipv6 udp cut before dst port': ether(ETH_IP6, ipv6(17, udp(53, 53)).slice(0, 42)),
};

/** tcpdump's verdicts: which packets each filter accepts (262144), the rest give 0. */
const ACCEPTS: Record<string, string[]> = {
  'ip': ['ipv4 tcp 1234->80', 'ipv4 tcp 80->1234', 'ipv4 tcp 1234->22', 'ipv4 tcp 1234->80, ip options',
    'ipv4 tcp 1234->80, later fragment', 'ipv4 udp 5353->53', 'ipv4 udp 53->5353', 'ipv4 udp 1234->80',
    'ethernet header only, type ip', 'ipv4 cut after 10 bytes', 'ipv4 tcp cut before the ports'],
  'arp': ['arp request'],
  // 'ipv4 cut after 10 bytes' still holds the protocol byte at 23
  'tcp': ['ipv4 tcp 1234->80', 'ipv4 tcp 80->1234', 'ipv4 tcp 1234->22', 'ipv4 tcp 1234->80, ip options',
    'ipv4 tcp 1234->80, later fragment', 'ipv4 cut after 10 bytes', 'ipv6 tcp 1234->80', 'ipv6 tcp 80->22', 'ipv6 tcp 1234->443',
    'ipv6 fragment header then tcp', 'ipv4 tcp cut before the ports', 'ipv6 tcp cut before dst port'],
  'tcp port 80': ['ipv4 tcp 1234->80', 'ipv4 tcp 80->1234', 'ipv4 tcp 1234->80, ip options', 'ipv6 tcp 1234->80',
    'ipv6 tcp 80->22'],
  'udp and dst port 53': ['ipv4 udp 5353->53', 'ipv6 udp 1234->53'],
};

// ---------------------------------------------------------------- reference interpreter

const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;

/** Classic BPF by the book (A, X, M[16], the packet); loads out of bounds end the program with 0. */
function runClassic(prog: readonly SockFilter[], pkt: Uint8Array): number {
  let A = 0;
  let X = 0;
  const M = new Uint32Array(16);
  const load = (k: number, size: number): number | undefined => {
    let start = k | 0;
    if (start < 0) {
      // tsbpf's test runs have no network header offset: SKF_NET_OFF loads fail
      if (start >= SKF_LL_OFF && start < SKF_NET_OFF) start -= SKF_LL_OFF;
      else return undefined;
    }
    if (start + size > pkt.length) return undefined;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + pkt[start + i]!;
    return v;
  };
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    const cls = code & 7;
    const size = [4, 2, 1][(code >> 3) & 3]!;
    switch (cls) {
      case 0: case 1: { // LD, LDX
        const mode = code & 0xe0;
        let v: number | undefined;
        if (mode === 0x00) v = k;
        else if (mode === 0x20) v = load(k, size);
        else if (mode === 0x40) v = load((X + k) | 0, size);
        else if (mode === 0x60) v = M[k]!;
        else if (mode === 0x80) v = pkt.length;
        else { // MSH
          const b = load(k, 1);
          if (b === undefined) return 0;
          X = (b & 0xf) * 4;
          break;
        }
        if (v === undefined) return 0;
        if (cls === 0) A = v >>> 0; else X = v >>> 0;
        break;
      }
      case 2: M[k] = A; break;
      case 3: M[k] = X; break;
      case 4: { // ALU
        const s = code & 0x08 ? X : k;
        switch (code & 0xf0) {
          case 0x00: A = (A + s) >>> 0; break;
          case 0x10: A = (A - s) >>> 0; break;
          case 0x20: A = Math.imul(A, s) >>> 0; break;
          case 0x30: if (s === 0) return 0; A = Math.floor(A / s) >>> 0; break;
          case 0x40: A = (A | s) >>> 0; break;
          case 0x50: A = (A & s) >>> 0; break;
          case 0x60: A = (A << (s & 31)) >>> 0; break;
          case 0x70: A = A >>> (s & 31); break;
          case 0x80: A = -A >>> 0; break;
          case 0x90: if (s === 0) return 0; A = A % s; break;
          case 0xa0: A = (A ^ s) >>> 0; break;
          default: throw new Error(`bad alu ${code}`);
        }
        break;
      }
      case 5: { // JMP
        const s = code & 0x08 ? X : k;
        let t: boolean;
        switch (code & 0xf0) {
          case 0x00: pc += k; continue;
          case 0x10: t = A === s; break;
          case 0x20: t = A > s; break;
          case 0x30: t = A >= s; break;
          case 0x40: t = (A & s) !== 0; break;
          default: throw new Error(`bad jmp ${code}`);
        }
        pc += t ? jt : jf;
        break;
      }
      case 6: return code & 0x10 ? A : k;
      case 7: if (code & 0x80) A = X; else X = A; break;
    }
  }
  throw new Error('fell off the end');
}

// ---------------------------------------------------------------- loading

/** Load a classic program as a socket filter; the fd, or the BpfError. */
function loadClassic(sys: BpfSystem, prog: readonly SockFilter[]): number {
  const { insns } = convertClassic(prog);
  return sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns, license: 'GPL' });
}

const expectError = (fn: () => unknown, code: string, message: string): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BpfError, `expected a BpfError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
};

// ---------------------------------------------------------------- tests

describe('parse', () => {
  test('tcpdump -dd of ip, to instructions', () => {
    assert.deepEqual(parseDd(fixture('ip').dd), [
      { code: 0x28, jt: 0, jf: 0, k: 12 },
      { code: 0x15, jt: 0, jf: 1, k: 0x800 },
      { code: 0x06, jt: 0, jf: 0, k: 262144 },
      { code: 0x06, jt: 0, jf: 0, k: 0 },
    ]);
  });

  for (const f of FIXTURES) {
    test(`${f.expr}: -dd, -ddd and raw bytes agree and print back`, () => {
      const prog = parseDd(f.dd);
      assert.deepEqual(parseDdd(f.ddd), prog);
      assert.deepEqual(parseClassicText(f.dd), prog);
      assert.deepEqual(parseClassicText(f.ddd), prog);
      assert.equal(detectClassicText(f.dd), true);
      assert.equal(detectClassicText(f.ddd), true);
      const bytes = encodeClassic(prog);
      assert.equal(bytes.length, prog.length * 8);
      assert.deepEqual(decodeClassic(bytes), prog);
      assert.deepEqual(parseClassic(bytes), prog);
      assert.equal(formatDd(prog), f.dd);
      assert.equal(formatDdd(prog), f.ddd);
      assert.equal(disassembleClassic(prog), f.d);
    });
  }

  test('raw bytes are little-endian sock_filter', () => {
    const bytes = Uint8Array.from([0x28, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x15, 0x00, 0x02, 0x07, 0xdd, 0x86, 0x00, 0x00]);
    assert.deepEqual(decodeClassic(bytes), [ins(0x28, 0, 0, 12), ins(0x15, 2, 7, 0x86dd)]);
  });

  test('tolerates blank lines, comments, CRLF and a missing trailing comma', () => {
    assert.deepEqual(parseDd('\n# tcpdump -dd ip\r\n{ 0x28, 0, 0, 0x0000000c },\r\n\n{0x6,0,0,262144}\n'),
      [ins(0x28, 0, 0, 12), ins(6, 0, 0, 262144)]);
  });

  test('bad text: EINVAL naming the line', () => {
    expectError(() => parseDd('{ 0x28, 0, 0, 0x0000000c },\n\n{ 0x15, 0, 1 },\n'), 'EINVAL',
      "line 3: expected '{ code, jt, jf, k },', got '{ 0x15, 0, 1 },'");
    expectError(() => parseDd('{ 0x28, 256, 0, 0x0000000c },'), 'EINVAL', 'line 1: jt 256 does not fit in 8 bits');
    expectError(() => parseDd('{ 0x10028, 0, 0, 0 },'), 'EINVAL', 'line 1: code 0x10028 does not fit in 16 bits');
    expectError(() => parseDd('{ 0x6, 0, 0, 0x100000000 },'), 'EINVAL', 'line 1: k 0x100000000 does not fit in 32 bits');
    expectError(() => parseDd(''), 'EINVAL', 'no instructions in the text');
    expectError(() => parseDdd('3\n40 0 0 12\n6 0 0 0\n'), 'EINVAL', 'line 1: the count says 3 instructions, the text has 2');
    expectError(() => parseDdd('2\n40 0 0 12\n6 0 0x10 0\n'), 'EINVAL', "line 3: expected 'code jt jf k' in decimal, got '6 0 0x10 0'");
    expectError(() => parseDdd('two\n40 0 0 12\n'), 'EINVAL', "line 1: expected the instruction count, got 'two'");
    expectError(() => parseClassicText('ldh [12]\nret #0\n'), 'EINVAL', "line 1: neither tcpdump -dd nor -ddd output: 'ldh [12]'");
    expectError(() => decodeClassic(new Uint8Array(12)), 'EINVAL', 'classic program length 12 is not a multiple of 8 bytes');
  });

  test('detectClassicText', () => {
    assert.equal(detectClassicText('  { 0x6, 0, 0, 0x00000000 },\n'), true);
    assert.equal(detectClassicText('1\n6 0 0 0\n'), true);
    assert.equal(detectClassicText('r0 = 0\nexit\n'), false);
    assert.equal(detectClassicText('{"insns": []}'), false);
    assert.equal(detectClassicText('42\n'), false);
    assert.equal(detectClassicText(''), false);
  });
});

describe('check (3.19 bpf_check_classic)', () => {
  const RET0 = ins(0x06, 0, 0, 0);
  test('the tcpdump programs pass', () => {
    for (const f of FIXTURES) checkClassic(parseDd(f.dd));
  });

  const rejections: [string, SockFilter[], string][] = [
    ['no instructions', [], 'program has 0 instructions, must be 1..4096'],
    ['4097 instructions', new Array(4097).fill(RET0), 'program has 4097 instructions, must be 1..4096'],
    ['unknown opcode (ret x)', [ins(0x0e, 0, 0, 0)], 'insn 0: unknown opcode 0xe'],
    ['unknown opcode (eBPF ja32 class byte)', [ins(0x28, 0, 0, 12), ins(0x55, 0, 0, 1), RET0], 'insn 1: unknown opcode 0x55'],
    ['backward jump', [ins(0x28, 0, 0, 12), ins(0x05, 0, 0, 0xffffffff), RET0], 'insn 1: ja -1 jumps backward'],
    ['ja past the end', [ins(0x05, 0, 0, 2), RET0, RET0], 'insn 0: ja jumps to 3, past the last instruction 2'],
    ['ja onto the end', [ins(0x05, 0, 0, 1), RET0], 'insn 0: ja jumps to 2, past the last instruction 1'],
    ['jt past the end', [ins(0x15, 2, 0, 1), RET0, RET0], 'insn 0: jt jumps to 3, past the last instruction 2'],
    ['jf past the end', [ins(0x45, 0, 9, 1), RET0, RET0], 'insn 0: jf jumps to 10, past the last instruction 2'],
    ['M[16]', [ins(0x02, 0, 0, 16), RET0], 'insn 0: scratch memory M[16] out of range (M[0]..M[15])'],
    ['ldx M[99]', [ins(0x61, 0, 0, 99), RET0], 'insn 0: scratch memory M[99] out of range (M[0]..M[15])'],
    ['div #0', [ins(0x00, 0, 0, 7), ins(0x34, 0, 0, 0), RET0], 'insn 1: division by constant zero'],
    ['mod #0', [ins(0x94, 0, 0, 0), RET0], 'insn 0: modulo by constant zero'],
    ['no ret at the end', [ins(0x28, 0, 0, 12)], 'insn 0: the last instruction must be a ret, not ldh'],
    ['no ret at the end (tax)', [RET0, ins(0x07, 0, 0, 0)], 'insn 1: the last instruction must be a ret, not tax'],
    ['unknown ancillary load', [ins(0x20, 0, 0, 0xfffff000 + 3), RET0], 'insn 0: unknown ancillary load at SKF_AD_OFF+3'],
    ['M[0] read before any write', [ins(0x60, 0, 0, 0), RET0], 'insn 0: M[0] is read before it is written on some path'],
    // jeq jt 0 jf 1 skips the store on the false path; M[0] is then read on both
    ['M[0] written on one path only',
      [ins(0x15, 0, 1, 1), ins(0x02, 0, 0, 0), ins(0x61, 0, 0, 0), ins(0x16, 0, 0, 0)],
      'insn 2: M[0] is read before it is written on some path'],
    // the opcode check comes before the range check of the same instruction, and before the last-insn check
    ['first failure wins', [ins(0x02, 0, 0, 20), ins(0xff, 0, 0, 0)], 'insn 0: scratch memory M[20] out of range (M[0]..M[15])'],
  ];
  for (const [name, prog, message] of rejections) {
    test(`rejects: ${name}`, () => expectError(() => checkClassic(prog), 'EINVAL', message));
  }

  test('accepts: 4096 instructions, a store on both paths, a known ancillary load', () => {
    checkClassic(new Array(4096).fill(RET0));
    checkClassic([ins(0x15, 0, 2, 1), ins(0x02, 0, 0, 5), ins(0x05, 0, 0, 1), ins(0x03, 0, 0, 5), ins(0x60, 0, 0, 5), ins(0x16, 0, 0, 0)]);
    checkClassic([ins(0x20, 0, 0, 0xfffff000 + 40), RET0]);
    // 3.19 has no shift-by-constant bound
    checkClassic([ins(0x64, 0, 0, 32), RET0]);
  });
});

describe('convert (3.19 bpf_convert_filter)', () => {
  test('ip: the exact eBPF program and its bytes', () => {
    const { insns, addrs } = convertClassic(parseDd(fixture('ip').dd));
    assert.deepEqual(insns, [
      BPF_MOV32_IMM(0, 0),
      BPF_MOV32_IMM(7, 0),
      BPF_MOV64_REG(6, 1),
      BPF_LD_ABS(BPF_H, 12),
      // jeq jt 0 jf 1: JNE to the false target, classic 3 at eBPF 7: 7 - 4 - 1
      BPF_JMP_IMM(BPF_JNE, 0, 0x800, 2),
      BPF_MOV32_IMM(0, 262144),
      BPF_EXIT_INSN(),
      BPF_MOV32_IMM(0, 0),
      BPF_EXIT_INSN(),
    ]);
    assert.deepEqual(addrs, [3, 4, 5, 7]);
    assert.deepEqual(slotHex(encode(insns)), [
      'b400000000000000', 'b407000000000000', 'bf16000000000000', '280000000c000000', '5500020000080000',
      'b400000000000400', '9500000000000000', 'b400000000000000', '9500000000000000',
    ]);
  });

  // Every expansion: msh, ind, st/ld M, a two-way jgt (jump + goto), a jset
  // with k >= 2^31 (through r8), div x (with its X == 0 exit), ret a, tax, ret k >= 2^31.
  const MIXED: SockFilter[] = [
    ins(0xb1, 0, 0, 14), //         0: ldxb 4*([14]&0xf)
    ins(0x40, 0, 0, 0), //          1: ld [x + 0]
    ins(0x02, 0, 0, 3), //          2: st M[3]
    ins(0x25, 0, 2, 16), //         3: jgt #0x10 jt 4 jf 6
    ins(0x45, 2, 0, 0x80000000), // 4: jset #0x80000000 jt 7 jf 5
    ins(0x3c, 0, 0, 0), //          5: div x
    ins(0x16, 0, 0, 0), //          6: ret a
    ins(0x60, 0, 0, 3), //          7: ld M[3]
    ins(0x07, 0, 0, 0), //          8: tax
    ins(0x06, 0, 0, 0xffffffff), // 9: ret #-1
  ];

  test('every expansion: the exact eBPF program', () => {
    const { insns, addrs } = convertClassic(MIXED);
    const expected: Instruction[] = [
      BPF_MOV32_IMM(0, 0), BPF_MOV32_IMM(7, 0), BPF_MOV64_REG(6, 1),
      // 0 @3: msh keeps A in r8
      BPF_MOV64_REG(8, 0), BPF_LD_ABS(BPF_B, 14), BPF_ALU32_IMM(BPF_AND, 0, 0xf), BPF_ALU32_IMM(BPF_LSH, 0, 2),
      BPF_MOV64_REG(7, 0), BPF_MOV64_REG(0, 8),
      // 1 @9
      BPF_LD_IND(BPF_W, 7, 0),
      // 2 @10: M[3] at r10 - (16 - 3) * 4
      BPF_STX_MEM(BPF_W, 10, 0, -52),
      // 3 @11: to classic 4 @13 (13 - 11 - 1), then goto classic 6 @19 (19 - 12 - 1)
      BPF_JMP_IMM(BPF_JGT, 0, 16, 1), BPF_JMP_A(6),
      // 4 @13: k through r8; to classic 7 @21 from 14
      BPF_MOV32_IMM(8, 0x80000000 | 0), BPF_JMP_REG(BPF_JSET, 0, 8, 6),
      // 5 @15
      BPF_JMP_IMM(BPF_JNE, 7, 0, 2), BPF_ALU32_REG(BPF_XOR, 0, 0), BPF_EXIT_INSN(), BPF_ALU32_REG(BPF_DIV, 0, 7),
      // 6 @19
      BPF_MOV32_REG(0, 0), BPF_EXIT_INSN(),
      // 7 @21
      BPF_LDX_MEM(BPF_W, 0, 10, -52),
      // 8 @22
      BPF_MOV64_REG(7, 0),
      // 9 @23
      BPF_MOV32_IMM(0, -1), BPF_EXIT_INSN(),
    ];
    assert.deepEqual(insns, expected);
    assert.deepEqual(addrs, [3, 9, 10, 11, 13, 15, 19, 21, 22, 23]);
  });

  test('other jump shapes: jf == 0, jeq jt == 0 (jne), ja, x operands', () => {
    const prog = [
      ins(0x15, 3, 0, 5), //  0: jeq #5 jt 4 jf 1
      ins(0x1d, 0, 2, 0), //  1: jeq x jt 2 jf 4  -> jne r0, r7
      ins(0x2d, 1, 1, 0), //  2: jgt x jt 4 jf 4  -> jgt r0, r7; ja
      ins(0x05, 0, 0, 0), //  3: ja 4
      ins(0x06, 0, 0, 1), //  4: ret #1
    ];
    assert.deepEqual(convertClassic(prog).insns.slice(3), [
      BPF_JMP_IMM(0x10, 0, 5, 4), //    @3 -> @8
      BPF_JMP_REG(BPF_JNE, 0, 7, 3), // @4 -> @8
      BPF_JMP_REG(BPF_JGT, 0, 7, 2), // @5 -> @8
      BPF_JMP_A(1), //                  @6 -> @8
      BPF_JMP_A(0), //                  @7 -> @8
      BPF_MOV32_IMM(0, 1), BPF_EXIT_INSN(),
    ]);
  });

  test('alu: K and X forms are 32-bit ALU with clean reserved fields; neg; ld/ldx imm; txa; len', () => {
    const prog = [
      ins(0x04, 0, 0, 0xfffffffe), ins(0x0c, 0, 0, 77), ins(0x84, 0, 0, 0), ins(0x01, 0, 0, 9), ins(0x87, 0, 0, 0),
      ins(0x80, 0, 0, 0), ins(0x81, 0, 0, 0), ins(0x9c, 0, 0, 0), ins(0x16, 0, 0, 0),
    ];
    assert.deepEqual(convertClassic(prog).insns.slice(3), [
      BPF_RAW_INSN(BPF_ALU | 0x00, 0, 0, 0, -2),
      BPF_RAW_INSN(BPF_ALU | 0x00 | BPF_X, 0, 7, 0, 0),
      BPF_RAW_INSN(BPF_ALU | 0x80, 0, 0, 0, 0),
      BPF_MOV32_IMM(7, 9),
      BPF_MOV64_REG(0, 7),
      BPF_LDX_MEM(BPF_W, 0, 6, 0),
      BPF_LDX_MEM(BPF_W, 7, 6, 0),
      BPF_JMP_IMM(BPF_JNE, 7, 0, 2), BPF_ALU32_REG(BPF_XOR, 0, 0), BPF_EXIT_INSN(), BPF_RAW_INSN(BPF_ALU | 0x90 | BPF_X, 0, 7, 0, 0),
      BPF_MOV32_REG(0, 0), BPF_EXIT_INSN(),
    ]);
  });

  test('ancillary loads: xor_x converts, the sk_buff ones are ENOTSUP; unchecked programs are EINVAL', () => {
    assert.deepEqual(convertClassic([ins(0x20, 0, 0, 0xfffff000 + 40), ins(0x16, 0, 0, 0)]).insns[3], BPF_ALU32_REG(BPF_XOR, 0, 7));
    expectError(() => convertClassic([ins(0x28, 0, 0, 0xfffff000), ins(0x16, 0, 0, 0)]), 'ENOTSUP',
      "insn 0: ancillary load SKF_AD_PROTOCOL needs an sk_buff, which tsbpf's socket filter context does not have");
    expectError(() => convertClassic([ins(0x28, 0, 0, 12)]), 'EINVAL', 'insn 0: the last instruction must be a ret, not ldh');
  });
});

describe('converted programs on the interpreter', () => {
  for (const f of FIXTURES) {
    test(`${f.expr}: loads as a socket filter and matches tcpdump and the reference`, () => {
      const prog = parseDd(f.dd);
      const sys = new BpfSystem();
      const fd = loadClassic(sys, prog);
      for (const [name, pkt] of Object.entries(PACKETS)) {
        const want = ACCEPTS[f.expr]!.includes(name) ? 262144 : 0;
        assert.equal(runClassic(prog, pkt), want, `reference, ${name}`);
        assert.equal(testRun(sys, fd, pkt).retval, BigInt(want), `eBPF, ${name}`);
      }
    });
  }

  test('every expansion: eBPF and the reference agree, including X == 0 for div x', () => {
    const sys = new BpfSystem();
    const fd = loadClassic(sys, MIXED_FOR_RUN);
    const cases: [string, Uint8Array, number][] = [];
    for (const [name, pkt] of Object.entries(PACKETS)) cases.push([name, pkt, runClassic(MIXED_FOR_RUN, pkt)]);
    // byte 14 & 0xf == 0: X = 0, then ld [x+0] = first word, and div x ends the program with 0
    const zeroX = Uint8Array.from([0x00, 0, 0, 0x20, ...new Array(10).fill(0), 0xf0, 1, 2, 3]);
    cases.push(['X == 0', zeroX, 0]);
    // X = 4; A = the word at 4; > 16 with bit 31 set: ret #-1; without: div x; <= 16: ret a
    const withX4 = (w: number[]): Uint8Array => Uint8Array.from([0, 0, 0, 0, ...w, ...new Array(6).fill(0), 0x01, 0]);
    cases.push(['jset taken', withX4([0x80, 0, 0, 0x11]), 0xffffffff]);
    cases.push(['div x', withX4([0x00, 0, 0, 0x11]), 4]);
    cases.push(['ret a', withX4([0x00, 0, 0, 0x10]), 0x10]);
    for (const [name, pkt, want] of cases) {
      assert.equal(runClassic(MIXED_FOR_RUN, pkt), want, `reference, ${name}`);
      assert.equal(testRun(sys, fd, pkt).retval, BigInt(want), `eBPF, ${name}`);
    }
    // at least the interesting outcomes happen
    const outcomes = new Set(cases.map((c) => c[2]));
    assert.ok(outcomes.has(0) && outcomes.has(0xffffffff), `outcomes ${[...outcomes]}`);
  });

  test('len: A = packet length (tcpdump "less 100")', () => {
    // (000) ld #pktlen; (001) jgt #0x64 jt 2 jf 3; (002) ret #0; (003) ret #262144
    const prog = parseDd('{ 0x80, 0, 0, 0x00000000 },\n{ 0x25, 0, 1, 0x00000064 },\n{ 0x6, 0, 0, 0x00000000 },\n{ 0x6, 0, 0, 0x00040000 },\n');
    const sys = new BpfSystem();
    const fd = loadClassic(sys, prog);
    for (const n of [0, 1, 14, 99, 100, 101, 1500]) {
      const pkt = new Uint8Array(n);
      const want = n <= 100 ? 262144 : 0;
      assert.equal(runClassic(prog, pkt), want);
      assert.equal(testRun(sys, fd, pkt).retval, BigInt(want), `length ${n}`);
    }
    // ldx len; txa; ret a
    const fd2 = loadClassic(sys, [ins(0x81, 0, 0, 0), ins(0x87, 0, 0, 0), ins(0x16, 0, 0, 0)]);
    assert.equal(testRun(sys, fd2, new Uint8Array(77)).retval, 77n);
  });

  test('random programs: eBPF and the reference agree', () => {
    runRandom(false);
  });

  test('random programs with len: eBPF and the reference agree', () => {
    runRandom(true);
  });
});

// MIXED with the classic programs' packet layout in mind: X from the IHL nibble
const MIXED_FOR_RUN: SockFilter[] = [
  ins(0xb1, 0, 0, 14), ins(0x40, 0, 0, 0), ins(0x02, 0, 0, 3), ins(0x25, 0, 2, 16), ins(0x45, 2, 0, 0x80000000),
  ins(0x3c, 0, 0, 0), ins(0x16, 0, 0, 0), ins(0x60, 0, 0, 3), ins(0x07, 0, 0, 0), ins(0x06, 0, 0, 0xffffffff),
];

// ---------------------------------------------------------------- random differential testing


function randomProgram(r: () => number, withLen: boolean): SockFilter[] {
  const n = 2 + Math.floor(r() * 24);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const small = (): number => Math.floor(r() * 64);
  const anyK = (): number => pick([0, 1, 2, 31, 0x7fffffff, 0x80000000, 0xffffffff, 0x800, 0x86dd, Math.floor(r() * 2 ** 32)]);
  const prog: SockFilter[] = [];
  const written = new Set<number>();
  for (let pc = 0; pc < n - 1; pc++) {
    const room = n - 1 - pc; // jump offsets 0..room-1 stay inside
    const kind = Math.floor(r() * 11);
    let f: SockFilter;
    switch (kind) {
      case 0: f = ins(pick([0x20, 0x28, 0x30]), 0, 0, small()); break;
      case 1: f = ins(pick([0x40, 0x48, 0x50]), 0, 0, small()); break;
      case 2: f = ins(pick([0x00, 0x01]), 0, 0, anyK()); break;
      case 3: f = withLen ? ins(pick([0x80, 0x81]), 0, 0, 0) : ins(0xb1, 0, 0, small()); break;
      case 4: {
        const k = Math.floor(r() * 4);
        f = ins(pick([0x02, 0x03]), 0, 0, k);
        written.add(k);
        break;
      }
      case 5: {
        const ks = [...written];
        f = ks.length ? ins(pick([0x60, 0x61]), 0, 0, pick(ks)) : ins(0x07, 0, 0, 0);
        break;
      }
      case 6: {
        const op = pick([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0]);
        const x = r() < 0.5;
        let k = op === 0x60 || op === 0x70 ? Math.floor(r() * 32) : anyK();
        if ((op === 0x30 || op === 0x90) && k === 0) k = 3;
        f = ins(0x04 | op | (x ? 0x08 : 0), 0, 0, x ? 0 : k);
        break;
      }
      case 7: f = ins(pick([0x84, 0x07, 0x87]), 0, 0, 0); break;
      // a ja or a two-way jump leaves the next instruction dead unless a jump
      // lands there (the verifier refuses dead code): keep them rarer
      case 8: f = r() < 0.3 ? ins(0x05, 0, 0, Math.floor(r() * room)) : ins(0x84, 0, 0, 0); break;
      default: {
        let jt = Math.floor(r() * room);
        let jf = Math.floor(r() * room);
        if (r() < 0.8) {
          if (r() < 0.5) jt = 0; else jf = 0;
        }
        f = ins(pick([0x15, 0x25, 0x35, 0x45, 0x1d, 0x2d, 0x3d, 0x4d]), jt, jf, anyK());
      }
    }
    prog.push(f);
  }
  prog.push(r() < 0.5 ? ins(0x16, 0, 0, 0) : ins(0x06, 0, 0, anyK()));
  return prog;
}

function runRandom(withLen: boolean): void {
  const r = rng(withLen ? 0x1e2 : 0xc1a55);
  const packets = Object.values(PACKETS);
  const sys = new BpfSystem();
  let ran = 0;
  let unreachable = 0;
  for (let i = 0; i < 300; i++) {
    const prog = randomProgram(r, withLen);
    try {
      checkClassic(prog);
    } catch {
      continue; // e.g. a read of M[k] not written on every path
    }
    let fd: number;
    try {
      fd = loadClassic(sys, prog);
    } catch (e) {
      // 3.19's verifier refuses dead code, which classic programs may have
      if (e instanceof BpfError && /unreachable insn/.test(`${e.message}\n${e.log ?? ''}`)) {
        unreachable++;
        continue;
      }
      throw new Error(`program ${i} rejected:\n${disassembleClassic(prog)}${String(e)}\n${(e as BpfError).log ?? ''}`);
    }
    const wants = packets.map((pkt) => runClassic(prog, pkt));
    packets.forEach((pkt, k) => {
      for (const engine of ['jit', 'interpreter'] as const) {
        const got = testRun(sys, fd, pkt, 1, engine).retval;
        if (got !== BigInt(wants[k]!)) {
          assert.fail(`program ${i} on ${pkt.length} bytes (${engine}): eBPF ${got}, reference ${wants[k]}\n${disassembleClassic(prog)}`);
        }
      }
    });
    // and the JIT's batch loop, all packets in one call
    const batched = new PacketRunner(sys, fd, 'jit').runBatch(packets.map((data) => ({ data, netOff: 14 })));
    assert.deepEqual(Array.from(batched), wants.map((w) => w >>> 0), `program ${i} batched\n${disassembleClassic(prog)}`);
    sys.close(fd);
    ran++;
  }
  assert.ok(ran >= 100, `only ${ran} random programs ran (${unreachable} had dead code)`);
}

describe('disassemble (tcpdump -d)', () => {
  test('every opcode, in bpf_image layout', () => {
    const prog: SockFilter[] = [
      ins(0x20, 0, 0, 26), ins(0x28, 0, 0, 12), ins(0x30, 0, 0, 23), ins(0x80, 0, 0, 0), ins(0x81, 0, 0, 0),
      ins(0x40, 0, 0, 2), ins(0x48, 0, 0, 14), ins(0x50, 0, 0, 0xffffffff), ins(0x00, 0, 0, 0x80000000), ins(0x01, 0, 0, 15),
      ins(0xb1, 0, 0, 14), ins(0x60, 0, 0, 1), ins(0x61, 0, 0, 15), ins(0x02, 0, 0, 0), ins(0x03, 0, 0, 2),
      ins(0x05, 0, 0, 3), ins(0x25, 0, 1, 4), ins(0x35, 1, 0, 0xffffffff), ins(0x15, 0, 0, 0), ins(0x45, 2, 3, 0x1fff),
      ins(0x2d, 0, 0, 0), ins(0x3d, 0, 0, 0), ins(0x1d, 0, 0, 0), ins(0x4d, 0, 0, 0),
      ins(0x0c, 0, 0, 0), ins(0x1c, 0, 0, 0), ins(0x2c, 0, 0, 0), ins(0x3c, 0, 0, 0), ins(0x9c, 0, 0, 0),
      ins(0x5c, 0, 0, 0), ins(0x4c, 0, 0, 0), ins(0xac, 0, 0, 0), ins(0x6c, 0, 0, 0), ins(0x7c, 0, 0, 0),
      ins(0x04, 0, 0, 0xffffffff), ins(0x14, 0, 0, 1), ins(0x24, 0, 0, 3), ins(0x34, 0, 0, 10), ins(0x94, 0, 0, 7),
      ins(0x54, 0, 0, 0xf), ins(0x44, 0, 0, 0x100), ins(0xa4, 0, 0, 0xff), ins(0x64, 0, 0, 2), ins(0x74, 0, 0, 8),
      ins(0x84, 0, 0, 0), ins(0x07, 0, 0, 0), ins(0x87, 0, 0, 0), ins(0x16, 0, 0, 0), ins(0x06, 0, 0, 0xffffffff),
      ins(0x20, 0, 0, 0xfffff000), ins(0x28, 0, 0, 0xfffff000 + 44), ins(0x30, 0, 0, 0xfffff000 + 3), ins(0x0e, 0, 0, 0),
      ins(0x55, 1, 2, 0),
    ];
    assert.equal(disassembleClassic(prog), lines(
      '(000) ld       [26]',
      '(001) ldh      [12]',
      '(002) ldb      [23]',
      '(003) ld       #pktlen',
      '(004) ldx      #pktlen',
      '(005) ld       [x + 2]',
      '(006) ldh      [x + 14]',
      '(007) ldb      [x + -1]',
      '(008) ld       #0x80000000',
      '(009) ldx      #0xf',
      '(010) ldxb     4*([14]&0xf)',
      '(011) ld       M[1]',
      '(012) ldx      M[15]',
      '(013) st       M[0]',
      '(014) stx      M[2]',
      '(015) ja       19',
      '(016) jgt      #0x4             jt 17\tjf 18',
      '(017) jge      #0xffffffff      jt 19\tjf 18',
      '(018) jeq      #0x0             jt 19\tjf 19',
      '(019) jset     #0x1fff          jt 22\tjf 23',
      '(020) jgt      x                jt 21\tjf 21',
      '(021) jge      x                jt 22\tjf 22',
      '(022) jeq      x                jt 23\tjf 23',
      '(023) jset     x                jt 24\tjf 24',
      '(024) add      x',
      '(025) sub      x',
      '(026) mul      x',
      '(027) div      x',
      '(028) mod      x',
      '(029) and      x',
      '(030) or       x',
      '(031) xor      x',
      '(032) lsh      x',
      '(033) rsh      x',
      '(034) add      #-1',
      '(035) sub      #1',
      '(036) mul      #3',
      '(037) div      #10',
      '(038) mod      #7',
      '(039) and      #0xf',
      '(040) or       #0x100',
      '(041) xor      #0xff',
      '(042) lsh      #2',
      '(043) rsh      #8',
      '(044) neg      ',
      '(045) tax      ',
      '(046) txa      ',
      '(047) ret      ',
      '(048) ret      #-1',
      '(049) ld       [proto]',
      '(050) ldh      [vlan_tci]',
      '(051) ldb      [-4093]',
      '(052) unimp    0xe',
      '(053) unimp    0x55             jt 55\tjf 56',
    ));
  });

  test('one line at a time', () => {
    assert.equal(bpfImage(ins(0x15, 0, 3, 0x800), 1), '(001) jeq      #0x800           jt 2\tjf 5');
    assert.equal(bpfImage(ins(0x06, 0, 0, 262144), 4), '(004) ret      #262144');
    assert.equal(bpfImage(ins(0x06, 0, 0, 0), 1234), '(1234) ret      #0');
  });
});
