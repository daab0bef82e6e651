/**
 * The kernels tsbpf models, as data: each profile's name, the kernel version
 * it stands for and the facts of that kernel every layer may consult (the
 * helper id bound), with introducedBy, which decides whether something a
 * table row says was introduced in kernel X exists under a profile. It
 * lives with the uapi vocabularies, below the maps and the runtime that
 * take a profile; progs/profile.ts is its public face.
 */

export interface Profile {
  /** what users spell: '3.19', 'modern' */
  readonly name: string;
  /** the kernel version it models, as the tables' `since` spell it (the name when absent: '3.19') */
  readonly version?: string;
  /** __BPF_FUNC_MAX_ID of that kernel: a call to a helper id at or above it is `invalid func N` */
  readonly maxHelperId: number;
}

/** Linux 3.19: helpers 1-3 (bpf_map_lookup_elem, bpf_map_update_elem, bpf_map_delete_elem). */
export const PROFILE_3_19: Profile = { name: '3.19', version: '3.19', maxHelperId: 4 };

/** Linux 6.18, the reference kernel: helpers up to bpf_cgrp_storage_delete (211). */
export const PROFILE_MODERN: Profile = { name: 'modern', version: '6.18', maxHelperId: 212 };

export const PROFILES: readonly Profile[] = [PROFILE_3_19, PROFILE_MODERN];

/** The profile called `name` ('3.19', 'modern'), or undefined. */
export function findProfile(name: unknown): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}

/** Whether something introduced in kernel `since` ('3.19', '4.1') exists under `profile`. */
export function introducedBy(since: string, profile: Profile): boolean {
  const a = since.split('.').map(Number);
  const b = (profile.version ?? profile.name).split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return true;
}
