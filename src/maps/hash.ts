/**
 * BPF_MAP_TYPE_HASH as in 3.19's kernel/bpf/hashtab.c: n_buckets =
 * roundup_pow_of_two(max_entries) singly linked buckets picked by
 * jhash(key, key_size, 0), new and updated elements inserted at the head of
 * their bucket, E2BIG when a new key would exceed max_entries (checked
 * before BPF_EXIST), and get_next_key walking buckets in order from any
 * absent key.
 *
 * Storage is preallocated in the runtime's memory: max_entries elements plus
 * SPARE, each `key (rounded to 8) | value (rounded to 8)`; the links live in
 * typed arrays beside it. An update replaces an element atomically: a
 * program holding a pointer to the old value (one it looked up in this run)
 * keeps reading the old value until it exits. Such an element is not reused
 * until the run ends; its replacement comes from the spares, and when a
 * single run exhausts them the update fails with ENOMEM, as the kernel's
 * GFP_ATOMIC allocation may.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../runtime/memory.js';
import { RUN_GEN_ADDR } from '../runtime/memory.js';
import type { Region } from '../vm/interpreter.js';
import { jhash } from './jhash.js';
import type { BpfMapImpl, MapAttr } from './map.js';
import { BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, E, MAP_HDR, allocMapStorage, roundUp8, roundupPowOfTwo } from './map.js';
import { MAX_BPF_STACK } from '../isa/opcodes.js';

/** elements beyond max_entries for replacing elements a running program holds */
export const SPARE = 32;

const FREE = 0;
const LIVE = 1;
/** unlinked during a run while the program may still hold its value pointer */
const PENDING = 2;

export class HashMap implements BpfMapImpl {
  readonly type = BPF_MAP_TYPE.HASH;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly nBuckets: number;
  readonly elemSize: number;
  readonly keyRound: number;
  readonly base: number;
  readonly region: Region;
  private readonly mem: AddressSpace;
  /** views of the links in the runtime's memory (after the elements), made again if the memory grows */
  private heads!: Int32Array;
  private next!: Int32Array;
  private hashes!: Uint32Array;
  private viewsGrowth = -1;
  private readonly linksAddr: number;
  private readonly cap: number;
  private readonly state: Uint8Array;
  /**
   * The run generation (RUN_GEN_ADDR) in which each element was last looked
   * up: while that run lasts, replacing the element must not overwrite it.
   * Generations rather than flags let a JIT batch run many programs between
   * one enterRun and exitRun, bumping the generation per run in memory.
   */
  private pinned!: Uint32Array;
  /** the generation of the run that retired a PENDING element */
  private readonly retiredGen: Uint32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly pendingList: number[] = [];
  private count = 0;
  private inRun = false;

