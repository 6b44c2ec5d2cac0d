-- Images: files, channels, geometry, filtering, and looking at them in the terminal.
-- An image is a tensor [C,H,W] (channels first) or [H,W], values 0..255 (docs/images.md).
--   local image = require "image"
--   local t = image.load("photo.png")            -- [3,H,W], 0..255
--   local edges = image.convolve(image.grayscale(t), image.kernels.sobel_x, {padding = "same"})
--   image.save("/tmp/edges.png", image.normalize_for_display(edges))
--   image.print(x_train[1])      -- grid of the 0..255 values and an ASCII picture
local print_ = require "image.print"
local io_ = require "image.io"
local color = require "image.color"
local geometry = require "image.geometry"
local filter = require "image.filter"

return {
  -- image/print.lua
  print = print_.print,
  format = print_.format,
  to_ascii = print_.to_ascii,
  grid_string = print_.grid_string,
  -- image/io.lua
  load = io_.load,
  save = io_.save,
  -- image/color.lua
  split = color.split,
  merge = color.merge,
  grayscale = color.grayscale,
  quantize = color.quantize,
  normalize_for_display = color.normalize_for_display,
  GRAY_WEIGHTS = color.GRAY_WEIGHTS,
  -- image/geometry.lua
  resize = geometry.resize,
  crop = geometry.crop,
  pad = geometry.pad,
  hflip = geometry.hflip,
  vflip = geometry.vflip,
  -- image/filter.lua
  convolve = filter.convolve,
  kernels = filter.kernels,
}
