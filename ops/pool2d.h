/* 2-D pooling over N x C x H x W tensors, each of the N*C planes on its own.
 * Dimension letters: N samples, C channels, H x W input, KH x KW window, OH x OW output.
 *   x [N,C,H,W], y [N,C,OH,OW], OH = lc_pool_out_size(H, KH, sh, ph, ceil_mode) (W alike).
 *
 * Output size (PyTorch's rule): floor((H + 2 ph - KH) / sh) + 1, or with ceil_mode
 * ceil(...) + 1, less one when the last window would start in the bottom/right padding
 * (at or past H + ph). In ceil mode the last window may hang over the padded input; it
 * is clipped, and a kernel larger than the input then still gives one output.
 *
 * Max pooling: padding never wins (it acts as -inf, as in PyTorch); a NaN in a window
 * is the window's maximum. Backward recomputes each window's argmax from x (the first
 * maximum, the same one forward found) instead of storing indices, and sends dy there.
 * Average pooling divides, as PyTorch does, by the window's size clipped to the padded
 * input [-ph, H + ph) x [-pw, W + pw) (count_include_pad=True, the default: padded
 * zeros count, the overhang of a ceil-mode window does not; without ceil mode that is
 * KH*KW for every window), or with exclude_pad by the number of input elements in the
 * window (count_include_pad=False). Global average pooling is average pooling with the
 * window of the whole plane.
 * Padding may be at most half the window (PyTorch's rule), so no window lies entirely
 * in the padding, and in ceil mode no window starts past the input either: every window
 * holds at least one input element. Backward writes dx (overwritten).
 *
 * Adaptive average pooling to OH x OW (the size of y): output row i averages input rows
 * [floor(i H / OH), ceil((i + 1) H / OH)) (PyTorch's rule; neighbouring windows overlap
 * when OH does not divide H, and repeat rows when OH > H), columns alike. */
#ifndef LC_POOL2D_H
#define LC_POOL2D_H

#include <stdint.h>

#include "pool.h"
#include "tensor.h"

typedef struct lc_pool2d_params {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int64_t ceil_mode;   /* 0: floor the output size, 1: ceil it (PyTorch's ceil_mode) */
  int64_t exclude_pad; /* average pooling: 1 leaves padding out of the divisor */
} lc_pool2d_params;

/* The output size along one dim (see above): the one formula every pooling shape,
 * kernel check and error message goes through. < 1 when the window does not fit. */
int64_t lc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t ceil_mode);

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

/* Adaptive average pooling: the output size is y's (dy's); N and C must match. */
int lc_adaptive_avgpool2d_forward(lc_tensor *y, const lc_tensor *x, lc_pool *pool, lc_error *e);
int lc_adaptive_avgpool2d_backward(lc_tensor *dx, const lc_tensor *dy, lc_pool *pool, lc_error *e);

#endif
