-- compile / fit / evaluate / predict for graph models (nn/model.lua), with several inputs and
-- outputs. A single-output model compiles as any module does (and fuses its final softmax
-- with the cross-entropy the same way); with several outputs:
--   model:compile{optimizer = "adam",
--                 loss = {main = "sparse_categorical_crossentropy", aux1 = ..., aux2 = ...},
--                 loss_weights = {main = 1, aux1 = 0.3, aux2 = 0.3}, metrics = {"accuracy"}}
--   model:fit(x, y)          -- y: one tensor for every output, or a table keyed like the outputs
-- * loss: one name or object for every output, or one per output (by name, or by position for
--   a list of outputs); an output without a loss is not trained through.
-- * The loss minimized is the sum of weight * loss over the active outputs (all in training;
--   in evaluation the auxiliary ones are skipped, so evaluate() reports the main loss).
-- * metrics: a list applies to the main output ("accuracy"); a table {aux1 = {...}} adds
--   others ("aux1_accuracy"). Auxiliary outputs take no metrics: evaluation never runs them.
-- * History and the progress line show each output's own (unweighted) loss, "aux1_loss".
-- * Several inputs: x is a list of tensors, in the order of the model's inputs.
local T = require "luacnn"
local Module = require "nn.module"
local Model = require "nn.model"
local losses = require "nn.losses"
local metrics = require "nn.metrics"
local optim = require "optim"
local options = require "nn.options"
local shape = require "nn.shape"
require "nn.fit"

local function bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end

-- "aux1" for a named output, "output2" for the second of a list.
local function label(self, o)
  return self.named_outputs and tostring(o.key) or ("output" .. o.key)
end

local function is_loss_object(v)
  return type(v) == "table" and v.forward ~= nil and v.backward ~= nil
end

-- Entries of a per-output table whose keys are not outputs.
local function check_keys(self, t, what)
  if type(t) ~= "table" then return end
  for k in pairs(t) do
    local ok = false
    for _, o in ipairs(self.output_list) do ok = ok or o.key == k end
    if not ok then error(string.format("%s names '%s', which is not an output", what, tostring(k)), 0) end
  end
end

