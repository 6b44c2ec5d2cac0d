/* luacnn: the command line. Parses the arguments, opens the state and dispatches to a
 * script, a training script with its options as a table, a model script to summarize,
 * -e chunks or the REPL. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "repl.h"

static const char usage_text[] =
    "usage: luacnn [options] [command] [arguments]\n"
    "\n"
    "commands:\n"
    "  run FILE [args...]      run a Lua script; args become arg[1..n] and the chunk's ...\n"
    "  FILE [args...]          same as 'run FILE' (use 'run' or ./ for a file named\n"
    "                          like a command); FILE '-' reads the script from stdin\n"
    "  train FILE [options]    run a training script, handing it its options as a\n"
    "                          table: local opts = ...\n"
    "  summary FILE [options]  print the summary of the model a model script returns\n"
    "                          (e.g. models/vgg16.lua): per layer the output shape,\n"
    "                          parameters, multiply-adds, receptive field and jump;\n"
    "                          totals. --input-shape 3,224,224 sets the per-sample\n"
    "                          input; the other options go to the script as train's do\n"
    "  repl                    interactive prompt (the default with no arguments)\n"
    "  version                 print versions of luacnn, Lua and OpenBLAS\n"
    "  help                    print this text\n"
    "\n"
    "options (before the command, or between the command and FILE):\n"
    "  -e CODE                 execute CODE before the command; may be repeated. With\n"
    "                          -e and no command or FILE, luacnn exits afterwards\n"
    "  --threads N             use N threads for tensor math (overrides LUACNN_THREADS)\n"
    "  -v, --version           same as 'version'\n"
    "  -h, --help              same as 'help'\n"
    "  --complete TEXT         print the REPL's tab completions for TEXT, one per line\n"
    "                          (after any -e), for testing and shell integration\n"
    "  --                      stop options; the next argument is FILE\n"
    "\n"
    "train (and summary) options, after FILE:\n"
    "  --batch-size 64         opts.batch_size = 64 (dashes become underscores; values\n"
    "                          Lua reads as numbers are numbers, true/false booleans)\n"
    "  --name=value            same as --name value\n"
    "  --shuffle               opts.shuffle = true (no value follows: end, or --...)\n"
    "  --no-shuffle            opts.shuffle = false\n"
    "  ARG                     positional: opts[1], opts[2], ... in order (after\n"
    "                          '--', every argument is positional)\n"
    "  --threads N             also sets the thread count, as above\n"
    "\n"
    "checkpoints of train (the script's model:fit saves and resumes; docs/checkpoint.md):\n"
    "  --checkpoint PATH       save the training state to PATH after every epoch and at\n"
    "                          the end (written atomically: the old file stays until the\n"
    "                          new one is complete)\n"
    "  --save-every N          every N epochs; Nsteps (e.g. 100steps) every N steps\n"
    "  --resume PATH           continue from a checkpoint: weights, optimizer, random\n"
    "                          generator and the position in the epoch\n"
    "  SIGINT/SIGTERM during fit finish the batch, write a checkpoint (--checkpoint PATH,\n"
    "  else --resume PATH, else ./SCRIPT.ckpt), print where, and exit with status 130\n"
    "  (SIGINT) or 143 (SIGTERM); a second signal exits at once\n"
    "\n"
    "environment:\n"
    "  LUACNN_THREADS          thread count, when --threads is not given\n"
    "  LUACNN_HISTORY          REPL history file (default ~/.luacnn_history; empty: none)\n"
    "  LUA_PATH, LUA_CPATH     extra module search paths, after luacnn's own stdlib\n";

enum command { CMD_NONE, CMD_RUN, CMD_TRAIN, CMD_SUMMARY, CMD_REPL, CMD_VERSION, CMD_HELP, CMD_COMPLETE };

static const struct {
  const char *name;
  enum command cmd;
} command_names[] = {
    {"run", CMD_RUN},         {"train", CMD_TRAIN}, {"summary", CMD_SUMMARY},
    {"repl", CMD_REPL},       {"version", CMD_VERSION}, {"help", CMD_HELP},
};

struct cmdline {
  int argc;
  char **argv;
  enum command cmd;
  const char *cmd_name;  /* as typed, for messages; NULL when implied */
  int script;            /* argv index of FILE; 0 when there is none */
  const char *threads;   /* --threads value as given, or NULL */
  const char *complete;  /* --complete text, or NULL */
  int exec;              /* stack index of the array of -e chunks, in order */
  int opts;              /* stack index of train's (summary's) option table, 0 otherwise */
  int exit_status;       /* asked for by the script (lc_host_exit_request), or -1 */
};

