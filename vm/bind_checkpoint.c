/* Checkpoint files for Lua over ops/checkpoint.c, and the signal flag a training loop
 * polls to stop cleanly.
 *
 *   T.checkpoint_save(path, meta, names, tensors)   meta: plain data (nil, booleans,
 *                                                   numbers, strings, tables of them)
 *   T.checkpoint_load(path) -> meta, tensors_by_name, names_in_file_order
 *   T.checkpoint_decode(bytes) -> the same, from a string
 *   T.checkpoint_probe(path)                        raises unless a save there could start
 *   T.watch_signals(true|false), T.pending_signal() -> "SIGINT" | "SIGTERM" | nil */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "checkpoint.h"
#include "elementwise.h"

#define LC_CKPT_BUF_MT "luacnn.CheckpointBuffer"
#define LC_CKPT_FILE_MT "luacnn.CheckpointFile"
#define LC_CKPT_READ_MT "luacnn.CheckpointRead"

/* ---- encoding Lua values ---- */

/* Where in the metadata an encoding error happened: "training.rng[2]". */
typedef struct path {
  char text[400];
  size_t len;
} path;

static size_t path_push(path *p, const char *fmt, const char *s, lua_Integer i) {
  size_t old = p->len;
  if (p->len < sizeof p->text) {
    int n = s ? snprintf(p->text + p->len, sizeof p->text - p->len, fmt, s)
              : snprintf(p->text + p->len, sizeof p->text - p->len, fmt, (long long)i);
    if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
  }
  return old;
}

static void path_pop(path *p, size_t old) {
  p->len = old;
  p->text[old] = '\0';
}

static int buf_free(lua_State *L) {
  lc_buf *b = luaL_checkudata(L, 1, LC_CKPT_BUF_MT);
  lc_buf_free(b);
  return 0;
}

typedef struct key_ref {
  const char *s;
  size_t len;
} key_ref;

static int key_cmp(const void *a, const void *b) {
  const key_ref *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int r = memcmp(x->s, y->s, n);
  if (r) return r;
  return (x->len > y->len) - (x->len < y->len);
}

static void encode(lua_State *L, int idx, lc_buf *b, path *p, int depth);

/* A table is a list (keys exactly 1..n) or a map (string keys only); an empty table
 * is an empty map. Anything else is not plain data. */
static void encode_table(lua_State *L, int idx, lc_buf *b, path *p, int depth) {
  if (depth >= LC_CKPT_MAX_META_DEPTH)
    luaL_error(L, "metadata %s is nested deeper than %d levels (a table that contains itself?)", p->text,
               LC_CKPT_MAX_META_DEPTH);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  size_t count = 0, strings = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (lua_type(L, -1) == LUA_TSTRING) strings++;
  }
  if (count > UINT32_MAX) luaL_error(L, "metadata %s has too many entries", p->text);
  if (n > 0 && (size_t)n == count) {
    lc_meta_put_list(b, (uint32_t)n);
    for (lua_Integer i = 1; i <= n; i++) {
      size_t old = path_push(p, "[%lld]", NULL, i);
      lua_rawgeti(L, idx, i);
      encode(L, lua_gettop(L), b, p, depth + 1);
      lua_pop(L, 1);
      path_pop(p, old);
    }
    return;
  }
  if (strings != count)
    luaL_error(L, "metadata %s mixes list entries and named fields (or has non-string keys): not plain data",
               p->text[0] ? p->text : "(top level)");
  key_ref *keys = lua_newuserdatauv(L, count ? count * sizeof *keys : 1, 0);
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    keys[k].s = lua_tolstring(L, -1, &keys[k].len);  /* the table keeps the key alive */
    if (keys[k].len < 1 || keys[k].len > LC_CKPT_MAX_NAME)
      luaL_error(L, "metadata %s has a key of %d bytes (keys are 1..%d bytes)", p->text, (int)keys[k].len,
                 LC_CKPT_MAX_NAME);
    k++;
  }
  qsort(keys, count, sizeof *keys, key_cmp);
  lc_meta_put_map(b, (uint32_t)count);
  for (size_t i = 0; i < count; i++) {
    lc_meta_put_key(b, keys[i].s, keys[i].len);
    size_t old = path_push(p, p->len ? ".%s" : "%s", keys[i].s, 0);
    lua_pushlstring(L, keys[i].s, keys[i].len);
    lua_rawget(L, idx);
    encode(L, lua_gettop(L), b, p, depth + 1);
    lua_pop(L, 1);
    path_pop(p, old);
  }
  lua_pop(L, 1);  /* keys */
}

