/**
 * Benchmark workloads, generated deterministically (a fixed-seed PRNG) so
 * every run measures the same programs. Each takes r1 = a 64-byte buffer.
 */

import type { Instruction } from '../isa/instruction.js';
import { isMapLoad } from '../isa/instruction.js';
import type { MapTypeName } from '../maps/types.js';
import { assemble } from '../isa/asm.js';
import { ALU_CLANG } from './alu-clang.js';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DW, BPF_LSH, BPF_MOV, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR,
} from '../isa/opcodes.js';
import {
  BPF_ALU64_IMM, BPF_ALU64_REG, BPF_EXIT_INSN, BPF_LDX_MEM, BPF_MOV64_REG, BPF_STX_MEM,
} from '../isa/builders.js';

export interface Workload {
  name: string;
  description: string;
  insns: Instruction[];
  /** the input buffer (r1), r2 is its length */
  input: Uint8Array;
  /**
   * The same computation as an XDP program for the host kernel (whose
   * socket filters cannot read r1 as a buffer): XDP_PROLOGUE, then the
   * body, with any bounds checks the kernel's verifier demands.
   */
  kernel: Instruction[];
  /**
   * The program the native column's C is written from, when `insns` is its
   * compilation by clang rather than the program itself.
   */
  source?: Instruction[];
}

/**
 * The kernel column's prologue: the XDP packet must hold 128 bytes (the
 * 64-byte input and 64 bytes of slack); then r1 = the data and r2 = 64, as
 * tsbpf's runs start. With `saveEnd`, data_end is kept at fp-8.
 */
function xdpPrologue(saveEnd: boolean): Instruction[] {
  return assemble(`
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    ${saveEnd ? 'stxdw [%r10-8], %r3' : ''}
    mov %r4, %r2
    add %r4, 128
    jgt %r4, %r3, +3
    mov %r1, %r2
    mov %r2, 64
    ja +2
    mov %r0, 0
    exit`);
}

/** A deterministic xorshift32 generator of numbers in [0, 1); the tests' random programs use it too. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function input64(): Uint8Array {
  const rnd = prng(7);
  return Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256));
}

/**
 * The ALU workload's source: a random straight-line 64-bit ALU program over
 * r2..r9, loaded from the buffer and xor-ed into r0 at the end, written as a
 * person would write it: every value it computes is used (a `mov` only
 * overwrites a register whose value has been read), and no two operations of
 * one associative kind follow each other on a register (`x += 3; x += 5`),
 * which any compiler merges. gcc compiles its C transliteration for the
 * native column; the interpreter runs what clang compiles from the same C
 * (ALU_CLANG, scripts/gen-alu.mjs), as eBPF programs reach a runtime.
 */
