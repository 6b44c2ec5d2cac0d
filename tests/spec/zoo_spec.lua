-- The graph-model zoo: models/inception.lua, models/googlenet.lua, models/resnet.lua.
-- Parameter counts at ImageNet shapes equal torchvision 0.14's (counted with
-- sum(p.numel() for p in model.parameters()) on Debian's python3-torchvision), shapes at
-- every stage, and one training step per model at a small input: the loss falls and every
-- parameter receives a gradient.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"

local function zoo(name, opts)
  return assert(loadfile("models/" .. name .. ".lua"))(opts)
end

-- a layer of a model (at any depth) by its name
local function find(model, name)
  for _, l in ipairs(model.layers or {}) do
    if l.name == name then return l end
    local inner = find(l, name)
    if inner then return inner end
  end
end

-- ImageNet-shaped models with zero weights: counting and summaries need no random numbers.
-- The ones several tests look at are built once (each describe drops them when done: a
-- ResNet-50 with its gradients holds 200 MB).
local imagenet = {}
local function at_224(name, depth, keep)
  local key = name .. (depth or "")
  local m = imagenet[key] or zoo(name, {depth = depth, kernel_initializer = "zeros"})
  if keep ~= false then imagenet[key] = m end
  return m
end
local function drop_models()
  imagenet = {}
  collectgarbage()
end

local function out_shape(layer)
  local s = layer:output_shape(layer.input_shape)
  return {table.unpack(s)}
end

-- One SGD step on a batch; the same batch's loss after it (with the same dropout masks)
-- must be lower, and no parameter may be left without a gradient (every branch and head
-- is wired into the loss).
local function check_step(model, x, y, compile)
  compile = compile or {}
  compile.optimizer = optim.SGD{lr = compile.lr or 1e-3}
  compile.lr = nil
  compile.loss = compile.loss or "sparse_categorical_crossentropy"
  model:compile(compile)
  local P, G = model:flatten_parameters()
  local rng = T.get_rng_state()
  local before = model:train_step(x, y, {P}, {G})
  for _, p in ipairs(model:named_parameters()) do
    assert.is_true(p.grad:abs():max() > 0, p.name .. " got no gradient")
  end
  T.set_rng_state(rng)
  local after = model:train_step(x, y, {P}, {G})
  assert.is_true(after < before, string.format("loss %.4f -> %.4f", before, after))
end

