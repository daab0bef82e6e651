/**
 * The verifier's soundness fuzzer, and the engines' differential oracle.
 *
 * It generates random socket filters from a grammar aimed at what the
 * verifier must get right: stack stores and loads at random offsets (some
 * out of the frame, some uninitialised), pointers spilled and filled,
 * pointer arithmetic, map lookups with and without the NULL check, value
 * accesses in and out of bounds, helper calls with good and bad arguments,
 * context reads, LD_ABS/LD_IND, and forward branches over all of it.
 *
 * Every program the verifier accepts (the corpus) then runs over a set of
 * packets on:
 *   - the checked interpreter: a fault there means the verifier accepted an
 *     unsafe program, a soundness bug;
 *   - the fast interpreter, the JIT one run at a time, and the JIT batched:
 *     each must give the same verdicts, the same stack after each run, the
 *     same map contents afterwards, and the same faults.
 *
 * `node dist/test/fuzz/soundness.js [--seconds N] [--seed S]` runs it for a
 * while and prints the first disagreement; test/soundness.test.ts runs a
 * fixed corpus.
 */

import { fileURLToPath } from 'node:url';
import { BpfSystem } from '../../src/api/bpf.js';
import { PacketRunner } from '../../src/api/packets.js';
import { BpfError } from '../../src/errors.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { encode } from '../../src/isa/instruction.js';
import { disasm } from '../../src/isa/disasm.js';
import {
  BPF_ADD, BPF_AND, BPF_B, BPF_DW, BPF_H, BPF_JEQ, BPF_JGT, BPF_JNE, BPF_JSET, BPF_JSGT, BPF_LSH, BPF_MOV, BPF_MUL, BPF_OR,
  BPF_RSH, BPF_SUB, BPF_W, BPF_XOR,
} from '../../src/isa/opcodes.js';
import {
  BPF_ALU32_IMM, BPF_ALU64_IMM, BPF_ALU64_REG, BPF_EMIT_CALL, BPF_EXIT_INSN, BPF_JMP_IMM, BPF_JMP_REG, BPF_LD_ABS, BPF_LD_IND,
  BPF_LD_MAP_FD, BPF_LDX_MEM, BPF_MOV64_IMM, BPF_MOV64_REG, BPF_ST_MEM, BPF_STX_MEM, BPF_STX_XADD,
} from '../../src/isa/builders.js';
import { STACK_FRAME_SIZE, STACK_TOP } from '../../src/runtime/memory.js';
import { withMapFds } from '../../src/bench/workloads.js';
import { prng } from '../random-programs.js';

/** The maps every fuzzed program may use: map[fd:0] a hash map, map[fd:1] an array. */
export const FUZZ_MAPS = [
  { map_type: 1, key_size: 4, value_size: 16, max_entries: 8 },
  { map_type: 2, key_size: 4, value_size: 16, max_entries: 4 },
];

