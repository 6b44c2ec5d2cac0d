-- Adam{lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0} with Keras's defaults;
-- weight_decay > 0 makes it AdamW (decay decoupled from the gradient). AdamW{...} is
-- the same with weight_decay 0.01 by default, as in PyTorch.
local class = require("nn.class").class
local Optimizer = require "optim.optimizer"
local K = require("luacnn").kernels

local Adam = class("Adam", Optimizer)

local function defaults(wd)
  return {lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, weight_decay = wd}
end

function Adam:__init(opts)
  Optimizer.__init(self, opts, defaults(0.0))
  if not (self.beta1 >= 0 and self.beta1 < 1 and self.beta2 >= 0 and self.beta2 < 1) then
    error("Adam: beta1 and beta2 must be in [0, 1)", 3)
  end
end

function Adam:update(i, p, g, lr)
  K.adam_step(p, g, self:slot(i, "m", p), self:slot(i, "v", p), lr, self.beta1, self.beta2, self.eps,
              self.weight_decay, self.iterations)
end

function Adam:__tostring()
  return string.format("%s{lr=%s, beta1=%g, beta2=%g, eps=%g%s}", self.class_name, tostring(self.lr), self.beta1,
                       self.beta2, self.eps, self.weight_decay ~= 0 and (", weight_decay=" .. self.weight_decay) or "")
end

local AdamW = class("AdamW", Adam)

function AdamW:__init(opts)
  Optimizer.__init(self, opts, defaults(0.01))
end

return {Adam = Adam, AdamW = AdamW}
