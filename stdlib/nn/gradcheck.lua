-- Numerical differentiation against backpropagation.
--   local report = nn.gradcheck(module, input, target, {loss=..., eps=1e-3, max_checks=200})
-- The scalar checked is loss(module(input), target), or, without a target, the sum of the
-- output weighted by fixed random numbers (so every output element matters). For each
-- parameter tensor (and the input), backprop's gradient is compared with central
-- differences (f(w+h) - f(w-h)) / 2h on up to max_checks elements. float32 arithmetic
-- makes h around 1e-3 the sweet spot: smaller steps drown in rounding. Relative errors
-- are floored at 1e-2, or at the rounding noise of f when that is larger (report.floor).
local T = require "luacnn"
local losses = require "nn.losses"
local shape = require "nn.shape"

local M = {}

local function scalar_fn(module, input, target, loss)
  local weights
  return function()
    local out = module:forward(input)
    if loss then return loss:forward(out, target) end
    if not weights then weights = T.rand(out:size()) * 2 - 1 end
    return (out * weights):sum()
  end, function()
    local out = module.output
    if loss then return loss:backward(out, target) end
    return weights
  end
end

-- Compares analytic and numeric derivatives of f at the elements of flat view v.
-- Relative errors are floored at `floor`, so gradients near zero are judged absolutely.
local function compare(f, v, analytic, eps, max_checks, rng_state, floor)
  local n = v:numel()
  local stride = math.max(1, n // max_checks)
  local worst, worst_abs, checked = 0, 0, 0
  for i = 1, n, stride do
    local orig = v[i]
    v[i] = orig + eps
    local up = v[i]  -- the float32 value actually stored: the step is up - down, not exactly 2 eps
    T.set_rng_state(rng_state)
    local fp = f()
    v[i] = orig - eps
    local down = v[i]
    T.set_rng_state(rng_state)
    local fm = f()
    v[i] = orig
    local num = (fp - fm) / (up - down)
    local ana = analytic[i]
    local abs = math.abs(num - ana)
    local rel = abs / math.max(math.abs(num), math.abs(ana), floor)
    if rel > worst then worst = rel end
    if abs > worst_abs then worst_abs = abs end
    checked = checked + 1
  end
  return worst, worst_abs, checked
end

-- The float32 outputs are rounded (by up to 2^-24 of each value), which moves f by about
-- sum |out * df/dout|; a central difference divides that by 2 eps. Below the floor this
-- returns, that noise would pass for a relative error of gradients near zero. Hidden layers
-- round too: measured errors reach 3x the estimate, hence the factor 8.
local function noise_floor(out, dout, eps, tol)
  local s = (out:contiguous() * dout:contiguous():view(out:size())):abs():sum()
  return math.max(1e-2, 8 * 2 ^ -24 * s / (2 * eps) / tol)
end

function M.gradcheck(module, input, target, opts)
  opts = opts or {}
  local eps = opts.eps or 1e-3
  local max_checks = opts.max_checks or 200
  local tol = opts.tolerance or 1e-2
  local loss = opts.loss and losses.get(opts.loss) or (target ~= nil and opts.loss ~= false and nil)
  if target ~= nil and not loss then error("gradcheck: a target needs a loss (opts.loss)", 2) end
  local f, dout = scalar_fn(module, input, target, loss)
  -- A module built lazily draws its initial weights in its first forward: build it before
  -- saving the generator's state, or the first evaluation's dropout masks come from other
  -- draws than all the later ones.
  if not module.built and module.build then module:build(shape.sample(input)) end
  local rng_state = T.get_rng_state()  -- dropout masks are redrawn identically for every evaluation
  module:zero_grad()
  T.set_rng_state(rng_state)
  f()
  local d = dout()
  local floor = noise_floor(module.output, d, eps, tol)
  local grad_input = module:backward(input, d)
  local report = {params = {}, ok = true, floor = floor}
  for _, p in ipairs(module:named_parameters()) do
    local v = p.value:view(-1)
    local worst, worst_abs, checked = compare(f, v, p.grad:contiguous():view(-1), eps, max_checks, rng_state, floor)
    report.params[#report.params + 1] = {name = p.name, max_rel_error = worst, max_abs_error = worst_abs, checked = checked}
    if worst > tol then report.ok = false end
  end
  if grad_input and opts.check_input ~= false then
    local x = input:is_contiguous() and input or error("gradcheck: the input must be contiguous", 2)
    local worst, worst_abs, checked = compare(f, x:view(-1), grad_input:contiguous():view(-1), eps, max_checks,
                                              rng_state, floor)
    report.input = {max_rel_error = worst, max_abs_error = worst_abs, checked = checked}
    if worst > tol then report.ok = false end
  end
  T.set_rng_state(rng_state)
  if opts.verbose then
    for _, p in ipairs(report.params) do
      print(string.format("  %-20s max relative error %.2e (%d elements)", p.name, p.max_rel_error, p.checked))
    end
    if report.input then
      print(string.format("  %-20s max relative error %.2e (%d elements)", "input", report.input.max_rel_error,
                          report.input.checked))
    end
  end
  return report
end

return M
