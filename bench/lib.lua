-- What the benchmarks share on the Lua side. The drivers' summaries run under lua5.4 and
-- load this file with dofile (bench/mlp, bench/lenet, bench/cifar_vgg); the luacnn sides
-- load it the same way (dofile(here .. "/lib.lua")): nothing here needs luacnn.
local M = {}

-- The median of a list of numbers (the mean of the two middle ones for an even count);
-- the list is left as it was.
function M.med(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- "1.5,2,3" -> {1.5, 2, 3}
function M.nums(csv)
  local t = {}
  for v in csv:gmatch("[^,]+") do t[#t + 1] = tonumber(v) end
  return t
end

-- The first n command-line arguments of a luacnn side as positive integers, or an error
-- with the usage line.
function M.int_args(n, usage)
  local v = {}
  for i = 1, n do
    v[i] = math.tointeger(tonumber(arg[i] or ""))
    if not v[i] or v[i] < 1 then error("usage: " .. usage, 0) end
  end
  return table.unpack(v)
end

-- {1.5, 2} -> "1.5000,2.0000" (the measurement lists the sides print)
function M.csv(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = string.format("%.4f", v) end
  return table.concat(s, ",")
end

-- The process's peak resident set in KiB: VmHWM of /proc/self/status (-1 where there is none).
function M.peak_rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return -1 end
  for line in f:lines() do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then
      f:close()
      return tonumber(kb)
    end
  end
  f:close()
  return -1
end

-- timed_fit(T, model, x, y, bs, epochs, warm): a warm-up fit on the first `warm` samples,
-- then `epochs` epochs over all of x in one fit call (shuffled, no validation, silent);
-- returns the seconds of each epoch (from the end of the one before, or the start of
-- training, to its end: shuffle, batch gather, forward, backward, optimizer) and each
-- epoch's loss as fit reports it. T is luacnn's module, model a compiled model.
function M.timed_fit(T, model, x, y, bs, epochs, warm)
  model:fit(x:narrow(1, 1, warm), y:narrow(1, 1, warm), {epochs = 1, batch_size = bs, verbose = 0})
  local marks, losses = {}, {}
  local timer = {
    on_train_begin = function() marks[1] = T.clock() end,
    on_epoch_end = function(_, logs)
      marks[#marks + 1] = T.clock()
      losses[#losses + 1] = logs.loss
    end,
  }
  model:fit(x, y, {epochs = epochs, batch_size = bs, verbose = 0, callbacks = {timer}})
  local times = {}
  for e = 1, #marks - 1 do times[e] = marks[e + 1] - marks[e] end
  return times, losses
end

-- train_cifar_shaped(T, model, bs, steps, epochs, warmup): the luacnn side of a training
-- benchmark on CIFAR-shaped data (bench/cifar_vgg, bench/resnet18): bs*steps images
-- [3,32,32] of N(0,1) values with random labels 0..9, timed_fit with `warmup` warm-up steps
-- and `epochs` timed epochs of `steps` steps, then one line
--   luacnn batch=B threads=N steps=S epoch_s=t1,... loss=l1,... out=DIMS params=P tensors=K shapes=S peak_rss_kb=K
function M.train_cifar_shaped(T, model, bs, steps, epochs, warmup)
  local n = bs * steps
  local x, y = T.randn{n, 3, 32, 32}, T.randint(0, 10, {n})
  local times, losses = M.timed_fit(T, model, x, y, bs, epochs, math.min(n, warmup * bs))
  print(string.format("luacnn batch=%d threads=%d steps=%d epoch_s=%s loss=%s out=%dx%s %s peak_rss_kb=%d", bs,
                      T.get_num_threads(), steps, M.csv(times), M.csv(losses), bs,
                      M.dims(model:output_shape{3, 32, 32}), M.workload(model:parameters()), M.peak_rss_kb()))
end

-- A shape list as the sides print it: {32, 256, 28, 28} -> "32x256x28x28".
function M.dims(shape) return table.concat(shape, "x") end

-- The workload fields both sides print, so the driver can check they built the same network:
-- "params=P tensors=K shapes=S" for a list of parameter tensors (model:parameters()), S
-- their shapes sorted as strings (PyTorch's sorted() orders them the same way), so the order
-- of registration does not matter.
function M.workload(params)
  local s, total = {}, 0
  for i, p in ipairs(params) do
    local shape = p:size()
    s[i] = M.dims(shape)
    local n = 1
    for _, d in ipairs(shape) do n = n * d end
    total = total + n
  end
  table.sort(s)
  return string.format("params=%d tensors=%d shapes=%s", total, #s, table.concat(s, ","))
end

-- Units of the measures report() prints: how a measured value (seconds, or KiB for
-- memory) becomes the printed number, and whether more is better.
local UNITS = {
  ms = {scale = function(v) return 1000 * v end, fmt = "%.1f", higher = false},
  ["images/s"] = {scale = function(v, per) return per / v end, fmt = "%.1f", higher = true},
  MiB = {scale = function(v) return v / 1024 end, fmt = "%.0f", higher = false},
}

-- report(BENCH, RESULTS, ROUNDS, MEASURE...): the table of medians and ratios of a driver
-- that ran lib.sh's alternate(). RESULTS lines: "L|P ROUND THREADS key=value ...", one per
-- side and round. A MEASURE is "key|label|unit[|per]": key names a comma-separated list
-- of values in the lines (seconds per step or epoch; peak_rss_kb: KiB), unit is ms, MiB
-- or images/s (per / seconds: per is the images one value covers). Checks that every line
-- has the same params, tensors, shapes and out fields (the two sides built the same
-- network); prints, per measure and thread count, luacnn's and PyTorch's medians over all
-- values, their ratio (luacnn / PyTorch: below 1 luacnn is better for ms and MiB, above 1
-- for images/s) and the paired ratio (median over rounds of that round's ratio); the
-- median last loss of each side when the lines have loss=; then one line per measure with
-- each side at its best thread count, what bench/run collects:
--   ratio: BENCH LABEL: luacnn V UNIT (N threads)  PyTorch V UNIT (N threads, CFG)  luacnn/PyTorch R
-- Returns false when the workloads differ.
function M.report(bench, path, rounds, ...)
  rounds = tonumber(rounds)
  local measures = {}
  for i, spec in ipairs{...} do
    local key, label, unit, per = spec:match("^([^|]+)|([^|]+)|([^|]+)|?(.*)$")
    assert(UNITS[unit], "report: unknown unit in " .. spec)
    measures[i] = {key = key, label = label, unit = unit, u = UNITS[unit], per = tonumber(per)}
  end
  local cell, threads, workload, cfg, losses = {}, {}, {}, {}, {}
  for line in io.lines(path) do
    local side, r, th, rest = line:match("^([LP]) (%d+) (%d+) (.*)$")
    if side then
      local f = {}
      for k, v in rest:gmatch("([%w_]+)=(%S+)") do f[k] = v end
      if not cell[th] then
        cell[th] = {}
        threads[#threads + 1] = th
      end
      for _, m in ipairs(measures) do
        if f[m.key] then
          local c = cell[th][m.key] or {L = {all = {}, rounds = {}}, P = {all = {}, rounds = {}}}
          cell[th][m.key] = c
          local vs = M.nums(f[m.key])
          for j, v in ipairs(vs) do vs[j] = m.u.scale(v, m.per) end
          for _, v in ipairs(vs) do table.insert(c[side].all, v) end
          c[side].rounds[tonumber(r)] = M.med(vs)
        end
      end
      workload[#workload + 1] = {side = side, th = th, text = string.format("params=%s tensors=%s out=%s shapes=%s",
                                 f.params, f.tensors, f.out, f.shapes)}
      if f.cfg then cfg[th] = f.cfg end
      if f.loss then
        local ls = M.nums(f.loss)
        losses[side] = losses[side] or {}
        table.insert(losses[side], ls[#ls])
      end
    end
  end

  local same = #workload > 0
  for _, w in ipairs(workload) do same = same and w.text == workload[1].text end
  if same then
    local w = workload[1].text
    print(string.format("workload check: both sides built the same network (%s parameters in %s tensors of the same "
                        .. "shapes, output %s)", w:match("params=(%S+)"), w:match("tensors=(%S+)"),
                        w:match("out=(%S+)")))
  else
    print("workload check FAILED: the sides differ in parameters, shapes or output:")
    for _, w in ipairs(workload) do print(string.format("  %s %s threads: %s", w.side, w.th, w.text)) end
  end
  print()
  print(string.format("medians over %d rounds; ratio = luacnn / PyTorch (ms, MiB: below 1 luacnn is better; images/s: "
                      .. "above 1); paired = median over rounds of that round's ratio.", rounds))
  print(string.format("%-28s %7s | %10s | %10s %-24s | %6s %6s", "measure", "threads", "luacnn", "PyTorch",
                      "PyTorch configuration", "ratio", "paired"))
  local best = {}
  for _, m in ipairs(measures) do
    best[m] = {}
    for _, th in ipairs(threads) do
      local c = cell[th][m.key]
      if c and #c.L.all > 0 and #c.P.all > 0 then
        local l, p = M.med(c.L.all), M.med(c.P.all)
        local pr = {}
        for r = 1, rounds do
          if c.L.rounds[r] and c.P.rounds[r] then pr[#pr + 1] = c.L.rounds[r] / c.P.rounds[r] end
        end
        print(string.format("%-28s %7s | " .. m.u.fmt:gsub("%%", "%%10") .. " | " .. m.u.fmt:gsub("%%", "%%10")
                            .. " %-24s | %6.3f %6.3f", m.label .. " (" .. m.unit .. ")", th, l, p, cfg[th] or "?",
                            l / p, M.med(pr)))
        local b = best[m]
        local better = function(v, old) return old == nil or (m.u.higher and v > old or not m.u.higher and v < old) end
        if better(l, b.l) then b.l, b.lth = l, th end
        if better(p, b.p) then b.p, b.pth = p, th end
      end
    end
  end
  if losses.L and losses.P then
    print(string.format("last epoch's loss, median over runs: luacnn %.4f, PyTorch %.4f (the same data and "
                        .. "optimizer; the initial weights differ)", M.med(losses.L), M.med(losses.P)))
  end
  print()
  for _, m in ipairs(measures) do
    local b = best[m]
    if b.l and b.p then M.ratio_line(bench, m.label, m.unit, m.u.fmt, b.l, b.lth, b.p, b.pth, cfg[b.pth]) end
  end
  return same
end

-- The line bench/run collects from every benchmark: one measure with each side at its best,
--   ratio: BENCH LABEL: luacnn V UNIT (N threads)  PyTorch V UNIT (N threads, CFG)  luacnn/PyTorch R
-- fmt formats V ("%.1f"); lth, pth: the thread counts (strings or numbers).
function M.ratio_line(bench, label, unit, fmt, l, lth, p, pth, cfg)
  local function nth(th) return th .. (tostring(th) == "1" and " thread" or " threads") end
  print(string.format("ratio: %s %s: luacnn " .. fmt .. " %s (%s)  PyTorch " .. fmt .. " %s (%s, %s)  "
                      .. "luacnn/PyTorch %.3f", bench, label, l, unit, nth(lth), p, unit, nth(pth), cfg or "?", l / p))
end

return M