/** A random program; `map[fd:N]` operands carry the map's index N, replaced at load. */
export function randomProgram(rnd: () => number): Instruction[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const reg = (): number => pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const scalarReg = (): number => pick([7, 8, 9]);
  const size = (): number => pick([BPF_DW, BPF_W, BPF_H, BPF_B]);
  const bytes = (sz: number): number => (sz === BPF_DW ? 8 : sz === BPF_W ? 4 : sz === BPF_H ? 2 : 1);
  /** a stack offset: mostly aligned inside the frame, sometimes not */
  const stackOff = (sz: number): number => {
    if (chance(0.9)) return -bytes(sz) * (1 + Math.floor(rnd() * Math.min(16, 64 / bytes(sz))));
    return pick([0, 8, -STACK_FRAME_SIZE - 8, -STACK_FRAME_SIZE, -3, -STACK_FRAME_SIZE + 4]);
  };
  const body: Instruction[][] = [];
  const blocks = 3 + Math.floor(rnd() * 9);
  for (let b = 0; b < blocks; b++) {
    const k = rnd();
    const blk: Instruction[] = [];
    if (k < 0.15) {
      // scalar ALU
      const d = chance(0.9) ? scalarReg() : reg();
      blk.push(BPF_MOV64_IMM(d, Math.floor(rnd() * 200) - 50));
      for (let i = Math.floor(rnd() * 3); i > 0; i--) {
        const op = pick([BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_XOR, BPF_LSH, BPF_RSH]);
        if (chance(0.5)) blk.push(BPF_ALU64_IMM(op, d, op === BPF_LSH || op === BPF_RSH ? Math.floor(rnd() * 64) : Math.floor(rnd() * 1000)));
        else if (chance(0.7)) blk.push(BPF_ALU64_REG(op, d, scalarReg()));
        else blk.push(BPF_ALU32_IMM(op, d, Math.floor(rnd() * 1000)));
      }
    } else if (k < 0.3) {
      // a stack store, then maybe a load back
      const sz = size();
      const off = stackOff(sz);
      if (chance(0.5)) blk.push(BPF_ST_MEM(sz, 10, off, Math.floor(rnd() * 256)));
      else blk.push(BPF_STX_MEM(sz, 10, chance(0.8) ? scalarReg() : reg(), off));
      if (chance(0.6)) blk.push(BPF_LDX_MEM(chance(0.8) ? sz : size(), scalarReg(), 10, chance(0.8) ? off : stackOff(sz)));
    } else if (k < 0.5) {
      // a map lookup: the key on the stack, then a NULL check (usually) and value accesses
      const m = chance(0.6) ? 0 : 1;
      blk.push(BPF_ST_MEM(BPF_W, 10, -4, Math.floor(rnd() * (m === 0 ? 12 : 6))));
      blk.push(BPF_LD_MAP_FD(1, m));
      blk.push(BPF_MOV64_REG(2, 10));
      blk.push(BPF_ALU64_IMM(BPF_ADD, 2, chance(0.95) ? -4 : pick([-2, 4, -600])));
      blk.push(BPF_EMIT_CALL(1));
      const accesses: Instruction[] = [];
      const vOff = (sz: number): number => (chance(0.9) ? bytes(sz) * Math.floor(rnd() * (16 / bytes(sz))) : pick([16, -8, 12, 15]));
      for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) {
        const a = rnd();
        const sz = size();
        if (a < 0.35) accesses.push(BPF_LDX_MEM(sz, scalarReg(), 0, vOff(sz)));
        else if (a < 0.6) accesses.push(BPF_STX_MEM(sz, 0, scalarReg(), vOff(sz)));
        else if (a < 0.75) accesses.push(BPF_STX_XADD(pick([BPF_DW, BPF_W]), 0, scalarReg(), chance(0.9) ? 8 : 12));
        else if (a < 0.9) {
          // spill the value pointer and use the fill
          accesses.push(BPF_STX_MEM(BPF_DW, 10, 0, -16), BPF_LDX_MEM(BPF_DW, 5, 10, chance(0.9) ? -16 : -12), BPF_LDX_MEM(BPF_DW, scalarReg(), 5, 0));
        } else {
          // pointer arithmetic on the value pointer
          accesses.push(BPF_MOV64_REG(4, 0), BPF_ALU64_IMM(BPF_ADD, 4, pick([0, 8, 4, 16, -8])), BPF_LDX_MEM(BPF_W, scalarReg(), 4, 0));
        }
      }
      if (chance(0.9)) blk.push(BPF_JMP_IMM(chance(0.5) ? BPF_JEQ : BPF_JNE, 0, 0, 0)); // patched below
      const check = blk.length - 1;
      blk.push(...accesses);
      const ji = blk[check]!;
      if (ji.code === (0x05 | BPF_JEQ)) blk[check] = { ...ji, off: accesses.length };
      else if (ji.code === (0x05 | BPF_JNE)) {
        // `if r0 != 0` jumps into the accesses: the fall-through path has r0 == NULL
        blk[check] = { ...ji, off: 1 };
        blk.splice(check + 1, 0, BPF_JMP_IMM(BPF_JEQ, 0, 0, accesses.length));
      }
    } else if (k < 0.6) {
      // an update from stack key and value
      const m = chance(0.7) ? 0 : 1;
      blk.push(BPF_ST_MEM(BPF_W, 10, -4, Math.floor(rnd() * 12)));
      blk.push(BPF_STX_MEM(BPF_DW, 10, scalarReg(), -24), BPF_ST_MEM(BPF_DW, 10, -16, Math.floor(rnd() * 100)));
      blk.push(BPF_LD_MAP_FD(1, m), BPF_MOV64_REG(2, 10), BPF_ALU64_IMM(BPF_ADD, 2, -4), BPF_MOV64_REG(3, 10));
      blk.push(BPF_ALU64_IMM(BPF_ADD, 3, chance(0.9) ? -24 : -8), BPF_MOV64_IMM(4, pick([0, 0, 1, 2, 3])), BPF_EMIT_CALL(2));
      if (chance(0.5)) blk.push(BPF_MOV64_REG(scalarReg(), 0));
    } else if (k < 0.72) {
      // packet loads (r6 holds the context)
      if (chance(0.5)) blk.push(BPF_LD_ABS(pick([BPF_B, BPF_H, BPF_W]), Math.floor(rnd() * 70)));
      else blk.push(BPF_LD_IND(pick([BPF_B, BPF_H, BPF_W]), scalarReg(), Math.floor(rnd() * 40)));
      blk.push(BPF_MOV64_REG(scalarReg(), 0));
    } else if (k < 0.8) {
      // a context read: len at 0, anything else is refused
      blk.push(BPF_LDX_MEM(chance(0.8) ? BPF_W : size(), scalarReg(), 6, chance(0.85) ? 0 : pick([4, 2, -4, 8])));
    } else if (k < 0.9) {
      // stack pointer arithmetic and an access through it
      const r = pick([3, 4, 5]);
      blk.push(BPF_MOV64_REG(r, 10), BPF_ALU64_IMM(BPF_ADD, r, -8 * (1 + Math.floor(rnd() * 8))));
      if (chance(0.5)) blk.push(BPF_STX_MEM(BPF_DW, r, scalarReg(), chance(0.9) ? 0 : 8));
      else blk.push(BPF_LDX_MEM(BPF_DW, scalarReg(), r, 0));
    } else {
      // a random register move: may leave pointers where scalars are expected
      blk.push(chance(0.5) ? BPF_MOV64_REG(scalarReg(), reg()) : BPF_MOV64_REG(reg(), scalarReg()));
    }
    body.push(blk);
  }
  // forward branches over whole blocks
  const out: Instruction[] = [BPF_MOV64_REG(6, 1), BPF_MOV64_IMM(7, 1), BPF_MOV64_IMM(8, 2), BPF_MOV64_IMM(9, 3)];
  for (let b = 0; b < body.length; b++) {
    if (chance(0.25) && b + 1 < body.length) {
      const skip = body.slice(b, b + 1 + Math.floor(rnd() * 2)).reduce((n, blk) => n + blk.reduce((m, i) => m + (i.code === 0x18 ? 2 : 1), 0), 0);
      out.push(chance(0.5) ? BPF_JMP_IMM(pick([BPF_JEQ, BPF_JGT, BPF_JSET, BPF_JSGT]), scalarReg(), Math.floor(rnd() * 5), skip) : BPF_JMP_REG(BPF_JGT, scalarReg(), scalarReg(), skip));
    }
    out.push(...body[b]!);
  }
  out.push(chance(0.97) ? BPF_MOV64_REG(0, scalarReg()) : BPF_MOV64_IMM(1, 0), BPF_EXIT_INSN());
  return out;
}

