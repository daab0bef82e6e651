/**
 * The intermediate form of a compiled filter: a graph of basic blocks, each
 * a run of classic statements and one conditional jump whose two edges lead
 * to other blocks or to a return. Code generation builds boolean fragments
 * (`Frag`) and joins them as libpcap's gen_and/gen_or do, by patching the
 * open edges of one fragment onto the head of the other; a fragment may
 * also be a known constant (`true`/`false`), which `and`/`or`/`not` fold.
 *
 * Every block code generation makes is self-contained: its statements
 * compute everything its jump tests from the packet alone (a port test
 * reloads X with the IP header length). So the optimiser may skip a block
 * whose outcome is known without breaking the blocks after it, and removes
 * the loads that turn out redundant only at the very end.
 */

import type { SockFilter } from '../cbpf/parse.js';

export interface Leaf {
  kind: 'ret';
  k: number;
}

export interface Block {
  kind: 'block';
  id: number;
  stmts: SockFilter[];
  /** the jump's opcode (BPF_JMP | op | BPF_K or BPF_X) */
  code: number;
  k: number;
  jt: Node | null;
  jf: Node | null;
}

export type Node = Block | Leaf;

interface Ref {
  b: Block;
  side: 'jt' | 'jf';
}

export type Frag = boolean | { head: Block; t: Ref[]; f: Ref[] };

let nextId = 0;

/** A fragment of one block: `stmts`, then a jump `code` with `k`; true on its jt edge. */
export function test(stmts: SockFilter[], code: number, k: number): Frag {
  const b: Block = { kind: 'block', id: nextId++, stmts, code, k: k >>> 0, jt: null, jf: null };
  return { head: b, t: [{ b, side: 'jt' }], f: [{ b, side: 'jf' }] };
}

function patch(refs: Ref[], to: Node): void {
  for (const r of refs) r.b[r.side] = to;
}

export function and(a: Frag, b: Frag): Frag {
  if (a === false || b === true) return a;
  if (a === true || b === false) return b;
  patch(a.t, b.head);
  return { head: a.head, t: b.t, f: [...a.f, ...b.f] };
}

export function or(a: Frag, b: Frag): Frag {
  if (a === true || b === false) return a;
  if (a === false || b === true) return b;
  patch(a.f, b.head);
  return { head: a.head, t: [...a.t, ...b.t], f: b.f };
}

export function not(a: Frag): Frag {
  if (typeof a === 'boolean') return !a;
  return { head: a.head, t: a.f, f: a.t };
}

/** The graph of a finished fragment: its open edges patched to `ret #accept` and `ret #0`. */
export function finish(f: Frag, accept: number): Node {
  const yes: Leaf = { kind: 'ret', k: accept };
  const no: Leaf = { kind: 'ret', k: 0 };
  if (typeof f === 'boolean') return f ? yes : no;
  patch(f.t, yes);
  patch(f.f, no);
  return f.head;
}
