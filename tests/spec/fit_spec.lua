-- compile / fit / evaluate / predict on tiny in-memory fixtures: convergence,
-- reproducibility, validation, callbacks, NaN handling and every bad input's message.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"
local callbacks = require "train.callbacks"
local support = require "spec_support"
local error_of, capture_stderr = support.error_of, support.capture_stderr
local assert_error_here = support.assert_error_in("fit_spec.lua")

-- XOR of two noisy bits: 64 samples, labels 0/1. Not linearly separable, so the hidden
-- layer has to learn something.
local function xor_data(n)
  n = n or 64
  local bits = T.randint(0, 2, {n, 2})
  local x = bits + T.randn{n, 2} * 0.1
  local y = (bits:select(2, 1) + bits:select(2, 2)):eq(1)
  return x, y
end

-- three 2-D Gaussian blobs, labels 0..2
local function blobs(n)
  local centers = {{0, 2}, {2, -1}, {-2, -1}}
  local x, y = T.empty{n, 2}, T.empty{n}
  local noise = T.randn{n, 2} * 0.5
  for i = 1, n do
    local c = (i - 1) % 3
    y[i] = c
    x:set(i, 1, centers[c + 1][1] + noise:get(i, 1))
    x:set(i, 2, centers[c + 1][2] + noise:get(i, 2))
  end
  return x, y
end

