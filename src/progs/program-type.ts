/**
 * The shape of a row of the program-type table (progs/types.ts): what a
 * program type declares about itself. Apart from the table so that each
 * row's file (socket-filter.ts, unspec.ts) imports the shape without
 * importing the table that lists it (no circle between the two).
 */

import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';

export interface PreparedRun {
  input: RunInput;
  /** the bytes of the context/packet as they are after a run */
  snapshot(): Uint8Array;
  release(): void;
}

/**
 * How a packet becomes the context of a type that runs over packets: r1
 * points to `ctxSize` bytes of context, the packet follows them in memory,
 * and `fill` writes the context's fields for a packet of `len` bytes.
 */
export interface PacketContext {
  readonly ctxSize: number;
  fill(view: DataView, ctx: number, len: number): void;
}

/** A program type's row: id, name, context layout and access rules, helpers, how a run's data becomes its input. */
export interface ProgramType<N extends string = string> {
  /** the uapi name without BPF_PROG_TYPE_, in lower case */
  readonly name: N;
  /** the uapi number, prog_type of BPF_PROG_LOAD */
  readonly id: number;
  /** the kernel version that introduced it */
  readonly since: string;
  /** prefixes of the ELF section names that hold programs of this type */
  readonly sections: readonly string[];
  /** the verifier's is_valid_access for the context */
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  /**
   * The modern verifier's richer view of a context access (absent: every
   * access isValidCtxAccess allows reads a number): what a load of `size`
   * bytes at `off` gives, a number or one of the packet pointers
   * (data, data_end, data_meta), or undefined when the access is invalid.
   */
  ctxAccess?(off: number, size: number, write: boolean): { kind: 'scalar' } | { kind: 'pkt' | 'pkt_end' | 'pkt_meta' } | undefined;
  /** LD_ABS / LD_IND are allowed */
  readonly ldAbs: boolean;
  /** r1's region during a run: its size, and whether the program may write it */
  readonly context: { readonly size: number; readonly writable: boolean };
  /** present when programs of the type run over packets (PacketRunner, the CLI's --pcap and filter) */
  readonly packet?: PacketContext;
  /** copy a run's data into memory and describe r1, r2 and the packet */
  prepare(mem: AddressSpace, data: Uint8Array): PreparedRun;
}
