/**
 * Collection: the live maps and programs of a CollectionSpec (read from an
 * object file by loader/collection.ts), as cilium/ebpf's collection.go
 * turns what elf_reader.go reads into objects. The spec is data and may be
 * inspected or changed first; a Collection creates every map (global data
 * with its initial value), points each program's ld_imm64 at its maps and
 * loads it through Program.load, the one path that loads a program with
 * its log (the CLI's also takes it). `programs.x` are Programs (run,
 * runBatch, runCapture, testRun), `maps.x` BpfMaps; a rejected program is a
 * VerifierError with its log (never empty) and the slot at fault.
 *
 * Maps defined with `__array(values, ...)` get what the object puts in
 * them: a map of maps is created against its inner map's template and
 * gets its maps once every map exists, a prog array its programs once every
 * program is loaded (libbpf's order); a slot naming what the spec no longer
 * has stays empty.
 *
 * An object compiled with -g gives each BTF-defined map its key and value
 * types: its BpfMap then has codecs from them (btfCodecs: `maps.flows.lookup({
 * saddr, sport })` gives `{ packets: 14n, bytes: 848n }`), a Uint8Array of
 * the right size still taken as bytes and `maps.x.raw` the map with bytes
 * both ways. `typedMaps: false` keeps every map's keys and values as bytes.
 *
 * The Collection holds a reference to each program, apart from its fd (and
 * its BpfMaps hold theirs): close() releases them and closes the fds that
 * still name them, never an fd number since reused by another object.
 */

import { BpfError, VerifierError } from '../errors.js';
import { escapeControls } from '../elf/index.js';
import { encodeSlots } from '../isa/instruction.js';
import { linkMapRefs, printable } from '../loader/collection.js';
import type { CollectionSpec, MapSpecData } from '../loader/spec.js';
import type { BpfSystem } from './bpf.js';
import { BPF_CMD } from './bpf.js';
import { BpfMap, btfCodecs } from './map.js';
import type { BtfValue } from '../btf/index.js';
import { BPF_MAP_TYPE } from '../maps/map.js';
import { Program } from './program.js';

/** The log size a Collection asks for when logging (3.19's maximum would be 16 MiB). */
const COLLECTION_LOG_SIZE = 1 << 22;

/** How a Collection loads its programs. */
export interface CollectionOptions {
  /** 1: keep each program's verifier log in Program.log (a rejected program has its log whatever this says) */
  logLevel?: number;
  /** false: load the programs without the verifier (Program.load's verify: false; the checked interpreter runs them) */
  verify?: boolean;
  /** source lines (the spec's lineInfo) in a 3.19 profile's logs too; the modern profile's logs always have them */
  source?: boolean;
  /** false: every map's keys and values as bytes (Uint8Array), even where the object's BTF types them (default true) */
  typedMaps?: boolean;
}

/**
 * A map of a Collection: keys and values typed from the object's BTF where
 * it has them (objects, numbers, bigints, strings, names of enum values), else bytes; a
 * Uint8Array of the exact size is always taken as bytes, and `raw` gives
 * bytes back.
 */
export type CollectionMap = BpfMap<BtfValue, BtfValue>;

/**
 * The maps and programs of a CollectionSpec, created and loaded: as
 * cilium/ebpf's NewCollection. close() releases them all.
 */
export class Collection {
  /** The maps by name; without a prototype, so any name (even `__proto__`) is just a key. */
  readonly maps: Record<string, CollectionMap> = Object.create(null) as Record<string, CollectionMap>;
  /** The programs by name (the function's symbol, else the section's name); without a prototype, as maps. */
  readonly programs: Record<string, Program> = Object.create(null) as Record<string, Program>;

  /**
   * Create every map of the spec (in the spec's order), then load every
   * program against them. On any failure what was made is closed again and
   * the error names the map or program (and section).
   */
  constructor(sys: BpfSystem, spec: CollectionSpec, options: CollectionOptions = {}) {
    try {
      for (const [name, m] of Object.entries(spec.maps)) {
        try {
          const attr = (d: MapSpecData): Record<string, number> => ({ map_type: d.type, key_size: d.keySize, value_size: d.valueSize, max_entries: d.maxEntries, map_flags: d.flags });
          // a map of maps is created against a template of its inner maps, closed again once it is (libbpf's way)
          const inner = m.inner === undefined ? undefined : sys.bpf(BPF_CMD.BPF_MAP_CREATE, attr(m.inner));
          let fd: number;
          try {
            fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, inner === undefined ? attr(m) : { ...attr(m), inner_map_fd: inner });
          } finally {
            if (inner !== undefined) sys.close(inner);
          }
          sys.mapOf(fd).name = name;
          const codecs = m.btf && options.typedMaps !== false ? btfCodecs(m.btf, m.keySize, m.valueSize) : undefined;
          this.maps[name] = new BpfMap<BtfValue, BtfValue>(sys, fd, codecs?.key, codecs?.value, name, m.btf);
          if (m.initial) this.maps[name].raw.update(new Uint8Array(4), m.initial);
        } catch (e) {
          if (e instanceof BpfError) throw new BpfError(e.code, `map ${name}: ${e.message}`, { command: e.command, log: e.log });
          throw e;
        }
      }
      // maps of maps: the maps their definitions name (`.values = { [i] = &map }`)
      for (const [name, m] of Object.entries(spec.maps)) {
        if (m.type === BPF_MAP_TYPE.PROG_ARRAY) continue;
        this.fill(name, m, this.maps, (x) => x.fd);
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
            ...(options.verify === false ? { verify: false } : {}),
            ...(p.lineInfo ? { lineInfo: p.lineInfo, source: options.source === true } : {}),
            ...(p.funcInfo ? { funcInfo: p.funcInfo } : {}),
          });
          this.programs[name] = prog;
        } catch (e) {
          const context = `program ${name} (section ${p.section})`;
          // names come from the object: escaped here, as printable() escapes other errors below
          if (e instanceof VerifierError) throw e.withContext(escapeControls(context));
          if (e instanceof BpfError) throw new BpfError(e.code, `${context}: ${e.message}`, { command: e.command, log: e.log });
          throw e;
        }
      }
      // prog arrays: the programs their definitions name, once all are loaded
      for (const [name, m] of Object.entries(spec.maps)) {
        if (m.type === BPF_MAP_TYPE.PROG_ARRAY) this.fill(name, m, this.programs, (x) => x.fd);
      }
    } catch (e) {
      this.close();
      throw printable(e);
    }
  }

  /**
   * Put in map `name` the objects its spec's `contents` name, each by fd at
   * its index (a u32 key). A slot naming a program or map taken out of the
   * spec stays empty, as a program libbpf does not load leaves its slot.
   */
  private fill<T>(name: string, m: MapSpecData, objects: Record<string, T>, fdOf: (x: T) => number): void {
    for (const { index, name: target } of m.contents ?? []) {
      if (!Object.hasOwn(objects, target)) continue;
      try {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, index, true);
        const value = new Uint8Array(4);
        new DataView(value.buffer).setUint32(0, fdOf(objects[target]!), true);
        this.maps[name]!.raw.update(key, value);
      } catch (e) {
        if (e instanceof BpfError) throw new BpfError(e.code, `map ${name}: ${e.message}`, { command: e.command, log: e.log });
        throw e;
      }
    }
  }

  private closed = false;

  /** Close every map and program of the collection (their fds too, where they still name them). Twice is a no-op. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
  }
}
