/* Data sets and augmentation for Lua: T.load_cifar / T.save_cifar over ops/cifar.c, and
 * T.kernels.augment_draw / augment_apply over ops/augment.c (stdlib/datasets wraps them). */
#include "augment.h"
#include "bind.h"
#include "cifar.h"
#include "elementwise.h"

/* The file names of a paths table at idx, checked to be strings. */
static const char *path_at(lua_State *L, int idx, int i) {
  if (lua_rawgeti(L, idx, i) != LUA_TSTRING) luaL_error(L, "load_cifar: paths[%d] is not a file name", i);
  const char *p = lua_tostring(L, -1);
  lua_pop(L, 1);  /* the string stays alive in the table */
  return p;
}

/* load_cifar({path, ...}[, limit[, divisor]]) -> images [N,3,32,32], labels [N]: the
 * records of the files in order, the first `limit` of them when given (later files are
 * then not read), pixel bytes divided by divisor (default 1). */
static int f_load_cifar(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer limit = luaL_optinteger(L, 2, -1);
  float divisor = (float)luaL_optnumber(L, 3, 1.0);
  int nfiles = (int)luaL_len(L, 1);
  if (nfiles < 1) luaL_error(L, "load_cifar: expected a list of file names, got an empty table");
  if (lua_gettop(L) >= 2 && !lua_isnil(L, 2) && limit < 0)
    luaL_error(L, "load_cifar: the record limit must be >= 0, got %I", limit);
  lc_error e;
  int64_t total = 0;
  for (int i = 1; i <= nfiles; i++) {
    int64_t records;
    if (lc_cifar_file_records(path_at(L, 1, i), &records, &e)) return luaL_error(L, "load_cifar: %s", e.msg);
    total += records;
  }
  int64_t n = limit >= 0 && limit < total ? limit : total;
  int64_t xs[4] = {n, LC_CIFAR_CHANNELS, LC_CIFAR_SIDE, LC_CIFAR_SIDE}, ys[1] = {n};
  lc_tensor *x = lc_pushtensor(L, 4, xs);
  lc_tensor *y = lc_pushtensor(L, 1, ys);
  int64_t done = 0;
  for (int i = 1; i <= nfiles && done < n; i++) {
    const char *path = path_at(L, 1, i);
    int64_t records;
    if (lc_cifar_file_records(path, &records, &e)) return luaL_error(L, "load_cifar: %s", e.msg);
    int64_t k = n - done < records ? n - done : records;
    if (lc_cifar_read(path, k, divisor, x->data + done * LC_CIFAR_IMAGE_BYTES, y->data + done, &e))
      return luaL_error(L, "load_cifar: %s", e.msg);
    done += k;
  }
  if (done < n) return luaL_error(L, "load_cifar: the files shrank while they were read");
  return 2;
}

/* save_cifar(path, images [N,3,32,32], labels [N]): integers 0..255 and 0..9. */
static int f_save_cifar(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lc_tensor *x = lc_checktensor(L, 2), *y = lc_checktensor(L, 3);
  char a[96], b[96];
  if (x->ndim != 4 || x->shape[1] != LC_CIFAR_CHANNELS || x->shape[2] != LC_CIFAR_SIDE || x->shape[3] != LC_CIFAR_SIDE)
    luaL_error(L, "save_cifar: %s: images must be [N,3,32,32], got %s", path,
               lc_shape_str(a, sizeof a, x->ndim, x->shape));
  if (y->ndim != 1 || y->shape[0] != x->shape[0])
    luaL_error(L, "save_cifar: %s: labels must be [%I] for %s images, got %s", path, (lua_Integer)x->shape[0],
               lc_shape_str(a, sizeof a, x->ndim, x->shape), lc_shape_str(b, sizeof b, y->ndim, y->shape));
  const lc_tensor *xs = x, *ys = y;
  if (!lc_is_contiguous(x)) {
    lc_tensor *c = lc_pushtensor_like(L, x);
    lc_copy(c, x, NULL);
    xs = c;
  }
  if (!lc_is_contiguous(y)) {
    lc_tensor *c = lc_pushtensor_like(L, y);
    lc_copy(c, y, NULL);
    ys = c;
  }
  lc_error e;
  if (lc_cifar_write(path, xs->shape[0], xs->data, ys->data, &e)) return luaL_error(L, "save_cifar: %s", e.msg);
  return 0;
}

