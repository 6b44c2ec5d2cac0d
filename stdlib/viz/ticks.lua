-- Axis ticks at round numbers: steps of 1, 2 or 5 times a power of ten, and labels
-- that show those numbers exactly ("0.3", not "0.30000000000000004").
local ticks = {}

local EPS = 1e-9

-- The smallest 1-2-5 step at least `raw`; returns the step and its power of ten.
function ticks.nice_step(raw)
  if not (raw > 0 and raw < math.huge) then
    error("ticks.nice_step: step must be a positive finite number, got " .. tostring(raw), 2)
  end
  local e = math.floor(math.log(raw, 10))
  local f = raw / 10.0 ^ e
  -- math.log can land just below a power of ten; move to the next decade then
  if f >= 10 - EPS then e, f = e + 1, f / 10 end
  local m
  if f <= 1 + EPS then m = 1
  elseif f <= 2 + EPS then m = 2
  elseif f <= 5 + EPS then m = 5
  else m, e = 1, e + 1 end
  return m * 10.0 ^ e, math.tointeger(e)
end

-- The 1-2-5 step after `step` (1 -> 2 -> 5 -> 10).
local function next_step(step, e)
  local m = step / 10.0 ^ e
  if m < 1.5 then return 2 * 10.0 ^ e, e end
  if m < 3.5 then return 5 * 10.0 ^ e, e end
  return 10.0 ^ (e + 1), e + 1
end

-- The 1-2-5 step before `step` (10 -> 5 -> 2 -> 1).
local function prev_step(step, e)
  local m = step / 10.0 ^ e
  if m > 7.5 then return 5 * 10.0 ^ e, e end
  if m > 3.5 then return 2 * 10.0 ^ e, e end
  if m > 1.5 then return 10.0 ^ e, e end
  return 5 * 10.0 ^ (e - 1), e - 1
end

-- The ticks inside an axis range [lo, hi] (lo < hi), about `intervals` steps apart.
--   opts.integer: steps of at least 1, for counts such as epochs.
--   opts.min_step: a step at least this large (labels need room).
-- Returns {values = {...}, step = s, exponent = e}: the step is 1, 2 or 5 times 10^e.
function ticks.linear(lo, hi, intervals, opts)
  opts = opts or {}
  if not (lo < hi) or lo == -math.huge or hi == math.huge then
    error(string.format("ticks.linear: need finite lo < hi, got %s, %s", tostring(lo), tostring(hi)), 2)
  end
  intervals = math.max(1, intervals)
  -- the largest 1-2-5 step at most the even split, so an axis gets about `intervals`
  -- ticks (rounding up could leave a 2.2-unit axis with 3); but never below min_step
  local raw = (hi - lo) / intervals
  local step, e = ticks.nice_step(raw)
  if step > raw * (1 + EPS) then step, e = prev_step(step, e) end
  if opts.min_step and step < opts.min_step then step, e = ticks.nice_step(opts.min_step) end
  if opts.integer and step < 1 then step, e = 1.0, 0 end
  local first, last
  while true do
    first = math.ceil(lo / step - EPS)
    last = math.floor(hi / step + EPS)
    -- the nice step can be a little below the raw one; keep the count near what was asked
    if last - first <= intervals + 1 then break end
    step, e = next_step(step, e)
  end
  local values = {}
  -- i * step, not a running sum: no drift, and 0 is exactly 0
  for i = first, last do values[#values + 1] = i * step end
  return { values = values, step = step, exponent = e }
end

-- A tick label: as many decimals as the step needs; very large or very small numbers
-- in scientific notation.
function ticks.label(value, step_exponent)
  if step_exponent <= -5 or math.abs(value) >= 1e6 then
    return string.format("%g", value)
  end
  local decimals = math.max(0, -step_exponent)
  local s = string.format("%." .. decimals .. "f", value)
  if s:match("^%-0%.?0*$") then s = s:sub(2) end -- no "-0.0"
  return s
end

return ticks
