-- Argument checks shared by the image functions: an image is a tensor [C,H,W] (channels
-- first) or [H,W] (one channel). Errors are raised at the caller of the public function.
local T = require "luacnn"

local M = {}

-- Returns C, H, W and whether t is 2-D; `what` names the public function.
function M.image(t, what, level)
  level = (level or 2) + 1
  if not T.is_tensor(t) then
    error(string.format("%s: expected an image tensor [C,H,W] or [H,W], got %s", what, type(t)), level)
  end
  local s = t:size()
  if #s == 3 then return s[1], s[2], s[3], false end
  if #s == 2 then return 1, s[1], s[2], true end
  local hint = #s == 4 and " (a batch? take one image: x[1])" or ""
  error(string.format("%s: expected an image [C,H,W] or [H,W], got %s%s", what, tostring(s), hint), level)
end

function M.integer(v, what, name, min, level)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
    error(string.format("%s: %s must be an integer, got %s", what, name, tostring(v)), (level or 2) + 1)
  end
  v = math.tointeger(v)
  if min and v < min then
    error(string.format("%s: %s must be at least %d, got %d", what, name, min, v), (level or 2) + 1)
  end
  return v
end

function M.opts(o, what, allowed, level)
  if o == nil then return {} end
  if type(o) ~= "table" then
    error(string.format("%s: options must be a table, got %s", what, type(o)), (level or 2) + 1)
  end
  for k in pairs(o) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      error(string.format("%s: unknown option '%s' (known: %s)", what, tostring(k), table.concat(names, ", ")), (level or 2) + 1)
    end
  end
  return o
end

return M
