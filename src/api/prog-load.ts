/**
 * BPF_PROG_LOAD, in 3.19's order (runtime.md section c): CHECK_ATTR, the
 * license, insn_cnt, the instructions, the program type, then bpf_check:
 * program length, the log attributes, and ld_imm64 map fds resolved to map
 * addresses with the kernel's messages in the log.
 *
 * A program the verifier accepts runs in the interpreter's fast mode; the
 * runtime's memory bounds still confine any verifier bug.
 */

import { BpfError, VerifierError } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import type { Instruction, Slot } from '../isa/instruction.js';
import { decodeSlots, isLdImm64, isLdImm64Pair, isMapLoad, isMapValueLoad, toSlots } from '../isa/instruction.js';
import { BPF_CALL, BPF_JMP, BPF_MAXINSNS, LD_IMM64 } from '../isa/opcodes.js';
import { CALLBACK_TAG, UNVISITED_TRAP } from '../runtime/helpers.js';

/** ld_imm64's src for a subprogram's address */
const BPF_PSEUDO_FUNC = 4;
import { progTypeById, verifierRules } from '../progs/types.js';
import { PROFILE_3_19 } from '../progs/profile.js';
import { rewriteCtxAccesses } from '../progs/ctx-rewrite.js';
import type { Runtime } from '../runtime/runtime.js';
import type { HelperProto } from '../runtime/helpers.js';
import type { ProgramType } from '../progs/program-type.js';
import type { Profile } from '../progs/profile.js';
import type { Engine } from '../runtime/engine.js';
import type { Region } from '../memory/address-space.js';
import { Interpreter } from '../vm/interpreter.js';
import { checkSourceLines, verify, VerifierLog } from '../verifier/index.js';
import type { SourceLine } from '../verifier/index.js';
import { verifyModern } from '../verifier/modern/index.js';
import type { FuncInfoEntry, GlobalArg, ModernEnv } from '../verifier/modern/index.js';
import { JitProgram, JitReservation } from '../jit/program.js';
import { JitTier } from '../jit/tier.js';
import type { LoadedProgram, MapObject } from './objects.js';
import { describe } from './describe.js';
import { BPF_F } from '../maps/map.js';

export interface ProgLoadAttr {
  prog_type: number;
  insn_cnt?: number;
  /** raw 8-byte slots, or logical instructions (an ld_imm64 is one) */
  insns: Uint8Array | readonly Instruction[];
  license?: string | Uint8Array;
  log_level?: number;
  log_size?: number;
  log_buf?: Uint8Array | null;
  /**
   * tsbpf only, for its mem program type (progs/mem.ts): the length of the
   * buffer r1 points to, which the verifier bounds context accesses by
   */
  mem_size?: number;
  /**
   * tsbpf's form of func_info with the program's BTF (the kernel's
   * prog_btf_fd, func_info, func_info_cnt), already resolved: one entry per
   * subprogram, its first instruction, name, linkage and, for a global
   * function, its arguments' kinds (verifier/modern/func-info.ts,
   * `globalFuncArgs` makes them from BTF). The modern profile then verifies
   * each global function on its own, as the kernel does; 3.19 has no
   * bpf-to-bpf calls and refuses it.
   */
  func_info?: readonly FuncInfoEntry[];
  /**
   * tsbpf's form of the kernel's line_info (with prog_btf_fd): the program's
   * line records with their file name and text, first at insn 0, ascending.
   * The modern verifier's log shows the source line above the instructions
   * (as 6.18 does); so does 3.19's, which never had them, when given them.
   */
  line_info?: readonly SourceLine[];
}

