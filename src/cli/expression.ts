/**
 * tcpdump expressions in the CLI: `tsbpf compile EXPR` (the classic program
 * printed as tcpdump -d/-dd/-ddd prints it, or the eBPF it runs as), and
 * for `tsbpf filter 'EXPR' CAPTURE` the program compiled for the capture's
 * link type, read from its header (pcap, or pcapng's first interface)
 * before the capture is opened for reading. A filter argument is an
 * expression when it is not a file (or with -e).
 */

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { compileFilter, compileFilterEbpf, linkLayer } from '../filter/index.js';
import type { SockFilter } from '../cbpf/parse.js';
import { disassembleClassic, encodeClassic, formatDd, formatDdd } from '../cbpf/index.js';
import { toSlots } from '../isa/instruction.js';
import { disasm } from '../isa/disasm.js';
import type { Instruction } from '../isa/instruction.js';
import { programInput } from '../loader/input.js';
import type { ProgramInput } from './input.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './io.js';

/** Whether a filter argument names a file (else it is an expression). */
export function isFile(arg: string): boolean {
  if (arg === '-') return true;
  try {
    return statSync(arg).isFile();
  } catch {
    return false;
  }
}

/** The link type and byte order of a capture file from its first bytes; undefined when they do not say. */
export function captureLinkType(path: string): { linktype: number; byteOrder: 'little' | 'big' } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  const head = new Uint8Array(4096);
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const v = new DataView(head.buffer, 0, n);
  if (n < 24) return undefined;
  const magicLe = v.getUint32(0, true);
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) return { linktype: v.getUint32(20, true) & 0xffff, byteOrder: 'little' };
  if (magicLe === 0xd4c3b2a1 || magicLe === 0x4d3cb2a1) return { linktype: v.getUint32(20, false) & 0xffff, byteOrder: 'big' };
  if (magicLe === 0x0a0d0d0a) {
    // pcapng: the section header block, then (usually) the first interface description block
    const le = v.getUint32(8, true) === 0x1a2b3c4d;
    const shbLen = v.getUint32(4, le);
    if (shbLen + 12 > n) return undefined;
    if (v.getUint32(shbLen, le) !== 1) return undefined;
    return { linktype: v.getUint16(shbLen + 8, le), byteOrder: le ? 'little' : 'big' };
  }
  return undefined;
}

/**
 * An expression as a program input for a link type: its classic program
 * (which `disasm` shows, as for classic input) and, as the slots that load
 * and run, the eBPF compiled straight from it. That form runs fewer
 * instructions per packet than the classic program converted (over the
 * differential corpus, 6.41 against 8.48 a packet, none more on any
 * expression), takes about 6% less time in the interpreter (75 against 80
 * ns a packet, the engine alone, best of 60 interleaved rounds) and the
 * same in the JIT (2.0 ns), so it is used for every expression.
 */
export function expressionInput(expr: string, linktype: number | string, byteOrder?: 'little' | 'big'): ProgramInput {
  const options = byteOrder === undefined ? {} : { byteOrder };
  const prog = compileFilter(expr, linktype, options);
  return { ...programInput(encodeClassic(prog), { classic: true }), slots: toSlots(compileFilterEbpf(expr, linktype, options)) };
}

export type CompileFormat = 'd' | 'dd' | 'ddd' | 'ebpf';

/** tcpdump's -d/-dd/-ddd spellings as the parser's --format. */
export function tcpdumpFormatArgs(args: readonly string[]): string[] {
  return args.map((a) => (a === '-d' || a === '-dd' || a === '-ddd' ? `--format=${a.slice(1)}` : a));
}

/** `tsbpf compile`: print the program. */
export function compileCommand(expr: string, linktype: string | undefined, format: CompileFormat, io: CliIo): number {
  let lt: number | string = linktype ?? 'ethernet';
  if (typeof lt === 'string' && /^\d+$/.test(lt)) lt = Number(lt);
  try {
    linkLayer(lt);
  } catch (e) {
    if (e instanceof BpfError) throw new CliError(`--linktype: ${e.message}`, 2, 'EINVAL');
    throw e;
  }
  let prog: SockFilter[];
  let ebpf: Instruction[];
  try {
    prog = compileFilter(expr, lt);
    ebpf = compileFilterEbpf(expr, lt);
  } catch (e) {
    if (e instanceof BpfError) throw new CliError(`${e.message}${caret(expr, e.message)}`, 2, e.code);
    throw e;
  }
  switch (format) {
    case 'd': io.stdout.write(disassembleClassic(prog)); break;
    case 'dd': io.stdout.write(formatDd(prog)); break;
    case 'ddd': io.stdout.write(formatDdd(prog)); break;
    case 'ebpf': {
      const text = disasm(ebpf);
      io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      break;
    }
  }
  return 0;
}

/** Under a one-line error that names a column: the expression and a caret under that column. */
export function caret(expr: string, message: string): string {
  const m = /column (\d+)/.exec(message);
  if (!m || expr.includes('\n')) return '';
  const col = Number(m[1]);
  return `\n  ${expr}\n  ${' '.repeat(Math.max(0, col - 1))}^`;
}
