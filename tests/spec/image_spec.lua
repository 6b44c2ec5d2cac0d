-- stdlib/image and the image kernels: files (PNG, PGM, PPM), channels, geometry,
-- convolution with the textbook numbers, and bad input that must raise, never crash.
local T = require "luacnn"
local image = require "image"
local support = require "spec_support"
local slurp, spit = support.slurp, support.spit

local function has(text, fragment) return tostring(text):find(fragment, 1, true) ~= nil end

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p " .. tmpdir))
local function tmp(name) return tmpdir .. "/" .. name end

local function raises(fragment, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error containing '" .. fragment .. "'")
  assert.is_true(has(err, fragment), "error '" .. tostring(err) .. "' lacks '" .. fragment .. "'")
  return err
end

-- Reference cross-correlation in plain Lua: img[c][y][x] tables, kernel k[u][v].
local function naive_filter(img, k, pad, stride)
  local out = {}
  local H, W, KH, KW = #img[1], #img[1][1], #k, #k[1]
  local OH, OW = (H + 2 * pad - KH) // stride + 1, (W + 2 * pad - KW) // stride + 1
  for c = 1, #img do
    out[c] = {}
    for i = 1, OH do
      out[c][i] = {}
      for j = 1, OW do
        local s = 0
        for u = 1, KH do
          for v = 1, KW do
            local y, x = (i - 1) * stride - pad + u, (j - 1) * stride - pad + v
            if y >= 1 and y <= H and x >= 1 and x <= W then s = s + img[c][y][x] * k[u][v] end
          end
        end
        out[c][i][j] = s
      end
    end
  end
  return out
end

describe("image.convolve", function()
  it("gives the textbook numbers: 5x5 binary image, 3x3 X-shaped kernel", function()
    local img = T.tensor{{1, 1, 1, 0, 0}, {0, 1, 1, 1, 0}, {0, 0, 1, 1, 1}, {0, 0, 1, 1, 0}, {0, 1, 1, 0, 0}}
    local k = T.tensor{{1, 0, 1}, {0, 1, 0}, {1, 0, 1}}
    local out = image.convolve(img, k)
    assert.are.equal(4, out[1][1])
    assert.are.same({{4, 3, 4}, {2, 4, 3}, {2, 3, 4}}, out:totable())
    -- also as a one-channel [1,H,W] image and with the kernel as a Lua table
    assert.are.same({{{4, 3, 4}, {2, 4, 3}, {2, 3, 4}}},
                    image.convolve(img:view(1, 5, 5), {{1, 0, 1}, {0, 1, 0}, {1, 0, 1}}):totable())
  end)

  -- The classic CNN tutorial's curve detector: a 7x7 filter with 30 on the pixels of a
  -- curve (5 pixels here) and 0 elsewhere. A receptive field holding the same curve,
  -- drawn with 50s and one lighter pixel of 20, scores 30*(50+50+50+20+50) = 6600; a
  -- field whose 50s lie off the curve scores 0.
  it("scores 6600 on a receptive field with the curve and 0 on one without (curve detector)", function()
    local curve = {{2, 6}, {3, 5}, {4, 4}, {5, 4}, {6, 4}}
    local filter, match, other = T.zeros(7, 7), T.zeros(7, 7), T.zeros(7, 7)
    local along = {50, 50, 50, 20, 50}
    for i, p in ipairs(curve) do
      filter:set(p[1], p[2], 30)
      match:set(p[1], p[2], along[i])
    end
    for _, p in ipairs{{1, 1}, {1, 2}, {2, 2}, {7, 7}, {6, 7}, {5, 1}} do other:set(p[1], p[2], 50) end
    assert.are.equal(6600, image.convolve(match, filter):item())
    assert.are.equal(0, image.convolve(other, filter):item())
  end)

  it("follows floor((H + 2p - k) / s) + 1 for every padding and stride", function()
    for _, c in ipairs{{5, 3, 0, 1}, {5, 3, 1, 1}, {7, 3, 0, 2}, {7, 3, 1, 2}, {8, 3, 1, 2}, {6, 5, 2, 3},
                       {28, 5, 0, 1}, {32, 5, 2, 1}, {4, 4, 0, 1}, {3, 5, 1, 1}, {10, 1, 0, 4}} do
      local H, k, p, s = c[1], c[2], c[3], c[4]
      local out = image.convolve(T.ones(2, H, H + 1), T.ones(k, k), {padding = p, stride = s})
      local want = (H + 2 * p - k) // s + 1
      local want_w = (H + 1 + 2 * p - k) // s + 1
      assert.are.same({2, want, want_w}, {out:size(1), out:size(2), out:size(3)})
    end
    -- 'same': ceil(H / stride) pixels; 'valid': no padding
    for _, c in ipairs{{7, 3, 1}, {7, 5, 1}, {7, 4, 1}, {8, 3, 2}, {9, 3, 2}, {5, 5, 3}} do
      local out = image.convolve(T.ones(c[1], c[1]), T.ones(c[2], c[2]), {padding = "same", stride = c[3]})
      assert.are.same({-(-c[1] // c[3]), -(-c[1] // c[3])}, {out:size(1), out:size(2)})
    end
    local v = image.convolve(T.ones(7, 9), T.ones(3, 3), {padding = "valid"})
    assert.are.same({5, 7}, {v:size(1), v:size(2)})
  end)

  it("matches a plain Lua cross-correlation with padding and stride, per channel", function()
    T.manual_seed(7)
    local img = T.rand(3, 9, 8) * 10
    local k = T.randn(3, 3)
    for _, ps in ipairs{{0, 1}, {1, 1}, {2, 2}, {1, 3}} do
      local got = image.convolve(img, k, {padding = ps[1], stride = ps[2]}):totable()
      local want = naive_filter(img:totable(), k:totable(), ps[1], ps[2])
      for c = 1, 3 do
        for i = 1, #want[c] do
          for j = 1, #want[c][1] do
            assert.is_true(math.abs(got[c][i][j] - want[c][i][j]) < 1e-4,
                           string.format("p=%d s=%d [%d,%d,%d]: %g vs %g", ps[1], ps[2], c, i, j, got[c][i][j], want[c][i][j]))
          end
        end
      end
    end
    -- one kernel per channel: channel c uses kernel c
    local ks = T.stack({T.ones(3, 3), T.zeros(3, 3), T.ones(3, 3) * 2}, 1)
    local out = image.convolve(T.ones(3, 4, 4), ks)
    assert.are.same({9, 0, 18}, {out[1][1][1], out[2][1][1], out[3][1][1]})
  end)

  it("raises clear errors for bad kernels, padding and strides", function()
    raises("larger than the padded input", image.convolve, T.ones(3, 3), image.kernels.gaussian5)
    raises("larger than the padded input", image.convolve, T.ones(3, 4, 4), T.ones(5, 5), {padding = "valid"})
    assert.are.same({1, 1}, image.convolve(T.ones(3, 3), T.ones(5, 5), {padding = 1}):size())
    raises("stride must be at least 1", image.convolve, T.ones(5, 5), T.ones(3, 3), {stride = 0})
    raises("stride must be at least 1", image.convolve, T.ones(5, 5), T.ones(3, 3), {stride = -2})
    raises("padding must be", image.convolve, T.ones(5, 5), T.ones(3, 3), {padding = "full"})
    raises("padding must be at least 0", image.convolve, T.ones(5, 5), T.ones(3, 3), {padding = -1})
    raises("one per channel", image.convolve, T.ones(3, 5, 5), T.ones(2, 3, 3))
    raises("unknown option 'pad'", image.convolve, T.ones(5, 5), T.ones(3, 3), {pad = 1})
    raises("expected an image", image.convolve, T.ones(5), T.ones(3, 3))
  end)
end)

describe("image.kernels", function()
  it("hold the textbook numbers", function()
    local g = image.kernels.gaussian5
    local r = {1, 4, 8, 4, 1}
    for i = 1, 5 do
      for j = 1, 5 do assert.is_true(math.abs(g[i][j] - r[i] * r[j] / 324) < 1e-7) end
    end
    assert.is_true(math.abs(g:sum() - 1) < 1e-6)
    assert.are.same({{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}}, image.kernels.sobel_x:totable())
    assert.are.same({{-1, -2, -1}, {0, 0, 0}, {1, 2, 1}}, image.kernels.sobel_y:totable())
    assert.are.same({{-1, 0, 1}, {-1, 0, 1}, {-1, 0, 1}}, image.kernels.prewitt_x:totable())
    assert.are.same({{-1, -1, -1}, {0, 0, 0}, {1, 1, 1}}, image.kernels.prewitt_y:totable())
    assert.are.same({{0, -1, 0}, {-1, 4, -1}, {0, -1, 0}}, image.kernels.laplacian:totable())
    local b = image.kernels.box(4)
    assert.are.same({4, 4}, {b:size(1), b:size(2)})
    assert.is_true(math.abs(b:sum() - 1) < 1e-6)
    raises("no kernel named", function() return image.kernels.gauss end)
  end)

  it("are fresh tensors: changing one does not change the next", function()
    image.kernels.sobel_x:fill(0)
    assert.are.equal(-1, image.kernels.sobel_x[1][1])
  end)

  it("find edges: Sobel x responds to a vertical step, not a horizontal one", function()
    local step = T.zeros(5, 6)
    step[{{}, {4, 6}}] = 100
    local gx = image.convolve(step, image.kernels.sobel_x, {padding = "valid"})
    local gy = image.convolve(step, image.kernels.sobel_y, {padding = "valid"})
    assert.are.same({0, 400, 400, 0}, gx[1]:totable())
    assert.are.equal(0, gy:abs():max())
    local lap = image.convolve(T.full({5, 5}, 7), image.kernels.laplacian, {padding = "valid"})
    assert.are.equal(0, lap:abs():max())
  end)
end)

describe("image.resize", function()
  local src = T.tensor{{0, 10}, {20, 30}}

  it("nearest repeats pixels (source floor(i * H / h))", function()
    assert.are.same({{0, 0, 10, 10}, {0, 0, 10, 10}, {20, 20, 30, 30}, {20, 20, 30, 30}},
                    image.resize(src, 4, 4, {method = "nearest"}):totable())
    local big = T.arange(16):view(4, 4)
    assert.are.same({{0, 2}, {8, 10}}, image.resize(big, 2, 2, {method = "nearest"}):totable())
    assert.are.same({{0, 0, 1, 2, 2, 3}}, image.resize(T.arange(4):view(1, 4), 1, 6, {method = "nearest"}):totable())
  end)

  it("bilinear uses half-pixel centers (OpenCV, PyTorch align_corners=false)", function()
    -- output x = 0..3 samples input x = (x + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (-> 1)
    assert.are.same({{0, 2.5, 7.5, 10}, {5, 7.5, 12.5, 15}, {15, 17.5, 22.5, 25}, {20, 22.5, 27.5, 30}},
                    image.resize(src, 4, 4):totable())
    -- halving samples at 0.5 and 2.5: the mean of each 2x2 block
    local big = T.arange(16):view(1, 4, 4)
    assert.are.same({{{2.5, 4.5}, {10.5, 12.5}}}, image.resize(big, 2, 2, {method = "bilinear"}):totable())
    -- same size: unchanged
    assert.is_true(image.resize(big, 4, 4):equal(big))
  end)

  it("rejects bad sizes and methods", function()
    raises("at least 1", image.resize, src, 0, 3)
    raises("method must be", image.resize, src, 2, 2, {method = "cubic"})
    raises("must be an integer", image.resize, src, 2.5, 2)
  end)
end)

describe("image channels and values", function()
  it("grayscale uses the BT.601 weights 0.299, 0.587, 0.114", function()
    local rgb = T.zeros(3, 1, 3)
    rgb[1][1][1] = 255
    rgb[2][1][2] = 255
    rgb[3][1][3] = 255
    local g = image.grayscale(rgb)
    assert.are.same({1, 1, 3}, {g:size(1), g:size(2), g:size(3)})
    for i, w in ipairs{0.299, 0.587, 0.114} do assert.is_true(math.abs(g[1][1][i] - 255 * w) < 1e-3) end
    assert.is_true(math.abs(image.grayscale(T.full({4, 2, 2}, 100))[1][1][1] - 100) < 1e-3)
    raises("expected 1, 3 (RGB) or 4 (RGBA) channels", image.grayscale, T.zeros(2, 2, 2))
  end)

  it("quantize keeps the top bits", function()
    local t = T.tensor{{0, 31, 32, 127, 128, 200, 255, 300, -5}}
    assert.are.same({{0, 0, 32, 96, 128, 192, 224, 224, 0}}, image.quantize(t, 8):totable())
    assert.are.same({{0, 0, 0, 0, 128, 128, 128, 128, 0}}, image.quantize(t, 2):totable())
    raises("power of two", image.quantize, t, 3)
    raises("power of two", image.quantize, t, 512)
  end)

  it("split and merge are inverses", function()
    local t = T.arange(12):view(3, 2, 2)
    local parts = image.split(t)
    assert.are.equal(3, #parts)
    assert.are.same({1, 2, 2}, {parts[2]:size(1), parts[2]:size(2), parts[2]:size(3)})
    assert.are.same({{4, 5}, {6, 7}}, parts[2][1]:totable())
    assert.is_true(image.merge(parts):equal(t))
    assert.is_true(image.merge{T.zeros(2, 2), T.ones(2, 2)}:equal(T.stack({T.zeros(2, 2), T.ones(2, 2)}, 1)))
    raises("channel 2 is 3x2", image.merge, {T.zeros(2, 2), T.zeros(3, 2)})
  end)

  it("normalize_for_display stretches min..max to 0..255", function()
    local n = image.normalize_for_display(T.tensor{{-4, 0, 4}})
    assert.are.same({{0, 127.5, 255}}, n:totable())
    assert.are.same({{0, 0}}, image.normalize_for_display(T.full({1, 2}, 3)):totable())
  end)

  it("crop, pad and flips", function()
    local t = T.arange(12):view(1, 3, 4)
    assert.are.same({{{5, 6}, {9, 10}}}, image.crop(t, 2, 2, 2, 2):totable())
    raises("do not fit", image.crop, t, 2, 2, 3, 2)
    local p = image.pad(T.ones(1, 2), 1, 9)
    assert.are.same({{9, 9, 9, 9}, {9, 1, 1, 9}, {9, 9, 9, 9}}, p:totable())
    assert.are.same({{{0, 1, 0}}}, image.pad(T.ones(1, 1, 1), {0, 0, 1, 1}):totable())
    assert.are.same({{{3, 2, 1, 0}, {7, 6, 5, 4}, {11, 10, 9, 8}}}, image.hflip(t):totable())
    assert.are.same({{{8, 9, 10, 11}, {4, 5, 6, 7}, {0, 1, 2, 3}}}, image.vflip(t):totable())
    assert.is_true(image.hflip(image.hflip(t[1])):equal(t[1]))
  end)
end)

describe("image files", function()
  it("round-trip PNG for 1..4 channels, and PGM / PPM", function()
    T.manual_seed(3)
    for c = 1, 4 do
      local t = T.randint(0, 256, {c, 5, 7})
      image.save(tmp("rt.png"), t)
      assert.is_true(image.load(tmp("rt.png")):equal(t), c .. " channels")
    end
    local g = T.randint(0, 256, {1, 4, 3})
    image.save(tmp("rt.pgm"), g)
    assert.is_true(image.load(tmp("rt.pgm")):equal(g))
    image.save(tmp("flat.png"), g[1])  -- [H,W] is one channel
    assert.is_true(image.load(tmp("flat.png")):equal(g))
    local rgb = T.randint(0, 256, {3, 4, 3})
    image.save(tmp("rt.PPM"), rgb)
    assert.is_true(image.load(tmp("rt.PPM")):equal(rgb))
  end)

  it("rounds and clamps on save; scale=true reads and writes [0,1]", function()
    image.save(tmp("clamp.png"), T.tensor{{-3, 0.4, 0.5, 254.6, 999}})
    assert.are.same({{{0, 0, 1, 255, 255}}}, image.load(tmp("clamp.png")):totable())
    image.save(tmp("unit.png"), T.tensor{{0, 0.5, 1}}, {scale = true})
    assert.are.same({{{0, 128, 255}}}, image.load(tmp("clamp.png") and tmp("unit.png")):totable())
    local s = image.load(tmp("unit.png"), {scale = true})
    assert.are.equal(1, s:max())
    raises("unknown option", image.save, tmp("x.png"), T.ones(2, 2), {scales = true})
  end)

  it("raises clear errors for shapes, channels, extensions and paths", function()
    raises("[C,H,W] or [H,W]", image.save, tmp("a.png"), T.ones(1, 1, 2, 2))
    raises("5", image.save, tmp("a.png"), T.ones(5, 2, 2))
    raises("a PGM holds 1 channel", image.save, tmp("a.pgm"), T.ones(3, 2, 2))
    raises("a PPM holds 3 channels", image.save, tmp("a.ppm"), T.ones(1, 2, 2))
    raises("unknown extension", image.save, tmp("a.jpg"), T.ones(2, 2))
    raises("/nonexistent-dir/a.png", image.save, "/nonexistent-dir/a.png", T.ones(2, 2))
    raises("NaN", image.save, tmp("nan.png"), T.tensor{{0 / 0}})
    raises("cannot open", image.load, tmp("missing.png"))
    spit(tmp("text.png"), "just some text\n")
    raises("not a PNG, PGM or PPM", image.load, tmp("text.png"))
  end)

  it("refuses truncated, corrupt and absurd PNGs with the file's name", function()
    image.save(tmp("good.png"), T.randint(0, 256, {3, 6, 5}))
    local bytes = slurp(tmp("good.png"))
    for _, cut in ipairs{2, 8, 16, 33, 41, #bytes // 2, #bytes - 12, #bytes - 1} do
      spit(tmp("cut.png"), bytes:sub(1, cut))
      raises("cut.png", image.load, tmp("cut.png"))
    end
    -- IHDR claiming 100000x100000 pixels, with a correct CRC (computed by saving a real
    -- image of that header's shape is impossible, so patch and recompute here)
    local function crc32(s)
      local crc = 0xffffffff
      for i = 1, #s do
        crc = crc ~ s:byte(i)
        for _ = 1, 8 do crc = (crc & 1) ~= 0 and (crc >> 1) ~ 0xedb88320 or crc >> 1 end
      end
      return crc ~ 0xffffffff
    end
    local ihdr = "IHDR" .. string.pack(">I4I4", 100000, 100000) .. bytes:sub(25, 29)
    local absurd = bytes:sub(1, 12) .. ihdr .. string.pack(">I4", crc32(ihdr)) .. bytes:sub(34)
    spit(tmp("absurd.png"), absurd)
    local err = raises("absurd.png", image.load, tmp("absurd.png"))
    assert.is_true(has(err, "100000x100000"), err)
  end)

  it("survives a fuzz: every mutated PNG and PGM loads or raises", function()
    image.save(tmp("seed.png"), T.randint(0, 256, {3, 4, 5}))
    image.save(tmp("seed.pgm"), T.randint(0, 256, {1, 4, 5}))
    local seeds = {slurp(tmp("seed.png")), slurp(tmp("seed.pgm")), "P2\n# c\n3 2\n255\n0 1 2\n3 4 255\n"}
    math.randomseed(11)
    local failed, loaded = 0, 0
    for round = 1, 300 do
      local s = seeds[round % 3 + 1]
      local b = {s:byte(1, -1)}
      for _ = 1, math.random(1, 4) do b[math.random(1, #b)] = math.random(0, 255) end
      local n = round % 4 == 0 and math.random(0, #b) or #b
      spit(tmp("fuzz.img"), string.char(table.unpack(b, 1, n)))
      local ok, res = pcall(image.load, tmp("fuzz.img"))
      if ok then
        loaded = loaded + 1
        assert.is_true(T.is_tensor(res))
      else
        failed = failed + 1
        assert.is_true(has(res, "fuzz.img") or has(res, "not a PNG"), res)
      end
    end
    assert.is_true(failed > 0 and loaded + failed == 300)
  end)

  teardown(function() os.execute("rm -rf " .. tmpdir) end)
end)

describe("examples/filters.lua", function()
  setup(function() assert(os.execute("mkdir -p " .. tmpdir)) end)
  teardown(function() os.execute("rm -rf " .. tmpdir) end)

  it("writes the channel, gray, blur and edge images of a photo", function()
    local bin = os.getenv("LUACNN_BIN")
    if not bin then pending("LUACNN_BIN is not set") return end
    -- a synthetic "photo": a bright square on a dark ramp, in RGB
    local photo = T.zeros(3, 20, 24)
    for c = 1, 3 do photo[c]:copy(T.arange(24):view(1, 24) * (c * 3)) end
    photo[{{}, {6, 14}, {8, 18}}] = 220
    image.save(tmp("photo.png"), photo)
    local out = tmp("filters-out")
    local p = io.popen(string.format("'%s' run examples/filters.lua '%s' --out '%s' 2>&1", bin, tmp("photo.png"), out))
    local text = p:read("a")
    assert.is_true(p:close(), text)
    local shapes = {red = {1, 20, 24}, green = {1, 20, 24}, blue = {1, 20, 24}, gray = {1, 20, 24},
                    blur = {3, 20, 24}, sobel_x = {1, 18, 22}, sobel_y = {1, 18, 22}, gradient = {1, 18, 22},
                    laplacian = {1, 18, 22}}
    for name, shape in pairs(shapes) do
      assert.is_true(has(text, name .. ".png"), text)
      local t = image.load(out .. "/" .. name .. ".png")
      assert.are.same(shape, {t:size(1), t:size(2), t:size(3)}, name)
    end
    -- the square's left edge is a rising edge: the brightest column of sobel_x
    local gx = image.load(out .. "/sobel_x.png")[1]
    local col = gx:max(1):argmax()
    assert.is_true(col == 6 or col == 7, "strongest vertical edge at column " .. col)
    assert.is_true(image.load(out .. "/red.png"):equal(image.load(tmp("photo.png")):narrow(1, 1, 1)))
  end)
end)
