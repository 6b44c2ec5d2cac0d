/* Tensors as Lua userdata: creation, element access, views, printing, lifetime.
 * Lua indices and dims are 1-based (negative counts from the end); ops/ is 0-based. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "elementwise.h"

/* Tell the collector about tensor memory it cannot see (storage is malloc'd), so that
 * loops making many temporary tensors stay bounded without explicit collectgarbage(). */
#define LC_GC_STEP_BYTES ((size_t)4 << 20)

int lc_script_error(lua_State *L, const char *fmt, ...) {
  lua_Debug ar;
  int level = 1, found = 0;
  while (!found && lua_getstack(L, level++, &ar)) {
    lua_getinfo(L, "Sl", &ar);
    found = ar.currentline > 0;
  }
  if (found) lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
  else lua_pushliteral(L, "");
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

int lc_raise(lua_State *L, const lc_error *e) { return lc_script_error(L, "%s", e->msg); }

lc_tensor *lc_totensor(lua_State *L, int idx) {
  lc_tensor *t = luaL_testudata(L, idx, LC_TENSOR_MT);
  return t && t->storage ? t : NULL;
}

lc_tensor *lc_checktensor(lua_State *L, int idx) {
  lc_tensor *t = luaL_testudata(L, idx, LC_TENSOR_MT);
  if (!t) {
    luaL_typeerror(L, idx, "tensor");
    return NULL;
  }
  if (!t->storage) luaL_argerror(L, idx, "tensor was freed (closed) and cannot be used");
  return t;
}

static lc_tensor *new_udata(lua_State *L) {
  lc_tensor *t = lua_newuserdatauv(L, sizeof(lc_tensor), 0);
  t->storage = NULL;
  t->data = NULL;
  t->ndim = 0;
  luaL_setmetatable(L, LC_TENSOR_MT);
  return t;
}

/* The name the running C function was called by ("zeros", "clone", "add" for __add),
 * as luaL_argerror finds it, so an allocation failure deep in a helper still names
 * the operation the script wrote. */
static const char *called_as(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) return ar.name;
  return "tensor";
}

lc_tensor *lc_pushtensor(lua_State *L, int ndim, const int64_t *shape) {
  lc_ctx *ctx = lc_ctx_of(L);
  lc_error e;
  if (ctx->budget) {
    /* bad sizes get their own message below; a product past the limit is over any budget */
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
      if (shape[d] <= 0) {
        numel = 0;
        break;
      }
      numel = numel > LC_MAX_NUMEL / shape[d] ? LC_MAX_NUMEL + 1 : numel * shape[d];
    }
    size_t live = lc_allocator_live_bytes(ctx->alloc);
    if (numel > LC_MAX_NUMEL || live + (size_t)numel * sizeof(float) > ctx->budget) {
      char s[256];
      luaL_error(L, "%s: shape %s would take the live tensor memory over its budget of %I bytes (%I in use)",
                 called_as(L), lc_shape_str(s, sizeof s, ndim, shape), (lua_Integer)ctx->budget, (lua_Integer)live);
    }
  }
  lc_tensor *t = new_udata(L);
  if (lc_tensor_init(t, ctx->alloc, ndim, shape, &e)) {
    const char *what = called_as(L);
    if (lc_check_shape(what, ndim, shape, NULL, &e) == 0) {  /* a valid shape: out of memory */
      char s[256];
      luaL_error(L, "%s: shape %s: %s", what, lc_shape_str(s, sizeof s, ndim, shape), e.msg);
    }
    lc_raise(L, &e);
  }
  ctx->live_tensors++;
  ctx->gc_pending += t->storage->bytes;
  if (ctx->gc_pending >= LC_GC_STEP_BYTES) {
    int kb = (int)(ctx->gc_pending / 1024 > 1u << 30 ? 1u << 30 : ctx->gc_pending / 1024);
    ctx->gc_pending = 0;
    lua_gc(L, LUA_GCSTEP, kb);
  }
  return t;
}

lc_tensor *lc_pushtensor_like(lua_State *L, const lc_tensor *t) { return lc_pushtensor(L, t->ndim, t->shape); }

lc_tensor *lc_pushview(lua_State *L, const lc_tensor *src) {
  lc_tensor *t = new_udata(L);
  lc_tensor_init_view(t, src);
  lc_ctx_of(L)->live_tensors++;
  return t;
}

