/**
 * The containment fuzzer of the modern runtime (issue 17): random programs
 * of the modern profile's program types (xdp, sched_cls and the __sk_buff
 * socket filter) that call every helper tsbpf implements with good and
 * hostile arguments, and every map type through the map helpers, run
 * unverified. The verifier's side of the modern profile is another
 * fuzzer's (soundness.ts's modern mode); this one asks only whether the
 * runtime contains what no verifier checked.
 *
 * What the programs do: helper calls with arguments drawn from the context,
 * the packet, the stack (inside and outside the frame), map values, map
 * headers, ring buffer records, the null page and addresses past the end of
 * memory, with sizes, offsets and flags at their boundaries, sometimes
 * through callx; bpf_xdp_adjust_head/tail/meta with extreme deltas followed
 * by packet accesses through fresh and stale data pointers; tail calls
 * through a prog array holding the program itself, a chain that calls
 * itself past 33 and a program of another type; bpf_loop and
 * bpf_for_each_map_elem with callbacks that nest further callbacks, touch
 * their arguments, change the map being walked and tail-call, with counts
 * up to and past the kernel's limit; ring buffer reservations submitted,
 * discarded, submitted twice or never, through wrong pointers; spin locks
 * taken twice, released unheld, on the stack or the context; and map
 * lookups, updates, deletes, pushes, pops and peeks on percpu, LRU, LPM,
 * queue, stack, ringbuf, prog array and map-of-maps maps.
 *
 * The oracle, for each run in the checked interpreter (and, for programs it
 * compiles, on the hardened JIT, in a system of its own): only BpfError
 * comes out; the null page (but the run generation word) and every map
 * header stay intact; a packet the run may only read (a socket filter's)
 * is unchanged; an XDP frame stays inside its buffer with its
 * context's pointers in step and its metadata within bounds; no run
 * executes more instructions than its budget, counting its callbacks and
 * the programs it tail-called. After the runs: every map is walkable and
 * keeps its invariants (a queue's or stack's count, an LRU map or LPM trie
 * walked to at most max_entries elements each found again, a ring buffer's
 * positions and records), and a probe program over maps of its own still
 * gives its result on every engine.
 *
 * With each case it also runs a case of inline-diff.ts (the JIT's inline
 * helpers against the helpers) and one of callback-diff.ts (verified
 * programs with callbacks on every engine, compared exactly).
 *
 * Shared mode (ModernOptions.shared, `--shared`): each system is a worker's
 * view of a shared memory on lane 1 (soundness.ts's shared mode): real
 * atomics, real spin locks with their bounded wait, the shared hash maps;
 * the null page must hold after each run what it held before (the epoch
 * and the lane table live there), and the lane's run word be 0.
 *
 * `node dist/test/fuzz/modern-runtime.js [--seconds N] [--seed S] [--shared]` (or
 * `node dist/test/fuzz/soundness.js --target modern-runtime ...`) runs it
 * for a while; test/modern-runtime.test.ts runs a fixed corpus.
 */

import { fileURLToPath } from 'node:url';
import { BpfSystem, engineOf, testRun } from '../../src/api/bpf.js';
import { BpfError } from '../../src/errors.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { encode } from '../../src/isa/instruction.js';
import { disasm } from '../../src/isa/disasm.js';
import { BPF_ADD, BPF_B, BPF_DW, BPF_H, BPF_JEQ, BPF_JNE, BPF_W } from '../../src/isa/opcodes.js';
import {
  BPF_ALU64_IMM, BPF_CALLX, BPF_CALL_REL, BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_JMP_IMM, BPF_LDX_MEM, BPF_LD_ABS, BPF_LD_IMM64,
  BPF_LD_IMM64_RAW, BPF_LD_MAP_FD, BPF_MOV64_IMM, BPF_MOV64_REG, BPF_ST_MEM, BPF_STX_MEM,
} from '../../src/isa/builders.js';
import { MAP_HDR_SIZE } from '../../src/maps/map.js';
import { RingbufMap } from '../../src/maps/ringbuf.js';
import { QueueStackMap } from '../../src/maps/queue-stack.js';
import { HELPERS } from '../../src/progs/helpers.js';
import { ARG } from '../../src/runtime/helpers.js';
import { PacketFrame } from '../../src/progs/frame.js';
import { SK_BUFF } from '../../src/progs/sk-buff.js';
import { XDP_FRAME_HEAD, XDP_MD } from '../../src/progs/xdp.js';
import type { Engine } from '../../src/runtime/engine.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { EPOCH_ADDR, NULL_PAGE_END, RUN_GEN_ADDR, STACK_TOP } from '../../src/memory/address-space.js';
import { SPIN_LOCK_WAIT_MS } from '../../src/progs/control-helpers.js';
import { withMapFds } from '../../src/bench/workloads.js';
import { prng } from '../random-programs.js';
import { randomInlineCase, runInlineCase } from './inline-diff.js';
import { randomCallbackCase, runCallbackCase } from './callback-diff.js';

/** The maps every program may use, by index (map[fd:N]); the inner maps of the maps of maps come first, unindexed. */
export const MODERN_MAPS = [
  { name: 'hash', attr: { map_type: 1, key_size: 4, value_size: 16, max_entries: 8 } },
  { name: 'array', attr: { map_type: 2, key_size: 4, value_size: 16, max_entries: 4 } },
  { name: 'percpu_hash', attr: { map_type: 5, key_size: 4, value_size: 12, max_entries: 4 } },
  { name: 'percpu_array', attr: { map_type: 6, key_size: 4, value_size: 12, max_entries: 4 } },
  { name: 'lru_hash', attr: { map_type: 9, key_size: 4, value_size: 8, max_entries: 4 } },
  { name: 'lru_percpu_hash', attr: { map_type: 10, key_size: 4, value_size: 8, max_entries: 4 } },
  { name: 'lpm_trie', attr: { map_type: 11, key_size: 8, value_size: 8, max_entries: 6, map_flags: 1 } },
  { name: 'queue', attr: { map_type: 22, key_size: 0, value_size: 8, max_entries: 3 } },
  { name: 'stack', attr: { map_type: 23, key_size: 0, value_size: 8, max_entries: 3 } },
  { name: 'ringbuf', attr: { map_type: 27, key_size: 0, value_size: 0, max_entries: 4096 } },
  { name: 'prog_array', attr: { map_type: 3, key_size: 4, value_size: 4, max_entries: 5 } },
  { name: 'array_of_maps', attr: { map_type: 12, key_size: 4, value_size: 4, max_entries: 2 } },
  { name: 'hash_of_maps', attr: { map_type: 13, key_size: 4, value_size: 4, max_entries: 2 } },
] as const;
const M = Object.fromEntries(MODERN_MAPS.map((m, i) => [m.name, i])) as Record<(typeof MODERN_MAPS)[number]['name'], number>;

/** The program types: xdp, sched_cls, and the socket filter (modern: __sk_buff). */
export const MODERN_TYPES = [6, 3, 1] as const;
export type ModernType = (typeof MODERN_TYPES)[number];

/** A generated case: the program, its type, and what the prog array holds besides it. */
export interface ModernCase {
  type: ModernType;
  insns: Instruction[];
}

