-- Fashion-MNIST (Zalando): 28x28 grey images of clothes in 10 classes, MNIST's format
-- and sizes (60,000 train / 10,000 test). As Keras's keras.datasets.fashion_mnist:
--   local x_train, y_train, x_test, y_test = datasets.fashion_mnist.load_data()
-- x: [N,28,28] float32 pixel values 0..255; y: [N] 0-based class ids 0..9, so the
-- name of label y is class_names[y + 1].
local idx_split = require "datasets.idx_split"

local fashion_mnist = {}

fashion_mnist.class_names = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

fashion_mnist.info = setmetatable({
  name = "Fashion-MNIST",
  source = "Debian package dataset-fashion-mnist (Zalando Research, MIT license)",
  image_shape = { 28, 28 },
  num_classes = 10,
  train = 60000,
  test = 10000,
  split = "The published split: 60,000 train / 10,000 test, 6,000 / 1,000 of each class.",
}, { __tostring = function(self) return self.name .. " (" .. self.source .. ")\n" .. self.split end })

-- Searched after $LUACNN_DATA/fashion-mnist and the project's data/fashion-mnist.
fashion_mnist.system_dirs = { "/usr/share/datasets/fashion-mnist" }

local spec = {
  what = "datasets.fashion_mnist.load_data",
  title = "Fashion-MNIST",
  dir_name = "fashion-mnist",
  image_shape = { 28, 28 },
  num_classes = 10,
  system_dirs = function() return fashion_mnist.system_dirs end,
  system_why = "Debian package dataset-fashion-mnist",
}

-- load_data([{data = DIR}]) -> x_train, y_train, x_test, y_test
fashion_mnist.load_data = idx_split.loader(spec)

-- locate([{data = DIR}]) -> the directory load_data would read and its four file
-- paths, or nil and the message load_data would raise.
function fashion_mnist.locate(opts) return idx_split.locate(spec, opts or {}) end

return fashion_mnist
