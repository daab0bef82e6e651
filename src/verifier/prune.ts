/**
 * The explored states of one pruning point, indexed so that asking "does a
 * stored state cover this one?" (states_equal against every stored state,
 * 3.19's is_state_visited) costs a hash probe per distinct shape of stored
 * state instead of a whole-state comparison per stored state.
 *
 * A stored state `old` covers `cur` when every register old has as a pointer
 * or constant is the same in cur, every stack byte old has initialised is the
 * same in cur, and every spill old has is the same (statesEqual in state.ts).
 * The parts old leaves free (registers NOT_INIT or UNKNOWN_VALUE, stack bytes
 * STACK_INVALID) make its *shape*; states of one shape go in one group,
 * hashed on exactly the parts the shape constrains. A cur that old covers
 * agrees with old on those parts, so it hashes to old's bucket: probing each
 * group's table with cur's hash under that group's shape finds every
 * candidate, and statesEqual confirms it (a hash collision, or old UNKNOWN
 * where cur is NOT_INIT). The answer is the same as the linear scan's, so
 * verdicts and logs do not change; only the time does.
 *
 * Without an index, a program of n independent diamonds over an initialised
 * stack stores 2^n states at its last join and compares each arrival with all
 * of them, 4^n comparisons of 512 stack bytes (22 s for 12 diamonds); here
 * all 2^n share one shape. Shapes can still be made to differ on every path,
 * so the probes are counted and the caller gives up past a budget.
 */

import type { RegState, VerifierState } from './state.js';
import { MAX_BPF_REG, REG, STACK, slotInitMask, statesEqual } from './state.js';

interface Group {
  /** registers old leaves free: bit i for r(i) NOT_INIT or UNKNOWN_VALUE */
  freeRegs: number;
  /** the stack slots (state.ts's stack[] indexes) where old has initialised bytes, and for each, 0b11 in those byte-states */
  slots: Int32Array;
  masks: Int32Array;
  /** stored states by hashUnder: one state, or several whose hashes collide */
  buckets: Map<number, VerifierState | VerifierState[]>;
}

const mix = (h: number, x: number): number => Math.imul(h ^ x, 0x9e3779b1) ^ (h >>> 15);

function mixReg(h: number, r: RegState): number {
  return mix(mix(mix(h, r.type), r.value | 0), Math.floor(r.value / 4294967296) ^ (r.off ?? 0));
}

const NOT_INIT: RegState = { type: REG.NOT_INIT, value: 0 };

function freeRegsOf(s: VerifierState): number {
  let freeRegs = 0;
  for (let i = 0; i < MAX_BPF_REG; i++) {
    const t = s.regs[i]!.type;
    if (t === REG.NOT_INIT || t === REG.UNKNOWN_VALUE) freeRegs |= 1 << i;
  }
  return freeRegs;
}

/** A hash of the shape of `s` (its free registers, its initialised byte-states). */
function shapeKey(s: VerifierState, freeRegs: number): number {
  let key = freeRegs;
  const st = s.stack;
  for (let j = 0; j < st.length; j++) {
    const o = st[j]!;
    if (o !== 0) key = mix(mix(key, j), slotInitMask(o));
  }
  return key;
}

/** Whether `g` is the group of the shape of `s` (compared in place: no allocation per stored state). */
function isShapeOf(g: Group, s: VerifierState, freeRegs: number): boolean {
  if (g.freeRegs !== freeRegs) return false;
  const st = s.stack;
  let k = 0;
  for (let j = 0; j < st.length; j++) {
    const o = st[j]!;
    if (o === 0) continue;
    if (k >= g.slots.length || g.slots[k] !== j || g.masks[k] !== slotInitMask(o)) return false;
    k++;
  }
  return k === g.slots.length;
}

function newGroup(s: VerifierState, freeRegs: number): Group {
  const slots: number[] = [];
  const masks: number[] = [];
  const st = s.stack;
  for (let j = 0; j < st.length; j++) {
    const o = st[j]!;
    if (o === 0) continue;
    slots.push(j);
    masks.push(slotInitMask(o));
  }
  return { freeRegs, slots: Int32Array.from(slots), masks: Int32Array.from(masks), buckets: new Map() };
}

