-- The neural-network library: layers, containers, losses, metrics and the model API.
--   local nn = require "nn"
--   local model = nn.Sequential{nn.Flatten{input_shape={28,28}}, nn.Dense(128, {activation='relu'}),
--                               nn.Dense(10, {activation='softmax'})}
local dense = require "nn.dense"
local activation = require "nn.activation"
local reshape = require "nn.reshape"
local losses = require "nn.losses"
local conv = require "nn.conv"
local pooling = require "nn.pooling"
local batchnorm = require "nn.batchnorm"

-- the model API and the summary extend Module itself
require "nn.fit"
require "nn.summary"
local checkpoint = require "nn.checkpoint"  -- also model:save, save_weights, load_weights
local registry = require "nn.registry"
require "nn.model_fit"

local nn = {
  Module = require "nn.module",
  Sequential = require "nn.sequential",
  Dense = dense.Dense,
  Linear = dense.Linear,
  Flatten = reshape.Flatten,
  Reshape = reshape.Reshape,
  Dropout = require("nn.dropout").Dropout,
  Conv2d = conv.Conv2d,
  Conv2D = conv.Conv2D,
  MaxPool2d = pooling.MaxPool2d,
  AvgPool2d = pooling.AvgPool2d,
  GlobalAvgPool2d = pooling.GlobalAvgPool2d,
  AdaptiveAvgPool2d = pooling.AdaptiveAvgPool2d,
  MaxPooling2D = pooling.MaxPooling2D,
  AveragePooling2D = pooling.AveragePooling2D,
  GlobalAveragePooling2D = pooling.GlobalAveragePooling2D,
  BatchNorm2d = batchnorm.BatchNorm2d,
  BatchNorm1d = batchnorm.BatchNorm1d,
  ZeroPad2d = require("nn.zeropad").ZeroPad2d,
  ZeroPadding2D = require("nn.zeropad").ZeroPadding2D,
  Input = require("nn.graph").Input,
  Model = require "nn.model",
  Concat = require("nn.merge").Concat,
  Concatenate = require("nn.merge").Concatenate,
  Add = require("nn.merge").Add,
  ChannelPad = require("nn.channel_pad").ChannelPad,
  is_node = require("nn.graph").is_node,
  losses = losses,
  metrics = require "nn.metrics",
  init = require "nn.init_weights",
  gradcheck = require("nn.gradcheck").gradcheck,
  class = require("nn.class").class,
  -- checkpoints (docs/checkpoint.md): nn.load(path) -> model, meta
  load = checkpoint.load_model,
  from_config = function(cfg) return registry.from_config(cfg, "config") end,
  registry = registry,
  checkpoint = checkpoint,
  is_a = require("nn.class").is_a,
}

for name, ctor in pairs(activation) do nn[name] = ctor end
for name, cls in pairs(losses) do
  if type(cls) == "table" and cls.class_name then nn[name] = cls end
end
nn.MSELoss = losses.MeanSquaredError
nn.CrossEntropyLoss = function(opts)  -- PyTorch's name: takes logits
  opts = opts or {}
  opts.from_logits = true
  return losses.SparseCategoricalCrossentropy(opts)
end

return nn
