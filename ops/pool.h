/* The thread pool: luacnn's one set of worker threads. Kernels split their work into
 * parts and run them here; OpenBLAS is kept at one thread and each part calls it, so
 * luacnn never runs more busy threads than the pool's size (the --threads knob).
 *
 * Workers spin briefly between jobs (a training step issues kernels back to back, and
 * waking a sleeping thread costs more than a small kernel), then sleep. */
#ifndef LC_POOL_H
#define LC_POOL_H

typedef struct lc_pool lc_pool;

/* fn runs once for every part in [0, nparts), on any thread. */
typedef void (*lc_task_fn)(void *ctx, int part, int nparts);

/* A pool of nthreads threads counting the caller (nthreads - 1 workers). NULL if the
 * threads cannot be started. */
lc_pool *lc_pool_new(int nthreads);
void lc_pool_free(lc_pool *p);
/* Threads available to a job: 1 for a NULL pool. */
int lc_pool_threads(const lc_pool *p);
/* Runs all parts and returns when they are done; the caller works too. A NULL pool, or
 * a single part, runs in the caller. Not reentrant: a part must not call lc_pool_run. */
void lc_pool_run(lc_pool *p, int nparts, lc_task_fn fn, void *ctx);

/* Splits [0, n) into `parts` nearly equal ranges aligned to `align`; range `part` is
 * [*begin, *end). */
void lc_split_range(long long n, int parts, int part, long long align, long long *begin, long long *end);

#endif