/** func_info as given: an array of entries of the right shape (EINVAL naming the first field that is not). */
function funcInfo(v: unknown): FuncInfoEntry[] | undefined {
  if (v === undefined || v === null) return undefined;
  const bad = (what: string, got: unknown): never => {
    throw new BpfError('EINVAL', `func_info${what}, got ${describe(got)}`);
  };
  if (!Array.isArray(v)) bad(' must be an array of { insn, name, linkage, args?, returnsScalar? }', v);
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  return (v as unknown[]).map((e, i): FuncInfoEntry => {
    if (!isObj(e)) return bad(`[${i}] must be { insn, name, linkage, args?, returnsScalar? }`, e);
    const insn = e['insn'];
    if (typeof insn !== 'number' || !Number.isInteger(insn) || insn < 0 || insn > 0xffffffff) bad(`[${i}].insn must be an unsigned 32-bit integer`, insn);
    if (typeof e['name'] !== 'string') bad(`[${i}].name must be a string`, e['name']);
    const linkage = e['linkage'];
    if (linkage !== 'static' && linkage !== 'global') bad(`[${i}].linkage must be 'static' or 'global'`, linkage);
    const rs = e['returnsScalar'];
    if (rs !== undefined && typeof rs !== 'boolean') bad(`[${i}].returnsScalar must be a boolean`, rs);
    const rawArgs = e['args'];
    if (rawArgs !== undefined && !Array.isArray(rawArgs)) bad(`[${i}].args must be an array`, rawArgs);
    const args = (rawArgs as unknown[] | undefined)?.map((a, j): GlobalArg => {
      const at = `[${i}].args[${j}]`;
      if (!isObj(a)) return bad(`${at} must be { kind: 'scalar' | 'ctx' | 'mem' | 'unsupported' }`, a);
      switch (a['kind']) {
        case 'scalar': return { kind: 'scalar' };
        case 'ctx': return { kind: 'ctx' };
        case 'mem': {
          const size = a['size'];
          if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > 0x1fffffff) bad(`${at}.size must be an integer in 0..536870911`, size);
          const nullable = a['nullable'] ?? true;
          if (typeof nullable !== 'boolean') bad(`${at}.nullable must be a boolean`, nullable);
          return { kind: 'mem', size: size as number, nullable: nullable as boolean };
        }
        case 'unsupported':
          if (typeof a['message'] !== 'string') bad(`${at}.message must be a string`, a['message']);
          return { kind: 'unsupported', message: a['message'] as string };
        default:
          return bad(`${at}.kind must be 'scalar', 'ctx', 'mem' or 'unsupported'`, a['kind']);
      }
    });
    return { insn: insn as number, name: e['name'] as string, linkage: linkage as 'static' | 'global', ...(args ? { args } : {}), ...(rs !== undefined ? { returnsScalar: rs as boolean } : {}) };
  });
}

/**
 * What BPF_PROG_LOAD needs of the system it loads into: its runtime, its
 * settings, and its maps by fd and by address, with their reference counts.
 * BpfSystem (bpf.ts) is one; naming the needs here keeps this file below
 * bpf.ts instead of in a circle with it.
 */
export interface ProgLoadSystem {
  readonly runtime: Runtime;
  /** instruction budget per run of a program loaded without verification */
  readonly unverifiedBudget: number;
  /** compile verified programs to WebAssembly at load */
  readonly jitEnabled: boolean;
  /** with jitEnabled: compile in the background, the interpreter running the program meanwhile (JitTier) */
  readonly jitTiering?: boolean;
  /** the map behind an fd (EBADF, EINVAL otherwise) */
  mapOf(fd: unknown): MapObject;
  mapByAddr(addr: number): MapObject | undefined;
  holdMap(m: MapObject): void;
  putMap(m: MapObject): void;
}

const GPL_COMPATIBLE = ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'];
export const MAX_USED_MAPS = 64;

function license(attr: ProgLoadAttr): string {
  const l = attr.license ?? '';
  if (typeof l === 'string') return l.slice(0, 127);
  if (l instanceof Uint8Array) {
    const end = l.indexOf(0);
    return new TextDecoder().decode(l.subarray(0, end < 0 ? Math.min(l.length, 127) : Math.min(end, 127)));
  }
  throw new BpfError('EFAULT', `license must be a string or a Uint8Array, got ${describe(l)}`);
}

