/* Direct convolution kernels (see conv_direct.h). Register tiles: NV vectors of 8 output
 * channels times PB pixels of one output row (forward), or times QB taps of one kernel
 * row (weight gradient); 10-12 accumulators keep both FMA ports busy while the loads
 * (NV weight vectors + PB broadcasts per tap) stay within the two load ports. */
#include "conv_direct.h"

#include <string.h>

#include "simd.h"

#define LC_HAVE_DIRECT LC_HAVE_AVX2
#if LC_HAVE_DIRECT
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#endif

int lc_direct_available(void) {
#if LC_HAVE_DIRECT
  return lc_cpu_has_avx2(1);
#else
  return 0;
#endif
}

void lc_direct_pack(float *wt, const float *w, int64_t O, int64_t C, int64_t KH, int64_t KW, int64_t Opad) {
  int64_t K = C * KH * KW;
  for (int64_t t = 0; t < K; t++) {
    for (int64_t o = 0; o < O; o++) wt[t * Opad + o] = w[o * K + t];
    for (int64_t o = O; o < Opad; o++) wt[t * Opad + o] = 0;
  }
}

void lc_direct_pack_flipped(float *wt, const float *w, int64_t O, int64_t C, int64_t KH, int64_t KW, int64_t Cpad) {
  for (int64_t o = 0; o < O; o++)
    for (int64_t p = 0; p < KH; p++)
      for (int64_t q = 0; q < KW; q++) {
        float *row = wt + ((o * KH + p) * KW + q) * Cpad;
        for (int64_t c = 0; c < C; c++) row[c] = w[((o * C + c) * KH + (KH - 1 - p)) * KW + (KW - 1 - q)];
        for (int64_t c = C; c < Cpad; c++) row[c] = 0;
      }
}

void lc_direct_pad(float *xp, const float *x, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                   int64_t Wp) {
  for (int64_t c = 0; c < C; c++) {
    float *plane = xp + c * Hp * Wp;
    memset(plane, 0, sizeof(float) * (size_t)(top * Wp));
    for (int64_t h = 0; h < H; h++) {
      float *r = plane + (top + h) * Wp;
      memset(r, 0, sizeof(float) * (size_t)left);
      memcpy(r + left, x + (c * H + h) * W, sizeof(float) * (size_t)W);
      memset(r + left + W, 0, sizeof(float) * (size_t)(Wp - left - W));
    }
    memset(plane + (top + H) * Wp, 0, sizeof(float) * (size_t)((Hp - top - H) * Wp));
  }
}

#if LC_HAVE_DIRECT

/* out [PB, NV*8] = the outputs of PB pixels from x (the tile's first input: xp at its row
 * and column, channel 0, tap 0) and w (wt at the tile's first channel). */
INLINE_AVX2 void forward_tile(float *out, const float *x, const float *w, const lc_direct_dims *d, const int NV,
                              const int PB) {
  __m256 acc[12][2];
#pragma GCC unroll 12
  for (int b = 0; b < PB; b++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[b][v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < d->C; c++)
    for (int64_t p = 0; p < d->KH; p++) {
      const float *xr = x + (c * d->Hp + p) * d->Wp;
      const float *wr = w + (c * d->KH + p) * d->KW * d->Opad;
      for (int64_t q = 0; q < d->KW; q++) {
        __m256 wv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) wv[v] = _mm256_loadu_ps(wr + q * d->Opad + 8 * v);
#pragma GCC unroll 12
        for (int b = 0; b < PB; b++) {
          __m256 xb = _mm256_broadcast_ss(xr + q + b);
#pragma GCC unroll 2
          for (int v = 0; v < NV; v++) acc[b][v] = _mm256_fmadd_ps(xb, wv[v], acc[b][v]);
        }
      }
    }
#pragma GCC unroll 12
  for (int b = 0; b < PB; b++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) _mm256_storeu_ps(out + (b * NV + v) * 8, acc[b][v]);
}

/* r[k] <- column k of the 8x8 matrix whose rows are r[0..7] */
INLINE_AVX2 void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}


/* y rows o < on (P apart), columns 0..nb-1 <- the tile's block of 8 pixels x 8 channels
 * (pixel b's channels at blk + b*ld), plus bias, then the ReLU: transposed in registers. */
