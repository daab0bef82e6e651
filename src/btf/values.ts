/**
 * BTF-described values as plain JavaScript and back: `btfCodec(btf, id)`
 * turns the bytes of a value of type `id` into a JavaScript value and a
 * JavaScript value into those bytes, byte-exact both ways (for bytes whose
 * padding is zero). It is what typed maps and global variables are made of.
 *
 * The mapping, by kind (typedefs, qualifiers, type tags and a variable's
 * VAR resolved first):
 * - int: a number when the value has at most 32 bits, else a bigint (64- and
 *   128-bit ints, pointers); `bool` (BTF_INT_BOOL) true/false (a byte other
 *   than 0 or 1 stays a number, so it survives a round trip); a lone char a
 *   number.
 * - bitfields (of ints or enums): as their type, their width deciding number
 *   or bigint, sign-extended when the type is signed.
 * - enum, enum64: the first name of the value; a value with no name stays a
 *   number (a bigint for 8-byte enums). Encoding takes a name or a number.
 * - struct, union: an object by member name; an anonymous struct or union
 *   member's fields are the parent's (flattened, as C names them); unnamed
 *   bitfields are padding. Encoding a struct needs every member; a union
 *   takes any of its members (decoding gives them all, all from the same
 *   bytes, so writing them back in order gives the same bytes). A member
 *   whose value is `undefined` is absent.
 * - array: a JavaScript array; a char array (elements `char` or
 *   BTF_INT_CHAR, as bpftool tells a string) is a string when its bytes are
 *   UTF-8 text followed only by NULs, else an array of numbers, as bpftool
 *   falls back to an array. A string encodes NUL-padded; it may fill the
 *   whole array (no terminator), as C allows.
 * - float: a number (half, single, double); 12- and 16-byte long doubles
 *   stay a Uint8Array of their bytes.
 * - datasec: an object by variable name (a global-data section's values).
 * Padding and bytes no member covers encode as zeros. void, functions and
 * forward declarations have no values (EINVAL).
 *
 * A value that does not fit its type is a BpfError EINVAL naming the path
 * into the value: `value.flows[2].sport: 70000 does not fit __u16`. Codecs
 * are compiled once per type (memoised per Btf), with cycles (a struct that
 * contains itself) and values of too many fields (a hostile section's
 * unions of unions) refused at compile time, so decoding is linear.
 */

import { BpfError } from '../errors.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, escapeControls } from './btf.js';
import type { Btf, BtfType } from './btf.js';

/** A decoded value: what a codec's decode gives and its encode takes. */
export type BtfValue = number | bigint | boolean | string | Uint8Array | BtfValue[] | { [field: string]: BtfValue };

/** A value's codec, shaped as `Codec<T>` of BpfMap (api/map.ts). */
export interface BtfCodec<T = BtfValue> {
  /** the value's size in bytes */
  readonly size: number;
  /** the type id the codec was made for */
  readonly typeId: number;
  /** its C-like name (`struct flow`, `__u32`) */
  readonly typeName: string;
  /** The value's bytes (exactly `size`); padding zero. */
  encode(value: T): Uint8Array;
  /** Write the value's bytes into `target` at `offset` (padding zero); other bytes stay. */
  encodeInto(value: T, target: Uint8Array, offset?: number): void;
  /** The value of `bytes` (exactly `size` bytes). */
  decode(bytes: Uint8Array): T;
}

/** Options of btfCodec. */
export interface BtfCodecOptions {
  /** the name errors give the value's root: `value` (default), `key`, a variable's name */
  root?: string;
}

/** The most fields (leaves) one value may have: bounds the work of a hostile section's nested unions. */
export const BTF_VALUE_MAX_FIELDS = 1 << 22;

/** Where in a value an encode is, for errors: `.flows`, `[2]`, `.sport` pushed and popped. */
class Path {
  /** `.name` segments (made once per member, when the codec is) and array indexes (formatted only for an error) */
  readonly parts: (string | number)[] = [];
  constructor(readonly root: string) {}
  error(msg: string): BpfError {
    const at = this.parts.map((x) => (typeof x === 'number' ? `[${x}]` : x)).join('');
    return new BpfError('EINVAL', escapeControls(`${this.root}${at}: ${msg}`));
  }
}

