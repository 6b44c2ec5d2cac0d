-- The per-epoch progress display of model:fit, in the style of Keras' Progbar.
--
--   local p = Progress.new{total = 250, epoch = 1, epochs = 10}
--   p:update(done, {{"loss", 0.31}, {"accuracy", 0.91}})   -- after each batch
--   p:finish(logs)                                          -- end of epoch, with val_ metrics
--
-- On a terminal one line is redrawn in place ("\r" ... "\27[K") at most every 50 ms.
-- Into a log file or a pipe nothing is redrawn: a plain line at most every 30 s during a
-- long epoch, and one summary line at the end, so CI logs stay short and readable.
local Progress = {}
Progress.__index = Progress

local REDRAW_INTERVAL = 0.05 -- seconds between terminal redraws
local LOG_INTERVAL = 30 -- seconds between plain progress lines

local OPTIONS = {
  total = true, epoch = true, epochs = true, out = true, tty = true, width = true, clock = true, initial = true,
}

local function is_whole(v)
  return math.type(v) == "integer" or (math.type(v) == "float" and v == math.floor(v) and v == v
    and math.abs(v) ~= math.huge)
end

local function check_count(where, name, v, min, allow_nil)
  if v == nil and allow_nil then return nil end
  if not is_whole(v) or v < min then
    error(string.format("%s: %s must be an integer >= %d%s, got %s", where, name, min,
      allow_nil and " or nil" or "", tostring(v)), 3)
  end
  return math.tointeger(v)
end

-- A metric value with 4 decimals; tiny non-zero values in scientific notation so that a
-- loss of 3e-5 does not read as 0.0000. nan and inf print the same on every platform.
function Progress.format_value(v)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if v ~= 0 and math.abs(v) < 1e-3 then return string.format("%.4e", v) end
  return string.format("%.4f", v)
end

