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
 *   libpcap merges the arp and rarp tails of `host X`;
 * - when nothing else changes, a test moves up an or-chain (and-chain) next
 *   to an earlier test of the same value, as libpcap's or_pullup moves it:
 *   the load is then shared, and the order of loads (which decides the
 *   verdict on a frame cut short between them) is libpcap's;
 * - when that changes nothing either, an edge into a part of the graph
 *   where every path rejects (given what the edge knows) goes straight to
 *   `ret #0`, and a test one side of which rejects goes when the other side
 *   would reject those frames too (rejectPaths: `port 53 and udp` becomes
 *   `udp port 53`).
 * Then the final graph (finalGraph, shared with the eBPF back end): a load
 * is dropped where every path into it already left that value in A (or X,
 * or the scratch cell), and blocks whose remaining code and successors are
 * the same are merged; then the layout, blocks in an order where every jump
 * goes forward. Blocks no path reaches are never laid out.
 */

import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JMP, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN,
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

/**
 * What is known of one named value on a path: the set it is in (after
 * `v == k` was true, or one of several), the constants it is not (after
 * `v == k` was false), and the outcomes of other tests of it (`jgt #k`,
 * `jset #m`), which decide only the same test again, as libpcap's fold_edge.
 * Deciding more of the ordered tests (ranges) would refuse as "rejects all
 * packets" expressions tcpdump accepts (`not len > 30 and len > 31`).
 */
interface Known {
  in?: Set<number>;
  out: Set<number>;
  tests: Map<string, boolean>;
}

type Facts = Map<string, Known>;

function learn(facts: Facts, v: string, code: number, k: number, outcome: boolean): Facts {
  const next = new Map(facts);
  const old = facts.get(v);
  const kn: Known = { out: new Set(old?.out), tests: new Map(old?.tests) };
  if (old?.in !== undefined) kn.in = new Set(old.in);
  if ((code & 0xf0) === BPF_JEQ && (code & BPF_X) === 0) {
    if (outcome) kn.in = new Set(kn.in === undefined || kn.in.has(k) ? [k] : []);
    else {
      kn.out.add(k);
      kn.in?.delete(k);
    }
  } else {
    kn.tests.set(`${code}|${k}`, outcome);
  }
  next.set(v, kn);
  return next;
}

/** What holds on both of two paths. */
function meet(a: Facts, b: Facts): Facts {
  const out: Facts = new Map();
  for (const [v, x] of a) {
    const y = b.get(v);
    if (y === undefined) continue;
    const kn: Known = { out: new Set(), tests: new Map() };
    if (x.in !== undefined && y.in !== undefined) kn.in = new Set([...x.in, ...y.in]);
    // a side that knows the set it is in excludes everything else
    const excluded = (s: Known, k: number): boolean => (s.in !== undefined ? !s.in.has(k) : s.out.has(k));
    for (const k of new Set([...x.out, ...y.out])) if (excluded(x, k) && excluded(y, k)) kn.out.add(k);
    for (const [t, o] of x.tests) if (y.tests.get(t) === o) kn.tests.set(t, o);
    if (kn.in !== undefined || kn.out.size > 0 || kn.tests.size > 0) out.set(v, kn);
  }
  return out;
}

