/* Shapes, strides and views (ops/tensor.c): every view is checked element by element
 * against index arithmetic on the base tensor, and the error paths name their op. */
#include "check.h"

static lc_allocator *A;

/* A contiguous tensor holding 0, 1, 2, ... so an element's value is its flat offset. */
static lc_tensor iota(int ndim, const int64_t *shape) {
  lc_tensor t = test_empty(A, ndim, shape);
  for (int64_t i = 0; i < lc_numel(&t); i++) t.data[i] = (float)i;
  return t;
}

static int shape_is(const lc_tensor *t, int ndim, const int64_t *shape) {
  if (t->ndim != ndim) return 0;
  for (int d = 0; d < ndim; d++)
    if (t->shape[d] != shape[d]) return 0;
  return 1;
}

static const char *shp(const lc_tensor *t) {
  static char buf[4][200];
  static int k;
  k = (k + 1) % 4;
  return lc_shape_str(buf[k], sizeof buf[k], t->ndim, t->shape);
}

static void test_shape_helpers(void) {
  char buf[64];
  int64_t s[3] = {3, 4, 5}, st[3];
  CHECK(strcmp(lc_shape_str(buf, sizeof buf, 3, s), "[3,4,5]") == 0, "got %s", buf);
  CHECK(strcmp(lc_shape_str(buf, sizeof buf, 0, s), "[]") == 0, "got %s", buf);
  char tiny[4];
  lc_shape_str(tiny, sizeof tiny, 3, s);  /* truncates, stays terminated */
  CHECK(strlen(tiny) < sizeof tiny, "len %zu", strlen(tiny));
  lc_contiguous_strides(3, s, st);
  CHECK(st[0] == 20 && st[1] == 5 && st[2] == 1, "strides %lld %lld %lld", (long long)st[0], (long long)st[1],
        (long long)st[2]);
  int64_t z[3] = {3, 0, 5};
  lc_contiguous_strides(3, z, st);
  CHECK(st[0] == 5 && st[1] == 5 && st[2] == 1, "zero-size strides %lld %lld", (long long)st[0], (long long)st[1]);

  int64_t n = -1;
  lc_error e;
  CHECK_OK(lc_check_shape("zeros", 3, s, &n, &e), e);
  CHECK(n == 60, "numel %lld", (long long)n);
  CHECK_OK(lc_check_shape("zeros", 0, s, &n, &e), e);
  CHECK(n == 1, "scalar numel %lld", (long long)n);
  CHECK_OK(lc_check_shape("zeros", 3, z, &n, &e), e);
  CHECK(n == 0, "empty numel %lld", (long long)n);
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  CHECK_FAILS(lc_check_shape("zeros", 9, nine, &n, &e), e, "zeros:", "9 dimensions", "at most 8");
  CHECK_FAILS(lc_check_shape("zeros", -1, nine, &n, &e), e, "zeros:");
  int64_t neg[2] = {3, -2};
  CHECK_FAILS(lc_check_shape("ones", 2, neg, &n, &e), e, "ones:", "-2", "dimension 2", "negative");
  int64_t big[2] = {1000000000000, 1000000000000};
  CHECK_FAILS(lc_check_shape("zeros", 2, big, &n, &e), e, "zeros:", "[1000000000000,1000000000000]", "2^40");
  /* overflow of int64 itself must not wrap around into a small count */
  int64_t huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
  CHECK_FAILS(lc_check_shape("rand", 4, huge, &n, &e), e, "rand:", "2^40");
  int64_t edge[2] = {1 << 20, 1 << 20};
  CHECK_OK(lc_check_shape("empty", 2, edge, &n, &e), e);
  CHECK(n == LC_MAX_NUMEL, "2^40 is the largest allowed count, got %lld", (long long)n);
  int64_t over[2] = {(1 << 20) + 1, 1 << 20};
  CHECK_FAILS(lc_check_shape("empty", 2, over, &n, &e), e, "empty:");
  /* a zero anywhere makes the count 0, whatever the other sizes */
  int64_t zero_big[3] = {0, (int64_t)1 << 40, (int64_t)1 << 40};
  CHECK_OK(lc_check_shape("zeros", 3, zero_big, &n, &e), e);
  CHECK(n == 0, "numel %lld", (long long)n);

  lc_tensor t;
  CHECK_FAILS(lc_tensor_init(&t, A, 9, nine, &e), e, "9 dimensions");
  CHECK(t.storage == NULL, "failed init leaves no storage");
  CHECK_FAILS(lc_tensor_init(&t, A, 2, neg, &e), e, "negative");
}

