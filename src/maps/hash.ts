/**
 * BPF_MAP_TYPE_HASH as in 3.19's kernel/bpf/hashtab.c: n_buckets =
 * roundup_pow_of_two(max_entries) singly linked buckets picked by
 * jhash(key, key_size, 0), new and updated elements inserted at the head of
 * their bucket, E2BIG when a new key would exceed max_entries (checked
 * before BPF_EXIST), and get_next_key walking buckets in order from any
 * absent key.
 *
 * Storage is preallocated in the runtime's memory: max_entries elements plus
 * SPARE, each `key (rounded to 8) | value (rounded to 8)`. An update
 * replaces an element atomically: a program holding a pointer to the old
 * value (one it looked up in this run) keeps reading the old value until it
 * exits. Such an element is not reused until the run ends; its replacement
 * comes from the spares, and when a single run exhausts them the update
 * fails with ENOMEM, as the kernel's GFP_ATOMIC allocation may.
 *
 * The links (bucket heads, next indexes, hashes) that every operation walks
 * are typed arrays of this object, outside the memory programs address, so
 * a program that escaped the verifier cannot make them cycle or point out
 * of range; every walk is bounded anyway (cap elements), and an
 * inconsistency is EFAULT. After the elements, the memory holds a mirror of
 * the links for the JIT's inline lookup (jit/maps.ts) and the pin words;
 * the map writes the mirror of a bucket after each change to it, and
 * rewrites all of it when the JIT reports it inconsistent (the suspect
 * word, checked on each lookup here, where the JIT's fallback arrives). A
 * program that rewrites the mirror without tripping the JIT's checks can
 * make the JIT's lookups in that map miss, or find a stale element of the
 * same map, until the bucket next changes; never more. The pin words and
 * the run generation only decide which element an update may reuse.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { RUN_GEN_ADDR } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import { jhash } from './jhash.js';
import type { BpfMapImpl, JitHashLayout, MapAttr, MapType } from './map.js';
import { BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, E, allocMapStorage, corruptMap, roundUp8, roundupPowOfTwo } from './map.js';
import { MAX_BPF_STACK } from '../isa/opcodes.js';

/** elements beyond max_entries for replacing elements a running program holds */
export const SPARE = 32;

const FREE = 0;
const LIVE = 1;
/** unlinked during a run while the program may still hold its value pointer */
const PENDING = 2;

