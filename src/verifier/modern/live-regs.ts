/**
 * Two analyses the 6.18 kernel runs over the whole program before its walk,
 * and prints at log level 2 as the `Live regs before insn:` table: which of
 * r0-r9 each instruction may read before they are written again (a
 * backward dataflow over the control-flow graph, from what each instruction
 * uses and defines), and the strongly connected components of that graph
 * (the loops: each instruction of a component of two or more instructions,
 * or of one that jumps to itself, gets the component's number, counted from
 * 1 in the order Tarjan's depth-first search completes them, successors
 * taken fall-through first as the kernel takes them).
 *
 * Only the log shows them here: the walk does not use them (the kernel's
 * use of the live set, cleaning dead registers from states before they are
 * compared, gives the same verdicts as tsbpf's read marks).
 */

import type { Slot } from '../../isa/instruction.js';
import { disasmInsn } from '../../isa/disasm.js';
import { uapiHelperName } from '../../isa/uapi.js';
import type { HelperProto } from '../../runtime/helpers.js';

const ALL = 0xffff;
/** r0-r5: what a call may change */
const CALLER_SAVED = 0x3f;

/** The instructions control may go to after `i`: fall-through first, then the jump's target. */
export function successors(insns: readonly Slot[], i: number): number[] {
  const s = insns[i]!;
  const cls = s.code & 7;
  if (s.code === 0x18) return [i + 2];
  if (cls !== 5 && cls !== 6) return [i + 1];
  const op = s.code & 0xf0;
  if (op === 0x90) return []; // exit
  if (op === 0x80) return [i + 1]; // a call returns
  if (op === 0x00) return [i + 1 + (cls === 6 ? s.imm : s.off)]; // ja; gotol's offset is imm
  return [i + 1, i + 1 + s.off];
}

/** The registers an instruction reads and writes (bits 0-10; reads of unknown kinds are everything). */
function useDef(s: Slot, proto: (id: number) => HelperProto | undefined): { use: number; def: number } {
  const dst = 1 << s.dst;
  const src = 1 << s.src;
  const cls = s.code & 7;
  const mode = s.code & 0xe0;
  switch (cls) {
    case 0: // LD: ld_imm64 writes dst; LD_ABS/IND keep "everything, nothing"
      return s.code === 0x18 ? { use: 0, def: dst } : { use: ALL, def: 0 };
    case 1: // LDX
      return mode === 0x60 || mode === 0x80 ? { use: src, def: dst } : { use: ALL, def: 0 };
    case 2: // ST
      return mode === 0x60 ? { use: dst, def: 0 } : { use: ALL, def: 0 };
    case 3: // STX
      if (mode === 0x60) return { use: dst | src, def: 0 };
      if (mode !== 0xc0) return { use: ALL, def: 0 };
      if (s.imm === 0xf1) return { use: 1 | dst | src, def: 1 }; // cmpxchg
      if (s.imm === 0x100) return { use: src, def: dst }; // load-acquire
      if (s.imm === 0x110) return { use: dst | src, def: 0 }; // store-release
      return { use: dst | src, def: s.imm & 1 ? src : 0 }; // BPF_FETCH
    case 4:
    case 7: {
      const op = s.code & 0xf0;
      if (op === 0xd0) return { use: dst, def: dst }; // byte swaps
      if (op === 0xb0) return { use: s.code & 8 ? src : 0, def: dst }; // mov
      return { use: s.code & 8 ? dst | src : dst, def: dst };
    }
    default: {
      const op = s.code & 0xf0;
      if (op === 0x00 || op === 0xe0) return { use: 0, def: 0 }; // ja, may_goto
      if (op === 0x90) return { use: 1, def: 0 }; // exit reads r0
      if (op === 0x80) {
        // a helper reads its parameters; anything else (subprograms, kfuncs, unknown helpers) r1-r5
        const fn = s.src === 0 && (s.code & 8) === 0 ? proto(s.imm) : undefined;
        const use = fn ? ((1 << (fn.args.length + 1)) - 2) : CALLER_SAVED & ~1;
        return { use, def: CALLER_SAVED };
      }
      return { use: s.code & 8 ? dst | src : dst, def: 0 };
    }
  }
}

