/* 2-D pooling over N x C x H x W tensors, each of the N*C planes on its own.
 * Dimension letters: N samples, C channels, H x W input, KH x KW window, OH x OW output.
 *   x [N,C,H,W], y [N,C,OH,OW], OH = lc_conv2d_out_size(H, KH, sh, ph, 1) (and W alike).
 *
 * Max pooling: padding never wins (it acts as -inf, as in PyTorch); a NaN in a window
 * is the window's maximum. Backward recomputes each window's argmax from x (the first
 * maximum, the same one forward found) instead of storing indices, and sends dy there.
 * Average pooling counts the padding in the divisor (PyTorch's default
 * count_include_pad=True): every window divides by KH*KW. Global average pooling is
 * average pooling with the window of the whole plane.
 * Padding may be at most half the window (PyTorch's rule), so no window lies entirely
 * in the padding. Backward writes dx (overwritten). */
#ifndef LC_POOL2D_H
#define LC_POOL2D_H

#include <stdint.h>

#include "pool.h"
#include "tensor.h"

typedef struct lc_pool2d_params {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
} lc_pool2d_params;

/* Validates the window against an H x W input and writes the output size; `what`
 * ("maxpool2d", "avgpool2d") starts the message. */
int lc_pool2d_output_size(const char *what, int64_t H, int64_t W, const lc_pool2d_params *p, int64_t *OH,
                          int64_t *OW, lc_error *e);

/* All tensors contiguous. `pool` (may be NULL) splits the planes over its threads. */
int lc_maxpool2d_forward(lc_tensor *y, const lc_tensor *x, const lc_pool2d_params *p, lc_pool *pool, lc_error *e);
int lc_maxpool2d_backward(lc_tensor *dx, const lc_tensor *dy, const lc_tensor *x, const lc_pool2d_params *p,
                          lc_pool *pool, lc_error *e);
int lc_avgpool2d_forward(lc_tensor *y, const lc_tensor *x, const lc_pool2d_params *p, lc_pool *pool, lc_error *e);
/* The input's shape is dx's. */
int lc_avgpool2d_backward(lc_tensor *dx, const lc_tensor *dy, const lc_pool2d_params *p, lc_pool *pool, lc_error *e);

#endif
