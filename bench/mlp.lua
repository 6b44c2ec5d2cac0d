-- The luacnn side of bench/mlp: the MNIST chapter's network trained on Fashion-MNIST,
-- timing each epoch of model:fit. Run by bench/mlp; on its own:
--   luacnn --threads N bench/mlp.lua BATCH EPOCHS [metrics]
-- Trains 1 warm-up epoch (a fit call of its own), then EPOCHS timed ones in one fit call,
-- and prints one line
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
local lib = dofile(here .. "/lib.lua")
local model = assert(loadfile(here .. "/../models/mlp.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy",
              metrics = with_metrics and {"accuracy"} or nil}

local times, losses = lib.timed_fit(T, model, x, y, bs, epochs, x:size(1))
print(string.format("luacnn batch=%d threads=%d steps=%d epoch_s=%s loss=%s peak_rss_kb=%d", bs, T.get_num_threads(),
                    (x:size(1) + bs - 1) // bs, lib.csv(times), lib.csv(losses), lib.peak_rss_kb()))
