-- The Optimizer base: holds the learning rate (a number or a schedule), the step count,
-- and per-parameter state created on the first step.
--   opt:step(params, grads)  -- lists of tensors, e.g. from model:parameters()
local class = require("nn.class").class
local shape = require "nn.shape"
local T = require "luacnn"

local Optimizer = class("Optimizer")

function Optimizer:__init(opts, defaults)
  opts = opts or {}
  if type(opts) ~= "table" then error(self.class_name .. ": options must be a table", 4) end
  for k, v in pairs(defaults) do
    local given = opts[k]
    if k == "lr" and given == nil then given = opts.learning_rate end
    if given ~= nil and type(given) ~= type(v) and not (k == "lr" and (type(given) == "table" or type(given) == "function")) then
      error(string.format("%s: option %s must be a %s, got %s", self.class_name, k, type(v), type(given)), 4)
    end
    self[k] = given == nil and v or given
  end
  for k in pairs(opts) do
    if defaults[k] == nil and k ~= "learning_rate" then
      error(string.format("%s: unknown option '%s'", self.class_name, tostring(k)), 4)
    end
  end
  if type(self.lr) == "number" and not (self.lr >= 0 and self.lr < math.huge) then
    error(string.format("%s: learning rate must be >= 0 and finite, got %g", self.class_name, self.lr), 4)
  end
  self.hyper_names = {}
  for k in pairs(defaults) do self.hyper_names[#self.hyper_names + 1] = k end
  table.sort(self.hyper_names)
  self.iterations = 0
  self.state = {}
end

-- The learning rate in force for the next step (schedules take the step count).
function Optimizer:current_lr()
  if type(self.lr) == "number" then return self.lr end
  return self.lr(self.iterations)
end

-- State buffers of parameter i, created zeroed on first use; a parameter whose shape
-- changed since is an error (the optimizer belongs to one model).
function Optimizer:slot(i, name, p)
  local st = self.state[i]
  if not st then
    st = {}
    self.state[i] = st
  end
  local b = st[name]
  if not b then
    b = T.zeros_like(p)
    st[name] = b
  elseif not shape.equal(b:size(), p:size()) then
    -- the same number of elements in another shape is another parameter too; level 4 is
    -- the caller of step (slot <- update <- step)
    error(string.format("%s: parameter %d has shape %s, but the optimizer state was made for %s", self.class_name, i,
                        tostring(p:size()), tostring(b:size())), 4)
  end
  return b
end

function Optimizer:step(params, grads)
  if type(params) ~= "table" or type(grads) ~= "table" or #params ~= #grads then
    error(self.class_name .. ":step: expected two lists of the same length (parameters, gradients)", 2)
  end
  -- a schedule gets the number of steps already taken (0 on the first step, as in Keras);
  -- the update sees the count including this step (Adam's bias correction wants t >= 1)
  local lr = self:current_lr()
  self.iterations = self.iterations + 1
  for i = 1, #params do
    local p, g = params[i], grads[i]
    if not shape.equal(p:size(), g:size()) then
      error(string.format("%s:step: parameter %d has shape %s but its gradient %s", self.class_name, i,
                          tostring(p:size()), tostring(g:size())), 2)
    end
    self:update(i, p, g, lr)
  end
end

-- State for checkpoints: hyper-parameters, step count and buffers.
function Optimizer:state_dict()
  return {iterations = self.iterations, state = self.state}
end

function Optimizer:load_state_dict(s)
  self.iterations = s.iterations
  self.state = s.state
end

-- The name and hyper-parameters as plain data; a learning-rate schedule (a callable)
-- is kept as its description, since the script that made it makes it again.
function Optimizer:config()
  local h = {}
  for _, k in ipairs(self.hyper_names or {}) do
    local v = self[k]
    if type(v) == "number" or type(v) == "boolean" or type(v) == "string" then h[k] = v else h[k] = tostring(v) end
  end
  return {type = self.class_name, hyper = h}
end

-- The state buffers as {index=, slot=, value=} (index: the parameter's position in the
-- lists step() is given), sorted so files come out the same every time.
function Optimizer:named_state()
  local out = {}
  for i, st in pairs(self.state) do
    for slot, t in pairs(st) do out[#out + 1] = {index = i, slot = slot, value = t} end
  end
  table.sort(out, function(a, b)
    if a.index ~= b.index then return a.index < b.index end
    return a.slot < b.slot
  end)
  return out
end

return Optimizer
