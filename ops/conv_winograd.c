/* Winograd F(4x4, 3x3) (see conv_winograd.h). Letters as there; in this file also
 * TH x TW tiles per image, R a tile row over the batch (R = n*TH + th), t a tile
 * (t = R*TW + tw), and k, j rows and columns of a 6x6 tile.
 *
 * The transforms, with the matrices of Lavin & Gray (points 0, -1, 1, 1/2, -1/2, inf
 * scaled to small integers):
 *   B^T = [4  0 -5  0  1  0]    G = [ 1/4     0    0 ]    A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1  1  0]        [-1/6 -1/6 -1/6 ]          [0 1 -1 2 -2 0]
 *         [0  4 -4 -1  1  0]        [-1/6  1/6 -1/6 ]          [0 1  1 4  4 0]
 *         [0 -2 -1  2  1  0]        [1/24 1/12  1/6 ]          [0 1 -1 8 -8 1]
 *         [0  2 -1 -2  1  0]        [1/24 -1/12 1/6 ]
 *         [0  4  0 -5  0  1]        [  0     0    1 ]
 *
 * The input transform B^T d B runs in two halves. B^T d mixes input rows: it is done on
 * whole rows (row k of B^T d for all the tiles of a tile row at once, contiguous vectors).
 * The right half (. B) mixes the 6 columns of each tile: eight tiles at a time, one per
 * vector lane, their rows loaded as 4 + 4 floats and turned by 4x4 transposes. The output
 * transform works on the same eight lanes and turns them back into rows of 4 outputs. */
#include "conv_winograd.h"

#include <cblas.h>
#include <string.h>

#include "simd.h"

#define NX 36   /* positions of the 6x6 domain */
#define LANES 8 /* tiles per group (one per AVX2 lane) */

static int force_portable;

void lc_winograd_force_portable(int on) { force_portable = on; }

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

typedef struct wino_job {
  const float *x, *w, *b;
  float *y, *U;
  const float *dy;    /* weight gradient: the output gradient [N,O,OH,OW] */
  float *dw;          /* weight gradient: [O,C,3,3], added to */
  int64_t N, C, H, W, O, OH, OW, ph, pw;
  int64_t TH, TW, T;  /* tiles down and across an image, tiles in the batch */
  int64_t Tc;         /* tiles per chunk, a multiple of LANES */
  int64_t nchunks;
  int64_t Wrow;       /* floats per row of B^T d: 4 TW + 8 (a tile reads 8 columns) */
  int64_t rows;       /* tile rows one chunk can touch */
  int relu, flip, avx2;
  float *work;        /* per part: part_stride floats */
  int64_t part_stride;
  int parts;
} wino_job;

/* ---- weights: U[xi, o, c] = (G g G^T)[a, b] ---- */

/* The 6 values of G v for a column v of 3. */
#define G_APPLY(v0, v1, v2, u)                                                       \
  do {                                                                               \
    __typeof__(u[0]) q_ = (v0) * (1.0f / 24) + (v2) * (1.0f / 6), r_ = (v1) * (1.0f / 12); \
    u[0] = (v0) * 0.25f;                                                             \
    u[1] = -((v0) + (v1) + (v2)) * (1.0f / 6);                                       \
    u[2] = -((v0) - (v1) + (v2)) * (1.0f / 6);                                       \
    u[3] = q_ + r_;                                                                  \
    u[4] = q_ - r_;                                                                  \
    u[5] = (v2);                                                                     \
  } while (0)

/* U[., o, c] for the input channels c of output channel o; ks: floats between the
 * kernels of consecutive c in w (9, or 9 O when flipped), k0 the kernel of c = 0. The
 * loop runs over c, so it vectorizes with the channels in the lanes. */
static void weight_row(float *U, int64_t us, const float *k0, int64_t ks, int64_t C, int flip) {
  for (int64_t c = 0; c < C; c++) {
    const float *k = k0 + c * ks;
    float g[9], t[6][3], u[6];
    for (int i = 0; i < 9; i++) g[i] = flip ? k[8 - i] : k[i];  /* turned by 180 degrees: reversed */
    /* t = G g (6x3), then each row of t times G^T */
    for (int q = 0; q < 3; q++) {
      G_APPLY(g[q], g[3 + q], g[6 + q], u);
      for (int a = 0; a < 6; a++) t[a][q] = u[a];
    }
    for (int a = 0; a < 6; a++) {
      G_APPLY(t[a][0], t[a][1], t[a][2], u);
      for (int b = 0; b < 6; b++) U[(a * 6 + b) * us + c] = u[b];
    }
  }
}

#if LC_HAVE_AVX2
/* weight_row for 8 channels at a time, gathered from their kernels (GCC's vector
 * extensions give __m256 the arithmetic operators the macros use); returns how many
 * channels it did. */
