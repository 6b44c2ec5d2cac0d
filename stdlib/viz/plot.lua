-- Training curves as SVG charts to open in a browser.
--
--   plot.line_chart{title=, xlabel=, ylabel=, series = {{name=, values=, color=}}, x=, width=, height=}
--   plot.history_chart(history[, {title=, panel_width=, panel_height=, columns=}])
--   plot.save(path, svg_text)
--
-- A chart has a title, a legend row under it, axes with ticks at 1-2-5 round numbers,
-- light grid lines, and per series one polyline per run of finite values (nan and inf
-- break the line) with point markers when the points are far enough apart to see them.
local svg = require "viz.svg"
local ticks = require "viz.ticks"

local plot = {}

-- Tableau 10: distinct hues that stay apart for most colour-blind readers.
plot.PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }

local FONT = 11 -- tick labels and legend
local LABEL_FONT = 12 -- axis labels
local TITLE_FONT = 14 -- chart (panel) title
local HEADER_FONT = 16 -- the title over all panels of a history chart
local GLYPH = 0.62 -- average glyph width of a sans-serif font in ems, to estimate text widths
local INSET = 8 -- pixels between the y axis (and the right end) and the first (last) point
local MARKER_SPACING = 7 -- points closer than this get no markers: the line says it all
local FONTS = "DejaVu Sans, Helvetica, Arial, sans-serif"

local function finite(v)
  return v == v and v ~= math.huge and v ~= -math.huge
end

local function text_width(s, size)
  return (utf8.len(s) or #s) * size * GLYPH
end

local function check_options(where, opts, known)
  if type(opts) ~= "table" then
    error(where .. ": expected a table of options, got " .. type(opts), 0)
  end
  for k in pairs(opts) do
    if not known[k] then error(where .. ": unknown option '" .. tostring(k) .. "'", 0) end
  end
end

local function check_size(where, name, v, min)
  if type(v) ~= "number" or not finite(v) or v < min then
    error(string.format("%s: %s must be a number >= %d, got %s", where, name, min, tostring(v)), 0)
  end
  return v
end

local function check_numbers(where, what, values)
  if type(values) ~= "table" then
    error(string.format("%s: %s must be a list of numbers, got %s", where, what, type(values)), 0)
  end
  for i = 1, #values do
    if type(values[i]) ~= "number" then
      error(string.format("%s: %s[%d] is a %s, expected a number", where, what, i, type(values[i])), 0)
    end
  end
  return values
end

-- Checks a chart's series and works out its data ranges. spec = {title, xlabel, ylabel,
-- series, x}; returns a table the drawing code reads.
local SERIES_KEYS = { name = true, values = true, color = true }