/** Each instruction's registers live before it, as a bit set (r0 = bit 0); the second slot of an ld_imm64 gets 0. */
export function liveRegsBefore(insns: readonly Slot[], proto: (id: number) => HelperProto | undefined): Uint16Array {
  const n = insns.length;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const succ: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ud = useDef(insns[i]!, proto);
    use[i] = ud.use;
    def[i] = ud.def;
    succ.push(successors(insns, i).filter((t) => t >= 0 && t < n));
    if (insns[i]!.code === 0x18) succ.push([]), i++;
  }
  const live = new Uint16Array(n);
  // backwards over the instructions until nothing changes: a loop needs one more pass per nesting
  for (let changed = true; changed;) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (i > 0 && insns[i - 1]!.code === 0x18) continue;
      let out = 0;
      for (const t of succ[i]!) out |= live[t]!;
      const inn = (out & ~def[i]!) | use[i]!;
      if (inn !== live[i]) {
        live[i] = inn;
        changed = true;
      }
    }
  }
  return live;
}

/** Each instruction's loop number (0 when it is in none), numbered as the kernel's Tarjan walk completes them. */
export function sccNumbers(insns: readonly Slot[]): Int32Array {
  const n = insns.length;
  const scc = new Int32Array(n);
  const pre = new Int32Array(n); // 0: not visited
  const low = new Float64Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  let nextPre = 1;
  let nextScc = 1;
  const succOf = (i: number): number[] => successors(insns, i).filter((t) => t >= 0 && t < n);
  for (let root = 0; root < n; root++) {
    if (pre[root] !== 0) continue;
    // the recursive algorithm's frames: a node and how many of its successors are done
    const dfs: { w: number; k: number; succ: number[] }[] = [{ w: root, k: 0, succ: succOf(root) }];
    pre[root] = low[root] = nextPre++;
    stack.push(root);
    onStack[root] = 1;
    while (dfs.length > 0) {
      const f = dfs[dfs.length - 1]!;
      if (f.k < f.succ.length) {
        const t = f.succ[f.k++]!;
        if (pre[t] === 0) {
          pre[t] = low[t] = nextPre++;
          stack.push(t);
          onStack[t] = 1;
          dfs.push({ w: t, k: 0, succ: succOf(t) });
        } else if (onStack[t]) {
          low[f.w] = Math.min(low[f.w]!, pre[t]!);
        }
        continue;
      }
      dfs.pop();
      const w = f.w;
      const parent = dfs[dfs.length - 1];
      if (parent) low[parent.w] = Math.min(low[parent.w]!, low[w]!);
      if (low[w] !== pre[w]) continue;
      // w is a component's root: the component is what the stack holds above it
      const component = stack.lastIndexOf(w);
      const members = stack.splice(component);
      const loop = members.length > 1 || f.succ.includes(w);
      for (const m of members) {
        onStack[m] = 0;
        if (loop) scc[m] = nextScc;
      }
      if (loop) nextScc++;
    }
  }
  return scc;
}

/**
 * An instruction as the modern kernel's log prints it (disasm's 'modern'
 * style), with an ld_imm64 of a map or a map value as the address the load
 * put there (the kernel prints its kernel address; here it is the map's
 * address in the runtime's memory, plus the value's offset).
 */
export function modernInsnText(insns: readonly Slot[], i: number): string {
  const s = insns[i]!;
  if (s.code === 0x18) {
    const hi = insns[i + 1]?.imm ?? 0;
    if (s.src === 1 || s.src === 2) {
      const addr = (s.imm >>> 0) + (s.src === 2 ? hi >>> 0 : 0);
      return `(18) r${s.dst} = 0x${addr.toString(16)}`;
    }
    return disasmInsn({ ...s, imm2: hi }, { style: 'modern' });
  }
  return disasmInsn(s, { style: 'modern', helperName: (id) => uapiHelperName(id) });
}

/** The kernel's table: `Live regs before insn:`, then per instruction its loop number, index, live registers and text. */
export function liveRegsTable(insns: readonly Slot[], proto: (id: number) => HelperProto | undefined): string {
  const live = liveRegsBefore(insns, proto);
  const scc = sccNumbers(insns);
  const lines = ['Live regs before insn:\n'];
  for (let i = 0; i < insns.length; i++) {
    let regs = '';
    for (let r = 0; r < 10; r++) regs += live[i]! & (1 << r) ? String(r) : '.';
    const text = modernInsnText(insns, i);
    lines.push(`${scc[i] ? `${String(scc[i]).padStart(3)} ` : '    '}${String(i).padStart(3)}: ${regs} ${text}\n`);
    if (insns[i]!.code === 0x18) i++;
  }
  return lines.join('');
}
