-- A minimal class system: classes are callable (nn.Dense(128)), inherit by chaining
-- __index, and carry their name for messages and summaries.
local function class(name, parent)
  local c = {}
  c.__index = c
  c.__name = name
  c.class_name = name
  if parent then
    -- metamethods are not inherited through __index: copy the ones the parent defines
    for _, k in ipairs{"__tostring", "__call", "__len"} do
      if rawget(c, k) == nil and parent[k] then c[k] = parent[k] end
    end
  end
  setmetatable(c, {
    __index = parent,
    __call = function(cls, ...)
      local obj = setmetatable({}, cls)
      obj:__init(...)
      return obj
    end,
  })
  c.parent = parent
  return c
end

-- is_a(obj, cls): obj is an instance of cls or of a class derived from it.
local function is_a(obj, cls)
  if type(obj) ~= "table" then return false end
  local c = getmetatable(obj)
  while c do
    if c == cls then return true end
    c = rawget(c, "parent")
  end
  return false
end

return {class = class, is_a = is_a}