INLINE_AVX2 void store_block(float *y, int64_t P, int64_t on, int64_t nb, const float *blk, int64_t ld,
                             __m256 bias, int relu) {
  __m256 r[8];
  for (int b = 0; b < 8; b++) {
    r[b] = _mm256_add_ps(_mm256_loadu_ps(blk + b * ld), bias);
    /* max(0, v) returns its second operand when one is NaN: a NaN stays NaN, as in T.relu */
    if (relu) r[b] = _mm256_max_ps(_mm256_setzero_ps(), r[b]);
  }
  transpose8(r);
  if (nb == 8)
    for (int64_t o = 0; o < on; o++) _mm256_storeu_ps(y + o * P, r[o]);
  else {
    __m256i m = lc_first_lanes(nb);
    for (int64_t o = 0; o < on; o++) _mm256_maskstore_ps(y + o * P, m, r[o]);
  }
}

/* The tiles a row is cut into: full ones of the widest size, then the narrowest size
 * that covers the rest (at most LC_DIRECT_SLACK columns past the row's end). */
AVX2 static void forward_tile_n(float *out, const float *x, const float *w, const lc_direct_dims *d, int NV, int64_t rem,
                                int *pb) {
  if (NV == 1) {
    if (rem > 8) *pb = 12, forward_tile(out, x, w, d, 1, 12);
    else if (rem > 4) *pb = 8, forward_tile(out, x, w, d, 1, 8);
    else if (rem > 2) *pb = 4, forward_tile(out, x, w, d, 1, 4);
    else *pb = 2, forward_tile(out, x, w, d, 1, 2);
  } else {
    if (rem > 4) *pb = 6, forward_tile(out, x, w, d, 2, 6);
    else if (rem > 2) *pb = 4, forward_tile(out, x, w, d, 2, 4);
    else *pb = 2, forward_tile(out, x, w, d, 2, 2);
  }
}

/* ---- few output channels: vectors over pixels ---- */

/* y rows of OC channels (P apart), 16 pixels from y (nvalid of them inside the row) =
 * the taps of x (xp at the tile's row and column) with the weights wt (at the first
 * channel), plus bias, then the ReLU. */
INLINE_AVX2 void forward_px_tile(float *y, int64_t P, const float *x, const float *wt, const float *bias, int relu,
                                 int64_t nvalid, const lc_direct_dims *d, const int OC) {
  __m256 acc[6][2];
#pragma GCC unroll 6
  for (int o = 0; o < OC; o++) acc[o][0] = acc[o][1] = _mm256_setzero_ps();
  for (int64_t c = 0; c < d->C; c++)
    for (int64_t p = 0; p < d->KH; p++) {
      const float *xr = x + (c * d->Hp + p) * d->Wp;
      const float *wr = wt + (c * d->KH + p) * d->KW * d->Opad;
      for (int64_t q = 0; q < d->KW; q++) {
        __m256 x0 = _mm256_loadu_ps(xr + q), x1 = _mm256_loadu_ps(xr + q + 8);
#pragma GCC unroll 6
        for (int o = 0; o < OC; o++) {
          __m256 w = _mm256_broadcast_ss(wr + q * d->Opad + o);
          acc[o][0] = _mm256_fmadd_ps(x0, w, acc[o][0]);
          acc[o][1] = _mm256_fmadd_ps(x1, w, acc[o][1]);
        }
      }
    }
#pragma GCC unroll 6
  for (int o = 0; o < OC; o++)
    for (int v = 0; v < 2; v++) {
      int64_t n = nvalid - 8 * v;
      if (n <= 0) break;
      __m256 r = _mm256_add_ps(acc[o][v], _mm256_set1_ps(bias ? bias[o] : 0.0f));
      if (relu) r = _mm256_max_ps(_mm256_setzero_ps(), r);
      if (n >= 8) _mm256_storeu_ps(y + o * P + 8 * v, r);
      else _mm256_maskstore_ps(y + o * P + 8 * v, lc_first_lanes(n), r);
    }
}