__attribute__((target("avx2,fma"))) static int64_t weight_row_avx2(float *U, int64_t us, const float *k0, int64_t ks,
                                                                    int64_t C, int flip) {
  __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)ks));
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const float *k = k0 + c * ks;
    __m256 g[9], t[6][3], u[6];
    for (int i = 0; i < 9; i++) g[i] = _mm256_i32gather_ps(k + (flip ? 8 - i : i), idx, 4);
    for (int q = 0; q < 3; q++) {
      G_APPLY(g[q], g[3 + q], g[6 + q], u);
      for (int a = 0; a < 6; a++) t[a][q] = u[a];
    }
    for (int a = 0; a < 6; a++) {
      G_APPLY(t[a][0], t[a][1], t[a][2], u);
      for (int b = 0; b < 6; b++) _mm256_storeu_ps(U + (a * 6 + b) * us + c, u[b]);
    }
  }
  return c;
}
#endif

/* Output channels [ob, oe) of U; the kernel of (o, c) is w[o, c], or flipped w[c, o]
 * turned by 180 degrees. */
static void weight_transform(const wino_job *j, int64_t ob, int64_t oe) {
  int64_t O = j->O, C = j->C, ks = j->flip ? 9 * O : 9;
  for (int64_t o = ob; o < oe; o++) {
    float *U = j->U + o * C;
    const float *k0 = j->flip ? j->w + o * 9 : j->w + o * C * 9;
    int64_t done = 0;
#if LC_HAVE_AVX2
    if (j->avx2) done = weight_row_avx2(U, O * C, k0, ks, C, j->flip);
#endif
    weight_row(U + done, O * C, k0 + done * ks, ks, C - done, j->flip);
  }
}

static void weight_part(void *ctx, int part, int nparts) {
  wino_job *j = ctx;
  long long ob, oe;
  lc_split_range(j->O, nparts, part, 1, &ob, &oe);
  weight_transform(j, ob, oe);
}

/* ---- input: V[xi, c, t] = (B^T d B)[k, j] ---- */

/* out [6, Wrow] (columns [a, b)) <- B^T of the 6 input rows (NULL: a row of padding);
 * column q of a row is input column q - pw (zero outside [0, W)). */
static LC_VECTOR_CLONES void rows_transform(float *out, int64_t Wrow, const float *const rows[6], const float *zero,
                                            int64_t a, int64_t b, int64_t pw, int64_t W) {
  int64_t lo = a > pw ? a : pw, hi = b < pw + W ? b : pw + W;
  if (lo > hi) lo = hi = b;
  for (int k = 0; k < 6; k++) {
    for (int64_t q = a; q < lo; q++) out[k * Wrow + q] = 0;
    for (int64_t q = hi; q < b; q++) out[k * Wrow + q] = 0;
  }
  const float *d0 = (rows[0] ? rows[0] : zero) - pw, *d1 = (rows[1] ? rows[1] : zero) - pw;
  const float *d2 = (rows[2] ? rows[2] : zero) - pw, *d3 = (rows[3] ? rows[3] : zero) - pw;
  const float *d4 = (rows[4] ? rows[4] : zero) - pw, *d5 = (rows[5] ? rows[5] : zero) - pw;
  float *restrict o0 = out, *restrict o1 = out + Wrow, *restrict o2 = out + 2 * Wrow;
  float *restrict o3 = out + 3 * Wrow, *restrict o4 = out + 4 * Wrow, *restrict o5 = out + 5 * Wrow;
  for (int64_t q = lo; q < hi; q++) {
    float s12 = d1[q] + d2[q], m12 = d1[q] - d2[q], s34 = d3[q] + d4[q], m43 = d4[q] - d3[q];
    float m42 = d4[q] - d2[q], m31 = d3[q] - d1[q];
    o0[q] = 4 * d0[q] - 5 * d2[q] + d4[q];
    o1[q] = s34 - 4 * s12;
    o2[q] = m43 + 4 * m12;
    o3[q] = m42 + 2 * m31;
    o4[q] = m42 - 2 * m31;
    o5[q] = 4 * d1[q] - 5 * d3[q] + d5[q];
  }
}

/* The same B^T on the 6 columns c[0..5] of one lane (or vector) of values. */
#define BT_APPLY(T, c, o)                                                            \
  do {                                                                               \
    T s12 = c[1] + c[2], m12 = c[1] - c[2], s34 = c[3] + c[4], m43 = c[4] - c[3];    \
    T m42 = c[4] - c[2], m31 = c[3] - c[1];                                          \
    o[0] = c[0] * 4 - c[2] * 5 + c[4];                                               \
    o[1] = s34 - s12 * 4;                                                            \
    o[2] = m43 + m12 * 4;                                                            \
    o[3] = m42 + m31 * 2;                                                            \
    o[4] = m42 - m31 * 2;                                                            \
    o[5] = c[1] * 4 - c[3] * 5 + c[5];                                               \
  } while (0)

