/**
 * CO-RE: the relocations clang records in `.BTF.ext` for accesses through
 * types marked preserve_access_index (every struct of vmlinux.h), applied
 * as libbpf applies them before a load. Each record names a local type, an
 * access string (`0:2:1`: an index into the root pointer, then member or
 * element indexes) and what the instruction wants (a field's offset, size,
 * existence, signedness or bitfield shifts; a type's existence, size or id;
 * an enumerator's existence or value). The answer comes from a target BTF,
 * which for tsbpf is the uapi context structs and protocol headers of
 * ctx-btf.ts: the kernel's vmlinux BTF has these with the same layout.
 *
 * Matching follows libbpf's rules: target candidates share the local type's
 * name without its `___flavor` suffix and its kind; members are found by name
 * (through anonymous structs and unions), with compatible types; array
 * indexes must be within the target's bounds. A field relocation with no
 * match poisons the instruction (a call of the invalid helper 0xbad2310,
 * so the verifier rejects the program only if it reaches it), while the
 * existence kinds answer 0. Each instruction is checked to hold the local
 * value before it is patched, as libbpf validates it.
 */

import { BpfError } from '../errors.js';
import type { Btf, BtfType, CoreRelo } from '../btf/index.js';
import { Btf as BtfReader, parseBtfExt } from '../btf/index.js';
import type { ElfFile } from '../elf/index.js';
import type { Slot } from '../isa/instruction.js';
import { ctxBtfBytes } from './ctx-btf.js';

/** The helper number of a poisoned instruction (libbpf's 0xbad2310). */
export const CORE_POISON = 0xbad2310;

let ctxBtf: Btf | undefined;
/** The target BTF (parsed once). */
export function coreTargetBtf(): Btf {
  ctxBtf ??= new BtfReader(ctxBtfBytes());
  return ctxBtf;
}

/** A type's name without a `___flavor` suffix (the last `x___y` separator). */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return name.slice(0, i + 1);
  }
  return name;
}

/** One step of an access: a member (by index in its struct) or an array element. */
interface Step {
  /** the type the step lands on (not resolved) */
  type: number;
  /** a member's name; undefined for an array index */
  name?: string;
  /** array index or member index */
  index: number;
  bitOffset: number;
  bitfieldSize: number;
}

/** A resolved access: its steps and where the last one lands. */
interface Spec {
  root: number;
  /** the access string's first index: an element of an array of the root type */
  rootIndex: number;
  steps: Step[];
  bitOffset: number;
  /** the final member's bitfield width (0: not a bitfield) */
  bitfieldSize: number;
}

const FIELD_KINDS = new Set(['field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64', 'field_rshift_u64']);
const TYPE_KINDS = new Set(['type_id_local', 'type_id_target', 'type_exists', 'type_size', 'type_matches']);
const EXISTENCE = new Set(['field_exists', 'type_exists', 'enumval_exists', 'type_matches']);

const fail = (sec: string, r: CoreRelo, msg: string): never => {
  throw new BpfError('EINVAL', `section ${sec}: CO-RE relocation at insn ${r.insn} (${r.kind}, access ${r.access}): ${msg}`);
};

function parseAccess(sec: string, r: CoreRelo): number[] {
  if (!/^\d+(:\d+)*$/.test(r.access) || r.access.length > 256) fail(sec, r, 'malformed access string');
  return r.access.split(':').map(Number);
}