export function aluSource(count = ALU_SOURCE_INSNS): Instruction[] {
  const rnd = prng(1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const insns: Instruction[] = [];
  for (let r = 2; r <= 9; r++) insns.push(BPF_LDX_MEM(BPF_DW, r, 1, (r - 2) * 8));
  const ops = [BPF_ADD, BPF_SUB, BPF_XOR, BPF_OR, BPF_AND, BPF_MUL, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_MOV, BPF_ADD, BPF_XOR];
  // sub reassociates with add, and a left shift by k is a multiplication by 2^k
  const kind = (op: number): number => (op === BPF_SUB ? BPF_ADD : op === BPF_LSH ? BPF_MUL : op);
  const regs = [2, 3, 4, 5, 6, 7, 8, 9];
  const lastKind = new Map<number, number>(regs.map((r) => [r, -1]));
  const unread = new Set<number>(regs);
  while (insns.length < count - 9) {
    const op = pick(ops);
    const dst = pick(regs);
    if (op === BPF_MOV) {
      if (unread.has(dst)) continue;
      const src = pick(regs.filter((r) => r !== dst));
      insns.push(BPF_MOV64_REG(dst, src));
      unread.delete(src);
      unread.add(dst);
      lastKind.set(dst, lastKind.get(src)!);
      continue;
    }
    if (kind(op) === lastKind.get(dst)) continue;
    const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
    if (shift) insns.push(BPF_ALU64_IMM(op, dst, 1 + Math.floor(rnd() * 62)));
    else if (op === BPF_AND) insns.push(BPF_ALU64_IMM(op, dst, -1 - Math.floor(rnd() * 255)));
    else if (rnd() < 0.5) {
      const src = pick(regs.filter((r) => r !== dst));
      insns.push(BPF_ALU64_REG(op, dst, src));
      unread.delete(src);
    } else insns.push(BPF_ALU64_IMM(op, dst, Math.floor(rnd() * 0x7fffffff) | 1));
    lastKind.set(dst, kind(op));
    unread.add(dst);
  }
  insns.push(BPF_MOV64_REG(0, 2));
  for (let r = 3; r <= 9; r++) insns.push(BPF_ALU64_REG(BPF_XOR, 0, r));
  insns.push(BPF_EXIT_INSN());
  return insns;
}

/** aluSource's length, chosen so that clang's compilation of it is about 1000 instructions. */
export const ALU_SOURCE_INSNS = 1250;

/** The ALU workload: clang's compilation of aluSource(); the native column is gcc's compilation of the same C. */
export function aluMix(): Workload {
  const insns = assemble(ALU_CLANG.asm);
  return {
    name: 'alu',
    description: `straight-line 64-bit ALU mix, ${insns.length} insns (clang -O2 of a ${ALU_SOURCE_INSNS}-statement C function)`,
    insns,
    source: aluSource(),
    input: input64(),
    kernel: [...xdpPrologue(false), ...insns],
  };
}

/** ~500 stack store/load pairs moving values between r2..r5 through 64 stack slots. */
export function stackTraffic(pairs = 500): Workload {
  const rnd = prng(2);
  const insns: Instruction[] = [];
  for (let r = 2; r <= 5; r++) insns.push(BPF_LDX_MEM(BPF_DW, r, 1, (r - 2) * 8));
  // Initialise every slot so each later load reads a stored value.
  for (let k = 1; k <= 64; k++) insns.push(BPF_STX_MEM(BPF_DW, 10, 2 + (k % 4), -8 * k));
  for (let i = 0; i < pairs - 64; i++) {
    const k = 1 + Math.floor(rnd() * 64);
    const j = 1 + Math.floor(rnd() * 64);
    const a = 2 + Math.floor(rnd() * 4);
    const b = 2 + Math.floor(rnd() * 4);
    insns.push(BPF_STX_MEM(BPF_DW, 10, a, -8 * k));
    insns.push(BPF_LDX_MEM(BPF_DW, b, 10, -8 * j));
    if (i % 4 === 3) insns.push(BPF_ALU64_REG(BPF_ADD, b, a));
  }
  insns.push(BPF_MOV64_REG(0, 2));
  for (let r = 3; r <= 5; r++) insns.push(BPF_ALU64_REG(BPF_XOR, 0, r));
  insns.push(BPF_EXIT_INSN());
  return { name: 'stack', description: `${pairs} stack store/load pairs, ${insns.length} insns`, insns, input: input64(), kernel: [...xdpPrologue(false), ...insns] };
}

/**
 * An Ethernet/IPv4/TCP parser over a 64-byte frame: ethertype and version
 * checks, header length, the IPv4 header checksum over 20 bytes, ports,
 * flags and a flow hash; ~130 instructions, all run for the given frame.
 */
export function packetParser(): Workload {
  // The kernel's verifier forgets a packet pointer's range once a variable
  // offset (the IP header length) is added: its version checks the TCP
  // header against data_end (kept at fp-8 by the prologue) there.
  const source = (kernel: boolean): string => src.replace('    add %r1, %r3\n', `    add %r1, %r3\n${kernel ? '    ldxdw %r4, [%r10-8]\n    mov %r5, %r1\n    add %r5, 34\n    jgt %r5, %r4, drop\n' : ''}`);
  const sumWords = Array.from({ length: 10 }, (_, i) => `ldxh %r2, [%r6+${14 + 2 * i}]\nbe16 %r2\nadd %r7, %r2`).join('\n');
  const tcpWords = Array.from({ length: 10 }, (_, i) => `ldxh %r5, [%r1+${14 + 2 * i}]\nbe16 %r5\nadd %r9, %r5`).join('\n');
  const src = `
    mov %r6, %r1
    mov %r9, %r2
    jlt %r9, 54, drop
    ldxh %r2, [%r6+12]
    be16 %r2
    jne %r2, 0x0800, drop
    ldxb %r3, [%r6+14]
    mov %r4, %r3
    rsh %r4, 4
    jne %r4, 4, drop
    and %r3, 15
    lsh %r3, 2
    jlt %r3, 20, drop
    ldxh %r4, [%r6+16]
    be16 %r4
    jgt %r4, %r9, drop
    ldxh %r4, [%r6+20]
    be16 %r4
    and %r4, 0x3fff
    jne %r4, 0, drop
    mov %r7, 0
    ${sumWords}
    mov %r2, %r7
    rsh %r2, 16
    and %r7, 0xffff
    add %r7, %r2
    mov %r2, %r7
    rsh %r2, 16
    add %r7, %r2
    and %r7, 0xffff
    jne %r7, 0xffff, drop
    ldxb %r5, [%r6+23]
    jne %r5, 6, drop
    ldxw %r7, [%r6+26]
    be32 %r7
    ldxw %r8, [%r6+30]
    be32 %r8
    mov %r1, %r6
    add %r1, %r3
    ldxh %r2, [%r1+14]
    be16 %r2
    ldxh %r3, [%r1+16]
    be16 %r3
    mov %r9, 0
    ${tcpWords}
    ldxb %r4, [%r1+27]
    and %r4, 0x3f
    ldxb %r5, [%r1+26]
    rsh %r5, 4
    lsh %r5, 2
    jlt %r5, 20, drop
    mov %r0, %r7
    lsh %r0, 32
    or %r0, %r8
    mul %r0, 0x9e3779b1
    mov %r1, %r2
    lsh %r1, 16
    or %r1, %r3
    xor %r0, %r1
    mov %r1, %r0
    rsh %r1, 29
    xor %r0, %r1
    mul %r0, 0x45d9f3b
    mov %r1, %r0
    rsh %r1, 32
    xor %r0, %r1
    xor %r0, %r9
    jset %r4, 0x02, syn
    jset %r4, 0x01, fin
    and %r0, 0xffff
    exit
  syn:
    or %r0, 0x10000
    and %r0, 0x1ffff
    exit
  fin:
    or %r0, 0x20000
    and %r0, 0x2ffff
    exit
  drop:
    mov %r0, 0
    exit`;
  const frame = new Uint8Array(64);
  // Ethernet: dst, src, type 0x0800
  frame.set([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00], 0);
  // IPv4: ver/ihl 0x45, tos, total length 50, id, flags/frag 0x4000 (DF), ttl 64, proto 6, checksum, src, dst
  const ip = [0x45, 0x00, 0x00, 0x32, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1, 192, 168, 1, 20];
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i]! << 8) | ip[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const csum = ~sum & 0xffff;
  ip[10] = csum >> 8;
  ip[11] = csum & 0xff;
  frame.set(ip, 14);
  // TCP: ports 49152 -> 443, seq, ack, data offset 5, flags SYN
  frame.set([0xc0, 0x00, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0], 34);
  const insns = assemble(source(false));
  const kernel = [...xdpPrologue(true), ...assemble(source(true))];
  return { name: 'packet', description: `Ethernet/IPv4/TCP parser with header checksum, ${insns.length} insns`, insns, input: frame, kernel };
}

