-- nn.gradcheck over every layer and loss: backprop's gradients (parameters and input)
-- against central differences of the same scalar. A layer checked here is right to within
-- float32 rounding; the deliberately wrong layers at the end show the checker can fail.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"

local TOL = 1e-2
local ACTIVATIONS = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "softplus",
                     "gelu"}

-- randn values pushed at least `margin` away from 0, where relu and leaky_relu have kinks
local function away_from_zero(shape, margin)
  local x = T.randn(shape)
  return x + x:sign() * (margin or 0.2)
end

-- uniform values in [lo, hi)
local function uniform(shape, lo, hi)
  return T.empty(shape):uniform_(lo, hi)
end

-- An input for Dense `layer` whose pre-activations all lie at least 0.05 from 0, the kink
-- of relu and leaky_relu (and of elu's derivative): a central difference across a kink is
-- meaningless. Redraws from the seeded generator until one does, so it is deterministic.
local function kink_free_input(layer, shape)
  for _ = 1, 100 do
    local x = away_from_zero(shape)
    layer:forward(x)
    if layer:preactivation():abs():min() > 0.05 then return x end
  end
  error("no kink-free input in 100 draws")
end

local function assert_gradcheck(report, what, expect)
  assert.is_table(report.params, what)
  for _, p in ipairs(report.params) do
    assert.is_true(p.checked > 0, what .. ": no element of " .. p.name .. " was checked")
    assert.is_true(p.max_rel_error < TOL,
                   string.format("%s: %s max relative error %.3g (abs %.3g)", what, p.name, p.max_rel_error, p.max_abs_error))
  end
  if expect and expect.params then
    local names = {}
    for i, p in ipairs(report.params) do names[i] = p.name end
    assert.are.same(expect.params, names, what)
  end
  if not expect or expect.input ~= false then
    assert.is_table(report.input, what .. ": the input gradient was not checked")
    assert.is_true(report.input.checked > 0, what)
    assert.is_true(report.input.max_rel_error < TOL,
                   string.format("%s: input max relative error %.3g", what, report.input.max_rel_error))
  end
  assert.is_true(report.ok, what .. ": report.ok is false")
end

-- A one-hot [N, C] tensor from 0-based labels.
local function one_hot(labels, C)
  local n = labels:size(1)
  local t = T.zeros{n, C}
  for i = 1, n do t:set(i, labels[i] + 1, 1) end
  return t
end

describe("nn.gradcheck", function()
  before_each(function() T.manual_seed(7) end)

  describe("Dense", function()
    for _, act in ipairs(ACTIVATIONS) do
      for _, bias in ipairs{true, false} do
        it(string.format("with activation %s, %s bias", act, bias and "with" or "without"), function()
          local layer = nn.Dense(3, {activation = act, use_bias = bias, input_dim = 5})
          local x = kink_free_input(layer, {4, 5})
          local report = nn.gradcheck(layer, x)
          assert_gradcheck(report, "Dense " .. act, {params = bias and {"weight", "bias"} or {"weight"}})
        end)
      end
    end

    it("on a 3-D input (applied to the last dimension)", function()
      for _, act in ipairs{"linear", "tanh", "softmax"} do
        local layer = nn.Dense(4, {activation = act})
        local x = away_from_zero({2, 3, 5})
        local report = nn.gradcheck(layer, x)
        assert.are.same({2, 3, 4}, layer.output:size())
        assert_gradcheck(report, "Dense 3-D " .. act, {params = {"weight", "bias"}})
      end
    end)

    it("with leaky_relu and elu at a non-default alpha", function()
      for _, act in ipairs{"leaky_relu", "elu"} do
        local layer = nn.Dense(3, {activation = act, alpha = 0.7, input_dim = 4})
        local x = kink_free_input(layer, {5, 4})
        assert_gradcheck(nn.gradcheck(layer, x), act .. " alpha 0.7")
      end
    end)
  end)

  it("Linear, with and without bias", function()
    assert_gradcheck(nn.gradcheck(nn.Linear(6, 3), T.randn{4, 6}), "Linear", {params = {"weight", "bias"}})
    assert_gradcheck(nn.gradcheck(nn.Linear(6, 3, {bias = false}), T.randn{4, 6}), "Linear no bias",
                     {params = {"weight"}})
  end)

  describe("Activation layers", function()
    for _, act in ipairs(ACTIVATIONS) do
      it(act, function()
        assert_gradcheck(nn.gradcheck(nn.Activation(act), away_from_zero({4, 6})), "Activation " .. act,
                         {params = {}})
        -- softmax and log_softmax act on the last dim of any rank
        assert_gradcheck(nn.gradcheck(nn.Activation(act), away_from_zero({2, 3, 4})), "Activation 3-D " .. act)
      end)
    end

    it("the shortcut constructors", function()
      local shortcuts = {"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "ELU", "Softplus", "GELU"}
      for _, name in ipairs(shortcuts) do
        local layer = nn[name]()
        assert_gradcheck(nn.gradcheck(layer, away_from_zero({3, 5})), name)
      end
      assert_gradcheck(nn.gradcheck(nn.LeakyReLU{alpha = 0.1}, away_from_zero({3, 5})), "LeakyReLU alpha 0.1")
    end)
  end)

  it("Flatten", function()
    local layer = nn.Flatten()
    assert_gradcheck(nn.gradcheck(layer, T.randn{3, 2, 4}), "Flatten", {params = {}})
    assert.are.same({3, 8}, layer.output:size())
  end)

  it("Reshape, with and without a -1 size", function()
    local layer = nn.Reshape({4, 3})
    assert_gradcheck(nn.gradcheck(layer, T.randn{2, 12}), "Reshape", {params = {}})
    assert.are.same({2, 4, 3}, layer.output:size())
    local inferred = nn.Reshape({-1, 2})
    assert_gradcheck(nn.gradcheck(inferred, T.randn{2, 3, 4}), "Reshape -1")
    assert.are.same({2, 6, 2}, inferred.output:size())
  end)

  describe("Dropout", function()
    it("in training mode (the mask is redrawn identically for every evaluation)", function()
      local layer = nn.Dropout(0.5)
      local x = away_from_zero({6, 8})
      local report = nn.gradcheck(layer, x)
      assert_gradcheck(report, "Dropout train", {params = {}})
      -- the check is only meaningful if some inputs were dropped and some kept
      local dropped = layer.output:eq(0):sum()
      assert.is_true(dropped > 0 and dropped < x:numel(), "dropped " .. dropped .. " of " .. x:numel())
    end)

    it("and leaves the generator where it found it", function()
      local x = T.randn{4, 4}
      local before = T.get_rng_state()
      nn.gradcheck(nn.Dropout(0.3), x)
      local after = T.rand{8}
      T.set_rng_state(before)
      assert.is_true(T.rand{8}:equal(after))
    end)

    it("in evaluation mode (the identity)", function()
      local layer = nn.Dropout(0.5)
      layer:evaluate()
      local x = T.randn{4, 5}
      assert_gradcheck(nn.gradcheck(layer, x), "Dropout eval", {params = {}})
      assert.is_true(layer.output:equal(x))
    end)
  end)

  it("Sequential of several layers", function()
    local model = nn.Sequential{
      nn.Flatten(),
      nn.Dense(6, {activation = "tanh"}),
      nn.Dropout(0.25),
      nn.Dense(5, {activation = "elu"}),
      nn.Dense(4, {activation = "gelu", use_bias = false}),
      nn.Dense(3, {activation = "softmax"}),
    }
    local x = T.randn{4, 2, 3}
    assert_gradcheck(nn.gradcheck(model, x), "Sequential",
                     {params = {"2.weight", "2.bias", "4.weight", "4.bias", "5.weight", "6.weight", "6.bias"}})
    -- a nested container, with a Reshape in between
    local nested = nn.Sequential{
      nn.Sequential{nn.Dense(6, {activation = "sigmoid"}), nn.Reshape({2, 3})},
      nn.Flatten(),
      nn.Linear(6, 2),
    }
    assert_gradcheck(nn.gradcheck(nested, T.randn{3, 4}), "nested Sequential",
                     {params = {"1.1.weight", "1.1.bias", "3.weight", "3.bias"}})
  end)

  describe("each loss as the criterion", function()
    local N, C = 5, 4

    -- The loss through an identity layer checks the loss's own backward against its forward.
    local function check_loss(loss, pred, target, what)
      assert_gradcheck(nn.gradcheck(nn.Activation("linear"), pred, target, {loss = loss}), what .. " (direct)")
    end

    it("sparse categorical cross-entropy from probabilities", function()
      local labels = T.tensor{0, 3, 1, 2, 3}
      check_loss("sparse_categorical_crossentropy", uniform({N, C}, 0.1, 0.9), labels, "sparse CE")
      local model = nn.Sequential{nn.Dense(6, {activation = "tanh", input_dim = 3}), nn.Dense(C, {activation = "softmax"})}
      assert_gradcheck(nn.gradcheck(model, T.randn{N, 3}, labels, {loss = "sparse_categorical_crossentropy"}),
                       "sparse CE model")
    end)

    it("sparse categorical cross-entropy from logits", function()
      local labels = T.tensor{2, 0, 1, 1, 3}
      local loss = nn.SparseCategoricalCrossentropy{from_logits = true}
      check_loss(loss, T.randn{N, C} * 3, labels, "sparse CE logits")
      local model = nn.Sequential{nn.Dense(6, {activation = "tanh", input_dim = 3}), nn.Dense(C)}
      assert_gradcheck(nn.gradcheck(model, T.randn{N, 3}, labels, {loss = loss}), "sparse CE logits model")
      -- torch's spelling of the same loss
      assert_gradcheck(nn.gradcheck(model, T.randn{N, 3}, labels, {loss = nn.CrossEntropyLoss()}), "CrossEntropyLoss")
    end)

    it("categorical cross-entropy, one-hot and soft targets, from probabilities and logits", function()
      local hard = one_hot(T.tensor{1, 0, 3, 2, 2}, C)
      local soft = T.rand{N, C} + 0.1
      soft:div_(soft:sum(2, true))
      for _, target in ipairs{hard, soft} do
        check_loss("categorical_crossentropy", uniform({N, C}, 0.1, 0.9), target, "CE")
        check_loss(nn.CategoricalCrossentropy{from_logits = true}, T.randn{N, C} * 2, target, "CE logits")
        local model = nn.Sequential{nn.Dense(5, {activation = "relu", input_dim = 3}), nn.Dense(C, {activation = "softmax"})}
        local x = kink_free_input(model.layers[1], {N, 3})
        assert_gradcheck(nn.gradcheck(model, x, target, {loss = "categorical_crossentropy"}), "CE model")
      end
    end)

    it("binary cross-entropy, from probabilities and logits", function()
      local target = T.tensor{{1, 0, 1}, {0, 0, 1}, {1, 1, 0}, {0.3, 0.8, 0.5}}
      check_loss("binary_crossentropy", uniform({4, 3}, 0.1, 0.9), target, "BCE")
      check_loss(nn.BinaryCrossentropy{from_logits = true}, T.randn{4, 3} * 2, target, "BCE logits")
      local model = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 2}), nn.Dense(3, {activation = "sigmoid"})}
      assert_gradcheck(nn.gradcheck(model, T.randn{4, 2}, target, {loss = "binary_crossentropy"}), "BCE model")
    end)

    it("mean squared error", function()
      local target = T.randn{N, 3}
      check_loss("mse", T.randn{N, 3}, target, "MSE")
      check_loss(nn.MSELoss(), T.randn{N, 3}, target, "MSELoss")
      local model = nn.Sequential{nn.Dense(4, {activation = "softplus", input_dim = 2}), nn.Dense(3)}
      assert_gradcheck(nn.gradcheck(model, T.randn{N, 2}, target, {loss = "mean_squared_error"}), "MSE model")
    end)

    it("a target without a loss is refused", function()
      local ok, err = pcall(function() nn.gradcheck(nn.Dense(2, {input_dim = 2}), T.randn{2, 2}, T.randn{2, 2}) end)
      assert.is_false(ok)
      assert.matches("gradcheck_spec.lua:%d+: gradcheck: a target needs a loss", err)
    end)
  end)

  describe("the fused softmax / sigmoid + cross-entropy path of compile", function()
    -- train_step's gradients (with a learning rate of 0, so the step leaves the weights)
    -- against central differences of the loss computed from the model's probabilities.
    local function check_fused(model, loss_name, x, y)
      model:compile{optimizer = optim.SGD{lr = 0}, loss = loss_name}
      local params, grads = model:parameters()
      local before = {}
      for i, p in ipairs(params) do before[i] = p:clone() end
      local step_loss = model:train_step(x, y, params, grads)
      local criterion = nn.losses.get(loss_name)
      local function f() return criterion:forward(model:forward(x), y) end
      assert.is_true(math.abs(step_loss - f()) < 1e-5, loss_name .. ": train_step's loss " .. step_loss .. " vs " .. f())
      local h = 1e-3
      for i, p in ipairs(params) do
        assert.is_true(p:equal(before[i]), "a step with lr 0 changed parameter " .. i)
        local v, g = p:view(-1), grads[i]:contiguous():view(-1)
        for k = 1, v:numel() do
          local orig = v[k]
          v[k] = orig + h
          local fp = f()
          v[k] = orig - h
          local fm = f()
          v[k] = orig
          local num, ana = (fp - fm) / (2 * h), g[k]
          local rel = math.abs(num - ana) / math.max(math.abs(num), math.abs(ana), 1e-2)
          assert.is_true(rel < TOL, string.format("%s: parameter %d element %d: backprop %.6g, numerical %.6g",
                                                  loss_name, i, k, ana, num))
        end
      end
    end

    it("softmax + sparse categorical cross-entropy", function()
      local model = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(4, {activation = "softmax"})}
      check_fused(model, "sparse_categorical_crossentropy", T.randn{6, 3}, T.tensor{0, 1, 2, 3, 3, 1})
    end)

    it("softmax + categorical cross-entropy", function()
      local model = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(4, {activation = "softmax"})}
      check_fused(model, "categorical_crossentropy", T.randn{6, 3}, one_hot(T.tensor{3, 1, 0, 2, 2, 1}, 4))
    end)

    it("sigmoid + binary cross-entropy", function()
      local model = nn.Sequential{nn.Dense(5, {activation = "tanh", input_dim = 3}), nn.Dense(2, {activation = "sigmoid"})}
      check_fused(model, "binary_crossentropy", T.randn{6, 3}, T.tensor{{1, 0}, {0, 0}, {1, 1}, {0, 1}, {1, 0}, {0, 1}})
    end)

    it("a single Dense layer is fused too", function()
      check_fused(nn.Dense(3, {activation = "softmax", input_dim = 4}), "sparse_categorical_crossentropy",
                  T.randn{5, 4}, T.tensor{0, 2, 1, 1, 0})
    end)

    it("keeps learning where the probabilities saturate", function()
      -- Logits of +-60: the true class has probability e^-120, clipped to eps, where the
      -- unfused gradient would be 0. Fused, the bias gradient is (softmax - onehot) / N.
      local model = nn.Dense(2, {activation = "softmax", input_dim = 1, kernel_initializer = T.tensor{{60}, {-60}}})
      model:compile{optimizer = optim.SGD{lr = 0}, loss = "sparse_categorical_crossentropy"}
      local x, y = T.tensor{{1}, {1}}, T.tensor{1, 1}
      local loss = model:train_step(x, y, model:parameters())
      assert.is_true(loss > 100 and loss < 130, "loss from logits " .. loss)
      local gb = model.grad_bias
      assert.is_true(math.abs(gb[1] - 1) < 1e-5 and math.abs(gb[2] + 1) < 1e-5, tostring(gb))
    end)
  end)

  describe("can fail", function()
    -- y = x * w (w per feature); `wrong` picks which gradient comes out doubled.
    local function Scale(wrong)
      local S = nn.class("Scale", nn.Module)
      function S:__init(features)
        nn.Module.__init(self)
        self:register_parameter("weight", T.rand{features} + 0.5)
      end
      function S:forward(x)
        self.output = x * self.weight
        return self.output
      end
      function S:backward(x, dy)
        local gw = (dy * x):sum(1)
        self.grad_weight:add_(wrong == "weight" and gw * 2 or gw)
        local dx = dy * self.weight
        return wrong == "input" and dx * 2 or dx
      end
      return S
    end

    it("a correct hand-written layer passes", function()
      assert_gradcheck(nn.gradcheck(Scale(nil)(4), T.randn{3, 4}), "Scale", {params = {"weight"}})
    end)

    it("a layer whose backward returns twice the input gradient fails", function()
      local report = nn.gradcheck(Scale("input")(4), T.randn{3, 4})
      assert.is_false(report.ok)
      assert.is_true(report.input.max_rel_error > 0.4, "input error " .. report.input.max_rel_error)
      assert.is_true(report.params[1].max_rel_error < TOL)
    end)

    it("a layer that accumulates twice the parameter gradient fails", function()
      local report = nn.gradcheck(Scale("weight")(4), T.randn{3, 4})
      assert.is_false(report.ok)
      assert.is_true(report.params[1].max_rel_error > 0.4, "weight error " .. report.params[1].max_rel_error)
      assert.is_true(report.input.max_rel_error < TOL)
    end)

    it("a Dense layer with a corrupted weight gradient fails", function()
      local layer = nn.Dense(3, {activation = "tanh", input_dim = 4})
      local backward = layer.backward
      function layer:backward(x, dy, pre)
        local dx = backward(self, x, dy, pre)
        self.grad_weight:mul_(1.03)  -- 3% off: the noise floor still leaves this visible
        return dx
      end
      local report = nn.gradcheck(layer, T.randn{4, 4})
      assert.is_false(report.ok)
    end)
  end)
end)
