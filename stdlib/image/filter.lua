-- Classic image filtering: image.convolve runs a small kernel over every channel (C
-- kernel in ops/filter.c), and image.kernels holds the textbook kernels.
--
-- Like CNN layers, convolve computes a cross-correlation: the kernel is not flipped.
-- For the symmetric kernels (gaussian5, box, laplacian) that is the same thing; for
-- Sobel and Prewitt it flips the sign of the result.
local T = require "luacnn"
local check = require "image.check"

local M = {}

-- convolve(img, kernel[, {padding = 0|n|'same'|'valid', stride = 1}])
--   img    [C,H,W] or [H,W]
--   kernel [KH,KW] (applied to every channel), [C,KH,KW] (one per channel), or a
--          nested Lua table of numbers
--   padding: zeros on every side; 'valid' = 0; 'same' pads so that the output has
--          ceil(H / stride) x ceil(W / stride) pixels (the odd pixel at the bottom/right).
-- Output size per dimension: floor((H + 2p - k) / stride) + 1.
function M.convolve(img, kernel, opts)
  check.image(img, "image.convolve")
  if type(kernel) == "table" then kernel = T.tensor(kernel) end
  if not T.is_tensor(kernel) then error("image.convolve: the kernel must be a tensor or a nested table", 2) end
  opts = check.opts(opts, "image.convolve", {padding = true, stride = true})
  local padding = opts.padding or 0
  if type(padding) ~= "string" then padding = check.integer(padding, "image.convolve", "padding", 0) end
  local stride = check.integer(opts.stride or 1, "image.convolve", "stride", 1)
  local ok, out = pcall(T.image_filter2d, img, kernel, padding, stride)
  if not ok then error((tostring(out):gsub("^image_filter2d", "image.convolve")), 2) end
  return out
end

-- Each kernel is a fresh [K,K] tensor every time it is asked for (kernels are mutable
-- tensors; a shared one changed in place would change every later use).
local builders = {
  -- The issue's 5x5 Gaussian: the outer product of (1,4,8,4,1) with itself, / 324.
  gaussian5 = function()
    local r = {1, 4, 8, 4, 1}
    local rows = {}
    for i = 1, 5 do
      rows[i] = {}
      for j = 1, 5 do rows[i][j] = r[i] * r[j] end
    end
    return T.tensor(rows) / 324
  end,
  sobel_x = function() return T.tensor{{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}} end,
  sobel_y = function() return T.tensor{{-1, -2, -1}, {0, 0, 0}, {1, 2, 1}} end,
  prewitt_x = function() return T.tensor{{-1, 0, 1}, {-1, 0, 1}, {-1, 0, 1}} end,
  prewitt_y = function() return T.tensor{{-1, -1, -1}, {0, 0, 0}, {1, 1, 1}} end,
  laplacian = function() return T.tensor{{0, -1, 0}, {-1, 4, -1}, {0, -1, 0}} end,
}

M.kernels = setmetatable({
  -- box(n): the n x n mean filter, every weight 1/n^2.
  box = function(n)
    n = check.integer(n, "image.kernels.box", "n", 1)
    return T.full({n, n}, 1 / (n * n))
  end,
  names = {"gaussian5", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "laplacian", "box"},
}, {
  __index = function(_, name)
    local b = builders[name]
    if not b then error(string.format("image.kernels: no kernel named '%s'", tostring(name)), 2) end
    return b()
  end,
})

return M