/** bytes before the mirror's heads: the suspect word, and padding */
const MIRROR_META = 8;

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
  /** elements: max_entries + SPARE */
  readonly cap: number;
  private readonly mem: AddressSpace;
  /** the authoritative links: first element per bucket, next element, jhash of the key (-1: none) */
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private readonly hashes: Uint32Array;
  /** the mirror in memory (see the file comment), and its views, made again if the memory grows */
  private readonly mirrorAddr: number;
  private mHeads!: Int32Array;
  private mNext!: Int32Array;
  private mHashes!: Uint32Array;
  private mSuspect!: Int32Array;
  private viewsGrowth = -1;
  private readonly state: Uint8Array;
  /**
   * The run generation (RUN_GEN_ADDR) in which each element was last looked
   * up, in memory where the JIT's inline lookup writes it too: while that
   * run lasts, replacing the element must not overwrite it. Generations
   * rather than flags let a JIT batch run many programs between one
   * enterRun and exitRun, bumping the generation per run in memory.
   */
  private pinned!: Uint32Array;
  /** the generation of the run that retired a PENDING element */
  private readonly retiredGen: Uint32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly pendingList: number[] = [];
  private count = 0;
  private inRun = false;
  /** the predecessor of the element the last find() returned (-1: the bucket's head) */
  private prev = -1;
  private readonly what: string;

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
    // The mirror follows the elements: the suspect word, 4 bytes per bucket, 12 per element (next,
    // hash, pinning run). The authoritative links, state and free stack (21 bytes per element, 4 per
    // bucket) stay outside.
    const mirror = MIRROR_META + this.nBuckets * 4 + cap * 12;
    const what = `hash map of ${this.maxEntries} x ${this.elemSize} bytes`;
    if (cap * 5 > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, bytes + mirror, what, attr));
    this.what = `hash map at 0x${this.addr.toString(16)}`;
    this.mirrorAddr = this.base + bytes;
    this.heads = new Int32Array(this.nBuckets).fill(-1);
    this.next = new Int32Array(cap).fill(-1);
    this.hashes = new Uint32Array(cap);
    this.syncViews();
    this.mHeads.fill(-1);
    this.mNext.fill(-1);
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

  jitLayout(): JitHashLayout {
    const m = this.mirrorAddr;
    const n = this.nBuckets;
    const cap = this.cap;
    return {
      type: BPF_MAP_TYPE.HASH,
      addr: this.addr,
      base: this.base,
      stride: this.elemSize,
      keySize: this.keySize,
      keyRound: this.keyRound,
      nBuckets: n,
      cap,
      suspect: m,
      heads: m + MIRROR_META,
      next: m + MIRROR_META + n * 4,
      hashes: m + MIRROR_META + n * 4 + cap * 4,
      pinned: m + MIRROR_META + n * 4 + cap * 8,
    };
  }

  /** (Re)make the views of the mirror and pin words: at creation, and after the memory has grown. */
  private syncViews(): void {
    if (this.viewsGrowth === this.mem.growth) return;
    const buf = this.mem.memory.buffer;
    const l = this.jitLayout();
    this.mSuspect = new Int32Array(buf, l.suspect, 1);
    this.mHeads = new Int32Array(buf, l.heads, this.nBuckets);
    this.mNext = new Int32Array(buf, l.next, this.cap);
    this.mHashes = new Uint32Array(buf, l.hashes, this.cap);
    this.pinned = new Uint32Array(buf, l.pinned, this.cap);
    this.viewsGrowth = this.mem.growth;
  }

  /** Write bucket b's chain into the mirror (after each change to it). */
  private mirrorBucket(b: number): void {
    let i = this.heads[b]!;
    this.mHeads[b] = i;
    for (let steps = 0; i !== -1; steps++) {
      this.checkLink(i, steps);
      this.mNext[i] = this.next[i]!;
      this.mHashes[i] = this.hashes[i]!;
      i = this.next[i]!;
    }
  }

  /** Rewrite the whole mirror from the authoritative links, and clear the suspect word. */
  refreshMirror(): void {
    this.syncViews();
    this.mHeads.set(this.heads);
    this.mNext.set(this.next);
    this.mHashes.set(this.hashes);
    this.mSuspect[0] = 0;
  }

  /** EFAULT unless i is an element index and a walk of `steps` elements so far is not too long. */
  private checkLink(i: number, steps: number): void {
    if (i >>> 0 >= this.cap) throw corruptMap(this.what, `element index ${i} of ${this.cap}`);
    if (steps >= this.cap) throw corruptMap(this.what, `a chain longer than its ${this.cap} elements`);
  }

  private elemAddr(i: number): number {
    return this.base + i * this.elemSize;
  }

  /** The element holding the key at keyAddr (its predecessor in this.prev), or -1. At most cap elements are visited. */
  private find(keyAddr: number, hash: number): number {
    const u8 = this.mem.u8;
    const { next, hashes, keySize } = this;
    let prev = -1;
    let steps = 0;
    for (let i = this.heads[hash & (this.nBuckets - 1)]!; i !== -1; prev = i, i = next[i]!) {
      this.checkLink(i, steps++);
      if (hashes[i] !== hash) continue;
      const e = this.elemAddr(i);
      let k = 0;
      while (k < keySize && u8[e + k] === u8[keyAddr + k]) k++;
      if (k === keySize) {
        this.prev = prev;
        return i;
      }
    }
    this.prev = -1;
    return -1;
  }

  private hashOf(keyAddr: number): number {
    return jhash(this.mem.u8, keyAddr, this.keySize, 0);
  }

  lookup(keyAddr: number): number {
    this.syncViews();
    // The JIT's inline lookup found the mirror inconsistent and fell back to this helper.
    if (this.mSuspect[0] !== 0) this.refreshMirror();
    const idx = this.find(keyAddr, this.hashOf(keyAddr));
    if (idx < 0) return 0;
    if (this.inRun) this.pinned[idx] = this.generation();
    return this.elemAddr(idx) + this.keyRound;
  }

  /** Unlink idx, whose predecessor is prev (-1: the head), from bucket b. */
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
    const old = this.find(keyAddr, hash);
    const prev = this.prev;
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
      this.mirrorBucket(bucket);
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
    this.mirrorBucket(bucket);
    return 0;
  }

  delete(keyAddr: number): number {
    this.syncViews();
    const hash = this.hashOf(keyAddr);
    const idx = this.find(keyAddr, hash);
    if (idx < 0) return E.ENOENT;
    const bucket = hash & (this.nBuckets - 1);
    this.unlink(bucket, idx, this.prev);
    this.count--;
    this.retire(idx);
    this.mirrorBucket(bucket);
    return 0;
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    let bucket = 0;
    if (keyAddr !== 0) {
      const hash = this.hashOf(keyAddr);
      const idx = this.find(keyAddr, hash);
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
    this.checkLink(idx, 0);
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

/** The map-type table's row (maps/types.ts). */
export const HASH_MAP: MapType<'hash'> = {
  name: 'hash',
  id: BPF_MAP_TYPE.HASH,
  since: '3.19',
  dense: false,
  create: (mem, attr) => new HashMap(mem, attr),
};