/** Every helper id tsbpf implements, and a few it does not. */
const HELPER_IDS = [...HELPERS.map((h) => h.id), 0, 13, 999, 211];
const ID = { lookup: 1, update: 2, delete: 3, printk: 6, tail: 12, loadBytes: 26, storeBytes: 9, csumDiff: 28, l3: 10, l4: 11, head: 44, meta: 54, tail65: 65,
  redirect: 23, redirectMap: 51, push: 87, pop: 88, peek: 89, lock: 93, unlock: 94, probeRead: 113, rbOutput: 130, rbReserve: 131, rbSubmit: 132,
  rbDiscard: 133, rbQuery: 134, forEach: 164, loop: 181 } as const;

const SIZES = [0, 1, 2, 4, 7, 8, 12, 16, 64, 255, 256, 512, 513, 4088, 4096, 0x7fffffff, -1, -8];
const DELTAS = [-0x80000000, -4096, -300, -256, -217, -216, -40, -14, -8, -4, -1, 0, 1, 4, 6, 7, 14, 64, 320, 3520, 3776, 4096, 0x7fffffff];

/**
 * A random case. Registers: r6 holds the context throughout (callbacks and
 * tail calls aside), r7..r9 what blocks leave for later ones.
 */
export function randomModernCase(rnd: () => number): ModernCase {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const type = pick(MODERN_TYPES);
  const packetPtrs = type !== 1;
  const dataOff = type === 6 ? XDP_MD.data : SK_BUFF.data;
  const endOff = type === 6 ? XDP_MD.data_end : SK_BUFF.data_end;
  const metaOff = type === 6 ? XDP_MD.data_meta : SK_BUFF.data_meta;

  // Subprograms (callbacks and local-call targets) go after the main program;
  // their references are patched once the layout is known.
  const subs: Instruction[][] = [];
  const refs = new Map<Instruction, number>();
  const funcRef = (dst: number, body: Instruction[]): Instruction => {
    const i = BPF_LD_IMM64_RAW(dst, 4, 0);
    refs.set(i, subs.length);
    subs.push(body);
    return i;
  };
  const localCall = (body: Instruction[]): Instruction => {
    const c = BPF_CALL_REL(0);
    refs.set(c, subs.length);
    subs.push(body);
    return c;
  };

  /** r = a pointer (or not) of some kind, for a helper's argument */
  const pointerInto = (r: number, size = 8): Instruction[] => {
    const k = rnd();
    if (k < 0.25) return [BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, chance(0.85) ? -8 * (1 + Math.floor(rnd() * 8)) : pick([-512, -520, -4, 0, 8, -size]))];
    if (k < 0.4) return [BPF_MOV64_REG(r, 6), ...(chance(0.3) ? [BPF_ALU64_IMM(BPF_ADD, r, pick([4, 48, 180, 192, -8]))] : [])];
    if (k < 0.55 && packetPtrs) return [BPF_LDX_MEM(BPF_W, r, 6, chance(0.8) ? dataOff : pick([endOff, metaOff])), ...(chance(0.3) ? [BPF_ALU64_IMM(BPF_ADD, r, pick([0, 6, 14, 60, -4, -300, 4000]))] : [])];
    if (k < 0.65) return [BPF_MOV64_REG(r, 7)];
    if (k < 0.72) return [BPF_MOV64_REG(r, 9)];
    if (k < 0.82) return [BPF_LD_MAP_FD(r, pick(MODERN_MAPS.map((_, i) => i))), ...(chance(0.5) ? [BPF_ALU64_IMM(BPF_ADD, r, pick([0, 8, 32, 64, 80]))] : [])];
    return [BPF_LD_IMM64(r, pick([0, 8, 4096, RUN_GEN_ADDR, NULL_PAGE_END - 8, STACK_TOP, STACK_TOP - 8, 0xfffffff8, 0x7ffffff0, 0x100000000, -1]))];
  };
  /** r = a size or other scalar at a boundary */
  const scalarInto = (r: number): Instruction[] => (chance(0.9) ? [BPF_MOV64_IMM(r, pick(SIZES))] : [BPF_LD_IMM64(r, pick([0x100000000, 0x100000004, -0x80000000, 2 ** 53]))]);
  /** r = a map of the program */
  const mapInto = (r: number, m?: number): Instruction => BPF_LD_MAP_FD(r, m ?? pick(MODERN_MAPS.map((_, i) => i)));
  /** a stack key / value at -16..-1 (8 bytes each), as a map of `m` wants it */
  const keyValue = (m: number): Instruction[] => {
    const out: Instruction[] = [];
    if (m === M.lpm_trie) out.push(BPF_ST_MEM(BPF_W, 10, -16, pick([0, 8, 16, 24, 32, 33, 0xffffffff])), BPF_ST_MEM(BPF_W, 10, -12, pick([0x0a000001, 0x0a0000ff, 0xc0a80101, 0])));
    else out.push(BPF_ST_MEM(BPF_DW, 10, -16, Math.floor(rnd() * (chance(0.8) ? 6 : 0x10000))));
    out.push(BPF_ST_MEM(BPF_DW, 10, -8, Math.floor(rnd() * 1000)));
    // values larger than 8 bytes read on into -24..: initialise them too
    out.push(BPF_ST_MEM(BPF_DW, 10, -24, 5), BPF_ST_MEM(BPF_DW, 10, -32, 6));
    return out;
  };
  /** call helper `id`, sometimes through callx (r5, which the callers below leave free) */
  const call = (id: number): Instruction[] => (chance(0.2) ? [BPF_MOV64_IMM(5, id), BPF_CALLX(5)] : [BPF_EMIT_CALL(id)]);
  /** a packet access at r + off of a random size, read or write */
  const access = (r: number, off: number): Instruction => {
    const sz = pick([BPF_B, BPF_H, BPF_W, BPF_DW]);
    return chance(0.5) ? BPF_LDX_MEM(sz, 8, r, off) : BPF_ST_MEM(sz, r, off, 0x5a);
  };
  /** a callback body: what bpf_loop / bpf_for_each_map_elem run */
  const callback = (level: number): Instruction[] => {
    const b: Instruction[] = [];
    for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
      const k = rnd();
      if (k < 0.2) b.push(BPF_LDX_MEM(chance(0.7) ? BPF_W : BPF_DW, 0, 2, chance(0.8) ? 0 : pick([8, -8, 16])));
      else if (k < 0.35) b.push(BPF_ST_MEM(BPF_W, 3, chance(0.8) ? 0 : pick([4, 8, 16, -8]), 7));
      else if (k < 0.4) b.push(BPF_ST_MEM(BPF_W, 2, pick([0, 4]), 9));
      else if (k < 0.55) b.push(BPF_ST_MEM(BPF_DW, 10, chance(0.8) ? -8 : pick([-512, 8, 504]), 3));
      else if (k < 0.65) {
        // change the map being walked (for_each: r1 is the map, r2 the key)
        b.push(BPF_MOV64_REG(9, 2), BPF_MOV64_REG(8, 3), BPF_EMIT_CALL(pick([ID.delete, ID.lookup])));
      } else if (k < 0.72) {
        b.push(BPF_MOV64_REG(3, 2), BPF_MOV64_REG(4, 2), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(ID.update));
      } else if (k < 0.8 && level < 3) {
        // a nested loop
        b.push(BPF_MOV64_IMM(1, pick([2, 100, 1000, 1 << 23])), funcRef(2, callback(level + 1)), BPF_MOV64_IMM(3, 0), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(ID.loop));
      } else if (k < 0.85 && level < 3) {
        b.push(mapInto(1), funcRef(2, callback(level + 1)), BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -8), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(ID.forEach));
      } else if (k < 0.9) {
        // a tail call from inside a callback (the context, if the caller passed it, is r2)
        b.push(BPF_MOV64_REG(1, 2), mapInto(2, M.prog_array), BPF_MOV64_IMM(3, pick([0, 1, 2])), BPF_EMIT_CALL(ID.tail));
      } else if (k < 0.95) b.push(localCall([BPF_ST_MEM(BPF_DW, 10, -8, 1), BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN()]));
      else b.push(BPF_MOV64_IMM(1, 0), BPF_MOV64_IMM(2, 0), BPF_MOV64_IMM(3, 0), BPF_MOV64_IMM(4, 0), BPF_MOV64_IMM(5, 0), BPF_MOV64_IMM(0, 0));
    }
    b.push(BPF_MOV64_IMM(0, chance(0.7) ? 0 : pick([1, 2, -1])), BPF_EXIT_INSN());
    return b;
  };

  /**
   * A call of helper `def` with arguments its prototype asks for (the
   * context, a map of a fitting type, initialised stack memory and its size,
   * a callback...), the way a verified program would make it; sometimes one
   * argument replaced by a hostile one.
   */
  const wellFormed = (def: (typeof HELPERS)[number]): Instruction[] => {
    const out: Instruction[] = [BPF_ST_MEM(BPF_DW, 10, -64, 0x0a000001), BPF_ST_MEM(BPF_DW, 10, -56, 0x25642564), BPF_ST_MEM(BPF_DW, 10, -48, 0)];
    const spoil = chance(0.25) ? 1 + Math.floor(rnd() * Math.max(def.proto.args.length, 1)) : 0;
    def.proto.args.forEach((t, i) => {
      const r = i + 1;
      if (r === spoil) {
        out.push(...(chance(0.5) ? pointerInto(r) : scalarInto(r)));
        return;
      }
      switch (t & 0xff) {
        case ARG.PTR_TO_CTX: out.push(BPF_MOV64_REG(r, 6)); break;
        case ARG.CONST_MAP_PTR: out.push(mapInto(r, def.name.startsWith('bpf_ringbuf') ? M.ringbuf : def.id === ID.tail ? M.prog_array
          : def.id === ID.push || def.id === ID.pop || def.id === ID.peek ? pick([M.queue, M.stack]) : undefined)); break;
        case ARG.PTR_TO_MAP_KEY: case ARG.PTR_TO_MAP_VALUE: case ARG.PTR_TO_STACK: case ARG.PTR_TO_MEM: case ARG.PTR_TO_LONG:
          out.push(BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, pick([-64, -56, -48]))); break;
        case ARG.CONST_SIZE: out.push(BPF_MOV64_IMM(r, pick([4, 8, 16]))); break;
        case ARG.CONST_SIZE_OR_ZERO: case ARG.CONST_ALLOC_SIZE_OR_ZERO: out.push(BPF_MOV64_IMM(r, pick([0, 4, 8, 16]))); break;
        case ARG.PTR_TO_FUNC: out.push(funcRef(r, callback(1))); break;
        case ARG.PTR_TO_SPIN_LOCK: out.push(BPF_MOV64_REG(r, 7)); break;
        case ARG.PTR_TO_RINGBUF_MEM: out.push(BPF_MOV64_REG(r, 9)); break;
        default: out.push(BPF_MOV64_IMM(r, pick([0, 0, 1, 2, 14, 64])));
      }
    });
    out.push(BPF_EMIT_CALL(def.id));
    return out;
  };

  const body: Instruction[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 0), BPF_MOV64_IMM(9, 0)];
  const blocks = 2 + Math.floor(rnd() * 7);
  for (let n = 0; n < blocks; n++) {
    const k = rnd();
    if (k < 0.1) {
      body.push(...wellFormed(pick(HELPERS)));
      if (chance(0.3)) body.push(BPF_MOV64_REG(7, 0));
    } else if (k < 0.16) {
      // any helper, arguments of any kind, maybe through callx
      const id = pick(HELPER_IDS);
      for (let r = 1; r <= 5; r++) {
        const c = rnd();
        if (c < 0.35) body.push(...pointerInto(r));
        else if (c < 0.5) body.push(mapInto(r));
        else if (c < 0.6 && (r === 2 || r === 3)) body.push(funcRef(r, callback(1)));
        else body.push(...scalarInto(r));
      }
      if (chance(0.15)) body.push(BPF_MOV64_IMM(0, id), BPF_CALLX(0));
      else body.push(BPF_EMIT_CALL(id));
      if (chance(0.4)) body.push(BPF_MOV64_REG(7, 0));
    } else if (k < 0.32) {
      // a map operation with a key and value on the stack, then accesses through a value pointer
      const m = chance(0.9) ? pick([M.hash, M.array, M.percpu_hash, M.percpu_array, M.lru_hash, M.lru_percpu_hash, M.lpm_trie, M.queue, M.stack, M.array_of_maps, M.hash_of_maps, M.prog_array])
        : pick(MODERN_MAPS.map((_, i) => i));
      body.push(...keyValue(m), mapInto(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16));
      const op = pick([ID.lookup, ID.lookup, ID.update, ID.update, ID.delete, ID.push, ID.pop, ID.peek]);
      if (op === ID.update) body.push(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, chance(0.9) ? -8 : -32), BPF_MOV64_IMM(4, pick([0, 0, 1, 2, 3])));
      if (op === ID.push || op === ID.pop || op === ID.peek) {
        body.push(BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, chance(0.9) ? -8 : pick([-4, 0, -520])), BPF_MOV64_IMM(3, pick([0, 0, 2, 1, 4])));
      }
      body.push(BPF_EMIT_CALL(op));
      if (op === ID.lookup) {
        const acc = [access(0, chance(0.85) ? pick([0, 4, 8]) : pick([12, 16, -8])), BPF_MOV64_REG(7, 0)];
        body.push(chance(0.85) ? BPF_JMP_IMM(BPF_JEQ, 0, 0, acc.length) : BPF_JMP_IMM(BPF_JNE, 0, 0, 0), ...acc);
      }
    } else if (k < 0.38) {
      // a map of maps: its inner map through the map helpers, and the inner map's value
      const outer = pick([M.array_of_maps, M.hash_of_maps]);
      body.push(BPF_ST_MEM(BPF_DW, 10, -16, pick([0, 1, 1, 2, 7])), mapInto(1, outer), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16), BPF_EMIT_CALL(ID.lookup));
      const use: Instruction[] = [BPF_MOV64_REG(1, 0), BPF_ST_MEM(BPF_DW, 10, -16, pick([0, 1, 2])), BPF_ST_MEM(BPF_DW, 10, -8, 77), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16)];
      const op = pick([ID.lookup, ID.lookup, ID.update, ID.delete, ID.forEach]);
      if (op === ID.update) use.push(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -8), BPF_MOV64_IMM(4, 0));
      if (op === ID.forEach) use.push(funcRef(2, callback(1)), BPF_MOV64_IMM(3, 0), BPF_MOV64_IMM(4, 0));
      use.push(BPF_EMIT_CALL(op));
      if (op === ID.lookup) use.push(BPF_JMP_IMM(BPF_JEQ, 0, 0, 2), access(0, chance(0.8) ? 0 : pick([4, 8, -8, 64])), BPF_MOV64_REG(7, 0));
      if (chance(0.2)) use.unshift(BPF_ALU64_IMM(BPF_ADD, 0, pick([8, 16, 64, -64])));
      body.push(chance(0.9) ? BPF_JMP_IMM(BPF_JEQ, 0, 0, use.length) : BPF_MOV64_IMM(8, 0), ...use);
    } else if (k < 0.44 && type === 6) {
      // adjust the frame by an extreme delta, then access it through fresh and stale pointers
      body.push(BPF_LDX_MEM(BPF_W, 8, 6, XDP_MD.data));
      body.push(BPF_MOV64_REG(1, 6), BPF_MOV64_IMM(2, pick(DELTAS)), BPF_EMIT_CALL(pick([ID.head, ID.tail65, ID.meta])));
      body.push(BPF_LDX_MEM(BPF_W, 2, 6, pick([XDP_MD.data, XDP_MD.data_end, XDP_MD.data_meta])));
      for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) body.push(access(chance(0.7) ? 2 : 8, pick([0, 1, 13, 14, 60, -1, -4, -8, -40, 3500])));
    } else if (k < 0.5 && packetPtrs) {
      // direct packet access, bounds-checked or not
      body.push(BPF_LDX_MEM(BPF_W, 2, 6, dataOff), BPF_LDX_MEM(BPF_W, 3, 6, endOff));
      const off = pick([0, 12, 14, 19, 20, 59, 60, 64, 89]);
      const acc = access(2, off);
      if (chance(0.7)) body.push(BPF_MOV64_REG(4, 2), BPF_ALU64_IMM(BPF_ADD, 4, off + 8), { ...BPF_JMP_IMM(BPF_JEQ, 0, 0, 1), code: 0x2d, dst: 4, src: 3 }, acc);
      else body.push(acc);
    } else if (k < 0.56 && type !== 6) {
      // the skb helpers: load/store bytes, checksums, LD_ABS
      const id = pick([ID.loadBytes, ID.storeBytes, ID.l3, ID.l4, ID.csumDiff]);
      body.push(BPF_MOV64_REG(1, 6), BPF_MOV64_IMM(2, pick([0, 1, 12, 14, 20, 59, 60, 89, -1, 0x7fffffff])));
      if (id === ID.loadBytes || id === ID.storeBytes) body.push(...pointerInto(3), BPF_MOV64_IMM(4, pick(SIZES)), BPF_MOV64_IMM(5, pick([0, 1, 2, 3, 16])));
      else body.push(BPF_MOV64_IMM(3, pick([0, 1, 0xffff])), BPF_MOV64_IMM(4, pick([0, 0x1234, -1])), BPF_MOV64_IMM(5, pick([0, 2, 4, 3, 0x12, 0x22, 0x62, 0x100])));
      body.push(BPF_EMIT_CALL(id));
      if (chance(0.3)) body.push(BPF_LD_ABS(pick([BPF_B, BPF_H, BPF_W]), pick([0, 12, 40, 88, 200])));
    } else if (k < 0.64) {
      // a tail call through the prog array (the program itself at 0, a self-chain at 1, another type at 2, ...)
      body.push(chance(0.9) ? BPF_MOV64_REG(1, 6) : BPF_MOV64_IMM(1, 0), chance(0.9) ? mapInto(2, M.prog_array) : mapInto(2));
      body.push(chance(0.9) ? BPF_MOV64_IMM(3, pick([0, 0, 1, 1, 2, 3, 4, 5])) : BPF_LD_IMM64(3, pick([-1, 0x100000000, 0xffffffff])), ...call(ID.tail));
    } else if (k < 0.73) {
      // bpf_loop
      body.push(chance(0.9) ? BPF_MOV64_IMM(1, pick([0, 1, 3, 50, 1000, 1 << 23])) : BPF_LD_IMM64(1, pick([(1 << 23) + 1, 0xffffffff, 0x100000003])));
      body.push(chance(0.93) ? funcRef(2, callback(1)) : pick([BPF_MOV64_IMM(2, 0), BPF_LD_IMM64(2, 0x0cb0cb00_00000000n + BigInt(pick([0, 1, 3, 4000])))]));
      body.push(...(chance(0.5) ? [BPF_MOV64_REG(3, 6)] : pointerInto(3)), BPF_MOV64_IMM(4, chance(0.9) ? 0 : 1), ...call(ID.loop), BPF_MOV64_REG(7, 0));
    } else if (k < 0.8) {
      // bpf_for_each_map_elem over any map
      body.push(mapInto(1), funcRef(2, callback(1)), ...(chance(0.5) ? [BPF_MOV64_REG(3, 6)] : pointerInto(3)), BPF_MOV64_IMM(4, chance(0.9) ? 0 : 3), ...call(ID.forEach));
    } else if (k < 0.9) {
      // the ring buffer: reserve, write, submit / discard (or not, or twice, or something else)
      body.push(mapInto(1, chance(0.9) ? M.ringbuf : M.array), BPF_MOV64_IMM(2, pick([0, 1, 8, 16, 100, 2000, 4088, 4089, 5000])), BPF_MOV64_IMM(3, chance(0.9) ? 0 : 1));
      body.push(BPF_EMIT_CALL(ID.rbReserve), BPF_MOV64_REG(9, 0));
      const use: Instruction[] = [];
      for (let i = Math.floor(rnd() * 3); i > 0; i--) use.push(access(9, pick([0, 8, 15, 16, 99, 100, -8, -4, 4096])));
      for (let i = Math.floor(rnd() * 3); i > 0; i--) {
        use.push(BPF_MOV64_REG(1, chance(0.8) ? 9 : pick([6, 10, 7])));
        if (chance(0.2)) use.push(BPF_ALU64_IMM(BPF_ADD, 1, pick([8, -8, 1])));
        use.push(BPF_MOV64_IMM(2, chance(0.9) ? 0 : pick([1, 2, 4])), BPF_EMIT_CALL(pick([ID.rbSubmit, ID.rbDiscard])));
      }
      body.push(chance(0.8) ? BPF_JMP_IMM(BPF_JEQ, 9, 0, use.length) : BPF_MOV64_IMM(0, 0), ...use);
      if (chance(0.3)) body.push(mapInto(1, M.ringbuf), ...pointerInto(2), BPF_MOV64_IMM(3, pick([0, 8, 16, 4000, 5000])), BPF_MOV64_IMM(4, 0), BPF_EMIT_CALL(ID.rbOutput));
      if (chance(0.3)) body.push(mapInto(1, M.ringbuf), BPF_MOV64_IMM(2, pick([0, 1, 2, 3, 4])), BPF_EMIT_CALL(ID.rbQuery), BPF_MOV64_REG(7, 0));
    } else {
      // spin locks: in an array value, or elsewhere; taken twice, released unheld
      body.push(BPF_ST_MEM(BPF_W, 10, -4, pick([0, 1, 3])), mapInto(1, M.array), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(ID.lookup));
      const seq: Instruction[] = [];
      const hostile = chance(0.3);
      for (let i = hostile ? 1 + Math.floor(rnd() * 3) : 2; i > 0; i--) {
        if (!hostile || chance(0.8)) seq.push(BPF_MOV64_REG(1, 0), BPF_ALU64_IMM(BPF_ADD, 1, hostile ? pick([0, 0, 4, 8, 14, 16]) : 0));
        else seq.push(...pointerInto(1));
        seq.push(BPF_STX_MEM(BPF_DW, 10, 0, -16), BPF_EMIT_CALL(hostile ? (chance(0.55) ? ID.lock : ID.unlock) : i === 2 ? ID.lock : ID.unlock), BPF_LDX_MEM(BPF_DW, 0, 10, -16));
      }
      // a value pointer for the well-formed calls' spin lock argument
      seq.push(BPF_MOV64_REG(7, 0));
      body.push(BPF_JMP_IMM(BPF_JEQ, 0, 0, seq.length), ...seq);
    }
  }
  body.push(BPF_MOV64_REG(0, 7), BPF_EXIT_INSN());
  return { type, insns: layout(body, subs, refs) };
}

