/* What the examples need from the kernel's headers, written out (3.19 names and numbers). */
#ifndef TSBPF_EXAMPLES_HELPERS_H
#define TSBPF_EXAMPLES_HELPERS_H

struct bpf_map_def {
  unsigned int type;
  unsigned int key_size;
  unsigned int value_size;
  unsigned int max_entries;
};

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

#define SEC(name) __attribute__((section(name), used))

/* LD_ABS / LD_IND: network byte order, the program ends with 0 when out of bounds */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

static void *(*bpf_map_lookup_elem)(void *map, void *key) = (void *)1;
static int (*bpf_map_update_elem)(void *map, void *key, void *value, unsigned long long flags) = (void *)2;
static int (*bpf_map_delete_elem)(void *map, void *key) = (void *)3;

/* the socket filter's context: the packet length (4.1's __sk_buff.len) */
struct skb_ctx {
  unsigned int len;
};

#endif
