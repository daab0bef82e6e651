/**
 * What maps shared between threads have in common (issue 21 item 3): a
 * shared memory (`WebAssembly.Memory({ shared: true })`) holds the maps'
 * bytes, and each thread that uses a map has its own map object over it
 * (attachMap, maps/types.ts), whose JavaScript-side state lives in
 * SharedArrayBuffers. This file owns the two mechanisms those objects use:
 *
 * - Locks: a word of an Int32Array over a state SharedArrayBuffer, never in
 *   the memory programs address (a program that escaped the verifier could
 *   otherwise hold a lock forever). 0 free, 1 held, 2 held with a waiter;
 *   a waiter spins briefly, then sleeps in Atomics.wait (where the platform
 *   allows it: not a browser's main thread, which spins) until the holder
 *   notifies. A wait is bounded (LOCK_WAIT_MS): a lock still held then (its
 *   holder stopped mid-operation: a terminated worker) fails the operation
 *   with EBUSY, as the kernel's htab_lock_bucket does when it cannot take
 *   a bucket, instead of hanging. Holders never take a second lock of the
 *   same rank, and ranks are taken in one order, so no deadlock is possible.
 *
 * - Epochs: a map that unlinks an element cannot know whether a program on
 *   another thread holds a pointer into it (its lookup returned it), so it
 *   retires the element with a new epoch (the u32 at EPOCH_ADDR, bumped per
 *   retirement) and reuses it only once every lane's run word (the epoch
 *   its run started in, stored by the engine; 0 while idle) is 0 or at
 *   least that epoch: a run that started after the unlink cannot reach it.
 *   In a memory that is not shared, maps pin elements by run generation
 *   instead (maps/hash.ts) and none of this runs.
 */

import type { AddressSpace } from '../memory/address-space.js';
import { EPOCH_ADDR, RUN_GEN_ADDR } from '../memory/address-space.js';
import type { MapEnv } from './map.js';

/** How long a lock is waited for before the operation fails with EBUSY. */
export const LOCK_WAIT_MS = 2000;
/**
 * How long an update that needs an element waits for other lanes' runs to
 * end (and release the elements retired since they started) before it
 * fails with ENOMEM: a run is short, but its thread may lose its core to
 * another process meanwhile.
 */
export const RECLAIM_WAIT_MS = 2000;
/** spins before sleeping: a holder keeps a lock for a few hundred nanoseconds */
const SPINS = 200;

/** Whether `mem` is a shared memory, whose maps other threads may attach. */
export function isSharedMemory(mem: AddressSpace): boolean {
  return mem.shared;
}

/** false once Atomics.wait has thrown (a browser's main thread): waiters spin */
let canSleep = true;

/** Take lock word i of `locks`; false when it stayed held for LOCK_WAIT_MS. */
export function lockWord(locks: Int32Array, i: number): boolean {
  if (Atomics.compareExchange(locks, i, 0, 1) === 0) return true;
  return lockSlow(locks, i);
}

function lockSlow(locks: Int32Array, i: number): boolean {
  for (let n = 0; n < SPINS; n++) {
    if (Atomics.load(locks, i) === 0 && Atomics.compareExchange(locks, i, 0, 1) === 0) return true;
  }
  const deadline = Date.now() + LOCK_WAIT_MS;
  // from here the word says a waiter may sleep (2), so the holder's unlock notifies
  while (Atomics.exchange(locks, i, 2) !== 0) {
    if (Date.now() > deadline) return false;
    if (canSleep) {
      try {
        Atomics.wait(locks, i, 2, 1);
      } catch {
        canSleep = false;
      }
    }
  }
  return true;
}

/** A cell nobody notifies: pause() sleeps on it. */
const sleepCell = typeof SharedArrayBuffer !== 'undefined' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

/** Let other threads progress for about `ms` milliseconds (a spin where this thread may not sleep). */
export function pause(ms: number): void {
  if (canSleep && sleepCell) {
    try {
      Atomics.wait(sleepCell, 0, 0, ms);
      return;
    } catch {
      canSleep = false;
    }
  }
  const end = Date.now() + ms;
  while (Date.now() < end);
}

/** Release lock word i, waking one waiter if one may sleep. */
export function unlockWord(locks: Int32Array, i: number): void {
  if (Atomics.exchange(locks, i, 0) === 2) Atomics.notify(locks, i, 1);
}

/**
 * The epochs of a shared memory as seen from one thread's map objects:
 * retiring an element, and the oldest epoch a running lane may still hold.
 */
export class Epochs {
  /** the whole memory as u32 words (a shared memory never grows: one view for its life) */
  private readonly words: Uint32Array;

  constructor(
    mem: AddressSpace,
    private readonly env: MapEnv,
  ) {
    this.words = new Uint32Array(mem.memory.buffer);
  }

  /** A new epoch for an element unlinked now: reusable once no lane runs in an earlier one. */
  retire(): number {
    return (Atomics.add(this.words, EPOCH_ADDR >>> 2, 1) + 1) >>> 0;
  }

  /** Whether this thread is in a run (its run word is not 0). */
  inRun(): boolean {
    return Atomics.load(this.words, (this.env.runWord ?? RUN_GEN_ADDR) >>> 2) !== 0;
  }

  /**
   * This thread's run (if it is in one) gives up its hold on the elements
   * retired so far: its run word takes the current epoch, as if the run had
   * started now. Only from a map operation, outside any walk of the map.
   */
  yieldRun(): void {
    const word = (this.env.runWord ?? RUN_GEN_ADDR) >>> 2;
    if (Atomics.load(this.words, word) !== 0) Atomics.store(this.words, word, Atomics.load(this.words, EPOCH_ADDR >>> 2));
  }

  /**
   * The smallest epoch a lane's current run started in (2^32 when every
   * lane is idle): an element retired in epoch r may be reused iff r <= it.
   * `others`: of the other lanes' runs only.
   */
  oldestRun(others = false): number {
    const w = this.words;
    let min = 2 ** 32;
    const own = this.env.runWord ?? RUN_GEN_ADDR;
    const lanes = this.env.lanes;
    if (lanes === undefined) {
      const v = others ? 0 : Atomics.load(w, own >>> 2);
      return v !== 0 ? v : min;
    }
    const words = lanes.runWords;
    for (let l = 0; l < words.length; l++) {
      if (others && words[l] === own) continue;
      const v = Atomics.load(w, words[l]! >>> 2);
      if (v !== 0 && v < min) min = v;
    }
    return min;
  }
}
