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
  { name: 'constant through a spill and a fill', src: 'r1 = 1\nr2 = r1\nr3 = r10\nr3 += -16\n*(u64 *)(r3 +0) = r1\nr4 = *(u64 *)(r10 -16)\nif r4 == 1 goto pc+1\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit', expect: { processed: 9 } },
];
