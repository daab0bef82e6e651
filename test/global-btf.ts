/**
 * A small BTF writer for the global-function tests: the types a C compiler
 * emits for global functions (int, structs, pointers, prototypes, FUNCs with
 * their linkage, `arg:` decl tags), as the bytes BPF_BTF_LOAD takes (the
 * host kernel's side) and as the type table `globalFuncArgs` reads (tsbpf's
 * side), so that both judge the same prototypes.
 */

import type { BtfTypeView, BtfView } from '../src/verifier/modern/func-info.js';
import type { Rec as BtfRec, Str } from './btf-build.js';
import { btfBytes } from './btf-build.js';

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

  /** The .BTF bytes (little-endian), written by btf-build.ts's btfBytes. */
  bytes(): Uint8Array {
    return btfBytes(
      this.recs.map(({ view: t, members }) => (str: Str): BtfRec => {
        const rec: BtfRec = { name: t.name, kind: KIND[t.kind], vlen: 0, kflag: false, third: t.type ?? 0, extra: [] };
        switch (t.kind) {
          case 'int':
            rec.third = t.size!;
            rec.extra.push((1 << 24) | (t.size! * 8)); // signed, offset 0, bits
            break;
          case 'struct':
            rec.third = t.size!;
            rec.vlen = members!.length;
            for (const [n, ty, off] of members!) rec.extra.push(str(n), ty, off);
            break;
          case 'func_proto':
            rec.vlen = t.params!.length;
            for (const p of t.params!) rec.extra.push(str(p.name), p.type);
            break;
          case 'func':
            rec.vlen = t.linkage!;
            break;
          case 'decl_tag':
            rec.extra.push(t.componentIdx! >>> 0);
            break;
        }
        return rec;
      }),
    );
  }
}