static void test_contiguity(void) {
  int64_t s[3] = {2, 3, 4};
  lc_tensor t = iota(3, s), v;
  CHECK(lc_is_contiguous(&t), "fresh tensor is contiguous");
  CHECK(lc_numel(&t) == 24, "numel");
  lc_tensor_init_view(&v, &t);
  lc_error e;
  lc_view_transpose(&v, 0, 2, &e);
  CHECK(!lc_is_contiguous(&v), "transposed is not contiguous");
  lc_view_transpose(&v, 0, 2, &e);
  CHECK(lc_is_contiguous(&v), "transposed back is");
  /* size-1 dims do not matter, whatever their stride */
  lc_view_narrow(&v, 1, 1, 1, &e);
  lc_view_narrow(&v, 0, 0, 1, &e);
  v.stride[0] = 999;
  v.stride[1] = -5;
  CHECK(lc_is_contiguous(&v), "size-1 dims with odd strides [1,1,4] strides %lld,%lld", (long long)v.stride[0],
        (long long)v.stride[1]);
  lc_tensor_release(&v);
  lc_tensor_release(&t);
}

static void test_transpose_permute(void) {
  lc_error e;
  int64_t s[4] = {2, 3, 4, 5};
  lc_tensor t = iota(4, s);
  for (int trial = 0; trial < 30; trial++) {
    int perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
      int j = (int)test_int(0, i), x = perm[i];
      perm[i] = perm[j], perm[j] = x;
    }
    lc_tensor v = t;
    CHECK_OK(lc_view_permute(&v, perm, &e), e);
    int64_t idx[4] = {0}, bad = 0;
    for (int d = 0; d < 4; d++) CHECK(v.shape[d] == s[perm[d]], "permuted shape");
    do {
      /* v[idx] is t[j] with j[perm[d]] = idx[d] */
      int64_t j[4];
      for (int d = 0; d < 4; d++) j[perm[d]] = idx[d];
      if (*at(&v, idx) != *at(&t, j)) bad++;
    } while (next_index(4, v.shape, idx));
    CHECK(bad == 0, "permute (%d,%d,%d,%d): %lld elements differ", perm[0], perm[1], perm[2], perm[3], (long long)bad);
  }
  lc_tensor v = t;
  CHECK_OK(lc_view_transpose(&v, 1, 3, &e), e);
  int64_t want[4] = {2, 5, 4, 3};
  CHECK(shape_is(&v, 4, want), "transpose shape %s", shp(&v));
  int64_t i1[4] = {1, 4, 2, 0}, i2[4] = {1, 0, 2, 4};
  CHECK(*at(&v, i1) == *at(&t, i2), "transposed element");

  int dup[4] = {0, 1, 1, 3}, range[4] = {0, 1, 2, 4}, negp[4] = {0, -1, 2, 3};
  v = t;
  CHECK_FAILS(lc_view_permute(&v, dup, &e), e, "permute:", "permutation");
  CHECK(shape_is(&v, 4, s), "a failed permute leaves the view as it was");
  CHECK_FAILS(lc_view_permute(&v, range, &e), e, "permute:");
  CHECK_FAILS(lc_view_permute(&v, negp, &e), e, "permute:");
  CHECK_FAILS(lc_view_transpose(&v, 0, 4, &e), e, "transpose:", "dimension 5", "4-dimensional");
  CHECK_FAILS(lc_view_transpose(&v, -1, 0, &e), e, "transpose:");
  lc_tensor_release(&t);
}

