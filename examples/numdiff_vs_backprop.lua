-- Why backpropagation: the gradient of the loss with respect to all 101,770 weights of
-- the 784-128-10 network, computed two ways on one batch of 32 real digits.
--
--   numerical differentiation: nudge one weight by +h and -h, run the network twice,
--       dL/dw ~ (L(w+h) - L(w-h)) / 2h   -- two forward passes PER WEIGHT
--   backpropagation: one forward and one backward pass give every weight's gradient
--
--   luacnn run examples/numdiff_vs_backprop.lua [--sample 300]
local T = require "luacnn"
local nn = require "nn"
local datasets = require "datasets"

local opts = {}
for i = 1, #arg do
  if arg[i] == "--sample" then opts.sample = tonumber(arg[i + 1]) end
end
local sample = opts.sample or 300

T.manual_seed(0)
local x_train, y_train = datasets.mnist.load_data()
local x = x_train:narrow(1, 1, 32) / 255
local y = y_train:narrow(1, 1, 32)

local model = nn.Sequential{
  nn.Flatten{input_shape = {28, 28}},
  nn.Dense(128, {activation = "relu"}),
  nn.Dense(10, {activation = "softmax"}),
}
local loss_fn = nn.SparseCategoricalCrossentropy()
local P, G = model:flatten_parameters()
local n = P:numel()

local function loss_at()
  return loss_fn:forward(model:forward(x), y)
end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- Backpropagation: all n gradients at once.
local times = {}
for r = 1, 21 do
  local t0 = T.clock()
  model:zero_grad()
  local out = model:forward(x)
  loss_fn:forward(out, y)
  model:backward(x, loss_fn:backward(out, y))
  times[r] = T.clock() - t0
end
local t_backprop = median(times)
local backprop = G:clone()

-- Numerical differentiation on `sample` weights spread evenly over the network, timed,
-- then extrapolated to all n weights (running all of them would take minutes).
local h = 1e-3
local flat = P  -- a 1-D view: flat[i] reads and writes weight i
local step = n // sample
local worst, errs, bad, t0 = 0, {}, {}, T.clock()
local checked = 0
for i = 1, n, step do
  local w = flat[i]
  flat[i] = w + h
  local lp = loss_at()
  flat[i] = w - h
  local lm = loss_at()
  flat[i] = w
  local numeric = (lp - lm) / (2 * h)
  local exact = backprop[i]
  local err = math.abs(numeric - exact) / math.max(math.abs(numeric), math.abs(exact), 1e-2)
  if err > worst then worst = err end
  errs[#errs + 1] = err
  if err > 1e-2 then bad[#bad + 1] = i end
  checked = checked + 1
end
local per_weight = (T.clock() - t0) / checked
local t_numeric = per_weight * n

print(string.format("network 784-128-10: %d weights, batch of %d real digits", n, x:size(1)))
print(string.format("backpropagation:          %8.3f ms for all %d gradients (median of 21 runs)", t_backprop * 1e3, n))
print(string.format("numerical differentiation: %7.3f ms per weight, measured on %d weights", per_weight * 1e3, checked))
print(string.format("                           %7.1f s for all %d weights (extrapolated from the %d measured)",
                    t_numeric, n, checked))
print(string.format("backpropagation is %.0f times faster", t_numeric / t_backprop))
table.sort(errs)
print(string.format("agreement on the %d sampled weights: median relative error %.1e, 99th percentile %.1e, max %.1e",
                    checked, errs[(#errs + 1) // 2], errs[math.ceil(#errs * 0.99)], worst))

-- Where the two disagree by more than 1%: a first-layer weight w[j][i] moves unit j's
-- pre-activation z[s][j] by h * x[s][i]; if that crosses 0 for some sample, the ReLU's kink
-- lies inside [w-h, w+h] and the difference quotient straddles two slopes.
model:forward(x)
local z = model.layers[2]:preactivation()
local xf = x:reshape(x:size(1), -1)
local at_kink = 0
for _, i in ipairs(bad) do
  if i <= 128 * 784 then
    local j, col = (i - 1) // 784 + 1, (i - 1) % 784 + 1
    local crosses = (z:select(2, j):abs() - xf:select(2, col):abs() * h):lt(0):sum() > 0
    if crosses then at_kink = at_kink + 1 end
  end
end
print(string.format("%d sampled weights disagree by more than 1%%; %d of them sit at a ReLU kink (float32, h = %g)",
                    #bad, at_kink, h))
