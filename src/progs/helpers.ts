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
import { MAP_DELETE_ELEM, MAP_LOOKUP_ELEM, MAP_PEEK_ELEM, MAP_POP_ELEM, MAP_PUSH_ELEM, MAP_UPDATE_ELEM } from './map-helpers.js';
import { GET_PRANDOM_U32, GET_SMP_PROCESSOR_ID, KTIME_GET_BOOT_NS, KTIME_GET_NS, PROBE_READ_KERNEL, TRACE_PRINTK } from './misc-helpers.js';
import { RINGBUF_DISCARD, RINGBUF_OUTPUT, RINGBUF_QUERY, RINGBUF_RESERVE, RINGBUF_SUBMIT } from './ringbuf-helpers.js';
import {
  CSUM_DIFF, L3_CSUM_REPLACE, L4_CSUM_REPLACE, REDIRECT, REDIRECT_MAP, SKB_CHANGE_HEAD, SKB_CHANGE_TAIL, SKB_LOAD_BYTES, SKB_STORE_BYTES,
  XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL, XDP_GET_BUFF_LEN, XDP_LOAD_BYTES, XDP_STORE_BYTES,
} from './packet-helpers.js';
import { FOR_EACH_MAP_ELEM, LOOP, SPIN_LOCK, SPIN_UNLOCK, TAIL_CALL } from './control-helpers.js';
import type { Profile } from './profile.js';
import { introducedBy } from './profile.js';

export type { HelperDef } from './helper-def.js';

/** Every helper tsbpf implements: id, name, prototype, implementation, program types. */
export const HELPERS: readonly HelperDef[] = [
  MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM,
  KTIME_GET_NS, TRACE_PRINTK, GET_PRANDOM_U32, GET_SMP_PROCESSOR_ID, SKB_STORE_BYTES, L3_CSUM_REPLACE, L4_CSUM_REPLACE,
  TAIL_CALL, REDIRECT, SKB_LOAD_BYTES, CSUM_DIFF, SKB_CHANGE_TAIL, SKB_CHANGE_HEAD, XDP_ADJUST_HEAD, REDIRECT_MAP, XDP_ADJUST_META, XDP_ADJUST_TAIL,
  MAP_PUSH_ELEM, MAP_POP_ELEM, MAP_PEEK_ELEM, SPIN_LOCK, SPIN_UNLOCK, PROBE_READ_KERNEL, RINGBUF_OUTPUT, RINGBUF_RESERVE,
  RINGBUF_SUBMIT, RINGBUF_DISCARD, RINGBUF_QUERY, KTIME_GET_BOOT_NS, FOR_EACH_MAP_ELEM, LOOP, XDP_GET_BUFF_LEN, XDP_LOAD_BYTES, XDP_STORE_BYTES,
];

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
