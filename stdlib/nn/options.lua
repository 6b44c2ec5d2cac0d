-- Option tables checked by name: a misspelled key (bacth_size=64) is an error naming the
-- call, the key and the nearest known option, not a setting silently ignored.
local M = {}

-- The number of single-character edits (insert, delete, replace, swap of neighbours)
-- between two short strings.
local function distance(a, b)
  local prev2, prev, cur = nil, {}, nil
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
        cur[j] = math.min(cur[j], prev2[j - 2] + 1)
      end
    end
    prev2, prev = prev, cur
  end
  return prev[#b]
end

-- check(what, opts, known, level): errors (at the caller's `level`) when opts has a key
-- that is not in the list `known`. what names the call ("fit").
function M.check(what, opts, known, level)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      local best, best_d = nil, math.huge
      if type(k) == "string" then
        for _, name in ipairs(known) do
          local d = distance(k, name)
          if d < best_d then best, best_d = name, d end
        end
      end
      local sorted = {table.unpack(known)}
      table.sort(sorted)
      local key = type(k) == "string" and k or "[" .. tostring(k) .. "]"
      local hint = best and best_d <= math.max(2, #k // 3) and string.format(" (did you mean %s?)", best) or ""
      error(string.format("%s: unknown option %s%s; the options are %s", what, key, hint, table.concat(sorted, ", ")),
            level + 1)
    end
  end
end

return M