/** The main program, then each subprogram; references (ld_imm64 of a function, local calls) point at their subprogram. */
function layout(main: Instruction[], subs: Instruction[][], refs: Map<Instruction, number>): Instruction[] {
  const slots = (xs: readonly Instruction[]): number => xs.reduce((n, i) => n + (i.code === 0x18 ? 2 : 1), 0);
  const at: number[] = [];
  let pos = slots(main);
  for (const s of subs) {
    at.push(pos);
    pos += slots(s);
  }
  const program = [...main, ...subs.flat()];
  let slot = 0;
  return program.map((insn) => {
    const here = slot;
    slot += insn.code === 0x18 ? 2 : 1;
    const sub = refs.get(insn);
    return sub === undefined ? insn : { ...insn, imm: at[sub]! - here - 1 };
  });
}

/** The frames each program runs over: a short one, the shortest Ethernet frame, a longer one; each twice (state carries over). */
export const MODERN_FRAMES: Uint8Array[] = (() => {
  const rnd = prng(171);
  const frames = [14, 60, 90].map((n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  return [...frames, ...frames];
})();

/** The tail-call targets besides the program itself, per slot of the prog array. */
function tailTargets(type: ModernType): { slot: number; type: number; insns: Instruction[] }[] {
  const pa = M.prog_array;
  return [
    // 1: a chain that calls itself, counting in array[2]: far past 33
    {
      slot: 1, type, insns: [
        BPF_MOV64_REG(6, 1), BPF_ST_MEM(BPF_W, 10, -4, 2), BPF_LD_MAP_FD(1, M.array), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4),
        BPF_EMIT_CALL(ID.lookup), BPF_JMP_IMM(BPF_JEQ, 0, 0, 3), BPF_LDX_MEM(BPF_DW, 1, 0, 8), BPF_ALU64_IMM(BPF_ADD, 1, 1), BPF_STX_MEM(BPF_DW, 0, 1, 8),
        BPF_MOV64_REG(1, 6), BPF_LD_MAP_FD(2, pa), BPF_MOV64_IMM(3, 1), BPF_EMIT_CALL(ID.tail), BPF_MOV64_IMM(0, 1), BPF_EXIT_INSN(),
      ],
    },
    // 2: a program of another type, which reads its context as its own type would
    { slot: 2, type: type === 6 ? 3 : 6, insns: [BPF_LDX_MEM(BPF_W, 2, 1, 0), BPF_LDX_MEM(BPF_W, 3, 1, 76), BPF_LDX_MEM(BPF_B, 0, 2, 0), BPF_EXIT_INSN()] },
    // 3: an XDP adjust, then back to slot 0 (the program itself)
    {
      slot: 3, type, insns: [
        BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(2, -64), BPF_EMIT_CALL(ID.head), BPF_MOV64_REG(1, 6), BPF_LD_MAP_FD(2, pa), BPF_MOV64_IMM(3, 0), BPF_EMIT_CALL(ID.tail),
        BPF_MOV64_IMM(0, 3), BPF_EXIT_INSN(),
      ],
    },
  ];
}

/** A system of the modern profile with a small memory (thousands of them are made); shared: a worker's, on lane 1 of a shared memory. */
function modernSystem(shared = false): BpfSystem {
  if (!shared) return new BpfSystem(new Runtime({ maxBytes: 4 << 20, profile: 'modern', cpus: 2 }));
  const owner = new Runtime({ maxBytes: 6 << 20, profile: 'modern', cpus: 2, shared: true });
  return new BpfSystem(new Runtime({ attach: owner.workerAttach({ arenaBytes: 5 << 20, cpu: 1 }) }));
}

/** The maps of MODERN_MAPS in `sys`, with some elements, and the fd each index names. */
function makeMaps(sys: BpfSystem): number[] {
  const fds: number[] = [];
  const inner = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 2 });
  for (const m of MODERN_MAPS) {
    const attr: Record<string, number> = { ...m.attr };
    if (m.attr.map_type === 12 || m.attr.map_type === 13) attr['inner_map_fd'] = inner;
    fds.push(sys.bpf('BPF_MAP_CREATE', attr));
  }
  const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
  const put = (i: number, key: Uint8Array | null, value: Uint8Array, flags = 0): void => {
    sys.bpf('BPF_MAP_UPDATE_ELEM', key === null ? { map_fd: fds[i]!, value, flags } : { map_fd: fds[i]!, key, value, flags });
  };
  for (const k of [1, 2, 3]) put(M.hash, u32(k), new Uint8Array(16).fill(k));
  for (const k of [1, 2]) {
    put(M.lru_hash, u32(k), new Uint8Array(8).fill(k));
    put(M.percpu_hash, u32(k), new Uint8Array(16 * 2).fill(k));
    put(M.lru_percpu_hash, u32(k), new Uint8Array(8 * 2).fill(k));
  }
  put(M.lpm_trie, new Uint8Array([24, 0, 0, 0, 10, 0, 0, 0]), new Uint8Array(8).fill(1));
  put(M.lpm_trie, new Uint8Array([8, 0, 0, 0, 10, 0, 0, 0]), new Uint8Array(8).fill(2));
  put(M.queue, null, new Uint8Array(8).fill(4));
  put(M.stack, null, new Uint8Array(8).fill(5));
  put(M.array_of_maps, u32(0), u32(inner));
  put(M.hash_of_maps, u32(1), u32(inner));
  return fds;
}

