/*
 * CO-RE relocations for the .BTF.ext reader's test (test/btf.test.ts): clang
 * records one per relocatable access (a field's offset, a field's existence,
 * a type's size), which tsbpf reads and does not apply yet.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task {
  int pid;
  struct {
    long a;
    long b;
  } inner;
} __attribute__((preserve_access_index));

SEC("xdp")
int core(struct xdp_md *ctx) {
  struct task *t = (void *)(long)ctx->data;
  long b = BPF_CORE_READ(t, inner.b);
  int exists = bpf_core_field_exists(t->pid);
  return b + exists + bpf_core_type_size(struct task);
}

char _license[] SEC("license") = "GPL";
