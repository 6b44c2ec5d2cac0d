/* The REPL: lines from readline on a terminal or plain stdio otherwise; lua.c's
 * "return <line>" trick and <eof> detection for multi-line chunks; history kept in a
 * file; tab completion that walks tables, classes and tensor methods. */
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>

#include "host.h"

#define PROMPT "> "
#define PROMPT2 ">> "
#define CHUNKNAME "=stdin"
#define EOF_MARK "<eof>"
#define HISTORY_MAX 1000
/* How many metatables deep completion looks; __index cycles must not hang the prompt. */
#define COMPLETE_MAX_DEPTH 8

/* load_chunk's results besides a Lua status; distinct from every LUA_* code. */
enum { CHUNK_EOF = -1, CHUNK_CANCELLED = -2 };

enum line_status { LINE_OK, LINE_EOF, LINE_INTERRUPTED };

struct repl {
  int interactive;      /* stdin is a terminal: readline, prompts, history */
  const char *history;  /* history file, anchored on the Lua stack; NULL for none */
};

/* ---- completion ---------------------------------------------------------------- */

static const char *const keywords[] = {
    "and",  "break", "do",  "else", "elseif", "end",    "false", "for",
    "function", "goto", "if", "in", "local", "nil", "not", "or",
    "repeat", "return", "then", "true", "until", "while", NULL};

/* Metatable fields that say where indexing a value looks next: tensors keep their
 * methods in __methods, classes and strings point __index at a table. */
static const char *const meta_sources[] = {"__methods", "__index", NULL};

static int is_keyword(const char *s, size_t len) {
  for (const char *const *k = keywords; *k != NULL; k++)
    if (strlen(*k) == len && memcmp(*k, s, len) == 0) return 1;
  return 0;
}

static int is_name_char(char c, int first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

/* Only keys that can follow '.' or ':' are offered; others need t["..."]. */
static int is_name(const char *s, size_t len) {
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++)
    if (!is_name_char(s[i], i == 0)) return 0;
  return !is_keyword(s, len);
}

/* Pushes mt[name] and returns 1 when it is a table; pushes nothing otherwise. Raw, so a
 * metatable with a metatable of its own runs no code either. */
