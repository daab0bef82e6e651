/*
 * The bench's XDP/tc kernel column (src/bench/xdp.ts builds it with
 * `cc -O2 ... -lbpf`): loads a BPF object with libbpf, then for each line
 * "<program name> <repeat> <hex frame>" on stdin runs that program with
 * BPF_PROG_TEST_RUN, repeat times over the frame, and prints
 * "B <retval> <ns per run>" (the kernel's own per-run duration) or
 * "E <errno>". It prints "L" once the object is loaded, "E <errno> load"
 * when it is not (no bpf(2), not root).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexin(const char *s, unsigned char *out, size_t max) {
  size_t n = 0;
  while (s[0] && s[1] && s[0] != '\n' && n < max) {
    unsigned v;
    if (sscanf(s, "%2x", &v) != 1) break;
    out[n++] = (unsigned char)v;
    s += 2;
  }
  return (int)n;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: kernel-obj-run OBJ\n"); return 2; }
  libbpf_set_print(NULL);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) { printf("E %d open\n", errno); return 1; }
  if (bpf_object__load(obj)) { printf("E %d load\n", errno); return 1; }
  printf("L\n");
  fflush(stdout);
  static char line[1 << 18];
  static unsigned char in[1 << 17], out[1 << 17];
  while (fgets(line, sizeof line, stdin)) {
    char name[256];
    unsigned repeat;
    int at = 0;
    if (sscanf(line, "%255s %u %n", name, &repeat, &at) != 2) { printf("E 22\n"); fflush(stdout); continue; }
    int n = hexin(line + at, in, sizeof in);
    struct bpf_program *p = bpf_object__find_program_by_name(obj, name);
    if (!p) { printf("E 2\n"); fflush(stdout); continue; }
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = n, .data_out = out, .data_size_out = sizeof out, .repeat = repeat);
    if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts)) { printf("E %d\n", errno); fflush(stdout); continue; }
    printf("B %u %u\n", opts.retval, opts.duration);
    fflush(stdout);
  }
  bpf_object__close(obj);
  return 0;
}
