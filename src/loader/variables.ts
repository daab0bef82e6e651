/**
 * An object's variables before load: every variable of its global data
 * (`.rodata`, `.data`, `.bss` and their `.name` suffixed kin), by name, as
 * cilium/ebpf's `CollectionSpec.Variables` and libbpf's skeleton give them.
 * With BTF, each section's DATASEC lists its VARs with their types (the
 * map's MapBtf, placed by loader/btf.ts's globalDataBtf), and values are
 * read and written through the BTF value codec (btf/values.ts):
 * `const volatile __u16 port` is a number, a struct an object, a char
 * array a string. Without BTF (or for a section the BTF does not
 * describe), the section's ELF object symbols are the variables, as raw
 * integers of 1, 2, 4 or 8 bytes (unsigned) or as bytes.
 *
 * A variable holds no bytes of its own: get() and set() read and write the
 * initial value of its section's map in the spec it was made for (that
 * map's `initial`, created zeroed for a `.bss` on the first set), so what a
 * Collection or a program input creates afterwards starts with the value
 * set. Where a variable lies comes from its ELF symbol, as libbpf reads it
 * (clang 14 may leave a DATASEC's offsets 0). Names come from the object:
 * messages escape their control characters.
 */

import { BpfError } from '../errors.js';
import { STT, escapeControls } from '../elf/index.js';
import type { ElfFile } from '../elf/index.js';
import { btfCodec } from '../btf/index.js';
import type { Btf, BtfVarSecinfo } from '../btf/index.js';

/**
 * What a variable needs of its section's map in the spec (a MapSpecData;
 * spec.ts imports this file for VariableSpec, so not the other way round).
 */
interface SectionData {
  name: string;
  valueSize: number;
  initial?: Uint8Array;
  /** a global-data map's DATASEC and its variables where their symbols place them (MapBtf) */
  btf?: { btf: Btf; vars?: readonly BtfVarSecinfo[] };
}

/** How a variable's bytes become a value and back: a BTF codec, or a raw one by size. */
interface ValueCodec {
  readonly size: number;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** One variable of an object's global data: where it lies, its C type, and its value in the spec's initial bytes. */
export class VariableSpec {
  private codecCache: ValueCodec | undefined;

  /** @internal made by the loader for one spec's maps; `codec` builds the value codec on first use */
  constructor(
    /** the variable's name (its symbol's) */
    readonly name: string,
    /** the global data section holding it (the name of its map in the spec) */
    readonly section: string,
    /** its byte offset in the section */
    readonly offset: number,
    /** its size in bytes */
    readonly size: number,
    /** its C type as BTF names it (`const volatile __u16`, `struct limits`, `char[8]`); without BTF `__u32`-like by size, or `__u8[N]` */
    readonly type: string,
    private readonly maps: Record<string, SectionData>,
    private readonly codec: () => ValueCodec,
  ) {
    this.readonly = /^\.rodata(\.|$)/.test(section);
  }

  /**
   * `.rodata` (and `.rodata.*`): the kernel freezes the map after writing
   * its initial value, so the value can be set only here, before load, and
   * programs may not write it.
   */
  readonly readonly: boolean;

  /** The value the program will start with, decoded from the section's initial bytes. */
  get(): unknown {
    return this.guard(() => this.valueCodec().decode(this.bytes()));
  }

  /**
   * Encode `value` into the section's initial bytes (before load: a
   * Collection or program input made from the spec afterwards starts with
   * it). A value that does not fit the type is EINVAL and changes nothing.
   */
  set(value: unknown): void {
    VariableSpec.setAll([[this, value]]);
  }

  /**
   * Set each variable to its value, all or none: every value is encoded
   * before the first is written, so a misfit leaves the spec as it was.
   */
  static setAll(plan: readonly (readonly [VariableSpec, unknown])[]): void {
    const encoded = plan.map(([v, value]) => v.guard(() => {
      const m = v.map();
      if (m.initial !== undefined) v.check(m.initial);
      return v.valueCodec().encode(value);
    }));
    plan.forEach(([v], i) => v.guard(() => v.write(encoded[i]!)));
  }

  private write(encoded: Uint8Array): void {
    const m = this.map();
    if (m.initial === undefined) m.initial = zeroed(m.valueSize, m.name);
    this.check(m.initial);
    m.initial.set(encoded, this.offset);
  }

  /** The variable's current bytes in the spec (a copy). */
  bytes(): Uint8Array {
    const m = this.map();
    if (m.initial === undefined) return zeroed(this.size, m.name);
    this.check(m.initial);
    return m.initial.slice(this.offset, this.offset + this.size);
  }

  private valueCodec(): ValueCodec {
    if (this.codecCache === undefined) {
      const c = this.codec();
      if (c.size !== this.size) throw new BpfError('EINVAL', `its type ${this.type} is ${c.size} bytes, the variable ${this.size}`);
      this.codecCache = c;
    }
    return this.codecCache;
  }

