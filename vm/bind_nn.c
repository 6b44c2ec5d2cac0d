/* The layer, loss and optimizer kernels for Lua, as T.kernels.*: the building blocks
 * that stdlib/nn and stdlib/optim compose, and that users call to write their own layers.
 * Outputs are passed in (preallocated and reused by the layers), so a training step
 * allocates nothing once its buffers exist. */
#include <stdio.h>
#include <string.h>

#include "activation.h"
#include "bind.h"
#include "gather.h"
#include "linear.h"
#include "loss.h"
#include "optim.h"

static lc_tensor *opttensor(lua_State *L, int idx) { return lua_isnoneornil(L, idx) ? NULL : lc_checktensor(L, idx); }

static int k_linear_forward(lua_State *L) {
  lc_tensor *y = lc_checktensor(L, 1), *x = lc_checktensor(L, 2), *w = lc_checktensor(L, 3), *b = opttensor(L, 4);
  lc_error e;
  if (lc_linear_forward(y, x, w, b, lc_ctx_of(L)->scratch, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

static int k_linear_backward(lua_State *L) {
  lc_tensor *dx = opttensor(L, 1), *dw = lc_checktensor(L, 2), *db = opttensor(L, 3);
  lc_tensor *dy = lc_checktensor(L, 4), *x = lc_checktensor(L, 5), *w = lc_checktensor(L, 6);
  lc_error e;
  if (lc_linear_backward(dx, dw, db, dy, x, w, lc_ctx_of(L)->scratch, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

static lc_act check_act(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int act = lc_act_from_name(name);
  if (act < 0)
    luaL_error(L, "unknown activation '%s' (known: linear, relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, elu, "
                  "softplus, gelu)", name);
  return (lc_act)act;
}

static int k_act_known(lua_State *L) {
  lua_pushboolean(L, lc_act_from_name(luaL_checkstring(L, 1)) >= 0);
  return 1;
}

static int k_act_forward(lua_State *L) {
  lc_act act = check_act(L, 1);
  lc_tensor *y = lc_checktensor(L, 2), *x = lc_checktensor(L, 3);
  lc_error e;
  if (lc_act_forward(act, y, x, (float)luaL_optnumber(L, 4, 0), &e)) return lc_raise(L, &e);
  return 0;
}

static int k_act_backward(lua_State *L) {
  lc_act act = check_act(L, 1);
  lc_tensor *dx = lc_checktensor(L, 2), *dy = lc_checktensor(L, 3), *x = lc_checktensor(L, 4), *y = lc_checktensor(L, 5);
  lc_error e;
  if (lc_act_backward(act, dx, dy, x, y, (float)luaL_optnumber(L, 6, 0), &e)) return lc_raise(L, &e);
  return 0;
}

/* The three cross-entropies share one signature: the kernel pair is chosen by upvalue 2.
 *   X_forward(pred, target, from_logits, eps) -> mean loss
 *   X_backward(dpred, pred, target, from_logits, eps) */
typedef int (*xent_forward_fn)(const lc_tensor *, const lc_tensor *, int, float, double *, lc_error *);
typedef int (*xent_backward_fn)(lc_tensor *, const lc_tensor *, const lc_tensor *, int, float, lc_error *);
static const struct {
  const char *name;
  xent_forward_fn forward;
  xent_backward_fn backward;
} xents[] = {{"sparse_ce", lc_sparse_ce_forward, lc_sparse_ce_backward},
             {"ce", lc_ce_forward, lc_ce_backward},
             {"bce", lc_bce_forward, lc_bce_backward}};

static int k_xent_forward(lua_State *L) {
  double loss;
  lc_error e;
  if (xents[lua_tointeger(L, lua_upvalueindex(2))].forward(lc_checktensor(L, 1), lc_checktensor(L, 2), lua_toboolean(L, 3),
                                                           (float)luaL_optnumber(L, 4, 1e-7), &loss, &e))
    return lc_raise(L, &e);
  lua_pushnumber(L, loss);
  return 1;
}

static int k_xent_backward(lua_State *L) {
  lc_error e;
  if (xents[lua_tointeger(L, lua_upvalueindex(2))].backward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3),
                                                            lua_toboolean(L, 4), (float)luaL_optnumber(L, 5, 1e-7), &e))
    return lc_raise(L, &e);
  return 0;
}

static int k_mse_forward(lua_State *L) {
  double loss;
  lc_error e;
  if (lc_mse_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), &loss, &e)) return lc_raise(L, &e);
  lua_pushnumber(L, loss);
  return 1;
}

static int k_mse_backward(lua_State *L) {
  lc_error e;
  if (lc_mse_backward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3), &e)) return lc_raise(L, &e);
  return 0;
}

/* count_correct(pred, labels[, k]) -> number of samples whose label is in the top k */
static int k_count_correct(lua_State *L) {
  int64_t n;
  lc_error e;
  if (lc_count_correct(lc_checktensor(L, 1), lc_checktensor(L, 2), (int)luaL_optinteger(L, 3, 1), &n, &e))
    return lc_raise(L, &e);
  lua_pushinteger(L, n);
  return 1;
}

/* Parameters and state of an optimizer step: contiguous tensors of the same size. */
static float *flat(lua_State *L, int idx, int64_t n, const char *what, int optional) {
  if (optional && lua_isnoneornil(L, idx)) return NULL;
  lc_tensor *t = lc_checktensor(L, idx);
  if (!lc_is_contiguous(t) || lc_numel(t) != n)
    luaL_error(L, "%s: argument %d must be contiguous with %d elements (got %d)", what, idx, (int)n, (int)lc_numel(t));
  return t->data;
}

