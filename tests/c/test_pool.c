/* The thread pool: every part of every job runs exactly once, jobs follow each other
 * back to back (the case a training step makes), and workers that went to sleep wake up. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "pool.h"

typedef struct job {
  atomic_int runs[64];
  int nparts;
  atomic_int bad;  /* a part saw the wrong part count */
} job;

static void count_part(void *ctx, int part, int nparts) {
  job *j = ctx;
  if (nparts != j->nparts) atomic_fetch_add(&j->bad, 1);
  atomic_fetch_add(&j->runs[part], 1);
}

static void run_jobs(lc_pool *p, int jobs, const char *what) {
  int wrong = 0;
  for (int k = 0; k < jobs; k++) {
    job j = {.nparts = 1 + k % 64};
    for (int i = 0; i < 64; i++) atomic_init(&j.runs[i], 0);
    atomic_init(&j.bad, 0);
    lc_pool_run(p, j.nparts, count_part, &j);
    for (int i = 0; i < 64; i++)
      if (atomic_load(&j.runs[i]) != (i < j.nparts ? 1 : 0)) wrong++;
    if (atomic_load(&j.bad)) wrong++;
  }
  CHECK(wrong == 0, "%s: %d parts ran a wrong number of times over %d jobs", what, wrong, jobs);
}

typedef struct sum_job {
  const float *x;
  long long n;
  double partial[8];
} sum_job;

static void sum_part(void *ctx, int part, int nparts) {
  sum_job *s = ctx;
  long long b, e;
  lc_split_range(s->n, nparts, part, 16, &b, &e);
  double acc = 0;
  for (long long i = b; i < e; i++) acc += s->x[i];
  s->partial[part] = acc;
}

int main(void) {
  run_jobs(NULL, 100, "no pool");
  for (int threads = 1; threads <= 4; threads++) {
    lc_pool *p = lc_pool_new(threads);
    CHECK(p != NULL, "a pool of %d threads starts", threads);
    CHECK(lc_pool_threads(p) == threads, "pool reports %d threads", threads);
    run_jobs(p, 20000, "back-to-back jobs");
    /* let the workers fall asleep, then make sure they wake for the next job */
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    run_jobs(p, 50, "jobs after the workers slept");
    /* a real reduction split over the pool gives the serial answer */
    static float x[100003];
    for (int i = 0; i < 100003; i++) x[i] = (float)(i % 17) - 8.0f;
    sum_job s = {x, 100003, {0}};
    lc_pool_run(p, threads, sum_part, &s);
    double total = 0, want = 0;
    for (int i = 0; i < threads; i++) total += s.partial[i];
    for (int i = 0; i < 100003; i++) want += x[i];
    CHECK(total == want, "split sum %g, serial %g", total, want);
    lc_pool_free(p);
  }
  /* ranges cover [0, n) without gaps or overlap, aligned */
  for (long long n = 0; n < 200; n += 7)
    for (int parts = 1; parts <= 5; parts++) {
      long long next = 0;
      for (int part = 0; part < parts; part++) {
        long long b, e;
        lc_split_range(n, parts, part, 16, &b, &e);
        CHECK(b == next && e >= b && (b % 16 == 0 || b == n), "range %d of %d over %lld: [%lld,%lld)", part, parts, n, b, e);
        next = e;
      }
      CHECK(next == n, "ranges of %lld end at %lld", n, next);
    }
  return check_done("test_pool");
}
