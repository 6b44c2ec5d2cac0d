-- What fit() returns: per-epoch values of the loss and metrics, train and validation.
--   history.loss[3], history.val_accuracy[10], history.epoch = {1, 2, ...}
--   history:plot("curves.svg")   -- loss and accuracy charts, train vs validation
local History = {}
History.__index = History

function History.new()
  return setmetatable({epoch = {}, _order = {}}, History)
end

-- Records one epoch's logs (an ordered list of {name, value}).
function History:append(epoch, logs)
  self.epoch[#self.epoch + 1] = epoch
  for _, kv in ipairs(logs) do
    local name, value = kv[1], kv[2]
    if not self[name] then
      self[name] = {}
      self._order[#self._order + 1] = name
    end
    self[name][#self.epoch] = value
  end
end

-- Names of the recorded series, in the order they first appeared.
function History:keys()
  return {table.unpack(self._order)}
end

-- The last epoch's value of a series (nil if never recorded).
function History:last(name)
  local s = self[name]
  return s and s[#self.epoch]
end

function History:plot(path)
  local plot = require "viz.plot"
  local data = {epoch = self.epoch}
  for _, name in ipairs(self._order) do data[name] = self[name] end
  plot.save(path, plot.history_chart(data))
  return path
end

function History:__tostring()
  local lines = {}
  for i, e in ipairs(self.epoch) do
    local parts = {string.format("epoch %d", e)}
    for _, name in ipairs(self._order) do
      local v = self[name][i]
      if v then parts[#parts + 1] = string.format("%s %.4f", name, v) end
    end
    lines[#lines + 1] = table.concat(parts, "  ")
  end
  return table.concat(lines, "\n")
end

return History
