/* The seeded generator (ops/random.c): PCG32's published output, reproducibility,
 * exact state save/restore, distributions (uniform range, normal moments, lc_rng_below
 * by a chi-square test), row-major fill order on strided tensors, randint's range
 * checks and permutations. */
#include "check.h"
#include "elementwise.h"
#include "random.h"

static lc_allocator *A;

static void test_pcg32_reference(void) {
  /* pcg32_srandom_r(&rng, 42, 54) of the reference implementation, then its first six
   * outputs as printed by pcg32-demo. */
  lc_rng r;
  r.state = 0;
  r.inc = (54u << 1) | 1u;
  lc_rng_u32(&r);
  r.state += 42;
  lc_rng_u32(&r);
  uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (int i = 0; i < 6; i++) {
    uint32_t got = lc_rng_u32(&r);
    CHECK(got == want[i], "pcg32 output %d: 0x%08x instead of 0x%08x", i, got, want[i]);
  }
}

static void test_reproducible(void) {
  lc_rng a, b, c;
  lc_rng_seed(&a, 12345);
  lc_rng_seed(&b, 12345);
  lc_rng_seed(&c, 12346);
  CHECK(a.seed == 12345 && (a.inc & 1), "seed kept, stream odd");
  int same = 1, differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint32_t x = lc_rng_u32(&a), y = lc_rng_u32(&b), z = lc_rng_u32(&c);
    same &= x == y;
    differ += x != z;
  }
  CHECK(same, "the same seed gives the same sequence");
  CHECK(differ > 990, "a neighbouring seed gives a different sequence (%d of 1000 differ)", differ);
  /* the whole state is the struct: a copy continues identically */
  lc_rng saved = a;
  double x1 = lc_rng_normal(&a), x2 = lc_rng_uniform01(&a);
  uint64_t x3 = lc_rng_below(&a, 1000);
  CHECK(lc_rng_normal(&saved) == x1 && lc_rng_uniform01(&saved) == (float)x2 && lc_rng_below(&saved, 1000) == x3,
        "restoring the state replays the same draws");
  /* seed 0 is a valid seed */
  lc_rng z0, z1;
  lc_rng_seed(&z0, 0);
  lc_rng_seed(&z1, 0);
  CHECK(lc_rng_u32(&z0) == lc_rng_u32(&z1), "seed 0 reproducible");
  lc_rng big;
  lc_rng_seed(&big, UINT64_MAX);
  CHECK(big.seed == UINT64_MAX && (big.inc & 1), "the largest seed");
}

static void test_distributions(void) {
  lc_rng r;
  lc_rng_seed(&r, 7);
  /* uniform01: in [0,1), 24-bit resolution, mean 1/2 */
  double sum = 0;
  int bad = 0;
  for (int i = 0; i < 100000; i++) {
    float u = lc_rng_uniform01(&r);
    if (!(u >= 0 && u < 1) || u * 16777216.0f != floorf(u * 16777216.0f)) bad++;
    sum += u;
  }
  CHECK(bad == 0, "%d uniforms outside [0,1) or off the 2^-24 grid", bad);
  CHECK(fabs(sum / 100000 - 0.5) < 0.005, "uniform mean %g", sum / 100000);

  /* normal: mean 0, variance 1, finite */
  double s1 = 0, s2 = 0;
  bad = 0;
  for (int i = 0; i < 100000; i++) {
    double z = lc_rng_normal(&r);
    if (!isfinite(z)) bad++;
    s1 += z, s2 += z * z;
  }
  CHECK(bad == 0, "%d normals not finite", bad);
  CHECK(fabs(s1 / 100000) < 0.02 && fabs(s2 / 100000 - 1) < 0.02, "normal mean %g var %g", s1 / 100000, s2 / 100000);

  /* lc_rng_below: chi-square over n buckets (fixed seed, so this is deterministic; the
   * bound is the 0.1% critical value, which a modulo-biased or broken draw exceeds) */
  struct { uint64_t n; double crit; } cases[] = {{2, 10.83}, {3, 13.82}, {10, 27.88}, {37, 67.98}, {1000, 1143.9}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    uint64_t n = cases[k].n;
    int draws = (int)(n * 200);
    long *count = calloc(n, sizeof *count);
    int out = 0;
    for (int i = 0; i < draws; i++) {
      uint64_t x = lc_rng_below(&r, n);
      if (x >= n) out++;
      else count[x]++;
    }
    double expect = (double)draws / (double)n, chi = 0;
    for (uint64_t i = 0; i < n; i++) chi += (count[i] - expect) * (count[i] - expect) / expect;
    CHECK(out == 0, "below(%llu) gave %d values out of range", (unsigned long long)n, out);
    CHECK(chi < cases[k].crit, "below(%llu): chi-square %.1f over the critical %.1f", (unsigned long long)n, chi,
          cases[k].crit);
    free(count);
  }
  /* a modulus that is not a power of two, just above 2^31: modulo bias would put 2/3 of
   * the draws in the lower half; rejection keeps it at 1/2 */
  uint64_t n = ((uint64_t)3 << 30) + 1;
  int low = 0;
  for (int i = 0; i < 20000; i++) low += lc_rng_below(&r, n) < n / 2;
  CHECK(fabs(low / 20000.0 - 0.5) < 0.02, "below(3*2^30+1) lower half %.3f", low / 20000.0);
  /* the 64-bit path */
  uint64_t n64 = ((uint64_t)1 << 40) + 3, hi = 0;
  bad = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = lc_rng_below(&r, n64);
    if (x >= n64) bad++;
    if (x > hi) hi = x;
  }
  CHECK(bad == 0 && hi > n64 / 2, "below(2^40+3): %d out of range, max %llu", bad, (unsigned long long)hi);
  CHECK(lc_rng_below(&r, 1) == 0 && lc_rng_below(&r, 0) == 0, "below(1) and below(0) are 0");
}

