-- The tensor module as docs/tensor.md describes it: creation, looking at a tensor,
-- indexing and assignment, views and copies, printing, random numbers and memory.
-- Arithmetic, reductions, matmul and joining are in math_spec.lua, errors in errors_spec.lua.
local T = require "luacnn"

-- The seed the module started with, read before any test reseeds it.
local seed_at_load = T.initial_seed()

-- Element-by-element comparison of a tensor with nested Lua tables (exact, or within tol).
local function equals_table(t, want, tol)
  local got = t:totable()
  local function cmp(g, w, path)
    if type(w) == "table" then
      if type(g) ~= "table" or #g ~= #w then return false, path .. ": length " .. tostring(type(g) == "table" and #g) .. " vs " .. #w end
      for i = 1, #w do
        local ok, where = cmp(g[i], w[i], path .. "[" .. i .. "]")
        if not ok then return false, where end
      end
      return true
    end
    if w ~= w then return g ~= g, path .. ": expected nan, got " .. tostring(g) end
    local d = math.abs(g - w)
    if d <= (tol or 0) * math.max(1, math.abs(w)) then return true end
    return false, path .. ": got " .. tostring(g) .. ", expected " .. tostring(w)
  end
  return cmp(got, want, "t")
end

local function assert_values(t, want, tol)
  local ok, where = equals_table(t, want, tol)
  assert(ok, where)
end

local function shape_of(t) return table.concat(t:size(), ",") end

