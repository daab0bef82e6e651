/**
 * BTF-defined maps: the `.maps` DATASEC of an object's BTF (read by btf/),
 * whose variables are anonymous structs in libbpf's convention
 * (`__uint(type, N)` is a pointer to an array of N elements, `__type(key,
 * T)` a pointer to T, and so on). What the BTF says of the maps becomes
 * MapSpecData; the types themselves are btf/'s business.
 */

import { BpfError } from '../errors.js';
import { sectionError } from '../btf/index.js';
import type { Btf } from '../btf/index.js';
import type { MapSpecData } from './spec.js';

const fail = (msg: string): never => {
  throw sectionError('.BTF', msg);
};

/** The maps of the `.maps` DATASEC, by variable name (a Map: names come from the object). */
export function btfMaps(btf: Btf): Map<string, MapSpecData> {
  const out = new Map<string, MapSpecData>();
  const sec = btf.find('.maps', 'datasec');
  if (sec === undefined || sec.kind !== 'datasec') return out;
  for (const v of sec.vars) {
    const variable = btf.type(v.type);
    if (variable.kind !== 'var') return fail(`.maps variable ${v.type} is a ${variable.kind}, not a variable`);
    const def = btf.resolve(variable.type);
    if (def?.kind !== 'struct') return fail(`map ${variable.name}: not a struct`);
    const m: MapSpecData = { name: variable.name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
    for (const member of def.members) {
      const ptr = btf.resolve(member.type);
      if (ptr?.kind !== 'ptr') return fail(`map ${variable.name}: member ${member.name} is not a pointer`);
      const target = ptr.type;
      // __uint(name, N) is `int (*name)[N]`
      const n = (): number => {
        const arr = btf.resolve(target);
        if (arr?.kind !== 'array') return fail(`map ${variable.name}: member ${member.name} is not __uint(...)`);
        return arr.nelems;
      };
      switch (member.name) {
        case 'type': m.type = n(); break;
        case 'max_entries': m.maxEntries = n(); break;
        case 'map_flags': m.flags = n(); break;
        case 'key_size': m.keySize = n(); break;
        case 'value_size': m.valueSize = n(); break;
        case 'key': m.keySize = btf.sizeOf(target); break;
        case 'value': m.valueSize = btf.sizeOf(target); break;
        default: throw new BpfError('ENOTSUP', `map ${variable.name}: member ${member.name} is not supported`);
      }
    }
    // an array type's size is a product, so it can pass the u32 of union bpf_attr
    if (m.keySize > 0xffffffff || m.valueSize > 0xffffffff) {
      throw new BpfError('E2BIG', `map ${variable.name}: key size ${m.keySize} or value size ${m.valueSize} does not fit 32 bits`);
    }
    if (out.has(variable.name)) fail(`map ${variable.name} is defined twice`);
    out.set(variable.name, m);
  }
  return out;
}
