#include "gather.h"

#include <string.h>

#include "elementwise.h"

int lc_index_select(lc_tensor *out, const lc_tensor *src, const lc_tensor *idx, int64_t base, lc_error *e) {
  char s1[200], s2[200];
  if (src->ndim < 1) return lc_fail(e, "index_select: the source needs at least one dimension");
  if (idx->ndim != 1) return lc_fail(e, "index_select: indices must be 1-D, got %s", lc_shape_str(s1, sizeof s1, idx->ndim, idx->shape));
  int64_t rows = idx->shape[0], size = src->shape[0];
  if (out->ndim != src->ndim || out->shape[0] != rows || memcmp(out->shape + 1, src->shape + 1, sizeof(int64_t) * (size_t)(src->ndim - 1)) ||
      !lc_is_contiguous(out))
    return lc_fail(e, "index_select: output %s does not fit %lld rows of %s", lc_shape_str(s1, sizeof s1, out->ndim, out->shape),
                   (long long)rows, lc_shape_str(s2, sizeof s2, src->ndim, src->shape));
  for (int64_t i = 0; i < rows; i++) {
    float f = idx->data[i * idx->stride[0]];
    int64_t r = (int64_t)f - base;
    if (f != (float)(int64_t)f || r < 0 || r >= size)
      return lc_fail(e, "index_select: index %g is outside 1..%lld", (double)f - (double)base + 1, (long long)size);
  }
  int64_t row_numel = rows ? lc_numel(out) / rows : 0;
  lc_tensor srow = *src, orow = *out;
  lc_view_select(&srow, 0, 0, NULL);
  lc_view_select(&orow, 0, 0, NULL);
  int contiguous_rows = lc_is_contiguous(&srow);
  for (int64_t i = 0; i < rows; i++) {
    int64_t r = (int64_t)idx->data[i * idx->stride[0]] - base;
    float *dst = out->data + i * row_numel;
    const float *from = src->data + r * src->stride[0];
    if (contiguous_rows) {
      memcpy(dst, from, sizeof(float) * (size_t)row_numel);
    } else {
      lc_tensor a = srow, b = orow;
      a.data = (float *)from;
      b.data = dst;
      lc_copy(&b, &a, NULL);
    }
  }
  return 0;
}

int lc_dropout_forward(lc_tensor *y, lc_tensor *mask, const lc_tensor *x, float rate, lc_rng *r, lc_error *e) {
  if (!(rate >= 0.0f && rate < 1.0f)) return lc_fail(e, "dropout: rate %g must be in [0, 1)", (double)rate);
  if (!lc_same_shape(y, x) || !lc_same_shape(mask, x) || !lc_is_contiguous(y) || !lc_is_contiguous(mask) ||
      !lc_is_contiguous(x))
    return lc_fail(e, "dropout: input, output and mask must be contiguous and of one shape");
  int64_t n = lc_numel(x);
  float keep = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < n; i++) {
    mask->data[i] = lc_rng_uniform01(r) >= rate ? keep : 0.0f;
    y->data[i] = x->data[i] * mask->data[i];
  }
  return 0;
}
