-- What the drivers' summaries share (bench/mlp, bench/lenet): they run under lua5.4 and
-- load this file with dofile.
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

return M
