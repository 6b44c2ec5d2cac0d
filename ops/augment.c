/* Random crop + flip + per-channel normalization of image batches (see augment.h). */
#include "augment.h"

#include <math.h>

/* Below this many output elements a batch is done on the calling thread: waking the
 * pool costs more than the copy (a CIFAR batch of 64 is 196,608 elements). */
#define LC_AUGMENT_PARALLEL_MIN ((int64_t)1 << 15)

void lc_augment_draw(lc_rng *r, int64_t n, int64_t max_top, int64_t max_left, int flip, float *draws) {
  for (int64_t i = 0; i < n; i++) {
    draws[3 * i] = max_top > 0 ? (float)lc_rng_below(r, (uint64_t)max_top + 1) : 0.0f;
    draws[3 * i + 1] = max_left > 0 ? (float)lc_rng_below(r, (uint64_t)max_left + 1) : 0.0f;
    draws[3 * i + 2] = flip ? (float)(lc_rng_u32(r) >> 31) : 0.0f;
  }
}

typedef struct {
  lc_tensor *out;
  const lc_tensor *in;
  const float *draws;
  const lc_augment_spec *s;
} aug_job;

/* Samples [nb, ne). For output row y the source row is sy = top + y - P; for output
 * column x the window column is wx = flip ? OW-1-x : x and the source column
 * sx = left + wx - P. Columns whose sx falls outside 0..W-1 (and whole rows whose sy
 * does) are padding; the rest form one run [x0, x1) read forward or backward. */
static void apply_samples(const aug_job *j, int64_t nb, int64_t ne) {
  const lc_tensor *in = j->in;
  const lc_augment_spec *s = j->s;
  int64_t C = in->shape[1], H = in->shape[2], W = in->shape[3], P = s->pad, OH = s->out_h, OW = s->out_w;
  const int64_t *st = in->stride;
  for (int64_t i = nb; i < ne; i++) {
    int64_t top = (int64_t)j->draws[3 * i], left = (int64_t)j->draws[3 * i + 1];
    int flip = j->draws[3 * i + 2] != 0.0f;
    int64_t x0, x1, sx_at_x0, step;
    if (!flip) {
      x0 = P - left;
      x1 = W + P - left;
      sx_at_x0 = 0;
      step = 1;
    } else {
      /* sx = left + OW-1-x - P is W-1 at x = left + OW - P - W and 0 at left + OW-1 - P */
      x0 = left + OW - P - W;
      x1 = left + OW - P;
      sx_at_x0 = W - 1;
      step = -1;
    }
    if (x0 < 0) {
      sx_at_x0 += step * (0 - x0);
      x0 = 0;
    }
    if (x1 > OW) x1 = OW;
    for (int64_t c = 0; c < C; c++) {
      float m = s->mean ? s->mean[c] : 0.0f, sd = s->std ? s->std[c] : 1.0f;
      float padv = (0.0f - m) / sd;
      const float *plane = in->data + i * st[0] + c * st[1];
      float *o = j->out->data + (i * C + c) * OH * OW;
      for (int64_t y = 0; y < OH; y++, o += OW) {
        int64_t sy = top + y - P;
        if (sy < 0 || sy >= H || x0 >= x1) {
          for (int64_t x = 0; x < OW; x++) o[x] = padv;
          continue;
        }
        const float *row = plane + sy * st[2];
        for (int64_t x = 0; x < x0; x++) o[x] = padv;
        if (step == 1 && st[3] == 1) {
          const float *src = row + sx_at_x0;
          for (int64_t x = x0; x < x1; x++) o[x] = (src[x - x0] - m) / sd;
        } else {
          int64_t sstep = step * st[3];
          const float *src = row + sx_at_x0 * st[3];
          for (int64_t x = x0; x < x1; x++) o[x] = (src[(x - x0) * sstep] - m) / sd;
        }
        for (int64_t x = x1; x < OW; x++) o[x] = padv;
      }
    }
  }
}

static void apply_part(void *ctx, int part, int nparts) {
  const aug_job *j = ctx;
  long long nb, ne;
  lc_split_range(j->in->shape[0], nparts, part, 1, &nb, &ne);
  apply_samples(j, nb, ne);
}

