-- Pooling over N x C x H x W images: MaxPool2d, AvgPool2d (windows), AdaptiveAvgPool2d
-- (a fixed output size whatever the input's) and GlobalAvgPool2d (the mean of each
-- channel's plane, [N, C, H, W] -> [N, C] as Keras's GlobalAveragePooling2D).
-- Padding may be at most half the kernel (PyTorch's rule). Like Conv2d, pooling layers
-- take inputs of any height and width.
--
-- Output size: floor((H + 2 pad - kernel) / stride) + 1, or with ceil_mode = true
-- ceil(...) + 1 less one if the last window would start in the bottom/right padding
-- (PyTorch's rule, computed in C by lc_pool_out_size for the layers, the kernels and
-- their errors alike). Ceil mode keeps the partial window at the end: 2x2/2 over 5
-- rows gives 3 rows, the last one pooling row 5 alone.
--
-- Max pooling treats padding as -inf (it never wins). Average pooling follows PyTorch's
-- count_include_pad: with true (the default) the divisor counts the padded zeros, but
-- not the part of a ceil-mode window that hangs past the padding (so 3x3/2 pad 1 over 6
-- rows divides its last windows by 2 rows x 3, not 9); with false it counts only the
-- input elements in the window.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local conv = require "nn.conv"
local shape = require "nn.shape"
local registry = require "nn.registry"

local function pool_class(name, kernel_name)
  local P = class(name, Module)

  -- P(kernel_size, {stride=kernel_size, padding=0, ceil_mode=false, input_shape=}); AvgPool2d
  -- also takes count_include_pad=true.
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
    local ceil_mode = opts.ceil_mode
    if ceil_mode ~= nil and type(ceil_mode) ~= "boolean" then
      error(string.format("%s: ceil_mode must be true or false, got %s", name, tostring(ceil_mode)), 3)
    end
    self.ceil_mode = ceil_mode == true
    local include_pad = opts.count_include_pad
    if include_pad ~= nil and kernel_name ~= "avgpool2d" then
      error(name .. ": count_include_pad applies to average pooling only", 3)
    end
    if include_pad ~= nil and type(include_pad) ~= "boolean" then
      error(string.format("%s: count_include_pad must be true or false, got %s", name, tostring(include_pad)), 3)
    end
    self.count_include_pad = include_pad ~= false
    self.params_c = {self.kernel_size[1], self.kernel_size[2], self.stride[1], self.stride[2], self.padding[1],
                     self.padding[2], self.ceil_mode and 1 or 0, self.count_include_pad and 0 or 1}
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
    local dx = self:grad_buffer("dx", table.unpack(x:size()))
    if kernel_name == "maxpool2d" then
      K.maxpool2d_backward(dx, dy, x, self.params_c)
    else
      K.avgpool2d_backward(dx, dy, self.params_c)
    end
    self.grad_input = dx
    return dx
  end

  -- for the summary: the window (pooling has no multiply-adds)
  function P:receptive_field()
    return {kernel = self.kernel_size, stride = self.stride, dilation = {1, 1}}
  end

  function P:describe()
    local parts = {conv.hw(self.kernel_size)}
    if self.stride[1] ~= self.kernel_size[1] or self.stride[2] ~= self.kernel_size[2] then
      parts[#parts + 1] = "stride " .. conv.hw(self.stride)
    end
    if self.padding[1] ~= 0 or self.padding[2] ~= 0 then parts[#parts + 1] = "pad " .. conv.hw(self.padding) end
    if self.ceil_mode then parts[#parts + 1] = "ceil" end
    if not self.count_include_pad and (self.padding[1] ~= 0 or self.padding[2] ~= 0 or self.ceil_mode) then
      parts[#parts + 1] = "pad not counted"
    end
    return name .. "(" .. table.concat(parts, ", ") .. ")"
  end

  function P:config()
    return {type = name, kernel_size = {table.unpack(self.kernel_size)}, stride = {table.unpack(self.stride)},
            padding = {table.unpack(self.padding)}, ceil_mode = self.ceil_mode,
            count_include_pad = kernel_name == "avgpool2d" and self.count_include_pad or nil,
            input_shape = self.input_shape}
  end

  function P.from_config(cfg, _, path)
    registry.check_fields(cfg, {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "input_shape"},
                          path)
    return P(cfg.kernel_size, {stride = cfg.stride, padding = cfg.padding, ceil_mode = cfg.ceil_mode,
                               count_include_pad = cfg.count_include_pad, input_shape = cfg.input_shape})
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
  local dx = self:grad_buffer("dx", table.unpack(x:size()))
  K.avgpool2d_backward(dx, dy, plane_params(x))
  self.grad_input = dx
  return dx
end

-- for the summary: one window over the whole plane
function GlobalAvgPool2d:receptive_field(in_shape)
  return {kernel = {in_shape[2], in_shape[3]}, stride = {in_shape[2], in_shape[3]}, dilation = {1, 1}}
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

local AdaptiveAvgPool2d = class("AdaptiveAvgPool2d", Module)

-- AdaptiveAvgPool2d(output_size, {input_shape=}): output_size n or {h, w}. Output row i
-- averages input rows floor(i H / h) .. ceil((i + 1) H / h) - 1 (PyTorch's windows), so
-- any input size gives an h x w output: torchvision's VGG and AlexNet put one before
-- their classifier, which then takes 32x32 images as well as 224x224 ones.
function AdaptiveAvgPool2d:__init(output_size, opts)
  Module.__init(self)
  opts = opts or {}
  if type(opts) ~= "table" then error("AdaptiveAvgPool2d: options must be a table, got " .. type(opts), 3) end
  self.output_size = conv.pair(output_size, "AdaptiveAvgPool2d", "output_size", 1, 3)
  if opts.input_shape then self:build(opts.input_shape) end
end

function AdaptiveAvgPool2d:output_shape(in_shape)
  if #in_shape ~= 3 then
    error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
  end
  if in_shape[2] < 1 or in_shape[3] < 1 then
    error(string.format("%s: input is empty (%dx%d)", self:describe(), in_shape[2], in_shape[3]), 0)
  end
  return {in_shape[1], self.output_size[1], self.output_size[2]}
end

function AdaptiveAvgPool2d:build(in_shape)
  self:output_shape(in_shape)
  Module.build(self, in_shape)
end

function AdaptiveAvgPool2d:forward(x)
  conv.check_image_input(self, x, self.input_shape and self.input_shape[1])
  if not self.built then self:build(shape.sample(x)) end
  self:output_shape(shape.sample(x))
  if not x:is_contiguous() then x = x:contiguous() end
  self._x = x
  local y = self:buffer("y", x:size(1), x:size(2), self.output_size[1], self.output_size[2])
  K.adaptive_avgpool2d_forward(y, x)
  self.output = y
  return y
end

function AdaptiveAvgPool2d:backward(x, dy)
  if not dy:is_contiguous() then dy = dy:contiguous() end
  local dx = self:grad_buffer("dx", table.unpack(x:size()))
  K.adaptive_avgpool2d_backward(dx, dy)
  self.grad_input = dx
  return dx
end

-- For the summary: the widest window, and the mean distance between window starts as the
-- stride (exact when the output size divides the input's; 0 when a 1-pixel input is
-- repeated, since every output then sees the same pixel).
function AdaptiveAvgPool2d:receptive_field(in_shape)
  local kernel, stride = {}, {}
  for a = 1, 2 do
    local n, out = in_shape[a + 1], self.output_size[a]
    local widest = 0
    for i = 0, out - 1 do
      widest = math.max(widest, ((i + 1) * n + out - 1) // out - (i * n) // out)
    end
    kernel[a] = widest
    if out == 1 then
      stride[a] = n
    else
      local span = ((out - 1) * n) // out
      stride[a] = span % (out - 1) == 0 and span // (out - 1) or span / (out - 1)
    end
  end
  return {kernel = kernel, stride = stride, dilation = {1, 1}}
end

function AdaptiveAvgPool2d:describe()
  return "AdaptiveAvgPool2d(" .. conv.hw(self.output_size) .. ")"
end

function AdaptiveAvgPool2d:config()
  return {type = "AdaptiveAvgPool2d", output_size = {table.unpack(self.output_size)}, input_shape = self.input_shape}
end

function AdaptiveAvgPool2d.from_config(cfg, _, path)
  registry.check_fields(cfg, {"output_size", "input_shape"}, path)
  return AdaptiveAvgPool2d(cfg.output_size, {input_shape = cfg.input_shape})
end
registry.register("AdaptiveAvgPool2d", AdaptiveAvgPool2d)

return {MaxPool2d = MaxPool2d, AvgPool2d = AvgPool2d, GlobalAvgPool2d = GlobalAvgPool2d,
        AdaptiveAvgPool2d = AdaptiveAvgPool2d,
        MaxPooling2D = MaxPool2d, AveragePooling2D = AvgPool2d, GlobalAveragePooling2D = GlobalAvgPool2d}
