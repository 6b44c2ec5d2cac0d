-- Pooling additions: ceil_mode and count_include_pad for MaxPool2d/AvgPool2d, and
-- AdaptiveAvgPool2d. Values against PyTorch fixtures (tests/fixtures/make_fixtures.py)
-- and against inputs worked by hand, gradients by nn.gradcheck, shapes and errors.
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local error_of, assert_contains, assert_gradcheck = support.error_of, support.assert_contains, support.assert_gradcheck
local dims, distinct, load = support.dims, support.distinct, support.fixture

-- |got - want| <= 1e-5 * max(1, max |want|) and the same shape
local function assert_matches(got, want, what)
  assert.are.same(dims(want), dims(got), what .. ": shape")
  local scale = math.max(1, want:abs():max())
  local diff = (got:contiguous():view(-1) - want:view(-1)):abs():max()
  assert.is_true(diff <= 1e-5 * scale, string.format("%s: differs from PyTorch by %.3g", what, diff))
end

local function check_fixture(layer, case)
  local x, dy = load(case, "x"), load(case, "dy")
  assert_matches(layer:forward(x), load(case, "y"), case .. " y")
  assert_matches(layer:backward(x, dy), load(case, "dx"), case .. " dx")
end

describe("pooling", function()
  before_each(function() T.manual_seed(5) end)

  describe("match PyTorch", function()
    it("MaxPool2d with ceil_mode, with and without padding", function()
      check_fixture(nn.MaxPool2d(3, {stride = 2, ceil_mode = true}), "maxpool_ceil")
      check_fixture(nn.MaxPool2d({3, 2}, {stride = 2, padding = 1, ceil_mode = true}), "maxpool_ceil_pad")
    end)

    it("AvgPool2d with ceil_mode and count_include_pad true and false", function()
      check_fixture(nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true}), "avgpool_ceil")
      check_fixture(nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true, count_include_pad = false}),
                    "avgpool_ceil_nopad")
      check_fixture(nn.AvgPool2d(2, {ceil_mode = true}), "avgpool_ceil_2x2")
      check_fixture(nn.AvgPool2d(3, {stride = 2, padding = 1, count_include_pad = false}), "avgpool_nopad")
    end)

    it("AdaptiveAvgPool2d: overlapping, growing and 7x7 windows", function()
      check_fixture(nn.AdaptiveAvgPool2d{3, 4}, "adaptive_avg")
      check_fixture(nn.AdaptiveAvgPool2d{5, 4}, "adaptive_avg_up")
      check_fixture(nn.AdaptiveAvgPool2d(7), "adaptive_avg_7")
    end)

    it("a comparison that can fail: floor mode is noticed against a ceil-mode fixture", function()
      assert.is_false(pcall(check_fixture, nn.MaxPool2d(3, {stride = 2}), "maxpool_ceil"))
      assert.is_false(pcall(check_fixture, nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true}),
                            "avgpool_ceil_nopad"))
    end)
  end)

  describe("by hand", function()
    it("ceil mode keeps the partial last window: 2x2/2 over 5x5 gives 3x3", function()
      local x = T.arange(1, 26):view(1, 1, 5, 5)
      local pool = nn.MaxPool2d(2, {ceil_mode = true})
      assert.are.same({{{{7, 9, 10}, {17, 19, 20}, {22, 24, 25}}}}, pool:forward(x):totable())
      assert.are.same({{{{7, 9}, {17, 19}}}}, nn.MaxPool2d(2):forward(x):totable())
      -- the average of the partial windows divides by the elements they hold (no padding)
      local avg = nn.AvgPool2d(2, {ceil_mode = true}):forward(x):totable()[1][1]
      assert.are.same({4, 6, 7.5}, avg[1])
      assert.are.same({21.5, 23.5, 25}, avg[3])
    end)

    it("count_include_pad: padded zeros count, the ceil-mode overhang does not", function()
      -- ones 6x6, 3x3/2 pad 1, ceil: 4x4. The last windows cover input row 6, one padded
      -- row and one row past the padding, which does not count: divisor 2 x 3, not 9
      local ones = T.ones{1, 1, 6, 6}
      local y = nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true}):forward(ones):totable()[1][1]
      local want = {{4 / 9, 6 / 9, 6 / 9, 2 / 6}, {6 / 9, 1, 1, 3 / 6}, {6 / 9, 1, 1, 3 / 6}, {2 / 6, 3 / 6, 3 / 6, 1 / 4}}
      for i = 1, 4 do
        for j = 1, 4 do
          assert.is_true(math.abs(y[i][j] - want[i][j]) < 1e-6, string.format("(%d,%d): %g vs %g", i, j, y[i][j], want[i][j]))
        end
      end
      local excl = nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true, count_include_pad = false})
      assert.is_true(excl:forward(ones):allclose(T.ones{1, 1, 4, 4}, 0, 1e-6))
    end)

    it("AdaptiveAvgPool2d 5 -> 3 averages [1,2], [2,3,4], [4,5]", function()
      local x = T.arange(1, 6):view(1, 1, 1, 5)
      assert.are.same({{{{1.5, 3, 4.5}}}}, nn.AdaptiveAvgPool2d{1, 3}:forward(x):totable())
      -- 1x1 -> 2x2 repeats the element; its gradient collects all four
      local one = nn.AdaptiveAvgPool2d(2)
      assert.are.same({{{{7, 7}, {7, 7}}}}, one:forward(T.full({1, 1, 1, 1}, 7)):totable())
      assert.are.same({{{{10}}}}, one:backward(T.full({1, 1, 1, 1}, 7), T.tensor{1, 2, 3, 4}:view(1, 1, 2, 2)):totable())
    end)
  end)

  describe("gradcheck", function()
    it("ceil mode, max and average, both divisors", function()
      assert_gradcheck(nn.gradcheck(nn.MaxPool2d(3, {stride = 2, ceil_mode = true}), distinct{2, 2, 8, 6}), "max ceil")
      assert_gradcheck(nn.gradcheck(nn.MaxPool2d(2, {stride = 2, padding = 1, ceil_mode = true}), distinct{1, 2, 5, 5}),
                       "max ceil pad")
      for _, include in ipairs{true, false} do
        assert_gradcheck(nn.gradcheck(nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true,
                                                       count_include_pad = include}), T.randn{2, 2, 6, 5}),
                         "avg ceil include " .. tostring(include))
      end
    end)

    it("AdaptiveAvgPool2d shrinking, growing, identity", function()
      assert_gradcheck(nn.gradcheck(nn.AdaptiveAvgPool2d{3, 4}, T.randn{2, 3, 7, 6}), "adaptive 7x6 -> 3x4")
      assert_gradcheck(nn.gradcheck(nn.AdaptiveAvgPool2d(3), T.randn{1, 2, 2, 2}), "adaptive 2x2 -> 3x3")
      assert_gradcheck(nn.gradcheck(nn.AdaptiveAvgPool2d(4), T.randn{1, 2, 4, 4}), "adaptive identity")
    end)
  end)

  describe("shapes", function()
    it("output_shape follows the kernels' sizes", function()
      assert.are.same({3, 3, 3}, nn.MaxPool2d(2, {ceil_mode = true}):output_shape{3, 5, 5})
      assert.are.same({3, 2, 2}, nn.MaxPool2d(2):output_shape{3, 5, 5})
      -- 2/2 pad 1 over 5: ceil gives 4 windows, the last would start in the padding
      assert.are.same({1, 3, 3}, nn.AvgPool2d(2, {padding = 1, ceil_mode = true}):output_shape{1, 5, 5})
      assert.are.same({1, 4, 4}, nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true}):output_shape{1, 6, 6})
      -- a kernel larger than the input: ceil mode forgives stride - 1, as PyTorch does
      assert.are.same({1, 1, 1}, nn.MaxPool2d(3, {stride = 2, ceil_mode = true}):output_shape{1, 2, 2})
      assert.are.same({512, 7, 7}, nn.AdaptiveAvgPool2d(7):output_shape{512, 1, 1})
      assert.are.same({8, 2, 5}, nn.AdaptiveAvgPool2d{2, 5}:output_shape{8, 224, 224})
      local ada = nn.AdaptiveAvgPool2d(7)
      assert.are.same({2, 3, 7, 7}, dims(ada:forward(T.randn{2, 3, 32, 32})))
      assert.are.same({2, 3, 7, 7}, dims(ada:forward(T.randn{2, 3, 5, 9})))
    end)

    it("a model built for 224x224 takes 32x32: activations and dropout take any image size, not any channels", function()
      local m = nn.Sequential{nn.Conv2d(3, 4, 3, {padding = 1, input_shape = {3, 224, 224}}), nn.ReLU(), nn.Dropout(0.5),
                              nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dense(2)}
      assert.are.same({5, 2}, dims(m:forward(T.randn{5, 3, 32, 32})))
      local relu = nn.ReLU()
      relu:forward(T.randn{1, 4, 8, 8})
      assert.are.same({1, 4, 3, 5}, dims(relu:forward(T.randn{1, 4, 3, 5})))
      assert_contains(error_of(function() relu:forward(T.randn{1, 3, 8, 8}) end), "input has shape [1,3,8,8], expected [N,4,8,8]")
      assert_contains(error_of(function() relu:forward(T.randn{1, 4, 8}) end), "input has shape [1,4,8], expected [N,4,8,8]")
      local dense_relu = nn.ReLU()
      dense_relu:forward(T.randn{2, 6})
      assert_contains(error_of(function() dense_relu:forward(T.randn{2, 7}) end), "input has shape [2,7], expected [N,6]")
    end)

    it("describe() says ceil and how padding is counted", function()
      assert.are.equal("MaxPool2d(3x3, stride 2x2, ceil)", nn.MaxPool2d(3, {stride = 2, ceil_mode = true}):describe())
      assert.are.equal("AvgPool2d(3x3, stride 2x2, pad 1x1, pad not counted)",
                       nn.AvgPool2d(3, {stride = 2, padding = 1, count_include_pad = false}):describe())
      assert.are.equal("AdaptiveAvgPool2d(7x7)", nn.AdaptiveAvgPool2d(7):describe())
    end)
  end)

  describe("errors", function()
    it("bad options fail at construction", function()
      assert_contains(error_of(function() nn.MaxPool2d(2, {ceil_mode = 1}) end), "MaxPool2d: ceil_mode must be true or false, got 1")
      assert_contains(error_of(function() nn.MaxPool2d(2, {count_include_pad = false}) end),
                      "MaxPool2d: count_include_pad applies to average pooling only")
      assert_contains(error_of(function() nn.AvgPool2d(2, {count_include_pad = "no"}) end),
                      "AvgPool2d: count_include_pad must be true or false, got no")
      assert_contains(error_of(function() nn.AdaptiveAvgPool2d(0) end), "AdaptiveAvgPool2d: output_size must be an integer >= 1, got 0")
      assert_contains(error_of(function() nn.AdaptiveAvgPool2d{7, 7, 7} end), "output_size must be a number or {h, w}")
    end)

    it("inputs that do not fit name the layer, its position, the sizes and the caller's line", function()
      local model = nn.Sequential{nn.Conv2d(1, 2, 3), nn.MaxPool2d(4, {stride = 2, ceil_mode = true})}
      local msg = error_of(function() model:forward(T.randn{1, 1, 4, 4}) end)
      assert_contains(msg, "Sequential[2] MaxPool2d(4x4, stride 2x2, ceil): kernel 4x4 is larger than the padded input 2x2")
      assert_contains(msg, "ceil mode")
      assert.is_truthy(msg:find("pooling_spec.lua:%d+:"), msg)
      assert_contains(error_of(function() nn.AdaptiveAvgPool2d(2):forward(T.randn{3, 4, 4}) end),
                      "AdaptiveAvgPool2d(2x2): input has shape [3,4,4], expected [N,C,H,W] (missing batch dimension?")
      local ada = nn.AdaptiveAvgPool2d(2)
      ada:forward(T.randn{1, 3, 4, 4})
      assert_contains(error_of(function() ada:forward(T.randn{1, 5, 4, 4}) end), "input has 5 channels, expected 3")
      assert_contains(error_of(function() ada:output_shape{3, 4} end), "input has per-sample shape [3,4], expected [C,H,W]")
      local K = T.kernels
      assert_contains(error_of(function() K.adaptive_avgpool2d_forward(T.empty{1, 2, 0, 3}, T.randn{1, 2, 4, 4}) end),
                      "adaptive_avgpool2d: output size must be at least 1x1, got 0x3")
      assert_contains(error_of(function() K.maxpool2d_forward(T.empty{1, 1, 2, 2}, T.randn{1, 1, 4, 4}, {2, 2, 2, 2, 0}) end),
                      "pool2d: expected 6 or 8 parameters, got 5")
    end)
  end)
end)
