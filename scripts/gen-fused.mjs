#!/usr/bin/env node
/**
 * Generates the superinstructions of the interpreter's fast path
 * (src/vm/interpreter.ts, between the GENERATED markers): one switch case
 * for every ordered pair of the fusable kinds below, which runs both
 * instructions of two consecutive slots in one dispatch.
 *
 * The kinds are a fixed, workload-independent set of simple instructions
 * that cannot transfer control: LDX and STX of every size and the byte
 * swaps to big endian. Only two kind-group pairs are fused, the ones that
 * measurably paid (see PAIR_GROUPS); each fused case takes an opcode byte
 * no instruction uses, so the switch stays one 256-entry jump table.
 *
 * Usage: node scripts/gen-fused.mjs          rewrite the regions
 *        node scripts/gen-fused.mjs --check  exit 1 when they are out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../src/vm/interpreter.ts', import.meta.url));
const SRC = readFileSync(FILE, 'utf8');

/** Opcode bytes with a case of their own in the interpreter's switch (outside the generated region). */
const TAKEN = (() => {
  const loop = SRC.slice(SRC.indexOf('private loopInner'), SRC.indexOf('// ---- BEGIN GENERATED: fused cases'));
  return new Set([...loop.matchAll(/case 0x([0-9a-f]+):/g)].map((m) => parseInt(m[1], 16)));
})();
const FREE = [];
for (let c = 1; c < 0xff; c++) if (!TAKEN.has(c)) FREE.push(c); // 0 marks "not fused" in FUSED_PAIR_KEY
const keyOf = (n) => {
  if (n >= FREE.length) throw new Error(`${PAIRS.length} fused pairs, only ${FREE.length} free opcode bytes`);
  return FREE[n];
};

// Each kind: name, the predecoded opcode bytes (and condition) it matches,
// which operands it reads besides dst (`b` the source register index, `off`),
// and its body over a (dst index), b, off and the temporaries t, u.
// The bodies must read every operand before writing dst (dst may equal src).
const KINDS = [
  { name: 'be16', group: 'swap', codes: [0xdc, 0xd7], cond: 'imm === 16', body: [
    't = RL[a]!;',
    'RL[a] = ((t & 0xff) << 8) | ((t >>> 8) & 0xff);',
    'RH[a] = 0;'] },
  { name: 'be32', group: 'swap', codes: [0xdc, 0xd7], cond: 'imm === 32', body: [
    't = RL[a]!;',
    'RL[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);',
    'RH[a] = 0;'] },
  { name: 'be64', group: 'swap', codes: [0xdc, 0xd7], cond: 'imm === 64', body: [
    't = RL[a]!;',
    'u = RH[a]!;',
    'RL[a] = ((u & 0xff) << 24) | ((u & 0xff00) << 8) | ((u >>> 8) & 0xff00) | (u >>> 24);',
    'RH[a] = ((t & 0xff) << 24) | ((t & 0xff00) << 8) | ((t >>> 8) & 0xff00) | (t >>> 24);'] },
  { name: 'ldxw', group: 'load', codes: [0x61], b: true, off: true, body: [
    'addr = (RL[b]! >>> 0) + off;', 'RL[a] = dv.getInt32(addr, true);', 'RH[a] = 0;'] },
  { name: 'ldxh', group: 'load', codes: [0x69], b: true, off: true, body: [
    'addr = (RL[b]! >>> 0) + off;', 'RL[a] = dv.getUint16(addr, true);', 'RH[a] = 0;'] },
  { name: 'ldxb', group: 'load', codes: [0x71], b: true, off: true, body: [
    'addr = (RL[b]! >>> 0) + off;', 'RL[a] = u8[addr]!;', 'RH[a] = 0;'] },
  { name: 'ldxdw', group: 'load', codes: [0x79], b: true, off: true, body: [
    'addr = (RL[b]! >>> 0) + off;', 'RL[a] = dv.getInt32(addr, true);', 'RH[a] = dv.getInt32(addr + 4, true);'] },
  { name: 'stxw', group: 'store', codes: [0x63], b: true, off: true, body: [
    'addr = (RL[a]! >>> 0) + off;', 'dv.setInt32(addr, RL[b]!, true);'] },
  { name: 'stxh', group: 'store', codes: [0x6b], b: true, off: true, body: [
    'addr = (RL[a]! >>> 0) + off;', 'dv.setInt16(addr, RL[b]!, true);'] },
  { name: 'stxb', group: 'store', codes: [0x73], b: true, off: true, body: [
    'addr = (RL[a]! >>> 0) + off;', 'u8[addr] = RL[b]!;'] },
  { name: 'stxdw', group: 'store', codes: [0x7b], b: true, off: true, body: [
    'addr = (RL[a]! >>> 0) + off;', 'dv.setInt32(addr, RL[b]!, true);', 'dv.setInt32(addr + 4, RH[b]!, true);'] },
];

/**
 * The fused pairs: every (first, second) with first in group g1 and second
 * in group g2, for each [g1, g2] here. Measured and dropped:
 * - 64-bit ALU x ALU pairs (9 x 9 kinds, the immediate forms reading a
 *   constant pool kept past the registers in RL/RH): with mul and the shifts
 *   called as functions, TurboFan's inlining budget ran out and the loop
 *   spilled pc, a net loss; with them written out, the ALU mix gained 9%,
 *   the packet parser lost 5-8%, and the loop's bytecode grew from 24 KB to
 *   51 KB, close to TurboFan's 60 KB limit;
 * - load + store: no measurable gain;
 * - mov + 64-bit ALU, clang's form of a three-address operation
 *   (`rA = rB; rA op= x`, 122 of the 1061 instructions the ALU workload
 *   runs), both as generated pairs and as hand-written `rA = rB op x`
 *   cases: no measurable gain (ALU best of 6 processes 2710 vs 2715 ns).
 *   That workload is bound by indirect-branch mispredictions, not by the
 *   number of dispatches: a random sequence of two branch-free kinds
 *   (xor, or) costs about 7 ns per instruction, one kind repeated 1.5 ns.
 * test/interp-fusion keeps the loop under 45 KB.
 */
