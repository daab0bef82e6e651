/**
 * Maps when the verifier is wrong (issue 13, "defense in depth", and
 * finding 4's helper part). A verifier bug is simulated by running programs
 * on the fast interpreter and the JIT directly, unverified: they rewrite a
 * map's header, its hash links' mirror, the pin words and the run
 * generation. Afterwards every lookup (both engines and the hardened JIT,
 * the API) ends, gives the exact answer or the documented miss, and other
 * maps and programs are untouched. The authoritative links are corrupted by
 * hand (a runtime bug) to check that every walk is bounded and ends in one
 * EFAULT line.
 * And a program may use through helpers only the maps it references.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem, BPF_CMD, testRun } from '../src/api/bpf.js';
import { Program } from '../src/api/program.js';
import { BpfError } from '../src/errors.js';
import { expectErr } from './expect-error.js';
import { assemble, encode, toSlots } from '../src/isa/index.js';
import { JitProgram } from '../src/jit/program.js';
import { jhash } from '../src/maps/jhash.js';
import { HashMap, SPARE } from '../src/maps/hash.js';
import type { BpfMapImpl, JitHashLayout } from '../src/maps/map.js';
import { MAP_HDR_SIZE } from '../src/maps/map.js';
import { RUN_GEN_ADDR } from '../src/memory/address-space.js';
import { Interpreter } from '../src/vm/interpreter.js';
import { prng } from './random-programs.js';
import { le32, le64 } from './bytes.js';

const HASH = 1;
const ARRAY = 2;
const MISS = 0xdeadn;

const rd64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);

type Engine = 'interpreter' | 'jit' | 'jit-hardened';
const ENGINES: Engine[] = ['interpreter', 'jit'];
/** lookups and helper calls also on the hardened JIT (its inline lookup, after its key check, is the JIT's); it refuses the pokes */
const WITH_HARDENED: Engine[] = [...ENGINES, 'jit-hardened'];

/** A program that escaped the verifier: built straight from instructions, run on the fast interpreter or the JIT (or the hardened JIT). */
function rogue(sys: BpfSystem, engine: Engine, src: string, maps: BpfMapImpl[]): { run(r1?: number): bigint } {
  const slots = toSlots(assemble(src));
  const opts = { helpers: sys.runtime.helpers, maps };
  if (engine !== 'interpreter') {
    const jit = new JitProgram(sys.runtime.mem, slots, engine === 'jit' ? opts : { ...opts, hardened: { batchContext: { size: 0, writable: false } } });
    return { run: (r1 = 0) => jit.run1({ r1 }) };
  }
  const it = new Interpreter(sys.runtime.mem, slots, { ...opts, checked: false });
  return { run: (r1 = 0) => it.run({ r1 }).r0 };
}

/** u32 stores at absolute addresses. */
function pokeSrc(writes: readonly (readonly [number, number])[]): string {
  return writes.map(([a, v]) => `lddw %r1, ${a}\nlddw %r2, ${v >>> 0}\nstxw [%r1+0], %r2`).join('\n') + '\nmov %r0, 0\nexit';
}

/** Look an 8-byte key up in the map at `addr`: its value's first u64, or MISS. */
function lookupSrc(addr: number, key: bigint | number, keySize: 4 | 8 = 8): string {
  return `lddw %r3, ${key}
stx${keySize === 8 ? 'dw' : 'w'} [%r10-8], %r3
mov %r2, %r10
add %r2, -8
lddw %r1, ${addr}
call 1
jeq %r0, 0, +2
ldxdw %r0, [%r0+0]
exit
lddw %r0, ${MISS}
exit`;
}

interface Setup {
  sys: BpfSystem;
  h: number;
  a: number;
  h2: number;
  H: HashMap;
  A: BpfMapImpl;
  H2: HashMap;
}

