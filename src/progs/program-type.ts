/**
 * The shape of a row of the program-type table (progs/types.ts): what a
 * program type declares about itself. Apart from the table so that each
 * row's file (socket-filter.ts, unspec.ts) imports the shape without
 * importing the table that lists it (no circle between the two).
 */

import type { Slot } from '../isa/instruction.js';
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

/**
 * What a context access at (off, size, read or write) is, as the kernel's
 * is_valid_access for the type says (for the modern verifier; the 3.19
 * verifier asks isValidCtxAccess): refused, a scalar, or one of the
 * pointers a context field gives (the kernel's info->reg_type).
 */
export type CtxPointer = 'pkt' | 'pkt_end' | 'pkt_meta' | 'sock_common_or_null' | 'flow_keys';
export type CtxAccess =
  | { readonly kind: 'denied' }
  | { readonly kind: 'scalar' }
  | { readonly kind: 'pointer'; readonly ptr: CtxPointer };

export const CTX_DENIED: CtxAccess = { kind: 'denied' };
export const CTX_SCALAR: CtxAccess = { kind: 'scalar' };

/** The return values the kernel's verifier allows (check_return_code), inclusive; absent: any value. */
export interface ReturnRange {
  readonly min: number;
  readonly max: number;
}

/** A packet frame's fields in a context (ProgramType.frameFields). */
export interface FrameFields {
  readonly kind: 'xdp' | 'skb';
  readonly data: number;
  readonly end: number;
  readonly writable: boolean;
}

/** A program type's row: id, name, context layout and access rules, helpers, how a run's data becomes its input. */
export interface ProgramType<N extends string = string> {
  /** the uapi name without BPF_PROG_TYPE_, in lower case */
  readonly name: N;
  /** the uapi number, prog_type of BPF_PROG_LOAD */
  readonly id: number;
  /** the kernel version that introduced it ('tsbpf' for tsbpf's own) */
  readonly since: string;
  /** prefixes of the ELF section names that hold programs of this type */
  readonly sections: readonly string[];
  /** the 3.19 verifier's is_valid_access for the context */
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  /**
   * A constant r2 holds when the program starts, which the verifier knows (a
   * tsbpf extension for its own mem type: the buffer's length); kernel types
   * leave it out and start, as 3.19 does, with only r1 and r10 readable.
   */
  readonly entryR2?: number;
  /**
   * The modern kernel's is_valid_access with the register type a load
   * gives (the modern verifier's question); absent on 3.19-only rows.
   * Narrow loads are allowed where the kernel allows them.
   */
  ctxAccess?(off: number, size: number, write: boolean): CtxAccess;
  /**
   * convert_ctx_access for a context load or store the modern verifier
   * accepted at context offset `off`: the instructions that replace it
   * (ctx-rewrite.ts splices them in at load), or undefined to keep it;
   * absent: every access stays as written (the context in memory is the
   * uapi struct).
   */
  rewriteCtxAccess?(off: number, insn: Slot): Slot[] | undefined;
  /** check_return_code's range for the type; absent: the kernel enforces none */
  readonly returnRange?: ReturnRange;
  /** direct packet access (data/data_end pointers): 'rw' for xdp and tc, absent otherwise */
  readonly packetAccess?: 'r' | 'rw';
  /**
   * The row that stands for the same uapi type under profiles newer than
   * 3.19 (the socket filter's __sk_buff context), when it differs.
   */
  readonly modern?: ProgramType<N>;
  /**
   * Where a run's packet frame (progs/frame.ts) shows in the context: the
   * offsets of the u32 fields holding its data and data_end addresses,
   * kept in step by the frame's helpers, and whether the program may write
   * the packet. The JIT reads them to run the frame helpers' common case
   * without leaving WebAssembly (jit/compile.ts). Absent: no such fields.
   */
  readonly frameFields?: FrameFields;
  /** LD_ABS / LD_IND are allowed */
  readonly ldAbs: boolean;
  /** r1's region during a run: its size, and whether the program may write it */
  readonly context: { readonly size: number; readonly writable: boolean };
  /** present when programs of the type run over packets (PacketRunner, the CLI's --pcap and filter) */
  readonly packet?: PacketContext;
  /** copy a run's data into memory and describe r1, r2 and the packet */
  prepare(mem: AddressSpace, data: Uint8Array): PreparedRun;
  /**
   * The types whose runs a runner makes in one buffer it reuses (XDP, tc,
   * the modern socket filter: api/frames.ts): the bytes prepare takes for a
   * frame of `len` bytes (a multiple of 8), and prepare's run made in the
   * caller's memory at `at` (8-aligned, prepareBytes(data.length) bytes,
   * which the caller owns: the run's release gives nothing back; whatever an
   * earlier run left there is zeroed first). The same checks, bytes and
   * context as prepare's.
   */
  prepareBytes?(len: number): number;
  /** `reuse`: the run made last at `at`, whose objects the type may take over (the run returned may be it) */
  prepareIn?(mem: AddressSpace, data: Uint8Array, at: number, reuse?: PreparedRun): PreparedRun;
  /**
   * present when the context's size is given at load (tsbpf's mem type,
   * BPF_PROG_LOAD's mem_size): the type for a context of `size` bytes
   */
  sized?(size: number): ProgramType;
}