static enum command command_named(const char *word) {
  for (size_t i = 0; i < sizeof command_names / sizeof command_names[0]; i++)
    if (strcmp(word, command_names[i].name) == 0) return command_names[i].cmd;
  return CMD_NONE;
}

/* Matches argv[*i] against an option that takes a value: "NAME VALUE", or for long
 * options also "NAME=VALUE". Returns the value and steps *i past it, or NULL. */
static const char *take_value(lua_State *L, const struct cmdline *c, int *i, const char *name) {
  const char *arg = c->argv[*i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0) return NULL;
  if (arg[len] == '=' && name[1] == '-') {
    *i += 1;
    return arg + len + 1;
  }
  if (arg[len] != '\0') return NULL;
  if (*i + 1 >= c->argc) luaL_error(L, "option '%s' needs a value (try 'luacnn help')", name);
  *i += 2;
  return c->argv[*i - 1];
}

/* Host options may come before the command word and again between it and FILE, so
 * "luacnn --threads 2 train f.lua" and "luacnn train --threads 2 f.lua" agree. */
static void parse_options(lua_State *L, struct cmdline *c) {
  int i = 1;
  while (i < c->argc) {
    const char *arg = c->argv[i];
    const char *value;
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        c->cmd = CMD_HELP;
        return;
      } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--version") == 0) {
        c->cmd = CMD_VERSION;
        return;
      } else if ((value = take_value(L, c, &i, "-e")) != NULL) {
        lua_pushstring(L, value);
        lua_rawseti(L, c->exec, (lua_Integer)lua_rawlen(L, c->exec) + 1);
      } else if ((value = take_value(L, c, &i, "--threads")) != NULL) {
        c->threads = value;
      } else if ((value = take_value(L, c, &i, "--complete")) != NULL) {
        c->complete = value;
      } else {
        luaL_error(L, "unknown option '%s' (try 'luacnn help')", arg);
      }
    } else if (c->cmd == CMD_NONE && command_named(arg) != CMD_NONE) {
      c->cmd = command_named(arg);
      c->cmd_name = arg;
      i++;
    } else {
      break;
    }
  }
  c->script = i < c->argc ? i : 0;
}

/* Settles what to do once the options are known, rejecting combinations that make no
 * sense rather than ignoring part of what was typed. */
static void resolve_command(lua_State *L, struct cmdline *c) {
  if (c->cmd == CMD_HELP || c->cmd == CMD_VERSION || c->cmd == CMD_REPL) {
    if (c->cmd_name != NULL && c->script != 0)
      luaL_error(L, "'%s' takes no arguments (try 'luacnn help')", c->cmd_name);
  } else if (c->cmd == CMD_RUN || c->cmd == CMD_TRAIN || c->cmd == CMD_SUMMARY) {
    if (c->script == 0) luaL_error(L, "'%s' needs a script file (try 'luacnn help')", c->cmd_name);
  } else if (c->script != 0) {
    c->cmd = CMD_RUN;
  } else if (c->complete == NULL && lua_rawlen(L, c->exec) == 0) {
    c->cmd = CMD_REPL;
  }
  if (c->complete != NULL) {
    if (c->cmd != CMD_NONE)
      luaL_error(L, "--complete takes no command or file (try 'luacnn help')");
    c->cmd = CMD_COMPLETE;
  }
}

/* Numbers as Lua reads them, true/false as booleans, anything else as given. */
static void push_option_value(lua_State *L, const char *text) {
  if (lua_stringtonumber(L, text) != 0) return;
  if (strcmp(text, "true") == 0)
    lua_pushboolean(L, 1);
  else if (strcmp(text, "false") == 0)
    lua_pushboolean(L, 0);
  else
    lua_pushstring(L, text);
}

static void push_option_key(lua_State *L, const char *name, size_t len) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < len; i++) luaL_addchar(&b, name[i] == '-' ? '_' : name[i]);
  luaL_pushresult(&b);
}

static int is_long_option(const char *arg) { return arg[0] == '-' && arg[1] == '-'; }

/* "-x", but not a negative number nor "-" (stdin by convention): "-lr 0.1" is a typo
 * for "--lr 0.1" that would otherwise pass silently as two positional arguments. */
static int is_short_option(lua_State *L, const char *arg) {
  if (arg[0] != '-' || arg[1] == '\0') return 0;
  if (lua_stringtonumber(L, arg) == 0) return 1;
  lua_pop(L, 1);
  return 0;
}

/* One "--name", "--name value", "--name=value" or "--no-name" starting at argv[*i];
 * sets it in the table on top of the stack and steps *i past any value. */
