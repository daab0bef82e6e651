/**
 * A packet frame during a run of a program type whose context points into
 * the packet (XDP's xdp_md, tc's __sk_buff): the buffer the frame lives
 * in, where its metadata, data and end lie, and the context fields and
 * memory region that must follow them when a helper moves them
 * (bpf_xdp_adjust_head/tail/meta). The program types (xdp.ts,
 * sched-cls.ts) make one per run and hand it to the engines in
 * RunInput.frame; the packet helpers (packet-helpers.ts) act on it.
 *
 * The context in memory is the uapi struct itself: tsbpf's addresses are
 * below 2^32, so the u32 fields data, data_end and data_meta hold the real
 * addresses and a program's 4-byte load of them is the pointer, with no
 * rewriting of the load. What a program can observe differently from the
 * kernel: the pointer values themselves (addresses in tsbpf's memory, not
 * kernel addresses; only their differences mean anything in either).
 * Helpers never trust the context's bytes: they act on this object, which
 * the program cannot reach, and rewrite the fields after each change.
 */

import type { AddressSpace, Region } from '../memory/address-space.js';

export class PacketFrame {
  /** [bufStart, bufEnd): the whole buffer (headroom, frame, tailroom) */
  bufStart: number;
  bufEnd: number;
  meta: number;
  data: number;
  end: number;
  /** the region the run may touch: [meta, end), kept in step */
  readonly region: Region;
  /**
   * XDP: the bytes of a frame beyond what the buffer holds, in page-sized
   * fragments as the kernel's test run makes them (a multi-buffer frame):
   * the program cannot reach them, bpf_xdp_adjust_tail grows and shrinks
   * them, and they follow the buffer's bytes after the run.
   */
  frags: Uint8Array[] = [];

  constructor(
    private readonly mem: AddressSpace,
    readonly kind: 'xdp' | 'skb',
    /** the context's address: the r1 the frame's helpers require */
    readonly ctx: number,
    buf: { start: number; end: number; data: number; len: number },
    /**
     * offsets of data, data_end, data_meta in the context (-1: no such field) and of a length field (skb len);
     * `nulls`: offsets of 8-byte pointer fields a test run leaves NULL (__sk_buff's sk, flow_keys)
     */
    private readonly fields: { data: number; end: number; meta: number; len: number; nulls?: readonly number[] },
    writable: boolean,
  ) {
    this.bufStart = buf.start;
    this.bufEnd = buf.end;
    this.meta = buf.data;
    this.data = buf.data;
    this.end = buf.data + buf.len;
    this.region = { start: this.meta, end: this.end, writable, name: 'packet' };
    this.sync();
  }

  /**
   * The frame of a new run in this frame's context (a runner reusing a
   * run's objects, prepareXdp): the buffer [start, end), `len` bytes of data
   * at `data`, no metadata and no fragments; the context's fields rewritten.
   */
  reset(start: number, end: number, data: number, len: number): void {
    this.bufStart = start;
    this.bufEnd = end;
    this.meta = data;
    this.data = data;
    this.end = data + len;
    // (setting an array's length costs tens of ns even when it does not change it)
    if (this.frags.length !== 0) this.frags.length = 0;
    this.sync();
  }

  /** Rewrite the context's pointer fields and the region after a change. */
  sync(): void {
    const v = this.mem.view;
    const f = this.fields;
    if (f.data >= 0) v.setUint32(this.ctx + f.data, this.data, true);
    if (f.end >= 0) v.setUint32(this.ctx + f.end, this.end, true);
    if (f.meta >= 0) v.setUint32(this.ctx + f.meta, this.meta, true);
    if (f.len >= 0) v.setUint32(this.ctx + f.len, this.end - this.data, true);
    const nulls = f.nulls;
    if (nulls) for (let i = 0; i < nulls.length; i++) v.setBigUint64(this.ctx + nulls[i]!, 0n, true);
    this.region.start = this.meta;
    this.region.end = this.end;
  }

  /** The frame's bytes now (data to end, then any fragments). */
  bytes(): Uint8Array {
    const linear = this.mem.read(this.data, this.end - this.data);
    if (this.frags.length === 0) return linear;
    const out = new Uint8Array(linear.length + this.fragsLength());
    out.set(linear);
    let at = linear.length;
    for (const f of this.frags) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }

  /** The bytes in fragments. */
  fragsLength(): number {
    return this.frags.reduce((n, f) => n + f.length, 0);
  }
}
