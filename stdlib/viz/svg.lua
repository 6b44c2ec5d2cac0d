-- A small SVG writer: a document collects element strings and joins them once.
-- Attribute values are numbers (written with at most 2 decimals) or strings (escaped);
-- attributes are written in sorted order so the same chart gives the same bytes.
local svg = {}

local ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- Text for XML content or attribute values. Control characters other than tab and
-- newline are not allowed in XML 1.0 at all, so they become "?".
function svg.escape(text)
  text = tostring(text):gsub("[%z\1-\8\11\12\14-\31\127]", "?")
  return (text:gsub("[&<>\"']", ESCAPES))
end

-- A coordinate: 2 decimals are finer than a pixel; trailing zeros dropped.
function svg.num(v)
  if v ~= v or v == math.huge or v == -math.huge then
    error("svg.num: coordinate is not finite: " .. tostring(v), 2)
  end
  local s = string.format("%.2f", v):gsub("0+$", ""):gsub("%.$", "")
  if s == "-0" then s = "0" end
  return s
end

local function attributes(attrs)
  if not attrs then return "" end
  local keys = {}
  for k in pairs(attrs) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = attrs[k]
    v = type(v) == "number" and svg.num(v) or svg.escape(v)
    parts[i] = string.format(' %s="%s"', k, v)
  end
  return table.concat(parts)
end

local Doc = {}
Doc.__index = Doc

-- svg.new(width, height[, attrs]): the root element; attrs such as font-family go on it.
function svg.new(width, height, attrs)
  local root = { xmlns = "http://www.w3.org/2000/svg", width = width, height = height,
    viewBox = string.format("0 0 %s %s", svg.num(width), svg.num(height)) }
  for k, v in pairs(attrs or {}) do root[k] = v end
  local doc = setmetatable({ parts = {}, depth = 0 }, Doc)
  doc:open("svg", root)
  return doc
end

function Doc:open(name, attrs)
  self.parts[#self.parts + 1] = "<" .. name .. attributes(attrs) .. ">"
  self.depth = self.depth + 1
end

function Doc:close(name)
  self.parts[#self.parts + 1] = "</" .. name .. ">"
  self.depth = self.depth - 1
end

-- An element with escaped text content, or empty ("<rect .../>") when text is nil.
function Doc:element(name, attrs, text)
  if text == nil then
    self.parts[#self.parts + 1] = "<" .. name .. attributes(attrs) .. "/>"
  else
    self.parts[#self.parts + 1] = "<" .. name .. attributes(attrs) .. ">" .. svg.escape(text)
      .. "</" .. name .. ">"
  end
end

function Doc:line(x1, y1, x2, y2, attrs)
  local a = { x1 = x1, y1 = y1, x2 = x2, y2 = y2 }
  for k, v in pairs(attrs or {}) do a[k] = v end
  self:element("line", a)
end

function Doc:text(x, y, text, attrs)
  local a = { x = x, y = y }
  for k, v in pairs(attrs or {}) do a[k] = v end
  self:element("text", a, text)
end

-- points is a flat list {x1, y1, x2, y2, ...}.
function Doc:polyline(points, attrs)
  local coords = {}
  for i = 1, #points, 2 do
    coords[#coords + 1] = svg.num(points[i]) .. "," .. svg.num(points[i + 1])
  end
  local a = { points = table.concat(coords, " ") }
  for k, v in pairs(attrs or {}) do a[k] = v end
  self:element("polyline", a)
end

-- The document as one string; closes the root element.
function Doc:finish()
  if self.depth ~= 1 then
    error(string.format("svg: %d element(s) left open", self.depth - 1), 2)
  end
  self:close("svg")
  return table.concat(self.parts, "\n") .. "\n"
end

return svg
