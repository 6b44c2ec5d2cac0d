-- The luacnn side of bench/inception: one Inception module (3a) of models/inception.lua,
-- forward and backward on its own. Run by bench/inception; on its own:
--   luacnn --threads N bench/inception.lua BATCH STEPS
-- The module: 192x28x28 in, branches 1x1 64 | 1x1 96 -> 3x3 128 | 1x1 16 -> 5x5 32 |
-- 3x3/1 max pool -> 1x1 32, each convolution with bias and ReLU, joined to 256x28x28
-- (163,696 parameters). Input N(0,1) [BATCH,192,28,28], output gradient N(0,1); no input
-- gradient (compute_input_grad off, as fit does for a first layer; the PyTorch side's
-- input does not require one). WARMUP (2) steps, then STEPS timed steps; a step is
-- zero_grad (not timed), forward, backward. Prints
--   luacnn batch=B threads=N steps=S fwdbwd_s=t1,... fwd_s=t1,... out=DIMS params=P tensors=K shapes=S
-- fwdbwd_s: the whole step; fwd_s: its forward alone (training mode, as in the step).
local T = require "luacnn"

local WARMUP = 2
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lib = dofile(here .. "/lib.lua")
local bs, steps = lib.int_args(2, "luacnn [--threads N] bench/inception.lua BATCH STEPS")

T.manual_seed(0)
local model = assert(loadfile(here .. "/../models/inception.lua"))()
model:train()
model.compute_input_grad = false
local x = T.randn{bs, 192, 28, 28}
local y = model:forward(x)
local dy = T.randn(y:size())

local fwdbwd, fwd = {}, {}
for s = 1 - WARMUP, steps do
  model:zero_grad()
  local t0 = T.clock()
  model:forward(x)
  local t1 = T.clock()
  model:backward(x, dy)
  local t2 = T.clock()
  if s >= 1 then fwdbwd[s], fwd[s] = t2 - t0, t1 - t0 end
end
print(string.format("luacnn batch=%d threads=%d steps=%d fwdbwd_s=%s fwd_s=%s out=%s %s peak_rss_kb=%d", bs,
                    T.get_num_threads(), steps, lib.csv(fwdbwd), lib.csv(fwd), lib.dims(y:size()),
                    lib.workload(model:parameters()), lib.peak_rss_kb()))
