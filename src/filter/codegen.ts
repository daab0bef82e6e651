/**
 * Code generation: a pcap-filter syntax tree to a block graph (blocks.ts)
 * with libpcap's meaning (gencode.c), for one link type. The tree is walked
 * in source order because `vlan` moves the network-layer offset for
 * everything generated after it, as it does in libpcap.
 *
 * What each primitive tests, in brief (offsets from the network header):
 * - `host`/`net` on IPv4: the IPv4 source (12) and destination (16), and
 *   without a protocol qualifier also ARP and RARP's addresses (14, 24);
 *   on IPv6 the four words at 8 and 24.
 * - `port`/`portrange`: IPv4 tcp/udp/sctp (all three without a qualifier)
 *   that is not a non-first fragment, the ports read after the IP header
 *   length (`ldxb 4*([nl]&0xf)`); IPv6 with that next header, at 40.
 * - `tcp`, `udp`, `sctp`, ...: the IPv4 protocol field, or the IPv6 next
 *   header, or a fragment header followed by it.
 * - `proto[i:n]`: the protocol's check, then the load (transport protocols
 *   as ports read them); arithmetic uses the scratch memory.
 */

import { BpfError } from '../errors.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG,
  BPF_OR, BPF_RSH, BPF_ST, BPF_SUB, BPF_W, BPF_X, BPF_XOR,
} from '../isa/opcodes.js';
import type { SockFilter } from '../cbpf/parse.js';
import type { Arith, Expr, Id, Qual } from './ast.js';
import { and, not, or, test } from './blocks.js';
import type { Frag } from './blocks.js';
import type { LinkLayer } from './link.js';
import { parseIpv6, printable } from './lexer.js';
import { IP_PROTOCOLS, SERVICES } from './names.js';

const ETH_IP = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;
const ETH_RARP = 0x8035;
const ETHERTYPES: ReadonlyMap<string, number> = new Map([
  ['ip', ETH_IP], ['ip6', ETH_IPV6], ['arp', ETH_ARP], ['rarp', ETH_RARP], ['atalk', 0x809b], ['aarp', 0x80f3],
  ['decnet', 0x6003], ['sca', 0x6007], ['lat', 0x6004], ['mopdl', 0x6001], ['moprc', 0x6002],
]);
/** IP protocol numbers of the protocol keywords */
const PROTO_NUMBERS: Record<string, number> = {
  tcp: 6, udp: 17, sctp: 132, icmp: 1, icmp6: 58, igmp: 2, igrp: 9, pim: 103, vrrp: 112, carp: 112, ah: 51, esp: 50,
};
const IPV4_ONLY = new Set(['icmp', 'igmp', 'igrp', 'vrrp', 'carp']);
const TRANSPORT_V4 = new Set(['tcp', 'udp', 'sctp', 'icmp', 'igmp', 'igrp', 'pim', 'vrrp', 'carp']);
const SIZE_CODE: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W };
const ALU_CODE: Record<string, number> = {
  '+': BPF_ADD, '-': BPF_SUB, '*': BPF_MUL, '/': BPF_DIV, '%': BPF_MOD, '&': BPF_AND, '|': BPF_OR, '^': BPF_XOR,
  '<<': BPF_LSH, '>>': BPF_RSH,
};

const ins = (code: number, k = 0): SockFilter => ({ code, jt: 0, jf: 0, k: k >>> 0 });

function err(col: number, msg: string): BpfError {
  return new BpfError('EINVAL', `${printable(msg)} (at column ${col})`);
}

/** An arithmetic value: the checks it needs first, and the statements that leave it in A (or a constant). */
interface Value {
  pre: Frag;
  stmts: SockFilter[] | null;
  konst: number;
}

export class CodeGen {
  /** bytes every link-layer and network offset has moved by (4 per `vlan` or MPLS label, 8 for PPPoE) */
  private shift = 0;
  /**
   * What says which network protocol follows, after the primitives so far:
   * the link layer; the MPLS label stack (the bottom-of-stack bit, then the
   * IP version nibble); or PPPoE's PPP protocol field at pppProtoOff.
   */
  private mode: 'link' | 'mpls' | 'ppp' = 'link';
  private pppProtoOff = 0;

