/**
 * The JIT: a program compiled to WebAssembly, one function per BPF function,
 * emitted as bytes by wasm.ts, importing the runtime's memory and one
 * trampoline for helper calls. V8 then compiles it to native code with
 * native i64.
 *
 * - Registers r0..r10 are i64 locals; loads and stores are memory
 *   instructions at the program's addresses (the verifier proved them;
 *   WebAssembly's bounds check still confines any bug to the runtime memory).
 * - Control flow: the basic blocks are emitted in an order where every
 *   edge goes forward (the natural order when all jumps do, as in verified
 *   3.19 programs; else a topological order, as for clang's shared tails),
 *   every block a branch targets gets a wasm block opened at function
 *   entry (farthest outermost) and closed just before it, and a jump is a
 *   `br` to it. A function whose jumps make a cycle (a loop: modern or
 *   unverified programs) runs as a dispatch loop over its basic blocks
 *   instead, with fuel.
 * - The common case of some helpers runs in WebAssembly (not hardened):
 *   bpf_map_lookup_elem (jit/maps.ts; straight-line for an array map r1 is
 *   known to hold), bpf_map_update_elem on array maps, bpf_skb_load_bytes
 *   and bpf_skb_store_bytes on the run's frame (inlineHelper). Each
 *   checks, before acting, everything its helper checks; any other case
 *   calls the helper, whose result and error are then the run's.
 * - Helper calls store r1..r5 in a scratch area laid out like the
 *   interpreter's register file and call the trampoline, which runs the
 *   helper over an Int32Array view of it; r0 comes back the same way. callx
 *   passes the id from its register.
 * - Local calls (unverified programs, the conformance plugin) are
 *   WebAssembly calls taking r0..r10 and returning r0..r5, as the
 *   interpreter's shared register file leaves them. The call depth lives in
 *   a WebAssembly global, out of the program's reach: it caps calls at 8
 *   frames like the interpreter (E2BIG), and the callee's r10 is computed
 *   from it (STACK_TOP - depth * 512), never from the caller's r10, which an
 *   unverified program may have moved. A callee that ends the program
 *   (exit-on-zero helper, LD_ABS out of bounds, fuel) sets a stop flag its
 *   callers check.
 * - Callbacks (bpf_loop, bpf_for_each_map_elem: a subprogram whose tagged
 *   address an ld_imm64 loads, callbackEntries) are functions of their own,
 *   as local calls' targets are. bpf_loop, and bpf_for_each_map_elem over a
 *   plain array (not hardened), whose callback (and map) the block loaded
 *   run their loop here, calling the callback directly in a frame below the
 *   caller's; otherwise the helper runs them through the callback export
 *   (callbackFunction). A callback that ends the program ends itself only,
 *   as in the interpreter.
 * - LD_ABS/LD_IND check bounds inline through a small function (negative
 *   SKF offsets included) and byte-swap in WebAssembly; out of bounds ends
 *   the program with r0 = 0.
 * - Division and modulo follow RFC 9669: x/0 = 0, x%0 = x, and signed
 *   INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0, which WebAssembly would trap on.
 * - The stack frames and the run word are the lane's (CompileOptions.lane;
 *   lane 0, STACK_TOP and RUN_GEN_ADDR, when absent). Over a shared memory
 *   (CompileOptions.shared) the memory import is shared, the atomic
 *   instructions are WebAssembly's atomic read-modify-writes (a misaligned
 *   one traps: EFAULT), and each run of a batch stores the global epoch in
 *   the lane's run word instead of bumping the run generation.
 *
 * Hardened mode (JitOptions.hardened, for untrusted programs) checks every
 * load, store and atomic inline, as the checked interpreter does: the
 * 64-bit address and size must fall in the current frame or its callers'
 * (by the depth), the run's two regions (context and packet, or a buffer),
 * or the value part of an element of a map the program references; else
 * the run stops with EFAULT naming pc, address and size. The bounds are
 * immediates (stack, maps) or WebAssembly globals (the run's regions), so a
 * program's stores cannot move them. Helpers check their pointer arguments
 * against the same regions (HelperEnv.access) and their map arguments
 * against the maps the program references (HelperEnv.mapAt, as on every
 * engine); the inline map lookup (jit/maps.ts, each map's layout embedded
 * as constants) runs only for maps the program references, after the key's
 * check. The entry frame is zeroed when a run starts (a batch:
 * when it starts, its runs being this program's) and a callee's frame at
 * each call, so a program never reads what another left on the stack.
 * Accesses at r10 + a constant inside the frame go unchecked in a function
 * that never writes r10.
 *
 * This file is the code generator. Beside it: layout.ts (the module's
 * locals, globals, scratch words and indexes), batch.ts (the batch
 * descriptor format), hardened.ts (the maps' value regions, the region
 * functions and the JavaScript side of the checks), program.ts (JitProgram,
 * which compiles, instantiates and runs), wasm.ts (the encoder), maps.ts
 * (the inline map lookup).
 */

import { assertNever, BpfError, InternalError } from '../errors.js';
import { CALLBACK_TAG, UNVISITED_TRAP } from '../runtime/helpers.js';
import type { Slot } from '../isa/instruction.js';
import {
  isHelperCall, isIndirectCall, isKfuncCall, isLdImm64, isLdImm64Pair, isLocalCall, slotProblem,
} from '../isa/instruction.js';
import { BPF_DW, BPF_H, BPF_SIZE, BPF_W, opcodeShape, sizeBytes, SKF_LL_OFF, SKF_NET_OFF } from '../isa/opcodes.js';
import { EPOCH_ADDR, MAX_CALL_FRAMES, NULL_PAGE_END, RUN_GEN_ADDR, STACK_FRAME_SIZE, STACK_TOP } from '../memory/address-space.js';
import type { JitArrayLayout, JitMapLayout } from '../maps/map.js';
import type { FrameFields } from '../progs/program-type.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import { ATOMIC, Emitter, encodeModule, OP, T, VOID } from './wasm.js';
import { LOOKUP_LOCALS, cpuOffset, mapLookupFunction } from './maps.js';
import { BATCH_DESC, FRAME_KIND } from './batch.js';
import type { ValueRegion } from './hardened.js';
import { checkMapsFunction, setRegionsFunction } from './hardened.js';
import {
  P_R1, P_R2, P_PKT, P_LEN, P_NET, REG0, T0, T1, K, A, PC, FUEL, JIT_LOOP_BUDGET, FUEL_FLAG, FAULT_FUEL,
  FAULT_DEPTH, FAULT_PC, STOP_FLAG, FUEL_WORD, B_DESC, B_N, B_I, B_D, EA, MT, FRAME_LO, FRAME_SPAN,
  REGION_LOCALS, G_DEPTH, G_A_LO, G_B_LO, R_LO, R_END, R_LOW, NO_REGION, NO_REGION_END, TYPE_SUB,
  TYPE_HELPER_HARDENED, TYPE_FAULT, TYPE_CHECK_MAPS, F_HELPER, F_FAULT, F_RUN, F_PKT_OFFSET, F_BATCH,
  FIRST_SUB, BPF_FUNC_MAP_LOOKUP_ELEM, BPF_FUNC_MAP_UPDATE_ELEM, BPF_FUNC_SKB_LOAD_BYTES, BPF_FUNC_SKB_STORE_BYTES,
  BATCH_RUN, FRAME_OK, CPU_WORD, B_FRAMES, CB_PARAMS, CB_PC, TYPE_CALLBACK, BPF_FUNC_LOOP, BPF_MAX_LOOPS, BPF_FUNC_FOR_EACH_MAP_ELEM, CB_KEYS,
} from './layout.js';

const reg = (r: number): number => REG0 + r;

/** The emitter, with the byte swaps the compiler needs. */
class Code extends Emitter {
  /**
   * A run function's instructions (the bytes inside its exit block) when
   * the batch function can take them as they are (sharedBody): compiled
   * once for both.
   */
  body: Uint8Array | undefined;
  /** the last local.set: its local, where its opcode is and where it ends (-1: none) */
  private setLocal = -1;
  private setAt = -1;
  private setEnd = -1;
  /**
   * local.set, remembered: a local.get of the same local right after it
   * (nothing between: no label, no branch) makes it a local.tee instead, the
   * pair every instruction that reads the register the one before wrote
   * (mov then ALU, a load then its use, a constant then its use) emits.
   */
  override set(l: number): this {
    this.setAt = this.n;
    super.set(l);
    this.setLocal = l;
    this.setEnd = this.n;
    return this;
  }
  override get(l: number): this {
    if (this.n === this.setEnd && l === this.setLocal) {
      this.data[this.setAt] = OP.local_tee;
      this.setEnd = -1;
      return this;
    }
    return super.get(l);
  }
  /**
   * Swap the two bytes of the 16-bit value on the stack (its upper half
   * zero): x * 0x10001 holds the value twice, so bits 8..23 are the swap.
   * One load and a multiply beat two byte loads (fewer registers live).
   */
  swap16(): this {
    return this.i32(0x10001).op(OP.i32_mul).i32(8).op(OP.i32_shr_u).i32(0xffff).op(OP.i32_and);
  }
  /** i32 bswap of the value on the stack (uses K): bytes 0 and 2 rotate left by 8, bytes 1 and 3 right by 8 */
  bswap32(): this {
    return this.tee(K).i32(8).op(OP.i32_rotl).i32(0x00ff00ff).op(OP.i32_and)
      .get(K).i32(8).op(OP.i32_rotr).i32(0xff00ff00 | 0).op(OP.i32_and).op(OP.i32_or);
  }
}



/** The address the program's memory operand points to, as an i32 on the stack; returns the memarg offset to use. */
function address(c: Code, base: number, off: number): number {
  c.get(reg(base)).op(OP.i32_wrap_i64);
  if (off >= 0) return off;
  c.i32(off).op(OP.i32_add);
  return 0;
}

const ALU64: Record<number, number> = {
  0x00: OP.i64_add, 0x10: OP.i64_sub, 0x20: OP.i64_mul, 0x40: OP.i64_or, 0x50: OP.i64_and,
  0x60: OP.i64_shl, 0x70: OP.i64_shr_u, 0xa0: OP.i64_xor, 0xc0: OP.i64_shr_s,
};
const ALU32: Record<number, number> = {
  0x00: OP.i32_add, 0x10: OP.i32_sub, 0x20: OP.i32_mul, 0x40: OP.i32_or, 0x50: OP.i32_and,
  0x60: OP.i32_shl, 0x70: OP.i32_shr_u, 0xa0: OP.i32_xor, 0xc0: OP.i32_shr_s,
};
const CMP64: Record<number, number> = {
  0x10: OP.i64_eq, 0x50: OP.i64_ne, 0x20: OP.i64_gt_u, 0x30: OP.i64_ge_u, 0xa0: OP.i64_lt_u, 0xb0: OP.i64_le_u,
  0x60: OP.i64_gt_s, 0x70: OP.i64_ge_s, 0xc0: OP.i64_lt_s, 0xd0: OP.i64_le_s,
};
const CMP32: Record<number, number> = {
  0x10: OP.i32_eq, 0x50: OP.i32_ne, 0x20: OP.i32_gt_u, 0x30: OP.i32_ge_u, 0xa0: OP.i32_lt_u, 0xb0: OP.i32_le_u,
  0x60: OP.i32_gt_s, 0x70: OP.i32_ge_s, 0xc0: OP.i32_lt_s, 0xd0: OP.i32_le_s,
};

