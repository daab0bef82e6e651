/**
 * A Runtime: one address space, the helper registry, and the regions that
 * outlive a single run (map storage registers here in the maps layer). The
 * engines, the maps and the API all hang off one Runtime, which is what makes
 * a value written through a map pointer visible to the API without copying.
 */

import type { Region } from '../memory/address-space.js';
import { HelperRegistry } from './helpers.js';
import type { MemoryOptions } from '../memory/address-space.js';
import { AddressSpace } from '../memory/address-space.js';

/** An address space, a helper registry and the long-lived regions: what engines run in. */
export class Runtime {
  readonly mem: AddressSpace;
  readonly helpers: HelperRegistry;
  private readonly longRegions: Region[] = [];

  constructor(options: MemoryOptions & { helpers?: HelperRegistry } = {}) {
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
