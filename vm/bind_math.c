/* Tensor math for Lua: operators with broadcasting, unary functions, reductions,
 * matmul, joining, and the seeded random generator. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "elementwise.h"
#include "matmul.h"
#include "reduce.h"

/* ---- binary ops ---- */

/* If src shares storage with out, returns a private copy (pushed), so the kernel never
 * reads what it already overwrote. */
static const lc_tensor *unalias(lua_State *L, const lc_tensor *out, const lc_tensor *src) {
  if (src->storage != out->storage) return src;
  if (src->data == out->data && lc_same_shape(src, out) &&
      !memcmp(src->stride, out->stride, sizeof(int64_t) * (size_t)src->ndim))
    return src;
  lc_tensor *c = lc_pushtensor_like(L, src);
  lc_copy(c, src, NULL);
  return c;
}

/* In-place writes into a broadcast view (stride 0 over a dim of size > 1) would store
 * several results in one element, in an order-dependent way: refuse, as PyTorch does. */
static lc_tensor *writable_op(lua_State *L, lc_tensor *t, const char *what, const char *suffix) {
  for (int d = 0; d < t->ndim; d++)
    if (t->stride[d] == 0 && t->shape[d] > 1)
      lc_script_error(L, "%s%s: cannot write in place into an expanded tensor (dimension %d repeats one element); "
                         "clone() it first", what, suffix, d + 1);
  return t;
}

static lc_tensor *writable(lua_State *L, lc_tensor *t, const char *what) { return writable_op(L, t, what, ""); }

/* a op b where either may be a number; in place writes into a (which must then be a
 * tensor whose shape is the broadcast shape). */
/* Errors here use lc_script_error: binary() is also reached from the string library's
 * arithmetic metamethods ("x" - t), a C caller that luaL_error would report as the
 * position. */
static int binary(lua_State *L, lc_binop op, int inplace) {
  const char *name = lc_binop_name(op);
  /* one metatable check per operand: this is the hot path of every small op */
  lc_tensor *a = luaL_testudata(L, 1, LC_TENSOR_MT), *b = luaL_testudata(L, 2, LC_TENSOR_MT);
  /* a closed tensor is reported as such, not as "expected a tensor or a number" */
  if ((a && !a->storage) || (b && !b->storage))
    lc_script_error(L, "%s%s: argument %d is a tensor that was freed (closed) and cannot be used", name,
                    inplace ? "_" : "", a && !a->storage ? 1 : 2);
  lc_error e;
  if (!a && !b)
    lc_script_error(L, "%s%s: expected a tensor operand, got %s and %s", name, inplace ? "_" : "", luaL_typename(L, 1),
                    luaL_typename(L, 2));
  if (inplace && !a)
    lc_script_error(L, "%s_: writes into its first argument, which must be a tensor (got %s)", name,
                    luaL_typename(L, 1));
  if (a && b) {
    int ndim;
    int64_t shape[LC_MAX_DIMS];
    if (lc_broadcast_shape(lc_binop_name(op), a, b, &ndim, shape, &e)) return lc_raise(L, &e);
    lc_tensor *out;
    if (inplace) {
      out = writable_op(L, a, name, "_");
      if (ndim != a->ndim || memcmp(shape, a->shape, sizeof(int64_t) * (size_t)ndim)) {
        char x[200], y[200];
        lc_script_error(L, "%s_: result shape %s does not fit the tensor written in place %s", name,
                   lc_shape_str(x, sizeof x, ndim, shape), lc_shape_str(y, sizeof y, a->ndim, a->shape));
      }
      b = (lc_tensor *)unalias(L, out, b);
      lua_pushvalue(L, 1);
    } else {
      out = lc_pushtensor(L, ndim, shape);
    }
    if (lc_binary(op, out, a, b, &e)) return lc_raise(L, &e);
    return 1;
  }
  int scalar_first = a == NULL;
  lc_tensor *t = a ? a : b;
  int sidx = a ? 2 : 1;
  int ok;
  lua_Number s = lua_tonumberx(L, sidx, &ok);
  if (!ok)
    lc_script_error(L, "%s: expected a tensor or a number, got %s", name, luaL_typename(L, sidx));
  lc_tensor *out;
  if (inplace) {
    out = writable_op(L, t, name, "_");
    lua_pushvalue(L, 1);
  } else {
    out = lc_pushtensor_like(L, t);
  }
  lc_binary_scalar(op, out, t, (float)s, scalar_first, NULL);
  return 1;
}

