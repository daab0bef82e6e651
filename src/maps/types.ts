/**
 * The map-type table: the map types tsbpf implements, one row each (name,
 * uapi number, create-time validation and constructor, declared beside the
 * implementation), and the lookups every layer uses instead of spelling
 * types out: BPF_MAP_CREATE (createMap), the idiomatic API and the CLI (by
 * name), displays (mapTypeName). Adding a map type is one file with its
 * implementation and row, plus the row's line in MAP_TYPES.
 *
 * A type the kernel defines but tsbpf does not implement is refused by its
 * uapi name (isa/uapi.ts): `map type percpu_hash (5) is not supported`.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { uapiMapTypeId, uapiMapTypeName } from '../isa/uapi.js';
import { ARRAY_MAP } from './array.js';
import { HASH_MAP } from './hash.js';
import type { BpfMapImpl, MapAttr, MapType } from './map.js';

/** Every map type tsbpf implements (hash, array), one row each. */
export const MAP_TYPES = [HASH_MAP, ARRAY_MAP] as const;

/** The names of the implemented map types ('hash' | 'array'). */
export type MapTypeName = (typeof MAP_TYPES)[number]['name'];

const supported = (): string => `supported: ${MAP_TYPES.map((t) => t.name).join(', ')}`;

/** The row of map type `id`, or undefined when tsbpf does not implement it. */
export function findMapType(id: number): MapType | undefined {
  return MAP_TYPES.find((t) => t.id === id);
}

/** The row of the map type called `name`, or undefined. */
export function findMapTypeByName(name: unknown): MapType | undefined {
  return MAP_TYPES.find((t) => t.name === name);
}

/** Why map type `id` cannot be created: it is one the kernel defines but tsbpf lacks, or no map type at all. */
export function unsupportedMapType(id: number): string {
  const name = uapiMapTypeName(id);
  return name === undefined ? `unknown map type ${id} (${supported()})` : `map type ${name} (${id}) is not supported (${supported()})`;
}

/** The row of map type `id`; EINVAL naming the type when tsbpf does not implement it. */
export function mapTypeById(id: number): MapType {
  const t = findMapType(id);
  if (!t) throw new BpfError('EINVAL', unsupportedMapType(id));
  return t;
}

/**
 * The row of the map type called `name` (the API's and the CLI's spelling);
 * EINVAL otherwise, with `shown` as the message shows the name given.
 */
export function mapTypeByName(name: unknown, shown = String(name)): MapType {
  const t = findMapTypeByName(name);
  if (t) return t;
  const id = typeof name === 'string' ? uapiMapTypeId(name) : undefined;
  if (id !== undefined && id !== 0) throw new BpfError('EINVAL', unsupportedMapType(id));
  throw new BpfError('EINVAL', `unknown map type ${shown} (${supported()})`);
}

/** The name displays give map type `id`: its uapi name, implemented or not, else `type N`. */
export function mapTypeName(id: number): string {
  return uapiMapTypeName(id) ?? `type ${id}`;
}

/** BPF_MAP_CREATE: the checks common to every type, then the type's own. */
export function createMap(mem: AddressSpace, attr: MapAttr): BpfMapImpl {
  if (attr.mapFlags !== 0) throw new BpfError('EINVAL', `map_flags ${attr.mapFlags} is not supported (3.19 has no map flags)`);
  return mapTypeById(attr.mapType).create(mem, attr);
}
