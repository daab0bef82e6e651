/**
 * The optimiser and the final layout: a block graph to a classic program.
 *
 * Passes, repeated until nothing changes:
 * - jump threading: each block's statements give its tested value a name
 *   made of what it loads (`h[12]`, `h[x=msh[14]+16]`), which means the same
 *   thing wherever it appears, since the packet does not change. What is
 *   known on every path into a block (`h[12] == 0x86dd`, `b[23] != 6`, ...)
 *   decides some tests outright, and an edge into such a test goes straight
 *   to its outcome (`tcp port 80` tests the Ethernet type once per path);
 * - a test whose two edges meet is dropped;
 * - identical blocks (same statements, test and successors) are merged, as
 *   libpcap merges the arp and rarp tails of `host X`.
 * Then the layout: blocks in an order where every jump goes forward, and a
 * load is dropped where every path into it already left that value in A
 * (or X, or the scratch cell). Blocks no path reaches are never laid out.
 */

import { BpfError } from '../errors.js';
import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_JMP, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN,
  BPF_MEM, BPF_MSH, BPF_NEG, BPF_RET, BPF_ST, BPF_STX, BPF_X,
} from '../isa/opcodes.js';
import type { SockFilter } from '../cbpf/parse.js';
import type { Block, Leaf, Node } from './blocks.js';

interface State {
  a: string;
  x: string;
  m: Map<number, string>;
}

let unknowns = 0;
const unknown = (): string => `?${unknowns++}`;
const fresh = (): State => ({ a: unknown(), x: unknown(), m: new Map() });

/** Run one statement symbolically; true when it changed nothing (so it may be dropped). */
function step(s: State, p: SockFilter): boolean {
  const cls = p.code & 0x07;
  const size = ['w', 'h', 'b', '?'][(p.code >> 3) & 3]!;
  const mode = p.code & 0xe0;
  let v: string;
  switch (cls) {
    case BPF_LD:
      if (mode === BPF_ABS) v = `${size}[${p.k}]`;
      else if (mode === BPF_IND) v = `${size}[x=${s.x}+${p.k}]`;
      else if (mode === BPF_IMM) v = `#${p.k}`;
      else if (mode === BPF_LEN) v = 'len';
      else if (mode === BPF_MEM) v = s.m.get(p.k) ?? unknown();
      else v = unknown();
      if (s.a === v) return true;
      s.a = v;
      return false;
    case BPF_LDX:
      if (mode === BPF_MSH) v = `msh[${p.k}]`;
      else if (mode === BPF_IMM) v = `#${p.k}`;
      else if (mode === BPF_LEN) v = 'len';
      else if (mode === BPF_MEM) v = s.m.get(p.k) ?? unknown();
      else v = unknown();
      if (s.x === v) return true;
      s.x = v;
      return false;
    case BPF_ST:
    case BPF_STX: {
      const val = cls === BPF_ST ? s.a : s.x;
      if (s.m.get(p.k) === val) return true;
      s.m.set(p.k, val);
      return false;
    }
    case BPF_ALU:
      if ((p.code & 0xf0) === BPF_NEG) s.a = `-(${s.a})`;
      else s.a = `(${s.a} ${p.code & 0xf0} ${(p.code & BPF_X) ? s.x : `#${p.k}`})`;
      return false;
    default: // misc: tax 0x07, txa 0x87
      if (p.code === 0x07) {
        if (s.x === s.a) return true;
        s.x = s.a;
      } else {
        if (s.a === s.x) return true;
        s.a = s.x;
      }
      return false;
  }
}

/** The name of the value a block tests (its statements run from nothing known). */
function testedValue(b: Block): string {
  const s = fresh();
  for (const p of b.stmts) step(s, p);
  return s.a;
}

interface Fact {
  v: string;
  code: number;
  k: number;
  out: boolean;
}

const factKey = (f: Fact): string => `${f.v}|${f.code}|${f.k}|${f.out ? 1 : 0}`;

