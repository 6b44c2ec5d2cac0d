/* The interactive prompt and its tab completion. */
#ifndef LUACNN_REPL_H
#define LUACNN_REPL_H

#include <lua.h>

/* Reads chunks from stdin until end of input, running each and printing the values of
 * expressions. With a terminal: readline editing, history, completion, prompts and a
 * banner. Otherwise: plain line reading with no prompts, so output is just results. */
void lc_repl_run(lua_State *L);

/* lua_CFunction (text) -> sorted array of the strings that would replace text on TAB:
 * globals and keywords, or fields after "a.b." and methods after "a.b:", looked up
 * without running any user code. */
int lc_repl_complete(lua_State *L);

#endif
