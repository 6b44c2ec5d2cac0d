-- Real data sets as tensors, in the manner of keras.datasets:
--   local datasets = require "datasets"
--   local x_train, y_train, x_test, y_test = datasets.mnist.load_data()
--   x_train = x_train / 255
-- Each load_data looks in opts.data when given, else in $LUACNN_DATA/<name>, then the
-- project's data/<name>, then (Fashion-MNIST) where its Debian package puts it.
-- `scripts/bootstrap --data` fetches them all; docs/datasets.md has the details.
return {
  mnist = require "datasets.mnist",
  fashion_mnist = require "datasets.fashion_mnist",
}
