/*
 * Programs whose verifier logs carry source lines (.BTF.ext line_info), for
 * test/source-lines.test.ts and its host-kernel differential: the lines
 * tsbpf's modern log prints above the instructions must be the kernel's.
 *   sum_values:  accepted; a map lookup, branches, a bounded loop, a
 *                statement of several columns (`; ... @ source-lines.c:N`
 *                printed once per line record the kernel finds)
 *   bad_index:   rejected: a map value indexed without a bounds check; the
 *                log's last lines show the offending C line
 *   late_bad:    rejected on the second path explored (a level-1 log is
 *                rewound to the branch, the last line printed is not)
 *   first/second: two programs in one section, so the second's line records
 *                are rebased to its own first instruction
 *   spin:        rejected, `infinite loop detected`, with the loop's line
 *                above it (the two verifiers detect it at other instructions)
 * Build: node scripts/build-kernel-progs.mjs (clang -O2 -g -target bpf,
 * -fdebug-compilation-dir=. so the file name is relative)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct rec {
  unsigned int n;
  unsigned int c[4];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, unsigned int);
  __type(value, struct rec);
} recs SEC(".maps");

SEC("xdp")
int sum_values(struct xdp_md *ctx) {
  unsigned int k = 0;
  struct rec *r = bpf_map_lookup_elem(&recs, &k);
  if (!r)
    return XDP_PASS;
  unsigned int sum = 0;
#pragma nounroll
  for (unsigned int i = 0; i < 4; i++)
    sum += r->c[i] * 3 + i;
  if (sum > 100)
    return XDP_DROP;
  return XDP_PASS;
}

SEC("xdp")
int bad_index(struct xdp_md *ctx) {
  unsigned int k = 1;
  struct rec *r = bpf_map_lookup_elem(&recs, &k);
  if (!r)
    return XDP_PASS;
  unsigned int i = r->n;
  r->c[i] += 1;
  return XDP_DROP;
}

SEC("xdp")
int late_bad(struct xdp_md *ctx) {
  unsigned char *d = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((void *)(d + 32) > end)
    return d[3];
  return d[0] == 0x45 ? XDP_PASS : d[20];
}

SEC("xdp/two")
int first(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if (data + 14 > end)
    return XDP_DROP;
  return XDP_PASS;
}

SEC("xdp/two")
int second(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((void *)(data + 1) > end)
    return XDP_ABORTED;
  return data[0] == 0x45 ? XDP_PASS : data[20];
}

SEC("xdp")
int spin(struct xdp_md *ctx) {
  unsigned int i = 0;
  while (i < 10) {
    asm volatile("" : "+r"(i));
  }
  return i;
}

char _license[] SEC("license") = "GPL";
