-- The luacnn side of bench/vgg16: VGG-16 (models/vgg16.lua: torchvision's layout, 224x224,
-- 1000 classes, 138,357,544 parameters) training steps, timed, then the process's peak
-- resident set. Run by bench/vgg16; on its own:
--   luacnn --threads N bench/vgg16.lua BATCH STEPS [MOMENTUM]
-- A step: zero_grad (not timed), forward, cross-entropy on the logits, backward (no input
-- gradient, as fit), SGD (lr 0.01, momentum MOMENTUM, default 0: no optimizer state; 0.9
-- adds a velocity per parameter, 528 MiB, on both sides).
-- Input N(0,1) [BATCH,3,224,224], random labels 0..999. The weights start from the
-- layers' own uniform draws (init_weights = false; torchvision's normal draws of 138 million
-- numbers take seconds and change neither the time nor the memory of a step). WARMUP (1)
-- step, then STEPS timed steps. Prints
--   luacnn batch=B threads=N steps=S momentum=M fwd_s=... fwdbwd_s=... step_s=... peak_rss_kb=K
--     live_kb=K scratch_kb=K out=DIMS params=P tensors=K shapes=S
-- fwd_s: the forward; fwdbwd_s: forward, loss and backward; step_s: those and SGD;
-- peak_rss_kb: VmHWM of /proc/self/status after the last step (interpreter, libraries,
-- weights and gradients, the batch, and whatever the steps kept or allocated); live_kb:
-- the tensor memory luacnn holds then, scratch_kb: the kernels' workspace it keeps.
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"

local WARMUP = 1
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lib = dofile(here .. "/lib.lua")
local bs, steps = lib.int_args(2, "luacnn [--threads N] bench/vgg16.lua BATCH STEPS [MOMENTUM]")
local momentum = tonumber(arg[3] or "0") or error("usage: MOMENTUM is a number, got " .. arg[3], 0)

T.manual_seed(0)
local model = assert(loadfile(here .. "/../models/vgg16.lua"))({init_weights = false})
model:train()
model.compute_input_grad = false
local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD{lr = 0.01, momentum = momentum}
local params, grads = model:parameters()
local x = T.randn{bs, 3, 224, 224}
local labels = T.randint(0, 1000, {bs})

local fwd, fwdbwd, step, out = {}, {}, {}, nil
for s = 1 - WARMUP, steps do
  model:zero_grad()
  local t0 = T.clock()
  local logits = model:forward(x)
  local t1 = T.clock()
  criterion:forward(logits, labels)
  model:backward(x, criterion:backward(logits, labels))
  local t2 = T.clock()
  opt:step(params, grads)
  local t3 = T.clock()
  if s >= 1 then fwd[s], fwdbwd[s], step[s] = t1 - t0, t2 - t0, t3 - t0 end
  out = logits:size()
end
-- where the memory is after the last step: tensors luacnn holds (weights, gradients,
-- velocities, the layers' buffers) and the kernels' workspace kept between calls
collectgarbage()
local mem = T.memory_stats()
print(string.format("luacnn batch=%d threads=%d steps=%d momentum=%g fwd_s=%s fwdbwd_s=%s step_s=%s peak_rss_kb=%d "
                    .. "live_kb=%d scratch_kb=%d out=%s %s", bs, T.get_num_threads(), steps, momentum, lib.csv(fwd),
                    lib.csv(fwdbwd), lib.csv(step), lib.peak_rss_kb(), mem.live_bytes // 1024,
                    (mem.scratch_bytes or 0) // 1024, lib.dims(out), lib.workload(params)))
