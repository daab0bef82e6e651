/**
 * Collection: the live maps and programs of a CollectionSpec (read from an
 * object file by loader/collection.ts), as cilium/ebpf's collection.go
 * turns what elf_reader.go reads into objects. The spec is data and may be
 * inspected or changed first; a Collection creates every map (global data
 * with its initial value), points each program's ld_imm64 at its maps and
 * loads it through Program.load, the one path that loads a program with
 * its log (the CLI's also takes it).
 *
 * The Collection holds a reference to each program, apart from its fd (and
 * its BpfMaps hold theirs): close() releases them and closes the fds that
 * still name them, never an fd number since reused by another object.
 */

import { BpfError } from '../errors.js';
import { encodeSlots } from '../isa/instruction.js';
import { linkMapRefs, printable } from '../loader/collection.js';
import type { CollectionSpec } from '../loader/spec.js';
import type { BpfSystem } from './bpf.js';
import { BPF_CMD } from './bpf.js';
import { BpfMap } from './map.js';
import { Program } from './program.js';

/** The log size a Collection asks for when logging (3.19's maximum would be 16 MiB). */
const COLLECTION_LOG_SIZE = 1 << 22;

export class Collection {
  /** by name; without a prototype, so any name (even `__proto__`) is just a key */
  readonly maps: Record<string, BpfMap> = Object.create(null) as Record<string, BpfMap>;
  readonly programs: Record<string, { fd: number; name: string; section: string }> = Object.create(null) as Record<string, { fd: number; name: string; section: string }>;
  private readonly held: Program[] = [];

  constructor(sys: BpfSystem, spec: CollectionSpec, options: { logLevel?: number } = {}) {
    try {
      for (const [name, m] of Object.entries(spec.maps)) {
        try {
          const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: m.type, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries, map_flags: m.flags });
          sys.mapOf(fd).name = name;
          this.maps[name] = new BpfMap(sys, fd, undefined, undefined, name);
          if (m.initial) this.maps[name].update(new Uint8Array(4), m.initial);
        } catch (e) {
          if (e instanceof BpfError) throw new BpfError(e.code, `map ${name}: ${e.message}`, { command: e.command, log: e.log });
          throw e;
        }
      }
      for (const [name, p] of Object.entries(spec.programs)) {
        try {
          const slots = p.insns.map((s) => ({ ...s }));
          linkMapRefs(slots, p.mapRefs.map((r) => {
            if (!Object.hasOwn(this.maps, r.map)) throw new BpfError('EINVAL', `ld_imm64 at slot ${r.slot} refers to unknown map ${r.map}`);
            return { slot: r.slot, fd: this.maps[r.map]!.fd, offset: r.offset };
          }));
          const prog = Program.load(sys, {
            type: p.type,
            insns: encodeSlots(slots),
            license: spec.license,
            logLevel: options.logLevel ?? 0,
            logSize: COLLECTION_LOG_SIZE,
          });
          this.held.push(prog);
          this.programs[name] = { fd: prog.fd, name, section: p.section };
        } catch (e) {
          if (e instanceof BpfError) throw new BpfError(e.code, `program ${name} (section ${p.section}): ${e.message}`, { command: e.command, log: e.log });
          throw e;
        }
      }
    } catch (e) {
      this.close();
      throw printable(e);
    }
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.held) p.close();
    for (const m of Object.values(this.maps)) m.close();
  }
}