const ZERO_PAGE = Buffer.alloc(NULL_PAGE_END);

/** The probe: a program over maps of its own whose result shows the runtime still works (0x1111 + 0x2222). */
function probe(sys: BpfSystem): { fd: number; expected: bigint } {
  const arr = sys.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 16, max_entries: 2 });
  const hash = sys.bpf('BPF_MAP_CREATE', { map_type: 1, key_size: 4, value_size: 16, max_entries: 4 });
  const v = (x: number): Uint8Array => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setUint32(8, x, true);
    return b;
  };
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: arr, key: new Uint8Array(4), value: v(0x1111), flags: 0 });
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: hash, key: new Uint8Array([7, 0, 0, 0]), value: v(0x2222), flags: 0 });
  const insns = [
    BPF_ST_MEM(BPF_W, 10, -4, 0), BPF_LD_MAP_FD(1, arr), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1),
    BPF_JMP_IMM(BPF_JEQ, 0, 0, 11), BPF_LDX_MEM(BPF_DW, 6, 0, 8),
    BPF_ST_MEM(BPF_W, 10, -4, 7), BPF_LD_MAP_FD(1, hash), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(1),
    BPF_JMP_IMM(BPF_JEQ, 0, 0, 3), BPF_LDX_MEM(BPF_DW, 0, 0, 8), { ...BPF_MOV64_REG(0, 6), code: 0x0f }, BPF_EXIT_INSN(),
    BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
  ];
  const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 6, insns: encode(insns), license: 'GPL' });
  return { fd, expected: 0x3333n };
}