AVX2 static void forward_px(float *y, const float *xp, const float *wt, const float *bias, int relu,
                            const lc_direct_dims *d) {
  int64_t P = d->OH * d->OW;
  for (int64_t o0 = 0; o0 < d->O; o0 += 6) {
    int OC = d->O - o0 < 6 ? (int)(d->O - o0) : 6;
    for (int64_t i = 0; i < d->OH; i++)
      for (int64_t j = 0; j < d->OW; j += 16) {
        float *yt = y + o0 * P + i * d->OW + j;
        const float *x = xp + i * d->Wp + j;
        const float *w = wt + o0, *b = bias ? bias + o0 : NULL;
        int64_t n = d->OW - j;
        /* one instance per channel count, so the accumulators stay in registers */
        switch (OC) {
          case 1: forward_px_tile(yt, P, x, w, b, relu, n, d, 1); break;
          case 2: forward_px_tile(yt, P, x, w, b, relu, n, d, 2); break;
          case 3: forward_px_tile(yt, P, x, w, b, relu, n, d, 3); break;
          case 4: forward_px_tile(yt, P, x, w, b, relu, n, d, 4); break;
          case 5: forward_px_tile(yt, P, x, w, b, relu, n, d, 5); break;
          default: forward_px_tile(yt, P, x, w, b, relu, n, d, 6); break;
        }
      }
  }
}

INLINE_AVX2 float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* dwt rows of taps q0.. (QB of them) of kernel row (c, p), columns o0.. (OC channels)
 * += sum over the pixels of dy (channels ld apart) x the shifted input. */
INLINE_AVX2 void weight_px_tile(float *dwt, const float *x, const float *dy, int64_t ld, const lc_direct_dims *d,
                                const int OC, const int QB) {
  __m256 acc[3][5];
#pragma GCC unroll 3
  for (int o = 0; o < OC; o++)
#pragma GCC unroll 5
    for (int q = 0; q < QB; q++) acc[o][q] = _mm256_setzero_ps();
  for (int64_t i = 0; i < d->OH; i++) {
    const float *xr = x + i * d->Wp;
    for (int64_t j = 0; j < d->OW; j += 8) {
      __m256i m = lc_first_lanes(d->OW - j);
      __m256 g[3];
#pragma GCC unroll 3
      for (int o = 0; o < OC; o++) g[o] = _mm256_maskload_ps(dy + o * ld + i * d->OW + j, m);
#pragma GCC unroll 5
      for (int q = 0; q < QB; q++) {
        __m256 xv = _mm256_loadu_ps(xr + j + q);
#pragma GCC unroll 3
        for (int o = 0; o < OC; o++) acc[o][q] = _mm256_fmadd_ps(g[o], xv, acc[o][q]);
      }
    }
  }
#pragma GCC unroll 3
  for (int o = 0; o < OC; o++)
#pragma GCC unroll 5
    for (int q = 0; q < QB; q++) dwt[q * d->Opad + o] += hsum(acc[o][q]);
}

AVX2 void lc_direct_weight_grad_px(float *dwt, const float *xp, const float *dy, int64_t ld, const lc_direct_dims *d) {
  for (int64_t o0 = 0; o0 < d->O; o0 += 3) {
    int OC = d->O - o0 < 3 ? (int)(d->O - o0) : 3;
    for (int64_t c = 0; c < d->C; c++)
      for (int64_t p = 0; p < d->KH; p++)
        for (int64_t q0 = 0; q0 < d->KW; q0 += 5) {
          int QB = d->KW - q0 < 5 ? (int)(d->KW - q0) : 5;
          float *w = dwt + ((c * d->KH + p) * d->KW + q0) * d->Opad + o0;
          const float *x = xp + (c * d->Hp + p) * d->Wp + q0;
          const float *g = dy + o0 * ld;
          switch (OC * 8 + QB) {
#define PCASE(oc, qb) \
  case oc * 8 + qb: weight_px_tile(w, x, g, ld, d, oc, qb); break;
            PCASE(1, 1) PCASE(1, 2) PCASE(1, 3) PCASE(1, 4) PCASE(1, 5)
            PCASE(2, 1) PCASE(2, 2) PCASE(2, 3) PCASE(2, 4) PCASE(2, 5)
            PCASE(3, 1) PCASE(3, 2) PCASE(3, 3) PCASE(3, 4) PCASE(3, 5)
#undef PCASE
          }
        }
  }
}

