-- Every example of the course path runs end to end, on a tiny data set in MNIST's own
-- format written here (so the suite needs no download): the scripts the README shows
-- must not rot.
local support = require "spec_support"
local T = require "luacnn"

local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")
local SOURCE = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")

local data, out

-- Images with a bright bar whose position is the class, so a short run learns something.
local function write_split(dir, prefix, n)
  local x, y = T.zeros{n, 28, 28}, T.zeros{n}
  for i = 1, n do
    local c = (i - 1) % 10
    y[i] = c
    x[i][{{3 + 2 * c, 4 + 2 * c}, {4, 24}}] = 255
  end
  T.save_idx(dir .. "/" .. prefix .. "-images-idx3-ubyte", x, "ubyte")
  T.save_idx(dir .. "/" .. prefix .. "-labels-idx1-ubyte", y, "ubyte")
end

setup(function()
  data = os.tmpname()
  os.remove(data)
  out = data .. "-out"
  assert(os.execute("mkdir -p " .. support.quote(data .. "/mnist") .. " " .. support.quote(out)))
  write_split(data .. "/mnist", "train", 200)
  write_split(data .. "/mnist", "t10k", 50)
end)

teardown(function()
  os.execute("rm -rf " .. support.quote(data) .. " " .. support.quote(out))
end)

-- Runs an example; returns its output (stdout and stderr) and whether it succeeded.
local function run(args)
  local cmd = string.format("cd %s && LUACNN_DATA=%s %s %s 2>&1", support.quote(SOURCE), support.quote(data), BIN, args)
  local p = io.popen(cmd)
  local text = p:read("a")
  local ok = p:close()
  return text, ok
end

describe("examples", function()
  it("pixels.lua prints the digit as numbers, quantized and sampled", function()
    local text, ok = run("run examples/pixels.lua 3")
    assert.is_true(ok, text)
    assert.matches("training image 3 of 200: label 2, 28x28 pixels", text, 1, true)
    assert.matches("every 4th pixel: 7x7", text, 1, true)
  end)

  it("mnist.lua trains and reports a test accuracy", function()
    local text, ok = run("train examples/mnist.lua --epochs 2 --plot " .. out .. "/curves.svg")
    assert.is_true(ok, text)
    assert.matches("Total params: 101,770", text, 1, true)
    assert.matches("test loss [%d.]+, test accuracy [%d.]+%%", text)
    assert.is_true(support.has(support.slurp(out .. "/curves.svg"), "<svg"))
  end)

  it("mnist_loop.lua trains with the explicit loop", function()
    local text, ok = run("train examples/mnist_loop.lua --epochs 1")
    assert.is_true(ok, text)
    assert.matches("test accuracy [%d.]+%%", text)
  end)

  it("numdiff_vs_backprop.lua compares the two ways", function()
    local text, ok = run("run examples/numdiff_vs_backprop.lua --sample 20")
    assert.is_true(ok, text)
    assert.matches("backpropagation is %d+ times faster", text)
  end)

  it("lenet5.lua trains LeNet-5", function()
    local text, ok = run("train examples/lenet5.lua --epochs 1")
    assert.is_true(ok, text)
    assert.matches("Total params: 61,706", text, 1, true)
    assert.matches("test accuracy [%d.]+%%", text)
  end)

  it("feature_maps.lua writes the filter and feature-map pictures", function()
    local text, ok = run("train examples/feature_maps.lua --epochs 1 --out " .. out)
    assert.is_true(ok, text)
    for _, name in ipairs{"input", "filters1", "filters2", "maps1", "maps2"} do
      local img = T.image_load(out .. "/" .. name .. ".png")
      assert.equal(1, img:size(1))
    end
    -- conv1's 6 maps of 28x28, 4x larger, in one row with 2-pixel gaps
    local maps1 = T.image_load(out .. "/maps1.png")
    assert.same({1, 2 + 28 * 4 + 2, 2 + 6 * (28 * 4 + 2)}, {maps1:size(1), maps1:size(2), maps1:size(3)})
  end)

  it("mini_inception.lua trains a graph with an auxiliary head and tests the main one", function()
    local text, ok = run("train examples/mini_inception.lua --epochs 1 --batch-size 50")
    assert.is_true(ok, text)
    assert.matches("main = %[%d+%], aux = %[%d+%] %(training only%)", text)
    assert.matches("- main_loss: [%d.]+ %- aux_loss: [%d.]+", text)
    assert.matches("test loss [%d.]+, test accuracy [%d.]+%% %(predict gives %[1,10%]%)", text)
  end)
end)
