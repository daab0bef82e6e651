/*
 * Kernel differential program (test/progs-kernel.test.ts): a tc classifier
 * reading the __sk_buff fields a test run fills (len, pkt_type,
 * queue_mapping, protocol, vlan_present, vlan_tci, ingress_ifindex,
 * ifindex, hash, wire_len, gso_segs, gso_size, cb[] as written), writing
 * mark, priority, tc_index, queue_mapping and cb[], reading the frame with
 * bpf_skb_load_bytes and rewriting a byte with bpf_skb_store_bytes. The
 * fields it read are kept in an array (one slot per field, the last
 * frame's values) so both sides can be compared after the run.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

enum { F_LEN, F_PKT_TYPE, F_QUEUE, F_PROTO, F_VLAN_PRESENT, F_VLAN_TCI, F_INGRESS, F_IFINDEX, F_HASH,
       F_WIRE_LEN, F_GSO_SEGS, F_GSO_SIZE, F_MARK, F_PRIO, F_CB0, F_QUEUE_AFTER, F_LOAD, F_DATA_LEN, F_TC_INDEX, F_MAX };

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, F_MAX);
  __type(key, __u32);
  __type(value, __u32);
} fields SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32);
  __type(key, __u32);
  __type(value, __u32);
} lens SEC(".maps");

static __always_inline void put(__u32 k, __u32 v) { bpf_map_update_elem(&fields, &k, &v, BPF_ANY); }

SEC("tc") int tc_fields(struct __sk_buff *skb) {
  put(F_LEN, skb->len);
  put(F_PKT_TYPE, skb->pkt_type);
  put(F_QUEUE, skb->queue_mapping);
  put(F_PROTO, skb->protocol);
  put(F_VLAN_PRESENT, skb->vlan_present);
  put(F_VLAN_TCI, skb->vlan_tci);
  put(F_INGRESS, skb->ingress_ifindex);
  put(F_IFINDEX, skb->ifindex);
  put(F_HASH, skb->hash);
  put(F_WIRE_LEN, skb->wire_len);
  put(F_GSO_SEGS, skb->gso_segs);
  put(F_GSO_SIZE, skb->gso_size);
  put(F_MARK, skb->mark);
  put(F_PRIO, skb->priority);
  put(F_TC_INDEX, skb->tc_index);
  put(F_DATA_LEN, (__u32)(skb->data_end - skb->data));
  skb->cb[0] = skb->len * 3;
  skb->cb[4] = 0xabcd;
  put(F_CB0, skb->cb[0] + skb->cb[4]);
  skb->mark = 0x1234 + skb->len;
  skb->priority = 7;
  skb->tc_index = 3;
  skb->queue_mapping = 5;
  put(F_QUEUE_AFTER, skb->queue_mapping);
  __u8 b[4] = {};
  if (bpf_skb_load_bytes(skb, 12, b, 4) < 0) return TC_ACT_UNSPEC;
  __u32 l = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
  put(F_LOAD, l);
  __u32 key = skb->len, one = 1;
  __u32 *n = bpf_map_lookup_elem(&lens, &key);
  if (n) __sync_fetch_and_add(n, 1);
  else bpf_map_update_elem(&lens, &key, &one, BPF_NOEXIST);
  /* mark the frame: the last byte of the source MAC */
  __u8 mark = (__u8)skb->len;
  bpf_skb_store_bytes(skb, 11, &mark, 1, 0);
  if (b[0] == 0x08 && b[1] == 0x06) return TC_ACT_SHOT;
  return skb->len > 100 ? TC_ACT_PIPE : TC_ACT_OK;
}

/* reading past the frame with bpf_skb_load_bytes: the error code */
SEC("classifier") int tc_load_past(struct __sk_buff *skb) {
  __u8 b[8];
  long r = bpf_skb_load_bytes(skb, skb->len - 4, b, 8);
  long r2 = bpf_skb_load_bytes(skb, skb->len - 8, b, 8);
  return (int)(r * 16 + r2 + b[7]);
}

/*
 * The writes the kernel treats apart: queue_mapping ~0 (NO_QUEUE_MAPPING)
 * is ignored, the u16 fields keep their low 16 bits, narrow reads of cb[]
 * and of the fields; the results go to slots 0..7 of `fields`.
 */
SEC("tc") int tc_writes(struct __sk_buff *ctx) {
  /* volatile: each read is a load of the field, not the value clang saw written */
  volatile struct __sk_buff *skb = ctx;
  skb->queue_mapping = 9;
  skb->queue_mapping = 0xffff;
  put(0, skb->queue_mapping);
  skb->queue_mapping = 0x10003;
  put(1, skb->queue_mapping);
  skb->tc_index = 0x12345;
  put(2, skb->tc_index);
  skb->cb[1] = 0x11223344;
  put(3, *(volatile __u8 *)((volatile char *)&skb->cb[1] + 1) | *(volatile __u16 *)((volatile char *)&skb->cb[1] + 2) << 8);
  put(4, *(volatile __u16 *)&skb->protocol);
  put(5, *(volatile __u8 *)&skb->len);
  skb->priority = 0xfffffff0;
  put(6, skb->priority);
  skb->mark = ~skb->mark;
  put(7, skb->mark);
  return skb->queue_mapping;
}

/* a modern socket filter: the __sk_buff fields it may read, cb[] writes, bpf_skb_load_bytes after the link header */
SEC("socket") int sk_fields(struct __sk_buff *skb) {
  put(8, skb->len);
  put(9, skb->protocol);
  put(10, skb->pkt_type);
  put(11, skb->ifindex);
  put(12, skb->queue_mapping);
  skb->cb[2] = skb->len + 1;
  put(13, skb->cb[2]);
  __u8 b[2] = {};
  long r = bpf_skb_load_bytes(skb, 0, b, 2);
  put(14, (__u32)r << 16 | b[0] << 8 | b[1]);
  return skb->len > 60 ? 0 : skb->len;
}

char _license[] SEC("license") = "GPL";