int lc_augment_apply(lc_tensor *out, const lc_tensor *in, const float *draws, const lc_augment_spec *s, lc_pool *pool,
                     lc_error *e) {
  char a[96], b[96];
  if (in->ndim != 4)
    return lc_fail(e, "augment: expected images [N,C,H,W], got %s", lc_shape_str(a, sizeof a, in->ndim, in->shape));
  int64_t N = in->shape[0], C = in->shape[1], H = in->shape[2], W = in->shape[3];
  if (s->pad < 0) return lc_fail(e, "augment: padding must be >= 0, got %lld", (long long)s->pad);
  if (s->out_h < 1 || s->out_w < 1 || s->out_h > H + 2 * s->pad || s->out_w > W + 2 * s->pad)
    return lc_fail(e, "augment: a %lldx%lld crop does not fit in %lldx%lld images padded by %lld (%lldx%lld)",
                   (long long)s->out_h, (long long)s->out_w, (long long)H, (long long)W, (long long)s->pad,
                   (long long)(H + 2 * s->pad), (long long)(W + 2 * s->pad));
  int64_t want[4] = {N, C, s->out_h, s->out_w};
  if (out->ndim != 4 || out->shape[0] != N || out->shape[1] != C || out->shape[2] != s->out_h ||
      out->shape[3] != s->out_w)
    return lc_fail(e, "augment: the output is %s, expected %s", lc_shape_str(a, sizeof a, out->ndim, out->shape),
                   lc_shape_str(b, sizeof b, 4, want));
  if (!lc_is_contiguous(out)) return lc_fail(e, "augment: the output must be contiguous");
  if (out->storage && out->storage == in->storage)
    return lc_fail(e, "augment: the output shares memory with the input");
  if ((s->mean == NULL) != (s->std == NULL)) return lc_fail(e, "augment: give both mean and std, or neither");
  for (int64_t c = 0; s->mean && c < C; c++) {
    if (!isfinite(s->mean[c])) return lc_fail(e, "augment: mean[%lld] is %g", (long long)c + 1, (double)s->mean[c]);
    if (!(s->std[c] > 0) || !isfinite(s->std[c]))
      return lc_fail(e, "augment: std[%lld] is %g; it must be positive", (long long)c + 1, (double)s->std[c]);
  }
  int64_t max_top = H + 2 * s->pad - s->out_h, max_left = W + 2 * s->pad - s->out_w;
  for (int64_t i = 0; i < N; i++) {
    float t = draws[3 * i], l = draws[3 * i + 1], f = draws[3 * i + 2];
    if (!(t >= 0 && t <= (float)max_top && t == floorf(t)) || !(l >= 0 && l <= (float)max_left && l == floorf(l)) ||
        !(f == 0.0f || f == 1.0f))
      return lc_fail(e, "augment: draw %lld is (top %g, left %g, flip %g); expected integers top 0..%lld, left 0..%lld, "
                        "flip 0 or 1", (long long)i + 1, (double)t, (double)l, (double)f, (long long)max_top,
                     (long long)max_left);
  }
  aug_job j = {out, in, draws, s};
  int parts = lc_pool_threads(pool);
  if (parts > N) parts = (int)N;
  if (N * C * s->out_h * s->out_w < LC_AUGMENT_PARALLEL_MIN) parts = 1;
  if (parts > 1) lc_pool_run(pool, parts, apply_part, &j);
  else apply_samples(&j, 0, N);
  return 0;
}

void lc_augment_apply_ref(lc_tensor *out, const lc_tensor *in, const float *draws, const lc_augment_spec *s) {
  int64_t N = in->shape[0], C = in->shape[1], H = in->shape[2], W = in->shape[3];
  for (int64_t i = 0; i < N; i++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t y = 0; y < s->out_h; y++)
        for (int64_t x = 0; x < s->out_w; x++) {
          int64_t wx = draws[3 * i + 2] != 0.0f ? s->out_w - 1 - x : x;
          int64_t py = (int64_t)draws[3 * i] + y, px = (int64_t)draws[3 * i + 1] + wx;  /* in the padded image */
          int64_t sy = py - s->pad, sx = px - s->pad;
          float v = 0.0f;
          if (sy >= 0 && sy < H && sx >= 0 && sx < W)
            v = in->data[i * in->stride[0] + c * in->stride[1] + sy * in->stride[2] + sx * in->stride[3]];
          float m = s->mean ? s->mean[c] : 0.0f, sd = s->std ? s->std[c] : 1.0f;
          out->data[((i * C + c) * s->out_h + y) * s->out_w + x] = (v - m) / sd;
        }
}
