-- VGG (Simonyan & Zisserman, 2014) in torchvision's layout, from its configuration lists:
-- VGG-11/13/16/19 (configurations A, B, D, E), with or without batch normalization.
--   features:   per entry of the list, a 3x3 convolution (padding 1) with that many
--               channels [-> BatchNorm2d] -> ReLU, or "M": max pool 2x2/2
--   avgpool:    AdaptiveAvgPool2d(7), so any input of at least 32x32 reaches the
--               classifier as 512x7x7 (224 gives 7x7 already; 32 gives 1x1, repeated)
--   classifier: 25088 -> 4096 -> ReLU -> Dropout -> 4096 -> ReLU -> Dropout -> classes
-- Weights start as torchvision's do (init_weights = true): convolutions He-normal over
-- fan-out (mode 'fan_out', ReLU gain) with zero bias, linear layers N(0, 0.01) with zero
-- bias, batch norm weight 1 and bias 0; init_weights = false keeps the layers' own
-- PyTorch defaults, uniform draws several times faster than VGG-16's 138 million normal
-- ones (about 4 s here). Parameters for 1000 classes (the same as torchvision's):
-- VGG-11 132,863,336, VGG-13 133,047,848, VGG-16 138,357,544, VGG-19 143,667,240;
-- with batch norm 132,868,840, 133,053,736, 138,365,992, 143,678,248.
--
-- cifar = true gives the variant for 32x32 images (CIFAR-10): the same features, whose
-- five pools take 32x32 to 512x1x1, then 512 -> 512 -> ReLU -> Dropout -> classes; no
-- adaptive pool, classes = 10 by default (VGG-16: 14,982,474 parameters; with batch
-- norm, which it needs to train from scratch, 14,990,922 trainable and 8,448 running
-- statistics).
--
--   local model = loadfile("models/vgg.lua")({depth = 19, batch_norm = true})
--   luacnn summary models/vgg.lua --depth 11 --batch-norm
--   luacnn summary models/vgg.lua --cifar --batch-norm
-- opts: depth = 16 (11, 13, 16, 19), batch_norm = false, classes = 1000 (10 with cifar),
-- dropout = 0.5, init_weights = true, cifar = false, include_top = true (false: the features alone, as
-- Keras's include_top, for transfer learning), input_shape = {3, 224, 224} ({3, 32, 32}
-- with cifar; the model is built for it at once), channels = 3 (when input_shape is not
-- given). VGG.configs holds the lists.
local nn = require "nn"
local opts = ... or {}

local configs = {
  [11] = {64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  [13] = {64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  [16] = {64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"},
  [19] = {64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"},
}

local depth = opts.depth or 16
local config = configs[depth]
if not config then
  error(string.format("vgg: depth must be 11, 13, 16 or 19, got %s", tostring(depth)), 2)
end
local cifar = opts.cifar == true
local channels = opts.input_shape and opts.input_shape[1] or opts.channels or 3
local input_shape = opts.input_shape or {channels, cifar and 32 or 224, cifar and 32 or 224}
local dropout = opts.dropout or 0.5
local classes = opts.classes or (cifar and 10 or 1000)

-- torchvision's initialization (VGG._initialize_weights)
local function conv_init(t, _, fan_out) return t:normal_(0, math.sqrt(2 / fan_out)) end
local function linear_init(t) return t:normal_(0, 0.01) end

local torchvision_init = opts.init_weights ~= false

local function linear(i, o)
  if not torchvision_init then return nn.Linear(i, o) end
  return nn.Linear(i, o, {kernel_initializer = linear_init, bias_initializer = "zeros"})
end

local function conv3x3(i, o)
  if not torchvision_init then return nn.Conv2d(i, o, 3, {padding = 1}) end
  return nn.Conv2d(i, o, 3, {padding = 1, kernel_initializer = conv_init, bias_initializer = "zeros"})
end

local layers = {name = "features"}
local c = channels
for _, v in ipairs(config) do
  if v == "M" then
    layers[#layers + 1] = nn.MaxPool2d(2)
  else
    layers[#layers + 1] = conv3x3(c, v)
    if opts.batch_norm then layers[#layers + 1] = nn.BatchNorm2d(v) end
    layers[#layers + 1] = nn.ReLU()
    c = v
  end
end
local features = nn.Sequential(layers)

local model
if opts.include_top == false then
  model = features
elseif cifar then
  model = nn.Sequential{features, nn.Flatten(), nn.Sequential{
    name = "classifier",
    linear(512, 512), nn.ReLU(), nn.Dropout(dropout),
    linear(512, classes),
  }}
else
  model = nn.Sequential{features, nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Sequential{
    name = "classifier",
    linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
    linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
    linear(4096, classes),
  }}
end
model:build(input_shape)
return model
