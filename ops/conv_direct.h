/* Direct convolution for stride-1, undilated, ungrouped layers with few input channels
 * (LeNet's, the first layer of most networks): there im2col + sgemm loses, because the
 * GEMMs are thin ([6 x 25] @ [25 x 784] per sample) and the lowering copies each input
 * value KH*KW times. These kernels instead keep a tile of outputs in AVX registers,
 * vectorized over output channels: 8 channels per vector, a few pixels per tile, and one
 * broadcast input value feeds every channel of the tile. With 8 output channels or fewer
 * (a first layer) the vectors run over pixels instead (16 of a row per tile) and the
 * weights are broadcast: no lane idles for want of channels.
 *
 * Dimension letters as in conv.h. One sample at a time; the input comes padded:
 *   xp [C, Hp, Wp]     the input plane with its zero padding, and wider still:
 *                      Wp >= OW + KW - 1 + LC_DIRECT_SLACK (tiles may compute a few
 *                      columns past OW and throw them away)
 *   wt [C*KH*KW, Opad] the weights packed tap-major, Opad = O rounded up to 8, zero padded
 *   dyt [OH*OW, Opad]  an output gradient transposed to pixel-major, zero padded
 * The input gradient is the same forward kernel run on the padded output gradient with
 * the weights flipped and transposed (lc_direct_pack_flipped). */
#ifndef LC_CONV_DIRECT_H
#define LC_CONV_DIRECT_H

#include <stdint.h>

#define LC_DIRECT_SLACK 15

typedef struct lc_direct_dims {
  int64_t C, Hp, Wp, O, Opad, KH, KW, OH, OW;
} lc_direct_dims;

/* Whether this CPU runs the kernels (AVX2 and FMA). */
int lc_direct_available(void);

/* wt [C*KH*KW, Opad] <- w [O, C, KH, KW] */
void lc_direct_pack(float *wt, const float *w, int64_t O, int64_t C, int64_t KH, int64_t KW, int64_t Opad);
/* wt [O*KH*KW, Cpad] <- w [O, C, KH, KW] turned around for the input gradient:
 * wt[(o, p, q), c] = w[o, c, KH-1-p, KW-1-q] */
void lc_direct_pack_flipped(float *wt, const float *w, int64_t O, int64_t C, int64_t KH, int64_t KW, int64_t Cpad);

/* xp [C, Hp, Wp] <- x [C, H, W] placed at (top, left), zeros around. */
void lc_direct_pad(float *xp, const float *x, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                   int64_t Wp);

/* y [O, OH, OW] = conv(xp, wt) + bias (bias: Opad values or NULL), then max(0, .) if relu. */
void lc_direct_forward(float *y, const float *xp, const float *wt, const float *bias, int relu, const lc_direct_dims *d);

/* The same for at most 8 output channels (Opad == 8), vectorized over pixels, from dy as
 * it is: O rows of P values, ld apart. */
void lc_direct_weight_grad_px(float *dwt, const float *xp, const float *dy, int64_t ld, const lc_direct_dims *d);

/* dyt [P, Opad] <- dy [O, P] transposed, zero past O, and where y is given (a fused
 * ReLU's output) only where y > 0; dbsum [Opad] <- dyt's column sums (the bias gradient). */
void lc_direct_transpose_grad(float *dyt, float *dbsum, const float *dy, const float *y, int64_t O, int64_t P,
                              int64_t Opad);

/* dwt [C*KH*KW, Opad] += the weight gradient of one sample: sum over pixels of
 * xp-patch x dyt. */
void lc_direct_weight_grad(float *dwt, const float *xp, const float *dyt, const lc_direct_dims *d);

/* dst[i] = y[i] > 0 ? dy[i] : 0: a fused ReLU's gradient, without a branch per element
 * (the mask is a coin toss: mispredicted branches cost 14% of a LeNet-5 step) */
void lc_direct_relu_mask(float *dst, const float *dy, const float *y, int64_t n);

/* dx [C, H, W] = col2im of the columns col [C*KH*KW, OH*OW] (rows ld apart) of a stride-1,
 * undilated convolution with padding (ph, pw): each input pixel gathers its taps in a
 * register and is written once (adding rows into dx in place stalls on store forwarding,
 * the rows overlapping at every column shift). Overwrites dx. */
void lc_direct_col2im(float *dx, const float *col, int64_t ld, int64_t C, int64_t H, int64_t W, int64_t KH,
                      int64_t KW, int64_t OH, int64_t OW, int64_t ph, int64_t pw);

#endif
