/**
 * The native baseline of the benchmark: an eBPF program transliterated
 * statement by statement into C, the way a JIT translates it. Registers are
 * uint64_t locals the C compiler may optimise freely; each eBPF load and
 * store stays one machine load or store (through a volatile pointer), as in
 * the kernel's JIT output. Covers what the benchmark workloads use: ALU and
 * ALU64, byte swaps, ld_imm64 (map references become `&maps[N]`),
 * LD_ABS/LD_IND with non-negative offsets, LDX/ST/STX, XADD, helper calls
 * (`helper_N(r1..r5)`, see MAPS_C), JA/JMP/JMP32 and EXIT.
 */

import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { constant64, isExit, isHelperCall, isLdImm64, isMapLoad, slotCount } from '../isa/instruction.js';
import {
  BPF_ALU, BPF_ALU64, BPF_CLASS, BPF_JMP, BPF_JMP32, BPF_LDX, BPF_OP, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX,
  BPF_X, sizeBytes,
} from '../isa/opcodes.js';

const ALU_C: Record<number, string> = { 0x00: '+', 0x10: '-', 0x20: '*', 0x40: '|', 0x50: '&', 0xa0: '^', 0x60: '<<', 0x70: '>>' };
const JMP_C: Record<number, [string, boolean]> = {
  0x10: ['==', false], 0x50: ['!=', false], 0x20: ['>', false], 0x30: ['>=', false], 0xa0: ['<', false], 0xb0: ['<=', false],
  0x60: ['>', true], 0x70: ['>=', true], 0xc0: ['<', true], 0xd0: ['<=', true],
};

/**
 * `uint64_t NAME(uint8_t *ctx, uint64_t len, const uint8_t *pkt)`: r1 = ctx,
 * r2 = len, and LD_ABS/LD_IND read `len` bytes at `pkt`.
 */
