/**
 * BPF_MAP_TYPE_HASH as in 3.19's kernel/bpf/hashtab.c: n_buckets =
 * roundup_pow_of_two(max_entries) singly linked buckets picked by
 * jhash(key, key_size, 0), new and updated elements inserted at the head of
 * their bucket, E2BIG when a new key would exceed max_entries (checked
 * before BPF_EXIST), and get_next_key walking buckets in order from any
 * absent key.
 *
 * Storage is preallocated in the runtime's memory: max_entries elements plus
 * SPARE, each `key (rounded to 8) | value (rounded to 8)` (per-CPU
 * variants in a shared memory: see CACHE_LINE). An update
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
 *
 * The same structure serves the later kernels' variants (HashKind):
 * - percpu_hash (4.6): an element holds one value per simulated CPU, each
 *   round_up(value_size, 8) bytes; a program's lookup and update see its
 *   run's CPU, a new element from a program has the other CPUs zeroed, an
 *   update of an existing element is in place (the element keeps its place
 *   in its bucket), and the syscall's lookup and update carry every CPU's
 *   value, as the kernel's bpf_percpu_hash_copy and _update (their format,
 *   round_up(value_size, 8) per CPU, whatever the layout in memory).
 * - lru_hash and lru_percpu_hash (4.10): a full map evicts instead of
 *   failing, in the kernel's order: its LRU lists are modelled node for
 *   node (maps/lru.ts), with the syscall side on CPU 0 and a program on its
 *   run's CPU. As in the kernel, an lru_hash update takes its node before
 *   looking the key up, so an update that needs a node evicts even when it
 *   then fails or replaces (lru_percpu_hash: unless the flags are
 *   BPF_EXIST), a replacement marks the new node referenced, a program's
 *   lookup marks its element, the syscall's lookup does not, and
 *   max_entries nodes are all the map has.
 * Under the modern profile an update checks BPF_NOEXIST/BPF_EXIST before
 * the map's capacity (E2BIG), as kernels since 4.x do; 3.19 checks E2BIG first.
 *
 * Speed: a 4-byte key, the common size, is read once as a word, hashed by
 * jhashWord and compared with each element's key word (findKey); an update
 * of an existing element that no run holds takes a short path (replace).
 * Both give what the general code gives; BpfMap's fast path arrives here.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { RUN_GEN_ADDR } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import { jhash, jhashWord } from './jhash.js';
import type { BpfMapImpl, JitHashLayout, MapAttr, MapEnv, MapType } from './map.js';
import { BPF_EXIST, BPF_F, BPF_F_ACCESS_MASK, BPF_MAP_TYPE, BPF_NOEXIST, E, ONE_CPU, allocMapStorage, copyBytes, corruptMap, isModern, roundUp8, roundupPowOfTwo } from './map.js';
import { MAX_BPF_STACK } from '../isa/opcodes.js';
import { PCPU_MAX_VALUE } from './array.js';
import { LruLists } from './lru.js';

/** the variants of the hash map this file implements */
export interface HashKind {
  readonly type: number;
  readonly name: string;
  readonly perCpu: boolean;
  readonly lru: boolean;
  /** an update of an existing element writes in place (per-CPU maps; hash_of_maps since 6.7), keeping its place in the bucket */
  readonly inPlace?: boolean;
}
export const PLAIN: HashKind = { type: BPF_MAP_TYPE.HASH, name: 'hash', perCpu: false, lru: false };

/** KMALLOC_MAX_SIZE on x86-64 less the kernel's element header: the modern kernel's E2BIG bound on key_size + value_size */
const MODERN_ELEM_MAX = (4 << 20) - 48;

/** elements beyond max_entries for replacing elements a running program holds */
export const SPARE = 32;

export const FREE = 0;
export const LIVE = 1;
/** unlinked during a run while the program may still hold its value pointer */
export const PENDING = 2;

/** bytes before the mirror's heads: the suspect word, and padding */
const MIRROR_META = 8;

/**
 * Per-CPU variants in a shared memory (HashStorage.cacheLines), whose CPUs
 * are threads on real cores: the key and each CPU's value take whole cache
 * lines of this size, and the elements start on one, so one worker's writes
 * to its value never invalidate the line another worker's value or a
 * lookup's key compare reads (false sharing costs as much as sharing one
 * counter). The kernel gets the same from its per-CPU areas. Elsewhere the
 * layout stays packed: one thread, no lines to fight over.
 */