local function prepare(where, spec)
  if type(spec.series) ~= "table" then
    error(where .. ": series must be a list of {name =, values =}, got " .. type(spec.series), 0)
  end
  local data = { title = spec.title, xlabel = spec.xlabel, ylabel = spec.ylabel, series = {} }
  local n = 0
  local ylo, yhi = math.huge, -math.huge
  for i, s in ipairs(spec.series) do
    local what = string.format("series[%d]", i)
    check_options(where .. ": " .. what, s, SERIES_KEYS)
    if type(s.name) ~= "string" then
      error(string.format("%s: %s.name must be a string, got %s", where, what, type(s.name)), 0)
    end
    check_numbers(where, string.format("series '%s' values", s.name), s.values)
    if s.color ~= nil and type(s.color) ~= "string" then
      error(string.format("%s: series '%s' color must be a string", where, s.name), 0)
    end
    local bad = 0
    for _, v in ipairs(s.values) do
      if finite(v) then
        ylo, yhi = math.min(ylo, v), math.max(yhi, v)
      else
        bad = bad + 1
      end
    end
    n = math.max(n, #s.values)
    data.series[i] = { name = s.name, values = s.values, bad = bad,
      color = s.color or plot.PALETTE[(i - 1) % #plot.PALETTE + 1] }
  end
  local x = spec.x
  if x ~= nil then
    check_numbers(where, "x", x)
    if #x < n then
      error(string.format("%s: x has %d values but a series has %d", where, #x, n), 0)
    end
    for i = 1, n do
      if not finite(x[i]) or (i > 1 and x[i] <= x[i - 1]) then
        error(string.format("%s: x must be finite and increasing, x[%d] = %s", where, i,
          tostring(x[i])), 0)
      end
    end
  else
    x = {}
    for i = 1, n do x[i] = i end
  end
  data.x, data.n = x, n
  data.empty = ylo > yhi -- no finite value anywhere (or no values at all)
  if data.empty then return data end

  data.integer_x = true
  for i = 1, n do
    if x[i] ~= math.floor(x[i]) then data.integer_x = false end
  end
  local xlo, xhi = x[1], x[n]
  if xlo == xhi then xlo, xhi = xlo - 0.5, xhi + 0.5 end -- a single point sits in the middle
  -- a constant series: open the range around it so the flat line is not on an axis;
  -- otherwise a 5% margin keeps the extreme points off the axes, as matplotlib does
  if ylo == yhi then
    local pad = ylo == 0 and 1 or math.abs(ylo) * 0.1
    ylo, yhi = ylo - pad, yhi + pad
  else
    local pad = (yhi - ylo) * 0.05
    ylo, yhi = ylo - pad, yhi + pad
  end
  data.xlo, data.xhi, data.ylo, data.yhi = xlo, xhi, ylo, yhi
  return data
end

-- Left x of a text `width` wide centred on `center`, kept within [lo, hi] when it fits.
local function centered(width, center, lo, hi)
  local x = center - width / 2
  if x + width > hi then x = hi - width end
  if x < lo then x = lo end
  return x
end

-- Legend entries laid out in rows no wider than max_width: {{items...}, width = w}, ...
local function legend_rows(data, max_width)
  local rows, row = {}, nil
  for _, s in ipairs(data.series) do
    local label = s.name
    if s.bad == #s.values then
      label = label .. " (no data)"
    elseif s.bad > 0 then
      label = string.format("%s (%d nan/inf)", label, s.bad)
    end
    local w = 24 + text_width(label, FONT)
    if not row or row.width + 16 + w > max_width then
      row = { width = -16 }
      rows[#rows + 1] = row
    end
    row[#row + 1] = { label = label, color = s.color, width = w }
    row.width = row.width + 16 + w
  end
  return rows
end

local function draw_marker(doc, x, y, color, tip)
  doc:open("circle", { cx = x, cy = y, r = 3, fill = color, stroke = "#ffffff",
    ["stroke-width"] = 1 })
  doc:element("title", nil, tip)
  doc:close("circle")
end

-- Draws one chart into the box (bx, by, w, h) of doc.
local function draw_panel(doc, bx, by, w, h, data)
  local top = by + 8
  local title_y
  if data.title then
    title_y = top + TITLE_FONT
    top = title_y + 8
  end
  local rows = {}
  if not data.empty then rows = legend_rows(data, w - 24) end
  local legend_top = top
  top = top + #rows * (FONT + 7) + (#rows > 0 and 6 or 0)

  local plot_top = top + 4
  local xlabel_y = by + h - 8
  local plot_bottom = xlabel_y - (data.xlabel and LABEL_FONT + 10 or 0) - (FONT + 10)
  local plot_h = plot_bottom - plot_top

  local yt
  local label_width = 0
  if not data.empty then
    yt = ticks.linear(data.ylo, data.yhi, math.max(2, math.min(8, plot_h // 45)))
    yt.labels = {}
    for i, v in ipairs(yt.values) do
      yt.labels[i] = ticks.label(v, yt.exponent)
      label_width = math.max(label_width, text_width(yt.labels[i], FONT))
    end
  end
  local ylabel_x = bx + 8 + LABEL_FONT
  local plot_left = bx + 8 + (data.ylabel and LABEL_FONT + 10 or 0) + label_width + 10
  local plot_right = bx + w - 16
  local plot_w = plot_right - plot_left
  local mid_x = (plot_left + plot_right) / 2

  if title_y then
    local tw = text_width(data.title, TITLE_FONT)
    doc:text(centered(tw, mid_x, bx + 8, bx + w - 8), title_y, data.title,
      { ["font-size"] = TITLE_FONT, ["font-weight"] = "bold", fill = "#222222" })
  end
  if data.xlabel then
    doc:text(mid_x, xlabel_y, data.xlabel,
      { ["font-size"] = LABEL_FONT, ["text-anchor"] = "middle", fill = "#333333" })
  end
  if data.ylabel then
    local mid_y = (plot_top + plot_bottom) / 2
    doc:text(ylabel_x, mid_y, data.ylabel, { ["font-size"] = LABEL_FONT, ["text-anchor"] = "middle",
      fill = "#333333", transform = string.format("rotate(-90 %s %s)", svg.num(ylabel_x), svg.num(mid_y)) })
  end

  local axis = { stroke = "#555555", ["stroke-width"] = 1 }
  if data.empty then
    doc:line(plot_left, plot_top, plot_left, plot_bottom, axis)
    doc:line(plot_left, plot_bottom, plot_right, plot_bottom, axis)
    doc:text(mid_x, (plot_top + plot_bottom) / 2, "no data", { ["font-size"] = 13,
      ["text-anchor"] = "middle", ["font-style"] = "italic", fill = "#888888" })
    return
  end

  local span_x = plot_w - 2 * INSET
  local function px(v) return plot_left + INSET + (v - data.xlo) / (data.xhi - data.xlo) * span_x end
  local function py(v) return plot_bottom - (v - data.ylo) / (data.yhi - data.ylo) * plot_h end

  -- x ticks: about one per 60 px, and never closer than the widest label needs
  local widest = math.max(text_width(ticks.label(data.xlo, 0), FONT),
    text_width(ticks.label(data.xhi, 0), FONT))
  local units_per_px = (data.xhi - data.xlo) / span_x
  local xt = ticks.linear(data.xlo, data.xhi, math.max(1, math.min(10, span_x // 60)),
    { integer = data.integer_x, min_step = (widest + 12) * units_per_px })
  local xlabels = {}
  for i, v in ipairs(xt.values) do
    xlabels[i] = ticks.label(v, data.integer_x and math.max(0, xt.exponent) or xt.exponent)
  end

  local grid = { stroke = "#e6e6e6", ["stroke-width"] = 1 }
  local tick_text = { ["font-size"] = FONT, fill = "#444444" }
  doc:open("g", { class = "grid" })
  for _, v in ipairs(yt.values) do doc:line(plot_left, py(v), plot_right, py(v), grid) end
  for _, v in ipairs(xt.values) do doc:line(px(v), plot_top, px(v), plot_bottom, grid) end
  doc:close("g")
  doc:open("g", { class = "axes" })
  doc:line(plot_left, plot_top, plot_left, plot_bottom, axis)
  doc:line(plot_left, plot_bottom, plot_right, plot_bottom, axis)
  for i, v in ipairs(yt.values) do
    doc:line(plot_left - 4, py(v), plot_left, py(v), axis)
    tick_text["text-anchor"] = "end"
    doc:text(plot_left - 7, py(v) + FONT * 0.35, yt.labels[i], tick_text)
  end
  for i, v in ipairs(xt.values) do
    doc:line(px(v), plot_bottom, px(v), plot_bottom + 4, axis)
    tick_text["text-anchor"] = "middle"
    doc:text(px(v), plot_bottom + 7 + FONT, xlabels[i], tick_text)
  end
  doc:close("g")

  local markers = data.n <= 1 or span_x / (data.n - 1) >= MARKER_SPACING
  local xname = data.xlabel or "x"
  for _, s in ipairs(data.series) do
    doc:open("g", { class = "series", fill = "none" })
    -- runs of finite values; a nan or inf ends a run, so the line breaks there
    local runs, run = {}, nil
    for i, v in ipairs(s.values) do
      if finite(v) then
        if not run then run = {}; runs[#runs + 1] = run end
        run[#run + 1] = i
      else
        run = nil
      end
    end
    for _, r in ipairs(runs) do
      if #r > 1 then
        local points = {}
        for _, i in ipairs(r) do
          points[#points + 1] = px(data.x[i])
          points[#points + 1] = py(s.values[i])
        end
        doc:polyline(points, { stroke = s.color, ["stroke-width"] = 2,
          ["stroke-linejoin"] = "round", ["stroke-linecap"] = "round" })
      end
    end
    for _, r in ipairs(runs) do
      if markers or #r == 1 then -- a lone point has no line: its marker is all there is
        for _, i in ipairs(r) do
          draw_marker(doc, px(data.x[i]), py(s.values[i]), s.color,
            string.format("%s, %s %s: %.6g", s.name, xname, ticks.label(data.x[i], -6), s.values[i]))
        end
      end
    end
    doc:close("g")
  end

  -- legend: a line with a marker, then the name; rows centred over the plot
  for r, row in ipairs(rows) do
    local y = legend_top + (r - 1) * (FONT + 7) + FONT
    local lx = centered(row.width, mid_x, bx + 8, bx + w - 8)
    for _, item in ipairs(row) do
      doc:line(lx, y - FONT * 0.35, lx + 18, y - FONT * 0.35, { stroke = item.color, ["stroke-width"] = 2 })
      doc:element("circle", { cx = lx + 9, cy = y - FONT * 0.35, r = 3, fill = item.color })
      doc:text(lx + 24, y, item.label, { ["font-size"] = FONT, fill = "#333333" })
      lx = lx + item.width + 16
    end
  end
end

local function new_doc(width, height, title)
  local doc = svg.new(width, height, { ["font-family"] = FONTS, ["font-size"] = FONT })
  doc:element("title", nil, title)
  doc:element("rect", { x = 0, y = 0, width = width, height = height, fill = "#ffffff" })
  return doc
end

local LINE_CHART_OPTIONS = { title = true, xlabel = true, ylabel = true, series = true, x = true,
  width = true, height = true }

-- One chart; see the top of the file. Returns the SVG text.
function plot.line_chart(opts)
  local where = "plot.line_chart"
  check_options(where, opts, LINE_CHART_OPTIONS)
  for _, k in ipairs { "title", "xlabel", "ylabel" } do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then
      error(string.format("%s: %s must be a string, got %s", where, k, type(opts[k])), 0)
    end
  end
  local width = check_size(where, "width", opts.width or 480, 200)
  local height = check_size(where, "height", opts.height or 320, 150)
  local data = prepare(where, opts)
  local doc = new_doc(width, height, opts.title or "chart")
  draw_panel(doc, 0, 0, width, height, data)
  return doc:finish()
end

-- loss first, then accuracy, then the other metrics by name.
local function family_order(a, b)
  local rank = { loss = 1, accuracy = 2, acc = 2 }
  local ra, rb = rank[a] or 3, rank[b] or 3
  if ra ~= rb then return ra < rb end
  return a < b
end

local HISTORY_OPTIONS = { title = true, panel_width = true, panel_height = true, columns = true }

-- One panel per metric family ("loss" with "val_loss", ...) side by side, at most
-- `columns` (default 3) to a row. Returns the SVG text.
function plot.history_chart(history, opts)
  local where = "plot.history_chart"
  if type(history) ~= "table" then
    error(where .. ": history must be a table of metric lists, got " .. type(history), 2)
  end
  opts = opts or {}
  check_options(where, opts, HISTORY_OPTIONS)
  if opts.title ~= nil and type(opts.title) ~= "string" then
    error(where .. ": title must be a string", 2)
  end
  local pw = check_size(where, "panel_width", opts.panel_width or 400, 200)
  local ph = check_size(where, "panel_height", opts.panel_height or 300, 150)
  local epochs = history.epoch
  if epochs ~= nil then check_numbers(where, "history.epoch", epochs) end

  local seen, names = {}, {}
  for k, v in pairs(history) do
    if k ~= "epoch" then
      if type(k) ~= "string" then
        error(where .. ": history keys must be metric names, got a " .. type(k), 2)
      end
      check_numbers(where, "history." .. k, v)
      local base = k:match("^val_(.+)$") or k
      if not seen[base] then seen[base] = true; names[#names + 1] = base end
    end
  end
  table.sort(names, family_order)

  local panels = {}
  for _, name in ipairs(names) do
    local train, val = history[name], history["val_" .. name]
    local series = {}
    if train and val then
      series = { { name = "train", values = train }, { name = "validation", values = val } }
    else
      -- one curve alone: its own name says more than "train"
      series = { { name = train and name or "val_" .. name, values = train or val } }
    end
    panels[#panels + 1] = prepare(where, { title = name, xlabel = "epoch", series = series, x = epochs })
  end
  if #panels == 0 then
    panels[1] = prepare(where, { title = "no metrics", xlabel = "epoch", series = {} })
  end

  local columns = opts.columns or math.min(#panels, 3)
  if math.type(columns) ~= "integer" or columns < 1 then
    error(where .. ": columns must be a positive integer, got " .. tostring(columns), 2)
  end
  local rows = (#panels + columns - 1) // columns
  local header = HEADER_FONT + 20
  local width, height = math.min(columns, #panels) * pw, header + rows * ph
  local title = opts.title or "Training history"
  local doc = new_doc(width, height, title)
  doc:text(width / 2, 8 + HEADER_FONT, title, { ["font-size"] = HEADER_FONT,
    ["font-weight"] = "bold", ["text-anchor"] = "middle", fill = "#111111" })
  for i, data in ipairs(panels) do
    local col, row = (i - 1) % columns, (i - 1) // columns
    doc:open("g", { class = "panel" })
    draw_panel(doc, col * pw, header + row * ph, pw, ph, data)
    doc:close("g")
  end
  return doc:finish()
end

-- save(path, text): writes path .. ".tmp" and renames it over path, so path holds either
-- its old contents or the whole new file, never a part. Errors name the path.
function plot.save(path, text)
  if type(path) ~= "string" then error("plot.save: path must be a string", 2) end
  if type(text) ~= "string" then error("plot.save: text must be a string (the SVG)", 2) end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error(string.format("plot.save: cannot write '%s': %s", path, err), 2) end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    error(string.format("plot.save: cannot write '%s': %s", path, werr or cerr), 2)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    error(string.format("plot.save: cannot write '%s': %s", path, rerr), 2)
  end
  return path
end

return plot
