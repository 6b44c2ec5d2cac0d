-- models/resnet.lua and models/googlenet.lua against torchvision: with the same weights and
-- input (filled from one integer pattern on both sides, see tests/fixtures/make_zoo_fixtures.py)
-- they give torchvision's outputs. This checks the wiring (strides, paddings, ceil-mode
-- pools, shortcuts, concatenation order, batch-norm eps) and that the parameters come in
-- torchvision's order.
local T = require "luacnn"

local DIR = (os.getenv("LUACNN_SOURCE_DIR") or ".") .. "/tests/fixtures/"

-- ((i mod 1000) * k mod 1000) / 1000 - 0.5 for i = 0..n-1; every step is exact in float32
-- (products stay below 2^24), so both sides get the same bits.
local function pattern(n, k)
  local i = T.arange(0, n)
  local r = i - (i / 1000):floor() * 1000
  local q = r * k
  return (q - (q / 1000):floor() * 1000) / 1000 - 0.5
end

local function fill(model)
  for _, p in ipairs(model:named_parameters()) do
    local v = pattern(p.value:numel(), 7919)
    if p.value:dim() > 1 then
      local fan_in = p.value:numel() // p.value:size(1)
      v = v * (2 * math.sqrt(3 / fan_in))
    else
      v = v * 0.5 + 1
    end
    p.value:copy(v:view(p.value:size()))
  end
end

local function check(model, name, size)
  fill(model)
  local x = (pattern(2 * 3 * size * size, 3571) * 4):view(2, 3, size, size)
  local y = model:forward(x)
  local expect = T.load_idx(DIR .. "zoo_" .. name .. "_y.idx")
  assert.are.same({2, 1000}, {y:size(1), y:size(2)})
  local scale = expect:abs():max()
  local err = (y - expect):abs():max()
  assert.is_true(err <= 1e-4 * scale, string.format("%s: max difference %.3g of outputs up to %.3g", name, err, scale))
end

describe("the zoo against torchvision", function()
  it("ResNet-18 in training mode", function()
    local model = assert(loadfile("models/resnet.lua"))({depth = 18, input_shape = {3, 64, 64}, activation = "linear",
                                                           kernel_initializer = "zeros"})
    model:train()
    check(model, "resnet18", 64)
  end)

  it("GoogLeNet in evaluation mode", function()
    local model = assert(loadfile("models/googlenet.lua"))({aux = false, input_shape = {3, 32, 32}, activation = "linear",
                                                               kernel_initializer = "zeros"})
    model:evaluate()
    check(model, "googlenet", 32)
  end)
end)
