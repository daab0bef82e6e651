/**
 * Just enough BTF to read BTF-defined maps: the type table of the `.BTF`
 * section, sizes of types, and the `.maps` DATASEC whose variables are
 * anonymous structs in libbpf's convention (`__uint(type, N)` is a pointer to
 * an array of N elements, `__type(key, T)` a pointer to T, and so on).
 * `__array(values, T)` (a flexible array of pointers) makes a prog array's
 * slots (T a function prototype) or a map of maps' (T the inner map's
 * definition, read the same way); where its slots sit in the definition is
 * returned with the map, for the `.rel.maps` relocations that fill them.
 * Every offset is bounds-checked; errors name the section and offset.
 */

import { BpfError } from '../errors.js';
import type { MapSpecData } from './spec.js';

/** enum bpf_map_type: the types whose definitions may have `__array(values, ...)` */
const PROG_ARRAY = 3;
const ARRAY_OF_MAPS = 12;
const HASH_OF_MAPS = 13;

/** A BTF-defined map: its spec, and where its definition lies in `.maps`. */
export interface BtfMapDef {
  spec: MapSpecData;
  /** the variable's offset and size in the `.maps` section */
  offset: number;
  size: number;
  /** `__array(values, ...)`: the slots' byte offset in the definition, and what they name */
  values?: { offset: number; kind: 'program' | 'map' };
}

const KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

interface BtfType {
  name: string;
  kind: number;
  /** kind_flag: for a struct, member offsets carry a bitfield size in their top 8 bits */
  kflag: boolean;
  vlen: number;
  /** size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, referenced type for PTR/TYPEDEF/... */
  sizeOrType: number;
  /** ARRAY: elem type and nelems; STRUCT/UNION: members; DATASEC: variables */
  array?: { type: number; nelems: number };
  members?: { name: string; type: number; offset: number }[];
  vars?: { type: number; offset: number; size: number }[];
}

const fail = (msg: string): never => {
  throw new BpfError('EINVAL', `section .BTF: ${msg}`);
};

export class Btf {
  private readonly types: BtfType[] = [{ name: '', kind: 0, kflag: false, vlen: 0, sizeOrType: 0 }];

  constructor(data: Uint8Array) {
    if (data.length < 24) fail(`offset 0: ${data.length} bytes, too short for a header`);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (v.getUint16(0, true) !== 0xeb9f) fail(`offset 0: bad magic 0x${v.getUint16(0, true).toString(16)} (or a big-endian BTF)`);
    const hdrLen = v.getUint32(4, true);
    const typeOff = v.getUint32(8, true);
    const typeLen = v.getUint32(12, true);
    const strOff = v.getUint32(16, true);
    const strLen = v.getUint32(20, true);
    const check = (off: number, len: number, what: string): void => {
      if (hdrLen + off + len > data.length || hdrLen + off + len < hdrLen + off) fail(`offset ${hdrLen + off}: the ${what} (${len} bytes) runs past the section's ${data.length} bytes`);
    };
    check(typeOff, typeLen, 'type table');
    check(strOff, strLen, 'string table');
    const strs = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    // Many names point into one long string, each costing its length to scan
    // and decode: a budget of a few passes over the table keeps the work
    // linear in the section size (real tables are read about once over).
    const names = new Map<number, string>();
    const decoder = new TextDecoder();
    let budget = 16 * strs.length + 65536;
    const str = (off: number): string => {
      const hit = names.get(off);
      if (hit !== undefined) return hit;
      if (off >= strs.length) fail(`string offset ${off} is past the string table`);
      const end = strs.indexOf(0, off);
      if (end < 0) fail(`string at ${off} is not NUL-terminated`);
      budget -= end - off + 1;
      if (budget < 0) fail(`string at ${off}: too many overlapping strings`);
      const name = decoder.decode(strs.subarray(off, end));
      names.set(off, name);
      return name;
    };
    let p = hdrLen + typeOff;
    const end = p + typeLen;
    const u32 = (at: number): number => {
      if (at + 4 > end) fail(`offset ${at}: a type runs past the type table`);
      return v.getUint32(at, true);
    };
    while (p < end) {
      const start = p;
      const info = u32(p + 4);
      const t: BtfType = { name: str(u32(p)), kind: (info >>> 24) & 0x1f, kflag: (info >>> 31) === 1, vlen: info & 0xffff, sizeOrType: u32(p + 8) };
      p += 12;
      switch (t.kind) {
        case KIND.INT: case KIND.VAR: case KIND.DECL_TAG: p += 4; break;
        case KIND.ARRAY: t.array = { type: u32(p), nelems: u32(p + 8) }; p += 12; break;
        case KIND.STRUCT: case KIND.UNION:
          t.members = [];
          for (let i = 0; i < t.vlen; i++, p += 12) t.members.push({ name: str(u32(p)), type: u32(p + 4), offset: u32(p + 8) });
          break;
        case KIND.ENUM: case KIND.FUNC_PROTO: p += 8 * t.vlen; break;
        case KIND.ENUM64: p += 12 * t.vlen; break;
        case KIND.DATASEC:
          t.vars = [];
          for (let i = 0; i < t.vlen; i++, p += 12) t.vars.push({ type: u32(p), offset: u32(p + 4), size: u32(p + 8) });
          break;
        case KIND.PTR: case KIND.FWD: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
        case KIND.FUNC: case KIND.FLOAT: case KIND.TYPE_TAG:
          break;
        default:
          fail(`offset ${start}: unknown type kind ${t.kind}`);
      }
      if (p > end) fail(`offset ${start}: type ${this.types.length} runs past the type table`);
      this.types.push(t);
    }
  }

