/**
 * BPF_MAP_TYPE_RINGBUF (5.8), as the kernel's ringbuf.c: a ring of
 * max_entries data bytes (a power of 2 and a multiple of the 4096-byte
 * page; key_size and value_size 0) that programs fill with records and a
 * consumer reads in order. A record is an 8-byte header (u32 length with
 * the BUSY bit 31 while reserved and the DISCARD bit 30, u32 page offset)
 * and its data, the whole rounded up to 8 bytes. The element commands are
 * ENOTSUPP, as the kernel's.
 *
 * The producer side, for the helpers (bpf_ringbuf_reserve/submit/discard/
 * output/query): reserve(size) gives the data's address or 0 (too large,
 * or no room before the consumer position), commit(addr, discard) ends a
 * reservation; output() is reserve, copy, submit. The consumer side, for the
 * API: records() returns the submitted records' data in order, skipping
 * discarded ones, up to the first still reserved, and advances the
 * consumer position past them (what a user-space consumer reads after a run).
 *
 * Memory: the kernel maps the data pages twice in a row so that a record
 * crossing the end is contiguous; here the data area is 2 x max_entries
 * bytes and a record is always written and read at its start offset, so a
 * record crossing the end continues into the second copy. The positions and
 * the records' state are this object's (a program that escaped the
 * verifier cannot corrupt them); the headers are written to memory too. A
 * program may touch only the data of records it holds reserved.
 */

