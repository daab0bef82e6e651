/**
 * Hardened mode (JitOptions.hardened, for untrusted programs): what a
 * program may touch besides its stack frames and its run's two regions.
 * This file owns the value regions of the program's maps (derived from each
 * map's layout and checked against it), the two functions the module gets
 * for the regions (setRegions, and checkMaps when the program has more maps
 * than compile.ts checks inline), and the JavaScript side of the checks
 * (Guard): the helpers' pointer arguments and the fault messages. The
 * inline check at each load, store and atomic is generated with the rest of
 * the code, in compile.ts (access()).
 */

import { BpfError, InternalError } from '../errors.js';
import { MAX_CALL_FRAMES, NULL_PAGE_END, STACK_FRAME_SIZE, STACK_TOP } from '../memory/address-space.js';
import type { BpfMapImpl } from '../maps/map.js';
import { BPF_MAP_TYPE, roundUp8 } from '../maps/map.js';
import { mapTypeName } from '../maps/types.js';
import { ArrayMapBase } from '../maps/array.js';
import { CACHE_LINE, HashMapBase } from '../maps/hash.js';
import { LpmTrieMap } from '../maps/lpm-trie.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { Emitter, OP, T, VOID } from './wasm.js';
import { G_A_LO, G_B_LO, NO_REGION, NO_REGION_END, R_END, R_LO, R_LOW } from './layout.js';

/** What a hardened program may touch besides its stack frames, its run's regions and its maps' values. */
export interface HardenedOptions {
  /**
   * execBatch: the context of each run is [r1, r1 + size) (the packet,
   * read-only, is the descriptor's); exec takes its regions from RunInput.
   */
  batchContext: { size: number; writable: boolean };
}

/** Where a map's values lie: element i's value is [start + i*stride + valueOff, + valueSize). */
export interface ValueRegion {
  /** the map's address (what ld_imm64 of its fd loads) and key size, for lookups */
  addr: number;
  keySize: number;
  start: number;
  end: number;
  stride: number;
  valueOff: number;
  valueSize: number;
  name: string;
}

/**
 * The value storage of a map for the hardened checks, from its shape (the
 * maps' layout, maps/array.ts and maps/hash.ts: element = key rounded to 8,
 * then value rounded to 8, or for per-CPU hash maps in a shared memory
 * (cacheLines) key and each value rounded to CACHE_LINE, the elements
 * aligned to it; an array's elements have no key), not from its
 * header, which nothing reads back. Hash maps: the value part of every
 * element slot, allocated or free (a per-element state check would need the
 * JavaScript-side state array); keys, the links' mirror after the elements
 * and the pin words stay out of reach. Checked against the map's own
 * JitMapLayout where it has one, so a change of layout in maps/ cannot
 * silently widen what a hardened program reaches.
 *
 * Several regions, or none, per map: a per-CPU map's values are one region
 * per CPU (a per-CPU hash element holds every CPU's value after its key, so
 * CPU c's values are the elements' value parts at valueOff + c * cpuStride;
 * a per-CPU array is the array of max_entries x CPUs values it is laid out
 * as). Maps whose values no program reaches (queue, stack: only the helpers
 * copy values in and out; prog arrays: their values are references) give
 * none. An LPM trie's values are its value slots, used or free, as a hash's.
 * A ring buffer's records are the data area of the ring, reserved or not:
 * coarser than the checked interpreter (which allows only records reserved
 * and not yet committed), but inside the map's own storage, whose record
 * headers and positions the JavaScript side keeps and never reads back.
 * Maps of maps give none: their values are references; the values a
 * program reaches through them are those of whichever inner maps they hold
 * at the time, which the compiled checks cannot know: an access there
 * reaches the fault import, and Guard allows it (innerAllows).
 */
