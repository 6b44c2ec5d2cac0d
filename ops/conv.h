/* 2-D convolution (cross-correlation, as in PyTorch and Keras).
 * Dimension letters: N samples, C input channels, H x W input size, O output channels,
 * G groups, Cg = C/G and Og = O/G channels per group, KH x KW kernel, OH x OW output size.
 *   x [N,C,H,W], w [O,Cg,KH,KW] (the PyTorch layout), b [O], y [N,O,OH,OW]
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, g*Cg + c, i*sh - ph + p*dh, j*sw - pw + q*dw]
 * with g = o / Og; input positions outside [0,H) x [0,W) read as zero (padding).
 *
 * The fast kernels lower the convolution to matrix products: im2col copies the input
 * patches of one sample and group into a [Cg*KH*KW, OH*OW] matrix (the columns), and
 * y_g = w_g [Og, Cg*KH*KW] @ columns. A 1x1 kernel with stride 1 and no padding needs no
 * copy: the input plane is already that matrix. Backward: dw_g += dy_g @ columns^T,
 * dcolumns = w_g^T @ dy_g, and col2im adds the columns back onto dx.
 * Backward writes dx (overwritten) and accumulates dw and db (+=), as every layer does. */
#ifndef LC_CONV_H
#define LC_CONV_H

#include <stdint.h>

#include "pool.h"
#include "tensor.h"

/* relu: forward writes max(0, conv + b) (NaN stays NaN) and backward takes that output to
 * mask dy (ReLU fused into the convolution: one pass over the output fewer each way).
 * algo: how to compute it; LC_CONV_AUTO picks by shape (tests force each). */
enum { LC_CONV_AUTO = 0, LC_CONV_GEMM = 1, LC_CONV_DIRECT = 2, LC_CONV_WINOGRAD = 3, LC_CONV_TINY = 4 };
typedef struct lc_conv2d_params {
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups, relu, algo;
} lc_conv2d_params;

/* floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1: the output size along one
 * dim, the one formula every conv and pooling shape goes through. It is < 1 when the
 * dilated kernel does not fit the padded input. */
int64_t lc_conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation);

/* Validates a convolution of a [*,C,H,W] input with a weight of shape wshape
 * ([O,Cg,KH,KW]) and writes the output size. Errors name the cause: stride or dilation
 * below 1, negative padding, groups not dividing the channels, the channel count
 * (expected vs got), a kernel larger than the padded input (both sizes). */
int lc_conv2d_output_size(int64_t C, int64_t H, int64_t W, const int64_t *wshape, const lc_conv2d_params *p,
                          int64_t *OH, int64_t *OW, lc_error *e);

/* The algorithm a convolution of x with w runs: LC_CONV_TINY for output maps of at most 16
 * positions (ResNet's later stages on small images: each position multiplies only its
 * taps inside the input, channels-last GEMMs; kernels above 1x1, ungrouped, dilation 1),
 * LC_CONV_DIRECT (conv_direct.h) for stride-1 ungrouped layers with few input taps on a
 * CPU with AVX2, LC_CONV_WINOGRAD (conv_winograd.h) for 3x3 stride-1 ungrouped layers
 * with enough channels and pixels, else LC_CONV_GEMM; p->algo forces one (a forced
 * algorithm that cannot run the layer is an error). Winograd computes the input gradient
 * with its forward kernel and the weight gradient in the Winograd domain. */
int lc_conv2d_algo(const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p);

/* All tensors contiguous; b may be NULL. `scratch` provides the column buffers, `pool`
 * (may be NULL) the threads: the batch is split over them, one single-threaded GEMM per
 * chunk of samples and group, or, with fewer samples than threads, each GEMM is split.
 *
 * cols (may be NULL) keeps the lowered input between forward and backward: forward fills
 * it, and backward, given the same cols right after the forward of the same x, skips
 * lowering x again. It must be contiguous with lc_conv2d_cols_numel() elements; that is 0
 * when the direct, Winograd or tiny-map algorithm runs, which keep no columns (cols is then
 * ignored). */
int64_t lc_conv2d_cols_numel(const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p);
int lc_conv2d_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b,
                      const lc_conv2d_params *p, lc_tensor *cols, lc_allocator *scratch, lc_pool *pool, lc_error *e);
/* dx may be NULL (no input gradient wanted), db may be NULL (no bias). y is the forward's
 * output, read only with p->relu (dy counts where y > 0). */
int lc_conv2d_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *y, const lc_tensor *x,
                       const lc_tensor *w, const lc_conv2d_params *p, const lc_tensor *cols, lc_allocator *scratch,
                       lc_pool *pool, lc_error *e);

/* The direct seven-loop convolution and its gradients (double accumulators), for tests to
 * compare against. Same arguments, checks and accumulation rules as the fast kernels;
 * the backward ignores p->relu (give it dy already masked). */
int lc_conv2d_forward_reference(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b,
                                const lc_conv2d_params *p, lc_error *e);
int lc_conv2d_backward_reference(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy,
                                 const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p, lc_error *e);

#endif