static void test_narrow_slice_select(void) {
  lc_error e;
  int64_t s[3] = {4, 5, 6};
  lc_tensor t = iota(3, s);
  for (int trial = 0; trial < 200; trial++) {
    int d = (int)test_int(0, 2);
    int64_t size = s[d], step = test_int(1, 3), start = test_int(0, size), len = 0;
    if (start < size) len = test_int(0, (size - 1 - start) / step + 1);
    lc_tensor v = t;
    CHECK_OK(lc_view_slice(&v, d, start, len, step, &e), e);
    CHECK(v.ndim == 3 && v.shape[d] == len, "slice length");
    int64_t idx[3] = {0}, bad = 0;
    if (lc_numel(&v) > 0) do {
        int64_t j[3] = {idx[0], idx[1], idx[2]};
        j[d] = start + idx[d] * step;
        if (*at(&v, idx) != *at(&t, j)) bad++;
      } while (next_index(3, v.shape, idx));
    CHECK(bad == 0, "slice dim %d start %lld len %lld step %lld: %lld differ", d, (long long)start, (long long)len,
          (long long)step, (long long)bad);
  }
  /* narrow is a slice with step 1; narrowing a narrowed view composes offsets */
  lc_tensor v = t;
  CHECK_OK(lc_view_narrow(&v, 2, 1, 4, &e), e);
  CHECK_OK(lc_view_narrow(&v, 2, 2, 2, &e), e);
  CHECK_OK(lc_view_narrow(&v, 0, 3, 1, &e), e);
  int64_t i0[3] = {0, 1, 1};
  CHECK(*at(&v, i0) == 3 * 30 + 1 * 6 + 4, "composed narrow got %g", *at(&v, i0));
  v = t;
  CHECK_OK(lc_view_narrow(&v, 1, 5, 0, &e), e);  /* empty at the end is allowed */
  CHECK(v.shape[1] == 0 && lc_numel(&v) == 0, "empty narrow");

  /* select drops the dim */
  for (int d = 0; d < 3; d++)
    for (int64_t i = 0; i < s[d]; i++) {
      v = t;
      CHECK_OK(lc_view_select(&v, d, i, &e), e);
      CHECK(v.ndim == 2, "select ndim");
      int64_t idx[2] = {0}, bad = 0;
      do {
        int64_t j[3], k = 0;
        for (int q = 0; q < 3; q++) j[q] = q == d ? i : idx[k++];
        if (*at(&v, idx) != *at(&t, j)) bad++;
      } while (next_index(2, v.shape, idx));
      CHECK(bad == 0, "select(%d, %lld): %lld differ", d, (long long)i, (long long)bad);
    }
  v = t;
  lc_view_select(&v, 0, 2, &e);
  lc_view_select(&v, 0, 3, &e);
  lc_view_select(&v, 0, 4, &e);
  CHECK(v.ndim == 0 && lc_numel(&v) == 1 && v.data[0] == 2 * 30 + 3 * 6 + 4, "select to a scalar");

  v = t;
  CHECK_FAILS(lc_view_narrow(&v, 1, 3, 3, &e), e, "narrow:", "dimension 2", "size 5");
  CHECK_FAILS(lc_view_narrow(&v, 1, -1, 2, &e), e, "narrow:");
  CHECK_FAILS(lc_view_narrow(&v, 1, 0, -1, &e), e, "narrow:");
  CHECK_FAILS(lc_view_narrow(&v, 3, 0, 1, &e), e, "narrow:", "dimension 4");
  /* sizes near int64's limit must be rejected, not overflow into a valid-looking range */
  CHECK_FAILS(lc_view_narrow(&v, 1, 2, INT64_MAX, &e), e, "narrow:");
  CHECK_FAILS(lc_view_narrow(&v, 1, INT64_MAX, 1, &e), e, "narrow:");
  CHECK_FAILS(lc_view_slice(&v, 1, 0, 2, 0, &e), e, "slice:", "step");
  CHECK_OK(lc_view_slice(&v, 1, 0, 3, 2, &e), e);  /* 0, 2, 4: just fits */
  v = t;
  CHECK_FAILS(lc_view_slice(&v, 1, 0, 3, 3, &e), e, "slice:", "size 5");
  CHECK_FAILS(lc_view_slice(&v, 1, 1, 2, INT64_MAX, &e), e, "slice:");
  CHECK_FAILS(lc_view_slice(&v, 1, 1, INT64_MAX, 2, &e), e, "slice:");
  lc_tensor one = t;  /* one element: any step is fine and leaves the stride alone (no overflow) */
  CHECK_OK(lc_view_slice(&one, 1, 2, 1, INT64_MAX, &e), e);
  CHECK(one.shape[1] == 1 && one.stride[1] == 6 && one.data == t.data + 12, "single-element slice");
  CHECK_FAILS(lc_view_slice(&v, 1, 6, 0, 1, &e), e, "slice:");
  CHECK_FAILS(lc_view_select(&v, 1, 5, &e), e, "select:", "index 6", "dimension 2", "size 5");
  CHECK_FAILS(lc_view_select(&v, 1, -1, &e), e, "select:");
  CHECK_FAILS(lc_view_select(&v, 3, 0, &e), e, "select:", "dimension 4");
  CHECK(shape_is(&v, 3, s) && v.data == t.data, "failed views leave the tensor untouched");
  lc_tensor_release(&t);
}

