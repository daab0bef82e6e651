/**
 * The shape of a helper's declaration (HelperDef), the row of the helper
 * table (progs/helpers.ts). Apart from the table so that the files that
 * declare helpers (map-helpers.ts) import the shape without importing the
 * table that lists them (no circle between the two).
 */

import type { Helper, HelperProto } from '../runtime/helpers.js';

/** A helper as the helper table defines it: a Helper plus the program types and kernel it belongs to. */
export interface HelperDef extends Helper {
  /** the argument and return types the verifier checks a call against */
  readonly proto: HelperProto;
  /** the program types (by name) whose programs may call it, or 'all' */
  readonly progTypes: 'all' | readonly string[];
  /** the kernel version that introduced it: profiles of earlier kernels do not have it */
  readonly since: string;
}
