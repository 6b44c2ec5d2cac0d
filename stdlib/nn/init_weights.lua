-- Weight initializers by name (Keras names), applied to a tensor in place.
-- fan_in / fan_out are the number of inputs / outputs each unit connects to.
local T = require "luacnn"
local shape = require "nn.shape"

local M = {}

local function uniform(t, limit) return t:uniform_(-limit, limit) end

M.initializers = {
  zeros = function(t) return t:zero() end,
  ones = function(t) return t:fill(1) end,
  glorot_uniform = function(t, fan_in, fan_out) return uniform(t, math.sqrt(6 / (fan_in + fan_out))) end,
  glorot_normal = function(t, fan_in, fan_out) return t:normal_(0, math.sqrt(2 / (fan_in + fan_out))) end,
  he_uniform = function(t, fan_in) return uniform(t, math.sqrt(6 / fan_in)) end,
  he_normal = function(t, fan_in) return t:normal_(0, math.sqrt(2 / fan_in)) end,
  lecun_uniform = function(t, fan_in) return uniform(t, math.sqrt(3 / fan_in)) end,
  lecun_normal = function(t, fan_in) return t:normal_(0, math.sqrt(1 / fan_in)) end,
  -- Keras's RandomUniform / RandomNormal defaults
  random_uniform = function(t) return uniform(t, 0.05) end,
  random_normal = function(t) return t:normal_(0, 0.05) end,
  -- PyTorch's nn.Linear / Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  torch_default = function(t, fan_in) return uniform(t, 1 / math.sqrt(fan_in)) end,
}

local function names()
  local ns = {}
  for k in pairs(M.initializers) do ns[#ns + 1] = k end
  table.sort(ns)
  return table.concat(ns, ", ")
end

-- Checks an initializer spec when a layer is created, so a typo fails at once.
function M.check(spec, what)
  if type(spec) == "string" and not M.initializers[spec] then
    error(string.format("%s: unknown initializer '%s' (known: %s)", what, spec, names()), 4)
  elseif type(spec) ~= "string" and type(spec) ~= "function" and not T.is_tensor(spec) then
    error(string.format("%s: an initializer is a name, a function or a tensor, got %s", what, type(spec)), 4)
  end
  return spec
end

-- Depth of init.skipped calls in progress.
local skipping = 0

-- Runs fn(...) with every initializer skipped, and returns its results: parameters are
-- allocated but keep whatever their memory held. For tools that need a model's
-- structure and sizes but never its values (luacnn summary).
function M.skipped(fn, ...)
  skipping = skipping + 1
  local res = table.pack(pcall(fn, ...))
  skipping = skipping - 1
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- True while nn.load rebuilds a model whose every tensor then comes from the file (a strict
-- load): building only allocates, draws nothing and touches no page, so an architecture
-- that claims far more weights than the file holds fails at the load, not by filling
-- gigabytes first.
M.skip = false

-- Fills t from spec: a name, a function(t, fan_in, fan_out), or a tensor of t's shape.
function M.apply(spec, t, fan_in, fan_out, what)
  if M.skip then return t end
  if skipping > 0 then return t end
  if T.is_tensor(spec) then
    if not shape.equal(t:size(), spec:size()) then
      error(string.format("%s: initial value has shape %s, the parameter has shape %s", what,
                          tostring(spec:size()), tostring(t:size())), 0)
    end
    return t:copy(spec)
  elseif type(spec) == "function" then
    spec(t, fan_in, fan_out)
    return t
  end
  return M.initializers[spec](t, fan_in, fan_out)
end

return M
