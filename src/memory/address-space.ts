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
 *
 * Shared mode (MemoryOptions.shared) is for several threads over one
 * memory: a shared WebAssembly.Memory at its full size from the start
 * (it never grows, so no thread's views go stale). Each thread that runs
 * programs has a lane: its own stack frames and its own run word. Lane 0
 * is the layout above (STACK_TOP, RUN_GEN_ADDR), the only lane of an
 * unshared memory; the owning thread allocates other lanes from the heap
 * (allocLane: the run word, then MAX_CALL_FRAMES frames) and lists them in
 * the lane table, in the null page, which every thread reads. A worker
 * builds its own AddressSpace over the same memory with attach(): it
 * allocates only inside an arena the owner allocated for it, and runs on
 * the lane the owner gave it. In shared mode a lane's run word holds the
 * global epoch (EPOCH_ADDR) read when its current run started, 0 when it
 * is idle (runStart, runEnd): what maps decide the reuse of an unlinked
 * element by. The epoch wraps after 2^32 retirements: maps must compare
 * epochs as serial numbers ((a - b) | 0), and a run that starts at epoch 0
 * publishes 0xffffffff (the one before: never 0, which means idle).
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
/**
 * Shared mode: the global epoch, a u32 beside RUN_GEN_ADDR, starting at 1.
 * A map that unlinks an element retires it at Atomics.add(epoch, 1) + 1;
 * a lane whose run word is 0 (idle) or at least that cannot hold it.
 */
export const EPOCH_ADDR = NULL_PAGE_END - 16;
/** Lanes a shared address space can have, lane 0 included (the lane table's entries). */
export const MAX_LANES = 256;
/**
 * Shared mode: the lane table, in the null page: a u32 bumped at each
 * change, then MAX_LANES u32s, lane i's run word address (0: no lane i).
 * Lane 0's entry is RUN_GEN_ADDR.
 */
export const LANE_TABLE_ADDR = NULL_PAGE_END - 4096;
/** A lane's block (allocLane): its run word (8 bytes, for alignment), then its stack frames. */
export const LANE_BLOCK_SIZE = 8 + MAX_CALL_FRAMES * STACK_FRAME_SIZE;

/**
 * The stack frames and the run word of one thread's runs: r10 of a run's
 * first frame is stackTop, its frames are the MAX_CALL_FRAMES *
 * STACK_FRAME_SIZE bytes below, and the maps find its run word (the run
 * generation, or in shared mode the epoch its run started at) at runWord.
 */
export interface Lane {
  readonly index: number;
  readonly stackTop: number;
  readonly runWord: number;
}

/** Lane 0: the layout of every unshared memory (and of the owning thread of a shared one). */
export const LANE_0: Lane = Object.freeze({ index: 0, stackTop: STACK_TOP, runWord: RUN_GEN_ADDR });

/** The lanes of a shared memory as the maps read them: the run words of the lanes allocated now (not to be modified). */
export interface LaneList {
  readonly count: number;
  readonly runWords: number[];
}

/** The part of the heap an AddressSpace hands out: [start, end). */
export interface Arena {
  start: number;
  end: number;
}

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
   * Ignored in shared mode, whose memory has its full size from the start.
   */
  initialBytes?: number;
  /**
   * a shared WebAssembly.Memory (SharedArrayBuffer), which worker threads
   * attach to (AddressSpace.attach): maxBytes reserved at once, never grown
   */
  shared?: boolean;
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
  /** a shared memory (MemoryOptions.shared, or attached): fixed size, real atomics, epochs */
  readonly shared: boolean;
  /** the stack frames and run word of this thread's runs (LANE_0 unless attached on another lane) */
  readonly lane: Lane;
  /** what alloc hands out: the heap, or an attached worker's arena */
  readonly arena: Readonly<Arena>;
  /** shared mode: the lanes allocated now, as every thread sees them (undefined when unshared) */
  readonly lanes: LaneList | undefined;
  private u8cache: Uint8Array;
  private dvcache: DataView;
  private i32cache: Int32Array;
  private brk: number;
  private free: FreeBlock[] = [];
  private sizes = new Map<number, number>();
  /** the limit of brk: maxBytes, or the arena's end */
  private readonly top: number;
  /** shared mode: zeroing by WebAssembly's memory.fill (sharedZero) */
  private readonly zeroFn: ((addr: number, len: number) => void) | undefined;

  constructor(options: MemoryOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new BpfError('EINVAL', `memory options must be an object, got ${String(options)}`);
    const maxPages = Math.ceil(Math.min(Math.max(options.maxBytes ?? 256 << 20, HEAP_BASE + PAGE_SIZE), 65536 * PAGE_SIZE) / PAGE_SIZE);
    this.maxBytes = maxPages * PAGE_SIZE;
    this.shared = options.shared === true;
    if (options.shared !== undefined && typeof options.shared !== 'boolean') throw new BpfError('EINVAL', `shared must be a boolean, got ${String(options.shared)}`);
    const attached = attaching;
    attaching = undefined;
    if (attached !== undefined) {
      this.memory = attached.memory;
      this.shared = true;
      this.lane = attached.lane;
      this.arena = Object.freeze({ ...attached.arena });
      this.maxBytes = attached.memory.buffer.byteLength;
    } else if (this.shared) {
      this.memory = newSharedMemory(maxPages);
      this.lane = LANE_0;
      this.arena = Object.freeze({ start: HEAP_BASE, end: this.maxBytes });
    } else {
      const initialPages = Math.min(maxPages, Math.max(2, Math.ceil((options.initialBytes ?? this.maxBytes) / PAGE_SIZE)));
      this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages });
      this.lane = LANE_0;
      this.arena = Object.freeze({ start: HEAP_BASE, end: this.maxBytes });
    }
    this.brk = this.arena.start;
    this.top = this.arena.end;
    this.u8cache = new Uint8Array(this.memory.buffer);
    this.dvcache = new DataView(this.memory.buffer);
    this.i32cache = new Int32Array(this.memory.buffer);
    this.lanes = this.shared ? new LaneTable(this.i32cache) : undefined;
    this.zeroFn = this.shared ? sharedZero(this.memory) : undefined;
    if (this.shared && attached === undefined) {
      // a new shared memory: epoch 1, lane 0 in the table
      Atomics.store(this.i32cache, EPOCH_ADDR >> 2, 1);
      Atomics.store(this.i32cache, (LANE_TABLE_ADDR >> 2) + 1, RUN_GEN_ADDR);
      Atomics.add(this.i32cache, LANE_TABLE_ADDR >> 2, 1);
    }
  }

  /**
   * An address space over the shared `memory` of another thread's
   * AddressSpace (received by postMessage), allocating only inside `arena`
   * (which that thread allocated for this one) and running on `lane` (its
   * allocLane; lane 0 is the owner's). EINVAL when the memory is not
   * shared, or the arena or the lane are not part of it.
   */
  static attach(memory: WasmMemory, arena: Arena, lane: Lane): AddressSpace {
    const buf = (memory as { buffer?: unknown } | null)?.buffer;
    if (typeof SharedArrayBuffer !== 'function' || !(buf instanceof SharedArrayBuffer)) {
      throw new BpfError('EINVAL', 'attach needs a shared WebAssembly.Memory (an address space made with shared: true)');
    }
    const size = buf.byteLength;
    const start = arena?.start;
    const end = arena?.end;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start % 8 !== 0 || start < HEAP_BASE || end < start || end > size) {
      throw new BpfError('EINVAL', `attach: arena [${String(start)}, ${String(end)}) is not an 8-aligned range of the heap [${HEAP_BASE}, ${size})`);
    }
    const index = lane?.index;
    if (!Number.isInteger(index) || index <= 0 || index >= MAX_LANES) throw new BpfError('EINVAL', `attach: lane index ${String(index)} is not 1 to ${MAX_LANES - 1} (lane 0 is the owner's)`);
    const table = new Int32Array(buf);
    const word = Atomics.load(table, (LANE_TABLE_ADDR >> 2) + 1 + index);
    if (word === 0 || word !== lane.runWord || lane.stackTop !== word + LANE_BLOCK_SIZE) {
      throw new BpfError('EINVAL', `attach: lane ${index} (run word ${String(lane.runWord)}, stack top ${String(lane.stackTop)}) is not a lane of this memory`);
    }
    attaching = { memory, arena: { start, end }, lane: Object.freeze({ index, stackTop: lane.stackTop, runWord: lane.runWord }) };
    try {
      return new AddressSpace();
    } finally {
      attaching = undefined;
    }
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

  /** A 32-bit view of the whole memory (Atomics on the run words, real atomics in shared mode). */
  get i32(): Int32Array {
    if (this.viewGeneration !== this.generation) this.refresh();
    return this.i32cache;
  }

  private refresh(): void {
    this.u8cache = new Uint8Array(this.memory.buffer);
    this.dvcache = new DataView(this.memory.buffer);
    this.i32cache = new Int32Array(this.memory.buffer);
    this.viewGeneration = this.generation;
  }

  /**
   * A run starts on this thread's lane. Shared mode: its run word takes the
   * global epoch, so that no element a map retires from now on is reused
   * while the run may hold it. Unshared: nothing (the maps bump the run
   * generation themselves).
   */
  runStart(): void {
    if (!this.shared) return;
    // 0 means idle: the epoch 0 (once in 2^32 retirements) is published as the one before it, 0xffffffff
    const e = Atomics.load(this.i32cache, EPOCH_ADDR >> 2);
    Atomics.store(this.i32cache, this.lane.runWord >> 2, e === 0 ? -1 : e);
  }

  /** The run (or a JIT batch of runs) on this lane ended: shared mode, its run word is 0, idle. */
  runEnd(): void {
    if (this.shared) Atomics.store(this.i32cache, this.lane.runWord >> 2, 0);
  }

  /**
   * A new lane for another thread (shared mode, the owning address space
   * only): its block from the heap, its entry in the lane table. EINVAL
   * unshared or attached, EBUSY when every lane is taken.
   */
  allocLane(): Lane {
    if (!this.shared) throw new BpfError('EINVAL', 'lanes need a shared memory (shared: true)');
    if (this.lane !== LANE_0 || this.arena.start !== HEAP_BASE) throw new BpfError('EINVAL', 'lanes are allocated by the thread that made the shared memory');
    const t = this.i32cache;
    let index = 1;
    while (index < MAX_LANES && Atomics.load(t, (LANE_TABLE_ADDR >> 2) + 1 + index) !== 0) index++;
    if (index === MAX_LANES) throw new BpfError('EBUSY', `all ${MAX_LANES} lanes are taken`);
    const block = this.alloc(LANE_BLOCK_SIZE);
    Atomics.store(t, (LANE_TABLE_ADDR >> 2) + 1 + index, block);
    Atomics.add(t, LANE_TABLE_ADDR >> 2, 1);
    return Object.freeze({ index, stackTop: block + LANE_BLOCK_SIZE, runWord: block });
  }

  /**
   * Give a lane from allocLane back (its thread has ended). EBUSY while a
   * run is in progress on it, unless `force`: its thread was terminated in
   * the middle of a run (Worker.terminate), and the run word it left would
   * hold back every shared map's reuse forever.
   */
  freeLane(lane: Lane, force = false): void {
    const t = this.i32cache;
    const index = lane?.index;
    if (!this.shared || !Number.isInteger(index) || index <= 0 || index >= MAX_LANES || Atomics.load(t, (LANE_TABLE_ADDR >> 2) + 1 + index) !== lane.runWord) {
      throw new BpfError('EINVAL', `lane ${String(index)} is not a lane allocated in this memory`);
    }
    if (!force && Atomics.load(t, lane.runWord >> 2) !== 0) throw new BpfError('EBUSY', `lane ${index} is running a program`);
    Atomics.store(t, lane.runWord >> 2, 0);
    Atomics.store(t, (LANE_TABLE_ADDR >> 2) + 1 + index, 0);
    Atomics.add(t, LANE_TABLE_ADDR >> 2, 1);
    this.release(lane.runWord);
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
        this.zero(addr, need);
        return addr;
      }
    }
    const addr = this.brk;
    const end = addr + need;
    if (end > this.top) {
      if (this.top !== this.maxBytes) throw new BpfError('ENOMEM', `cannot allocate ${size} bytes: this thread's arena ends at 0x${this.top.toString(16)}`);
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
    this.zero(addr, need);
    return addr;
  }

  /**
   * Zero the bytes [addr, addr + len) of the memory (a range inside it: an
   * allocation's). In a shared memory by WebAssembly's memory.fill:
   * TypedArray.prototype.fill over a SharedArrayBuffer goes byte by byte in
   * V8 (measured: 1.5-2.6 µs for the 4 KB page of an XDP run, memory.fill
   * 57-62 ns, an unshared fill 55-87 ns).
   */
  zero(addr: number, len: number): void {
    if (len <= 0) return;
    if (this.zeroFn) this.zeroFn(addr, len);
    else this.u8.fill(0, addr, addr + len);
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

/**
 * A module importing a shared memory (any size: min 0, max 65536 pages) and
 * exporting zero(addr, len), which is memory.fill(addr, 0, len). Written out
 * by hand: type (i32, i32) -> (); import m.m, shared memory; one function;
 * export "zero"; its body.
 */
const ZERO_MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00,
  0x02, 0x0b, 0x01, 0x01, 0x6d, 0x01, 0x6d, 0x02, 0x03, 0x00, 0x80, 0x80, 0x04,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x08, 0x01, 0x04, 0x7a, 0x65, 0x72, 0x6f, 0x00, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x41, 0x00, 0x20, 0x01, 0xfc, 0x0b, 0x00, 0x0b,
]);
let zeroModule: WebAssembly.Module | undefined;

