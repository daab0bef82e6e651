/**
 * The helpers that change the flow of a run, each declared once and
 * listed in the helper table (progs/helpers.ts): bpf_tail_call (4.2),
 * bpf_spin_lock / bpf_spin_unlock (5.1), bpf_for_each_map_elem (5.13),
 * bpf_loop (5.17).
 *
 * - bpf_tail_call(ctx, prog_array, index): the run continues in the
 *   program at index (RunState.tail; the engine ends this program and runs
 *   that one in its own engine over the same input) unless the index is out
 *   of range, the slot empty, or 33 tail calls were already taken in this
 *   run (MAX_TAIL_CALL_CNT): then the call does nothing and the program
 *   goes on. A tail call from inside a bpf-to-bpf call ends the whole
 *   run's program in tsbpf (the kernel returns to the caller's caller).
 * - bpf_loop(nr, callback, ctx, flags): the callback (a subprogram, as
 *   ld_imm64 of BPF_PSEUDO_FUNC loads it) runs with (i, ctx) for i from 0
 *   until it returns non-zero or nr runs; the result is the runs made.
 *   flags must be 0 (-EINVAL), nr at most 1 << 23 (-E2BIG).
 * - bpf_for_each_map_elem(map, callback, ctx, flags): the callback runs with
 *   (map, &key, &value, ctx) for each element in get_next_key order until
 *   it returns non-zero; the result is the elements visited. The key lives
 *   in memory of the helper the callback may read.
 * - bpf_spin_lock / unlock: one run at a time, so no waiting: the lock
 *   word (a u32 in a map value) is 1 while held; locking a lock the run
 *   holds or unlocking one it does not (a deadlock or a bug the kernel's
 *   verifier refuses) is EFAULT and ends the run. Which locks a run holds
 *   is the run's (RunState.locks), not the word's: a run that ended
 *   holding one (an unverified program that faulted) does not leave it
 *   taken for every later run of every program.
 *   In a shared memory (threads) the word is a real lock: taken by an
 *   atomic compare-and-exchange of 0 for 1, waited for (Atomics.wait) at
 *   most SPIN_LOCK_WAIT_MS, after which the run ends with EFAULT rather
 *   than hang; unlocking stores 0 and wakes a waiter; a run that ends
 *   holding locks gives them back (RunState.unlockWord).
 *
 * Callbacks run in the engine running the program (env.callback): the
 * interpreter's loop from the callback's pc, or the JIT's function of the
 * callback (jit/program.ts).
 */

import { BpfError } from '../errors.js';
import type { HelperEnv } from '../runtime/helpers.js';
import { ARG, ARG_FLAG, CALLBACK_TAG, RET, argU32, argU64, setR0 } from '../runtime/helpers.js';
import { FdArrayMap } from '../maps/fd-maps.js';
import { PacketFrame } from './frame.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';
import { mapArg, pointer } from './map-helpers.js';

export const MAX_TAIL_CALL_CNT = 33;
export const BPF_MAX_LOOPS = 1 << 23;

export const TAIL_CALL: HelperDef = {
  id: BPF_FUNC.tail_call,
  name: 'bpf_tail_call',
  proto: { ret: RET.VOID, args: [ARG.PTR_TO_CTX, ARG.CONST_MAP_PTR, ARG.ANYTHING] },
  progTypes: 'all',
  since: '4.2',
  tailCall: true,
  call(regs, env) {
    const saved0 = regs[0]!;
    const saved1 = regs[1]!;
    const addr = argU32(regs, 2);
    const map = addr < 0 ? undefined : env.mapAt(addr);
    if (!map) throw new BpfError('EFAULT', `bpf_tail_call: r2 = 0x${(regs[4]! >>> 0).toString(16)} is not a map of this program`);
    const index = argU64(regs, 3) & 0xffffffffn;
    const run = env.run;
    // r0 is not the helper's to change (the kernel's tail call is an instruction that leaves it)
    regs[0] = saved0;
    regs[1] = saved1;
    if (!(map instanceof FdArrayMap) || map.fdKind !== 'prog' || index >= BigInt(map.maxEntries)) return;
    if (run.tailCalls >= MAX_TAIL_CALL_CNT) return;
    const ref = map.refAt(Number(index));
    if (!ref) return;
    run.tailCalls++;
    run.tail = ref.object;
    // The context the target gets: its pointer fields as the frame has them, whatever
    // this program wrote there (a checked run may write all of tc's context), since the
    // target may be a verified program, run unchecked, that trusts them.
    const f = env.run.input?.frame;
    if (f instanceof PacketFrame) f.sync();
  },
};

