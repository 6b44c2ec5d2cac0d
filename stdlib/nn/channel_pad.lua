-- ChannelPad(after[, before]): adds channels of zeros to each image,
-- [N, C, H, W] -> [N, before + C + after, H, W]. With a stride-2 1x1 pooling in front it is
-- the parameter-free "option A" shortcut of the CIFAR ResNets (He et al., 2016), which
-- widens the identity to the next stage's channel count. Backward keeps the input's slice.
local class = require("nn.class").class
local Module = require "nn.module"
local conv = require "nn.conv"
local shape = require "nn.shape"
local registry = require "nn.registry"

local ChannelPad = class("ChannelPad", Module)

function ChannelPad:__init(after, before)
  Module.__init(self)
  before = before or 0
  for _, v in ipairs{{"after", after}, {"before", before}} do
    if math.type(v[2]) ~= "integer" or v[2] < 0 then
      error(string.format("ChannelPad: %s must be a non-negative integer, got %s", v[1], tostring(v[2])), 3)
    end
  end
  self.after, self.before = after, before
end

function ChannelPad:output_shape(in_shape)
  if #in_shape ~= 3 then
    error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
  end
  return {self.before + in_shape[1] + self.after, in_shape[2], in_shape[3]}
end

function ChannelPad:build(in_shape)
  self:output_shape(in_shape)
  Module.build(self, in_shape)
end

function ChannelPad:forward(x)
  conv.check_image_input(self, x, self.input_shape and self.input_shape[1])
  if not self.built then self:build(shape.sample(x)) end
  local out = self:output_shape(shape.sample(x))
  local y = self:buffer("y", x:size(1), out[1], out[2], out[3])
  y:zero()
  y:narrow(2, self.before + 1, x:size(2)):copy(x)
  self.output = y
  return y
end

function ChannelPad:backward(x, dy)
  local dx = self:grad_buffer("dx", table.unpack(x:size()))
  dx:copy(dy:narrow(2, self.before + 1, x:size(2)))
  self.grad_input = dx
  return dx
end

function ChannelPad:describe()
  if self.before == 0 then return string.format("ChannelPad(+%d)", self.after) end
  return string.format("ChannelPad(+%d before, +%d after)", self.before, self.after)
end

function ChannelPad:config()
  return {type = "ChannelPad", after = self.after, before = self.before, input_shape = self.input_shape}
end

function ChannelPad.from_config(cfg, _, path)
  registry.check_fields(cfg, {"after", "before", "input_shape"}, path)
  local m = ChannelPad(cfg.after, cfg.before)
  if cfg.input_shape then m:build(cfg.input_shape) end
  return m
end
registry.register("ChannelPad", ChannelPad)

return {ChannelPad = ChannelPad}
