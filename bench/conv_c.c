/* Each convolution algorithm on the layer shapes of the course's networks, and plain
 * cblas_sgemm on the same GEMM shape as the yardstick (issue: conv GFLOP/s against sgemm).
 *   conv_c [THREADS [ROUNDS [LAYER [ALGO]]]]  (default 2 threads, 15 rounds, every layer and
 *                                         algorithm; LAYER: a number, or a piece of the names:
 *                                         VGG-16; ALGO: gemm, direct, winograd or tiny, for
 *                                         profiling)
 * Rounds alternate the algorithms, so both see the same machine state; it prints the
 * median microseconds per call and GFLOP/s (2 flops per multiply-add of the direct
 * convolution, whatever the algorithm does: Winograd's are effective GFLOP/s; backward
 * counts the weight gradient and, where the layer needs one, the input gradient), and
 * marks the algorithm LC_CONV_AUTO picks. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"
#include "conv_direct.h"
#include "pool.h"

extern void openblas_set_num_threads(int);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp);
  return v[n / 2];
}

typedef struct layer {
  const char *name;
  int64_t N, C, H, W, O, K, pad;
  int need_dx;
} layer;

static lc_tensor make(lc_allocator *A, int64_t a, int64_t b, int64_t c, int64_t d) {
  lc_tensor t;
  lc_error e;
  int64_t shape[4] = {a, b, c, d};
  if (lc_tensor_init(&t, A, 4, shape, &e)) {
    fprintf(stderr, "conv_c: %s\n", e.msg);
    exit(1);
  }
  for (int64_t i = 0; i < lc_numel(&t); i++) t.data[i] = (float)((i * 7919) % 201 - 100) * 0.01f;
  return t;
}

#define ROUNDS_MAX 101
#define NALGO 4

static const int algos[NALGO] = {LC_CONV_GEMM, LC_CONV_DIRECT, LC_CONV_WINOGRAD, LC_CONV_TINY};
static const char *const names[NALGO] = {"gemm", "direct", "winograd", "tiny"};

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2, rounds = argc > 2 ? atoi(argv[2]) : 15;
  if (threads < 1 || threads > 64 || rounds < 1 || rounds > ROUNDS_MAX) {
    fprintf(stderr, "usage: conv_c [THREADS [ROUNDS]] (THREADS 1..64, ROUNDS 1..%d)\n", ROUNDS_MAX);
    return 2;
  }
  static const layer layers[] = {
    {"LeNet-5 conv1 (batch 64)", 64, 1, 28, 28, 6, 5, 2, 0},
    {"LeNet-5 conv2 (batch 64)", 64, 6, 14, 14, 16, 5, 0, 1},
    {"CIFAR VGG conv 3->64 32x32 (batch 64)", 64, 3, 32, 32, 64, 3, 1, 0},
    {"CIFAR VGG conv 64->64 32x32 (batch 64)", 64, 64, 32, 32, 64, 3, 1, 1},
    {"CIFAR VGG conv 64->128 16x16 (batch 64)", 64, 64, 16, 16, 128, 3, 1, 1},
    {"CIFAR VGG conv 128->128 16x16 (batch 64)", 64, 128, 16, 16, 128, 3, 1, 1},
    {"CIFAR VGG conv 128->256 8x8 (batch 64)", 64, 128, 8, 8, 256, 3, 1, 1},
    {"Inception-3a 5x5 16->32 28x28 (batch 32)", 32, 16, 28, 28, 32, 5, 2, 1},
    {"Inception-3a 1x1 192->64 28x28 (batch 32)", 32, 192, 28, 28, 64, 1, 0, 1},
    {"Inception-3a 3x3 96->128 28x28 (batch 32)", 32, 96, 28, 28, 128, 3, 1, 1},
    {"ResNet-20 3x3 16->16 32x32 (batch 64)", 64, 16, 32, 32, 16, 3, 1, 1},
    {"ResNet 3x3 32->32 16x16 (batch 64)", 64, 32, 16, 16, 32, 3, 1, 1},
    {"ResNet-18 3x3 64->64 8x8 (batch 64)", 64, 64, 8, 8, 64, 3, 1, 1},
    {"ResNet-18 3x3 128->128 4x4 (batch 64)", 64, 128, 4, 4, 128, 3, 1, 1},
    {"ResNet-18 3x3 256->256 2x2 (batch 64)", 64, 256, 2, 2, 256, 3, 1, 1},
    {"ResNet-18 3x3 512->512 1x1 (batch 64)", 64, 512, 1, 1, 512, 3, 1, 1},
    {"VGG-16 conv1_2 64->64 224x224 (batch 8)", 8, 64, 224, 224, 64, 3, 1, 1},
    {"VGG-16 conv2_2 128->128 112x112 (batch 8)", 8, 128, 112, 112, 128, 3, 1, 1},
    {"VGG-16 conv3_2 256->256 56x56 (batch 8)", 8, 256, 56, 56, 256, 3, 1, 1},
    {"VGG-16 conv4_2 512->512 28x28 (batch 8)", 8, 512, 28, 28, 512, 3, 1, 1},
    {"VGG-16 conv5_2 512->512 14x14 (batch 8)", 8, 512, 14, 14, 512, 3, 1, 1},
  };
  lc_allocator *A = lc_allocator_new((size_t)1 << 30);
  lc_pool *pool = threads > 1 ? lc_pool_new(threads) : NULL;
  openblas_set_num_threads(1);
  printf("%-42s %-8s %10s %8s %10s %8s\n", "layer", "algo", "fwd us", "GFLOP/s", "bwd us", "GFLOP/s");
  const char *pick = argc > 3 ? argv[3] : NULL;
  int only = pick && strspn(pick, "0123456789") == strlen(pick) ? atoi(pick) : 0;
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    if (only ? (size_t)only != li + 1 : pick && !strstr(L->name, pick)) continue;
    int64_t OH = L->H + 2 * L->pad - L->K + 1, OW = L->W + 2 * L->pad - L->K + 1;
    lc_tensor x = make(A, L->N, L->C, L->H, L->W), w = make(A, L->O, L->C, L->K, L->K);
    lc_tensor y = make(A, L->N, L->O, OH, OW), dy = make(A, L->N, L->O, OH, OW);
    lc_tensor dx = make(A, L->N, L->C, L->H, L->W), dw = make(A, L->O, L->C, L->K, L->K);
    double macs = (double)L->N * L->O * L->C * L->K * L->K * OH * OW;
    double t[NALGO][2][ROUNDS_MAX], tg[ROUNDS_MAX];
    int have[NALGO];
    lc_conv2d_params p[NALGO], pauto = {1, 1, L->pad, L->pad, 1, 1, 1, 1, LC_CONV_AUTO};
    for (int a = 0; a < NALGO; a++) {
      p[a] = pauto, p[a].algo = algos[a];
      have[a] = lc_conv2d_algo(&x, &w, &p[a]) == algos[a] && (argc < 5 || !strcmp(argv[4], names[a]));
    }
    /* the same GEMM as the forward's, batch side by side: [O, C*K*K] @ [C*K*K, N*OH*OW] */
    int64_t M = L->O, Kd = L->C * L->K * L->K, Nc = L->N * OH * OW;
    /* (not for the largest layers: VGG-16's first would need a 0.9 GB matrix) */
    int sgemm = Kd * Nc <= ((int64_t)1 << 26);
    float *ga = NULL, *gb = NULL, *gc = NULL;
    if (sgemm) {
      ga = calloc((size_t)(M * Kd), sizeof(float)), gb = calloc((size_t)(Kd * Nc), sizeof(float));
      gc = calloc((size_t)(M * Nc), sizeof(float));
      if (!ga || !gb || !gc) return 1;
    }
    for (int r = -1; r < rounds; r++) {  /* round -1 warms up */
      for (int a = 0; a < NALGO; a++) {
        if (!have[a]) continue;
        lc_error e;
        int64_t ncols = lc_conv2d_cols_numel(&x, &w, &p[a]);
        lc_tensor cols = {0};
        if (ncols > 0) {
          int64_t cs[1] = {ncols};
          lc_tensor_init(&cols, A, 1, cs, &e);
        }
        double t0 = now();
        if (lc_conv2d_forward(&y, &x, &w, NULL, &p[a], ncols > 0 ? &cols : NULL, A, pool, &e)) {
          fprintf(stderr, "conv_c: %s\n", e.msg);
          return 1;
        }
        double t1 = now();
        if (lc_conv2d_backward(L->need_dx ? &dx : NULL, &dw, NULL, &dy, &y, &x, &w, &p[a], ncols > 0 ? &cols : NULL, A,
                               pool, &e)) {
          fprintf(stderr, "conv_c: %s\n", e.msg);
          return 1;
        }
        double t2 = now();
        lc_tensor_release(&cols);
        if (r >= 0) t[a][0][r] = t1 - t0, t[a][1][r] = t2 - t1;
      }
      if (!sgemm) continue;
      openblas_set_num_threads(threads);
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)Nc, (int)Kd, 1, ga, (int)Kd, gb, (int)Nc, 0, gc,
                  (int)Nc);
      if (r >= 0) tg[r] = now() - t0;
      openblas_set_num_threads(1);
    }
    double bwd_macs = macs * (L->need_dx ? 2 : 1);
    int chosen = lc_conv2d_algo(&x, &w, &pauto);
    for (int a = 0, first = 1; a < NALGO; a++) {
      if (!have[a]) continue;
      double f = median(t[a][0], rounds), b = median(t[a][1], rounds);
      printf("%-42s %-8s %10.1f %8.1f %10.1f %8.1f   (fastest: %.1f, %.1f)%s\n", first ? L->name : "", names[a],
             f * 1e6, 2 * macs / f / 1e9, b * 1e6, 2 * bwd_macs / b / 1e9, t[a][0][0] * 1e6, t[a][1][0] * 1e6,
             algos[a] == chosen ? "  chosen" : "");
      first = 0;
    }
    if (sgemm) {
    double g = median(tg, rounds);
    printf("%-42s %-8s %10.1f %8.1f   (fastest %.1f; one cblas_sgemm [%lld,%lld]@[%lld,%lld], %d threads)\n", "", "sgemm", g * 1e6,
           2 * macs / g / 1e9, tg[0] * 1e6, (long long)M, (long long)Kd, (long long)Kd, (long long)Nc, threads);
    }
    free(ga), free(gb), free(gc);
    lc_tensor *all[] = {&x, &w, &y, &dy, &dx, &dw};
    for (size_t i = 0; i < 6; i++) lc_tensor_release(all[i]);
  }
  if (pool) lc_pool_free(pool);
  lc_allocator_release(A);
  return 0;
}