#define BINARY_FN(name, op)                                          \
  static int f_##name(lua_State *L) { return binary(L, op, 0); }     \
  static int f_##name##_(lua_State *L) { return binary(L, op, 1); }
BINARY_FN(add, LC_ADD)
BINARY_FN(sub, LC_SUB)
BINARY_FN(mul, LC_MUL)
BINARY_FN(div, LC_DIV)
BINARY_FN(pow, LC_POW)
BINARY_FN(maximum, LC_MAXIMUM)
BINARY_FN(minimum, LC_MINIMUM)

static int compare(lua_State *L) {
  return binary(L, (lc_binop)lua_tointeger(L, lua_upvalueindex(2)), 0);
}

/* ---- unary ops: one C function, the op in upvalue 2, in-place flag in upvalue 3 ---- */

static int unary(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_unop op = (lc_unop)lua_tointeger(L, lua_upvalueindex(2));
  int inplace = lua_toboolean(L, lua_upvalueindex(3));
  lc_tensor *out = inplace ? writable(L, t, lc_unop_name(op)) : lc_pushtensor_like(L, t);
  if (inplace) lua_pushvalue(L, 1);
  lc_unary(op, out, t, NULL);
  return 1;
}

static int clamp(lua_State *L, int inplace) {
  lc_tensor *t = lc_checktensor(L, 1);
  float lo = (float)luaL_optnumber(L, 2, -INFINITY), hi = (float)luaL_optnumber(L, 3, INFINITY);
  lc_tensor *out = inplace ? writable(L, t, "clamp_") : lc_pushtensor_like(L, t);
  if (inplace) lua_pushvalue(L, 1);
  lc_error e;
  if (lc_clamp(out, t, lo, hi, &e)) return lc_raise(L, &e);
  return 1;
}
static int f_clamp(lua_State *L) { return clamp(L, 0); }
static int f_clamp_(lua_State *L) { return clamp(L, 1); }

static int f_where(lua_State *L) {
  lc_tensor *m = lc_checktensor(L, 1), *a = lc_checktensor(L, 2), *b = lc_checktensor(L, 3);
  int n1, n2;
  int64_t s1[LC_MAX_DIMS], s2[LC_MAX_DIMS];
  lc_error e;
  if (lc_broadcast_shape("where", a, b, &n1, s1, &e)) return lc_raise(L, &e);
  lc_tensor ab = *a;
  ab.ndim = n1;
  memcpy(ab.shape, s1, sizeof s1);
  if (lc_broadcast_shape("where", m, &ab, &n2, s2, &e)) return lc_raise(L, &e);
  lc_tensor *out = lc_pushtensor(L, n2, s2);
  if (lc_where(out, m, a, b, &e)) return lc_raise(L, &e);
  return 1;
}