  constructor(mem: AddressSpace, attr: MapAttr) {
    if (attr.maxEntries === 0 || attr.keySize === 0 || attr.valueSize === 0) {
      throw new BpfError('EINVAL', 'invalid hash map: key_size, value_size and max_entries must be non-zero');
    }
    if (attr.keySize > MAX_BPF_STACK) throw new BpfError('E2BIG', `hash map key_size ${attr.keySize} exceeds ${MAX_BPF_STACK}`);
    this.mem = mem;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.keyRound = roundUp8(attr.keySize);
    this.elemSize = this.keyRound + roundUp8(attr.valueSize);
    this.nBuckets = roundupPowOfTwo(attr.maxEntries);
    const cap = this.maxEntries + SPARE;
    this.cap = cap;
    const bytes = cap * this.elemSize;
    // The links follow the elements in the runtime's memory, where the JIT's
    // inline lookup walks them: 4 bytes per bucket, 12 per element (next,
    // hash, pinning run). State and the free stack (5 more) stay outside.
    const links = this.nBuckets * 4 + cap * 12;
    const what = `hash map of ${this.maxEntries} x ${this.elemSize} bytes`;
    if (cap * 5 > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, bytes + links, what));
    this.linksAddr = this.base + bytes;
    this.syncViews();
    this.heads.fill(-1);
    this.next.fill(-1);
    const v = mem.view;
    const h = this.addr;
    v.setUint32(h + MAP_HDR.TYPE, this.type, true);
    v.setUint32(h + MAP_HDR.KEY_SIZE, this.keySize, true);
    v.setUint32(h + MAP_HDR.VALUE_SIZE, this.valueSize, true);
    v.setUint32(h + MAP_HDR.MAX_ENTRIES, this.maxEntries, true);
    v.setUint32(h + MAP_HDR.STRIDE, this.elemSize, true);
    v.setUint32(h + MAP_HDR.KEY_ROUND, this.keyRound, true);
    v.setUint32(h + MAP_HDR.MASK, this.nBuckets - 1, true);
    v.setUint32(h + MAP_HDR.HEADS, this.linksAddr, true);
    v.setUint32(h + MAP_HDR.NEXT, this.linksAddr + this.nBuckets * 4, true);
    v.setUint32(h + MAP_HDR.HASHES, this.linksAddr + this.nBuckets * 4 + cap * 4, true);
    v.setUint32(h + MAP_HDR.PINNED, this.linksAddr + this.nBuckets * 4 + cap * 8, true);
    this.state = new Uint8Array(cap);
    this.retiredGen = new Uint32Array(cap);
    this.freeStack = new Int32Array(cap);
    // Hand out low indexes first, so storage fills from its start.
    for (let i = 0; i < cap; i++) this.freeStack[i] = cap - 1 - i;
    this.freeTop = cap;
    const { base, elemSize, keyRound, valueSize, state } = this;
    this.region = {
      start: base,
      end: base + bytes,
      writable: true,
      name: 'hash map value',
      contains: (addr, end) => {
        const rel = addr - base;
        const idx = Math.floor(rel / elemSize);
        const off = rel - idx * elemSize;
        return state[idx] !== FREE && off >= keyRound && off + (end - addr) <= keyRound + valueSize;
      },
    };
  }

  /** (Re)make the link views: at creation, and after the memory has grown. */
  private syncViews(): void {
    if (this.viewsGrowth === this.mem.growth) return;
    const buf = this.mem.memory.buffer;
    const n = this.nBuckets;
    const cap = this.cap;
    this.heads = new Int32Array(buf, this.linksAddr, n);
    this.next = new Int32Array(buf, this.linksAddr + n * 4, cap);
    this.hashes = new Uint32Array(buf, this.linksAddr + n * 4 + cap * 4, cap);
    this.pinned = new Uint32Array(buf, this.linksAddr + n * 4 + cap * 8, cap);
    this.viewsGrowth = this.mem.growth;
  }

  private elemAddr(i: number): number {
    return this.base + i * this.elemSize;
  }

  private find(keyAddr: number, hash: number): { idx: number; prev: number } {
    const u8 = this.mem.u8;
    let prev = -1;
    for (let i = this.heads[hash & (this.nBuckets - 1)]!; i !== -1; prev = i, i = this.next[i]!) {
      if (this.hashes[i] !== hash) continue;
      const e = this.elemAddr(i);
      let same = true;
      for (let k = 0; k < this.keySize; k++) {
        if (u8[e + k] !== u8[keyAddr + k]) {
          same = false;
          break;
        }
      }
      if (same) return { idx: i, prev };
    }
    return { idx: -1, prev: -1 };
  }

  private hashOf(keyAddr: number): number {
    return jhash(this.mem.u8, keyAddr, this.keySize, 0);
  }

  lookup(keyAddr: number): number {
    this.syncViews();
    const { idx } = this.find(keyAddr, this.hashOf(keyAddr));
    if (idx < 0) return 0;
    if (this.inRun) this.pinned[idx] = this.generation();
    return this.elemAddr(idx) + this.keyRound;
  }

  private unlink(bucket: number, idx: number, prev: number): void {
    if (prev < 0) this.heads[bucket] = this.next[idx]!;
    else this.next[prev] = this.next[idx]!;
    this.next[idx] = -1;
  }

  private linkHead(bucket: number, idx: number): void {
    this.next[idx] = this.heads[bucket]!;
    this.heads[bucket] = idx;
  }

  private generation(): number {
    return this.mem.view.getUint32(RUN_GEN_ADDR, true);
  }

  /** Held by the current run: looked up in it. */
  private isPinned(idx: number): boolean {
    return this.inRun && this.pinned[idx] === this.generation();
  }

  /** An unlinked element: free now, or after the run when the program may still hold it. */
  private retire(idx: number): void {
    if (this.isPinned(idx)) {
      this.state[idx] = PENDING;
      this.retiredGen[idx] = this.generation();
      this.pendingList.push(idx);
    } else {
      this.state[idx] = FREE;
      this.freeStack[this.freeTop++] = idx;
    }
  }

  update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    this.syncViews();
    const hash = this.hashOf(keyAddr);
    const bucket = hash & (this.nBuckets - 1);
    const { idx: old, prev } = this.find(keyAddr, hash);
    if (old < 0 && this.count >= this.maxEntries) return E.E2BIG;
    if (old >= 0 && flagsLo === BPF_NOEXIST) return E.EEXIST;
    if (old < 0 && flagsLo === BPF_EXIST) return E.ENOENT;
    const u8 = this.mem.u8;
    if (old >= 0 && !this.isPinned(old)) {
      // Nobody holds the old value: replace it in place and move it to the head, as the kernel's
      // new element would be.
      u8.copyWithin(this.elemAddr(old) + this.keyRound, valueAddr, valueAddr + this.valueSize);
      this.unlink(bucket, old, prev);
      this.linkHead(bucket, old);
      return 0;
    }
    if (this.freeTop === 0) this.reclaim();
    if (this.freeTop === 0) return E.ENOMEM;
    const idx = this.freeStack[--this.freeTop]!;
    const e = this.elemAddr(idx);
    u8.copyWithin(e, keyAddr, keyAddr + this.keySize);
    u8.fill(0, e + this.keySize, e + this.keyRound);
    u8.copyWithin(e + this.keyRound, valueAddr, valueAddr + this.valueSize);
    u8.fill(0, e + this.keyRound + this.valueSize, e + this.elemSize);
    this.hashes[idx] = hash;
    this.state[idx] = LIVE;
    this.linkHead(bucket, idx);
    if (old >= 0) {
      // `prev` was found before the new head went in; the old element's predecessor is unchanged
      // unless it was the head, which is now the new element.
      this.unlink(bucket, old, prev < 0 ? idx : prev);
      this.retire(old);
    } else {
      this.count++;
    }
    return 0;
  }

  delete(keyAddr: number): number {
    this.syncViews();
    const hash = this.hashOf(keyAddr);
    const { idx, prev } = this.find(keyAddr, hash);
    if (idx < 0) return E.ENOENT;
    this.unlink(hash & (this.nBuckets - 1), idx, prev);
    this.count--;
    this.retire(idx);
    return 0;
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    this.syncViews();
    let bucket = 0;
    if (keyAddr !== 0) {
      const hash = this.hashOf(keyAddr);
      const { idx } = this.find(keyAddr, hash);
      if (idx >= 0) {
        const n = this.next[idx]!;
        if (n !== -1) return this.copyKey(n, nextKeyAddr);
        bucket = (hash & (this.nBuckets - 1)) + 1;
      }
    }
    for (; bucket < this.nBuckets; bucket++) {
      const h = this.heads[bucket]!;
      if (h !== -1) return this.copyKey(h, nextKeyAddr);
    }
    return E.ENOENT;
  }

  private copyKey(idx: number, to: number): number {
    const e = this.elemAddr(idx);
    this.mem.u8.copyWithin(to, e, e + this.keySize);
    return 0;
  }

  /** Live elements, for tests and accounting. */
  get size(): number {
    return this.count;
  }

  /** A run starts: a new generation (a JIT batch bumps it again per run). */
  enterRun(): void {
    this.inRun = true;
    const v = this.mem.view;
    v.setUint32(this.addr + MAP_HDR.IN_RUN, 1, true);
    v.setUint32(RUN_GEN_ADDR, v.getUint32(RUN_GEN_ADDR, true) + 1, true);
  }

  /** Inside a batch: free the elements retired by runs that have ended. */
  private reclaim(): void {
    const gen = this.generation();
    let kept = 0;
    for (const i of this.pendingList) {
      if (this.retiredGen[i] === gen) this.pendingList[kept++] = i;
      else {
        this.state[i] = FREE;
        this.freeStack[this.freeTop++] = i;
      }
    }
    this.pendingList.length = kept;
  }

  exitRun(): void {
    this.inRun = false;
    this.mem.view.setUint32(this.addr + MAP_HDR.IN_RUN, 0, true);
    for (const i of this.pendingList) {
      this.state[i] = FREE;
      this.freeStack[this.freeTop++] = i;
    }
    this.pendingList.length = 0;
  }

  free(): void {
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}
