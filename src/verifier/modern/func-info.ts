/**
 * Func info for the modern verifier: what BPF_PROG_LOAD's func_info (with
 * the program's BTF) tells it of each subprogram, already resolved, so that
 * BTF itself stays out of the verifier. Per subprogram: its first
 * instruction, its name, its linkage, and for a global function the kinds
 * of its arguments and whether it returns a scalar, as the 6.18 kernel's
 * btf_prepare_func_args derives them from the prototype. It owns that
 * translation (`globalFuncArgs`, against a small view of BTF types that the
 * BTF reader's types satisfy), the checks the kernel makes of func_info
 * against the program's subprograms (check_btf_func_early, check_btf_func),
 * and the messages the kernel gives where a global prototype cannot be used.
 * What a global function means for the walk is walker.ts's.
 */

import { BpfError } from '../../errors.js';

/** How a global function's argument is typed (the kernel's bpf_subprog_arg_info, the kinds tsbpf models). */
export type GlobalArg =
  /** ARG_ANYTHING: an int or enum; any scalar */
  | { readonly kind: 'scalar' }
  /** ARG_PTR_TO_CTX: a pointer to the program type's context struct, or tagged `arg:ctx` */
  | { readonly kind: 'ctx' }
  /** ARG_PTR_TO_MEM: a pointer to `size` bytes; NULL allowed unless tagged `arg:nonnull` */
  | { readonly kind: 'mem'; readonly size: number; readonly nullable: boolean }
  /** a type the verifier cannot use: the message the kernel prints for it */
  | { readonly kind: 'unsupported'; readonly message: string };

/** One func_info record, resolved: the subprogram starting at `insn`. */
export interface FuncInfoEntry {
  readonly insn: number;
  readonly name: string;
  readonly linkage: 'static' | 'global';
  /** global functions: the prototype's arguments in order (more than 5 is refused at a call) */
  readonly args?: readonly GlobalArg[];
  /** global functions: the prototype returns an int or an enum (anything else is refused at a call) */
  readonly returnsScalar?: boolean;
}

/** The most arguments a bpf-to-bpf call passes in registers (MAX_BPF_FUNC_REG_ARGS). */
export const MAX_FUNC_REG_ARGS = 5;

/**
 * The kernel's checks of the func_info records against the program before
 * the subprograms are known (check_btf_func_early): the first record at
 * insn 0 and the rest ascending. The kernel's messages here have no newline.
 */
export function funcInfoEarly(info: readonly FuncInfoEntry[]): string | undefined {
  for (let i = 0; i < info.length; i++) {
    const off = info[i]!.insn;
    if (i === 0) {
      if (off !== 0) return `nonzero insn_off ${off} for the first func info record`;
    } else if (off <= info[i - 1]!.insn) {
      return `same or smaller insn offset (${off}) than previous func info record (${info[i - 1]!.insn})`;
    }
  }
  return undefined;
}

/** check_btf_func: one record per subprogram, each at the subprogram's first instruction. */
export function funcInfoLayout(info: readonly FuncInfoEntry[], subprogs: readonly number[]): string | undefined {
  if (info.length !== subprogs.length) return 'number of funcs in func_info doesn\'t match number of subprogs';
  for (let i = 0; i < info.length; i++) {
    if (info[i]!.insn !== subprogs[i]) return 'func_info BTF section doesn\'t match subprog layout in BPF program';
  }
  return undefined;
}

/**
 * Why a global function's prototype cannot be used (btf_prepare_func_args
 * for a global function), or undefined when it can: the kernel's lines, in
 * its order (argument count, return type, then each argument).
 */
export function prototypeProblem(fn: FuncInfoEntry): string | undefined {
  const args = fn.args ?? [];
  if (args.length > MAX_FUNC_REG_ARGS) return `Global function ${fn.name}() with ${args.length} > ${MAX_FUNC_REG_ARGS} args. Buggy compiler.`;
  if (fn.returnsScalar !== true) return `Global function ${fn.name}() doesn't return scalar. Only those are supported.`;
  for (const a of args) if (a.kind === 'unsupported') return a.message;
  return undefined;
}

// ---- from BTF ----