export function toC(name: string, insns: readonly Instruction[]): string {
  const lines: string[] = [];
  const slotOf: number[] = [];
  let slot = 0;
  for (const i of insns) {
    slotOf.push(slot);
    slot += slotCount(i);
  }
  lines.push(`__attribute__((noinline)) uint64_t ${name}(uint8_t *ctx, uint64_t len, const uint8_t *pkt) {`);
  lines.push('  uint64_t stack[64];');
  lines.push('  uint64_t r0 = 0, r1 = (uint64_t)(uintptr_t)ctx, r2 = len, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0, r8 = 0, r9 = 0;');
  lines.push('  uint64_t r10 = (uint64_t)(uintptr_t)(stack + 64);');
  insns.forEach((insn, idx) => {
    const pc = slotOf[idx]!;
    const d = `r${insn.dst}`;
    const s = `r${insn.src}`;
    const cls = BPF_CLASS(insn.code);
    const op = BPF_OP(insn.code);
    const x = BPF_SRC(insn.code) === BPF_X;
    let stmt: string;
    if (isMapLoad(insn)) stmt = `${d} = (uint64_t)(uintptr_t)&maps[${insn.imm}];`;
    else if (isLdImm64(insn)) stmt = `${d} = 0x${constant64(insn).toString(16)}ull;`;
    else if ((insn.code & 0xe7) === 0x20 || (insn.code & 0xe7) === 0x40) {
      // LD_ABS / LD_IND: out of bounds ends the program with 0
      const size = sizeBytes(BPF_SIZE(insn.code));
      const k = (insn.code & 0xe0) === 0x40 ? `(uint32_t)((int32_t)${s} + ${insn.imm})` : `${insn.imm >>> 0}u`;
      const load = size === 4 ? '__builtin_bswap32(*(volatile uint32_t *)(pkt + k))' : size === 2 ? '__builtin_bswap16(*(volatile uint16_t *)(pkt + k))' : '*(volatile uint8_t *)(pkt + k)';
      stmt = `{ uint32_t k = ${k}; if (k > len || len - k < ${size}) return 0; r0 = ${load}; }`;
    } else if (isHelperCall(insn)) stmt = `r0 = helper_${insn.imm}(r1, r2, r3, r4, r5);`;
    else if ((insn.code === 0xdb || insn.code === 0xc3) && insn.imm === 0) {
      const ty = insn.code === 0xdb ? 'uint64_t' : 'uint32_t';
      stmt = `__atomic_fetch_add((${ty} *)(uintptr_t)(${d} + ${insn.off}), (${ty})${s}, __ATOMIC_RELAXED);`;
    }
    else if (cls === BPF_ALU64 || cls === BPF_ALU) {
      const is64 = cls === BPF_ALU64;
      const src = x ? (is64 ? s : `(uint32_t)${s}`) : is64 ? `(uint64_t)(int64_t)${insn.imm}` : `(uint32_t)${insn.imm}`;
      const dst = is64 ? d : `(uint32_t)${d}`;
      const wrap = (e: string): string => (is64 ? `${d} = ${e};` : `${d} = (uint32_t)(${e});`);
      if (op === 0xd0) {
        const w = insn.imm;
        const swap = insn.code === 0xd4 ? (w === 64 ? d : `(uint${w}_t)${d}`) : w === 16 ? `__builtin_bswap16((uint16_t)${d})` : `__builtin_bswap${w}((uint${w}_t)${d})`;
        stmt = `${d} = ${swap};`;
      } else if (op === 0xb0) stmt = wrap(src);
      else if (op === 0x80) stmt = wrap(`-${dst}`);
      else if (op === 0xc0) stmt = is64 ? `${d} = (uint64_t)((int64_t)${d} >> (${src} & 63));` : `${d} = (uint32_t)((int32_t)${dst} >> (${src} & 31));`;
      else if (op === 0x60 || op === 0x70) stmt = wrap(`${dst} ${ALU_C[op]} (${src} & ${is64 ? 63 : 31})`);
      else if (op === 0x30) stmt = wrap(`${src} ? ${dst} / ${src} : 0`);
      else if (op === 0x90) stmt = wrap(`${src} ? ${dst} % ${src} : ${dst}`);
      else stmt = wrap(`${dst} ${ALU_C[op]} ${src}`);
    } else if (cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) {
      const bits = sizeBytes(BPF_SIZE(insn.code)) * 8;
      const base = cls === BPF_LDX ? s : d;
      const mem = `*(volatile uint${bits}_t *)(uintptr_t)(${base} + ${insn.off})`;
      if (cls === BPF_LDX) stmt = `${d} = ${mem};`;
      else stmt = `${mem} = ${cls === BPF_STX ? s : `(uint${bits}_t)${insn.imm}`};`;
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      const target = `L${pc + insn.off + 1}`;
      if (isExit(insn)) stmt = 'return r0;';
      else if (insn.code === 0x05) stmt = `goto ${target};`;
      else {
        const is32 = cls === BPF_JMP32;
        const ty = JMP_C[op];
        const t = is32 ? 'int32_t' : 'int64_t';
        const u = is32 ? 'uint32_t' : 'uint64_t';
        const a = ty?.[1] ? `(${t})${d}` : `(${u})${d}`;
        const bRaw = x ? s : `(uint64_t)(int64_t)${insn.imm}`;
        const b = ty?.[1] ? `(${t})${bRaw}` : `(${u})${bRaw}`;
        if (op === 0x40) stmt = `if ((${u})${d} & (${u})${bRaw}) goto ${target};`;
        else if (ty) stmt = `if (${a} ${ty[0]} ${b}) goto ${target};`;
        else throw new BpfError('EINVAL', `insn ${pc}: the C baseline has no translation for opcode 0x${insn.code.toString(16)}`);
      }
    } else {
      throw new BpfError('EINVAL', `insn ${pc}: the C baseline has no translation for opcode 0x${insn.code.toString(16)}`);
    }
    lines.push(`L${pc}: ${stmt}`);
  });
  lines.push(`L${slot}: return r0;`);
  lines.push('}');
  return lines.join('\n');
}

/**
 * Helpers 1-3 for the C baseline over C versions of 3.19's maps: the hash
 * map hashes keys with the same jhash into power-of-two buckets with head
 * insertion and preallocated elements; the array map is a bounds-checked
 * index. Single-threaded, as the benchmark is.
 */