local function xor_model(opts)
  opts = opts or {}
  local layers = {nn.Dense(16, {activation = "tanh", input_dim = 2})}
  if opts.dropout then layers[#layers + 1] = nn.Dropout(opts.dropout) end
  layers[#layers + 1] = nn.Dense(opts.classes or 2, {activation = "softmax"})
  local m = nn.Sequential(layers)
  m:compile{optimizer = opts.optimizer or optim.Adam{lr = 0.05}, loss = "sparse_categorical_crossentropy",
            metrics = opts.metrics or {"accuracy"}}
  return m
end

describe("fit", function()
  before_each(function() T.manual_seed(1) end)

  it("trains XOR to near-zero loss in a few hundred steps", function()
    local t0 = os.clock()
    local x, y = xor_data()
    local m = xor_model()
    local h = m:fit(x, y, {epochs = 75, batch_size = 16, verbose = 0})  -- 300 steps
    assert.are.equal(75, #h.loss)
    assert.is_true(h.loss[75] < 0.05, "final training loss " .. h.loss[75])
    assert.is_true(h.loss[75] < h.loss[1] / 5)
    assert.are.equal(1, h:last("accuracy"))
    local loss, acc = m:evaluate(x, y)
    assert.is_true(loss < 0.05, "evaluated loss " .. loss)
    assert.are.equal(1, acc)
    assert.is_true(os.clock() - t0 < 5, "took " .. (os.clock() - t0) .. " s")
  end)

  it("is reproducible: same seed and threads give bitwise-identical weights", function()
    local function run(seed)
      T.manual_seed(seed)
      local x, y = xor_data()
      local m = xor_model{dropout = 0.2}
      m:fit(x, y, {epochs = 5, batch_size = 8, verbose = 0})
      return (m:flatten_parameters())
    end
    local a, b, c = run(11), run(11), run(12)
    assert.is_true(a:equal(b), "same seed, different weights")
    assert.is_false(a:equal(c), "different seeds, same weights")
    -- same data and initial weights, another shuffle: still different
    local function run_shuffle(seed)
      T.manual_seed(11)
      local x, y = xor_data()
      local m = xor_model()
      T.manual_seed(seed)
      m:fit(x, y, {epochs = 2, batch_size = 8, verbose = 0})
      return (m:flatten_parameters())
    end
    assert.is_true(run_shuffle(5):equal(run_shuffle(5)))
    assert.is_false(run_shuffle(5):equal(run_shuffle(6)))
  end)

  it("shuffle=false takes the batches in order and draws no random numbers", function()
    local x, y = xor_data()
    local m = xor_model{optimizer = optim.SGD{lr = 0.1, momentum = 0.9}}
    local twin = xor_model{optimizer = optim.SGD{lr = 0.1, momentum = 0.9}}
    local init = m:flatten_parameters():clone()
    twin:flatten_parameters():copy(init)
    local state = T.get_rng_state()
    m:fit(x, y, {epochs = 2, batch_size = 24, shuffle = false, verbose = 0})
    assert.are.same(state, T.get_rng_state())
    -- the same steps by hand: batches 1-24, 25-48, 49-64, twice
    local P, G = twin:flatten_parameters()
    for _ = 1, 2 do
      for first = 1, 64, 24 do
        local nb = math.min(24, 65 - first)
        twin:train_step(x:narrow(1, first, nb), y:narrow(1, first, nb), {P}, {G})
      end
    end
    assert.is_true(m:flatten_parameters():equal(P), "fit without shuffling differs from the hand-written steps")
    -- shuffling gives other steps
    local shuffled = xor_model{optimizer = optim.SGD{lr = 0.1, momentum = 0.9}}
    shuffled:flatten_parameters():copy(init)
    shuffled:fit(x, y, {epochs = 2, batch_size = 24, verbose = 0})
    assert.is_false(shuffled:flatten_parameters():equal(P))
  end)

  it("skips the first Dense's input gradient behind a Flatten; a plain backward still gets one", function()
    local x = T.randn{16, 2, 2}
    local y = T.randint(0, 2, {16})
    local m = nn.Sequential{
      nn.Flatten{input_shape = {2, 2}},
      nn.Dense(4, {activation = "relu"}),
      nn.Dense(2, {activation = "softmax"}),
    }
    m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
    local K = T.kernels
    local linear_backward = K.linear_backward
    finally(function() K.linear_backward = linear_backward end)
    local calls, with_dx = 0, 0
    K.linear_backward = function(dx, ...)
      calls = calls + 1
      if dx then with_dx = with_dx + 1 end
      return linear_backward(dx, ...)
    end
    m:fit(x, y, {epochs = 1, batch_size = 8, verbose = 0})
    -- 2 steps x 2 Dense layers; only the last one's input gradient feeds anything
    assert.are.equal(4, calls)
    assert.are.equal(2, with_dx)
    m:forward(x)
    local dx = m:backward(x, T.ones{16, 2})
    assert.are.same({16, 2, 2}, dx:size())
    assert.are.equal(4, with_dx)
  end)

  it("validation_data adds val_ entries that match evaluate", function()
    local x, y = xor_data()
    local xv, yv = xor_data(32)
    local m = xor_model{metrics = {"accuracy", "top_1_accuracy"}}
    local h = m:fit(x, y, {epochs = 3, batch_size = 16, validation_data = {xv, yv}, verbose = 0})
    assert.are.same({"loss", "accuracy", "top_1_accuracy", "val_loss", "val_accuracy", "val_top_1_accuracy"}, h:keys())
    assert.are.same({1, 2, 3}, h.epoch)
    assert.are.equal(3, #h.val_loss)
    assert.are.equal(3, #h.val_accuracy)
    local loss, acc, top1 = m:evaluate(xv, yv)
    assert.is_true(math.abs(h:last("val_loss") - loss) < 1e-9)
    assert.are.equal(acc, h:last("val_accuracy"))
    assert.are.equal(acc, top1)
    assert.matches("epoch 3  loss [%d.]+  accuracy [%d.]+  top_1_accuracy [%d.]+  val_loss", tostring(h))
  end)

  it("validation_split holds out the last samples", function()
    local x, y = xor_data()
    local m = xor_model()
    local h = m:fit(x, y, {epochs = 2, batch_size = 16, validation_split = 0.25, verbose = 0})
    assert.are.equal(2, #h.val_loss)
    assert.are.equal(2, #h.val_accuracy)
    local loss, acc = m:evaluate(x:narrow(1, 49, 16), y:narrow(1, 49, 16))
    assert.is_true(math.abs(h:last("val_loss") - loss) < 1e-9)
    assert.are.equal(acc, h:last("val_accuracy"))
    -- 48 training samples in batches of 16: 3 steps per epoch
    local steps = 0
    m:fit(x, y, {epochs = 1, batch_size = 16, validation_split = 0.25, verbose = 0,
                 callbacks = {{on_batch_end = function() steps = steps + 1 end}}})
    assert.are.equal(3, steps)
  end)

  it("evaluate returns the loss, then each metric in compile's order", function()
    local x, y = blobs(60)
    local m = nn.Sequential{nn.Dense(8, {activation = "relu", input_dim = 2}), nn.Dense(3, {activation = "softmax"})}
    m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy", "top_2_accuracy"}}
    m:fit(x, y, {epochs = 3, batch_size = 10, verbose = 0})
    local res = {m:evaluate(x, y, {batch_size = 7})}
    assert.are.equal(3, #res)
    local p = m:predict(x)
    local want_loss = nn.SparseCategoricalCrossentropy():forward(p, y)
    assert.is_true(math.abs(res[1] - want_loss) < 1e-5, res[1] .. " vs " .. want_loss)
    local correct, top2 = 0, 0
    for i = 1, 60 do
      local row, label = p[i], y[i] + 1
      local above = 0
      for c = 1, 3 do if row[c] > row[label] then above = above + 1 end end
      if above == 0 then correct = correct + 1 end
      if above < 2 then top2 = top2 + 1 end
    end
    assert.are.equal(correct / 60, res[2])
    assert.are.equal(top2 / 60, res[3])
    -- evaluate() without data switches the mode, as in Torch
    assert.are.equal(m, m:evaluate())
    assert.is_false(m.training)
    m:train()
  end)

  it("trains other losses: categorical, binary and mse", function()
    local x, y = xor_data()
    local onehot = T.zeros{64, 2}
    for i = 1, 64 do onehot:set(i, y[i] + 1, 1) end
    local cat = nn.Sequential{nn.Dense(16, {activation = "tanh", input_dim = 2}), nn.Dense(2, {activation = "softmax"})}
    cat:compile{optimizer = optim.Adam{lr = 0.05}, loss = "categorical_crossentropy", metrics = {"accuracy"}}
    local h = cat:fit(x, onehot, {epochs = 60, batch_size = 16, verbose = 0})
    assert.is_true(h:last("loss") < 0.05, "categorical " .. h:last("loss"))
    assert.are.equal(1, h:last("accuracy"))
    local yb = y:view(64, 1)
    local bin = nn.Sequential{nn.Dense(16, {activation = "tanh", input_dim = 2}), nn.Dense(1, {activation = "sigmoid"})}
    bin:compile{optimizer = optim.Adam{lr = 0.05}, loss = "binary_crossentropy", metrics = {"accuracy"}}
    h = bin:fit(x, yb, {epochs = 60, batch_size = 16, verbose = 0})
    assert.is_true(h:last("loss") < 0.05, "binary " .. h:last("loss"))
    assert.are.equal(1, h:last("accuracy"))
    local reg = nn.Sequential{nn.Dense(16, {activation = "tanh", input_dim = 2}), nn.Dense(1)}
    reg:compile{optimizer = optim.Adam{lr = 0.02}, loss = "mse"}
    h = reg:fit(x, yb, {epochs = 60, batch_size = 16, verbose = 0})
    assert.is_true(h:last("loss") < 0.02, "mse " .. h:last("loss"))
  end)
end)

describe("callbacks", function()
  before_each(function() T.manual_seed(2) end)

  -- Validation on flipped labels: the better the model learns, the worse val_loss gets.
  local function flipped_fixture()
    local x, y = xor_data()
    return x, y, x:clone(), 1 - y
  end

  it("EarlyStopping stops after `patience` epochs without improvement", function()
    local x, y, xv, yv = flipped_fixture()
    local init = xor_model():flatten_parameters():clone()
    local rng = T.get_rng_state()
    -- the reference run: every epoch's val_loss and weights
    local ref = xor_model()
    ref:flatten_parameters():copy(init)
    local weights = {}
    local h = ref:fit(x, y, {epochs = 12, batch_size = 16, validation_data = {xv, yv}, verbose = 0, callbacks = {{
      on_epoch_end = function(epoch, logs, model) weights[epoch] = model:flatten_parameters():clone() end}}})
    -- when the rule "stop once val_loss has not improved for more than `patience` epochs" fires
    local patience = 2
    local best, best_epoch, wait, stop = math.huge, nil, 0, nil
    for e, v in ipairs(h.val_loss) do
      if v < best then
        best, best_epoch, wait = v, e, 0
      else
        wait = wait + 1
        if wait > patience then
          stop = e
          break
        end
      end
    end
    assert.is_not_nil(stop, "fixture: val_loss kept improving")
    assert.is_true(stop < 12)
    -- the same run with EarlyStopping
    T.set_rng_state(rng)
    local m = xor_model()
    m:flatten_parameters():copy(init)
    local es = callbacks.EarlyStopping{monitor = "val_loss", patience = patience, restore_best_weights = true, verbose = false}
    local h2 = m:fit(x, y, {epochs = 12, batch_size = 16, validation_data = {xv, yv}, verbose = 0, callbacks = {es}})
    assert.are.equal(stop, #h2.loss)
    assert.are.equal(stop, es.stopped_epoch)
    assert.are.equal(best_epoch, es.best_epoch)
    assert.are.equal(h.val_loss[stop], h2.val_loss[stop])
    -- restore_best_weights: the weights of the best epoch, not of the last one
    assert.is_true(m:flatten_parameters():equal(weights[best_epoch]), "best weights not restored")
    assert.is_false(m:flatten_parameters():equal(weights[stop]))
  end)

  it("EarlyStopping without restore keeps the last weights; 'max' mode for accuracies", function()
    local x, y, xv, yv = flipped_fixture()
    local m = xor_model()
    local last
    local es = callbacks.EarlyStopping{patience = 1, verbose = false}
    m:fit(x, y, {epochs = 20, batch_size = 16, validation_data = {xv, yv}, verbose = 0, callbacks = {es, {
      on_epoch_end = function(_, _, model) last = model:flatten_parameters():clone() end}}})
    assert.is_not_nil(es.stopped_epoch)
    assert.is_true(m:flatten_parameters():equal(last))
    -- accuracy on flipped labels falls: monitored in 'max' mode, it stops too
    local acc = callbacks.EarlyStopping{monitor = "val_accuracy", patience = 0, verbose = false}
    local h = xor_model():fit(x, y, {epochs = 20, batch_size = 16, validation_data = {xv, yv}, verbose = 0, callbacks = {acc}})
    assert.is_true(#h.loss < 20)
    assert.is_true(h.val_accuracy[#h.loss] <= h.val_accuracy[acc.best_epoch])
  end)

  it("EarlyStopping on a value that is not logged says which ones are", function()
    local x, y = xor_data()
    local err = error_of(function()
      xor_model():fit(x, y, {epochs = 2, verbose = 0, callbacks = {callbacks.EarlyStopping{verbose = false}}})
    end)
    assert.is_truthy(err:find("EarlyStopping: no 'val_loss' in the logs (have: accuracy, loss)", 1, true), err)
  end)

  it("on_epoch_end returning true stops; every hook is called", function()
    local x, y = xor_data()
    local calls = {begin = 0, batch = 0, epoch = {}, finish = 0}
    local hist
    local h = xor_model():fit(x, y, {epochs = 10, batch_size = 16, verbose = 0, callbacks = {callbacks.LambdaCallback{
      on_train_begin = function() calls.begin = calls.begin + 1 end,
      on_batch_end = function(step, loss)
        assert.is_number(loss)
        calls.batch = calls.batch + 1
      end,
      on_epoch_end = function(epoch, logs)
        calls.epoch[#calls.epoch + 1] = epoch
        assert.is_number(logs.loss)
        assert.is_number(logs.accuracy)
        return epoch == 3
      end,
      on_train_end = function(history)
        calls.finish = calls.finish + 1
        hist = history
      end,
    }}})
    assert.are.equal(3, #h.loss)
    assert.are.same({1, 2, 3}, calls.epoch)
    assert.are.equal(1, calls.begin)
    assert.are.equal(12, calls.batch)
    assert.are.equal(1, calls.finish)
    assert.are.equal(h, hist)
  end)
end)

describe("a diverging run", function()
  -- SGD with an absurd learning rate on a regression: the loss overflows within a few steps
  local function diverging()
    T.manual_seed(3)
    local x = T.randn{64, 2} * 10
    local y = x:sum(2, true)
    local m = nn.Sequential{nn.Dense(8, {input_dim = 2}), nn.Dense(1)}
    m:compile{optimizer = optim.SGD{lr = 1e6}, loss = "mse"}
    return m, x, y
  end

  it("stops and says at which epoch and step (on_nan default)", function()
    local m, x, y = diverging()
    local msg, h = capture_stderr(function() return m:fit(x, y, {epochs = 5, batch_size = 8, verbose = 0}) end)
    local what, epoch, step = msg:match("fit: the loss became (%S+) at epoch (%d+), step (%d+)")
    assert.is_not_nil(what, msg)
    assert.is_true(what == "inf" or what == "nan" or what == "-inf", what)
    assert.matches("learning rate too high, or inputs not scaled%?%); training stopped\n$", msg)
    assert.are.equal("nan", h.stopped)
    -- the epoch it stopped in is not recorded
    assert.are.equal(tonumber(epoch) - 1, #h.epoch)
    -- on_nan = 'error' raises the same message, at the caller's line
    local m2, x2, y2 = diverging()
    local err = error_of(function() m2:fit(x2, y2, {epochs = 5, batch_size = 8, verbose = 0, on_nan = "error"}) end)
    assert_error_here(err, string.format("fit: the loss became %s at epoch %s, step %s", what, epoch, step))
    assert.is_true(m2.compute_input_grad, "fit left compute_input_grad off")
  end)

  it("continues with on_nan = 'continue'", function()
    local m, x, y = diverging()
    local msg, h = capture_stderr(function()
      return m:fit(x, y, {epochs = 3, batch_size = 8, verbose = 0, on_nan = "continue"})
    end)
    assert.are.equal("", msg)
    assert.are.equal(3, #h.epoch)
    assert.is_nil(h.stopped)
    local last = h:last("loss")
    assert.is_true(last ~= last or last == math.huge, "loss " .. tostring(last))
  end)
end)

describe("bad input gets a clear message at the caller's line", function()
  before_each(function() T.manual_seed(4) end)

  it("labels out of range for the loss name the sample and the class range", function()
    local x, y = xor_data()
    y[37] = 2
    local m = xor_model()
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0}) end),
                      "fit: label 2 of sample 37 is not a class id in 0..1 (the model has 2 outputs)")
    y[37] = -1
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0}) end), "fit: label -1 of sample 37 is not a class id in 0..1")
    y[37] = 0.5
    assert_error_here(error_of(function() m:evaluate(x, y) end), "evaluate: label 0.5 of sample 37 is not a class id in 0..1")
    y[37] = 1
    local yv = T.zeros{8}
    yv[8] = 5
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0, validation_data = {x:narrow(1, 1, 8), yv}}) end),
                      "fit (validation_data): label 5 of sample 8 is not a class id in 0..1")
    -- nothing was trained
    assert.are.equal(0, m.optimizer.iterations)
  end)

  it("an input shape that does not fit the first layer names it and both shapes", function()
    local m = xor_model()
    local x3, y = T.randn{64, 3}, T.zeros{64}
    assert_error_here(error_of(function() m:fit(x3, y, {verbose = 0}) end),
                      "fit: Sequential[1] Dense(2->16, tanh): input has shape [64,3], expected [N,2]")
    assert_error_here(error_of(function() m:evaluate(x3, y) end),
                      "evaluate: Sequential[1] Dense(2->16, tanh): input has shape [64,3], expected [N,2]")
    assert_error_here(error_of(function() m:predict(T.randn{2}) end),
                      "predict: Sequential[1] Dense(2->16, tanh): input has shape [2], expected [N,2] (missing batch dimension?")
    -- a lazily built model: the layer that does not fit what comes before it
    local lazy = nn.Sequential{nn.Flatten(), nn.Dense(4, {input_dim = 6})}
    lazy:compile{loss = "mse"}
    assert_error_here(error_of(function() lazy:fit(T.randn{8, 2, 2}, T.randn{8, 4}, {verbose = 0}) end),
                      "fit: Sequential[2] Dense(6->4): expects inputs of shape [N,6] but the layer before gives [N,4]")
  end)

  it("x and y of different lengths", function()
    local x, y = xor_data()
    local m = xor_model()
    assert_error_here(error_of(function() m:fit(x, y:narrow(1, 1, 63), {verbose = 0}) end), "fit: x has 64 samples but y has 63")
    assert_error_here(error_of(function() m:evaluate(x:narrow(1, 1, 10), y) end), "evaluate: x has 10 samples but y has 64")
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0, validation_data = {x, y:narrow(1, 1, 5)}}) end),
                      "fit (validation_data): x has 64 samples but y has 5")
  end)

  it("fit or evaluate before compile", function()
    local m = nn.Sequential{nn.Dense(2, {input_dim = 2})}
    local x, y = xor_data()
    assert_error_here(error_of(function() m:fit(x, y) end), "fit: compile the model first: model:compile{optimizer=..., loss=...}")
    assert_error_here(error_of(function() m:evaluate(x, y) end), "evaluate: compile the model first")
  end)

  it("wrong types for x and y", function()
    local m = xor_model()
    local x, y = xor_data()
    assert_error_here(error_of(function() m:fit({{0, 1}}, y, {verbose = 0}) end), "fit: x must be a tensor, got table")
    assert_error_here(error_of(function() m:fit(x, "labels", {verbose = 0}) end), "fit: y must be a tensor, got string")
    assert_error_here(error_of(function() m:fit(x, nil, {verbose = 0}) end), "fit: y must be a tensor, got nil")
    assert_error_here(error_of(function() m:evaluate(x, 3) end), "evaluate: y must be a tensor, got number")
    assert_error_here(error_of(function() m:evaluate(x) end), "evaluate: y must be a tensor, got nil")
    assert_error_here(error_of(function() m:predict("x") end), "predict: x must be a tensor, got string")
    assert_error_here(error_of(function() m:fit(T.tensor(1), y, {verbose = 0}) end), "fit: x needs a sample dimension")
    assert_error_here(error_of(function() m:fit(x, y, {verbose = 0, validation_data = {x}}) end),
                      "fit: validation_data must be {x_val, y_val}")
  end)

  it("bad fit options", function()
    local m = xor_model()
    local x, y = xor_data()
    assert_error_here(error_of(function() m:fit(x, y, {epochs = 1.5}) end), "fit: epochs must be a non-negative integer")
    assert_error_here(error_of(function() m:fit(x, y, {batch_size = 0}) end), "fit: batch_size must be a positive integer")
    assert_error_here(error_of(function() m:fit(x, y, {validation_split = 1}) end),
                      "fit: validation_split leaves no training or no validation samples")
    assert_error_here(error_of(function() m:fit(x, y, {validation_split = 0.2, validation_data = {x, y}}) end),
                      "fit: give validation_data or validation_split, not both")
  end)

  it("unknown loss, optimizer and metric names, and a missing loss", function()
    local m = nn.Sequential{nn.Dense(2, {input_dim = 2})}
    assert_error_here(error_of(function() m:compile{loss = "hinge"} end),
                      "compile: unknown loss 'hinge' (known: binary_crossentropy, categorical_crossentropy,")
    assert_error_here(error_of(function() m:compile{loss = "mse", optimizer = "adagrad"} end),
                      "compile: unknown optimizer 'adagrad' (known: adam, adamw, rmsprop, sgd)")
    assert_error_here(error_of(function() m:compile{loss = "mse", metrics = {"accuracy", "f1"}} end),
                      "compile: unknown metric 'f1' (known: accuracy,")
    assert_error_here(error_of(function() m:compile{optimizer = "adam"} end), "compile: a loss is required")
    assert_error_here(error_of(function() m:compile("adam") end), "compile: expected a table {optimizer=, loss=, metrics=}")
    assert.is_falsy(m.compiled)
  end)

  it("an error inside a training step names the epoch and step, and the model still trains after", function()
    local x, y = xor_data()
    local m = nn.Sequential{nn.Dense(8, {activation = "tanh", input_dim = 2}), nn.Dense(2)}
    m:compile{optimizer = optim.Adam{lr = 0.05}, loss = "mse"}
    -- targets of one value per sample for a model with two outputs
    assert_error_here(error_of(function() m:fit(x, y:view(64, 1), {verbose = 0}) end),
                      "fit: epoch 1, step 1: mse: prediction [32,2] and target [32,1] have different shapes")
    assert.is_true(m.compute_input_grad)
    local onehot = T.zeros{64, 2}
    for i = 1, 64 do onehot:set(i, y[i] + 1, 1) end
    local h = m:fit(x, onehot, {epochs = 40, batch_size = 16, verbose = 0})
    assert.is_true(h:last("loss") < 0.05, "loss " .. h:last("loss"))
  end)
end)
