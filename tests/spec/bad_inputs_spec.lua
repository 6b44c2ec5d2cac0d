-- The rows of docs/bad_inputs.md that no other spec checks: NaN and Inf in training
-- data and targets, fit and optimizer options that used to be ignored, an absurd
-- tensor request, and image files whose chunks claim gigabytes.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"
local image = require "image"
local support = require "spec_support"
local error_of, capture_stderr = support.error_of, support.capture_stderr
local assert_error_here = support.assert_error_in("bad_inputs_spec.lua")

local nan, inf = 0 / 0, 1 / 0

local function classifier()
  T.manual_seed(5)
  local m = nn.Sequential{nn.Dense(8, {input_dim = 3, activation = "relu"}), nn.Dense(2, {activation = "softmax"})}
  m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
  return m, T.rand{32, 3}, T.randint(0, 2, {32})
end

describe("NaN and Inf in training data", function()
  it("a NaN input stops fit at the step whose batch holds it, naming epoch, step and value", function()
    local m, x, y = classifier()
    x[{13, 2}] = nan   -- sample 13: batch 2 of 8 when not shuffled
    local msg, h = capture_stderr(function()
      return m:fit(x, y, {epochs = 3, batch_size = 8, shuffle = false, verbose = 0})
    end)
    assert.are.equal("fit: the loss became nan at epoch 1, step 2 (learning rate too high, or inputs not scaled?); "
                     .. "training stopped\n", msg)
    assert.are.equal("nan", h.stopped)
    assert.are.equal(0, #h.epoch)
  end)

  it("a fused ReLU keeps NaN a NaN, as T.relu does (it used to give 0 and hide NaN weights)", function()
    local x = T.tensor{{nan, 1, 1}, {1, 1, 1}}
    for _, layer in ipairs{nn.Dense(2, {input_dim = 3, activation = "relu"}), nn.Activation("relu")} do
      local out = layer:forward(x)
      assert.is_true(out[1][1] ~= out[1][1], tostring(layer))
      assert.are.equal(0, out[2]:ne(out[2]):sum())
    end
    local conv = nn.Conv2d(1, 2, 1, {input_shape = {1, 2, 2}, activation = "relu"})
    local img = T.ones(1, 1, 2, 2)
    img[1][1][2][2] = nan
    local out = conv:forward(img)
    assert.are.equal(2, out:ne(out):sum())   -- the NaN pixel, in each of the 2 output channels
  end)

  it("with on_nan = 'error' the same message is raised at the caller's line", function()
    local m, x, y = classifier()
    x[{3, 1}] = inf   -- softmax of an infinite score is NaN
    assert_error_here(error_of(function()
      m:fit(x, y, {epochs = 1, batch_size = 8, shuffle = false, verbose = 0, on_nan = "error"})
    end), "fit: the loss became nan at epoch 1, step 1")
  end)

  it("an infinite regression target gives an infinite loss, reported as inf", function()
    T.manual_seed(6)
    local m = nn.Sequential{nn.Dense(1, {input_dim = 3})}
    m:compile{optimizer = "sgd", loss = "mse"}
    local x, t = T.rand{16, 3}, T.rand{16, 1}
    t[{9, 1}] = inf
    assert_error_here(error_of(function()
      m:fit(x, t, {batch_size = 8, shuffle = false, verbose = 0, on_nan = "error"})
    end), "fit: the loss became inf at epoch 1, step 2")
  end)

  it("evaluate and predict pass NaN through instead of failing", function()
    local m, x, y = classifier()
    x[{1, 1}] = nan
    local loss = m:evaluate(x, y)
    assert.is_true(loss ~= loss)
    local p = m:predict(x)
    assert.is_true(p[1][1] ~= p[1][1])
    assert.are.equal(0, p[2]:ne(p[2]):sum())   -- other samples are untouched
  end)

  it("a NaN label is not a class id", function()
    local m, x, y = classifier()
    y[4] = nan
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0}) end), "of sample 4 is not a class id in 0..1")
  end)
end)