/**
 * Hardened mode: up to this many referenced maps are checked inline at each
 * access (and looked up inline); beyond, one function checks them all (and
 * lookups take the helper), so code grows with accesses, not accesses x maps.
 */
const INLINE_MAPS = 4;

/**
 * Compile `slots` into WebAssembly bytes: one function per BPF function
 * (the entry at 0 and each local-call target). Forward jumps only: nested
 * blocks. With a backward jump: a dispatch loop over the basic blocks
 * (`loop { block* br_table }`), the block to run next in a local, and fuel
 * so that an unverified loop cannot run forever.
 */
export function compileToWasm(slots: readonly Slot[], scratch: number, memPages: { min: number; max?: number }, options: CompileOptions = {}): Uint8Array {
  const n = slots.length;
  if (n === 0) throw new BpfError('EINVAL', 'empty program');
  const entries = new Set<number>([0]);
  for (let pc = 0; pc < n; pc++) {
    const s = slots[pc]!;
    // registers index the function's locals: r11..r15 would reach the compiler's own
    const problem = slotProblem(s);
    if (problem !== undefined) throw new BpfError('EINVAL', `insn ${pc}: ${problem}`);
    if (isLdImm64(s) && !isLdImm64Pair(slots, pc)) throw new BpfError('EINVAL', `insn ${pc}: invalid bpf_ld_imm64 insn`);
    if (isLocalCall(s)) {
      const t = pc + s.imm + 1;
      if (t < 0 || t >= n) throw new BpfError('EINVAL', `insn ${pc}: call to ${t}, outside the program`);
      entries.add(t);
    } else if (isKfuncCall(s)) {
      throw new BpfError('ENOTSUP', `insn ${pc}: the JIT does not compile kfunc calls`);
    }
    if (isLdImm64(s)) pc++;
  }
  // callbacks (bpf_loop, bpf_for_each_map_elem): functions of their own, entered through callbackFunction
  const callbacks = options.callbacks ?? [];
  for (const pc of callbacks) {
    if (!callbackEntries(slots, [pc]).includes(pc)) throw new BpfError('EINVAL', `insn ${pc}: not the start of a function a callback can enter`);
    entries.add(pc);
  }
  const starts = [...entries].sort((x, y) => x - y);
  const funcIndex = new Map(starts.map((e, i) => [e, i === 0 ? F_RUN : FIRST_SUB + i - 1]));
  const multi = starts.length > 1;
  const helpers = slots.some((s) => isHelperCall(s) || isIndirectCall(s));
  const hardened = options.hardened;
  // hardened with many maps: lookups take the helper (the key check needs the map's key size)
  const inline = hardened && hardened.maps.length > INLINE_MAPS ? undefined : options.inlineMapLookup;
  const lookupFunc = inline && inline.length > 0 && slots.some((s) => isHelperCall(s) && s.imm === BPF_FUNC_MAP_LOOKUP_ELEM)
    ? FIRST_SUB + starts.length - 1
    : undefined;
  const setRegionsFunc = hardened ? FIRST_SUB + starts.length - 1 + (lookupFunc === undefined ? 0 : 1) : undefined;
  const checkMapsFunc = hardened && hardened.maps.length > INLINE_MAPS ? setRegionsFunc! + 1 : undefined;
  const callbackFunc = callbacks.length === 0
    ? undefined
    : FIRST_SUB + starts.length - 1 + (lookupFunc === undefined ? 0 : 1) + (setRegionsFunc === undefined ? 0 : 1) + (checkMapsFunc === undefined ? 0 : 1);
  const fc: FunctionContext = {
    stackTop: options.lane?.stackTop ?? STACK_TOP, runWord: options.lane?.runWord ?? RUN_GEN_ADDR, shared: options.shared === true,
    scratch, funcIndex, multi, helpers, lookupFunc, hardened, setRegionsFunc, checkMapsFunc, callbacks: options.callbacks !== undefined,
    faultReturns: hardened !== undefined && (callbacks.length > 0 || hardened.inner === true),
    // the other inline helpers: not hardened (their fast paths trust the verifier's proof, as the normal JIT does)
    mapUpdate: hardened ? [] : options.inlineMapUpdate ?? [],
    lookupMaps: hardened ? [] : inline ?? [],
    frame: hardened ? undefined : options.frame,
    loopCallbacks: options.inlineLoop === true ? new Map(callbacks.map((pc) => [pc, funcIndex.get(pc)!])) : undefined,
    forEachArrays: hardened ? [] : options.inlineForEach ?? [],
  };
  const bodies = starts.map((e, i) => compileFunction(slots, e, starts[i + 1] ?? n, fc, i === 0 ? 'run' : 'sub'));
  // the batch runs the entry function's instructions in its loop: the run function's bytes when they are the same
  const batchBody = compileFunction(slots, 0, starts[1] ?? n, fc, 'batch', bodies[0]!.body);
  // hardened mode's i64 locals come after eight i32 locals in every function
  const hl: [number, number][] = hardened ? [[10, T.i64]] : [];
  const subs = bodies.slice(1).map((body) => ({ type: TYPE_SUB, locals: [[2, T.i64], [hardened ? 8 : 4, T.i32], ...hl] as [number, number][], body }));
  const region = (): { type: number; init: bigint }[] => [
    { type: T.i64, init: NO_REGION }, { type: T.i64, init: BigInt(NO_REGION_END) }, { type: T.i64, init: NO_REGION },
  ];
  return encodeModule({
    types: [
      { params: [T.i32], results: [T.i32] },
      { params: [T.i32, T.i32, T.i32, T.i32, T.i32], results: [] },
      { params: [T.i32, T.i32, T.i32, T.i32], results: [T.i32] },
      { params: [T.i32, T.i32], results: [T.i32] }, // the inline map lookup
      // a subprogram: the entry's five i32 parameters (so local numbering is the same), r0..r10; r0..r5 come back
      { params: [T.i32, T.i32, T.i32, T.i32, T.i32, ...new Array<number>(11).fill(T.i64)], results: new Array<number>(6).fill(T.i64) },
      // hardened: helper(id, pc) -> exit now; fault(pc, address, size * 2 + write)
      { params: [T.i32, T.i32], results: [T.i32] },
      { params: [T.i32, T.i64, T.i32], results: [] },
      // hardened, many maps: checkMaps(address, size) -> 1 when inside a value
      { params: [T.i64, T.i32], results: [T.i32] },
      // callback(sel): run callback `sel` (TYPE_CALLBACK)
      { params: [T.i32], results: [] },
    ],
    funcImports: [
      { module: 'env', name: 'helper', type: hardened ? TYPE_HELPER_HARDENED : 0 },
      { module: 'env', name: 'fault', type: TYPE_FAULT },
    ],
    // (a shared memory never grows: its maximum is its size)
    memoryImport: { module: 'env', name: 'memory', minPages: memPages.min, maxPages: options.shared === true ? memPages.max ?? memPages.min : memPages.max, shared: options.shared === true },
    globals: [{ type: T.i32, init: 0 }, ...(hardened ? [...region(), ...region()] : [])],
    funcs: [
      { type: 1, locals: [[11, T.i64], [2, T.i64], [hardened ? 8 : 4, T.i32], ...hl], body: bodies[0]! },
      { type: 2, locals: [[1, T.i32]], body: packetOffsetFunction() },
      // (B_FRAMES, used only when not hardened, comes last: hardened mode's locals keep their indexes)
      { type: 1, locals: [[11, T.i64], [2, T.i64], [8, T.i32], ...hl, [1, T.i32]], body: batchBody },
      ...subs,
      ...(lookupFunc === undefined ? [] : [{ type: 3, locals: [[LOOKUP_LOCALS, T.i32]] as [number, number][], body: mapLookupFunction(inline!, scratch + CPU_WORD, fc.runWord, !fc.shared) }]),
      ...(setRegionsFunc === undefined ? [] : [{ type: 1, locals: [] as [number, number][], body: setRegionsFunction() }]),
      ...(checkMapsFunc === undefined ? [] : [{ type: TYPE_CHECK_MAPS, locals: [[1, T.i64]] as [number, number][], body: checkMapsFunction(hardened!.maps) }]),
      ...(callbackFunc === undefined ? [] : [{ type: TYPE_CALLBACK, locals: [[1, T.i64], [1, T.i32]] as [number, number][], body: callbackFunction(scratch, callbacks.map((pc) => funcIndex.get(pc)!), fc.stackTop) }]),
    ],
    exports: [
      { name: 'run', func: F_RUN }, { name: 'batch', func: F_BATCH }, { name: 'depth', global: G_DEPTH },
      ...(setRegionsFunc === undefined ? [] : [{ name: 'setRegions', func: setRegionsFunc }]),
      ...(callbackFunc === undefined ? [] : [{ name: 'callback', func: callbackFunc }]),
      ...(hardened ? ['aLo', 'aEnd', 'aLoW', 'bLo', 'bEnd', 'bLoW'].map((name, i) => ({ name, global: G_A_LO + i })) : []),
    ],
  });
}

export interface CompileOptions {
  /** the lane's stack top and run word (absent: lane 0's, STACK_TOP and RUN_GEN_ADDR) */
  lane?: { stackTop: number; runWord: number };
  /** the memory is shared (threads): a shared memory import of its fixed size, real atomics, epochs */
  shared?: boolean;
  /** helper 1 is bpf_map_lookup_elem: look values up in WebAssembly (jit/maps.ts) in these maps, the program's; hardened: after the key's check */
  inlineMapLookup?: readonly JitMapLayout[];
  /**
   * per-access region checks: the maps' value regions and the batch
   * context's shape; inner: the program uses maps of maps, whose inner maps'
   * values the checks leave to the fault import (it returns when Guard allows)
   */
  hardened?: { maps: readonly ValueRegion[]; batchContext: { size: number; writable: boolean }; inner?: boolean };
  /**
   * helper 2 is bpf_map_update_elem: its common case on these array maps
   * (the program's, each with its value size) in WebAssembly (not hardened)
   */
  inlineMapUpdate?: readonly InlineArray[];
  /**
   * the program type's frame fields (ProgramType.frameFields), and which of
   * the frame helpers the registry holds as the table defines them: their
   * common case in WebAssembly (not hardened)
   */
  frame?: InlineFrame;
  /**
   * the program may call a helper that runs callbacks: the pcs of its
   * callbacks (callbackEntries, perhaps none), in the order the exported
   * callback(sel) numbers them, each compiled as a function of its own (as
   * a local call's target), which a helper runs through that export
   * (JitProgram's HelperEnv.callback); its helper calls leave the run's
   * parameters and their pc in CB_PARAMS / CB_PC (the scratch area is
   * SCRATCH_BYTES long; without callbacks, 128 bytes)
   */
  callbacks?: readonly number[];
  /**
   * helper 181 is bpf_loop: a call whose callback is known at compile time
   * (an ld_imm64 earlier in the block) runs its loop in WebAssembly, calling
   * the callback's function directly (inlineLoop in compile.ts)
   */
  inlineLoop?: boolean;
  /**
   * with inlineLoop: helper 164 is bpf_for_each_map_elem, and these are the
   * program's plain array maps: a call over one of them (r1 an ld_imm64
   * earlier in the block) whose callback is known walks it in WebAssembly
   * (not hardened)
   */
  inlineForEach?: readonly JitArrayLayout[];
}

