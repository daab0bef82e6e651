/*
 * The kernel runner: load programs into the host kernel with bpf(2) and run
 * them with BPF_PROG_TEST_RUN, for the bench's kernel column (src/bench/kernel.ts
 * builds it with cc) and the differential tests (test/kernel-helper.ts).
 * Reads lines from stdin:
 *   P <hex of the program's 8-byte slots>     load (prints "L <fd>" or "E <errno> <last log line>")
 *   R <hex of the packet>                     run the last program (prints "R <retval>" or "E <errno>")
 *   B <repeat> <hex of the packet>            run it repeat times (prints "B <retval> <ns per run>")
 *   M <type> <key size> <value size> <max entries>
 *                                             create a map (prints "M <fd>"); a later program's
 *                                             ld_imm64 with src_reg 1 and imm N refers to the Nth map
 *   X <hex of the program's slots>            load an XDP program: r1 is an xdp_md, the data is
 *                                             not prefixed, B/R then run it
 * The kernel strips an Ethernet header before a socket filter sees the
 * data, so each packet is prefixed with 14 zero bytes here.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int hex(const char *s, unsigned char *out, size_t max) {
  size_t n = 0;
  while (s[0] && s[1] && s[0] != '\n' && n < max) {
    unsigned v;
    if (sscanf(s, "%2x", &v) != 1) break;
    out[n++] = (unsigned char)v;
    s += 2;
  }
  return (int)n;
}

int main(void) {
  static char line[1 << 20];
  static unsigned char buf[1 << 19];
  static char log[1 << 24];
  int prog = -1;
  int maps[64];
  int nmaps = 0;
  int xdp = 0;
  while (fgets(line, sizeof line, stdin)) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    if (line[0] == 'M') {
      unsigned type, ks, vs, max;
      if (sscanf(line + 2, "%u %u %u %u", &type, &ks, &vs, &max) != 4 || nmaps == 64) { printf("E 22\n"); fflush(stdout); continue; }
      attr.map_type = type;
      attr.key_size = ks;
      attr.value_size = vs;
      attr.max_entries = max;
      int fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
      if (fd < 0) printf("E %d\n", errno); else { maps[nmaps++] = fd; printf("M %d\n", fd); }
    } else if (line[0] == 'P' || line[0] == 'X') {
      int n = hex(line + 2, buf, sizeof buf);
      /* map references by index */
      for (int i = 0; i + 8 <= n; i += 8) {
        if (buf[i] == 0x18 && (buf[i + 1] >> 4) == 1) {
          int32_t idx;
          memcpy(&idx, buf + i + 4, 4);
          if (idx >= 0 && idx < nmaps) memcpy(buf + i + 4, &maps[idx], 4);
        }
      }
      xdp = line[0] == 'X';
      attr.prog_type = xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SOCKET_FILTER;
      attr.insns = (uint64_t)(uintptr_t)buf;
      attr.insn_cnt = n / 8;
      attr.license = (uint64_t)(uintptr_t)"GPL";
      attr.log_buf = (uint64_t)(uintptr_t)log;
      attr.log_size = sizeof log;
      attr.log_level = 1;
      if (prog >= 0) close(prog);
      prog = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
      if (prog < 0) {
        int e = errno;
        /* the last line of the verifier log says why */
        char *end = log + strlen(log);
        while (end > log && end[-1] == '\n') *--end = 0;
        char *last = strrchr(log, '\n');
        printf("E %d %s\n", e, last ? last + 1 : log);
      } else {
        printf("L %d\n", prog);
      }
    } else if (line[0] == 'B') {
      char *p = line + 2;
      unsigned repeat = (unsigned)strtoul(p, &p, 10);
      int pre = xdp ? 0 : 14;
      memset(buf, 0, 14);
      int n = hex(p + 1, buf + pre, sizeof buf - pre);
      attr.test.prog_fd = prog;
      attr.test.data_in = (uint64_t)(uintptr_t)buf;
      attr.test.data_size_in = n + pre;
      attr.test.repeat = repeat;
      int r = syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr);
      if (r < 0) printf("E %d\n", errno); else printf("B %u %u\n", attr.test.retval, attr.test.duration);
    } else if (line[0] == 'R') {
      int pre = xdp ? 0 : 14;
      memset(buf, 0, 14);
      int n = hex(line + 2, buf + pre, sizeof buf - pre);
      uint32_t retval = 0;
      attr.test.prog_fd = prog;
      attr.test.data_in = (uint64_t)(uintptr_t)buf;
      attr.test.data_size_in = n + pre;
      attr.test.repeat = 1;
      int r = syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr);
      retval = attr.test.retval;
      if (r < 0) printf("E %d\n", errno); else printf("R %u\n", retval);
    }
    fflush(stdout);
  }
  return 0;
}
