/*
 * Issue 16's third example: a __noinline bpf-to-bpf call, for
 * test/verifier-modern.test.ts, which loads this section's bytes as they
 * are (the entry first, the callee after it, the call pc-relative: no
 * relocation), and test/calls.test.ts, where loadCollectionSpec links the
 * static callee of the program's own section as a sub-program (libbpf won't).
 * Build (from test/c):
 *   clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c modern-call.c -o modern-call.o
 */
#include <linux/bpf.h>

#define SEC(s) __attribute__((section(s), used))

static __attribute__((noinline)) SEC("socket/call") int twice_plus(unsigned int x, int y);

SEC("socket/call")
int noinline_call(struct __sk_buff *skb) {
  return twice_plus(skb->len, 3);
}

static __attribute__((noinline)) SEC("socket/call") int twice_plus(unsigned int x, int y) {
  return 2 * x + y;
}

char _license[] SEC("license") = "GPL";
