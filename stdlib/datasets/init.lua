-- Real data sets as tensors, in the manner of keras.datasets:
--   local datasets = require "datasets"
--   local x_train, y_train, x_test, y_test = datasets.mnist.load_data()
--   x_train = x_train / 255
-- Each load_data looks in opts.data when given, else in $LUACNN_DATA/<name>, then the
-- project's data/<name>, then (Fashion-MNIST) where its Debian package puts it.
-- `scripts/bootstrap --data` fetches MNIST and Fashion-MNIST; CIFAR-10 is downloaded by
-- hand (its error says from where and where to put it). docs/datasets.md has the details.
-- datasets.augment{...} builds a batch augmentation for model:fit{augment = ...}.
local M = {
  mnist = require "datasets.mnist",
  fashion_mnist = require "datasets.fashion_mnist",
  cifar10 = require "datasets.cifar10",
  augment = require("datasets.augment").new,
}

local aliases = {mnist = "mnist", digits = "mnist", fashion = "fashion_mnist", fashion_mnist = "fashion_mnist",
                 cifar10 = "cifar10", cifar = "cifar10", ["cifar-10"] = "cifar10"}

-- The data set a command-line name means ("mnist", "digits", "fashion", "fashion_mnist",
-- "cifar10", "cifar"), and its canonical name; nil defaults to MNIST.
function M.named(name)
  local key = aliases[name or "mnist"]
  if not key then
    error(string.format("unknown data set '%s' (known: mnist, digits, fashion, fashion_mnist, cifar10, cifar)",
                        tostring(name)), 2)
  end
  return M[key], key
end

return M
