-- Where a training step's time goes: the steps of Module:fit and Module:train_step
-- (stdlib/nn/fit.lua) written out with a clock around each phase, every T.kernels call
-- timed and charged to the layer or phase that made it, and optionally each layer's
-- forward and backward timed. bench/mlp_step.lua and bench/lenet_step.lua load it with
-- dofile and print what they need of it. Clock reads cost ~0.05 us each.
local M = {}

M.PHASES = {"shuffle", "gather", "zero_grad", "forward", "loss", "loss grad", "backward", "optimizer"}

-- run(T, model, x, y, bs, epochs, time_layers): EPOCHS timed epochs of a compiled
-- Sequential model on x, y (call after a warm-up fit). Returns a profile:
--   total (seconds), steps (per epoch), all (steps in all), spent[phase] (seconds),
--   kernel_time[owner][kernel], kernel_calls[owner][kernel] (owner: a layer label or a
--   phase), labels (the layers' labels in order) and, with time_layers, fwd[label] and
--   bwd[label] (seconds). T.kernels and the layers stay wrapped afterwards.
function M.run(T, model, x, y, bs, epochs, time_layers)
  local clock = T.clock
  local prof = {kernel_time = {}, kernel_calls = {}, labels = {}, fwd = {}, bwd = {}, spent = {}}
  local owner = "other"  -- the layer or phase running now; kernels are charged to it
  local function charge(name, t)
    local kt, kc = prof.kernel_time[owner], prof.kernel_calls[owner]
    if not kt then
      kt, kc = {}, {}
      prof.kernel_time[owner], prof.kernel_calls[owner] = kt, kc
    end
    kt[name] = (kt[name] or 0) + t
    kc[name] = (kc[name] or 0) + 1
  end
  for name, f in pairs(T.kernels) do
    if type(f) == "function" then
      -- pass the kernel's results on (conv2d_cols_numel and the size queries return some)
      local function done(t, ...)
        charge(name, clock() - t)
        return ...
      end
      T.kernels[name] = function(...) return done(clock(), f(...)) end
    end
  end

  -- each layer's forward and backward under a clock, as instance methods (Sequential
  -- calls layer:forward and layer:backward through the instance)
  for i, layer in ipairs(model.layers) do
    local label = string.format("[%d] %s", i, layer:describe())
    prof.labels[i], prof.fwd[label], prof.bwd[label] = label, 0, 0
    local function timed(method, into)
      local f = layer[method]
      layer[method] = function(self, ...)
        local saved = owner
        owner = label
        local t = clock()
        local r = f(self, ...)
        into[label] = into[label] + clock() - t
        owner = saved
        return r
      end
    end
    if time_layers then
      timed("forward", prof.fwd)
      timed("backward", prof.bwd)
    end
  end

  -- as fit does: one flat parameter tensor, and no input gradient for the inputs
  local P, G = model:flatten_parameters()
  local params, grads = {P}, {G}
  model.compute_input_grad = false
  model:train()
  local loss_fn, optimizer = model.loss_fn, model.optimizer
  local n = x:size(1)
  local steps = (n + bs - 1) // bs
  local spent = prof.spent
  for _, p in ipairs(M.PHASES) do spent[p] = 0 end
  local xbuf, ybuf = {}, {}
  local sample = x:size()
  table.remove(sample, 1)

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
      xbuf[nb] = xbuf[nb] or T.empty(nb, table.unpack(sample))
      ybuf[nb] = ybuf[nb] or T.empty(nb)
      owner = "gather"
      local xb = T.index_select(x, idx, xbuf[nb])
      local yb = T.index_select(y, idx, ybuf[nb])
      local t2 = clock()
      owner = "zero_grad"
      model:zero_grad()
      local t3 = clock()
      owner = "forward"
      model:forward(xb)
      local t4 = clock()
      owner = "loss"
      local z = model:preactivation()
      loss_fn:forward_logits(z, yb)
      local t5 = clock()
      owner = "loss grad"
      local dz = loss_fn:backward_logits(z, yb)
      local t6 = clock()
      owner = "backward"
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
  prof.total = clock() - t_start
  prof.steps, prof.all = steps, epochs * steps
  return prof