/** One compiled type: reads and writes a value at a byte offset of a DataView. */
interface Plan {
  /** leaves (ints, floats, strings...) under it, counted once per occurrence */
  fields: number;
  decode(v: DataView, at: number): BtfValue;
  encode(value: unknown, v: DataView, at: number, path: Path): void;
}

/** How a value is described in an error: short and on one line. */
function shown(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === undefined || x === null) return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (x instanceof Uint8Array) return `a Uint8Array of ${x.length}`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);

/** Integer I/O of `bits` bits at a bit offset, little-endian, for bitfields and odd-sized ints. */
function readBits(v: DataView, at: number, bitOffset: number, bits: number): bigint {
  const first = at + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const bytes = (shift + bits + 7) >> 3;
  let x = 0n;
  for (let i = bytes - 1; i >= 0; i--) x = (x << 8n) | BigInt(v.getUint8(first + i));
  return (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
}

function writeBits(v: DataView, at: number, bitOffset: number, bits: number, value: bigint): void {
  const first = at + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const bytes = (shift + bits + 7) >> 3;
  let old = 0n;
  for (let i = bytes - 1; i >= 0; i--) old = (old << 8n) | BigInt(v.getUint8(first + i));
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(shift);
  let x = (old & ~mask) | ((value << BigInt(shift)) & mask);
  for (let i = 0; i < bytes; i++, x >>= 8n) v.setUint8(first + i, Number(x & 0xffn));
}

/** An integer of `bits` bits: the JS value to its two's complement bits, range-checked; `what` names the type. */
function intBits(value: unknown, bits: number, signed: boolean, what: string, path: Path): bigint {
  let x: bigint;
  if (typeof value === 'bigint') x = value;
  else if (typeof value === 'number' && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw path.error(`${shown(value)} is not a safe integer (use a bigint for ${what})`);
    x = BigInt(value);
  } else throw path.error(`${shown(value)} is not an integer (${what})`);
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (x < lo || x > hi) throw path.error(`${shown(value)} does not fit ${what}`);
  return BigInt.asUintN(bits, x);
}

/** What a plan of an int or enum sees of its type. */
interface IntShape {
  bits: number;
  signed: boolean;
}

/** Half-precision floats, which DataView lacks: exact both ways for every finite and infinite value. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function numberToHalf(x: number): number | undefined {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  // exactly representable values only: a half is exact, anything else is out of its range or precision
  for (let exp = 1; exp < 31; exp++) {
    const frac = (a / 2 ** (exp - 15) - 1) * 1024;
    if (frac >= 0 && frac < 1024 && Number.isInteger(frac)) return sign | (exp << 10) | frac;
  }
  const sub = a / 2 ** -24;
  if (Number.isInteger(sub) && sub < 1024) return sign | sub;
  return undefined;
}

/** Compiles plans for one Btf, memoised by id. */
class Compiler {
  private readonly plans = new Map<number, Plan>();
  private readonly active = new Set<number>();

  constructor(private readonly btf: Btf) {}

  plan(id: number): Plan {
    const hit = this.plans.get(id);
    if (hit) return hit;
    if (this.active.has(id)) throw this.typeError(id, 'contains itself');
    this.active.add(id);
    try {
      const p = this.build(id);
      if (p.fields > BTF_VALUE_MAX_FIELDS) throw this.typeError(id, `has more than ${BTF_VALUE_MAX_FIELDS} fields`);
      this.plans.set(id, p);
      return p;
    } finally {
      this.active.delete(id);
    }
  }

  private typeError(id: number, msg: string): BpfError {
    return new BpfError('EINVAL', escapeControls(`BTF type ${id} (${this.btf.typeName(id)}) ${msg}`));
  }

  private build(id: number): Plan {
    const btf = this.btf;
    const name = btf.typeName(id);
    const t = btf.resolve(id);
    if (t === undefined) throw this.typeError(id, 'is void: it has no values');
    switch (t.kind) {
      case 'int': {
        if (t.bitOffset !== 0 || t.bits !== t.size * 8) return this.bitfield(t, t.bitOffset, t.bits, name);
        return this.int(t.size, (t.encoding & BTF_INT_SIGNED) !== 0, (t.encoding & BTF_INT_BOOL) !== 0, name);
      }
      case 'ptr':
        return this.int(8, false, false, name);
      case 'enum': case 'enum64':
        return this.enumPlan(t, 0, t.size * 8, name);
      case 'float':
        return this.float(t.size, name);
      case 'array':
        return this.array(t, name);
      case 'struct': case 'union':
        return this.composite(t, name);
      case 'datasec':
        return this.datasec(t, name);
      default:
        throw this.typeError(id, 'has no values');
    }
  }

  private int(size: number, signed: boolean, bool: boolean, name: string): Plan {
    const bits = size * 8;
    if (bool && size === 1) {
      return {
        fields: 1,
        decode: (v, at) => {
          const b = v.getUint8(at);
          return b === 0 ? false : b === 1 ? true : b;
        },
        encode: (value, v, at, path) => {
          if (typeof value === 'boolean') v.setUint8(at, value ? 1 : 0);
          else v.setUint8(at, Number(intBits(value, 8, false, name, path)));
        },
      };
    }
    switch (size) {
      case 1: case 2: case 4: {
        const get = size === 1 ? (signed ? v8s : v8u) : size === 2 ? (signed ? v16s : v16u) : signed ? v32s : v32u;
        const set = size === 1 ? s8 : size === 2 ? s16 : s32;
        return {
          fields: 1,
          decode: (v, at) => get(v, at),
          encode: (value, v, at, path) => {
            // the fast path: a number in range needs no bigint
            if (typeof value === 'number' && Number.isInteger(value)) {
              const lo = signed ? -(2 ** (bits - 1)) : 0;
              const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
              if (value < lo || value > hi) throw path.error(`${shown(value)} does not fit ${name}`);
              set(v, at, value);
              return;
            }
            set(v, at, Number(BigInt.asIntN(bits, intBits(value, bits, signed, name, path))));
          },
        };
      }
      case 8:
        return {
          fields: 1,
          decode: (v, at) => (signed ? v.getBigInt64(at, true) : v.getBigUint64(at, true)),
          encode: (value, v, at, path) => v.setBigUint64(at, intBits(value, 64, signed, name, path), true),
        };
      default: // 16: __int128
        return {
          fields: 1,
          decode: (v, at) => {
            const x = (v.getBigUint64(at + 8, true) << 64n) | v.getBigUint64(at, true);
            return signed ? BigInt.asIntN(128, x) : x;
          },
          encode: (value, v, at, path) => {
            const x = intBits(value, 128, signed, name, path);
            v.setBigUint64(at, x & 0xffffffffffffffffn, true);
            v.setBigUint64(at + 8, x >> 64n, true);
          },
        };
    }
  }

  /** An int of `bits` bits at `bitOffset` bits into its storage (a bitfield, or an int type with an offset). */
  private bitfield(t: Extract<BtfType, { kind: 'int' }>, bitOffset: number, bits: number, name: string): Plan {
    const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
    const bool = (t.encoding & BTF_INT_BOOL) !== 0;
    return this.bitsPlan({ bits, signed }, bitOffset, name, bool ? (x) => (x === 0n ? false : x === 1n ? true : undefined) : undefined);
  }

  /** Bits of an int at a bit offset: number up to 32 bits, bigint above; `special` maps raw values first (bool). */
  private bitsPlan(shape: IntShape, bitOffset: number, name: string, special?: (raw: bigint) => BtfValue | undefined): Plan {
    const { bits, signed } = shape;
    const what = `${name}:${bits}`;
    return {
      fields: 1,
      decode: (v, at) => {
        const raw = readBits(v, at, bitOffset, bits);
        const s = special?.(raw);
        if (s !== undefined) return s;
        const x = signed ? BigInt.asIntN(bits, raw) : raw;
        return bits <= 32 ? Number(x) : x;
      },
      encode: (value, v, at, path) => {
        const raw = typeof value === 'boolean' && special ? (value ? 1n : 0n) : intBits(value, bits, signed, what, path);
        writeBits(v, at, bitOffset, bits, raw);
      },
    };
  }

  private enumPlan(t: Extract<BtfType, { kind: 'enum' | 'enum64' }>, bitOffset: number, bits: number, name: string): Plan {
    const byValue = new Map<bigint, string>();
    const byName = new Map<string, bigint>();
    for (const e of t.values) {
      const raw = BigInt.asUintN(bits, e.value);
      if (!byValue.has(raw)) byValue.set(raw, e.name);
      if (!byName.has(e.name)) byName.set(e.name, raw);
    }
    const wide = bits > 32;
    return {
      fields: 1,
      decode: (v, at) => {
        const raw = readBits(v, at, bitOffset, bits);
        const n = byValue.get(raw);
        if (n !== undefined) return n;
        const x = t.signed ? BigInt.asIntN(bits, raw) : raw;
        return wide ? x : Number(x);
      },
      encode: (value, v, at, path) => {
        let raw: bigint;
        if (typeof value === 'string') {
          const r = byName.get(value);
          if (r === undefined) {
            const names = [...byName.keys()];
            const list = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
            throw path.error(`${shown(value)} is not a value of ${name} (${list || 'it has none'})`);
          }
          raw = r;
        } else raw = intBits(value, bits, t.signed, name, path);
        writeBits(v, at, bitOffset, bits, raw);
      },
    };
  }

  private float(size: number, name: string): Plan {
    if (size === 12 || size === 16) {
      return {
        fields: 1,
        decode: (v, at) => new Uint8Array(v.buffer.slice(v.byteOffset + at, v.byteOffset + at + size)),
        encode: (value, v, at, path) => {
          if (!(value instanceof Uint8Array) || value.length !== size) throw path.error(`${shown(value)} is not a Uint8Array of ${size} bytes (${name})`);
          new Uint8Array(v.buffer, v.byteOffset + at, size).set(value);
        },
      };
    }
    return {
      fields: 1,
      decode: (v, at) => (size === 8 ? v.getFloat64(at, true) : size === 4 ? v.getFloat32(at, true) : halfToNumber(v.getUint16(at, true))),
      encode: (value, v, at, path) => {
        if (typeof value !== 'number') throw path.error(`${shown(value)} is not a number (${name})`);
        if (size === 8) v.setFloat64(at, value, true);
        else if (size === 4) {
          if (Number.isFinite(value) && Math.fround(value) !== value) throw path.error(`${shown(value)} does not fit ${name} (a 32-bit float) exactly`);
          v.setFloat32(at, value, true);
        } else {
          const h = numberToHalf(value);
          if (h === undefined) throw path.error(`${shown(value)} does not fit ${name} (a 16-bit float) exactly`);
          v.setUint16(at, h, true);
        }
      },
    };
  }

  /** Is `id` a char as bpftool tells a string's elements: a 1-byte int named char or with BTF_INT_CHAR. */
  private isChar(id: number): boolean {
    const t = this.btf.resolve(id);
    return t?.kind === 'int' && t.size === 1 && t.bits === 8 && t.bitOffset === 0 && (t.name === 'char' || (t.encoding & BTF_INT_CHAR) !== 0);
  }

  private array(t: Extract<BtfType, { kind: 'array' }>, name: string): Plan {
    const n = t.nelems;
    if (n === 0) {
      return {
        fields: 0,
        decode: () => [],
        encode: (value, _v, _at, path) => {
          if (!(Array.isArray(value) && value.length === 0) && value !== '') throw path.error(`${shown(value)} is not an empty array (${name})`);
        },
      };
    }
    const stride = this.btf.sizeOf(t.type);
    const elem = this.plan(t.type);
    // an array of empty structs still costs a visit per element
    const fields = Math.max(1, elem.fields) * n;
    if (fields > BTF_VALUE_MAX_FIELDS) throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}) has more than ${BTF_VALUE_MAX_FIELDS} fields`));
    const chars = this.isChar(t.type);
    const decodeList = (v: DataView, at: number): BtfValue[] => {
      const out = new Array<BtfValue>(n);
      for (let i = 0; i < n; i++) out[i] = elem.decode(v, at + i * stride);
      return out;
    };
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    return {
      fields,
      decode: (v, at) => {
        if (chars) {
          const b = new Uint8Array(v.buffer, v.byteOffset + at, n);
          let end = b.indexOf(0);
          if (end < 0) end = n;
          let text: string | undefined;
          if (b.subarray(end).every((x) => x === 0)) {
            try {
              text = utf8.decode(b.subarray(0, end));
            } catch {
              text = undefined;
            }
          }
          if (text !== undefined) return text;
        }
        return decodeList(v, at);
      },
      encode: (value, v, at, path) => {
        if (chars && typeof value === 'string') {
          const b = new TextEncoder().encode(value);
          if (b.length > n) throw path.error(`${shown(value)} (${b.length} bytes in UTF-8) does not fit ${name}`);
          if (b.includes(0)) throw path.error(`${shown(value)} holds a NUL: give an array of numbers for ${name}`);
          const dst = new Uint8Array(v.buffer, v.byteOffset + at, n);
          dst.fill(0);
          dst.set(b);
          return;
        }
        const list = Array.isArray(value) ? value : ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<unknown>) : undefined;
        if (list === undefined) throw path.error(`${shown(value)} is not an array (${name}${chars ? ': a string or an array' : ''})`);
        if (list.length !== n) throw path.error(`an array of ${list.length} for ${name}, which has ${n} elements`);
        for (let i = 0; i < n; i++) {
          path.parts.push(i);
          elem.encode(list[i], v, at + i * stride, path);
          path.parts.pop();
        }
      },
    };
  }

  private composite(t: Extract<BtfType, { kind: 'struct' | 'union' }>, name: string): Plan {
    interface Field {
      /** the member's name; '' for an anonymous struct or union, whose `anon` keys are ours */
      key: string;
      /** `.key`, the member's segment of an error's path */
      seg: string;
      plan: Plan;
      /** byte offset of the member (whole-byte members); bitfields have 0 and their bit offset in the plan */
      at: number;
      anon: string[];
    }
    const fields: Field[] = [];
    const keys = new Set<string>();
    let count = 0;
    const addKey = (key: string): void => {
      if (keys.has(key)) throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}) has two members named ${key}`));
      keys.add(key);
    };
    for (const m of t.members) {
      const mt = this.btf.resolve(m.type);
      const bitfield = m.bitfieldSize > 0 || m.bitOffset % 8 !== 0 || (mt?.kind === 'int' && (mt.bitOffset !== 0 || mt.bits !== mt.size * 8));
      let plan: Plan;
      let at = 0;
      if (bitfield) {
        if (mt?.kind !== 'int' && mt?.kind !== 'enum' && mt?.kind !== 'enum64') {
          throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}): member ${m.name || '(anon)'} at bit ${m.bitOffset} is not byte-aligned and not an int or enum`));
        }
        const bits = m.bitfieldSize > 0 ? m.bitfieldSize : mt.kind === 'int' ? mt.bits : mt.size * 8;
        const off = m.bitOffset + (mt.kind === 'int' && m.bitfieldSize === 0 ? mt.bitOffset : 0);
        if (bits === 0 || off + bits > t.size * 8 || bits > mt.size * 8) {
          throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}): bitfield ${m.name || '(anon)'} of ${bits} bits at bit ${off} does not fit`));
        }
        if (m.name === '') continue; // an unnamed bitfield is padding
        const tname = this.btf.typeName(m.type);
        plan = mt.kind === 'int'
          ? this.bitsPlan({ bits, signed: (mt.encoding & BTF_INT_SIGNED) !== 0 }, off, tname,
            (mt.encoding & BTF_INT_BOOL) !== 0 ? (x) => (x === 0n ? false : x === 1n ? true : undefined) : undefined)
          : this.enumPlan(mt, off, bits, tname);
      } else {
        at = m.bitOffset / 8;
        const size = this.btf.sizeOf(m.type);
        if (at + size > t.size) throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}): member ${m.name || '(anon)'} at byte ${at} (${size} bytes) runs past its ${t.size} bytes`));
        plan = this.plan(m.type);
        if (m.name === '' && mt?.kind !== 'struct' && mt?.kind !== 'union') continue; // anonymous padding of another kind
      }
      let anon: string[] = [];
      if (m.name === '') {
        // an anonymous struct or union: its fields are ours, as C names them
        anon = this.memberKeys(mt as Extract<BtfType, { kind: 'struct' | 'union' }>);
        for (const k of anon) addKey(k);
      } else addKey(m.name);
      // an empty struct still costs its visit
      count += Math.max(1, plan.fields);
      fields.push({ key: m.name, seg: `.${m.name}`, plan, at, anon });
    }
    const union = t.kind === 'union';
    return {
      fields: count,
      decode: (v, at) => {
        const out: Record<string, BtfValue> = {};
        for (const f of fields) {
          const x = f.plan.decode(v, at + f.at);
          if (f.key === '') Object.assign(out, x as Record<string, BtfValue>);
          else out[f.key] = x;
        }
        return out;
      },
      encode: (value, v, at, path) => {
        if (!isRecord(value)) throw path.error(`${shown(value)} is not an object (${name})`);
        for (const k of Object.keys(value)) {
          if (!keys.has(k)) throw path.error(`${name} has no member ${shown(k)}`);
        }
        let any = false;
        for (const f of fields) {
          if (f.key === '') {
            // the anonymous member's fields, taken from our object
            const sub: Record<string, unknown> = {};
            let some = false;
            for (const k of f.anon) {
              if (value[k] !== undefined) {
                sub[k] = value[k];
                some = true;
              }
            }
            if (!some && union) continue;
            f.plan.encode(sub, v, at + f.at, path);
            any = true;
            continue;
          }
          // an undefined member is an absent one (as JSON leaves it out)
          if (value[f.key] === undefined) {
            if (union) continue;
            throw path.error(`missing member ${f.key} of ${name}`);
          }
          path.parts.push(f.seg);
          f.plan.encode(value[f.key], v, at + f.at, path);
          path.parts.pop();
          any = true;
        }
        if (union && !any && fields.length > 0) throw path.error(`${name} needs one of its members (${[...keys].join(', ')})`);
      },
    };
  }

  /** The keys a struct or union contributes to its parent's object (anonymous members flattened). */
  private memberKeys(t: Extract<BtfType, { kind: 'struct' | 'union' }>, depth = 0): string[] {
    if (depth > 64) throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id}: anonymous members nested too deep`));
    const out: string[] = [];
    for (const m of t.members) {
      if (m.name !== '') {
        out.push(m.name);
        continue;
      }
      const mt = this.btf.resolve(m.type);
      if ((mt?.kind === 'struct' || mt?.kind === 'union') && m.bitfieldSize === 0 && m.bitOffset % 8 === 0) out.push(...this.memberKeys(mt, depth + 1));
    }
    return out;
  }

  private datasec(t: Extract<BtfType, { kind: 'datasec' }>, name: string): Plan {
    const vars: { key: string; seg: string; plan: Plan; at: number }[] = [];
    let count = 0;
    for (const s of t.vars) {
      const vt = this.btf.type(s.type);
      const plan = this.plan(s.type);
      const key = vt.name;
      const vsize = this.btf.sizeOf(s.type);
      if (vsize !== s.size) throw new BpfError('EINVAL', escapeControls(`BTF type ${t.id} (${name}): variable ${key} has ${s.size} bytes, its type ${vsize}`));
      vars.push({ key, seg: `.${key}`, plan, at: s.offset });
      count += Math.max(1, plan.fields);
    }
    return {
      fields: count,
      decode: (v, at) => {
        const out: Record<string, BtfValue> = {};
        for (const x of vars) out[x.key] = x.plan.decode(v, at + x.at);
        return out;
      },
      encode: (value, v, at, path) => {
        if (!isRecord(value)) throw path.error(`${shown(value)} is not an object (${name})`);
        for (const k of Object.keys(value)) if (!vars.some((x) => x.key === k)) throw path.error(`${name} has no variable ${shown(k)}`);
        for (const x of vars) {
          if (value[x.key] === undefined) throw path.error(`missing variable ${x.key} of ${name}`);
          path.parts.push(x.seg);
          x.plan.encode(value[x.key], v, at + x.at, path);
          path.parts.pop();
        }
      },
    };
  }
}

