/**
 * A small BTF writer for the global-function tests: the types a C compiler
 * emits for global functions (int, structs, pointers, prototypes, FUNCs with
 * their linkage, `arg:` decl tags), as the bytes BPF_BTF_LOAD takes (the
 * host kernel's side) and as the type table `globalFuncArgs` reads (tsbpf's
 * side), so that both judge the same prototypes.
 */

import type { BtfTypeView, BtfView } from '../src/verifier/modern/func-info.js';

const KIND = { int: 1, ptr: 2, struct: 4, func: 12, func_proto: 13, decl_tag: 17 } as const;

interface Rec {
  view: BtfTypeView & { kind: keyof typeof KIND };
  /** struct members: name, type, bit offset */
  members?: [string, number, number][];
}

export class BtfWriter {
  private readonly recs: Rec[] = [];

  private add(r: Rec): number {
    this.recs.push(r);
    return this.recs.length;
  }

  int(name = 'int', size = 4): number {
    return this.add({ view: { kind: 'int', name, size } });
  }
  ptr(type: number): number {
    return this.add({ view: { kind: 'ptr', name: '', type } });
  }
  struct(name: string, size: number, members: [string, number, number][] = []): number {
    return this.add({ view: { kind: 'struct', name, size }, members });
  }
  proto(ret: number, params: number[]): number {
    return this.add({ view: { kind: 'func_proto', name: '', type: ret, params: params.map((type, i) => ({ name: `a${i}`, type })) } });
  }
  func(name: string, proto: number, linkage: 'static' | 'global'): number {
    return this.add({ view: { kind: 'func', name, type: proto, linkage: linkage === 'global' ? 1 : 0 } });
  }
  tag(name: string, target: number, componentIdx: number): number {
    return this.add({ view: { kind: 'decl_tag', name, type: target, componentIdx } });
  }

  /** The table globalFuncArgs reads: types[id], id 0 void. */
  view(): BtfView {
    return { types: [undefined, ...this.recs.map((r) => r.view)] };
  }

  /** The .BTF bytes (little-endian). */
  bytes(): Uint8Array {
    const strs: number[] = [0];
    const strOff = new Map<string, number>([['', 0]]);
    const str = (s: string): number => {
      let o = strOff.get(s);
      if (o === undefined) {
        o = strs.length;
        strOff.set(s, o);
        strs.push(...new TextEncoder().encode(s), 0);
      }
      return o;
    };
    const words: number[] = [];
    for (const { view: t, members } of this.recs) {
      const kind = KIND[t.kind];
      let vlen = 0;
      let third = t.type ?? 0;
      const extra: number[] = [];
      switch (t.kind) {
        case 'int':
          third = t.size!;
          extra.push((1 << 24) | (t.size! * 8)); // signed, offset 0, bits
          break;
        case 'struct':
          third = t.size!;
          vlen = members!.length;
          for (const [n, ty, off] of members!) extra.push(str(n), ty, off);
          break;
        case 'func_proto':
          vlen = t.params!.length;
          for (const p of t.params!) extra.push(str(p.name), p.type);
          break;
        case 'func':
          vlen = t.linkage!;
          break;
        case 'decl_tag':
          extra.push(t.componentIdx! >>> 0);
          break;
      }
      words.push(str(t.name), (kind << 24) | vlen, third, ...extra);
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
}
