-- Layers that join several inputs into one, for graph models (nn.Model):
--   nn.Concat{dim = 1}({a, b, c})   joins along a per-sample dim: 1 is the channels of [C,H,W]
--                                   (like Keras's axis, the batch dim is not counted; -1 is the last)
--   nn.Add()({a, b})                elementwise sum of inputs of one shape (residual shortcuts)
-- Both take a list of nodes (or of tensors), have no parameters, and can be applied any
-- number of times: each call checks its own shapes, since nothing is built.
-- The multi-input protocol (also used by nn.Model with several inputs): multi_input = true,
-- forward(xs) takes a list of tensors, backward(xs, dy) returns a list of their gradients,
-- output_shape(shapes[, sources]) takes a list of per-sample shapes and, for messages,
-- what produced each one.
local T = require "luacnn"
local class = require("nn.class").class
local Module = require "nn.module"
local shape = require "nn.shape"
local registry = require "nn.registry"

local M = {}

-- "[N,16,8,8] (from Conv2d(3->16, 3x3))" for messages; sources are optional.
local function named(s, sources, i)
  local src = sources and sources[i]
  return shape.str(s, "N") .. (src and (" from " .. src) or "")
end

local function check_list(self, shapes, min)
  if type(shapes) ~= "table" or #shapes < min then
    error(string.format("%s: expected a list of at least %d inputs, got %s", self:describe(), min,
                        type(shapes) == "table" and (#shapes .. "") or type(shapes)), 0)
  end
end

-- The batch tensors of forward and backward: a list of tensors with one batch size.
local function check_tensors(self, xs)
  if type(xs) ~= "table" or #xs < 1 then
    error(string.format("%s: expected a list of tensors, got %s", self:describe(), type(xs)), 0)
  end
  for i, x in ipairs(xs) do
    if not T.is_tensor(x) then
      error(string.format("%s: input %d is a %s, not a tensor", self:describe(), i, type(x)), 0)
    end
    if x:dim() < 1 or x:size(1) ~= xs[1]:size(1) then
      error(string.format("%s: input %d has shape %s but input 1 has %s: batch sizes differ", self:describe(), i,
                          shape.str(shape.of(x)), shape.str(shape.of(xs[1]))), 0)
    end
  end
end

local function sample_shapes(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = shape.sample(x) end
  return s
end

local Concat = class("Concat", Module)

-- Concat{dim = 1} (or Concat(1)): dim counts the dims of one sample, so 1 is the channels.
function Concat:__init(opts)
  Module.__init(self)
  local dim = 1
  if type(opts) == "number" then
    dim = opts
  elseif type(opts) == "table" then
    for k in pairs(opts) do
      if k ~= "dim" and k ~= "axis" then error(string.format("Concat: unknown option '%s' (known: dim)", tostring(k)), 3) end
    end
    dim = opts.dim or opts.axis or 1
  elseif opts ~= nil then
    error("Concat: expected {dim = n}, got " .. type(opts), 3)
  end
  if math.type(dim) ~= "integer" or dim == 0 then
    error(string.format("Concat: dim must be a non-zero integer (1 = the first per-sample dim), got %s", tostring(dim)), 3)
  end
  self.dim = dim
  self.multi_input = true
end

-- The per-sample dim as a positive number for inputs of `rank` dims.
function Concat:resolved_dim(rank)
  local d = self.dim < 0 and rank + 1 + self.dim or self.dim
  if d < 1 or d > rank then
    error(string.format("%s: dim %d does not exist in inputs of per-sample rank %d", self:describe(), self.dim, rank), 0)
  end
  return d
end

function Concat:output_shape(shapes, sources)
  check_list(self, shapes, 1)
  local first = shapes[1]
  local d = self:resolved_dim(#first)
  local out = shape.copy(first)
  out[d] = 0
  for i, s in ipairs(shapes) do
    local ok = #s == #first
    for k = 1, #first do
      if k ~= d and s[k] ~= first[k] then ok = false end
    end
    if not ok then
      error(string.format("%s: cannot join input 1 %s and input %d %s: all sizes but dim %d must agree",
                          self:describe(), named(first, sources, 1), i, named(s, sources, i), self.dim), 0)
    end
    out[d] = out[d] + s[d]
  end
  return out
end

-- Nothing to create: each application checks its own shapes.
function Concat:build(shapes)
  self:output_shape(shapes)
end

function Concat:forward(xs)
  check_tensors(self, xs)
  local out = self:output_shape(sample_shapes(xs))
  local d = self:resolved_dim(#out) + 1
  local y = self:buffer("y", xs[1]:size(1), table.unpack(out))
  local off = 1
  for _, x in ipairs(xs) do
    y:narrow(d, off, x:size(d)):copy(x)
    off = off + x:size(d)
  end
  self.output = y
  return y
end

-- Each input's gradient is its slice of dy, copied into a buffer: consumers want
-- contiguous gradients and would otherwise allocate a copy every step.
function Concat:backward(xs, dy)
  local d = self:resolved_dim(dy:dim() - 1) + 1
  local grads = self._grads or {}
  self._grads = grads
  local off = 1
  for i, x in ipairs(xs) do
    local g = self:buffer("dx" .. i, table.unpack(x:size()))
    g:copy(dy:narrow(d, off, x:size(d)))
    grads[i] = g
    off = off + x:size(d)
  end
  for i = #xs + 1, #grads do grads[i] = nil end
  self.grad_input = grads
  return grads
end

function Concat:describe()
  return string.format("Concat(dim %d)", self.dim)
end

local Add = class("Add", Module)

function Add:__init(opts)
  Module.__init(self)
  if opts ~= nil and (type(opts) ~= "table" or next(opts) ~= nil) then
    error("Add: takes no options, got " .. (type(opts) == "table" and ("'" .. tostring(next(opts)) .. "'") or type(opts)), 3)
  end
  self.multi_input = true
end

function Add:output_shape(shapes, sources)
  check_list(self, shapes, 1)
  for i = 2, #shapes do
    if not shape.equal(shapes[i], shapes[1]) then
      error(string.format("%s: cannot add input 1 %s and input %d %s: shapes differ", self:describe(),
                          named(shapes[1], sources, 1), i, named(shapes[i], sources, i)), 0)
    end
  end
  return shape.copy(shapes[1])
end

function Add:build(shapes)
  self:output_shape(shapes)
end

function Add:forward(xs)
  check_tensors(self, xs)
  self:output_shape(sample_shapes(xs))
  local y = self:buffer("y", table.unpack(xs[1]:size()))
  y:copy(xs[1])
  for i = 2, #xs do y:add_(xs[i]) end
  self.output = y
  return y
end

-- d(sum)/d(each input) is the identity: every input gets dy itself (nobody writes into it).
function Add:backward(xs, dy)
  local grads = self._grads or {}
  self._grads = grads
  for i = 1, #xs do grads[i] = dy end
  for i = #xs + 1, #grads do grads[i] = nil end
  self.grad_input = grads
  return grads
end

-- Every input gradient is dy itself; the output is never read in backward (nor Concat's).
Add.grad_aliases_dy = true

function Add:output_reusable()
  return true
end

function Concat:output_reusable()
  return true
end

function Add:describe()
  return "Add"
end

function Concat:config()
  return {type = "Concat", dim = self.dim}
end

function Concat.from_config(cfg, _, path)
  registry.check_fields(cfg, {"dim"}, path)
  return Concat{dim = cfg.dim}
end
registry.register("Concat", Concat)

function Add:config()
  return {type = "Add"}
end

function Add.from_config(cfg, _, path)
  registry.check_fields(cfg, {}, path)
  return Add()
end
registry.register("Add", Add)

M.Concat, M.Add = Concat, Add
M.Concatenate = Concat
return M
