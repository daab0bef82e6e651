/**
 * Programs for the modern verifier's tests and benchmark: the diamond
 * family of issue 16 (independent if-diamonds whose sides write different
 * stack slots, so that every path has its own stack shape), and the
 * cases whose verdicts and messages the tests compare with the 6.18 host.
 * A case's `maps` are created in order; `map[fd:N]` in its source names the
 * Nth of them.
 */

/** n independent diamonds over a loaded number, each side writing its own slot. */
export function diamonds(n: number): string {
  const l = ['r2 = *(u32 *)(r1 +0)'];
  for (let k = 0; k < n; k++) l.push(`if r2 > ${k} goto pc+2`, `*(u64 *)(r10 -${16 * k + 8}) = 0`, 'goto pc+1', `*(u64 *)(r10 -${16 * k + 16}) = 0`);
  return [...l, 'r0 = 0', 'exit'].join('\n');
}

export interface ModernCase {
  name: string;
  /** [type, key size, value size, max entries] */
  maps?: [number, number, number, number][];
  src: string;
  /** errno name and the log's error lines (the last before the statistics line), or processed insns */
  expect: { errno: string; lines: string[] } | { processed: number };
}

const LOOKUP = ['r1 = 0', '*(u32 *)(r10 -4) = r1', 'r2 = r10', 'r2 += -4', 'r1 = map[fd:0]', 'call 1'];
const HASH: [number, number, number, number][] = [[1, 4, 16, 4]];
const ARRAY: [number, number, number, number][] = [[2, 4, 16, 4]];

