/**
 * hash, percpu_hash, lru_hash and lru_percpu_hash maps in a shared memory
 * (maps/shared.ts), used by several threads at once, each through its own
 * SharedHashMap over the same bytes and the same state (shareState,
 * attachHash).
 *
 * The layout in memory is HashMapBase's (elements, then the JIT's mirror),
 * so the engines, the JIT's inline lookup and the checked interpreter's
 * regions see no difference, except that per-CPU elements put the key and
 * each CPU's value on cache lines of their own (HashStorage.cacheLines:
 * the workers are CPUs, each writing its own value on its own core), which
 * every user of the layout reads from valueOff and cpuStride. What HashMapBase keeps in its own arrays (the
 * authoritative links, hashes, element states, free stack) is in one
 * SharedArrayBuffer here, with the count, the retired elements and the
 * locks:
 *
 * - Every operation from JavaScript (helpers, syscall side) but a
 *   program's lookup holds its key's bucket lock while it walks or changes
 *   the bucket (a lookup in a run walks as the JIT's does, below); taking or
 *   giving back an element also holds the free-list lock (always taken
 *   after a bucket's, never the other way). So BPF_NOEXIST has one winner
 *   per key, and the count is reserved by compare-and-swap before an
 *   element is linked: it never exceeds max_entries, and E2BIG comes
 *   exactly at the limit.
 * - The JIT's inline lookup takes no lock: it walks the mirror while
 *   writers change it (the helper's lookup in a run walks the authoritative
 *   links the same way). Writers therefore write an element's key, value,
 *   hash and next link before linking it (the link is an atomic store,
 *   ordering the writes before it), and unlinking leaves the unlinked
 *   element's own next link as it was, so a walk standing on it goes on
 *   along its old bucket. An update of an existing key links a new element
 *   and unlinks the old one (the kernel's order): a lookup finds one or the
 *   other, whole.
 * - An unlinked element is retired with an epoch and reused only when no
 *   lane's run can still hold it (maps/shared.ts), instead of HashMapBase's
 *   pinning by run generation (the pin words in memory are not read here).
 *   A map has SPARE elements per CPU beyond max_entries for the elements
 *   retired while runs hold them; an update that finds none reusable fails
 *   with ENOMEM, as the kernel's allocation may.
 *
 * - LRU variants: the LRU lists (maps/lru.ts) live in a second
 *   SharedArrayBuffer under one lock, taken to take or give back a node,
 *   never while a bucket's is held (an eviction, under it, takes the
 *   evicted element's bucket lock). An element is evicted only if it is in
 *   its bucket: a node another thread's update holds but has not linked
 *   yet, or one a delete has unlinked but not given back, is passed over,
 *   as the kernel's lists do when del_from_htab fails. A program's lookup
 *   sets its element's reference bit without a lock, as the kernel's.
 *
 * The mirror is still never trusted: when the JIT reports it inconsistent,
 * a lookup rewrites it bucket by bucket under each bucket's lock.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { HashMapBase, FREE, LIVE, PENDING, PLAIN, SPARE } from './hash.js';
import type { HashArrays, HashKind } from './hash.js';
import type { LruLists } from './lru.js';
import type { BpfMapImpl, JitHashLayout, MapAttr, MapEnv, SharedMapState } from './map.js';
import { BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, E, copyBytes } from './map.js';
import { Epochs, RECLAIM_WAIT_MS, lockWord, pause, unlockWord } from './shared.js';
import { ERRNO } from '../errors.js';

/** the meta words at the start of the state buffer */
const COUNT = 0;
const FREE_TOP = 1;
const FREE_LOCK = 2;
const RETIRED = 3;
/** LRU variants: the lock of the LRU lists (taken before a bucket's, never after) */
const LRU_LOCK = 4;
const META_WORDS = 16;

const EBUSY = -ERRNO.EBUSY;
/** takeElement: no element now, but other lanes' runs hold some that will be freed when they end */
const WAIT = -2;
/** tryUpdate: try again once other lanes' runs have moved on (a positive number: no errno) */
const RETRY = 1;