static int push_meta_table(lua_State *L, int mt, const char *name) {
  lua_pushstring(L, name);
  if (lua_rawget(L, mt) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Pushes what obj[key] would give, except that __index functions are never called:
 * pressing TAB must not run user code. */
static void peek_field(lua_State *L, int obj, const char *key, size_t len, int depth) {
  obj = lua_absindex(L, obj);
  luaL_checkstack(L, 4, NULL);
  if (lua_type(L, obj) == LUA_TTABLE) {
    lua_pushlstring(L, key, len);
    if (lua_rawget(L, obj) != LUA_TNIL) return;
    lua_pop(L, 1);
  }
  if (depth < COMPLETE_MAX_DEPTH && lua_getmetatable(L, obj)) {
    int mt = lua_gettop(L);
    for (const char *const *src = meta_sources; *src != NULL; src++) {
      if (!push_meta_table(L, mt, *src)) continue;
      peek_field(L, -1, key, len, depth + 1);
      if (!lua_isnil(L, -1)) {
        lua_replace(L, mt);
        lua_settop(L, mt);
        return;
      }
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
  lua_pushnil(L);
}

/* Adds to the set the string keys of table t that start with prefix and can be typed
 * after a dot. Names starting with "__" (metamethods, internals) only show up once the
 * user types '_'. After ':' only functions make sense. */
static void add_matching_keys(lua_State *L, int t, int set, const char *prefix,
                              int functions_only) {
  size_t plen = strlen(prefix);
  int show_hidden = prefix[0] == '_';
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && (!functions_only || lua_type(L, -1) == LUA_TFUNCTION)) {
      size_t len;
      const char *key = lua_tolstring(L, -2, &len);
      int hidden = len >= 2 && key[0] == '_' && key[1] == '_';
      if (len >= plen && memcmp(key, prefix, plen) == 0 && is_name(key, len) &&
          (show_hidden || !hidden)) {
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);
      }
    }
    lua_pop(L, 1);
  }
}

/* Every key indexing obj can reach, through the same tables peek_field follows. */
static void collect_keys(lua_State *L, int obj, int set, const char *prefix, int functions_only,
                         int depth) {
  obj = lua_absindex(L, obj);
  luaL_checkstack(L, 6, NULL);
  if (lua_type(L, obj) == LUA_TTABLE) add_matching_keys(L, obj, set, prefix, functions_only);
  if (depth < COMPLETE_MAX_DEPTH && lua_getmetatable(L, obj)) {
    int mt = lua_gettop(L);
    for (const char *const *src = meta_sources; *src != NULL; src++) {
      if (!push_meta_table(L, mt, *src)) continue;
      collect_keys(L, -1, set, prefix, functions_only, depth + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* Pushes the value a dotted path ("T", "T.nn") names in the globals, or nil when a part
 * is not a plain name or does not resolve. */
static void push_path_value(lua_State *L, const char *path, size_t len) {
  const char *end = path + len;
  lua_pushglobaltable(L);
  for (;;) {
    const char *dot = memchr(path, '.', (size_t)(end - path));
    size_t n = (size_t)((dot != NULL ? dot : end) - path);
    if (!is_name(path, n)) {
      lua_pop(L, 1);
      lua_pushnil(L);
      return;
    }
    peek_field(L, -1, path, n, 0);
    lua_remove(L, -2);
    if (dot == NULL) return;
    path = dot + 1;
  }
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes an array of the set's keys, sorted, each prefixed with head. */
static void push_sorted(lua_State *L, int set, const char *head, size_t head_len) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, set) != 0) {
    n++;
    lua_pop(L, 1);
  }
  /* A userdata, not malloc: the GC frees it even if a later push runs out of memory. */
  const char **keys = lua_newuserdatauv(L, n * sizeof *keys, 0);
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, set) != 0) {
    keys[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(keys, n, sizeof *keys, compare_strings);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushlstring(L, head, head_len);
    lua_pushstring(L, keys[i]);
    lua_concat(L, 2);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_remove(L, -2);
}

/* text is what is left of the cursor up to a word break, e.g. "T.nn.Lin" or "t:resh". */
static void push_completions(lua_State *L, const char *text) {
  const char *sep = NULL;
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '.' || *p == ':') sep = p;
  const char *prefix = sep != NULL ? sep + 1 : text;
  lua_newtable(L);
  int set = lua_gettop(L);
  if (sep == NULL) {
    for (const char *const *k = keywords; *k != NULL; k++) {
      if (strncmp(*k, prefix, strlen(prefix)) != 0) continue;
      lua_pushboolean(L, 1);
      lua_setfield(L, set, *k);
    }
    lua_pushglobaltable(L);
  } else {
    push_path_value(L, text, (size_t)(sep - text));
  }
  collect_keys(L, -1, set, prefix, sep != NULL && *sep == ':', 0);
  lua_pop(L, 1);
  push_sorted(L, set, text, (size_t)(prefix - text));
  lua_remove(L, set);
}

int lc_repl_complete(lua_State *L) {
  push_completions(L, luaL_checkstring(L, 1));
  return 1;
}

/* The text comes as a light userdata: pushing it as a string could already raise, and
 * nothing may unwind through readline's frames. */
static int complete_from_readline(lua_State *L) {
  push_completions(L, lua_touserdata(L, 1));
  return 1;
}

static size_t common_prefix(const char *a, const char *b) {
  size_t n = 0;
  while (a[n] != '\0' && a[n] == b[n]) n++;
  return n;
}

/* readline's contract: matches[0] replaces the text (the longest common prefix of the
 * matches; the match itself when there is one), then every match, then NULL, all from
 * malloc because readline frees them. The array is sorted, so the common prefix of the
 * first and last entries is that of all. */
static char **matches_from_array(lua_State *L, int arr) {
  arr = lua_absindex(L, arr);
  size_t n = lua_rawlen(L, arr);
  if (n == 0) return NULL;
  char **matches = calloc(n + 2, sizeof *matches);
  if (matches == NULL) return NULL;
  lua_rawgeti(L, arr, 1);
  lua_rawgeti(L, arr, (lua_Integer)n);
  const char *first = lua_tostring(L, -2);
  matches[0] = strndup(first, common_prefix(first, lua_tostring(L, -1)));
  lua_pop(L, 2);
  int ok = matches[0] != NULL;
  for (size_t i = 1; ok && n > 1 && i <= n; i++) {
    lua_rawgeti(L, arr, (lua_Integer)i);
    matches[i] = strdup(lua_tostring(L, -1));
    ok = matches[i] != NULL;
    lua_pop(L, 1);
  }
  if (ok) return matches;
  for (size_t i = 0; i <= n; i++) free(matches[i]);
  free(matches);
  return NULL;
}

static char **readline_completion(const char *text, int start, int end) {
  (void)end;
  /* Inside a string literal the word is most likely a file name (dofile, io.open):
   * leave it to readline's file name completion. */
  if (start > 0 && (rl_line_buffer[start - 1] == '"' || rl_line_buffer[start - 1] == '\''))
    return NULL;
  rl_attempted_completion_over = 1;
  rl_completion_suppress_append = 1;
  lua_State *L = lc_host_state();
  if (!lua_checkstack(L, 4)) return NULL;
  int top = lua_gettop(L);
  char **matches = NULL;
  lua_pushcfunction(L, complete_from_readline);
  lua_pushlightuserdata(L, (void *)text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) matches = matches_from_array(L, -1);
  lua_settop(L, top);
  return matches;
}

/* ---- line input and history ---------------------------------------------------- */

/* readline's own getc retries a read interrupted by a signal it does not handle, so a
 * Ctrl-C at the prompt would only be noticed after the next key. Here readline first
 * handles the signal (resets the terminal, runs our handler, which sets the interrupt
 * hook), then a newline makes it return at once; read_line sees the pending interrupt
 * and drops the line. */
static int repl_getc(FILE *in) {
  for (;;) {
    unsigned char c;
    ssize_t n = read(fileno(in), &c, 1);
    if (n == 1) return c;
    if (n == 0 || errno != EINTR) return EOF;
    rl_check_signals();
    if (lc_host_interrupt_pending(lc_host_state())) return '\n';
  }
}

static void setup_readline(void) {
  rl_readline_name = "luacnn";
  rl_attempted_completion_function = readline_completion;
  /* Without '.' and ':' so "T.nn.Lin" and "t:resh" reach the completer whole. */
  rl_completer_word_break_characters = " \t\n\"'`@$><=;|&{}()[]+-*/%^~#,";
  rl_getc_function = repl_getc;
}

/* $LUACNN_HISTORY, else ~/.luacnn_history; an empty LUACNN_HISTORY turns the file off.
 * Pushes the path and returns it, or returns NULL and pushes nothing. A file that cannot
 * be read or cut to size only means starting without history. */
static const char *open_history(lua_State *L) {
  const char *path = getenv("LUACNN_HISTORY");
  const char *home = getenv("HOME");
  stifle_history(HISTORY_MAX);
  if (path != NULL && path[0] == '\0') return NULL;
  if (path != NULL)
    path = lua_pushstring(L, path);
  else if (home != NULL && home[0] != '\0')
    path = lua_pushfstring(L, "%s/.luacnn_history", home);
  else
    return NULL;
  read_history(path);
  history_truncate_file(path, HISTORY_MAX);
  return path;
}

/* Each entry reaches the file at once, so os.exit or a kill loses nothing. A file that
 * cannot be written (read-only HOME, full disk) must not disturb the session. */
static void save_history(const struct repl *r, const char *chunk) {
  if (!r->interactive || chunk[0] == '\0') return;
  HIST_ENTRY *last = history_get(history_base + history_length - 1);
  if (last != NULL && strcmp(last->line, chunk) == 0) return;
  add_history(chunk);
  /* append_history does not create a missing file; write_history does. */
  if (r->history != NULL && append_history(1, r->history) != 0) write_history(r->history);
}

/* Without a terminal: one line of any length, newline dropped. */
static enum line_status read_stdin_line(lua_State *L) {
  luaL_Buffer b;
  int got = 0;
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    if (fgets(p, LUAL_BUFFERSIZE, stdin) == NULL) break;
    size_t len = strlen(p);
    got = 1;
    if (len > 0 && p[len - 1] == '\n') {
      luaL_addsize(&b, len - 1);
      luaL_pushresult(&b);
      return LINE_OK;
    }
    luaL_addsize(&b, len);
  }
  luaL_pushresult(&b);
  if (lc_host_take_interrupt(L)) {
    clearerr(stdin);
    lua_pop(L, 1);
    return LINE_INTERRUPTED;
  }
  if (got) return LINE_OK;
  lua_pop(L, 1);
  return LINE_EOF;
}

/* Pushes the next line for LINE_OK, nothing otherwise. */
static enum line_status read_line(lua_State *L, const struct repl *r, const char *prompt) {
  if (!r->interactive) return read_stdin_line(L);
  char *line = readline(prompt);
  if (lc_host_take_interrupt(L)) {
    free(line);
    return LINE_INTERRUPTED;
  }
  if (line == NULL) return LINE_EOF;
  lua_pushstring(L, line);
  free(line);
  return LINE_OK;
}

/* ---- chunks -------------------------------------------------------------------- */

/* Compiles "return <line>" so a bare expression shows its value, as lua.c does. On
 * success pushes the function; otherwise pushes nothing. */
static int load_as_expression(lua_State *L, int line) {
  const char *code = lua_pushfstring(L, "return %s;", lua_tostring(L, line));
  int status = luaL_loadbuffer(L, code, strlen(code), CHUNKNAME);
  lua_remove(L, -2);
  if (status != LUA_OK) lua_pop(L, 1);
  return status;
}

/* A syntax error at the very end of the input means the chunk is not finished yet. */
static int is_incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  size_t mark = sizeof EOF_MARK - 1;
  return len >= mark && strcmp(msg + len - mark, EOF_MARK) == 0;
}

