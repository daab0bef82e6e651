/* A socket filter compiled by test/clang.test.ts with clang -target bpf -mcpu=v1, v2 and v3. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

__attribute__((section("socket1"), used))
int filter(void *skb) {
  unsigned int proto = load_half(skb, 12);
  if (proto != 0x0800) return 0;
  unsigned int ihl = (load_byte(skb, 14) & 0xf) * 4;
  if (ihl < 20) return 0;
  unsigned int ip_proto = load_byte(skb, 23);
  unsigned int dport;
  if (ip_proto == 6 || ip_proto == 17) dport = load_half(skb, 14 + ihl + 2);
  else return 0;
  unsigned int saddr = load_word(skb, 26);
  if ((saddr >> 24) == 10 && dport < 1024) return -1;
  return (dport % 7 == 3) ? 64 : 0;
}
