/** Map creation by type, with 3.19's create-time validation. */
import { BpfError } from '../errors.js';
import type { AddressSpace } from '../runtime/memory.js';
import { ArrayMap } from './array.js';
import { HashMap } from './hash.js';
import type { BpfMapImpl, MapAttr } from './map.js';
import { BPF_MAP_TYPE } from './map.js';

export * from './map.js';
export { ArrayMap } from './array.js';
export { HashMap, SPARE } from './hash.js';
export { jhash } from './jhash.js';

export function createMap(mem: AddressSpace, attr: MapAttr): BpfMapImpl {
  if (attr.mapFlags !== 0) throw new BpfError('EINVAL', `map_flags ${attr.mapFlags} is not supported (3.19 has no map flags)`);
  switch (attr.mapType) {
    case BPF_MAP_TYPE.HASH:
      return new HashMap(mem, attr);
    case BPF_MAP_TYPE.ARRAY:
      return new ArrayMap(mem, attr);
    default:
      throw new BpfError('EINVAL', `unknown map_type ${attr.mapType} (1 hash, 2 array)`);
  }
}
