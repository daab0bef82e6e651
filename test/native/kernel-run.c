/*
 * Differential-test helper: load socket filters into the host kernel with
 * bpf(2) and run them with BPF_PROG_TEST_RUN. Reads lines from stdin:
 *   P <hex of the program's 8-byte slots>     load (prints "L <fd>" or "E <errno> <last log line>")
 *   R <hex of the packet>                     run the last program (prints "R <retval>" or "E <errno>")
 *   B <repeat> <hex of the packet>            run it repeat times (prints "B <retval> <ns per run>")
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
  static char log[1 << 16];
  int prog = -1;
  while (fgets(line, sizeof line, stdin)) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    if (line[0] == 'P') {
      int n = hex(line + 2, buf, sizeof buf);
      attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
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
      memset(buf, 0, 14);
      int n = hex(p + 1, buf + 14, sizeof buf - 14);
      attr.test.prog_fd = prog;
      attr.test.data_in = (uint64_t)(uintptr_t)buf;
      attr.test.data_size_in = n + 14;
      attr.test.repeat = repeat;
      int r = syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr);
      if (r < 0) printf("E %d\n", errno); else printf("B %u %u\n", attr.test.retval, attr.test.duration);
    } else if (line[0] == 'R') {
      memset(buf, 0, 14);
      int n = hex(line + 2, buf + 14, sizeof buf - 14);
      uint32_t retval = 0;
      attr.test.prog_fd = prog;
      attr.test.data_in = (uint64_t)(uintptr_t)buf;
      attr.test.data_size_in = n + 14;
      attr.test.repeat = 1;
      int r = syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr);
      retval = attr.test.retval;
      if (r < 0) printf("E %d\n", errno); else printf("R %u\n", retval);
    }
    fflush(stdout);
  }
  return 0;
}
