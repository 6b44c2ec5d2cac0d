-- Printing an image in the terminal: the grid of its pixel values (0..255) and an
-- ASCII-shade picture of it, to answer "why is this a 0?" at a glance.
--
-- An image is a tensor of shape [H,W] or [1,H,W]. Its values are shown on the 0..255
-- scale: values already in 0..255 as they are, values in [0,1] (data scaled with
-- x / 255) multiplied by 255, anything else (standardized data) rescaled from its
-- [min,max]; the header line says which. opts.scale = s forces a multiplier instead.
local M = {}

-- From light to dark: a pixel of value v gets SHADES[floor(v / 256 * #SHADES) + 1].
M.SHADES = " .:-=+*#%@"

-- The image as rows of numbers on the 0..255 scale, its size and a description of the
-- scaling. what names the public function for errors, raised at stack level `level`.
local function pixels(t, opts, what, level)
  if type(t) ~= "userdata" or type(t.size) ~= "function" then
    error(string.format("%s: expected an image tensor, got %s", what, type(t)), level)
  end
  local size = t:size()
  if #size == 3 and size[1] == 1 then
    t = t[1]
  elseif #size ~= 2 then
    local hint = #size == 3 and string.format(" (a batch of %d? print one image: x[1])", size[1])
      or #size == 4 and " (a batch? print one image: x[1][1])" or ""
    error(string.format("%s: expected an image of shape [H,W] or [1,H,W], got %s%s", what, tostring(size), hint), level)
  end
  local rows = t:totable()
  local h, w = #rows, #rows[1]
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(rows) do
    for _, v in ipairs(row) do
      if v ~= v then error(string.format("%s: the image holds NaN", what), level) end
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  local scale, offset, note
  if opts.scale then
    scale, offset = opts.scale, 0
    note = string.format("values x%g", opts.scale)
  elseif lo >= 0 and hi <= 1 then
    scale, offset = 255, 0
    note = "values in [0,1] shown x255"
  elseif lo >= 0 and hi <= 255 then
    scale, offset = 1, 0
    note = "values 0..255"
  else
    scale = hi > lo and 255 / (hi - lo) or 0
    offset = -lo * scale
    note = string.format("values in [%.4g,%.4g] rescaled to 0..255", lo, hi)
  end
  for _, row in ipairs(rows) do
    for j, v in ipairs(row) do row[j] = math.floor(v * scale + offset + 0.5) end
  end
  return rows, h, w, note
end

local function shade(v)
  local n = #M.SHADES
  local i = math.floor(v * n / 256)
  if i < 0 then i = 0 elseif i >= n then i = n - 1 end
  return M.SHADES:sub(i + 1, i + 1)
end

local function grid_lines(rows)
  local lines = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for j, v in ipairs(row) do cells[j] = string.format("%3d", v) end
    lines[i] = table.concat(cells, " ")
  end
  return lines
end

-- Two characters per pixel, so the picture keeps its proportions in a terminal.
local function ascii_lines(rows)
  local lines = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for j, v in ipairs(row) do cells[j] = shade(v):rep(2) end
    lines[i] = table.concat(cells)
  end
  return lines
end

-- The pixel values as text: one line per row, each value 3 wide, one space apart.
function M.grid_string(t, opts)
  return table.concat(grid_lines((pixels(t, opts or {}, "image.grid_string", 3))), "\n") .. "\n"
end

-- The picture as text: one line per row, two shade characters per pixel.
function M.to_ascii(t, opts)
  return table.concat(ascii_lines((pixels(t, opts or {}, "image.to_ascii", 3))), "\n") .. "\n"
end

-- Header, grid and framed picture, as image.print writes them. The picture stands
-- beside the grid when both fit in opts.width columns (default $COLUMNS, else 120),
-- else below it.
local function format(t, opts, what, level)
  opts = opts or {}
  local rows, h, w, note = pixels(t, opts, what, level + 1)
  local grid, pic = grid_lines(rows), ascii_lines(rows)
  local border = "+" .. string.rep("-", 2 * w) .. "+"
  local out = { string.format("image %dx%d, %s", h, w, note) }
  local width = opts.width or tonumber(os.getenv("COLUMNS") or "") or 120
  local grid_width = 4 * w - 1
  if grid_width + 3 + #border <= width then
    local pad = string.rep(" ", grid_width)
    out[#out + 1] = pad .. "   " .. border
    for i = 1, h do out[#out + 1] = grid[i] .. "   |" .. pic[i] .. "|" end
    out[#out + 1] = pad .. "   " .. border
  else
    for i = 1, h do out[#out + 1] = grid[i] end
    out[#out + 1] = border
    for i = 1, h do out[#out + 1] = "|" .. pic[i] .. "|" end
    out[#out + 1] = border
  end
  return table.concat(out, "\n") .. "\n"
end

function M.format(t, opts)
  local text = format(t, opts, "image.format", 3)
  return text
end

function M.print(t, opts)
  io.write(format(t, opts, "image.print", 3))
end

return M