/* __gc and __close: safe to call twice; a closed tensor raises on later use. */
static int t_free(lua_State *L) {
  lc_tensor *t = luaL_checkudata(L, 1, LC_TENSOR_MT);
  if (t->storage) {
    lc_tensor_release(t);
    lc_ctx_of(L)->live_tensors--;
  }
  return 0;
}

/* ---- shapes and dims ---- */

int lc_checkshape(lua_State *L, int idx, int64_t *shape, const char *what) {
  int ndim = 0;
  if (lua_istable(L, idx)) {
    lua_Integer n = luaL_len(L, idx);
    if (n > LC_MAX_DIMS) luaL_error(L, "%s: %I dimensions requested, at most %d are supported", what, n, LC_MAX_DIMS);
    for (int d = 0; d < n; d++) {
      lua_geti(L, idx, d + 1);
      int ok;
      lua_Integer v = lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_error(L, "%s: size of dimension %d is not an integer (%s)", what, d + 1, luaL_typename(L, -1));
      lua_pop(L, 1);
      shape[ndim++] = v;
    }
  } else {
    int top = lua_gettop(L);
    for (int i = idx; i <= top; i++) {
      if (ndim == LC_MAX_DIMS) luaL_error(L, "%s: at most %d dimensions are supported", what, LC_MAX_DIMS);
      int ok;
      lua_Integer v = lua_tointegerx(L, i, &ok);
      if (!ok) luaL_error(L, "%s: expected a shape ({3,4} or 3,4), got %s for dimension %d", what,
                          luaL_typename(L, i), ndim + 1);
      shape[ndim++] = v;
    }
  }
  return ndim;
}

int lc_checkdim(lua_State *L, int idx, int ndim, int ndim_extra, const char *what) {
  int ok;
  lua_Integer d = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_error(L, "%s: dimension must be an integer, got %s", what, luaL_typename(L, idx));
  int range = ndim + ndim_extra;
  if (d < 0) d += range + 1;
  if (d < 1 || d > range) {
    if (range == 0) luaL_error(L, "%s: a 0-dimensional tensor has no dimensions", what);
    luaL_error(L, "%s: dimension %I out of range (the tensor has %d dimension%s)", what,
               (lua_Integer)lua_tointeger(L, idx), ndim, ndim == 1 ? "" : "s");
  }
  return (int)d - 1;
}

