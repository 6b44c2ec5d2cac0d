/* Elementwise kernels (ops/elementwise.c, ops/iter.c) against naive loops over
 * multi-indices: binary ops with broadcasting over random shapes and strided or
 * transposed operands, scalar forms, unary ops against libm in double precision,
 * clamp/where/fill/copy/axpy, NaN handling and the broadcast error. */
#include "check.h"
#include "elementwise.h"

static lc_allocator *A;

static double ref_binary(lc_binop op, double x, double y) {
  switch (op) {
    case LC_ADD: return (float)x + (float)y;
    case LC_SUB: return (float)x - (float)y;
    case LC_MUL: return (float)x * (float)y;
    case LC_DIV: return (float)x / (float)y;
    case LC_POW: return pow(x, y);
    case LC_MAXIMUM: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case LC_MINIMUM: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    case LC_EQ: return x == y;
    case LC_NE: return x != y;
    case LC_LT: return x < y;
    case LC_LE: return x <= y;
    case LC_GT: return x > y;
    case LC_GE: return x >= y;
  }
  return NAN;
}

static double ref_unary(lc_unop op, double x) {
  switch (op) {
    case LC_NEG: return -x;
    case LC_EXP: return exp(x);
    case LC_LOG: return log(x);
    case LC_SQRT: return sqrt(x);
    case LC_RSQRT: return 1.0 / sqrt(x);
    case LC_TANH: return tanh(x);
    case LC_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case LC_RELU: return x > 0 ? x : 0;
    case LC_ABS: return fabs(x);
    case LC_SQUARE: return x * x;
    case LC_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case LC_FLOOR: return floor(x);
    case LC_CEIL: return ceil(x);
    case LC_ROUND: return nearbyint(x);
    case LC_SIN: return sin(x);
    case LC_COS: return cos(x);
    case LC_RECIPROCAL: return 1.0 / x;
  }
  return NAN;
}

/* Random operand shapes that broadcast to a random out shape: each operand takes a
 * trailing subset of out's dims with some sizes replaced by 1. */
static int operand_shape(int ndim, const int64_t *out, int64_t *shape) {
  int n = (int)test_int(0, ndim);
  for (int d = 0; d < n; d++) {
    int64_t s = out[ndim - n + d];
    shape[d] = test_int(0, 2) == 0 ? 1 : s;
  }
  return n;
}

