-- The CNN layers as a user meets them: gradients (nn.gradcheck over a grid of
-- convolution settings, pooling, batch norm in both modes, padding), shapes, the errors
-- bad inputs and hyper-parameters give, batch norm's running statistics, and a tiny CNN
-- that learns to tell horizontal from vertical bars through model:fit.
local T = require "luacnn"
local nn = require "nn"
local support = require "spec_support"
local error_of, assert_contains, assert_gradcheck = support.error_of, support.assert_contains, support.assert_gradcheck
local dims, distinct = support.dims, support.distinct

describe("CNN layers", function()
  before_each(function() T.manual_seed(3) end)

  describe("gradcheck", function()
    local kernels = {1, 3, {2, 3}}
    local paddings = {0, 1, "same"}
    for _, k in ipairs(kernels) do
      for _, stride in ipairs{1, 2} do
        for _, padding in ipairs(paddings) do
          for _, dilation in ipairs{1, 2} do
            for _, groups in ipairs{1, 2} do
              if not (padding == "same" and stride ~= 1) then
                local bias = (stride + dilation + groups) % 2 == 0
                local name = string.format("Conv2d kernel %s stride %d padding %s dilation %d groups %d %s bias",
                                           type(k) == "table" and (k[1] .. "x" .. k[2]) or k, stride, padding,
                                           dilation, groups, bias and "with" or "without")
                it(name, function()
                  local layer = nn.Conv2d(4, 6, k, {stride = stride, padding = padding, dilation = dilation,
                                                    groups = groups, bias = bias})
                  local x = T.randn{2, 4, 7, 6}
                  local report = nn.gradcheck(layer, x)
                  assert_gradcheck(report, name)
                  assert.are.equal(bias and 2 or 1, #report.params)
                end)
              end
            end
          end
        end
      end
    end

    it("Conv2d with an activation, and Conv2D (Keras spelling)", function()
      assert_gradcheck(nn.gradcheck(nn.Conv2d(2, 3, 3, {activation = "tanh", padding = 1}), T.randn{2, 2, 5, 5}),
                       "Conv2d tanh")
      assert_gradcheck(nn.gradcheck(nn.Conv2D(3, {2, 2}, {strides = 2, activation = "sigmoid"}), T.randn{3, 2, 6, 6}),
                       "Conv2D")
    end)

    it("MaxPool2d", function()
      assert_gradcheck(nn.gradcheck(nn.MaxPool2d(2), distinct{2, 3, 6, 6}), "MaxPool2d(2)")
      assert_gradcheck(nn.gradcheck(nn.MaxPool2d(3, {stride = 2, padding = 1}), distinct{2, 2, 7, 6}),
                       "MaxPool2d(3, stride 2, pad 1)")
      assert_gradcheck(nn.gradcheck(nn.MaxPool2d({2, 3}, {stride = 1}), distinct{1, 2, 5, 5}), "MaxPool2d 2x3 stride 1")
    end)

    it("AvgPool2d", function()
      assert_gradcheck(nn.gradcheck(nn.AvgPool2d(2), T.randn{2, 3, 6, 6}), "AvgPool2d(2)")
      assert_gradcheck(nn.gradcheck(nn.AvgPool2d(3, {stride = 2, padding = 1}), T.randn{2, 2, 7, 6}),
                       "AvgPool2d(3, stride 2, pad 1)")
    end)

    it("GlobalAvgPool2d", function()
      assert_gradcheck(nn.gradcheck(nn.GlobalAvgPool2d(), T.randn{3, 4, 5, 6}), "GlobalAvgPool2d")
    end)

    it("ZeroPad2d", function()
      assert_gradcheck(nn.gradcheck(nn.ZeroPad2d(1), T.randn{2, 2, 3, 4}), "ZeroPad2d(1)")
      assert_gradcheck(nn.gradcheck(nn.ZeroPad2d{0, 2, 1, 3}, T.randn{2, 2, 3, 4}), "ZeroPad2d(0,2,1,3)")
    end)

    for _, mode in ipairs{"train", "eval"} do
      it("BatchNorm2d in " .. mode .. " mode", function()
        local bn = nn.BatchNorm2d(3)
        bn.weight:copy(T.randn{3})
        bn.bias:copy(T.randn{3})
        bn.running_mean:copy(T.randn{3})
        bn.running_var:copy(T.rand{3} + 0.5)
        bn:train(mode == "train")
        assert_gradcheck(nn.gradcheck(bn, T.randn{4, 3, 3, 2} * 2 + 1), "BatchNorm2d " .. mode)
      end)

      it("BatchNorm1d in " .. mode .. " mode", function()
        local bn = nn.BatchNorm1d(5)
        bn.weight:copy(T.randn{5})
        bn.running_var:copy(T.rand{5} + 0.5)
        bn:train(mode == "train")
        assert_gradcheck(nn.gradcheck(bn, T.randn{6, 5}), "BatchNorm1d " .. mode)
      end)
    end

    it("a checker that can fail: a wrong weight gradient is caught", function()
      local layer = nn.Conv2d(2, 2, 3)
      local backward = layer.backward
      layer.backward = function(self, x, dy)
        local dx = backward(self, x, dy)
        self.grad_weight:mul_(1.05)
        return dx
      end
      local report = nn.gradcheck(layer, T.randn{2, 2, 5, 5})
      assert.is_false(report.ok)
    end)
  end)

  describe("shapes", function()
    it("follow floor((in + 2p - d(k-1) - 1)/s) + 1", function()
      local cases = {
        {{1, 6, 5}, {}, {1, 28, 28}, {6, 24, 24}},
        {{3, 8, 3}, {stride = 2, padding = 1}, {3, 15, 16}, {8, 8, 8}},
        {{2, 4, {3, 5}}, {padding = {1, 2}, dilation = {2, 1}}, {2, 9, 9}, {4, 7, 9}},
        {{4, 4, 3}, {padding = "same", dilation = 2}, {4, 6, 7}, {4, 6, 7}},
        {{4, 4, 4}, {padding = "same"}, {4, 6, 7}, {4, 6, 7}},
        {{4, 4, 3}, {padding = "valid"}, {4, 6, 7}, {4, 4, 5}},
        {{4, 8, 1}, {groups = 4}, {4, 3, 3}, {8, 3, 3}},
      }
      for _, c in ipairs(cases) do
        local layer = nn.Conv2d(c[1][1], c[1][2], c[1][3], c[2])
        assert.are.same(c[4], layer:output_shape(c[3]))
        local x = T.randn{2, table.unpack(c[3])}
        assert.are.same({2, table.unpack(c[4])}, dims(layer:forward(x)))
        assert.are.same(dims(x), dims(layer:backward(x, T.randn(layer.output:size()))))
      end
    end)

    it("of pooling, padding and batch norm", function()
      local x = T.randn{2, 3, 9, 8}
      local function check(layer, want)
        assert.are.same(want, layer:output_shape{3, 9, 8})
        local y = layer:forward(x)
        assert.are.same({2, table.unpack(want)}, dims(y))
        assert.are.same(dims(x), dims(layer:backward(x, T.randn(y:size()))))
      end
      check(nn.MaxPool2d(2), {3, 4, 4})
      check(nn.MaxPool2d(3, {stride = 2, padding = 1}), {3, 5, 4})
      check(nn.AvgPool2d({3, 2}, {stride = {3, 1}}), {3, 3, 7})
      check(nn.GlobalAvgPool2d(), {3})
      check(nn.ZeroPad2d{1, 2, 3, 4}, {3, 12, 15})
      check(nn.BatchNorm2d(3), {3, 9, 8})
    end)

    it("appear in the summary, and a LeNet builds from input_shape", function()
      local model = nn.Sequential{
        nn.Conv2d(1, 6, 5, {padding = 2, activation = "relu", input_shape = {1, 28, 28}}),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, {activation = "relu"}),
        nn.BatchNorm2d(16),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dense(10, {activation = "softmax"}),
      }
      local text = model:summary{print = false}
      assert_contains(text, "Conv2d(1->6, 5x5, pad 2x2, relu)")
      assert_contains(text, "[N,6,28,28]")
      assert_contains(text, "[N,6,14,14]")
      assert_contains(text, "[N,16,10,10]")
      assert_contains(text, "[N,16,5,5]")
      assert_contains(text, "[N,400]")
      assert.are.equal(156 + 2416 + 32 + 4010, model:num_parameters())
      assert.are.same({3, 10}, dims(model:forward(T.randn{3, 1, 28, 28})))
    end)

    it("Conv2D takes its input channels from the first input; pooling and padding take any size", function()
      local layer = nn.Conv2D(5, 3, {padding = "same"})
      assert.are.equal("Conv2d(5, 3x3, same)", layer:describe())
      layer:forward(T.randn{2, 7, 6, 6})
      assert.are.equal("Conv2d(7->5, 3x3, same)", layer:describe())
      assert.are.same({5, 7, 3, 3}, dims(layer.weight))
      assert.are.same({2, 5, 9, 4}, dims(layer:forward(T.randn{2, 7, 9, 4})))
      local pool = nn.MaxPool2d(2)
      assert.are.same({1, 7, 3, 3}, dims(pool:forward(T.randn{1, 7, 6, 6})))
      assert.are.same({1, 7, 5, 2}, dims(pool:forward(T.randn{1, 7, 10, 5})))
    end)
  end)

  describe("values", function()
    it("Conv2d on an input worked by hand", function()
      local layer = nn.Conv2d(1, 1, 2, {bias = false, kernel_initializer = T.ones{1, 1, 2, 2}})
      local x = T.arange(1, 10):view(1, 1, 3, 3)
      assert.are.same({{{{12, 16}, {24, 28}}}}, layer:forward(x):totable())
      local padded = nn.Conv2d(1, 1, 3, {padding = 1, bias = false, kernel_initializer = T.ones{1, 1, 3, 3}})
      assert.are.same({{{{12, 21, 16}, {27, 45, 33}, {24, 39, 28}}}}, padded:forward(x):totable())
    end)

    it("keeps im2col's columns for backward only while they are small, with the same results either way", function()
      local conv = require "nn.conv"
      local function run(keep)
        local saved = conv.KEEP_COLUMNS
        conv.KEEP_COLUMNS = keep
        T.manual_seed(5)
        -- stride 2 onto 10x10: the im2col algorithm (the direct one and the tiny-map one,
        -- for outputs up to 8x8, keep no columns)
        local layer = nn.Conv2d(3, 8, 3, {stride = 2, padding = 1, activation = "relu"})
        local x = T.randn{4, 3, 20, 20}
        local y = layer:forward(x):clone()
        local kept = layer._buffers.cols ~= nil
        local dx = layer:backward(x, T.ones_like(y)):clone()
        conv.KEEP_COLUMNS = saved
        return kept, y, dx, layer.grad_weight:clone()
      end
      local kept1, y1, dx1, dw1 = run(1e9)
      local kept2, y2, dx2, dw2 = run(10)
      assert.is_true(kept1)
      assert.is_false(kept2)
      assert.is_true(y1:equal(y2) and dx1:equal(dx2) and dw1:equal(dw2))
    end)

    it("max pooling ignores padding even when every input is negative; average pooling counts it", function()
      local x = -T.arange(1, 5):view(1, 1, 2, 2)
      assert.are.same({{{{-1, -1, -2}, {-1, -1, -2}, {-3, -3, -4}}}},
                      nn.MaxPool2d(2, {stride = 1, padding = 1}):forward(x):totable())
      local avg = nn.AvgPool2d(2, {stride = 1, padding = 1}):forward(x)
      assert.are.equal(-0.25, avg[1][1][1][1])
      assert.are.equal(-2.5, avg[1][1][2][2])
    end)

    it("batch norm normalizes, updates the running statistics (unbiased variance) and uses them in evaluation", function()
      local bn = nn.BatchNorm1d(2, {momentum = 0.5})
      local x = T.tensor{{1, 10}, {3, 20}, {5, 60}}
      local y = bn:forward(x)
      -- column 1: mean 3, biased var 8/3, unbiased var 4
      assert.is_true(math.abs(y[1][1] - (-2 / math.sqrt(8 / 3 + 1e-5))) < 1e-5)
      assert.is_true(math.abs(bn.running_mean[1] - 1.5) < 1e-6)
      assert.is_true(math.abs(bn.running_var[1] - (0.5 + 0.5 * 4)) < 1e-5)
      assert.is_true(math.abs(bn.running_mean[2] - 15) < 1e-5)
      bn:evaluate()
      local before = bn.running_mean:clone()
      local ye = bn:forward(x)
      assert.is_true(ye:allclose((x - bn.running_mean) / (bn.running_var + 1e-5):sqrt(), 1e-5, 1e-5))
      assert.is_true(bn.running_mean:equal(before), "evaluation must not move the running statistics")
      local state = bn:named_state()
      assert.are.same({"running_mean", "running_var"}, {state[1].name, state[2].name})
      assert.are.equal(2, #bn:named_parameters())
    end)
  end)

  describe("errors", function()
    it("bad hyper-parameters fail at construction", function()
      assert_contains(error_of(function() nn.Conv2d(1, 6, 5, {stride = 0}) end), "Conv2d: stride must be an integer >= 1, got 0")
      assert_contains(error_of(function() nn.Conv2d(1, 6, 5, {padding = -1}) end), "padding must be a non-negative integer, got -1")
      assert_contains(error_of(function() nn.Conv2d(1, 6, 5, {dilation = 0}) end), "dilation must be an integer >= 1")
      assert_contains(error_of(function() nn.Conv2d(1, 6, 0) end), "kernel_size must be an integer >= 1, got 0")
      assert_contains(error_of(function() nn.Conv2d(1, 6, {3, 3, 3}) end), "kernel_size must be a number or {h, w}")
      assert_contains(error_of(function() nn.Conv2d(4, 6, 3, {groups = 4}) end), "groups (4) must divide out_channels (6)")
      assert_contains(error_of(function() nn.Conv2d(3, 6, 3, {groups = 2}) end), "groups (2) must divide in_channels (3)")
      assert_contains(error_of(function() nn.Conv2d(3, 6, 3, {padding = "same", stride = 2}) end),
                      "padding='same' needs stride 1")
      assert_contains(error_of(function() nn.Conv2d(3, 6, 3, {padding = "full"}) end), "'same' or 'valid', got 'full'")
      assert_contains(error_of(function() nn.Conv2d(0, 6, 3) end), "in_channels must be a positive integer")
      assert_contains(error_of(function() nn.Conv2d(1, 6, 3, {activation = "relu6"}) end), "unknown activation")
      assert_contains(error_of(function() nn.Conv2D(0, 3) end), "filters must be a positive integer")
      assert_contains(error_of(function() nn.MaxPool2d(2, {stride = 0}) end), "MaxPool2d: stride must be an integer >= 1")
      assert_contains(error_of(function() nn.MaxPool2d(2, {padding = 2}) end), "padding 2x2 must be at most half the kernel 2x2")
      assert_contains(error_of(function() nn.AvgPool2d(-1) end), "AvgPool2d: kernel_size must be an integer >= 1")
      assert_contains(error_of(function() nn.BatchNorm2d(0) end), "num_features must be a positive integer")
      assert_contains(error_of(function() nn.BatchNorm2d(3, {momentum = 2}) end), "momentum must be a number in [0, 1]")
      assert_contains(error_of(function() nn.BatchNorm2d(3, {eps = 0}) end), "eps must be a positive number")
      assert_contains(error_of(function() nn.ZeroPad2d(-1) end), "ZeroPad2d: padding must be non-negative integers")
      assert_contains(error_of(function() nn.ZeroPad2d{1, 2} end), "{top, bottom, left, right}")
    end)

    it("a kernel larger than the padded input names both sizes, at build or at the first forward", function()
      local msg = error_of(function() nn.Sequential{nn.Conv2d(1, 6, 5, {input_shape = {1, 3, 4}})} end)
      assert_contains(msg, "Conv2d(1->6, 5x5): kernel 5x5 is larger than the padded input 3x4")
      local model = nn.Sequential{nn.Conv2d(1, 2, 3, {padding = 1}), nn.Conv2d(2, 2, {5, 3}, {dilation = 2})}
      msg = error_of(function() model:forward(T.randn{2, 1, 6, 6}) end)
      assert_contains(msg, "Sequential[2] Conv2d(2->2, 5x3, dilation 2x2): kernel 5x3 (dilated 9x5) is larger than the padded input 6x6")
      assert.are.same({2, 2, 1, 2}, dims(model:forward(T.randn{2, 1, 9, 6})))
      msg = error_of(function() nn.MaxPool2d(4):forward(T.randn{1, 1, 3, 8}) end)
      assert_contains(msg, "MaxPool2d(4x4): kernel 4x4 is larger than the padded input 3x8")
    end)

    it("channels that do not match name the layer, expected and got", function()
      local model = nn.Sequential{nn.Conv2d(1, 6, 5), nn.ReLU()}
      local msg = error_of(function() model:forward(T.randn{2, 3, 28, 28}) end)
      assert_contains(msg, "Sequential[1] Conv2d(1->6, 5x5): input has 3 channels, expected 1")
      local bn = nn.Sequential{nn.Conv2d(1, 4, 3), nn.BatchNorm2d(3)}
      msg = error_of(function() bn:forward(T.randn{2, 1, 8, 8}) end)
      assert_contains(msg, "Sequential[2] BatchNorm2d(3): input has 4 channels, expected 3")
      local keras = nn.Conv2D(4, 3)
      keras:forward(T.randn{1, 2, 5, 5})
      assert_contains(error_of(function() keras:forward(T.randn{1, 5, 5, 5}) end), "input has 5 channels, expected 2")
    end)

    it("inputs of the wrong rank are errors with a hint, never a crash", function()
      assert_contains(error_of(function() nn.Conv2d(1, 2, 3):forward(T.randn{1, 8, 8}) end),
                      "input has shape [1,8,8], expected [N,C,H,W] (missing batch dimension?")
      assert_contains(error_of(function() nn.MaxPool2d(2):forward(T.randn{4, 4}) end), "expected [N,C,H,W]")
      assert_contains(error_of(function() nn.BatchNorm1d(3):forward(T.randn{2, 3, 4, 4}) end), "expected [N,C]")
      assert_contains(error_of(function() nn.Conv2d(1, 2, 3):forward("x") end), "expected a tensor, got string")
      assert_contains(error_of(function() nn.BatchNorm2d(2):forward(T.randn{1, 2, 1, 1}) end),
                      "training needs more than one value per channel")
    end)

    it("kernels called directly check their arguments", function()
      local K = T.kernels
      local x, w = T.randn{1, 2, 5, 5}, T.randn{3, 2, 3, 3}
      assert_contains(error_of(function() K.conv2d_forward(T.empty{1, 3, 3, 3}, x, w, nil, {0, 1, 0, 0, 1, 1, 1}) end),
                      "stride must be at least 1")
      assert_contains(error_of(function() K.conv2d_forward(T.empty{1, 3, 3, 3}, x, w, nil, {1, 1, -1, 0, 1, 1, 1}) end),
                      "padding must not be negative")
      assert_contains(error_of(function() K.conv2d_forward(T.empty{1, 3, 4, 3}, x, w, nil, {1, 1, 0, 0, 1, 1, 1}) end),
                      "output has shape [1,3,4,3], expected [1,3,3,3]")
      assert_contains(error_of(function() K.conv2d_forward(T.empty{1, 3, 3, 3}, x, w, nil, {1, 1, 0, 0, 1}) end),
                      "parameter 6 must be an integer")
      assert_contains(error_of(function() K.maxpool2d_forward(T.empty{1, 2, 3, 3}, x, {2, 2, 2, 2, 0, 0}) end),
                      "maxpool2d: output has shape [1,2,3,3], expected [1,2,2,2]")
      assert.are.equal(24, K.conv2d_out_size(28, 5, 1, 0, 1))
    end)
  end)

  describe("training", function()
    -- 8x8 images holding one bright bar, horizontal (class 0) or vertical (class 1), with noise
    local function bars(n)
      local x, y = T.zeros{n, 1, 8, 8}, T.zeros{n}
      for i = 1, n do
        local vertical = i % 2
        local pos = math.floor(T.rand{1}[1] * 8) + 1
        if vertical == 1 then
          x[{i, 1, {}, pos}] = 1
        else
          x[{i, 1, pos, {}}] = 1
        end
        y[i] = vertical
      end
      return x + T.randn{n, 1, 8, 8} * 0.1, y
    end

    it("a tiny CNN (conv-relu-pool-flatten-dense) tells horizontal from vertical bars", function()
      local x, y = bars(256)
      local xt, yt = bars(128)
      local model = nn.Sequential{
        nn.Conv2d(1, 8, 3, {padding = 1, activation = "relu", input_shape = {1, 8, 8}}),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(2, {activation = "softmax"}),
      }
      model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
      local t0 = os.clock()
      model:fit(x, y, {epochs = 30, batch_size = 16, verbose = 0})
      local _, acc = model:evaluate(xt, yt)
      assert.is_true(acc >= 0.99, "test accuracy " .. acc)
      assert.is_true(os.clock() - t0 < 20, "training took " .. (os.clock() - t0) .. " s of CPU")
    end)

    it("algo='winograd' trains as algo='gemm' does (same weights, losses within float rounding)", function()
      local function train(algo)
        T.manual_seed(7)
        local model = nn.Sequential{
          nn.Conv2d(3, 32, 3, {padding = 1, activation = "relu", algo = algo, input_shape = {3, 12, 12}}),
          nn.Conv2d(32, 32, 3, {padding = 1, activation = "relu", algo = algo}),
          nn.MaxPool2d(2),
          nn.Conv2d(32, 32, 3, {padding = 2, algo = algo}),
          nn.GlobalAvgPool2d(),
          nn.Dense(4, {activation = "softmax"}),
        }
        local x, y = T.randn{64, 3, 12, 12}, T.randint(0, 4, {64})
        model:compile{optimizer = require("optim").SGD{lr = 0.05}, loss = "sparse_categorical_crossentropy"}
        local h = model:fit(x, y, {epochs = 4, batch_size = 16, verbose = 0, shuffle = false})
        return h.loss, model
      end
      local gemm_loss, gemm = train("gemm")
      local wino_loss, wino = train("winograd")
      assert.are.equal("Conv2d(32->32, 3x3, pad 1x1, relu, winograd)", wino.layers[2]:describe())
      for e = 1, 4 do
        assert.is_true(math.abs(gemm_loss[e] - wino_loss[e]) < 1e-4 * math.max(1, math.abs(gemm_loss[e])),
                       string.format("epoch %d: loss %.7f (gemm) vs %.7f (winograd)", e, gemm_loss[e], wino_loss[e]))
      end
      assert.is_true(gemm_loss[4] < gemm_loss[1], "the loss falls")
      for i, layer in ipairs{1, 2, 4} do
        local a, b = gemm.layers[layer].weight, wino.layers[layer].weight
        local diff = (a - b):abs():max()
        assert.is_true(diff < 1e-4, string.format("conv %d: weights differ by %g after training", i, diff))
      end
      -- a forced Winograd layer it cannot run fails when the layer is built
      assert_contains(error_of(function() nn.Conv2d(3, 8, 5, {algo = "winograd"}) end),
                      "algo 'winograd' needs a 3x3 kernel", "kernel 5x5")
      assert_contains(error_of(function() nn.Conv2d(3, 8, 3, {stride = 2, algo = "winograd"}) end), "stride 2x2")
      assert_contains(error_of(function() nn.Conv2d(3, 8, 3, {algo = "fft"}) end),
                      "algo must be 'auto', 'gemm', 'direct' or 'winograd', got fft")
    end)

    it("batch norm and global pooling train too, and evaluation uses the running statistics", function()
      local x, y = bars(256)
      local model = nn.Sequential{
        nn.Conv2d(1, 8, 3, {padding = "same"}),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2D(8, 3, {padding = "same", activation = "relu"}),
        nn.GlobalAvgPool2d(),
        nn.Dense(2, {activation = "softmax"}),
      }
      model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
      model:fit(x, y, {epochs = 15, batch_size = 16, verbose = 0})
      local xt, yt = bars(128)
      local _, acc = model:evaluate(xt, yt)
      assert.is_true(acc >= 0.95, "test accuracy " .. acc)
      assert.is_true(model.layers[2].running_var:min() < 0.999 or model.layers[2].running_var:max() > 1.001)
    end)
  end)
end)
