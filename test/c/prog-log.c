/*
 * The host kernel's verifier log of one program of a BPF object, for the
 * source-line differential test (test/source-lines-kernel.test.ts): libbpf
 * opens the object (relocating calls and maps, passing func_info and
 * line_info with the object's BTF), loads only the named program at the given
 * log level, and prints "OK" or "E <errno>", then the log.
 * Build: cc -O2 -o prog-log test/c/prog-log.c -lbpf
 * Usage: prog-log OBJ PROGRAM LEVEL [PROG_TYPE]
 * (PROG_TYPE: the uapi number, for sections libbpf does not name, e.g. 1 for socket/x)
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args) {
  (void)level; (void)fmt; (void)args;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: prog-log OBJ PROGRAM LEVEL [PROG_TYPE]\n");
    return 2;
  }
  libbpf_set_print(quiet);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) {
    fprintf(stderr, "prog-log: cannot open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  static char log[1 << 24];
  struct bpf_program *p, *want = NULL;
  bpf_object__for_each_program(p, obj) {
    if (strcmp(bpf_program__name(p), argv[2]) == 0) want = p;
    else bpf_program__set_autoload(p, false);
  }
  if (!want) {
    fprintf(stderr, "prog-log: no program %s in %s\n", argv[2], argv[1]);
    return 1;
  }
  if (argc == 5) bpf_program__set_type(want, (enum bpf_prog_type)atoi(argv[4]));
  bpf_program__set_log_buf(want, log, sizeof log);
  bpf_program__set_log_level(want, (unsigned)atoi(argv[3]));
  int err = bpf_object__load(obj);
  if (err) printf("E %d\n", -err);
  else printf("OK\n");
  fputs(log, stdout);
  bpf_object__close(obj);
  return 0;
}
