-- The nn layers as a user meets them: shapes, building, the summary, error messages,
-- hyper-parameter checks, modes, output buffers, flat parameters, metrics and loss values.
-- Gradients are in gradcheck_spec.lua, training in fit_spec.lua.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"
local support = require "spec_support"
local error_of, assert_contains = support.error_of, support.assert_contains

-- tensor t equals the nested Lua table `want` to within tol (relative above 1)
local function assert_values(t, want, tol, what)
  local got = t:totable()
  local function cmp(g, w, path)
    if type(w) == "table" then
      assert.are.equal(#w, #g, (what or "") .. path .. ": length")
      for i = 1, #w do cmp(g[i], w[i], path .. "[" .. i .. "]") end
      return
    end
    assert.is_true(math.abs(g - w) <= (tol or 1e-6) * math.max(1, math.abs(w)),
                   string.format("%s%s: got %.9g, expected %.9g", what or "", path, g, w))
  end
  cmp(got, want, "")
end

-- A user-written layer with no input check: y = 2x.
local Double = nn.class("Double", nn.Module)
function Double:forward(x)
  self.output = x * 2
  return self.output
end
function Double:backward(x, dy)
  self.grad_input = dy * 2
  return self.grad_input
end

local function mnist_mlp()
  return nn.Sequential{
    nn.Flatten{input_shape = {28, 28}},
    nn.Dense(128, {activation = "relu"}),
    nn.Dense(10, {activation = "softmax"}),
  }
end

describe("layer shapes", function()
  it("Dense and Linear: output_shape, built weights, forward", function()
    local d = nn.Dense(7)
    assert.are.same({7}, d:output_shape({3}))
    assert.are.same({5, 7}, d:output_shape({5, 3}))
    assert.is_falsy(d.built)
    assert.are.equal(0, d:num_parameters())
    local y = d:forward(T.randn{4, 3})
    assert.are.same({4, 7}, y:size())
    assert.are.same({7, 3}, d.weight:size())
    assert.are.same({7}, d.bias:size())
    assert.are.equal(28, d:num_parameters())
    -- more dims: applied to the last one
    local d3 = nn.Dense(2, {input_shape = {5, 3}})
    assert.is_true(d3.built)
    assert.are.same({4, 5, 2}, d3:forward(T.randn{4, 5, 3}):size())
    local l = nn.Linear(3, 2, {bias = false})
    assert.are.same({2, 3}, l.weight:size())
    assert.is_nil(l.bias)
    assert.are.same({6, 2}, l:forward(T.randn{6, 3}):size())
  end)

  it("Dense computes activation(x W^T + b)", function()
    local w, b = T.tensor{{1, 2, 3}, {-1, 0, 0.5}}, T.tensor{0.5, -1}
    local d = nn.Dense(2, {input_dim = 3, kernel_initializer = w, bias_initializer = b})
    local x = T.tensor{{1, 1, 1}, {2, 0, -2}}
    assert_values(d:forward(x), {{6.5, -1.5}, {-3.5, -4}})
    local r = nn.Dense(2, {activation = "relu", input_dim = 3, kernel_initializer = w, bias_initializer = b})
    assert_values(r:forward(x), {{6.5, 0}, {0, 0}})
    -- on [N, S, I] each of the S positions goes through the same weights
    local d3 = nn.Dense(2, {input_shape = {2, 3}, kernel_initializer = w, bias_initializer = b})
    assert_values(d3:forward(x:view(1, 2, 3)), {{{6.5, -1.5}, {-3.5, -4}}})
  end)

  it("activations compute their formulas", function()
    local xs = {-2, -0.5, 0.5, 3}
    local x = T.tensor{xs}
    local function sig(v) return 1 / (1 + math.exp(-v)) end
    local function tanh(v) return (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) end
    local formulas = {
      linear = function(v) return v end,
      relu = function(v) return math.max(v, 0) end,
      leaky_relu = function(v) return v > 0 and v or 0.3 * v end,  -- Keras's default slope
      sigmoid = sig,
      tanh = tanh,
      elu = function(v) return v > 0 and v or math.exp(v) - 1 end,
      softplus = function(v) return math.log(1 + math.exp(v)) end,
      gelu = function(v) return 0.5 * v * (1 + tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ^ 3))) end,
    }
    for name, f in pairs(formulas) do
      local want = {}
      for i, v in ipairs(xs) do want[i] = f(v) end
      assert_values(nn.Activation(name):forward(x), {want}, 1e-6, name)
    end
    local s = 0
    for _, v in ipairs(xs) do s = s + math.exp(v) end
    local sm, lsm = {}, {}
    for i, v in ipairs(xs) do sm[i], lsm[i] = math.exp(v) / s, v - math.log(s) end
    assert_values(nn.Softmax():forward(x), {sm}, 1e-6, "softmax")
    assert_values(nn.LogSoftmax():forward(x), {lsm}, 1e-6, "log_softmax")
    assert_values(nn.LeakyReLU{alpha = 0.1}:forward(x), {{-0.2, -0.05, 0.5, 3}}, 1e-6, "leaky 0.1")
    assert_values(nn.ELU{alpha = 2}:forward(x), {{2 * (math.exp(-2) - 1), 2 * (math.exp(-0.5) - 1), 0.5, 3}}, 1e-6, "elu 2")
    -- softmax rows sum to one on the last dim of any rank
    local p = nn.Softmax():forward(T.randn{2, 3, 5} * 10)
    assert.is_true(p:sum(3):allclose(T.ones{2, 3}, 1e-5, 1e-6))
  end)

  it("Activation, Dropout: output shape is the input shape", function()
    for _, layer in ipairs{nn.Activation("tanh"), nn.ReLU(), nn.Dropout(0.5)} do
      assert.are.same({3, 4}, layer:output_shape({3, 4}))
      assert.are.same({2, 3, 4}, layer:forward(T.randn{2, 3, 4}):size())
    end
  end)

  it("Flatten and Reshape", function()
    local f = nn.Flatten()
    assert.are.same({24}, f:output_shape({2, 3, 4}))
    assert.are.same({5, 24}, f:forward(T.randn{5, 2, 3, 4}):size())
    local r = nn.Reshape({4, -1})
    assert.are.same({4, 6}, r:output_shape({2, 12}))
    assert.are.same({3, 4, 6}, r:forward(T.randn{3, 24}):size())
    assert.are.same({2, 3, 4}, nn.Reshape({2, 3, 4}):output_shape({24}))
    -- views when the input is contiguous: no copy
    local x = T.randn{2, 6}
    local y = nn.Reshape({3, 2}):forward(x)
    y:set(1, 1, 1, 42)
    assert.are.equal(42, x:get(1, 1))
    assert_contains(error_of(function() nn.Reshape({4, 4}):output_shape({12}) end),
                    "Reshape: cannot reshape [12] (12 values) into [4,4] (16 values)")
    assert_contains(error_of(function() nn.Reshape({5, -1}):output_shape({12}) end),
                    "Reshape: cannot reshape [12] into [5,-1]")
  end)