  type(id: number): BtfType {
    const t = this.types[id];
    if (!t || id === 0) return fail(`type ${id} does not exist (${this.types.length - 1} types)`);
    return t;
  }

  /** Follow typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let guard = 0; [KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG, KIND.VAR].includes(t.kind as 8); guard++) {
      if (guard > 64) fail(`type ${id}: a cycle of typedefs`);
      t = this.type(t.sizeOrType);
    }
    return t;
  }

  sizeOf(id: number, depth = 0): number {
    if (depth > 64) fail(`type ${id}: nested too deeply`);
    const t = this.resolve(id);
    switch (t.kind) {
      case KIND.INT: case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT: case KIND.DATASEC:
        return t.sizeOrType;
      case KIND.PTR:
        return 8;
      case KIND.ARRAY:
        return t.array!.nelems * this.sizeOf(t.array!.type, depth + 1);
      default:
        return fail(`type ${id} (kind ${t.kind}) has no size`);
    }
  }

  /** The maps of the `.maps` DATASEC, by variable name (a Map: names come from the object). */
  maps(): Map<string, BtfMapDef> {
    const out = new Map<string, BtfMapDef>();
    const sec = this.types.find((t) => t.kind === KIND.DATASEC && t.name === '.maps');
    if (!sec) return out;
    for (const v of sec.vars!) {
      const variable = this.type(v.type);
      const def = this.mapDef(variable.name, this.resolve(variable.sizeOrType), false);
      if (out.has(variable.name)) fail(`map ${variable.name} is defined twice`);
      out.set(variable.name, { ...def, offset: v.offset, size: v.size });
    }
    return out;
  }

  /** One map definition (a struct of pointers); `inner`: an inner map's, which may not have inner maps itself. */
  private mapDef(name: string, def: BtfType, inner: boolean): { spec: MapSpecData; values?: BtfMapDef['values'] } {
    if (def.kind !== KIND.STRUCT) fail(`map ${name}: not a struct`);
    const m: MapSpecData = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
    let values: { offset: number; target: BtfType } | undefined;
    for (const member of def.members!) {
      const ptr = this.resolve(member.type);
      if (member.name === 'values') {
        // __array(values, T) is `typeof(T) *values[]`: a flexible array of pointers
        if (ptr.kind !== KIND.ARRAY || ptr.array!.nelems !== 0) fail(`map ${name}: member values is not __array(values, ...) (a flexible array of pointers)`);
        const elem = this.resolve(ptr.array!.type);
        if (elem.kind !== KIND.PTR) fail(`map ${name}: member values is not an array of pointers`);
        const bits = def.kflag ? member.offset & 0xffffff : member.offset;
        if (bits % 64 !== 0) fail(`map ${name}: member values at bit ${bits} is not 8-byte aligned`);
        values = { offset: bits / 8, target: this.resolve(elem.sizeOrType) };
        continue;
      }
      if (ptr.kind !== KIND.PTR) fail(`map ${name}: member ${member.name} is not a pointer`);
      const target = ptr.sizeOrType;
      // __uint(name, N) is `int (*name)[N]`
      const n = (): number => {
        const arr = this.resolve(target);
        if (arr.kind !== KIND.ARRAY) fail(`map ${name}: member ${member.name} is not __uint(...)`);
        return arr.array!.nelems;
      };
      switch (member.name) {
        case 'type': m.type = n(); break;
        case 'max_entries': m.maxEntries = n(); break;
        case 'map_flags': m.flags = n(); break;
        case 'key_size': m.keySize = n(); break;
        case 'value_size': m.valueSize = n(); break;
        case 'key': m.keySize = this.sizeOf(target); break;
        case 'value': m.valueSize = this.sizeOf(target); break;
        default: throw new BpfError('ENOTSUP', `map ${name}: member ${member.name} is not supported`);
      }
    }
    // an array type's size is a product, so it can pass the u32 of union bpf_attr
    if (m.keySize > 0xffffffff || m.valueSize > 0xffffffff) {
      throw new BpfError('E2BIG', `map ${name}: key size ${m.keySize} or value size ${m.valueSize} does not fit 32 bits`);
    }
    if (values === undefined) return { spec: m };
    if (inner) fail(`map ${name}: an inner map with __array(values, ...) (inner maps of inner maps are not supported)`);
    // the slots hold fds: 4-byte values, whatever the definition says
    if (m.valueSize !== 0 && m.valueSize !== 4) fail(`map ${name}: value size ${m.valueSize} conflicts with __array(values, ...), whose values are 4-byte fds`);
    m.valueSize = 4;
    if (values.target.kind === KIND.FUNC_PROTO) {
      if (m.type !== PROG_ARRAY) fail(`map ${name}: __array(values, ...) of functions needs a prog_array (type ${PROG_ARRAY}), not type ${m.type}`);
      return { spec: m, values: { offset: values.offset, kind: 'program' } };
    }
    if (values.target.kind !== KIND.STRUCT) fail(`map ${name}: __array(values, T): T must be a map definition (a struct) or a function prototype`);
    if (m.type !== ARRAY_OF_MAPS && m.type !== HASH_OF_MAPS) {
      fail(`map ${name}: __array(values, struct ...) needs an array_of_maps or hash_of_maps (type ${ARRAY_OF_MAPS} or ${HASH_OF_MAPS}), not type ${m.type}`);
    }
    m.inner = this.mapDef(`${name}.inner`, values.target, true).spec;
    return { spec: m, values: { offset: values.offset, kind: 'map' } };
  }
}