static void test_binary_broadcast(void) {
  lc_error e;
  for (int trial = 0; trial < 400; trial++) {
    lc_binop op = (lc_binop)test_int(LC_ADD, LC_GE);
    int ndim = (int)test_int(0, 5);
    int64_t oshape[LC_MAX_DIMS], ashape[LC_MAX_DIMS], bshape[LC_MAX_DIMS];
    test_shape(ndim, oshape, 1, 5);
    if (trial % 50 == 0 && ndim > 0) oshape[0] = 0;  /* sometimes empty */
    int na = operand_shape(ndim, oshape, ashape), nb = operand_shape(ndim, oshape, bshape);
    /* pow needs a positive base to stay real; comparisons want ties */
    float lo = op == LC_POW ? 0.1f : -3, hi = 3;
    lc_tensor a = test_tensor(A, na, ashape, (int)test_int(0, 3), lo, hi);
    lc_tensor b = test_tensor(A, nb, bshape, (int)test_int(0, 3), -3, 3);
    if (op >= LC_EQ) {  /* make some elements equal */
      lc_fill(&b, 0.5f);
      if (lc_numel(&a) > 0) a.data[0] = 0.5f;
    }
    int nd;
    int64_t bs[LC_MAX_DIMS];
    CHECK_OK(lc_broadcast_shape(lc_binop_name(op), &a, &b, &nd, bs, &e), e);
    /* out has the broadcast shape, possibly fewer dims than oshape (leading 1s) and strided */
    lc_tensor out = test_tensor(A, nd, bs, (int)test_int(0, 3), 0, 1);
    CHECK_OK(lc_binary(op, &out, &a, &b, &e), e);
    int64_t idx[LC_MAX_DIMS] = {0}, bad = 0;
    double got = 0, want = 0;
    if (lc_numel(&out) > 0) do {
        double x = at_broadcast(&a, nd, idx), y = at_broadcast(&b, nd, idx);
        double w = (float)ref_binary(op, x, y), g = *at(&out, idx);
        if (!check_close(g, w, 1e-6)) {
          if (!bad) got = g, want = w;
          bad++;
        }
      } while (next_index(nd, out.shape, idx));
    char sa[100], sb[100], so[100];
    CHECK(bad == 0, "%s %s x %s -> %s: %lld elements wrong, e.g. %g instead of %g", lc_binop_name(op),
          lc_shape_str(sa, sizeof sa, a.ndim, a.shape), lc_shape_str(sb, sizeof sb, b.ndim, b.shape),
          lc_shape_str(so, sizeof so, out.ndim, out.shape), (long long)bad, got, want);

    /* the scalar forms, both orders */
    float s = test_float(0.5f, 2);
    lc_tensor out2 = test_tensor(A, a.ndim, a.shape, (int)test_int(0, 3), 0, 1);
    for (int first = 0; first <= 1; first++) {
      if (op == LC_POW && first) s = 1.5f;
      CHECK_OK(lc_binary_scalar(op, &out2, &a, s, first, &e), e);
      int64_t j[LC_MAX_DIMS] = {0};
      bad = 0;
      if (lc_numel(&a) > 0) do {
          double x = *at(&a, j);
          double w = (float)(first ? ref_binary(op, s, x) : ref_binary(op, x, s));
          if (!check_close(*at(&out2, j), w, 1e-6)) bad++;
        } while (next_index(a.ndim, a.shape, j));
      CHECK(bad == 0, "%s with scalar %s: %lld wrong", lc_binop_name(op), first ? "first" : "second", (long long)bad);
    }
    lc_tensor_release(&a);
    lc_tensor_release(&b);
    lc_tensor_release(&out);
    lc_tensor_release(&out2);
  }
}

/* out may be the first input (in place), also when that input is strided. */
static void test_inplace(void) {
  lc_error e;
  for (int layout = 0; layout < 4; layout++) {
    int64_t s[3] = {3, 4, 5}, bs[2] = {1, 5};
    lc_tensor a = test_tensor(A, 3, s, layout, -1, 1), b = test_tensor(A, 2, bs, 3 - layout, -1, 1);
    lc_tensor ref;
    lc_tensor_init(&ref, A, 3, s, &e);
    lc_copy(&ref, &a, &e);
    CHECK_OK(lc_binary(LC_SUB, &a, &a, &b, &e), e);
    int64_t idx[3] = {0}, bad = 0;
    do {
      float w = *at(&ref, idx) - at_broadcast(&b, 3, idx);
      if (*at(&a, idx) != w) bad++;
    } while (next_index(3, s, idx));
    CHECK(bad == 0, "in-place sub, layout %d: %lld wrong", layout, (long long)bad);
    CHECK_OK(lc_unary(LC_SQUARE, &a, &a, &e), e);
    CHECK_OK(lc_axpy(&a, -2.0f, &b, &e), e);
    bad = 0;
    do {
      float r = *at(&ref, idx) - at_broadcast(&b, 3, idx);
      float w = r * r + -2.0f * at_broadcast(&b, 3, idx);
      if (!check_close(*at(&a, idx), w, 1e-6)) bad++;
    } while (next_index(3, s, idx));
    CHECK(bad == 0, "in-place square then axpy, layout %d: %lld wrong", layout, (long long)bad);
    lc_tensor_release(&a);
    lc_tensor_release(&b);
    lc_tensor_release(&ref);
  }
}

