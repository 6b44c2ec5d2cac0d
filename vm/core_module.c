/* Entry point for a plain lua5.4: require "luacnn.core" finds luacnn/core.so. */
#include <lua.h>

#include "luacnn.h"

LUAMOD_API int luaopen_luacnn_core(lua_State *L);

LUAMOD_API int luaopen_luacnn_core(lua_State *L) { return lc_open_core(L); }
