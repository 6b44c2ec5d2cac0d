-- Where a training step of bench/lenet's network goes: the steps of Module:fit and
-- Module:train_step (stdlib/nn/fit.lua) written out with a clock around each phase, as
-- bench/mlp_step.lua does for the MLP, and in addition each layer's forward and backward
-- timed, with every T.kernels call charged to the layer that made it.
--   luacnn --threads N bench/lenet_step.lua [BATCH [EPOCHS]]      (default 64 1)
-- A warm-up of 100 steps through model:fit, then EPOCHS timed epochs over the 60,000
-- Fashion-MNIST images; prints microseconds per step for each phase, layer and kernel.
-- Clock reads cost ~0.05 us each, a few us per step in all (about 60 per step).
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

local clock = T.clock
-- the layer (or phase) running now; kernels are charged to it
local owner = "other"
local kernel_time, kernel_calls = {}, {}  -- [owner][kernel name]
local function charge(name, t)
  local kt, kc = kernel_time[owner], kernel_calls[owner]
  if not kt then
    kt, kc = {}, {}
    kernel_time[owner], kernel_calls[owner] = kt, kc
  end
  kt[name] = (kt[name] or 0) + t
  kc[name] = (kc[name] or 0) + 1
end
local K = T.kernels
for name, f in pairs(K) do
  if type(f) == "function" then
    local function done(t, ...)
      charge(name, clock() - t)
      return ...
    end
    K[name] = function(...) return done(clock(), f(...)) end
  end
end

-- each layer's forward and backward under a clock, as instance methods (Sequential calls
-- layer:forward and layer.backward through the instance)
local labels, fwd_time, bwd_time = {}, {}, {}
for i, layer in ipairs(model.layers) do
  local label = string.format("[%d] %s", i, layer:describe())
  labels[i], fwd_time[label], bwd_time[label] = label, 0, 0
  local forward, backward = layer.forward, layer.backward
  layer.forward = function(self, ...)
    local saved = owner
    owner = label
    local t = clock()
    local r = forward(self, ...)
    fwd_time[label] = fwd_time[label] + clock() - t
    owner = saved
    return r
  end
  layer.backward = function(self, ...)
    local saved = owner
    owner = label
    local t = clock()
    local r = backward(self, ...)
    bwd_time[label] = bwd_time[label] + clock() - t
    owner = saved
    return r
  end
end

-- as fit does: one flat parameter tensor, and no input gradient for the images
local P, G = model:flatten_parameters()
local params, grads = {P}, {G}
model.compute_input_grad = false
model:train()
local loss_fn, optimizer = model.loss_fn, model.optimizer
local steps = (n + bs - 1) // bs
local phases = {"shuffle", "gather", "zero_grad", "forward", "loss", "loss grad", "backward", "optimizer"}
local spent = {}
for _, p in ipairs(phases) do spent[p] = 0 end
local xbuf, ybuf = {}, {}
kernel_time, kernel_calls = {}, {}

local t_start = clock()
for _ = 1, epochs do
  local t0 = clock()
  owner = "shuffle"
  local order = T.randperm(n)
  spent.shuffle = spent.shuffle + clock() - t0
  for s = 1, steps do
    local t1 = clock()
    local first = (s - 1) * bs + 1
    local nb = math.min(bs, n - first + 1)
    local idx = order:narrow(1, first, nb)
    xbuf[nb] = xbuf[nb] or T.empty(nb, 1, 28, 28)
    ybuf[nb] = ybuf[nb] or T.empty(nb)
    owner = "gather"
    local xb = T.index_select(x, idx, xbuf[nb])
    local yb = T.index_select(y, idx, ybuf[nb])
    local t2 = clock()
    owner = "zero_grad"
    model:zero_grad()
    local t3 = clock()
    model:forward(xb)
    local t4 = clock()
    owner = "loss"
    local z = model:preactivation()
    loss_fn:forward_logits(z, yb)
    local t5 = clock()
    owner = "loss grad"
    local dz = loss_fn:backward_logits(z, yb)
    local t6 = clock()
    model:backward(xb, dz, true)
    local t7 = clock()
    owner = "optimizer"
    optimizer:step(params, grads)
    local t8 = clock()
    owner = "other"
    spent.gather = spent.gather + t2 - t1
    spent.zero_grad = spent.zero_grad + t3 - t2
    spent.forward = spent.forward + t4 - t3
    spent.loss = spent.loss + t5 - t4
    spent["loss grad"] = spent["loss grad"] + t6 - t5
    spent.backward = spent.backward + t7 - t6
    spent.optimizer = spent.optimizer + t8 - t7
  end
end
local total = clock() - t_start
local all = epochs * steps
local function us(t) return t / all * 1e6 end
local function pct(t) return 100 * t / total end

-- the kernels charged to one owner, slowest first, as "name us (calls)"
local function kernels_of(who)
  local kt, kc = kernel_time[who] or {}, kernel_calls[who] or {}
  local names = {}
  for name in pairs(kt) do names[#names + 1] = name end
  table.sort(names, function(a, b) return kt[a] > kt[b] end)
  local sum, parts = 0, {}
  for _, name in ipairs(names) do
    sum = sum + kt[name]
    parts[#parts + 1] = string.format("%s %.1f (%g)", name, us(kt[name]), kc[name] / all)
  end
  return sum, table.concat(parts, ", ")
end

-- the OpenBLAS core type is the word before MAX_THREADS in its config string
local core = T.blas_config():match("(%S+) MAX_THREADS") or T.blas_config()
print(string.format("batch %d, %d thread%s, OpenBLAS core %s: %.3f s/epoch, %.1f us/step (%d epoch%s, %d steps each)",
                    bs, T.get_num_threads(), T.get_num_threads() == 1 and "" or "s", core, total / epochs, us(total),
                    epochs, epochs == 1 and "" or "s", steps))
print("phases (us/step, share of the step):")
local accounted = 0
for _, p in ipairs(phases) do
  accounted = accounted + spent[p]
  print(string.format("  %-10s %8.1f %5.1f%%", p, us(spent[p]), pct(spent[p])))
end
print(string.format("  %-10s %8.1f %5.1f%%", "loop", us(total - accounted), pct(total - accounted)))

print("layers (us/step; 'in kernels' is the time inside T.kernels calls, the rest is Lua and buffers):")
print(string.format("  %-42s %8s %6s %8s %6s %10s", "layer", "forward", "%", "backward", "%", "in kernels"))
for _, label in ipairs(labels) do
  local ksum = kernels_of(label)
  print(string.format("  %-42s %8.1f %5.1f%% %8.1f %5.1f%% %10.1f", label, us(fwd_time[label]), pct(fwd_time[label]),
                      us(bwd_time[label]), pct(bwd_time[label]), us(ksum)))
end
print("kernels by layer and phase (us/step, calls/step in parentheses):")
local owners = {}
for _, label in ipairs(labels) do owners[#owners + 1] = label end
for _, p in ipairs{"shuffle", "gather", "zero_grad", "loss", "loss grad", "optimizer", "other"} do
  owners[#owners + 1] = p
end
for _, who in ipairs(owners) do
  local ksum, list = kernels_of(who)
  if ksum > 0 then print(string.format("  %-42s %s", who, list)) end
end