  constructor(private readonly link: LinkLayer) {}

  private get nl(): number {
    return this.link.netOffset + this.shift;
  }

  /** `ld{b,h,} [off]`, optionally `and #mask`, then a jump */
  private cmp(size: 1 | 2 | 4, off: number, code: number, k: number, mask?: number): Frag {
    // a zero mask leaves nothing to test: libpcap's optimiser folds it away, load and all
    if (mask !== undefined && mask >>> 0 === 0) return code === BPF_JEQ ? (k & mask) === 0 : code === BPF_JGE ? k === 0 : false;
    const stmts = [ins(BPF_LD | SIZE_CODE[size]! | BPF_ABS, off)];
    if (mask !== undefined && mask >>> 0 !== 0xffffffff) stmts.push(ins(BPF_ALU | BPF_AND | BPF_K, mask));
    return test(stmts, BPF_JMP | code | BPF_K, mask === undefined ? k : (k & mask));
  }

  private eq(size: 1 | 2 | 4, off: number, k: number, mask?: number): Frag {
    return this.cmp(size, off, BPF_JEQ, k, mask);
  }

  /** The link layer carries this Ethernet type (libpcap's gen_linktype). */
  linkType(type: number, col: number): Frag {
    if (this.mode === 'mpls') {
      if (type !== ETH_IP && type !== ETH_IPV6) throw err(col, 'unsupported protocol over mpls');
      return and(this.eq(1, this.nl - 2, 1, 0x01), this.eq(1, this.nl, type === ETH_IP ? 0x40 : 0x60, 0xf0));
    }
    if (this.mode === 'ppp') {
      // PPP's numbers for IPv4, IPv6 and MPLS; other Ethernet types compare as they are, as libpcap does
      return this.eq(2, this.pppProtoOff, type === ETH_IP ? 0x21 : type === ETH_IPV6 ? 0x57 : type === 0x8847 ? 0x281 : type);
    }
    const l = this.link;
    switch (l.kind) {
      case 'ether':
        if (type <= 1500) return and(not(this.cmp(2, l.typeOffset! + this.shift, BPF_JGT, 1500)), this.eq(1, this.nl, type));
        return this.eq(2, l.typeOffset! + this.shift, type);
      case 'sll':
      case 'sll2':
        if (type <= 1500) throw err(col, `link-layer protocol ${type} (802.2 LLC) is not supported on ${l.name}`);
        return this.eq(2, l.typeOffset!, type);
      case 'raw':
        if (type === ETH_IP) return this.eq(1, 0, 0x40, 0xf0);
        if (type === ETH_IPV6) return this.eq(1, 0, 0x60, 0xf0);
        return false;
      case 'ipv4':
        return type === ETH_IP;
      case 'ipv6':
        return type === ETH_IPV6;
      case 'null': {
        const fam = (v: number): number => (l.littleEndian ? ((v << 24) | ((v & 0xff00) << 8)) >>> 0 : v);
        if (type === ETH_IP) return this.eq(4, 0, fam(2));
        // the AF_INET6 values of the BSDs (24), FreeBSD (28) and macOS (30), as libpcap checks them
        if (type === ETH_IPV6) return or(or(this.eq(4, 0, fam(30)), this.eq(4, 0, fam(24))), this.eq(4, 0, fam(28)));
        return false;
      }
    }
  }

  private ipProto(p: number): Frag {
    return this.eq(1, this.nl + 9, p);
  }

  private ip6Proto(p: number): Frag {
    return this.eq(1, this.nl + 6, p);
  }

  /** not a fragment other than the first */
  private notFrag(): Frag {
    return not(this.cmp(2, this.nl + 6, BPF_JSET, 0x1fff));
  }