export const FUZZ_PACKETS: Uint8Array[] = (() => {
  const rnd = prng(77);
  return Array.from({ length: 6 }, (_, i) => Uint8Array.from({ length: [0, 1, 14, 40, 60, 90][i]! }, () => Math.floor(rnd() * 256)));
})();

type Engine = 'checked' | 'interpreter' | 'jit' | 'batch';

interface Trace {
  verdicts: string[];
  /** the stack after each run (not for batches, which run in one call) */
  stacks: string[];
  maps: string[];
}

function dumpMaps(sys: BpfSystem, fds: readonly number[]): string[] {
  const mem = sys.runtime.mem;
  const key = mem.alloc(8);
  const next = mem.alloc(8);
  try {
    return fds.map((fd) => {
      const m = sys.mapOf(fd).impl;
      const entries: string[] = [];
      let prev = 0;
      while (entries.length <= m.maxEntries && m.getNextKey(prev, next) === 0) {
        const v = m.lookup(next);
        entries.push(`${mem.view.getUint32(next, true)}=${Buffer.from(mem.u8.subarray(v, v + m.valueSize)).toString('hex')}`);
        mem.u8.copyWithin(key, next, next + 4);
        prev = key;
      }
      return entries.sort().join(',');
    });
  } finally {
    mem.release(key);
    mem.release(next);
  }
}

/** Run on `engine` in a fresh system; `shift` moves every address (maps, context, packet) by that many bytes. */
function trace(insns: readonly Instruction[], engine: Engine, shift = 0): Trace {
  const sys = new BpfSystem();
  if (shift) sys.runtime.mem.alloc(shift);
  const fds = FUZZ_MAPS.map((m) => sys.bpf('BPF_MAP_CREATE', m));
  const attr = { prog_type: 1, insns: encode(withMapFds(insns, fds)), license: 'GPL' };
  const fd = engine === 'checked' ? sys.loadUnverified(attr) : sys.bpf('BPF_PROG_LOAD', attr);
  const runner = new PacketRunner(sys, fd, engine === 'checked' ? 'interpreter' : engine === 'batch' ? 'jit' : engine);
  const t: Trace = { verdicts: [], stacks: [], maps: [] };
  const outcome = (f: () => number): string => {
    try {
      return String(f());
    } catch (e) {
      if (e instanceof BpfError) return `${e.code}: ${e.message}`;
      throw e;
    }
  };
  // each packet twice, so map state carries between runs
  const packets = [...FUZZ_PACKETS, ...FUZZ_PACKETS];
  if (engine === 'batch') {
    t.verdicts = [outcome(() => runner.runBatch(packets.map((data) => ({ data, netOff: 14 }))).reduce((a, v, i) => a + v * (i + 1), 0))];
  } else {
    for (const p of packets) {
      t.verdicts.push(outcome(() => runner.run(p, 14)));
      t.stacks.push(Buffer.from(sys.runtime.mem.u8.subarray(STACK_TOP - STACK_FRAME_SIZE, STACK_TOP)).toString('hex'));
    }
  }
  t.maps = dumpMaps(sys, fds);
  return t;
}

