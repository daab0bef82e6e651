/*
 * Issue 16's three examples of C that today's kernel accepts and the 3.19
 * profile refuses, for test/verifier-modern.test.ts (loaded with
 * loadCollectionSpec + Collection on a modern BpfSystem, run, and compared
 * with the host kernel's verdict):
 *   index: a map value indexed after `if (i >= 4) return 0`
 *   loop:  a bounded loop, not unrolled
 * (the third, a __noinline bpf-to-bpf call, is modern-call.c: tsbpf's ELF
 * loader does not link calls yet)
 * Build (from test/c):
 *   clang -O2 -g -target bpf -fno-unroll-loops -I/usr/include/x86_64-linux-gnu -c modern-examples.c -o modern-examples.o
 */
#include <linux/bpf.h>

#define SEC(s) __attribute__((section(s), used))

struct rec { unsigned int i; unsigned int c[4]; };

struct {
  int (*type)[BPF_MAP_TYPE_ARRAY];
  int (*max_entries)[1];
  unsigned int *key;
  struct rec *value;
} recs SEC(".maps");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("socket/index")
int index_after_check(void *skb) {
  unsigned int k = 0;
  struct rec *r = bpf_map_lookup_elem(&recs, &k);
  if (!r) return 0;
  unsigned int i = r->i;
  if (i >= 4) return 0;
  r->c[i]++;
  return r->c[i];
}

SEC("socket/loop")
int bounded_loop(void *skb) {
  unsigned int k = 0;
  struct rec *r = bpf_map_lookup_elem(&recs, &k);
  if (!r) return 0;
  unsigned int sum = 0;
#pragma nounroll
  for (unsigned int i = 0; i < 10; i++) sum += r->c[i & 3] ^ i;
  return sum;
}

char _license[] SEC("license") = "GPL";
