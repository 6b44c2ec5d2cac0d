-- T.load_idx / T.save_idx: round trips, argument errors, and a fuzz loop of mutated
-- files that must each load or fail with an error, never crash.
local support = require "spec_support"
local slurp, spit, dims, has = support.slurp, support.spit, support.dims, support.has
local T = require "luacnn"

local SEED = tonumber(os.getenv("LUACNN_SEED") or "") or 20261127
print("idx_spec: seed " .. SEED .. " (set LUACNN_SEED to change)")

local tmpdir
local function path(name) return tmpdir .. "/" .. name end





describe("T.load_idx / T.save_idx", function()
  setup(function()
    tmpdir = support.temp_dir("luacnn-idx-spec")
  end)
  teardown(function() support.remove_dir(tmpdir) end)

  it("round-trips ubyte and float, plain and .gz, 1 to 4 dims", function()
    T.manual_seed(SEED)
    local shapes = { { 7 }, { 3, 5 }, { 2, 3, 4 }, { 2, 1, 3, 2 } }
    for _, shape in ipairs(shapes) do
      local bytes = T.randint(0, 256, shape)
      local floats = T.randn(shape) * 1000
      for _, name in ipairs({ "u.idx", "u.idx.gz" }) do
        T.save_idx(path(name), bytes, "ubyte")
        local back = T.load_idx(path(name))
        assert.are.same(shape, dims(back))
        assert.is_true(back:equal(bytes), name)
      end
      for _, name in ipairs({ "f.idx", "f.idx.gz" }) do
        T.save_idx(path(name), floats)  -- float is the default
        assert.is_true(T.load_idx(path(name)):equal(floats), name)
      end
    end
  end)

  it("writes the exact IDX bytes, gzip only for .gz names", function()
    T.save_idx(path("exact"), T.tensor{ { 1, 2, 3 }, { 4, 5, 255 } }, "ubyte")
    assert.are.equal("\0\0\8\2\0\0\0\2\0\0\0\3\1\2\3\4\5\255", slurp(path("exact")))
    T.save_idx(path("exact-f"), T.tensor{ -2.5 }, "float")
    assert.are.equal("\0\0\13\1\0\0\0\1" .. string.pack(">f", -2.5), slurp(path("exact-f")))
    T.save_idx(path("exact.gz"), T.tensor{ 1 }, "ubyte")
    assert.are.equal("\31\139", slurp(path("exact.gz")):sub(1, 2))
  end)

  it("saves views in their logical order", function()
    local t = T.arange(6):view(2, 3)
    T.save_idx(path("t"), t:t(), "ubyte")
    assert.is_true(T.load_idx(path("t")):equal(T.tensor{ { 0, 3 }, { 1, 4 }, { 2, 5 } }))
  end)

  it("reads the other IDX types written by hand", function()
    spit(path("short"), "\0\0\11\1\0\0\0\3" .. string.pack(">i2i2i2", -300, 0, 32767))
    assert.is_true(T.load_idx(path("short")):equal(T.tensor{ -300, 0, 32767 }))
    spit(path("int"), "\0\0\12\1\0\0\0\2" .. string.pack(">i4i4", -70000, 16777216))
    assert.is_true(T.load_idx(path("int")):equal(T.tensor{ -70000, 16777216 }))
    spit(path("byte"), "\0\0\9\1\0\0\0\2\255\127")
    assert.is_true(T.load_idx(path("byte")):equal(T.tensor{ -1, 127 }))
    spit(path("double"), "\0\0\14\1\0\0\0\1" .. string.pack(">d", 0.5))
    assert.is_true(T.load_idx(path("double")):equal(T.tensor{ 0.5 }))
  end)

  it("refuses values ubyte cannot hold, and leaves no file", function()
    for _, v in ipairs({ 1.5, -1, 256, 0 / 0 }) do
      local ok, err = pcall(T.save_idx, path("bad"), T.tensor{ 3, v }, "ubyte")
      assert.is_false(ok)
      assert.is_true(has(err, "save_idx: ") and has(err, "element 2") and has(err, "0..255"), err)
      assert.is_nil(io.open(path("bad"), "rb"))
    end
  end)

  it("checks its arguments", function()
    local cases = {
      { function() T.save_idx(path("x"), T.zeros({})) end, "0-dimensional" },
      { function() T.save_idx(path("x"), T.zeros(2), "int16") end, "invalid option 'int16'" },
      { function() T.save_idx(path("x"), 3) end, "tensor expected" },
      { function() T.save_idx(tmpdir .. "/no/such/dir/x", T.zeros(2)) end, "cannot create" },
      { function() T.load_idx(path("missing")) end, "load_idx: cannot open " .. path("missing") },
      { function() T.load_idx(tmpdir) end, "is a directory" },
      { function() T.load_idx() end, "string expected" },
    }
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok, "case " .. i)
      assert.is_true(has(err, case[2]), err)
    end
  end)

  it("names the file and the problem for corrupt files", function()
    local good = "\0\0\8\2\0\0\0\2\0\0\0\3" .. "\1\2\3\4\5\6"
    local cases = {
      { good:sub(1, -2), "truncated" },
      { good .. "\0", "1 trailing byte" },
      { "\1" .. good:sub(2), "not an IDX file" },
      { good:sub(1, 2) .. "\7" .. good:sub(4), "unknown IDX element type 0x07" },
      { good:sub(1, 3) .. "\0" .. good:sub(5), "0 dimensions" },
      { "\0\0\8\9" .. string.rep("\0\0\0\1", 9) .. "\1", "9 dimensions" },
      { "\0\0\8\3" .. string.rep("\255\255\255\255", 2) .. "\0\0\0\4", "more than" },
      { "\0\0\8\2\0\0\0\4\255\255\255\255" .. "\1\2", "truncated" },
      { "", "empty" },
    }
    for i, case in ipairs(cases) do
      spit(path("corrupt" .. i), case[1])
      local ok, err = pcall(T.load_idx, path("corrupt" .. i))
      assert.is_false(ok, "case " .. i)
      assert.is_true(has(err, path("corrupt" .. i)) and has(err, case[2]), err)
    end
  end)

  it("survives 500 random mutations and truncations of a valid file", function()
    math.randomseed(SEED)
    T.manual_seed(SEED)
    collectgarbage()
    local baseline = T.live_tensors()
    T.save_idx(path("seed.idx"), T.randint(0, 256, { 4, 3, 5 }), "ubyte")
    T.save_idx(path("seedf.idx"), T.randn(2, 7), "float")
    local sources = { slurp(path("seed.idx")), slurp(path("seedf.idx")) }
    local loaded, refused = 0, 0
    for round = 1, 500 do
      local s = sources[round % 2 + 1]
      local kind = round % 4
      if kind == 0 then
        s = s:sub(1, math.random(0, #s - 1))                          -- truncate
      elseif kind == 1 then
        s = s .. string.char(math.random(0, 255)):rep(math.random(1, 5))  -- append
      else
        for _ = 1, math.random(1, 3) do                               -- flip bytes, the header most
          local pos = math.random() < 0.7 and math.random(1, math.min(#s, 16)) or math.random(1, #s)
          s = s:sub(1, pos - 1) .. string.char(math.random(0, 255)) .. s:sub(pos + 1)
        end
      end
      local name = path(round % 3 == 0 and "mutant.gz" or "mutant")
      if round % 3 == 0 then
        -- the same bytes gzip-compressed: the .gz path must behave the same
        spit(name .. ".raw", s)
        assert(os.execute("gzip -c '" .. name .. ".raw' > '" .. name .. "'"))
      else
        spit(name, s)
      end
      local ok, result = pcall(T.load_idx, name)
      if ok then
        loaded = loaded + 1
        local ndim = s:byte(4)
        local esize = ({ [8] = 1, [9] = 1, [11] = 2, [12] = 4, [13] = 4, [14] = 8 })[s:byte(3)]
        assert.are.equal(#s, 4 + 4 * ndim + result:numel() * esize, "round " .. round)
      else
        refused = refused + 1
        assert.are.equal("string", type(result))
        assert.is_true(has(result, "load_idx: ") and has(result, name), result)
      end
    end
    assert.is_true(loaded > 20 and refused > 200, loaded .. " loaded, " .. refused .. " refused")
    collectgarbage()
    collectgarbage()
    assert.are.equal(baseline, T.live_tensors())
  end)
end)
