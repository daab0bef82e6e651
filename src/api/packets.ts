/**
 * PacketRunner: run a loaded socket filter over many packets (a capture)
 * without allocating per packet. One context-and-packet buffer is reused
 * and grown as needed; maps carry over from packet to packet, and elements
 * a run replaced while holding them are recycled after each run.
 */

import { BpfError } from '../errors.js';
import { SKB_CTX_SIZE, SKB_LEN_OFF } from '../progs/types.js';
import type { RunInput } from '../vm/interpreter.js';
import type { BpfSystem, EngineName } from './bpf.js';
import { engineOf } from './bpf.js';

export class PacketRunner {
  private ctx = 0;
  private capacity = 0;
  private readonly input: RunInput & { packet: { addr: number; len: number; netOff: number } };
  private readonly engine: ReturnType<typeof engineOf>;
  private readonly maps: { enterRun(): void; exitRun(): void }[];
  private readonly sys: BpfSystem;

  constructor(sys: BpfSystem, progFd: number, engine?: EngineName) {
    const { prog } = sys.progOf(progFd);
    if (prog.type.name !== 'socket_filter') throw new BpfError('EINVAL', `a ${prog.type.name} program does not filter packets`);
    this.sys = sys;
    this.engine = engineOf(prog, engine);
    this.maps = prog.maps.map((m) => m.impl);
    this.input = { r1: 0, packet: { addr: 0, len: 0, netOff: -1 }, regions: [] };
    this.grow(2048);
  }

  get engineName(): EngineName {
    return this.engine.engineName;
  }

  private grow(size: number): void {
    const mem = this.sys.runtime.mem;
    if (this.ctx) mem.release(this.ctx);
    this.capacity = Math.max(size, this.capacity * 2);
    this.ctx = mem.alloc(SKB_CTX_SIZE + this.capacity);
    this.input.r1 = this.ctx;
    this.input.packet.addr = this.ctx + SKB_CTX_SIZE;
  }

  /** Run over one packet; returns r0's low 32 bits, the number of bytes to keep (0 drops). */
  run(data: Uint8Array, netOff = -1): number {
    if (data.length > this.capacity) this.grow(data.length);
    const mem = this.sys.runtime.mem;
    mem.view.setUint32(this.ctx + SKB_LEN_OFF, data.length, true);
    mem.u8.set(data, this.ctx + SKB_CTX_SIZE);
    const pkt = this.input.packet;
    pkt.len = data.length;
    pkt.netOff = netOff;
    this.input.regions = [
      { start: this.ctx, end: this.ctx + SKB_CTX_SIZE, writable: false, name: 'context' },
      { start: pkt.addr, end: pkt.addr + data.length, writable: false, name: 'packet' },
    ];
    for (const m of this.maps) m.enterRun();
    try {
      this.engine.exec(this.input);
    } finally {
      for (const m of this.maps) m.exitRun();
    }
    return this.engine.retLo >>> 0;
  }

  /** r0 of the last run, all 64 bits. */
  get lastRetval(): bigint {
    return (BigInt(this.engine.retHi >>> 0) << 32n) | BigInt(this.engine.retLo >>> 0);
  }

  close(): void {
    if (this.ctx) this.sys.runtime.mem.release(this.ctx);
    this.ctx = 0;
  }
}
