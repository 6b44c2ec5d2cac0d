-- Losses ("criteria" in torch): forward(pred, target) returns the mean loss as a number,
-- backward(pred, target) the gradient w.r.t. pred (a buffer the loss owns and reuses).
-- Cross-entropies also accept raw scores (from_logits = true), and the model fuses a
-- final softmax with them: forward_logits/backward_logits work on the pre-softmax scores,
-- where the gradient is simply softmax - onehot, stable for any logits.
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class
local shape = require "nn.shape"

local Loss = class("Loss")

function Loss:__init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error(self.class_name .. ": options must be a table", 3) end
  self.from_logits = opts.from_logits == true
  self.eps = opts.epsilon or 1e-7
end

local function grad_buffer(self, pred)
  local b = self._grad
  if not b or not shape.equal(b:size(), pred:size()) then
    b = T.empty(table.unpack(pred:size()))
    self._grad = b
  end
  return b
end

function Loss:__tostring()
  return self.class_name .. (self.from_logits and "{from_logits=true}" or "")
end

local function contiguous(t)
  return t:is_contiguous() and t or t:contiguous()
end

local function checked(self, pred, target)
  if not T.is_tensor(pred) then error(self.name .. ": prediction must be a tensor, got " .. type(pred), 3) end
  if not T.is_tensor(target) then error(self.name .. ": target must be a tensor, got " .. type(target), 3) end
  return contiguous(pred), contiguous(target)
end

-- A loss class from its kernel pair; `takes_logits` for the cross-entropies, whose
-- kernels take (from_logits, eps).
local function define(name, cls_name, fwd, bwd, takes_logits)
  local C = class(cls_name, Loss)
  C.name = name
  C.fusable = takes_logits and true or false
  function C:forward(pred, target)
    pred, target = checked(self, pred, target)
    if takes_logits then return fwd(pred, target, self.from_logits, self.eps) end
    return fwd(pred, target)
  end
  function C:backward(pred, target)
    pred, target = checked(self, pred, target)
    local g = grad_buffer(self, pred)
    if takes_logits then bwd(g, pred, target, self.from_logits, self.eps) else bwd(g, pred, target) end
    return g
  end
  if takes_logits then
    function C:forward_logits(z, target)
      z, target = checked(self, z, target)
      return fwd(z, target, true, self.eps)
    end
    function C:backward_logits(z, target)
      z, target = checked(self, z, target)
      local g = grad_buffer(self, z)
      bwd(g, z, target, true, self.eps)
      return g
    end
  end
  return C
end

local M = {Loss = Loss}
M.SparseCategoricalCrossentropy = define("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
                                         K.sparse_ce_forward, K.sparse_ce_backward, true)
M.CategoricalCrossentropy = define("categorical_crossentropy", "CategoricalCrossentropy",
                                   K.ce_forward, K.ce_backward, true)
-- binary cross-entropy fuses with a final sigmoid the same way, element by element
M.BinaryCrossentropy = define("binary_crossentropy", "BinaryCrossentropy", K.bce_forward, K.bce_backward, true)
M.MeanSquaredError = define("mse", "MeanSquaredError", K.mse_forward, K.mse_backward, false)
-- Which final activation each loss absorbs when fused.
M.fuses_with = {sparse_categorical_crossentropy = "softmax", categorical_crossentropy = "softmax",
                binary_crossentropy = "sigmoid"}

local by_name = {
  sparse_categorical_crossentropy = M.SparseCategoricalCrossentropy,
  categorical_crossentropy = M.CategoricalCrossentropy,
  binary_crossentropy = M.BinaryCrossentropy,
  mse = M.MeanSquaredError,
  mean_squared_error = M.MeanSquaredError,
}

-- A loss object from a name, a loss object, or a table {name, opts...}.
function M.get(spec)
  if type(spec) == "string" then
    local C = by_name[spec]
    if not C then
      local names = {}
      for k in pairs(by_name) do names[#names + 1] = k end
      table.sort(names)
      error(string.format("unknown loss '%s' (known: %s)", spec, table.concat(names, ", ")), 0)
    end
    return C()
  elseif type(spec) == "table" and spec.forward and spec.backward then
    return spec
  end
  error("a loss is a name such as 'sparse_categorical_crossentropy' or a loss object, got " .. type(spec), 0)
end

return M