/**
 * Does what `f` says of value v decide the test `code #k` on the same value?
 * Only as libpcap's optimiser decides it (fold_edge): the same test gives
 * the same outcome, and after `v == a` was true, `v == b` is false. Deciding
 * more (ranges, bit masks) would make shorter programs, but also refuse as
 * "rejects all packets" expressions tcpdump accepts (`not len > 30 and
 * len > 31`), and the refusals should be libpcap's.
 */
function decide(f: Fact, code: number, k: number): boolean | null {
  if (f.code !== code) return null;
  if (f.k === k) return f.out;
  if (f.out && (code & 0xf0) === BPF_JEQ) return false;
  return null;
}

function blocksFrom(root: Node): Block[] {
  // reverse postorder: every edge goes forward in the result
  const seen = new Set<Block>();
  const post: Block[] = [];
  const visit = (n: Node | null): void => {
    if (n === null || n.kind !== 'block' || seen.has(n)) return;
    seen.add(n);
    visit(n.jt);
    visit(n.jf);
    post.push(n);
  };
  visit(root);
  return post.reverse();
}

/** One round of threading; true when an edge moved. */
function thread(root: Node, values: Map<Block, string>): boolean {
  const order = blocksFrom(root);
  const entry = new Map<Block, Map<string, Fact> | null>();
  if (root.kind === 'block') entry.set(root, new Map());
  const valueOf = (b: Block): string => {
    let v = values.get(b);
    if (v === undefined) {
      v = testedValue(b);
      values.set(b, v);
    }
    return v;
  };
  for (const b of order) {
    const facts = entry.get(b) ?? new Map<string, Fact>();
    const v = valueOf(b);
    const known = (b.code & BPF_X) === 0;
    for (const side of ['jt', 'jf'] as const) {
      const edge = new Map(facts);
      if (known) {
        const f = { v, code: b.code, k: b.k, out: side === 'jt' };
        edge.set(factKey(f), f);
      }
      let target = b[side]!;
      for (;;) {
        if (target.kind !== 'block' || (target.code & BPF_X) !== 0) break;
        const tv = valueOf(target);
        let outcome: boolean | null = null;
        for (const f of edge.values()) {
          if (f.v !== tv) continue;
          outcome = decide(f, target.code, target.k);
          if (outcome !== null) break;
        }
        if (outcome === null) break;
        const f = { v: tv, code: target.code, k: target.k, out: outcome };
        edge.set(factKey(f), f);
        target = outcome ? target.jt! : target.jf!;
      }
      if (target !== b[side]) {
        b[side] = target;
        return true;
      }
      if (target.kind === 'block') {
        const prev = entry.get(target);
        if (prev === undefined) entry.set(target, edge);
        else if (prev !== null) {
          for (const key of [...prev.keys()]) if (!edge.has(key)) prev.delete(key);
        }
      }
    }
  }
  return false;
}

/** Drop tests whose edges meet, merge identical blocks; true when something changed. */
function simplify(root: { node: Node }): boolean {
  let changed = false;
  const order = blocksFrom(root.node);
  const canon = new Map<string, Block>();
  const repl = new Map<Node, Node>();
  const resolve = (n: Node): Node => {
    let cur = n;
    while (repl.has(cur)) cur = repl.get(cur)!;
    return cur;
  };
  const leafKey = (n: Node): string => (n.kind === 'ret' ? `r${n.k}` : `b${n.id}`);
  for (const b of [...order].reverse()) {
    b.jt = resolve(b.jt!);
    b.jf = resolve(b.jf!);
    if (b.jt === b.jf) {
      repl.set(b, b.jt);
      changed = true;
      continue;
    }
    const key = `${b.stmts.map((p) => `${p.code},${p.k}`).join(';')}|${b.code},${b.k}|${leafKey(b.jt)}|${leafKey(b.jf)}`;
    const other = canon.get(key);
    if (other !== undefined) {
      repl.set(b, other);
      changed = true;
    } else {
      canon.set(key, b);
    }
  }
  root.node = resolve(root.node);
  return changed;
}

