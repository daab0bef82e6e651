/**
 * A Runtime: one address space, the helper registry, the regions that
 * outlive a single run (map storage registers here in the maps layer), and
 * the machine being modelled: the profile (the kernel whose bpf() and
 * tables apply, 3.19 unless asked) and the simulated CPUs (per-CPU maps
 * keep one value per CPU; a run executes on `cpu`). The engines, the maps
 * and the API all hang off one Runtime, which is what makes a value written
 * through a map pointer visible to the API without copying.
 */

import { BpfError } from '../errors.js';
import type { Region } from '../memory/address-space.js';
import { HelperRegistry } from './helpers.js';
import type { MemoryOptions } from '../memory/address-space.js';
import { AddressSpace } from '../memory/address-space.js';
import type { Profile } from '../isa/profile.js';
import { PROFILE_3_19, PROFILES, findProfile } from '../isa/profile.js';

/** simulated CPUs at most (the kernel's NR_CPUS is larger; this bounds per-CPU storage) */
export const MAX_CPUS = 1024;

export interface RuntimeOptions extends MemoryOptions {
  helpers?: HelperRegistry;
  /** the kernel modelled: '3.19' (default) or 'modern' (6.18), or a Profile */
  profile?: Profile | string;
  /** simulated CPUs, 1 to MAX_CPUS (default 1): per-CPU maps hold this many values */
  cpus?: number;
}

/** The profile an option names; EINVAL naming the known ones otherwise. */
export function profileOption(p: unknown): Profile {
  if (p === undefined) return PROFILE_3_19;
  if (typeof p === 'object' && p !== null && PROFILES.includes(p as Profile)) return p as Profile;
  const found = findProfile(p);
  if (!found) throw new BpfError('EINVAL', `unknown profile ${typeof p === 'string' ? `'${p}'` : String(p)} (${PROFILES.map((x) => x.name).join(', ')})`);
  return found;
}

/** An address space, a helper registry and the long-lived regions: what engines run in. */
export class Runtime {
  readonly mem: AddressSpace;
  readonly helpers: HelperRegistry;
  readonly profile: Profile;
  readonly cpus: number;
  /** the simulated CPU the current run executes on (per-CPU maps' program view, bpf_get_smp_processor_id) */
  cpu = 0;
  private readonly longRegions: Region[] = [];

  constructor(options: RuntimeOptions = {}) {
    this.profile = profileOption(options.profile);
    const cpus = options.cpus ?? 1;
    if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) {
      throw new BpfError('EINVAL', `cpus must be an integer from 1 to ${MAX_CPUS}, got ${String(cpus)}`);
    }
    this.cpus = cpus;
    this.mem = new AddressSpace(options);
    this.helpers = options.helpers ?? new HelperRegistry();
  }

  /** Register a long-lived region (map storage) the checked interpreter lets programs touch. */
  addRegion(region: Region): void {
    this.longRegions.push(region);
  }

  /** Forget the long-lived region starting at `start` (its map was freed). */
  removeRegion(start: number): void {
    const i = this.longRegions.findIndex((r) => r.start === start);
    if (i >= 0) this.longRegions.splice(i, 1);
  }

  /** Regions that live longer than a run, for the checked interpreter. */
  readonly regions = (): readonly Region[] => this.longRegions;
}
