/**
 * A BTF-described value as bpftool shows it: `bpftool map dump` with BTF
 * prints each entry as JSON-like text (`"key": {"saddr": 167772161, ...}`),
 * and `bpftool -j map dump` adds `"formatted": {"key": ..., "value": ...}`
 * to each entry. Both come from one walk of the bytes (btfDump) into a tree
 * of tokens, then two writers: compact JSON (btfJson) and the plain text of
 * bpftool's pretty writer (btfText), which differ only in a few leaves.
 *
 * bpftool's rules, checked against bpftool 7.1 on a 6.18 kernel: ints by
 * size and signedness (%u, %d), wider or odd-sized ones and every bitfield
 * as hex (a string `"0x7"` in JSON, bare `0x7` in text, the raw bits
 * whatever the sign), _Bool as true/false, a char array as a string when
 * it is printable ASCII up to a NUL (else an array of numbers), enums by
 * name (an unknown value as a signed number), pointers as a decimal in JSON
 * and `%p` in text (`0xdead`, `(nil)`), an anonymous member under the name
 * "", a DATASEC as `{".data": [{"var": value}, ...]}`. Where bpftool 7.1
 * has no rule, it prints `(unsupported-kind` and stops the entry, which is
 * not JSON: tsbpf prints floats as numbers (and a long double as hex bytes)
 * instead.
 *
 * This is the view for people and for comparing with bpftool; the typed
 * value for programs is values.ts's codec.
 */

import { BpfError } from '../errors.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, escapeControls } from './btf.js';
import type { Btf, BtfType } from './btf.js';

/** A leaf written differently by the two writers: `json` in JSON, `text` in bpftool's plain text. */
export class BtfDumpLeaf {
  constructor(readonly json: string, readonly text: string) {}
}

/** An object with its members in order (names may repeat or be "", as bpftool prints them). */
export class BtfDumpObject {
  constructor(readonly members: [string, BtfDumpNode][]) {}
}

/** A node of a dumped value. */
export type BtfDumpNode = BtfDumpLeaf | BtfDumpObject | BtfDumpNode[];

/** Nodes one dump may make: bounds a hostile section's unions of unions. */
const MAX_NODES = 1 << 22;

const leaf = (s: string): BtfDumpLeaf => new BtfDumpLeaf(s, s);

const ASCII = new TextDecoder();

/** jsonw_string's quoting, which JSON.stringify matches for the strings bpftool makes (printable ASCII, names). */
const quoted = (s: string): string => JSON.stringify(s);

/** bitfields and 128-bit ints: hex of the raw bits, quoted in JSON. */
const hexLeaf = (x: bigint): BtfDumpLeaf => new BtfDumpLeaf(`"0x${x.toString(16)}"`, `0x${x.toString(16)}`);

function readBits(b: Uint8Array, byteAt: number, bitOffset: number, bits: number): bigint {
  const first = byteAt + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const n = (shift + bits + 7) >> 3;
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[first + i] ?? 0);
  return (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
}

function readUint(b: Uint8Array, at: number, size: number): bigint {
  let x = 0n;
  for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[at + i] ?? 0);
  return x;
}

class Dumper {
  private nodes = 0;

  constructor(private readonly btf: Btf, private readonly bytes: Uint8Array) {}

  private count(): void {
    if (++this.nodes > MAX_NODES) throw new BpfError('EINVAL', `a BTF value of more than ${MAX_NODES} fields`);
  }

  private need(at: number, size: number, id: number): void {
    if (at + size > this.bytes.length) {
      throw new BpfError('EINVAL', escapeControls(`BTF type ${id} (${this.btf.typeName(id)}) at byte ${at} (${size} bytes) runs past the ${this.bytes.length} bytes dumped`));
    }
  }