/** The outcome of `code #k` on value v, if the facts decide it. */
function decide(facts: Facts, v: string, code: number, k: number): boolean | null {
  const kn = facts.get(v);
  if (kn === undefined) return null;
  if ((code & 0xf0) === BPF_JEQ) {
    if (kn.in !== undefined) {
      if (!kn.in.has(k)) return false;
      if (kn.in.size === 1) return true;
    }
    return kn.out.has(k) ? false : null;
  }
  return kn.tests.get(`${code}|${k}`) ?? null;
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

/** The value a block tests (testedValue), computed once per block and kept in `values`. */
function memoValue(values: Map<Block, string>, b: Block): string {
  let v = values.get(b);
  if (v === undefined) {
    v = testedValue(b);
    values.set(b, v);
  }
  return v;
}

/**
 * One pass of threading in layout order; true when an edge moved. An edge
 * that moves gives its new target the facts it carries (which include the
 * outcomes of the tests it skipped); its old target, later in the order,
 * never counted it.
 */
function thread(root: Node, values: Map<Block, string>): boolean {
  const order = blocksFrom(root);
  const entry = new Map<Block, Facts>();
  if (root.kind === 'block') entry.set(root, new Map());
  const valueOf = (b: Block): string => memoValue(values, b);
  let moved = false;
  for (const b of order) {
    // a block no edge reaches any more (it lost its last one in this pass) is left for the next pass
    const facts = entry.get(b);
    if (facts === undefined) continue;
    const v = valueOf(b);
    const known = (b.code & BPF_X) === 0;
    for (const side of ['jt', 'jf'] as const) {
      let edge = known ? learn(facts, v, b.code, b.k, side === 'jt') : facts;
      let target = b[side]!;
      while (target.kind === 'block' && (target.code & BPF_X) === 0) {
        const tv = valueOf(target);
        const outcome = decide(edge, tv, target.code, target.k);
        if (outcome === null) break;
        edge = learn(edge, tv, target.code, target.k, outcome);
        target = outcome ? target.jt! : target.jf!;
      }
      if (target !== b[side]) {
        b[side] = target;
        moved = true;
      }
      if (target.kind === 'block') {
        const prev = entry.get(target);
        entry.set(target, prev === undefined ? edge : meet(prev, edge));
      }
    }
  }
  return moved;
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

/**
 * Pull a test up an or-chain, as libpcap's or_pullup does: in a chain of
 * blocks whose true edges all go to the same place (`a or b or c`), a later
 * test of the value an earlier block already loaded moves up next to it, so
 * the load is shared (`host a or b`: src == a, src == b, dst == a, dst == b).
 * The same for and-chains on the false edges. Only blocks with one
 * predecessor move, so no other path changes. True when something moved.
 */
function pullup(root: Node, values: Map<Block, string>): boolean {
  const order = blocksFrom(root);
  const preds = new Map<Block, number>();
  for (const b of order) for (const n of [b.jt!, b.jf!]) if (n.kind === 'block') preds.set(n, (preds.get(n) ?? 0) + 1);
  const valueOf = (b: Block): string => memoValue(values, b);
  // a move leaves every block with the predecessors it had, so one pass makes many
  let moved = false;
  for (const b1 of order) {
    for (const [same, next] of [['jt', 'jf'], ['jf', 'jt']] as const) {
      const exit = b1[same]!;
      const b2 = b1[next]!;
      if (b2.kind !== 'block' || b2[same] !== exit || preds.get(b2) !== 1 || valueOf(b2) === valueOf(b1)) continue;
      let prev: Block = b2;
      for (let cur = b2[next]!; cur.kind === 'block' && cur[same] === exit && preds.get(cur) === 1; cur = cur[next]!) {
        if (valueOf(cur) === valueOf(b1)) {
          prev[next] = cur[next];
          cur[next] = b2;
          b1[next] = cur;
          moved = true;
          break;
        }
        prev = cur;
      }
    }
  }
  return moved;
}

/** Blocks mustReject may look at from one edge before it gives up (a larger graph is left as it is). */
const REJECT_BUDGET = 64;

/**
 * Edges into a part of the graph where every path rejects, given what the
 * edge knows, go straight to `ret #0`. `port 53 and udp` tests the IPv4
 * protocol against tcp, udp and sctp for the port, and udp again at the
 * end: from `b[23] == 6` every path meets `b[23] == 17` false, so that edge
 * rejects at once, the or-chain shrinks to the udp test, and the last test
 * is decided by threading (libpcap gets close to this by moving tests).
 * Then `b[23] == 6` rejects at once, and the udp test would reject it too:
 * that test goes. A frame that took such an edge was rejected before too,
 * by a test or by a load past its end (which returns 0), so no verdict
 * changes. True when an edge moved.
 */
function rejectPaths(root: Node, values: Map<Block, string>): boolean {
  const order = blocksFrom(root);
  const entry = new Map<Block, Facts>();
  if (root.kind === 'block') entry.set(root, new Map());
  const valueOf = (b: Block): string => memoValue(values, b);
  const reject: Leaf = { kind: 'ret', k: 0 };
  let moved = false;
  const mustReject = (n: Node, facts: Facts, budget: { left: number }): boolean => {
    if (n.kind === 'ret') return n.k === 0;
    if (--budget.left < 0) return false;
    if ((n.code & BPF_X) !== 0) return mustReject(n.jt!, facts, budget) && mustReject(n.jf!, facts, budget);
    const v = valueOf(n);
    const o = decide(facts, v, n.code, n.k);
    if (o !== null) return mustReject(o ? n.jt! : n.jf!, facts, budget);
    return mustReject(n.jt!, learn(facts, v, n.code, n.k, true), budget) && mustReject(n.jf!, learn(facts, v, n.code, n.k, false), budget);
  };
  for (const b of order) {
    const facts = entry.get(b);
    if (facts === undefined) continue;
    const v = valueOf(b);
    const known = (b.code & BPF_X) === 0;
    for (const side of ['jt', 'jf'] as const) {
      const edge = known ? learn(facts, v, b.code, b.k, side === 'jt') : facts;
      const target = b[side]!;
      const other = side === 'jt' ? b.jf! : b.jt!;
      // a test one side of which rejects, where the other side's part would reject those frames as well, tests
      // nothing: both edges go the other way and simplify drops it (`jeq #6` before `jeq #17 ... else ret #0`)
      if (known && target.kind === 'ret' && target.k === 0 && other.kind === 'block' && mustReject(other, edge, { left: REJECT_BUDGET })) {
        b[side] = other;
        moved = true;
        continue;
      }
      if (target.kind !== 'block') continue;
      if (mustReject(target, edge, { left: REJECT_BUDGET })) {
        b[side] = reject;
        moved = true;
        continue;
      }
      const prev = entry.get(target);
      entry.set(target, prev === undefined ? edge : meet(prev, edge));
    }
  }
  return moved;
}

/**
 * Threading, pruning and merging to a fixed point (bounded). `rejects`
 * false leaves out rejectPaths, which can prove that an expression rejects
 * every packet where libpcap cannot (compileFilter then compiles it without).
 */
export function optimize(root: Node, rejects = true): Node {
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
    if (moved || merged || pullup(r.node, values)) continue;
    if (!rejects || !rejectPaths(r.node, values)) break;
    // a test rejectPaths sent one way goes before threading sees it again (which would thread its edge back)
    simplify(r);
  }
  return r.node;
}

/**
 * A block as laid out: the statements kept after the redundant loads are
 * dropped, its test, and its successors in the final graph.
 */
export interface FinalBlock {
  kind: 'block';
  stmts: SockFilter[];
  code: number;
  k: number;
  jt: FinalNode;
  jf: FinalNode;
}

export type FinalNode = FinalBlock | Leaf;

/**
 * The graph both back ends lay out (classic here, eBPF in ebpf.ts): each
 * block's statements with the loads dropped that leave every register as
 * it was on every path into it, then blocks whose kept code and successors
 * are the same merged, bottom-up. The merge is what libpcap gets from
 * comparing blocks after its dead-load elimination: the IPv6 and IPv4 arms
 * of `port 1 or port 2 or ... or port 30` each test the destination port
 * against 30 constants, and after the first comparison of each arm (which
 * loads the port, from [56] or [x + 16]) the other 29 are the same
 * `jeq #n` on A with the same successors, so one chain serves both. Two
 * blocks of the same kept code run the same instructions from whatever the
 * registers hold, so a path through the merged block computes what it
 * computed through its own: the merge never changes a verdict.
 */
export function finalGraph(root: Node, dropRedundant = true): { root: FinalNode; order: FinalBlock[] } {
  const order = blocksFrom(root);
  // entry states: the meet over the edges into each block
  const entry = new Map<Block, State>();
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
    for (const n of [b.jt!, b.jf!]) {
      if (n.kind !== 'block') continue;
      const prev = entry.get(n);
      entry.set(n, prev === undefined ? { a: s.a, x: s.x, m: new Map(s.m) } : meet(prev, s));
    }
  }
  // bottom-up (successors first): one final block per distinct (kept code, test, successors)
  const made = new Map<Block, FinalNode>();
  const canon = new Map<string, FinalBlock>();
  const ids = new Map<FinalNode, number>();
  const keyOf = (n: FinalNode): string => (n.kind === 'ret' ? `r${n.k}` : `b${ids.get(n)!}`);
  const finalOf = (n: Node): FinalNode => (n.kind === 'ret' ? n : made.get(n)!);
  for (const b of [...order].reverse()) {
    const jt = finalOf(b.jt!);
    const jf = finalOf(b.jf!);
    const stmts = kept.get(b)!;
    const key = `${stmts.map((p) => `${p.code},${p.k}`).join(';')}|${b.code},${b.k}|${keyOf(jt)}|${keyOf(jf)}`;
    let f = dropRedundant ? canon.get(key) : undefined;
    if (f === undefined) {
      f = { kind: 'block', stmts, code: b.code, k: b.k, jt, jf };
      ids.set(f, ids.size);
      canon.set(key, f);
    }
    made.set(b, f);
  }
  const froot = finalOf(root);
  // reverse postorder of the final graph: every edge goes forward
  const seen = new Set<FinalBlock>();
  const post: FinalBlock[] = [];
  const visit = (n: FinalNode): void => {
    if (n.kind !== 'block' || seen.has(n)) return;
    seen.add(n);
    visit(n.jt);
    visit(n.jf);
    post.push(n);
  };
  visit(froot);
  return { root: froot, order: post.reverse() };
}

