-- An image is a grid of 8-bit numbers. This prints one real handwritten digit as the
-- numbers the network sees, then shows what quantization (fewer grey levels) and
-- sampling (fewer pixels) do to it.
--
--   luacnn run examples/pixels.lua [index]     (index of the training image, default 1)
local T = require "luacnn"
local datasets = require "datasets"
local image = require "image"

local i = math.tointeger(tonumber(arg[1] or "1")) or error("index must be an integer")
local x_train, y_train = datasets.mnist.load_data()
local digit = x_train[i]
print(string.format("training image %d of %d: label %d, %dx%d pixels, one byte (0..255) each",
                    i, x_train:size(1), y_train[i], digit:size(1), digit:size(2)))
image.print(digit)

-- Quantization: keep `levels` grey levels instead of 256. Each pixel is rounded down to
-- the start of its band (image.quantize): 2 levels keep only "ink or not".
for _, levels in ipairs{8, 2} do
  local q = image.quantize(digit, levels)
  print(string.format("\n%d levels (%d bit%s per pixel): the values are now %s", levels, math.floor(math.log(levels, 2)),
                      levels == 2 and "" or "s", levels == 2 and "0 and 128" or "multiples of " .. 256 // levels))
  print(image.to_ascii(q))
end

-- Sampling: keep every k-th pixel in each direction; detail finer than k pixels is lost.
for _, k in ipairs{2, 4} do
  local s = digit[{{1, -1, k}, {1, -1, k}}]
  print(string.format("\nevery %d%s pixel: %dx%d", k, k == 2 and "nd" or "th", s:size(1), s:size(2)))
  print(image.to_ascii(s))
end
