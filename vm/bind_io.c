/* Tensor files for Lua: T.load_idx / T.save_idx over ops/idx.c (MNIST's IDX format,
 * plain or .gz). */
#include <string.h>

#include "bind.h"
#include "elementwise.h"
#include "idx.h"

#define LC_IDX_MT "luacnn.IdxFile"

/* The open file lives in a userdata so that an error between open and close (the
 * tensor allocation failing) still closes it, when the collector runs. __gc and
 * __close share this function, which is safe to call twice. */
static int idx_free(lua_State *L) {
  lc_idx_file **box = luaL_checkudata(L, 1, LC_IDX_MT);
  lc_idx_close(*box);
  *box = NULL;
  return 0;
}

/* load_idx(path) -> tensor of the file's shape, float32 values as stored (0..255 for ubyte). */
static int f_load_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lc_idx_file **box = lc_push_closing_box(L, sizeof *box, LC_IDX_MT, idx_free);
  int box_idx = lua_gettop(L);
  lc_error e;
  if (lc_idx_open(path, box, &e)) return luaL_error(L, "load_idx: %s", e.msg);
  lc_tensor *t = lc_pushtensor(L, (*box)->ndim, (*box)->shape);
  if (lc_idx_read(*box, t->data, &e)) return luaL_error(L, "load_idx: %s", e.msg);
  lua_closeslot(L, box_idx);
  return 1;
}

/* save_idx(path, t[, "float"|"ubyte"]): float (the default) stores any tensor exactly;
 * ubyte needs integers 0..255. A path ending in .gz is compressed. */
static int f_save_idx(lua_State *L) {
  static const char *const types[] = {"float", "ubyte", NULL};
  const char *path = luaL_checkstring(L, 1);
  lc_tensor *t = lc_checktensor(L, 2);
  int type = luaL_checkoption(L, 3, "float", types) == 0 ? LC_IDX_FLOAT : LC_IDX_UBYTE;
  if (t->ndim == 0) luaL_error(L, "save_idx: %s: a 0-dimensional tensor cannot be an IDX file (view it as {1})", path);
  const lc_tensor *src = t;
  if (!lc_is_contiguous(t)) {
    lc_tensor *c = lc_pushtensor_like(L, t);
    lc_copy(c, t, NULL);
    src = c;
  }
  lc_error e;
  if (lc_idx_write(path, type, src->ndim, src->shape, src->data, &e)) return luaL_error(L, "save_idx: %s", e.msg);
  return 0;
}

static const luaL_Reg io_functions[] = {{"load_idx", f_load_idx}, {"save_idx", f_save_idx}, {NULL, NULL}};

void lc_bind_io(lua_State *L, int ctx, int methods, int module) { lc_setfuncs(L, ctx, module, io_functions); }
