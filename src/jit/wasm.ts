/**
 * A small WebAssembly binary writer: just what the JIT emits (one memory
 * import, function imports, mutable globals, functions with locals,
 * exports), as bytes, with no toolchain at run time. Opcodes are named after
 * the text format.
 */

export const T = { i32: 0x7f, i64: 0x7e } as const;

/**
 * A growable byte buffer. The bytes live in a Uint8Array that doubles as it
 * fills (the JIT emits tens of bytes per instruction: a number[] grown one
 * push at a time cost a quarter of a compile, and the collections after it).
 */
export class Bytes {
  protected data = new Uint8Array(256);
  protected n = 0;
  /** the bytes written so far (a view: valid until the next write) */
  get buf(): Uint8Array {
    return this.data.subarray(0, this.n);
  }
  /** room for `k` more bytes */
  private room(k: number): void {
    if (this.n + k <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.n + k) size *= 2;
    const d = new Uint8Array(size);
    d.set(this.data.subarray(0, this.n));
    this.data = d;
  }
  byte(b: number): this {
    if (this.n === this.data.length) this.room(1);
    this.data[this.n++] = b;
    return this;
  }
  bytes(bs: ArrayLike<number>): this {
    this.room(bs.length);
    if (bs instanceof Uint8Array) this.data.set(bs, this.n);
    else for (let i = 0; i < bs.length; i++) this.data[this.n + i] = bs[i]!;
    this.n += bs.length;
    return this;
  }
  u32(v: number): this {
    this.room(5);
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.data[this.n++] = b;
    } while (x !== 0);
    return this;
  }
  s32(v: number): this {
    this.room(5);
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.data[this.n++] = b;
        return this;
      }
      this.data[this.n++] = b | 0x80;
    }
  }
  s64(v: bigint): this {
    this.room(10);
    let x = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
        this.data[this.n++] = b;
        return this;
      }
      this.data[this.n++] = b | 0x80;
    }
  }
  /**
   * A signed LEB128 of a safe integer (|v| < 2^53) without BigInt: most
   * i64 constants the JIT emits are small, and a BigInt per constant was
   * an allocation per instruction.
   */
  sNum(v: number): this {
    this.room(10);
    let x = v;
    for (;;) {
      // the low 7 bits of the two's complement, and an arithmetic shift by 7 (floor division)
      const b = ((x % 128) + 128) % 128;
      x = Math.floor(x / 128);
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.data[this.n++] = b;
        return this;
      }
      this.data[this.n++] = b | 0x80;
    }
  }
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }
  /** a length-prefixed vector of the bytes of `inner` */
  sized(inner: Bytes): this {
    return this.u32(inner.n).bytes(inner.buf);
  }
}

export interface FuncType {
  params: number[];
  results: number[];
}

export interface ModuleSpec {
  types: FuncType[];
  /** imported functions: module, name, type index */
  funcImports: { module: string; name: string; type: number }[];
  /** shared: a shared memory (threads), whose limits must have a maximum */
  memoryImport: { module: string; name: string; minPages: number; maxPages?: number; shared?: boolean };
  /**
   * defined mutable globals, each with a constant initial value: state the
   * compiled code keeps outside linear memory, where a program's stores
   * cannot reach it (the call depth, the hardened mode's region bounds)
   */
  globals?: { type: number; init: number | bigint }[];
  /** defined functions: type index, local groups, body (without the final `end`) */
  funcs: { type: number; locals: [count: number, type: number][]; body: Bytes }[];
  /** a function or a global, by index */
  exports: ({ name: string; func: number } | { name: string; global: number })[];
}

export function encodeModule(m: ModuleSpec): Uint8Array {
  const out = new Bytes().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, content: Bytes): void => {
    out.byte(id).sized(content);
  };
  const types = new Bytes().u32(m.types.length);
  for (const t of m.types) {
    types.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
  }
  section(1, types);
  const imports = new Bytes().u32(m.funcImports.length + 1);
  for (const f of m.funcImports) imports.name(f.module).name(f.name).byte(0x00).u32(f.type);
  const mem = m.memoryImport;
  imports.name(mem.module).name(mem.name).byte(0x02);
  if (mem.maxPages === undefined) imports.byte(0x00).u32(mem.minPages);
  else imports.byte(mem.shared === true ? 0x03 : 0x01).u32(mem.minPages).u32(mem.maxPages);
  section(2, imports);
  const funcs = new Bytes().u32(m.funcs.length);
  for (const f of m.funcs) funcs.u32(f.type);
  section(3, funcs);
  if (m.globals && m.globals.length > 0) {
    const globals = new Bytes().u32(m.globals.length);
    for (const g of m.globals) {
      globals.byte(g.type).byte(0x01); // mutable
      if (g.type === T.i64) globals.byte(OP.i64_const).s64(BigInt(g.init));
      else globals.byte(OP.i32_const).s32(Number(g.init));
      globals.byte(0x0b);
    }
    section(6, globals);
  }
  const exports = new Bytes().u32(m.exports.length);
  for (const e of m.exports) {
    if ('func' in e) exports.name(e.name).byte(0x00).u32(e.func);
    else exports.name(e.name).byte(0x03).u32(e.global);
  }
  section(7, exports);
  const code = new Bytes().u32(m.funcs.length);
  for (const f of m.funcs) {
    const body = new Bytes().u32(f.locals.length);
    for (const [n, t] of f.locals) body.u32(n).byte(t);
    body.bytes(f.body.buf).byte(0x0b);
    code.sized(body);
  }
  section(10, code);
  return out.buf.slice();
}