void lc_pushsize(lua_State *L, int ndim, const int64_t *shape) {
  lua_createtable(L, ndim, 0);
  for (int d = 0; d < ndim; d++) {
    lua_pushinteger(L, shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  luaL_setmetatable(L, LC_SIZE_MT);
}

static int size_tostring(lua_State *L) {
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checkshape(L, 1, shape, "Size");
  char buf[256];
  lua_pushstring(L, lc_shape_str(buf, sizeof buf, ndim, shape));
  return 1;
}

/* 1-based (negative from the end) index into a dim of the given size, returned 0-based.
 * The message shows the index as the script wrote it. */
static int64_t check_index(lua_State *L, lua_Integer given, int64_t size, int dim, const char *what) {
  lua_Integer i = given < 0 ? given + size + 1 : given;
  if (i < 1 || i > size)
    luaL_error(L, "%s: %I is out of range for dimension %d of size %I%s", what, given, dim + 1, (lua_Integer)size,
               given == 0 ? " (indices start at 1)" : "");
  return i - 1;
}

/* An index given as a number: integers, and floats with an integral value (t[n/2]). */
static lua_Integer check_integer_key(lua_State *L, int idx, const char *what) {
  int ok;
  lua_Integer i = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_error(L, "%s: %s is not an integer index", what, lua_tostring(L, idx));
  return i;
}

/* ---- creation ---- */

int lc_checknewshape(lua_State *L, int idx, int64_t *shape, const char *what) {
  int ndim = lc_checkshape(L, idx, shape, what);
  lc_error e;
  if (lc_check_shape(what, ndim, shape, NULL, &e)) lc_raise(L, &e);
  return ndim;
}

static int f_empty(lua_State *L) {
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checknewshape(L, 1, shape, "empty");
  lc_pushtensor(L, ndim, shape);
  return 1;
}

static int fill_new(lua_State *L, float v, const char *what) {
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checknewshape(L, 1, shape, what);
  lc_tensor *t = lc_pushtensor(L, ndim, shape);
  lc_fill(t, v);
  return 1;
}

static int f_zeros(lua_State *L) { return fill_new(L, 0.0f, "zeros"); }
static int f_ones(lua_State *L) { return fill_new(L, 1.0f, "ones"); }

static int f_full(lua_State *L) {
  int64_t shape[LC_MAX_DIMS];
  luaL_checktype(L, 1, LUA_TTABLE);
  int ndim = lc_checknewshape(L, 1, shape, "full");
  float v = (float)luaL_checknumber(L, 2);
  lc_fill(lc_pushtensor(L, ndim, shape), v);
  return 1;
}

static int like(lua_State *L, float v, int fill) {
  lc_tensor *src = lc_checktensor(L, 1);
  lc_tensor *t = lc_pushtensor_like(L, src);
  if (fill) lc_fill(t, v);
  return 1;
}
static int f_zeros_like(lua_State *L) { return like(L, 0.0f, 1); }
static int f_ones_like(lua_State *L) { return like(L, 1.0f, 1); }
static int f_empty_like(lua_State *L) { return like(L, 0.0f, 0); }

/* arange(stop), arange(start, stop[, step]): end excluded, as in NumPy and PyTorch. */
static int f_arange(lua_State *L) {
  double start = 0, stop, step = 1;
  if (lua_isnoneornil(L, 2)) {
    stop = luaL_checknumber(L, 1);
  } else {
    start = luaL_checknumber(L, 1);
    stop = luaL_checknumber(L, 2);
    step = luaL_optnumber(L, 3, 1);
  }
  if (!isfinite(start) || !isfinite(stop) || !isfinite(step))
    luaL_error(L, "arange: start, end and step must be finite (got %f, %f, %f)", (lua_Number)start, (lua_Number)stop,
               (lua_Number)step);
  if (step == 0) luaL_error(L, "arange: step must not be zero");
  double count = ceil((stop - start) / step);
  if (!(count >= 0)) count = 0;
  if (count > (double)LC_MAX_NUMEL)
    luaL_error(L, "arange: %f elements are more than 2^40", (lua_Number)count);
  int64_t n = (int64_t)count;
  lc_tensor *t = lc_pushtensor(L, 1, &n);
  for (int64_t i = 0; i < n; i++) t->data[i] = (float)(start + (double)i * step);
  return 1;
}

static int f_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  if (n < 0 || n > LC_MAX_NUMEL) luaL_error(L, "linspace: count %I must be in 0..2^40", n);
  int64_t shape = n;
  lc_tensor *t = lc_pushtensor(L, 1, &shape);
  for (int64_t i = 0; i < n; i++) t->data[i] = (float)(n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1));
  return 1;
}

static int f_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), m = luaL_optinteger(L, 2, n);
  int64_t shape[2] = {n, m};
  lc_error e;
  if (lc_check_shape("eye", 2, shape, NULL, &e)) lc_raise(L, &e);
  lc_tensor *t = lc_pushtensor(L, 2, shape);
  lc_fill(t, 0);
  for (int64_t i = 0; i < n && i < m; i++) t->data[i * m + i] = 1;
  return 1;
}

/* tensor{{1,2},{3,4}}: the shape is read from the first element at each depth, then
 * every sub-table is checked against it. */