static void set_train_option(lua_State *L, struct cmdline *c, int *i) {
  const char *cmd = c->cmd_name;
  const char *arg = c->argv[*i];
  const char *name = arg + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
  const char *value = eq != NULL ? eq + 1 : NULL;
  if (len == 0) luaL_error(L, "%s: option '%s' has no name", cmd, arg);
  if (len > 3 && strncmp(name, "no-", 3) == 0) {
    if (value != NULL) {
      lua_pushlstring(L, arg, len + 2);
      luaL_error(L, "%s: option '%s' takes no value", cmd, lua_tostring(L, -1));
    }
    push_option_key(L, name + 3, len - 3);
    lua_pushboolean(L, 0);
    lua_rawset(L, -3);
    return;
  }
  if (value == NULL && *i + 1 < c->argc && !is_long_option(c->argv[*i + 1])) {
    *i += 1;
    value = c->argv[*i];
  }
  int is_threads = len == 7 && strncmp(name, "threads", 7) == 0;
  if (is_threads && value == NULL) luaL_error(L, "option '--threads' needs a value");
  if (is_threads) c->threads = value;
  push_option_key(L, name, len);
  if (value != NULL)
    push_option_value(L, value);
  else
    lua_pushboolean(L, 1);
  lua_rawset(L, -3);
}

/* Builds the table a train script receives as its first vararg from the arguments
 * after FILE. Later repeats of an option win. */
static void push_train_options(lua_State *L, struct cmdline *c) {
  lua_Integer npos = 0;
  int positional_only = 0;
  lua_newtable(L);
  for (int i = c->script + 1; i < c->argc; i++) {
    const char *arg = c->argv[i];
    if (positional_only) {
      push_option_value(L, arg);
      lua_rawseti(L, -2, ++npos);
    } else if (strcmp(arg, "--") == 0) {
      positional_only = 1;
    } else if (is_long_option(arg)) {
      set_train_option(L, c, &i);
    } else if (is_short_option(L, arg)) {
      luaL_error(L, "%s: options take two dashes: '%s' (try 'luacnn help')", c->cmd_name, arg);
    } else {
      push_option_value(L, arg);
      lua_rawseti(L, -2, ++npos);
    }
  }
}

/* The global 'arg' as lua.c builds it: arg[0] is the script, its arguments follow,
 * and everything before it (program, options, command) has negative indices. */
static void set_arg_table(lua_State *L, const struct cmdline *c) {
  int script = c->script;
  lua_createtable(L, c->argc - script - 1, script + 1);
  for (int i = 0; i < c->argc; i++) {
    lua_pushstring(L, c->argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int parse_thread_count(const char *text, int *count) {
  char *end;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || n < 1 || n > INT_MAX) return 0;
  *count = (int)n;
  return 1;
}

/* --threads wins over LUACNN_THREADS; an empty variable counts as unset. The core owns
 * every thread pool (OpenBLAS and its own), so one call sets them all. */
static void apply_thread_count(lua_State *L, const struct cmdline *c) {
  const char *source = "--threads";
  const char *text = c->threads;
  int count = 0;
  if (text == NULL) {
    source = "LUACNN_THREADS";
    text = getenv(source);
    if (text == NULL || text[0] == '\0') return;
  }
  if (!parse_thread_count(text, &count))
    luaL_error(L, "bad %s value '%s' (expected a positive integer)", source, text);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn");
  lua_call(L, 1, 1);
  if (lua_getfield(L, -1, "set_num_threads") == LUA_TFUNCTION) {
    lua_pushinteger(L, count);
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
    fprintf(stderr, "luacnn: warning: this build cannot set the thread count; %s ignored\n",
            source);
  }
  lua_pop(L, 1);
}

static int run_exec_chunks(lua_State *L, const struct cmdline *c) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, c->exec);
  for (lua_Integer i = 1; i <= n; i++) {
    size_t len;
    lua_rawgeti(L, c->exec, i);
    const char *code = lua_tolstring(L, -1, &len);
    int status = luaL_loadbuffer(L, code, len, "=(command line)");
    lua_remove(L, -2);
    if (status == LUA_OK) status = lc_host_docall(L, 0, 0);
    if (lc_host_report(L, status) != LUA_OK) return 0;
  }
  return 1;
}

/* A mistyped command ("luacnn trian") reaches here as a missing file; say both. */
static void explain_missing_script(lua_State *L, const struct cmdline *c, const char *fname) {
  if (c->cmd_name != NULL || strpbrk(fname, "./") != NULL) return;
  lua_pushfstring(L, "%s ('%s' is not a command either; try 'luacnn help')",
                  lua_tostring(L, -1), fname);
  lua_remove(L, -2);
}

/* lc_host_report, except that an exit request prints its message and sets the status
 * the program ends with. */
