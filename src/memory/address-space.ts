/**
 * The single address space of a runtime: one WebAssembly.Memory shared by
 * every engine, the maps and the API. A pointer in a register is a plain
 * offset into it. Layout:
 *
 *   0x00000 .. 0x0ffff   never handed out, so address 0 is NULL and small
 *                        offsets from NULL fault in checked mode
 *   0x10000 .. 0x10fff   the stack: MAX_CALL_FRAMES frames of 512 bytes;
 *                        r10 of the outermost frame is STACK_TOP
 *   0x11000 ..           the heap: contexts, packets, map storage
 *
 * The heap is a first-fit allocator with coalescing; memory grows on demand
 * up to a limit. A Region names a range of it a program may touch (what the
 * checked interpreter and the hardened JIT test accesses against). It owns
 * no eBPF semantics: maps, helpers and engines all build on it.
 */

import { BpfError } from '../errors.js';
import { MAX_BPF_STACK } from '../isa/opcodes.js';

export const PAGE_SIZE = 65536;
/** The end of the unmapped first page: addresses below it fault like NULL. */
export const NULL_PAGE_END = PAGE_SIZE;
/** a frame is the ISA's stack limit */
export const STACK_FRAME_SIZE = MAX_BPF_STACK;
/** Stack frames the address space reserves (the stack region holds this many frames of MAX_BPF_STACK bytes). */
export const MAX_CALL_FRAMES = 8;
export const STACK_BASE = NULL_PAGE_END;
/** The address one past the top stack frame: r10 of a program's first frame. */
export const STACK_TOP = STACK_BASE + STACK_FRAME_SIZE * MAX_CALL_FRAMES;
export const HEAP_BASE = STACK_TOP;
/**
 * The run generation, a u32 in the last word of the never-handed-out page:
 * bumped per program run (by the maps' enterRun, and per run inside a JIT
 * batch) so maps can tell which run looked an element up.
 */
export const RUN_GEN_ADDR = NULL_PAGE_END - 8;

/** A range of the address space a program may touch: a map's storage, a run's context or packet. */
export interface Region {
  start: number;
  /** exclusive */
  end: number;
  writable: boolean;
  name: string;
  /** a finer test inside [start, end), e.g. only the value part of allocated map elements */
  contains?: (addr: number, end: number) => boolean;
}

/** Sizes of a new AddressSpace. */
export interface MemoryOptions {
  /** upper bound of the memory in bytes (default 256 MiB) */
  maxBytes?: number;
  /**
   * bytes reserved up front (default: all of maxBytes). Growing a
   * WebAssembly.Memory detaches its old ArrayBuffer, and one detach anywhere
   * in the process makes V8 add a detach check to every typed-array access
   * from then on (about 2x slower interpretation), so by default the memory
   * never grows: the operating system commits its pages only when touched.
   * Set a small value where address space is scarce (32-bit browsers).
   */
  initialBytes?: number;
}

interface FreeBlock {
  start: number;
  size: number;
}

/**
 * A WebAssembly.Memory as the address space's type names it: declared here,
 * so that tsbpf's types need neither the DOM library nor Node's (@types/node
 * has no WebAssembly namespace). The value is a real WebAssembly.Memory.
 */
export interface WasmMemory {
  /** The memory's bytes (a new ArrayBuffer after each growth). */
  readonly buffer: ArrayBuffer;
  /** Grow by `delta` 64 KiB pages; returns the previous size in pages. */
  grow(delta: number): number;
}

/** The one WebAssembly.Memory every map, stack, context and packet lives in: its layout, allocation and views. */
export class AddressSpace {
  readonly memory: WasmMemory;
  readonly maxBytes: number;
  private u8cache: Uint8Array;
  private dvcache: DataView;
  private brk = HEAP_BASE;
  private free: FreeBlock[] = [];
  private sizes = new Map<number, number>();