/**
 * Of the pcs `candidates` (the constants of ld_imm64s tagged as callbacks,
 * runtime/helpers.ts's CALLBACK_TAG), those that can start a function of
 * their own without changing the program around them: inside the program
 * but not its first slot (the entry function has the run's signature, not
 * a subprogram's), not an ld_imm64's second slot, after an instruction that
 * never falls through (exit, ja, or the trap BPF_PROG_LOAD puts in place of
 * what the verifier never visited), and crossed by no jump. A verified
 * program's callbacks are subprograms: always so. Ascending, without repeats.
 */
export function callbackEntries(slots: readonly Slot[], candidates: readonly number[]): number[] {
  const n = slots.length;
  const second = new Uint8Array(n);
  for (let pc = 0; pc < n; pc++) if (isLdImm64(slots[pc]!)) second[++pc] = 1;
  const ok = [...new Set(candidates)].filter((pc) => {
    if (!Number.isInteger(pc) || pc <= 0 || pc >= n || second[pc] === 1) return false;
    const prev = slots[pc - 1]!;
    const shape = second[pc - 1] === 1 ? 'lddw' : opcodeShape(prev.code);
    const trap = shape === 'call' && prev.src === 0 && prev.imm === UNVISITED_TRAP;
    return shape === 'exit' || shape === 'ja' || shape === 'ja32' || trap;
  });
  if (ok.length === 0) return ok;
  // a jump from one side of an entry to the other would leave its function
  const crossed = new Uint8Array(n + 1);
  for (let pc = 0; pc < n; pc++) {
    const s = slots[pc]!;
    if (second[pc] === 1) continue;
    const shape = opcodeShape(s.code);
    const t = shape === 'ja' || shape === 'jcond' ? pc + s.off + 1 : shape === 'ja32' ? pc + s.imm + 1 : undefined;
    if (t === undefined || t === pc + 1) continue;
    // every boundary b with min < b <= max is crossed (clamped to the program)
    const lo = Math.max(0, Math.min(pc, t) + 1);
    const hi = Math.min(n, Math.max(pc, t));
    for (let b = lo; b <= hi; b++) crossed[b] = 1;
  }
  return ok.filter((pc) => crossed[pc] === 0).sort((x, y) => x - y);
}

/**
 * callback(sel): run callback `sel` (CompileOptions.callbacks) as a helper
 * asks (HelperEnv.callback, in JitProgram): its r1..r5 from the scratch
 * register file, the run's entry parameters from CB_PARAMS, a frame of its
 * own below the caller's (by the depth, as a local call; JavaScript checked
 * the depth first), one unit of the run's fuel; its r0 back in the scratch
 * r0. A callback that ends the program (an exit-on-zero helper, LD_ABS out
 * of bounds, a tail call) leaves the stop flag, which JavaScript reads.
 */
function callbackFunction(scratch: number, funcs: readonly number[], stackTop: number): Code {
  const c = new Code();
  const sel = 0;
  const ret = 1;
  const fuel = 2;
  c.i32(scratch + FUEL_WORD).i32(scratch + FUEL_WORD).mem(OP.i32_load).i32(1).op(OP.i32_sub).tee(fuel).mem(OP.i32_store);
  c.get(fuel).op(OP.i32_eqz).op(OP.if).byte(VOID);
  c.i32(scratch + FAULT_PC).i32(-1).mem(OP.i32_store);
  c.i32(scratch + FUEL_FLAG).i32(FAULT_FUEL).mem(OP.i32_store);
  c.i32(scratch + STOP_FLAG).i32(1).mem(OP.i32_store);
  c.op(OP.return);
  c.op(OP.end);
  c.gget(G_DEPTH).i32(1).op(OP.i32_add).gset(G_DEPTH);
  funcs.forEach((f, k) => {
    c.get(sel).i32(k).op(OP.i32_eq).op(OP.if).byte(VOID);
    for (let j = 0; j < 5; j++) c.i32(scratch + CB_PARAMS + 4 * j).mem(OP.i32_load);
    c.i64(0);
    for (let r = 1; r <= 5; r++) c.i32(scratch + 8 * r).mem(OP.i64_load);
    for (let r = 6; r <= 9; r++) c.i64(0);
    c.i64(stackTop).gget(G_DEPTH).op(OP.i64_extend_i32_u).i64(STACK_FRAME_SIZE).op(OP.i64_mul).op(OP.i64_sub);
    c.op(OP.call).u32(f);
    for (let r = 5; r >= 1; r--) c.op(OP.drop);
    c.set(ret);
    c.op(OP.end);
  });
  c.gget(G_DEPTH).i32(1).op(OP.i32_sub).gset(G_DEPTH);
  c.i32(scratch).get(ret).mem(OP.i64_store);
  return c;
}

/** An array map whose bpf_map_update_elem the JIT inlines: its layout and value size. */
export interface InlineArray extends JitArrayLayout {
  readonly valueSize: number;
}

/** The frame helpers the JIT inlines for a program type with frame fields. */
export interface InlineFrame {
  readonly fields: FrameFields;
  /** bpf_skb_load_bytes (26) and bpf_skb_store_bytes (9) are the table's */
  readonly loadBytes: boolean;
  readonly storeBytes: boolean;
}


interface FunctionContext {
  /** the lane's stack top (r10 of the entry frame) and run word */
  stackTop: number;
  runWord: number;
  /** a shared memory: real atomics, the epoch in the run word per batch run */
  shared: boolean;
  scratch: number;
  /** BPF entry pc -> WebAssembly function index */
  funcIndex: Map<number, number>;
  /** the program has local calls: the entry clears the stop flag */
  multi: boolean;
  /** the program calls helpers */
  helpers: boolean;
  /** the function index of the inline map lookup, when the program uses it */
  lookupFunc: number | undefined;
  /** hardened mode: the regions besides the stack and the run's */
  hardened: CompileOptions['hardened'];
  /** hardened mode: the function index of setRegions */
  setRegionsFunc: number | undefined;
  /** hardened mode with more than INLINE_MAPS maps: the function index of checkMaps */
  checkMapsFunc: number | undefined;
  /** the maps of the inline lookup (not hardened): a lookup in an array map known at the call is straight-line code */
  lookupMaps: readonly JitMapLayout[];
  /** array maps whose updates are inlined (empty: none) */
  mapUpdate: readonly InlineArray[];
  /** the frame helpers inlined (undefined: none) */
  frame: InlineFrame | undefined;
  /**
   * the program has callbacks: helper calls leave the run's parameters and
   * their pc in CB_PARAMS / CB_PC
   */
  callbacks: boolean;
  /**
   * hardened, with callbacks or maps of maps: an access the compiled checks
   * refuse asks JavaScript, which allows reads of a callback's key and the
   * values of the inner maps held at the time (fault returns, the access goes on)
   */
  faultReturns: boolean;
  /** bpf_loop runs in WebAssembly (CompileOptions.inlineLoop): each callback's pc -> its function index */
  loopCallbacks: ReadonlyMap<number, number> | undefined;
  /** the plain array maps bpf_for_each_map_elem walks in WebAssembly (CompileOptions.inlineForEach; not hardened) */
  forEachArrays: readonly JitArrayLayout[];
}

/**
 * How a BPF function is compiled: 'run', the entry function, one run per
 * call; 'batch', the entry function inside a loop over batch descriptors
 * (batch(desc, n, 0, 0, 0), see JitProgram.execBatch), so a run costs no call;
 * 'sub', a local-call target.
 */
type FunctionMode = 'run' | 'batch' | 'sub';

/**
 * Whether the entry function's instructions compile to the same bytes in
 * the run and the batch function, so that the batch can take the run's
 * (Code.body) and the emitter runs over them once: both end a run with a
 * `br` to their exit block, and differ inside it only where the hardened
 * checks keep the run's regions (globals in a batch, locals in a run) and
 * where a local call's callee stopped the program (a batch goes on to its
 * next run).
 */
function sharedBody(slots: readonly Slot[], start: number, end: number, fc: FunctionContext): boolean {
  if (fc.hardened) return false;
  for (let pc = start; pc < end; pc++) if (isLocalCall(slots[pc]!)) return false;
  return true;
}

/**
 * One BPF function, slots [start, end), as a WebAssembly function body.
 * `body`: for the batch, the run function's instructions (Code.body), which
 * it then takes instead of compiling them again.
 */