/** The local side of a field access: walk the access string through the local types. */
function localFieldSpec(btf: Btf, sec: string, r: CoreRelo, access: number[]): Spec {
  const root = btf.resolve(r.typeId);
  if (root === undefined || (root.kind !== 'struct' && root.kind !== 'union')) fail(sec, r, `local type ${r.typeId} is not a struct or union`);
  const size = btf.sizeOf(r.typeId);
  const spec: Spec = { root: r.typeId, rootIndex: access[0]!, steps: [], bitOffset: access[0]! * size * 8, bitfieldSize: 0 };
  let cur = r.typeId;
  for (let i = 1; i < access.length; i++) {
    const t = btf.resolve(cur);
    const idx = access[i]!;
    if (t?.kind === 'struct' || t?.kind === 'union') {
      const m = t.members[idx];
      if (m === undefined) fail(sec, r, `member ${idx} of ${btf.typeName(cur)} does not exist`);
      spec.bitOffset += m.bitOffset;
      spec.bitfieldSize = m.bitfieldSize;
      spec.steps.push({ type: m.type, name: m.name, index: idx, bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize });
      cur = m.type;
    } else if (t?.kind === 'array') {
      if (idx >= t.nelems && !(t.nelems === 0 && i === access.length - 1)) fail(sec, r, `index ${idx} is past ${btf.typeName(cur)}`);
      const elem = btf.sizeOf(t.type);
      spec.bitOffset += idx * elem * 8;
      spec.bitfieldSize = 0;
      spec.steps.push({ type: t.type, index: idx, bitOffset: idx * elem * 8, bitfieldSize: 0 });
      cur = t.type;
    } else {
      fail(sec, r, `step ${i} goes into ${btf.typeName(cur)}, which is neither a struct, a union nor an array`);
    }
  }
  return spec;
}

/** Whether a local field's type and a target field's type are compatible (libbpf's fields_are_compat). */
function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = lb.resolve(lid);
  const t = tb.resolve(tid);
  if (l === undefined || t === undefined) return l === t;
  const composite = (x: BtfType): boolean => x.kind === 'struct' || x.kind === 'union';
  if (composite(l) && composite(t)) return true;
  const enumish = (x: BtfType): boolean => x.kind === 'enum' || x.kind === 'enum64';
  if (enumish(l) && enumish(t)) return l.name === '' || t.name === '' || essentialName(l.name) === essentialName(t.name);
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'ptr': case 'float': return true;
    case 'fwd': return essentialName(l.name) === essentialName(t.name);
    case 'int': return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
    case 'array': return fieldsCompat(lb, l.type, tb, (t as { type: number }).type, depth + 1);
    default: return false;
  }
}

/**
 * A member by name in a target struct or union, looking through anonymous
 * members as C does; the path's bit offset is summed.
 */
