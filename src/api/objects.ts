/**
 * The objects bpf() hands out fds for, as its fd table holds them: a map
 * (its implementation in maps/) and a loaded program (its instructions,
 * maps and engines). Types only: BpfSystem (bpf.ts) creates, counts and
 * frees them; BPF_PROG_LOAD (prog-load.ts) builds a LoadedProgram; the
 * wrappers (BpfMap, Program, PacketRunner, Collection) hold them. Keeping
 * them here lets each of those files import the shapes without importing
 * the others.
 */

import type { Slot } from '../isa/instruction.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { Engine } from '../runtime/engine.js';
import type { ProgramType } from '../progs/types.js';

/** A map as the fd table holds it. */
export interface MapObject {
  kind: 'map';
  id: number;
  impl: BpfMapImpl;
  /** references: fds, programs using it, wrappers (BpfMap); 0 once freed */
  refcnt: number;
  name: string;
}

/** A program BPF_PROG_LOAD accepted, ready to run. */
export interface LoadedProgram {
  type: ProgramType;
  /** instructions as loaded, map references resolved to map addresses */
  slots: Slot[];
  maps: MapObject[];
  license: string;
  gplCompatible: boolean;
  verified: boolean;
  /** the interpreter: fast for verified programs, checked for unverified ones */
  interpreter: Engine;
  /**
   * the program compiled to WebAssembly (verified programs, where WebAssembly
   * is available); on a tiered load a getter that compiles it on the spot
   * if the background compile has not finished (tier)
   */
  jit?: Engine;
  /**
   * a tiered load (BpfSystem.jitTiering): the JIT compiling in the
   * background (jit/tier.ts, JitTier; named here by its shape, so that the
   * package's declarations do not reach the JIT's)
   */
  tier?: {
    /** the JIT if it has compiled by now, never waiting */
    ready(): Engine | undefined;
    /** the JIT now, compiled on the spot if need be (undefined: the JIT cannot compile the program) */
    force(): Engine | undefined;
    free(): void;
    /** resolves once the background compile has ended, with the JIT or without it */
    readonly settled: Promise<void>;
    /** how long the compile that gave the JIT took, ms (0 before it has) */
    readonly compileMs: number;
  };
  /** the verifier log at the requested level ('' when logging was off) */
  log: string;
}

/** A loaded program as the fd table holds it, with its reference count. */
export interface ProgObject {
  kind: 'prog';
  id: number;
  prog: LoadedProgram;
  /** references: fds, runners, wrappers (Program, Collection); 0 once freed */
  refcnt: number;
}

/** What an fd names: a map or a program. */
export type BpfObject = MapObject | ProgObject;