import { BpfError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { Region } from '../memory/address-space.js';
import type { BpfMapImpl, MapAttr, MapType } from './map.js';
import { BPF_F, BPF_MAP_TYPE, allocMapStorage } from './map.js';

const PAGE = 4096;
export const RINGBUF_HDR = 8;
export const RINGBUF_BUSY = 0x80000000;
export const RINGBUF_DISCARD = 0x40000000;
const ENOTSUPP = -524;
/** the largest max_entries tsbpf allocates (twice that in memory) */
const MAX_RING = 1 << 30;
/** bpf_ringbuf_query's flags */
export const BPF_RB = { AVAIL_DATA: 0, RING_SIZE: 1, CONS_POS: 2, PROD_POS: 3 } as const;
/** bpf_ringbuf_output/submit/discard flags: the wakeup hints (no effect here) */
const WAKEUP_FLAGS = 3;

interface Rec {
  /** logical position of the header */
  pos: number;
  len: number;
  state: 'busy' | 'submitted' | 'discarded';
}

export class RingbufMap implements BpfMapImpl {
  readonly type = BPF_MAP_TYPE.RINGBUF;
  readonly keySize = 0;
  readonly valueSize = 0;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly addr: number;
  readonly base: number;
  readonly region: Region;
  private readonly mem: AddressSpace;
  private readonly mask: number;
  private consPos = 0;
  private prodPos = 0;
  /** the records between the consumer and producer positions, in order */
  private recs: Rec[] = [];

  constructor(mem: AddressSpace, attr: MapAttr) {
    const n = attr.maxEntries;
    if (attr.keySize !== 0 || attr.valueSize !== 0 || n === 0 || (n & (n - 1)) !== 0 || n % PAGE !== 0) {
      throw new BpfError('EINVAL', `invalid ringbuf map: key_size and value_size 0, max_entries a power of 2 multiple of ${PAGE} (got ${n})`);
    }
    if (n > MAX_RING) throw new BpfError('E2BIG', `ringbuf max_entries ${n} exceeds ${MAX_RING}`);
    this.mem = mem;
    this.maxEntries = n;
    this.mapFlags = attr.mapFlags;
    this.mask = n - 1;
    ({ addr: this.addr, base: this.base } = allocMapStorage(mem, 2 * n, `ringbuf map of ${n} bytes`, attr));
    const base = this.base;
    this.region = {
      start: base,
      end: base + 2 * n,
      writable: true,
      name: 'ringbuf record',
      contains: (a, end) => this.recs.some((r) => r.state === 'busy' && a >= this.dataAddr(r) && end <= this.dataAddr(r) + r.len),
    };
  }

  private dataAddr(r: Rec): number {
    return this.base + (r.pos & this.mask) + RINGBUF_HDR;
  }

  private writeHeader(r: Rec): void {
    const v = this.mem.view;
    const h = this.base + (r.pos & this.mask);
    const flags = r.state === 'busy' ? RINGBUF_BUSY : r.state === 'discarded' ? RINGBUF_DISCARD : 0;
    v.setUint32(h, (r.len | flags) >>> 0, true);
    v.setUint32(h + 4, 0, true);
  }

  /** bpf_ringbuf_reserve: the data address of a new record of `size` bytes, or 0. Flags must be 0. */
  reserve(size: number, flagsLo: number, flagsHi: number): number {
    if (flagsLo !== 0 || flagsHi !== 0) return 0;
    if (size > this.maxEntries - RINGBUF_HDR) return 0;
    const total = Math.ceil((size + RINGBUF_HDR) / 8) * 8;
    // as the kernel: the producer may run at most max_entries - 1 bytes ahead of the consumer
    if (this.prodPos + total - this.consPos > this.mask) return 0;
    const r: Rec = { pos: this.prodPos, len: size, state: 'busy' };
    this.prodPos += total;
    this.recs.push(r);
    this.writeHeader(r);
    return this.dataAddr(r);
  }

  /** bpf_ringbuf_submit / bpf_ringbuf_discard of the record whose data is at addr: 0, or EINVAL when it is no reserved record. */
  commit(addr: number, discard: boolean, flagsLo = 0, flagsHi = 0): number {
    if ((flagsLo & ~WAKEUP_FLAGS) !== 0 || flagsHi !== 0) return -22;
    const r = this.recs.find((x) => x.state === 'busy' && this.dataAddr(x) === addr);
    if (!r) return -22;
    r.state = discard ? 'discarded' : 'submitted';
    this.writeHeader(r);
    return 0;
  }

  /** bpf_ringbuf_output: a record with `size` bytes copied from dataAddr; 0 or -EAGAIN when there is no room. */
  output(dataAddr: number, size: number, flagsLo: number, flagsHi: number): number {
    if ((flagsLo & ~WAKEUP_FLAGS) !== 0 || flagsHi !== 0) return -22;
    const at = this.reserve(size, 0, 0);
    if (at === 0) return -11;
    this.mem.u8.copyWithin(at, dataAddr, dataAddr + size);
    return this.commit(at, false);
  }

  /** bpf_ringbuf_query */
  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB.AVAIL_DATA: return BigInt(this.prodPos - this.consPos);
      case BPF_RB.RING_SIZE: return BigInt(this.maxEntries);
      case BPF_RB.CONS_POS: return BigInt(this.consPos);
      case BPF_RB.PROD_POS: return BigInt(this.prodPos);
      default: return 0n;
    }
  }

  /** The consumer: the submitted records' data in order, up to the first still reserved; they are consumed. */
  records(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    for (; i < this.recs.length; i++) {
      const r = this.recs[i]!;
      if (r.state === 'busy') break;
      if (r.state === 'submitted') {
        const a = this.dataAddr(r);
        out.push(this.mem.u8.slice(a, a + r.len));
      }
      this.consPos = r.pos + Math.ceil((r.len + RINGBUF_HDR) / 8) * 8;
    }
    this.recs = this.recs.slice(i);
    return out;
  }

  /** Records reserved or unread. */
  get pending(): number {
    return this.recs.length;
  }

  lookup(_keyAddr: number): number {
    return 0;
  }

  sysLookup(_keyAddr: number, _outAddr: number): number {
    return ENOTSUPP;
  }

  update(_keyAddr: number, _valueAddr: number, _flagsLo: number, _flagsHi: number): number {
    return ENOTSUPP;
  }

  delete(_keyAddr: number): number {
    return ENOTSUPP;
  }

  getNextKey(_keyAddr: number, _nextKeyAddr: number): number {
    return ENOTSUPP;
  }

  enterRun(): void {}
  exitRun(): void {}

  free(): void {
    // no record survives the ring: a commit of an old record's address (RunState.reserved) finds none and writes nothing
    this.recs = [];
    this.mem.release(this.base);
    this.mem.release(this.addr);
  }
}

/** The map-type table's row (maps/types.ts). RINGBUF_CREATE_FLAG_MASK: the NUMA node only. */
export const RINGBUF_MAP: MapType<'ringbuf'> = {
  name: 'ringbuf',
  id: BPF_MAP_TYPE.RINGBUF,
  since: '5.8',
  dense: false,
  flags: BPF_F.NUMA_NODE,
  create: (mem, attr) => new RingbufMap(mem, attr),
};
