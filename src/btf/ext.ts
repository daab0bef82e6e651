/**
 * The `.BTF.ext` section: what clang records about the code, by ELF section
 * name, with strings and types from the `.BTF` beside it. func_info (where
 * each function starts, and its FUNC type), line_info (the source line an
 * instruction came from: file, line text, line number and column) and the
 * CO-RE relocations (read as records only; applying them is a later task).
 * Offsets in the object are bytes into the section; here they are
 * instruction indexes (a byte offset that is not a multiple of 8 is bad
 * input). Each record's extent, string and type id is checked; errors are
 * BpfError EINVAL `section .BTF.ext: offset N: ...`, and the work is linear
 * in the section.
 */

import { BTF_MAGIC, sectionError } from './btf.js';
import type { Btf } from './btf.js';

/** A function's first instruction and its FUNC type (bpf_func_info). */
export interface FuncInfo {
  /** the instruction index in its section */
  insn: number;
  /** the FUNC type's id */
  typeId: number;
  /** the FUNC type's name */
  name: string;
}

/** The source of an instruction (bpf_line_info). */
export interface LineInfo {
  /** the instruction index in its section */
  insn: number;
  /** the source file's name as the compiler recorded it (a path, maybe relative) */
  file: string;
  /** the line's text as it is in the source, leading whitespace included */
  line: string;
  /** 1-based line number (the upper 22 bits of line_col) */
  lineNum: number;
  /** column (the lower 10 bits of line_col), 0 when unknown */
  col: number;
  /** the string offsets, for callers that hand records on (the kernel takes them as they are) */
  fileNameOff: number;
  lineOff: number;
}

/** The CO-RE relocation kinds (enum bpf_core_relo_kind), by number. */
export const CORE_RELO_KINDS = [
  'field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64', 'field_rshift_u64',
  'type_id_local', 'type_id_target', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
] as const;
export type CoreReloKind = (typeof CORE_RELO_KINDS)[number];

/** One CO-RE relocation (bpf_core_relo), as recorded: not applied. */
export interface CoreRelo {
  insn: number;
  /** the local type the access starts from */
  typeId: number;
  /** the access string (`0:1:2`: member indexes) */
  access: string;
  kind: CoreReloKind;
}

/** A parsed `.BTF.ext`: records grouped by the ELF section they describe, in the order they come. */
export interface BtfExt {
  version: number;
  flags: number;
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
}

/** The smallest record sizes the format has had: a larger rec_size has fields this reader skips. */
const MIN_REC = { func: 8, line: 16, core: 16 } as const;

/** Read a `.BTF.ext` against its `.BTF`. */
export function parseBtfExt(data: Uint8Array, btf: Btf): BtfExt {
  const err = (at: number, msg: string): Error => sectionError('.BTF.ext', `offset ${at}: ${msg}`);
  if (data.length < 8) throw err(0, `${data.length} bytes, too short for a header`);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = v.getUint16(0, true);
  if (magic !== BTF_MAGIC) throw err(0, `bad magic 0x${magic.toString(16)}${magic === 0x9feb ? ' (a big-endian BTF)' : ''}`);
  const version = v.getUint8(2);
  if (version !== 1) throw err(2, `version ${version} (only 1 is known)`);
  const hdrLen = v.getUint32(4, true);
  // func_info and line_info came first (24 bytes of header); core_relo later (32)
  if (hdrLen < 24 || hdrLen > data.length) throw err(4, `header length ${hdrLen} is not between 24 and the section's ${data.length} bytes`);
  const out: BtfExt = { version, flags: v.getUint8(3), funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map() };
  const str = (at: number, what: string): string => btf.strings.at(v.getUint32(at, true), `offset ${at}: ${what}`, '.BTF.ext');
  const insnOf = (at: number): number => {
    const off = v.getUint32(at, true);
    if (off % 8 !== 0) throw err(at, `instruction offset ${off} is not a multiple of 8`);
    return off / 8;
  };

  /**
   * One info region: a u32 record size, then per section its name, a count
   * and that many records. `read` turns the record at an offset into a value.
   */
  const region = <T>(hdrField: number, what: keyof typeof MIN_REC, into: Map<string, T[]>, read: (at: number, sec: string) => T): void => {
    const off = v.getUint32(hdrField, true);
    const len = v.getUint32(hdrField + 4, true);
    if (len === 0) return;
    const start = hdrLen + off;
    const end = start + len;
    if (end > data.length) throw err(hdrField, `the ${what} records (${len} bytes at ${start}) run past the section's ${data.length} bytes`);
    if (len < 4) throw err(start, `the ${what} records have no record size`);
    const recSize = v.getUint32(start, true);
    if (recSize < MIN_REC[what] || recSize % 4 !== 0) throw err(start, `${what} record size ${recSize} (at least ${MIN_REC[what]}, a multiple of 4)`);
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw err(p, `a ${what} section header runs past the records`);
      const sec = str(p, `${what} section name`);
      const n = v.getUint32(p + 4, true);
      if (n === 0) throw err(p + 4, `section ${sec} has no ${what} records`);
      p += 8;
      if (n > (end - p) / recSize) throw err(p - 4, `${n} ${what} records of ${recSize} bytes run past the records`);
      let list = into.get(sec);
      if (list === undefined) into.set(sec, (list = []));
      for (let i = 0; i < n; i++, p += recSize) list.push(read(p, sec));
    }
  };

  const funcType = (at: number): { typeId: number; name: string } => {
    const typeId = v.getUint32(at, true);
    const t = btf.types[typeId];
    if (t === undefined || t.kind !== 'func') throw err(at, `type ${typeId} is not a FUNC`);
    return { typeId, name: t.name };
  };
  region(8, 'func', out.funcInfo, (at) => ({ insn: insnOf(at), ...funcType(at + 4) }));
  region(16, 'line', out.lineInfo, (at) => {
    const lineCol = v.getUint32(at + 12, true);
    const fileNameOff = v.getUint32(at + 4, true);
    const lineOff = v.getUint32(at + 8, true);
    return {
      insn: insnOf(at),
      file: str(at + 4, 'file name'),
      line: str(at + 8, 'line'),
      lineNum: lineCol >>> 10,
      col: lineCol & 0x3ff,
      fileNameOff,
      lineOff,
    };
  });
  if (hdrLen >= 32) {
    region(24, 'core', out.coreRelos, (at) => {
      const typeId = v.getUint32(at + 4, true);
      if (typeId === 0 || typeId > btf.count) throw err(at + 4, `type ${typeId} does not exist (${btf.count} types)`);
      const kindNo = v.getUint32(at + 12, true);
      const kind = CORE_RELO_KINDS[kindNo];
      if (kind === undefined) throw err(at + 12, `unknown CO-RE relocation kind ${kindNo}`);
      return { insn: insnOf(at), typeId, access: str(at + 8, 'access string'), kind };
    });
  }
  // records of one section in instruction order: the kernel requires it, and lookups bisect
  for (const [what, m] of [['func', out.funcInfo], ['line', out.lineInfo]] as const) {
    for (const [sec, list] of m) {
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.insn < list[i - 1]!.insn || (what === 'func' && list[i]!.insn === list[i - 1]!.insn)) {
          throw sectionError('.BTF.ext', `section ${sec}: ${what} record ${i} (insn ${list[i]!.insn}) is out of order after insn ${list[i - 1]!.insn}`);
        }
      }
    }
  }
  return out;
}
