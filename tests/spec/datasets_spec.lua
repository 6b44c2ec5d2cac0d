-- datasets.mnist / datasets.fashion_mnist on tiny data sets written here with save_idx:
-- what load_data returns, what it refuses, where it looks and what it says when the
-- data is nowhere. The lookup order is tested in child lua5.4 processes, each with its
-- own environment and its own copy of the stdlib (so "the project's data folder" is a
-- temporary one).
local support = require "spec_support"
local dims, slurp, quote, has = support.dims, support.slurp, support.quote, support.has
local T = require "luacnn"
local datasets = require "datasets"

local SOURCE_DIR = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")
local SEED = tonumber(os.getenv("LUACNN_SEED") or "") or 20261127
print("datasets_spec: seed " .. SEED .. " (set LUACNN_SEED to change)")

local FILES = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }

local tmpdir

local sh = support.sh



-- A data set of n_train / n_test random 28x28 images in dir; opts.gz names the files .gz,
-- opts.labels overrides the training labels, opts.h the image height.
local function make_dataset(dir, n_train, n_test, opts)
  opts = opts or {}
  sh("mkdir -p " .. quote(dir))
  local suffix = opts.gz and ".gz" or ""
  local d = {
    x_train = T.randint(0, 256, { n_train, opts.h or 28, 28 }),
    y_train = opts.labels or T.randint(0, 10, { n_train }),
    x_test = T.randint(0, 256, { n_test, 28, 28 }),
    y_test = T.randint(0, 10, { n_test }),
  }
  T.save_idx(dir .. "/" .. FILES[1] .. suffix, d.x_train, "ubyte")
  T.save_idx(dir .. "/" .. FILES[2] .. suffix, d.y_train, "ubyte")
  T.save_idx(dir .. "/" .. FILES[3] .. suffix, d.x_test, "ubyte")
  T.save_idx(dir .. "/" .. FILES[4] .. suffix, d.y_test, "ubyte")
  return d
end

local function load_error(fn, opts)
  local ok, err = pcall(fn, opts)
  assert.is_false(ok, "load_data succeeded")
  return err
end

-- Runs code in a child lua5.4 whose stdlib comes first from root/stdlib (a copy of the
-- datasets files). Returns stdout, stderr, status.
local function child(root, env, code) return support.child_lua(tmpdir, root, env, code) end

local function fake_project(name) return support.fake_project(tmpdir, name) end