/**
 * The part of a BTF type the translation reads: the BTF reader's types
 * (src/btf) have these fields, so its `types` array can be passed as is.
 */
export interface BtfTypeView {
  readonly kind: string;
  readonly name: string;
  /** the type referred to (ptr, modifiers, func, func_proto's return, array's element, decl_tag's target) */
  readonly type?: number;
  /** int, struct, union, enum, enum64, float */
  readonly size?: number;
  /** array */
  readonly nelems?: number;
  /** func_proto */
  readonly params?: readonly { readonly name: string; readonly type: number }[];
  /** func: 0 static, 1 global, 2 extern */
  readonly linkage?: number;
  /** decl_tag: the parameter it tags (-1 for the function itself) */
  readonly componentIdx?: number;
}

/** A BTF type table: `types[id]`, id 0 (void) undefined. */
export interface BtfView {
  readonly types: readonly (BtfTypeView | undefined)[];
}

const MODIFIER_KINDS = new Set(['typedef', 'volatile', 'const', 'restrict', 'type_tag']);
/** btf_type_str: the kind as the kernel names it (void is kind 0, UNKNOWN) */
const KIND_STR: Record<string, string> = {
  int: 'INT', ptr: 'PTR', array: 'ARRAY', struct: 'STRUCT', union: 'UNION', enum: 'ENUM', fwd: 'FWD', typedef: 'TYPEDEF',
  volatile: 'VOLATILE', const: 'CONST', restrict: 'RESTRICT', func: 'FUNC', func_proto: 'FUNC_PROTO', var: 'VAR',
  datasec: 'DATASEC', float: 'FLOAT', decl_tag: 'DECL_TAG', type_tag: 'TYPE_TAG', enum64: 'ENUM64',
};
const EINVAL = 22;
const MAX_RESOLVE = 32;

function skipModifiers(btf: BtfView, id: number): { id: number; t: BtfTypeView | undefined } {
  let t = btf.types[id];
  for (let n = 0; t !== undefined && MODIFIER_KINDS.has(t.kind) && n < MAX_RESOLVE; n++) {
    id = t.type ?? 0;
    t = btf.types[id];
  }
  return { id, t };
}

/** btf_resolve_size: the size of a type with a size, through modifiers and arrays; undefined for void, fwd, func. */
function resolveSize(btf: BtfView, id: number, depth = 0): number | undefined {
  if (depth > MAX_RESOLVE) return undefined;
  const t = skipModifiers(btf, id).t;
  if (t === undefined) return undefined;
  switch (t.kind) {
    case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'float':
      return t.size;
    case 'ptr':
      return 8;
    case 'array': {
      const e = resolveSize(btf, t.type ?? 0, depth + 1);
      return e === undefined ? undefined : e * (t.nelems ?? 0);
    }
    default:
      return undefined;
  }
}

/**
 * The context struct names of a program type, for `globalFuncArgs`: the
 * uapi struct a program declares and the kernel struct it stands for (the
 * kernel accepts either, btf_is_projection_of), by BPF_PROG_TYPE_*; empty
 * for types without one (tsbpf's mem type: a context argument needs `arg:ctx`).
 */
export function ctxStructsOf(progType: number): readonly string[] {
  switch (progType) {
    case 1: case 3: case 4: // socket filter, sched_cls, sched_act
      return ['__sk_buff', 'sk_buff'];
    case 6: // xdp
      return ['xdp_md', 'xdp_buff'];
    default:
      return [];
  }
}

/** The global function's translation: linkage, arguments and return, from its FUNC type. */
export interface GlobalFuncProto {
  name: string;
  linkage: 'static' | 'global';
  args?: GlobalArg[];
  returnsScalar?: boolean;
}

/**
 * btf_prepare_func_args for the FUNC type `funcId`: its linkage and, for a
 * global function, its arguments' kinds and whether it returns a scalar.
 * `ctxStructs`: the names of the program type's context struct (the uapi
 * one and the kernel's it projects, `__sk_buff` and `sk_buff`); a pointer to
 * one of them is a context argument. Tags (`arg:...` decl tags on a
 * parameter): `ctx`, `nonnull` and `nullable` (which needs `trusted`) as the
 * kernel; `trusted` and `untrusted` name kernel types, none of which tsbpf
 * has (the kernel's message for a type it does not find), and `arena` needs
 * an arena: those arguments are unsupported. (The kernel's errno for an
 * unknown tag is EOPNOTSUPP, for an unmatched type ENOENT; the verifier
 * refuses every unsupported argument with EINVAL.) Throws a plain Error when `funcId` is
 * not a FUNC of a FUNC_PROTO: the loader checked that when it read func_info.
 */
