/** tsbpf's public API. */
export * from './errors.js';
export * from './isa/index.js';
export { AddressSpace, STACK_TOP, STACK_FRAME_SIZE, MAX_CALL_FRAMES, NULL_PAGE_END } from './runtime/memory.js';
export type { MemoryOptions } from './runtime/memory.js';
export { HelperRegistry, ARG, RET, argU32, argU64, setR0 } from './runtime/helpers.js';
export type { Helper, HelperProto, HelperEnv } from './runtime/helpers.js';
export { Runtime } from './runtime/runtime.js';
export { Interpreter } from './vm/interpreter.js';
export type { InterpreterOptions, Region, RunInput, RunResult } from './vm/interpreter.js';
export { SOCKET_FILTER, UNSPEC, programType, BPF_PROG_TYPE } from './progs/types.js';
export type { ProgramType, ProgTypeName } from './progs/types.js';
