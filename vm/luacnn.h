/* The binding layer's entry points, shared by the host program and the Lua module. */
#ifndef LUACNN_H
#define LUACNN_H

#include <lua.h>

/* Pushes the core module table (tensors, math, RNG, threads): what require "luacnn.core"
 * returns. The stdlib's luacnn/init.lua builds the public "luacnn" module on top of it. */
int lc_open_core(lua_State *L);

#endif
