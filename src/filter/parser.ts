/**
 * The parser of the pcap-filter language (pcap-filter(7); libpcap's
 * grammar.y): tokens to an `Expr`. Hand-written recursive descent with
 * backtracking where the yacc grammar needs more than one token of look-ahead
 * (`(` opens an expression, an arithmetic operand or a list of operands).
 *
 * The rules that make the language what it is, kept here:
 * - `and` and `or` have the same precedence and group to the left:
 *   `a or b and c` is `(a or b) and c`.
 * - After `and`/`or` (and inside a parenthesised list of operands) a bare
 *   operand takes the qualifiers of the last qualified primitive:
 *   `host a or b` is `host a or host b`, `tcp port 80 or 443` is
 *   `tcp port 80 or tcp port 443`, `port 80 and not 443` negates a port.
 *   A protocol name, a relation or `less`/`greater` clears them (a bare
 *   operand after one is a syntax error, as in libpcap); a parenthesised
 *   expression passes on the qualifiers from before it.
 * - A bare operand at the start of the expression is a syntax error.
 * Errors are one line, BpfError EINVAL: `syntax error at column 12: unexpected 'and'`.
 */

import { BpfError } from '../errors.js';
import type { Arith, ArithOp, Dir, Expr, Id, Qual, RelOp } from './ast.js';
import { printable, tokenize } from './lexer.js';
import type { Token } from './lexer.js';
import { PROTO_KEYWORDS } from './names.js';

/** A failed alternative; the parser backtracks or reports the furthest one. */
class Fail extends Error {}

interface Parsed {
  expr: Expr;
  /** the qualifiers a following bare operand takes (null: none, a bare operand is an error) */
  q: Qual | null;
}