/**
 * The shared probe (map[fd:N] as MODERN_MAPS): a spin lock taken and
 * released in array[0], a record output to the ring buffer, a value pushed
 * and popped in the queue; 1 when all worked.
 */
const SHARED_PROBE: Instruction[] = [
  BPF_ST_MEM(BPF_W, 10, -4, 0), BPF_LD_MAP_FD(1, M.array), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_EMIT_CALL(ID.lookup),
  BPF_JMP_IMM(BPF_JEQ, 0, 0, 23), BPF_MOV64_REG(7, 0), BPF_MOV64_REG(1, 7), BPF_EMIT_CALL(ID.lock), BPF_MOV64_REG(1, 7), BPF_EMIT_CALL(ID.unlock),
  BPF_ST_MEM(BPF_DW, 10, -16, 9), BPF_LD_MAP_FD(1, M.ringbuf), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16), BPF_MOV64_IMM(3, 8), BPF_MOV64_IMM(4, 0),
  BPF_EMIT_CALL(ID.rbOutput), BPF_JMP_IMM(BPF_JNE, 0, 0, 9),
  BPF_LD_MAP_FD(1, M.queue), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16), BPF_MOV64_IMM(3, 2), BPF_EMIT_CALL(ID.push), BPF_JMP_IMM(BPF_JNE, 0, 0, 2),
  BPF_MOV64_IMM(0, 1), BPF_EXIT_INSN(),
  BPF_MOV64_IMM(0, 0), BPF_EXIT_INSN(),
];

