#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* How long an idle worker spins before it sleeps: longer than the gaps between the
 * kernels of one training step, far shorter than anything a person would notice. */
#define SPIN_NS 200000L

/* The job word packs the job's id, its number of parts and the next unclaimed part, so a
 * worker can only claim a part of the job it read the id of: one compare-and-swap both
 * checks the job and takes the part. */
#define PART_BITS 20
#define MAX_PARTS ((1 << PART_BITS) - 1)
#define PART_MASK ((uint64_t)MAX_PARTS)
#define ID_SHIFT (2 * PART_BITS)

struct lc_pool {
  int nthreads;
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  _Atomic uint64_t job;   /* id << 40 | nparts << 20 | next part */
  atomic_int sleepers;    /* workers blocked on `wake` */
  atomic_int remaining;   /* parts of the current job not finished */
  atomic_int stop;
  uint64_t last_id;       /* written by the submitting thread only */
  lc_task_fn fn;          /* written before the job word is published, read after a claim */
  void *ctx;
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Claims and runs parts of job `id` until none are left (or a newer job replaced it). */
static void run_parts(lc_pool *p, uint64_t id) {
  uint64_t v = atomic_load(&p->job);
  for (;;) {
    if (v >> ID_SHIFT != id) return;
    uint64_t nparts = (v >> PART_BITS) & PART_MASK, part = v & PART_MASK;
    if (part >= nparts) return;
    if (!atomic_compare_exchange_weak(&p->job, &v, v + 1)) continue;  /* v was reloaded */
    /* the claimed part keeps `remaining` above 0, so fn and ctx are this job's */
    p->fn(p->ctx, (int)part, (int)nparts);
    atomic_fetch_sub(&p->remaining, 1);
    v = atomic_load(&p->job);
  }
}

static void *worker_main(void *arg) {
  lc_pool *p = arg;
  uint64_t seen = atomic_load(&p->job) >> ID_SHIFT;
  for (;;) {
    uint64_t id = atomic_load(&p->job) >> ID_SHIFT;
    long long until = now_ns() + SPIN_NS;
    for (int i = 0; id == seen && !atomic_load(&p->stop); i++) {
      cpu_relax();
      if ((i & 63) == 63 && now_ns() > until) {
        /* sleep; the submitter reads `sleepers` after publishing the job, and we read the
         * job after counting ourselves in, so one of us always sees the other */
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleepers, 1);
        while (atomic_load(&p->job) >> ID_SHIFT == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mu);
      }
      id = atomic_load(&p->job) >> ID_SHIFT;
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = id;
    run_parts(p, id);
  }
}

lc_pool *lc_pool_new(int nthreads) {
  if (nthreads < 1) nthreads = 1;
  lc_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nthreads = nthreads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  atomic_init(&p->job, 0);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->remaining, 0);
  atomic_init(&p->stop, 0);
  p->workers = calloc((size_t)nthreads, sizeof(pthread_t));
  if (!p->workers) {
    free(p);
    return NULL;
  }
  for (int i = 0; i < nthreads - 1; i++) {
    if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
      p->nthreads = i + 1;  /* the ones started are joined by free */
      lc_pool_free(p);
      return NULL;
    }
  }
  return p;
}

void lc_pool_free(lc_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->workers[i], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  free(p);
}

int lc_pool_threads(const lc_pool *p) { return p ? p->nthreads : 1; }

void lc_pool_run(lc_pool *p, int nparts, lc_task_fn fn, void *ctx) {
  if (nparts <= 0) return;
  if (!p || p->nthreads == 1 || nparts == 1) {
    for (int i = 0; i < nparts; i++) fn(ctx, i, nparts);
    return;
  }
  if (nparts > MAX_PARTS) nparts = MAX_PARTS;
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->remaining, nparts);
  uint64_t id = (++p->last_id) & ((UINT64_C(1) << (64 - ID_SHIFT)) - 1);
  if (id == 0) id = p->last_id = 1;  /* 0 is the id workers start out having seen */
  atomic_store(&p->job, id << ID_SHIFT | (uint64_t)nparts << PART_BITS);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  run_parts(p, id);
  /* the other parts are short: spin, yielding the core if this goes on */
  for (int i = 0; atomic_load(&p->remaining) > 0; i++) {
    if (i < 4096) cpu_relax();
    else sched_yield();
  }
}

void lc_split_range(long long n, int parts, int part, long long align, long long *begin, long long *end) {
  if (align < 1) align = 1;
  long long units = (n + align - 1) / align;
  long long b = units * part / parts, e = units * (part + 1) / parts;
  *begin = b * align < n ? b * align : n;
  *end = e * align < n ? e * align : n;
}
