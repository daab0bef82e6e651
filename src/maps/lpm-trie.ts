/**
 * BPF_MAP_TYPE_LPM_TRIE (4.11), as the kernel's lpm_trie.c: a key is a u32
 * prefixlen (host order) followed by key_size - 4 data bytes, compared bit
 * by bit from the first byte's most significant bit; max_prefixlen is 8
 * times the data size. BPF_F_NO_PREALLOC is required at creation.
 *
 * - lookup: the longest stored prefix P with P.prefixlen <= key.prefixlen
 *   whose first P.prefixlen bits equal the key's (a program passes the full
 *   length for a longest-prefix match); nothing for a prefixlen above
 *   max_prefixlen.
 * - update: prefixlen above max_prefixlen is EINVAL; an existing entry (same
 *   prefixlen, same leading bits) with BPF_NOEXIST is EEXIST; a new one with
 *   BPF_EXIST is ENOENT, and ENOSPC when max_entries are stored. The entry
 *   keeps the data bytes of its latest update, bits past the prefix included
 *   (get_next_key returns them, as the kernel's node data).
 * - delete: the exact entry, else ENOENT.
 * - get_next_key: the kernel's post-order walk of its trie, which is this
 *   order on entries: where two entries' bits first differ (within both
 *   prefixes), the one with a 0 comes first; an entry comes after every
 *   longer entry it is a prefix of. No key, an absent key or a prefixlen
 *   above max_prefixlen gives the first entry.
 *
 * The structure is JavaScript (a Map from prefix to entry, the prefix
 * lengths present, and the entries in walk order); values live in a
 * preallocated slab of max_entries slots in the runtime's memory, where a
 * program's lookup points. Where tsbpf differs: an update of an existing
 * entry writes its value in place (the kernel swaps in a new node, so a
 * program holding the old value keeps reading it until the run ends).
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, MapAttr, MapType } from './map.js';
import { BPF_EXIST, BPF_F, BPF_F_ACCESS_MASK, BPF_MAP_TYPE, BPF_NOEXIST, E, allocMapStorage, roundUp8 } from './map.js';

const DATA_MIN = 1;
const DATA_MAX = 256;
/** KMALLOC_MAX_SIZE less the largest data and the node header: the kernel's value_size bound */
const VALUE_MAX = (4 << 20) - DATA_MAX - 40;
const ENOSPC = -28;

interface Entry {
  prefixlen: number;
  /** the data bytes of the latest update, data_size of them */
  data: Uint8Array;
  slot: number;
}

export class LpmTrieMap implements BpfMapImpl {
  readonly type = BPF_MAP_TYPE.LPM_TRIE;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly base: number;
  readonly region: Region;
  readonly dataSize: number;
  readonly maxPrefixlen: number;
  private readonly stride: number;
  private readonly mem: AddressSpace;
  private readonly byPrefix = new Map<string, Entry>();
  /** how many entries have each prefix length */
  private readonly lenCount: Int32Array;
  /** the prefix lengths present, longest first */
  private lens: number[] = [];
  /** the entries in get_next_key order */
  private ordered: Entry[] = [];
  private readonly live: Uint8Array;
  private readonly freeSlots: number[] = [];

