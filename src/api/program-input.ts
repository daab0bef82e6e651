/**
 * What Program.load does with the `insns` it is given before BPF_PROG_LOAD:
 * logical instructions and raw slot bytes go as they are; an ELF object,
 * assembly text, a JSON program spec and classic BPF (tcpdump -dd / -ddd
 * text, or raw `struct sock_filter` bytes with `classic`) are read by
 * loader/input.ts's programInput, the CLI's reader, so the library takes
 * every input the CLI takes. An input that brings maps (an object's, a
 * spec's) has them created here, their initial values written (global data)
 * and its ld_imm64 slots pointed at them; the loaded program then owns them.
 * No instruction is decoded strictly: the verifier judges them all.
 */

import type { FuncSpan } from '../loader/line-info.js';
import { BpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { encodeSlots } from '../isa/instruction.js';
import { isElf, programInput } from '../loader/input.js';
import type { ProgramInput } from '../loader/input.js';
import { linkMapRefs } from '../loader/collection.js';
import { mapTypeByName } from '../maps/types.js';
import type { ProgTypeName } from '../progs/types.js';
import type { SourceLine } from '../verifier/source-lines.js';
import type { BpfSystem } from './bpf.js';
import { BPF_CMD } from './bpf.js';
import { BpfMap } from './map.js';
import { describe } from './describe.js';

/** How Program.load was asked to read its `insns`. */
export interface ProgramSource {
  insns: readonly Instruction[] | Uint8Array | string;
  /** Uint8Array `insns` are classic BPF `struct sock_filter` bytes (there is no telling them from eBPF slots by content) */
  classic?: boolean;
  /** for an ELF object with several programs: the section or function name of the one to load */
  section?: string;
}

/** The instructions to pass to BPF_PROG_LOAD, with what the input itself says and the maps created for it. */
export interface ResolvedSource {
  insns: readonly Instruction[] | Uint8Array;
  /** the input's own program type and license (an object's section and license section, a spec's fields) */
  type?: ProgTypeName;
  license?: string;
  /** the maps created for the input, by name (an object's symbol, a spec's `name`, else `map<index>`) */
  maps: Record<string, BpfMap>;
  /** an object's line records for the program (compiled with -g) */
  lineInfo?: SourceLine[];
  /** an object's functions for the program, with their prototypes (compiled with -g) */
  funcInfo?: FuncSpan[];
}

/**
 * Read `source.insns`: an array is logical instructions, a Uint8Array an ELF
 * object (by its magic), classic BPF (with `classic`) or raw slots, a string
 * assembly, a JSON program spec or tcpdump -dd / -ddd text. Maps the input
 * needs are created in `sys`; the caller closes them if the load fails.
 */
export function resolveSource(sys: BpfSystem, source: ProgramSource): ResolvedSource {
  const { insns } = source;
  const maps = Object.create(null) as Record<string, BpfMap>;
  if (Array.isArray(insns)) return { insns, maps };
  if (insns instanceof Uint8Array && !source.classic && !isElf(insns)) {
    // raw slots go untouched: BPF_PROG_LOAD reads insn_cnt whole slots from them
    return { insns, maps };
  }
  if (!(insns instanceof Uint8Array) && typeof insns !== 'string') {
    throw new BpfError('EINVAL', `insns must be instructions, a Uint8Array (raw slots, an ELF object, classic BPF) or text (assembly, a JSON program spec, tcpdump -dd), got ${describe(insns)}`);
  }
  const options = source.section === undefined ? { classic: source.classic === true } : { classic: source.classic === true, section: source.section };
  const input = programInput(insns, options);
  try {
    const resolved: ResolvedSource = { insns: encodeSlots(linked(sys, input, maps)), type: input.progType, license: input.license, maps };
    if (input.lineInfo) resolved.lineInfo = input.lineInfo;
    if (input.funcInfo) resolved.funcInfo = input.funcInfo;
    return resolved;
  } catch (e) {
    for (const m of Object.values(maps)) m.close();
    throw e;
  }
}

/** Create the input's maps into `maps` and return its slots with their ld_imm64 pointed at them. */
function linked(sys: BpfSystem, input: ProgramInput, maps: Record<string, BpfMap>): ReturnType<typeof programInput>['slots'] {
  const created = input.maps.map((m, i) => {
    const name = m.name ?? `map${i}`;
    try {
      if (Object.hasOwn(maps, name)) throw new BpfError('EINVAL', 'two maps have this name');
      const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: mapTypeByName(m.type, m.type, sys.runtime.profile).id, key_size: m.key_size, value_size: m.value_size, max_entries: m.max_entries, map_flags: m.flags ?? 0 });
      sys.mapOf(fd).name = name;
      const map = new BpfMap(sys, fd, undefined, undefined, name);
      maps[name] = map;
      if (m.initial) map.update(new Uint8Array(4), m.initial);
      return map;
    } catch (e) {
      if (e instanceof BpfError) throw new BpfError(e.code, `map ${name}: ${e.message}`, { command: e.command });
      throw e;
    }
  });
  const slots = input.slots.map((s) => ({ ...s }));
  linkMapRefs(slots, input.fixups.map(([slot, index, offset]) => ({ slot, fd: created[index]!.fd, offset })));
  return slots;
}
