/* The CNN kernels for Lua, as T.kernels.*: convolution, pooling and batch norm.
 * Hyper-parameters travel as arrays of integers, in the order of the C structs:
 *   conv   {stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups[, relu[, algo]]}
 *          relu 1 fuses a ReLU; algo 0 auto, 1 GEMM, 2 direct, 3 Winograd, 4 tiny maps (conv.h)
 *   pool   {kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w[, ceil_mode, exclude_pad]}
 *          (the last two 0 or 1, 0 when left out)
 * Outputs are passed in (buffers the layers own and reuse). */
#include "batchnorm.h"
#include "bind.h"
#include "conv.h"
#include "pool2d.h"

static lc_tensor *opttensor(lua_State *L, int idx) { return lua_isnoneornil(L, idx) ? NULL : lc_checktensor(L, idx); }

/* n integers from the array at idx into out. */
static void check_ints(lua_State *L, int idx, int n, int64_t *out, const char *what) {
  luaL_checktype(L, idx, LUA_TTABLE);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: parameter %d must be an integer, got %s", what, i + 1, luaL_typename(L, -1));
    out[i] = (int64_t)v;
    lua_pop(L, 1);
  }
}

static lc_conv2d_params conv_params(lua_State *L, int idx) {
  int64_t v[9] = {0};
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > 9) luaL_error(L, "conv2d: expected 7 to 9 parameters, got %d", (int)n);
  if (n < 7) n = 7;  /* a missing one is named by check_ints */
  check_ints(L, idx, (int)n, v, "conv2d");
  lc_conv2d_params p = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] != 0, v[8]};
  if (p.algo < LC_CONV_AUTO || p.algo > LC_CONV_TINY)
    luaL_error(L, "conv2d: algo must be 0, 1, 2, 3 or 4, got %d", (int)p.algo);
  return p;
}

static lc_pool2d_params pool_params(lua_State *L, int idx) {
  int64_t v[8] = {0};
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n != 6 && n != 8) luaL_error(L, "pool2d: expected 6 or 8 parameters, got %d", (int)n);
  check_ints(L, idx, (int)n, v, "pool2d");
  lc_pool2d_params p = {v[0], v[1], v[2], v[3], v[4], v[5], v[6] != 0, v[7] != 0};
  return p;
}

