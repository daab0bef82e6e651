/**
 * The syntax tree of a pcap-filter expression, as the parser builds it and
 * code generation reads it. Every primitive keeps the column of its first
 * token so that errors found while generating code (an Ethernet address on
 * raw IP, a port above 65535) point where a syntax error would.
 *
 * A qualifier triple is the grammar's `head`: protocol (`ip`, `tcp`,
 * `link` for `ether`...), direction and address kind, each possibly absent
 * (libpcap's Q_DEFAULT). The parser already applied the implicit-qualifier
 * rule: in `host a or b` the second primitive carries `host` too.
 */

export type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst';
export type AddrKind = 'host' | 'net' | 'port' | 'portrange' | 'proto';

export interface Qual {
  proto: string | null;
  dir: Dir | null;
  addr: AddrKind | null;
}

/** The operand of a qualified primitive, as the scanner classified it. */
export type Id =
  | { kind: 'num'; value: number }
  | { kind: 'ipv4'; text: string }
  | { kind: 'ipv4/len'; text: string; len: number }
  | { kind: 'ipv4 mask'; text: string; mask: string }
  | { kind: 'ipv6'; text: string; len: number }
  | { kind: 'mac'; text: string }
  | { kind: 'name'; text: string };

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';
export type RelOp = '>' | '>=' | '=' | '<=' | '<' | '!=';

export type Arith =
  | { type: 'num'; value: number }
  | { type: 'len' }
  | { type: 'load'; proto: string; index: Arith; size: 1 | 2 | 4; col: number }
  | { type: 'bin'; op: ArithOp; left: Arith; right: Arith; col: number }
  | { type: 'neg'; expr: Arith };

export type Expr =
  | { type: 'and' | 'or'; left: Expr; right: Expr }
  | { type: 'not'; expr: Expr }
  | { type: 'prim'; q: Qual; id: Id; col: number }
  | { type: 'proto'; proto: string; col: number }
  | { type: 'rel'; op: RelOp; left: Arith; right: Arith; col: number }
  | { type: 'broadcast' | 'multicast'; proto: string | null; col: number }
  | { type: 'less' | 'greater'; value: number; col: number }
  | { type: 'vlan'; id: number | null; col: number }
  | { type: 'mpls'; label: number | null; col: number }
  | { type: 'pppoes'; session: number | null; col: number }
  | { type: 'pppoed'; col: number }
  | { type: 'true' };