const v8u = (v: DataView, at: number): number => v.getUint8(at);
const v8s = (v: DataView, at: number): number => v.getInt8(at);
const v16u = (v: DataView, at: number): number => v.getUint16(at, true);
const v16s = (v: DataView, at: number): number => v.getInt16(at, true);
const v32u = (v: DataView, at: number): number => v.getUint32(at, true);
const v32s = (v: DataView, at: number): number => v.getInt32(at, true);
const s8 = (v: DataView, at: number, x: number): void => v.setUint8(at, x & 0xff);
const s16 = (v: DataView, at: number, x: number): void => v.setUint16(at, x & 0xffff, true);
const s32 = (v: DataView, at: number, x: number): void => v.setUint32(at, x >>> 0, true);

const compilers = new WeakMap<Btf, Compiler>();

/**
 * The codec of BTF type `typeId` (any kind with a value: through typedefs,
 * qualifiers and a VAR to its type; a DATASEC as an object by variable).
 * EINVAL for void, functions, forward declarations, and types that contain
 * themselves or have more than BTF_VALUE_MAX_FIELDS fields.
 */
export function btfCodec<T = BtfValue>(btf: Btf, typeId: number, options: BtfCodecOptions = {}): BtfCodec<T> {
  let c = compilers.get(btf);
  if (c === undefined) {
    c = new Compiler(btf);
    compilers.set(btf, c);
  }
  if (!Number.isInteger(typeId) || typeId < 0) throw new BpfError('EINVAL', `type id ${shown(typeId)} is not a non-negative integer`);
  if (typeId !== 0) btf.type(typeId); // a past-the-table id: the reader's error
  const plan = c.plan(typeId);
  const resolved = btf.resolve(typeId);
  const size = resolved?.kind === 'datasec' ? resolved.vars.reduce((m, x) => Math.max(m, x.offset + x.size), resolved.size) : btf.sizeOf(typeId);
  const root = options.root ?? 'value';
  const typeName = btf.typeName(typeId);
  const encodeInto = (value: T, target: Uint8Array, offset = 0): void => {
    if (!(target instanceof Uint8Array)) throw new BpfError('EINVAL', `encodeInto: target is ${shown(target)}, not a Uint8Array`);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
      throw new BpfError('EINVAL', `encodeInto: ${size} bytes at offset ${shown(offset)} do not fit a target of ${target.length}`);
    }
    // into a fresh buffer, zero where nothing is written (padding), copied only once the
    // whole value encoded: a value refused half-way leaves the target as it was
    const scratch = new Uint8Array(size);
    plan.encode(value, new DataView(scratch.buffer), 0, new Path(root));
    target.set(scratch, offset);
  };
  return {
    size,
    typeId,
    typeName,
    encode(value: T): Uint8Array {
      const out = new Uint8Array(size);
      plan.encode(value, new DataView(out.buffer), 0, new Path(root));
      return out;
    },
    encodeInto,
    decode(bytes: Uint8Array): T {
      if (!(bytes instanceof Uint8Array)) throw new BpfError('EINVAL', `${root}: ${shown(bytes)} is not a Uint8Array`);
      if (bytes.length !== size) throw new BpfError('EINVAL', escapeControls(`${root}: ${bytes.length} bytes for ${typeName}, which has ${size}`));
      return plan.decode(new DataView(bytes.buffer, bytes.byteOffset, size), 0) as T;
    },
  };
}
