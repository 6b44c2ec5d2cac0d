-- Graph models (nn.Input, layer(node), nn.Concat, nn.Add, nn.Model): gradients through a
-- DAG against central differences, equivalence with Sequential, shared layers, nesting,
-- buffers reused across steps, and the message of every malformed graph.
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local error_of, assert_gradcheck = support.error_of, support.assert_gradcheck
local assert_error_here = support.assert_error_in("graph_spec.lua")

local function names(model)
  local out = {}
  for i, p in ipairs(model:named_parameters()) do out[i] = p.name end
  return out
end

-- A block reused as a layer: conv -> tanh conv, with a residual Add.
local function residual_block(c)
  local x = nn.Input{c, 6, 6}
  local h = nn.Conv2d(c, c, 3, {padding = 1, activation = "tanh"})(x)
  local y = nn.Add()({x, nn.Conv2d(c, c, 3, {padding = 1})(h)})
  return nn.Model{inputs = x, outputs = y, name = "block"}
end

describe("graph models", function()
  before_each(function() T.manual_seed(11) end)

  it("gradcheck through a DAG with Concat, Add, a shared layer and a nested model", function()
    local x = nn.Input{3, 6, 6}
    local a = nn.Conv2d(3, 4, 3, {padding = 1, activation = "tanh"})(x)
    local b = nn.Conv2d(3, 4, 1, {activation = "sigmoid"})(x)
    local shared = nn.Conv2d(4, 4, 3, {padding = 1, activation = "tanh"})
    local s1, s2 = shared(a), shared(nn.Add()({a, b}))           -- one layer, two uses
    local r = residual_block(4)(s2)                              -- a model as a layer
    local c = nn.Concat{dim = 1}({s1, r, b})                     -- [12, 6, 6]
    local y = nn.Dense(3, {activation = "tanh"})(nn.GlobalAvgPool2d()(c))
    local model = nn.Model{inputs = x, outputs = y}
    assert.are.same({"1.weight", "1.bias", "2.weight", "2.bias", "3.weight", "3.bias", "block.1.weight", "block.1.bias",
                     "block.2.weight", "block.2.bias", "8.weight", "8.bias"}, names(model))
    assert_gradcheck(nn.gradcheck(model, T.randn{2, 3, 6, 6}), "DAG")
  end)

  it("gradcheck of a shared block with dropout: the recomputed use draws the same mask", function()
    local x = nn.Input{5}
    local inner = nn.Input{5}
    local block = nn.Model{inputs = inner, outputs = nn.Dropout(0.5)(nn.Dense(5, {activation = "tanh"})(inner))}
    local y = nn.Dense(2)(block(block(x)))
    local model = nn.Model{inputs = x, outputs = y}
    assert.are.same({"1.1.weight", "1.1.bias", "2.weight", "2.bias"}, names(model))
    assert_gradcheck(nn.gradcheck(model, T.randn{4, 5}), "shared dropout block")
  end)

  it("a shared batch norm: recomputing its first use leaves the running statistics as two forwards left them", function()
    local x = nn.Input{2, 3, 3}
    local norm = nn.BatchNorm2d(2)
    local model = nn.Model{inputs = x, outputs = nn.Flatten()(norm(nn.Conv2d(2, 2, 1)(norm(x))))}
    local xt = T.randn{4, 2, 3, 3} * 3 + 1
    model:forward(xt)
    local mean, var = norm.running_mean:clone(), norm.running_var:clone()
    model:backward(xt, T.randn{4, 18})
    assert.is_true(norm.running_mean:equal(mean))
    assert.is_true(norm.running_var:equal(var))
    assert.is_false(mean:equal(T.zeros{2}))
    assert_gradcheck(nn.gradcheck(model, xt, nil, {max_checks = 50}), "shared batch norm")
  end)

  it("a Model of the same layers as a Sequential gives identical outputs and gradients", function()
    local layers = {nn.Conv2d(1, 3, 3, {activation = "relu", input_shape = {1, 8, 8}}), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Dense(4, {activation = "softmax"})}
    local seq = nn.Sequential(layers)
    local x = nn.Input{1, 8, 8}
    local h = x
    for _, l in ipairs(layers) do h = l(h) end
    local model = nn.Model{inputs = x, outputs = h}
    local xt, dy = T.randn{5, 1, 8, 8}, T.randn{5, 4}
    local ys = seq:forward(xt):clone()
    seq:zero_grad()
    local dxs = seq:backward(xt, dy):clone()
    local gs = {}
    for i, g in ipairs(select(2, seq:parameters())) do gs[i] = g:clone() end
    local ym = model:forward(xt)
    model:zero_grad()
    local dxm = model:backward(xt, dy)
    assert.is_true(ys:equal(ym))
    assert.is_true(dxs:equal(dxm))
    for i, g in ipairs(select(2, model:parameters())) do assert.is_true(gs[i]:equal(g), "gradient " .. i) end
    assert.are.same({"1.weight", "1.bias", "4.weight", "4.bias"}, names(model))
  end)

  it("a shared layer's gradient is the sum over its uses; its parameters appear once", function()
    local x = nn.Input{3}
    local d = nn.Dense(3, {activation = "tanh"})
    local model = nn.Model{inputs = x, outputs = d(d(x))}
    assert.are.equal(12, model:num_parameters())
    -- the same computation with two layers holding copies of the weights
    local d1, d2 = nn.Dense(3, {activation = "tanh", input_dim = 3}), nn.Dense(3, {activation = "tanh", input_dim = 3})
    for _, l in ipairs{d1, d2} do
      l.weight:copy(d.weight)
      l.bias:copy(d.bias)
    end
    local twin = nn.Sequential{d1, d2}
    local xt, dy = T.randn{4, 3}, T.randn{4, 3}
    assert.is_true(model:forward(xt):allclose(twin:forward(xt), 1e-6, 1e-6))
    model:zero_grad()
    twin:zero_grad()
    local dx = model:backward(xt, dy)
    assert.is_true(dx:allclose(twin:backward(xt, dy), 1e-5, 1e-6))
    assert.is_true(d.grad_weight:allclose(d1.grad_weight + d2.grad_weight, 1e-5, 1e-6))
    assert.is_true(d.grad_bias:allclose(d1.grad_bias + d2.grad_bias, 1e-5, 1e-6))
  end)

  it("nests inside a Sequential and inside another Model", function()
    local block = residual_block(2)
    local seq = nn.Sequential{block, nn.GlobalAvgPool2d(), nn.Dense(3)}
    local x = nn.Input{2, 6, 6}
    local outer = nn.Model{inputs = x, outputs = seq(x)}
    local xt = T.randn{3, 2, 6, 6}
    local expect = block:forward(xt):clone()
    expect = seq.layers[3]:forward(seq.layers[2]:forward(expect)):clone()
    assert.is_true(seq:forward(xt):equal(expect))
    assert.is_true(outer:forward(xt):equal(expect))
    assert.are.same({"1.1.1.weight", "1.1.1.bias", "1.1.2.weight", "1.1.2.bias", "1.3.weight",
                     "1.3.bias"}, names(outer))
    assert_gradcheck(nn.gradcheck(outer, xt), "Model in Sequential in Model")
  end)

  it("named layers name their parameters; two layers with one name are an error", function()
    local x = nn.Input{4}
    local h = nn.Dense(3):set_name("hidden")(x)
    local model = nn.Model{inputs = x, outputs = nn.Dense(2):set_name("out")(h)}
    assert.are.same({"hidden.weight", "hidden.bias", "out.weight", "out.bias"}, names(model))
    local y = nn.Dense(2):set_name("hidden")(h)
    assert_error_here(error_of(function() local m = nn.Model{inputs = x, outputs = y} return m end),
                      "Model: layers 1 and 2 are both named 'hidden'")
    assert_error_here(error_of(function() nn.Dense(2):set_name("a.b") end), "Dense(2):set_name: a name is letters")
  end)

  it("train() and evaluate() reach layers in nested models", function()
    local inner = nn.Input{4}
    local drop = nn.Dropout(0.5)
    local block = nn.Model{inputs = inner, outputs = drop(inner)}
    local x = nn.Input{4}
    local model = nn.Model{inputs = x, outputs = nn.Dense(2)(block(x))}
    model:evaluate()
    assert.is_false(drop.training)
    local xt = T.randn{3, 4}
    assert.is_true(block:forward(xt):equal(xt))
    model:train()
    assert.is_true(drop.training)
  end)

  it("several inputs come as a list; their gradients too", function()
    local a, b = nn.Input{3}, nn.Input{2}
    local model = nn.Model{inputs = {a, b}, outputs = nn.Dense(2)(nn.Concat{dim = 1}({a, nn.Dense(3)(b)}))}
    local xa, xb = T.randn{4, 3}, T.randn{4, 2}
    local y = model:forward({xa, xb})
    assert.are.same({4, 2}, {y:size(1), y:size(2)})
    local g = model:backward({xa, xb}, T.ones{4, 2})
    assert.are.equal(2, #g)
    assert.are.same({4, 3}, {g[1]:size(1), g[1]:size(2)})
    assert.are.same({4, 2}, {g[2]:size(1), g[2]:size(2)})
    assert.is_true(model({xa, xb}):equal(y))
    assert_error_here(error_of(function() model:forward(xa) end), "Model: expected a list of 2 tensors, got userdata")
    assert_error_here(error_of(function() model:forward({xa}) end), "Model: expected 2 inputs, got 1")
    assert_error_here(error_of(function() model:forward({xa, T.randn{4, 5}}) end),
                      "Model: input 2 (Input[2]): input has shape [4,5], expected [N,2]")
    assert_error_here(error_of(function() model:forward({xa, T.randn{3, 2}}) end), "Model: input 2 has 3 samples but input 1 has 4")
    assert_error_here(error_of(function() local n = model(a) return n end), "Model: takes a list of nodes")
    assert_error_here(error_of(function() local n = model({a}) return n end), "Model: expected 2 inputs, got 1")
  end)

  it("Concat joins along any per-sample dim, negative counting from the end", function()
    local a, b = T.randn{2, 3, 4}, T.randn{2, 3, 5}
    local y = nn.Concat{dim = -1}({a, b})
    assert.are.same({2, 3, 9}, {y:size(1), y:size(2), y:size(3)})
    assert.is_true(y:equal(T.cat({a, b}, 3)))
    local c = nn.Concat(1)({a, a})
    assert.is_true(c:equal(T.cat({a, a}, 2)))
    local g = nn.Concat(1):backward({a, a}, T.cat({a, a * 2}, 2))
    assert.is_true(g[2]:equal(a * 2))
    assert_error_here(error_of(function() nn.Concat{dim = 0} end), "Concat: dim must be a non-zero integer")
    assert_error_here(error_of(function() nn.Concat{axes = 1} end), "Concat: unknown option 'axes'")
  end)

  it("reuses its buffers: a training step allocates no tensors once warm", function()
    local x = nn.Input{2, 6, 6}
    local shared = nn.Conv2d(2, 2, 3, {padding = 1, activation = "relu"})
    local h = nn.Concat{dim = 1}({shared(x), shared(shared(x))})
    local model = nn.Model{inputs = x, outputs = nn.Dense(3, {activation = "softmax"})(nn.Flatten()(h))}
    model:compile{optimizer = "sgd", loss = "sparse_categorical_crossentropy"}
    local P, G = model:flatten_parameters()
    local xt, yt = T.randn{4, 2, 6, 6}, T.tensor{0, 1, 2, 1}
    local first = model:forward(xt)
    for _ = 1, 2 do model:train_step(xt, yt, {P}, {G}) end
    collectgarbage()
    local live = T.live_tensors()
    for _ = 1, 3 do model:train_step(xt, yt, {P}, {G}) end
    collectgarbage()
    assert.are.equal(live, T.live_tensors())
    assert.are.equal(first, model:forward(xt))  -- the same output buffer
  end)

  it("a layer called on a tensor runs forward", function()
    local d = nn.Dense(2, {input_dim = 3})
    local xt = T.randn{4, 3}
    assert.is_true(d(xt):equal(d:forward(xt)))
    assert.is_true(nn.Add()({xt, xt}):equal(xt * 2))
  end)

  it("summary: one row per node under its parameter path, nested blocks indented, aux heads last", function()
    local x = nn.Input{3, 6, 6}
    local stem = nn.Conv2d(3, 4, 3, {padding = 1}):set_name("stem")(x)
    local block = residual_block(4)(stem)
    local c = nn.Concat{dim = 1}({block, nn.MaxPool2d(3, {stride = 1, padding = 1})(stem)})
    local aux = nn.Dense(2)(nn.GlobalAvgPool2d()(stem))
    local main = nn.Dense(3)(nn.GlobalAvgPool2d()(c))
    local model = nn.Model{inputs = x, outputs = {main = main, aux = aux}, aux = {"aux"}}
    local _, info = model:summary{print = false}
    local got = {}
    for i, r in ipairs(info.rows) do got[i] = {r.path, r.name, table.concat(r.node.shape, "x")} end
    assert.are.same({{"stem", "Conv2d(3->4, 3x3, pad 1x1)", "4x6x6"}, {"block", "Model(block)", "4x6x6"},
                     {"block.1", "Conv2d(4->4, 3x3, pad 1x1, tanh)", "4x6x6"}, {"block.2", "Conv2d(4->4, 3x3, pad 1x1)", "4x6x6"},
                     {"block.3", "Add", "4x6x6"}, {"3", "MaxPool2d(3x3, stride 1x1, pad 1x1)", "4x6x6"},
                     {"4", "Concat(dim 1)", "8x6x6"}, {"7", "GlobalAvgPool2d", "8"}, {"8", "Dense(8->3)", "3"},
                     {"5", "GlobalAvgPool2d (training only)", "4"}, {"6", "Dense(4->2) (training only)", "2"}}, got)
    -- the concat sees as far as its widest input: the block's two 3x3 after the stem's 3x3
    assert.are.same({7, 7}, info.rows[7].node.rf)
    assert.are.equal(model:num_parameters(), info.trainable_params)
  end)

  it("prints its nodes, what feeds each one and the outputs", function()
    local x = nn.Input{3, 4, 4}
    local a = nn.Conv2d(3, 2, 1)(x)
    local model = nn.Model{inputs = x, outputs = {main = nn.Flatten()(a), aux = nn.GlobalAvgPool2d()(a)}, aux = {"aux"},
                           name = "demo"}
    assert.are.equal(table.concat({
      "Model(demo) {",
      "  input 1: Input[3,4,4]",
      "  [1] Conv2d(3->2, 1x1) <- input 1  [N,2,4,4]",
      "  [2] Flatten <- [1]  [N,32]",
      "  [3] GlobalAvgPool2d <- [1]  [N,2]",
      "  main = [2], aux = [3] (training only)",
      "}"}, "\n"), tostring(model))
    assert.are.equal("Node Conv2d(3->2, 1x1) -> [N,2,4,4]", tostring(a))
  end)
end)

describe("malformed graphs get a clear message at the line that wires them", function()
  before_each(function() T.manual_seed(3) end)

  it("Add and Concat of mismatched shapes name both shapes and the layers that made them", function()
    local x = nn.Input{3, 8, 8}
    local a = nn.Conv2d(3, 16, 3, {padding = 1})(x)
    local b = nn.Conv2d(3, 32, 3, {padding = 1})(x)
    assert_error_here(error_of(function() local n = nn.Add()({a, b}) return n end),
                      "Add: cannot add input 1 [N,16,8,8] from Conv2d(3->16, 3x3, pad 1x1) and input 2 [N,32,8,8] "
                      .. "from Conv2d(3->32, 3x3, pad 1x1): shapes differ")
    local c = nn.MaxPool2d(2)(a)
    assert_error_here(error_of(function() local n = nn.Concat{dim = 1}({a, c}) return n end),
                      "Concat(dim 1): cannot join input 1 [N,16,8,8] from Conv2d(3->16, 3x3, pad 1x1) and input 2 "
                      .. "[N,16,4,4] from MaxPool2d(2x2): all sizes but dim 1 must agree")
    assert_error_here(error_of(function() local n = nn.Concat{dim = 4}({a, b}) return n end),
                      "Concat(dim 4): dim 4 does not exist in inputs of per-sample rank 3")
  end)

  it("a layer that does not fit its input says so, with the input's shape and source", function()
    local x = nn.Input{3, 8, 8}
    local a = nn.Conv2d(3, 16, 3)(x)
    assert_error_here(error_of(function() local n = nn.Conv2d(8, 4, 3)(a) return n end),
                      "Conv2d(8->4, 3x3): input has 16 channels, expected 8 (input [N,16,6,6] from Conv2d(3->16, 3x3))")
    local d = nn.Dense(4)
    local _ = d(nn.Input{5})
    assert_error_here(error_of(function() local n = d(nn.Input{6}) return n end),
                      "Dense(5->4): already built for inputs [N,5], applied here to [N,6]")
  end)

  it("calls with the wrong number or kind of inputs", function()
    local x = nn.Input{4}
    assert_error_here(error_of(function() local n = nn.Dense(2)({x, x}) return n end),
                      "Dense(2): takes one input, got a list of 2 nodes (join them first with nn.Concat or nn.Add)")
    assert_error_here(error_of(function() local n = nn.Add()(x) return n end), "Add: takes a list of nodes, e.g. layer({a, b})")
    assert_error_here(error_of(function() local n = nn.Add()({x, 3}) return n end), "Add: element 2 of the list is a number, not a node")
    assert_error_here(error_of(function() local n = nn.Dense(2)("x") return n end),
                      "Dense(2): call a layer on a tensor (runs forward) or on nodes from nn.Input (builds a graph), got string")
    local two = nn.Model{inputs = x, outputs = {nn.Dense(2)(x), nn.Dense(3)(x)}}
    assert_error_here(error_of(function() local n = two(nn.Input{4}) return n end),
                      "Model: a model with 2 outputs cannot be used as a layer (only single-output models nest)")
  end)

  it("inputs that are not connected, outputs that depend on a stray input", function()
    local x, stray = nn.Input{4}, nn.Input{4}
    local y = nn.Add()({nn.Dense(4)(x), stray})
    assert_error_here(error_of(function() local m = nn.Model{inputs = x, outputs = y} return m end),
                      "Model: the outputs depend on Input[4] (made at ")
    assert_error_here(error_of(function() local m = nn.Model{inputs = {x, stray, nn.Input{2}}, outputs = y} return m end),
                      "Model: input 3 (Input[2], made at ")
    assert_error_here(error_of(function() local m = nn.Model{inputs = {x, x}, outputs = y} return m end),
                      "Model: input 2 is input 1 again")
    local h = nn.Dense(4)(x)
    assert_error_here(error_of(function() local m = nn.Model{inputs = h, outputs = y} return m end),
                      "Model: input 1 is the output of Dense(4->4), not an nn.Input")
  end)

  it("bad Model and Input specifications", function()
    local x = nn.Input{4}
    local y = nn.Dense(2)(x)
    assert_error_here(error_of(function() local m = nn.Model{inputs = x} return m end), "Model: outputs are missing")
    assert_error_here(error_of(function() local m = nn.Model{inputs = x, outputs = y, output = y} return m end),
                      "Model: unknown key 'output' (known: inputs, outputs, aux, main, name)")
    assert_error_here(error_of(function() local m = nn.Model{inputs = T.zeros{4}, outputs = y} return m end),
                      "Model: inputs must be a node from nn.Input or a list of them, got userdata")
    assert_error_here(error_of(function() local m = nn.Model{inputs = x, outputs = {a = y}, aux = {"a"}} return m end),
                      "Model: the main output 'a' cannot be auxiliary")
    assert_error_here(error_of(function() local m = nn.Model{inputs = x, outputs = {a = y}, aux = {"b"}} return m end),
                      "Model: aux lists 'b', which is not an output")
    assert_error_here(error_of(function() local n = nn.Input{3, 0} return n end), "Input: size 2 must be a positive integer, got 0")
    assert_error_here(error_of(function() local n = nn.Input{3, nmae = "x"} return n end), "Input: unknown key 'nmae'")
    assert_error_here(error_of(function() local n = nn.Input(3) return n end), "Input: expected a per-sample shape")
  end)

  it("forward and backward with bad tensors name the layer and both shapes", function()
    local x = nn.Input{3, 8, 8}
    local model = nn.Model{inputs = x, outputs = nn.Conv2d(3, 4, 3)(x)}
    assert_error_here(error_of(function() model:forward(T.randn{2, 4, 8, 8}) end),
                      "Model: input: input has shape [2,4,8,8], expected [N,3,8,8]")
    assert_error_here(error_of(function() model:forward(T.randn{3, 8, 8}) end), "(missing batch dimension?")
    local xt = T.randn{2, 3, 8, 8}
    model:forward(xt)
    assert_error_here(error_of(function() model:backward(T.randn{2, 3, 8, 8}, T.randn{2, 4, 6, 6}) end),
                      "Model:backward: call forward with the same input first")
    assert_error_here(error_of(function() model:backward(xt, T.randn{2, 4, 5, 5}) end), "Model[1] Conv2d(3->4, 3x3): ")
  end)
end)