/**
 * Shared mode: the probe's lock word (array[0]'s first u32) after the runs.
 * Nonzero, an unverified run stored into it (a run that ended holding the
 * lock gave it back: RunState.end), which the verifier refuses; in a shared
 * memory the word is the lock, so the probe must end with the bounded
 * wait's EFAULT, never hang. The word is then cleared for the rest of the
 * checks. Problems found.
 */
function lockWordLeftSet(sys: BpfSystem, fds: readonly number[], probeFd: number): string[] {
  const mem = sys.runtime.mem;
  const key = mem.alloc(4);
  const value = sys.mapOf(fds[M.array]!).impl.lookup(key);
  mem.release(key);
  if (value === 0 || mem.view.getUint32(value, true) === 0) return [];
  try {
    testRun(sys, probeFd, new Uint8Array(60));
    return [`the probe took the lock at 0x${value.toString(16)} a run left set`];
  } catch (e) {
    const want = `bpf_spin_lock: the lock at 0x${value.toString(16)} stayed held for ${SPIN_LOCK_WAIT_MS} ms (a deadlock, or a thread stuck holding it)`;
    if (!(e instanceof BpfError) || e.code !== 'EFAULT' || e.message !== want) return [`the probe over a lock word a run left set failed otherwise: ${describeError(e)}`];
  } finally {
    mem.view.setUint32(value, 0, true);
  }
  return [];
}

/** What a case's runs gave: runs made (checked interpreter, hardened JIT), their outcomes, the problems found. */
export interface ModernResult {
  runs: number;
  hardenedRuns: number;
  outcomes: string[];
  problems: string[];
}

export interface ModernOptions {
  /** the instruction budget of the unverified programs (default 20000) */
  budget?: number;
  /** also run on the hardened JIT (default true) */
  hardened?: boolean;
  /** fuzzModern: also a callback case (callback-diff.ts) with each case (default true) */
  callbacks?: boolean;
  /** run in a shared memory on lane 1 (see the file's opening) */
  shared?: boolean;
}

