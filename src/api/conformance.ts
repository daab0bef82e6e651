/**
 * The execution environment the bpf_conformance vectors assume
 * (../shared/conformance/README.md, 3.3): r1 points to a writable copy of the
 * test memory (NULL when there is none), r2 holds its length, and helper 5
 * returns its first argument, ending the program when that is 0 (uBPF's
 * "unwind" helper). Programs run unverified in the checked interpreter under
 * an instruction budget, or on the JIT.
 *
 * It builds engines directly, outside bpf() (the vectors are not programs
 * of any 3.19 program type), so it sits in the API layer, above both
 * engines; the CLI's conformance plugin and the tests use it.
 */

import { Runtime } from '../runtime/runtime.js';
import { HelperRegistry, RET, ARG } from '../runtime/helpers.js';
import type { Engine } from '../runtime/engine.js';
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
  return runVector(rt, new Interpreter(rt.mem, slots, { checked: true, budget, helpers: rt.helpers, regions: rt.regions }), memory);
}

/** The same under the WebAssembly JIT (programs it cannot compile fail with ENOTSUP). */
export function runConformanceJit(slots: readonly Slot[], memory: Uint8Array): bigint {
  const rt = new Runtime({ helpers: conformanceHelpers() });
  return runVector(rt, new JitProgram(rt.mem, slots, { helpers: rt.helpers }), memory);
}

/** One run of `engine` with r1 = a copy of `memory` (NULL when empty), r2 = its length; the copy is the run's one region. */
function runVector(rt: Runtime, engine: Engine, memory: Uint8Array): bigint {
  if (memory.length === 0) return engine.run({ r1: 0, r2: 0 }).r0;
  const addr = rt.mem.alloc(memory.length);
  rt.mem.write(addr, memory);
  return engine.run({
    r1: addr,
    r2: memory.length,
    regions: [{ start: addr, end: addr + memory.length, writable: true, name: 'memory' }],
  }).r0;
}
