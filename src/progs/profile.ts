/**
 * Verifier profiles: the kernel a verification models. A profile holds the
 * facts of that kernel the rules consult (today the helper id bound), and
 * decides which helpers of the helper table (progs/helpers.ts) exist for a
 * program: those introduced by its kernel or an earlier one. 3.19 is the
 * only profile so far; a modern one adds its row here.
 */

export interface Profile {
  /** the kernel version it models, as helpers' `since` spell it */
  readonly name: string;
  /** __BPF_FUNC_MAX_ID of that kernel: a call to a helper id at or above it is `invalid func N` */
  readonly maxHelperId: number;
}

/** Linux 3.19: helpers 1-3 (bpf_map_lookup_elem, bpf_map_update_elem, bpf_map_delete_elem). */
export const PROFILE_3_19: Profile = { name: '3.19', maxHelperId: 4 };

/** Whether something introduced in kernel `since` ('3.19', '4.1') exists under `profile`. */
export function introducedBy(since: string, profile: Profile): boolean {
  const a = since.split('.').map(Number);
  const b = profile.name.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return true;
}
