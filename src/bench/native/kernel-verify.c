/*
 * The kernel verifier runner: load programs into the host kernel with
 * bpf(2) BPF_PROG_LOAD and report the verifier's verdict, errno, log tail
 * and statistics, for the bench's verifier section (src/bench/verifier.ts)
 * and the modern kernel differential (test/verifier-modern-kernel.test.ts,
 * test/fuzz/modern-diff.ts). Reads lines from stdin:
 *   M <type> <key size> <value size> <max entries> [<flags>]
 *                          create a map (prints "M <fd>" or "E <errno>"); a later
 *                          program's ld_imm64 with src_reg 1 (or 2, a value) and imm N refers to
 *                          the Nth map
 *   V <prog type> <log level> <repeat> <hex of the program's 8-byte slots>
 *                          load it `repeat` times (closing each); prints
 *                          "L <processed> <verification usec> <load ns>" or
 *                          "E <errno> <processed> <verification usec> <load ns>"
 *                          (usec: the smallest the kernel's BPF_LOG_STATS line
 *                          gave, -1 without log level 4; ns: the smallest wall time
 *                          of the bpf(2) call; processed: from the "processed N
 *                          insns" line, -1 without it), then "N <lines>" and the
 *                          last <lines> (at most 40) lines of the last load's
 *                          log, each prefixed with "| "
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
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

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* the number after `key` in the log, or -1 */
static long long after(const char *log, const char *key) {
  const char *p = strstr(log, key);
  return p ? atoll(p + strlen(key)) : -1;
}

int main(void) {
  static char line[1 << 20];
  static unsigned char buf[1 << 19];
  static char log[1 << 24];
  int maps[64];
  int nmaps = 0;
  while (fgets(line, sizeof line, stdin)) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    if (line[0] == 'M') {
      unsigned type, ks, vs, max, flags = 0;
      int got = sscanf(line + 2, "%u %u %u %u %u", &type, &ks, &vs, &max, &flags);
      if (got < 4 || nmaps == 64) { printf("E 22\n"); fflush(stdout); continue; }
      attr.map_type = type;
      attr.key_size = ks;
      attr.value_size = vs;
      attr.max_entries = max;
      attr.map_flags = flags;
      int fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
      if (fd < 0) printf("E %d\n", errno); else { maps[nmaps++] = fd; printf("M %d\n", fd); }
    } else if (line[0] == 'V') {
      unsigned type, level, repeat;
      int used = 0;
      if (sscanf(line + 2, "%u %u %u %n", &type, &level, &repeat, &used) != 3 || repeat == 0) { printf("E 22 -1 -1 -1\nN 0\n"); fflush(stdout); continue; }
      int n = hex(line + 2 + used, buf, sizeof buf);
      for (int i = 0; i + 8 <= n; i += 8) {
        /* src 1 (BPF_PSEUDO_MAP_FD) and 2 (BPF_PSEUDO_MAP_VALUE): imm is a map index */
        if (buf[i] == 0x18 && ((buf[i + 1] >> 4) == 1 || (buf[i + 1] >> 4) == 2)) {
          int32_t idx;
          memcpy(&idx, buf + i + 4, 4);
          if (idx >= 0 && idx < nmaps) memcpy(buf + i + 4, &maps[idx], 4);
        }
      }
      long long best_us = -1, best_ns = -1, processed = -1;
      int err = 0;
      for (unsigned r = 0; r < repeat; r++) {
        memset(&attr, 0, sizeof attr);
        attr.prog_type = type;
        attr.insns = (uint64_t)(uintptr_t)buf;
        attr.insn_cnt = n / 8;
        attr.license = (uint64_t)(uintptr_t)"GPL";
        if (level) {
          /* the kernel refuses a log buffer without a level */
          attr.log_buf = (uint64_t)(uintptr_t)log;
          attr.log_size = sizeof log;
          attr.log_level = level;
        }
        log[0] = 0;
        long long t0 = now_ns();
        int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
        long long dt = now_ns() - t0;
        err = fd < 0 ? errno : 0;
        if (fd >= 0) close(fd);
        long long us = after(log, "verification time ");
        if (us >= 0 && (best_us < 0 || us < best_us)) best_us = us;
        if (best_ns < 0 || dt < best_ns) best_ns = dt;
        processed = after(log, "processed ");
      }
      if (err) printf("E %d %lld %lld %lld\n", err, processed, best_us, best_ns);
      else printf("L %lld %lld %lld\n", processed, best_us, best_ns);
      /* the log's last lines: split at newlines, print the last 40 */
      static char *starts[1 << 20];
      int lines = 0;
      char *end = log + strlen(log);
      while (end > log && end[-1] == '\n') *--end = 0;
      for (char *p = log; p < end && lines < (1 << 20);) {
        starts[lines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
      }
      int first = lines > 40 ? lines - 40 : 0;
      printf("N %d\n", lines - first);
      for (int i = first; i < lines; i++) printf("| %s\n", starts[i]);
    }
    fflush(stdout);
  }
  return 0;
}