function u32(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new BpfError('EINVAL', `${field} must be an unsigned 32-bit integer, got ${describe(v)}`);
  }
  return v;
}

/**
 * The most instructions a load takes: 3.19's BPF_MAXINSNS - 1 (EINVAL past
 * it), or, under the modern profile, a privileged loader's
 * BPF_COMPLEXITY_LIMIT_INSNS (E2BIG past it).
 */
interface InsnLimit { max: number; errno: 'EINVAL' | 'E2BIG' }
const LIMIT_3_19: InsnLimit = { max: BPF_MAXINSNS - 1, errno: 'EINVAL' };
const LIMIT_MODERN: InsnLimit = { max: 1_000_000, errno: 'E2BIG' };

function tooMany(cnt: number, lim: InsnLimit): BpfError {
  return new BpfError(lim.errno, `insn_cnt ${cnt} is over the limit of ${lim.max}`);
}

/**
 * An integer field of an instruction given as an object. Either two's
 * complement reading of the field's width is accepted (imm 0xffffffff is -1),
 * and the value as given is returned (the caller narrows it); anything else
 * (a string, NaN, a value that does not fit) is EINVAL: it has no bit
 * pattern to copy. The caller reads the property itself: a property read by
 * a name passed in was a keyed lookup per field, which made reading 1000
 * instructions about a third of a whole load.
 */
function field(v: unknown, index: number, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !(v >= lo && v <= hi) || !Number.isInteger(v)) {
    throw new BpfError('EINVAL', `insns[${index}]: ${name} must be an integer in ${lo}..${hi}, got ${describe(v)}`);
  }
  return v;
}

/** An instruction given as an object, as arraySlots reads it. */
interface InsnFields { code?: unknown; dst?: unknown; src?: unknown; off?: unknown; imm?: unknown; imm2?: unknown }

/**
 * The slots of insns given as logical instructions, read up to `limit`
 * slots: as the kernel copies only insn_cnt instructions, elements past it
 * are never looked at. A hole (sparse array), null or a value of the wrong
 * type is EINVAL with the element's index.
 */
function arraySlots(insns: readonly unknown[], limit: number): Slot[] {
  const out: Slot[] = [];
  for (let i = 0; i < insns.length && out.length < limit; i++) {
    const insn = insns[i];
    if (typeof insn !== 'object' || insn === null || Array.isArray(insn) || insn instanceof Uint8Array) {
      throw new BpfError('EINVAL', `insns[${i}] must be an instruction { code, dst, src, off, imm }, got ${i in insns ? describe(insn) : 'a hole (sparse array)'}`);
    }
    const o = insn as InsnFields;
    const code = field(o.code, i, 'code', 0, 0xff);
    const dst = field(o.dst, i, 'dst', 0, 15);
    const src = field(o.src, i, 'src', 0, 15);
    const off = field(o.off, i, 'off', -0x8000, 0xffff);
    const imm = field(o.imm, i, 'imm', -0x80000000, 0xffffffff);
    out.push({ code, dst, src, off: (off << 16) >> 16, imm: imm | 0 });
    const imm2 = o.imm2;
    if (code === LD_IMM64) {
      out.push({ code: 0, dst: 0, src: 0, off: 0, imm: imm2 === undefined ? 0 : field(imm2, i, 'imm2', -0x80000000, 0xffffffff) | 0 });
    } else if (imm2 !== undefined && imm2 !== 0) {
      throw new BpfError('EINVAL', `insns[${i}]: imm2 is for ld_imm64 (opcode 0x18) only`);
    }
  }
  return out;
}

