/**
 * The kernel's LRU for lru_hash and lru_percpu_hash (kernel/bpf/bpf_lru_list.c,
 * common LRU), modelled node for node so that eviction picks the elements
 * the kernel's would: a global list of active and inactive nodes and free
 * nodes, and per CPU a local list of free nodes and of pending ones (taken
 * by that CPU since its last refill).
 *
 * - pop (a new element on CPU c): a free node of c's local list; when there
 *   is none, refill it: move c's pending nodes into the global lists
 *   (active when referenced, else inactive), rotate the global lists, take
 *   up to target_free = clamp(nodes / CPUs / 2, 1, 128) global free nodes,
 *   and shrink the inactive list for the rest: from its oldest end,
 *   referenced nodes move to active, unreferenced ones are evicted, up to
 *   128 scanned; when that evicts nothing, the oldest node of the inactive
 *   list (or, empty, the active one) is evicted regardless of its
 *   reference. Still nothing: steal a free or pending node from the CPUs'
 *   local lists in turn (pending ones evicted, unreferenced first).
 * - rotation: when inactive nodes are fewer than active ones, up to 128
 *   active nodes from the oldest: referenced ones go back to the front of
 *   active, the others to inactive, references cleared; then up to 128
 *   inactive nodes from a cursor that walks the list across refills:
 *   referenced ones move to active.
 * - push free (delete, a replaced element, a failed update's node): a
 *   pending node returns to its CPU's local free list, another to the
 *   global free list.
 * - references: set by a program's lookup, by the replacement of an
 *   lru_hash element (the new node) and the in-place update of an
 *   lru_percpu_hash element; cleared when a node is taken or rotated.
 *
 * Nodes are identified by their element index (maps/hash.ts); free nodes
 * are only counted, since which free node is handed out cannot be
 * observed. BPF_F_NO_COMMON_LRU (per-CPU lists) is modelled as the common
 * LRU: a documented difference.
 *
 * The lists' state can live in a SharedArrayBuffer (LruLists.stateBytes),
 * for a map shared between threads (maps/shared-hash.ts, which serializes
 * the calls with a lock of its own).
 */

import { corruptMap } from './map.js';

const NONE = 0;
const PENDING = 1;
const ACTIVE = 2;
const INACTIVE = 3;

/** LOCAL_FREE_TARGET and LOCAL_NR_SCANS */
const FREE_TARGET_MAX = 128;
const NR_SCANS = 128;

/** the scalar words of the state: the global free nodes, the rotation cursor */
const GLOBAL_FREE = 0;
const ROTATION = 1;

export class LruLists {
  /** per node: its list (NONE, PENDING, ACTIVE, INACTIVE), its CPU when pending, its reference bit */
  private readonly type: Uint8Array;
  private readonly cpuOf: Int32Array;
  readonly ref: Uint8Array;
  /** doubly linked lists over node indexes, with one sentinel per list after the nodes: active, inactive, then each CPU's pending */
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly sActive: number;
  private readonly sInactive: number;
  private readonly counts: Int32Array;
  private readonly words: Int32Array;
  private readonly localFree: Int32Array;
  private readonly nextSteal: Int32Array;
  private readonly targetFree: number;

  /** The bytes of the lists' state for `cap` element indexes and `cpus` CPUs (a SharedArrayBuffer's size). */
  static stateBytes(cap: number, cpus: number): number {
    return 4 * (cap + 2 * (cap + 2 + cpus) + 4 + 2 + 2 * cpus) + 2 * cap;
  }