/** The callback's pc from its tagged address (api/prog-load.ts turns BPF_PSEUDO_FUNC into it). */
function callbackPc(regs: Int32Array, n: number, name: string): number {
  if (regs[2 * n + 1] !== CALLBACK_TAG) throw new BpfError('EFAULT', `${name}: r${n} is not a callback (ld_imm64 of a subprogram)`);
  return regs[2 * n]! >>> 0;
}

export const LOOP: HelperDef = {
  id: BPF_FUNC.loop,
  name: 'bpf_loop',
  proto: { ret: RET.INTEGER, args: [ARG.ANYTHING, ARG.PTR_TO_FUNC, ARG.PTR_TO_STACK | ARG_FLAG.MAYBE_NULL, ARG.ANYTHING], callback: { arg: 2, ret: { min: 0, max: 1 } } },
  progTypes: 'all',
  since: '5.17',
  callsBack: true,
  call(regs, env) {
    const nr = argU64(regs, 1) & 0xffffffffn;
    const pc = callbackPc(regs, 2, 'bpf_loop');
    const ctx = argU64(regs, 3);
    const flags = argU64(regs, 4);
    if (flags !== 0n) return setR0(regs, -22);
    if (nr > BigInt(BPF_MAX_LOOPS)) return setR0(regs, -7);
    const n = Number(nr);
    for (let i = 0; i < n; i++) {
      if (env.callback(pc, [i, ctx]) !== 0n) return setR0(regs, i + 1);
    }
    setR0(regs, n);
  },
};

export const FOR_EACH_MAP_ELEM: HelperDef = {
  id: BPF_FUNC.for_each_map_elem,
  name: 'bpf_for_each_map_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_FUNC, ARG.PTR_TO_STACK | ARG_FLAG.MAYBE_NULL, ARG.ANYTHING], callback: { arg: 2, ret: { min: 0, max: 1 } } },
  progTypes: 'all',
  since: '5.13',
  callsBack: true,
  call(regs, env) {
    const map = mapArg(regs, env, 'bpf_for_each_map_elem');
    const pc = callbackPc(regs, 2, 'bpf_for_each_map_elem');
    const ctx = argU64(regs, 3);
    if (argU64(regs, 4) !== 0n) return setR0(regs, -22);
    setR0(regs, forEach(env, map, pc, ctx));
  },
};

function forEach(env: HelperEnv, map: import('../maps/map.js').BpfMapImpl, pc: number, ctx: bigint): number {
  const ks = map.keySize;
  // two keys (current, next): memory of the runtime, released after; the callback may read the current one
  const base = allocKeys(env, ks);
  try {
    let n = 0;
    let have = map.getNextKey(0, base.next) === 0;
    while (have) {
      env.u8.copyWithin(base.key, base.next, base.next + ks);
      const value = map.lookup(base.key);
      have = map.getNextKey(base.key, base.next) === 0;
      if (value === 0) continue;
      n++;
      const region = { start: base.key, end: base.key + ks, writable: false, name: 'bpf_for_each_map_elem key' };
      if (env.callback(pc, [map.addr, base.key, value, ctx], region) !== 0n) break;
    }
    return n;
  } finally {
    base.free();
  }
}