/** The hash of `s` on the parts a group's shape constrains. */
function hashUnder(g: Group, s: VerifierState): number {
  let h = 0x2545f491;
  for (let i = 0; i < MAX_BPF_REG; i++) if (!(g.freeRegs & (1 << i))) h = mixReg(h, s.regs[i]!);
  const { slots, masks } = g;
  const st = s.stack;
  for (let k = 0; k < slots.length; k++) {
    const j = slots[k]!;
    const m = masks[k]!;
    const inStack = j < st.length;
    h = mix(h, inStack ? st[j]! & m : 0);
    // a spill is compared where old's byte at the start of its slot is initialised
    if ((m & 3) !== STACK.INVALID) h = mixReg(h, inStack ? s.spilled[j]! : NOT_INIT);
  }
  return h;
}

/**
 * Can a state of this group's shape cover `cur` at all? Every byte it has
 * initialised must be initialised in cur too (to the same value, which the
 * hash and statesEqual settle). A cheap test that skips most groups whose
 * shape differs.
 */
function shapeFits(g: Group, cur: VerifierState): boolean {
  const { slots, masks } = g;
  const st = cur.stack;
  for (let k = 0; k < slots.length; k++) {
    const j = slots[k]!;
    if (j >= st.length) return false;
    const m = masks[k]!;
    if ((m & ~slotInitMask(st[j]!)) !== 0) return false;
  }
  return true;
}

export class PruneIndex {
  private readonly groups: Group[] = [];
  /** groups by a hash of their shape */
  private readonly byKey = new Map<number, Group[]>();

  /**
   * Is `cur` covered by a stored state? `probe` is called once per group
   * probed and per state compared, for the caller's budget.
   */
  covers(cur: VerifierState, probe: () => void): boolean {
    return this.visit(cur, probe, undefined);
  }

  /** Store `s` (a copy the caller will not change). */
  add(s: VerifierState): void {
    const freeRegs = freeRegsOf(s);
    const g = this.groupOf(s, freeRegs, shapeKey(s, freeRegs));
    insert(g, hashUnder(g, s), s);
  }

  /**
   * covers(cur), and when no stored state covers it, add(copy()): one pass,
   * which hashes cur under its own shape once for both (is_state_visited).
   */
  visit(cur: VerifierState, probe: () => void, copy: (() => VerifierState) | undefined): boolean {
    const freeRegs = freeRegsOf(cur);
    const key = shapeKey(cur, freeRegs);
    let own: Group | undefined;
    let ownHash = 0;
    for (const g of this.groups) {
      probe();
      if (!shapeFits(g, cur)) continue;
      const h = hashUnder(g, cur);
      if (own === undefined && isShapeOf(g, cur, freeRegs)) {
        own = g;
        ownHash = h;
      }
      const list = g.buckets.get(h);
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        probe();
        if (statesEqual(list, cur)) return true;
        continue;
      }
      for (const old of list) {
        probe();
        if (statesEqual(old, cur)) return true;
      }
    }
    if (copy === undefined) return false;
    if (own === undefined) {
      own = this.groupOf(cur, freeRegs, key);
      ownHash = hashUnder(own, cur);
    }
    insert(own, ownHash, copy());
    return false;
  }

  /** The group of the shape of `s`, made if new. */
  private groupOf(s: VerifierState, freeRegs: number, key: number): Group {
    let same = this.byKey.get(key);
    if (same === undefined) this.byKey.set(key, (same = []));
    let g = same.find((x) => isShapeOf(x, s, freeRegs));
    if (g === undefined) {
      g = newGroup(s, freeRegs);
      same.push(g);
      this.groups.push(g);
    }
    return g;
  }
}

/** A state into its group's bucket: most buckets hold one state, kept without an array. */
function insert(g: Group, h: number, s: VerifierState): void {
  const list = g.buckets.get(h);
  if (list === undefined) g.buckets.set(h, s);
  else if (Array.isArray(list)) list.push(s);
  else g.buckets.set(h, [list, s]);
}