export function valueRegions(m: BpfMapImpl): ValueRegion[] {
  const v = roundUp8(m.valueSize);
  const l = m.jitLayout?.();
  const { start, end } = m.region;
  const one = (stride: number, valueOff: number, valueSize: number, elems: number, name: string): ValueRegion => {
    if (end !== start + elems * stride) throw layoutMismatch(m);
    return { addr: m.addr, keySize: m.keySize, start, end, stride, valueOff, valueSize, name };
  };
  switch (m.type) {
    case BPF_MAP_TYPE.ARRAY:
    case BPF_MAP_TYPE.PERCPU_ARRAY: {
      if (!(m instanceof ArrayMapBase) || m.elemSize !== v) throw layoutMismatch(m);
      if (m.type === BPF_MAP_TYPE.ARRAY && (l?.type !== BPF_MAP_TYPE.ARRAY || l.addr !== m.addr || l.base !== start || l.stride !== v)) throw layoutMismatch(m);
      const name = m.type === BPF_MAP_TYPE.ARRAY ? 'array map value' : 'percpu_array map value';
      return [one(v, 0, m.valueSize, m.maxEntries * m.ncpus, name)];
    }
    case BPF_MAP_TYPE.HASH:
    case BPF_MAP_TYPE.PERCPU_HASH:
    case BPF_MAP_TYPE.LRU_HASH:
    case BPF_MAP_TYPE.LRU_PERCPU_HASH: {
      if (!(m instanceof HashMapBase)) throw layoutMismatch(m);
      const k = roundUp8(m.keySize);
      const perCpu = m.type === BPF_MAP_TYPE.PERCPU_HASH || m.type === BPF_MAP_TYPE.LRU_PERCPU_HASH;
      // cache lines (the shared memory's per-CPU variants only): key and each value rounded up to whole lines, aligned elements
      if (m.cacheLines && (!perCpu || m.base % CACHE_LINE !== 0)) throw layoutMismatch(m);
      const line = (n: number): number => (m.cacheLines ? Math.ceil(n / CACHE_LINE) * CACHE_LINE : n);
      const off = line(k);
      const stride = line(v);
      if (m.ncpus !== 1 && !perCpu) throw layoutMismatch(m);
      if (m.keyRound !== k || m.valueRound !== v || m.valueOff !== off || m.cpuStride !== stride || m.elemSize !== off + stride * m.ncpus || m.base !== start) throw layoutMismatch(m);
      if (m.type === BPF_MAP_TYPE.HASH) {
        if (l?.type !== BPF_MAP_TYPE.HASH || l.addr !== m.addr || l.base !== start || l.stride !== m.elemSize || l.keyRound !== k || l.valueOff !== off || l.cap !== m.cap || l.perCpu) throw layoutMismatch(m);
        if (Math.min(l.suspect, l.heads, l.next, l.hashes, l.pinned) < end) throw layoutMismatch(m);
      }
      // the JIT's inline per-CPU lookup (percpu_hash) must give the addresses these regions hold
      const p = m.jitPerCpuLayout();
      if (p && (p.base !== start || p.stride !== m.elemSize || p.valueOff !== off || p.perCpu?.cpuStride !== stride || p.perCpu.ncpus !== m.ncpus || p.cap !== m.cap)) throw layoutMismatch(m);
      const name = `${mapTypeName(m.type)} map value`;
      return Array.from({ length: m.ncpus }, (_, c) => one(m.elemSize, off + c * stride, m.valueSize, m.cap, name));
    }
    case BPF_MAP_TYPE.LPM_TRIE:
      if (!(m instanceof LpmTrieMap)) throw layoutMismatch(m);
      return [one(v, 0, m.valueSize, m.maxEntries, 'lpm_trie map value')];
    case BPF_MAP_TYPE.RINGBUF:
      if (!(m instanceof RingbufMap) || end !== start + 2 * m.maxEntries) throw layoutMismatch(m);
      return [one(end - start, 0, end - start, 1, 'ringbuf record')];
    case BPF_MAP_TYPE.QUEUE:
    case BPF_MAP_TYPE.STACK:
    case BPF_MAP_TYPE.ARRAY_OF_MAPS:
    case BPF_MAP_TYPE.HASH_OF_MAPS:
      // (a hash of maps keeps the inner maps' ids in hash elements of its own, which no program reads)
      return [];
    case BPF_MAP_TYPE.PROG_ARRAY:
      if (m.region.start !== m.region.end) throw layoutMismatch(m);
      return [];
    default:
      throw new BpfError('ENOTSUP', `the hardened JIT does not know the layout of map type ${mapTypeName(m.type)} (${m.type})`);
  }
}

