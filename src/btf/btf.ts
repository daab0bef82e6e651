/**
 * The `.BTF` section as a type system: every kind of the uapi's btf.h (int
 * to enum64), kind_flag included (bitfield member offsets, enum signedness,
 * a forward declaration of a union), and the questions callers ask of it:
 * a type by id, through typedefs and qualifiers to what it really is, its
 * size, and a C-like name for messages. Reading is checked throughout: the
 * header, each record's extent, every string offset and every type id a
 * record names, so that anything built on a `Btf` never meets a dangling id.
 * Errors are BpfError EINVAL `section .BTF: offset N: ...`; the work is
 * linear in the section (each type is read once, resolution and sizes are
 * memoised, names are bounded in length).
 *
 * What BTF means for maps, values and programs is the callers' business
 * (loader/, api/); this file only reads and answers.
 */

import { BpfError } from '../errors.js';

/** The kinds by their uapi numbers (BTF_KIND_*). */
export const BTF_KIND = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

/** A kind's name, as bpftool prints it (lower case). */
export type BtfKindName =
  | 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' | 'volatile' | 'const' | 'restrict'
  | 'func' | 'func_proto' | 'var' | 'datasec' | 'float' | 'decl_tag' | 'type_tag' | 'enum64';

const KIND_NAMES: readonly (BtfKindName | undefined)[] = [
  undefined, 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const', 'restrict',
  'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];

/** The magic of both sections, little-endian (0xeb9f). */
export const BTF_MAGIC = 0xeb9f;

/** BTF_INT_ENCODING bits. */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

/** Linkage of a FUNC (its vlen) and of a VAR. */
export const BTF_FUNC_LINKAGE = ['static', 'global', 'extern'] as const;
export const BTF_VAR_LINKAGE = ['static', 'global', 'extern'] as const;

/** A struct or union member: its bit offset, and its bitfield width (0 when it is not a bitfield). */
export interface BtfMember {
  name: string;
  type: number;
  bitOffset: number;
  bitfieldSize: number;
}

export interface BtfEnumValue {
  name: string;
  /** as a bigint: enum64 values do not fit a number, and signedness decides the sign */
  value: bigint;
}

export interface BtfParam {
  name: string;
  /** 0 for the `...` of a variadic function (the last parameter only) */
  type: number;
}

export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

interface Base {
  id: number;
  name: string;
}

/** One type record; `type` is the type it refers to where the kind has one. */
export type BtfType =
  | (Base & { kind: 'int'; size: number; encoding: number; bitOffset: number; bits: number })
  | (Base & { kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'; type: number })
  | (Base & { kind: 'array'; type: number; indexType: number; nelems: number })
  | (Base & { kind: 'struct' | 'union'; size: number; kindFlag: boolean; members: BtfMember[] })
  | (Base & { kind: 'enum' | 'enum64'; size: number; signed: boolean; values: BtfEnumValue[] })
  | (Base & { kind: 'fwd'; union: boolean })
  | (Base & { kind: 'func'; type: number; linkage: number })
  | (Base & { kind: 'func_proto'; type: number; params: BtfParam[] })
  | (Base & { kind: 'var'; type: number; linkage: number })
  | (Base & { kind: 'datasec'; size: number; vars: BtfVarSecinfo[] })
  | (Base & { kind: 'float'; size: number })
  | (Base & { kind: 'decl_tag'; type: number; componentIdx: number });

/** The kinds that are another type under a name or qualifier. */
const MODIFIERS = new Set<BtfKindName>(['typedef', 'volatile', 'const', 'restrict', 'type_tag']);

/** The most types a section may hold: the kernel's BTF_MAX_TYPE (ids fit 20 bits). */
export const BTF_MAX_TYPE = 0xfffff;
/** A name longer than this is cut in messages (a C-like name of nested arrays and pointers is built, not read). */
const NAME_MAX = 256;

/** Control characters (names come from the object) escaped, so an error stays one printable line. */
export function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The BpfError of bad input in a section. */
export function sectionError(section: string, msg: string): BpfError {
  return new BpfError('EINVAL', escapeControls(`section ${section}: ${msg}`));
}

/** The string table of a BTF section, decoded once per offset with a budget that keeps overlapping names linear. */
export class BtfStrings {
  private readonly names = new Map<number, string>();
  private readonly decoder = new TextDecoder();
  private budget: number;

  /** `section`: the section's name for errors (`.BTF`) */
  constructor(private readonly bytes: Uint8Array, private readonly section = '.BTF') {
    // Many names may point into one long string, each costing its length to
    // scan: a budget of a few passes over the table keeps the work linear in
    // the section size (real tables are read about once over).
    this.budget = 16 * bytes.length + 65536;
  }


  get length(): number {
    return this.bytes.length;
  }

  /**
   * The NUL-terminated string at `off`; `what` says whose offset it is in an
   * error (a function: the message is built only when there is one),
   * `section` which section holds that offset.
   */
  at(off: number, what: string | (() => string), section = this.section): string {
    const hit = this.names.get(off);
    if (hit !== undefined) return hit;
    const w = (): string => (typeof what === 'function' ? what() : what);
    if (off >= this.bytes.length) throw sectionError(section, `${w()}: string offset ${off} is past the string table (${this.bytes.length} bytes)`);
    const end = this.bytes.indexOf(0, off);
    if (end < 0) throw sectionError(section, `${w()}: the string at ${off} is not NUL-terminated`);
    this.budget -= end - off + 1;
    if (this.budget < 0) throw sectionError(section, `${w()}: the string at ${off}: too many overlapping strings`);
    const s = this.decoder.decode(this.bytes.subarray(off, end));
    this.names.set(off, s);
    return s;
  }
}

/** A parsed `.BTF` section. Ids index `types`; id 0 is void. */
export class Btf {
  /** types[id] for id >= 1; types[0] is undefined (void) */
  readonly types: readonly (BtfType | undefined)[];
  readonly strings: BtfStrings;
  /** the header's version and flags */
  readonly version: number;
  readonly flags: number;
  private readonly resolved: Int32Array;
  private readonly sizes: Float64Array;
  /** types typeName may still visit: a prototype of many prototypes is wide as well as deep */
  private nameBudget = 0;

  constructor(data: Uint8Array) {
    const err = (msg: string): BpfError => sectionError('.BTF', msg);
    if (data.length < 24) throw err(`offset 0: ${data.length} bytes, too short for a header (24)`);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const magic = v.getUint16(0, true);
    if (magic !== BTF_MAGIC) throw err(`offset 0: bad magic 0x${magic.toString(16)}${magic === 0x9feb ? ' (a big-endian BTF)' : ''}`);
    this.version = v.getUint8(2);
    this.flags = v.getUint8(3);
    if (this.version !== 1) throw err(`offset 2: version ${this.version} (only 1 is known)`);
    const hdrLen = v.getUint32(4, true);
    if (hdrLen < 24 || hdrLen > data.length) throw err(`offset 4: header length ${hdrLen} is not between 24 and the section's ${data.length} bytes`);
    const typeOff = v.getUint32(8, true);
    const typeLen = v.getUint32(12, true);
    const strOff = v.getUint32(16, true);
    const strLen = v.getUint32(20, true);
    const region = (off: number, len: number, what: string): void => {
      if (hdrLen + off + len > data.length) throw err(`offset ${hdrLen + off}: the ${what} (${len} bytes) runs past the section's ${data.length} bytes`);
    };
    region(typeOff, typeLen, 'type table');
    region(strOff, strLen, 'string table');
    if (typeLen % 4 !== 0) throw err(`offset 12: type table length ${typeLen} is not a multiple of 4`);
    this.strings = new BtfStrings(data.subarray(hdrLen + strOff, hdrLen + strOff + strLen));
    if (strLen > 0 && data[hdrLen + strOff] !== 0) throw err(`offset ${hdrLen + strOff}: the string table does not start with an empty string`);

    const types: (BtfType | undefined)[] = [undefined];
    // type ids named by records, checked once every type is read (a record may name a later one):
    // where, which id, whose, and what for (the message is built only for a bad one)
    const refAt: number[] = [];
    const refId: number[] = [];
    const refOwner: number[] = [];
    const refWhat: string[] = [];
    const refIdx: number[] = [];
    const base = hdrLen + typeOff;
    const end = base + typeLen;
    let p = base;
    /** where the type being read starts, for errors */
    let start = p;
    const u32 = (at: number): number => {
      if (at + 4 > end) throw err(`offset ${start}: type ${types.length} runs past the type table (${typeLen} bytes)`);
      return v.getUint32(at, true);
    };
    const name = (at: number, id: number, what?: string, i?: number): string =>
      this.strings.at(u32(at), () => `offset ${at}: type ${id}${what === undefined ? '' : ` ${what} ${i!}`}`);
    while (p < end) {
      start = p;
      const id = types.length;
      if (id > BTF_MAX_TYPE) throw err(`offset ${start}: more than ${BTF_MAX_TYPE} types`);
      const info = u32(p + 4);
      const kindNo = (info >>> 24) & 0x1f;
      const kind = KIND_NAMES[kindNo];
      if (kind === undefined) throw err(`offset ${start}: type ${id}: unknown kind ${kindNo}`);
      const vlen = info & 0xffff;
      const kindFlag = (info & 0x80000000) !== 0;
      const tname = name(p, id);
      const sizeOrType = u32(p + 8);
      const ref = (at: number, tid: number, what: string, i = -1): number => {
        refAt.push(at);
        refId.push(tid);
        refOwner.push(id);
        refWhat.push(what);
        refIdx.push(i);
        return tid;
      };
      p += 12;
      let t: BtfType;
      switch (kind) {
        case 'int': {
          const word = u32(p);
          const bits = word & 0xff;
          const bitOffset = (word >>> 16) & 0xff;
          const encoding = (word >>> 24) & 0x0f;
          if (![1, 2, 4, 8, 16].includes(sizeOrType)) throw err(`offset ${start}: type ${id} (int ${tname}): size ${sizeOrType} is not 1, 2, 4, 8 or 16`);
          if (bits === 0 || bits > 128 || bitOffset + bits > sizeOrType * 8) throw err(`offset ${start}: type ${id} (int ${tname}): ${bits} bits at bit ${bitOffset} do not fit ${sizeOrType} bytes`);
          if ((encoding & ~7) !== 0 || (encoding & (encoding - 1)) !== 0) throw err(`offset ${start}: type ${id} (int ${tname}): bad encoding ${encoding}`);
          t = { id, name: tname, kind, size: sizeOrType, encoding, bitOffset, bits };
          p += 4;
          break;
        }
        case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
          t = { id, name: tname, kind, type: ref(start + 8, sizeOrType, 'refers to') };
          break;
        case 'array':
          t = { id, name: tname, kind, type: ref(p, u32(p), 'element type'), indexType: ref(p + 4, u32(p + 4), 'index type'), nelems: u32(p + 8) };
          p += 12;
          break;
        case 'struct': case 'union': {
          const members: BtfMember[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const off = u32(p + 8);
            const member: BtfMember = {
              name: name(p, id, 'member', i),
              type: ref(p + 4, u32(p + 4), 'member', i),
              // kind_flag: the offset word is bitfield size (8 bits) and bit offset (24 bits)
              bitOffset: kindFlag ? off & 0xffffff : off,
              bitfieldSize: kindFlag ? off >>> 24 : 0,
            };
            if (member.bitOffset + member.bitfieldSize > sizeOrType * 8) {
              throw err(`offset ${p}: type ${id} (${kind} ${tname}): member ${member.name || i} at bit ${member.bitOffset} runs past its ${sizeOrType} bytes`);
            }
            members.push(member);
          }
          t = { id, name: tname, kind, size: sizeOrType, kindFlag, members };
          break;
        }
        case 'enum': case 'enum64': {
          const values: BtfEnumValue[] = [];
          const wide = kind === 'enum64';
          if (![1, 2, 4, 8].includes(sizeOrType)) throw err(`offset ${start}: type ${id} (${kind} ${tname}): size ${sizeOrType} is not 1, 2, 4 or 8`);
          for (let i = 0; i < vlen; i++, p += wide ? 12 : 8) {
            const vname = name(p, id, 'value', i);
            const lo = u32(p + 4);
            let value = wide ? (BigInt(u32(p + 8)) << 32n) | BigInt(lo) : BigInt(lo);
            // kind_flag: the values are signed
            if (kindFlag) value = wide ? BigInt.asIntN(64, value) : BigInt.asIntN(32, value);
            values.push({ name: vname, value });
          }
          t = { id, name: tname, kind, size: sizeOrType, signed: kindFlag, values };
          break;
        }
        case 'fwd':
          t = { id, name: tname, kind, union: kindFlag };
          break;
        case 'func':
          if (vlen > 2) throw err(`offset ${start}: type ${id} (func ${tname}): linkage ${vlen} is not static, global or extern`);
          t = { id, name: tname, kind, type: ref(start + 8, sizeOrType, 'prototype'), linkage: vlen };
          break;
        case 'func_proto': {
          const params: BtfParam[] = [];
          for (let i = 0; i < vlen; i++, p += 8) {
            const param = { name: name(p, id, 'parameter', i), type: u32(p + 4) };
            // type 0 is the `...` of a variadic function, which only the last parameter may be
            if (param.type !== 0 || i !== vlen - 1) ref(p + 4, param.type, 'parameter', i);
            params.push(param);
          }
          t = { id, name: tname, kind, type: sizeOrType === 0 ? 0 : ref(start + 8, sizeOrType, 'return type'), params };
          break;
        }
        case 'var': {
          const linkage = u32(p);
          if (linkage > 2) throw err(`offset ${p}: type ${id} (var ${tname}): linkage ${linkage} is not static, global or extern`);
          t = { id, name: tname, kind, type: ref(start + 8, sizeOrType, 'type'), linkage };
          p += 4;
          break;
        }
        case 'datasec': {
          const vars: BtfVarSecinfo[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const sec = { type: ref(p, u32(p), 'variable', i), offset: u32(p + 4), size: u32(p + 8) };
            if (sizeOrType !== 0 && sec.offset + sec.size > sizeOrType) {
              throw err(`offset ${p}: type ${id} (datasec ${tname}): variable ${i} at ${sec.offset} (${sec.size} bytes) runs past its ${sizeOrType} bytes`);
            }
            vars.push(sec);
          }
          t = { id, name: tname, kind, size: sizeOrType, vars };
          break;
        }
        case 'float':
          if (![2, 4, 8, 12, 16].includes(sizeOrType)) throw err(`offset ${start}: type ${id} (float ${tname}): size ${sizeOrType} is not 2, 4, 8, 12 or 16`);
          t = { id, name: tname, kind, size: sizeOrType };
          break;
        case 'decl_tag': {
          const componentIdx = u32(p) | 0;
          t = { id, name: tname, kind, type: ref(start + 8, sizeOrType, 'tagged type'), componentIdx };
          p += 4;
          break;
        }
      }
      if (p > end) throw err(`offset ${start}: type ${id} runs past the type table (${typeLen} bytes)`);
      types.push(t);
    }
    for (let k = 0; k < refId.length; k++) {
      if (refId[k]! < types.length) continue;
      const owner = types[refOwner[k]!]!;
      const what = refIdx[k]! < 0 ? refWhat[k]! : `${refWhat[k]!} ${refIdx[k]!}`;
      throw err(`offset ${refAt[k]!}: type ${owner.id} (${owner.kind}${owner.name ? ` ${owner.name}` : ''}): ${what}: type ${refId[k]!} does not exist (${types.length - 1} types)`);
    }
    this.types = types;
    this.resolved = new Int32Array(types.length).fill(-1);
    this.sizes = new Float64Array(types.length).fill(-1);
  }

  /** How many types (ids 1..count). */
  get count(): number {
    return this.types.length - 1;
  }

  /** The type of an id, or a BpfError for 0 (void) and ids past the table. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw sectionError('.BTF', `type ${id} does not exist (${this.count} types)`);
    return t;
  }

  /** The first type of a name and kind (names need not be unique; the first wins, as bpftool finds them). */
  find(name: string, kind?: BtfKindName): BtfType | undefined {
    for (const t of this.types) if (t !== undefined && t.name === name && (kind === undefined || t.kind === kind)) return t;
    return undefined;
  }

  /**
   * The id of what `id` is under typedefs, qualifiers and type tags (and a
   * var's type): 0 for void. Memoised, so resolving every type is linear; a
   * cycle of typedefs is EINVAL.
   */
  resolveId(id: number): number {
    const start = id;
    const chain: number[] = [];
    for (;;) {
      if (id === 0) break;
      const memo = this.resolved[id]!;
      if (memo >= 0) {
        id = memo;
        break;
      }
      if (memo === -2) throw sectionError('.BTF', `type ${start}: a cycle of typedefs or qualifiers`);
      const t = this.type(id);
      if (!MODIFIERS.has(t.kind) && t.kind !== 'var') break;
      this.resolved[id] = -2;
      chain.push(id);
      id = (t as { type: number }).type;
    }
    for (const c of chain) this.resolved[c] = id;
    return id;
  }

  /** The type under typedefs and qualifiers; undefined for void. */
  resolve(id: number): BtfType | undefined {
    const r = this.resolveId(id);
    return r === 0 ? undefined : this.type(r);
  }

  /**
   * The size in bytes of a value of the type, as the kernel's
   * btf_type_size/btf_resolve_size count it: arrays multiply, pointers are 8.
   * void, functions and forward declarations have none (EINVAL). Memoised,
   * with a cycle (an array of itself) refused.
   */
  sizeOf(id: number): number {
    const stack: number[] = [];
    let cur = id;
    // iterative over array chains, so nesting depth costs no recursion
    for (;;) {
      const r = this.resolveId(cur);
      const memo = r === 0 ? -1 : this.sizes[r]!;
      if (memo >= 0) {
        let size = memo;
        while (stack.length > 0) {
          const a = stack.pop()!;
          size *= (this.types[a] as { nelems: number }).nelems;
          this.sizes[a] = size;
        }
        return size;
      }
      if (memo === -2) throw sectionError('.BTF', `type ${id}: an array that contains itself`);
      const t = r === 0 ? undefined : this.type(r);
      let size: number;
      switch (t?.kind) {
        case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'float': case 'datasec':
          size = t.size;
          break;
        case 'ptr':
          size = 8;
          break;
        case 'array':
          this.sizes[r] = -2;
          stack.push(r);
          cur = t.type;
          continue;
        default:
          for (const a of stack) this.sizes[a] = -1;
          throw sectionError('.BTF', `type ${id} (${this.typeName(id)}) has no size`);
      }
      this.sizes[r] = size;
      cur = r;
    }
  }

  /**
   * A C-like name for messages: `int`, `struct flow`, `__u32`, `const char *`,
   * `int[4]`, `int (*)(void *, __u32)`, `void`. Named types print their
   * names (a typedef's, not what it stands for); built names are cut at 256
   * characters so a hostile chain of pointers costs nothing.
   */
  typeName(id: number): string {
    this.nameBudget = 512;
    const s = this.nameOf(id, '', 0);
    return s.length > NAME_MAX ? `${s.slice(0, NAME_MAX)}...` : s;
  }

  /**
   * A function's declaration as bpftool prints a function's header, from a
   * FUNC (or FUNC_PROTO) id and a name: `int sum(struct xdp_md * ctx, int n)`
   * (each parameter its type's name, a space, its name; `...` for varargs).
   */
  funcDecl(id: number, name?: string): string {
    const t = this.type(id);
    const fname = name ?? t.name;
    const proto = t.kind === 'func' ? this.types[t.type] : t;
    if (proto === undefined || proto.kind !== 'func_proto') throw sectionError('.BTF', `type ${id} (${t.kind}) is not a function`);
    const params = proto.params.map((p) => (p.type === 0 ? '...' : p.name === '' ? this.typeName(p.type) : `${this.typeName(p.type)} ${p.name}`));
    return `${this.typeName(proto.type)} ${fname}(${params.join(', ')})`;
  }

  /** C's declarator inside out: `inner` is what stands where the name would. */
  private nameOf(id: number, inner: string, depth: number): string {
    const join = (base: string): string => (inner === '' ? base : inner.startsWith('[') ? `${base}${inner}` : `${base} ${inner}`);
    if (depth > 32 || inner.length > NAME_MAX || --this.nameBudget < 0) return join('...');
    if (id === 0) return join('void');
    const t = this.type(id);
    switch (t.kind) {
      case 'int': case 'float': case 'typedef': case 'var': case 'datasec': case 'func':
        return join(t.name || `(anon ${t.kind})`);
      case 'struct': case 'union': case 'enum':
        return join(`${t.kind} ${t.name || '(anon)'}`);
      case 'enum64':
        return join(`enum ${t.name || '(anon)'}`);
      case 'fwd':
        return join(`${t.union ? 'union' : 'struct'} ${t.name || '(anon)'}`);
      case 'ptr': {
        const to = this.types[t.type];
        // a pointer to an array or function needs parentheses: int (*)[4]
        const paren = to !== undefined && (to.kind === 'array' || to.kind === 'func_proto');
        return this.nameOf(t.type, paren ? `(*${inner})` : `*${inner}`, depth + 1);
      }
      case 'const': case 'volatile': case 'restrict': {
        const to = this.types[t.type];
        // a qualified pointer reads `int * const`; anything else `const int`
        if (to !== undefined && to.kind === 'ptr') return this.nameOf(t.type, inner === '' ? t.kind : `${t.kind} ${inner}`, depth + 1);
        return `${t.kind} ${this.nameOf(t.type, inner, depth + 1)}`;
      }
      case 'type_tag':
        return this.nameOf(t.type, inner, depth + 1);
      case 'decl_tag':
        return join(`decl_tag ${t.name}`);
      case 'array':
        return this.nameOf(t.type, `${inner}[${t.nelems}]`, depth + 1);
      case 'func_proto': {
        const params = t.params.length === 0 ? 'void' : t.params.map((p) => (p.type === 0 ? '...' : this.nameOf(p.type, '', depth + 1))).join(', ');
        return this.nameOf(t.type, `${inner === '' ? '' : inner}(${params})`, depth + 1);
      }
    }
  }
}
