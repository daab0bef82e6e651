/**
 * The map-type table: the map types tsbpf implements, one row each (name,
 * uapi number, create-time validation and constructor, declared beside the
 * implementation), and the lookups every layer uses instead of spelling
 * types out: BPF_MAP_CREATE (createMap), the idiomatic API and the CLI (by
 * name), displays (mapTypeName). Adding a map type is one file with its
 * implementation and row, plus the row's line in MAP_TYPES.
 *
 * A type the kernel defines but tsbpf does not implement, or one the
 * profile's kernel predates (a row's `since`), is refused by its uapi name
 * (isa/uapi.ts): `map type percpu_hash (5) is not supported`, naming the
 * types that profile has.
 *
 * In a shared memory (maps/shared.ts), the shareable types (SHAREABLE:
 * array, percpu_array, the hash maps and their LRU variants) are made shareable by createMap,
 * and attachMap builds, in another thread, the map another thread made
 * (BpfMapImpl.shareState).
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { uapiMapTypeId, uapiMapTypeName } from '../isa/uapi.js';
import type { Profile } from '../isa/profile.js';
import { PROFILE_3_19, introducedBy } from '../isa/profile.js';
import { ARRAY_MAP, PERCPU_ARRAY_MAP, attachArray } from './array.js';
import { HASH_MAP, LRU_HASH_MAP, LRU_PERCPU_HASH_MAP, PERCPU_HASH_MAP } from './hash.js';
import { LPM_TRIE_MAP } from './lpm-trie.js';
import { QUEUE_MAP, STACK_MAP } from './queue-stack.js';
import { RINGBUF_MAP } from './ringbuf.js';
import { ARRAY_OF_MAPS_MAP, HASH_OF_MAPS_MAP, PROG_ARRAY_MAP } from './fd-maps.js';
import type { BpfMapImpl, MapAttr, MapEnv, MapType, SharedMapState } from './map.js';
import { BPF_F, MAP_HDR, MAP_MAGIC, ONE_CPU } from './map.js';
import { isSharedMemory } from './shared.js';
import { SHARED_HASH_TYPES, attachHash } from './shared-hash.js';

/** Every map type tsbpf implements, one row each; each row's `since` says the profile that has it. */
export const MAP_TYPES = [
  HASH_MAP,
  ARRAY_MAP,
  PERCPU_HASH_MAP,
  PERCPU_ARRAY_MAP,
  LRU_HASH_MAP,
  LRU_PERCPU_HASH_MAP,
  LPM_TRIE_MAP,
  QUEUE_MAP,
  STACK_MAP,
  RINGBUF_MAP,
  PROG_ARRAY_MAP,
  ARRAY_OF_MAPS_MAP,
  HASH_OF_MAPS_MAP,
] as const;

/** The names of the implemented map types ('hash' | 'array'). */
export type MapTypeName = (typeof MAP_TYPES)[number]['name'];

const supported = (profile?: Profile): string =>
  `supported: ${MAP_TYPES.filter((t) => profile === undefined || introducedBy(t.since, profile)).map((t) => t.name).join(', ')}`;

/** The row of map type `id`, or undefined when tsbpf does not implement it. */
export function findMapType(id: number): MapType | undefined {
  return MAP_TYPES.find((t) => t.id === id);
}

/** The row of the map type called `name`, or undefined. */
export function findMapTypeByName(name: unknown): MapType | undefined {
  return MAP_TYPES.find((t) => t.name === name);
}

/** Why map type `id` cannot be created: it is one the kernel defines but tsbpf lacks, or no map type at all. */
export function unsupportedMapType(id: number, profile?: Profile): string {
  const name = uapiMapTypeName(id);
  return name === undefined ? `unknown map type ${id} (${supported(profile)})` : `map type ${name} (${id}) is not supported (${supported(profile)})`;
}

/** The row of map type `id` under `profile` (3.19 unless given); EINVAL naming the type otherwise. */
export function mapTypeById(id: number, profile: Profile = PROFILE_3_19): MapType {
  const t = findMapType(id);
  if (!t || !introducedBy(t.since, profile)) throw new BpfError('EINVAL', unsupportedMapType(id, profile));
  return t;
}

/**
 * The row of the map type called `name` (the API's and the CLI's spelling)
 * under `profile` (3.19 unless given); EINVAL otherwise, with `shown` as
 * the message shows the name given.
 */