static int f_fill(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_fill(t, (float)luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int f_zero(lua_State *L) {
  lc_fill(lc_checktensor(L, 1), 0.0f);
  lua_settop(L, 1);
  return 1;
}

/* dst:copy(src): src is broadcast to dst's shape */
static int f_copy(lua_State *L) {
  lc_tensor *dst = writable(L, lc_checktensor(L, 1), "copy");
  const lc_tensor *src = unalias(L, dst, lc_checktensor(L, 2));
  lc_error e;
  if (lc_copy(dst, src, &e)) return lc_raise(L, &e);
  lua_settop(L, 1);
  return 1;
}

static int f_equal(lua_State *L) {
  lc_tensor *a = lc_checktensor(L, 1), *b = lc_checktensor(L, 2);
  if (!lc_same_shape(a, b)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lc_tensor *m = lc_pushtensor_like(L, a);
  lc_binary(LC_EQ, m, a, b, NULL);
  double s;
  lc_reduce_all(LC_RSUM, m, 0, &s, NULL, NULL);
  lua_pushboolean(L, s == (double)lc_numel(a));
  return 1;
}

/* allclose(a, b[, rtol=1e-5[, atol=1e-8]]): |a - b| <= atol + rtol * |b| everywhere */
static int f_allclose(lua_State *L) {
  lc_tensor *a = lc_checktensor(L, 1), *b = lc_checktensor(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  int ndim;
  int64_t shape[LC_MAX_DIMS];
  lc_error e;
  if (lc_broadcast_shape("allclose", a, b, &ndim, shape, &e)) return lc_raise(L, &e);
  lc_tensor *ea = lc_pushtensor(L, ndim, shape), *eb = lc_pushtensor(L, ndim, shape);
  lc_copy(ea, a, NULL);
  lc_copy(eb, b, NULL);
  int64_t n = lc_numel(ea);
  int ok = 1;
  for (int64_t i = 0; i < n && ok; i++) {
    double x = ea->data[i], y = eb->data[i];
    if (x == y) continue;
    if (!(fabs(x - y) <= atol + rtol * fabs(y))) ok = 0;
  }
  lua_pushboolean(L, ok);
  return 1;
}

/* ---- reductions ---- */

/* Raises a reduction kernel's error under the name the script used: the kernels know
 * argmax only as max. */
static int reduce_error(lua_State *L, lc_redop op, const char *what, const lc_error *e) {
  size_t n = strlen(lc_redop_name(op));
  if (strcmp(what, lc_redop_name(op)) && !strncmp(e->msg, lc_redop_name(op), n) && e->msg[n] == ':')
    return luaL_error(L, "%s%s", what, e->msg + n);
  return lc_raise(L, e);
}

/* t:op() -> number; t:op(dim[, keepdim]) -> tensor (and indices for max/min).
 * var/std take a third argument `unbiased` (default true). */
static int reduce(lua_State *L, lc_redop op, int with_index) {
  const char *what = with_index == 2 ? (op == LC_RMAX ? "argmax" : "argmin") : lc_redop_name(op);
  lc_tensor *t = lc_checktensor(L, 1);
  int correction = (op == LC_RVAR || op == LC_RSTD) && (lua_isnoneornil(L, 4) || lua_toboolean(L, 4)) ? 1 : 0;
  lc_error e;
  if (lua_isnoneornil(L, 2)) {
    double r;
    int64_t idx;
    if (lc_reduce_all(op, t, correction, &r, &idx, &e)) return reduce_error(L, op, what, &e);
    if (with_index == 2) {  /* argmax/argmin over all: the 1-based flat index */
      lua_pushinteger(L, idx + 1);
      return 1;
    }
    lua_pushnumber(L, r);
    return 1;
  }
  int d = lc_checkdim(L, 2, t->ndim, 0, what);
  int keepdim = lua_toboolean(L, 3);
  int64_t shape[LC_MAX_DIMS];
  int n = 0;
  for (int k = 0; k < t->ndim; k++) {
    if (k != d) shape[n++] = t->shape[k];
    else if (keepdim) shape[n++] = 1;
  }
  lc_tensor *out = lc_pushtensor(L, n, shape);
  lc_tensor *idx = with_index ? lc_pushtensor(L, n, shape) : NULL;
  if (lc_reduce_dim(op, out, idx, t, d, correction, 1.0f, &e)) return reduce_error(L, op, what, &e);
  if (with_index == 2) {  /* argmax(dim): only the indices */
    lua_remove(L, -2);
    return 1;
  }
  return with_index ? 2 : 1;
}

static int f_sum(lua_State *L) { return reduce(L, LC_RSUM, 0); }
static int f_mean(lua_State *L) { return reduce(L, LC_RMEAN, 0); }
static int f_prod(lua_State *L) { return reduce(L, LC_RPROD, 0); }
static int f_var(lua_State *L) { return reduce(L, LC_RVAR, 0); }
static int f_std(lua_State *L) { return reduce(L, LC_RSTD, 0); }
static int f_argmax(lua_State *L) { return reduce(L, LC_RMAX, 2); }
static int f_argmin(lua_State *L) { return reduce(L, LC_RMIN, 2); }

/* max(): number; max(dim[, keepdim]): values, indices; max(other): elementwise maximum */
static int f_max(lua_State *L) {
  if (lua_isuserdata(L, 2)) return binary(L, LC_MAXIMUM, 0);
  return reduce(L, LC_RMAX, lua_isnoneornil(L, 2) ? 0 : 1);
}
static int f_min(lua_State *L) {
  if (lua_isuserdata(L, 2)) return binary(L, LC_MINIMUM, 0);
  return reduce(L, LC_RMIN, lua_isnoneornil(L, 2) ? 0 : 1);
}

/* ---- matmul ---- */

/* matmul(a, b[, out]) */
static int f_matmul(lua_State *L) {
  lc_tensor *a = lc_checktensor(L, 1), *b = lc_checktensor(L, 2);
  lc_ctx *ctx = lc_ctx_of(L);
  lc_error e;
  lc_tensor *out;
  if (!lua_isnoneornil(L, 3)) {
    out = lc_checktensor(L, 3);
    if (out->storage == a->storage || out->storage == b->storage)
      luaL_error(L, "matmul: the output must not share memory with an input");
    lua_pushvalue(L, 3);
  } else {
    int ndim;
    int64_t shape[LC_MAX_DIMS];
    if (lc_matmul_shape(a, b, &ndim, shape, &e)) return lc_raise(L, &e);
    out = lc_pushtensor(L, ndim, shape);
  }
  if (lc_matmul(out, a, b, 0, ctx->scratch, ctx->pool, &e)) return lc_raise(L, &e);
  return 1;
}

/* ---- joining ---- */

/* Reads the tensors of the list at idx into a scratch array (a userdata pushed on the
 * stack, so it is freed with the call). */
static lc_tensor **tensor_list(lua_State *L, int idx, const char *what, int *count) {
  luaL_argexpected(L, lua_istable(L, idx), idx, "list of tensors");
  lua_Integer n = luaL_len(L, idx);
  if (n <= 0) luaL_error(L, "%s: the list of tensors is empty", what);
  if (n > (1 << 24)) luaL_error(L, "%s: too many tensors (%I)", what, n);
  lc_tensor **list = lua_newuserdatauv(L, sizeof(lc_tensor *) * (size_t)n, 0);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    list[i] = lc_totensor(L, -1);
    if (!list[i] && luaL_testudata(L, -1, LC_TENSOR_MT))
      luaL_error(L, "%s: tensor %d of the list was freed (closed) and cannot be used", what, i + 1);
    if (!list[i]) luaL_error(L, "%s: element %d of the list is a %s, expected a tensor", what, i + 1, luaL_typename(L, -1));
    lua_pop(L, 1);  /* the list keeps it alive */
  }
  *count = (int)n;
  return list;
}

static int join(lua_State *L, int stack) {
  const char *what = stack ? "stack" : "cat";
  int n;
  lua_settop(L, 2);  /* the scratch list below must not land where the optional dim is read */
  lc_tensor **list = tensor_list(L, 1, what, &n);
  const lc_tensor *first = list[0];
  int ndim = first->ndim + stack;
  if (ndim == 0) luaL_error(L, "%s: 0-dimensional tensors cannot be concatenated; use stack", what);
  if (ndim > LC_MAX_DIMS) {
    char s[200];
    luaL_error(L, "%s: stacking tensors of shape %s would need %d dimensions, at most %d are supported", what,
               lc_shape_str(s, sizeof s, first->ndim, first->shape), ndim, LC_MAX_DIMS);
  }
  int d = lua_isnoneornil(L, 2) ? 0 : lc_checkdim(L, 2, first->ndim, stack, what);
  int64_t shape[LC_MAX_DIMS];
  char x[200], y[200];
  for (int i = 0; i < n; i++) {
    const lc_tensor *t = list[i];
    int bad = t->ndim != first->ndim;
    for (int k = 0; !bad && k < t->ndim; k++)
      if ((stack || k != d) && t->shape[k] != first->shape[k]) bad = 1;
    if (bad)
      luaL_error(L, "%s: tensor %d has shape %s, which does not match %s%s", what, i + 1,
                 lc_shape_str(x, sizeof x, t->ndim, t->shape), lc_shape_str(y, sizeof y, first->ndim, first->shape),
                 stack ? "" : " outside the joined dimension");
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += stack ? 1 : list[i]->shape[d];
  if (stack) {
    for (int k = 0, j = 0; k < ndim; k++) shape[k] = k == d ? total : first->shape[j++];
  } else {
    memcpy(shape, first->shape, sizeof(int64_t) * (size_t)ndim);
    shape[d] = total;
  }
  lc_tensor *out = lc_pushtensor(L, ndim, shape);
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    lc_tensor part = *out, src = *list[i];
    int64_t len = stack ? 1 : src.ndim ? src.shape[d] : 1;
    lc_view_narrow(&part, d, at, len, NULL);
    if (stack) lc_view_unsqueeze(&src, d, NULL);
    lc_copy(&part, &src, NULL);
    at += len;
  }
  return 1;
}
static int f_cat(lua_State *L) { return join(L, 0); }
static int f_stack(lua_State *L) { return join(L, 1); }

/* ---- random numbers ---- */

static uint64_t check_seed(lua_State *L, int idx) {
  int ok;
  lua_Integer s = lua_tointegerx(L, idx, &ok);
  if (!ok || s < 0) luaL_error(L, "manual_seed: the seed must be a non-negative integer");
  return (uint64_t)s;
}

static int f_manual_seed(lua_State *L) {
  lc_rng_seed(&lc_ctx_of(L)->rng, check_seed(L, 1));
  return 0;
}

static int f_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lc_ctx_of(L)->rng.seed);
  return 1;
}

/* The generator's state as a table {seed, state, inc}, exact for checkpoints. */
static int f_get_rng_state(lua_State *L) {
  lc_rng *r = &lc_ctx_of(L)->rng;
  lua_createtable(L, 3, 0);
  lua_pushinteger(L, (lua_Integer)r->seed);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, (lua_Integer)r->state);
  lua_rawseti(L, -2, 2);
  lua_pushinteger(L, (lua_Integer)r->inc);
  lua_rawseti(L, -2, 3);
  return 1;
}