/* V[(6k + j) * vs + lane] <- (row k of the lane's B^T d) B, for the 8 tiles whose rows
 * start at p[lane] (rows Wrow apart). */
static void tiles_transform_portable(float *V, int64_t vs, const float *const p[LANES], int64_t Wrow) {
  for (int l = 0; l < LANES; l++)
    for (int k = 0; k < 6; k++) {
      const float *c = p[l] + k * Wrow;
      float o[6];
      BT_APPLY(float, c, o);
      for (int jj = 0; jj < 6; jj++) V[(k * 6 + jj) * vs + l] = o[jj];
    }
}

/* A of the output transform on 6 values m[0..5] -> 4 */
#define AT_APPLY(T, m, r)                                                            \
  do {                                                                               \
    T s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];    \
    r[0] = m[0] + s12 + s34;                                                         \
    r[1] = d12 + d34 * 2;                                                            \
    r[2] = s12 + s34 * 4;                                                            \
    r[3] = d12 + d34 * 8 + m[5];                                                     \
  } while (0)

/* Where tile t's outputs go: y of channel 0 at its top left corner, and how many of its
 * 4 rows and columns lie inside the output. */
static inline float *tile_out(const wino_job *j, float *y, int64_t t, int *nr, int *nc) {
  int64_t R = t / j->TW, tw = t % j->TW, n = R / j->TH, th = R % j->TH;
  int64_t r = j->OH - 4 * th, c = j->OW - 4 * tw;
  *nr = r < 4 ? (int)r : 4, *nc = c < 4 ? (int)c : 4;
  return y + (n * j->O * j->OH + 4 * th) * j->OW + 4 * tw;
}

static inline float relu_bias(float v, float bias, int relu) {
  v += bias;
  return relu && v <= 0 ? 0.0f : v;  /* NaN stays NaN */
}

/* Tiles [t0, t0 + n) (n <= LANES) of output channel o from M[(6k + j) * ms + lane]. */
static void out_transform_portable(const wino_job *j, const float *M, int64_t ms, int64_t o, int64_t t0, int n) {
  float bias = j->b ? j->b[o] : 0.0f;
  for (int l = 0; l < n; l++) {
    float h[6][4], m[6], r[4];
    for (int k = 0; k < 6; k++) {
      for (int jj = 0; jj < 6; jj++) m[jj] = M[(k * 6 + jj) * ms + l];
      AT_APPLY(float, m, r);
      for (int q = 0; q < 4; q++) h[k][q] = r[q];
    }
    int nr, nc;
    float *yt = tile_out(j, j->y, t0 + l, &nr, &nc) + o * j->OH * j->OW;
    for (int q = 0; q < nc; q++) {
      for (int k = 0; k < 6; k++) m[k] = h[k][q];
      AT_APPLY(float, m, r);
      for (int i = 0; i < nr; i++) yt[i * j->OW + q] = relu_bias(r[i], bias, j->relu);
    }
  }
}

#if LC_HAVE_AVX2
#define AVX2 __attribute__((target("avx2,fma")))

