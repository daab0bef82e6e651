/**
 * BPF_PROG_TYPE_SCHED_CLS (Linux 4.1), the tc classifier: the
 * program-type table's row (progs/types.ts). r1 points to a struct
 * __sk_buff (sk-buff.ts: its layout, access rules and how a test run
 * fills it); the program sees the frame from the Ethernet header, reads
 * and writes it directly between data and data_end, and may use LD_ABS /
 * LD_IND (offset 0 is the Ethernet header). The sections libbpf maps to
 * it: SEC("tc"), SEC("classifier") and the older "tc/..." forms.
 *
 * Writable context fields (tc_cls_act_is_valid_access): mark, tc_index,
 * priority, tc_classid, queue_mapping, cb[0..4] and tstamp; the stores to
 * the kernel's u16 fields are rewritten at load as the kernel does
 * (sk-buff.ts, skbCtxRewrite). The verdict
 * (TC_ACT_UNSPEC -1, OK 0, SHOT 2, REDIRECT 7...) is not range-checked by
 * the verifier; a test run returns it as it is. After a run the frame is
 * data..data_end, which bpf_skb_store_bytes may have changed.
 */

import { BPF_PROG_TYPE } from '../isa/uapi.js';
import type { ProgramType } from './program-type.js';
import { SK_BUFF, SK_BUFF_SIZE, prepareSkb, skbRunBytes, tcCtxAccess, skbCtxRewrite } from './sk-buff.js';

export const TC_ACT = { UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, QUEUED: 5, REPEAT: 6, REDIRECT: 7 } as const;

export const SCHED_CLS: ProgramType<'sched_cls'> = {
  name: 'sched_cls',
  id: BPF_PROG_TYPE.SCHED_CLS,
  since: '4.1',
  sections: ['tc', 'classifier'],
  isValidCtxAccess: (off, size, write) => tcCtxAccess(off, size, write).kind === 'scalar',
  ctxAccess: tcCtxAccess,
  rewriteCtxAccess: skbCtxRewrite,
  packetAccess: 'rw',
  ldAbs: true,
  context: { size: SK_BUFF_SIZE, writable: true },
  frameFields: { kind: 'skb', data: SK_BUFF.data, end: SK_BUFF.data_end, writable: true },
  prepare: (mem, data) => prepareSkb(mem, data, true, true),
  prepareBytes: (len) => skbRunBytes(len, true),
  prepareIn: (mem, data, at) => prepareSkb(mem, data, true, true, at),
};
