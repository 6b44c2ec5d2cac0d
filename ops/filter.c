/* Direct 2-D image filtering (see filter.h for the letters and the formula). */
#include "filter.h"

int lc_filter2d_out_size(const char *what, int64_t n, int64_t k, int64_t pad_lo, int64_t pad_hi, int64_t stride,
                         int64_t *out, lc_error *e) {
  if (stride < 1) return lc_fail(e, "%s: stride must be at least 1, got %lld", what, (long long)stride);
  if (pad_lo < 0 || pad_hi < 0)
    return lc_fail(e, "%s: padding must not be negative, got %lld and %lld", what, (long long)pad_lo, (long long)pad_hi);
  if (k < 1) return lc_fail(e, "%s: the kernel size must be at least 1, got %lld", what, (long long)k);
  if (pad_lo > ((int64_t)1 << 32) || pad_hi > ((int64_t)1 << 32))
    return lc_fail(e, "%s: padding %lld is absurd", what, (long long)(pad_lo > pad_hi ? pad_lo : pad_hi));
  int64_t padded = n + pad_lo + pad_hi;
  if (k > padded)
    return lc_fail(e, "%s: the kernel (%lld) is larger than the padded input (%lld + %lld + %lld = %lld)", what,
                   (long long)k, (long long)n, (long long)pad_lo, (long long)pad_hi, (long long)padded);
  *out = (padded - k) / stride + 1;
  return 0;
}

int lc_filter2d_forward(float *out, const float *in, const float *kernel, int64_t C, int64_t H, int64_t W, int64_t KC,
                        int64_t KH, int64_t KW, const lc_filter2d_params *p, lc_error *e) {
  if (KC != 1 && KC != C)
    return lc_fail(e, "filter2d: %lld kernels for %lld channels: give one kernel or one per channel", (long long)KC,
                   (long long)C);
  int64_t OH, OW;
  if (lc_filter2d_out_size("filter2d (height)", H, KH, p->pad_top, p->pad_bottom, p->stride, &OH, e)) return -1;
  if (lc_filter2d_out_size("filter2d (width)", W, KW, p->pad_left, p->pad_right, p->stride, &OW, e)) return -1;
  int64_t S = p->stride;
  for (int64_t c = 0; c < C; c++) {
    const float *img = in + c * H * W;
    const float *k = kernel + (KC == 1 ? 0 : c * KH * KW);
    float *o = out + c * OH * OW;
    for (int64_t i = 0; i < OH; i++) {
      int64_t y0 = i * S - p->pad_top;
      /* kernel rows u with 0 <= y0 + u < H */
      int64_t u0 = y0 < 0 ? -y0 : 0, u1 = H - y0 < KH ? H - y0 : KH;
      for (int64_t j = 0; j < OW; j++) {
        int64_t x0 = j * S - p->pad_left;
        int64_t v0 = x0 < 0 ? -x0 : 0, v1 = W - x0 < KW ? W - x0 : KW;
        double acc = 0;
        for (int64_t u = u0; u < u1; u++) {
          const float *row = img + (y0 + u) * W + x0;
          const float *krow = k + u * KW;
          for (int64_t v = v0; v < v1; v++) acc += (double)krow[v] * row[v];
        }
        o[i * OW + j] = (float)acc;
      }
    }
  }
  return 0;
}
