-- model:summary(): one row per layer (nested containers show their children, indented,
-- with dotted names) with the output shape, parameters, multiply-adds, and the
-- receptive field and jump at that layer; totals of parameters (trainable and not),
-- multiply-adds and activation memory.
--
-- THE VISIT PROTOCOL
-- A summary walks the model once with a visitor v. What flows along each edge of the
-- model is a node, the per-sample facts about one tensor:
--   node = {shape = {C, H, W} (per sample, no batch dim),
--           rf    = {h, w} | "global" | nil,   receptive field in input pixels
--           jump  = {h, w} | nil}              input pixels between neighbouring outputs
-- rf and jump are nil when the model's input is not an image [C,H,W]; "global" means
-- every output sees every input position (behind a Dense, say). The model's input
-- node is {shape = in_shape, rf = {1, 1}, jump = {1, 1}}.
--
-- Every module answers  module:visit(v, inputs, path) -> node
--   inputs  the list of input nodes: one for most layers, several for a merge layer
--           (Concat, Add) in a DAG
--   path    the module's dotted name: "" for the model itself, then "3", "3.2", ...
-- A leaf keeps Module:visit below, which returns v:leaf(self, inputs, path). A container
-- returns  v:leave(self, out, path)  after  v:enter(self, inputs, path)  and visiting
-- each child with its list of input nodes and the path child_path(path, key) (key at the
-- top, path .. "." .. key below; require("nn.summary").child_path):
-- Sequential feeds child i the node child i - 1 returned; a DAG model visits its nodes in
-- topological order, hands each the nodes of its predecessors (in the order its forward
-- takes them) and leaves with the node of its output. A layer used twice is visited twice
-- (two rows) but its parameters count once in the totals. A container without a visit
-- method shows as one row (its parameters, no multiply-adds, its field unchanged).
--
-- v:leaf does the arithmetic, from three small methods every layer may define (the
-- defaults below: a pointwise layer without multiply-adds):
--   layer:output_shape(s)          s is inputs[1].shape, or for several inputs the list
--                                  {inputs[1].shape, inputs[2].shape, ...}
--   layer:macs(s, out_shape)       multiply-adds per sample (same s)
--   layer:receptive_field(s)       nil: each output position sees the same input position
--                                  (activations, batch norm, dropout, padding, Flatten);
--                                  {kernel = {kh, kw}, stride = {sh, sw}, dilation = {dh, dw}}:
--                                  a window (conv, pooling); or "global"
-- With several inputs the receptive field entering the layer is the largest of the
-- inputs' (per axis) and their jumps must agree, else the summary fails naming the layer.
-- Through a window:  rf' = rf + dilation (kernel - 1) jump,  jump' = jump stride.
--
-- A sketch for a DAG container whose nodes are {layer =, inputs = {j, ...}} in
-- topological order, node 0 being the model's input (tests/spec/summary_spec.lua runs a
-- two-branch example with an Add leaf, whose output_shape takes the list of shapes):
--   function Model:visit(v, inputs, path)
--     v:enter(self, inputs, path)
--     local out = {[0] = inputs[1]}
--     for i, n in ipairs(self.nodes) do
--       local ins = {}
--       for k, j in ipairs(n.inputs) do ins[k] = out[j] end
--       out[i] = n.layer:visit(v, ins, child_path(path, n.name or i))
--     end
--     return v:leave(self, out[#self.nodes], path)
--   end
--
-- What the totals count: parameters as Keras does (trainable: the parameters an
-- optimizer updates; non-trainable: state such as batch norm's running mean and
-- variance, from layer:named_state()); MACs are the multiply-adds of the weight
-- products (Conv2d, Dense; bias, activations, pooling and batch norm count 0), the
-- figure torchvision's "GFLOPS" column and fvcore report; activation memory is the sum
-- of every leaf layer's output size x 4 bytes for one sample (views such as Flatten
-- included, the input not), i.e. what a forward pass keeps for backward at the layer
-- boundaries; layers with a fused activation keep their pre-activation too, and training
-- adds gradients of the same sizes, so a training step needs a few times this.
local Module = require "nn.module"
local shape = require "nn.shape"

local function commas(n)
  local s = string.format("%.0f", n)
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function human_bytes(b)
  if b >= 1024 * 1024 * 1024 then return string.format("%.2f GB", b / (1024 * 1024 * 1024)) end
  if b >= 1024 * 1024 then return string.format("%.2f MB", b / (1024 * 1024)) end
  return string.format("%.1f KB", b / 1024)
end

local function human_count(n)
  if n >= 1e9 then return string.format("%.2f G", n / 1e9) end
  if n >= 1e6 then return string.format("%.2f M", n / 1e6) end
  if n >= 1e3 then return string.format("%.2f K", n / 1e3) end
  return tostring(math.floor(n))
end

local function child_path(path, key)
  return path == "" and tostring(key) or (path .. "." .. tostring(key))
end

-- Defaults for leaves: the protocol above.
function Module:visit(v, inputs, path)
  return v:leaf(self, inputs, path)
end

function Module:macs()
  return 0
end

function Module:receptive_field()
  return nil
end

-- "212" for {212, 212}, "5x3" otherwise; "-" for nil
local function pair_str(p)
  if p == nil then return "-" end
  if p == "global" then return "global" end
  local function num(x) return math.type(x) == "integer" and tostring(x) or string.format("%.4g", x) end
  if p[1] == p[2] then return num(p[1]) end
  return num(p[1]) .. "x" .. num(p[2])
end

local function numel_of(list)
  local n = 0
  for _, p in ipairs(list) do n = n + p.value:numel() end
  return n
end

local Visitor = {}
Visitor.__index = Visitor

local function new_visitor()
  return setmetatable({rows = {}, seen = {}, trainable = 0, non_trainable = 0, macs = 0, activations = 0,
                       depth = 0}, Visitor)
end

-- rf and jump entering a layer from its inputs: the largest field, one common jump
function Visitor:merge(layer, inputs, path)
  local rf, jump = nil, nil
  for i, node in ipairs(inputs) do
    if node.rf == "global" or rf == "global" then
      rf = "global"
    elseif node.rf then
      rf = rf and {math.max(rf[1], node.rf[1]), math.max(rf[2], node.rf[2])} or {node.rf[1], node.rf[2]}
    end
    if node.jump then
      if jump and (jump[1] ~= node.jump[1] or jump[2] ~= node.jump[2]) then
        error(string.format("summary: layer %s %s: its inputs have different jumps (%s for input 1, %s for input %d), "
                            .. "so its outputs have no single receptive field", path, layer:describe(),
                            pair_str(jump), pair_str(node.jump), i), 0)
      end
      jump = jump or {node.jump[1], node.jump[2]}
    end
  end
  return rf, jump
end

function Visitor:leaf(layer, inputs, path)
  -- a lone layer summarized on its own is row 1
  if path == "" then path = "1" end
  local in_shape = #inputs == 1 and inputs[1].shape or {}
  if #inputs ~= 1 then
    for i, node in ipairs(inputs) do in_shape[i] = node.shape end
  end
  local function fail(err)
    local desc, msg = layer:describe(), tostring(err):gsub("^[^\n:]+:%d+: ", "")
    -- layers start their messages with their description: say it once
    if msg:sub(1, #desc) == desc then msg = msg:sub(#desc + 1):gsub("^:? ?", "") end
    error(string.format("summary: layer %s %s: %s", path, desc, msg), 0)
  end
  local ok, out = pcall(layer.output_shape, layer, in_shape)
  if not ok then fail(out) end
  local macs
  ok, macs = pcall(layer.macs, layer, in_shape, out)
  if not ok then fail(macs) end
  local rf, jump = self:merge(layer, inputs, path)
  local geometry
  ok, geometry = pcall(layer.receptive_field, layer, in_shape)
  if not ok then fail(geometry) end
  if geometry == "global" then
    if rf then rf = "global" end
  elseif geometry and rf and rf ~= "global" then
    local k, s, d = geometry.kernel, geometry.stride, geometry.dilation or {1, 1}
    rf = {rf[1] + d[1] * (k[1] - 1) * jump[1], rf[2] + d[2] * (k[2] - 1) * jump[2]}
    jump = {jump[1] * s[1], jump[2] * s[2]}
  end
  local trainable = numel_of(layer:named_parameters())
  local non_trainable = layer.named_state and numel_of(layer:named_state()) or 0
  if not self.seen[layer] then
    self.seen[layer] = true
    self.trainable, self.non_trainable = self.trainable + trainable, self.non_trainable + non_trainable
  end
  self.macs = self.macs + macs
  self.activations = self.activations + shape.numel(out) * 4
  local node = {shape = out, rf = rf, jump = jump}
  self.rows[#self.rows + 1] = {path = path, depth = self.depth, name = layer:describe(), node = node,
                               params = trainable + non_trainable, macs = macs}
  return node
end

-- A container's row comes before its children's and sums them once they are visited.
function Visitor:enter(container, inputs, path)
  if path ~= "" then
    local name = container:describe()
    -- a name the description already shows (Model(layer1)) is not repeated
    if type(container.name) == "string" and not name:find(container.name, 1, true) then
      name = container.name .. ": " .. name
    end
    self.rows[#self.rows + 1] = {path = path, depth = self.depth, name = name, container = true,
                                 first = #self.rows + 2}
    self.depth = self.depth + 1
  end
end

function Visitor:leave(container, out, path)
  if path == "" then return out end
  self.depth = self.depth - 1
  for i = #self.rows, 1, -1 do
    local row = self.rows[i]
    if row.container and row.path == path and not row.node then
      row.node, row.params, row.macs = out, 0, 0
      for j = row.first, #self.rows do
        local child = self.rows[j]
        if not child.container then row.params, row.macs = row.params + child.params, row.macs + child.macs end
      end
      break
    end
  end
  return out
end

-- Walks `model` from the per-sample input shape; returns the visitor with its rows and
-- totals. Errors name the layer by path.
local function walk(model, in_shape)
  local v = new_visitor()
  local image = #in_shape == 3
  local input = {shape = shape.copy(in_shape), rf = image and {1, 1} or nil, jump = image and {1, 1} or nil}
  v.output = model:visit(v, {input}, "")
  return v
end

-- Per-sample input shape from "3,224,224", {3, 224, 224} or 784.
local function parse_shape(s, what)
  local out = {}
  if type(s) == "table" then
    for i, d in ipairs(s) do out[i] = d end
  elseif math.type(s) == "integer" then
    out[1] = s
  elseif type(s) == "string" then
    for part in (s .. ","):gmatch("([^,]*),") do
      local n = math.tointeger(tonumber(part))
      if not n then
        error(string.format("%s: input shape %q is not a list of integers such as 3,224,224", what, s), 0)
      end
      out[#out + 1] = n
    end
  else
    error(string.format("%s: input shape must be a list of sizes such as {3, 224, 224}, got %s", what, type(s)), 0)
  end
  if #out == 0 then error(what .. ": input shape is empty", 0) end
  for i, n in ipairs(out) do
    if math.type(n) ~= "integer" or n < 1 then
      error(string.format("%s: input shape size %d must be a positive integer, got %s", what, i, tostring(n)), 0)
    end
  end
  return out
end

-- model:summary{print=true, input_shape=} -> text, info
-- input_shape (per sample) describes the model on another input size; a model not yet
-- built is built with it. info = {rows = {{path, depth, name, node, params, macs}, ...},
-- total_params, trainable_params, non_trainable_params, macs, activation_bytes, output}.
function Module:summary(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("summary: options must be a table, got " .. type(opts), 2) end
  local in_shape = self.input_shape
  if opts.input_shape ~= nil then
    local ok, s = pcall(parse_shape, opts.input_shape, "summary")
    if not ok then error(s, 2) end
    in_shape = s
    if not self.built then
      local built, err = pcall(self.build, self, in_shape)
      if not built then error("summary: " .. tostring(err), 2) end
    end
  end
  local lines = {}
  local function add(l) lines[#lines + 1] = l end
  add("Model: " .. self:describe() .. (in_shape and ("  input " .. shape.str(in_shape, "N")) or "  (not built yet)"))
  local v, rows = nil, {}
  if in_shape then
    local ok, res = pcall(walk, self, in_shape)
    if not ok then error(res, 2) end
    v, rows = res, res.rows
  else
    -- without an input shape only the layers (and their parameters, if any) are known
    for i, layer in ipairs(self.layers or {self}) do
      rows[#rows + 1] = {path = tostring(i), depth = 0, name = layer:describe(), params = layer:num_parameters()}
    end
  end
  local with_rf = false
  for _, r in ipairs(rows) do with_rf = with_rf or (r.node and r.node.rf ~= nil) end
  local header = {"#", "Layer", "Output shape", "Params", "MACs"}
  if with_rf then header[6], header[7] = "RF", "Jump" end
  local right = {false, false, false, true, true, true, true}
  local cells = {}
  for i, r in ipairs(rows) do
    local spatial = r.node and #r.node.shape == 3
    cells[i] = {r.path, string.rep("  ", r.depth) .. r.name, r.node and shape.str(r.node.shape, "N") or "?",
                commas(r.params), r.macs and commas(r.macs) or "?"}
    if with_rf then
      cells[i][6] = pair_str(r.node.rf)
      -- a jump between positions only means something while there are positions
      cells[i][7] = spatial and pair_str(r.node.jump) or "-"
    end
  end
  local w = {}
  for k = 1, #header do w[k] = #header[k] end
  for _, c in ipairs(cells) do
    for k = 1, #header do w[k] = math.max(w[k], #c[k]) end
  end
  local function fmt(c)
    local parts = {}
    for k = 1, #header do
      parts[k] = string.format("%" .. (right[k] and "" or "-") .. w[k] .. "s", c[k])
    end
    return " " .. table.concat(parts, "  ")
  end
  local width = #fmt(header)
  add(string.rep("=", width))
  add(fmt(header))
  add(string.rep("-", width))
  for _, c in ipairs(cells) do add(fmt(c)) end
  add(string.rep("=", width))
  local info
  if v then
    local total = v.trainable + v.non_trainable
    info = {rows = rows, total_params = total, trainable_params = v.trainable, non_trainable_params = v.non_trainable,
            macs = v.macs, activation_bytes = v.activations, output = v.output}
    add(string.format("Total params: %s (%s)", commas(total), human_bytes(total * 4)))
    add(string.format("Trainable params: %s", commas(v.trainable)))
    add(string.format("Non-trainable params: %s", commas(v.non_trainable)))
    add(string.format("Multiply-adds (MACs): %s per sample (%s)", commas(v.macs), human_count(v.macs)))
    local leaves = 0
    for _, r in ipairs(rows) do leaves = leaves + (r.container and 0 or 1) end
    add(string.format("Activation memory: %s per sample (float32 outputs of the %d layer%s)",
                      human_bytes(v.activations), leaves, leaves == 1 and "" or "s"))
    local out = v.output
    if out.rf and out.rf ~= "global" and #out.shape == 3 then
      add(string.format("Receptive field of the output: %s pixels, jump %s", pair_str(out.rf), pair_str(out.jump)))
    elseif out.rf then
      -- behind a classifier the output sees everything: the last feature map says more
      local last
      for _, r in ipairs(rows) do
        if not r.container and not r.training_only and #r.node.shape == 3 and r.node.rf ~= "global" then last = r end
      end
      add("Receptive field of the output: global (every output sees the whole input)")
      if last then
        add(string.format("Receptive field of the last feature map (%s %s, %s): %s pixels, jump %s", last.path,
                          last.name, shape.str(last.node.shape, "N"), pair_str(last.node.rf), pair_str(last.node.jump)))
      end
    end
  else
    local total = self:num_parameters()
    add(string.format("Total params: %s (%s)", commas(total), human_bytes(total * 4)))
    add(string.format("Trainable params: %s", commas(total)))
    add("(shapes appear once the model knows its input: give the first layer input_shape=, or summary{input_shape=})")
  end
  local text = table.concat(lines, "\n")
  if opts.print ~= false then print(text) end
  return text, info
end

local M = {walk = walk, parse_shape = parse_shape, child_path = child_path, commas = commas}

-- `luacnn summary FILE [--input-shape 3,224,224] [--key value ...]`: runs the model
-- script with the options table as its first argument (input_shape as a list) and prints
-- the summary of the model it returns. The script runs with the weight initializers
-- skipped: the summary reads only the parameters' sizes, and drawing VGG-16's 138
-- million initial weights would take most of the time.
function M.command(script, opts)
  local init = require "nn.init_weights"
  local is_a = require("nn.class").is_a
  if opts.input_shape ~= nil then
    local ok, s = pcall(parse_shape, opts.input_shape, "summary --input-shape")
    if not ok then error(s, 0) end
    opts.input_shape = s
  end
  local chunk, err = loadfile(script)
  if not chunk then error(err, 0) end
  local model = init.skipped(chunk, opts)
  if not is_a(model, Module) then
    error(string.format("summary: %s must return a model (a module such as nn.Sequential{...}), got %s", script,
                        type(model)), 0)
  end
  if opts.input_shape == nil and not model.input_shape then
    error(string.format("summary: %s returned a model that does not know its input shape; give one with "
                        .. "--input-shape, e.g. --input-shape 3,224,224", script), 0)
  end
  init.skipped(model.summary, model, {input_shape = opts.input_shape})
end

return M
