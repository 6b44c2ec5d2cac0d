-- Optimizers and learning-rate schedules against the formulas written out by hand, in
-- double precision, with the conventions ops/optim.h documents (Keras's where Keras and
-- PyTorch differ: eps outside the bias-corrected sqrt(v) in Adam, outside sqrt(s) in RMSprop).
local T = require "luacnn"
local optim = require "optim"

local P0 = {0.5, -1.25, 2.0, 0.0, 3.0}
local G1 = {0.1, -0.3, 0.002, 1.5, -0.02}
local G2 = {-0.2, -0.1, 0.004, 0.5, 0.3}

-- p (a tensor) equals the Lua numbers `want` to float32 accuracy
local function assert_values(p, want, what)
  assert.are.equal(#want, p:numel(), what)
  local v = p:contiguous():view(-1)
  for i = 1, #want do
    local tol = 2e-6 * math.max(1, math.abs(want[i]))
    assert.is_true(math.abs(v[i] - want[i]) <= tol,
                   string.format("%s: element %d is %.9g, expected %.9g", what or "", i, v[i], want[i]))
  end
end

-- `steps` optimizer steps on a copy of P0 with the gradients G1, G2, ...; returns the tensor.
local function run(opt, ...)
  local p = T.tensor(P0)
  for _, g in ipairs{...} do opt:step({p}, {T.tensor(g)}) end
  return p
end

local function copy(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  return c
end

describe("optimizers match the hand-written formulas", function()
  -- Adam (Keras form): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
  -- p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps) + lr wd p
  local function adam_ref(grads, lr, b1, b2, eps, wd)
    local p, m, v = copy(P0), {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}
    for t, g in ipairs(grads) do
      local lr_t = lr * math.sqrt(1 - b2 ^ t) / (1 - b1 ^ t)
      for i = 1, #p do
        m[i] = b1 * m[i] + (1 - b1) * g[i]
        v[i] = b2 * v[i] + (1 - b2) * g[i] ^ 2
        p[i] = p[i] - lr_t * m[i] / (math.sqrt(v[i]) + eps) - lr * wd * p[i]
      end
    end
    return p
  end

  it("Adam, one step and a second one (bias correction, state carried over)", function()
    -- eps 1e-3 is large next to sqrt(v) for the small gradients: where eps goes matters
    local opts = {lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-3}
    assert_values(run(optim.Adam(opts), G1), adam_ref({G1}, 0.01, 0.9, 0.999, 1e-3, 0), "Adam step 1")
    assert_values(run(optim.Adam(opts), G1, G2), adam_ref({G1, G2}, 0.01, 0.9, 0.999, 1e-3, 0), "Adam step 2")
    -- PyTorch's placement, lr/(1-b1) m / (sqrt(v)/sqrt(1-b2) + eps), gives another value
    local p = run(optim.Adam(opts), G1)
    local torch = P0[3] - 0.01 * G1[3] / (math.abs(G1[3]) + 1e-3)
    assert.is_true(math.abs(p[3] - torch) > 1e-4, "Adam used PyTorch's eps placement")
  end)

  it("Adam with Keras's defaults", function()
    local opt = optim.Adam()
    assert.are.equal(1e-3, opt.lr)
    assert.are.equal(0.9, opt.beta1)
    assert.are.equal(0.999, opt.beta2)
    assert.are.equal(1e-7, opt.eps)
    assert.are.equal(0, opt.weight_decay)
    assert_values(run(opt, G1, G2), adam_ref({G1, G2}, 1e-3, 0.9, 0.999, 1e-7, 0), "Adam defaults")
  end)

  it("AdamW, one step and a second one (decay decoupled from the gradient)", function()
    local opts = {lr = 0.05, beta1 = 0.8, beta2 = 0.99, eps = 1e-4, weight_decay = 0.1}
    assert_values(run(optim.AdamW(opts), G1), adam_ref({G1}, 0.05, 0.8, 0.99, 1e-4, 0.1), "AdamW step 1")
    assert_values(run(optim.AdamW(opts), G1, G2), adam_ref({G1, G2}, 0.05, 0.8, 0.99, 1e-4, 0.1), "AdamW step 2")
    -- Adam{weight_decay=} is the same optimizer
    assert_values(run(optim.Adam(opts), G1, G2), adam_ref({G1, G2}, 0.05, 0.8, 0.99, 1e-4, 0.1), "Adam wd")
    -- PyTorch's default decay 0.01; with a zero gradient only the decay moves the weights
    local opt = optim.AdamW{lr = 0.1}
    assert.are.equal(0.01, opt.weight_decay)
    local zero = {0, 0, 0, 0, 0}
    local want = {}
    for i, v in ipairs(P0) do want[i] = v * (1 - 0.1 * 0.01) end
    assert_values(run(opt, zero), want, "AdamW zero gradient")
  end)

  -- SGD: g' = g + wd p; v = momentum v + g'; p -= lr v (nesterov: p -= lr (g' + momentum v))
  local function sgd_ref(grads, lr, momentum, nesterov, wd)
    local p, v = copy(P0), {0, 0, 0, 0, 0}
    for _, g in ipairs(grads) do
      for i = 1, #p do
        local gi = g[i] + wd * p[i]
        if momentum == 0 then
          p[i] = p[i] - lr * gi
        else
          v[i] = momentum * v[i] + gi
          p[i] = p[i] - lr * (nesterov and gi + momentum * v[i] or v[i])
        end
      end
    end
    return p
  end

  it("SGD without momentum", function()
    assert_values(run(optim.SGD{lr = 0.1}, G1, G2), sgd_ref({G1, G2}, 0.1, 0, false, 0), "SGD")
    local opt = optim.SGD()
    assert.are.equal(0.01, opt.lr)
    assert_values(run(opt, G1), {P0[1] - 0.01 * G1[1], P0[2] - 0.01 * G1[2], P0[3] - 0.01 * G1[3],
                                 P0[4] - 0.01 * G1[4], P0[5] - 0.01 * G1[5]}, "SGD defaults")
  end)

  it("SGD with momentum, two steps", function()
    local p = run(optim.SGD{lr = 0.1, momentum = 0.9}, G1, G2)
    assert_values(p, sgd_ref({G1, G2}, 0.1, 0.9, false, 0), "SGD momentum")
    -- Keras writes the same thing as velocity = m velocity - lr g; p += velocity
    local want = {}
    for i = 1, #P0 do
      local vel = -0.1 * G1[i]
      vel = 0.9 * vel - 0.1 * G2[i]
      want[i] = P0[i] - 0.1 * G1[i] + vel
    end
    assert_values(p, want, "SGD momentum (Keras form)")
  end)

  it("SGD with Nesterov momentum, two steps", function()
    assert_values(run(optim.SGD{lr = 0.05, momentum = 0.8, nesterov = true}, G1, G2),
                  sgd_ref({G1, G2}, 0.05, 0.8, true, 0), "SGD nesterov")
    local err = select(2, pcall(function() optim.SGD{nesterov = true} end))
    assert.matches("optim_spec.lua:%d+: SGD: nesterov needs a momentum > 0", err)
  end)

  it("SGD weight decay adds wd * p to the gradient, with and without momentum", function()
    assert_values(run(optim.SGD{lr = 0.1, weight_decay = 0.05}, G1, G2), sgd_ref({G1, G2}, 0.1, 0, false, 0.05),
                  "SGD wd")
    assert_values(run(optim.SGD{lr = 0.1, momentum = 0.9, weight_decay = 0.05}, G1, G2),
                  sgd_ref({G1, G2}, 0.1, 0.9, false, 0.05), "SGD momentum wd")
  end)

  -- RMSprop (Keras form): s = rho s + (1-rho) g^2; step = lr g / (sqrt(s) + eps);
  -- with momentum: mom = momentum mom + step; p -= mom
  local function rmsprop_ref(grads, lr, rho, eps, momentum)
    local p, s, mom = copy(P0), {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}
    for _, g in ipairs(grads) do
      for i = 1, #p do
        s[i] = rho * s[i] + (1 - rho) * g[i] ^ 2
        local step = lr * g[i] / (math.sqrt(s[i]) + eps)
        if momentum ~= 0 then
          mom[i] = momentum * mom[i] + step
          step = mom[i]
        end
        p[i] = p[i] - step
      end
    end
    return p
  end

  it("RMSprop without momentum, two steps", function()
    assert_values(run(optim.RMSprop{lr = 0.01, rho = 0.8, eps = 1e-3}, G1, G2),
                  rmsprop_ref({G1, G2}, 0.01, 0.8, 1e-3, 0), "RMSprop")
    local opt = optim.RMSprop()
    assert.are.equal(1e-3, opt.lr)
    assert.are.equal(0.9, opt.rho)
    assert.are.equal(1e-7, opt.eps)
    assert_values(run(opt, G1, G2), rmsprop_ref({G1, G2}, 1e-3, 0.9, 1e-7, 0), "RMSprop defaults")
  end)

  it("RMSprop with momentum, two steps", function()
    assert_values(run(optim.RMSprop{lr = 0.01, rho = 0.8, eps = 1e-3, momentum = 0.5}, G1, G2),
                  rmsprop_ref({G1, G2}, 0.01, 0.8, 1e-3, 0.5), "RMSprop momentum")
  end)

  it("updates every parameter of a list with its own state", function()
    local opt = optim.Adam{lr = 0.01, eps = 1e-3}
    local a, b = T.tensor(P0), T.tensor{{1, 2}, {3, 4}}
    opt:step({a, b}, {T.tensor(G1), T.tensor{{0.1, 0.2}, {0.3, 0.4}}})
    opt:step({a, b}, {T.tensor(G2), T.tensor{{0.1, 0.2}, {0.3, 0.4}}})
    assert_values(a, adam_ref({G1, G2}, 0.01, 0.9, 0.999, 1e-3, 0), "first parameter")
    assert.are.equal(2, opt.iterations)
    -- a constant gradient g > 0: m = g (1-b1^t) and v = g^2 (1-b2^t), so step t moves the
    -- weight by lr g / (g + eps / sqrt(1-b2^t))
    local bv = b:view(-1)
    for i, start in ipairs{1, 2, 3, 4} do
      local g, want = 0.1 * i, start
      for t = 1, 2 do want = want - 0.01 * g / (g + 1e-3 / math.sqrt(1 - 0.999 ^ t)) end
      assert.is_true(math.abs(bv[i] - want) < 2e-6, string.format("element %d: %.9g vs %.9g", i, bv[i], want))
    end
  end)
end)

describe("learning-rate schedules", function()
  local S = optim.schedules

  local function close(a, b) return math.abs(a - b) <= 1e-12 * math.max(1, math.abs(b)) end

  it("step: multiplies by gamma every step_size steps", function()
    local s = S.step{initial = 0.1, step_size = 10, gamma = 0.5}
    for t, want in pairs{[0] = 0.1, [1] = 0.1, [9] = 0.1, [10] = 0.05, [19] = 0.05, [20] = 0.025, [35] = 0.0125} do
      assert.is_true(close(s(t), want), string.format("step(%d) = %g, expected %g", t, s(t), want))
    end
    -- gamma defaults to 0.1
    assert.is_true(close(S.step{initial = 1, step_size = 3}(7), 0.01))
  end)

  it("exponential: initial * rate^(t/steps), and staircase floors the exponent", function()
    local s = S.exponential{initial = 0.2, decay_steps = 100, decay_rate = 0.5}
    assert.is_true(close(s(0), 0.2))
    assert.is_true(close(s(50), 0.2 * 0.5 ^ 0.5))
    assert.is_true(close(s(100), 0.1))
    assert.is_true(close(s(250), 0.2 * 0.5 ^ 2.5))
    local st = S.exponential{initial = 0.2, decay_steps = 100, decay_rate = 0.5, staircase = true}
    assert.is_true(close(st(50), 0.2))
    assert.is_true(close(st(99), 0.2))
    assert.is_true(close(st(100), 0.1))
    assert.is_true(close(st(250), 0.05))
  end)

  it("cosine: half a cosine from initial down to alpha * initial, then flat", function()
    local s = S.cosine{initial = 0.1, decay_steps = 100}
    assert.is_true(close(s(0), 0.1))
    assert.is_true(close(s(50), 0.05))
    assert.is_true(close(s(25), 0.1 * 0.5 * (1 + math.cos(math.pi / 4))))
    assert.is_true(close(s(100), 0))
    assert.is_true(close(s(1000), 0))
    local a = S.cosine{initial = 0.1, decay_steps = 100, alpha = 0.2}
    assert.is_true(close(a(50), 0.1 * (0.8 * 0.5 + 0.2)))
    assert.is_true(close(a(100), 0.02))
    assert.is_true(close(a(500), 0.02))
  end)

  it("print their configuration", function()
    assert.are.equal("step{initial=0.1, step_size=10, gamma=0.5}", tostring(S.step{initial = 0.1, step_size = 10, gamma = 0.5}))
    assert.matches("^cosine{initial=0.1, decay_steps=100", tostring(S.cosine{initial = 0.1, decay_steps = 100}))
  end)

  it("reject missing or bad options", function()
    local ok, err = pcall(function() S.step{initial = 0.1} end)
    assert.is_false(ok)
    assert.matches("step: option step_size must be a number", err)
    ok, err = pcall(function() S.exponential{initial = 0.1, decay_steps = 0, decay_rate = 0.5} end)
    assert.matches("decay_steps must be > 0", err)
    ok, err = pcall(function() S.cosine{decay_steps = 10} end)
    assert.matches("cosine: option initial must be a number", err)
  end)

  it("drive an optimizer: the first step uses the rate at step count 0", function()
    -- halve every step: SGD moves by 1 * g, then 0.5 * g, then 0.25 * g
    local opt = optim.SGD{lr = S.step{initial = 1, step_size = 1, gamma = 0.5}}
    local p = T.tensor{0}
    local rates = {}
    for k = 1, 3 do
      rates[k] = opt:current_lr()
      opt:step({p}, {T.tensor{1}})
    end
    assert.are.same({1, 0.5, 0.25}, rates)
    assert.are.equal(-1.75, p[1])
    -- a plain function works as a schedule too
    local seen = {}
    local f = optim.Adam{lr = function(t)
      seen[#seen + 1] = t
      return 1e-3
    end}
    f:step({T.tensor{1}}, {T.tensor{1}})
    f:step({T.tensor{1}}, {T.tensor{1}})
    assert.are.same({0, 1}, seen)
  end)
end)

describe("optimizer errors", function()
  it("a parameter whose shape changed since the state was made", function()
    for _, make in ipairs{optim.Adam, optim.RMSprop, function() return optim.SGD{momentum = 0.9} end} do
      local opt = make()
      opt:step({T.zeros{2, 3}}, {T.ones{2, 3}})
      -- the same number of elements in another shape is still another parameter
      local ok, err = pcall(function() opt:step({T.zeros{3, 2}}, {T.ones{3, 2}}) end)
      assert.is_false(ok)
      assert.matches("optim_spec.lua:%d+: %a+: parameter 1 has shape %[3,2%], but the optimizer state was made for %[2,3%]",
                     err)
      ok, err = pcall(function() opt:step({T.zeros{4}}, {T.ones{4}}) end)
      assert.is_false(ok)
      assert.matches("parameter 1 has shape %[4%], but the optimizer state was made for %[2,3%]", err)
    end
  end)

  it("a gradient whose shape differs from its parameter", function()
    local ok, err = pcall(function() optim.SGD():step({T.zeros{2, 3}}, {T.zeros{3, 2}}) end)
    assert.is_false(ok)
    assert.matches("optim_spec.lua:%d+: SGD:step: parameter 1 has shape %[2,3%] but its gradient %[3,2%]", err)
    ok, err = pcall(function() optim.Adam():step({T.zeros{2}}, {}) end)
    assert.matches("Adam:step: expected two lists of the same length", err)
  end)

  it("unknown option names, at the caller's line", function()
    local cases = {
      {function() optim.Adam{lr = 1e-3, beta_1 = 0.9} end, "Adam: unknown option 'beta_1'"},
      {function() optim.AdamW{weight_decai = 0.1} end, "AdamW: unknown option 'weight_decai'"},
      {function() optim.SGD{momentun = 0.9} end, "SGD: unknown option 'momentun'"},
      {function() optim.RMSprop{decay = 0.9} end, "RMSprop: unknown option 'decay'"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.matches("optim_spec.lua:%d+: " .. c[2]:gsub("%p", "%%%0"), err)
    end
  end)

  it("options of the wrong type or out of range", function()
    local cases = {
      {function() optim.SGD{lr = "0.1"} end, "SGD: option lr must be a number, got string"},
      {function() optim.SGD{nesterov = 1} end, "SGD: option nesterov must be a boolean, got number"},
      {function() optim.SGD{lr = -1} end, "SGD: learning rate must be >= 0 and finite, got -1"},
      {function() optim.SGD{momentum = -0.5} end, "SGD: momentum must be >= 0"},
      {function() optim.Adam{beta1 = 1} end, "Adam: beta1 and beta2 must be in [0, 1)"},
      {function() optim.RMSprop{rho = 1.5} end, "RMSprop: rho must be in [0, 1)"},
      {function() optim.Adam("fast") end, "Adam: options must be a table"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.matches("optim_spec.lua:%d+: " .. c[2]:gsub("%p", "%%%0"), err)
    end
  end)

  it("learning_rate is accepted as Keras's spelling of lr", function()
    assert.are.equal(0.5, optim.SGD{learning_rate = 0.5}.lr)
  end)

  it("optim.get by name, case-insensitive, and unknown names", function()
    assert.are.equal("Adam", optim.get("adam").class_name)
    assert.are.equal("SGD", optim.get("SGD").class_name)
    assert.are.equal("RMSprop", optim.get("rmsprop").class_name)
    assert.are.equal("AdamW", optim.get("AdamW").class_name)
    local opt = optim.SGD()
    assert.are.equal(opt, optim.get(opt))
    local ok, err = pcall(optim.get, "adagrad")
    assert.is_false(ok)
    assert.matches("unknown optimizer 'adagrad' %(known: adam, adamw, rmsprop, sgd%)", err)
    ok, err = pcall(optim.get, 42)
    assert.matches("an optimizer is a name such as 'adam' or an optimizer object, got number", err)
  end)
end)
