/** The maps layer's public surface: the map interface, the implementations and the map-type table. */

export * from './map.js';
export { ArrayMap, ARRAY_MAP } from './array.js';
export { HashMap, HASH_MAP, SPARE } from './hash.js';
export { jhash } from './jhash.js';
export { MAP_TYPES, createMap, findMapType, findMapTypeByName, mapTypeById, mapTypeByName, mapTypeName, unsupportedMapType } from './types.js';
export type { MapTypeName } from './types.js';
