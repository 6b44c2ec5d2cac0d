-- LeNet-5 on real handwritten digits (or Fashion-MNIST): the first convolutional network.
--
--   luacnn train examples/lenet5.lua                      10 epochs on the MNIST digits
--   luacnn train examples/lenet5.lua --dataset fashion    the same on Fashion-MNIST
--   options: --epochs N --batch-size N --seed N --data DIR --plot curves.svg --threads N
local T = require "luacnn"
local datasets = require "datasets"

local opts = ... or {}
local dataset, which = datasets.named(opts.dataset)
if opts.seed then T.manual_seed(opts.seed) end
print(string.format("seed %d, %d thread%s", T.initial_seed(), T.get_num_threads(), T.get_num_threads() == 1 and "" or "s"))

-- Convolutions want images as channels x height x width: one grey channel here.
local x_train, y_train, x_test, y_test = dataset.load_data{data = opts.data}
x_train = x_train:view(-1, 1, 28, 28) / 255
x_test = x_test:view(-1, 1, 28, 28) / 255
print(string.format("%s: %d training and %d test images of 1x28x28", which, x_train:size(1), x_test:size(1)))

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/lenet5.lua"))()
model:summary()
-- Adam whose step size follows a cosine from 1e-3 down to zero over the run: the last
-- epochs fine-tune instead of jumping around the minimum, so the final weights are about
-- the best ones.
local optim = require "optim"
local epochs, batch_size = opts.epochs or 10, opts.batch_size or 64
local steps = epochs * math.ceil(x_train:size(1) / batch_size)
local lr = optim.schedules.cosine{initial = 1e-3, decay_steps = steps}
model:compile{optimizer = optim.Adam{lr = lr}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}

local history = model:fit(x_train, y_train, {
  epochs = epochs,
  batch_size = batch_size,
  validation_data = {x_test, y_test},
})

local loss, accuracy = model:evaluate(x_test, y_test)
print(string.format("test loss %.4f, test accuracy %.2f%%", loss, 100 * accuracy))
if opts.plot then print("training curves written to " .. history:plot(opts.plot)) end
