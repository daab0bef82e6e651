/**
 * tsbpf's main entry (`import ... from 'tsbpf'`): the bpf() system and its
 * idiomatic wrappers (Program, BpfMap, Collection, VerifierError), object
 * files as specs, captures, classic BPF, the instruction set and the
 * verifier's verdict. It imports nothing of Node: what reads files by path
 * is `tsbpf/node`. The subpath entries (`tsbpf/isa`, `tsbpf/cbpf`,
 * `tsbpf/elf`, `tsbpf/pcap`, `tsbpf/loader`, `tsbpf/verifier`) give each
 * layer whole, constants included; docs/api.md lists them.
 */
export * from './errors.js';
export * from './isa/index.js';
export { AddressSpace, STACK_TOP, STACK_FRAME_SIZE, MAX_CALL_FRAMES, NULL_PAGE_END } from './memory/address-space.js';
export type { Arena, Lane, MemoryOptions, Region, WasmMemory } from './memory/address-space.js';
export { HelperRegistry, ARG, RET, argU32, argU64, setR0 } from './runtime/helpers.js';
export type { Helper, HelperProto, HelperEnv } from './runtime/helpers.js';
export { Runtime } from './runtime/runtime.js';
export type { RuntimeAttach } from './runtime/runtime.js';
export { Interpreter } from './vm/interpreter.js';
export type { InterpreterOptions, StepPoint, SteppedResult } from './vm/interpreter.js';
export type { Engine, EngineName, RunInput, RunResult } from './runtime/engine.js';
export { SOCKET_FILTER, UNSPEC, programType, BPF_PROG_TYPE } from './progs/types.js';
export type { ProgramType, ProgTypeName } from './progs/types.js';
export { BpfSystem, BPF_CMD, testRun } from './api/bpf.js';
export type { BpfCmdName, MapBatchAttr, MapCreateAttr, MapElemAttr, TestRunResult } from './api/bpf.js';
export type { BpfObject, MapObject, ProgObject } from './api/objects.js';
export { BpfMap, btfCodecs, bytes, u8, u16, u32, i32, u64, i64 } from './api/map.js';
export type { Codec, MapSpec, UpdateFlag } from './api/map.js';
export { Program } from './api/program.js';
export type { ProgramSpec, CaptureVerdict, FrameRunResult } from './api/program.js';
export { Collection } from './api/collection.js';
export type { CollectionMap, CollectionOptions } from './api/collection.js';
export { verifyProgram } from './api/verify.js';
export type { Verdict } from './api/verify.js';
export { BPF_MAP_TYPE, BPF_ANY, BPF_NOEXIST, BPF_EXIST, createMap, jhash } from './maps/index.js';
export { BPF_FUNC } from './progs/map-helpers.js';
export { PROG_TYPES, progTypeById, progTypeByName } from './progs/types.js';
export { MAP_TYPES, mapTypeById, mapTypeByName } from './maps/types.js';
export type { MapType } from './maps/map.js';
export type { MapTypeName } from './maps/types.js';
export { HELPERS, helperDef } from './progs/helpers.js';
export type { HelperDef } from './progs/helpers.js';
export { PROFILE_3_19, PROFILE_MODERN } from './progs/profile.js';
export type { Profile } from './progs/profile.js';
export { PacketRunner } from './api/packets.js';
export { MemProgram } from './api/mem-program.js';
export type { MemProgramSpec, MemRunResult } from './api/mem-program.js';
export { MEM_PROG_TYPE_ID, memType } from './progs/mem.js';
export * from './loader/index.js';
export * from './pcap/index.js';
export {
  parseClassic, parseClassicText, parseDd, parseDdd, decodeClassic, encodeClassic, detectClassicText, formatDd, formatDdd,
  checkClassic, checkSockFilters, convertClassic, disassembleClassic, bpfImage,
} from './cbpf/index.js';
export type { SockFilter, ConvertedProgram } from './cbpf/index.js';
export { compileFilter, compileFilterEbpf, parseFilter, runClassic, FILTER_SNAPLEN, FILTER_LINKTYPES } from './filter/index.js';
export type { CompileFilterOptions, CompileFilterEbpfOptions, EbpfTarget, Expr as FilterExpr } from './filter/index.js';
