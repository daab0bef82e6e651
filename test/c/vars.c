/*
 * Variables set before load (issue 19 item 5; test/vars.test.ts and the
 * kernel differential in test/vars-kernel.test.ts): an XDP program and a
 * socket filter whose verdicts follow typed globals. .rodata holds the
 * configuration (a port, a bool, an enum, a struct, an array, a char
 * array), .data a step the .bss counters grow by. With the initial values
 * the XDP program passes TCP to or from port 80 and to the ports of
 * `allowed`, drops UDP only when `drop_udp`, and aborts frames outside
 * `limits`; `mode` overrides all of it; `tag` starting with '!' returns
 * XDP_TX instead of XDP_PASS.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum mode { MODE_FILTER = 0, MODE_PASS_ALL = 1, MODE_DROP_ALL = 2 };

struct limits {
  __u16 min_len;
  __u16 max_len;
  __u8 ttl_min;
};

const volatile __u16 port = 80;
const volatile _Bool drop_udp = 0;
const volatile enum mode mode = MODE_FILTER;
const volatile struct limits limits = { .min_len = 14, .max_len = 1514, .ttl_min = 0 };
const volatile __u16 allowed[4] = { 22, 0, 0, 0 };
const volatile char tag[8] = "web";
const volatile __s32 bias = -1;

__u32 step = 1;          /* .data */
__u64 matched;           /* .bss */
__u64 seen;

/* the TCP or UDP ports of an IPv4 frame (dest in the high half), or 0; *proto gets the IP protocol */
static __always_inline __u32 ports(void *data, void *end, __u8 *proto, __u8 *ttl) {
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) return 0;
  *proto = ip->protocol;
  *ttl = ip->ttl;
  __u16 *l4 = (void *)ip + ip->ihl * 4;
  if ((void *)(l4 + 2) > end) return 0;
  return (__u32)bpf_ntohs(l4[1]) << 16 | bpf_ntohs(l4[0]);
}

SEC("xdp") int vars_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u32 len = end - data;
  seen += step;
  if (mode == MODE_PASS_ALL) return XDP_PASS;
  if (mode == MODE_DROP_ALL) return XDP_DROP;
  if (len < limits.min_len || len > limits.max_len) return XDP_ABORTED;
  __u8 proto = 0, ttl = 0;
  __u32 p = ports(data, end, &proto, &ttl);
  if (p == 0 || ttl < limits.ttl_min) return XDP_DROP;
  if (proto == IPPROTO_UDP && drop_udp) return XDP_DROP;
  __u16 dport = p >> 16, sport = p & 0xffff;
  int ok = proto == IPPROTO_TCP && (dport == port || sport == port);
  for (int i = 0; i < 4; i++)
    if (allowed[i] != 0 && dport == allowed[i]) ok = 1;
  if (proto == IPPROTO_UDP && (int)dport + bias == 52) ok = 1;
  if (!ok) return XDP_DROP;
  matched += step;
  return tag[0] == '!' ? XDP_TX : XDP_PASS;
}

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

/*
 * keeps IPv4 TCP to or from `port` (the whole frame), drops the rest; the
 * loads are relative to the network header (SKF_NET_OFF), which a packet
 * socket's frame has after the Ethernet header and a test run's at 0
 */
#define NET (-0x100000)
SEC("socket") int vars_socket(struct __sk_buff *skb) {
  if (load_byte(skb, NET) >> 4 != 4 || load_byte(skb, NET + 9) != IPPROTO_TCP) return 0;
  __u32 ihl = (load_byte(skb, NET) & 0xf) * 4;
  if (load_half(skb, NET + ihl) != port && load_half(skb, NET + ihl + 2) != port) return 0;
  return -1;
}

char _license[] SEC("license") = "GPL";