function findMember(tb: Btf, typeId: number, name: string, depth = 0): { type: number; bitOffset: number; bitfieldSize: number } | undefined {
  const t = tb.resolve(typeId);
  if ((t?.kind !== 'struct' && t?.kind !== 'union') || depth > 32) return undefined;
  for (const m of t.members) {
    if (m.name === name) return { type: m.type, bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize };
    if (m.name === '') {
      const inner = findMember(tb, m.type, name, depth + 1);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return undefined;
}

/** The target side of a field access from one candidate root, or undefined when it does not match. */
function targetFieldSpec(lb: Btf, local: Spec, tb: Btf, root: number): Spec | undefined {
  // the same element of an array of the target type
  const spec: Spec = { root, rootIndex: local.rootIndex, steps: [], bitOffset: local.rootIndex * tb.sizeOf(root) * 8, bitfieldSize: 0 };
  let cur = root;
  for (const step of local.steps) {
    const t = tb.resolve(cur);
    if (step.name !== undefined) {
      if (step.name === '') return undefined; // an anonymous member cannot be matched by name
      const m = findMember(tb, cur, step.name);
      if (m === undefined || !fieldsCompat(lb, step.type, tb, m.type)) return undefined;
      spec.bitOffset += m.bitOffset;
      spec.bitfieldSize = m.bitfieldSize;
      spec.steps.push({ type: m.type, name: step.name, index: 0, bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize });
      cur = m.type;
    } else {
      if (t?.kind !== 'array') return undefined;
      const last = step === local.steps[local.steps.length - 1];
      if (step.index >= t.nelems && !(t.nelems === 0 && last)) return undefined;
      const elem = tb.sizeOf(t.type);
      spec.bitOffset += step.index * elem * 8;
      spec.bitfieldSize = 0;
      spec.steps.push({ type: t.type, index: step.index, bitOffset: step.index * elem * 8, bitfieldSize: 0 });
      cur = t.type;
    }
  }
  return spec;
}

/** The value a field relocation asks for, from a spec on its own BTF. */
function fieldValue(btf: Btf, spec: Spec, kind: string, sec: string, r: CoreRelo): bigint {
  const last = spec.steps[spec.steps.length - 1];
  const fieldType = last ? last.type : spec.root;
  if (kind === 'field_exists') return 1n;
  const t = btf.resolve(fieldType);
  const bitOff = spec.bitOffset;
  let byteSize: number;
  let byteOff: number;
  let bitSize: number;
  if (spec.bitfieldSize === 0) {
    byteSize = btf.sizeOf(fieldType);
    byteOff = bitOff / 8;
    bitSize = byteSize * 8;
    if (bitOff % 8 !== 0) fail(sec, r, 'a field that does not start on a byte');
  } else {
    // the smallest naturally aligned load that holds the whole bitfield
    bitSize = spec.bitfieldSize;
    byteSize = btf.sizeOf(fieldType);
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) fail(sec, r, 'a bitfield too big to load');
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  }
  switch (kind) {
    case 'field_byte_offset': return BigInt(byteOff);
    case 'field_byte_size': return BigInt(byteSize);
    case 'field_signed':
      if (t?.kind === 'enum' || t?.kind === 'enum64') return t.signed ? 1n : 0n;
      return t?.kind === 'int' && (t.encoding & 1) !== 0 ? 1n : 0n;
    // on a little-endian machine
    case 'field_lshift_u64': return BigInt(64 - (bitOff + bitSize - byteOff * 8));
    case 'field_rshift_u64': return BigInt(64 - bitSize);
    default: return fail(sec, r, 'unknown field relocation');
  }
}

/** libbpf's types_match, for the kinds programs ask it of: same shape by names, sizes and kinds. */
function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = lb.resolve(lid);
  const t = tb.resolve(tid);
  if (l === undefined || t === undefined) return l === t;
  if (l.kind !== t.kind && !((l.kind === 'enum' || l.kind === 'enum64') && (t.kind === 'enum' || t.kind === 'enum64'))) return false;
  switch (l.kind) {
    case 'int': return t.kind === 'int' && l.size === t.size && (l.encoding & 1) === (t.encoding & 1);
    case 'float': return t.kind === 'float' && l.size === t.size;
    case 'ptr': return typesMatch(lb, l.type, tb, (t as { type: number }).type, depth + 1);
    case 'array': return t.kind === 'array' && l.nelems === t.nelems && typesMatch(lb, l.type, tb, t.type, depth + 1);
    case 'enum': case 'enum64': {
      const tv = (t as { values: { name: string }[] }).values;
      return l.values.every((v) => tv.some((w) => essentialName(w.name) === essentialName(v.name)));
    }
    case 'struct': case 'union': {
      if (t.kind !== l.kind || l.members.length !== t.members.length) return false;
      return l.members.every((m) => {
        const tm = t.members.find((x) => x.name === m.name);
        return tm !== undefined && typesMatch(lb, m.type, tb, tm.type, depth + 1);
      });
    }
    case 'fwd': return essentialName(l.name) === essentialName(t.name);
    default: return false;
  }
}

/** Target types that may stand for a local type: same essential name, same kind (struct/union, enum/enum64...). */
function candidates(lb: Btf, localId: number, tb: Btf): number[] {
  const l = lb.type(localId);
  const name = essentialName(l.name);
  if (name === '') return [];
  const sameKind = (t: BtfType): boolean => {
    const enumish = (k: string): boolean => k === 'enum' || k === 'enum64';
    return t.kind === l.kind || (enumish(t.kind) && enumish(l.kind));
  };
  const out: number[] = [];
  tb.types.forEach((t, id) => {
    if (t !== undefined && id > 0 && sameKind(t) && essentialName(t.name) === name) out.push(id);
  });
  return out;
}

/** What one relocation resolves to: the local value (what the instruction holds) and the target's, or a poison. */
interface Resolution {
  local: bigint;
  target: bigint | 'poison';
  /** a field's byte size locally and in the target, for loads that must change width */
  localSize?: number;
  targetSize?: number;
}

