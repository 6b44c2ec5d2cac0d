-- Dropout: in training, zeroes each input with probability `rate` and scales the rest by
-- 1/(1-rate) ("inverted" dropout), so evaluation is the identity. The mask comes from
-- the seeded generator, so a seed reproduces a run.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local registry = require "nn.registry"

local Dropout = class("Dropout", Module)

function Dropout:__init(rate, opts)
  Module.__init(self)
  if type(rate) ~= "number" or not (rate >= 0 and rate < 1) then
    error(string.format("Dropout: rate must be a number in [0, 1), got %s", tostring(rate)), 3)
  end
  self.rate = rate
  opts = opts or {}
  if opts.input_shape then self:build(opts.input_shape) end
end

function Dropout:forward(x)
  self:check_input(x, true)
  if not self.training or self.rate == 0 then
    self.output = x
    return x
  end
  if not x:is_contiguous() then x = x:contiguous() end
  local size = x:size()
  local y, mask = self:buffer("y", table.unpack(size)), self:buffer("mask", table.unpack(size))
  K.dropout_forward(y, mask, x, self.rate)
  self.output = y
  return y
end

function Dropout:backward(x, dy)
  if not self.training or self.rate == 0 then
    self.grad_input = dy
    return dy
  end
  -- elementwise: a dy the memory plan owns is masked in place
  local dx = dy
  if not self._dy_owned or not dy:is_contiguous() then
    dx = self:grad_buffer("dx", table.unpack(dy:size()))
    dx:copy(dy)
  end
  dx:mul_(self._buffers.mask)
  self.grad_input = dx
  return dx
end

Dropout.grad_aliases_dy = true

function Dropout:describe()
  return string.format("Dropout(%g)", self.rate)
end

function Dropout:config()
  return {type = "Dropout", rate = self.rate, input_shape = self.input_shape}
end

function Dropout.from_config(cfg, _, path)
  registry.check_fields(cfg, {"rate", "input_shape"}, path)
  return Dropout(cfg.rate, {input_shape = cfg.input_shape})
end
registry.register("Dropout", Dropout)

return {Dropout = Dropout}
