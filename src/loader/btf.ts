/**
 * BTF-defined maps: the `.maps` DATASEC of an object's BTF (read by btf/),
 * whose variables are anonymous structs in libbpf's convention
 * (`__uint(type, N)` is a pointer to an array of N elements, `__type(key,
 * T)` a pointer to T, and so on). `__array(values, T)` (a flexible array of
 * pointers) makes a prog array's slots (T a function prototype) or a map of
 * maps' (T the inner map's definition, read the same way); where its slots
 * sit in the definition is returned with the map, for the `.rel.maps`
 * relocations that fill them. What the BTF says of the maps becomes
 * MapSpecData; the types themselves are btf/'s business.
 */

import { BpfError } from '../errors.js';
import { sectionError } from '../btf/index.js';
import type { Btf, BtfType } from '../btf/index.js';
import type { MapBtf, MapSpecData } from './spec.js';

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

const fail = (msg: string): never => {
  throw sectionError('.BTF', msg);
};

/** The maps of the `.maps` DATASEC, by variable name (a Map: names come from the object). */
export function btfMaps(btf: Btf): Map<string, BtfMapDef> {
  const out = new Map<string, BtfMapDef>();
  const sec = btf.find('.maps', 'datasec');
  if (sec === undefined || sec.kind !== 'datasec') return out;
  for (const v of sec.vars) {
    const variable = btf.type(v.type);
    if (variable.kind !== 'var') return fail(`.maps variable ${v.type} is a ${variable.kind}, not a variable`);
    const def = mapDef(btf, variable.name, btf.resolve(variable.type), false);
    if (out.has(variable.name)) fail(`map ${variable.name} is defined twice`);
    out.set(variable.name, { ...def, offset: v.offset, size: v.size });
  }
  return out;
}

/** One map definition (a struct of pointers); `inner`: an inner map's, which may not have inner maps itself. */
function mapDef(btf: Btf, name: string, def: BtfType | undefined, inner: boolean): { spec: MapSpecData; values?: BtfMapDef['values'] } {
  if (def?.kind !== 'struct') return fail(`map ${name}: not a struct`);
  const m: MapSpecData = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
  let values: { offset: number; target: BtfType | undefined } | undefined;
  let keyType = 0;
  let valueType = 0;
  for (const member of def.members) {
    const ptr = btf.resolve(member.type);
    if (member.name === 'values') {
      // __array(values, T) is `typeof(T) *values[]`: a flexible array of pointers
      if (ptr?.kind !== 'array' || ptr.nelems !== 0) return fail(`map ${name}: member values is not __array(values, ...) (a flexible array of pointers)`);
      const elem = btf.resolve(ptr.type);
      if (elem?.kind !== 'ptr') return fail(`map ${name}: member values is not an array of pointers`);
      if (member.bitOffset % 64 !== 0) fail(`map ${name}: member values at bit ${member.bitOffset} is not 8-byte aligned`);
      values = { offset: member.bitOffset / 8, target: btf.resolve(elem.type) };
      continue;
    }
    if (ptr?.kind !== 'ptr') return fail(`map ${name}: member ${member.name} is not a pointer`);
    const target = ptr.type;
    // __uint(name, N) is `int (*name)[N]`
    const n = (): number => {
      const arr = btf.resolve(target);
      if (arr?.kind !== 'array') return fail(`map ${name}: member ${member.name} is not __uint(...)`);
      return arr.nelems;
    };
    switch (member.name) {
      case 'type': m.type = n(); break;
      case 'max_entries': m.maxEntries = n(); break;
      case 'map_flags': m.flags = n(); break;
      case 'key_size': m.keySize = n(); break;
      case 'value_size': m.valueSize = n(); break;
      case 'key': m.keySize = btf.sizeOf(target); keyType = target; break;
      case 'value': m.valueSize = btf.sizeOf(target); valueType = target; break;
      default: throw new BpfError('ENOTSUP', `map ${name}: member ${member.name} is not supported`);
    }
  }
  // an array type's size is a product, so it can pass the u32 of union bpf_attr
  if (m.keySize > 0xffffffff || m.valueSize > 0xffffffff) {
    throw new BpfError('E2BIG', `map ${name}: key size ${m.keySize} or value size ${m.valueSize} does not fit 32 bits`);
  }
  // the types, for typed maps and readable dumps (the kernel's btf_key_type_id and btf_value_type_id)
  if (keyType !== 0 || valueType !== 0) m.btf = { btf, key: keyType, value: valueType };
  if (values === undefined) return { spec: m };
  if (inner) fail(`map ${name}: an inner map with __array(values, ...) (inner maps of inner maps are not supported)`);
  // the slots hold fds: 4-byte values, whatever the definition says
  if (m.valueSize !== 0 && m.valueSize !== 4) fail(`map ${name}: value size ${m.valueSize} conflicts with __array(values, ...), whose values are 4-byte fds`);
  m.valueSize = 4;
  if (values.target?.kind === 'func_proto') {
    if (m.type !== PROG_ARRAY) fail(`map ${name}: __array(values, ...) of functions needs a prog_array (type ${PROG_ARRAY}), not type ${m.type}`);
    return { spec: m, values: { offset: values.offset, kind: 'program' } };
  }
  if (values.target?.kind !== 'struct') return fail(`map ${name}: __array(values, T): T must be a map definition (a struct) or a function prototype`);
  if (m.type !== ARRAY_OF_MAPS && m.type !== HASH_OF_MAPS) {
    fail(`map ${name}: __array(values, struct ...) needs an array_of_maps or hash_of_maps (type ${ARRAY_OF_MAPS} or ${HASH_OF_MAPS}), not type ${m.type}`);
  }
  m.inner = mapDef(btf, `${name}.inner`, values.target, true).spec;
  return { spec: m, values: { offset: values.offset, kind: 'map' } };
}

// each BTF's DATASECs by name, found in one pass: an object may hold many data
// sections, and a scan of every type for each would be quadratic
const datasecsOf = new WeakMap<Btf, Map<string, BtfType>>();
function datasecs(btf: Btf): Map<string, BtfType> {
  let m = datasecsOf.get(btf);
  if (m === undefined) {
    m = new Map();
    for (const t of btf.types) if (t !== undefined && t.kind === 'datasec' && !m.has(t.name)) m.set(t.name, t);
    datasecsOf.set(btf, m);
  }
  return m;
}

/**
 * The types of a global-data map: its section's DATASEC, each variable
 * placed where its symbol says (libbpf's btf_fixup_datasec), so that the
 * map shows as `{".rodata": [{"port": 80}, ...]}` as bpftool shows the
 * kernel's. Undefined without a DATASEC of that name; a variable without a
 * symbol, or whose symbol runs past the section, is left out.
 */
export function globalDataBtf(btf: Btf, section: string, size: number, symbols: readonly { name: string; value: number }[]): MapBtf | undefined {
  const sec = datasecs(btf).get(section);
  if (sec === undefined || sec.kind !== 'datasec') return undefined;
  const at = new Map(symbols.map((s) => [s.name, s.value]));
  const vars = [];
  for (const v of sec.vars) {
    const variable = btf.types[v.type];
    const offset = variable === undefined ? undefined : at.get(variable.name);
    if (offset === undefined) continue;
    let bytes: number;
    try {
      bytes = btf.sizeOf(v.type);
    } catch {
      continue; // a variable of no size (hostile BTF) shows nothing
    }
    if (offset + bytes > size) continue;
    vars.push({ type: v.type, offset, size: bytes });
  }
  return { btf, key: 0, value: sec.id, vars };
}