export interface FuzzResult {
  generated: number;
  accepted: number;
  /** accepted programs whose results depend on addresses (3.19 lets pointers leak): checked for soundness only */
  addressDependent: number;
  /** what went wrong, with the program */
  problems: string[];
}

/** Generate `count` programs from `seed`; verify; run the accepted ones on every engine. */
export function fuzz(seed: number, count: number, stopAtMs = Infinity): FuzzResult {
  const rnd = prng(seed);
  const result: FuzzResult = { generated: 0, accepted: 0, addressDependent: 0, problems: [] };
  for (let n = 0; n < count && Date.now() < stopAtMs; n++) {
    const insns = randomProgram(rnd);
    result.generated++;
    const probe = new BpfSystem();
    const fds = FUZZ_MAPS.map((m) => probe.bpf('BPF_MAP_CREATE', m));
    try {
      probe.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(withMapFds(insns, fds)), license: 'GPL' });
    } catch (e) {
      if (e instanceof BpfError && (e.code === 'EACCES' || e.code === 'EINVAL')) continue; // rejected
      throw e;
    }
    result.accepted++;
    const r = examine(insns);
    if (r.addressDependent) result.addressDependent++;
    result.problems.push(...r.problems);
  }
  return result;
}

/**
 * Run a program the verifier accepted on every engine: a fault in the
 * checked interpreter is a soundness bug; any difference between the
 * engines (where results do not depend on addresses) is an engine bug.
 */
export function examine(insns: readonly Instruction[]): { problems: string[]; addressDependent: boolean } {
  const problems: string[] = [];
  let addressDependent = false;
  const listing = (): string => disasm(insns);
  const checked = trace(insns, 'checked');
  const fault = checked.verdicts.find((v) => v.startsWith('EFAULT'));
  if (fault) {
    problems.push(`unsound: the verifier accepted a program that faults in the checked interpreter (${fault})\n${listing()}`);
    return { problems, addressDependent };
  }
  // 3.19 lets a program return, spill and store pointers: what depends on
  // where things are (found by running again with every address moved)
  // cannot match across engines that place things differently (a JIT's
  // scratch, a batch's packets), and is left out of the comparison.
  const moved = trace(insns, 'checked', 4096);
  const fields = (['verdicts', 'stacks', 'maps'] as const).filter((f) => moved[f].join('|') === checked[f].join('|'));
  if (fields.length < 3) addressDependent = true;
  // faults compare by errno: each engine words its messages its own way
  const same = (x: string[], y: string[]): boolean => x.map((v) => v.split(':')[0]).join('|') === y.map((v) => v.split(':')[0]).join('|');
  for (const engine of ['interpreter', 'jit'] as const) {
    const t = trace(insns, engine);
    for (const field of fields) {
      if (!same(t[field], checked[field])) {
        problems.push(`${engine} differs from the checked interpreter in ${field}\n${listing()}`);
      }
    }
  }
  if (!fields.includes('verdicts') || !fields.includes('maps')) return { problems, addressDependent };
  const batch = trace(insns, 'batch');
  const expected = checked.verdicts.every((v) => /^\d+$/.test(v))
    ? String(checked.verdicts.reduce((a, v, i) => a + Number(v) * (i + 1), 0))
    : undefined;
  if (expected !== undefined && (batch.verdicts[0] !== expected || batch.maps.join('|') !== checked.maps.join('|'))) {
    problems.push(`the batched JIT differs from one-by-one runs\n${listing()}`);
  }
  return { problems, addressDependent };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const seconds = arg('--seconds', 30);
  const seed = arg('--seed', Date.now() % 0xffffffff);
  const r = fuzz(seed, Infinity, Date.now() + seconds * 1000);
  process.stdout.write(`seed ${seed}: ${r.generated} programs, ${r.accepted} accepted (${r.addressDependent} address-dependent), ${r.problems.length} problems\n`);
  for (const p of r.problems.slice(0, 5)) process.stdout.write(`\n${p}\n`);
  process.exitCode = r.problems.length === 0 ? 0 : 1;
}
