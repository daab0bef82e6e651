/**
 * The helper table: every helper tsbpf implements, each declared once
 * (HelperDef: id, name, prototype, implementation, the program types that
 * may call it, the kernel that introduced it) in the file that implements
 * it, and listed in HELPERS. The verifier reads prototypes from here
 * (funcProtoFor: what the program type and the profile allow), a
 * BpfSystem's runtime gets the implementations (installHelpers). Adding a
 * helper is its declaration plus its line in HELPERS.
 *
 * The runtime's HelperRegistry (runtime/helpers.ts) is what engines call
 * through; it may also hold helpers outside this table (the conformance
 * vectors' `unwind`), which no verified program can call.
 */

import { InternalError } from '../errors.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { HelperProto, HelperRegistry } from '../runtime/helpers.js';
import type { HelperDef } from './helper-def.js';
import { MAP_DELETE_ELEM, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM } from './map-helpers.js';
import type { Profile } from './profile.js';
import { introducedBy } from './profile.js';

export type { HelperDef } from './helper-def.js';

/** Every helper tsbpf implements: id, name, prototype, implementation, program types. */
export const HELPERS: readonly HelperDef[] = [MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM];

const BY_ID = new Map<number, HelperDef>();
for (const h of HELPERS) {
  if (BY_ID.has(h.id)) throw new InternalError(`helper ${h.id} is declared twice (${BY_ID.get(h.id)!.name}, ${h.name})`);
  BY_ID.set(h.id, h);
}

/** The declaration of helper `id`, or undefined. */
export function helperDef(id: number): HelperDef | undefined {
  return BY_ID.get(id);
}

/**
 * The verifier's get_func_proto for a program of type `progType` judged by
 * `profile`: the prototype of each helper that type may call and that
 * kernel has, else undefined (the verifier's `unknown func N`).
 */
export function funcProtoFor(progType: string, profile: Profile): (id: number) => HelperProto | undefined {
  return (id) => {
    const h = BY_ID.get(id);
    if (!h || !introducedBy(h.since, profile)) return undefined;
    return h.progTypes === 'all' || h.progTypes.includes(progType) ? h.proto : undefined;
  };
}

/**
 * Register every helper of the table in `registry`, and `resolve` (the
 * runtime's maps by address) as the registry's map resolver for engines
 * built without their program's list of maps (runtime/helpers.ts,
 * programMaps).
 */
export function installHelpers(registry: HelperRegistry, resolve: (addr: number) => BpfMapImpl | undefined): void {
  for (const h of HELPERS) registry.register(h);
  registry.mapAt = resolve;
}