/* The draws tensor of a batch: [N,3], contiguous. */
static lc_tensor *check_draws(lua_State *L, int idx, int64_t n) {
  lc_tensor *d = lc_checktensor(L, idx);
  if (d->ndim != 2 || d->shape[1] != 3 || (n >= 0 && d->shape[0] != n) || !lc_is_contiguous(d)) {
    char a[96];
    luaL_error(L, "augment: draws must be a contiguous [N,3] tensor%s, got %s%s", n >= 0 ? " for the batch" : "",
               lc_shape_str(a, sizeof a, d->ndim, d->shape), lc_is_contiguous(d) ? "" : " (not contiguous)");
  }
  return d;
}

/* augment_draw(draws [N,3], max_top, max_left, flip): fills draws from the state's
 * generator (see lc_augment_draw). */
static int k_augment_draw(lua_State *L) {
  lc_tensor *d = check_draws(L, 1, -1);
  lua_Integer max_top = luaL_checkinteger(L, 2), max_left = luaL_checkinteger(L, 3);
  if (max_top < 0 || max_left < 0 || max_top > (1 << 24) || max_left > (1 << 24))
    luaL_error(L, "augment: crop offsets 0..%I x 0..%I are out of range", max_top, max_left);
  lc_augment_draw(&lc_ctx_of(L)->rng, d->shape[0], max_top, max_left, lua_toboolean(L, 4), d->data);
  return 0;
}

/* Mean or std: nil, or a contiguous [C] tensor. */
static const float *channel_values(lua_State *L, int idx, int64_t C, const char *what) {
  if (lua_isnoneornil(L, idx)) return NULL;
  lc_tensor *t = lc_checktensor(L, idx);
  if (t->ndim != 1 || t->shape[0] != C || !lc_is_contiguous(t))
    luaL_error(L, "augment: %s must have one value per channel (%I), got %I", what, (lua_Integer)C,
               (lua_Integer)(t->ndim == 1 ? t->shape[0] : lc_numel(t)));
  return t->data;
}

/* augment_apply(out [N,C,OH,OW], x [N,C,H,W], draws [N,3], pad, OH, OW[, mean [C], std [C]]) */
static int k_augment_apply(lua_State *L) {
  lc_tensor *out = lc_checktensor(L, 1), *x = lc_checktensor(L, 2);
  lc_tensor *d = check_draws(L, 3, x->ndim >= 1 ? x->shape[0] : -1);
  lc_augment_spec s;
  s.pad = luaL_checkinteger(L, 4);
  s.out_h = luaL_checkinteger(L, 5);
  s.out_w = luaL_checkinteger(L, 6);
  int64_t C = x->ndim == 4 ? x->shape[1] : 0;
  s.mean = channel_values(L, 7, C, "mean");
  s.std = channel_values(L, 8, C, "std");
  lc_error e;
  if (lc_augment_apply(out, x, d->data, &s, lc_ctx_of(L)->pool, &e)) return lc_raise(L, &e);
  return 0;
}

static const luaL_Reg data_functions[] = {{"load_cifar", f_load_cifar}, {"save_cifar", f_save_cifar}, {NULL, NULL}};
static const luaL_Reg data_kernels[] = {
  {"augment_draw", k_augment_draw}, {"augment_apply", k_augment_apply}, {NULL, NULL}};

void lc_bind_data(lua_State *L, int ctx, int methods, int module) {
  lc_setfuncs(L, ctx, module, data_functions);
  lua_getfield(L, module, "kernels");
  lc_setfuncs(L, ctx, lua_gettop(L), data_kernels);
  lua_pop(L, 1);
}
