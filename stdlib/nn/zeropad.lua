-- ZeroPad2d(p | {top, bottom, left, right}): adds rows and columns of zeros around each
-- image, [N, C, H, W] -> [N, C, H + top + bottom, W + left + right]. Backward crops.
local class = require("nn.class").class
local Module = require "nn.module"
local conv = require "nn.conv"
local shape = require "nn.shape"
local registry = require "nn.registry"

local ZeroPad2d = class("ZeroPad2d", Module)

function ZeroPad2d:__init(padding, opts)
  Module.__init(self)
  local p = type(padding) == "table" and padding or {padding, padding, padding, padding}
  if type(padding) == "table" and #padding ~= 4 then
    error(string.format("ZeroPad2d: padding must be a number or {top, bottom, left, right}, got a table of %d values",
                        #padding), 3)
  end
  for i = 1, 4 do
    if math.type(p[i]) ~= "integer" or p[i] < 0 then
      error(string.format("ZeroPad2d: padding must be non-negative integers, got %s", tostring(p[i])), 3)
    end
  end
  self.pad = {p[1], p[2], p[3], p[4]}
  opts = opts or {}
  if opts.input_shape then self:build(opts.input_shape) end
end

function ZeroPad2d:output_shape(in_shape)
  if #in_shape ~= 3 then
    error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
  end
  local p = self.pad
  return {in_shape[1], in_shape[2] + p[1] + p[2], in_shape[3] + p[3] + p[4]}
end

-- the input's place inside the padded output
local function inner(self, t, h, w)
  return t:narrow(3, self.pad[1] + 1, h):narrow(4, self.pad[3] + 1, w)
end

function ZeroPad2d:forward(x)
  conv.check_image_input(self, x, self.input_shape and self.input_shape[1])
  if not self.built then self:build(shape.sample(x)) end
  local out = self:output_shape(shape.sample(x))
  local y = self:buffer("y", x:size(1), out[1], out[2], out[3])
  y:zero()
  inner(self, y, x:size(3), x:size(4)):copy(x)
  self.output = y
  return y
end

function ZeroPad2d:backward(x, dy)
  local dx = self:grad_buffer("dx", table.unpack(x:size()))
  dx:copy(inner(self, dy, x:size(3), x:size(4)))
  self.grad_input = dx
  return dx
end

function ZeroPad2d:describe()
  local p = self.pad
  if p[1] == p[2] and p[2] == p[3] and p[3] == p[4] then return string.format("ZeroPad2d(%d)", p[1]) end
  return string.format("ZeroPad2d(%d,%d,%d,%d)", p[1], p[2], p[3], p[4])
end

function ZeroPad2d:config()
  return {type = "ZeroPad2d", padding = {table.unpack(self.pad)}, input_shape = self.input_shape}
end

function ZeroPad2d.from_config(cfg, _, path)
  registry.check_fields(cfg, {"padding", "input_shape"}, path)
  return ZeroPad2d(cfg.padding, {input_shape = cfg.input_shape})
end
registry.register("ZeroPad2d", ZeroPad2d)

return {ZeroPad2d = ZeroPad2d, ZeroPadding2D = ZeroPad2d}
