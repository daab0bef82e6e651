/*
 * The types tsbpf resolves CO-RE relocations against: the uapi context
 * structs of the program types it runs and the enums of their verdicts,
 * as the kernel's own BTF describes them. clang -g turns the globals below
 * into BTF; scripts/build-ctx-btf.mjs embeds that BTF in
 * src/loader/ctx-btf.ts.
 */
#include <linux/bpf.h>

struct __sk_buff *tsbpf_skb;
struct xdp_md *tsbpf_xdp;
struct bpf_sock *tsbpf_sock;
struct bpf_flow_keys *tsbpf_flow_keys;
enum xdp_action tsbpf_xdp_action;