end)

describe("Sequential", function()
  it("builds at once from the first layer's input_shape", function()
    local m = mnist_mlp()
    assert.is_true(m.built)
    assert.are.same({28, 28}, m.input_shape)
    assert.are.same({10}, m.out_shape)
    assert.are.same({10}, m:output_shape({28, 28}))
    assert.are.same({128}, m:output_shape({28, 28}, 2))
    assert.are.same({128, 784}, m.layers[2].weight:size())
    assert.are.same({10, 128}, m.layers[3].weight:size())
    assert.are.equal(101770, m:num_parameters())
    local names = {}
    for i, p in ipairs(m:named_parameters()) do names[i] = p.name end
    assert.are.same({"2.weight", "2.bias", "3.weight", "3.bias"}, names)
    local ps, gs = m:parameters()
    assert.are.equal(4, #ps)
    assert.are.equal(4, #gs)
    assert.are.same({28, 28}, m.layers[1].input_shape)
  end)

  it("summary lists each layer's output shape and parameter count", function()
    local text = mnist_mlp():summary{print = false}
    assert_contains(text, "Model: Sequential  input [N,28,28]")
    -- params, then multiply-adds (one per weight: 784 x 128, 128 x 10)
    assert.matches("1%s+Flatten%s+%[N,784%]%s+0%s+0\n", text)
    assert.matches("2%s+Dense%(784%->128, relu%)%s+%[N,128%]%s+100,480%s+100,352\n", text)
    assert.matches("3%s+Dense%(128%->10, softmax%)%s+%[N,10%]%s+1,290%s+1,280\n", text)
    assert_contains(text, "Total params: 101,770 (397.5 KB)")
    assert_contains(text, "Trainable params: 101,770")
    assert_contains(text, "Non-trainable params: 0")
  end)

  it("builds lazily on the first forward", function()
    local m = nn.Sequential{nn.Flatten(), nn.Dense(16, {activation = "tanh"}), nn.Dense(3)}
    assert.is_falsy(m.built)
    assert.are.equal(0, m:num_parameters())
    local text = m:summary{print = false}
    assert_contains(text, "(not built yet)")
    assert_contains(text, "Total params: 0")
    local y = m:forward(T.randn{5, 2, 4})
    assert.are.same({5, 3}, y:size())
    assert.is_true(m.built)
    assert.are.same({2, 4}, m.input_shape)
    assert.are.same({16, 8}, m.layers[2].weight:size())
    assert.are.equal(16 * 8 + 16 + 3 * 16 + 3, m:num_parameters())
    assert.matches("Dense%(8%->16, tanh%)%s+%[N,16%]", m:summary{print = false})
    -- the weights are drawn once: a second forward keeps them
    local w = m.layers[2].weight:clone()
    m:forward(T.randn{7, 2, 4})
    assert.is_true(w:equal(m.layers[2].weight))
  end)

  it("add() appends a layer and builds it when the model is built", function()
    local m = nn.Sequential{nn.Dense(5, {input_dim = 3})}
    m:add(nn.Dense(2, {activation = "sigmoid"}))
    assert.are.same({2, 5}, m.layers[2].weight:size())
    assert.are.same({4, 2}, m:forward(T.randn{4, 3}):size())
    assert.matches("%[2%] Dense%(5%->2, sigmoid%)", tostring(m))
  end)

  it("backward accumulates parameter gradients until zero_grad", function()
    local m = nn.Sequential{nn.Dense(4, {activation = "tanh", input_dim = 3}), nn.Linear(4, 2)}
    local x, dy = T.randn{5, 3}, T.randn{5, 2}
    local _, grads = m:parameters()
    m:zero_grad()
    m:forward(x)
    m:backward(x, dy)
    local once = {}
    for i, g in ipairs(grads) do
      assert.is_true(g:abs():sum() > 0, "gradient " .. i .. " is zero")
      once[i] = g:clone()
    end
    m:forward(x)
    m:backward(x, dy)
    for i, g in ipairs(grads) do assert.is_true(g:allclose(once[i] * 2, 1e-5, 1e-6), "gradient " .. i .. " did not add up") end
    m:zero_grad()
    for i, g in ipairs(grads) do assert.are.equal(0, g:abs():sum(), "gradient " .. i .. " not zeroed") end
  end)

  it("forward and backward take the model's input", function()
    local m = nn.Sequential{nn.Dense(4, {input_dim = 3}), nn.Dense(2)}
    local x = T.randn{5, 3}
    m:forward(x)
    local dx = m:backward(x, T.ones{5, 2})
    assert.are.same({5, 3}, dx:size())
    local err = error_of(function() m:backward(T.randn{5, 3}, T.ones{5, 2}) end)
    assert.matches("nn_spec.lua:%d+: Sequential:backward: call forward with the same input first", err)
  end)
end)

describe("error messages name the layer and both shapes", function()
  it("at the first layer, and the batch-dimension hint", function()
    local m = mnist_mlp()
    local err = error_of(function() m:forward(T.zeros{32, 100}) end)
    assert.matches("^[^\n]*nn_spec.lua:%d+: Sequential%[1%] Flatten: input has shape %[32,100%], expected %[N,28,28%]$", err)
    err = error_of(function() m:forward(T.zeros{28, 28}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[1%] Flatten: input has shape %[28,28%], expected %[N,28,28%]", err)
    assert_contains(err, "(missing batch dimension? use x:unsqueeze(1) for one sample)")
    local d = nn.Dense(128, {activation = "relu", input_dim = 784})
    err = error_of(function() d:forward(T.zeros{784}) end)
    assert.matches("nn_spec.lua:%d+: Dense%(784%->128, relu%): input has shape %[784%], expected %[N,784%] %(missing batch", err)
    err = error_of(function() d:forward(T.zeros{32, 100}) end)
    assert.matches("nn_spec.lua:%d+: Dense%(784%->128, relu%): input has shape %[32,100%], expected %[N,784%]$", err)
    -- a mismatch that is not one sample gets no hint
    assert.is_falsy(err:find("missing batch", 1, true))
  end)

  it("deeper in the model: the layer's position", function()
    -- the user's layer checks nothing, so the Dense after it is the one to complain
    local m = nn.Sequential{Double(), nn.Dense(128, {activation = "relu", input_dim = 784}), nn.Dense(10)}
    assert.are.same({2, 10}, m:forward(T.zeros{2, 784}):size())
    local err = error_of(function() m:forward(T.zeros{32, 100}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Dense%(784%->128, relu%): input has shape %[32,100%], expected %[N,784%]$",
                   err)
  end)

  it("when building: a layer that does not fit the one before", function()
    local m = nn.Sequential{nn.Flatten(), nn.Dense(128, {activation = "relu", input_dim = 784})}
    local err = error_of(function() m:forward(T.zeros{32, 10, 10}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Dense%(784%->128, relu%): expects inputs of shape %[N,784%] but the "
                   .. "layer before gives %[N,100%]", err)
    err = error_of(function() nn.Sequential{nn.Dense(3, {input_dim = 4}), nn.Reshape({2, 2})} end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Reshape%[2,2%]: .*cannot reshape %[3%] %(3 values%) into %[2,2%]", err)
  end)

  it("in nested containers: the whole path", function()
    local inner = nn.Sequential{nn.Dense(8, {input_dim = 4}), nn.Dense(3, {activation = "relu"})}
    local m = nn.Sequential{nn.Flatten(), inner, nn.Dense(2)}
    local err = error_of(function() m:forward(T.zeros{5, 2, 3}) end)
    -- the inner model is built already: it is the layer that does not fit
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Sequential: expects inputs of shape %[N,4%] but the layer before "
                   .. "gives %[N,6%]$", err)
    local lazy = nn.Sequential{nn.Flatten(), nn.Sequential{nn.Dense(8), nn.Dense(3, {input_dim = 4})}}
    err = error_of(function() lazy:forward(T.zeros{5, 2, 3}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Sequential%[2%] Dense%(4%->3%): expects inputs of shape %[N,4%] but "
                   .. "the layer before gives %[N,8%]$", err)
    local outer = nn.Sequential{Double(), nn.Sequential{Double(), nn.Dense(3, {input_dim = 4})}}
    err = error_of(function() outer:forward(T.zeros{5, 6}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Sequential%[2%] Dense%(4%->3%): expects inputs of shape %[N,4%] but "
                   .. "the layer before gives %[N,6%]$", err)
    -- built, then given the wrong input: the message comes from the forward
    outer = nn.Sequential{Double(), nn.Sequential{Double(), nn.Dense(3, {input_dim = 4})}}
    outer:forward(T.zeros{5, 4})
    err = error_of(function() outer:forward(T.zeros{5, 6}) end)
    assert.matches("nn_spec.lua:%d+: Sequential%[2%] Sequential%[2%] Dense%(4%->3%): input has shape %[5,6%], expected "
                   .. "%[N,4%]$", err)
  end)

  it("inputs that are not tensors", function()
    local m = mnist_mlp()
    assert.matches("nn_spec.lua:%d+: Sequential: expected a tensor input, got table",
                   error_of(function() m:forward({1, 2, 3}) end))
    assert.matches("nn_spec.lua:%d+: Dense%(3%): expected a tensor, got string",
                   error_of(function() nn.Dense(3):forward("x") end))
    assert.matches("nn_spec.lua:%d+: Sequential: the model has no layers", error_of(function() nn.Sequential{}:forward(T.zeros{1, 2}) end))
  end)
end)

describe("bad hyper-parameters fail when the layer is made", function()
  local cases = {
    {function() nn.Dense(0) end, "Dense: units must be a positive integer, got 0"},
    {function() nn.Dense(-3) end, "Dense: units must be a positive integer, got -3"},
    {function() nn.Dense(2.5) end, "Dense: units must be a positive integer, got 2.5"},
    {function() nn.Dense("128") end, "Dense: units must be a positive integer, got 128"},
    {function() nn.Dense(3, "relu") end, "Dense: options must be a table, got string"},
    {function() nn.Dense(10, {activation = "relux"}) end,
     "Dense: unknown activation relux (known: linear, relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, elu, softplus, gelu)"},
    {function() nn.Activation("swish") end, "Activation: unknown activation swish (known: linear, relu,"},
    {function() nn.Dense(3, {kernel_initializer = "glorot"}) end, "Dense: unknown initializer 'glorot' (known: glorot_normal, "
                                                                  .. "glorot_uniform, he_normal, he_uniform,"},
    {function() nn.Dense(3, {bias_initializer = "zero"}) end, "Dense: unknown initializer 'zero'"},
    {function() nn.Dense(3, {kernel_initializer = 5}) end, "Dense: an initializer is a name, a function or a tensor, got number"},
    {function() nn.Dropout(1) end, "Dropout: rate must be a number in [0, 1), got 1"},
    {function() nn.Dropout(-0.1) end, "Dropout: rate must be a number in [0, 1), got -0.1"},
    {function() nn.Dropout("half") end, "Dropout: rate must be a number in [0, 1), got half"},
    {function() nn.Reshape({0, 3}) end, "Reshape: size 0 at position 1 must be a positive integer or -1"},
    {function() nn.Reshape({-1, -1}) end, "Reshape: only one size can be -1"},
    {function() nn.Reshape(12) end, "Reshape: the target shape must be a non-empty table such as {7,7,1}"},
    {function() nn.Linear(0, 3) end, "Linear: in_features must be a positive integer, got 0"},
    {function() nn.Flatten(3) end, "Flatten: options must be a table, got number"},
    {function() nn.Sequential{nn.Dense(3), 5} end, "Sequential: element 2 is a number, not a layer"},
    {function() nn.Sequential(nn.Dense(3)) end,
     "Sequential: expected a list of layers, got the layer Dense(3) (write nn.Sequential{layer})"},
    {function() nn.Sequential("layers") end, "Sequential: expected a list of layers, got string"},
  }
  it("each with its message, at the caller's line", function()
    for _, c in ipairs(cases) do
      local err = error_of(c[1])
      assert.matches("nn_spec.lua:%d+: ", err)
      assert_contains(err, c[2])
    end
  end)

  it("an initial value of the wrong shape", function()
    local err = error_of(function() nn.Dense(3, {input_dim = 4, kernel_initializer = T.zeros{2, 2}}) end)
    assert_contains(err, "Dense weight: initial value has shape [2,2], the parameter has shape [3,4]")
  end)

  it("unknown loss and metric names", function()
    assert_contains(error_of(function() nn.losses.get("hinge") end),
                    "unknown loss 'hinge' (known: binary_crossentropy, categorical_crossentropy, mean_squared_error, mse, "
                    .. "sparse_categorical_crossentropy)")
    assert_contains(error_of(function() nn.metrics.get("precision") end), "unknown metric 'precision' (known: accuracy,")
    assert_contains(error_of(function() nn.metrics.get("top_0_accuracy") end), "top_k_accuracy: k must be a positive integer")
  end)
end)

describe("training and evaluation modes", function()
  it("evaluate() and train() reach every child, nested too", function()
    local drop1, drop2 = nn.Dropout(0.5), nn.Dropout(0.5)
    local m = nn.Sequential{nn.Dense(8, {input_dim = 4}), drop1, nn.Sequential{drop2, nn.Dense(3)}}
    assert.is_true(drop1.training and drop2.training)
    assert.are.equal(m, m:evaluate())
    assert.is_false(m.training)
    assert.is_false(drop1.training)
    assert.is_false(drop2.training)
    assert.is_false(m.layers[3].training)
    m:train()
    assert.is_true(drop1.training and drop2.training and m.layers[3].training)
    m:eval()
    assert.is_false(drop2.training)
    m:train(true)
    m:evaluate_mode()
    assert.is_false(drop1.training)
    m:train(false)
    assert.is_false(drop2.training)
  end)

  it("Dropout is the identity in evaluation and drops in training", function()
    local d = nn.Dropout(0.5)
    local x = T.rand{50, 40} + 1
    local y = d:forward(x)
    local dropped = y:eq(0):sum()
    assert.is_true(dropped > 800 and dropped < 1200, "dropped " .. dropped .. " of 2000")
    -- the survivors are scaled by 1/(1-rate), so the expected value is unchanged
    assert.is_true((y:sum() / x:sum() - 1) < 0.1)
    local kept = y:ne(0)
    assert.is_true((y - x * 2):abs():mul(kept):max() < 1e-6)
    d:evaluate()
    assert.is_true(d:forward(x):equal(x))
    local m = nn.Sequential{nn.Dense(30, {input_dim = 40}), nn.Dropout(0.9)}
    m:evaluate()
    local a = m:forward(x):clone()
    assert.is_true(m:forward(x):equal(a))
    m:train()
    assert.is_false(m:forward(x):equal(a))
  end)

  it("predict runs in evaluation mode and restores the mode", function()
    local m = nn.Sequential{nn.Dense(6, {input_dim = 4}), nn.Dropout(0.5)}
    local x = T.randn{10, 4}
    local p1, p2 = m:predict(x), m:predict(x)
    assert.is_true(p1:equal(p2))
    assert.is_true(m.training)
    assert.is_true(m.layers[2].training)
  end)
end)

describe("output buffers", function()
  it("forward reuses its output tensor; predict returns fresh ones", function()
    local m = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(2, {activation = "softmax"})}
    local x1, x2 = T.randn{4, 3}, T.randn{4, 3}
    local y1 = m:forward(x1)
    local kept = y1:clone()
    local y2 = m:forward(x2)
    assert.is_true(rawequal(y1, y2), "forward allocated a new output")
    assert.is_false(y1:equal(kept), "the buffer now holds the second batch's output")
    -- a batch of another size gets another buffer
    local y3 = m:forward(T.randn{6, 3})
    assert.are.same({6, 2}, y3:size())
    -- predict copies out
    local p1 = m:predict(x1)
    local p2 = m:predict(x1)
    assert.is_false(rawequal(p1, p2))
    assert.is_false(rawequal(p1, m.output))
    assert.is_true(p1:equal(kept))
    m:forward(x2)
    assert.is_true(p1:equal(kept), "a later forward changed predict's result")
    -- batched predict gives what one big forward gives
    local big = T.randn{10, 3}
    assert.is_true(m:predict(big, {batch_size = 3}):allclose(m:forward(big):clone(), 1e-6, 1e-7))
  end)

  it("backward reuses its input-gradient buffers", function()
    local m = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(2)}
    local x = T.randn{4, 3}
    m:forward(x)
    local g1 = m:backward(x, T.ones{4, 2})
    m:forward(x)
    local g2 = m:backward(x, T.ones{4, 2} * 2)
    assert.is_true(rawequal(g1, g2))
  end)
end)

describe("flatten_parameters", function()
  it("makes every parameter a view into one flat tensor, keeping the values", function()
    local m = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(2)}
    local before = {}
    for i, p in ipairs(m:parameters()) do before[i] = p:clone() end
    local P, G = m:flatten_parameters()
    assert.are.same({5 * 3 + 5 + 2 * 5 + 2}, P:size())
    assert.are.same(P:size(), G:size())
    for i, p in ipairs(m:parameters()) do assert.is_true(p:equal(before[i]), "parameter " .. i .. " changed") end
    -- writes through the flat tensor reach the layers and the other way round
    P:fill(0.25)
    assert.are.equal(0.25, m.layers[2].bias[2])
    m.layers[1].weight:set(1, 1, -3)
    assert.are.equal(-3, P[1])
    assert.are.equal(P:size(1) - 1, P:narrow(1, 2, P:size(1) - 1):eq(0.25):sum())
    -- so do the gradients
    local x = T.randn{4, 3}
    m:zero_grad()
    m:forward(x)
    m:backward(x, T.ones{4, 2})
    assert.is_true(G:abs():sum() > 0)
    assert.is_true(m.layers[2].grad_bias:equal(G:narrow(1, P:size(1) - 1, 2)))
    assert.are.equal(4, m.layers[2].grad_bias[1])
    m:zero_grad()
    assert.are.equal(0, G:abs():sum())
    -- a second call returns the same tensors
    local P2, G2 = m:flatten_parameters()
    assert.is_true(rawequal(P, P2) and rawequal(G, G2))
  end)

  it("training still works through the flat tensors", function()
    T.manual_seed(3)
    local m = nn.Sequential{nn.Dense(8, {activation = "tanh", input_dim = 2}), nn.Dense(1)}
    local P, G = m:flatten_parameters()
    local opt = optim.SGD{lr = 0.1}
    local crit = nn.MSELoss()
    local x = T.randn{32, 2}
    local y = (x:narrow(2, 1, 1) - x:narrow(2, 2, 1) * 0.5):contiguous()
    local first, last
    for step = 1, 200 do
      m:zero_grad()
      local out = m:forward(x)
      local loss = crit:forward(out, y)
      m:backward(x, crit:backward(out, y))
      opt:step({P}, {G})
      first = first or loss
      last = loss
    end
    assert.is_true(last < first / 10, string.format("loss %g -> %g", first, last))
    -- the layers see the trained values
    local w = m.layers[1].weight
    assert.is_true(w:equal(P:narrow(1, 1, 16):view(8, 2)))
  end)
end)

describe("metrics", function()
  local scores = T.tensor{{0.1, 0.7, 0.2}, {0.5, 0.3, 0.2}, {0.2, 0.3, 0.5}, {0.4, 0.35, 0.25}}
  local labels = T.tensor{1, 0, 0, 1}  -- right, right, wrong (top-2: no), wrong (top-2: yes)

  it("sparse accuracy and top-k", function()
    local acc = nn.metrics.Accuracy("sparse")
    acc:update(scores, labels)
    assert.are.equal(0.5, acc:result())
    -- accumulates over batches until reset
    acc:update(scores:narrow(1, 1, 2), labels:narrow(1, 1, 2))
    assert.are.equal(4 / 6, acc:result())
    acc:reset()
    assert.are.equal(0, acc:result())
    local top2 = nn.metrics.get("top_2_accuracy")
    top2:update(scores, labels)
    assert.are.equal(0.75, top2:result())
    assert.are.equal("top_2_accuracy", top2.name)
    local top3 = nn.metrics.TopKAccuracy(3)
    top3:update(scores, labels)
    assert.are.equal(1, top3:result())
    assert.are.equal(5, nn.metrics.get("top_k_accuracy").k)
  end)

  it("categorical accuracy from one-hot rows, binary from a 0.5 threshold", function()
    local onehot = T.tensor{{0, 1, 0}, {1, 0, 0}, {1, 0, 0}, {0, 1, 0}}
    local acc = nn.metrics.get("categorical_accuracy")
    acc:update(scores, onehot)
    assert.are.equal(0.5, acc:result())
    local top2 = nn.metrics.get("top_2_accuracy")
    top2:update(scores, onehot)
    assert.are.equal(0.75, top2:result())
    local bin = nn.metrics.get("binary_accuracy")
    bin:update(T.tensor{{0.9}, {0.2}, {0.6}, {0.4}, {0.7}}, T.tensor{{1}, {0}, {0}, {1}, {1}})
    assert.are.equal(0.6, bin:result())
  end)

  it("'accuracy' follows the loss, or the target's shape", function()
    assert.are.equal("sparse", nn.metrics.get("accuracy", "sparse_categorical_crossentropy").kind)
    assert.are.equal("categorical", nn.metrics.get("acc", "categorical_crossentropy").kind)
    assert.are.equal("binary", nn.metrics.get("accuracy", "binary_crossentropy").kind)
    local auto = nn.metrics.get("accuracy", "mse")
    auto:update(scores, labels)
    assert.are.equal(0.5, auto:result())
    local mine = {name = "mine", update = function() end, result = function() return 1 end, reset = function() end}
    assert.are.equal(mine, nn.metrics.get(mine))
  end)

  it("confusion_matrix: rows are true classes, columns predictions", function()
    local cm = nn.metrics.confusion_matrix(scores, labels)
    assert_values(cm, {{1, 0, 1}, {1, 1, 0}, {0, 0, 0}})
    assert_values(nn.metrics.confusion_matrix(T.tensor{2, 0, 1, 1}, T.tensor{2, 0, 0, 1}, 4),
                  {{1, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}})
    assert.are.equal(4, cm:sum())
    assert_contains(error_of(function() nn.metrics.confusion_matrix(T.tensor{0, 5}, T.tensor{0, 1}, 3) end),
                    "confusion_matrix: label 1 or prediction 5 of sample 2 is outside 0..2")
    assert_contains(error_of(function() nn.metrics.confusion_matrix(T.tensor{0, 1}, T.tensor{0, 1, 1}) end),
                    "confusion_matrix: 2 predictions for 3 labels")
  end)
end)

describe("loss values", function()
  local probs = T.tensor{{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}, {0.25, 0.5, 0.25}}
  local labels = T.tensor{0, 2, 1}

  local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) * math.max(1, math.abs(b)) end

  it("sparse categorical cross-entropy: -mean log p[label]", function()
    local want = -(math.log(0.7) + math.log(0.8) + math.log(0.5)) / 3
    local got = nn.SparseCategoricalCrossentropy():forward(probs, labels)
    assert.is_true(close(got, want), got .. " vs " .. want)
    assert.is_true(close(nn.losses.get("sparse_categorical_crossentropy"):forward(probs, labels), want))
  end)

  it("from logits: logsumexp - z[label], stable for large logits", function()
    local z = T.tensor{{2, -1, 0.5}, {1000, 0, -1000}}
    local lse1 = math.log(math.exp(2) + math.exp(-1) + math.exp(0.5))
    local want = ((lse1 - 2) + (1000 - 0)) / 2  -- sample 2: label 1, logsumexp = 1000
    local loss = nn.SparseCategoricalCrossentropy{from_logits = true}
    local got = loss:forward(z, T.tensor{0, 1})
    assert.is_true(close(got, want, 1e-6), got .. " vs " .. want)
    -- the fused entry point gives the same, and so does softmax followed by the plain loss
    local l2 = nn.SparseCategoricalCrossentropy()
    local zs = T.tensor{{2, -1, 0.5}, {0.3, 0.1, -0.2}}
    assert.is_true(close(l2:forward_logits(zs, T.tensor{0, 2}),
                         l2:forward(nn.Softmax():forward(zs), T.tensor{0, 2}), 1e-6))
    assert.is_true(close(nn.CrossEntropyLoss():forward(zs, T.tensor{0, 2}), l2:forward_logits(zs, T.tensor{0, 2})))
  end)

  it("clips probabilities at eps (1e-7 unless given), with a flat gradient there", function()
    local p = T.tensor{{0, 1}, {1, 0}}
    local loss = nn.SparseCategoricalCrossentropy()
    local want = (-math.log(1e-7) - math.log(1 - 1e-7)) / 2
    local got = loss:forward(p, T.tensor{0, 0})
    assert.is_true(close(got, want, 1e-5), got .. " vs " .. want)
    assert.is_true(got < math.huge)
    assert.are.equal(0, loss:backward(p, T.tensor{0, 0}):abs():sum())
    local loose = nn.SparseCategoricalCrossentropy{epsilon = 0.01}
    assert.is_true(close(loose:forward(T.tensor{{0, 1}}, T.tensor{0}), -math.log(0.01), 1e-5))
    -- categorical and binary clip the same way
    assert.is_true(close(nn.CategoricalCrossentropy():forward(T.tensor{{0, 1}}, T.tensor{{1, 0}}), -math.log(1e-7), 1e-5))
    -- 1 is clipped to the float32 below 1 - 1e-7, which is 1 - 2^-23
    local bce = nn.BinaryCrossentropy():forward(T.tensor{{0, 1}}, T.tensor{{1, 0}})
    local want_bce = (-math.log(1e-7) - math.log(2 ^ -23)) / 2
    assert.is_true(close(bce, want_bce, 1e-5), bce .. " vs " .. want_bce)
  end)

  it("labels out of range or not integers: the message names the sample and the range", function()
    local loss = nn.SparseCategoricalCrossentropy()
    local cases = {
      {T.tensor{0, 2, 3}, "label 3 of sample 3 is not a class id in 0..2 (the model has 3 outputs)"},
      {T.tensor{-1, 0, 0}, "label -1 of sample 1 is not a class id in 0..2"},
      {T.tensor{0, 1.5, 0}, "label 1.5 of sample 2 is not a class id in 0..2"},
    }
    for _, c in ipairs(cases) do
      assert_contains(error_of(function() loss:forward(probs, c[1]) end), "sparse_categorical_crossentropy: " .. c[2])
      assert_contains(error_of(function() loss:backward(probs, c[1]) end), c[2])
    end
    assert_contains(error_of(function() loss:forward(probs, T.tensor{0, 1}) end),
                    "sparse_categorical_crossentropy: labels [2] do not match prediction [3,3]: expected [3]")
  end)

  it("categorical cross-entropy: -mean sum t log p, one-hot and soft", function()
    local onehot = T.tensor{{1, 0, 0}, {0, 0, 1}, {0, 1, 0}}
    local cce = nn.CategoricalCrossentropy()
    assert.is_true(close(cce:forward(probs, onehot), -(math.log(0.7) + math.log(0.8) + math.log(0.5)) / 3))
    local soft = T.tensor{{0.5, 0.5, 0}, {0, 0.2, 0.8}, {1, 0, 0}}
    local want = -((0.5 * math.log(0.7) + 0.5 * math.log(0.2)) + (0.2 * math.log(0.1) + 0.8 * math.log(0.8))
                   + math.log(0.25)) / 3
    assert.is_true(close(cce:forward(probs, soft), want))
    local z = T.tensor{{1, 2, 3}}
    local lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert.is_true(close(nn.CategoricalCrossentropy{from_logits = true}:forward(z, T.tensor{{0.25, 0, 0.75}}),
                         0.25 * (lse - 1) + 0.75 * (lse - 3)))
  end)

  it("binary cross-entropy: -mean (t log p + (1-t) log(1-p)), from logits too", function()
    local p, t = T.tensor{{0.9, 0.2}, {0.4, 0.6}}, T.tensor{{1, 0}, {1, 0.5}}
    local want = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + 0.5 * math.log(0.6) + 0.5 * math.log(0.4)) / 4
    assert.is_true(close(nn.BinaryCrossentropy():forward(p, t), want))
    local z = T.tensor{{-30, 2}, {0, 50}}
    local tz = T.tensor{{1, 0}, {0, 1}}
    local function sp(v) return math.log(1 + math.exp(v)) end  -- -log sigmoid(-v)
    local wantz = (sp(30) + sp(2) + sp(0) + sp(-50)) / 4
    local got = nn.BinaryCrossentropy{from_logits = true}:forward(z, tz)
    assert.is_true(close(got, wantz, 1e-6), got .. " vs " .. wantz)
  end)

  it("mean squared error: mean of squared differences, gradient 2 (p - t) / n", function()
    local p, t = T.tensor{{1, 2}, {3, 4}}, T.tensor{{0, 2}, {5, 3.5}}
    local mse = nn.MSELoss()
    assert.are.equal((1 + 0 + 4 + 0.25) / 4, mse:forward(p, t))
    assert_values(mse:backward(p, t), {{0.5, 0}, {-1, 0.25}})
    assert.are.equal(mse:forward(p, t), nn.losses.get("mean_squared_error"):forward(p, t))
    assert_contains(error_of(function() mse:forward(T.zeros{2, 3}, T.zeros{3, 2}) end),
                    "mse: prediction [2,3] and target [3,2] have different shapes")
    assert.matches("nn_spec.lua:%d+: mse: prediction must be a tensor, got table",
                   error_of(function() mse:forward({1}, T.zeros{1}) end))
  end)

  it("gradients are buffers the loss reuses", function()
    local loss = nn.SparseCategoricalCrossentropy()
    local g1 = loss:backward(probs, labels)
    local g2 = loss:backward(probs, labels)
    assert.is_true(rawequal(g1, g2))
    assert.is_true(close(g1:get(1, 1), -1 / (3 * 0.7)))
    assert.are.equal(0, g1:get(1, 2))
  end)
end)

describe("a failed lazy build", function()
  it("leaves the model unbuilt, so the right input builds it as if the bad one never came", function()
    local function make()
      return nn.Sequential{nn.Dense(8, {activation = "relu"}), nn.Reshape{2, 4}, nn.Dense(2)}
    end
    T.manual_seed(3)
    local fresh = make()
    fresh:forward(T.ones{4, 5})
    T.manual_seed(3)
    local m = make()
    local ok, err = pcall(m.forward, m, T.ones{4, 5, 1})
    assert.is_false(ok)
    assert.matches("Sequential[2] Reshape[2,4]", err, 1, true)
    assert.is_false(m.layers[1].built)
    assert.is_false(m.built or false)
    m:forward(T.ones{4, 5})
    assert.is_true(fresh.layers[1].weight:equal(m.layers[1].weight))
    assert.is_true(fresh.layers[3].weight:equal(m.layers[3].weight))
  end)
end)