  /** a load after the IPv4 header (its length from the header) */
  private tran4(size: 1 | 2 | 4, off: number, code: number, k: number): Frag {
    return test([ins(BPF_LDX | BPF_B | BPF_MSH, this.nl), ins(BPF_LD | SIZE_CODE[size]! | BPF_IND, this.nl + off)], BPF_JMP | code | BPF_K, k);
  }

  /** libpcap's gen_proto: protocol number v over `proto` (null: IPv4 or IPv6) */
  private proto(v: number, proto: string | null, col: number): Frag {
    switch (proto) {
      case null:
        return or(this.proto(v, 'ip', col), this.proto(v, 'ip6', col));
      case 'link':
        return this.linkType(v, col);
      case 'ip':
        if (v > 255) throw err(col, `protocol number ${v} is greater than 255`);
        return and(this.linkType(ETH_IP, col), this.ipProto(v));
      case 'ip6': {
        if (v > 255) throw err(col, `protocol number ${v} is greater than 255`);
        const frag = and(this.ip6Proto(44), this.eq(1, this.nl + 40, v));
        return and(this.linkType(ETH_IPV6, col), or(this.ip6Proto(v), frag));
      }
      default:
        throw err(col, `'${proto} proto' is not valid`);
    }
  }

  private abbrev(p: string, col: number): Frag {
    if (p in PROTO_NUMBERS) {
      const n = PROTO_NUMBERS[p]!;
      if (p === 'icmp6') return this.proto(n, 'ip6', col);
      return this.proto(n, IPV4_ONLY.has(p) ? 'ip' : null, col);
    }
    if (ETHERTYPES.has(p)) return this.linkType(ETHERTYPES.get(p)!, col);
    throw err(col, `'${p === 'link' ? 'ether' : p}' cannot be used as an abbreviation`);
  }

  private portAtoms(dir: Qual['dir'], atom: (off: number) => Frag, col: number): Frag {
    switch (dir) {
      case 'src': return atom(0);
      case 'dst': return atom(2);
      case 'src and dst': return and(atom(0), atom(2));
      case null:
      case 'src or dst': return or(atom(0), atom(2));
    }
    throw err(col, 'bad direction');
  }

  /** ports (lo..hi) of transport protocol p (null: tcp, udp or sctp), IPv6 then IPv4 as libpcap joins them */
  private ports(lo: number, hi: number, p: number | null, dir: Qual['dir'], range: boolean, col: number): Frag {
    const protos = (one: (n: number) => Frag): Frag => (p === null ? or(or(one(6), one(17)), one(132)) : one(p));
    const atom4 = (off: number): Frag => (range
      ? and(this.tran4(2, off, BPF_JGE, lo), not(this.tran4(2, off, BPF_JGT, hi)))
      : this.tran4(2, off, BPF_JEQ, lo));
    const atom6 = (off: number): Frag => (range
      ? and(this.cmp(2, this.nl + 40 + off, BPF_JGE, lo), not(this.cmp(2, this.nl + 40 + off, BPF_JGT, hi)))
      : this.eq(2, this.nl + 40 + off, lo));
    const v6 = and(this.linkType(ETH_IPV6, col), and(protos((n) => this.ip6Proto(n)), this.portAtoms(dir, atom6, col)));
    const v4 = and(this.linkType(ETH_IP, col), and(and(protos((n) => this.ipProto(n)), this.notFrag()), this.portAtoms(dir, atom4, col)));
    return or(v6, v4);
  }

  private hostop(addr: number, mask: number, dir: Qual['dir'], src: number, dst: number, col: number): Frag {
    const at = (off: number): Frag => this.eq(4, this.nl + off, addr, mask);
    switch (dir) {
      case 'src': return at(src);
      case 'dst': return at(dst);
      case 'src and dst': return and(at(src), at(dst));
      case null:
      case 'src or dst': return or(at(src), at(dst));
    }
    throw err(col, 'bad direction');
  }

