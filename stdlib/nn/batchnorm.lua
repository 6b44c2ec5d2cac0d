-- Batch normalization: BatchNorm2d(C) over [N, C, H, W] (statistics over N, H, W per
-- channel) and BatchNorm1d(C) over [N, C] (over N). PyTorch's conventions:
-- eps = 1e-5, momentum = 0.1, running_var keeps the unbiased variance, weight (gamma)
-- starts at 1 and bias (beta) at 0.
--   training:   y = (x - batch mean) / sqrt(batch var + eps) * weight + bias, and the
--               running statistics move toward the batch's by `momentum`
--   evaluation: the running statistics instead (model:evaluate() / layer:train(false))
-- running_mean and running_var are state, not parameters: no gradient, no optimizer
-- update. named_state() lists them (for checkpoints), and they are never scratch buffers.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local Module = require "nn.module"
local shape = require "nn.shape"
local registry = require "nn.registry"

local function bn_class(name, sample_dims)
  local BN = class(name, Module)

  -- BN(num_features, {eps=1e-5, momentum=0.1, input_shape=})
  function BN:__init(num_features, opts)
    Module.__init(self)
    opts = opts or {}
    if type(opts) ~= "table" then error(name .. ": options must be a table, got " .. type(opts), 3) end
    if math.type(num_features) ~= "integer" or num_features < 1 then
      error(string.format("%s: num_features must be a positive integer, got %s", name, tostring(num_features)), 3)
    end
    local eps, momentum = opts.eps or 1e-5, opts.momentum or 0.1
    if type(eps) ~= "number" or not (eps > 0) then
      error(string.format("%s: eps must be a positive number, got %s", name, tostring(eps)), 3)
    end
    if type(momentum) ~= "number" or not (momentum >= 0 and momentum <= 1) then
      error(string.format("%s: momentum must be a number in [0, 1], got %s", name, tostring(momentum)), 3)
    end
    self.num_features, self.eps, self.momentum = num_features, eps, momentum
    self:register_parameter("weight", T.ones{num_features})
    self:register_parameter("bias", T.zeros{num_features})
    self.running_mean = T.zeros{num_features}
    self.running_var = T.ones{num_features}
    self.save_mean, self.save_invstd = T.zeros{num_features}, T.ones{num_features}
    if opts.input_shape then self:build(opts.input_shape) end
  end

  -- The running statistics, by name: what a checkpoint must save besides the parameters.
  function BN:named_state(prefix, out)
    out = out or {}
    out[#out + 1] = {name = (prefix or "") .. "running_mean", value = self.running_mean, module = self,
                     field = "running_mean"}
    out[#out + 1] = {name = (prefix or "") .. "running_var", value = self.running_var, module = self,
                     field = "running_var"}
    return out
  end

  -- Parameters exist from construction (the channel count is known); building only
  -- checks the shape. unbuild() keeps them.
  function BN:unbuild()
    self._buffers = {}
    self.built, self.input_shape = false, nil
  end

  function BN:output_shape(in_shape)
    if #in_shape ~= sample_dims then
      local want = sample_dims == 1 and "[C]" or "[C,H,W]"
      error(string.format("%s: input has per-sample shape %s, expected %s", self:describe(), shape.str(in_shape), want), 0)
    end
    if in_shape[1] ~= self.num_features then
      error(string.format("%s: input has %d channels, expected %d", self:describe(), in_shape[1], self.num_features), 0)
    end
    return shape.copy(in_shape)
  end

  function BN:build(in_shape)
    self:output_shape(in_shape)
    Module.build(self, in_shape)
  end

  function BN:forward(x)
    if not T.is_tensor(x) then error(string.format("%s: expected a tensor, got %s", self:describe(), type(x)), 0) end
    if x:dim() ~= sample_dims + 1 then
      local want = sample_dims == 1 and "[N,C]" or "[N,C,H,W]"
      error(string.format("%s: input has shape %s, expected %s", self:describe(), shape.str(shape.of(x)), want), 0)
    end
    self:output_shape(shape.sample(x))
    if not self.built then self:build(shape.sample(x)) end
    if not x:is_contiguous() then x = x:contiguous() end
    self._x = x
    self._training = self.training
    local y = self:buffer("y", table.unpack(x:size()))
    K.batchnorm_forward(y, x, self.weight, self.bias, self.running_mean, self.running_var, self.save_mean,
                        self.save_invstd, self.training, self.momentum, self.eps)
    self.output = y
    return y
  end

  -- The backward reads the input and the saved statistics, never the output: an in-place
  -- ReLU after the layer may overwrite it.
  function BN:output_reusable()
    return true
  end

  -- The mode of the forward pass decides the formula: in training the batch statistics
  -- depend on x, in evaluation they are constants.
  function BN:backward(x, dy)
    if x ~= self._x then x = x:contiguous() end
    if not dy:is_contiguous() then dy = dy:contiguous() end
    local dx = self.compute_input_grad ~= false and self:grad_buffer("dx", table.unpack(x:size())) or nil
    K.batchnorm_backward(dx, self.grad_weight, self.grad_bias, dy, x, self.weight, self.save_mean, self.save_invstd,
                         self._training)
    self.grad_input = dx
    return dx
  end

  function BN:describe()
    return string.format("%s(%d)", name, self.num_features)
  end

  -- running_mean and running_var travel as tensors beside the parameters (named_state)
  function BN:config()
    return {type = name, num_features = self.num_features, eps = self.eps, momentum = self.momentum,
            input_shape = self.input_shape}
  end

  function BN.from_config(cfg, _, path)
    registry.check_fields(cfg, {"num_features", "eps", "momentum", "input_shape"}, path)
    return BN(cfg.num_features, {eps = cfg.eps, momentum = cfg.momentum, input_shape = cfg.input_shape})
  end
  registry.register(name, BN)

  return BN
end

return {BatchNorm2d = bn_class("BatchNorm2d", 3), BatchNorm1d = bn_class("BatchNorm1d", 1)}
