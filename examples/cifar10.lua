-- A small VGG-style network on CIFAR-10 colour photographs, with batch norm and data
-- augmentation (random crops of the image padded by 4, horizontal flips, per-channel
-- normalization).
--
--   luacnn train examples/cifar10.lua                    20 epochs on the 50,000 training images
--   luacnn train examples/cifar10.lua --epochs 1 --subset 5000     a quick look
--   options: --epochs N (20) --batch-size N (64) --lr X (0.001) --subset N (first N images
--            of each split) --width N (first block's channels, 64) --no-augment --seed N
--            --data DIR --plot curves.svg --threads N
-- The data is the "binary version" of CIFAR-10 (data_batch_1..5.bin, test_batch.bin) in
-- --data DIR, $LUACNN_DATA/cifar-10-batches-bin or data/cifar-10-batches-bin; when it is
-- missing the error says where to download it and where to put it.
local T = require "luacnn"
local datasets = require "datasets"
local optim = require "optim"

local opts = ... or {}
if opts.seed then T.manual_seed(opts.seed) end
print(string.format("seed %d, %d thread%s", T.initial_seed(), T.get_num_threads(), T.get_num_threads() == 1 and "" or "s"))

-- normalize: pixels / 255 while reading, so the 600 MB training tensor exists once
local x_train, y_train, x_test, y_test, class_names = datasets.cifar10.load_data{
  data = opts.data, normalize = true, subset = opts.subset,
}
print(string.format("cifar10: %d training and %d test images of 3x32x32", x_train:size(1), x_test:size(1)))

-- Per-channel mean and standard deviation of the training images, for the normalization.
local mean, std = {}, {}
for c = 1, 3 do
  local plane = x_train:select(2, c)
  mean[c], std[c] = plane:mean(), plane:std()
end
print(string.format("channel mean %.4f %.4f %.4f, std %.4f %.4f %.4f", mean[1], mean[2], mean[3], std[1], std[2], std[3]))

local augment = opts.augment ~= false
local aug = datasets.augment{crop = 32, padding = augment and 4 or 0, flip = augment, mean = mean, std = std}
print("training batches: " .. tostring(aug))
-- the test images get the normalization alone, once
local x_val = aug:normalize(x_test)

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model = assert(loadfile(here .. "/../models/cifar_vgg.lua"))({width = opts.width})
model:summary()
model:compile{optimizer = optim.Adam{lr = opts.lr or 1e-3}, loss = "sparse_categorical_crossentropy",
              metrics = {"accuracy"}}

local history = model:fit(x_train, y_train, {
  epochs = opts.epochs or 20,
  batch_size = opts.batch_size or 64,
  validation_data = {x_val, y_test},
  augment = aug,
})

local loss, accuracy = model:evaluate(x_val, y_test)
print(string.format("test loss %.4f, test accuracy %.2f%%", loss, 100 * accuracy))

-- accuracy per class: which photographs the network confuses
local predicted = model:predict(x_val):argmax(2)  -- 1-based class indices
local right, total = {}, {}
for i = 1, y_test:size(1) do
  local c = math.tointeger(y_test[i]) + 1
  total[c] = (total[c] or 0) + 1
  if predicted[i] == c then right[c] = (right[c] or 0) + 1 end
end
local parts = {}
for c, name in ipairs(class_names) do
  if total[c] then parts[#parts + 1] = string.format("%s %.0f%%", name, 100 * (right[c] or 0) / total[c]) end
end
print("per class: " .. table.concat(parts, ", "))
if opts.plot then print("training curves written to " .. history:plot(opts.plot)) end
