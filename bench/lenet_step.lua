-- Where a training step of bench/lenet's network goes (bench/step_profile.lua): each phase
-- of fit's step under a clock, each layer's forward and backward timed, and every
-- T.kernels call charged to the layer that made it.
--   luacnn --threads N bench/lenet_step.lua [BATCH [EPOCHS]]      (default 64 1)
-- A warm-up of 100 steps through model:fit, then EPOCHS timed epochs over the 60,000
-- Fashion-MNIST images; prints microseconds per step for each phase, layer and kernel.
local T = require "luacnn"
local datasets = require "datasets"

local bs = math.tointeger(tonumber(arg[1] or "64"))
local epochs = math.tointeger(tonumber(arg[2] or "1"))
if not bs or bs < 1 or not epochs or epochs < 1 then
  error("usage: luacnn [--threads N] bench/lenet_step.lua [BATCH [EPOCHS]]")
end

local x, y = datasets.fashion_mnist.load_data()
x = x / 255
x = x:view(x:size(1), 1, 28, 28)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/lenet5.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
local n = x:size(1)
local nw = math.min(n, 100 * bs + n % bs)
model:fit(x:narrow(1, 1, nw), y:narrow(1, 1, nw), {epochs = 1, batch_size = bs, verbose = 0})

local profile = dofile(here .. "/step_profile.lua")
local prof = profile.run(T, model, x, y, bs, epochs, true)
profile.print_title(T, prof, bs, epochs)
profile.print_phases(prof)
profile.print_layers(prof)