static int f_set_rng_state(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer v[3];
  for (int i = 0; i < 3; i++) {
    lua_geti(L, 1, i + 1);
    int ok;
    v[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "set_rng_state: expected a table from get_rng_state()");
    lua_pop(L, 1);
  }
  if (!(v[2] & 1)) luaL_error(L, "set_rng_state: corrupt state (stream selector must be odd)");
  lc_rng *r = &lc_ctx_of(L)->rng;
  r->seed = (uint64_t)v[0];
  r->state = (uint64_t)v[1];
  r->inc = (uint64_t)v[2];
  return 0;
}

static int f_rand(lua_State *L) {
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checknewshape(L, 1, shape, "rand");
  lc_rng_fill_uniform(&lc_ctx_of(L)->rng, lc_pushtensor(L, ndim, shape), 0.0f, 1.0f);
  return 1;
}

static int f_randn(lua_State *L) {
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checknewshape(L, 1, shape, "randn");
  lc_rng_fill_normal(&lc_ctx_of(L)->rng, lc_pushtensor(L, ndim, shape), 0.0f, 1.0f);
  return 1;
}

/* randint(low, high, shape): integers in [low, high), as in PyTorch */
static int f_randint(lua_State *L) {
  lua_Integer lo = luaL_checkinteger(L, 1), hi = luaL_checkinteger(L, 2);
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checknewshape(L, 3, shape, "randint");
  lc_error e;
  if (hi <= lo) luaL_error(L, "randint: empty range [%I, %I)", lo, hi);
  if (lc_rng_fill_int(&lc_ctx_of(L)->rng, lc_pushtensor(L, ndim, shape), lo, hi, &e)) return lc_raise(L, &e);
  return 1;
}