export function workloads(): Workload[] {
  return [aluMix(), stackTraffic(), packetParser()];
}

/** `tcpdump -dd -y EN10MB 'tcp port 80'` (tcpdump 4.99, libpcap 1.10), the classic filter of the capture workload. */
export const TCP_PORT_80_DD = `{ 0x28, 0, 0, 0x0000000c },
{ 0x15, 0, 6, 0x000086dd },
{ 0x30, 0, 0, 0x00000014 },
{ 0x15, 0, 15, 0x00000006 },
{ 0x28, 0, 0, 0x00000036 },
{ 0x15, 12, 0, 0x00000050 },
{ 0x28, 0, 0, 0x00000038 },
{ 0x15, 10, 11, 0x00000050 },
{ 0x15, 0, 10, 0x00000800 },
{ 0x30, 0, 0, 0x00000017 },
{ 0x15, 0, 8, 0x00000006 },
{ 0x28, 0, 0, 0x00000014 },
{ 0x45, 6, 0, 0x00001fff },
{ 0xb1, 0, 0, 0x0000000e },
{ 0x48, 0, 0, 0x0000000e },
{ 0x15, 2, 0, 0x00000050 },
{ 0x48, 0, 0, 0x00000010 },
{ 0x15, 0, 1, 0x00000050 },
{ 0x6, 0, 0, 0x00040000 },
{ 0x6, 0, 0, 0x00000000 },
`;

