/*
 * The types tsbpf resolves CO-RE relocations against, standing in for the
 * kernel's vmlinux BTF: the uapi context structs of the program types it
 * runs, the enum of XDP's verdicts, and the protocol headers that programs
 * built on vmlinux.h parse packets with (every struct of vmlinux.h carries
 * preserve_access_index, so each field access to them is a relocation).
 * clang -g turns the globals below into BTF; scripts/build-ctx-btf.mjs
 * embeds that BTF in src/loader/ctx-btf.ts.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>

struct __sk_buff tsbpf_skb;
struct xdp_md tsbpf_xdp;
struct bpf_sock tsbpf_sock;
struct bpf_flow_keys tsbpf_flow_keys;
enum xdp_action tsbpf_xdp_action;
struct ethhdr tsbpf_eth;
struct iphdr tsbpf_ip;
struct ipv6hdr tsbpf_ip6;
struct tcphdr tsbpf_tcp;
struct udphdr tsbpf_udp;
struct icmp6hdr tsbpf_icmp6;
