-- Activation layers: Activation('relu') and the shortcuts ReLU, LeakyReLU, Sigmoid,
-- Tanh, Softmax, LogSoftmax, ELU, Softplus, GELU. Softmax variants act on the last dim.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local Dense = require("nn.dense").Dense
local registry = require "nn.registry"

local Activation = class("Activation", Module)

-- Activation(name[, {alpha=}])
function Activation:__init(name, opts)
  Module.__init(self)
  opts = opts or {}
  self.activation = Dense.check_activation(name, "Activation")
  self.alpha = opts.alpha or (name == "leaky_relu" and 0.3 or name == "elu" and 1.0 or 0)
  if opts.input_shape then self:build(opts.input_shape) end
end

local function contiguous_buffer(self, name, x)
  return self:buffer(name, table.unpack(x:size()))
end

function Activation:forward(x)
  self:check_input(x, true)
  if not x:is_contiguous() then x = x:contiguous() end
  self._x = x
  local y = contiguous_buffer(self, "y", x)
  K.act_forward(self.activation, y, x, self.alpha)
  self.output = y
  return y
end

function Activation:preactivation()
  return self._x
end

function Activation:backward(x, dy, from_preactivation)
  if from_preactivation then
    self.grad_input = dy
    return dy
  end
  if not x:is_contiguous() then x = x:contiguous() end
  if not dy:is_contiguous() then dy = dy:contiguous() end
  local dx = contiguous_buffer(self, "dx", x)
  K.act_backward(self.activation, dx, dy, x, self._buffers.y, self.alpha)
  self.grad_input = dx
  return dx
end

function Activation:describe()
  if self.activation == "leaky_relu" or self.activation == "elu" then
    return string.format("Activation(%s, alpha=%g)", self.activation, self.alpha)
  end
  return string.format("Activation(%s)", self.activation)
end

function Activation:config()
  return {type = "Activation", activation = self.activation, alpha = self.alpha, input_shape = self.input_shape}
end

function Activation.from_config(cfg, _, path)
  registry.check_fields(cfg, {"activation", "alpha", "input_shape"}, path)
  return Activation(cfg.activation, {alpha = cfg.alpha, input_shape = cfg.input_shape})
end
registry.register("Activation", Activation)

local M = {Activation = Activation}
local shortcuts = {ReLU = "relu", LeakyReLU = "leaky_relu", Sigmoid = "sigmoid", Tanh = "tanh",
                   Softmax = "softmax", LogSoftmax = "log_softmax", ELU = "elu", Softplus = "softplus", GELU = "gelu"}
for cls, name in pairs(shortcuts) do
  M[cls] = function(opts) return Activation(name, opts) end
end
return M
