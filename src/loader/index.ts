/**
 * Object files as data (`tsbpf/loader`): loadCollectionSpec reads a
 * clang-compiled object into a CollectionSpec (maps, programs linked with
 * the functions they call, license) to
 * inspect or change before `new Collection(sys, spec)` loads it;
 * linkMapRefs points a program's ld_imm64 at map fds by hand.
 */
export { loadCollectionSpec, linkMapRefs, R_BPF_64_64, R_BPF_64_32, MAX_GLOBAL_DATA } from './collection.js';
export type { CollectionSpec, FunctionSpec, MapBtf, MapSpecData, OriginSpec, ProgramSpecData } from './spec.js';
export { VariableSpec, setVariables } from './variables.js';
export { programInput, detectFormat, parseSpec, isElf } from './input.js';
export type { ProgramInput, ProgramInputOptions, InputFormat, InputMapSpec, InputFixup } from './input.js';
