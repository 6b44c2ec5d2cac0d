-- A small graph network on the MNIST digits: two Inception modules (models/inception.lua),
-- a residual shortcut around the second, and an auxiliary classifier on the first that
-- helps in training and is skipped at test time (as in GoogLeNet).
--
--   luacnn train examples/mini_inception.lua                    3 epochs on the MNIST digits
--   luacnn train examples/mini_inception.lua --dataset fashion  the same on Fashion-MNIST
--   options: --epochs N --batch-size N --aux-weight W --seed N --data DIR --threads N
local T = require "luacnn"
local nn = require "nn"
local datasets = require "datasets"

local opts = ... or {}
local dataset, which = datasets.named(opts.dataset)
if opts.seed then T.manual_seed(opts.seed) end
print(string.format("seed %d, %d thread%s", T.initial_seed(), T.get_num_threads(), T.get_num_threads() == 1 and "" or "s"))

local x_train, y_train, x_test, y_test = dataset.load_data{data = opts.data}
x_train = x_train:view(-1, 1, 28, 28) / 255
x_test = x_test:view(-1, 1, 28, 28) / 255
print(string.format("%s: %d training and %d test images of 1x28x28", which, x_train:size(1), x_test:size(1)))

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local _, inception = assert(loadfile(here .. "/../models/inception.lua"))({model = false})

-- Branches {1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj}, GoogLeNet's proportions;
-- every convolution is followed by batch norm (as in torchvision's GoogLeNet).
local x = nn.Input{1, 28, 28}
local h = nn.MaxPool2d(2)(inception.conv(x, 32, 3, {bn = true}))                         -- 32x14x14
local a = inception.reduced(h, {16, 16, 24, 4, 8, 16}, {bn = true, name = "inception_a"}) -- 64x14x14
local aux = nn.Dense(10, {activation = "softmax"})(nn.GlobalAvgPool2d()(a))
h = nn.MaxPool2d(2)(a)                                                                  -- 64x7x7
local b = inception.reduced(h, {32, 32, 48, 8, 16, 32}, {bn = true, name = "inception_b"}) -- 128x7x7
b = nn.ReLU()(nn.Add()({b, nn.Conv2d(64, 128, 1)(h)}))         -- the shortcut: 1x1 to 128 channels
local main = nn.Dense(10, {activation = "softmax"})(nn.GlobalAvgPool2d()(b))
local model = nn.Model{inputs = x, outputs = {main = main, aux = aux}, aux = {"aux"}, name = "mini_inception"}
print(model)

model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy",
              loss_weights = {main = 1, aux = opts.aux_weight or 0.3}, metrics = {"accuracy"}}
local history = model:fit(x_train, y_train, {
  epochs = opts.epochs or 3,
  batch_size = opts.batch_size or 64,
  validation_data = {x_test, y_test},
})
print(string.format("last epoch: main loss %.4f, aux loss %.4f (weight %g)", history:last("main_loss"),
                    history:last("aux_loss"), opts.aux_weight or 0.3))

-- evaluation mode computes the main head alone
local loss, accuracy = model:evaluate(x_test, y_test)
local p = model:predict(x_test:narrow(1, 1, 1))
print(string.format("test loss %.4f, test accuracy %.2f%% (predict gives %s)", loss, 100 * accuracy,
                    tostring(p:size())))
