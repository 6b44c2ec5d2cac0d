/* Winograd convolution F(4x4, 3x3) for 3x3, stride-1, undilated, ungrouped layers
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * The output is cut into 4x4 tiles; each reads a 6x6 input tile d. With the transforms
 *   V = B^T d B  (6x6 per input channel and tile),  U = G g G^T  (6x6 per 3x3 kernel g),
 * a tile's output is y = A^T [ sum_c U[o,c] (.) V[c] ] A, where (.) multiplies elementwise:
 * for each of the 36 positions xi of the 6x6 domain, the sum over c is a matrix product
 *   M[xi] [O, T] = U[xi] [O, C] @ V[xi] [C, T]        (T tiles side by side)
 * 36 GEMMs with 36 multiplies per 16 outputs where the direct convolution makes 144: the
 * GEMM work drops 4x (less the tiles' overhang past the output's edge), for extra
 * transforms that are linear in the data.
 *
 * Dimension letters as in conv.h; xi in [0, 36) is a position (a, b) of the 6x6 domain,
 * xi = 6a + b; T tiles, Tc of them per chunk. Layouts:
 *   U [36, O, C]     the transformed weights, made once per call
 *   V [36, C, Tc]    a chunk's transformed input tiles, M [36, O, Tc] their products
 * The tiles are worked through in chunks (per thread), so the buffers stay a few MB
 * whatever the batch and image size.
 *
 * Accuracy: A and G hold 1/4, 1/6, 1/24 and powers of 2 up to 8, so rounding errors
 * grow: measured against the double-precision reference, the error relative to
 * sum |w| |x| is up to ~1e-6 here where the direct algorithm's is ~1e-7 (test_winograd.c). */
#ifndef LC_CONV_WINOGRAD_H
#define LC_CONV_WINOGRAD_H

#include <stdint.h>

#include "pool.h"
#include "tensor.h"

/* y [N,O,OH,OW] = conv3x3(x [N,C,H,W], w, padding (ph, pw) <= 2) + b (b [O] or NULL),
 * then max(0, .) if relu (NaN stays NaN); OH = H + 2 ph - 2, OW alike.
 * w is [O,C,3,3]; with flip, w is [C,O,3,3] and the kernel of output o and input c is
 * w[c,o] turned by 180 degrees: the convolution that makes the input gradient of a
 * layer with weights w from its output gradient (padding 2 - the layer's).
 * scratch gives the buffers, pool the threads (the tiles are split over them). */
int lc_winograd_forward(float *y, const float *x, const float *w, const float *b, int relu, int flip, int64_t N,
                        int64_t C, int64_t H, int64_t W, int64_t O, int64_t ph, int64_t pw, lc_allocator *scratch,
                        lc_pool *pool, lc_error *e);

/* dw [O,C,3,3] += the weight gradient of that convolution (no flip) from its output
 * gradient dy [N,O,OH,OW] (a fused ReLU's mask already applied), in the Winograd domain:
 *   dU[xi] [O, C] = sum over tiles (A dy A^T)[xi] [O, T] @ V[xi]^T [T, C],  dw = G^T dU G
 * (36 GEMMs again). Each thread sums its tiles into its own dU (36*O*C floats). */
int lc_winograd_backward_weight(float *dw, const float *dy, const float *x, int64_t N, int64_t C, int64_t H, int64_t W,
                                int64_t O, int64_t ph, int64_t pw, lc_allocator *scratch, lc_pool *pool, lc_error *e);

/* For tests: 1 runs the portable transforms even where the AVX2 ones could (0: back to
 * the CPU's choice). */
void lc_winograd_force_portable(int on);

#endif
