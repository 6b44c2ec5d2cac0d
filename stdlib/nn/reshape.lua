-- Layers that only change the shape: Flatten and Reshape. Both are views when the
-- input is contiguous, so they cost no copy.
local class = require("nn.class").class
local Module = require "nn.module"
local shape = require "nn.shape"
local registry = require "nn.registry"

local Flatten = class("Flatten", Module)

-- Flatten{input_shape={28,28}}: [N, d1, d2, ...] -> [N, d1*d2*...]
function Flatten:__init(opts)
  Module.__init(self)
  opts = opts or {}
  if type(opts) ~= "table" then error("Flatten: options must be a table, got " .. type(opts), 3) end
  if opts.input_shape then self:build(opts.input_shape) end
end

function Flatten:output_shape(in_shape)
  return {shape.numel(in_shape)}
end

function Flatten:forward(x)
  self:check_input(x)
  self.output = x:reshape(x:size(1), -1)
  return self.output
end

function Flatten:backward(x, dy)
  self.grad_input = dy:reshape(x:size())
  return self.grad_input
end

Flatten.grad_aliases_dy = true

function Flatten:describe()
  return "Flatten"
end

function Flatten:config()
  return {type = "Flatten", input_shape = self.input_shape}
end

function Flatten.from_config(cfg, _, path)
  registry.check_fields(cfg, {"input_shape"}, path)
  return Flatten{input_shape = cfg.input_shape}
end
registry.register("Flatten", Flatten)

local Reshape = class("Reshape", Module)

-- Reshape({7, 7, 1}[, opts]): the per-sample target shape; one size may be -1.
function Reshape:__init(target, opts)
  Module.__init(self)
  if type(target) ~= "table" or #target == 0 then
    error("Reshape: the target shape must be a non-empty table such as {7,7,1}", 3)
  end
  local unknown = 0
  for i, v in ipairs(target) do
    if math.type(v) ~= "integer" or (v < 1 and v ~= -1) then
      error(string.format("Reshape: size %s at position %d must be a positive integer or -1", tostring(v), i), 3)
    end
    if v == -1 then unknown = unknown + 1 end
  end
  if unknown > 1 then error("Reshape: only one size can be -1", 3) end
  self.target = shape.copy(target)
  opts = opts or {}
  if opts.input_shape then self:build(opts.input_shape) end
end

function Reshape:output_shape(in_shape)
  local n, known, out = shape.numel(in_shape), 1, shape.copy(self.target)
  local free
  for i, v in ipairs(out) do
    if v == -1 then free = i else known = known * v end
  end
  if free then
    if n % known ~= 0 then
      error(string.format("Reshape: cannot reshape %s into %s", shape.str(in_shape), shape.str(self.target)), 0)
    end
    out[free] = n // known
  elseif known ~= n then
    error(string.format("Reshape: cannot reshape %s (%d values) into %s (%d values)", shape.str(in_shape), n,
                        shape.str(self.target), known), 0)
  end
  return out
end

function Reshape:build(in_shape)
  self.resolved = self:output_shape(in_shape)
  Module.build(self, in_shape)
end

function Reshape:forward(x)
  self:check_input(x)
  local s = {x:size(1)}
  for i, v in ipairs(self.resolved) do s[i + 1] = v end
  self.output = x:reshape(s)
  return self.output
end

function Reshape:backward(x, dy)
  self.grad_input = dy:reshape(x:size())
  return self.grad_input
end

Reshape.grad_aliases_dy = true

function Reshape:describe()
  return "Reshape" .. shape.str(self.target)
end

function Reshape:config()
  return {type = "Reshape", target = shape.copy(self.target), input_shape = self.input_shape}
end

function Reshape.from_config(cfg, _, path)
  registry.check_fields(cfg, {"target", "input_shape"}, path)
  return Reshape(cfg.target, {input_shape = cfg.input_shape})
end
registry.register("Reshape", Reshape)

return {Flatten = Flatten, Reshape = Reshape}
