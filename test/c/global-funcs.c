/*
 * Global functions as libbpf objects have them: with -g, .BTF.ext's
 * func_info marks add_len and sum_pair global, so the modern verifier checks
 * each once on its own from its prototype (a context and a scalar; a pair
 * that may be NULL) and assumes calls to them valid; twice is static and
 * walked in its caller's context. Built by scripts/build-kernel-progs.mjs;
 * run against the host kernel by test/progs-kernel.test.ts, its log
 * compared by test/calls.test.ts.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair { __u32 a; __u32 b; };

__noinline int add_len(struct __sk_buff *skb, int x)
{
	return skb->len + x;
}

__noinline int sum_pair(struct pair *p)
{
	if (!p) return 0;
	return p->a + p->b;
}

static __noinline int twice(int v) { return v * 2; }

SEC("tc")
int tc_glob(struct __sk_buff *skb)
{
	struct pair p = { .a = 1, .b = 2 };
	return add_len(skb, 3) + sum_pair(&p) + twice(skb->mark);
}
char LICENSE[] SEC("license") = "GPL";
