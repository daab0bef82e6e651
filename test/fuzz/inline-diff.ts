/**
 * The JIT's inline helpers against the helpers themselves: a part of the
 * modern runtime fuzzer (modern-runtime.ts runs a case of this file with
 * each of its own). Random programs of the modern types call the helpers
 * the JIT runs in WebAssembly (bpf_map_lookup_elem, bpf_map_update_elem on
 * array, hash and per-CPU maps, bpf_skb_load_bytes, bpf_skb_store_bytes)
 * with arguments at every boundary their fast paths test: flags, key
 * indexes, lengths and offsets around the frame's size, pointers inside the
 * stack, past it, near the end of memory and above 2^32, r1 other than the
 * context or the map, and a run without its frame.
 *
 * The oracle is exact: the same program in three systems built alike, one
 * JitProgram compiled with `inline: false` (every helper in JavaScript)
 * running each frame by exec, one with the inline helpers running each
 * frame by exec, one with the inline helpers running all the frames twice
 * in one execBatch over their inputs. Each run's outcome (r0's low word or
 * the error's code and message), the frames after the runs, the stack and
 * every map's bytes must be equal; the batch stops at the first run whose
 * outcome is an error, with that error.
 */

import { BpfSystem } from '../../src/api/bpf.js';
import { BpfError } from '../../src/errors.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { encode } from '../../src/isa/instruction.js';
import { disasm } from '../../src/isa/disasm.js';
import { BPF_ADD, BPF_DW, BPF_W, BPF_XOR } from '../../src/isa/opcodes.js';
import {
  BPF_ALU64_IMM, BPF_ALU64_REG, BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_LDX_MEM, BPF_LD_IMM64, BPF_LD_MAP_FD, BPF_MOV64_IMM,
  BPF_MOV64_REG, BPF_ST_MEM,
} from '../../src/isa/builders.js';
import { JitProgram } from '../../src/jit/program.js';
import { batchVerdicts, inputBatchBytes, writeInputDescriptors } from '../../src/jit/batch.js';
import { STACK_TOP } from '../../src/memory/address-space.js';
import type { PreparedRun } from '../../src/progs/program-type.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { withMapFds } from '../../src/bench/workloads.js';

/** The maps of a case, by index: arrays of several value sizes, a hash, a per-CPU array. */
const INLINE_MAPS = [ // (a per-CPU map's syscall value is 8 bytes per CPU: 16 for the two CPUs)
  { map_type: 2, key_size: 4, value_size: 4, max_entries: 4 },
  { map_type: 2, key_size: 4, value_size: 12, max_entries: 3 },
  { map_type: 2, key_size: 4, value_size: 1, max_entries: 2 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 5 },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 4 },
  { map_type: 6, key_size: 4, value_size: 8, max_entries: 2 },
  { map_type: 5, key_size: 4, value_size: 8, max_entries: 4 },
];

/** xdp, sched_cls, the modern socket filter */
const TYPES = [6, 3, 1] as const;

export interface InlineCase {
  type: number;
  insns: Instruction[];
  /** the runtime's CPU during the runs (of 2; 5 is outside them: the maps use CPU 0) */
  cpu: number;
}

