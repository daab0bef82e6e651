/**
 * The 3.19 helpers (kernel/bpf/helpers.c): bpf_map_lookup_elem (1),
 * bpf_map_update_elem (2), bpf_map_delete_elem (3), each declared once
 * here (id, name, prototype, implementation, program types, kernel) and
 * listed in the helper table (progs/helpers.ts). r1 is the map's address
 * (what an ld_imm64 of a map fd loads), r2..r4 point to the key and value;
 * results are a value pointer or 0, and 0 or a negative errno as a u64.
 *
 * r1 must be one of the running program's own maps (HelperEnv.mapAt: the
 * maps its instructions reference), verified or not: any other value,
 * another program's map included, is EFAULT and ends the run. A map that
 * finds its own links inconsistent also throws EFAULT (maps/map.ts).
 */

import { BpfError } from '../errors.js';
import type { BpfMapImpl } from '../maps/map.js';
import type { HelperEnv } from '../runtime/helpers.js';
import { ARG, RET, argU32, setR0 } from '../runtime/helpers.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';

export { BPF_FUNC };

function mapArg(regs: Int32Array, env: HelperEnv, name: string): BpfMapImpl {
  const addr = argU32(regs, 1);
  const map = addr < 0 ? undefined : env.mapAt(addr);
  if (!map) {
    const r1 = (regs[3]! >>> 0) === 0 ? (regs[2]! >>> 0).toString(16) : `${(regs[3]! >>> 0).toString(16)}${(regs[2]! >>> 0).toString(16).padStart(8, '0')}`;
    throw new BpfError('EFAULT', `${name}: r1 = 0x${r1} is not a map of this program`);
  }
  return map;
}

function pointer(regs: Int32Array, n: number, size: number, write: boolean, env: HelperEnv): number {
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
    setR0(regs, map.delete(pointer(regs, 2, map.keySize, false, env)));
  },
};
