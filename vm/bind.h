/* Internal header of the binding layer: the per-state context and the helpers every
 * vm/bind_*.c file uses to check arguments and push tensors.
 *
 * Every C function the core registers carries the context userdata as upvalue 1, so
 * state lives in the Lua state (one context per lua_State), never in C globals. */
#ifndef LC_BIND_H
#define LC_BIND_H

#include <lauxlib.h>
#include <lua.h>

#include "error.h"
#include "pool.h"
#include "random.h"
#include "tensor.h"

#define LC_TENSOR_MT "luacnn.Tensor"
#define LC_SIZE_MT "luacnn.Size"
#define LC_CTX_MT "luacnn.Context"

typedef struct lc_ctx {
  lc_allocator *alloc;
  lc_allocator *scratch; /* the kernels' temporaries (lc_allocator_new_workspace) */
  lc_pool *pool;         /* the threads all kernels share (NULL: one thread) */
  lc_rng rng;
  size_t gc_pending;     /* tensor bytes allocated since the collector was last told */
  int64_t live_tensors;  /* tensor userdata not yet freed */
  size_t budget;         /* live tensor bytes new tensors may not exceed; 0: no limit */
} lc_ctx;

static inline lc_ctx *lc_ctx_of(lua_State *L) { return (lc_ctx *)lua_touserdata(L, lua_upvalueindex(1)); }

/* Raises e's message as a Lua error at the calling script's line. */
int lc_raise(lua_State *L, const lc_error *e);
/* luaL_error, positioned at the nearest Lua function on the stack rather than at level 1:
 * a C function between the script and the binding (the string library's arithmetic
 * fallback for "x" - t, or pcall) would otherwise leave the message without a line. */
int lc_script_error(lua_State *L, const char *fmt, ...);

/* Tensor arguments */
lc_tensor *lc_checktensor(lua_State *L, int idx);
lc_tensor *lc_totensor(lua_State *L, int idx);  /* NULL if not a live tensor */

/* New contiguous tensor of the given shape (contents undefined), pushed on the stack. */
lc_tensor *lc_pushtensor(lua_State *L, int ndim, const int64_t *shape);
lc_tensor *lc_pushtensor_like(lua_State *L, const lc_tensor *t);
/* New view sharing src's storage, pushed on the stack. */
lc_tensor *lc_pushview(lua_State *L, const lc_tensor *src);

/* A shape from a table ({3,4} or a Size) at idx, or from the integers idx..top.
 * Returns the number of dims. */
int lc_checkshape(lua_State *L, int idx, int64_t *shape, const char *what);
/* lc_checkshape for a tensor about to be created: also checks the sizes (negative,
 * too many elements), so that errors name `what`. */
int lc_checknewshape(lua_State *L, int idx, int64_t *shape, const char *what);
/* A 1-based (or negative, from the end) dimension argument, returned 0-based.
 * `ndim_extra` widens the range (1 for unsqueeze, which may append a dim). */
int lc_checkdim(lua_State *L, int idx, int ndim, int ndim_extra, const char *what);
void lc_pushsize(lua_State *L, int ndim, const int64_t *shape);
/* __tostring of tensors (vm/bind_print.c). */
int lc_tensor_tostring(lua_State *L);

/* Registration: each bind_*.c adds its functions to the tensor methods table and the
 * module table; ctx is the stack index of the context userdata. */
void lc_bind_tensor(lua_State *L, int ctx, int methods, int module);
void lc_bind_math(lua_State *L, int ctx, int methods, int module);
void lc_bind_io(lua_State *L, int ctx, int methods, int module);
void lc_bind_image(lua_State *L, int ctx, int methods, int module);
void lc_bind_nn(lua_State *L, int ctx, int methods, int module);
void lc_bind_conv(lua_State *L, int ctx, int methods, int module);
void lc_bind_checkpoint(lua_State *L, int ctx, int methods, int module);
void lc_bind_data(lua_State *L, int ctx, int methods, int module);
/* Tensor metamethods that are math (__add, __unm, ...). */
void lc_bind_math_meta(lua_State *L, int ctx, int meta);
/* Pushes a zeroed userdata of `size` bytes that `free_fn` releases (as __gc and __close)
 * and marks it to-be-closed, so a C resource held in it is released on every way out of
 * the calling function, errors included. */
void *lc_push_closing_box(lua_State *L, size_t size, const char *mt, lua_CFunction free_fn);
/* Registers a list of functions into table `into`, each with the context as upvalue 1. */
void lc_setfuncs(lua_State *L, int ctx, int into, const luaL_Reg *fns);

#endif