function layoutMismatch(m: BpfMapImpl): InternalError {
  return new InternalError(`the hardened JIT's value layout of the map at 0x${m.addr.toString(16)} disagrees with the map's own`);
}

/**
 * Hardened mode: setRegions(aStart, aLen, bStart, bLen, writable), which
 * exec calls before a run (a batch computes the same per run, inline), sets
 * the run's two regions (bit 0 of writable: A may be written, bit 1: B). A
 * region that is empty or starts in the null page is absent: its low bound
 * is NO_REGION and its end NO_REGION_END, so the check `lo <= ea <= end - size` (u64)
 * holds for no address; a present one ends at or above NULL_PAGE_END, so
 * end - size cannot wrap.
 */
export function setRegionsFunction(): Emitter {
  const c = new Emitter();
  const flags = 4;
  for (const [g, lo, len, bit] of [[G_A_LO, 0, 1, 1], [G_B_LO, 2, 3, 2]] as const) {
    c.get(lo).i32(NULL_PAGE_END).op(OP.i32_lt_u).get(len).op(OP.i32_eqz).op(OP.i32_or).op(OP.if).byte(VOID);
    c.i64(NO_REGION).gset(g + R_LO).i64(NO_REGION_END).gset(g + R_END).i64(NO_REGION).gset(g + R_LOW);
    c.op(OP.else);
    c.get(lo).op(OP.i64_extend_i32_u).gset(g + R_LO);
    c.get(lo).op(OP.i64_extend_i32_u).get(len).op(OP.i64_extend_i32_u).op(OP.i64_add).gset(g + R_END);
    c.get(flags).i32(bit).op(OP.i32_and).op(OP.if).byte(T.i64).get(lo).op(OP.i64_extend_i32_u).op(OP.else).i64(NO_REGION).op(OP.end);
    c.gset(g + R_LOW);
    c.op(OP.end);
  }
  return c;
}

/**
 * Hardened mode with many maps: checkMaps(ea, size) -> 1 when [ea, ea +
 * size) lies inside one value of a referenced map (the test access() makes
 * inline for a few maps, with the size a parameter: size <= valueSize first,
 * so that no bound below can wrap).
 */
export function checkMapsFunction(maps: readonly ValueRegion[]): Emitter {
  const c = new Emitter();
  const ea = 0;
  const size = 1;
  const t = 2;
  for (const m of maps) {
    c.get(size).i32(m.valueSize).op(OP.i32_le_u).op(OP.if).byte(VOID);
    c.get(ea).i64(m.start).op(OP.i64_sub).tee(t).i64(m.end - m.start).get(size).op(OP.i64_extend_i32_u).op(OP.i64_sub).op(OP.i64_le_u);
    c.op(OP.if).byte(VOID);
    c.get(t).op(OP.i32_wrap_i64);
    if (m.stride & (m.stride - 1)) c.i32(m.stride).op(OP.i32_rem_u);
    else c.i32(m.stride - 1).op(OP.i32_and);
    if (m.valueOff !== 0) c.i32(m.valueOff).op(OP.i32_sub);
    c.i32(m.valueSize).get(size).op(OP.i32_sub).op(OP.i32_le_u).op(OP.if).byte(VOID).i32(1).op(OP.return).op(OP.end);
    c.op(OP.end).op(OP.end);
  }
  c.i32(0);
  return c;
}

/** A region of exec's input (memory/address-space.ts's Region, as far as the guard reads it). */
type RunRegion = { readonly start: number; readonly end: number; readonly writable: boolean; readonly name: string };

/** The names of a batch run's regions A and B, for fault messages. */
export const BATCH_NAMES = ['context', 'packet'] as const;

/**
 * Hardened mode's JavaScript side: the same regions as the compiled checks
 * (read back from the instance's globals), for the helpers' pointer
 * arguments (HelperEnv.access) and for the fault messages, which follow the
 * checked interpreter's: pc, read or write, size, address, and why.
 */