static void test_squeeze_unsqueeze(void) {
  lc_error e;
  int64_t s[4] = {1, 3, 1, 2};
  lc_tensor t = iota(4, s), v = t;
  lc_view_squeeze_all(&v);
  int64_t w1[2] = {3, 2};
  CHECK(shape_is(&v, 2, w1) && v.stride[0] == 2 && v.stride[1] == 1, "squeeze all: %s", shp(&v));
  v = t;
  CHECK_OK(lc_view_squeeze(&v, 2, &e), e);
  int64_t w2[3] = {1, 3, 2};
  CHECK(shape_is(&v, 3, w2), "squeeze(3): %s", shp(&v));
  CHECK_OK(lc_view_squeeze(&v, 1, &e), e);  /* size 3: left alone, as in PyTorch */
  CHECK(shape_is(&v, 3, w2), "squeeze of a non-1 dim: %s", shp(&v));
  CHECK_FAILS(lc_view_squeeze(&v, 3, &e), e, "squeeze:");

  for (int d = 0; d <= 2; d++) {
    int64_t s2[2] = {3, 4};
    lc_tensor m = iota(2, s2), u = m;
    CHECK_OK(lc_view_unsqueeze(&u, d, &e), e);
    CHECK(u.ndim == 3 && u.shape[d] == 1, "unsqueeze(%d): %s", d, shp(&u));
    CHECK(lc_is_contiguous(&u), "unsqueeze(%d) of a contiguous tensor stays contiguous: strides %lld,%lld,%lld", d,
          (long long)u.stride[0], (long long)u.stride[1], (long long)u.stride[2]);
    /* the stride given to the new dim must keep reshape working on the view */
    int64_t flat[1] = {12};
    lc_tensor r = u;
    CHECK(lc_view_reshape(&r, "view", 1, flat, &e) == 0, "unsqueezed view reshapes without a copy");
    int64_t idx[3] = {0}, bad = 0;
    do {
      int64_t j[2] = {idx[d == 0 ? 1 : 0], idx[d == 2 ? 1 : 2]};
      if (*at(&u, idx) != *at(&m, j)) bad++;
    } while (next_index(3, u.shape, idx));
    CHECK(bad == 0, "unsqueeze(%d) elements", d);
    lc_tensor_release(&m);
  }
  v = t;
  CHECK_FAILS(lc_view_unsqueeze(&v, 5, &e), e, "unsqueeze:");
  CHECK_FAILS(lc_view_unsqueeze(&v, -1, &e), e, "unsqueeze:");
  int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 2};
  lc_tensor t8 = iota(8, s8);
  v = t8;
  CHECK_FAILS(lc_view_unsqueeze(&v, 0, &e), e, "unsqueeze:", "8");
  lc_tensor_release(&t8);
  lc_tensor_release(&t);
}

static void test_expand(void) {
  lc_error e;
  int64_t s[3] = {3, 1, 4};
  lc_tensor t = iota(3, s), v = t;
  int64_t to[4] = {2, 3, 5, 4};
  CHECK_OK(lc_view_expand(&v, 4, to, &e), e);
  CHECK(shape_is(&v, 4, to), "expanded shape %s", shp(&v));
  CHECK(v.stride[0] == 0 && v.stride[2] == 0, "broadcast dims have stride 0");
  int64_t idx[4] = {0}, bad = 0;
  do {
    int64_t j[3] = {idx[1], 0, idx[3]};
    if (*at(&v, idx) != *at(&t, j)) bad++;
  } while (next_index(4, v.shape, idx));
  CHECK(bad == 0, "expand: %lld elements differ", (long long)bad);
  v = t;
  int64_t keep[3] = {-1, 7, -1};
  CHECK_OK(lc_view_expand(&v, 3, keep, &e), e);
  int64_t w[3] = {3, 7, 4};
  CHECK(shape_is(&v, 3, w), "-1 keeps the size: %s", shp(&v));
  v = t;
  int64_t zero[3] = {3, 0, 4};
  CHECK_OK(lc_view_expand(&v, 3, zero, &e), e);
  CHECK(lc_numel(&v) == 0, "expand a size-1 dim to 0");

  v = t;
  int64_t bad1[3] = {3, 2, 5};
  CHECK_FAILS(lc_view_expand(&v, 3, bad1, &e), e, "expand:", "[3,1,4]", "[3,2,5]", "dimension 3");
  int64_t fewer[2] = {1, 4};
  CHECK_FAILS(lc_view_expand(&v, 2, fewer, &e), e, "expand:");
  int64_t lead[4] = {-1, 3, 1, 4};
  CHECK_FAILS(lc_view_expand(&v, 4, lead, &e), e, "expand:");
  int64_t neg[3] = {3, -2, 4};
  CHECK_FAILS(lc_view_expand(&v, 3, neg, &e), e, "expand:");
  int64_t huge[5] = {(int64_t)1 << 40, (int64_t)1 << 40, 3, 1, 4};
  CHECK_FAILS(lc_view_expand(&v, 5, huge, &e), e, "expand:", "2^40");
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 3, 1, 4};
  CHECK_FAILS(lc_view_expand(&v, 9, nine, &e), e, "expand:");
  CHECK(shape_is(&v, 3, s), "failed expand leaves the view");
  lc_tensor_release(&t);
}