function resolveRelo(lb: Btf, tb: Btf, sec: string, r: CoreRelo): Resolution {
  const access = parseAccess(sec, r);
  if (r.typeId <= 0 || r.typeId > lb.count) fail(sec, r, `local type ${r.typeId} does not exist`);
  if (r.kind === 'type_id_local') return { local: BigInt(r.typeId), target: BigInt(r.typeId) };
  const decide = (values: (bigint | undefined)[], localValue: bigint, what: string): bigint | 'poison' => {
    const found = values.filter((v): v is bigint => v !== undefined);
    if (found.length === 0) return EXISTENCE.has(r.kind) ? 0n : 'poison';
    if (found.some((v) => v !== found[0])) fail(sec, r, `the target's ${what} candidates disagree (local value ${localValue})`);
    return found[0]!;
  };
  if (FIELD_KINDS.has(r.kind)) {
    const local = localFieldSpec(lb, sec, r, access);
    const localValue = fieldValue(lb, local, r.kind, sec, r);
    const specs = candidates(lb, r.typeId, tb).map((c) => targetFieldSpec(lb, local, tb, c));
    const values = specs.map((s) => (s === undefined ? undefined : fieldValue(tb, s, r.kind, sec, r)));
    const target = decide(values, localValue, 'field');
    const res: Resolution = { local: localValue, target };
    const tspec = specs.find((s) => s !== undefined);
    if (r.kind === 'field_byte_offset' && tspec !== undefined) {
      res.localSize = Number(fieldValue(lb, local, 'field_byte_size', sec, r));
      res.targetSize = Number(fieldValue(tb, tspec, 'field_byte_size', sec, r));
    }
    return res;
  }
  if (TYPE_KINDS.has(r.kind)) {
    if (access.length !== 1 || access[0] !== 0) fail(sec, r, 'a type relocation\'s access string must be 0');
    const local = r.kind === 'type_size' ? BigInt(lb.sizeOf(r.typeId)) : 1n;
    const cands = candidates(lb, r.typeId, tb);
    const matching = r.kind === 'type_matches' ? cands.filter((c) => typesMatch(lb, r.typeId, tb, c)) : cands;
    const values = matching.map((c) => (r.kind === 'type_size' ? BigInt(tb.sizeOf(c)) : r.kind === 'type_id_target' ? BigInt(c) : 1n));
    // type_id_target's candidates are distinct types: the first answers, as ids cannot agree
    if (r.kind === 'type_id_target') return { local: BigInt(r.typeId), target: values.length === 0 ? 'poison' : values[0]! };
    return { local, target: decide(values, local, 'type') };
  }
  // enumerator relocations: access[0] is the enumerator's index in the local enum
  const l = lb.resolve(r.typeId);
  if (l?.kind !== 'enum' && l?.kind !== 'enum64') return fail(sec, r, `local type ${r.typeId} is not an enum`);
  if (access.length !== 1) fail(sec, r, 'an enumerator relocation\'s access string is one index');
  const ev = l.values[access[0]!];
  if (ev === undefined) return fail(sec, r, `enumerator ${access[0]} of ${lb.typeName(r.typeId)} does not exist`);
  const local = r.kind === 'enumval_exists' ? 1n : ev.value;
  const values = candidates(lb, r.typeId, tb).map((c) => {
    const t = tb.type(c) as { values: { name: string; value: bigint }[] };
    const hit = t.values.find((v) => essentialName(v.name) === essentialName(ev.name));
    return hit === undefined ? undefined : r.kind === 'enumval_exists' ? 1n : hit.value;
  });
  return { local, target: decide(values, local, 'enumerator') };
}

const CLS = (code: number): number => code & 7;
const SIZES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const SIZE_CODE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

