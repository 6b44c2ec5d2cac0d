-- datasets.cifar10 and T.load_cifar / T.save_cifar on tiny files in CIFAR-10's binary
-- format, written here byte by byte (so a writer bug cannot hide a reader bug): what
-- load_data returns, the options, what it refuses, where it looks, and what it says
-- when the data is nowhere. The lookup order runs in child lua5.4 processes with their
-- own environment and their own copy of the stdlib, as in datasets_spec.
local support = require "spec_support"
local dims, slurp, quote, has = support.dims, support.slurp, support.quote, support.has
local T = require "luacnn"
local datasets = require "datasets"

assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")

local TRAIN = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin" }
local TEST = "test_batch.bin"

local tmpdir

local sh = support.sh

-- The byte of image k (0-based over the whole set) at channel c, row y, column x.
local function pixel(k, c, y, x) return (k * 7 + c * 85 + y * 5 + x * 3) % 256 end
local function label(k) return (k * 3) % 10 end

-- The bytes of records first .. first+n-1: label byte, then R, G, B planes row by row.
local function records(first, n)
  local parts = {}
  for k = first, first + n - 1 do
    local rec = { string.char(label(k)) }
    for c = 0, 2 do
      for y = 0, 31 do
        local row = {}
        for x = 0, 31 do row[x + 1] = pixel(k, c, y, x) end
        rec[#rec + 1] = string.char(table.unpack(row))
      end
    end
    parts[#parts + 1] = table.concat(rec)
  end
  return table.concat(parts)
end

-- A data set in dir: train_counts[f] records in data_batch_f.bin (numbered on from one
-- file to the next), n_test in test_batch.bin (numbered from 1000).
local function make_dataset(dir, train_counts, n_test)
  sh("mkdir -p " .. quote(dir))
  local k = 0
  for f, n in ipairs(train_counts) do
    support.spit(dir .. "/" .. TRAIN[f], records(k, n))
    k = k + n
  end
  support.spit(dir .. "/" .. TEST, records(1000, n_test))
end

-- x[i] must be record `first + i - 1` for every i, divided by divisor.
local function check_images(x, y, first, divisor)
  local n = x:size(1)
  local want_x, want_y = T.empty{ n, 3, 32, 32 }, T.empty{ n }
  for i = 1, n do
    local k = first + i - 1
    want_y[i] = label(k)
    local img = {}
    for c = 0, 2 do
      local plane = {}
      for yy = 0, 31 do
        local row = {}
        for xx = 0, 31 do row[xx + 1] = pixel(k, c, yy, xx) end
        plane[yy + 1] = row
      end
      img[c + 1] = plane
    end
    want_x[i]:copy(T.tensor(img))
  end
  if divisor then want_x = want_x / divisor end
  assert.is_true(x:equal(want_x), "images differ")
  assert.is_true(y:equal(want_y), "labels differ")
end

local function load_error(opts)
  local ok, err = pcall(datasets.cifar10.load_data, opts)
  assert.is_false(ok, "load_data succeeded")
  return err
end

local function child(root, env, code) return support.child_lua(tmpdir, root, env, code) end

local function fake_project(name) return support.fake_project(tmpdir, name) end

local function report_n(opts)
  return "local x, _, xt = require('datasets').cifar10.load_data(" .. (opts or "nil") .. ")\n"
    .. "print(x:size(1) .. '/' .. xt:size(1))\n"
end

describe("datasets.cifar10", function()
  setup(function()
    tmpdir = support.temp_dir("luacnn-cifar-spec")
    make_dataset(tmpdir .. "/set", { 2, 3, 1, 2, 4 }, 5)
  end)
  teardown(function() support.remove_dir(tmpdir) end)

  describe("load_data", function()
    it("returns x [N,3,32,32] with the bytes 0..255 as stored, y [N] with the labels, and the class names", function()
      local x_train, y_train, x_test, y_test, names = datasets.cifar10.load_data{ data = tmpdir .. "/set" }
      assert.are.same({ 12, 3, 32, 32 }, dims(x_train))
      assert.are.same({ 12 }, dims(y_train))
      assert.are.same({ 5, 3, 32, 32 }, dims(x_test))
      assert.are.same({ 5 }, dims(y_test))
      -- the five training files in order, one after the other
      check_images(x_train, y_train, 0)
      check_images(x_test, y_test, 1000)
      assert.are.equal(0, x_train:min())
      assert.are.equal(255, x_train:max())
      -- R, G and B planes in that order: channel 2 of image 1 is the second 1024 bytes
      assert.are.equal(pixel(0, 1, 3, 4), x_train[1][2][4][5])
      assert.are.equal(10, #names)
      assert.are.same({ "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" }, names)
      assert.are.equal(names, datasets.cifar10.class_names)
    end)

    it("normalize = true gives exactly x / 255", function()
      local x, y, xt = datasets.cifar10.load_data{ data = tmpdir .. "/set", normalize = true }
      check_images(x, y, 0, 255)
      local _, _, xt_bytes = datasets.cifar10.load_data{ data = tmpdir .. "/set" }
      assert.is_true(xt:equal(xt_bytes / 255))
      assert.is_true(x:max() <= 1 and x:max() > 0.99)
    end)

    it("subset = n keeps the first n images of each split, across files", function()
      local x, y, xt, yt = datasets.cifar10.load_data{ data = tmpdir .. "/set", subset = 4 }
      assert.are.same({ 4, 3, 32, 32 }, dims(x))
      assert.are.same({ 4, 3, 32, 32 }, dims(xt))
      check_images(x, y, 0)
      check_images(xt, yt, 1000)
      x, y, xt, yt = datasets.cifar10.load_data{ data = tmpdir .. "/set", subset = { train = 7, test = 2 } }
      assert.are.same({ 7 }, dims(y))
      assert.are.same({ 2 }, dims(yt))
      check_images(x, y, 0)
      x, _, xt = datasets.cifar10.load_data{ data = tmpdir .. "/set", subset = { train = 100 } }
      assert.are.same({ 12, 5 }, { x:size(1), xt:size(1) })
      x, _, xt = datasets.cifar10.load_data{ data = tmpdir .. "/set", subset = 0 }
      assert.are.same({ 0, 0 }, { x:size(1), xt:size(1) })
    end)

    it("subset reads only the records it keeps, but checks every file's size", function()
      make_dataset(tmpdir .. "/late", { 3, 3, 3, 3, 3 }, 2)
      local bytes = records(9, 3)
      support.spit(tmpdir .. "/late/data_batch_4.bin", bytes:sub(1, 3073) .. "\99" .. bytes:sub(3075))
      local x = datasets.cifar10.load_data{ data = tmpdir .. "/late", subset = 10 }
      assert.are.equal(10, x:size(1))
      local err = load_error{ data = tmpdir .. "/late", subset = 11 }
      assert.is_true(has(err, "data_batch_4.bin: record 2 (byte 3073) has label 99"), err)
      support.spit(tmpdir .. "/late/data_batch_5.bin", records(12, 2) .. "\0")
      err = load_error{ data = tmpdir .. "/late", subset = 1 }
      assert.is_true(has(err, "data_batch_5.bin") and has(err, "not a whole number"), err)
    end)

    it("finds the files in DIR or in DIR/cifar-10-batches-bin (the archive's layout)", function()
      make_dataset(tmpdir .. "/unpacked/cifar-10-batches-bin", { 1, 1, 1, 1, 1 }, 3)
      local x, _, xt = datasets.cifar10.load_data{ data = tmpdir .. "/unpacked" }
      assert.are.same({ 5, 3 }, { x:size(1), xt:size(1) })
      local dir = datasets.cifar10.locate{ data = tmpdir .. "/unpacked" }
      assert.are.equal(tmpdir .. "/unpacked/cifar-10-batches-bin", dir)
      -- dir is the same option under the name the brief of load_data{dir = ...} uses
      x = datasets.cifar10.load_data{ dir = tmpdir .. "/set" }
      assert.are.equal(12, x:size(1))
    end)

    it("is datasets.named('cifar10') and 'cifar'", function()
      assert.are.equal(datasets.cifar10, (datasets.named("cifar10")))
      assert.are.equal("cifar10", select(2, datasets.named("cifar")))
      assert.are.same({50000, 10000, 10}, {datasets.cifar10.info.train, datasets.cifar10.info.test,
                                           datasets.cifar10.info.num_classes})
      assert.is_true(has(tostring(datasets.cifar10.info), "cifar-10-binary.tar.gz"))
      local ok, err = pcall(datasets.named, "cifar100")
      assert.is_false(ok)
      assert.is_true(has(err, "cifar10"), err)
    end)
  end)

  describe("refuses", function()
    local function corrupt(name, train_bytes, test_bytes)
      local dir = tmpdir .. "/bad-" .. name
      make_dataset(dir, { 1, 1, 1, 1, 1 }, 1)
      if train_bytes then support.spit(dir .. "/data_batch_2.bin", train_bytes) end
      if test_bytes then support.spit(dir .. "/" .. TEST, test_bytes) end
      return dir
    end

    it("a truncated file, naming it, its size and the record size", function()
      local dir = corrupt("truncated", records(0, 3):sub(1, -2))
      local err = load_error{ data = dir }
      for _, piece in ipairs{ "datasets.cifar10.load_data: load_cifar: " .. dir .. "/data_batch_2.bin",
                              "9218 bytes", "not a whole number of CIFAR-10 records of 3073 bytes", "truncated" } do
        assert.is_true(has(err, piece), "missing '" .. piece .. "' in: " .. err)
      end
    end)

    it("an empty file, a file with bytes over, a CIFAR-100 file", function()
      local err = load_error{ data = corrupt("empty", "") }
      assert.is_true(has(err, "data_batch_2.bin: the file is empty"), err)
      err = load_error{ data = corrupt("long", nil, records(0, 2) .. "xyz") }
      assert.is_true(has(err, "test_batch.bin: 6149 bytes") and has(err, "2 records and 3 bytes over"), err)
      err = load_error{ data = corrupt("c100", (string.rep("\1", 3074)):rep(3)) }
      assert.is_true(has(err, "CIFAR-100"), err)
    end)

    it("a label outside 0..9, naming the record", function()
      local bytes = records(0, 3)
      bytes = bytes:sub(1, 2 * 3073) .. "\10" .. bytes:sub(2 * 3073 + 2)
      local err = load_error{ data = corrupt("label", bytes) }
      assert.is_true(has(err, "data_batch_2.bin: record 3 (byte 6146) has label 10; CIFAR-10 labels are 0..9"), err)
    end)

    it("an incomplete folder, naming the missing files and where to get them", function()
      local dir = corrupt("partial")
      os.remove(dir .. "/data_batch_3.bin")
      os.remove(dir .. "/" .. TEST)
      local err = load_error{ data = dir }
      assert.is_true(has(err, dir .. " (opts.data) is incomplete: data_batch_3.bin, test_batch.bin missing"), err)
      assert.is_true(has(err, "cifar-10-binary.tar.gz"), err)
    end)

    it("a file that is a directory", function()
      local dir = corrupt("dir")
      os.remove(dir .. "/data_batch_5.bin")
      sh("mkdir " .. quote(dir .. "/data_batch_5.bin"))
      local err = load_error{ data = dir }
      assert.is_true(has(err, "cannot read " .. dir .. "/data_batch_5.bin: it is a directory"), err)
    end)

    it("bad options", function()
      local err = load_error("data")
      assert.is_true(has(err, "expected an options table"), err)
      err = load_error{ data = 3 }
      assert.is_true(has(err, "opts.data must be a directory name"), err)
      err = load_error{ data = tmpdir .. "/set", subset = -1 }
      assert.is_true(has(err, "subset must be a non-negative integer"), err)
      err = load_error{ data = tmpdir .. "/set", subset = { train = 1.5 } }
      assert.is_true(has(err, "subset.train must be a non-negative integer"), err)
      err = load_error{ data = tmpdir .. "/set", subset = { training = 1 } }
      assert.is_true(has(err, "not 'training'"), err)
      err = load_error{ data = tmpdir .. "/set", normalise = true }
      assert.is_true(has(err, "unknown option 'normalise'"), err)
      err = load_error{ data = tmpdir .. "/set", dir = tmpdir }
      assert.is_true(has(err, "not both"), err)
    end)

    it("reports the caller's line", function()
      local ok, err = pcall(function() datasets.cifar10.load_data{ data = tmpdir .. "/nothing" } end)
      assert.is_false(ok)
      assert.is_truthy(err:match("^[^\n]*cifar_spec%.lua:%d+: datasets%.cifar10%.load_data: CIFAR%-10 not found"), err)
    end)
  end)

  describe("lookup", function()
    local root
    setup(function()
      root = fake_project("project")
      make_dataset(tmpdir .. "/opts", { 1, 1, 1, 1, 1 }, 1)
      make_dataset(tmpdir .. "/env/cifar-10-batches-bin", { 1, 1, 1, 1, 2 }, 1)
      make_dataset(root .. "/data/cifar-10-batches-bin", { 1, 1, 1, 1, 3 }, 1)
      sh("mkdir -p " .. quote(tmpdir .. "/empty"))
    end)

    it("takes opts.data first, then $LUACNN_DATA/cifar-10-batches-bin, then the project's data folder", function()
      local env = "LUACNN_DATA=" .. quote(tmpdir .. "/env")
      local out, err = child(root, env, report_n(string.format("{data = %q}", tmpdir .. "/opts")))
      assert.are.equal("5/1\n", out, err)
      out, err = child(root, env, report_n())
      assert.are.equal("6/1\n", out, err)
      out, err = child(root, "", report_n())
      assert.are.equal("7/1\n", out, err)
      out, err = child(root, "LUACNN_DATA=" .. quote(tmpdir .. "/empty"), report_n())
      assert.are.equal("7/1\n", out, err)
    end)

    it("says which files, where it looked, where to download them and where to put them", function()
      local bare = fake_project("bare")
      local out, err, status = child(bare, "", report_n())
      assert.are_not.equal(0, status)
      assert.are.equal("", out)
      for _, piece in ipairs{
        "datasets.cifar10.load_data: CIFAR-10 not found",
        "data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin",
        "1. $LUACNN_DATA/cifar-10-batches-bin: LUACNN_DATA is not set",
        "2. " .. bare .. "/data/cifar-10-batches-bin (the project's data folder): no such files",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "tar xzf cifar-10-binary.tar.gz -C " .. bare .. "/data",
        "--data DIR",
      } do
        assert.is_true(has(err, piece), "missing '" .. piece .. "' in:\n" .. err)
      end
      _, err = child(bare, "LUACNN_DATA=" .. quote(tmpdir .. "/empty"), report_n())
      assert.is_true(has(err, "1. " .. tmpdir .. "/empty/cifar-10-batches-bin ($LUACNN_DATA/cifar-10-batches-bin): "
                              .. "no such files"), err)
      assert.is_true(has(err, "tar xzf cifar-10-binary.tar.gz -C " .. tmpdir .. "/empty "), err)
      _, err = child(bare, "", report_n(string.format("{data = %q}", tmpdir .. "/empty")))
      assert.is_true(has(err, "1. " .. tmpdir .. "/empty (opts.data): no such files"), err)
      assert.is_true(has(err, "2. " .. tmpdir .. "/empty/cifar-10-batches-bin (opts.data/cifar-10-batches-bin)"), err)
      assert.is_false(has(err, "3. "), err)
    end)
  end)

  describe("T.load_cifar / T.save_cifar", function()
    it("save_cifar writes the bytes of the format and load_cifar reads them back", function()
      local x, y = datasets.cifar10.load_data{ data = tmpdir .. "/set" }
      local path = tmpdir .. "/saved.bin"
      T.save_cifar(path, x, y)
      assert.are.equal(records(0, 12), slurp(path))
      local x2, y2 = T.load_cifar({ path })
      assert.is_true(x2:equal(x) and y2:equal(y))
      -- a non-contiguous view is written as its values
      local xs, ys = x:narrow(1, 2, 3):transpose(3, 4), y:narrow(1, 2, 3)
      T.save_cifar(path, xs, ys)
      x2, y2 = T.load_cifar({ path }, nil, 1)
      assert.is_true(x2:equal(xs) and y2:equal(ys))
    end)

    it("save_cifar refuses what the format cannot hold and leaves no file", function()
      local path = tmpdir .. "/refused.bin"
      local x, y = T.zeros{ 2, 3, 32, 32 }, T.zeros{ 2 }
      y[2] = 10
      local ok, err = pcall(T.save_cifar, path, x, y)
      assert.is_false(ok)
      assert.is_true(has(err, "label 2 is 10"), err)
      y[2] = 0
      x[1][1][1][1] = 0.5
      ok, err = pcall(T.save_cifar, path, x, y)
      assert.is_true(not ok and has(err, "pixel 1 of image 1 is 0.5"), err)
      ok, err = pcall(T.save_cifar, path, T.zeros{ 2, 3, 28, 28 }, y)
      assert.is_true(not ok and has(err, "[N,3,32,32]"), err)
      ok, err = pcall(T.save_cifar, path, T.zeros{ 2, 3, 32, 32 }, T.zeros{ 3 })
      assert.is_true(not ok and has(err, "labels must be [2]"), err)
      assert.is_nil(io.open(path, "rb"))
    end)

    it("load_cifar checks its arguments", function()
      local ok, err = pcall(T.load_cifar, {})
      assert.is_true(not ok and has(err, "empty table"), err)
      ok, err = pcall(T.load_cifar, { 3 })
      assert.is_true(not ok and has(err, "paths[1] is not a file name"), err)
      ok, err = pcall(T.load_cifar, { tmpdir .. "/set/" .. TEST }, -2)
      assert.is_true(not ok and has(err, "limit must be >= 0"), err)
      ok, err = pcall(T.load_cifar, { tmpdir .. "/set/" .. TEST }, nil, 0)
      assert.is_true(not ok and has(err, "divisor"), err)
      ok, err = pcall(T.load_cifar, { tmpdir .. "/no-such-file.bin" })
      assert.is_true(not ok and has(err, "cannot open " .. tmpdir .. "/no-such-file.bin"), err)
    end)
  end)
end)
