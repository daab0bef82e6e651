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
import { MAX_BPF_REG, MAX_BPF_STACK, REG, STACK, statesEqual } from './state.js';

const STACK_WORDS = MAX_BPF_STACK / 4;

interface Group {
  /** registers old leaves free: bit i for r(i) NOT_INIT or UNKNOWN_VALUE */
  freeRegs: number;
  /** the stack words where old has initialised bytes, and for each, 0xff in those bytes */
  words: Int32Array;
  masks: Int32Array;
  buckets: Map<number, VerifierState[]>;
}

const mix = (h: number, x: number): number => Math.imul(h ^ x, 0x9e3779b1) ^ (h >>> 15);

function mixReg(h: number, r: RegState): number {
  return mix(mix(mix(h, r.type), r.value | 0), Math.floor(r.value / 4294967296) ^ (r.off ?? 0));
}

/** 0xff in each byte of a stack word that is not STACK_INVALID */
function initMask(o: number): number {
  let m = 0;
  for (let b = 0; b < 4; b++) if (((o >>> (8 * b)) & 0xff) !== STACK.INVALID) m |= 0xff << (8 * b);
  return m;
}

function shapeOf(s: VerifierState): { freeRegs: number; words: Int32Array; masks: Int32Array; key: number } {
  let freeRegs = 0;
  for (let i = 0; i < MAX_BPF_REG; i++) {
    const t = s.regs[i]!.type;
    if (t === REG.NOT_INIT || t === REG.UNKNOWN_VALUE) freeRegs |= 1 << i;
  }
  const words: number[] = [];
  const masks: number[] = [];
  let key = freeRegs;
  for (let w = s.stackLow >> 2; w < STACK_WORDS; w++) {
    const o = s.stackWords[w]!;
    if (o === 0) continue;
    const m = initMask(o);
    words.push(w);
    masks.push(m);
    key = mix(mix(key, w), m);
  }
  return { freeRegs, words: Int32Array.from(words), masks: Int32Array.from(masks), key };
}

/** The hash of `s` on the parts a group's shape constrains. */
function hashUnder(g: Group, s: VerifierState): number {
  let h = 0x2545f491;
  for (let i = 0; i < MAX_BPF_REG; i++) if (!(g.freeRegs & (1 << i))) h = mixReg(h, s.regs[i]!);
  const { words, masks } = g;
  const sw = s.stackWords;
  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    const m = masks[k]!;
    h = mix(h, sw[w]! & m);
    // a spill is compared where old's byte at the start of its slot is initialised
    if ((w & 1) === 0 && (m & 0xff) !== 0) h = mixReg(h, s.spilledRegs[w >> 1]!);
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
  const { words, masks } = g;
  const sw = cur.stackWords;
  for (let k = 0; k < words.length; k++) {
    const m = masks[k]!;
    const o = sw[words[k]!]!;
    if (o === 0 || (m & ~initMask(o)) !== 0) return false;
  }
  return true;
}

function sameArray(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
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
    for (const g of this.groups) {
      probe();
      if (!shapeFits(g, cur)) continue;
      const list = g.buckets.get(hashUnder(g, cur));
      if (list === undefined) continue;
      for (const old of list) {
        probe();
        if (statesEqual(old, cur)) return true;
      }
    }
    return false;
  }

  /** Store `s` (a copy the caller will not change). */
  add(s: VerifierState): void {
    const shape = shapeOf(s);
    let same = this.byKey.get(shape.key);
    if (same === undefined) this.byKey.set(shape.key, (same = []));
    let g = same.find((x) => x.freeRegs === shape.freeRegs && sameArray(x.words, shape.words) && sameArray(x.masks, shape.masks));
    if (g === undefined) {
      g = { freeRegs: shape.freeRegs, words: shape.words, masks: shape.masks, buckets: new Map() };
      same.push(g);
      this.groups.push(g);
    }
    const h = hashUnder(g, s);
    const list = g.buckets.get(h);
    if (list === undefined) g.buckets.set(h, [s]);
    else list.push(s);
  }
}
