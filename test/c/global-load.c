/*
 * The host kernel's side of test/verifier-modern-global.test.ts: loads
 * programs with BTF and func_info through raw bpf(2), so that global
 * functions are verified as the kernel does, and prints the verdict and the
 * verifier's log. Build: cc -O2 -o global-load test/c/global-load.c
 * Input, one program a line: "<prog type> <log level> <hex BTF> <hex insns>
 * <hex func_info records (insn_off, type_id as u32 pairs)>".
 * Output per program: "R <errno>" (0 when loaded), the log's lines each
 * prefixed "L ", then "E".
 */
#include <linux/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char line[1 << 20];
static char logbuf[1 << 20];

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* decodes the hex word at *s into a fresh buffer; *n gets its length */
static unsigned char *hex(char **s, size_t *n) {
  char *p = *s;
  while (*p == ' ') p++;
  char *end = p;
  while (*end && *end != ' ' && *end != '\n') end++;
  size_t len = (size_t)(end - p) / 2;
  unsigned char *out = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++) {
    unsigned v;
    sscanf(p + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  *n = len;
  *s = end;
  return out;
}

int main(void) {
  while (fgets(line, sizeof line, stdin)) {
    char *s = line;
    int type = (int)strtol(s, &s, 10);
    int level = (int)strtol(s, &s, 10);
    size_t nbtf, ninsn, nfi;
    unsigned char *btf = hex(&s, &nbtf);
    unsigned char *insns = hex(&s, &ninsn);
    unsigned char *fi = hex(&s, &nfi);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.btf = (unsigned long)btf;
    a.btf_size = (unsigned)nbtf;
    int btf_fd = (int)sys_bpf(BPF_BTF_LOAD, &a);
    if (btf_fd < 0) {
      printf("R -%d\nL BTF_LOAD failed\nE\n", errno);
      fflush(stdout);
      continue;
    }
    memset(&a, 0, sizeof a);
    logbuf[0] = 0;
    a.prog_type = (unsigned)type;
    a.insns = (unsigned long)insns;
    a.insn_cnt = (unsigned)(ninsn / 8);
    a.license = (unsigned long)"GPL";
    a.log_level = (unsigned)level;
    a.log_size = level ? sizeof logbuf : 0;
    a.log_buf = level ? (unsigned long)logbuf : 0;
    a.prog_btf_fd = (unsigned)btf_fd;
    a.func_info_rec_size = 8;
    a.func_info = (unsigned long)fi;
    a.func_info_cnt = (unsigned)(nfi / 8);
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    int err = fd < 0 ? errno : 0;
    printf("R %d\n", err);
    for (char *l = strtok(logbuf, "\n"); l; l = strtok(NULL, "\n")) printf("L %s\n", l);
    printf("E\n");
    fflush(stdout);
    if (fd >= 0) close(fd);
    close(btf_fd);
    free(btf);
    free(insns);
    free(fi);
  }
  return 0;
}
