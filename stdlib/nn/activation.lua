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
  -- inplace = false: never write into the input; true (as nil): where the container finds it safe
  if opts.inplace ~= nil and type(opts.inplace) ~= "boolean" then
    error(string.format("Activation: inplace must be true or false, got %s", tostring(opts.inplace)), 3)
  end
  if opts.inplace == false then self.inplace = false end
  if opts.input_shape then self:build(opts.input_shape) end
end

local function contiguous_buffer(self, name, x)
  return self:buffer(name, table.unpack(x:size()))
end

-- In place: a ReLU whose input is the output of a layer that does not read it in backward
-- (its container says so: layer._inplace, see Sequential:forward) writes into that output
-- instead of a buffer of its own, as PyTorch's ReLU(inplace=True). Its backward only needs
-- where the output is positive, which the overwritten input still tells. inplace = false
-- (an option) keeps the layer out of it.
function Activation:forward(x)
  self:check_input(x, true)
  if not x:is_contiguous() then x = x:contiguous() end
  self._x = x
  local y
  if self._inplace and self.activation == "relu" and self.inplace ~= false then
    y = x
    self._buffers.y = nil
  else
    y = contiguous_buffer(self, "y", x)
  end
  K.act_forward(self.activation, y, x, self.alpha)
  self._y = y
  self.output = y
  return y
end

-- dy may be overwritten (in a container's memory plan) by the elementwise activations:
-- each input gradient depends on its own position only.
local ELEMENTWISE_GRAD = {relu = true, leaky_relu = true, sigmoid = true, tanh = true, elu = true, softplus = true,
                          gelu = true, linear = true}
Activation.grad_aliases_dy = true

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
  local y = self._y
  local dx
  if self._dy_owned and ELEMENTWISE_GRAD[self.activation] then
    dx = dy
  else
    dx = self:grad_buffer("dx", table.unpack(x:size()))
  end
  K.act_backward(self.activation, dx, dy, x, y, self.alpha)
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
  return {type = "Activation", activation = self.activation, alpha = self.alpha, input_shape = self.input_shape,
          inplace = self.inplace}
end

function Activation.from_config(cfg, _, path)
  registry.check_fields(cfg, {"activation", "alpha", "input_shape", "inplace"}, path)
  return Activation(cfg.activation, {alpha = cfg.alpha, input_shape = cfg.input_shape, inplace = cfg.inplace})
end
registry.register("Activation", Activation)

local M = {Activation = Activation}
local shortcuts = {ReLU = "relu", LeakyReLU = "leaky_relu", Sigmoid = "sigmoid", Tanh = "tanh",
                   Softmax = "softmax", LogSoftmax = "log_softmax", ELU = "elu", Softplus = "softplus", GELU = "gelu"}
for cls, name in pairs(shortcuts) do
  M[cls] = function(opts) return Activation(name, opts) end
end
return M
