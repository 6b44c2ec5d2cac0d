-- Callbacks for fit(): tables with any of
--   on_train_begin(model, ts), on_epoch_end(epoch, logs, model, ts) -> true to stop,
--   on_batch_end(step, loss, model, ts), on_train_end(history, model, ts),
--   on_train_abort(model, ts, err)  (fit is leaving by an error)
-- logs maps names to values: logs.loss, logs.val_accuracy, ...; ts is fit's loop state
-- (epoch, step, steps, epochs, samples, batch_size, loss_sum, seen, history; see nn/fit.lua).
-- A callback with state that must survive an interruption names its kind and has
--   get_state() -> {name = number|string|boolean|tensor} and set_state(that table)
--   (which may return false, reason to start afresh instead, with a note):
-- training checkpoints (luacnn train --checkpoint) save it and --resume puts it back into
-- the callback at the same place in fit's callbacks list, when it is of the same kind.
local T = require "luacnn"

local M = {}

-- EarlyStopping{monitor='val_loss', patience=0, min_delta=0, mode='auto', restore_best_weights=false}
function M.EarlyStopping(opts)
  opts = opts or {}
  local monitor = opts.monitor or "val_loss"
  local patience = opts.patience or 0
  local min_delta = math.abs(opts.min_delta or 0)
  local mode = opts.mode or "auto"
  if mode == "auto" then mode = (monitor:find("acc") and "max") or "min" end
  if mode ~= "min" and mode ~= "max" then error("EarlyStopping: mode must be 'min', 'max' or 'auto'", 2) end
  local cb = {kind = "EarlyStopping", monitor = monitor, best = nil, wait = 0, stopped_epoch = nil}
  local function better(v, best)
    if best == nil then return true end
    if mode == "min" then return v < best - min_delta end
    return v > best + min_delta
  end
  function cb.on_train_begin()
    cb.best, cb.wait, cb.stopped_epoch, cb.best_weights, cb.best_epoch = nil, 0, nil, nil, nil
  end
  -- what a resumed run needs to stop where the uninterrupted one would have
  function cb.get_state()
    return {monitor = monitor, best = cb.best, wait = cb.wait, best_epoch = cb.best_epoch, best_weights = cb.best_weights}
  end
  function cb.set_state(s)
    if s.monitor ~= monitor then  -- another quantity: its best value means nothing here
      return false, string.format("it watched '%s' and now watches '%s'", tostring(s.monitor), monitor)
    end
    if (s.best ~= nil and type(s.best) ~= "number") or math.type(s.wait) ~= "integer"
        or (s.best_epoch ~= nil and math.type(s.best_epoch) ~= "integer") then
      error("EarlyStopping: the checkpoint's state is not numbers", 0)
    end
    if s.best_weights ~= nil and not T.is_tensor(s.best_weights) then
      error("EarlyStopping: the checkpoint's best weights are not a tensor", 0)
    end
    cb.best, cb.wait, cb.best_epoch = s.best, s.wait, s.best_epoch
    -- the best weights only when this run asks to restore them (the saved run may have)
    cb.best_weights = opts.restore_best_weights and s.best_weights or nil
  end
  function cb.on_epoch_end(epoch, logs, model)
    local v = logs[monitor]
    if v == nil then
      error(string.format("EarlyStopping: no '%s' in the logs (have: %s)", monitor,
                          table.concat((function() local k = {} for n in pairs(logs) do k[#k + 1] = n end table.sort(k) return k end)(), ", ")), 0)
    end
    if better(v, cb.best) then
      cb.best, cb.wait, cb.best_epoch = v, 0, epoch
      if opts.restore_best_weights then
        local P = model:flatten_parameters()
        cb.best_weights = P:clone()
      end
      return false
    end
    cb.wait = cb.wait + 1
    if cb.wait > patience then
      cb.stopped_epoch = epoch
      if opts.verbose ~= false then
        print(string.format("Early stopping at epoch %d: %s has not improved for %d epoch%s (best %.4f at epoch %d)",
                            epoch, monitor, cb.wait, cb.wait == 1 and "" or "s", cb.best, cb.best_epoch))
      end
      if cb.best_weights then
        local P = model:flatten_parameters()
        P:copy(cb.best_weights)
      end
      return true
    end
    return false
  end
  return cb
end

-- LambdaCallback{on_epoch_end = function(epoch, logs, model) ... end, ...}
function M.LambdaCallback(fns)
  return fns
end

return M
