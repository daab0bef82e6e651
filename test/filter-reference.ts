/**
 * A reference evaluator of pcap-filter syntax trees over Ethernet frames,
 * written apart from the compiler: it evaluates every primitive eagerly, in
 * source order (so `vlan` shifts what follows as it does at compile time),
 * straight from the bytes. It reports `null` when any load it made was past
 * the end of the frame (or a division by zero happened): a classic program
 * stops there with 0, at a point that depends on its instruction order, so
 * only frames where nothing went out of bounds have one right answer. On the
 * others the compiled program may say anything, and tests skip them.
 */
import type { Arith, Expr, Id, Qual } from '../src/filter/ast.js';
import { parseIpv6 } from '../src/filter/lexer.js';
import { IP_PROTOCOLS, SERVICES } from '../src/filter/names.js';

class Oob extends Error {}

const NUM: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmp6: 58, igmp: 2, igrp: 9, pim: 103, vrrp: 112, carp: 112, ah: 51, esp: 50 };
const ETYPE: Record<string, number> = { ip: 0x800, ip6: 0x86dd, arp: 0x806, rarp: 0x8035 };

export function referenceVerdict(e: Expr, pkt: Uint8Array): boolean | null {
  let shift = 0;
  let oob = false;
  const ld = (off: number, size: number): number => {
    if (off < 0 || off + size > pkt.length) {
      oob = true;
      return 0;
    }
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + pkt[off + i]!;
    return v;
  };
  let mode: 'link' | 'mpls' | 'ppp' = 'link';
  let pppAt = 0;
  const nl = (): number => 14 + shift;
  const etype = (t: number): boolean => {
    if (mode === 'mpls') {
      const bos = (ld(nl() - 2, 1) & 1) === 1;
      const ver = (ld(nl(), 1) & 0xf0) === (t === 0x800 ? 0x40 : 0x60);
      return bos && ver;
    }
    if (mode === 'ppp') return ld(pppAt, 2) === (t === 0x800 ? 0x21 : t === 0x86dd ? 0x57 : t === 0x8847 ? 0x281 : t);
    return t <= 1500 ? ld(12 + shift, 2) <= 1500 && ld(nl(), 1) === t : ld(12 + shift, 2) === t;
  };
  const ipHlen = (): number => (ld(nl(), 1) & 0xf) * 4;
  const proto = (v: number, p: string | null): boolean => {
    if (p === null) {
      const a = proto(v, 'ip');
      const b = proto(v, 'ip6');
      return a || b;
    }
    if (p === 'link') return etype(v);
    if (p === 'ip') return [etype(0x800), ld(nl() + 9, 1) === v].every(Boolean);
    const lt = etype(0x86dd);
    const direct = ld(nl() + 6, 1) === v;
    const frag = ld(nl() + 6, 1) === 44 && ld(nl() + 40, 1) === v;
    return lt && (direct || frag);
  };
  const dirOf = (dir: Qual['dir'], src: () => boolean, dst: () => boolean): boolean => {
    const a = dir === 'dst' ? true : src();
    const b = dir === 'src' ? true : dst();
    if (dir === 'src') return a;
    if (dir === 'dst') return b;
    return dir === 'src and dst' ? a && b : a || b;
  };
  const ports = (lo: number, hi: number, p: number | null, dir: Qual['dir']): boolean => {
    const protos = p === null ? [6, 17, 132] : [p];
    const inRange = (v: number): boolean => v >= lo && v <= hi;
    const v6lt = etype(0x86dd);
    const v6p = protos.map((n) => ld(nl() + 6, 1) === n).some(Boolean);
    const v6 = v6lt && v6p && dirOf(dir, () => inRange(ld(nl() + 40, 2)), () => inRange(ld(nl() + 42, 2)));
    const v4lt = etype(0x800);
    const v4p = protos.map((n) => ld(nl() + 9, 1) === n).some(Boolean);
    const nofrag = (ld(nl() + 6, 2) & 0x1fff) === 0;
    const x = ipHlen();
    const v4 = v4lt && v4p && nofrag && dirOf(dir, () => inRange(ld(nl() + x, 2)), () => inRange(ld(nl() + x + 2, 2)));
    return v6 || v4;
  };
  const host4 = (addr: number, mask: number, p: string | null, dir: Qual['dir']): boolean => {
    const m = (off: number): boolean => ((ld(nl() + off, 4) & mask) >>> 0) === ((addr & mask) >>> 0);
    const one = (t: number, s: number, d: number): boolean => {
      const lt = etype(t);
      const h = dirOf(dir, () => m(s), () => m(d));
      return lt && h;
    };
    if (p === 'ip') return one(0x800, 12, 16);
    if (p === 'arp') return one(0x806, 14, 24);
    if (p === 'rarp') return one(0x8035, 14, 24);
    if (mode === 'mpls') return one(0x800, 12, 16);
    return [one(0x800, 12, 16), one(0x806, 14, 24), one(0x8035, 14, 24)].some(Boolean);
  };
  const v4 = (text: string): [number, number] => {
    const parts = text.split('.').map(Number);
    return [parts.reduce((a, b) => a * 256 + b, 0), parts.length * 8];
  };
  const prim = (q: Qual, id: Id): boolean => {
    if (q.addr === 'port' || q.addr === 'portrange') {
      const p = q.proto === null ? null : NUM[q.proto]!;
      if (id.kind === 'num') return ports(id.value, id.value, p, q.dir);
      const [a, b] = id.kind === 'name' && /^\d+-\d+$/.test(id.text) ? id.text.split('-').map(Number) as [number, number] : [0, 0];
      if (id.kind === 'name' && SERVICES.has(id.text)) {
        const [port, sp] = SERVICES.get(id.text)!;
        return ports(port, port, p ?? (sp === 'tcp' ? 6 : sp === 'udp' ? 17 : null), q.dir);
      }
      return ports(Math.min(a, b), Math.max(a, b), p, q.dir);
    }
    if (q.addr === 'proto') {
      const v = id.kind === 'num' ? id.value : q.proto === 'link' ? ETYPE[(id as { text: string }).text]! : IP_PROTOCOLS.get((id as { text: string }).text)!;
      return proto(v, q.proto);
    }
    if (id.kind === 'mac') {
      const hex = id.text.includes('.') ? id.text.replace(/\./g, '') : id.text.split(/[:-]/).map((b) => b.padStart(2, '0')).join('');
      const at = (off: number): boolean => {
        const w = ld(off + 2, 4) === parseInt(hex.slice(4), 16);
        const h = ld(off, 2) === parseInt(hex.slice(0, 4), 16);
        return w && h;
      };
      return dirOf(q.dir, () => at(6), () => at(0));
    }
    if (id.kind === 'num') {
      let v = id.value;
      let mask = 0xffffffff;
      if (q.addr === 'net') while (v !== 0 && v < 0x1000000) { v *= 256; mask = (mask * 256) % 2 ** 32; }
      return host4(v, mask, q.proto, q.dir);
    }
    if (id.kind === 'ipv4' || id.kind === 'ipv4/len' || id.kind === 'ipv4 mask') {
      const [raw, bits] = v4(id.text);
      const v = (raw * 2 ** (32 - bits)) % 2 ** 32;
      let mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if (id.kind === 'ipv4/len') mask = id.len === 0 ? 0 : (0xffffffff << (32 - id.len)) >>> 0;
      if (id.kind === 'ipv4 mask') mask = v4(id.mask)[0];
      return host4(v, mask, q.proto, q.dir);
    }
    if (id.kind === 'ipv6') {
      const a = parseIpv6(id.text)!;
      const lt = etype(0x86dd);
      // as libpcap reads them: 32-bit words, those the prefix does not reach left out
      const at = (off: number): boolean => {
        let ok = true;
        for (let w = 0; w < 4; w++) {
          const bits = Math.max(0, Math.min(32, id.len - 32 * w));
          if (bits === 0) continue;
          const m = (0xffffffff << (32 - bits)) >>> 0;
          const want = ((a[4 * w]! << 24) | (a[4 * w + 1]! << 16) | (a[4 * w + 2]! << 8) | a[4 * w + 3]!) >>> 0;
          if (((ld(nl() + off + 4 * w, 4) & m) >>> 0) !== ((want & m) >>> 0)) ok = false;
        }
        return ok;
      };
      return lt && dirOf(q.dir, () => at(8), () => at(24));
    }
    throw new Error(`reference: ${id.kind}`);
  };
  let divzero = false;
  const arith = (a: Arith): number => {
    switch (a.type) {
      case 'num': return a.value >>> 0;
      case 'len': return pkt.length;
      case 'neg': {
        const v = arith(a.expr);
        return Number.isNaN(v) ? v : (-v) >>> 0;
      }
      case 'bin': {
        const r = arith(a.right);
        const l = arith(a.left);
        // a failed protocol check carries through the arithmetic
        if (Number.isNaN(l) || Number.isNaN(r)) return Number.NaN;
        switch (a.op) {
          case '+': return (l + r) >>> 0;
          case '-': return (l - r) >>> 0;
          case '*': return Math.imul(l, r) >>> 0;
          case '/': if (r === 0) { divzero = true; return 0; } return Math.floor(l / r);
          case '%': if (r === 0) { divzero = true; return 0; } return l % r;
          case '&': return (l & r) >>> 0;
          case '|': return (l | r) >>> 0;
          case '^': return (l ^ r) >>> 0;
          case '<<': return r >= 32 ? 0 : (l << r) >>> 0;
          case '>>': return r >= 32 ? 0 : l >>> r;
        }
        throw new Error('op');
      }
      case 'load': {
        const idx = arith(a.index);
        let ok = true;
        let base: number;
        if (a.proto === 'link') base = mode === 'ppp' ? pppAt : 0;
        else if (a.proto in ETYPE) {
          ok = etype(ETYPE[a.proto]!);
          base = nl();
        } else if (a.proto === 'icmp6') {
          ok = [etype(0x86dd), ld(nl() + 6, 1) === 58].every(Boolean);
          base = nl() + 40;
        } else {
          ok = [etype(0x800), ld(nl() + 9, 1) === NUM[a.proto]!, (ld(nl() + 6, 2) & 0x1fff) === 0].every(Boolean);
          base = nl() + ipHlen();
        }
        const v = ld((base + idx) >>> 0, a.size);
        return ok ? v : Number.NaN;
      }
    }
  };
  const ev = (x: Expr): boolean => {
    switch (x.type) {
      case 'true': return true;
      case 'and': { const l = ev(x.left); const r = ev(x.right); return l && r; }
      case 'or': { const l = ev(x.left); const r = ev(x.right); return l || r; }
      case 'not': return !ev(x.expr);
      case 'prim': return prim(x.q, x.id);
      case 'proto': {
        const p = x.proto;
        if (p in ETYPE) return etype(ETYPE[p]!);
        if (p === 'icmp6') return proto(58, 'ip6');
        return proto(NUM[p]!, ['icmp', 'igmp', 'igrp', 'vrrp', 'carp'].includes(p) ? 'ip' : null);
      }
      case 'rel': {
        const l = arith(x.left);
        const r = arith(x.right);
        // NaN: a protocol check of a load failed, which makes the relation false whatever its operator
        if (Number.isNaN(l) || Number.isNaN(r)) return false;
        switch (x.op) {
          case '=': return l === r;
          case '!=': return l !== r;
          case '>': return l > r;
          case '>=': return l >= r;
          case '<': return l < r;
          case '<=': return l <= r;
        }
        throw new Error('rel');
      }
      case 'less': return pkt.length <= x.value;
      case 'greater': return pkt.length >= x.value;
      case 'broadcast':
        if (x.proto === 'ip') { const lt = etype(0x800); const d = ld(nl() + 16, 4); return lt && (d === 0 || d === 0xffffffff); }
        { const w = ld(2, 4); const h = ld(0, 2); return w === 0xffffffff && h === 0xffff; }
      case 'multicast':
        if (x.proto === 'ip') { const lt = etype(0x800); return lt && ld(nl() + 16, 1) >= 224; }
        if (x.proto === 'ip6') { const lt = etype(0x86dd); return lt && ld(nl() + 24, 1) === 255; }
        return (ld(0, 1) & 1) !== 0;
      case 'mpls': {
        const first = mode === 'mpls' ? (ld(nl() - 2, 1) & 1) === 0 : etype(0x8847);
        const label = x.label === null ? true : ((ld(nl(), 4) & 0xfffff000) >>> 0) === x.label * 4096;
        shift += 4;
        mode = 'mpls';
        return first && label;
      }
      case 'pppoed': return etype(0x8863);
      case 'pppoes': {
        const is = etype(0x8864);
        const session = x.session === null ? true : (ld(nl(), 4) & 0xffff) === x.session;
        pppAt = nl() + 6;
        shift += 8;
        mode = 'ppp';
        return is && session;
      }
      case 'vlan': {
        const t = ld(12 + shift, 2);
        const tag = t === 0x8100 || t === 0x88a8 || t === 0x9100;
        const id = x.id === null ? true : (ld(14 + shift, 2) & 0xfff) === x.id;
        shift += 4;
        return tag && id;
      }
    }
  };
  const v = ev(e);
  return oob || divzero ? null : v;
}