  /**
   * `nodes` (max_entries) nodes over `cap` element indexes, for `cpus` CPUs;
   * `evict(i)` removes element i from the hash table (the kernel's
   * del_from_htab): false when it is not there (another thread's update
   * has taken its node and not linked it yet, or a delete has unlinked it),
   * and the node is then passed over, as the kernel's lists do.
   * `state`: a buffer of stateBytes to keep the lists in (shared between
   * threads), `fresh` when these lists are its first: the others find them made.
   */
  constructor(nodes: number, private readonly cap: number, private readonly cpus: number, private readonly evict: (i: number) => boolean, private readonly what: string, state?: { buffer: ArrayBufferLike; fresh: boolean }) {
    const buf = state?.buffer ?? new ArrayBuffer(LruLists.stateBytes(cap, cpus));
    const sentinels = 2 + cpus;
    let at = 0;
    const i32 = (n: number): Int32Array => {
      const v = new Int32Array(buf, at, n);
      at += 4 * n;
      return v;
    };
    this.cpuOf = i32(cap);
    this.prev = i32(cap + sentinels);
    this.next = i32(cap + sentinels);
    this.counts = i32(4);
    this.words = i32(2);
    this.localFree = i32(cpus);
    this.nextSteal = i32(cpus);
    this.type = new Uint8Array(buf, at, cap);
    this.ref = new Uint8Array(buf, at + cap, cap);
    this.sActive = cap;
    this.sInactive = cap + 1;
    this.targetFree = Math.min(Math.max(Math.floor(Math.floor(nodes / cpus) / 2), 1), FREE_TARGET_MAX);
    if (state !== undefined && !state.fresh) return;
    for (let s = cap; s < cap + sentinels; s++) this.prev[s] = this.next[s] = s;
    this.rotation = this.sInactive;
    this.globalFree = nodes;
    for (let c = 0; c < cpus; c++) this.nextSteal[c] = c;
  }

  /** the global list's free nodes (counted: which one is handed out cannot be observed) */
  private get globalFree(): number {
    return this.words[GLOBAL_FREE]!;
  }

  private set globalFree(n: number) {
    this.words[GLOBAL_FREE] = n;
  }

  /** __bpf_lru_list_rotate_inactive's cursor: a node of the inactive list, or its sentinel */
  private get rotation(): number {
    return this.words[ROTATION]!;
  }

  private set rotation(i: number) {
    this.words[ROTATION] = i;
  }

  private sPending(cpu: number): number {
    return this.cap + 2 + cpu;
  }

  private unlink(i: number): void {
    const p = this.prev[i]!;
    const n = this.next[i]!;
    this.next[p] = n;
    this.prev[n] = p;
  }

  private addHead(s: number, i: number): void {
    const h = this.next[s]!;
    this.prev[i] = s;
    this.next[i] = h;
    this.prev[h] = i;
    this.next[s] = i;
  }

  private sentinelOf(t: number, i: number): number {
    return t === ACTIVE ? this.sActive : t === INACTIVE ? this.sInactive : this.sPending(this.cpuOf[i]!);
  }

  /** __bpf_lru_node_move: to the front of a global list (ACTIVE, INACTIVE), or to the global free nodes (NONE); the reference cleared. */
  private move(i: number, to: number): void {
    if (i === this.rotation) this.rotation = this.prev[i]!;
    const t = this.type[i]!;
    this.counts[t]!--;
    this.unlink(i);
    this.ref[i] = 0;
    if (to === NONE) {
      this.type[i] = NONE;
      this.globalFree++;
      return;
    }
    this.counts[to]!++;
    this.type[i] = to;
    this.addHead(to === ACTIVE ? this.sActive : this.sInactive, i);
  }

  /** A global node evicted into CPU c's local free list (__bpf_lru_node_move_to_free after del_from_htab); false when it was not in the table. */
  private evictTo(i: number, cpu: number): boolean {
    if (!this.evict(i)) return false;
    if (i === this.rotation) this.rotation = this.prev[i]!;
    this.counts[this.type[i]!]!--;
    this.unlink(i);
    this.type[i] = NONE;
    this.ref[i] = 0;
    this.localFree[cpu]!++;
    return true;
  }

  /** bpf_common_lru_pop_free: a node for element `elem` on CPU cpu (added to its pending list), or false when there is none. */
  pop(cpu: number, elem: number): boolean {
    if (this.localFree[cpu] === 0) this.refill(cpu);
    if (this.localFree[cpu]! > 0) {
      this.localFree[cpu]!--;
      this.addPending(cpu, elem);
      return true;
    }
    // steal from the CPUs' local lists in turn, starting at this CPU's next_steal
    const first = this.nextSteal[cpu]!;
    let steal = first;
    let got = false;
    do {
      if (this.localFree[steal]! > 0) {
        this.localFree[steal]!--;
        got = true;
      } else {
        got = this.popPending(steal);
      }
      steal = (steal + 1) % this.cpus;
    } while (!got && steal !== first);
    this.nextSteal[cpu] = steal;
    if (got) this.addPending(cpu, elem);
    return got;
  }

  private addPending(cpu: number, i: number): void {
    this.type[i] = PENDING;
    this.cpuOf[i] = cpu;
    this.ref[i] = 0;
    this.counts[PENDING]!++;
    this.addHead(this.sPending(cpu), i);
  }