/** Each with the verdict, errno and messages of the 6.18 host (privileged, log_level 1). */
export const MODERN_CASES: ModernCase[] = [
  {
    name: 'map value index after if (i >= 4)', maps: ARRAY,
    src: [...LOOKUP, 'if r0 == 0 goto pc+8', 'r1 = *(u32 *)(r0 +0)', 'if r1 >= 4 goto pc+6', 'r1 <<= 2', 'r2 = r0', 'r2 += r1',
      'r3 = *(u32 *)(r2 +0)', 'r3 += 1', '*(u32 *)(r2 +0) = r3', 'r0 = 0', 'exit'].join('\n'),
    expect: { processed: 19 },
  },
  { name: 'bounded loop', src: 'r0 = 0\nr1 = 0\nif r1 > 9 goto pc+2\nr1 += 1\ngoto pc-3\nexit', expect: { processed: 34 } },
  { name: 'infinite loop', src: 'r0 = 0\nif r0 == 0 goto pc-1\nexit', expect: { errno: 'EINVAL', lines: ['infinite loop detected at insn 1', 'cur state: R0=0 R1=ctx() R10=fp0', 'old state: R0=P0 R1=ctx() R10=fp0'] } },
  { name: '14 diamonds', src: diamonds(14), expect: { processed: 346 } },
  { name: 'map_value_or_null dereferenced', maps: HASH, src: [...LOOKUP, 'r1 = *(u32 *)(r0 +0)', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ["R0 invalid mem access 'map_value_or_null'"] } },
  { name: 'past the end of a map value', maps: ARRAY, src: [...LOOKUP, 'r1 = *(u32 *)(r0 +16)', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['invalid access to map value, value_size=16 off=16 size=4', 'R0 min value is outside of the allowed memory range'] } },
  { name: 'u32 index, unchecked', maps: ARRAY, src: [...LOOKUP, 'r1 = *(u32 *)(r0 +0)', 'r0 += r1', 'r1 = *(u8 *)(r0 +0)', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['R0 unbounded memory access, make sure to bounds check any such access'] } },
  { name: 'index & 31 into 16 bytes', maps: ARRAY, src: [...LOOKUP, 'r1 = *(u32 *)(r0 +0)', 'r1 &= 31', 'r0 += r1', 'r1 = *(u8 *)(r0 +0)', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['invalid access to map value, value_size=16 off=31 size=1', 'R0 max value is outside of the allowed memory range'] } },
  { name: 'u64 index', maps: ARRAY, src: [...LOOKUP, 'r1 = *(u64 *)(r0 +0)', 'r0 += r1', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['math between map_value pointer and register with unbounded min value is not allowed'] } },
  { name: 's32 index', maps: ARRAY, src: [...LOOKUP, 'r1 = *(u32 *)(r0 +0)', 'r1 <<= 32', 'r1 s>>= 32', 'r0 += r1', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['value -2147483648 makes map_value pointer be out of bounds'] } },
  { name: 'uninitialised stack read (allowed when privileged)', src: 'r0 = *(u64 *)(r10 -8)\nexit', expect: { processed: 2 } },
  { name: 'bpf-to-bpf call', src: 'r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nr0 += 1\nexit', expect: { processed: 7 } },
  { name: 'combined stack', src: '*(u64 *)(r10 -512) = 0\ncall pc+2\nr0 = 0\nexit\n*(u64 *)(r10 -8) = 0\nr0 = 0\nexit', expect: { errno: 'EACCES', lines: ['combined stack size of 2 calls is 528. Too large'] } },
  { name: 'unreachable', src: 'r0 = 0\nexit\nr0 = 1\nexit', expect: { errno: 'EINVAL', lines: ['unreachable insn 2'] } },
  { name: 'pointer multiplied', src: 'r2 = r10\nr2 += -8\nr2 *= 2\nr0 = 0\nexit', expect: { errno: 'EACCES', lines: ['R2 pointer arithmetic with *= operator prohibited'] } },
  { name: 'div by zero', src: 'r0 = *(u32 *)(r1 +0)\nr0 /= 0\nexit', expect: { errno: 'EINVAL', lines: ['div by zero'] } },
  { name: 'callee returns its argument', src: 'r1 = 5\ncall pc+1\nexit\nr0 = r1\nexit', expect: { processed: 5 } },
  { name: 'exit without r0', src: 'exit', expect: { errno: 'EACCES', lines: ['R0 !read_ok'] } },
  { name: 'bpf_get_smp_processor_id is below 1024', src: 'call 8\nif r0 > 1023 goto pc+2\nr0 = 0\nexit\nr0 = *(u64 *)(r10 +8)\nexit', expect: { processed: 4 } },
  { name: 'a helper writing past the stack', src: 'r2 = 0\nr3 = r10\nr3 += -32\nr4 = 33\ncall 26\nr0 = 0\nexit', expect: { errno: 'EINVAL', lines: ['invalid write to stack R3 off=-32 size=33'] } },
  {
    name: 'a helper writing past the stack at a variable offset',
    src: 'r2 = *(u32 *)(r1 +0)\nr2 &= 7\nr3 = r10\nr3 += -16\nr3 += r2\nr2 = 0\nr4 = 16\ncall 26\nr0 = 0\nexit',
    expect: { errno: 'EINVAL', lines: ['invalid variable-offset write to stack R3 var_off=(0x0; 0x7) off=-16 size=16'] },
  },
  {
    name: 'a helper writing at an unbounded stack offset',
    src: 'r2 = *(u32 *)(r1 +0)\nr3 = r10\nr3 += -16\nr3 += r2\nr2 = 0\nr4 = 8\ncall 26\nr0 = 0\nexit',
    expect: { errno: 'EACCES', lines: ['invalid unbounded variable-offset write to stack R3'] },
  },
  { name: 'a helper reading past the stack', src: 'r1 = r10\nr1 += -32\nr2 = 36\ncall 6\nr0 = 0\nexit', expect: { errno: 'EINVAL', lines: ['invalid read from stack R1 off=-32 size=36'] } },
  {
    name: 'one store through the context and the stack',
    src: 'r2 = r10\nr2 += -64\nr3 = *(u32 *)(r1 +0)\nif r3 > 10 goto pc+1\nr2 = r1\n*(u32 *)(r2 +48) = 0\nr0 = 0\nexit',
    expect: { errno: 'EINVAL', lines: ['same insn cannot be used with different pointers'] },
  },
  { name: 'constant through a spill and a fill', src: 'r1 = 1\nr2 = r1\nr3 = r10\nr3 += -16\n*(u64 *)(r3 +0) = r1\nr4 = *(u64 *)(r10 -16)\nif r4 == 1 goto pc+1\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit', expect: { processed: 9 } },
];

const RB: [number, number, number, number][] = [[27, 0, 0, 4096]];
const RESERVE = ['r1 = map[fd:0]', 'r2 = 8', 'r3 = 0', 'call 131'];

