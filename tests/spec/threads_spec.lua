-- The one thread knob: --threads / LUACNN_THREADS / T.set_num_threads govern every busy
-- thread, OpenBLAS's included, and a training step stops asking the OS for memory once
-- its buffers exist.
local support = require "spec_support"
local T = require "luacnn"
local nn = require "nn"

local BIN = assert(os.getenv("LUACNN_BIN"), "LUACNN_BIN must name the built luacnn binary")

-- Process CPU time (all threads) over wall time while the child multiplies matrices.
-- One busy thread can never exceed 1; a second busy thread (OpenBLAS's own, say) makes
-- it approach 2 on an idle machine. A loaded machine only lowers the ratio.
local function busy_ratio(threads)
  local code = [[
    local T = require "luacnn"
    local a, b = T.rand{384, 384}, T.rand{384, 384}
    local out = T.empty{384, 384}
    local c0, w0 = os.clock(), T.clock()
    while T.clock() - w0 < 0.4 do T.matmul(a, b, out) end
    print(T.get_num_threads(), (os.clock() - c0) / (T.clock() - w0))
  ]]
  local p = io.popen(string.format("%s --threads %d -e %s", BIN, threads, support.quote(code)))
  local out = p:read("a")
  p:close()
  local n, ratio = out:match("^(%d+)%s+([%d.]+)")
  return tonumber(n), tonumber(ratio)
end

describe("--threads", function()
  it("1 runs one busy thread, OpenBLAS included", function()
    local n, ratio = busy_ratio(1)
    assert.equal(1, n)
    assert.is_true(ratio < 1.3, "CPU time / wall time " .. tostring(ratio) .. " with --threads 1")
  end)

  it("2 gives a pool of 2", function()
    local n = busy_ratio(2)
    assert.equal(2, n)
  end)

  it("set_num_threads changes the pool and results stay correct", function()
    local before = T.get_num_threads()
    local a, b = T.rand{300, 200}, T.rand{200, 500}
    T.set_num_threads(1)
    local one = T.matmul(a, b)
    T.set_num_threads(2)
    local two = T.matmul(a, b)
    T.set_num_threads(before)
    -- each element is one sgemm's dot product either way: identical
    assert.is_true(one:equal(two))
  end)
end)

local minor_faults = support.minor_faults

describe("a training step", function()
  it("gets no fresh pages from the OS once the first epoch ran", function()
    if os.getenv("LUACNN_SANITIZED") then
      -- ASan quarantines freed memory instead of reusing it: fresh pages are its design
      pending("not measurable under AddressSanitizer")
      return
    end
    T.manual_seed(1)
    local x, y = T.rand{1280, 784}, T.randint(0, 10, {1280})
    -- [128,512] activations are 256 KiB: allocated afresh each step they would cost 64
    -- page faults a step
    local model = nn.Sequential{nn.Dense(512, {activation = "relu", input_shape = {784}}), nn.Dense(10, {activation = "softmax"})}
    model:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    local at = {}
    local probe = {on_epoch_end = function(epoch) at[epoch] = minor_faults() end}
    model:fit(x, y, {epochs = 4, batch_size = 128, verbose = 0, callbacks = {probe}})
    local faults = at[4] - at[2]
    assert.is_true(faults < 20, faults .. " page faults in 20 steady-state steps")
  end)
end)
