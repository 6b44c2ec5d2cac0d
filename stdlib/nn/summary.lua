-- model:summary(): each layer's output shape and parameter count, with totals.
local Module = require "nn.module"
local shape = require "nn.shape"

local function commas(n)
  local s = tostring(math.floor(n))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function human_bytes(b)
  if b >= 1024 * 1024 then return string.format("%.2f MB", b / (1024 * 1024)) end
  return string.format("%.1f KB", b / 1024)
end

-- Rows {index, name, output shape, params} for a model; containers list their children.
local function rows(model, in_shape)
  local out = {}
  local layers = model.layers or {model}
  local s = in_shape
  for i, layer in ipairs(layers) do
    local os = s and layer:output_shape(s) or nil
    out[#out + 1] = {tostring(i), layer:describe(), os and shape.str(os, "N") or "?", layer:num_parameters()}
    s = os
  end
  return out
end

function Module:summary(opts)
  opts = opts or {}
  local in_shape = self.input_shape
  local lines = {}
  local function add(l) lines[#lines + 1] = l end
  local header = {"#", "Layer", "Output shape", "Params"}
  local body = rows(self, in_shape)
  local w = {1, 5, 12, 6}
  for _, r in ipairs(body) do
    for k = 1, 4 do
      local cell = k == 4 and commas(r[4]) or r[k]
      w[k] = math.max(w[k], #cell)
    end
  end
  local function fmt(r)
    return string.format(" %-" .. w[1] .. "s  %-" .. w[2] .. "s  %-" .. w[3] .. "s  %" .. w[4] .. "s",
                         r[1], r[2], r[3], type(r[4]) == "number" and commas(r[4]) or r[4])
  end
  local width = #fmt(header)
  add("Model: " .. self:describe() .. (in_shape and ("  input " .. shape.str(in_shape, "N")) or "  (not built yet)"))
  add(string.rep("=", width))
  add(fmt(header))
  add(string.rep("-", width))
  for _, r in ipairs(body) do add(fmt(r)) end
  add(string.rep("=", width))
  local total = self:num_parameters()
  add(string.format("Total params: %s (%s)", commas(total), human_bytes(total * 4)))
  add(string.format("Trainable params: %s", commas(total)))
  add("Non-trainable params: 0")
  if not in_shape then add("(shapes appear once the model knows its input: give the first layer input_shape=)") end
  local text = table.concat(lines, "\n")
  if opts.print ~= false then print(text) end
  return text
end

return Module
