/**
 * bpf_trace_printk's format, as the kernel checks and prints it
 * (bpf_bprintf_prepare with at most 3 arguments): the format must end with
 * a NUL inside its size; conversions are %d %i %u %x %X with an optional
 * l or ll (without one the argument is 32 bits), %c, %s (a string the
 * program may read, at most 64 bytes shown here), %p / %px (the pointer in
 * hex; the kernel hashes %p, tsbpf does not) and %%, each with optional
 * flags 0 + - space and a width. Anything else, or a fourth conversion, is
 * -EINVAL and nothing is printed. The result is the line and its length
 * (what the helper returns).
 */

import type { HelperEnv } from '../runtime/helpers.js';

const MAX_ARGS = 3;

/** The formatted line, or a negative errno. */
export function formatPrintk(fmt: Uint8Array, args: readonly bigint[], env: HelperEnv): string | number {
  const nul = fmt.indexOf(0);
  if (nul < 0) return -22;
  const f = new TextDecoder('latin1').decode(fmt.subarray(0, nul));
  let out = '';
  let n = 0;
  for (let i = 0; i < f.length; i++) {
    const ch = f[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    i++;
    if (f[i] === '%') {
      out += '%';
      continue;
    }
    if (n >= MAX_ARGS) return -22;
    let flags = '';
    while ('0+- '.includes(f[i] ?? 'x')) flags += f[i++]!;
    let width = 0;
    if (f[i] !== undefined && f[i]! >= '1' && f[i]! <= '9') {
      while (f[i] !== undefined && f[i]! >= '0' && f[i]! <= '9') width = width * 10 + Number(f[i++]);
    }
    const arg = args[n++]!;
    let text: string;
    const c = f[i];
    if (c === 'c') text = String.fromCharCode(Number(arg & 0xffn));
    else if (c === 's') {
      const s = readString(arg, env);
      if (s === undefined) return -14;
      text = s;
    } else if (c === 'p') {
      if (f[i + 1] === 'x' || f[i + 1] === 'K') i++;
      else if (f[i + 1] !== undefined && /[a-zA-Z]/.test(f[i + 1]!)) return -22;
      text = '0x' + BigInt.asUintN(64, arg).toString(16).padStart(16, '0');
    } else {
      let bits = 32;
      if (f[i] === 'l') {
        i++;
        bits = 64;
        if (f[i] === 'l') i++;
      }
      const k = f[i];
      if (k === 'd' || k === 'i') {
        const v = BigInt.asIntN(bits, arg);
        text = v < 0n ? '-' + (-v).toString() : (flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + v.toString();
      } else if (k === 'u') text = BigInt.asUintN(bits, arg).toString();
      else if (k === 'x') text = BigInt.asUintN(bits, arg).toString(16);
      else if (k === 'X') text = BigInt.asUintN(bits, arg).toString(16).toUpperCase();
      else return -22;
    }
    if (text.length < width) {
      if (flags.includes('-')) text = text.padEnd(width);
      else if (flags.includes('0') && c !== 's' && c !== 'c') {
        const sign = /^[-+ ]/.test(text) ? text[0]! : '';
        text = sign + text.slice(sign.length).padStart(width - sign.length, '0');
      } else text = text.padStart(width);
    }
    out += text;
  }
  return out;
}

/** A NUL-terminated string at `addr` the program may read (at most 64 bytes), or undefined when it may not. */
function readString(addr: bigint, env: HelperEnv): string | undefined {
  if (addr === 0n) return '(null)';
  if (addr >= 0x100000000n) return undefined;
  const a = Number(addr);
  let s = '';
  for (let k = 0; k < 64; k++) {
    try {
      env.access(a + k, 1, false);
    } catch {
      return k === 0 ? undefined : s;
    }
    const b = env.u8[a + k]!;
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}