/** Memory for the key and the next key, from the runtime's allocator (RunState.alloc). */
function allocKeys(env: HelperEnv, ks: number): { key: number; next: number; free(): void } {
  const addr = env.run.alloc(ks * 2);
  return { key: addr, next: addr + ks, free: () => env.run.free(addr) };
}

function lockWord(regs: Int32Array, env: HelperEnv): number {
  return pointer(regs, 1, 4, true, env);
}

/** How long bpf_spin_lock waits for a lock another thread holds before the run ends with EFAULT. */
export const SPIN_LOCK_WAIT_MS = 1000;

/** each shared memory's 32-bit view (one per buffer) */
const sharedViews = new WeakMap<SharedArrayBuffer, Int32Array>();

/** The 32-bit view of the run's memory when it is shared (threads), else undefined. */
export function sharedWords(env: HelperEnv): Int32Array | undefined {
  const buf = env.u8.buffer;
  if (typeof SharedArrayBuffer !== 'function' || !(buf instanceof SharedArrayBuffer)) return undefined;
  let w = sharedViews.get(buf);
  if (w === undefined) sharedViews.set(buf, (w = new Int32Array(buf)));
  return w;
}

/** Take the lock word at `a` (4-aligned) in a shared memory, waiting at most SPIN_LOCK_WAIT_MS. */
function acquire(w: Int32Array, a: number): void {
  const i = a >> 2;
  // a lock is held for a few instructions: spin a little before sleeping
  for (let k = 0; k < 64; k++) if (Atomics.compareExchange(w, i, 0, 1) === 0) return;
  const deadline = Date.now() + SPIN_LOCK_WAIT_MS;
  let canWait = true;
  while (Atomics.compareExchange(w, i, 0, 1) !== 0) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new BpfError('EFAULT', `bpf_spin_lock: the lock at 0x${a.toString(16)} stayed held for ${SPIN_LOCK_WAIT_MS} ms (a deadlock, or a thread stuck holding it)`);
    }
    if (canWait) {
      try {
        Atomics.wait(w, i, 1, Math.min(left, 10));
      } catch {
        // a thread that may not block (a browser's main thread) spins instead
        canWait = false;
      }
    }
  }
}

/** Give the lock word at `a` back in a shared memory and wake one waiter. */
export function releaseShared(w: Int32Array, a: number): void {
  Atomics.store(w, a >> 2, 0);
  Atomics.notify(w, a >> 2, 1);
}

export const SPIN_LOCK: HelperDef = {
  id: BPF_FUNC.spin_lock,
  name: 'bpf_spin_lock',
  proto: { ret: RET.VOID, args: [ARG.PTR_TO_SPIN_LOCK] },
  progTypes: 'all',
  since: '5.1',
  call(regs, env) {
    const a = lockWord(regs, env);
    if (env.run.locks.has(a)) throw new BpfError('EFAULT', `bpf_spin_lock: the lock at 0x${a.toString(16)} is already held (a deadlock in the kernel)`);
    const w = sharedWords(env);
    if (w === undefined) env.view.setUint32(a, 1, true);
    else {
      if ((a & 3) !== 0) throw new BpfError('EFAULT', `bpf_spin_lock: the lock at 0x${a.toString(16)} is not 4-byte aligned`);
      acquire(w, a);
      // a run that ends holding it gives it back (RunState.end)
      env.run.unlockWord ??= (x) => releaseShared(w, x);
    }
    env.run.locks.add(a);
  },
};

export const SPIN_UNLOCK: HelperDef = {
  id: BPF_FUNC.spin_unlock,
  name: 'bpf_spin_unlock',
  proto: { ret: RET.VOID, args: [ARG.PTR_TO_SPIN_LOCK] },
  progTypes: 'all',
  since: '5.1',
  call(regs, env) {
    const a = lockWord(regs, env);
    if (!env.run.locks.delete(a)) throw new BpfError('EFAULT', `bpf_spin_unlock: the lock at 0x${a.toString(16)} is not held`);
    const w = sharedWords(env);
    if (w === undefined) env.view.setUint32(a, 0, true);
    else releaseShared(w, a);
  },
};

