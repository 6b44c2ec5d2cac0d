/* Resizing images: nearest-neighbour and bilinear resampling of each channel.
 *
 * in: [C, H, W] contiguous; out: [C, OH, OW] contiguous.
 * Nearest: out[c, i, j] = in[c, floor(i * H / OH), floor(j * W / OW)] (PyTorch's
 *   mode='nearest', computed in exact integer arithmetic).
 * Bilinear with half-pixel centers (OpenCV's INTER_LINEAR, PyTorch's bilinear with
 *   align_corners=False): output pixel i samples the input at
 *   y = (i + 0.5) * H / OH - 0.5, clamped below at 0; it mixes rows floor(y) and
 *   floor(y) + 1 (clamped to H - 1) with weights 1 - (y - floor(y)) and y - floor(y),
 *   and likewise along the width. */
#ifndef LC_RESAMPLE_H
#define LC_RESAMPLE_H

#include <stdint.h>

#include "error.h"

int lc_resize_nearest(float *out, const float *in, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_error *e);
int lc_resize_bilinear(float *out, const float *in, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_error *e);

#endif
