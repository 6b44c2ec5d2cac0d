/* Plain-C baseline for bench/matmul: the same cblas_sgemm call luacnn makes, with no
 * Lua in between.  matmul_c N REPS  prints "N gflops" (median of the repeats). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 256;
  int reps = argc > 2 ? atoi(argv[2]) : 7;
  if (n < 1 || n > 8192 || reps < 1 || reps > 101) {
    fprintf(stderr, "usage: matmul_c N REPS (N in 1..8192, REPS in 1..101)\n");
    return 2;
  }
  {
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n),
          *c = malloc(sizeof(float) * (size_t)n * n);
    if (!a || !b || !c) return 1;
    for (long i = 0; i < (long)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f, c[i] = 0;
    double flop = 2.0 * n * n * n;
    int inner = (int)(2e8 / flop) + 1;  /* ~0.2 GFLOP per measurement */
    double *g = malloc(sizeof(double) * (size_t)reps);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      for (int i = 0; i < inner; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
      g[r] = flop * inner / (now() - t0) / 1e9;
    }
    qsort(g, (size_t)reps, sizeof(double), cmp);
    printf("%d %.2f\n", n, g[reps / 2]);
    free(a), free(b), free(c), free(g);
  }
  return 0;
}
