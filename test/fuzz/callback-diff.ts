/**
 * Callbacks on every engine, differentially: a part of the modern runtime
 * fuzzer (modern-runtime.ts runs a case of this file with each of its
 * own). Random programs of the modern profile call bpf_loop and
 * bpf_for_each_map_elem with callbacks that nest further callbacks (three
 * levels), stop early or not, read their index, key and value, write the
 * value, the caller's stack through the context pointer, their own stack,
 * and other maps (update, delete, lookup of an array or hash, the map
 * being walked included), with counts at and past bpf_loop's limit and
 * flags other than 0; over array, hash, per-CPU array and per-CPU hash
 * maps, empty or filled. bpf_loop's callback is loaded into r2 right
 * before the call (the JIT runs the loop in WebAssembly) or moved there
 * from another register (the helper runs it, calling back through
 * JavaScript), so both ways are compared.
 *
 * The oracle is exact: each program is loaded verified in four systems
 * built alike (the interpreter, the JIT and the hardened JIT, each chosen
 * per run) and unverified in a fifth (the checked interpreter); every
 * run's outcome (r0, or the error's code and message), the packet after it
 * and every map's bytes after the runs must be equal; the JIT also runs the
 * frames as one batch (runFrames), whose verdicts and frames must be the
 * interpreter's. A program the verifier refuses is counted, not run.
 */

import { BpfSystem, testRun } from '../../src/api/bpf.js';
import { Program } from '../../src/api/program.js';
import { BpfError } from '../../src/errors.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { encode } from '../../src/isa/instruction.js';
import { BPF_ADD, BPF_AND, BPF_DW, BPF_JEQ, BPF_JNE, BPF_MUL, BPF_W, BPF_XOR } from '../../src/isa/opcodes.js';
import {
  BPF_ALU64_IMM, BPF_ALU64_REG, BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_JMP_IMM, BPF_LDX_MEM, BPF_LD_IMM64, BPF_LD_IMM64_RAW,
  BPF_LD_MAP_FD, BPF_MOV64_IMM, BPF_MOV64_REG, BPF_ST_MEM, BPF_STX_MEM,
} from '../../src/isa/builders.js';
import { withMapFds } from '../../src/bench/workloads.js';

/** The maps of a case, by index: u32 keys, u64 values (16 bytes for the second array). */
const CB_MAPS = [
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 4 },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 6 },
  { map_type: 6, key_size: 4, value_size: 8, max_entries: 3 },
  { map_type: 5, key_size: 4, value_size: 8, max_entries: 4 },
  { map_type: 2, key_size: 4, value_size: 16, max_entries: 2 },
] as const;

const LOOP = 181;
const FOR_EACH = 164;

export interface CallbackCase {
  /** 1: a socket filter (__sk_buff), 6: xdp */
  type: 1 | 6;
  insns: Instruction[];
  /** the elements put in the maps before the runs: [map, key, value] */
  fill: [number, number, number][];
}

/**
 * A random case. Main: r6 the context, r7 the xor of every helper's r0,
 * fp-32..fp-8 the callbacks' context (their r2 for bpf_loop, r4 for
 * for_each); r0 at exit is r7 xor those words. A callback keeps its
 * context in r6 and its index or key in r7, and returns 0 or 1.
 */