/** 1024 Ethernet frames for the capture workload: IPv4 TCP to and from port 80 and others, UDP, IPv6 TCP, ARP. */
export function capturePackets(): Uint8Array[] {
  const rnd = prng(11);
  const out: Uint8Array[] = [];
  for (let i = 0; i < 1024; i++) {
    const kind = i % 8;
    const payload = Math.floor(rnd() * 64);
    if (kind === 7) {
      out.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, ...new Array(28).fill(1)]));
      continue;
    }
    const v6 = kind === 6;
    const proto = kind === 5 ? 17 : 6;
    const sport = kind === 1 ? 80 : 1024 + Math.floor(rnd() * 60000);
    const dport = kind === 0 || kind === 6 ? 80 : kind === 1 ? 40000 : 1 + Math.floor(rnd() * 1000);
    const l4 = [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0, ...new Array(payload).fill(0x61)];
    const eth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    if (v6) {
      out.push(Uint8Array.from([...eth, 0x86, 0xdd, 0x60, 0, 0, 0, 0, l4.length, 6, 64, ...new Array(32).fill(0x20), ...l4]));
    } else {
      const ip = [0x45, 0, 0, 20 + l4.length, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
      out.push(Uint8Array.from([...eth, 0x08, 0x00, ...ip, ...l4]));
    }
  }
  return out;
}

/** `insns` with each `map[fd:N]` (an ld_imm64 of a map index N) naming the descriptor fds[N]. */
export function withMapFds(insns: readonly Instruction[], fds: readonly number[]): Instruction[] {
  return insns.map((i) => (isMapLoad(i) ? { ...i, imm: fds[i.imm]! } : i));
}

/** A map of the map-heavy workload: its index is the `map[fd:N]` the program names. */
export interface WorkloadMap {
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/**
 * The map-heavy workload: a socket filter keeping per-port and per-protocol
 * counters, as a traffic accounting tool does. For an IPv4 TCP/UDP packet it
 * looks up the source and the destination port in a hash map (inserting the
 * port with BPF_NOEXIST when it is new) and bumps its packet and byte
 * counters with XADD; every packet bumps its IP protocol's counter in an
 * array map. Three map lookups per run (each port block is 22 slots, which
 * the jumps around them count); `map[fd:0]` and `map[fd:1]` are the
 * maps' indexes, replaced by real descriptors when loaded.
 */
export const MAP_HEAVY = {
  name: 'map',
  description: 'per-port and per-protocol counters: 3 map lookups + XADDs per packet',
  maps: [
    { type: 'hash', keySize: 4, valueSize: 16, maxEntries: 2048 },
    { type: 'array', keySize: 4, valueSize: 8, maxEntries: 256 },
  ] as WorkloadMap[],
  source: `
    r6 = r1
    r7 = *(u32 *)(r6 +0)
    r0 = *(u16 *)skb[12]
    if r0 != 0x800 goto pc+${2 * 22 + 3}
    r0 = *(u8 *)skb[23]
    if r0 == 0x6 goto pc+1
    if r0 != 0x11 goto pc+${2 * 22}
${[34, 36].map((off) => `    r0 = *(u16 *)skb[${off}]
    *(u32 *)(r10 -8) = r0
    r1 = map[fd:0]
    r2 = r10
    r2 += -8
    call 1
    if r0 == 0x0 goto pc+4
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    lock *(u64 *)(r0 +8) += r7
    goto pc+10
    *(u64 *)(r10 -24) = 1
    *(u64 *)(r10 -16) = r7
    r1 = map[fd:0]
    r2 = r10
    r2 += -8
    r3 = r10
    r3 += -24
    r4 = 1
    call 2`).join('\n')}
    r0 = *(u8 *)skb[23]
    *(u32 *)(r10 -4) = r0
    r1 = map[fd:1]
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0x0 goto pc+2
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    r0 = r7
    exit`,
};
