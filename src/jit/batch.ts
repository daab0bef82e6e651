/**
 * The batch descriptor format: how `JitProgram.execBatch` (and the batch
 * function compile.ts generates) finds each run's input and leaves its
 * verdict. A batch of n runs is n descriptors of BATCH_DESC bytes, then n
 * u32 verdicts, in the runtime's memory; the API fills them (api/bpf.ts
 * testRun, api/packets.ts, api/program.ts runFrames) and reads the verdicts back.
 */

import type { AddressSpace } from '../memory/address-space.js';
import type { RunInput } from '../runtime/engine.js';

/** Size of one batch descriptor: r1 (the context), packet address, length, network offset. */
export const BATCH_DESC = 16;

/**
 * A batch over inputs (writeInputDescriptors) has, after the verdicts, one
 * byte per run: the kind of the run's packet frame (progs/frame.ts), its
 * context being r1, for the JIT's inline frame helpers; none: 0.
 */
export const FRAME_KIND = { none: 0, xdp: 1, skb: 2 } as const;

/** Bytes a batch of n runs over inputs needs: batchBytes(n), then the runs' frame kinds (rounded to 8). */
export const inputBatchBytes = (n: number): number => batchBytes(n) + ((n + 7) & ~7);

/** Bytes a batch of n runs needs: n descriptors, then n verdicts. */
export const batchBytes = (n: number): number => n * (BATCH_DESC + 4);

/** Fill descriptor i of the batch at `desc`. */
export function writeBatchDescriptor(view: DataView, desc: number, i: number, ctx: number, pkt: number, len: number, netOff: number): void {
  const d = desc + i * BATCH_DESC;
  view.setUint32(d, ctx, true);
  view.setUint32(d + 4, pkt, true);
  view.setUint32(d + 8, len, true);
  view.setInt32(d + 12, netOff, true);
}

/** The verdicts of a batch of n runs at `desc` (a view into the runtime's memory). */
export function batchVerdicts(mem: AddressSpace, desc: number, n: number): Uint32Array {
  return new Uint32Array(mem.memory.buffer, desc + n * BATCH_DESC, n);
}

/**
 * Fill the batch of inputs.length runs at `desc` (inputBatchBytes of them)
 * from each run's input: its descriptor (r1, packet) and its frame kind.
 * The frame kinds follow the verdicts of exactly that many runs: a batch
 * of another length needs its own layout.
 */
export function writeInputDescriptors(view: DataView, desc: number, inputs: readonly RunInput[]): void {
  const kinds = desc + batchBytes(inputs.length);
  inputs.forEach((input, i) => {
    const p = input.packet;
    const r1 = typeof input.r1 === 'bigint' ? Number(BigInt.asUintN(32, input.r1)) : input.r1 ?? 0;
    const f = input.frame;
    writeBatchDescriptor(view, desc, i, r1, p?.addr ?? 0, p?.len ?? 0, p?.netOff ?? -1);
    view.setUint8(kinds + i, f !== undefined && f.ctx === r1 ? FRAME_KIND[f.kind] : FRAME_KIND.none);
  });
}
