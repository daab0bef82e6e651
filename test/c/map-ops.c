/*
 * map-ops: the host kernel's bpf(2) map commands behind a line protocol, for
 * test/maps-kernel.test.ts, which runs the same sequences on tsbpf (modern
 * profile) and compares every answer. One command per input line, one
 * answer line per command: a non-negative result (an fd, or 0 followed by
 * the bytes read, in hex) or -errno. Hex "-" means a NULL pointer.
 *
 *   C type key_size value_size max_entries map_flags inner_map_fd  -> fd
 *   L fd key value_len        lookup              -> 0 value
 *   U fd key value flags      update              -> 0
 *   D fd key                  delete              -> 0
 *   N fd key key_len          get_next_key        -> 0 next_key
 *   X fd key value_len        lookup_and_delete   -> 0 value
 *   F fd                      freeze              -> 0
 *   Z fd                      close               -> 0
 *   P prog_type               load "r0 = 0; exit" -> fd (for prog arrays)
 *   I fd                      the object's id     -> 0 id (u32, little-endian hex)
 *
 * The process pins itself to CPU 0 first: the kernel's LRU lists and
 * per-CPU values depend on the CPU a syscall runs on, and tsbpf's syscall
 * side is CPU 0.
 *
 * Build: cc -O2 -o map-ops test/c/map-ops.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned char buf[3][1 << 16];

/* Hex to bytes in buf[slot]; NULL for "-". */
static void *unhex(const char *s, int slot, size_t *len) {
  if (!strcmp(s, "-")) { *len = 0; return NULL; }
  size_t n = strlen(s) / 2;
  for (size_t i = 0; i < n; i++) sscanf(s + 2 * i, "%2hhx", &buf[slot][i]);
  *len = n;
  return buf[slot];
}

static long sys(int cmd, union bpf_attr *a) {
  long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
  return r < 0 ? -errno : r;
}

static void answer(long r, const unsigned char *out, size_t n) {
  printf("%ld", r);
  if (r >= 0 && out) {
    putchar(' ');
    for (size_t i = 0; i < n; i++) printf("%02x", out[i]);
  }
  putchar('\n');
}

int main(void) {
  static char line[1 << 18], k[1 << 17], v[1 << 17];
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(0, &cpus);
  if (sched_setaffinity(0, sizeof cpus, &cpus)) { perror("sched_setaffinity"); return 1; }
  while (fgets(line, sizeof line, stdin)) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    unsigned long long p[6];
    size_t kl, vl;
    char c = line[0];
    if (c == 'C' && sscanf(line + 1, "%llu %llu %llu %llu %llu %lld", &p[0], &p[1], &p[2], &p[3], &p[4], (long long *)&p[5]) == 6) {
      a.map_type = p[0]; a.key_size = p[1]; a.value_size = p[2]; a.max_entries = p[3]; a.map_flags = p[4]; a.inner_map_fd = p[5];
      answer(sys(BPF_MAP_CREATE, &a), NULL, 0);
    } else if ((c == 'L' || c == 'X') && sscanf(line + 1, "%llu %s %llu", &p[0], k, &p[1]) == 3) {
      a.map_fd = p[0]; a.key = (uintptr_t)unhex(k, 0, &kl); a.value = (uintptr_t)buf[1];
      memset(buf[1], 0xee, p[1]);
      answer(sys(c == 'L' ? BPF_MAP_LOOKUP_ELEM : BPF_MAP_LOOKUP_AND_DELETE_ELEM, &a), buf[1], p[1]);
    } else if (c == 'U' && sscanf(line + 1, "%llu %s %s %llu", &p[0], k, v, &p[1]) == 4) {
      a.map_fd = p[0]; a.key = (uintptr_t)unhex(k, 0, &kl); a.value = (uintptr_t)unhex(v, 1, &vl); a.flags = p[1];
      answer(sys(BPF_MAP_UPDATE_ELEM, &a), NULL, 0);
    } else if (c == 'D' && sscanf(line + 1, "%llu %s", &p[0], k) == 2) {
      a.map_fd = p[0]; a.key = (uintptr_t)unhex(k, 0, &kl);
      answer(sys(BPF_MAP_DELETE_ELEM, &a), NULL, 0);
    } else if (c == 'N' && sscanf(line + 1, "%llu %s %llu", &p[0], k, &p[1]) == 3) {
      a.map_fd = p[0]; a.key = (uintptr_t)unhex(k, 0, &kl); a.next_key = (uintptr_t)buf[2];
      answer(sys(BPF_MAP_GET_NEXT_KEY, &a), buf[2], p[1]);
    } else if (c == 'F' && sscanf(line + 1, "%llu", &p[0]) == 1) {
      a.map_fd = p[0];
      answer(sys(BPF_MAP_FREEZE, &a), NULL, 0);
    } else if (c == 'P' && sscanf(line + 1, "%llu", &p[0]) == 1) {
      struct bpf_insn insns[2] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 }, { .code = BPF_JMP | BPF_EXIT } };
      a.prog_type = p[0]; a.insns = (uintptr_t)insns; a.insn_cnt = 2; a.license = (uintptr_t)"GPL";
      answer(sys(BPF_PROG_LOAD, &a), NULL, 0);
    } else if (c == 'I' && sscanf(line + 1, "%llu", &p[0]) == 1) {
      /* bpf_map_info and bpf_prog_info both start with u32 type, u32 id */
      static uint32_t info[64];
      memset(info, 0, sizeof info);
      a.info.bpf_fd = p[0]; a.info.info_len = sizeof info; a.info.info = (uintptr_t)info;
      answer(sys(BPF_OBJ_GET_INFO_BY_FD, &a), (unsigned char *)&info[1], 4);
    } else if (c == 'Z' && sscanf(line + 1, "%llu", &p[0]) == 1) {
      answer(close(p[0]) ? -errno : 0, NULL, 0);
    } else {
      printf("? %s", line);
    }
    fflush(stdout);
  }
  return 0;
}