export function randomCallbackCase(rnd: () => number): CallbackCase {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const subs: Instruction[][] = [];
  const refs = new Map<Instruction, number>();
  const funcRef = (dst: number, body: Instruction[]): Instruction => {
    const i = BPF_LD_IMM64_RAW(dst, 4, 0);
    refs.set(i, subs.length);
    subs.push(body);
    return i;
  };
  /**
   * r2 = bpf_loop's callback: loaded into r2 (the JIT knows it at the call and runs the loop in
   * WebAssembly), or through r5 (it does not: the helper runs it, calling back through JavaScript)
   */
  const loopFunc = (body: Instruction[]): Instruction[] => (chance(0.7) ? [funcRef(2, body)] : [funcRef(5, body), BPF_MOV64_REG(2, 5)]);
  /** bpf_loop's count: small, 0, at the limit with a stop at once, past it, or 2^32 + 2 (the low half counts) */
  const count = (level: number): { insns: Instruction[]; huge: boolean } => {
    const k = rnd();
    if (k < 0.08) return { insns: [BPF_MOV64_IMM(1, (1 << 23) + 1)], huge: false };
    if (k < 0.12) return { insns: [BPF_MOV64_IMM(1, 1 << 23)], huge: true };
    if (k < 0.16) return { insns: [BPF_LD_IMM64(1, 0x100000002n)], huge: false };
    return { insns: [BPF_MOV64_IMM(1, pick(level === 0 ? [0, 1, 2, 3, 5, 9, 17] : [0, 1, 2, 4]))], huge: false };
  };
  /** a callback body; `ctx`: the caller passed its stack (fp-32) as the context; `each`: for_each's (map, key, value, ctx) */
  const callback = (level: number, ctx: boolean, each: { valueSize: number } | undefined, huge: boolean): Instruction[] => {
    const b: Instruction[] = [];
    if (ctx) b.push(BPF_MOV64_REG(6, each ? 4 : 2));
    if (each) {
      b.push(BPF_LDX_MEM(BPF_W, 7, 2, 0));
      // the value pointer, kept in r8
      b.push(BPF_MOV64_REG(8, 3));
    } else {
      b.push(BPF_MOV64_REG(7, 1));
    }
    for (let n = huge ? 0 : Math.floor(rnd() * 4); n > 0; n--) {
      const k = rnd();
      if (k < 0.25 && ctx) {
        // the caller's stack: ctx[off] = ctx[off] * 3 + index ^ constant
        const off = pick([0, 8, 16, 24]);
        b.push(BPF_LDX_MEM(BPF_DW, 1, 6, off), BPF_ALU64_IMM(BPF_MUL, 1, 3), BPF_ALU64_REG(BPF_ADD, 1, 7), BPF_ALU64_IMM(BPF_XOR, 1, Math.floor(rnd() * 1000)), BPF_STX_MEM(BPF_DW, 6, 1, off));
      } else if (k < 0.4 && each) {
        // the value: read, changed, written back (the second word too for 16-byte values)
        const off = each.valueSize === 16 && chance(0.5) ? 8 : 0;
        b.push(BPF_LDX_MEM(BPF_DW, 1, 8, off), BPF_ALU64_IMM(BPF_ADD, 1, 1 + Math.floor(rnd() * 50)), BPF_STX_MEM(BPF_DW, 8, 1, off));
        if (ctx) b.push(BPF_LDX_MEM(BPF_DW, 2, 6, 8), BPF_ALU64_REG(BPF_XOR, 2, 1), BPF_STX_MEM(BPF_DW, 6, 2, 8));
      } else if (k < 0.6) {
        // another map: update (any flags), delete or lookup and bump, the key from the index or key
        const m = pick([0, 1, 3, 4]);
        b.push(BPF_MOV64_REG(1, 7), BPF_ALU64_IMM(BPF_AND, 1, pick([3, 7])), BPF_STX_MEM(BPF_W, 10, 1, -4));
        b.push(BPF_ST_MEM(BPF_DW, 10, -24, Math.floor(rnd() * 100)), BPF_ST_MEM(BPF_DW, 10, -16, 7));
        const op = rnd();
        b.push(BPF_LD_MAP_FD(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4));
        if (op < 0.4) b.push(BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -24), BPF_MOV64_IMM(4, pick([0, 0, 1, 2])), BPF_EMIT_CALL(2));
        else if (op < 0.6) b.push(BPF_EMIT_CALL(3));
        else {
          b.push(BPF_EMIT_CALL(1), BPF_JMP_IMM(BPF_JEQ, 0, 0, 3), BPF_LDX_MEM(BPF_DW, 1, 0, 0), BPF_ALU64_IMM(BPF_ADD, 1, 5), BPF_STX_MEM(BPF_DW, 0, 1, 0));
        }
      } else if (k < 0.85 && level < 3) {
        // a nested callback, with the same context (or none)
        const pass = ctx && chance(0.8);
        const loop = chance(0.5);
        if (loop) {
          const c = count(level);
          b.push(...c.insns, ...loopFunc(callback(level + 1, pass, undefined, c.huge)));
        } else {
          const m = pick([0, 1, 2, 3, 4]);
          b.push(BPF_LD_MAP_FD(1, m), funcRef(2, callback(level + 1, pass, { valueSize: CB_MAPS[m]!.value_size }, false)));
        }
        b.push(pass ? BPF_MOV64_REG(3, 6) : BPF_MOV64_IMM(3, 0), BPF_MOV64_IMM(4, chance(0.95) ? 0 : 1), BPF_EMIT_CALL(loop ? LOOP : FOR_EACH));
        if (ctx) b.push(BPF_LDX_MEM(BPF_DW, 1, 6, 16), BPF_ALU64_REG(BPF_ADD, 1, 0), BPF_STX_MEM(BPF_DW, 6, 1, 16));
      } else {
        // its own stack: written, read back into the index register
        b.push(BPF_ST_MEM(BPF_DW, 10, -8, Math.floor(rnd() * 1000)), BPF_LDX_MEM(BPF_DW, 1, 10, -8), BPF_ALU64_REG(BPF_ADD, 7, 1));
      }
    }
    // return 1 (stop) at some index or key, else 0; a huge count stops at once
    if (huge) b.push(BPF_MOV64_IMM(0, 1));
    else b.push(BPF_MOV64_IMM(0, 0), BPF_JMP_IMM(BPF_JNE, 7, pick([0, 1, 2, 3, 5, 99]), 1), BPF_MOV64_IMM(0, 1));
    b.push(BPF_EXIT_INSN());
    return b;
  };
  const type = pick([1, 6] as const);
  const main: Instruction[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 0)];
  for (const off of [-32, -24, -16, -8]) main.push(BPF_ST_MEM(BPF_DW, 10, off, Math.floor(rnd() * 0x7fffffff)));
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const ctx = chance(0.85);
    if (chance(0.5)) {
      const c = count(0);
      main.push(...c.insns, ...loopFunc(callback(1, ctx, undefined, c.huge)));
      main.push(...ctxArg(ctx), BPF_MOV64_IMM(4, chance(0.95) ? 0 : 1), BPF_EMIT_CALL(LOOP));
    } else {
      const m = pick([0, 1, 2, 3, 4]);
      main.push(BPF_LD_MAP_FD(1, m), funcRef(2, callback(1, ctx, { valueSize: CB_MAPS[m]!.value_size }, false)));
      main.push(...ctxArg(ctx), BPF_MOV64_IMM(4, chance(0.95) ? 0 : 1), BPF_EMIT_CALL(FOR_EACH));
    }
    main.push(BPF_ALU64_REG(BPF_XOR, 7, 0));
  }
  for (const off of [-32, -24, -16, -8]) main.push(BPF_LDX_MEM(BPF_DW, 1, 10, off), BPF_ALU64_REG(BPF_XOR, 7, 1));
  main.push(BPF_MOV64_REG(0, 7), BPF_EXIT_INSN());
  const fill: [number, number, number][] = [];
  for (let m = 0; m < CB_MAPS.length; m++) {
    if (chance(0.25)) continue;
    for (let k = 0; k < CB_MAPS[m]!.max_entries; k++) if (chance(0.6)) fill.push([m, k, Math.floor(rnd() * 1000)]);
  }
  return { type, insns: layout(main, subs, refs), fill };
}

