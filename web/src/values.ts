/**
 * The maps tables' text form of BTF-decoded keys and values (what
 * btfCodecs gives: numbers, bigints, booleans, strings, arrays, objects by
 * field name, Uint8Array for the odd type with no better form) and its
 * reader. The form is JSON loosened for typing by hand: field names need no
 * quotes, a bare word is a string (an enum's name), integers may be hex
 * (0x...) and any size (a bigint past 2^53), and raw bytes are <hex>.
 * `formatValue` and `parseValue` are inverse for every decoded value, so a
 * cell edited back unchanged writes the same bytes. Errors are BpfError
 * EINVAL naming the column, one line.
 */
import { BpfError } from '../../src/index.js';
import { toHex, fromHex } from './packet.js';

/** A decoded key or value: the shape of tsbpf's BtfValue. */
export type Value = number | bigint | boolean | string | Uint8Array | Value[] | { [field: string]: Value };

/** True for a decoded struct or union: an object by field name. */
export function isRecord(v: Value): v is { [field: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const BARE = /^[A-Za-z_][\w]*$/;

/** A value as one line: `{ saddr: 16777226, proto: 6 }`, `[0, 0, 54]`, `"eth0"`, `V_PASS` stays quoted. */
export function formatValue(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `<${toHex(v)}>`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  const fields = Object.entries(v).map(([k, x]) => `${BARE.test(k) ? k : JSON.stringify(k)}: ${formatValue(x)}`);
  return fields.length ? `{ ${fields.join(', ')} }` : '{}';
}

/** Read one value of the loose form; `what` names it in errors (`value.sport`). */
export function parseValue(text: string, what: string): Value {
  let i = 0;
  const fail = (msg: string): never => {
    throw new BpfError('EINVAL', `${what}: ${msg} at column ${i + 1}`);
  };
  const space = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (depth: number): Value => {
    // nesting deeper than any BTF type allows is a typo or a hostile paste
    if (depth > 64) fail('nested too deeply');
    space();
    const c = text[i];
    if (c === undefined) return fail('a value is missing');
    if (c === '{') {
      i++;
      const out: { [field: string]: Value } = {};
      space();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        space();
        let name: string;
        const m = /^[A-Za-z_][\w]*/.exec(text.slice(i));
        if (m) {
          name = m[0];
          i += name.length;
        } else if (text[i] === '"') name = quoted();
        else return fail('expected a field name');
        space();
        if (text[i] !== ':') fail(`expected ':' after ${name}`);
        i++;
        out[name] = value(depth + 1);
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return out;
        }
        return fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const out: Value[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return out;
        }
        return fail("expected ',' or ']'");
      }
    }
    if (c === '"') return quoted();
    if (c === '<') {
      const end = text.indexOf('>', i);
      if (end < 0) fail("'<' without its '>'");
      const hex = text.slice(i + 1, end).replace(/\s/g, '');
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) fail('bytes in <> must be pairs of hex digits');
      i = end + 1;
      return fromHex(hex);
    }
    const num = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      const s = num[0];
      if (/[.eE]/.test(s) && !/^-?0x/.test(s)) return Number(s);
      const neg = s.startsWith('-');
      const big = BigInt(neg ? s.slice(1) : s);
      const n = neg ? -big : big;
      // small integers as numbers, as the codecs decode 32-bit fields; larger ones stay exact
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    const word = /^[A-Za-z_][\w]*/.exec(text.slice(i));
    if (word) {
      i += word[0].length;
      return word[0] === 'true' ? true : word[0] === 'false' ? false : word[0];
    }
    return fail(`unexpected '${c}'`);
  };
  const quoted = (): string => {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
    if (!m) return fail('a string without its closing quote');
    try {
      const s = JSON.parse(m[0]) as string;
      i += m[0].length;
      return s;
    } catch {
      return fail('a bad escape in a string');
    }
  };
  const v = value(0);
  space();
  if (i < text.length) fail('unexpected text after the value');
  return v;
}

/** A 64-bit field decodes as a bigint: a number the user typed there compares equal by its text. */
export function sameValue(a: Value, b: Value): boolean {
  return formatValue(a) === formatValue(b);
}