/** A hash map of 8 entries holding keys 1..5 (value 100 + key), an array map of 4, and another hash map. */
function setup(): Setup {
  const sys = new BpfSystem();
  const mk = (type: number, ks: number, max: number): number => sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: type, key_size: ks, value_size: 8, max_entries: max });
  const h = mk(HASH, 8, 8);
  const a = mk(ARRAY, 4, 4);
  const h2 = mk(HASH, 8, 8);
  for (let k = 1; k <= 5; k++) sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h, key: le64(k), value: le64(100 + k) });
  for (let i = 0; i < 4; i++) sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: a, key: le32(i), value: le64(200 + i) });
  sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h2, key: le64(9), value: le64(909) });
  return { sys, h, a, h2, H: sys.mapOf(h).impl as HashMap, A: sys.mapOf(a).impl, H2: sys.mapOf(h2).impl as HashMap };
}

function apiLookup(sys: BpfSystem, fd: number, key: Uint8Array): bigint | 'ENOENT' {
  const v = new Uint8Array(8);
  try {
    sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: fd, key, value: v });
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') return 'ENOENT';
    throw e;
  }
  return rd64(v);
}

/** Every key of an 8-byte-key map, by get_next_key, sorted. */
function apiKeys(sys: BpfSystem, fd: number): bigint[] {
  const keys: bigint[] = [];
  let prev: Uint8Array | null = null;
  for (;;) {
    const next = new Uint8Array(8);
    try {
      sys.bpf(BPF_CMD.BPF_MAP_GET_NEXT_KEY, { map_fd: fd, key: prev, next_key: next });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') break;
      throw e;
    }
    keys.push(rd64(next));
    prev = next;
    assert.ok(keys.length <= 64, 'get_next_key does not end');
  }
  return keys.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

const bucketOf = (H: HashMap, key: bigint): number => jhash(le64(key), 0, 8, 0) & (H.nBuckets - 1);
/** The element index holding key (from the map's own lookup). */
function indexOf(sys: BpfSystem, H: HashMap, key: bigint): number {
  const k = sys.runtime.mem.alloc(8);
  try {
    sys.runtime.mem.write(k, le64(key));
    const v = H.lookup(k);
    assert.notEqual(v, 0);
    return (v - H.keyRound - H.base) / H.elemSize;
  } finally {
    sys.runtime.mem.release(k);
  }
}
const mirrorWord = (sys: BpfSystem, addr: number): number => sys.runtime.mem.view.getInt32(addr, true);

/** Keys 1..5 give 101..105 and 6, 100 are absent: on both engines (fresh programs) and through the API. */
function assertIntact(s: Setup, what: string): void {
  const { sys, h, H } = s;
  for (const engine of WITH_HARDENED) {
    for (const k of [1, 2, 3, 4, 5, 6, 100]) {
      const want = k <= 5 ? BigInt(100 + k) : MISS;
      assert.equal(rogue(sys, engine, lookupSrc(H.addr, k), [H]).run(), want, `${what}: ${engine} lookup of ${k}`);
    }
  }
  for (const k of [1, 2, 3, 4, 5]) assert.equal(apiLookup(sys, h, le64(k)), BigInt(100 + k), `${what}: API lookup of ${k}`);
  assert.equal(apiLookup(sys, h, le64(6)), 'ENOENT');
  assert.deepEqual(apiKeys(sys, h), [1n, 2n, 3n, 4n, 5n], `${what}: get_next_key`);
}

describe('a program that escaped the verifier rewrites map structure', () => {
  test('the header (magic, type, sizes, a huge max_entries, the old base and link words) is never read back', () => {
    for (const engine of ENGINES) {
      const s = setup();
      const { sys, H, A, H2 } = s;
      // every header word of both maps: junk, a huge max_entries, a base in the null page
      const junk: [number, number][] = [];
      for (const m of [H, A]) {
        for (let o = 0; o < MAP_HDR_SIZE; o += 4) junk.push([m.addr + o, o === 16 ? 0xffffffff : o === 24 ? 0x10 : 0x41414141 + o]);
      }
      assert.equal(rogue(sys, engine, pokeSrc(junk), [H, A]).run(), 0n);
      assertIntact(s, `header rewritten by the ${engine}`);
      // array: every index in range gives its value, max_entries and beyond give NULL
      for (const e of WITH_HARDENED) {
        for (const [i, want] of [[0, 200n], [3, 203n], [4, MISS], [0xffffffff, MISS]] as const) {
          assert.equal(rogue(sys, e, lookupSrc(A.addr, i, 4), [A]).run(), want, `${engine} then ${e}: array index ${i}`);
        }
      }
      assert.equal(apiLookup(sys, s.a, le32(2)), 202n);
      // the other map and a verified program on it
      assert.equal(apiLookup(sys, s.h2, le64(9)), 909n);
      const p = Program.load(sys, { insns: `*(u64 *)(r10 -8) = 9\nr2 = r10\nr2 += -8\nr1 = map[fd:${s.h2}]\ncall 1\nif r0 == 0x0 goto pc+1\nr0 = *(u64 *)(r0 +0)\nexit` });
      assert.equal(p.testRun(new Uint8Array(0), 1, 'jit').retval, 909n);
      assert.equal(p.testRun(new Uint8Array(0), 1, 'interpreter').retval, 909n);
      assert.equal(H2.size, 1);
    }
  });

  test('a cycle in the mirror: the JIT walk stops, the helper answers and rewrites the mirror', () => {
    for (const engine of ENGINES) {
      const s = setup();
      const { sys, H } = s;
      const l = H.jitLayout() as JitHashLayout;
      const i1 = indexOf(sys, H, 1n);
      const b = bucketOf(H, 100n);
      // key 100's bucket starts at key 1's element, which links to itself
      rogue(sys, engine, pokeSrc([[l.heads + 4 * b, i1], [l.next + 4 * i1, i1]]), [H]).run();
      assert.equal(mirrorWord(sys, l.heads + 4 * b), i1);
      const jit = rogue(sys, 'jit', lookupSrc(H.addr, 100), [H]);
      assert.equal(jit.run(), MISS);
      // the fallback rewrote the mirror from the authoritative links
      assert.equal(mirrorWord(sys, l.suspect), 0);
      assert.equal(mirrorWord(sys, l.heads + 4 * b), (H as unknown as { heads: Int32Array }).heads[b]);
      assert.equal(mirrorWord(sys, l.next + 4 * i1), (H as unknown as { next: Int32Array }).next[i1]);
      assert.equal(jit.run(), MISS);
      // the same on the hardened JIT, whose inline lookup is the JIT's (jit/maps.ts)
      rogue(sys, engine, pokeSrc([[l.heads + 4 * b, i1], [l.next + 4 * i1, i1]]), [H]).run();
      assert.equal(rogue(sys, 'jit-hardened', lookupSrc(H.addr, 100), [H]).run(), MISS);
      assert.equal(mirrorWord(sys, l.suspect), 0);
      assert.equal(mirrorWord(sys, l.next + 4 * i1), (H as unknown as { next: Int32Array }).next[i1]);
      assertIntact(s, `cycle written by the ${engine}`);
    }
  });

  test('element indexes out of range in the mirror (heads and next): the same, for negative and huge indexes', () => {
    for (const bad of [-2, 0x7fffffff, 40, 41, 0x80000000]) {
      const s = setup();
      const { sys, H } = s;
      const l = H.jitLayout() as JitHashLayout;
      assert.equal(l.cap, 8 + SPARE);
      // every bucket head out of range, and every next link
      const writes: [number, number][] = [];
      for (let b = 0; b < H.nBuckets; b++) writes.push([l.heads + 4 * b, bad]);
      rogue(sys, 'jit', pokeSrc(writes), [H]).run();
      assert.equal(rogue(sys, 'jit', lookupSrc(H.addr, 3), [H]).run(), 103n, `head ${bad}`);
      for (let i = 0; i < l.cap; i++) writes.push([l.next + 4 * i, bad]);
      rogue(sys, 'interpreter', pokeSrc(writes), [H]).run();
      assertIntact(s, `indexes ${bad}`);
    }
  });

  test('a mirror rewired within range: the JIT may miss or find a same-map element with the same key, until the bucket changes', () => {
    const s = setup();
    const { sys, h, H } = s;
    const l = H.jitLayout() as JitHashLayout;
    const b = bucketOf(H, 2n);
    const jit = rogue(sys, 'jit', lookupSrc(H.addr, 2), [H]);
    assert.equal(jit.run(), 102n);
    // the bucket looks empty to the JIT: a miss; the interpreter and the API use the authoritative links
    rogue(sys, 'jit', pokeSrc([[l.heads + 4 * b, -1]]), [H]).run();
    assert.equal(jit.run(), MISS);
    assert.equal(rogue(sys, 'interpreter', lookupSrc(H.addr, 2), [H]).run(), 102n);
    assert.equal(apiLookup(sys, h, le64(2)), 102n);
    // an update in the bucket rewrites its mirror
    sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h, key: le64(2), value: le64(202) });
    assert.equal(jit.run(), 202n);
    // a freed element whose key bytes still say 2: reachable only through a rewritten mirror, and
    // then a value slot of this map
    const i2 = indexOf(sys, H, 2n);
    sys.bpf(BPF_CMD.BPF_MAP_DELETE_ELEM, { map_fd: h, key: le64(2) });
    assert.equal(jit.run(), MISS);
    rogue(sys, 'interpreter', pokeSrc([[l.heads + 4 * b, i2]]), [H]).run();
    assert.equal(jit.run(), 202n);
    assert.equal(apiLookup(sys, h, le64(2)), 'ENOENT');
    H.refreshMirror();
    assert.equal(jit.run(), MISS);
  });

  test('random words over the whole mirror: every JIT lookup ends in NULL or a value slot of the map holding the key', () => {
    const s = setup();
    const { sys, H } = s;
    const mem = sys.runtime.mem;
    const l = H.jitLayout() as JitHashLayout;
    const words = (l.pinned - l.heads) / 4;
    const rnd = prng(0x5eed);
    const key = mem.alloc(8);
    const jit = new JitProgram(mem, toSlots(assemble(`mov %r2, %r1\nlddw %r1, ${H.addr}\ncall 1\nexit`)), { helpers: sys.runtime.helpers, maps: [H] });
    const valueOfKey = new Map<number, number>();
    for (let k = 1; k <= 5; k++) valueOfKey.set(k, H.base + indexOf(sys, H, BigInt(k)) * H.elemSize + H.keyRound);
    let hits = 0;
    for (let round = 0; round < 300; round++) {
      for (let n = 0; n < 4; n++) {
        const w = Math.floor(rnd() * words);
        const v = [(): number => -1, (): number => Math.floor(rnd() * l.cap), (): number => Math.floor(rnd() * 2 ** 32) | 0][Math.floor(rnd() * 3)]!();
        mem.view.setInt32(l.heads + 4 * w, v, true);
      }
      for (let k = 0; k <= 7; k++) {
        mem.write(key, le64(k));
        const r = Number(jit.run1({ r1: key }));
        if (r === 0) continue;
        // a value slot: base + i * stride + keyRound with i < cap, whose key bytes are the key
        const i = (r - H.base - H.keyRound) / H.elemSize;
        assert.ok(Number.isInteger(i) && i >= 0 && i < l.cap, `round ${round}: key ${k} gave 0x${r.toString(16)}`);
        assert.equal(rd64(mem.read(r - H.keyRound, 8)), BigInt(k));
        if (valueOfKey.get(k) === r) hits++;
      }
    }
    assert.ok(hits > 0);
    mem.release(key);
    // the authoritative side never read the mirror: the interpreter and the API are exact
    for (let k = 1; k <= 7; k++) {
      assert.equal(rogue(sys, 'interpreter', lookupSrc(H.addr, k), [H]).run(), k <= 5 ? BigInt(100 + k) : MISS);
      assert.equal(apiLookup(sys, s.h, le64(k)), k <= 5 ? BigInt(100 + k) : 'ENOENT');
    }
    // and a rewritten mirror is whole again
    H.refreshMirror();
    assertIntact(s, 'random mirror words, then refreshed');
  });

  test('pin words and the run generation only decide reuse: contents and capacity stay exact', () => {
    const s = setup();
    const { sys, h, H } = s;
    const l = H.jitLayout() as JitHashLayout;
    const rnd = prng(7);
    // each run: look key 1 up (pinning it), scribble over the generation and the pin words, replace key 1
    for (const engine of ENGINES) {
      for (let run = 0; run < 60; run++) {
        const writes: [number, number][] = [[RUN_GEN_ADDR, Math.floor(rnd() * 4)]];
        for (let i = 0; i < l.cap; i++) if (rnd() < 0.5) writes.push([l.pinned + 4 * i, Math.floor(rnd() * 4)]);
        const src = `stdw [%r10-8], 1
mov %r2, %r10
add %r2, -8
lddw %r1, ${H.addr}
call 1
${pokeSrc(writes).replace(/\nmov %r0, 0\nexit$/, '')}
lddw %r3, ${run}
stxdw [%r10-16], %r3
mov %r3, %r10
add %r3, -16
mov %r2, %r10
add %r2, -8
lddw %r1, ${H.addr}
mov %r4, 0
call 2
exit`;
        const p = rogue(sys, engine, src, [H]);
        H.enterRun();
        try {
          assert.equal(p.run(), 0n, `${engine} run ${run}`);
        } finally {
          H.exitRun();
        }
        assert.equal(apiLookup(sys, h, le64(1)), BigInt(run));
      }
    }
    assert.equal(H.size, 5);
    assert.deepEqual(apiKeys(sys, h), [1n, 2n, 3n, 4n, 5n]);
    // no element leaked: exactly max_entries keys fit
    for (const k of [6, 7, 8]) sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h, key: le64(k), value: le64(k) });
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h, key: le64(9), value: le64(9) }), 'E2BIG', 'the map is full (or the index is out of range)');
    for (let k = 1; k <= 8; k++) sys.bpf(BPF_CMD.BPF_MAP_DELETE_ELEM, { map_fd: h, key: le64(k) });
    assert.deepEqual(apiKeys(sys, h), []);
  });
});

