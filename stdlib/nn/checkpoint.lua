-- Saving and loading models (docs/checkpoint.md):
--   model:save(path)                    architecture (as data) + weights + state (+ optimizer)
--   local model, meta = nn.load(path)   rebuilt without the script that made it
--   model:save_weights(path)            weights and state only
--   model:load_weights(path, {strict = true})  -> report of missing / unexpected / mismatched
-- and the training checkpoints of fit (save_training / read_training), which add the
-- optimizer's state, the RNG and the position in the data.
--
-- Files are written by the C core (T.checkpoint_save) to a temporary file that replaces
-- the old one only once complete and synced, and read by its strict parser: loading never
-- runs code from a file; the architecture is data that nn.from_config maps to known types.
local T = require "luacnn"
local Module = require "nn.module"
local registry = require "nn.registry"
local shape = require "nn.shape"

local M = {}

local function bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end

local function shape_str(t)
  return shape.str(shape.of(t))
end

-- ---- reading the metadata defensively: a file is data from anywhere ----

local function is_list_of(v, lua_type)
  if type(v) ~= "table" then return false end
  local n = #v
  for k, x in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n or type(x) ~= lua_type then return false end
  end
  return true
end

local function need(cond, what)
  if not cond then error("malformed metadata: " .. what, 0) end
end

-- ---- writing ----