/* Checks that r (a reshape of t) holds t's elements in row-major order. */
static int64_t reshape_mismatches(const lc_tensor *r, const lc_tensor *t) {
  int64_t ir[LC_MAX_DIMS] = {0}, it[LC_MAX_DIMS] = {0}, bad = 0, n = lc_numel(t);
  for (int64_t k = 0; k < n; k++) {
    if (*at(r, ir) != *at(t, it)) bad++;
    next_index(r->ndim, r->shape, ir);
    next_index(t->ndim, t->shape, it);
  }
  return bad;
}

static void test_reshape(void) {
  lc_error e;
  int64_t s[3] = {4, 6, 5};
  lc_tensor t = iota(3, s);
  /* contiguous: every factorization is a view */
  int64_t shapes[][4] = {{120, 0, 0, 0}, {2, 60, 0, 0}, {4, 30, 0, 0}, {24, 5, 0, 0}, {2, 2, 3, 10},
                         {1, 120, 1, 0}, {5, 4, 6, 0}};
  int nds[] = {1, 2, 2, 2, 4, 3, 3};
  for (int k = 0; k < 7; k++) {
    lc_tensor v = t;
    int64_t sh[4];
    memcpy(sh, shapes[k], sizeof sh);
    CHECK(lc_view_reshape(&v, "view", nds[k], sh, &e) == 0, "contiguous reshape %d is a view", k);
    CHECK(reshape_mismatches(&v, &t) == 0, "contiguous reshape %d elements", k);
  }
  /* -1 is inferred */
  lc_tensor v = t;
  int64_t inf1[3] = {2, -1, 10};
  CHECK(lc_view_reshape(&v, "view", 3, inf1, &e) == 0 && v.shape[1] == 6, "inferred %lld", (long long)v.shape[1]);
  CHECK(inf1[1] == 6, "the inferred size is written back into the shape");

  /* a transposed tensor: merging the swapped dims needs a copy (returns 1, no message) */
  v = t;
  lc_view_transpose(&v, 1, 2, &e);  /* [4,5,6] strides [30,1,5] */
  lc_tensor before = v;
  int64_t merge[2] = {4, 30};
  e.msg[0] = '\0';
  CHECK(lc_view_reshape(&v, "view", 2, merge, &e) == 1, "merging transposed dims cannot be a view");
  CHECK(shape_is(&v, 3, before.shape) && v.stride[1] == 1, "a refused reshape leaves the view");
  /* ... but splitting a dim or merging dims that stay contiguous can */
  int64_t split[4] = {2, 2, 5, 6};
  v = before;
  CHECK(lc_view_reshape(&v, "view", 4, split, &e) == 0, "splitting the outer dim of a transposed tensor");
  CHECK(reshape_mismatches(&v, &before) == 0, "split elements");
  int64_t split2[4] = {4, 5, 2, 3};
  v = before;
  CHECK(lc_view_reshape(&v, "view", 4, split2, &e) == 0, "splitting a strided inner dim");
  CHECK(reshape_mismatches(&v, &before) == 0, "split2 elements");
  /* narrowed rows: rows stay contiguous inside, so [2,6,5] -> [2,30] is not a view but [2,6,5] -> [12,5] is */
  v = t;
  lc_view_narrow(&v, 0, 1, 2, &e);  /* [2,6,5], still contiguous per row block */
  int64_t rows[2] = {12, 5};
  lc_tensor nv = v;
  CHECK(lc_view_reshape(&nv, "view", 2, rows, &e) == 0, "narrowed outer dim merges");
  CHECK(reshape_mismatches(&nv, &v) == 0, "narrowed merge elements");
  lc_view_narrow(&v, 2, 0, 3, &e);  /* [2,6,3] strides [30,5,1] */
  int64_t flat[1] = {36};
  nv = v;
  CHECK(lc_view_reshape(&nv, "view", 1, flat, &e) == 1, "narrowed inner dim cannot flatten");
  int64_t keep[3] = {2, 6, 3}, unsq[4] = {2, 1, 6, 3};
  nv = v;
  CHECK(lc_view_reshape(&nv, "view", 3, keep, &e) == 0, "same shape is always a view");
  nv = v;
  CHECK(lc_view_reshape(&nv, "view", 4, unsq, &e) == 0, "adding a 1 is a view");
  CHECK(reshape_mismatches(&nv, &v) == 0, "unsqueeze-by-reshape elements");
  /* expanded (stride 0) dims can be regrouped among themselves but not flattened */
  lc_tensor x = t;
  lc_view_narrow(&x, 1, 0, 1, &e);
  lc_view_narrow(&x, 2, 0, 1, &e);  /* [4,1,1] */
  int64_t ex[3] = {4, 3, 2};
  lc_view_expand(&x, 3, ex, &e);
  int64_t ex_flat[1] = {24}, ex_split[4] = {4, 6, 1, 1};
  nv = x;
  CHECK(lc_view_reshape(&nv, "view", 1, ex_flat, &e) == 1, "an expanded tensor cannot flatten without a copy");
  nv = x;
  CHECK(lc_view_reshape(&nv, "view", 4, ex_split, &e) == 0, "expanded dims merge with each other");
  CHECK(reshape_mismatches(&nv, &x) == 0, "expanded merge elements");

  /* random reshapes of random strided tensors: a view when allowed, and then always right */
  for (int trial = 0; trial < 300; trial++) {
    int64_t sh[3];
    test_shape(3, sh, 1, 4);
    lc_tensor r = test_tensor(A, 3, sh, (int)test_int(0, 3), -1, 1);
    int64_t n = lc_numel(&r), ns[3] = {n, 1, 1};
    int nd = (int)test_int(1, 3);
    if (nd >= 2) {  /* split n into factors */
      int64_t f = test_int(1, n);
      while (n % f) f--;
      ns[0] = f, ns[1] = n / f;
      if (nd == 3) {
        int64_t g = test_int(1, ns[1]);
        while (ns[1] % g) g--;
        ns[2] = ns[1] / g, ns[1] = g;
      }
    }
    lc_tensor rv = r;
    int rc = lc_view_reshape(&rv, "view", nd, ns, &e);
    CHECK(rc == 0 || rc == 1, "reshape returned %d", rc);
    if (rc == 0) CHECK(reshape_mismatches(&rv, &r) == 0, "random reshape of %s to %s", shp(&r), shp(&rv));
    if (lc_is_contiguous(&r)) CHECK(rc == 0, "a contiguous tensor always reshapes");
    lc_tensor_release(&r);
  }

  v = t;
  int64_t wrong[2] = {7, 17};
  CHECK_FAILS(lc_view_reshape(&v, "reshape", 2, wrong, &e), e, "reshape:", "[4,6,5]", "[7,17]", "120");
  int64_t two[3] = {-1, -1, 10};
  CHECK_FAILS(lc_view_reshape(&v, "view", 3, two, &e), e, "view:", "-1");
  int64_t nodiv[2] = {7, -1};
  CHECK_FAILS(lc_view_reshape(&v, "view", 2, nodiv, &e), e, "view:", "[4,6,5]");
  int64_t neg[2] = {-2, -60};
  CHECK_FAILS(lc_view_reshape(&v, "view", 2, neg, &e), e, "view:", "negative");
  int64_t zinf[2] = {0, -1};
  CHECK_FAILS(lc_view_reshape(&v, "view", 2, zinf, &e), e, "view:");
  int64_t ovf[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
  CHECK_FAILS(lc_view_reshape(&v, "view", 3, ovf, &e), e, "view:");
  int64_t ovf2[4] = {(int64_t)1 << 32, (int64_t)1 << 32, (int64_t)1 << 32, 120};
  CHECK_FAILS(lc_view_reshape(&v, "view", 4, ovf2, &e), e, "view:");
  int64_t nine[9] = {120, 1, 1, 1, 1, 1, 1, 1, 1};
  CHECK_FAILS(lc_view_reshape(&v, "view", 9, nine, &e), e, "view:", "9 dimensions");
  CHECK_FAILS(lc_view_reshape(&v, "view", -1, nine, &e), e, "view:");
  CHECK(shape_is(&v, 3, s), "failed reshapes leave the view");

  /* empty tensors reshape to any shape with 0 elements; scalars to [1], [1,1] */
  int64_t es[2] = {0, 3};
  lc_tensor z = iota(2, es), zv = z;
  int64_t e1[3] = {3, 0, 7};
  CHECK(lc_view_reshape(&zv, "view", 3, e1, &e) == 0, "empty reshape");
  lc_tensor sc = iota(0, NULL), scv = sc;
  int64_t one[2] = {1, 1};
  CHECK(lc_view_reshape(&scv, "view", 2, one, &e) == 0 && scv.ndim == 2, "scalar to [1,1]");
  scv = sc;
  int64_t m1[1] = {-1};
  CHECK(lc_view_reshape(&scv, "view", 1, m1, &e) == 0 && scv.shape[0] == 1, "scalar to [-1]");
  lc_tensor_release(&z);
  lc_tensor_release(&sc);
  lc_tensor_release(&t);
}

static void test_broadcast_shape(void) {
  lc_error e;
  struct { int na; int64_t a[4]; int nb; int64_t b[4]; int nw; int64_t w[4]; } ok[] = {
    {2, {3, 4}, 1, {4}, 2, {3, 4}},
    {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},
    {0, {0}, 3, {2, 3, 4}, 3, {2, 3, 4}},
    {3, {5, 1, 4}, 2, {3, 1}, 3, {5, 3, 4}},
    {2, {0, 1}, 1, {7}, 2, {0, 7}},
    {1, {1}, 2, {0, 1}, 2, {0, 1}},
  };
  for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
    lc_tensor a = {0}, b = {0};
    a.ndim = ok[k].na, b.ndim = ok[k].nb;
    memcpy(a.shape, ok[k].a, sizeof ok[k].a);
    memcpy(b.shape, ok[k].b, sizeof ok[k].b);
    int nd = -1;
    int64_t sh[LC_MAX_DIMS];
    CHECK_OK(lc_broadcast_shape("add", &a, &b, &nd, sh, &e), e);
    CHECK(nd == ok[k].nw && memcmp(sh, ok[k].w, sizeof(int64_t) * (size_t)nd) == 0, "case %zu", k);
    CHECK_OK(lc_broadcast_shape("add", &b, &a, &nd, sh, &e), e);  /* symmetric */
    CHECK(nd == ok[k].nw && memcmp(sh, ok[k].w, sizeof(int64_t) * (size_t)nd) == 0, "case %zu swapped", k);
  }
  lc_tensor a = {0}, b = {0};
  a.ndim = 2, a.shape[0] = 2, a.shape[1] = 3;
  b.ndim = 1, b.shape[0] = 4;
  int nd;
  int64_t sh[LC_MAX_DIMS];
  CHECK_FAILS(lc_broadcast_shape("add", &a, &b, &nd, sh, &e), e,
              "add: shapes [2,3] and [4] cannot be broadcast: dimension 2 has sizes 3 and 4");
  b.shape[0] = 0;
  CHECK_FAILS(lc_broadcast_shape("mul", &a, &b, &nd, sh, &e), e, "mul:", "[2,3]", "[0]");
}

int main(void) {
  test_seed(1);
  A = lc_allocator_new((size_t)64 << 20);
  test_shape_helpers();
  test_contiguity();
  test_transpose_permute();
  test_narrow_slice_select();
  test_squeeze_unsqueeze();
  test_expand();
  test_reshape();
  test_broadcast_shape();
  CHECK(lc_allocator_live_bytes(A) == 0, "every test tensor was released (%zu bytes live)", lc_allocator_live_bytes(A));
  lc_allocator_release(A);
  return check_done("test_views");
}
