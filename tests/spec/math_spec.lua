-- Tensor math as docs/tensor.md describes it: broadcasting arithmetic, in-place ops,
-- comparisons, where, unary functions, reductions, matmul, cat/stack and the thread knob.
-- Every result is checked against plain Lua loops over the elements.
local T = require "luacnn"

-- ---- a small reference implementation over flat row-major arrays ----

local function shape_of(t)
  local s = {}
  for d = 1, t:dim() do s[d] = t:size(d) end
  return s
end

-- values of t in row-major order
local function flat(t)
  local vals = {}
  local function walk(x)
    if type(x) == "table" then
      for _, y in ipairs(x) do walk(y) end
    else
      vals[#vals + 1] = x
    end
  end
  walk(t:totable())
  return vals
end

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

local function broadcast_shape(sa, sb)
  local n, out = math.max(#sa, #sb), {}
  for i = 1, n do
    local a, b = sa[#sa - n + i] or 1, sb[#sb - n + i] or 1
    assert(a == b or a == 1 or b == 1, "test bug: shapes do not broadcast")
    out[i] = a == 1 and b or a
  end
  return out
end

-- the flat position in an operand of shape `s` for the out multi-index `idx` (1-based)
local function broadcast_pos(s, idx)
  local pos, stride = 0, 1
  for d = #s, 1, -1 do
    local i = idx[#idx - #s + d]
    if s[d] ~= 1 then pos = pos + (i - 1) * stride end
    stride = stride * s[d]
  end
  return pos + 1
end

local function next_index(shape, idx)
  for d = #shape, 1, -1 do
    idx[d] = idx[d] + 1
    if idx[d] <= shape[d] then return true end
    idx[d] = 1
  end
  return false
end

-- nested table of `shape` from a flat array
local function nest(vals, shape)
  if #shape == 0 then return vals[1] end
  local pos = 0
  local function build(d)
    local t = {}
    for i = 1, shape[d] do
      if d == #shape then
        pos = pos + 1
        t[i] = vals[pos]
      else
        t[i] = build(d + 1)
      end
    end
    return t
  end
  return build(1)
end

-- reference for f(a, b) elementwise with broadcasting; a and b are tensors or numbers
local function ref_binary(a, b, f)
  local sa = type(a) == "number" and {} or shape_of(a)
  local sb = type(b) == "number" and {} or shape_of(b)
  local va = type(a) == "number" and {a} or flat(a)
  local vb = type(b) == "number" and {b} or flat(b)
  local so = broadcast_shape(sa, sb)
  local out, idx = {}, {}
  for d = 1, #so do idx[d] = 1 end
  if numel(so) > 0 then
    repeat
      out[#out + 1] = f(va[broadcast_pos(sa, idx)], vb[broadcast_pos(sb, idx)])
    until not next_index(so, idx)
  end
  return out, so
end

-- float32 rounding of a double, for comparisons against exactly rounded results
local function f32(x) return T.tensor{x}[1] end

local function check(t, vals, shape, tol, what)
  what = what or ""
  assert.are.same(shape, shape_of(t), what .. ": shape")
  local got = flat(t)
  assert.are.equal(#vals, #got, what .. ": element count")
  for i = 1, #vals do
    local g, w = got[i], vals[i]
    local ok
    if w ~= w then ok = g ~= g
    elseif w == math.huge or w == -math.huge then ok = g == w
    else ok = math.abs(g - w) <= (tol or 1e-6) * math.max(1, math.abs(w)) end
    assert(ok, string.format("%s: element %d is %.9g, expected %.9g", what, i, g, w))
  end
end

local function check_table(t, nested, tol, what)
  local vals = {}
  local shape = {}
  local x = nested
  while type(x) == "table" do
    shape[#shape + 1] = #x
    x = x[1]
  end
  local function walk(y)
    if type(y) == "table" then
      for _, z in ipairs(y) do walk(z) end
    else
      vals[#vals + 1] = y
    end
  end
  walk(nested)
  check(t, vals, shape, tol, what)
end

-- operands of assorted shapes and layouts that broadcast against [3,4,5]
local function operands()
  T.manual_seed(17)
  local base = T.randn(3, 4, 5)
  return {
    {"[3,4,5]", base},
    {"[3,4,5] permuted", T.randn(5, 3, 4):permute(2, 3, 1)},
    {"[5]", T.randn(5)},
    {"[4,1]", T.randn(4, 1)},
    {"[3,1,5] sliced", T.randn(3, 2, 10)[{{}, {2}, {1, 10, 2}}]},
    {"[1,4,5] transposed", T.randn(1, 5, 4):transpose(2, 3)},
    {"[] scalar tensor", T.tensor(1.75)},
    {"[4,5] expanded", T.randn(1, 5):expand(4, 5)},
  }
end

local binary_ops = {
  {"add", function(x, y) return x + y end, function(a, b) return a + b end},
  {"sub", function(x, y) return x - y end, function(a, b) return a - b end},
  {"mul", function(x, y) return x * y end, function(a, b) return a * b end},
  {"div", function(x, y) return x / y end, function(a, b) return a / b end},
  {"maximum", function(x, y) return math.max(x, y) end},
  {"minimum", function(x, y) return math.min(x, y) end},
}

describe("arithmetic with broadcasting", function()
  it("+ - * / and the methods, over shapes and layouts", function()
    local ops = operands()
    for _, op in ipairs(binary_ops) do
      local name, f, infix = op[1], op[2], op[3]
      for _, A in ipairs(ops) do
        for _, B in ipairs(ops) do
          local a, b = A[2], B[2]
          local want, shape = ref_binary(a, b, function(x, y) return f32(f(x, y)) end)
          local what = string.format("%s(%s, %s)", name, A[1], B[1])
          check(a[name](a, b), want, shape, 1e-6, what)
          check(T[name](a, b), want, shape, 1e-6, "T." .. what)
          if infix then check(infix(a, b), want, shape, 1e-6, "infix " .. what) end
        end
      end
    end
  end)

  it("numbers on either side", function()
    local a = T.tensor{{1, 2}, {-3, 4}}
    check_table(a + 1, {{2, 3}, {-2, 5}})
    check_table(1 + a, {{2, 3}, {-2, 5}})
    check_table(a - 1, {{0, 1}, {-4, 3}})
    check_table(10 - a, {{9, 8}, {13, 6}})
    check_table(a * 2, {{2, 4}, {-6, 8}})
    check_table(2 * a, {{2, 4}, {-6, 8}})
    check_table(a / 2, {{0.5, 1}, {-1.5, 2}})
    check_table(12 / a, {{12, 6}, {-4, 3}})
    check_table(a ^ 2, {{1, 4}, {9, 16}})
    check_table(2 ^ a, {{2, 4}, {0.125, 16}})
    check_table(-a, {{-1, -2}, {3, -4}})
    check_table(a:add(1), {{2, 3}, {-2, 5}})
    check_table(T.sub(1, a), {{0, -1}, {4, -3}})
    check_table(a:maximum(0), {{1, 2}, {0, 4}})
    check_table(T.minimum(0, a), {{0, 0}, {-3, 0}})
    check_table(T.tensor{1, 4, 9}:pow(0.5), {1, 2, 3})
    local p = T.tensor{1, 4, 9} ^ T.tensor{0.5}
    check_table(p, {1, 2, 3})
  end)

  it("in-place ops write into the tensor and return it", function()
    local a = T.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.is_true(rawequal(a, a:add_(1)))
    check_table(a, {{2, 3, 4}, {5, 6, 7}})
    assert.is_true(rawequal(a, a:sub_(T.tensor{1, 1, 2})))  -- broadcast into a
    check_table(a, {{1, 2, 2}, {4, 5, 5}})
    assert.is_true(rawequal(a, a:mul_(T.tensor{{2}, {-1}})))
    check_table(a, {{2, 4, 4}, {-4, -5, -5}})
    assert.is_true(rawequal(a, a:div_(2)))
    check_table(a, {{1, 2, 2}, {-2, -2.5, -2.5}})
    assert.is_true(rawequal(a, a:pow_(2)))
    check_table(a, {{1, 4, 4}, {4, 6.25, 6.25}})
    assert.is_true(rawequal(a, a:maximum_(T.full({1}, 4.5))))
    check_table(a, {{4.5, 4.5, 4.5}, {4.5, 6.25, 6.25}})
    assert.is_true(rawequal(a, a:minimum_(5)))
    check_table(a, {{4.5, 4.5, 4.5}, {4.5, 5, 5}})
    -- in place on a strided view writes into the base
    local m = T.zeros(3, 3)
    m:t()[1]:add_(T.tensor{1, 2, 3})
    check_table(m, {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}})
    -- the right-hand side may be a view of the same storage
    local v = T.arange(9):view(3, 3)
    v:add_(v:t())
    check_table(v, {{0, 4, 8}, {4, 8, 12}, {8, 12, 16}})
    local w = T.arange(4)
    w:add_(w)
    check_table(w, {0, 2, 4, 6})
  end)

  it("comparisons give masks of 1 and 0; == compares identity", function()
    local a, b = T.tensor{1, 2, 3, 4}, T.tensor{4, 2, 2, 4}
    check_table(a:eq(b), {0, 1, 0, 1})
    check_table(a:ne(b), {1, 0, 1, 0})
    check_table(a:lt(b), {1, 0, 0, 0})
    check_table(a:le(b), {1, 1, 0, 1})
    check_table(a:gt(b), {0, 0, 1, 0})
    check_table(a:ge(b), {0, 1, 1, 1})
    check_table(a:gt(2), {0, 0, 1, 1})
    check_table(T.le(2, a), {0, 1, 1, 1})
    check_table(T.tensor{{1}, {3}}:lt(T.tensor{2, 3}), {{1, 1}, {0, 0}})
    check_table(T.tensor{0 / 0, 1}:eq(T.tensor{0 / 0, 1}), {0, 1})
    assert.is_false(a == T.tensor{1, 2, 3, 4})
    assert.is_true(a == a)
  end)

  it("where picks from a or b by the mask, with broadcasting", function()
    local mask = T.tensor{{1, 0, 1}, {0, 0, 1}}
    check_table(T.where(mask, T.tensor{1, 2, 3}, T.full({2, 1}, -1)), {{1, -1, 3}, {-1, -1, 3}})
    check_table(T.where(T.tensor{1, 0}, T.ones(3, 2), T.zeros(2)), {{1, 0}, {1, 0}, {1, 0}})
    local x = T.tensor{-2, -1, 0, 1, 2}
    check_table(T.where(x:gt(0), x, x * 0.1), {-0.2, -0.1, 0, 1, 2}, 1e-6)
  end)
end)

describe("unary functions", function()
  local function sign(x) return x > 0 and 1 or x < 0 and -1 or 0 end
  local function round_even(x)
    local r = math.floor(x + 0.5)
    if r - x == 0.5 and r % 2 ~= 0 then r = r - 1 end
    return r
  end
  local unary = {
    {"neg", function(x) return -x end},
    {"exp", math.exp},
    {"log", math.log, true},
    {"sqrt", math.sqrt, true},
    {"rsqrt", function(x) return 1 / math.sqrt(x) end, true},
    {"tanh", function(x) local e = math.exp(2 * x); return (e - 1) / (e + 1) end},
    {"sigmoid", function(x) return 1 / (1 + math.exp(-x)) end},
    {"relu", function(x) return math.max(x, 0) end},
    {"abs", math.abs},
    {"square", function(x) return x * x end},
    {"sign", sign},
    {"floor", math.floor},
    {"ceil", math.ceil},
    {"round", round_even},
    {"sin", math.sin},
    {"cos", math.cos},
    {"reciprocal", function(x) return 1 / x end},
  }

  it("match math.* elementwise, on strided inputs, with _ versions in place", function()
    T.manual_seed(3)
    local signed = T.randn(6, 7):mul_(3):t()
    signed[{1, 1}] = 0
    signed[{1, 2}] = 2.5
    signed[{1, 3}] = -2.5
    signed[{1, 4}] = 0.5
    local positive = T.rand(7, 6):add_(0.01)
    for _, u in ipairs(unary) do
      local name, f, pos = u[1], u[2], u[3]
      local x = pos and positive or signed
      local want = {}
      for i, v in ipairs(flat(x)) do want[i] = f32(f(v)) end
      local shape = shape_of(x)
      check(x[name](x), want, shape, 2e-6, name)
      check(T[name](x), want, shape, 2e-6, "T." .. name)
      local y = x:clone()
      assert.is_true(rawequal(y, y[name .. "_"](y)), name .. "_ returns the tensor")
      check(y, want, shape, 2e-6, name .. "_")
    end
  end)

  it("clamp and clamp_", function()
    local x = T.tensor{-3, -1, 0, 1, 3}
    check_table(x:clamp(-1, 2), {-1, -1, 0, 1, 2})
    check_table(x:clamp(0), {0, 0, 0, 1, 3})
    check_table(x:clamp(nil, 0), {-3, -1, 0, 0, 0})
    assert.is_true(rawequal(x, x:clamp_(-2, 2)))
    check_table(x, {-2, -1, 0, 1, 2})
  end)

  it("handle nan and inf without trouble", function()
    local x = T.tensor{0 / 0, 1 / 0, -1 / 0, 0}
    check_table(x:exp(), {0 / 0, 1 / 0, 0, 1})
    check_table(x:relu(), {0 / 0, 1 / 0, 0, 0})
    check_table(x:sigmoid(), {0 / 0, 1, 0, 0.5})
    check_table(x:abs(), {0 / 0, 1 / 0, 1 / 0, 0})
    check_table(T.tensor{-1, 0}:log(), {0 / 0, -1 / 0})
    check_table(T.tensor{0}:reciprocal(), {1 / 0})
    check_table(T.tensor{100, -100}:tanh(), {1, -1})
    check_table(T.tensor{100, -100}:sigmoid(), {1, 0})
  end)
end)

describe("fill, zero, copy, equal, allclose", function()
  it("work in place and compare", function()
    local t = T.empty(2, 3)
    assert.is_true(rawequal(t, t:fill(4)))
    check_table(t, {{4, 4, 4}, {4, 4, 4}})
    assert.is_true(rawequal(t, t:zero()))
    assert.are.equal(0, t:abs():sum())
    assert.is_true(rawequal(t, t:copy(T.tensor{1, 2, 3})))
    check_table(t, {{1, 2, 3}, {1, 2, 3}})
    t:copy(T.tensor{{7}, {8}})
    check_table(t, {{7, 7, 7}, {8, 8, 8}})
    assert.is_true(t:equal(T.tensor{{7, 7, 7}, {8, 8, 8}}))
    assert.is_false(t:equal(T.tensor{{7, 7, 7}, {8, 8, 9}}))
    assert.is_false(t:equal(T.tensor{7, 7, 7}))          -- shape differs
    assert.is_false(T.tensor{0 / 0}:equal(T.tensor{0 / 0}))
    local a = T.tensor{1, 2, 1000}
    assert.is_true(a:allclose(a + 1e-9))
    assert.is_true(a:allclose(T.tensor{1, 2, 1000.005}))   -- within rtol 1e-5
    assert.is_false(a:allclose(T.tensor{1, 2, 1000.1}))
    assert.is_true(a:allclose(T.tensor{1, 2, 1000.1}, 1e-3))
    assert.is_true(T.tensor{0}:allclose(T.tensor{1e-3}, 0, 1e-2))
    assert.is_false(T.tensor{0}:allclose(T.tensor{1e-3}, 0, 1e-4))
    assert.is_true(T.tensor{1, 1}:allclose(T.tensor{1}))    -- broadcast
    assert.is_false(T.tensor{0 / 0}:allclose(T.tensor{0 / 0}))
  end)
end)

describe("reductions", function()
  -- reference reductions over a flat list
  local function stats(v, unbiased)
    local n, s, p = #v, 0, 1
    for _, x in ipairs(v) do s, p = s + x, p * x end
    local mean = s / n
    local ss = 0
    for _, x in ipairs(v) do ss = ss + (x - mean) ^ 2 end
    local mx, mxi, mn, mni = -math.huge, 0, math.huge, 0
    for i, x in ipairs(v) do
      if x > mx then mx, mxi = x, i end
      if x < mn then mn, mni = x, i end
    end
    local var = ss / (n - (unbiased == false and 0 or 1))
    return {sum = s, mean = mean, prod = p, var = var, std = math.sqrt(var), max = mx, min = mn, argmax = mxi, argmin = mni}
  end

  local function inputs()
    T.manual_seed(8)
    return {
      {"contiguous", T.randn(3, 4, 5)},
      {"transposed", T.randn(5, 4, 3):transpose(1, 3)},
      {"sliced", T.randn(6, 4, 10)[{{1, 6, 2}, {}, {2, 10, 2}}]},
      {"expanded", T.randn(3, 1, 5):expand(3, 4, 5)},
    }
  end

  it("over all elements return numbers, argmax a 1-based flat index", function()
    for _, input in ipairs(inputs()) do
      local name, t = input[1], input[2]
      local r = stats(flat(t))
      for _, op in ipairs{"sum", "mean", "var", "std", "max", "min"} do
        local got = t[op](t)
        assert.are.equal("number", type(got))
        assert(math.abs(got - r[op]) <= 1e-5 * math.max(1, math.abs(r[op])),
               string.format("%s %s: %.9g vs %.9g", name, op, got, r[op]))
      end
      assert.are.equal(r.argmax, t:argmax(), name .. " argmax")
      assert.are.equal(r.argmin, t:argmin(), name .. " argmin")
      assert.is_true(math.abs(t:var(nil, nil, false) - stats(flat(t), false).var) < 1e-5, "biased var")
    end
    local p = T.tensor{{1, 2}, {3, 4}}
    assert.are.equal(24, p:prod())
    assert.are.equal(10, T.sum(p))
    assert.are.equal(2.5, p:mean())
    assert.are.equal(0, T.zeros(0):sum())
    assert.are.equal(1, T.zeros(0):prod())
  end)

  it("along a dim, with keepdim, 1-based indices and negative dims", function()
    for _, input in ipairs(inputs()) do
      local name, t = input[1], input[2]
      local shape = shape_of(t)
      for dim = 1, #shape do
        -- reference: group the elements by their index without `dim`
        local groups, order = {}, {}
        local idx = {}
        for d = 1, #shape do idx[d] = 1 end
        local vals, k = flat(t), 0
        repeat
          k = k + 1
          local key = {}
          for d = 1, #shape do if d ~= dim then key[#key + 1] = idx[d] end end
          key = table.concat(key, ",")
          if not groups[key] then groups[key] = {}; order[#order + 1] = key end
          table.insert(groups[key], vals[k])
        until not next_index(shape, idx)
        local want = {}
        for _, op in ipairs{"sum", "mean", "prod", "var", "std", "max", "min", "argmax", "argmin"} do want[op] = {} end
        for i, key in ipairs(order) do
          local r = stats(groups[key])
          for op in pairs(want) do want[op][i] = r[op] end
        end
        local rshape, kshape = {}, {}
        for d = 1, #shape do
          if d ~= dim then rshape[#rshape + 1] = shape[d] end
          kshape[d] = d == dim and 1 or shape[d]
        end
        for _, op in ipairs{"sum", "mean", "prod", "var", "std"} do
          check(t[op](t, dim), want[op], rshape, 1e-5, string.format("%s %s(%d)", name, op, dim))
          check(t[op](t, dim, true), want[op], kshape, 1e-5, string.format("%s %s(%d, keepdim)", name, op, dim))
          check(t[op](t, dim - #shape - 1), want[op], rshape, 1e-5, string.format("%s %s(negative %d)", name, op, dim))
        end
        local mx, mi = t:max(dim)
        check(mx, want.max, rshape, 0, name .. " max values")
        check(mi, want.argmax, rshape, 0, name .. " max indices")
        local mn, ni = t:min(dim, true)
        check(mn, want.min, kshape, 0, name .. " min values keepdim")
        check(ni, want.argmin, kshape, 0, name .. " min indices keepdim")
        check(t:argmax(dim), want.argmax, rshape, 0, name .. " argmax(dim)")
        check(t:argmin(dim, true), want.argmin, kshape, 0, name .. " argmin(dim, keepdim)")
      end
    end
  end)

  it("var and std are unbiased unless asked", function()
    local x = T.tensor{{1, 2, 3, 4}, {2, 4, 6, 8}}
    assert.is_true(math.abs(x[1]:var() - 5 / 3) < 1e-6)
    assert.is_true(math.abs(x[1]:var(1, false, false):item() - 1.25) < 1e-6)
    check_table(x:var(2), {5 / 3, 20 / 3}, 1e-6)
    check_table(x:var(2, false, false), {1.25, 5}, 1e-6)
    check_table(x:std(2, true, false), {{math.sqrt(1.25)}, {math.sqrt(5)}}, 1e-6)
    check_table(x:std(1), {math.sqrt(0.5), math.sqrt(2), math.sqrt(4.5), math.sqrt(8)}, 1e-6)
    assert.is_true(T.tensor{5}:var() ~= T.tensor{5}:var(), "unbiased variance of one element is nan")
  end)

  it("max and min with a tensor are elementwise", function()
    check_table(T.tensor{1, 5, 3}:max(T.tensor{4, 2, 3}), {4, 5, 3})
    check_table(T.tensor{1, 5, 3}:min(T.tensor{2}), {1, 2, 2})
    check_table(T.max(T.tensor{{1}, {5}}, T.tensor{3, 4}), {{3, 4}, {5, 5}})
  end)

  it("propagate nan and report the first extreme", function()
    local x = T.tensor{1, 0 / 0, 3}
    assert.is_true(x:max() ~= x:max())
    assert.are.equal(2, x:argmax())
    assert.are.equal(2, T.tensor{1, 7, 7, 2}:argmax())
    assert.are.equal(1, T.tensor{-1, 7, -1}:argmin())
  end)

  it("sum in double precision", function()
    local t = T.ones(1 << 20)
    t[1] = 16777216
    assert.are.equal(16777216 + (1 << 20) - 1, t:sum())
    -- per-row sums are stored as float32: exact accumulation, one rounding at the end
    local rows = t:view(1024, 1024):sum(2)
    assert.are.equal(f32(16777216 + 1023), rows[1])
    assert.are.equal(1024, rows[2])
  end)
end)

describe("matmul", function()
  -- reference: numpy semantics on flat arrays
  local function ref_matmul(a, b)
    local sa, sb = shape_of(a), shape_of(b)
    local va, vb = flat(a), flat(b)
    local a1, b1 = #sa == 1, #sb == 1
    if a1 then sa = {1, sa[1]} end
    if b1 then sb = {sb[1], 1} end
    local M, K, N = sa[#sa - 1], sa[#sa], sb[#sb]
    local ba, bb = {}, {}
    for d = 1, #sa - 2 do ba[d] = sa[d] end
    for d = 1, #sb - 2 do bb[d] = sb[d] end
    local bs = broadcast_shape(ba, bb)
    local out = {}
    local bidx = {}
    for d = 1, #bs do bidx[d] = 1 end
    if numel(bs) > 0 then repeat
      -- flat offsets of the batch element in a and b
      local oa = (broadcast_pos(ba, bidx) - 1) * M * K
      local ob = (broadcast_pos(bb, bidx) - 1) * K * N
      for i = 1, M do
        for j = 1, N do
          local s = 0
          for k = 1, K do s = s + va[oa + (i - 1) * K + k] * vb[ob + (k - 1) * N + j] end
          out[#out + 1] = s
        end
      end
    until #bs == 0 or not next_index(bs, bidx) end
    local shape = {}
    for d = 1, #bs do shape[d] = bs[d] end
    if not a1 then shape[#shape + 1] = M end
    if not b1 then shape[#shape + 1] = N end
    return out, shape
  end

  local function rand_shape(batch, m, n)
    local s = {}
    for _, x in ipairs(batch) do s[#s + 1] = x end
    if m then s[#s + 1] = m end
    if n then s[#s + 1] = n end
    return s
  end

  it("every rank combination, as NumPy", function()
    T.manual_seed(21)
    local cases = {
      {{3}, {3}},                     -- dot product: 0-d
      {{3}, {3, 4}}, {{2, 3}, {3}},   -- vector-matrix, matrix-vector
      {{2, 3}, {3, 4}},
      {{5, 2, 3}, {3, 4}}, {{2, 3}, {5, 3, 4}},
      {{5, 2, 3}, {5, 3, 4}}, {{5, 2, 3}, {1, 3, 4}}, {{1, 2, 3}, {5, 3, 4}},
      {{3}, {5, 3, 4}}, {{5, 2, 3}, {3}},
      {{2, 1, 2, 3}, {4, 3, 5}}, {{4, 1, 3}, {2, 1, 3, 2}},
      {{2, 0}, {0, 3}}, {{0, 3}, {3, 2}}, {{4, 3}, {3, 0}}, {{0, 2, 3}, {3, 4}},
      {{64, 33}, {33, 65}},
    }
    for _, c in ipairs(cases) do
      local a, b = T.randn(c[1]), T.randn(c[2])
      local want, shape = ref_matmul(a, b)
      local what = string.format("[%s] x [%s]", table.concat(c[1], ","), table.concat(c[2], ","))
      check(T.matmul(a, b), want, shape, 1e-4, what)
      check(a:matmul(b), want, shape, 1e-4, "method " .. what)
      check(a:mm(b), want, shape, 1e-4, "mm " .. what)
    end
    local d = T.matmul(T.tensor{1, 2, 3}, T.tensor{4, 5, 6})
    assert.are.equal(0, d:dim())
    assert.are.equal(32, d:item())
    check_table(T.matmul(T.zeros(2, 0), T.zeros(0, 3)), {{0, 0, 0}, {0, 0, 0}})
  end)

  it("transposed and strided inputs give the same result as contiguous copies", function()
    T.manual_seed(22)
    local a = T.randn(40, 30)
    local b = T.randn(50, 40)
    local at, bt = a:t(), b:t()          -- [30,40] and [40,50] with transposed strides
    local want = T.matmul(at:contiguous(), bt:contiguous())
    assert.is_true(T.matmul(at, bt):allclose(want, 1e-5, 1e-5))
    assert.is_true(T.matmul(at, bt:contiguous()):allclose(want, 1e-5, 1e-5))
    assert.is_true(T.matmul(at:contiguous(), bt):allclose(want, 1e-5, 1e-5))
    local s = T.randn(20, 60)[{{1, 20, 2}, {1, 60, 3}}]   -- [10,20] strided both ways
    local s2 = T.randn(20, 30):t()[{{}, {1, 20, 2}}]      -- [30,10]
    assert.is_true(T.matmul(s2, s):allclose(T.matmul(s2:contiguous(), s:contiguous()), 1e-5, 1e-5))
    local e = T.randn(1, 40):expand(7, 40)               -- stride 0 rows
    assert.is_true(T.matmul(e, b:t()):allclose(T.matmul(e:contiguous(), b:t():contiguous()), 1e-5, 1e-5))
    local batch = T.randn(4, 40, 6):transpose(2, 3)      -- [4,6,40]
    assert.is_true(T.matmul(batch, bt):allclose(T.matmul(batch:contiguous(), bt:contiguous()), 1e-5, 1e-5))
    assert.is_true(T.matmul(bt:t(), batch:transpose(2, 3)):allclose(
      T.matmul(bt:t():contiguous(), batch:transpose(2, 3):contiguous()), 1e-5, 1e-5))
  end)

  it("out= reuses the given tensor", function()
    T.manual_seed(23)
    local a, b = T.randn(3, 4), T.randn(4, 5)
    local out = T.full({3, 5}, 99)
    local r = T.matmul(a, b, out)
    assert.is_true(rawequal(r, out))
    assert.is_true(out:allclose(T.matmul(a, b)))
    -- count what is alive, not garbage the collector may take during the loop
    collectgarbage()
    local before = T.live_tensors()
    for _ = 1, 10 do T.matmul(a, b, out) end
    assert.are.equal(before, T.live_tensors())
    local bo = T.zeros(2, 3, 5)
    T.matmul(T.randn(2, 3, 4), b, bo)
    assert.is_true(bo:abs():sum() > 0)
    local dot = T.tensor(0)
    T.matmul(T.tensor{1, 2}, T.tensor{3, 4}, dot)
    assert.are.equal(11, dot:item())
  end)
end)

describe("joining", function()
  it("cat along an existing dim, default 1", function()
    local a, b = T.tensor{{1, 2}, {3, 4}}, T.tensor{{5, 6}}
    check_table(T.cat({a, b}), {{1, 2}, {3, 4}, {5, 6}})
    check_table(T.cat({a, b}, 1), {{1, 2}, {3, 4}, {5, 6}})
    check_table(T.cat({a, a:t()}, 2), {{1, 2, 1, 3}, {3, 4, 2, 4}})
    check_table(T.cat({a, T.tensor{{9}, {8}}}, -1), {{1, 2, 9}, {3, 4, 8}})
    check_table(T.cat({T.tensor{1}, T.zeros(0), T.tensor{2, 3}}), {1, 2, 3})
    check_table(T.cat({a}), {{1, 2}, {3, 4}})
    local c = T.cat({a, a})
    c[1][1] = 100
    assert.are.equal(1, a:get(1, 1))   -- a copy
  end)

  it("stack along a new dim", function()
    local a, b = T.tensor{1, 2, 3}, T.tensor{4, 5, 6}
    check_table(T.stack({a, b}), {{1, 2, 3}, {4, 5, 6}})
    check_table(T.stack({a, b}, 1), {{1, 2, 3}, {4, 5, 6}})
    check_table(T.stack({a, b}, 2), {{1, 4}, {2, 5}, {3, 6}})
    check_table(T.stack({a, b}, -1), {{1, 4}, {2, 5}, {3, 6}})
    check_table(T.stack({T.tensor(1), T.tensor(2)}), {1, 2})
    local m = T.stack({T.ones(2, 3), T.zeros(2, 3), T.ones(2, 3)}, 2)
    assert.are.same({2, 3, 3}, shape_of(m))
    assert.are.equal(0, m[{{}, 2}]:sum())
    assert.are.equal(12, m:sum())
  end)
end)

describe("threads", function()
  it("one knob for BLAS and luacnn", function()
    local n = T.get_num_threads()
    assert.is_true(n >= 1)
    assert.is_true(T.cpu_count() >= 1)
    assert.are.equal(1, T.set_num_threads(1))
    assert.are.equal(1, T.get_num_threads())
    T.set_num_threads(n)
    assert.are.equal(n, T.get_num_threads())
  end)
end)
