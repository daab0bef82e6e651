/*
 * The host kernel's column of the map-ops bench (src/bench/map-ops.ts):
 * bpf(2) BPF_MAP_LOOKUP_ELEM and BPF_MAP_UPDATE_ELEM on a hash map of
 * 4-byte keys and 8-byte values, timed from user space. Reads lines
 * "N OPS" (entries, timed calls); for each, creates a hash map of N
 * entries, fills keys 0..N-1, and prints "R N lookup_ns update_ns", the
 * best of 5 rounds, with the keys in the same pseudo-random order the
 * JavaScript side uses (xorshift32 from seed 1). "E errno" when bpf(2)
 * fails (not root, no bpf). Timed in the process's CPU time (the
 * syscalls' system time included), as the JavaScript side is.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#define NKEYS 65536
static uint32_t keys[NKEYS];

static int elem(int cmd, int fd, uint32_t *k, uint64_t *v) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_fd = fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.value = (uint64_t)(uintptr_t)v;
  return (int)sys_bpf(cmd, &a);
}

int main(void) {
  unsigned n, ops;
  while (scanf("%u %u", &n, &ops) == 2) {
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_HASH;
    a.key_size = 4;
    a.value_size = 8;
    a.max_entries = n;
    int fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
    if (fd < 0) { printf("E %d\n", errno); fflush(stdout); continue; }
    uint64_t v = 7;
    for (uint32_t k = 0; k < n; k++) if (elem(BPF_MAP_UPDATE_ELEM, fd, &k, &v)) { printf("E %d\n", errno); goto next; }
    uint32_t x = 1;
    for (int i = 0; i < NKEYS; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; keys[i] = x % n; }
    double best[2] = { 1e18, 1e18 };
    for (int round = 0; round < 5; round++) {
      for (int op = 0; op < 2; op++) {
        double t0 = now_ns();
        for (unsigned i = 0; i < ops; i++) {
          uint32_t k = keys[i & (NKEYS - 1)];
          if (op == 0) elem(BPF_MAP_LOOKUP_ELEM, fd, &k, &v);
          else { v = i; elem(BPF_MAP_UPDATE_ELEM, fd, &k, &v); }
        }
        double ns = (now_ns() - t0) / ops;
        if (ns < best[op]) best[op] = ns;
      }
    }
    printf("R %u %.1f %.1f\n", n, best[0], best[1]);
  next:
    fflush(stdout);
    close(fd);
  }
  return 0;
}
