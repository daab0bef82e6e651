/**
 * tcpdump expressions compiled in TypeScript: `compileFilter(expr, linktype)`
 * parses a pcap-filter(7) expression, generates classic BPF with libpcap's
 * meaning for the link type, optimises it and returns the `SockFilter[]`
 * that tcpdump -dd would give (the same verdicts, a comparable length);
 * `compileFilterEbpf` lays the same graph out as an eBPF socket filter.
 * Like libpcap, an expression that matches nothing is an error.
 */

import { BpfError } from '../errors.js';
import type { SockFilter } from '../cbpf/parse.js';
import { finish } from './blocks.js';
import { CodeGen } from './codegen.js';
import { linkLayer } from './link.js';
import { finalGraph, layout, optimize } from './optimize.js';
import type { Node } from './blocks.js';
import { emitEbpf } from './ebpf.js';
import type { EbpfTarget } from './ebpf.js';
import type { Instruction } from '../isa/instruction.js';
import { parseFilter } from './parser.js';

export { parseFilter } from './parser.js';
export { tokenize } from './lexer.js';
export type { Token, TokenKind } from './lexer.js';
export type { Expr, Arith, Id, Qual, Dir, AddrKind, ArithOp, RelOp } from './ast.js';
export { linkLayer, FILTER_LINKTYPES } from './link.js';
export type { LinkLayer } from './link.js';
export { runClassic } from './classic-run.js';
export type { EbpfTarget } from './ebpf.js';

/** tcpdump's snapshot length: what a matching packet's program returns */
export const FILTER_SNAPLEN = 262144;

export interface CompileFilterOptions {
  /** the accept value (default 262144, as tcpdump) */
  snaplen?: number;
  /** false: no optimisation (libpcap's -O) */
  optimize?: boolean;
  /** the null link type (0): the byte order of the capture, whose host wrote the address family (default little) */
  byteOrder?: 'little' | 'big';
}

/** The optimised block graph of an expression (what both back ends lay out). */
function compileGraph(expr: string, linktype: number | string, options: CompileFilterOptions): Node {
  let link = linkLayer(linktype);
  if (options.byteOrder !== undefined) {
    if (options.byteOrder !== 'little' && options.byteOrder !== 'big') throw new BpfError('EINVAL', `byteOrder must be 'little' or 'big', got ${String(options.byteOrder)}`);
    if (link.linktype === 0) link = { ...link, littleEndian: options.byteOrder === 'little' };
  }
  const ast = parseFilter(expr);
  const snaplen = options.snaplen ?? FILTER_SNAPLEN;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0xffffffff) throw new BpfError('EINVAL', `snaplen must be an integer from 1 to 4294967295, got ${String(snaplen)}`);
  const build = (): Node => finish(new CodeGen(link).gen(ast), snaplen);
  let root = build();
  if (options.optimize !== false) {
    root = optimize(root);
    // refused only where libpcap's optimiser would find it too (optimize.ts's rejectPaths finds more)
    if (root.kind === 'ret' && root.k === 0) root = optimize(build(), false);
  }
  if (root.kind === 'ret' && root.k === 0) throw new BpfError('EINVAL', 'expression rejects all packets');
  return root;
}

/** A pcap-filter expression as a classic BPF program for a link type (LINKTYPE number or name). */
export function compileFilter(expr: string, linktype: number | string = 1, options: CompileFilterOptions = {}): SockFilter[] {
  return layout(compileGraph(expr, linktype, options), options.optimize !== false);
}

export interface CompileFilterEbpfOptions extends CompileFilterOptions {
  /** the kernel whose jumps may be used: '3.19' (default; loads under both profiles) or 'modern' (adds jlt/jle) */
  target?: EbpfTarget;
}

/**
 * A pcap-filter expression compiled straight to an eBPF socket filter
 * (ebpf.ts): the verdicts of compileFilter's classic program on every
 * packet, in fewer instructions per packet than that program converted.
 */
export function compileFilterEbpf(expr: string, linktype: number | string = 1, options: CompileFilterEbpfOptions = {}): Instruction[] {
  const target = options.target ?? '3.19';
  if (target !== '3.19' && target !== 'modern') throw new BpfError('EINVAL', `target must be '3.19' or 'modern', got ${String(target)}`);
  const fg = finalGraph(compileGraph(expr, linktype, options), options.optimize !== false);
  return emitEbpf(fg.root, fg.order, target);
}
