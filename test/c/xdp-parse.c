/*
 * Kernel differential program (test/progs-kernel.test.ts): an XDP parser.
 * Walks Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 (with
 * options) or IPv6, then TCP or UDP ports; counts frames per protocol in
 * an array and bytes per destination port in a hash; drops TCP to port 23,
 * UDP to port 53 from a source port below 1024 and any frame with two VLAN
 * tags, passes the rest.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { P_ETH, P_VLAN, P_IPV4, P_IPV6, P_TCP, P_UDP, P_OTHER, P_SHORT, P_MAX };

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, P_MAX);
  __type(key, __u32);
  __type(value, __u64);
} proto_count SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u16);
  __type(value, __u64);
} port_bytes SEC(".maps");

struct vlan_hdr { __be16 tci; __be16 proto; };

static __always_inline void count(__u32 k) {
  __u64 *c = bpf_map_lookup_elem(&proto_count, &k);
  if (c) *c += 1;
}

SEC("xdp") int xdp_parse(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) { count(P_SHORT); return XDP_DROP; }
  count(P_ETH);
  __u16 proto = eth->h_proto;
  void *p = eth + 1;
  int tags = 0;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
    struct vlan_hdr *v = p;
    if ((void *)(v + 1) > end) { count(P_SHORT); return XDP_DROP; }
    count(P_VLAN);
    proto = v->proto;
    p = v + 1;
    tags++;
  }
  __u8 l4;
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = p;
    if ((void *)(ip + 1) > end) { count(P_SHORT); return XDP_DROP; }
    count(P_IPV4);
    __u32 ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip)) return XDP_ABORTED;
    l4 = ip->protocol;
    p = (void *)ip + ihl;
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = p;
    if ((void *)(ip6 + 1) > end) { count(P_SHORT); return XDP_DROP; }
    count(P_IPV6);
    l4 = ip6->nexthdr;
    p = ip6 + 1;
  } else {
    count(P_OTHER);
    return tags == 2 ? XDP_DROP : XDP_PASS;
  }
  __u16 sport, dport;
  if (l4 == IPPROTO_TCP) {
    struct tcphdr *t = p;
    if ((void *)(t + 1) > end) { count(P_SHORT); return XDP_DROP; }
    count(P_TCP);
    sport = bpf_ntohs(t->source);
    dport = bpf_ntohs(t->dest);
    if (dport == 23) return XDP_DROP;
  } else if (l4 == IPPROTO_UDP) {
    struct udphdr *u = p;
    if ((void *)(u + 1) > end) { count(P_SHORT); return XDP_DROP; }
    count(P_UDP);
    sport = bpf_ntohs(u->source);
    dport = bpf_ntohs(u->dest);
    if (dport == 53 && sport < 1024) return XDP_DROP;
  } else {
    count(P_OTHER);
    return XDP_PASS;
  }
  __u64 len = end - data;
  __u64 *b = bpf_map_lookup_elem(&port_bytes, &dport);
  if (b) __sync_fetch_and_add(b, len);
  else bpf_map_update_elem(&port_bytes, &dport, &len, BPF_NOEXIST);
  if (tags == 2) return XDP_DROP;
  return sport == 40001 ? XDP_TX : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