  constructor(mem: AddressSpace, attr: MapAttr) {
    const dataSize = attr.keySize - 4;
    if (attr.maxEntries === 0 || !(attr.mapFlags & BPF_F.NO_PREALLOC) || attr.keySize < 4 + DATA_MIN || dataSize > DATA_MAX || attr.valueSize < 1 || attr.valueSize > VALUE_MAX) {
      throw new BpfError('EINVAL', `invalid lpm_trie map: BPF_F_NO_PREALLOC required, key_size from 5 to 260 (got ${attr.keySize}), value_size and max_entries non-zero`);
    }
    this.mem = mem;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.dataSize = dataSize;
    this.maxPrefixlen = dataSize * 8;
    this.stride = roundUp8(attr.valueSize);
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, this.stride * this.maxEntries, `lpm_trie map of ${this.maxEntries} x ${this.stride} bytes`, attr));
    this.lenCount = new Int32Array(this.maxPrefixlen + 1);
    this.live = new Uint8Array(this.maxEntries);
    for (let i = this.maxEntries - 1; i >= 0; i--) this.freeSlots.push(i);
    const { base, stride, valueSize, live } = this;
    this.region = {
      start: base,
      end: base + stride * this.maxEntries,
      writable: true,
      name: 'lpm_trie map value',
      contains: (a, end) => {
        const rel = a - base;
        const slot = Math.floor(rel / stride);
        return live[slot] === 1 && rel - slot * stride + (end - a) <= valueSize;
      },
    };
  }

  /** The identity of the first `len` bits of the data at addr: its length and masked bytes. */
  private prefixId(addr: number, len: number): string {
    const u8 = this.mem.u8;
    let s = `${len}:`;
    const whole = len >>> 3;
    for (let i = 0; i < whole; i++) s += String.fromCharCode(u8[addr + i]!);
    const rest = len & 7;
    if (rest) s += String.fromCharCode(u8[addr + whole]! & (0xff << (8 - rest)) & 0xff);
    return s;
  }

  private prefixlenAt(keyAddr: number): number {
    return this.mem.view.getUint32(keyAddr, true);
  }

  private valueAddr(e: Entry): number {
    return this.base + e.slot * this.stride;
  }

  private findLongest(keyAddr: number): Entry | undefined {
    const limit = this.prefixlenAt(keyAddr);
    if (limit > this.maxPrefixlen) return undefined;
    for (const len of this.lens) {
      if (len > limit) continue;
      const e = this.byPrefix.get(this.prefixId(keyAddr + 4, len));
      if (e) return e;
    }
    return undefined;
  }

  lookup(keyAddr: number): number {
    const e = this.findLongest(keyAddr);
    return e ? this.valueAddr(e) : 0;
  }

  /** get_next_key's order (see the file comment): negative when a comes first. */
  private static order(a: Entry, b: Entry): number {
    const m = Math.min(a.prefixlen, b.prefixlen);
    for (let i = 0; i < m >>> 3; i++) {
      const x = a.data[i]! ^ b.data[i]!;
      if (x) return a.data[i]! & (0x80 >>> Math.clz32(x) - 24) ? 1 : -1;
    }
    const rest = m & 7;
    if (rest) {
      const i = m >>> 3;
      const x = (a.data[i]! ^ b.data[i]!) & (0xff << (8 - rest)) & 0xff;
      if (x) return a.data[i]! & (0x80 >>> Math.clz32(x) - 24) ? 1 : -1;
    }
    return b.prefixlen - a.prefixlen;
  }

  /** The index of e in the walk order, or where it would go. */
  private position(e: Entry): number {
    let lo = 0;
    let hi = this.ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (LpmTrieMap.order(this.ordered[mid]!, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    const len = this.prefixlenAt(keyAddr);
    if (len > this.maxPrefixlen) return E.EINVAL;
    const id = this.prefixId(keyAddr + 4, len);
    const u8 = this.mem.u8;
    let e = this.byPrefix.get(id);
    if (e) {
      if (flagsLo === BPF_NOEXIST) return E.EEXIST;
    } else {
      if (flagsLo === BPF_EXIST) return E.ENOENT;
      if (this.byPrefix.size >= this.maxEntries) return ENOSPC;
      const slot = this.freeSlots.pop();
      if (slot === undefined) return ENOSPC;
      e = { prefixlen: len, data: new Uint8Array(this.dataSize), slot };
      e.data.set(u8.subarray(keyAddr + 4, keyAddr + 4 + this.dataSize));
      this.byPrefix.set(id, e);
      this.ordered.splice(this.position(e), 0, e);
      if (this.lenCount[len]!++ === 0) this.lens = [...this.lens, len].sort((a, b) => b - a);
      this.live[slot] = 1;
    }
    // the entry keeps the data bytes of the latest update (same prefix, so its place in the order holds)
    e.data.set(u8.subarray(keyAddr + 4, keyAddr + 4 + this.dataSize));
    const v = this.valueAddr(e);
    u8.copyWithin(v, valueAddr, valueAddr + this.valueSize);
    u8.fill(0, v + this.valueSize, v + this.stride);
    return 0;
  }

  delete(keyAddr: number): number {
    const len = this.prefixlenAt(keyAddr);
    if (len > this.maxPrefixlen) return E.EINVAL;
    const id = this.prefixId(keyAddr + 4, len);
    const e = this.byPrefix.get(id);
    if (!e) return E.ENOENT;
    this.byPrefix.delete(id);
    const at = this.position(e);
    if (this.ordered[at] !== e) throw new BpfError('EFAULT', 'lpm_trie map: internal order is corrupt');
    this.ordered.splice(at, 1);
    if (--this.lenCount[len]! === 0) this.lens = this.lens.filter((l) => l !== len);
    this.live[e.slot] = 0;
    this.freeSlots.push(e.slot);
    return 0;
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    if (this.ordered.length === 0) return E.ENOENT;
    let next = 0;
    if (keyAddr !== 0) {
      const len = this.prefixlenAt(keyAddr);
      const e = len <= this.maxPrefixlen ? this.byPrefix.get(this.prefixId(keyAddr + 4, len)) : undefined;
      if (e) {
        next = this.position(e) + 1;
        if (next >= this.ordered.length) return E.ENOENT;
      }
    }
    const n = this.ordered[next]!;
    this.mem.view.setUint32(nextKeyAddr, n.prefixlen, true);
    this.mem.u8.set(n.data, nextKeyAddr + 4);
    return 0;
  }

  /** Stored entries, for tests and displays. */
  get size(): number {
    return this.byPrefix.size;
  }

  enterRun(): void {}
  exitRun(): void {}

  free(): void {
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}

/** The map-type table's row (maps/types.ts). LPM_CREATE_FLAG_MASK: no prealloc (required), NUMA node, access flags. */
export const LPM_TRIE_MAP: MapType<'lpm_trie'> = {
  name: 'lpm_trie',
  id: BPF_MAP_TYPE.LPM_TRIE,
  since: '4.11',
  dense: false,
  flags: BPF_F.NO_PREALLOC | BPF_F.NUMA_NODE | BPF_F_ACCESS_MASK,
  create: (mem, attr) => new LpmTrieMap(mem, attr),
};