local REPORT_N = [[
local datasets = require "datasets"
local x_train, _, x_test = datasets[NAME].load_data(OPTS)
print(#x_train .. "/" .. #x_test)
]]
local function report_n(name, opts) return (REPORT_N:gsub("NAME", string.format("%q", name)):gsub("OPTS", opts or "nil")) end

describe("datasets", function()
  setup(function()
    tmpdir = support.temp_dir("luacnn-datasets-spec")
    T.manual_seed(SEED)
  end)
  teardown(function() support.remove_dir(tmpdir) end)

  describe("load_data", function()
    it("returns x [N,28,28] with values 0..255 and y [N] with labels 0..9, as stored", function()
      local d = make_dataset(tmpdir .. "/plain", 12, 5)
      local x_train, y_train, x_test, y_test = datasets.mnist.load_data{ data = tmpdir .. "/plain" }
      assert.are.same({ 12, 28, 28 }, dims(x_train))
      assert.are.same({ 12 }, dims(y_train))
      assert.are.same({ 5, 28, 28 }, dims(x_test))
      assert.are.same({ 5 }, dims(y_test))
      assert.is_true(x_train:equal(d.x_train) and y_train:equal(d.y_train))
      assert.is_true(x_test:equal(d.x_test) and y_test:equal(d.y_test))
      assert.is_true(x_train:min() >= 0 and x_train:max() <= 255 and x_train:max() > 1)
      assert.is_true(y_train:min() >= 0 and y_train:max() <= 9)
    end)

    it("reads .gz files and mixes of plain and .gz", function()
      local d = make_dataset(tmpdir .. "/gz", 4, 3, { gz = true })
      local x_train, y_train, _, y_test = datasets.fashion_mnist.load_data{ data = tmpdir .. "/gz" }
      assert.is_true(x_train:equal(d.x_train) and y_train:equal(d.y_train) and y_test:equal(d.y_test))
      sh("gzip -d " .. quote(tmpdir .. "/gz/" .. FILES[1] .. ".gz"))
      assert.is_true(datasets.fashion_mnist.load_data{ data = tmpdir .. "/gz" }:equal(d.x_train))
    end)

    it("refuses an incomplete data set, naming the missing files", function()
      make_dataset(tmpdir .. "/partial", 3, 2)
      os.remove(tmpdir .. "/partial/" .. FILES[2])
      os.remove(tmpdir .. "/partial/" .. FILES[4])
      local err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/partial" })
      assert.is_true(has(err, "incomplete") and has(err, FILES[2] .. ", " .. FILES[4]), err)
      assert.is_true(has(err, "scripts/bootstrap --data"), err)
    end)

    it("refuses wrong shapes, counts and labels, naming the file", function()
      make_dataset(tmpdir .. "/tall", 3, 2, { h = 27 })
      local err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/tall" })
      assert.is_true(has(err, "[3,27,28]") and has(err, "[N,28,28]") and has(err, FILES[1]), err)

      make_dataset(tmpdir .. "/labels", 3, 2, { labels = T.tensor{ 1, 10, 2 } })
      err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/labels" })
      assert.is_true(has(err, "labels from 1 to 10") and has(err, "0..9") and has(err, FILES[2]), err)

      make_dataset(tmpdir .. "/count", 3, 2, { labels = T.tensor{ 1, 2 } })
      err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/count" })
      assert.is_true(has(err, "3 images") and has(err, "2 labels"), err)

      make_dataset(tmpdir .. "/frac", 2, 2)
      T.save_idx(tmpdir .. "/frac/" .. FILES[4], T.tensor{ 0.5, 1 })
      err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/frac" })
      assert.is_true(has(err, "expected integers 0..9") and has(err, FILES[4]), err)
    end)

    it("passes on the reader's message for a corrupt file", function()
      make_dataset(tmpdir .. "/corrupt", 3, 2)
      local p = tmpdir .. "/corrupt/" .. FILES[3]
      local bytes = slurp(p)
      local f = assert(io.open(p, "wb"))
      f:write(bytes:sub(1, 100))
      f:close()
      local err = load_error(datasets.mnist.load_data, { data = tmpdir .. "/corrupt" })
      assert.is_true(has(err, "datasets.mnist.load_data: load_idx: " .. p) and has(err, "truncated"), err)
    end)

    it("checks its options", function()
      local err = load_error(datasets.mnist.load_data, "data")
      assert.is_true(has(err, "expected an options table"), err)
      err = load_error(datasets.mnist.load_data, { data = 3 })
      assert.is_true(has(err, "opts.data must be a directory name"), err)
    end)

    it("reports the caller's line in its errors", function()
      local ok, err = pcall(function()
        datasets.mnist.load_data{ data = tmpdir .. "/nothing-here" }
      end)
      assert.is_false(ok)
      assert.is_truthy(err:match("^[^\n]*datasets_spec%.lua:%d+: datasets%.mnist%.load_data: MNIST not found"), err)
    end)
  end)

  describe("lookup", function()
    local root
    setup(function()
      root = fake_project("project")
      make_dataset(tmpdir .. "/opts", 1, 1)
      make_dataset(tmpdir .. "/env/mnist", 2, 1)
      make_dataset(root .. "/data/mnist", 3, 1, { gz = true })
      sh("mkdir -p " .. quote(tmpdir .. "/empty"))
    end)

    it("takes opts.data first, then $LUACNN_DATA/<name>, then the project's data folder", function()
      local env = "LUACNN_DATA=" .. quote(tmpdir .. "/env")
      local out, err = child(root, env, report_n("mnist", string.format("{data = %q}", tmpdir .. "/opts")))
      assert.are.equal("1/1\n", out, err)
      out, err = child(root, env, report_n("mnist"))
      assert.are.equal("2/1\n", out, err)
      out, err = child(root, "", report_n("mnist"))
      assert.are.equal("3/1\n", out, err)
      out, err = child(root, "LUACNN_DATA=" .. quote(tmpdir .. "/empty"), report_n("mnist"))
      assert.are.equal("3/1\n", out, err)
    end)

    it("looks only in opts.data when it is given", function()
      local out, err, status = child(root, "", report_n("mnist", string.format("{data = %q}", tmpdir .. "/empty")))
      assert.are_not.equal(0, status)
      assert.are.equal("", out)
      assert.is_true(has(err, "1. " .. tmpdir .. "/empty (opts.data): no such files"), err)
      assert.is_false(has(err, "2. "), err)
    end)

    it("lists every place it looked and the fetch command when the data is nowhere", function()
      local bare = fake_project("bare")
      local out, err, status = child(bare, "LUACNN_DATA=" .. quote(tmpdir .. "/empty"), report_n("mnist"))
      assert.are_not.equal(0, status)
      assert.are.equal("", out)
      for _, piece in ipairs({
        "datasets.mnist.load_data: MNIST not found", FILES[1], FILES[4], "plain or .gz",
        "1. " .. tmpdir .. "/empty/mnist ($LUACNN_DATA/mnist): no such files",
        "2. " .. bare .. "/data/mnist (the project's data folder): no such files",
        "Fetch it with: " .. bare .. "/scripts/bootstrap --data",
      }) do
        assert.is_true(has(err, piece), "missing '" .. piece .. "' in:\n" .. err)
      end
      _, err = child(bare, "", report_n("mnist"))
      assert.is_true(has(err, "1. $LUACNN_DATA/mnist: LUACNN_DATA is not set"), err)
    end)

    it("finds Fashion-MNIST in its system folder last, and lists it when missing", function()
      local bare = fake_project("bare-fashion")
      make_dataset(tmpdir .. "/system", 4, 2, { gz = true })
      local code = "require('datasets').fashion_mnist.system_dirs = {" .. string.format("%q", tmpdir .. "/system")
        .. "}\n" .. report_n("fashion_mnist")
      local out, err = child(bare, "", code)
      assert.are.equal("4/2\n", out, err)
      make_dataset(bare .. "/data/fashion-mnist", 5, 2)
      out, err = child(bare, "", code)
      assert.are.equal("5/2\n", out, err)

      local missing = "require('datasets').fashion_mnist.system_dirs = {" .. string.format("%q", tmpdir .. "/empty")
        .. "}\n" .. report_n("fashion_mnist")
      local _, err2 = child(fake_project("bare-fashion2"), "", missing)
      assert.is_true(has(err2, "3. " .. tmpdir .. "/empty (Debian package dataset-fashion-mnist): no such files"), err2)
      assert.is_true(has(err2, "scripts/bootstrap --data"), err2)
    end)
  end)

  describe("metadata", function()
    it("names the Fashion-MNIST classes and describes the MNIST split", function()
      local names = datasets.fashion_mnist.class_names
      assert.are.equal(10, #names)
      assert.are.equal("T-shirt/top", names[1])
      assert.are.equal("Ankle boot", names[10])
      local info = datasets.mnist.info
      assert.are.equal(8004, info.train)
      assert.are.equal(1996, info.test)
      assert.is_true(has(tostring(info), "k % 5 == 4") and has(tostring(info), "round-robin"))
    end)
  end)

  describe("the fetched data (after scripts/bootstrap --data)", function()
    it("MNIST has the documented split, every digit 20% test", function()
      local dir = SOURCE_DIR .. "/data/mnist"
      if not io.open(dir .. "/" .. FILES[1], "rb") then return pending("no " .. dir .. ": run scripts/bootstrap --data") end
      local x_train, y_train, x_test, y_test = datasets.mnist.load_data{ data = dir }
      assert.are.same({ 8004, 28, 28 }, dims(x_train))
      assert.are.same({ 1996, 28, 28 }, dims(x_test))
      assert.are.equal(255, x_train:max())
      local want_test = { [0] = 200, 225, 198, 206, 196, 172, 202, 214, 188, 195 }
      for digit = 0, 9 do
        assert.are.equal(want_test[digit], y_test:eq(digit):sum(), "digit " .. digit)
      end
      assert.are.equal(801, y_train:eq(0):sum())
      assert.are.same({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, y_train:narrow(1, 1, 10):totable())
    end)
  end)
end)
