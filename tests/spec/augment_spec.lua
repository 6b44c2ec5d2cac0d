-- datasets.augment: crop, flip and normalization checked pixel by pixel against a
-- reference written here from the reported draws; the draws' determinism and
-- frequencies; no fresh memory per batch; and fit's augment hook (training batches
-- only, the path without it unchanged).
local support = require "spec_support"
local T = require "luacnn"
local nn = require "nn"
local datasets = require "datasets"

local SEED = tonumber(os.getenv("LUACNN_SEED") or "") or 20261127
print("augment_spec: seed " .. SEED .. " (set LUACNN_SEED to change)")

-- out[i] as the definition says, from the draws: the image zero-padded by `pad`, the
-- window at (top, left), mirrored when flip.
local function reference(x, draws, pad, oh, ow)
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  local out = T.zeros{n, c, oh, ow}
  for i = 1, n do
    local top, left, flip = draws[i][1], draws[i][2], draws[i][3]
    for ch = 1, c do
      for y = 1, oh do
        for xx = 1, ow do
          local wx = flip == 1 and ow + 1 - xx or xx
          local sy, sx = top + y - pad, left + wx - pad  -- 1-based in the image
          if sy >= 1 and sy <= h and sx >= 1 and sx <= w then out[i][ch][y][xx] = x[i][ch][sy][sx] end
        end
      end
    end
  end
  return out
end

local minor_faults, errors_with = support.minor_faults, support.errors_with