/** memory.fill over a shared memory; undefined where the platform refuses the module (the caller falls back to fill). */
function sharedZero(memory: WasmMemory): ((addr: number, len: number) => void) | undefined {
  try {
    zeroModule ??= new WebAssembly.Module(ZERO_MODULE);
    const zero = new WebAssembly.Instance(zeroModule, { m: { m: memory } }).exports['zero'];
    return typeof zero === 'function' ? (zero as (addr: number, len: number) => void) : undefined;
  } catch {
    return undefined;
  }
}

/** what attach hands the constructor (a parameter of its own would be part of the public constructor) */
let attaching: { memory: WasmMemory; arena: Arena; lane: Lane } | undefined;

/** A shared memory of `pages` pages, EINVAL where the platform has none (no SharedArrayBuffer, no threads). */
function newSharedMemory(pages: number): WasmMemory {
  let memory: WasmMemory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true } as WebAssembly.MemoryDescriptor);
  } catch (e) {
    throw new BpfError('EINVAL', `this platform cannot make a shared memory: ${(e as Error).message}`);
  }
  if (typeof SharedArrayBuffer !== 'function' || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new BpfError('EINVAL', 'this platform cannot make a shared memory (no SharedArrayBuffer)');
  }
  return memory;
}

/**
 * The lane table as maps read it: the live lanes' run words, made again
 * only when the table's change counter moved (one Atomics.load per read).
 */
class LaneTable implements LaneList {
  private version = -1;
  private words: number[] = [];

  constructor(private readonly t: Int32Array) {}

  get count(): number {
    return this.runWords.length;
  }

  get runWords(): number[] {
    const v = Atomics.load(this.t, LANE_TABLE_ADDR >> 2);
    if (v !== this.version) {
      const words: number[] = [];
      for (let i = 0; i < MAX_LANES; i++) {
        const w = Atomics.load(this.t, (LANE_TABLE_ADDR >> 2) + 1 + i);
        if (w !== 0) words.push(w);
      }
      // (a change made while reading shows at the next read)
      this.words = words;
      this.version = v;
    }
    return this.words;
  }
}
