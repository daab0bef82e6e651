/*
 * CO-RE relocations tsbpf's context BTF cannot satisfy: a struct the kernel
 * does not have either. Guarded by bpf_core_type_exists the access is dead
 * code and the program loads; unguarded, its poisoned instruction is
 * reached and the verifier refuses it. Built by scripts/build-kernel-progs.mjs
 * (tsbpf only: libbpf fails a whole object when one program fails).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct tsbpf_absent {
	__u32 a;
	__u32 b;
} __attribute__((preserve_access_index));

SEC("xdp")
int guarded(struct xdp_md *ctx)
{
	struct tsbpf_absent *p = (void *)ctx;

	if (bpf_core_type_exists(struct tsbpf_absent))
		return p->b;
	return XDP_PASS;
}

SEC("xdp")
int unguarded(struct xdp_md *ctx)
{
	struct tsbpf_absent *p = (void *)ctx;

	return p->b;
}

char LICENSE[] SEC("license") = "GPL";