  /** IPv4 host or net over ip, arp and rarp (libpcap's gen_host) */
  private host4(addr: number, mask: number, proto: string | null, dir: Qual['dir'], col: number): Frag {
    const one = (ethertype: number, src: number, dst: number): Frag => {
      const lt = this.linkType(ethertype, col);
      if (lt === false) return false;
      return and(lt, this.hostop(addr, mask, dir, src, dst, col));
    };
    switch (proto) {
      // inside MPLS only IPv4 is asked for
      case null: return this.mode === 'mpls' ? one(ETH_IP, 12, 16) : or(or(one(ETH_IP, 12, 16), one(ETH_ARP, 14, 24)), one(ETH_RARP, 14, 24));
      case 'ip': return one(ETH_IP, 12, 16);
      case 'arp': return one(ETH_ARP, 14, 24);
      case 'rarp': return one(ETH_RARP, 14, 24);
      default: throw err(col, `'${proto}' modifier applied to ${mask >>> 0 === 0xffffffff ? 'host' : 'net'}`);
    }
  }

  private host6(addr: Uint8Array, len: number, proto: string | null, dir: Qual['dir'], col: number): Frag {
    if (proto !== null && proto !== 'ip6') throw err(col, `'${proto}' modifier applied to ip6 ${len === 128 ? 'host' : 'net'}`);
    const words: [number, number][] = [];
    for (let w = 0; w < 4; w++) {
      const bits = Math.max(0, Math.min(32, len - 32 * w));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const v = ((addr[4 * w]! << 24) | (addr[4 * w + 1]! << 16) | (addr[4 * w + 2]! << 8) | addr[4 * w + 3]!) >>> 0;
      if ((v & ~mask) >>> 0 !== 0) throw err(col, 'non-network bits set in an IPv6 prefix');
      if (mask !== 0) words.push([v, mask]);
    }
    const at = (off: number): Frag => words.reduce<Frag>((acc, [v, m], i) => and(acc, this.eq(4, this.nl + off + 4 * i, v, m)), true);
    const which = (): Frag => {
      switch (dir) {
        case 'src': return at(8);
        case 'dst': return at(24);
        case 'src and dst': return and(at(8), at(24));
        default: return or(at(8), at(24));
      }
    };
    return and(this.linkType(ETH_IPV6, col), which());
  }

  private mac(text: string, dir: Qual['dir'], col: number): Frag {
    if (this.link.kind !== 'ether') throw err(col, `ethernet addresses are not supported on ${this.link.name}`);
    // after `pppoes` the link layer is PPP's, as libpcap sees it
    if (this.mode === 'ppp') throw err(col, 'ethernet addresses are not supported on PPP (after pppoes)');
    const hex = text.includes('.') ? text.replace(/\./g, '') : text.split(/[:-]/).map((b) => b.padStart(2, '0')).join('');
    const bytes = hex.match(/../g)!.map((b) => parseInt(b, 16));
    const hi = (bytes[0]! << 8) | bytes[1]!;
    const lo = ((bytes[2]! << 24) | (bytes[3]! << 16) | (bytes[4]! << 8) | bytes[5]!) >>> 0;
    const at = (off: number): Frag => and(this.eq(4, off + 2, lo), this.eq(2, off, hi));
    switch (dir) {
      case 'src': return at(6);
      case 'dst': return at(0);
      case 'src and dst': return and(at(6), at(0));
      default: return or(at(6), at(0));
    }
  }

  private portProto(proto: string | null, col: number, what: string): number | null {
    if (proto === null) return null;
    if (proto === 'tcp' || proto === 'udp' || proto === 'sctp') return PROTO_NUMBERS[proto]!;
    throw err(col, `illegal qualifier of '${what}': '${proto === 'link' ? 'ether' : proto}'`);
  }

