-- Writes a SYNTHETIC data set in CIFAR-10's binary format, for tests and benchmarks
-- only: it is not CIFAR-10 and says nothing about accuracy on real photographs.
--   build/luacnn run scripts/synthetic_cifar.lua DIR [TRAIN [TEST [SEED]]]
-- makes DIR/data_batch_1.bin .. data_batch_5.bin (TRAIN images, default 500, split
-- evenly, the remainder in the last) and DIR/test_batch.bin (TEST, default 100), so
-- `--data DIR` (or LUACNN_DATA=PARENT with DIR = PARENT/cifar-10-batches-bin) loads it.
-- Class c (labels cycle 0..9) is a colour of its own in stripes of its own: horizontal
-- for classes 0-4, vertical for 5-9, 1 to 5 periods across the image, shifted by a
-- random phase, plus uniform noise 0..63: a small network learns it in an epoch or two.
local T = require "luacnn"

local usage = "usage: luacnn run scripts/synthetic_cifar.lua DIR [TRAIN [TEST [SEED]]]"
local dir = arg[1]
local n_train = math.tointeger(tonumber(arg[2] or "500"))
local n_test = math.tointeger(tonumber(arg[3] or "100"))
local seed = math.tointeger(tonumber(arg[4] or "0"))
if not dir or dir:sub(1, 1) == "-" or not n_train or n_train < 5 or not n_test or n_test < 1 or not seed or seed < 0 then
  error(usage .. "\n(TRAIN >= 5: one record per training file at least; TEST >= 1)", 0)
end
T.manual_seed(seed)

local COLOURS = {
  {230, 25, 75}, {60, 180, 75}, {255, 225, 25}, {0, 130, 200}, {245, 130, 48},
  {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {128, 128, 128},
}

-- n images of labels (i - 1) % 10: x [n,3,32,32] integers 0..255, y [n].
local function make(n)
  local labels = {}
  for i = 1, n do labels[i] = (i - 1) % 10 end
  local y = T.tensor(labels)
  local x = T.empty{n, 3, 32, 32}
  local pos = T.arange(32):view(1, 32)
  for i = 1, n do
    local c = (i - 1) % 10
    local periods = 1 + c % 5
    local phase = math.random() * 2 * math.pi
    -- a 32-long profile 0..1 along the stripes' axis
    local profile = ((pos * (2 * math.pi * periods / 32) + phase):sin() + 1) * 0.5
    local plane = c < 5 and profile:view(32, 1):expand{32, 32} or profile:expand{32, 32}
    for ch = 1, 3 do
      x[i][ch]:copy(plane * (COLOURS[c + 1][ch] * 0.75))
    end
  end
  x = (x + T.randint(0, 64, {n, 3, 32, 32})):floor():clamp(0, 255)
  return x, y
end

math.randomseed(seed)
assert(os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'"), "cannot create " .. dir)
local x, y = make(n_train)
local per, first = n_train // 5, 1
for f = 1, 5 do
  local count = f < 5 and per or n_train - first + 1
  T.save_cifar(string.format("%s/data_batch_%d.bin", dir, f), x:narrow(1, first, count), y:narrow(1, first, count))
  first = first + count
end
local xt, yt = make(n_test)
T.save_cifar(dir .. "/test_batch.bin", xt, yt)
print(string.format("synthetic CIFAR-format data (not CIFAR-10): %d training images in %s/data_batch_1..5.bin, "
                    .. "%d test images in %s/test_batch.bin", n_train, dir, n_test, dir))
