/* A small seeded generator (PCG32: 64-bit LCG state, permuted 32-bit output).
 * Tensors are filled strictly in row-major order, one draw after another, so the same
 * seed gives the same numbers on every machine and at every thread count. The whole
 * state is two integers, so checkpoints can save and restore it exactly. */
#ifndef LC_RANDOM_H
#define LC_RANDOM_H

#include <stdint.h>

#include "tensor.h"

typedef struct lc_rng {
  uint64_t state;
  uint64_t inc;   /* stream selector, always odd */
  uint64_t seed;  /* the seed it was started from, for printing */
} lc_rng;

void lc_rng_seed(lc_rng *r, uint64_t seed);
uint32_t lc_rng_u32(lc_rng *r);
/* Uniform in [0, 1) with 24 random bits: every value is exactly representable in float. */
float lc_rng_uniform01(lc_rng *r);
/* Uniform integer in [0, n), without modulo bias. n >= 1. */
uint64_t lc_rng_below(lc_rng *r, uint64_t n);
double lc_rng_normal(lc_rng *r);

void lc_rng_fill_uniform(lc_rng *r, lc_tensor *out, float lo, float hi);
void lc_rng_fill_normal(lc_rng *r, lc_tensor *out, float mean, float std);
/* Integers in [lo, hi). */
int lc_rng_fill_int(lc_rng *r, lc_tensor *out, int64_t lo, int64_t hi, lc_error *e);
/* Fills out (1-D, n elements) with a random permutation of base .. base+n-1. */
void lc_rng_permutation(lc_rng *r, lc_tensor *out, int64_t base);

#endif