  /** a port given by name or number, and the protocol it restricts to */
  private service(text: string, proto: string | null, col: number): [number, number | null] {
    if (/^[0-9]+$|^0[xX][0-9a-fA-F]+$/.test(text)) return [Number(text), this.portProto(proto, col, 'port')];
    const s = SERVICES.get(text.toLowerCase());
    if (s === undefined) throw err(col, `unknown port '${text}'`);
    const [port, sp] = s;
    const qp = this.portProto(proto, col, 'port');
    if (qp === null) return [port, sp === 'tcp' ? 6 : sp === 'udp' ? 17 : null];
    if ((sp === 'tcp' && qp !== 6) || (sp === 'udp' && qp !== 17)) throw err(col, `port '${text}' is ${sp}`);
    return [port, qp];
  }

  private ipv4(text: string, col: number): [number, number] {
    const parts = text.split('.').map((p) => (/^0[xX]/.test(p) ? parseInt(p, 16) : /^0[0-7]+$/.test(p) ? parseInt(p, 8) : Number(p)));
    if (parts.some((p) => !Number.isInteger(p) || p > 255)) throw err(col, `invalid IPv4 address '${text}'`);
    let v = 0;
    for (const p of parts) v = ((v << 8) | p) >>> 0;
    return [v, parts.length * 8];
  }

  private prim(q: Qual, id: Id, col: number): Frag {
    const addr = q.addr;
    if (addr === 'port' || addr === 'portrange') {
      const range = addr === 'portrange';
      if (id.kind === 'num') {
        if (id.value > 65535) throw err(col, `illegal port number ${id.value} > 65535`);
        return this.ports(id.value, id.value, this.portProto(q.proto, col, addr), q.dir, range, col);
      }
      if (id.kind !== 'name') throw err(col, `'${addr}' qualifier applied to an address`);
      if (range) {
        const m = /^([^-]+)-([^-]+)$/.exec(id.text);
        const [a, pa] = this.service(m ? m[1]! : id.text, q.proto, col);
        const [b, pb] = m ? this.service(m[2]!, q.proto, col) : [a, pa];
        if (a > 65535 || b > 65535) throw err(col, `illegal port number ${Math.max(a, b)} > 65535`);
        return this.ports(Math.min(a, b), Math.max(a, b), pa ?? pb, q.dir, true, col);
      }
      const [port, p] = this.service(id.text, q.proto, col);
      if (port > 65535) throw err(col, `illegal port number ${port} > 65535`);
      return this.ports(port, port, p, q.dir, false, col);
    }
    if (addr === 'proto') {
      let v: number;
      if (id.kind === 'num') v = id.value;
      else if (id.kind === 'name') {
        const table = q.proto === 'link' ? ETHERTYPES : IP_PROTOCOLS;
        const found = table.get(id.text.toLowerCase());
        if (found === undefined) throw err(col, `unknown ${q.proto === 'link' ? 'ether' : 'ip'} proto '${id.text}'`);
        v = found;
      } else throw err(col, `'proto' qualifier applied to an address`);
      return this.proto(v, q.proto, col);
    }
    // host, net or no address qualifier
    if (q.proto === 'link' || id.kind === 'mac') {
      if (id.kind !== 'mac') throw err(col, 'illegal link layer address');
      if (q.proto !== 'link' && q.proto !== null) throw err(col, `ethernet address used in non-ether expression`);
      if (q.proto === null) throw err(col, 'ethernet address used in non-ether expression');
      if (addr === 'net') throw err(col, "'net' qualifier applied to an ethernet address");
      return this.mac(id.text, q.dir, col);
    }
    switch (id.kind) {
      case 'num': {
        let v = id.value;
        let mask = 0xffffffff;
        if (addr === 'net') {
          while (v !== 0 && (v & 0xff000000) === 0) {
            v = (v << 8) >>> 0;
            mask = (mask << 8) >>> 0;
          }
        }
        return this.host4(v, mask, q.proto, q.dir, col);
      }
      case 'ipv4': {
        const [v, bits] = this.ipv4(id.text, col);
        const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
        return this.host4(bits === 32 ? v : (v << (32 - bits)) >>> 0, mask, q.proto, q.dir, col);
      }
      case 'ipv4/len':
      case 'ipv4 mask': {
        if (addr !== 'net') throw err(col, 'mask syntax for networks only');
        const [raw, bits] = this.ipv4(id.text, col);
        const v = bits === 32 ? raw : (raw << (32 - bits)) >>> 0;
        let mask: number;
        if (id.kind === 'ipv4/len') {
          if (id.len > 32) throw err(col, `mask length must be <= 32, got ${id.len}`);
          mask = id.len === 0 ? 0 : (0xffffffff << (32 - id.len)) >>> 0;
        } else {
          const [m, mbits] = this.ipv4(id.mask, col);
          mask = mbits === 32 ? m : (m << (32 - mbits)) >>> 0;
        }
        if ((v & ~mask) >>> 0 !== 0) throw err(col, `non-network bits set in "${id.text}${id.kind === 'ipv4/len' ? `/${id.len}` : ` mask ${id.mask}`}"`);
        return this.host4(v, mask, q.proto, q.dir, col);
      }
      case 'ipv6': {
        const bytes = parseIpv6(id.text);
        if (bytes === null) throw err(col, `invalid IPv6 address '${id.text}'`);
        if (id.len > 128) throw err(col, `mask length must be <= 128, got ${id.len}`);
        if (id.len !== 128 && addr !== 'net') throw err(col, 'mask syntax for networks only');
        return this.host6(bytes, id.len, q.proto, q.dir, col);
      }
      case 'name':
        throw err(col, `'${id.text}' is not an address or a number (host names are not looked up)`);
    }
    throw err(col, 'unexpected operand');
  }

