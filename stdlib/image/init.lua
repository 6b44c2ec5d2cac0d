-- Images: looking at them in the terminal (image/print.lua).
--   local image = require "image"
--   image.print(x_train[1])      -- grid of the 0..255 values and an ASCII picture
--   image.to_ascii(t), image.grid_string(t), image.format(t) return the text instead
local print_ = require "image.print"

return {
  print = print_.print,
  format = print_.format,
  to_ascii = print_.to_ascii,
  grid_string = print_.grid_string,
}
