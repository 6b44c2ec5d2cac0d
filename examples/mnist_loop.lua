-- The same network as examples/mnist.lua (Flatten -> Dense 128 ReLU -> Dense 10), trained
-- with an explicit loop instead of fit(): every step is written out, for when you want
-- control over it (your own schedule, logging, gradient tricks, several models at once).
--
--   luacnn train examples/mnist_loop.lua            10 epochs on the MNIST digits
--   options: --epochs N --batch-size N --lr X --seed N --data DIR --threads N
--
-- The script returns the model and its test accuracy, so it can be run from Lua as well:
--   local model, accuracy = loadfile("examples/mnist_loop.lua")({epochs = 1})
-- opts.load_data, a function returning x_train, y_train, x_test, y_test, replaces the
-- MNIST files (the tests pass a tiny in-memory data set).
local T = require "luacnn"
local nn = require "nn"
local optim = require "optim"

local opts = ... or {}
if opts.seed then T.manual_seed(opts.seed) end
local epochs, batch_size = opts.epochs or 10, opts.batch_size or 32
print(string.format("seed %d, %d thread%s", T.initial_seed(), T.get_num_threads(), T.get_num_threads() == 1 and "" or "s"))

local load_data = opts.load_data or function() return require("datasets").mnist.load_data{data = opts.data} end
local x_train, y_train, x_test, y_test = load_data()
-- pixels arrive as bytes 0..255; the network wants values around 0..1
x_train, x_test = x_train / 255, x_test / 255
local n = x_train:size(1)
print(string.format("%d training and %d test images of %dx%d", n, x_test:size(1), x_train:size(2), x_train:size(3)))

-- The last layer gives raw scores (logits); the loss applies the softmax itself, which is
-- stable where a separate softmax followed by log() overflows or loses its gradient.
local model = nn.Sequential{
  nn.Flatten{input_shape = {x_train:size(2), x_train:size(3)}},
  nn.Dense(128, {activation = "relu"}),
  nn.Dense(10),
}
model:summary()
local criterion = nn.CrossEntropyLoss()   -- sparse categorical cross-entropy from logits
local optimizer = optim.Adam{lr = opts.lr or 1e-3}
-- The parameter and gradient tensors, in a fixed order. Each forward/backward reuses the
-- layers' buffers, and backward ADDS into the gradients: hence zero_grad() every step.
local params, grads = model:parameters()

local history = {loss = {}, accuracy = {}}
for epoch = 1, epochs do
  local started = os.clock()
  model:train()                       -- dropout and the like in training mode
  local order = T.randperm(n)         -- a new order of the samples every epoch
  local loss_sum = 0
  local accuracy = nn.metrics.Accuracy("sparse")
  for first = 1, n, batch_size do
    local nb = math.min(batch_size, n - first + 1)
    local idx = order:narrow(1, first, nb)
    local xb, yb = T.index_select(x_train, idx), T.index_select(y_train, idx)

    model:zero_grad()
    local logits = model:forward(xb)                  -- [nb, 10]
    local loss = criterion:forward(logits, yb)        -- the batch's mean loss, a number
    local dlogits = criterion:backward(logits, yb)    -- d loss / d logits
    model:backward(xb, dlogits)                       -- fills grads
    optimizer:step(params, grads)                     -- params -= update(grads)

    loss_sum = loss_sum + loss * nb
    accuracy:update(logits, yb)
  end
  history.loss[epoch], history.accuracy[epoch] = loss_sum / n, accuracy:result()
  print(string.format("epoch %d/%d  loss %.4f  accuracy %.2f%%  (%.1f s)", epoch, epochs, history.loss[epoch],
                      100 * history.accuracy[epoch], os.clock() - started))
end

-- Test accuracy: evaluation mode, batches of 1000, no gradients needed.
model:evaluate()
local test_accuracy = nn.metrics.Accuracy("sparse")
for first = 1, x_test:size(1), 1000 do
  local nb = math.min(1000, x_test:size(1) - first + 1)
  test_accuracy:update(model:forward(x_test:narrow(1, first, nb)), y_test:narrow(1, first, nb))
end
print(string.format("test accuracy %.2f%%", 100 * test_accuracy:result()))
return model, test_accuracy:result(), history
