/**
 * The classic BPF checker: Linux 3.19's bpf_check_classic (net/core/filter.c,
 * formerly sk_chk_filter) with its check_load_and_stores. It decides whether
 * a program may be attached; it does not run or convert anything.
 *
 * The kernel answers a bare -EINVAL; here each rejection is a BpfError
 * EINVAL naming the instruction and the reason. Before the kernel's checks,
 * the instructions themselves are checked to be {code, jt, jf, k} with
 * fields of the right widths, since a library caller can pass anything. The order of the checks is
 * the kernel's: the length, then every instruction in turn (opcode, then the
 * per-opcode check), then the last instruction being a RET, then scratch
 * memory written before read.
 *
 * Not in 3.19 and therefore not checked: shifts by a constant >= 32 (a later
 * bpf_check_classic rejects them; 3.19 left `A <<= 32` to the CPU).
 */

import { BpfError } from '../errors.js';
import type { SockFilter } from './parse.js';
import { checkSockFilters } from './parse.js';
import {
  BPF_ABS, BPF_ALU, BPF_B, BPF_DIV, BPF_H, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MOD,
  BPF_MAXINSNS, BPF_RET, BPF_ST, BPF_STX, BPF_W,
} from '../isa/opcodes.js';
import {
  ANCILLARY, BPF_A, BPF_MEMWORDS, CLASSIC_CODES, SKF_AD_OFF, codeName, isClassicCondJump,
} from './opcodes.js';

const fail = (msg: string): never => {
  throw new BpfError('EINVAL', msg);
};

/** Throws BpfError EINVAL unless 3.19 would accept the program. */
export function checkClassic(prog: readonly SockFilter[]): void {
  checkSockFilters(prog);
  const flen = prog.length;
  if (flen === 0 || flen > BPF_MAXINSNS) fail(`program has ${flen} instructions, must be 1..${BPF_MAXINSNS}`);

  for (let pc = 0; pc < flen; pc++) {
    const f = prog[pc]!;
    const at = `insn ${pc}`;
    if (!CLASSIC_CODES.has(f.code)) fail(`${at}: unknown opcode 0x${f.code.toString(16)}`);
    switch (f.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (f.k === 0) fail(`${at}: ${f.code === (BPF_ALU | BPF_DIV | BPF_K) ? 'division' : 'modulo'} by constant zero`);
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) fail(`${at}: scratch memory M[${f.k}] out of range (M[0]..M[${BPF_MEMWORDS - 1}])`);
        break;
      case BPF_JMP | BPF_JA: {
        // k is unsigned: a "negative" k is a huge forward jump, but say what was meant
        if ((f.k | 0) < 0) fail(`${at}: ja ${f.k | 0} jumps backward`);
        // 3.19: k >= flen - pc - 1 is out of range (the target would be >= flen)
        if (f.k >= flen - pc - 1) fail(`${at}: ja jumps to ${pc + 1 + f.k}, past the last instruction ${flen - 1}`);
        break;
      }
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
        if (f.k >= SKF_AD_OFF >>> 0 && !ANCILLARY.has((f.k - (SKF_AD_OFF >>> 0)) >>> 0)) {
          fail(`${at}: unknown ancillary load at SKF_AD_OFF+${(f.k - (SKF_AD_OFF >>> 0)) >>> 0}`);
        }
        break;
      default:
        if (isClassicCondJump(f.code)) {
          if (pc + f.jt + 1 >= flen) fail(`${at}: jt jumps to ${pc + 1 + f.jt}, past the last instruction ${flen - 1}`);
          if (pc + f.jf + 1 >= flen) fail(`${at}: jf jumps to ${pc + 1 + f.jf}, past the last instruction ${flen - 1}`);
        }
    }
  }

  const last = prog[flen - 1]!;
  if (last.code !== (BPF_RET | BPF_K) && last.code !== (BPF_RET | BPF_A)) {
    fail(`insn ${flen - 1}: the last instruction must be a ret, not ${codeName(last.code)}`);
  }
  checkLoadAndStores(prog);
}

/**
 * check_load_and_stores: every M[k] read must follow a write of M[k] on
 * every path. One pass in program order (jumps only go forward): `valid` is
 * the set of cells written on the path falling through to pc, masks[pc] the
 * intersection over the jumps into pc. After a jump the fall-through set is
 * "everything" (nothing falls through a jump); after a ret it is left as is,
 * as the kernel does, which can only make the check stricter.
 */
function checkLoadAndStores(prog: readonly SockFilter[]): void {
  const masks = new Uint16Array(prog.length).fill(0xffff);
  let valid = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const f = prog[pc]!;
    valid &= masks[pc]!;
    if (f.code === BPF_ST || f.code === BPF_STX) {
      valid |= 1 << f.k;
    } else if (f.code === (BPF_LD | BPF_MEM) || f.code === (BPF_LDX | BPF_MEM)) {
      if (!(valid & (1 << f.k))) fail(`insn ${pc}: M[${f.k}] is read before it is written on some path`);
    } else if (f.code === (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + f.k]! &= valid;
      valid = 0xffff;
    } else if (isClassicCondJump(f.code)) {
      masks[pc + 1 + f.jt]! &= valid;
      masks[pc + 1 + f.jf]! &= valid;
      valid = 0xffff;
    }
  }
}
