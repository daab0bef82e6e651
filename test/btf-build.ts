/**
 * A BTF writer for the value tests: every kind a value can have (int with
 * its encoding, bit offset and width, ptr, array, struct and union with
 * kind_flag bitfields, enum and enum64 with signedness, float, typedef and
 * the qualifiers, type_tag, fwd, var, datasec), written as a `.BTF`
 * section's bytes for `new Btf(...)`. Ids are returned in order from 1.
 */

/** One type record: its name, kind, vlen, kind_flag, the word after info (size or type) and the words that follow. */
export type Rec = { name: string; kind: number; vlen: number; kflag: boolean; third: number; extra: number[] };
/** A string's offset in the string section (added on first use). */
export type Str = (s: string) => number;

export class BtfBuilder {
  private readonly recs: ((str: Str) => Rec)[] = [];

  private add(r: (str: Str) => Rec): number {
    this.recs.push(r);
    return this.recs.length;
  }

  int(name: string, size: number, opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; offset?: number } = {}): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    const bits = opts.bits ?? size * 8;
    return this.add(() => ({ name, kind: 1, vlen: 0, kflag: false, third: size, extra: [(enc << 24) | ((opts.offset ?? 0) << 16) | bits] }));
  }
  ptr(type: number): number {
    return this.add(() => ({ name: '', kind: 2, vlen: 0, kflag: false, third: type, extra: [] }));
  }
  array(elem: number, index: number, n: number): number {
    return this.add(() => ({ name: '', kind: 3, vlen: 0, kflag: false, third: 0, extra: [elem, index, n] }));
  }
  /** members: [name, type, bit offset, bitfield size (kind_flag when any is non-zero)] */
  composite(kind: 'struct' | 'union', name: string, size: number, members: [string, number, number, number?][]): number {
    const kflag = members.some((m) => (m[3] ?? 0) > 0);
    return this.add((str) => ({
      name, kind: kind === 'struct' ? 4 : 5, vlen: members.length, kflag, third: size,
      extra: members.flatMap(([n, t, off, bits]) => [str(n), t, kflag ? (((bits ?? 0) << 24) | off) >>> 0 : off]),
    }));
  }
  enum(name: string, size: number, values: [string, bigint][], opts: { signed?: boolean; wide?: boolean } = {}): number {
    return this.add((str) => ({
      name, kind: opts.wide ? 19 : 6, vlen: values.length, kflag: opts.signed === true, third: size,
      extra: values.flatMap(([n, v]) => {
        const u = BigInt.asUintN(64, v);
        return opts.wide ? [str(n), Number(u & 0xffffffffn), Number(u >> 32n)] : [str(n), Number(u & 0xffffffffn)];
      }),
    }));
  }
  float(name: string, size: number): number {
    return this.add(() => ({ name, kind: 16, vlen: 0, kflag: false, third: size, extra: [] }));
  }
  /** typedef (8), volatile (9), const (10), restrict (11), type_tag (18) */
  modifier(kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag', type: number, name = ''): number {
    const k = { typedef: 8, volatile: 9, const: 10, restrict: 11, type_tag: 18 }[kind];
    return this.add(() => ({ name, kind: k, vlen: 0, kflag: false, third: type, extra: [] }));
  }
  fwd(name: string): number {
    return this.add(() => ({ name, kind: 7, vlen: 0, kflag: false, third: 0, extra: [] }));
  }
  variable(name: string, type: number): number {
    return this.add(() => ({ name, kind: 14, vlen: 0, kflag: false, third: type, extra: [1] }));
  }
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.add(() => ({ name, kind: 15, vlen: vars.length, kflag: false, third: size, extra: vars.flat() }));
  }

  bytes(): Uint8Array {
    return btfBytes(this.recs);
  }
}

/** A `.BTF` section (header, type records in id order from 1, deduplicated strings), little-endian. */
export function btfBytes(recs: readonly ((str: Str) => Rec)[]): Uint8Array {
  const strs: number[] = [0];
  const offs = new Map<string, number>([['', 0]]);
  const str = (s: string): number => {
    let o = offs.get(s);
    if (o === undefined) {
      o = strs.length;
      offs.set(s, o);
      strs.push(...new TextEncoder().encode(s), 0);
    }
    return o;
  };
  const words: number[] = [];
  for (const r of recs.map((f) => f(str))) {
    words.push(str(r.name), ((r.kflag ? 0x80000000 : 0) | (r.kind << 24) | r.vlen) >>> 0, r.third, ...r.extra);
  }
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + strs.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strs.length, true);
  words.forEach((w, i) => v.setUint32(24 + 4 * i, w >>> 0, true));
  out.set(strs, 24 + typeLen);
  return out;
}