function compileFunction(slots: readonly Slot[], start: number, end: number, fc: FunctionContext, mode: FunctionMode, body?: Uint8Array): Code {
  const { scratch, stackTop } = fc;
  const main = mode !== 'sub';
  const batch = mode === 'batch';
  const n = end;
  const leaders = new Set<number>([start]);
  let backward = false;
  for (let pc = start; pc < n; pc++) {
    const s = slots[pc]!;
    const shape = opcodeShape(s.code);
    let t: number | undefined;
    if (shape === 'ja' || shape === 'jcond') t = pc + s.off + 1;
    else if (shape === 'ja32') t = pc + s.imm + 1;
    if (shape === 'exit' || t !== undefined) leaders.add(pc + 1);
    if (isLdImm64(s)) pc++;
    if (t === undefined) continue;
    if (t < start || t > n) throw new BpfError('EINVAL', `insn ${pc}: jump to ${t}, outside its function [${start}, ${n})`);
    if (t <= pc) backward = true;
    leaders.add(t);
  }
  // r10 keeps the value the function starts with (STACK_TOP, or the callee's frame top the caller
  // computed from the depth) unless an instruction of the function writes it
  let r10Fixed = true;
  for (let pc = start; pc < n; pc++) {
    const s = slots[pc]!;
    const shape = opcodeShape(s.code);
    const writesDst = shape === 'alu' || shape === 'neg' || shape === 'end' || shape === 'lddw' || shape === 'ldx' || shape === 'ldsx';
    if ((writesDst && s.dst === 10) || (shape === 'atomic' && s.src === 10)) r10Fixed = false;
    if (isLdImm64(s)) pc++;
  }
  const c = new Code();
  // hardened: the entry frame starts zeroed, whatever another program left there (a batch:
  // once, its runs being runs of this program); a callee's frame is zeroed at each call, below
  if (main && fc.hardened) c.i32(stackTop - STACK_FRAME_SIZE).i32(0).i32(STACK_FRAME_SIZE).fill();
  if (batch) {
    // batch(desc, n): for i in 0..n: run over descriptor i, verdict i = r0's low 32 bits
    c.get(P_R1).set(B_DESC).get(P_R2).set(B_N).i32(0).set(B_I);
    // batch(desc, n, frames): the third argument, the runs' frame kinds or 0 (not hardened)
    if (fc.frame) c.get(P_PKT).set(B_FRAMES);
    c.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
    c.get(B_I).get(B_N).op(OP.i32_ge_u).op(OP.br_if).u32(1);
    c.get(B_DESC).get(B_I).i32(BATCH_DESC).op(OP.i32_mul).op(OP.i32_add).tee(B_D).mem(OP.i32_load, 0).set(P_R1);
    c.get(B_D).mem(OP.i32_load, 4).set(P_PKT);
    c.get(B_D).mem(OP.i32_load, 8).tee(P_LEN).set(P_R2);
    c.get(B_D).mem(OP.i32_load, 12).set(P_NET);
    // the run's index, for the helpers it calls (JitProgram.execBatch with inputs)
    if (fc.helpers) c.i32(scratch + BATCH_RUN).get(B_I).mem(OP.i32_store);
    // whether the run has the frame the inline frame helpers expect: its kind in the batch's frame
    // kinds (batch.ts, writeInputDescriptors), none without them
    if (fc.frame) {
      c.i32(scratch + FRAME_OK).get(B_FRAMES).op(OP.if).byte(T.i32);
      c.get(B_FRAMES).get(B_I).op(OP.i32_add).mem(OP.i32_load8_u).i32(FRAME_KIND[fc.frame.fields.kind]).op(OP.i32_eq);
      c.op(OP.else).i32(0).op(OP.end).mem(OP.i32_store);
    }
    // every run starts from zeroed registers, as a call's fresh locals do
    for (const r of [0, 3, 4, 5, 6, 7, 8, 9]) c.i64(0).set(reg(r));
    // a new run generation for the maps' helpers (see HashMap); shared memory: the run's epoch
    // (JitProgram stores 0, idle, when the batch ends)
    // (an epoch of 0, once in 2^32 retirements, is stored as 0xffffffff, the one before it: 0 means idle)
    if (fc.helpers && fc.shared) {
      c.i32(fc.runWord).i32(EPOCH_ADDR).atomic(ATOMIC.i32_load, 4).tee(K).get(K).op(OP.i32_eqz).op(OP.i32_sub).atomic(ATOMIC.i32_store, 4);
    }
    else if (fc.helpers) c.i32(fc.runWord).i32(fc.runWord).mem(OP.i32_load).i32(1).op(OP.i32_add).mem(OP.i32_store);
    if (fc.hardened) {
      // this run's regions, straight into locals: its context (the shape the program type gives) and
      // its packet; the globals follow only before a call that reads them (syncRegions)
      const ctx = fc.hardened.batchContext;
      const set = (l: number, lo: () => void, end: () => void, writable: boolean, absent: () => void): void => {
        absent();
        c.op(OP.if).byte(VOID);
        c.i64(NO_REGION).set(l + R_LO).i64(NO_REGION_END).set(l + R_END).i64(NO_REGION).set(l + R_LOW);
        c.op(OP.else);
        lo();
        c.op(OP.i64_extend_i32_u).tee(l + R_LO);
        // (lo stays on the stack for the end)
        if (writable) c.tee(l + R_LOW);
        else c.i64(NO_REGION).set(l + R_LOW);
        end();
        c.op(OP.i64_add).set(l + R_END);
        c.op(OP.end);
      };
      set(REGION_LOCALS, () => c.get(P_R1), () => c.i64(ctx.size), ctx.writable && ctx.size > 0,
        () => c.get(P_R1).i32(NULL_PAGE_END).op(OP.i32_lt_u).i32(ctx.size === 0 ? 1 : 0).op(OP.i32_or));
      set(REGION_LOCALS + 3, () => c.get(P_PKT), () => c.get(P_LEN).op(OP.i64_extend_i32_u), false,
        () => c.get(P_PKT).i32(NULL_PAGE_END).op(OP.i32_lt_u).get(P_LEN).op(OP.i32_eqz).op(OP.i32_or));
    }
  }
  // hardened: the run's regions in locals, which V8 keeps in registers or the frame rather than reloading globals
  if (fc.hardened && !batch) for (let k = 0; k < 6; k++) c.gget(G_A_LO + k).set(REGION_LOCALS + k);
  /** batch mode: the run's regions into the globals, before a call whose callee or JavaScript reads them */
  const syncRegions = (): void => {
    if (batch && fc.hardened) for (let k = 0; k < 6; k++) c.get(REGION_LOCALS + k).gset(G_A_LO + k);
  };
  /**
   * exec, hardened: the regions back from the globals after a call, where a helper may have moved the
   * run's frame (bpf_xdp_adjust_head...: Guard.resync set them again)
   */
  const reloadRegions = (): void => {
    if (fc.hardened && !batch) for (let k = 0; k < 6; k++) c.gget(G_A_LO + k).set(REGION_LOCALS + k);
  };
  /** A helper call at `pc` (see helperCall). */
  const callHelper = (pc: number, id: () => void, exitWithR0: (ifs: number) => void): void => {
    syncRegions();
    helperCall(c, fc, pc, id, exitWithR0);
    reloadRegions();
  };
  if (main) {
    // r10 is the top of the stack; r1, r2 come in as i32 addresses/lengths.
    c.i64(stackTop).set(reg(10));
    c.get(P_R1).op(OP.i64_extend_i32_u).set(reg(1));
    c.get(P_R2).op(OP.i64_extend_i32_u).set(reg(2));
    if (fc.multi) {
      c.i32(scratch + STOP_FLAG).i32(0).mem(OP.i32_store);
      c.i32(scratch + FUEL_WORD).i32(JIT_LOOP_BUDGET).mem(OP.i32_store);
      c.i32(0).gset(G_DEPTH);
    }
  } else if (fc.hardened) {
    // a callee at depth d owns [STACK_TOP - (d+1)*512, STACK_TOP - d*512) and may reach its callers' frames above
    c.gget(G_DEPTH).op(OP.i64_extend_i32_u).i64(1).op(OP.i64_add).i64(STACK_FRAME_SIZE).op(OP.i64_mul).set(FRAME_SPAN);
    c.i64(stackTop).get(FRAME_SPAN).op(OP.i64_sub).set(FRAME_LO);
    c.get(FRAME_LO).op(OP.i32_wrap_i64).i32(0).i32(STACK_FRAME_SIZE).fill();
  }
  // the run's exit: br here, then r0 to the scratch area (run) or the verdict (batch)
  if (main) c.op(OP.block).byte(VOID);
  if (batch && body !== undefined) {
    c.bytes(body);
    batchEpilogue(c, scratch);
    return c;
  }
  const bodyAt = c.buf.length;
  /** blocks open between the current instruction and the exit block */
  let open = 0;
  const toExit = (ifs: number): number => open + ifs;
  /** A subprogram returns r0..r5 to its caller. */
  const returnRegs = (): void => {
    for (let r = 0; r <= 5; r++) c.get(reg(r));
    c.op(OP.return);
  };
  /** The BPF exit of this function, `ifs` if-blocks deep. */
  const exitFunction = (ifs = 0): void => {
    if (main) c.op(OP.br).u32(toExit(ifs));
    else returnRegs();
  };
  /** End the whole program with r0 as it is (from any depth): the callers see the stop flag. */
  const exitWithR0 = (ifs: number): void => {
    if (main) {
      exitFunction(ifs);
      return;
    }
    c.i32(scratch).get(reg(0)).mem(OP.i64_store);
    c.i32(scratch + STOP_FLAG).i32(1).mem(OP.i32_store);
    returnRegs();
  };
  /** Stop the program (a batch: all of it) with error `code` in the fault word, `pc` beside it (see JitProgram.exec). */
  const fault = (code: number, pc = -1): void => {
    c.i32(scratch + FAULT_PC).i32(pc).mem(OP.i32_store);
    c.i32(scratch + FUEL_FLAG).i32(code).mem(OP.i32_store);
    c.i32(scratch + STOP_FLAG).i32(1).mem(OP.i32_store);
    if (main) c.op(OP.return);
    else returnRegs();
  };
  /**
   * Push the i32 address of the access [reg(base) + off, + size) and return
   * the memarg offset to use. Hardened: check the 64-bit address first
   * against the frames, the run's regions and the maps' values, calling the
   * fault import (which throws) when none holds it.
   */
  /** registers known to hold r10 + k (only while r10 keeps its entry value), reg -> k; forgotten at each leader */
  const frameOffsets = new Map<number, number>();
  /** registers known to hold a constant (ld_imm64, mov of an immediate) since the block began, reg -> value */
  const consts = new Map<number, bigint>();
  const access = (base: number, off: number, size: number, write: boolean, pc: number): number => {
    const h = fc.hardened;
    // r10 + k + off inside the current frame, when nothing in this function writes r10: no check needed
    const k = base === 10 ? 0 : frameOffsets.get(base);
    if (!h || (r10Fixed && k !== undefined && k + off >= -STACK_FRAME_SIZE && k + off + size <= 0)) return address(c, base, off);
    c.op(OP.block).byte(VOID);
    c.get(reg(base));
    if (off !== 0) c.i64(off).op(OP.i64_add);
    c.set(EA);
    // lo <= ea && ea <= end - size, in u64: every end exceeds any access size (see setRegionsFunction)
    const run = (g: number): void => {
      const l = REGION_LOCALS + g - G_A_LO;
      // two predictable branches rather than a combined condition
      c.op(OP.block).byte(VOID);
      c.get(EA).get(l + (write ? R_LOW : R_LO)).op(OP.i64_lt_u).op(OP.br_if).u32(0);
      c.get(EA).get(l + R_END).i64(size).op(OP.i64_sub).op(OP.i64_le_u).op(OP.br_if).u32(1);
      c.op(OP.end);
    };
    // ea - lo <= span - size, in u64 (an address below lo wraps around)
    const stack = (): void => {
      c.get(EA);
      if (main) c.i64(stackTop - STACK_FRAME_SIZE).op(OP.i64_sub).i64(STACK_FRAME_SIZE - size);
      else c.get(FRAME_LO).op(OP.i64_sub).get(FRAME_SPAN).i64(size).op(OP.i64_sub);
      c.op(OP.i64_le_u).op(OP.br_if).u32(0);
    };
    // r10-based accesses are most likely on the stack, others in the context or packet
    if (base === 10) stack();
    run(G_A_LO);
    run(G_B_LO);
    if (base !== 10) stack();
    if (fc.checkMapsFunc !== undefined) c.get(EA).i32(size).op(OP.call).u32(fc.checkMapsFunc).op(OP.br_if).u32(0);
    else for (const m of h.maps) {
      if (m.valueSize < size) continue;
      // inside the storage, and inside one element's value: (offset % stride) - valueOff <= valueSize - size,
      // in u32 (an access straddling two values is refused, as the checked interpreter does)
      c.get(EA).i64(m.start).op(OP.i64_sub).tee(MT).i64(m.end - m.start - size).op(OP.i64_le_u);
      c.op(OP.if).byte(VOID);
      c.get(MT).op(OP.i32_wrap_i64);
      if (m.stride & (m.stride - 1)) c.i32(m.stride).op(OP.i32_rem_u);
      else c.i32(m.stride - 1).op(OP.i32_and);
      if (m.valueOff !== 0) c.i32(m.valueOff).op(OP.i32_sub);
      c.i32(m.valueSize - size).op(OP.i32_le_u).op(OP.br_if).u32(1);
      c.op(OP.end);
    }
    syncRegions();
    c.i32(pc).get(EA).i32(size * 2 + (write ? 1 : 0)).op(OP.call).u32(F_FAULT);
    // (fault returns for a read of the key bpf_for_each_map_elem passed, or an inner map's value: the access goes on)
    if (!fc.faultReturns) c.op(OP.unreachable);
    c.op(OP.end);
    c.get(EA).op(OP.i32_wrap_i64);
    return 0;
  };

  // The basic blocks in natural order, and the order they are emitted in.
  const blocks = [...leaders].filter((l) => l < n).sort((x, y) => x - y);
  const blockOf = new Map(blocks.map((l, i) => [l, i]));
  const m = blocks.length;
  // A program whose backward jumps make no cycle (clang shares tails of code that way) still
  // compiles to nested blocks: its basic blocks in a topological order, where every edge goes
  // forward. Only a real loop needs the dispatch loop and its fuel.
  const order = backward ? topologicalOrder(slots, blocks, blockOf, n) : blocks;
  const dispatch = order === undefined;
  /** emission position of the block starting at pc (n, past the end: m) */
  const posOf = new Map<number, number>();
  if (!dispatch) {
    order.forEach((b, i) => posOf.set(b, i));
    posOf.set(n, m);
  }
  // Structured mode: one wasm block per position something branches to, closed just before it.
  const labels = dispatch ? [] : structuredLabels(slots, order, blockOf, blocks, posOf, n);
  let closed = 0;
  const depth = (t: number): number => labels.indexOf(posOf.get(t)!) - closed;
  let cur = -1;
  const loopDepth = (): number => m - 1 - cur;

  let goto: (t: number) => void;
  let gotoIf: (t: number) => void;
  if (!dispatch) {
    for (let i = labels.length - 1; i >= 0; i--) c.op(OP.block).byte(VOID);
    open = labels.length;
    goto = (t) => c.op(OP.br).u32(depth(t));
    gotoIf = (t) => c.op(OP.br_if).u32(depth(t));
  } else {
    c.i32(JIT_LOOP_BUDGET).set(FUEL).i32(blockOf.get(start)!).set(PC);
    c.op(OP.loop).byte(VOID);
    // out of fuel: flag it and stop
    useFuel(c, fc, () => fault(FAULT_FUEL));
    for (let i = 0; i < m; i++) c.op(OP.block).byte(VOID);
    open = m + 1;
    c.get(PC).op(OP.br_table).u32(m);
    for (let i = 0; i < m; i++) c.u32(i);
    c.u32(m - 1);
    const blockIndex = (t: number): number => {
      const b = blockOf.get(t);
      if (b === undefined) throw new BpfError('EINVAL', `jump to ${t}, past the end of the program`);
      return b;
    };
    goto = (t) => c.i32(blockIndex(t)).set(PC).op(OP.br).u32(loopDepth());
    gotoIf = (t) => {
      c.op(OP.if).byte(VOID).i32(blockIndex(t)).set(PC).op(OP.br).u32(loopDepth() + 1).op(OP.end);
    };
  }
  /** structured mode: close the labels of positions up to `pos` */
  const closeTo = (pos: number): void => {
    while (closed < labels.length && labels[closed]! <= pos) {
      c.op(OP.end);
      closed++;
      open--;
    }
  };

  const emitOrder = order ?? blocks;
  for (let bi = 0; bi < emitOrder.length; bi++) {
    const bStart = emitOrder[bi]!;
    const bEnd = blocks[blockOf.get(bStart)! + 1] ?? n;
    if (!dispatch) closeTo(bi);
    else {
      c.op(OP.end);
      cur = blockOf.get(bStart)!;
      open = m - cur;
    }
    let falls = true;
  for (let pc = bStart; pc < bEnd; pc++) {
    const s = slots[pc]!;
    /** the second slot of a pair compiled as one (its constants and frame offsets tracked after the first's) */
    let fused: Slot | undefined;
    const code = s.code;
    const d = s.dst;
    const sr = s.src;
    const imm = s.imm;
    const op = code & 0xf0;
    const cls = code & 0x07;
    const x = (code & 0x08) !== 0;
    const shape = opcodeShape(code);
    if (leaders.has(pc)) {
      frameOffsets.clear();
      consts.clear();
    }
    switch (shape) {
      case 'alu': {
        if (cls === 0x07) {
          const nx = slots[pc + 1];
          if (code === 0xbf && s.off === 0 && pc + 1 < bEnd && nx !== undefined && nx.dst === d && fusesAfterMov(nx.code) && !leaders.has(pc + 1)) {
            // mov64 rd, rs then a 64-bit ALU on rd (clang's copy before an operation): rd = rs op src,
            // src being rs when it names rd (a leader between them would need rd set at the mov)
            c.get(reg(sr));
            if (nx.code & 0x08) c.get(reg(nx.src === d ? sr : nx.src));
            else c.i64(nx.imm);
            c.op(ALU64[nx.code & 0xf0]!).set(reg(d));
            fused = nx;
            pc++;
            break;
          }
          if (op === 0xb0) {
            if (!x) c.i64(imm);
            else if (s.off === 0) c.get(reg(sr));
            else c.get(reg(sr)).op(s.off === 8 ? OP.i64_extend8_s : s.off === 16 ? OP.i64_extend16_s : OP.i64_extend32_s);
            c.set(reg(d));
          } else if (op === 0x30 || op === 0x90) {
            divmod64(c, d, x ? () => c.get(reg(sr)) : () => c.i64(imm), op === 0x90, s.off === 1);
          } else {
            c.get(reg(d));
            if (x) c.get(reg(sr));
            else c.i64(imm);
            c.op(ALU64[op]!).set(reg(d));
          }
        } else {
          if (op === 0xb0) {
            if (!x) c.i32(imm);
            else {
              c.get(reg(sr)).op(OP.i32_wrap_i64);
              if (s.off === 8) c.op(OP.i32_extend8_s);
              else if (s.off === 16) c.op(OP.i32_extend16_s);
            }
            c.op(OP.i64_extend_i32_u).set(reg(d));
          } else if (op === 0x30 || op === 0x90) {
            divmod32(c, d, x ? () => c.get(reg(sr)).op(OP.i32_wrap_i64) : () => c.i32(imm), op === 0x90, s.off === 1);
          } else {
            c.get(reg(d)).op(OP.i32_wrap_i64);
            if (x) c.get(reg(sr)).op(OP.i32_wrap_i64);
            else c.i32(imm);
            c.op(ALU32[op]!).op(OP.i64_extend_i32_u).set(reg(d));
          }
        }
        break;
      }
      case 'neg':
        if (cls === 0x07) c.i64(0).get(reg(d)).op(OP.i64_sub).set(reg(d));
        else c.i32(0).get(reg(d)).op(OP.i32_wrap_i64).op(OP.i32_sub).op(OP.i64_extend_i32_u).set(reg(d));
        break;
      case 'end':
        if (code === 0xd4) {
          if (imm === 16) c.get(reg(d)).i64(0xffff).op(OP.i64_and).set(reg(d));
          else if (imm === 32) c.get(reg(d)).i64(0xffffffff).op(OP.i64_and).set(reg(d));
        } else if (imm === 16) {
          c.get(reg(d)).op(OP.i32_wrap_i64).i32(0xffff).op(OP.i32_and).swap16().op(OP.i64_extend_i32_u).set(reg(d));
        } else if (imm === 32) {
          c.get(reg(d)).op(OP.i32_wrap_i64).bswap32().op(OP.i64_extend_i32_u).set(reg(d));
        } else {
          c.get(reg(d)).op(OP.i32_wrap_i64).bswap32().op(OP.i64_extend_i32_u).i64(32).op(OP.i64_shl)
            .get(reg(d)).i64(32).op(OP.i64_shr_u).op(OP.i32_wrap_i64).bswap32().op(OP.i64_extend_i32_u)
            .op(OP.i64_or).set(reg(d));
        }
        break;
      case 'lddw':
        consts.set(d, (BigInt(slots[pc + 1]!.imm >>> 0) << 32n) | BigInt(imm >>> 0));
        c.i64((BigInt(slots[pc + 1]!.imm >>> 0) << 32n) | BigInt(imm >>> 0)).set(reg(d));
        pc++;
        break;
      case 'ldabs':
      case 'ldind': {
        const size = sizeBytes(BPF_SIZE(code));
        if (shape === 'ldabs' && imm >= 0) {
          // A constant offset: one inline bounds check, and the memarg carries the offset.
          c.get(P_LEN).i32((imm + size) | 0).op(OP.i32_lt_u).op(OP.if).byte(VOID);
          c.i64(0).set(reg(0));
          exitWithR0(1);
          c.op(OP.end);
          c.get(P_PKT);
          if (size === 4) c.mem(OP.i32_load, imm).bswap32();
          else if (size === 2) c.mem(OP.i32_load16_u, imm).swap16();
          else c.mem(OP.i32_load8_u, imm);
        } else {
          // A = the packet offset. 0 <= A and A + size <= len is checked inline;
          // anything else (SKF_* offsets, out of bounds) goes through the packet
          // offset function, -1 meaning out of bounds.
          if (shape === 'ldind') c.get(reg(sr)).op(OP.i32_wrap_i64).i32(imm).op(OP.i32_add);
          else c.i32(imm);
          c.tee(A).op(OP.i64_extend_i32_u).i64(size).op(OP.i64_add).get(P_LEN).op(OP.i64_extend_i32_u).op(OP.i64_gt_u).op(OP.if).byte(VOID);
          c.get(A).i32(size).get(P_LEN).get(P_NET).op(OP.call).u32(F_PKT_OFFSET).tee(A).i32(0).op(OP.i32_lt_s).op(OP.if).byte(VOID);
          c.i64(0).set(reg(0));
          exitWithR0(2);
          c.op(OP.end).op(OP.end);
          c.get(P_PKT).get(A).op(OP.i32_add).tee(A);
          if (size === 4) c.mem(OP.i32_load).bswap32();
          else if (size === 2) c.mem(OP.i32_load16_u).swap16();
          else c.mem(OP.i32_load8_u);
        }
        c.op(OP.i64_extend_i32_u).set(reg(0));
        break;
      }
      case 'ldx':
      case 'ldsx': {
        const sz = BPF_SIZE(code);
        const o = access(sr, s.off, sizeBytes(sz), false, pc);
        const next = slots[pc + 1];
        if (code === 0x69 && next && next.code === 0xdc && next.imm === 16 && next.dst === d && !leaders.has(pc + 1)) {
          // ldxh + be16 of the same register (how network code reads a u16 field): one load and a swap
          c.mem(OP.i32_load16_u, o).swap16().op(OP.i64_extend_i32_u).set(reg(d));
          pc++;
          break;
        }
        const load = shape === 'ldx'
          ? sz === BPF_DW ? OP.i64_load : sz === BPF_W ? OP.i64_load32_u : sz === BPF_H ? OP.i64_load16_u : OP.i64_load8_u
          : sz === BPF_W ? OP.i64_load32_s : sz === BPF_H ? OP.i64_load16_s : OP.i64_load8_s;
        c.mem(load, o).set(reg(d));
        break;
      }
      case 'st':
      case 'stx': {
        const sz = BPF_SIZE(code);
        const o = access(d, s.off, sizeBytes(sz), true, pc);
        if (shape === 'st') c.i64(imm);
        else c.get(reg(sr));
        c.mem(sz === BPF_DW ? OP.i64_store : sz === BPF_W ? OP.i64_store32 : sz === BPF_H ? OP.i64_store16 : OP.i64_store8, o);
        break;
      }
      case 'atomic': {
        const w = BPF_SIZE(code) === BPF_W;
        const load = w ? OP.i64_load32_u : OP.i64_load;
        const store = w ? OP.i64_store32 : OP.i64_store;
        const o = access(d, s.off, w ? 4 : 8, true, pc);
        if (fc.shared) {
          sharedAtomic(c, w, imm, sr, o);
          break;
        }
        c.set(A).get(A).mem(load, o).set(T0); // T0 = old value
        if (imm === 0xf1) {
          // cmpxchg: compare with r0 (its low half for 32 bits), old value into r0
          c.get(T0).get(reg(0));
          if (w) c.i64(0xffffffff).op(OP.i64_and);
          c.op(OP.i64_eq).op(OP.if).byte(VOID).get(A).get(reg(sr)).mem(store, o).op(OP.end);
          c.get(T0).set(reg(0));
        } else {
          c.get(A);
          if (imm === 0xe1) c.get(reg(sr));
          else c.get(T0).get(reg(sr)).op(ALU64[imm & 0xf0]!);
          c.mem(store, o);
          if (imm & 1) c.get(T0).set(reg(sr));
        }
        break;
      }
      case 'ja':
        goto(pc + s.off + 1);
        break;
      case 'ja32':
        goto(pc + imm + 1);
        break;
      case 'jcond': {
        const t = pc + s.off + 1;
        if (cls === 0x05) {
          c.get(reg(d));
          if (x) c.get(reg(sr));
          else c.i64(imm);
          if (op === 0x40) c.op(OP.i64_and).i64(0).op(OP.i64_ne);
          else c.op(CMP64[op]!);
        } else {
          c.get(reg(d)).op(OP.i32_wrap_i64);
          if (x) c.get(reg(sr)).op(OP.i32_wrap_i64);
          else c.i32(imm);
          if (op === 0x40) c.op(OP.i32_and).i32(0).op(OP.i32_ne);
          else c.op(CMP32[op]!);
        }
        gotoIf(t);
        break;
      }
      case 'call':
        if (sr === 1) {
          // A local call: the callee gets the frame below ours (by the depth, whatever our r10 holds)
          // and every register; r6..r9 and r10 stay ours.
          c.gget(G_DEPTH).i32(MAX_CALL_FRAMES - 1).op(OP.i32_ge_u).op(OP.if).byte(VOID);
          fault(FAULT_DEPTH, pc);
          c.op(OP.end);
          useFuel(c, fc, () => fault(FAULT_FUEL));
          c.gget(G_DEPTH).i32(1).op(OP.i32_add).gset(G_DEPTH);
          syncRegions();
          c.get(P_R1).get(P_R2).get(P_PKT).get(P_LEN).get(P_NET);
          for (let r = 0; r <= 9; r++) c.get(reg(r));
          c.i64(stackTop).gget(G_DEPTH).op(OP.i64_extend_i32_u).i64(STACK_FRAME_SIZE).op(OP.i64_mul).op(OP.i64_sub);
          c.op(OP.call).u32(fc.funcIndex.get(pc + imm + 1)!);
          for (let r = 5; r >= 0; r--) c.set(reg(r));
          c.gget(G_DEPTH).i32(1).op(OP.i32_sub).gset(G_DEPTH);
          reloadRegions();
          // the callee ended the program: r0 is in the scratch, a fault in the fault word
          c.i32(scratch + STOP_FLAG).mem(OP.i32_load).op(OP.if).byte(VOID);
          if (batch) {
            c.i32(scratch + FUEL_FLAG).mem(OP.i32_load).op(OP.if).byte(VOID).op(OP.return).op(OP.end);
            c.i32(scratch).mem(OP.i64_load).set(reg(0));
            exitFunction(1);
          } else if (main) c.op(OP.return);
          else returnRegs();
          c.op(OP.end);
          break;
        }
        if (imm === BPF_FUNC_MAP_LOOKUP_ELEM && fc.lookupFunc !== undefined && fc.hardened && fc.hardened.maps.length <= INLINE_MAPS) {
          // Hardened: the inline lookup (jit/maps.ts: the program's maps' layouts as constants) only for
          // a map the program references, after checking the key; anything else takes the helper, which
          // checks both, as does a -1 (a hash map's mirror found inconsistent).
          const maps = fc.hardened.maps;
          maps.forEach((m, i) => {
            c.get(reg(1)).i64(m.addr).op(OP.i64_eq).op(OP.if).byte(VOID);
            c.i32(m.addr);
            access(2, 0, m.keySize, false, pc);
            c.op(OP.call).u32(fc.lookupFunc!).tee(A).i32(-1).op(OP.i32_ne).op(OP.if).byte(VOID)
              .get(A).op(OP.i64_extend_i32_u).set(reg(0))
              .op(OP.else);
            callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + i + 2));
            c.op(OP.end).op(OP.else);
          });
          callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + maps.length));
          for (let i = 0; i < maps.length; i++) c.op(OP.end);
          break;
        }
        const known = consts.get(1);
        const array = imm === BPF_FUNC_MAP_LOOKUP_ELEM && fc.lookupFunc !== undefined && known !== undefined
          ? fc.lookupMaps.find((l): l is JitArrayLayout => l.type === BPF_MAP_TYPE.ARRAY && BigInt(l.addr) === known)
          : undefined;
        if (array) {
          // r1 is this array map (an ld_imm64 earlier in the block): its lookup straight-line, as the
          // lookup function's branch for it computes it (key < max_entries ? base + key * stride : 0)
          // (a key pointer past the end of memory, 2^32 and up included, is the helper's EFAULT)
          c.get(reg(2)).memBytes64().i64(4).op(OP.i64_sub).op(OP.i64_gt_u).op(OP.if).byte(VOID);
          callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + 1));
          c.op(OP.else);
          c.get(reg(2)).op(OP.i32_wrap_i64).mem(OP.i32_load).tee(A).i32(array.maxEntries | 0).op(OP.i32_lt_u);
          c.op(OP.if).byte(T.i64).get(A).op(OP.i64_extend_i32_u).i64(array.stride).op(OP.i64_mul).i64(array.base).op(OP.i64_add);
          if (array.ncpus !== undefined) {
            // percpu_array: the run's CPU's block of values
            cpuOffset(c, scratch + CPU_WORD, array.ncpus, array.maxEntries * array.stride);
            c.op(OP.i64_extend_i32_u).op(OP.i64_add);
          }
          c.op(OP.else).i64(0).op(OP.end).set(reg(0));
          c.op(OP.end);
          break;
        }
        if (imm === BPF_FUNC_MAP_LOOKUP_ELEM && fc.lookupFunc !== undefined && !fc.hardened) {
          // r0 = lookup(r1, r2) in WebAssembly; -1 (not one of the program's maps, or a mirror found
          // inconsistent) takes the helper
          // (a key pointer of 2^32 and up goes to the helper: -1)
          c.get(reg(2)).i64(0xffffffff).op(OP.i64_gt_u).op(OP.if).byte(T.i32).i32(-1).op(OP.else);
          c.get(reg(1)).op(OP.i32_wrap_i64).get(reg(2)).op(OP.i32_wrap_i64).op(OP.call).u32(fc.lookupFunc).op(OP.end).tee(A)
            .i32(-1).op(OP.i32_ne).op(OP.if).byte(VOID)
            .get(A).op(OP.i64_extend_i32_u).set(reg(0))
            .op(OP.else);
          callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + 1));
          c.op(OP.end);
          break;
        }
        if ((imm === BPF_FUNC_LOOP || imm === BPF_FUNC_FOR_EACH_MAP_ELEM) && fc.loopCallbacks !== undefined) {
          const cb = consts.get(2);
          const f = cb !== undefined && cb >> 32n === BigInt(CALLBACK_TAG) ? fc.loopCallbacks.get(Number(cb & 0xffffffffn)) : undefined;
          const m = consts.get(1);
          const array = imm === BPF_FUNC_FOR_EACH_MAP_ELEM && m !== undefined
            ? fc.forEachArrays.find((l) => BigInt(l.addr) === m)
            : undefined;
          if (f !== undefined && (imm === BPF_FUNC_LOOP || array !== undefined)) {
            // The helper's common case in WebAssembly, its callback called directly in a frame below
            // ours, as a local call's (depth, fuel, its frame zeroed when hardened); anything else is
            // the helper's. r1..r5 stay ours, as after the helper.
            // - bpf_loop: flags 0, nr_loops (its low 32 bits) within the limit (else -EINVAL, -E2BIG);
            //   the callback gets (index, ctx).
            // - bpf_for_each_map_elem over one of the program's plain arrays (not hardened): flags 0; every
            //   element in key order, the callback getting (map, &key, &value, ctx), the key in a word of
            //   the scratch area for the depth (CB_KEYS), as the helper keeps it in memory of its own.
            c.op(OP.block).byte(VOID).op(OP.block).byte(VOID);
            c.get(reg(4)).op(OP.i64_eqz).op(OP.i32_eqz).op(OP.br_if).u32(0);
            if (array) c.i64(array.maxEntries).set(T1);
            else c.get(reg(1)).i64(0xffffffff).op(OP.i64_and).tee(T1).i64(BPF_MAX_LOOPS).op(OP.i64_gt_u).op(OP.br_if).u32(0);
            c.i64(0).set(T0);
            c.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
            c.get(T0).get(T1).op(OP.i64_ge_u).op(OP.br_if).u32(1);
            c.gget(G_DEPTH).i32(MAX_CALL_FRAMES - 1).op(OP.i32_ge_u).op(OP.if).byte(VOID);
            fault(FAULT_DEPTH, pc);
            c.op(OP.end);
            useFuel(c, fc, () => fault(FAULT_FUEL));
            // (for_each: the key word of this depth, before the depth goes up)
            const key = (): void => {
              c.gget(G_DEPTH).i32(4).op(OP.i32_mul).i32(scratch + CB_KEYS).op(OP.i32_add);
            };
            if (array) {
              key();
              c.get(T0).mem(OP.i64_store32);
            }
            c.gget(G_DEPTH).i32(1).op(OP.i32_add).gset(G_DEPTH);
            syncRegions();
            c.get(P_R1).get(P_R2).get(P_PKT).get(P_LEN).get(P_NET);
            if (array) {
              // r0, r1 = the map, r2 = &key (the depth is ours + 1 now), r3 = &value, r4 = the context (our r3), r5 = 0
              c.i64(0).i64(array.addr);
              c.gget(G_DEPTH).i32(1).op(OP.i32_sub).i32(4).op(OP.i32_mul).i32(scratch + CB_KEYS).op(OP.i32_add).op(OP.i64_extend_i32_u);
              c.get(T0).i64(array.stride).op(OP.i64_mul).i64(array.base).op(OP.i64_add);
              c.get(reg(3)).i64(0);
            } else {
              // r0, r1 = the index, r2 = the context (our r3), r3..r5 = 0
              c.i64(0).get(T0).get(reg(3)).i64(0).i64(0).i64(0);
            }
            // r6..r9 = 0, r10 by the depth
            c.i64(0).i64(0).i64(0).i64(0);
            c.i64(stackTop).gget(G_DEPTH).op(OP.i64_extend_i32_u).i64(STACK_FRAME_SIZE).op(OP.i64_mul).op(OP.i64_sub);
            c.op(OP.call).u32(f);
            for (let r = 5; r >= 1; r--) c.op(OP.drop);
            c.set(reg(0));
            c.gget(G_DEPTH).i32(1).op(OP.i32_sub).gset(G_DEPTH);
            reloadRegions();
            // the callback stopped: a fault stops the run (as after a local call); an exit-on-zero helper,
            // LD_ABS out of bounds or a tail call ends the callback alone, its r0 as it left it
            c.i32(scratch + STOP_FLAG).mem(OP.i32_load).op(OP.if).byte(VOID);
            c.i32(scratch + FUEL_FLAG).mem(OP.i32_load).op(OP.if).byte(VOID);
            if (main) c.op(OP.return);
            else returnRegs();
            c.op(OP.end);
            c.i32(scratch + STOP_FLAG).i32(0).mem(OP.i32_store);
            c.i32(scratch).mem(OP.i64_load).set(reg(0));
            c.op(OP.end);
            // the runs made (bpf_loop) or elements visited (for_each), the one that stopped included
            c.get(T0).i64(1).op(OP.i64_add).set(T0);
            c.get(reg(0)).op(OP.i64_eqz).op(OP.br_if).u32(0);
            c.op(OP.end).op(OP.end); // loop, $out
            c.get(T0).set(reg(0));
            c.op(OP.br).u32(1);
            c.op(OP.end);
            callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + 1));
            c.op(OP.end);
            break;
          }
        }
        if (inlineHelper(c, fc, imm, () => callHelper(pc, () => c.i32(imm), (ifs) => exitWithR0(ifs + 1)))) break;
        callHelper(pc, () => c.i32(imm), exitWithR0);
        break;
      case 'callx':
        // The helper id is in dst. Ids from 2^31 up can be no helper's (the registry holds
        // 0..2^31-1): they all pass as -2, an unknown helper, so that -1 stays the trap of
        // `call UNVISITED_TRAP`, which callx cannot reach.
        callHelper(pc, () => {
          c.get(reg(d)).i64(0x7fffffff).op(OP.i64_le_u).op(OP.if).byte(T.i32)
            .get(reg(d)).op(OP.i32_wrap_i64).op(OP.else).i32(-2).op(OP.end);
        }, exitWithR0);
        break;
      case 'exit':
        exitFunction(0);
        break;
      case undefined:
        // compileToWasm refused unknown opcodes (slotProblem) before compiling any function
        throw new InternalError(`insn ${pc}: opcode 0x${code.toString(16)} reached the JIT's code generation`);
      default:
        // every shape has its case: a new one fails to compile here
        assertNever(shape);
    }
    // (a fused ldxh + be16 writes one register: the ldx's forgetting covers both)
    if (r10Fixed) trackFrameOffsets(frameOffsets, s);
    trackConstants(consts, s);
    if (fused !== undefined) {
      if (r10Fixed) trackFrameOffsets(frameOffsets, fused);
      trackConstants(consts, fused);
    }
    falls = shape !== 'exit' && shape !== 'ja' && shape !== 'ja32';
  }
    // structured mode, a block placed apart from its fall-through successor: branch to it (always forward)
    if (!dispatch && falls && posOf.get(bEnd) !== bi + 1) goto(bEnd);
  }
  if (!dispatch) closeTo(m);
  else c.op(OP.end); // the loop
  // Falling off the end cannot happen in a verified program; trap if it does.
  c.op(OP.unreachable);
  if (mode === 'run' && sharedBody(slots, start, end, fc)) c.body = c.buf.slice(bodyAt);
  if (batch) batchEpilogue(c, scratch);
  else if (main) {
    c.op(OP.end); // the run's exit block
    c.i32(scratch).get(reg(0)).mem(OP.i64_store);
  }
  return c;
}

