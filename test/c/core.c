/*
 * CO-RE relocations on the context structs, as programs built against
 * vmlinux.h (whose structs carry preserve_access_index) have them. The local
 * views below declare the fields in another order than the kernel's uapi
 * structs, so a loader that ignored the relocations would read the wrong
 * fields: the kernel (through libbpf and its vmlinux BTF) and tsbpf (through
 * its own BTF of the context structs) must both move every access to the
 * real offset. Built by scripts/build-kernel-progs.mjs.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct __sk_buff___mine {
	__u32 mark;
	__u32 cb[5];
	__u32 protocol;
	__u32 len;
	__u32 not_in_kernel;
	__u32 priority;
} __attribute__((preserve_access_index));

struct xdp_md___mine {
	__u32 ingress_ifindex;
	__u32 data_end;
	__u32 data;
} __attribute__((preserve_access_index));

struct tsbpf_no_such_struct {
	int x;
} __attribute__((preserve_access_index));

SEC("tc")
int tc_core(struct __sk_buff *ctx)
{
	struct __sk_buff___mine *s = (void *)ctx;
	__u32 r = s->len;

	r += s->protocol << 8;
	s->cb[2] = r;
	s->mark = 7;
	s->priority = s->mark + s->cb[2];
	r = s->priority;
	if (bpf_core_field_exists(s->not_in_kernel))
		r += 1000;
	if (bpf_core_field_exists(s->cb))
		r += 2000;
	r += bpf_core_field_size(s->cb) << 16;
	r += bpf_core_type_size(struct __sk_buff) << 24;
	if (bpf_core_type_exists(struct tsbpf_no_such_struct))
		r += 3;
	return r;
}

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct xdp_md___mine *x = (void *)ctx;
	unsigned char *data = (void *)(long)x->data;
	unsigned char *end = (void *)(long)x->data_end;

	if (data + 14 > end)
		return XDP_DROP;
	if (x->ingress_ifindex != 1)
		return XDP_ABORTED;
	if (data[12] == 0x08 && data[13] == 0x00)
		return bpf_core_enum_value(enum xdp_action, XDP_PASS);
	return bpf_core_enum_value(enum xdp_action, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