function instructions(attr: ProgLoadAttr, lim: InsnLimit): Slot[] {
  const insns: unknown = attr.insns;
  const given = attr.insn_cnt === undefined || attr.insn_cnt === null ? undefined : u32(attr.insn_cnt, 'insn_cnt');
  if (given !== undefined && given > lim.max) throw tooMany(given, lim);
  if (insns instanceof Uint8Array) {
    const cnt = given ?? Math.floor(insns.length / 8);
    if (cnt > lim.max) throw tooMany(cnt, lim);
    if (insns.length < cnt * 8) throw new BpfError('EFAULT', `insns has ${insns.length} bytes, insn_cnt needs ${cnt * 8}`);
    return decodeSlots(insns.subarray(0, cnt * 8));
  }
  if (!Array.isArray(insns)) throw new BpfError('EFAULT', `insns must be a Uint8Array or an array of instructions, got ${describe(insns)}`);
  // without insn_cnt, one slot past the limit is enough to know the program is too long
  const slots = arraySlots(insns, given ?? lim.max + 1);
  if (given === undefined && slots.length > lim.max) {
    throw new BpfError(lim.errno, `insns has more than the limit of ${lim.max} instruction slots`);
  }
  const cnt = given ?? slots.length;
  if (slots.length < cnt) throw new BpfError('EFAULT', `insns has ${slots.length} instructions, insn_cnt says ${cnt}`);
  return slots.slice(0, cnt);
}

export interface LoadOptions {
  /**
   * false loads the program without the verifier (a tsbpf extension, for
   * programs 3.19 cannot prove safe such as the conformance vectors): it then
   * runs in the checked interpreter under sys.unverifiedBudget.
   */
  verify?: boolean;
}

