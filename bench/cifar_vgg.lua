-- The luacnn side of bench/cifar_vgg: models/cifar_vgg.lua (the network of
-- examples/cifar10.lua) trained on CIFAR-shaped data. Run by bench/cifar_vgg; on its own:
--   luacnn --threads N bench/cifar_vgg.lua train BATCH STEPS EPOCHS
--   luacnn --threads N bench/cifar_vgg.lua augment BATCH REPEATS
-- train: Adam (lr 1e-3, eps 1e-7), sparse categorical cross-entropy, BATCH*STEPS images
--   [3,32,32] of standard normal values (what normalized CIFAR-10 pixels look like to the
--   network; the arithmetic does not depend on the values) with random labels 0..9,
--   shuffled each epoch, through model:fit without augmentation (the PyTorch side has
--   none either). A warm-up fit of WARMUP (3) steps, then EPOCHS timed epochs of STEPS
--   steps in one fit call. Prints
--     luacnn batch=B threads=N steps=S epoch_s=t1,t2,... loss=l1,l2,... out=DIMS params=P tensors=K shapes=S
--   An epoch's time: shuffle, batch gather, forward, backward, Adam; no validation.
-- augment: datasets.augment{crop = 32, padding = 4, flip = true, mean, std} on one batch
--   of BATCH images, the median over REPEATS runs of 50 calls. Prints
--     luacnn augment batch=B threads=N us_per_batch=t
local T = require "luacnn"
local datasets = require "datasets"

local WARMUP = 3
local usage = "usage: luacnn [--threads N] bench/cifar_vgg.lua train BATCH STEPS EPOCHS | augment BATCH REPEATS"
local mode = arg[1]
local bs = math.tointeger(tonumber(arg[2] or ""))
local count = math.tointeger(tonumber(arg[3] or ""))
if not (mode == "train" or mode == "augment") or not bs or bs < 1 or not count or count < 1 then error(usage) end

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lib = dofile(here .. "/lib.lua")

T.manual_seed(0)

if mode == "augment" then
  local x = T.rand{bs, 3, 32, 32}
  local aug = datasets.augment{crop = 32, padding = 4, flip = true, mean = {0.4914, 0.4822, 0.4465},
                               std = {0.2470, 0.2435, 0.2616}}
  aug(x)
  local ts = {}
  for r = 1, count do
    local t0 = T.clock()
    for _ = 1, 50 do aug(x) end
    ts[r] = (T.clock() - t0) / 50
  end
  print(string.format("luacnn augment batch=%d threads=%d us_per_batch=%.1f", bs, T.get_num_threads(),
                      lib.med(ts) * 1e6))
  return
end

local epochs = math.tointeger(tonumber(arg[4] or ""))
if not epochs or epochs < 1 then error(usage) end
local model = assert(loadfile(here .. "/../models/cifar_vgg.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
lib.train_cifar_shaped(T, model, bs, count, epochs, WARMUP)
