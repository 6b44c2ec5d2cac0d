/* The one thread knob: luacnn's own parallel loops and OpenBLAS both follow it, so
 * the two never oversubscribe the cores between them. */
#ifndef LC_THREADS_H
#define LC_THREADS_H

/* Number of cores the process may run on. */
int lc_cpu_count(void);
/* Sets the thread count for OpenBLAS; returns the count now in force. */
int lc_set_threads(int n);
int lc_get_threads(void);
const char *lc_blas_config(void);

#endif
