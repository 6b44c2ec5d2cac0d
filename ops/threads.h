/* Threads and BLAS: luacnn's pool (pool.h) is the one thread knob. OpenBLAS runs with a
 * single thread inside each part a kernel gives the pool, so the two never run more busy
 * threads than the knob says between them. */
#ifndef LC_THREADS_H
#define LC_THREADS_H

/* Number of cores the process may run on. */
int lc_cpu_count(void);
/* Keeps OpenBLAS to the calling thread (call once before using BLAS from the pool). */
void lc_blas_single_threaded(void);
const char *lc_blas_config(void);

#endif
