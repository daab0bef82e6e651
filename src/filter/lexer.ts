/**
 * The scanner of the pcap-filter language: the expression's text as tokens,
 * each with the column (1-based) it starts at, for errors that point at it.
 *
 * libpcap's scanner picks the longest match among its rules, the earlier
 * rule on a tie: so `10.1` is an address (not a name), `1-100` is a name
 * (a port range) rather than 1 and -100, `0x50` is a number, `tcp-syn` is
 * a named number, `aa:bb:cc:dd:ee:ff` a MAC address and `fe80::1` an IPv6
 * address. Words are keywords, named numbers or names, in that order (all
 * lower-case: `TCP` is a name, as in libpcap); a backslash makes a keyword a
 * plain name (`ip proto \tcp`).
 */

import { BpfError } from '../errors.js';
import { KEYWORDS, NAMED_NUMBERS, PROTO_KEYWORDS, UNSUPPORTED_KEYWORDS } from './names.js';

export type TokenKind = 'num' | 'hid' | 'hid6' | 'eid' | 'id' | 'kw' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** the text as written (for a `kw`, lower-case; for an escaped `id`, without the backslash) */
  text: string;
  /** 1-based column of the first character */
  col: number;
  /** the value of a `num` */
  value?: number;
}

const OPS = ['>=', '<=', '!=', '==', '<<', '>>', '&&', '||', '(', ')', '[', ']', ':', '+', '-', '*', '/', '%', '&', '|', '^', '>', '<', '=', '!'];

// the scanner's patterns, sticky; N is a decimal, octal or hex number
const N = '(?:0[xX][0-9a-fA-F]+|[0-9]+)';
const RE_NUM = new RegExp(N, 'y');
const RE_HID = new RegExp(`${N}(?:\\.${N}){1,3}`, 'y');
const B = '[0-9a-fA-F][0-9a-fA-F]?';
const B4 = '[0-9a-fA-F]{4}';
const RE_EID = new RegExp(`(?:${B}(?::${B}){5}|${B}(?:-${B}){5}|${B4}\\.${B4}\\.${B4})`, 'y');
const RE_HID6 = /[0-9a-fA-F:][0-9a-fA-F:.]*/y;
const RE_ID = /[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?/y;
const RE_ESC = /\\[^ !()\n\t]+/y;

/** Text for a one-line message: control characters and line separators as \\u{..} escapes. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

function stickyMatch(re: RegExp, text: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(text);
  return m ? m[0] : null;
}

/** A number as the scanner reads it: decimal, `0x` hex or `0`-prefixed octal; at most 32 bits. */
export function parseNumber(text: string, col: number): number {
  let v: bigint;
  if (/^0[xX]/.test(text)) v = BigInt(text);
  else if (/^0[0-7]+$/.test(text)) v = BigInt(`0o${text.slice(1)}`);
  else if (/^[0-9]+$/.test(text)) v = BigInt(text);
  else throw new BpfError('EINVAL', `syntax error at column ${col}: '${printable(text)}' is not a number`);
  if (v > 0xffffffffn) throw new BpfError('EINVAL', `number ${text} at column ${col} does not fit in 32 bits`);
  return Number(v);
}

/** The longest valid IPv6 address at the start of `text` (the HID6 rule), or null. */
function ipv6Prefix(candidate: string): string | null {
  for (let n = candidate.length; n >= 2; n--) {
    const s = candidate.slice(0, n);
    if (s.includes(':') && parseIpv6(s) !== null) return s;
  }
  return null;
}

/** The 16 bytes of an IPv6 address (with `::` and a trailing dotted quad), or null when malformed. */
export function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const q = p.split('.');
        if (q.length !== 4 || !q.every((x) => /^[0-9]{1,3}$/.test(x) && Number(x) <= 255)) return null;
        out.push((Number(q[0]) << 8) | Number(q[1]), (Number(q[2]) << 8) | Number(q[3]));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The tokens of `text`, ending with one `eof` token. */
export function tokenize(text: string): Token[] {
  if (typeof text !== 'string') throw new BpfError('EINVAL', `a filter expression must be a string, got ${text === null ? 'null' : typeof text}`);
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const col = i + 1;
    if (c === '\\') {
      const m = stickyMatch(RE_ESC, text, i);
      if (m === null || m.length < 2) throw new BpfError('EINVAL', `syntax error at column ${col}: a backslash must be followed by a name`);
      out.push({ kind: 'id', text: m.slice(1), col });
      i += m.length;
      continue;
    }
    // candidates in the scanner's rule order: the longest wins, the earlier on a tie
    const cands: [TokenKind, string][] = [];
    const num = stickyMatch(RE_NUM, text, i);
    if (num !== null) cands.push(['num', num]);
    const hid = stickyMatch(RE_HID, text, i);
    if (hid !== null) cands.push(['hid', hid]);
    const eid = stickyMatch(RE_EID, text, i);
    if (eid !== null) cands.push(['eid', eid]);
    const h6 = stickyMatch(RE_HID6, text, i);
    // the longest IPv6 address in text form is 45 characters
    const hid6 = h6 === null ? null : ipv6Prefix(h6.slice(0, 45));
    if (hid6 !== null) cands.push(['hid6', hid6]);
    const id = stickyMatch(RE_ID, text, i);
    if (id !== null) cands.push(['id', id]);
    if (cands.length > 0) {
      let best = cands[0]!;
      for (const cand of cands) if (cand[1].length > best[1].length) best = cand;
      const [kind, word] = best;
      i += word.length;
      if (kind === 'num') {
        out.push({ kind, text: word, col, value: parseNumber(word, col) });
      } else if (kind === 'id') {
        // keywords are lower-case, as in libpcap: `TCP` is a name (and a syntax error where a name cannot be)
        if (word === 'length') out.push({ kind: 'kw', text: 'len', col });
        else if (KEYWORDS.has(word) || PROTO_KEYWORDS.has(word)) out.push({ kind: 'kw', text: word, col });
        else if (NAMED_NUMBERS.has(word)) out.push({ kind: 'num', text: word, col, value: NAMED_NUMBERS.get(word)! });
        else if (UNSUPPORTED_KEYWORDS.has(word)) throw new BpfError('EINVAL', `'${printable(word)}' at column ${col} is not supported by this compiler`);
        else out.push({ kind: 'id', text: word, col });
      } else {
        out.push({ kind, text: word, col });
      }
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op === undefined) throw new BpfError('EINVAL', `syntax error at column ${col}: unexpected character '${printable(c)}'`);
    out.push({ kind: 'op', text: op, col });
    i += op.length;
  }
  out.push({ kind: 'eof', text: '', col: text.length + 1 });
  return out;
}