/** Opcodes used by the JIT. */
export const OP = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, br_if: 0x0d, br_table: 0x0e,
  return: 0x0f, call: 0x10, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  i32_load: 0x28, i64_load: 0x29, i32_load8_s: 0x2c, i32_load8_u: 0x2d, i32_load16_s: 0x2e, i32_load16_u: 0x2f,
  i64_load8_s: 0x30, i64_load8_u: 0x31, i64_load16_s: 0x32, i64_load16_u: 0x33, i64_load32_s: 0x34, i64_load32_u: 0x35,
  i32_store: 0x36, i64_store: 0x37, i32_store8: 0x3a, i32_store16: 0x3b, i64_store8: 0x3c, i64_store16: 0x3d, i64_store32: 0x3e,
  i32_const: 0x41, i64_const: 0x42,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a, i32_gt_u: 0x4b,
  i32_le_s: 0x4c, i32_le_u: 0x4d, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  i64_eqz: 0x50, i64_eq: 0x51, i64_ne: 0x52, i64_lt_s: 0x53, i64_lt_u: 0x54, i64_gt_s: 0x55, i64_gt_u: 0x56,
  i64_le_s: 0x57, i64_le_u: 0x58, i64_ge_s: 0x59, i64_ge_u: 0x5a,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_div_s: 0x6d, i32_div_u: 0x6e, i32_rem_s: 0x6f, i32_rem_u: 0x70,
  i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73, i32_shl: 0x74, i32_shr_s: 0x75, i32_shr_u: 0x76, i32_rotl: 0x77, i32_rotr: 0x78,
  i64_add: 0x7c, i64_sub: 0x7d, i64_mul: 0x7e, i64_div_s: 0x7f, i64_div_u: 0x80, i64_rem_s: 0x81, i64_rem_u: 0x82,
  i64_and: 0x83, i64_or: 0x84, i64_xor: 0x85, i64_shl: 0x86, i64_shr_s: 0x87, i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7, i64_extend_i32_s: 0xac, i64_extend_i32_u: 0xad,
  i32_extend8_s: 0xc0, i32_extend16_s: 0xc1, i64_extend8_s: 0xc2, i64_extend16_s: 0xc3, i64_extend32_s: 0xc4,
} as const;

/** block type: no result */
export const VOID = 0x40;

/**
 * The threads proposal's atomic instructions the JIT emits (after the 0xfe
 * prefix): loads and stores, and the read-modify-writes of 64 bits and of
 * 32 bits zero-extended to i64 (the eBPF atomics' two widths).
 */
export const ATOMIC = {
  i32_load: 0x10, i32_store: 0x17,
  i64_rmw_add: 0x1f, i64_rmw32_add_u: 0x24,
  i64_rmw_and: 0x2d, i64_rmw32_and_u: 0x32,
  i64_rmw_or: 0x34, i64_rmw32_or_u: 0x39,
  i64_rmw_xor: 0x3b, i64_rmw32_xor_u: 0x40,
  i64_rmw_xchg: 0x42, i64_rmw32_xchg_u: 0x47,
  i64_rmw_cmpxchg: 0x49, i64_rmw32_cmpxchg_u: 0x4e,
} as const;

/** Instruction helpers over a code buffer: opcodes, locals, constants, memory accesses (memarg align 0). */
export class Emitter extends Bytes {
  op(o: number): this {
    return this.byte(o);
  }
  get(l: number): this {
    return this.byte(OP.local_get).u32(l);
  }
  set(l: number): this {
    return this.byte(OP.local_set).u32(l);
  }
  tee(l: number): this {
    return this.byte(OP.local_tee).u32(l);
  }
  gget(g: number): this {
    return this.byte(OP.global_get).u32(g);
  }
  gset(g: number): this {
    return this.byte(OP.global_set).u32(g);
  }
  /** memory.copy (bulk memory, memmove's semantics): dest, source, length on the stack */
  copy(): this {
    return this.byte(0xfc).u32(10).byte(0).byte(0);
  }
  /** the memory's size in bytes, as an i64 (memory.size is in 64 KiB pages) */
  memBytes64(): this {
    return this.byte(0x3f).byte(0).byte(OP.i64_extend_i32_u).i64(16).byte(OP.i64_shl);
  }
  /** memory.fill (bulk memory): dest, value, length on the stack */
  fill(): this {
    return this.byte(0xfc).u32(11).byte(0);
  }
  i32(v: number): this {
    return this.byte(OP.i32_const).s32(v);
  }
  i64(v: bigint | number): this {
    this.byte(OP.i64_const);
    return typeof v === 'number' && Number.isSafeInteger(v) ? this.sNum(v) : this.s64(BigInt(v));
  }
  /** a load or store `o` with a static offset */
  mem(o: number, offset = 0): this {
    return this.byte(o).u32(0).u32(offset);
  }
  /** an atomic instruction (ATOMIC) of `bytes` bytes (its alignment, which atomics must state exactly) with a static offset */
  atomic(o: number, bytes: 4 | 8, offset = 0): this {
    return this.byte(0xfe).u32(o).u32(bytes === 8 ? 3 : 2).u32(offset);
  }
}