static void test_unary(void) {
  lc_error e;
  for (lc_unop op = LC_NEG; op <= LC_RECIPROCAL; op++) {
    float lo = -4, hi = 4;
    if (op == LC_LOG || op == LC_SQRT || op == LC_RSQRT) lo = 0.01f;
    for (int layout = 0; layout < 4; layout++) {
      int64_t s[3] = {3, 7, 5};
      lc_tensor a = test_tensor(A, 3, s, layout, lo, hi), out = test_tensor(A, 3, s, 3 - layout, 0, 1);
      /* values on the edges of the piecewise ops */
      int64_t i0[3] = {0, 0, 0}, i1[3] = {1, 2, 3}, i2[3] = {2, 6, 4};
      if (lo < 0) *at(&a, i0) = 0.0f, *at(&a, i1) = -2.5f, *at(&a, i2) = 2.5f;
      CHECK_OK(lc_unary(op, &out, &a, &e), e);
      int64_t idx[3] = {0}, bad = 0;
      double got = 0, want = 0, x0 = 0;
      do {
        double x = *at(&a, idx), w = (float)ref_unary(op, x), g = *at(&out, idx);
        if (!check_close(g, w, 2e-6)) {
          if (!bad) got = g, want = w, x0 = x;
          bad++;
        }
      } while (next_index(3, s, idx));
      CHECK(bad == 0, "%s layout %d: %lld wrong, e.g. f(%g) = %.9g, libm says %.9g", lc_unop_name(op), layout,
            (long long)bad, x0, got, want);
      lc_tensor_release(&a);
      lc_tensor_release(&out);
    }
  }
  /* special values */
  int64_t n[1] = {12};
  lc_tensor a, o;
  lc_tensor_init(&a, A, 1, n, &e);
  lc_tensor_init(&o, A, 1, n, &e);
  float xs[12] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, NAN, INFINITY, -INFINITY, -0.0f, 100.0f, -100.0f, 1e-30f};
  memcpy(a.data, xs, sizeof xs);
  lc_unary(LC_ROUND, &o, &a, &e);
  CHECK(o.data[0] == 0 && o.data[1] == 2 && o.data[2] == 2 && o.data[3] == 0 && o.data[4] == -2,
        "round half to even: %g %g %g %g %g", o.data[0], o.data[1], o.data[2], o.data[3], o.data[4]);
  lc_unary(LC_SIGMOID, &o, &a, &e);
  CHECK(o.data[9] == 1.0f && o.data[10] >= 0 && o.data[10] < 1e-40f && o.data[6] == 1.0f && o.data[7] == 0.0f,
        "sigmoid saturates without overflow: %g %g %g %g", o.data[9], o.data[10], o.data[6], o.data[7]);
  CHECK(isnan(o.data[5]), "sigmoid(nan) = %g", o.data[5]);
  lc_unary(LC_RELU, &o, &a, &e);
  CHECK(isnan(o.data[5]) && o.data[6] == INFINITY && o.data[7] == 0, "relu(nan, inf, -inf) = %g %g %g", o.data[5],
        o.data[6], o.data[7]);
  lc_unary(LC_SIGN, &o, &a, &e);
  CHECK(isnan(o.data[5]) && o.data[8] == 0 && o.data[6] == 1 && o.data[7] == -1, "sign(nan, -0, inf, -inf) = %g %g %g %g",
        o.data[5], o.data[8], o.data[6], o.data[7]);
  lc_unary(LC_EXP, &o, &a, &e);
  CHECK(o.data[9] == INFINITY && o.data[10] == expf(-100.0f) && o.data[10] < 1e-40f, "exp overflows to inf, underflows to tiny: %g %g",
        o.data[9], o.data[10]);
  lc_unary(LC_RECIPROCAL, &o, &a, &e);
  CHECK(o.data[8] == -INFINITY, "1/-0 = -inf, got %g", o.data[8]);
  lc_tensor_release(&a);
  lc_tensor_release(&o);
}

