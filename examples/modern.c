/*
 * The modern style: a BTF-defined map in .maps and global variables (.bss,
 * .data, .rodata), which tsbpf turns into one-element array maps as libbpf
 * does. Counts packets per TCP destination port below a read-only limit
 * and keeps totals in globals. Build with BTF (-g):
 *   clang -O2 -g -fdebug-compilation-dir=. -target bpf -c examples/modern.c -o examples/modern.o
 */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
static void *(*bpf_map_lookup_elem)(void *map, void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, void *key, void *value, unsigned long long flags) = (void *)2;

struct {
  __uint(type, 1 /* BPF_MAP_TYPE_HASH */);
  __uint(max_entries, 1024);
  __type(key, unsigned int);
  __type(value, unsigned long long);
} ports SEC(".maps");

const volatile unsigned int port_limit = 1024;   /* .rodata */
unsigned long long seen = 0;                       /* .bss */
unsigned long long low_ports = 0;                  /* .bss */
unsigned int version = 7;                          /* .data */

SEC("socket1") int modern(void *skb) {
  __sync_fetch_and_add(&seen, 1);
  if (load_half(skb, 12) != 0x0800 || load_byte(skb, 23) != 6) return 0;
  unsigned int ihl = (load_byte(skb, 14) & 0xf) * 4;
  unsigned int dport = load_half(skb, 14 + ihl + 2);
  if (dport >= port_limit) return 0;
  __sync_fetch_and_add(&low_ports, 1);
  unsigned long long one = 1;
  unsigned long long *c = bpf_map_lookup_elem(&ports, &dport);
  if (c) __sync_fetch_and_add(c, 1);
  else bpf_map_update_elem(&ports, &dport, &one, 1 /* BPF_NOEXIST */);
  return version;
}

char _license[] SEC("license") = "GPL";
