-- Where a training step of bench/mlp's network goes (bench/step_profile.lua): each phase
-- of fit's step under a clock, and every call of a T.kernels function timed as well.
--   luacnn --threads N bench/mlp_step.lua [BATCH [EPOCHS]]      (default 32 2)
-- One warm-up epoch through model:fit, then EPOCHS timed epochs over the 60,000
-- Fashion-MNIST images; prints microseconds per step for each phase and kernel.
local T = require "luacnn"
local datasets = require "datasets"

local bs = math.tointeger(tonumber(arg[1] or "32"))
local epochs = math.tointeger(tonumber(arg[2] or "2"))
if not bs or bs < 1 or not epochs or epochs < 1 then
  error("usage: luacnn [--threads N] bench/mlp_step.lua [BATCH [EPOCHS]]")
end

local x, y = datasets.fashion_mnist.load_data()
x = x / 255
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/mlp.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
model:fit(x, y, {epochs = 1, batch_size = bs, verbose = 0})

local profile = dofile(here .. "/step_profile.lua")
local prof = profile.run(T, model, x, y, bs, epochs, false)
profile.print_title(T, prof, bs, epochs)
profile.print_phases(prof)
profile.print_kernels(prof)