end

-- microseconds per step, and share of the whole run in percent
local function us(prof, t) return t / prof.all * 1e6 end
local function pct(prof, t) return 100 * t / prof.total end

-- The title line: batch, threads, OpenBLAS core, seconds per epoch, microseconds per step.
function M.print_title(T, prof, bs, epochs)
  -- the OpenBLAS core type is the word before MAX_THREADS in its config string
  local core = T.blas_config():match("(%S+) MAX_THREADS") or T.blas_config()
  local th = T.get_num_threads()
  print(string.format("batch %d, %d thread%s, OpenBLAS core %s: %.3f s/epoch, %.1f us/step (%d epoch%s, %d steps each)",
                      bs, th, th == 1 and "" or "s", core, prof.total / epochs, us(prof, prof.total), epochs,
                      epochs == 1 and "" or "s", prof.steps))
end

function M.print_phases(prof)
  print("phases (us/step, share of the step):")
  local accounted = 0
  for _, p in ipairs(M.PHASES) do
    accounted = accounted + prof.spent[p]
    print(string.format("  %-10s %8.1f %5.1f%%", p, us(prof, prof.spent[p]), pct(prof, prof.spent[p])))
  end
  local rest = prof.total - accounted
  print(string.format("  %-10s %8.1f %5.1f%%", "loop", us(prof, rest), pct(prof, rest)))
end

-- The kernels charged to the owners for which keep(owner) is true, summed over them:
-- their total seconds and {name = {t =, calls =}}.
local function kernels(prof, keep)
  local sum, by = 0, {}
  for who, kt in pairs(prof.kernel_time) do
    if keep(who) then
      for name, t in pairs(kt) do
        local k = by[name] or {t = 0, calls = 0}
        by[name] = k
        k.t, k.calls = k.t + t, k.calls + prof.kernel_calls[who][name]
        sum = sum + t
      end
    end
  end
  return sum, by
end

local function slowest_first(by)
  local names = {}
  for name in pairs(by) do names[#names + 1] = name end
  table.sort(names, function(a, b) return by[a].t > by[b].t end)
  return names
end

-- Every kernel over the whole step, slowest first.
function M.print_kernels(prof)
  print("kernels (us/step, share of the step, calls/step):")
  local _, by = kernels(prof, function() return true end)
  for _, name in ipairs(slowest_first(by)) do
    print(string.format("  %-20s %8.1f %5.1f%%  (%g calls/step)", name, us(prof, by[name].t), pct(prof, by[name].t),
                        by[name].calls / prof.all))
  end
end

-- Each layer's forward and backward time (run with time_layers), then the kernels by
-- layer and phase.
function M.print_layers(prof)
  local function one(who) return function(w) return w == who end end
  print("layers (us/step; 'in kernels' is the time inside T.kernels calls, the rest is Lua and buffers):")
  print(string.format("  %-42s %8s %6s %8s %6s %10s", "layer", "forward", "%", "backward", "%", "in kernels"))
  for _, label in ipairs(prof.labels) do
    local ksum = kernels(prof, one(label))
    print(string.format("  %-42s %8.1f %5.1f%% %8.1f %5.1f%% %10.1f", label, us(prof, prof.fwd[label]),
                        pct(prof, prof.fwd[label]), us(prof, prof.bwd[label]), pct(prof, prof.bwd[label]),
                        us(prof, ksum)))
  end
  print("kernels by layer and phase (us/step, calls/step in parentheses):")
  local owners = {table.unpack(prof.labels)}
  for _, p in ipairs(M.PHASES) do owners[#owners + 1] = p end
  owners[#owners + 1] = "other"
  for _, who in ipairs(owners) do
    local ksum, by = kernels(prof, one(who))
    if ksum > 0 then
      local parts = {}
      for _, name in ipairs(slowest_first(by)) do
        parts[#parts + 1] = string.format("%s %.1f (%g)", name, us(prof, by[name].t), by[name].calls / prof.all)
      end
      print(string.format("  %-42s %s", who, table.concat(parts, ", ")))
    end
  end
end

return M
