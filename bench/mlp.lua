-- The luacnn side of bench/mlp: the MNIST chapter's network trained on Fashion-MNIST,
-- timing each epoch of model:fit. Run by bench/mlp; on its own:
--   luacnn --threads N bench/mlp.lua BATCH EPOCHS [metrics]
-- Trains 1 warm-up epoch and then EPOCHS timed ones in one fit call, and prints one line
--   luacnn batch=B threads=N steps=S epoch_s=t1,t2,... loss=l1,l2,...
-- An epoch's time runs from the end of the previous epoch (or the start of training) to
-- the end of this one: shuffle, gather of every batch, forward, backward and the Adam
-- step. Data loading happens before, and there is no validation.
-- With "metrics" as third argument the model also tracks accuracy, as examples/mnist.lua
-- does; the PyTorch loop computes only the loss, so the default leaves metrics out.
local T = require "luacnn"
local datasets = require "datasets"

local bs = math.tointeger(tonumber(arg[1] or "32"))
local epochs = math.tointeger(tonumber(arg[2] or "3"))
local with_metrics = arg[3] == "metrics"
if not bs or bs < 1 or not epochs or epochs < 1 then
  error("usage: luacnn [--threads N] bench/mlp.lua BATCH EPOCHS [metrics]")
end

local x, y = datasets.fashion_mnist.load_data()
x = x / 255

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/mlp.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy",
              metrics = with_metrics and {"accuracy"} or nil}

local marks, losses = {}, {}
local timer = {
  on_train_begin = function() marks[1] = T.clock() end,
  on_epoch_end = function(_, logs)
    marks[#marks + 1] = T.clock()
    losses[#losses + 1] = logs.loss
  end,
}
model:fit(x, y, {epochs = 1 + epochs, batch_size = bs, verbose = 0, callbacks = {timer}})

-- marks[2] - marks[1] is the warm-up epoch, left out
local times, ls = {}, {}
for e = 2, #marks - 1 do
  times[#times + 1] = string.format("%.4f", marks[e + 1] - marks[e])
end
for e = 1, #losses do ls[e] = string.format("%.4f", losses[e]) end
print(string.format("luacnn batch=%d threads=%d steps=%d epoch_s=%s loss=%s", bs, T.get_num_threads(),
                    (x:size(1) + bs - 1) // bs, table.concat(times, ","), table.concat(ls, ",")))
