-- RMSprop{lr=1e-3, rho=0.9, eps=1e-7, momentum=0} (Keras's defaults)
local class = require("nn.class").class
local Optimizer = require "optim.optimizer"
local K = require("luacnn").kernels

local RMSprop = class("RMSprop", Optimizer)

function RMSprop:__init(opts)
  Optimizer.__init(self, opts, {lr = 1e-3, rho = 0.9, eps = 1e-7, momentum = 0.0})
  if not (self.rho >= 0 and self.rho < 1) then error("RMSprop: rho must be in [0, 1)", 3) end
end

function RMSprop:update(i, p, g, lr)
  local mom = self.momentum ~= 0 and self:slot(i, "momentum", p) or nil
  K.rmsprop_step(p, g, self:slot(i, "square_avg", p), mom, lr, self.rho, self.eps, self.momentum)
end

function RMSprop:__tostring()
  return string.format("RMSprop{lr=%s, rho=%g}", tostring(self.lr), self.rho)
end

return RMSprop
