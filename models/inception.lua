-- Inception modules (Szegedy et al., 2014, "Going deeper with convolutions"): parallel 1x1,
-- 3x3 and 5x5 convolutions and a 3x3 max pool over the same input, joined along channels.
--   local model = loadfile("models/inception.lua")()                 -- Inception (3a), 192x28x28 -> 256x28x28
--   local model = loadfile("models/inception.lua")({naive = true})   -- the naive module, 192 -> 416 channels
--   local _, inception = loadfile("models/inception.lua")({model = false})  -- only the block functions
--   local y = inception.reduced(x, {64, 96, 128, 16, 32, 32}, {bn = true})  -- on a graph node x
-- The naive module convolves the full input at every size, and its pool branch passes all
-- input channels through, so the output only grows. The module with 1x1 reductions shrinks the
-- channels before the 3x3 and 5x5 convolutions and after the pool: Inception (3a) has 163,696
-- parameters against 387,296 for the naive one, and gives 256 channels instead of 416.
-- Options: naive (false); channels ({1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj} =
-- {64, 96, 128, 16, 32, 32}; naive: {1x1, 3x3, 5x5} = {64, 128, 32}); input_shape ({192, 28, 28});
-- bn (each convolution bias-free with BatchNorm, eps 0.001, before its ReLU, as torchvision's
-- BasicConv2d; default: convolutions with bias and ReLU, as the paper); k5 (the kernel of the
-- third branch, 5; torchvision's GoogLeNet has 3 there); name; model = false to get only the functions.
local nn = require "nn"
local opts = ... or {}

local M = {}

-- A convolution and its ReLU, with batch norm between them when o.bn.
function M.conv(x, cout, k, o)
  o = o or {}
  local cin = x.shape[1]
  if o.bn then
    local h = nn.Conv2d(cin, cout, k, {stride = o.stride, padding = o.padding or k // 2, bias = false,
                                       kernel_initializer = o.kernel_initializer})(x)
    return nn.ReLU()(nn.BatchNorm2d(cout, {eps = 0.001})(h))
  end
  return nn.Conv2d(cin, cout, k, {stride = o.stride, padding = o.padding or k // 2, activation = "relu",
                                  kernel_initializer = o.kernel_initializer})(x)
end

-- The branches of x as one layer: a nested model named `o.name`, so the summary shows blocks.
local function block(x, o, body)
  local input = nn.Input(x.shape)
  return nn.Model{inputs = input, outputs = body(input), name = o.name}(x)
end

-- ch = {1x1, 3x3, 5x5}: four branches on the full input; out = ch[1] + ch[2] + ch[3] + C_in.
function M.naive_branches(x, ch, o)
  o = o or {}
  return nn.Concat{dim = 1}({M.conv(x, ch[1], 1, o), M.conv(x, ch[2], 3, o), M.conv(x, ch[3], o.k5 or 5, o),
                             nn.MaxPool2d(3, {stride = 1, padding = 1})(x)})
end

-- ch = {1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj}: out = ch[1] + ch[3] + ch[5] + ch[6].
function M.reduced_branches(x, ch, o)
  o = o or {}
  local b1 = M.conv(x, ch[1], 1, o)
  local b2 = M.conv(M.conv(x, ch[2], 1, o), ch[3], 3, o)
  local b3 = M.conv(M.conv(x, ch[4], 1, o), ch[5], o.k5 or 5, o)
  local b4 = M.conv(nn.MaxPool2d(3, {stride = 1, padding = 1, ceil_mode = o.bn})(x), ch[6], 1, o)
  return nn.Concat{dim = 1}({b1, b2, b3, b4})
end

-- The same as one layer on node x: a nested model named o.name, so summaries show blocks.
function M.naive(x, ch, o)
  return block(x, o or {}, function(inp) return M.naive_branches(inp, ch, o) end)
end

function M.reduced(x, ch, o)
  return block(x, o or {}, function(inp) return M.reduced_branches(inp, ch, o) end)
end

if opts.model == false then return nil, M end
local x = nn.Input(opts.input_shape or {192, 28, 28})
local branches = opts.naive and M.naive_branches or M.reduced_branches
local ch = opts.channels or (opts.naive and {64, 128, 32} or {64, 96, 128, 16, 32, 32})
local y = branches(x, ch, {bn = opts.bn, k5 = opts.k5})
return nn.Model{inputs = x, outputs = y, name = opts.name or (opts.naive and "inception_naive" or "inception_3a")}, M
