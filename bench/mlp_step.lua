-- Where a training step of bench/mlp's network goes: the steps of Module:fit and
-- Module:train_step (stdlib/nn/fit.lua) written out with a clock around each phase, and
-- every call of a T.kernels function timed as well.
--   luacnn --threads N bench/mlp_step.lua [BATCH [EPOCHS]]      (default 32 2)
-- One warm-up epoch through model:fit, then EPOCHS timed epochs; prints microseconds per
-- step for each phase and kernel. Clock reads cost ~0.05 us each, ~1 us per step in all.
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

local clock = T.clock
local K = T.kernels
local kernel_time, kernel_calls = {}, {}
for name, f in pairs(K) do
  if type(f) == "function" then
    kernel_time[name], kernel_calls[name] = 0, 0
    -- pass the kernel's results on (conv2d_cols_numel and the size queries return some)
    local function done(t, ...)
      kernel_time[name] = kernel_time[name] + clock() - t
      kernel_calls[name] = kernel_calls[name] + 1
      return ...
    end
    K[name] = function(...) return done(clock(), f(...)) end
  end
end

-- as fit does: one flat parameter tensor, and no input gradient for the images
local P, G = model:flatten_parameters()
local params, grads = {P}, {G}
model.compute_input_grad = false
local loss_fn, optimizer = model.loss_fn, model.optimizer
local n = x:size(1)
local steps = (n + bs - 1) // bs
local phases = {"shuffle", "gather", "zero_grad", "forward", "loss", "loss grad", "backward", "optimizer"}
local spent = {}
for _, p in ipairs(phases) do spent[p] = 0 end
local xbuf, ybuf = {}, {}
for name in pairs(kernel_time) do kernel_time[name], kernel_calls[name] = 0, 0 end

local t_start = clock()
for _ = 1, epochs do
  local t0 = clock()
  local order = T.randperm(n)
  spent.shuffle = spent.shuffle + clock() - t0
  for s = 1, steps do
    local t1 = clock()
    local first = (s - 1) * bs + 1
    local nb = math.min(bs, n - first + 1)
    local idx = order:narrow(1, first, nb)
    xbuf[nb] = xbuf[nb] or T.empty(nb, 28, 28)
    ybuf[nb] = ybuf[nb] or T.empty(nb)
    local xb = T.index_select(x, idx, xbuf[nb])
    local yb = T.index_select(y, idx, ybuf[nb])
    local t2 = clock()
    model:zero_grad()
    local t3 = clock()
    model:forward(xb)
    local t4 = clock()
    local z = model:preactivation()
    loss_fn:forward_logits(z, yb)
    local t5 = clock()
    local dz = loss_fn:backward_logits(z, yb)
    local t6 = clock()
    model:backward(xb, dz, true)
    local t7 = clock()
    optimizer:step(params, grads)
    local t8 = clock()
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

-- the OpenBLAS core type is the word before MAX_THREADS in its config string
local core = T.blas_config():match("(%S+) MAX_THREADS") or T.blas_config()
print(string.format("batch %d, %d thread%s, OpenBLAS core %s: %.3f s/epoch, %.1f us/step (%d epochs)", bs,
                    T.get_num_threads(), T.get_num_threads() == 1 and "" or "s", core, total / epochs, us(total), epochs))
local accounted = 0
for _, p in ipairs(phases) do
  accounted = accounted + spent[p]
  print(string.format("  %-12s %7.1f us %5.1f%%", p, us(spent[p]), 100 * spent[p] / total))
end
print(string.format("  %-12s %7.1f us %5.1f%%", "loop", us(total - accounted), 100 * (total - accounted) / total))
print("kernels inside those phases:")
local names = {}
for name, t in pairs(kernel_time) do
  if kernel_calls[name] > 0 then names[#names + 1] = name end
end
table.sort(names, function(a, b) return kernel_time[a] > kernel_time[b] end)
for _, name in ipairs(names) do
  print(string.format("  %-20s %7.1f us %5.1f%%  (%g calls/step)", name, us(kernel_time[name]),
                      100 * kernel_time[name] / total, kernel_calls[name] / all))
end