describe('the authoritative links corrupted (a runtime bug): bounded walks, one EFAULT line', () => {
  const links = (H: HashMap): { heads: Int32Array; next: Int32Array } => H as unknown as { heads: Int32Array; next: Int32Array };

  test('a cycle: lookup, update, delete and get_next_key end with EFAULT from the API and from helpers', () => {
    const s = setup();
    const { sys, h, H } = s;
    const i1 = indexOf(sys, H, 1n);
    const b = bucketOf(H, 100n);
    links(H).heads[b] = i1;
    links(H).next[i1] = i1;
    const msg = `hash map at 0x${H.addr.toString(16)}: internal links are corrupt (a chain longer than its 40 elements)`;
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: h, key: le64(100), value: new Uint8Array(8) }), 'EFAULT', msg);
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, { map_fd: h, key: le64(100), value: le64(0) }), 'EFAULT', msg);
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_DELETE_ELEM, { map_fd: h, key: le64(100) }), 'EFAULT', msg);
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_GET_NEXT_KEY, { map_fd: h, key: le64(100), next_key: new Uint8Array(8) }), 'EFAULT', msg);
    // a program's helper call: the run ends with the same error (the JIT's mirror is intact, so it misses inline)
    expectErr(() => rogue(sys, 'interpreter', lookupSrc(H.addr, 100), [H]).run(), 'EFAULT', msg);
    assert.equal(rogue(sys, 'jit', lookupSrc(H.addr, 100), [H]).run(), MISS);
    // the other maps do not care
    assert.equal(apiLookup(sys, s.h2, le64(9)), 909n);
  });

  test('an index out of range: EFAULT naming it, from lookups and from get_next_key following a link', () => {
    const s = setup();
    const { sys, h, H } = s;
    const i1 = indexOf(sys, H, 1n);
    links(H).next[i1] = 1000;
    const msg = `hash map at 0x${H.addr.toString(16)}: internal links are corrupt (element index 1000 of 40)`;
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_GET_NEXT_KEY, { map_fd: h, key: le64(1), next_key: new Uint8Array(8) }), 'EFAULT', msg);
    links(H).heads[bucketOf(H, 100n)] = -7;
    const msg2 = `hash map at 0x${H.addr.toString(16)}: internal links are corrupt (element index -7 of 40)`;
    expectErr(() => sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: h, key: le64(100), value: new Uint8Array(8) }), 'EFAULT', msg2);
    expectErr(() => rogue(sys, 'interpreter', lookupSrc(H.addr, 100), [H]).run(), 'EFAULT', msg2);
  });
});

