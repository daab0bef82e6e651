/**
 * Reading the verifier's log for the page: which instruction each line is
 * about (so a click on it selects the instruction), the states the level-2
 * log records at each instruction (both profiles' syntaxes), and a
 * plain-language hint for the common rejections.
 */

/** The instruction a log line is about, or undefined (a `from A to B:` line is about B). */
export function lineInsn(line: string): number | undefined {
  let m = /^(\d+): /.exec(line);
  if (m) return Number(m[1]);
  m = /^from \d+ to (\d+):/.exec(line);
  if (m) return Number(m[1]);
  return undefined;
}

/**
 * The states a level-2 log shows at each instruction, by index: the modern
 * log's `N: R1=...` (the state on arrival) and `N: (xx) insn ; R0=...` (what
 * the instruction changed), 3.19's ` R0=...` line after a branch (the state
 * there) and both profiles' `from A to B: R..` (the state a branch took to B).
 * Each entry is one visit, labelled with how it was reached.
 */
export function statesByInsn(log: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const add = (pc: number, s: string): void => {
    const list = out.get(pc) ?? [];
    list.push(s);
    out.set(pc, list);
  };
  let last: number | undefined;
  for (const line of log.split('\n')) {
    let m = /^from (\d+) to (\d+): (.*)$/.exec(line);
    if (m) {
      if (m[3] !== 'safe') add(Number(m[2]), `on the branch from ${m[1]}: ${m[3]}`);
      else add(Number(m[2]), `on the branch from ${m[1]}: safe (pruned: a state already checked covers it)`);
      last = undefined;
      continue;
    }
    m = /^(\d+): (R\d.*|frame\d.*)$/.exec(line);
    if (m) {
      add(Number(m[1]), `on arrival: ${m[2]}`);
      continue;
    }
    m = /^(\d+): \([0-9a-f]{2}\) .*?;\s*(.*)$/.exec(line);
    if (m && m[2] !== '') {
      add(Number(m[1]), `after it: ${m[2]}`);
      last = Number(m[1]);
      continue;
    }
    m = /^(\d+): \(/.exec(line);
    if (m) {
      last = Number(m[1]);
      continue;
    }
    m = /^ (R\d.*)$/.exec(line);
    if (m && last !== undefined) add(last, `at it: ${m[1]}`);
  }
  return out;
}

/** Plain-language hints for the common rejections: the message's pattern and what to do. */
const HINTS: readonly [RegExp, string][] = [
  [/invalid mem access '(map_value_or_null|map_value_or_null_ptr)'|invalid mem access 'map_value_or_null'/, 'bpf_map_lookup_elem returns NULL when the key is absent. Compare r0 with 0 (if r0 == 0 goto ...) before reading or writing through it.'],
  [/R\d+ invalid mem access 'scalar'|R\d+ invalid mem access 'inv'/, 'The register holds a number, not a pointer the verifier knows: only pointers it can track (stack, context, map values, checked packet pointers) may be dereferenced.'],
  [/R(\d+) !read_ok/, 'A register is read before anything was written to it. Remember that every helper call overwrites r1-r5 (and r0 with its result).'],
  [/back-edge from insn|infinite loop detected/, 'A jump backwards makes a loop. The 3.19 verifier refuses every loop: unroll it, or choose the modern profile, which accepts loops it can prove to end.'],
  [/unreachable insn/, 'Some instructions can never run: no path from the first instruction reaches them. Remove them or jump to them.'],
  [/jump out of range/, 'A jump lands outside the program.'],
  [/invalid access to packet/, 'Packet bytes may be read only after a comparison proves them inside the packet: compute data + offset + size and compare it with data_end first.'],
  [/invalid (indirect read from|read from) stack|invalid stack/, 'The stack bytes read (or passed to a helper) were never written, or lie outside r10-512..r10. Store to them first.'],
  [/invalid bpf_context access/, 'This program type may not read (or write) that offset of its context: see the type\'s context structure (__sk_buff, xdp_md).'],
  [/unbounded memory access|min value is outside|max value is outside|value is outside of the allowed memory range/, 'An index into memory has no proven bounds: compare it against the size (if rX > N goto ...) before adding it to the pointer.'],
  [/math between .* pointer and register with unbounded/, 'Pointer arithmetic with a value the verifier cannot bound: check the value\'s range first.'],
  [/invalid func|unknown func|helper call is not allowed|program of this type cannot use helper/, 'That helper does not exist in this profile or is not allowed for this program type.'],
  [/type=\S+ expected=/, 'A helper argument has the wrong kind of value (for example a number where a pointer to the stack or a map is expected).'],
  [/too large|BPF program is too large|processed \d+ insn.*limit/, 'The verifier explores every path and gave up: simplify the branches, or use the modern profile, which prunes more.'],
  [/R0 !read_ok|exit.*R0/, 'r0 is the return value: set it before exit.'],
  [/misaligned/, 'The access is not aligned to its size.'],
  [/fd \d+ is not pointing to valid bpf_map|map\[/, 'The instruction refers to a map that does not exist: declare it with a #map line and name it in map[NAME].'],
  [/frame pointer is read only|R10/, 'r10 is the frame pointer and cannot be written; copy it to another register first.'],
  [/unknown opcode|invalid BPF_LD_IMM|bpf_ld_imm64/, 'An instruction the verifier does not know, or a 64-bit load split wrongly.'],
];

/** A hint for a rejection message, or undefined. */
export function hintFor(message: string): string | undefined {
  for (const [re, hint] of HINTS) if (re.test(message)) return hint;
  return undefined;
}