export class Guard {
  /** the pc of the helper call or access being checked */
  pc = 0;
  /** the names of the run's regions A and B */
  names: readonly string[] = BATCH_NAMES;
  /**
   * What the callbacks running may read besides (the keys
   * bpf_for_each_map_elem passes, innermost last): the compiled checks do
   * not know them, so a read there reaches the fault import, which lets it
   * go on (extraAllows); helpers' pointers are checked here too.
   */
  readonly extras: RunRegion[] = [];
  /**
   * The inner maps the program's maps of maps hold now (undefined: it uses
   * none): their values are allowed as the referenced maps' are, found at
   * the time of the access (the compiled checks send it to the fault import).
   */
  private readonly inner: (() => readonly BpfMapImpl[]) | undefined;
  /** each inner map's value regions, computed once (a map's layout does not change) */
  private readonly innerRegions = new WeakMap<BpfMapImpl, readonly ValueRegion[]>();
  private readonly g: Record<string, WebAssembly.Global>;
  private readonly setRegionsFn: (aStart: number, aLen: number, bStart: number, bLen: number, writable: number) => void;
  private readonly maps: readonly ValueRegion[];
  private readonly depth: WebAssembly.Global;
  /** the lane's stack top (the frames are below it) */
  private readonly stackTop: number;

  constructor(instance: WebAssembly.Instance, maps: readonly ValueRegion[], inner?: () => readonly BpfMapImpl[], stackTop = STACK_TOP) {
    this.inner = inner;
    this.stackTop = stackTop;
    this.g = instance.exports as unknown as Record<string, WebAssembly.Global>;
    this.depth = this.g['depth']!;
    this.setRegionsFn = instance.exports['setRegions'] as Guard['setRegionsFn'];
    this.maps = maps;
  }

  /** exec's regions: at most two, A and B; the rest of memory stays out of reach. */
  setRegions(regions: readonly RunRegion[]): void {
    if (regions.length > 2) throw new BpfError('EINVAL', `the hardened JIT takes at most 2 regions per run, got ${regions.length}`);
    const a = regions[0];
    const b = regions[1];
    const len = (r: typeof a): number => (r && r.end > r.start ? r.end - r.start : 0);
    this.setRegionsFn(a?.start ?? 0, len(a), b?.start ?? 0, len(b), (a?.writable ? 1 : 0) | (b?.writable ? 2 : 0));
    this.names = [a?.name ?? 'region A', b?.name ?? 'region B'];
    this.set = regions;
    this.setBounds = [a?.start ?? 0, a?.end ?? 0, b?.start ?? 0, b?.end ?? 0];
  }

  /** execBatch: the regions are each descriptor's, which the compiled code sets (resync leaves them) */
  batch(): void {
    this.names = BATCH_NAMES;
    this.set = [];
    this.setBounds = [0, 0, 0, 0];
  }

  /** the regions exec set, and their bounds then */
  private set: readonly RunRegion[] = [];
  private setBounds: number[] = [0, 0, 0, 0];

  /**
   * After a helper call: a helper that moves the run's frame
   * (bpf_xdp_adjust_head/meta/tail, bpf_skb_change_head/tail: progs/frame.ts)
   * moves its region's bounds in place; set the globals again when they
   * moved (the compiled code reloads them after every call).
   */
  resync(): void {
    const a = this.set[0];
    const b = this.set[1];
    const n = this.setBounds;
    if ((a?.start ?? 0) !== n[0] || (a?.end ?? 0) !== n[1] || (b?.start ?? 0) !== n[2] || (b?.end ?? 0) !== n[3]) this.setRegions(this.set);
  }

  private num(name: string): number {
    return Number(this.g[name]!.value as bigint);
  }

