/*
 * Kernel differential program (test/progs-kernel.test.ts): XDP programs
 * that move the frame with bpf_xdp_adjust_head, bpf_xdp_adjust_tail and
 * bpf_xdp_adjust_meta. Each keeps the helpers' results and the frame's
 * length after them in an array, so the bounds of the test run's buffer
 * (headroom, xdp_frame, tailroom, metadata limit) show on both sides.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __s64);
} results SEC(".maps");

static __always_inline void put(__u32 k, __s64 v) { bpf_map_update_elem(&results, &k, &v, BPF_ANY); }

/* strip 14 bytes, then push 4 in front of what is left: a fake tag */
SEC("xdp") int xdp_head(struct xdp_md *ctx) {
  put(0, bpf_xdp_adjust_head(ctx, 14));
  put(1, bpf_xdp_adjust_head(ctx, -18));
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  put(2, end - data);
  if (data + 4 > end) return XDP_ABORTED;
  __u8 *p = data;
  p[0] = 0xde; p[1] = 0xad; p[2] = 0xbe; p[3] = 0xef;
  /* the largest headroom step: the buffer's head, less the xdp_frame */
  put(3, bpf_xdp_adjust_head(ctx, -256));
  put(4, bpf_xdp_adjust_head(ctx, -200));
  put(5, bpf_xdp_adjust_head(ctx, -30));
  put(6, bpf_xdp_adjust_head(ctx, -8));
  put(7, bpf_xdp_adjust_head(ctx, -2));
  data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
  put(8, end - data);
  /* and back past the 8 bytes pushed last */
  put(9, bpf_xdp_adjust_head(ctx, 8));
  return XDP_PASS;
}

/* grow by 20 (zeros), write them, shrink by 6; then the limits */
SEC("xdp") int xdp_tail(struct xdp_md *ctx) {
  put(0, bpf_xdp_adjust_tail(ctx, 20));
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  put(1, end - data);
  __u32 off = (end - data) - 20;
  if (off > 3000) return XDP_ABORTED;
  __u8 *z = data + off;
  if ((void *)(z + 20) > end) return XDP_ABORTED;
  put(2, z[0] | z[19]);
  z[0] = 0x55;
  put(3, bpf_xdp_adjust_tail(ctx, -6));
  put(4, bpf_xdp_adjust_tail(ctx, 4000));
  put(5, bpf_xdp_adjust_tail(ctx, -4000));
  data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
  __s64 room = 3840 - 256 - (end - data);
  /* the most the tail can grow: the page less headroom and tailroom */
  for (int d = 512; d >= 1; d /= 2) {
    if (bpf_xdp_adjust_tail(ctx, d) == 0) {
      if (bpf_xdp_adjust_tail(ctx, -d) != 0) return XDP_ABORTED;
    }
  }
  put(6, room);
  put(7, bpf_xdp_adjust_tail(ctx, 3520 - (int)(ctx->data_end - ctx->data)));
  put(8, bpf_xdp_adjust_tail(ctx, 1));
  data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
  put(9, end - data);
  put(10, bpf_xdp_adjust_tail(ctx, -(int)(end - data) + 14));
  put(11, bpf_xdp_adjust_tail(ctx, -1));
  data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
  put(12, end - data);
  return XDP_TX;
}

/* metadata: room for it in front of data, up to the limit */
SEC("xdp") int xdp_meta(struct xdp_md *ctx) {
  put(0, bpf_xdp_adjust_meta(ctx, -8));
  void *data = (void *)(long)ctx->data, *meta = (void *)(long)ctx->data_meta;
  put(1, data - meta);
  if (meta + 8 > data) return XDP_ABORTED;
  *(__u64 *)meta = 0x1122334455667788ULL;
  put(2, bpf_xdp_adjust_meta(ctx, -3));
  put(3, bpf_xdp_adjust_meta(ctx, -248));
  put(4, bpf_xdp_adjust_meta(ctx, -256));
  put(5, bpf_xdp_adjust_meta(ctx, 8));
  put(6, bpf_xdp_adjust_meta(ctx, 4));
  put(7, bpf_xdp_adjust_head(ctx, 4));
  data = (void *)(long)ctx->data; meta = (void *)(long)ctx->data_meta;
  put(8, data - meta);
  put(9, bpf_xdp_adjust_head(ctx, -220));
  put(10, bpf_xdp_adjust_head(ctx, -250));
  data = (void *)(long)ctx->data; meta = (void *)(long)ctx->data_meta;
  put(11, data - meta);
  put(12, ctx->ingress_ifindex);
  put(13, ctx->rx_queue_index);
  return XDP_PASS;
}

char _license[] SEC("license") = "GPL";

/*
 * The exact limits, found by trying every step: the most adjust_head may
 * prepend (the headroom less the xdp_frame), the most metadata
 * adjust_meta allows, the most adjust_tail may append (up to the
 * tailroom); the frame is put back after each try.
 */
SEC("xdp") int xdp_limits(struct xdp_md *ctx) {
  __s64 head = 0, meta = 0, tail = 0;
  for (int d = 1; d <= 300; d++) {
    if (bpf_xdp_adjust_head(ctx, -d) == 0) { head = d; bpf_xdp_adjust_head(ctx, d); }
  }
  for (int d = 4; d <= 300; d += 4) {
    if (bpf_xdp_adjust_meta(ctx, -d) == 0) { meta = d; bpf_xdp_adjust_meta(ctx, d); }
  }
  for (int d = 3400; d <= 4000; d++) {
    if (bpf_xdp_adjust_tail(ctx, d) == 0) { tail = d; bpf_xdp_adjust_tail(ctx, -d); }
  }
  put(13, head);
  put(14, meta);
  put(15, tail);
  /* with 60 more bytes of headroom, the metadata's own limit shows */
  if (bpf_xdp_adjust_head(ctx, 60) == 0) {
    __s64 meta2 = 0;
    for (int d = 4; d <= 300; d += 4) {
      if (bpf_xdp_adjust_meta(ctx, -d) == 0) { meta2 = d; bpf_xdp_adjust_meta(ctx, d); }
    }
    put(12, meta2);
  }
  return XDP_PASS;
}
