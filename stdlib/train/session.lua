-- The checkpoint session of `luacnn train` (docs/checkpoint.md). The host calls
-- start(opts, script) before the script runs and finish() after it returns; in between,
-- every model:fit gets a callback (through train.hooks) that
--   * on the first fit, with --resume PATH: restores weights, optimizer state, the
--     generator and the position in the data, so fit continues where the run stopped;
--   * with --checkpoint PATH: saves every --save-every N epochs (default 1) or N steps
--     ("100steps"), and once more at the end;
--   * on SIGINT/SIGTERM: lets the batch finish, saves (to --checkpoint PATH, else
--     --resume PATH, else ./<script>.ckpt), and raises an exit request: the host prints
--     the message and exits with 128 + the signal number (130 SIGINT, 143 SIGTERM).
--     A second signal kills the process at once (the C handler, vm/bind_checkpoint.c).
local T = require "luacnn"
local hooks = require "train.hooks"

local M = {}

local current  -- the session of this process, set by start

local function bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return T.getcwd() .. "/" .. path:gsub("^%./", "")
end

local UNITS = {epoch = "epochs", epochs = "epochs", step = "steps", steps = "steps"}

-- --save-every N | Nepochs | Nsteps -> {n =, unit = "epochs" | "steps"}
function M.parse_every(v)
  if v == nil then return nil end
  local n, unit = nil, "epochs"
  if math.type(v) == "integer" then
    n = v
  elseif type(v) == "string" then
    local digits, word = v:match("^(%d+)%s*(%a+)$")
    n, unit = tonumber(digits), UNITS[word or ""]
  end
  if not n or not unit or n < 1 then
    error(string.format("--save-every: expected N or Nepochs (every N epochs) or Nsteps (every N training steps) "
                        .. "with N a positive integer, got '%s'", tostring(v)), 0)
  end
  return {n = math.tointeger(n), unit = unit}
end

-- A file option; false (--no-resume, --resume false) means none.
local function path_option(opts, name)
  local v = opts[name]
  if v == nil or v == false then return nil end
  if type(v) ~= "string" or v == "" then
    error(string.format("--%s needs a file name (got %s)", name, tostring(v)), 0)
  end
  return v
end

