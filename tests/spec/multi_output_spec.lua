-- Training graph models: a single-output Model trains exactly like the same Sequential;
-- with several outputs the weighted losses add up, loss_weights steer the gradients,
-- auxiliary heads train but are skipped at inference, and bad targets are named.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"
local support = require "spec_support"
local error_of = support.error_of
local assert_error_here = support.assert_error_in("multi_output_spec.lua")

-- XOR and AND of two noisy bits
local function data(n)
  local bits = T.randint(0, 2, {n, 2})
  local x = bits + T.randn{n, 2} * 0.1
  local a, b = bits:select(2, 1), bits:select(2, 2)
  return x, (a + b):eq(1), (a * b)
end

-- a trunk, a main head (two more layers) and an auxiliary head on the trunk
local function two_heads(aux_list)
  local x = nn.Input{2}
  local h = nn.Dense(16, {activation = "tanh"})(x)
  local main = nn.Dense(2, {activation = "softmax"})(nn.Dense(16, {activation = "tanh"})(h))
  local aux_layer = nn.Dense(2, {activation = "softmax"})
  local model = nn.Model{inputs = x, outputs = {main = main, aux1 = aux_layer(h)}, aux = aux_list or {"aux1"}}
  return model, aux_layer
end

local function grads_of(model, x, y, weights)
  model:compile{optimizer = optim.SGD{lr = 0}, loss = "sparse_categorical_crossentropy", loss_weights = weights}
  local P, G = model:flatten_parameters()
  model:train_step(x, y, {P}, {G})
  return G:clone()
end

