-- luacnn's CNN layers against PyTorch: outputs and gradients (input and parameters, for a
-- fixed upstream gradient) of the configurations tests/fixtures/make_fixtures.py wrote
-- with PyTorch 1.13. The configurations here must match the ones in that script.
local T = require "luacnn"
local nn = require "nn"
local load = require("spec_support").fixture

local TOL = 1e-4

-- |got - want| <= TOL * max(1, max |want|), element by element, and the same shape
local function assert_matches(got, want, what)
  assert.are.equal(tostring(want:size()), tostring(got:size()), what .. ": shape")
  local scale = math.max(1, want:abs():max())
  local diff = (got:contiguous():view(-1) - want:view(-1)):abs():max()
  assert.is_true(diff <= TOL * scale, string.format("%s: differs from PyTorch by %.3g (scale %.3g)", what, diff, scale))
end

-- forward x, backward dy; compares y, dx and the named parameter gradients
local function check_layer(layer, case, grads)
  local x, dy = load(case, "x"), load(case, "dy")
  assert_matches(layer:forward(x), load(case, "y"), case .. " y")
  layer:zero_grad()
  assert_matches(layer:backward(x, dy), load(case, "dx"), case .. " dx")
  for field, file in pairs(grads or {}) do assert_matches(layer["grad_" .. field], load(case, file), case .. " " .. file) end
end

describe("CNN layers match PyTorch", function()
  local convs = {
    {"conv_groups", 4, 6, 3, {stride = {2, 1}, padding = {1, 2}, dilation = {1, 2}, groups = 2}, true},
    {"conv_plain", 3, 4, 5, {padding = 2}, false},
    {"conv_same", 2, 3, {4, 2}, {padding = "same"}, true},
    {"conv_pointwise", 6, 5, 1, {}, true},
  }
  for _, c in ipairs(convs) do
    it(c[1], function()
      local opts = {kernel_initializer = load(c[1], "w"), bias = c[6]}
      for k, v in pairs(c[5]) do opts[k] = v end
      if c[6] then opts.bias_initializer = load(c[1], "b") end
      local layer = nn.Conv2d(c[2], c[3], c[4], opts)
      check_layer(layer, c[1], c[6] and {weight = "dw", bias = "db"} or {weight = "dw"})
    end)
  end

  it("maxpool (3x3, stride 2, padding 1) and 2x2", function()
    check_layer(nn.MaxPool2d(3, {stride = 2, padding = 1}), "maxpool")
    check_layer(nn.MaxPool2d(2), "maxpool_2x2")
  end)

  it("avgpool (3x3, stride 2, padding 1, padding counted)", function()
    check_layer(nn.AvgPool2d(3, {stride = 2, padding = 1}), "avgpool")
  end)

  for _, c in ipairs{{"bn2d_train", nn.BatchNorm2d, true}, {"bn2d_eval", nn.BatchNorm2d, false},
                     {"bn1d_train", nn.BatchNorm1d, true}, {"bn1d_eval", nn.BatchNorm1d, false}} do
    it(c[1], function()
      local w = load(c[1], "w")
      local layer = c[2](w:size(1))
      layer.weight:copy(w)
      layer.bias:copy(load(c[1], "b"))
      layer.running_mean:copy(load(c[1], "running_mean_before"))
      layer.running_var:copy(load(c[1], "running_var_before"))
      layer:train(c[3])
      check_layer(layer, c[1], {weight = "dw", bias = "db"})
      assert_matches(layer.running_mean, load(c[1], "running_mean"), c[1] .. " running_mean")
      assert_matches(layer.running_var, load(c[1], "running_var"), c[1] .. " running_var")
    end)
  end

  it("a comparison that can fail: a perturbed weight is noticed", function()
    local w = load("conv_plain", "w")
    w[1][1][1][1] = w[1][1][1][1] + 0.01
    local layer = nn.Conv2d(3, 4, 5, {padding = 2, bias = false, kernel_initializer = w})
    local ok = pcall(check_layer, layer, "conv_plain", {weight = "dw"})
    assert.is_false(ok)
  end)
end)
