-- Memory stays flat over a long training run: after epoch 2 a run allocates nothing it
-- keeps, so resident memory and luacnn's tensor counts at the end of epoch 20 equal
-- those at the end of epoch 2. The run is a child luacnn process, so busted's own
-- memory does not blur the numbers.
local support = require "spec_support"

local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")

-- One line per epoch: epoch, resident pages (/proc/self/statm), live tensor bytes,
-- cached bytes, live tensors. The probe runs a full collection first: without it the
-- numbers sample a point of the collector's cycle (garbage tensors not yet collected)
-- instead of what the run keeps.
local CHILD = [[
  local T = require "luacnn"
  local nn = require "nn"
  T.manual_seed(2)
  local x, y = T.rand{2048, 1, 12, 12}, T.randint(0, 10, {2048})
  local m = nn.Sequential{
    nn.Conv2d(1, 4, 3, {input_shape = {1, 12, 12}, activation = "relu"}), nn.MaxPool2d(2), nn.Flatten(),
    nn.Dense(32, {activation = "relu"}), nn.Dropout(0.2), nn.Dense(10, {activation = "softmax"})}
  m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
  local probe = {on_epoch_end = function(epoch)
    collectgarbage()
    local f = assert(io.open("/proc/self/statm"))
    local _, resident = f:read("n", "n")
    f:close()
    local s = T.memory_stats()
    print(epoch, resident, s.live_bytes, s.cached_bytes, s.live_tensors)
  end}
  m:fit(x, y, {epochs = 20, batch_size = 32, verbose = 0, validation_split = 0.25, callbacks = {probe}})
]]

describe("a 20-epoch training run", function()
  it("has the same resident memory and live tensors at the end of epoch 2 and epoch 20", function()
    if os.getenv("LUACNN_SANITIZED") then
      -- ASan keeps freed memory in quarantine instead of reusing it: resident memory grows by design
      pending("not measurable under AddressSanitizer")
      return
    end
    local p = io.popen(string.format("%s --threads 2 -e %s", BIN, support.quote(CHILD)))
    local at = {}
    for line in p:lines() do
      local e, rss, live, cached, tensors = line:match("^(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)$")
      if e then at[tonumber(e)] = {rss = tonumber(rss), live = tonumber(live), cached = tonumber(cached), tensors = tonumber(tensors)} end
    end
    assert.is_true(p:close(), "the training run failed")
    assert.is_table(at[2])
    assert.is_table(at[20])
    local a, b = at[2], at[20]
    -- what luacnn holds is exactly the same: no tensor, byte or cache entry added per epoch
    assert.are.equal(a.tensors, b.tensors)
    assert.are.equal(a.live, b.live)
    assert.are.equal(a.cached, b.cached)
    -- resident memory: within 8%. Measured +0.8-1.2% on a quiet machine (glibc's heap
    -- settling over the first epochs; Lua's heap is flat), and up to +4.8% in runs where
    -- other jobs loaded the cores (the C heap and OpenBLAS's per-thread buffers are
    -- touched as the threads' work shifts). One leaked batch of inputs per step would add
    -- 50%; the exact counters above catch any tensor kept.
    local growth = (b.rss - a.rss) / a.rss
    assert.is_true(math.abs(growth) <= 0.08, string.format("resident pages %d at epoch 2, %d at epoch 20 (%+.1f%%)",
                                                           a.rss, b.rss, 100 * growth))
  end)
end)