/* Within each 128-bit half: rows a[0..3] of 4 -> columns (a 4x4 transpose per half). */
static inline __attribute__((always_inline, target("avx2,fma"))) void transpose4(__m256 a[4]) {
  __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
  __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
  a[0] = _mm256_shuffle_ps(t0, t2, 0x44), a[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  a[2] = _mm256_shuffle_ps(t1, t3, 0x44), a[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

static inline __attribute__((always_inline, target("avx2,fma"))) __m256 load2(const float *lo, const float *hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

/* tiles_transform_portable, the 8 tiles in the 8 lanes: lane l holds tile l; a row of
 * tiles l and l+4 comes in as one vector (columns 0-3, then 4-7) and the transposes
 * turn four such into columns. */
AVX2 static void tiles_transform_avx2(float *V, int64_t vs, const float *const p[LANES], int64_t Wrow) {
  const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);
  for (int k = 0; k < 6; k++) {
    __m256 c[6], b[4];
    int64_t off = k * Wrow;
    for (int i = 0; i < 4; i++) {
      c[i] = load2(p[i] + off, p[i + 4] + off);
      b[i] = load2(p[i] + off + 4, p[i + 4] + off + 4);
    }
    transpose4(c);
    /* columns 4 and 5 only */
    __m256 t0 = _mm256_unpacklo_ps(b[0], b[1]), t2 = _mm256_unpacklo_ps(b[2], b[3]);
    c[4] = _mm256_shuffle_ps(t0, t2, 0x44), c[5] = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s12 = _mm256_add_ps(c[1], c[2]), m12 = _mm256_sub_ps(c[1], c[2]);
    __m256 s34 = _mm256_add_ps(c[3], c[4]), m43 = _mm256_sub_ps(c[4], c[3]);
    __m256 m42 = _mm256_sub_ps(c[4], c[2]), m31 = _mm256_sub_ps(c[3], c[1]);
    float *v = V + k * 6 * vs;
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_fmsub_ps(c[0], four, _mm256_mul_ps(c[2], five)), c[4]));
    _mm256_storeu_ps(v + vs, _mm256_fnmadd_ps(s12, four, s34));
    _mm256_storeu_ps(v + 2 * vs, _mm256_fmadd_ps(m12, four, m43));
    _mm256_storeu_ps(v + 3 * vs, _mm256_fmadd_ps(m31, two, m42));
    _mm256_storeu_ps(v + 4 * vs, _mm256_fnmadd_ps(m31, two, m42));
    _mm256_storeu_ps(v + 5 * vs, _mm256_add_ps(_mm256_fmsub_ps(c[1], four, _mm256_mul_ps(c[3], five)), c[5]));
  }
}

/* A^T m for six vectors m[0..5] -> r[0..3] */
static inline __attribute__((always_inline, target("avx2,fma"))) void at_avx2(const __m256 m[6], __m256 r[4]) {
  __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  r[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  r[1] = _mm256_fmadd_ps(d34, _mm256_set1_ps(2), d12);
  r[2] = _mm256_fmadd_ps(s34, _mm256_set1_ps(4), s12);
  r[3] = _mm256_add_ps(_mm256_fmadd_ps(d34, _mm256_set1_ps(8), d12), m[5]);
}

/* out_transform_portable with the tiles in the lanes */
AVX2 static void out_transform_avx2(const wino_job *j, const float *M, int64_t ms, int64_t o, int64_t t0, int n) {
  __m256 h[6][4], m[6], r[4][4];
  for (int k = 0; k < 6; k++) {
    for (int jj = 0; jj < 6; jj++) m[jj] = _mm256_loadu_ps(M + (k * 6 + jj) * ms);
    at_avx2(m, h[k]);
  }
  __m256 bias = _mm256_set1_ps(j->b ? j->b[o] : 0.0f), zero = _mm256_setzero_ps();
  for (int q = 0; q < 4; q++) {
    __m256 col[6], res[4];
    for (int k = 0; k < 6; k++) col[k] = h[k][q];
    at_avx2(col, res);
    for (int i = 0; i < 4; i++) {
      __m256 v = _mm256_add_ps(res[i], bias);
      /* v <= 0 -> 0; NaN compares false and stays */
      if (j->relu) v = _mm256_andnot_ps(_mm256_cmp_ps(v, zero, _CMP_LE_OQ), v);
      r[i][q] = v;
    }
  }
  /* r[i][0..3]: output row i, columns 0-3, a lane per tile; transposed, r[i][l] holds
   * tile l's row in its low half and tile l+4's in its high half */
  for (int i = 0; i < 4; i++) transpose4(r[i]);
  for (int l = 0; l < n; l++) {
    int nr, nc;
    float *yt = tile_out(j, j->y, t0 + l, &nr, &nc) + o * j->OH * j->OW;
    for (int i = 0; i < nr; i++) {
      __m128 row = l < 4 ? _mm256_castps256_ps128(r[i][l]) : _mm256_extractf128_ps(r[i][l - 4], 1);
      if (nc == 4)
        _mm_storeu_ps(yt + i * j->OW, row);
      else {
        float tmp[4];
        _mm_storeu_ps(tmp, row);
        for (int q = 0; q < nc; q++) yt[i * j->OW + q] = tmp[q];
      }
    }
  }
}
#endif

/* ---- weight gradient: dU[xi, o, c] = sum over tiles (A dy A^T)[xi] V[xi, c], dw = G^T dU G ---- */

/* The 6 values of A v for a column v of 4 (A = the transpose of A^T above). */
#define A_APPLY(T, v, k)                                                             \
  do {                                                                               \
    T s02 = v[0] + v[2], s13 = v[1] + v[3], q02 = v[0] + v[2] * 4, q13 = v[1] * 2 + v[3] * 8; \
    k[0] = v[0];                                                                     \
    k[1] = s02 + s13;                                                                \
    k[2] = s02 - s13;                                                                \
    k[3] = q02 + q13;                                                                \
    k[4] = q02 - q13;                                                                \
    k[5] = v[3];                                                                     \
  } while (0)

/* Where the 4x4 dy tile of tile t (channel o) lies, as rows of 4 floats rs apart: in dy
 * itself when the tile is whole, else copied into buf (16 floats) with zeros past the
 * output's edge. */
static const float *dy_tile(const wino_job *j, int64_t t, int64_t o, float *buf, int64_t *rs) {
  int nr, nc;
  int64_t R = t / j->TW, tw = t % j->TW, n = R / j->TH, th = R % j->TH;
  int64_t r = j->OH - 4 * th, c = j->OW - 4 * tw;
  nr = r < 4 ? (int)r : 4, nc = c < 4 ? (int)c : 4;
  const float *src = j->dy + ((n * j->O + o) * j->OH + 4 * th) * j->OW + 4 * tw;
  if (nr == 4 && nc == 4) {
    *rs = j->OW;
    return src;
  }
  memset(buf, 0, 16 * sizeof(float));
  for (int i = 0; i < nr; i++)
    for (int q = 0; q < nc; q++) buf[i * 4 + q] = src[i * j->OW + q];
  *rs = 4;
  return buf;
}

/* dM[(6a + b) * ms + lane] <- (A dy A^T)[a, b] of the tiles [t0, t0 + n) of channel o;
 * lanes past n get zeros. */
static void dy_transform_portable(const wino_job *j, float *dM, int64_t ms, int64_t o, int64_t t0, int n) {
  for (int l = 0; l < LANES; l++) {
    float buf[16], v[4], h[4][6], k[6];
    int64_t rs;
    if (l >= n) {
      for (int xi = 0; xi < NX; xi++) dM[xi * ms + l] = 0;
      continue;
    }
    const float *d = dy_tile(j, t0 + l, o, buf, &rs);
    for (int i = 0; i < 4; i++) { /* rows: h[i] = A dy[i, :] */
      for (int q = 0; q < 4; q++) v[q] = d[i * rs + q];
      A_APPLY(float, v, k);
      for (int b = 0; b < 6; b++) h[i][b] = k[b];
    }
    for (int b = 0; b < 6; b++) {
      for (int i = 0; i < 4; i++) v[i] = h[i][b];
      A_APPLY(float, v, k);
      for (int a = 0; a < 6; a++) dM[(a * 6 + b) * ms + l] = k[a];
    }
  }
}

#if LC_HAVE_AVX2
static inline __attribute__((always_inline, target("avx2,fma"))) void a_avx2(const __m256 v[4], __m256 k[6]) {
  __m256 s02 = _mm256_add_ps(v[0], v[2]), s13 = _mm256_add_ps(v[1], v[3]);
  __m256 q02 = _mm256_fmadd_ps(v[2], _mm256_set1_ps(4), v[0]);
  __m256 q13 = _mm256_fmadd_ps(v[3], _mm256_set1_ps(8), _mm256_mul_ps(v[1], _mm256_set1_ps(2)));
  k[0] = v[0], k[1] = _mm256_add_ps(s02, s13), k[2] = _mm256_sub_ps(s02, s13);
  k[3] = _mm256_add_ps(q02, q13), k[4] = _mm256_sub_ps(q02, q13), k[5] = v[3];
}

/* dy_transform_portable with the tiles in the lanes */
AVX2 static void dy_transform_avx2(const wino_job *j, float *dM, int64_t ms, int64_t o, int64_t t0, int n) {
  static const float zeros[16];
  float buf[LANES][16];
  const float *d[LANES];
  int64_t rs[LANES];
  for (int l = 0; l < LANES; l++) {
    if (l < n) d[l] = dy_tile(j, t0 + l, o, buf[l], &rs[l]);
    else d[l] = zeros, rs[l] = 4;
  }
  /* v[i][q]: row i, column q of the 8 tiles' dy */
  __m256 v[4][4], h[4][6];
  for (int i = 0; i < 4; i++) {
    for (int l = 0; l < 4; l++) v[i][l] = load2(d[l] + i * rs[l], d[l + 4] + i * rs[l + 4]);
    transpose4(v[i]);
    a_avx2(v[i], h[i]);
  }
  for (int b = 0; b < 6; b++) {
    __m256 col[4] = {h[0][b], h[1][b], h[2][b], h[3][b]}, k[6];
    a_avx2(col, k);
    for (int a = 0; a < 6; a++) _mm256_storeu_ps(dM + (a * 6 + b) * ms, k[a]);
  }
}
#endif

/* dM [36, O, Tc] <- the transformed dy of tiles [t0, t0 + n) */
static void dy_transform(const wino_job *j, float *dM, int64_t t0, int64_t n) {
  int64_t ms = j->O * j->Tc;
  for (int64_t o = 0; o < j->O; o++)
    for (int64_t g = 0; g < n; g += LANES) {
      int cnt = n - g < LANES ? (int)(n - g) : LANES;
#if LC_HAVE_AVX2
      if (j->avx2) {
        dy_transform_avx2(j, dM + o * j->Tc + g, ms, o, t0 + g, cnt);
        continue;
      }
#endif
      dy_transform_portable(j, dM + o * j->Tc + g, ms, o, t0 + g, cnt);
    }
}

/* The 3 values of G^T v for a column v of 6. */
#define GT_APPLY(v, r)                                                               \
  do {                                                                               \
    __typeof__(r[0]) s12_ = (v)[1] + (v)[2], s34_ = (v)[3] + (v)[4];                 \
    r[0] = (v)[0] * 0.25f - s12_ * (1.0f / 6) + s34_ * (1.0f / 24);                  \
    r[1] = ((v)[2] - (v)[1]) * (1.0f / 6) + ((v)[3] - (v)[4]) * (1.0f / 12);         \
    r[2] = (s34_ - s12_) * (1.0f / 6) + (v)[5];                                      \
  } while (0)

/* dw[o, c] += G^T (the parts' dU[., o, c] summed) G for the C input channels of one
 * output channel: dU of part q at dU0 + q * ps, positions us apart. Vectorizes over c. */
static void weight_grad_row(float *dw, const float *dU0, int64_t ps, int parts, int64_t us, int64_t C) {
  for (int64_t c = 0; c < C; c++) {
    float u[6][6], t[3][6], r[3], col[6];
    for (int xi = 0; xi < NX; xi++) {
      float s = dU0[xi * us + c];
      for (int q = 1; q < parts; q++) s += dU0[q * ps + xi * us + c];
      u[xi / 6][xi % 6] = s;
    }
    for (int b = 0; b < 6; b++) { /* t = G^T u (3x6) */
      for (int a = 0; a < 6; a++) col[a] = u[a][b];
      GT_APPLY(col, r);
      for (int p = 0; p < 3; p++) t[p][b] = r[p];
    }
    for (int p = 0; p < 3; p++) {
      GT_APPLY(t[p], r);
      for (int q = 0; q < 3; q++) dw[c * 9 + p * 3 + q] += r[q];
    }
  }
}

#if LC_HAVE_AVX2
/* weight_grad_row for 8 channels at a time; returns how many channels it did */
__attribute__((target("avx2,fma"))) static int64_t weight_grad_row_avx2(float *dw, const float *dU0, int64_t ps,
                                                                         int parts, int64_t us, int64_t C) {
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    __m256 u[6][6], t[3][6], r[3], col[6];
    for (int xi = 0; xi < NX; xi++) {
      __m256 s = _mm256_loadu_ps(dU0 + xi * us + c);
      for (int q = 1; q < parts; q++) s = _mm256_add_ps(s, _mm256_loadu_ps(dU0 + q * ps + xi * us + c));
      u[xi / 6][xi % 6] = s;
    }
    for (int b = 0; b < 6; b++) {
      for (int a = 0; a < 6; a++) col[a] = u[a][b];
      GT_APPLY(col, r);
      for (int p = 0; p < 3; p++) t[p][b] = r[p];
    }
    float out[9][8];
    for (int p = 0; p < 3; p++) {
      GT_APPLY(t[p], r);
      for (int q = 0; q < 3; q++) _mm256_storeu_ps(out[p * 3 + q], r[q]);
    }
    for (int l = 0; l < 8; l++)
      for (int pq = 0; pq < 9; pq++) dw[(c + l) * 9 + pq] += out[pq][l];
  }
  return c;
}
#endif

/* dw += G^T (the parts' dU summed) G for output channels [ob, oe) */
static void weight_grad_part(void *ctx, int part, int nparts) {
  wino_job *j = ctx;
  long long ob, oe;
  lc_split_range(j->O, nparts, part, 1, &ob, &oe);
  int64_t C = j->C, us = j->O * C;
  for (int64_t o = ob; o < oe; o++) {
    float *dw = j->dw + o * C * 9;
    const float *dU0 = j->work + o * C;
    int64_t done = 0;
#if LC_HAVE_AVX2
    if (j->avx2) done = weight_grad_row_avx2(dw, dU0, j->part_stride, j->parts, us, C);
#endif
    weight_grad_row(dw + done * 9, dU0 + done, j->part_stride, j->parts, us, C - done);
  }
}

/* V [36, C, Tc] <- the input tiles [t0, t0 + n); the last group's spare lanes repeat the
 * last tile. vt: rows * 6 * Wrow floats, zero: W zeros. */
static void input_transform(const wino_job *j, float *V, float *vt, const float *zero, int64_t t0, int64_t n) {
  int64_t TW = j->TW, R0 = t0 / TW, R1 = (t0 + n - 1) / TW, Tc = j->Tc, vs = j->C * Tc;
  int64_t ngroups = (n + LANES - 1) / LANES;
  for (int64_t c = 0; c < j->C; c++) {
    for (int64_t R = R0; R <= R1; R++) {
      int64_t nn = R / j->TH, th = R % j->TH;
      int64_t lo = R == R0 ? t0 % TW : 0, hi = R == R1 ? (t0 + n - 1) % TW : TW - 1;
      const float *rows[6];
      for (int i = 0; i < 6; i++) {
        int64_t ih = 4 * th - j->ph + i;
        rows[i] = ih >= 0 && ih < j->H ? j->x + ((nn * j->C + c) * j->H + ih) * j->W : NULL;
      }
      rows_transform(vt + (R - R0) * 6 * j->Wrow, j->Wrow, rows, zero, 4 * lo, 4 * hi + 8, j->pw, j->W);
    }
    for (int64_t g = 0; g < ngroups; g++) {
      const float *p[LANES];
      for (int l = 0; l < LANES; l++) {
        int64_t i = g * LANES + l, t = t0 + (i < n ? i : n - 1);
        p[l] = vt + (t / TW - R0) * 6 * j->Wrow + 4 * (t % TW);
      }
      float *v = V + c * Tc + g * LANES;
#if LC_HAVE_AVX2
      if (j->avx2) {
        tiles_transform_avx2(v, vs, p, j->Wrow);
        continue;
      }
#endif
      tiles_transform_portable(v, vs, p, j->Wrow);
    }
  }
}

/* y <- the output tiles [t0, t0 + n) from M [36, O, Tc] */
static void output_transform(const wino_job *j, const float *M, int64_t t0, int64_t n) {
  int64_t ms = j->O * j->Tc;
  for (int64_t o = 0; o < j->O; o++)
    for (int64_t g = 0; g < n; g += LANES) {
      int cnt = n - g < LANES ? (int)(n - g) : LANES;
      const float *m = M + o * j->Tc + g;
#if LC_HAVE_AVX2
      if (j->avx2) {
        out_transform_avx2(j, m, ms, o, t0 + g, cnt);
        continue;
      }
#endif
      out_transform_portable(j, m, ms, o, t0 + g, cnt);
    }
}

/* Per part: [V: 36*C*Tc][M: 36*O*Tc][B^T d rows: rows*6*Wrow][zeros: W] */
static void chunks_part(void *ctx, int part, int nparts) {
  wino_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->nchunks, nparts, part, 1, &cb, &ce);
  float *V = j->work + part * j->part_stride, *M = V + NX * j->C * j->Tc;
  float *vt = M + NX * j->O * j->Tc, *zero = vt + j->rows * 6 * j->Wrow;
  memset(zero, 0, sizeof(float) * (size_t)j->W);
  for (long long ch = cb; ch < ce; ch++) {
    int64_t t0 = ch * j->Tc, n = j->T - t0 < j->Tc ? j->T - t0 : j->Tc, cols = round_up(n, LANES);
    input_transform(j, V, vt, zero, t0, n);
    for (int xi = 0; xi < NX; xi++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->O, (int)cols, (int)j->C, 1.0f,
                  j->U + xi * j->O * j->C, (int)j->C, V + xi * j->C * j->Tc, (int)j->Tc, 0.0f, M + xi * j->O * j->Tc,
                  (int)j->Tc);
    output_transform(j, M, t0, n);
  }
}

