#include "random.h"

#include <math.h>

#include "iter.h"

static const uint64_t PCG_MULT = 6364136223846793005ULL;

uint32_t lc_rng_u32(lc_rng *r) {
  uint64_t old = r->state;
  r->state = old * PCG_MULT + r->inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = (uint32_t)(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void lc_rng_seed(lc_rng *r, uint64_t seed) {
  r->seed = seed;
  r->state = 0;
  r->inc = (seed << 1u) | 1u;
  lc_rng_u32(r);
  r->state += 0x853c49e6748fea9bULL ^ seed;
  lc_rng_u32(r);
}

float lc_rng_uniform01(lc_rng *r) { return (float)(lc_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint64_t lc_rng_below(lc_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  if (n <= UINT32_MAX) {
    /* reject the short top slice of the 32-bit range that would bias small values */
    uint32_t limit = (uint32_t)(-(uint32_t)n % (uint32_t)n);
    for (;;) {
      uint32_t x = lc_rng_u32(r);
      if (x >= limit) return x % n;
    }
  }
  for (;;) {
    uint64_t x = ((uint64_t)lc_rng_u32(r) << 32) | lc_rng_u32(r);
    uint64_t limit = -n % n;
    if (x >= limit) return x % n;
  }
}

double lc_rng_normal(lc_rng *r) {
  /* Box-Muller from two uniforms; u1 is kept away from 0 so log() stays finite */
  double u1 = ((lc_rng_u32(r) >> 8) + 1.0) / 16777217.0;
  double u2 = (lc_rng_u32(r) >> 8) / 16777216.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Visits out's elements in row-major order (the order draws are taken in). */
#define FOR_EACH_ROW_MAJOR(t, body)                                \
  do {                                                             \
    int64_t total_ = lc_numel(t), idx_[LC_MAX_DIMS] = {0};          \
    for (int64_t k_ = 0; k_ < total_; k_++) {                       \
      int64_t off_ = 0;                                            \
      for (int d_ = 0; d_ < (t)->ndim; d_++) off_ += idx_[d_] * (t)->stride[d_]; \
      float *p = (t)->data + off_;                                 \
      body;                                                        \
      for (int d_ = (t)->ndim - 1; d_ >= 0; d_--) {                \
        if (++idx_[d_] < (t)->shape[d_]) break;                    \
        idx_[d_] = 0;                                              \
      }                                                            \
    }                                                              \
  } while (0)

/* A contiguous tensor's memory order is its row-major order: a plain loop takes the
 * same draws in the same order without the index bookkeeping, which dominated filling
 * a model's weights (VGG-16: 138 million) in unoptimized sanitizer builds. */
void lc_rng_fill_uniform(lc_rng *r, lc_tensor *out, float lo, float hi) {
  if (lc_is_contiguous(out)) {
    float *p = out->data;
    for (int64_t i = 0, n = lc_numel(out); i < n; i++) p[i] = lo + (hi - lo) * lc_rng_uniform01(r);
    return;
  }
  FOR_EACH_ROW_MAJOR(out, *p = lo + (hi - lo) * lc_rng_uniform01(r));
}

void lc_rng_fill_normal(lc_rng *r, lc_tensor *out, float mean, float std) {
  if (lc_is_contiguous(out)) {
    float *p = out->data;
    for (int64_t i = 0, n = lc_numel(out); i < n; i++) p[i] = (float)(mean + std * lc_rng_normal(r));
    return;
  }
  FOR_EACH_ROW_MAJOR(out, *p = (float)(mean + std * lc_rng_normal(r)));
}

int lc_rng_fill_int(lc_rng *r, lc_tensor *out, int64_t lo, int64_t hi, lc_error *e) {
  if (hi <= lo) return lc_fail(e, "randint: empty range [%lld, %lld)", (long long)lo, (long long)hi);
  /* the width in unsigned arithmetic: hi - lo overflows int64 for ranges like [-2^62, 2^62) */
  if ((uint64_t)hi - (uint64_t)lo > (1 << 24))
    return lc_fail(e, "randint: range of %llu values is wider than float32 integers (2^24)",
                   (unsigned long long)((uint64_t)hi - (uint64_t)lo));
  FOR_EACH_ROW_MAJOR(out, *p = (float)(lo + (int64_t)lc_rng_below(r, (uint64_t)(hi - lo))));
  return 0;
}

void lc_rng_permutation(lc_rng *r, lc_tensor *out, int64_t base) {
  int64_t n = out->shape[0], s = out->stride[0];
  float *x = out->data;
  for (int64_t i = 0; i < n; i++) x[i * s] = (float)(base + i);
  /* Fisher-Yates from the end */
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)lc_rng_below(r, (uint64_t)i + 1);
    float t = x[i * s];
    x[i * s] = x[j * s];
    x[j * s] = t;
  }
}
