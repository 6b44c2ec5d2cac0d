-- Pictures of what a convolutional network holds: its filters and the feature maps an
-- input produces, tiled into one image tensor (1 x H x W, values 0..255) that
-- image.save can write as a PNG.
--   local grid = require "viz.grid"
--   image.save("filters.png", grid.filters(model.layers[1].weight))
--   image.save("maps.png", grid.maps(feature_maps_of_one_image))
local T = require "luacnn"

local M = {}

-- Stretches t's values to 0..255 (a constant tile becomes mid grey).
local function stretch(t)
  local lo, hi = t:min(), t:max()
  if hi - lo < 1e-12 then return T.full(t:size(), 128) end
  return (t - lo) * (255 / (hi - lo))
end

-- Tiles a list of 2-D tensors (all h x w) into rows of `cols`, each tile stretched on its
-- own, `scale` times larger (nearest neighbour) with `gap` pixels of white between tiles.
function M.tile(tiles, opts)
  opts = opts or {}
  local n = #tiles
  if n == 0 then error("viz.grid.tile: no tiles", 2) end
  local h, w = tiles[1]:size(1), tiles[1]:size(2)
  local scale, gap = opts.scale or 1, opts.gap or 1
  local cols = opts.cols or math.ceil(math.sqrt(n))
  local rows = math.ceil(n / cols)
  local th, tw = h * scale, w * scale
  local out = T.full({1, rows * th + (rows + 1) * gap, cols * tw + (cols + 1) * gap}, 255)
  for i, tile in ipairs(tiles) do
    if tile:dim() ~= 2 or tile:size(1) ~= h or tile:size(2) ~= w then
      error(string.format("viz.grid.tile: tile %d has shape %s, expected [%d,%d]", i, tostring(tile:size()), h, w), 2)
    end
    local big = stretch(tile)
    if scale > 1 then
      -- nearest neighbour: repeat every pixel scale x scale times
      big = big:view(h, 1, w, 1):expand(h, scale, w, scale):reshape(th, tw)
    end
    local r, c = (i - 1) // cols, (i - 1) % cols
    local top, left = gap + r * (th + gap), gap + c * (tw + gap)
    out[1]:narrow(1, top + 1, th):narrow(2, left + 1, tw):copy(big)
  end
  return out
end

-- A conv layer's weight [out, in, kh, kw]: one tile per (output, input) filter, one row per
-- output channel (for in = 1: a square grid of the out filters).
function M.filters(weight, opts)
  opts = opts or {}
  if not T.is_tensor(weight) or weight:dim() ~= 4 then
    error("viz.grid.filters: expected a conv weight [out, in, kh, kw]", 2)
  end
  local co, ci = weight:size(1), weight:size(2)
  local tiles = {}
  for o = 1, co do
    for i = 1, ci do tiles[#tiles + 1] = weight[o][i] end
  end
  return M.tile(tiles, {scale = opts.scale or 8, gap = opts.gap or 2, cols = opts.cols or (ci == 1 and math.ceil(math.sqrt(co)) or ci)})
end

-- Feature maps of one image [C, H, W]: one tile per channel.
function M.maps(maps, opts)
  opts = opts or {}
  if not T.is_tensor(maps) or maps:dim() ~= 3 then error("viz.grid.maps: expected feature maps [C, H, W]", 2) end
  local tiles = {}
  for c = 1, maps:size(1) do tiles[c] = maps[c] end
  return M.tile(tiles, {scale = opts.scale or 4, gap = opts.gap or 2, cols = opts.cols})
end

return M
