-- The luacnn side of bench/vgg16_mem: VGG-16 (models/vgg16.lua, 224x224, 1000 classes)
-- training steps at one batch size, then the process's peak resident set. Run by
-- bench/vgg16_mem; on its own:
--   luacnn --threads N bench/vgg16_mem.lua BATCH STEPS
-- A step: zero_grad, forward, cross-entropy on the logits, backward, plain SGD (lr 0.01,
-- no momentum: no optimizer state on either side). Inputs N(0,1), labels 0..BATCH-1.
-- Prints
--   luacnn batch=B threads=N steps=S step_s=t1,t2,... build_s=t peak_rss_kb=K params=P
-- (wall-clock seconds; peak_rss_kb is VmHWM of /proc/self/status after the last step).
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"

local batch, steps = math.tointeger(tonumber(arg[1] or 8)), math.tointeger(tonumber(arg[2] or 2))
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

local t0 = T.clock()
-- the initial values do not change the memory, and uniform draws are quicker than normal ones
local model = assert(loadfile(here .. "/../models/vgg16.lua"))({init_weights = false})
local build_s = T.clock() - t0
model:train()
local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD{lr = 0.01}
local params, grads = model:parameters()
local x = T.randn{batch, 3, 224, 224}
local labels = T.arange(0, batch)

local function peak_kb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
  return -1
end

local times = {}
for s = 1, steps do
  local t = T.clock()
  model:zero_grad()
  local logits = model:forward(x)
  criterion:forward(logits, labels)
  model:backward(x, criterion:backward(logits, labels))
  opt:step(params, grads)
  times[s] = string.format("%.3f", T.clock() - t)
end
print(string.format("luacnn batch=%d threads=%d steps=%d step_s=%s build_s=%.3f peak_rss_kb=%d params=%d", batch,
                    T.get_num_threads(), steps, table.concat(times, ","), build_s, peak_kb(), model:num_parameters()))
