-- Where a training step of bench/resnet18's or bench/cifar_vgg's network goes: every
-- T.kernels call timed and charged to its kernel (convolutions also to their shape), the
-- rest of the step (Lua, buffers, tensor methods such as Add's copy) as "other".
--   luacnn --threads N bench/zoo_step.lua resnet18|cifar_vgg [STEPS]     (default 10)
-- A warm-up fit of 3 steps, then STEPS steps through model:fit on N(0,1) images with
-- random labels, batch 64 (the benchmarks' workload); prints ms per step for each kernel
-- and convolution shape, largest first.
local T = require "luacnn"
local optim = require "optim"

local which, steps = arg[1], math.tointeger(tonumber(arg[2] or "10"))
if (which ~= "resnet18" and which ~= "cifar_vgg") or not steps or steps < 1 then
  error("usage: luacnn [--threads N] bench/zoo_step.lua resnet18|cifar_vgg [STEPS]")
end
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local bs = 64
T.manual_seed(0)
local model
if which == "resnet18" then
  model = assert(loadfile(here .. "/../models/resnet.lua"))({depth = 18, classes = 10, input_shape = {3, 32, 32}})
  model:compile{optimizer = optim.SGD{lr = 0.01, momentum = 0.9}, loss = "sparse_categorical_crossentropy"}
else
  model = assert(loadfile(here .. "/../models/cifar_vgg.lua"))()
  model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy"}
end
local x, y = T.randn{bs * steps, 3, 32, 32}, T.randint(0, 10, {bs * steps})
model:fit(x:narrow(1, 1, 3 * bs), y:narrow(1, 1, 3 * bs), {epochs = 1, batch_size = bs, verbose = 0})

local clock = T.clock
local time, calls = {}, {}
local function charge(name, t)
  time[name] = (time[name] or 0) + t
  calls[name] = (calls[name] or 0) + 1
end
local K = T.kernels
local function conv_label(name, xt, wt, yt)
  local s, w = xt:size(), wt:size()
  return string.format("%s %dx%dx%d k%d %d->%d out %dx%d", name, s[2], s[3], s[4], w[3], w[2], w[1],
                       yt:size(3), yt:size(4))
end
for name, f in pairs(K) do
  if type(f) == "function" then
    local function done(label, t, ...)
      charge(label, clock() - t)
      return ...
    end
    if name == "conv2d_forward" then
      K[name] = function(yt, xt, wt, ...) return done(conv_label("conv fwd", xt, wt, yt), clock(), f(yt, xt, wt, ...)) end
    elseif name == "conv2d_backward" then
      K[name] = function(dx, dw, db, dy, xt, wt, ...)
        return done(conv_label("conv bwd", xt, wt, dy), clock(), f(dx, dw, db, dy, xt, wt, ...))
      end
    else
      K[name] = function(...) return done(name, clock(), f(...)) end
    end
  end
end

local t0 = clock()
model:fit(x, y, {epochs = 1, batch_size = bs, verbose = 0})
local total = clock() - t0
local names, ksum = {}, 0
for k, v in pairs(time) do
  names[#names + 1] = k
  ksum = ksum + v
end
time.other, calls.other = total - ksum, steps
names[#names + 1] = "other"
table.sort(names, function(a, b) return time[a] > time[b] end)
print(string.format("%s, batch %d, %d threads, %d steps: %.1f ms per step (%.1f images/s)", which, bs,
                    T.get_num_threads(), steps, 1000 * total / steps, bs * steps / total))
for _, k in ipairs(names) do
  print(string.format("%8.2f ms %5.1f%%  %4d calls  %s", 1000 * time[k] / steps, 100 * time[k] / total,
                      calls[k] // steps, k))
end
