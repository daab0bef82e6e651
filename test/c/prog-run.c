/*
 * The host kernel's side of test/progs-kernel.test.ts: loads a BPF object
 * with libbpf, runs its programs with BPF_PROG_TEST_RUN and dumps its maps.
 * Build: cc -O2 -o prog-run test/c/prog-run.c -lbpf
 * Usage: prog-run OBJ [SECTION:OFFSET:HEX ...], then lines on stdin; each
 * SECTION:OFFSET:HEX writes bytes into a global data map's initial value
 * before load (bpf_map__set_initial_value: variables set before load, as a
 * skeleton's `skel->rodata->port = 443` does). The lines:
 *   R <program name> <hex frame>   run once: "R <retval> <hex data_out>" or "E <errno>"
 *   P <map> <index> <program>      put the program in a prog array: "P 0" or "E <errno>"
 *   D                              every map: "M <name> <type>", then
 *                                  "K <hex key> <hex value>" per element (per-CPU
 *                                  maps: the values of every possible CPU, each
 *                                  rounded up to 8 bytes, concatenated) or
 *                                  "V <hex record>" per ring buffer record and
 *                                  per queue or stack value (popped, in order)
 * It prints "C <possible cpus>" first. The process runs on CPU 0, so per-CPU
 * values land in CPU 0's slot.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char in_set[4096];

static void hexout(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

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

static int ring_record(void *ctx, void *data, size_t size) {
  (void)ctx;
  printf("V ");
  hexout(data, size);
  printf("\n");
  return 0;
}

static void dump(struct bpf_object *obj, int ncpus) {
  struct bpf_map *m;
  bpf_object__for_each_map(m, obj) {
    int fd = bpf_map__fd(m);
    enum bpf_map_type t = bpf_map__type(m);
    printf("M %s %d\n", bpf_map__name(m), (int)t);
    if (t == BPF_MAP_TYPE_RINGBUF) {
      struct ring_buffer *rb = ring_buffer__new(fd, ring_record, NULL, NULL);
      if (rb) { ring_buffer__consume(rb); ring_buffer__free(rb); }
      continue;
    }
    if (t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK) {
      unsigned char v[1024];
      unsigned vs = bpf_map__value_size(m);
      while (vs <= sizeof v && bpf_map_lookup_and_delete_elem(fd, NULL, v) == 0) { printf("V "); hexout(v, vs); printf("\n"); }
      continue;
    }
    if (t == BPF_MAP_TYPE_PROG_ARRAY) continue;
    unsigned ks = bpf_map__key_size(m), vs = bpf_map__value_size(m);
    int percpu = t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
    size_t vlen = percpu ? (size_t)((vs + 7) / 8 * 8) * ncpus : vs;
    unsigned char *key = calloc(1, ks + 1), *next = calloc(1, ks + 1), *val = calloc(1, vlen + 8);
    int first = 1;
    while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
      first = 0;
      memcpy(key, next, ks);
      if (bpf_map_lookup_elem(fd, key, val) != 0) continue;
      printf("K ");
      hexout(key, ks);
      printf(" ");
      hexout(val, vlen);
      printf("\n");
    }
    free(key); free(next); free(val);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: prog-run OBJ [SECTION:OFFSET:HEX ...]\n"); return 2; }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  /* libbpf's messages (the verifier's log of a refused program) only when asked */
  if (!getenv("PROG_RUN_LOG")) libbpf_set_print(NULL);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) { printf("E %d open\n", errno); return 1; }
  for (int a = 2; a < argc; a++) {
    char sec[64];
    unsigned off;
    int at = 0;
    if (sscanf(argv[a], "%63[^:]:%u:%n", sec, &off, &at) != 2) { printf("E 22 set %s\n", argv[a]); return 1; }
    struct bpf_map *m, *found = NULL;
    size_t sl = strlen(sec), size = 0;
    /* libbpf names global data maps after the object: "vars.rodata" for section .rodata */
    bpf_object__for_each_map(m, obj) {
      const char *n = bpf_map__name(m);
      size_t nl = strlen(n);
      if (nl >= sl && strcmp(n + nl - sl, sec) == 0) found = m;
    }
    const void *init = found ? bpf_map__initial_value(found, &size) : NULL;
    if (!init) { printf("E 2 set %s\n", argv[a]); return 1; }
    unsigned char *buf = malloc(size);
    memcpy(buf, init, size);
    int n = hexin(argv[a] + at, in_set, sizeof in_set);
    if (off + n > size) { printf("E 22 set %s\n", argv[a]); return 1; }
    memcpy(buf + off, in_set, n);
    if (bpf_map__set_initial_value(found, buf, size) != 0) { printf("E %d set %s\n", errno, argv[a]); return 1; }
    free(buf);
  }
  if (bpf_object__load(obj)) { printf("E %d load\n", errno); return 1; }
  int ncpus = libbpf_num_possible_cpus();
  printf("C %d\n", ncpus);
  static char line[1 << 19];
  static unsigned char in[1 << 18], out[1 << 18];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == 'D') { dump(obj, ncpus); printf("Z\n"); fflush(stdout); continue; }
    if (line[0] == 'P') {
      char map[256], prog[256];
      unsigned idx;
      if (sscanf(line + 2, "%255s %u %255s", map, &idx, prog) != 3) { printf("E 22\n"); fflush(stdout); continue; }
      struct bpf_map *m = bpf_object__find_map_by_name(obj, map);
      struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);
      if (!m || !p) { printf("E 2\n"); fflush(stdout); continue; }
      int pfd = bpf_program__fd(p);
      if (bpf_map_update_elem(bpf_map__fd(m), &idx, &pfd, BPF_ANY)) printf("E %d\n", errno);
      else printf("P 0\n");
      fflush(stdout);
      continue;
    }
    if (line[0] != 'R') continue;
    char name[256];
    int at = 0;
    if (sscanf(line + 2, "%255s %n", name, &at) != 1) { printf("E 22\n"); continue; }
    int n = hexin(line + 2 + at, in, sizeof in);
    struct bpf_program *p = bpf_object__find_program_by_name(obj, name);
    if (!p) { printf("E 2\n"); fflush(stdout); continue; }
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = n, .data_out = out, .data_size_out = sizeof out, .repeat = 1);
    if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts)) { printf("E %d\n", errno); fflush(stdout); continue; }
    printf("R %u ", opts.retval);
    hexout(out, opts.data_size_out);
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