/** After a batch run's exit block: its verdict, the next run; after the loop, the last run's r0. */
function batchEpilogue(c: Code, scratch: number): void {
  c.op(OP.end); // the run's exit block
  c.get(B_DESC).get(B_N).i32(BATCH_DESC).op(OP.i32_mul).op(OP.i32_add).get(B_I).i32(4).op(OP.i32_mul).op(OP.i32_add)
    .get(reg(0)).op(OP.i32_wrap_i64).mem(OP.i32_store);
  c.get(B_I).i32(1).op(OP.i32_add).set(B_I).op(OP.br).u32(0);
  c.op(OP.end).op(OP.end); // loop, block
  // the last run's r0, all 64 bits
  c.i32(scratch).get(reg(0)).mem(OP.i64_store);
}

/**
 * The successors of the basic block [b, e): its jump's target and, unless
 * it ends in exit or an unconditional jump, the pc after it (e; n is past
 * the end of the function).
 */
function blockSuccessors(slots: readonly Slot[], b: number, e: number): number[] {
  const last = lastSlot(slots, b, e);
  const s = slots[last]!;
  const shape = opcodeShape(s.code);
  if (shape === 'exit') return [];
  if (shape === 'ja') return [last + s.off + 1];
  if (shape === 'ja32') return [last + s.imm + 1];
  if (shape === 'jcond') return [last + s.off + 1, e];
  return [e];
}

