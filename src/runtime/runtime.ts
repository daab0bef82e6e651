/**
 * A Runtime: one address space, the helper registry, the regions that
 * outlive a single run (map storage registers here in the maps layer), and
 * the machine being modelled: the profile (the kernel whose bpf() and
 * tables apply, 3.19 unless asked) and the simulated CPUs (per-CPU maps
 * keep one value per CPU; a run executes on `cpu`). The engines, the maps
 * and the API all hang off one Runtime, which is what makes a value written
 * through a map pointer visible to the API without copying.
 *
 * A runtime made with `shared: true` has a shared memory that worker
 * threads attach to: the owner makes a RuntimeAttach per worker
 * (workerAttach: a lane, an arena of the heap, the CPU the worker's runs
 * execute on), posts it to the worker, and the worker makes its Runtime
 * with `{ attach }`: its own registry and regions over the same memory.
 */

import { BpfError } from '../errors.js';
import type { Arena, Lane, Region, WasmMemory } from '../memory/address-space.js';
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
  /**
   * a worker thread's runtime over the shared memory of another
   * (Runtime.workerAttach there); maxBytes, initialBytes and shared do not
   * apply, and cpus and profile, when given, must be the attach's
   */
  attach?: RuntimeAttach;
}

/**
 * What a worker thread needs to run over a shared runtime's memory
 * (structured-cloneable: postMessage it): the memory, the arena of the
 * heap the worker allocates in (its programs' scratch areas, its helpers'
 * buffers), its lane, the CPU its runs execute on, and the machine
 * modelled (the owner's cpus and profile).
 */
export interface RuntimeAttach {
  memory: WasmMemory;
  arena: Arena;
  lane: Lane;
  cpu: number;
  cpus: number;
  profile: string;
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
    if (typeof options !== 'object' || options === null) throw new BpfError('EINVAL', `runtime options must be an object, got ${String(options)}`);
    const at = options.attach;
    if (at !== undefined) checkAttach(at, options);
    this.profile = profileOption(at?.profile ?? options.profile);
    const cpus = at?.cpus ?? options.cpus ?? 1;
    if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) {
      throw new BpfError('EINVAL', `cpus must be an integer from 1 to ${MAX_CPUS}, got ${String(cpus)}`);
    }
    this.cpus = cpus;
    this.mem = at === undefined ? new AddressSpace(options) : AddressSpace.attach(at.memory, at.arena, at.lane);
    if (at !== undefined) this.cpu = at.cpu;
    this.helpers = options.helpers ?? new HelperRegistry();
    // bpf_get_smp_processor_id and per-CPU maps see the same CPU
    this.helpers.run.cpu = () => this.cpu;
    this.helpers.run.alloc = (size) => this.mem.alloc(size);
    this.helpers.run.free = (addr) => this.mem.release(addr);
    let scratch = 0;
    this.helpers.run.scratch = () => (scratch ||= this.mem.alloc(16));
  }

  /** The stack frames and run word of this thread's runs (lane 0 but in an attached worker). */
  get lane(): Lane {
    return this.mem.lane;
  }

  /**
   * For a worker thread (shared runtime, the owning thread): a lane, an
   * arena of `arenaBytes` (default 4 MiB) and the CPU its runs execute on
   * (default: the lane's index - 1, worker i on CPU i). Give them back with
   * releaseAttach once the worker has ended.
   */
  workerAttach(options: { arenaBytes?: number; cpu?: number } = {}): RuntimeAttach {
    const bytes = options.arenaBytes ?? 4 << 20;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new BpfError('EINVAL', `arenaBytes must be a positive integer, got ${String(bytes)}`);
    const lane = this.mem.allocLane();
    const cpu = options.cpu ?? (lane.index - 1) % this.cpus;
    let start: number;
    try {
      if (typeof cpu !== 'number' || !Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) {
        throw new BpfError('EINVAL', `cpu must be an integer from 0 to ${this.cpus - 1}, got ${String(cpu)}`);
      }
      start = this.mem.alloc(bytes);
    } catch (e) {
      this.mem.freeLane(lane);
      throw e;
    }
    return { memory: this.mem.memory, arena: { start, end: start + ((bytes + 7) & ~7) }, lane, cpu, cpus: this.cpus, profile: this.profile.name };
  }

  /**
   * Give back a worker's lane and arena (workerAttach) once the worker has
   * ended; EBUSY while a run is in progress on its lane, unless `force` (the
   * worker was terminated mid-run: its run word is cleared).
   */
  releaseAttach(at: RuntimeAttach, force = false): void {
    this.mem.freeLane(at.lane, force);
    this.mem.release(at.arena.start);
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

/** An attach's own fields, and the options beside it that must agree with it. */
function checkAttach(at: RuntimeAttach, options: RuntimeOptions): void {
  if (typeof at !== 'object' || at === null) throw new BpfError('EINVAL', `attach must be a worker attachment (Runtime.workerAttach), got ${String(at)}`);
  if (typeof at.cpus !== 'number' || !Number.isInteger(at.cpu) || at.cpu < 0 || at.cpu >= at.cpus) {
    throw new BpfError('EINVAL', `attach: cpu ${String(at.cpu)} is not one of its ${String(at.cpus)} CPUs`);
  }
  if (options.cpus !== undefined && options.cpus !== at.cpus) throw new BpfError('EINVAL', `cpus ${String(options.cpus)} differs from the attached runtime's ${at.cpus}`);
  if (options.profile !== undefined && profileOption(options.profile).name !== at.profile) {
    throw new BpfError('EINVAL', `profile ${profileOption(options.profile).name} differs from the attached runtime's ${at.profile}`);
  }
  if (options.shared === false) throw new BpfError('EINVAL', 'an attached runtime is shared');
}
