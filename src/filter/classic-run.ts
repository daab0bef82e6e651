/**
 * A reference interpreter of classic BPF over a packet, as a socket filter
 * runs it (libpcap's bpf_filter): A, X and 16 scratch cells start at 0, an
 * out-of-bounds load (offsets are unsigned, X + k never wraps) or a
 * division by zero ends the program with 0. It exists to compare
 * programs' verdicts (ours against tcpdump -dd's) exactly and without a
 * kernel; the engines run the converted eBPF.
 */

import { BpfError } from '../errors.js';
import type { SockFilter } from '../cbpf/parse.js';

/** The value `prog` returns for `pkt` (wirelen defaults to its length, for `len`). */
export function runClassic(prog: readonly SockFilter[], pkt: Uint8Array, wirelen = pkt.length): number {
  let a = 0;
  let x = 0;
  const m = new Uint32Array(16);
  const load = (off: number, size: number): number | null => {
    if (off < 0 || off + size > pkt.length) return null;
    if (size === 1) return pkt[off]!;
    if (size === 2) return (pkt[off]! << 8) | pkt[off + 1]!;
    return ((pkt[off]! << 24) | (pkt[off + 1]! << 16) | (pkt[off + 2]! << 8) | pkt[off + 3]!) >>> 0;
  };
  for (let pc = 0, steps = 0; pc < prog.length && steps < 1_000_000; pc++, steps++) {
    const p = prog[pc]!;
    const k = p.k >>> 0;
    const size = [4, 2, 1, 0][(p.code >> 3) & 3]!;
    switch (p.code & 0x07) {
      case 0x00: { // ld
        const mode = p.code & 0xe0;
        if (mode === 0x00) a = k;
        else if (mode === 0x20 || mode === 0x40) {
          // X + k does not wrap: past 2^32 it is past the end, as libpcap's bpf_filter checks it
          const v = load(mode === 0x20 ? k : x + k, size);
          if (v === null) return 0;
          a = v;
        } else if (mode === 0x60) a = m[k & 15]!;
        else if (mode === 0x80) a = wirelen >>> 0;
        else throw new BpfError('EINVAL', `insn ${pc}: bad ld mode 0x${p.code.toString(16)}`);
        break;
      }
      case 0x01: { // ldx
        const mode = p.code & 0xe0;
        if (mode === 0x00) x = k;
        else if (mode === 0x60) x = m[k & 15]!;
        else if (mode === 0x80) x = wirelen >>> 0;
        else if (mode === 0xa0) {
          const v = load(k, 1);
          if (v === null) return 0;
          x = (v & 0xf) * 4;
        } else throw new BpfError('EINVAL', `insn ${pc}: bad ldx mode 0x${p.code.toString(16)}`);
        break;
      }
      case 0x02: m[k & 15] = a; break;
      case 0x03: m[k & 15] = x; break;
      case 0x04: { // alu
        const src = (p.code & 0x08) ? x : k;
        switch (p.code & 0xf0) {
          case 0x00: a = (a + src) >>> 0; break;
          case 0x10: a = (a - src) >>> 0; break;
          case 0x20: a = Math.imul(a, src) >>> 0; break;
          case 0x30: if (src === 0) return 0; a = Math.floor(a / src) >>> 0; break;
          case 0x40: a = (a | src) >>> 0; break;
          case 0x50: a = (a & src) >>> 0; break;
          case 0x60: a = src >= 32 ? 0 : (a << src) >>> 0; break;
          case 0x70: a = src >= 32 ? 0 : a >>> src; break;
          case 0x80: a = (-a) >>> 0; break;
          case 0x90: if (src === 0) return 0; a = (a % src) >>> 0; break;
          case 0xa0: a = (a ^ src) >>> 0; break;
          default: throw new BpfError('EINVAL', `insn ${pc}: bad alu op 0x${p.code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // jmp
        const op = p.code & 0xf0;
        if (op === 0x00) { pc += k; break; }
        const src = (p.code & 0x08) ? x : k;
        const t = op === 0x10 ? a === src : op === 0x20 ? a > src : op === 0x30 ? a >= src : op === 0x40 ? (a & src) !== 0 : null;
        if (t === null) throw new BpfError('EINVAL', `insn ${pc}: bad jump 0x${p.code.toString(16)}`);
        pc += t ? p.jt : p.jf;
        break;
      }
      case 0x06: // ret
        return ((p.code & 0x18) === 0x10 ? a : k) >>> 0;
      default: // misc
        if ((p.code & 0xf8) === 0x00) x = a;
        else a = x;
    }
  }
  return 0;
}