static int report(lua_State *L, struct cmdline *c, int status) {
  int code = status != LUA_OK ? lc_host_exit_request(L, -1) : -1;
  if (code < 0) return lc_host_report(L, status);
  lua_getfield(L, -1, "message");
  const char *msg = lua_tostring(L, -1);
  if (msg != NULL) fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  lua_pop(L, 2);
  c->exit_status = code;
  return status;
}

/* Calls require("train.session")[fn] with the train options and the script name: the
 * checkpoint session that --checkpoint, --save-every and --resume configure. */
static int session_call(lua_State *L, struct cmdline *c, const char *fn) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "train.session");
  if (report(L, c, lc_host_docall(L, 1, 1)) != LUA_OK) return 0;
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_pushvalue(L, c->opts);
  lua_pushstring(L, c->argv[c->script]);
  return report(L, c, lc_host_docall(L, 2, 0)) == LUA_OK;
}

static int run_script(lua_State *L, struct cmdline *c) {
  const char *fname = c->argv[c->script];
  int is_stdin = strcmp(fname, "-") == 0 && strcmp(c->argv[c->script - 1], "--") != 0;
  int status = luaL_loadfile(L, is_stdin ? NULL : fname);
  if (status == LUA_ERRFILE) explain_missing_script(L, c, fname);
  if (status != LUA_OK) return lc_host_report(L, status) == LUA_OK;
  int narg = 0;
  if (c->cmd == CMD_TRAIN) {
    if (!session_call(L, c, "start")) return 0;
    lua_pushvalue(L, c->opts);
    narg = 1;
  } else {
    luaL_checkstack(L, c->argc - c->script, "too many script arguments");
    for (int i = c->script + 1; i < c->argc; i++, narg++) lua_pushstring(L, c->argv[i]);
  }
  if (report(L, c, lc_host_docall(L, narg, 0)) != LUA_OK) return 0;
  return c->cmd != CMD_TRAIN || session_call(L, c, "finish");
}

/* The summary lives in Lua (nn.summary): it runs the model script with the options
 * under its own rules (no weights drawn) and prints the table. */
static int run_summary(lua_State *L, const struct cmdline *c) {
  static const char chunk[] = "local script, opts = ...\nrequire('nn.summary').command(script, opts)";
  if (luaL_loadbuffer(L, chunk, sizeof chunk - 1, "=(summary)") != LUA_OK) return lc_host_report(L, LUA_ERRSYNTAX) == LUA_OK;
  lua_pushstring(L, c->argv[c->script]);
  lua_pushvalue(L, c->opts);
  return lc_host_report(L, lc_host_docall(L, 2, 0)) == LUA_OK;
}

static int print_completions(lua_State *L, const char *text) {
  lua_pushcfunction(L, lc_repl_complete);
  lua_pushstring(L, text);
  if (lc_host_report(L, lc_host_docall(L, 1, 1)) != LUA_OK) return 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    printf("%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

/* Everything that touches the state runs here, under lua_pcall, so even a memory
 * error while opening the libraries becomes a message instead of an abort. */
static int pmain(lua_State *L) {
  struct cmdline *c = lua_touserdata(L, 1);
  lua_newtable(L);
  c->exec = lua_gettop(L);
  parse_options(L, c);
  resolve_command(L, c);
  if (c->cmd == CMD_HELP || c->cmd == CMD_VERSION) {
    if (c->cmd == CMD_HELP) {
      fputs(usage_text, stdout);
    } else {
      lc_host_push_version(L);
      printf("%s\n", lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
  }
  lc_host_open(L);
  if (c->cmd == CMD_TRAIN || c->cmd == CMD_SUMMARY) {
    push_train_options(L, c);
    c->opts = lua_gettop(L);
  }
  set_arg_table(L, c);
  apply_thread_count(L, c);
  int ok = run_exec_chunks(L, c);
  if (ok && (c->cmd == CMD_RUN || c->cmd == CMD_TRAIN))
    ok = run_script(L, c);
  else if (ok && c->cmd == CMD_SUMMARY)
    ok = run_summary(L, c);
  else if (ok && c->cmd == CMD_COMPLETE)
    ok = print_completions(L, c->complete);
  else if (ok && c->cmd == CMD_REPL)
    lc_repl_run(L);
  lua_pushboolean(L, ok);
  return 1;
}

int main(int argc, char **argv) {
  struct cmdline c = {.argc = argc, .argv = argv, .cmd = CMD_NONE, .exit_status = -1};
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fputs("luacnn: cannot create the Lua state: not enough memory\n", stderr);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &c);
  int status = lua_pcall(L, 1, 1, 0);
  int ok = status == LUA_OK && lua_toboolean(L, -1);
  lc_host_report(L, status);
  lua_close(L);
  if (c.exit_status >= 0) return c.exit_status;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
