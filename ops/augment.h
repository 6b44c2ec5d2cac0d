/* Data augmentation of image batches: random crop of the zero-padded image, random
 * horizontal flip and per-channel normalization, in one pass into a reused buffer.
 *
 * Dimension letters: N samples, C channels, H x W input image, P padding on every side,
 * OH x OW output (the crop). Sample i of the output is
 *   1. the input image zero-padded by P on each side: (H + 2P) x (W + 2P),
 *   2. its OH x OW window whose top-left corner is (top_i, left_i) in the padded image,
 *   3. mirrored left-right when flip_i is 1,
 *   4. (v - mean[c]) / std[c] per channel (padding zeros included, as torchvision's
 *      RandomCrop + Normalize do).
 * The random choices are drawn first, on the calling thread, in sample order (lc_augment_draw);
 * applying them (lc_augment_apply) is deterministic and may run on the pool, so a seed
 * gives the same batch at any thread count. */
#ifndef LC_AUGMENT_H
#define LC_AUGMENT_H

#include <stdint.h>

#include "error.h"
#include "pool.h"
#include "random.h"
#include "tensor.h"

typedef struct lc_augment_spec {
  int64_t pad;          /* P >= 0 */
  int64_t out_h, out_w; /* OH, OW: 1 .. H + 2P, W + 2P */
  const float *mean;    /* C values, or NULL: no normalization (then std is NULL too) */
  const float *std;     /* C values, each positive */
} lc_augment_spec;

/* draws: [n,3] floats, row i = (top_i, left_i, flip_i). top uniform in 0..max_top,
 * left in 0..max_left, flip 0 or 1 with probability 1/2 when `flip`, else 0. A value
 * is drawn from r only when it has a choice (max > 0, flip on), in the order top, left,
 * flip, sample after sample. */
void lc_augment_draw(lc_rng *r, int64_t n, int64_t max_top, int64_t max_left, int flip, float *draws);

/* out: [N,C,OH,OW] contiguous, not overlapping in; in: [N,C,H,W], any strides;
 * draws: [N,3] as lc_augment_draw makes them (each checked: integers, in range). */
int lc_augment_apply(lc_tensor *out, const lc_tensor *in, const float *draws, const lc_augment_spec *s, lc_pool *pool,
                     lc_error *e);

/* The same result by the definition above, one element at a time: the reference the
 * tests compare lc_augment_apply with. Checks nothing. */
void lc_augment_apply_ref(lc_tensor *out, const lc_tensor *in, const float *draws, const lc_augment_spec *s);

#endif
