/**
 * Profiles: the kernel a bpf() system models. A profile holds the facts of
 * that kernel the layers consult (the helper id bound, the version that
 * decides which helpers and map types exist), and decides which helpers of
 * the helper table (progs/helpers.ts) and which rows of the map-type table
 * (maps/types.ts) exist: those introduced by its kernel or an earlier one.
 * 3.19 is the default everywhere; 'modern' models the project's reference
 * kernel, the host's 6.18. The definitions live in isa/profile.ts, below
 * the maps and the runtime, which take a profile too.
 */

export { PROFILE_3_19, PROFILE_MODERN, PROFILES, findProfile, introducedBy } from '../isa/profile.js';
export type { Profile } from '../isa/profile.js';