const PERCPU: HashKind = { type: BPF_MAP_TYPE.PERCPU_HASH, name: 'percpu_hash', perCpu: true, lru: false };
const LRU: HashKind = { type: BPF_MAP_TYPE.LRU_HASH, name: 'lru_hash', perCpu: false, lru: true };
const LRU_PERCPU: HashKind = { type: BPF_MAP_TYPE.LRU_PERCPU_HASH, name: 'lru_percpu_hash', perCpu: true, lru: true };
const KINDS = new Map([PLAIN, PERCPU, LRU, LRU_PERCPU].map((k) => [k.type, k]));

/** Views of the state buffer: the meta words, a lock per bucket, then HashArrays and the retired list. */
interface StateViews extends HashArrays {
  readonly meta: Int32Array;
  readonly locks: Int32Array;
  readonly retired: Int32Array;
}

function stateBytes(nBuckets: number, cap: number): number {
  return 4 * (META_WORDS + 2 * nBuckets + 5 * cap) + cap;
}

function stateViews(sab: SharedArrayBuffer, nBuckets: number, cap: number): StateViews {
  let at = 0;
  const i32 = (n: number): Int32Array => {
    const v = new Int32Array(sab, at, n);
    at += 4 * n;
    return v;
  };
  const meta = i32(META_WORDS);
  const locks = i32(nBuckets);
  const heads = i32(nBuckets);
  const next = i32(cap);
  const hashes = new Uint32Array(sab, at, cap);
  at += 4 * cap;
  const freeStack = i32(cap);
  const retired = i32(cap);
  const retiredGen = new Uint32Array(sab, at, cap);
  at += 4 * cap;
  const state = new Uint8Array(sab, at, cap);
  return { meta, locks, heads, next, hashes, freeStack, retired, retiredGen, state };
}