describe('a program uses through helpers only the maps it references (finding 4)', () => {
  const notOurs = (helper: string, addr: number): string => `${helper}: r1 = 0x${addr.toString(16)} is not a map of this program`;

  test('an unverified program with no maps of its own, naming another map by address: EFAULT for each helper', () => {
    const s = setup();
    const { sys, h, H } = s;
    const calls: [string, string][] = [
      ['bpf_map_lookup_elem', 'call 1'],
      ['bpf_map_update_elem', 'mov %r3, %r2\nmov %r4, 0\ncall 2'],
      ['bpf_map_delete_elem', 'call 3'],
    ];
    for (const [name, call] of calls) {
      const src = `stdw [%r10-8], 1\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, ${H.addr}\n${call}\nexit`;
      const p = Program.load(sys, { insns: src, verify: false });
      expectErr(() => p.run(), 'EFAULT', notOurs(name, H.addr));
      p.close();
      // and on the engines built for it (no maps): fast interpreter, JIT and hardened JIT
      for (const engine of WITH_HARDENED) expectErr(() => rogue(sys, engine, src, []).run(), 'EFAULT', notOurs(name, H.addr));
    }
    assert.equal(apiLookup(sys, h, le64(1)), 101n);
    assert.equal(H.size, 5);
  });

  test('a program referencing one map reaches another only by address: EFAULT; its own map works', () => {
    const s = setup();
    const { sys, a, H, A } = s;
    // r1 = the array map (its own), then the hash map's address computed from it
    const own = `stw [%r10-8], 2\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, ${A.addr}\ncall 1\njeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nexit`;
    const other = `stdw [%r10-8], 1\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, ${A.addr}\nadd %r1, ${H.addr - A.addr}\ncall 1\nexit`;
    for (const engine of WITH_HARDENED) {
      assert.equal(rogue(sys, engine, own, [A]).run(), 202n);
      expectErr(() => rogue(sys, engine, other, [A]).run(), 'EFAULT', notOurs('bpf_map_lookup_elem', H.addr));
    }
    // loaded unverified through the API: map[fd] is its own map; a constant naming another map is not
    const viaFd = Program.load(sys, { insns: `*(u32 *)(r10 -8) = 2\nr2 = r10\nr2 += -8\nr1 = map[fd:${a}]\ncall 1\nif r0 == 0x0 goto pc+1\nr0 = *(u64 *)(r0 +0)\nexit`, verify: false });
    assert.equal(viaFd.run(), 202n);
    const viaConst = Program.load(sys, { insns: `*(u32 *)(r10 -8) = 2\nr2 = r10\nr2 += -8\nr1 = map[fd:${a}]\nr1 = 0x${H.addr.toString(16)} ll\ncall 1\nexit`, verify: false });
    expectErr(() => viaConst.run(), 'EFAULT', notOurs('bpf_map_lookup_elem', H.addr));
    // verified programs on their own maps, both engines
    const verified = Program.load(sys, { insns: `*(u32 *)(r10 -8) = 3\nr2 = r10\nr2 += -8\nr1 = map[fd:${a}]\ncall 1\nif r0 == 0x0 goto pc+1\nr0 = *(u64 *)(r0 +0)\nexit` });
    for (const engine of WITH_HARDENED) assert.equal(verified.testRun(new Uint8Array(0), 1, engine).retval, 203n);
  });

  test('an engine built from raw instructions: its ld_imm64 constants naming maps are its maps, nothing else', () => {
    const s = setup();
    const { sys, H, H2 } = s;
    const mem = sys.runtime.mem;
    const key = mem.alloc(8);
    mem.write(key, le64(9));
    // r1 comes in as H2's address; the program's only constant names H
    const src = `mov %r6, %r1\nlddw %r1, ${H.addr}\nstdw [%r10-8], 9\nmov %r2, %r10\nadd %r2, -8\nmov %r1, %r6\ncall 1\nexit`;
    const slots = toSlots(assemble(src));
    const opts = { helpers: sys.runtime.helpers };
    expectErr(() => new JitProgram(mem, slots, opts).run1({ r1: H2.addr }), 'EFAULT', notOurs('bpf_map_lookup_elem', H2.addr));
    expectErr(() => new Interpreter(mem, slots, opts).run({ r1: H2.addr }), 'EFAULT', notOurs('bpf_map_lookup_elem', H2.addr));
    // with H's address in r1 the lookup is the program's: key 9 is absent from H
    assert.equal(new JitProgram(mem, slots, opts).run1({ r1: H.addr }), 0n);
    assert.equal(new Interpreter(mem, slots, opts).run({ r1: H.addr }).r0, 0n);
    mem.release(key);
  });
});