  private map(): SectionData {
    const m = Object.hasOwn(this.maps, this.section) ? this.maps[this.section] : undefined;
    if (m === undefined) throw new BpfError('ENOENT', escapeControls(`variable ${this.name}: its section ${this.section} is no longer a map of the spec`));
    return m;
  }

  /** The initial value must still hold the variable (a spec's `initial` may have been replaced). */
  private check(initial: Uint8Array): void {
    if (this.offset + this.size > initial.length) {
      throw new BpfError('EINVAL', escapeControls(`variable ${this.name}: ${this.section}'s initial value is ${initial.length} bytes, the variable lies at ${this.offset}..${this.offset + this.size}`));
    }
  }

  /**
   * Errors name the variable, once: the codec's start with the path into
   * the value (`limits.min_len: 70000 does not fit __u16`), others get it.
   */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      const name = escapeControls(this.name);
      if (!(e instanceof BpfError) || e.message.startsWith(`variable ${name}: `)) throw e;
      const path = e.message.startsWith(name) && /^[:.[]/.test(e.message.slice(name.length));
      throw new BpfError(e.code, escapeControls(`variable ${path ? '' : `${name}: `}${e.message}`), { cause: e.cause });
    }
  }
}

/** A zeroed section value (a .bss may claim up to 4 GiB of the object's word): ENOMEM when it cannot be had. */
function zeroed(size: number, section: string): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch {
    throw new BpfError('ENOMEM', `section ${section}: ${size} bytes of global data cannot be allocated`);
  }
}

/** What each variable with BTF is under its typedefs and qualifiers (its kind), for reading values from text. */
const kinds = new WeakMap<VariableSpec, string>();

/** Integer types by size, for variables without BTF. */
const RAW_INT: Record<number, string> = { 1: '__u8', 2: '__u16', 4: '__u32', 8: '__u64' };

/**
 * The variables of an object's global data sections (`sections`: section
 * index to name, as the loader made their maps), by name, in section order
 * and within a section by offset. A section with a DATASEC has the
 * variables its map's types place (MapBtf.vars: where their symbols are,
 * as libbpf's fix-up puts them); one without, its ELF object symbols. A
 * name met twice (static variables of two sections) is kept for the first
 * and given as `SECTION:name` for the later ones. Raw symbols are checked
 * against the section.
 */
export function readVariables(elf: ElfFile, sections: ReadonlyMap<number, string>, maps: Record<string, SectionData>): Record<string, VariableSpec> {
  const out: Record<string, VariableSpec> = Object.create(null) as Record<string, VariableSpec>;
  for (const [index, section] of sections) {
    const map = maps[section]!;
    const found: { name: string; offset: number; size: number; type: string; kind?: string; codec: () => ValueCodec }[] = [];
    const types = map.btf;
    if (types?.vars !== undefined) {
      const btf = types.btf;
      for (const v of types.vars) {
        const variable = btf.type(v.type);
        if (variable.name === '') continue;
        // the VAR's type: what the C declaration says, and what the codec reads
        const id = variable.kind === 'var' ? variable.type : v.type;
        found.push({
          name: variable.name,
          offset: v.offset,
          size: v.size,
          type: btf.typeName(id),
          kind: btf.resolve(id)?.kind ?? 'void',
          codec: () => btfCodec(btf, id, { root: variable.name }) as ValueCodec,
        });
      }
    } else {
      for (const s of elf.symbolsIn(index)) {
        if (s.type !== STT.OBJECT || s.name === '' || s.size === 0) continue;
        const int = RAW_INT[s.size];
        found.push({ name: s.name, offset: s.value, size: s.size, type: int ?? `__u8[${s.size}]`, codec: () => rawCodec(s.size) });
      }
    }
    found.sort((a, b) => a.offset - b.offset);
    for (const f of found) {
      if (f.offset < 0 || f.offset + f.size > map.valueSize) {
        throw new BpfError('EINVAL', `section ${section}: variable ${f.name} at offset ${f.offset} (${f.size} bytes) runs past the section's ${map.valueSize} bytes`);
      }
      const key = Object.hasOwn(out, f.name) ? `${section}:${f.name}` : f.name;
      if (Object.hasOwn(out, key)) throw new BpfError('EINVAL', `section ${section}: variable ${f.name} is defined twice`);
      const v = new VariableSpec(f.name, section, f.offset, f.size, f.type, maps, f.codec);
      if (f.kind !== undefined) kinds.set(v, f.kind);
      out[key] = v;
    }
  }
  return out;
}

/**
 * Set several variables of a spec by name: each one that does not exist is
 * ENOENT (naming the variables there are), each value that does not fit
 * its type EINVAL; nothing is set unless every value fits.
 */
export function setVariables(variables: Record<string, VariableSpec>, values: Readonly<Record<string, unknown>>): void {
  VariableSpec.setAll(Object.entries(values).map(([name, value]) => [variableNamed(variables, name), value]));
}