/* Reads a chunk, asking for more lines while the parser stops at <eof>. Returns a Lua
 * status with the compiled function or the error message pushed, or CHUNK_EOF or
 * CHUNK_CANCELLED with nothing pushed. */
static int load_chunk(lua_State *L, const struct repl *r) {
  int chunk = lua_gettop(L) + 1;
  enum line_status got = read_line(L, r, PROMPT);
  if (got != LINE_OK) return got == LINE_EOF ? CHUNK_EOF : CHUNK_CANCELLED;
  int status = load_as_expression(L, chunk);
  while (status != LUA_OK) {
    size_t len;
    const char *code = lua_tolstring(L, chunk, &len);
    status = luaL_loadbuffer(L, code, len, CHUNKNAME);
    if (!is_incomplete(L, status)) break;
    got = read_line(L, r, PROMPT2);
    if (got == LINE_INTERRUPTED) {
      lua_settop(L, chunk - 1);
      return CHUNK_CANCELLED;
    }
    if (got == LINE_EOF) break;  /* keep the "<eof>" error: the input ended mid-chunk */
    lua_remove(L, -2);
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
  save_history(r, lua_tostring(L, chunk));
  lua_remove(L, chunk);
  return status;
}

/* tostring on each value (so tensors print through __tostring), tab-separated. */
static int write_values(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0;
}

/* Prints whatever the chunk left above base, if anything. */
static int print_results(lua_State *L, int base) {
  int n = lua_gettop(L) - base;
  if (n == 0) return LUA_OK;
  if (!lua_checkstack(L, LUA_MINSTACK)) {
    lua_settop(L, base);
    lua_pushliteral(L, "too many results to print");
    return LUA_ERRRUN;
  }
  lua_pushcfunction(L, write_values);
  lua_insert(L, base + 1);
  return lc_host_docall(L, n, 0);
}

static void print_banner(lua_State *L) {
  lc_host_push_version(L);
  printf("%s\nExpressions print their values. Tab completes, Ctrl-C interrupts, Ctrl-D exits.\n",
         lua_tostring(L, -1));
  lua_pop(L, 1);
}

void lc_repl_run(lua_State *L) {
  struct repl r = {.interactive = isatty(STDIN_FILENO), .history = NULL};
  if (r.interactive) {
    setup_readline();
    r.history = open_history(L);
    print_banner(L);
  }
  int base = lua_gettop(L);
  for (;;) {
    lua_settop(L, base);
    lc_host_catch_interrupt();
    lc_host_take_interrupt(L);  /* a Ctrl-C between two chunks interrupts nothing */
    int status = load_chunk(L, &r);
    if (status == CHUNK_EOF) break;
    if (status == CHUNK_CANCELLED) continue;
    if (status == LUA_OK) status = lc_host_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) status = print_results(L, base);
    lc_host_report(L, status);
  }
  lua_settop(L, base);
  if (r.interactive) {
    fputc('\n', stdout);
    fflush(stdout);
  }
}