static void encode(lua_State *L, int idx, lc_buf *b, path *p, int depth) {
  luaL_checkstack(L, 8, "metadata nested too deeply");
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      lc_meta_put_bool(b, lua_toboolean(L, idx));
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        lc_meta_put_int(b, (int64_t)lua_tointeger(L, idx));
      else
        lc_meta_put_num(b, (double)lua_tonumber(L, idx));
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      lc_meta_put_str(b, s, len);
      break;
    }
    case LUA_TTABLE:
      if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        luaL_error(L, "metadata %s is an object with a metatable, not plain data", p->text);
      }
      encode_table(L, idx, b, p, depth);
      break;
    default:
      luaL_error(L, "metadata %s is a %s: only booleans, numbers, strings and tables of them can be saved",
                 p->text[0] ? p->text : "(top level)", luaL_typename(L, idx));
  }
  if (b->failed) luaL_error(L, "out of memory encoding the metadata");
}

/* ---- saving ---- */

static int file_free(lua_State *L) {
  lc_ckpt_file *f = luaL_checkudata(L, 1, LC_CKPT_FILE_MT);
  lc_ckpt_file_abort(f);
  return 0;
}

static void check_name(lua_State *L, const char *name, size_t len, lua_Integer i) {
  if (len < 1 || len > LC_CKPT_MAX_NAME)
    luaL_error(L, "checkpoint_save: tensor name %d has %d bytes (names are 1..%d bytes)", (int)i, (int)len,
               LC_CKPT_MAX_NAME);
  for (size_t k = 0; k < len; k++) {
    unsigned char c = (unsigned char)name[k];
    if (c < 0x21 || c > 0x7e)
      luaL_error(L, "checkpoint_save: tensor name '%s' has a space or a non-ASCII byte", name);
  }
}

/* checkpoint_save(path, meta, names, tensors) */
static int f_checkpoint_save(lua_State *L) {
  const char *fname = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
  if ((lua_Integer)lua_rawlen(L, 4) != n)
    luaL_error(L, "checkpoint_save: %d names but %d tensors", (int)n, (int)lua_rawlen(L, 4));
  if (n > (lua_Integer)LC_CKPT_MAX_TENSORS) luaL_error(L, "checkpoint_save: more than %d tensors", LC_CKPT_MAX_TENSORS);
  /* names: valid and unique, checked before anything is written */
  lua_newtable(L);
  int seen = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 3, i) != LUA_TSTRING) luaL_error(L, "checkpoint_save: name %d is not a string", (int)i);
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    check_name(L, name, len, i);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, seen) != LUA_TNIL) luaL_error(L, "checkpoint_save: tensor name '%s' appears twice", name);
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
    lua_rawgeti(L, 4, i);
    if (!lc_totensor(L, -1)) luaL_error(L, "checkpoint_save: '%s' is not a live tensor", name);
    lua_pop(L, 1);
  }
  lc_buf *b = lc_push_closing_box(L, sizeof *b, LC_CKPT_BUF_MT, buf_free);
  int box_b = lua_gettop(L);
  path p = {{0}, 0};
  encode(L, 2, b, &p, 0);
  if (b->len > LC_CKPT_MAX_META)
    luaL_error(L, "checkpoint_save: metadata of %d bytes is over the limit of %d", (int)b->len, (int)LC_CKPT_MAX_META);

  lc_ckpt_file *f = lc_push_closing_box(L, sizeof *f, LC_CKPT_FILE_MT, file_free);
  f->fd = -1;
  int box_f = lua_gettop(L);
  lc_error e;
  if (lc_ckpt_file_open(f, fname, &e))
    luaL_error(L, "cannot write checkpoint '%s': %s (nothing was changed)", fname, e.msg);
  unsigned char head[LC_CKPT_MAGIC_LEN + 8];
  memcpy(head, LC_CKPT_MAGIC, LC_CKPT_MAGIC_LEN);
  uint32_t words[2] = {LC_CKPT_VERSION, (uint32_t)b->len};
  for (int w = 0; w < 2; w++)
    for (int k = 0; k < 4; k++) head[LC_CKPT_MAGIC_LEN + 4 * w + k] = (unsigned char)(words[w] >> (8 * k));
  lc_ckpt_file_write(f, head, sizeof head);
  lc_ckpt_file_write(f, b->data, b->len);
  unsigned char cnt[4];
  for (int k = 0; k < 4; k++) cnt[k] = (unsigned char)((uint32_t)n >> (8 * k));
  lc_ckpt_file_write(f, cnt, 4);
  for (lua_Integer i = 1; i <= n && !f->failed; i++) {
    lua_rawgeti(L, 3, i);
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    lua_rawgeti(L, 4, i);
    lc_tensor *t = lc_totensor(L, -1);
    if (!t) luaL_error(L, "checkpoint_save: '%s' is not a live tensor", name);
    if (!lc_is_contiguous(t)) {
      lc_tensor *c = lc_pushtensor_like(L, t);
      lc_copy(c, t, NULL);
      t = c;
    }
    lc_ckpt_write_tensor(f, name, len, t->ndim, t->shape, t->data);
    lua_settop(L, box_f);
  }
  lc_ckpt_file_write_crc(f);
  if (lc_ckpt_file_commit(f, &e))
    luaL_error(L, "cannot write checkpoint '%s': %s (the previous file, if any, is unchanged)", fname, e.msg);
  lua_closeslot(L, box_f);
  lua_closeslot(L, box_b);
  return 0;
}