  /** __local_list_pop_pending: evict the oldest pending node of CPU c (unreferenced first). */
  private popPending(cpu: number): boolean {
    const s = this.sPending(cpu);
    for (const force of [false, true]) {
      let steps = 0;
      for (let i = this.prev[s]!; i !== s; i = this.prev[i]!) {
        if (steps++ > this.cap) throw corruptMap(this.what, 'an LRU pending list cycles');
        if ((!this.ref[i] || force) && this.evict(i)) {
          this.counts[PENDING]!--;
          this.unlink(i);
          this.type[i] = NONE;
          this.ref[i] = 0;
          return true;
        }
      }
    }
    return false;
  }

  /** bpf_lru_list_pop_free_to_local */
  private refill(cpu: number): void {
    // __local_list_flush: pending nodes, oldest first, to the front of active (referenced) or inactive, references cleared
    const s = this.sPending(cpu);
    for (let i = this.prev[s]!, steps = 0; i !== s; steps++) {
      if (steps > this.cap) throw corruptMap(this.what, 'an LRU pending list cycles');
      const p = this.prev[i]!;
      this.unlink(i);
      this.counts[PENDING]!--;
      const to = this.ref[i] ? ACTIVE : INACTIVE;
      this.ref[i] = 0;
      this.type[i] = to;
      this.counts[to]!++;
      this.addHead(to === ACTIVE ? this.sActive : this.sInactive, i);
      i = p;
    }
    this.rotate();
    const take = Math.min(this.globalFree, this.targetFree);
    this.globalFree -= take;
    this.localFree[cpu]! += take;
    if (take < this.targetFree) this.shrink(this.targetFree - take, cpu);
  }

  private rotate(): void {
    if (this.counts[INACTIVE]! < this.counts[ACTIVE]!) this.rotateActive();
    this.rotateInactive();
  }

  private rotateActive(): void {
    const s = this.sActive;
    const first = this.next[s]!;
    let i = this.prev[s]!;
    for (let n = 0; i !== s; ) {
      const p = this.prev[i]!;
      this.move(i, this.ref[i] ? ACTIVE : INACTIVE);
      if (++n === NR_SCANS || i === first) break;
      i = p;
    }
  }

  private rotateInactive(): void {
    const s = this.sInactive;
    if (this.next[s] === s) return;
    let last = this.next[this.rotation]!;
    if (last === s) last = this.next[last]!;
    let cur = this.rotation;
    let nxt = s;
    for (let n = 0; n < NR_SCANS; ) {
      if (cur === s) {
        cur = this.prev[cur]!;
        continue;
      }
      nxt = this.prev[cur]!;
      if (this.ref[cur]) this.move(cur, ACTIVE);
      if (cur === last) break;
      cur = nxt;
      n++;
    }
    this.rotation = nxt;
  }

  /** __bpf_lru_list_shrink into CPU c's local free list */
  private shrink(want: number, cpu: number): void {
    const s = this.sInactive;
    let done = 0;
    for (let i = this.prev[s]!, n = 0; i !== s; ) {
      const p = this.prev[i]!;
      if (this.ref[i]) this.move(i, ACTIVE);
      else if (this.evictTo(i, cpu) && ++done === want) break;
      if (++n === NR_SCANS) break;
      i = p;
    }
    if (done > 0) return;
    const list = this.next[s] !== s ? s : this.sActive;
    const oldest = this.prev[list]!;
    if (oldest !== list) this.evictTo(oldest, cpu);
  }

  /** bpf_common_lru_push_free: node i's element is gone (deleted, replaced, or its update failed). */
  pushFree(i: number): void {
    const t = this.type[i]!;
    if (t === PENDING) {
      this.counts[PENDING]!--;
      this.unlink(i);
      this.type[i] = NONE;
      this.ref[i] = 0;
      this.localFree[this.cpuOf[i]!]!++;
    } else if (t === ACTIVE || t === INACTIVE) {
      this.move(i, NONE);
    }
  }

  /**
   * bpf_lru_node_set_ref. Written only when clear, as the kernel's: every
   * lookup of a hot element would otherwise store to the line of the bits,
   * which workers of a shared memory read and write from every core.
   */
  setRef(i: number): void {
    if (this.ref[i] !== 1) this.ref[i] = 1;
  }
}