  /** bpftool's btf_dumper_do_type: `bitOffset` is a member's offset within its first byte (0-7). */
  node(id: number, at: number, bitOffset: number, depth: number): BtfDumpNode {
    this.count();
    if (depth > 64) throw new BpfError('EINVAL', `a BTF value nested more than 64 deep`);
    const t = this.btf.resolve(id);
    if (t === undefined) return leaf('"(unknown)"');
    switch (t.kind) {
      case 'int': return this.int(t, at, bitOffset);
      case 'ptr': {
        this.need(at, 8, id);
        const x = readUint(this.bytes, at, 8);
        return new BtfDumpLeaf(x.toString(), x === 0n ? '(nil)' : `0x${x.toString(16)}`);
      }
      case 'enum': case 'enum64': return this.enumValue(t, at);
      case 'float': return this.float(t.size, at, id);
      case 'array': {
        const size = this.btf.sizeOf(id);
        this.need(at, size, id);
        if (this.isStr(t, at)) {
          const end = this.bytes.indexOf(0, at);
          // printable ASCII only (isStr): UTF-8 decoding is the identity on it, and takes any length
          return leaf(quoted(ASCII.decode(this.bytes.subarray(at, end))));
        }
        const stride = t.nelems === 0 ? 0 : this.btf.sizeOf(t.type);
        const out: BtfDumpNode[] = [];
        for (let i = 0; i < t.nelems; i++) out.push(this.node(t.type, at + i * stride, 0, depth + 1));
        return out;
      }
      case 'struct': case 'union': {
        this.need(at, t.size, id);
        const members: [string, BtfDumpNode][] = [];
        for (const m of t.members) {
          const byte = at + (m.bitOffset >> 3);
          const bit = m.bitOffset & 7;
          if (m.bitfieldSize > 0) {
            this.count();
            members.push([m.name, hexLeaf(readBits(this.bytes, byte, bit, m.bitfieldSize))]);
          } else members.push([m.name, this.node(m.type, byte, bit, depth + 1)]);
        }
        return new BtfDumpObject(members);
      }
      case 'datasec': {
        const vars: BtfDumpNode[] = [];
        for (const v of t.vars) {
          const variable = this.btf.type(v.type);
          vars.push(new BtfDumpObject([[variable.name, this.node(v.type, at + v.offset, 0, depth + 1)]]));
        }
        return new BtfDumpObject([[t.name, vars]]);
      }
      default:
        throw new BpfError('EINVAL', escapeControls(`BTF type ${id} (${this.btf.typeName(id)}) has no values`));
    }
  }

  /** btf_dumper_int: whole ints by size and sign, bitfields and odd sizes as hex, 128 bits as hex. */
  private int(t: Extract<BtfType, { kind: 'int' }>, at: number, bitOffset: number): BtfDumpNode {
    this.need(at, t.size, t.id);
    const bits = t.bits;
    if (bitOffset !== 0 || t.bitOffset !== 0 || bits % 8 !== 0) return hexLeaf(readBits(this.bytes, at, bitOffset + t.bitOffset, bits));
    if (bits === 128) return hexLeaf(readUint(this.bytes, at, 16));
    const raw = readUint(this.bytes, at, bits / 8);
    if ((t.encoding & BTF_INT_BOOL) !== 0) return leaf(this.bytes[at] !== 0 ? 'true' : 'false');
    if ((t.encoding & BTF_INT_CHAR) !== 0) {
      const c = this.bytes[at]!;
      if (c >= 0x20 && c < 0x7f) return leaf(quoted(String.fromCharCode(c)));
      return new BtfDumpLeaf(`"\\u00${c.toString(16).padStart(2, '0')}"`, `0x${c.toString(16)}`);
    }
    if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) return hexLeaf(raw);
    const x = (t.encoding & BTF_INT_SIGNED) !== 0 ? BigInt.asIntN(bits, raw) : raw;
    return leaf(x.toString());
  }

  /** btf_dumper_enum: the value read signed at its size, the first name equal to it, else the number. */
  private enumValue(t: Extract<BtfType, { kind: 'enum' | 'enum64' }>, at: number): BtfDumpNode {
    this.need(at, t.size, t.id);
    const bits = t.size * 8;
    const raw = readUint(this.bytes, at, t.size);
    if (t.kind === 'enum') {
      const value = BigInt.asIntN(bits, raw);
      for (const e of t.values) if (BigInt.asIntN(32, e.value) === value) return leaf(quoted(e.name));
      return leaf(value.toString());
    }
    const value = t.signed ? BigInt.asIntN(bits, raw) : raw;
    for (const e of t.values) if (e.value === value) return leaf(quoted(e.name));
    return leaf(value.toString());
  }

  private float(size: number, at: number, id: number): BtfDumpNode {
    this.need(at, size, id);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + at, size);
    if (size === 4 || size === 8) {
      const x = size === 4 ? v.getFloat32(0, true) : v.getFloat64(0, true);
      // JSON has no NaN or Infinity: those as strings
      return Number.isFinite(x) ? leaf(String(x)) : new BtfDumpLeaf(quoted(String(x)), String(x));
    }
    return hexLeaf(readUint(this.bytes, at, size));
  }

  /** bpftool's is_str_array: 1-byte `char` (or BTF_INT_CHAR) elements, printable ASCII up to a NUL. */
  private isStr(t: Extract<BtfType, { kind: 'array' }>, at: number): boolean {
    if (t.nelems === 0) return false;
    const e = this.btf.resolve(t.type);
    if (e?.kind !== 'int' || e.size !== 1) return false;
    if ((e.encoding & BTF_INT_CHAR) === 0 && e.name !== 'char') return false;
    for (let i = 0; i < t.nelems; i++) {
      const c = this.bytes[at + i]!;
      if (c === 0) return true;
      if (c <= 0x1f || c >= 0x7f) return false;
    }
    return false;
  }
}