describe("training graph models", function()
  before_each(function() T.manual_seed(5) end)

  it("a single-output Model trains to the same weights as the same Sequential (fused softmax)", function()
    local function layers()
      T.manual_seed(9)
      return {nn.Dense(8, {activation = "relu", input_dim = 2}), nn.Dense(2, {activation = "softmax"})}
    end
    local seq = nn.Sequential(layers())
    local ls = layers()
    local x = nn.Input{2}
    local model = nn.Model{inputs = x, outputs = ls[2](ls[1](x))}
    local xt, y = data(48)
    for _, m in ipairs{seq, model} do
      m:compile{optimizer = optim.Adam{lr = 0.05}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
      T.manual_seed(3)
      m:fit(xt, y, {epochs = 3, batch_size = 16, verbose = 0})
    end
    assert.is_true(model._fused)
    local ps, pm = seq:parameters(), model:parameters()
    for i = 1, #ps do assert.is_true(ps[i]:equal(pm[i]), "parameter " .. i) end
    assert.are.same({seq:evaluate(xt, y)}, {model:evaluate(xt, y)})
  end)

  it("several outputs: the loss is the weighted sum, each output's loss is logged and falls", function()
    local model = two_heads()
    model:compile{optimizer = optim.Adam{lr = 0.05}, loss = {main = "sparse_categorical_crossentropy",
                  aux1 = "sparse_categorical_crossentropy"}, loss_weights = {main = 1, aux1 = 0.3}, metrics = {"accuracy"}}
    local x, y = data(64)
    local h = model:fit(x, y, {epochs = 20, batch_size = 16, verbose = 0, validation_data = {x, y}})
    assert.are.same({"loss", "main_loss", "aux1_loss", "accuracy", "val_loss", "val_accuracy"}, h:keys())
    for e = 1, 20 do
      assert.is_true(math.abs(h.loss[e] - (h.main_loss[e] + 0.3 * h.aux1_loss[e])) < 1e-5 * h.loss[e], "epoch " .. e)
    end
    assert.is_true(h.main_loss[20] < 0.2 * h.main_loss[1], "main loss " .. h.main_loss[1] .. " -> " .. h.main_loss[20])
    assert.is_true(h.aux1_loss[20] < h.aux1_loss[1])
    assert.is_true(h:last("accuracy") > 0.95)
    -- in evaluation only the main output counts
    local loss, acc = model:evaluate(x, y)
    assert.are.equal(h:last("val_loss"), loss)
    assert.are.equal(h:last("val_accuracy"), acc)
  end)

  it("loss_weights scale each output's gradient", function()
    local model = two_heads()
    local x, y = data(16)
    local g_main = grads_of(model, x, y, {main = 1, aux1 = 0})
    local g_aux = grads_of(model, x, y, {main = 0, aux1 = 1})
    local g = grads_of(model, x, y, {main = 1, aux1 = 0.25})
    assert.is_true(g:allclose(g_main + g_aux * 0.25, 1e-4, 1e-6))
    assert.is_true(g_aux:abs():max() > 0 and g_main:abs():max() > 0)
    -- a zero weight leaves that head untrained
    local aux_model, aux_layer = two_heads()
    aux_model:compile{optimizer = optim.Adam{lr = 0.05}, loss = "sparse_categorical_crossentropy",
                      loss_weights = {aux1 = 0}}
    local before = aux_layer.weight:clone()
    aux_model:fit(x, y, {epochs = 2, batch_size = 8, verbose = 0})
    assert.is_true(aux_layer.weight:equal(before))
  end)

  it("heads ending in softmax are trained fused with the cross-entropy, with the same gradients", function()
    local model = two_heads()
    local x, y = data(16)
    local fused = grads_of(model, x, y, {main = 1, aux1 = 0.5})
    for _, h in ipairs(model.heads) do
      assert.is_true(h.fused, h.label)
      h.fused = false
    end
    local P, G = model:flatten_parameters()
    model:train_step(x, y, {P}, {G})
    assert.is_true(fused:allclose(G, 1e-3, 1e-6))
  end)

  it("auxiliary heads train but are skipped at inference", function()
    local model, aux_layer = two_heads()
    local calls = 0
    local forward = aux_layer.forward
    aux_layer.forward = function(...)
      calls = calls + 1
      return forward(...)
    end
    model:compile{loss = "sparse_categorical_crossentropy"}
    local x, y = data(32)
    local out = model:forward(x)
    assert.are.same({"table", 1}, {type(out), calls})
    local p = model:predict(x)
    assert.is_true(T.is_tensor(p))
    assert.are.same({32, 2}, {p:size(1), p:size(2)})
    model:evaluate(x, y)
    model:evaluate()
    assert.is_true(T.is_tensor(model:forward(x)))
    assert.are.equal(1, calls)
    model:train()
    model:fit(x, y, {epochs = 1, batch_size = 32, verbose = 0})
    assert.are.equal(2, calls)
    -- without aux=, every output is computed and returned in both modes
    local both = two_heads({})
    both:compile{loss = "sparse_categorical_crossentropy"}
    local pred = both:predict(x)
    assert.are.same({32, 2}, {pred.aux1:size(1), pred.aux1:size(2)})
    assert.are.same({32, 2}, {pred.main:size(1), pred.main:size(2)})
  end)

  it("targets per output: y as a table keyed like the outputs", function()
    local x = nn.Input{2}
    local h = nn.Dense(16, {activation = "tanh"})(x)
    local model = nn.Model{inputs = x, outputs = {xor = nn.Dense(2, {activation = "softmax"})(h),
                                                  both = nn.Dense(1, {activation = "sigmoid"})(h)}, main = "xor"}
    model:compile{optimizer = optim.Adam{lr = 0.05}, loss = {xor = "sparse_categorical_crossentropy",
                  both = "binary_crossentropy"}, metrics = {xor = {"accuracy"}, both = {"accuracy"}}}
    local xt, yx, ya = data(64)
    local h1 = model:fit(xt, {xor = yx, both = ya:view(64, 1)}, {epochs = 40, batch_size = 16, verbose = 0})
    assert.are.same({"loss", "xor_loss", "both_loss", "accuracy", "both_accuracy"}, h1:keys())
    assert.is_true(h1:last("accuracy") > 0.95 and h1:last("both_accuracy") > 0.95)
    local out = model:predict(xt)
    assert.are.same({64, 1}, {out.both:size(1), out.both:size(2)})
  end)

  it("several inputs: x is a list of tensors", function()
    local a, b = nn.Input{1}, nn.Input{1}
    local h = nn.Dense(16, {activation = "tanh"})(nn.Concat{dim = 1}({a, b}))
    local model = nn.Model{inputs = {a, b}, outputs = nn.Dense(2, {activation = "softmax"})(h)}
    model:compile{optimizer = optim.Adam{lr = 0.05}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    local x, y = data(64)
    local xs = {x:narrow(2, 1, 1):contiguous(), x:narrow(2, 2, 1):contiguous()}
    local h1 = model:fit(xs, y, {epochs = 40, batch_size = 16, verbose = 0, validation_split = 0.25})
    assert.is_true(h1:last("accuracy") > 0.9)
    assert.are.equal(64, model:predict(xs):size(1))
    assert_error_here(error_of(function() model:fit(x, y, {verbose = 0}) end),
                      "fit: x must be a list of 2 tensors (one per input), got userdata")
    assert_error_here(error_of(function() model:evaluate({xs[1], x}, y) end),
                      "evaluate: Model: input 2 (Input[1]): input has shape [64,2], expected [N,1]")
  end)

  it("bad compile options and targets are named", function()
    local model = two_heads()
    local x, y = data(16)
    assert_error_here(error_of(function() model:compile{loss = {main = "mse", aux2 = "mse"}} end),
                      "compile: loss names 'aux2', which is not an output")
    assert_error_here(error_of(function() model:compile{loss = "mse", loss_weights = {aux1 = -1}} end),
                      "compile: loss_weights: the weight of 'aux1' must be a number >= 0, got -1")
    assert_error_here(error_of(function() model:compile{loss = "mse", metrics = {aux1 = {"accuracy"}}} end),
                      "compile: metrics: 'aux1' is a training-only output: evaluation never computes it")
    local shared = nn.MSELoss()
    assert_error_here(error_of(function() model:compile{loss = {main = shared, aux1 = shared}} end),
                      "compile: outputs 'main' and 'aux1' share one loss object")
    assert_error_here(error_of(function() model:compile{loss = {}} end), "compile: no output has a loss")
    model:compile{loss = "sparse_categorical_crossentropy"}
    assert_error_here(error_of(function() model:fit(x, {main = y}, {verbose = 0}) end),
                      "fit: y has no targets for output 'aux1'")
    assert_error_here(error_of(function() model:fit(x, {main = y, aux1 = y, aux3 = y}, {verbose = 0}) end),
                      "fit: y names 'aux3', which is not an output")
    assert_error_here(error_of(function() model:fit(x, {main = y, aux1 = y:narrow(1, 1, 8)}, {verbose = 0}) end),
                      "fit: x has 16 samples but y[\"aux1\"] has 8")
    local bad = y:clone()
    bad[3] = 7
    assert_error_here(error_of(function() model:fit(x, {main = y, aux1 = bad}, {verbose = 0}) end),
                      "fit: label 7 of sample 3 of output 'aux1' is not a class id in 0..1")
    assert_error_here(error_of(function() model:fit(x, "y", {verbose = 0}) end),
                      "fit: y must be a tensor or a table of tensors keyed like the outputs, got string")
  end)
end)