/**
 * The basic blocks (their first pcs, `blocks` in natural order) in a
 * topological order of the control-flow graph, or undefined when the graph
 * has a cycle. Kahn's algorithm taking the lowest pc among the blocks ready,
 * so a graph whose natural order is already topological keeps it.
 */
export function topologicalOrder(slots: readonly Slot[], blocks: readonly number[], blockOf: ReadonlyMap<number, number>, n: number): number[] | undefined {
  const m = blocks.length;
  const succ = blocks.map((b, i) => blockSuccessors(slots, b, blocks[i + 1] ?? n).filter((t) => t < n).map((t) => blockOf.get(t)!));
  const indeg = new Array<number>(m).fill(0);
  for (const ss of succ) for (const t of ss) indeg[t]!++;
  // ready blocks as a min-heap of block indexes
  const heap: number[] = [];
  const push = (x: number): void => {
    let i = heap.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= x) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = x;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const x = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        let k = 2 * i + 1;
        if (k >= heap.length) break;
        if (k + 1 < heap.length && heap[k + 1]! < heap[k]!) k++;
        if (heap[k]! >= x) break;
        heap[i] = heap[k]!;
        i = k;
      }
      heap[i] = x;
    }
    return top;
  };
  for (let i = 0; i < m; i++) if (indeg[i] === 0) push(i);
  const order: number[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(blocks[i]!);
    for (const t of succ[i]!) if (--indeg[t]! === 0) push(t);
  }
  return order.length === m ? order : undefined;
}

