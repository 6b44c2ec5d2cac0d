-- A short training run that goes through every kind of layer and the whole fit loop
-- (convolution, pooling, dense, Adam, validation, evaluate, predict, an IDX round trip),
-- run under valgrind or LeakSanitizer by tests/leak: it must end with no leak and no
-- invalid access. It prints what it trained so a broken run cannot pass silently.
local T = require "luacnn"
local nn = require "nn"
T.manual_seed(1)
local x, y = T.rand{64, 1, 8, 8}, T.randint(0, 3, {64})
local m = nn.Sequential{
  nn.Conv2d(1, 2, 3, {padding = 1, input_shape = {1, 8, 8}, activation = "relu"}),
  nn.MaxPool2d(2),
  nn.BatchNorm2d(2),
  nn.Flatten(),
  nn.Dropout(0.1),
  nn.Dense(3, {activation = "softmax"}),
}
m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
local h = m:fit(x, y, {epochs = 2, batch_size = 16, verbose = 0, validation_split = 0.25})
local loss, acc = m:evaluate(x, y)
local p = m:predict(x)
local path = os.tmpname()
T.save_idx(path, p)
local back = T.load_idx(path)
os.remove(path)
assert(back:equal(p), "IDX round trip")
assert(#h.epoch == 2 and loss == loss, "the run did not train")
print(string.format("trained %d epochs, loss %.4f, accuracy %.4f, predictions %s", #h.epoch, loss, acc,
                    table.concat(p:size(), "x")))
