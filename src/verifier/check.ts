/**
 * do_check: 3.19's path-exploring abstract interpretation. It walks every
 * path of the program from insn 0 with the abstract state of state.ts,
 * checking each instruction with the rule for its class (in the kernel's
 * order of checks and with its messages), pushing the other side of every
 * conditional jump for later, and pruning a path when it reaches a pruning
 * point in a state already proven safe there.
 *
 * Rules for opcodes newer than 3.19 follow the same spirit (SEMANTICS.md
 * decision 1): JMP32 and JLT/JLE/JSLT/JSLE jumps check their operands and
 * fork without learning anything; sdiv/smod, movsx, bswap and sign-extending
 * loads give unknown scalars; atomics are allowed on the stack and on map
 * values, and their fetch forms make the fetched register unknown.
 */

import type { Slot } from '../isa/instruction.js';
import {
  ATOMIC_OPS, BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CLASS, BPF_CMPXCHG, BPF_DIV, BPF_DW,
  BPF_END, BPF_EXIT, BPF_FETCH, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSLE, BPF_K,
  BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_SIZE, BPF_SRC, BPF_ST,
  BPF_STX, BPF_W, BPF_X, sizeBytes,
} from '../isa/opcodes.js';
import { disasmInsn } from '../isa/disasm.js';
import type { HelperProto } from '../runtime/helpers.js';
import type { Profile } from '../progs/profile.js';
import { ARG, RET } from '../runtime/helpers.js';
import { VerifyError } from './cfg.js';
import type { VerifierLog } from './log.js';
import { formatState } from './log.js';
import type { MapInfo, RegState, VerifierState } from './state.js';
import {
  BPF_REG_SIZE, MAX_BPF_REG, MAX_BPF_STACK, REG, REG_TYPE_STR, STACK, copyState, initialState,
} from './state.js';
import { PruneIndex } from './prune.js';

export const INSN_PROCESSED_LIMIT = 32768;
export const MAX_PENDING_STATES = 1024;
/**
 * Pruning probes (a group of stored states looked up, or one state compared)
 * per verification: a tsbpf bound, not 3.19's, so that no program keeps the
 * verifier busy for long (about a second at most). Programs 3.19 could
 * verify in reasonable time stay far below it.
 */
export const PRUNE_PROBE_LIMIT = 1 << 22;

export interface VerifierEnv {
  /** BPF_PROG_TYPE_SOCKET_FILTER allows LD_ABS/LD_IND */
  socketFilter: boolean;
  isValidCtxAccess(off: number, size: number, write: boolean): boolean;
  /** the helper prototypes the program's type and profile allow (progs/helpers.ts, funcProtoFor) */
  funcProto(id: number): HelperProto | undefined;
  /** the kernel modelled: its helper id bound (__BPF_FUNC_MAX_ID) */
  profile: Profile;
  gplCompatible: boolean;
  /** the map an ld_imm64 with src_reg 1 refers to, by the address it now holds */
  mapAt(addr: number): MapInfo | undefined;
  log: VerifierLog;
}

const CALLER_SAVED = [0, 1, 2, 3, 4, 5];

interface Pending {
  state: VerifierState;
  insnIdx: number;
  prevInsnIdx: number;
}

export interface CheckResult {
  insnProcessed: number;
  /** 1 for every instruction some explored path reached (the first slot of an ld_imm64) */
  visited: Uint8Array;
}