/** Reference tracking (ringbuf records) and tail calls, with the 6.18 host's verdicts and messages. */
MODERN_CASES.push(
  { name: 'ringbuf reserve, null check, submit', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+5', 'r1 = 7', '*(u64 *)(r0 +0) = r1', 'r1 = r0', 'r2 = 0', 'call 132', 'r0 = 0', 'exit'].join('\n'), expect: { processed: 13 } },
  { name: 'ringbuf reserve, discard', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+3', 'r1 = r0', 'r2 = 0', 'call 133', 'r0 = 0', 'exit'].join('\n'), expect: { processed: 11 } },
  { name: 'ringbuf record leaked', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+0', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['Unreleased reference id=2 alloc_insn=4', 'BPF_EXIT instruction in main prog would lead to reference leak'] } },
  { name: 'ringbuf submit without null check', maps: RB, src: [...RESERVE, 'r1 = r0', 'r2 = 0', 'call 132', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['R1 type=ringbuf_mem_or_null expected=ringbuf_mem'] } },
  { name: 'ringbuf record used after submit', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+6', 'r6 = r0', 'r1 = r0', 'r2 = 0', 'call 132', 'r1 = 1', '*(u64 *)(r6 +0) = r1', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ["R6 invalid mem access 'scalar'"] } },
  { name: 'ringbuf record past its size', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+5', 'r1 = 7', '*(u64 *)(r0 +4) = r1', 'r1 = r0', 'r2 = 0', 'call 132', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['invalid access to memory, mem_size=8 off=4 size=8', 'R0 min value is outside of the allowed memory range'] } },
  { name: 'ringbuf submit of an offset pointer', maps: RB, src: [...RESERVE, 'if r0 == 0 goto pc+4', 'r1 = r0', 'r1 += 4', 'r2 = 0', 'call 132', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['R1 must have zero offset when passed to release func or trusted arg to kfunc'] } },
  { name: 'ringbuf submit of a stack pointer', maps: RB, src: ['r1 = r10', 'r1 += -8', 'r2 = 0', 'call 132', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['R1 type=fp expected=ringbuf_mem'] } },
  { name: 'ringbuf_output from the stack', maps: RB, src: ['*(u64 *)(r10 -8) = 0', 'r1 = map[fd:0]', 'r2 = r10', 'r2 += -8', 'r3 = 8', 'r4 = 0', 'call 130', 'r0 = 0', 'exit'].join('\n'), expect: { processed: 9 } },
  { name: 'tail call', maps: [[3, 4, 4, 4]], src: ['r2 = map[fd:0]', 'r3 = 0', 'call 12', 'r0 = 0', 'exit'].join('\n'), expect: { processed: 5 } },
  // the kernel prints this message without a newline: the statistics line follows on the same line
  { name: 'tail call with a hash map', maps: [[1, 4, 4, 4]], src: ['r2 = map[fd:0]', 'r3 = 0', 'call 12', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['3: (85) call bpf_tail_call#12'] } },
  { name: 'tail call with a ringbuf record held', maps: [[3, 4, 4, 4], [27, 0, 0, 4096]], src: ['r6 = r1', 'r1 = map[fd:1]', 'r2 = 8', 'r3 = 0', 'call 131', 'if r0 == 0 goto pc+8', 'r7 = r0', 'r1 = r6', 'r2 = map[fd:0]', 'r3 = 0', 'call 12', 'r1 = r7', 'r2 = 0', 'call 133', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EINVAL', lines: ['Unreleased reference id=2 alloc_insn=5', 'tail_call would lead to reference leak'] } },
);

/** Spin locks: the lock's place comes from the map's BTF, which tsbpf's maps lack; the host refuses the same maps the same way. */
const LOCKED = ['r1 = 0', '*(u32 *)(r10 -4) = r1', 'r2 = r10', 'r2 += -4', 'r1 = map[fd:0]', 'call 1', 'if r0 == 0 goto pc+5', 'r6 = r0', 'r1 = r0', 'call 93', 'r1 = r6', 'call 94', 'r0 = 0', 'exit'];
MODERN_CASES.push(
  { name: 'spin lock in a map without BTF', maps: [[2, 4, 16, 1]], src: LOCKED.join('\n'), expect: { errno: 'EINVAL', lines: ["map '' has to have BTF in order to use bpf_spin_lock"] } },
  { name: 'spin lock on the stack', src: ['r1 = r10', 'r1 += -8', 'call 93', 'r0 = 0', 'exit'].join('\n'), expect: { errno: 'EACCES', lines: ['R1 type=fp expected=map_value, ptr_'] } },
);
