/* State setup, protected calls and error reports for the luacnn host program. */
#include "host.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <lauxlib.h>
#include <lualib.h>

#include "luacnn.h"

/* The kernel calls the SIGINT handler and readline calls the completer without any
 * way to hand them the state, so it has to live here; everything else lives in L. */
static lua_State *host_state;

lua_State *lc_host_state(void) { return host_state; }

/* Pushes the directory holding luacnn/init.lua. An installed tree wins, found from the
 * executable's own location so no environment variable is needed after an install;
 * a binary in the build tree falls back to the source stdlib it was built from. */
static void push_stdlib_dir(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    /* <prefix>/bin/luacnn: cut twice to get <prefix>. */
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      slash = strrchr(exe, '/');
    }
    if (slash != NULL) {
      *slash = '\0';
      const char *dir = lua_pushfstring(L, "%s/%s", exe, LUACNN_INSTALL_STDLIB_REL);
      const char *init = lua_pushfstring(L, "%s/luacnn/init.lua", dir);
      int installed = access(init, R_OK) == 0;
      lua_pop(L, 1);
      if (installed) return;
      lua_pop(L, 1);
    }
  }
  lua_pushstring(L, LUACNN_SOURCE_STDLIB);
}

/* Ours go first so the stdlib matching this binary wins; LUA_PATH, already applied by
 * luaL_openlibs, still follows. */
static void prepend_stdlib_path(lua_State *L) {
  lua_getglobal(L, "package");
  push_stdlib_dir(L);
  const char *dir = lua_tostring(L, -1);
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -3, "path");
  lua_concat(L, 2);
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

void lc_host_open(lua_State *L) {
  host_state = L;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, lc_open_core);
  lua_setfield(L, -2, "luacnn.core");
  lua_pop(L, 1);
  prepend_stdlib_path(L);
}

void lc_host_push_version(lua_State *L) {
  lua_pushfstring(L, "luacnn %s (%s, %s)", LUACNN_VERSION, LUA_RELEASE, openblas_get_config());
}

/* Runs at the next call, return or instruction after a Ctrl-C: the only safe place to
 * raise an error, since the handler itself may have interrupted the VM anywhere. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig) {
  /* A long C call (a big matmul) never reaches the hook; a second Ctrl-C must still
   * be able to kill the process. */
  signal(sig, SIG_DFL);
  lua_sethook(host_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Installs on_sigint, saving the previous action in old. A SIGINT ignored by whoever
 * started us (a background job of a non-interactive shell) stays ignored. */
static void arm_sigint(struct sigaction *old) {
  struct sigaction sa;
  sigaction(SIGINT, NULL, old);
  if (old->sa_handler == SIG_IGN) return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, NULL);
}

void lc_host_catch_interrupt(void) {
  struct sigaction old;
  arm_sigint(&old);
}

int lc_host_interrupt_pending(lua_State *L) { return lua_gethook(L) == stop_hook; }

int lc_host_take_interrupt(lua_State *L) {
  if (!lc_host_interrupt_pending(L)) return 0;
  lua_sethook(L, NULL, 0, 0);
  return 1;
}

/* Message handler: turns any error object into a message with a traceback. Objects
 * with __tostring (tensors, custom error classes) speak for themselves. */
static int msghandler(lua_State *L) {
  /* a request to exit with a status (a training run stopped by a signal, its
   * checkpoint written) is no failure: it travels unchanged, without a traceback */
  if (lc_host_exit_request(L, 1) >= 0) return 1;
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int lc_host_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  struct sigaction old;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  arm_sigint(&old);
  int status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  lua_remove(L, base);
  return status;
}

int lc_host_exit_request(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return -1;
  int isint;
  lua_getfield(L, idx, "exit_status");
  lua_Integer code = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  return isint && code >= 0 && code <= 255 ? (int)code : -1;
}

int lc_host_report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "luacnn: %s\n", msg != NULL ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}