/* Tensors are filled in row-major order of their logical index, whatever the layout. */
static void test_fill_order(void) {
  lc_error e;
  int64_t s[3] = {3, 4, 5};
  for (int layout = 0; layout < 4; layout++) {
    lc_tensor t = test_tensor(A, 3, s, layout, 0, 1);
    lc_rng r, ref;
    lc_rng_seed(&r, 99);
    lc_rng_seed(&ref, 99);
    lc_rng_fill_uniform(&r, &t, -2, 3);
    int64_t idx[3] = {0}, bad = 0;
    do {
      float w = -2 + 5 * lc_rng_uniform01(&ref);
      if (*at(&t, idx) != w) bad++;
    } while (next_index(3, s, idx));
    CHECK(bad == 0, "uniform fill order, layout %d: %lld differ", layout, (long long)bad);
    lc_rng_fill_normal(&r, &t, 1, 0.5f);
    bad = 0;
    do {
      float w = (float)(1 + 0.5f * lc_rng_normal(&ref));
      if (*at(&t, idx) != w) bad++;
    } while (next_index(3, s, idx));
    CHECK(bad == 0, "normal fill order, layout %d: %lld differ", layout, (long long)bad);
    CHECK_OK(lc_rng_fill_int(&r, &t, -3, 4, &e), e);
    bad = 0;
    do {
      float w = (float)(-3 + (int64_t)lc_rng_below(&ref, 7));
      if (*at(&t, idx) != w) bad++;
    } while (next_index(3, s, idx));
    CHECK(bad == 0, "int fill order, layout %d: %lld differ", layout, (long long)bad);
    CHECK(r.state == ref.state, "the fills took exactly one draw per element");
    lc_tensor_release(&t);
  }
  /* a 0-d tensor takes one draw, an empty tensor none */
  lc_tensor sc, em;
  int64_t z[2] = {3, 0};
  lc_tensor_init(&sc, A, 0, NULL, &e);
  lc_tensor_init(&em, A, 2, z, &e);
  lc_rng r, ref;
  lc_rng_seed(&r, 5);
  lc_rng_seed(&ref, 5);
  lc_rng_fill_uniform(&r, &em, 0, 1);
  CHECK(r.state == ref.state, "an empty fill draws nothing");
  lc_rng_fill_uniform(&r, &sc, 0, 1);
  CHECK(sc.data[0] == lc_rng_uniform01(&ref), "a scalar fill draws once");
  lc_tensor_release(&sc), lc_tensor_release(&em);
}