const REL_OPS: Record<string, RelOp> = { '>': '>', '>=': '>=', '=': '=', '==': '=', '<=': '<=', '<': '<', '!=': '!=' };
const LEVELS: readonly (readonly string[])[] = [['|', '^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

function describe(t: Token): string {
  return t.kind === 'eof' ? 'end of expression' : `'${printable(t.text)}'`;
}

class Parser {
  private pos = 0;
  private furthest = 0;

  constructor(private readonly toks: Token[]) {}

  private peek(k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.pos < this.toks.length - 1) this.pos++;
    return t;
  }

  private is(t: Token, kind: 'op' | 'kw', ...texts: string[]): boolean {
    return t.kind === kind && texts.includes(t.text);
  }

  private fail(): never {
    if (this.pos > this.furthest) this.furthest = this.pos;
    throw new Fail();
  }

  private expectOp(text: string): Token {
    const t = this.peek();
    if (!this.is(t, 'op', text)) this.fail();
    return this.next();
  }

  /** Try an alternative; on failure the position is restored and null returned. */
  private attempt<T>(f: () => T): T | null {
    const save = this.pos;
    try {
      return f();
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      this.pos = save;
      return null;
    }
  }

  error(): BpfError {
    const t = this.toks[Math.min(this.furthest, this.toks.length - 1)]!;
    return new BpfError('EINVAL', `syntax error at column ${t.col}: unexpected ${describe(t)}`);
  }

  program(): Expr {
    if (this.peek().kind === 'eof') return { type: 'true' };
    const r = this.expr(null);
    if (this.peek().kind !== 'eof') this.fail();
    return r.expr;
  }

  private andOr(): 'and' | 'or' | null {
    const t = this.peek();
    if (this.is(t, 'kw', 'and') || this.is(t, 'op', '&&')) return 'and';
    if (this.is(t, 'kw', 'or') || this.is(t, 'op', '||')) return 'or';
    return null;
  }

  private expr(ctx: Qual | null): Parsed {
    let left = this.term(ctx);
    for (let op = this.andOr(); op !== null; op = this.andOr()) {
      this.next();
      const q = left.q;
      // `expr and id` (the operand inherits q) before `expr and term`
      const asId = q === null ? null : this.attempt(() => {
        const r = this.id(q);
        if (this.andOr() === null && !this.is(this.peek(), 'op', ')') && this.peek().kind !== 'eof') this.fail();
        return r;
      });
      const right = asId ?? this.term(q);
      left = { expr: { type: op, left: left.expr, right: right.expr }, q: right.q };
    }
    return left;
  }

  /** The grammar's `id`: an operand with the qualifiers q. */
  private id(q: Qual | null): Parsed {
    const t = this.peek();
    if (this.is(t, 'kw', 'not') || this.is(t, 'op', '!')) {
      this.next();
      const r = this.id(q);
      return { expr: { type: 'not', expr: r.expr }, q: r.q };
    }
    if (this.is(t, 'op', '(')) {
      this.next();
      let r = this.id(q);
      for (let op = this.andOr(); op !== null; op = this.andOr()) {
        this.next();
        const right = this.id(q);
        r = { expr: { type: op, left: r.expr, right: right.expr }, q };
      }
      this.expectOp(')');
      return r;
    }
    if (q === null) this.fail();
    let id: Id;
    switch (t.kind) {
      case 'num':
        this.next();
        id = { kind: 'num', value: t.value! };
        break;
      case 'hid': {
        this.next();
        if (this.is(this.peek(), 'op', '/') && this.peek(1).kind === 'num') {
          this.next();
          id = { kind: 'ipv4/len', text: t.text, len: this.next().value! };
        } else if (this.is(this.peek(), 'kw', 'mask') && this.peek(1).kind === 'hid') {
          this.next();
          id = { kind: 'ipv4 mask', text: t.text, mask: this.next().text };
        } else {
          id = { kind: 'ipv4', text: t.text };
        }
        break;
      }
      case 'hid6':
        this.next();
        if (this.is(this.peek(), 'op', '/') && this.peek(1).kind === 'num') {
          this.next();
          id = { kind: 'ipv6', text: t.text, len: this.next().value! };
        } else {
          id = { kind: 'ipv6', text: t.text, len: 128 };
        }
        break;
      case 'eid':
        this.next();
        id = { kind: 'mac', text: t.text };
        break;
      case 'id':
        this.next();
        id = { kind: 'name', text: t.text };
        break;
      default:
        this.fail();
    }
    return { expr: { type: 'prim', q: { ...q }, id, col: t.col }, q };
  }

  private term(ctx: Qual | null): Parsed {
    const t = this.peek();
    if (this.is(t, 'kw', 'not') || this.is(t, 'op', '!')) {
      this.next();
      const r = this.term(ctx);
      return { expr: { type: 'not', expr: r.expr }, q: r.q };
    }
    if (this.startsArith()) {
      const rel = this.attempt(() => this.relation());
      if (rel !== null) return { expr: rel, q: null };
    }
    if (this.is(t, 'op', '(')) {
      this.next();
      const r = this.expr(ctx);
      this.expectOp(')');
      return { expr: r.expr, q: ctx };
    }
    if (this.is(t, 'kw', 'less', 'greater')) {
      this.next();
      const n = this.peek();
      if (n.kind !== 'num') this.fail();
      this.next();
      return { expr: { type: t.text as 'less' | 'greater', value: n.value!, col: t.col }, q: null };
    }
    if (this.is(t, 'kw', 'vlan')) {
      this.next();
      const n = this.attempt(() => this.pnum());
      return { expr: { type: 'vlan', id: n, col: t.col }, q: null };
    }
    if (this.is(t, 'kw', 'mpls')) {
      this.next();
      const n = this.attempt(() => this.pnum());
      return { expr: { type: 'mpls', label: n, col: t.col }, q: null };
    }
    if (this.is(t, 'kw', 'pppoed')) {
      this.next();
      return { expr: { type: 'pppoed', col: t.col }, q: null };
    }
    if (this.is(t, 'kw', 'pppoes')) {
      this.next();
      const n = this.attempt(() => this.pnum());
      return { expr: { type: 'pppoes', session: n, col: t.col }, q: null };
    }
    // pqual dqual aqual | pqual dqual | pqual aqual | pqual PROTO | pname | pqual broadcast/multicast
    let proto: string | null = null;
    if (t.kind === 'kw' && PROTO_KEYWORDS.has(t.text)) {
      proto = PROTO_KEYWORDS.get(t.text)!;
      this.next();
    }
    const dir = this.dqual();
    let addr: Qual['addr'] = null;
    const a = this.peek();
    if (this.is(a, 'kw', 'host', 'net', 'port', 'portrange', 'proto')) {
      addr = a.text as Qual['addr'];
      this.next();
    }
    if (dir === null && addr === null) {
      const b = this.peek();
      if (this.is(b, 'kw', 'broadcast', 'multicast')) {
        this.next();
        return { expr: { type: b.text as 'broadcast' | 'multicast', proto, col: t.col }, q: null };
      }
      if (proto !== null) return { expr: { type: 'proto', proto, col: t.col }, q: null };
      this.fail();
    }
    const q: Qual = { proto, dir, addr };
    const r = this.id(q);
    return { expr: r.expr, q };
  }

  private dqual(): Dir | null {
    const t = this.peek();
    if (!this.is(t, 'kw', 'src', 'dst')) return null;
    this.next();
    const other = t.text === 'src' ? 'dst' : 'src';
    const c = this.peek();
    if ((this.is(c, 'kw', 'or', 'and') || this.is(c, 'op', '||', '&&')) && this.is(this.peek(1), 'kw', other)) {
      this.next();
      this.next();
      return this.is(c, 'kw', 'or') || this.is(c, 'op', '||') ? 'src or dst' : 'src and dst';
    }
    return t.text as Dir;
  }

  private pnum(): number {
    const t = this.peek();
    if (t.kind === 'num') {
      this.next();
      return t.value!;
    }
    this.expectOp('(');
    const v = this.pnum();
    this.expectOp(')');
    return v;
  }

  private startsArith(): boolean {
    const t = this.peek();
    if (t.kind === 'num' || this.is(t, 'kw', 'len') || this.is(t, 'op', '-', '(')) return true;
    return t.kind === 'kw' && PROTO_KEYWORDS.has(t.text) && this.is(this.peek(1), 'op', '[');
  }

  private relation(): Expr {
    const col = this.peek().col;
    const left = this.arith(0);
    const r = this.peek();
    const op = r.kind === 'op' ? REL_OPS[r.text] : undefined;
    if (op === undefined) this.fail();
    this.next();
    const right = this.arith(0);
    return { type: 'rel', op, left, right, col };
  }

  private arith(level: number): Arith {
    if (level === LEVELS.length) return this.unary();
    let left = this.arith(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !LEVELS[level]!.includes(t.text)) return left;
      this.next();
      const right = this.arith(level + 1);
      left = { type: 'bin', op: t.text as ArithOp, left, right, col: t.col };
    }
  }

  private unary(): Arith {
    const t = this.peek();
    if (this.is(t, 'op', '-')) {
      this.next();
      return { type: 'neg', expr: this.unary() };
    }
    if (t.kind === 'num') {
      this.next();
      return { type: 'num', value: t.value! };
    }
    if (this.is(t, 'kw', 'len')) {
      this.next();
      return { type: 'len' };
    }
    if (this.is(t, 'op', '(')) {
      this.next();
      const e = this.arith(0);
      this.expectOp(')');
      return e;
    }
    if (t.kind === 'kw' && PROTO_KEYWORDS.has(t.text) && this.is(this.peek(1), 'op', '[')) {
      this.next();
      this.next();
      const index = this.arith(0);
      let size = 1;
      if (this.is(this.peek(), 'op', ':')) {
        this.next();
        const n = this.peek();
        if (n.kind !== 'num') this.fail();
        this.next();
        if (n.value !== 1 && n.value !== 2 && n.value !== 4) {
          throw new BpfError('EINVAL', `data size at column ${n.col} must be 1, 2 or 4, got ${n.text}`);
        }
        size = n.value;
      }
      this.expectOp(']');
      return { type: 'load', proto: PROTO_KEYWORDS.get(t.text)!, index, size: size as 1 | 2 | 4, col: t.col };
    }
    this.fail();
  }
}

/** The syntax tree of a pcap-filter expression; the empty expression accepts everything (`{ type: 'true' }`). */
export function parseFilter(text: string): Expr {
  const p = new Parser(tokenize(text));
  try {
    return p.program();
  } catch (e) {
    if (e instanceof Fail) throw p.error();
    throw e;
  }
}