/* Per part: [dU: 36*O*C][V: 36*C*Tc][dM: 36*O*Tc][B^T d rows][zeros: W] */
static void weight_chunks_part(void *ctx, int part, int nparts) {
  wino_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->nchunks, nparts, part, 1, &cb, &ce);
  int64_t OC = j->O * j->C;
  float *dU = j->work + part * j->part_stride, *V = dU + NX * OC, *dM = V + NX * j->C * j->Tc;
  float *vt = dM + NX * j->O * j->Tc, *zero = vt + j->rows * 6 * j->Wrow;
  memset(zero, 0, sizeof(float) * (size_t)j->W);
  memset(dU, 0, sizeof(float) * (size_t)(NX * OC));
  for (long long ch = cb; ch < ce; ch++) {
    int64_t t0 = ch * j->Tc, n = j->T - t0 < j->Tc ? j->T - t0 : j->Tc;
    input_transform(j, V, vt, zero, t0, n);
    dy_transform(j, dM, t0, n);
    /* dU[xi] [O, C] += dM[xi] [O, n] @ V[xi]^T [n, C] */
    for (int xi = 0; xi < NX; xi++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->O, (int)j->C, (int)n, 1.0f, dM + xi * j->O * j->Tc,
                  (int)j->Tc, V + xi * j->C * j->Tc, (int)j->Tc, 1.0f, dU + xi * OC, (int)j->C);
  }
}