/** r3 = fp-32 (the context), or NULL */
function ctxArg(ctx: boolean): Instruction[] {
  return ctx ? [BPF_MOV64_REG(3, 10), BPF_ALU64_IMM(BPF_ADD, 3, -32)] : [BPF_MOV64_IMM(3, 0)];
}

/** The main program, then each callback; each reference (ld_imm64 of a function) points at its callback. */
function layout(main: Instruction[], subs: Instruction[][], refs: Map<Instruction, number>): Instruction[] {
  const slots = (xs: readonly Instruction[]): number => xs.reduce((n, i) => n + (i.code === 0x18 ? 2 : 1), 0);
  const at: number[] = [];
  let pos = slots(main);
  for (const s of subs) {
    at.push(pos);
    pos += slots(s);
  }
  let slot = 0;
  return [...main, ...subs.flat()].map((insn) => {
    const here = slot;
    slot += insn.code === 0x18 ? 2 : 1;
    const sub = refs.get(insn);
    return sub === undefined ? insn : { ...insn, imm: at[sub]! - here - 1 };
  });
}

/** The frames of each case's runs (Ethernet frames: XDP sees them whole, a socket filter after the header). */
const CB_FRAMES: Uint8Array[] = [20, 60, 33].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 11 + i * 5) & 0xff));

/** Every map's bytes after the runs, in get_next_key order. */
function mapsOf(sys: BpfSystem, fds: readonly number[]): string {
  const mem = sys.runtime.mem;
  return fds.map((fd) => {
    const m = sys.mapOf(fd).impl;
    const key = mem.alloc(m.keySize);
    const next = mem.alloc(m.keySize);
    const out: string[] = [];
    try {
      let prev = 0;
      while (m.getNextKey(prev, next) === 0) {
        const v = m.lookup(next);
        const hex = (a: number, n: number): string => Buffer.from(mem.u8.subarray(a, a + n)).toString('hex');
        // a per-CPU map's lookup is the run's CPU's value: all of them, by the syscall
        const value = new Uint8Array(m.valueSize * sys.runtime.cpus + 8 * sys.runtime.cpus);
        let all = '';
        try {
          sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: mem.u8.slice(next, next + m.keySize), value });
          all = Buffer.from(value).toString('hex');
        } catch (e) {
          if (!(e instanceof BpfError)) throw e;
          all = e.code;
        }
        out.push(`${hex(next, m.keySize)}=${v === 0 ? '-' : hex(v, m.valueSize)}/${all}`);
        mem.u8.copyWithin(key, next, next + m.keySize);
        prev = key;
      }
    } finally {
      mem.release(key);
      mem.release(next);
    }
    return out.join(' ');
  }).join('\n');
}