/* sgd_step(p, g, v|nil, lr, momentum, nesterov, weight_decay) */
static int k_sgd_step(lua_State *L) {
  lc_tensor *p = lc_checktensor(L, 1);
  int64_t n = lc_numel(p);
  float *pp = flat(L, 1, n, "sgd", 0), *g = flat(L, 2, n, "sgd", 0), *v = flat(L, 3, n, "sgd", 1);
  float momentum = (float)luaL_checknumber(L, 5);
  if (momentum != 0 && !v) luaL_error(L, "sgd: momentum needs a velocity buffer");
  lc_sgd_step(lc_ctx_of(L)->pool, pp, g, v, n, (float)luaL_checknumber(L, 4), momentum, lua_toboolean(L, 6), (float)luaL_checknumber(L, 7));
  return 0;
}

/* adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, t) */
static int k_adam_step(lua_State *L) {
  lc_tensor *p = lc_checktensor(L, 1);
  int64_t n = lc_numel(p);
  float *pp = flat(L, 1, n, "adam", 0), *g = flat(L, 2, n, "adam", 0), *m = flat(L, 3, n, "adam", 0),
        *v = flat(L, 4, n, "adam", 0);
  lua_Integer t = luaL_checkinteger(L, 10);
  if (t < 1) luaL_error(L, "adam: step count must be at least 1");
  lc_adam_step(lc_ctx_of(L)->pool, pp, g, m, v, n, (float)luaL_checknumber(L, 5), (float)luaL_checknumber(L, 6), (float)luaL_checknumber(L, 7),
               (float)luaL_checknumber(L, 8), (float)luaL_checknumber(L, 9), t);
  return 0;
}

/* rmsprop_step(p, g, s, mom|nil, lr, rho, eps, momentum) */
static int k_rmsprop_step(lua_State *L) {
  lc_tensor *p = lc_checktensor(L, 1);
  int64_t n = lc_numel(p);
  float *pp = flat(L, 1, n, "rmsprop", 0), *g = flat(L, 2, n, "rmsprop", 0), *s = flat(L, 3, n, "rmsprop", 0),
        *mom = flat(L, 4, n, "rmsprop", 1);
  lc_rmsprop_step(lc_ctx_of(L)->pool, pp, g, s, mom, n, (float)luaL_checknumber(L, 5), (float)luaL_checknumber(L, 6),
                  (float)luaL_checknumber(L, 7), (float)luaL_optnumber(L, 8, 0));
  return 0;
}

/* dropout_forward(y, mask, x, rate): draws the mask from the generator */
static int k_dropout_forward(lua_State *L) {
  lc_error e;
  if (lc_dropout_forward(lc_checktensor(L, 1), lc_checktensor(L, 2), lc_checktensor(L, 3), (float)luaL_checknumber(L, 4),
                         &lc_ctx_of(L)->rng, &e))
    return lc_raise(L, &e);
  return 0;
}

/* index_select(src, idx[, out]): rows of src at the 1-based indices idx (along dim 1) */
static int f_index_select(lua_State *L) {
  lc_tensor *src = lc_checktensor(L, 1), *idx = lc_checktensor(L, 2);
  lc_error e;
  lc_tensor *out;
  if (!lua_isnoneornil(L, 3)) {
    out = lc_checktensor(L, 3);
    if (out->storage == src->storage) luaL_error(L, "index_select: the output must not share memory with the source");
    lua_pushvalue(L, 3);
  } else {
    if (src->ndim < 1) luaL_error(L, "index_select: the source needs at least one dimension");
    if (idx->ndim != 1) luaL_error(L, "index_select: indices must be 1-D");
    int64_t shape[LC_MAX_DIMS];
    memcpy(shape, src->shape, sizeof shape);
    shape[0] = idx->shape[0];
    out = lc_pushtensor(L, src->ndim, shape);
  }
  if (lc_index_select(out, src, idx, 1, &e)) return lc_raise(L, &e);
  return 1;
}

static const luaL_Reg kernels[] = {
  {"linear_forward", k_linear_forward}, {"linear_backward", k_linear_backward},
  {"act_known", k_act_known}, {"act_forward", k_act_forward}, {"act_backward", k_act_backward},
  {"mse_forward", k_mse_forward}, {"mse_backward", k_mse_backward},
  {"count_correct", k_count_correct},
  {"sgd_step", k_sgd_step}, {"adam_step", k_adam_step}, {"rmsprop_step", k_rmsprop_step},
  {"dropout_forward", k_dropout_forward},
  {NULL, NULL}};

void lc_bind_nn(lua_State *L, int ctx, int methods, int module) {
  lua_newtable(L);
  int k = lua_gettop(L);
  lc_setfuncs(L, ctx, k, kernels);
  char name[32];
  for (int i = 0; i < (int)(sizeof xents / sizeof xents[0]); i++) {
    for (int backward = 0; backward <= 1; backward++) {
      lua_pushvalue(L, ctx);
      lua_pushinteger(L, i);
      lua_pushcclosure(L, backward ? k_xent_backward : k_xent_forward, 2);
      snprintf(name, sizeof name, "%s_%s", xents[i].name, backward ? "backward" : "forward");
      lua_setfield(L, k, name);
    }
  }
  lua_setfield(L, module, "kernels");
  static const luaL_Reg fns[] = {{"index_select", f_index_select}, {NULL, NULL}};
  lc_setfuncs(L, ctx, methods, fns);
}
