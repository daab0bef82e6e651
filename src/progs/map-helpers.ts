/**
 * The 3.19 helpers (kernel/bpf/helpers.c): bpf_map_lookup_elem (1),
 * bpf_map_update_elem (2), bpf_map_delete_elem (3), each declared once
 * here (id, name, prototype, implementation, program types, kernel) and
 * listed in the helper table (progs/helpers.ts). r1 is the map's address
 * (what an ld_imm64 of a map fd loads), r2..r4 point to the key and value;
 * results are a value pointer or 0, and 0 or a negative errno as a u64.
 *
 * The queue and stack helpers of 4.20 (bpf_map_push_elem, _pop_elem,
 * _peek_elem) are declared here too: r2 is the value (or where to put it),
 * r3 push's flags (BPF_EXIST replaces the oldest element of a full map).
 *
 * A program may not delete from a prog array or a map of maps (-EINVAL;
 * the kernel's verifier refuses the call), nor update them.
 *
 * r1 must be one of the running program's own maps (HelperEnv.mapAt: the
 * maps its instructions reference), verified or not: any other value,
 * another program's map included, is EFAULT and ends the run. A map that
 * finds its own links inconsistent also throws EFAULT (maps/map.ts).
 */

import { BpfError } from '../errors.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { HelperEnv } from '../runtime/helpers.js';
import { ARG, ARG_FLAG, RET, argU32, setR0 } from '../runtime/helpers.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';

export { BPF_FUNC };

export function mapArg(regs: Int32Array, env: HelperEnv, name: string): BpfMapImpl {
  const addr = argU32(regs, 1);
  const map = addr < 0 ? undefined : env.mapAt(addr);
  if (!map) {
    const r1 = (regs[3]! >>> 0) === 0 ? (regs[2]! >>> 0).toString(16) : `${(regs[3]! >>> 0).toString(16)}${(regs[2]! >>> 0).toString(16).padStart(8, '0')}`;
    throw new BpfError('EFAULT', `${name}: r1 = 0x${r1} is not a map of this program`);
  }
  return map;
}

export function pointer(regs: Int32Array, n: number, size: number, write: boolean, env: HelperEnv): number {
  const addr = argU32(regs, n);
  if (addr < 0) {
    throw new BpfError('EFAULT', `r${n} = 0x${(regs[2 * n + 1]! >>> 0).toString(16)}${(regs[2 * n]! >>> 0).toString(16).padStart(8, '0')} is outside the address space`);
  }
  env.access(addr, size, write);
  return addr;
}

export const MAP_LOOKUP_ELEM: HelperDef = {
  id: BPF_FUNC.map_lookup_elem,
  name: 'bpf_map_lookup_elem',
  proto: { ret: RET.PTR_TO_MAP_VALUE_OR_NULL, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_KEY] },
  progTypes: 'all',
  since: '3.19',
  call(regs, env) {
    const map = mapArg(regs, env, 'bpf_map_lookup_elem');
    setR0(regs, map.lookup(pointer(regs, 2, map.keySize, false, env)));
  },
};

export const MAP_UPDATE_ELEM: HelperDef = {
  id: BPF_FUNC.map_update_elem,
  name: 'bpf_map_update_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_KEY, ARG.PTR_TO_MAP_VALUE, ARG.ANYTHING] },
  progTypes: 'all',
  since: '3.19',
  call(regs, env) {
    const map = mapArg(regs, env, 'bpf_map_update_elem');
    const key = pointer(regs, 2, map.keySize, false, env);
    const value = pointer(regs, 3, map.valueSize, false, env);
    setR0(regs, map.update(key, value, regs[8]!, regs[9]!));
  },
};

export const MAP_DELETE_ELEM: HelperDef = {
  id: BPF_FUNC.map_delete_elem,
  name: 'bpf_map_delete_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_KEY] },
  progTypes: 'all',
  since: '3.19',
  call(regs, env) {
    const map = mapArg(regs, env, 'bpf_map_delete_elem');
    // A prog array or map of maps: the kernel's verifier gives programs only bpf_tail_call / lookup on
    // them; an unverified program gets -EINVAL (a delete would drop the last reference to the program
    // running, or to a map it is using, in the middle of its run)
    if (map.fdKind !== undefined) return setR0(regs, -22);
    setR0(regs, map.delete(pointer(regs, 2, map.keySize, false, env)));
  },
};

/** The queue/stack operation of `map`, or EINVAL (a map of another type: the verifier refuses it; an unverified program gets -EINVAL). */
function queueMap(regs: Int32Array, env: HelperEnv, name: string): BpfMapImpl | undefined {
  const map = mapArg(regs, env, name);
  return map.push && map.pop && map.peek ? map : undefined;
}

export const MAP_PUSH_ELEM: HelperDef = {
  id: BPF_FUNC.map_push_elem,
  name: 'bpf_map_push_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_VALUE, ARG.ANYTHING] },
  progTypes: 'all',
  since: '4.20',
  call(regs, env) {
    const map = queueMap(regs, env, 'bpf_map_push_elem');
    if (!map) return setR0(regs, -22);
    setR0(regs, map.push!(pointer(regs, 2, map.valueSize, false, env), regs[6]!, regs[7]!));
  },
};

export const MAP_POP_ELEM: HelperDef = {
  id: BPF_FUNC.map_pop_elem,
  name: 'bpf_map_pop_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_VALUE | ARG_FLAG.UNINIT] },
  progTypes: 'all',
  since: '4.20',
  call(regs, env) {
    const map = queueMap(regs, env, 'bpf_map_pop_elem');
    if (!map) return setR0(regs, -22);
    setR0(regs, map.pop!(pointer(regs, 2, map.valueSize, true, env)));
  },
};

export const MAP_PEEK_ELEM: HelperDef = {
  id: BPF_FUNC.map_peek_elem,
  name: 'bpf_map_peek_elem',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MAP_VALUE | ARG_FLAG.UNINIT] },
  progTypes: 'all',
  since: '4.20',
  call(regs, env) {
    const map = queueMap(regs, env, 'bpf_map_peek_elem');
    if (!map) return setR0(regs, -22);
    setR0(regs, map.peek!(pointer(regs, 2, map.valueSize, true, env)));
  },
};
