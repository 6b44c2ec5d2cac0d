/* Builds the core module table: the per-state context, the tensor metatable and the
 * functions of every bind_*.c file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "threads.h"

/* Freed blocks the allocator may keep for reuse. Large enough for a VGG-16 step's
 * activations to cycle through warm memory; trimmed on allocation failure. */
#define LC_CACHE_LIMIT ((size_t)4 << 30)

void lc_setfuncs(lua_State *L, int ctx, int into, const luaL_Reg *fns) {
  for (; fns->name; fns++) {
    lua_pushvalue(L, ctx);
    lua_pushcclosure(L, fns->func, 1);
    lua_setfield(L, into, fns->name);
  }
}

void *lc_push_closing_box(lua_State *L, size_t size, const char *mt, lua_CFunction free_fn) {
  void *box = lua_newuserdatauv(L, size, 0);
  memset(box, 0, size);
  if (luaL_newmetatable(L, mt)) {
    lua_pushcfunction(L, free_fn);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, free_fn);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, lua_gettop(L));
  return box;
}

static int ctx_gc(lua_State *L) {
  lc_ctx *ctx = luaL_checkudata(L, 1, LC_CTX_MT);
  if (ctx->alloc) lc_allocator_release(ctx->alloc);
  ctx->alloc = NULL;
  if (ctx->scratch) lc_allocator_release(ctx->scratch);
  ctx->scratch = NULL;
  lc_pool_free(ctx->pool);
  ctx->pool = NULL;
  return 0;
}

/* Replaces the pool by one of n threads (1: no workers at all). */
static int set_threads(lc_ctx *ctx, int n) {
  lc_pool_free(ctx->pool);
  ctx->pool = n > 1 ? lc_pool_new(n) : NULL;
  return lc_pool_threads(ctx->pool);
}

static int f_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1 || n > 1024) luaL_error(L, "set_num_threads: %I is not a valid thread count (1..1024)", n);
  int got = set_threads(lc_ctx_of(L), (int)n);
  if (got != n) luaL_error(L, "set_num_threads: could not start %d threads", (int)n);
  lua_pushinteger(L, got);
  return 1;
}

static int f_get_num_threads(lua_State *L) {
  lua_pushinteger(L, lc_pool_threads(lc_ctx_of(L)->pool));
  return 1;
}

static int f_cpu_count(lua_State *L) {
  lua_pushinteger(L, lc_cpu_count());
  return 1;
}

static int f_blas_config(lua_State *L) {
  lua_pushstring(L, lc_blas_config());
  return 1;
}

/* Monotonic wall-clock seconds, for timing (os.clock counts CPU time of all threads). */
static int f_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* isatty(fd): progress bars redraw on a terminal and print plain lines into logs. */
static int f_isatty(lua_State *L) {
  lua_Integer fd = luaL_optinteger(L, 1, 1);
  lua_pushboolean(L, fd >= 0 && fd < 1024 && isatty((int)fd));
  return 1;
}

static int f_live_tensors(lua_State *L) {
  lua_pushinteger(L, lc_ctx_of(L)->live_tensors);
  return 1;
}

/* memory_stats() -> {live_bytes, cached_bytes, live_tensors, scratch_bytes}; scratch_bytes:
 * the kernels' temporaries kept for the next call */
static int f_memory_stats(lua_State *L) {
  lc_ctx *ctx = lc_ctx_of(L);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)lc_allocator_cached_bytes(ctx->scratch));
  lua_setfield(L, -2, "scratch_bytes");
  lua_pushinteger(L, (lua_Integer)lc_allocator_live_bytes(ctx->alloc));
  lua_setfield(L, -2, "live_bytes");
  lua_pushinteger(L, (lua_Integer)lc_allocator_cached_bytes(ctx->alloc));
  lua_setfield(L, -2, "cached_bytes");
  lua_pushinteger(L, ctx->live_tensors);
  lua_setfield(L, -2, "live_tensors");
  return 1;
}

/* set_memory_budget(bytes | nil): new tensors fail, with a message, rather than take the
 * live tensor memory over `bytes` (nn.load while it rebuilds an architecture from a file). */