export function progLoad(sys: ProgLoadSystem, attr: ProgLoadAttr, options: LoadOptions = {}): LoadedProgram {
  const lic = license(attr);
  const gplCompatible = GPL_COMPATIBLE.includes(lic);
  let slots = instructions(attr, sys.runtime.profile.name === 'modern' ? LIMIT_MODERN : LIMIT_3_19);
  const rowType = progTypeById(u32(attr.prog_type, 'prog_type'), sys.runtime.profile);
  const memSize = u32(attr.mem_size, 'mem_size');
  if (memSize !== 0 && !rowType.sized) throw new BpfError('EINVAL', `mem_size is for the mem program type, not ${rowType.name}`);
  const type = rowType.sized ? rowType.sized(memSize) : rowType;
  // no records is no func info, as func_info_cnt 0 is for the kernel
  const funcs = funcInfo(attr.func_info);
  const hasFuncs = funcs !== undefined && funcs.length > 0;
  if (hasFuncs && sys.runtime.profile.name !== 'modern') throw new BpfError('EINVAL', 'func_info needs the modern profile (3.19 has no bpf-to-bpf calls)');

  // bpf_check (the kernel's verification time, log level 4, starts here)
  const startTime = performance.now();
  if (slots.length === 0) throw new BpfError('E2BIG', 'the program has no instructions');
  const sourceLines = attr.line_info;
  if (sourceLines !== undefined) checkSourceLines(sourceLines, slots);
  const level = u32(attr.log_level, 'log_level');
  const size = u32(attr.log_size, 'log_size');
  const rawBuf: unknown = attr.log_buf;
  // a NULL pointer: absent, null or 0
  const present = rawBuf !== undefined && rawBuf !== null && rawBuf !== 0;
  const logging = level !== 0 || size !== 0 || present;
  if (logging && (size < 128 || size > 0xffffffff >>> 8 || level === 0 || !present)) {
    throw new BpfError('EINVAL', 'log_level, log_size (128..16777215) and log_buf must all be set to log');
  }
  // a log_buf that is not a buffer is a bad pointer: the kernel faults when it writes the log
  if (present && !(rawBuf instanceof Uint8Array)) throw new BpfError('EFAULT', `log_buf must be a Uint8Array, got ${describe(rawBuf)}`);
  const buf = present ? rawBuf as Uint8Array : null;
  if (buf && buf.length < size) throw new BpfError('EFAULT', `log_buf has ${buf.length} bytes, log_size says ${size}`);
  const log = new VerifierLog(logging ? level : 0, size);
  const maps: MapObject[] = [];
  // bpf_check's rejections share the log: a VerifierError, with the slot at fault when there is one
  const reject = (code: ErrnoCode, message: string, print = true, insn?: number): never => {
    if (print) log.print(message + '\n');
    for (const m of maps) sys.putMap(m);
    finishLog(log, buf);
    const errCode = log.full ? 'ENOSPC' : code;
    throw new VerifierError(errCode, message, log.toString(), { command: 'BPF_PROG_LOAD', insn, truncated: log.full });
  };

  // replace_map_fd_with_map_ptr
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (!isLdImm64(s)) continue;
    if (!isLdImm64Pair(slots, i)) reject('EINVAL', 'invalid bpf_ld_imm64 insn', true, i);
    const next = slots[i + 1]!;
    if (s.src === 0) {
      i++;
      continue;
    }
    // BPF_PSEUDO_FUNC (5.13: a callback for bpf_loop, bpf_for_each_map_elem): imm is the subprogram's offset
    if (s.src === BPF_PSEUDO_FUNC) {
      const target = i + 1 + s.imm;
      if (target < 0 || target >= slots.length || next.imm !== 0) reject('EINVAL', 'invalid bpf_ld_imm64 insn');
      i++;
      continue;
    }
    // BPF_PSEUDO_MAP_VALUE (later kernels, for global data): a pointer into the first value of an array map
    if (!isMapLoad(s) && !isMapValueLoad(s)) reject('EINVAL', 'unrecognized bpf_ld_imm64 insn', true, i);
    let m: MapObject;
    try {
      m = sys.mapOf(s.imm);
    } catch (e) {
      if (e instanceof BpfError) return reject(e.code, `fd ${s.imm} is not pointing to valid bpf_map`, true, i);
      throw e;
    }
    if (!maps.includes(m)) {
      if (maps.length >= MAX_USED_MAPS) {
        for (const x of maps) sys.putMap(x);
        throw new BpfError('E2BIG', `the program uses more than ${MAX_USED_MAPS} maps`);
      }
      sys.holdMap(m);
      maps.push(m);
    }
    if (isMapValueLoad(s)) {
      if (!m.impl.directValue) reject('EINVAL', `fd ${s.imm} does not allow direct value access (array maps do)`, true, i);
      if (next.imm < 0 || next.imm >= m.impl.valueSize) reject('EINVAL', `invalid access to map value pointer, value_size=${m.impl.valueSize} off=${next.imm}`, true, i);
      s.imm = m.impl.addr | 0;
    } else {
      s.imm = m.impl.addr | 0;
      next.imm = 0;
    }
    i++;
  }

  if (options.verify === false) {
    toConstants(sys, slots);
    let interpreter: Engine;
    // an unverified program touches the values of its own maps only, never another program's
    const own = maps.map((m) => m.impl.region);
    // and the values of the inner maps its maps of maps hold at the time of the access
    const outer = maps.map((m) => m.impl).filter((m) => m.innerMaps !== undefined);
    const regions = outer.length === 0 ? (): readonly Region[] => own : (): readonly Region[] => [...own, ...outer.flatMap((o) => o.innerMaps!().map((i) => i.region))];
    try {
      interpreter = new Interpreter(sys.runtime.mem, slots, {
        checked: true, budget: sys.unverifiedBudget, helpers: sys.runtime.helpers, regions, maps: maps.map((m) => m.impl),
      });
    } catch (e) {
      if (e instanceof BpfError) return reject(e.code, e.message);
      throw e;
    }
    finishLog(log, buf);
    return { type, slots, maps, license: lic, gplCompatible, verified: false, interpreter, log: log.toString() };
  }

  // do_check, after check_cfg: the modern profile's verifier when the system models today's kernel
  const profile = sys.runtime.profile;
  const rules = rulesFor(type, profile);
  // one object literal with every field: spreads of the rules made each load's env a slow object
  const env: ModernEnv = {
    socketFilter: rules.socketFilter,
    isValidCtxAccess: rules.isValidCtxAccess,
    funcProto: rules.funcProto,
    profile: rules.profile,
    entryR2: rules.entryR2,
    gplCompatible,
    mapAt: (addr: number) => {
      const m = sys.mapByAddr(addr);
      if (!m) return undefined;
      // a map of maps: its lookup gives the inner map, known by the template (max_entries only when every inner map has it)
      const t = m.impl.innerMeta?.();
      const inner = t && {
        addr, keySize: t.keySize, valueSize: t.valueSize, mapType: t.type, meta: true,
        ...((t.mapFlags & BPF_F.INNER_MAP) === 0 ? { maxEntries: t.maxEntries } : {}),
      };
      return { addr, keySize: m.impl.keySize, valueSize: m.impl.valueSize, mapType: m.impl.type, maxEntries: m.impl.maxEntries, name: m.name, ...(inner ? { inner } : {}) };
    },
    log,
    sourceLines,
    ctxAccess: rules.ctxAccess,
    ...(hasFuncs ? { funcInfo: funcs } : {}),
    startTime,
  };
  const result = profile.name === 'modern'
    ? verifyModern(slots, env)
    : verify(slots, profile === PROFILE_3_19 ? env : { ...env, ...rulesFor(type, PROFILE_3_19) });
  if (!result.ok) {
    const where = result.insn === undefined ? '' : `insn ${result.insn}: `;
    return reject(result.errno, `${where}${result.message || 'invalid program'}`, false, result.insn);
  }
  // convert_ctx_accesses: the context accesses the kernel's rewrite makes differ (progs/ctx-rewrite.ts)
  let visited = result.visited;
  if (type.rewriteCtxAccess && result.ctxAccesses !== undefined && result.ctxAccesses.size > 0) {
    try {
      ({ slots, visited } = rewriteCtxAccesses(slots, result.ctxAccesses, (off, insn) => type.rewriteCtxAccess!(off, insn), visited));
    } catch (e) {
      if (e instanceof BpfError) return reject(e.code, e.message);
      throw e;
    }
  }
  toConstants(sys, slots);
  sanitizeUnvisited(slots, visited);

  let interpreter: Engine;
  try {
    interpreter = new Interpreter(sys.runtime.mem, slots, { checked: false, helpers: sys.runtime.helpers, regions: sys.runtime.regions, maps: maps.map((m) => m.impl) });
  } catch (e) {
    if (e instanceof BpfError) return reject(e.code, e.message);
    throw e;
  }
  finishLog(log, buf);
  if (log.full) {
    for (const m of maps) sys.putMap(m);
    throw new VerifierError('ENOSPC', 'the verifier log is full', log.toString(), { command: 'BPF_PROG_LOAD', truncated: true });
  }
  const loaded: LoadedProgram = { type, slots, maps, license: lic, gplCompatible, verified: true, interpreter, log: log.toString() };
  const jitOptions = { helpers: sys.runtime.helpers, maps: maps.map((m) => m.impl), ...(type.frameFields ? { frame: type.frameFields } : {}) };
  if (sys.jitEnabled && sys.jitTiering === true) {
    // tiered: the interpreter runs from the first run, the JIT once its background compile resolves
    // (the JIT's scratch area reserved now: the memory is laid out as an eager load's)
    let jit: JitReservation;
    try {
      jit = new JitReservation(sys.runtime.mem, slots, jitOptions);
    } catch (e) {
      // (ENOMEM for the scratch area: no fd is created, the maps taken are given back)
      for (const m of maps) sys.putMap(m);
      throw e;
    }
    const tier = new JitTier(() => jit.now(), () => jit.later(), () => jit.release());
    return Object.assign(Object.create(TIERED_RECORD) as LoadedProgram, loaded, { tier });
  } else if (sys.jitEnabled) {
    try {
      loaded.jit = new JitProgram(sys.runtime.mem, slots, jitOptions);
    } catch (e) {
      // ENOTSUP: a construct the JIT does not compile yet; the interpreter runs it.
      if (!(e instanceof BpfError) || e.code !== 'ENOTSUP') {
        // no fd is created: give back the maps taken (ENOMEM must not leak them)
        for (const m of maps) sys.putMap(m);
        throw e;
      }
    }
  }
  return loaded;
}