/* Tiles per chunk: V and M of a chunk within WINO_BUDGET floats (4 MB), but at least 64
 * tiles so that each GEMM amortizes OpenBLAS's packing of its U matrix, and no more than
 * a thread's share. */
#define WINO_BUDGET ((int64_t)1 << 20)

/* Fills the tiling of j (sizes already set): tiles, chunks, parts, row buffers. */
static void plan(wino_job *j, lc_pool *pool) {
  j->OH = j->H + 2 * j->ph - 2, j->OW = j->W + 2 * j->pw - 2;
#if LC_HAVE_AVX2
  j->avx2 = !force_portable && lc_cpu_has_avx2(1);
#endif
  j->TH = (j->OH + 3) / 4, j->TW = (j->OW + 3) / 4, j->T = j->N * j->TH * j->TW;
  int threads = lc_pool_threads(pool);
  int64_t share = round_up((j->T + threads - 1) / threads, LANES);
  int64_t tc = WINO_BUDGET / (NX * (j->C + j->O));
  if (tc < 64) tc = 64;
  tc = round_up(tc, LANES);
  j->Tc = tc < share ? tc : share;
  j->nchunks = (j->T + j->Tc - 1) / j->Tc;
  j->parts = j->nchunks < threads ? (int)j->nchunks : threads;
  j->Wrow = 4 * j->TW + 8;
  j->rows = (j->Tc - 1) / j->TW + 2;
  j->part_stride = round_up(NX * (j->C + j->O) * j->Tc + j->rows * 6 * j->Wrow + j->W, 16);
}

