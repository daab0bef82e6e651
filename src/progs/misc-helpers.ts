/**
 * The helpers any program type may call that touch neither maps nor
 * packets: bpf_ktime_get_ns (4.1), bpf_get_prandom_u32 (4.1),
 * bpf_get_smp_processor_id (4.1), bpf_trace_printk (4.1),
 * bpf_probe_read_kernel (5.5), bpf_ktime_get_boot_ns (5.8); each declared
 * once and listed in the helper table (progs/helpers.ts).
 *
 * Their state is the runtime's (RunState, runtime/helpers.ts): the clock
 * (monotonic nanoseconds; boot time is the same clock, as nothing here
 * suspends), the random generator (xorshift32, seedable with
 * RunState.seedRandom for reproducible runs; the kernel's sequence is its
 * own), the simulated CPU (Runtime.cpu) and the printk lines, collected in
 * order for the API and the CLI (which prints them to stderr).
 *
 * bpf_probe_read_kernel reads memory the program may read (in tsbpf the
 * only "kernel memory" is the program's context, packet, stack and map
 * values): anything else gives -EFAULT with the destination zeroed, as the
 * kernel's on a faulting address.
 */

import { ARG, ARG_FLAG, RET, argU32, argU64, setR0 } from '../runtime/helpers.js';
import { MAX_CPUS } from '../runtime/runtime.js';
import { BPF_FUNC } from '../isa/uapi.js';
import type { HelperDef } from './helper-def.js';
import { pointer } from './map-helpers.js';
import { formatPrintk } from './printk.js';

export const KTIME_GET_NS: HelperDef = {
  id: BPF_FUNC.ktime_get_ns,
  name: 'bpf_ktime_get_ns',
  proto: { ret: RET.INTEGER, args: [] },
  progTypes: 'all',
  since: '4.1',
  call: (regs, env) => setR0(regs, env.run.clock()),
};

export const KTIME_GET_BOOT_NS: HelperDef = {
  id: BPF_FUNC.ktime_get_boot_ns,
  name: 'bpf_ktime_get_boot_ns',
  proto: { ret: RET.INTEGER, args: [] },
  progTypes: 'all',
  since: '5.8',
  call: (regs, env) => setR0(regs, env.run.clock()),
};

export const GET_PRANDOM_U32: HelperDef = {
  id: BPF_FUNC.get_prandom_u32,
  name: 'bpf_get_prandom_u32',
  proto: { ret: RET.INTEGER, args: [] },
  progTypes: 'all',
  since: '4.1',
  call: (regs, env) => setR0(regs, env.run.nextRandom()),
};

export const GET_SMP_PROCESSOR_ID: HelperDef = {
  id: BPF_FUNC.get_smp_processor_id,
  name: 'bpf_get_smp_processor_id',
  // the verifier knows r0 < nr_cpu_ids; the range here is the widest tsbpf simulates (runtime.ts
  // MAX_CPUS), and the helper keeps to it whatever a caller set Runtime.cpu to
  proto: { ret: RET.INTEGER, args: [], retRange: { min: 0, max: MAX_CPUS - 1 } },
  progTypes: 'all',
  since: '4.1',
  call: (regs, env) => {
    const c = env.run.cpu();
    setR0(regs, Number.isInteger(c) && c >= 0 && c < MAX_CPUS ? c : 0);
  },
};

export const TRACE_PRINTK: HelperDef = {
  id: BPF_FUNC.trace_printk,
  name: 'bpf_trace_printk',
  // the kernel declares the format and its size; r3..r5 are read as the format says
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_MEM | ARG_FLAG.RDONLY, ARG.CONST_SIZE], gplOnly: true },
  progTypes: 'all',
  since: '4.1',
  call(regs, env) {
    const size = argU32(regs, 2);
    if (size <= 0 || size > 0x10000) return setR0(regs, -22);
    const fmt = pointer(regs, 1, size, false, env);
    const line = formatPrintk(env.u8.slice(fmt, fmt + size), [argU64(regs, 3), argU64(regs, 4), argU64(regs, 5)], env);
    if (typeof line === 'number') return setR0(regs, line);
    env.run.printk.push(line);
    setR0(regs, new TextEncoder().encode(line).length);
  },
};

export const PROBE_READ_KERNEL: HelperDef = {
  id: BPF_FUNC.probe_read_kernel,
  name: 'bpf_probe_read_kernel',
  proto: { ret: RET.INTEGER, args: [ARG.PTR_TO_MEM | ARG_FLAG.UNINIT, ARG.CONST_SIZE_OR_ZERO, ARG.ANYTHING], gplOnly: true },
  progTypes: 'all',
  since: '5.5',
  call(regs, env) {
    const size = argU32(regs, 2);
    if (size < 0) return setR0(regs, -22);
    if (size === 0) return setR0(regs, 0);
    const dst = pointer(regs, 1, size, true, env);
    const src = argU32(regs, 3);
    let ok = src >= 0;
    if (ok) {
      try {
        env.access(src, size, false);
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      env.u8.fill(0, dst, dst + size);
      return setR0(regs, -14);
    }
    env.u8.copyWithin(dst, src, src + size);
    setR0(regs, 0);
  },
};
