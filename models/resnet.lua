-- ResNets (He et al., 2015/2016) as graph models, one block function per kind.
--   local model = loadfile("models/resnet.lua")({depth = 18})                -- ImageNet, torchvision's layout
--   local model = loadfile("models/resnet.lua")({depth = 20, cifar = true})  -- CIFAR-10, depth 6n+2
-- Options: depth (18, 34, 50, 101, 152; with cifar: 6n+2 such as 20, 32, 44, 56, 110),
-- classes (1000, cifar 10), input_shape ({3,224,224}, cifar {3,32,32}), activation of the
-- classifier ("softmax", trained fused with the cross-entropy; "linear" for logits),
-- kernel_initializer of the convolutions (He normal over the fan-out, as torchvision; any
-- initializer name, e.g. "zeros" to count parameters without drawing 11 million numbers),
-- width (channels of the first stage, 64; cifar 16; the later stages double it each:
-- a narrower network of the same layout, for quick tests).
-- ImageNet: 7x7/2 conv, 3x3/2 max pool, four stages of basic blocks (18, 34) or bottlenecks
-- (50+; stride in the 3x3 conv, torchvision's "v1.5"), global average pool, fully connected.
-- Every conv is bias-free and followed by batch norm; a shortcut that changes the shape is a
-- 1x1 conv + batch norm. Parameters: ResNet-18 11,689,512, -34 21,797,672, -50 25,557,032,
-- as torchvision's. CIFAR: 3x3 conv 16, three stages of n basic blocks with 16, 32, 64
-- channels, parameter-free shortcuts that subsample and pad channels with zeros ("option A"):
-- ResNet-20 269,722 and ResNet-56 853,018 parameters.
-- Stages and blocks are nn.Models used as layers, named as in torchvision (layer1..layer4;
-- conv1, bn1, ..., downsample), so parameters read "layer4.2.conv1.weight": stage 4, block 2
-- (blocks count from 1 here, from 0 in torchvision).
local nn = require "nn"
local opts = ... or {}

local IMAGENET = {[18] = {"basic", {2, 2, 2, 2}}, [34] = {"basic", {3, 4, 6, 3}}, [50] = {"bottleneck", {3, 4, 6, 3}},
                  [101] = {"bottleneck", {3, 4, 23, 3}}, [152] = {"bottleneck", {3, 8, 36, 3}}}
local depth = opts.depth or (opts.cifar and 20 or 18)
if opts.cifar then
  if math.type(depth) ~= "integer" or depth < 8 or (depth - 2) % 6 ~= 0 then
    error(string.format("resnet: a CIFAR ResNet has depth 6n+2 (20, 32, 44, 56, 110), got %s", tostring(depth)), 2)
  end
elseif not IMAGENET[depth] then
  error(string.format("resnet: depth must be 18, 34, 50, 101 or 152 (or 6n+2 with cifar = true), got %s", tostring(depth)), 2)
end

-- He initialization over the fan-out, as torchvision does for its convolutions.
local function he_fan_out(t, _, fan_out)
  return t:normal_(0, math.sqrt(2 / fan_out))
end

local function conv(cin, cout, k, stride, name)
  return nn.Conv2d(cin, cout, k, {stride = stride, padding = k // 2, bias = false,
                                  kernel_initializer = opts.kernel_initializer or he_fan_out})
    :set_name(name)
end

local function bn(c, name)
  return nn.BatchNorm2d(c):set_name(name)
end

-- A block as a layer: `body(input)` wires its layers from a fresh Input of x's shape.
local function block(x, body, name)
  local input = nn.Input(x.shape)
  return nn.Model{inputs = input, outputs = body(input), name = name}(x)
end

-- 3x3 -> 3x3 with an identity (or projection) shortcut: ResNet-18/34 and the CIFAR nets.
local function basic(x, cout, stride, option_a)
  local cin = x.shape[1]
  return block(x, function(inp)
    local h = nn.ReLU()(bn(cout, "bn1")(conv(cin, cout, 3, stride, "conv1")(inp)))
    h = bn(cout, "bn2")(conv(cout, cout, 3, 1, "conv2")(h))
    local shortcut = inp
    if stride ~= 1 or cin ~= cout then
      if option_a then
        shortcut = nn.ChannelPad(cout - cin)(nn.MaxPool2d(1, {stride = stride})(inp))
      else
        shortcut = bn(cout, "downsample_bn")(conv(cin, cout, 1, stride, "downsample")(inp))
      end
    end
    return nn.ReLU()(nn.Add()({h, shortcut}))
  end)
end

-- 1x1 reduce -> 3x3 (strided) -> 1x1 expand to 4x: ResNet-50 and deeper.
local function bottleneck(x, width, stride)
  local cin, cout = x.shape[1], width * 4
  return block(x, function(inp)
    local h = nn.ReLU()(bn(width, "bn1")(conv(cin, width, 1, 1, "conv1")(inp)))
    h = nn.ReLU()(bn(width, "bn2")(conv(width, width, 3, stride, "conv2")(h)))
    h = bn(cout, "bn3")(conv(width, cout, 1, 1, "conv3")(h))
    local shortcut = inp
    if stride ~= 1 or cin ~= cout then
      shortcut = bn(cout, "downsample_bn")(conv(cin, cout, 1, stride, "downsample")(inp))
    end
    return nn.ReLU()(nn.Add()({h, shortcut}))
  end)
end

-- A stage of blocks as one layer, so the summary and the parameter names follow the stages.
local function stage(x, n, make, name)
  return block(x, function(inp)
    local h = inp
    for i = 1, n do h = make(h, i) end
    return h
  end, name)
end

local x, h
if opts.cifar then
  local n = (depth - 2) // 6
  x = nn.Input(opts.input_shape or {3, 32, 32})
  h = nn.ReLU()(bn(opts.width or 16, "bn1")(conv(x.shape[1], opts.width or 16, 3, 1, "conv1")(x)))
  local w = opts.width or 16
  for s, c in ipairs{w, 2 * w, 4 * w} do
    h = stage(h, n, function(y, i) return basic(y, c, (i == 1 and s > 1) and 2 or 1, true) end, "layer" .. s)
  end
else
  local kind, counts = IMAGENET[depth][1], IMAGENET[depth][2]
  x = nn.Input(opts.input_shape or {3, 224, 224})
  local w = opts.width or 64
  h = nn.ReLU()(bn(w, "bn1")(conv(x.shape[1], w, 7, 2, "conv1")(x)))
  h = nn.MaxPool2d(3, {stride = 2, padding = 1})(h)
  for s, c in ipairs{w, 2 * w, 4 * w, 8 * w} do
    h = stage(h, counts[s], function(y, i)
      local stride = (i == 1 and s > 1) and 2 or 1
      if kind == "basic" then return basic(y, c, stride) end
      return bottleneck(y, c, stride)
    end, "layer" .. s)
  end
end
h = nn.GlobalAvgPool2d()(h)
local y = nn.Dense(opts.classes or (opts.cifar and 10 or 1000), {activation = opts.activation or "softmax",
                   kernel_initializer = "torch_default", bias_initializer = "torch_default"}):set_name("fc")(h)
return nn.Model{inputs = x, outputs = y, name = opts.cifar and ("resnet" .. depth .. "_cifar") or ("resnet" .. depth)}