/**
 * Structured mode: the emission positions (`posOf`; m is past the last
 * block) that a branch targets, ascending: jump targets, and fall-through
 * successors not placed right after their block.
 */
function structuredLabels(slots: readonly Slot[], order: readonly number[], blockOf: ReadonlyMap<number, number>, blocks: readonly number[], posOf: ReadonlyMap<number, number>, n: number): number[] {
  const labels = new Set<number>();
  order.forEach((b, i) => {
    const e = blocks[blockOf.get(b)! + 1] ?? n;
    const succ = blockSuccessors(slots, b, e);
    const s = slots[lastSlot(slots, b, e)]!;
    const shape = opcodeShape(s.code);
    const jumps = shape === 'ja' || shape === 'ja32' || shape === 'jcond';
    succ.forEach((t, k) => {
      const fallThrough = !jumps || k === 1;
      if (!fallThrough || posOf.get(t) !== i + 1) labels.add(posOf.get(t)!);
    });
  });
  return [...labels].sort((x, y) => x - y);
}

/** The pc of the last instruction of the block [b, e) (the first slot of an ld_imm64). */
function lastSlot(slots: readonly Slot[], b: number, e: number): number {
  let last = b;
  for (let pc = b; pc < e; pc++) {
    last = pc;
    if (isLdImm64(slots[pc]!)) pc++;
  }
  return last;
}

/** rmw opcodes (ATOMIC) by the eBPF atomic operation (imm without BPF_FETCH): [32-bit zero-extending, 64-bit] */
const SHARED_RMW: Record<number, readonly [number, number]> = {
  0x00: [ATOMIC.i64_rmw32_add_u, ATOMIC.i64_rmw_add],
  0x40: [ATOMIC.i64_rmw32_or_u, ATOMIC.i64_rmw_or],
  0x50: [ATOMIC.i64_rmw32_and_u, ATOMIC.i64_rmw_and],
  0xa0: [ATOMIC.i64_rmw32_xor_u, ATOMIC.i64_rmw_xor],
  0xe0: [ATOMIC.i64_rmw32_xchg_u, ATOMIC.i64_rmw_xchg],
};

/**
 * An eBPF atomic on a shared memory, the address on the stack: one
 * WebAssembly atomic read-modify-write (the 32-bit forms take and give the
 * low half, zero-extended, as eBPF's do), its old value into src with
 * BPF_FETCH, into r0 for cmpxchg.
 */
function sharedAtomic(c: Code, w: boolean, imm: number, sr: number, o: number): void {
  const bytes = w ? 4 : 8;
  if (imm === 0xf1) {
    c.get(reg(0)).get(reg(sr)).atomic(w ? ATOMIC.i64_rmw32_cmpxchg_u : ATOMIC.i64_rmw_cmpxchg, bytes, o).set(reg(0));
    return;
  }
  c.get(reg(sr)).atomic(SHARED_RMW[imm & ~1]![w ? 0 : 1], bytes, o);
  if (imm & 1) c.set(reg(sr));
  else c.op(OP.drop);
}

/**
 * After slot `s`: which registers
 * hold r10 + k. `mov rd, r10`, `mov rd, rs` and 64-bit add/sub of a constant
 * carry the offset; any other write to a register forgets it, as do calls
 * (a helper writes r0, a local call returns r0..r5).
 */
function trackFrameOffsets(known: Map<number, number>, s: Slot): void {
  const shape = opcodeShape(s.code);
  if (s.code === 0xbf && s.off === 0) { // mov64 rd, rs
    const k = s.src === 10 ? 0 : known.get(s.src);
    if (k === undefined) known.delete(s.dst);
    else known.set(s.dst, k);
  } else if ((s.code === 0x07 || s.code === 0x17) && known.has(s.dst)) { // add64/sub64 rd, imm
    const k = known.get(s.dst)! + (s.code === 0x07 ? s.imm : -s.imm);
    // offsets far outside any frame are of no use, and stay exact in a double
    if (Math.abs(k) > 1 << 20) known.delete(s.dst);
    else known.set(s.dst, k);
  } else if (shape === 'alu' || shape === 'neg' || shape === 'end' || shape === 'lddw' || shape === 'ldx' || shape === 'ldsx') {
    known.delete(s.dst);
  } else if (shape === 'atomic') {
    if (s.imm & 1) known.delete(s.src);
    if (s.imm === 0xf1) known.delete(0);
  } else if (shape === 'ldabs' || shape === 'ldind' || shape === 'callx' || (shape === 'call' && s.src !== 1)) {
    known.delete(0);
  } else if (shape === 'call') {
    for (let r = 0; r <= 5; r++) known.delete(r);
  }
}

/**
 * After slot `s`: which registers hold a known constant. mov64 of an
 * immediate sets one (ld_imm64 too, in its case of compileFunction, which
 * has both slots); every other write forgets it, and calls forget r0..r5
 * (a helper's r0; r1..r5, which the calling convention leaves unknown).
 */
function trackConstants(known: Map<number, bigint>, s: Slot): void {
  const shape = opcodeShape(s.code);
  if (s.code === 0xb7 && s.off === 0) known.set(s.dst, BigInt.asUintN(64, BigInt(s.imm)));
  else if (shape === 'alu' || shape === 'neg' || shape === 'end' || shape === 'ldx' || shape === 'ldsx') known.delete(s.dst);
  else if (shape === 'atomic') {
    if (s.imm & 1) known.delete(s.src);
    if (s.imm === 0xf1) known.delete(0);
  } else if (shape === 'ldabs' || shape === 'ldind') known.delete(0);
  else if (shape === 'call' || shape === 'callx') for (let r = 0; r <= 5; r++) known.delete(r);
}

/**
 * A 64-bit ALU instruction that can be compiled with the mov64 register
 * copy before it into one expression (compileFunction): the operations
 * ALU64 maps one to one (not mov, neg, byte swaps, division or modulo,
 * which need RFC 9669's cases), src as a register or an immediate.
 */
function fusesAfterMov(code: number): boolean {
  if ((code & 0x07) !== 0x07) return false;
  const op = code & 0xf0;
  return op !== 0x30 && op !== 0x90 && op !== 0xb0 && op !== 0x80 && op !== 0xd0 && ALU64[op] !== undefined;
}