export const CACHE_LINE = 64;

/** Int32Array reads the host's byte order; the 4-byte key path below reads keys as little-endian words through one. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The links of a hash map kept elsewhere than in its own arrays (maps/shared-hash.ts: SharedArrayBuffers). */
export interface HashStorage {
  /** elements beyond max_entries */
  readonly spare: number;
  /** per-CPU variants: values per element (default: the environment's CPUs) */
  readonly ncpus?: number;
  /** the arrays of the links, state and free stack, for `nBuckets` buckets and `cap` elements */
  arrays(nBuckets: number, cap: number): HashArrays;
  /** the map exists already (made by another thread): its addresses; nothing is allocated or initialized */
  readonly at?: { readonly addr: number; readonly base: number };
  /** per-CPU variants: the key and each CPU's value on cache lines of their own (CACHE_LINE) */
  readonly cacheLines?: boolean;
  /** LRU variants: the buffer of `bytes` to keep the LRU lists in, and whether they are to be made there (maps/lru.ts) */
  lruState?(bytes: number): { buffer: ArrayBufferLike; fresh: boolean };
}

/** HashStorage's arrays (HashMapBase's fields of the same names). */
export interface HashArrays {
  readonly heads: Int32Array;
  readonly next: Int32Array;
  readonly hashes: Uint32Array;
  readonly state: Uint8Array;
  readonly retiredGen: Uint32Array;
  readonly freeStack: Int32Array;
}

/** All the hash variants; HashMap (plain hash) adds the JIT's inline layout. */
export class HashMapBase implements BpfMapImpl {
  readonly type: number;
  readonly kind: HashKind;
  /** values per element (CPUs for the per-CPU variants, else 1), each valueRound bytes */
  readonly ncpus: number;
  readonly valueRound: number;
  /**
   * Where in an element its value (per-CPU: CPU 0's) starts, and from one
   * CPU's value to the next: keyRound and valueRound, or with cacheLines
   * both rounded up to CACHE_LINE. Every address of a value in an element
   * is elemAddr + valueOff + cpu * cpuStride.
   */
  readonly valueOff: number;
  readonly cpuStride: number;
  /** the key and each CPU's value on cache lines of their own (HashStorage.cacheLines), the elements CACHE_LINE-aligned */
  readonly cacheLines: boolean;
  /** the syscall's value: valueRound bytes per CPU, CPU c's at c * valueRound (not cpuStride) */
  readonly sysValueSize: number;
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
  /** the allocation holding the storage (base, aligned, is inside it): what free() gives back */
  private readonly block: number;
  /** elements: max_entries + SPARE */
  readonly cap: number;
  protected readonly mem: AddressSpace;
  /** the authoritative links: first element per bucket, next element, jhash of the key (-1: none) */
  protected readonly heads: Int32Array;
  protected readonly next: Int32Array;
  protected readonly hashes: Uint32Array;
  /** the mirror in memory (see the file comment), and its views, made again if the memory grows */
  private readonly mirrorAddr: number;
  protected mHeads!: Int32Array;
  protected mNext!: Int32Array;
  protected mHashes!: Uint32Array;
  protected mSuspect!: Int32Array;
  /** the whole memory as 32-bit words: a 4-byte key is read and compared as one (wordKeys) */
  private w32!: Int32Array;
  /**
   * 4-byte keys on a little-endian host: hashed (jhashWord) and compared as
   * one word, the element's key word against the looked-up one, instead of
   * byte by byte after a stored-hash check (equal keys have equal hashes).
   */
  private readonly wordKeys: boolean;
  private viewsGrowth = -1;
  protected readonly state: Uint8Array;
  /**
   * The run generation (RUN_GEN_ADDR) in which each element was last looked
   * up, in memory where the JIT's inline lookup writes it too: while that
   * run lasts, replacing the element must not overwrite it. Generations
   * rather than flags let a JIT batch run many programs between one
   * enterRun and exitRun, bumping the generation per run in memory.
   */
  private pinned!: Uint32Array;
  /** the generation of the run that retired a PENDING element */
  protected readonly retiredGen: Uint32Array;
  protected readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly pendingList: number[] = [];
  private count = 0;
  private inRun = false;
  /** enterRun calls not yet matched by exitRun: a run enters a map once more when a tail call reaches a program holding it too */
  private runDepth = 0;
  /** the predecessor of the element the last find() returned (-1: the bucket's head) */
  protected prev = -1;
  /** the hash findKey() computed, as an int32 (bucket: & (nBuckets - 1)) */
  private keyHash = 0;
  /** a plain hash (not per-CPU, not in place, not LRU): an update of an existing element replaces it (replace()) */
  private readonly replaces: boolean;
  protected readonly what: string;
  protected readonly env: MapEnv;
  protected readonly modern: boolean;
  /** the LRU variants' lists (maps/lru.ts) */
  protected readonly lru: LruLists | undefined;

