/* Augmentation: crop and flip on a known image (pixels written out by hand), the fast
 * kernel against the element-by-element reference over shapes, strides, paddings and
 * thread counts, the draws (ranges, determinism, frequencies) and the refusals. */
#include "augment.h"
#include "check.h"

static lc_allocator *A;

/* One 2-channel 4x4 image, v = 100c + 10y + x, padded by 1 and cropped 4x4 at
 * (top 0, left 2) of the 6x6 padded image: the first row is padding, then image rows
 * 0..2, columns 1..3 and one padding column. */
static void test_known_image(void) {
  int64_t ish[4] = {1, 2, 4, 4}, osh[4] = {1, 2, 4, 4};
  lc_tensor in = test_empty(A, 4, ish), out = test_empty(A, 4, osh);
  for (int c = 0; c < 2; c++)
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 4; x++) in.data[c * 16 + y * 4 + x] = (float)(100 * c + 10 * y + x);
  static const float crop[2][16] = {
    {0, 0, 0, 0, 1, 2, 3, 0, 11, 12, 13, 0, 21, 22, 23, 0},
    {0, 0, 0, 0, 101, 102, 103, 0, 111, 112, 113, 0, 121, 122, 123, 0}};
  static const float flipped[2][16] = {
    {0, 0, 0, 0, 0, 3, 2, 1, 0, 13, 12, 11, 0, 23, 22, 21},
    {0, 0, 0, 0, 0, 103, 102, 101, 0, 113, 112, 111, 0, 123, 122, 121}};
  lc_augment_spec s = {1, 4, 4, NULL, NULL};
  lc_error e;
  float draws[3] = {0, 2, 0};
  CHECK_OK(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e);
  for (int i = 0; i < 32; i++) CHECK(out.data[i] == crop[i / 16][i % 16], "crop: element %d is %g", i, out.data[i]);
  draws[2] = 1;
  CHECK_OK(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e);
  for (int i = 0; i < 32; i++)
    CHECK(out.data[i] == flipped[i / 16][i % 16], "flip: element %d is %g", i, out.data[i]);

  /* centre (top 1, left 1) without flip is the image itself; with flip, each row reversed */
  draws[0] = 1, draws[1] = 1, draws[2] = 0;
  CHECK_OK(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e);
  for (int i = 0; i < 32; i++) CHECK(out.data[i] == in.data[i], "centre: element %d is %g", i, out.data[i]);
  draws[2] = 1;
  CHECK_OK(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e);
  for (int i = 0; i < 32; i++) {
    int c = i / 16, y = (i % 16) / 4, x = i % 4;
    CHECK(out.data[i] == in.data[c * 16 + y * 4 + 3 - x], "mirror: element %d is %g", i, out.data[i]);
  }

  /* normalization: (v - mean) / std, the padding zeros included */
  float mean[2] = {10, 100}, std[2] = {2, 4};
  lc_augment_spec n = {1, 4, 4, mean, std};
  draws[0] = 0, draws[1] = 2, draws[2] = 0;
  CHECK_OK(lc_augment_apply(&out, &in, draws, &n, NULL, &e), e);
  for (int i = 0; i < 32; i++) {
    float want = (crop[i / 16][i % 16] - mean[i / 16]) / std[i / 16];
    CHECK(out.data[i] == want, "normalized: element %d is %g, want %g", i, out.data[i], want);
  }
  CHECK(out.data[0] == -5.0f && out.data[16] == -25.0f && out.data[4] == -4.5f, "padding normalized: %g %g %g",
        out.data[0], out.data[16], out.data[4]);
  lc_tensor_release(&in);
  lc_tensor_release(&out);
}

/* The kernel equals the reference exactly (same arithmetic per element) for random
 * shapes, input layouts, paddings, crops, flips and normalization, on 1 and 3 threads. */
static void test_against_reference(lc_pool *pool) {
  test_seed(11);
  lc_rng r;
  lc_rng_seed(&r, 3);
  for (int k = 0; k < 300; k++) {
    int64_t N = test_int(1, 9), C = test_int(1, 4), H = test_int(1, 12), W = test_int(1, 12), P = test_int(0, 5);
    if (k % 7 == 0) N = test_int(40, 70), H = 32, W = 32, P = 4;  /* large enough for the pool */
    lc_augment_spec s = {P, test_int(1, H + 2 * P), test_int(1, W + 2 * P), NULL, NULL};
    if (k % 5 == 0) s.out_h = H, s.out_w = W;
    int64_t ish[4] = {N, C, H, W}, osh[4] = {N, C, s.out_h, s.out_w};
    lc_tensor in = test_tensor(A, 4, ish, k % 4, -3.0f, 3.0f);
    lc_tensor out = test_empty(A, 4, osh), ref = test_empty(A, 4, osh);
    float mean[4], std[4];
    for (int c = 0; c < 4; c++) mean[c] = test_float(-1, 1), std[c] = test_float(0.2f, 3);
    if (k % 2) s.mean = mean, s.std = std;
    float *draws = malloc(sizeof(float) * 3 * (size_t)N);
    lc_augment_draw(&r, N, H + 2 * P - s.out_h, W + 2 * P - s.out_w, k % 3 != 0, draws);
    lc_error e;
    CHECK_OK(lc_augment_apply(&out, &in, draws, &s, k % 2 ? pool : NULL, &e), e);
    lc_augment_apply_ref(&ref, &in, draws, &s);
    int64_t n = lc_numel(&out), bad = 0;
    for (int64_t i = 0; i < n; i++) bad += out.data[i] != ref.data[i];
    CHECK(bad == 0, "case %d: %lld of %lld elements differ (N%lld C%lld %lldx%lld pad %lld crop %lldx%lld layout %d)", k,
          (long long)bad, (long long)n, (long long)N, (long long)C, (long long)H, (long long)W, (long long)P,
          (long long)s.out_h, (long long)s.out_w, k % 4);
    free(draws);
    lc_tensor_release(&in);
    lc_tensor_release(&out);
    lc_tensor_release(&ref);
  }
}