/**
 * The prototype of a tiered load's record: its `jit` is the tier's JIT,
 * compiled on the spot if the background compile has not finished. A getter
 * on a shared prototype rather than one defined on each record: a getter of
 * its own gave each record a hidden class of its own, which V8 keeps in the
 * old generation, and through the getter's closure the whole program
 * (slots, interpreter) survived every scavenge until a full collection.
 */
const TIERED_RECORD = {
  get jit(): Engine | undefined {
    return (this as unknown as LoadedProgram).tier!.force();
  },
};

type Rules = ReturnType<typeof verifierRules> & { ctxAccess: ModernEnv['ctxAccess'] };
const RULES = new WeakMap<ProgramType, Map<Profile, Rules>>();

/**
 * verifierRules for a type under a profile, kept for the next load, with its
 * get_func_proto answers kept too: the verifier asks it for every call
 * instruction, each answer is a lookup and a version comparison, and none
 * changes while the process runs.
 */
function rulesFor(type: ProgramType, profile: Profile): Rules {
  let byProfile = RULES.get(type);
  if (byProfile === undefined) RULES.set(type, (byProfile = new Map()));
  let rules = byProfile.get(profile);
  if (rules === undefined) {
    const base = verifierRules(type, profile);
    const protos = new Map<number, HelperProto | undefined>();
    const funcProto = (id: number): HelperProto | undefined => {
      if (protos.has(id)) return protos.get(id);
      const p = base.funcProto(id);
      protos.set(id, p);
      return p;
    };
    const ctx = type.ctxAccess;
    rules = { ...base, funcProto, ctxAccess: ctx ? (off, size, write) => ctx(off, size, write) : undefined };
    byProfile.set(profile, rules);
  }
  return rules;
}

