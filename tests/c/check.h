/* The tiny assertion helper of the C unit tests, plus what every test needs around
 * ops/: a seeded generator of its own (so a bug in lc_rng cannot hide one elsewhere),
 * strided test tensors and a naive element reader.
 *
 * A failed CHECK prints file:line, the condition and a message, counts the failure
 * and goes on; main() ends with `return check_done("name");`, non-zero on failure. */
#ifndef LC_TEST_CHECK_H
#define LC_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

static int check_total, check_failed;

/* Prints at most this many failures so one broken loop does not bury the others. */
#define CHECK_PRINT_LIMIT 40

#define CHECK(cond, ...)                                                             \
  do {                                                                               \
    check_total++;                                                                   \
    if (!(cond)) {                                                                   \
      if (check_failed++ < CHECK_PRINT_LIMIT) {                                      \
        fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);            \
        fprintf(stderr, __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                         \
      }                                                                              \
    }                                                                                \
  } while (0)

/* |got - want| <= tol * max(1, |want|); two NaNs are equal, and infinities must match. */
static inline int check_close(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= tol * (fabs(want) > 1 ? fabs(want) : 1);
}
#define CHECK_CLOSE(got, want, tol, ...) \
  CHECK(check_close((got), (want), (tol)), __VA_ARGS__)

/* An ops/ call that must succeed: prints the kernel's message when it does not. */
#define CHECK_OK(call, e)                                                  \
  do {                                                                     \
    (e).msg[0] = '\0';                                                     \
    int rc_ = (call);                                                      \
    CHECK(rc_ == 0, "returned %d: %s", rc_, (e).msg);                      \
  } while (0)

/* An ops/ call that must fail with -1 and a message containing each given piece
 * (the op name, the shapes...). */
#define CHECK_FAILS(call, e, ...)                                                        \
  do {                                                                                   \
    strcpy((e).msg, "(no message)");                                                     \
    int rc_ = (call);                                                                    \
    CHECK(rc_ == -1, "returned %d instead of -1 (message: %s)", rc_, (e).msg);            \
    const char *want_[] = {__VA_ARGS__, NULL};                                           \
    for (int w_ = 0; want_[w_]; w_++)                                                    \
      CHECK(strstr((e).msg, want_[w_]) != NULL, "message \"%s\" lacks \"%s\"", (e).msg, want_[w_]); \
  } while (0)

static inline int check_done(const char *name) {
  if (check_failed)
    fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failed, check_total);
  else
    printf("%s: all %d checks passed\n", name, check_total);
  return check_failed != 0;
}

/* ---- the tests' own generator (splitmix64) ---- */
static uint64_t test_state = 0x9e3779b97f4a7c15ULL;
static inline void test_seed(uint64_t s) { test_state = s * 0x9e3779b97f4a7c15ULL + 1; }
static inline uint64_t test_u64(void) {
  uint64_t z = (test_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
/* integer in [lo, hi] */
static inline int64_t test_int(int64_t lo, int64_t hi) { return lo + (int64_t)(test_u64() % (uint64_t)(hi - lo + 1)); }
/* float in [lo, hi) */
static inline float test_float(float lo, float hi) {
  return lo + (hi - lo) * (float)((double)(test_u64() >> 40) / (double)(1ULL << 24));
}

/* ---- naive element access: the reference for every strided kernel ---- */
static inline float *at(const lc_tensor *t, const int64_t *idx) {
  int64_t off = 0;
  for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
  return t->data + off;
}
/* Steps idx through t's shape in row-major order; returns 0 after the last element. */
static inline int next_index(int ndim, const int64_t *shape, int64_t *idx) {
  for (int d = ndim - 1; d >= 0; d--) {
    if (++idx[d] < shape[d]) return 1;
    idx[d] = 0;
  }
  return 0;
}
/* The element of t (broadcast to an index of `ndim` dims) at idx: trailing dims aligned,
 * size-1 dims read at 0. */
static inline float at_broadcast(const lc_tensor *t, int ndim, const int64_t *idx) {
  int64_t off = 0;
  for (int d = 0; d < t->ndim; d++) {
    int64_t i = idx[ndim - t->ndim + d];
    off += (t->shape[d] == 1 ? 0 : i) * t->stride[d];
  }
  return t->data[off];
}

/* A contiguous tensor of the given shape, its values unset; exits with status 2 when it
 * cannot be made (the test cannot go on). The caller releases it. */
static inline lc_tensor test_empty(lc_allocator *a, int ndim, const int64_t *shape) {
  lc_tensor t;
  lc_error e;
  if (lc_tensor_init(&t, a, ndim, shape, &e)) {
    fprintf(stderr, "test tensor: %s\n", e.msg);
    exit(2);
  }
  return t;
}

/* A tensor of the given shape filled with values in [lo, hi). layout 0: contiguous;
 * 1: every dim stepped by 2 over a larger buffer; 2: dims stored in reverse order
 * (a transposed layout); 3: both. The caller releases it. */
static inline lc_tensor test_tensor(lc_allocator *a, int ndim, const int64_t *shape, int layout, float lo, float hi) {
  lc_error e;
  int64_t bshape[LC_MAX_DIMS];
  int step = layout & 1 ? 2 : 1, rev = layout & 2;
  for (int d = 0; d < ndim; d++) {
    int src = rev ? ndim - 1 - d : d;
    bshape[d] = shape[src] * step + (step > 1);
  }
  lc_tensor t = test_empty(a, ndim, bshape);
  int64_t n = lc_numel(&t);
  for (int64_t i = 0; i < n; i++) t.data[i] = test_float(lo, hi);
  for (int d = 0; d < ndim; d++) lc_view_slice(&t, d, step > 1, bshape[d] / step, step, &e);
  if (rev) {
    int perm[LC_MAX_DIMS];
    for (int d = 0; d < ndim; d++) perm[d] = ndim - 1 - d;
    lc_view_permute(&t, perm, &e);
  }
  return t;
}

/* A random shape of ndim dims with sizes in [lo, hi]. */
static inline void test_shape(int ndim, int64_t *shape, int64_t lo, int64_t hi) {
  for (int d = 0; d < ndim; d++) shape[d] = test_int(lo, hi);
}

#endif
