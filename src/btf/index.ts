/**
 * BTF (`tsbpf/btf`): the `.BTF` type reader (`Btf`: every kind, names,
 * resolution, sizes) and the `.BTF.ext` records (`parseBtfExt`: functions,
 * source lines, CO-RE relocations), for objects compiled with -g.
 */
export {
  Btf, BtfStrings, BTF_KIND, BTF_MAGIC, BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL, BTF_FUNC_LINKAGE, BTF_VAR_LINKAGE, BTF_MAX_TYPE,
  sectionError,
} from './btf.js';
export type { BtfKindName, BtfType, BtfMember, BtfEnumValue, BtfParam, BtfVarSecinfo } from './btf.js';
export { parseBtfExt, CORE_RELO_KINDS } from './ext.js';
export type { BtfExt, FuncInfo, LineInfo, CoreRelo, CoreReloKind } from './ext.js';
export { btfCodec, BTF_VALUE_MAX_FIELDS } from './values.js';
export type { BtfCodec, BtfCodecOptions, BtfValue } from './values.js';
export { btfDump, btfDumpDatasec, btfJson, btfText, BtfDumpLeaf, BtfDumpObject, PrettyWriter } from './dump.js';
export type { BtfDumpNode } from './dump.js';
