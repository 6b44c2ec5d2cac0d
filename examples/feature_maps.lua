-- Seeing inside LeNet-5: trains it briefly on the MNIST digits, then writes PNGs of the
-- first and second conv layers' filters and of the feature maps one test digit produces
-- at each conv layer.
--
--   luacnn train examples/feature_maps.lua [--epochs 2] [--index 1] [--out DIR]
local T = require "luacnn"
local datasets = require "datasets"
local image = require "image"
local grid = require "viz.grid"

local opts = ... or {}
local out_dir = opts.out or "/tmp/luacnn-feature-maps"
assert(os.execute("mkdir -p '" .. out_dir:gsub("'", "'\\''") .. "'"), "cannot create " .. out_dir)

local x_train, y_train, x_test, y_test = datasets.mnist.load_data{data = opts.data}
x_train = x_train:view(-1, 1, 28, 28) / 255
x_test = x_test:view(-1, 1, 28, 28) / 255

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/lenet5.lua"))()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
model:fit(x_train, y_train, {epochs = opts.epochs or 2, batch_size = 64})
local _, accuracy = model:evaluate(x_test, y_test)
print(string.format("test accuracy %.2f%%", 100 * accuracy))

-- One test digit through the network; each layer keeps its last output.
local i = opts.index or 1
local digit = x_test:narrow(1, i, 1)
local probabilities = model:predict(digit)
local predicted = probabilities[1]:argmax() - 1
print(string.format("test image %d: label %d, predicted %d", i, y_test[i], predicted))
model:evaluate()
model:forward(digit)

local conv1, conv2 = model.layers[1], model.layers[3]
local function write(name, picture)
  local path = out_dir .. "/" .. name
  image.save(path, picture)
  print(string.format("  %-16s %s", name, path))
end
print("written:")
write("input.png", grid.maps(digit[1], {scale = 8}))
write("filters1.png", grid.filters(conv1.weight))
write("filters2.png", grid.filters(conv2.weight, {scale = 6}))
write("maps1.png", grid.maps(conv1.output[1], {scale = 4, cols = 6}))  -- 6 maps of 28x28
write("maps2.png", grid.maps(conv2.output[1], {scale = 6, cols = 8}))  -- 16 maps of 10x10
