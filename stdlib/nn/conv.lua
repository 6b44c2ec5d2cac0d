-- 2-D convolution: Conv2d (PyTorch's spelling) and Conv2D (Keras's), one class.
--   y = activation(conv(x, W) + b),  x [N, C, H, W], W [O, C/groups, KH, KW], b [O], y [N, O, OH, OW]
-- OH = floor((H + 2 pad - dilation (KH - 1) - 1) / stride) + 1 (the C kernel's formula).
-- Inputs may change their height and width from batch to batch (as in PyTorch); the
-- channel count is fixed once the layer is built.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local Dense = require("nn.dense").Dense
local init = require "nn.init_weights"
local shape = require "nn.shape"
local registry = require "nn.registry"

local M = {}

-- The algorithms of the C kernel (conv.h's LC_CONV_*).
M.ALGOS = {auto = 0, gemm = 1, direct = 2, winograd = 3}

-- Columns kept from forward to backward, at most (floats per layer): 4M floats, 16 MB.
M.KEEP_COLUMNS = 4 * 1024 * 1024

-- One sample per kernel call when one sample's columns (im2col's lowered input, K x P
-- floats) reach this, 16M floats (64 MB): the GEMM path lowers one sample per thread at a
-- time, so its scratch is threads x K x P floats plus as much again in backward (VGG-16's
-- second layer at 224x224 with algo 'gemm' and 2 threads: 230 MB forward, 460 MB backward,
-- more than its output; auto picks Winograd for it, whose scratch is chunked). Called per sample, the kernel holds one sample's columns, and its GEMMs are
-- split over the threads instead: as fast for that layer (batch 8: backward 1.7-2.2 s
-- either way), 5-15% slower for VGG-16's 112x112 and 56x56 layers, whose batched scratch
-- (at most 230 MB) is no larger than the split one of the 224x224 layer anyway.
M.SPLIT_COLUMNS = 16 * 1024 * 1024

-- Samples per kernel call for input xin: all, or 1 (see SPLIT_COLUMNS); never with kept
-- columns (they are one matrix for the whole batch).
local function samples_per_call(self, xin, cols)
  local n = xin:size(1)
  if cols or n < 2 then return n end
  local ncols = K.conv2d_cols_numel(xin, self.weight, self.params_run)
  return ncols // n >= M.SPLIT_COLUMNS and 1 or n
end

-- A size given as a number or {h, w}, checked: {h, w} integers >= min.
function M.pair(v, what, name, min, level)
  level = (level or 1) + 1
  local p = type(v) == "table" and {v[1], v[2]} or {v, v}
  if type(v) == "table" and (#v ~= 2) then
    error(string.format("%s: %s must be a number or {h, w}, got a table of %d values", what, name, #v), level)
  end
  for i = 1, 2 do
    if math.type(p[i]) ~= "integer" or p[i] < min then
      local want = min == 0 and "a non-negative integer" or ("an integer >= " .. min)
      error(string.format("%s: %s must be %s, got %s", what, name, want, tostring(p[i])), level)
    end
  end
  return p
end

-- "5x5" or "5"
local function hw(p)
  return p[1] .. "x" .. p[2]
end
M.hw = hw

-- Per-sample input {C, H, W} of a layer that takes images; errors name the layer.
function M.check_image_input(self, x, channels)
  if not T.is_tensor(x) then
    error(string.format("%s: expected a tensor, got %s", self:describe(), type(x)), 0)
  end
  if x:dim() ~= 4 then
    local hint = x:dim() == 3 and " (missing batch dimension? use x:unsqueeze(1) for one image)" or ""
    error(string.format("%s: input has shape %s, expected [N,C,H,W]%s", self:describe(), shape.str(shape.of(x)), hint), 0)
  end
  if channels and x:size(2) ~= channels then
    error(string.format("%s: input has %d channels, expected %d (input shape %s)", self:describe(), x:size(2), channels,
                        shape.str(shape.of(x))), 0)
  end
end

-- the text of an error raised by a kernel, without position and kernel name
local function reason(err)
  return (tostring(err):gsub("^[^\n:]+:%d+: ", ""):gsub("^[%w_]+ ?%w*: ", ""))
end
M.reason = reason

local Conv2d = class("Conv2d", Module)

-- Conv2d(in_channels, out_channels, kernel_size, {stride=1, padding=0|'same'|'valid',
--        dilation=1, groups=1, bias=true, activation='linear', kernel_initializer=,
--        bias_initializer=, input_shape={C,H,W}, algo='auto'})
-- in_channels may be nil (Keras's Conv2D): it is taken from the input when the layer is built.
-- algo forces the C kernel's algorithm: 'gemm' (im2col + GEMM), 'direct' (AVX2 loops;
-- stride 1, no dilation or groups), 'winograd' (F(4x4, 3x3): 3x3 kernels, stride 1, no
-- dilation or groups, padding at most 2); 'auto' picks by shape (docs/nn.md).
function Conv2d:__init(in_channels, out_channels, kernel_size, opts)
  Module.__init(self)
  opts = opts or {}
  local what = "Conv2d"
  if type(opts) ~= "table" then error(what .. ": options must be a table, got " .. type(opts), 3) end
  if in_channels ~= nil and (math.type(in_channels) ~= "integer" or in_channels < 1) then
    error(string.format("%s: in_channels must be a positive integer, got %s", what, tostring(in_channels)), 3)
  end
  if math.type(out_channels) ~= "integer" or out_channels < 1 then
    error(string.format("%s: out_channels must be a positive integer, got %s", what, tostring(out_channels)), 3)
  end
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kernel_size = M.pair(kernel_size, what, "kernel_size", 1, 3)
  self.stride = M.pair(opts.stride or opts.strides or 1, what, "stride", 1, 3)
  self.dilation = M.pair(opts.dilation or opts.dilation_rate or 1, what, "dilation", 1, 3)
  local groups = opts.groups or 1
  if math.type(groups) ~= "integer" or groups < 1 then
    error(string.format("%s: groups must be a positive integer, got %s", what, tostring(groups)), 3)
  end
  if out_channels % groups ~= 0 then
    error(string.format("%s: groups (%d) must divide out_channels (%d)", what, groups, out_channels), 3)
  end
  if in_channels and in_channels % groups ~= 0 then
    error(string.format("%s: groups (%d) must divide in_channels (%d)", what, groups, in_channels), 3)
  end
  self.groups = groups
  local padding = opts.padding or 0
  if padding == "same" then
    if self.stride[1] ~= 1 or self.stride[2] ~= 1 then
      error(string.format("%s: padding='same' needs stride 1 (as in PyTorch), got stride %s", what, hw(self.stride)), 3)
    end
    -- the dilated kernel spans d (k - 1) + 1 inputs: pad d (k - 1) in total, the odd one
    -- on the bottom/right as PyTorch does
    self.padding_mode = "same"
    local total = {self.dilation[1] * (self.kernel_size[1] - 1), self.dilation[2] * (self.kernel_size[2] - 1)}
    self.padding = {total[1] // 2, total[2] // 2}
    self.extra_pad = {total[1] % 2, total[2] % 2}
  elseif padding == "valid" then
    self.padding = {0, 0}
  elseif type(padding) == "string" then
    error(string.format("%s: padding must be a number, {h, w}, 'same' or 'valid', got '%s'", what, padding), 3)
  else
    self.padding = M.pair(padding, what, "padding", 0, 3)
  end
  self.params_c = {self.stride[1], self.stride[2], self.padding[1], self.padding[2], self.dilation[1],
                   self.dilation[2], self.groups}
  self.activation = Dense.check_activation(opts.activation or "linear", what)
  -- a ReLU runs inside the convolution kernel (one pass less over the output each way)
  self.fused_relu = self.activation == "relu"
  self.params_run = {table.unpack(self.params_c)}
  self.params_run[8] = self.fused_relu and 1 or 0
  local algo = opts.algo or "auto"
  if M.ALGOS[algo] == nil then
    error(string.format("%s: algo must be 'auto', 'gemm', 'direct' or 'winograd', got %s", what, tostring(algo)), 3)
  end
  if algo == "winograd" then
    local k, s, d = self.kernel_size, self.stride, self.dilation
    if k[1] ~= 3 or k[2] ~= 3 or s[1] ~= 1 or s[2] ~= 1 or d[1] ~= 1 or d[2] ~= 1 or groups ~= 1
       or self.padding[1] > 2 or self.padding[2] > 2 then
      error(string.format("%s: algo 'winograd' needs a 3x3 kernel, stride 1, dilation 1, groups 1 and padding of at "
                          .. "most 2, got kernel %s, stride %s, dilation %s, groups %d, padding %s", what, hw(k), hw(s),
                          hw(d), groups, hw(self.padding)), 3)
    end
  end
  self.algo = algo
  self.params_run[9] = M.ALGOS[algo]
  self.alpha = opts.alpha or (self.activation == "leaky_relu" and 0.3 or self.activation == "elu" and 1.0 or 0)
  self.use_bias = opts.bias ~= false and opts.use_bias ~= false
  self.kernel_initializer = init.check(opts.kernel_initializer or "torch_default", what)
  self.bias_initializer = init.check(opts.bias_initializer or (opts.kernel_initializer == nil and "torch_default"
                                                               or "zeros"), what)
  self.compute_input_grad = true
  if opts.input_shape then self:build(opts.input_shape) end
end

-- The padded input size when 'same' adds an odd row or column.
function Conv2d:padded(h, w)
  if not self.extra_pad then return h, w end
  return h + self.extra_pad[1], w + self.extra_pad[2]
end

-- {O, OH, OW} for a per-sample input {C, H, W}; errors name the cause and both sizes.
function Conv2d:output_shape(in_shape)
  if #in_shape ~= 3 then
    error(string.format("%s: input has per-sample shape %s, expected [C,H,W]", self:describe(), shape.str(in_shape)), 0)
  end
  local C = in_shape[1]
  local expected = self.in_channels or (self.weight and self.weight:size(2) * self.groups)
  if expected and C ~= expected then
    error(string.format("%s: input has %d channels, expected %d", self:describe(), C, expected), 0)
  end
  if C % self.groups ~= 0 then
    error(string.format("%s: groups (%d) must divide the input channels (%d)", self:describe(), self.groups, C), 0)
  end
  local h, w = self:padded(in_shape[2], in_shape[3])
  local ok, oh, ow = pcall(K.conv2d_output_size, C, h, w,
                           {self.out_channels, C // self.groups, self.kernel_size[1], self.kernel_size[2]}, self.params_c)
  if not ok then error(self:describe() .. ": " .. reason(oh), 0) end
  return {self.out_channels, oh, ow}
end

function Conv2d:build(in_shape)
  self:output_shape(in_shape)
  local C = in_shape[1]
  self.in_channels = C
  local kh, kw = self.kernel_size[1], self.kernel_size[2]
  local fan_in = C // self.groups * kh * kw
  local fan_out = self.out_channels // self.groups * kh * kw
  local w = T.empty{self.out_channels, C // self.groups, kh, kw}
  init.apply(self.kernel_initializer, w, fan_in, fan_out, "Conv2d weight")
  self:register_parameter("weight", w)
  if self.use_bias then
    local b = T.empty{self.out_channels}
    init.apply(self.bias_initializer, b, fan_in, fan_out, "Conv2d bias")
    self:register_parameter("bias", b)
  end
  Module.build(self, in_shape)
end

-- The input as the kernel takes it: contiguous, with the odd row/column of 'same' added.
function Conv2d:kernel_input(x)
  if not x:is_contiguous() then x = x:contiguous() end
  if not self.extra_pad then return x end
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  local ph, pw = self:padded(h, w)
  local xp = self:buffer("xpad", n, c, ph, pw)
  xp:zero()
  xp:narrow(3, 1, h):narrow(4, 1, w):copy(x)
  return xp
end

function Conv2d:forward(x)
  M.check_image_input(self, x, self.in_channels)
  if not self.built then self:build(shape.sample(x)) end
  local out = self:output_shape(shape.sample(x))
  local xin = self:kernel_input(x)
  self._x, self._xin = x, xin
  local n = x:size(1)
  local z = self:buffer("z", n, out[1], out[2], out[3])
  -- in training, keep the lowered input (im2col's columns) for backward, which would
  -- otherwise lower the same input again; but not where they are large: a 3x3 layer's
  -- columns are 9 copies of its input (VGG-16 at batch 8 kept 2.5 GB of them), and
  -- lowering again costs little next to such a layer's GEMMs
  local cols = nil
  if self.training then
    local ncols = K.conv2d_cols_numel(xin, self.weight, self.params_run)
    if ncols > 0 and ncols <= M.KEEP_COLUMNS then cols = self:buffer("cols", ncols) end
  end
  if not cols then self._buffers.cols = nil end
  if samples_per_call(self, xin, cols) == 1 then
    for i = 1, n do
      K.conv2d_forward(z:narrow(1, i, 1), xin:narrow(1, i, 1), self.weight, self.bias, self.params_run)
    end
  else
    K.conv2d_forward(z, xin, self.weight, self.bias, self.params_run, cols)
  end
  self._cols_of = cols and xin or nil
  local y = z
  if self.activation ~= "linear" and not self.fused_relu then
    y = self:buffer("y", n, out[1], out[2], out[3])
    K.act_forward(self.activation, y, z, self.alpha)
  end
  self.output = y
  return y
end

-- Without an activation of its own the layer's backward never reads its output, so an
-- in-place ReLU after it may overwrite it (conv.output then holds the maps after the ReLU).
function Conv2d:output_reusable()
  return self.activation == "linear"
end

-- The output before the activation (nil when a ReLU is fused: it is never stored).
function Conv2d:preactivation()
  if self.fused_relu then return nil end
  return self._buffers.z
end

function Conv2d:backward(x, dy, from_preactivation)
  local xin = x == self._x and self._xin or self:kernel_input(x)
  local z = self._buffers.z
  if not dy:is_contiguous() then dy = dy:contiguous() end
  local dz = dy
  if self.fused_relu and from_preactivation then
    error(self:describe() .. ": a fused ReLU keeps no pre-activation to start backward from", 2)
  end
  local params = self.params_run
  if self.fused_relu and self._dy_owned then
    -- dy is the memory plan's and dead after this layer: mask it in place rather than
    -- have the kernel mask a copy of it
    K.act_backward("relu", dy, dy, z, z)
    params = self._params_masked or {}
    self._params_masked = params
    for i, v in ipairs(self.params_run) do params[i] = v end
    params[8] = 0
  elseif self.activation ~= "linear" and not self.fused_relu and not from_preactivation then
    dz = self:buffer("dz", table.unpack(z:size()))
    K.act_backward(self.activation, dz, dy, z, self._buffers.y, self.alpha)
  end
  local dx
  if self.compute_input_grad then
    if self.extra_pad then
      dx = self:buffer("dxin", table.unpack(xin:size()))
    else
      dx = self:grad_buffer("dxin", table.unpack(xin:size()))
    end
  end
  local cols = self._cols_of == xin and self._buffers.cols or nil
  local relu_out = params[8] == 1 and z or nil
  if samples_per_call(self, xin, cols) == 1 then
    for i = 1, xin:size(1) do
      K.conv2d_backward(dx and dx:narrow(1, i, 1), self.grad_weight, self.grad_bias, dz:narrow(1, i, 1),
                        xin:narrow(1, i, 1), self.weight, params, nil, relu_out and relu_out:narrow(1, i, 1))
    end
  else
    K.conv2d_backward(dx, self.grad_weight, self.grad_bias, dz, xin, self.weight, params, cols, relu_out)
  end
  if dx and self.extra_pad then
    local d = self:grad_buffer("dx", table.unpack(x:size()))
    d:copy(dx:narrow(3, 1, x:size(3)):narrow(4, 1, x:size(4)))
    dx = d
  end
  self.grad_input = dx
  return dx
end

-- For the summary (nn/summary.lua): one multiply-add per weight and output position
-- (the bias and the activation are not counted), and the window.
function Conv2d:macs(in_shape, out_shape)
  return shape.numel(out_shape) * (in_shape[1] // self.groups) * self.kernel_size[1] * self.kernel_size[2]
end

function Conv2d:receptive_field()
  return {kernel = self.kernel_size, stride = self.stride, dilation = self.dilation}
end

function Conv2d:describe()
  local io = (self.in_channels and (self.in_channels .. "->") or "") .. self.out_channels
  local parts = {io, hw(self.kernel_size)}
  if self.stride[1] ~= 1 or self.stride[2] ~= 1 then parts[#parts + 1] = "stride " .. hw(self.stride) end
  if self.padding_mode == "same" then
    parts[#parts + 1] = "same"
  elseif self.padding[1] ~= 0 or self.padding[2] ~= 0 then
    parts[#parts + 1] = "pad " .. hw(self.padding)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then parts[#parts + 1] = "dilation " .. hw(self.dilation) end
  if self.groups ~= 1 then parts[#parts + 1] = "groups " .. self.groups end
  if self.activation ~= "linear" then parts[#parts + 1] = self.activation end
  if self.algo ~= "auto" then parts[#parts + 1] = self.algo end
  return "Conv2d(" .. table.concat(parts, ", ") .. ")"
end

-- Conv2D builds a Conv2d, so both come back as a Conv2d, with Conv2D's initializers named.
function Conv2d:config()
  return {type = "Conv2d", in_channels = self.in_channels, out_channels = self.out_channels,
          kernel_size = {table.unpack(self.kernel_size)}, stride = {table.unpack(self.stride)},
          padding = self.padding_mode == "same" and "same" or {table.unpack(self.padding)},
          dilation = {table.unpack(self.dilation)}, groups = self.groups, bias = self.use_bias,
          activation = self.activation, alpha = self.alpha, input_shape = self.input_shape,
          kernel_initializer = type(self.kernel_initializer) == "string" and self.kernel_initializer or nil,
          bias_initializer = type(self.bias_initializer) == "string" and self.bias_initializer or nil,
          algo = self.algo ~= "auto" and self.algo or nil}
end

function Conv2d.from_config(cfg, _, path)
  registry.check_fields(cfg, {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                              "bias", "activation", "alpha", "input_shape", "kernel_initializer", "bias_initializer",
                              "algo"},
                        path)
  return Conv2d(cfg.in_channels, cfg.out_channels, cfg.kernel_size, {
    stride = cfg.stride, padding = cfg.padding, dilation = cfg.dilation, groups = cfg.groups, bias = cfg.bias,
    activation = cfg.activation, alpha = cfg.alpha, input_shape = cfg.input_shape,
    kernel_initializer = cfg.kernel_initializer, bias_initializer = cfg.bias_initializer, algo = cfg.algo})
end
registry.register("Conv2d", Conv2d)

-- Conv2D(filters, kernel_size, {strides=, padding='valid', dilation_rate=, use_bias=, activation=,
--        kernel_initializer='glorot_uniform', bias_initializer='zeros', input_shape=}): Keras's
-- spelling (channels first here, as everywhere in luacnn). The input channels come from the input.
local function Conv2D(filters, kernel_size, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("Conv2D: options must be a table, got " .. type(opts), 2) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.kernel_initializer = o.kernel_initializer or "glorot_uniform"
  o.bias_initializer = o.bias_initializer or "zeros"
  if math.type(filters) ~= "integer" or filters < 1 then
    error(string.format("Conv2D: filters must be a positive integer, got %s", tostring(filters)), 2)
  end
  return Conv2d(nil, filters, kernel_size, o)
end

M.Conv2d = Conv2d
M.Conv2D = Conv2D
return M
