/*
 * Count packets and bytes per IP protocol: a socket filter with an array map
 * in the legacy `maps` section, reading the packet with LD_ABS through
 * clang's llvm.bpf.load.* builtins. Build (npm run examples):
 *   clang -O2 -target bpf -c examples/proto-count.c -o examples/proto-count.o
 * Run over a capture:
 *   npx tsbpf run examples/proto-count.o --pcap examples/sample.pcap
 */
struct bpf_map_def {
  unsigned int type;
  unsigned int key_size;
  unsigned int value_size;
  unsigned int max_entries;
};

struct counters {
  unsigned long long packets;
  unsigned long long bytes;
};

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

static void *(*bpf_map_lookup_elem)(void *map, void *key) = (void *)1;

__attribute__((section("maps"), used))
struct bpf_map_def proto_count = { .type = 2 /* BPF_MAP_TYPE_ARRAY */, .key_size = 4, .value_size = 16, .max_entries = 256 };

__attribute__((section("socket1"), used))
int count(struct { unsigned int len; } *skb) {
  if (load_half(skb, 12) != 0x0800) return 0;
  unsigned int proto = load_byte(skb, 23);
  struct counters *c = bpf_map_lookup_elem(&proto_count, &proto);
  if (c) {
    __sync_fetch_and_add(&c->packets, 1);
    __sync_fetch_and_add(&c->bytes, skb->len);
  }
  return 0;
}

__attribute__((section("license"), used)) char _license[] = "GPL";