/** A random case: r6 the context, r7 the xor of every helper's r0, r0 at exit r7 xor the stack's words. */
export function randomInlineCase(rnd: () => number): InlineCase {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const type = pick(TYPES);
  const out: Instruction[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 0)];
  for (let off = -64; off < 0; off += 8) out.push(BPF_ST_MEM(BPF_DW, 10, off, Math.floor(rnd() * 0x7fffffff)));
  /** r = a pointer for a helper: the stack mostly, else somewhere hostile */
  const pointer = (r: number): Instruction[] => {
    if (chance(0.8)) return [BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, pick([-64, -56, -40, -24, -16, -8, -4, -1]))];
    return [BPF_LD_IMM64(r, pick([0, 8, STACK_TOP, STACK_TOP + 8, (4 << 20) - 4, (4 << 20) - 1, 4 << 20, 0xfffffff0, 0x100000000, -8]))];
  };
  const scalar = (r: number, xs: readonly number[]): Instruction => {
    const v = pick(xs);
    return Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff ? BPF_MOV64_IMM(r, v) : BPF_LD_IMM64(r, v);
  };
  const blocks = 1 + Math.floor(rnd() * 6);
  for (let n = 0; n < blocks; n++) {
    const k = rnd();
    if (k < 0.45) {
      // a map lookup or update: the key's word at the key pointer, when it is the stack
      const m = chance(0.9) ? Math.floor(rnd() * INLINE_MAPS.length) : -1;
      out.push(BPF_ST_MEM(BPF_W, 10, -16, pick([0, 1, 2, 3, 4, 5, 0xffffffff])));
      if (m >= 0) out.push(BPF_LD_MAP_FD(1, m));
      else out.push(BPF_LD_IMM64(1, pick([0, 0x1000, 0x100000000])));
      if (chance(0.8)) out.push(BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -16));
      else out.push(...pointer(2));
      if (chance(0.5)) {
        out.push(BPF_EMIT_CALL(1));
        // a value found: read it and write it (a lookup's pointer is the value)
        out.push(BPF_MOV64_REG(8, 0), BPF_ALU64_REG(BPF_XOR, 7, 0));
      } else {
        out.push(...pointer(3), scalar(4, [0, 0, 2, 2, 1, 3, 4, -1, 0x100000000, 0x100000002]), BPF_EMIT_CALL(2), BPF_ALU64_REG(BPF_XOR, 7, 0));
      }
    } else {
      // bpf_skb_load_bytes or bpf_skb_store_bytes, through r1 = the context (mostly)
      const store = chance(0.4);
      out.push(chance(0.9) ? BPF_MOV64_REG(1, 6) : pick([BPF_MOV64_REG(1, 10), BPF_LD_IMM64(1, 0)]));
      if (chance(0.1)) out.push(BPF_ALU64_IMM(BPF_ADD, 1, 4));
      out.push(scalar(2, [0, 1, 6, 12, 13, 40, 56, 59, 60, 86, 89, 90, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x100000002, -1]));
      out.push(...pointer(3));
      out.push(scalar(4, [1, 2, 4, 8, 14, 30, 60, 0, -1, 0x7fffffff, 0x80000000, 0x100000004]));
      if (store) out.push(scalar(5, [0, 0, 1, 2, 3, 4, 0x100000000]));
      out.push(BPF_EMIT_CALL(store ? 9 : 26), BPF_ALU64_REG(BPF_XOR, 7, 0));
    }
  }
  out.push(BPF_MOV64_REG(0, 7));
  for (let off = -64; off < 0; off += 8) out.push(BPF_LDX_MEM(BPF_DW, 1, 10, off), BPF_ALU64_REG(BPF_XOR, 0, 1));
  out.push(BPF_EXIT_INSN());
  return { type, insns: out, cpu: pick([0, 1, 1, 5]) };
}

/** The frames every case runs over: short, exact-length boundaries of the offsets above, and an IPv4 one. */
export const INLINE_FRAMES: Uint8Array[] = [60, 14, 90, 200].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 7 + i * 13 + (j === 12 ? 0x08 : 0)) & 0xff));

interface Side {
  outcomes: string[];
  frames: string[];
  state: string;
}

/** A system with the case's maps (with an element or two) and its program loaded unverified; its slots and maps. */
function build(c: InlineCase): { sys: BpfSystem; prog: ReturnType<BpfSystem['progOf']>['prog']; fds: number[] } {
  const sys = new BpfSystem(new Runtime({ maxBytes: 4 << 20, profile: 'modern', cpus: 2 }));
  const fds = INLINE_MAPS.map((attr) => sys.bpf('BPF_MAP_CREATE', attr));
  const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
  sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fds[4]!, key: u32(1), value: new Uint8Array(8).fill(1), flags: 0 });
  for (const k of [0, 1]) sys.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fds[6]!, key: u32(k), value: new Uint8Array(16).fill(k + 7), flags: 0 });
  const fd = sys.loadUnverified({ prog_type: c.type, insns: encode(withMapFds(c.insns, fds)), license: 'GPL' });
  // the runs' CPU (the syscalls above and stateOf's run on CPU 0's side: they carry every CPU's value)
  sys.runtime.cpu = c.cpu;
  return { sys, prog: sys.progOf(fd).prog, fds };
}

/** Every map's bytes (each key 0..max_entries-1 looked up through the syscall), the stack. */
function stateOf(sys: BpfSystem, fds: readonly number[]): string {
  const parts = fds.map((fd, i) => {
    const a = INLINE_MAPS[i]!;
    const vals: string[] = [];
    for (let k = 0; k < a.max_entries + 1; k++) {
      const value = new Uint8Array(a.map_type === 5 || a.map_type === 6 ? 8 * sys.runtime.cpus : a.value_size);
      try {
        sys.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(new Uint32Array([k]).buffer), value });
        vals.push(Buffer.from(value).toString('hex'));
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
        vals.push(e.code);
      }
    }
    return vals.join(',');
  });
  parts.push(Buffer.from(sys.runtime.mem.u8.subarray(STACK_TOP - 512, STACK_TOP + 16)).toString('hex'));
  return parts.join('\n');
}

