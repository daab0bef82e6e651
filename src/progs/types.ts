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

export { BPF_PROG_TYPE };
export { SOCKET_FILTER, SKB_CTX_SIZE, SKB_LEN_OFF, prepareSocketFilter } from './socket-filter.js';
export type { PacketOptions } from './socket-filter.js';
export { UNSPEC } from './unspec.js';
export { MEM, MEM_PROG_TYPE_ID, MEM_MAX_SIZE, memType } from './mem.js';
export type { PacketContext, PreparedRun, ProgramType } from './program-type.js';

/** Every program type tsbpf implements (socket_filter, unspec, mem), one row each. */
export const PROG_TYPES = [SOCKET_FILTER, UNSPEC, MEM] as const;

/** The names of the implemented program types ('socket_filter' | 'unspec'). */
export type ProgTypeName = (typeof PROG_TYPES)[number]['name'];

/** The implemented program types' names, for messages and usage lines. */
export const PROG_TYPE_NAMES: readonly ProgTypeName[] = PROG_TYPES.map((t) => t.name);

const supported = (): string => `supported: ${PROG_TYPE_NAMES.join(', ')}`;

/** Why program type `id` cannot be loaded: one the kernel defines but tsbpf lacks, or no program type at all. */
export function unsupportedProgType(id: number): string {
  const name = uapiProgTypeName(id);
  return name === undefined ? `unknown program type ${id} (${supported()})` : `program type ${name} (${id}) is not supported (${supported()})`;
}

/** The row of program type `id`, or undefined. */
export function findProgType(id: number): ProgramType | undefined {
  return PROG_TYPES.find((t) => t.id === id);
}

/** The row of the program type called `name`, or undefined. */
export function findProgTypeByName(name: unknown): ProgramType | undefined {
  return PROG_TYPES.find((t) => t.name === name);
}

/** The row of program type `id`; EINVAL naming the type when tsbpf does not implement it. */
export function progTypeById(id: number): ProgramType {
  const t = findProgType(id);
  if (!t) throw new BpfError('EINVAL', unsupportedProgType(id));
  return t;
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
  throw new BpfError('EINVAL', `unknown program type ${shown} (${supported()})`);
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
