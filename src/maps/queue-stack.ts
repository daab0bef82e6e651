/**
 * BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (4.20), as the kernel's
 * queue_stack_maps.c: no keys (key_size 0), max_entries values of
 * value_size bytes in a ring of max_entries + 1 slots. Push appends at the
 * head; a queue pops and peeks the oldest value (the tail), a stack the
 * newest. Pushing into a full map is E2BIG unless the flags are BPF_EXIST,
 * which drops the oldest value first (for a stack too); BPF_NOEXIST or any
 * other flag is EINVAL. Pop and peek of an empty map are ENOENT.
 *
 * The element operations of other maps do not apply: a program's lookup
 * finds nothing, update, delete and get_next_key are EINVAL. From bpf(2),
 * lookup is peek, update is push and lookup-and-delete is pop (bpf.ts).
 * Values are copied in and out, never handed to a program by address, so
 * the storage (in the runtime's memory, for anyone inspecting it) is no
 * region a program may touch.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, MapAttr, MapType } from './map.js';
import { BPF_EXIST, BPF_F, BPF_F_ACCESS_MASK, BPF_MAP_TYPE, BPF_NOEXIST, E, allocMapStorage } from './map.js';

/** KMALLOC_MAX_SIZE on x86-64: the kernel's E2BIG bound on value_size */
const MAX_VALUE = 4 << 20;

export class QueueStackMap implements BpfMapImpl {
  readonly type: number;
  readonly keySize = 0;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly base: number;
  readonly region: Region;
  private readonly mem: AddressSpace;
  private readonly stack: boolean;
  /** slots: max_entries + 1; head is the next slot pushed, tail the oldest value; head === tail: empty */
  private readonly slots: number;
  private head = 0;
  private tail = 0;

  constructor(mem: AddressSpace, attr: MapAttr, stack: boolean) {
    const name = stack ? 'stack' : 'queue';
    if (attr.maxEntries === 0 || attr.keySize !== 0 || attr.valueSize === 0) {
      throw new BpfError('EINVAL', `invalid ${name} map: key_size must be 0 (got ${attr.keySize}), value_size and max_entries non-zero`);
    }
    if (attr.valueSize > MAX_VALUE) throw new BpfError('E2BIG', `${name} map value_size ${attr.valueSize} exceeds ${MAX_VALUE}`);
    this.type = stack ? BPF_MAP_TYPE.STACK : BPF_MAP_TYPE.QUEUE;
    this.stack = stack;
    this.mem = mem;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.slots = attr.maxEntries + 1;
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, this.slots * this.valueSize, `${name} map of ${this.slots} x ${this.valueSize} bytes`, attr));
    this.region = { start: this.base, end: this.base, writable: false, name: `${name} map storage`, contains: () => false };
  }

  private get empty(): boolean {
    return this.head === this.tail;
  }

  private get full(): boolean {
    return (this.head + 1) % this.slots === this.tail;
  }

  /** Live values, for tests and displays. */
  get size(): number {
    return (this.head - this.tail + this.slots) % this.slots;
  }

  private slot(i: number): number {
    return this.base + i * this.valueSize;
  }

  push(valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST || flagsLo === BPF_NOEXIST) return E.EINVAL;
    if (this.full) {
      if (flagsLo !== BPF_EXIST) return E.E2BIG;
      this.tail = (this.tail + 1) % this.slots;
    }
    this.mem.u8.copyWithin(this.slot(this.head), valueAddr, valueAddr + this.valueSize);
    this.head = (this.head + 1) % this.slots;
    return 0;
  }

  /** The slot pop and peek read: the oldest for a queue, the newest for a stack. */
  private front(): number {
    return this.stack ? (this.head - 1 + this.slots) % this.slots : this.tail;
  }

  peek(outAddr: number): number {
    if (this.empty) return E.ENOENT;
    const s = this.slot(this.front());
    this.mem.u8.copyWithin(outAddr, s, s + this.valueSize);
    return 0;
  }

  pop(outAddr: number): number {
    const r = this.peek(outAddr);
    if (r < 0) return r;
    if (this.stack) this.head = this.front();
    else this.tail = (this.tail + 1) % this.slots;
    return 0;
  }

  lookup(_keyAddr: number): number {
    return 0;
  }

  update(_keyAddr: number, _valueAddr: number, _flagsLo: number, _flagsHi: number): number {
    return E.EINVAL;
  }

  delete(_keyAddr: number): number {
    return E.EINVAL;
  }

  getNextKey(_keyAddr: number, _nextKeyAddr: number): number {
    return E.EINVAL;
  }

  sysLookup(_keyAddr: number, outAddr: number): number {
    return this.peek(outAddr);
  }

  sysUpdate(_keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    return this.push(valueAddr, flagsLo, flagsHi);
  }

  lookupAndDelete(_keyAddr: number, outAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsLo !== 0 || flagsHi !== 0) return E.EINVAL;
    return this.pop(outAddr);
  }

  enterRun(): void {}
  exitRun(): void {}

  free(): void {
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}

/** QUEUE_STACK_CREATE_FLAG_MASK: NUMA node and the access flags */
const FLAGS = BPF_F.NUMA_NODE | BPF_F_ACCESS_MASK;

/** The map-type table's rows (maps/types.ts). */
export const QUEUE_MAP: MapType<'queue'> = {
  name: 'queue',
  id: BPF_MAP_TYPE.QUEUE,
  since: '4.20',
  dense: false,
  flags: FLAGS,
  create: (mem, attr) => new QueueStackMap(mem, attr, false),
};

export const STACK_MAP: MapType<'stack'> = {
  name: 'stack',
  id: BPF_MAP_TYPE.STACK,
  since: '4.20',
  dense: false,
  flags: FLAGS,
  create: (mem, attr) => new QueueStackMap(mem, attr, true),
};
