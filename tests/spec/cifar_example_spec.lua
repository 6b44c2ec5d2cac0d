-- examples/cifar10.lua end to end on a small synthetic data set in CIFAR-10's format,
-- written by scripts/synthetic_cifar.lua (the real files are not needed), through
-- $LUACNN_DATA and through --data; and models/cifar_vgg.lua as the example builds it.
local support = require "spec_support"
local T = require "luacnn"

local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")
local SOURCE = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")

local data

local function run(env, args)
  local cmd = string.format("cd %s && %s %s %s 2>&1", support.quote(SOURCE), env, BIN, args)
  local p = io.popen(cmd)
  local text = p:read("a")
  local ok = p:close() == true
  return text, ok
end

setup(function()
  data = os.tmpname()
  os.remove(data)
  local text, ok = run("", "run scripts/synthetic_cifar.lua " .. support.quote(data .. "/cifar-10-batches-bin")
                          .. " 203 40 1")
  assert(ok, text)
end)

teardown(function() os.execute("rm -rf " .. support.quote(data)) end)

describe("scripts/synthetic_cifar.lua", function()
  it("writes the six files in the format, labels cycling through the classes", function()
    local datasets = require "datasets"
    local x, y, xt, yt = datasets.cifar10.load_data{data = data}
    assert.are.same({203, 40}, {x:size(1), xt:size(1)})
    -- 203 = 4 x 40 + 43: the remainder goes to the last file
    assert.are.equal(40 * 3073, #support.slurp(data .. "/cifar-10-batches-bin/data_batch_1.bin"))
    assert.are.equal(43 * 3073, #support.slurp(data .. "/cifar-10-batches-bin/data_batch_5.bin"))
    assert.are.same({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0}, y:narrow(1, 1, 11):totable())
    assert.are.equal(9, yt:max())
    assert.is_true(x:min() >= 0 and x:max() <= 255 and x:equal(x:floor()))
    -- a class looks like itself more than like another: each image is nearer its own
    -- class's mean image than the next class's for most images
    local mean = {}
    for c = 0, 9 do
      local sum = T.zeros{3, 32, 32}
      local count = 0
      for i = 1, 203 do
        if y[i] == c then sum:add_(x[i]); count = count + 1 end
      end
      mean[c] = sum / count
    end
    local nearer = 0
    for i = 1, 40 do
      local c = math.tointeger(yt[i])
      local own, other = (xt[i] - mean[c]):square():sum(), (xt[i] - mean[(c + 1) % 10]):square():sum()
      if own < other then nearer = nearer + 1 end
    end
    assert.is_true(nearer >= 36, nearer .. " of 40 test images nearer their own class")
  end)

  it("refuses bad arguments with its usage line", function()
    local text, ok = run("", "run scripts/synthetic_cifar.lua")
    assert.is_false(ok)
    assert.is_true(support.has(text, "usage: luacnn run scripts/synthetic_cifar.lua DIR"), text)
    text, ok = run("", "run scripts/synthetic_cifar.lua " .. support.quote(data .. "/x") .. " 3")
    assert.is_false(ok)
    assert.is_true(support.has(text, "TRAIN >= 5"), text)
  end)
end)

describe("examples/cifar10.lua", function()
  -- "7/7 - 1s 120ms/step - loss: 2.1 - accuracy: 0.3 - val_loss: 2.2 - val_accuracy: 0.1"
  local function check_progress(text, steps)
    local line = text:match("\n(" .. steps .. "/" .. steps .. " %- [^\n]*val_accuracy: [%d.]+)")
    assert.is_truthy(line, text)
    local loss, acc = line:match("%- loss: ([%d.]+) %- accuracy: ([%d.]+)")
    local vloss, vacc = line:match("val_loss: ([%d.]+) %- val_accuracy: ([%d.]+)")
    loss, acc, vloss, vacc = tonumber(loss), tonumber(acc), tonumber(vloss), tonumber(vacc)
    assert.is_true(loss > 0 and loss < 10 and vloss > 0 and vloss < 100, line)
    assert.is_true(acc >= 0 and acc <= 1 and vacc >= 0 and vacc <= 1, line)
  end

  it("trains one epoch from $LUACNN_DATA and reports test and per-class accuracy", function()
    local text, ok = run("LUACNN_DATA=" .. support.quote(data), "train examples/cifar10.lua --epochs 1 --width 8 --seed 1")
    assert.is_true(ok, text)
    for _, piece in ipairs{"seed 1, ", "cifar10: 203 training and 40 test images of 3x32x32",
                           "training batches: Augment(crop 32x32, padding 4, flip, mean {", "Conv2d(3->8, 3x3, pad 1x1)",
                           "Dense(512->10, softmax)", "Epoch 1/1"} do
      assert.is_true(support.has(text, piece), "missing '" .. piece .. "' in:\n" .. text)
    end
    check_progress(text, 4)
    assert.matches("test loss [%d.]+, test accuracy [%d.]+%%", text)
    assert.matches("per class: airplane %d+%%, automobile %d+%%, .*truck %d+%%", text)
  end)

  it("takes --data, --subset, --batch-size and --no-augment", function()
    local text, ok = run("", "train examples/cifar10.lua --data " .. support.quote(data .. "/cifar-10-batches-bin")
                            .. " --epochs 1 --width 4 --subset 50 --batch-size 16 --no-augment")
    assert.is_true(ok, text)
    assert.is_true(support.has(text, "cifar10: 50 training and 40 test images"), text)
    assert.is_true(support.has(text, "training batches: Augment(crop 32x32, mean {"), text)
    check_progress(text, 4)
  end)

  it("without the data, fails saying where to download the files and where to put them", function()
    local empty = data .. "/empty"
    os.execute("mkdir -p " .. support.quote(empty))
    local text, ok = run("", "train examples/cifar10.lua --data " .. support.quote(empty))
    assert.is_false(ok)
    for _, piece in ipairs{"CIFAR-10 not found", "data_batch_1.bin", "test_batch.bin", empty .. " (opts.data)",
                           "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                           "tar xzf cifar-10-binary.tar.gz -C " .. empty} do
      assert.is_true(support.has(text, piece), "missing '" .. piece .. "' in:\n" .. text)
    end
  end)
end)

describe("models/cifar_vgg.lua", function()
  it("is conv64 conv64 pool conv128 conv128 pool conv256 pool, dropout, dense 10", function()
    local model = assert(loadfile(SOURCE .. "/models/cifar_vgg.lua"))()
    local text = tostring(model)
    local params = 0
    for _, p in ipairs(model:parameters()) do params = params + p:numel() end
    -- convolutions without bias, 3x3: 3*64*9 + 64*64*9 + 64*128*9 + 128*128*9 + 128*256*9;
    -- batch norms 2*(64+64+128+128+256); dense 4096*10 + 10
    assert.are.equal(1728 + 36864 + 73728 + 147456 + 294912 + 2 * 640 + 40970, params, text)
    local out = model:forward(T.rand{2, 3, 32, 32})
    assert.are.same({2, 10}, support.dims(out))
    assert.is_true(math.abs(out:sum() - 2) < 1e-4)  -- softmax rows
  end)
end)