static void nested_shape(lua_State *L, int idx, int *ndim, int64_t *shape) {
  lua_pushvalue(L, idx);
  *ndim = 0;
  while (lua_istable(L, -1)) {
    if (*ndim == LC_MAX_DIMS) luaL_error(L, "tensor: nested tables deeper than %d levels", LC_MAX_DIMS);
    shape[(*ndim)++] = (int64_t)luaL_len(L, -1);
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

static void nested_fill(lua_State *L, int idx, int depth, int ndim, const int64_t *shape, float **out, int64_t *pos) {
  lua_Integer n = luaL_len(L, idx);
  if (n != shape[depth])
    luaL_error(L, "tensor: ragged nested table: a list at depth %d has %I elements, expected %I", depth + 1, n,
               (lua_Integer)shape[depth]);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    if (depth + 1 < ndim) {
      if (!lua_istable(L, -1))
        luaL_error(L, "tensor: element %d at depth %d is a %s, expected a table", (int)i, depth + 1, luaL_typename(L, -1));
      nested_fill(L, lua_gettop(L), depth + 1, ndim, shape, out, pos);
    } else {
      int ok;
      lua_Number v = lua_tonumberx(L, -1, &ok);
      if (!ok) luaL_error(L, "tensor: element %d at depth %d is a %s, expected a number", (int)i, depth + 1,
                          luaL_typename(L, -1));
      (*out)[(*pos)++] = (float)v;
    }
    lua_pop(L, 1);
  }
}

static int f_tensor(lua_State *L) {
  if (lua_isnumber(L, 1)) {
    lc_tensor *t = lc_pushtensor(L, 0, NULL);
    t->data[0] = (float)lua_tonumber(L, 1);
    return 1;
  }
  lc_tensor *src = lc_totensor(L, 1);
  if (src) {
    lc_tensor *t = lc_pushtensor_like(L, src);
    lc_copy(t, src, NULL);
    return 1;
  }
  luaL_argexpected(L, lua_istable(L, 1), 1, "nested table of numbers, number or tensor");
  int ndim;
  int64_t shape[LC_MAX_DIMS];
  nested_shape(L, 1, &ndim, shape);
  lc_tensor *t = lc_pushtensor(L, ndim, shape);
  float *p = t->data;
  int64_t pos = 0;
  nested_fill(L, 1, 0, ndim, shape, &p, &pos);
  return 1;
}

static int f_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LC_TENSOR_MT) != NULL);
  return 1;
}

/* ---- information ---- */

static int m_size(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lc_pushsize(L, t->ndim, t->shape);
  } else {
    lua_pushinteger(L, t->shape[lc_checkdim(L, 2, t->ndim, 0, "size")]);
  }
  return 1;
}

static int m_stride(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lc_pushsize(L, t->ndim, t->stride);
  } else {
    lua_pushinteger(L, t->stride[lc_checkdim(L, 2, t->ndim, 0, "stride")]);
  }
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, lc_checktensor(L, 1)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, lc_numel(lc_checktensor(L, 1)));
  return 1;
}

static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, lc_is_contiguous(lc_checktensor(L, 1)));
  return 1;
}

static int m_len(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
  return 1;
}

static int m_item(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (lc_numel(t) != 1) {
    char s[200];
    luaL_error(L, "item: tensor of shape %s has %I elements, expected exactly 1", lc_shape_str(s, sizeof s, t->ndim, t->shape),
               (lua_Integer)lc_numel(t));
  }
  lua_pushnumber(L, t->data[0]);
  return 1;
}

/* Element pointer from the integer arguments idx.. (one per dim). */
static float *element(lua_State *L, lc_tensor *t, int idx, int nidx, const char *what) {
  if (nidx != t->ndim)
    luaL_error(L, "%s: %d indices given for a %d-dimensional tensor", what, nidx, t->ndim);
  int64_t off = 0;
  for (int d = 0; d < t->ndim; d++)
    off += check_index(L, luaL_checkinteger(L, idx + d), t->shape[d], d, what) * t->stride[d];
  return t->data + off;
}

static int m_get(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lua_pushnumber(L, *element(L, t, 2, lua_gettop(L) - 1, "get"));
  return 1;
}

static int m_set(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int top = lua_gettop(L);
  float v = (float)luaL_checknumber(L, top);
  *element(L, t, 2, top - 2, "set") = v;
  lua_settop(L, 1);
  return 1;
}