export function mapTypeByName(name: unknown, shown = String(name), profile: Profile = PROFILE_3_19): MapType {
  const t = findMapTypeByName(name);
  if (t && introducedBy(t.since, profile)) return t;
  const id = t?.id ?? (typeof name === 'string' ? uapiMapTypeId(name) : undefined);
  if (id !== undefined && id !== 0) throw new BpfError('EINVAL', unsupportedMapType(id, profile));
  throw new BpfError('EINVAL', `unknown map type ${shown} (${supported(profile)})`);
}

/** The name displays give map type `id`: its uapi name, implemented or not, else `type N`. */
export function mapTypeName(id: number): string {
  return uapiMapTypeName(id) ?? `type ${id}`;
}

/**
 * BPF_MAP_CREATE under env.profile (3.19 unless given): the checks common to
 * every type, then the type's own. 3.19 has no map flags; later kernels
 * accept the type's mask (MapType.flags), and refuse BPF_F_RDONLY with
 * BPF_F_WRONLY as bpf_get_file_flag does.
 */
export function createMap(mem: AddressSpace, attr: MapAttr, env: MapEnv = ONE_CPU): BpfMapImpl {
  const profile = env.profile;
  if (profile.name === '3.19') {
    if (attr.mapFlags !== 0) throw new BpfError('EINVAL', `map_flags ${attr.mapFlags} is not supported (3.19 has no map flags)`);
  } else if ((attr.mapFlags & (BPF_F.RDONLY | BPF_F.WRONLY)) === (BPF_F.RDONLY | BPF_F.WRONLY)) {
    throw new BpfError('EINVAL', 'map_flags: BPF_F_RDONLY and BPF_F_WRONLY exclude each other');
  }
  const t = mapTypeById(attr.mapType, profile);
  const extra = (attr.mapFlags & ~t.flags) >>> 0;
  if (extra !== 0) throw new BpfError('EINVAL', `map_flags 0x${extra.toString(16)} not allowed for ${t.name} maps (allowed: 0x${t.flags.toString(16)})`);
  if (isSharedMemory(mem)) {
    const shared = SHARED_HASH_TYPES.get(t.id);
    if (shared) return shared(mem, attr, env);
  }
  return t.create(mem, attr, env);
}

/** The map types another thread can attach (BpfMapImpl.shareState): how each is attached. */
const SHAREABLE = new Map<number, (mem: AddressSpace, state: SharedMapState, env: MapEnv) => BpfMapImpl>([
  [ARRAY_MAP.id, attachArray],
  [PERCPU_ARRAY_MAP.id, attachArray],
  [HASH_MAP.id, attachHash],
  [PERCPU_HASH_MAP.id, attachHash],
  [LRU_HASH_MAP.id, attachHash],
  [LRU_PERCPU_HASH_MAP.id, attachHash],
]);

/** Whether maps of type `id` can be shared between threads (the others have no shareState). */
export function isShareable(id: number): boolean {
  return SHAREABLE.has(id);
}

/**
 * The map another thread made in the shared memory `mem` (its shareState),
 * as this thread's object: the same storage and state, operations safe
 * against the other threads'. EINVAL when the memory is not shared or does
 * not hold that map (its header differs); ENOTSUP for a type that cannot be
 * shared.
 */
export function attachMap(mem: AddressSpace, state: SharedMapState, env: MapEnv = ONE_CPU): BpfMapImpl {
  if (!isSharedMemory(mem)) throw new BpfError('EINVAL', 'attachMap: the memory is not shared');
  const attach = SHAREABLE.get(state?.type);
  if (attach === undefined) throw new BpfError('ENOTSUP', `map type ${mapTypeName(state?.type)} cannot be shared between threads`);
  const v = mem.view;
  const ok =
    Number.isSafeInteger(state.addr) &&
    state.addr >= 0 &&
    state.addr + MAP_HDR_WORDS <= mem.byteLength &&
    v.getUint32(state.addr + MAP_HDR.MAGIC, true) === MAP_MAGIC &&
    v.getUint32(state.addr + MAP_HDR.TYPE, true) === state.type &&
    v.getUint32(state.addr + MAP_HDR.KEY_SIZE, true) === state.keySize &&
    v.getUint32(state.addr + MAP_HDR.VALUE_SIZE, true) === state.valueSize &&
    v.getUint32(state.addr + MAP_HDR.MAX_ENTRIES, true) === state.maxEntries;
  if (!ok) throw new BpfError('EINVAL', `attachMap: no ${mapTypeName(state.type)} map of this shape at 0x${Number(state.addr).toString(16)} in this memory`);
  return attach(mem, state, env);
}

/** the header words attachMap compares */
const MAP_HDR_WORDS = MAP_HDR.MAX_ENTRIES + 4;
