/**
 * The ring buffer helpers (Linux 5.8): bpf_ringbuf_output, _reserve,
 * _submit, _discard and _query over a BPF_MAP_TYPE_RINGBUF
 * (maps/ringbuf.ts), each declared once and listed in the helper table
 * (progs/helpers.ts).
 *
 * A reserved record is memory inside the ring buffer's storage (its
 * region, which the program may write); submit and discard take its data
 * address, which RunState.reserved maps back to its ring buffer. A record
 * a program never submits (the kernel's verifier refuses such programs)
 * stays reserved (busy) until the next run begins, which discards it: the
 * consumer stops at it until then, as the kernel's would.
 */

import type { HelperEnv } from '../runtime/helpers.js';
import { ARG, ARG_FLAG, RET, argU32, argU64, setR0 } from '../runtime/helpers.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';
import { mapArg, pointer } from './map-helpers.js';

function ringbuf(regs: Int32Array, env: HelperEnv, name: string): RingbufMap | undefined {
  const map = mapArg(regs, env, name);
  return map instanceof RingbufMap ? map : undefined;
}

export const RINGBUF_OUTPUT: HelperDef = {
  id: BPF_FUNC.ringbuf_output,
  name: 'bpf_ringbuf_output',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.PTR_TO_MEM | ARG_FLAG.RDONLY, ARG.CONST_SIZE_OR_ZERO, ARG.ANYTHING] },
  progTypes: 'all',
  since: '5.8',
  call(regs, env) {
    const rb = ringbuf(regs, env, 'bpf_ringbuf_output');
    const size = argU32(regs, 3);
    if (!rb || size < 0) return setR0(regs, -22);
    const data = size === 0 ? 0 : pointer(regs, 2, size, false, env);
    setR0(regs, rb.output(data, size, regs[8]!, regs[9]!));
  },
};

export const RINGBUF_RESERVE: HelperDef = {
  id: BPF_FUNC.ringbuf_reserve,
  name: 'bpf_ringbuf_reserve',
  proto: { ret: RET.PTR_TO_MEM_OR_NULL, args: [ARG.CONST_MAP_PTR, ARG.CONST_ALLOC_SIZE_OR_ZERO, ARG.ANYTHING] },
  progTypes: 'all',
  since: '5.8',
  call(regs, env) {
    const rb = ringbuf(regs, env, 'bpf_ringbuf_reserve');
    const size = argU32(regs, 2);
    if (!rb || size < 0) return setR0(regs, 0);
    const at = rb.reserve(size, regs[6]!, regs[7]!);
    if (at !== 0) env.run.reserved.set(at, rb);
    setR0(regs, at);
  },
};

function commit(regs: Int32Array, env: HelperEnv, discard: boolean): void {
  const addr = argU32(regs, 1);
  const rb = env.run.reserved.get(addr) as RingbufMap | undefined;
  // the kernel's verifier allows only a reserved record here; an unverified program's other pointer does nothing
  if (!rb) return;
  if (rb.commit(addr, discard, regs[4]!, regs[5]!) === 0) env.run.reserved.delete(addr);
}

export const RINGBUF_SUBMIT: HelperDef = {
  id: BPF_FUNC.ringbuf_submit,
  name: 'bpf_ringbuf_submit',
  proto: { ret: RET.VOID, args: [ARG.PTR_TO_RINGBUF_MEM | ARG_FLAG.RELEASE, ARG.ANYTHING] },
  progTypes: 'all',
  since: '5.8',
  call: (regs, env) => commit(regs, env, false),
};

export const RINGBUF_DISCARD: HelperDef = {
  id: BPF_FUNC.ringbuf_discard,
  name: 'bpf_ringbuf_discard',
  proto: { ret: RET.VOID, args: [ARG.PTR_TO_RINGBUF_MEM | ARG_FLAG.RELEASE, ARG.ANYTHING] },
  progTypes: 'all',
  since: '5.8',
  call: (regs, env) => commit(regs, env, true),
};

export const RINGBUF_QUERY: HelperDef = {
  id: BPF_FUNC.ringbuf_query,
  name: 'bpf_ringbuf_query',
  proto: { ret: RET.INTEGER, args: [ARG.CONST_MAP_PTR, ARG.ANYTHING] },
  progTypes: 'all',
  since: '5.8',
  call(regs, env) {
    const rb = ringbuf(regs, env, 'bpf_ringbuf_query');
    const flags = argU64(regs, 2);
    setR0(regs, rb && flags <= 3n ? rb.query(Number(flags)) : 0n);
  },
};
