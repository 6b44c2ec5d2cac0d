#define _GNU_SOURCE
#include "threads.h"

#include <cblas.h>
#include <sched.h>
#include <unistd.h>

int lc_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void lc_blas_single_threaded(void) { openblas_set_num_threads(1); }

const char *lc_blas_config(void) { return openblas_get_config(); }
