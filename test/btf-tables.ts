/**
 * Hand-built BTF type tables shared by the reader's tests (btf.test.ts,
 * btf-bpftool.test.ts): one type of every kind, with kind_flag where the kind
 * gives it a meaning. Ids in the comments.
 */

import { BTF_KIND as K } from '../src/btf/index.js';
import type { RawType } from './fuzz/btf-writer.js';

export const EVERY_KIND_FLAGGED: RawType[] = [
  /* 1 */ { name: 'int', kind: K.INT, sizeOrType: 4, extra: [(1 << 24) | 32] },
  /* 2 */ { kind: K.PTR, sizeOrType: 1 },
  /* 3 */ { kind: K.ARRAY, sizeOrType: 0, extra: [1, 1, 4] },
  /* 4 */ { name: 'flow', kind: K.STRUCT, vlen: 3, sizeOrType: 24, extra: ['a', 1, 0, 'b', 3, 32, 'p', 2, 128] },
  /* 5 */ { name: 'u', kind: K.UNION, vlen: 2, sizeOrType: 8, extra: ['x', 1, 0, 'y', 2, 0] },
  /* 6 */ { name: 'color', kind: K.ENUM, vlen: 2, sizeOrType: 4, extra: ['RED', 0, 'BLUE', 0xffffffff] },
  /* 7 */ { name: 'later', kind: K.FWD, sizeOrType: 0, kindFlag: true },
  /* 8 */ { name: '__u32', kind: K.TYPEDEF, sizeOrType: 1 },
  /* 9 */ { kind: K.VOLATILE, sizeOrType: 8 },
  /* 10 */ { kind: K.CONST, sizeOrType: 9 },
  /* 11 */ { kind: K.RESTRICT, sizeOrType: 2 },
  /* 12 */ { kind: K.FUNC_PROTO, vlen: 3, sizeOrType: 1, extra: ['ctx', 2, 'n', 8, '', 0] },
  /* 13 */ { name: 'prog', kind: K.FUNC, vlen: 1, sizeOrType: 12 },
  /* 14 */ { name: 'counter', kind: K.VAR, sizeOrType: 10, extra: [1] },
  /* 15 */ { name: '.data', kind: K.DATASEC, vlen: 1, sizeOrType: 16, extra: [14, 8, 4] },
  /* 16 */ { name: 'double', kind: K.FLOAT, sizeOrType: 8 },
  /* 17 */ { name: 'tag', kind: K.DECL_TAG, sizeOrType: 4, extra: [1] },
  /* 18 */ { name: 'user', kind: K.TYPE_TAG, sizeOrType: 1 },
  /* 19 */ { name: 'big', kind: K.ENUM64, vlen: 2, sizeOrType: 8, kindFlag: true, extra: ['HUGE', 1, 0x80000000, 'ONE', 1, 0] },
  /* 20 */ { name: 'big_u', kind: K.ENUM64, vlen: 1, sizeOrType: 8, extra: ['TOP', 0xffffffff, 0xffffffff] },
  /* 21 */ { name: 'bits', kind: K.STRUCT, vlen: 3, kindFlag: true, sizeOrType: 4, extra: ['a', 1, (3 << 24) | 0, 'b', 1, (5 << 24) | 3, 'c', 1, 8] },
  /* 22 */ { name: 'e', kind: K.ENUM, vlen: 1, kindFlag: true, sizeOrType: 4, extra: ['MINUS', 0xfffffffe] },
  /* 23 */ { name: 'flag', kind: K.INT, sizeOrType: 1, extra: [(4 << 24) | 8] },
  /* 24 */ { name: 'ch', kind: K.INT, sizeOrType: 1, extra: [(2 << 24) | 8] },
  /* 25 */ { name: 'local', kind: K.FUNC, vlen: 0, sizeOrType: 12 },
  /* 26 */ { name: 'ext', kind: K.VAR, sizeOrType: 1, extra: [2] },
  /* 27 */ { name: 'whole', kind: K.DECL_TAG, sizeOrType: 13, extra: [0xffffffff] },
];
