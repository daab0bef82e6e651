/**
 * The execution environment the bpf_conformance vectors assume
 * (../shared/conformance/README.md, 3.3): r1 points to a writable copy of the
 * test memory (NULL when there is none), r2 holds its length, and helper 5
 * returns its first argument, ending the program when that is 0 (uBPF's
 * "unwind" helper). Programs run unverified in the checked interpreter under
 * an instruction budget.
 */

import { Runtime } from '../runtime/runtime.js';
import { HelperRegistry, RET, ARG } from '../runtime/helpers.js';
import type { Slot } from '../isa/instruction.js';
import { Interpreter } from '../vm/interpreter.js';
import { JitProgram } from '../jit/program.js';

export const CONFORMANCE_BUDGET = 1_000_000;

export function conformanceHelpers(): HelperRegistry {
  return new HelperRegistry().register({
    id: 5,
    name: 'unwind',
    proto: { ret: RET.INTEGER, args: [ARG.ANYTHING] },
    exitOnZero: true,
    call(regs) {
      regs[0] = regs[2]!;
      regs[1] = regs[3]!;
    },
  });
}

/** Run a conformance program over `memory`; returns r0 as an unsigned 64-bit bigint. */
export function runConformance(slots: readonly Slot[], memory: Uint8Array, budget = CONFORMANCE_BUDGET): bigint {
  const rt = new Runtime({ helpers: conformanceHelpers() });
  const interp = new Interpreter(rt.mem, slots, { checked: true, budget, helpers: rt.helpers, regions: rt.regions });
  if (memory.length === 0) return interp.run({ r1: 0, r2: 0 }).r0;
  const addr = rt.mem.alloc(memory.length);
  rt.mem.write(addr, memory);
  return interp.run({
    r1: addr,
    r2: memory.length,
    regions: [{ start: addr, end: addr + memory.length, writable: true, name: 'memory' }],
  }).r0;
}

/** The same under the WebAssembly JIT (programs it cannot compile fail with ENOTSUP). */
export function runConformanceJit(slots: readonly Slot[], memory: Uint8Array): bigint {
  const rt = new Runtime({ helpers: conformanceHelpers() });
  const jit = new JitProgram(rt.mem, slots, { helpers: rt.helpers });
  let r1 = 0;
  if (memory.length > 0) {
    r1 = rt.mem.alloc(memory.length);
    rt.mem.write(r1, memory);
  }
  return jit.run1({ r1, r2: memory.length });
}