export function globalFuncArgs(btf: BtfView, funcId: number, ctxStructs: readonly string[]): GlobalFuncProto {
  const fn = btf.types[funcId];
  if (fn?.kind !== 'func') throw new BpfError('EINVAL', `BTF type ${funcId} is not a FUNC`);
  const linkage = fn.linkage === 1 ? 'global' : 'static';
  if (linkage === 'static') return { name: fn.name, linkage };
  const proto = btf.types[fn.type ?? 0];
  if (proto?.kind !== 'func_proto') throw new BpfError('EINVAL', `BTF type ${fn.type ?? 0} of ${fn.name} is not a FUNC_PROTO`);
  const params = proto.params ?? [];
  const ret = skipModifiers(btf, proto.type ?? 0).t;
  const returnsScalar = ret !== undefined && (ret.kind === 'int' || ret.kind === 'enum' || ret.kind === 'enum64');
  // decl tags `arg:<tag>` on each parameter, in type id order as the kernel finds them
  const tags: string[][] = params.map(() => []);
  btf.types.forEach((t) => {
    if (t?.kind === 'decl_tag' && t.type === funcId && t.name.startsWith('arg:')) {
      const i = t.componentIdx ?? -1;
      if (i >= 0 && i < tags.length) tags[i]!.push(t.name.slice(4));
    }
  });
  const args = params.map((p, i): GlobalArg => {
    const unsupported = (message: string): GlobalArg => ({ kind: 'unsupported', message });
    const tg = tags[i]!;
    for (const tag of tg) {
      if (!['ctx', 'trusted', 'untrusted', 'nonnull', 'nullable', 'arena'].includes(tag)) return unsupported(`arg#${i} has unsupported set of tags`);
    }
    const t = skipModifiers(btf, p.type).t;
    if (t?.kind !== 'ptr') {
      if (tg.length) return unsupported(`arg#${i} has pointer tag, but is not a pointer type`);
      if (t !== undefined && (t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64')) return { kind: 'scalar' };
      return unsupported(`Arg#${i} type ${t === undefined ? 'UNKNOWN' : KIND_STR[t.kind] ?? 'UNKNOWN'} in ${fn.name}() is not supported yet.`);
    }
    const target = skipModifiers(btf, t.type ?? 0).t;
    const ref = target === undefined ? 'UNKNOWN ' : `${KIND_STR[target.kind] ?? 'UNKNOWN'} ${target.name}`;
    const isCtx = target?.kind === 'struct' && ctxStructs.includes(target.name);
    if (tg.includes('ctx') || isCtx) {
      if (tg.some((x) => x !== 'ctx')) return unsupported(`arg#${i} has invalid combination of tags`);
      // btf_validate_prog_ctx_type: a tagged pointer is to void or to the context's struct
      if (!isCtx && target !== undefined) return unsupported(`arg#${i} should be \`${ctxStructs[0] ? `struct ${ctxStructs[0]}` : 'void'} *\``);
      return { kind: 'ctx' };
    }
    // trusted and untrusted pointers are to kernel types: tsbpf has none, so none matches
    if (tg.includes('trusted') || tg.includes('untrusted')) return unsupported(`arg#${i} reference type('${ref}') has no matches`);
    if (tg.includes('arena')) return unsupported(`arg#${i}: arg:arena needs a BPF arena, which tsbpf does not have`);
    if (tg.includes('nullable')) return unsupported(`arg#${i} has invalid combination of tags`);
    const size = resolveSize(btf, t.type ?? 0);
    if (size === undefined) return unsupported(`arg#${i} reference type('${ref}') size cannot be determined: -${EINVAL}`);
    return { kind: 'mem', size, nullable: !tg.includes('nonnull') };
  });
  return { name: fn.name, linkage, args, returnsScalar };
}