export const MAPS_C = `
#include <string.h>
struct map { int type; uint32_t key_size, value_size, max_entries, n_buckets, count, free_top, elem_size;
  int32_t *heads, *next, *free_stack; uint32_t *hashes; uint8_t *elems; };
static struct map maps[8];
static inline uint32_t rol32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t jhash(const uint8_t *k, uint32_t length) {
  uint32_t a, b, c; a = b = c = 0xdeadbeef + length;
  while (length > 12) {
    uint32_t w[3]; memcpy(w, k, 12); a += w[0]; b += w[1]; c += w[2];
    a -= c; a ^= rol32(c, 4); c += b; b -= a; b ^= rol32(a, 6); a += c;
    c -= b; c ^= rol32(b, 8); b += a; a -= c; a ^= rol32(c, 16); c += b;
    b -= a; b ^= rol32(a, 19); a += c; c -= b; c ^= rol32(b, 4); b += a;
    length -= 12; k += 12;
  }
  if (length == 0) return c;
  for (int i = (int)length - 1; i >= 0; i--) {
    uint32_t v = (uint32_t)k[i] << ((i & 3) * 8);
    if (i >= 8) c += v; else if (i >= 4) b += v; else a += v;
  }
  c ^= b; c -= rol32(b, 14); a ^= c; a -= rol32(c, 11); b ^= a; b -= rol32(a, 25);
  c ^= b; c -= rol32(b, 16); a ^= c; a -= rol32(c, 4); b ^= a; b -= rol32(a, 14);
  c ^= b; c -= rol32(b, 24);
  return c;
}
static void map_init(struct map *m, int type, uint32_t key_size, uint32_t value_size, uint32_t max_entries) {
  m->type = type; m->key_size = key_size; m->value_size = value_size; m->max_entries = max_entries;
  m->elem_size = ((key_size + 7) & ~7u) + ((value_size + 7) & ~7u);
  if (type == 2) { m->elems = calloc(max_entries, (value_size + 7) & ~7u); return; }
  m->n_buckets = 1; while (m->n_buckets < max_entries) m->n_buckets <<= 1;
  m->heads = malloc(4 * m->n_buckets); for (uint32_t i = 0; i < m->n_buckets; i++) m->heads[i] = -1;
  m->next = malloc(4 * max_entries); m->hashes = malloc(4 * max_entries); m->free_stack = malloc(4 * max_entries);
  m->elems = calloc(max_entries, m->elem_size);
  for (uint32_t i = 0; i < max_entries; i++) m->free_stack[i] = (int32_t)(max_entries - 1 - i);
  m->free_top = max_entries; m->count = 0;
}
static int32_t hash_find(struct map *m, const uint8_t *key, uint32_t h) {
  for (int32_t i = m->heads[h & (m->n_buckets - 1)]; i >= 0; i = m->next[i])
    if (m->hashes[i] == h && memcmp(m->elems + (size_t)i * m->elem_size, key, m->key_size) == 0) return i;
  return -1;
}
static uint64_t helper_1(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5) {
  struct map *m = (struct map *)(uintptr_t)r1; const uint8_t *key = (const uint8_t *)(uintptr_t)r2;
  if (m->type == 2) { uint32_t i; memcpy(&i, key, 4); return i < m->max_entries ? (uint64_t)(uintptr_t)(m->elems + (size_t)i * ((m->value_size + 7) & ~7u)) : 0; }
  int32_t i = hash_find(m, key, jhash(key, m->key_size));
  return i < 0 ? 0 : (uint64_t)(uintptr_t)(m->elems + (size_t)i * m->elem_size + ((m->key_size + 7) & ~7u));
}
static uint64_t helper_2(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5) {
  struct map *m = (struct map *)(uintptr_t)r1; const uint8_t *key = (const uint8_t *)(uintptr_t)r2; const uint8_t *val = (const uint8_t *)(uintptr_t)r3;
  uint32_t kr = (m->key_size + 7) & ~7u;
  if (m->type == 2) { uint32_t i; memcpy(&i, key, 4); if (i >= m->max_entries) return (uint64_t)-7; if (r4 == 1) return (uint64_t)-17;
    memcpy(m->elems + (size_t)i * ((m->value_size + 7) & ~7u), val, m->value_size); return 0; }
  uint32_t h = jhash(key, m->key_size); int32_t old = hash_find(m, key, h);
  if (old < 0 && m->count >= m->max_entries) return (uint64_t)-7;
  if (old >= 0 && r4 == 1) return (uint64_t)-17;
  if (old < 0 && r4 == 2) return (uint64_t)-2;
  if (old >= 0) { memcpy(m->elems + (size_t)old * m->elem_size + kr, val, m->value_size); return 0; }
  int32_t i = m->free_stack[--m->free_top]; uint8_t *e = m->elems + (size_t)i * m->elem_size;
  memcpy(e, key, m->key_size); memcpy(e + kr, val, m->value_size);
  m->hashes[i] = h; uint32_t b = h & (m->n_buckets - 1); m->next[i] = m->heads[b]; m->heads[b] = i; m->count++;
  return 0;
}
`;