function outcome(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (e instanceof BpfError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/** One side: the JIT (inline or not) over the frames, run by run (exec) or in one batch of two passes. */
function side(c: InlineCase, inline: boolean, batch: boolean): Side {
  const { sys, prog, fds } = build(c);
  const { type, slots } = prog;
  const maps = prog.maps.map((m) => m.impl);
  const mem = sys.runtime.mem;
  const jit = new JitProgram(mem, slots, { helpers: sys.runtime.helpers, maps, inline, ...(type.frameFields ? { frame: type.frameFields } : {}) });
  const prepared: PreparedRun[] = [];
  const outcomes: string[] = [];
  try {
    for (const f of INLINE_FRAMES) prepared.push(type.prepare(mem, f));
    // the last input has no frame: every frame helper must go to JavaScript (and fail there)
    const inputs = [...prepared.map((p) => p.input), { r1: prepared[0]!.input.r1 }];
    const all = [...inputs, ...inputs];
    if (!batch) {
      for (const input of all) {
        outcomes.push(outcome(() => {
          for (const m of maps) m.enterRun();
          try {
            jit.exec(input);
          } finally {
            for (const m of maps) m.exitRun();
          }
          return jit.retLo >>> 0;
        }));
      }
    } else {
      const desc = mem.alloc(inputBatchBytes(all.length));
      try {
        writeInputDescriptors(mem.view, desc, all);
        let error: string | undefined;
        for (const m of maps) m.enterRun();
        try {
          jit.execBatch(desc, all.length, all);
        } catch (e) {
          if (!(e instanceof BpfError)) throw e;
          error = `${e.code}: ${e.message}`;
        } finally {
          for (const m of maps) m.exitRun();
        }
        const v = batchVerdicts(mem, desc, all.length);
        // the runs before the one that failed, then its error (the batch stops there)
        for (let i = 0; i < all.length; i++) outcomes.push(String(v[i]!));
        if (error !== undefined) outcomes.push(error);
      } finally {
        mem.release(desc);
      }
    }
    return { outcomes, frames: prepared.map((p) => Buffer.from(p.snapshot()).toString('hex')), state: stateOf(sys, fds) };
  } finally {
    for (const p of prepared) p.release();
    jit.free();
  }
}

/** Run a case on the three sides; the differences found (empty: none). */
export function runInlineCase(c: InlineCase): string[] {
  const listing = (): string => `type ${c.type}, cpu ${c.cpu}\n${disasm(c.insns)}`;
  const ref = side(c, false, false);
  const inl = side(c, true, false);
  const bat = side(c, true, true);
  const problems: string[] = [];
  const firstError = ref.outcomes.findIndex((o) => o.startsWith('E'));
  if (ref.outcomes.join('|') !== inl.outcomes.join('|')) problems.push(`inline: run outcomes ${inl.outcomes.join(' | ')}, the helpers' ${ref.outcomes.join(' | ')}\n${listing()}`);
  if (ref.frames.join() !== inl.frames.join()) problems.push(`inline: the frames after the runs differ from the helpers'\n${listing()}`);
  if (ref.state !== inl.state) problems.push(`inline: the maps or the stack after the runs differ from the helpers'\n${inl.state}\nhelpers:\n${ref.state}\n${listing()}`);
  // the batch: the same verdicts up to the first error, then that error; the same state when no run failed
  const expect = firstError < 0 ? ref.outcomes : [...ref.outcomes.slice(0, firstError), ref.outcomes[firstError]!];
  const got = firstError < 0 ? bat.outcomes : [...bat.outcomes.slice(0, firstError), bat.outcomes.at(-1)!];
  if (expect.join('|') !== got.join('|')) problems.push(`batch: outcomes ${got.join(' | ')}, run by run ${expect.join(' | ')}\n${listing()}`);
  if (firstError < 0 && (ref.frames.join() !== bat.frames.join() || ref.state !== bat.state)) problems.push(`batch: the frames, maps or stack after the batch differ from run by run\n${listing()}`);
  return problems;
}
