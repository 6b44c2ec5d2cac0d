-- The explicit training loop of examples/mnist_loop.lua (forward, criterion, backward,
-- zero_grad, optimizer:step), run on a tiny in-memory data set instead of the MNIST files,
-- and compared step for step with fit() on the same data.
local T = require "luacnn"
local nn = require "nn"

local source_dir = os.getenv("LUACNN_SOURCE_DIR") or "."
local script = source_dir .. "/examples/mnist_loop.lua"

-- Ten classes of 8x8 "images" with bytes 0..255: class c lights pixels 6c+1..6c+6 (of the
-- 64, row-major) over a dim noisy background.
local function fixture(n)
  local x = T.rand{n, 8, 8} * 60
  local y = T.empty{n}
  local flat = x:view(n, 64)
  for i = 1, n do
    local c = (i * 7) % 10
    y[i] = c
    for k = 6 * c + 1, 6 * c + 6 do flat:set(i, k, 200 + 55 * flat:get(i, k) / 60) end
  end
  return x, y
end

-- Runs the example with `opts`; returns its printed lines and its results.
local function run_example(opts)
  local chunk = assert(loadfile(script))
  local lines = {}
  local saved = _G.print
  _G.print = function(...)  -- the example and model:summary() print through the global
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    lines[#lines + 1] = table.concat(parts, "\t")
  end
  local res = table.pack(pcall(chunk, opts))
  _G.print = saved
  if not res[1] then error(res[2], 0) end
  return table.concat(lines, "\n"), table.unpack(res, 2, res.n)
end

describe("examples/mnist_loop.lua", function()
  local x_train, y_train, x_test, y_test
  setup(function()
    T.manual_seed(9)
    x_train, y_train = fixture(300)
    x_test, y_test = fixture(100)
  end)

  local function load_data() return x_train, y_train, x_test, y_test end

  it("trains with the explicit loop and reports loss, accuracy and the test accuracy", function()
    local text, model, accuracy, history = run_example{load_data = load_data, epochs = 4, batch_size = 32, seed = 3,
                                                        lr = 3e-3}
    assert.matches("seed 3, %d+ threads?", text)
    assert.matches("300 training and 100 test images of 8x8", text)
    assert.matches("Dense%(64%->128, relu%)", text)
    for epoch = 1, 4 do
      assert.matches(string.format("epoch %d/4  loss %%d%%.%%d+  accuracy %%d+%%.%%d+%%%%", epoch), text)
    end
    assert.matches(string.format("test accuracy %.2f%%%%", 100 * accuracy), text)
    assert.is_true(accuracy > 0.9, "test accuracy " .. accuracy)
    assert.are.equal(4, #history.loss)
    assert.is_true(history.loss[4] < history.loss[1] / 2, table.concat(history.loss, " "))
    assert.is_true(history.accuracy[4] > 0.9)
    -- the model is left in evaluation mode, and predicts the test set as the loop counted it
    assert.is_false(model.training)
    local p = model:predict(x_test / 255)
    local correct = (p:argmax(2) - 1):eq(y_test):sum()
    assert.are.equal(accuracy, correct / 100)
  end)

  it("takes the same steps as fit() with a fused softmax", function()
    local _, looped = run_example{load_data = load_data, epochs = 2, batch_size = 32, seed = 4}
    -- fit: the same seed, so the same initial weights and the same shuffles
    T.manual_seed(4)
    local model = nn.Sequential{
      nn.Flatten{input_shape = {8, 8}},
      nn.Dense(128, {activation = "relu"}),
      nn.Dense(10, {activation = "softmax"}),
    }
    model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
    model:fit(x_train / 255, y_train, {epochs = 2, batch_size = 32, verbose = 0})
    local a, b = looped:parameters(), model:parameters()
    assert.are.equal(#b, #a)
    -- the same kernels on the same numbers in the same order: bitwise the same weights
    for i = 1, #a do
      assert.is_true(a[i]:equal(b[i]), "parameter " .. i .. " differs")
    end
  end)
end)