/* conv2d_forward(y, x, w, b|nil, params[, cols]): cols keeps the lowered input for backward */
static int k_conv2d_forward(lua_State *L) {
  lc_tensor *y = lc_checktensor(L, 1), *x = lc_checktensor(L, 2), *w = lc_checktensor(L, 3), *b = opttensor(L, 4);
  lc_conv2d_params p = conv_params(L, 5);
  lc_tensor *cols = opttensor(L, 6);
  lc_error e;
  if (lc_conv2d_forward(y, x, w, b, &p, cols, lc_ctx_of(L)->scratch, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

/* conv2d_backward(dx|nil, dw, db|nil, dy, x, w, params[, cols[, y]]): cols from the forward
 * of this x; y its output, for a fused ReLU */
static int k_conv2d_backward(lua_State *L) {
  lc_tensor *dx = opttensor(L, 1), *dw = lc_checktensor(L, 2), *db = opttensor(L, 3);
  lc_tensor *dy = lc_checktensor(L, 4), *x = lc_checktensor(L, 5), *w = lc_checktensor(L, 6);
  lc_conv2d_params p = conv_params(L, 7);
  lc_tensor *cols = opttensor(L, 8), *y = opttensor(L, 9);
  lc_error e;
  if (lc_conv2d_backward(dx, dw, db, dy, y, x, w, &p, cols, lc_ctx_of(L)->scratch, lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

/* conv2d_cols_numel(x, w, params) -> size of the kept-columns buffer */
static int k_conv2d_cols_numel(lua_State *L) {
  lc_conv2d_params p = conv_params(L, 3);
  int64_t n = lc_conv2d_cols_numel(lc_checktensor(L, 1), lc_checktensor(L, 2), &p);
  if (n < 0) luaL_error(L, "conv2d_cols_numel: input and weight do not fit");
  lua_pushinteger(L, n);
  return 1;
}

/* conv2d_output_size(C, H, W, {O, C/groups, KH, KW}, params) -> OH, OW, or an error naming the cause */
static int k_conv2d_output_size(lua_State *L) {
  int64_t wshape[4], OH, OW;
  check_ints(L, 4, 4, wshape, "conv2d weight shape");
  lc_conv2d_params p = conv_params(L, 5);
  lc_error e;
  if (lc_conv2d_output_size(luaL_checkinteger(L, 1), luaL_checkinteger(L, 2), luaL_checkinteger(L, 3), wshape, &p, &OH,
                            &OW, &e))
    return lc_raise(L, &e);
  lua_pushinteger(L, OH);
  lua_pushinteger(L, OW);
  return 2;
}

/* conv2d_out_size(in, k, stride, pad, dilation) -> the output size along one dim */
static int k_conv2d_out_size(lua_State *L) {
  lua_Integer s = luaL_checkinteger(L, 3);
  if (s < 1) luaL_error(L, "conv2d_out_size: stride must be at least 1, got %d", (int)s);
  lua_pushinteger(L, lc_conv2d_out_size(luaL_checkinteger(L, 1), luaL_checkinteger(L, 2), s, luaL_checkinteger(L, 4),
                                        luaL_checkinteger(L, 5)));
  return 1;
}

/* pool2d_output_size(H, W, params[, what]) -> OH, OW */
static int k_pool2d_output_size(lua_State *L) {
  lc_pool2d_params p = pool_params(L, 3);
  int64_t OH, OW;
  lc_error e;
  if (lc_pool2d_output_size(luaL_optstring(L, 4, "pool2d"), luaL_checkinteger(L, 1), luaL_checkinteger(L, 2), &p, &OH,
                            &OW, &e))
    return lc_raise(L, &e);
  lua_pushinteger(L, OH);
  lua_pushinteger(L, OW);
  return 2;
}

/* maxpool2d_forward(y, x, params), avgpool2d_forward(y, x, params) */
static int k_maxpool2d_forward(lua_State *L) {
  lc_pool2d_params p = pool_params(L, 3);
  lc_error e;
  if (lc_maxpool2d_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), &p, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

static int k_avgpool2d_forward(lua_State *L) {
  lc_pool2d_params p = pool_params(L, 3);
  lc_error e;
  if (lc_avgpool2d_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), &p, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

/* maxpool2d_backward(dx, dy, x, params) */
static int k_maxpool2d_backward(lua_State *L) {
  lc_pool2d_params p = pool_params(L, 4);
  lc_error e;
  if (lc_maxpool2d_backward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3), &p, lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

/* avgpool2d_backward(dx, dy, params) */
static int k_avgpool2d_backward(lua_State *L) {
  lc_pool2d_params p = pool_params(L, 3);
  lc_error e;
  if (lc_avgpool2d_backward(lc_checktensor(L, 1), lc_checktensor(L, 2), &p, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

/* adaptive_avgpool2d_forward(y, x): the output size is y's */
static int k_adaptive_avgpool2d_forward(lua_State *L) {
  lc_error e;
  if (lc_adaptive_avgpool2d_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

/* adaptive_avgpool2d_backward(dx, dy) */
static int k_adaptive_avgpool2d_backward(lua_State *L) {
  lc_error e;
  if (lc_adaptive_avgpool2d_backward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

/* batchnorm_forward(y, x, gamma, beta, running_mean, running_var, save_mean, save_invstd, training, momentum, eps) */
static int k_batchnorm_forward(lua_State *L) {
  lc_error e;
  if (lc_batchnorm_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3), lc_checktensor(L, 4),
                           lc_checktensor(L, 5), lc_checktensor(L, 6), lc_checktensor(L, 7), lc_checktensor(L, 8),
                           lua_toboolean(L, 9), (float)luaL_checknumber(L, 10), (float)luaL_checknumber(L, 11),
                           lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

/* batchnorm_backward(dx|nil, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd, training) */
static int k_batchnorm_backward(lua_State *L) {
  lc_error e;
  if (lc_batchnorm_backward(opttensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3), lc_checktensor(L, 4),
                            lc_checktensor(L, 5), lc_checktensor(L, 6), lc_checktensor(L, 7), lc_checktensor(L, 8),
                            lua_toboolean(L, 9), lc_ctx_of(L)->pool, &e))
    return lc_raise(L, &e);
  return 0;
}

static const luaL_Reg kernels[] = {
  {"conv2d_forward", k_conv2d_forward}, {"conv2d_backward", k_conv2d_backward},
  {"conv2d_cols_numel", k_conv2d_cols_numel},
  {"conv2d_output_size", k_conv2d_output_size}, {"conv2d_out_size", k_conv2d_out_size},
  {"pool2d_output_size", k_pool2d_output_size},
  {"maxpool2d_forward", k_maxpool2d_forward}, {"maxpool2d_backward", k_maxpool2d_backward},
  {"avgpool2d_forward", k_avgpool2d_forward}, {"avgpool2d_backward", k_avgpool2d_backward},
  {"adaptive_avgpool2d_forward", k_adaptive_avgpool2d_forward},
  {"adaptive_avgpool2d_backward", k_adaptive_avgpool2d_backward},
  {"batchnorm_forward", k_batchnorm_forward}, {"batchnorm_backward", k_batchnorm_backward},
  {NULL, NULL}};

void lc_bind_conv(lua_State *L, int ctx, int methods, int module) {
  lua_getfield(L, module, "kernels");
  lc_setfuncs(L, ctx, lua_gettop(L), kernels);
  lua_pop(L, 1);
}