static void test_nan_propagation(void) {
  lc_error e;
  int64_t n[1] = {4};
  lc_tensor a, b, o;
  lc_tensor_init(&a, A, 1, n, &e);
  lc_tensor_init(&b, A, 1, n, &e);
  lc_tensor_init(&o, A, 1, n, &e);
  float xa[4] = {NAN, 1, NAN, 2}, xb[4] = {1, NAN, NAN, 3};
  memcpy(a.data, xa, sizeof xa);
  memcpy(b.data, xb, sizeof xb);
  for (int op = LC_MAXIMUM; op <= LC_MINIMUM; op++) {
    lc_binary((lc_binop)op, &o, &a, &b, &e);
    CHECK(isnan(o.data[0]) && isnan(o.data[1]) && isnan(o.data[2]) && o.data[3] == (op == LC_MAXIMUM ? 3 : 2),
          "%s propagates NaN from either side: %g %g %g %g", lc_binop_name((lc_binop)op), o.data[0], o.data[1],
          o.data[2], o.data[3]);
  }
  lc_binary(LC_EQ, &o, &a, &b, &e);
  CHECK(o.data[0] == 0 && o.data[1] == 0 && o.data[2] == 0 && o.data[3] == 0, "NaN == x is false");
  lc_binary(LC_NE, &o, &a, &b, &e);
  CHECK(o.data[0] == 1 && o.data[2] == 1, "NaN != x is true");
  lc_clamp(&o, &a, 0, 1, &e);
  CHECK(isnan(o.data[0]) && o.data[1] == 1 && o.data[3] == 1, "clamp keeps NaN: %g %g", o.data[0], o.data[1]);
  lc_tensor_release(&a);
  lc_tensor_release(&b);
  lc_tensor_release(&o);
}

static void test_clamp_where_fill_copy(void) {
  lc_error e;
  for (int trial = 0; trial < 50; trial++) {
    int64_t s[4];
    test_shape(4, s, 1, 4);
    lc_tensor a = test_tensor(A, 4, s, (int)test_int(0, 3), -2, 2), o = test_tensor(A, 4, s, (int)test_int(0, 3), 0, 1);
    float lo = test_float(-1.5f, 0), hi = test_float(0, 1.5f);
    CHECK_OK(lc_clamp(&o, &a, lo, hi, &e), e);
    int64_t idx[4] = {0}, bad = 0;
    do {
      float x = *at(&a, idx), w = x < lo ? lo : x > hi ? hi : x;
      if (*at(&o, idx) != w) bad++;
    } while (next_index(4, s, idx));
    CHECK(bad == 0, "clamp: %lld wrong", (long long)bad);

    /* where with all three inputs broadcast */
    int64_t ms[4], as[4], bs[4];
    int nm = operand_shape(4, s, ms), na = operand_shape(4, s, as), nb = operand_shape(4, s, bs);
    lc_tensor m = test_tensor(A, nm, ms, (int)test_int(0, 3), 0, 1);
    lc_unary(LC_ROUND, &m, &m, &e);
    lc_tensor x = test_tensor(A, na, as, (int)test_int(0, 3), -1, 1), y = test_tensor(A, nb, bs, (int)test_int(0, 3), 2, 3);
    CHECK_OK(lc_where(&o, &m, &x, &y, &e), e);
    bad = 0;
    do {
      float w = at_broadcast(&m, 4, idx) != 0 ? at_broadcast(&x, 4, idx) : at_broadcast(&y, 4, idx);
      if (*at(&o, idx) != w) bad++;
    } while (next_index(4, s, idx));
    CHECK(bad == 0, "where: %lld wrong", (long long)bad);

    CHECK_OK(lc_copy(&o, &x, &e), e);
    bad = 0;
    do {
      if (*at(&o, idx) != at_broadcast(&x, 4, idx)) bad++;
    } while (next_index(4, s, idx));
    CHECK(bad == 0, "copy with broadcast: %lld wrong", (long long)bad);

    lc_fill(&o, 7.25f);
    bad = 0;
    do {
      if (*at(&o, idx) != 7.25f) bad++;
    } while (next_index(4, s, idx));
    CHECK(bad == 0, "fill: %lld wrong", (long long)bad);
    lc_tensor_release(&a), lc_tensor_release(&o), lc_tensor_release(&m), lc_tensor_release(&x), lc_tensor_release(&y);
  }
  /* fill on a strided view touches only the view */
  int64_t s[2] = {4, 6};
  lc_tensor t;
  lc_tensor_init(&t, A, 2, s, &e);
  lc_fill(&t, 0);
  lc_tensor v = t;
  lc_view_slice(&v, 1, 1, 3, 2, &e);
  lc_view_narrow(&v, 0, 1, 2, &e);
  lc_fill(&v, 1);
  double sum = 0;
  for (int i = 0; i < 24; i++) sum += t.data[i];
  CHECK(sum == 6 && t.data[6 + 1] == 1 && t.data[6 + 3] == 1 && t.data[6 + 5] == 1 && t.data[6 + 0] == 0,
        "strided fill wrote %g elements", sum);
  lc_tensor_release(&t);
}

