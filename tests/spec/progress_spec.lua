-- The epoch progress display, driven by a fake clock into a fake output.
local Progress = require "train.progress"

local nan = 0 / 0

-- An output that collects what is written; flushes are counted.
local function fake_out()
  local out = { chunks = {}, flushes = 0 }
  function out:write(...)
    for _, s in ipairs { ... } do self.chunks[#self.chunks + 1] = s end
    return self
  end
  function out:flush() self.flushes = self.flushes + 1 end
  function out:text() return table.concat(self.chunks) end
  return out
end

-- A clock the test moves by hand.
local function fake_clock(start)
  local c = { t = start or 100 }
  c.fn = function() return c.t end
  return c
end

local function new(opts)
  local out, clock = fake_out(), fake_clock(opts.start)
  opts.start = nil
  opts.out, opts.clock = out, clock.fn
  return Progress.new(opts), out, clock
end

-- The lines of plain output (without the final newline's empty line).
local function lines(text)
  local t = {}
  for line in text:gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end

local TRAIN = { { "loss", 0.4 }, { "accuracy", 0.88 } }
local FINAL = { { "loss", 0.3115 }, { "accuracy", 0.9117 }, { "val_loss", 0.1664 },
  { "val_accuracy", 0.9502 } }

describe("Progress.format_duration", function()
  it("shows seconds below a minute, m:ss and h:mm:ss above", function()
    assert.equal("0s", Progress.format_duration(0))
    assert.equal("3s", Progress.format_duration(3.2))
    assert.equal("4s", Progress.format_duration(3.5))
    assert.equal("59s", Progress.format_duration(59.4))
    assert.equal("1:00", Progress.format_duration(59.6))
    assert.equal("1:02", Progress.format_duration(62))
    assert.equal("59:59", Progress.format_duration(3599))
    assert.equal("1:02:03", Progress.format_duration(3723))
    assert.equal("27:46:40", Progress.format_duration(100000))
  end)

  it("prints nan and inf plainly and never a negative duration", function()
    assert.equal("nan", Progress.format_duration(nan))
    assert.equal("inf", Progress.format_duration(math.huge))
    assert.equal("0s", Progress.format_duration(-2))
  end)

  it("rejects what is not a number", function()
    assert.has_error(function() Progress.format_duration("3") end,
      "Progress.format_duration: seconds must be a number, got string")
  end)
end)

describe("Progress.format_step_time", function()
  it("picks us, ms or s so the number is 1 to 999", function()
    assert.equal("450us/step", Progress.format_step_time(450e-6))
    assert.equal("8ms/step", Progress.format_step_time(0.008))
    assert.equal("120ms/step", Progress.format_step_time(0.12))
    assert.equal("2s/step", Progress.format_step_time(2.2))
    assert.equal("0us/step", Progress.format_step_time(0))
  end)

  it("moves to the larger unit where rounding would show 1000", function()
    assert.equal("1ms/step", Progress.format_step_time(0.9996e-3))
    assert.equal("999us/step", Progress.format_step_time(0.999e-3))
    assert.equal("1s/step", Progress.format_step_time(0.9996))
  end)
end)

describe("Progress.format_value", function()
  it("uses 4 decimals, scientific notation for tiny values, and plain nan/inf", function()
    assert.equal("0.3100", Progress.format_value(0.31))
    assert.equal("12.0000", Progress.format_value(12))
    assert.equal("0.0000", Progress.format_value(0))
    assert.equal("3.0000e-05", Progress.format_value(3e-5))
    assert.equal("nan", Progress.format_value(nan))
    assert.equal("nan", Progress.format_value(-nan))
    assert.equal("inf", Progress.format_value(math.huge))
    assert.equal("-inf", Progress.format_value(-math.huge))
  end)
end)

describe("Progress on a terminal", function()
  it("prints the epoch header once, then redraws one line with \\r and clear-to-end", function()
    local p, out, clock = new { total = 250, epoch = 1, epochs = 10, tty = true, start = 0 }
    clock.t = 2.4
    p:update(120, TRAIN)
    assert.equal("Epoch 1/10\n\r120/250 [=============>................] - ETA: 3s"
      .. " - loss: 0.4000 - accuracy: 0.8800\27[K", out:text())
    clock.t = 2.5
    p:update(125, TRAIN)
    local text = out:text()
    assert.equal(1, select(2, text:gsub("Epoch 1/10", "")))
    assert.equal(1, select(2, text:gsub("\n", "")), "redraws must not add lines")
    assert.truthy(text:find("\r125/250 [==============>...............] - ETA: 3s", 1, true))
  end)

  it("redraws at most every 50 ms, but always the last step", function()
    local p, out, clock = new { total = 250, epoch = 1, epochs = 10, tty = true, start = 0 }
    local draws = function() return select(2, out:text():gsub("\r", "")) end
    clock.t = 1
    p:update(1)
    assert.equal(1, draws())
    for step = 2, 9 do -- 8 more batches within 40 ms
      clock.t = 1 + (step - 1) * 0.005
      p:update(step)
    end
    assert.equal(1, draws())
    clock.t = 1.06
    p:update(10)
    assert.equal(2, draws())
    assert.truthy(out:text():find("\r 10/250 ", 1, true))
    clock.t = 1.07
    p:update(250)
    assert.equal(3, draws())
    assert.truthy(out:text():find("\r250/250 [==============================] - 1s 4ms/step\27[K",
      1, true))
  end)

  it("finishes with the full bar, total time, time per step and all metrics", function()
    local p, out, clock = new { total = 250, epoch = 1, epochs = 10, tty = true, start = 10 }
    clock.t = 11
    p:update(250, TRAIN)
    clock.t = 12
    p:finish(FINAL)
    local text = out:text()
    local last = text:sub(#text - 150):match("\r([^\r]*)$")
    assert.equal("250/250 [==============================] - 2s 8ms/step - loss: 0.3115"
      .. " - accuracy: 0.9117 - val_loss: 0.1664 - val_accuracy: 0.9502\27[K\n", last)
    assert.is_true(out.flushes >= 2, "a \\r line needs a flush to show")
  end)

  it("counts elapsed time from Progress.new", function()
    local p, out, clock = new { total = 4, tty = true, start = 50 }
    clock.t = 138 -- e.g. the first batch took long
    p:update(4)
    p:finish()
    assert.truthy(out:text():find("4/4 [==============================] - 1:28 22s/step\27[K\n",
      1, true), out:text())
  end)

  it("times only the steps run since a resumed epoch started (initial =)", function()
    local p, out, clock = new { total = 250, epoch = 2, epochs = 10, tty = true, start = 0, initial = 150 }
    clock.t = 1
    p:update(200, TRAIN)
    assert.truthy(out:text():find("\r200/250 [=======================>......] - ETA: 1s", 1, true), out:text())
    clock.t = 2
    p:update(250)
    p:finish()
    assert.truthy(out:text():find("250/250 [==============================] - 2s 20ms/step\27[K\n", 1, true),
      out:text())
  end)

  it("shows a bar of the given width, and no header without an epoch", function()
    local p, out, clock = new { total = 10, width = 10, tty = true, start = 0 }
    clock.t = 1
    p:update(3)
    assert.equal("\r 3/10 [==>.......] - ETA: 2s\27[K", out:text())
  end)

  it("handles an unknown total: no bar or ETA while running, the count at the end", function()
    local p, out, clock = new { epoch = 2, epochs = 3, tty = true, start = 0 }
    clock.t = 1.4
    p:update(7, { { "loss", 1.5 } })
    assert.equal("Epoch 2/3\n\r7/Unknown - 1s 200ms/step - loss: 1.5000\27[K", out:text())
    clock.t = 2
    p:finish()
    local text = out:text()
    local final = "\r7/7 [==============================] - 2s 286ms/step\27[K\n"
    assert.equal(final, text:sub(-#final))
  end)

  it("prints nan and inf metrics plainly", function()
    local p, out, clock = new { total = 2, tty = true, start = 0 }
    clock.t = 1
    p:update(2, { { "loss", -nan }, { "grad", math.huge } })
    p:finish({ { "loss", nan }, { "val_loss", -math.huge } })
    local text = out:text()
    assert.truthy(text:find("loss: nan - grad: inf", 1, true))
    assert.truthy(text:find("loss: nan - val_loss: -inf\27[K\n", 1, true))
    assert.falsy(text:find("-nan", 1, true))
  end)
end)

describe("Progress into a log", function()
  it("prints the header and one summary line for a short epoch, without \\r or escapes", function()
    local p, out, clock = new { total = 250, epoch = 1, epochs = 10, tty = false, start = 0 }
    for step = 1, 250 do
      clock.t = step * 0.008
      p:update(step, TRAIN)
    end
    p:finish(FINAL)
    local text = out:text()
    assert.falsy(text:find("\r", 1, true))
    assert.falsy(text:find("\27", 1, true))
    assert.same({ "Epoch 1/10",
      "250/250 - 2s 8ms/step - loss: 0.3115 - accuracy: 0.9117 - val_loss: 0.1664"
        .. " - val_accuracy: 0.9502" }, lines(text))
  end)

  it("prints a plain progress line at most every 30 s in a long epoch", function()
    local p, out, clock = new { total = 100, epoch = 3, epochs = 5, tty = false, start = 0 }
    for step = 1, 100 do
      clock.t = step -- one second a step
      p:update(step, { { "loss", 1 / step } })
    end
    clock.t = 100
    p:finish({ { "loss", 0.01 } })
    assert.same({
      "Epoch 3/5",
      "Epoch 3/5  30/100 - ETA: 1:10 - loss: 0.0333",
      "Epoch 3/5  60/100 - ETA: 40s - loss: 0.0167",
      "Epoch 3/5  90/100 - ETA: 10s - loss: 0.0111",
      "100/100 - 1:40 1s/step - loss: 0.0100",
    }, lines(out:text()))
  end)

  it("flushes each line so logs are current", function()
    local p, out = new { total = 1, epoch = 1, tty = false }
    p:update(1)
    p:finish()
    assert.equal(2, out.flushes)
    assert.equal("Epoch 1\n", out.chunks[1])
  end)

  it("reports the last count when an epoch is cut short", function()
    local p, out, clock = new { total = 250, tty = false, start = 0 }
    clock.t = 1
    p:update(120)
    p:finish()
    assert.same({ "120/250 - 1s 8ms/step" }, lines(out:text()))
  end)

  it("is the default for outputs that are not io.stdout", function()
    local p = Progress.new { total = 3, out = fake_out(), clock = function() return 0 end }
    assert.is_false(p.tty)
  end)

  it("follows isatty(1) for io.stdout", function()
    local T = require "luacnn"
    local p = Progress.new { total = 3, clock = function() return 0 end }
    assert.equal(T.isatty(1), p.tty)
    assert.equal(io.stdout, p.out)
  end)
end)

describe("Progress errors", function()
  it("rejects unknown options and bad values when built", function()
    assert.has_error(function() Progress.new { totl = 3 } end, "Progress.new: unknown option 'totl'")
    assert.has_error(function() Progress.new { total = 0 } end,
      "Progress.new: total must be an integer >= 1 or nil, got 0")
    assert.has_error(function() Progress.new { total = 2.5 } end,
      "Progress.new: total must be an integer >= 1 or nil, got 2.5")
    assert.has_error(function() Progress.new { total = 3, epochs = 3 } end,
      "Progress.new: epochs given without epoch")
    assert.has_error(function() Progress.new { total = 3, clock = 5 } end,
      "Progress.new: clock must be a function returning seconds")
  end)

  it("rejects a count past the total, logs keyed by name, and use after finish", function()
    local p = new { total = 3, tty = false }
    assert.has_error(function() p:update(4) end, "Progress:update: done (4) exceeds total (3)")
    assert.has_error(function() p:update(-1) end,
      "Progress:update: done must be an integer >= 0, got -1")
    assert.has_error(function() p:update(1, { loss = 0.5 }) end,
      'Progress:update: logs must be an ordered list of {name, value} pairs such as '
        .. '{{"loss", 0.3}}, not a table keyed by name')
    assert.has_error(function() p:update(1, { { "loss", "0.5" } }) end,
      "Progress:update: logs[1] must be {name, number}, got {string, string}")
    p:finish()
    assert.has_error(function() p:update(3) end, "Progress:update: the epoch is already finished")
    assert.has_error(function() p:finish() end, "Progress:finish: the epoch is already finished")
  end)
end)
