-- Graph models (Keras's functional API): layers called on symbolic nodes, any DAG.
--   local x = nn.Input{3, 32, 32}                      -- per-sample shape (no batch dim)
--   local h = nn.Conv2d(3, 16, 3, {padding = 1, activation = "relu"})(x)
--   local r = nn.Add()({h, nn.Conv2d(16, 16, 3, {padding = 1})(h)})   -- a residual shortcut
--   local y = nn.Dense(10, {activation = "softmax"})(nn.GlobalAvgPool2d()(r))
--   local model = nn.Model{inputs = x, outputs = y}                  -- nn/model.lua
-- Calling a layer on a node builds the layer for that node's shape at once, so shape errors
-- are raised at the line that wires the graph, naming both shapes and what produced them.
-- A node can only be made from nodes that exist already, so a graph has no cycles.
-- This file holds the nodes: nn.Input and what layer(node) does (Module:__call sends it here).
local shape = require "nn.shape"

local M = {}

local Node = {}
Node.__index = Node
local made = 0

local function new_node(fields)
  made = made + 1
  fields.id = made
  return setmetatable(fields, Node)
end

function M.is_node(v)
  return getmetatable(v) == Node
end

-- "file.lua:12" of the function `level` frames above the caller.
local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  return info and (info.short_src .. ":" .. (info.currentline or 0)) or "?"
end

-- A message without its "file:line: " prefix.
function M.bare(msg)
  return (tostring(msg):gsub("^[^\n:]+:%d+: ", ""))
end
local bare = M.bare

function Node:describe()
  if self.layer then return self.layer:describe() end
  return "Input" .. shape.str(self.shape) .. (self.name and (" '" .. self.name .. "'") or "")
end

function Node:__tostring()
  return string.format("Node %s -> %s", self:describe(), shape.str(self.shape, "N"))
end

-- nn.Input{3, 32, 32} or nn.Input{shape = {3, 32, 32}, name = "image"}
function M.Input(spec)
  if type(spec) ~= "table" or M.is_node(spec) then
    error("Input: expected a per-sample shape such as nn.Input{3, 32, 32}, got " .. type(spec), 2)
  end
  local dims = spec.shape or spec
  if type(dims) ~= "table" or #dims < 1 then error("Input: the shape needs at least one dimension", 2) end
  for k in pairs(spec) do
    local ok = k == "shape" or k == "name" or (spec.shape == nil and math.type(k) == "integer" and k >= 1 and k <= #spec)
    if not ok then error(string.format("Input: unknown key '%s' (give the per-sample sizes, shape= and name=)", tostring(k)), 2) end
  end
  for i, v in ipairs(dims) do
    if math.type(v) ~= "integer" or v < 1 then
      error(string.format("Input: size %d must be a positive integer, got %s", i, tostring(v)), 2)
    end
  end
  if spec.name ~= nil and type(spec.name) ~= "string" then error("Input: name must be a string", 2) end
  return new_node{shape = shape.copy(dims), name = spec.name, where = where(2)}
end

-- layer(node) or layer({node, ...}): checks and builds the layer for the nodes' shapes and
-- returns the output node. Errors are raised `level` frames up (the line that called the layer).
function M.apply(layer, arg, level)
  local nodes, listed = arg, true
  if M.is_node(arg) then nodes, listed = {arg}, false end
  local count = 0
  for _ in pairs(nodes) do count = count + 1 end
  for i = 1, #nodes do
    if not M.is_node(nodes[i]) then
      error(string.format("%s: element %d of the list is a %s, not a node", layer:describe(), i, type(nodes[i])), level)
    end
  end
  if count ~= #nodes then error(layer:describe() .. ": expected a list of nodes", level) end
  if layer.num_outputs and layer.num_outputs > 1 then
    error(string.format("%s: a model with %d outputs cannot be used as a layer (only single-output models nest)",
                        layer:describe(), layer.num_outputs), level)
  end
  local multi = layer.multi_input == true
  if multi then
    if not listed then error(layer:describe() .. ": takes a list of nodes, e.g. layer({a, b})", level) end
    if layer.num_inputs and #nodes ~= layer.num_inputs then
      error(string.format("%s: expected %d inputs, got %d", layer:describe(), layer.num_inputs, #nodes), level)
    end
  elseif #nodes ~= 1 then
    error(string.format("%s: takes one input, got a list of %d nodes (join them first with nn.Concat or nn.Add)",
                        layer:describe(), #nodes), level)
  end
  local in_shape, sources = nodes[1].shape, {}
  for i, n in ipairs(nodes) do sources[i] = n:describe() end
  if multi then
    in_shape = {}
    for i, n in ipairs(nodes) do in_shape[i] = n.shape end
  end
  local ok, out = pcall(function()
    if multi then layer:output_shape(in_shape, sources) end
    if not layer.built then
      layer:build(in_shape)
    elseif not multi and not shape.equal(layer.input_shape, in_shape) then
      error(string.format("%s: already built for inputs %s, applied here to %s", layer:describe(),
                          shape.str(layer.input_shape, "N"), shape.str(in_shape, "N")), 0)
    end
    return layer:output_shape(in_shape, multi and sources or nil)
  end)
  if not ok then
    local msg = bare(out)
    if not multi then msg = string.format("%s (input %s from %s)", msg, shape.str(in_shape, "N"), sources[1]) end
    if msg:sub(1, #layer:describe()) ~= layer:describe() then msg = layer:describe() .. ": " .. msg end
    error(msg, level)
  end
  return new_node{layer = layer, inputs = nodes, multi = multi, shape = out, where = where(level)}
end

return M