function M.start(opts, script)
  opts = opts or {}
  local checkpoint = path_option(opts, "checkpoint")
  local resume = path_option(opts, "resume")
  local every = M.parse_every(opts.save_every)
  if every and not checkpoint then error("--save-every needs --checkpoint PATH (where to save)", 0) end
  if resume then
    local f, err = io.open(resume, "rb")
    if not f then error("--resume: cannot open " .. tostring(err), 0) end
    f:close()
  end
  if checkpoint then
    local ok, err = pcall(T.checkpoint_probe, checkpoint)
    if not ok then error("--checkpoint: " .. bare(err), 0) end
  end
  local base = (script or "train"):match("([^/]+)$"):gsub("%.lua$", "")
  current = {
    path = absolute(checkpoint or resume or (base .. ".ckpt")),
    explicit = checkpoint ~= nil,
    every = every or (checkpoint and {n = 1, unit = "epochs"}) or nil,
    resume = resume,
    resumed = false,
    script = script,
  }
  if not M.hooked then
    hooks.fit[#hooks.fit + 1] = function(model, fit_opts) return M.callback(model, fit_opts) end
    M.hooked = true
  end
  return current
end

function M.finish()
  if current and current.resume and not current.resumed then
    error(string.format("--resume %s: the script never called model:fit, so nothing was resumed", current.resume), 0)
  end
end

-- The command line again with --resume PATH instead of any --resume, for the interrupt
-- message: the host options too (--threads: the same thread count resumes bit for bit).
local function resume_command(path)
  local function q(s)
    if s:match("^[%w%./_=:,+-]+$") then return s end
    return "'" .. s:gsub("'", "'\\''") .. "'"
  end
  local words = {"luacnn"}
  if arg and arg[-1] then
    local first = -1
    while arg[first - 1] do first = first - 1 end
    for k = first + 1, -1 do words[#words + 1] = q(arg[k]) end  -- arg[first] is the program
  else
    words[#words + 1] = "train"
  end
  words[#words + 1] = q(arg and arg[0] or current.script or "SCRIPT")
  local i = 1
  while arg and arg[i] do
    local a = arg[i]
    if a == "--resume" then
      i = i + 2
    elseif a:match("^%-%-resume=") then
      i = i + 1
    else
      words[#words + 1] = q(a)
      i = i + 1
    end
  end
  words[#words + 1] = "--resume"
  words[#words + 1] = q(path)
  return table.concat(words, " ")
end

local ExitRequest = {__tostring = function(e) return e.message end}

function M.callback(model, fit_opts)
  local s = current
  if not s then return nil end
  local ckpt = require "nn.checkpoint"
  local cb = {}
  local last_saved  -- "epoch:step" of the last save, so the end does not save the same state twice

  local function save(ts)
    ckpt.save_training(model, s.path, ts)
    last_saved = ts.epoch .. ":" .. ts.step .. ":" .. tostring(ts.epoch_done)
  end

  local function stop(ts, signame, signum)
    local where = string.format("epoch %d, step %d/%d", ts.epoch, ts.step, ts.steps)
    local ok, err = pcall(save, ts)
    T.watch_signals(false)
    -- a progress bar redrawn in place on a terminal has no newline yet
    if T.isatty(1) then io.stdout:write("\n") end
    io.stdout:flush()
    if not ok then
      error(setmetatable({exit_status = 1, message = string.format(
        "luacnn: interrupted by %s at %s, but the checkpoint could not be written: %s", signame, where, bare(err))},
        ExitRequest), 0)
    end
    error(setmetatable({exit_status = 128 + signum, message = string.format(
      "luacnn: interrupted by %s at %s: checkpoint written to %s\nresume with: %s", signame, where, s.path,
      resume_command(s.path))}, ExitRequest), 0)
  end

  function cb.on_train_begin(m, ts)
    T.watch_signals(true)
    if s.resume and not s.resumed then
      s.resumed = true
      local ok, resume = pcall(ckpt.restore_training, m, s.resume, ts, ts.params)
      if not ok then error(string.format("--resume %s: %s", s.resume, bare(resume)), 0) end
      ts.resume = resume
      local at = resume.epoch_done and string.format("after epoch %d", resume.epoch)
                 or string.format("epoch %d, step %d/%d", resume.epoch, resume.step, ts.steps)
      print(string.format("resumed from %s: %s", s.resume, at))
      for _, note in ipairs(resume.notes) do io.stderr:write("note: ", note, "\n") end
    end
    if s.explicit then
      print(string.format("checkpoints: every %d %s to %s", s.every.n,
                          s.every.n == 1 and s.every.unit:gsub("s$", "") or s.every.unit, s.path))
    end
    io.stdout:flush()
  end

  -- The last step of an epoch is left to on_epoch_end, which runs after the validation:
  -- a checkpoint taken there holds a finished epoch.
  function cb.on_batch_end(step, _, m, ts)
    if step >= ts.steps then return end
    local signame, signum = T.pending_signal()
    if signame then stop(ts, signame, signum) end
    if s.every and s.every.unit == "steps" and m.optimizer.iterations % s.every.n == 0 then save(ts) end
  end

  function cb.on_epoch_end(epoch, _, m, ts)
    local signame, signum = T.pending_signal()
    if signame then stop(ts, signame, signum) end
    local every = s.every
    if every and ((every.unit == "epochs" and epoch % every.n == 0)
                  or (every.unit == "steps" and m.optimizer.iterations % every.n == 0)) then
      save(ts)
    end
  end

  function cb.on_train_end(history, _, ts)
    T.watch_signals(false)
    -- the final state, unless training stopped on a NaN loss (the last good save stays)
    if s.explicit and history.stopped ~= "nan" and last_saved ~= ts.epoch .. ":" .. ts.step .. ":"
        .. tostring(ts.epoch_done) then
      save(ts)
    end
  end

  function cb.on_train_abort()
    T.watch_signals(false)
  end

  return cb
end

return M
