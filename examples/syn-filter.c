/*
 * Keep IPv4 TCP connection attempts (SYN without ACK), drop the rest: the C
 * twin of syn-filter.s, the TCP flags read with LD_IND past a variable
 * IPv4 header. Build: clang -O2 -target bpf -c examples/syn-filter.c -o examples/syn-filter.o
 */
#include "bpf-helpers.h"

SEC("socket1") int syn_filter(struct skb_ctx *skb) {
  if (load_half(skb, 12) != 0x0800) return 0;
  if (load_byte(skb, 23) != 6) return 0;
  if (load_half(skb, 20) & 0x1fff) return 0; /* not the first fragment */
  unsigned int ihl = (load_byte(skb, 14) & 0xf) * 4;
  unsigned int flags = load_byte(skb, 14 + ihl + 13);
  return (flags & 0x12) == 0x02 ? 262144 : 0;
}

SEC("license") char _license[] = "GPL";