describe("datasets.augment", function()
  before_each(function() T.manual_seed(SEED) end)

  it("crops the zero-padded image and flips it, exactly as the draws say", function()
    local x = T.randint(0, 256, {12, 3, 7, 9})
    for _, case in ipairs{{crop = {7, 9}, padding = 2, flip = true}, {crop = 5, padding = 3, flip = true},
                          {crop = {4, 6}, flip = false}, {padding = 1, flip = true}} do
      local aug = datasets.augment(case)
      local pad = case.padding or 0
      local oh = type(case.crop) == "table" and case.crop[1] or case.crop or 7
      local ow = type(case.crop) == "table" and case.crop[2] or case.crop or 9
      for _ = 1, 3 do
        local out = aug(x)
        assert.are.same({12, 3, oh, ow}, support.dims(out))
        assert.is_true(out:equal(reference(x, aug.draws, pad, oh, ow)), tostring(aug))
      end
    end
  end)

  it("on a known image: the centre window is the image, flipped it is the mirror image", function()
    -- one 1x3x3 image 1..9, padding 1, crop 3: draws (1, 1) is the centre
    local x = T.tensor{{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}}
    local aug = datasets.augment{crop = 3, padding = 1, flip = true}
    local seen = {}
    for _ = 1, 200 do
      local out, d = aug(x), aug.draws
      local key = string.format("%d,%d,%d", d[1][1], d[1][2], d[1][3])
      seen[key] = out:view(-1):totable()
    end
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9}, seen["1,1,0"])
    assert.are.same({3, 2, 1, 6, 5, 4, 9, 8, 7}, seen["1,1,1"])
    assert.are.same({0, 0, 0, 0, 1, 2, 0, 4, 5}, seen["0,0,0"])   -- top-left: padding row and column
    assert.are.same({5, 6, 0, 8, 9, 0, 0, 0, 0}, seen["2,2,0"])   -- bottom-right
    assert.are.same({2, 1, 0, 5, 4, 0, 8, 7, 0}, seen["1,0,1"])   -- left window, mirrored
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(18, n)  -- 3 tops x 3 lefts x 2 flips all drawn in 200 tries
  end)

  it("normalizes per channel, the padding zeros included, and normalize() does the same without randomness", function()
    local x = T.rand{6, 3, 8, 8}
    local mean, std = {0.49, 0.48, 0.45}, {0.25, 0.24, 0.26}
    local aug = datasets.augment{padding = 2, flip = true, mean = mean, std = std}
    local m, s = T.tensor(mean):view(1, 3, 1, 1), T.tensor(std):view(1, 3, 1, 1)
    local out = aug(x)
    -- float32 arithmetic in both: (v - mean) / std
    assert.is_true(out:equal((reference(x, aug.draws, 2, 8, 8) - m) / s))
    local plain = aug:normalize(x)
    assert.is_true(plain:equal((x - m) / s))
    -- a window of padding only shows -mean/std
    local zero = datasets.augment{crop = 2, padding = 4, mean = mean, std = std}
    local found = false
    for _ = 1, 100 do
      local o, d = zero(x), zero.draws
      for i = 1, 6 do
        if d[i][1] <= 2 and d[i][2] <= 2 then  -- the 2x2 window lies in the 4-wide border
          found = true
          for c = 1, 3 do
            local want = T.tensor{(0 - mean[c])}:div(std[c])  -- in float32, as the kernel
            assert.are.equal(want[1], o[i][c][1][1])
            assert.are.equal(want[1], o[i][c][2][2])
          end
        end
      end
    end
    assert.is_true(found)
  end)

  it("gives the same batches for the same seed, at any thread count", function()
    local x = T.rand{64, 3, 32, 32}
    local aug = datasets.augment{crop = 32, padding = 4, flip = true, mean = {0.5, 0.5, 0.5}, std = {0.2, 0.3, 0.4}}
    local before = T.get_num_threads()
    T.set_num_threads(1)
    T.manual_seed(7)
    local a1, a2 = aug(x):clone(), aug(x):clone()
    T.set_num_threads(2)
    T.manual_seed(7)
    local b1, b2 = aug(x):clone(), aug(x):clone()
    T.set_num_threads(before)
    assert.is_true(a1:equal(b1) and a2:equal(b2))
    assert.is_false(a1:equal(a2))
    T.manual_seed(8)
    assert.is_false(aug(x):equal(a1))
  end)

  it("flips about half the images and draws every offset about equally often", function()
    local n, pad = 8000, 4
    local aug = datasets.augment{padding = pad, flip = true}
    aug(T.zeros{n, 1, 2, 2})
    local d = aug.draws
    -- binomial(8000, 1/2): sd 45, so 0.47..0.53 is over 5 sd
    local flipped = d:select(2, 3):mean()
    assert.is_true(flipped > 0.47 and flipped < 0.53, "flipped " .. flipped)
    for col = 1, 2 do
      local v = d:select(2, col)
      for off = 0, 2 * pad do
        -- mean 889 of each of the 9 offsets, sd 28
        local count = v:eq(off):sum()
        assert.is_true(count > 889 - 180 and count < 889 + 180, string.format("offset %d drawn %d times", off, count))
      end
      assert.are.equal(n, v:ge(0):sum() - v:gt(2 * pad):sum())
    end
    -- flip = false never flips, padding 0 and a full crop never shift
    local still = datasets.augment{}
    local x = T.rand{50, 3, 5, 5}
    assert.is_true(still(x):equal(x))
    assert.are.equal(0, still.draws:abs():sum())
  end)

  it("reuses its buffers: no fresh pages from the OS once a batch shape was seen", function()
    if os.getenv("LUACNN_SANITIZED") then
      pending("not measurable under AddressSanitizer (it quarantines freed memory)")
      return
    end
    local aug = datasets.augment{crop = 32, padding = 4, flip = true, mean = {0.5, 0.5, 0.5}, std = {0.2, 0.2, 0.2}}
    local x, last = T.rand{64, 3, 32, 32}, T.rand{16, 3, 32, 32}
    local out = aug(x)
    aug(last)
    local live = T.live_tensors()
    local f0 = minor_faults()
    for _ = 1, 100 do
      assert.are.equal(out, aug(x))
      aug(last)
    end
    -- a fresh [64,3,32,32] buffer each call would fault 192 pages a call
    local faults = minor_faults() - f0
    assert.is_true(faults < 20, faults .. " page faults in 200 augmented batches")
    assert.are.equal(live, T.live_tensors())
  end)

  it("checks its options and inputs", function()
    errors_with("unknown option 'pad'", datasets.augment, {pad = 4})
    errors_with("crop must be a positive integer", datasets.augment, {crop = 0})
    errors_with("crop[2] must be a positive integer", datasets.augment, {crop = {3, 2.5}})
    errors_with("padding must be a non-negative integer", datasets.augment, {padding = -1})
    errors_with("flip must be true or false", datasets.augment, {flip = 1})
    errors_with("give both mean and std", datasets.augment, {mean = {1}})
    errors_with("mean has 3 values but std has 2", datasets.augment, {mean = {1, 2, 3}, std = {1, 2}})
    errors_with("std[2] must be positive", datasets.augment, {mean = {1, 2}, std = {1, 0}})
    errors_with("mean[1] must be a finite number", datasets.augment, {mean = {0 / 0}, std = {1}})
    local aug = datasets.augment{crop = 40, mean = {0.5, 0.5, 0.5}, std = {1, 1, 1}}
    errors_with("expected a batch of images [N,C,H,W], got [3,32,32]", aug, T.zeros{3, 32, 32})
    errors_with("a 40x40 crop does not fit in 32x32 images padded by 0", aug, T.zeros{2, 3, 32, 32})
    errors_with("the images have 1 channel but mean/std have 3 values", datasets.augment{mean = {0.5, 0.5, 0.5},
                std = {1, 1, 1}}, T.zeros{2, 1, 8, 8})
    errors_with("normalize: this augmentation has no mean/std", datasets.augment{}.normalize, datasets.augment{},
                T.zeros{1, 1, 2, 2})
    assert.are.equal("Augment(crop 32x32, padding 4, flip, mean {0.5, 0.4} std {0.25, 0.2})",
                     tostring(datasets.augment{crop = 32, padding = 4, flip = true, mean = {0.5, 0.4},
                                               std = {0.25, 0.2}}))
  end)
