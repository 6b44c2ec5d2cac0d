-- LeNet-5 (LeCun et al., 1998) as it is trained today: ReLU instead of tanh, max pooling
-- instead of subsampling, 28x28 input padded by 2 to the original 32x32 receptive field.
--   conv 5x5, 6 -> pool 2 -> conv 5x5, 16 -> pool 2 -> 120 -> 84 -> 10
--   local model = dofile("models/lenet5.lua")         -- or loadfile(...)({classes = 10, channels = 1})
local nn = require "nn"
local opts = ... or {}
local channels = opts.channels or 1

return nn.Sequential{
  nn.Conv2d(channels, 6, 5, {padding = 2, activation = "relu", input_shape = {channels, 28, 28}}),
  nn.MaxPool2d(2),
  nn.Conv2d(6, 16, 5, {activation = "relu"}),
  nn.MaxPool2d(2),
  nn.Flatten(),
  nn.Dense(120, {activation = "relu"}),
  nn.Dense(84, {activation = "relu"}),
  nn.Dense(opts.classes or 10, {activation = "softmax"}),
}