static int check_pad(int64_t ph, int64_t pw, lc_error *e) {
  if (ph < 0 || ph > 2 || pw < 0 || pw > 2)
    return lc_fail(e, "conv2d: the Winograd algorithm needs padding 0, 1 or 2, got %lldx%lld", (long long)ph,
                   (long long)pw);
  return 0;
}

int lc_winograd_forward(float *y, const float *x, const float *w, const float *b, int relu, int flip, int64_t N,
                        int64_t C, int64_t H, int64_t W, int64_t O, int64_t ph, int64_t pw, lc_allocator *scratch,
                        lc_pool *pool, lc_error *e) {
  if (check_pad(ph, pw, e)) return -1;
  wino_job j = {.x = x, .w = w, .b = b, .y = y, .N = N, .C = C, .H = H, .W = W, .O = O, .ph = ph, .pw = pw,
                .relu = relu, .flip = flip};
  if (N < 1 || H + 2 * ph < 3 || W + 2 * pw < 3) return 0;
  plan(&j, pool);
  lc_tensor work = {0};
  int64_t usize = round_up(NX * O * C, 16), shape[1] = {usize + j.parts * j.part_stride};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  j.U = work.data, j.work = work.data + usize;
  int threads = lc_pool_threads(pool), wparts = threads < O ? threads : (int)O;
  if (wparts > 1) lc_pool_run(pool, wparts, weight_part, &j);
  else weight_transform(&j, 0, O);
  if (j.parts > 1) lc_pool_run(pool, j.parts, chunks_part, &j);
  else chunks_part(&j, 0, 1);
  lc_tensor_release(&work);
  return 0;
}

int lc_winograd_backward_weight(float *dw, const float *dy, const float *x, int64_t N, int64_t C, int64_t H, int64_t W,
                                int64_t O, int64_t ph, int64_t pw, lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  if (check_pad(ph, pw, e)) return -1;
  wino_job j = {.x = x, .dy = dy, .dw = dw, .N = N, .C = C, .H = H, .W = W, .O = O, .ph = ph, .pw = pw};
  if (N < 1 || H + 2 * ph < 3 || W + 2 * pw < 3) return 0;
  plan(&j, pool);
  j.part_stride += round_up(NX * O * C, 16);
  lc_tensor work = {0};
  int64_t shape[1] = {j.parts * j.part_stride};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  j.work = work.data;
  if (j.parts > 1) lc_pool_run(pool, j.parts, weight_chunks_part, &j);
  else weight_chunks_part(&j, 0, 1);
  int threads = lc_pool_threads(pool), wparts = threads < O ? threads : (int)O;
  if (wparts > 1) lc_pool_run(pool, wparts, weight_grad_part, &j);
  else weight_grad_part(&j, 0, 1);
  lc_tensor_release(&work);
  return 0;
}