  // ---- arithmetic ----

  private load(e: Extract<Arith, { type: 'load' }>, scratch: number): Value {
    const sizeCode = SIZE_CODE[e.size]!;
    const idx = this.arith(e.index, scratch);
    const col = e.col;
    let pre: Frag;
    let base: number;
    let tran = false;
    if (e.proto === 'link') {
      // the link header starts the packet on every link type (on raw IP it is empty: ether[0] is the IP header's);
      // after `pppoes` it is the PPP header, at the protocol field
      pre = true;
      base = this.mode === 'ppp' ? this.pppProtoOff : 0;
    } else if (ETHERTYPES.has(e.proto)) {
      pre = this.linkType(ETHERTYPES.get(e.proto)!, col);
      base = this.nl;
    } else if (TRANSPORT_V4.has(e.proto)) {
      pre = and(and(this.linkType(ETH_IP, col), this.ipProto(PROTO_NUMBERS[e.proto]!)), this.notFrag());
      base = this.nl;
      tran = true;
    } else if (e.proto === 'icmp6') {
      pre = and(this.linkType(ETH_IPV6, col), this.ip6Proto(58));
      base = this.nl + 40;
    } else {
      throw err(col, `'${e.proto}' does not support byte tests`);
    }
    const stmts: SockFilter[] = [];
    if (idx.stmts === null) {
      if (tran) stmts.push(ins(BPF_LDX | BPF_B | BPF_MSH, this.nl), ins(BPF_LD | sizeCode | BPF_IND, base + idx.konst));
      else stmts.push(ins(BPF_LD | sizeCode | BPF_ABS, base + idx.konst));
    } else {
      stmts.push(...idx.stmts);
      if (tran) stmts.push(ins(BPF_LDX | BPF_B | BPF_MSH, this.nl), ins(BPF_ALU | BPF_ADD | BPF_X));
      stmts.push(ins(BPF_MISC_TAX), ins(BPF_LD | sizeCode | BPF_IND, base));
    }
    return { pre: and(idx.pre, pre), stmts, konst: 0 };
  }

