-- The classic zoo: AlexNet, VGG-11/13/16/19 with and without batch norm, the CIFAR VGG.
-- Exact parameter counts (torchvision 0.14's, for 1000 classes), output shapes, and one
-- training step per model on a small batch at a small input. The big models are built
-- once each (VGG-16 holds 138 million parameters and as many gradients, about 1.1 GB),
-- with init_weights = false where the initial values do not matter: drawing 138 million
-- normal numbers would take seconds.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"
local init = require "nn.init_weights"
local support = require "spec_support"
local dims = support.dims

assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")

local function model(name, opts)
  return support.model_file(name)(opts)
end

local function count(m)
  local _, info = m:summary{print = false}
  return info.trainable_params, info.non_trainable_params, info
end

-- One SGD step on (x, labels): forward, cross-entropy, backward, update. The step must
-- move the first parameter by exactly -lr * its gradient, and, with the same dropout
-- masks (the generator reseeded), lower the loss on the same batch.
local function train_step(m, x, labels, lr)
  local criterion = nn.CrossEntropyLoss()
  local params, grads = m:parameters()
  local opt = optim.SGD{lr = lr}
  m:zero_grad()
  T.manual_seed(11)
  local logits = m:forward(x)
  local loss = criterion:forward(logits, labels)
  m:backward(x, criterion:backward(logits, labels))
  local w, g = params[1]:clone(), grads[1]:clone()
  assert.is_true(g:abs():max() > 0, "the first layer got no gradient")
  opt:step(params, grads)
  assert.is_true(params[1]:allclose(w - g * lr, 1e-6, 1e-6), "the update is not -lr * gradient")
  T.manual_seed(11)
  local after = criterion:forward(m:forward(x), labels)
  assert.is_true(loss == loss and after == after, "loss is NaN")
  assert.is_true(after < loss, string.format("one step did not lower the loss: %.6f -> %.6f", loss, after))
  return loss, after
end

describe("AlexNet and VGG", function()
  before_each(function() T.manual_seed(2) end)

  describe("AlexNet", function()
    local alexnet
    setup(function() alexnet = model("alexnet") end)
    teardown(function() alexnet = nil end)

    it("has torchvision's 61,100,840 parameters and layout", function()
      local trainable, non_trainable, info = count(alexnet)
      assert.are.equal(61100840, trainable)
      assert.are.equal(0, non_trainable)
      assert.are.equal(2469696, alexnet.layers[1]:num_parameters())
      assert.are.equal("features", alexnet.layers[1].name)
      assert.are.equal("classifier", alexnet.layers[4].name)
      assert.are.same({256, 6, 6}, alexnet.layers[1]:output_shape{3, 224, 224})
      assert.are.same({1000}, alexnet:output_shape{3, 224, 224})
      -- torchvision: 0.71 GFLOPS (multiply-adds); receptive field 195 after the last pool
      assert.are.equal(714188480, info.macs)
      for _, r in ipairs(info.rows) do
        if r.path == "1.13" then assert.are.same({195, 195}, r.node.rf) end
      end
    end)

    it("trains one step on 64x64 images through the adaptive pool", function()
      alexnet:train()
      local x, labels = T.randn{2, 3, 64, 64}, T.tensor{3, 997}
      assert.are.same({2, 1000}, dims(alexnet:forward(x)))
      local before = train_step(alexnet, x, labels, 0.01)
      -- untrained: about ln(1000) = 6.9
      assert.is_true(math.abs(before - math.log(1000)) < 0.5, "initial loss " .. before)
    end)
  end)

  describe("VGG-16 (models/vgg16.lua)", function()
    local vgg16
    setup(function() vgg16 = model("vgg16", {init_weights = false}) end)
    teardown(function() vgg16 = nil end)

    it("has torchvision's 138,357,544 parameters and 15.47 G multiply-adds at 224x224", function()
      local trainable, non_trainable, info = count(vgg16)
      assert.are.equal(138357544, trainable)
      assert.are.equal(0, non_trainable)
      assert.are.equal(14714688, vgg16.layers[1]:num_parameters())
      assert.are.equal(123642856, vgg16.layers[4]:num_parameters())
      assert.are.equal(15470264320, info.macs)
      assert.are.same({3, 224, 224}, vgg16.input_shape)
      assert.are.same({512, 7, 7}, vgg16.layers[1]:output_shape{3, 224, 224})
      assert.are.same({1000}, vgg16:output_shape{3, 224, 224})
      assert.are.equal("AdaptiveAvgPool2d(7x7)", vgg16.layers[2]:describe())
    end)

    it("trains one step on 32x32 images: features give 512x1x1, the adaptive pool repeats it to 7x7", function()
      vgg16:train()
      local x, labels = T.randn{2, 3, 32, 32}, T.tensor{0, 500}
      local y = vgg16:forward(x)
      assert.are.same({2, 1000}, dims(y))
      assert.are.same({2, 512, 1, 1}, dims(vgg16.layers[1].output))
      local pooled = vgg16.layers[2].output
      assert.are.same({2, 512, 7, 7}, dims(pooled))
      assert.is_true(pooled[1][5][7][7] == vgg16.layers[1].output[1][5][1][1])
      train_step(vgg16, x, labels, 0.01)
    end)
  end)

  describe("VGG (models/vgg.lua)", function()
    -- torchvision's counts: {total, features} without and with batch norm
    local counts = {
      [11] = {{132863336, 9220480}, {132868840, 9225984}},
      [13] = {{133047848, 9404992}, {133053736, 9410880}},
      [16] = {{138357544, 14714688}, {138365992, 14723136}},
      [19] = {{143667240, 20024384}, {143678248, 20035392}},
    }
    -- batch norm's running mean and variance: 2 per channel of every conv
    local bn_channels = {[11] = 2752, [13] = 2944, [16] = 4224, [19] = 5504}
    local classifier = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000

    for _, depth in ipairs{11, 13, 16, 19} do
      for bn_index, bn in ipairs{false, true} do
        it(string.format("VGG-%d%s: torchvision's parameter count", depth, bn and " with batch norm" or ""), function()
          -- the features alone (include_top = false), then the classifier every variant shares
          -- counting needs the parameters' sizes, not their values: no initial weights drawn
          local features = init.skipped(model, "vgg", {depth = depth, batch_norm = bn, include_top = false})
          local trainable, non_trainable = count(features)
          local want = counts[depth][bn_index]
          assert.are.equal(want[2], trainable)
          assert.are.equal(bn and 2 * bn_channels[depth] or 0, non_trainable)
          assert.are.equal(want[1], trainable + classifier)
          assert.are.same({512, 7, 7}, features:output_shape{3, 224, 224})
          local convs = 0
          for _, layer in ipairs(features.layers) do convs = convs + (layer.class_name == "Conv2d" and 1 or 0) end
          assert.are.equal(depth - 3, convs)
        end)
      end
    end

    it("rejects a depth it has no configuration for", function()
      local ok, err = pcall(model, "vgg", {depth = 12})
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("vgg: depth must be 11, 13, 16 or 19, got 12", 1, true))
    end)

    it("the CIFAR variant: 32x32 to 512x1x1, 512 -> 512 -> 10; trains one step with batch norm", function()
      local cifar = model("vgg", {depth = 16, batch_norm = true, cifar = true})
      local trainable, non_trainable = count(cifar)
      assert.are.equal(14723136 + 512 * 512 + 512 + 512 * 10 + 10, trainable)
      assert.are.equal(8448, non_trainable)
      assert.are.same({3, 32, 32}, cifar.input_shape)
      assert.are.same({10}, cifar:output_shape{3, 32, 32})
      -- torchvision's initialization: He normal over fan-out for convs, N(0, 0.01) for linears
      local conv = cifar.layers[1].layers[1]
      local std = math.sqrt((conv.weight * conv.weight):mean())
      assert.is_true(math.abs(std - math.sqrt(2 / (64 * 9))) < 0.1 * math.sqrt(2 / (64 * 9)), "conv std " .. std)
      assert.are.equal(0, conv.bias:abs():max())
      local fc = cifar.layers[3].layers[1]
      local fc_std = math.sqrt((fc.weight * fc.weight):mean())
      assert.is_true(math.abs(fc_std - 0.01) < 0.001, "linear std " .. fc_std)
      cifar:train()
      local x, labels = T.randn{4, 3, 32, 32}, T.tensor{0, 3, 9, 3}
      assert.are.same({4, 10}, dims(cifar:forward(x)))
      local before = train_step(cifar, x, labels, 0.05)
      assert.is_true(math.abs(before - math.log(10)) < 1, "initial loss " .. before)
    end)
  end)
end)
