/**
 * BPF_MAP_TYPE_ARRAY as in 3.19's kernel/bpf/arraymap.c: max_entries values
 * of round_up(value_size, 8) bytes, zero-filled at creation, indexed by a
 * 4-byte host-endian key. Every element always exists: update with
 * BPF_NOEXIST is EEXIST, delete is EINVAL, and get_next_key restarts at 0
 * from any out-of-range key.
 *
 * The shape (base, stride, max_entries) is this object's, never read back
 * from memory: an index is checked against max_entries before it becomes
 * an address, so any key gives a value inside the map or NULL.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, JitArrayLayout, MapAttr, MapType } from './map.js';
import { BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, E, allocMapStorage, roundUp8 } from './map.js';

export class ArrayMap implements BpfMapImpl {
  readonly type = BPF_MAP_TYPE.ARRAY;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly elemSize: number;
  readonly base: number;
  readonly region: Region;
  private readonly mem: AddressSpace;

  constructor(mem: AddressSpace, attr: MapAttr) {
    if (attr.maxEntries === 0 || attr.keySize !== 4 || attr.valueSize === 0) {
      throw new BpfError('EINVAL', `invalid array map: key_size must be 4 (got ${attr.keySize}), value_size and max_entries non-zero`);
    }
    this.mem = mem;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.elemSize = roundUp8(attr.valueSize);
    const bytes = this.elemSize * this.maxEntries;
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, bytes, `array map of ${this.maxEntries} x ${this.elemSize} bytes`, attr));
    const valueSize = this.valueSize;
    const elemSize = this.elemSize;
    const base = this.base;
    this.region = {
      start: base,
      end: base + bytes,
      writable: true,
      name: 'array map value',
      contains: (addr, end) => (addr - base) % elemSize + (end - addr) <= valueSize,
    };
  }

  jitLayout(): JitArrayLayout {
    return { type: BPF_MAP_TYPE.ARRAY, addr: this.addr, base: this.base, stride: this.elemSize, maxEntries: this.maxEntries };
  }

  directValue(): number {
    return this.base;
  }

  private index(keyAddr: number): number {
    return this.mem.view.getUint32(keyAddr, true);
  }

  lookup(keyAddr: number): number {
    const i = this.index(keyAddr);
    return i < this.maxEntries ? this.base + i * this.elemSize : 0;
  }

  update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    const i = this.index(keyAddr);
    if (i >= this.maxEntries) return E.E2BIG;
    if (flagsLo === BPF_NOEXIST) return E.EEXIST;
    const u8 = this.mem.u8;
    u8.copyWithin(this.base + i * this.elemSize, valueAddr, valueAddr + this.valueSize);
    return 0;
  }

  delete(_keyAddr: number): number {
    return E.EINVAL;
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    const i = keyAddr === 0 ? this.maxEntries : this.index(keyAddr);
    let next: number;
    if (i >= this.maxEntries) next = 0;
    else if (i === this.maxEntries - 1) return E.ENOENT;
    else next = i + 1;
    this.mem.view.setUint32(nextKeyAddr, next, true);
    return 0;
  }

  enterRun(): void {}
  exitRun(): void {}

  free(): void {
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}

/** The map-type table's row (maps/types.ts). */
export const ARRAY_MAP: MapType<'array'> = {
  name: 'array',
  id: BPF_MAP_TYPE.ARRAY,
  since: '3.19',
  dense: true,
  create: (mem, attr) => new ArrayMap(mem, attr),
};
