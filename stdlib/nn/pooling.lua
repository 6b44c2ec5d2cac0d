-- Pooling over N x C x H x W images: MaxPool2d, AvgPool2d (windows) and GlobalAvgPool2d
-- (the mean of each channel's plane, [N, C, H, W] -> [N, C] as Keras's
-- GlobalAveragePooling2D). Max pooling treats padding as -inf (it never wins); average
-- pooling counts padded zeros in the divisor (PyTorch's default count_include_pad=True).
-- Padding may be at most half the kernel (PyTorch's rule). Like Conv2d, pooling layers
-- take inputs of any height and width.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local conv = require "nn.conv"
local shape = require "nn.shape"
local registry = require "nn.registry"

local function pool_class(name, kernel_name)
  local P = class(name, Module)

  -- P(kernel_size, {stride=kernel_size, padding=0, input_shape=})
  function P:__init(kernel_size, opts)
    Module.__init(self)
    opts = opts or {}
    if type(opts) ~= "table" then error(name .. ": options must be a table, got " .. type(opts), 3) end
    self.kernel_size = conv.pair(kernel_size, name, "kernel_size", 1, 3)
    self.stride = conv.pair(opts.stride or opts.strides or kernel_size, name, "stride", 1, 3)
    self.padding = conv.pair(opts.padding or 0, name, "padding", 0, 3)
    for i = 1, 2 do
      if 2 * self.padding[i] > self.kernel_size[i] then
        error(string.format("%s: padding %s must be at most half the kernel %s", name, conv.hw(self.padding),
                            conv.hw(self.kernel_size)), 3)
      end
    end
    self.params_c = {self.kernel_size[1], self.kernel_size[2], self.stride[1], self.stride[2], self.padding[1],
                     self.padding[2]}
    if opts.input_shape then self:build(opts.input_shape) end
  end

  function P:output_shape(in_shape)
    if #in_shape ~= 3 then
      error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
    end
    local ok, oh, ow = pcall(K.pool2d_output_size, in_shape[2], in_shape[3], self.params_c, kernel_name)
    if not ok then error(self:describe() .. ": " .. conv.reason(oh), 0) end
    return {in_shape[1], oh, ow}
  end

  function P:build(in_shape)
    self:output_shape(in_shape)
    Module.build(self, in_shape)
  end

  function P:forward(x)
    conv.check_image_input(self, x, self.input_shape and self.input_shape[1])
    if not self.built then self:build(shape.sample(x)) end
    if not x:is_contiguous() then x = x:contiguous() end
    self._x = x
    local out = self:output_shape(shape.sample(x))
    local y = self:buffer("y", x:size(1), out[1], out[2], out[3])
    K[kernel_name .. "_forward"](y, x, self.params_c)
    self.output = y
    return y
  end

  function P:backward(x, dy)
    if x ~= self._x then x = x:contiguous() end
    if not dy:is_contiguous() then dy = dy:contiguous() end
    local dx = self:buffer("dx", table.unpack(x:size()))
    if kernel_name == "maxpool2d" then
      K.maxpool2d_backward(dx, dy, x, self.params_c)
    else
      K.avgpool2d_backward(dx, dy, self.params_c)
    end
    self.grad_input = dx
    return dx
  end

  function P:describe()
    local parts = {conv.hw(self.kernel_size)}
    if self.stride[1] ~= self.kernel_size[1] or self.stride[2] ~= self.kernel_size[2] then
      parts[#parts + 1] = "stride " .. conv.hw(self.stride)
    end
    if self.padding[1] ~= 0 or self.padding[2] ~= 0 then parts[#parts + 1] = "pad " .. conv.hw(self.padding) end
    return name .. "(" .. table.concat(parts, ", ") .. ")"
  end

  function P:config()
    return {type = name, kernel_size = {table.unpack(self.kernel_size)}, stride = {table.unpack(self.stride)},
            padding = {table.unpack(self.padding)}, input_shape = self.input_shape}
  end

  function P.from_config(cfg, _, path)
    registry.check_fields(cfg, {"kernel_size", "stride", "padding", "input_shape"}, path)
    return P(cfg.kernel_size, {stride = cfg.stride, padding = cfg.padding, input_shape = cfg.input_shape})
  end
  registry.register(name, P)

  return P
end

local MaxPool2d = pool_class("MaxPool2d", "maxpool2d")
local AvgPool2d = pool_class("AvgPool2d", "avgpool2d")

local GlobalAvgPool2d = class("GlobalAvgPool2d", Module)

-- GlobalAvgPool2d{input_shape=}: [N, C, H, W] -> [N, C]
function GlobalAvgPool2d:__init(opts)
  Module.__init(self)
  opts = opts or {}
  if type(opts) ~= "table" then error("GlobalAvgPool2d: options must be a table, got " .. type(opts), 3) end
  if opts.input_shape then self:build(opts.input_shape) end
end

function GlobalAvgPool2d:output_shape(in_shape)
  if #in_shape ~= 3 then
    error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
  end
  return {in_shape[1]}
end

function GlobalAvgPool2d:build(in_shape)
  self:output_shape(in_shape)
  Module.build(self, in_shape)
end

-- the whole plane as one window
local function plane_params(x)
  return {x:size(3), x:size(4), 1, 1, 0, 0}
end

function GlobalAvgPool2d:forward(x)
  conv.check_image_input(self, x, self.input_shape and self.input_shape[1])
  if not self.built then self:build(shape.sample(x)) end
  if not x:is_contiguous() then x = x:contiguous() end
  local n, c = x:size(1), x:size(2)
  local y = self:buffer("y", n, c, 1, 1)
  K.avgpool2d_forward(y, x, plane_params(x))
  self.output = y:view(n, c)
  return self.output
end

function GlobalAvgPool2d:backward(x, dy)
  local n, c = x:size(1), x:size(2)
  dy = dy:contiguous():view(n, c, 1, 1)
  local dx = self:buffer("dx", table.unpack(x:size()))
  K.avgpool2d_backward(dx, dy, plane_params(x))
  self.grad_input = dx
  return dx
end

function GlobalAvgPool2d:describe()
  return "GlobalAvgPool2d"
end

function GlobalAvgPool2d:config()
  return {type = "GlobalAvgPool2d", input_shape = self.input_shape}
end

function GlobalAvgPool2d.from_config(cfg, _, path)
  registry.check_fields(cfg, {"input_shape"}, path)
  return GlobalAvgPool2d{input_shape = cfg.input_shape}
end
registry.register("GlobalAvgPool2d", GlobalAvgPool2d)

return {MaxPool2d = MaxPool2d, AvgPool2d = AvgPool2d, GlobalAvgPool2d = GlobalAvgPool2d,
        MaxPooling2D = MaxPool2d, AveragePooling2D = AvgPool2d, GlobalAveragePooling2D = GlobalAvgPool2d}