describe("zoo: ResNet", function()
  before_each(function() T.manual_seed(2) end)
  teardown(drop_models)

  it("has torchvision's parameter counts at 3x224x224 with 1000 classes", function()
    for depth, count in pairs{[18] = 11689512, [34] = 21797672, [50] = 25557032} do
      local m = at_224("resnet", depth, depth ~= 34)
      assert.are.equal(count, m:num_parameters(), "ResNet-" .. depth)
      assert.are.same({1000}, out_shape(m))
    end
  end)

  it("ResNet-18's stages halve the size and double the channels", function()
    local m = at_224("resnet", 18)
    assert.are.same({64, 56, 56}, out_shape(find(m, "layer1")))
    assert.are.same({128, 28, 28}, out_shape(find(m, "layer2")))
    assert.are.same({256, 14, 14}, out_shape(find(m, "layer3")))
    assert.are.same({512, 7, 7}, out_shape(find(m, "layer4")))
    local ps = m:named_parameters()
    assert.are.equal("layer4.2.conv2.weight", ps[#ps - 4].name)
  end)

  -- torchvision's model table gives 1.81 and 4.09 GFLOPS (multiply-adds) for ResNet-18 and -50
  it("summary: multiply-adds per 224x224 image as torchvision's table, stages as rows", function()
    local _, info = at_224("resnet", 18):summary{print = false}
    assert.are.equal(1814073344, info.macs)
    assert.are.equal(11689512, info.trainable_params)
    local paths = {}
    for _, r in ipairs(info.rows) do paths[r.path] = r end
    assert.are.same({512, 7, 7}, paths["layer4"].node.shape)
    assert.are.equal("Conv2d(128->256, 1x1, stride 2x2)", paths["layer3.1.downsample"].name)
    _, info = at_224("resnet", 50):summary{print = false}
    assert.are.equal(4089184256, info.macs)
  end)

  it("the CIFAR ResNets of He et al. have 269,722 (20) and 853,018 (56) parameters", function()
    assert.are.equal(269722, zoo("resnet", {depth = 20, cifar = true}):num_parameters())
    local m = zoo("resnet", {depth = 56, cifar = true})
    assert.are.equal(853018, m:num_parameters())
    assert.are.same({64, 8, 8}, out_shape(find(m, "layer3")))
    assert.are.same({10}, out_shape(m))
  end)

  -- Batch norm over a batch of 2 at 1x1 maps (the last stage at 32x32) is degenerate: the
  -- outputs are +-1 and the gradients explode. 4 samples, and 2x2 maps for ResNet-50.
  it("ResNet-18, ResNet-50 (narrowed) and ResNet-20 take a training step", function()
    local x, y = T.randn{4, 3, 32, 32}, T.tensor{1, 7, 2, 3}
    check_step(zoo("resnet", {depth = 18, input_shape = {3, 32, 32}, classes = 10, kernel_initializer = "he_uniform"}), x, y)
    -- the bottleneck layout at a quarter of the width: 1/16 of the weights, for the sanitizer runs
    check_step(zoo("resnet", {depth = 50, input_shape = {3, 64, 64}, classes = 10, width = 16}), T.randn{4, 3, 64, 64}, y,
               {lr = 1e-5})
    local cifar = zoo("resnet", {depth = 20, cifar = true})
    check_step(cifar, x, y)
    assert.are.same({4, 10}, {cifar:predict(x):size(1), cifar:predict(x):size(2)})
  end)

  it("rejects depths it has no layout for", function()
    local ok, err = pcall(zoo, "resnet", {depth = 19})
    assert.is_false(ok)
    assert.matches("resnet: depth must be 18, 34, 50, 101 or 152", err)
    ok, err = pcall(zoo, "resnet", {depth = 21, cifar = true})
    assert.is_false(ok)
    assert.matches("a CIFAR ResNet has depth 6n%+2", err)
  end)
end)

describe("zoo: Inception", function()
  before_each(function() T.manual_seed(2) end)

  it("Inception (3a): 192x28x28 -> 64 + 128 + 32 + 32 = 256 channels; naive: 416", function()
    local m = zoo("inception")
    assert.are.equal(163696, m:num_parameters())
    assert.are.same({256, 28, 28}, out_shape(m))
    local naive = zoo("inception", {naive = true})
    assert.are.equal(387296, naive:num_parameters())
    assert.are.same({416, 28, 28}, out_shape(naive))
    -- torchvision's inception3a: batch norm, a 3x3 where the paper has 5x5
    assert.are.equal(155872, zoo("inception", {bn = true, k5 = 3}):num_parameters())
  end)

  it("takes a training step (mean squared error to a random target)", function()
    local m = zoo("inception", {input_shape = {192, 6, 6}})
    check_step(m, T.randn{2, 192, 6, 6}, T.rand{2, 256, 6, 6}, {loss = "mse", lr = 0.05})
    assert.are.same({2, 256, 6, 6}, {m.output:size(1), m.output:size(2), m.output:size(3), m.output:size(4)})
  end)
end)

describe("zoo: GoogLeNet", function()
  before_each(function() T.manual_seed(2) end)
  teardown(drop_models)

  it("has torchvision's parameter counts: 13,004,888 with the aux heads, 6,624,904 without", function()
    local m = at_224("googlenet")
    assert.are.equal(13004888, m:num_parameters())
    assert.are.equal(6624904, zoo("googlenet", {aux = false, kernel_initializer = "zeros"}):num_parameters())
    assert.are.same({256, 28, 28}, out_shape(find(m, "inception3a")))
    assert.are.same({512, 14, 14}, out_shape(find(m, "inception4a")))
    assert.are.same({528, 14, 14}, out_shape(find(m, "inception4d")))
    assert.are.same({1024, 7, 7}, out_shape(find(m, "inception5b")))
    assert.are.same({1000}, out_shape(find(m, "aux1")))
    assert.are.same({1000}, out_shape(m))
  end)

  it("summary: 1.51 G multiply-adds (torchvision: 1.50 GFLOPS), the aux heads last and marked", function()
    local text, info = at_224("googlenet"):summary{print = false}
    assert.are.equal(1506748416, info.macs)
    local last = info.rows[#info.rows]
    assert.are.equal("aux2.8", last.path)
    assert.is_true(last.training_only)
    assert.is_truthy(text:find("Model(aux1) (training only)", 1, true))
    assert.is_truthy(text:find("Receptive field of the last feature map (inception5b.", 1, true))
  end)

  it("trains all three heads with weighted losses and answers with the main one alone", function()
    local m = zoo("googlenet", {input_shape = {3, 64, 64}, classes = 10})
    local x, y = T.randn{2, 3, 64, 64}, T.tensor{3, 5}
    -- batch norm over 2 samples of 2x2 maps makes a steep, curved loss: a small step
    check_step(m, x, y, {loss_weights = {main = 1, aux1 = 0.3, aux2 = 0.3}, lr = 1e-5})
    for _, h in ipairs(m.heads) do assert.is_true(h.fused, h.label .. " not fused with its softmax") end
    local out = m:forward(x)
    assert.are.same({2, 10, 2, 10, 2, 10}, {out.main:size(1), out.main:size(2), out.aux1:size(1), out.aux1:size(2),
                                            out.aux2:size(1), out.aux2:size(2)})
    local p = m:predict(x)
    assert.is_true(T.is_tensor(p))
    assert.are.same({2, 10}, {p:size(1), p:size(2)})
  end)
end)