const PAIR_GROUPS = [
  ['load', 'swap'], // network-order loads
  ['store', 'load'], // spill then fill
];

const PAIRS = [];
KINDS.forEach((k1, n1) => KINDS.forEach((k2, n2) => {
  if (PAIR_GROUPS.some(([g1, g2]) => k1.group === g1 && k2.group === g2)) PAIRS.push([k1, n1, k2, n2]);
}));
// Kinds that appear in no pair need no number.
const USED = KINDS.filter((k) => PAIRS.some(([k1, , k2]) => k1 === k || k2 === k));

function kindsRegion(ind) {
  const out = [];
  const num = new Map(USED.map((k, n) => [k, n]));
  out.push(`${ind}/** Number of fusable kinds; fusedKind() numbers them 0 .. FUSED_KINDS - 1. */`);
  out.push(`${ind}const FUSED_KINDS = ${USED.length};`);
  out.push(`${ind}/** Names of the fusable kinds, by number. */`);
  out.push(`${ind}export const FUSED_KIND_NAMES: readonly string[] = [${USED.map((k) => `'${k.name}'`).join(', ')}];`);
  out.push(`${ind}/** Key of the fused case for kinds (k1, k2) at [k1 * FUSED_KINDS + k2], or 0 when the pair is not fused. */`);
  const table = new Array(USED.length * USED.length).fill(0);
  PAIRS.forEach(([k1, , k2], n) => { table[num.get(k1) * USED.length + num.get(k2)] = keyOf(n); });
  const rows = [];
  for (let r = 0; r < USED.length; r++) rows.push(table.slice(r * USED.length, (r + 1) * USED.length).join(', '));
  out.push(`${ind}/** The keys of the fused cases. */`);
  out.push(`${ind}export const FUSED_KEYS: ReadonlySet<number> = new Set([${PAIRS.map((_, n) => keyOf(n)).join(', ')}]);`);
  out.push(`${ind}const FUSED_PAIR_KEY = new Uint16Array([`);
  for (const row of rows) out.push(`${ind}  ${row},`);
  out.push(`${ind}]);`);
  out.push(`${ind}/** The fusable kind of a fast-mode predecoded instruction (key = opcode byte), or -1. */`);
  out.push(`${ind}function fusedKind(key: number, off: number, imm: number): number {`);
  out.push(`${ind}  switch (key) {`);
  const byCode = new Map();
  for (const k of USED) {
    for (const c of k.codes) {
      if (!byCode.has(c)) byCode.set(c, []);
      byCode.get(c).push(k);
    }
  }
  for (const [c, ks] of [...byCode].sort((x, y) => x[0] - y[0])) {
    let expr = ks.map((k) => (k.cond ? `${k.cond} ? ${num.get(k)} : ` : `${num.get(k)}`)).join('');
    if (ks[ks.length - 1].cond) expr += '-1';
    out.push(`${ind}    case 0x${c.toString(16).padStart(2, '0')}: return ${expr};`);
  }
  out.push(`${ind}    default: return -1;`);
  out.push(`${ind}  }`);
  out.push(`${ind}}`);
  return out;
}

function casesRegion(ind) {
  const out = [];
  PAIRS.forEach(([k1, , k2], n) => {
    out.push(`${ind}case 0x${keyOf(n).toString(16).padStart(2, '0')}: // ${k1.name} + ${k2.name}`);
    for (const l of k1.body) out.push(`${ind}  ${l}`);
    // The second instruction is slot pc + 1, intact: its fields come from there,
    // and pc names it while it runs (a fault reports its pc).
    const reload = ['pc = (pc + 1) | 0;', 'w = PW[pc]!;', 'a = (w >> 8) & 0xf;'];
    if (k2.b) reload.push('b = (w >> 12) & 0xf;');
    if (k2.off) reload.push('off = w >> 16;');
    out.push(`${ind}  ${reload.join(' ')}`);
    for (const l of k2.body) out.push(`${ind}  ${l}`);
    out.push(`${ind}  break;`);
  });
  return out;
}

function replaceRegion(text, name, lines) {
  const begin = `// ---- BEGIN GENERATED: ${name} (scripts/gen-fused.mjs; do not edit) ----`;
  const end = `// ---- END GENERATED: ${name} ----`;
  const bi = text.indexOf(begin);
  const ei = text.indexOf(end);
  if (bi < 0 || ei < bi) throw new Error(`${FILE}: no region '${name}'`);
  const lineStart = text.lastIndexOf('\n', bi) + 1;
  const ind = text.slice(lineStart, bi);
  return text.slice(0, bi + begin.length) + '\n' + lines(ind).join('\n') + '\n' + ind + text.slice(ei);
}

const before = readFileSync(FILE, 'utf8');
let after = replaceRegion(before, 'fusable kinds', kindsRegion);
after = replaceRegion(after, 'fused cases', casesRegion);
if (process.argv.includes('--check')) {
  if (after !== before) {
    process.stderr.write(`${FILE}: the generated regions are out of date; run node scripts/gen-fused.mjs\n`);
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(FILE, after);
}