/**
 * Instructions no explored path reached (behind a comparison the verifier
 * folded) become traps: a call to helper -1, which no registry can hold and
 * every engine reports as EFAULT. A verified program then runs only code the
 * verifier checked even if the verifier was wrong about which side runs, and
 * no engine meets an instruction it would refuse in dead code. Later kernels
 * do the same (sanitize_dead_code).
 */
function sanitizeUnvisited(slots: Slot[], visited: Uint8Array): void {
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (visited[i] === 1) {
      if (isLdImm64(s)) i++;
      continue;
    }
    slots[i] = { code: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: UNVISITED_TRAP };
  }
}

/**
 * After verification a pseudo ld_imm64 is an ordinary constant: the map's
 * address, or the address of its first value plus the offset.
 */
function toConstants(sys: ProgLoadSystem, slots: Slot[]): void {
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (!isLdImm64(s)) continue;
    if (isMapValueLoad(s)) {
      const m = sys.mapByAddr(s.imm >>> 0)!;
      s.imm = (m.impl.directValue!() + slots[i + 1]!.imm) | 0;
      slots[i + 1]!.imm = 0;
    }
    if (isMapLoad(s) || isMapValueLoad(s)) s.src = 0;
    // a callback: its pc, tagged (runtime/helpers.ts, CALLBACK_TAG), as the callback helpers take it
    if (s.src === BPF_PSEUDO_FUNC) {
      s.src = 0;
      s.imm = i + 1 + s.imm;
      slots[i + 1]!.imm = CALLBACK_TAG;
    }
    i++;
  }
}

/** Copy the log and its NUL into the user's buffer. */
function finishLog(log: VerifierLog, buf: Uint8Array | null): void {
  if (!buf || !log.enabled) return;
  const bytes = new TextEncoder().encode(log.toString());
  buf.set(bytes.subarray(0, buf.length - 1));
  buf[Math.min(bytes.length, buf.length - 1)] = 0;
}