/** The variable of that name, or ENOENT listing the ones there are. */
export function variableNamed(variables: Record<string, VariableSpec>, name: string): VariableSpec {
  if (Object.hasOwn(variables, name)) return variables[name]!;
  const names = Object.keys(variables);
  const list = names.length === 0 ? 'the object has no variables' : `variables: ${names.length > 20 ? `${names.slice(0, 20).join(', ')}, ...` : names.join(', ')}`;
  throw new BpfError('ENOENT', escapeControls(`no variable ${name} (${list})`));
}

/**
 * A variable without BTF: an unsigned integer of its 1, 2, 4 or 8 bytes
 * (a number, a bigint for 8), else its bytes as a Uint8Array.
 */
function rawCodec(size: number): ValueCodec {
  const int = size === 1 || size === 2 || size === 4 || size === 8;
  return {
    size,
    decode(bytes: Uint8Array): unknown {
      if (!int) return bytes.slice();
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
      return size === 8 ? v : Number(v);
    },
    encode(value: unknown): Uint8Array {
      if (!int) {
        if (!(value instanceof Uint8Array) || value.length !== size) throw new BpfError('EINVAL', `${describe(value)} is not a Uint8Array of ${size} bytes (a variable without BTF)`);
        return value.slice();
      }
      const max = (1n << BigInt(size * 8)) - 1n;
      if (!((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint')) {
        throw new BpfError('EINVAL', `${describe(value)} is not an integer (a ${size}-byte variable without BTF)`);
      }
      // signedness is unknown without BTF: a negative value is taken as its two's complement
      const v = BigInt(value);
      if (v < -(max + 1n) / 2n || v > max) throw new BpfError('EINVAL', `${describe(value)} does not fit ${size} bytes (a variable without BTF)`);
      const out = new Uint8Array(size);
      for (let i = 0, x = BigInt.asUintN(size * 8, v); i < size; i++, x >>= 8n) out[i] = Number(x & 0xffn);
      return out;
    },
  };
}

/** A value in a message: short, one line. */
function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/**
 * A value written as text (the CLI's `--set NAME=VALUE`), read by the
 * variable's type as its current value shows it: an integer in decimal or
 * `0x` hex (a bigint for 64 bits; a number with a fraction for a float),
 * `true`/`false` (or 1/0) for a bool, an enumerator's name or a number for
 * an enum, the text itself for a char array, JSON for a struct, union or
 * array (integers past 2^53 in it kept exact), hex for raw bytes. Whether
 * the value then fits is set()'s to say.
 */
export function parseVariableText(v: VariableSpec, text: string): unknown {
  const current = v.get();
  const bad = (what: string): never => {
    throw new BpfError('EINVAL', escapeControls(`variable ${v.name}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)} is not ${what} (its type is ${v.type})`));
  };
  const kind = kinds.get(v);
  const isEnum = kind === 'enum' || kind === 'enum64';
  if (isEnum && typeof current !== 'object') {
    // an enumerator's name, or its value as a number
    return /^[-+]?(0x[0-9a-f]+|\d+)$/i.test(text.trim()) ? integer(text, typeof current === 'bigint') ?? bad('an enumerator or a number') : text;
  }
  switch (typeof current) {
    case 'number': {
      const n = integer(text, false);
      if (n !== undefined) return n;
      // a float's value: any decimal JavaScript reads
      if (kind !== 'float') return bad('an integer (decimal, or hex with 0x)');
      const f = text.trim() === '' ? NaN : Number(text);
      return Number.isNaN(f) || /^[-+]?0x/i.test(text.trim()) ? bad('a number') : f;
    }
    case 'bigint':
      return integer(text, true) ?? bad('an integer (decimal, or hex with 0x)');
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      return bad('true or false');
    }
    case 'string':
      return text;
    default:
      break;
  }
  if (current instanceof Uint8Array) {
    const hex = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
    if (!/^([0-9a-f]{2})*$/i.test(hex)) return bad('hex bytes');
    return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
  }
  try {
    return parseJsonExact(text);
  } catch {
    return bad('JSON (a struct, union or array is written as JSON)');
  }
}

/** A decimal or 0x-hex integer, signed; a bigint when asked (or past 2^53), else a number; undefined when the text is not one. */
function integer(text: string, big: boolean): number | bigint | undefined {
  const m = /^([-+]?)(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  if (m === null) return undefined;
  const v = m[1] === '-' ? -BigInt(m[2]!) : BigInt(m[2]!);
  return big || v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? v : Number(v);
}

/** JSON with integers past 2^53 read as bigints (JSON.parse would round them). */
function parseJsonExact(text: string): unknown {
  const marks: bigint[] = [];
  // integer literals outside strings with 16 digits or more, replaced by markers before JSON.parse
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g, (tok) => {
    if (tok.startsWith('"')) return tok;
    const v = BigInt(tok);
    if (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return tok;
    marks.push(v);
    return `{"\\u0000bigint":${marks.length - 1}}`;
  });
  return JSON.parse(marked, (_k, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === '\u0000bigint') return marks[(value as Record<string, number>)['\u0000bigint']!];
    }
    return value;
  });
}