-- Seconds as Keras shows an ETA: "3s", "1:02", "1:02:03" (rounded to the second).
function Progress.format_duration(seconds)
  if type(seconds) ~= "number" then
    error("Progress.format_duration: seconds must be a number, got " .. type(seconds), 2)
  end
  if seconds ~= seconds then return "nan" end
  if seconds == math.huge then return "inf" end
  local s = math.tointeger(math.floor(math.max(seconds, 0) + 0.5))
  if s >= 3600 then
    return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60)
  elseif s >= 60 then
    return string.format("%d:%02d", s // 60, s % 60)
  end
  return string.format("%ds", s)
end

-- Time per step in the unit that gives a number of 1 to 999: "450us/step", "8ms/step",
-- "2s/step". The unit switches where rounding would show 1000 of the smaller one.
function Progress.format_step_time(seconds)
  if type(seconds) ~= "number" then
    error("Progress.format_step_time: seconds must be a number, got " .. type(seconds), 2)
  end
  if seconds ~= seconds then return "nan/step" end
  if seconds == math.huge then return "inf/step" end
  seconds = math.max(seconds, 0)
  if seconds * 1e6 < 999.5 then return string.format("%.0fus/step", seconds * 1e6) end
  if seconds * 1e3 < 999.5 then return string.format("%.0fms/step", seconds * 1e3) end
  return string.format("%.0fs/step", seconds)
end

-- " - loss: 0.3115 - accuracy: 0.9117" from an ordered list of {name, value} pairs.
local function format_logs(where, logs)
  if logs == nil then return "" end
  if type(logs) ~= "table" then
    error(where .. ": logs must be a list of {name, value} pairs, got " .. type(logs), 3)
  end
  if #logs == 0 and next(logs) ~= nil then
    error(where .. ": logs must be an ordered list of {name, value} pairs such as " ..
      '{{"loss", 0.3}}, not a table keyed by name', 3)
  end
  local parts = {}
  for i, entry in ipairs(logs) do
    local name, value = type(entry) == "table" and entry[1], type(entry) == "table" and entry[2]
    if type(name) ~= "string" or type(value) ~= "number" then
      error(string.format("%s: logs[%d] must be {name, number}, got {%s, %s}", where, i,
        type(name), type(value)), 3)
    end
    parts[#parts + 1] = " - " .. name .. ": " .. Progress.format_value(value)
  end
  return table.concat(parts)
end

-- Keras' bar: "=" for finished steps, ">" at the head while running, "." for the rest.
local function bar(done, total, width)
  local filled = total > 0 and math.floor(width * done / total) or width
  local s = ""
  if filled > 0 then
    s = string.rep("=", filled - 1) .. (done < total and ">" or "=")
  end
  return "[" .. s .. string.rep(".", width - filled) .. "]"
end

-- Progress.new{total=, epoch=, epochs=, out=, tty=, width=, clock=, initial=}; see the top of
-- the file. total = nil means the number of steps is unknown: no bar and no ETA until finish.
-- initial: steps already done when this display starts (an epoch resumed from a
-- checkpoint); times per step and the ETA count only the steps run since.
function Progress.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("Progress.new: expected a table of options", 2) end
  for k in pairs(opts) do
    if not OPTIONS[k] then error("Progress.new: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local self = setmetatable({}, Progress)
  self.total = check_count("Progress.new", "total", opts.total, 1, true)
  self.epoch = check_count("Progress.new", "epoch", opts.epoch, 1, true)
  self.epochs = check_count("Progress.new", "epochs", opts.epochs, 1, true)
  if self.epochs and not self.epoch then
    error("Progress.new: epochs given without epoch", 2)
  end
  self.width = check_count("Progress.new", "width", opts.width or 30, 1, false)
  self.initial = check_count("Progress.new", "initial", opts.initial or 0, 0, false)
  self.out = opts.out or io.stdout
  if type(self.out) ~= "table" and type(self.out) ~= "userdata" then
    error("Progress.new: out must be a file or an object with :write, got " .. type(self.out), 2)
  end
  self.clock = opts.clock or require("luacnn").clock
  if type(self.clock) ~= "function" then
    error("Progress.new: clock must be a function returning seconds", 2)
  end
  if opts.tty ~= nil then
    self.tty = opts.tty and true or false
  elseif self.out == io.stdout then
    self.tty = require("luacnn").isatty(1)
  elseif self.out == io.stderr then
    self.tty = require("luacnn").isatty(2)
  else
    self.tty = false
  end
  self.start = self.clock()
  self.last_draw = nil -- clock of the last terminal redraw
  self.last_log = self.start -- clock of the last plain line (or the start)
  self.done = self.initial
  self.header_done = false
  self.finished = false
  return self
end

function Progress:_write(s)
  self.out:write(s)
  -- a terminal is line-buffered and a pipe fully buffered: "\r" lines and log lines
  -- would otherwise show up late or all at once
  if self.out.flush then self.out:flush() end
end

function Progress:_header_text()
  if not self.epoch then return nil end
  if self.epochs then return string.format("Epoch %d/%d", self.epoch, self.epochs) end
  return string.format("Epoch %d", self.epoch)
end

function Progress:_header()
  if self.header_done then return end
  self.header_done = true
  local h = self:_header_text()
  if h then self:_write(h .. "\n") end
end

-- "120/250", the count padded to the width of the total so the line does not jump.
function Progress:_count(done, total)
  if not total then return string.format("%d/Unknown", done) end
  return string.format("%" .. #tostring(total) .. "d/%d", done, total)
end

-- " - 2s 8ms/step": elapsed time, and the time per step once a step is done.
function Progress:_timing(now, done)
  local elapsed = now - self.start
  local s = " - " .. Progress.format_duration(elapsed)
  local run = done - self.initial
  if run > 0 then s = s .. " " .. Progress.format_step_time(elapsed / run) end
  return s
end

-- " - ETA: 3s" while running with a known total; elapsed time otherwise.
function Progress:_eta(now, done)
  if self.total and done < self.total then
    local run = done - self.initial
    if run <= 0 then return "" end
    local eta = (now - self.start) / run * (self.total - done)
    return " - ETA: " .. Progress.format_duration(eta)
  end
  return self:_timing(now, done)
end

-- update(done, logs): done is the number of steps finished in this epoch.
function Progress:update(done, logs)
  if self.finished then error("Progress:update: the epoch is already finished", 2) end
  if not is_whole(done) or done < 0 then
    error("Progress:update: done must be an integer >= 0, got " .. tostring(done), 2)
  end
  if self.total and done > self.total then
    error(string.format("Progress:update: done (%d) exceeds total (%d)", done, self.total), 2)
  end
  done = math.tointeger(done)
  local metrics = format_logs("Progress:update", logs)
  self.done = done
  local now = self.clock()
  self:_header()
  if self.tty then
    -- the last step is always drawn: validation may run for a while after it
    if self.last_draw and now - self.last_draw < REDRAW_INTERVAL and done ~= self.total then
      return
    end
    self.last_draw = now
    local line = self:_count(done, self.total)
    if self.total then line = line .. " " .. bar(done, self.total, self.width) end
    self:_write("\r" .. line .. self:_eta(now, done) .. metrics .. "\27[K")
  else
    if now - self.last_log < LOG_INTERVAL then return end
    self.last_log = now
    local prefix = self:_header_text()
    prefix = prefix and prefix .. " " or ""
    self:_write(prefix .. self:_count(done, self.total) .. self:_eta(now, done) .. metrics .. "\n")
  end
end

-- finish(logs): the epoch's summary line with the last reported count, total time and
-- time per step; logs usually add the val_ metrics.
function Progress:finish(logs)
  if self.finished then error("Progress:finish: the epoch is already finished", 2) end
  local metrics = format_logs("Progress:finish", logs)
  self.finished = true
  local now = self.clock()
  local done = self.done
  local total = self.total or done -- an unknown total is known now
  self:_header()
  local count = self:_count(done, total)
  if self.tty then
    self:_write("\r" .. count .. " " .. bar(done, total, self.width) .. self:_timing(now, done)
      .. metrics .. "\27[K\n")
  else
    self:_write(count .. self:_timing(now, done) .. metrics .. "\n")
  end
end

return Progress
