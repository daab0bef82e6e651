/**
 * Hand-built `.BTF` and `.BTF.ext` bytes for tests and the hostile fuzzer:
 * types as raw records (kind number, vlen, kind_flag, size-or-type, the
 * words that follow), strings interned, headers filled in. Nothing is
 * checked here: a test that wants a dangling id or a bad count writes one.
 */

export interface RawType {
  name?: string;
  kind: number;
  vlen?: number;
  kindFlag?: boolean;
  sizeOrType: number;
  /** the words after the 12-byte common part; a string in place of a word is interned */
  extra?: (number | string)[];
}

/** A string table under construction: offset 0 is the empty string. */
export class Strings {
  readonly bytes: number[] = [0];
  private readonly at = new Map<string, number>([['', 0]]);
  add(s: string): number {
    const hit = this.at.get(s);
    if (hit !== undefined) return hit;
    const off = this.bytes.length;
    for (const b of new TextEncoder().encode(s)) this.bytes.push(b);
    this.bytes.push(0);
    this.at.set(s, off);
    return off;
  }
}

function words(ws: number[]): Uint8Array {
  const b = new Uint8Array(4 * ws.length);
  const v = new DataView(b.buffer);
  ws.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A `.BTF` section of these types (ids from 1, in order); `strings` may be shared with a `.BTF.ext`. */
export function writeBtf(types: readonly RawType[], strings = new Strings()): Uint8Array {
  const ws: number[] = [];
  for (const t of types) {
    ws.push(strings.add(t.name ?? ''), ((t.kindFlag ? 1 : 0) << 31) | ((t.kind & 0x1f) << 24) | ((t.vlen ?? 0) & 0xffff), t.sizeOrType);
    for (const x of t.extra ?? []) ws.push(typeof x === 'string' ? strings.add(x) : x);
  }
  const typeBytes = words(ws);
  const header = words([0x0001eb9f, 24, 0, typeBytes.length, typeBytes.length, strings.bytes.length]);
  return concat([header, typeBytes, Uint8Array.from(strings.bytes)]);
}

export interface ExtSection<R> {
  section: string;
  records: R[];
}

/** A `.BTF.ext` section: func_info, line_info and core_relo records; record fields are words, strings interned into `strings`. */
export function writeBtfExt(
  parts: { func?: ExtSection<(number | string)[]>[]; line?: ExtSection<(number | string)[]>[]; core?: ExtSection<(number | string)[]>[]; recSize?: { func?: number; line?: number; core?: number } },
  strings: Strings,
): Uint8Array {
  const region = (secs: ExtSection<(number | string)[]>[] | undefined, recSize: number): Uint8Array => {
    if (!secs || secs.length === 0) return new Uint8Array(0);
    const ws: number[] = [recSize];
    for (const s of secs) {
      ws.push(strings.add(s.section), s.records.length);
      for (const r of s.records) {
        const rec = r.map((x) => (typeof x === 'string' ? strings.add(x) : x));
        while (rec.length < recSize / 4) rec.push(0);
        ws.push(...rec);
      }
    }
    return words(ws);
  };
  const f = region(parts.func, parts.recSize?.func ?? 8);
  const l = region(parts.line, parts.recSize?.line ?? 16);
  const c = region(parts.core, parts.recSize?.core ?? 16);
  const header = words([0x0001eb9f, 32, 0, f.length, f.length, l.length, f.length + l.length, c.length]);
  return concat([header, f, l, c]);
}

/** line_col of a line number and column. */
export const lineCol = (line: number, col: number): number => ((line << 10) | col) >>> 0;