  /** `storage`: where the links live when not in this object's own arrays (maps/shared-hash.ts) */
  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv = ONE_CPU, kind: HashKind = PLAIN, storage?: HashStorage) {
    if (attr.maxEntries === 0 || attr.keySize === 0 || attr.valueSize === 0) {
      throw new BpfError('EINVAL', `invalid ${kind.name} map: key_size, value_size and max_entries must be non-zero`);
    }
    this.modern = isModern(env);
    if (!this.modern && attr.keySize > MAX_BPF_STACK) throw new BpfError('E2BIG', `hash map key_size ${attr.keySize} exceeds ${MAX_BPF_STACK}`);
    if (this.modern && attr.keySize + attr.valueSize >= MODERN_ELEM_MAX) {
      throw new BpfError('E2BIG', `${kind.name} map key_size + value_size ${attr.keySize + attr.valueSize} reaches ${MODERN_ELEM_MAX}`);
    }
    if (kind.perCpu && attr.valueSize > PCPU_MAX_VALUE) throw new BpfError('E2BIG', `${kind.name} value_size ${attr.valueSize} exceeds ${PCPU_MAX_VALUE}`);
    if (kind.lru && attr.mapFlags & BPF_F.NO_PREALLOC) throw new BpfError('ENOTSUPP', `${kind.name} maps are always preallocated (BPF_F_NO_PREALLOC)`);
    if (!kind.lru && attr.mapFlags & BPF_F.NO_COMMON_LRU) throw new BpfError('EINVAL', `BPF_F_NO_COMMON_LRU is for LRU maps, not ${kind.name}`);
    this.kind = kind;
    this.type = kind.type;
    this.env = env;
    this.ncpus = kind.perCpu ? (storage?.ncpus ?? env.cpus) : 1;
    this.mem = mem;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.keyRound = roundUp8(attr.keySize);
    this.wordKeys = attr.keySize === 4 && LITTLE_ENDIAN_HOST;
    this.replaces = !kind.perCpu && !kind.inPlace && !kind.lru;
    this.valueRound = roundUp8(attr.valueSize);
    this.sysValueSize = kind.perCpu ? this.valueRound * this.ncpus : this.valueSize;
    this.cacheLines = kind.perCpu && storage?.cacheLines === true;
    const line = (n: number): number => (this.cacheLines ? Math.ceil(n / CACHE_LINE) * CACHE_LINE : n);
    this.valueOff = line(this.keyRound);
    this.cpuStride = line(this.valueRound);
    this.elemSize = this.valueOff + this.cpuStride * this.ncpus;
    this.nBuckets = roundupPowOfTwo(attr.maxEntries);
    const cap = this.maxEntries + (storage?.spare ?? SPARE);
    this.cap = cap;
    const bytes = cap * this.elemSize;
    // The mirror follows the elements: the suspect word, 4 bytes per bucket, 12 per element (next,
    // hash, pinning run). The authoritative links, state and free stack (21 bytes per element, 4 per
    // bucket) stay outside.
    const mirror = MIRROR_META + this.nBuckets * 4 + cap * 12;
    const what = `${kind.name} map of ${this.maxEntries} x ${this.elemSize} bytes`;
    if (cap * 5 > mem.maxBytes) throw new BpfError('ENOMEM', `${what} does not fit in memory`);
    ({ addr: this.addr, base: this.base, block: this.block } = storage?.at
      ? { ...storage.at, block: storage.at.base }
      : allocMapStorage(mem, bytes + mirror, what, attr, this.cacheLines ? CACHE_LINE : 8));
    this.what = `${kind.name} map at 0x${this.addr.toString(16)}`;
    this.lru = kind.lru ? new LruLists(this.maxEntries, cap, env.cpus, (i) => this.evictElement(i), this.what, storage?.lruState?.(LruLists.stateBytes(cap, env.cpus))) : undefined;
    this.mirrorAddr = this.base + bytes;
    const a = storage?.arrays(this.nBuckets, cap);
    this.heads = a?.heads ?? new Int32Array(this.nBuckets);
    this.next = a?.next ?? new Int32Array(cap);
    this.hashes = a?.hashes ?? new Uint32Array(cap);
    this.syncViews();
    this.state = a?.state ?? new Uint8Array(cap);
    this.retiredGen = a?.retiredGen ?? new Uint32Array(cap);
    this.freeStack = a?.freeStack ?? new Int32Array(cap);
    this.freeTop = cap;
    if (!storage?.at) {
      this.heads.fill(-1);
      this.next.fill(-1);
      this.mHeads.fill(-1);
      this.mNext.fill(-1);
      // Hand out low indexes first, so storage fills from its start.
      for (let i = 0; i < cap; i++) this.freeStack[i] = cap - 1 - i;
    }
    const { base, elemSize, valueOff, valueSize, cpuStride, state } = this;
    const values = cpuStride * this.ncpus;
    this.region = {
      start: base,
      end: base + bytes,
      writable: true,
      name: `${kind.name} map value`,
      contains: (addr, end) => {
        const rel = addr - base;
        const idx = Math.floor(rel / elemSize);
        const off = rel - idx * elemSize - valueOff;
        // per-CPU: inside one CPU's value
        return state[idx] !== FREE && off >= 0 && off % cpuStride + (end - addr) <= valueSize && off < values;
      },
    };
  }

  /** Where the mirror and pin words are (the JIT's inline lookup of a plain hash reads them; every variant keeps them). */
  protected mirrorLayout(): JitHashLayout {
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
      valueOff: this.valueOff,
      nBuckets: n,
      cap,
      suspect: m,
      heads: m + MIRROR_META,
      next: m + MIRROR_META + n * 4,
      hashes: m + MIRROR_META + n * 4 + cap * 4,
      pinned: m + MIRROR_META + n * 4 + cap * 8,
    };
  }

  /**
   * percpu_hash: the layout of the JIT's inline lookup (jit/maps.ts), which
   * picks the run's CPU's value; undefined for the other variants (a plain
   * hash has jitLayout; an LRU lookup marks its element in JavaScript).
   */
  jitPerCpuLayout(): JitHashLayout | undefined {
    if (!this.kind.perCpu || this.kind.lru) return undefined;
    return { ...this.mirrorLayout(), perCpu: { ncpus: this.ncpus, cpuStride: this.cpuStride } };
  }

  /** (Re)make the views of the mirror and pin words: at creation, and after the memory has grown. */
  protected syncViews(): void {
    if (this.viewsGrowth === this.mem.growth) return;
    const buf = this.mem.memory.buffer;
    const l = this.mirrorLayout();
    this.mSuspect = new Int32Array(buf, l.suspect, 1);
    this.mHeads = new Int32Array(buf, l.heads, this.nBuckets);
    this.mNext = new Int32Array(buf, l.next, this.cap);
    this.mHashes = new Uint32Array(buf, l.hashes, this.cap);
    this.pinned = new Uint32Array(buf, l.pinned, this.cap);
    this.w32 = new Int32Array(buf, 0, buf.byteLength >>> 2);
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
  protected checkLink(i: number, steps: number): void {
    if (i >>> 0 >= this.cap) throw corruptMap(this.what, `element index ${i} of ${this.cap}`);
    if (steps >= this.cap) throw corruptMap(this.what, `a chain longer than its ${this.cap} elements`);
  }

  protected elemAddr(i: number): number {
    return this.base + i * this.elemSize;
  }

  /** The element holding the key at keyAddr (its predecessor in this.prev), or -1. At most cap elements are visited. */
  protected find(keyAddr: number, hash: number): number {
    if (this.wordKeys) return this.findWord(this.keyWord(keyAddr), hash);
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

  /**
   * find() of a 4-byte key (wordKeys), `word` its bytes as an int32: the
   * element's key word is compared, one read of the element, whose value
   * the caller reads next. Elements' keys are written only by update; a
   * program outside the verifier that rewrites one can change which element
   * of this bucket a lookup finds, never where a walk goes.
   */
  private findWord(word: number, hash: number): number {
    const { next, w32, base, elemSize } = this;
    let prev = -1;
    let steps = 0;
    for (let i = this.heads[hash & (this.nBuckets - 1)]!; i !== -1; prev = i, i = next[i]!) {
      this.checkLink(i, steps++);
      if (w32[(base + i * elemSize) >>> 2] === word) {
        this.prev = prev;
        return i;
      }
    }
    this.prev = -1;
    return -1;
  }

  /** A 4-byte key's bytes at keyAddr, little-endian, as an int32 (views current: syncViews). */
  private keyWord(keyAddr: number): number {
    if ((keyAddr & 3) === 0) return this.w32[keyAddr >>> 2]!;
    const u8 = this.mem.u8;
    return u8[keyAddr]! | (u8[keyAddr + 1]! << 8) | (u8[keyAddr + 2]! << 16) | (u8[keyAddr + 3]! << 24);
  }

  /**
   * The element holding the key at keyAddr, or -1, its hash (int32) left in
   * this.keyHash and its predecessor in this.prev: the one call of the
   * operations' hot paths (a 4-byte key is read once, for both).
   */
  private findKey(keyAddr: number): number {
    if (this.wordKeys) {
      const word = this.keyWord(keyAddr);
      const hash = jhashWord(word) | 0;
      this.keyHash = hash;
      return this.findWord(word, hash);
    }
    const hash = this.hashOf(keyAddr);
    this.keyHash = hash | 0;
    return this.find(keyAddr, hash);
  }

  protected hashOf(keyAddr: number): number {
    if (this.wordKeys) return jhashWord(this.keyWord(keyAddr));
    const u8 = this.mem.u8;
    if (this.keySize === 4) return jhashWord(u8[keyAddr]! | (u8[keyAddr + 1]! << 8) | (u8[keyAddr + 2]! << 16) | (u8[keyAddr + 3]! << 24));
    return jhash(u8, keyAddr, this.keySize, 0);
  }

  lookup(keyAddr: number): number {
    this.syncViews();
    // The JIT's inline lookup found the mirror inconsistent and fell back to this helper.
    if (this.mSuspect[0] !== 0) this.refreshMirror();
    const idx = this.findKey(keyAddr);
    if (idx < 0) return 0;
    if (this.inRun) this.pinned[idx] = this.generation();
    this.lru?.setRef(idx);
    return this.elemAddr(idx) + this.valueOff + this.cpu() * this.cpuStride;
  }

  /** The running CPU (0 unless per-CPU), kept inside the map's CPUs. */
  protected cpu(): number {
    if (this.ncpus === 1) return 0;
    const c = this.env.cpu();
    return c >= 0 && c < this.ncpus ? c : 0;
  }

  /** The CPU an LRU node is taken on: the run's (the syscall side's outside runs: 0), inside the machine's CPUs. */
  protected lruCpu(): number {
    const c = this.env.cpu();
    return c >= 0 && c < this.env.cpus ? c : 0;
  }

  /** The LRU's del_from_htab: element idx leaves its bucket (evicted). */
  protected evictElement(idx: number): boolean {
    this.checkLink(idx, 0);
    const hash = this.hashes[idx]!;
    if (this.find(this.elemAddr(idx), hash) !== idx) throw corruptMap(this.what, `LRU element ${idx} is not in its bucket`);
    const bucket = hash & (this.nBuckets - 1);
    this.unlink(bucket, idx, this.prev);
    this.count--;
    this.retire(idx);
    this.mirrorBucket(bucket);
    return true;
  }

  /** An LRU update (htab_lru_map_update_elem, __htab_lru_percpu_map_update_elem). */
  private lruUpdate(lru: LruLists, keyAddr: number, valueAddr: number, flagsLo: number, allCpus: boolean): number {
    const perCpu = this.kind.perCpu;
    let node = -1;
    if (!perCpu || flagsLo !== BPF_EXIST) {
      if (this.freeTop === 0) this.reclaim();
      if (this.freeTop === 0) return E.ENOMEM;
      node = this.freeStack[--this.freeTop]!;
      if (!lru.pop(this.lruCpu(), node)) {
        this.freeStack[this.freeTop++] = node;
        return E.ENOMEM;
      }
    }
    const giveBack = (r: number): number => {
      if (node >= 0) {
        lru.pushFree(node);
        this.freeStack[this.freeTop++] = node;
      }
      return r;
    };
    const hash = this.hashOf(keyAddr);
    const bucket = hash & (this.nBuckets - 1);
    const old = this.find(keyAddr, hash);
    const prev = this.prev;
    if (old >= 0 && flagsLo === BPF_NOEXIST) return giveBack(E.EEXIST);
    if (old < 0 && flagsLo === BPF_EXIST) return giveBack(E.ENOENT);
    if (old >= 0 && perCpu) {
      lru.setRef(old);
      this.writeValue(old, valueAddr, allCpus, false);
      return giveBack(0);
    }
    const u8 = this.mem.u8;
    const e = this.elemAddr(node);
    u8.copyWithin(e, keyAddr, keyAddr + this.keySize);
    u8.fill(0, e + this.keySize, e + this.keyRound);
    this.writeValue(node, valueAddr, allCpus, true);
    this.hashes[node] = hash;
    this.state[node] = LIVE;
    this.linkHead(bucket, node);
    if (old >= 0) {
      lru.setRef(node);
      this.unlink(bucket, old, prev < 0 ? node : prev);
      lru.pushFree(old);
      this.retire(old);
    } else {
      this.count++;
    }
    this.mirrorBucket(bucket);
    return 0;
  }

  /** Unlink idx, whose predecessor is prev (-1: the head), from bucket b. */
  protected unlink(bucket: number, idx: number, prev: number): void {
    if (prev < 0) this.heads[bucket] = this.next[idx]!;
    else this.next[prev] = this.next[idx]!;
    this.next[idx] = -1;
  }

  protected linkHead(bucket: number, idx: number): void {
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
    return this.updateFrom(keyAddr, valueAddr, flagsLo, flagsHi, false);
  }

  sysUpdate(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number): number {
    return this.updateFrom(keyAddr, valueAddr, flagsLo, flagsHi, true);
  }

  /** Write an element's value(s): every CPU's from a syscall's buffer, else the running CPU's (a new element's others zeroed). */
  protected writeValue(idx: number, valueAddr: number, allCpus: boolean, fresh: boolean): void {
    const u8 = this.mem.u8;
    const v = this.elemAddr(idx) + this.valueOff;
    if (!this.kind.perCpu) {
      this.copyValue(v, valueAddr);
      if (fresh) u8.fill(0, v + this.valueSize, v + this.valueRound);
    } else if (allCpus) {
      const { valueRound, cpuStride } = this;
      if (cpuStride === valueRound) u8.copyWithin(v, valueAddr, valueAddr + valueRound * this.ncpus);
      // slot by slot (cacheLines); the padding after each slot stays zero, as nothing writes it
      else for (let c = 0; c < this.ncpus; c++) u8.copyWithin(v + c * cpuStride, valueAddr + c * valueRound, valueAddr + (c + 1) * valueRound);
    } else {
      if (fresh) u8.fill(0, v, v + this.cpuStride * this.ncpus);
      const c = v + this.cpu() * this.cpuStride;
      u8.copyWithin(c, valueAddr, valueAddr + this.valueSize);
    }
  }

  /** Element idx's value(s) to outAddr in the syscall's format (sysValueSize bytes: valueRound per CPU). */
  protected readValues(idx: number, outAddr: number): void {
    const u8 = this.mem.u8;
    const v = this.elemAddr(idx) + this.valueOff;
    const { valueRound, cpuStride } = this;
    if (cpuStride === valueRound) u8.copyWithin(outAddr, v, v + this.sysValueSize);
    else for (let c = 0; c < this.ncpus; c++) u8.copyWithin(outAddr + c * valueRound, v + c * cpuStride, v + c * cpuStride + valueRound);
  }

  /**
   * valueSize bytes from `from` to an element's value at `to` (not per-CPU):
   * small values by whole 4-byte words when both ends and the size allow
   * (an 8-byte value: two stores). Every caller has synced the views.
   */
  private copyValue(to: number, from: number): void {
    const n = this.valueSize;
    if (n <= 64 && ((to | from | n) & 3) === 0 && (from + n <= to || to + n <= from)) {
      const w32 = this.w32;
      for (let i = 0; i < n >>> 2; i++) w32[(to >>> 2) + i] = w32[(from >>> 2) + i]!;
    } else copyBytes(this.mem.u8, to, from, n);
  }

  private updateFrom(keyAddr: number, valueAddr: number, flagsLo: number, flagsHi: number, allCpus: boolean): number {
    if (flagsHi !== 0 || flagsLo >>> 0 > BPF_EXIST) return E.EINVAL;
    this.syncViews();
    if (this.lru) return this.lruUpdate(this.lru, keyAddr, valueAddr, flagsLo, allCpus);
    const old = this.findKey(keyAddr);
    // The common update, kept short: an existing key of a plain hash whose value no run holds.
    if (old >= 0 && flagsLo !== BPF_NOEXIST && this.replaces && !this.isPinned(old)) return this.replace(old, valueAddr);
    return this.updateRest(keyAddr, valueAddr, flagsLo, allCpus, old);
  }

  /**
   * Nobody holds the old value of element `old` (found by findKey just
   * before): replace it in place and move it to the head, as the kernel's
   * new element would be.
   */
  private replace(old: number, valueAddr: number): number {
    const hash = this.keyHash;
    const bucket = hash & (this.nBuckets - 1);
    const prev = this.prev;
    this.copyValue(this.elemAddr(old) + this.valueOff, valueAddr);
    if (prev < 0) {
      // Already the head: the links stay; its mirror words are rewritten (a program may have changed them).
      this.mHeads[bucket] = old;
      this.mNext[old] = this.next[old]!;
      this.mHashes[old] = hash;
      return 0;
    }
    this.unlink(bucket, old, prev);
    this.linkHead(bucket, old);
    this.mirrorBucket(bucket);
    return 0;
  }

  /** updateFrom past findKey (`old`, this.keyHash, this.prev): the flags' and capacity's errors, per-CPU values, new elements. */
  private updateRest(keyAddr: number, valueAddr: number, flagsLo: number, allCpus: boolean, old: number): number {
    const { perCpu } = this.kind;
    const hash = this.keyHash;
    const bucket = hash & (this.nBuckets - 1);
    const prev = this.prev;
    if (!this.modern && old < 0 && this.count >= this.maxEntries) return E.E2BIG;
    if (old >= 0 && flagsLo === BPF_NOEXIST) return E.EEXIST;
    if (old < 0 && flagsLo === BPF_EXIST) return E.ENOENT;
    if (old < 0 && this.count >= this.maxEntries) return E.E2BIG;
    const u8 = this.mem.u8;
    if (old >= 0 && (perCpu || this.kind.inPlace)) {
      // per-CPU values (and the kinds with inPlace) are updated in place: the element keeps its place in its bucket
      this.writeValue(old, valueAddr, allCpus, false);
      return 0;
    }
    // A new element: the key is new, or its element is pinned by the running program (updateFrom
    // replaced an unpinned one).
    if (this.freeTop === 0) this.reclaim();
    if (this.freeTop === 0) return E.ENOMEM;
    const idx = this.freeStack[--this.freeTop]!;
    const e = this.elemAddr(idx);
    u8.copyWithin(e, keyAddr, keyAddr + this.keySize);
    u8.fill(0, e + this.keySize, e + this.keyRound);
    this.writeValue(idx, valueAddr, allCpus, true);
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
    const idx = this.findKey(keyAddr);
    if (idx < 0) return E.ENOENT;
    const bucket = this.keyHash & (this.nBuckets - 1);
    this.unlink(bucket, idx, this.prev);
    this.count--;
    this.lru?.pushFree(idx);
    this.retire(idx);
    this.mirrorBucket(bucket);
    return 0;
  }

  sysLookup(keyAddr: number, outAddr: number): number {
    this.syncViews();
    if (this.mSuspect[0] !== 0) this.refreshMirror();
    const idx = this.findKey(keyAddr);
    if (idx < 0) return E.ENOENT;
    this.readValues(idx, outAddr);
    return 0;
  }

  lookupAndDelete(keyAddr: number, outAddr: number, flagsLo: number, flagsHi: number): number {
    if (flagsLo !== 0 || flagsHi !== 0) return E.EINVAL;
    const r = this.sysLookup(keyAddr, outAddr);
    return r < 0 ? r : this.delete(keyAddr);
  }

  getNextKey(keyAddr: number, nextKeyAddr: number): number {
    this.syncViews();
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

  /** BPF_MAP_*_BATCH's unit: the buckets a batch cursor counts (BpfMapImpl.batchBuckets). */
  get batchBuckets(): number {
    return this.nBuckets;
  }

  /**
   * The key addresses of bucket b's elements, in chain order (a batch takes
   * a bucket whole or not at all). The elements themselves: their values
   * are in the syscall's format at keyRound unless cacheLines, which only
   * SharedHashMap sets, and which copies them (its bucketKeys).
   */
  bucketKeys(bucket: number, out: number[]): number[] {
    out.length = 0;
    // (an empty bucket, the common case of a sparse map, costs one read)
    if (this.heads[bucket] === -1) return out;
    let steps = 0;
    for (let i = this.heads[bucket]!; i !== -1; i = this.next[i]!) {
      this.checkLink(i, steps++);
      out.push(this.elemAddr(i));
    }
    return out;
  }

  protected copyKey(idx: number, to: number): number {
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
    // already in this run (the caller holds the map too): its generation, and what it pinned, stay
    if (this.runDepth++ > 0) return;
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
    if (this.runDepth > 0 && --this.runDepth > 0) return;
    this.inRun = false;
    // (every run ends here: setting an empty list's length is not free)
    if (this.pendingList.length === 0) return;
    for (const i of this.pendingList) {
      this.state[i] = FREE;
      this.freeStack[this.freeTop++] = i;
    }
    this.pendingList.length = 0;
  }

  free(): void {
    this.mem.release(this.block);
    this.mem.release(this.addr);
  }
}

/** BPF_MAP_TYPE_HASH, whose lookups the JIT inlines (jit/maps.ts) over the mirror. */
export class HashMap extends HashMapBase {
  constructor(mem: AddressSpace, attr: MapAttr, env: MapEnv = ONE_CPU) {
    super(mem, attr, env, PLAIN);
  }

  jitLayout(): JitHashLayout {
    return this.mirrorLayout();
  }
}

/** htab_map_alloc_check's mask: no prealloc, NUMA node, the access flags, zero seed (tsbpf's seed is always 0) */
const HASH_FLAGS = BPF_F.NO_PREALLOC | BPF_F.NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F.ZERO_SEED;
/** the LRU variants add BPF_F_NO_COMMON_LRU (accepted; tsbpf keeps one LRU order either way) */
const LRU_FLAGS = HASH_FLAGS | BPF_F.NO_COMMON_LRU;

/** The map-type table's rows (maps/types.ts). */
export const HASH_MAP: MapType<'hash'> = {
  name: 'hash',
  id: BPF_MAP_TYPE.HASH,
  since: '3.19',
  dense: false,
  flags: HASH_FLAGS,
  create: (mem, attr, env) => new HashMap(mem, attr, env),
};

const variant = <N extends string>(name: N, type: number, since: string, perCpu: boolean, lru: boolean): MapType<N> => {
  const kind: HashKind = { type, name, perCpu, lru };
  return { name, id: type, since, dense: false, flags: lru ? LRU_FLAGS : HASH_FLAGS, create: (mem, attr, env) => new HashMapBase(mem, attr, env, kind) };
};

export const PERCPU_HASH_MAP = variant('percpu_hash', BPF_MAP_TYPE.PERCPU_HASH, '4.6', true, false);
export const LRU_HASH_MAP = variant('lru_hash', BPF_MAP_TYPE.LRU_HASH, '4.10', false, true);
export const LRU_PERCPU_HASH_MAP = variant('lru_percpu_hash', BPF_MAP_TYPE.LRU_PERCPU_HASH, '4.10', true, true);
