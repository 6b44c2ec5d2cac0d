-- The Keras-style model API, available on every module (Sequential or a single layer):
--   model:compile{optimizer='adam', loss='sparse_categorical_crossentropy', metrics={'accuracy'}}
--   local history = model:fit(x, y, {epochs=10, batch_size=32, validation_data={xv, yv}})
--   local loss, acc = model:evaluate(x, y);  local p = model:predict(x)
local T = require "luacnn"
local Module = require "nn.module"
local losses = require "nn.losses"
local metrics = require "nn.metrics"
local optim = require "optim"
local shape = require "nn.shape"
local History = require "train.history"
local hooks = require "train.hooks"
local options = require "nn.options"

local FIT_OPTIONS = {"epochs", "batch_size", "shuffle", "validation_data", "validation_split", "callbacks", "verbose",
                     "initial_epoch", "on_nan", "augment", "plot"}

local function bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end

-- The innermost last layer, whose activation a fused loss would absorb. A graph model
-- names it (final_layer), or gives nil when its output cannot be fused.
local function last_layer(model)
  local m = model
  while true do
    local inner
    if m.final_layer then
      inner = m:final_layer()
    elseif m.layers and #m.layers > 0 then
      inner = m.layers[#m.layers]
    end
    if not inner then return m end
    m = inner
  end
end

function Module:compile(opts)
  if type(opts) ~= "table" then error("compile: expected a table {optimizer=, loss=, metrics=}", 2) end
  options.check("compile", opts, {"optimizer", "loss", "metrics"}, 2)
  if opts.loss == nil then error("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'", 2) end
  local ok, err = pcall(function()
    self.optimizer = optim.get(opts.optimizer or "adam")
    self.loss_fn = losses.get(opts.loss)
    self.metrics = {}
    for i, spec in ipairs(opts.metrics or {}) do self.metrics[i] = metrics.get(spec, self.loss_fn.name) end
  end)
  if not ok then error("compile: " .. bare(err), 2) end
  -- what a saved model needs to be compiled again when loaded: names only (a loss or
  -- metric object has no plain-data form)
  local names = {}
  for i, spec in ipairs(opts.metrics or {}) do names[i] = type(spec) == "string" and spec or nil end
  self.compile_config = type(opts.loss) == "string" and #names == #(opts.metrics or {})
                        and {loss = opts.loss, metrics = names} or nil
  -- A final softmax (sigmoid) followed by cross-entropy is trained as one step from the
  -- pre-activation scores: the gradient softmax - onehot cannot overflow or vanish the
  -- way 1/p does for a confident wrong prediction.
  local fuse = losses.fuses_with[self.loss_fn.name]
  local last = last_layer(self)
  self._fused = fuse ~= nil and not self.loss_fn.from_logits and last.activation == fuse and last.preactivation ~= nil
  self.compiled = true
  return self
end

-- The layer that receives the model's input, by its path: "Sequential[1] Dense(784->128, relu)".
local function first_layer_path(model)
  local path, m = "", model
  while m.layers and #m.layers > 0 do
    path = path .. m.class_name .. "[1] "
    m = m.layers[1]
  end
  return path .. m:describe()
end

-- Checks x (and y) against the model before any work, at the caller's line. y is false
-- where no targets are wanted (predict); fit and evaluate need them, so nil is an error.
function Module:check_data(what, x, y, level)
  level = level + 1
  if not T.is_tensor(x) then error(string.format("%s: x must be a tensor, got %s", what, type(x)), level) end
  if x:dim() < 1 then error(what .. ": x needs a sample dimension", level) end
  if y ~= false then
    if not T.is_tensor(y) then error(string.format("%s: y must be a tensor, got %s", what, type(y)), level) end
    if y:dim() < 1 or y:size(1) ~= x:size(1) then
      error(string.format("%s: x has %d samples but y has %d", what, x:size(1), y:dim() > 0 and y:size(1) or 0), level)
    end
  end
  if not self.built then
    local ok, err = pcall(self.build, self, shape.sample(x))
    if not ok then error(what .. ": " .. bare(err), level) end
  elseif not shape.equal(shape.sample(x), self.input_shape) then
    local msg = shape.check_input(x, self.input_shape)
    error(string.format("%s: %s: %s", what, first_layer_path(self), msg), level)
  end
end

-- Sparse labels must be class ids the model can output: checked once, naming the sample.
-- `of` names the output for models with several ("of output 'aux1' ").
function Module.check_class_ids(what, y, C, level, of)
  local bad = y:lt(0) + y:ge(C) + (y - y:floor()):ne(0)
  if bad:max() > 0 then
    local i = bad:argmax()
    error(string.format("%s: label %g of sample %d %sis not a class id in 0..%d (the model has %d outputs)", what,
                        y:view(-1)[i], i, of or "", C - 1, C), level + 1)
  end
end

function Module:check_labels(what, y, level)
  if self.loss_fn.name ~= "sparse_categorical_crossentropy" then return end
  local out = self:output_shape(self.input_shape)
  Module.check_class_ids(what, y, out[#out], level + 1)
end

-- The hooks a model with several outputs replaces (nn/graph_fit.lua): what one evaluation
-- batch costs, and the metrics' bookkeeping.
function Module:eval_step(xb, yb)
  local out = self:forward(xb)
  if self._fused then return self.loss_fn:forward_logits(self:preactivation(), yb), out end
  return self.loss_fn:forward(out, yb), out
end

function Module:reset_metrics()
  for _, m in ipairs(self.metrics) do m:reset() end
end

function Module:update_metrics(out, yb)
  for _, m in ipairs(self.metrics) do m:update(out, yb) end
end

-- The epoch's metric bookkeeping as plain data, and back: a checkpoint taken inside an
-- epoch resumes the epoch's running figures (a metric without state() starts over).
function Module:metric_state()
  local s = {}
  for i, m in ipairs(self.metrics or {}) do s[i] = m.state and m:state() or false end
  return {metrics = s}
end

function Module:set_metric_state(s)
  if type(s) ~= "table" or type(s.metrics) ~= "table" then return end
  for i, m in ipairs(self.metrics or {}) do
    if type(s.metrics[i]) == "table" and m.set_state then m:set_state(s.metrics[i]) end
  end
end

-- Appends {name, value} of each metric (and of anything else a model tracks per epoch).
function Module:metric_logs(logs)
  for _, m in ipairs(self.metrics) do logs[#logs + 1] = {m.name, m:result()} end
  return logs
end

-- x and y are tensors, or tables of them for models with several inputs or outputs.
local function count(d)
  if T.is_tensor(d) then return d:size(1) end
  local _, first = next(d)
  return first:size(1)
end

local function rows(d, first, n)
  if T.is_tensor(d) then return d:narrow(1, first, n) end
  local out = {}
  for k, t in pairs(d) do out[k] = t:narrow(1, first, n) end
  return out
end

-- One optimization step on a batch; returns the batch's mean loss.
function Module:train_step(xb, yb, params, grads)
  self:zero_grad()
  local out = self:forward(xb)
  local lf, loss = self.loss_fn, nil
  if self._fused then
    local z = self:preactivation()
    loss = lf:forward_logits(z, yb)
    self:backward(xb, lf:backward_logits(z, yb), true)
  else
    loss = lf:forward(out, yb)
    self:backward(xb, lf:backward(out, yb))
  end
  self.optimizer:step(params, grads)
  return loss, out
end

-- Batch buffers by size, so gathering a shuffled batch allocates nothing per step.
local function batch_buffer(cache, key, src, n)
  local b = cache[key .. n]
  if not b then
    local s = src:size()
    s[1] = n
    b = T.empty(s)
    cache[key .. n] = b
  end
  return b
end

local function gather(d, idx, cache, key, n)
  if T.is_tensor(d) then return T.index_select(d, idx, batch_buffer(cache, key, d, n)) end
  local out = cache[key .. "{}" .. n] or {}
  cache[key .. "{}" .. n] = out
  for k, t in pairs(d) do out[k] = T.index_select(t, idx, batch_buffer(cache, key .. tostring(k) .. ":", t, n)) end
  return out
end

local function logs_dict(logs)
  local d = {}
  for _, kv in ipairs(logs) do d[kv[1]] = kv[2] end
  return d
end

local function call(cbs, name, ...)
  local stop = false
  for _, cb in ipairs(cbs) do
    if cb[name] and cb[name](...) == true then stop = true end
  end
  return stop
end

-- The user's callbacks, then those of train.hooks (luacnn train's checkpoints).
local function with_hooks(self, opts)
  local cbs = {}
  for _, cb in ipairs(opts.callbacks or {}) do cbs[#cbs + 1] = cb end
  for _, hook in ipairs(hooks.fit) do cbs[#cbs + 1] = hook(self, opts) end
  return cbs
end

-- Options whose bad names or values would otherwise be ignored without a word.
local function check_fit_options(opts, level)
  if type(opts) ~= "table" then error("fit: options must be a table {epochs=, batch_size=, ...}, got " .. type(opts), level + 1) end
  options.check("fit", opts, FIT_OPTIONS, level + 1)
  local on_nan = opts.on_nan
  if on_nan ~= nil and on_nan ~= "stop" and on_nan ~= "error" and on_nan ~= "continue" then
    error(string.format("fit: on_nan must be 'stop', 'error' or 'continue', got %s", tostring(on_nan)), level + 1)
  end
  local vs = opts.validation_split
  if vs ~= nil and not (type(vs) == "number" and vs >= 0 and vs <= 1) then  -- 1 gets a message of its own below
    error(string.format("fit: validation_split must be a number in [0, 1), got %s", vs ~= vs and "nan" or tostring(vs)), level + 1)
  end
end

-- fit(x, y, {epochs=1, batch_size=32, shuffle=true, validation_data={xv, yv},
--            validation_split=0, callbacks={}, verbose=1, initial_epoch=0, on_nan='stop',
--            augment=fn|false})
--
-- Callbacks get the loop state ts as their last argument: ts.epoch in progress, ts.step
-- steps done in it, ts.epoch_done once its validation ran, ts.epoch_rng the generator state
-- its shuffle was drawn from, ts.loss_sum / ts.seen the running loss, and steps, epochs,
-- samples, batch_size, shuffle, history, params. A callback that restored weights,
-- optimizer and generator from a checkpoint in on_train_begin sets ts.resume = {epoch,
-- step, epoch_done, epoch_rng, loss_sum, seen, metrics} and fit continues from there:
-- mid-epoch, the epoch's order is drawn again from the state it was first drawn from,
-- then the generator goes back to where the checkpoint left it.
function Module:fit(x, y, opts)
  opts = opts or {}
  check_fit_options(opts, 2)
  if not self.compiled then error("fit: compile the model first: model:compile{optimizer=..., loss=...}", 2) end
  self:check_data("fit", x, y, 2)
  local epochs, bs = opts.epochs or 1, opts.batch_size or 32
  if math.type(epochs) ~= "integer" or epochs < 0 then error("fit: epochs must be a non-negative integer", 2) end
  if math.type(bs) ~= "integer" or bs < 1 then error("fit: batch_size must be a positive integer", 2) end
  local val = opts.validation_data
  if opts.validation_split and opts.validation_split > 0 then
    if val then error("fit: give validation_data or validation_split, not both", 2) end
    local n = count(x)
    local nv = math.floor(n * opts.validation_split)
    if nv < 1 or nv >= n then error("fit: validation_split leaves no training or no validation samples", 2) end
    val = {rows(x, n - nv + 1, nv), rows(y, n - nv + 1, nv)}
    x, y = rows(x, 1, n - nv), rows(y, 1, n - nv)
  end
  if val then
    if type(val) ~= "table" or val[1] == nil or val[2] == nil then
      error("fit: validation_data must be {x_val, y_val}", 2)
    end
    self:check_data("fit (validation_data)", val[1], val[2], 2)
  end
  self:check_labels("fit", y, 2)
  if val then self:check_labels("fit (validation_data)", val[2], 2) end
  -- opts.augment(xb) -> the batch to train on: training batches only, never validation.
  local augment = opts.augment
  if augment ~= nil and augment ~= false then
    local mt = type(augment) == "table" and getmetatable(augment)
    if type(augment) ~= "function" and not (mt and mt.__call) then
      error("fit: augment must be a function of a batch (e.g. datasets.augment{...}), got " .. type(augment), 2)
    end
    if mt and augment.output_shape and T.is_tensor(x) then
      local ok, s = pcall(augment.output_shape, augment, shape.sample(x))
      if not ok then error("fit: " .. bare(s), 2) end
      if not shape.equal(s, shape.sample(x)) then
        error(string.format("fit: augment turns samples of shape %s into %s; the model is trained on x's shape",
                            shape.str(shape.sample(x)), shape.str(s)), 2)
      end
    end
  end
  local train_step = self.train_step
  if augment then train_step = function(m, xb, ...) return m:train_step(augment(xb), ...) end end

  local Progress = require "train.progress"
  local P, G = self:flatten_parameters()
  local params, grads = {P}, {G}
  local n = count(x)
  local steps = (n + bs - 1) // bs
  local verbose = opts.verbose ~= 0 and opts.verbose ~= false
  local cbs = with_hooks(self, opts)
  local history = History.new()
  local buffers = {}
  local saved_input_grad = self.compute_input_grad
  self.compute_input_grad = false  -- nothing upstream of the first layer needs it
  local ts = {epoch = opts.initial_epoch or 0, step = 0, epoch_done = true, epoch_rng = T.get_rng_state(),
              epochs = epochs, steps = steps, samples = n, batch_size = bs, shuffle = opts.shuffle ~= false,
              history = history, metrics = self.metrics, loss_sum = 0, seen = 0, params = params,
              callbacks = opts.callbacks or {}}
  local function abort(err)
    self.compute_input_grad = saved_input_grad
    self:train()
    call(cbs, "on_train_abort", self, ts, err)
  end
  -- a callback's error (or a request to exit) leaves fit like fit's own errors do
  local function notify(name, ...)
    local ok, res = pcall(call, cbs, name, ...)
    if ok then return res end
    abort(res)
    error(res, 0)
  end
  notify("on_train_begin", self, ts)
  local resume = ts.resume
  local first_epoch = (opts.initial_epoch or 0) + 1
  if resume then
    first_epoch = resume.epoch_done and resume.epoch + 1 or resume.epoch
    -- the position is the checkpoint's until the loop moves on (a run resumed after its
    -- last epoch has nothing left to do, and must not look like a fresh start)
    ts.epoch, ts.step, ts.epoch_done, ts.epoch_rng = resume.epoch, resume.step, resume.epoch_done, resume.epoch_rng
    ts.loss_sum, ts.seen = resume.loss_sum, resume.seen
  end
  for epoch = first_epoch, epochs do
    self:train()
    local mid = resume and not resume.epoch_done and epoch == resume.epoch
    local now = mid and T.get_rng_state()
    if mid then T.set_rng_state(resume.epoch_rng) end
    ts.epoch, ts.step, ts.epoch_done, ts.epoch_rng = epoch, 0, false, T.get_rng_state()
    local order = opts.shuffle == false and T.arange(1, n + 1) or T.randperm(n)
    self:reset_metrics()
    local first_step = mid and resume.step + 1 or 1
    local progress = verbose and Progress.new{total = steps, epoch = epoch, epochs = epochs, initial = first_step - 1}
                     or nil
    local loss_sum, seen = 0, 0
    local logs
    if mid then
      T.set_rng_state(now)
      loss_sum, seen = resume.loss_sum, resume.seen
      if resume.metrics then self:set_metric_state(resume.metrics) end
      if seen > 0 then logs = self:metric_logs({{"loss", loss_sum / seen}}) end
      ts.step, ts.loss_sum, ts.seen = resume.step, loss_sum, seen
    end
    local stopped_by_nan = false
    for s = first_step, steps do
      local first = (s - 1) * bs + 1
      local nb = math.min(bs, n - first + 1)
      local idx = order:narrow(1, first, nb)
      local xb = gather(x, idx, buffers, "x", nb)
      local yb = gather(y, idx, buffers, "y", nb)
      local ok, loss, out = pcall(train_step, self, xb, yb, params, grads)
      if not ok then
        abort(loss)
        error(string.format("fit: epoch %d, step %d: %s", epoch, s, bare(loss)), 2)
      end
      if loss ~= loss or loss == math.huge or loss == -math.huge then
        local msg = string.format("fit: the loss became %s at epoch %d, step %d (learning rate too high, or inputs "
                                  .. "not scaled?)", loss ~= loss and "nan" or tostring(loss), epoch, s)  -- not "-nan"
        if opts.on_nan == "error" then
          abort(msg)
          error(msg, 2)
        elseif opts.on_nan ~= "continue" then
          io.stderr:write(msg, "; training stopped\n")
          stopped_by_nan = true
          history.stopped = "nan"
          break
        end
      end
      loss_sum, seen = loss_sum + loss * nb, seen + nb
      self:update_metrics(out, yb)
      logs = self:metric_logs({{"loss", loss_sum / seen}})
      ts.step, ts.loss_sum, ts.seen = s, loss_sum, seen
      if progress then progress:update(s, logs) end
      notify("on_batch_end", s, loss, self, ts)
    end
    if stopped_by_nan then break end
    logs = logs or {{"loss", 0 / 0}}
    if val then
      local v = {self:evaluate(val[1], val[2], {batch_size = math.max(bs, 256), verbose = 0})}
      logs[#logs + 1] = {"val_loss", v[1]}
      for i, m in ipairs(self.metrics) do logs[#logs + 1] = {"val_" .. m.name, v[i + 1]} end
    end
    history:append(epoch, logs)
    if progress then progress:finish(logs) end
    ts.epoch_done = true
    if notify("on_epoch_end", epoch, logs_dict(logs), self, ts) then break end
  end
  self.compute_input_grad = saved_input_grad
  self:train()
  notify("on_train_end", history, self, ts)
  if opts.plot then history:plot(opts.plot) end
  return history
end

-- evaluate(x, y[, {batch_size=256, verbose=0}]) -> loss, metric1, metric2, ... (in compile's order).
-- Without arguments, evaluate() switches to evaluation mode (dropout off, batch norm
-- uses its running statistics), as in Torch7; train() switches back.
function Module:evaluate(x, y, opts)
  if x == nil then return self:train(false) end
  opts = opts or {}
  if type(opts) ~= "table" then error("evaluate: options must be a table {batch_size=}, got " .. type(opts), 2) end
  options.check("evaluate", opts, {"batch_size", "verbose"}, 2)
  if not self.compiled then error("evaluate: compile the model first", 2) end
  self:check_data("evaluate", x, y, 2)
  self:check_labels("evaluate", y, 2)
  local bs = opts.batch_size or 256
  local was_training = self.training
  self:evaluate_mode()
  local n = count(x)
  local loss_sum = 0
  self:reset_metrics()
  for first = 1, n, bs do
    local nb = math.min(bs, n - first + 1)
    local xb, yb = rows(x, first, nb), rows(y, first, nb)
    local ok, err = pcall(function()
      local l, out = self:eval_step(xb, yb)
      loss_sum = loss_sum + l * nb
      self:update_metrics(out, yb)
    end)
    if not ok then
      self:train(was_training)
      error("evaluate: " .. bare(err), 2)
    end
  end
  self:train(was_training)
  local res = {n > 0 and loss_sum / n or 0 / 0}
  for _, m in ipairs(self.metrics) do res[#res + 1] = m:result() end
  return table.unpack(res)
end

-- A tensor for n samples shaped like batch `out`, where batch `first` of them goes.
local function result_like(out, n)
  local s = out:size()
  s[1] = n
  return T.empty(s)
end

-- predict(x[, {batch_size=256, verbose=0}]) -> a new tensor of outputs for every sample (a table of
-- them, keyed like the outputs, for a model with several outputs active in evaluation)
function Module:predict(x, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("predict: options must be a table {batch_size=}, got " .. type(opts), 2) end
  options.check("predict", opts, {"batch_size", "verbose"}, 2)
  self:check_data("predict", x, false, 2)
  local bs = opts.batch_size or 256
  local was_training = self.training
  self:evaluate_mode()
  local n, result = count(x), nil
  for first = 1, n, bs do
    local nb = math.min(bs, n - first + 1)
    local ok, out = pcall(self.forward, self, rows(x, first, nb))
    if not ok then
      self:train(was_training)
      error("predict: " .. bare(out), 2)
    end
    if T.is_tensor(out) then
      result = result or result_like(out, n)
      result:narrow(1, first, nb):copy(out)
    else
      result = result or {}
      for k, o in pairs(out) do
        result[k] = result[k] or result_like(o, n)
        result[k]:narrow(1, first, nb):copy(o)
      end
    end
  end
  self:train(was_training)
  return result
end

-- The mode switch under its other names: evaluate_mode(), and eval() as in PyTorch.
Module.evaluate_mode = function(self) return self:train(false) end
Module.eval = Module.evaluate_mode

return Module