type Side = { loaded: boolean; runs: string[]; maps: string };

/**
 * Load the case (verified, or unverified for the checked interpreter) over
 * maps of its own, made and filled afresh in `sys`, and run every frame.
 */
function side(sys: BpfSystem, c: CallbackCase, engine: 'interpreter' | 'jit' | 'jit-hardened' | 'checked' | 'batch'): Side {
  const fds = CB_MAPS.map((m) => sys.bpf('BPF_MAP_CREATE', { ...m }) as number);
  for (const [m, k, v] of c.fill) {
    const percpu = CB_MAPS[m]!.map_type === 5 || CB_MAPS[m]!.map_type === 6;
    const value = new Uint8Array(percpu ? 8 * 2 : CB_MAPS[m]!.value_size);
    new DataView(value.buffer).setBigUint64(0, BigInt(v), true);
    if (percpu) new DataView(value.buffer).setBigUint64(8, BigInt(v + 1), true);
    sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fds[m]!, key: Uint8Array.of(k, 0, 0, 0), value, flags: 0 });
  }
  const insns = encode(withMapFds(c.insns, fds));
  const runs: string[] = [];
  if (engine === 'batch') {
    // the JIT's runs of the frames in one call into WebAssembly (its batch over inputs)
    let p: Program;
    try {
      p = Program.load(sys, { type: c.type === 6 ? 'xdp' : 'socket_filter', insns: withMapFds(c.insns, fds), license: 'GPL' });
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      return { loaded: false, runs: [`load ${e.code}`], maps: '' };
    }
    try {
      const r = p.runFrames(CB_FRAMES, { engine: 'jit' });
      CB_FRAMES.forEach((_, i) => runs.push(`r0 ${r.verdicts[i]} ${Buffer.from(r.framesOut[i]!).toString('hex')}`));
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      runs.push(`${e.code}: ${e.message}`);
    }
    return { loaded: true, runs, maps: mapsOf(sys, fds) };
  }
  let fd: number;
  try {
    fd = engine === 'checked'
      ? sys.loadUnverified({ prog_type: c.type, insns, license: 'GPL' })
      : sys.bpf('BPF_PROG_LOAD', { prog_type: c.type, insns, license: 'GPL' }) as number;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { loaded: false, runs: [`load ${e.code}`], maps: '' };
  }
  for (const f of CB_FRAMES) {
    try {
      const r = testRun(sys, fd, f, 1, engine === 'checked' ? undefined : engine);
      runs.push(`r0 ${BigInt.asUintN(32, r.retval)} ${Buffer.from(r.dataOut).toString('hex')}`);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      runs.push(`${e.code}: ${e.message}`);
    }
  }
  return { loaded: true, runs, maps: mapsOf(sys, fds) };
}

/** What a case gave: whether the verifier accepted it, and the differences found. */
export interface CallbackResult {
  accepted: boolean;
  problems: string[];
}

/** Run a case on every engine (see the top of this file); the differences from the interpreter. */
export function runCallbackCase(c: CallbackCase, listing: () => string): CallbackResult {
  // one system (its address space is what costs), each engine's program over maps of its own
  const sys = new BpfSystem({ profile: 'modern', cpus: 2 });
  const ref = side(sys, c, 'interpreter');
  if (!ref.loaded) return { accepted: false, problems: [] };
  const problems: string[] = [];
  for (const engine of ['jit', 'jit-hardened', 'checked'] as const) {
    const s = side(sys, c, engine);
    if (JSON.stringify(s.runs) !== JSON.stringify(ref.runs)) problems.push(`callbacks: the ${engine}'s runs differ from the interpreter's\n${ref.runs.join('\n')}\n---\n${s.runs.join('\n')}\n${listing()}`);
    else if (s.maps !== ref.maps) problems.push(`callbacks: the maps after the ${engine}'s runs differ from the interpreter's\n${ref.maps}\n---\n${s.maps}\n${listing()}`);
  }
  // the JIT's batch: each frame's verdict and bytes as the interpreter's run of it (the batch stops at an error)
  const b = side(sys, c, 'batch');
  const want = ref.runs.some((r) => !r.startsWith('r0 ')) ? undefined : ref.runs;
  if (want !== undefined && JSON.stringify(b.runs) !== JSON.stringify(want)) problems.push(`callbacks: the JIT's batch differs from the interpreter's runs\n${want.join('\n')}\n---\n${b.runs.join('\n')}\n${listing()}`);
  else if (want !== undefined && b.maps !== ref.maps) problems.push(`callbacks: the maps after the JIT's batch differ from the interpreter's\n${ref.maps}\n---\n${b.maps}\n${listing()}`);
  return { accepted: true, problems };
}