-- The innermost layer of an output when its activation may be fused with the loss (see
-- Model:final_layer): through nested models and Sequentials, whose backward passes
-- from_preactivation on to it.
local function fusable_layer(self, o)
  local st = self.steps[o.slot - self.num_inputs]
  if not st or st.shared or st.multi or self._train.fan[o.slot] ~= 1 then return nil end
  if (self._eval.fan[o.slot] or 0) > 1 then return nil end
  local m = st.layer
  while m do
    local inner
    if m.final_layer then
      inner = m:final_layer()
      if not inner then return nil end
    elseif m.layers and #m.layers > 0 then
      inner = m.layers[#m.layers]
    end
    if not inner then break end
    m = inner
  end
  return m.preactivation and m or nil
end

-- A copy of v if it is plain data (strings, numbers, booleans, tables of them), else nil.
local function plain(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  if t ~= "table" or getmetatable(v) ~= nil or depth > 8 then return nil end
  local out = {}
  for k, x in pairs(v) do
    local c = plain(x, depth + 1)
    if c == nil or (type(k) ~= "string" and math.type(k) ~= "integer") then return nil end
    out[k] = c
  end
  return out
end

function Model:compile(opts)
  if type(opts) == "table" then options.check("compile", opts, {"optimizer", "loss", "loss_weights", "metrics"}, 2) end
  if self.num_outputs == 1 and (type(opts) ~= "table" or opts.loss_weights == nil and
                                (type(opts.loss) ~= "table" or is_loss_object(opts.loss))) then
    self._multi = nil
    return Module.compile(self, opts)
  end
  if type(opts) ~= "table" then error("compile: expected a table {optimizer=, loss=, loss_weights=, metrics=}", 2) end
  if opts.loss == nil then error("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'", 2) end
  local ok, err = pcall(function()
    local per_output = type(opts.loss) == "table" and not is_loss_object(opts.loss)
    if per_output then check_keys(self, opts.loss, "loss") end
    check_keys(self, opts.loss_weights, "loss_weights")
    local weights = opts.loss_weights or {}
    if type(weights) ~= "table" then error("loss_weights must be a table keyed like the outputs", 0) end
    self.heads = {}
    local used = {}
    for _, o in ipairs(self.output_list) do
      local spec = opts.loss
      if per_output then spec = opts.loss[o.key] end
      local w = weights[o.key] or 1
      if type(w) ~= "number" or not (w >= 0) then
        error(string.format("loss_weights: the weight of '%s' must be a number >= 0, got %s", label(self, o), tostring(w)), 0)
      end
      if spec ~= nil then
        local lf = losses.get(spec)
        if used[lf] then
          error(string.format("outputs '%s' and '%s' share one loss object; give each its own (or a name)", used[lf],
                              label(self, o)), 0)
        end
        used[lf] = label(self, o)
        local layer = fusable_layer(self, o)
        local fuse = losses.fuses_with[lf.name]
        local head = {output = o, key = o.key, label = label(self, o), loss = lf, weight = w,
                      fused = fuse ~= nil and not lf.from_logits and layer ~= nil and layer.activation == fuse,
                      layer = layer}
        self.heads[#self.heads + 1] = head
      end
    end
    if #self.heads == 0 then error("no output has a loss", 0) end
    self.optimizer = optim.get(opts.optimizer or "adam")
    local main = self.output_list[1]
    self.loss_fn = self.heads[1].output == main and self.heads[1].loss or nil
    self.metrics, self._metric_outputs = {}, {}
    local specs = opts.metrics or {}
    if type(specs) ~= "table" then error("metrics must be a list, or a table keyed like the outputs", 0) end
    local by_output = {}
    if #specs > 0 then by_output[main.key] = specs end
    for k, v in pairs(specs) do
      if math.type(k) ~= "integer" then by_output[k] = v end
    end
    check_keys(self, by_output, "metrics")
    for _, o in ipairs(self.output_list) do
      local list = by_output[o.key]
      if list then
        if o.aux then
          error(string.format("metrics: '%s' is a training-only output: evaluation never computes it", label(self, o)), 0)
        end
        local loss_name
        for _, h in ipairs(self.heads) do
          if h.output == o then loss_name = h.loss.name end
        end
        for _, spec in ipairs(type(list) == "table" and list or {list}) do
          local m = metrics.get(spec, loss_name)
          if o ~= main and type(spec) == "string" then m.name = label(self, o) .. "_" .. m.name end
          self.metrics[#self.metrics + 1] = m
          self._metric_outputs[#self.metrics] = o
        end
      end
    end
  end)
  if not ok then error("compile: " .. bare(err), 2) end
  self._fused = false
  self._multi = true
  self.compiled = true
  -- what a saved model needs to be compiled again when loaded (nn/checkpoint.lua): losses
  -- and metrics given by name; objects have no plain-data form
  local loss = plain(opts.loss)
  self.compile_config = loss and {loss = loss, loss_weights = plain(opts.loss_weights), metrics = plain(opts.metrics)}
                        or nil
  if opts.metrics ~= nil and self.compile_config and self.compile_config.metrics == nil then self.compile_config = nil end
  return self
end

-- x (a tensor, or a list of tensors for several inputs) against the inputs; y (false for
-- predict) a tensor for every output or a table keyed like them, all with x's sample count.
function Model:check_data(what, x, y, level)
  level = level + 1
  local xs = x
  if not self.multi_input then
    if not T.is_tensor(x) then error(string.format("%s: x must be a tensor, got %s", what, type(x)), level) end
    xs = {x}
  elseif type(x) ~= "table" or #x ~= self.num_inputs then
    error(string.format("%s: x must be a list of %d tensors (one per input), got %s", what, self.num_inputs,
                        type(x) == "table" and ("a list of " .. #x) or type(x)), level)
  end
  local n
  for i, t in ipairs(xs) do
    local name = self.multi_input and string.format("x[%d]", i) or "x"
    if not T.is_tensor(t) then error(string.format("%s: %s must be a tensor, got %s", what, name, type(t)), level) end
    if t:dim() < 1 then error(string.format("%s: %s needs a sample dimension", what, name), level) end
    local msg = shape.check_input(t, self.inputs[i].shape)
    if msg then
      local which = self.multi_input and string.format("input %d (%s): ", i, self.inputs[i]:describe()) or ""
      error(string.format("%s: %s: %s%s", what, self:describe(), which, msg), level)
    end
    n = n or t:size(1)
    if t:size(1) ~= n then error(string.format("%s: x[%d] has %d samples but x[1] has %d", what, i, t:size(1), n), level) end
  end
  if y == false then return end
  local function check_y(t, name)  -- one frame deeper than check_data
    if not T.is_tensor(t) then error(string.format("%s: %s must be a tensor, got %s", what, name, type(t)), level + 1) end
    if t:dim() < 1 or t:size(1) ~= n then
      error(string.format("%s: x has %d samples but %s has %d", what, n, name, t:dim() > 0 and t:size(1) or 0), level + 1)
    end
  end
  if T.is_tensor(y) or not self._multi then
    check_y(y, "y")
    return
  end
  if type(y) ~= "table" then
    error(string.format("%s: y must be a tensor or a table of tensors keyed like the outputs, got %s", what, type(y)), level)
  end
  local ok, err = pcall(check_keys, self, y, "y")
  if not ok then error(what .. ": " .. bare(err), level) end
  for _, h in ipairs(self.heads) do
    if y[h.key] == nil then error(string.format("%s: y has no targets for output '%s'", what, h.label), level) end
    check_y(y[h.key], string.format("y[%q]", tostring(h.key)))
  end
end

local function targets(yb, key)
  if T.is_tensor(yb) then return yb end
  return yb[key]
end

function Model:check_labels(what, y, level)
  if not self._multi then return Module.check_labels(self, what, y, level + 1) end
  for _, h in ipairs(self.heads) do
    if h.loss.name == "sparse_categorical_crossentropy" then
      local s = h.output.node.shape
      Module.check_class_ids(what, targets(y, h.key), s[#s], level + 1,
                             T.is_tensor(y) and "" or string.format("of output '%s' ", h.label))
    end
  end
end

-- The active heads' losses for the last forward: their weighted sum, and for training the
-- gradients, weighted, in self._dys (keyed like the outputs).
local function head_losses(self, yb, with_grads)
  local values = self._values
  local total = 0
  local active = {}
  for _, o in ipairs(self._sched.outputs) do active[o] = true end
  local dys, fused = self._dys or {}, self._fused_heads or {}
  self._dys, self._fused_heads = dys, fused
  for _, h in ipairs(self.heads) do
    dys[h.key], fused[h.key] = nil, nil
    if active[h.output] then
      local out, y = values[h.output.slot], targets(yb, h.key)
      local l
      if h.fused then
        local z = h.layer:preactivation()
        l = h.loss:forward_logits(z, y)
        if with_grads then dys[h.key] = h.loss:backward_logits(z, y) end
      else
        l = h.loss:forward(out, y)
        if with_grads then dys[h.key] = h.loss:backward(out, y) end
      end
      -- the gradient is the loss's own buffer, rewritten by its next backward: scaled in place
      if with_grads and h.weight ~= 1 then dys[h.key]:mul_(h.weight) end
      fused[h.key] = h.fused
      h.last = l
      total = total + h.weight * l
    else
      h.last = nil
    end
  end
  return total
end

function Model:train_step(xb, yb, params, grads)
  if not self._multi then return Module.train_step(self, xb, yb, params, grads) end
  self:zero_grad()
  local out = self:forward(xb)
  local loss = head_losses(self, yb, true)
  self:backward(xb, T.is_tensor(out) and self._dys[self._sched.outputs[1].key] or self._dys,
                T.is_tensor(out) and self._fused_heads[self._sched.outputs[1].key] or self._fused_heads)
  self.optimizer:step(params, grads)
  local nb = T.is_tensor(xb) and xb:size(1) or xb[1]:size(1)
  self._seen = (self._seen or 0) + nb
  for _, h in ipairs(self.heads) do
    if h.last then h.sum = (h.sum or 0) + h.last * nb end
  end
  return loss, out
end

function Model:eval_step(xb, yb)
  if not self._multi then return Module.eval_step(self, xb, yb) end
  local out = self:forward(xb)
  return head_losses(self, yb, false), out
end

function Model:reset_metrics()
  self._seen = 0
  for _, h in ipairs(self.heads or {}) do h.sum = 0 end
  Module.reset_metrics(self)
end

function Model:update_metrics(out, yb)
  if not self._multi then return Module.update_metrics(self, out, yb) end
  for i, m in ipairs(self.metrics) do
    local o = self._metric_outputs[i]
    local pred = T.is_tensor(out) and out or out[o.key]
    m:update(pred, targets(yb, o.key))
  end
end

-- Checkpoints inside an epoch keep the per-output loss sums too (see Module:metric_state).
function Model:metric_state()
  local s = Module.metric_state(self)
  s.seen, s.heads = self._seen or 0, {}
  for i, h in ipairs(self.heads or {}) do s.heads[i] = h.sum or false end
  return s
end

function Model:set_metric_state(s)
  Module.set_metric_state(self, s)
  if type(s) ~= "table" then return end
  if type(s.seen) == "number" then self._seen = s.seen end
  for i, h in ipairs(self.heads or {}) do
    if type(s.heads) == "table" and type(s.heads[i]) == "number" then h.sum = s.heads[i] end
  end
end

function Model:metric_logs(logs)
  if self._multi and (self._seen or 0) > 0 then
    for _, h in ipairs(self.heads) do
      if h.sum then logs[#logs + 1] = {h.label .. "_loss", h.sum / self._seen} end
    end
  end
  return Module.metric_logs(self, logs)
end

return Model