static void push_totable(lua_State *L, const float *p, const lc_tensor *t, int d) {
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    if (d + 1 == t->ndim) lua_pushnumber(L, p[i * t->stride[d]]);
    else push_totable(L, p + i * t->stride[d], t, d + 1);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_totable(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (t->ndim == 0) lua_pushnumber(L, t->data[0]);
  else push_totable(L, t->data, t, 0);
  return 1;
}

/* ---- views ---- */

/* Pushes t viewed (or, when may_copy and the strides do not allow a view, copied) as shape. */
static void push_reshaped(lua_State *L, const lc_tensor *t, int ndim, int64_t *shape, int may_copy, const char *what) {
  lc_error e;
  lc_tensor v = *t;
  int r = lc_view_reshape(&v, what, ndim, shape, &e);
  if (r < 0) lc_raise(L, &e);
  if (r == 0) {
    lc_pushview(L, &v);
    return;
  }
  if (!may_copy) {
    char a[200], b[200], c[200];
    luaL_error(L, "%s: cannot view %s with strides %s as %s without copying; use reshape (or contiguous():view)", what,
               lc_shape_str(a, sizeof a, t->ndim, t->shape), lc_shape_str(b, sizeof b, t->ndim, t->stride),
               lc_shape_str(c, sizeof c, ndim, shape));
  }
  /* copy t in row-major order into the new storage, seen with t's own shape */
  lc_tensor dst = *lc_pushtensor(L, ndim, shape);
  dst.ndim = t->ndim;
  memcpy(dst.shape, t->shape, sizeof t->shape);
  lc_contiguous_strides(t->ndim, t->shape, dst.stride);
  lc_copy(&dst, t, NULL);
}

static int m_view_or_reshape(lua_State *L, int may_copy) {
  lc_tensor *t = lc_checktensor(L, 1);
  const char *what = may_copy ? "reshape" : "view";
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checkshape(L, 2, shape, what);
  push_reshaped(L, t, ndim, shape, may_copy, what);
  return 1;
}
static int m_view(lua_State *L) { return m_view_or_reshape(L, 0); }
static int m_reshape(lua_State *L) { return m_view_or_reshape(L, 1); }

static int m_contiguous(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (lc_is_contiguous(t)) {
    lua_settop(L, 1);
    return 1;
  }
  lc_copy(lc_pushtensor_like(L, t), t, NULL);
  return 1;
}

static int m_clone(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_copy(lc_pushtensor_like(L, t), t, NULL);
  return 1;
}

static int m_transpose(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_tensor v = *t;
  int d0, d1;
  if (lua_isnoneornil(L, 2) && t->ndim == 2) {
    d0 = 0, d1 = 1;
  } else {
    d0 = lc_checkdim(L, 2, t->ndim, 0, "transpose");
    d1 = lc_checkdim(L, 3, t->ndim, 0, "transpose");
  }
  lc_view_transpose(&v, d0, d1, NULL);
  lc_pushview(L, &v);
  return 1;
}

static int m_t(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  if (t->ndim > 2) {
    char s[200];
    luaL_error(L, "t: expects a tensor of at most 2 dimensions, got %s; use transpose(d1, d2)",
               lc_shape_str(s, sizeof s, t->ndim, t->shape));
  }
  lc_tensor v = *t;
  if (t->ndim == 2) lc_view_transpose(&v, 0, 1, NULL);
  lc_pushview(L, &v);
  return 1;
}

static int m_permute(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int64_t dims[LC_MAX_DIMS];
  int n = lc_checkshape(L, 2, dims, "permute");
  if (n != t->ndim) luaL_error(L, "permute: %d dimensions given for a %d-dimensional tensor", n, t->ndim);
  int perm[LC_MAX_DIMS];
  for (int d = 0; d < n; d++) {
    if (dims[d] == 0 || dims[d] < -n || dims[d] > n)
      luaL_error(L, "permute: dimension %I at position %d out of range for a %d-dimensional tensor",
                 (lua_Integer)dims[d], d + 1, n);
    perm[d] = (int)(dims[d] < 0 ? dims[d] + n : dims[d] - 1);
  }
  lc_tensor v = *t;
  lc_error e;
  if (lc_view_permute(&v, perm, &e)) return lc_raise(L, &e);
  lc_pushview(L, &v);
  return 1;
}

static int m_narrow(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int d = lc_checkdim(L, 2, t->ndim, 0, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (start < 0) start += t->shape[d] + 1;
  lc_tensor v = *t;
  lc_error e;
  if (lc_view_narrow(&v, d, start - 1, len, &e)) return lc_raise(L, &e);
  lc_pushview(L, &v);
  return 1;
}

static int m_select(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int d = lc_checkdim(L, 2, t->ndim, 0, "select");
  int64_t i = check_index(L, luaL_checkinteger(L, 3), t->shape[d], d, "select");
  lc_tensor v = *t;
  lc_view_select(&v, d, i, NULL);
  lc_pushview(L, &v);
  return 1;
}

static int m_squeeze(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_tensor v = *t;
  if (lua_isnoneornil(L, 2)) lc_view_squeeze_all(&v);
  else lc_view_squeeze(&v, lc_checkdim(L, 2, t->ndim, 0, "squeeze"), NULL);
  lc_pushview(L, &v);
  return 1;
}

static int m_unsqueeze(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int d = lc_checkdim(L, 2, t->ndim, 1, "unsqueeze");
  lc_tensor v = *t;
  lc_error e;
  if (lc_view_unsqueeze(&v, d, &e)) return lc_raise(L, &e);
  lc_pushview(L, &v);
  return 1;
}

static int m_expand(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int64_t shape[LC_MAX_DIMS];
  int ndim = lc_checkshape(L, 2, shape, "expand");
  lc_tensor v = *t;
  lc_error e;
  if (lc_view_expand(&v, ndim, shape, &e)) return lc_raise(L, &e);
  lc_pushview(L, &v);
  return 1;
}

/* flatten([start_dim=1[, end_dim=-1]]): merges the dims start..end into one. */
static int m_flatten(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  int64_t shape[LC_MAX_DIMS];
  int n = 0;
  if (t->ndim == 0) {
    shape[n++] = 1;
  } else {
    int s = lua_isnoneornil(L, 2) ? 0 : lc_checkdim(L, 2, t->ndim, 0, "flatten");
    int en = lua_isnoneornil(L, 3) ? t->ndim - 1 : lc_checkdim(L, 3, t->ndim, 0, "flatten");
    if (en < s) luaL_error(L, "flatten: end dimension %d is before start dimension %d", en + 1, s + 1);
    for (int d = 0; d < s; d++) shape[n++] = t->shape[d];
    int64_t mid = 1;
    for (int d = s; d <= en; d++) mid *= t->shape[d];
    shape[n++] = mid;
    for (int d = en + 1; d < t->ndim; d++) shape[n++] = t->shape[d];
  }
  push_reshaped(L, t, n, shape, 1, "flatten");
  return 1;
}

/* t[{spec, spec, ...}]: per dim, a number selects (the dim disappears), {} keeps all,
 * {a, b} keeps a..b inclusive and {a, b, step} every step-th; negative counts from the end. */
static void slice_view(lua_State *L, int key, lc_tensor *v) {
  lua_Integer n = luaL_len(L, key);
  if (n > v->ndim) luaL_error(L, "index: %I index entries for a %d-dimensional tensor", n, v->ndim);
  int d = 0;
  lc_error e;
  for (lua_Integer k = 1; k <= n; k++) {
    int ty = lua_geti(L, key, k);
    if (ty == LUA_TNUMBER) {
      int64_t i = check_index(L, check_integer_key(L, -1, "index"), v->shape[d], d, "index");
      lc_view_select(v, d, i, NULL);
    } else if (ty == LUA_TTABLE) {
      int spec = lua_gettop(L);
      lua_Integer len = luaL_len(L, spec);
      int64_t size = v->shape[d];
      lua_Integer a = 1, b = size, step = 1;
      if (len > 3) luaL_error(L, "index: entry %I has %I numbers; use {}, {i}, {first, last} or {first, last, step}", k, len);
      lua_Integer spec_v[3];
      for (int q = 0; q < len; q++) {
        lua_geti(L, spec, q + 1);
        int ok;
        spec_v[q] = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "index: entry %I: element %d is a %s, expected an integer", k, q + 1, luaL_typename(L, -1));
        lua_pop(L, 1);
      }
      if (len >= 1) a = spec_v[0];
      if (len >= 2) b = spec_v[1];
      else if (len == 1) b = a;
      if (len >= 3) step = spec_v[2];
      lua_Integer a_given = a, b_given = b;
      if (a < 0) a += size + 1;
      if (b < 0) b += size + 1;
      if (step < 1) luaL_error(L, "index: step %I in entry %I must be at least 1", step, k);
      if (a < 1 || b > size || (a > b + 1))
        luaL_error(L, "index: range %I..%I is outside dimension %d of size %I", a_given, b_given, d + 1, (lua_Integer)size);
      int64_t count = b >= a ? (b - a) / step + 1 : 0;
      if (lc_view_slice(v, d, a - 1, count, step, &e)) lc_raise(L, &e);
      d++;
    } else {
      luaL_error(L, "index: entry %I is a %s; use a number, {} or {first, last[, step]}", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
}

static int m_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(2));
    return 1;
  }
  lc_tensor *t = lc_checktensor(L, 1);
  lc_tensor v = *t;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    if (t->ndim == 0) luaL_error(L, "index: a 0-dimensional tensor cannot be indexed; use item()");
    int64_t i = check_index(L, check_integer_key(L, 2, "index"), t->shape[0], 0, "index");
    if (t->ndim == 1) {
      lua_pushnumber(L, t->data[i * t->stride[0]]);
      return 1;
    }
    lc_view_select(&v, 0, i, NULL);
  } else if (lua_istable(L, 2)) {
    slice_view(L, 2, &v);
  } else {
    luaL_error(L, "index: cannot index a tensor with a %s", luaL_typename(L, 2));
  }
  lc_pushview(L, &v);
  return 1;
}