  constructor(options: MemoryOptions = {}) {
    const maxPages = Math.ceil(Math.min(Math.max(options.maxBytes ?? 256 << 20, HEAP_BASE + PAGE_SIZE), 65536 * PAGE_SIZE) / PAGE_SIZE);
    this.maxBytes = maxPages * PAGE_SIZE;
    const initialPages = Math.min(maxPages, Math.max(2, Math.ceil((options.initialBytes ?? this.maxBytes) / PAGE_SIZE)));
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages });
    this.u8cache = new Uint8Array(this.memory.buffer);
    this.dvcache = new DataView(this.memory.buffer);
  }

  /** times this address space grew its memory; the views are refreshed when it moves */
  private generation = 0;
  private viewGeneration = 0;

  /**
   * A byte view of the whole memory, current after any growth. Only alloc()
   * grows the memory, so a counter tells whether the views are stale without
   * asking the memory for its buffer (a slow getter on hot paths).
   */
  get u8(): Uint8Array {
    if (this.viewGeneration !== this.generation) this.refresh();
    return this.u8cache;
  }

  get view(): DataView {
    if (this.viewGeneration !== this.generation) this.refresh();
    return this.dvcache;
  }

  /** changes whenever the memory grows (and views of it must be made again) */
  get growth(): number {
    return this.generation;
  }

  private refresh(): void {
    this.u8cache = new Uint8Array(this.memory.buffer);
    this.dvcache = new DataView(this.memory.buffer);
    this.viewGeneration = this.generation;
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Allocate `size` zero-filled bytes aligned to 8, never in the null page.
   * ENOMEM when the memory limit would be exceeded.
   */
  alloc(size: number): number {
    if (!Number.isSafeInteger(size) || size < 0) throw new BpfError('EINVAL', `invalid allocation size ${size}`);
    const need = Math.max(8, (size + 7) & ~7);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= need) {
        const addr = b.start;
        if (b.size === need) this.free.splice(i, 1);
        else {
          b.start += need;
          b.size -= need;
        }
        this.sizes.set(addr, need);
        this.u8.fill(0, addr, addr + need);
        return addr;
      }
    }
    const addr = this.brk;
    const end = addr + need;
    if (end > this.maxBytes) {
      throw new BpfError('ENOMEM', `cannot allocate ${size} bytes: the address space is limited to ${this.maxBytes} bytes`);
    }
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE_SIZE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new BpfError('ENOMEM', `cannot grow the address space to ${end} bytes`);
      }
      this.generation++;
    }
    this.brk = end;
    this.sizes.set(addr, need);
    // release() may have lowered brk over bytes a freed block left behind.
    this.u8.fill(0, addr, end);
    return addr;
  }

  /** Return a block from `alloc` to the heap. */
  release(addr: number): void {
    const size = this.sizes.get(addr);
    if (size === undefined) throw new BpfError('EINVAL', `address 0x${addr.toString(16)} was not allocated`);
    this.sizes.delete(addr);
    // Insert sorted, then coalesce with neighbours.
    let i = 0;
    while (i < this.free.length && this.free[i]!.start < addr) i++;
    this.free.splice(i, 0, { start: addr, size });
    const merge = (j: number): void => {
      const a = this.free[j];
      const b = this.free[j + 1];
      if (a && b && a.start + a.size === b.start) {
        a.size += b.size;
        this.free.splice(j + 1, 1);
      }
    };
    merge(i);
    if (i > 0) merge(i - 1);
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.brk) {
      this.brk = last.start;
      this.free.pop();
    }
  }

  /** Bytes currently allocated (for tests and accounting). */
  get allocatedBytes(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }

  /** Copy bytes into memory at addr. */
  write(addr: number, bytes: Uint8Array): void {
    this.u8.set(bytes, addr);
  }

  /** A copy of `len` bytes at addr. */
  read(addr: number, len: number): Uint8Array {
    return this.u8.slice(addr, addr + len);
  }
}
