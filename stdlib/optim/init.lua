-- Optimizers: local optim = require "optim"; optim.Adam{lr = 1e-3}
local adam = require "optim.adam"

local M = {
  Optimizer = require "optim.optimizer",
  SGD = require "optim.sgd",
  Adam = adam.Adam,
  AdamW = adam.AdamW,
  RMSprop = require "optim.rmsprop",
  schedules = require "optim.schedules",
}

local by_name = {sgd = M.SGD, adam = M.Adam, adamw = M.AdamW, rmsprop = M.RMSprop}

-- An optimizer from a name ('adam', 'sgd', 'rmsprop', 'adamw') or an optimizer object.
function M.get(spec)
  if type(spec) == "string" then
    local C = by_name[spec:lower()]
    if not C then error(string.format("unknown optimizer '%s' (known: adam, adamw, rmsprop, sgd)", spec), 0) end
    return C()
  elseif type(spec) == "table" and spec.step then
    return spec
  end
  error("an optimizer is a name such as 'adam' or an optimizer object, got " .. type(spec), 0)
end

return M