/** The value of type `typeId` in `bytes` (from its start) as bpftool walks it. */
export function btfDump(btf: Btf, typeId: number, bytes: Uint8Array): BtfDumpNode {
  return new Dumper(btf, bytes).node(typeId, 0, 0, 0);
}

/**
 * A section's variables as bpftool shows a DATASEC value: `{".rodata":
 * [{"port": 80}, ...]}`, each variable read at the offset given (a clang
 * object's DATASEC has 0 for all, libbpf places them by their symbols).
 */
export function btfDumpDatasec(btf: Btf, datasecId: number, vars: readonly { type: number; offset: number }[], bytes: Uint8Array): BtfDumpNode {
  const sec = btf.type(datasecId);
  const d = new Dumper(btf, bytes);
  return new BtfDumpObject([[sec.name, vars.map((v) => new BtfDumpObject([[btf.type(v.type).name, d.node(v.type, v.offset, 0, 1)]]))]]);
}

/** A dumped value as compact JSON, as `bpftool -j` prints it. */
export function btfJson(node: BtfDumpNode): string {
  if (node instanceof BtfDumpLeaf) return node.json;
  if (Array.isArray(node)) return `[${node.map(btfJson).join(',')}]`;
  return `{${node.members.map(([k, v]) => `${quoted(k)}:${btfJson(v)}`).join(',')}}`;
}

/**
 * A dumped value as bpftool's plain text (its JSON writer in pretty mode):
 * each member's name on a line of its own, indented four spaces a level,
 * array elements on one line, and the closing bracket on a line of its own
 * when something came before it. `depth`: the level the value starts at.
 */
export function btfText(node: BtfDumpNode, depth = 0): string {
  const w = new PrettyWriter(depth);
  w.value(node);
  return w.out;
}

/** bpftool's json_writer in pretty mode: a separator before each value, end-of-line before each name. */
export class PrettyWriter {
  out = '';
  private sep = '';
  constructor(private depth = 0) {}

  private eol(): void {
    this.out += `\n${'    '.repeat(this.depth)}`;
  }

  private eor(): void {
    this.out += this.sep;
    this.sep = ',';
  }

  begin(c: '{' | '['): void {
    this.eor();
    this.out += c;
    this.depth++;
    this.sep = '';
  }

  end(c: '}' | ']'): void {
    this.depth--;
    if (this.sep !== '') this.eol();
    this.out += c;
    this.sep = ',';
  }

  name(n: string): void {
    this.eor();
    this.eol();
    this.sep = '';
    this.out += `${quoted(n)}: `;
  }

  raw(s: string): void {
    this.eor();
    this.out += s;
  }

  value(node: BtfDumpNode): void {
    if (node instanceof BtfDumpLeaf) this.raw(node.text);
    else if (Array.isArray(node)) {
      this.begin('[');
      for (const x of node) this.value(x);
      this.end(']');
    } else {
      this.begin('{');
      for (const [k, v] of node.members) {
        this.name(k);
        this.value(v);
      }
      this.end('}');
    }
  }
}
