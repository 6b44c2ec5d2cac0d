-- The first network of the course: 28x28 image -> 784 -> 128 ReLU -> 10 softmax.
--   local model = dofile("models/mlp.lua")            -- or loadfile(...)({hidden = 256})
local nn = require "nn"
local opts = ... or {}

return nn.Sequential{
  nn.Flatten{input_shape = opts.input_shape or {28, 28}},
  nn.Dense(opts.hidden or 128, {activation = "relu"}),
  nn.Dense(opts.classes or 10, {activation = "softmax"}),
}