-- The optimizer's name, hyper-parameters, step count and buffers (tensors "optimizer.<i>.<slot>").
local function optimizer_meta(opt, names, values)
  local cfg = opt:config()
  cfg.iterations = opt.iterations
  cfg.slots = {}
  for _, s in ipairs(opt:named_state()) do
    local name = string.format("optimizer.%d.%s", s.index, s.slot)
    cfg.slots[#cfg.slots + 1] = {index = s.index, slot = s.slot}
    names[#names + 1], values[#values + 1] = name, s.value
  end
  return cfg
end

-- The metadata and tensor lists of a model; kind "weights" leaves out the architecture,
-- the compile settings and the optimizer.
local function model_contents(model, kind)
  local meta = {kind = kind, parameters = {}, state = {}, input_shape = model.input_shape}
  local names, values = {}, {}
  for _, e in ipairs(model:named_tensors()) do
    names[#names + 1], values[#values + 1] = e.name, e.value
    local list = e.kind == "parameter" and meta.parameters or meta.state
    list[#list + 1] = e.name
  end
  if kind ~= "weights" then
    meta.model = registry.file_config_of(model)
    if model.compile_config then meta.compile = model.compile_config end
    if model.optimizer and model.optimizer.config then
      meta.optimizer = optimizer_meta(model.optimizer, names, values)
    end
  end
  return meta, names, values
end

local function write(path, meta, names, values)
  T.checkpoint_save(path, meta, names, values)
end

function M.save(model, path)
  local meta, names, values = model_contents(model, "model")
  write(path, meta, names, values)
  return path
end

function M.save_weights(model, path)
  local meta, names, values = model_contents(model, "weights")
  write(path, meta, names, values)
  return path
end

-- ---- reading ----

local function read(path)
  if type(path) ~= "string" then error("expected a file name, got " .. type(path), 0) end
  local meta, tensors, order = T.checkpoint_load(path)
  need(meta.kind == "model" or meta.kind == "weights" or meta.kind == "training",
       "kind is " .. tostring(meta.kind) .. " (expected 'model', 'weights' or 'training')")
  need(is_list_of(meta.parameters, "string"), "'parameters' is not a list of names")
  need(is_list_of(meta.state, "string"), "'state' is not a list of names")
  for _, list in ipairs{meta.parameters, meta.state} do
    for _, name in ipairs(list) do need(tensors[name] ~= nil, "lists tensor '" .. name .. "' that the file lacks") end
  end
  return meta, tensors, order
end
M.read = read

-- The model's tensors against the file's weights: what matches, and what does not.
local function match(model, meta, tensors)
  local report = {loaded = {}, missing = {}, unexpected = {}, mismatched = {}}
  local in_file = {}
  for _, list in ipairs{meta.parameters, meta.state} do
    for _, name in ipairs(list) do in_file[name] = true end
  end
  local pairs_ = {}
  local in_model = {}
  for _, e in ipairs(model:named_tensors()) do
    in_model[e.name] = true
    local t = in_file[e.name] and tensors[e.name]
    if not t then
      report.missing[#report.missing + 1] = e.name
    elseif not shape.equal(shape.of(t), shape.of(e.value)) then
      report.mismatched[#report.mismatched + 1] = {name = e.name, file = shape.of(t), model = shape.of(e.value)}
    else
      pairs_[#pairs_ + 1] = {e.value, t}
      report.loaded[#report.loaded + 1] = e.name
    end
  end
  for _, list in ipairs{meta.parameters, meta.state} do
    for _, name in ipairs(list) do
      if not in_model[name] then report.unexpected[#report.unexpected + 1] = name end
    end
  end
  report.ok = #report.missing == 0 and #report.unexpected == 0 and #report.mismatched == 0
  return report, pairs_
end

-- One line per kind of problem, naming every tensor.
function M.describe_report(r)
  local parts = {}
  if #r.missing > 0 then parts[#parts + 1] = "missing from the file: " .. table.concat(r.missing, ", ") end
  if #r.unexpected > 0 then parts[#parts + 1] = "in the file but not in the model: " .. table.concat(r.unexpected, ", ") end
  if #r.mismatched > 0 then
    local s = {}
    for _, m in ipairs(r.mismatched) do
      s[#s + 1] = string.format("%s (file %s, model %s)", m.name, shape.str(m.file), shape.str(m.model))
    end
    parts[#parts + 1] = "different shapes: " .. table.concat(s, ", ")
  end
  if #parts == 0 then return string.format("all %d tensors loaded", #r.loaded) end
  return table.concat(parts, "; ")
end

-- Builds an unbuilt model from the input shape the file records, leaving the generator
-- as it was (the initial weights are overwritten anyway).
local function build_from(model, meta)
  if model.built then return end
  local s = meta.input_shape
  if s == nil then return end
  need(is_list_of(s, "number") and #s > 0, "'input_shape' is not a list of sizes")
  local rng = T.get_rng_state()
  local ok, err = pcall(model.build, model, s)
  T.set_rng_state(rng)
  if not ok then error(bare(err), 0) end
end

-- Copies the file's weights into the model's tensors in place (flattened parameters stay
-- views of the flat tensor the optimizer updates). strict: all or nothing.
local function apply_weights(model, meta, tensors, strict)
  build_from(model, meta)
  local report, copies = match(model, meta, tensors)
  if strict and not report.ok then
    local hint = model.built and "" or " (the model is not built and the file records no input shape: build it "
                                       .. "first with input_shape or by calling it on an input)"
    error(M.describe_report(report) .. hint, 0)
  end
  for _, c in ipairs(copies) do c[1]:copy(c[2]) end
  return report
end

function M.load_weights(model, path, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("options must be a table {strict=}", 0) end
  local meta, tensors = read(path)
  return apply_weights(model, meta, tensors, opts.strict ~= false)
end

local function optimizer_class(name)
  local optim = require "optim"
  for _, v in pairs(optim) do
    if type(v) == "table" and rawget(v, "class_name") == name and v.step then return v end
  end
  return nil
end

-- Restores an optimizer's step count and buffers from the file. The hyper-parameters
-- stay the ones opt was made with (a resumed run may lower the learning rate); the
-- differences are returned as text so the caller can say so.
function M.restore_optimizer(opt, ometa, tensors)
  need(type(ometa) == "table" and type(ometa.type) == "string", "optimizer has no type")
  if ometa.type ~= opt.class_name then
    error(string.format("the file holds the state of a %s optimizer, the model uses %s", ometa.type, opt.class_name), 0)
  end
  need(math.type(ometa.iterations) == "integer" and ometa.iterations >= 0, "optimizer iterations")
  need(type(ometa.slots) == "table", "optimizer slots")
  local state = {}
  for k, s in pairs(ometa.slots) do
    need(math.type(k) == "integer" and type(s) == "table" and math.type(s.index) == "integer" and s.index >= 1
         and type(s.slot) == "string" and s.slot:match("^[%a_][%w_]*$"), "optimizer slot " .. tostring(k))
    local t = tensors[string.format("optimizer.%d.%s", s.index, s.slot)]
    need(t ~= nil, string.format("optimizer slot %d.%s has no tensor", s.index, s.slot))
    state[s.index] = state[s.index] or {}
    state[s.index][s.slot] = t
  end
  local diffs = {}
  if type(ometa.hyper) == "table" then
    for _, k in ipairs(opt.hyper_names or {}) do
      local mine, theirs = opt[k], ometa.hyper[k]
      if type(mine) ~= "number" and type(mine) ~= "boolean" then mine = tostring(mine) end
      if theirs ~= nil and theirs ~= mine then
        diffs[#diffs + 1] = string.format("%s %s in the file, %s now", k, tostring(theirs), tostring(mine))
      end
    end
  end
  opt.iterations = ometa.iterations
  opt.state = state
  return diffs
end

-- A new optimizer of the file's type and hyper-parameters (a schedule, saved only as its
-- description, falls back to the default rate).
local function make_optimizer(ometa)
  need(type(ometa) == "table" and type(ometa.type) == "string", "optimizer has no type")
  local cls = optimizer_class(ometa.type)
  if not cls then error(string.format("unknown optimizer type '%s'", ometa.type), 0) end
  local hyper = {}
  for k, v in pairs(type(ometa.hyper) == "table" and ometa.hyper or {}) do
    if type(k) == "string" and type(v) ~= "string" then hyper[k] = v end
  end
  local ok, opt = pcall(cls, hyper)
  if not ok then error("optimizer: " .. bare(opt), 0) end
  return opt
end

function M.load(path)
  local meta, tensors = read(path)
  if meta.kind == "weights" then
    error("the file holds weights only (no architecture): build the model in code and call "
          .. "model:load_weights(path)", 0)
  end
  need(type(meta.model) == "table", "no model architecture")
  -- No initial weights (the strict load below fills every tensor), and a memory budget:
  -- parameters and their gradients take twice what the file's tensors take, so an
  -- architecture that claims more (a hostile or mismatched file) fails while it is being
  -- built instead of allocating gigabytes first. The generator is put back anyway, so
  -- loading a model never changes what a script draws next.
  local init = require "nn.init_weights"
  local file_bytes = 0
  for _, t in pairs(tensors) do file_bytes = file_bytes + 4 * t:numel() end
  local budget = T.memory_stats().live_bytes + 2 * file_bytes + (16 << 20)
  local rng = T.get_rng_state()
  init.skip = true
  T.set_memory_budget(budget)
  local ok, model = pcall(registry.from_file_config, meta.model, "model")
  T.set_memory_budget(nil)
  init.skip = false
  T.set_rng_state(rng)
  if not ok then
    local msg = bare(model)
    if msg:find("over its budget", 1, true) then
      msg = string.format("the architecture needs more memory than the %d weight values in the file (%s)",
                          file_bytes // 4, msg)
    end
    error(msg, 0)
  end
  apply_weights(model, meta, tensors, true)
  local c = meta.compile
  -- one loss by name, or (a model with several outputs) a table of names by output
  if type(c) == "table" and (type(c.loss) == "string" or type(c.loss) == "table") and meta.optimizer then
    local opt = make_optimizer(meta.optimizer)
    local cok, err = pcall(model.compile, model, {optimizer = opt, loss = c.loss, loss_weights = c.loss_weights,
                                                  metrics = type(c.metrics) == "table" and c.metrics or nil})
    if not cok then error(bare(err), 0) end
    M.restore_optimizer(opt, meta.optimizer, tensors)
  end
  return model, meta
end

-- ---- training checkpoints (fit's position, RNG and running sums) ----

-- ts is fit's loop state (see nn/fit.lua): epoch in progress, steps done in it, whether
-- the epoch (with its validation) is complete, the generator state its shuffle started
-- from, the running loss sums, the metrics and the history so far.
function M.save_training(model, path, ts)
  local meta, names, values = model_contents(model, "training")
  local metrics = model:metric_state()
  local history = {}
  local h = ts.history
  if h then
    for i, e in ipairs(h.epoch) do
      local logs = {}
      for _, name in ipairs(h:keys()) do
        if h[name][i] ~= nil then logs[#logs + 1] = {name, h[name][i]} end
      end
      history[#history + 1] = {e, logs}
    end
  end
  -- the state of callbacks that have one (train/callbacks.lua: kind, get_state), by their
  -- place in fit's list; tensors go with the weights as callback.<place>.<key>
  local callbacks = {}
  for i, cb in ipairs(ts.callbacks or {}) do
    if type(cb) == "table" and type(cb.kind) == "string" and cb.get_state then
      local entry = {index = i, kind = cb.kind, values = {}, tensors = {}}
      for k, v in pairs(cb.get_state()) do
        if T.is_tensor(v) then
          names[#names + 1], values[#values + 1] = string.format("callback.%d.%s", i, k), v
          entry.tensors[#entry.tensors + 1] = k
        else
          entry.values[k] = v
        end
      end
      callbacks[#callbacks + 1] = entry
    end
  end
  meta.training = {
    epoch = ts.epoch, step = ts.step, epoch_done = ts.epoch_done, steps_per_epoch = ts.steps, epochs = ts.epochs,
    batch_size = ts.batch_size, samples = ts.samples, shuffle = ts.shuffle, rng = T.get_rng_state(),
    epoch_rng = ts.epoch_rng, loss_sum = ts.loss_sum, seen = ts.seen, metrics = metrics, history = history,
    callbacks = callbacks,
  }
  write(path, meta, names, values)
  return path
end

local function check_rng(v, what)
  need(type(v) == "table" and #v == 3 and math.type(v[1]) == "integer" and math.type(v[2]) == "integer"
       and math.type(v[3]) == "integer" and v[3] & 1 == 1, what .. " is not a generator state")
  return v
end

-- Puts the saved callback states back into this run's callbacks at the same places when
-- they are of the same kind; a saved state without such a callback becomes a note.
local function restore_callbacks(saved, tensors, callbacks, notes)
  if saved == nil then return end
  need(type(saved) == "table", "training.callbacks is not a list")
  for _, e in ipairs(saved) do
    need(type(e) == "table" and math.type(e.index) == "integer" and type(e.kind) == "string"
         and type(e.values) == "table" and is_list_of(e.tensors, "string"), "training.callbacks entry")
    local cb = callbacks[e.index]
    if type(cb) == "table" and cb.kind == e.kind and cb.set_state then
      local state = {}
      for k, v in pairs(e.values) do state[k] = v end
      for _, k in ipairs(e.tensors) do
        local t = tensors[string.format("callback.%d.%s", e.index, k)]
        need(t ~= nil, string.format("callback %d's tensor '%s' is missing", e.index, k))
        state[k] = t
      end
      local ok, taken, reason = pcall(cb.set_state, state)
      if not ok then error(string.format("callback %d (%s): %s", e.index, e.kind, bare(taken)), 0) end
      if taken == false then
        notes[#notes + 1] = string.format("callback %d (%s) starts afresh: %s", e.index, e.kind, tostring(reason))
      end
    else
      notes[#notes + 1] = string.format("the checkpoint holds the state of callback %d (%s), which this run's "
                                        .. "callbacks do not have there; it starts afresh", e.index, e.kind)
    end
  end
end

-- Restores a training checkpoint into a compiled model inside fit: weights, optimizer,
-- generator, and what fit needs to continue (returned as the resume table fit reads).
-- params: the lists fit hands the optimizer, to check the state against.
function M.restore_training(model, path, ts, params)
  local meta, tensors = read(path)
  if meta.kind ~= "training" then
    error("it is a " .. tostring(meta.kind) .. " file, not a training checkpoint (written by luacnn train --checkpoint)", 0)
  end
  local tr = meta.training
  need(type(tr) == "table", "no training section")
  for _, k in ipairs{"epoch", "step", "steps_per_epoch", "batch_size", "samples", "seen"} do
    need(math.type(tr[k]) == "integer" and tr[k] >= 0, "training." .. k)
  end
  need(type(tr.epoch_done) == "boolean" and type(tr.loss_sum) == "number", "training position")
  need(tr.step <= tr.steps_per_epoch, "training.step is past the end of the epoch")
  if tr.samples ~= ts.samples or tr.batch_size ~= ts.batch_size or tr.shuffle ~= ts.shuffle then
    error(string.format("the checkpoint was made with %d samples in batches of %d (shuffle %s); this run has %d in "
                        .. "batches of %d (shuffle %s): the data order would not continue where it stopped",
                        tr.samples, tr.batch_size, tostring(tr.shuffle), ts.samples, ts.batch_size,
                        tostring(ts.shuffle)), 0)
  end
  check_rng(tr.rng, "training.rng")
  check_rng(tr.epoch_rng, "training.epoch_rng")
  local cfg_note = M.config_difference(meta.model, registry.file_config_of(model))
  apply_weights(model, meta, tensors, true)
  local notes = {}
  if cfg_note then notes[#notes + 1] = "the model differs from the checkpoint's: " .. cfg_note end
  if meta.optimizer and model.optimizer then
    local diffs = M.restore_optimizer(model.optimizer, meta.optimizer, tensors)
    for _, d in ipairs(diffs) do notes[#notes + 1] = "optimizer " .. d end
    for i, st in pairs(model.optimizer.state) do
      local p = params[i]
      if not p then error(string.format("the optimizer state has parameter %d; this model has %d", i, #params), 0) end
      for slot, t in pairs(st) do
        if not shape.equal(shape.of(t), shape.of(p)) then
          error(string.format("optimizer state %d.%s has shape %s, the parameter %s", i, slot, shape_str(t),
                              shape_str(p)), 0)
        end
      end
    end
  end
  T.set_rng_state(tr.rng)
  if ts.history and type(tr.history) == "table" then
    for _, rec in ipairs(tr.history) do
      need(type(rec) == "table" and math.type(rec[1]) == "integer" and type(rec[2]) == "table", "training.history")
      for _, kv in ipairs(rec[2]) do
        need(type(kv) == "table" and type(kv[1]) == "string" and type(kv[2]) == "number", "training.history logs")
      end
      ts.history:append(rec[1], rec[2])
    end
  end
  restore_callbacks(tr.callbacks, tensors, ts.callbacks or {}, notes)
  local metrics = type(tr.metrics) == "table" and tr.metrics or nil
  return {epoch = tr.epoch, step = tr.step, epoch_done = tr.epoch_done, epoch_rng = tr.epoch_rng,
          loss_sum = tr.loss_sum, seen = tr.seen, metrics = metrics, notes = notes}, meta
end

-- The first place where two configs differ ("layers[2].activation: 'relu' in the file,
-- 'tanh' now"), or nil when they are the same.
function M.config_difference(a, b, path)
  path = path or ""
  if type(a) ~= type(b) then
    return string.format("%s: %s in the file, %s now", path ~= "" and path or "model", tostring(a), tostring(b))
  end
  if type(a) ~= "table" then
    if a == b or (a ~= a and b ~= b) then return nil end
    local fa = type(a) == "string" and ("'" .. a .. "'") or tostring(a)
    local fb = type(b) == "string" and ("'" .. b .. "'") or tostring(b)
    return string.format("%s: %s in the file, %s now", path ~= "" and path or "model", fa, fb)
  end
  local keys = {}
  for k in pairs(a) do keys[k] = true end
  for k in pairs(b) do keys[k] = true end
  local sorted = {}
  for k in pairs(keys) do sorted[#sorted + 1] = k end
  table.sort(sorted, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(sorted) do
    local sub = math.type(k) == "integer" and string.format("%s[%d]", path, k) or (path == "" and k or path .. "." .. k)
    local d = M.config_difference(a[k], b[k], sub)
    if d then return d end
  end
  return nil
end

-- ---- the methods on every module ----

local function wrap(op, f, ...)
  local ok, res = pcall(f, ...)
  if not ok then error(op .. ": " .. bare(res), 3) end
  return res
end

function Module:save(path)
  return wrap("save", M.save, self, path)
end

function Module:save_weights(path)
  return wrap("save_weights", M.save_weights, self, path)
end

function Module:load_weights(path, opts)
  local ok, res = pcall(M.load_weights, self, path, opts)
  if not ok then error(string.format("load_weights('%s'): %s", tostring(path), bare(res)), 2) end
  return res
end

-- nn.load(path) -> model, meta
function M.load_model(path)
  local ok, model, meta = pcall(M.load, path)
  if not ok then error(string.format("nn.load('%s'): %s", tostring(path), bare(model)), 2) end
  return model, meta
end

return M
