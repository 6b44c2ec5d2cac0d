-- Real data sets as tensors, in the manner of keras.datasets:
--   local datasets = require "datasets"
--   local x_train, y_train, x_test, y_test = datasets.mnist.load_data()
--   x_train = x_train / 255
-- Each load_data looks in opts.data when given, else in $LUACNN_DATA/<name>, then the
-- project's data/<name>, then (Fashion-MNIST) where its Debian package puts it.
-- `scripts/bootstrap --data` fetches them all; docs/datasets.md has the details.
local M = {
  mnist = require "datasets.mnist",
  fashion_mnist = require "datasets.fashion_mnist",
}

local aliases = {mnist = "mnist", digits = "mnist", fashion = "fashion_mnist", fashion_mnist = "fashion_mnist"}

-- The data set a command-line name means ("mnist", "digits", "fashion", "fashion_mnist"),
-- and its canonical name; nil defaults to MNIST.
function M.named(name)
  local key = aliases[name or "mnist"]
  if not key then
    error(string.format("unknown data set '%s' (known: mnist, digits, fashion, fashion_mnist)", tostring(name)), 2)
  end
  return M[key], key
end

return M