/** Threading, pruning and merging to a fixed point (bounded). */
export function optimize(root: Node): Node {
  const r = { node: root };
  // `and #m; jeq #0` is `jset #m` with the edges swapped, one instruction shorter
  for (const b of blocksFrom(root)) {
    const last = b.stmts[b.stmts.length - 1];
    if (last !== undefined && last.code === (BPF_ALU | BPF_AND | BPF_K) && b.code === (BPF_JMP | BPF_JEQ | BPF_K) && b.k === 0) {
      b.stmts = b.stmts.slice(0, -1);
      b.code = BPF_JMP | BPF_JSET | BPF_K;
      b.k = last.k;
      [b.jt, b.jf] = [b.jf, b.jt];
    }
  }
  const values = new Map<Block, string>();
  for (let round = 0; round < 10000; round++) {
    const moved = thread(r.node, values);
    const merged = simplify(r);
    if (!moved && !merged) break;
  }
  return r.node;
}

/** The classic program of a block graph; loads that leave every register as it was are dropped. */
export function layout(root: Node, dropRedundant = true): SockFilter[] {
  const order = blocksFrom(root);
  // entry states: the meet over the edges into each block
  const entry = new Map<Block, State>();
  const outState = new Map<Block, State>();
  const kept = new Map<Block, SockFilter[]>();
  if (root.kind === 'block') entry.set(root, fresh());
  const meet = (a: State, b: State): State => {
    const m = new Map<number, string>();
    for (const [k, v] of a.m) if (b.m.get(k) === v) m.set(k, v);
    return { a: a.a === b.a ? a.a : unknown(), x: a.x === b.x ? a.x : unknown(), m };
  };
  for (const b of order) {
    const s0 = entry.get(b) ?? fresh();
    const s: State = { a: s0.a, x: s0.x, m: new Map(s0.m) };
    const stmts: SockFilter[] = [];
    for (const p of b.stmts) if (!step(s, p) || !dropRedundant) stmts.push(p);
    kept.set(b, stmts);
    outState.set(b, s);
    for (const n of [b.jt!, b.jf!]) {
      if (n.kind !== 'block') continue;
      const prev = entry.get(n);
      entry.set(n, prev === undefined ? { a: s.a, x: s.x, m: new Map(s.m) } : meet(prev, s));
    }
  }
  // positions: blocks in order, then the returns
  const leaves: Leaf[] = [];
  const leafOf = (n: Node): void => {
    if (n.kind === 'ret' && !leaves.some((l) => l.k === n.k)) leaves.push(n);
  };
  if (root.kind === 'ret') leafOf(root);
  for (const b of order) {
    leafOf(b.jt!);
    leafOf(b.jf!);
  }
  leaves.sort((a, b) => b.k - a.k);
  const start = new Map<Block, number>();
  let pc = 0;
  for (const b of order) {
    start.set(b, pc);
    pc += kept.get(b)!.length + 1;
  }
  const leafPc = new Map<number, number>();
  for (const l of leaves) leafPc.set(l.k, pc++);
  const target = (n: Node): number => (n.kind === 'ret' ? leafPc.get(n.k)! : start.get(n)!);
  const out: SockFilter[] = [];
  for (const b of order) {
    out.push(...kept.get(b)!.map((p) => ({ ...p })));
    const at = out.length;
    const jt = target(b.jt!) - at - 1;
    const jf = target(b.jf!) - at - 1;
    if (jt > 255 || jf > 255) throw new BpfError('E2BIG', 'the filter is too large: a jump would span more than 255 instructions');
    out.push({ code: b.code, jt, jf, k: b.k });
  }
  for (const l of leaves) out.push({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: l.k });
  return out;
}