/** The classic program of a block graph; loads that leave every register as it was are dropped. */
export function layout(root: Node, dropRedundant = true): SockFilter[] {
  const fg = finalGraph(root, dropRedundant);
  const order = fg.order;
  // positions: blocks in order, then the returns
  const leaves: Leaf[] = [];
  const leafOf = (n: FinalNode): void => {
    if (n.kind === 'ret' && !leaves.some((l) => l.k === n.k)) leaves.push(n);
  };
  if (fg.root.kind === 'ret') leafOf(fg.root);
  for (const b of order) {
    leafOf(b.jt);
    leafOf(b.jf);
  }
  leaves.sort((a, b) => b.k - a.k);
  // a conditional jump reaches 255 instructions ahead: a farther target is
  // reached through a `ja` placed right after the jump. Placing one moves
  // what follows, so repeat until no jump is too far (trampolines are only
  // ever added, so this ends).
  const far = new Map<FinalBlock, { t: boolean; f: boolean }>(order.map((b) => [b, { t: false, f: false }]));
  const start = new Map<FinalBlock, number>();
  const leafPc = new Map<number, number>();
  for (;;) {
    let pc = 0;
    for (const b of order) {
      start.set(b, pc);
      const fb = far.get(b)!;
      pc += b.stmts.length + 1 + (fb.t ? 1 : 0) + (fb.f ? 1 : 0);
    }
    for (const l of leaves) leafPc.set(l.k, pc++);
    let grew = false;
    for (const b of order) {
      const fb = far.get(b)!;
      const jumpAt = start.get(b)! + b.stmts.length;
      const at = (n: FinalNode): number => (n.kind === 'ret' ? leafPc.get(n.k)! : start.get(n)!);
      if (!fb.t && at(b.jt) - jumpAt - 1 > 255) fb.t = grew = true;
      if (!fb.f && at(b.jf) - jumpAt - 1 > 255) fb.f = grew = true;
    }
    if (!grew) break;
  }
  const target = (n: FinalNode): number => (n.kind === 'ret' ? leafPc.get(n.k)! : start.get(n)!);
  const out: SockFilter[] = [];
  for (const b of order) {
    out.push(...b.stmts.map((p) => ({ ...p })));
    const at = out.length;
    const fb = far.get(b)!;
    // trampolines: jt's first, then jf's
    const jt = fb.t ? 0 : target(b.jt) - at - 1;
    const jf = fb.f ? (fb.t ? 1 : 0) : target(b.jf) - at - 1;
    out.push({ code: b.code, jt, jf, k: b.k });
    if (fb.t) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: target(b.jt) - out.length - 1 });
    if (fb.f) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: target(b.jf) - out.length - 1 });
  }
  for (const l of leaves) out.push({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: l.k });
  return out;
}