export function doCheck(insns: readonly Slot[], pruning: Uint8Array, env: VerifierEnv): CheckResult {
  const log = env.log;
  const verbose = (s: string): void => log.print(s);
  let insnIdx = 0;
  const fail = (errno: VerifyError['errno'], msg: string): never => {
    verbose(msg + '\n');
    throw new VerifyError(errno, msg, insnIdx);
  };
  let cur = initialState();
  const explored: (PruneIndex | undefined)[] = new Array(insns.length);
  let probes = 0;
  const probe = (): void => {
    if (++probes > PRUNE_PROBE_LIMIT) fail('E2BIG', `BPF program is too complex: more than ${PRUNE_PROBE_LIMIT} state comparisons`);
  };
  const pending: Pending[] = [];
  let insnProcessed = 0;
  let prevInsnIdx = 0;
  let doPrintState = false;
  const visited = new Uint8Array(insns.length);

  const markUnknown = (r: number): void => {
    cur.regs[r] = { type: REG.UNKNOWN_VALUE, value: 0 };
  };

  // check_reg_arg
  const srcOp = (r: number): void => {
    if (r >= MAX_BPF_REG) fail('EINVAL', `R${r} is invalid`);
    if (cur.regs[r]!.type === REG.NOT_INIT) fail('EACCES', `R${r} !read_ok`);
  };
  const dstOp = (r: number, mark = true): void => {
    if (r >= MAX_BPF_REG) fail('EINVAL', `R${r} is invalid`);
    if (r === 10) fail('EACCES', 'frame pointer is read only');
    if (mark) markUnknown(r);
  };

  const pushStack = (target: number, prev: number): VerifierState => {
    const state = copyState(cur);
    pending.push({ state, insnIdx: target, prevInsnIdx: prev });
    if (pending.length > MAX_PENDING_STATES) {
      pending.length = 0;
      fail('EFAULT', 'BPF program is too complex');
    }
    return state;
  };
  const popStack = (): number => {
    const p = pending.pop();
    if (!p) return -1;
    cur = p.state;
    prevInsnIdx = p.prevInsnIdx;
    return p.insnIdx;
  };

  const isStateVisited = (idx: number): boolean => {
    if (!pruning[idx]) return false;
    // 3.19 compares cur with every state stored here; the index finds the same answer (prune.ts).
    const index = (explored[idx] ??= new PruneIndex());
    if (index.covers(cur, probe)) return true;
    index.add(copyState(cur));
    return false;
  };

  // check_stack_write / check_stack_read
  const stackWrite = (off: number, size: number, valueReg: number): void => {
    const slot = (MAX_BPF_STACK + off) / BPF_REG_SIZE | 0;
    if (MAX_BPF_STACK + off < cur.stackLow) cur.stackLow = MAX_BPF_STACK + off;
    const v = valueReg >= 0 ? cur.regs[valueReg]! : undefined;
    if (v && (v.type === REG.PTR_TO_MAP_VALUE || v.type === REG.PTR_TO_STACK || v.type === REG.PTR_TO_CTX)) {
      if (size !== BPF_REG_SIZE) fail('EACCES', 'invalid size of register spill');
      cur.spilledRegs[slot] = { ...v };
      for (let i = 0; i < BPF_REG_SIZE; i++) cur.stackSlotType[MAX_BPF_STACK + off + i] = STACK.SPILL;
    } else {
      cur.spilledRegs[slot] = { type: REG.NOT_INIT, value: 0 };
      for (let i = 0; i < size; i++) cur.stackSlotType[MAX_BPF_STACK + off + i] = STACK.MISC;
    }
  };
  const stackRead = (off: number, size: number, valueReg: number): void => {
    const base = MAX_BPF_STACK + off;
    if (cur.stackSlotType[base] === STACK.SPILL) {
      if (size !== BPF_REG_SIZE) fail('EACCES', 'invalid size of register spill');
      for (let i = 1; i < BPF_REG_SIZE; i++) {
        if (cur.stackSlotType[base + i] !== STACK.SPILL) fail('EACCES', 'corrupted spill memory');
      }
      if (valueReg >= 0) cur.regs[valueReg] = { ...cur.spilledRegs[(base / BPF_REG_SIZE) | 0]! };
      return;
    }
    for (let i = 0; i < size; i++) {
      if (cur.stackSlotType[base + i] !== STACK.MISC) fail('EACCES', `invalid read from stack off ${off}+${i} size ${size}`);
    }
    if (valueReg >= 0) markUnknown(valueReg);
  };

  // check_mem_access
  const memAccess = (regno: number, off: number, bpfSize: number, write: boolean, valueReg: number): void => {
    const size = sizeBytes(bpfSize);
    if (off % size !== 0) fail('EACCES', `misaligned access off ${off} size ${size}`);
    const reg = cur.regs[regno]!;
    if (reg.type === REG.PTR_TO_MAP_VALUE) {
      const vs = reg.map!.valueSize;
      // a global-data pointer carries an offset of its own (0 for 3.19's lookups)
      const at = off + (reg.off ?? 0);
      if (at < 0 || at + size > vs) fail('EACCES', `invalid access to map value, value_size=${vs} off=${at} size=${size}`);
      if (!write && valueReg >= 0) markUnknown(valueReg);
    } else if (reg.type === REG.PTR_TO_CTX) {
      if (!env.isValidCtxAccess(off, size, write)) fail('EACCES', `invalid bpf_context access off=${off} size=${size}`);
      if (!write && valueReg >= 0) markUnknown(valueReg);
    } else if (reg.type === REG.FRAME_PTR) {
      if (off >= 0 || off < -MAX_BPF_STACK) fail('EACCES', `invalid stack off=${off} size=${size}`);
      if (write) stackWrite(off, size, valueReg);
      else stackRead(off, size, valueReg);
    } else {
      fail('EACCES', `R${regno} invalid mem access '${REG_TYPE_STR[reg.type]}'`);
    }
  };

  // check_stack_boundary
  const stackBoundary = (regno: number, accessSize: number): void => {
    const reg = cur.regs[regno]!;
    if (reg.type !== REG.PTR_TO_STACK) throw new VerifyError('EACCES', '');
    const off = reg.value;
    if (off >= 0 || off < -MAX_BPF_STACK || off + accessSize > 0 || accessSize <= 0) {
      fail('EACCES', `invalid stack type R${regno} off=${off} access_size=${accessSize}`);
    }
    for (let i = 0; i < accessSize; i++) {
      if (cur.stackSlotType[MAX_BPF_STACK + off + i] !== STACK.MISC) {
        fail('EACCES', `invalid indirect read from stack off ${off}+${i} size ${accessSize}`);
      }
    }
  };

  // check_func_arg
  const funcArg = (regno: number, argType: number, ctx: { map?: MapInfo }): void => {
    if (argType === ARG.ANYTHING) return;
    const reg = cur.regs[regno]!;
    if (reg.type === REG.NOT_INIT) fail('EACCES', `R${regno} !read_ok`);
    let expected: number;
    if (argType === ARG.PTR_TO_STACK || argType === ARG.PTR_TO_MAP_KEY || argType === ARG.PTR_TO_MAP_VALUE) expected = REG.PTR_TO_STACK;
    else if (argType === ARG.CONST_STACK_SIZE) expected = REG.CONST_IMM;
    else if (argType === ARG.CONST_MAP_PTR) expected = REG.CONST_PTR_TO_MAP;
    else return fail('EFAULT', `unsupported arg_type ${argType}`);
    if (reg.type !== expected) fail('EACCES', `R${regno} type=${REG_TYPE_STR[reg.type]} expected=${REG_TYPE_STR[expected]}`);
    if (argType === ARG.CONST_MAP_PTR) ctx.map = reg.map;
    else if (argType === ARG.PTR_TO_MAP_KEY) {
      if (!ctx.map) fail('EACCES', 'invalid map_ptr to access map->key');
      stackBoundary(regno, ctx.map!.keySize);
    } else if (argType === ARG.PTR_TO_MAP_VALUE) {
      if (!ctx.map) fail('EACCES', 'invalid map_ptr to access map->value');
      stackBoundary(regno, ctx.map!.valueSize);
    } else if (argType === ARG.CONST_STACK_SIZE) {
      if (regno === 0) fail('EACCES', 'ARG_CONST_STACK_SIZE cannot be first argument');
      stackBoundary(regno - 1, reg.value);
    }
  };

  const resetCallerSaved = (): void => {
    for (const r of CALLER_SAVED) cur.regs[r] = { type: REG.NOT_INIT, value: 0 };
  };

  // check_call
  const checkCall = (funcId: number): void => {
    if (funcId < 0 || funcId >= env.profile.maxHelperId) fail('EINVAL', `invalid func ${funcId}`);
    const fn = env.funcProto(funcId);
    if (!fn) return fail('EINVAL', `unknown func ${funcId}`);
    if (!env.gplCompatible && fn.gplOnly) fail('EINVAL', 'cannot call GPL only function from proprietary program');
    const ctx: { map?: MapInfo } = {};
    for (let i = 0; i < 5; i++) funcArg(i + 1, fn.args[i] ?? ARG.ANYTHING, ctx);
    resetCallerSaved();
    if (fn.ret === RET.INTEGER) cur.regs[0] = { type: REG.UNKNOWN_VALUE, value: 0 };
    else if (fn.ret === RET.VOID) cur.regs[0] = { type: REG.NOT_INIT, value: 0 };
    else if (fn.ret === RET.PTR_TO_MAP_VALUE_OR_NULL) {
      if (!ctx.map) fail('EINVAL', 'kernel subsystem misconfigured verifier');
      cur.regs[0] = { type: REG.PTR_TO_MAP_VALUE_OR_NULL, value: ctx.map!.addr, map: ctx.map };
    } else fail('EINVAL', `unknown return type ${String(fn.ret)} of func ${funcId}`);
  };

  // check_alu_op
  const checkAlu = (insn: Slot): void => {
    const op = BPF_OP(insn.code);
    const cls = BPF_CLASS(insn.code);
    const x = BPF_SRC(insn.code) === BPF_X;
    if (op === BPF_END || op === BPF_NEG) {
      if (op === BPF_NEG) {
        if (BPF_SRC(insn.code) !== 0 || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) fail('EINVAL', 'BPF_NEG uses reserved fields');
      } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (cls === BPF_ALU64 && x)) {
        fail('EINVAL', 'BPF_END uses reserved fields');
      }
      srcOp(insn.dst);
      dstOp(insn.dst);
    } else if (op === BPF_MOV) {
      // movsx (RFC 9669): a register source with off 8/16 (and 32 in ALU64) sign-extends
      const movsx = x && (insn.off === 8 || insn.off === 16 || (insn.off === 32 && cls === BPF_ALU64));
      if (x) {
        if (insn.imm !== 0 || (insn.off !== 0 && !movsx)) fail('EINVAL', 'BPF_MOV uses reserved fields');
        srcOp(insn.src);
      } else if (insn.src !== 0 || insn.off !== 0) {
        fail('EINVAL', 'BPF_MOV uses reserved fields');
      }
      dstOp(insn.dst);
      if (x) {
        if (cls === BPF_ALU64 && !movsx) cur.regs[insn.dst] = { ...cur.regs[insn.src]! };
        else cur.regs[insn.dst] = { type: REG.UNKNOWN_VALUE, value: 0 };
      } else {
        // A 32-bit mov zero-extends: (u32) r1 = (u32) -1 leaves 0x00000000ffffffff, not -1.
        // 3.19 recorded the sign-extended imm here, so `if r1 == -1` was folded as taken while
        // the other side ran unverified (the CVE-2017-16995 class); the kernel's fix is followed.
        cur.regs[insn.dst] = { type: REG.CONST_IMM, value: cls === BPF_ALU64 ? insn.imm : insn.imm >>> 0 };
      }
    } else if (op > BPF_END) {
      fail('EINVAL', `invalid BPF_ALU opcode ${op.toString(16)}`);
    } else {
      // sdiv/smod (RFC 9669) carry off = 1
      const signedDiv = (op === BPF_DIV || op === BPF_MOD) && insn.off === 1;
      if (x) {
        if (insn.imm !== 0 || (insn.off !== 0 && !signedDiv)) fail('EINVAL', 'BPF_ALU uses reserved fields');
        srcOp(insn.src);
      } else if (insn.src !== 0 || (insn.off !== 0 && !signedDiv)) {
        fail('EINVAL', 'BPF_ALU uses reserved fields');
      }
      srcOp(insn.dst);
      if ((op === BPF_MOD || op === BPF_DIV) && !x && insn.imm === 0) fail('EINVAL', 'div by zero');
      const stackRelative = op === BPF_ADD && cls === BPF_ALU64 && cur.regs[insn.dst]!.type === REG.FRAME_PTR && !x;
      dstOp(insn.dst);
      if (stackRelative) cur.regs[insn.dst] = { type: REG.PTR_TO_STACK, value: insn.imm };
    }
  };

  // check_cond_jmp_op (and JMP32, which learns nothing)
  const checkCondJmp = (insn: Slot, idx: number): number => {
    const op = BPF_OP(insn.code);
    const jmp32 = BPF_CLASS(insn.code) === BPF_JMP32;
    // 3.19 stopped at BPF_EXIT; JLT, JLE, JSLT and JSLE (0xa0-0xd0) came later and are accepted
    if (op > BPF_JSLE) fail('EINVAL', `invalid BPF_JMP opcode ${op.toString(16)}`);
    if (BPF_SRC(insn.code) === BPF_X) {
      if (insn.imm !== 0) fail('EINVAL', 'BPF_JMP uses reserved fields');
      srcOp(insn.src);
    } else if (insn.src !== 0) {
      fail('EINVAL', 'BPF_JMP uses reserved fields');
    }
    srcOp(insn.dst);
    const k = BPF_SRC(insn.code) === BPF_K;
    const dst = cur.regs[insn.dst]!;
    if (!jmp32 && k && (op === BPF_JEQ || op === BPF_JNE) && dst.type === REG.CONST_IMM && dst.value === insn.imm) {
      // the outcome is known: follow only the path taken, and print nothing
      return op === BPF_JEQ ? idx + insn.off : idx;
    }
    const other = pushStack(idx + insn.off + 1, idx);
    if (!jmp32 && k && insn.imm === 0 && (op === BPF_JEQ || op === BPF_JNE) && dst.type === REG.PTR_TO_MAP_VALUE_OR_NULL) {
      const nonNull = { type: REG.PTR_TO_MAP_VALUE, value: dst.value, map: dst.map } as RegState;
      const isNull = { type: REG.CONST_IMM, value: 0 } as RegState;
      if (op === BPF_JEQ) {
        cur.regs[insn.dst] = nonNull;
        other.regs[insn.dst] = isNull;
      } else {
        other.regs[insn.dst] = nonNull;
        cur.regs[insn.dst] = isNull;
      }
    } else if (!jmp32 && k && (op === BPF_JEQ || op === BPF_JNE)) {
      const known = { type: REG.CONST_IMM, value: insn.imm } as RegState;
      if (op === BPF_JEQ) other.regs[insn.dst] = known;
      else cur.regs[insn.dst] = known;
    }
    if (log.enabled) verbose(formatState(cur));
    return idx;
  };

  // check_ld_imm
  const checkLdImm = (insn: Slot, next: Slot | undefined): void => {
    if (BPF_SIZE(insn.code) !== BPF_DW) fail('EINVAL', 'invalid BPF_LD_IMM insn');
    if (insn.off !== 0) fail('EINVAL', 'BPF_LD_IMM64 uses reserved fields');
    dstOp(insn.dst);
    if (insn.src === 0) return;
    const map = env.mapAt(insn.imm >>> 0);
    if (!map) throw new VerifyError('EFAULT', 'ld_imm64 of an unresolved map');
    if (insn.src === 2) {
      // BPF_PSEUDO_MAP_VALUE: a pointer into the map's first value
      cur.regs[insn.dst] = { type: REG.PTR_TO_MAP_VALUE, value: map.addr, map, off: next?.imm ?? 0 };
      return;
    }
    cur.regs[insn.dst] = { type: REG.CONST_PTR_TO_MAP, value: map.addr, map };
  };

  // check_ld_abs
  const checkLdAbs = (insn: Slot): void => {
    const mode = BPF_MODE(insn.code);
    if (!env.socketFilter) fail('EINVAL', 'BPF_LD_ABS|IND instructions are only allowed in socket filters');
    // 3.19 did not refuse size DW, which no engine (nor its own interpreter) can run; later kernels do
    if (insn.dst !== 0 || insn.off !== 0 || BPF_SIZE(insn.code) === BPF_DW || (mode === BPF_ABS && insn.src !== 0)) {
      fail('EINVAL', 'BPF_LD_ABS uses reserved fields');
    }
    srcOp(6);
    if (cur.regs[6]!.type !== REG.PTR_TO_CTX) fail('EINVAL', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
    if (mode === BPF_IND) srcOp(insn.src);
    resetCallerSaved();
    cur.regs[0] = { type: REG.UNKNOWN_VALUE, value: 0 };
  };

  // check_xadd, and the RFC 9669 atomics
  const checkAtomic = (insn: Slot): void => {
    const size = BPF_SIZE(insn.code);
    const op = insn.imm;
    if ((size !== BPF_W && size !== BPF_DW) || (op !== 0 && !ATOMIC_OPS.includes(op))) fail('EINVAL', 'BPF_XADD uses reserved fields');
    srcOp(insn.src);
    srcOp(insn.dst);
    // the fetched value lands in src (r0 for cmpxchg): r10 may not receive it
    if (op & BPF_FETCH && op !== BPF_CMPXCHG && insn.src === 10) fail('EACCES', 'frame pointer is read only');
    if (op !== 0) {
      // RFC 9669 atomics: on the stack and on map values only
      if (cur.regs[insn.dst]!.type === REG.PTR_TO_CTX) fail('EACCES', `BPF_ATOMIC stores into R${insn.dst} ctx are not allowed`);
      if (op === BPF_CMPXCHG) srcOp(0);
    }
    memAccess(insn.dst, insn.off, size, false, -1);
    memAccess(insn.dst, insn.off, size, true, -1);
    if (op === BPF_CMPXCHG) markUnknown(0);
    else if (op & BPF_FETCH) markUnknown(insn.src);
  };

  for (;;) {
    if (insnIdx >= insns.length) fail('EFAULT', `invalid insn idx ${insnIdx} insn_cnt ${insns.length}`);
    const insn = insns[insnIdx]!;
    const cls = BPF_CLASS(insn.code);
    if (++insnProcessed > INSN_PROCESSED_LIMIT) fail('E2BIG', `BPF program is too large. Proccessed ${insnProcessed} insn`);

    let exit = false;
    if (isStateVisited(insnIdx)) {
      if (log.enabled) {
        if (doPrintState) verbose(`\nfrom ${prevInsnIdx} to ${insnIdx}: safe\n`);
        else verbose(`${insnIdx}: safe\n`);
      }
      exit = true;
    } else {
      if (log.enabled && doPrintState) {
        verbose(`\nfrom ${prevInsnIdx} to ${insnIdx}:${formatState(cur)}`);
        doPrintState = false;
      }
      if (log.enabled) verbose(`${insnIdx}: ${disasmInsn(insn, { style: 'log319' })}\n`);
      visited[insnIdx] = 1;

      if (cls === BPF_ALU || cls === BPF_ALU64) {
        checkAlu(insn);
      } else if (cls === BPF_LDX) {
        const mode = BPF_MODE(insn.code);
        const ldsx = mode === BPF_MEMSX && BPF_SIZE(insn.code) !== BPF_DW;
        if ((mode !== BPF_MEM && !ldsx) || insn.imm !== 0) fail('EINVAL', 'BPF_LDX uses reserved fields');
        srcOp(insn.src);
        dstOp(insn.dst, false);
        memAccess(insn.src, insn.off, BPF_SIZE(insn.code), false, insn.dst);
        // a sign-extended value is a scalar whatever was loaded
        if (ldsx) markUnknown(insn.dst);
      } else if (cls === BPF_STX) {
        if (BPF_MODE(insn.code) === BPF_ATOMIC) {
          checkAtomic(insn);
          insnIdx++;
          continue;
        }
        if (BPF_MODE(insn.code) !== BPF_MEM || insn.imm !== 0) fail('EINVAL', 'BPF_STX uses reserved fields');
        srcOp(insn.src);
        srcOp(insn.dst);
        memAccess(insn.dst, insn.off, BPF_SIZE(insn.code), true, insn.src);
      } else if (cls === BPF_ST) {
        if (BPF_MODE(insn.code) !== BPF_MEM || insn.src !== 0) fail('EINVAL', 'BPF_ST uses reserved fields');
        srcOp(insn.dst);
        memAccess(insn.dst, insn.off, BPF_SIZE(insn.code), true, -1);
      } else if (cls === BPF_JMP || cls === BPF_JMP32) {
        const op = BPF_OP(insn.code);
        if (cls === BPF_JMP && op === BPF_CALL) {
          if (BPF_SRC(insn.code) !== BPF_K || insn.off !== 0 || insn.src !== 0 || insn.dst !== 0) fail('EINVAL', 'BPF_CALL uses reserved fields');
          checkCall(insn.imm);
        } else if (op === BPF_JA) {
          if (cls === BPF_JMP32) {
            // gotol: the offset is in imm
            if (insn.off !== 0 || insn.src !== 0 || insn.dst !== 0) fail('EINVAL', 'BPF_JA uses reserved fields');
            insnIdx += insn.imm + 1;
            continue;
          }
          if (BPF_SRC(insn.code) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0) fail('EINVAL', 'BPF_JA uses reserved fields');
          insnIdx += insn.off + 1;
          continue;
        } else if (cls === BPF_JMP && op === BPF_EXIT) {
          if (BPF_SRC(insn.code) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0) fail('EINVAL', 'BPF_EXIT uses reserved fields');
          srcOp(0);
          exit = true;
        } else if (cls === BPF_JMP32 && (op === BPF_CALL || op === BPF_EXIT)) {
          fail('EINVAL', `invalid BPF_JMP32 opcode ${op.toString(16)}`);
        } else {
          insnIdx = checkCondJmp(insn, insnIdx);
        }
      } else if (cls === BPF_LD) {
        const mode = BPF_MODE(insn.code);
        if (mode === BPF_ABS || mode === BPF_IND) {
          checkLdAbs(insn);
        } else if (mode === BPF_IMM) {
          checkLdImm(insn, insns[insnIdx + 1]);
          insnIdx++;
        } else {
          fail('EINVAL', 'invalid BPF_LD mode');
        }
      } else {
        fail('EINVAL', `unknown insn class ${cls}`);
      }
    }

    if (exit) {
      // process_bpf_exit: continue with the next pending path, or finish
      const next = popStack();
      if (next < 0) break;
      insnIdx = next;
      doPrintState = true;
      continue;
    }
    insnIdx++;
  }
  return { insnProcessed, visited };
}