static void test_draws(void) {
  enum { N = 20000 };
  float *a = malloc(sizeof(float) * 3 * N), *b = malloc(sizeof(float) * 3 * N);
  lc_rng r;
  lc_rng_seed(&r, 42);
  lc_augment_draw(&r, N, 8, 8, 1, a);
  lc_rng_seed(&r, 42);
  lc_augment_draw(&r, N, 8, 8, 1, b);
  CHECK(memcmp(a, b, sizeof(float) * 3 * N) == 0, "the same seed gave other draws");
  int tops[9] = {0}, lefts[9] = {0}, flips = 0, out_of_range = 0;
  for (int i = 0; i < N; i++) {
    int t = (int)a[3 * i], l = (int)a[3 * i + 1];
    if (t < 0 || t > 8 || l < 0 || l > 8 || (float)t != a[3 * i] || (float)l != a[3 * i + 1] ||
        (a[3 * i + 2] != 0 && a[3 * i + 2] != 1)) {
      out_of_range++;
      continue;
    }
    tops[t]++, lefts[l]++, flips += a[3 * i + 2] == 1;
  }
  CHECK(out_of_range == 0, "%d draws out of range", out_of_range);
  /* binomial(20000, 1/2): sd 71, so +-400 is over 5 sd; each offset: mean 2222, sd 44 */
  CHECK(flips > N / 2 - 400 && flips < N / 2 + 400, "%d of %d flipped", flips, N);
  for (int v = 0; v < 9; v++) {
    CHECK(tops[v] > 2222 - 300 && tops[v] < 2222 + 300, "top %d drawn %d times", v, tops[v]);
    CHECK(lefts[v] > 2222 - 300 && lefts[v] < 2222 + 300, "left %d drawn %d times", v, lefts[v]);
  }
  /* nothing to choose: all zeros, and the generator is not advanced */
  lc_rng_seed(&r, 42);
  lc_augment_draw(&r, 100, 0, 0, 0, a);
  int nonzero = 0;
  for (int i = 0; i < 300; i++) nonzero += a[i] != 0;
  CHECK(nonzero == 0, "%d non-zero draws without choices", nonzero);
  lc_rng fresh;
  lc_rng_seed(&fresh, 42);
  CHECK(lc_rng_u32(&r) == lc_rng_u32(&fresh), "draws without choices used the generator");
  free(a);
  free(b);
}

static void test_refused(void) {
  int64_t ish[4] = {2, 3, 8, 8}, osh[4] = {2, 3, 8, 8}, other[4] = {2, 3, 7, 8};
  lc_tensor in = test_empty(A, 4, ish), out = test_empty(A, 4, osh), small = test_empty(A, 4, other);
  for (int64_t i = 0; i < lc_numel(&in); i++) in.data[i] = (float)i;
  float draws[6] = {0, 0, 0, 4, 4, 1};
  float mean[3] = {0, 0, 0}, std[3] = {1, 0, 1};
  lc_augment_spec s = {2, 8, 8, NULL, NULL};
  lc_error e;
  CHECK_OK(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e);
  draws[3] = 5;
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e, "draw 2", "top 5", "top 0..4");
  draws[3] = 1.5f;
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e, "draw 2");
  draws[3] = 0, draws[5] = 2;
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &s, NULL, &e), e, "flip 2");
  draws[5] = 0;
  CHECK_FAILS(lc_augment_apply(&small, &in, draws, &s, NULL, &e), e, "[2,3,7,8]", "[2,3,8,8]");
  lc_augment_spec big = {1, 11, 8, NULL, NULL};
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &big, NULL, &e), e, "11x8 crop", "10x10");
  lc_augment_spec neg = {-1, 8, 8, NULL, NULL};
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &neg, NULL, &e), e, "padding");
  lc_augment_spec bad_std = {2, 8, 8, mean, std};
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &bad_std, NULL, &e), e, "std[2] is 0");
  lc_augment_spec half = {2, 8, 8, mean, NULL};
  CHECK_FAILS(lc_augment_apply(&out, &in, draws, &half, NULL, &e), e, "both mean and std");
  CHECK_FAILS(lc_augment_apply(&in, &in, draws, &s, NULL, &e), e, "shares memory");
  int64_t flat[2] = {2, 192};
  lc_tensor f = test_empty(A, 2, flat);
  CHECK_FAILS(lc_augment_apply(&out, &f, draws, &s, NULL, &e), e, "[N,C,H,W]", "[2,192]");
  lc_tensor_release(&f);
  lc_tensor_release(&in);
  lc_tensor_release(&out);
  lc_tensor_release(&small);
}

int main(void) {
  A = lc_allocator_new(1 << 24);
  lc_pool *pool = lc_pool_new(3);
  test_known_image();
  test_against_reference(pool);
  test_draws();
  test_refused();
  lc_pool_free(pool);
  lc_allocator_release(A);
  return check_done("test_augment");
}
