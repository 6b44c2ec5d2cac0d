-- SVG training charts: well-formed XML, the right elements, round ticks, escaping,
-- the awkward data (one point, constant, nan/inf, nothing) and atomic saving.
local plot = require "viz.plot"
local viz = require "viz"
local support = require "spec_support"
local slurp = support.slurp

local nan = 0 / 0

-- A small XML well-formedness checker: one root element, balanced tags, quoted
-- attributes without "<", and every "&" starting a known entity. Returns true or
-- false and the first problem found.
local function check_entities(s, where)
  for amp in s:gmatch("&[^;]*;?") do
    if not (amp:match("^&[a-z]+;$") and ({ ["&amp;"] = 1, ["&lt;"] = 1, ["&gt;"] = 1,
        ["&quot;"] = 1, ["&apos;"] = 1 })[amp]) and not amp:match("^&#%d+;$") then
      return false, "bad entity " .. amp .. " in " .. where
    end
  end
  return true
end

local function well_formed(s)
  local stack, i, closed_root = {}, 1, false
  s = s:gsub("^<%?xml.-%?>", "")
  while true do
    local lt = s:find("<", i, true)
    local text = s:sub(i, (lt or #s + 1) - 1)
    if #stack == 0 and text:find("%S") then return false, "text outside the root: " .. text end
    local ok, err = check_entities(text, "text")
    if not ok then return false, err end
    if not lt then break end
    local gt = s:find(">", lt, true)
    if not gt then return false, "unterminated tag at " .. lt end
    local tag = s:sub(lt + 1, gt - 1)
    local closing = tag:match("^/([%w:_%-]+)%s*$")
    if closing then
      local top = table.remove(stack)
      if top ~= closing then
        return false, string.format("</%s> closes <%s>", closing, tostring(top))
      end
      if #stack == 0 then closed_root = true end
    else
      local name, rest = tag:match("^([%a_][%w:_%-]*)(.-)$")
      if not name then return false, "bad tag <" .. tag .. ">" end
      if closed_root then return false, "a second root element <" .. name .. ">" end
      local empty = rest:sub(-1) == "/"
      if empty then rest = rest:sub(1, -2) end
      local seen = {}
      local leftover = rest:gsub('%s+([%a_][%w:_%-]*)="([^"<]*)"', function(k, v)
        if seen[k] then return "DUPLICATE" end
        seen[k] = true
        local ok2, err2 = check_entities(v, "attribute " .. k)
        if not ok2 then return "BAD " .. err2 end
        return ""
      end)
      if leftover:find("%S") then
        return false, "bad attributes in <" .. name .. ">: " .. leftover
      end
      if empty then
        if #stack == 0 then closed_root = true end
      else
        stack[#stack + 1] = name
      end
    end
    i = gt + 1
  end
  if #stack > 0 then return false, "unclosed <" .. stack[#stack] .. ">" end
  if not closed_root then return false, "no root element" end
  return true
end

local function assert_well_formed(s)
  local ok, err = well_formed(s)
  assert(ok, err)
end

local function count(s, pattern)
  return select(2, s:gsub(pattern, ""))
end

-- The text contents of <text> elements whose attributes match attr_pattern.
local function texts(s, attr_pattern)
  local t = {}
  for attrs, body in s:gmatch("<text([^>]*)>(.-)</text>") do
    if not attr_pattern or attrs:find(attr_pattern) then t[#t + 1] = body end
  end
  return t
end

-- Tick labels: inside the axes group, y labels end-anchored and x labels centred.
local function tick_labels(s, anchor)
  local t = {}
  for axes in s:gmatch('<g class="axes">(.-)</g>') do
    for _, v in ipairs(texts(axes, 'text%-anchor="' .. anchor .. '"')) do t[#t + 1] = v end
  end
  return t
end

-- The numbers of a polyline's points attribute: {{x, y}, ...}.
local function polylines(s)
  local lines = {}
  for attrs in s:gmatch("<polyline([^>]*)/>") do
    local pts = {}
    for x, y in attrs:match('points="([^"]*)"'):gmatch("([%d%.%-]+),([%d%.%-]+)") do
      pts[#pts + 1] = { tonumber(x), tonumber(y) }
    end
    lines[#lines + 1] = { points = pts, stroke = attrs:match('stroke="([^"]*)"') }
  end
  return lines
end

-- Labels must be round numbers: equally spaced by 1, 2 or 5 times a power of ten,
-- each a multiple of the step, written without float noise.
local function assert_round_ticks(labels)
  assert.is_true(#labels >= 2, "expected at least 2 tick labels, got " .. #labels)
  local values = {}
  for i, l in ipairs(labels) do
    assert.truthy(l:match("^%-?%d+%.?%d?%d?%d?%d?$"), "not a short round number: " .. l)
    values[i] = tonumber(l)
  end
  local step = values[2] - values[1]
  local e = math.floor(math.log(step, 10) + 1e-9)
  local m = step / 10 ^ e
  assert.is_true(math.abs(m - 1) < 1e-6 or math.abs(m - 2) < 1e-6 or math.abs(m - 5) < 1e-6,
    "step " .. step .. " is not 1, 2 or 5 times a power of ten")
  for i = 2, #values do
    assert.is_true(math.abs(values[i] - values[i - 1] - step) < step * 1e-6, "uneven ticks")
  end
  for _, v in ipairs(values) do
    local k = v / step
    assert.is_true(math.abs(k - math.floor(k + 0.5)) < 1e-6, v .. " is not a multiple of " .. step)
  end
end

local function attribute_values(s)
  local t = {}
  for v in s:gmatch('="([^"]*)"') do t[#t + 1] = v end
  return t
end

local LOSS = { title = "loss", xlabel = "epoch", ylabel = "loss", width = 480, height = 320,
  series = { { name = "train", values = { 0.5, 0.3, 0.2 } },
    { name = "validation", values = { 0.4, 0.35, 0.3 } } } }

describe("the well-formedness checker", function()
  it("accepts good XML and rejects broken XML", function()
    assert.is_true(well_formed('<svg a="1"><g><text x="1">a &amp; b</text></g><rect/></svg>'))
    assert.is_false(well_formed("<svg><g></svg>"))
    assert.is_false(well_formed("<svg><text>a & b</text></svg>"))
    assert.is_false(well_formed('<svg><text x="a<b">t</text></svg>'))
    assert.is_false(well_formed("<svg x=1></svg>"))
    assert.is_false(well_formed('<svg x="1" x="2"></svg>'))
    assert.is_false(well_formed("<svg></svg><svg></svg>"))
    assert.is_false(well_formed("<svg><g>"))
  end)
end)

describe("plot.line_chart", function()
  local s = plot.line_chart(LOSS)

  it("returns one well-formed <svg> document of the asked size", function()
    assert_well_formed(s)
    assert.truthy(s:match('^<svg[^>]* xmlns="http://www.w3.org/2000/svg"'))
    assert.truthy(s:match('^<svg[^>]* width="480"'))
    assert.truthy(s:match('^<svg[^>]* height="320"'))
    assert.truthy(s:match("</svg>\n$"))
  end)

  it("draws one polyline per series in distinct colours, in the data's direction", function()
    local lines = polylines(s)
    assert.equal(2, #lines)
    assert.are_not.equal(lines[1].stroke, lines[2].stroke)
    for _, l in ipairs(lines) do
      assert.equal(3, #l.points)
      assert.is_true(l.points[1][1] < l.points[2][1] and l.points[2][1] < l.points[3][1])
      for _, p in ipairs(l.points) do
        assert.is_true(p[1] > 0 and p[1] < 480 and p[2] > 0 and p[2] < 320)
      end
    end
    -- decreasing values go down the page (SVG y grows downwards)
    assert.is_true(lines[1].points[1][2] < lines[1].points[3][2])
    -- train starts above validation (0.5 > 0.4) and ends below it (0.2 < 0.3)
    assert.is_true(lines[1].points[1][2] < lines[2].points[1][2])
    assert.is_true(lines[1].points[3][2] > lines[2].points[3][2])
    assert.equal(6, count(s, "<circle[^>]*r=\"3\" stroke="), "one marker per point")
  end)

  it("has the title, axis labels and a legend naming each series", function()
    local all = texts(s)
    local has = {}
    for _, t in ipairs(all) do has[t] = true end
    assert.is_true(has["loss"] and has["epoch"] and has["train"] and has["validation"])
    assert.truthy(s:find("<title>loss</title>", 1, true))
    assert.truthy(s:find('transform="rotate(-90', 1, true), "the y label is vertical")
  end)

  it("puts ticks at round numbers", function()
    local y = tick_labels(s, "end")
    assert_round_ticks(y)
    assert.same({ "1", "2", "3" }, tick_labels(s, "middle"))
    for _, l in ipairs(y) do
      local v = tonumber(l)
      assert.is_true(v >= 0.15 and v <= 0.55, "tick " .. l .. " far outside the data")
    end
  end)

  it("spaces epoch ticks so their labels fit and keeps them integers", function()
    local values = {}
    for i = 1, 200 do values[i] = 1 / i end
    local long = plot.line_chart { series = { { name = "train", values = values } }, width = 400 }
    assert_well_formed(long)
    local x = tick_labels(long, "middle")
    assert_round_ticks(x)
    assert.is_true(#x <= 8, #x .. " x ticks on 400 px")
    for _, l in ipairs(x) do assert.truthy(l:match("^%d+$")) end
    assert.equal(0, count(long, "<circle[^>]*stroke=\"#ffffff\""), "200 points in 360 px are too close for markers")
    assert.equal(1, #polylines(long))
  end)

  it("uses given x values", function()
    local c = plot.line_chart { series = { { name = "a", values = { 1, 2, 3 } } }, x = { 6, 7, 8 } }
    assert.same({ "6", "7", "8" }, tick_labels(c, "middle"))
  end)

  it("escapes text for XML", function()
    local c = plot.line_chart { title = 'a < b & "c" > d', xlabel = "x&y",
      series = { { name = "<train>", values = { 1, 2 } } } }
    assert_well_formed(c)
    assert.truthy(c:find("a &lt; b &amp; &quot;c&quot; &gt; d", 1, true))
    assert.truthy(c:find(">x&amp;y<", 1, true))
    assert.truthy(c:find("&lt;train&gt;", 1, true))
    assert.falsy(c:find("<train>", 1, true))
  end)

  it("shows a single point as a marker with its epoch as the only x tick", function()
    local c = plot.line_chart { xlabel = "epoch", series = { { name = "train", values = { 0.42 } } } }
    assert_well_formed(c)
    assert.equal(0, #polylines(c))
    assert.equal(1, count(c, '<circle[^>]*stroke="#ffffff"'))
    assert.same({ "1" }, tick_labels(c, "middle"))
    local y = tick_labels(c, "end")
    assert_round_ticks(y)
    assert.is_true(tonumber(y[1]) < 0.42 and tonumber(y[#y]) > 0.42)
  end)

  it("pads the range of a constant series so the flat line sits between ticks", function()
    local c = plot.line_chart { series = { { name = "acc", values = { 0.9, 0.9, 0.9, 0.9 } } } }
    assert_well_formed(c)
    local lines = polylines(c)
    assert.equal(1, #lines)
    for _, p in ipairs(lines[1].points) do assert.equal(lines[1].points[1][2], p[2]) end
    local y = tick_labels(c, "end")
    assert_round_ticks(y)
    assert.is_true(tonumber(y[1]) < 0.9 and tonumber(y[#y]) > 0.9)
    local zero = plot.line_chart { series = { { name = "z", values = { 0, 0 } } } }
    assert_round_ticks(tick_labels(zero, "end"))
  end)

  it("breaks the line at nan and inf and never writes them as coordinates", function()
    local c = plot.line_chart { series = {
      { name = "a", values = { 1, 2, nan, 3, 4 } },
      { name = "b", values = { 1, nan, 2, 3, math.huge, 2, -math.huge } } } }
    assert_well_formed(c)
    local lines = polylines(c)
    -- a: runs {1,2} and {4,5}; b: {3,4}; the lone points 1 and 6 of b are markers only
    assert.equal(3, #lines)
    assert.same({ 2, 2, 2 }, { #lines[1].points, #lines[2].points, #lines[3].points })
    assert.equal(4 + 4, count(c, '<circle[^>]*stroke="#ffffff"'))
    for _, v in ipairs(attribute_values(c)) do
      assert.falsy(v:lower():find("nan") or v:lower():find("inf"), "attribute value " .. v)
    end
    assert.truthy(c:find("b (3 nan/inf)", 1, true), "the legend says values were skipped")
  end)

  it("draws an empty chart saying 'no data'", function()
    for _, series in ipairs { {}, { { name = "train", values = {} } },
        { { name = "train", values = { nan, math.huge } } } } do
      local c = plot.line_chart { title = "loss", series = series }
      assert_well_formed(c)
      assert.truthy(c:find(">no data</text>", 1, true))
      assert.equal(0, #polylines(c))
      assert.equal(0, count(c, "<circle"))
      assert.truthy(c:find(">loss</text>", 1, true))
    end
  end)

  it("rejects bad options with a message naming them", function()
    assert.has_error(function() plot.line_chart { series = {}, colour = "red" } end,
      "plot.line_chart: unknown option 'colour'")
    assert.has_error(function() plot.line_chart { series = { { name = "a", values = { 1, "2" } } } } end,
      "plot.line_chart: series 'a' values[2] is a string, expected a number")
    assert.has_error(function() plot.line_chart { series = { { values = { 1 } } } } end,
      "plot.line_chart: series[1].name must be a string, got nil")
    assert.has_error(function() plot.line_chart { series = { { name = "a", values = { 1, 2 } } }, x = { 2, 1 } } end,
      "plot.line_chart: x must be finite and increasing, x[2] = 1")
    assert.has_error(function() plot.line_chart { series = {}, width = 50 } end,
      "plot.line_chart: width must be a number >= 200, got 50")
  end)
end)

describe("plot.history_chart", function()
  local history = { epoch = { 1, 2, 3, 4 }, loss = { 1.2, 0.8, 0.6, 0.5 },
    val_loss = { 1.3, 0.9, 0.7, 0.65 }, accuracy = { 0.6, 0.7, 0.8, 0.85 },
    val_accuracy = { 0.55, 0.68, 0.75, 0.8 }, lr = { 0.1, 0.1, 0.05, 0.05 } }

  it("puts one panel per metric family side by side: loss, accuracy, then the rest", function()
    local s = plot.history_chart(history)
    assert_well_formed(s)
    assert.equal(3, count(s, '<g class="panel">'))
    assert.equal(5, #polylines(s))
    assert.truthy(s:match('^<svg[^>]* width="1200"'))
    assert.truthy(s:find(">Training history</text>", 1, true))
    local l, a, r = s:find(">loss</text>", 1, true), s:find(">accuracy</text>", 1, true),
      s:find(">lr</text>", 1, true)
    assert.is_true(l < a and a < r, "panel order")
    assert.equal(2, count(s, ">train</text>"))
    assert.equal(2, count(s, ">validation</text>"))
    assert.truthy(s:find(">lr</text>", r + 1, true), "a lone metric's legend names it")
    for axes in s:gmatch('<g class="axes">(.-)</g>') do
      local y = {}
      for _, v in ipairs(texts(axes, 'text%-anchor="end"')) do y[#y + 1] = v end
      assert_round_ticks(y)
    end
  end)

  it("wraps panels into rows and takes a title and sizes", function()
    local h = { loss = { 1, 0.5 }, accuracy = { 0.5, 0.6 }, mae = { 3, 2 }, val_mae = { 4, 3 },
      precision = { 0.4, 0.5 } }
    local s = plot.history_chart(h, { title = "run <7>", panel_width = 300, panel_height = 200,
      columns = 2 })
    assert_well_formed(s)
    assert.equal(4, count(s, '<g class="panel">'))
    assert.truthy(s:match('^<svg[^>]* width="600"'))
    assert.truthy(s:match('^<svg[^>]* height="436"'))
    assert.truthy(s:find("run &lt;7&gt;", 1, true))
    local m, p = s:find(">mae</text>", 1, true), s:find(">precision</text>", 1, true)
    assert.is_true(m < p)
  end)

  it("shows a validation-only metric and an empty history", function()
    local s = plot.history_chart { val_loss = { 0.5, 0.4 } }
    assert_well_formed(s)
    assert.truthy(s:find(">val_loss</text>", 1, true))
    local e = plot.history_chart {}
    assert_well_formed(e)
    assert.truthy(e:find(">no data</text>", 1, true))
  end)

  it("rejects what is not a list of numbers, naming the key", function()
    assert.has_error(function() plot.history_chart { loss = { 1, "x" } } end,
      "plot.history_chart: history.loss[2] is a string, expected a number")
    assert.has_error(function() plot.history_chart { loss = 3 } end,
      "plot.history_chart: history.loss must be a list of numbers, got number")
    assert.has_error(function() plot.history_chart({ loss = { 1 } }, { colums = 2 }) end,
      "plot.history_chart: unknown option 'colums'")
  end)
end)

describe("plot.save", function()
  local dir

  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end

  before_each(function()
    dir = support.temp_dir("luacnn-plot-spec")
  end)

  after_each(function()
    support.remove_dir(dir)
  end)

  it("writes the file and leaves no .tmp behind", function()
    local path = dir .. "/loss.svg"
    local s = plot.line_chart(LOSS)
    assert.equal(path, plot.save(path, s))
    assert.equal(s, slurp(path))
    assert.is_false(exists(path .. ".tmp"))
  end)

  it("raises an error naming the path when the directory does not exist", function()
    local path = dir .. "/no/such/dir/loss.svg"
    local ok, err = pcall(plot.save, path, "<svg/>")
    assert.is_false(ok)
    assert.truthy(err:find("plot.save: cannot write '" .. path .. "'", 1, true), err)
    assert.is_false(exists(path))
    assert.is_false(exists(path .. ".tmp"))
  end)

  it("removes the .tmp file when the rename fails and keeps what was there", function()
    local path = dir .. "/taken"
    assert(os.execute("mkdir '" .. path .. "'")) -- a file cannot be renamed over a directory
    local ok, err = pcall(plot.save, path, "<svg/>")
    assert.is_false(ok)
    assert.truthy(err:find(path, 1, true), err)
    assert.is_false(exists(path .. ".tmp"))
    assert.truthy(os.rename(path, path), "the directory is still there")
  end)

  -- A disk that fills up: the file opens, then write (or close) fails half way.
  local function with_failing_io(fail_in, fn)
    local real_open = io.open
    io.open = function(p, mode)
      local f, err = real_open(p, mode)
      if not f then return f, err end
      return {
        write = function(_, s)
          f:write(s:sub(1, #s // 2))
          if fail_in == "write" then return nil, "No space left on device", 28 end
          return true
        end,
        close = function()
          f:close()
          if fail_in == "close" then return nil, "No space left on device", 28 end
          return true
        end,
      }
    end
    local ok, err = pcall(fn)
    io.open = real_open
    return ok, err
  end

  for _, fail_in in ipairs { "write", "close" } do
    it("leaves the old file whole when " .. fail_in .. " fails", function()
      local path = dir .. "/loss.svg"
      plot.save(path, "<svg>old</svg>")
      local ok, err = with_failing_io(fail_in, function() plot.save(path, "<svg>new and longer</svg>") end)
      assert.is_false(ok)
      assert.truthy(err:find("plot.save: cannot write '" .. path .. "': No space left on device", 1, true), err)
      assert.equal("<svg>old</svg>", slurp(path))
      assert.is_false(exists(path .. ".tmp"))
    end)
  end
end)

describe("viz", function()
  it("gathers the chart functions, the SVG writer and the ticks", function()
    assert.equal(plot, viz.plot)
    assert.is_function(viz.svg.new)
    assert.is_function(viz.ticks.linear)
    assert.equal("a&amp;b&lt;&gt;&quot;", viz.svg.escape('a&b<>"'))
    assert.equal("0.3", viz.ticks.label(0.1 + 0.2, -1))
  end)
end)
