-- Learning-rate schedules: callables taking the optimizer's step count (0-based: the
-- number of steps already taken) and returning the rate, as Keras's schedules do.
--   optim.Adam{lr = optim.schedules.exponential{initial = 1e-3, decay_steps = 1000, decay_rate = 0.9}}
local M = {}

local function schedule(describe, f)
  return setmetatable({}, {__call = function(_, step) return f(step) end, __tostring = function() return describe end})
end

local function need(opts, key, what)
  local v = opts[key]
  if type(v) ~= "number" then error(string.format("%s: option %s must be a number", what, key), 3) end
  return v
end

-- step{initial, step_size, gamma=0.1}: multiply by gamma every step_size steps
function M.step(opts)
  local lr0, size, gamma = need(opts, "initial", "step"), need(opts, "step_size", "step"), opts.gamma or 0.1
  if size <= 0 then error("step: step_size must be > 0", 2) end
  return schedule(string.format("step{initial=%g, step_size=%g, gamma=%g}", lr0, size, gamma),
                  function(t) return lr0 * gamma ^ (t // size) end)
end

-- exponential{initial, decay_steps, decay_rate, staircase=false}: lr0 * rate^(t/steps)
function M.exponential(opts)
  local lr0 = need(opts, "initial", "exponential")
  local steps, rate = need(opts, "decay_steps", "exponential"), need(opts, "decay_rate", "exponential")
  if steps <= 0 then error("exponential: decay_steps must be > 0", 2) end
  local stair = opts.staircase == true
  return schedule(string.format("exponential{initial=%g, decay_steps=%g, decay_rate=%g}", lr0, steps, rate),
                  function(t)
                    local p = t / steps
                    if stair then p = math.floor(p) end
                    return lr0 * rate ^ p
                  end)
end

-- cosine{initial, decay_steps, alpha=0}: half a cosine from lr0 down to alpha*lr0, then flat
function M.cosine(opts)
  local lr0, steps, alpha = need(opts, "initial", "cosine"), need(opts, "decay_steps", "cosine"), opts.alpha or 0
  if steps <= 0 then error("cosine: decay_steps must be > 0", 2) end
  return schedule(string.format("cosine{initial=%g, decay_steps=%g, alpha=%g}", lr0, steps, alpha),
                  function(t)
                    local p = math.min(t, steps) / steps
                    return lr0 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * p)) + alpha)
                  end)
end

return M