end)

describe("fit{augment = ...}", function()
  local x, y
  local function model()
    T.manual_seed(3)
    local m = nn.Sequential{nn.Flatten{input_shape = {1, 4, 4}}, nn.Dense(3, {activation = "softmax"})}
    m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    return m
  end
  local function weights(m) return (m:flatten_parameters()):clone() end

  before_each(function()
    T.manual_seed(SEED)
    x, y = T.rand{10, 1, 4, 4}, T.randint(0, 3, {10})
  end)

  it("is called on every training batch, never on validation data", function()
    local sizes = {}
    local spy = function(xb)
      sizes[#sizes + 1] = xb:size(1)
      return xb
    end
    local m = model()
    m:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0, augment = spy, validation_data = {x, y}})
    assert.are.same({4, 4, 2, 4, 4, 2}, sizes)
    m:evaluate(x, y)
    m:predict(x)
    assert.are.equal(6, #sizes)
  end)

  it("trains on what it returns, and an identity augmentation changes nothing", function()
    local plain = model()
    plain:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0})
    local same = model()
    same:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0, augment = function(xb) return xb end})
    assert.is_true(weights(plain):equal(weights(same)))
    -- an Augment without crop, padding, flip or normalization draws nothing and copies
    local still = model()
    still:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0, augment = datasets.augment{}})
    assert.is_true(weights(plain):equal(weights(still)))
    local off = model()
    off:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0, augment = false})
    assert.is_true(weights(plain):equal(weights(off)))
    -- zeroed batches train like zeroed data
    local zeros = T.zeros{4, 1, 4, 4}
    local zeroed = model()
    zeroed:fit(x, y, {epochs = 2, batch_size = 4, verbose = 0, shuffle = false,
                      augment = function(xb) return zeros:narrow(1, 1, xb:size(1)) end})
    local on_zeros = model()
    on_zeros:fit(T.zeros{10, 1, 4, 4}, y, {epochs = 2, batch_size = 4, verbose = 0, shuffle = false})
    assert.is_true(weights(zeroed):equal(weights(on_zeros)))
    assert.is_false(weights(zeroed):equal(weights(plain)))
  end)

  it("adds no fresh pages to a steady-state training step", function()
    if os.getenv("LUACNN_SANITIZED") then
      pending("not measurable under AddressSanitizer (it quarantines freed memory)")
      return
    end
    local xs, ys = T.rand{320, 3, 16, 16}, T.randint(0, 10, {320})
    local m = nn.Sequential{nn.Conv2d(3, 8, 3, {padding = 1, activation = "relu", input_shape = {3, 16, 16}}),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Dense(10, {activation = "softmax"})}
    m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    local aug = datasets.augment{crop = 16, padding = 2, flip = true, mean = {0.5, 0.5, 0.5}, std = {0.3, 0.3, 0.3}}
    local at = {}
    local probe = {on_epoch_end = function(epoch) at[epoch] = minor_faults() end}
    -- 320 = 4 x 64 + 64: full batches only; [64,3,16,16] is 48 pages, [64,8,16,16] 128
    m:fit(xs, ys, {epochs = 4, batch_size = 64, verbose = 0, augment = aug, callbacks = {probe}})
    -- a fresh input or activation buffer per step would fault 48-128 pages a step, 480 or
    -- more in all; the Lua heap (busted's, in this process) faults a few pages now and
    -- then as glibc trims and regrows it: 25 were seen
    local faults = at[4] - at[2]
    assert.is_true(faults < 64, faults .. " page faults in 10 steady-state steps")
  end)

  it("refuses what cannot work, before training or naming the step", function()
    local m = model()
    errors_with("fit: augment must be a function of a batch", m.fit, m, x, y, {augment = 3})
    errors_with("fit: augment turns samples of shape [1,4,4] into [1,3,3]", m.fit, m, x, y,
                {augment = datasets.augment{crop = 3}})
    errors_with("fit: augment: the images have 1 channel but mean/std have 3 values", m.fit, m, x, y,
                {augment = datasets.augment{mean = {1, 2, 3}, std = {1, 1, 1}}})
    errors_with("fit: epoch 1, step 1: ", m.fit, m, x, y, {verbose = 0, augment = function() error("broken") end})
    errors_with("broken", m.fit, m, x, y, {verbose = 0, augment = function() error("broken") end})
    -- and fit still works afterwards
    m:fit(x, y, {epochs = 1, verbose = 0})
  end)
end)