/* checkpoint_probe(path): creates and removes a temporary file where checkpoint_save
 * would, so that a run fails at its start, not after its first epoch, when it could
 * never save (no such directory, read-only file system). */
static int f_checkpoint_probe(lua_State *L) {
  const char *fname = luaL_checkstring(L, 1);
  lc_ckpt_file *f = lc_push_closing_box(L, sizeof *f, LC_CKPT_FILE_MT, file_free);
  f->fd = -1;
  int box = lua_gettop(L);
  lc_error e;
  if (lc_ckpt_file_open(f, fname, &e)) luaL_error(L, "cannot write checkpoint '%s': %s", fname, e.msg);
  lua_closeslot(L, box);
  return 0;
}

/* ---- loading ---- */

typedef struct read_box {
  unsigned char *data;
  lc_ckpt ck;
} read_box;

static int read_free(lua_State *L) {
  read_box *r = luaL_checkudata(L, 1, LC_CKPT_READ_MT);
  lc_ckpt_free(&r->ck);
  free(r->data);
  r->data = NULL;
  return 0;
}

/* Pushes the validated value at *p as a Lua value. */
static void push_meta(lua_State *L, const unsigned char **p) {
  luaL_checkstack(L, 6, "checkpoint metadata nested too deeply");
  lc_meta_value v;
  lc_meta_read(p, &v);
  switch (v.tag) {
    case LC_META_FALSE: lua_pushboolean(L, 0); break;
    case LC_META_TRUE: lua_pushboolean(L, 1); break;
    case LC_META_INT: lua_pushinteger(L, (lua_Integer)v.i); break;
    case LC_META_NUM: lua_pushnumber(L, (lua_Number)v.num); break;
    case LC_META_STR: lua_pushlstring(L, v.str, v.len); break;
    case LC_META_LIST:
      lua_createtable(L, (int)(v.len < 1u << 20 ? v.len : 1u << 20), 0);
      for (uint32_t i = 0; i < v.len; i++) {
        push_meta(L, p);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case LC_META_MAP:
      lua_createtable(L, 0, (int)(v.len < 1u << 20 ? v.len : 1u << 20));
      for (uint32_t i = 0; i < v.len; i++) {
        const char *key;
        uint32_t klen;
        lc_meta_read_key(p, &key, &klen);
        lua_pushlstring(L, key, klen);
        push_meta(L, p);
        lua_rawset(L, -3);
      }
      break;
    default:
      luaL_error(L, "checkpoint metadata: bad tag %d", v.tag);  /* unreachable after validation */
  }
}

/* Pushes meta, tensors by name and names in file order from a parsed checkpoint. */
static void push_parsed(lua_State *L, const lc_ckpt *ck) {
  const unsigned char *p = ck->meta;
  push_meta(L, &p);
  lua_createtable(L, 0, (int)ck->count);
  lua_createtable(L, (int)ck->count, 0);
  for (uint32_t i = 0; i < ck->count; i++) {
    const lc_ckpt_tensor *t = &ck->tensors[i];
    lua_pushlstring(L, t->name, t->name_len);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lc_tensor *dst = lc_pushtensor(L, t->ndim, t->shape);
    lc_ckpt_tensor_values(t, dst->data);
    lua_rawset(L, -4);
  }
}

static int f_checkpoint_load(lua_State *L) {
  const char *fname = luaL_checkstring(L, 1);
  read_box *r = lc_push_closing_box(L, sizeof *r, LC_CKPT_READ_MT, read_free);
  int box = lua_gettop(L);
  size_t len;
  lc_error e;
  if (lc_read_file(fname, &r->data, &len, &e)) luaL_error(L, "cannot read checkpoint: %s", e.msg);
  if (lc_ckpt_parse(r->data, len, &r->ck, &e)) luaL_error(L, "cannot read checkpoint '%s': %s", fname, e.msg);
  push_parsed(L, &r->ck);
  lua_closeslot(L, box);
  return 3;
}

/* The same from bytes in a string, which stays on the stack while the parse points into it. */
static int f_checkpoint_decode(lua_State *L) {
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  read_box *r = lc_push_closing_box(L, sizeof *r, LC_CKPT_READ_MT, read_free);
  int box = lua_gettop(L);
  lc_error e;
  if (lc_ckpt_parse((const unsigned char *)bytes, len, &r->ck, &e))
    luaL_error(L, "cannot read checkpoint (bytes): %s", e.msg);
  push_parsed(L, &r->ck);
  lua_closeslot(L, box);
  return 3;
}

/* ---- signals ---- */

/* The kernel calls the handler with nothing but the signal number, so the flag is
 * process-wide by necessity; it is only ever set by the handler and read here. */
static volatile sig_atomic_t pending_signal;
static struct sigaction saved_int, saved_term;
static int watching;

/* The first signal asks the loop to stop after its batch; a second one means "now":
 * the default action is put back and the signal raised again, which kills the
 * process once the handler returns. */
static void on_signal(int sig) {
  if (pending_signal) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  pending_signal = sig;
}

static void watch(int sig, struct sigaction *saved) {
  sigaction(sig, NULL, saved);
  /* a signal ignored by whoever started us (nohup, a background job) stays ignored */
  if (saved->sa_handler == SIG_IGN) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static int f_watch_signals(lua_State *L) {
  int on = lua_toboolean(L, 1);
  if (on && !watching) {
    pending_signal = 0;
    watch(SIGINT, &saved_int);
    watch(SIGTERM, &saved_term);
    watching = 1;
  } else if (!on && watching) {
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    watching = 0;
    pending_signal = 0;
  }
  return 0;
}

static int f_pending_signal(lua_State *L) {
  int sig = pending_signal;
  if (sig == SIGINT)
    lua_pushliteral(L, "SIGINT");
  else if (sig == SIGTERM)
    lua_pushliteral(L, "SIGTERM");
  else
    return 0;
  lua_pushinteger(L, sig);
  return 2;
}

/* getcwd() -> the working directory, so messages can name files by absolute path. */
static int f_getcwd(lua_State *L) {
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return luaL_error(L, "getcwd: %s", strerror(errno));
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg checkpoint_functions[] = {
  {"getcwd", f_getcwd}, {"checkpoint_probe", f_checkpoint_probe},
  {"checkpoint_save", f_checkpoint_save}, {"checkpoint_load", f_checkpoint_load},
  {"checkpoint_decode", f_checkpoint_decode}, {"watch_signals", f_watch_signals},
  {"pending_signal", f_pending_signal}, {NULL, NULL}};

void lc_bind_checkpoint(lua_State *L, int ctx, int methods, int module) {
  (void)methods;
  lc_setfuncs(L, ctx, module, checkpoint_functions);
}
