-- GoogLeNet (Szegedy et al., 2014) in torchvision's layout: every convolution bias-free with
-- BatchNorm (eps 0.001) before its ReLU, 3x3 max pools with ceil_mode, nine Inception modules
-- (models/inception.lua; the "5x5" branch is 3x3 as in torchvision), global average pool,
-- dropout 0.2, a fully connected classifier, and two auxiliary classifiers after (4a) and (4d).
--   local model = loadfile("models/googlenet.lua")()                       -- 3x224x224, 1000 classes
--   local model = loadfile("models/googlenet.lua")({aux = false})          -- without the aux heads
--   local model = loadfile("models/googlenet.lua")({input_shape = {3, 64, 64}, classes = 10})
-- Outputs {main = , aux1 = , aux2 = }; aux1 and aux2 are training-only: model:evaluate(),
-- predict and eval() compute and return the main output alone (torchvision does the same).
-- Train it with loss_weights = {main = 1, aux1 = 0.3, aux2 = 0.3}, as the paper.
-- Parameters: 13,004,888 with the aux heads, 6,624,904 without, as torchvision's.
-- Options: classes (1000), input_shape ({3, 224, 224}; 64x64 is about the smallest the pools
-- allow), aux (true), activation of the classifiers ("softmax", trained fused with the
-- cross-entropy; "linear" for logits), dropout (0.2; aux heads 0.7), kernel_initializer of
-- every convolution and fully connected layer (PyTorch's default; "zeros" to count parameters
-- quickly).
local nn = require "nn"
local opts = ... or {}
local dir = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local _, inception = assert(loadfile(dir .. "inception.lua"))({model = false})

local classes = opts.classes or 1000
local activation = opts.activation or "softmax"
local init = opts.kernel_initializer or "torch_default"

local function conv(x, cout, k, o)
  return inception.conv(x, cout, k, {bn = true, stride = o and o.stride, padding = o and o.padding,
                                     kernel_initializer = init})
end

local function pool(x, k, stride)
  return nn.MaxPool2d(k, {stride = stride, ceil_mode = true})(x)
end

local function module(x, name, ch)
  return inception.reduced(x, ch, {bn = true, k5 = 3, name = name, kernel_initializer = init})
end

-- 4x4 average pool -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> fc classes
local function aux_head(x, name)
  local input = nn.Input(x.shape)
  local h = conv(nn.AdaptiveAvgPool2d(4)(input), 128, 1)
  h = nn.Dense(1024, {activation = "relu", kernel_initializer = init, bias_initializer = "torch_default"})(
        nn.Flatten()(h))
  h = nn.Dropout(0.7)(h)
  local y = nn.Dense(classes, {activation = activation, kernel_initializer = init,
                               bias_initializer = "torch_default"})(h)
  return nn.Model{inputs = input, outputs = y, name = name}(x)
end

local x = nn.Input(opts.input_shape or {3, 224, 224})
local h = conv(x, 64, 7, {stride = 2, padding = 3})
h = pool(h, 3, 2)
h = conv(h, 64, 1)
h = conv(h, 192, 3)
h = pool(h, 3, 2)
h = module(h, "inception3a", {64, 96, 128, 16, 32, 32})
h = module(h, "inception3b", {128, 128, 192, 32, 96, 64})
h = pool(h, 3, 2)
h = module(h, "inception4a", {192, 96, 208, 16, 48, 64})
local at_4a = h
h = module(h, "inception4b", {160, 112, 224, 24, 64, 64})
h = module(h, "inception4c", {128, 128, 256, 24, 64, 64})
h = module(h, "inception4d", {112, 144, 288, 32, 64, 64})
local at_4d = h
h = module(h, "inception4e", {256, 160, 320, 32, 128, 128})
h = pool(h, 2, 2)
h = module(h, "inception5a", {256, 160, 320, 32, 128, 128})
h = module(h, "inception5b", {384, 192, 384, 48, 128, 128})
-- the heads made before the classifier, so the parameters come in torchvision's order
local aux1 = opts.aux ~= false and aux_head(at_4a, "aux1")
local aux2 = opts.aux ~= false and aux_head(at_4d, "aux2")
h = nn.Dropout(opts.dropout or 0.2)(nn.GlobalAvgPool2d()(h))
local main = nn.Dense(classes, {activation = activation, kernel_initializer = init,
                                bias_initializer = "torch_default"}):set_name("fc")(h)
if opts.aux == false then return nn.Model{inputs = x, outputs = main, name = "googlenet"} end
return nn.Model{inputs = x, outputs = {main = main, aux1 = aux1, aux2 = aux2}, aux = {"aux1", "aux2"}, name = "googlenet"}