/* t[i] = x and t[{...}] = x: a number fills, a tensor is copied (broadcast) in. */
static int m_newindex(lua_State *L) {
  lc_tensor *t = lc_checktensor(L, 1);
  lc_tensor v = *t;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    if (t->ndim == 0) luaL_error(L, "index: a 0-dimensional tensor cannot be indexed; use fill()");
    lc_view_select(&v, 0, check_index(L, check_integer_key(L, 2, "index"), t->shape[0], 0, "index"), NULL);
  } else if (lua_istable(L, 2)) {
    slice_view(L, 2, &v);
  } else {
    luaL_error(L, "index: cannot assign to a tensor field %s (tensors have no fields)",
               lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2));
  }
  if (lua_isnumber(L, 3)) {
    lc_fill(&v, (float)lua_tonumber(L, 3));
    return 0;
  }
  lc_tensor *src = lc_totensor(L, 3);
  if (!src) luaL_error(L, "index: can only assign a number or a tensor, got %s", luaL_typename(L, 3));
  lc_error e;
  if (src->storage == t->storage) {  /* overlapping copy: go through a temporary */
    lc_tensor *tmp = lc_pushtensor_like(L, src);
    lc_copy(tmp, src, NULL);
    src = tmp;
  }
  if (lc_copy(&v, src, &e)) return lc_raise(L, &e);
  return 0;
}