describe("creating tensors", function()
  it("from nested tables, numbers and tensors", function()
    local t = T.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.equal("2,3", shape_of(t))
    assert_values(t, {{1, 2, 3}, {4, 5, 6}})
    local s = T.tensor(3.5)
    assert.are.equal(0, s:dim())
    assert.are.equal(1, s:numel())
    assert.are.equal(3.5, s:item())
    local c = T.tensor(t)
    assert_values(c, {{1, 2, 3}, {4, 5, 6}})
    c:set(1, 1, 100)
    assert.are.equal(1, t:get(1, 1))   -- a copy, not a view
    local deep = T.tensor{{{1}, {2}}, {{3}, {4}}}
    assert.are.equal("2,2,1", shape_of(deep))
    assert.are.equal(4, deep:get(2, 2, 1))
    assert.are.equal("0", shape_of(T.tensor{}))
    -- float32: values are rounded to single precision
    assert.are_not.equal(0.1, T.tensor{0.1}[1])
    assert.is_true(math.abs(T.tensor{0.1}[1] - 0.1) < 1e-8)
  end)

  it("zeros, ones, empty and full, with shapes as tables or arguments", function()
    for _, make in ipairs{T.zeros, T.ones, T.empty} do
      assert.are.equal("3,4", shape_of(make{3, 4}))
      assert.are.equal("3,4", shape_of(make(3, 4)))
      assert.are.equal("2,1,5", shape_of(make(2, 1, 5)))
      assert.are.equal("0,3", shape_of(make{0, 3}))
      assert.are.equal(0, make{}:dim())
    end
    assert.are.equal(0, T.zeros(3, 4):sum())
    assert.are.equal(12, T.ones{3, 4}:sum())
    assert_values(T.full({2, 2}, 7), {{7, 7}, {7, 7}})
    assert_values(T.full({3}, -1.5), {-1.5, -1.5, -1.5})
    -- a Size works as a shape
    local a = T.zeros(2, 5)
    assert.are.equal("2,5", shape_of(T.ones(a:size())))
  end)

  it("zeros_like, ones_like, empty_like take the shape (not the layout)", function()
    local t = T.rand(3, 5):t()
    for _, make in ipairs{T.zeros_like, T.ones_like, T.empty_like} do
      local u = make(t)
      assert.are.equal("5,3", shape_of(u))
      assert.is_true(u:is_contiguous())
    end
    assert.are.equal(15, T.ones_like(t):sum())
    assert.are.equal(0, T.zeros_like(t):sum())
  end)

  it("arange excludes the end, as NumPy", function()
    assert_values(T.arange(5), {0, 1, 2, 3, 4})
    assert_values(T.arange(2, 10, 2), {2, 4, 6, 8})
    assert_values(T.arange(2, 9, 2), {2, 4, 6, 8})
    assert_values(T.arange(5, 0, -1), {5, 4, 3, 2, 1})
    assert_values(T.arange(0, 1, 0.25), {0, 0.25, 0.5, 0.75})
    assert.are.equal(0, T.arange(3, 3):numel())
    assert.are.equal(0, T.arange(3, 1):numel())
    assert.are.equal(1000, T.arange(1000):numel())
  end)

  it("linspace includes both ends", function()
    assert_values(T.linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1})
    assert_values(T.linspace(-1, 1, 3), {-1, 0, 1})
    assert_values(T.linspace(2, 2, 1), {2})
    assert.are.equal(0, T.linspace(0, 1, 0):numel())
    local l = T.linspace(0, 1, 101)
    assert.are.equal(1, l[101])
    assert.is_true(math.abs(l[51] - 0.5) < 1e-7)
  end)

  it("eye, square and rectangular", function()
    assert_values(T.eye(3), {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
    assert_values(T.eye(2, 3), {{1, 0, 0}, {0, 1, 0}})
    assert_values(T.eye(3, 2), {{1, 0}, {0, 1}, {0, 0}})
    assert.are.equal(0, T.eye(0):numel())
  end)

  it("rand, randn, randint, randperm", function()
    T.manual_seed(1)
    local u = T.rand{100, 100}
    assert.are.equal("100,100", shape_of(u))
    assert.is_true(u:min() >= 0 and u:max() < 1)
    assert.is_true(math.abs(u:mean() - 0.5) < 0.01)
    local n = T.randn(200, 100)
    assert.is_true(math.abs(n:mean()) < 0.02, "mean " .. n:mean())
    assert.is_true(math.abs(n:std() - 1) < 0.02, "std " .. n:std())
    local r = T.randint(0, 10, {5000})
    assert.is_true(r:min() == 0 and r:max() == 9)
    assert.is_true(r:equal(r:floor()), "randint gives integers")
    local r2 = T.randint(-3, -1, {2, 50})
    assert.are.equal("2,50", shape_of(r2))
    assert.is_true(r2:min() == -3 and r2:max() == -2)
    for _, size in ipairs{0, 1, 2, 17, 1000} do
      local p = T.randperm(size)
      assert.are.equal(size, p:numel())
      local seen = {}
      for i = 1, size do
        local v = p[i]
        assert.is_true(v >= 1 and v <= size and math.floor(v) == v and not seen[v], "randperm(" .. size .. ") value " .. v)
        seen[v] = true
      end
    end
  end)

  it("uniform_ and normal_ fill in place and return the tensor", function()
    local t = T.zeros(50, 40)
    assert.is_true(rawequal(t, t:uniform_(2, 3)))
    assert.is_true(t:min() >= 2 and t:max() < 3)
    assert.is_true(rawequal(t, t:normal_(10, 0.5)))
    assert.is_true(math.abs(t:mean() - 10) < 0.1 and math.abs(t:std() - 0.5) < 0.05)
    -- a view fills only its elements
    local base = T.zeros(4, 4)
    base[{{}, 2}]:uniform_(5, 6)
    assert.are.equal(0, base[{{}, 1}]:sum())
    assert.is_true(base[{{}, 2}]:min() >= 5)
  end)

  it("is_tensor", function()
    assert.is_true(T.is_tensor(T.zeros(1)))
    assert.is_false(T.is_tensor({}))
    assert.is_false(T.is_tensor(3))
  end)
end)

describe("looking at a tensor", function()
  it("size, shape, dim, numel, #, stride, is_contiguous", function()
    local t = T.zeros(3, 4, 5)
    local s = t:size()
    assert.are.equal(3, #s)
    assert.are.same({3, 4, 5}, {s[1], s[2], s[3]})
    assert.are.equal("[3,4,5]", tostring(s))
    assert.are.equal("[3,4,5]", tostring(t:shape()))
    assert.are.equal(4, t:size(2))
    assert.are.equal(5, t:size(-1))
    assert.are.equal(3, t:dim())
    assert.are.equal(60, t:numel())
    assert.are.equal(3, #t)
    assert.are.equal("[20,5,1]", tostring(t:stride()))
    assert.are.equal(5, t:stride(2))
    assert.is_true(t:is_contiguous())
    assert.is_false(t:transpose(1, 3):is_contiguous())
    assert.are.equal("[]", tostring(T.tensor(1):size()))
  end)

  it("t[i] is a number in 1-D and a view otherwise", function()
    local v = T.tensor{10, 20, 30}
    assert.are.equal(10, v[1])
    assert.are.equal(30, v[3])
    assert.are.equal(30, v[-1])
    assert.are.equal(10, v[-3])
    assert.are.equal(20, v[4 / 2])  -- an integral float is an index
    local m = T.tensor{{1, 2}, {3, 4}}
    local row = m[2]
    assert.is_true(T.is_tensor(row))
    assert_values(row, {3, 4})
    assert_values(m[-1], {3, 4})
    row[1] = 30    -- a view: writes through
    assert.are.equal(30, m:get(2, 1))
  end)

  it("get and set one element", function()
    local t = T.zeros(2, 3)
    assert.is_true(rawequal(t, t:set(2, 3, 5)))
    assert.are.equal(5, t:get(2, 3))
    assert.are.equal(5, t:get(-1, -1))
    t:set(-2, 1, 7)
    assert.are.equal(7, t:get(1, 1))
    local s = T.tensor(4)
    assert.are.equal(4, s:get())
    s:set(9)
    assert.are.equal(9, s:item())
  end)

  it("slices with numbers, {}, {a, b} and {a, b, step}, 1-based and negative", function()
    local t = T.arange(60):view(3, 4, 5)
    -- t[{2, {}, {1,3}}]: row 2, every column block, elements 1..3
    local s = t[{2, {}, {1, 3}}]
    assert.are.equal("4,3", shape_of(s))
    assert_values(s, {{20, 21, 22}, {25, 26, 27}, {30, 31, 32}, {35, 36, 37}})
    assert_values(t[{1, 1, {1, 5, 2}}], {0, 2, 4})
    assert_values(t[{1, 1, {2, -1, 2}}], {1, 3})
    assert_values(t[{-1, -1, {-2, -1}}], {58, 59})
    assert.are.equal("3,1,5", shape_of(t[{{}, {2}}]))  -- {i} keeps the dim
    assert.are.equal("2,4,5", shape_of(t[{{2, 3}}]))    -- trailing dims kept whole
    assert.are.equal(0, t[{{}, {3, 2}}]:numel())        -- an empty range
    assert.are.equal(37, t[{2, 4, 3}]:item())
    assert.are.equal(0, t[{2, 4, 3}]:dim())
    -- slices are views
    t[{2, {}, {1, 3}}]:fill(-1)
    assert.are.equal(-1, t:get(2, 4, 3))
    assert.are.equal(23, t:get(2, 1, 4))
  end)

  it("assignment fills with numbers and copies tensors with broadcasting", function()
    local t = T.zeros(3, 4)
    t[2] = 5
    assert_values(t, {{0, 0, 0, 0}, {5, 5, 5, 5}, {0, 0, 0, 0}})
    t[{{}, 1}] = T.tensor{1, 2, 3}
    assert_values(t[{{}, 1}], {1, 2, 3})
    t[{{1, 2}, {3, 4}}] = T.tensor{9, 8}          -- broadcast over rows
    assert_values(t[{{1, 2}, {3, 4}}], {{9, 8}, {9, 8}})
    t[{3, {}}] = T.tensor(7)                       -- a 0-d tensor fills
    assert_values(t[3], {7, 7, 7, 7})
    t[-1] = -1
    assert_values(t[3], {-1, -1, -1, -1})
    local v = T.tensor{1, 2, 3}
    v[2] = 20
    assert_values(v, {1, 20, 3})
    -- overlapping source and destination in the same storage
    local o = T.arange(6)
    o[{{2, 6}}] = o[{{1, 5}}]
    assert_values(o, {0, 0, 1, 2, 3, 4})
    local m = T.arange(9):view(3, 3)
    m:copy(m:t())
    assert_values(m, {{0, 3, 6}, {1, 4, 7}, {2, 5, 8}})
  end)

  it("item and totable round trips", function()
    assert.are.equal(2.5, T.tensor{{2.5}}:item())
    assert.are.equal(2.5, T.tensor(2.5):totable())
    local src = {{{1, 2}, {3, 4}, {5, 6}}, {{-1, -2}, {-3, -4}, {-5, -6}}}
    local t = T.tensor(src)
    assert.are.same(src, t:totable())
    assert.is_true(T.tensor(t:totable()):equal(t))
    -- a strided view lists its own elements in its own order
    assert.are.same({{1, 3, 5}, {2, 4, 6}}, t[1]:t():totable())
    assert.are.same({}, T.zeros(0):totable())
    local r = T.randn(4, 7)
    assert.is_true(T.tensor(r:totable()):equal(r), "float32 values survive the trip through Lua numbers")
  end)
end)

describe("views and copies", function()
  it("view shares memory and infers -1", function()
    local t = T.arange(12)
    local v = t:view(3, 4)
    assert.are.equal("3,4", shape_of(v))
    v:set(2, 3, 100)
    assert.are.equal(100, t[7])
    t[1] = -5
    assert.are.equal(-5, v:get(1, 1))
    assert.are.equal("2,6", shape_of(t:view(2, -1)))
    assert.are.equal("4,3", shape_of(t:view{-1, 3}))
    assert.are.equal("12", shape_of(v:view(-1)))
    assert.are.equal("2,2,3", shape_of(v:view(v:size(1) - 1, 2, 3)))
  end)

  it("reshape copies only when it must", function()
    local t = T.arange(12):view(3, 4)
    local r = t:reshape(4, 3)          -- contiguous: a view
    r:set(1, 1, 42)
    assert.are.equal(42, t:get(1, 1))
    local tt = t:t()                   -- [4,3] transposed: flattening needs a copy
    local flat = tt:reshape(12)
    assert_values(flat, {42, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11})
    flat[1] = 0
    assert.are.equal(42, t:get(1, 1))  -- the copy does not write through
    local split = tt:reshape(2, 2, 3)  -- splitting an outer dim is still a view
    split:set(1, 1, 1, -7)
    assert.are.equal(-7, t:get(1, 1))
    assert.is_true(T.arange(6):view(2, 3):t():reshape(6):equal(T.tensor{0, 3, 1, 4, 2, 5}))
  end)

  it("transpose, t and permute", function()
    local t = T.arange(24):view(2, 3, 4)
    local p = t:transpose(1, 3)
    assert.are.equal("4,3,2", shape_of(p))
    assert.are.equal(t:get(2, 3, 1), p:get(1, 3, 2))
    assert.are.equal("4,3,2", shape_of(t:transpose(-1, 1)))
    local m = T.tensor{{1, 2, 3}, {4, 5, 6}}
    assert_values(m:t(), {{1, 4}, {2, 5}, {3, 6}})
    assert_values(m:transpose(), {{1, 4}, {2, 5}, {3, 6}})
    assert_values(T.tensor{1, 2}:t(), {1, 2})
    local q = t:permute(3, 1, 2)
    assert.are.equal("4,2,3", shape_of(q))
    assert.are.equal(t:get(2, 1, 4), q:get(4, 2, 1))
    assert.are.equal("4,2,3", shape_of(t:permute{-1, 1, 2}))
    q:set(1, 1, 1, 99)                 -- views write through
    assert.are.equal(99, t:get(1, 1, 1))
  end)

  it("narrow, select, squeeze, unsqueeze, flatten", function()
    local t = T.arange(24):view(2, 3, 4)
    local n = t:narrow(3, 2, 2)
    assert.are.equal("2,3,2", shape_of(n))
    assert_values(n[1][1], {1, 2})
    assert_values(t:narrow(2, -1, 1):squeeze(), {{8, 9, 10, 11}, {20, 21, 22, 23}})
    n:fill(0)
    assert.are.equal(0, t:get(2, 3, 3))
    local s = t:select(2, 3)
    assert.are.equal("2,4", shape_of(s))
    assert.are.equal(t:get(2, 3, 4), s:get(2, 4))
    assert.are.equal("2,4", shape_of(t:select(-2, -1)))
    local u = T.zeros(1, 3, 1, 2)
    assert.are.equal("3,2", shape_of(u:squeeze()))
    assert.are.equal("3,1,2", shape_of(u:squeeze(1)))
    assert.are.equal("1,3,2", shape_of(u:squeeze(3)))
    assert.are.equal("1,3,1,2", shape_of(u:squeeze(2)))  -- size 3: left alone
    local v = T.zeros(3, 4)
    assert.are.equal("1,3,4", shape_of(v:unsqueeze(1)))
    assert.are.equal("3,1,4", shape_of(v:unsqueeze(2)))
    assert.are.equal("3,4,1", shape_of(v:unsqueeze(3)))
    assert.are.equal("3,4,1", shape_of(v:unsqueeze(-1)))
    assert.are.equal("24", shape_of(t:flatten()))
    assert.are.equal("2,12", shape_of(t:flatten(2)))
    assert.are.equal("6,4", shape_of(t:flatten(1, 2)))
    assert.are.equal("1", shape_of(T.tensor(3):flatten()))
    assert_values(t:transpose(1, 2):flatten(), t:transpose(1, 2):contiguous():view(-1):totable())
  end)

  it("expand broadcasts with stride 0", function()
    local c = T.tensor{{1}, {2}, {3}}
    local e = c:expand(3, 4)
    assert.are.equal("3,4", shape_of(e))
    assert.are.equal(0, e:stride(2))
    assert_values(e, {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}})
    assert.are.equal("2,3,4", shape_of(c:expand{2, 3, 4}))
    assert.are.equal("3,5", shape_of(c:expand(-1, 5)))
    c[2] = 20
    assert.are.equal(20, e:get(2, 4))  -- a view of c
    assert.are.equal(96, e:sum())
  end)

  it("contiguous returns itself when it can, clone always copies", function()
    local t = T.rand(3, 4)
    assert.is_true(rawequal(t, t:contiguous()))
    local tt = t:t()
    local c = tt:contiguous()
    assert.is_false(rawequal(tt, c))
    assert.is_true(c:is_contiguous())
    assert.is_true(c:equal(tt))
    local k = t:clone()
    assert.is_false(rawequal(k, t))
    k:fill(0)
    assert.is_true(t:sum() > 0)
  end)

  it("views keep their base alive", function()
    local v
    do
      local base = T.arange(1000)
      v = base:narrow(1, 991, 10)
    end
    collectgarbage()
    collectgarbage()
    assert_values(v, {990, 991, 992, 993, 994, 995, 996, 997, 998, 999})
  end)
end)

describe("printing", function()
  it("shows aligned values and a footer", function()
    local s = tostring(T.tensor{{1, 2}, {3, 4}})
    assert.is_truthy(s:find("%[Tensor 2x2%]$"))
    local lines = {}
    for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(3, #lines)
    assert.is_truthy(lines[1]:find("1") and lines[1]:find("2") and lines[2]:find("4"))

    local m = T.tensor{{1.5, -200.25, 3}, {0.001, 42, -7}}
    local rows = {}
    for line in tostring(m):gmatch("[^\n]+") do rows[#rows + 1] = line end
    assert.are.equal(#rows[1], #rows[2], "rows of a matrix have the same width")
    -- every column ends at the same character position in both rows
    local function ends(line)
      local e = {}
      for stop in line:gmatch("%S+()") do e[#e + 1] = stop end
      return table.concat(e, ",")
    end
    assert.are.equal(ends(rows[1]), ends(rows[2]))
    assert.is_truthy(rows[1]:find("-200.25", 1, true))
    assert.are.equal("[Tensor 2x3]", rows[3])
  end)

  it("formats integers without decimals, small and large numbers in scientific notation", function()
    assert.is_nil(tostring(T.tensor{1, 20, 300}):find(".", 1, true))
    assert.is_truthy(tostring(T.tensor{1e-7, 2e-6}):find("e-0", 1, true))
    assert.is_truthy(tostring(T.tensor{123456.5, 1}):find("e+05", 1, true))
    local nf = tostring(T.tensor{0 / 0, 1 / 0, -1 / 0, 1})
    assert.is_truthy(nf:find("nan") and nf:find("inf") and nf:find("-inf", 1, true))
  end)

  it("elides tensors over 1000 elements and shows all of smaller ones", function()
    local small = tostring(T.arange(1000):view(10, 100))
    assert.is_nil(small:find("...", 1, true))
    assert.is_truthy(small:find(" 999", 1, true))
    local big = tostring(T.arange(1001))
    assert.is_truthy(big:find("...", 1, true))
    assert.is_truthy(big:find(" 1000", 1, true) and big:find(" 0 ", 1, true))
    assert.is_nil(big:find(" 500 ", 1, true))
    assert.is_truthy(big:find("%[Tensor 1001%]$"))
    local m = tostring(T.arange(10000):view(100, 100))
    local nlines = select(2, m:gsub("\n", "\n"))
    assert.is_true(nlines < 12, "an elided matrix prints a few rows, got " .. nlines)
    assert.is_truthy(m:find("9999", 1, true))
    assert.is_truthy(m:find("%[Tensor 100x100%]$"))
  end)

  it("prints scalars, empty and higher-dimensional tensors", function()
    assert.is_truthy(tostring(T.tensor(2.5)):find("2.5", 1, true))
    assert.is_truthy(tostring(T.tensor(2.5)):find("[Tensor scalar]", 1, true))
    assert.are.equal("[Tensor 0x3 empty]", tostring(T.zeros(0, 3)))
    local s = tostring(T.arange(8):view(2, 2, 2))
    assert.is_truthy(s:find("(1,.,.) =", 1, true) and s:find("(2,.,.) =", 1, true))
    assert.is_truthy(s:find("[Tensor 2x2x2]", 1, true))
    local big = tostring(T.zeros(10, 10, 11))  -- 1100 elements: the middle slices are elided
    assert.is_truthy(big:find("(10,.,.) =", 1, true))
    assert.is_nil(big:find("(5,.,.) =", 1, true))
    -- print and string.format use __tostring as well (luaL_tolstring)
    assert.is_truthy(string.format("%s", T.ones(2)):find("[Tensor 2]", 1, true))
  end)
end)

describe("random numbers", function()
  it("default to seed 0 (or $LUACNN_SEED)", function()
    local env = os.getenv("LUACNN_SEED")
    assert.are.equal(env and tonumber(env) or 0, seed_at_load)
  end)

  it("$LUACNN_SEED seeds a fresh Lua state, and no setting means 0", function()
    local lua = "lua5.4"
    local code = [[local T = require "luacnn"; io.write(T.initial_seed(), " ", ]] ..
                 [[table.concat(T.rand(4):totable(), " "))]]
    local function run(env)
      local p = io.popen(env .. " " .. lua .. " -e '" .. code .. "' 2>&1")
      local out = p:read("a")
      p:close()
      return out
    end
    local with7 = run("LUACNN_SEED=7")
    local without = run("env -u LUACNN_SEED")
    T.manual_seed(7)
    assert.are.equal("7 " .. table.concat(T.rand(4):totable(), " "), with7)
    T.manual_seed(0)
    assert.are.equal("0 " .. table.concat(T.rand(4):totable(), " "), without)
  end)

  it("repeat after manual_seed", function()
    for _, draw in ipairs{
      function() return T.rand(50) end, function() return T.randn(7, 3) end,
      function() return T.randint(-5, 5, {40}) end, function() return T.randperm(30) end,
      function() return T.empty(3, 3):uniform_(-1, 1) end, function() return T.empty(9):normal_(2, 3) end,
    } do
      T.manual_seed(123)
      local a = draw()
      T.manual_seed(123)
      local b = draw()
      T.manual_seed(124)
      local c = draw()
      assert.is_true(a:equal(b), "same seed, same numbers")
      assert.is_false(a:equal(c), "another seed, other numbers")
    end
    T.manual_seed(42)
    assert.are.equal(42, T.initial_seed())
  end)

  it("get_rng_state and set_rng_state restore the exact state", function()
    T.manual_seed(99)
    T.rand(17)
    local state = T.get_rng_state()
    local a, an, ai = T.rand(100), T.randn(33), T.randint(0, 1000, {20})
    T.rand(5)
    T.set_rng_state(state)
    local b, bn, bi = T.rand(100), T.randn(33), T.randint(0, 1000, {20})
    assert.is_true(a:equal(b) and an:equal(bn) and ai:equal(bi))
    assert.are.equal(99, T.initial_seed())
    -- the state is plain data: it survives a round trip through strings
    local copy = {}
    for i, v in ipairs(state) do copy[i] = math.tointeger(tonumber(tostring(v))) end
    T.set_rng_state(copy)
    assert.is_true(T.rand(100):equal(a))
  end)

  it("fills in row-major order whatever the layout and thread count", function()
    T.manual_seed(5)
    local a = T.rand(3, 4)
    T.manual_seed(5)
    local b = T.empty(4, 3):t():uniform_()   -- a [3,4] view with transposed strides
    assert.is_true(a:equal(b))
    local threads = T.get_num_threads()
    T.set_num_threads(1)
    T.manual_seed(5)
    local c = T.randn(64, 64)
    T.set_num_threads(2)
    T.manual_seed(5)
    local d = T.randn(64, 64)
    T.set_num_threads(threads)
    assert.is_true(c:equal(d))
  end)
end)

describe("memory", function()
  local function rss_mb()
    local f = io.open("/proc/self/status")
    if not f then return 0 end
    local s = f:read("a")
    f:close()
    return tonumber(s:match("VmRSS:%s*(%d+)")) / 1024
  end

  it("200,000 small temporaries stay bounded without collectgarbage", function()
    collectgarbage()
    local base_tensors = T.live_tensors()
    local max_tensors, max_bytes = 0, 0
    local x = T.ones(4)
    for i = 1, 200000 do
      local t = T.zeros(4)
      t:add_(x)
      if i % 1000 == 0 then
        local stats = T.memory_stats()
        max_tensors = math.max(max_tensors, stats.live_tensors - base_tensors)
        max_bytes = math.max(max_bytes, stats.live_bytes)
      end
    end
    -- a few hundred are alive at a time; a leak or a collector that never runs would pass 20,000
    assert.is_true(max_tensors < 20000, "up to " .. max_tensors .. " tensors alive at once")
    assert.is_true(max_bytes < 4 * 2 ^ 20, "up to " .. max_bytes .. " bytes live")
  end)

  it("2,000 tensors of 1 MB stay bounded without collectgarbage", function()
    collectgarbage()
    local max_bytes, max_rss = 0, 0
    for i = 1, 2000 do
      local t = T.zeros(262144)   -- 1 MiB, every page touched
      t[1] = i
      if i % 50 == 0 then
        max_bytes = math.max(max_bytes, T.memory_stats().live_bytes)
        max_rss = math.max(max_rss, rss_mb())
      end
    end
    -- The collector is told about tensor memory, so it runs every few MB: a handful of
    -- tensors are alive at once. Without that it only sees the small userdata and lets
    -- over 100 MB pile up, which the first bound catches.
    assert.is_true(max_bytes < 48 * 2 ^ 20, string.format("up to %.0f MB live", max_bytes / 2 ^ 20))
    assert.is_true(max_rss < 500, string.format("RSS up to %.0f MB", max_rss))
    -- the cache keeps released blocks for reuse; empty_cache gives them back
    collectgarbage()
    collectgarbage()
    T.empty_cache()
    assert.are.equal(0, T.memory_stats().cached_bytes)
  end)

  it("released blocks are cached and reused", function()
    T.empty_cache()
    local before = T.memory_stats()
    do
      local t <close> = T.zeros(100000)   -- 400,000 bytes: above the 32 KiB caching threshold
    end
    local released = T.memory_stats()
    assert.are.equal(before.live_bytes, released.live_bytes)
    assert.are.equal(400000, released.cached_bytes - before.cached_bytes)
    local u <close> = T.ones(99000)      -- nearly the same size: takes the cached block
    local reused = T.memory_stats()
    assert.are.equal(before.cached_bytes, reused.cached_bytes)
    assert.are.equal(400000, reused.live_bytes - before.live_bytes)
    assert.are.equal(99000, u:sum())
  end)

  it("live tensors return to their baseline after collectgarbage", function()
    collectgarbage()
    collectgarbage()
    local base = T.live_tensors()
    local base_bytes = T.memory_stats().live_bytes
    do
      local a = T.rand(100, 100)
      local views = {a:t(), a[1], a:view(-1), a:narrow(1, 1, 5), a:expand(2, 100, 100)}
      local results = {a + 1, a:sum(1), T.matmul(a, a), T.cat({a, a}), a:max(2)}
      assert.is_true(T.live_tensors() >= base + 1 + #views + #results)
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(base, T.live_tensors())
    assert.are.equal(base, T.memory_stats().live_tensors)
    assert.are.equal(base_bytes, T.memory_stats().live_bytes)
  end)

  it("<close> frees at once and a closed tensor is a clean error", function()
    collectgarbage()
    collectgarbage()
    local base, base_bytes = T.live_tensors(), T.memory_stats().live_bytes
    local kept
    do
      local t <close> = T.zeros(1000, 1000)
      kept = t
      assert.are.equal(base + 1, T.live_tensors())
      assert.is_true(T.memory_stats().live_bytes >= base_bytes + 4e6)
    end
    assert.are.equal(base, T.live_tensors())          -- no collection needed
    assert.are.equal(base_bytes, T.memory_stats().live_bytes)
    assert.are.equal("[Tensor (freed)]", tostring(kept))
    for _, use in ipairs{
      function() return kept:sum() end, function() return kept + 1 end, function() return 1 + kept end,
      function() return kept[1] end, function() kept[1] = 0 end, function() return #kept end,
      function() return kept:size() end, function() return T.matmul(kept, kept) end,
      function() return kept:view(-1) end, function() return T.zeros(3):copy(kept) end,
      function() return T.cat({kept}) end, function() return kept:exp_() end,
    } do
      local ok, err = pcall(use)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("freed"), err)
    end
    -- closing again (or collecting) is harmless
    getmetatable(kept).__close(kept)
    kept:free()
    kept = nil
    collectgarbage()
    assert.are.equal(base, T.live_tensors())
  end)

  it("a view of a closed tensor keeps the storage", function()
    local v
    do
      local t <close> = T.arange(10)
      v = t:narrow(1, 8, 3)
    end
    assert_values(v, {7, 8, 9})
  end)
end)
