/*
 * An IPv4 parser that handles options: counts packets per first-option type
 * (0 for none) in an array map, and accepts UDP packets to port 53 whatever
 * the header length, the ports read with LD_IND at 14 + IHL.
 * Build: clang -O2 -target bpf -c examples/ipv4-options.c -o examples/ipv4-options.o
 */
#include "bpf-helpers.h"

SEC("maps") struct bpf_map_def option_types = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 256 };

SEC("socket1") int ipv4_options(struct skb_ctx *skb) {
  if (load_half(skb, 12) != 0x0800) return 0;
  unsigned int vihl = load_byte(skb, 14);
  if ((vihl >> 4) != 4) return 0;
  unsigned int ihl = (vihl & 0xf) * 4;
  if (ihl < 20) return 0;
  unsigned int first = ihl > 20 ? load_byte(skb, 14 + 20) : 0;
  unsigned long long *count = bpf_map_lookup_elem(&option_types, &first);
  if (count) __sync_fetch_and_add(count, 1);
  if (load_byte(skb, 23) != 17) return 0;
  return load_half(skb, 14 + ihl + 2) == 53 ? skb->len : 0;
}

SEC("license") char _license[] = "GPL";