static const luaL_Reg tensor_methods[] = {
  {"size", m_size}, {"shape", m_size}, {"stride", m_stride}, {"dim", m_dim}, {"numel", m_numel},
  {"is_contiguous", m_is_contiguous}, {"item", m_item}, {"get", m_get}, {"set", m_set}, {"totable", m_totable},
  {"view", m_view}, {"reshape", m_reshape}, {"contiguous", m_contiguous}, {"clone", m_clone},
  {"transpose", m_transpose}, {"t", m_t}, {"permute", m_permute}, {"narrow", m_narrow}, {"select", m_select},
  {"squeeze", m_squeeze}, {"unsqueeze", m_unsqueeze}, {"expand", m_expand}, {"flatten", m_flatten},
  {"free", t_free},
  {NULL, NULL}};

static const luaL_Reg tensor_functions[] = {
  {"tensor", f_tensor}, {"empty", f_empty}, {"zeros", f_zeros}, {"ones", f_ones}, {"full", f_full},
  {"zeros_like", f_zeros_like}, {"ones_like", f_ones_like}, {"empty_like", f_empty_like},
  {"arange", f_arange}, {"linspace", f_linspace}, {"eye", f_eye}, {"is_tensor", f_is_tensor},
  {NULL, NULL}};

void lc_bind_tensor(lua_State *L, int ctx, int methods, int module) {
  lc_setfuncs(L, ctx, methods, tensor_methods);
  lc_setfuncs(L, ctx, module, tensor_functions);
  /* metatable entries: __index needs the methods table as upvalue 2 */
  luaL_getmetatable(L, LC_TENSOR_MT);
  int meta = lua_gettop(L);
  lua_pushvalue(L, ctx);
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, m_index, 2);
  lua_setfield(L, meta, "__index");
  static const luaL_Reg meta_fns[] = {{"__newindex", m_newindex}, {"__len", m_len}, {"__tostring", lc_tensor_tostring},
                                      {"__gc", t_free}, {"__close", t_free}, {NULL, NULL}};
  lc_setfuncs(L, ctx, meta, meta_fns);
  lua_pop(L, 1);

  luaL_newmetatable(L, LC_SIZE_MT);
  lua_pushcfunction(L, size_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}
