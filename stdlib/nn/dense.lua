-- Fully connected layers: Dense (Keras) and Linear (torch), one class.
--   y = activation(x W^T + b),  x [N, I], W [O, I], b [O], y [N, O]
-- Inputs with more dims apply the layer to the last one, as Keras does.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local init = require "nn.init_weights"
local shape = require "nn.shape"
local registry = require "nn.registry"

local Dense = class("Dense", Module)

-- Keras's default slope for leaky_relu and scale for elu
local DEFAULT_ALPHA = {leaky_relu = 0.3, elu = 1.0}

local function check_activation(act, what)
  if type(act) ~= "string" or not K.act_known(act) then
    error(string.format("%s: unknown activation %s (known: linear, relu, leaky_relu, sigmoid, tanh, softmax, "
                        .. "log_softmax, elu, softplus, gelu)", what, tostring(act)), 4)
  end
  return act
end
Dense.check_activation = check_activation

-- Dense(units, {activation=, use_bias=true, kernel_initializer='glorot_uniform',
--               bias_initializer='zeros', input_shape=, input_dim=, alpha=})
function Dense:__init(units, opts)
  Module.__init(self)
  opts = opts or {}
  if math.type(units) ~= "integer" or units < 1 then
    error(string.format("Dense: units must be a positive integer, got %s", tostring(units)), 3)
  end
  if type(opts) ~= "table" then error("Dense: options must be a table, got " .. type(opts), 3) end
  self.units = units
  self.activation = check_activation(opts.activation or "linear", "Dense")
  self.alpha = opts.alpha or DEFAULT_ALPHA[self.activation] or 0
  self.use_bias = opts.use_bias ~= false
  self.kernel_initializer = init.check(opts.kernel_initializer or "glorot_uniform", "Dense")
  self.bias_initializer = init.check(opts.bias_initializer or "zeros", "Dense")
  self.compute_input_grad = true
  local in_shape = opts.input_shape or (opts.input_dim and {opts.input_dim})
  if in_shape then self:build(in_shape) end
end

function Dense:build(in_shape)
  if #in_shape < 1 then error(self:describe() .. ": input needs at least one feature dimension", 0) end
  local I = in_shape[#in_shape]
  self.in_features = I
  local w = T.empty{self.units, I}
  init.apply(self.kernel_initializer, w, I, self.units, "Dense weight")
  self:register_parameter("weight", w)
  if self.use_bias then
    local b = T.empty{self.units}
    init.apply(self.bias_initializer, b, I, self.units, "Dense bias")
    self:register_parameter("bias", b)
  end
  Module.build(self, in_shape)
end

function Dense:output_shape(in_shape)
  if #in_shape < 1 then error(self:describe() .. ": input needs at least one feature dimension", 0) end
  if self.in_features and in_shape[#in_shape] ~= self.in_features then
    error(string.format("%s: input has %d features (per-sample shape %s), expected %d", self:describe(),
                        in_shape[#in_shape], shape.str(in_shape), self.in_features), 0)
  end
  local s = shape.copy(in_shape)
  s[#s] = self.units
  return s
end

-- The input as a matrix [N, I] (a view when the input has more dims).
local function as_matrix(self, x)
  if x:dim() == 2 then return x end
  return x:reshape(-1, self.in_features)
end

function Dense:forward(x)
  self:check_input(x)
  local x2 = as_matrix(self, x)
  local n = x2:size(1)
  local z = self:buffer("z", n, self.units)
  K.linear_forward(z, x2, self.weight, self.bias)
  local y = z
  if self.activation ~= "linear" then
    y = self:buffer("y", n, self.units)
    K.act_forward(self.activation, y, z, self.alpha)
  end
  if x:dim() ~= 2 then y = y:view(self:output_shape(shape.of(x))) end
  self.output = y
  return y
end

-- Without an activation the backward never reads the output: an in-place ReLU after the
-- layer may overwrite it.
function Dense:output_reusable()
  return self.activation == "linear"
end

-- The pre-activation output z of the last forward: the logits a fused
-- softmax + cross-entropy loss works from.
function Dense:preactivation()
  return self._buffers.z
end

-- dy is the gradient w.r.t. the output, or w.r.t. the pre-activation z when
-- from_preactivation is true (the fused loss already went through the softmax).
function Dense:backward(x, dy, from_preactivation)
  local x2 = as_matrix(self, x)
  local n = x2:size(1)
  if dy:dim() ~= 2 then dy = dy:reshape(n, self.units) end
  if not dy:is_contiguous() then dy = dy:contiguous() end
  local dz = dy
  if self.activation ~= "linear" and not from_preactivation then
    dz = self:buffer("dz", n, self.units)
    K.act_backward(self.activation, dz, dy, self._buffers.z, self._buffers.y, self.alpha)
  end
  local dx = self.compute_input_grad and self:grad_buffer("dx", n, self.in_features) or nil
  K.linear_backward(dx, self.grad_weight, self.grad_bias, dz, x2, self.weight)
  if dx and x:dim() ~= 2 then dx = dx:view(shape.of(x)) end
  self.grad_input = dx
  return dx
end

-- For the summary (nn/summary.lua): one multiply-add per weight and output row. Every
-- output mixes all its input features, which behind a Flatten are all positions: the
-- receptive field becomes the whole input (conservative for a Dense on [C,H,W], which
-- mixes only along the last dim).
function Dense:macs(in_shape, out_shape)
  return shape.numel(out_shape) * in_shape[#in_shape]
end

function Dense:receptive_field()
  return "global"
end

function Dense:describe()
  local io = (self.in_features and (self.in_features .. "->") or "") .. self.units
  local act = self.activation ~= "linear" and (", " .. self.activation) or ""
  return string.format("Dense(%s%s)", io, act)
end

-- Plain data that rebuilds the layer (nn.registry). An initializer given as a function
-- or a tensor is left out: a loaded model gets its weights from the file anyway.
function Dense:config()
  return {type = "Dense", units = self.units, activation = self.activation, alpha = self.alpha,
          use_bias = self.use_bias, input_shape = self.input_shape,
          kernel_initializer = type(self.kernel_initializer) == "string" and self.kernel_initializer or nil,
          bias_initializer = type(self.bias_initializer) == "string" and self.bias_initializer or nil}
end

function Dense.from_config(cfg, _, path)
  registry.check_fields(cfg, {"units", "activation", "alpha", "use_bias", "input_shape", "kernel_initializer",
                              "bias_initializer"}, path)
  return Dense(cfg.units, {activation = cfg.activation, alpha = cfg.alpha, use_bias = cfg.use_bias,
                           input_shape = cfg.input_shape, kernel_initializer = cfg.kernel_initializer,
                           bias_initializer = cfg.bias_initializer})
end
registry.register("Dense", Dense)

-- Linear(in, out): the torch spelling, with torch's default initialization.
local function Linear(in_features, out_features, opts)
  opts = opts or {}
  if math.type(in_features) ~= "integer" or in_features < 1 then
    error(string.format("Linear: in_features must be a positive integer, got %s", tostring(in_features)), 2)
  end
  return Dense(out_features, {
    input_dim = in_features,
    activation = opts.activation,
    use_bias = opts.bias ~= false and opts.use_bias ~= false,
    kernel_initializer = opts.kernel_initializer or "torch_default",
    bias_initializer = opts.bias_initializer or "torch_default",
  })
end

return {Dense = Dense, Linear = Linear}
