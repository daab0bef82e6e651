/**
 * Reading and writing classic BPF programs: `struct sock_filter { u16 code;
 * u8 jt; u8 jf; u32 k; }` (include/uapi/linux/filter.h) as tcpdump prints
 * them and as setsockopt(SO_ATTACH_FILTER) takes them.
 *
 * Three forms:
 * - `tcpdump -dd`: one C initializer per instruction, `{ 0x28, 0, 0, 0x0000000c },`
 *   (libpcap's bpf_dump prints `{ 0x%x, %d, %d, 0x%08x },`);
 * - `tcpdump -ddd`: the instruction count on the first line, then one
 *   `code jt jf k` line of decimal numbers per instruction;
 * - raw bytes: 8 bytes per instruction in host (little-endian) order.
 *
 * This file only reads and writes; whether a program is acceptable is
 * check.ts's business.
 */

import { BpfError } from '../errors.js';

/** One classic instruction. All fields are unsigned: code u16, jt/jf u8, k u32. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Bytes of one classic instruction (struct sock_filter). */
export const SOCK_FILTER_SIZE = 8;

/** A C integer literal as the -dd form uses: hex `0x..` or decimal. */
const C_INT = '(0[xX][0-9a-fA-F]+|\\d+)';
const DD_LINE = new RegExp(`^\\{\\s*${C_INT}\\s*,\\s*${C_INT}\\s*,\\s*${C_INT}\\s*,\\s*${C_INT}\\s*\\}\\s*,?$`);
const DDD_LINE = /^(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/;

/** Non-empty lines with their 1-based line numbers; `#` and `//` comment lines are skipped. */
function contentLines(text: string): { no: number; text: string }[] {
  if (typeof text !== 'string') throw new BpfError('EINVAL', `classic program text must be a string, got ${describe(text)}`);
  const out: { no: number; text: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('//')) return;
    out.push({ no: i + 1, text: t });
  });
  return out;
}

function field(lineNo: number, name: string, literal: string, max: number): number {
  // BigInt reads both `0x..` and decimal; tcpdump never prints octal.
  const v = BigInt(literal);
  if (v > BigInt(max)) {
    throw new BpfError('EINVAL', `line ${lineNo}: ${name} ${literal} does not fit in ${max === 0xff ? 8 : max === 0xffff ? 16 : 32} bits`);
  }
  return Number(v);
}

function insnFrom(lineNo: number, m: RegExpMatchArray): SockFilter {
  return {
    code: field(lineNo, 'code', m[1]!, 0xffff),
    jt: field(lineNo, 'jt', m[2]!, 0xff),
    jf: field(lineNo, 'jf', m[3]!, 0xff),
    k: field(lineNo, 'k', m[4]!, 0xffffffff),
  };
}

/** `tcpdump -dd` text. */
export function parseDd(text: string): SockFilter[] {
  const out: SockFilter[] = [];
  for (const line of contentLines(text)) {
    const m = DD_LINE.exec(line.text);
    if (!m) throw new BpfError('EINVAL', `line ${line.no}: expected '{ code, jt, jf, k },', got '${clip(line.text)}'`);
    out.push(insnFrom(line.no, m));
  }
  if (out.length === 0) throw new BpfError('EINVAL', 'no instructions in the text');
  return out;
}

/** `tcpdump -ddd` text: the count, then `code jt jf k` per line; the count must match. */
export function parseDdd(text: string): SockFilter[] {
  const lines = contentLines(text);
  const first = lines[0];
  if (first === undefined) throw new BpfError('EINVAL', 'no instructions in the text');
  if (!/^\d+$/.test(first.text)) {
    throw new BpfError('EINVAL', `line ${first.no}: expected the instruction count, got '${clip(first.text)}'`);
  }
  const count = Number(first.text);
  const out: SockFilter[] = [];
  for (const line of lines.slice(1)) {
    const m = DDD_LINE.exec(line.text);
    if (!m) throw new BpfError('EINVAL', `line ${line.no}: expected 'code jt jf k' in decimal, got '${clip(line.text)}'`);
    out.push(insnFrom(line.no, m));
  }
  if (out.length !== count) {
    throw new BpfError('EINVAL', `line ${first.no}: the count says ${count} instructions, the text has ${out.length}`);
  }
  return out;
}

/** Whether text looks like `tcpdump -dd` or `tcpdump -ddd` output (judged on its first lines). */
export function detectClassicText(text: string): boolean {
  return classicTextForm(text) !== undefined;
}

function classicTextForm(text: string): 'dd' | 'ddd' | undefined {
  const lines = contentLines(text);
  const first = lines[0];
  if (first === undefined) return undefined;
  if (DD_LINE.test(first.text)) return 'dd';
  const second = lines[1];
  if (/^\d+$/.test(first.text) && (second === undefined ? first.text === '0' : DDD_LINE.test(second.text))) return 'ddd';
  return undefined;
}

