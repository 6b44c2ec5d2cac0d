-- SGD{lr=0.01, momentum=0, nesterov=false, weight_decay=0} (Keras's defaults)
local class = require("nn.class").class
local Optimizer = require "optim.optimizer"
local K = require("luacnn").kernels

local SGD = class("SGD", Optimizer)

function SGD:__init(opts)
  Optimizer.__init(self, opts, {lr = 0.01, momentum = 0.0, nesterov = false, weight_decay = 0.0})
  if self.momentum < 0 then error("SGD: momentum must be >= 0", 3) end
  if self.nesterov and self.momentum == 0 then error("SGD: nesterov needs a momentum > 0", 3) end
end

function SGD:update(i, p, g, lr)
  local v = self.momentum ~= 0 and self:slot(i, "velocity", p) or nil
  K.sgd_step(p, g, v, lr, self.momentum, self.nesterov, self.weight_decay)
end

function SGD:__tostring()
  return string.format("SGD{lr=%s, momentum=%g%s}", tostring(self.lr), self.momentum, self.nesterov and ", nesterov" or "")
end

return SGD