export class SharedHashMap extends HashMapBase {
  /** plain hash maps: the JIT's inline lookup (percpu_hash has jitPerCpuLayout) */
  readonly jitLayout?: () => JitHashLayout;
  private readonly sab: SharedArrayBuffer;
  private readonly lruSab: SharedArrayBuffer | undefined;
  private readonly meta: Int32Array;
  private readonly locks: Int32Array;
  private readonly retired: Int32Array;
  private readonly epochs: Epochs;
  /** made by another thread: the storage is that thread's to free */
  private readonly attached: boolean;
  /** bucketKeys's copies of a bucket's elements (taken under its lock), allocated on first use */
  private snapshot = 0;
  private snapshotCap = 0;

  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv, kind: HashKind, from?: SharedMapState) {
    let views: StateViews | undefined;
    let sab: SharedArrayBuffer | undefined = from?.sab;
    let lruSab: SharedArrayBuffer | undefined = from?.lru;
    super(mem, attr, env, kind, {
      lruState: (bytes) => {
        lruSab ??= new SharedArrayBuffer(bytes);
        if (!(lruSab instanceof SharedArrayBuffer) || lruSab.byteLength !== bytes) throw new BpfError('EINVAL', `attachMap: the LRU lists of ${kind.name} map at 0x${from?.addr.toString(16)} need a SharedArrayBuffer of ${bytes} bytes`);
        return { buffer: lruSab, fresh: from === undefined };
      },
      spare: from?.spare ?? SPARE * Math.max(1, env.cpus),
      cacheLines: kind.perCpu,
      ...(from ? { ncpus: from.ncpus, at: { addr: from.addr, base: from.base } } : {}),
      arrays: (nBuckets, cap) => {
        sab ??= new SharedArrayBuffer(stateBytes(nBuckets, cap));
        if (sab.byteLength !== stateBytes(nBuckets, cap)) throw new BpfError('EINVAL', `attachMap: the state of ${kind.name} map at 0x${from?.addr.toString(16)} has ${sab.byteLength} bytes, not ${stateBytes(nBuckets, cap)}`);
        views = stateViews(sab, nBuckets, cap);
        return views;
      },
    });
    this.sab = sab!;
    this.lruSab = lruSab;
    this.meta = views!.meta;
    this.locks = views!.locks;
    this.retired = views!.retired;
    this.attached = from !== undefined;
    if (!from) Atomics.store(this.meta, FREE_TOP, this.cap);
    this.epochs = new Epochs(mem, env);
    if (kind === PLAIN) this.jitLayout = () => this.mirrorLayout();
  }

  shareState(): SharedMapState {
    const { type, keySize, valueSize, maxEntries, mapFlags, addr, base, ncpus, sab } = this;
    return { type, keySize, valueSize, maxEntries, mapFlags, addr, base, ncpus, spare: this.cap - maxEntries, sab, ...(this.lruSab ? { lru: this.lruSab } : {}) };
  }

  private bucketOf(hash: number): number {
    return hash & (this.nBuckets - 1);
  }

  /** Write bucket b's chain into the mirror, its head last (a walk starting now sees whole elements). */
  private mirrorChain(b: number): void {
    const { next, hashes, mNext, mHashes } = this;
    const head = this.heads[b]!;
    for (let i = head, steps = 0; i !== -1; i = next[i]!, steps++) {
      this.checkLink(i, steps);
      Atomics.store(mNext, i, next[i]!);
      mHashes[i] = hashes[i]!;
    }
    Atomics.store(this.mHeads, b, head);
  }

  override refreshMirror(): void {
    for (let b = 0; b < this.nBuckets; b++) {
      if (!lockWord(this.locks, b)) continue;
      try {
        this.mirrorChain(b);
      } finally {
        unlockWord(this.locks, b);
      }
    }
    Atomics.store(this.mSuspect, 0, 0);
  }

  /**
   * A program's lookup (the helper). Inside a run it takes no lock, as the
   * JIT's inline lookup: it walks the authoritative links, which writers
   * change in the same order as the mirror, and the run's epoch keeps every
   * element it can reach from being reused under it. Outside a run (the
   * syscall side's BpfMap), under the bucket's lock.
   */
  override lookup(keyAddr: number): number {
    // The JIT's inline lookup found the mirror inconsistent and fell back to this helper.
    if (Atomics.load(this.mSuspect, 0) !== 0) this.refreshMirror();
    const hash = this.hashOf(keyAddr);
    let idx = this.epochs.inRun() ? this.findInRun(keyAddr, hash) : -2;
    if (idx === -2) {
      const b = this.bucketOf(hash);
      if (!lockWord(this.locks, b)) return 0;
      try {
        idx = this.find(keyAddr, hash);
      } finally {
        unlockWord(this.locks, b);
      }
    }
    if (idx < 0) return 0;
    // (a plain store, as the kernel's bpf_lru_node_set_ref: a node evicted meanwhile has it cleared when taken again)
    this.lru?.setRef(idx);
    return this.elemAddr(idx) + this.valueOff + this.cpu() * this.cpuStride;
  }

  /** find() without the lock, for a thread in a run: the element, -1 when absent, -2 when the walk ran past cap steps (take the lock). */
  private findInRun(keyAddr: number, hash: number): number {
    const u8 = this.mem.u8;
    const { next, hashes, keySize, heads, cap } = this;
    let i = Atomics.load(heads, hash & (this.nBuckets - 1));
    for (let steps = 0; i !== -1; steps++) {
      if (i >>> 0 >= cap || steps >= cap) return -2;
      if (hashes[i] === hash) {
        const e = this.elemAddr(i);
        let k = 0;
        while (k < keySize && u8[e + k] === u8[keyAddr + k]) k++;
        if (k === keySize) return i;
      }
      i = Atomics.load(next, i);
    }
    return -1;
  }

  override sysLookup(keyAddr: number, outAddr: number): number {
    if (Atomics.load(this.mSuspect, 0) !== 0) this.refreshMirror();
    const hash = this.hashOf(keyAddr);
    const b = this.bucketOf(hash);
    if (!lockWord(this.locks, b)) return EBUSY;
    try {
      const idx = this.find(keyAddr, hash);
      if (idx < 0) return E.ENOENT;
      this.readValues(idx, outAddr);
      return 0;
    } finally {
      unlockWord(this.locks, b);
    }
  }

  override update(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    return this.sharedUpdate(keyAddr, valueAddr, flagsLo, flagsHi, false);
  }

  override sysUpdate(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    return this.sharedUpdate(keyAddr, valueAddr, flagsLo, flagsHi, true);
  }

  /** One more element counted, unless max_entries are: false then (E2BIG). */
  private reserve(): boolean {
    const meta = this.meta;
    for (;;) {
      const c = Atomics.load(meta, COUNT);
      if (c >= this.maxEntries) return false;
      if (Atomics.compareExchange(meta, COUNT, c, c + 1) === c) return true;
    }
  }

  /**
   * An update that needs an element when every retired one is still held
   * by a run. If this thread is in a run, the run gives up its own hold
   * first (its run word takes the current epoch): the elements retired
   * since it started become reusable once no other run holds them, and a
   * value it looked up before may then change under it, as the kernel's
   * preallocated hash maps allow (two runs waiting for each other's
   * elements would otherwise wait for ever). Then the update is tried
   * again (from the lookup) until other lanes' runs have moved on, for at
   * most RECLAIM_WAIT_MS, holding no lock while it waits; ENOMEM then.
   */
  private sharedUpdate(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number, allCpus: boolean): number {
    let r = this.tryUpdate(keyAddr, valueAddr, flagsLo, flagsHi, allCpus);
    if (r !== RETRY) return r;
    this.epochs.yieldRun();
    r = this.tryUpdate(keyAddr, valueAddr, flagsLo, flagsHi, allCpus);
    const deadline = Date.now() + RECLAIM_WAIT_MS;
    while (r === RETRY && Date.now() < deadline) {
      pause(0.05);
      // (again: what other threads retired while this one waited is not held by it either)
      this.epochs.yieldRun();
      r = this.tryUpdate(keyAddr, valueAddr, flagsLo, flagsHi, allCpus);
    }
    return r === RETRY ? E.ENOMEM : r;
  }

  private tryUpdate(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number, allCpus: boolean): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    if (this.lru) return this.tryLruUpdate(this.lru, keyAddr, valueAddr, flagsLo, allCpus);
    const hash = this.hashOf(keyAddr);
    const b = this.bucketOf(hash);
    if (!lockWord(this.locks, b)) return EBUSY;
    try {
      const old = this.find(keyAddr, hash);
      const prev = this.prev;
      if (old >= 0) {
        if (flagsLo === BPF_NOEXIST) return E.EEXIST;
        if (this.kind.perCpu || this.kind.inPlace) {
          this.writeValue(old, valueAddr, allCpus, false);
          return 0;
        }
      } else if (this.modern) {
        if (flagsLo === BPF_EXIST) return E.ENOENT;
        if (!this.reserve()) return E.E2BIG;
      } else {
        // 3.19 checks the capacity first
        if (!this.reserve()) return E.E2BIG;
        if (flagsLo === BPF_EXIST) {
          Atomics.sub(this.meta, COUNT, 1);
          return E.ENOENT;
        }
      }
      const idx = this.takeElement();
      if (idx < 0) {
        if (old < 0) Atomics.sub(this.meta, COUNT, 1);
        return idx === WAIT ? RETRY : E.ENOMEM;
      }
      const u8 = this.mem.u8;
      const e = this.elemAddr(idx);
      copyBytes(u8, e, keyAddr, this.keySize);
      u8.fill(0, e + this.keySize, e + this.keyRound);
      this.writeValue(idx, valueAddr, allCpus, true);
      this.state[idx] = LIVE;
      this.hashes[idx] = hash;
      this.next[idx] = this.heads[b]!;
      // linked last (an atomic store: the writes above come first for a walk without the lock)
      Atomics.store(this.heads, b, idx);
      if (old >= 0) {
        // the old element's predecessor is unchanged unless it was the head, which is now the new element
        this.unlinkShared(b, old, prev < 0 ? idx : prev);
        this.retireShared(old);
      }
      this.mirrorChain(b);
      return 0;
    } finally {
      unlockWord(this.locks, b);
    }
  }

  /** Run f holding the LRU lists' lock (EBUSY when it stays held). */
  private withLru<T>(f: () => T): T {
    if (!lockWord(this.meta, LRU_LOCK)) throw new BpfError('EBUSY', `${this.what}: the LRU lists stayed locked`);
    try {
      return f();
    } finally {
      unlockWord(this.meta, LRU_LOCK);
    }
  }

  /**
   * An LRU update (HashMapBase's lruUpdate, in the kernel's order: the
   * node is taken before the key is looked up, and may evict). The LRU
   * lists' lock is held while taking or giving back a node (an eviction
   * then takes the evicted element's bucket lock), never with a bucket's.
   */
  private tryLruUpdate(lru: LruLists, keyAddr: number, valueAddr: number, flagsLo: number, allCpus: boolean): number {
    const perCpu = this.kind.perCpu;
    let node = -1;
    if (!perCpu || flagsLo !== BPF_EXIST) {
      node = this.takeElement();
      if (node < 0) return node === WAIT ? RETRY : E.ENOMEM;
      const taken = node;
      if (!this.withLru(() => lru.pop(this.lruCpu(), taken))) {
        this.giveElement(node);
        return E.ENOMEM;
      }
    }
    const giveBack = (r: number): number => {
      if (node >= 0) {
        const n = node;
        this.withLru(() => lru.pushFree(n));
        this.giveElement(n);
      }
      return r;
    };
    const hash = this.hashOf(keyAddr);
    const b = this.bucketOf(hash);
    if (!lockWord(this.locks, b)) return giveBack(EBUSY);
    let old: number;
    try {
      old = this.find(keyAddr, hash);
      const prev = this.prev;
      if (old >= 0 && flagsLo === BPF_NOEXIST) old = -2;
      else if (old < 0 && flagsLo === BPF_EXIST) old = -3;
      else if (old >= 0 && perCpu) {
        lru.setRef(old);
        this.writeValue(old, valueAddr, allCpus, false);
        old = -4;
      } else {
        const u8 = this.mem.u8;
        const e = this.elemAddr(node);
        copyBytes(u8, e, keyAddr, this.keySize);
        u8.fill(0, e + this.keySize, e + this.keyRound);
        this.writeValue(node, valueAddr, allCpus, true);
        this.state[node] = LIVE;
        this.hashes[node] = hash;
        this.next[node] = this.heads[b]!;
        Atomics.store(this.heads, b, node);
        if (old >= 0) {
          lru.setRef(node);
          this.unlinkShared(b, old, prev < 0 ? node : prev);
        } else Atomics.add(this.meta, COUNT, 1);
        this.mirrorChain(b);
      }
    } finally {
      unlockWord(this.locks, b);
    }
    if (old === -2) return giveBack(E.EEXIST);
    if (old === -3) return giveBack(E.ENOENT);
    if (old === -4) return giveBack(0);
    if (old >= 0) {
      // the replaced element's node goes back, then the element is retired (reusable only after both)
      const o = old;
      this.withLru(() => lru.pushFree(o));
      this.retireShared(o);
    }
    return 0;
  }

  /** An element taken by takeElement and never linked, back to the free stack. */
  private giveElement(idx: number): void {
    const meta = this.meta;
    if (!lockWord(meta, FREE_LOCK)) return;
    try {
      this.state[idx] = FREE;
      this.freeStack[meta[FREE_TOP]!] = idx;
      meta[FREE_TOP]!++;
    } finally {
      unlockWord(meta, FREE_LOCK);
    }
  }

  /**
   * The LRU lists evict element idx (called holding their lock): out of its
   * bucket, then retired. false when it is not there: another thread's
   * update has its node and has not linked it yet, or a delete has unlinked
   * it and will give its node back (the lists then pass it over).
   */
  protected override evictElement(idx: number): boolean {
    this.checkLink(idx, 0);
    const hash = this.hashes[idx]!;
    const b = this.bucketOf(hash);
    if (!lockWord(this.locks, b)) return false;
    try {
      if (this.find(this.elemAddr(idx), hash) !== idx) return false;
      this.unlinkShared(b, idx, this.prev);
      Atomics.sub(this.meta, COUNT, 1);
      this.mirrorChain(b);
    } finally {
      unlockWord(this.locks, b);
    }
    this.retireShared(idx);
    return true;
  }

  /**
   * Unlink idx (predecessor prev, -1: the head) from bucket b. Its own next
   * link stays, in the mirror and here: a walk standing on it goes on.
   */
  private unlinkShared(b: number, idx: number, prev: number): void {
    const n = this.next[idx]!;
    if (prev < 0) {
      Atomics.store(this.heads, b, n);
      Atomics.store(this.mHeads, b, n);
    } else {
      Atomics.store(this.next, prev, n);
      Atomics.store(this.mNext, prev, n);
    }
  }

  /**
   * A free element, reclaiming retired ones when there is none; WAIT when
   * every retired element is still held by a run, -1 when nothing is
   * retired at all. Under its bucket's lock.
   */
  private takeElement(): number {
    const meta = this.meta;
    if (!lockWord(meta, FREE_LOCK)) return -1;
    try {
      if (meta[FREE_TOP] === 0) this.reclaimRetired();
      const top = meta[FREE_TOP]!;
      if (top === 0) return meta[RETIRED]! > 0 ? WAIT : -1;
      const idx = this.freeStack[top - 1]!;
      this.checkLink(idx, 0);
      meta[FREE_TOP] = top - 1;
      return idx;
    } finally {
      unlockWord(meta, FREE_LOCK);
    }
  }

  /** An unlinked element, reusable once no run can hold it. Under its bucket's lock. */
  private retireShared(idx: number): void {
    this.state[idx] = PENDING;
    const epoch = this.epochs.retire();
    const meta = this.meta;
    if (!lockWord(meta, FREE_LOCK)) {
      // the free list's lock is stuck (its holder stopped): the element is lost to the map, not corrupted
      return;
    }
    try {
      this.retiredGen[idx] = epoch;
      const n = meta[RETIRED]!;
      this.checkLink(n, 0);
      this.retired[n] = idx;
      meta[RETIRED] = n + 1;
    } finally {
      unlockWord(meta, FREE_LOCK);
    }
  }

  /** Free the retired elements no lane's run can hold. Under the free-list lock. */
  private reclaimRetired(): void {
    const now = this.epochs.now();
    const oldest = this.epochs.oldestAge(now);
    const meta = this.meta;
    const { retired, retiredGen, freeStack, state } = this;
    const n = meta[RETIRED]!;
    let kept = 0;
    let top = meta[FREE_TOP]!;
    for (let j = 0; j < n; j++) {
      const i = retired[j]!;
      this.checkLink(i, 0);
      // retired fewer epochs ago than the oldest run started: that run may hold it
      if (((now - retiredGen[i]!) | 0) < oldest) retired[kept++] = i;
      else {
        state[i] = FREE;
        freeStack[top++] = i;
      }
    }
    meta[RETIRED] = kept;
    meta[FREE_TOP] = top;
  }

  override delete(keyAddr: number): number {
    return this.remove(keyAddr, 0);
  }

  /** Delete the key at keyAddr, its value(s) first copied to outAddr (when not 0), in one hold of its bucket. */
  private remove(keyAddr: number, outAddr: number): number {
    const hash = this.hashOf(keyAddr);
    const b = this.bucketOf(hash);
    if (!lockWord(this.locks, b)) return EBUSY;
    let removed: number;
    try {
      const idx = this.find(keyAddr, hash);
      if (idx < 0) return E.ENOENT;
      if (outAddr !== 0) this.readValues(idx, outAddr);
      this.unlinkShared(b, idx, this.prev);
      Atomics.sub(this.meta, COUNT, 1);
      this.mirrorChain(b);
      removed = idx;
    } finally {
      unlockWord(this.locks, b);
    }
    // LRU: the node goes back before the element is retired (after it, another thread could reuse it)
    const lru = this.lru;
    if (lru) this.withLru(() => lru.pushFree(removed));
    this.retireShared(removed);
    return 0;
  }

  override lookupAndDelete(keyAddr: number, outAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsLo !== 0 || flagsHi !== 0) return E.EINVAL;
    return this.remove(keyAddr, outAddr);
  }

  override getNextKey(keyAddr: number, nextKeyAddr: number): number {
    let bucket = 0;
    if (keyAddr !== 0) {
      const hash = this.hashOf(keyAddr);
      const b = this.bucketOf(hash);
      if (!lockWord(this.locks, b)) return EBUSY;
      try {
        const idx = this.find(keyAddr, hash);
        if (idx >= 0) {
          const n = this.next[idx]!;
          if (n !== -1) return this.copyKey(n, nextKeyAddr);
          bucket = b + 1;
        }
      } finally {
        unlockWord(this.locks, b);
      }
    }
    for (; bucket < this.nBuckets; bucket++) {
      if (Atomics.load(this.heads, bucket) === -1) continue;
      if (!lockWord(this.locks, bucket)) return EBUSY;
      try {
        const h = this.heads[bucket]!;
        if (h !== -1) return this.copyKey(h, nextKeyAddr);
      } finally {
        unlockWord(this.locks, bucket);
      }
    }
    return E.ENOENT;
  }


  /**
   * The batch commands' bucket: copies of its elements (key, then the
   * syscall value at keyRound, as in an unshared map) taken under its
   * lock, so a batch never pairs a key with a value another thread wrote
   * meanwhile.
   */
  override bucketKeys(bucket: number, out: number[]): number[] {
    out.length = 0;
    if (Atomics.load(this.heads, bucket) === -1) return out;
    if (!lockWord(this.locks, bucket)) throw new BpfError('EBUSY', `${this.what}: bucket ${bucket} stayed locked`);
    try {
      let n = 0;
      for (let i = this.heads[bucket]!; i !== -1; i = this.next[i]!) this.checkLink(i, n++);
      const size = this.keyRound + this.sysValueSize;
      if (n > this.snapshotCap) {
        if (this.snapshot !== 0) this.mem.release(this.snapshot);
        this.snapshot = 0;
        this.snapshot = this.mem.alloc(n * size);
        this.snapshotCap = n;
      }
      const u8 = this.mem.u8;
      let at = this.snapshot;
      for (let i = this.heads[bucket]!; i !== -1; i = this.next[i]!, at += size) {
        u8.copyWithin(at, this.elemAddr(i), this.elemAddr(i) + this.keyRound);
        this.readValues(i, at + this.keyRound);
        out.push(at);
      }
      return out;
    } finally {
      unlockWord(this.locks, bucket);
    }
  }

  override get size(): number {
    return Atomics.load(this.meta, COUNT);
  }

  /** Where the elements are, for tests and fuzzers: live (counted), free and retired add up to cap when no operation is under way. */
  accounting(): { live: number; free: number; retired: number } {
    return { live: Atomics.load(this.meta, COUNT), free: Atomics.load(this.meta, FREE_TOP), retired: Atomics.load(this.meta, RETIRED) };
  }

  /** Runs hold elements by epochs (maps/shared.ts), which the engines keep: nothing to do per run. */
  override enterRun(): void {}
  override exitRun(): void {}

  override free(): void {
    if (this.snapshot !== 0) this.mem.release(this.snapshot);
    this.snapshot = 0;
    if (this.attached) return;
    super.free();
  }
}

/** hash or percpu_hash, made in a shared memory (createMap). */
export function createSharedHash(kind: HashKind): (mem: AddressSpace, attr: MapAttr, env: MapEnv) => BpfMapImpl {
  return (mem, attr, env) => new SharedHashMap(mem, attr, env, kind);
}

/** The hash types createMap makes shareable in a shared memory. */
export const SHARED_HASH_TYPES = new Map<number, (mem: AddressSpace, attr: MapAttr, env: MapEnv) => BpfMapImpl>(
  [...KINDS.values()].map((k) => [k.type, createSharedHash(k)]),
);

/** A hash or percpu_hash map another thread made in this shared memory (its shareState). */
export function attachHash(mem: AddressSpace, state: SharedMapState, env: MapEnv): BpfMapImpl {
  if (!(state.sab instanceof SharedArrayBuffer)) throw new BpfError('EINVAL', 'attachMap: a hash map\'s state needs its SharedArrayBuffer');
  const attr: MapAttr = { mapType: state.type, keySize: state.keySize, valueSize: state.valueSize, maxEntries: state.maxEntries, mapFlags: state.mapFlags };
  return new SharedHashMap(mem, attr, env, KINDS.get(state.type)!, state);
}
