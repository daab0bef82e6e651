/*
 * The workers bench's native baseline (src/bench/workers.ts): the flow
 * counter of XDP_FLOW_COUNT written in C and run by 1 and by 2 (or more)
 * POSIX threads over the same capture, which the threads share as the
 * pool's workers do: 4096 frames at a time taken from an atomic counter,
 * a verdict per frame written into one array. What 2 cores of the machine
 * give a compiled program doing the same work, beside what they give tsbpf.
 *
 * Two ways to keep the counters, as the two XDP rows:
 * - percpu: one table of flow keys, every thread's packet and byte counters
 *   in an array of its own (a percpu_hash: the key shared, the values per
 *   CPU, never on a line another thread writes);
 * - shared: one table, every thread adding to the same counters with
 *   atomic adds (a hash map's values bumped with XADD).
 *
 * Usage: flow-workers CAPTURE.pcap THREADS ROUNDS percpu|shared
 * Prints "best_ms packets bytes flows": the best round's wall time, and the
 * counters summed over every flow and thread (checked against tsbpf's).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 16384 /* a power of two, twice the bench's 8192 flow keys */
#define CHUNK 4096
#define MAX_THREADS 64

struct key { uint32_t saddr, daddr, ports, proto; };
struct slot { _Atomic uint32_t state; /* 0 empty, 1 being written, 2 live */ struct key k; };
struct counters { uint64_t packets, bytes; };

static struct slot table[SLOTS];
static struct counters *percpu[MAX_THREADS];
static struct counters shared_vals[SLOTS];
static int mode_shared;

static uint8_t *cap;
static uint32_t *offs, *lens;
static uint32_t count;
static uint32_t *verdicts;
static _Atomic uint32_t next_chunk;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint32_t hash_key(const struct key *k) {
  uint32_t h = k->saddr * 0x9e3779b1u;
  h ^= k->daddr * 0x85ebca6bu;
  h ^= k->ports * 0xc2b2ae35u;
  h ^= k->proto * 0x27d4eb2fu;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

/* the key's slot, inserted if absent (threads racing to insert agree on one slot) */
static uint32_t find_or_insert(const struct key *k) {
  uint32_t i = hash_key(k) & (SLOTS - 1);
  for (;;) {
    uint32_t s = __atomic_load_n(&table[i].state, __ATOMIC_ACQUIRE);
    if (s == 0) {
      uint32_t expect = 0;
      if (__atomic_compare_exchange_n(&table[i].state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        table[i].k = *k;
        __atomic_store_n(&table[i].state, 2, __ATOMIC_RELEASE);
        return i;
      }
      continue;
    }
    while (s == 1) s = __atomic_load_n(&table[i].state, __ATOMIC_ACQUIRE);
    if (memcmp(&table[i].k, k, sizeof *k) == 0) return i;
    i = (i + 1) & (SLOTS - 1);
  }
}

static void run_frame(uint32_t f, struct counters *mine) {
  const uint8_t *d = cap + offs[f];
  uint32_t len = lens[f];
  verdicts[f] = 2;
  if (len < 38 || d[12] != 0x08 || d[13] != 0x00) return;
  struct key k;
  memcpy(&k.saddr, d + 26, 4);
  memcpy(&k.daddr, d + 30, 4);
  memcpy(&k.ports, d + 34, 4);
  k.proto = d[23];
  uint64_t ip_len = (uint64_t)((d[16] << 8) | d[17]);
  uint32_t i = find_or_insert(&k);
  if (mode_shared) {
    __atomic_fetch_add(&shared_vals[i].packets, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&shared_vals[i].bytes, ip_len, __ATOMIC_RELAXED);
  } else {
    __atomic_fetch_add(&mine[i].packets, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&mine[i].bytes, ip_len, __ATOMIC_RELAXED);
  }
}

static void *worker(void *arg) {
  struct counters *mine = percpu[(intptr_t)arg];
  for (;;) {
    uint32_t from = __atomic_fetch_add(&next_chunk, CHUNK, __ATOMIC_RELAXED);
    if (from >= count) break;
    uint32_t to = from + CHUNK < count ? from + CHUNK : count;
    for (uint32_t f = from; f < to; f++) run_frame(f, mine);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: flow-workers CAPTURE.pcap THREADS ROUNDS percpu|shared\n");
    return 2;
  }
  int threads = atoi(argv[2]), rounds = atoi(argv[3]);
  mode_shared = strcmp(argv[4], "shared") == 0;
  if (threads < 1 || threads > MAX_THREADS || rounds < 1) return 2;
  FILE *fp = fopen(argv[1], "rb");
  if (!fp) return 1;
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  cap = malloc(size);
  if (!cap || fread(cap, 1, size, fp) != (size_t)size) return 1;
  fclose(fp);
  /* a little-endian microsecond pcap, as the bench writes it */
  uint32_t n = 0, cap_n = 1024;
  offs = malloc(cap_n * 4);
  lens = malloc(cap_n * 4);
  for (long at = 24; at + 16 <= size;) {
    uint32_t incl;
    memcpy(&incl, cap + at + 8, 4);
    if (at + 16 + incl > (unsigned long)size) break;
    if (n == cap_n) {
      cap_n *= 2;
      offs = realloc(offs, cap_n * 4);
      lens = realloc(lens, cap_n * 4);
    }
    offs[n] = at + 16;
    lens[n] = incl;
    n++;
    at += 16 + incl;
  }
  count = n;
  verdicts = calloc(n, 4);
  for (int t = 0; t < threads; t++) percpu[t] = aligned_alloc(64, sizeof(struct counters) * SLOTS);
  double best = 1e300;
  pthread_t tid[MAX_THREADS];
  for (int r = 0; r < rounds; r++) {
    /* every round from empty counters: the same work each time */
    memset(table, 0, sizeof table);
    memset(shared_vals, 0, sizeof shared_vals);
    for (int t = 0; t < threads; t++) memset(percpu[t], 0, sizeof(struct counters) * SLOTS);
    next_chunk = 0;
    double t0 = now_ms();
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double ms = now_ms() - t0;
    if (ms < best) best = ms;
  }
  uint64_t packets = 0, bytes = 0;
  uint32_t flows = 0;
  for (uint32_t i = 0; i < SLOTS; i++) {
    if (table[i].state != 2) continue;
    flows++;
    packets += shared_vals[i].packets;
    bytes += shared_vals[i].bytes;
    for (int t = 0; t < threads; t++) {
      packets += percpu[t][i].packets;
      bytes += percpu[t][i].bytes;
    }
  }
  printf("%.3f %llu %llu %u\n", best, (unsigned long long)packets, (unsigned long long)bytes, flows);
  return 0;
}
