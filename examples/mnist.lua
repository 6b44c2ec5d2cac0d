-- The first network of the course, on real handwritten digits:
--   Flatten -> Dense 128 ReLU -> Dense 10 softmax, Adam, sparse categorical cross-entropy.
--
--   luacnn train examples/mnist.lua                      10 epochs on the MNIST digits
--   luacnn train examples/mnist.lua --dataset fashion    the same on Fashion-MNIST
--   options: --epochs N --batch-size N --seed N --data DIR --plot curves.svg --threads N
local T = require "luacnn"
local nn = require "nn"
local datasets = require "datasets"

local opts = ... or {}
local dataset, which = datasets.named(opts.dataset)
if opts.seed then T.manual_seed(opts.seed) end
print(string.format("seed %d, %d thread%s", T.initial_seed(), T.get_num_threads(), T.get_num_threads() == 1 and "" or "s"))

-- Pixels arrive as bytes 0..255; the network wants values around 0..1.
local x_train, y_train, x_test, y_test = dataset.load_data{data = opts.data}
x_train, x_test = x_train / 255, x_test / 255
print(string.format("%s: %d training and %d test images of %dx%d", which, x_train:size(1), x_test:size(1),
                    x_train:size(2), x_train:size(3)))

local model = nn.Sequential{
  nn.Flatten{input_shape = {28, 28}},
  nn.Dense(128, {activation = "relu"}),
  nn.Dense(10, {activation = "softmax"}),
}
model:summary()
model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}

local history = model:fit(x_train, y_train, {
  epochs = opts.epochs or 10,
  batch_size = opts.batch_size or 32,
  validation_data = {x_test, y_test},
})

local loss, accuracy = model:evaluate(x_test, y_test)
print(string.format("test loss %.4f, test accuracy %.2f%%", loss, 100 * accuracy))
if opts.plot then print("training curves written to " .. history:plot(opts.plot)) end