/** Spend one unit of fuel, calling `out` when none is left: a local, or for programs with local calls a word shared by all their functions. */
function useFuel(c: Code, fc: FunctionContext, out: () => void): void {
  if (fc.multi) {
    c.i32(fc.scratch + FUEL_WORD).i32(fc.scratch + FUEL_WORD).mem(OP.i32_load).i32(1).op(OP.i32_sub).tee(FUEL).mem(OP.i32_store);
    c.get(FUEL);
  } else {
    c.get(FUEL).i32(1).op(OP.i32_sub).tee(FUEL);
  }
  c.op(OP.i32_eqz).op(OP.if).byte(VOID);
  out();
  c.op(OP.end);
}

/** A helper call: r1..r5 into the scratch register file, the id (pushed by `id`) to the trampoline (hardened: and the pc), r0 back. */
function helperCall(c: Code, fc: FunctionContext, pc: number, id: () => void, exitWithR0: (ifs: number) => void): void {
  const scratch = fc.scratch;
  for (let r = 1; r <= 5; r++) c.i32(scratch + 8 * r).get(reg(r)).mem(OP.i64_store);
  if (fc.callbacks) {
    // what a callback this helper may run starts with (callbackFunction), and the pc for its errors
    for (const [j, p] of [P_R1, P_R2, P_PKT, P_LEN, P_NET].entries()) c.i32(scratch + CB_PARAMS + 4 * j).get(p).mem(OP.i32_store);
    c.i32(scratch + CB_PC).i32(pc).mem(OP.i32_store);
  }
  id();
  if (fc.hardened) c.i32(pc);
  c.op(OP.call).u32(F_HELPER);
  c.i32(scratch).mem(OP.i64_load).set(reg(0));
  c.op(OP.if).byte(VOID);
  exitWithR0(1);
  c.op(OP.end);
}

/**
 * A helper call's common case in WebAssembly, when the helper is one the
 * JIT inlines: `block $done { block $slow { checks (br_if $slow), the
 * helper's work, r0 = 0, br $done } slow() }`. Every check the helper makes
 * in JavaScript that can fail is made here first: arguments outside what
 * the fast path handles (flags, lengths, bounds, a map that is not the
 * program's, a run without its frame) take `slow`, the helper itself, so
 * the result and any error are the helper's own. Returns false when `id`
 * is not inlined for this program (nothing emitted).
 */
function inlineHelper(c: Code, fc: FunctionContext, id: number, slow: () => void): boolean {
  let fast: (() => void) | undefined;
  if (id === BPF_FUNC_MAP_UPDATE_ELEM && fc.mapUpdate.length > 0) fast = () => arrayUpdate(c, fc.mapUpdate);
  const f = fc.frame;
  if (f && f.fields.kind === 'skb' && id === BPF_FUNC_SKB_LOAD_BYTES && f.loadBytes) fast = () => skbBytes(c, fc, f.fields, false);
  if (f && f.fields.kind === 'skb' && f.fields.writable && id === BPF_FUNC_SKB_STORE_BYTES && f.storeBytes) fast = () => skbBytes(c, fc, f.fields, true);
  if (!fast) return false;
  c.op(OP.block).byte(VOID).op(OP.block).byte(VOID);
  fast();
  c.op(OP.end);
  slow();
  c.op(OP.end);
  return true;
}

/** br_if 0 (to $slow) unless [r<reg>, + size) lies inside the memory (r<reg> as a u64; size an i64 pushed by `size`). */
function inMemory(c: Code, r: number, size: () => void): void {
  c.get(reg(r)).memBytes64();
  size();
  c.op(OP.i64_sub).op(OP.i64_gt_u).op(OP.br_if).u32(0);
}

/** Copy `size` bytes: destination and source (i32) pushed by the caller, in that order; memmove's semantics. */
function copyBytes(c: Code, size: number): void {
  const ops: Record<number, [number, number]> = {
    1: [OP.i32_load8_u, OP.i32_store8], 2: [OP.i32_load16_u, OP.i32_store16], 4: [OP.i32_load, OP.i32_store], 8: [OP.i64_load, OP.i64_store],
  };
  const o = ops[size];
  if (o) c.mem(o[0]).mem(o[1]);
  else c.i32(size).copy();
}

/**
 * bpf_map_update_elem on one of the program's array maps (ArrayMap.update):
 * flags BPF_ANY or BPF_EXIST, the key and value inside the memory, the
 * index below max_entries: the value copied in, r0 = 0. Anything else
 * (BPF_NOEXIST's EEXIST, E2BIG, EINVAL, EFAULT) is the helper's.
 */
function arrayUpdate(c: Code, maps: readonly InlineArray[]): void {
  c.get(reg(4)).i64(-3).op(OP.i64_and).op(OP.i64_eqz).op(OP.i32_eqz).op(OP.br_if).u32(0);
  inMemory(c, 2, () => c.i64(4));
  for (const m of maps) {
    c.get(reg(1)).i64(m.addr).op(OP.i64_eq).op(OP.if).byte(VOID);
    // (inside the if, $slow is one level out, $done two)
    c.get(reg(3)).memBytes64().i64(m.valueSize).op(OP.i64_sub).op(OP.i64_gt_u).op(OP.br_if).u32(1);
    c.get(reg(2)).op(OP.i32_wrap_i64).mem(OP.i32_load).tee(A).i32(m.maxEntries | 0).op(OP.i32_ge_u).op(OP.br_if).u32(1);
    c.get(A).i32(m.stride).op(OP.i32_mul).i32(m.base | 0).op(OP.i32_add);
    c.get(reg(3)).op(OP.i32_wrap_i64);
    copyBytes(c, m.valueSize);
    c.i64(0).set(reg(0)).op(OP.br).u32(2);
    c.op(OP.end);
  }
}

/**
 * bpf_skb_load_bytes (store: bpf_skb_store_bytes) on the run's frame, read
 * from the context's data and data_end fields (which the frame's helpers
 * keep in step, and a verified program cannot write): the run has its
 * frame and r1 is its context, len in [1, 2^31), the buffer (r3) inside
 * the memory, offset + len inside the data, store's flags among
 * BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH: the bytes copied, r0 = 0.
 * Anything else is the helper's (EINVAL, EFAULT with the buffer zeroed,
 * the EFAULT that ends the run).
 */
function skbBytes(c: Code, fc: FunctionContext, f: FrameFields, store: boolean): void {
  c.i32(fc.scratch + FRAME_OK).mem(OP.i32_load).op(OP.i32_eqz).op(OP.br_if).u32(0);
  c.get(reg(1)).get(P_R1).op(OP.i64_extend_i32_u).op(OP.i64_ne).op(OP.br_if).u32(0);
  if (store) c.get(reg(5)).i64(3).op(OP.i64_gt_u).op(OP.br_if).u32(0);
  c.get(reg(4)).i64(1).op(OP.i64_sub).i64(0x7fffffff).op(OP.i64_ge_u).op(OP.br_if).u32(0);
  inMemory(c, 3, () => c.get(reg(4)));
  // (offset & 0xffffffff) + len > data_end - data, signed: the fields as 64-bit numbers
  c.get(reg(2)).i64(0xffffffff).op(OP.i64_and).get(reg(4)).op(OP.i64_add);
  c.get(P_R1).mem(OP.i64_load32_u, f.end).get(P_R1).mem(OP.i64_load32_u, f.data).op(OP.i64_sub);
  c.op(OP.i64_gt_s).op(OP.br_if).u32(0);
  const packet = (): void => {
    c.get(P_R1).mem(OP.i32_load, f.data).get(reg(2)).op(OP.i32_wrap_i64).op(OP.i32_add);
  };
  if (store) {
    packet();
    c.get(reg(3)).op(OP.i32_wrap_i64);
  } else {
    c.get(reg(3)).op(OP.i32_wrap_i64);
    packet();
  }
  c.get(reg(4)).op(OP.i32_wrap_i64).copy();
  c.i64(0).set(reg(0)).op(OP.br).u32(1);
}

/** dst = dst / src or dst % src, 64-bit, with RFC 9669's zero and overflow cases. */
function divmod64(c: Code, d: number, src: () => void, mod: boolean, signed: boolean): void {
  src();
  c.tee(T1).op(OP.i64_eqz).op(OP.if).byte(VOID);
  if (!mod) c.i64(0).set(reg(d));
  c.op(OP.else);
  if (signed) {
    c.get(T1).i64(-1).op(OP.i64_eq).op(OP.if).byte(VOID);
    if (mod) c.i64(0).set(reg(d));
    else c.i64(0).get(reg(d)).op(OP.i64_sub).set(reg(d));
    c.op(OP.else);
  }
  c.get(reg(d)).get(T1).op(mod ? (signed ? OP.i64_rem_s : OP.i64_rem_u) : signed ? OP.i64_div_s : OP.i64_div_u).set(reg(d));
  if (signed) c.op(OP.end);
  c.op(OP.end);
}

/** The same on the low halves; the result is zero-extended (also x % 0). */
function divmod32(c: Code, d: number, src: () => void, mod: boolean, signed: boolean): void {
  src();
  c.tee(K).op(OP.i32_eqz).op(OP.if).byte(VOID);
  if (mod) c.get(reg(d)).i64(0xffffffff).op(OP.i64_and).set(reg(d));
  else c.i64(0).set(reg(d));
  c.op(OP.else);
  if (signed) {
    c.get(K).i32(-1).op(OP.i32_eq).op(OP.if).byte(VOID);
    if (mod) c.i64(0).set(reg(d));
    else c.i32(0).get(reg(d)).op(OP.i32_wrap_i64).op(OP.i32_sub).op(OP.i64_extend_i32_u).set(reg(d));
    c.op(OP.else);
  }
  c.get(reg(d)).op(OP.i32_wrap_i64).get(K)
    .op(mod ? (signed ? OP.i32_rem_s : OP.i32_rem_u) : signed ? OP.i32_div_s : OP.i32_div_u)
    .op(OP.i64_extend_i32_u).set(reg(d));
  if (signed) c.op(OP.end);
  c.op(OP.end);
}



/** (k, size, len, netOff) -> the packet offset of an LD_ABS/LD_IND, or -1 when out of bounds. */
function packetOffsetFunction(): Code {
  const c = new Code();
  const k = 0;
  const size = 1;
  const len = 2;
  const net = 3;
  const start = 4;
  c.get(k).i32(0).op(OP.i32_ge_s).op(OP.if).byte(VOID).get(k).set(start)
    .op(OP.else)
    .get(k).i32(SKF_NET_OFF).op(OP.i32_ge_s).op(OP.if).byte(VOID)
    .get(net).i32(0).op(OP.i32_lt_s).op(OP.if).byte(VOID).i32(-1).op(OP.return).op(OP.end)
    .get(net).get(k).i32(SKF_NET_OFF).op(OP.i32_sub).op(OP.i32_add).set(start)
    .op(OP.else)
    .get(k).i32(SKF_LL_OFF).op(OP.i32_ge_s).op(OP.if).byte(VOID)
    .get(k).i32(SKF_LL_OFF).op(OP.i32_sub).set(start)
    .op(OP.else).i32(-1).op(OP.return).op(OP.end)
    .op(OP.end)
    .op(OP.end);
  c.get(start).get(size).op(OP.i32_add).get(len).op(OP.i32_gt_u).op(OP.if).byte(VOID).i32(-1).op(OP.return).op(OP.end);
  c.get(start);
  return c;
}