/* randperm(n): a random ordering of 1..n */
static int f_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > (1 << 24)) luaL_error(L, "randperm: n must be in 0..2^24, got %I", n);
  int64_t shape = n;
  lc_rng_permutation(&lc_ctx_of(L)->rng, lc_pushtensor(L, 1, &shape), 1);
  return 1;
}

/* t:uniform_(lo, hi), t:normal_(mean, std): fill in place from the generator */
static int f_uniform_(lua_State *L) {
  lc_tensor *t = writable(L, lc_checktensor(L, 1), "uniform_");
  lc_rng_fill_uniform(&lc_ctx_of(L)->rng, t, (float)luaL_optnumber(L, 2, 0), (float)luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int f_normal_(lua_State *L) {
  lc_tensor *t = writable(L, lc_checktensor(L, 1), "normal_");
  lc_rng_fill_normal(&lc_ctx_of(L)->rng, t, (float)luaL_optnumber(L, 2, 0), (float)luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static const luaL_Reg math_methods[] = {
  {"add", f_add}, {"sub", f_sub}, {"mul", f_mul}, {"div", f_div}, {"pow", f_pow},
  {"add_", f_add_}, {"sub_", f_sub_}, {"mul_", f_mul_}, {"div_", f_div_}, {"pow_", f_pow_},
  {"maximum", f_maximum}, {"minimum", f_minimum}, {"maximum_", f_maximum_}, {"minimum_", f_minimum_},
  {"clamp", f_clamp}, {"clamp_", f_clamp_}, {"fill", f_fill}, {"zero", f_zero}, {"copy", f_copy},
  {"equal", f_equal}, {"allclose", f_allclose},
  {"sum", f_sum}, {"mean", f_mean}, {"prod", f_prod}, {"var", f_var}, {"std", f_std},
  {"max", f_max}, {"min", f_min}, {"argmax", f_argmax}, {"argmin", f_argmin},
  {"matmul", f_matmul}, {"mm", f_matmul}, {"uniform_", f_uniform_}, {"normal_", f_normal_},
  {NULL, NULL}};

static const luaL_Reg math_functions[] = {
  {"where", f_where}, {"cat", f_cat}, {"stack", f_stack},
  {"manual_seed", f_manual_seed}, {"initial_seed", f_initial_seed},
  {"get_rng_state", f_get_rng_state}, {"set_rng_state", f_set_rng_state},
  {"rand", f_rand}, {"randn", f_randn}, {"randint", f_randint}, {"randperm", f_randperm},
  {NULL, NULL}};

static const struct { const char *name; lc_unop op; } unary_ops[] = {
  {"neg", LC_NEG}, {"exp", LC_EXP}, {"log", LC_LOG}, {"sqrt", LC_SQRT}, {"rsqrt", LC_RSQRT}, {"tanh", LC_TANH},
  {"sigmoid", LC_SIGMOID}, {"relu", LC_RELU}, {"abs", LC_ABS}, {"square", LC_SQUARE}, {"sign", LC_SIGN},
  {"floor", LC_FLOOR}, {"ceil", LC_CEIL}, {"round", LC_ROUND}, {"sin", LC_SIN}, {"cos", LC_COS},
  {"reciprocal", LC_RECIPROCAL}};

static const struct { const char *name; lc_binop op; } compare_ops[] = {
  {"eq", LC_EQ}, {"ne", LC_NE}, {"lt", LC_LT}, {"le", LC_LE}, {"gt", LC_GT}, {"ge", LC_GE}};

void lc_bind_math(lua_State *L, int ctx, int methods, int module) {
  lc_setfuncs(L, ctx, methods, math_methods);
  lc_setfuncs(L, ctx, module, math_functions);
  char name[32];
  for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++) {
    for (int inplace = 0; inplace <= 1; inplace++) {
      lua_pushvalue(L, ctx);
      lua_pushinteger(L, unary_ops[i].op);
      lua_pushboolean(L, inplace);
      lua_pushcclosure(L, unary, 3);
      snprintf(name, sizeof name, "%s%s", unary_ops[i].name, inplace ? "_" : "");
      lua_setfield(L, methods, name);
    }
  }
  for (size_t i = 0; i < sizeof compare_ops / sizeof compare_ops[0]; i++) {
    lua_pushvalue(L, ctx);
    lua_pushinteger(L, compare_ops[i].op);
    lua_pushcclosure(L, compare, 2);
    lua_setfield(L, methods, compare_ops[i].name);
  }
}

void lc_bind_math_meta(lua_State *L, int ctx, int meta) {
  static const luaL_Reg meta_fns[] = {{"__add", f_add}, {"__sub", f_sub}, {"__mul", f_mul}, {"__div", f_div},
                                      {"__pow", f_pow}, {NULL, NULL}};
  lc_setfuncs(L, ctx, meta, meta_fns);
  lua_pushvalue(L, ctx);
  lua_pushinteger(L, LC_NEG);
  lua_pushboolean(L, 0);
  lua_pushcclosure(L, unary, 3);
  lua_setfield(L, meta, "__unm");
}