  private arith(e: Arith, scratch: number): Value {
    switch (e.type) {
      case 'num':
        return { pre: true, stmts: null, konst: e.value >>> 0 };
      case 'len':
        return { pre: true, stmts: [ins(BPF_LD | BPF_W | BPF_LEN)], konst: 0 };
      case 'load':
        return this.load(e, scratch);
      case 'neg': {
        const v = this.arith(e.expr, scratch);
        if (v.stmts === null) return { ...v, konst: (-v.konst) >>> 0 };
        return { pre: v.pre, stmts: [...v.stmts, ins(BPF_ALU | BPF_NEG)], konst: 0 };
      }
      case 'bin': {
        const op = ALU_CODE[e.op]!;
        const r = this.arith(e.right, scratch);
        if (r.stmts === null && r.konst === 0 && (op === BPF_DIV || op === BPF_MOD)) {
          throw err(e.col, op === BPF_DIV ? 'division by zero' : 'modulus by zero');
        }
        const l = this.arith(e.left, scratch + 1);
        const pre = and(l.pre, r.pre);
        if (l.stmts === null && r.stmts === null) return { pre, stmts: null, konst: fold(op, l.konst, r.konst) };
        const lstmts = l.stmts ?? [ins(BPF_LD | BPF_IMM, l.konst)];
        if (r.stmts === null) return { pre, stmts: [...lstmts, ins(BPF_ALU | op | BPF_K, r.konst)], konst: 0 };
        return {
          pre,
          stmts: [...r.stmts, ins(BPF_ST, scratch), ...lstmts, ins(BPF_LDX | BPF_MEM, scratch), ins(BPF_ALU | op | BPF_X)],
          konst: 0,
        };
      }
    }
  }

  private relation(e: Extract<Expr, { type: 'rel' }>): Frag {
    const l = this.arith(e.left, 1);
    const r = this.arith(e.right, 0);
    const invert = e.op === '<=' || e.op === '<' || e.op === '!=';
    const code = e.op === '>' || e.op === '<=' ? BPF_JGT : e.op === '>=' || e.op === '<' ? BPF_JGE : BPF_JEQ;
    const pre = and(l.pre, r.pre);
    let cmp: Frag;
    if (l.stmts === null && r.stmts === null) {
      const a = l.konst;
      const b = r.konst;
      cmp = code === BPF_JGT ? a > b : code === BPF_JGE ? a >= b : a === b;
    } else if (r.stmts === null) {
      cmp = test(l.stmts!, BPF_JMP | code | BPF_K, r.konst);
    } else {
      const lstmts = l.stmts ?? [ins(BPF_LD | BPF_IMM, l.konst)];
      cmp = test([...r.stmts, ins(BPF_ST, 0), ...lstmts, ins(BPF_LDX | BPF_MEM, 0)], BPF_JMP | code | BPF_X, 0);
    }
    return and(pre, invert ? not(cmp) : cmp);
  }

  gen(e: Expr): Frag {
    switch (e.type) {
      case 'true': return true;
      case 'and': {
        const a = this.gen(e.left);
        return and(a, this.gen(e.right));
      }
      case 'or': {
        const a = this.gen(e.left);
        return or(a, this.gen(e.right));
      }
      case 'not': return not(this.gen(e.expr));
      case 'prim': return this.prim(e.q, e.id, e.col);
      case 'proto': return this.abbrev(e.proto, e.col);
      case 'rel': return this.relation(e);
      case 'less': return not(test([ins(BPF_LD | BPF_W | BPF_LEN)], BPF_JMP | BPF_JGT | BPF_K, e.value));
      case 'greater': return test([ins(BPF_LD | BPF_W | BPF_LEN)], BPF_JMP | BPF_JGE | BPF_K, e.value);
      case 'broadcast':
      case 'multicast': return this.cast(e.type, e.proto, e.col);
      case 'vlan': return this.vlan(e.id, e.col);
      case 'mpls': return this.mpls(e.label, e.col);
      case 'pppoes': return this.pppoes(e.session, e.col);
      // PPPoE discovery: only the Ethernet type, no offsets move
      case 'pppoed': return this.linkType(0x8863, e.col);
    }
  }

