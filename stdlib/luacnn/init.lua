-- The public luacnn module: the C core plus the parts that read better in Lua.
local core = require "luacnn.core"
return core
