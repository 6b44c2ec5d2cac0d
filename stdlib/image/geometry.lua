-- Geometry: resize (C kernels in ops/resample.c), crop, pad and flips. Each takes an
-- image [C,H,W] or [H,W] and returns a new tensor of the same rank.
local T = require "luacnn"
local check = require "image.check"

local M = {}

-- resize(t, h, w[, {method = 'bilinear'|'nearest'}]): bilinear (the default) uses
-- half-pixel centers as OpenCV and PyTorch's align_corners=false; nearest takes source
-- pixel floor(i * H / h) (PyTorch's 'nearest'). See ops/resample.h.
function M.resize(t, h, w, opts)
  check.image(t, "image.resize")
  h = check.integer(h, "image.resize", "the height", 1)
  w = check.integer(w, "image.resize", "the width", 1)
  opts = check.opts(opts, "image.resize", {method = true})
  local method = opts.method or "bilinear"
  if method ~= "bilinear" and method ~= "nearest" then
    error(string.format("image.resize: method must be 'nearest' or 'bilinear', got '%s'", tostring(method)), 2)
  end
  return T.image_resize(t, h, w, method)
end

-- crop(t, top, left, h, w): the h x w window whose top-left pixel is (top, left),
-- 1-based as everywhere in Lua. A copy.
function M.crop(t, top, left, h, w)
  local _, H, W, flat = check.image(t, "image.crop")
  top = check.integer(top, "image.crop", "top", 1)
  left = check.integer(left, "image.crop", "left", 1)
  h = check.integer(h, "image.crop", "the height", 1)
  w = check.integer(w, "image.crop", "the width", 1)
  if top + h - 1 > H or left + w - 1 > W then
    error(string.format("image.crop: rows %d..%d, columns %d..%d do not fit in the %dx%d image", top, top + h - 1,
                        left, left + w - 1, H, W), 2)
  end
  local d = flat and 1 or 2
  return t:narrow(d, top, h):narrow(d + 1, left, w):clone()
end

-- pad(t, p[, value]): p pixels of `value` (default 0) on every side, or
-- p = {top, bottom, left, right}.
function M.pad(t, p, value)
  local C, H, W, flat = check.image(t, "image.pad")
  local top, bottom, left, right
  if type(p) == "table" then
    if #p ~= 4 then error("image.pad: padding must be a number or {top, bottom, left, right}", 2) end
    top = check.integer(p[1], "image.pad", "top", 0)
    bottom = check.integer(p[2], "image.pad", "bottom", 0)
    left = check.integer(p[3], "image.pad", "left", 0)
    right = check.integer(p[4], "image.pad", "right", 0)
  else
    top = check.integer(p, "image.pad", "the padding", 0)
    bottom, left, right = top, top, top
  end
  value = value or 0
  if type(value) ~= "number" then error("image.pad: the fill value must be a number, got " .. type(value), 2) end
  local out = flat and T.full({H + top + bottom, W + left + right}, value)
                    or T.full({C, H + top + bottom, W + left + right}, value)
  local d = flat and 1 or 2
  out:narrow(d, top + 1, H):narrow(d + 1, left + 1, W):copy(t)
  return out
end

local function reversed(n)
  return T.arange(n, 0, -1)
end

-- Mirror left-right.
function M.hflip(t)
  local _, _, W, flat = check.image(t, "image.hflip")
  if flat then return T.index_select(t:t(), reversed(W)):t():contiguous() end
  return T.index_select(t:permute(3, 1, 2), reversed(W)):permute(2, 3, 1):contiguous()
end

-- Mirror top-bottom.
function M.vflip(t)
  local _, H, _, flat = check.image(t, "image.vflip")
  if flat then return T.index_select(t, reversed(H)) end
  return T.index_select(t:transpose(1, 2), reversed(H)):transpose(1, 2):contiguous()
end

return M
