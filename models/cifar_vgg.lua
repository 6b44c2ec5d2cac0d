-- A small VGG-style network for 32x32 colour images (CIFAR-10): blocks of 3x3
-- convolutions (padding 1), each followed by batch norm and ReLU, 2x2 max pooling
-- after each block, then dropout and one dense softmax layer.
--   conv64 conv64 pool | conv128 conv128 pool | conv256 pool | dropout 0.5 | dense 10
--   local model = loadfile("models/cifar_vgg.lua")()           -- or ({width = 16, classes = 10})
-- width: the first block's channels (64); the others have 2x and 4x. The convolutions
-- have no bias: the batch norm after each one adds its own (beta).
local nn = require "nn"
local opts = ... or {}
local w = opts.width or 64
local channels = opts.channels or 3

local layers = {}
local function conv(cin, cout, first)
  layers[#layers + 1] = nn.Conv2d(cin, cout, 3, {padding = 1, bias = false,
                                                  input_shape = first and {channels, 32, 32} or nil})
  layers[#layers + 1] = nn.BatchNorm2d(cout)
  layers[#layers + 1] = nn.ReLU()
end

conv(channels, w, true)
conv(w, w)
layers[#layers + 1] = nn.MaxPool2d(2)
conv(w, 2 * w)
conv(2 * w, 2 * w)
layers[#layers + 1] = nn.MaxPool2d(2)
conv(2 * w, 4 * w)
layers[#layers + 1] = nn.MaxPool2d(2)
layers[#layers + 1] = nn.Flatten()
layers[#layers + 1] = nn.Dropout(opts.dropout or 0.5)
layers[#layers + 1] = nn.Dense(opts.classes or 10, {activation = "softmax"})

return nn.Sequential(layers)