/** Run a case unverified in the checked interpreter and on the hardened JIT, each in a system of its own, under the oracle. */
export function runModernCase(c: ModernCase, options: ModernOptions = {}): ModernResult {
  const checked = runOn(c, 'interpreter', options);
  const hardened = options.hardened === false ? { runs: 0, outcomes: [], problems: [] } : runOn(c, 'jit-hardened', options);
  return { runs: checked.runs, hardenedRuns: hardened.runs, outcomes: checked.outcomes, problems: [...checked.problems, ...hardened.problems] };
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}${(e as { code?: string }).code ? ` ${(e as { code?: string }).code}` : ''}: ${e.message}` : String(e);
}

function runOn(c: ModernCase, engineName: 'interpreter' | 'jit-hardened', options: ModernOptions): { runs: number; outcomes: string[]; problems: string[] } {
  const where = engineName === 'interpreter' ? 'in the checked interpreter' : 'on the hardened JIT';
  const budget = options.budget ?? 20_000;
  const problems: string[] = [];
  const outcomes: string[] = [];
  const listing = (): string => `type ${c.type}\n${disasm(c.insns)}`;
  const sys = modernSystem(options.shared === true);
  sys.unverifiedBudget = budget;
  const mem = sys.runtime.mem;
  const fds = makeMaps(sys);
  const pr = probe(sys);
  const load = (type: number, insns: Instruction[]): number => sys.loadUnverified({ prog_type: type, insns: encode(withMapFds(insns, fds)), license: 'GPL' });
  let fd: number;
  try {
    fd = load(c.type, c.insns);
    for (const t of tailTargets(c.type)) {
      const tfd = load(t.type, t.insns);
      try {
        sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fds[M.prog_array]!, key: new Uint8Array([t.slot, 0, 0, 0]), value: new Uint8Array([tfd, 0, 0, 0]), flags: 0 });
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
      }
    }
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fds[M.prog_array]!, key: new Uint8Array(4), value: new Uint8Array([fd, 0, 0, 0]), flags: 0 });
  } catch (e) {
    if (e instanceof BpfError) return { runs: 0, outcomes, problems };
    return { runs: 0, outcomes, problems: [`escape: loading unverified threw ${describeError(e)}\n${listing()}`] };
  }
  const prog = sys.progOf(fd).prog;
  let engine: Engine;
  try {
    engine = engineName === 'interpreter' ? prog.interpreter : engineOfHardened(sys, fd);
  } catch (e) {
    // (a module WebAssembly refuses is the JIT's bug, not the program's)
    if (e instanceof BpfError && !e.message.startsWith('the JIT produced an invalid module')) return { runs: 0, outcomes, problems };
    return { runs: 0, outcomes, problems: [`escape: compiling ${where} threw ${describeError(e)}\n${listing()}`] };
  }
  const headers = [...fds, ...Array.from({ length: 32 }, (_, i) => i)].flatMap((f) => {
    try {
      return [sys.mapOf(f).impl.addr];
    } catch {
      return [];
    }
  });
  const uniq = [...new Set(headers)];
  const headerBytes = uniq.map((a) => Buffer.from(mem.u8.subarray(a, a + MAP_HDR_SIZE)));
  // the instructions of every program a run tail-called, counted as each returns
  const run = sys.runtime.helpers.run;
  const tailEngine = run.tailEngine;
  let tailInsns = 0;
  run.tailEngine = (target, current) => {
    const next = tailEngine(target, current);
    if (next?.execTail === undefined) return next;
    return {
      ...next,
      engineName: next.engineName,
      get retLo() { return next.retLo; },
      get retHi() { return next.retHi; },
      execTail(input) {
        try {
          next.execTail!(input);
        } finally {
          if (next.executed > 0) tailInsns += next.executed;
        }
      },
    } as Engine;
  };
  let runs = 0;
  for (const data of MODERN_FRAMES) {
    let prepared;
    try {
      prepared = prog.type.prepare(mem, data);
    } catch (e) {
      if (e instanceof BpfError) continue;
      problems.push(`escape: preparing a run threw ${describeError(e)}\n${listing()}`);
      break;
    }
    const maps = prog.maps.map((m) => m.impl);
    tailInsns = 0;
    // what the run may not write (a socket filter's packet), to compare after it
    const readOnly = (prepared.input.regions ?? []).filter((r) => !r.writable && r.name === 'packet').map((r) => ({ r, bytes: Buffer.from(mem.u8.slice(r.start, r.end)) }));
    // shared: the null page holds the epoch and the lane table; unshared: zeros (both but the generation word)
    const before = options.shared === true ? Buffer.from(mem.read(0, NULL_PAGE_END)) : ZERO_PAGE;
    let out: string;
    try {
      for (const m of maps) m.enterRun();
      try {
        engine.exec(prepared.input);
        out = String(engine.retLo >>> 0);
      } finally {
        for (const m of maps) m.exitRun();
      }
    } catch (e) {
      if (!(e instanceof BpfError)) {
        problems.push(`escape: an unverified run ${where} threw ${describeError(e)}\n${listing()}`);
        prepared.release();
        break;
      }
      out = `${e.code}: ${e.message}`;
    }
    outcomes.push(out);
    runs++;
    const page = Buffer.from(mem.memory.buffer, 0, NULL_PAGE_END);
    // (the epoch is the maps' to move)
    if (options.shared === true) page.copy(before, EPOCH_ADDR, EPOCH_ADDR, EPOCH_ADDR + 4);
    if (page.compare(before, 0, RUN_GEN_ADDR, 0, RUN_GEN_ADDR) !== 0 || page.compare(before, RUN_GEN_ADDR + 4, NULL_PAGE_END, RUN_GEN_ADDR + 4, NULL_PAGE_END) !== 0) {
      const at = [...page.keys()].filter((i) => page[i] !== before[i] && (i < RUN_GEN_ADDR || i >= RUN_GEN_ADDR + 4));
      problems.push(`escape: an unverified run ${where} wrote the null page at ${at.slice(0, 4).join(', ')}\n${listing()}`);
      prepared.release();
      break;
    }
    const lane = sys.runtime.lane;
    if (options.shared === true && mem.view.getUint32(lane.runWord, true) !== 0) {
      problems.push(`escape: lane ${lane.index}'s run word is ${mem.view.getUint32(lane.runWord, true)} after an unverified run ${where}, not 0 (idle)\n${listing()}`);
      prepared.release();
      break;
    }
    const bad = uniq.findIndex((a, i) => Buffer.compare(mem.u8.subarray(a, a + MAP_HDR_SIZE), headerBytes[i]!) !== 0);
    if (bad >= 0) {
      problems.push(`escape: an unverified run ${where} changed the header of the map at 0x${uniq[bad]!.toString(16)}\n${listing()}`);
      prepared.release();
      break;
    }
    for (const { r, bytes } of readOnly) {
      if (Buffer.compare(mem.u8.subarray(r.start, r.end), bytes) !== 0) problems.push(`escape: a run ${where} changed its read-only ${r.name}\n${listing()}`);
    }
    const f = prepared.input.frame;
    if (f instanceof PacketFrame) {
      const v = mem.view;
      const inBuf = f.bufStart <= f.meta && f.meta <= f.data && f.data <= f.end && f.end <= f.bufEnd;
      const xdpOk = f.kind !== 'xdp' || (f.meta >= f.bufStart + XDP_FRAME_HEAD && f.data - f.meta <= 255 && f.end - f.data >= 14
        && v.getUint32(f.ctx + XDP_MD.data, true) === f.data && v.getUint32(f.ctx + XDP_MD.data_end, true) === f.end && v.getUint32(f.ctx + XDP_MD.data_meta, true) === f.meta);
      if (!inBuf || !xdpOk || f.region.start !== f.meta || f.region.end !== f.end) {
        problems.push(`frame: after a run ${where} the ${f.kind} frame is [meta 0x${f.meta.toString(16)}, data 0x${f.data.toString(16)}, end 0x${f.end.toString(16)}) in the buffer [0x${f.bufStart.toString(16)}, 0x${f.bufEnd.toString(16)})\n${listing()}`);
      }
    }
    if (engineName === 'interpreter' && !out.startsWith('E')) {
      const total = engine.executed + tailInsns;
      // each program a tail call runs has the budget of its own load; the run as a whole may take the one budget
      if (total > budget) problems.push(`budget: a run ${where} executed ${total} instructions (${engine.executed} + ${tailInsns} in tail calls), over its budget of ${budget}\n${listing()}`);
    }
    prepared.release();
  }
  run.tailEngine = tailEngine;
  // a well-formed program over the same maps (what a verified one does): no run may have left them unusable
  let shared: number | undefined;
  try {
    shared = load(6, SHARED_PROBE);
    if (options.shared === true) problems.push(...lockWordLeftSet(sys, fds, shared).map((p) => `shared: after the runs ${where}: ${p}\n${listing()}`));
    testRun(sys, shared, new Uint8Array(60));
  } catch (e) {
    problems.push(`shared: after the runs ${where} the probe over the program's maps fails: ${describeError(e)}\n${listing()}`);
  }
  try {
    problems.push(...mapInvariants(sys, fds).map((p) => `maps: after the runs ${where}: ${p}\n${listing()}`));
  } catch (e) {
    problems.push(`maps: after the runs ${where} walking the maps threw ${describeError(e)}\n${listing()}`);
  }
  try {
    // the ring's records were consumed (mapInvariants): the shared probe's output fits
    if (shared !== undefined) {
      const r = testRun(sys, shared, new Uint8Array(60)).retval;
      if (r !== 1n) problems.push(`shared: after the runs ${where} the probe over the program's maps gives ${r}\n${listing()}`);
    }
  } catch (e) {
    problems.push(`shared: after the runs ${where} the probe over the program's maps fails: ${describeError(e)}\n${listing()}`);
  }
  try {
    for (const e of ['interpreter', 'jit', 'jit-hardened'] as const) {
      const r = testRun(sys, pr.fd, new Uint8Array(20), 1, e).retval;
      if (r !== pr.expected) problems.push(`escape: after the unverified runs ${where} the probe gives ${r} on the ${e}\n${listing()}`);
    }
  } catch (e) {
    problems.push(`escape: after the unverified runs ${where} the runtime fails: ${describeError(e)}\n${listing()}`);
  }
  return { runs, outcomes, problems };
}

