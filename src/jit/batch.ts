/**
 * The batch descriptor format: how `JitProgram.execBatch` (and the batch
 * function compile.ts generates) finds each run's input and leaves its
 * verdict. A batch of n runs is n descriptors of BATCH_DESC bytes, then n
 * u32 verdicts, in the runtime's memory; the API fills them (api/bpf.ts
 * testRun, api/packets.ts, api/program.ts runFrames) and reads the verdicts back.
 */

import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';

/**
 * Size of one batch descriptor: r1 (the context), packet address, length,
 * network offset, frame (FRAME_KIND: the packet frame whose context r1 is,
 * for the JIT's inline frame helpers; 0 when the run has none).
 */
export const BATCH_DESC = 20;

/** A descriptor's frame field: the kind of the run's packet frame (progs/frame.ts), its context being r1. */
export const FRAME_KIND = { none: 0, xdp: 1, skb: 2 } as const;

/** Bytes a batch of n runs needs: n descriptors, then n verdicts. */
export const batchBytes = (n: number): number => n * (BATCH_DESC + 4);

/** Fill descriptor i of the batch at `desc`. */
export function writeBatchDescriptor(view: DataView, desc: number, i: number, ctx: number, pkt: number, len: number, netOff: number, frame: number = FRAME_KIND.none): void {
  const d = desc + i * BATCH_DESC;
  view.setUint32(d, ctx, true);
  view.setUint32(d + 4, pkt, true);
  view.setUint32(d + 8, len, true);
  view.setInt32(d + 12, netOff, true);
  view.setUint32(d + 16, frame, true);
}

/** The verdicts of a batch of n runs at `desc` (a view into the runtime's memory). */
export function batchVerdicts(mem: AddressSpace, desc: number, n: number): Uint32Array {
  return new Uint32Array(mem.memory.buffer, desc + n * BATCH_DESC, n);
}

/** Fill descriptors 0..n-1 of the batch at `desc` from each run's input (its r1, packet and frame). */
export function writeInputDescriptors(view: DataView, desc: number, inputs: readonly RunInput[]): void {
  inputs.forEach((input, i) => {
    const p = input.packet;
    const r1 = typeof input.r1 === 'bigint' ? Number(BigInt.asUintN(32, input.r1)) : input.r1 ?? 0;
    const f = input.frame;
    const frame = f !== undefined && f.ctx === r1 ? FRAME_KIND[f.kind] : FRAME_KIND.none;
    writeBatchDescriptor(view, desc, i, r1, p?.addr ?? 0, p?.len ?? 0, p?.netOff ?? -1, frame);
  });
}