AVX2 void lc_direct_forward(float *y, const float *xp, const float *wt, const float *bias, int relu,
                            const lc_direct_dims *d) {
  if (d->Opad == 8) {
    forward_px(y, xp, wt, bias, relu, d);
    return;
  }
  float out[16 * 16];  /* a tile: up to 16 pixels (12 computed) x 16 channels */
  int64_t P = d->OH * d->OW;
  /* slabs of 16 channels (two vectors), the last one 8 when Opad/8 is odd */
  for (int64_t o0 = 0; o0 < d->O; o0 += 16) {
    int NV = d->Opad - o0 >= 16 ? 2 : 1;
    __m256 bv[2];
    for (int v = 0; v < NV; v++) bv[v] = bias ? _mm256_loadu_ps(bias + o0 + 8 * v) : _mm256_setzero_ps();
    for (int64_t i = 0; i < d->OH; i++)
      for (int64_t j = 0; j < d->OW;) {
        int pb;
        forward_tile_n(out, xp + i * d->Wp + j, wt + o0, d, NV, d->OW - j, &pb);
        int64_t nb = d->OW - j < pb ? d->OW - j : pb;
        for (int64_t b0 = 0; b0 < nb; b0 += 8)
          for (int v = 0; v < NV; v++) {
            int64_t oc = o0 + 8 * v, on = d->O - oc < 8 ? d->O - oc : 8;
            if (on <= 0) break;
            store_block(y + oc * P + i * d->OW + j + b0, P, on, nb - b0 < 8 ? nb - b0 : 8, out + b0 * NV * 8 + 8 * v,
                        NV * 8, bv[v], relu);
          }
        j += nb;
      }
  }
}

AVX2 void lc_direct_transpose_grad(float *dyt, float *dbsum, const float *dy, const float *y, int64_t O, int64_t P,
                                   int64_t Opad) {
  for (int64_t o0 = 0; o0 < Opad; o0 += 8) {
    __m256 sum = _mm256_setzero_ps();
    for (int64_t q0 = 0; q0 < P; q0 += 8) {
      int64_t nq = P - q0 < 8 ? P - q0 : 8;
      __m256i m = lc_first_lanes(nq);
      __m256 r[8];
      for (int k = 0; k < 8; k++) {
        if (o0 + k >= O) {
          r[k] = _mm256_setzero_ps();
          continue;
        }
        r[k] = _mm256_maskload_ps(dy + (o0 + k) * P + q0, m);
        if (y) {
          __m256 pos = _mm256_cmp_ps(_mm256_maskload_ps(y + (o0 + k) * P + q0, m), _mm256_setzero_ps(), _CMP_GT_OQ);
          r[k] = _mm256_and_ps(r[k], pos);
        }
      }
      transpose8(r);
      for (int64_t b = 0; b < nq; b++) {
        _mm256_storeu_ps(dyt + (q0 + b) * Opad + o0, r[b]);
        sum = _mm256_add_ps(sum, r[b]);
      }
    }
    _mm256_storeu_ps(dbsum + o0, sum);
  }
}

/* dwt rows of one kernel row (c, p), taps q0..q0+QB-1, channels of one slab (NV vectors)
 * += sum over the pixels of x-patch * dyt. */
INLINE_AVX2 void weight_tile(float *dw, const float *x, const float *dyt, const lc_direct_dims *d, const int NV,
                             const int QB) {
  __m256 acc[8][2];
#pragma GCC unroll 8
  for (int q = 0; q < QB; q++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[q][v] = _mm256_setzero_ps();
  for (int64_t i = 0; i < d->OH; i++) {
    const float *xr = x + i * d->Wp;
    const float *gr = dyt + i * d->OW * d->Opad;
    for (int64_t j = 0; j < d->OW; j++) {
      __m256 g[2];
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) g[v] = _mm256_loadu_ps(gr + j * d->Opad + 8 * v);
#pragma GCC unroll 8
      for (int q = 0; q < QB; q++) {
        __m256 xb = _mm256_broadcast_ss(xr + j + q);
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[q][v] = _mm256_fmadd_ps(xb, g[v], acc[q][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < QB; q++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      float *r = dw + q * d->Opad + 8 * v;
      _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), acc[q][v]));
    }
}

AVX2 void lc_direct_weight_grad(float *dwt, const float *xp, const float *dyt, const lc_direct_dims *d) {
  for (int64_t o0 = 0; o0 < d->O; o0 += 16) {
    int NV = d->Opad - o0 >= 16 ? 2 : 1;
    int qmax = NV == 1 ? 8 : 5;
    for (int64_t c = 0; c < d->C; c++)
      for (int64_t p = 0; p < d->KH; p++)
        for (int64_t q0 = 0; q0 < d->KW; q0 += qmax) {
          const float *x = xp + (c * d->Hp + p) * d->Wp + q0;
          float *dw = dwt + ((c * d->KH + p) * d->KW + q0) * d->Opad + o0;
          int64_t qn = d->KW - q0 < qmax ? d->KW - q0 : qmax;
          const float *g = dyt + o0;
          /* one instance per tap count, so the accumulators stay in registers */
          switch (NV * 16 + (int)qn) {
#define QCASE(nv, qb) \
  case nv * 16 + qb: weight_tile(dw, x, g, d, nv, qb); break;
            QCASE(1, 1) QCASE(1, 2) QCASE(1, 3) QCASE(1, 4) QCASE(1, 5) QCASE(1, 6) QCASE(1, 7) QCASE(1, 8)
            QCASE(2, 1) QCASE(2, 2) QCASE(2, 3) QCASE(2, 4) QCASE(2, 5)
#undef QCASE
          }
        }
  }
}

AVX2 void lc_direct_relu_mask(float *dst, const float *dy, const float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(y + i), _mm256_setzero_ps(), _CMP_GT_OQ);
    _mm256_storeu_ps(dst + i, _mm256_and_ps(_mm256_loadu_ps(dy + i), pos));
  }
  for (; i < n; i++) dst[i] = y[i] > 0 ? dy[i] : 0.0f;
}