describe("options that used to be ignored", function()
  it("fit: an unknown on_nan value and a validation_split outside [0, 1)", function()
    local m, x, y = classifier()
    assert_error_here(error_of(function() m:fit(x, y, {on_nan = "ignore", verbose = 0}) end),
                      "fit: on_nan must be 'stop', 'error' or 'continue', got ignore")
    for _, bad in ipairs{nan, -0.5, 1.5, "0.2"} do
      assert_error_here(error_of(function() m:fit(x, y, {validation_split = bad, verbose = 0}) end),
                        "fit: validation_split must be a number in [0, 1), got " .. (bad ~= bad and "nan" or tostring(bad)))
    end
  end)

  it("misspelled option names in compile, fit, evaluate and predict, with the nearest name", function()
    local m, x, y = classifier()
    assert_error_here(error_of(function() m:fit(x, y, {bacth_size = 8, verbose = 0}) end),
                      "fit: unknown option bacth_size (did you mean batch_size?); the options are augment, batch_size,")
    assert_error_here(error_of(function() m:fit(x, y, {epoch = 2, verbose = 0}) end),
                      "fit: unknown option epoch (did you mean epochs?)")
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0, 5}) end), "fit: unknown option [1]; the options are")
    assert_error_here(error_of(function() m:fit(x, y, 5) end), "fit: options must be a table")
    local far = error_of(function() m:fit(x, y, {learning_rate = 0.1, verbose = 0}) end)
    assert_error_here(far, "fit: unknown option learning_rate; the options are")
    assert.is_nil(far:find("did you mean", 1, true), far)
    assert_error_here(error_of(function() m:evaluate(x, y, {batchsize = 8}) end),
                      "evaluate: unknown option batchsize (did you mean batch_size?)")
    assert_error_here(error_of(function() m:predict(x, {batch = 8}) end), "predict: unknown option batch")
    assert_error_here(error_of(function() m:compile{loss = "sparse_categorical_crossentropy", metric = {"accuracy"}} end),
                      "compile: unknown option metric (did you mean metrics?)")
    local input = nn.Input{2}
    local g = nn.Model{inputs = input, outputs = nn.Dense(2, {activation = "softmax"})(input)}
    assert_error_here(error_of(function() g:compile{loss = "sparse_categorical_crossentropy", los_weights = {}} end),
                      "compile: unknown option los_weights (did you mean loss_weights?)")
    -- one output with loss_weights: weighted like a head of a multi-output model
    g:compile{loss = "sparse_categorical_crossentropy", loss_weights = {2}}
    assert.equals(2, g.heads[1].weight)
  end)

  it("optimizers: an infinite or NaN learning rate", function()
    for _, bad in ipairs{inf, nan, -inf} do
      for _, make in ipairs{optim.SGD, optim.Adam, optim.RMSprop} do
        local err = error_of(function() return make{lr = bad} end)
        assert.is_truthy(err:find("learning rate must be >= 0 and finite", 1, true), err)
      end
    end
  end)
end)

describe("an absurd tensor request", function()
  it("T.empty{1e6, 1e6} (4 TB) is an out-of-memory error, not a crash", function()
    -- with overcommit mode 1 the kernel would grant it: nothing to check there
    if support.overcommit_mode() == 1 then return pending("vm.overcommit_memory = 1 grants any request") end
    local before = T.memory_stats().live_bytes
    assert_error_here(error_of(function() return T.empty{1e6, 1e6} end),
                      "empty: shape [1000000,1000000]: out of memory")
    assert.are.equal(before, T.memory_stats().live_bytes)
    assert.are.equal(6, T.ones(2, 3):sum())   -- and the allocator still works
  end)
end)

describe("image files whose chunks claim gigabytes", function()
  local support = require "spec_support"
  after_each(support.remove_temp_files)

  it("are refused without allocating what they claim", function()
    local good = support.temp_file("")
    os.remove(good)
    good = good .. ".png"
    image.save(good, T.ones(1, 2, 3))
    local bytes = support.slurp(good)
    os.remove(good)
    -- signature + IHDR, then a tEXt chunk claiming 2,046,820,352 bytes in a 53-byte file
    local path = support.temp_file(bytes:sub(1, 33) .. string.pack(">I4", 0x7a000000) .. "tEXtComment\0seed")
    local function peak_kib()   -- VmHWM: the most this process ever had resident
      return tonumber(support.slurp("/proc/self/status"):match("VmHWM:%s*(%d+) kB"))
    end
    local before = peak_kib()
    local ok, err = pcall(image.load, path)
    assert.is_false(ok)
    assert.is_truthy(err:find(path, 1, true), err)
    -- libpng used to allocate and clear the claimed length: 2 GB resident
    local grown = peak_kib() - before
    assert.is_true(grown < 64 * 1024, "refusing raised the peak resident memory by " .. grown .. " KiB")
  end)
end)