/** Patch one instruction for its relocation, checking it held the local value. */
function patch(slots: Slot[], sec: string, r: CoreRelo, res: Resolution): void {
  const s = slots[r.insn];
  if (s === undefined) fail(sec, r, `instruction ${r.insn} is outside the section (${slots.length} instructions)`);
  if (res.target === 'poison') {
    // a call the verifier refuses if it reaches it; an ld_imm64's second slot becomes dead code behind it
    s.code = 0x85;
    s.dst = 0;
    s.src = 0;
    s.off = 0;
    s.imm = CORE_POISON;
    return;
  }
  const cls = CLS(s.code);
  const v = res.target;
  const mismatch = (got: bigint): never => fail(sec, r, `instruction ${r.insn} holds ${got}, not the local value ${res.local}`);
  if ((cls === 4 || cls === 7) && (s.code & 0x08) === 0) {
    // ALU/ALU64 with an immediate
    if (BigInt(s.imm) !== BigInt.asIntN(32, res.local) && BigInt(s.imm >>> 0) !== res.local) mismatch(BigInt(s.imm));
    if (v > 0xffffffffn || v < -0x80000000n) fail(sec, r, `value ${v} does not fit an immediate`);
    s.imm = Number(BigInt.asIntN(32, v));
    return;
  }
  if (cls === 1 || cls === 2 || cls === 3) {
    // LDX, ST, STX: only an offset can move
    if (r.kind !== 'field_byte_offset') fail(sec, r, `a ${r.kind} relocation on a memory instruction`);
    if (BigInt(s.off) !== res.local) mismatch(BigInt(s.off));
    if (v > 0x7fffn) fail(sec, r, `offset ${v} does not fit an instruction's 16 bits`);
    s.off = Number(v);
    if (res.targetSize !== undefined && res.localSize !== undefined && res.targetSize !== res.localSize) {
      const width = SIZES[s.code & 0x18]!;
      if (width !== res.localSize) fail(sec, r, `the access is ${width} bytes wide, the field ${res.localSize}`);
      if (cls !== 1 || SIZE_CODE[res.targetSize] === undefined) {
        fail(sec, r, `the field is ${res.targetSize} bytes in the target and ${res.localSize} here: only loads of 1, 2, 4 or 8 bytes can follow it`);
      }
      s.code = (s.code & ~0x18) | SIZE_CODE[res.targetSize]!;
    }
    return;
  }
  if (s.code === 0x18) {
    const next = slots[r.insn + 1];
    if (next === undefined) fail(sec, r, 'the ld_imm64 is cut off by the end of the section');
    const held = (BigInt(next!.imm >>> 0) << 32n) | BigInt(s.imm >>> 0);
    if (held !== BigInt.asUintN(64, res.local)) mismatch(held);
    const u = BigInt.asUintN(64, v);
    s.imm = Number(BigInt.asIntN(32, u & 0xffffffffn));
    next!.imm = Number(BigInt.asIntN(32, u >> 32n));
    return;
  }
  fail(sec, r, `instruction ${r.insn} (opcode 0x${s.code.toString(16)}) cannot be relocated`);
}

/**
 * Apply a section's CO-RE relocations to its instructions in place, against
 * `target` (the context types by default). Errors are EINVAL naming the
 * section, instruction and access.
 */
export function applyCoreRelos(slots: Slot[], section: string, relos: readonly CoreRelo[], local: Btf, target: Btf = coreTargetBtf()): void {
  for (const r of relos) patch(slots, section, r, resolveRelo(local, target, section, r));
}

/**
 * The CO-RE relocations of an object, applied section by section: undefined
 * when its `.BTF.ext` records none. A malformed `.BTF` or `.BTF.ext` is
 * EINVAL here (libbpf would go on without them, and load the instructions
 * unrelocated: wrong offsets are worse than a refusal).
 */
export function coreRelocator(elf: ElfFile): ((slots: Slot[], section: string) => void) | undefined {
  const extSec = elf.sectionByName('.BTF.ext');
  const btfSec = elf.sectionByName('.BTF');
  if (!extSec || !btfSec) return undefined;
  const local = new BtfReader(btfSec.data());
  const ext = parseBtfExt(extSec.data(), local);
  let any = false;
  for (const list of ext.coreRelos.values()) if (list.length > 0) any = true;
  if (!any) return undefined;
  return (slots, section) => {
    const relos = ext.coreRelos.get(section);
    if (relos && relos.length > 0) applyCoreRelos(slots, section, relos, local);
  };
}