  private cast(kind: 'broadcast' | 'multicast', proto: string | null, col: number): Frag {
    if (proto === null || proto === 'link') {
      if (this.link.kind !== 'ether') throw err(col, `'${kind}' needs a link layer with addresses (not ${this.link.name})`);
      if (this.mode === 'ppp') throw err(col, `'${kind}' needs a link layer with addresses (not PPP, after pppoes)`);
      if (kind === 'broadcast') return and(this.eq(4, 2, 0xffffffff), this.eq(2, 0, 0xffff));
      return this.cmp(1, 0, BPF_JSET, 1);
    }
    if (proto === 'ip') {
      const lt = this.linkType(ETH_IP, col);
      if (kind === 'broadcast') return and(lt, or(this.eq(4, this.nl + 16, 0), this.eq(4, this.nl + 16, 0xffffffff)));
      return and(lt, this.cmp(1, this.nl + 16, BPF_JGE, 224));
    }
    if (proto === 'ip6' && kind === 'multicast') return and(this.linkType(ETH_IPV6, col), this.eq(1, this.nl + 24, 255));
    throw err(col, kind === 'broadcast' ? 'only link-layer/IP broadcast filters supported' : 'only link-layer/IP/IPv6 multicast filters supported');
  }

  private mpls(label: number | null, col: number): Frag {
    if (this.link.kind !== 'ether') throw err(col, `no MPLS support for ${this.link.name}`);
    if (label !== null && label > 1048575) throw err(col, `MPLS label ${label} greater than maximum 1048575`);
    // a label after a label: the one before must not have been the bottom of the stack
    let f = this.mode === 'mpls' ? not(this.cmp(1, this.nl - 2, BPF_JSET, 1)) : this.linkType(0x8847, col);
    if (label !== null) f = and(f, this.eq(4, this.nl, (label << 12) >>> 0, 0xfffff000));
    this.shift += 4;
    this.mode = 'mpls';
    return f;
  }

  private pppoes(session: number | null, col: number): Frag {
    if (this.mode === 'mpls') throw err(col, 'unsupported protocol over mpls');
    if (session !== null && session > 65535) throw err(col, `PPPoE session number ${session} greater than maximum 65535`);
    let f = this.linkType(0x8864, col);
    if (session !== null) f = and(f, this.eq(4, this.nl, session, 0xffff));
    // the PPPoE header (6 bytes), then PPP's protocol field (2), then the network header
    this.pppProtoOff = this.nl + 6;
    this.shift += 8;
    this.mode = 'ppp';
    return f;
  }

  private vlan(id: number | null, col: number): Frag {
    if (this.mode === 'mpls') throw err(col, 'no VLAN match after MPLS');
    if (this.mode === 'ppp') throw err(col, 'no VLAN support for PPP');
    if (this.link.kind !== 'ether') throw err(col, `no VLAN support for ${this.link.name}`);
    if (id !== null && id > 4095) throw err(col, `VLAN tag ${id} greater than maximum 4095`);
    const off = this.link.typeOffset! + this.shift;
    let f = or(or(this.eq(2, off, 0x8100), this.eq(2, off, 0x88a8)), this.eq(2, off, 0x9100));
    if (id !== null) f = and(f, this.eq(2, off + 2, id, 0x0fff));
    this.shift += 4;
    return f;
  }
}

const BPF_MISC_TAX = 0x07;

function fold(op: number, a: number, b: number): number {
  switch (op) {
    case BPF_ADD: return (a + b) >>> 0;
    case BPF_SUB: return (a - b) >>> 0;
    case BPF_MUL: return Math.imul(a, b) >>> 0;
    case BPF_DIV: return Math.floor(a / b) >>> 0;
    case BPF_MOD: return (a % b) >>> 0;
    case BPF_AND: return (a & b) >>> 0;
    case BPF_OR: return (a | b) >>> 0;
    case BPF_XOR: return (a ^ b) >>> 0;
    case BPF_LSH: return b >= 32 ? 0 : (a << b) >>> 0;
    default: return b >= 32 ? 0 : a >>> b;
  }
}
