-- AlexNet (Krizhevsky et al., 2012) in torchvision's layout (the single-GPU "one weird
-- trick" variant, without local response normalization): 61,100,840 parameters for
-- 1000 classes. The adaptive pool before the classifier makes any input of at least
-- 63x63 give the 256x6x6 features the classifier expects.
--   features:   conv 11x11/4 pad 2, 64 -> pool 3/2 -> conv 5x5 pad 2, 192 -> pool 3/2
--               -> conv 3x3 pad 1, 384 -> 256 -> 256 -> pool 3/2 (ReLU after each conv)
--   avgpool:    AdaptiveAvgPool2d(6)
--   classifier: Dropout -> 9216 -> 4096 -> Dropout -> 4096 -> classes (ReLU between)
--
--   local model = dofile("models/alexnet.lua")       -- or loadfile(...)(opts)
--   luacnn summary models/alexnet.lua [--classes 10] [--input-shape 3,64,64]
-- opts: classes = 1000, dropout = 0.5, input_shape = {3, 224, 224} (the model is built
-- for it at once: parameters exist and the summary has shapes; any other input of at
-- least 63x63 still works), channels = 3 (the input's, when input_shape is not given).
local nn = require "nn"
local opts = ... or {}
local channels = opts.input_shape and opts.input_shape[1] or opts.channels or 3
local input_shape = opts.input_shape or {channels, 224, 224}
local dropout = opts.dropout or 0.5

local features = nn.Sequential{
  name = "features",
  nn.Conv2d(channels, 64, 11, {stride = 4, padding = 2}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
  nn.Conv2d(64, 192, 5, {padding = 2}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
  nn.Conv2d(192, 384, 3, {padding = 1}), nn.ReLU(),
  nn.Conv2d(384, 256, 3, {padding = 1}), nn.ReLU(),
  nn.Conv2d(256, 256, 3, {padding = 1}), nn.ReLU(),
  nn.MaxPool2d(3, {stride = 2}),
}

local classifier = nn.Sequential{
  name = "classifier",
  nn.Dropout(dropout),
  nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
  nn.Dropout(dropout),
  nn.Linear(4096, 4096), nn.ReLU(),
  nn.Linear(4096, opts.classes or 1000),
}

local model = nn.Sequential{features, nn.AdaptiveAvgPool2d(6), nn.Flatten(), classifier}
model:build(input_shape)
return model
