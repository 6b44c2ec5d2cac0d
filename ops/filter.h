/* Classic image filtering: a direct 2-D convolution of each channel of an image with a
 * small kernel (blur, edge detection...). Independent of the nn Conv2d layer.
 *
 * It computes a cross-correlation, as CNN layers do (and as most image libraries'
 * "filter2D" do): the kernel is not flipped. For the symmetric kernels (Gaussian, box,
 * Laplacian) that is the same as a convolution; for Sobel and Prewitt the sign flips.
 *
 * Letters: C channels, H x W input, KH x KW kernel, OH x OW output; padding top (PT),
 * bottom (PB), left (PL), right (PR) with zeros; stride S (both directions).
 *   out[c, i, j] = sum_{u < KH, v < KW} k[c', u, v] * in[c, i*S - PT + u, j*S - PL + v]
 * with in[] = 0 outside the image, and c' = c for a per-channel kernel (C x KH x KW),
 * c' = 0 for one kernel shared by all channels (1 x KH x KW).
 *   OH = floor((H + PT + PB - KH) / S) + 1, OW likewise. */
#ifndef LC_FILTER_H
#define LC_FILTER_H

#include <stdint.h>

#include "error.h"

typedef struct lc_filter2d_params {
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  int64_t stride;
} lc_filter2d_params;

/* Output size along one dimension: fails (naming `what`) when the kernel is larger than
 * the padded input, the stride is below 1 or a padding is negative. */
int lc_filter2d_out_size(const char *what, int64_t n, int64_t k, int64_t pad_lo, int64_t pad_hi, int64_t stride,
                         int64_t *out, lc_error *e);

/* out:    [C, OH, OW] contiguous (sizes from lc_filter2d_out_size)
 * in:     [C, H, W] contiguous
 * kernel: [KC, KH, KW] contiguous, KC = 1 (shared) or C (one per channel)
 * Sums in double, so the result does not depend on the order of the terms. */
int lc_filter2d_forward(float *out, const float *in, const float *kernel, int64_t C, int64_t H, int64_t W, int64_t KC,
                        int64_t KH, int64_t KW, const lc_filter2d_params *p, lc_error *e);

#endif
