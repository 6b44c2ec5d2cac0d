-- Shape helpers shared by the layers: formatting and per-sample shape checks.
local M = {}

-- "[32,784]" for {32,784}; "[N,784]" when batch is the string "N".
function M.str(shape, batch)
  local parts = {}
  if batch then parts[1] = batch end
  for i = 1, #shape do parts[#parts + 1] = tostring(shape[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

function M.of(t)
  local s = {}
  for i = 1, t:dim() do s[i] = t:size(i) end
  return s
end

-- The per-sample shape of a batch tensor (all dims but the first).
function M.sample(t)
  local s = {}
  for i = 2, t:dim() do s[i - 1] = t:size(i) end
  return s
end

function M.equal(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

function M.numel(shape)
  local n = 1
  for i = 1, #shape do n = n * shape[i] end
  return n
end

-- Checks that batch tensor x has per-sample shape `expected`; returns an error message
-- naming both shapes (and a hint when x looks like one sample without its batch dim).
function M.check_input(x, expected)
  local got = M.of(x)
  local sample = M.sample(x)
  if M.equal(sample, expected) then return nil end
  local msg = string.format("input has shape %s, expected %s", M.str(got), M.str(expected, "N"))
  if M.equal(got, expected) then
    msg = msg .. " (missing batch dimension? use x:unsqueeze(1) for one sample)"
  end
  return msg
end

function M.copy(s)
  local c = {}
  for i = 1, #s do c[i] = s[i] end
  return c
end

return M