static void test_errors(void) {
  lc_error e;
  int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s234[3] = {2, 3, 4};
  lc_tensor a, b, o, big;
  lc_tensor_init(&a, A, 2, s23, &e);
  lc_tensor_init(&b, A, 1, s4, &e);
  lc_tensor_init(&o, A, 2, s23, &e);
  lc_tensor_init(&big, A, 3, s234, &e);
  lc_fill(&a, 1), lc_fill(&b, 1), lc_fill(&o, 1), lc_fill(&big, 1);
  CHECK_FAILS(lc_binary(LC_ADD, &o, &a, &b, &e), e, "add:", "[4]", "[2,3]");
  CHECK_FAILS(lc_binary(LC_MUL, &o, &big, &a, &e), e, "mul:", "[2,3,4]", "[2,3]");
  CHECK_FAILS(lc_binary_scalar(LC_DIV, &o, &b, 2, 0, &e), e, "div:", "[4]");
  CHECK_FAILS(lc_unary(LC_EXP, &o, &b, &e), e, "exp:", "[4]", "[2,3]");
  CHECK_FAILS(lc_clamp(&o, &a, 1, 0, &e), e, "clamp:");
  CHECK_FAILS(lc_where(&o, &a, &b, &a, &e), e, "where:");
  CHECK_FAILS(lc_copy(&o, &big, &e), e, "copy:", "[2,3,4]");
  CHECK_FAILS(lc_axpy(&o, 1, &b, &e), e, "axpy:");
  lc_tensor c;
  lc_tensor_init(&c, A, 1, s3, &e);
  lc_fill(&c, 2);
  CHECK_OK(lc_copy(&o, &c, &e), e);  /* [3] broadcasts into [2,3] */
  CHECK(o.data[0] == 2 && o.data[5] == 2, "broadcast copy");
  for (int i = 0; i < 6; i++) CHECK(o.data[i] == 2, "failed ops wrote nothing before the copy");
  lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&o), lc_tensor_release(&big), lc_tensor_release(&c);
  CHECK(strcmp(lc_binop_name(LC_GE), "ge") == 0 && strcmp(lc_unop_name(LC_RECIPROCAL), "reciprocal") == 0, "names");
}

int main(void) {
  test_seed(2);
  A = lc_allocator_new((size_t)64 << 20);
  test_binary_broadcast();
  test_inplace();
  test_unary();
  test_nan_propagation();
  test_clamp_where_fill_copy();
  test_errors();
  CHECK(lc_allocator_live_bytes(A) == 0, "every test tensor was released (%zu bytes live)", lc_allocator_live_bytes(A));
  lc_allocator_release(A);
  return check_done("test_elementwise");
}