  /** The run's regions as the compiled code sees them: [lo, end), writable; absent ones left out. */
  private runRegions(): { lo: number; end: number; writable: boolean; name: string }[] {
    const out = [];
    for (const [p, name] of [['a', this.names[0]!], ['b', this.names[1]!]] as const) {
      const lo = this.g[`${p}Lo`]!.value as bigint;
      if (lo === NO_REGION) continue;
      out.push({ lo: Number(lo), end: this.num(`${p}End`), writable: (this.g[`${p}LoW`]!.value as bigint) !== NO_REGION, name });
    }
    return out;
  }

  /** Throw EFAULT unless [addr, addr + size) is allowed, as the compiled checks decide. */
  check(addr: number, size: number, write: boolean): void {
    // the frames and the maps' values first, where helpers' keys and values are, without BigInt
    const top = this.stackTop;
    if (addr >= NULL_PAGE_END && addr + size <= top && addr >= top - ((this.depth.value as number) + 1) * STACK_FRAME_SIZE) return;
    if (this.inMaps(addr, size) || this.innerAllows(addr, size)) return;
    const a = BigInt(addr);
    if (this.why(a, size, write) !== undefined) throw this.fault(a, size, write);
  }

  /** [x, x + size) lies in the value part of one element of a referenced map. */
  private inMaps(x: number, size: number): boolean {
    return inRegions(this.maps, x, size);
  }

  /**
   * What the compiled checks leave to JavaScript (the fault import asks):
   * a read of [addr, addr + size) inside one of the callbacks' extra regions
   * (extras), or an access inside a value of an inner map held now.
   */
  extraAllows(addr: bigint, size: number, write: boolean): boolean {
    if (addr >= 1n << 32n) return false;
    const x = Number(addr);
    if (!write && this.extras.some((r) => x >= r.start && x + size <= r.end)) return true;
    return this.innerAllows(x, size);
  }
  /** [x, x + size) lies in the value part of one element of an inner map the program's maps of maps hold now. */
  private innerAllows(x: number, size: number): boolean {
    if (this.inner === undefined) return false;
    for (const m of this.inner()) {
      let regions = this.innerRegions.get(m);
      if (regions === undefined) {
        try {
          regions = valueRegions(m);
        } catch (e) {
          // a layout the hardened JIT does not know: no value of it is reachable
          if (!(e instanceof BpfError)) throw e;
          regions = [];
        }
        this.innerRegions.set(m, regions);
      }
      if (inRegions(regions, x, size)) return true;
    }
    return false;
  }
  /** Why an access is refused, or undefined when it is allowed. */
  private why(addr: bigint, size: number, write: boolean): string | undefined {
    if (addr >= 1n << 32n) return 'address beyond the address space';
    const x = Number(addr);
    const end = x + size;
    if (x < NULL_PAGE_END) return 'null pointer dereference';
    const depth = this.depth.value as number;
    const top = this.stackTop;
    if (x >= top - (depth + 1) * STACK_FRAME_SIZE && end <= top) return undefined;
    let readOnly: string | undefined;
    for (const r of this.runRegions()) {
      if (x >= r.lo && end <= r.end) {
        if (!write || r.writable) return undefined;
        readOnly ??= r.name;
      }
    }
    if (this.inMaps(x, size)) return undefined;
    if (this.extraAllows(addr, size, write)) return undefined;
    if (readOnly !== undefined) return `${readOnly} is read-only`;
    if (x >= top - STACK_FRAME_SIZE * MAX_CALL_FRAMES && x < top) return 'outside the stack frame';
    return 'outside any region the program may access';
  }

  /** The EFAULT of a refused access at the current pc. */
  fault(addr: bigint, size: number, write: boolean): BpfError {
    const why = this.why(addr, size, write) ?? 'outside any region the program may access';
    return new BpfError('EFAULT', `pc ${this.pc}: invalid ${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'} at 0x${addr.toString(16)}: ${why}`);
  }
}

/** [x, x + size) lies in the value part of one element of one of `maps`' regions. */
function inRegions(maps: readonly ValueRegion[], x: number, size: number): boolean {
  for (const m of maps) {
    const t = x - m.start;
    if (t < 0 || x + size > m.end) continue;
    const o = (t % m.stride) - m.valueOff;
    if (o >= 0 && o + size <= m.valueSize) return true;
  }
  return false;
}