/** Either text form, told apart by its first lines. */
export function parseClassicText(text: string): SockFilter[] {
  const form = classicTextForm(text);
  if (form === 'dd') return parseDd(text);
  if (form === 'ddd') return parseDdd(text);
  const first = contentLines(text)[0];
  if (first === undefined) throw new BpfError('EINVAL', 'no instructions in the text');
  throw new BpfError('EINVAL', `line ${first.no}: neither tcpdump -dd nor -ddd output: '${clip(first.text)}'`);
}

/** Raw `struct sock_filter` bytes, little-endian. */
export function decodeClassic(bytes: Uint8Array): SockFilter[] {
  if (!(bytes instanceof Uint8Array)) throw new BpfError('EINVAL', `raw classic program must be a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length % SOCK_FILTER_SIZE !== 0) {
    throw new BpfError('EINVAL', `classic program length ${bytes.length} is not a multiple of ${SOCK_FILTER_SIZE} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: SockFilter[] = [];
  for (let p = 0; p < bytes.length; p += SOCK_FILTER_SIZE) {
    out.push({ code: view.getUint16(p, true), jt: bytes[p + 2]!, jf: bytes[p + 3]!, k: view.getUint32(p + 4, true) });
  }
  return out;
}

/** Classic instructions, then parsed text or bytes: a Uint8Array is raw bytes, a string is -dd/-ddd text. */
export function parseClassic(input: string | Uint8Array): SockFilter[] {
  return typeof input === 'string' ? parseClassicText(input) : decodeClassic(input);
}

/**
 * Refuses anything but an array of {code, jt, jf, k} with unsigned integer
 * fields of the right widths: what a library caller hands in is checked
 * before any arithmetic trusts it (a jt of 1.5 or 6n would otherwise reach
 * jump-target computations).
 */
export function checkSockFilters(prog: unknown): asserts prog is readonly SockFilter[] {
  if (!Array.isArray(prog)) throw new BpfError('EINVAL', `a classic program must be an array of {code, jt, jf, k}, got ${describe(prog)}`);
  for (let i = 0; i < prog.length; i++) {
    const f: unknown = prog[i];
    if (typeof f !== 'object' || f === null) throw new BpfError('EINVAL', `insn ${i}: expected {code, jt, jf, k}, got ${describe(f)}`);
    const { code, jt, jf, k } = f as Record<string, unknown>;
    const ok = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
    if (!ok(code, 0xffff)) throw new BpfError('EINVAL', `insn ${i}: code ${describe(code)} is not a u16`);
    if (!ok(jt, 0xff)) throw new BpfError('EINVAL', `insn ${i}: jt ${describe(jt)} is not a u8`);
    if (!ok(jf, 0xff)) throw new BpfError('EINVAL', `insn ${i}: jf ${describe(jf)} is not a u8`);
    if (!ok(k, 0xffffffff)) throw new BpfError('EINVAL', `insn ${i}: k ${describe(k)} is not a u32`);
  }
}

/** A value in an error message: never throws (String() does, on an object without a prototype), never spans lines. */
function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return clip(JSON.stringify(v));
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Classic instructions to struct sock_filter bytes. */
export function encodeClassic(prog: readonly SockFilter[]): Uint8Array {
  checkSockFilters(prog);
  const bytes = new Uint8Array(prog.length * SOCK_FILTER_SIZE);
  const view = new DataView(bytes.buffer);
  prog.forEach((f, i) => {
    const p = i * SOCK_FILTER_SIZE;
    view.setUint16(p, f.code, true);
    bytes[p + 2] = f.jt;
    bytes[p + 3] = f.jf;
    view.setUint32(p + 4, f.k, true);
  });
  return bytes;
}

/** `tcpdump -dd` text, as libpcap's bpf_dump prints it (one line per instruction, each ending in a newline). */
export function formatDd(prog: readonly SockFilter[]): string {
  checkSockFilters(prog);
  return prog.map((f) => `{ 0x${f.code.toString(16)}, ${f.jt}, ${f.jf}, 0x${f.k.toString(16).padStart(8, '0')} },\n`).join('');
}

/** `tcpdump -ddd` text. */
export function formatDdd(prog: readonly SockFilter[]): string {
  checkSockFilters(prog);
  return `${prog.length}\n` + prog.map((f) => `${f.code} ${f.jt} ${f.jf} ${f.k}\n`).join('');
}

/** At most 60 characters, control characters but tab escaped: a quoted line stays one printable line of message. */
function clip(s: string): string {
  const t = s.length > 60 ? `${s.slice(0, 57)}...` : s;
  return t.replace(/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
