-- The Module base class. Every layer is three things, as in torch/nn:
--   forward(x)            computes the output from an input batch
--   backward(x, dy)       returns the gradient w.r.t. x and ACCUMULATES (+=) the
--                         gradients of the layer's parameters
--   parameters()          the parameter tensors and their gradient tensors
-- plus build(in_shape) (create parameters once the per-sample input shape is known),
-- output_shape(in_shape) (shape arithmetic, used by summaries and early shape errors),
-- train()/evaluate() (mode for dropout and batch norm) and __tostring.
--
-- Outputs and input gradients live in buffers the layer owns and reuses across steps
-- (no allocation per training step): forward's result is valid until the next forward
-- of that layer; clone() it to keep it. model:predict() returns fresh tensors.
local T = require "luacnn"
local class = require("nn.class").class
local shape = require "nn.shape"

local Module = class("Module")

function Module:__init()
  self.training = true
  self.params = {}
  self._buffers = {}
end

-- Declares a parameter: self[name] holds it, self["grad_" .. name] its gradient.
function Module:register_parameter(name, value)
  local known = false
  for _, n in ipairs(self.params) do known = known or n == name end
  if not known then table.insert(self.params, name) end
  self[name] = value
  self["grad_" .. name] = T.zeros_like(value)
end

-- Lists of parameter tensors and of their gradients, in a fixed order.
function Module:parameters()
  local ps, gs = {}, {}
  for _, p in ipairs(self:named_parameters()) do
    ps[#ps + 1], gs[#gs + 1] = p.value, p.grad
  end
  return ps, gs
end

-- {name = "2.weight", value = tensor, grad = tensor, module = m, field = "weight"} per parameter.
function Module:named_parameters(prefix, out)
  out = out or {}
  for _, name in ipairs(self.params) do
    out[#out + 1] = {name = (prefix or "") .. name, value = self[name], grad = self["grad_" .. name],
                     module = self, field = name}
  end
  return out
end

-- Tensors that are state but not parameters (batch norm's running statistics): no
-- gradient, no optimizer, but saved and loaded with the weights. Same entries as
-- named_parameters without grad. Layers with such state override it.
function Module:named_state(prefix, out)
  return out or {}
end

-- Parameters then state, {name=, value=, kind='parameter'|'state'}: what a weights file holds.
function Module:named_tensors()
  local out = {}
  for _, p in ipairs(self:named_parameters()) do
    out[#out + 1] = {name = p.name, value = p.value, kind = "parameter"}
  end
  for _, s in ipairs(self:named_state()) do
    out[#out + 1] = {name = s.name, value = s.value, kind = "state"}
  end
  return out
end

-- Plain data from which nn.from_config rebuilds the layer (see nn/registry.lua).
function Module:config()
  error(string.format("%s has no config(): it cannot be saved as an architecture (see stdlib/nn/registry.lua "
                      .. "for how a layer type becomes saveable)", self.class_name), 2)
end

function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:named_parameters()) do n = n + p.value:numel() end
  return n
end

function Module:zero_grad()
  if self._flat then
    self._flat.grads:zero()
    return
  end
  for _, p in ipairs(self:named_parameters()) do p.grad:zero() end
end

-- Moves every parameter (and gradient) into one flat tensor, so an optimizer updates
-- the whole model in one kernel call; layers keep views into it. Returns params, grads.
function Module:flatten_parameters()
  if self._flat then return self._flat.params, self._flat.grads end
  local list = self:named_parameters()
  local total = 0
  for _, p in ipairs(list) do total = total + p.value:numel() end
  local P, G = T.empty{math.max(total, 1)}, T.zeros{math.max(total, 1)}
  local off = 1
  for _, p in ipairs(list) do
    local n = p.value:numel()
    local pv, gv = P:narrow(1, off, n):view(p.value:size()), G:narrow(1, off, n):view(p.value:size())
    pv:copy(p.value)
    gv:copy(p.grad)
    p.module[p.field] = pv
    p.module["grad_" .. p.field] = gv
    off = off + n
  end
  self._flat = {params = P:narrow(1, 1, total), grads = G:narrow(1, 1, total)}
  return self._flat.params, self._flat.grads
end

-- Training (true, the default) or evaluation mode, for the module and, in a container,
-- every layer it holds (self.layers).
function Module:train(mode)
  self.training = mode ~= false
  for _, layer in ipairs(self.layers or {}) do layer:train(mode) end
  return self
end

function Module:build(in_shape)
  self.input_shape = shape.copy(in_shape)
  self.built = true
end

-- Forgets what build() made (parameters, shapes, buffers): the layer builds afresh on
-- its next input.
function Module:unbuild()
  for _, name in ipairs(self.params) do
    self[name], self["grad_" .. name] = nil, nil
  end
  self.params = {}
  self._buffers = {}
  self._flat = nil
  self.built, self.input_shape = false, nil
end

function Module:output_shape(in_shape)
  return shape.copy(in_shape)
end

function Module:forward()
  error(self.class_name .. " does not define forward", 2)
end

function Module:backward()
  error(self.class_name .. " does not define backward", 2)
end

-- Raises (at the caller of forward) unless x is a tensor batch whose per-sample shape is
-- the layer's input shape; builds the layer from x on first use. With any_size, images
-- [C,H,W] may have any height and width (layers acting elementwise take whatever a
-- Conv2d before them gives, as convolutions and pooling do).
function Module:check_input(x, any_size)
  if not T.is_tensor(x) then
    error(string.format("%s: expected a tensor, got %s", self:describe(), type(x)), 3)
  end
  if not self.built then
    if x:dim() < 1 then error(self:describe() .. ": input needs a batch dimension", 3) end
    self:build(shape.sample(x))
    return
  end
  local s = self.input_shape
  local ok = x:dim() == #s + 1
  local checked = any_size and #s == 3 and 1 or #s
  for i = 1, checked do
    if not ok then break end
    ok = x:size(i + 1) == s[i]
  end
  if not ok then error(self:describe() .. ": " .. shape.check_input(x, s), 3) end
end

-- A scratch tensor owned by the layer, reused while the shape stays the same.
function Module:buffer(name, ...)
  local b = self._buffers[name]
  local n = select("#", ...)
  if b and b:dim() == n then
    local same = true
    for i = 1, n do
      if b:size(i) ~= select(i, ...) then
        same = false
        break
      end
    end
    if same then return b end
  end
  b = T.empty(...)
  self._buffers[name] = b
  return b
end

-- Drops the scratch buffers (they are rebuilt on the next step).
function Module:clear_buffers()
  self._buffers = {}
end

-- The buffer for the gradient w.r.t. the input, in backward: inside a container's memory
-- plan (nn/memory.lua) a view of the slot the container assigned, shared with other
-- layers and valid until the layer before this one has run its backward; otherwise the
-- layer's own buffer `name`, as Module:buffer.
function Module:grad_buffer(name, ...)
  local arena = self._arena
  if not arena then return self:buffer(name, ...) end
  -- a buffer of a plain backward (gradcheck, a layer used alone) is not needed any more
  self._buffers[name] = nil
  self._grad_slot = self._arena_slot
  return arena:tensor(self._arena_slot, ...)
end

-- Floats of input gradient this layer's backward takes from a container's arena for the
-- input x (at most; a container asks before its backward so the arena grows once).
function Module:arena_numel(x)
  return T.is_tensor(x) and x:numel() or 0
end

-- Whether forward's output may be overwritten by the next layer (an in-place ReLU)
-- without changing this layer's backward: true for layers whose backward reads their
-- input and parameters but not their output. Off by default.
function Module:output_reusable()
  return false
end

-- Calling a layer: on a tensor it runs forward (layer(x) is layer:forward(x), as in
-- PyTorch); on graph nodes from nn.Input it records the call and returns the output node,
-- which is how nn.Model graphs are written (see nn/graph.lua). Defined here, before any
-- layer class exists, because class() copies metamethods into a class when it is made.
function Module:__call(x, ...)
  if T.is_tensor(x) then return self:forward(x, ...) end
  local graph = require "nn.graph"
  if graph.is_node(x) or (type(x) == "table" and graph.is_node(x[1])) then
    local node = graph.apply(self, x, 3)  -- not a tail call: errors point 3 frames up, at the caller
    return node
  end
  if self.multi_input and type(x) == "table" and T.is_tensor(x[1]) then return self:forward(x, ...) end
  local got = type(x) == "table" and (#x > 0 and ("a table of " .. type(x[1]) .. "s") or "an empty table") or type(x)
  error(string.format("%s: call a layer on a tensor (runs forward) or on nodes from nn.Input (builds a graph), got %s",
                      self:describe(), got), 2)
end

-- Names the layer: inside an nn.Model its parameters are then "<name>.weight" instead of
-- "<index>.weight". Returns the layer, so nn.Dense(10):set_name("fc")(h) reads in one line.
function Module:set_name(name)
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    error(string.format("%s:set_name: a name is letters, digits and _, got %s", self:describe(), tostring(name)), 2)
  end
  self.name = name
  return self
end

-- One line: the layer's type and configuration, e.g. "Dense(784->128, relu)".
function Module:describe()
  return self.class_name
end

function Module:__tostring()
  return self:describe()
end

return Module
