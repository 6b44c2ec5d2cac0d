-- Small helpers the specs share: files, shell quoting, text search, the assertions on
-- errors and gradient checks, and child processes.
local M = {}

-- busted's assert lives in each spec's environment, not in a required module's: this is
-- the same luassert, so the helpers' failures read as the spec's own. Plain assert() here
-- stays Lua's.
local luassert = require "luassert"

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

-- A fresh directory ${TMPDIR:-/tmp}/<name>-XXXXXX; remove_dir(path) deletes it and what it holds.
function M.temp_dir(name)
  local p = assert(io.popen("mktemp -d " .. M.quote((os.getenv("TMPDIR") or "/tmp") .. "/" .. name .. "-XXXXXX")))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

function M.remove_dir(path)
  os.execute("rm -rf " .. M.quote(path))
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

-- The message of f(), which must fail.
function M.error_of(f)
  local ok, err = pcall(f)
  luassert.is_false(ok, "expected an error")
  return tostring(err)
end

-- plain-text match (no Lua patterns), with the message in the failure output
function M.assert_contains(msg, part)
  luassert.is_truthy(msg:find(part, 1, true), string.format("%q does not contain %q", msg, part))
end

-- An assert_error_here(err, part) for the spec file `spec_name` ("fit_spec.lua"): the
-- message starts at a line of that spec and contains `part` verbatim.
function M.assert_error_in(spec_name)
  return function(err, part)
    luassert.matches(spec_name .. ":%d+: ", err)
    M.assert_contains(err, part)
  end
end

-- fn(...) must fail with `piece` in its message; returns the error.
function M.errors_with(piece, fn, ...)
  local ok, err = pcall(fn, ...)
  luassert.is_false(ok, "no error")
  luassert.is_true(M.has(tostring(err), piece), "missing '" .. piece .. "' in: " .. tostring(err))
  return err
end

-- Runs f with io.stderr replaced; returns what f wrote there and f's results.
function M.capture_stderr(f)
  local saved, written = io.stderr, {}
  io.stderr = {write = function(self, ...)
    for _, s in ipairs{...} do written[#written + 1] = tostring(s) end
    return self
  end}
  local res = table.pack(pcall(f))
  io.stderr = saved
  if not res[1] then error(res[2], 0) end
  return table.concat(written), table.unpack(res, 2, res.n)
end

-- An nn.gradcheck report: every parameter and the input checked, each within tol
-- (relative error, 1e-2 unless given). gradcheck_spec has a stricter one of its own.
function M.assert_gradcheck(report, what, tol)
  tol = tol or 1e-2
  for _, p in ipairs(report.params) do
    luassert.is_true(p.checked > 0, what .. ": nothing checked in " .. p.name)
    luassert.is_true(p.max_rel_error < tol,
                     string.format("%s: %s max relative error %.3g", what, p.name, p.max_rel_error))
  end
  luassert.is_table(report.input, what .. ": the input gradient was not checked")
  luassert.is_true(report.input.max_rel_error < tol,
                   string.format("%s: input max relative error %.3g", what, report.input.max_rel_error))
  luassert.is_true(report.ok, what)
end

-- distinct values 0.02 apart in random order: no two inputs of a max-pooling window are
-- within a gradcheck step of each other, so no window changes its argmax
function M.distinct(shape)
  local T = require "luacnn"
  local n = 1
  for _, v in ipairs(shape) do n = n * v end
  return (T.randperm(n) * 0.02 - 0.01 * n):view(shape)
end

-- Minor page faults of this process so far (field 10 of /proc/self/stat).
function M.minor_faults()
  local stat = M.slurp("/proc/self/stat")
  local fields = {}
  for f in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = f end
  return tonumber(fields[8])
end

function M.sh(cmd) assert(os.execute(cmd), cmd) end

local SOURCE_DIR = os.getenv("LUACNN_SOURCE_DIR") or "."

-- A fake project root tmpdir/name with its own copy of stdlib/datasets (and no data
-- folder yet).
function M.fake_project(tmpdir, name)
  local root = tmpdir .. "/" .. name
  M.sh("mkdir -p " .. M.quote(root .. "/stdlib/datasets"))
  M.sh("cp " .. M.quote(SOURCE_DIR) .. "/stdlib/datasets/*.lua " .. M.quote(root .. "/stdlib/datasets/"))
  return root
end

-- Runs code in a child lua5.4 (script and output in tmpdir) whose stdlib comes first from
-- root/stdlib, with the shell environment prefix env and LUACNN_DATA unset. Returns
-- stdout, stderr, status.
function M.child_lua(tmpdir, root, env, code)
  local script, out, err = tmpdir .. "/child.lua", tmpdir .. "/child.out", tmpdir .. "/child.err"
  M.spit(script, code)
  local path = root .. "/stdlib/?.lua;" .. root .. "/stdlib/?/init.lua;" .. SOURCE_DIR .. "/stdlib/?.lua;"
    .. SOURCE_DIR .. "/stdlib/?/init.lua;;"
  local cmd = string.format("env -u LUACNN_DATA LUA_PATH=%s %s %s %s >%s 2>%s", M.quote(path), env or "",
                            os.getenv("LUA54") or "lua5.4", M.quote(script), M.quote(out), M.quote(err))
  local _, how, status = os.execute(cmd)
  luassert.are.equal("exit", how, cmd)
  return M.slurp(out), M.slurp(err), status
end

-- The tensor tests/fixtures/<case>_<name>.idx, written by tests/fixtures/make_fixtures.py.
function M.fixture(case, name)
  return require("luacnn").load_idx(SOURCE_DIR .. "/tests/fixtures/" .. case .. "_" .. name .. ".idx")
end

-- vm.overcommit_memory (1: the kernel grants any request), or nil where it cannot be read.
function M.overcommit_mode()
  local f = io.open("/proc/sys/vm/overcommit_memory")
  local mode = f and f:read("n")
  if f then f:close() end
  return mode
end

-- The model builder in models/name.lua.
function M.model_file(name)
  return assert(loadfile(SOURCE_DIR .. "/models/" .. name .. ".lua"))
end

return M