static int f_set_memory_budget(lua_State *L) {
  lc_ctx *ctx = lc_ctx_of(L);
  if (lua_isnoneornil(L, 1)) {
    ctx->budget = 0;
    return 0;
  }
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1) luaL_error(L, "set_memory_budget: expected a positive number of bytes or nil, got %I", n);
  ctx->budget = (size_t)n;
  return 0;
}

static int f_empty_cache(lua_State *L) {
  lc_allocator_trim(lc_ctx_of(L)->alloc);
  lc_allocator_trim(lc_ctx_of(L)->scratch);
  return 0;
}

static const luaL_Reg core_functions[] = {
  {"set_num_threads", f_set_num_threads}, {"get_num_threads", f_get_num_threads}, {"cpu_count", f_cpu_count},
  {"blas_config", f_blas_config}, {"live_tensors", f_live_tensors}, {"memory_stats", f_memory_stats},
  {"empty_cache", f_empty_cache}, {"clock", f_clock}, {"isatty", f_isatty},
  {"set_memory_budget", f_set_memory_budget},
  {NULL, NULL}};

/* The default seed: $LUACNN_SEED if set, else 0, so runs are reproducible unless asked.
 * A malformed value is an error rather than a silent 0: the user asked for a seed. */
static uint64_t default_seed(lua_State *L) {
  const char *s = getenv("LUACNN_SEED");
  if (!s || !*s) return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || *s == '-' || errno == ERANGE || v > (unsigned long long)INT64_MAX)
    luaL_error(L, "LUACNN_SEED='%s' is not a seed: expected an integer in 0..2^63-1", s);
  return (uint64_t)v;
}

int lc_open_core(lua_State *L) {
  lc_ctx *c = lua_newuserdatauv(L, sizeof(lc_ctx), 0);
  c->alloc = NULL;
  c->scratch = NULL;
  c->pool = NULL;
  c->gc_pending = 0;
  c->live_tensors = 0;
  c->budget = 0;
  lc_rng_seed(&c->rng, default_seed(L));
  if (luaL_newmetatable(L, LC_CTX_MT)) {
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  c->alloc = lc_allocator_new(LC_CACHE_LIMIT);
  c->scratch = lc_allocator_new_workspace(LC_CACHE_LIMIT);
  if (!c->alloc || !c->scratch) luaL_error(L, "luacnn: out of memory");
  /* every core by default; the host's --threads / $LUACNN_THREADS call set_num_threads */
  lc_blas_single_threaded();
  set_threads(c, lc_cpu_count());
  int ctx = lua_gettop(L);

  lua_newtable(L);
  int module = lua_gettop(L);
  lua_newtable(L);
  int methods = lua_gettop(L);

  luaL_newmetatable(L, LC_TENSOR_MT);
  int meta = lua_gettop(L);
  lua_pushvalue(L, methods);
  lua_setfield(L, meta, "__methods");  /* for REPL completion and introspection */
  lc_bind_math_meta(L, ctx, meta);
  lua_pop(L, 1);

  lc_bind_tensor(L, ctx, methods, module);
  lc_bind_math(L, ctx, methods, module);
  lc_bind_io(L, ctx, methods, module);
  lc_bind_image(L, ctx, methods, module);
  lc_bind_nn(L, ctx, methods, module);
  lc_bind_conv(L, ctx, methods, module);
  lc_bind_checkpoint(L, ctx, methods, module);
  lc_bind_data(L, ctx, methods, module);
  lc_setfuncs(L, ctx, module, core_functions);

  /* every method is also a module function: T.exp(t) == t:exp() */
  lua_pushnil(L);
  while (lua_next(L, methods)) {
    lua_pushvalue(L, -2);
    if (lua_getfield(L, module, lua_tostring(L, -1)) == LUA_TNIL) {
      lua_pop(L, 1);
      lua_pushvalue(L, -2);
      lua_setfield(L, module, lua_tostring(L, -2));
      lua_pop(L, 2);
    } else {
      lua_pop(L, 3);
    }
  }
  lua_pushvalue(L, methods);
  lua_setfield(L, module, "Tensor");  /* the methods table, for extension from Lua */
  lua_pushvalue(L, ctx);
  lua_setfield(L, module, "_context");  /* keeps the context alive as long as the module */
  lua_pop(L, 1);                        /* methods */
  lua_remove(L, ctx);
  return 1;
}