test('the inline lookup with long keys (jhash as a loop, keys compared as a loop) agrees with the map', () => {
  const rnd = prng(99);
  for (const keySize of [48, 49, 60, 64, 65, 72, 100, 255, 512]) {
    const sys = new BpfSystem();
    const fd = sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: HASH, key_size: keySize, value_size: 8, max_entries: 16 });
    const map = sys.mapOf(fd).impl;
    const mem = sys.runtime.mem;
    const key = mem.alloc(keySize);
    const value = mem.alloc(8);
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) {
      const k = Uint8Array.from({ length: keySize }, () => Math.floor(rnd() * 256));
      keys.push(k);
      mem.write(key, k);
      assert.equal(map.update(key, value, 0, 0), 0);
    }
    const probes = [...keys];
    for (const k of keys.slice(0, 6)) {
      const last = Uint8Array.from(k);
      last[keySize - 1] ^= 1;
      const mid = Uint8Array.from(k);
      mid[keySize >> 1] ^= 0x10;
      probes.push(last, mid);
    }
    const jit = new JitProgram(mem, toSlots(assemble(`mov %r2, %r1\nlddw %r1, ${map.addr}\ncall 1\nexit`)), { helpers: sys.runtime.helpers, maps: [map] });
    let found = 0;
    for (const k of probes) {
      mem.write(key, k);
      const want = map.lookup(key);
      assert.equal(jit.run1({ r1: key }), BigInt(want), `key size ${keySize}`);
      if (want !== 0) found++;
    }
    assert.equal(found, 12, `key size ${keySize}`);
  }
});

test('a map program loaded through bpf() runs the same with the maps hardened: batch and single runs', () => {
  const s = setup();
  const { sys, h } = s;
  const insns = encode(assemble(`*(u64 *)(r10 -8) = 4\nr2 = r10\nr2 += -8\nr1 = map[fd:${h}]\ncall 1\nif r0 == 0x0 goto pc+2\nr1 = 1\nlock *(u64 *)(r0 +0) += r1\nr0 = 0\nexit`));
  const fd = sys.bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 0, insns, license: 'GPL' });
  const p = sys.progOf(fd).prog;
  assert.ok(p.jit);
  testRun(sys, fd, new Uint8Array(16), 1000, 'jit');
  testRun(sys, fd, new Uint8Array(16), 10, 'interpreter');
  assert.equal(apiLookup(sys, h, le64(4)), 104n + 1010n);
});