static void test_fill_int(void) {
  lc_error e;
  int64_t s[1] = {20000};
  lc_tensor t;
  lc_tensor_init(&t, A, 1, s, &e);
  lc_rng r;
  lc_rng_seed(&r, 3);
  CHECK_OK(lc_rng_fill_int(&r, &t, 5, 15, &e), e);
  int seen[10] = {0}, bad = 0;
  for (int i = 0; i < 20000; i++) {
    float v = t.data[i];
    if (v < 5 || v >= 15 || v != floorf(v)) bad++;
    else seen[(int)v - 5]++;
  }
  CHECK(bad == 0, "%d values outside the integers of [5,15)", bad);
  for (int k = 0; k < 10; k++) CHECK(seen[k] > 1700 && seen[k] < 2300, "value %d drawn %d times of 20000", k + 5, seen[k]);
  CHECK_OK(lc_rng_fill_int(&r, &t, 7, 8, &e), e);
  CHECK(t.data[0] == 7 && t.data[19999] == 7, "a range of one value");
  CHECK_OK(lc_rng_fill_int(&r, &t, -(1 << 23), 1 << 23, &e), e);  /* 2^24 values: still exact floats */

  CHECK_FAILS(lc_rng_fill_int(&r, &t, 3, 3, &e), e, "randint:", "[3, 3)");
  CHECK_FAILS(lc_rng_fill_int(&r, &t, 5, 1, &e), e, "randint:");
  CHECK_FAILS(lc_rng_fill_int(&r, &t, 0, (1 << 24) + 1, &e), e, "randint:", "2^24");
  /* ranges wider than int64 must be refused, not overflow into a small one */
  CHECK_FAILS(lc_rng_fill_int(&r, &t, INT64_MIN, INT64_MAX, &e), e, "randint:");
  CHECK_FAILS(lc_rng_fill_int(&r, &t, -((int64_t)1 << 62), (int64_t)1 << 62, &e), e, "randint:");
  CHECK_FAILS(lc_rng_fill_int(&r, &t, INT64_MIN, 0, &e), e, "randint:");
  lc_tensor_release(&t);
}

static void test_permutation(void) {
  lc_error e;
  lc_rng r;
  lc_rng_seed(&r, 11);
  for (int64_t n = 0; n <= 300; n += (n < 10 ? 1 : 37)) {
    int64_t s[1] = {n};
    lc_tensor t;
    lc_tensor_init(&t, A, 1, s, &e);
    lc_rng_permutation(&r, &t, 1);
    char *seen = calloc((size_t)n + 1, 1);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
      float v = t.data[i];
      if (v < 1 || v > n || v != floorf(v) || seen[(int64_t)v]++) bad++;
    }
    CHECK(bad == 0, "randperm(%lld): %d values missing, repeated or out of range", (long long)n, bad);
    free(seen);
    lc_tensor_release(&t);
  }
  /* every position takes every value about equally often (n = 4, 24000 shuffles) */
  int64_t s4[1] = {4};
  lc_tensor t;
  lc_tensor_init(&t, A, 1, s4, &e);
  int count[4][4] = {{0}}, orders[24] = {0};
  for (int k = 0; k < 24000; k++) {
    lc_rng_permutation(&r, &t, 0);
    int code = 0;
    for (int i = 0; i < 4; i++) count[i][(int)t.data[i]]++, code = code * 4 + (int)t.data[i];
    /* rank the permutation: count distinct orders */
    static int index_of[256];
    static int next = 0;
    if (!index_of[code]) index_of[code] = ++next;
    orders[index_of[code] - 1]++;
  }
  for (int i = 0; i < 4; i++)
    for (int v = 0; v < 4; v++)
      CHECK(count[i][v] > 5600 && count[i][v] < 6400, "position %d holds %d in %d of 24000 shuffles", i, v, count[i][v]);
  int all = 1;
  for (int k = 0; k < 24; k++) all &= orders[k] > 700 && orders[k] < 1300;
  CHECK(all, "all 24 orders of 4 elements come up about 1000 times each");
  /* a strided 1-D view */
  int64_t s10[1] = {20};
  lc_tensor w;
  lc_tensor_init(&w, A, 1, s10, &e);
  lc_fill(&w, -1);
  lc_tensor v = w;
  lc_view_slice(&v, 0, 1, 10, 2, &e);
  lc_rng_permutation(&r, &v, 0);
  int ok = 1, mask = 0;
  for (int i = 0; i < 20; i++) {
    if (i % 2 == 0) ok &= w.data[i] == -1;
    else mask |= 1 << (int)w.data[i];
  }
  CHECK(ok && mask == 0x3ff, "permutation of a strided view writes only its elements (mask 0x%x)", mask);
  lc_tensor_release(&t), lc_tensor_release(&w);
}

int main(void) {
  test_seed(6);
  A = lc_allocator_new((size_t)64 << 20);
  test_pcg32_reference();
  test_reproducible();
  test_distributions();
  test_fill_order();
  test_fill_int();
  test_permutation();
  CHECK(lc_allocator_live_bytes(A) == 0, "every test tensor was released (%zu bytes live)", lc_allocator_live_bytes(A));
  lc_allocator_release(A);
  return check_done("test_random");
}
