/**
 * The program-type table: the program types tsbpf implements, one row
 * each (ProgramType: name, uapi number, the verifier's context access rule,
 * LD_ABS/LD_IND, the context's shape, how a packet or a run's data becomes
 * r1, the ELF sections that select it), declared in its own file
 * (socket-filter.ts, unspec.ts, mem.ts: tsbpf's own buffer type) and listed in PROG_TYPES. BPF_PROG_LOAD, the
 * idiomatic API, the loader and the CLI look types up here; the helpers a
 * type may call are the helper table's (progs/helpers.ts, funcProtoFor).
 * Adding a program type is its file plus its line in PROG_TYPES.
 *
 * A type the kernel defines but tsbpf does not implement is refused by its
 * uapi name (isa/uapi.ts): `program type xdp (6) is not supported`.
 */

import { BpfError } from '../errors.js';
import { BPF_PROG_TYPE, uapiProgTypeId, uapiProgTypeName } from '../isa/uapi.js';
import type { HelperProto } from '../runtime/helpers.js';
import { funcProtoFor } from './helpers.js';
import type { Profile } from './profile.js';
import type { ProgramType } from './program-type.js';
import { SOCKET_FILTER } from './socket-filter.js';
import { UNSPEC } from './unspec.js';
import { MEM } from './mem.js';
import { XDP } from './xdp.js';
import { SCHED_CLS } from './sched-cls.js';
import { PROFILE_3_19, introducedBy } from './profile.js';

export { BPF_PROG_TYPE };
export { SOCKET_FILTER, SOCKET_FILTER_MODERN, SKB_CTX_SIZE, SKB_LEN_OFF, prepareSocketFilter } from './socket-filter.js';
export { XDP, XDP_ACTION, XDP_MD, XDP_MD_SIZE } from './xdp.js';
export { SCHED_CLS, TC_ACT } from './sched-cls.js';
export { SK_BUFF, SK_BUFF_SIZE } from './sk-buff.js';
export type { CtxAccess, CtxPointer, ReturnRange } from './program-type.js';
export type { PacketOptions } from './socket-filter.js';
export { UNSPEC } from './unspec.js';
export { MEM, MEM_PROG_TYPE_ID, MEM_MAX_SIZE, memType } from './mem.js';
export type { PacketContext, PreparedRun, ProgramType } from './program-type.js';

/** Every program type tsbpf implements, one row each; a profile has those its kernel introduced (mem, tsbpf's own, is in every profile). */
export const PROG_TYPES = [SOCKET_FILTER, UNSPEC, XDP, SCHED_CLS, MEM] as const;

/** The names of the implemented program types ('socket_filter' | 'unspec' | 'xdp' | 'sched_cls'). */
export type ProgTypeName = (typeof PROG_TYPES)[number]['name'];

/** The implemented program types' names, for messages and usage lines. */
export const PROG_TYPE_NAMES: readonly ProgTypeName[] = PROG_TYPES.map((t) => t.name);

/** The implemented types a profile has (3.19: socket_filter and unspec). */
function typesOf(profile: Profile): ProgramType[] {
  return PROG_TYPES.filter((t) => introducedBy(t.since, profile));
}

const supported = (profile: Profile): string => `supported: ${typesOf(profile).map((t) => t.name).join(', ')}`;

/** Why program type `id` cannot be loaded under `profile`: one the kernel defines but tsbpf (or that kernel) lacks, or no program type at all. */
export function unsupportedProgType(id: number, profile: Profile = PROFILE_3_19): string {
  const name = uapiProgTypeName(id);
  return name === undefined ? `unknown program type ${id} (${supported(profile)})` : `program type ${name} (${id}) is not supported (${supported(profile)})`;
}

/** The row of program type `id`, or undefined. */
export function findProgType(id: number): ProgramType | undefined {
  return PROG_TYPES.find((t) => t.id === id);
}

/**
 * The row that stands for `type` under `profile`: its modern row (the
 * socket filter's __sk_buff) under profiles newer than 3.19, else itself.
 */
export function forProfile(type: ProgramType, profile: Profile): ProgramType {
  return type.modern !== undefined && profile.name !== PROFILE_3_19.name ? type.modern : type;
}

/** The row of the program type called `name`, or undefined. */
export function findProgTypeByName(name: unknown): ProgramType | undefined {
  return PROG_TYPES.find((t) => t.name === name);
}

/**
 * The row of program type `id` under `profile` (3.19 by default); EINVAL
 * naming the type when tsbpf, or the profile's kernel, does not implement it.
 */
export function progTypeById(id: number, profile: Profile = PROFILE_3_19): ProgramType {
  const t = findProgType(id);
  if (!t || !introducedBy(t.since, profile)) throw new BpfError('EINVAL', unsupportedProgType(id, profile));
  return forProfile(t, profile);
}

/**
 * The row of the program type called `name`; EINVAL otherwise, with
 * `shown` as the message shows the name given.
 */
export function progTypeByName(name: unknown, shown = typeof name === 'string' ? `'${name}'` : String(name)): ProgramType {
  const t = findProgTypeByName(name);
  if (t) return t;
  const id = typeof name === 'string' ? uapiProgTypeId(name) : undefined;
  if (id !== undefined) throw new BpfError('EINVAL', unsupportedProgType(id));
  throw new BpfError('EINVAL', `unknown program type ${shown} (${supported(PROFILE_3_19)})`);
}

/** The program type an ELF section's name selects, or undefined. */
export function progTypeBySection(section: string): ProgramType | undefined {
  return PROG_TYPES.find((t) => t.sections.some((p) => section.startsWith(p)));
}

/** progTypeByName under the name the package has always exported. */
export function programType(name: string): ProgramType {
  return progTypeByName(name);
}

/**
 * What the verifier needs to know about a program's type under `profile`
 * (the type-dependent part of its VerifierEnv).
 */
export function verifierRules(type: ProgramType, profile: Profile): {
  socketFilter: boolean;
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  funcProto(id: number): HelperProto | undefined;
  profile: Profile;
  entryR2?: number;
} {
  const rules = { socketFilter: type.ldAbs, isValidCtxAccess: type.isValidCtxAccess, funcProto: funcProtoFor(type.name, profile), profile };
  return type.entryR2 === undefined ? rules : { ...rules, entryR2: type.entryR2 };
}