AVX2 void lc_direct_col2im(float *dx, const float *col, int64_t ld, int64_t C, int64_t H, int64_t W, int64_t KH,
                           int64_t KW, int64_t OH, int64_t OW, int64_t ph, int64_t pw) {
  const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t c = 0; c < C; c++)
    for (int64_t ih = 0; ih < H; ih++)
      for (int64_t w0 = 0; w0 < W; w0 += 8) {
        __m256 acc = _mm256_setzero_ps();
        /* lanes inside the row: w0 + l < W */
        __m256i in_row = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(W - w0)), step);
        for (int64_t i = 0; i < KH; i++) {
          int64_t oh = ih + ph - i;
          if (oh < 0 || oh >= OH) continue;
          for (int64_t j = 0; j < KW; j++) {
            /* input column w takes output column w + pw - j of tap (i, j), if it exists */
            int64_t first = w0 + pw - j;
            __m256i ow = _mm256_add_epi32(_mm256_set1_epi32((int)first), step);
            __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(ow, _mm256_set1_epi32(-1)),
                                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)OW), ow));
            ok = _mm256_and_si256(ok, in_row);
            const float *r = col + ((c * KH + i) * KW + j) * ld + oh * OW;
            /* masked lanes are never read, so r + first may point before the row */
            acc = _mm256_add_ps(acc, _mm256_maskload_ps(r + first, ok));
          }
        }
        _mm256_maskstore_ps(dx + (c * H + ih) * W + w0, in_row, acc);
      }
}

#else
/* never called: lc_direct_available() is 0 without x86-64 and GCC-style intrinsics */

void lc_direct_col2im(float *dx, const float *col, int64_t ld, int64_t C, int64_t H, int64_t W, int64_t KH,
                      int64_t KW, int64_t OH, int64_t OW, int64_t ph, int64_t pw) {
  (void)dx, (void)col, (void)ld, (void)C, (void)H, (void)W, (void)KH, (void)KW, (void)OH, (void)OW, (void)ph, (void)pw;
}
void lc_direct_relu_mask(float *dst, const float *dy, const float *y, int64_t n) { (void)dst, (void)dy, (void)y, (void)n; }
void lc_direct_weight_grad_px(float *dwt, const float *xp, const float *dy, int64_t ld, const lc_direct_dims *d) {
  (void)dwt, (void)xp, (void)dy, (void)ld, (void)d;
}
void lc_direct_transpose_grad(float *dyt, float *dbsum, const float *dy, const float *y, int64_t O, int64_t P,
                              int64_t Opad) {
  (void)dyt, (void)dbsum, (void)dy, (void)y, (void)O, (void)P, (void)Opad;
}
void lc_direct_forward(float *y, const float *xp, const float *wt, const float *bias, int relu, const lc_direct_dims *d) {
  (void)y, (void)xp, (void)wt, (void)bias, (void)relu, (void)d;
}
void lc_direct_weight_grad(float *dwt, const float *xp, const float *dyt, const lc_direct_dims *d) {
  (void)dwt, (void)xp, (void)dyt, (void)d;
}

#endif
