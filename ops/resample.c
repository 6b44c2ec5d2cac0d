/* Image resizing (see resample.h for the sampling rules). */
#include "resample.h"

#include <stdlib.h>

static int check_sizes(const char *what, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_error *e) {
  if (H < 1 || W < 1) return lc_fail(e, "%s: the image is %lldx%lld; it needs at least one pixel", what, (long long)H, (long long)W);
  if (OH < 1 || OW < 1) return lc_fail(e, "%s: the new size %lldx%lld must be at least 1x1", what, (long long)OH, (long long)OW);
  return 0;
}

int lc_resize_nearest(float *out, const float *in, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_error *e) {
  if (check_sizes("image_resize", H, W, OH, OW, e)) return -1;
  int64_t *xs = malloc((size_t)OW * sizeof *xs);
  if (!xs) return lc_fail(e, "image_resize: out of memory");
  for (int64_t j = 0; j < OW; j++) xs[j] = j * W / OW;
  for (int64_t c = 0; c < C; c++)
    for (int64_t i = 0; i < OH; i++) {
      const float *row = in + (c * H + i * H / OH) * W;
      float *o = out + (c * OH + i) * OW;
      for (int64_t j = 0; j < OW; j++) o[j] = row[xs[j]];
    }
  free(xs);
  return 0;
}

/* Source index pairs and weights of one axis: sample k mixes lo[k] and hi[k] with
 * weight w[k] on hi. */
static void axis(int64_t n, int64_t on, int64_t *lo, int64_t *hi, float *w) {
  double scale = (double)n / (double)on;
  for (int64_t k = 0; k < on; k++) {
    double s = ((double)k + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    int64_t i0 = (int64_t)s;
    if (i0 > n - 1) i0 = n - 1;
    lo[k] = i0;
    hi[k] = i0 + 1 < n ? i0 + 1 : n - 1;
    w[k] = (float)(s - (double)i0);
  }
}

int lc_resize_bilinear(float *out, const float *in, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_error *e) {
  if (check_sizes("image_resize", H, W, OH, OW, e)) return -1;
  int64_t *idx = malloc((size_t)(OH + OW) * 2 * sizeof *idx);
  float *wts = malloc((size_t)(OH + OW) * sizeof *wts);
  if (!idx || !wts) {
    free(idx);
    free(wts);
    return lc_fail(e, "image_resize: out of memory");
  }
  int64_t *y0 = idx, *y1 = idx + OH, *x0 = idx + 2 * OH, *x1 = idx + 2 * OH + OW;
  float *wy = wts, *wx = wts + OH;
  axis(H, OH, y0, y1, wy);
  axis(W, OW, x0, x1, wx);
  for (int64_t c = 0; c < C; c++) {
    const float *img = in + c * H * W;
    for (int64_t i = 0; i < OH; i++) {
      const float *r0 = img + y0[i] * W, *r1 = img + y1[i] * W;
      float b = wy[i], a = 1.0f - b;
      float *o = out + (c * OH + i) * OW;
      for (int64_t j = 0; j < OW; j++) {
        float top = r0[x0[j]] * (1.0f - wx[j]) + r0[x1[j]] * wx[j];
        float bot = r1[x0[j]] * (1.0f - wx[j]) + r1[x1[j]] * wx[j];
        o[j] = top * a + bot * b;
      }
    }
  }
  free(idx);
  free(wts);
  return 0;
}
