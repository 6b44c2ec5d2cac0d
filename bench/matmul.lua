-- luacnn side of bench/matmul.
--   luacnn bench/matmul.lua N REPS   T.matmul through the Lua API at size N: GFLOP/s (median),
--                                    into a reused output (as a training step does) and into
--                                    a new result each call
--   luacnn bench/matmul.lua ops REPS the fixed cost of one small op through Lua, in ns
local T = require "luacnn"
local what = arg[1] or "256"
local reps = tonumber(arg[2]) or 7

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

if what ~= "ops" then
  local n = assert(math.tointeger(tonumber(what)), "size must be an integer")
  local a, b = T.rand{n, n}, T.rand{n, n}
  local out = T.empty{n, n}
  local flop = 2.0 * n * n * n
  local inner = math.floor(2e8 / flop) + 1
  T.matmul(a, b, out)
  local reuse, fresh = {}, {}
  for r = 1, reps do
    local t0 = T.clock()
    for _ = 1, inner do T.matmul(a, b, out) end
    reuse[r] = flop * inner / (T.clock() - t0) / 1e9
    t0 = T.clock()
    for _ = 1, inner do local _ = T.matmul(a, b) end
    fresh[r] = flop * inner / (T.clock() - t0) / 1e9
  end
  print(string.format("%d %.2f %.2f", n, median(reuse), median(fresh)))
  return
end

-- fixed cost of one small op: a + b on 4-element tensors (allocates the result)
local x, y = T.ones{4}, T.ones{4}
local times = {}
local iters = 200000
for r = 1, reps do
  local t0 = T.clock()
  for _ = 1, iters do local _ = x + y end
  times[r] = (T.clock() - t0) / iters * 1e9
end
print(string.format("op_add4_ns %.0f", median(times)))
local o = T.empty{4}
for r = 1, reps do
  local t0 = T.clock()
  for _ = 1, iters do x:add_(y) end
  times[r] = (T.clock() - t0) / iters * 1e9
end
print(string.format("op_add4_inplace_ns %.0f", median(times)))
