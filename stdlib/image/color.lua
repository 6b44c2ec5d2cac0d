-- Channels and values: split/merge channels, grayscale, quantize, and the min-max
-- stretch that makes an edge image (negative and positive values) displayable.
local T = require "luacnn"
local check = require "image.check"

local M = {}

-- ITU-R BT.601 luma weights (the "Y" of JPEG and of PIL's convert("L")).
M.GRAY_WEIGHTS = {0.299, 0.587, 0.114}

-- A list of the channels of t, each a new tensor [1,H,W] (copies, not views).
function M.split(t)
  local C, H, W, flat = check.image(t, "image.split")
  if flat then return {t:view(1, H, W):clone()} end
  local out = {}
  for c = 1, C do out[c] = t:narrow(1, c, 1):clone() end
  return out
end

-- The channels in list ([1,H,W] or [H,W] each, all the same size) stacked into [C,H,W].
function M.merge(list)
  if type(list) ~= "table" or #list == 0 then
    error("image.merge: expected a non-empty list of channels [1,H,W] or [H,W]", 2)
  end
  local parts, H, W = {}, nil, nil
  for i, c in ipairs(list) do
    local n, h, w, flat = check.image(c, "image.merge")
    if not flat and n ~= 1 then
      error(string.format("image.merge: channel %d has shape %s; each must be [1,H,W] or [H,W]", i, tostring(c:size())), 2)
    end
    if H and (h ~= H or w ~= W) then
      error(string.format("image.merge: channel %d is %dx%d but channel 1 is %dx%d", i, h, w, H, W), 2)
    end
    H, W = h, w
    parts[i] = flat and c:view(1, h, w) or c
  end
  return T.cat(parts, 1)
end

-- [1,H,W]: 0.299 R + 0.587 G + 0.114 B of an RGB or RGBA image (alpha is ignored); a
-- one-channel image is copied.
function M.grayscale(t)
  local C, H, W, flat = check.image(t, "image.grayscale")
  if C == 1 then return (flat and t:view(1, H, W) or t):clone() end
  if C ~= 3 and C ~= 4 then
    error(string.format("image.grayscale: expected 1, 3 (RGB) or 4 (RGBA) channels, got %d", C), 2)
  end
  local w = M.GRAY_WEIGHTS
  return t:narrow(1, 1, 1) * w[1] + t:narrow(1, 2, 1) * w[2] + t:narrow(1, 3, 1) * w[3]
end

-- Keeps `levels` grey levels of a 0..255 image by keeping the top bits: with
-- band = 256 / levels, v becomes floor(v / band) * band (values clamped to 0..255
-- first). 2 levels give 0 and 128; 8 levels the multiples of 32; 256 leaves integers as
-- they are. levels must be a power of two from 2 to 256.
function M.quantize(t, levels)
  check.image(t, "image.quantize")
  levels = check.integer(levels, "image.quantize", "levels", 2)
  if levels > 256 or levels & (levels - 1) ~= 0 then
    error(string.format("image.quantize: levels must be a power of two from 2 to 256, got %d", levels), 2)
  end
  local band = 256 // levels
  return (t:clamp(0, 255) / band):floor() * band
end

-- Stretches t linearly so that its minimum becomes 0 and its maximum 255 (a constant
-- image becomes all 0): edge images hold negative values and a small range.
function M.normalize_for_display(t)
  check.image(t, "image.normalize_for_display")
  local lo, hi = t:min(), t:max()
  if hi ~= hi or lo ~= lo then error("image.normalize_for_display: the image holds NaN", 2) end
  if hi == lo then return T.zeros_like(t) end
  return (t - lo) * (255 / (hi - lo))
end

return M
