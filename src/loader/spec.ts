/**
 * The object-file specs: the maps and programs of a BPF object as data,
 * before anything is created or loaded (cilium/ebpf's CollectionSpec,
 * MapSpec and ProgramSpec). The ELF reader (collection.ts) and the BTF
 * reader (btf.ts) build them; api/collection.ts turns them into live maps
 * and programs. Types only, so both readers import them without importing
 * each other.
 */

import type { Btf, BtfVarSecinfo } from '../btf/index.js';
import type { FuncSpan } from './line-info.js';
import type { Slot } from '../isa/instruction.js';
import type { ProgTypeName } from '../progs/types.js';
import type { SourceLine } from '../verifier/source-lines.js';
import type { VariableSpec } from './variables.js';

/**
 * A map's key and value types in its object's BTF (`__type(key, T)`,
 * `__type(value, T)`), as the kernel's BPF_MAP_CREATE takes btf_key_type_id
 * and btf_value_type_id: what typed maps and readable dumps are made from.
 * 0 where the definition gives a size only (`__uint(key_size, 4)`).
 */
export interface MapBtf {
  btf: Btf;
  key: number;
  value: number;
  /**
   * A global-data map (`.rodata`, `.data`, `.bss`): `value` is its section's
   * DATASEC, and these its variables at their offsets in the section, from
   * the symbol table (a clang object's DATASEC says 0 for every offset and
   * size until libbpf fixes it up; the kernel's is the fixed one).
   */
  vars?: BtfVarSecinfo[];
}

/** A map as an object file defines it: type, sizes, entries, flags, initial value (global data). */
export interface MapSpecData {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** global data (.data, .rodata): the value of element 0 at creation; absent for .bss, which starts zeroed */
  initial?: Uint8Array;
  /**
   * A map of maps' inner map (BTF `__array(values, struct inner)`): the
   * template it is created with (inner_map_fd), created and closed again
   * around the outer map's creation, as libbpf does. Named `outer.inner`.
   */
  inner?: MapSpecData;
  /**
   * What an object puts in a prog array or a map of maps at load
   * (`.values = { [i] = &x }`): the program (prog array) or map (map of
   * maps) named at each index. A Collection fills map slots once every map
   * exists and prog array slots once every program is loaded.
   */
  contents?: { index: number; name: string }[];
  /** the key and value types of a BTF-defined map (`__type(key, ...)`, `__type(value, ...)`) */
  btf?: MapBtf;
}

/** One function of a linked program: where it starts in `insns`, and how the kernel would verify it. */
export interface FunctionSpec {
  name: string;
  /** its first slot in the program's `insns` */
  insn: number;
  /**
   * a global (non-static, not hidden) function, which the kernel verifies
   * on its own from BTF func info; tsbpf verifies every function in its
   * caller's context for now
   */
  global: boolean;
}

/** A run of a program's slots copied from one place of the object (for .BTF.ext line and func info). */
export interface OriginSpec {
  /** the executable section the slots come from */
  section: string;
  /** the first slot's index in that section */
  sectionInsn: number;
  /** the first slot's index in the program's `insns` */
  insn: number;
  /** how many slots */
  count: number;
}

/**
 * A program as an object file holds it: name, section, type, raw slots
 * (its function, then the functions it calls, linked as libbpf links
 * them), map references.
 */
export interface ProgramSpecData {
  /** the function symbol's name (or the section's, when it has no symbol) */
  name: string;
  section: string;
  type: ProgTypeName;
  /** the program's raw slots; ld_imm64 of maps carry src_reg 0 and imm 0 until loaded */
  insns: Slot[];
  /** the map each ld_imm64 slot refers to; with `offset`, a pointer into the map's value (global data) */
  mapRefs: { slot: number; map: string; offset?: number }[];
  /**
   * The functions linked into the program (ELF objects): the program's own
   * first, then each function it reaches by bpf-to-bpf calls or callbacks,
   * appended once in the order libbpf appends them.
   */
  functions?: FunctionSpec[];
  /** Where each run of slots came from (ELF objects), in `insns` order. */
  origins?: OriginSpec[];
  /**
   * the source line of each run of instructions (from the object's .BTF.ext,
   * program-relative, ascending; absent without -g): BPF_PROG_LOAD's
   * `line_info`, shown in the verifier's log and by `tsbpf disasm`
   */
  lineInfo?: SourceLine[];
  /**
   * the functions of the program (func_info): where each starts, its name and
   * C declaration (`int f(struct xdp_md * ctx)`), and its linkage and
   * prototype's argument kinds, which BPF_PROG_LOAD's `func_info` takes
   */
  funcInfo?: FuncSpan[];
}

/** An object file's maps and programs as data, as loadCollectionSpec reads them (cilium/ebpf's CollectionSpec). */
export interface CollectionSpec {
  maps: Record<string, MapSpecData>;
  programs: Record<string, ProgramSpecData>;
  license: string;
  /** the `version` section (kernel version for kprobes), 0 when absent */
  version: number;
  /**
   * The variables of the global data (`.rodata`, `.data`, `.bss`...) by
   * name, each read and set in its section's initial value before load
   * (`spec.variables.port.set(443)`, cilium/ebpf's `Variables`); without a
   * prototype, as maps. setVariables sets several by name with errors for
   * the names that do not exist.
   */
  variables: Record<string, VariableSpec>;
}

