-- Sequential: layers applied one after another. A child's error is re-raised with its
-- position, e.g. "Sequential[3] Dense(128->10, softmax): input has shape ...".
local T = require "luacnn"
local class = require("nn.class").class
local is_a = require("nn.class").is_a
local Module = require "nn.module"
local shape = require "nn.shape"
local registry = require "nn.registry"
local memory = require "nn.memory"

local Sequential = class("Sequential", Module)

function Sequential:__init(layers)
  Module.__init(self)
  self.layers = {}
  self.compute_input_grad = true
  if layers ~= nil and type(layers) ~= "table" then
    error("Sequential: expected a list of layers, got " .. type(layers), 3)
  end
  -- a layer is a table too, but ipairs finds nothing in it: the model would be empty
  if is_a(layers, Module) then
    error(string.format("Sequential: expected a list of layers, got the layer %s (write nn.Sequential{layer})",
                        layers:describe()), 3)
  end
  for i, layer in ipairs(layers or {}) do
    if not is_a(layer, Module) then
      error(string.format("Sequential: element %d is a %s, not a layer", i, type(layer)), 3)
    end
    self.layers[i] = layer
  end
  -- a name for summaries, as torchvision's "features" and "classifier"
  if layers and layers.name ~= nil then
    if type(layers.name) ~= "string" then error("Sequential: name must be a string, got " .. type(layers.name), 3) end
    self.name = layers.name
  end
  -- build at once when the first layer knows its input shape (Keras's input_shape=)
  local first = self.layers[1]
  if first and first.built then
    local ok, err = pcall(self.build, self, first.input_shape)
    if not ok then error(err, 3) end
  end
end

-- Strips "file:line: " from a message raised inside the library.
local function bare(msg)
  msg = tostring(msg)
  return (msg:gsub("^[^\n:]+:%d+: ", ""))
end
Sequential.bare_message = bare

function Sequential:where(i, layer, msg)
  msg = bare(msg)
  -- a child that already named itself at the front of the message is not named twice
  local desc = layer:describe()
  if msg:sub(1, #desc) == desc then
    local rest = msg:sub(#desc + 1)
    -- a child container's message goes on with its own path: "Sequential[1] Sequential[2] Dense(...): ..."
    if rest:sub(1, 1) == "[" then return string.format("%s[%d] %s%s", self.class_name, i, desc, rest) end
    msg = rest:gsub("^:? ?", "")
  end
  return string.format("%s[%d] %s: %s", self.class_name, i, desc, msg)
end

function Sequential:add(layer)
  if not is_a(layer, Module) then error("Sequential:add: expected a layer, got " .. type(layer), 2) end
  self.layers[#self.layers + 1] = layer
  self._flat = nil
  if self.built then
    local s = self:output_shape(self.input_shape, #self.layers - 1)
    local ok, err = pcall(function() if not layer.built then layer:build(s) end end)
    if not ok then error(self:where(#self.layers, layer, err), 2) end
    self.out_shape = layer:output_shape(s)
  end
  return self
end

-- All or nothing: when a layer cannot take the shape, the layers this call built are
-- unbuilt again and the generator is rewound, so a corrected input builds the model
-- exactly as if the bad one had never been seen.
function Sequential:build(in_shape)
  local s = shape.copy(in_shape)
  local rng = T.get_rng_state()
  local built_here = {}
  for i, layer in ipairs(self.layers) do
    local ok, err = pcall(function()
      if not layer.built then
        built_here[#built_here + 1] = layer
        layer:build(s)
      elseif not shape.equal(layer.input_shape, s) then
        error(string.format("expects inputs of shape %s but the layer before gives %s",
                            shape.str(layer.input_shape, "N"), shape.str(s, "N")), 0)
      end
      s = layer:output_shape(s)
    end)
    if not ok then
      for _, l in ipairs(built_here) do l:unbuild() end
      T.set_rng_state(rng)
      error(self:where(i, layer, err), 0)
    end
  end
  Module.build(self, in_shape)
  self.out_shape = s
end

function Sequential:unbuild()
  for _, layer in ipairs(self.layers) do layer:unbuild() end
  Module.unbuild(self)
end

-- Output shape after the first `upto` layers (all by default).
function Sequential:output_shape(in_shape, upto)
  local s = shape.copy(in_shape)
  for i = 1, upto or #self.layers do
    local ok, res = pcall(self.layers[i].output_shape, self.layers[i], s)
    if not ok then error(self:where(i, self.layers[i], res), 0) end
    s = res
  end
  return s
end

function Sequential:forward(x)
  if #self.layers == 0 then error("Sequential: the model has no layers", 2) end
  if not T.is_tensor(x) then error("Sequential: expected a tensor input, got " .. type(x), 2) end
  if not self.built then
    if x:dim() < 1 then error("Sequential: input needs a batch dimension", 2) end
    local ok, err = pcall(self.build, self, shape.sample(x))
    if not ok then error(err, 2) end
  end
  local inputs = self._inputs or {}
  self._inputs = inputs
  local prev = nil
  for i, layer in ipairs(self.layers) do
    inputs[i] = x
    -- x is the output of a layer whose backward does not read it: a ReLU may overwrite it
    layer._inplace = prev ~= nil and self.inplace ~= false and prev:output_reusable() or nil
    local ok, out = pcall(layer.forward, layer, x)
    layer._inplace = nil
    if not ok then error(self:where(i, layer, out), 2) end
    x = out
    prev = layer
  end
  self.output = x
  return x
end

-- The last layer's output may be overwritten when that layer allows it.
function Sequential:output_reusable()
  local last = self.layers[#self.layers]
  return last ~= nil and last:output_reusable()
end

-- Where backward stops, and the first layer with parameters (with compute_input_grad off,
-- the layers before it are skipped and it computes no input gradient).
function Sequential:backward_start()
  local first = #self.layers
  for i, layer in ipairs(self.layers) do
    if #layer:named_parameters() > 0 then
      first = i
      break
    end
  end
  return self.compute_input_grad and 1 or first, first
end

-- The largest input gradient any layer inside takes from the arena (nn/memory.lua), for
-- the inputs of the last forward and the layers backward runs.
function Sequential:arena_numel()
  local n = 0
  local stop = self:backward_start()
  for i = stop, #self.layers do
    local layer, x = self.layers[i], self._inputs and self._inputs[i]
    -- the layer backward stops at makes no input gradient, but a container's insides do
    if x ~= nil and (i > stop or self.compute_input_grad or layer.layers) then
      n = math.max(n, layer:arena_numel(x))
    end
  end
  return n
end

function Sequential:preactivation()
  local last = self.layers[#self.layers]
  return last.preactivation and last:preactivation()
end

-- from_preactivation: dy is the gradient w.r.t. the last layer's pre-activation (fused loss).
-- With compute_input_grad off (fit turns it off), the layers before the first one with
-- parameters have nothing to learn and nobody reads their input gradient, so backward stops
-- at that layer and tells it to skip its own input gradient: behind a Flatten, the first
-- Dense would otherwise compute dL/dx of the images every step, as costly as its dW.
function Sequential:backward(x, dy, from_preactivation)
  local inputs = self._inputs
  if not inputs or inputs[1] ~= x then
    error("Sequential:backward: call forward with the same input first", 2)
  end
  local n = #self.layers
  local stop, first = self:backward_start()
  -- set every time: a flag left off by fit must be back on for a plain backward
  for i = 1, first do self.layers[i].compute_input_grad = self.compute_input_grad end
  -- The memory plan (nn/memory.lua): the input gradients go into the two slots of one
  -- arena, the parent's when this Sequential is nested in one. cur is the slot that holds
  -- dy (nil: dy is the caller's, never written into).
  local arena, cur = self._arena, nil
  if arena then
    cur = self._dy_owned and 3 - self._arena_slot or nil
  elseif self.share_grad_buffers ~= false then
    arena = self._own_arena or memory.arena()
    self._own_arena = arena
    arena:reserve(self:arena_numel())
  end
  for i = n, stop, -1 do
    local layer = self.layers[i]
    if arena then
      layer._arena, layer._arena_slot, layer._dy_owned, layer._grad_slot = arena, cur == 1 and 2 or 1, cur ~= nil, nil
    end
    local ok, res = pcall(layer.backward, layer, inputs[i], dy, from_preactivation and i == n)
    local slot = layer._grad_slot
    layer._arena, layer._arena_slot, layer._dy_owned, layer._grad_slot = nil, nil, nil, nil
    if not ok then error(self:where(i, layer, res), 2) end
    -- where the result lives: a slot, or dy's place again (dy itself or a view of it), or
    -- somewhere this plan does not own
    if slot then
      cur = slot
    elseif not layer.grad_aliases_dy then
      cur = nil
    end
    dy = res
  end
  if stop > 1 then dy = nil end
  self._grad_slot = self._arena and cur or nil
  self.grad_input = dy
  return dy
end

-- The summary's visit protocol (nn/summary.lua): child i takes the node child i - 1 gave.
function Sequential:visit(v, inputs, path)
  if #inputs ~= 1 then
    error(string.format("summary: %s %s takes one input, got %d", path, self:describe(), #inputs), 0)
  end
  local child_path = require("nn.summary").child_path
  v:enter(self, inputs, path)
  local node = inputs[1]
  for i, layer in ipairs(self.layers) do
    node = layer:visit(v, {node}, child_path(path, i))
  end
  return v:leave(self, node, path)
end

function Sequential:named_parameters(prefix, out)
  out = out or {}
  for i, layer in ipairs(self.layers) do
    layer:named_parameters((prefix or "") .. i .. ".", out)
  end
  return out
end

function Sequential:named_state(prefix, out)
  out = out or {}
  for i, layer in ipairs(self.layers) do
    layer:named_state((prefix or "") .. i .. ".", out)
  end
  return out
end

function Sequential:config()
  local layers = {}
  registry.config_scope(function()
    for i, layer in ipairs(self.layers) do
      local ok, cfg = pcall(registry.config_of, layer)
      if not ok then error(self:where(i, layer, cfg), 0) end
      layers[i] = cfg
    end
  end)
  return {type = "Sequential", layers = layers, input_shape = self.input_shape}
end

function Sequential.from_config(cfg, from_config, path)
  registry.check_fields(cfg, {"layers", "input_shape"}, path)
  if type(cfg.layers) ~= "table" then error(path .. ": layers must be a list of layer configs", 0) end
  local layers = {}
  for i = 1, #cfg.layers do
    layers[i] = from_config(cfg.layers[i], string.format("%s.layers[%d]", path, i))
  end
  for k in pairs(cfg.layers) do
    if math.type(k) ~= "integer" or k < 1 or k > #layers then error(path .. ": layers must be a plain list", 0) end
  end
  local model = Sequential(layers)
  if cfg.input_shape and not model.built then model:build(cfg.input_shape) end
  return model
end
registry.register("Sequential", Sequential)

function Sequential:clear_buffers()
  self._own_arena = nil
  for _, layer in ipairs(self.layers) do layer:clear_buffers() end
end

function Sequential:describe()
  return self.class_name
end

function Sequential:__tostring()
  local lines = {self.class_name .. " {"}
  for i, layer in ipairs(self.layers) do
    local s = tostring(layer):gsub("\n", "\n  ")
    lines[#lines + 1] = string.format("  [%d] %s", i, s)
  end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

return Sequential
