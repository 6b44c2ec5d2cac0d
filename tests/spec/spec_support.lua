-- Small helpers the specs share: files, shell quoting, text search.
local M = {}

-- A sanitizer build's spec environment turns leak checks off for the uninstrumented
-- lua5.4 running busted; the luacnn binary is instrumented, so specs that run it turn
-- them back on with this prefix.
M.LEAK_CHECK = "ASAN_OPTIONS=detect_leaks=1"

function M.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.has(text, fragment)
  return text:find(fragment, 1, true) ~= nil
end

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

function M.spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- A tensor's shape as a plain list.
function M.dims(t)
  local size, out = t:size(), {}
  for i = 1, #size do out[i] = size[i] end
  return out
end

-- A temporary file holding `contents`; remove_temp_files() deletes all of them.
local temp_files = {}

function M.temp_file(contents)
  local path = os.tmpname()
  temp_files[#temp_files + 1] = path
  M.spit(path, contents)
  return path
end

function M.remove_temp_files()
  for _, path in ipairs(temp_files) do os.remove(path) end
  temp_files = {}
end

return M