/** The hardened JIT of the program at fd (as testRun would compile it). */
function engineOfHardened(sys: BpfSystem, fd: number): Engine {
  return engineOf(sys.progOf(fd).prog, 'jit-hardened', sys);
}

/**
 * Each map's invariants: walkable by get_next_key to at most max_entries
 * distinct keys, each found again by lookup; a queue's or stack's count
 * within max_entries and exactly that many pops; a ring buffer's positions
 * ordered and its records readable.
 */
export function mapInvariants(sys: BpfSystem, fds: readonly number[]): string[] {
  const problems: string[] = [];
  const mem = sys.runtime.mem;
  fds.forEach((fd, i) => {
    const name = MODERN_MAPS[i]?.name ?? `fd ${fd}`;
    const m = sys.mapOf(fd).impl;
    if (m instanceof QueueStackMap) {
      const size = m.size;
      if (size < 0 || size > m.maxEntries) problems.push(`${name}: ${size} values in a map of ${m.maxEntries}`);
      const out = mem.alloc(m.valueSize);
      try {
        let pops = 0;
        while (pops <= m.maxEntries && m.pop!(out) === 0) pops++;
        if (pops !== size) problems.push(`${name}: ${pops} pops from a map that counted ${size}`);
      } finally {
        mem.release(out);
      }
      return;
    }
    if (m instanceof RingbufMap) {
      const [avail, ring, cons, prod] = [0, 1, 2, 3].map((f) => Number(m.query(f)));
      if (ring !== m.maxEntries || prod - cons !== avail || avail < 0 || avail > ring - 1 || cons % 8 !== 0 || prod % 8 !== 0) {
        problems.push(`${name}: positions avail ${avail}, size ${ring}, consumer ${cons}, producer ${prod}`);
      }
      const pending = m.pending;
      m.records();
      if (m.pending > pending) problems.push(`${name}: reading the records left ${m.pending} pending, from ${pending}`);
      return;
    }
    if (m.keySize === 0) return;
    const ks = m.keySize;
    const key = mem.alloc(ks);
    const next = mem.alloc(ks);
    try {
      const seen = new Set<string>();
      let prev = 0;
      while (m.getNextKey(prev, next) === 0) {
        const k = Buffer.from(mem.u8.subarray(next, next + ks)).toString('hex');
        if (seen.has(k)) {
          problems.push(`${name}: get_next_key gives key ${k} twice`);
          break;
        }
        seen.add(k);
        if (seen.size > m.maxEntries) {
          problems.push(`${name}: more than ${m.maxEntries} keys`);
          break;
        }
        if (m.type !== 3 && m.lookup(next) === 0 && m.type !== 12) problems.push(`${name}: key ${k} from get_next_key is not found`);
        mem.u8.copyWithin(key, next, next + ks);
        prev = key;
      }
    } finally {
      mem.release(key);
      mem.release(next);
    }
  });
  return problems;
}

export interface ModernFuzzResult {
  generated: number;
  runs: number;
  hardenedRuns: number;
  /** cases of the JIT's inline helpers against the helpers run (inline-diff.ts) */
  inlineCases: number;
  /** callback cases run on every engine (callback-diff.ts), and how many of them the verifier accepted */
  callbackCases: number;
  callbacksAccepted: number;
  problems: string[];
}

/** Generate and run cases from `seed` until `count` or `deadline` (ms since the epoch); the problems found. */
export function fuzzModern(seed: number, count: number, deadline = Infinity, options: ModernOptions = {}): ModernFuzzResult {
  const rnd = prng(seed);
  const result: ModernFuzzResult = { generated: 0, runs: 0, hardenedRuns: 0, inlineCases: 0, callbackCases: 0, callbacksAccepted: 0, problems: [] };
  // streams of their own, so the modern cases of a seed stay what they were
  const inlineRnd = prng((seed ^ 0x1e1e) >>> 0);
  const callbackRnd = prng((seed ^ 0xcb0cb) >>> 0);
  while (result.generated < count && Date.now() < deadline) {
    const c = randomModernCase(rnd);
    result.generated++;
    // and a case of the JIT's inline helpers against the helpers (inline-diff.ts)
    const ic = randomInlineCase(inlineRnd);
    try {
      result.problems.push(...runInlineCase(ic));
      result.inlineCases++;
    } catch (e) {
      result.problems.push(`harness: running the inline case threw ${describeError(e)}
type ${ic.type}
${disasm(ic.insns)}`);
    }
    // and a callback case: bpf_loop / for_each on every engine, compared (callback-diff.ts)
    if (options.callbacks !== false) {
      const cc = randomCallbackCase(callbackRnd);
      const listing = (): string => `type ${cc.type}\n${disasm(cc.insns)}`;
      try {
        const r = runCallbackCase(cc, listing);
        result.callbackCases++;
        if (r.accepted) result.callbacksAccepted++;
        result.problems.push(...r.problems);
      } catch (e) {
        result.problems.push(`harness: running the callback case threw ${describeError(e)}\n${listing()}`);
      }
    }
    try {
      const r = runModernCase(c, options);
      result.runs += r.runs;
      result.hardenedRuns += r.hardenedRuns;
      result.problems.push(...r.problems);
    } catch (e) {
      result.problems.push(`harness: running the case threw ${describeError(e)}\ntype ${c.type}\n${disasm(c.insns)}`);
    }
  }
  return result;
}

/** The command line: `--seconds N --seed S`; prints a summary and the first problems; exit code 1 when there are any. */
export function modernMain(argv: readonly string[]): number {
  const arg = (name: string, def: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : def;
  };
  const seconds = arg('--seconds', 30);
  const seed = arg('--seed', Date.now() % 0xffffffff);
  const shared = argv.includes('--shared');
  const r = fuzzModern(seed, Infinity, Date.now() + seconds * 1000, { shared });
  process.stdout.write(`modern-runtime${shared ? ' shared' : ''} seed ${seed}: ${r.generated} programs, ${r.runs} runs in the checked interpreter, ${r.hardenedRuns} on the hardened JIT, ${r.inlineCases} inline-helper cases, ${r.callbackCases} callback cases on every engine (${r.callbacksAccepted} verified), ${r.problems.length} problems\n`);
  for (const p of r.problems.slice(0, 5)) process.stdout.write(`\n${p}\n`);
  return r.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = modernMain(process.argv);
