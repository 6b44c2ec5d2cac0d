-- Metrics accumulated over an epoch: reset(), update(pred, target), result().
-- 'accuracy' means what Keras makes of it for the loss in use: sparse (integer labels),
-- categorical (one-hot rows) or binary (threshold 0.5).
local T = require "luacnn"
local K = T.kernels
local class = require("nn.class").class

local M = {}

local Accuracy = class("Accuracy")

-- kind: "sparse", "categorical", "binary", or nil to decide from the target's shape
function Accuracy:__init(kind, name)
  self.kind = kind
  self.name = name or "accuracy"
  self:reset()
end

function Accuracy:reset()
  self.correct, self.count = 0, 0
end

local function decide(pred, target)
  if target:dim() == 1 and pred:dim() == 2 and pred:size(2) > 1 then return "sparse" end
  if target:dim() == 2 and pred:dim() == 2 and pred:size(2) > 1 then return "categorical" end
  return "binary"
end

function Accuracy:update(pred, target)
  local kind = self.kind or decide(pred, target)
  if not pred:is_contiguous() then pred = pred:contiguous() end
  if kind == "sparse" then
    self.correct = self.correct + K.count_correct(pred, target, 1)
    self.count = self.count + pred:size(1)
  elseif kind == "categorical" then
    local labels = (target:argmax(2) - 1)
    self.correct = self.correct + K.count_correct(pred, labels, 1)
    self.count = self.count + pred:size(1)
  else
    local hits = pred:gt(0.5):eq(target:gt(0.5)):sum()
    self.correct = self.correct + hits
    self.count = self.count + pred:numel()
  end
end

function Accuracy:result()
  return self.count > 0 and self.correct / self.count or 0
end

-- The running counts, so a checkpoint taken mid-epoch resumes the epoch's figures.
function Accuracy:state()
  return {correct = self.correct, count = self.count}
end

function Accuracy:set_state(s)
  if type(s.correct) ~= "number" or type(s.count) ~= "number" then error(self.name .. ": bad metric state", 2) end
  self.correct, self.count = s.correct, s.count
end

local TopK = class("TopKAccuracy")

function TopK:__init(k, name)
  if math.type(k) ~= "integer" or k < 1 then error("top_k_accuracy: k must be a positive integer", 3) end
  self.k = k
  self.name = name or ("top_" .. k .. "_accuracy")
  self:reset()
end

TopK.reset = Accuracy.reset
TopK.result = Accuracy.result
TopK.state = Accuracy.state
TopK.set_state = Accuracy.set_state

function TopK:update(pred, target)
  if not pred:is_contiguous() then pred = pred:contiguous() end
  if target:dim() == 2 then target = (target:argmax(2) - 1) end
  self.correct = self.correct + K.count_correct(pred, target, self.k)
  self.count = self.count + pred:size(1)
end

M.Accuracy, M.TopKAccuracy = Accuracy, TopK

local accuracy_kind = {sparse_categorical_crossentropy = "sparse", categorical_crossentropy = "categorical",
                       binary_crossentropy = "binary"}

-- A metric from a name ('accuracy', 'acc', 'sparse_categorical_accuracy', 'top_5_accuracy',
-- ...) or an object with reset/update/result/name. loss_name picks the accuracy kind.
function M.get(spec, loss_name)
  if type(spec) == "table" and spec.update and spec.result then return spec end
  if spec == "accuracy" or spec == "acc" then return Accuracy(accuracy_kind[loss_name], "accuracy") end
  if spec == "sparse_categorical_accuracy" then return Accuracy("sparse", spec) end
  if spec == "categorical_accuracy" then return Accuracy("categorical", spec) end
  if spec == "binary_accuracy" then return Accuracy("binary", spec) end
  local k = type(spec) == "string" and spec:match("^top_(%d+)_accuracy$")
  if k then return TopK(tonumber(k) // 1, spec) end
  if spec == "top_k_accuracy" then return TopK(5, spec) end
  error(string.format("unknown metric '%s' (known: accuracy, sparse_categorical_accuracy, categorical_accuracy, "
                      .. "binary_accuracy, top_k_accuracy, top_<k>_accuracy)", tostring(spec)), 0)
end

-- The confusion matrix [C, C] of integer labels: rows are true classes, columns the
-- predicted ones. pred may be scores [N, C] (argmax is taken) or labels [N]; labels are
-- 0-based class ids.
function M.confusion_matrix(pred, target, num_classes)
  local predicted = pred:dim() == 2 and (pred:argmax(2) - 1) or pred
  local n = target:numel()
  if predicted:numel() ~= n then
    error(string.format("confusion_matrix: %d predictions for %d labels", predicted:numel(), n), 2)
  end
  local C = num_classes or math.floor(math.max(predicted:max(), target:max())) + 1
  local cm = T.zeros{C, C}
  local p, t = predicted:contiguous():view(-1), target:contiguous():view(-1)
  for i = 1, n do
    local a, b = t[i], p[i]
    if a < 0 or a >= C or b < 0 or b >= C or a % 1 ~= 0 or b % 1 ~= 0 then
      error(string.format("confusion_matrix: label %g or prediction %g of sample %d is outside 0..%d", a, b, i, C - 1), 2)
    end
    cm[a + 1][b + 1] = cm[a + 1][b + 1] + 1
  end
  return cm
end

return M
